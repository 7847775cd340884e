//! Bounded fuzzing, on stable, of every parser that reads hostile input: URL lists, mapping
//! rules, the config file, `--timeout`/`--poll-interval`, and the answers of the three
//! providers. The generators are biased toward what breaks parsers (CR, LF, NUL and other
//! control characters, `::`, stray and invalid `%` escapes, non-ASCII, very long lines, YAML
//! anchors and aliases, deep nesting, huge and negative numbers, wrong JSON types); the
//! properties are the checks of `tests/parser_checks/`, which the cargo-fuzz targets in
//! `fuzz/` run too: no panic, accepted input is usable (an accepted URL is a normalized http(s)
//! URL with a host and nothing to smuggle; mapped URLs normalize to themselves), and messages
//! about bad input are bounded.
//!
//! Each property runs 256 cases (`PROPTEST_CASES` overrides it: `scripts/fuzz.sh` raises it
//! when cargo-fuzz is not available). The `#[ignore]`d tests are properties that today's code
//! does not have, each with the reason; they are meant to pass once it does
//! (`cargo test --test fuzz_parsers -- --ignored`).

mod parser_checks;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use cdn_refresh::input::config::Config;
use cdn_refresh::input::url_list::{self, Rules};
use cdn_refresh::plan::rules::{IndexUrl, MapOptions, RuleSet};
use cdn_refresh::providers::ObjectType;
use parser_checks::*;
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------
// Heap accounting: the config parser must stay bounded in memory, so the tests measure it.

/// The system allocator, counting the bytes each thread holds (tests run on several threads;
/// each measures its own).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only
// thread-locals with constant initializers and no destructor, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; returns its value and the most heap this thread held at once meanwhile, beyond
/// what it held before.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let value = f();
    let peak = PEAK.with(Cell::get);
    (value, usize::try_from(peak - start).unwrap_or(0))
}

const MB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Generators

/// 256 cases, or `PROPTEST_CASES`.
fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Pieces that parsers of URLs, globs and templates treat specially.
#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "\r", "\n", "\r\n", "\0", "\t", "\u{b}", "\u{7f}", "\u{85}", "\u{2028}", "\u{feff}", "\u{200b}",
    "\u{fffd}", "::", ":", "%", "%%", "%zz", "%2", "%g0", "%%41", "%41", "%2e", "%2E%2e", "%2F",
    "%5C", "%00", "%0A", "%C3%A9", "%C3", "%FF", "%25", "é", "日本", "Ⅸ", "ß", "İ", "\u{10ffff}", "👍",
    "\u{301}", " ", "#", "?", "&", "=", "@", "/", "//", "\\", ".", "..", "/./", "/../", "/%2e%2e/",
    "[", "]", "[::1]", "{", "}", "'", "\"", "<", ">", "`", "|", "^", ",", ";", "!", "*", "**", "+",
    "~", "https://", "http://", "HTTPS://", "ftp://", "a.com", "A.Example.COM", "xn--",
    "xn--bcher-kva", "bücher", ":443", ":80", ":8080", ":99999", ":-1", "user:pw@", "0",
    "127.0.0.1", "0x7f.1", "{path}", "=>", "@all",
];

/// Long runs: a line of tens of kilobytes, past every cap.
fn long_run() -> impl Strategy<Value = String> {
    (
        select(&["x", "%", "é", "/", "a/", "%zz", "../", "\\", "日", "%41"][..]),
        600usize..6000,
    )
        .prop_map(|(atom, n)| atom.repeat(n))
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => select(FRAGMENTS).prop_map(str::to_string),
        4 => "[a-zA-Z0-9._~-]{1,10}",
        2 => any::<char>().prop_map(String::from),
        1 => long_run(),
    ]
}

#[rustfmt::skip]
const SCHEMES: &[&str] = &[
    "https://", "http://", "https://", "http://", "HTTPS://", "HtTp://", "", "//", "ftp://",
    "https:", "https:/", "https:///", "javascript:", "web+x://", "https ://",
];

#[rustfmt::skip]
const HOSTS: &[&str] = &[
    "a.com", "www.example.com", "A.Example.COM", "bücher.example", "xn--bcher-kva.example", "[::1]",
    "[::1]:8080", "[::ffff:1.2.3.4]", "[zz]", "127.0.0.1", "0x7f.0.0.1", "a.com:8080", "a.com:443",
    "a.com:80", "a.com:", "a.com:99999", "u:secret@a.com", "@a.com", "", "a%41.com", "a%zz.com",
    "a..com", ".", "-a.com", "a_b.com", "a b.com", "日本.jp", "xn--", "a.com.",
];

/// Mostly URL-shaped lines with hostile pieces; sometimes any text at all.
fn url_like() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (
            select(SCHEMES),
            prop_oneof![4 => select(HOSTS).prop_map(str::to_string), 1 => fragment()],
            select(&["/", "/", "", "?", "\\", "#"][..]),
            prop::collection::vec(fragment(), 0..10),
        )
            .prop_map(|(scheme, host, sep, rest)| format!("{scheme}{host}{sep}{}", rest.concat())),
        1 => any::<String>(),
    ]
}

fn object_type() -> impl Strategy<Value = ObjectType> {
    select(
        &[
            ObjectType::File,
            ObjectType::Directory,
            ObjectType::Regex,
            ObjectType::IgnoreParams,
        ][..],
    )
}

fn url_rules() -> impl Strategy<Value = Rules> {
    (
        object_type(),
        prop_oneof![Just(1024usize), Just(4096), Just(usize::MAX), 0usize..64],
    )
        .prop_map(|(object_type, max_len)| Rules {
            max_len,
            object_type,
        })
}

