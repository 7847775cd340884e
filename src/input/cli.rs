//! Command line: flags, with `INPUT_<NAME>` and `CDN_REFRESH_<NAME>` environment fallbacks.
//!
//! Every run option has a long flag. When the flag is absent, its value comes from
//! `INPUT_<NAME>` (GitHub's spelling: upper case, hyphens kept), the same with hyphens as
//! underscores, or `CDN_REFRESH_<NAME>`; an empty value counts as unset, as GitHub sends
//! unset inputs. The fallbacks are installed as hidden clap defaults, so flags win and
//! `--help` never shows a value taken from the environment.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{
    Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

use crate::providers::ProviderKind;
use crate::providers::registry::OptionKind;

/// The process environment, captured once by `main` and passed down.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    /// The options some `INPUT_*` or `CDN_REFRESH_*` variable may fill, as
    /// [`fallback_key`]s: start-up asks for every option's fallback, and most options have
    /// none, so one lookup answers most asks.
    fallbacks: HashSet<String>,
}

/// The key under which `name` (an option's long name, or a variable's suffix after
/// `INPUT_`/`CDN_REFRESH_`) is indexed: upper case, spaces and hyphens as underscores.
fn fallback_key(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

impl Env {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let fallbacks = vars
            .keys()
            .filter_map(|name| {
                name.strip_prefix("INPUT_")
                    .or_else(|| name.strip_prefix("CDN_REFRESH_"))
            })
            .map(fallback_key)
            .collect();
        Env { vars, fallbacks }
    }

    /// A variable's trimmed value; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The env fallback of option `name` (kebab-case), in order of precedence.
    pub fn input(&self, name: &str) -> Option<&str> {
        self.input_var(name).and_then(|var| self.get(&var))
    }

    /// The variable that holds option `name`'s env fallback, if one does.
    pub fn input_var(&self, name: &str) -> Option<String> {
        // Every spelling below indexes under the same key, so no entry means none is set.
        if !self.fallbacks.contains(&fallback_key(name)) {
            return None;
        }
        let upper = name.to_ascii_uppercase().replace(' ', "_");
        let underscored = upper.replace('-', "_");
        [
            format!("INPUT_{upper}"),
            format!("INPUT_{underscored}"),
            format!("CDN_REFRESH_{underscored}"),
        ]
        .into_iter()
        .find(|n| self.get(n).is_some())
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "cdn-refresh",
    version,
    about = "Refresh (purge) and prefetch (warm) CDN caches, in batches that respect every provider limit.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

// `defer`: a subcommand's options are built only when it is named (or for `help`), so
// start-up does not build every subcommand's options to run one.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Refresh and/or prefetch URLs (the default when no subcommand is given).
    Run(RunArgs),
    /// Show the batches a run would send, and send nothing: no call to the CDN.
    ///
    /// In git mode, a base commit missing from a shallow clone is fetched from the git remote
    /// (`git fetch --depth=1 origin SHA`), as a run does; nothing else leaves the machine. A
    /// run's command line works as it is: the options that matter only when sending
    /// (--wait, --timeout, --endpoint, --fail-on, …) are accepted, change nothing, and are
    /// not listed here.
    Plan(PlanArgs),
    /// Show what is left of today's refresh and prefetch quotas.
    Quota(ConnectArgs),
    /// Show the status of tasks by id.
    Status(StatusArgs),
    /// Serve the provider APIs on a local address, as strict as the real services.
    #[cfg(feature = "emulator")]
    Emulator(crate::emulator::EmulatorArgs),
    /// A site deployed twice, refreshed and prefetched in git mode against the built-in emulator
    /// (no credentials, no network).
    #[cfg(feature = "emulator")]
    Demo(DemoArgs),
    /// The marker of the last fully successful run, for the site store (`--marker site:URL`).
    #[command(subcommand)]
    Marker(MarkerCommand),
}

#[derive(Subcommand, Debug)]
pub enum MarkerCommand {
    /// Write the marker file into the folder about to be uploaded, from the report of a run
    /// that ended fully successful (else write nothing, and say why).
    Write(MarkerWriteArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MarkerWriteArgs {
    /// The built site's folder, about to be uploaded.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The run's JSON report [default in CI: where the run wrote it].
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// The target whose marker to write, in a run with several.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// The marker file's path inside DIR, as the `site:` URL serves it.
    #[arg(long, value_name = "PATH", default_value = crate::marker::DEFAULT_FILE)]
    pub file: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// CDN provider.
    #[arg(long, value_parser = provider_parser(), value_name = "PROVIDER")]
    pub provider: Option<ProviderKind>,

    /// refresh, prefetch or both (refresh, then prefetch what it completed). The seed script's
    /// `clear` and `push` mean refresh and prefetch [default: refresh].
    #[arg(short = 't', long, value_name = "TASK")]
    pub task: Option<String>,

    /// File with one URL per line (`-` reads stdin). Blank lines and `#` comments are skipped.
    #[arg(short = 'r', long, value_name = "FILE")]
    pub urls_file: Option<String>,

    /// URLs, one per line (a multiline input).
    #[arg(long, value_name = "URLS")]
    pub urls: Option<String>,

    /// How refresh paths match: file (default), directory, regex, ignore-params.
    #[arg(short = 'o', long, value_name = "TYPE")]
    pub object_type: Option<String>,

    /// Same as the `plan` subcommand: show the batches, send nothing.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub dry_run: Option<bool>,

    /// Wait for the tasks to finish [default: true]. A refresh followed by a prefetch is always waited for.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub wait: Option<bool>,

    /// Bound on the whole run (no request starts after it; those in flight get 5 s more),
    /// e.g. 90s, 10m, at most 30d [default: 10m].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// A task is checked once accepted, then this much later; then as its progress says,
    /// up to 30s apart [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<String>,

    /// API base URL (the emulator, a private or regional endpoint).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Requests per second per API, below the provider's rate (never above it).
    #[arg(long, value_name = "N")]
    pub qps: Option<u32>,

    /// Requests in flight at once [default: 8].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Paths per request, below the provider's maximum (never above it).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Write the JSON report (every URL with its status) to this path [default in CI:
    /// $RUNNER_TEMP/cdn-refresh-report.json on GitHub, cdn-refresh-report.json on GitLab].
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Finish the run that wrote this report (interrupted or timed out): wait for the tasks
    /// it recorded and send only the URLs it did not get accepted, each once.
    #[arg(long, value_name = "REPORT")]
    pub resume: Option<PathBuf>,

    /// When the provider refuses a directory refresh (not enabled on the account, e.g. Qiniu
    /// 400038): files (refresh the changed files a collapsed directory stood for, default)
    /// or fail (stop, with how to enable it).
    #[arg(long, value_name = "POLICY")]
    pub on_dir_refresh_denied: Option<String>,

    /// Write the outputs as a GitLab dotenv report to this path [default with GITLAB_CI=true:
    /// cdn-refresh.env].
    #[arg(long, value_name = "PATH")]
    pub dotenv: Option<PathBuf>,

    /// Exit 1 when URLs end `failed` (default; with --verify, URLs verified stale, lingering
    /// or missing count as failed), also `pending`, `stale` (also URLs not proven fresh:
    /// pending, or a verification error), or `never`.
    #[arg(long, value_name = "WHEN")]
    pub fail_on: Option<String>,

    /// After the run, fetch each URL whose refresh completed from the edge as a visitor does
    /// and report whether it is fresh: off, status (200, or 404/410 for a deleted file),
    /// content (the body is the deployed bytes) [default: git mode: content where the
    /// deployed bytes are known, else status; URL lists: off].
    #[arg(long, value_name = "MODE")]
    pub verify: Option<String>,

    /// The built site's folder, as uploaded: the deployed bytes of a URL are the file at its
    /// path (a folder URL: its index.html).
    #[arg(long, value_name = "DIR")]
    pub verify_root: Option<PathBuf>,

    /// Send every verification request to HOST:PORT, keeping the URL's host (as curl's
    /// --connect-to), to check one POP; `http://HOST:PORT` speaks plain HTTP there, for https
    /// URLs too (the only way an https URL is fetched without TLS).
    #[arg(long, value_name = "HOST:PORT")]
    pub verify_connect: Option<String>,

    /// Refresh a URL still stale at the first verify deadline once more (within the day's
    /// quota), and verify it again [default: true].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub verify_heal: Option<bool>,

    /// Run only these targets of the config file's `targets:` (names, comma-separated)
    /// [default: all of them].
    #[arg(long, value_name = "NAMES")]
    pub target: Option<String>,

    /// Git mode: the commit the last deploy came from (a SHA or a ref), or `auto` to read it
    /// from the CI event (GitHub push `before`, pull request base, GitLab variables).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// Git mode: the commit being deployed [default: the CI event's head, else HEAD].
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,

    /// Git mode: the repository checkout [default: .].
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Git mode: mapping rules, one per line: `GLOB => URL_TEMPLATE[, URL_TEMPLATE…]`,
    /// `!GLOB` excludes, `GLOB => @all` refreshes every root (see docs/mapping.md).
    #[arg(long, value_name = "RULES")]
    pub mapping: Option<String>,

    /// YAML config file [default: .cdn-refresh.yml in the repository or the current directory, when present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Git mode, when the base commit is unknown: fail (exit 2, default), all (refresh every
    /// mapped root as a directory) or skip (send nothing, exit 0).
    #[arg(long, value_name = "POLICY")]
    pub on_missing_base: Option<String>,

    /// Git mode: keep a marker of the last run that ended fully successful (every URL
    /// complete, fresh when verified), and diff from it with `--base auto`: git (a ref in
    /// origin, the default), site:URL (a file published with the site; see `marker write`)
    /// or off.
    #[arg(long, num_args = 0..=1, default_missing_value = "git", value_name = "STORE")]
    pub marker: Option<String>,

    /// Git mode: the ref of the git marker, `{target}` being the target's name
    /// [default: refs/cdn-refresh/{target}; a run without targets: refs/cdn-refresh/default].
    #[arg(long, value_name = "REF")]
    pub marker_ref: Option<String>,

    /// Git mode: when more than N changed files map under one directory URL, refresh the
    /// directory instead [default: never].
    #[arg(long, value_name = "N")]
    pub collapse_threshold: Option<usize>,

    /// Refresh at most N paths: the least valuable (those that share a directory with many
    /// others) are collapsed into their directory, each collapse listed in the report; for
    /// providers that bill per path (CloudFront) [default: no cap].
    #[arg(long, value_name = "N")]
    pub max_paths: Option<usize>,

    /// The options only some providers take (`--area`, `--refresh-mode`, …), by config key
    /// (`l2_preload`), as given on the command line or in the env; their flags come from
    /// the providers' declarations ([`crate::providers::registry::OptionSpec`]).
    #[arg(skip)]
    pub provider_options: BTreeMap<String, String>,

    /// The options whose value came from the environment, not the command line: long flag
    /// → the variable (`INPUT_TASK`), so an error names what the user set.
    #[arg(skip)]
    pub from_env: BTreeMap<String, String>,

    /// Not supported: the seed script's AccessKey id flag (credentials come from the environment).
    #[arg(short = 'i', hide = true, value_name = "KEY")]
    pub seed_key_id: Option<String>,

    /// Not supported: the seed script's AccessKey secret flag (credentials come from the environment).
    #[arg(short = 'k', hide = true, value_name = "SECRET")]
    pub seed_key_secret: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// Task ids, as a run reports them.
    #[arg(required = true, value_name = "TASK_ID")]
    pub task_ids: Vec<String>,
    #[command(flatten)]
    pub run: ConnectArgs,
}

/// The options of `quota` and `status`: which account, and how long to try. They send no
/// URL and wait for no task, so they take none of the other run options (an option that
/// changed nothing would only mislead). `RunArgs` with the others unset.
#[derive(Debug, Clone, Default)]
pub struct ConnectArgs(pub RunArgs);

/// The clap ids of the [`RunArgs`] that [`ConnectArgs`] takes; the providers' own options
/// are added to every command, as for a run.
const CONNECT_OPTIONS: [&str; 8] = [
    "provider",
    "endpoint",
    "timeout",
    "config",
    "repo",
    "target",
    "seed_key_id",
    "seed_key_secret",
];

/// The [`RunArgs`] that `plan` takes and does not list: they matter only when sending.
const SENDING_ONLY: [&str; 15] = [
    "dry_run",
    "wait",
    "timeout",
    "poll_interval",
    "endpoint",
    "qps",
    "concurrency",
    "resume",
    "on_dir_refresh_denied",
    "dotenv",
    "fail_on",
    "verify",
    "verify_root",
    "verify_connect",
    "verify_heal",
];

impl std::ops::Deref for ConnectArgs {
    type Target = RunArgs;
    fn deref(&self) -> &RunArgs {
        &self.0
    }
}

impl Args for ConnectArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        // The run's own declarations, so help, value names and env fallbacks agree.
        let run = RunArgs::augment_args(clap::Command::new("run"));
        let kept = run
            .get_arguments()
            .filter(|a| CONNECT_OPTIONS.contains(&a.get_id().as_str()))
            .cloned();
        cmd.args(kept)
            .mut_arg("repo", |a| {
                a.help("The repository checkout, where .cdn-refresh.yml is looked for [default: .]")
            })
            .mut_arg("timeout", |a| {
                a.help("Bound on the calls, retries included, e.g. 90s, 10m [default: 10m]")
            })
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConnectArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        Ok(ConnectArgs(RunArgs {
            provider: m.remove_one("provider"),
            endpoint: m.remove_one("endpoint"),
            timeout: m.remove_one("timeout"),
            config: m.remove_one("config"),
            repo: m.remove_one("repo"),
            target: m.remove_one("target"),
            seed_key_id: m.remove_one("seed_key_id"),
            seed_key_secret: m.remove_one("seed_key_secret"),
            ..RunArgs::default()
        }))
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct DemoArgs {
    /// Also write the JSON report here.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Gives every long option of `cmd` its environment fallback as a hidden default.
fn with_env_defaults(cmd: clap::Command, env: &Env) -> clap::Command {
    cmd.mut_args(|a| {
        let value = a.get_long().and_then(|long| env.input(long));
        match value {
            Some(value) => {
                let value = value.to_string();
                a.default_value(value).hide_default_value(true)
            }
            None => a,
        }
    })
}

/// `--provider`: the registered providers, each with its line of help.
fn provider_parser() -> impl TypedValueParser<Value = ProviderKind> {
    PossibleValuesParser::new(
        ProviderKind::all().map(|k| PossibleValue::new(k.name()).help(k.spec().about)),
    )
    .map(|name| ProviderKind::named(&name).expect("a registered name"))
}

/// The help that ends `--help`: the env fallbacks, each provider's credential variables,
/// the exit codes. Laid out by hand within 80 columns: clap wraps a longer line of this
/// text without its indent, which broke the lists mid-entry.
fn after_help() -> String {
    let mut text = String::from(
        "Every option also reads INPUT_<NAME> or CDN_REFRESH_<NAME> from the env.\n\
         Credentials come from the environment only (or the inputs access-key-id,\n\
         access-key-secret and security-token):\n",
    );
    for kind in ProviderKind::all() {
        let c = &kind.spec().credentials;
        let vars: Vec<&str> = [Some(c.id), Some(c.secret), c.token]
            .into_iter()
            .flatten()
            .chain(c.extra.iter().map(|(_, var)| *var))
            .collect();
        text.push_str(&hanging(&format!("  {:<8}", kind.name()), &vars.join(", ")));
    }
    text.push_str("\nExit codes:\n");
    for (code, meaning) in [
        ("0", "success, or nothing to send"),
        (
            "1",
            "some URLs failed (or pending, per --fail-on), or the provider could not be reached",
        ),
        ("2", "bad input or config; nothing was sent"),
        (
            "3",
            "the provider refused the run (credentials, quota, permissions, a domain not on the account)",
        ),
        (
            "130, 143",
            "interrupted (SIGINT, SIGTERM); --resume REPORT finishes the run",
        ),
    ] {
        text.push_str(&hanging(&format!("  {code:<10}"), meaning));
    }
    text.push_str("\nTry it without credentials: cdn-refresh demo");
    text
}

/// `text` after `head`, in lines of at most 79 columns, each line after the first indented
/// as far as `head` is long.
fn hanging(head: &str, text: &str) -> String {
    let indent = " ".repeat(head.chars().count());
    let mut out = String::new();
    let mut line = head.to_string();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > 79 {
            out.push_str(&line);
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The help of the options whose defaults are the providers': the default provider, each
/// provider's endpoint, rate and batch size, from the declarations.
fn with_provider_defaults(cmd: clap::Command) -> clap::Command {
    let each = |f: &dyn Fn(ProviderKind) -> String| {
        ProviderKind::all()
            .map(|k| format!("{k} {}", f(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let endpoints = each(&|k| k.default_endpoint().to_string());
    let rates = each(&|k| k.limits().submit_per_second.to_string());
    let sizes = each(&|k| k.limits().refresh_urls_per_request.to_string());
    let default = ProviderKind::default_kind();
    let mut helps: HashMap<&str, String> = [
        ("provider", format!("CDN provider [default: {default}]")),
        (
            "endpoint",
            format!(
                "API base URL (the emulator, a private or regional endpoint) [default: the provider's: {endpoints}]"
            ),
        ),
        (
            "qps",
            format!(
                "Requests per second per API, below the provider's rate (never above it) [default: the provider's submit rate: {rates}]"
            ),
        ),
        (
            "batch_size",
            format!(
                "Paths per request, below the provider's maximum (never above it) [default: the provider's maximum; URL refresh: {sizes}]"
            ),
        ),
    ]
    .into();
    // `quota` and `status` take only some of them: the others are not met.
    cmd.mut_args(|a| match helps.remove(a.get_id().as_str()) {
        Some(help) => a.help(help),
        None => a,
    })
}

/// `plan` without the options that matter only when sending in its help: it still takes
/// them, so a run's command line previews as it is.
fn without_sending_options(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        let sending = SENDING_ONLY.contains(&a.get_id().as_str());
        if sending { a.hide(true) } else { a }
    })
}

/// Adds every provider's own options to a command that takes [`RunArgs`], under a heading
/// per provider.
fn with_provider_options(mut cmd: clap::Command) -> clap::Command {
    for kind in ProviderKind::all() {
        let spec = kind.spec();
        for option in spec.options {
            if cmd.get_arguments().any(|a| a.get_id() == option.key) {
                continue; // declared by an earlier provider too
            }
            let mut arg = Arg::new(option.key)
                .long(option.flag())
                .value_name(option.value_name)
                .help(option.help)
                .help_heading(spec.title)
                .action(ArgAction::Set);
            if let Some(short) = option.short {
                arg = arg.short(short);
            }
            if let OptionKind::Switch = option.kind {
                arg = arg
                    .num_args(0..=1)
                    .default_missing_value("true")
                    .value_parser(clap::builder::BoolishValueParser::new())
                    .value_name("BOOL");
            }
            cmd = cmd.arg(arg);
        }
    }
    cmd
}

/// The provider options given in `matches` (flags, or their env fallbacks), as text.
fn provider_options_of(matches: &ArgMatches) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in ProviderKind::option_keys() {
        let value = match ProviderKind::any_option(key).map(|o| &o.kind) {
            Some(OptionKind::Switch) => matches
                .try_get_one::<bool>(key)
                .ok()
                .flatten()
                .map(bool::to_string),
            _ => matches.try_get_one::<String>(key).ok().flatten().cloned(),
        };
        if let Some(value) = value {
            out.insert(key.to_string(), value);
        }
    }
    out
}

/// How an error names option `long` (`task`): the flag, or the variable it came from in
/// the words of the job that set it (`the \`task\` input (INPUT_TASK)`).
pub fn input_name(from_env: &BTreeMap<String, String>, long: &str) -> String {
    match from_env.get(long) {
        Some(var) => var_name(long, var),
        None => format!("--{long}"),
    }
}

/// The variable `var` that gave option `long`, as an error names it.
fn var_name(long: &str, var: &str) -> String {
    if var.starts_with("INPUT_") {
        format!("the `{long}` input ({var})")
    } else {
        var.to_string()
    }
}

impl RunArgs {
    /// [`input_name`] of this command line.
    pub fn input_name(&self, long: &str) -> String {
        input_name(&self.from_env, long)
    }
}

/// The options of `matches` whose value is the env fallback (a hidden default).
fn from_env_of(matches: &ArgMatches, cmd: &clap::Command, env: &Env) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for arg in cmd.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let defaulted = matches.try_contains_id(id).is_ok_and(|present| present)
            && matches.value_source(id) == Some(clap::parser::ValueSource::DefaultValue);
        if let Some(var) = defaulted.then(|| env.input_var(long)).flatten() {
            out.insert(long.to_string(), var);
        }
    }
    out
}

/// A clap error about a value that came from the environment, reworded to name the
/// variable (and the action's input) instead of a flag the user never typed.
fn from_env_error(e: clap::Error, argv: &[OsString], env: &Env) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return e;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let Some(long) = arg
        .split_whitespace()
        .next()
        .and_then(|f| f.strip_prefix("--"))
        .map(str::to_string)
    else {
        return e;
    };
    let typed = argv
        .iter()
        .filter_map(|a| a.to_str())
        .any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    let Some(var) = env.input_var(&long).filter(|_| !typed) else {
        return e;
    };
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => crate::echo::cap(v, crate::echo::VALUE).into_owned(),
        _ => String::new(),
    };
    let fix = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("use one of: {}", valid.join(", ")),
        _ => format!("see `cdn-refresh --help` for --{long}"),
    };
    let named = var_name(&long, &var);
    clap::Error::raw(
        ErrorKind::InvalidValue,
        format!("{named}: `{value}` is not a valid value\n  fix: {fix}\n"),
    )
}

/// clap's error for an option of a run given to `quota` or `status`, which do not take it,
/// reworded to say so and how to see what they take.
fn not_taken_here(e: clap::Error, first: Option<&str>) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let (Some(sub @ ("quota" | "status")), ErrorKind::UnknownArgument) = (first, e.kind()) else {
        return e;
    };
    let Some(ContextValue::String(given)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let flag = given.split('=').next().unwrap_or(given);
    let run = RunArgs::augment_args(clap::Command::new("run"));
    let of_run = run.get_arguments().filter(|a| !a.is_hide_set()).any(|a| {
        a.get_long().is_some_and(|l| flag == format!("--{l}"))
            || a.get_short().is_some_and(|s| flag == format!("-{s}"))
    });
    if !of_run {
        return e;
    }
    clap::Error::raw(
        ErrorKind::UnknownArgument,
        format!(
            "{flag}: an option of a run, which `{sub}` does not take (it sends no URL and waits for no task)\n  fix: drop it; `cdn-refresh {sub} --help` lists what {sub} takes\n"
        ),
    )
}

/// The subcommands that take [`RunArgs`].
const RUN_COMMANDS: [&str; 4] = ["run", "plan", "quota", "status"];

/// One of [`RUN_COMMANDS`] built now, from the derive's deferred shell (its name and help):
/// its own options, then the providers' options it takes. Built here rather than by clap
/// when it parses, since the environment's defaults must go on after.
fn run_subcommand(shell: clap::Command) -> clap::Command {
    // Replaces the derive's deferred `augment_args`, done here instead.
    let shell = shell.defer(|built| built);
    match shell.get_name() {
        "run" => with_provider_options(RunArgs::augment_args(shell)),
        "plan" => without_sending_options(with_provider_options(PlanArgs::augment_args(shell))),
        "quota" => with_provider_options(ConnectArgs::augment_args(shell)),
        "status" => with_provider_options(StatusArgs::augment_args(shell)),
        other => unreachable!("{other} is not a run subcommand"),
    }
}

/// Parses the command line with the environment fallbacks.
pub fn parse(args: impl IntoIterator<Item = OsString>, env: &Env) -> Result<Cli, clap::Error> {
    let argv: Vec<OsString> = args.into_iter().collect();
    // Flags of the run at the top level cannot stand before a subcommand, so its name is
    // the first argument.
    let first = argv.get(1).and_then(|a| a.to_str());
    let mut cmd = with_provider_defaults(with_provider_options(Cli::command()));
    // The top level's env fallbacks only when it runs: clap checks a default even when a
    // subcommand is named, so a run's input (`INPUT_WAIT=maybe`) would stop `quota`.
    let subcommand = first.is_some_and(|f| f == "help" || cmd.find_subcommand(f).is_some());
    if !subcommand {
        cmd = with_env_defaults(cmd, env);
    }
    cmd = cmd.after_help(after_help());
    // Only the subcommand named (or all, for `help`) is built, with the providers' options:
    // building every subcommand was most of the start-up of `--version`.
    for sub in RUN_COMMANDS {
        if first.is_some_and(|f| f == sub || f == "help") {
            cmd = cmd.mut_subcommand(sub, |shell| {
                with_env_defaults(with_provider_defaults(run_subcommand(shell)), env)
            });
        }
    }
    let matches = cmd
        .try_get_matches_from_mut(argv.iter().cloned())
        .map_err(|e| not_taken_here(from_env_error(e, &argv, env), first))?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.run.provider_options = provider_options_of(&matches);
    cli.run.from_env = from_env_of(&matches, &cmd, env);
    if let Some((name, sub)) = matches.subcommand() {
        let options = provider_options_of(sub);
        let from_env = cmd
            .find_subcommand(name)
            .map(|sc| from_env_of(sub, sc, env))
            .unwrap_or_default();
        let run = match &mut cli.command {
            Some(Command::Run(run) | Command::Quota(ConnectArgs(run))) => Some(run),
            Some(Command::Plan(plan)) => Some(&mut plan.run),
            Some(Command::Status(status)) => Some(&mut status.run.0),
            _ => None,
        };
        if let Some(run) = run {
            run.provider_options = options;
            run.from_env = from_env;
        }
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn parse_with(args: &[&str], e: &Env) -> Cli {
        parse(args.iter().map(OsString::from), e).unwrap()
    }

    #[test]
    fn input_names_in_every_spelling() {
        let e = env(&[("INPUT_URLS-FILE", "a.txt")]);
        assert_eq!(e.input("urls-file"), Some("a.txt"));
        let e = env(&[("INPUT_URLS_FILE", " b.txt ")]);
        assert_eq!(e.input("urls-file"), Some("b.txt"));
        let e = env(&[("CDN_REFRESH_URLS_FILE", "c.txt")]);
        assert_eq!(e.input("urls-file"), Some("c.txt"));
        let e = env(&[("INPUT_URLS-FILE", ""), ("CDN_REFRESH_URLS_FILE", "c.txt")]);
        assert_eq!(e.input("urls-file"), Some("c.txt"), "empty means unset");
        // The index of fallbacks narrows the look-up; the spellings still decide.
        let e = env(&[
            ("INPUT_urls-file", "d.txt"),
            ("CDN_REFRESH_URLS-FILE", "e.txt"),
        ]);
        assert_eq!(e.input("urls-file"), None);
        let e = env(&[("INPUT_URLS-FILE", "f.txt"), ("INPUT_URLS_FILE", "g.txt")]);
        assert_eq!(
            e.input("urls-file"),
            Some("f.txt"),
            "GitHub's spelling first"
        );
    }

    #[test]
    fn seed_script_flags_work_as_a_drop_in() {
        let cli = parse_with(
            &[
                "cdn-refresh",
                "-r",
                "urls.txt",
                "-t",
                "clear",
                "-o",
                "Directory",
            ],
            &Env::default(),
        );
        assert!(cli.command.is_none());
        assert_eq!(cli.run.urls_file.as_deref(), Some("urls.txt"));
        assert_eq!(cli.run.task.as_deref(), Some("clear"));
        assert_eq!(cli.run.object_type.as_deref(), Some("Directory"));
        let cli = parse_with(
            &["cdn-refresh", "-r", "u.txt", "-t", "push", "-a", "domestic"],
            &Env::default(),
        );
        assert_eq!(
            cli.run.provider_options.get("area").map(String::as_str),
            Some("domestic")
        );
    }

    #[test]
    fn env_fills_what_flags_leave_out_and_flags_win() {
        let e = env(&[
            ("INPUT_TASK", "both"),
            ("INPUT_DRY-RUN", "true"),
            ("CDN_REFRESH_TIMEOUT", "90s"),
        ]);
        let cli = parse_with(&["cdn-refresh", "run", "--task", "refresh"], &e);
        let Some(Command::Run(run)) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.task.as_deref(), Some("refresh"));
        assert_eq!(run.dry_run, Some(true));
        assert_eq!(run.timeout.as_deref(), Some("90s"));
        let cli = parse_with(&["cdn-refresh"], &e);
        assert_eq!(cli.run.task.as_deref(), Some("both"));
    }

    #[test]
    fn boolean_flags_take_an_optional_value() {
        let cli = parse_with(
            &["cdn-refresh", "--wait", "false", "--force"],
            &Env::default(),
        );
        assert_eq!(cli.run.wait, Some(false));
        assert_eq!(
            cli.run.provider_options.get("force").map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn help_never_shows_values_from_the_environment() {
        let e = env(&[("INPUT_ENDPOINT", "http://secret-endpoint.example")]);
        let err = parse(["cdn-refresh", "run", "--help"].map(OsString::from), &e).unwrap_err();
        assert!(!err.to_string().contains("secret-endpoint"));
    }
}
