//! Qiniu's side of the one emulated account: its daily quotas, the items it accepted over the
//! last second, and its tasks (one per URL, grouped by request id).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngExt;

use crate::emulator::quota::DailyQuota;
use crate::emulator::state::ProviderState;
use crate::emulator::windows::SecondWindow;
use crate::providers::{Operation, QuotaKind};

/// Qiniu's side of the one emulated account: what its key pairs share.
#[derive(Default)]
pub(crate) struct QiniuState {
    pub quota: DailyQuota,
    /// URLs plus directories accepted over the last second, refresh and prefetch together.
    pub items: SecondWindow,
    pub tasks: QiniuTasks,
}

impl ProviderState for QiniuState {
    fn quota_used(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        self.quota.used_all(now)
    }
}

/// One URL (or directory) of a Qiniu refresh or prefetch request: Qiniu tracks each one as
/// a task of its own, grouped by the request id.
pub(crate) struct QiniuTask {
    pub request_id: String,
    pub task_id: String,
    pub operation: Operation,
    /// As the request carried it.
    pub url: String,
    pub is_dir: bool,
    /// Ends in `failure` (matched `--fail-matching`).
    pub fails: bool,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where a Qiniu task stands: `processing`, then `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QiniuProgress {
    Processing,
    Success,
    Failure,
}

impl QiniuTask {
    /// Derived from the clock, like [`Task::progress`]: processing for `duration`, then done.
    pub fn state(&self, now: Instant, duration: Duration) -> QiniuProgress {
        if now.duration_since(self.started) < duration {
            QiniuProgress::Processing
        } else if self.fails {
            QiniuProgress::Failure
        } else {
            QiniuProgress::Success
        }
    }
}

/// How long Qiniu tasks stay listed: the list calls look back seven days at most.
pub(crate) const QINIU_TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Qiniu tasks in creation order, with the request ids of each operation.
pub(crate) struct QiniuTasks {
    tasks: VecDeque<QiniuTask>,
    /// `(operation, is_dir, url)` → start of its latest task, for "url has existed".
    latest: HashMap<(Operation, bool, String), Instant>,
    /// Random per emulator, so that ids never repeat across restarts.
    process: u64,
    /// Ids handed out so far (request and task ids share one space).
    counter: u64,
}

impl Default for QiniuTasks {
    fn default() -> Self {
        QiniuTasks {
            tasks: VecDeque::new(),
            latest: HashMap::new(),
            process: rand::rng().random::<u64>() & 0xff_ffff_ffff,
            counter: 0,
        }
    }
}

impl QiniuTasks {
    /// A new id in the shape of the service's (`575d1930f9537d3f2600003d`: a MongoDB
    /// ObjectId, 24 hex digits: seconds since the epoch, 5 random bytes, a counter).
    pub fn new_id(&mut self, now: DateTime<Utc>) -> String {
        self.counter += 1;
        let seconds = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
        format!(
            "{seconds:08x}{:010x}{:06x}",
            self.process,
            self.counter & 0xff_ffff
        )
    }

    /// True while an earlier task of `operation` for this exact URL is still processing.
    pub fn in_progress(
        &self,
        operation: Operation,
        is_dir: bool,
        url: &str,
        now: Instant,
        duration: Duration,
    ) -> bool {
        self.latest
            .get(&(operation, is_dir, url.to_string()))
            .is_some_and(|started| now.duration_since(*started) < duration)
    }

    pub fn push(&mut self, task: QiniuTask) {
        while self
            .tasks
            .front()
            .is_some_and(|t| task.created - t.created >= QINIU_TASK_RETENTION)
        {
            self.tasks.pop_front();
        }
        self.latest.insert(
            (task.operation, task.is_dir, task.url.clone()),
            task.started,
        );
        self.tasks.push_back(task);
    }

    /// True when `request_id` is a request of `operation` still on record.
    pub fn has_request(&self, operation: Operation, request_id: &str) -> bool {
        self.tasks
            .iter()
            .any(|t| t.operation == operation && t.request_id == request_id)
    }

    /// Tasks of `operation`, newest request first, each request's tasks in submission order.
    pub fn newest_first(&self, operation: Operation) -> Vec<&QiniuTask> {
        let mut out: Vec<&QiniuTask> = Vec::new();
        let mut request: Vec<&QiniuTask> = Vec::new();
        for task in self.tasks.iter().rev().filter(|t| t.operation == operation) {
            if request
                .first()
                .is_some_and(|t| t.request_id != task.request_id)
            {
                out.extend(request.drain(..).rev());
            }
            request.push(task);
        }
        out.extend(request.drain(..).rev());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qiniu_tasks_list_newest_request_first_and_know_what_is_in_progress() {
        let mut tasks = QiniuTasks::default();
        let now = Utc::now();
        let t0 = Instant::now();
        let a = tasks.new_id(now);
        let b = tasks.new_id(now);
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        for (request, url) in [(&a, "u1"), (&a, "u2"), (&b, "u3")] {
            let task_id = tasks.new_id(now);
            tasks.push(QiniuTask {
                request_id: request.clone(),
                task_id,
                operation: Operation::Refresh,
                url: url.into(),
                is_dir: false,
                fails: false,
                created: now,
                started: t0,
            });
        }
        let urls: Vec<&str> = tasks
            .newest_first(Operation::Refresh)
            .iter()
            .map(|t| t.url.as_str())
            .collect();
        assert_eq!(urls, vec!["u3", "u1", "u2"]);
        assert!(tasks.newest_first(Operation::Prefetch).is_empty());
        assert!(tasks.has_request(Operation::Refresh, &a));
        assert!(!tasks.has_request(Operation::Prefetch, &a));
        let d = Duration::from_secs(2);
        assert!(tasks.in_progress(Operation::Refresh, false, "u1", t0, d));
        assert!(!tasks.in_progress(Operation::Refresh, true, "u1", t0, d));
        assert!(!tasks.in_progress(Operation::Refresh, false, "u1", t0 + d, d));
    }
}