/// A URL list: lines with every line ending, comments, blank lines, a BOM.
fn url_list_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(
            (
                prop_oneof![
                    6 => url_like(),
                    1 => Just("# a comment".to_string()),
                    1 => Just("   ".to_string()),
                    1 => Just("  https://a.com/x  ".to_string()),
                ],
                select(&["\n", "\r\n", "\r", "\n\n", "\n\r"][..]),
            ),
            0..10,
        ),
    )
        .prop_map(|(bom, lines)| {
            let mut text = if bom {
                "\u{feff}".to_string()
            } else {
                String::new()
            };
            for (line, end) in lines {
                text.push_str(&line);
                text.push_str(end);
            }
            text
        })
}

#[rustfmt::skip]
const GLOB_ATOMS: &[&str] = &[
    "public", "public", "site", "a", "**", "**", "*", "?", "[abc]", "[!a]", "[a-", "[z-a]", "{a,b}",
    "{", "}", "\\[", "\\", "é", " ", "#", ".", "..", "*.html", "**/*.html", "", "a b", "{{{{a}}}}",
    "[[:alpha:]]",
];

#[rustfmt::skip]
const GOOD_GLOBS: &[&str] = &[
    "public/**", "public/**", "public/**/*.html", "site/*.html", "**", "**/*.css", "layouts/**",
    "{public,site}/**", "public/a/**", "*", "a b/**", "é/**", "public/[0-9]*.html",
    "public/\\[1\\].html",
];

fn glob() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(GOOD_GLOBS).prop_map(str::to_string),
        2 => (
            select(&["", "", "", "!", "/", "./"][..]),
            prop::collection::vec(select(GLOB_ATOMS), 1..4),
        )
            .prop_map(|(lead, atoms)| format!("{lead}{}", atoms.join("/"))),
    ]
}

#[rustfmt::skip]
const TEMPLATE_ATOMS: &[&str] = &[
    "{path}", "{file}", "{dir}", "{name}", "{stem}", "{ext}", "{dir}/", ".", "..", "/./", "/../",
    "%", "%%", "%zz", "%2e", "%2e%2e/", "%41", "?", "?v=", "#", "é", ",", "{", "}", "{bogus}", "{}",
    "{{path}}", "@", ".html", " ", "\t", "\\", ":", "//", "index.html", "&", "=",
];

/// Path pieces of templates that parse.
#[rustfmt::skip]
const TEMPLATE_PATHS: &[&str] = &[
    "/", "/{path}", "/{path}", "/docs", "/{dir}/{name}", "/{stem}.{ext}", "?v={stem}", "/{file}",
    "/x", ".html", "/index.html", "-", "_", "/a,b", "/{name}", "/%20", "/~u", "/@v",
];

/// A template that should parse, with now and then one hostile piece in its path.
fn good_template() -> impl Strategy<Value = String> {
    (
        select(&["https://", "https://", "http://", "HTTPS://"][..]),
        select(
            &[
                "a.com",
                "a.com",
                "www.example.com",
                "A.COM",
                "b.example.com:8080",
                "bücher.example",
                "[::1]",
                "a.com:443",
            ][..],
        ),
        prop::collection::vec(select(TEMPLATE_PATHS), 0..4),
        prop_oneof![4 => Just(""), 1 => select(TEMPLATE_ATOMS)],
    )
        .prop_map(|(scheme, host, path, odd)| format!("{scheme}{host}/{}{odd}", path.concat()))
}

fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => good_template(),
        3 => (
            select(&["https://", "http://", "HTTPS://", "", "ftp://", "{path}", "//"][..]),
            select(&["a.com", "www.example.com", "A.COM", "b.example.com:8080", "bücher.example",
                     "[::1]", "a.com:443", "", "u@a.com", "{name}.com"][..]),
            prop::collection::vec(
                prop_oneof![
                    3 => select(TEMPLATE_PATHS),
                    1 => select(TEMPLATE_ATOMS),
                ],
                1..5,
            ),
        )
            .prop_map(|(scheme, host, path)| format!("{scheme}{host}{}", path.concat())),
        1 => Just("@all".to_string()),
        1 => fragment(),
    ]
}

fn rule_line() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => (glob(), prop::collection::vec(good_template(), 1..3))
            .prop_map(|(glob, templates)| format!("{glob} => {}", templates.join(", "))),
        4 => (
            glob(),
            select(&[" => ", "=>", " =>", "=> ", " = > ", " ==> ", " => => "][..]),
            prop::collection::vec(template(), 1..3),
            select(&[", ", ",", " , ", ",,", ", ,"][..]),
            select(&["", "", " # comment", "# not a comment", "\r"][..]),
        )
            .prop_map(|(glob, arrow, templates, comma, tail)| {
                format!("{glob}{arrow}{}{tail}", templates.join(comma))
            }),
        2 => glob().prop_map(|g| format!("!{g}")),
        1 => glob().prop_map(|g| format!("{g} => @all")),
        1 => Just("# a comment".to_string()),
        1 => Just(String::new()),
        1 => fragment(),
        1 => url_like(),
    ]
}

fn rule_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(rule_line(), 0..6),
        select(&["\n", "\r\n", "\n\n"][..]),
    )
        .prop_map(|(bom, lines, end)| {
            format!("{}{}", if bom { "\u{feff}" } else { "" }, lines.join(end))
        })
}

#[rustfmt::skip]
const PATH_SEGMENTS: &[&str] = &[
    "public", "public", "public", "site", "layouts", "a", "index.html", "index.html", "index.htm",
    "post 1.html", "a.b.c", ".htaccess", "x.map", "x.", ".x.html", "é", "日本.html", "#", "?", "%",
    "%41", "%2e", "100%.html", "..", ".", "", "\n", "\r", "\0", "\\", "{path}", "[1]", ":", "@",
    " ", "a,b", "a=>b", "about.html", ".html",
];

fn repo_path() -> impl Strategy<Value = String> {
    (
        select(&["", "", "", "./", "/"][..]),
        prop::collection::vec(
            prop_oneof![
                12 => select(PATH_SEGMENTS).prop_map(str::to_string),
                1 => fragment(),
            ],
            1..5,
        ),
    )
        .prop_map(|(lead, segments)| format!("{lead}{}", segments.join("/")))
}

