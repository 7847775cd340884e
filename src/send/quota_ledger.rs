//! What is left of the day's quotas while a run sends its batches.
//!
//! Seeded by the quota call before the run (Alibaba Cloud), or learned from the answers
//! themselves (Qiniu has no quota call; every answer says what is left). A batch reserves
//! its size before it is sent and gets it back if it is refused, so concurrent batches
//! never overdraw; the first batch that does not fit marks its quota spent, and every
//! later batch of that kind is left unsent with the same reason — the run stops before the
//! batch that cannot fit, never halfway through it.

use std::collections::HashMap;

use crate::providers::{Quota, QuotaKind};

#[derive(Debug, Default)]
pub struct QuotaLedger {
    /// Remaining per kind, after the reservations of batches in flight.
    remaining: HashMap<QuotaKind, u64>,
    limits: HashMap<QuotaKind, u64>,
    /// Kinds a batch did not fit into, with the reason.
    spent: HashMap<QuotaKind, String>,
}

/// The answer to "may this batch go?".
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved; give it back with [`QuotaLedger::refund`] if the batch is refused.
    Granted,
    /// Nothing known of this quota yet: send the batch alone, its answer will tell.
    Unknown,
    /// Not sent, for this reason.
    Denied(String),
}

impl QuotaLedger {
    pub fn new(quota: &Quota) -> Self {
        let mut ledger = QuotaLedger::default();
        ledger.observe(quota);
        ledger
    }

    /// Takes in what the provider says is left. The lower figure wins: the provider's
    /// count may not include our batches still in flight, ours not other users' use.
    pub fn observe(&mut self, quota: &Quota) {
        for e in &quota.entries {
            let left = self.remaining.entry(e.kind).or_insert(e.remaining);
            *left = (*left).min(e.remaining);
            self.limits.insert(e.kind, e.limit);
        }
    }

    pub fn reserve(&mut self, kind: QuotaKind, n: u64) -> Reservation {
        if let Some(reason) = self.spent.get(&kind) {
            return Reservation::Denied(reason.clone());
        }
        let Some(left) = self.remaining.get_mut(&kind) else {
            return Reservation::Unknown;
        };
        if *left < n {
            let reason = format!(
                "not sent: today's {kind} quota has {left} left{}, this batch needs {n}; it resets at midnight (UTC+8)",
                self.limits
                    .get(&kind)
                    .map(|l| format!(" of {l}"))
                    .unwrap_or_default()
            );
            self.spent.insert(kind, reason.clone());
            return Reservation::Denied(reason);
        }
        *left -= n;
        Reservation::Granted
    }

    /// Gives back the reservation of a batch the provider refused.
    pub fn refund(&mut self, kind: QuotaKind, n: u64) {
        if let Some(left) = self.remaining.get_mut(&kind) {
            *left += n;
        }
    }

    pub fn is_known(&self, kind: QuotaKind) -> bool {
        self.remaining.contains_key(&kind)
    }

    /// What is left as far as the run knows, for the report.
    pub fn snapshot(&self) -> Quota {
        let mut entries: Vec<_> = self
            .remaining
            .iter()
            .map(|(kind, left)| crate::providers::QuotaEntry {
                kind: *kind,
                limit: self.limits.get(kind).copied().unwrap_or(0),
                remaining: *left,
            })
            .collect();
        entries.sort_by_key(|e| e.kind);
        Quota { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::QuotaEntry;

    fn quota(kind: QuotaKind, remaining: u64) -> Quota {
        Quota {
            entries: vec![QuotaEntry {
                kind,
                limit: 500,
                remaining,
            }],
        }
    }

    #[test]
    fn reservations_never_overdraw_and_the_first_misfit_stops_its_kind() {
        let mut l = QuotaLedger::new(&quota(QuotaKind::RefreshUrl, 100));
        assert_eq!(l.reserve(QuotaKind::RefreshUrl, 60), Reservation::Granted);
        let Reservation::Denied(reason) = l.reserve(QuotaKind::RefreshUrl, 60) else {
            panic!()
        };
        assert!(
            reason.contains("has 40 left of 500, this batch needs 60"),
            "{reason}"
        );
        // Even a batch that would fit is not sent after the first misfit.
        assert!(matches!(
            l.reserve(QuotaKind::RefreshUrl, 10),
            Reservation::Denied(_)
        ));
        // Other kinds are unaffected; unknown ones say so.
        assert_eq!(l.reserve(QuotaKind::Prefetch, 1), Reservation::Unknown);
    }

    #[test]
    fn refunds_and_observations() {
        let mut l = QuotaLedger::default();
        assert!(!l.is_known(QuotaKind::Prefetch));
        l.observe(&quota(QuotaKind::Prefetch, 100));
        assert_eq!(l.reserve(QuotaKind::Prefetch, 60), Reservation::Granted);
        l.refund(QuotaKind::Prefetch, 60);
        // The provider's figure after another user's use is lower than ours: it wins.
        l.observe(&quota(QuotaKind::Prefetch, 30));
        assert_eq!(l.snapshot().get(QuotaKind::Prefetch).unwrap().remaining, 30);
        // A higher figure (our own batches not yet counted by the provider) does not.
        l.observe(&quota(QuotaKind::Prefetch, 90));
        assert_eq!(l.snapshot().get(QuotaKind::Prefetch).unwrap().remaining, 30);
    }
}
