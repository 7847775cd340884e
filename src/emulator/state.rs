//! Everything the emulator remembers. It all sits behind one mutex
//! ([`super::server::App::lock`]) and is only touched synchronously, so a request is checked
//! and accepted atomically: nothing is ever half-accepted.
//!
//! [`Inner`] holds what every provider shares (the stats, the fault dice, the rate windows,
//! the nonces) and one state per provider, each the type of its folder's `state.rs` (tasks,
//! daily quotas, windows of its own), kept by type: a provider reaches its own with
//! [`Inner::state`], and the stats read each one's quota use through [`ProviderState`].

use std::any::Any;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::args::EmulatorArgs;
use super::dice::{FaultDice, SlowDice};
use super::nonces::NonceCache;
use super::stats::Stats;
use super::windows::RateWindows;
use crate::providers::{Operation, QuotaKind};

/// One provider's own state.
pub(crate) trait ProviderState: Any + Send {
    /// Today's use of each of its daily quotas, for the stats.
    fn quota_used(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64>;
}

const MADE_AT_START: &str = "every provider's state is made when the emulator starts";

/// All mutable state.
pub(crate) struct Inner {
    pub stats: Stats,
    pub faults: FaultDice,
    pub slow: SlowDice,
    pub rates: RateWindows,
    pub nonces: NonceCache,
    /// Each emulated provider's own state, by name, in registration order.
    providers: Vec<(&'static str, Box<dyn ProviderState>)>,
    /// When the last refresh task of each path ends (`--task-duration` after it was made):
    /// a prefetch of the path before then is recorded in `stats.prefetched_early`.
    refresh_ends: std::collections::HashMap<String, DateTime<Utc>>,
    task_duration: chrono::TimeDelta,
}

impl Inner {
    pub fn new(args: &EmulatorArgs) -> Self {
        Inner {
            stats: Stats::default(),
            faults: FaultDice::new(args.faults.clone(), args.fault_seed),
            slow: SlowDice::new(args.slow, args.fault_seed),
            rates: RateWindows::default(),
            nonces: NonceCache::default(),
            providers: super::EMULATED
                .iter()
                .map(|e| (e.name, (e.state)()))
                .collect(),
            refresh_ends: std::collections::HashMap::new(),
            task_duration: chrono::TimeDelta::from_std(args.task_duration)
                .unwrap_or(chrono::TimeDelta::MAX),
        }
    }

    /// A provider's own state, the type its declaration makes.
    pub fn state<S: ProviderState>(&self) -> &S {
        self.providers
            .iter()
            .find_map(|(_, state)| (state.as_ref() as &dyn Any).downcast_ref::<S>())
            .expect(MADE_AT_START)
    }

    /// [`Inner::state`], to change.
    pub fn state_mut<S: ProviderState>(&mut self) -> &mut S {
        self.providers
            .iter_mut()
            .find_map(|(_, state)| (state.as_mut() as &mut dyn Any).downcast_mut::<S>())
            .expect(MADE_AT_START)
    }

    /// The stats with today's quota use filled in.
    pub fn snapshot(&mut self, now: DateTime<Utc>) -> Stats {
        let mut stats = self.stats.clone();
        for (name, state) in &mut self.providers {
            stats.quota_used.set(name, state.quota_used(now));
        }
        stats
    }

    pub fn count(map: &mut BTreeMap<String, u64>, key: &str) {
        *map.entry(key.to_string()).or_default() += 1;
    }

    /// Records that these paths went into a task made `at`; and, as a CDN would not say but
    /// a test must know, whether a prefetch came before its path's refresh task ended, and
    /// whether refreshes still came after the first prefetch (a pipelined run).
    pub fn accept(&mut self, operation: Operation, raw_paths: &[&str], at: DateTime<Utc>) {
        let map = self.stats.accepted.get_mut(operation);
        for path in raw_paths {
            *map.entry(path.to_string()).or_default() += 1;
        }
        match operation {
            Operation::Refresh => {
                if !self.stats.accepted.prefetch.is_empty() {
                    self.stats.refreshed_after_prefetch += raw_paths.len() as u64;
                }
                let ends = at.checked_add_signed(self.task_duration).unwrap_or(at);
                for path in raw_paths {
                    self.refresh_ends.insert(path.to_string(), ends);
                }
            }
            Operation::Prefetch => {
                for path in raw_paths {
                    if self.refresh_ends.get(*path).is_some_and(|ends| at < *ends) {
                        Self::count(&mut self.stats.prefetched_early, path);
                    }
                }
            }
        }
    }
}
