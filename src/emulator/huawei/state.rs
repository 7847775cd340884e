//! Huawei Cloud's side of the one emulated account: its daily quotas and its tasks (one per
//! request, each URL with its own status).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngExt;

use crate::emulator::quota::DailyQuota;
use crate::emulator::state::ProviderState;
use crate::providers::QuotaKind;

/// Huawei's side of the one emulated account: what its key pairs share.
#[derive(Default)]
pub(crate) struct HuaweiState {
    pub quota: DailyQuota,
    pub tasks: HuaweiTasks,
}

impl ProviderState for HuaweiState {
    fn quota_used(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        self.quota.used_all(now)
    }
}

/// What a Huawei task does: `task_type` in the task lists (`refresh`/`preheating`), upper
/// case in the URL details (`REFRESH`/`PREHEATING`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HuaweiTaskType {
    Refresh,
    Preheating,
}

impl HuaweiTaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "refresh",
            HuaweiTaskType::Preheating => "preheating",
        }
    }

    /// A URL's status while it is being worked on (`refreshing`/`preheating`).
    pub fn as_str_running(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "refreshing",
            HuaweiTaskType::Preheating => "preheating",
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "REFRESH",
            HuaweiTaskType::Preheating => "PREHEATING",
        }
    }
}

/// One URL (or directory) of a Huawei task.
pub(crate) struct HuaweiUrl {
    /// Unique in the emulator: a string in the task detail (`UrlObject.id`), a number in
    /// ShowUrlTaskInfo (`Urls.id`, a Long).
    pub id: u64,
    /// As the task reports it (percent-encoded when the request asked `zh_url_encode`).
    pub url: String,
    /// Ends `failed` (matched `--fail-matching`).
    pub fails: bool,
}

/// One refresh or preheating request: Huawei tracks the request as a task, each URL in it
/// with a status of its own.
pub(crate) struct HuaweiTask {
    /// A string in the create and history calls, a number (`task_id`, a Long) in
    /// ShowUrlTaskInfo; see [`HuaweiTasks::new_task_id`].
    pub id: u64,
    pub task_type: HuaweiTaskType,
    /// `file` or `directory` (preheating tasks are always `file`).
    pub file_type: &'static str,
    /// A refresh's `mode` (`all` or `detect_modify_refresh`); `None` for a preheating.
    pub mode: Option<&'static str>,
    pub urls: Vec<HuaweiUrl>,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where one URL of a Huawei task stands: `waiting` for the first tenth of the task's
/// duration, then `refreshing`/`preheating`, then `succeed` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HuaweiProgress {
    Waiting,
    Running,
    Succeed,
    Failed,
}

impl HuaweiTask {
    /// Derived from the clock, like [`Task::progress`], so polling needs no background task.
    pub fn progress(&self, url: &HuaweiUrl, now: Instant, duration: Duration) -> HuaweiProgress {
        let elapsed = now.duration_since(self.started);
        if elapsed >= duration {
            if url.fails {
                HuaweiProgress::Failed
            } else {
                HuaweiProgress::Succeed
            }
        } else if elapsed < duration / 10 {
            HuaweiProgress::Waiting
        } else {
            HuaweiProgress::Running
        }
    }
}

/// How long Huawei tasks are kept: the detail call looks 15 days back at most.
pub(crate) const HUAWEI_TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(15);

/// Huawei tasks in creation order.
pub(crate) struct HuaweiTasks {
    tasks: VecDeque<HuaweiTask>,
    /// Random per emulator (six digits), so that task ids never repeat across restarts.
    process: u64,
    /// Ids handed out so far (task and URL ids).
    counter: u64,
}

impl Default for HuaweiTasks {
    fn default() -> Self {
        HuaweiTasks {
            tasks: VecDeque::new(),
            process: rand::rng().random_range(100_000..1_000_000),
            counter: 0,
        }
    }
}

impl HuaweiTasks {
    /// A task id: decimal, 15 digits. The create calls answer it as a string (the docs'
    /// example `{"preheating_task": "7620240"}`), ShowUrlTaskInfo as a Long (`task_id` in
    /// the docs and in every SDK's `Urls` model), so it must be a number; below 2^53, so
    /// that any JSON parser keeps it exact.
    pub fn new_task_id(&mut self) -> u64 {
        self.counter += 1;
        self.process * 1_000_000_000 + self.counter
    }

    /// A URL id: decimal, as the `urls` objects of other Huawei calls carry them.
    pub fn new_url_id(&mut self) -> u64 {
        self.counter += 1;
        100_000_000 + self.counter
    }

    pub fn push(&mut self, task: HuaweiTask) {
        while self
            .tasks
            .front()
            .is_some_and(|t| task.created - t.created >= HUAWEI_TASK_RETENTION)
        {
            self.tasks.pop_front();
        }
        self.tasks.push_back(task);
    }

    /// The task whose id is written exactly `id`.
    pub fn get(&self, id: &str) -> Option<&HuaweiTask> {
        self.tasks.iter().find(|t| t.id.to_string() == id)
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &HuaweiTask> {
        self.tasks.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huawei_tasks_have_distinct_ids_and_a_lifecycle() {
        let mut tasks = HuaweiTasks::default();
        let (a, b) = (tasks.new_task_id(), tasks.new_task_id());
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 15);
        assert!(a < 1 << 53);
        let t0 = Instant::now();
        let url = |fails| HuaweiUrl {
            id: 1,
            url: "http://example.com/a".into(),
            fails,
        };
        let task = HuaweiTask {
            id: a,
            task_type: HuaweiTaskType::Refresh,
            file_type: "file",
            mode: Some("all"),
            urls: vec![url(false), url(true)],
            created: Utc::now(),
            started: t0,
        };
        let d = Duration::from_secs(10);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            task.progress(&task.urls[0], at(0), d),
            HuaweiProgress::Waiting
        );
        assert_eq!(
            task.progress(&task.urls[0], at(5), d),
            HuaweiProgress::Running
        );
        assert_eq!(
            task.progress(&task.urls[0], at(10), d),
            HuaweiProgress::Succeed
        );
        assert_eq!(
            task.progress(&task.urls[1], at(10), d),
            HuaweiProgress::Failed
        );
        tasks.push(task);
        assert!(tasks.get(&a.to_string()).is_some());
        assert!(tasks.get(&format!("0{a}")).is_none());
        assert!(tasks.get(&b.to_string()).is_none());
        assert_eq!(tasks.newest_first().count(), 1);
    }
}
