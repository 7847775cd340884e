//! The built-in emulator of the provider APIs: `cdn-refresh emulator`, the demo and the test
//! suite run against it. It is part of the product, not a mock, so it is as strict as the
//! real services: it verifies signatures with the same pure functions the clients sign with,
//! and enforces the documented per-request limits, daily quotas, rate limits and error codes.
//! Faults (throttling, 5xx, dropped connections, garbage bodies) can be injected to rehearse
//! a pipeline's retries, and so can a hostile or unlucky server (answers lost after the
//! provider accepted the request, bodies that never end or are huge, redirects, listings
//! that page forever, requests that arrive late).
//!
//! Layout: the framework, which names no provider: [`args`] (the knobs every provider
//! shares, and each provider's own added from the declarations), `registry` (what a provider
//! declares, [`EMULATED`] the list), `server` (routing from the declarations, latency,
//! faults, the stats endpoint), `faults` (the answers of the faults every provider shares),
//! `dice` (which request a fault or `--slow` hits), `state` (what the emulator remembers,
//! each provider's own state kept by type), `stats` (the stats endpoint's JSON), `windows`,
//! `quota` and `nonces` (the counting a provider's limits and signatures need), `xml` (the
//! RPC APIs' XML answers), `edge` (the CDN edge of `--origin`: visitors routed by Host, the
//! origin folder, a cache that stays stale until a covering refresh task completes; each
//! provider says what its tasks cover with [`edge::Scope`], through `Inner::cover`). Then one folder per provider with the same files: `mod.rs` (the
//! wire format and its declaration, `SPEC`: routes, banner lines, checks), `args` (its
//! knobs), `state` (its tasks and quotas), `auth` (verifies signatures) and `actions` (the
//! operations): `aliyun` (Alibaba Cloud CDN, RPC on `/`), `qiniu` (Qiniu Fusion CDN,
//! `/v2/tune/...`) and `huawei` (Huawei Cloud CDN behind its API gateway, `/v1.0/cdn/...`).

pub mod args;
mod dice;
mod edge;
mod faults;
mod nonces;
mod quota;
mod registry;
mod secret;
mod server;
mod state;
mod stats;
mod windows;
mod xml;

/// Every emulated provider, one line each: its folder, and its [`registry::Emulated`]
/// (`SPEC`) in [`EMULATED`]. The same names, in the same order, as the clients'
/// `providers::register!`.
macro_rules! register {
    ($($name:ident),+ $(,)?) => {
        $(mod $name;)+
        /// The emulated providers, in the order the flags, routes and banner list them.
        pub(crate) static EMULATED: &[&registry::Emulated] = &[$(&$name::SPEC),+];
    };
}

register! {
    aliyun,
    qiniu,
    huawei,
    cloudfront,
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::providers::ProviderKind;

pub use args::{EmulatorArgs, FaultKind, FaultRate, FaultSpec, ProviderKnobs, SlowSpec};
pub use stats::{Accepted, EdgeRequest, EdgeStats, QuotaUsed, Stats};

use server::{App, Conn, KillableListener};

/// The key pair (id, secret) the emulator accepts for `provider` when none is given.
pub fn default_key(provider: ProviderKind) -> Option<(&'static str, &'static str)> {
    registry::named(provider.name()).map(|e| e.default_key)
}

/// A running emulator. Dropping it (or [`Running::shutdown`]) stops it.
pub struct Running {
    addr: SocketAddr,
    app: Arc<App>,
    closed: Arc<AtomicBool>,
    task: JoinHandle<()>,
    /// The edge's clock (`--origin`).
    clock: Option<JoinHandle<()>>,
}

/// Binds `args.listen` and serves in a background task.
pub async fn start(args: EmulatorArgs) -> anyhow::Result<Running> {
    validate(&args)?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::new(args, addr));
    let closed = Arc::new(AtomicBool::new(false));
    let service = server::router(app.clone()).into_make_service_with_connect_info::<Conn>();
    let listener = KillableListener::new(listener, closed.clone());
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, service).await {
            tracing::error!("emulator stopped: {err}");
        }
    });
    let clock = app
        .args
        .origin
        .is_some()
        .then(|| tokio::spawn(edge_clock(app.clone())));
    Ok(Running {
        addr,
        app,
        closed,
        task,
        clock,
    })
}

