//! The pipeline: quota check → submit batches → wait → prefetch → report.
//!
//! Every planned URL gets exactly one [`UrlResult`] per operation, whatever happens: sent
//! and finished, refused, left unsent because the provider stopped the run, or still
//! running when the wait ended. Provider calls go through the shared rate limiter and
//! retry policy; nothing here knows a provider's wire format.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use crate::http::bounds::{Bounds, Interrupt};
use crate::http::retry::{RetryPolicy, is_retryable, stops_run, with_retry, with_retry_when};
use crate::input::url_list;
use crate::output::text;
use crate::plan::Plan;
use crate::providers::{
    Batch, BatchKind, ErrorClass, ObjectType, Operation, Provider, ProviderError, Quota, QuotaKind,
    TaskId, TaskState, TaskStatus,
};
use crate::report::{self, Calls, Counts, Report, Stop, TaskRecord, UrlResult, UrlStatus};
use crate::send::in_progress::{Gate, Room};
use crate::send::quota_ledger::{QuotaLedger, Reservation};
use crate::send::rate_limit::{Api, ApiRates, Permit};
use crate::send::resume::Prior;
use crate::send::tracker::{self, PathState, Schedule, Tracker};

#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Wait for tasks to finish (a refresh is always waited for when a prefetch follows it).
    pub wait: bool,
    /// Bound on all waiting in the run, counted from its start.
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub concurrency: usize,
    pub batch_size: Option<usize>,
    pub qps: Option<u32>,
    pub retry: RetryPolicy,
    /// Raised by SIGINT/SIGTERM: no new submit, calls in flight get a grace, then the
    /// report.
    pub interrupt: Interrupt,
    /// What an earlier run of the same plan did (`--resume`): its accepted URLs are waited
    /// on, not sent again.
    pub resume: Option<std::sync::Arc<Prior>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            wait: true,
            timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
            concurrency: 8,
            batch_size: None,
            qps: None,
            retry: RetryPolicy::default(),
            interrupt: Interrupt::default(),
            resume: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub kind: QuotaKind,
    pub needed: u64,
    pub remaining: u64,
    pub limit: u64,
}

/// Compares what a plan needs with what is left.
pub fn shortfalls(needs: &BTreeMap<QuotaKind, u64>, quota: &Quota) -> Vec<Shortfall> {
    needs
        .iter()
        .filter_map(|(kind, needed)| {
            let entry = quota.get(*kind)?;
            (*needed > entry.remaining).then_some(Shortfall {
                kind: *kind,
                needed: *needed,
                remaining: entry.remaining,
                limit: entry.limit,
            })
        })
        .collect()
}

/// Counters shared by concurrent calls.
#[derive(Default)]
struct CallCounter {
    submit: AtomicU64,
    status: AtomicU64,
    quota: AtomicU64,
    retries: AtomicU64,
    lookup: AtomicU64,
}

impl CallCounter {
    fn snapshot(&self) -> Calls {
        Calls {
            submit: self.submit.load(Ordering::Relaxed),
            status: self.status.load(Ordering::Relaxed),
            quota: self.quota.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            lookup: self.lookup.load(Ordering::Relaxed),
        }
    }
}

/// What happened to one batch.
enum BatchOutcome {
    Accepted(Vec<TaskId>),
    Refused(ProviderError),
    NotSent(String),
}

/// What one phase does: batches to send, tasks of an earlier run to wait on (`--resume`),
/// and results of that run that stand.
#[derive(Default)]
struct PhaseWork {
    batches: Vec<Batch>,
    recorded: Vec<(Batch, BatchOutcome)>,
    kept: Vec<UrlResult>,
    /// Look each batch up before sending it: an earlier run may have sent it.
    look_first: bool,
}

impl PhaseWork {
    fn url_count(&self) -> usize {
        let sent: usize = self.batches.iter().map(|b| b.urls.len()).sum();
        let recorded: usize = self.recorded.iter().map(|(b, _)| b.urls.len()).sum();
        sent + recorded + self.kept.len()
    }

    /// `urls` of `kind`, sorted by what the earlier run did with them, if there was one;
    /// the URLs to send are returned.
    fn resume(&mut self, prior: Option<&Prior>, kind: BatchKind, urls: &[String]) -> Vec<String> {
        let Some(prior) = prior else {
            return urls.to_vec();
        };
        self.look_first = true;
        let split = crate::send::resume::split(prior, kind, urls);
        self.recorded.extend(
            split
                .accepted
                .into_iter()
                .map(|(batch, ids)| (batch, BatchOutcome::Accepted(ids))),
        );
        self.kept.extend(split.finished);
        split.send
    }
}

/// A batch the provider accepted: its tasks, the quota its answer told, and the URLs of
/// the last part sent (`None` when every part was adopted from a look-up).
#[derive(Default)]
struct Sent {
    ids: Vec<TaskId>,
    quota: Option<Quota>,
    rest: Option<Batch>,
}

/// What the batches not sent yet wait for, in the progress lines.
const RATE_LIMITED: &str = "waiting their turn under the provider's rate limits";

/// How long a phase may go without a line in the log.
const HEARTBEAT: Duration = Duration::from_secs(10);

struct Runner<'a> {
    provider: &'a dyn Provider,
    opts: &'a RunOptions,
    rates: ApiRates,
    calls: CallCounter,
    /// The error that stopped the run; once set, no further batch is sent.
    stop: Mutex<Option<ProviderError>>,
    bounds: Bounds,
    quota: Mutex<QuotaLedger>,
    /// Directory URLs → the files they stand for, refreshed instead if the provider
    /// refuses directory refresh.
    fallback: BTreeMap<String, Vec<String>>,
    /// Directories the provider refused (or that were not sent after it refused one).
    refused_dirs: Mutex<Vec<String>>,
    /// Hosts the provider refused as not the account's, in the order found, with its answer.
    refused_hosts: Mutex<Vec<(String, ProviderError)>>,
    /// Held while a batch of a quota not known yet is out: its answer tells the quota, so
    /// the batches after it can be checked.
    probe: tokio::sync::Mutex<()>,
    /// The room taken under the provider's in-progress limits, where it has them.
    gate: Gate,
}

/// How long a batch the provider found too much for what is in progress waits, at most,
/// before it is sent again when no task of the run finishes first (the others in
/// progress are someone else's).
const BUSY_WAIT: Duration = Duration::from_secs(15);

fn on_retry<'c>(
    calls: &'c CallCounter,
    what: &'c str,
) -> impl FnMut(&ProviderError, u32, Duration) + 'c {
    move |err, attempt, delay| {
        calls.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "{what}: {} (attempt {attempt}); retrying in {:.1}s",
            err,
            delay.as_secs_f64()
        );
    }
}

/// Runs a plan against a provider.
/// Told when each phase of a run (refresh, then prefetch) starts and ends, so a CI log can
/// fold it.
pub trait PhaseObserver: Sync {
    /// `what`: `refresh`, `prefetch`, or `refresh and prefetch` (pipelined with `-t both`).
    fn started(&self, what: &str, urls: usize);
    fn finished(&self, what: &str);
}

impl PhaseObserver for () {
    fn started(&self, _: &str, _: usize) {}
    fn finished(&self, _: &str) {}
}

pub async fn execute(provider: &dyn Provider, plan: &mut Plan, opts: &RunOptions) -> Report {
    execute_observed(provider, plan, opts, &()).await
}

/// [`execute`], telling `phases` when the refresh and the prefetch start and end.
///
/// The report is never missing a URL of the plan: a run the quota check stops is a report
/// whose URLs are all `rejected` with the reason. The quota is read once, here, and decides
/// the plan's directory collapses too: they are undone when the day's directory quota
/// cannot cover them. When the run is over, `plan.collapses` say what became of each.
pub async fn execute_observed(
    provider: &dyn Provider,
    plan: &mut Plan,
    opts: &RunOptions,
    phases: &dyn PhaseObserver,
) -> Report {
    // A provider without a prefetch API: the prefetch URLs are set aside, never sent, and
    // reported `unsupported` with the provider's reason; the refresh runs as it would alone.
    let Some(reason) = provider
        .limits()
        .prefetch_unsupported
        .filter(|_| !plan.prefetch.is_empty())
    else {
        return send_plan(provider, plan, opts, phases).await;
    };
    let prefetch = std::mem::take(&mut plan.prefetch);
    let after = std::mem::replace(&mut plan.prefetch_after_refresh, false);
    let mut report = send_plan(provider, plan, opts, phases).await;
    plan.prefetch = prefetch;
    plan.prefetch_after_refresh = after;
    report
        .urls
        .extend(plan.prefetch.iter().map(|url| UrlResult {
            url: url.clone(),
            operation: Operation::Prefetch,
            object_type: ObjectType::File,
            status: UrlStatus::Unsupported,
            task_id: None,
            reason: Some(reason.to_string()),
            verify: None,
        }));
    report.counts = Counts::of(&report.urls);
    report
}

