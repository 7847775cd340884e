//! The tasks a run waits on, and when to look at each one next.
//!
//! A task is looked at a tenth of `--poll-interval` after it was accepted (a task that
//! finishes at once is seen at once, with the batches sent just after it), then
//! `--poll-interval` after it was accepted, so polling overlaps sending: the first batches' tasks are
//! checked while later batches still wait for their turn. After that, each look is timed
//! from what the last answer said: where the provider
//! tells how far a task is (Alibaba Cloud's `Process`, or the share of a task's paths that
//! are done), the next look is when the task should be done at the pace it has shown; never
//! later than the growing interval of a task that says nothing (×1.5 a look, at most 30 s),
//! never sooner than a tenth of `--poll-interval` (the floor). A look at the tasks due takes
//! along those due within the floor (so tasks accepted a moment apart are looked at
//! together, not one call each) and then the tasks due next while the status call has room
//! for more ids, which costs no call; a task looked at early that is not finished is looked
//! at again when it is due, and no sooner than the floor.
//!
//! Pure bookkeeping on instants given by the caller, so it is tested without a clock.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::providers::{TaskId, TaskState, TaskStatus};

/// When to look again.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The first look after a task was accepted.
    pub first: Duration,
    /// No two looks at a task closer than this.
    pub floor: Duration,
    /// No two looks at a task further apart than this.
    pub max: Duration,
}

impl Schedule {
    pub fn new(first: Duration) -> Self {
        Schedule {
            first,
            floor: (first / 10).max(Duration::from_millis(10)),
            max: first.max(Duration::from_secs(30)),
        }
    }

    /// The wait before the next look at a task accepted `elapsed` ago, whose last wait was
    /// `gap` (zero after the look at once), and which its answer says is `progress` (0 to
    /// 1) done, where it says.
    pub fn next_gap(&self, elapsed: Duration, gap: Duration, progress: Option<f64>) -> Duration {
        let grown = if gap.is_zero() {
            self.first
        } else {
            gap.mul_f64(1.5).min(self.max)
        };
        // A hostile or tiny progress must not overflow the clock: past the ceiling is
        // the ceiling.
        let paced = progress
            .filter(|p| *p > 0.0 && *p < 1.0)
            .map(|p| {
                Duration::try_from_secs_f64(elapsed.as_secs_f64() * (1.0 - p) / p)
                    .unwrap_or(self.max)
            })
            .unwrap_or(grown);
        paced.min(grown).max(self.floor)
    }
}

/// How far a task is, from its paths' states: a finished path counts whole, a running one
/// as far as the provider says. `None` when no path says anything yet.
pub fn progress(states: &[TaskState]) -> Option<f64> {
    let mut known = false;
    let mut done = 0.0;
    for s in states {
        if s.status.is_terminal() {
            done += 1.0;
            known = true;
        } else if let Some(p) = s.progress {
            done += f64::from(p).clamp(0.0, 1.0);
            known = true;
        }
    }
    (known && !states.is_empty()).then(|| done / states.len() as f64)
}

/// A path as a provider's answer and a sent URL are matched: without its scheme (Alibaba
/// Cloud reports `host/path`).
pub fn path_key(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}

/// What the tracker keeps of one path of a task: what the results need, and no more (a
/// run of a million URLs keeps a million of these until the end).
#[derive(Clone, Debug, PartialEq)]
pub struct PathState {
    /// [`path_key`] of the path as the provider reported it.
    key: Box<str>,
    pub status: TaskStatus,
    /// The provider's description of a failure.
    pub description: Option<Box<str>>,
}

impl From<TaskState> for PathState {
    fn from(s: TaskState) -> Self {
        let key = match path_key(&s.url).len() {
            n if n == s.url.len() => s.url.into_boxed_str(),
            _ => path_key(&s.url).into(),
        };
        PathState {
            key,
            status: s.status,
            description: s.description.map(String::into_boxed_str),
        }
    }
}

