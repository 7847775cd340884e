//! What CloudFront is sent: which distribution a site's URLs go to, the path of each URL as
//! an invalidation path, and the `CallerReference` of a batch.
//!
//! Paths: CloudFront URL-encodes nothing itself and compares paths byte for byte, so a path
//! must be sent exactly as the cache key holds it: non-ASCII and RFC 1738-unsafe characters
//! percent-encoded, every other character as it is (over-encoding `*` as `%2A`
//! invalidates nothing, apancutt/deploy-aws-s3-cloudfront#7). `*` is a wildcard and only
//! the last character may be one; a directory `https://host/dir/` is `/dir/*`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Longest invalidation path CloudFront takes.
pub const MAX_PATH_CHARS: usize = 4_000;

/// Sites → distribution ids: one id for every site, ids per host, or both (the per-host
/// ones win).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distributions {
    pub default: Option<String>,
    pub by_host: BTreeMap<String, String>,
}

/// A distribution id as CloudFront makes them (`E2QWRUHAPOMQZL`): letters and digits only,
/// so that it can go into a path as it is.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Distributions {
    /// `E123`, `example.com=E123, static.example.com=E456`, or both, separated by commas,
    /// spaces or lines.
    pub fn parse(text: &str) -> Result<Distributions, String> {
        let mut out = Distributions::default();
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let shown = crate::echo::cap(item, 80);
            match item.split_once('=') {
                Some((host, id)) => {
                    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
                    if host.is_empty() || host.contains('/') {
                        return Err(format!("`{shown}`: `HOST=ID` needs a host name before `=`"));
                    }
                    if !valid_id(id) {
                        return Err(format!(
                            "`{shown}`: a distribution id is letters and digits (E2QWRUHAPOMQZL)"
                        ));
                    }
                    if out.by_host.insert(host.clone(), id.to_string()).is_some() {
                        return Err(format!("{host} is given two distributions"));
                    }
                }
                None if valid_id(item) => {
                    if out.default.replace(item.to_string()).is_some() {
                        return Err(
                            "two distribution ids for every site: give one, and HOST=ID for the others"
                                .into(),
                        );
                    }
                }
                None => {
                    return Err(format!(
                        "`{shown}` is not a distribution id (letters and digits, E2QWRUHAPOMQZL) nor HOST=ID"
                    ));
                }
            }
        }
        if out.default.is_none() && out.by_host.is_empty() {
            return Err("no distribution id given".into());
        }
        Ok(out)
    }

    /// The one host given for `distribution`, when exactly one is.
    pub fn only_host_of(&self, distribution: &str) -> Option<&str> {
        let mut hosts = self
            .by_host
            .iter()
            .filter(|(_, id)| *id == distribution)
            .map(|(h, _)| h.as_str());
        let first = hosts.next()?;
        hosts.next().is_none().then_some(first)
    }

    /// The distribution of `host` (lower case, as URLs are normalised).
    pub fn of(&self, host: &str) -> Option<&str> {
        self.by_host
            .get(host.trim_end_matches('.'))
            .or(self.default.as_ref())
            .map(String::as_str)
    }
}

/// Bytes sent percent-encoded: RFC 1738 "unsafe" characters, controls and space. `%`
/// stays when it starts an escape already there; non-ASCII bytes are always encoded.
fn unsafe_byte(b: u8) -> bool {
    b.is_ascii_control()
        || matches!(
            b,
            b' ' | b'"' | b'<' | b'>' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'~' | b'[' | b']' | b'`'
        )
}

/// `path` (with its `?query`) as CloudFront must get it.
pub fn encode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape_here = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if b >= 0x80 || unsafe_byte(b) || (b == b'%' && !escape_here) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// The host (lower case) and the part from the path on (`/` when empty, no fragment) of a
/// URL `scheme://host[:port]/path?query`.
pub fn split(url: &str) -> Option<(String, &str)> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let tail = &tail[..tail.find('#').unwrap_or(tail.len())];
    (!host.is_empty()).then_some((host, tail))
}

