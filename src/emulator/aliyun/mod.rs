//! Alibaba Cloud CDN, API version 2018-05-10, RPC style on `/`.
//!
//! A request goes: parse (query ∪ form body) → `Action`/`Version` → signature (V1 or V3,
//! [`auth`]) → RAM denial → per-key rate limit → the operation ([`actions`]), all under one
//! lock so a request is accepted whole or not at all. V3 answers are JSON; V1 answers follow
//! `Format` (XML when absent, as the real gateway does).

mod actions;
mod args;
mod auth;
mod regex;
mod state;

use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use self::args::Knobs;
use self::state::AliyunState;
use super::args::{EmulatorArgs, FaultKind};
use super::registry::{self, Emulated};
use super::server::{self, Api, ApiCall, App};
use super::state::Inner;
use super::xml;

/// What the emulator knows of Alibaba Cloud.
pub(crate) static SPEC: Emulated = Emulated {
    name: "aliyun",
    default_key: DEFAULT_KEY,
    knobs: registry::Knobs::of::<Knobs>(),
    validate,
    routes,
    banner,
    state: || Box::new(AliyunState::default()),
    quota_field: "quota_used",
    client_flags: |_| Vec::new(),
};

/// The credential accepted when none is given (`--aliyun-key`'s default).
const DEFAULT_KEY: (&str, &str) = ("testid", "testsecret");

/// Its knobs, from the emulator's.
fn knobs(app: &App) -> &Knobs {
    app.args.knobs()
}

fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router.route("/", server::api::<Aliyun>())
}

fn banner(args: &EmulatorArgs, url: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "aliyun: endpoint {url}/ (CDN API 2018-05-10, V1 and V3 signatures)"
    )];
    for key in &args.knobs::<Knobs>().aliyun_keys {
        let secret = if (key.id.as_str(), key.secret.as_str()) == DEFAULT_KEY {
            format!("secret {}", key.secret)
        } else {
            "secret as given with --aliyun-key".to_string()
        };
        let token = if key.security_token.is_some() {
            ", with STS token"
        } else {
            ""
        };
        lines.push(format!(
            "aliyun: access key id {} ({secret}{token})",
            key.id
        ));
    }
    lines
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    let knobs = args.knobs::<Knobs>();
    if knobs.aliyun_keys.is_empty() {
        bail!("--aliyun-key: give at least one credential");
    }
    for (i, key) in knobs.aliyun_keys.iter().enumerate() {
        if knobs.aliyun_keys[..i].iter().any(|k| k.id == key.id) {
            bail!("--aliyun-key: access key id {} is given twice", key.id);
        }
    }
    for action in &knobs.deny_actions {
        if !ACTIONS.contains(&action.as_str()) {
            bail!(
                "--deny-action {action}: not an emulated action (expected one of {})",
                ACTIONS.join(", ")
            );
        }
    }
    Ok(())
}

pub(crate) const VERSION: &str = "2018-05-10";

/// The operations emulated. Any other action is `InvalidAction.NotFound`.
pub(crate) const ACTIONS: &[&str] = &[
    "RefreshObjectCaches",
    "PushObjectCache",
    "DescribeRefreshTaskById",
    "DescribeRefreshTasks",
    "DescribeRefreshQuota",
];

/// The Alibaba Cloud CDN API.
pub(crate) struct Aliyun;

impl Api for Aliyun {
    fn action(call: &ApiCall) -> String {
        RpcRequest::parse(call)
            .action()
            .unwrap_or_default()
            .to_string()
    }

    fn fault(call: &ApiCall, kind: FaultKind) -> Response {
        let req = RpcRequest::parse(call);
        let err = match kind {
            FaultKind::Throttle => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            _ => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The request processing has failed due to some unknown error, exception or failure.",
            ),
        };
        let mut resp = render_error(req.format, &err, &new_request_id());
        if kind == FaultKind::Throttle {
            // Milliseconds, as the official SDKs read it.
            resp.headers_mut()
                .insert("x-acs-retry-after", HeaderValue::from_static("100"));
        }
        resp
    }

    async fn handle(app: Arc<App>, call: ApiCall) -> Response {
        serve(&app, &call)
    }
}

/// Response format: V3 always JSON; V1 per `Format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// An RPC request with its parameters decoded.
pub(crate) struct RpcRequest<'a> {
    pub call: &'a ApiCall,
    /// Query-string parameters, in order.
    pub query: Vec<(String, String)>,
    /// `application/x-www-form-urlencoded` body parameters, in order.
    pub form: Vec<(String, String)>,
    /// The `Authorization` header: present means a V3-signed request.
    pub authorization: Option<String>,
    format: Format,
}

