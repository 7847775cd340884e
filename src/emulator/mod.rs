//! The built-in emulator of the provider APIs: `cdn-refresh emulator`, the demo and the test
//! suite run against it. It is part of the product, not a mock, so it is as strict as the
//! real services: it verifies signatures with the same pure functions the clients sign with,
//! and enforces the documented per-request limits, daily quotas, rate limits and error codes.
//! Faults (throttling, 5xx, dropped connections, garbage bodies) can be injected to rehearse
//! a pipeline's retries, and so can a hostile or unlucky server (answers lost after the
//! provider accepted the request, bodies that never end or are huge, redirects, listings
//! that page forever, requests that arrive late).
//!
//! Layout: [`args`] (the knobs), `server` (routing, latency, faults, the stats endpoint;
//! provider-neutral), `faults` (the answers of the faults every provider shares), `state`
//! (tasks, quotas, rate windows, nonces, stats), one folder per provider with the same files
//! (`mod.rs` the wire format, `auth` verifies signatures, `actions` implements the
//! operations): `aliyun` (Alibaba Cloud CDN, RPC on `/`), `qiniu` (Qiniu Fusion CDN,
//! `/v2/tune/...`) and `huawei` (Huawei Cloud CDN behind its API gateway, `/v1.0/cdn/...`),
//! and `xml` (the RPC APIs' XML answers).

mod aliyun;
pub mod args;
mod faults;
mod huawei;
mod qiniu;
mod server;
mod state;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use args::{
    AliyunKey, EmulatorArgs, FaultKind, FaultRate, FaultSpec, HuaweiKey, QiniuKey, SlowSpec,
};
pub use state::{Accepted, Stats};

use server::{App, Conn, KillableListener};

/// The credential accepted when none is given; the only one whose secret the banner shows.
const DEFAULT_ALIYUN_KEY: (&str, &str) = ("testid", "testsecret");
/// The Qiniu key pair accepted when none is given (`AK`, `SK`); shown in the banner.
pub const DEFAULT_QINIU_KEY: (&str, &str) = ("testak", "testsk");
/// The Huawei Cloud key pair accepted when none is given (`AK`, `SK`); shown in the banner.
pub const DEFAULT_HUAWEI_KEY: (&str, &str) = ("HWTESTAK", "HWTESTSK");

/// A running emulator. Dropping it (or [`Running::shutdown`]) stops it.
pub struct Running {
    addr: SocketAddr,
    app: Arc<App>,
    closed: Arc<AtomicBool>,
    task: JoinHandle<()>,
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
    Ok(Running {
        addr,
        app,
        closed,
        task,
    })
}

/// Starts the emulator, prints the banner (first line `listening on http://HOST:PORT`) and
/// serves until Ctrl-C.
pub async fn run_cli(args: EmulatorArgs) -> anyhow::Result<()> {
    let running = start(args).await?;
    println!("{}", running.banner());
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
        let mut lines = vec![
            format!("listening on {url}"),
            format!("aliyun: endpoint {url}/ (CDN API 2018-05-10, V1 and V3 signatures)"),
        ];
        for key in &args.aliyun_keys {
            let secret = if (key.id.as_str(), key.secret.as_str()) == DEFAULT_ALIYUN_KEY {
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
        lines.push(format!(
            "qiniu: endpoint {url} (Fusion CDN /v2/tune/refresh, /v2/tune/prefetch and /list; QBox and Qiniu tokens)"
        ));
        for key in &args.qiniu_keys {
            let secret = if (key.access_key.as_str(), key.secret_key.as_str()) == DEFAULT_QINIU_KEY
            {
                format!("secret key {}", key.secret_key)
            } else {
                "secret key as given with --qiniu-key".to_string()
            };
            lines.push(format!("qiniu: access key {} ({secret})", key.access_key));
        }
        lines.push(format!(
            "huawei: endpoint {url} (CDN /v1.0/cdn/content/refresh-tasks, preheating-tasks, historytasks, quota, contentgateway/url-tasks; SDK-HMAC-SHA256)"
        ));
        for key in &args.huawei_keys {
            let secret = if (key.access_key.as_str(), key.secret_key.as_str()) == DEFAULT_HUAWEI_KEY
            {
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
            args.huawei_file_refresh_quota,
            args.huawei_dir_refresh_quota,
            args.huawei_preheat_quota,
            args.huawei_requests_per_second
        ));
        let domains: Vec<&str> = args.domains.iter().map(|d| d.trim()).collect();
        lines.push(format!("domains: {}", domains.join(", ")));
        lines.push(format!("stats: {url}/_emulator/stats"));
        lines.join("\n")
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
    }
}

fn validate(args: &EmulatorArgs) -> anyhow::Result<()> {
    if !args.domains.iter().any(|d| !d.trim().is_empty()) {
        bail!("--domains: give at least one domain");
    }
    if args.aliyun_keys.is_empty() {
        bail!("--aliyun-key: give at least one credential");
    }
    for (i, key) in args.aliyun_keys.iter().enumerate() {
        if args.aliyun_keys[..i].iter().any(|k| k.id == key.id) {
            bail!("--aliyun-key: access key id {} is given twice", key.id);
        }
    }
    if args.qiniu_keys.is_empty() {
        bail!("--qiniu-key: give at least one key pair");
    }
    for (i, key) in args.qiniu_keys.iter().enumerate() {
        if args.qiniu_keys[..i]
            .iter()
            .any(|k| k.access_key == key.access_key)
        {
            bail!("--qiniu-key: access key {} is given twice", key.access_key);
        }
    }
    if args.huawei_keys.is_empty() {
        bail!("--huawei-key: give at least one key pair");
    }
    for (i, key) in args.huawei_keys.iter().enumerate() {
        if args.huawei_keys[..i]
            .iter()
            .any(|k| k.access_key == key.access_key)
        {
            bail!("--huawei-key: access key {} is given twice", key.access_key);
        }
    }
    for action in &args.deny_actions {
        if !aliyun::ACTIONS.contains(&action.as_str()) {
            bail!(
                "--deny-action {action}: not an emulated action (expected one of {})",
                aliyun::ACTIONS.join(", ")
            );
        }
    }
    Ok(())
}