/// The invalidation path of `url`: its path and query, encoded; a directory gets `*`.
/// `Err` says why the URL cannot be one.
pub fn invalidation_path(url: &str, directory: bool) -> Result<String, String> {
    let (_, tail) = split(url).ok_or_else(|| format!("{url} is not a URL with a host"))?;
    let mut path = encode(if tail.is_empty() { "/" } else { tail });
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if directory {
        if path.contains('?') {
            return Err(format!("{url}: a directory has no query"));
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push('*');
    }
    if path.trim_end_matches('*').contains('*') || path.ends_with("**") {
        return Err(format!(
            "{url}: `*` is CloudFront's wildcard and may only be the last character of a path"
        ));
    }
    if path.chars().count() > MAX_PATH_CHARS {
        return Err(format!(
            "{url}: longer than the {MAX_PATH_CHARS} characters of a CloudFront path"
        ));
    }
    Ok(path)
}

/// The `CallerReference` of a batch: the same run, distribution and paths give the same
/// reference, so a submit sent again (its answer lost, or a retry) returns the invalidation
/// the first one created instead of a second; another run (another commit or CI run) gives
/// another, so a deploy of the same paths is never taken for an earlier one. A timestamp
/// would collide within a second and a random one would not survive a retry.
pub fn caller_reference(run: &str, distribution: &str, paths: &[String]) -> String {
    let mut sorted: Vec<&str> = paths.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    for part in [run, distribution].into_iter().chain(sorted) {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    format!("cdn-refresh-{}", &hex::encode(h.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_ids_parse() {
        let d = Distributions::parse("E1AAA").unwrap();
        assert_eq!(d.of("any.example.com"), Some("E1AAA"));
        let d = Distributions::parse("E1, static.example.com=E2\nwww.Example.com.=E3").unwrap();
        assert_eq!(d.of("static.example.com"), Some("E2"));
        assert_eq!(d.of("www.example.com"), Some("E3"));
        assert_eq!(d.of("example.com"), Some("E1"));
        let only = Distributions::parse("a.com=E2").unwrap();
        assert_eq!(only.of("b.com"), None);
        assert_eq!(only.only_host_of("E2"), Some("a.com"));
        assert_eq!(d.only_host_of("E1"), None);
        for bad in ["", "E1 E2", "a.com=E1,a.com=E2", "=E1", "a.com=", "E-1", "x/y=E1"] {
            assert!(Distributions::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_are_encoded_as_cloudfront_compares_them() {
        let p = |u: &str, d| invalidation_path(u, d);
        assert_eq!(p("https://a.com", false).unwrap(), "/");
        assert_eq!(p("https://a.com:8443/x/y.html?v=1#top", false).unwrap(), "/x/y.html?v=1");
        assert_eq!(
            p("https://a.com/caf\u{e9} 1.js", false).unwrap(),
            "/caf%C3%A9%201.js"
        );
        assert_eq!(p("https://a.com/a%20b/~u/{x}", false).unwrap(), "/a%20b/%7Eu/%7Bx%7D");
        assert_eq!(p("https://a.com/100%", false).unwrap(), "/100%25");
        assert_eq!(p("https://a.com/docs/", true).unwrap(), "/docs/*");
        assert_eq!(p("https://a.com/docs", true).unwrap(), "/docs/*");
        assert_eq!(p("https://a.com/img/*", false).unwrap(), "/img/*");
        assert!(p("https://a.com/a*b", false).is_err());
        assert!(p("https://a.com/a/*", true).is_err());
        assert!(p(&format!("https://a.com/{}", "x".repeat(4000)), false).is_err());
        assert!(p("no-scheme", false).is_err());
    }

    #[test]
    fn caller_references_are_stable_per_run_and_contents() {
        let paths = vec!["/b".to_string(), "/a".to_string()];
        let swapped = vec!["/a".to_string(), "/b".to_string()];
        let r = caller_reference("run1", "E1", &paths);
        assert_eq!(r, caller_reference("run1", "E1", &swapped));
        assert_ne!(r, caller_reference("run2", "E1", &paths));
        assert_ne!(r, caller_reference("run1", "E2", &paths));
        assert_ne!(r, caller_reference("run1", "E1", &paths[..1]));
        assert!(r.len() <= 128);
    }
}
