//! Sinks: the only code that turns results into what people and CI systems read.
//!
//! `text` is for people; `github` and `gitlab` write what those CI systems read (step
//! outputs, job summary, dotenv, log folding) as pure strings; `ci` detects the platform
//! and writes the files; `console` is the only writer of stdout and stderr.
pub mod ci;
pub mod console;
pub mod github;
pub mod gitlab;
pub mod json;
pub mod text;

use std::path::Path;

use crate::providers::Operation;
use crate::report::{Counts, MultiReport, Report, VerifyCounts};

/// The step outputs of the contract, in its order, with their values for `report`.
/// Lists of task ids are comma-separated (single-line, so GitLab's dotenv can carry them).
pub fn outputs(report: &Report, report_path: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut values = contract(
        report.status.as_str(),
        |op| report.task_ids(op).join(","),
        &report.counts,
        report_path,
    );
    verify_outputs(&mut values, report.verify.as_ref());
    values
}

/// `verified-count` (URLs verified fresh) and `stale-count` (stale, lingering or missing),
/// when the run verified the edge; without verification they are not set, so a run that
/// does not verify writes the outputs it always did.
fn verify_outputs(values: &mut Vec<(&'static str, String)>, counts: Option<&VerifyCounts>) {
    if let Some(c) = counts {
        values.push(("verified-count", c.verified().to_string()));
        values.push(("stale-count", c.not_fresh().to_string()));
    }
}

/// The outputs of a run that ended on bad input, before anything was sent: `failed`, every
/// count 0, no task ids, no report.
pub fn bad_input_outputs() -> Vec<(&'static str, String)> {
    contract("failed", |_| String::new(), &Counts::default(), None)
}

/// The contract's ten outputs from a status, the task ids of an operation (all with `None`),
/// the counts and the report path.
fn contract(
    status: &str,
    ids: impl Fn(Option<Operation>) -> String,
    counts: &Counts,
    report_path: Option<&Path>,
) -> Vec<(&'static str, String)> {
    vec![
        ("status", status.to_string()),
        ("task-ids", ids(None)),
        ("refresh-task-ids", ids(Some(Operation::Refresh))),
        ("prefetch-task-ids", ids(Some(Operation::Prefetch))),
        ("urls-count", counts.urls.to_string()),
        ("refreshed-count", counts.refreshed.to_string()),
        ("prefetched-count", counts.prefetched.to_string()),
        ("failed-count", counts.failed.to_string()),
        ("pending-count", counts.pending.to_string()),
        (
            "report",
            report_path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}

/// The outputs of a run with several targets: the contract's outputs over all of them
/// (task ids written `target:id`, so `cdn-refresh status` can find their target; counts
/// added up), then `targets`, a JSON object with each target's status and counts, for
/// `fromJSON(steps.<id>.outputs.targets).<name>.status`.
pub fn multi_outputs(
    report: &MultiReport,
    report_path: Option<&Path>,
) -> Vec<(&'static str, String)> {
    let ids = |op: Option<Operation>| {
        report
            .targets
            .iter()
            .flat_map(|t| {
                let name = t.target.as_deref().unwrap_or_default();
                t.task_ids(op)
                    .into_iter()
                    .map(move |id| format!("{name}:{id}"))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let targets: serde_json::Map<String, serde_json::Value> = report
        .targets
        .iter()
        .map(|t| {
            let mut entry = serde_json::json!({
                "provider": t.provider,
                "status": t.status.as_str(),
                "urls-count": t.counts.urls,
                "refreshed-count": t.counts.refreshed,
                "prefetched-count": t.counts.prefetched,
                "failed-count": t.counts.failed,
                "pending-count": t.counts.pending,
            });
            if let Some(stop) = &t.stopped {
                entry["stopped"] = serde_json::Value::from(stop.code.clone());
            }
            (t.target.clone().unwrap_or_default(), entry)
        })
        .collect();
    let mut values = contract(report.status.as_str(), ids, &report.counts, report_path);
    verify_outputs(&mut values, report.verify.as_ref());
    values.push(("targets", serde_json::Value::Object(targets).to_string()));
    values
}