fn map_options() -> impl Strategy<Value = MapOptions> {
    (
        prop_oneof![
            3 => Just(vec!["index.html".to_string()]),
            1 => prop::collection::vec(
                select(&["index.html", "index.htm", "", "%", "a b", "é", "..", ".", "?", "#"][..])
                    .prop_map(str::to_string),
                0..3,
            ),
        ],
        // At least one: the config file refuses `index_urls: []` (an index file would map
        // to no URL at all), and RuleSet::parse takes the options as they are.
        prop::collection::vec(
            select(&[IndexUrl::Slash, IndexUrl::Bare, IndexUrl::File][..]),
            1..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(index_files, index_urls, pretty_urls)| MapOptions {
            index_files,
            index_urls,
            pretty_urls,
        })
}

/// Scalars YAML reads in surprising ways.
#[rustfmt::skip]
const YAML_SCALARS: &[&str] = &[
    "", "~", "null", "true", "no", "on", "0", "1", "-1", "3.5", "1e309", "-1e309", ".nan", ".inf",
    "0x1F", "0o17", "0b11", "1_000", "007", "99999999999999999999999999", "18446744073709551616",
    "4294967296", "\"\\u0000\"", "\"\\x00\"", "\"\\ud800\"", "'it''s'", "!!binary aGVsbG8=",
    "!!str 5", "!!int x", "!!map {}", "!custom x", "!include other.yml", "*undefined", "&a x", "*a",
    "? x", "- x", "public/** => https://a.com/{path}",
    "\"public/** => https://www.example.com/{path}\"", "\"!public/**/*.map\"", "!public/**/*.map",
    "layouts/**", "@all", "https://a.com/", "slash", "bare", "file", "aliyun", "qiniu", "huawei",
    "both", "clear", "90s", "10m", "1h 30m", "500000000000y", "18446744073709551615", "all", "fail",
    "skip", "[", "]", "{", "}", ":", ",", "#", "|", ">", "%TAG ! tag:x,2000:", "---", "...", "\t",
    "<<",
];

#[rustfmt::skip]
const YAML_KEYS: &[&str] = &[
    "version", "mapping", "mapping", "whole_site", "index_files", "index_urls", "pretty_urls",
    "collapse_threshold", "on_missing_base", "provider", "task", "object_type", "area", "force",
    "l2_preload", "dry_run", "wait", "timeout", "poll_interval", "endpoint", "qps", "concurrency",
    "batch_size", "report", "fail_on", "on_dir_refresh_denied", "aliyun_signature", "refresh_mode",
    "enterprise_project_id", "targets", "name", "sites", "credentials", "access_key_id",
    "collapse-threshold", "Mapping", "<<", "\"quoted\"", "? complex", "unknown", "",
];

/// A YAML value in flow style (which nests anywhere), with anchors and aliases.
fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        8 => select(YAML_SCALARS).prop_map(str::to_string),
        2 => fragment().prop_map(|s| format!("{s:?}")),
        1 => fragment(),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((select(YAML_KEYS), inner.clone()), 0..5).prop_map(|kv| {
                let kv: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", kv.join(", "))
            }),
            (0u8..4, inner.clone()).prop_map(|(n, v)| format!("&a{n} {v}")),
            (0u8..4).prop_map(|n| format!("*a{n}")),
        ]
    })
}

/// Entries a real config file has.
#[rustfmt::skip]
const CONFIG_ENTRIES: &[&str] = &[
    "version: 1", "index_files: [index.html]", "index_files: [index.html, index.htm]",
    "index_urls: [slash, bare, file]", "index_urls: [bare]", "pretty_urls: true",
    "collapse_threshold: 200", "on_missing_base: all", "task: both", "timeout: 90s",
    "poll_interval: 2s", "whole_site: [layouts/**, config.toml]", "provider: qiniu", "qps: 5",
    "batch_size: 100", "fail_on: pending", "dry_run: true", "# a comment", "",
];

fn mapping_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(rule_line(), 1..4).prop_map(|rules| {
            let mut s = "mapping: |\n".to_string();
            for rule in rules {
                s.push_str("  ");
                s.push_str(&rule);
                s.push('\n');
            }
            s
        }),
        prop::collection::vec(rule_line(), 1..4).prop_map(|rules| {
            let mut s = "mapping:\n".to_string();
            for rule in rules {
                s.push_str(&format!("  - {}\n", serde_json::to_string(&rule).unwrap()));
            }
            s
        }),
        // Aliases of a scalar: each one is a copy of the anchored rule.
        (rule_line(), 1usize..40).prop_map(|(rule, copies)| {
            let rule = serde_json::to_string(&rule).unwrap();
            format!(
                "whole_site: [&r layouts/**]\nmapping: [&s {rule}{}]\nindex_files: [*r]",
                ", *s".repeat(copies)
            )
        }),
    ]
}

/// A config file: mostly real entries and rules, with hostile keys and values (types, tags,
/// anchors and aliases, odd numbers), alias bombs, deep nesting, or any text.
fn yaml_doc() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        4 => select(CONFIG_ENTRIES).prop_map(str::to_string),
        2 => (select(YAML_KEYS), yaml_value()).prop_map(|(k, v)| format!("{k}: {v}")),
        1 => (yaml_value(), yaml_value()).prop_map(|(sites, provider)| {
            let first = format!("  - name: t1\n    provider: {provider}\n    sites: {sites}\n");
            format!("targets:\n{first}  - name: t2\n    provider: aliyun\n")
        }),
    ];
    prop_oneof![
        10 => (
            mapping_entry(),
            prop::collection::vec(entry, 0..6),
            select(&["\n", "\n", "\r\n", "\n---\n", "\n...\n"][..]),
        )
            .prop_map(|(mapping, entries, end)| {
                let mut lines = entries;
                lines.insert(lines.len() / 2, mapping);
                lines.join(end)
            }),
        1 => billion_laughs(),
        1 => deep_nesting(),
        1 => any::<String>(),
    ]
}

