//! The run's result: every URL with its final status, and the counts derived from them.
//!
//! The report is built from the URL records alone, so counts and statuses can never
//! disagree with the list, and a URL can only be missing if it was never planned.

use serde::{Deserialize, Serialize};

pub use crate::plan::Collapse;
use crate::providers::{ObjectType, Operation, ProviderKind, Quota};
pub use crate::verify::{Verdict, VerdictKind};

/// Where one URL ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UrlStatus {
    /// The provider finished the task for this URL.
    Complete,
    /// The provider finished the task with a failure (its description is the reason).
    Failed,
    /// Sent, but not finished when the wait ended (timeout), or not sent because what it
    /// waited for (its refresh) was still running.
    Pending,
    /// Sent, and not waited for (`--wait false`).
    Submitted,
    /// Not done: the provider refused the request, or the run stopped before sending it.
    Rejected,
    /// Only planned (`plan` / `--dry-run`).
    Planned,
    /// Not sent: the provider has no such operation (CloudFront has no prefetch); the
    /// reason says so. Neither done nor failed.
    Unsupported,
}

/// One URL of one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlResult {
    pub url: String,
    pub operation: Operation,
    pub object_type: ObjectType,
    pub status: UrlStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the edge served after the run (`--verify`); absent when verification is off.
    /// Boxed: most runs have none, and a million results should not each carry its room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Box<Verdict>>,
}

/// The verdicts of a run's verification, each distinct URL counted once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyCounts {
    pub fresh: usize,
    pub stale: usize,
    pub lingering: usize,
    pub missing: usize,
    pub error: usize,
    pub unchecked: usize,
    /// URLs refreshed once more after their first verification (`--verify-heal`).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub heal_attempted: usize,
    /// Of those, the URLs fresh after the heal (counted in `fresh` too).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub healed: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

impl VerifyCounts {
    /// The counts of the distinct URLs of `urls` that carry a verdict.
    pub fn of(urls: &[UrlResult]) -> VerifyCounts {
        let mut seen = std::collections::HashSet::new();
        let mut c = VerifyCounts::default();
        for u in urls {
            let Some(v) = &u.verify else { continue };
            if !seen.insert(u.url.as_str()) {
                continue;
            }
            if let Some(heal) = &v.heal {
                c.heal_attempted += 1;
                c.healed += usize::from(heal.healed);
            }
            match v.verdict {
                VerdictKind::Fresh => c.fresh += 1,
                VerdictKind::Stale => c.stale += 1,
                VerdictKind::Lingering => c.lingering += 1,
                VerdictKind::Missing => c.missing += 1,
                VerdictKind::Error => c.error += 1,
                VerdictKind::Unchecked => c.unchecked += 1,
            }
        }
        c
    }

    /// The `verified-count` output: URLs verified fresh.
    pub fn verified(&self) -> usize {
        self.fresh
    }

    /// The `stale-count` output: URLs that do not serve the deploy (stale, lingering,
    /// missing).
    pub fn not_fresh(&self) -> usize {
        self.stale + self.lingering + self.missing
    }

    pub fn add(&mut self, o: &VerifyCounts) {
        self.fresh += o.fresh;
        self.stale += o.stale;
        self.lingering += o.lingering;
        self.missing += o.missing;
        self.error += o.error;
        self.unchecked += o.unchecked;
        self.heal_attempted += o.heal_attempted;
        self.healed += o.healed;
    }
}

/// One task the provider created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub operation: Operation,
    pub object_type: ObjectType,
}

/// The overall outcome, as the `status` output names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Success,
    Partial,
    Failed,
    Skipped,
    DryRun,
    /// Nothing failed and nothing finished: every URL still running when the wait ended.
    Pending,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
            RunStatus::DryRun => "dry-run",
            RunStatus::Pending => "pending",
        }
    }
}

/// Why the provider stopped the run, when it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A host the provider refused as not a domain of the account, with its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedHost {
    pub host: String,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Distinct URLs in the run (a URL refreshed and prefetched counts once).
    pub urls: usize,
    pub refreshed: usize,
    pub prefetched: usize,
    /// Failed or rejected.
    pub failed: usize,
    pub pending: usize,
    pub submitted: usize,
    /// Not sent: the provider has no such operation.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub unsupported: usize,
}