/// Applies the edge's completions when they are due, requests or not: a prefetch fills the
/// cache from the origin as it is when the task completes.
async fn edge_clock(app: Arc<App>) {
    let Some(wake) = app.lock().edge.as_ref().map(|e| e.wake.clone()) else {
        return;
    };
    loop {
        let notified = wake.notified();
        let next = app.lock().edge_advance(std::time::Instant::now());
        let wait = next.map_or(std::time::Duration::from_secs(3600), |at| {
            at.saturating_duration_since(std::time::Instant::now())
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = notified => {}
        }
    }
}

/// Starts the emulator, prints the banner (first line `listening on http://HOST:PORT`) and
/// serves until Ctrl-C.
pub async fn run_cli(args: EmulatorArgs) -> anyhow::Result<()> {
    let running = start(args).await?;
    {
        // A reader that stops after the first line (`| head -1`) closes the pipe: the
        // emulator goes on serving, it does not panic.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", running.banner()).and_then(|_| out.flush());
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    running.shutdown();
    Ok(())
}

impl Running {
    /// `http://HOST:PORT`, the endpoint of every emulated API.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What a user needs to point a client at the emulator. The first line is exactly
    /// `listening on http://HOST:PORT`. Secrets given on the command line are not repeated.
    pub fn banner(&self) -> String {
        let url = self.url();
        let args = &self.app.args;
        let mut lines = vec![format!("listening on {url}")];
        for e in EMULATED {
            lines.extend((e.banner)(args, &url));
        }
        let domains: Vec<&str> = args.domains.iter().map(|d| d.trim()).collect();
        lines.push(format!("domains: {}", domains.join(", ")));
        if let Some(origin) = &args.origin {
            lines.push(format!(
                "edge: GET {url}/PATH with Host: DOMAIN serves DIR/DOMAIN/PATH (else DIR/PATH) from {}; X-Cache HIT until a refresh task covering the URL completes",
                origin.display()
            ));
        }
        lines.push(format!("stats: {url}/_emulator/stats"));
        lines.join("\n")
    }

    /// The flags a client of `provider` needs beside the key to use the emulated account.
    pub fn client_flags(&self, provider: ProviderKind) -> Vec<String> {
        registry::named(provider.name()).map_or_else(Vec::new, |e| (e.client_flags)(&self.app.args))
    }

    /// Same as `GET /_emulator/stats`.
    pub async fn stats(&self) -> Stats {
        self.app.stats()
    }

    /// Stops serving: the listener closes and open connections fail on their next use.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        self.task.abort();
        if let Some(clock) = &self.clock {
            clock.abort();
        }
    }
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    if !args.domains.iter().any(|d| !d.trim().is_empty()) {
        bail!("--domains: give at least one domain");
    }
    if let Some(origin) = &args.origin {
        if !origin.is_dir() {
            bail!("--origin: {} is not a folder", origin.display());
        }
        // The edge is routed by Host: API clients send the emulator's address.
        for d in args
            .domains
            .iter()
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
        {
            let bare = d.trim_start_matches('[').trim_end_matches(']');
            if d.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok() {
                bail!(
                    "--domains: with --origin, {d} cannot be a domain: the edge takes requests by Host, and API clients reach the emulator by its address; name the site, e.g. example.com"
                );
            }
            if !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                || d.starts_with('.')
            {
                bail!("--domains: with --origin, {d:?} is not a host name");
            }
        }
    }
    EMULATED.iter().try_for_each(|e| (e.validate)(args))
}
