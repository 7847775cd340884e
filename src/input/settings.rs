//! Typed options and the other inputs → validated [`Settings`]. Every error names the input
//! it came from and the fix, and is raised before anything is sent.
//!
//! Precedence: flags, then env (installed by `cli`), then the config file ([`with_config`]:
//! `--config`, else `.cdn-refresh.yml` in `--repo` or the current directory when present),
//! merged by [`Options::or`]; a target's own keys win over all three.
//! Git mode is on when `--base`, `--mapping` or the file's `mapping`/`whole_site` is given:
//! the diff is read here (`changes::changes`), mapped and collapsed by `plan`, and merged
//! with any URL list, so `plan` and a run see the same [`Plan`]. A missing base follows
//! `--on-missing-base`: `fail` is an input error (exit 2), `all` plans every rule root as a
//! directory, `skip` sets [`Settings::skip`] unless URL lists were given too.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::input::cli::{Env, RunArgs};
use crate::input::config::{self, Config, CredentialVars, TargetConfig};
pub use crate::input::error::InputError;
use crate::input::options::{self, Options};
pub use crate::input::options::{DirRefreshDenied, FailOn};
use crate::input::url_list;
use crate::plan::changes::{self, Change, MissingBase, Resolved};
use crate::plan::rules::RuleSet;
use crate::plan::{Plan, TaskMode, TooLong};
use crate::providers::registry::{Credentials, ProviderOptions};
use crate::providers::{ObjectType, ProviderKind};
use crate::report::{GitReport, MissingBaseReport};
use crate::send::run::RunOptions;

/// Which provider account to talk to, and how: all that `quota` and `status` need.
#[derive(Debug, Clone)]
pub struct Connection {
    pub provider: ProviderKind,
    pub endpoint: url::Url,
    /// The options only this provider takes, checked against its declaration.
    pub options: ProviderOptions,
}

/// Everything a run needs, validated.
#[derive(Debug)]
pub struct Settings {
    pub task: TaskMode,
    pub object_type: ObjectType,
    pub plan: Plan,
    /// Lines dropped as duplicates of earlier ones.
    pub duplicates: usize,
    pub dry_run: bool,
    pub report_path: Option<PathBuf>,
    pub fail_on: FailOn,
    /// Git mode: the range, the changes and what they became.
    pub git: Option<GitInfo>,
    /// `--on-missing-base skip` applied and no URL list was given: send nothing, exit 0.
    pub skip: bool,
    /// The CDNs the plan goes to, at least one: the config file's `targets:` (as
    /// `--target` selects them), or one unnamed target made of the flags.
    pub targets: Vec<Target>,
}

impl Settings {
    /// True when the targets come from the config file's `targets:`: the report and the
    /// outputs then have a part per target, named. A run of the flags alone has the one
    /// unnamed target and reports as one provider.
    pub fn named(&self) -> bool {
        self.targets.iter().any(|t| t.name.is_some())
    }
}

/// One CDN of a run: its connection, pacing, sites and credentials.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name of a target of `targets:`; `None` for the one target of a run of flags.
    pub name: Option<String>,
    pub connection: Connection,
    pub run: RunOptions,
    /// Host names it serves (`*.example.com` for subdomains); empty: every URL.
    pub sites: Vec<String>,
    pub credentials: CredentialVars,
}

impl Target {
    /// Whether this target serves `url`'s host.
    pub fn serves(&self, url: &str) -> bool {
        serves(&self.sites, url_list::host(url))
    }
}

/// Whether `host` is one of `sites` (exact, or below a `*.` entry). No sites: every host.
pub fn serves(sites: &[String], host: &str) -> bool {
    if sites.is_empty() {
        return true;
    }
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    sites.iter().any(|site| match site.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => *site == host,
    })
}

/// What git mode found, for the report and the `plan` output.
#[derive(Debug, Clone)]
pub struct GitInfo {
    pub report: GitReport,
    /// Every change of the diff (empty when the base was missing).
    pub changes: Vec<Change>,
}

/// The provider, endpoint and request options; checks what every command needs.
pub fn connection(opts: &Options) -> Result<Connection, InputError> {
    let provider = opts.provider.unwrap_or_else(ProviderKind::default_kind);
    let endpoint = match &opts.endpoint {
        Some(url) => url.clone(),
        None => options::endpoint(provider.default_endpoint())
            .expect("a provider's default endpoint is a URL"),
    };
    Ok(Connection {
        provider,
        endpoint,
        options: provider_options(opts, provider)?,
    })
}

