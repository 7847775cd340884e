//! Qiniu Fusion CDN: `POST /v2/tune/refresh`, `/v2/tune/prefetch` and their `/list` calls,
//! JSON in and out.
//!
//! A request goes: method (`POST`) → token ([`auth`]: `QBox` or `Qiniu`, verified with the
//! pure functions the client signs with) → `Content-Type: application/json` → a JSON object
//! → the operation ([`actions`]), the last two under one lock so a request is accepted whole
//! or not at all.
//!
//! Wire format: every answer is JSON with an `X-Reqid` header (the official Python SDK calls
//! an answer without one "server is not qiniu" and drops its body). Errors are
//! `{"code":N,"error":"…"}` with the HTTP status the code's first three digits (400031 →
//! 400), plus `invalidUrls`/`invalidDirs` when particular paths are at fault; a bad or
//! missing token is HTTP 401 `{"error":"bad token"}`. The emulator adds an
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
use base64::Engine;
use serde_json::{Map, Value, json};

use self::args::Knobs;
use self::state::QiniuState;
use super::args::{EmulatorArgs, FaultKind};
use super::registry::{self, Emulated};
use super::server::{self, Api, ApiCall, App};
use super::state::Inner;
use crate::providers::Operation;

/// What the emulator knows of Qiniu.
pub(crate) static SPEC: Emulated = Emulated {
    name: "qiniu",
    default_key: DEFAULT_KEY,
    knobs: registry::Knobs::of::<Knobs>(),
    validate,
    routes,
    banner,
    state: || Box::new(QiniuState::default()),
    quota_field: "qiniu_quota_used",
    client_flags: |_| Vec::new(),
};

/// The key pair accepted when none is given (`AK`, `SK`; `--qiniu-key`'s default).
const DEFAULT_KEY: (&str, &str) = ("testak", "testsk");

/// Its knobs, from the emulator's.
fn knobs(app: &App) -> &Knobs {
    app.args.knobs()
}

fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    [
        "/v2/tune/refresh",
        "/v2/tune/prefetch",
        "/v2/tune/refresh/list",
        "/v2/tune/prefetch/list",
    ]
    .into_iter()
    .fold(router, |router, path| {
        router.route(path, server::api::<Qiniu>())
    })
}

fn banner(args: &EmulatorArgs, url: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "qiniu: endpoint {url} (Fusion CDN /v2/tune/refresh, /v2/tune/prefetch and /list; QBox and Qiniu tokens)"
    )];
    for key in &args.knobs::<Knobs>().qiniu_keys {
        let secret = if (key.access_key.as_str(), key.secret_key.as_str()) == DEFAULT_KEY {
            format!("secret key {}", key.secret_key)
        } else {
            "secret key as given with --qiniu-key".to_string()
        };
        lines.push(format!("qiniu: access key {} ({secret})", key.access_key));
    }
    lines
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    let keys = &args.knobs::<Knobs>().qiniu_keys;
    if keys.is_empty() {
        bail!("--qiniu-key: give at least one key pair");
    }
    for (i, key) in keys.iter().enumerate() {
        if keys[..i].iter().any(|k| k.access_key == key.access_key) {
            bail!("--qiniu-key: access key {} is given twice", key.access_key);
        }
    }
    Ok(())
}

/// The Qiniu Fusion CDN API.
pub(crate) struct Qiniu;

/// The four emulated calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Refresh,
    Prefetch,
    RefreshList,
    PrefetchList,
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/v2/tune/refresh" => Endpoint::Refresh,
            "/v2/tune/prefetch" => Endpoint::Prefetch,
            "/v2/tune/refresh/list" => Endpoint::RefreshList,
            "/v2/tune/prefetch/list" => Endpoint::PrefetchList,
            _ => return None,
        })
    }

    /// The name the stats count requests under.
    fn action(self) -> &'static str {
        match self {
            Endpoint::Refresh => "qiniu:refresh",
            Endpoint::Prefetch => "qiniu:prefetch",
            Endpoint::RefreshList => "qiniu:refresh/list",
            Endpoint::PrefetchList => "qiniu:prefetch/list",
        }
    }

    fn operation(self) -> Operation {
        match self {
            Endpoint::Refresh | Endpoint::RefreshList => Operation::Refresh,
            Endpoint::Prefetch | Endpoint::PrefetchList => Operation::Prefetch,
        }
    }
}

/// A documented `code` with its `error` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code(pub u32, pub &'static str);

/// The codes the emulator answers with. Texts as the service spells them (docs, and the
/// `ErrorText` table of a public copy of Qiniu's fusion server code for 400000, 400039 and
/// 400080–400082).
pub(crate) mod codes {
    use super::Code;

    pub const INVALID_INPUT: Code = Code(400000, "invalid input");
    pub const INVALID_URL: Code = Code(400031, "invalid url");
    pub const INVALID_HOST: Code = Code(400032, "invalid host");
    pub const PREFETCH_URL_LIMIT: Code = Code(400033, "prefetch url limit error");
    pub const REFRESH_URL_LIMIT: Code = Code(400034, "refresh url limit error");
    pub const REFRESH_DIR_LIMIT: Code = Code(400035, "refresh dir limit error");
    pub const INVALID_REQUEST_ID: Code = Code(400036, "invalid request id");
    pub const URL_HAS_EXISTED: Code = Code(400037, "url has existed");
    pub const NO_DIR_AUTHORITY: Code = Code(400038, "refresh dir authority error");
    pub const COMMIT_TOO_MUCH: Code = Code(400039, "commit too much");
    pub const INVALID_START_TIME: Code = Code(400080, "invalid start time");
    pub const INVALID_END_TIME: Code = Code(400081, "invalid end time");
    pub const INVALID_TIME_RANGE: Code = Code(400082, "invalid time range");
    pub const USER_QPS_LIMITED: Code = Code(403024, "single user QPS Rate limited");
    pub const INTERNAL: Code = Code(500000, "internal error");
}

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    /// `None` for token failures, whose body is `{"error":"bad token"}` alone.
    pub code: Option<u32>,
    pub error: String,
    pub invalid_urls: Option<Vec<String>>,
    pub invalid_dirs: Option<Vec<String>>,
    /// What exactly was wrong, for the `X-Emulator-Reason` header.
    pub reason: Option<String>,
}

