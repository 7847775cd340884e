//! Signature verification, V1 (HMAC-SHA1 over query ∪ form) and V3 (ACS3-HMAC-SHA256 over
//! the canonical request), with the same pure functions the client signs with
//! (`providers::aliyun::sign`), never a second implementation.
//!
//! Order of checks: the signing parameters are present and supported → the key exists →
//! the timestamp is well-formed and fresh → (V3) the body hash and the signed-header set →
//! the signature → the STS token → the nonce. The nonce is remembered only once everything
//! else passed, so a rejected request never burns one.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::{ApiError, RpcRequest};
use super::args::AliyunKey;
use crate::emulator::server::App;
use crate::emulator::state::Inner;
use crate::providers::aliyun::sign::{
    V3Request, parse_v3_authorization, sha256_hex, v1_signature, v1_string_to_sign,
    v3_canonical_request, v3_signature, v3_string_to_sign,
};
use crate::emulator::secret::constant_time_eq;

/// Who sent a verified request.
pub(crate) struct Caller {
    pub key_id: String,
}

/// What each signature scheme yields for the checks they share.
struct Signed<'a> {
    key: &'a AliyunKey,
    token: Option<String>,
    nonce: String,
}

/// The shortest time a nonce is remembered, whatever `--max-timestamp-skew` says.
const MIN_NONCE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub(crate) fn verify(
    app: &App,
    inner: &mut Inner,
    req: &RpcRequest<'_>,
    now: (DateTime<Utc>, Instant),
) -> Result<Caller, ApiError> {
    let signed = match &req.authorization {
        Some(authorization) => v3(app, req, authorization, now.0)?,
        None => v1(app, req, now.0)?,
    };
    let token = signed.token.as_deref().filter(|t| !t.is_empty());
    match (&signed.key.security_token, token) {
        (None, None) => {}
        (Some(expected), Some(got)) if constant_time_eq(expected, got) => {}
        (Some(_), None) => return Err(token_mismatch("no security token was sent")),
        (None, Some(_)) => {
            return Err(token_mismatch("this access key takes no security token"));
        }
        (Some(_), Some(_)) => return Err(token_mismatch("the security token is not this key's")),
    }
    // A replay is possible while its timestamp is fresh: up to twice the skew after the
    // first use. Remember nonces at least that long.
    let window = (app.args.max_timestamp_skew * 2).max(MIN_NONCE_WINDOW);
    let nonce_key = format!("{}\n{}", signed.key.id, signed.nonce);
    if !inner.nonces.first_use(nonce_key, now.1, window) {
        return Err(ApiError::bad(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(Caller {
        key_id: signed.key.id.clone(),
    })
}

fn v1<'a>(app: &'a App, req: &RpcRequest<'_>, now: DateTime<Utc>) -> Result<Signed<'a>, ApiError> {
    let required = |name: &str| {
        req.param(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing_common(name))
    };
    let key_id = required("AccessKeyId")?;
    let signature = required("Signature")?;
    let method = required("SignatureMethod")?;
    let version = required("SignatureVersion")?;
    let nonce = required("SignatureNonce")?;
    let timestamp = required("Timestamp")?;
    if method != "HMAC-SHA1" {
        return Err(incomplete("SignatureMethod must be HMAC-SHA1."));
    }
    if version != "1.0" {
        return Err(incomplete("SignatureVersion must be 1.0."));
    }
    if req.param("SignatureType").is_some_and(|t| !t.is_empty()) {
        return Err(incomplete(
            "SignatureType is not supported: sign with an AccessKey.",
        ));
    }
    let key = find_key(app, key_id)?;
    check_timestamp(app, timestamp, now)?;
    let string_to_sign = v1_string_to_sign(req.call.method.as_str(), &req.all_params());
    if !constant_time_eq(&v1_signature(&key.secret, &string_to_sign), signature) {
        return Err(mismatch(&string_to_sign));
    }
    Ok(Signed {
        key,
        token: req.param("SecurityToken").map(str::to_string),
        nonce: nonce.to_string(),
    })
}

fn v3<'a>(
    app: &'a App,
    req: &RpcRequest<'_>,
    authorization: &str,
    now: DateTime<Utc>,
) -> Result<Signed<'a>, ApiError> {
    let auth = parse_v3_authorization(authorization).ok_or_else(|| {
        incomplete(
            "The Authorization header must be `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.",
        )
    })?;
    let nonce = req
        .header("x-acs-signature-nonce")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing_common("x-acs-signature-nonce"))?;
    let date = req
        .header("x-acs-date")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing_common("x-acs-date"))?;
    let payload_hash = req
        .header("x-acs-content-sha256")
        .ok_or_else(|| incomplete("The x-acs-content-sha256 header is required."))?;
    let key = find_key(app, &auth.access_key_id)?;
    check_timestamp(app, &date, now)?;
    if !payload_hash.eq_ignore_ascii_case(&sha256_hex(&req.call.body)) {
        return Err(incomplete(
            "x-acs-content-sha256 is not the hex SHA-256 of the request body.",
        ));
    }

    // Every common header present must be signed; the client may sign more.
    let signed: BTreeSet<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    if req.call.headers.get("host").is_none() {
        return Err(incomplete("The host header is required."));
    }
    for name in req.call.headers.keys() {
        let name = name.as_str();
        let must_sign = name == "host" || name == "content-type" || name.starts_with("x-acs-");
        if must_sign && !signed.contains(name) {
            return Err(incomplete(format!(
                "The {name} header must be listed in SignedHeaders."
            )));
        }
    }
    let mut headers = Vec::new();
    for name in &auth.signed_headers {
        let values = req.call.headers.get_all(name.as_str());
        if values.iter().next().is_none() {
            return Err(incomplete(format!(
                "The signed header {name} is not in the request."
            )));
        }
        for value in values {
            headers.push((
                name.clone(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    let (canonical, _) = v3_canonical_request(&V3Request {
        method: req.call.method.as_str(),
        path: req.call.uri.path(),
        query: &req.query,
        headers: &headers,
        payload_hash: &payload_hash,
    });
    let string_to_sign = v3_string_to_sign(&canonical);
    if !constant_time_eq(&v3_signature(&key.secret, &string_to_sign), &auth.signature) {
        return Err(mismatch(&string_to_sign));
    }
    Ok(Signed {
        key,
        token: req.header("x-acs-security-token"),
        nonce,
    })
}

fn find_key<'a>(app: &'a App, id: &str) -> Result<&'a AliyunKey, ApiError> {
    super::knobs(app)
        .aliyun_keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
}

/// `YYYY-MM-DDThh:mm:ssZ`, within the allowed skew of the emulator's clock.
fn check_timestamp(app: &App, value: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let at = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ")
        .map_err(|_| {
            ApiError::bad(
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?
        .and_utc();
    let skew = (now - at).abs().to_std().unwrap_or(Duration::MAX);
    if skew > app.args.max_timestamp_skew {
        return Err(ApiError::bad(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(())
}

/// A missing signing parameter (or its V3 header): `MissingAccessKeyId`, `MissingSignature`…
fn missing_common(name: &str) -> ApiError {
    let code = match name {
        "x-acs-signature-nonce" => "MissingSignatureNonce".to_string(),
        "x-acs-date" => "MissingTimestamp".to_string(),
        other => format!("Missing{other}"),
    };
    ApiError::bad(&code, format!("{name} is mandatory for this action."))
}

fn incomplete(detail: impl Into<String>) -> ApiError {
    ApiError::bad(
        "IncompleteSignature",
        format!(
            "The request signature does not conform to Aliyun standards. {}",
            detail.into()
        ),
    )
}

/// The real gateway echoes its string to sign, so a client can compare it with its own.
fn mismatch(string_to_sign: &str) -> ApiError {
    ApiError::bad(
        "SignatureDoesNotMatch",
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
        ),
    )
}

fn token_mismatch(detail: &str) -> ApiError {
    ApiError::bad(
        "InvalidSecurityToken.MismatchWithAccessKey",
        format!("The security token does not match the access key: {detail}."),
    )
}
