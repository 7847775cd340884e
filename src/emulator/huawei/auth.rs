//! AK/SK verification as Huawei's API gateway does it (`SDK-HMAC-SHA256`), with the same pure
//! functions the client signs with (`providers::huawei::sign`), never a second implementation.
//!
//! Which headers are signed is the client's choice (the Python SDK signs every header it
//! sends, the Java SDK leaves `Content-Type` out), so the canonical request is rebuilt from the
//! `SignedHeaders` the `Authorization` header lists; `host` and `x-sdk-date` must be among
//! them, so that a signature is bound to this endpoint and to a time.
//!
//! Every failure is HTTP 401 `APIGW.0301` with the gateway's message for the case:
//!
//! | case | `error_msg` | source |
//! |---|---|---|
//! | no `Authorization` (and no token) | `Incorrect IAM authentication information: x-auth-token not found` | [C] Huawei FAQ "APIG.0301" |
//! | an `X-Auth-Token` instead | `… decrypt token fail` (the emulator takes AK/SK only) | [C] message; [I] for this use |
//! | unknown AK | `… Get secretKey failed,ak:<AK>,err:ak not exist` | [C] client reports |
//! | `X-Sdk-Date` outside `--max-timestamp-skew` | `… calc aksk signature fail:signature expired, signature time:<date>,server time:<now>` | [C] huaweicloud-sdk-java-v3 issue 44 |
//! | anything else (malformed header, missing or bad date, unsigned `host`, wrong signature, body hash, security token) | `… verify aksk signature fail` | [C] for a wrong signature; [I] for the rest |
//!
//! `X-Emulator-Reason` says which check failed; for a wrong signature it carries the
//! canonical request the emulator computed (the gateway logs the same to its error log), so a
//! client can diff it with its own. Secrets never appear in it.
//!
//! Query strings are decoded as forms (`+` is a space), as the gateway's nginx does; the
//! SDKs never send a bare `+` (they encode it `%2B`), so only hand-made clients can tell [I].

use std::time::Duration;

use axum::http::header;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::ApiError;
use super::args::HuaweiKey;
use crate::emulator::server::{ApiCall, App};
use crate::providers::huawei::sign::{
    CONTENT_SHA256_HEADER, DATE_FORMAT, DATE_HEADER, SigningRequest, UNSIGNED_PAYLOAD,
    canonical_request, parse_authorization, sha256_hex, signature, string_to_sign,
};
use crate::emulator::secret::constant_time_eq;

const PREFIX: &str = "Incorrect IAM authentication information";

/// The header temporary credentials add.
const SECURITY_TOKEN_HEADER: &str = "x-security-token";

/// The query string, decoded, in order.
pub(crate) fn query_pairs(call: &ApiCall) -> Vec<(String, String)> {
    url::form_urlencoded::parse(call.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn header_text(call: &ApiCall, name: &str) -> Option<String> {
    call.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn verify_fail(reason: impl Into<String>) -> ApiError {
    ApiError::auth(format!("{PREFIX}: verify aksk signature fail"), reason)
}

/// Accepts the request's signature or says why not. All the key pairs are one account's, so
/// who signed does not matter further.
pub(crate) fn verify(
    app: &App,
    call: &ApiCall,
    query: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(header) = header_text(call, header::AUTHORIZATION.as_str()) else {
        if call.headers.contains_key("x-auth-token") {
            return Err(ApiError::auth(
                format!("{PREFIX}: decrypt token fail"),
                "the emulator accepts AK/SK signatures only, not IAM tokens",
            ));
        }
        return Err(ApiError::auth(
            format!("{PREFIX}: x-auth-token not found"),
            "no Authorization header (and no X-Auth-Token)",
        ));
    };
    let auth = parse_authorization(&header).ok_or_else(|| {
        verify_fail(
            "the Authorization header is not `SDK-HMAC-SHA256 Access=AK, SignedHeaders=h1;h2, Signature=hex`",
        )
    })?;
    let key = find_key(app, auth.access_key)?;
    for required in ["host", "x-sdk-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(verify_fail(format!(
                "SignedHeaders {:?} does not list {required}",
                auth.signed_headers.join(";")
            )));
        }
    }
    let headers = call.signed_headers(&auth.signed_headers).map_err(verify_fail)?;
    let date = header_text(call, DATE_HEADER).unwrap_or_default();
    check_date(app, date.trim(), now)?;
    check_body_hash(call)?;

    let req = SigningRequest {
        method: call.method.as_str(),
        path: call.uri.path(),
        query,
        headers: &headers,
        body: &call.body,
    };
    let canonical = canonical_request(&req);
    let sts = string_to_sign(&canonical, date.trim());
    let expected = signature(key.secret_key.as_bytes(), &sts);
    if !constant_time_eq(&expected, auth.signature) {
        // The canonical request shows every signed header's value: a temporary key's token
        // is a credential, so it is masked.
        let shown = match header_text(call, SECURITY_TOKEN_HEADER) {
            Some(token) if !token.trim().is_empty() => canonical.replace(
                &format!("{SECURITY_TOKEN_HEADER}:{}", token.trim()),
                &format!("{SECURITY_TOKEN_HEADER}:<redacted>"),
            ),
            _ => canonical,
        };
        return Err(verify_fail(format!(
            "the signature does not match; the emulator's canonical request is \"{shown}\" and its string to sign \"{sts}\""
        )));
    }
    check_token(call, key, &auth.signed_headers)
}

