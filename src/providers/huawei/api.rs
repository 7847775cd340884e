//! Huawei Cloud CDN wire format: JSON requests signed with SDK-HMAC-SHA256, JSON answers,
//! errors as `error_code`/`error_msg` (at the top level from the API gateway, nested under
//! `error` from the CDN service).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::sign;
use crate::providers::{ErrorClass, ProviderError};

pub const DEFAULT_ENDPOINT: &str = "https://cdn.myhuaweicloud.com";

pub const REFRESH: &str = "/v1.0/cdn/content/refresh-tasks";
pub const PREHEAT: &str = "/v1.0/cdn/content/preheating-tasks";
pub const HISTORY: &str = "/v1.0/cdn/historytasks";
pub const QUOTA: &str = "/v1.0/cdn/quota";
/// ShowUrlTaskInfo: the tasks a URL was in, by time.
pub const URL_TASKS: &str = "/v1.0/cdn/contentgateway/url-tasks";
/// The largest page of ShowUrlTaskInfo.
pub const URL_TASKS_LIMIT: u32 = 100;

/// The path of one task's per-URL detail.
pub fn detail_path(task_id: &str) -> String {
    // Task ids are opaque; encode them so an odd one cannot change the path.
    let id = percent_encoding::utf8_percent_encode(task_id, percent_encoding::NON_ALPHANUMERIC);
    format!("{HISTORY}/{id}/detail")
}

/// A Huawei Cloud access key (permanent, or temporary with its security token).
pub struct Credentials {
    pub access_key: String,
    pub secret_key: SecretString,
    pub security_token: Option<SecretString>,
    /// The account id, sent as `X-Domain-Id` when known (a global service such as CDN
    /// finds it from the key otherwise).
    pub domain_id: Option<String>,
}

/// What came back, before it is read as a particular answer.
pub struct RawResponse {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: String,
}

/// One API call before signing.
pub struct Call<'a> {
    pub method: reqwest::Method,
    /// Below the endpoint's own path.
    pub path: &'a str,
    /// Decoded pairs.
    pub query: &'a [(String, String)],
    /// A JSON body, for posts.
    pub body: Option<Vec<u8>>,
}

/// The signed request for `call`. Every header sent, other than the ones the HTTP client
/// adds on its own, is signed.
pub fn build_request(
    http: &reqwest::Client,
    endpoint: &url::Url,
    creds: &Credentials,
    now: chrono::DateTime<chrono::Utc>,
    call: Call<'_>,
) -> reqwest::RequestBuilder {
    let Call {
        method,
        path,
        query,
        body,
    } = call;
    let mut url = endpoint.clone();
    let full_path = format!("{}{path}", endpoint.path().trim_end_matches('/'));
    url.set_path(&full_path);
    if query.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(query);
    }
    let mut headers = vec![
        ("Host".to_string(), crate::http::host_header(&url)),
        (
            sign::DATE_HEADER.to_string(),
            now.format(sign::DATE_FORMAT).to_string(),
        ),
    ];
    if body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    if let Some(domain) = &creds.domain_id {
        headers.push(("X-Domain-Id".into(), domain.clone()));
    }
    if let Some(token) = &creds.security_token {
        headers.push(("X-Security-Token".into(), token.expose_secret().to_string()));
    }
    let body = body.unwrap_or_default();
    let authorization = sign::authorize(
        &creds.access_key,
        creds.secret_key.expose_secret().as_bytes(),
        &sign::SigningRequest {
            method: method.as_str(),
            path: url.path(),
            query,
            headers: &headers,
            body: &body,
        },
    )
    .expect("the date header is always set");
    let mut request = http.request(method, url);
    for (name, value) in &headers {
        // reqwest sets Host from the URL, the same value that was signed.
        if name != "Host" {
            request = request.header(name, value);
        }
    }
    request.header("Authorization", authorization).body(body)
}

/// Sends a request and reads the whole answer. Only transport failures are errors here.
pub async fn send(request: reqwest::RequestBuilder) -> Result<RawResponse, ProviderError> {
    let answer = crate::http::exchange(request).await?;
    Ok(RawResponse {
        status: answer.status,
        request_id: answer.header("x-request-id").map(str::to_string),
        body: answer.body,
    })
}

/// The two shapes an error body takes.
#[derive(Deserialize, Default)]
struct ErrorFields {
    error_code: Option<String>,
    error_msg: Option<String>,
}

