//! `run`: the plan sent to every target, waited for, and reported.

use std::path::Path;
use std::sync::Arc;

use crate::input::cli::Env;
use crate::input::settings::{InputError, Settings};
use crate::output::ci::Ci;
use crate::output::{console, text};
use crate::plan::Plan;
use crate::providers::ProviderKind;
use crate::report::{GitReport, MultiReport, Report, RunStatus, UrlStatus};
use crate::send::resume::Prior;
use crate::send::run::{self, PhaseObserver, RunOptions};
use crate::send::targets;

use super::connect;
use super::exit::{self, Error, SUCCESS};

/// What a run produced: one provider's report (the unnamed target of a run of flags), or
/// a report with a part per named target.
pub enum Outcome {
    One(Box<Report>),
    Several(Box<MultiReport>),
}

/// `eprintln!` through the console, which neutralises it in a GitHub job.
macro_rules! errln {
    ($($arg:tt)*) => {
        console::eprint(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Reads the report of the run being resumed (`--resume`) into each target's options.
pub fn resume_from(path: &Path, settings: &mut Settings) -> Result<(), InputError> {
    let bad = |why: String| {
        InputError::new(
            "--resume",
            format!("{}: {why}", path.display()),
            "give the report (--report) of an earlier run of this same command: same provider, targets and URLs",
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let named = settings.named();
    let reports: Vec<Report> = if named {
        let report: MultiReport = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a report of a run with targets ({e})")))?;
        report.targets
    } else {
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a report of a run on one provider ({e})")))?;
        vec![report]
    };
    let plan = &settings.plan;
    for target in &mut settings.targets {
        let own = match &target.name {
            None => &reports[0],
            Some(name) => reports
                .iter()
                .find(|r| r.target.as_deref() == Some(name.as_str()))
                .ok_or_else(|| bad(format!("it has no target `{name}`")))?,
        };
        let prior = Prior::of(
            own,
            &targets::plan_for(plan, target),
            target.connection.provider,
            target.name.as_deref(),
        )
        .map_err(|e| match &target.name {
            Some(name) => bad(format!("target {name}: {e}")),
            None => bad(e),
        })?;
        target.run.resume = Some(Arc::new(prior));
    }
    Ok(())
}

/// Folds the log per phase in CI (GitHub groups, GitLab sections).
struct Folding<'a>(&'a Ci);

impl PhaseObserver for Folding<'_> {
    fn started(&self, what: &str, urls: usize) {
        console::print(self.0.begin(
            &format!("cdn_refresh_{}", what.replace(' ', "_")),
            &format!("cdn-refresh: {what} {}", text::urls(urls)),
        ));
    }
    fn finished(&self, what: &str) {
        console::print(
            self.0
                .end(&format!("cdn_refresh_{}", what.replace(' ', "_"))),
        );
    }
}

/// The run proper: a report of what happened to every URL, and the exit code it earns.
/// `Err` is an end before any report exists (a provider client could not be made).
pub async fn run(settings: &mut Settings, env: &Env, ci: &Ci) -> Result<(Outcome, u8), Error> {
    let started = tokio::time::Instant::now();
    if settings.duplicates > 0 {
        tracing::info!("{} duplicate URL lines dropped", settings.duplicates);
    }
    let mut git = settings.git.as_ref().map(|g| g.report.clone());
    if let Some(g) = &git {
        console::print(ci.begin("cdn_refresh_plan", "cdn-refresh: git changes"));
        console::print(ci.verbatim(&super::plan::git_summary(g)));
        console::print(ci.end("cdn_refresh_plan"));
        if g.unmapped > 0 {
            tracing::warn!(
                "{} changed {} to no URL and {} not refreshed (listed above): add a rule for them, or exclude them with `!GLOB` to say they need none",
                g.unmapped,
                if g.unmapped == 1 {
                    "path maps"
                } else {
                    "paths map"
                },
                if g.unmapped == 1 { "is" } else { "are" }
            );
        }
    }
    let named = settings.named();
    if settings.skip || settings.plan.is_empty() {
        // Nothing to send: a skipped missing base, no mapped change, or URL lists that hold
        // no URL (a deploy that changed nothing).
        let status = if settings.skip {
            RunStatus::Skipped
        } else {
            RunStatus::Success
        };
        match empty_lists(settings) {
            Some(lists) => console::print(format!("nothing to send: {lists} (success)\n")),
            None => console::print(format!("nothing to send ({})\n", status.as_str())),
        }
        let reports = each_target(settings, |kind, _, _, _| {
            Report::without_tasks(kind, status, Vec::new(), None, None)
        });
        if let Some(g) = git.as_mut() {
            super::marker::advance(settings, (!settings.dry_run).then_some(&reports[..]), g, ci);
        }
        return Ok((outcome(reports, git, named), SUCCESS));
    }
    if settings.dry_run {
        let reports = each_target(settings, |kind, plan, run, name| {
            if let Some(name) = name {
                console::print(format!("target {name} ({kind}):\n"));
            }
            console::print(ci.verbatim(&text::plan(plan, kind.limits(), run.batch_size)));
            let urls = run::listed(plan, UrlStatus::Planned, None);
            Report::without_tasks(kind, RunStatus::DryRun, urls, None, None)
        });
        if let Some(g) = git.as_mut() {
            super::marker::advance(settings, None, g, ci);
        }
        return Ok((outcome(reports, git, named), SUCCESS));
    }
    // Every target's client first: a missing credential stops the run before anything is sent.
    let only = settings.targets.len() == 1;
    let mut ready = Vec::new();
    for target in &settings.targets {
        let provider = connect::client(target, env, only, named)?;
        ready.push(targets::Ready { target, provider });
    }
    let names: Vec<&str> = settings
        .targets
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    if named {
        console::print(ci.begin(
            "cdn_refresh_targets",
            &format!(
                "cdn-refresh: {} targets ({})",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let mut no_collapses = Vec::new();
    let collapses = git.as_mut().map_or(&mut no_collapses, |g| &mut g.collapses);
    let folding = Folding(ci);
    let phases: &dyn PhaseObserver = if named { &() } else { &folding };
    let mut reports = targets::send_all(ready, &mut settings.plan, collapses, phases).await;
    if git.is_none() {
        // URL-list mode: the collapses of --max-paths, as each target ended them.
        for report in &mut reports {
            report.collapses = settings.plan.collapses.clone();
        }
    }
    if named {
        console::print(ci.end("cdn_refresh_targets"));
    }
    if settings.verify.on() {
        console::print(ci.begin("cdn_refresh_verify", "cdn-refresh: verify the edge"));
        super::verify::verify_reports(settings, env, &mut reports, started).await;
        for report in &reports {
            if let Some(lines) = text::verify(report) {
                console::print(ci.verbatim(&lines));
            }
        }
        console::print(ci.end("cdn_refresh_verify"));
    }
    if let Some(g) = git.as_mut() {
        super::marker::advance(settings, Some(&reports), g, ci);
    }
    let mut code = SUCCESS;
    for report in &reports {
        refused_before_sending(report);
        refused_hosts(report);
        match &report.target {
            Some(name) => console::print(
                ci.verbatim(&format!("target {name}: {}", text::summary(report, None))),
            ),
            None => {
                console::print(ci.verbatim(&text::summary(report, settings.report_path.as_deref())))
            }
        }
        code = code.max(exit::of_report(report, settings.fail_on));
    }
    if named && let Some(path) = &settings.report_path {
        // After the targets' summaries, which do not name it.
        let outcome = outcome(reports, git, named);
        console::print(format!("report: {}\n", path.display()));
        return Ok((outcome, code));
    }
    Ok((outcome(reports, git, named), code))
}

/// The URL lists that held no URL, as a phrase (`e.txt holds no URL`), when that is why
/// there is nothing to send.
pub fn empty_lists(settings: &Settings) -> Option<String> {
    match settings.empty_lists.as_slice() {
        [] => None,
        [one] => Some(format!("{one} holds no URL")),
        many => Some(format!("{} hold no URL", many.join(" and "))),
    }
}

/// The report of a dry run (`--dry-run`, and `plan --report`): every URL `planned`, per
/// target.
pub fn dry_run_report(settings: &Settings) -> Outcome {
    // As a run would end: nothing to send is `skipped` or `success`, as `--dry-run` says.
    let status = if settings.skip {
        RunStatus::Skipped
    } else if settings.plan.is_empty() {
        RunStatus::Success
    } else {
        RunStatus::DryRun
    };
    let reports = each_target(settings, |kind, plan, _, _| {
        let urls = run::listed(plan, UrlStatus::Planned, None);
        Report::without_tasks(kind, status, urls, None, None)
    });
    let git = settings.git.as_ref().map(|g| g.report.clone());
    outcome(reports, git, settings.named())
}

/// Says on stderr why a provider refused a run before anything was sent (quota, credentials).
fn refused_before_sending(report: &Report) {
    let Some(stop) = report.stopped.as_ref().filter(|_| report.tasks.is_empty()) else {
        return;
    };
    let who = report
        .target
        .as_deref()
        .map(|t| format!("target {t}: "))
        .unwrap_or_default();
    // Worded from where the run stopped: the quota check, the connection, or a submit.
    if stop.code == "QuotaShortfall" {
        errln!("error: {who}{}", stop.message);
    } else if exit::unreachable(stop) {
        errln!("error: {who}nothing was sent: {}", stop.message);
    } else if report.calls.submit > 0 {
        errln!(
            "error: {who}the provider refused the request, so nothing was sent: {}: {}",
            stop.code,
            stop.message
        );
    } else {
        errln!(
            "error: {who}the quota check failed, so nothing was sent: {}: {}",
            stop.code,
            stop.message
        );
    }
    if let Some(hint) = &stop.hint {
        errln!("  fix: {hint}");
    }
}

/// Says on stderr which hosts the provider refused as not the account's: their URLs were
/// not sent, the other hosts' were.
fn refused_hosts(report: &Report) {
    let who = report
        .target
        .as_deref()
        .map(|t| format!("target {t}: "))
        .unwrap_or_default();
    for refused in &report.hosts_refused {
        let urls: std::collections::HashSet<&str> = report
            .urls
            .iter()
            .map(|u| u.url.as_str())
            .filter(|u| crate::input::url_list::host(u) == refused.host)
            .collect();
        errln!(
            "error: {who}the provider refused {}: {}: {} ({} not sent; the other hosts' URLs were)",
            refused.host,
            refused.code,
            refused.message,
            text::urls(urls.len())
        );
        if let Some(hint) = &refused.hint {
            errln!("  fix: {hint}");
        }
    }
}

/// One report per target, each made from its share of the plan and named as it is.
fn each_target(
    settings: &Settings,
    mut make: impl FnMut(ProviderKind, &Plan, &RunOptions, Option<&str>) -> Report,
) -> Vec<Report> {
    settings
        .targets
        .iter()
        .map(|t| {
            let plan = targets::plan_for(&settings.plan, t);
            let mut report = make(t.connection.provider, &plan, &t.run, t.name.as_deref());
            report.target = t.name.clone();
            report
        })
        .collect()
}

/// The report in the shape of the run: one provider's, or a part per named target.
fn outcome(mut reports: Vec<Report>, git: Option<GitReport>, named: bool) -> Outcome {
    if named {
        Outcome::Several(Box::new(MultiReport::of(reports, git)))
    } else {
        let mut report = reports.remove(0);
        report.git = git;
        Outcome::One(Box::new(report))
    }
}
