//! Huawei Cloud CDN (the API the official SDKs call "v2", on `/v1.0/cdn/...` paths), JSON in
//! and out, behind Huawei's API gateway.
//!
//! A request goes: path and method (the gateway's `APIGW.0101` for anything it does not
//! publish) → AK/SK signature ([`auth`]: `SDK-HMAC-SHA256`, verified with the pure functions
//! the client signs with) → the gateway's rate limit (one window per API for the account,
//! `--huawei-requests-per-second`) → the operation ([`actions`]), the last two under one lock
//! so a request is accepted whole or not at all.
//!
//! | call | path |
//! |---|---|
//! | CreateRefreshTasks | `POST /v1.0/cdn/content/refresh-tasks` |
//! | CreatePreheatingTasks | `POST /v1.0/cdn/content/preheating-tasks` |
//! | ShowHistoryTasks | `GET /v1.0/cdn/historytasks` |
//! | ShowHistoryTaskDetails | `GET /v1.0/cdn/historytasks/{history_tasks_id}/detail` |
//! | ShowQuota | `GET /v1.0/cdn/quota` |
//! | ShowUrlTaskInfo | `GET /v1.0/cdn/contentgateway/url-tasks` |
//!
//! Wire format: every answer is JSON with an `X-Request-Id` header (32 hex digits, like the
//! gateway's; the SDK reads it into the response). Errors come in two shapes, as the SDK's
//! `exception_handler.py` reads both:
//!
//! * the gateway's, at the top level: `{"error_code":"APIGW.0301","error_msg":"…",
//!   "request_id":"…"}` (authentication 401, throttling 429, unknown API 404);
//! * the CDN service's, nested: `{"error":{"error_code":"CDN.0108","error_msg":"…"}}`.
//!
//! The CDN service answers most business errors with **HTTP 200** and the error body, as its
//! error-code table lists them (status column 200 for `CDN.0005`…`CDN.0414`; 400 for
//! `CDN.0001`, 401 `CDN.0002`, 403 `CDN.0004`/`0020`/`0021`, 404 `CDN.0003`, 500 `CDN.0000`)
//! and as Huawei's own Terraform provider works around for `CDN.0108` on the task detail
//! call ("the query API still returns a `200` status code"). A client must therefore look
//! for `error` in every answer, not only in non-2xx ones. The emulator adds an
//! `X-Emulator-Reason` header saying what exactly was wrong; the body stays the service's.

mod actions;
mod args;
mod auth;
mod state;

use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use self::args::Knobs;
use self::state::HuaweiState;
use super::args::{EmulatorArgs, FaultKind};
use super::registry::{self, Emulated};
use super::server::{self, Api, ApiCall, App};
use super::state::Inner;

/// What the emulator knows of Huawei Cloud.
pub(crate) static SPEC: Emulated = Emulated {
    name: "huawei",
    default_key: DEFAULT_KEY,
    knobs: registry::Knobs::of::<Knobs>(),
    validate,
    routes,
    banner,
    state: || Box::new(HuaweiState::default()),
    quota_field: "huawei_quota_used",
    client_flags: |_| Vec::new(),
};

/// The key pair accepted when none is given (`AK`, `SK`; `--huawei-key`'s default).
const DEFAULT_KEY: (&str, &str) = ("HWTESTAK", "HWTESTSK");

/// Its knobs, from the emulator's.
fn knobs(app: &App) -> &Knobs {
    app.args.knobs()
}

/// Everything under `/v1.0/`: the gateway answers the paths it does not publish itself.
fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router.route("/v1.0/{*rest}", server::api::<Huawei>())
}