/// The state of `url` among a task's states, sorted by key as the tracker keeps them: a
/// binary search, so resolving a task of a thousand paths is not a million comparisons.
pub fn find<'a>(states: &'a [PathState], url: &str) -> Option<&'a PathState> {
    let key = path_key(url);
    let i = states.partition_point(|s| &*s.key < key);
    states.get(i).filter(|s| &*s.key == key)
}

/// Whether every path of a task has ended.
pub fn finished(states: &[PathState]) -> bool {
    !states.is_empty() && states.iter().all(|s| s.status.is_terminal())
}

struct Tracked {
    accepted: Instant,
    gap: Duration,
    next: Instant,
    states: Vec<PathState>,
    /// How far the task was at its last answer, where it said.
    progress: Option<f64>,
    finished: bool,
}

/// Every task of the run that is waited for, with its latest states.
pub struct Tracker {
    schedule: Schedule,
    tasks: HashMap<TaskId, Tracked>,
    /// The order tasks were added in, so looks and reports do not depend on hashing.
    order: Vec<TaskId>,
}

impl Tracker {
    pub fn new(schedule: Schedule) -> Self {
        Tracker {
            schedule,
            tasks: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// A task accepted at `now`; a task already tracked is left as it is.
    pub fn add(&mut self, id: &TaskId, now: Instant) {
        if self.tasks.contains_key(id) {
            return;
        }
        self.order.push(id.clone());
        self.tasks.insert(
            id.clone(),
            Tracked {
                accepted: now,
                gap: Duration::ZERO,
                // Soon, not at once: the batches sent a moment later are looked at with it.
                next: now + self.schedule.floor,
                states: Vec::new(),
                progress: None,
                finished: false,
            },
        );
    }

    pub fn total(&self) -> usize {
        self.order.len()
    }

    pub fn finished_count(&self) -> usize {
        self.tasks.values().filter(|t| t.finished).count()
    }

    pub fn is_finished(&self, id: &TaskId) -> bool {
        self.tasks.get(id).is_some_and(|t| t.finished)
    }

    /// When the next look is due: the earliest of the open tasks' next looks.
    pub fn next_due(&self) -> Option<Instant> {
        self.tasks
            .values()
            .filter(|t| !t.finished)
            .map(|t| t.next)
            .min()
    }

    /// The tasks to look at `now`: those due, and then the open tasks due soonest, until the
    /// last status call of `per_query` ids is full. `all`: every open task (a last look).
    pub fn due(&self, now: Instant, per_query: usize, all: bool) -> Vec<TaskId> {
        let mut open: Vec<(&TaskId, Instant)> = self
            .order
            .iter()
            .filter_map(|id| {
                let t = &self.tasks[id];
                (!t.finished).then_some((id, t.next))
            })
            .collect();
        if all {
            return open.into_iter().map(|(id, _)| id.clone()).collect();
        }
        open.sort_by_key(|(_, next)| *next);
        if open.first().is_none_or(|(_, next)| *next > now) {
            return Vec::new();
        }
        let window = now + self.schedule.floor;
        let due = open.iter().take_while(|(_, next)| *next <= window).count();
        let per_query = per_query.max(1);
        let room = (per_query - due % per_query) % per_query;
        open.into_iter()
            .take(due + room)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// What a look at `id` at `now` found; returns whether the task has just finished.
    pub fn record(&mut self, id: &TaskId, states: Vec<TaskState>, now: Instant) -> bool {
        let Some(t) = self.tasks.get_mut(id) else {
            return false;
        };
        if t.finished {
            return false;
        }
        if !states.is_empty() {
            t.progress = progress(&states);
            t.states = states.into_iter().map(PathState::from).collect();
            // Stable: of two entries for one path, the first answered stays first.
            t.states.sort_by(|a, b| a.key.cmp(&b.key));
        }
        if finished(&t.states) {
            t.finished = true;
            return true;
        }
        if t.next > now + self.schedule.floor {
            // Taken along early: its own look stays when it is due.
            t.next = t.next.max(now + self.schedule.floor);
            return false;
        }
        let gap =
            self.schedule
                .next_gap(now.saturating_duration_since(t.accepted), t.gap, t.progress);
        // The second look is `first` after the task was accepted, not after the first look.
        t.next = if t.gap.is_zero() {
            (t.accepted + gap).max(now + self.schedule.floor)
        } else {
            now + gap
        };
        t.gap = gap;
        false
    }

    /// A look at `id` that failed: look again after the grown interval.
    pub fn missed(&mut self, id: &TaskId, now: Instant) {
        if let Some(t) = self.tasks.get_mut(id).filter(|t| !t.finished) {
            t.gap = self.schedule.next_gap(Duration::ZERO, t.gap, None);
            t.next = now + t.gap;
        }
    }

    /// The latest states of `id`'s paths (none before its first answer).
    pub fn states(&self, id: &TaskId) -> &[PathState] {
        self.tasks.get(id).map_or(&[], |t| &t.states)
    }

    /// The latest states of every task, for the results.
    pub fn into_states(self) -> HashMap<TaskId, Vec<PathState>> {
        self.tasks
            .into_iter()
            .filter(|(_, t)| !t.states.is_empty())
            .map(|(id, t)| (id, t.states))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, status: TaskStatus, progress: Option<f32>) -> TaskState {
        TaskState {
            task_id: TaskId(id.into()),
            url: format!("https://example.com/{id}"),
            status,
            description: None,
            progress,
        }
    }

    const S: fn(f64) -> Duration = Duration::from_secs_f64;

    #[test]
    fn a_task_that_says_nothing_is_looked_at_less_and_less_often() {
        let s = Schedule::new(S(1.0));
        assert_eq!(s.next_gap(S(0.0), Duration::ZERO, None), s.first);
        let mut gap = s.first;
        let mut gaps = Vec::new();
        for _ in 0..12 {
            gap = s.next_gap(S(0.0), gap, None);
            gaps.push(gap.as_secs_f64());
        }
        assert_eq!(gaps[0], 1.5);
        assert!(gaps.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*gaps.last().unwrap(), 30.0);
    }

    #[test]
    fn progress_times_the_next_look_but_never_later_than_the_growing_interval() {
        let s = Schedule::new(S(1.0));
        // Half done after 1 s: done in about 1 s more.
        assert_eq!(s.next_gap(S(1.0), S(1.0), Some(0.5)), S(1.0));
        // 90 % after 9 s: 1 s more.
        assert!((s.next_gap(S(9.0), S(8.0), Some(0.9)).as_secs_f64() - 1.0).abs() < 1e-9);
        // Nearly done: the floor, a tenth of the first interval.
        assert_eq!(s.next_gap(S(1.0), S(1.0), Some(0.999)), S(0.1));
        // Slow progress: the growing interval, not the estimate.
        assert_eq!(s.next_gap(S(1.0), S(1.0), Some(0.01)), S(1.5));
        assert_eq!(s.next_gap(S(200.0), S(30.0), Some(0.1)), S(30.0));
        assert_eq!(s.next_gap(S(1e9), S(30.0), Some(1e-30)), S(30.0));
    }

    #[test]
    fn progress_counts_finished_paths_whole_and_running_ones_as_told() {
        assert_eq!(progress(&[]), None);
        assert_eq!(
            progress(&[state("1", TaskStatus::Running, None)]),
            None,
            "nothing said"
        );
        let p = progress(&[
            state("1", TaskStatus::Complete, None),
            state("1", TaskStatus::Running, Some(0.5)),
            state("1", TaskStatus::Pending, None),
            state("1", TaskStatus::Failed, None),
        ])
        .unwrap();
        assert!((p - 0.625).abs() < 1e-9, "{p}");
    }

    #[test]
    fn due_tasks_take_the_next_ones_along_while_the_call_has_room() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Schedule::new(S(1.0)));
        for i in 0..5 {
            tracker.add(&TaskId(i.to_string()), t0 + S(f64::from(i)));
        }
        // Each task is due a tenth of the interval after it was accepted: task 0 at 0.1 s, …
        assert_eq!(tracker.next_due(), Some(t0 + S(0.1)));
        for i in 0..5 {
            let id = TaskId(i.to_string());
            tracker.record(&id, Vec::new(), t0 + S(f64::from(i) + 0.1));
        }
        // Then a second after it was accepted: task 0 at 1 s, task 1 at 2 s, …
        assert!(tracker.due(t0 + S(0.5), 3, false).is_empty());
        assert_eq!(tracker.next_due(), Some(t0 + S(1.0)));
        // Task 0 is due at 1 s; tasks 1 and 2 fill the call of 3 ids.
        let due = tracker.due(t0 + S(1.0), 3, false);
        assert_eq!(due, ["0", "1", "2"].map(|s| TaskId(s.into())));
        // Taken along early, task 2 (due at 3 s) keeps its own look.
        tracker.record(&TaskId("0".into()), Vec::new(), t0 + S(1.0));
        tracker.record(&TaskId("2".into()), Vec::new(), t0 + S(1.0));
        assert_eq!(tracker.due(t0 + S(2.0), 1, false), [TaskId("1".into())]);
        assert!(
            tracker
                .due(t0 + S(3.0), 1, false)
                .contains(&TaskId("2".into()))
        );
        // All open tasks for a last look.
        assert_eq!(tracker.due(t0, 3, true).len(), 5);
    }

    #[test]
    fn tasks_due_within_the_floor_are_looked_at_together() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Schedule::new(S(1.0)));
        for i in 0..3 {
            let id = TaskId(i.to_string());
            tracker.add(&id, t0 + S(0.05 * f64::from(i)));
            tracker.record(&id, Vec::new(), t0 + S(0.05 * f64::from(i)));
        }
        // Due at 1.0, 1.05 and 1.1 s: the floor is 0.1 s, so one look takes all three.
        assert_eq!(tracker.due(t0 + S(1.0), 10, false).len(), 3);
        assert!(tracker.due(t0 + S(0.99), 10, false).is_empty());
    }

    #[test]
    fn a_path_is_found_with_or_without_its_scheme() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Schedule::new(S(1.0)));
        let id = TaskId("1".into());
        tracker.add(&id, t0);
        let mut states: Vec<TaskState> = ["c", "a", "b"]
            .iter()
            .map(|p| TaskState {
                url: format!("example.com/{p}"),
                ..state("1", TaskStatus::Complete, None)
            })
            .collect();
        states[1].status = TaskStatus::Failed;
        tracker.record(&id, states, t0);
        let found = |url| find(tracker.states(&id), url).map(|s| s.status);
        assert_eq!(found("https://example.com/a"), Some(TaskStatus::Failed));
        assert_eq!(found("http://example.com/c"), Some(TaskStatus::Complete));
        assert_eq!(found("example.com/b"), Some(TaskStatus::Complete));
        assert_eq!(found("https://example.com/d"), None);
    }

    #[test]
    fn a_finished_task_is_not_looked_at_again() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Schedule::new(S(1.0)));
        let id = TaskId("7".into());
        tracker.add(&id, t0);
        assert!(!tracker.record(&id, Vec::new(), t0), "the look at once");
        let running = vec![state("7", TaskStatus::Running, Some(0.5))];
        assert!(!tracker.record(&id, running, t0 + S(1.0)));
        assert_eq!(tracker.next_due(), Some(t0 + S(2.0)));
        let done = vec![state("7", TaskStatus::Complete, None)];
        assert!(tracker.record(&id, done.clone(), t0 + S(2.0)));
        assert!(!tracker.record(&id, done, t0 + S(3.0)), "told once");
        assert_eq!(tracker.next_due(), None);
        assert!(tracker.due(t0 + S(9.0), 10, true).is_empty());
        assert_eq!(tracker.finished_count(), 1);
        // An answer without the task's paths keeps what was known.
        assert_eq!(tracker.into_states()[&id].len(), 1);
    }
}
