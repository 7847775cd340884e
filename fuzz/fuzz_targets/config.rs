//! The config file: `Config::parse` of the input up to the first U+0001, then its rules, alone
//! and with the rest of the input as the `--mapping` flag in their place. An input that starts
//! with `D:` is `--timeout` and `--poll-interval` instead (U+0001 between them), read by
//! `settings::settings` as the flags are.
#![no_main]

#[path = "../../tests/parser_checks/mod.rs"]
mod parser_checks;

use libfuzzer_sys::fuzz_target;
use parser_checks::*;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(durations) = text.strip_prefix("D:") {
        let (timeout, poll) = match durations.split_once('\u{1}') {
            Some((timeout, poll)) => (Some(timeout), Some(poll)),
            None => (Some(durations), None),
        };
        check_durations(timeout, poll, false);
        return;
    }
    let (config, flag) = match text.split_once('\u{1}') {
        Some((config, flag)) => (config, Some(flag)),
        None => (&*text, None),
    };
    check_config(config, flag);
});
