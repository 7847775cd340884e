//! The properties of the parsers that read hostile input, as checks that panic (naming the
//! input) when one fails. Shared by the proptest suite (`tests/fuzz_parsers.rs`, which also
//! reaches this file as `mod parser_checks`) and the cargo-fuzz targets (`fuzz/fuzz_targets/`,
//! through `#[path]`), so both layers test exactly the same things. It is test code: nothing
//! here is part of the library.
//!
//! Every check asserts that the parser does not panic (by calling it), that what it accepts
//! is usable, and that what it says about a bad input is bounded: at most linear in the
//! input (no amplification), and, with [`strict`], at most a small multiple of [`ECHO_CAP`]
//! however long the input is. The properties today's code does not have are behind
//! [`strict`], so that fuzzing goes past them; each is an ignored test in tests/fuzz_parsers.rs.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cdn_refresh::input::cli::RunArgs;
use cdn_refresh::input::config::Config;
use cdn_refresh::input::settings;
use cdn_refresh::input::url_list::{self, Rules};
use cdn_refresh::plan::rules::{Mapped, Mapping, RuleSet};
use cdn_refresh::providers::{ObjectType, ProviderError, aliyun, huawei, qiniu};

/// The most of one input line (or value) a message should echo: the longest URL a provider
/// accepts. Today's messages echo lines in full; see [`strict`].
pub const ECHO_CAP: usize = 4096;

/// The bound on one message once lines are capped: a line may be echoed a few times (the line,
/// then the fix, which spells the corrected line).
pub const CAPPED_MESSAGE: usize = 4 * ECHO_CAP + 2048;

