//! One plan, sent to every target of a run at once.
//!
//! [`send_all`] gives each target the URLs of its sites (all of them, for a target without
//! `sites`) and runs them concurrently, each with its own provider client, limits, quota
//! check and rate limiter (its own [`run::execute_observed`] call, which always ends with a
//! report); one target's failure never stops the others, and every target ends in the
//! report.

use std::borrow::Cow;

use futures::future::join_all;
use tracing::Instrument;

use crate::input::settings::Target;
use crate::plan::Plan;
use crate::providers::Provider;
use crate::report::{Collapse, Report, RunStatus};
use crate::send::run::{self, PhaseObserver};

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
    let collapses = plan
        .collapses
        .iter()
        .filter(|c| target.serves(&c.directory))
        .cloned()
        .collect();
    Cow::Owned(Plan {
        refresh,
        prefetch: keep(&plan.prefetch),
        prefetch_after_refresh: plan.prefetch_after_refresh,
        collapses,
        fallback_to_files: plan.fallback_to_files,
    })
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
    plan: &mut Plan,
    collapses: &mut [Collapse],
    phases: &dyn PhaseObserver,
) -> Vec<Report> {
    // A lone target that takes the whole plan runs on the plan itself, given back after: a
    // plan of a million URLs is not copied.
    let whole = targets.len() == 1 && matches!(plan_for(plan, targets[0].target), Cow::Borrowed(_));
    let owns: Vec<Plan> = if whole {
        vec![std::mem::take(plan)]
    } else {
        targets
            .iter()
            .map(|ready| plan_for(plan, ready.target).into_owned())
            .collect()
    };
    let runs = targets.iter().zip(owns).map(|(ready, mut own)| {
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
                run::execute_observed(ready.provider.as_ref(), &mut own, &ready.target.run, phases)
                    .await
            };
            report.target = ready.target.name.clone();
            (report, own)
        }
        .instrument(span)
    });
    let done = join_all(runs).await;
    let mut reports = Vec::with_capacity(done.len());
    for (report, own) in done {
        for undone in own.collapses.iter().filter(|c| c.not_applied.is_some()) {
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
        if whole {
            *plan = own;
        }
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::config::CredentialVars;
    use crate::plan::TaskMode;
    use crate::providers::{ObjectType, ProviderKind};
    use crate::send::run::RunOptions;

    fn target(sites: &[&str]) -> Target {
        Target {
            name: Some("t".into()),
            connection: crate::input::settings::connection(&Default::default()).unwrap(),
            run: RunOptions::default(),
            sites: sites.iter().map(|s| s.to_string()).collect(),
            credentials: CredentialVars::default(),
            marker: None,
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
