//! Sinks: the only code that turns results into what people and CI systems read.
//!
//! `text` is for people; `github` and `gitlab` write what those CI systems read (step
//! outputs, job summary, dotenv, log folding) as pure strings; `ci` detects the platform
//! and does the writing.
pub mod ci;
pub mod github;
pub mod gitlab;
pub mod text;

use std::path::Path;

use crate::providers::Operation;
use crate::report::Report;

/// The step outputs of the contract, in its order, with their values for `report`.
/// Lists of task ids are comma-separated (single-line, so GitLab's dotenv can carry them).
pub fn outputs(report: &Report, report_path: Option<&Path>) -> Vec<(&'static str, String)> {
    let ids = |op| report.task_ids(op).join(",");
    vec![
        ("status", report.status.as_str().to_string()),
        ("task-ids", ids(None)),
        ("refresh-task-ids", ids(Some(Operation::Refresh))),
        ("prefetch-task-ids", ids(Some(Operation::Prefetch))),
        ("urls-count", report.counts.urls.to_string()),
        ("refreshed-count", report.counts.refreshed.to_string()),
        ("prefetched-count", report.counts.prefetched.to_string()),
        ("failed-count", report.counts.failed.to_string()),
        ("pending-count", report.counts.pending.to_string()),
        (
            "report",
            report_path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}