/// The options only some providers take that `provider` takes; given for another provider
/// they are an error, not silently ignored.
fn provider_options(opts: &Options, provider: ProviderKind) -> Result<ProviderOptions, InputError> {
    let mut options = ProviderOptions::default();
    for (key, value) in &opts.provider_options {
        if provider.option(key).is_none() {
            let input = format!("--{}", key.replace('_', "-"));
            let takers = ProviderKind::takers(key);
            let title = takers
                .first()
                .map_or("another provider's", |k| k.spec().title);
            let article = if title.starts_with(['A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            };
            let names: Vec<String> = takers.iter().map(|k| format!("--provider {k}")).collect();
            return Err(InputError::new(
                &input,
                format!("is {article} {title} option, and the provider is {provider}"),
                format!("drop it, or use {}", names.join(" or ")),
            ));
        }
        options.set(key, value.clone());
    }
    Ok(options)
}

/// The seed script passed credentials as flags; they would land in shell history and
/// process lists, so they are refused.
fn refuse_seed_credentials(args: &RunArgs) -> Result<(), InputError> {
    if args.seed_key_id.is_none() && args.seed_key_secret.is_none() {
        return Ok(());
    }
    let standard = &ProviderKind::default_kind().spec().credentials;
    Err(InputError::new(
        "-i / -k",
        "credentials are not taken on the command line (they would land in shell history and process lists)",
        format!(
            "set {} and {} in the environment (or the inputs access-key-id and access-key-secret)",
            standard.id, standard.secret
        ),
    ))
}

/// Reads the URL sources: `-r FILE` (or `-` for stdin) and `--urls`.
fn read_url_sources(
    args: &RunArgs,
    read_stdin: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Vec<(String, String)>, InputError> {
    let mut sources = Vec::new();
    if let Some(path) = &args.urls_file {
        let text = if path == "-" {
            read_stdin().map_err(|e| {
                InputError::new(
                    "--urls-file -",
                    format!("cannot read stdin: {e}"),
                    "pipe the URL list in, or give a file",
                )
            })?
        } else {
            std::fs::File::open(path)
                .and_then(|f| crate::input::url_list::read_capped(std::io::BufReader::new(f)))
                .map_err(|e| {
                    InputError::new(
                        "--urls-file",
                        format!("cannot read `{path}`: {e}"),
                        "give the path of a readable UTF-8 file with one URL per line",
                    )
                })?
        };
        let name = if path == "-" {
            "stdin".to_string()
        } else {
            path.clone()
        };
        sources.push((name, text));
    }
    if let Some(urls) = &args.urls {
        sources.push(("--urls".to_string(), urls.clone()));
    }
    Ok(sources)
}

/// Reads the config file (`--config`, else `.cdn-refresh.yml` in `--repo` or the current
/// directory when present), and the run options: the flags and env over the file's.
pub fn with_config(args: &RunArgs) -> Result<(Options, Option<Config>), InputError> {
    refuse_seed_credentials(args)?;
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None => {
            let repo = args.repo.clone().unwrap_or_else(|| PathBuf::from("."));
            [
                repo.join(config::DEFAULT_FILE),
                PathBuf::from(config::DEFAULT_FILE),
            ]
            .into_iter()
            .find(|p| p.is_file())
        }
    };
    let config = path
        .map(|path| Config::load(&path).map_err(|e| InputError::Message(e.to_string())))
        .transpose()?;
    let flags = Options::from_args(args)?;
    let options = match &config {
        Some(c) => flags.or(c.run.clone()),
        None => flags,
    };
    Ok((options, config))
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
fn git_rules(args: &RunArgs, config: Option<&Config>) -> Result<Option<RuleSet>, InputError> {
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
fn git_plan(
    args: &RunArgs,
    opts: &Options,
    env: &Env,
    rules: &RuleSet,
    task: TaskMode,
    limits: &crate::providers::Limits,
) -> Result<(Plan, GitInfo, bool), InputError> {
    let policy = opts.on_missing_base.unwrap_or_default();
    let threshold = opts.collapse_threshold;
    let repo = args.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let lookup = |name: &str| env.get(name).map(str::to_string);
    let resolved = changes::changes(&repo, args.base.as_deref(), args.head.as_deref(), &lookup)
        .map_err(|e| InputError::Message(e.to_string()))?;
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
                // A copy for `plan` and the report; the plan is the collapses' home.
                collapses: git.plan.collapses.clone(),
                missing_base: None,
            };
            let info = GitInfo {
                report,
                changes: diff.changes,
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
                    reason: missing.reason.clone(),
                }),
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
                },
                skip,
            ))
        }
    }
}