/// API calls made, beside the retries among them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    pub submit: u64,
    pub status: u64,
    pub quota: u64,
    pub retries: u64,
    /// Look-ups of submits whose answer was lost (or of batches a resumed run sends), made
    /// so that nothing is accepted twice.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lookup: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    /// The target's name, in a run with several (`targets:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub provider: ProviderKind,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_before: Option<Quota>,
    /// What is left of the day's quotas at the end, as far as the run knows (reservations
    /// of its batches, and what the provider's answers said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_after: Option<Quota>,
    /// Directories the provider refused to refresh (not enabled on the account); the files
    /// they stood for were refreshed instead (`--on-dir-refresh-denied files`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories_refused: Vec<String>,
    /// Hosts the provider said are not domains of this account: their URLs were not sent,
    /// the other hosts' URLs were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts_refused: Vec<RefusedHost>,
    /// URL-list mode: directories refreshed instead of the URLs under them (`--max-paths`);
    /// git mode lists its collapses in `git.collapses`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collapses: Vec<Collapse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    pub calls: Calls,
    pub tasks: Vec<TaskRecord>,
    pub urls: Vec<UrlResult>,
    /// Git mode: which range was diffed and how its changes were mapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitReport>,
    /// The verdicts of verifying the edge (`--verify`), counted; absent when it was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyCounts>,
}

/// Git mode in the report: the base used and how it was chosen, and what the changes became.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitReport {
    /// Full SHA of the base; absent when there was none (see `missing_base`).
    pub base: Option<String>,
    /// Full SHA of the head.
    pub head: String,
    /// How the base was chosen: `explicit`, `github-push`, `github-pull-request`,
    /// `gitlab-merge-request`, `gitlab-before` or `undetected`.
    pub base_source: String,
    /// Changed paths in the diff (a rename counts once).
    pub changes: usize,
    /// Submodule paths that changed; not diffed, not refreshed.
    pub skipped_submodules: Vec<String>,
    /// Changed paths no rule matches: not refreshed.
    pub unmapped: usize,
    /// Changed paths an exclude rule matches: not refreshed.
    pub excluded: usize,
    /// The first 100 unmapped paths (all are counted in `unmapped`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmapped_paths: Vec<String>,
    /// The first 100 excluded paths (all are counted in `excluded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_paths: Vec<String>,
    /// Directories refreshed instead of the files under them (`--collapse-threshold`).
    pub collapses: Vec<Collapse>,
    /// Set when there was no base to diff against: the policy applied and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_base: Option<MissingBaseReport>,
    /// Why this base: `marker refs/cdn-refresh/prod at 1a2b3c4`, or where the CI event had
    /// it; set when a marker is configured (`base_source` says it otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_reason: Option<String>,
    /// `--marker`: each target's marker, what it named and what became of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<MarkerReport>,
}

/// One target's marker of the last fully successful run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerReport {
    /// The target's name, in a run with several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `git` or `site`.
    pub store: String,
    /// The ref in origin, or the URL of the marker file.
    pub location: String,
    /// The commit it named when the run started; absent when there was none (`missing`).
    pub commit: Option<String>,
    /// Why it named no commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// What became of it: `moved` (to `head`, or already there), `publish` (the run succeeded: `cdn-refresh
    /// marker write DIR` writes the file to upload), `kept` (see `note`), `push-refused`.
    pub state: String,
    /// Why it was kept, or what the push said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `--on-missing-base` as applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingBaseReport {
    /// `all` or `skip` (`fail` stops before any report).
    pub policy: String,
    pub reason: String,
}

/// The report of a run with several targets: the overall outcome, then each target's own
/// report (the same shape as a run on one provider, named), and the git range they shared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultiReport {
    pub version: u32,
    /// `success` when every target succeeded, `failed` when none did, else `partial`
    /// (`skipped` or `dry-run` when every target was).
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// The targets' counts added up (a URL sent to two CDNs counts twice).
    pub counts: Counts,
    /// The targets' verification counts added up, when any target verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyCounts>,
    pub targets: Vec<Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitReport>,
}

impl MultiReport {
    /// Puts the targets' reports together; each must carry its `target` name.
    pub fn of(targets: Vec<Report>, git: Option<GitReport>) -> MultiReport {
        let started_at = targets
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default();
        let finished_at = targets
            .iter()
            .map(|r| r.finished_at.clone())
            .max()
            .unwrap_or_default();
        let mut counts = Counts::default();
        for r in &targets {
            let c = &r.counts;
            counts.urls += c.urls;
            counts.refreshed += c.refreshed;
            counts.prefetched += c.prefetched;
            counts.failed += c.failed;
            counts.pending += c.pending;
            counts.submitted += c.submitted;
        }
        let mut verify: Option<VerifyCounts> = None;
        for r in &targets {
            if let Some(v) = &r.verify {
                verify.get_or_insert_with(VerifyCounts::default).add(v);
            }
        }
        MultiReport {
            verify,
            version: 1,
            status: overall_status(targets.iter().map(|r| r.status)),
            started_at,
            finished_at,
            duration_ms: targets.iter().map(|r| r.duration_ms).max().unwrap_or(0),
            counts,
            targets,
            git,
        }
    }
}