fn banner(args: &EmulatorArgs, url: &str) -> Vec<String> {
    let knobs = args.knobs::<Knobs>();
    let mut lines = vec![format!(
        "huawei: endpoint {url} (CDN /v1.0/cdn/content/refresh-tasks, preheating-tasks, historytasks, quota, contentgateway/url-tasks; SDK-HMAC-SHA256)"
    )];
    for key in &knobs.huawei_keys {
        let secret = if (key.access_key.as_str(), key.secret_key.as_str()) == DEFAULT_KEY {
            format!("secret key {}", key.secret_key)
        } else {
            "secret key as given with --huawei-key".to_string()
        };
        let token = if key.security_token.is_some() {
            ", temporary: with X-Security-Token"
        } else {
            ""
        };
        lines.push(format!(
            "huawei: access key {} ({secret}{token})",
            key.access_key
        ));
    }
    lines.push(format!(
        "huawei: daily quotas file_refresh {}, dir_refresh {}, preheat {}; {} calls per second per API",
        knobs.huawei_file_refresh_quota,
        knobs.huawei_dir_refresh_quota,
        knobs.huawei_preheat_quota,
        knobs.huawei_requests_per_second
    ));
    lines
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    let keys = &args.knobs::<Knobs>().huawei_keys;
    if keys.is_empty() {
        bail!("--huawei-key: give at least one key pair");
    }
    for (i, key) in keys.iter().enumerate() {
        if keys[..i].iter().any(|k| k.access_key == key.access_key) {
            bail!("--huawei-key: access key {} is given twice", key.access_key);
        }
    }
    Ok(())
}

/// The Huawei Cloud CDN API.
pub(crate) struct Huawei;

/// The emulated calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Refresh,
    Preheat,
    HistoryTasks,
    /// The task id, percent-decoded.
    HistoryTaskDetail(String),
    Quota,
    UrlTasks,
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/v1.0/cdn/content/refresh-tasks" => Endpoint::Refresh,
            "/v1.0/cdn/content/preheating-tasks" => Endpoint::Preheat,
            "/v1.0/cdn/historytasks" => Endpoint::HistoryTasks,
            "/v1.0/cdn/quota" => Endpoint::Quota,
            "/v1.0/cdn/contentgateway/url-tasks" => Endpoint::UrlTasks,
            _ => {
                let id = path
                    .strip_prefix("/v1.0/cdn/historytasks/")?
                    .strip_suffix("/detail")?;
                if id.is_empty() || id.contains('/') {
                    return None;
                }
                let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
                Endpoint::HistoryTaskDetail(id.into_owned())
            }
        })
    }

    fn method(&self) -> Method {
        match self {
            Endpoint::Refresh | Endpoint::Preheat => Method::POST,
            _ => Method::GET,
        }
    }

    /// The name the stats count requests under (and the rate window's).
    fn action(&self) -> &'static str {
        match self {
            Endpoint::Refresh => "huawei:refresh",
            Endpoint::Preheat => "huawei:preheat",
            Endpoint::HistoryTasks => "huawei:historytasks",
            Endpoint::HistoryTaskDetail(_) => "huawei:historytasks/detail",
            Endpoint::Quota => "huawei:quota",
            Endpoint::UrlTasks => "huawei:url-tasks",
        }
    }
}

/// A documented error: HTTP status, code, message, and who answers it (the gateway at the
/// top level, the CDN service nested under `error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code {
    pub status: u16,
    pub code: &'static str,
    pub msg: &'static str,
    pub gateway: bool,
}

/// The codes the emulator answers with. [C] confirmed, [I] inferred, as in the reference
/// notes; every choice is explained where it is made.
pub(crate) mod codes {
    use super::Code;

