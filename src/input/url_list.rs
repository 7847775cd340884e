//! URL lists: one URL per line, from `--urls-file` (a file or `-` for stdin) or the multiline
//! `--urls` input.
//!
//! A CDN purges exactly the cache key it is given, and it reports success even when that key was
//! never cached. A URL that differs from what browsers request by one byte (an unencoded space, an
//! upper-case host, `%C3%A9` written as `é`) is therefore a refresh that silently does nothing. So
//! every line is rewritten into the form a browser puts on the wire, and every line that cannot be
//! made into such a URL is an error that names the fix; all bad lines are reported at once, so a
//! long list is fixed in one pass, and nothing is sent while any line is bad.
//!
//! # Lines
//!
//! Lines are trimmed (which also drops the `\r` of CRLF files); blank lines and lines starting with
//! `#` are skipped; a leading UTF-8 byte order mark is ignored. Duplicates are removed *after*
//! normalization (so `http://A.com/x` and `http://a.com/x` are one URL) and counted.
//!
//! # Normalization, and why
//!
//! The CDN receives a URL exactly as we send it, but it caches objects under the request targets
//! clients actually sent, and clients (browsers, `curl`, HTTP libraries) send the WHATWG-resolved
//! form. We therefore normalize with the `url` crate, which implements that standard, and accept
//! its decisions wholesale rather than re-implementing parts of it:
//!
//! - spaces, non-ASCII and other characters not allowed in a path or query are percent-encoded as
//!   UTF-8 (`a b` → `a%20b`, `é` → `%C3%A9`; `'` in a query → `%27`, as browsers do);
//! - existing `%XX` escapes are kept as written (never double-encoded, hex case untouched);
//! - the host is lower-cased and international names become punycode (`bücher.example` →
//!   `xn--bcher-kva.example`); the default port (`:80`/`:443`) is dropped;
//! - dot segments are resolved (`/a/../b` → `/b`, `/./a` → `/a`, `%2e%2e` counts as `..`): a
//!   browser never sends `/a/../b`, so nothing is cached under that key, and purging it would do
//!   nothing;
//! - an empty path becomes `/` (`https://a.com` → `https://a.com/`), which is the request target
//!   of that URL; for a directory refresh this means the site root;
//! - backslashes become `/` in the path, as browsers do for http(s).
//!
//! Nothing else is case-folded: paths and queries are case-sensitive cache keys.
//!
//! One decision is ours: a `%` that does not start a valid escape (`100%.html`, `%zz`) is a
//! literal percent sign and is encoded as `%25` (`%zz` → `%25zz`), as Python's `requests` does.
//! `url` would keep it raw, which gives a malformed URL that some CDNs reject and that no correctly
//! encoded link ever requests.
//!
//! Rejected, with the fix in the reason: a missing or non-http(s) scheme, an empty host, user
//! credentials (the line is echoed with them masked, so they stay out of CI logs), a fragment
//! (`#` must be written `%23`), control characters, a directory whose path does not end with
//! `/`, and a normalized URL longer than the provider allows.
//!
//! `Regex` lines are `scheme://host/<regex>`: the scheme and host are validated and normalized,
//! and the rest is kept exactly as given, since percent-encoding or dot-segment resolution would
//! change what the regex matches.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::io::BufRead;

use url::{Position, Url};

use crate::providers::{Limits, ObjectType};

/// What a valid line must satisfy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Longest normalized URL the provider accepts, in bytes (normalized URLs are ASCII, except
    /// for the regex part of a `Regex` line).
    pub max_len: usize,
    pub object_type: ObjectType,
}

impl Rules {
    /// The rules of a provider, for lines of this object type.
    pub fn new(limits: &Limits, object_type: ObjectType) -> Self {
        Rules {
            max_len: limits.max_url_len,
            object_type,
        }
    }
}

/// The longest line of a URL list that is read whole. Providers take URLs of at most 4,096
/// characters; a longer line is cut as it is read (so a 1 GB line costs no more memory than
/// this) and rejected.
pub const MAX_LINE: usize = 16 * 1024;