impl<'a> RpcRequest<'a> {
    fn parse(call: &'a ApiCall) -> Self {
        let decode = |bytes: &[u8]| -> Vec<(String, String)> {
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        let query = decode(call.uri.query().unwrap_or("").as_bytes());
        // Only a form body carries parameters, as on the real gateway.
        let is_form = call
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let form = if is_form { decode(&call.body) } else { vec![] };
        let authorization = call
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut req = RpcRequest {
            call,
            query,
            form,
            authorization,
            format: Format::Xml,
        };
        let json = req.authorization.is_some()
            || req
                .param("Format")
                .is_some_and(|f| f.eq_ignore_ascii_case("json"));
        req.format = if json { Format::Json } else { Format::Xml };
        req
    }

    fn is_v3(&self) -> bool {
        self.authorization.is_some()
    }

    /// A parameter from the query, else from the form body.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Query and form parameters together (what V1 signs).
    pub fn all_params(&self) -> Vec<(String, String)> {
        self.query.iter().chain(&self.form).cloned().collect()
    }

    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.call
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn action(&self) -> Option<String> {
        if self.is_v3() {
            self.header("x-acs-action")
        } else {
            self.param("Action").map(str::to_string)
        }
    }

    fn version(&self) -> Option<String> {
        if self.is_v3() {
            self.header("x-acs-version")
        } else {
            self.param("Version").map(str::to_string)
        }
    }
}

/// An error answer of the API.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// `AccessDeniedDetail`, for RAM denials.
    pub access_denied: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            access_denied: None,
        }
    }

    /// HTTP 400, the status of almost every client error of this API.
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A mandatory operation parameter is absent.
    pub fn missing(name: &str) -> Self {
        ApiError::bad(
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

fn serve(app: &App, call: &ApiCall) -> Response {
    let req = RpcRequest::parse(call);
    let request_id = new_request_id();
    let action = req.action().unwrap_or_default();
    let mut inner = app.lock();
    match process(app, &mut inner, &req, &action) {
        Ok(body) => {
            Inner::count(&mut inner.stats.succeeded, &action);
            drop(inner);
            render(
                req.format,
                &format!("{action}Response"),
                StatusCode::OK,
                body,
                &request_id,
            )
        }
        Err(err) => {
            Inner::count(&mut inner.stats.errors, &err.code);
            drop(inner);
            render_error(req.format, &err, &request_id)
        }
    }
}

/// Everything after parsing; runs under the state lock.
fn process(
    app: &App,
    inner: &mut Inner,
    req: &RpcRequest<'_>,
    action: &str,
) -> Result<Map<String, Value>, ApiError> {
    let now = (chrono::Utc::now(), Instant::now());
    if req.call.method != Method::GET && req.call.method != Method::POST {
        return Err(ApiError::bad(
            "UnsupportedHTTPMethod",
            "This API supports only GET and POST requests.",
        ));
    }
    if action.is_empty() {
        return Err(ApiError::missing("Action"));
    }
    match req.version() {
        None => return Err(ApiError::missing("Version")),
        Some(v) if v != VERSION => {
            return Err(ApiError::bad(
                "InvalidVersion",
                "Specified parameter Version is not valid.",
            ));
        }
        Some(_) => {}
    }
    if !ACTIONS.contains(&action) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    let caller = auth::verify(app, inner, req, now)?;
    let knobs = knobs(app);
    if knobs.deny_actions.iter().any(|a| a == action) {
        let permission = format!("cdn:{action}");
        let mut err = ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden.RAM",
            format!(
                "User not authorized to operate on the specified resource, or this API doesn't support RAM. Missing permission: {permission}."
            ),
        );
        err.access_denied = Some(json!({
            "AuthAction": permission,
            "AuthPrincipalDisplayName": caller.key_id,
            "AuthPrincipalType": "SubUser",
            "NoPermissionType": "ImplicitDeny",
            "PolicyType": "AccountLevelIdentityBasedPolicy",
        }));
        return Err(err);
    }
    let qps = match action {
        "RefreshObjectCaches" => knobs.refresh_qps,
        "PushObjectCache" => knobs.push_qps,
        "DescribeRefreshTaskById" => knobs.describe_by_id_qps,
        "DescribeRefreshQuota" => knobs.quota_qps,
        _ => knobs.describe_tasks_qps,
    };
    let window = format!("aliyun\n{}\n{action}", caller.key_id);
    if !inner.rates.admit(&window, qps, now.1) {
        return Err(ApiError::bad(
            "Throttling.User",
            "Request was denied due to user flow control.",
        ));
    }
    let mut ctx = actions::Ctx { app, inner, now };
    actions::run(&mut ctx, action, req)
}

fn render(
    format: Format,
    root: &str,
    status: StatusCode,
    mut body: Map<String, Value>,
    request_id: &str,
) -> Response {
    body.insert("RequestId".into(), Value::String(request_id.to_string()));
    let body = Value::Object(body);
    let (content_type, text) = match format {
        Format::Json => ("application/json;charset=utf-8", body.to_string()),
        Format::Xml => ("text/xml;charset=utf-8", xml::to_xml(root, &body)),
    };
    let mut resp = Response::new(text.into());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", id);
    }
    resp
}

fn render_error(format: Format, err: &ApiError, request_id: &str) -> Response {
    let mut body = Map::new();
    body.insert("HostId".into(), json!("cdn.aliyuncs.com"));
    body.insert("Code".into(), json!(err.code));
    body.insert("Message".into(), json!(err.message));
    body.insert(
        "Recommend".into(),
        json!(format!(
            "https://api.aliyun.com/troubleshoot?q={}&product=Cdn&requestId={request_id}",
            err.code
        )),
    );
    if let Some(detail) = &err.access_denied {
        body.insert("AccessDeniedDetail".into(), detail.clone());
    }
    render(format, "Error", err.status, body, request_id)
}
