//! Verifying the edge after the refresh: does a visitor get what was deployed?
//!
//! A provider's "task complete" says the purge was accepted and carried out, not what the
//! edge serves next (Cloudflare: a 200 "does not confirm eviction"). So after the run, each
//! URL whose refresh (and prefetch) completed is fetched as a visitor fetches it and judged
//! against what it should serve ([`Expect`]):
//!
//! - a plain `GET` of the URL exactly as users request it: no cache-busting query, no
//!   `Cache-Control: no-cache` or `Pragma` (both go to the origin and prove nothing), a
//!   User-Agent that says who asks (`cdn-refresh/<version> (+verify)`), no redirect followed
//!   (a 3xx is reported as it is);
//! - bounded: [`VerifyOptions::concurrency`] URLs at once, at most
//!   [`VerifyOptions::per_host_rate`] requests a second per host, a timeout per request,
//!   and a body read only as far as the deployed file is long (plus one byte, to see a
//!   longer body), hashed as it streams (sha256);
//! - `Content-Length` decides `stale` early when it differs from the deployed size; it never
//!   decides `fresh`, only the hash does. An `ETag` is reported, not compared: the origin's
//!   ETag scheme (an object store's MD5, a server's inode-mtime) is not known here;
//! - edges converge at different speeds: a stale, missing or failing answer is asked again
//!   with exponential back-off until [`VerifyOptions::deadline`], then reported.
//!
//! The judgement itself ([`judge`]) is a pure function of the expectation and the answer.
//! Server answers are hostile input: header values are capped ([`crate::echo::cap`]) before
//! they are kept; the sinks neutralise what they print.

