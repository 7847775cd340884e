//! Qiniu Fusion CDN wire format: JSON posts signed with a QBox token, JSON answers that
//! carry a numeric `code` and, on success, what is left of the day's quotas.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::sign;
use crate::providers::{ErrorClass, ProviderError};

pub const DEFAULT_ENDPOINT: &str = "https://fusion.qiniuapi.com";

pub const REFRESH: &str = "/v2/tune/refresh";
pub const PREFETCH: &str = "/v2/tune/prefetch";
pub const REFRESH_LIST: &str = "/v2/tune/refresh/list";
pub const PREFETCH_LIST: &str = "/v2/tune/prefetch/list";

/// A Qiniu key pair.
pub struct Credentials {
    pub access_key: String,
    pub secret_key: SecretString,
}

/// What came back, before it is read as a particular answer.
pub struct RawResponse {
    pub status: u16,
    pub body: String,
}

/// The signed JSON post of `body` to `path` below the endpoint. JSON bodies are not part
/// of the QBox signature, so the token covers the path alone.
pub fn build_request<T: Serialize>(
    http: &reqwest::Client,
    endpoint: &url::Url,
    creds: &Credentials,
    path: &str,
    body: &T,
) -> reqwest::RequestBuilder {
    let mut url = endpoint.clone();
    let full_path = format!("{}{path}", endpoint.path().trim_end_matches('/'));
    url.set_path(&full_path);
    let body = serde_json::to_vec(body).expect("plain data");
    let token = sign::qbox_token(
        &creds.access_key,
        creds.secret_key.expose_secret().as_bytes(),
        &full_path,
        Some("application/json"),
        &body,
    );
    http.post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("QBox {token}"))
        .body(body)
}

/// Sends a request and reads the whole answer. Only transport failures are errors here.
pub async fn send(request: reqwest::RequestBuilder) -> Result<RawResponse, ProviderError> {
    let answer = crate::http::exchange(request).await?;
    Ok(RawResponse {
        status: answer.status,
        body: answer.body,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    code: Option<i64>,
    error: Option<String>,
    request_id: Option<String>,
    invalid_urls: Option<Vec<String>>,
    invalid_dirs: Option<Vec<String>>,
}

/// Reads a successful answer as `T`, or the error the service returned. Success is
/// HTTP 2xx with `code` 200; anything else is an error, classified by its code.
pub fn parse<T: serde::de::DeserializeOwned>(
    path: &str,
    raw: RawResponse,
) -> Result<T, ProviderError> {
    let body: Option<ErrorBody> = serde_json::from_str(&raw.body).ok();
    let code = body.as_ref().and_then(|b| b.code);
    if (200..300).contains(&raw.status) && code == Some(200) {
        return serde_json::from_str(&raw.body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadResponse,
                "BadResponse",
                format!("{path}: the answer could not be read ({e})"),
            )
        });
    }
    let Some(body) = body else {
        let class = if raw.status >= 500 {
            ErrorClass::Unavailable
        } else if raw.status == 429 {
            ErrorClass::Throttled
        } else {
            ErrorClass::BadResponse
        };
        return Err(ProviderError::new(
            class,
            format!("HTTP{}", raw.status),
            format!(
                "{path}: HTTP status {} without a JSON error body",
                raw.status
            ),
        ));
    };
    let mut message = body
        .error
        .clone()
        .unwrap_or_else(|| format!("HTTP status {}", raw.status));
    let invalid: Vec<String> = body
        .invalid_urls
        .into_iter()
        .chain(body.invalid_dirs)
        .flatten()
        .collect();
    if !invalid.is_empty() {
        message = format!("{message} ({})", invalid.join(", "));
    }
    let mut err = classify(raw.status, code, message);
    err.request_id = body.request_id;
    Err(err)
}

/// The class of a Qiniu answer (protocols.md §3.3), and how to fix the final ones.
pub fn classify(status: u16, code: Option<i64>, message: String) -> ProviderError {
    use ErrorClass::*;
    let (class, hint): (ErrorClass, Option<&str>) = match code {
        _ if status == 401 => (
            Credentials,
            Some(
                "the token was refused: check QINIU_ACCESS_KEY and QINIU_SECRET_KEY (or the inputs access-key-id and access-key-secret) belong together",
            ),
        ),
        Some(403024 | 403022) => (Throttled, None),
        Some(500000) => (Unavailable, None),
        Some(400031) => (
            InvalidRequest,
            Some("a URL is malformed: give full http(s) URLs"),
        ),
        Some(400032) => (
            Domain,
            Some(
                "a host in the URLs is not a CDN domain of this Qiniu account: check the URLs and that the key belongs to the right account",
            ),
        ),
        Some(400033..=400035) => (
            Quota,
            Some(
                "today's quota is used up (it resets at midnight, UTC+8): split the run over days, refresh directories instead of files, or ask Qiniu for a higher quota",
            ),
        ),
        Some(400036) => (InvalidRequest, None),
        Some(400037) => (
            InvalidRequest,
            Some(
                "a URL of the batch is already being refreshed or prefetched by an earlier task: that task covers it",
            ),
        ),
        Some(400038) => (
            Permission,
            Some(
                "directory refresh is not enabled on this Qiniu account: ask Qiniu support to enable it (a ticket), or refresh files (--collapse-threshold 0, --object-type file)",
            ),
        ),
        Some(400039) => (InvalidRequest, None),
        _ if status >= 500 => (Unavailable, None),
        _ if status == 429 => (Throttled, None),
        _ if status == 403 => (Permission, None),
        _ => (InvalidRequest, None),
    };
    let code = code.map_or_else(|| format!("HTTP{status}"), |c| c.to_string());
    let mut err = ProviderError::new(class, code, message);
    err.hint = hint.map(str::to_string);
    err
}

