//! Qiniu request signing as pure functions: nothing is read from the clock or the
//! environment (the `X-Qiniu-Date` header, when wanted, is passed in like any other header),
//! so every stage can be checked against the official vectors
//! (`tests/fixtures/signing/qiniu/`). The emulator verifies with these same functions.
//!
//! Two schemes, both `urlsafe_base64(HMAC-SHA1(SK, data))` with the URL-safe alphabet (`-_`)
//! and the `=` padding kept:
//!
//! * **QBox** (`Authorization: QBox AK:sign`, what the fusion CDN API documents): `data` is
//!   `<path>[?<query>]\n`, plus the raw body only when the content type is
//!   `application/x-www-form-urlencoded`. Fusion bodies are JSON, so the token of a path is
//!   the same for every request to it.
//! * **Qiniu** (`Authorization: Qiniu AK:sign`, the newer token): `data` is
//!   `<METHOD> <path>[?<query>]\nHost: <host>\n[Content-Type: <ct>\n][X-Qiniu-*: v\n…]\n`
//!   plus the body when there is a content type other than `application/octet-stream` and
//!   the body is not empty. Only `X-Qiniu-<Name>` headers with a non-empty `<Name>` are
//!   signed, names canonicalised like Go's `CanonicalMIMEHeaderKey`, sorted by name.
//!
//! Sources: the official Python SDK (`qiniu/auth.py`: `Auth.token_of_request`,
//! `QiniuMacAuth.token_of_request`, `qiniu_headers`) and Go SDK (`auth/credentials.go`).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The only content type whose body the QBox token signs.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The content type whose body the Qiniu token never signs.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// Prefix of the headers the Qiniu token signs (canonical spelling).
pub const QINIU_HEADER_PREFIX: &str = "X-Qiniu-";
/// The header the official SDKs add to Qiniu-token requests: UTC, `YYYYMMDDTHHMMSSZ`.
pub const QINIU_DATE_HEADER: &str = "X-Qiniu-Date";
/// `chrono` format of [`QINIU_DATE_HEADER`].
pub const QINIU_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// HMAC-SHA1 of `data` under `secret_key` (the raw 20 bytes).
pub fn hmac_sha1(secret_key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// URL-safe base64 (`-` and `_`), `=` padding kept, as every Qiniu token uses.
pub fn urlsafe_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(data)
}

/// `urlsafe_base64(HMAC-SHA1(secret_key, data))`: the `sign` part of a token.
pub fn sign(secret_key: &[u8], data: &[u8]) -> String {
    urlsafe_base64(&hmac_sha1(secret_key, data))
}

/// `AK:sign` over `data`: the SDKs' `Auth.token(data)`.
pub fn token(access_key: &str, secret_key: &[u8], data: &[u8]) -> String {
    format!("{access_key}:{}", sign(secret_key, data))
}

/// The part of a URL that the tokens sign: everything after the authority, fragment
/// dropped, exactly as written (no normalisation). `https://h/a/b?x=1#f` → `/a/b?x=1`;
/// `https://h?go=1` → `?go=1` (the SDKs sign an empty path as empty). A string without
/// `scheme://` is taken as already being a path.
pub fn path_and_query(url: &str) -> &str {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find(['/', '?']).map_or("", |j| &rest[j..])
        }
        None => url,
    }
}

/// What the QBox token signs: `<path>[?<query>]\n`, then the body when the content type is
/// exactly `application/x-www-form-urlencoded` (never for the fusion API's JSON bodies). The
/// comparison is exact, as both SDKs and the Go server make it: with `; charset=…` appended
/// the body is not signed.
pub fn qbox_signing_data(path_and_query: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(path_and_query.len() + 1 + body.len());
    data.extend_from_slice(path_and_query.as_bytes());
    data.push(b'\n');
    if content_type == Some(FORM_CONTENT_TYPE) {
        data.extend_from_slice(body);
    }
    data
}

/// The QBox token `AK:sign`; the header is `Authorization: QBox <token>`.
pub fn qbox_token(
    access_key: &str,
    secret_key: &[u8],
    path_and_query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> String {
    token(
        access_key,
        secret_key,
        &qbox_signing_data(path_and_query, content_type, body),
    )
}

/// A request as the Qiniu token sees it.
#[derive(Clone, Copy, Debug)]
pub struct QiniuRequest<'a> {
    /// `GET`, `POST`… as sent.
    pub method: &'a str,
    /// See [`path_and_query`].
    pub path_and_query: &'a str,
    /// The `Host` header (with the port when the request carries one).
    pub host: &'a str,
    /// The `Content-Type` header; `None` leaves its line out.
    pub content_type: Option<&'a str>,
    /// Request headers, any names and order; only `X-Qiniu-*` ones are signed (see
    /// [`qiniu_signed_headers`]).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-qiniu-date` → `X-Qiniu-Date`. A name with a
/// character that is not an HTTP token character is returned unchanged.
pub fn canonical_header_name(name: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The headers the Qiniu token signs: canonical names starting with `X-Qiniu-` followed by
/// at least one character, sorted by name. A name given more than once keeps its first
/// value, as Go's `Header.Get` does on the server.
pub fn qiniu_signed_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut signed: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = canonical_header_name(name);
        if name.len() <= QINIU_HEADER_PREFIX.len() || !name.starts_with(QINIU_HEADER_PREFIX) {
            continue;
        }
        if signed.iter().all(|(n, _)| *n != name) {
            signed.push((name, value.clone()));
        }
    }
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    signed
}

