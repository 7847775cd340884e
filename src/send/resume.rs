//! `--resume REPORT`: finish what an interrupted or timed-out run started, without sending
//! anything twice.
//!
//! The report of the earlier run lists every URL with its status and task id. A URL it
//! shows accepted (a task id, and `submitted`, `pending`, `complete` or `failed`) is not
//! sent again: a finished one keeps its result, an unfinished one is waited for on its
//! recorded task. Every other URL (`rejected`: interrupted, not sent at the deadline,
//! refused, or with an unknown outcome) is sent, but only after the provider was asked
//! whether the earlier run's request for it was accepted after all (a process killed
//! mid-request cannot have written that down). A report of another provider, target or plan
//! is refused up front, so a resumed run never mixes two deploys.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::plan::Plan;
use crate::providers::{Batch, BatchKind, Operation, ProviderKind, TaskId};
use crate::report::{Report, UrlResult, UrlStatus};

/// What an earlier run of the same plan did.
#[derive(Debug)]
pub struct Prior {
    pub started_at: DateTime<Utc>,
    results: HashMap<(Operation, String), UrlResult>,
}

/// Where a URL of a resumed run stands.
pub enum Resumed<'a> {
    /// Finished in the earlier run: its result stands.
    Finished(&'a UrlResult),
    /// Accepted in the earlier run and not known finished: wait on these tasks.
    Accepted(Vec<TaskId>),
    /// Not accepted as far as the report knows: send it (after a look-up).
    Send,
}

impl Prior {
    /// The earlier `report` of this run's `plan` on `provider` (`target`: its name in a run
    /// with several), or why it is not.
    pub fn of(
        report: &Report,
        plan: &Plan,
        provider: ProviderKind,
        target: Option<&str>,
    ) -> Result<Prior, String> {
        if report.provider != provider {
            return Err(format!(
                "the report is of provider {}, this run is on {provider}",
                report.provider
            ));
        }
        if report.target.as_deref() != target {
            return Err(format!(
                "the report is of target {}, this run's is {}",
                report.target.as_deref().unwrap_or("(none)"),
                target.unwrap_or("(none)")
            ));
        }
        let started_at = DateTime::parse_from_rfc3339(&report.started_at)
            .map_err(|e| format!("its started_at `{}` is not a time: {e}", report.started_at))?
            .with_timezone(&Utc);
        let reported: BTreeSet<(Operation, &str)> = report
            .urls
            .iter()
            .map(|u| (u.operation, u.url.as_str()))
            .collect();
        let mut planned: BTreeSet<(Operation, &str)> = plan
            .refresh
            .values()
            .flatten()
            .map(|u| (Operation::Refresh, u.as_str()))
            .collect();
        planned.extend(
            plan.prefetch
                .iter()
                .map(|u| (Operation::Prefetch, u.as_str())),
        );
        // Files a refused directory was replaced by appear in the report, not the plan.
        let fallback: BTreeSet<&str> = plan
            .directory_fallback()
            .into_values()
            .flatten()
            .map(String::as_str)
            .collect();
        let missing: Vec<String> = planned
            .difference(&reported)
            .map(|(op, u)| format!("{op} {u}"))
            .collect();
        let extra: Vec<String> = reported
            .difference(&planned)
            .filter(|(op, u)| !(*op == Operation::Refresh && fallback.contains(u)))
            .map(|(op, u)| format!("{op} {u}"))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            let sample = |list: &[String]| {
                let mut s = list.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                if list.len() > 3 {
                    s.push_str(&format!(" and {} more", list.len() - 3));
                }
                s
            };
            let mut why = String::from("its URLs are not this run's");
            if !missing.is_empty() {
                why.push_str(&format!("; not in the report: {}", sample(&missing)));
            }
            if !extra.is_empty() {
                why.push_str(&format!("; not in this run: {}", sample(&extra)));
            }
            return Err(why);
        }
        let results = report
            .urls
            .iter()
            .map(|u| ((u.operation, u.url.clone()), u.clone()))
            .collect();
        Ok(Prior {
            started_at,
            results,
        })
    }

    /// Where `url` of `operation` stands after the earlier run.
    pub fn of_url(&self, operation: Operation, url: &str) -> Resumed<'_> {
        let Some(r) = self.results.get(&(operation, url.to_string())) else {
            return Resumed::Send;
        };
        let ids: Vec<TaskId> = r
            .task_id
            .iter()
            .flat_map(|ids| ids.split(','))
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| TaskId(id.to_string()))
            .collect();
        match r.status {
            UrlStatus::Complete | UrlStatus::Failed if !ids.is_empty() => Resumed::Finished(r),
            UrlStatus::Submitted | UrlStatus::Pending if !ids.is_empty() => Resumed::Accepted(ids),
            _ => Resumed::Send,
        }
    }
}

/// A phase's URLs sorted by what a resumed run does with them.
#[derive(Default)]
pub struct Split {
    /// The accepted ones, as batches by task: to wait on.
    pub accepted: Vec<(Batch, Vec<TaskId>)>,
    /// Results that stand.
    pub finished: Vec<UrlResult>,
    /// Still to send.
    pub send: Vec<String>,
}

/// Sorts `urls` of `kind` by what the earlier run did with them.
pub fn split(prior: &Prior, kind: BatchKind, urls: &[String]) -> Split {
    let mut accepted: Vec<(Batch, Vec<TaskId>)> = Vec::new();
    let mut finished = Vec::new();
    let mut send = Vec::new();
    for url in urls {
        match prior.of_url(kind.operation, url) {
            Resumed::Finished(r) => finished.push(r.clone()),
            Resumed::Accepted(ids) => match accepted.iter_mut().find(|(_, i)| *i == ids) {
                Some((batch, _)) => batch.urls.push(url.clone()),
                None => accepted.push((
                    Batch {
                        kind,
                        urls: vec![url.clone()],
                    },
                    ids,
                )),
            },
            Resumed::Send => send.push(url.clone()),
        }
    }
    Split {
        accepted,
        finished,
        send,
    }
}
