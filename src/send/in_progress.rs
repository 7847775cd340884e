//! How much may be in progress at once, where a provider caps it ([`InProgressLimits`]:
//! CloudFront's 3,000 file paths and 15 wildcard paths per distribution) rather than
//! counting a day: a batch that does not fit waits until earlier tasks of its scope
//! complete, within the run's deadline.
//!
//! A scope is what the provider counts against ([`Provider::in_progress_scope`]: a
//! distribution). What was in progress when the run started is read once
//! ([`Provider::in_progress`]); the run cannot see those tasks end, so a batch that only
//! they keep out waits `probe` and is then sent, the provider's answer deciding (too much
//! in progress: `run` waits and sends again). A batch reserves its room before it is sent,
//! holds it under its task ids once accepted, gives it back if it was not, and its task
//! gives it back when the status checks see it finished.
//!
//! [`Provider::in_progress_scope`]: crate::providers::Provider::in_progress_scope
//! [`Provider::in_progress`]: crate::providers::Provider::in_progress

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::providers::{Batch, InProgressLimits, ObjectType, TaskId};

/// Room a batch takes: its file paths and its wildcard paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Room {
    pub paths: u64,
    pub wildcards: u64,
}

impl Room {
    /// A directory is a wildcard (`/dir/*`), as is a path that ends with `*`.
    pub fn of(batch: &Batch) -> Room {
        let n = batch.urls.len() as u64;
        if batch.kind.object_type == ObjectType::Directory {
            return Room {
                paths: 0,
                wildcards: n,
            };
        }
        let wildcards = batch.urls.iter().filter(|u| u.ends_with('*')).count() as u64;
        Room {
            paths: n - wildcards,
            wildcards,
        }
    }

    fn add(&mut self, o: Room) {
        self.paths += o.paths;
        self.wildcards += o.wildcards;
    }

    fn sub(&mut self, o: Room) {
        self.paths = self.paths.saturating_sub(o.paths);
        self.wildcards = self.wildcards.saturating_sub(o.wildcards);
    }
}

#[derive(Default)]
struct State {
    /// Room of the run's own batches, reserved or held.
    used: HashMap<String, Room>,
    /// Room in progress when the run started.
    before: HashMap<String, Room>,
    /// Room held by an accepted task, until it finishes.
    held: HashMap<TaskId, (String, Room)>,
}

/// The room in use per scope, for one run.
pub struct Gate {
    limits: Option<InProgressLimits>,
    state: Mutex<State>,
    freed: Notify,
    /// Batches waiting for room now; while there are, the status checks look at the open
    /// tasks every poll interval rather than on the growing schedule, since a task's end
    /// is what they wait for.
    waiting: std::sync::atomic::AtomicUsize,
    /// Told when a batch starts waiting, so the status checks hurry at once.
    pub started_waiting: Notify,
    /// How long a batch that only the tasks of before the run keep out waits.
    probe: std::time::Duration,
}

/// Whether `room` fits beside `used` under `limits`.
fn fits(limits: InProgressLimits, used: Room, room: Room) -> bool {
    used.paths + room.paths <= limits.paths && used.wildcards + room.wildcards <= limits.wildcards
}

impl Gate {
    /// `limits` `None`: the provider caps nothing, every batch fits at once.
    pub fn new(limits: Option<InProgressLimits>, probe: std::time::Duration) -> Gate {
        Gate {
            limits,
            state: Mutex::new(State::default()),
            freed: Notify::new(),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            started_waiting: Notify::new(),
            probe,
        }
    }