/// Reads a URL list, cutting every line longer than [`MAX_LINE`] bytes (what is kept is still
/// longer than that, so [`parse`] rejects it). Invalid UTF-8 is an error, as it would be for
/// a whole read.
pub fn read_capped(mut reader: impl BufRead) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut cut = false;
        // Read one line in pieces, keeping at most MAX_LINE + 8 bytes of it.
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (piece, found) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let room = (MAX_LINE + 8).saturating_sub(line.len());
            if piece.len() > room {
                line.extend_from_slice(&piece[..room]);
                cut = true;
            } else if !cut {
                line.extend_from_slice(piece);
            }
            let n = piece.len();
            reader.consume(n);
            if found {
                break;
            }
        }
        if line.is_empty() {
            break;
        }
        if cut {
            // Back to a character boundary when the cut split one; an invalid byte before it
            // stays, so the whole read fails as it would have.
            if let Err(e) = std::str::from_utf8(&line)
                && e.error_len().is_none()
            {
                line.truncate(e.valid_up_to());
            }
            line.push(b'\n');
        }
        out.extend_from_slice(&line);
    }
    String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A valid list: normalized URLs in first-seen order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedList {
    pub urls: Vec<String>,
    /// Lines dropped because they normalize to a URL seen earlier.
    pub duplicates: usize,
}

/// A line that cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// 1-based line number.
    pub line: usize,
    /// The trimmed line, with any credentials masked.
    pub text: String,
    /// What is wrong and how to fix it, as a sentence.
    pub reason: String,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::echo::{SERVER, VALUE, cap};
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            cap(&self.text, VALUE),
            cap(&self.reason, SERVER)
        )
    }
}

/// Parses a URL list. Returns every invalid line, not just the first.
pub fn parse(text: &str, rules: &Rules) -> Result<ParsedList, Vec<InvalidLine>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut list = ParsedList::default();
    let mut invalid = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.len() > MAX_LINE {
            invalid.push(InvalidLine {
                line: index + 1,
                text: crate::echo::cap(&mask_credentials(line), crate::echo::VALUE).into_owned(),
                reason: format!(
                    "The line is longer than {MAX_LINE} bytes, and the provider takes URLs of at \
                     most {} characters; is this a URL list?",
                    rules.max_len
                ),
            });
            continue;
        }
        match normalize(line, rules) {
            Ok(url) => list.urls.push(url),
            Err(reason) => invalid.push(InvalidLine {
                line: index + 1,
                text: crate::echo::cap(&mask_credentials(line), crate::echo::VALUE).into_owned(),
                reason,
            }),
        }
    }
    if invalid.is_empty() {
        // Duplicates go after the fact, through a set that borrows the URLs: a list of a
        // million URLs is not held twice.
        let mut seen: HashSet<&str> = HashSet::with_capacity(list.urls.len());
        let first: Vec<bool> = list.urls.iter().map(|u| seen.insert(u.as_str())).collect();
        drop(seen);
        let before = list.urls.len();
        let mut first = first.into_iter();
        list.urls.retain(|_| first.next().unwrap_or(true));
        list.duplicates = before - list.urls.len();
        list.urls.shrink_to_fit();
        Ok(list)
    } else {
        Err(invalid)
    }
}

/// Validates and normalizes one URL (already trimmed); the error is the reason, as a sentence.
pub fn normalize(line: &str, rules: &Rules) -> Result<String, String> {
    let (scheme, rest) = split_scheme(line)?;
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.is_empty() {
        return Err(format!(
            "The host name is missing; write it after `{scheme}://`, as in `{scheme}://example.com/path`."
        ));
    }
    if authority.contains('@') {
        return Err(
            "The URL contains user credentials (`user@` or `user:password@` before the host); \
             remove them: CDN cache keys never include them."
                .to_string(),
        );
    }
    if line.contains('#') {
        return Err(
            "The URL contains `#`, which starts a fragment that is never sent to the CDN; \
             if `#` is part of the path or query, percent-encode it as `%23`."
                .to_string(),
        );
    }
    if let Some(c) = line.chars().find(|c| c.is_control()) {
        return Err(format!(
            "The line contains the control character U+{:04X}; remove it, or percent-encode it \
             if it really is part of the URL.",
            u32::from(c)
        ));
    }

    let url = if rules.object_type == ObjectType::Regex {
        // Only the origin goes through the parser: the regex is kept exactly as given.
        let origin = parse_url(&format!("{scheme}://{authority}/"))?;
        format!(
            "{}{}",
            &origin[..Position::BeforePath],
            &rest[authority_end..]
        )
    } else {
        let url = parse_url(&escape_stray_percent(line))?;
        if rules.object_type == ObjectType::Directory && !url.path().ends_with('/') {
            let mut fixed = url.clone();
            fixed.set_path(&format!("{}/", url.path()));
            return Err(format!(
                "A directory must end with `/`; write `{}`.",
                crate::echo::cap(fixed.as_str(), crate::echo::VALUE)
            ));
        }
        String::from(url)
    };

    if url.len() > rules.max_len {
        return Err(format!(
            "The URL is {} characters long after normalization, over the provider's limit of {}; \
             shorten it, or refresh a directory that contains it.",
            url.len(),
            rules.max_len
        ));
    }
    Ok(url)
}