/// Validates the run inputs. `read_stdin` is called only for `-r -`; `env` gives the CI
/// variables that `--base auto` reads.
pub fn settings(
    args: &RunArgs,
    env: &Env,
    read_stdin: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Settings, InputError> {
    let (opts, config) = with_config(args)?;
    let mapping = git_rules(args, config.as_ref())?;
    let targets = targets(
        args,
        &opts,
        config.as_ref().map_or(&[][..], |c| &c.targets),
        env,
    )?;
    // A run of the flags alone is one unnamed target.
    let unnamed = match targets.is_empty() {
        true => Some(connection(&opts)?),
        false => None,
    };
    let task = opts.task.unwrap_or(TaskMode::Refresh);
    let object_type = opts.object_type.unwrap_or(ObjectType::File);
    let connections: Vec<&Connection> = unnamed
        .iter()
        .chain(targets.iter().map(|t| &t.connection))
        .collect();
    for c in &connections {
        (c.provider.spec().check)(&c.options, task)?;
    }
    if object_type != ObjectType::File && task != TaskMode::Refresh {
        return Err(InputError::new(
            "--object-type",
            format!("prefetch takes files, not {object_type} paths"),
            "use --task refresh with this object type, or --object-type file to prefetch",
        ));
    }
    let kinds: Vec<ProviderKind> = connections.iter().map(|c| c.provider).collect();
    for kind in &kinds {
        if !kind.limits().refresh_object_types.contains(&object_type) {
            return Err(InputError::new(
                "--object-type",
                format!("{kind} cannot refresh {object_type} paths"),
                "use file",
            ));
        }
    }
    // One plan feeds every target, so it keeps to the strictest of their limits.
    let strictest = strictest_limits(&kinds);
    let limits = &strictest;

    let rules = url_list::Rules::new(limits, object_type);
    let mut urls = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0;
    let mut errors = Vec::new();
    for (source, text) in read_url_sources(args, read_stdin)? {
        match url_list::parse(&text, &rules) {
            Ok(parsed) => {
                duplicates += parsed.duplicates;
                for u in parsed.urls {
                    if seen.insert(u.clone()) {
                        urls.push(u);
                    } else {
                        duplicates += 1;
                    }
                }
            }
            Err(lines) => errors.push(InputError::Urls { source, lines }),
        }
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    if urls.is_empty() && mapping.is_none() {
        return Err(InputError::new(
            "URLs",
            "there is nothing to refresh: no URL was given",
            "give a file with -r FILE (or -r - for stdin), or URLs with --urls",
        ));
    }

    let run = run_options(&opts);

    let listed = !urls.is_empty();
    let mut plan = Plan::from_urls(urls, task, object_type);
    let mut git = None;
    let mut skip = false;
    if let Some(rules) = &mapping {
        let (git_plan, info, skipped) = git_plan(args, &opts, env, rules, task, limits)?;
        if listed {
            plan.merge(git_plan);
        } else {
            // Nothing to merge into: taking the plan as it is skips a pass over every URL.
            plan = git_plan;
        }
        git = Some(info);
        skip = skipped && !listed;
    }

    let dir_denied = opts
        .on_dir_refresh_denied
        .unwrap_or(DirRefreshDenied::Files);
    plan.fallback_to_files = dir_denied == DirRefreshDenied::Files;

    if let Some(e) = uncovered(&plan, &targets) {
        return Err(e);
    }
    let targets = match unnamed {
        Some(connection) => vec![Target {
            name: None,
            connection,
            run,
            sites: Vec::new(),
            credentials: CredentialVars::default(),
        }],
        None => targets,
    };
    Ok(Settings {
        task,
        object_type,
        plan,
        duplicates,
        dry_run: opts.dry_run.unwrap_or(false),
        report_path: opts.report.clone(),
        fail_on: opts.fail_on.unwrap_or(FailOn::Failed),
        git,
        skip,
        targets,
    })
}

/// The pacing and waiting options of `opts`.
pub fn run_options(opts: &Options) -> RunOptions {
    let defaults = RunOptions::default();
    RunOptions {
        wait: opts.wait.unwrap_or(true),
        timeout: opts.timeout.unwrap_or(defaults.timeout),
        poll_interval: opts
            .poll_interval
            .unwrap_or(defaults.poll_interval)
            .max(Duration::from_millis(100)),
        concurrency: opts.concurrency.unwrap_or(8),
        batch_size: opts.batch_size,
        qps: opts.qps,
        ..defaults
    }
}

/// Limits that every provider of `kinds` accepts: the smallest of each.
fn strictest_limits(kinds: &[ProviderKind]) -> crate::providers::Limits {
    let mut limits = kinds[0].limits().clone();
    for kind in &kinds[1..] {
        let other = kind.limits();
        limits.max_url_len = limits.max_url_len.min(other.max_url_len);
        limits.domains_per_request = limits.domains_per_request.min(other.domains_per_request);
        // Object-type lists are static: keep the shorter one (every provider's list starts
        // with the types all of them have, file and directory).
        if other.refresh_object_types.len() < limits.refresh_object_types.len() {
            limits.refresh_object_types = other.refresh_object_types;
        }
    }
    limits
}

/// The targets of the config file that `--target` selects (all when it is not given),
/// each with its own connection and pacing: the target's keys over the flags, the env and
/// the top level of the file.
fn targets(
    args: &RunArgs,
    opts: &Options,
    configured: &[TargetConfig],
    env: &Env,
) -> Result<Vec<Target>, InputError> {
    if configured.is_empty() {
        if let Some(names) = &args.target {
            return Err(InputError::new(
                "--target",
                format!("`{names}` names a target, and the config file lists none"),
                "drop --target, or list targets under `targets:` in .cdn-refresh.yml",
            ));
        }
        return Ok(Vec::new());
    }
    for (input, set) in [
        ("--provider", opts.provider.is_some()),
        ("--endpoint", opts.endpoint.is_some()),
    ] {
        if set {
            return Err(InputError::new(
                input,
                "the config file lists targets, each with its own provider and endpoint",
                "drop it; choose targets with --target NAME[,NAME]",
            ));
        }
    }
    let selected: Vec<&TargetConfig> = match &args.target {
        None => configured.iter().collect(),
        Some(names) => {
            let mut chosen = Vec::new();
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let target = configured.iter().find(|t| t.name == name).ok_or_else(|| {
                    let known: Vec<&str> = configured.iter().map(|t| t.name.as_str()).collect();
                    InputError::new(
                        "--target",
                        format!("no target is named `{name}`"),
                        format!("use one of: {}", known.join(", ")),
                    )
                })?;
                if !chosen.iter().any(|t: &&TargetConfig| t.name == target.name) {
                    chosen.push(target);
                }
            }
            if chosen.is_empty() {
                return Err(InputError::new(
                    "--target",
                    "names no target",
                    "give target names separated by commas, or drop --target",
                ));
            }
            chosen
        }
    };
    if selected.len() > 1 {
        for input in ["access-key-id", "access-key-secret", "security-token"] {
            if env.input(input).is_some() {
                return Err(InputError::new(
                    input,
                    "is ambiguous with several targets",
                    "name each target's credential variables under `credentials:` in the config file, set those variables from secrets, and leave this input empty",
                ));
            }
        }
    }
    let given: Vec<&'static str> = opts.provider_options.keys().copied().collect();
    for key in &given {
        let kinds: Vec<ProviderKind> = selected.iter().filter_map(|t| t.run.provider).collect();
        if !kinds.iter().any(|k| k.option(key).is_some()) {
            return Err(InputError::new(
                &format!("--{}", key.replace('_', "-")),
                "no selected target is of a provider that takes it",
                "drop it, or set it in the target it is meant for",
            ));
        }
    }
    warn_shared_accounts(&selected);
    selected
        .into_iter()
        .map(|t| {
            let provider = t
                .run
                .provider
                .expect("validated: every target has a provider");
            let mut run_wide = opts.clone();
            // Run-wide provider options go only to the targets whose provider takes them.
            run_wide
                .provider_options
                .retain(|key, _| provider.option(key).is_some());
            // The target's own keys win over the flags, the env and the file's top level.
            let own = t.run.clone().or(run_wide);
            let connection = connection(&own).map_err(|e| in_target(&t.name, e))?;
            let run = run_options(&own);
            Ok(Target {
                name: Some(t.name.clone()),
                connection,
                run,
                sites: t.sites.clone(),
                credentials: t.credentials.clone(),
            })
        })
        .collect()
}

/// Two targets of one provider with the same credential variables and endpoint are one
/// account: each checks the day's quota on its own, so together they can overdraw it.
fn warn_shared_accounts(targets: &[&TargetConfig]) {
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[i + 1..] {
            if a.run.provider == b.run.provider
                && a.credentials == b.credentials
                && a.run.endpoint == b.run.endpoint
            {
                tracing::warn!(
                    "targets `{}` and `{}` use the same {} account: each checks the day's quota alone, so together they may exceed it; give them one target with both sites",
                    a.name,
                    b.name,
                    a.run.provider.map_or_else(String::new, |p| p.to_string())
                );
            }
        }
    }
}

