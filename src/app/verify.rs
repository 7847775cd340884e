//! The run's verification step: after every target's report is in, each URL whose refresh
//! (and prefetch) completed is fetched from the edge and judged ([`crate::verify`]); the
//! verdicts go into the report's URL records and counts. Later versions may verify a URL as
//! soon as its own task completes; here the run is over first.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::input::settings::Settings;
use crate::providers::ObjectType;
use crate::report::{Report, UrlStatus, VerifyCounts};
use crate::verify::expect::{self, Deployed, GitSource};
use crate::verify::{self, Expectation, Verdict, VerifyMode, VerifyOptions};

/// The most a run spends verifying, within what `--timeout` leaves.
pub const MAX_VERIFY: Duration = Duration::from_secs(120);

/// Verifies each report's completed URLs per its target's mode; `started` is when the run
/// began (its `--timeout` counts from there).
pub async fn verify_reports(settings: &Settings, reports: &mut [Report], started: Instant) {
    let git_map: Option<HashMap<String, Deployed>> = settings.git.as_ref().map(|g| {
        expect::from_git(&GitSource {
            repo: &g.repo,
            head: &g.report.head,
            changes: &g.changes,
            rules: &g.rules,
        })
    });
    let timeout = settings
        .targets
        .iter()
        .map(|t| t.run.timeout)
        .max()
        .unwrap_or(MAX_VERIFY);
    let deadline = (started + timeout).min(Instant::now() + MAX_VERIFY);
    let mut opts = VerifyOptions::until(deadline);
    opts.connect = settings.verify.connect.clone();
    for (i, report) in reports.iter_mut().enumerate() {
        let mode = settings
            .verify
            .modes
            .get(i)
            .copied()
            .unwrap_or(VerifyMode::Off);
        if mode == VerifyMode::Off {
            continue;
        }
        verify_report(
            report,
            mode,
            git_map.as_ref(),
            settings.verify.root.as_deref(),
            &opts,
        )
        .await;
    }
}

/// Why a URL is not verified, from its records: `None` when every one completed.
pub fn not_completed(statuses: &[UrlStatus]) -> Option<String> {
    let first = statuses.iter().find(|s| **s != UrlStatus::Complete)?;
    let word = serde_json::to_value(first)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Some(format!("its task did not complete ({word})"))
}

/// Verifies one report's URLs and records the verdicts.
pub async fn verify_report(
    report: &mut Report,
    mode: VerifyMode,
    git: Option<&HashMap<String, Deployed>>,
    root: Option<&std::path::Path>,
    opts: &VerifyOptions,
) {
    // Each distinct URL once, in report order, with its records' statuses.
    let mut order: Vec<(String, ObjectType)> = Vec::new();
    let mut statuses: HashMap<&str, Vec<UrlStatus>> = HashMap::new();
    let mut seen = HashSet::new();
    for u in &report.urls {
        if seen.insert(u.url.as_str()) {
            order.push((u.url.clone(), u.object_type));
        }
        statuses.entry(u.url.as_str()).or_default().push(u.status);
    }
    let mut items = Vec::new();
    let mut fixed: HashMap<String, Verdict> = HashMap::new();
    for (url, object_type) in &order {
        if let Some(why) = not_completed(&statuses[url.as_str()]) {
            fixed.insert(url.clone(), Verdict::unchecked(why));
            continue;
        }
        items.push(Expectation {
            url: url.clone(),
            expect: expect::expectation(url, *object_type, mode, git, root),
        });
    }
    let urls: Vec<String> = items.iter().map(|i| i.url.clone()).collect();
    let verdicts = verify::verify(items, opts).await;
    fixed.extend(urls.into_iter().zip(verdicts));
    for u in &mut report.urls {
        u.verify = fixed.get(&u.url).cloned();
    }
    report.verify = Some(VerifyCounts::of(&report.urls));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_completed_urls_are_verified() {
        assert_eq!(
            not_completed(&[UrlStatus::Complete, UrlStatus::Complete]),
            None
        );
        assert_eq!(
            not_completed(&[UrlStatus::Complete, UrlStatus::Pending]).as_deref(),
            Some("its task did not complete (pending)")
        );
    }
}
