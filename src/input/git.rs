//! Git mode's part of the settings: the rules (`--mapping` or the config file's), then the
//! diff, mapped and collapsed into a plan, with what was found for the report. A missing
//! base follows `--on-missing-base`.

use std::path::PathBuf;

use crate::input::InputError;
use crate::input::cli::{Env, RunArgs};
use crate::input::config::{self, Config};
use crate::input::options::Options;
use crate::plan::changes::{self, Change, MissingBase, Resolved};
use crate::plan::rules::RuleSet;
use crate::plan::{Plan, TaskMode, TooLong};
use crate::providers::ObjectType;
use crate::report::{GitReport, MissingBaseReport};

/// What git mode found, for the report and the `plan` output.
#[derive(Debug, Clone)]
pub struct GitInfo {
    pub report: GitReport,
    /// Every change of the diff (empty when the base was missing).
    pub changes: Vec<Change>,
    /// The repository checkout, whose head commit holds the deployed files (verification).
    pub repo: PathBuf,
    /// The rules the changes were mapped with.
    pub rules: RuleSet,
}

fn kebab(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn too_long(e: TooLong) -> InputError {
    InputError::new(
        "--mapping",
        format!(
            "path `{}` maps to a URL of {} characters, more than the provider's {}: {}",
            e.path,
            e.url.len(),
            e.max,
            e.url
        ),
        "shorten the URL template, or exclude the path with a `!GLOB` rule",
    )
}

/// The rules of git mode: `--mapping`, else the config file's; `None` when git mode is off.
pub(crate) fn git_rules(
    args: &RunArgs,
    config: Option<&Config>,
) -> Result<Option<RuleSet>, InputError> {
    let from_file = config.is_some_and(|c| !c.mapping.is_empty() || !c.whole_site.is_empty());
    if args.base.is_none() && args.mapping.is_none() && !from_file {
        return Ok(None);
    }
    let default = Config::default();
    let config = config.unwrap_or(&default);
    let rules = config.rules(args.mapping.as_deref()).map_err(|errors| {
        let source = if args.mapping.is_some() {
            "--mapping".to_string()
        } else {
            args.config
                .as_ref()
                .map_or(config::DEFAULT_FILE.to_string(), |p| {
                    p.display().to_string()
                })
        };
        let mut text = format!(
            "{source}: {} invalid mapping rule{}; nothing was sent",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        for e in &errors {
            text.push_str(&format!(
                "\n  line {}: {}\n    {}",
                e.line, e.text, e.reason
            ));
        }
        text.push_str("\n  fix: correct or remove these rules (see docs/mapping.md)");
        InputError::Message(text)
    })?;
    if rules.is_empty() {
        return Err(InputError::new(
            "--base",
            "git mode needs mapping rules, and none were given",
            "give rules with --mapping (`public/** => https://www.example.com/{path}`) or in .cdn-refresh.yml (see docs/mapping.md)",
        ));
    }
    Ok(Some(rules))
}

/// Git mode: diff, map, collapse. Returns the plan of the changes and what was found.
pub(crate) fn git_plan(
    args: &RunArgs,
    opts: &Options,
    env: &Env,
    rules: &RuleSet,
    task: TaskMode,
    limits: &crate::providers::Limits,
    markers: &[crate::marker::Marker],
) -> Result<(Plan, GitInfo, bool), InputError> {
    let policy = opts.on_missing_base.unwrap_or_default();
    let threshold = opts.collapse_threshold;
    let repo = args.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let lookup = |name: &str| env.get(name).map(str::to_string);
    let failed = |e: changes::ChangesError| InputError::Message(e.to_string());
    // With markers, the base is theirs (`--base auto`), and the report says what each named.
    let (resolved, marker_reports, base_reason) = if markers.is_empty() {
        let resolved = changes::changes(&repo, args.base.as_deref(), args.head.as_deref(), &lookup);
        (resolved.map_err(failed)?, Vec::new(), None)
    } else {
        let base = args.base.as_deref();
        let (resolved, reports, why) =
            crate::marker::resolve(&repo, markers, base, args.head.as_deref(), &lookup)
                .map_err(failed)?;
        (resolved, reports, Some(why))
    };
    match resolved {
        Resolved::Diff(diff) => {
            let git = Plan::from_changes(&diff.changes, rules, task, limits, threshold)
                .map_err(too_long)?;
            let report = GitReport {
                base: Some(diff.base.clone()),
                head: diff.head.clone(),
                base_source: kebab(diff.base_source),
                changes: diff.changes.len(),
                skipped_submodules: diff.skipped_submodules.clone(),
                unmapped: git.unmapped,
                excluded: git.excluded,
                unmapped_paths: git.unmapped_paths.clone(),
                excluded_paths: git.excluded_paths.clone(),
                // A copy for `plan` and the report; the plan is the collapses' home.
                collapses: git.plan.collapses.clone(),
                missing_base: None,
                base_reason,
                markers: marker_reports,
            };
            let info = GitInfo {
                report,
                changes: diff.changes,
                repo: repo.clone(),
                rules: rules.clone(),
            };
            Ok((git.plan, info, false))
        }
        Resolved::MissingBase(missing) => {
            let mut report = GitReport {
                base: None,
                head: missing.head.clone(),
                base_source: kebab(missing.source),
                missing_base: Some(MissingBaseReport {
                    policy: kebab(policy),
                    // The policy was applied: the fix that names the policies is not advice
                    // any more (it told an `all` run to set `all`).
                    reason: match policy {
                        MissingBase::Fail => missing.reason.clone(),
                        _ => match missing.reason.find(" or set --on-missing-base") {
                            Some(at) => missing.reason[..at]
                                .trim_end_matches([';', ',', ' '])
                                .to_string(),
                            None => missing.reason.clone(),
                        },
                    },
                }),
                // `missing_base.reason` says why there is none.
                base_reason: None,
                markers: marker_reports,
                ..GitReport::default()
            };
            let mut plan = Plan::default();
            match policy {
                MissingBase::Fail => {
                    // The reason ends with the fix, which names the other policies.
                    return Err(InputError::Message(missing.reason.clone()));
                }
                MissingBase::Skip => {}
                MissingBase::All if task == TaskMode::Prefetch => {}
                MissingBase::All => {
                    if limits.refresh_object_types.contains(&ObjectType::Directory) {
                        let roots = rules.roots();
                        for root in &roots {
                            if root.len() > limits.max_url_len {
                                return Err(too_long(TooLong {
                                    path: "(rule root)".into(),
                                    url: root.clone(),
                                    max: limits.max_url_len,
                                }));
                            }
                        }
                        if !roots.is_empty() {
                            plan.refresh.insert(ObjectType::Directory, roots);
                        }
                    } else {
                        // No directory refresh: every mapped file at head.
                        let files = changes::files_at(&repo, &missing.head)
                            .map_err(|e| InputError::Message(e.to_string()))?;
                        let all: Vec<Change> = files
                            .into_iter()
                            .map(|path| Change {
                                kind: changes::ChangeKind::Deleted,
                                path,
                                old_path: None,
                            })
                            .collect();
                        let git = Plan::from_changes(&all, rules, TaskMode::Refresh, limits, None)
                            .map_err(too_long)?;
                        report.unmapped = git.unmapped;
                        report.excluded = git.excluded;
                        report.unmapped_paths = git.unmapped_paths;
                        report.excluded_paths = git.excluded_paths;
                        plan = git.plan;
                    }
                }
            }
            let skip = policy == MissingBase::Skip;
            Ok((
                plan,
                GitInfo {
                    report,
                    changes: Vec::new(),
                    repo,
                    rules: rules.clone(),
                },
                skip,
            ))
        }
    }
}