/// Whether to check the properties today's code does not have too: messages within
/// [`CAPPED_MESSAGE`] (today they echo a whole line, however long), durations the run can use
/// (today any `u64` of seconds is taken), regex lines whose `host` is the URL's, and config
/// messages linear in the file however many YAML aliases it holds. Off by default, so that
/// fuzzing finds other problems; `CDN_REFRESH_FUZZ_STRICT=1` turns it on (the proptest
/// suite's ignored tests check each of them always).
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("CDN_REFRESH_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

/// A message about an input of `input_len` bytes is at most linear in it: echoing a line a
/// few times, percent-encoded (3 bytes for 1), is fine; a message that grows faster than its
/// input is an amplifier.
pub fn check_linear(what: &str, message: &str, input_len: usize) {
    assert!(
        message.len() <= 16 * input_len + 8192,
        "{what}: a message of {} bytes about an input of {input_len} bytes (head: {:?})",
        message.len(),
        head(message),
    );
    if strict() {
        check_capped(what, message);
    }
}

/// A message is at most [`CAPPED_MESSAGE`] bytes, whatever the input.
pub fn check_capped(what: &str, message: &str) {
    assert!(
        message.len() <= CAPPED_MESSAGE,
        "{what}: a message of {} bytes, over {CAPPED_MESSAGE} (head: {:?})",
        message.len(),
        head(message),
    );
}

/// The start of a long text, for assertion messages.
pub fn head(text: &str) -> &str {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

// ---------------------------------------------------------------------------------------------
// URL lists

/// A URL `normalize` accepted under `rules` can be sent: http(s), a host, no control
/// character, within the length limit; outside regex lines it is plain ASCII, exactly the
/// WHATWG serialization of itself, and `host` finds the parser's host.
pub fn check_sendable(url: &str, rules: &Rules) {
    assert!(
        url.starts_with("https://") || url.starts_with("http://"),
        "not http(s): {url:?}"
    );
    assert!(
        !url.chars().any(char::is_control),
        "control character: {url:?}"
    );
    assert!(
        url.len() <= rules.max_len,
        "over {}: {url:?}",
        rules.max_len
    );
    let host = url_list::host(url);
    assert!(!host.is_empty(), "no host: {url:?}");
    if rules.object_type == ObjectType::Regex && host.contains('\\') && !strict() {
        // Known, and not fixed yet: a regex line whose pattern starts with `\` right after
        // the host keeps it there, and `host` reads it as part of the host (see
        // `regressions::a_regex_line_has_the_host_the_provider_sees` in tests/fuzz_parsers.rs).
        return;
    }
    assert!(
        !host.contains(['/', '?', '#', '@', '\\']),
        "host {host:?} of {url:?}"
    );
    if rules.object_type == ObjectType::Regex {
        return;
    }
    assert!(url.is_ascii(), "not ASCII: {url:?}");
    assert!(!url.contains([' ', '#']), "raw space or #: {url:?}");
    // A `\` is a `/` in the path, as browsers read it; in the query they send it as it is.
    let path = url.split('?').next().unwrap_or(url);
    assert!(!path.contains('\\'), "raw \\ in the path: {url:?}");
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?} does not parse: {e}"));
    assert_eq!(parsed.as_str(), url, "not its own serialization");
    assert!(matches!(parsed.scheme(), "http" | "https"), "{url:?}");
    assert_eq!(parsed.host_str(), Some(host), "host of {url:?}");
    assert!(
        parsed.fragment().is_none() && parsed.username().is_empty(),
        "{url:?}"
    );
    if rules.object_type == ObjectType::Directory {
        assert!(
            parsed.path().ends_with('/'),
            "a directory without `/`: {url:?}"
        );
    }
}

/// `normalize` of one line: an accepted URL is sendable and normalizes to itself; a refusal is
/// a sentence of bounded length.
pub fn check_normalize(line: &str, rules: &Rules) {
    match url_list::normalize(line, rules) {
        Ok(url) => {
            check_sendable(&url, rules);
            assert_eq!(
                url_list::normalize(&url, rules).as_deref(),
                Ok(url.as_str()),
                "normalize is not idempotent on {line:?}"
            );
        }
        Err(reason) => {
            assert!(!reason.trim().is_empty(), "an empty reason for {line:?}");
            check_linear("url_list::normalize", &reason, line.len());
        }
    }
}

/// `parse` of a whole list: the URLs are sendable, normalized and distinct; every bad line is
/// reported with its number and a bounded message.
pub fn check_url_list(text: &str, rules: &Rules) {
    let lines = text.lines().count();
    match url_list::parse(text, rules) {
        Ok(list) => {
            let mut seen = std::collections::HashSet::new();
            for url in &list.urls {
                check_sendable(url, rules);
                assert_eq!(url_list::normalize(url, rules).as_deref(), Ok(url.as_str()));
                assert!(seen.insert(url), "{url:?} twice");
            }
            assert!(
                list.urls.len() + list.duplicates <= lines,
                "more URLs than lines"
            );
        }
        Err(invalid) => {
            assert!(!invalid.is_empty());
            let mut previous = 0;
            for bad in &invalid {
                assert!(
                    bad.line > previous && bad.line <= lines,
                    "line {}",
                    bad.line
                );
                previous = bad.line;
                let line_len = text.lines().nth(bad.line - 1).map_or(0, str::len);
                // The line, trimmed, with credentials masked as `***`.
                assert!(bad.text.len() <= line_len + 3, "echoes more than its line");
                check_linear("url_list::parse", &bad.to_string(), line_len);
            }
        }
    }
}

/// `host` of any text is a part of it without a path, query or fragment.
pub fn check_host(text: &str) {
    let host = url_list::host(text);
    let (start, end) = (text.as_ptr() as usize, text.as_ptr() as usize + text.len());
    assert!(
        host.is_empty()
            || (host.as_ptr() as usize >= start && host.as_ptr() as usize + host.len() <= end)
    );
    assert!(!host.contains(['/', '?', '#']), "host {host:?} of {text:?}");
}

// ---------------------------------------------------------------------------------------------
// Mapping rules

/// The rules that mapped URLs are checked against: the parser's own (no length limit; the
/// caller applies the provider's).
pub const MAPPED_FILE: Rules = Rules {
    max_len: usize::MAX,
    object_type: ObjectType::File,
};
pub const MAPPED_DIRECTORY: Rules = Rules {
    max_len: usize::MAX,
    object_type: ObjectType::Directory,
};

/// Parses rules and, when they parse, maps `paths` with them.
pub fn check_rules(text: &str, options: &cdn_refresh::plan::rules::MapOptions, paths: &[&str]) {
    match RuleSet::parse(text, options) {
        Ok(set) => check_rule_set(&set, paths),
        Err(errors) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let lines: Vec<&str> = text.lines().collect();
            assert!(!errors.is_empty());
            assert!(
                errors.windows(2).all(|w| w[0].line <= w[1].line),
                "unsorted"
            );
            for e in &errors {
                assert!(e.line >= 1 && e.line <= lines.len(), "line {}", e.line);
                assert!(!e.reason.trim().is_empty(), "no reason for {:?}", e.text);
                check_linear("RuleSet::parse", &e.to_string(), lines[e.line - 1].len());
            }
        }
    }
}