pub mod expect;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Which verification a run does (`--verify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    /// No verification (the default for URL lists).
    Off,
    /// Each URL answers as it should: 200 for a deployed file, 404/410 for a deleted one.
    Status,
    /// The body is the deployed bytes; URLs whose bytes are not known are `unchecked`.
    Content,
    /// Git mode's default: `content` where the deployed bytes are known, `status` elsewhere.
    Auto,
}

/// Accepted values of `--verify`.
pub const VERIFY_MODES: &[(&str, VerifyMode)] = &[
    ("off", VerifyMode::Off),
    ("status", VerifyMode::Status),
    ("content", VerifyMode::Content),
    ("auto", VerifyMode::Auto),
];

/// The largest deployed file compared by content; a larger one is checked by status only.
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// The largest HTML page whose deployed bytes are kept to recognise a rewrite.
pub const MAX_KEPT: usize = 1024 * 1024;

/// The most bytes a rewrite by the CDN may insert into a page and be recognised as one.
pub const MAX_INSERTED: u64 = 64 * 1024;

/// Where the last `</body>` of an HTML page starts, any case.
fn find_body_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(7)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body>"))
}

/// When `served` is `deployed` with one run of bytes inserted right before its last
/// `</body>` (or at its end), as a CDN that adds a beacon does: how many bytes.
pub fn inserted(deployed: &[u8], served: &[u8]) -> Option<usize> {
    let extra = served
        .len()
        .checked_sub(deployed.len())
        .filter(|n| *n > 0)?;
    let at = find_body_end(deployed).unwrap_or(deployed.len());
    (served[..at] == deployed[..at] && served[at + extra..] == deployed[at..]).then_some(extra)
}

/// Header values kept in a verdict are capped to this many characters.
const HEADER_CAP: usize = 200;

/// The answer headers that explain a verdict (hit or miss, age, version), kept lower-cased.
pub const EXPLAINING_HEADERS: &[&str] = &[
    "x-cache",
    "x-cache-status",
    "cf-cache-status",
    "x-swift-cachetime",
    "age",
    "etag",
    "last-modified",
    "content-length",
    "location",
    "via",
];

/// What the edge should serve at a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// These bytes (the deployed file): their sha256 and length, and the bytes themselves
    /// for an HTML page of at most [`MAX_KEPT`] bytes (to recognise a rewrite by the CDN).
    Bytes {
        sha256: [u8; 32],
        len: u64,
        html: Option<Arc<[u8]>>,
    },
    /// Any 200 (a deployed file whose bytes are not compared).
    Present,
    /// 404 or 410 (a deleted file).
    Gone,
    /// Not checked, and why.
    Unknown(String),
}

impl Expect {
    /// The expectation of deployed `bytes`.
    pub fn bytes(bytes: &[u8]) -> Expect {
        let html =
            (bytes.len() <= MAX_KEPT && find_body_end(bytes).is_some()).then(|| Arc::from(bytes));
        Expect::Bytes {
            sha256: Sha256::digest(bytes).into(),
            len: bytes.len() as u64,
            html,
        }
    }
}

/// A URL and what it should serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub url: String,
    pub expect: Expect,
}

/// Where one URL's verification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    /// Old bytes or old status at the deadline.
    Stale,
    /// A deleted file still served (200) at the deadline.
    Lingering,
    /// 404/410 for a file that was deployed.
    Missing,
    /// 5xx, timeout, connection failure, redirect or another unexpected answer.
    Error,
    /// Serves what was deployed (or 404/410 for a deleted file).
    Fresh,
    /// Not checked; the reason says why.
    Unchecked,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Fresh => "fresh",
            VerdictKind::Stale => "stale",
            VerdictKind::Missing => "missing",
            VerdictKind::Lingering => "lingering",
            VerdictKind::Error => "error",
            VerdictKind::Unchecked => "unchecked",
        }
    }

    /// Whether the URL does not serve what was deployed (counted as stale in the outputs
    /// and by `--fail-on`).
    pub fn is_stale(self) -> bool {
        matches!(
            self,
            VerdictKind::Stale | VerdictKind::Lingering | VerdictKind::Missing
        )
    }
}

/// One URL's verification, as the report holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// Requests made (0 when unchecked).
    #[serde(default)]
    pub attempts: u32,
    /// The last answer's status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The last answer's headers that explain it ([`EXPLAINING_HEADERS`]), values capped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The heal (`--verify-heal`): the URL was still not fresh at its first deadline, so it
    /// was refreshed once more and verified again; this verdict is the second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal: Option<Heal>,
}

/// A URL refreshed once more because it was still not fresh at its first verify deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heal {
    /// The first verification's verdict, which the heal answered.
    pub before: VerdictKind,
    /// Its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_reason: Option<String>,
    /// Requests the first verification made (the verdict's `attempts` are the second's).
    #[serde(default)]
    pub before_attempts: u32,
    /// What became of the heal's refresh of the URL: `complete`, `failed`, `pending`,
    /// `rejected`, or `not-sent` when no refresh could be made (the reason says why).
    pub refresh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fresh after the heal.
    pub healed: bool,
}

impl Verdict {
    pub fn unchecked(reason: impl Into<String>) -> Verdict {
        Verdict {
            verdict: VerdictKind::Unchecked,
            attempts: 0,
            status: None,
            headers: BTreeMap::new(),
            reason: Some(reason.into()),
            heal: None,
        }
    }

    /// Whether the URL was proven fresh only after a heal.
    pub fn healed(&self) -> bool {
        self.heal.as_ref().is_some_and(|h| h.healed)
    }
}

/// Where verification requests go (`--verify-connect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// `HOST:PORT`, as given.
    pub address: String,
    /// `http://HOST:PORT`: speak plain HTTP there, for `https` URLs too (the emulator's
    /// edge). Otherwise each URL keeps its scheme (TLS with the URL's host for `https`).
    pub plain: bool,
}

impl Connect {
    /// `HOST:PORT` or `http://HOST:PORT`. Errors are the problem and the fix.
    pub fn parse(text: &str) -> Result<Connect, (String, String)> {
        let text = text.trim();
        let (plain, address) = match text.strip_prefix("http://") {
            Some(rest) => (true, rest.trim_end_matches('/')),
            None => (false, text),
        };
        let ok = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok || address.contains('/') {
            return Err((
                format!("`{}` is not HOST:PORT", crate::echo::cap(text, crate::echo::VALUE)),
                "give an address such as 203.0.113.7:443 (as curl's --connect-to), or http://127.0.0.1:8080 to speak plain HTTP to it".to_string(),
            ));
        }
        Ok(Connect {
            address: address.to_string(),
            plain,
        })
    }
}