/// The error fields at the top and nested under `error`. Named one by one rather than
/// through `#[serde(flatten)]`, which would buffer every other field of every answer.
#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<String>,
    error_msg: Option<String>,
    error: Option<ErrorFields>,
}

/// Reads a successful answer as `T`, or the error the service returned. Success is any
/// 2xx answer without an error code.
pub fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    raw: RawResponse,
) -> Result<T, ProviderError> {
    let error = serde_json::from_str::<ErrorBody>(&raw.body)
        .ok()
        .map(|b| match b.error {
            Some(nested) if nested.error_code.is_some() => nested,
            _ => ErrorFields {
                error_code: b.error_code,
                error_msg: b.error_msg,
            },
        })
        .filter(|e| e.error_code.is_some());
    if (200..300).contains(&raw.status) && error.is_none() {
        return serde_json::from_str(&raw.body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadResponse,
                "BadResponse",
                format!("{what}: the answer could not be read ({e})"),
            )
        });
    }
    let mut err = match error {
        Some(e) => classify(
            raw.status,
            e.error_code.as_deref(),
            e.error_msg
                .unwrap_or_else(|| format!("HTTP status {}", raw.status)),
        ),
        None => classify(
            raw.status,
            None,
            format!(
                "{what}: HTTP status {} without a JSON error body",
                raw.status
            ),
        ),
    };
    if err.class == ErrorClass::BadResponse && raw.status < 300 {
        err.message = format!("{what}: {}", err.message);
    }
    err.request_id = raw.request_id;
    Err(err)
}

/// The class of a Huawei Cloud answer, and how to fix the final ones. Codes: the API
/// gateway's `APIGW.*` (authentication, throttling) and the CDN service's `CDN.*`.
pub fn classify(status: u16, code: Option<&str>, message: String) -> ProviderError {
    use ErrorClass::*;
    let credentials_hint = "the signature was refused: check that HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or the inputs access-key-id and access-key-secret) belong together, that a temporary key comes with its HUAWEICLOUD_SDK_SECURITY_TOKEN, and that the clock is right";
    let (class, hint): (ErrorClass, Option<&str>) = match code {
        Some("APIGW.0308") => (Throttled, None),
        Some(c) if c.starts_with("APIGW.03") && status == 401 => {
            (Credentials, Some(credentials_hint))
        }
        // CDN.0110: the day's quota cannot take the request; CDN.0005: an upper limit.
        Some("CDN.0110" | "CDN.0005") => (
            Quota,
            Some(
                "today's refresh or preheat quota is used up (see `cdn-refresh quota --provider huawei`): split the run over days, refresh directories instead of files, or ask Huawei Cloud for a higher quota (a ticket)",
            ),
        ),
        Some("CDN.0108") => (
            Domain,
            Some(
                "a host in the URLs is not a CDN domain of this Huawei Cloud account (or, for a status query, the task id is unknown): check the URLs, that the key belongs to the right account, and --enterprise-project-id",
            ),
        ),
        _ if status == 401 => (Credentials, Some(credentials_hint)),
        _ if status == 403 => (
            Permission,
            Some(
                "the key may not do this: grant the IAM user the CDN policy (for example CDN RefreshAndPreheatAccess) and, for an enterprise project, give its id with --enterprise-project-id",
            ),
        ),
        _ if status == 429 => (Throttled, None),
        _ if status >= 500 => (Unavailable, None),
        _ if (200..300).contains(&status) && code.is_none() => (BadResponse, None),
        _ => (InvalidRequest, None),
    };
    let code = code.map_or_else(|| format!("HTTP{status}"), str::to_string);
    let mut err = ProviderError::new(class, code, message);
    err.hint = hint.map(str::to_string);
    err
}

/// `mode` of a refresh: everything, or only what changed at the origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum RefreshMode {
    #[default]
    #[serde(rename = "all")]
    All,
    #[serde(rename = "detect_modify_refresh")]
    DetectModified,
}

#[derive(Serialize)]
pub struct RefreshRequest<'a> {
    pub refresh_task: RefreshTask<'a>,
}

#[derive(Serialize)]
pub struct RefreshTask<'a> {
    /// `file` or `directory`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: RefreshMode,
    /// The URLs are already percent-encoded: the service must not encode them again.
    pub zh_url_encode: bool,
    pub urls: &'a [String],
}