/// Every URL a rule set gives is a normalized, sendable URL: the roots as directories, the
/// mapped URLs as files, each path's URLs distinct; `map_all` agrees with `map`.
pub fn check_rule_set(set: &RuleSet, paths: &[&str]) {
    let roots = set.roots();
    for root in &roots {
        check_sendable(root, &MAPPED_DIRECTORY);
        assert_eq!(
            url_list::normalize(root, &MAPPED_DIRECTORY).as_deref(),
            Ok(root.as_str()),
            "root {root:?} is not normalized"
        );
    }
    for path in paths {
        let mapping = set.map(path);
        let bad_segment = path
            .strip_prefix("./")
            .unwrap_or(path)
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
        if bad_segment {
            assert_eq!(mapping, Mapping::Unmatched, "{path:?} names no file");
        }
        match &mapping {
            Mapping::Files(urls) => {
                assert!(!urls.is_empty(), "{path:?} mapped to no URL");
                for (i, url) in urls.iter().enumerate() {
                    check_sendable(url, &MAPPED_FILE);
                    assert_eq!(
                        url_list::normalize(url, &MAPPED_FILE).as_deref(),
                        Ok(url.as_str()),
                        "{path:?} mapped to {url:?}, which is not normalized"
                    );
                    assert!(!urls[..i].contains(url), "{path:?}: {url:?} twice");
                }
            }
            Mapping::WholeSite(whole) => {
                assert!(
                    !whole.is_empty(),
                    "{path:?}: a whole-site refresh of nothing"
                );
                assert_eq!(whole, &roots);
            }
            Mapping::Excluded | Mapping::Unmatched => {}
        }
    }
    let (urls, mappings) = set.map_all(paths);
    assert_eq!(mappings.len(), paths.len());
    for (path, (mapped, range)) in paths.iter().zip(&mappings) {
        let alone = match set.map(path) {
            Mapping::Files(urls) => (Mapped::Files, urls),
            Mapping::Excluded => (Mapped::Excluded, Vec::new()),
            Mapping::Unmatched => (Mapped::Unmatched, Vec::new()),
            Mapping::WholeSite(_) => (Mapped::WholeSite, Vec::new()),
        };
        assert_eq!(
            (*mapped, &urls[range.clone()]),
            (alone.0, &alone.1[..]),
            "{path:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The config file

/// Paths the rules of a parsed config are tried on.
pub const SAMPLE_PATHS: &[&str] = &[
    "public/index.html",
    "public/a b/c#d?.html",
    "public/100%.html",
    "public/é/日本.html",
    "layouts/base.html",
    "config.toml",
    "a/b/../c",
    "public/x.map",
    ".htaccess",
    "public/\r\n/x",
];

/// What a config file's messages are measured against: its length, times the number of
/// aliases it might hold plus one. Each YAML alias repeats what it names, and the messages
/// echo each copy: `mapping: [&r "<a bad rule of 64 KB>", *r, *r, …]` gives a message of
/// megabytes (serde-saphyr's budget stops it at 64 MiB of scalars). That is not fixed yet
/// (`regressions::config_aliases_do_not_multiply_memory_or_messages` in
/// tests/fuzz_parsers.rs); [`strict`] measures against the file's length alone.
pub fn config_input_len(text: &str) -> usize {
    if strict() {
        text.len()
    } else {
        text.len() * (1 + text.matches('*').count())
    }
}

/// Parses a config file: a refusal names the file and is bounded; an accepted file's rules
/// (its own and with `mapping_flag` in their place) parse or are refused cleanly, and map
/// every sample path to sendable URLs; its durations are read the same way the flags are.
pub fn check_config(text: &str, mapping_flag: Option<&str>) {
    let input_len = config_input_len(text);
    let config = match Config::parse(text, "fuzz.yml") {
        Ok(config) => config,
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("fuzz.yml"),
                "{message:?} does not name the file"
            );
            check_linear("Config::parse", &message, input_len);
            return;
        }
    };
    for flag in [None, mapping_flag] {
        match config.rules(flag) {
            Ok(set) => check_rule_set(&set, SAMPLE_PATHS),
            Err(errors) => {
                assert!(!errors.is_empty());
                for e in &errors {
                    assert!(!e.reason.trim().is_empty());
                    check_linear(
                        "Config::rules",
                        &e.to_string(),
                        input_len + flag.map_or(0, str::len),
                    );
                }
            }
        }
    }
    // The file's durations are checked as the flags' are: the same text is accepted.
    for value in [&config.run.timeout, &config.run.poll_interval]
        .into_iter()
        .flatten()
    {
        let text = format!("{}ns", value.as_nanos());
        let (timeout, _) = durations(Some(&text), None);
        assert!(
            timeout.is_ok(),
            "the config accepts `{text}`, the flag does not: {timeout:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Durations

/// What `--timeout` and `--poll-interval` become: the run options, or the message.
pub fn durations(
    timeout: Option<&str>,
    poll_interval: Option<&str>,
) -> (Result<(Duration, Duration), String>, usize) {
    let args = RunArgs {
        urls: Some("https://a.example.com/x".to_string()),
        timeout: timeout.map(str::to_string),
        poll_interval: poll_interval.map(str::to_string),
        // No config file is read: neither this folder nor the working directory holds one.
        repo: Some("/nonexistent/cdn-refresh-fuzz".into()),
        config: None,
        ..RunArgs::default()
    };
    let input_len = timeout.map_or(0, str::len) + poll_interval.map_or(0, str::len);
    let result = settings::settings(&args, &cdn_refresh::input::cli::Env::default(), &mut || {
        Ok(String::new())
    })
    .map(|s| (s.targets[0].run.timeout, s.targets[0].run.poll_interval))
    .map_err(|e| e.to_string());
    (result, input_len)
}

/// `--timeout` and `--poll-interval`: accepted values give a poll interval of at least 100 ms;
/// a refusal is bounded. With `usable` (or [`strict`]), an accepted duration also works as the
/// run uses it: a deadline `now + timeout`, and a poll interval that grows by half to a cap.
pub fn check_durations(timeout: Option<&str>, poll_interval: Option<&str>, usable: bool) {
    let usable = usable || strict();
    let (result, input_len) = durations(timeout, poll_interval);
    match result {
        Ok((timeout_value, poll)) => {
            assert!(poll >= Duration::from_millis(100), "poll interval {poll:?}");
            if usable {
                check_usable_durations(timeout_value, poll, timeout, poll_interval);
            }
        }
        Err(message) => check_linear("--timeout/--poll-interval", &message, input_len),
    }
}

/// An accepted timeout and poll interval can be added to the clock, and the interval grown by
/// half (`tracker::Schedule::next_gap`), without overflow, which would panic mid-run.
pub fn check_usable_durations(
    timeout: Duration,
    poll: Duration,
    timeout_text: Option<&str>,
    poll_text: Option<&str>,
) {
    let now = Instant::now();
    assert!(
        now.checked_add(timeout).is_some(),
        "--timeout {timeout_text:?} was accepted as {timeout:?}, which overflows `now + timeout`"
    );
    assert!(
        now.checked_add(poll).is_some()
            && Duration::try_from_secs_f64(poll.as_secs_f64() * 1.5).is_ok(),
        "--poll-interval {poll_text:?} was accepted as {poll:?}, which overflows the poll schedule"
    );
}

// ---------------------------------------------------------------------------------------------
// Provider answers

/// The answer types each provider's client reads (submit, status, quota).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    AliyunRefresh,
    AliyunPush,
    AliyunTasks,
    AliyunQuota,
    QiniuRefresh,
    QiniuPrefetch,
    QiniuList,
    HuaweiRefresh,
    HuaweiPreheat,
    HuaweiDetail,
    HuaweiQuota,
}

impl Answer {
    pub const ALL: [Answer; 11] = [
        Answer::AliyunRefresh,
        Answer::AliyunPush,
        Answer::AliyunTasks,
        Answer::AliyunQuota,
        Answer::QiniuRefresh,
        Answer::QiniuPrefetch,
        Answer::QiniuList,
        Answer::HuaweiRefresh,
        Answer::HuaweiPreheat,
        Answer::HuaweiDetail,
        Answer::HuaweiQuota,
    ];
}

/// What a successful parse held, as far as the checks care.
#[derive(Debug)]
pub enum Parsed {
    TaskIds(Vec<String>),
    Other,
}

/// Parses `body` (with HTTP `status`) as the provider's client reads that answer.
pub fn parse_answer(answer: Answer, status: u16, body: &str) -> Result<Parsed, ProviderError> {
    use Answer::*;
    let body = body.to_string();
    let aliyun_raw = || aliyun::api::RawResponse {
        status,
        body: body.clone(),
        retry_after: None,
    };
    let qiniu_raw = || qiniu::api::RawResponse {
        status,
        body: body.clone(),
    };
    let huawei_raw = || huawei::api::RawResponse {
        status,
        request_id: None,
        body: body.clone(),
    };
    let ids = |ids: &str| Parsed::TaskIds(aliyun::api::split_task_ids(ids));
    Ok(match answer {
        AliyunRefresh => ids(&aliyun::api::parse::<aliyun::api::RefreshResponse>(
            "RefreshObjectCaches",
            aliyun_raw(),
        )?
        .refresh_task_id),
        AliyunPush => ids(&aliyun::api::parse::<aliyun::api::PushResponse>(
            "PushObjectCache",
            aliyun_raw(),
        )?
        .push_task_id),
        AliyunTasks => {
            aliyun::api::parse::<aliyun::api::TaskByIdResponse>(
                "DescribeRefreshTaskById",
                aliyun_raw(),
            )?;
            Parsed::Other
        }
        AliyunQuota => {
            aliyun::api::parse::<aliyun::api::QuotaResponse>("DescribeRefreshQuota", aliyun_raw())?;
            Parsed::Other
        }
        QiniuRefresh => {
            qiniu::api::parse::<qiniu::api::RefreshResponse>(qiniu::api::REFRESH, qiniu_raw())?;
            Parsed::Other
        }
        QiniuPrefetch => {
            qiniu::api::parse::<qiniu::api::PrefetchResponse>(qiniu::api::PREFETCH, qiniu_raw())?;
            Parsed::Other
        }
        QiniuList => {
            qiniu::api::parse::<qiniu::api::ListResponse>(qiniu::api::REFRESH_LIST, qiniu_raw())?;
            Parsed::Other
        }
        HuaweiRefresh => {
            huawei::api::parse::<huawei::api::RefreshResponse>("refresh", huawei_raw())?;
            Parsed::Other
        }
        HuaweiPreheat => {
            huawei::api::parse::<huawei::api::PreheatResponse>("preheat", huawei_raw())?;
            Parsed::Other
        }
        HuaweiDetail => {
            huawei::api::parse::<huawei::api::DetailResponse>("task detail", huawei_raw())?;
            Parsed::Other
        }
        HuaweiQuota => {
            huawei::api::parse::<huawei::api::QuotaResponse>("quota", huawei_raw())?;
            Parsed::Other
        }
    })
}

/// Any answer: only a 2xx answer is a success; task ids are non-empty and trimmed; an error
/// has a bounded message.
pub fn check_answer(answer: Answer, status: u16, body: &str) {
    match parse_answer(answer, status, body) {
        Ok(parsed) => {
            assert!(
                (200..300).contains(&status),
                "{answer:?}: HTTP {status} read as a success"
            );
            if let Parsed::TaskIds(ids) = parsed {
                for id in ids {
                    assert!(
                        !id.is_empty() && id.trim() == id && !id.contains(','),
                        "task id {id:?}"
                    );
                }
            }
        }
        Err(e) => check_provider_error(&format!("{answer:?} HTTP {status}"), &e, body.len()),
    }
}

/// A provider error: a bounded message (and hint).
pub fn check_provider_error(what: &str, e: &ProviderError, input_len: usize) {
    check_linear(what, &e.to_string(), input_len);
    if let Some(hint) = &e.hint {
        check_linear(what, hint, input_len);
    }
}

/// `classify` of each provider on any status, code and message.
pub fn check_classify(status: u16, code: &str, message: &str) {
    let aliyun = aliyun::api::classify("RefreshObjectCaches", status, code, message.to_string());
    let qiniu = qiniu::api::classify(status, code.trim().parse().ok(), message.to_string());
    let huawei = huawei::api::classify(status, Some(code), message.to_string());
    for (who, e) in [("aliyun", &aliyun), ("qiniu", &qiniu), ("huawei", &huawei)] {
        assert_eq!(
            e.message,
            cdn_refresh::echo::cap(message, cdn_refresh::echo::SERVER),
            "{who}: the message is the provider's, cut to a bounded length"
        );
        if let Some(hint) = &e.hint {
            check_linear(who, hint, code.len() + message.len());
        }
    }
    let code_shown = cdn_refresh::echo::cap(code, cdn_refresh::echo::VALUE);
    assert_eq!(aliyun.code, code_shown);
    assert_eq!(huawei.code, code_shown);
    if !qiniu.code.starts_with("HTTP") {
        assert_eq!(qiniu.code.parse::<i64>().ok(), code.trim().parse().ok());
    }
}

/// `split_task_ids` of any text: trimmed, non-empty ids without commas, at most one per comma.
pub fn check_split_task_ids(text: &str) {
    let ids = aliyun::api::split_task_ids(text);
    assert!(ids.len() <= text.matches(',').count() + 1);
    for id in &ids {
        assert!(
            !id.is_empty() && id.trim() == id && !id.contains(','),
            "{id:?} of {text:?}"
        );
    }
}