/// The host of a normalized URL, without the port: providers count domains by name.
pub fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest
        .bytes()
        // As `normalize` (and WHATWG) end the authority: `\\` counts as `/` in http(s).
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.starts_with('[') {
        // IPv6 literal: the port, if any, follows the `]`.
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority
            .split_once(':')
            .map_or(authority, |(host, _)| host)
    }
}

/// Splits `https://rest` into `("https", "rest")` (scheme lower-cased), or says what is wrong.
fn split_scheme(line: &str) -> Result<(&'static str, &str), String> {
    for scheme in ["https", "http"] {
        let Some(after) = line
            .get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .map(|_| &line[scheme.len()..])
        else {
            continue;
        };
        if let Some(rest) = after.strip_prefix("://") {
            return Ok((scheme, rest));
        }
        if after.starts_with(':') {
            return Err(format!(
                "`{scheme}:` must be followed by `//` and the host name, as in `{scheme}://example.com/path`."
            ));
        }
    }
    // Another scheme is letters, digits, `+`, `-` or `.` up to `://`.
    if let Some((scheme, _)) = line.split_once("://") {
        let is_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            return Err(format!(
                "The scheme `{}` is not supported: a CDN refreshes only `http://` and `https://` URLs.",
                crate::echo::cap(scheme, crate::echo::VALUE)
            ));
        }
    }
    let shown = crate::echo::cap(line, crate::echo::VALUE);
    let example = if line.starts_with("//") {
        format!("https:{shown}")
    } else {
        format!("https://{shown}")
    };
    Err(format!(
        "The scheme is missing; add `https://` (or `http://`) in front, as in `{example}`."
    ))
}

fn parse_url(text: &str) -> Result<Url, String> {
    Url::parse(text).map_err(|err| {
        format!(
            "The host name or port is not valid ({err}); write a host such as `example.com` or `example.com:8080`."
        )
    })
}