#[derive(Serialize)]
pub struct PreheatRequest<'a> {
    pub preheating_task: PreheatTask<'a>,
}

#[derive(Serialize)]
pub struct PreheatTask<'a> {
    pub zh_url_encode: bool,
    pub urls: &'a [String],
}

#[derive(Deserialize)]
pub struct RefreshResponse {
    pub refresh_task: String,
}

#[derive(Deserialize)]
pub struct PreheatResponse {
    pub preheating_task: String,
}

/// The largest detail page asked for; pages count from 1.
pub const DETAIL_PAGE_SIZE: u32 = 1000;

#[derive(Deserialize)]
pub struct DetailResponse {
    #[serde(default)]
    pub urls: Vec<DetailUrl>,
    #[serde(default)]
    pub total: u64,
}

#[derive(Deserialize)]
pub struct DetailUrl {
    pub url: String,
    pub status: String,
    #[serde(default)]
    pub fail_desc: Option<String>,
    #[serde(default)]
    pub fail_classify: Option<String>,
}

/// ShowUrlTaskInfo's answer: one record per (task, URL).
#[derive(Deserialize)]
pub struct UrlTasksResponse {
    #[serde(default)]
    pub result: Vec<UrlTask>,
}

#[derive(Deserialize)]
pub struct UrlTask {
    #[serde(deserialize_with = "id_text")]
    pub task_id: String,
    pub url: String,
}

/// A task id the service may send as a number or a string.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("a task id, not {other}"))),
    }
}

#[derive(Deserialize)]
pub struct QuotaResponse {
    #[serde(default)]
    pub quotas: Vec<QuotaItem>,
}

#[derive(Deserialize)]
pub struct QuotaItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub quota_limit: u64,
    #[serde(default)]
    pub used: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            request_id: Some("req-1".into()),
            body: body.into(),
        }
    }

    #[test]
    fn reads_answers_and_both_error_shapes() {
        let ok: RefreshResponse = parse("refresh", raw(200, r#"{"refresh_task":"t1"}"#)).unwrap();
        assert_eq!(ok.refresh_task, "t1");
        let gateway = parse::<RefreshResponse>(
            "refresh",
            raw(
                401,
                r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail"}"#,
            ),
        )
        .err()
        .unwrap();
        assert_eq!(gateway.class, ErrorClass::Credentials);
        assert_eq!(gateway.code, "APIGW.0301");
        assert!(gateway.hint.unwrap().contains("HUAWEICLOUD_SDK_SK"));
        assert_eq!(gateway.request_id.as_deref(), Some("req-1"));
        let nested = parse::<RefreshResponse>(
            "refresh",
            raw(
                400,
                r#"{"error":{"error_code":"CDN.0005","error_msg":"The upper limit is exceeded."}}"#,
            ),
        )
        .err()
        .unwrap();
        assert_eq!(
            (nested.class, nested.code.as_str()),
            (ErrorClass::Quota, "CDN.0005")
        );
        // An error code in a 200 answer is still an error.
        let odd = parse::<RefreshResponse>(
            "refresh",
            raw(
                200,
                r#"{"error":{"error_code":"CDN.0005","error_msg":"x"}}"#,
            ),
        );
        assert_eq!(odd.err().unwrap().class, ErrorClass::Quota);
        let garbage = parse::<RefreshResponse>("refresh", raw(200, "<html>"));
        assert_eq!(garbage.err().unwrap().class, ErrorClass::BadResponse);
        let throttled = parse::<RefreshResponse>(
            "refresh",
            raw(
                429,
                r#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#,
            ),
        );
        assert_eq!(throttled.err().unwrap().class, ErrorClass::Throttled);
        let down = parse::<RefreshResponse>("refresh", raw(503, ""));
        assert_eq!(down.err().unwrap().class, ErrorClass::Unavailable);
    }

    #[test]
    fn bodies_are_the_documented_shape() {
        let urls = vec!["https://a.example.com/x".to_string()];
        let body = serde_json::to_value(RefreshRequest {
            refresh_task: RefreshTask {
                kind: "directory",
                mode: RefreshMode::DetectModified,
                zh_url_encode: false,
                urls: &urls,
            },
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"refresh_task":{"type":"directory","mode":"detect_modify_refresh","zh_url_encode":false,"urls":["https://a.example.com/x"]}})
        );
        assert_eq!(detail_path("a/b"), "/v1.0/cdn/historytasks/a%2Fb/detail");
    }
}
