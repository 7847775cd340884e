//! SigV4 verification as AWS does it, with the same pure functions the client signs with
//! (`providers::cloudfront::sign`), never a second implementation.
//!
//! The canonical request is rebuilt from the headers the `Authorization` header lists
//! (`host` and `x-amz-date` must be among them); the scope must be today's (the
//! `X-Amz-Date` day), `us-east-1` and `cloudfront`. Errors are AWS's:
//!
//! | case | status, code |
//! |---|---|
//! | no `Authorization` | 403 `MissingAuthenticationToken` |
//! | malformed header, unsigned `host`/`x-amz-date`, wrong scope | 403 `IncompleteSignature` / `SignatureDoesNotMatch` |
//! | unknown access key, or a token that is not the key's | 403 `InvalidClientTokenId` |
//! | `X-Amz-Date` outside `--max-timestamp-skew` | 403 `SignatureDoesNotMatch` ("Signature expired") |
//! | wrong signature | 403 `SignatureDoesNotMatch`, the message carrying the canonical request and the string to sign, as AWS answers |
//!
//! A session token is a credential: in the canonical request the message shows, it is
//! replaced by `<redacted>`.

use std::time::Duration;

use axum::http::header;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::ApiError;
use super::args::AwsKey;
use crate::emulator::server::{ApiCall, App};
use crate::providers::cloudfront::api::{REGION, SERVICE};
use crate::providers::cloudfront::sign::{
    DATE_FORMAT, DATE_HEADER, Scope, SigningRequest, TOKEN_HEADER, canonical_request,
    parse_authorization, signature, signing_key, string_to_sign,
};
use crate::emulator::secret::constant_time_eq;

fn header_text(call: &ApiCall, name: &str) -> Option<String> {
    call.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Accepts the request's signature or says why not.
pub(crate) fn verify(app: &App, call: &ApiCall, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(header) = header_text(call, header::AUTHORIZATION.as_str()) else {
        return Err(ApiError::new(
            403,
            "MissingAuthenticationToken",
            "Missing Authentication Token",
        )
        .because("no Authorization header"));
    };
    let auth = parse_authorization(&header).ok_or_else(|| {
        ApiError::new(
            403,
            "IncompleteSignature",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        )
        .because("the Authorization header is not `AWS4-HMAC-SHA256 Credential=ID/SCOPE, SignedHeaders=h1;h2, Signature=hex`")
    })?;
    let key = find_key(app, auth.access_key)?;
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(mismatch(format!(
                "SignedHeaders {:?} does not list {required}",
                auth.signed_headers.join(";")
            )));
        }
    }
    let date = header_text(call, DATE_HEADER).unwrap_or_default();
    let date = date.trim();
    check_date(app, date, now)?;
    if auth.scope.date != &date[..8] || auth.scope.region != REGION || auth.scope.service != SERVICE {
        return Err(mismatch(format!(
            "the credential scope {}/{}/{} is not {}/{REGION}/{SERVICE}",
            auth.scope.date,
            auth.scope.region,
            auth.scope.service,
            &date[..8]
        )));
    }
    let headers = call.signed_headers(&auth.signed_headers).map_err(mismatch)?;
    let req = SigningRequest {
        method: call.method.as_str(),
        path: call.uri.path(),
        query: call.uri.query().unwrap_or(""),
        headers: &headers,
        body: &call.body,
    };
    let canonical = canonical_request(&req, true);
    let scope = Scope {
        date: &date[..8],
        region: REGION,
        service: SERVICE,
    };
    let sts = string_to_sign(date, &scope, &canonical);
    let expected = signature(&signing_key(&key.secret, &scope), &sts);
    if !constant_time_eq(&expected, auth.signature) {
        let shown = match header_text(call, TOKEN_HEADER) {
            Some(token) if !token.trim().is_empty() => {
                canonical.replace(token.trim(), "<redacted>")
            }
            _ => canonical,
        };
        return Err(ApiError::new(
            403,
            "SignatureDoesNotMatch",
            format!(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{shown}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
            ),
        )
        .because("the signature does not match"));
    }
    check_token(call, key, &auth.signed_headers)
}

fn mismatch(reason: String) -> ApiError {
    ApiError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    )
    .because(reason)
}

fn invalid_token(reason: &str) -> ApiError {
    ApiError::new(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )
    .because(reason)
}

fn find_key<'a>(app: &'a App, id: &str) -> Result<&'a AwsKey, ApiError> {
    super::knobs(app)
        .cloudfront_keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| {
            invalid_token(&format!(
                "access key {} is not among the emulator's --cloudfront-key",
                crate::echo::cap(id, 40)
            ))
        })
}

fn check_date(app: &App, value: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let at = NaiveDateTime::parse_from_str(value, DATE_FORMAT)
        .map_err(|_| {
            ApiError::new(
                403,
                "IncompleteSignature",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
            .because(format!("{DATE_HEADER} {value:?} is not YYYYMMDDTHHMMSSZ"))
        })?
        .and_utc();
    let skew = (now - at).abs().to_std().unwrap_or(Duration::MAX);
    if skew > app.args.max_timestamp_skew {
        return Err(ApiError::new(
            403,
            "SignatureDoesNotMatch",
            format!(
                "Signature expired: {value} is now earlier than {} ({} - {})",
                (now - chrono::TimeDelta::from_std(app.args.max_timestamp_skew).unwrap_or_default())
                    .format(DATE_FORMAT),
                now.format(DATE_FORMAT),
                humantime::format_duration(app.args.max_timestamp_skew)
            ),
        )
        .because(format!("{DATE_HEADER} {value} is outside --max-timestamp-skew")));
    }
    Ok(())
}

/// Temporary credentials must send their token, signed; permanent ones none.
fn check_token(call: &ApiCall, key: &AwsKey, signed: &[&str]) -> Result<(), ApiError> {
    let sent = header_text(call, TOKEN_HEADER);
    let sent = sent.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let token_header = TOKEN_HEADER.to_ascii_lowercase();
    match (&key.session_token, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(got)) if constant_time_eq(expected, got) => {
            if signed.contains(&token_header.as_str()) {
                Ok(())
            } else {
                Err(mismatch("X-Amz-Security-Token is not among the SignedHeaders".into()))
            }
        }
        (Some(_), None) => Err(invalid_token(
            "this access key is temporary: X-Amz-Security-Token is required",
        )),
        (None, Some(_)) => Err(invalid_token(
            "this access key is permanent: it takes no X-Amz-Security-Token",
        )),
        (Some(_), Some(_)) => Err(invalid_token("the X-Amz-Security-Token is not this key's")),
    }
}