#[derive(Serialize)]
pub struct RefreshRequest<'a> {
    pub urls: &'a [String],
    pub dirs: &'a [String],
}

#[derive(Serialize)]
pub struct PrefetchRequest<'a> {
    pub urls: &'a [String],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    pub request_id: String,
    pub url_quota_day: Option<u64>,
    pub url_surplus_day: Option<u64>,
    pub dir_quota_day: Option<u64>,
    pub dir_surplus_day: Option<u64>,
    #[serde(default)]
    pub task_ids: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefetchResponse {
    pub request_id: String,
    pub quota_day: Option<u64>,
    pub surplus_day: Option<u64>,
    #[serde(default)]
    pub task_ids: Option<BTreeMap<String, String>>,
}

/// The largest page the list APIs serve.
pub const PAGE_SIZE: u32 = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<&'a [String]>,
    /// Pages count from 0.
    pub page_no: u32,
    pub page_size: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    #[serde(default)]
    pub items: Vec<ListItem>,
    #[serde(default)]
    pub total: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    #[serde(default)]
    pub request_id: String,
    pub url: String,
    pub state: String,
    #[serde(default)]
    pub state_detail: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS`, Beijing time.
    #[serde(default)]
    pub create_at: Option<String>,
}

/// When a list item was created, from its `createAt` (Beijing time, UTC+8).
pub fn created_at(item: &ListItem) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = item.create_at.as_deref()?;
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(local.and_utc() - chrono::TimeDelta::hours(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_documented_codes() {
        let c = |status, code| classify(status, Some(code), String::new()).class;
        assert_eq!(c(403, 403024), ErrorClass::Throttled);
        assert_eq!(c(403, 403022), ErrorClass::Throttled);
        assert_eq!(c(500, 500000), ErrorClass::Unavailable);
        assert_eq!(c(400, 400031), ErrorClass::InvalidRequest);
        assert_eq!(c(400, 400032), ErrorClass::Domain);
        assert_eq!(c(400, 400033), ErrorClass::Quota);
        assert_eq!(c(400, 400034), ErrorClass::Quota);
        assert_eq!(c(400, 400035), ErrorClass::Quota);
        assert_eq!(c(400, 400036), ErrorClass::InvalidRequest);
        assert_eq!(c(400, 400037), ErrorClass::InvalidRequest);
        assert_eq!(c(400, 400038), ErrorClass::Permission);
        assert_eq!(c(400, 400039), ErrorClass::InvalidRequest);
        let auth = classify(401, None, "bad token".into());
        assert_eq!(auth.class, ErrorClass::Credentials);
        assert!(auth.hint.unwrap().contains("QINIU_SECRET_KEY"));
        assert!(
            classify(400, Some(400038), String::new())
                .hint
                .unwrap()
                .contains("enable")
        );
    }

    #[test]
    fn reads_answers_and_errors() {
        let ok = RawResponse {
            status: 200,
            body: r#"{"code":200,"error":"success","requestId":"r1","urlQuotaDay":500,"urlSurplusDay":440,"dirQuotaDay":10,"dirSurplusDay":10,"invalidUrls":null}"#.into(),
        };
        let r: RefreshResponse = parse(REFRESH, ok).unwrap();
        assert_eq!(
            (r.request_id.as_str(), r.url_surplus_day),
            ("r1", Some(440))
        );
        let bad = RawResponse {
            status: 400,
            body: r#"{"code":400031,"error":"invalid url","invalidUrls":["ftp://x"]}"#.into(),
        };
        let err = parse::<RefreshResponse>(REFRESH, bad).err().unwrap();
        assert_eq!(err.code, "400031");
        assert_eq!(err.message, "invalid url (ftp://x)");
        // HTTP 200 with a non-200 code is still an error.
        let odd = RawResponse {
            status: 200,
            body: r#"{"code":500000,"error":"internal error"}"#.into(),
        };
        assert_eq!(
            parse::<RefreshResponse>(REFRESH, odd).err().unwrap().class,
            ErrorClass::Unavailable
        );
        let garbage = RawResponse {
            status: 200,
            body: "<html>".into(),
        };
        assert_eq!(
            parse::<RefreshResponse>(REFRESH, garbage)
                .err()
                .unwrap()
                .class,
            ErrorClass::BadResponse
        );
    }
}