/// [`execute_observed`] for a plan the provider can do all of.
async fn send_plan(
    provider: &dyn Provider,
    plan: &mut Plan,
    opts: &RunOptions,
    phases: &dyn PhaseObserver,
) -> Report {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let mut runner = Runner {
        provider,
        opts,
        rates: ApiRates::new(provider.limits(), opts.qps),
        calls: CallCounter::default(),
        stop: Mutex::new(None),
        bounds: Bounds::new(opts.timeout, opts.interrupt.clone()),
        quota: Mutex::new(QuotaLedger::default()),
        fallback: BTreeMap::new(),
        refused_dirs: Mutex::new(Vec::new()),
        refused_hosts: Mutex::new(Vec::new()),
        probe: tokio::sync::Mutex::new(()),
        gate: Gate::new(provider.limits().in_progress, BUSY_WAIT),
    };

    // Without a quota call (Qiniu), the answers to the batches tell the quota.
    let quota = if provider.quota_in_answers() {
        None
    } else {
        match runner.quota().await {
            Ok(quota) => {
                keep_collapses_within(plan, &quota);
                Some(quota)
            }
            Err(e) => {
                let stop = Stop {
                    code: e.code.clone(),
                    message: e.message.clone(),
                    hint: e.hint.clone(),
                };
                let reason = if e.code == ProviderError::CONNECT {
                    format!("nothing was sent: {}", e.message)
                } else {
                    format!("the quota check failed; nothing was sent: {e}")
                };
                return runner.refused(plan, None, stop, &reason, started, clock);
            }
        }
    };
    // Where the provider caps the work in progress, what is in progress already counts
    // against it: read once, before anything is sent.
    if runner.gate.limited()
        && let Err(e) = runner.read_in_progress(plan).await
    {
        let stop = Stop {
            code: e.code.clone(),
            message: e.message.clone(),
            hint: e.hint.clone(),
        };
        let reason = format!("reading what is in progress failed; nothing was sent: {e}");
        return runner.refused(plan, quota, stop, &reason, started, clock);
    }
    runner.fallback = plan
        .directory_fallback()
        .into_iter()
        .map(|(dir, files)| (dir.to_string(), files.to_vec()))
        .collect();

    // A resumed run sends only what the earlier one did not get accepted.
    let prior = opts.resume.as_deref();
    let mut refresh_work = PhaseWork::default();
    let mut prefetch_work = PhaseWork::default();
    let send_plan = resumed(plan, prior, &mut refresh_work, &mut prefetch_work);

    if let Some(quota) = &quota {
        let short = shortfalls(&send_plan.quota_needs(), quota);
        if !short.is_empty() {
            let stop = Stop {
                code: "QuotaShortfall".into(),
                message: crate::output::text::shortfalls(&short),
                hint: None,
            };
            let reason = "today's quota does not cover this run; nothing was sent";
            return runner.refused(plan, Some(quota.clone()), stop, reason, started, clock);
        }
        runner.ledger().observe(quota);
    }

    refresh_work.batches = send_plan.refresh_batches(provider.limits(), opts.batch_size);
    let (done, prefetch, refused) = runner
        .pipeline(phases, plan, &send_plan, refresh_work, prefetch_work)
        .await;
    let Phase {
        mut tasks,
        mut urls,
    } = done;
    tasks.extend(prefetch.tasks);
    urls.extend(prefetch.urls);
    drop(send_plan);

    let finished = chrono::Utc::now();
    for c in &mut plan.collapses {
        if refused.contains(&c.directory) {
            c.not_applied = Some(
                "the provider refused the directory refresh: the changed files were refreshed instead"
                    .into(),
            );
        }
    }
    Report {
        version: 1,
        target: None,
        provider: provider.kind(),
        status: report::run_status(&urls),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_ms: clock.elapsed().as_millis() as u64,
        counts: Counts::of(&urls),
        quota_before: quota,
        quota_after: Some(runner.ledger().snapshot()),
        directories_refused: refused,
        hosts_refused: runner.hosts_refused(),
        collapses: Vec::new(),
        stopped: runner.stopped_by(),
        calls: runner.calls.snapshot(),
        tasks,
        urls,
        git: None,
        verify: None,
    }
}

/// The part of `plan` a resumed run still sends (all of it without an earlier run); what
/// the earlier run got accepted goes into the phases' work, to be waited on.
fn resumed<'p>(
    plan: &'p Plan,
    prior: Option<&Prior>,
    refresh_work: &mut PhaseWork,
    prefetch_work: &mut PhaseWork,
) -> Cow<'p, Plan> {
    if prior.is_none() {
        return Cow::Borrowed(plan);
    }
    let refresh = plan
        .refresh
        .iter()
        .map(|(t, urls)| (*t, refresh_work.resume(prior, BatchKind::refresh(*t), urls)))
        .filter(|(_, urls)| !urls.is_empty())
        .collect();
    let prefetch = prefetch_work.resume(prior, BatchKind::PREFETCH, &plan.prefetch);
    Cow::Owned(Plan {
        refresh,
        prefetch,
        prefetch_after_refresh: plan.prefetch_after_refresh,
        collapses: plan.collapses.clone(),
        fallback_to_files: plan.fallback_to_files,
    })
}

/// Directory collapses go out only if the day's directory quota covers every directory of
/// the plan; otherwise they are undone and the files are refreshed instead.
fn keep_collapses_within(plan: &mut Plan, quota: &Quota) {
    if plan.collapses.iter().all(|c| c.not_applied.is_some()) {
        return;
    }
    let needed = plan
        .quota_needs()
        .get(&QuotaKind::RefreshDirectory)
        .copied()
        .unwrap_or(0);
    if let Some(entry) = quota
        .get(QuotaKind::RefreshDirectory)
        .filter(|e| e.remaining < needed)
    {
        let reason = format!(
            "the day's directory refresh quota has {} left, the plan needs {needed}: the files are refreshed instead",
            entry.remaining
        );
        tracing::warn!("{reason}");
        plan.uncollapse(&reason);
    }
}

struct Phase {
    tasks: Vec<TaskRecord>,
    urls: Vec<UrlResult>,
}

/// Interleaves batches by their first host, so a per-host rate cap on one host does not
/// hold back the batches of the others.
fn interleave_by_host(batches: Vec<Batch>) -> Vec<Batch> {
    let mut by_host: Vec<(String, std::collections::VecDeque<Batch>)> = Vec::new();
    for b in batches {
        let host = b
            .urls
            .first()
            .map(|u| url_list::host(u).to_string())
            .unwrap_or_default();
        match by_host.iter_mut().find(|(h, _)| *h == host) {
            Some((_, q)) => q.push_back(b),
            None => by_host.push((host, [b].into())),
        }
    }
    let mut out = Vec::new();
    while by_host.iter().any(|(_, q)| !q.is_empty()) {
        for (_, q) in &mut by_host {
            if let Some(b) = q.pop_front() {
                out.push(b);
            }
        }
    }
    out
}

fn same_path(reported: &str, sent: &str) -> bool {
    tracker::path_key(reported) == tracker::path_key(sent)
}

/// A look-up starts this long before the first attempt of a batch: task creation times
/// have one-second steps and the provider's clock may run a little behind ours.
const LOOKUP_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// Rounds of look-up per host of a batch before its remaining URLs count as not accepted.
const LOOKUP_ROUNDS: usize = 3;

/// What a look-up found of a batch.
struct Found {
    /// The tasks that hold some of the batch's URLs, with those URLs.
    accepted: Vec<(Vec<TaskId>, Vec<String>)>,
    /// The URLs no task holds: not accepted.
    rest: Vec<String>,
}

