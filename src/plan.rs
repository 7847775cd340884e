//! What a run will do: the URLs per operation, before any limit or network is involved.
//!
//! A plan is pure data. Batches, quota needs and the `plan` command's output are all
//! derived from it, so a dry run shows exactly what a real run would send.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::providers::{Batch, BatchKind, Limits, ObjectType, QuotaKind};
use crate::schedule;

/// Which operations a run performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskMode {
    Refresh,
    Prefetch,
    /// Refresh, then prefetch each URL once its refresh task has completed.
    Both,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// URLs to refresh, by how they are matched.
    pub refresh: BTreeMap<ObjectType, Vec<String>>,
    /// URLs to prefetch.
    pub prefetch: Vec<String>,
    /// Prefetch a URL only after its refresh completed (`--task both`).
    pub prefetch_after_refresh: bool,
}

impl Plan {
    /// The plan for a URL list. `object_type` applies to refresh; prefetch takes files only
    /// (the caller has checked that).
    pub fn from_urls(urls: Vec<String>, task: TaskMode, object_type: ObjectType) -> Plan {
        let mut plan = Plan::default();
        if urls.is_empty() {
            return plan;
        }
        match task {
            TaskMode::Refresh => {
                plan.refresh.insert(object_type, urls);
            }
            TaskMode::Prefetch => plan.prefetch = urls,
            TaskMode::Both => {
                plan.prefetch = urls.clone();
                plan.refresh.insert(object_type, urls);
                plan.prefetch_after_refresh = true;
            }
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.refresh.values().all(Vec::is_empty) && self.prefetch.is_empty()
    }

    /// Refresh batches, filled to the provider's limits.
    pub fn refresh_batches(&self, limits: &Limits, batch_size: Option<usize>) -> Vec<Batch> {
        self.refresh
            .iter()
            .flat_map(|(t, urls)| {
                schedule::batches(BatchKind::refresh(*t), urls, limits, batch_size)
            })
            .collect()
    }

    /// Prefetch batches for `urls`.
    pub fn prefetch_batches(
        urls: &[String],
        limits: &Limits,
        batch_size: Option<usize>,
    ) -> Vec<Batch> {
        schedule::batches(BatchKind::PREFETCH, urls, limits, batch_size)
    }

    /// How much of each daily quota the plan uses.
    pub fn quota_needs(&self) -> BTreeMap<QuotaKind, u64> {
        let mut needs = BTreeMap::new();
        for (t, urls) in &self.refresh {
            if !urls.is_empty() {
                *needs
                    .entry(BatchKind::refresh(*t).quota_kind())
                    .or_default() += urls.len() as u64;
            }
        }
        if !self.prefetch.is_empty() {
            *needs.entry(QuotaKind::Prefetch).or_default() += self.prefetch.len() as u64;
        }
        needs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_refreshes_and_prefetches_the_same_urls() {
        let urls = vec!["https://a.com/1".to_string(), "https://a.com/2".to_string()];
        let plan = Plan::from_urls(urls.clone(), TaskMode::Both, ObjectType::File);
        assert_eq!(plan.refresh[&ObjectType::File], urls);
        assert_eq!(plan.prefetch, urls);
        assert!(plan.prefetch_after_refresh);
        let needs = plan.quota_needs();
        assert_eq!(needs[&QuotaKind::RefreshUrl], 2);
        assert_eq!(needs[&QuotaKind::Prefetch], 2);
    }

    #[test]
    fn directories_draw_on_the_directory_quota() {
        let plan = Plan::from_urls(
            vec!["https://a.com/d/".into()],
            TaskMode::Refresh,
            ObjectType::Directory,
        );
        assert_eq!(plan.quota_needs()[&QuotaKind::RefreshDirectory], 1);
        assert!(plan.prefetch.is_empty());
    }
}