/// How to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// URLs verified at once.
    pub concurrency: usize,
    /// Requests per second to one host.
    pub per_host_rate: u32,
    /// Bound on one request, answer and body included.
    pub request_timeout: Duration,
    /// No request starts after it; stale answers are reported then.
    pub deadline: Instant,
    /// The first wait before asking again; doubled each time, up to [`Self::max_backoff`].
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub connect: Option<Connect>,
    pub user_agent: String,
}

impl VerifyOptions {
    /// The defaults, verifying until `deadline`.
    pub fn until(deadline: Instant) -> VerifyOptions {
        VerifyOptions {
            concurrency: 8,
            per_host_rate: 10,
            request_timeout: Duration::from_secs(15),
            deadline,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(16),
            connect: None,
            user_agent: user_agent(),
        }
    }
}

/// `cdn-refresh/<version> (+verify)`.
pub fn user_agent() -> String {
    format!("cdn-refresh/{} (+verify)", env!("CARGO_PKG_VERSION"))
}

/// What one request saw, for [`judge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// The body's sha256 and length, when it was read (only for [`Expect::Bytes`]); `None`
    /// when `Content-Length` already decided.
    pub body: Option<([u8; 32], u64)>,
    /// The body was the deployed page with this many bytes inserted before `</body>`.
    pub inserted: Option<usize>,
}

/// The outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Final: report it.
    Done(VerdictKind, Option<String>),
    /// Not yet what it should be: ask again after a back-off, and report this at the
    /// deadline.
    Again(VerdictKind, Option<String>),
}

/// Judges one answer (`Err`: no answer, e.g. a timeout or a refused connection).
pub fn judge(expect: &Expect, answer: Result<&Answer, &str>) -> Judgement {
    let answer = match answer {
        Ok(a) => a,
        Err(problem) => return Judgement::Again(VerdictKind::Error, Some(problem.to_string())),
    };
    let status = answer.status;
    if (300..400).contains(&status) {
        let to = answer
            .headers
            .get("location")
            .map(|l| format!(" to {l}"))
            .unwrap_or_default();
        return Judgement::Done(
            VerdictKind::Error,
            Some(format!(
                "answered {status}, a redirect{to} (not followed: a visitor's browser would follow it, but the URL itself was refreshed)"
            )),
        );
    }
    if status >= 500 {
        return Judgement::Again(VerdictKind::Error, Some(format!("answered {status}")));
    }
    let gone = status == 404 || status == 410;
    match expect {
        Expect::Unknown(reason) => Judgement::Done(VerdictKind::Unchecked, Some(reason.clone())),
        Expect::Gone if gone => Judgement::Done(VerdictKind::Fresh, None),
        Expect::Gone if status == 200 => Judgement::Again(
            VerdictKind::Lingering,
            Some("deleted, and still served (200)".into()),
        ),
        Expect::Gone => Judgement::Done(
            VerdictKind::Error,
            Some(format!(
                "answered {status}; a deleted file should answer 404 or 410"
            )),
        ),
        Expect::Present | Expect::Bytes { .. } if gone => Judgement::Again(
            VerdictKind::Missing,
            Some(format!("answered {status} for a deployed file")),
        ),
        Expect::Present if status == 200 => Judgement::Done(VerdictKind::Fresh, None),
        Expect::Bytes { sha256, len, .. } if status == 200 => match answer.body {
            Some((got, got_len)) if got_len == *len && got == *sha256 => {
                Judgement::Done(VerdictKind::Fresh, None)
            }
            // Not the deployed bytes, so not proven fresh; not old bytes either, as far as
            // can be told: reported as an unexpected answer, not retried nor healed.
            Some(_) if answer.inserted.is_some() => Judgement::Done(
                VerdictKind::Error,
                Some(format!(
                    "served the deployed page with {} bytes inserted before </body>: rewritten by the CDN (a beacon?), so its content cannot be proven; verify it by status, or turn the rewrite off",
                    answer.inserted.unwrap_or_default()
                )),
            ),
            Some((_, got_len)) if got_len != *len => Judgement::Again(
                VerdictKind::Stale,
                Some(format!(
                    "served {} bytes, the deployed file has {len}",
                    if got_len > *len {
                        format!("more than {len}")
                    } else {
                        got_len.to_string()
                    }
                )),
            ),
            Some(_) => Judgement::Again(
                VerdictKind::Stale,
                Some("served other bytes than the deployed file (same length)".into()),
            ),
            None => {
                let shown = answer
                    .headers
                    .get("content-length")
                    .cloned()
                    .unwrap_or_default();
                Judgement::Again(
                    VerdictKind::Stale,
                    Some(format!(
                        "Content-Length {shown}, the deployed file has {len} bytes"
                    )),
                )
            }
        },
        Expect::Present | Expect::Bytes { .. } => Judgement::Done(
            VerdictKind::Error,
            Some(format!(
                "answered {status}; a deployed file should answer 200"
            )),
        ),
    }
}