    /// [C] API gateway error table: a path the gateway does not publish.
    pub const NO_SUCH_API: Code = Code {
        status: 404,
        code: "APIGW.0101",
        msg: "The API does not exist or has not been published in the environment.",
        gateway: true,
    };
    /// [C] API gateway error table: "The request method does not exist."
    pub const NO_SUCH_METHOD: Code = Code {
        status: 404,
        code: "APIGW.0101",
        msg: "The API does not exist.",
        gateway: true,
    };
    /// [C] Every AK/SK failure is 401 APIGW.0301; the message varies (see `auth`).
    pub const AUTH: Code = Code {
        status: 401,
        code: "APIGW.0301",
        msg: "Incorrect IAM authentication information: verify aksk signature fail",
        gateway: true,
    };
    /// [C] 429 APIGW.0308; the message the gateway adds (`: policy user over
    /// ratelimit,limit:N,time:1 second`) is appended where the limit is known.
    pub const THROTTLED: Code = Code {
        status: 429,
        code: "APIGW.0308",
        msg: "The throttling threshold has been reached",
        gateway: true,
    };
    /// [C code and status, CDN error table: "参数格式错误（格式错误或者缺失参数）"; I the English
    /// wording]. Malformed bodies, bad values, too many URLs in one request, a URL that is
    /// not a full http(s) URL, a directory in a preheat.
    pub const BAD_PARAMETER: Code = Code {
        status: 400,
        code: "CDN.0001",
        msg: "The parameter format is incorrect or a required parameter is missing.",
        gateway: false,
    };
    /// [C code, message and HTTP 200, CDN error table; Terraform provider for the detail
    /// call]. A URL whose host is not one of the account's domains, and an unknown task id.
    pub const NOT_TENANT_DOMAIN: Code = Code {
        status: 200,
        code: "CDN.0108",
        msg: "The URL domain name is not the acceleration domain name of the current tenant.",
        gateway: false,
    };
    /// [C code, message and HTTP 200, CDN error table: "URL数超出预热刷新限制… 请提交工单申请扩大
    /// 刷新预热配额"; I that it is the daily-quota answer: the fix it names is a bigger
    /// quota]. The request does not fit in what is left of today's quota.
    pub const URL_QUOTA: Code = Code {
        status: 200,
        code: "CDN.0110",
        msg: "The number of URLs to be preheated or refreshed exceeds the upper limit.",
        gateway: false,
    };
    /// [C code and status 500, CDN error table "系统内部错误"; I the English wording]. The
    /// injected `error` fault.
    pub const INTERNAL: Code = Code {
        status: 500,
        code: "CDN.0000",
        msg: "Internal system error.",
        gateway: false,
    };
}

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub code: Code,
    /// Replaces the code's message (the gateway's messages carry details).
    pub msg: Option<String>,
    /// What exactly was wrong, for the `X-Emulator-Reason` header.
    pub reason: Option<String>,
}

impl ApiError {
    pub fn new(code: Code) -> Self {
        ApiError {
            code,
            msg: None,
            reason: None,
        }
    }

    /// 400 CDN.0001 because of `reason`.
    pub fn bad_parameter(reason: impl Into<String>) -> Self {
        ApiError::new(codes::BAD_PARAMETER).because(reason)
    }

    /// 401 APIGW.0301 with this message.
    pub fn auth(msg: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::new(codes::AUTH).saying(msg).because(reason)
    }

    pub fn saying(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    fn message(&self) -> &str {
        self.msg.as_deref().unwrap_or(self.code.msg)
    }

    /// The key of the stats' `errors`: `huawei:APIGW.0301`, `huawei:CDN.0108`.
    fn stats_key(&self) -> String {
        format!("huawei:{}", self.code.code)
    }
}

impl Api for Huawei {
    fn action(call: &ApiCall) -> String {
        Endpoint::from_path(call.uri.path())
            .map_or("huawei:", |e| e.action())
            .to_string()
    }

    fn fault(_call: &ApiCall, kind: FaultKind) -> Response {
        // A throttled request looks exactly like the gateway's own rate limit, so a client
        // exercises its real retry path.
        let err = match kind {
            FaultKind::Throttle => ApiError::new(codes::THROTTLED),
            _ => ApiError::new(codes::INTERNAL),
        };
        render_error(
            &err.because(format!("injected fault: {}", kind.as_str())),
            &new_request_id(),
        )
    }

