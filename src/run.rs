//! The pipeline: quota check → submit batches → wait → prefetch → report.
//!
//! Every planned URL gets exactly one [`UrlResult`] per operation, whatever happens: sent
//! and finished, refused, left unsent because the provider stopped the run, or still
//! running when the wait ended. Provider calls go through the shared rate limiter and
//! retry policy; nothing here knows a provider's wire format.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use crate::http::retry::{RetryPolicy, stops_run, with_retry};
use crate::plan::Plan;
use crate::providers::{
    Batch, ErrorClass, ObjectType, Operation, Provider, ProviderError, Quota, QuotaKind, Submitted,
    TaskId, TaskState, TaskStatus,
};
use crate::quota_ledger::{QuotaLedger, Reservation};
use crate::rate_limit::{Api, ApiRates};
use crate::report::{self, Calls, Counts, Report, Stop, TaskRecord, UrlResult, UrlStatus};
use crate::url_list;
use crate::wait::{Check, PollSchedule, poll_until};

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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            wait: true,
            timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(2),
            concurrency: 8,
            batch_size: None,
            qps: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// A run that ended before anything was sent.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("today's quota does not cover this run; nothing was sent")]
    QuotaShortfall {
        quota: Quota,
        shortfalls: Vec<Shortfall>,
    },
    #[error("the quota check failed; nothing was sent: {0}")]
    QuotaCheck(ProviderError),
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
}

