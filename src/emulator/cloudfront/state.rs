//! CloudFront's side of the one emulated account: its invalidations, per distribution.
//! Where each stands is derived from the clock (`--task-duration`), like every emulated
//! task, so polling needs no background work.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngExt;

use crate::emulator::state::ProviderState;
use crate::providers::QuotaKind;

/// Invalidations kept per distribution, newest last; the oldest completed ones go first.
const KEPT: usize = 10_000;

#[derive(Default)]
pub(crate) struct CloudFrontState {
    pub invalidations: BTreeMap<String, Vec<Invalidation>>,
    counter: u64,
    process: u64,
}

impl ProviderState for CloudFrontState {
    /// No daily quota: nothing to report.
    fn quota_used(&mut self, _now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        BTreeMap::new()
    }
}

pub(crate) struct Invalidation {
    pub id: String,
    pub caller_reference: String,
    /// As sent.
    pub paths: Vec<String>,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

impl Invalidation {
    pub fn completed(&self, now: Instant, duration: Duration) -> bool {
        now.duration_since(self.started) >= duration
    }

    pub fn status(&self, now: Instant, duration: Duration) -> &'static str {
        if self.completed(now, duration) {
            "Completed"
        } else {
            "InProgress"
        }
    }
}

/// A wildcard path ends with `*`; it counts against the wildcard limit, the others against
/// the file-path limit.
pub(crate) fn is_wildcard(path: &str) -> bool {
    path.ends_with('*')
}

impl CloudFrontState {
    /// An id like CloudFront's (`I2J0I21PCUYOIK`): `I` and 13 upper-case letters and
    /// digits, unique in this emulator and unlikely to repeat across restarts.
    pub fn new_id(&mut self) -> String {
        if self.process == 0 {
            self.process = rand::rng().random_range(1..36u64.pow(4));
        }
        self.counter += 1;
        let mut n = self.process * 36u64.pow(8) + self.counter;
        let mut digits = Vec::new();
        for _ in 0..13 {
            digits.push(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize]);
            n /= 36;
        }
        digits.reverse();
        format!("I{}", String::from_utf8(digits).expect("ASCII"))
    }

    /// File and wildcard paths in progress on `distribution`.
    pub fn in_progress(&self, distribution: &str, now: Instant, duration: Duration) -> (u64, u64) {
        let mut counts = (0, 0);
        for inv in self.invalidations.get(distribution).into_iter().flatten() {
            if !inv.completed(now, duration) {
                for p in &inv.paths {
                    if is_wildcard(p) {
                        counts.1 += 1;
                    } else {
                        counts.0 += 1;
                    }
                }
            }
        }
        counts
    }

    pub fn push(&mut self, distribution: &str, inv: Invalidation) {
        let list = self
            .invalidations
            .entry(distribution.to_string())
            .or_default();
        if list.len() >= KEPT {
            list.remove(0);
        }
        list.push(inv);
    }

    pub fn find(&self, distribution: &str, id: &str) -> Option<&Invalidation> {
        self.invalidations.get(distribution)?.iter().find(|i| i.id == id)
    }

    pub fn by_reference(&self, distribution: &str, reference: &str) -> Option<&Invalidation> {
        self.invalidations
            .get(distribution)?
            .iter()
            .find(|i| i.caller_reference == reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_shaped_like_cloudfront_ones() {
        let mut s = CloudFrontState::default();
        let (a, b) = (s.new_id(), s.new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert!(a.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }

    #[test]
    fn counts_what_is_in_progress() {
        let mut s = CloudFrontState::default();
        let t0 = Instant::now();
        let inv = |paths: &[&str]| Invalidation {
            id: "I1".into(),
            caller_reference: "r".into(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            created: Utc::now(),
            started: t0,
        };
        s.push("E1", inv(&["/a", "/b/*", "/c"]));
        let d = Duration::from_secs(10);
        assert_eq!(s.in_progress("E1", t0, d), (2, 1));
        assert_eq!(s.in_progress("E1", t0 + d, d), (0, 0));
        assert_eq!(s.in_progress("E2", t0, d), (0, 0));
        assert!(s.by_reference("E1", "r").is_some());
        assert_eq!(s.find("E1", "I1").unwrap().status(t0, d), "InProgress");
    }
}
