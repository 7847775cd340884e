//! `cdn-refresh demo`: the whole job against the built-in emulator, with no credentials and
//! no network. It runs the real client and pipeline; only the endpoint is local.

use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;

use crate::emulator::{self, EmulatorArgs, FaultKind, FaultRate, FaultSpec};
use crate::plan::{Plan, TaskMode};
use crate::providers::registry::{Connect, Credentials, ProviderOptions};
use crate::providers::{ObjectType, ProviderKind};
use crate::report::Report;
use crate::send::run::{self, RunOptions};

/// The site the demo refreshes and warms.
pub const DEMO_URLS: &[&str] = &[
    "https://www.example.com/",
    "https://www.example.com/index.html",
    "https://www.example.com/about/",
    "https://www.example.com/blog/2026/11/release notes.html",
    "https://static.example.com/css/site.css",
    "https://static.example.com/js/app.js",
    "https://static.example.com/img/logo.svg",
    "https://static.example.com/fonts/中文.woff2",
];

/// Runs the demo with the default provider and returns its report. Every fourth call to the
/// emulator is throttled, so the retry path shows up in the log too.
pub async fn run() -> anyhow::Result<Report> {
    let args = EmulatorArgs {
        task_duration: Duration::from_millis(1500),
        faults: vec![FaultSpec {
            kind: FaultKind::Throttle,
            rate: FaultRate::EveryNth(4),
        }],
        ..EmulatorArgs::default()
    };
    let kind = ProviderKind::default_kind();
    let (id, secret) = emulator::default_key(kind)
        .with_context(|| format!("the emulator does not emulate {kind}"))?;
    let emulator = emulator::start(args).await?;
    tracing::info!("emulator listening on {}", emulator.url());
    let provider = (kind.spec().connect)(Connect {
        endpoint: emulator.url().parse()?,
        credentials: Credentials {
            id: id.to_string(),
            secret: SecretString::from(secret),
            token: None,
            extra: Default::default(),
        },
        options: ProviderOptions::default(),
    })?;
    let rules = crate::input::url_list::Rules::new(kind.limits(), ObjectType::File);
    let parsed = crate::input::url_list::parse(&DEMO_URLS.join("\n"), &rules)
        .map_err(|lines| anyhow::anyhow!("demo URLs are invalid: {lines:?}"))?;
    let mut plan = Plan::from_urls(parsed.urls, TaskMode::Both, ObjectType::File);
    let opts = RunOptions {
        poll_interval: Duration::from_millis(500),
        timeout: Duration::from_secs(60),
        ..RunOptions::default()
    };
    let report = run::execute(provider.as_ref(), &mut plan, &opts).await;
    emulator.shutdown();
    Ok(report)
}