    async fn handle(app: Arc<App>, call: ApiCall) -> Response {
        serve(&app, &call)
    }
}

fn serve(app: &App, call: &ApiCall) -> Response {
    let endpoint = Endpoint::from_path(call.uri.path());
    let request_id = new_request_id();
    let result = process(app, call, endpoint.as_ref());
    let mut inner = app.lock();
    match result {
        Ok(body) => {
            let action = endpoint.as_ref().map_or("huawei:", Endpoint::action);
            Inner::count(&mut inner.stats.succeeded, action);
            drop(inner);
            render(StatusCode::OK, Value::Object(body), &request_id, None)
        }
        Err(err) => {
            Inner::count(&mut inner.stats.errors, &err.stats_key());
            drop(inner);
            render_error(&err, &request_id)
        }
    }
}

fn process(
    app: &App,
    call: &ApiCall,
    endpoint: Option<&Endpoint>,
) -> Result<Map<String, Value>, ApiError> {
    // The gateway routes before it authenticates: an unpublished API is 404 to anyone.
    let endpoint = endpoint.ok_or_else(|| {
        ApiError::new(codes::NO_SUCH_API).because(format!(
            "the emulator publishes no Huawei API at {}",
            call.uri.path()
        ))
    })?;
    if call.method != endpoint.method() {
        return Err(ApiError::new(codes::NO_SUCH_METHOD).because(format!(
            "{} takes {} only",
            call.uri.path(),
            endpoint.method()
        )));
    }
    let now = (chrono::Utc::now(), Instant::now());
    let query = auth::query_pairs(call);
    auth::verify(app, call, &query, now.0)?;
    // Parsed before taking the lock; a bad body is reported only once the gateway has let
    // the request through, as the service behind it is what reads bodies.
    let body = match endpoint {
        Endpoint::Refresh | Endpoint::Preheat => Some(actions::json_body(call)),
        _ => None,
    };
    let mut inner = app.lock();
    // "Single-tenant call frequency": one window per API for the account, whichever key
    // signed. A request the gateway admits counts even if the service then refuses it.
    let limit = knobs(app).huawei_requests_per_second;
    let window = format!("huawei\n{}", endpoint.action());
    if !inner.rates.admit(&window, limit, now.1) {
        return Err(ApiError::new(codes::THROTTLED)
            .saying(format!(
                "{}: policy user over ratelimit,limit:{limit},time:1 second",
                codes::THROTTLED.msg
            ))
            .because(format!(
                "more than {limit} {} calls in the last second",
                endpoint.action()
            )));
    }
    let mut ctx = actions::Ctx {
        app,
        inner: &mut inner,
        now,
        endless_pages: call.endless_pages,
    };
    actions::run(&mut ctx, endpoint, &query, body.transpose()?.as_ref())
}

/// `X-Request-Id`: 32 lower-case hex digits, like the gateway's.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn render(status: StatusCode, body: Value, request_id: &str, reason: Option<&str>) -> Response {
    let mut resp = Response::new(body.to_string().into());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    if let Some(reason) = reason {
        server::set_reason(headers, reason);
    }
    resp
}

fn render_error(err: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(err.code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if err.code.gateway {
        json!({
            "error_code": err.code.code,
            "error_msg": err.message(),
            "request_id": request_id,
        })
    } else {
        json!({ "error": { "error_code": err.code.code, "error_msg": err.message() } })
    };
    render(status, body, request_id, err.reason.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(
            Endpoint::from_path("/v1.0/cdn/content/refresh-tasks"),
            Some(Endpoint::Refresh)
        );
        assert_eq!(
            Endpoint::from_path("/v1.0/cdn/historytasks/ff8080ab/detail"),
            Some(Endpoint::HistoryTaskDetail("ff8080ab".into()))
        );
        assert_eq!(
            Endpoint::from_path("/v1.0/cdn/contentgateway/url-tasks"),
            Some(Endpoint::UrlTasks)
        );
        assert_eq!(
            Endpoint::from_path("/v1.0/cdn/historytasks/a%20b/detail"),
            Some(Endpoint::HistoryTaskDetail("a b".into()))
        );
        for path in [
            "/v1.0/cdn/historytasks//detail",
            "/v1.0/cdn/historytasks/a/b/detail",
            "/v1.0/cdn/quota/",
            "/v1.0/cdn/refreshtasks",
        ] {
            assert_eq!(Endpoint::from_path(path), None, "{path}");
        }
    }

    #[test]
    fn errors_take_the_shape_of_who_answers() {
        let id = "0123456789abcdef0123456789abcdef";
        let gateway = render_error(&ApiError::new(codes::AUTH), id);
        assert_eq!(gateway.status(), StatusCode::UNAUTHORIZED);
        let service = render_error(&ApiError::new(codes::NOT_TENANT_DOMAIN), id);
        // The CDN service's business errors are HTTP 200.
        assert_eq!(service.status(), StatusCode::OK);
        assert_eq!(service.headers()["x-request-id"], id);
    }
}
