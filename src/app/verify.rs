//! The run's verification step: after every target's report is in, each URL whose refresh
//! (and prefetch) ended is fetched from the edge and judged ([`crate::verify`]); the
//! verdicts go into the report's URL records and counts. Later versions may verify a URL as
//! soon as its own task completes; here the run is over first.
//!
//! Heal (`--verify-heal`, on by default): a URL still stale, lingering or missing at its
//! first verify deadline (half of the verify budget) is refreshed once more, through the
//! same send machinery as the run ([`send::run::execute`]: the quota is read again, so the
//! heal stays within the day's quota), prefetched again when the run prefetched it, and
//! verified again until the run's deadline. The heal's tasks and calls are added to the
//! report; each URL's verdict says what the heal did (`verify.heal`), and the counts how
//! many URLs it was tried on and how many it made fresh.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::input::cli::Env;
use crate::input::settings::{Settings, Target};
use crate::output::console;
use crate::plan::Plan;
use crate::providers::{ObjectType, Operation};
use crate::report::{Report, UrlStatus, VerifyCounts};
use crate::send;
use crate::verify::expect::{self, Deployed, GitSource};
use crate::verify::{self, Expect, Expectation, Heal, Verdict, VerifyMode, VerifyOptions};

/// The most a run spends verifying, within what `--timeout` leaves.
pub const MAX_VERIFY: Duration = Duration::from_secs(120);

/// Verifies each report's completed URLs per its target's mode, and heals what is still
/// stale (`--verify-heal`); `started` is when the run began (its `--timeout` counts from
/// there).
pub async fn verify_reports(
    settings: &Settings,
    env: &Env,
    reports: &mut [Report],
    started: Instant,
) {
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
    let heal = settings.verify.heal;
    // With a heal to come, the first verification takes half of what is left.
    let first = if heal {
        let now = Instant::now();
        now + deadline.saturating_duration_since(now) / 2
    } else {
        deadline
    };
    let mut opts = VerifyOptions::until(first);
    opts.connect = settings.verify.connect.clone();
    let only = settings.targets.len() == 1;
    let named = settings.named();
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
        let items = expectations(
            report,
            mode,
            git_map.as_ref(),
            settings.verify.root.as_deref(),
        );
        verify_report(report, items.clone(), &opts).await;
        let Some(target) = settings.targets.get(i).filter(|_| heal) else {
            continue;
        };
        let healer = Healer {
            target,
            env,
            only,
            named,
            deadline,
        };
        let mut again = opts.clone();
        again.deadline = deadline;
        healer.heal(report, &items, &again).await;
    }
}

/// Why a URL is not verified, from its records: `None` when none is still running and one
/// ended (complete, or failed: a failed task says nothing of what the edge serves, so the
/// edge is asked).
pub fn not_completed(statuses: &[UrlStatus]) -> Option<String> {
    let ended = |s: &UrlStatus| matches!(s, UrlStatus::Complete | UrlStatus::Failed);
    // Still running (the edge may change yet), or nothing ended (nothing was done). A
    // prefetch rejected because its refresh failed does not keep the URL from the edge.
    let first = statuses
        .iter()
        .find(|s| matches!(s, UrlStatus::Pending | UrlStatus::Submitted))
        .or_else(|| (!statuses.iter().any(ended)).then(|| &statuses[0]))?;
    let word = serde_json::to_value(first)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Some(format!("its task did not complete ({word})"))
}

