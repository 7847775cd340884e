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

use crate::input::cli::{Env, RunArgs};
use crate::input::config::{self, Config, CredentialVars};
pub use crate::input::error::InputError;
use crate::input::git::{GitInfo, git_plan, git_rules};
use crate::input::options::{self, Options};
pub use crate::input::options::{DirRefreshDenied, FailOn};
use crate::input::targets::{check_markers, marker_of, targets, uncovered};
use crate::input::url_list;
use crate::marker::Marker;
use crate::plan::{Plan, TaskMode};
use crate::providers::registry::ProviderOptions;
use crate::providers::{ObjectType, ProviderKind};
use crate::send::run::RunOptions;
use crate::verify::{Connect, VerifyMode};

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
    /// The URL lists given (`stdin`, a file, `--urls`) when none held a URL and git mode is
    /// off: nothing to send, exit 0.
    pub empty_lists: Vec<String>,
    /// The CDNs the plan goes to, at least one: the config file's `targets:` (as
    /// `--target` selects them), or one unnamed target made of the flags.
    pub targets: Vec<Target>,
    /// Verifying the edge after the run.
    pub verify: VerifySettings,
}

/// `--verify` and its options, resolved.
#[derive(Debug, Clone, Default)]
pub struct VerifySettings {
    /// Each target's mode, in the order of [`Settings::targets`]; `Off` when verification
    /// does not run for it.
    pub modes: Vec<VerifyMode>,
    /// `--verify-root`: the built site's folder.
    pub root: Option<PathBuf>,
    /// `--verify-connect`.
    pub connect: Option<Connect>,
    /// `--verify-heal`: refresh a URL still stale at the first verify deadline once more.
    pub heal: bool,
}

impl VerifySettings {
    /// Whether any target verifies.
    pub fn on(&self) -> bool {
        self.modes.iter().any(|m| *m != VerifyMode::Off)
    }
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
    /// Git mode's marker of the last fully successful run for this target (`--marker`).
    pub marker: Option<crate::marker::Marker>,
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

/// Validates the run inputs. `read_stdin` is called only for `-r -`; `env` gives the CI
/// variables that `--base auto` reads.
pub fn settings(
    args: &RunArgs,
    env: &Env,
    read_stdin: &mut dyn FnMut() -> std::io::Result<String>,
) -> Result<Settings, InputError> {
    let (opts, config) = with_config(args)?;
    let mapping = git_rules(args, config.as_ref())?;
    let targets = targets(args, &opts, config.as_ref(), env)?;
    // A run of the flags alone is one unnamed target.
    let unnamed = match targets.is_empty() {
        true => Some(connection(&opts)?),
        false => None,
    };
    let unnamed_marker = match targets.is_empty() {
        true => marker_of(&opts, None)?,
        false => None,
    };
    check_markers(&targets)?;
    let markers: Vec<Marker> = unnamed_marker
        .iter()
        .chain(targets.iter().filter_map(|t| t.marker.as_ref()))
        .cloned()
        .collect();
    if !markers.is_empty() && mapping.is_none() {
        return Err(InputError::new(
            &args.input_name("marker"),
            "a marker records the commit a git-mode run refreshed, and git mode is off",
            "give mapping rules (--mapping or the config file's `mapping`) with it, or drop --marker",
        ));
    }
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
    let sources = read_url_sources(args, read_stdin)?;
    let source_names: Vec<String> = sources.iter().map(|(name, _)| name.clone()).collect();
    for (source, text) in sources {
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
    if urls.is_empty() && mapping.is_none() && source_names.is_empty() {
        return Err(InputError::new(
            "URLs",
            "there is nothing to refresh: no URL was given",
            "give a file with -r FILE (or -r - for stdin), URLs with --urls, or git mode with --base REV and --mapping RULES; `cdn-refresh --help` lists every option, and `cdn-refresh demo` runs the whole job without credentials",
        ));
    }

    let run = run_options(&opts);

    // A list that holds no URL (an empty file, only comments, nothing on stdin) is a deploy
    // that changed nothing: nothing to send, and a success.
    let empty_lists = if urls.is_empty() && mapping.is_none() {
        source_names
    } else {
        Vec::new()
    };
    let listed = !urls.is_empty();
    let mut plan = Plan::from_urls(urls, task, object_type);
    let mut git = None;
    let mut skip = false;
    if let Some(rules) = &mapping {
        let (git_plan, info, skipped) = git_plan(args, &opts, env, rules, task, limits, &markers)?;
        if listed {
            plan.merge(git_plan);
        } else {
            // Nothing to merge into: taking the plan as it is skips a pass over every URL.
            plan = git_plan;
        }
        git = Some(info);
        skip = skipped && !listed;
    }

    if let Some(max) = opts.max_paths {
        let before = plan.collapses.len();
        crate::plan::cap::cap_paths(&mut plan, max, limits).map_err(|why| {
            InputError::new(
                "--max-paths",
                why,
                "raise --max-paths (the max-paths input, max_paths in the config), or send fewer URLs",
            )
        })?;
        // Git mode's report lists its collapses; these join them.
        if let Some(info) = &mut git {
            info.report
                .collapses
                .extend(plan.collapses[before..].iter().cloned());
        }
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
            marker: unnamed_marker,
        }],
        None => targets,
    };
    let verify = verify_settings(&opts, config.as_ref(), &targets, git.is_some())?;
    Ok(Settings {
        verify,
        task,
        object_type,
        plan,
        duplicates,
        dry_run: opts.dry_run.unwrap_or(false),
        report_path: opts.report.clone(),
        fail_on: opts.fail_on.unwrap_or(FailOn::Failed),
        git,
        skip,
        empty_lists,
        targets,
    })
}

/// `--verify` per target, resolved: the value given (the target's own key over the run's),
/// else `auto` in git mode (content where the deployed bytes are known, else status) and
/// `off` for URL lists. A target whose API is on this machine (the emulator) defaults to
/// `off` unless `--verify-connect` names the edge: its URLs' hosts are not served there,
/// and a local run must not fetch them from the internet.
fn verify_settings(
    opts: &Options,
    config: Option<&Config>,
    targets: &[Target],
    git: bool,
) -> Result<VerifySettings, InputError> {
    if let Some(root) = &opts.verify_root
        && !root.is_dir()
    {
        return Err(InputError::new(
            "--verify-root",
            format!("{} is not a folder", root.display()),
            "give the folder of the built site, as it was uploaded",
        ));
    }
    let mut modes = Vec::new();
    for target in targets {
        let own = target.name.as_deref().and_then(|name| {
            config?
                .targets
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.run.verify)
        });
        let mode = match own.or(opts.verify) {
            Some(mode) => mode,
            None if !git => VerifyMode::Off,
            None if opts.verify_connect.is_none() && local(&target.connection.endpoint) => {
                VerifyMode::Off
            }
            None => VerifyMode::Auto,
        };
        if mode == VerifyMode::Content && !git && opts.verify_root.is_none() {
            return Err(InputError::new(
                "--verify",
                "content needs the deployed bytes, and a URL list does not say what they are",
                "give the built site's folder with --verify-root DIR, or use --verify status",
            ));
        }
        modes.push(mode);
    }
    Ok(VerifySettings {
        modes,
        root: opts.verify_root.clone(),
        connect: opts.verify_connect.clone(),
        heal: opts.verify_heal.unwrap_or(true),
    })
}

/// Whether an API endpoint is on this machine (the emulator).
fn local(endpoint: &url::Url) -> bool {
    match endpoint.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
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
}
