//! AWS CloudFront invalidations (API 2020-05-31), REST-XML on `/2020-05-31/...`.
//!
//! | call | path |
//! |---|---|
//! | CreateInvalidation | `POST /2020-05-31/distribution/{Id}/invalidation` |
//! | ListInvalidations | `GET /2020-05-31/distribution/{Id}/invalidation` |
//! | GetInvalidation | `GET /2020-05-31/distribution/{Id}/invalidation/{InvalidationId}` |
//! | ListDistributions | `GET /2020-05-31/distribution` (each with its sites as `Aliases`) |
//!
//! A request goes: path and method → SigV4 ([`auth`], verified with the pure functions the
//! client signs with) → the call rate (one window per API, `--cloudfront-requests-per-second`,
//! 400 `Throttling` beyond) → the operation ([`actions`]), the last two under one lock.
//!
//! Errors are CloudFront's XML, `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/>
//! </Error><RequestId/></ErrorResponse>`, with `x-amzn-RequestId`; the emulator adds
//! `X-Emulator-Reason`. Each distribution serves sites of `--domains`
//! (`--cloudfront-distribution`, else one per domain): an invalidation's paths are evicted
//! from those sites at the edge when it completes.

mod actions;
mod args;
mod auth;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use self::args::Knobs;
use self::state::CloudFrontState;
use super::args::{EmulatorArgs, FaultKind};
use super::registry::{self, Emulated};
use super::server::{self, Api, ApiCall, App};
use super::state::Inner;
use crate::providers::cloudfront::api::{VERSION, XMLNS, escape};

pub(crate) static SPEC: Emulated = Emulated {
    name: "cloudfront",
    default_key: DEFAULT_KEY,
    knobs: registry::Knobs::of::<Knobs>(),
    validate,
    routes,
    banner,
    state: || Box::new(CloudFrontState::default()),
    quota_field: "cloudfront_quota_used",
    client_flags,
};

/// `--distribution-id` with every distribution the emulator serves.
fn client_flags(args: &EmulatorArgs) -> Vec<String> {
    vec!["--distribution-id".into(), distribution_flag(args)]
}