/// The status of several targets' runs together.
pub fn overall_status(statuses: impl IntoIterator<Item = RunStatus>) -> RunStatus {
    let statuses: Vec<RunStatus> = statuses.into_iter().collect();
    let all = |s: RunStatus| statuses.iter().all(|x| *x == s);
    if statuses.is_empty() || all(RunStatus::Skipped) {
        RunStatus::Skipped
    } else if all(RunStatus::DryRun) {
        RunStatus::DryRun
    } else if statuses
        .iter()
        .all(|s| matches!(s, RunStatus::Success | RunStatus::Skipped))
    {
        RunStatus::Success
    } else if all(RunStatus::Failed) {
        RunStatus::Failed
    } else if statuses
        .iter()
        .all(|s| matches!(s, RunStatus::Pending | RunStatus::Skipped))
    {
        RunStatus::Pending
    } else {
        RunStatus::Partial
    }
}

impl Counts {
    pub fn of(urls: &[UrlResult]) -> Counts {
        let distinct: std::collections::HashSet<&str> =
            urls.iter().map(|u| u.url.as_str()).collect();
        let mut c = Counts {
            urls: distinct.len(),
            ..Counts::default()
        };
        for u in urls {
            match (u.status, u.operation) {
                (UrlStatus::Complete, Operation::Refresh) => c.refreshed += 1,
                (UrlStatus::Complete, Operation::Prefetch) => c.prefetched += 1,
                (UrlStatus::Failed | UrlStatus::Rejected, _) => c.failed += 1,
                (UrlStatus::Pending, _) => c.pending += 1,
                (UrlStatus::Submitted, _) => c.submitted += 1,
                (UrlStatus::Planned, _) => {}
                (UrlStatus::Unsupported, _) => c.unsupported += 1,
            }
        }
        c
    }
}

/// The overall status of a run that sent (or tried to send) requests, as its counts say:
/// `success` when every URL is done, `pending` when nothing failed and nothing finished
/// (every URL still running when the wait ended), `failed` when something failed and nothing
/// finished, `partial` when some finished and others did not.
pub fn run_status(urls: &[UrlResult]) -> RunStatus {
    let count = |f: &dyn Fn(UrlStatus) -> bool| urls.iter().filter(|u| f(u.status)).count();
    let done = count(&|s| matches!(s, UrlStatus::Complete | UrlStatus::Submitted));
    let failed = count(&|s| matches!(s, UrlStatus::Failed | UrlStatus::Rejected));
    let pending = count(&|s| s == UrlStatus::Pending);
    match (done, failed, pending) {
        (0, 0, 0) => RunStatus::Skipped,
        (_, 0, 0) => RunStatus::Success,
        (0, 0, _) => RunStatus::Pending,
        (0, _, _) => RunStatus::Failed,
        _ => RunStatus::Partial,
    }
}

impl Report {
    /// A report of a run that created no task: a dry run, or one refused before sending.
    pub fn without_tasks(
        provider: ProviderKind,
        status: RunStatus,
        urls: Vec<UrlResult>,
        quota_before: Option<Quota>,
        stopped: Option<Stop>,
    ) -> Report {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Report {
            version: 1,
            target: None,
            provider,
            status,
            started_at: now.clone(),
            finished_at: now,
            duration_ms: 0,
            counts: Counts::of(&urls),
            quota_before,
            quota_after: None,
            directories_refused: Vec::new(),
            hosts_refused: Vec::new(),
            collapses: Vec::new(),
            stopped,
            calls: Calls::default(),
            tasks: Vec::new(),
            urls,
            git: None,
            verify: None,
        }
    }

    pub fn task_ids(&self, operation: Option<Operation>) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|t| operation.is_none_or(|op| t.operation == op))
            .map(|t| t.id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_stays_small_as_a_million_of_them_are_kept() {
        // A run of a million URLs keeps a million results; each byte here is a megabyte.
        assert!(
            std::mem::size_of::<UrlResult>() <= 88,
            "{}",
            std::mem::size_of::<UrlResult>()
        );
    }

    fn url(u: &str, operation: Operation, status: UrlStatus) -> UrlResult {
        UrlResult {
            url: u.into(),
            operation,
            object_type: ObjectType::File,
            status,
            task_id: None,
            reason: None,
            verify: None,
        }
    }

    #[test]
    fn counts_and_status_follow_the_urls() {
        let urls = vec![
            url("http://a/1", Operation::Refresh, UrlStatus::Complete),
            url("http://a/1", Operation::Prefetch, UrlStatus::Complete),
            url("http://a/2", Operation::Refresh, UrlStatus::Failed),
            url("http://a/3", Operation::Refresh, UrlStatus::Pending),
        ];
        let c = Counts::of(&urls);
        assert_eq!(
            (c.urls, c.refreshed, c.prefetched, c.failed, c.pending),
            (3, 1, 1, 1, 1)
        );
        assert_eq!(run_status(&urls), RunStatus::Partial);
        assert_eq!(run_status(&urls[..2]), RunStatus::Success);
        assert_eq!(
            run_status(&urls[2..]),
            RunStatus::Failed,
            "failed and pending"
        );
        assert_eq!(run_status(&urls[3..]), RunStatus::Pending);
        assert_eq!(run_status(&[]), RunStatus::Skipped);
    }
}