/// One request per host at most every `1/rate` seconds.
struct HostPace {
    every: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl HostPace {
    async fn wait(&self, host: &str) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.get(host).copied().unwrap_or(now).max(now);
            next.insert(host.to_string(), slot + self.every);
            slot
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Verifies every expectation (in its order): the library function the run calls.
pub async fn verify(items: Vec<Expectation>, opts: &VerifyOptions) -> Vec<Verdict> {
    let client = match client(&items, opts).await {
        Ok(c) => c,
        Err(problem) => {
            return items
                .iter()
                .map(|i| match &i.expect {
                    Expect::Unknown(reason) => Verdict::unchecked(reason.clone()),
                    _ => Verdict {
                        verdict: VerdictKind::Error,
                        attempts: 0,
                        status: None,
                        headers: BTreeMap::new(),
                        reason: Some(problem.clone()),
                        heal: None,
                    },
                })
                .collect();
        }
    };
    let pace = Arc::new(HostPace {
        every: Duration::from_secs_f64(1.0 / f64::from(opts.per_host_rate.max(1))),
        next: Mutex::new(HashMap::new()),
    });
    let client = &client;
    let pace = &pace;
    let mut out: Vec<(usize, Verdict)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move { (i, one(client, pace, item, opts).await) })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, v)| v).collect()
}

