//! Alibaba Cloud request signing as pure functions: time and nonce are passed in, nothing is
//! read from the clock or the environment, so every stage can be checked against the official
//! vectors (`tests/fixtures/signing/aliyun/`). The emulator verifies with these same functions.
//!
//! * V1 (`SignatureVersion=1.0`, HMAC-SHA1 over the sorted parameters; the docs now call it
//!   "V2 for RPC APIs").
//! * V3 (`ACS3-HMAC-SHA256`, over a canonical request with signed headers).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// RFC 3986 unreserved characters stay; every other byte becomes `%XX` (upper-case hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Alibaba's `percentEncode`: space is `%20`, `*` is `%2A`, `~` stays.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Base64 of HMAC-SHA1 with the key as given (the V1 primitive).
pub fn hmac_sha1_base64(key: &[u8], data: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256_hex(key: &[u8], data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `k=v&k=v` with both sides percent-encoded, sorted by raw name (then value).
fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// V1 `CanonicalizedQueryString`: every parameter (query and form body) but `Signature`.
pub fn v1_canonicalized_query(params: &[(String, String)]) -> String {
    let without_signature: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    canonical_query(&without_signature)
}

/// V1 `StringToSign = METHOD & %2F & percentEncode(CanonicalizedQueryString)`.
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        method,
        percent_encode("/"),
        percent_encode(&v1_canonicalized_query(params))
    )
}

/// V1 signature: Base64(HMAC-SHA1(secret + "&", StringToSign)).
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    hmac_sha1_base64(format!("{secret}&").as_bytes(), string_to_sign)
}

/// The common parameters V1 adds to every request, in the order the SDKs send them.
pub struct V1Common<'a> {
    pub access_key_id: &'a str,
    pub security_token: Option<&'a str>,
    pub version: &'a str,
    pub action: &'a str,
    /// `YYYY-MM-DDThh:mm:ssZ`, UTC.
    pub timestamp: &'a str,
    pub nonce: &'a str,
}

/// Adds the common parameters and the `Signature` to `params` (query plus form body).
pub fn v1_sign(
    method: &str,
    params: &mut Vec<(String, String)>,
    common: &V1Common<'_>,
    secret: &str,
) {
    let mut add = |k: &str, v: &str| params.push((k.to_string(), v.to_string()));
    add("Action", common.action);
    add("Version", common.version);
    add("Format", "JSON");
    add("AccessKeyId", common.access_key_id);
    add("SignatureMethod", "HMAC-SHA1");
    add("SignatureVersion", "1.0");
    add("SignatureNonce", common.nonce);
    add("Timestamp", common.timestamp);
    if let Some(token) = common.security_token {
        add("SecurityToken", token);
    }
    let signature = v1_signature(secret, &v1_string_to_sign(method, params));
    params.push(("Signature".to_string(), signature));
}

/// V3 canonical URI: `/` for an empty path; every segment percent-encoded, `/` kept.
pub fn v3_canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// V3 canonical query string (empty when there are no parameters).
pub fn v3_canonical_query(query: &[(String, String)]) -> String {
    canonical_query(query)
}

/// V3 canonical headers block and `SignedHeaders` list for the headers given (all of which
/// are signed): names lower-cased, values trimmed, repeated names joined with `,` in sorted
/// order, each line ending in `\n`.
pub fn v3_canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut grouped: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_string());
    }
    let mut block = String::new();
    for (name, values) in &mut grouped {
        values.sort();
        block.push_str(&format!("{}:{}\n", name, values.join(",")));
    }
    let signed = grouped.keys().cloned().collect::<Vec<_>>().join(";");
    (block, signed)
}

/// A request as V3 sees it.
pub struct V3Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    /// Exactly the headers to sign.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body (`x-acs-content-sha256`).
    pub payload_hash: &'a str,
}

/// V3 canonical request and its `SignedHeaders` list.
pub fn v3_canonical_request(req: &V3Request<'_>) -> (String, String) {
    let (headers, signed) = v3_canonical_headers(req.headers);
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        v3_canonical_uri(req.path),
        v3_canonical_query(req.query),
        headers,
        signed,
        req.payload_hash
    );
    (canonical, signed)
}

/// V3 `StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))`.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "ACS3-HMAC-SHA256\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// V3 signature: hex(HMAC-SHA256(secret, StringToSign)).
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    hmac_sha256_hex(secret.as_bytes(), string_to_sign)
}

/// The `Authorization` header value.
pub fn v3_authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// Parsed `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
#[derive(Debug, PartialEq, Eq)]
pub struct V3Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Reads an `Authorization` header; `None` when it is not a V3 one.
pub fn parse_v3_authorization(header: &str) -> Option<V3Authorization> {
    let rest = header.strip_prefix("ACS3-HMAC-SHA256 ")?;
    let (mut ak, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => ak = Some(v.to_string()),
            "SignedHeaders" => signed = Some(v.split(';').map(str::to_string).collect()),
            "Signature" => sig = Some(v.to_string()),
            _ => return None,
        }
    }
    Some(V3Authorization {
        access_key_id: ak?,
        signed_headers: signed?,
        signature: sig?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode(" ~/*-+"), "%20~%2F%2A-%2B");
        assert_eq!(percent_encode("中"), "%E4%B8%AD");
    }

    #[test]
    fn parses_its_own_authorization() {
        let h = v3_authorization("ak", "host;x-acs-date", "abc");
        let parsed = parse_v3_authorization(&h).unwrap();
        assert_eq!(parsed.access_key_id, "ak");
        assert_eq!(parsed.signed_headers, vec!["host", "x-acs-date"]);
        assert_eq!(parsed.signature, "abc");
        assert!(parse_v3_authorization("QBox a:b").is_none());
    }
}