/// Encodes as `%25` every `%` that does not start a `%XX` escape: it can only be a literal `%`.
fn escape_stray_percent(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let is_escape = |i: usize| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    if !bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && !is_escape(i))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        if c == '%' && !is_escape(i) {
            out.push_str("%25");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The line with the user information of its authority (if any) replaced by `***`.
fn mask_credentials(line: &str) -> String {
    let Some((scheme, rest)) = line.split_once("://") else {
        return line.to_string();
    };
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_is_cut_as_it_is_read_and_rejected_with_a_short_echo() {
        let long = format!("https://a.com/{}\nhttps://a.com/ok\n", "é".repeat(300_000));
        let text = read_capped(std::io::Cursor::new(long.as_bytes())).unwrap();
        assert!(text.len() < MAX_LINE + 64, "kept {} bytes", text.len());
        let rules = Rules {
            max_len: 1024,
            object_type: ObjectType::File,
        };
        let bad = parse(&text, &rules).unwrap_err();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 1);
        assert!(
            bad[0].text.len() < crate::echo::VALUE + 40,
            "{}",
            bad[0].text
        );
        assert!(bad[0].reason.contains("longer than"), "{}", bad[0].reason);
        // Short lines pass through unchanged.
        let plain = "https://a.com/x\r\n# c\nhttps://a.com/y";
        assert_eq!(
            read_capped(std::io::Cursor::new(plain.as_bytes())).unwrap(),
            plain
        );
        assert!(read_capped(std::io::Cursor::new(&b"\xff\n"[..])).is_err());
    }

    fn rules(object_type: ObjectType) -> Rules {
        Rules {
            max_len: 1024,
            object_type,
        }
    }

    fn file(line: &str) -> Result<String, String> {
        normalize(line, &rules(ObjectType::File))
    }

    fn ok(line: &str) -> String {
        file(line).unwrap_or_else(|reason| panic!("{line}: {reason}"))
    }

    fn reason(line: &str, object_type: ObjectType) -> String {
        normalize(line, &rules(object_type)).expect_err(line)
    }

    #[test]
    fn space_and_non_ascii_are_percent_encoded() {
        assert_eq!(
            ok("https://a.com/my file.txt"),
            "https://a.com/my%20file.txt"
        );
        assert_eq!(
            ok("https://a.com/café.html"),
            "https://a.com/caf%C3%A9.html"
        );
        assert_eq!(ok("https://a.com/a\"b<c>"), "https://a.com/a%22b%3Cc%3E");
    }

    #[test]
    fn existing_escapes_are_kept() {
        assert_eq!(
            ok("https://a.com/my%20file.txt"),
            "https://a.com/my%20file.txt"
        );
        assert_eq!(ok("https://a.com/caf%c3%a9"), "https://a.com/caf%c3%a9");
        assert_eq!(ok("https://a.com/a%2Fb"), "https://a.com/a%2Fb");
    }

    #[test]
    fn a_percent_that_is_not_an_escape_is_a_literal_percent() {
        assert_eq!(ok("https://a.com/%zz"), "https://a.com/%25zz");
        assert_eq!(ok("https://a.com/100%.html"), "https://a.com/100%25.html");
        assert_eq!(ok("https://a.com/a%2"), "https://a.com/a%252");
        assert_eq!(ok("https://a.com/?q=50%"), "https://a.com/?q=50%25");
        assert_eq!(ok("https://a.com/%41%zz"), "https://a.com/%41%25zz");
    }

    #[test]
    fn query_is_kept_and_encoded_like_a_browser() {
        assert_eq!(
            ok("https://a.com/s?q=a b&x=1"),
            "https://a.com/s?q=a%20b&x=1"
        );
        assert_eq!(
            ok("https://a.com/s?Q=Été"),
            "https://a.com/s?Q=%C3%89t%C3%A9"
        );
        assert_eq!(ok("https://a.com?x=1"), "https://a.com/?x=1");
    }

    #[test]
    fn host_is_lowercased_and_idn_becomes_punycode_but_path_case_is_kept() {
        assert_eq!(
            ok("HTTPS://WWW.A.com/Path/File.JPG"),
            "https://www.a.com/Path/File.JPG"
        );
        assert_eq!(
            ok("https://Bücher.example/ä"),
            "https://xn--bcher-kva.example/%C3%A4"
        );
    }

    #[test]
    fn browser_resolution_of_dots_empty_path_and_default_port() {
        assert_eq!(ok("https://a.com/a/../b/./c"), "https://a.com/b/c");
        assert_eq!(ok("https://a.com/a/%2e%2e/b"), "https://a.com/b");
        assert_eq!(ok("https://a.com"), "https://a.com/");
        assert_eq!(ok("https://a.com:443/x"), "https://a.com/x");
        assert_eq!(ok("http://a.com:8080/x"), "http://a.com:8080/x");
    }

    #[test]
    fn directories_must_end_with_a_slash() {
        let dir = rules(ObjectType::Directory);
        assert_eq!(
            normalize("https://a.com/img/", &dir).unwrap(),
            "https://a.com/img/"
        );
        assert_eq!(normalize("https://a.com", &dir).unwrap(), "https://a.com/");
        let why = reason("https://a.com/img", ObjectType::Directory);
        assert!(
            why.contains("end with `/`") && why.contains("`https://a.com/img/`"),
            "{why}"
        );
        // Files need no slash.
        assert_eq!(ok("https://a.com/img"), "https://a.com/img");
    }

    #[test]
    fn length_limit_applies_to_the_normalized_url() {
        let short = Rules {
            max_len: 24,
            object_type: ObjectType::File,
        };
        // 24 characters exactly.
        assert_eq!(
            normalize("https://a.com/0123456789", &short).unwrap().len(),
            24
        );
        let why = normalize("https://a.com/01234567890", &short).unwrap_err();
        assert!(why.contains("25 characters") && why.contains("24"), "{why}");
        // 22 characters as typed, 26 once the space is encoded.
        assert!(normalize("https://a.com/a b c d", &short).is_err());
        let max = "x".repeat(1024 - "https://a.com/".len());
        assert!(file(&format!("https://a.com/{max}")).is_ok());
        assert!(file(&format!("https://a.com/{max}y")).is_err());
    }

    #[test]
    fn fragment_is_rejected_with_the_encoding_fix() {
        let why = reason("https://a.com/page#top", ObjectType::File);
        assert!(why.contains("%23"), "{why}");
        assert_eq!(ok("https://a.com/c%23.html"), "https://a.com/c%23.html");
    }

    #[test]
    fn missing_or_wrong_scheme() {
        let why = reason("example.com/a", ObjectType::File);
        assert!(
            why.contains("add `https://`") && why.contains("`https://example.com/a`"),
            "{why}"
        );
        let why = reason("//example.com/a", ObjectType::File);
        assert!(why.contains("`https://example.com/a`"), "{why}");
        let why = reason("ftp://example.com/a", ObjectType::File);
        assert!(why.contains("`ftp`") && why.contains("https://"), "{why}");
        let why = reason("https:/example.com/a", ObjectType::File);
        assert!(why.contains("followed by `//`"), "{why}");
    }

    #[test]
    fn empty_or_invalid_host() {
        for line in ["https://", "https:///a", "http://?x", "https://:8080/a"] {
            let why = reason(line, ObjectType::File);
            assert!(why.contains("host"), "{line}: {why}");
        }
        let why = reason("https://a.com:99999/", ObjectType::File);
        assert!(why.contains("port"), "{why}");
    }

    #[test]
    fn credentials_are_rejected_and_masked() {
        let err = parse("https://u:secret@a.com/x\n", &rules(ObjectType::File)).unwrap_err();
        assert!(err[0].reason.contains("credentials"), "{}", err[0].reason);
        assert_eq!(err[0].text, "https://***@a.com/x");
        assert!(!err[0].to_string().contains("secret"));
    }

    #[test]
    fn control_characters_are_rejected() {
        let why = reason("https://a.com/a\tb", ObjectType::File);
        assert!(why.contains("U+0009"), "{why}");
    }

    #[test]
    fn regex_keeps_its_pattern_and_normalizes_the_origin() {
        let regex = rules(ObjectType::Regex);
        assert_eq!(
            normalize(r"HTTPS://A.com/img/.*\.(jpg|png)$", &regex).unwrap(),
            r"https://a.com/img/.*\.(jpg|png)$"
        );
        assert_eq!(
            normalize("https://a.com:443/a/../[a-z]+ %", &regex).unwrap(),
            "https://a.com/a/../[a-z]+ %"
        );
        assert!(normalize("a.com/.*", &regex).is_err());
        assert!(normalize("https:///.*", &regex).is_err());
    }

    #[test]
    fn comments_blank_lines_crlf_and_bom() {
        let text = "\u{feff}# deploy 42\r\n\r\n  https://a.com/1  \r\n   # indented comment\r\nhttps://a.com/2\r\n";
        let list = parse(text, &rules(ObjectType::File)).unwrap();
        assert_eq!(list.urls, ["https://a.com/1", "https://a.com/2"]);
        assert_eq!(list.duplicates, 0);
    }

    #[test]
    fn duplicates_are_removed_after_normalization() {
        let text =
            "http://A.com/x\nhttp://a.com/x\nhttp://b.com/y\nhttp://a.com:80/x\nhttp://b.com/y";
        let list = parse(text, &rules(ObjectType::File)).unwrap();
        assert_eq!(list.urls, ["http://a.com/x", "http://b.com/y"]);
        assert_eq!(list.duplicates, 3);
    }

    #[test]
    fn every_invalid_line_is_reported_with_its_number() {
        let text = "https://a.com/ok\nexample.com/a\n# fine\nftp://a.com/x\nhttps://a.com/p#f\n";
        let err = parse(text, &rules(ObjectType::File)).unwrap_err();
        let lines: Vec<_> = err.iter().map(|e| (e.line, e.text.as_str())).collect();
        assert_eq!(
            lines,
            [
                (2, "example.com/a"),
                (4, "ftp://a.com/x"),
                (5, "https://a.com/p#f")
            ]
        );
        assert!(
            err[0]
                .to_string()
                .starts_with("line 2: example.com/a: The scheme is missing")
        );
    }

    #[test]
    fn empty_input_is_an_empty_list() {
        assert_eq!(
            parse("", &rules(ObjectType::File)).unwrap(),
            ParsedList::default()
        );
        assert_eq!(
            parse("# only\n\n", &rules(ObjectType::File)).unwrap(),
            ParsedList::default()
        );
    }

    #[test]
    fn host_of_normalized_urls() {
        assert_eq!(host("https://a.com/x"), "a.com");
        assert_eq!(host("https://a.com:8080/x"), "a.com");
        assert_eq!(host("https://a.com/?q=1"), "a.com");
        assert_eq!(host("http://[::1]:8080/x"), "[::1]");
        assert_eq!(
            host("https://xn--bcher-kva.example/"),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn rules_from_provider_limits() {
        let limits = crate::providers::aliyun::LIMITS;
        assert_eq!(
            Rules::new(&limits, ObjectType::Directory),
            rules(ObjectType::Directory)
        );
    }
}