/// For the commands that take no URL list (`quota`, `status`): the config file's targets
/// that `--target` selects, or the one unnamed target of the flags.
pub fn selected_targets(args: &RunArgs, env: &Env) -> Result<Vec<Target>, InputError> {
    let (opts, config) = with_config(args)?;
    let targets = targets(
        args,
        &opts,
        config.as_ref().map_or(&[][..], |c| &c.targets),
        env,
    )?;
    if !targets.is_empty() {
        return Ok(targets);
    }
    Ok(vec![Target {
        name: None,
        connection: connection(&opts)?,
        run: run_options(&opts),
        sites: Vec::new(),
        credentials: CredentialVars::default(),
    }])
}

/// An error in one target's options names the target.
fn in_target(name: &str, e: InputError) -> InputError {
    InputError::Message(format!("target `{name}`: {e}"))
}

/// `Some(error)` when a URL of the plan is served by none of the targets: it would be
/// dropped, so nothing is sent.
fn uncovered(plan: &Plan, targets: &[Target]) -> Option<InputError> {
    if targets.is_empty() {
        return None;
    }
    let all = plan.refresh.values().flatten().chain(&plan.prefetch);
    let missing: Vec<&String> = all
        .filter(|u| !targets.iter().any(|t| t.serves(u)))
        .take(6)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut hosts: Vec<&str> = missing.iter().map(|u| url_list::host(u)).collect();
    hosts.dedup();
    let shown: Vec<&str> = missing.iter().take(5).map(|u| u.as_str()).collect();
    Some(InputError::new(
        "targets",
        format!(
            "no target's sites cover {}{}",
            shown.join(", "),
            if missing.len() > 5 { ", …" } else { "" }
        ),
        format!(
            "add {} to the `sites` of the target that serves it, or remove `sites` from a target to send it every URL",
            hosts.join(", ")
        ),
    ))
}

