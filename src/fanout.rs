//! One plan, sent to one provider or to several targets at once.
//!
//! [`send`] runs the plan on one provider and always ends with a report: a refusal before
//! anything was sent (quota, credentials) becomes a report whose URLs are all `rejected`
//! with the reason, so no URL is ever missing. [`send_all`] gives each target of a run the
//! URLs of its sites and runs them concurrently, each with its own provider client, limits,
//! quota check and rate limiter (its own `run::execute` call); one target's failure never
//! stops the others, and every target ends in the report.

use std::borrow::Cow;

use futures::future::join_all;
use tracing::Instrument;

use crate::http::bounds::Bounds;
use crate::http::retry::with_retry;
use crate::output::text;
use crate::plan::Plan;
use crate::providers::{ObjectType, Provider, QuotaKind};
use crate::report::{Collapse, Report, RunStatus, Stop, UrlStatus};
use crate::run::{self, PhaseObserver, RunError, RunOptions};
use crate::settings::Target;

/// Directory collapses go out only if the day's directory quota covers every directory of
/// the plan; otherwise they are undone and the files are refreshed instead. If the quota
/// cannot be read here, the plan is left as it is: the run's own quota check decides.
pub async fn keep_collapses_within_quota(
    provider: &dyn Provider,
    plan: &mut Plan,
    collapses: &mut [Collapse],
    opts: &RunOptions,
) {
    if collapses.iter().all(|c| c.not_applied.is_some()) || provider.quota_in_answers() {
        return;
    }
    let needed = plan
        .quota_needs()
        .get(&QuotaKind::RefreshDirectory)
        .copied()
        .unwrap_or(0);
    let bounds = Bounds::new(opts.timeout, opts.interrupt.clone());
    let quota = match with_retry(
        &opts.retry,
        &bounds,
        || provider.quota(),
        |e, _, _| tracing::warn!("quota: {e}; retrying"),
    )
    .await
    {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!("cannot read the quota to check directory collapses: {e}");
            return;
        }
    };
    if let Some(entry) = quota
        .get(QuotaKind::RefreshDirectory)
        .filter(|e| e.remaining < needed)
    {
        let reason = format!(
            "the day's directory refresh quota has {} left, the plan needs {needed}: the files are refreshed instead",
            entry.remaining
        );
        tracing::warn!("{reason}");
        plan.uncollapse(collapses, &reason);
    }
}

/// Runs `plan` on `provider` to the end. `collapses` are the plan's directory collapses:
/// undone when the quota cannot cover them, and marked when the provider refused the
/// directory refresh. The report is never missing a URL of the plan.
pub async fn send(
    provider: &dyn Provider,
    mut plan: Plan,
    collapses: &mut [Collapse],
    opts: &RunOptions,
    phases: &dyn PhaseObserver,
) -> Report {
    keep_collapses_within_quota(provider, &mut plan, collapses, opts).await;
    match run::execute_observed(provider, &plan, opts, phases).await {
        Ok(report) => {
            for c in collapses.iter_mut() {
                if report.directories_refused.contains(&c.directory) {
                    c.not_applied = Some(
                        "the provider refused the directory refresh: the changed files were refreshed instead"
                            .into(),
                    );
                }
            }
            report
        }
        Err(err) => {
            let (quota, stop) = match &err {
                RunError::QuotaShortfall { quota, shortfalls } => (
                    Some(quota.clone()),
                    Stop {
                        code: "QuotaShortfall".into(),
                        message: text::shortfalls(shortfalls),
                        hint: None,
                    },
                ),
                RunError::QuotaCheck(e) => (
                    None,
                    Stop {
                        code: e.code.clone(),
                        message: e.message.clone(),
                        hint: e.hint.clone(),
                    },
                ),
            };
            let reason = err.to_string();
            let urls = run::listed(&plan, UrlStatus::Rejected, Some(&reason));
            Report::without_tasks(provider.kind(), RunStatus::Failed, urls, quota, Some(stop))
        }
    }
}

/// The part of `plan` that `target` serves: the URLs of its sites, and the fallbacks of
/// the directories among them.
pub fn plan_for<'a>(plan: &'a Plan, target: &Target) -> Cow<'a, Plan> {
    if target.sites.is_empty() {
        // Every URL: the plan as it is.
        return Cow::Borrowed(plan);
    }
    let keep = |urls: &Vec<String>| -> Vec<String> {
        urls.iter().filter(|u| target.serves(u)).cloned().collect()
    };
    let refresh = plan
        .refresh
        .iter()
        .map(|(t, urls)| (*t, keep(urls)))
        .filter(|(_, urls)| !urls.is_empty())
        .collect();
    let directory_fallback = plan
        .directory_fallback
        .iter()
        .filter(|(dir, _)| target.serves(dir))
        .map(|(dir, files)| (dir.clone(), files.clone()))
        .collect();
    Cow::Owned(Plan {
        refresh,
        prefetch: keep(&plan.prefetch),
        prefetch_after_refresh: plan.prefetch_after_refresh,
        directory_fallback,
    })
}

