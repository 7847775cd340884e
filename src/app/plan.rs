//! `plan`: what a run would send, per target, without a call to the CDN (git mode may fetch
//! a base missing from a shallow clone, as a run does).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::input::cli::Format;
use crate::input::settings::{Settings, Target};
use crate::output::text;
use crate::plan::changes::Change;
use crate::plan::{Plan, TaskMode};
use crate::providers::{Limits, ObjectType, Operation, ProviderKind, QuotaKind};
use crate::report::GitReport;
use crate::send::targets;

/// What `plan` prints: text, or one of the JSON shapes (one provider's, or a part per
/// target), borrowing the settings' plan.
pub enum Rendered<'a> {
    Text(String),
    Json(PlanJson<'a>),
    Targets(TargetsJson<'a>),
}

/// `plan --format json` of a run on one provider.
#[derive(Serialize)]
pub struct PlanJson<'a> {
    status: &'static str,
    git: Option<GitJson<'a>>,
    provider: ProviderKind,
    task: TaskMode,
    plan: &'a Plan,
    limits: &'a Limits,
    batches: Vec<BatchJson<'a>>,
    quota_needs: BTreeMap<QuotaKind, u64>,
}

/// `plan --format json` of a run with targets: each target's share of the plan, in its
/// batches (made while it is written).
pub struct TargetsJson<'a> {
    status: &'static str,
    git: Option<GitJson<'a>>,
    task: TaskMode,
    parts: Vec<(&'a Target, Cow<'a, Plan>)>,
}

impl Serialize for TargetsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct TargetJson<'b> {
            name: &'b str,
            provider: ProviderKind,
            plan: &'b Plan,
            limits: &'b Limits,
            batches: Vec<BatchJson<'b>>,
            quota_needs: BTreeMap<QuotaKind, u64>,
        }
        #[derive(Serialize)]
        struct Whole<'b> {
            status: &'static str,
            git: &'b Option<GitJson<'b>>,
            task: TaskMode,
            targets: Vec<TargetJson<'b>>,
        }
        let targets = self
            .parts
            .iter()
            .map(|(t, plan)| {
                let limits = t.connection.provider.limits();
                TargetJson {
                    name: t.name.as_deref().unwrap_or_default(),
                    provider: t.connection.provider,
                    plan,
                    limits,
                    batches: batches(plan, limits, t.run.batch_size),
                    quota_needs: plan.quota_needs(),
                }
            })
            .collect();
        Whole {
            status: self.status,
            git: &self.git,
            task: self.task,
            targets,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct GitJson<'a> {
    #[serde(flatten)]
    report: &'a GitReport,
    changed: &'a [Change],
}

/// A batch, its URLs borrowed from the plan: copying them only to print them cost as much
/// as cutting the batches.
#[derive(Serialize)]
struct BatchJson<'a> {
    operation: Operation,
    object_type: ObjectType,
    urls: Vec<&'a str>,
}

impl GitJson<'_> {
    fn of(settings: &Settings) -> Option<GitJson<'_>> {
        settings.git.as_ref().map(|g| GitJson {
            report: &g.report,
            changed: &g.changes,
        })
    }
}

/// The batches a run would send, refresh then prefetch (none where the provider cannot
/// prefetch: the limits, shown beside them, say why).
fn batches<'a>(plan: &'a Plan, limits: &Limits, batch_size: Option<usize>) -> Vec<BatchJson<'a>> {
    let mut batches = plan.refresh_batch_refs(limits, batch_size);
    if limits.prefetch_unsupported.is_none() {
        batches.extend(Plan::prefetch_batch_refs(
            &plan.prefetch,
            limits,
            batch_size,
        ));
    }
    batches
        .into_iter()
        .map(|b| BatchJson {
            operation: b.kind.operation,
            object_type: b.kind.object_type,
            urls: b.urls,
        })
        .collect()
}

/// One paragraph on git mode: the range, how the base was chosen, what the changes became.
pub fn git_summary(g: &GitReport) -> String {
    let mut out = match &g.base {
        Some(base) => format!(
            "git: {base}..{} (base from {}): {} changed, {} unmapped, {} excluded\n",
            g.head,
            // With a marker: which one, at which commit.
            g.base_reason.as_deref().unwrap_or(&g.base_source),
            g.changes,
            g.unmapped,
            g.excluded
        ),
        None => format!("git: no base for head {} ({})\n", g.head, g.base_source),
    };
    for (what, count, paths) in [
        ("unmapped (no rule matches)", g.unmapped, &g.unmapped_paths),
        ("excluded", g.excluded, &g.excluded_paths),
    ] {
        if paths.is_empty() {
            continue;
        }
        let shown: Vec<String> = paths
            .iter()
            .take(10)
            .map(|p| crate::echo::cap(p, crate::echo::VALUE).into_owned())
            .collect();
        let more = count.saturating_sub(shown.len());
        out.push_str(&format!(
            "  {what}: {}{}\n",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more (the report's `git` lists up to 100)")
            } else {
                String::new()
            }
        ));
    }
    if let Some(m) = &g.missing_base {
        out.push_str(&format!("  on-missing-base {}: {}\n", m.policy, m.reason));
    }
    if !g.skipped_submodules.is_empty() {
        out.push_str(&format!(
            "  submodules skipped: {}\n",
            g.skipped_submodules.join(", ")
        ));
    }
    for c in &g.collapses {
        out.push_str(&format!(
            "  collapsed {} changed files into {}\n",
            c.files.len(),
            c.directory
        ));
    }
    out
}

/// The plan of `settings` in `format`.
pub fn render(settings: &Settings, format: Format) -> Rendered<'_> {
    let status = if settings.skip { "skipped" } else { "dry-run" };
    let parts: Vec<(&Target, Cow<'_, Plan>)> = settings
        .targets
        .iter()
        .map(|t| (t, targets::plan_for(&settings.plan, t)))
        .collect();
    match format {
        Format::Text => {
            let mut out = String::new();
            if let Some(g) = &settings.git {
                out.push_str(&git_summary(&g.report));
            }
            for (t, plan) in &parts {
                let kind = t.connection.provider;
                if let Some(name) = &t.name {
                    out.push_str(&format!("target {name} ({kind}):\n"));
                }
                if plan.is_empty() {
                    // A run of the flags says why there is nothing; a target's share
                    // may be empty only because its sites have no URL of the plan.
                    let why = match (&t.name, settings.skip) {
                        (Some(_), _) => String::new(),
                        (None, true) => " (skipped)".into(),
                        (None, false) => match super::run::empty_lists(settings) {
                            Some(lists) => format!(" ({lists})"),
                            None => " (no mapped change)".into(),
                        },
                    };
                    out.push_str(&format!("plan: nothing to send{why}\n"));
                } else {
                    out.push_str(&text::plan(plan, kind.limits(), t.run.batch_size));
                }
            }
            Rendered::Text(out)
        }
        Format::Json if !settings.named() => {
            let t = &settings.targets[0];
            let limits = t.connection.provider.limits();
            Rendered::Json(PlanJson {
                status,
                git: GitJson::of(settings),
                provider: t.connection.provider,
                task: settings.task,
                plan: &settings.plan,
                limits,
                batches: batches(&settings.plan, limits, t.run.batch_size),
                quota_needs: settings.plan.quota_needs(),
            })
        }
        Format::Json => Rendered::Targets(TargetsJson {
            status,
            git: GitJson::of(settings),
            task: settings.task,
            parts,
        }),
    }
}
