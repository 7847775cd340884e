//! Token verification, `QBox` and `Qiniu`, with the same pure functions the client signs
//! with (`providers::qiniu::sign`), never a second implementation.
//!
//! Every failure is HTTP 401 `{"error":"bad token"}`, as Qiniu answers a token it does not
//! accept (no header, not `QBox AK:sign` / `Qiniu AK:sign`, an access key it does not know,
//! a sign that does not match); the `X-Emulator-Reason` header says which, and for a wrong
//! sign shows the data the emulator signed, so a client can compare it with its own.
//!
//! The `Qiniu` token signs the method, the path and query, the `Host` header, the
//! `Content-Type` header, the `X-Qiniu-*` headers and the body. Its `X-Qiniu-Date` header
//! is optional (the SDKs can leave it out), but when present it must be `YYYYMMDDTHHMMSSZ`
//! within `--max-timestamp-skew` of the emulator's clock, so a captured request cannot be
//! replayed forever. The `QBox` token signs the path and query only (the body too for a
//! form, which the fusion API never takes), so it has no freshness to check.

use std::time::Duration;

use axum::http::header;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::ApiError;
use super::args::QiniuKey;
use crate::emulator::server::{ApiCall, App};
use crate::providers::qiniu::sign::{
    QINIU_DATE_FORMAT, QINIU_DATE_HEADER, QiniuRequest, Scheme, parse_authorization,
    qbox_signing_data, qiniu_signing_data, token,
};
use crate::emulator::secret::constant_time_eq;

fn header_text(call: &ApiCall, name: &str) -> Option<String> {
    call.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Accepts the request's token or says why not. All the key pairs are one account's, so
/// who signed does not matter further.
pub(crate) fn verify(app: &App, call: &ApiCall, now: DateTime<Utc>) -> Result<(), ApiError> {
    let header = header_text(call, header::AUTHORIZATION.as_str())
        .ok_or_else(|| ApiError::bad_token("no Authorization header"))?;
    let auth = parse_authorization(&header).ok_or_else(|| {
        ApiError::bad_token("the Authorization header is not `QBox AK:sign` or `Qiniu AK:sign`")
    })?;
    let key = find_key(app, auth.access_key)?;
    let path_and_query = call
        .uri
        .path_and_query()
        .map_or_else(|| call.uri.path(), |pq| pq.as_str());
    let content_type = header_text(call, header::CONTENT_TYPE.as_str());
    let data = match auth.scheme {
        Scheme::QBox => qbox_signing_data(path_and_query, content_type.as_deref(), &call.body),
        Scheme::Qiniu => {
            if let Some(date) = header_text(call, QINIU_DATE_HEADER) {
                check_date(app, &date, now)?;
            }
            // HTTP/2 carries the host as the URI's authority, not as a header.
            let host = header_text(call, header::HOST.as_str())
                .or_else(|| call.uri.authority().map(|a| a.to_string()))
                .unwrap_or_default();
            let headers: Vec<(String, String)> = call
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            qiniu_signing_data(&QiniuRequest {
                method: call.method.as_str(),
                path_and_query,
                host: &host,
                content_type: content_type.as_deref(),
                headers: &headers,
                body: &call.body,
            })
        }
    };
    let expected = token(&key.access_key, key.secret_key.as_bytes(), &data);
    let got = format!("{}:{}", auth.access_key, auth.sign);
    if !constant_time_eq(&expected, &got) {
        return Err(ApiError::bad_token(format!(
            "the {} sign does not match; the emulator signed \"{}\"",
            auth.scheme.as_str(),
            String::from_utf8_lossy(&data)
        )));
    }
    Ok(())
}

fn find_key<'a>(app: &'a App, access_key: &str) -> Result<&'a QiniuKey, ApiError> {
    super::knobs(app)
        .qiniu_keys
        .iter()
        .find(|k| k.access_key == access_key)
        .ok_or_else(|| {
            ApiError::bad_token(format!(
                "access key {access_key:?} is not among the emulator's --qiniu-key"
            ))
        })
}

fn check_date(app: &App, value: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let at = NaiveDateTime::parse_from_str(value, QINIU_DATE_FORMAT)
        .map_err(|_| {
            ApiError::bad_token(format!(
                "{QINIU_DATE_HEADER} {value:?} is not YYYYMMDDTHHMMSSZ"
            ))
        })?
        .and_utc();
    let skew = (now - at).abs().to_std().unwrap_or(Duration::MAX);
    if skew > app.args.max_timestamp_skew {
        return Err(ApiError::bad_token(format!(
            "{QINIU_DATE_HEADER} {value} is more than {} from the emulator's clock",
            humantime::format_duration(app.args.max_timestamp_skew)
        )));
    }
    Ok(())
}