/// The collapses whose directory is in `plan`.
fn collapses_in(collapses: &[Collapse], plan: &Plan) -> Vec<Collapse> {
    let dirs = plan.refresh.get(&ObjectType::Directory);
    collapses
        .iter()
        .filter(|c| dirs.is_some_and(|d| d.contains(&c.directory)))
        .cloned()
        .collect()
}

/// One target, ready to go: its settings and its provider client.
pub struct Ready<'a> {
    pub target: &'a Target,
    pub provider: Box<dyn Provider>,
}

/// Sends `plan` to every target at once. Returns each target's report (named as the
/// target is, in the order given) and writes what the targets did to the shared
/// `collapses`: a collapse undone by one target is marked with its reason, and with that
/// target's name when it has one. `phases` hears of each phase's start and end (only a
/// run of one target passes one: folded sections do not nest in a CI log).
pub async fn send_all(
    targets: Vec<Ready<'_>>,
    plan: &Plan,
    collapses: &mut [Collapse],
    phases: &dyn PhaseObserver,
) -> Vec<Report> {
    let runs = targets.iter().map(|ready| {
        let own = plan_for(plan, ready.target).into_owned();
        let mut own_collapses = collapses_in(collapses, &own);
        let span = match &ready.target.name {
            Some(name) => tracing::info_span!("target", name = %name),
            None => tracing::Span::none(),
        };
        async move {
            let mut report = if own.is_empty() {
                tracing::info!("no URL of the plan is on this target's sites");
                Report::without_tasks(
                    ready.provider.kind(),
                    RunStatus::Skipped,
                    Vec::new(),
                    None,
                    None,
                )
            } else {
                send(
                    ready.provider.as_ref(),
                    own,
                    &mut own_collapses,
                    &ready.target.run,
                    phases,
                )
                .await
            };
            report.target = ready.target.name.clone();
            (report, own_collapses)
        }
        .instrument(span)
    });
    let done = join_all(runs).await;
    let mut reports = Vec::with_capacity(done.len());
    for (report, own_collapses) in done {
        for undone in own_collapses.iter().filter(|c| c.not_applied.is_some()) {
            if let Some(shared) = collapses
                .iter_mut()
                .find(|c| c.directory == undone.directory && c.not_applied.is_none())
            {
                let reason = undone.not_applied.clone().unwrap_or_default();
                shared.not_applied = Some(match &report.target {
                    Some(name) => format!("target {name}: {reason}"),
                    None => reason,
                });
            }
        }
        reports.push(report);
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CredentialVars;
    use crate::plan::TaskMode;
    use crate::providers::ProviderKind;

    fn target(sites: &[&str]) -> Target {
        Target {
            name: Some("t".into()),
            connection: crate::settings::connection(&Default::default()).unwrap(),
            run: RunOptions::default(),
            sites: sites.iter().map(|s| s.to_string()).collect(),
            credentials: CredentialVars::default(),
        }
    }

    #[test]
    fn a_target_gets_the_urls_of_its_sites_only() {
        let urls: Vec<String> = [
            "https://www.example.cn/a",
            "https://www.example.com/a",
            "https://img.example.com/b",
            "https://example.com/c",
        ]
        .map(String::from)
        .to_vec();
        let plan = Plan::from_urls(urls.clone(), TaskMode::Both, ObjectType::File);
        let cn = plan_for(&plan, &target(&["www.example.cn"]));
        assert_eq!(cn.prefetch, ["https://www.example.cn/a"]);
        assert_eq!(cn.refresh[&ObjectType::File], ["https://www.example.cn/a"]);
        assert!(cn.prefetch_after_refresh);
        let subdomains = plan_for(&plan, &target(&["*.example.com"]));
        assert_eq!(
            subdomains.prefetch,
            ["https://www.example.com/a", "https://img.example.com/b"],
            "a wildcard covers subdomains, not the domain itself"
        );
        assert_eq!(plan_for(&plan, &target(&[])).prefetch, urls);
        assert!(plan_for(&plan, &target(&["other.org"])).is_empty());
        assert_eq!(
            target(&[]).connection.provider,
            ProviderKind::default_kind()
        );
    }
}
