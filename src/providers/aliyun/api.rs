//! Alibaba Cloud CDN wire format: RPC actions sent as signed form posts, JSON answers.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::sign;
use crate::providers::{ErrorClass, ProviderError};

pub const API_VERSION: &str = "2018-05-10";
pub const DEFAULT_ENDPOINT: &str = "https://cdn.aliyuncs.com";

/// Which request signature the client uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    /// ACS3-HMAC-SHA256, what the current official SDK sends.
    #[default]
    V3,
    /// HMAC-SHA1 (`SignatureVersion=1.0`), what the legacy SDK and the seed script send.
    V1,
}

/// An AccessKey pair, with an STS token when the pair is temporary.
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: SecretString,
    pub security_token: Option<SecretString>,
}

/// One signed RPC call. Action parameters go in the form body, which keeps long
/// `ObjectPath` lists out of the URL.
pub struct Call<'a> {
    pub action: &'a str,
    pub params: Vec<(String, String)>,
}

/// What came back, before it is read as a particular response type.
pub struct RawResponse {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
}

fn form_body(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Builds the signed request for `call`. A new nonce and timestamp each time, so a retried
/// call is a new request to the server.
pub fn build_request(
    http: &reqwest::Client,
    endpoint: &url::Url,
    creds: &Credentials,
    version: SignatureVersion,
    call: Call<'_>,
) -> reqwest::RequestBuilder {
    let secret = creds.access_key_secret.expose_secret();
    let token = creds.security_token.as_ref().map(|t| t.expose_secret());
    match version {
        SignatureVersion::V1 => {
            let mut params = call.params;
            sign::v1_sign(
                "POST",
                &mut params,
                &sign::V1Common {
                    access_key_id: &creds.access_key_id,
                    security_token: token,
                    version: API_VERSION,
                    action: call.action,
                    timestamp: &timestamp(),
                    nonce: &nonce(),
                },
                secret,
            );
            http.post(endpoint.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_body(&params))
        }
        SignatureVersion::V3 => {
            let body = form_body(&call.params);
            let host = match endpoint.port() {
                Some(port) => format!("{}:{port}", endpoint.host_str().unwrap_or_default()),
                None => endpoint.host_str().unwrap_or_default().to_string(),
            };
            let mut headers = vec![
                ("host".to_string(), host),
                (
                    "content-type".to_string(),
                    "application/x-www-form-urlencoded".to_string(),
                ),
                ("x-acs-action".to_string(), call.action.to_string()),
                ("x-acs-version".to_string(), API_VERSION.to_string()),
                ("x-acs-date".to_string(), timestamp()),
                ("x-acs-signature-nonce".to_string(), nonce()),
                (
                    "x-acs-content-sha256".to_string(),
                    sign::sha256_hex(body.as_bytes()),
                ),
            ];
            if let Some(token) = token {
                headers.push(("x-acs-security-token".to_string(), token.to_string()));
                headers.push((
                    "x-acs-accesskey-id".to_string(),
                    creds.access_key_id.clone(),
                ));
            }
            let payload_hash = sign::sha256_hex(body.as_bytes());
            let (canonical, signed) = sign::v3_canonical_request(&sign::V3Request {
                method: "POST",
                path: endpoint.path(),
                query: &[],
                headers: &headers,
                payload_hash: &payload_hash,
            });
            let signature = sign::v3_signature(secret, &sign::v3_string_to_sign(&canonical));
            let mut request = http.post(endpoint.clone()).body(body);
            for (name, value) in headers.into_iter().filter(|(n, _)| n != "host") {
                request = request.header(name, value);
            }
            request.header(
                "authorization",
                sign::v3_authorization(&creds.access_key_id, &signed, &signature),
            )
        }
    }
}

/// Sends a request and reads the whole answer. Only transport failures are errors here.
pub async fn send(request: reqwest::RequestBuilder) -> Result<RawResponse, ProviderError> {
    let answer = crate::http::exchange(request).await?;
    // x-acs-retry-after is in milliseconds (tea-openapi reads it that way).
    let retry_after = answer
        .header("x-acs-retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis);
    Ok(RawResponse {
        status: answer.status,
        body: answer.body,
        retry_after,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// Reads a successful answer as `T`, or the error the service returned.
pub fn parse<T: serde::de::DeserializeOwned>(
    action: &str,
    raw: RawResponse,
) -> Result<T, ProviderError> {
    if (200..300).contains(&raw.status) {
        return serde_json::from_str(&raw.body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadResponse,
                "BadResponse",
                format!("{action}: the answer could not be read ({e})"),
            )
        });
    }
    let body: Option<ErrorBody> = serde_json::from_str(&raw.body).ok();
    let code = body
        .as_ref()
        .and_then(|b| b.code.clone())
        .unwrap_or_else(|| format!("HTTP{}", raw.status));
    let message = body
        .as_ref()
        .and_then(|b| b.message.clone())
        .unwrap_or_else(|| format!("HTTP status {} without an error body", raw.status));
    let mut err = classify(action, raw.status, &code, message);
    err.request_id = body.and_then(|b| b.request_id);
    err.retry_after = raw.retry_after.max(err.retry_after);
    Err(err)
}

/// The class of an Alibaba Cloud error code, and how to fix the final ones.
pub fn classify(action: &str, status: u16, code: &str, message: String) -> ProviderError {
    use ErrorClass::*;
    let (class, hint): (ErrorClass, Option<String>) = if code.starts_with("Throttling")
        || code == "TooManyRequests"
        || code.starts_with("QuotaPerMinuteExceeded")
        || code.starts_with("TooMany.")
        || code == "PreloadQueueFull"
        || code == "ServiceBusy"
    {
        (Throttled, None)
    } else if code == "SignatureNonceUsed" {
        // Every attempt carries a fresh nonce, so a repeat can only be a collision.
        (Transport, None)
    } else if code == "SignatureDoesNotMatch" || code == "IncompleteSignature" {
        (Credentials, Some("the AccessKey secret does not belong to the key id: check ALIBABA_CLOUD_ACCESS_KEY_SECRET (or the input access-key-secret)".into()))
    } else if code.starts_with("InvalidAccessKeyId") {
        (Credentials, Some("the key id is unknown or disabled: check ALIBABA_CLOUD_ACCESS_KEY_ID (or the input access-key-id)".into()))
    } else if code.starts_with("InvalidSecurityToken") {
        (Credentials, Some("the STS token is expired or belongs to another key: renew ALIBABA_CLOUD_SECURITY_TOKEN (or the input security-token) together with the key pair".into()))
    } else if code.starts_with("InvalidTimeStamp") {
        (Credentials, Some("the request time is more than 15 minutes off the server's: fix this machine's clock".into()))
    } else if code == "Forbidden.RAM" || code.starts_with("Forbidden") {
        (
            Permission,
            Some(format!(
                "grant the RAM user the permission cdn:{action} (for example the AliyunCDNFullAccess policy)"
            )),
        )
    } else if code == "OperationDenied" || code == "IllegalOperation" {
        (Permission, Some("the CDN service is not active or is suspended for this account: check it in the console".into()))
    } else if code.starts_with("QuotaExceeded") {
        (Quota, Some("today's quota is used up: it resets at midnight (UTC+8); run `cdn-refresh quota` to see what is left, or ask Alibaba Cloud for a higher quota".into()))
    } else if code.starts_with("InvalidDomain") {
        (Domain, Some("a host in the URLs is not an accelerated domain of this account (or is offline): check the URLs and that the key belongs to the right account".into()))
    } else if status >= 500 || code == "ServiceUnavailable" || code == "InternalError" {
        (Unavailable, None)
    } else if status == 429 {
        (Throttled, None)
    } else {
        (InvalidRequest, None)
    };
    let mut err = ProviderError::new(class, code, message);
    err.hint = hint;
    if code.starts_with("QuotaPerMinuteExceeded") {
        // The cap is per minute: retrying within a second or two cannot succeed.
        err.retry_after = Some(PER_MINUTE_RETRY);
    }
    err
}

/// The least wait before retrying a per-minute refresh cap.
pub const PER_MINUTE_RETRY: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshResponse {
    pub refresh_task_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PushResponse {
    pub push_task_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskByIdResponse {
    #[serde(default)]
    pub tasks: Vec<TaskEntry>,
}

/// DescribeRefreshTasks: the tasks are wrapped in `Tasks.CDNTask`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TasksResponse {
    #[serde(default)]
    pub tasks: CdnTasks,
}

#[derive(Deserialize, Default)]
pub struct CdnTasks {
    #[serde(rename = "CDNTask", default)]
    pub cdn_task: Vec<TaskEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEntry {
    pub task_id: String,
    pub object_path: String,
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    /// How far the task is, as a percentage string (`"99.37%"`).
    #[serde(default)]
    pub process: Option<String>,
}

/// DescribeRefreshQuota: every field is a decimal string.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QuotaResponse {
    pub url_quota: String,
    pub url_remain: String,
    pub dir_quota: String,
    pub dir_remain: String,
    pub preload_quota: String,
    pub preload_remain: String,
    #[serde(default)]
    pub regex_quota: Option<String>,
    #[serde(default)]
    pub regex_remain: Option<String>,
    #[serde(default)]
    pub ignore_params_quota: Option<String>,
    #[serde(default)]
    pub ignore_params_remain: Option<String>,
}

/// Splits `"id1,id2"` (one id per host) into ids.
pub fn split_task_ids(ids: &str) -> Vec<String> {
    ids.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_documented_codes() {
        let c =
            |code: &str, status| classify("RefreshObjectCaches", status, code, String::new()).class;
        assert_eq!(c("Throttling.User", 400), ErrorClass::Throttled);
        assert_eq!(c("TooManyRequests", 429), ErrorClass::Throttled);
        assert_eq!(
            c("QuotaPerMinuteExceeded.Refresh", 400),
            ErrorClass::Throttled
        );
        assert_eq!(c("ServiceUnavailable", 503), ErrorClass::Unavailable);
        assert_eq!(c("InternalError", 500), ErrorClass::Unavailable);
        assert_eq!(c("SignatureDoesNotMatch", 400), ErrorClass::Credentials);
        assert_eq!(
            c("InvalidAccessKeyId.NotFound", 404),
            ErrorClass::Credentials
        );
        assert_eq!(c("Forbidden.RAM", 403), ErrorClass::Permission);
        assert_eq!(c("QuotaExceeded.Refresh", 400), ErrorClass::Quota);
        assert_eq!(c("InvalidDomain.NotFound", 404), ErrorClass::Domain);
        assert_eq!(
            c("InvalidObjectPath.Malformed", 400),
            ErrorClass::InvalidRequest
        );
        let minute = classify(
            "RefreshObjectCaches",
            400,
            "QuotaPerMinuteExceeded.Refresh",
            String::new(),
        );
        assert_eq!(minute.retry_after, Some(PER_MINUTE_RETRY));
        let ram = classify("PushObjectCache", 403, "Forbidden.RAM", String::new());
        assert!(ram.hint.unwrap().contains("cdn:PushObjectCache"));
    }

    #[test]
    fn reads_error_bodies_and_retry_after() {
        let raw = RawResponse {
            status: 429,
            body: r#"{"Code":"TooManyRequests","Message":"slow down","RequestId":"R1"}"#.into(),
            retry_after: Some(Duration::from_millis(150)),
        };
        let err = parse::<RefreshResponse>("RefreshObjectCaches", raw)
            .err()
            .unwrap();
        assert_eq!(err.code, "TooManyRequests");
        assert_eq!(err.request_id.as_deref(), Some("R1"));
        assert_eq!(err.retry_after, Some(Duration::from_millis(150)));
        let garbage = RawResponse {
            status: 200,
            body: "<html>".into(),
            retry_after: None,
        };
        let err = parse::<RefreshResponse>("RefreshObjectCaches", garbage)
            .err()
            .unwrap();
        assert_eq!(err.class, ErrorClass::BadResponse);
    }

    #[test]
    fn splits_task_ids() {
        assert_eq!(split_task_ids("1, 2,,3"), vec!["1", "2", "3"]);
    }
}