impl ApiError {
    /// A coded error; the HTTP status is the code's first three digits.
    pub fn code(code: Code) -> Self {
        let status = StatusCode::from_u16((code.0 / 1000) as u16)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code: Some(code.0),
            error: code.1.to_string(),
            invalid_urls: None,
            invalid_dirs: None,
            reason: None,
        }
    }

    /// HTTP 401 `{"error":"bad token"}`: no, a malformed, an unknown or a wrong token.
    pub fn bad_token(reason: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: None,
            error: "bad token".into(),
            invalid_urls: None,
            invalid_dirs: None,
            reason: Some(reason.into()),
        }
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Names the offending paths (an empty side is left out of the body).
    pub fn naming(mut self, urls: Vec<String>, dirs: Vec<String>) -> Self {
        self.invalid_urls = Some(urls).filter(|v| !v.is_empty());
        self.invalid_dirs = Some(dirs).filter(|v| !v.is_empty());
        self
    }

    /// The key of the stats' `errors`: `qiniu:400031`, `qiniu:401` for token failures.
    fn stats_key(&self) -> String {
        match self.code {
            Some(code) => format!("qiniu:{code}"),
            None => format!("qiniu:{}", self.status.as_u16()),
        }
    }
}

impl Api for Qiniu {
    fn action(call: &ApiCall) -> String {
        Endpoint::from_path(call.uri.path())
            .map_or("qiniu:", Endpoint::action)
            .to_string()
    }

    fn fault(_call: &ApiCall, kind: FaultKind) -> Response {
        // A throttled request looks exactly like the service's own rate limit, so a client
        // exercises its real retry path.
        let err = match kind {
            FaultKind::Throttle => ApiError::code(codes::USER_QPS_LIMITED),
            _ => ApiError::code(codes::INTERNAL),
        };
        render_error(&err.because(format!("injected fault: {}", kind.as_str())))
    }

    async fn handle(app: Arc<App>, call: ApiCall) -> Response {
        serve(&app, &call)
    }
}

fn serve(app: &App, call: &ApiCall) -> Response {
    let endpoint = Endpoint::from_path(call.uri.path()).expect("routed by path");
    let result = process(app, call, endpoint);
    let mut inner = app.lock();
    match result {
        Ok(body) => {
            Inner::count(&mut inner.stats.succeeded, endpoint.action());
            drop(inner);
            render(StatusCode::OK, Value::Object(body), None)
        }
        Err(err) => {
            Inner::count(&mut inner.stats.errors, &err.stats_key());
            drop(inner);
            render_error(&err)
        }
    }
}

fn process(app: &App, call: &ApiCall, endpoint: Endpoint) -> Result<Map<String, Value>, ApiError> {
    if call.method != Method::POST {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: Some(405),
            error: "method not allowed".into(),
            invalid_urls: None,
            invalid_dirs: None,
            reason: Some(format!("{} takes POST only", call.uri.path())),
        });
    }
    let now = (chrono::Utc::now(), Instant::now());
    auth::verify(app, call, now.0)?;
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::code(codes::INVALID_INPUT).because(format!(
            "Content-Type must be application/json, not {content_type:?}"
        )));
    }
    let body = match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(body)) => body,
        Ok(_) => {
            return Err(
                ApiError::code(codes::INVALID_INPUT).because("the body is not a JSON object")
            );
        }
        Err(err) => {
            return Err(ApiError::code(codes::INVALID_INPUT)
                .because(format!("the body is not JSON: {err}")));
        }
    };
    let mut inner = app.lock();
    let mut ctx = actions::Ctx {
        app,
        inner: &mut inner,
        now,
        endless_pages: call.endless_pages,
    };
    actions::run(&mut ctx, endpoint, &body)
}

/// `X-Reqid`: 16 URL-safe base64 characters, like the service's.
fn new_reqid() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..12])
}

fn render(status: StatusCode, body: Value, reason: Option<&str>) -> Response {
    let mut resp = Response::new(body.to_string().into());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&new_reqid()) {
        headers.insert("x-reqid", id);
    }
    if let Some(reason) = reason {
        server::set_reason(headers, reason);
    }
    resp
}

fn render_error(err: &ApiError) -> Response {
    let mut body = Map::new();
    if let Some(code) = err.code {
        body.insert("code".into(), json!(code));
    }
    body.insert("error".into(), json!(err.error));
    // As the service's Go structs with `omitempty`: only the lists that name something.
    if let Some(urls) = &err.invalid_urls {
        body.insert("invalidUrls".into(), json!(urls));
    }
    if let Some(dirs) = &err.invalid_dirs {
        body.insert("invalidDirs".into(), json!(dirs));
    }
    render(err.status, Value::Object(body), err.reason.as_deref())
}
