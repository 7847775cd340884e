//! The HTTP side, provider-neutral: routing by path, the pipeline every API request goes
//! through (count → `--slow` → latency → fault → provider), and the admin endpoint.
//!
//! Each provider lives on its own paths of the one address, which its declaration adds to
//! the router ([`super::registry::Emulated::routes`], each path served by [`api`]), so the
//! fault, latency and stats machinery is written once here and a provider only implements
//! [`Api`].
//!
//! Where each fault acts: most replace the answer before the provider sees the request (it
//! consumes nothing); `lose-answer` lets the provider serve it in full and then drops the
//! connection; `endless-pages` is passed to the provider ([`ApiCall::endless_pages`]), whose
//! listing calls fabricate the pages. `--slow` holds a request before the provider counts it
//! anywhere, so it reaches the rate windows late, as a request delayed on the way does.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::args::{EmulatorArgs, FaultKind};
use super::edge;
use super::faults;
use super::state::Inner;
use super::stats::Stats;

/// Largest request body read (1,000 paths of 1,024 characters, percent-encoded, fit).
const MAX_BODY: usize = 8 << 20;

/// Shared by every request.
pub(crate) struct App {
    pub args: EmulatorArgs,
    /// Accelerated domains, lower-case.
    pub domains: BTreeSet<String>,
    /// Where the `redirect` fault sends clients.
    redirect_port: u16,
    inner: Mutex<Inner>,
    /// Tasks failed so far per path (`--fail-times`).
    failed: Mutex<std::collections::HashMap<String, u32>>,
    /// When the emulator started (the edge's request log counts from it).
    pub born: std::time::Instant,
}

impl App {
    /// `addr`: the address the emulator listens on.
    pub fn new(args: EmulatorArgs, addr: SocketAddr) -> Self {
        let domains = args
            .domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        let inner = Inner::new(&args);
        let redirect_port = args
            .redirect_port
            .unwrap_or_else(|| addr.port().wrapping_add(1));
        App {
            args,
            domains,
            redirect_port,
            inner: Mutex::new(inner),
            failed: Mutex::new(std::collections::HashMap::new()),
            born: std::time::Instant::now(),
        }
    }

    /// Whether a task for `path` fails: it contains a `--fail-matching` text, and (with
    /// `--fail-times N`) fewer than N tasks for it failed before.
    pub fn fails(&self, path: &str) -> bool {
        if !self
            .args
            .fail_matching
            .iter()
            .any(|t| path.contains(t.as_str()))
        {
            return false;
        }
        let Some(times) = self.args.fail_times else {
            return true;
        };
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        let count = failed.entry(path.to_string()).or_insert(0);
        *count += 1;
        *count <= times
    }

    /// The state. Never held across an `.await`; a panic elsewhere does not poison it for
    /// good, since every update is a small self-contained step.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> Stats {
        self.lock().snapshot(chrono::Utc::now())
    }
}

/// One API request, body read in full.
pub(crate) struct ApiCall {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// An `endless-pages` fault hit this request: a paged listing call answers a full page
    /// of fabricated, still-running entries for what was asked, with a total of
    /// [`ENDLESS_TOTAL`]; any other call ignores it.
    pub endless_pages: bool,
}

impl ApiCall {
    /// The headers `names` as the request carries them, for a signature check (every value
    /// of a repeated header; HTTP/2 carries the host as the URI's authority, not as a
    /// header). `Err`: the first one the request lacks.
    pub fn signed_headers(&self, names: &[&str]) -> Result<Vec<(String, String)>, String> {
        let mut headers = Vec::new();
        for name in names {
            let mut values: Vec<String> = self
                .headers
                .get_all(*name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            if values.is_empty() && name.eq_ignore_ascii_case("host") {
                values.extend(self.uri.authority().map(|a| a.to_string()));
            }
            if values.is_empty() {
                return Err(format!("signed header {name} is not in the request"));
            }
            headers.extend(values.into_iter().map(|v| (name.to_string(), v)));
        }
        Ok(headers)
    }
}

/// The total an `endless-pages` listing reports: more than any client can page through.
pub(crate) const ENDLESS_TOTAL: u64 = 1_000_000_000_000_000;

/// The `n`th URL an `endless-pages` listing fabricates, on one of the account's domains.
pub(crate) fn endless_url(app: &App, n: u64) -> String {
    let domain = app.domains.first().map_or("example.com", String::as_str);
    format!("http://{domain}/endless-pages/{n}.js")
}

/// What a provider's API implements; the pipeline around it is shared.
pub(crate) trait Api: Send + Sync + 'static {
    /// The name the stats count this request under, read without validating anything.
    fn action(call: &ApiCall) -> String;
    /// The answer of an injected `throttle` or `error` fault, in the provider's wire format
    /// (the other faults are the same for every provider, or handled by [`Api::handle`]).
    fn fault(call: &ApiCall, kind: FaultKind) -> Response;
    /// Authenticates and serves the request.
    fn handle(app: Arc<App>, call: ApiCall) -> impl Future<Output = Response> + Send;
}

/// The stats endpoint, every provider's paths as its declaration adds them, and a fallback.
pub(crate) fn router(app: Arc<App>) -> Router {
    let router = Router::new().route("/_emulator/stats", get(stats));
    let router = super::EMULATED
        .iter()
        .fold(router, |router, e| (e.routes)(router))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such endpoint in the emulator\n") });
    let router = if app.args.origin.is_some() {
        router.layer(axum::middleware::from_fn_with_state(
            app.clone(),
            edge_or_api,
        ))
    } else {
        router
    };
    router.with_state(app)
}