fn find_key<'a>(app: &'a App, access_key: &str) -> Result<&'a HuaweiKey, ApiError> {
    super::knobs(app)
        .huawei_keys
        .iter()
        .find(|k| k.access_key == access_key)
        .ok_or_else(|| {
            ApiError::auth(
                format!("{PREFIX}: Get secretKey failed,ak:{access_key},err:ak not exist"),
                format!("access key {access_key:?} is not among the emulator's --huawei-key"),
            )
        })
}

fn check_date(app: &App, value: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let at = NaiveDateTime::parse_from_str(value, DATE_FORMAT)
        .map_err(|_| verify_fail(format!("{DATE_HEADER} {value:?} is not YYYYMMDDTHHMMSSZ")))?
        .and_utc();
    let skew = (now - at).abs().to_std().unwrap_or(Duration::MAX);
    if skew > app.args.max_timestamp_skew {
        return Err(ApiError::auth(
            format!(
                "{PREFIX}: calc aksk signature fail:signature expired, signature time:{value},server time:{}",
                now.format(DATE_FORMAT)
            ),
            format!(
                "{DATE_HEADER} {value} is more than {} from the emulator's clock",
                humantime::format_duration(app.args.max_timestamp_skew)
            ),
        ));
    }
    Ok(())
}

/// A declared body hash must be the body's, or `UNSIGNED-PAYLOAD`: the signature covers the
/// declaration, and the declaration must cover the body.
fn check_body_hash(call: &ApiCall) -> Result<(), ApiError> {
    let Some(declared) = header_text(call, CONTENT_SHA256_HEADER) else {
        return Ok(());
    };
    let declared = declared.trim();
    if call.body.is_empty() || declared == UNSIGNED_PAYLOAD {
        return Ok(());
    }
    if !declared.eq_ignore_ascii_case(&sha256_hex(&call.body)) {
        return Err(verify_fail(format!(
            "{CONTENT_SHA256_HEADER} {declared:?} is not the SHA-256 of the body"
        )));
    }
    Ok(())
}

/// A temporary key's token must be sent, and signed (the SDKs sign every header they send),
/// so that it cannot be swapped for another one; a permanent key takes none.
fn check_token(call: &ApiCall, key: &HuaweiKey, signed: &[&str]) -> Result<(), ApiError> {
    let sent = header_text(call, SECURITY_TOKEN_HEADER);
    let sent = sent.as_deref().map(str::trim).filter(|t| !t.is_empty());
    match (&key.security_token, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(got)) if constant_time_eq(expected, got) => {
            if signed.contains(&SECURITY_TOKEN_HEADER) {
                Ok(())
            } else {
                Err(verify_fail(
                    "X-Security-Token is not among the SignedHeaders",
                ))
            }
        }
        (Some(_), None) => Err(verify_fail(
            "this access key is temporary: X-Security-Token is required",
        )),
        (None, Some(_)) => Err(verify_fail(
            "this access key is permanent: it takes no X-Security-Token",
        )),
        (Some(_), Some(_)) => Err(verify_fail("the X-Security-Token is not this key's")),
    }
}
