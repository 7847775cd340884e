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
use super::edge::{Edge, Scope};
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
    /// The CDN edge (`--origin`), `None` without it.
    pub edge: Option<Edge>,
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
            edge: Edge::new(args),
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

    /// Tells the edge (if there is one) what a task made at `started` covers, the parts that
    /// end Failed left out: when the task completes, a refresh evicts it from the edge's
    /// cache and a prefetch fills it. Each provider says what its paths cover.
    pub fn cover(
        &mut self,
        operation: Operation,
        started: std::time::Instant,
        scopes: impl IntoIterator<Item = Scope>,
    ) {
        if let Some(edge) = &mut self.edge {
            edge.record(operation, started, scopes);
            // A task that completes at once (`--task-duration 0s`) has done its work when
            // the API answers.
            edge.advance(std::time::Instant::now(), &mut self.stats.edge);
        }
    }

    /// Serves a visitor's request from the edge.
    pub fn edge_get(
        &mut self,
        key: super::edge::Key,
        now: std::time::Instant,
    ) -> Option<super::edge::Answer> {
        let edge = self.edge.as_mut()?;
        Some(edge.get(key, now, &mut self.stats.edge))
    }

    /// Applies the edge's completions due by `now`; returns when the next is due.
    pub fn edge_advance(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        let edge = self.edge.as_mut()?;
        edge.advance(now, &mut self.stats.edge);
        edge.next_due()
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