/// What the Qiniu token signs:
///
/// ```text
/// <METHOD> <path>[?<query>]\n
/// Host: <host>\n
/// Content-Type: <ct>\n          (only with a content type)
/// X-Qiniu-<Name>: <value>\n     (each signed header, sorted)
/// \n
/// <body>                        (only with a content type other than application/octet-stream,
///                                compared exactly as the Python SDK does)
/// ```
pub fn qiniu_signing_data(req: &QiniuRequest<'_>) -> Vec<u8> {
    let mut text = format!("{} {}\nHost: {}", req.method, req.path_and_query, req.host);
    if let Some(ct) = req.content_type.filter(|ct| !ct.is_empty()) {
        text.push_str("\nContent-Type: ");
        text.push_str(ct);
    }
    for (name, value) in qiniu_signed_headers(req.headers) {
        text.push('\n');
        text.push_str(&name);
        text.push_str(": ");
        text.push_str(&value);
    }
    text.push_str("\n\n");
    let mut data = text.into_bytes();
    let signs_body = req
        .content_type
        .is_some_and(|ct| !ct.is_empty() && ct != OCTET_STREAM);
    if signs_body {
        data.extend_from_slice(req.body);
    }
    data
}

/// The Qiniu token `AK:sign`; the header is `Authorization: Qiniu <token>`.
pub fn qiniu_token(access_key: &str, secret_key: &[u8], req: &QiniuRequest<'_>) -> String {
    token(access_key, secret_key, &qiniu_signing_data(req))
}

/// Which token an `Authorization` header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `QBox AK:sign`, see [`qbox_token`].
    QBox,
    /// `Qiniu AK:sign`, see [`qiniu_token`].
    Qiniu,
}

impl Scheme {
    /// The header's prefix word.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::QBox => "QBox",
            Scheme::Qiniu => "Qiniu",
        }
    }
}

/// A parsed `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub scheme: Scheme,
    pub access_key: &'a str,
    pub sign: &'a str,
}

/// `QBox AK:sign` or `Qiniu AK:sign` (one space, scheme word case-sensitive as the servers
/// compare it). `None` for anything else, including an empty key or sign.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let (word, token) = header.split_once(' ')?;
    let scheme = match word {
        "QBox" => Scheme::QBox,
        "Qiniu" => Scheme::Qiniu,
        _ => return None,
    };
    let (access_key, sign) = token.trim().rsplit_once(':')?;
    if access_key.is_empty() || sign.is_empty() || access_key.contains(char::is_whitespace) {
        return None;
    }
    Some(Authorization {
        scheme,
        access_key,
        sign,
    })
}

/// The full header value: `QBox <token>` or `Qiniu <token>`.
pub fn authorization(scheme: Scheme, token: &str) -> String {
    format!("{} {token}", scheme.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_is_everything_after_the_authority() {
        assert_eq!(path_and_query("https://www.qiniu.com?go=1"), "?go=1");
        assert_eq!(path_and_query("http://h:8080/a/b?x=1&y#frag"), "/a/b?x=1&y");
        assert_eq!(path_and_query("http://h"), "");
        assert_eq!(path_and_query("/v2/tune/refresh"), "/v2/tune/refresh");
    }

    #[test]
    fn header_names_are_canonicalised_like_go() {
        assert_eq!(canonical_header_name("x-qiniu-date"), "X-Qiniu-Date");
        assert_eq!(canonical_header_name("X-QINIU-AAA"), "X-Qiniu-Aaa");
        assert_eq!(canonical_header_name("bad name"), "bad name");
        let headers = vec![
            ("x-qiniu-b".to_string(), "1".to_string()),
            ("X-Qiniu-".to_string(), "dropped".to_string()),
            ("X-Qiniu".to_string(), "dropped".to_string()),
            ("X-QINIU-A".to_string(), "2".to_string()),
            ("x-qiniu-a".to_string(), "second value ignored".to_string()),
            ("content-type".to_string(), "x".to_string()),
        ];
        assert_eq!(
            qiniu_signed_headers(&headers),
            vec![
                ("X-Qiniu-A".to_string(), "2".to_string()),
                ("X-Qiniu-B".to_string(), "1".to_string())
            ]
        );
    }

    #[test]
    fn qbox_signs_the_body_of_forms_only() {
        assert_eq!(qbox_signing_data("/p", None, b"x"), b"/p\n");
        assert_eq!(
            qbox_signing_data("/p", Some("application/json"), b"x"),
            b"/p\n"
        );
        assert_eq!(
            qbox_signing_data("/p", Some("application/x-www-form-urlencoded"), b"x"),
            b"/p\nx"
        );
    }

    #[test]
    fn authorization_headers_parse() {
        let a = parse_authorization("QBox ak:c2ln=").unwrap();
        assert_eq!(
            (a.scheme, a.access_key, a.sign),
            (Scheme::QBox, "ak", "c2ln=")
        );
        let a = parse_authorization("Qiniu ak:s").unwrap();
        assert_eq!(a.scheme, Scheme::Qiniu);
        assert_eq!(authorization(Scheme::Qiniu, "ak:s"), "Qiniu ak:s");
        for bad in [
            "",
            "QBox",
            "QBox ak",
            "QBox :s",
            "QBox ak:",
            "Bearer ak:s",
            "qbox ak:s",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }
}