/// A nested alias bomb: each level lists the previous one `fanout` times.
fn billion_laughs() -> impl Strategy<Value = String> {
    (
        select(&["mapping", "whole_site", "index_files", "targets", "sites"][..]),
        2usize..10,
        2usize..12,
    )
        .prop_map(|(key, fanout, levels)| bomb(key, fanout, levels))
}

fn bomb(key: &str, fanout: usize, levels: usize) -> String {
    let mut text = format!("{key}: &l0 [{}]\n", vec!["lol"; fanout].join(", "));
    for level in 1..levels {
        let aliases = vec![format!("*l{}", level - 1); fanout].join(", ");
        text.push_str(&format!("k{level}: &l{level} [{aliases}]\n"));
    }
    text
}

fn deep_nesting() -> impl Strategy<Value = String> {
    (
        select(&["[", "{a: ", "- ", "[{x: "][..]),
        select(&["mapping", "targets", "index_urls", "version"][..]),
        1usize..5000,
    )
        .prop_map(|(open, key, depth)| format!("{key}: {}", open.repeat(depth)))
}

#[rustfmt::skip]
const ODD_DURATIONS: &[&str] = &[
    "", " ", "-1", "+1", "1e9", "0x10", "١٢", "∞", "NaN", "1.5s", "1,5s", "90s ", " 90s", "\0",
    "1s\n", "500000000000y", "584542046090y", "1000000000000y", "18446744073709551615",
    "18446744073709551616", "213503982334601d", "9223372036854775807s", "0", "00", "0s", "1ns",
];

/// What `--timeout` and `--poll-interval` might be given.
fn duration_text() -> impl Strategy<Value = String> {
    #[rustfmt::skip]
    const UNITS: &[&str] = &[
        "ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "h", "hr", "d", "day", "w", "M",
        "month", "y", "year", "years", "",
    ];
    prop_oneof![
        3 => "[0-9]{1,25}",
        3 => ("[0-9]{1,15}", select(UNITS)).prop_map(|(n, u)| format!("{n}{u}")),
        2 => prop::collection::vec(("[0-9]{1,12}", select(UNITS)), 1..5).prop_map(|parts| {
            parts.iter().map(|(n, u)| format!("{n}{u}")).collect::<Vec<_>>().join(" ")
        }),
        2 => select(ODD_DURATIONS).prop_map(str::to_string),
        // Past what the clock can add (`Instant` counts seconds in an i64).
        1 => (u64::MAX / 2..=u64::MAX).prop_map(|n| n.to_string()),
        1 => (292_277_024_627u64..584_554_049_253).prop_map(|n| format!("{n}y")),
        1 => fragment(),
        1 => (select(&["9", "1s ", "1"][..]), 100usize..5000).prop_map(|(a, n)| a.repeat(n)),
    ]
}

/// Error codes `classify` knows, and odd ones.
#[rustfmt::skip]
const ERROR_CODES: &[&str] = &[
    "Throttling.User", "QuotaPerMinuteExceeded.x", "Forbidden.RAM", "SignatureNonceUsed",
    "APIGW.0301", "APIGW.0308", "CDN.0110", "403024", "400033", "-1", "", " 200 ",
];

/// HTTP statuses, biased to the ones the parsers branch on.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => select(&[200u16, 201, 204, 299, 300, 400, 401, 403, 404, 429, 500, 503, 0, 65535][..]),
        1 => any::<u16>(),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    select(&Answer::ALL[..])
}

#[rustfmt::skip]
const JSON_KEYS: &[&str] = &[
    "RefreshTaskId", "PushTaskId", "Tasks", "TaskId", "ObjectPath", "Status", "Description",
    "UrlQuota", "UrlRemain", "DirQuota", "DirRemain", "PreloadQuota", "PreloadRemain", "RegexQuota",
    "RegexRemain", "Code", "Message", "RequestId", "code", "code", "error", "requestId",
    "invalidUrls", "invalidDirs", "urlQuotaDay", "urlSurplusDay", "quotaDay", "surplusDay",
    "taskIds", "items", "total", "url", "state", "stateDetail", "refresh_task", "preheating_task",
    "urls", "status", "fail_desc", "quotas", "type", "quota_limit", "used", "error_code",
    "error_msg",
];

/// JSON numbers and values that do not fit the wire types.
#[rustfmt::skip]
const JSON_LEAVES: &[&str] = &[
    "null", "true", "false", "0", "-1", "200", "200.0", "2e2", "18446744073709551615",
    "18446744073709551616", "-9223372036854775809", "1e308", "1e400", "-0", "0.5", "\"\"",
    "\"200\"", "\"-1\"", "\"18446744073709551616\"", "\"\\u0000\"", "\"\\ud800\"",
    "\"\\uDFFF\\uD800\"", "\"APIGW.0308\"", "\"CDN.0110\"", "\"Throttling.User\"",
    "\"QuotaPerMinuteExceeded\"", "\"Complete\"", "\"file_refresh\"", "[]", "{}",
];

/// JSON text shaped like the providers' answers, with hostile values (built as text so that
/// numbers no JSON value holds, like `1e400`, and invalid escapes get through).
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => select(JSON_LEAVES).prop_map(str::to_string),
        2 => fragment().prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(|v| format!("[{}]", v.join(","))),
            // Thousands of short values (repeating `inner` would nest to gigabytes).
            (select(JSON_LEAVES), 0usize..2000).prop_map(|(v, n)| array(v, n)),
            prop::collection::vec((select(JSON_KEYS), inner), 0..8).prop_map(|kv| {
                let kv: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", kv.join(","))
            }),
        ]
    })
}