/// What each distinct URL of `report` should serve, in report order; `Err` for a URL not
/// verified (its task did not end), with the reason.
pub fn expectations(
    report: &Report,
    mode: VerifyMode,
    git: Option<&HashMap<String, Deployed>>,
    root: Option<&std::path::Path>,
) -> Vec<Result<Expectation, (String, String)>> {
    let mut order: Vec<(String, ObjectType)> = Vec::new();
    let mut statuses: HashMap<&str, Vec<UrlStatus>> = HashMap::new();
    let mut seen = HashSet::new();
    for u in &report.urls {
        if seen.insert(u.url.as_str()) {
            order.push((u.url.clone(), u.object_type));
        }
        statuses.entry(u.url.as_str()).or_default().push(u.status);
    }
    order
        .into_iter()
        .map(
            |(url, object_type)| match not_completed(&statuses[url.as_str()]) {
                Some(why) => Err((url, why)),
                None => Ok(Expectation {
                    expect: expect::expectation(&url, object_type, mode, git, root),
                    url,
                }),
            },
        )
        .collect()
}

/// Verifies one report's URLs (`items`, from [`expectations`]) and records the verdicts.
pub async fn verify_report(
    report: &mut Report,
    items: Vec<Result<Expectation, (String, String)>>,
    opts: &VerifyOptions,
) {
    let mut fixed: HashMap<String, Verdict> = HashMap::new();
    let mut asked = Vec::new();
    for item in items {
        match item {
            Ok(e) => asked.push(e),
            Err((url, why)) => {
                fixed.insert(url, Verdict::unchecked(why));
            }
        }
    }
    let urls: Vec<String> = asked.iter().map(|i| i.url.clone()).collect();
    let verdicts = verify::verify(asked, opts).await;
    fixed.extend(urls.into_iter().zip(verdicts));
    for u in &mut report.urls {
        u.verify = fixed.get(&u.url).cloned().map(Box::new);
    }
    report.verify = Some(VerifyCounts::of(&report.urls));
}

/// What a heal needs: the target's settings and a client made again for it.
struct Healer<'a> {
    target: &'a Target,
    env: &'a Env,
    only: bool,
    named: bool,
    /// The run's verify deadline.
    deadline: Instant,
}

