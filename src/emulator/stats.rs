//! What the emulator has seen, as `GET /_emulator/stats` returns it: a contract the tests and
//! scripts read, so its JSON keeps its shape whatever the providers.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use super::edge::{EdgeRequest, EdgeStats};
use crate::providers::{Operation, QuotaKind};

/// What the emulator has seen, as `GET /_emulator/stats` returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every API request received, by action (faulted and rejected ones included). Requests
    /// without a recognisable action count under `""`.
    pub requests: BTreeMap<String, u64>,
    /// API requests answered with success, by action.
    pub succeeded: BTreeMap<String, u64>,
    /// Error responses of the emulated API, by error code (injected faults not included).
    pub errors: BTreeMap<String, u64>,
    /// Injected faults, by kind as `--fault` names them (`throttle`, `lose-answer`, …), and
    /// `slow` for the requests `--slow` held.
    pub faults: BTreeMap<String, u64>,
    /// Object paths accepted into tasks.
    pub accepted: Accepted,
    /// Today's use of each provider's daily quotas, one field per provider (Alibaba Cloud's
    /// `quota_used`, `qiniu_quota_used`, `huawei_quota_used`): they are different accounts.
    #[serde(flatten)]
    pub quota_used: QuotaUsed,
    /// Tasks created (Alibaba Cloud: one per domain per request; Qiniu: one per URL;
    /// Huawei: one per request).
    pub tasks_created: u64,
    /// Paths prefetched before their refresh task ended: a client must never do that.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefetched_early: BTreeMap<String, u64>,
    /// Paths whose refresh was accepted after the first prefetch: the prefetch of finished
    /// refreshes overlapped the refresh of others.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refreshed_after_prefetch: u64,
    /// The CDN edge's hits, misses, evictions and fills (`--origin`); absent while all zero.
    #[serde(default, skip_serializing_if = "EdgeStats::is_zero")]
    pub edge: EdgeStats,
}

/// Object path, exactly as the request carried it (trimmed), → times it was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub refresh: BTreeMap<String, u64>,
    pub prefetch: BTreeMap<String, u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Stats {
    /// API requests of any action.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Object paths accepted for this operation, counting repeats.
    pub fn total_accepted(&self, operation: Operation) -> u64 {
        self.accepted.get(operation).values().sum()
    }
}

impl Accepted {
    pub fn get(&self, operation: Operation) -> &BTreeMap<String, u64> {
        match operation {
            Operation::Refresh => &self.refresh,
            Operation::Prefetch => &self.prefetch,
        }
    }

    pub(crate) fn get_mut(&mut self, operation: Operation) -> &mut BTreeMap<String, u64> {
        match operation {
            Operation::Refresh => &mut self.refresh,
            Operation::Prefetch => &mut self.prefetch,
        }
    }
}

/// Today's use of each provider's daily quotas (`refresh-url`, `refresh-directory`, …), by
/// provider name: `stats.quota_used["qiniu"]`. In the JSON each provider's is a field of its
/// own, the one its declaration names (`quota_used` for Alibaba Cloud, `qiniu_quota_used`,
/// `huawei_quota_used`), present for every provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaUsed(BTreeMap<String, BTreeMap<QuotaKind, u64>>);

static NONE_USED: BTreeMap<QuotaKind, u64> = BTreeMap::new();

impl QuotaUsed {
    pub(crate) fn set(&mut self, provider: &str, used: BTreeMap<QuotaKind, u64>) {
        self.0.insert(provider.to_string(), used);
    }
}

impl std::ops::Index<&str> for QuotaUsed {
    type Output = BTreeMap<QuotaKind, u64>;

    /// The quota use of provider `name`; empty when none was recorded. Panics on a name no
    /// emulated provider has.
    fn index(&self, name: &str) -> &Self::Output {
        assert!(
            super::registry::named(name).is_some(),
            "no emulated provider is named {name:?}"
        );
        self.0.get(name).unwrap_or(&NONE_USED)
    }
}

impl Serialize for QuotaUsed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(super::EMULATED.len()))?;
        for e in super::EMULATED {
            map.serialize_entry(e.quota_field, self.0.get(e.name).unwrap_or(&NONE_USED))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for QuotaUsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;

        impl<'de> Visitor<'de> for Fields {
            type Value = QuotaUsed;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the providers' quota use")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<QuotaUsed, A::Error> {
                let mut used = QuotaUsed::default();
                while let Some(field) = fields.next_key::<String>()? {
                    match super::EMULATED.iter().find(|e| e.quota_field == field) {
                        Some(e) => used.set(e.name, fields.next_value()?),
                        None => {
                            fields.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(used)
            }
        }

        d.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_one_quota_field_per_provider_in_place() {
        let mut stats = Stats::default();
        stats
            .quota_used
            .set("qiniu", [(QuotaKind::RefreshUrl, 2)].into());
        stats.tasks_created = 1;
        let json = serde_json::to_string(&stats).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"requests":{},"succeeded":{},"errors":{},"faults":{},"#,
                r#""accepted":{"refresh":{},"prefetch":{}},"#,
                r#""quota_used":{},"qiniu_quota_used":{"refresh-url":2},"huawei_quota_used":{},"#,
                r#""cloudfront_quota_used":{},"#,
                r#""tasks_created":1}"#
            )
        );
        let back: Stats = serde_json::from_str(&json).unwrap();
        assert_eq!(back.quota_used["qiniu"][&QuotaKind::RefreshUrl], 2);
        assert!(back.quota_used["aliyun"].is_empty());
        assert_eq!(back.tasks_created, 1);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    #[should_panic(expected = "no emulated provider")]
    fn an_unknown_provider_is_a_mistake() {
        let _ = &Stats::default().quota_used["nobody"];
    }
}
