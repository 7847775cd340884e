//! AWS Signature Version 4 (header signing) as pure functions: the time is the `X-Amz-Date`
//! header passed in like any other, nothing is read from the clock or the environment, so
//! every stage is checked against the AWS signing test suite (`tests/fixtures/signing/aws/`,
//! from awslabs/aws-c-auth). The emulator verifies with these same functions.
//!
//! ```text
//! CanonicalRequest = METHOD \n
//!                    CanonicalURI \n      normalised (dot segments and empty segments
//!                                         removed, a trailing `/` kept) unless the service
//!                                         is S3, then each segment URI-encoded
//!                    CanonicalQuery \n    pairs decoded, re-encoded, sorted by (key, value)
//!                    CanonicalHeaders \n  `name:value\n`, lower-case names sorted, values
//!                                         trimmed with inner whitespace runs as one space,
//!                                         a repeated header's values joined by `,` in order
//!                    SignedHeaders \n     the names, `;`-joined
//!                    HexSHA256(body)      or the signed `X-Amz-Content-Sha256` value
//! StringToSign     = AWS4-HMAC-SHA256 \n X-Amz-Date \n DATE/REGION/SERVICE/aws4_request \n
//!                    HexSHA256(CanonicalRequest)
//! SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, DATE), REGION), SERVICE), "aws4_request")
//! Authorization    : AWS4-HMAC-SHA256 Credential=ID/SCOPE, SignedHeaders=h1;h2, Signature=hex
//! ```
//!
//! The path is encoded as it is given: a path already percent-encoded on the wire is encoded
//! again (`%20` → `%2520`), as every AWS service but S3 expects.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The signed request time, UTC, [`DATE_FORMAT`].
pub const DATE_HEADER: &str = "X-Amz-Date";
/// `chrono` format of [`DATE_HEADER`]: `20150830T123600Z`.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// The header temporary credentials add (signed, so it cannot be swapped).
pub const TOKEN_HEADER: &str = "X-Amz-Security-Token";
/// A declared payload hash; it replaces the body's own hash in the canonical request.
pub const CONTENT_SHA256_HEADER: &str = "X-Amz-Content-Sha256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// RFC 3986 unreserved characters stay, every other byte is `%XX` (upper-case hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request as the signature sees it.
#[derive(Clone, Copy, Debug)]
pub struct SigningRequest<'a> {
    pub method: &'a str,
    /// The path as on the request line.
    pub path: &'a str,
    /// The raw query string, without `?` (empty when there is none).
    pub query: &'a str,
    /// Exactly the headers to sign, names in any case, repeated names allowed.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What a signature is valid for: a day, a region and a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `YYYYMMDD`, the first 8 characters of `X-Amz-Date`.
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl std::fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Percent-encodes everything but the RFC 3986 unreserved characters.
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The canonical URI. `normalize` (every service but S3): `.` and empty segments dropped,
/// `..` removes the one before, a trailing `/` kept (`//example//` → `/example/`,
/// `/example/..` → `/`).
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    if !normalize {
        return path.split('/').map(uri_encode).collect::<Vec<_>>().join("/");
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut uri = String::from("/");
    uri.push_str(
        &kept
            .iter()
            .map(|s| uri_encode(s))
            .collect::<Vec<_>>()
            .join("/"),
    );
    let ends_as_folder = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if ends_as_folder && !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query: each `key=value` (a bare key has an empty value) decoded, encoded
/// again, sorted by encoded key then value, joined by `&`.
pub fn canonical_query(query: &str) -> String {
    let decode = |s: &str| uri_encode(&percent_decode_str(s).decode_utf8_lossy());
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value as signed: trimmed, each run of whitespace (line breaks of a folded
/// value included) one space.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical headers block (`name:value\n` per name, sorted) and `SignedHeaders`.
pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut grouped: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(canonical_value(value));
    }
    let mut block = String::new();
    for (name, values) in &grouped {
        block.push_str(name);
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    let signed = grouped.keys().cloned().collect::<Vec<_>>().join(";");
    (block, signed)
}

/// The value of header `name` (any case; the last one wins).
pub fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The signed `X-Amz-Content-Sha256` when there is one, else the body's hex SHA-256.
pub fn payload_hash(headers: &[(String, String)], body: &[u8]) -> String {
    match header_value(headers, CONTENT_SHA256_HEADER) {
        Some(declared) if !declared.is_empty() => declared.to_string(),
        _ => sha256_hex(body),
    }
}

pub fn canonical_request(req: &SigningRequest<'_>, normalize: bool) -> String {
    let (headers, signed) = canonical_headers(req.headers);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path, normalize),
        canonical_query(req.query),
        headers,
        signed,
        payload_hash(req.headers, req.body)
    )
}