/// `HOST=ID,…` of every distribution.
fn distribution_flag(args: &EmulatorArgs) -> String {
    distributions(args)
        .iter()
        .flat_map(|(id, hosts)| hosts.iter().map(move |h| format!("{h}={id}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The key accepted when none is given (`--cloudfront-key`'s default).
const DEFAULT_KEY: (&str, &str) = ("AKIDCDNREFRESHTEST", "cloudfront-test-secret");

fn knobs(app: &App) -> &Knobs {
    app.args.knobs()
}

fn routes(router: Router<Arc<App>>) -> Router<Arc<App>> {
    router.route(&format!("/{VERSION}/{{*rest}}"), server::api::<CloudFront>())
}

/// Distribution id → the hosts it serves (lower case).
pub(crate) fn distributions(args: &EmulatorArgs) -> BTreeMap<String, Vec<String>> {
    let given = &args.knobs::<Knobs>().cloudfront_distributions;
    if !given.is_empty() {
        return given
            .iter()
            .map(|d| (d.id.clone(), d.hosts.clone()))
            .collect();
    }
    args.domains
        .iter()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| (args::default_id(&d), vec![d]))
        .collect()
}

fn banner(args: &EmulatorArgs, url: &str) -> Vec<String> {
    let knobs = args.knobs::<Knobs>();
    let mut lines = vec![format!(
        "cloudfront: endpoint {url} (/{VERSION}/distribution/ID/invalidation; SigV4, region us-east-1)"
    )];
    for key in &knobs.cloudfront_keys {
        let secret = if (key.id.as_str(), key.secret.as_str()) == DEFAULT_KEY {
            format!("secret access key {}", key.secret)
        } else {
            "secret access key as given with --cloudfront-key".to_string()
        };
        let token = if key.session_token.is_some() {
            ", temporary: with X-Amz-Security-Token"
        } else {
            ""
        };
        lines.push(format!("cloudfront: access key id {} ({secret}{token})", key.id));
    }
    lines.push(format!(
        "cloudfront: --distribution-id {}",
        distribution_flag(args)
    ));
    lines.push(format!(
        "cloudfront: at most {} file paths and {} wildcard paths in progress per distribution; {} calls per second per API",
        knobs.cloudfront_max_paths_in_progress,
        knobs.cloudfront_max_wildcards_in_progress,
        knobs.cloudfront_requests_per_second
    ));
    lines
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    let knobs = args.knobs::<Knobs>();
    if knobs.cloudfront_keys.is_empty() {
        bail!("--cloudfront-key: give at least one key");
    }
    for (i, key) in knobs.cloudfront_keys.iter().enumerate() {
        if knobs.cloudfront_keys[..i].iter().any(|k| k.id == key.id) {
            bail!("--cloudfront-key: access key {} is given twice", key.id);
        }
    }
    let domains: Vec<String> = args
        .domains
        .iter()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for d in &knobs.cloudfront_distributions {
        if knobs
            .cloudfront_distributions
            .iter()
            .filter(|o| o.id == d.id)
            .count()
            > 1
        {
            bail!("--cloudfront-distribution: {} is given twice", d.id);
        }
        for h in &d.hosts {
            if !domains.contains(h) {
                bail!("--cloudfront-distribution: {h} is not among --domains");
            }
            if let Some(other) = seen.insert(h, &d.id) {
                bail!(
                    "--cloudfront-distribution: {h} is served by both {other} and {}",
                    d.id
                );
            }
        }
    }
    if knobs.cloudfront_distributions.is_empty() {
        let ids = distributions(args);
        if ids.len() < domains.iter().filter(|d| !d.is_empty()).count() {
            bail!(
                "--domains: two domains give the same CloudFront distribution id; name them with --cloudfront-distribution ID=HOST"
            );
        }
    }
    Ok(())
}

/// The CloudFront API.
pub(crate) struct CloudFront;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Distributions,
    /// POST create, GET list.
    Invalidations(String),
    Invalidation(String, String),
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        if path == format!("/{VERSION}/distribution") {
            return Some(Endpoint::Distributions);
        }
        let rest = path.strip_prefix(&format!("/{VERSION}/distribution/"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let segment = |s: &str| {
            (!s.is_empty()).then(|| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        };
        match parts.as_slice() {
            [id, "invalidation"] => Some(Endpoint::Invalidations(segment(id)?)),
            [id, "invalidation", inv] => Some(Endpoint::Invalidation(segment(id)?, segment(inv)?)),
            _ => None,
        }
    }

    fn action(&self, method: &Method) -> &'static str {
        match (self, method) {
            (Endpoint::Distributions, _) => "cloudfront:ListDistributions",
            (Endpoint::Invalidations(_), &Method::POST) => "cloudfront:CreateInvalidation",
            (Endpoint::Invalidations(_), _) => "cloudfront:ListInvalidations",
            (Endpoint::Invalidation(..), _) => "cloudfront:GetInvalidation",
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// What exactly was wrong, for `X-Emulator-Reason`.
    pub reason: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        ApiError::new(400, "InvalidArgument", message)
    }
}

impl Api for CloudFront {
    fn action(call: &ApiCall) -> String {
        Endpoint::from_path(call.uri.path())
            .map_or("cloudfront:", |e| e.action(&call.method))
            .to_string()
    }

    fn fault(_call: &ApiCall, kind: FaultKind) -> Response {
        let err = match kind {
            FaultKind::Throttle => ApiError::new(400, "Throttling", "Rate exceeded"),
            _ => ApiError::new(500, "ServiceUnavailable", "CloudFront is unavailable."),
        };
        render_error(&err.because(format!("injected fault: {}", kind.as_str())))
    }

    async fn handle(app: Arc<App>, call: ApiCall) -> Response {
        let endpoint = Endpoint::from_path(call.uri.path());
        let result = process(&app, &call, endpoint.as_ref());
        let mut inner = app.lock();
        match result {
            Ok(answer) => {
                let action = endpoint
                    .as_ref()
                    .map_or("cloudfront:", |e| e.action(&call.method));
                Inner::count(&mut inner.stats.succeeded, action);
                drop(inner);
                render(answer)
            }
            Err(err) => {
                Inner::count(&mut inner.stats.errors, &format!("cloudfront:{}", err.code));
                drop(inner);
                render_error(&err)
            }
        }
    }
}

/// A successful answer: status, XML body, and a `Location` for a created invalidation.
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

fn process(app: &App, call: &ApiCall, endpoint: Option<&Endpoint>) -> Result<Answer, ApiError> {
    let endpoint = endpoint.ok_or_else(|| {
        ApiError::new(404, "NotFound", "The requested resource does not exist.")
            .because(format!("the emulator serves no CloudFront call at {}", call.uri.path()))
    })?;
    let allowed = match endpoint {
        Endpoint::Invalidations(_) => call.method == Method::POST || call.method == Method::GET,
        Endpoint::Invalidation(..) | Endpoint::Distributions => call.method == Method::GET,
    };
    if !allowed {
        return Err(ApiError::new(405, "MethodNotAllowed", "The method is not allowed.")
            .because(format!("{} takes no {}", call.uri.path(), call.method)));
    }
    let now = (chrono::Utc::now(), Instant::now());
    auth::verify(app, call, now.0)?;
    let mut inner = app.lock();
    let limit = knobs(app).cloudfront_requests_per_second;
    let action = endpoint.action(&call.method);
    if !inner.rates.admit(&format!("cloudfront\n{action}"), limit, now.1) {
        return Err(ApiError::new(400, "Throttling", "Rate exceeded")
            .because(format!("more than {limit} {action} calls in the last second")));
    }
    let host = call
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| call.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let mut ctx = actions::Ctx {
        app,
        inner: &mut inner,
        now,
        endless_pages: call.endless_pages,
        base: format!("http://{host}"),
    };
    actions::run(&mut ctx, endpoint, call)
}

fn render(answer: Answer) -> Response {
    let mut resp = Response::new(answer.body.into());
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(location) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    resp
}

fn render_error(err: &ApiError) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let kind = if err.status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"#,
        err.code,
        escape(&err.message)
    );
    let mut resp = Response::new(body.into());
    *resp.status_mut() =
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(reason) = &err.reason {
        server::set_reason(headers, reason);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(
            Endpoint::from_path("/2020-05-31/distribution/E1/invalidation"),
            Some(Endpoint::Invalidations("E1".into()))
        );
        assert_eq!(
            Endpoint::from_path("/2020-05-31/distribution/E1/invalidation/I2"),
            Some(Endpoint::Invalidation("E1".into(), "I2".into()))
        );
        for bad in [
            "/2020-05-31/distribution//invalidation",
            "/2020-05-31/distribution/E1/invalidation/",
            "/2020-05-31/distribution/E1",
            "/2019-03-26/distribution/E1/invalidation",
        ] {
            assert_eq!(Endpoint::from_path(bad), None, "{bad}");
        }
    }
}
