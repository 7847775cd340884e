//! URL lists: `url_list::parse` of the whole input, `normalize` of each line (as given and
//! trimmed) and `host`. The first byte picks the object type and the length limit.
#![no_main]

#[path = "../../tests/parser_checks/mod.rs"]
mod parser_checks;

use cdn_refresh::providers::ObjectType;
use cdn_refresh::input::url_list::Rules;
use libfuzzer_sys::fuzz_target;
use parser_checks::*;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let object_type = [
        ObjectType::File,
        ObjectType::Directory,
        ObjectType::Regex,
        ObjectType::IgnoreParams,
    ][usize::from(selector & 3)];
    let max_len =
        [1024, 4096, usize::MAX, usize::from(selector >> 4)][usize::from((selector >> 2) & 3)];
    let rules = Rules {
        max_len,
        object_type,
    };
    let text = String::from_utf8_lossy(rest);
    check_url_list(&text, &rules);
    for line in text.lines() {
        check_normalize(line, &rules);
        check_normalize(line.trim(), &rules);
        check_host(line);
    }
});