impl Healer<'_> {
    /// Refreshes once more the URLs of `report` that are not fresh (and that the run
    /// refreshed), prefetches them again where the run did, verifies them again until
    /// the deadline, and records it all.
    async fn heal(
        &self,
        report: &mut Report,
        items: &[Result<Expectation, (String, String)>],
        opts: &VerifyOptions,
    ) {
        let plan = heal_plan(report, items);
        if plan.is_empty() {
            return;
        }
        let urls: Vec<String> = plan.refresh.values().flatten().cloned().collect();
        let who = self
            .target
            .name
            .as_deref()
            .map(|t| format!("target {t}: "))
            .unwrap_or_default();
        console::print(format!(
            "{who}heal: {} still not fresh at the first verify deadline; refreshing {} once more\n",
            crate::output::text::urls(urls.len()),
            if urls.len() == 1 { "it" } else { "them" },
        ));
        // Each URL's heal refresh: (status word, task id, reason).
        let mut outcome: HashMap<String, (String, Option<String>, Option<String>)> = HashMap::new();
        match super::connect::client(self.target, self.env, self.only, self.named) {
            Ok(provider) => {
                let mut run = self.target.run.clone();
                run.resume = None;
                // The refresh and its prefetch take two thirds of what is left; the second
                // verification the rest.
                let left = self.deadline.saturating_duration_since(Instant::now());
                run.timeout = (left * 2 / 3).max(Duration::from_secs(1));
                let mut own = plan.clone();
                let healed = send::run::execute(provider.as_ref(), &mut own, &run).await;
                for u in &healed.urls {
                    if u.operation != Operation::Refresh {
                        continue;
                    }
                    let word = serde_json::to_value(u.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    outcome.insert(u.url.clone(), (word, u.task_id.clone(), u.reason.clone()));
                }
                merge(report, &healed);
            }
            Err(e) => {
                let why = format!("no client for the heal: {e}");
                for url in &urls {
                    outcome.insert(url.clone(), ("not-sent".into(), None, Some(why.clone())));
                }
            }
        }
        // Verified again, whatever became of the refresh: the edge is what it is.
        let again: Vec<Expectation> = items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .filter(|e| urls.contains(&e.url))
            .cloned()
            .collect();
        let order: Vec<String> = again.iter().map(|e| e.url.clone()).collect();
        let verdicts = verify::verify(again, opts).await;
        let mut after: HashMap<String, Verdict> = HashMap::new();
        for (url, mut verdict) in order.into_iter().zip(verdicts) {
            let Some(before) = report
                .urls
                .iter()
                .find(|u| u.url == url)
                .and_then(|u| u.verify.clone())
            else {
                continue;
            };
            let (refresh, task_id, reason) = outcome
                .remove(&url)
                .unwrap_or_else(|| ("not-sent".into(), None, None));
            let healed = verdict.verdict == verify::VerdictKind::Fresh;
            if !healed {
                let note = format!(
                    "still {} after a heal (refresh {refresh})",
                    verdict.verdict.as_str()
                );
                verdict.reason = Some(match verdict.reason.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
            verdict.heal = Some(Heal {
                before: before.verdict,
                before_reason: before.reason,
                before_attempts: before.attempts,
                refresh,
                task_id,
                reason,
                healed,
            });
            after.insert(url, verdict);
        }
        for u in &mut report.urls {
            if let Some(v) = after.get(&u.url) {
                u.verify = Some(Box::new(v.clone()));
            }
        }
        report.verify = Some(VerifyCounts::of(&report.urls));
    }
}

/// The plan of a heal: the URLs not fresh that the run refreshed, by their object type,
/// and prefetched again (after their refresh) where the run prefetched them and a file is
/// deployed there.
pub fn heal_plan(report: &Report, items: &[Result<Expectation, (String, String)>]) -> Plan {
    let not_fresh: HashSet<&str> = report
        .urls
        .iter()
        .filter(|u| u.verify.as_ref().is_some_and(|v| v.verdict.is_stale()))
        .map(|u| u.url.as_str())
        .collect();
    let gone: HashSet<&str> = items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .filter(|e| e.expect == Expect::Gone)
        .map(|e| e.url.as_str())
        .collect();
    let mut refresh: BTreeMap<ObjectType, Vec<String>> = BTreeMap::new();
    let mut prefetch = Vec::new();
    let mut seen = HashSet::new();
    for u in &report.urls {
        if u.operation == Operation::Refresh
            && not_fresh.contains(u.url.as_str())
            && seen.insert(u.url.as_str())
        {
            refresh
                .entry(u.object_type)
                .or_default()
                .push(u.url.clone());
        }
    }
    for u in &report.urls {
        if u.operation == Operation::Prefetch
            && seen.contains(u.url.as_str())
            && !gone.contains(u.url.as_str())
            && !prefetch.contains(&u.url)
        {
            prefetch.push(u.url.clone());
        }
    }
    Plan {
        refresh,
        prefetch_after_refresh: !prefetch.is_empty(),
        prefetch,
        collapses: Vec::new(),
        fallback_to_files: false,
    }
}

/// Adds a heal's tasks, calls and quota to the run's report.
fn merge(report: &mut Report, heal: &Report) {
    report.tasks.extend(heal.tasks.iter().cloned());
    let (c, h) = (&mut report.calls, &heal.calls);
    c.submit += h.submit;
    c.status += h.status;
    c.quota += h.quota;
    c.retries += h.retries;
    c.lookup += h.lookup;
    if heal.quota_after.is_some() {
        report.quota_after = heal.quota_after.clone();
    }
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
            not_completed(&[UrlStatus::Complete, UrlStatus::Failed]),
            None
        );
        assert_eq!(
            not_completed(&[UrlStatus::Failed, UrlStatus::Rejected]),
            None
        );
        assert_eq!(
            not_completed(&[UrlStatus::Rejected]).as_deref(),
            Some("its task did not complete (rejected)")
        );
        assert_eq!(
            not_completed(&[UrlStatus::Complete, UrlStatus::Pending]).as_deref(),
            Some("its task did not complete (pending)")
        );
    }
}