pub fn string_to_sign(amz_date: &str, scope: &Scope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key derived from the secret for one scope.
pub fn signing_key(secret: &str, scope: &Scope<'_>) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

/// Lower-case hex HMAC-SHA256 of the string to sign.
pub fn signature(signing_key: &[u8], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

pub fn authorization(
    access_key: &str,
    scope: &Scope<'_>,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

/// The `Authorization` header for this request, every header given signed; the time is its
/// `X-Amz-Date`. `None` without a well-formed `X-Amz-Date` or a `host`.
pub fn authorize(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    req: &SigningRequest<'_>,
) -> Option<String> {
    let amz_date = header_value(req.headers, DATE_HEADER)?;
    header_value(req.headers, "host")?;
    let date = amz_date.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let scope = Scope {
        date,
        region,
        service,
    };
    let canonical = canonical_request(req, service != "s3");
    let sts = string_to_sign(amz_date, &scope, &canonical);
    let sig = signature(&signing_key(secret, &scope), &sts);
    let (_, signed) = canonical_headers(req.headers);
    Some(authorization(access_key, &scope, &signed, &sig))
}

/// A parsed `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access_key: &'a str,
    pub scope: Scope<'a>,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

/// `AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=h1;h2,
/// Signature=hex`: the three parts once each, any order, `,` with optional spaces. `None`
/// for anything else.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let [credential, signed, sig] = crate::http::auth_header::params(
        header,
        ALGORITHM,
        ["Credential", "SignedHeaders", "Signature"],
    )?;
    // The access key id has no `/`; the scope is exactly four parts.
    let mut parts = credential.split('/');
    let access_key = parts.next().filter(|s| !s.is_empty())?;
    let (date, region, service, terminator) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || terminator != TERMINATOR {
        return None;
    }
    let signed_headers = crate::http::auth_header::signed_headers(signed)?;
    Some(Authorization {
        access_key,
        scope: Scope {
            date,
            region,
            service,
        },
        signed_headers,
        signature: sig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_normalised_and_encoded() {
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/a/./b/../c", true), "/a/c");
        assert_eq!(canonical_uri("/a/b/..", true), "/a/");
        assert_eq!(canonical_uri("/a%20b", true), "/a%2520b");
        assert_eq!(canonical_uri("/*", true), "/%2A");
        assert_eq!(canonical_uri("//x", false), "//x");
    }

    #[test]
    fn query_pairs_are_decoded_encoded_and_sorted() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=%2A&c"), "a=%2A&a=x%20y&b=2&c=");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn authorization_headers_parse() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cloudfront/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(a.access_key, "AKID");
        assert_eq!(a.scope.service, "cloudfront");
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
        for bad in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cloudfront, SignedHeaders=host, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cloudfront/aws4_request, SignedHeaders=host;;x, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cloudfront/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=abc",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=abc",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn authorize_needs_host_and_date() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        for headers in [
            h(&[("Host", "x")]),
            h(&[("X-Amz-Date", "20150830T123600Z")]),
            h(&[("Host", "x"), ("X-Amz-Date", "2015")]),
        ] {
            let req = SigningRequest {
                method: "GET",
                path: "/",
                query: "",
                headers: &headers,
                body: b"",
            };
            assert_eq!(authorize("a", "s", "r", "svc", &req), None, "{headers:?}");
        }
    }
}