    pub fn limited(&self) -> bool {
        self.limits.is_some()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    /// What was in progress when the run started, counted for the whole run.
    pub fn started_with(&self, scope: &str, room: Room) {
        self.state()
            .before
            .entry(scope.to_string())
            .or_default()
            .add(room);
    }

    /// Reserves `room` in `scope` if it fits now (or, `probing`, if only the tasks of
    /// before the run keep it out). `None`: reserved; else whether the run's own tasks keep
    /// it out.
    fn try_reserve(&self, scope: &str, room: Room, probing: bool) -> Option<bool> {
        let limits = self.limits?;
        let mut state = self.state();
        let before = state.before.get(scope).copied().unwrap_or_default();
        let used = state.used.entry(scope.to_string()).or_default();
        let mut all = *used;
        all.add(before);
        // A batch bigger than the limit alone goes when nothing of the run is in progress,
        // so that it is the provider that says no, not a wait that never ends.
        let alone = used.paths == 0 && used.wildcards == 0;
        let own_fit = fits(limits, *used, room) || alone;
        if fits(limits, all, room) || (alone && before == Room::default()) || (probing && own_fit) {
            used.add(room);
            return None;
        }
        Some(!own_fit)
    }

    /// Whether a batch waits for room now.
    pub fn waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// Counts a waiting batch while it lives.
    fn wait_guard(&self) -> impl Drop + '_ {
        struct Guard<'g>(&'g std::sync::atomic::AtomicUsize);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.started_waiting.notify_waiters();
        Guard(&self.waiting)
    }

    /// Reserves `room` in `scope`, waiting for tasks to finish while it does not fit, until
    /// `deadline` (then `false`: not reserved).
    pub async fn reserve(&self, scope: &str, room: Room, deadline: Instant) -> bool {
        let mut probing = false;
        let mut guard = None;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let own = match self.try_reserve(scope, room, probing) {
                None => return true,
                Some(own) => own,
            };
            if guard.is_none() {
                guard = Some(self.wait_guard());
            }
            // Kept out only by what was in progress before the run: wait `probe` for a
            // task of the run to finish, then let the provider say.
            let until = if own {
                deadline
            } else {
                (Instant::now() + self.probe).min(deadline)
            };
            if tokio::time::timeout_at(until, freed).await.is_err() {
                if Instant::now() >= deadline {
                    return false;
                }
                probing = true;
            }
        }
    }

    /// Waits until a task finishes (or `wait` passes, or the deadline); `false` past the
    /// deadline.
    pub async fn wait_for_room(&self, wait: std::time::Duration, deadline: Instant) -> bool {
        let _guard = self.wait_guard();
        let until = (Instant::now() + wait).min(deadline);
        let _ = tokio::time::timeout_at(until, self.freed.notified()).await;
        Instant::now() < deadline
    }

    /// The batch was not accepted: its room is free again.
    pub fn give_back(&self, scope: &str, room: Room) {
        if self.limits.is_none() {
            return;
        }
        if let Some(used) = self.state().used.get_mut(scope) {
            used.sub(room);
        }
        self.freed.notify_waiters();
    }

    /// The batch was accepted as `ids`: its room is held until the first of them finishes.
    pub fn hold(&self, scope: &str, room: Room, ids: &[TaskId]) {
        if self.limits.is_none() {
            return;
        }
        match ids.first() {
            Some(id) => {
                self.state()
                    .held
                    .insert(id.clone(), (scope.to_string(), room));
            }
            None => self.give_back(scope, room),
        }
    }

    /// Task `id` finished: the room it held is free.
    pub fn finished(&self, id: &TaskId) {
        let mut state = self.state();
        if let Some((scope, room)) = state.held.remove(id) {
            if let Some(used) = state.used.get_mut(&scope) {
                used.sub(room);
            }
            drop(state);
            self.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Room of `n` file paths.
    fn files(n: u64) -> Room {
        Room {
            paths: n,
            wildcards: 0,
        }
    }
    use crate::providers::BatchKind;

    fn batch(kind: ObjectType, n: usize) -> Batch {
        Batch {
            kind: BatchKind::refresh(kind),
            urls: (0..n).map(|i| format!("https://a.com/{i}")).collect(),
        }
    }

    #[test]
    fn room_counts_wildcards_apart() {
        assert_eq!(
            Room::of(&batch(ObjectType::Directory, 3)),
            Room {
                paths: 0,
                wildcards: 3
            }
        );
        let mut b = batch(ObjectType::File, 3);
        b.urls.push("https://a.com/img/*".into());
        assert_eq!(
            Room::of(&b),
            Room {
                paths: 3,
                wildcards: 1
            }
        );
    }

    #[tokio::test]
    async fn a_batch_waits_for_a_task_to_finish_or_the_deadline() {
        let gate = Gate::new(
            Some(InProgressLimits {
                paths: 10,
                wildcards: 2,
            }),
            std::time::Duration::from_secs(3600),
        );
        gate.started_with("E1", files(4));
        let six = files(6);
        let soon = Instant::now() + std::time::Duration::from_secs(5);
        assert!(gate.reserve("E1", six, soon).await);
        gate.hold("E1", six, &[TaskId("t1".into())]);
        // Full: another batch cannot be reserved before the deadline...
        assert!(!gate.reserve("E1", files(1), Instant::now()).await);
        // ...another scope can, and so can wildcards in this one.
        assert!(gate.reserve("E2", six, Instant::now()).await);
        assert!(
            gate.reserve(
                "E1",
                Room {
                    paths: 0,
                    wildcards: 2
                },
                Instant::now()
            )
            .await
        );
        // Once t1 finishes, its room is free (the 4 of before the run stay counted).
        let waiting = gate.reserve("E1", six, soon);
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        gate.finished(&TaskId("t1".into()));
        assert!(waiting.await);
        assert!(!gate.reserve("E1", files(1), Instant::now()).await);
    }

    #[tokio::test]
    async fn without_limits_everything_fits_and_oversized_batches_go_alone() {
        let free = Gate::new(None, std::time::Duration::ZERO);
        assert!(free.reserve("x", files(1 << 40), Instant::now()).await);
        let gate = Gate::new(
            Some(InProgressLimits {
                paths: 2,
                wildcards: 0,
            }),
            std::time::Duration::ZERO,
        );
        let big = files(5);
        assert!(gate.reserve("E1", big, Instant::now()).await);
        gate.give_back("E1", big);
        assert!(gate.reserve("E1", files(2), Instant::now()).await);
    }

    #[tokio::test]
    async fn what_was_in_progress_before_keeps_a_batch_out_only_until_the_probe() {
        let gate = Gate::new(
            Some(InProgressLimits {
                paths: 10,
                wildcards: 0,
            }),
            std::time::Duration::ZERO,
        );
        gate.started_with("E1", files(8));
        let five = files(5);
        let later = Instant::now() + std::time::Duration::from_secs(3600);
        // The probe is over at once: the batch goes, the provider decides.
        assert!(gate.reserve("E1", five, later).await);
        gate.hold("E1", five, &[TaskId("t1".into())]);
        // Now the run's own task keeps the next one out, until the deadline.
        assert!(!gate.reserve("E1", files(6), Instant::now()).await);
    }
}