/// Checks, before anything is sent, that the report can be written at `path`: found only
/// after the run, the quota is spent and the refresh sent with no record of it. A file
/// created to find out is removed again; an existing one is opened without changing it.
pub fn writable_report(path: &std::path::Path) -> Result<(), InputError> {
    let input = "--report (the input report, INPUT_REPORT)";
    let shown = path.display();
    if path.is_dir() {
        return Err(InputError::new(
            input,
            format!("{shown} is a directory"),
            "give the path of a file to write the JSON report to, e.g. DIR/cdn-refresh-report.json",
        ));
    }
    let opened = if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|f| {
                drop(f);
                std::fs::remove_file(path)
            })
    };
    opened.map_err(|e| {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let fix = match parent {
            Some(dir) if !dir.is_dir() => format!(
                "create the directory {} first, or point --report at a file in a writable directory",
                dir.display()
            ),
            _ => "point --report at a file in a writable directory".to_string(),
        };
        InputError::new(input, format!("cannot write the report to {shown}: {e}"), fix)
    })
}

/// Inputs and variables that carry secrets: masked in CI logs before anything is printed.
const SECRET_INPUTS: &[&str] = &["access-key-secret", "security-token"];
/// Every provider's standard variables that hold secrets.
fn secret_vars() -> impl Iterator<Item = &'static str> {
    ProviderKind::all().flat_map(|k| {
        let c = &k.spec().credentials;
        [Some(c.secret), c.token].into_iter().flatten()
    })
}

