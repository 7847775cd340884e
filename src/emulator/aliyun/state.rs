//! Alibaba Cloud's side of the one emulated account: its daily quotas, the per-domain minute
//! windows and its tasks (one per domain per request, each path with its own status).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::emulator::quota::DailyQuota;
use crate::emulator::state::ProviderState;
use crate::emulator::windows::MinuteWindows;
use crate::providers::{ObjectType, Operation, QuotaKind};

/// What its key pairs share.
#[derive(Default)]
pub(crate) struct AliyunState {
    pub quota: DailyQuota,
    /// Refreshed paths per domain over the last minute.
    pub per_minute: MinuteWindows,
    pub tasks: Tasks,
}

impl ProviderState for AliyunState {
    fn quota_used(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        self.quota.used_all(now)
    }
}

/// One path of a task. Tasks are per domain; every path has its own status.
pub(crate) struct TaskPath {
    /// The path as status queries report it.
    pub reported: String,
    /// Ends Failed (matched `--fail-matching`).
    pub fails: bool,
}

pub(crate) struct Task {
    pub id: u64,
    pub operation: Operation,
    pub object_type: ObjectType,
    pub domain: String,
    pub paths: Vec<TaskPath>,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where one path of a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Pending,
    /// Percent done, 0–99.
    Running(u8),
    Complete,
    Failed,
}

impl Task {
    /// Pending for the first tenth of `duration`, then running with a growing percentage,
    /// then Complete or Failed. Derived from the clock, so polling needs no background task.
    pub fn progress(&self, path: &TaskPath, now: Instant, duration: Duration) -> Progress {
        let elapsed = now.duration_since(self.started);
        if elapsed >= duration {
            return if path.fails {
                Progress::Failed
            } else {
                Progress::Complete
            };
        }
        let pending = duration / 10;
        if elapsed < pending {
            return Progress::Pending;
        }
        let fraction = (elapsed - pending).as_secs_f64() / (duration - pending).as_secs_f64();
        Progress::Running((fraction * 100.0).clamp(0.0, 99.0) as u8)
    }
}

/// Tasks of the last three days (all a status query can see), by id.
pub(crate) struct Tasks {
    next_id: u64,
    by_id: BTreeMap<u64, Task>,
}

impl Default for Tasks {
    fn default() -> Self {
        // Real ids are long decimal numbers; start high so clients never assume small ones.
        Tasks {
            next_id: 10_000_000_001,
            by_id: BTreeMap::new(),
        }
    }
}

/// How long tasks stay visible.
pub(crate) const TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(3);

impl Tasks {
    pub fn create(
        &mut self,
        operation: Operation,
        object_type: ObjectType,
        domain: &str,
        paths: Vec<TaskPath>,
        now: (DateTime<Utc>, Instant),
    ) -> u64 {
        // Ids grow with time, so the oldest tasks are first.
        while let Some(entry) = self.by_id.first_entry() {
            if now.0 - entry.get().created < TASK_RETENTION {
                break;
            }
            entry.remove();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(
            id,
            Task {
                id,
                operation,
                object_type,
                domain: domain.to_string(),
                paths,
                created: now.0,
                started: now.1,
            },
        );
        id
    }

    pub fn get(&self, id: u64) -> Option<&Task> {
        self.by_id.get(&id)
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Task> {
        self.by_id.values().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_progress_phases() {
        let t0 = Instant::now();
        let task = Task {
            id: 1,
            operation: Operation::Refresh,
            object_type: ObjectType::File,
            domain: "example.com".into(),
            paths: vec![],
            created: Utc::now(),
            started: t0,
        };
        let ok = TaskPath {
            reported: "x".into(),
            fails: false,
        };
        let bad = TaskPath {
            reported: "y".into(),
            fails: true,
        };
        let d = Duration::from_secs(10);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(task.progress(&ok, at(0), d), Progress::Pending);
        assert_eq!(task.progress(&ok, at(1), d), Progress::Running(0));
        assert!(matches!(
            task.progress(&ok, at(5), d),
            Progress::Running(44)
        ));
        assert_eq!(task.progress(&ok, at(10), d), Progress::Complete);
        assert_eq!(task.progress(&bad, at(10), d), Progress::Failed);
        assert_eq!(task.progress(&bad, t0, Duration::ZERO), Progress::Failed);
    }
}