impl CallCounter {
    fn snapshot(&self) -> Calls {
        Calls {
            submit: self.submit.load(Ordering::Relaxed),
            status: self.status.load(Ordering::Relaxed),
            quota: self.quota.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// What happened to one batch.
enum BatchOutcome {
    Accepted(Vec<TaskId>),
    Refused(ProviderError),
    NotSent(String),
}

struct Runner<'a> {
    provider: &'a dyn Provider,
    opts: &'a RunOptions,
    rates: ApiRates,
    calls: CallCounter,
    /// The error that stopped the run; once set, no further batch is sent.
    stop: Mutex<Option<ProviderError>>,
    deadline: Instant,
    quota: Mutex<QuotaLedger>,
    /// Directory URLs → the files they stand for, refreshed instead if the provider
    /// refuses directory refresh.
    fallback: &'a BTreeMap<String, Vec<String>>,
    /// Directories the provider refused (or that were not sent after it refused one).
    refused_dirs: Mutex<Vec<String>>,
    /// Held while a batch of a quota not known yet is out: its answer tells the quota, so
    /// the batches after it can be checked.
    probe: tokio::sync::Mutex<()>,
}

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
    fn started(&self, operation: Operation, urls: usize);
    fn finished(&self, operation: Operation);
}

impl PhaseObserver for () {
    fn started(&self, _: Operation, _: usize) {}
    fn finished(&self, _: Operation) {}
}

pub async fn execute(
    provider: &dyn Provider,
    plan: &Plan,
    opts: &RunOptions,
) -> Result<Report, RunError> {
    execute_observed(provider, plan, opts, &()).await
}

/// [`execute`], telling `phases` when the refresh and the prefetch start and end.
pub async fn execute_observed(
    provider: &dyn Provider,
    plan: &Plan,
    opts: &RunOptions,
    phases: &dyn PhaseObserver,
) -> Result<Report, RunError> {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let runner = Runner {
        provider,
        opts,
        rates: ApiRates::new(provider.limits(), opts.qps),
        calls: CallCounter::default(),
        stop: Mutex::new(None),
        deadline: clock + opts.timeout,
        quota: Mutex::new(QuotaLedger::default()),
        fallback: &plan.directory_fallback,
        refused_dirs: Mutex::new(Vec::new()),
        probe: tokio::sync::Mutex::new(()),
    };

    // Without a quota call (Qiniu), the answers to the batches tell the quota.
    let quota = if provider.quota_in_answers() {
        None
    } else {
        let quota = runner.quota().await.map_err(RunError::QuotaCheck)?;
        let short = shortfalls(&plan.quota_needs(), &quota);
        if !short.is_empty() {
            return Err(RunError::QuotaShortfall {
                quota,
                shortfalls: short,
            });
        }
        runner.ledger().observe(&quota);
        Some(quota)
    };

    let mut urls = Vec::new();
    let mut tasks = Vec::new();
    let limits = provider.limits();

    // Refresh.
    let refresh_batches = plan.refresh_batches(limits, opts.batch_size);
    let wait_refresh = opts.wait || plan.prefetch_after_refresh;
    let refresh = runner
        .observed(phases, Operation::Refresh, refresh_batches, wait_refresh)
        .await;
    tasks.extend(refresh.tasks);
    urls.extend(refresh.urls);

    // Directory refresh refused: the files the directories stood for go out instead.
    let refused: HashSet<String> =
        std::mem::take(&mut *runner.refused_dirs.lock().expect("not poisoned"))
            .into_iter()
            .collect();
    if !refused.is_empty() {
        urls.retain(|u| !(u.object_type == ObjectType::Directory && refused.contains(&u.url)));
        let planned: HashSet<&String> = plan.refresh.values().flatten().collect();
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        for dir in plan
            .refresh
            .get(&ObjectType::Directory)
            .into_iter()
            .flatten()
        {
            if !refused.contains(dir) {
                continue;
            }
            for f in &plan.directory_fallback[dir] {
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
        let batches = fallback.refresh_batches(limits, opts.batch_size);
        let extra = runner
            .observed(phases, Operation::Refresh, batches, wait_refresh)
            .await;
        tasks.extend(extra.tasks);
        urls.extend(extra.urls);
    }

    // Prefetch: after a refresh, only what it completed.
    let mut prefetch_urls = Vec::new();
    if plan.prefetch_after_refresh {
        let refreshed: HashMap<String, UrlStatus> = urls
            .iter()
            .filter(|u| u.operation == Operation::Refresh)
            .map(|u| (u.url.clone(), u.status))
            .collect();
        for url in &plan.prefetch {
            match refreshed.get(url.as_str()) {
                Some(UrlStatus::Complete) | None => prefetch_urls.push(url.clone()),
                Some(status) => urls.push(UrlResult {
                    url: url.clone(),
                    operation: Operation::Prefetch,
                    object_type: crate::providers::ObjectType::File,
                    status: if *status == UrlStatus::Pending {
                        UrlStatus::Pending
                    } else {
                        UrlStatus::Rejected
                    },
                    task_id: None,
                    reason: Some(format!(
                        "not prefetched: its refresh ended {}",
                        serde_json::to_value(status)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or("?")
                    )),
                }),
            }
        }
    } else {
        prefetch_urls = plan.prefetch.clone();
    }
    let prefetch_batches = Plan::prefetch_batches(&prefetch_urls, limits, opts.batch_size);
    let prefetch = runner
        .observed(phases, Operation::Prefetch, prefetch_batches, opts.wait)
        .await;
    tasks.extend(prefetch.tasks);
    urls.extend(prefetch.urls);

    let finished = chrono::Utc::now();
    let stopped = runner
        .stop
        .lock()
        .expect("not poisoned")
        .take()
        .map(|e| Stop {
            code: e.code,
            message: e.message,
            hint: e.hint,
        });
    Ok(Report {
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
        directories_refused: {
            let mut dirs: Vec<String> = refused.into_iter().collect();
            dirs.sort();
            dirs
        },
        stopped,
        calls: runner.calls.snapshot(),
        tasks,
        urls,
        git: None,
    })
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
    fn strip(s: &str) -> &str {
        s.strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s)
    }
    reported == sent || strip(reported) == strip(sent)
}

impl Runner<'_> {
    /// A directory batch whose every directory has files to fall back to.
    fn falls_back(&self, batch: &Batch) -> bool {
        batch.kind.object_type == ObjectType::Directory
            && batch.urls.iter().all(|u| self.fallback.contains_key(u))
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, QuotaLedger> {
        self.quota.lock().expect("not poisoned")
    }

    async fn quota(&self) -> Result<Quota, ProviderError> {
        with_retry(
            &self.opts.retry,
            || async {
                self.rates.acquire(Api::Quota).await;
                self.calls.quota.fetch_add(1, Ordering::Relaxed);
                self.provider.quota().await
            },
            on_retry(&self.calls, "quota check"),
        )
        .await
    }

    fn stopped(&self) -> Option<String> {
        self.stop
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|e| format!("not sent: the run stopped after {}: {}", e.code, e.message))
    }

    async fn submit(&self, batch: &Batch) -> BatchOutcome {
        if let Some(reason) = self.stopped() {
            return BatchOutcome::NotSent(reason);
        }
        // The rates may hold a batch back (a per-host cap can take minutes); --timeout
        // bounds the whole run, so a batch whose turn comes after it is not sent.
        let turn = async {
            self.rates.acquire(Api::Submit).await;
            self.rates.acquire_items(batch.urls.len() as u32).await;
            if self.provider.limits().minute_cap(batch.kind).is_some() {
                let mut per_host: HashMap<String, u32> = HashMap::new();
                for u in &batch.urls {
                    *per_host.entry(url_list::host(u).to_string()).or_default() += 1;
                }
                let counts: Vec<(String, u32)> = per_host.into_iter().collect();
                self.rates.acquire_hosts(&counts).await;
            }
        };
        if tokio::time::timeout_at(self.deadline, turn).await.is_err() {
            return BatchOutcome::NotSent(format!(
                "not sent: the run's --timeout ({}s) passed before this batch's turn under the provider's rate limits",
                self.opts.timeout.as_secs()
            ));
        }
        // Check again: the run may have stopped while this batch waited for its turn.
        if let Some(reason) = self.stopped() {
            return BatchOutcome::NotSent(reason);
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
            return BatchOutcome::NotSent("directory refresh refused".into());
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
            return BatchOutcome::NotSent(reason);
        }
        let what = format!("{} of {} URLs", batch.kind, batch.urls.len());
        let result = with_retry(
            &self.opts.retry,
            || async {
                self.calls.submit.fetch_add(1, Ordering::Relaxed);
                self.provider.submit(batch).await
            },
            on_retry(&self.calls, &what),
        )
        .await;
        if let Ok(Submitted {
            quota: Some(quota), ..
        }) = &result
        {
            self.ledger().observe(quota);
        }
        if result.is_err() && reservation == Reservation::Granted {
            self.ledger().refund(kind, n);
        }
        match result {
            Ok(submitted) => BatchOutcome::Accepted(submitted.ids),
            Err(err) => {
                if err.class == ErrorClass::Permission && self.falls_back(batch) {
                    tracing::warn!(
                        "{what}: {err}; the files these directories stand for are refreshed instead"
                    );
                    self.refused_dirs
                        .lock()
                        .expect("not poisoned")
                        .extend(batch.urls.iter().cloned());
                } else if stops_run(err.class) {
                    let mut stop = self.stop.lock().expect("not poisoned");
                    if stop.is_none() {
                        tracing::error!("{what}: {err}; the run stops here");
                        *stop = Some(err.clone());
                    }
                } else {
                    tracing::error!("{what}: {err}");
                }
                BatchOutcome::Refused(err)
            }
        }
    }

    /// [`Self::send_and_wait`] between the observer's start and end of the phase.
    async fn observed(
        &self,
        phases: &dyn PhaseObserver,
        operation: Operation,
        batches: Vec<Batch>,
        wait: bool,
    ) -> Phase {
        if batches.is_empty() {
            return self.send_and_wait(batches, wait).await;
        }
        phases.started(operation, batches.iter().map(|b| b.urls.len()).sum());
        let phase = self.send_and_wait(batches, wait).await;
        phases.finished(operation);
        phase
    }

    /// Sends the batches (concurrently, within the rates), waits for their tasks when
    /// asked, and gives every URL of every batch its result.
    async fn send_and_wait(&self, batches: Vec<Batch>, wait: bool) -> Phase {
        let mut phase = Phase {
            tasks: Vec::new(),
            urls: Vec::new(),
        };
        if batches.is_empty() {
            return phase;
        }
        let batches = interleave_by_host(batches);
        let total = batches.len();
        let url_total: usize = batches.iter().map(|b| b.urls.len()).sum();
        tracing::info!(
            "{}: sending {url_total} URLs in {total} batch{}",
            batches[0].kind.operation,
            if total == 1 { "" } else { "es" }
        );
        let done = AtomicU64::new(0);
        let sent: Vec<(Batch, BatchOutcome)> = futures::stream::iter(batches)
            .map(|batch| {
                let done = &done;
                async move {
                    let sent = self.submit(&batch).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let BatchOutcome::Accepted(ids) = &sent {
                        let ids: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
                        tracing::info!(
                            "  batch {n}/{total}: {} accepted, task {}",
                            batch.kind,
                            ids.join(",")
                        );
                    }
                    (batch, sent)
                }
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;

        let ids: Vec<TaskId> = sent
            .iter()
            .flat_map(|(_, s)| match s {
                BatchOutcome::Accepted(ids) => ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        for (batch, s) in &sent {
            if let BatchOutcome::Accepted(task_ids) = s {
                for id in task_ids {
                    phase.tasks.push(TaskRecord {
                        id: id.0.clone(),
                        operation: batch.kind.operation,
                        object_type: batch.kind.object_type,
                    });
                }
            }
        }

        let (states, poll_error) = if wait && !ids.is_empty() {
            self.wait_for(&ids).await
        } else {
            (HashMap::new(), None)
        };

        for (batch, s) in sent {
            for url in batch.urls {
                let (status, task_id, reason) = match &s {
                    BatchOutcome::NotSent(reason) => {
                        (UrlStatus::Rejected, None, Some(reason.clone()))
                    }
                    BatchOutcome::Refused(err) => (
                        UrlStatus::Rejected,
                        None,
                        Some(match &err.hint {
                            Some(hint) => format!("{err} ({hint})"),
                            None => err.to_string(),
                        }),
                    ),
                    BatchOutcome::Accepted(ids) => resolve(
                        &url,
                        ids,
                        &states,
                        wait,
                        poll_error.as_ref(),
                        self.opts.timeout,
                    ),
                };
                phase.urls.push(UrlResult {
                    url,
                    operation: batch.kind.operation,
                    object_type: batch.kind.object_type,
                    status,
                    task_id,
                    reason,
                });
            }
        }
        phase
    }

    /// Polls until every task is finished or the deadline passes. Returns the latest
    /// states per task, and the error that stopped polling early, if one did.
    async fn wait_for(
        &self,
        ids: &[TaskId],
    ) -> (HashMap<TaskId, Vec<TaskState>>, Option<ProviderError>) {
        let states: Mutex<HashMap<TaskId, Vec<TaskState>>> = Mutex::new(HashMap::new());
        let fatal: Mutex<Option<ProviderError>> = Mutex::new(None);
        let per_query = self.provider.limits().status_ids_per_query.max(1);
        let schedule = PollSchedule::new(self.opts.poll_interval);
        let total = ids.len();
        poll_until(&schedule, self.deadline, || async {
            let open: Vec<TaskId> = {
                let states = states.lock().expect("not poisoned");
                ids.iter()
                    .filter(|id| !states.get(*id).is_some_and(|s| finished(s)))
                    .cloned()
                    .collect()
            };
            let results: Vec<Result<Vec<TaskState>, ProviderError>> =
                futures::stream::iter(open.chunks(per_query))
                    .map(|chunk| async move {
                        with_retry(
                            &self.opts.retry,
                            || async {
                                self.rates.acquire(Api::Status).await;
                                self.calls.status.fetch_add(1, Ordering::Relaxed);
                                self.provider.poll(chunk).await
                            },
                            on_retry(&self.calls, "status query"),
                        )
                        .await
                    })
                    .buffer_unordered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut states = states.lock().expect("not poisoned");
            for result in results {
                match result {
                    Ok(found) => {
                        let mut by_task: HashMap<TaskId, Vec<TaskState>> = HashMap::new();
                        for s in found {
                            by_task.entry(s.task_id.clone()).or_default().push(s);
                        }
                        states.extend(by_task);
                    }
                    Err(err) if stops_run(err.class) => {
                        tracing::error!("status query: {err}; no more status checks");
                        *fatal.lock().expect("not poisoned") = Some(err);
                    }
                    Err(err) => tracing::warn!("status query: {err}; will check again"),
                }
            }
            let finished_count = ids
                .iter()
                .filter(|id| states.get(*id).is_some_and(|s| finished(s)))
                .count();
            tracing::info!("  waiting: {finished_count}/{total} tasks finished");
            if finished_count == total || fatal.lock().expect("not poisoned").is_some() {
                Check::Done(())
            } else {
                Check::NotYet(())
            }
        })
        .await;
        (
            states.into_inner().expect("not poisoned"),
            fatal.into_inner().expect("not poisoned"),
        )
    }
}

fn finished(states: &[TaskState]) -> bool {
    !states.is_empty() && states.iter().all(|s| s.status.is_terminal())
}

/// The result of one sent URL from the states its tasks reported.
fn resolve(
    url: &str,
    ids: &[TaskId],
    states: &HashMap<TaskId, Vec<TaskState>>,
    waited: bool,
    poll_error: Option<&ProviderError>,
    timeout: Duration,
) -> (UrlStatus, Option<String>, Option<String>) {
    let found = ids
        .iter()
        .filter_map(|id| states.get(id))
        .flatten()
        .find(|s| same_path(&s.url, url));
    let joined = || {
        Some(
            ids.iter()
                .map(|i| i.0.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    match found {
        Some(s) => {
            let task = Some(s.task_id.0.clone());
            match s.status {
                TaskStatus::Complete => (UrlStatus::Complete, task, None),
                TaskStatus::Failed => (
                    UrlStatus::Failed,
                    task,
                    Some(
                        s.description
                            .clone()
                            .unwrap_or_else(|| "the provider reported the task failed".into()),
                    ),
                ),
                TaskStatus::Pending | TaskStatus::Running => (
                    UrlStatus::Pending,
                    task,
                    Some(match poll_error {
                        Some(e) => format!("status unknown after the status query failed: {e}"),
                        None => format!(
                            "still {} when the wait ended ({}s timeout)",
                            if s.status == TaskStatus::Pending {
                                "pending"
                            } else {
                                "running"
                            },
                            timeout.as_secs()
                        ),
                    }),
                ),
            }
        }
        None if !waited => (UrlStatus::Submitted, joined(), None),
        None => (
            UrlStatus::Pending,
            joined(),
            Some(match poll_error {
                Some(e) => format!("status unknown after the status query failed: {e}"),
                None => "the provider reported no status for this URL before the wait ended".into(),
            }),
        ),
    }
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