/// Every secret value present in the environment, for the CI log masks.
pub fn secret_values(env: &Env) -> Vec<String> {
    let mut values: Vec<String> = SECRET_INPUTS
        .iter()
        .filter_map(|i| env.input(i))
        .chain(secret_vars().filter_map(|v| env.get(v)))
        .map(str::to_string)
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Where one provider's credentials come from: the inputs (`access-key-id`, …) when the
/// run has one provider, then the environment variables, which a target of a run with
/// several may name itself (`credentials:` in the config file).
pub struct CredentialSource<'a> {
    pub env: &'a Env,
    pub vars: &'a CredentialVars,
    pub inputs: bool,
}

/// No variable renamed.
static STANDARD_VARS: CredentialVars = CredentialVars {
    access_key_id: None,
    access_key_secret: None,
    security_token: None,
    extra: std::collections::BTreeMap::new(),
};

impl<'a> CredentialSource<'a> {
    /// A run on one provider: the inputs, else the provider's standard variables.
    pub fn standard(env: &'a Env) -> Self {
        CredentialSource {
            env,
            vars: &STANDARD_VARS,
            inputs: true,
        }
    }

    /// One target of a run with several: its own variables, else the standard ones; the
    /// inputs only when it is the run's only target.
    pub fn of_target(env: &'a Env, target: &'a Target, only: bool) -> Self {
        CredentialSource {
            env,
            vars: &target.credentials,
            inputs: only,
        }
    }

    /// The variable that holds a credential: the one the target names, else `standard`.
    fn var<'s>(&'s self, named: &'s Option<String>, standard: &'s str) -> &'s str {
        named.as_deref().unwrap_or(standard)
    }

    /// One credential: the input, else the variable.
    fn get(
        &self,
        input: &str,
        named: &Option<String>,
        standard: &str,
    ) -> Result<Option<String>, InputError> {
        let from_input = self.inputs.then(|| self.env.input(input)).flatten();
        let (value, source) = match from_input {
            Some(v) => (Some(v), format!("the input {input}")),
            None => {
                let var = self.var(named, standard);
                (self.env.get(var), var.to_string())
            }
        };
        // A pasted secret often ends with a line break; one inside it would break the
        // request's headers (or smuggle one in), so it is refused before anything is sent.
        // The value itself is never shown.
        let Some(value) = value.map(str::trim) else {
            return Ok(None);
        };
        if value.chars().any(char::is_control) {
            return Err(InputError::new(
                &source,
                "holds a line break or another control character",
                "copy the credential again, without the surrounding text or line breaks",
            ));
        }
        Ok((!value.is_empty()).then(|| value.to_string()))
    }

    /// A credential the run cannot go without; the error names where it can come from.
    fn require(
        &self,
        input: &str,
        named: &Option<String>,
        standard: &str,
    ) -> Result<String, InputError> {
        self.get(input, named, standard)?.ok_or_else(|| {
            let var = self.var(named, standard);
            let or_input = if self.inputs {
                format!(", or the input {input}")
            } else {
                String::new()
            };
            InputError::new(
                var,
                "is not set",
                format!("set {var} in the environment (in CI, from a secret){or_input}"),
            )
        })
    }

    /// The names of the variables that may hold secrets here, for the CI masks.
    fn secret_vars(&self) -> impl Iterator<Item = &str> {
        [&self.vars.access_key_secret, &self.vars.security_token]
            .into_iter()
            .filter_map(|v| v.as_deref())
    }
}

/// A provider's credentials: the inputs first, then the variables a target names, then
/// the provider's standard ones (those its official SDKs read).
pub fn credentials(
    kind: ProviderKind,
    src: &CredentialSource<'_>,
) -> Result<Credentials, InputError> {
    let standard = &kind.spec().credentials;
    let v = src.vars;
    let id = src.require("access-key-id", &v.access_key_id, standard.id)?;
    let secret = src.require("access-key-secret", &v.access_key_secret, standard.secret)?;
    let token = match standard.token {
        Some(var) => src.get("security-token", &v.security_token, var)?,
        None => None,
    };
    let extra = standard
        .extra
        .iter()
        .filter_map(|(key, var)| {
            let named = v.extra.get(key).map(String::as_str).unwrap_or(var);
            src.env.get(named).map(|value| (*key, value.to_string()))
        })
        .collect();
    Ok(Credentials {
        id,
        secret: SecretString::from(secret),
        token: token.map(SecretString::from),
        extra,
    })
}