impl Runner<'_> {
    /// A directory batch whose every directory has files to fall back to.
    fn falls_back(&self, batch: &Batch) -> bool {
        batch.kind.object_type == ObjectType::Directory
            && batch.urls.iter().all(|u| self.fallback.contains_key(u))
    }

    /// The hosts the provider refused as not the account's, for the report.
    fn hosts_refused(&self) -> Vec<report::RefusedHost> {
        std::mem::take(&mut *self.refused_hosts.lock().expect("not poisoned"))
            .into_iter()
            .map(|(host, e)| report::RefusedHost {
                host,
                code: e.code,
                message: e.message,
                hint: e.hint,
            })
            .collect()
    }

    /// Why the run stopped early, if it did: the error that stopped it, else the signal.
    fn stopped_by(&self) -> Option<Stop> {
        let interrupted = self.opts.interrupt.raised().map(|(signal, _)| Stop {
            code: "Interrupted".into(),
            message: format!(
                "{} received: nothing more was sent; the accepted URLs are `submitted` with their task ids, the rest `rejected`",
                signal.name()
            ),
            hint: Some("run the same command again with --resume REPORT to wait for those tasks and send only the rest".into()),
        });
        self.stop
            .lock()
            .expect("not poisoned")
            .take()
            .map(|e| Stop {
                code: e.code,
                message: e.message,
                hint: e.hint,
            })
            .or(interrupted)
    }

    /// The report of a run stopped before anything was sent: every URL `rejected` with
    /// `reason`, and the calls it made.
    fn refused(
        &self,
        plan: &Plan,
        quota_before: Option<Quota>,
        stop: Stop,
        reason: &str,
        started: chrono::DateTime<chrono::Utc>,
        clock: Instant,
    ) -> Report {
        let urls = listed(plan, UrlStatus::Rejected, Some(reason));
        Report {
            version: 1,
            target: None,
            provider: self.provider.kind(),
            status: report::RunStatus::Failed,
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration_ms: clock.elapsed().as_millis() as u64,
            counts: Counts::of(&urls),
            quota_before,
            quota_after: None,
            directories_refused: Vec::new(),
            hosts_refused: Vec::new(),
            collapses: Vec::new(),
            stopped: Some(stop),
            calls: self.calls.snapshot(),
            tasks: Vec::new(),
            urls,
            git: None,
            verify: None,
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, QuotaLedger> {
        self.quota.lock().expect("not poisoned")
    }

    async fn quota(&self) -> Result<Quota, ProviderError> {
        self.quota_api("quota check", || self.provider.quota())
            .await
    }

    /// A call on the quota API (`what`, as a retry names it): rate-limited, counted and
    /// retried as every call is.
    async fn quota_api<T, F, Fut>(&self, what: &str, call: F) -> Result<T, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        with_retry(
            &self.opts.retry,
            &self.bounds,
            || async {
                let _permit = self.rates.acquire(Api::Quota).await;
                self.calls.quota.fetch_add(1, Ordering::Relaxed);
                call().await
            },
            on_retry(&self.calls, what),
        )
        .await
    }

    /// Counts what is in progress in the scopes of the plan's refresh URLs (one look per
    /// host: a scope holds whole hosts).
    async fn read_in_progress(&self, plan: &Plan) -> Result<(), ProviderError> {
        let mut hosts = HashSet::new();
        let mut scopes: Vec<String> = Vec::new();
        for (object_type, urls) in &plan.refresh {
            for url in urls {
                if !hosts.insert(url_list::host(url)) {
                    continue;
                }
                let one = Batch {
                    kind: BatchKind::refresh(*object_type),
                    urls: vec![url.clone()],
                };
                let scope = self.provider.in_progress_scope(&one);
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
        // One scope at a time, each retried on its own.
        let mut found = Vec::new();
        for scope in scopes {
            let one = std::slice::from_ref(&scope);
            found.extend(
                self.quota_api("in-progress check", || self.provider.in_progress(one))
                    .await?,
            );
        }
        for (scope, paths, wildcards) in found {
            if paths + wildcards > 0 {
                tracing::info!(
                    "{scope}: {paths} paths and {wildcards} wildcards in progress before this run"
                );
            }
            self.gate.started_with(&scope, Room { paths, wildcards });
        }
        Ok(())
    }

    fn stopped(&self) -> Option<String> {
        self.stop
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|e| format!("not sent: the run stopped after {}: {}", e.code, e.message))
    }

    /// Why nothing more may be sent now (the run stopped, its time is up, or it was
    /// interrupted), as the reason its URLs get.
    fn not_sending(&self) -> Option<String> {
        if let Some(reason) = self.stopped() {
            return Some(reason);
        }
        if let Some((signal, _)) = self.bounds.interrupt.raised() {
            return Some(format!("interrupted ({}): not sent", signal.name()));
        }
        (Instant::now() > self.bounds.deadline).then(|| self.past_deadline())
    }

    fn past_deadline(&self) -> String {
        format!(
            "not sent: the run's --timeout ({}s) passed before this batch's turn under the provider's rate limits",
            self.opts.timeout.as_secs()
        )
    }

    /// `12s elapsed, 9m48s left of --timeout 10m`: where the run stands against its deadline.
    fn clock(&self) -> String {
        let left = self
            .bounds
            .deadline
            .saturating_duration_since(Instant::now());
        let elapsed = self.opts.timeout.saturating_sub(left);
        let short =
            |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string();
        format!(
            "{} elapsed, {} left of --timeout {}",
            short(elapsed),
            short(left),
            short(self.opts.timeout)
        )
    }

    /// Runs `work`, saying `what` (and [`Runner::clock`]) every [`HEARTBEAT`] until it ends.
    async fn with_heartbeat<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        what: impl Fn() -> String,
    ) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tokio::time::sleep(HEARTBEAT) => {
                    tracing::info!("  {}; {}", what(), self.clock());
                }
            }
        }
    }

    /// Waits for the batch's turn under every rate window, within the deadline and until an
    /// interrupt; the permit holds its places until the answer is in.
    async fn turn(&self, batch: &Batch) -> Result<Permit<'_>, String> {
        let hosts: Vec<(String, u32)> = if self.provider.limits().minute_cap(batch.kind).is_some() {
            let mut per_host: HashMap<&str, u32> = HashMap::new();
            for u in &batch.urls {
                *per_host.entry(url_list::host(u)).or_default() += 1;
            }
            per_host
                .into_iter()
                .map(|(h, n)| (h.to_string(), n))
                .collect()
        } else {
            Vec::new()
        };
        let acquire = self.rates.acquire_submit(batch.urls.len() as u32, &hosts);
        tokio::select! {
            permit = tokio::time::timeout_at(self.bounds.deadline, acquire) => {
                permit.map_err(|_| self.past_deadline())
            }
            (signal, _) = self.bounds.interrupt.wait() => {
                Err(format!("interrupted ({}): not sent", signal.name()))
            }
        }
    }

    /// Sends one batch and says what became of each of its URLs (a batch whose answer was
    /// lost may turn out accepted in part). `look_first`: the batch may have been accepted
    /// by an earlier run (`--resume`), so it is looked up before it is sent.
    ///
    /// A host the account does not have makes the provider refuse the whole request, good
    /// hosts and all. The refused request's hosts are then sent in halves until each
    /// refused host stands alone: its URLs are rejected, the other hosts' URLs go out, and
    /// later batches leave that host out without asking again. That costs at most two
    /// requests per host of the batch, and a host the provider refuses is asked about once.
    async fn submit(&self, batch: &Batch, look_first: bool) -> Vec<(Batch, BatchOutcome)> {
        let (batch, mut outcomes) = self.without_refused_hosts(batch);
        if batch.urls.is_empty() {
            return outcomes;
        }
        for (part, outcome) in self.submit_whole(&batch, look_first).await {
            match outcome {
                BatchOutcome::Refused(err) if err.class == ErrorClass::Domain => {
                    outcomes.extend(self.find_refused_hosts(part, err).await);
                }
                outcome => outcomes.push((part, outcome)),
            }
        }
        outcomes
    }

    /// `batch` less the URLs of hosts the provider refused earlier in the run, and those
    /// URLs with the refusal.
    fn without_refused_hosts(&self, batch: &Batch) -> (Batch, Vec<(Batch, BatchOutcome)>) {
        let refused = self.refused_hosts.lock().expect("not poisoned");
        if refused.is_empty() {
            return (batch.clone(), Vec::new());
        }
        let mut send = Batch {
            kind: batch.kind,
            urls: Vec::new(),
        };
        let mut left_out: Vec<(Batch, BatchOutcome)> = Vec::new();
        for url in &batch.urls {
            let host = url_list::host(url);
            match refused.iter().position(|(h, _)| h == host) {
                None => send.urls.push(url.clone()),
                Some(i) => match left_out
                    .iter_mut()
                    .find(|(b, _)| url_list::host(&b.urls[0]) == host)
                {
                    Some((b, _)) => b.urls.push(url.clone()),
                    None => left_out.push((
                        Batch {
                            kind: batch.kind,
                            urls: vec![url.clone()],
                        },
                        BatchOutcome::Refused(refused[i].1.clone()),
                    )),
                },
            }
        }
        (send, left_out)
    }

    /// `batch` was refused for a host the account does not have: a batch of one host is
    /// that host's refusal; a batch of several is sent again in two halves of its hosts.
    async fn find_refused_hosts(
        &self,
        batch: Batch,
        err: ProviderError,
    ) -> Vec<(Batch, BatchOutcome)> {
        let mut hosts: Vec<&str> = Vec::new();
        for u in &batch.urls {
            let host = url_list::host(u);
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        if hosts.len() == 1 {
            tracing::error!(
                "{} of {}: {err}; the other hosts' URLs are still sent",
                batch.kind,
                text::urls(batch.urls.len())
            );
            self.refused_hosts
                .lock()
                .expect("not poisoned")
                .push((hosts[0].to_string(), err.clone()));
            return vec![(batch, BatchOutcome::Refused(err))];
        }
        tracing::warn!(
            "{} of {}: {err}; sending its hosts in two halves to find the one refused",
            batch.kind,
            text::urls(batch.urls.len())
        );
        let first: HashSet<&str> = hosts[..hosts.len() / 2].iter().copied().collect();
        let (a, b): (Vec<String>, Vec<String>) = batch
            .urls
            .iter()
            .cloned()
            .partition(|u| first.contains(url_list::host(u)));
        let mut outcomes = Vec::new();
        for urls in [a, b] {
            let half = Batch {
                kind: batch.kind,
                urls,
            };
            // The refusal was an answer: nothing of the batch was accepted, so no look-up.
            outcomes.extend(Box::pin(self.submit(&half, false)).await);
        }
        outcomes
    }

    /// Sends `batch` as one request (or, after a lost answer, its URLs not accepted yet).
    async fn submit_whole(&self, batch: &Batch, look_first: bool) -> Vec<(Batch, BatchOutcome)> {
        if let Some(reason) = self.not_sending() {
            return vec![(batch.clone(), BatchOutcome::NotSent(reason))];
        }
        // The day's quota: reserve this batch's share, or learn the quota from its answer.
        let (kind, n) = (batch.kind.quota_kind(), batch.urls.len() as u64);
        let mut reservation = self.ledger().reserve(kind, n);
        // Only a provider whose answers carry the quota can teach it; for the others an
        // unknown quota (a kind their quota call leaves out) is simply not checked here.
        let _probe = if reservation == Reservation::Unknown && self.provider.quota_in_answers() {
            let guard = self.probe.lock().await;
            reservation = self.ledger().reserve(kind, n);
            (reservation == Reservation::Unknown).then_some(guard)
        } else {
            None
        };
        if self.falls_back(batch) && !self.refused_dirs.lock().expect("not poisoned").is_empty() {
            // Directory refresh was refused already: these go out as files too.
            self.ledger().refund(kind, n);
            self.refused_dirs
                .lock()
                .expect("not poisoned")
                .extend(batch.urls.iter().cloned());
            return vec![(
                batch.clone(),
                BatchOutcome::NotSent("directory refresh refused".into()),
            )];
        }
        if let Reservation::Denied(reason) = reservation {
            // The run stops here, as it would had the provider refused the batch.
            let mut stop = self.stop.lock().expect("not poisoned");
            if stop.is_none() {
                tracing::error!("{} of {} URLs: {reason}", batch.kind, batch.urls.len());
                *stop = Some(ProviderError::new(
                    crate::providers::ErrorClass::Quota,
                    "QuotaShortfall",
                    reason.trim_start_matches("not sent: ").to_string(),
                ));
            }
            return vec![(batch.clone(), BatchOutcome::NotSent(reason))];
        }
        // The provider's in-progress limit: wait for room, within the deadline.
        let scope = self
            .gate
            .limited()
            .then(|| self.provider.in_progress_scope(batch));
        let room = Room::of(batch);
        if let Some(scope) = &scope {
            let reserved = tokio::select! {
                r = self.gate.reserve(scope, room, self.bounds.deadline) => Ok(r),
                (signal, _) = self.bounds.interrupt.wait() => Err(signal),
            };
            let why = match reserved {
                Ok(true) => None,
                Ok(false) => Some(format!(
                    "not sent: earlier tasks of {scope} still took the provider's in-progress limit when the --timeout ran out"
                )),
                Err(signal) => Some(format!("interrupted ({}): not sent", signal.name())),
            };
            if let Some(why) = why {
                if reservation == Reservation::Granted {
                    self.ledger().refund(kind, n);
                }
                return vec![(batch.clone(), BatchOutcome::NotSent(why))];
            }
        }
        let what = format!("{} of {}", batch.kind, text::urls(batch.urls.len()));
        let since = match &self.opts.resume {
            Some(prior) if look_first => prior.started_at - LOOKUP_MARGIN,
            _ => chrono::Utc::now() - LOOKUP_MARGIN,
        };
        let (mut outcomes, result) = loop {
            let (outcomes, result) = self
                .send_exactly_once(batch, look_first, since, &what)
                .await;
            // Too much in progress at the provider (others' tasks, or ours it counts
            // differently): send again once a task of the run finishes, within the deadline.
            if let Err((_, err)) = &result
                && err.class == ErrorClass::Busy
                && outcomes.is_empty()
            {
                let again = tokio::select! {
                    ok = self.gate.wait_for_room(BUSY_WAIT, self.bounds.deadline) => ok,
                    _ = self.bounds.interrupt.wait() => false,
                };
                if again {
                    tracing::warn!(
                        "{what}: {err}; sending again now that earlier tasks have had time to finish"
                    );
                    continue;
                }
            }
            break (outcomes, result);
        };
        if let Some(scope) = &scope {
            let ids: Vec<TaskId> = match &result {
                Ok(sent) => sent.ids.clone(),
                Err(_) => Vec::new(),
            };
            let adopted = outcomes.iter().find_map(|(_, o)| match o {
                BatchOutcome::Accepted(ids) => Some(ids.clone()),
                _ => None,
            });
            // Without waiting (`--wait false`) no status check will see the task end: its
            // room is not held, and the provider's own "too much in progress" paces what
            // follows (waited out above, within the deadline).
            match (ids.is_empty(), adopted) {
                _ if !self.opts.wait => self.gate.give_back(scope, room),
                (false, _) => self.gate.hold(scope, room, &ids),
                (true, Some(ids)) => self.gate.hold(scope, room, &ids),
                (true, None) => self.gate.give_back(scope, room),
            }
        }
        if let Ok(Sent {
            quota: Some(quota), ..
        }) = &result
        {
            self.ledger().observe(quota);
        }
        let (rest, result) = match result {
            Ok(submitted) => {
                if let Some(rest) = submitted.rest {
                    outcomes.push((rest, BatchOutcome::Accepted(submitted.ids)));
                }
                return outcomes;
            }
            Err((rest, err)) => (rest, err),
        };
        let mut err = result;
        if err.class == ErrorClass::Domain {
            // Name the hosts: the provider's message often does not say which one it means.
            let mut hosts: Vec<&str> = Vec::new();
            for u in &rest.urls {
                let host = url_list::host(u);
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            let more = hosts.len().saturating_sub(10);
            hosts.truncate(10);
            err.message = format!(
                "{} ({} in the request: {}{})",
                err.message,
                if hosts.len() == 1 { "host" } else { "hosts" },
                hosts.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        if reservation == Reservation::Granted {
            // Only the URLs that were not accepted give their share back.
            self.ledger().refund(kind, rest.urls.len() as u64);
        }
        if err.class == ErrorClass::Deadline && !err.outcome_unknown() {
            let reason = self.not_sending().unwrap_or_else(|| self.past_deadline());
            outcomes.push((rest, BatchOutcome::NotSent(reason)));
            return outcomes;
        }
        if err.class == ErrorClass::Permission && self.falls_back(&rest) {
            tracing::warn!(
                "{what}: {err}; the files these directories stand for are refreshed instead"
            );
            self.refused_dirs
                .lock()
                .expect("not poisoned")
                .extend(rest.urls.iter().cloned());
        } else if err.class == ErrorClass::Domain {
            // Not the run's end: `submit` finds the refused host and sends the others.
        } else if stops_run(err.class) {
            let mut stop = self.stop.lock().expect("not poisoned");
            if stop.is_none() {
                tracing::error!("{what}: {err}; the run stops here");
                *stop = Some(err.clone());
            }
        } else {
            tracing::error!("{what}: {err}");
        }
        outcomes.push((rest, BatchOutcome::Refused(err)));
        outcomes
    }

    /// Sends `batch` until the provider has accepted each of its URLs once. An attempt whose
    /// outcome is unknown (the connection dropped after the request left, an unreadable
    /// answer, a cut-off) is never simply sent again: the provider is asked first which of
    /// its URLs it accepted, those are adopted, and only the rest goes out again. Returns
    /// the adopted parts, and then the outcome of the last part sent (`rest`: the URLs it
    /// carried, or the error and the URLs it leaves unaccepted).
    async fn send_exactly_once(
        &self,
        batch: &Batch,
        look_first: bool,
        since: chrono::DateTime<chrono::Utc>,
        what: &str,
    ) -> (
        Vec<(Batch, BatchOutcome)>,
        Result<Sent, (Batch, ProviderError)>,
    ) {
        let mut adopted = Vec::new();
        let mut pending = batch.clone();
        let mut unknown = look_first.then(|| {
            ProviderError::new(
                ErrorClass::Transport,
                "Resumed",
                "an earlier run may have sent this batch",
            )
        });
        for round in 0..self.opts.retry.max_attempts {
            if let Some(err) = unknown.take() {
                match self.look_up(&pending, since, !look_first).await {
                    // Sending again is harmless on this provider: it recognises a repeat.
                    None => {}
                    Some(Ok(found)) => {
                        for (ids, urls) in found.accepted {
                            tracing::info!(
                                "{what}: {} URLs were accepted already (task {}): adopted, not sent again",
                                urls.len(),
                                ids.iter()
                                    .map(|i| i.0.as_str())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            );
                            let part = Batch {
                                kind: pending.kind,
                                urls,
                            };
                            adopted.push((part, BatchOutcome::Accepted(ids)));
                        }
                        if found.rest.is_empty() {
                            return (adopted, Ok(Sent::default()));
                        }
                        pending.urls = found.rest;
                    }
                    Some(Err(lookup)) => {
                        let err = ProviderError::new(
                            err.class,
                            err.code.clone(),
                            format!(
                                "{}; whether the provider accepted the batch is unknown: the look-up failed ({lookup}), so it was not sent again (run again with --resume REPORT to check before sending)",
                                err.message
                            ),
                        );
                        return (adopted, Err((pending, err)));
                    }
                }
                if round > 0 && !look_first {
                    let delay = self.opts.retry.delay(round, &err);
                    let fits = Instant::now()
                        .checked_add(delay)
                        .is_some_and(|at| at <= self.bounds.deadline);
                    if !fits || !self.bounds.sleep(delay).await {
                        return (adopted, Err((pending, err)));
                    }
                }
            }
            let result = with_retry_when(
                &self.opts.retry,
                &self.bounds,
                |e| is_retryable(e.class) && !e.outcome_unknown(),
                || async {
                    let _permit = self.turn(&pending).await.map_err(|reason| {
                        ProviderError::new(ErrorClass::Deadline, ProviderError::NOT_STARTED, reason)
                    })?;
                    self.calls.submit.fetch_add(1, Ordering::Relaxed);
                    self.provider.submit(&pending).await
                },
                on_retry(&self.calls, what),
            )
            .await;
            match result {
                Ok(submitted) => {
                    return (
                        adopted,
                        Ok(Sent {
                            ids: submitted.ids,
                            quota: submitted.quota,
                            rest: Some(pending),
                        }),
                    );
                }
                Err(mut err) if err.outcome_unknown() && stops_run(err.class) => {
                    // An endpoint that cannot be read (an answer too large) is not asked
                    // again, not even to look the batch up.
                    err.message.push_str(
                        "; whether the provider accepted the batch is unknown, so it was not sent again",
                    );
                    return (adopted, Err((pending, err)));
                }
                Err(err) if err.outcome_unknown() => {
                    self.calls.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "{what}: {err}; the provider may have accepted it: looking it up before sending again"
                    );
                    unknown = Some(err);
                }
                Err(err) => return (adopted, Err((pending, err))),
            }
        }
        let err = unknown.unwrap_or_else(|| {
            ProviderError::new(ErrorClass::Transport, "Unknown", "no attempt left")
        });
        (adopted, Err((pending, err)))
    }

    /// Which URLs of `batch` the provider accepted since `since`: for each host, the tasks
    /// that hold one of its URLs are found and read, and every URL of the batch they hold is
    /// adopted with them. `None` when the provider has no look-up (a resend is harmless).
    /// `one_request`: the batch went out as one request, which a provider takes whole or not
    /// at all, so a first host found in no task means none of it was accepted.
    async fn look_up(
        &self,
        batch: &Batch,
        since: chrono::DateTime<chrono::Utc>,
        one_request: bool,
    ) -> Option<Result<Found, ProviderError>> {
        let bounds = self.bounds.within_grace();
        let mut owner: Vec<Option<TaskId>> = vec![None; batch.urls.len()];
        let mut hosts: Vec<&str> = Vec::new();
        for u in &batch.urls {
            let h = url_list::host(u);
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        for (nth, host) in hosts.into_iter().enumerate() {
            if one_request && nth > 0 && owner.iter().all(Option::is_none) {
                break;
            }
            for _ in 0..LOOKUP_ROUNDS {
                let Some(i) = (0..batch.urls.len())
                    .find(|&i| owner[i].is_none() && url_list::host(&batch.urls[i]) == host)
                else {
                    break;
                };
                let url = &batch.urls[i];
                let unsupported = std::cell::Cell::new(false);
                let found = with_retry(
                    &self.opts.retry,
                    &bounds,
                    || async {
                        let _permit = self.rates.acquire(Api::Status).await;
                        self.calls.lookup.fetch_add(1, Ordering::Relaxed);
                        match self.provider.find_tasks(batch.kind, url, since).await {
                            Some(result) => result,
                            None => {
                                unsupported.set(true);
                                Ok(Vec::new())
                            }
                        }
                    },
                    on_retry(&self.calls, "look-up"),
                )
                .await;
                if unsupported.get() {
                    return None;
                }
                let candidates = match found {
                    Ok(ids) if ids.is_empty() => break,
                    Ok(ids) => ids,
                    Err(e) => return Some(Err(e)),
                };
                for chunk in candidates.chunks(self.provider.limits().status_ids_per_query.max(1)) {
                    let states = with_retry(
                        &self.opts.retry,
                        &bounds,
                        || async {
                            let _permit = self.rates.acquire(Api::Status).await;
                            self.calls.lookup.fetch_add(1, Ordering::Relaxed);
                            self.provider.poll(chunk).await
                        },
                        on_retry(&self.calls, "look-up"),
                    )
                    .await;
                    let states = match states {
                        Ok(states) => states,
                        Err(e) => return Some(Err(e)),
                    };
                    for s in &states {
                        for (j, u) in batch.urls.iter().enumerate() {
                            if owner[j].is_none() && same_path(&s.url, u) {
                                owner[j] = Some(s.task_id.clone());
                            }
                        }
                    }
                }
                if owner[i].is_none() {
                    // Its tasks do not list it: nothing more to learn for this host.
                    break;
                }
            }
        }
        let mut accepted: Vec<(Vec<TaskId>, Vec<String>)> = Vec::new();
        let mut rest = Vec::new();
        for (url, task) in batch.urls.iter().zip(owner) {
            match task {
                Some(task) => match accepted.iter_mut().find(|(ids, _)| ids[0] == task) {
                    Some((_, urls)) => urls.push(url.clone()),
                    None => accepted.push((vec![task], vec![url.clone()])),
                },
                None => rest.push(url.clone()),
            }
        }
        Some(Ok(Found { accepted, rest }))
    }

    /// Sends both operations' work and waits for their tasks, as one pipeline: the tasks are
    /// looked at while later batches still go out, and with `-t both` each URL's prefetch
    /// goes out as soon as its own refresh task completed (a URL whose refresh is a
    /// directory's or is not in this run: once every refresh task has finished). Returns
    /// the refresh's results, the prefetch's, and the directories the provider refused.
    async fn pipeline(
        &self,
        phases: &dyn PhaseObserver,
        plan: &Plan,
        send_plan: &Plan,
        refresh: PhaseWork,
        prefetch: PhaseWork,
    ) -> (Phase, Phase, Vec<String>) {
        let gated = send_plan.prefetch_after_refresh;
        let wait_refresh = self.opts.wait || gated;
        let wait_prefetch = self.opts.wait;
        let refresh_count = refresh.url_count();
        let prefetch_count = prefetch.url_count() + send_plan.prefetch.len();
        let label = match (refresh_count > 0, prefetch_count > 0) {
            (true, true) => "refresh and prefetch",
            (true, false) => "refresh",
            (false, true) => "prefetch",
            (false, false) => "",
        };
        if !label.is_empty() {
            phases.started(label, refresh_count.max(prefetch_count));
        }

        let pipe = Pipe {
            tracker: Mutex::new(Tracker::new(Schedule::new(self.opts.poll_interval))),
            wake: tokio::sync::Notify::new(),
            refresh_sent: AtomicBool::new(false),
            prefetch_sent: AtomicBool::new(false),
            refresh_parts: Mutex::new(Vec::new()),
            gate: if gated {
                gate(send_plan, &refresh)
            } else {
                HashSet::new()
            },
        };
        for (batch, outcome) in &refresh.recorded {
            if let BatchOutcome::Accepted(ids) = outcome {
                pipe.accepted(batch, ids, wait_refresh, gated);
            }
        }
        for (batch, outcome) in &prefetch.recorded {
            if let BatchOutcome::Accepted(ids) = outcome {
                pipe.accepted(batch, ids, wait_prefetch, false);
            }
        }
        // Prefetch URLs go out now, or once their refresh completed.
        let (release, released) = futures::channel::mpsc::unbounded::<Vec<String>>();
        let kept_refresh: HashMap<&str, UrlStatus> = refresh
            .kept
            .iter()
            .filter(|u| u.operation == Operation::Refresh)
            .map(|u| (u.url.as_str(), u.status))
            .collect();
        let (mut first, mut orphans) = (Vec::new(), Vec::new());
        for url in &send_plan.prefetch {
            if !gated {
                first.push(url.clone());
            } else if pipe.gate.contains(url.as_str()) {
                // Waits for its refresh task.
            } else {
                match kept_refresh.get(url.as_str()) {
                    // Refreshed by the earlier run.
                    Some(UrlStatus::Complete) => first.push(url.clone()),
                    // Its refresh did not complete: said at the end.
                    Some(_) => {}
                    // Under a refreshed directory, or not refreshed in this run.
                    None => orphans.push(url.clone()),
                }
            }
        }
        drop(kept_refresh);
        let mut release = Some(release);
        let mut released_urls: HashSet<String> = first.iter().cloned().collect();
        if !first.is_empty() {
            let _ = release.as_ref().map(|r| r.unbounded_send(first));
        }
        if !gated {
            release = None;
        }

        let refresh_look_first = refresh.look_first;
        let refresh_sender = async {
            let mut sent = self
                .send_batches(refresh.batches, refresh_look_first, |batch, ids| {
                    pipe.accepted(batch, ids, wait_refresh, gated)
                })
                .await;
            // Directories the provider refused: the files they stand for go out instead.
            let (fallback, refused) = self.refused_directory_files(plan);
            if !fallback.is_empty() {
                let more = self
                    .send_batches(fallback, self.opts.resume.is_some(), |batch, ids| {
                        pipe.accepted(batch, ids, wait_refresh, gated)
                    })
                    .await;
                sent.extend(more);
            }
            pipe.refresh_sent.store(true, Ordering::Relaxed);
            pipe.wake.notify_one();
            (sent, refused)
        };
        let limits = self.provider.limits();
        let prefetch_look_first = prefetch.look_first;
        let prefetch_sender = async {
            // What was released together goes out together, in full batches.
            let batches = released.ready_chunks(64).flat_map(|released| {
                let urls: Vec<String> = released.into_iter().flatten().collect();
                let batches = Plan::prefetch_batches(&urls, limits, self.opts.batch_size);
                tracing::info!(
                    "prefetch: sending {} in {}",
                    text::urls(urls.len()),
                    text::batches(batches.len())
                );
                futures::stream::iter(batches)
            });
            let sent = self
                .send_stream(
                    batches,
                    None,
                    prefetch_look_first,
                    |batch, ids| pipe.accepted(batch, ids, wait_prefetch, false),
                    if gated {
                        "going out as their refresh tasks complete"
                    } else {
                        RATE_LIMITED
                    },
                )
                .await;
            pipe.prefetch_sent.store(true, Ordering::Relaxed);
            pipe.wake.notify_one();
            sent
        };
        let poller = async {
            let fatal = self
                .poll(&pipe, &mut release, &mut released_urls, orphans)
                .await;
            // However the waiting ended, no further prefetch is released.
            drop(release.take());
            fatal
        };
        let ((refresh_sent, refused), prefetch_sent, poll_error) =
            tokio::join!(refresh_sender, prefetch_sender, poller);
        if !label.is_empty() {
            phases.finished(label);
        }

        let mut states = pipe
            .tracker
            .into_inner()
            .expect("not poisoned")
            .into_states();
        let interrupted = self.bounds.interrupt.raised().map(|(s, _)| s);
        let how = |waited| Waited {
            waited,
            interrupted,
            poll_error: poll_error.as_ref(),
            timeout: self.opts.timeout,
        };
        let mut done = results(
            refresh.kept,
            refresh_sent,
            refresh.recorded,
            &mut states,
            how(wait_refresh),
        );
        let refused_set: HashSet<&String> = refused.iter().collect();
        done.urls
            .retain(|u| !(u.object_type == ObjectType::Directory && refused_set.contains(&u.url)));
        let mut fetched = results(
            prefetch.kept,
            prefetch_sent,
            prefetch.recorded,
            &mut states,
            how(wait_prefetch),
        );
        // What was never released: as its refresh ended, or as the run ended.
        let left: Vec<String> = send_plan
            .prefetch
            .iter()
            .filter(|u| !released_urls.contains(*u))
            .cloned()
            .collect();
        let unsent = not_prefetched(&left, &done.urls, || {
            self.not_sending().unwrap_or_else(|| {
                "not prefetched: the refresh tasks did not all finish before the wait ended".into()
            })
        });
        fetched.urls.extend(unsent);
        // The report lists the prefetch in the plan's order, whatever order the refresh
        // tasks completed in.
        let position: HashMap<&str, usize> = plan
            .prefetch
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        fetched
            .urls
            .sort_by_key(|u| position.get(u.url.as_str()).copied().unwrap_or(usize::MAX));
        (done, fetched, refused)
    }

    /// Sends `batches` (concurrently, within the rates), telling `accepted` of each part the
    /// provider accepted, and says what became of every part.
    async fn send_batches(
        &self,
        batches: Vec<Batch>,
        look_first: bool,
        accepted: impl Fn(&Batch, &[TaskId]),
    ) -> Vec<(Batch, BatchOutcome)> {
        if batches.is_empty() {
            return Vec::new();
        }
        let batches = interleave_by_host(batches);
        let total = batches.len();
        let url_total: usize = batches.iter().map(|b| b.urls.len()).sum();
        tracing::info!(
            "{}: sending {} in {}",
            batches[0].kind.operation,
            text::urls(url_total),
            text::batches(total)
        );
        self.send_stream(
            futures::stream::iter(batches),
            Some(total),
            look_first,
            accepted,
            RATE_LIMITED,
        )
        .await
    }

    /// [`Self::send_batches`] for batches as they come (`total` when known in advance).
    async fn send_stream(
        &self,
        batches: impl futures::Stream<Item = Batch>,
        total: Option<usize>,
        look_first: bool,
        accepted: impl Fn(&Batch, &[TaskId]),
        rest: &str,
    ) -> Vec<(Batch, BatchOutcome)> {
        let done = AtomicU64::new(0);
        let operation: Mutex<Option<Operation>> = Mutex::new(None);
        let of_total = total.map_or_else(String::new, |t| format!("/{t}"));
        let accepted = &accepted;
        let sending = batches
            .map(|batch| {
                let (done, operation, of_total) = (&done, &operation, &of_total);
                async move {
                    *operation.lock().expect("not poisoned") = Some(batch.kind.operation);
                    let parts = self.submit(&batch, look_first).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    for (part, outcome) in &parts {
                        if let BatchOutcome::Accepted(ids) = outcome {
                            accepted(part, ids);
                            let ids: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
                            tracing::info!(
                                "  batch {n}{of_total}: {} accepted, task {}",
                                part.kind,
                                ids.join(",")
                            );
                        }
                    }
                    parts
                }
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect::<Vec<Vec<(Batch, BatchOutcome)>>>();
        // A long send (batches held back by the provider's rate limits, such as a per-domain
        // minute cap) says how far it is, so a CI log is never silent for long.
        let sent = self
            .with_heartbeat(sending, || {
                let n = done.load(Ordering::Relaxed);
                let op = operation
                    .lock()
                    .expect("not poisoned")
                    .map_or_else(String::new, |o| o.to_string());
                format!("{op}: {n}{of_total} batches sent, the rest {rest}")
            })
            .await;
        sent.into_iter().flatten().collect()
    }

    /// Looks at the tasks as they come due until every task is finished and nothing more
    /// will be sent, the deadline passes (after one last look) or the run is interrupted.
    /// Releases the prefetch of each URL whose refresh completed. Returns the error that
    /// stopped the looking early, if one did.
    async fn poll(
        &self,
        pipe: &Pipe,
        release: &mut Option<futures::channel::mpsc::UnboundedSender<Vec<String>>>,
        released: &mut HashSet<String>,
        mut orphans: Vec<String>,
    ) -> Option<ProviderError> {
        let per_query = self.provider.limits().status_ids_per_query.max(1);
        let mut said = (0usize, Instant::now() - HEARTBEAT);
        // When the open tasks were last looked at because a batch waits for room.
        let mut hurried = Instant::now();
        loop {
            if release.is_some() {
                let (mut urls, refresh_over) = pipe.completed_refreshes();
                if refresh_over {
                    // Every refresh task finished: the rest goes out now (under refreshed
                    // directories, or not refreshed in this run).
                    urls.append(&mut orphans);
                }
                send_release(release, released, urls);
                if refresh_over {
                    release.take();
                }
            }
            let (total, finished, next) = {
                let t = pipe.tracker.lock().expect("not poisoned");
                (t.total(), t.finished_count(), t.next_due())
            };
            let all_sent = pipe.refresh_sent.load(Ordering::Relaxed)
                && pipe.prefetch_sent.load(Ordering::Relaxed);
            if (finished == total && all_sent) || self.bounds.interrupt.raised().is_some() {
                return None;
            }
            let deadline = self.bounds.deadline;
            // A batch waits for room under the in-progress limits: the open tasks are
            // looked at every poll interval, their end being what it waits for.
            let hurry_at = self
                .gate
                .waiting()
                .then(|| hurried + self.opts.poll_interval);
            if Instant::now() < deadline {
                let at = next.unwrap_or(deadline).min(deadline);
                let at = hurry_at.map_or(at, |h| at.min(h));
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = pipe.wake.notified() => continue,
                    _ = self.gate.started_waiting.notified() => continue,
                    _ = self.bounds.interrupt.wait() => return None,
                }
            }
            let now = Instant::now();
            // At the deadline, one last look at every open task, so that nothing that
            // finished just in time is reported pending.
            let last = now >= deadline;
            let hurrying = hurry_at.is_some_and(|h| now >= h);
            if hurrying {
                hurried = now;
            }
            let due =
                pipe.tracker
                    .lock()
                    .expect("not poisoned")
                    .due(now, per_query, last || hurrying);
            if due.is_empty() {
                if last {
                    return None;
                }
                continue;
            }
            let results: Vec<(&[TaskId], Answer)> = futures::stream::iter(due.chunks(per_query))
                .map(|chunk| async move {
                    let answer = with_retry(
                        &self.opts.retry,
                        &self.bounds.within_grace(),
                        || async {
                            let _permit = self.rates.acquire(Api::Status).await;
                            self.calls.status.fetch_add(1, Ordering::Relaxed);
                            self.provider.poll(chunk).await
                        },
                        on_retry(&self.calls, "status query"),
                    )
                    .await;
                    (chunk, answer)
                })
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
            let now = Instant::now();
            let mut fatal = None;
            {
                let mut tracker = pipe.tracker.lock().expect("not poisoned");
                tracing::debug!("looked at {} tasks", due.len());
                for (chunk, answer) in results {
                    match answer {
                        Ok(found) => {
                            let mut by_task: HashMap<TaskId, Vec<TaskState>> = HashMap::new();
                            for s in found {
                                by_task.entry(s.task_id.clone()).or_default().push(s);
                            }
                            for id in chunk {
                                let states = by_task.remove(id).unwrap_or_default();
                                if tracker.record(id, states, now) {
                                    self.gate.finished(id);
                                }
                            }
                        }
                        Err(err) if stops_run(err.class) => {
                            tracing::error!("status query: {err}; no more status checks");
                            fatal = Some(err);
                        }
                        Err(err) => {
                            if err.class != ErrorClass::Deadline {
                                tracing::warn!("status query: {err}; will check again");
                            }
                            for id in chunk {
                                tracker.missed(id, now);
                            }
                        }
                    }
                }
                let (finished, total) = (tracker.finished_count(), tracker.total());
                // A line when tasks finished (at most every 2 s) or every HEARTBEAT, and
                // the last one.
                let quiet = said.1.elapsed();
                let changed = finished != said.0;
                if (changed && (finished == total || quiet >= Duration::from_secs(2)))
                    || quiet >= HEARTBEAT
                    || last
                {
                    tracing::info!(
                        "  waiting: {finished}/{total} tasks finished; {}",
                        self.clock()
                    );
                    said = (finished, Instant::now());
                }
            }
            if fatal.is_some() {
                return fatal;
            }
            if last {
                return None;
            }
        }
    }

    /// The file batches for the directories the provider refused (their files, less those
    /// the plan refreshes anyway), and those directories, sorted.
    fn refused_directory_files(&self, plan: &Plan) -> (Vec<Batch>, Vec<String>) {
        let refused: HashSet<String> =
            std::mem::take(&mut *self.refused_dirs.lock().expect("not poisoned"))
                .into_iter()
                .collect();
        if refused.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let planned: HashSet<&String> = plan.refresh.values().flatten().collect();
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        for dir in plan
            .refresh
            .get(&ObjectType::Directory)
            .into_iter()
            .flatten()
            .filter(|dir| refused.contains(*dir))
        {
            for f in &self.fallback[dir] {
                if !planned.contains(f) && seen.insert(f.clone()) {
                    files.push(f.clone());
                }
            }
        }
        tracing::warn!(
            "{} directories refused: refreshing their {} files instead",
            refused.len(),
            files.len()
        );
        let fallback = Plan {
            refresh: BTreeMap::from([(ObjectType::File, files)]),
            ..Plan::default()
        };
        let batches = fallback.refresh_batches(self.provider.limits(), self.opts.batch_size);
        let mut dirs: Vec<String> = refused.into_iter().collect();
        dirs.sort();
        (batches, dirs)
    }
}

/// A status query's answer.
type Answer = Result<Vec<TaskState>, ProviderError>;

/// What the pipeline's senders and its poller share.
struct Pipe {
    tracker: Mutex<Tracker>,
    /// Told when a task is added or a sender is done, so the poller looks again.
    wake: tokio::sync::Notify,
    refresh_sent: AtomicBool,
    prefetch_sent: AtomicBool,
    /// Accepted refresh parts, for the prefetch that waits on them (`-t both`).
    refresh_parts: Mutex<Vec<RefreshPart>>,
    /// Prefetch URLs whose own refresh is in this run: each waits for it.
    gate: HashSet<String>,
}

struct RefreshPart {
    ids: Vec<TaskId>,
    /// Its URLs that are prefetched after it.
    urls: Vec<String>,
    released: bool,
}

impl Pipe {
    /// A part the provider accepted: its tasks are waited for (`waited`), and with `gated`
    /// its prefetch follows them.
    fn accepted(&self, batch: &Batch, ids: &[TaskId], waited: bool, gated: bool) {
        if waited {
            let now = Instant::now();
            let mut tracker = self.tracker.lock().expect("not poisoned");
            for id in ids {
                tracker.add(id, now);
            }
        }
        if gated && batch.kind.operation == Operation::Refresh {
            self.refresh_parts
                .lock()
                .expect("not poisoned")
                .push(RefreshPart {
                    ids: ids.to_vec(),
                    urls: batch
                        .urls
                        .iter()
                        .filter(|u| self.gate.contains(u.as_str()))
                        .cloned()
                        .collect(),
                    released: false,
                });
        }
        self.wake.notify_one();
    }

    /// The prefetch URLs of refresh parts whose tasks all finished since the last call, the
    /// URLs their tasks completed; and whether the refresh is over (everything sent and
    /// every task finished).
    fn completed_refreshes(&self) -> (Vec<String>, bool) {
        let tracker = self.tracker.lock().expect("not poisoned");
        let mut parts = self.refresh_parts.lock().expect("not poisoned");
        let mut urls = Vec::new();
        for part in parts.iter_mut().filter(|p| !p.released) {
            if !part.ids.iter().all(|id| tracker.is_finished(id)) {
                continue;
            }
            part.released = true;
            for url in std::mem::take(&mut part.urls) {
                let complete = part.ids.iter().any(|id| {
                    tracker::find(tracker.states(id), &url)
                        .is_some_and(|s| s.status == TaskStatus::Complete)
                });
                if complete {
                    urls.push(url);
                }
            }
        }
        let over = self.refresh_sent.load(Ordering::Relaxed) && parts.iter().all(|p| p.released);
        (urls, over)
    }
}

/// The prefetch URLs whose own refresh is sent (or waited on) in this run.
fn gate(send_plan: &Plan, refresh: &PhaseWork) -> HashSet<String> {
    let prefetched: HashSet<&str> = send_plan.prefetch.iter().map(String::as_str).collect();
    send_plan
        .refresh
        .values()
        .flatten()
        .chain(refresh.recorded.iter().flat_map(|(b, _)| b.urls.iter()))
        .filter(|u| prefetched.contains(u.as_str()))
        .cloned()
        .collect()
}

/// Hands `urls` to the prefetch sender, once each.
fn send_release(
    release: &Option<futures::channel::mpsc::UnboundedSender<Vec<String>>>,
    released: &mut HashSet<String>,
    urls: Vec<String>,
) {
    let urls: Vec<String> = urls
        .into_iter()
        .filter(|u| released.insert(u.clone()))
        .collect();
    if let (Some(release), false) = (release, urls.is_empty()) {
        // The receiver lives as long as the pipeline.
        let _ = release.unbounded_send(urls);
    }
}

/// The prefetch URLs that never went out: as their refresh ended (`pending` while it was
/// still running, else `rejected`), or with `reason` (the run stopped, or its refresh is a
/// directory's that did not finish).
fn not_prefetched(
    left: &[String],
    refreshed: &[UrlResult],
    reason: impl Fn() -> String,
) -> Vec<UrlResult> {
    if left.is_empty() {
        return Vec::new();
    }
    let status_of: HashMap<&str, UrlStatus> = refreshed
        .iter()
        .filter(|u| u.operation == Operation::Refresh)
        .map(|u| (u.url.as_str(), u.status))
        .collect();
    left.iter()
        .map(|url| {
            let (status, reason) = match status_of.get(url.as_str()) {
                Some(status) if *status != UrlStatus::Complete => (
                    if *status == UrlStatus::Pending {
                        UrlStatus::Pending
                    } else {
                        UrlStatus::Rejected
                    },
                    format!(
                        "not prefetched: its refresh ended {}",
                        serde_json::to_value(status)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or("?")
                    ),
                ),
                _ => (UrlStatus::Rejected, reason()),
            };
            UrlResult {
                url: url.clone(),
                operation: Operation::Prefetch,
                object_type: ObjectType::File,
                status,
                task_id: None,
                reason: Some(reason),
                verify: None,
            }
        })
        .collect()
}

/// Every URL of one operation with its result: those an earlier run finished (`kept`), the
/// parts sent now and those the earlier run got accepted (`recorded`), from the tasks'
/// latest `states`.
fn results(
    kept: Vec<UrlResult>,
    sent: Vec<(Batch, BatchOutcome)>,
    recorded: Vec<(Batch, BatchOutcome)>,
    states: &mut HashMap<TaskId, Vec<PathState>>,
    how: Waited<'_>,
) -> Phase {
    let mut phase = Phase {
        tasks: Vec::new(),
        urls: kept,
    };
    // Room for every URL at once: a million results are not copied while the list grows.
    let total: usize = sent
        .iter()
        .chain(&recorded)
        .map(|(b, _)| b.urls.len())
        .sum();
    phase.urls.reserve_exact(total);
    // How many parts still need each task's states: they go once the last has its results.
    let mut parts_of: HashMap<TaskId, usize> = HashMap::new();
    for (batch, outcome) in sent.iter().chain(recorded.iter()) {
        if let BatchOutcome::Accepted(ids) = outcome {
            for id in ids {
                let parts = parts_of.entry(id.clone()).or_default();
                *parts += 1;
                if *parts == 1 {
                    phase.tasks.push(TaskRecord {
                        id: id.0.clone(),
                        operation: batch.kind.operation,
                        object_type: batch.kind.object_type,
                    });
                }
            }
        }
    }
    for (batch, outcome) in sent.into_iter().chain(recorded) {
        for url in batch.urls {
            let (status, task_id, reason) = match &outcome {
                BatchOutcome::NotSent(reason) => (UrlStatus::Rejected, None, Some(reason.clone())),
                BatchOutcome::Refused(err) => (
                    UrlStatus::Rejected,
                    None,
                    Some(match &err.hint {
                        Some(hint) => format!("{err} ({hint})"),
                        None => err.to_string(),
                    }),
                ),
                BatchOutcome::Accepted(ids) => resolve(&url, ids, states, how),
            };
            phase.urls.push(UrlResult {
                url,
                operation: batch.kind.operation,
                object_type: batch.kind.object_type,
                status,
                task_id,
                reason,
                verify: None,
            });
        }
        if let BatchOutcome::Accepted(ids) = &outcome {
            for id in ids {
                if parts_of.get_mut(id).is_some_and(|n| {
                    *n -= 1;
                    *n == 0
                }) {
                    states.remove(id);
                }
            }
        }
    }
    phase
}

/// How the wait for a phase's tasks ended.
#[derive(Clone, Copy)]
struct Waited<'a> {
    waited: bool,
    interrupted: Option<crate::http::bounds::Signal>,
    poll_error: Option<&'a ProviderError>,
    timeout: Duration,
}

/// The result of one sent URL from the states its tasks reported.
fn resolve(
    url: &str,
    ids: &[TaskId],
    states: &HashMap<TaskId, Vec<PathState>>,
    how: Waited<'_>,
) -> (UrlStatus, Option<String>, Option<String>) {
    let found = ids.iter().find_map(|id| {
        states
            .get(id)
            .and_then(|states| {
                // A provider that invalidates a path on every site of one distribution
                // (CloudFront) reports a task of another run by its paths alone.
                tracker::find(states, url).or_else(|| tracker::find(states, below_host(url)))
            })
            .map(|s| (id, s))
    });
    let joined = || {
        Some(
            ids.iter()
                .map(|i| i.0.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    let interrupted = |task| {
        how.interrupted.map(|signal| {
            (
                UrlStatus::Submitted,
                task,
                Some(format!(
                    "interrupted ({}) before its task finished: accepted, not waited for (--resume waits for it)",
                    signal.name()
                )),
            )
        })
    };
    match found {
        Some((id, s)) => {
            let task = Some(id.0.clone());
            match s.status {
                TaskStatus::Complete => (UrlStatus::Complete, task, None),
                TaskStatus::Failed => (
                    UrlStatus::Failed,
                    task,
                    Some(s.description.as_deref().map_or_else(
                        || "the provider reported the task failed".into(),
                        str::to_string,
                    )),
                ),
                TaskStatus::Pending | TaskStatus::Running => interrupted(task.clone())
                    .unwrap_or_else(|| {
                        (
                            UrlStatus::Pending,
                            task,
                            Some(match how.poll_error {
                                Some(e) => {
                                    format!("status unknown after the status query failed: {e}")
                                }
                                None => format!(
                                    "still {} when the wait ended ({}s timeout)",
                                    if s.status == TaskStatus::Pending {
                                        "pending"
                                    } else {
                                        "running"
                                    },
                                    how.timeout.as_secs()
                                ),
                            }),
                        )
                    }),
            }
        }
        None if !how.waited => (UrlStatus::Submitted, joined(), None),
        None => interrupted(joined()).unwrap_or_else(|| {
            (
                UrlStatus::Pending,
                joined(),
                Some(match how.poll_error {
                    Some(e) => format!("status unknown after the status query failed: {e}"),
                    None => {
                        "the provider reported no status for this URL before the wait ended".into()
                    }
                }),
            )
        }),
    }
}

/// `https://host/a?b` → `/a?b`: a URL as a provider that knows no hosts reports it.
fn below_host(url: &str) -> &str {
    let rest = tracker::path_key(url);
    rest.find('/').map_or(rest, |i| &rest[i..])
}

/// Every URL of a plan with one status and reason: for dry runs (`planned`) and for runs
/// refused before anything was sent (`rejected`).
pub fn listed(plan: &Plan, status: UrlStatus, reason: Option<&str>) -> Vec<UrlResult> {
    let record = |url: &String, operation, object_type| UrlResult {
        url: url.clone(),
        operation,
        object_type,
        status,
        task_id: None,
        reason: reason.map(str::to_string),
        verify: None,
    };
    let mut urls = Vec::new();
    for (t, list) in &plan.refresh {
        urls.extend(list.iter().map(|u| record(u, Operation::Refresh, *t)));
    }
    urls.extend(
        plan.prefetch
            .iter()
            .map(|u| record(u, Operation::Prefetch, crate::providers::ObjectType::File)),
    );
    urls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{BatchKind, QuotaEntry};

    #[test]
    fn a_url_below_its_host_is_its_path_and_query() {
        assert_eq!(below_host("https://example.com/a/b?v=2"), "/a/b?v=2");
        assert_eq!(below_host("http://example.com/"), "/");
        assert_eq!(below_host("example.com/x"), "/x");
    }

    #[test]
    fn shortfall_names_each_quota_that_does_not_cover() {
        let quota = Quota {
            entries: vec![
                QuotaEntry {
                    kind: QuotaKind::RefreshUrl,
                    limit: 10000,
                    remaining: 5,
                },
                QuotaEntry {
                    kind: QuotaKind::Prefetch,
                    limit: 1000,
                    remaining: 1000,
                },
            ],
        };
        let needs = BTreeMap::from([(QuotaKind::RefreshUrl, 6), (QuotaKind::Prefetch, 6)]);
        let s = shortfalls(&needs, &quota);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].kind, s[0].needed, s[0].remaining),
            (QuotaKind::RefreshUrl, 6, 5)
        );
    }

    #[test]
    fn batches_alternate_hosts() {
        let b = |host: &str| Batch {
            kind: BatchKind::PREFETCH,
            urls: vec![format!("https://{host}/x")],
        };
        let out = interleave_by_host(vec![b("a.com"), b("a.com"), b("b.com"), b("b.com")]);
        let hosts: Vec<&str> = out.iter().map(|b| url_list::host(&b.urls[0])).collect();
        assert_eq!(hosts, vec!["a.com", "b.com", "a.com", "b.com"]);
    }

    #[test]
    fn reported_paths_match_with_or_without_scheme() {
        assert!(same_path("a.com/x", "https://a.com/x"));
        assert!(same_path("http://a.com/x", "http://a.com/x"));
        assert!(!same_path("a.com/y", "https://a.com/x"));
    }
}