/// Any string as a JSON string.
fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9-]{0,12}",
        1 => fragment(),
    ]
    .prop_map(|s| serde_json::to_string(&s).unwrap())
}

/// `n` copies of `item`, as a JSON array.
fn array(item: &str, n: usize) -> String {
    format!("[{}]", vec![item; n].join(","))
}

/// A well-typed answer of each kind (so that the success paths are reached), with odd but
/// valid values: empty and huge strings, `u64::MAX`, thousands of entries.
fn typed_answer() -> impl Strategy<Value = (Answer, String)> {
    use Answer::*;
    let n = || prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
    let count = || 0usize..3000;
    let quota = &[
        "\"5\"",
        "\"-1\"",
        "\"18446744073709551616\"",
        "\"\"",
        "\" 7 \"",
        "\"1e3\"",
    ][..];
    prop_oneof![
        json_string().prop_map(|id| (AliyunRefresh, format!(r#"{{"RefreshTaskId":{id}}}"#))),
        json_string().prop_map(|id| (AliyunPush, format!(r#"{{"PushTaskId":{id}}}"#))),
        (json_string(), json_string(), count()).prop_map(|(id, path, count)| {
            let task = format!(r#"{{"TaskId":{id},"ObjectPath":{path},"Status":"Complete"}}"#);
            let tasks = array(&task, count);
            (
                AliyunTasks,
                format!(r#"{{"Tasks":{tasks},"TotalCount":{count}}}"#),
            )
        }),
        prop::collection::vec(select(quota), 6).prop_map(|values| {
            let keys = [
                "UrlQuota",
                "UrlRemain",
                "DirQuota",
                "DirRemain",
                "PreloadQuota",
                "PreloadRemain",
            ];
            let fields: Vec<String> = keys
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect();
            (AliyunQuota, format!("{{{}}}", fields.join(",")))
        }),
        (json_string(), n(), n(), n(), n()).prop_map(|(id, a, b, c, d)| {
            let urls = format!(r#""urlQuotaDay":{a},"urlSurplusDay":{b}"#);
            let dirs = format!(r#""dirQuotaDay":{c},"dirSurplusDay":{d}"#);
            let ids = r#""taskIds":{"https://a.com/":"t"}"#;
            (
                QiniuRefresh,
                format!(r#"{{"code":200,"requestId":{id},{urls},{dirs},{ids}}}"#),
            )
        }),
        (json_string(), n(), n()).prop_map(|(id, a, b)| {
            let body =
                format!(r#"{{"code":200,"requestId":{id},"quotaDay":{a},"surplusDay":{b}}}"#);
            (QiniuPrefetch, body)
        }),
        (json_string(), n(), count()).prop_map(|(url, total, count)| {
            let item = format!(r#"{{"requestId":"r","url":{url},"state":"success"}}"#);
            let items = array(&item, count);
            (
                QiniuList,
                format!(r#"{{"code":200,"items":{items},"total":{total}}}"#),
            )
        }),
        json_string().prop_map(|id| (HuaweiRefresh, format!(r#"{{"refresh_task":{id}}}"#))),
        json_string().prop_map(|id| (HuaweiPreheat, format!(r#"{{"preheating_task":{id}}}"#))),
        (json_string(), n(), count()).prop_map(|(url, total, count)| {
            let entry = format!(r#"{{"url":{url},"status":"failed","fail_desc":"x"}}"#);
            let urls = array(&entry, count);
            (
                HuaweiDetail,
                format!(r#"{{"urls":{urls},"total":{total}}}"#),
            )
        }),
        (json_string(), n(), n()).prop_map(|(kind, limit, used)| {
            let quota = format!(r#"{{"type":{kind},"quota_limit":{limit},"used":{used}}}"#);
            (HuaweiQuota, format!(r#"{{"quotas":[{quota}]}}"#))
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties that hold today: every run.

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn url_normalize_accepts_only_sendable_urls_and_is_idempotent(
        line in url_like(),
        rules in url_rules(),
    ) {
        check_normalize(&line, &rules);
        check_normalize(line.trim(), &rules);
        check_host(&line);
    }

    #[test]
    fn url_lists_give_distinct_sendable_urls_or_every_bad_line(
        text in url_list_text(),
        rules in url_rules(),
    ) {
        check_url_list(&text, &rules);
    }

    #[test]
    fn url_functions_take_any_text(text in any::<String>(), rules in url_rules()) {
        check_normalize(&text, &rules);
        check_url_list(&text, &rules);
        check_host(&text);
    }

    #[test]
    fn rules_parse_or_name_each_bad_line_and_map_to_normalized_urls(
        text in rule_text(),
        options in map_options(),
        paths in prop::collection::vec(repo_path(), 0..12),
    ) {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        check_rules(&text, &options, &paths);
    }

    #[test]
    fn rules_take_any_text_and_any_path(text in any::<String>(), path in any::<String>()) {
        check_rules(&text, &MapOptions::default(), &[&path]);
        let options = MapOptions {
            index_urls: vec![IndexUrl::Slash, IndexUrl::Bare, IndexUrl::File],
            pretty_urls: true,
            ..MapOptions::default()
        };
        let rule = "** => https://a.com/{file}?v={stem}, https://b.com/x/{dir}/{name}";
        let set = RuleSet::parse(rule, &options).unwrap();
        check_rule_set(&set, &[&path, &text]);
    }

    #[test]
    fn config_files_parse_or_are_refused_in_bounded_memory(
        text in yaml_doc(),
        flag in prop::option::of(rule_text()),
    ) {
        let ((), heap) = peak_heap(|| check_config(&text, flag.as_deref()));
        prop_assert!(
            heap <= 64 * MB,
            "{} MB of heap for a config file of {} bytes", heap / MB, text.len()
        );
    }

    #[test]
    fn durations_are_read_or_refused(
        timeout in prop::option::of(duration_text()),
        poll in prop::option::of(duration_text()),
    ) {
        check_durations(timeout.as_deref(), poll.as_deref(), false);
    }

    #[test]
    fn provider_answers_of_any_bytes(
        answer in answer(),
        status in status(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        check_answer(answer, status, &String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn provider_answers_of_hostile_json(
        answer in answer(),
        status in status(),
        body in json_value(),
    ) {
        check_answer(answer, status, &body);
    }

    #[test]
    fn provider_answers_of_the_right_shape_are_read(
        (answer, body) in typed_answer(),
        status in prop_oneof![4 => Just(200u16), 1 => status()],
    ) {
        check_answer(answer, status, &body);
        if (200..300).contains(&status) {
            let parsed = parse_answer(answer, status, &body);
            prop_assert!(parsed.is_ok(), "{:?}: {:?} on {}", answer, parsed.err(), head(&body));
        }
    }

    #[test]
    fn provider_classify_and_task_ids_take_anything(
        status in status(),
        code in prop_oneof![3 => select(ERROR_CODES).prop_map(str::to_string), 1 => fragment()],
        message in fragment(),
        ids in prop::collection::vec(
            prop_oneof![fragment(), Just(",".to_string()), Just(" , ".to_string())],
            0..10,
        ),
    ) {
        check_classify(status, &code, &message);
        check_split_task_ids(&ids.concat());
    }
}

/// The generators are not vacuous: they reach accepted URLs, rule sets that map, config files
/// that parse, accepted durations and successful answers.
#[test]
fn the_generators_reach_the_success_paths() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut sample = |strategy: &dyn Fn(&mut TestRunner) -> bool| {
        (0..200).filter(|_| strategy(&mut runner)).count()
    };
    let urls = sample(&|r| {
        let line = url_like().new_tree(r).unwrap().current();
        url_list::normalize(&line, &MAPPED_FILE).is_ok()
    });
    let rules = sample(&|r| {
        let text = rule_text().new_tree(r).unwrap().current();
        RuleSet::parse(&text, &MapOptions::default()).is_ok_and(|s| !s.is_empty())
    });
    let configs = sample(&|r| {
        let text = yaml_doc().new_tree(r).unwrap().current();
        Config::parse(&text, "f").is_ok_and(|c| !c.mapping.is_empty())
    });
    let durations = sample(&|r| {
        let text = duration_text().new_tree(r).unwrap().current();
        parser_checks::durations(Some(&text), None).0.is_ok()
    });
    let answers = sample(&|r| {
        let (answer, body) = typed_answer().new_tree(r).unwrap().current();
        parse_answer(answer, 200, &body).is_ok()
    });
    let counts = [
        ("urls", urls),
        ("rules", rules),
        ("configs", configs),
        ("durations", durations),
        ("answers", answers),
    ];
    for (what, count) in counts {
        assert!(
            count >= 10,
            "only {count} of 200 {what} are accepted: {counts:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs that must stay bounded: every run.

/// YAML alias bombs (nested, in every key that takes a list) and deep nesting are cut off by
/// serde-saphyr's budget (on by default: `Options::default()` has `budget: Some(..)`, 1 M
/// events, 50,000 aliases, depth 64, and alias replay capped at 1 M events) quickly and in
/// little memory.
#[test]
fn config_alias_bombs_and_deep_nesting_stay_bounded() {
    let mut inputs: Vec<String> = Vec::new();
    for key in [
        "mapping",
        "whole_site",
        "index_files",
        "index_urls",
        "targets",
    ] {
        inputs.push(bomb(key, 10, 9));
    }
    // The classic one, under keys the file takes, so that the deserializer reads every level.
    inputs.push(
        "index_files: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n\
         whole_site: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
         mapping: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            .to_string(),
    );
    for open in ["[", "{a: ", "- ", "[{x: "] {
        inputs.push(format!("mapping: {}", open.repeat(100_000)));
    }
    inputs.push(format!(
        "mapping: {}x{}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    ));
    for text in &inputs {
        let started = Instant::now();
        let (result, heap) = peak_heap(|| Config::parse(text, "bomb.yml"));
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(10) && heap <= 64 * MB,
            "{:?}…: {elapsed:?} and {} MB for {} bytes",
            head(text),
            heap / MB,
            text.len()
        );
        check_config(text, None);
        drop(result);
    }
}

/// Lines of a megabyte (128 KB in a debug build, which is ten times slower), through every
/// parser: no panic, and time linear in the input.
#[test]
fn megabyte_inputs_pass_through_every_parser() {
    let size = if cfg!(debug_assertions) {
        128 << 10
    } else {
        MB
    };
    let long = |atom: &str| atom.repeat(size / atom.len());
    for atom in ["%", "é", "\0", "../", "{path}"] {
        let long = long(atom);
        let started = Instant::now();
        let url = format!("https://a.com/{long}");
        check_normalize(&url, &MAPPED_FILE);
        check_normalize(&long, &MAPPED_FILE);
        check_url_list(&format!("{long}\n{url}\n"), &MAPPED_FILE);
        check_host(&url);
        check_rules(
            &format!("public/** => https://a.com/{long}"),
            &MapOptions::default(),
            &["public/a"],
        );
        check_rules(
            &format!("public/** {long}"),
            &MapOptions::default(),
            &["public/a"],
        );
        // A long glob is `regressions::a_long_glob_is_refused_not_a_panic`.
        let set = RuleSet::parse("** => https://a.com/{path}", &MapOptions::default()).unwrap();
        check_rule_set(&set, &[&format!("a/{long}")]);
        check_config(&format!("mapping: {long:?}\ntask: {long:?}\n"), None);
        check_durations(Some(&long), None, false);
        for answer in Answer::ALL {
            check_answer(answer, 200, &long);
            check_answer(
                answer,
                400,
                &format!(r#"{{"Code":"x","Message":{long:?},"error":{long:?}}}"#),
            );
        }
        check_split_task_ids(&long);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{atom:?}: {:?}",
            started.elapsed()
        );
    }
}

/// A million-element array (in a field the wire types skip) in an answer of 2 MB.
fn million_element_answer() -> String {
    let million = format!("[{}0]", "0,".repeat(999_999));
    format!(r#"{{"code":200,"Extra":{million}}}"#)
}

/// Answers with a million-element array and with 100,000 entries (read): quick, and the heap
/// stays within a multiple of the answer (`parse_answer` itself holds two copies of it).
#[test]
fn provider_answers_with_huge_arrays_stay_bounded() {
    let body = million_element_answer();
    for answer in Answer::ALL {
        let ((), heap) = peak_heap(|| check_answer(answer, 200, &body));
        // Huawei's error probe buffers the answer (see the ignored test below): 18 times its size.
        assert!(
            heap <= 24 * body.len(),
            "{answer:?}: {} MB for {} MB",
            heap / MB,
            body.len() / MB
        );
    }
    // Where the wire types have a list, a million wrong elements.
    let million = format!("[{}0]", "0,".repeat(999_999));
    for (answer, list) in [
        (Answer::AliyunTasks, "Tasks"),
        (Answer::QiniuList, "items"),
        (Answer::HuaweiDetail, "urls"),
        (Answer::HuaweiQuota, "quotas"),
    ] {
        check_answer(
            answer,
            200,
            &format!(r#"{{"code":200,"{list}":{million}}}"#),
        );
    }
    // 100,000 entries, read: the entries themselves take 6 times the answer's size.
    for (answer, body) in [
        (Answer::QiniuList, qiniu_list(100_000)),
        (Answer::HuaweiDetail, huawei_detail(100_000)),
    ] {
        let (parsed, heap) = peak_heap(|| parse_answer(answer, 200, &body));
        assert!(parsed.is_ok(), "{answer:?}");
        assert!(
            heap <= 8 * body.len(),
            "{answer:?}: {} MB for {} MB",
            heap / MB,
            body.len() / MB
        );
    }
}

/// A Qiniu list answer of `n` entries, and a Huawei task detail.
fn qiniu_list(n: usize) -> String {
    let item = r#"{"requestId":"r","url":"https://a.com/x","state":"success","stateDetail":""}"#;
    format!(
        r#"{{"code":200,"items":[{}],"total":18446744073709551615}}"#,
        vec![item; n].join(",")
    )
}

fn huawei_detail(n: usize) -> String {
    let entry =
        r#"{"url":"https://a.com/x","status":"failed","fail_desc":"d","fail_classify":"c"}"#;
    format!(
        r#"{{"urls":[{}],"total":18446744073709551615}}"#,
        vec![entry; n].join(",")
    )
}

#[test]
fn huawei_answers_cost_a_small_multiple_of_their_size() {
    let body = million_element_answer();
    for answer in [Answer::HuaweiRefresh, Answer::HuaweiDetail] {
        let (_, heap) = peak_heap(|| parse_answer(answer, 200, &body).is_ok());
        // `parse_answer` holds two copies of the body.
        assert!(
            heap <= 4 * body.len(),
            "{answer:?}: {} MB for {} MB",
            heap / MB,
            body.len() / MB
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties today's code does not have: ignored, each with the reason. They pass once it does.

/// Long lines, always past [`ECHO_CAP`].
fn long_line() -> impl Strategy<Value = String> {
    (url_like(), long_run(), url_like()).prop_map(|(a, long, b)| format!("{a}{long}{b}"))
}

proptest! {
    // Failing today: their failures are not saved in a regressions file.
    #![proptest_config(ProptestConfig {
        cases: cases().cases.min(64),
        failure_persistence: None,
        ..cases()
    })]

    #[test]
    fn url_messages_are_capped(line in long_line(), rules in url_rules()) {
        if let Err(reason) = url_list::normalize(&line, &rules) {
            check_capped("url_list::normalize", &reason);
        }
        if let Err(lines) = url_list::parse(&line, &rules) {
            for bad in lines {
                check_capped("url_list::parse", &bad.to_string());
            }
        }
    }

    #[test]
    fn rule_messages_are_capped(
        glob in prop_oneof![glob(), long_run()],
        long in long_run(),
        template in template(),
    ) {
        for text in [
            long.clone(),
            format!("{glob} => {template}{long}"),
            format!("{glob}{long} => https://a.com/{{path}}"),
            format!("{long} => @all"),
        ] {
            if let Err(errors) = RuleSet::parse(&text, &MapOptions::default()) {
                for e in errors {
                    check_capped("RuleSet::parse", &e.to_string());
                }
            }
        }
    }

    #[test]
    fn config_messages_are_capped(
        key in select(&["task", "timeout", "provider", "fail_on", "endpoint", "mapping"][..]),
        long in long_run(),
    ) {
        for text in [format!("{key}: {long:?}"), format!("{key}: [{long:?}]")] {
            match Config::parse(&text, "c.yml") {
                Err(e) => check_capped("Config::parse", &e.to_string()),
                Ok(config) => {
                    if let Err(errors) = config.rules(None) {
                        for e in errors {
                            check_capped("Config::rules", &e.to_string());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn provider_messages_are_capped(
        answer in answer(),
        status in status(),
        long in long_run(),
        wrong in select(&["RefreshTaskId", "refresh_task", "requestId", "PushTaskId"][..]),
    ) {
        let long = serde_json::to_string(&long).unwrap();
        let messages = format!(r#""Message":{long},"error":{long},"error_msg":{long}"#);
        for body in [
            format!(r#"{{"Code":"x","code":400031,"error_code":"x",{messages}}}"#),
            format!(r#"{{"code":400031,"invalidUrls":[{long},{long}]}}"#),
            format!(r#"{{"code":200,{wrong:?}:[{long}]}}"#),
            format!(r#"{{"code":200,"total":{long},"urls":{long},"items":{long},"Tasks":{long}}}"#),
        ] {
            if let Err(e) = parse_answer(answer, status, &body) {
                check_capped(&format!("{answer:?}"), &e.to_string());
            }
        }
    }

    #[test]
    fn durations_are_usable_and_messages_capped(
        timeout in prop::option::of(duration_text()),
        poll in prop::option::of(duration_text()),
    ) {
        let (result, _) = parser_checks::durations(timeout.as_deref(), poll.as_deref());
        match result {
            Ok((t, p)) => check_usable_durations(t, p, timeout.as_deref(), poll.as_deref()),
            Err(message) => check_capped("--timeout/--poll-interval", &message),
        }
    }
}

/// The inputs the ignored properties fail on, one each, as plain regression tests.
mod regressions {
    use super::*;

    fn megabyte() -> String {
        "x".repeat(MB)
    }

    #[test]
    fn a_megabyte_url_line_is_not_echoed_whole() {
        let line = format!("a.com/{}", megabyte());
        let reason = url_list::normalize(&line, &MAPPED_FILE).unwrap_err();
        check_capped("url_list::normalize", &reason);
        let lines = url_list::parse(&line, &MAPPED_FILE).unwrap_err();
        check_capped("url_list::parse", &lines[0].to_string());
    }

    #[test]
    fn a_megabyte_rule_is_not_echoed_whole() {
        let errors = RuleSet::parse(&megabyte(), &MapOptions::default()).unwrap_err();
        check_capped("RuleSet::parse", &errors[0].to_string());
    }

    #[test]
    fn a_megabyte_config_value_is_not_echoed_whole() {
        let e = Config::parse(&format!("task: {}", megabyte()), "c.yml").unwrap_err();
        check_capped("Config::parse", &e.to_string());
    }

    #[test]
    fn a_megabyte_provider_message_is_not_kept_whole() {
        let long = megabyte();
        let body = format!(r#"{{"Code":"InvalidParameter","Message":"{long}"}}"#);
        let e = parse_answer(Answer::AliyunRefresh, 400, &body).unwrap_err();
        check_capped("aliyun error", &e.to_string());
        let body = format!(r#"{{"refresh_task":["{long}"]}}"#);
        let e = parse_answer(Answer::HuaweiRefresh, 200, &body).unwrap_err();
        check_capped("huawei bad answer", &e.to_string());
    }

    #[test]
    fn a_timeout_past_the_clock_is_refused() {
        for text in ["18446744073709551615", "500000000000y"] {
            let (result, _) = parser_checks::durations(Some(text), None);
            if let Ok((timeout, poll)) = result {
                check_usable_durations(timeout, poll, Some(text), None);
            }
        }
    }

    #[test]
    #[ignore = "YAML aliases multiply what a config file costs: each alias of a rule is a rule, \
                and each is echoed in the error. A 66 KB file (`mapping: [&s \"<64 KB bad \
                rule>\", *s, *s, …]`, 300 aliases) takes 158 MB of heap and gives a 56 MB \
                message; serde-saphyr's budget (64 MiB of scalars, 50,000 aliases) is the only \
                bound, ~450 MB. Line caps alone do not fix it: the aliases need a limit."]
    fn config_aliases_do_not_multiply_memory_or_messages() {
        let anchors: String = (0..30).map(|i| format!(", &a{i} a")).collect();
        let rule = "x".repeat(64 << 10);
        let text = format!(
            "index_files: [index.html{anchors}]\nmapping: [&s \"{rule}\"{}]\n",
            ", *s".repeat(300)
        );
        let (message, heap) = peak_heap(|| Config::parse(&text, "c.yml").unwrap_err().to_string());
        let bound = 16 * text.len() + 8192;
        assert!(
            message.len() <= bound && heap <= 64 * text.len() + 8 * MB,
            "{} KB of config: {} MB of heap, a message of {} MB",
            text.len() >> 10,
            heap / MB,
            message.len() / MB
        );
    }

    /// The shortest globs that panic: 87,380 `*`, 131,070 `?`, 327,675 plain characters.
    fn long_globs() -> [String; 3] {
        ["*".repeat(87_380), "?".repeat(131_070), "x".repeat(327_675)]
    }

    #[test]
    fn a_long_glob_is_refused_not_a_panic() {
        for glob in long_globs() {
            let rules = std::panic::catch_unwind(|| {
                RuleSet::parse(&format!("{glob} => @all"), &MapOptions::default()).is_ok()
            });
            assert!(
                rules.is_ok(),
                "RuleSet::parse panics on a glob of {} bytes",
                glob.len()
            );
            let config = std::panic::catch_unwind(|| {
                Config::parse(&format!("whole_site: [{glob:?}]"), "c.yml").is_ok()
            });
            assert!(
                config.is_ok(),
                "Config::parse panics on a whole_site glob of {} bytes",
                glob.len()
            );
        }
    }

    #[test]
    fn a_regex_line_has_the_host_the_provider_sees() {
        let regex = Rules {
            max_len: 1024,
            object_type: ObjectType::Regex,
        };
        for line in [
            r"https://a.com\.(jpg|png)$",
            r"https://0.0.0.8\.c@",
            r"https://a.com\x",
        ] {
            match url_list::normalize(line, &regex) {
                Ok(url) => assert_eq!(
                    url_list::host(&url),
                    url::Url::parse(line).unwrap().host_str().unwrap(),
                    "{url}"
                ),
                Err(reason) => assert!(reason.contains('/'), "{reason}"),
            }
        }
    }

    #[test]
    fn a_poll_interval_past_the_clock_is_refused() {
        let (result, _) = parser_checks::durations(None, Some("18446744073709551615"));
        if let Ok((timeout, poll)) = result {
            check_usable_durations(timeout, poll, None, Some("18446744073709551615"));
        }
    }
}