/// The secrets that the targets' own credential variables hold, for the CI masks (the
/// standard variables are in [`secret_values`]).
pub fn target_secret_values(env: &Env, targets: &[Target]) -> Vec<String> {
    let mut values: Vec<String> = targets
        .iter()
        .flat_map(|t| {
            let src = CredentialSource::of_target(env, t, false);
            src.secret_vars()
                .filter_map(|v| env.get(v).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    values.sort();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(urls: &str) -> RunArgs {
        RunArgs {
            urls: Some(urls.to_string()),
            ..RunArgs::default()
        }
    }

    fn no_stdin() -> impl FnMut() -> std::io::Result<String> {
        || panic!("stdin not expected")
    }

    #[test]
    fn seed_aliases_and_defaults() {
        let mut a = args("https://example.com/a");
        a.task = Some("push".into());
        a.provider_options.insert("area".into(), "domestic".into());
        let s = settings(&a, &Env::default(), &mut no_stdin()).unwrap();
        assert_eq!(s.task, TaskMode::Prefetch);
        let t = &s.targets[0];
        assert_eq!(t.connection.options.choice("area"), Some("domestic"));
        assert!(t.run.wait);
        assert_eq!(s.fail_on, FailOn::Failed);
        assert_eq!(t.connection.endpoint.as_str(), "https://cdn.aliyuncs.com/");
    }

    #[test]
    fn errors_name_the_input_and_the_fix() {
        let mut a = args("https://example.com/a");
        a.task = Some("wipe".into());
        let e = settings(&a, &Env::default(), &mut no_stdin())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--task: unknown task `wipe`") && e.contains("fix:"),
            "{e}"
        );

        let mut a = args("https://example.com/a");
        a.object_type = Some("directory".into());
        a.task = Some("both".into());
        assert!(
            settings(&a, &Env::default(), &mut no_stdin())
                .unwrap_err()
                .to_string()
                .contains("prefetch takes files")
        );

        let mut a = args("https://example.com/a");
        a.seed_key_secret = Some("s3cr3t".into());
        let e = settings(&a, &Env::default(), &mut no_stdin())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"));
        assert!(e.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));

        let e = settings(&RunArgs::default(), &Env::default(), &mut no_stdin())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no URL was given"), "{e}");
    }

    #[test]
    fn every_bad_line_is_listed() {
        let e = settings(
            &args("https://ok.com/a\nftp://x.com/b\n# comment\nexample.com/c"),
            &Env::default(),
            &mut no_stdin(),
        )
        .unwrap_err();
        let InputError::Urls { lines, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(lines.iter().map(|l| l.line).collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn the_report_path_is_checked_without_a_trace() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("r.json");
        writable_report(&new).unwrap();
        assert!(!new.exists(), "the file made to check is removed");
        std::fs::write(&new, "kept").unwrap();
        writable_report(&new).unwrap();
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "kept");
        let e = writable_report(&dir.path().join("missing/r.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--report (the input report, INPUT_REPORT): cannot write")
                && e.contains("fix: create the directory"),
            "{e}"
        );
        let e = writable_report(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn stdin_is_read_for_dash() {
        let a = RunArgs {
            urls_file: Some("-".into()),
            ..RunArgs::default()
        };
        let s = settings(&a, &Env::default(), &mut || {
            Ok("https://a.com/1\nhttps://a.com/1\n".to_string())
        })
        .unwrap();
        assert_eq!(s.plan.refresh[&ObjectType::File].len(), 1);
        assert_eq!(s.duplicates, 1);
    }

    #[test]
    fn credentials_from_inputs_or_sdk_variables() {
        let env = Env::new([("ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(), "id".to_string())]);
        let aliyun = ProviderKind::default_kind();
        let e = credentials(aliyun, &CredentialSource::standard(&env))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{e}");
        let env = Env::new([
            ("INPUT_ACCESS-KEY-ID".to_string(), "from-input".to_string()),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(),
                "from-sdk".to_string(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_string(),
                "s".to_string(),
            ),
        ]);
        let c = credentials(aliyun, &CredentialSource::standard(&env)).unwrap();
        assert_eq!(c.id, "from-input");
        assert!(c.token.is_none());
    }
}
