//! Mapping rules: `RuleSet::parse` of the input up to the first U+0001, then `map` (and
//! `map_all`) of each U+0001-separated path after it. The first byte picks the map options.
#![no_main]

#[path = "../../tests/parser_checks/mod.rs"]
mod parser_checks;

use cdn_refresh::plan::rules::{IndexUrl, MapOptions};
use libfuzzer_sys::fuzz_target;
use parser_checks::*;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let index_urls = [
        vec![IndexUrl::Slash],
        vec![IndexUrl::Bare],
        vec![IndexUrl::File, IndexUrl::Slash],
        vec![IndexUrl::Slash, IndexUrl::Bare, IndexUrl::File],
        // Never empty: the config file refuses `index_urls: []`.
        vec![IndexUrl::Bare, IndexUrl::Slash],
        vec![IndexUrl::Bare, IndexUrl::Bare],
        vec![IndexUrl::File],
        vec![IndexUrl::Slash, IndexUrl::Bare],
    ][usize::from(selector & 7)]
    .clone();
    let index_files = match (selector >> 3) & 3 {
        0 => vec!["index.html".to_string()],
        1 => vec![],
        2 => vec!["index.html".to_string(), "index.htm".to_string()],
        _ => vec!["a b%.html".to_string(), "é".to_string()],
    };
    let options = MapOptions {
        index_files,
        index_urls,
        pretty_urls: selector & 0x20 != 0,
    };
    let text = String::from_utf8_lossy(rest);
    let (rules, paths) = text
        .split_once('\u{1}')
        .unwrap_or((&text, "public/index.html\u{1}public/a b/c.html\u{1}x"));
    let paths: Vec<&str> = paths.split('\u{1}').take(64).collect();
    check_rules(rules, &options, &paths);
});