/// With `--origin`: a request for one of the `--domains` (by Host) is a visitor's, served by
/// the edge whatever its path; any other goes on to the APIs (see [`super::edge`]).
async fn edge_or_api(
    State(app): State<Arc<App>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let host = edge::request_host(req.uri(), req.headers()).filter(|h| app.domains.contains(h));
    let Some(host) = host else {
        return next.run(req).await;
    };
    let method = req.method();
    let head = method == Method::HEAD;
    {
        let at_ms = app.born.elapsed().as_millis() as u64;
        let seen = edge::EdgeRequest::of(method, &host, req.uri(), req.headers(), at_ms);
        let mut inner = app.lock();
        if inner.stats.edge.requests.len() < edge::MAX_LOGGED {
            inner.stats.edge.requests.push(seen);
        }
    }
    if !(head || method == Method::GET) {
        app.lock().stats.edge.refused += 1;
        return edge::refuse(method, None);
    }
    let key = match edge::request_key(host, req.uri()) {
        Ok(key) => key,
        Err(why) => {
            app.lock().stats.edge.refused += 1;
            return edge::refuse(method, Some(why));
        }
    };
    let answer = app.lock().edge_get(key, std::time::Instant::now());
    match answer {
        Some(answer) => edge::respond(answer, head),
        None => next.run(req).await,
    }
}

/// What serves a path of provider `P`: any method, through the [`pipeline`].
pub(crate) fn api<P: Api>() -> MethodRouter<Arc<App>> {
    any(pipeline::<P>)
}

async fn stats(State(app): State<Arc<App>>) -> axum::Json<Stats> {
    axum::Json(app.stats())
}

/// The pipeline: count, hold a `--slow` request, wait the configured latency, maybe inject
/// a fault, else serve.
async fn pipeline<P: Api>(
    State(app): State<Arc<App>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    };
    let mut call = ApiCall {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        endless_pages: false,
    };
    let held = {
        let mut inner = app.lock();
        Inner::count(&mut inner.stats.requests, &P::action(&call));
        let held = inner.slow.roll();
        if held.is_some() {
            Inner::count(&mut inner.stats.faults, "slow");
        }
        held
    };
    if let Some(delay) = held {
        tokio::time::sleep(delay).await;
    }
    if !app.args.latency.is_zero() {
        tokio::time::sleep(app.args.latency).await;
    }
    let fault = {
        let mut inner = app.lock();
        let fault = inner.faults.roll();
        if let Some(kind) = fault {
            Inner::count(&mut inner.stats.faults, kind.as_str());
        }
        fault
    };
    let Some(kind) = fault else {
        return P::handle(app, call).await;
    };
    match kind {
        FaultKind::Drop => {
            conn.kill();
            // Never written: the connection refuses all output from now on.
            StatusCode::OK.into_response()
        }
        FaultKind::LoseAnswer => {
            // Served in full first: the provider has accepted it when the answer is lost.
            let answer = P::handle(app, call).await;
            conn.kill();
            answer
        }
        FaultKind::EndlessPages => {
            call.endless_pages = true;
            P::handle(app, call).await
        }
        FaultKind::Garbage => faults::garbage(),
        FaultKind::Trickle => faults::trickle(),
        FaultKind::Huge => faults::huge(app.args.huge_body_bytes, true),
        FaultKind::HugeChunked => faults::huge(app.args.huge_body_bytes, false),
        FaultKind::Redirect => faults::redirect(app.redirect_port, &call.uri),
        FaultKind::Throttle | FaultKind::Error => P::fault(&call, kind),
    }
}

/// A handle on one client connection, so that a `drop` fault can close it without
/// answering: once killed, the connection's reads see end-of-file and its writes fail, and
/// hyper closes the socket without sending a byte.
#[derive(Clone)]
pub(crate) struct Conn {
    killed: Arc<AtomicBool>,
    server_closed: Arc<AtomicBool>,
}

impl Conn {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }

    fn is_dead(&self) -> bool {
        self.killed.load(Ordering::SeqCst) || self.server_closed.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().conn.clone()
    }
}

/// A TCP listener whose connections can be killed one by one, or all at shutdown.
pub(crate) struct KillableListener {
    inner: TcpListener,
    closed: Arc<AtomicBool>,
}

impl KillableListener {
    pub fn new(inner: TcpListener, closed: Arc<AtomicBool>) -> Self {
        KillableListener { inner, closed }
    }
}

impl Listener for KillableListener {
    type Io = KillableIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (KillableIo, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        let conn = Conn {
            killed: Arc::new(AtomicBool::new(false)),
            server_closed: self.closed.clone(),
        };
        (KillableIo { stream, conn }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

pub(crate) struct KillableIo {
    stream: TcpStream,
    conn: Conn,
}

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "dropped by the emulator")
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.conn.is_dead() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.conn.is_dead() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.is_dead() {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Longest `X-Emulator-Reason`, in characters.
const MAX_REASON: usize = 2000;

/// Sets `X-Emulator-Reason`, the emulator's own explanation of a refusal (the provider's
/// body keeps its documented wording). Header values must be visible ASCII: anything else is
/// escaped, and a long reason is cut.
pub(super) fn set_reason(headers: &mut HeaderMap, reason: &str) {
    let mut ascii: String = reason.escape_default().take(MAX_REASON).collect();
    if ascii.len() == MAX_REASON {
        ascii.push_str("...");
    }
    if let Ok(value) = header::HeaderValue::from_str(&ascii) {
        headers.insert("x-emulator-reason", value);
    }
}
