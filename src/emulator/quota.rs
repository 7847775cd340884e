//! A provider's daily quota use.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::providers::QuotaKind;

/// Daily quota use; the day turns at midnight Beijing time (UTC+8), as the console's does.
#[derive(Default)]
pub(crate) struct DailyQuota {
    day: Option<NaiveDate>,
    used: BTreeMap<QuotaKind, u64>,
}

impl DailyQuota {
    fn roll_over(&mut self, now: DateTime<Utc>) {
        let beijing = FixedOffset::east_opt(8 * 3600).expect("valid offset");
        let today = now.with_timezone(&beijing).date_naive();
        if self.day != Some(today) {
            self.day = Some(today);
            self.used.clear();
        }
    }

    pub fn used(&mut self, kind: QuotaKind, now: DateTime<Utc>) -> u64 {
        self.roll_over(now);
        self.used.get(&kind).copied().unwrap_or(0)
    }

    pub fn add(&mut self, kind: QuotaKind, n: u64, now: DateTime<Utc>) {
        self.roll_over(now);
        *self.used.entry(kind).or_default() += n;
    }

    pub fn used_all(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        self.roll_over(now);
        self.used.clone()
    }
}