/// The HTTP client: no redirects, no proxy from the environment's cache-busting, every URL
/// host sent to the `--verify-connect` address when given.
async fn client(items: &[Expectation], opts: &VerifyOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(opts.user_agent.clone())
        .timeout(opts.request_timeout)
        .connect_timeout(opts.request_timeout.min(Duration::from_secs(10)))
        .no_gzip()
        .pool_max_idle_per_host(opts.concurrency.max(1));
    if let Some(connect) = &opts.connect {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(connect.address.as_str())
            .await
            .map_err(|e| {
                format!(
                    "--verify-connect {}: cannot resolve it ({e})",
                    connect.address
                )
            })?
            .collect();
        let mut hosts: Vec<String> = items
            .iter()
            .filter_map(|i| url::Url::parse(&i.url).ok())
            .filter_map(|u| u.host_str().map(str::to_string))
            .collect();
        hosts.sort();
        hosts.dedup();
        for host in hosts {
            builder = builder.resolve_to_addrs(&host, &addrs);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// Verifies one URL: asks, judges, asks again with back-off until final or the deadline.
async fn one(
    client: &reqwest::Client,
    pace: &HostPace,
    item: Expectation,
    opts: &VerifyOptions,
) -> Verdict {
    if let Expect::Unknown(reason) = &item.expect {
        return Verdict::unchecked(reason.clone());
    }
    let Some((url, host)) = request_url(&item.url, opts.connect.as_ref()) else {
        return Verdict::unchecked("not an http(s) URL");
    };
    let mut backoff = opts.first_backoff;
    let mut attempts = 0;
    loop {
        pace.wait(&host).await;
        attempts += 1;
        let answer = fetch(client, &url, &item.expect).await;
        let judgement = judge(&item.expect, answer.as_ref().map_err(String::as_str));
        let (status, headers) = match &answer {
            Ok(a) => (Some(a.status), a.headers.clone()),
            Err(_) => (None, BTreeMap::new()),
        };
        let (kind, reason, last) = match judgement {
            Judgement::Done(kind, reason) => (kind, reason, true),
            Judgement::Again(kind, reason) => {
                let wake = Instant::now() + backoff;
                (kind, reason, wake >= opts.deadline)
            }
        };
        if last {
            let reason = match (kind, reason) {
                (VerdictKind::Fresh, r) => r,
                (_, Some(r)) if attempts > 1 => Some(format!("{r} (after {attempts} attempts)")),
                (_, r) => r,
            };
            return Verdict {
                verdict: kind,
                attempts,
                status,
                headers,
                reason,
                heal: None,
            };
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

/// The URL requested, and the host paced: the URL as given, except `https` spoken as plain
/// `http` through a plain `--verify-connect` (the Host header stays the URL's).
fn request_url(url: &str, connect: Option<&Connect>) -> Option<(url::Url, String)> {
    let mut parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?.to_string();
    if connect.is_some_and(|c| c.plain) && parsed.scheme() == "https" {
        let port = parsed.port();
        parsed.set_scheme("http").ok()?;
        // A default https port stays implicit; an explicit one stays as written.
        parsed.set_port(port).ok()?;
    }
    Some((parsed, host))
}

/// One GET, as a visitor sends it. The body is read only for [`Expect::Bytes`], and only as
/// far as the deployed length plus one byte.
async fn fetch(
    client: &reqwest::Client,
    url: &url::Url,
    expect: &Expect,
) -> Result<Answer, String> {
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for name in EXPLAINING_HEADERS {
        if let Some(v) = response.headers().get(*name) {
            let text = String::from_utf8_lossy(v.as_bytes());
            headers.insert(
                name.to_string(),
                crate::echo::cap(&text, HEADER_CAP).into_owned(),
            );
        }
    }
    let mut answer = Answer {
        status,
        headers,
        body: None,
        inserted: None,
    };
    let Expect::Bytes { len, html, .. } = expect else {
        return Ok(answer);
    };
    if status != 200 {
        return Ok(answer);
    }
    // An HTML page may come back rewritten (longer): read as far as a rewrite may go.
    let most = match html {
        Some(_) => *len + MAX_INSERTED,
        None => *len,
    };
    // `Content-Length` can decide stale early; only the hash decides fresh.
    if response
        .content_length()
        .is_some_and(|n| n != *len && (html.is_none() || n < *len || n > most))
    {
        return Ok(answer);
    }
    let mut hasher = Sha256::new();
    let mut kept: Vec<u8> = Vec::new();
    let mut read: u64 = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = (most + 1).saturating_sub(read) as usize;
                let part = &chunk[..chunk.len().min(room)];
                if read < *len + 1 {
                    let upto = ((*len + 1 - read) as usize).min(part.len());
                    hasher.update(&part[..upto]);
                }
                if html.is_some() {
                    kept.extend_from_slice(part);
                }
                read += part.len() as u64;
                if read > most {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(describe(&e)),
        }
    }
    answer.body = Some((hasher.finalize().into(), read.min(*len + 1)));
    if let Some(deployed) = html
        && read > *len
        && read <= most
    {
        answer.inserted = inserted(deployed, &kept);
    }
    Ok(answer)
}

/// A failed request in a few words, without the URL (the verdict is shown beside it).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = None;
    while let Some(s) = source {
        detail = Some(s.to_string());
        source = s.source();
    }
    match detail {
        Some(d) => format!("{kind} ({})", crate::echo::cap(&d, HEADER_CAP)),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Option<&[u8]>) -> Answer {
        Answer {
            status,
            headers: BTreeMap::new(),
            body: body.map(|b| (Sha256::digest(b).into(), b.len() as u64)),
            inserted: None,
        }
    }

    fn kind(j: Judgement) -> (VerdictKind, bool) {
        match j {
            Judgement::Done(k, _) => (k, true),
            Judgement::Again(k, _) => (k, false),
        }
    }

    #[test]
    fn content_is_fresh_only_by_hash() {
        let e = Expect::bytes(b"v2");
        assert_eq!(
            kind(judge(&e, Ok(&answer(200, Some(b"v2"))))),
            (VerdictKind::Fresh, true)
        );
        assert_eq!(
            kind(judge(&e, Ok(&answer(200, Some(b"v1"))))),
            (VerdictKind::Stale, false)
        );
        assert_eq!(
            kind(judge(&e, Ok(&answer(200, Some(b"v22"))))),
            (VerdictKind::Stale, false)
        );
        // Content-Length decided: no body read.
        assert_eq!(
            kind(judge(&e, Ok(&answer(200, None)))),
            (VerdictKind::Stale, false)
        );
        assert_eq!(
            kind(judge(&e, Ok(&answer(404, None)))),
            (VerdictKind::Missing, false)
        );
    }

    #[test]
    fn a_page_with_a_beacon_is_not_proven_but_recognised() {
        let page = b"<html><body>v2</body></html>";
        let e = Expect::bytes(page);
        assert!(matches!(&e, Expect::Bytes { html: Some(_), .. }));
        let served = b"<html><body>v2<script>b()</script></body></html>";
        assert_eq!(inserted(page, served), Some(20));
        assert_eq!(
            inserted(page, b"<html><body>v1<script>b()</script></body></html>"),
            None
        );
        assert_eq!(inserted(b"no body", b"no body!"), Some(1));
        let mut a = answer(200, Some(served));
        a.inserted = inserted(page, served);
        assert_eq!(kind(judge(&e, Ok(&a))), (VerdictKind::Error, true));
        assert!(matches!(
            Expect::bytes(b"app"),
            Expect::Bytes { html: None, .. }
        ));
    }

    #[test]
    fn deleted_files_must_be_gone() {
        let e = Expect::Gone;
        assert_eq!(
            kind(judge(&e, Ok(&answer(404, None)))),
            (VerdictKind::Fresh, true)
        );
        assert_eq!(
            kind(judge(&e, Ok(&answer(410, None)))),
            (VerdictKind::Fresh, true)
        );
        assert_eq!(
            kind(judge(&e, Ok(&answer(200, None)))),
            (VerdictKind::Lingering, false)
        );
    }

    #[test]
    fn status_redirects_errors() {
        assert_eq!(
            kind(judge(&Expect::Present, Ok(&answer(200, None)))),
            (VerdictKind::Fresh, true)
        );
        assert_eq!(
            kind(judge(&Expect::Present, Ok(&answer(301, None)))),
            (VerdictKind::Error, true)
        );
        assert_eq!(
            kind(judge(&Expect::Present, Ok(&answer(503, None)))),
            (VerdictKind::Error, false)
        );
        assert_eq!(
            kind(judge(&Expect::Present, Ok(&answer(403, None)))),
            (VerdictKind::Error, true)
        );
        assert_eq!(
            kind(judge(&Expect::Present, Err("timed out"))),
            (VerdictKind::Error, false)
        );
    }

    #[test]
    fn connect_takes_host_port_or_plain_http() {
        assert_eq!(
            Connect::parse("127.0.0.1:8080").unwrap(),
            Connect {
                address: "127.0.0.1:8080".into(),
                plain: false
            }
        );
        assert!(Connect::parse("http://127.0.0.1:8080/").unwrap().plain);
        assert!(Connect::parse("127.0.0.1").is_err());
        assert!(Connect::parse("https://x:1").is_err());
        assert!(Connect::parse("x:0").is_err());
    }

    #[test]
    fn plain_connect_speaks_http_for_https_urls() {
        let plain = Connect {
            address: "127.0.0.1:1".into(),
            plain: true,
        };
        let (u, host) = request_url("https://www.example.com/a?b=1", Some(&plain)).unwrap();
        assert_eq!(u.as_str(), "http://www.example.com/a?b=1");
        assert_eq!(host, "www.example.com");
        let tls = Connect {
            address: "127.0.0.1:1".into(),
            plain: false,
        };
        let (u, _) = request_url("https://www.example.com/a", Some(&tls)).unwrap();
        assert_eq!(u.scheme(), "https");
    }
}
