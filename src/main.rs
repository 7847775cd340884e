//! `cdn-refresh`: parse → settings → run → sinks; every error becomes an exit code.
//!
//! This is the only place that reads the process environment (once, into [`Env`]).

/// The static (musl) binary allocates with mimalloc: see Cargo.toml.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use cdn_refresh::cli::{self, Cli, Command, Env, Format, RunArgs};
use cdn_refresh::fanout;
use cdn_refresh::http::bounds::{Bounds, GRACE, Interrupt, Signal};
use cdn_refresh::http::retry::with_retry;
use cdn_refresh::output::ci::Ci;
use cdn_refresh::output::{console, github, json, text};
use cdn_refresh::providers::Operation;
use cdn_refresh::providers::registry::Connect;
use cdn_refresh::providers::{Provider, ProviderKind, QuotaKind, TaskId};
use cdn_refresh::report::{GitReport, MultiReport, Report, RunStatus, UrlStatus};
use cdn_refresh::run;
use cdn_refresh::settings::{self, Connection, CredentialSource, FailOn, InputError, Settings};

/// Exit codes of the contract.
const SUCCESS: u8 = 0;
const URLS_FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;
const REFUSED: u8 = 3;

/// `eprintln!` through the console, which neutralises it in a GitHub job.
macro_rules! errln {
    ($($arg:tt)*) => {
        console::eprint(&format!("{}\n", format_args!($($arg)*)))
    };
}

fn main() -> ExitCode {
    let env = Env::new(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    // Everything printed from here on goes through the console.
    let github = env.get("GITHUB_ACTIONS") == Some("true");
    console::init(github);
    // `--version`, `--help` and flag errors print no secret (credentials are never flags),
    // so they come before the masks, which would otherwise land in `$(cdn-refresh --version)`.
    let cli = match cli::parse(std::env::args_os(), &env) {
        Ok(cli) => cli,
        Err(e) => {
            print_clap(&e);
            return ExitCode::from(if e.use_stderr() { BAD_INPUT } else { SUCCESS });
        }
    };
    // Masks next: nothing printed later, by us or by a library, can show a secret.
    if github {
        mask(&settings::secret_values(&env));
    }
    init_logging(&env);
    // `plan` awaits nothing, so it runs on this thread without tokio: starting the runtime
    // and its worker threads was a tenth of a one-file plan. (Were its arm of `dispatch` to
    // await I/O some day, this would panic in the tests that run `plan`.)
    let interrupt = Interrupt::default();
    if matches!(cli.command, Some(Command::Plan(_))) {
        return ExitCode::from(futures::executor::block_on(dispatch(cli, env, interrupt)));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(URLS_FAILED);
        }
    };
    // Only a run finishes its work on a signal; the other commands (the emulator, `quota`,
    // `status`) end at once, as any program does.
    let runs = matches!(cli.command, None | Some(Command::Run(_)));
    ExitCode::from(runtime.block_on(async {
        if runs {
            tokio::spawn(listen_for_signals(interrupt.clone()));
        }
        dispatch(cli, env, interrupt).await
    }))
}

/// SIGINT and SIGTERM (what a CI runner sends on cancel and timeout) raise the interrupt:
/// the run sends nothing new, gives the requests in flight a few seconds, then writes the
/// report, outputs and summary and exits 130 or 143. A second signal ends it at once.
async fn listen_for_signals(interrupt: Interrupt) {
    let mut first = true;
    loop {
        let Some(signal) = next_signal().await else {
            return;
        };
        if !first {
            std::process::exit(signal.exit_code().into());
        }
        first = false;
        tracing::warn!(
            "{}: sending nothing more; requests in flight get {}s, then the report is written (a second signal ends at once)",
            signal.name(),
            GRACE.as_secs()
        );
        interrupt.raise(signal);
    }
}

#[cfg(unix)]
async fn next_signal() -> Option<Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered once per call; a signal between two calls is still delivered (tokio keeps
    // the handler installed for the process).
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return None;
    };
    tokio::select! {
        _ = term.recv() => Some(Signal::Terminate),
        _ = int.recv() => Some(Signal::Interrupt),
    }
}

#[cfg(not(unix))]
async fn next_signal() -> Option<Signal> {
    tokio::signal::ctrl_c()
        .await
        .ok()
        .map(|_| Signal::Interrupt)
}

/// Help and version on stdout, flag errors (which quote the flag's value) on stderr, in
/// colour on a terminal as clap would.
fn print_clap(e: &clap::Error) {
    use std::io::IsTerminal;
    let terminal = if e.use_stderr() {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let text = if terminal {
        e.render().ansi().to_string()
    } else {
        e.render().to_string()
    };
    if e.use_stderr() {
        console::eprint(&text);
    } else {
        console::print(text);
    }
}

/// `::add-mask::` for every secret, in every form the log may show it in (GitHub only).
fn mask(secrets: &[String]) {
    if !secrets.is_empty() {
        console::print(github::add_masks(secrets));
    }
}

fn init_logging(env: &Env) {
    let filter = tracing_subscriber::EnvFilter::new(env.get("CDN_REFRESH_LOG").unwrap_or("info"));
    tracing_subscriber::fmt()
        .with_writer(console::Stderr)
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn dispatch(cli: Cli, env: Env, interrupt: Interrupt) -> u8 {
    match cli.command {
        None => run_command(&cli.run, &env, interrupt).await,
        Some(Command::Run(args)) => run_command(&args, &env, interrupt).await,
        Some(Command::Plan(plan)) => {
            let settings = match load(&plan.run, &env) {
                Ok(s) => s,
                Err(code) => return code,
            };
            if settings.targets.is_empty() {
                print_plan(&settings, plan.format)
            } else {
                print_target_plans(&settings, plan.format)
            }
        }
        Some(Command::Quota(args)) => {
            quota_command(&args, &env, &command_bounds(&args, interrupt)).await
        }
        Some(Command::Status(status)) => {
            let bounds = command_bounds(&status.run, interrupt);
            status_command(&status.run, &status.task_ids, &env, &bounds).await
        }
        #[cfg(feature = "emulator")]
        Some(Command::Emulator(args)) => match cdn_refresh::emulator::run_cli(args).await {
            Ok(()) => SUCCESS,
            Err(e) => {
                errln!("error: {e:#}");
                BAD_INPUT
            }
        },
        #[cfg(feature = "emulator")]
        Some(Command::Demo(args)) => demo_command(args.report.as_deref()).await,
    }
}

fn load(args: &RunArgs, env: &Env) -> Result<Settings, u8> {
    settings::settings(args, env, &mut || {
        cdn_refresh::url_list::read_capped(std::io::stdin().lock())
    })
    .map_err(|e| bad_input(env, &e))
}

/// An input error before the run: an annotation in a GitHub job, the message on stderr.
fn bad_input(env: &Env, e: &InputError) -> u8 {
    console::print(Ci::detect(env, None).error("cdn-refresh: bad input", &e.to_string()));
    input_error(e)
}

fn input_error(e: &InputError) -> u8 {
    errln!("error: {e}");
    BAD_INPUT
}

fn provider(
    connection: &Connection,
    credentials: &CredentialSource<'_>,
) -> Result<Box<dyn Provider>, u8> {
    let credentials =
        settings::credentials(connection.provider, credentials).map_err(|e| input_error(&e))?;
    let client = (connection.provider.spec().connect)(Connect {
        endpoint: connection.endpoint.clone(),
        credentials,
        options: connection.options.clone(),
    });
    client.map_err(|e| {
        errln!("error: cannot set up the HTTP client: {e}");
        URLS_FAILED
    })
}

/// One paragraph on git mode: the range, how the base was chosen, what the changes became.
fn git_summary(g: &GitReport) -> String {
    let mut out = match &g.base {
        Some(base) => format!(
            "git: {base}..{} (base from {}): {} changed, {} unmapped, {} excluded\n",
            g.head, g.base_source, g.changes, g.unmapped, g.excluded
        ),
        None => format!("git: no base for head {} ({})\n", g.head, g.base_source),
    };
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

/// `plan --format json`: the plan, the batches and, in git mode, the range and its changes.
#[derive(serde::Serialize)]
struct PlanJson<'a> {
    status: &'static str,
    git: Option<GitJson<'a>>,
    provider: ProviderKind,
    task: cdn_refresh::plan::TaskMode,
    plan: &'a cdn_refresh::plan::Plan,
    limits: &'a cdn_refresh::providers::Limits,
    batches: Vec<BatchJson<'a>>,
    quota_needs: std::collections::BTreeMap<QuotaKind, u64>,
}

#[derive(serde::Serialize)]
struct GitJson<'a> {
    #[serde(flatten)]
    report: &'a GitReport,
    changed: &'a [cdn_refresh::changes::Change],
}

/// A batch of `plan --format json`, its URLs borrowed from the plan.
#[derive(serde::Serialize)]
struct BatchJson<'a> {
    operation: Operation,
    object_type: cdn_refresh::providers::ObjectType,
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

/// The batches `plan` would send, refresh then prefetch. They borrow the plan's URLs:
/// copying them only to print them cost as much as cutting the batches.
fn batches_json<'a>(
    plan: &'a cdn_refresh::plan::Plan,
    limits: &cdn_refresh::providers::Limits,
    batch_size: Option<usize>,
) -> Vec<BatchJson<'a>> {
    let mut batches = plan.refresh_batch_refs(limits, batch_size);
    batches.extend(cdn_refresh::plan::Plan::prefetch_batch_refs(
        &plan.prefetch,
        limits,
        batch_size,
    ));
    batches
        .into_iter()
        .map(|b| BatchJson {
            operation: b.kind.operation,
            object_type: b.kind.object_type,
            urls: b.urls,
        })
        .collect()
}

fn print_plan(settings: &Settings, format: Format) -> u8 {
    let limits = settings.connection.provider.limits();
    match format {
        Format::Text => {
            if let Some(g) = &settings.git {
                console::print(git_summary(&g.report));
            }
            if settings.plan.is_empty() {
                let why = if settings.skip {
                    "skipped"
                } else {
                    "no mapped change"
                };
                console::print(format!("plan: nothing to send ({why})\n"));
            } else {
                console::print(text::plan(&settings.plan, limits, settings.run.batch_size))
            }
        }
        Format::Json => {
            let json = PlanJson {
                status: if settings.skip { "skipped" } else { "dry-run" },
                git: GitJson::of(settings),
                provider: settings.connection.provider,
                task: settings.task,
                plan: &settings.plan,
                limits,
                batches: batches_json(&settings.plan, limits, settings.run.batch_size),
                quota_needs: settings.plan.quota_needs(),
            };
            // Written straight to stdout: a plan of tens of thousands of URLs is megabytes,
            // and building it as a JSON value first doubled the time and the memory.
            json::print_pretty(&json);
        }
    }
    SUCCESS
}

/// `plan` for a run with several targets: each target's share of the plan, in its batches.
fn print_target_plans(settings: &Settings, format: Format) -> u8 {
    let plans: Vec<(&settings::Target, cdn_refresh::plan::Plan)> = settings
        .targets
        .iter()
        .map(|t| (t, fanout::plan_for(&settings.plan, t)))
        .collect();
    match format {
        Format::Text => {
            if let Some(g) = &settings.git {
                console::print(git_summary(&g.report));
            }
            for (t, plan) in &plans {
                let kind = t.connection.provider;
                console::print(format!("target {} ({kind}):\n", t.name));
                if plan.is_empty() {
                    console::print("plan: nothing to send\n");
                } else {
                    console::print(text::plan(plan, kind.limits(), t.run.batch_size));
                }
            }
        }
        Format::Json => {
            #[derive(serde::Serialize)]
            struct TargetJson<'a> {
                name: &'a str,
                provider: ProviderKind,
                plan: &'a cdn_refresh::plan::Plan,
                limits: &'a cdn_refresh::providers::Limits,
                batches: Vec<BatchJson<'a>>,
                quota_needs: std::collections::BTreeMap<QuotaKind, u64>,
            }
            #[derive(serde::Serialize)]
            struct TargetsJson<'a> {
                status: &'static str,
                git: Option<GitJson<'a>>,
                task: cdn_refresh::plan::TaskMode,
                targets: Vec<TargetJson<'a>>,
            }
            let json = TargetsJson {
                status: if settings.skip { "skipped" } else { "dry-run" },
                git: GitJson::of(settings),
                task: settings.task,
                targets: plans
                    .iter()
                    .map(|(t, plan)| {
                        let limits = t.connection.provider.limits();
                        TargetJson {
                            name: &t.name,
                            provider: t.connection.provider,
                            plan,
                            limits,
                            batches: batches_json(plan, limits, t.run.batch_size),
                            quota_needs: plan.quota_needs(),
                        }
                    })
                    .collect(),
            };
            json::print_pretty(&json);
        }
    }
    SUCCESS
}

fn write_report(report: &impl serde::Serialize, path: Option<&std::path::Path>) -> Result<(), u8> {
    if let Some(path) = path {
        let json = serde_json::to_string_pretty(report).expect("plain data");
        std::fs::write(path, json + "\n").map_err(|e| {
            errln!("error: cannot write the report to {}: {e}", path.display());
            URLS_FAILED
        })?;
    }
    Ok(())
}

fn exit_code(report: &Report, fail_on: FailOn) -> u8 {
    if report.stopped.is_some() {
        return REFUSED;
    }
    let failed = report
        .urls
        .iter()
        .any(|u| matches!(u.status, UrlStatus::Failed | UrlStatus::Rejected));
    let pending = report.urls.iter().any(|u| u.status == UrlStatus::Pending);
    match fail_on {
        FailOn::Never => SUCCESS,
        FailOn::Failed if failed => URLS_FAILED,
        FailOn::Pending if failed || pending => URLS_FAILED,
        _ => SUCCESS,
    }
}

/// Folds the log per phase in CI (GitHub groups, GitLab sections).
struct Folding<'a>(&'a Ci);

impl run::PhaseObserver for Folding<'_> {
    fn started(&self, operation: Operation, urls: usize) {
        console::print(self.0.begin(
            &format!("cdn_refresh_{operation}"),
            &format!("cdn-refresh: {operation} {urls} URLs"),
        ));
    }
    fn finished(&self, operation: Operation) {
        console::print(self.0.end(&format!("cdn_refresh_{operation}")));
    }
}

/// What a run produced: one provider's report, or the report of several targets.
enum Outcome {
    One(Box<Report>),
    Several(Box<MultiReport>),
}

/// The bounds of `quota` and `status`: their `--timeout`, and the interrupt.
fn command_bounds(args: &RunArgs, interrupt: Interrupt) -> Bounds {
    let timeout = settings::run_options(args)
        .map(|o| o.timeout)
        .unwrap_or_else(|_| cdn_refresh::run::RunOptions::default().timeout);
    Bounds::new(timeout, interrupt)
}

async fn run_command(args: &RunArgs, env: &Env, interrupt: Interrupt) -> u8 {
    let ci = Ci::detect(env, args.dotenv.clone());
    let mut settings = match load(args, env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    settings.run.interrupt = interrupt.clone();
    for target in &mut settings.targets {
        target.run.interrupt = interrupt.clone();
    }
    if env.get("GITHUB_ACTIONS") == Some("true") {
        // The targets' own credential variables are known only now that the config is read.
        mask(&settings::target_secret_values(env, &settings.targets));
    }
    if settings.report_path.is_none() {
        settings.report_path = ci.default_report_path();
    }
    // Before anything is sent: a run that spent the quota must be able to say what it did.
    if let Some(path) = &settings.report_path
        && let Err(e) = settings::writable_report(path)
    {
        return bad_input(env, &e);
    }
    if let Some(Err(e)) = args.resume.as_ref().map(|p| resume_from(p, &mut settings)) {
        return bad_input(env, &e);
    }
    let (outcome, code) = match produce(&mut settings, env, &ci).await {
        Ok(done) => done,
        Err(code) => return code,
    };
    // An interrupted run says so in its exit code, whatever its URLs did.
    let code = match interrupt.raised() {
        Some((signal, _)) => signal.exit_code(),
        None => code,
    };
    // Every path below publishes the same way: report file, then CI outputs.
    let path = settings.report_path.as_deref();
    let (written, published) = match &outcome {
        Outcome::One(report) => (write_report(report, path), ci.publish(report, path)),
        Outcome::Several(report) => (write_report(report, path), ci.publish_multi(report, path)),
    };
    match published {
        Ok(notes) => console::print(notes),
        Err(e) => {
            errln!("error: {e}");
            return written.err().unwrap_or(URLS_FAILED).max(code);
        }
    }
    written.err().unwrap_or(code)
}

/// Reads the report of the run being resumed (`--resume`) into each target's options.
fn resume_from(path: &std::path::Path, settings: &mut Settings) -> Result<(), InputError> {
    let bad = |why: String| {
        InputError::new(
            "--resume",
            format!("{}: {why}", path.display()),
            "give the report (--report) of an earlier run of this same command: same provider, targets and URLs",
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    if settings.targets.is_empty() {
        let report: Report = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a report of a run on one provider ({e})")))?;
        let prior = cdn_refresh::resume::Prior::of(
            &report,
            &settings.plan,
            settings.connection.provider,
            None,
        )
        .map_err(bad)?;
        settings.run.resume = Some(std::sync::Arc::new(prior));
        return Ok(());
    }
    let report: MultiReport = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a report of a run with targets ({e})")))?;
    let plan = &settings.plan;
    for target in &mut settings.targets {
        let own = report
            .targets
            .iter()
            .find(|r| r.target.as_deref() == Some(target.name.as_str()))
            .ok_or_else(|| bad(format!("it has no target `{}`", target.name)))?;
        let prior = cdn_refresh::resume::Prior::of(
            own,
            &fanout::plan_for(plan, target),
            target.connection.provider,
            Some(&target.name),
        )
        .map_err(|e| bad(format!("target {}: {e}", target.name)))?;
        target.run.resume = Some(std::sync::Arc::new(prior));
    }
    Ok(())
}

/// The run proper: a report of what happened to every URL, and the exit code it earns.
/// `Err` is an exit before any report exists (a provider client could not be built).
async fn produce(settings: &mut Settings, env: &Env, ci: &Ci) -> Result<(Outcome, u8), u8> {
    if settings.duplicates > 0 {
        tracing::info!("{} duplicate URL lines dropped", settings.duplicates);
    }
    let git = settings.git.as_ref().map(|g| g.report.clone());
    if let Some(g) = &settings.git {
        console::print(ci.begin("cdn_refresh_plan", "cdn-refresh: git changes"));
        console::print(ci.verbatim(&git_summary(&g.report)));
        console::print(ci.end("cdn_refresh_plan"));
    }
    let several = !settings.targets.is_empty();
    if settings.skip || (settings.git.is_some() && settings.plan.is_empty()) {
        // Git mode with nothing to send: a skipped missing base, or no mapped change.
        let status = if settings.skip {
            RunStatus::Skipped
        } else {
            RunStatus::Success
        };
        console::print(format!("nothing to send ({})\n", status.as_str()));
        let reports = each_target(settings, |kind, _, _, _| {
            Report::without_tasks(kind, status, Vec::new(), None, None)
        });
        return Ok((outcome(reports, git, several), SUCCESS));
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
        return Ok((outcome(reports, git, several), SUCCESS));
    }
    let mut git = git;
    let mut no_collapses = Vec::new();
    let collapses = git.as_mut().map_or(&mut no_collapses, |g| &mut g.collapses);
    if !several {
        let provider = provider(&settings.connection, &CredentialSource::standard(env))?;
        let report = fanout::send(
            provider.as_ref(),
            settings.plan.clone(),
            collapses,
            &settings.run,
            &Folding(ci),
        )
        .await;
        refused_before_sending(&report, None);
        console::print(ci.verbatim(&text::summary(&report, settings.report_path.as_deref())));
        let code = exit_code(&report, settings.fail_on);
        let mut report = report;
        report.git = git;
        return Ok((Outcome::One(Box::new(report)), code));
    }
    // Every target's client first: a missing credential stops the run before anything is sent.
    let only = settings.targets.len() == 1;
    let mut ready = Vec::new();
    for target in &settings.targets {
        let source = CredentialSource::of_target(env, target, only);
        let client = provider(&target.connection, &source)
            .inspect_err(|_| errln!("  (target `{}`; nothing was sent)", target.name))?;
        ready.push(fanout::Ready {
            target,
            provider: client,
        });
    }
    let names: Vec<&str> = settings.targets.iter().map(|t| t.name.as_str()).collect();
    console::print(ci.begin(
        "cdn_refresh_targets",
        &format!(
            "cdn-refresh: {} targets ({})",
            names.len(),
            names.join(", ")
        ),
    ));
    let reports = fanout::send_all(ready, &settings.plan, collapses).await;
    console::print(ci.end("cdn_refresh_targets"));
    let mut code = SUCCESS;
    for report in &reports {
        refused_before_sending(report, report.target.as_deref());
        console::print(ci.verbatim(&format!(
            "target {}: {}",
            report.target.as_deref().unwrap_or_default(),
            text::summary(report, None)
        )));
        code = code.max(exit_code(report, settings.fail_on));
    }
    let report = MultiReport::of(reports, git);
    if let Some(path) = &settings.report_path {
        console::print(format!("report: {}\n", path.display()));
    }
    Ok((Outcome::Several(Box::new(report)), code))
}

/// Says on stderr why a provider refused a run before anything was sent (quota, credentials).
fn refused_before_sending(report: &Report, target: Option<&str>) {
    let Some(stop) = report.stopped.as_ref().filter(|_| report.tasks.is_empty()) else {
        return;
    };
    let who = target.map(|t| format!("target {t}: ")).unwrap_or_default();
    if stop.code == "QuotaShortfall" {
        errln!("error: {who}{}", stop.message);
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

/// One report per target (or the one provider's), each made from its part of the plan.
fn each_target(
    settings: &Settings,
    mut make: impl FnMut(
        ProviderKind,
        &cdn_refresh::plan::Plan,
        &cdn_refresh::run::RunOptions,
        Option<&str>,
    ) -> Report,
) -> Vec<Report> {
    if settings.targets.is_empty() {
        return vec![make(
            settings.connection.provider,
            &settings.plan,
            &settings.run,
            None,
        )];
    }
    settings
        .targets
        .iter()
        .map(|t| {
            let plan = fanout::plan_for(&settings.plan, t);
            let mut report = make(t.connection.provider, &plan, &t.run, Some(&t.name));
            report.target = Some(t.name.clone());
            report
        })
        .collect()
}

fn outcome(mut reports: Vec<Report>, git: Option<GitReport>, several: bool) -> Outcome {
    if several {
        Outcome::Several(Box::new(MultiReport::of(reports, git)))
    } else {
        let mut report = reports.remove(0);
        report.git = git;
        Outcome::One(Box::new(report))
    }
}

#[cfg(feature = "emulator")]
async fn demo_command(report_path: Option<&std::path::Path>) -> u8 {
    match cdn_refresh::demo::run().await {
        Ok(report) => {
            if let Some(path) = report_path {
                let json = serde_json::to_string_pretty(&report).expect("plain data");
                if let Err(e) = std::fs::write(path, json + "\n") {
                    errln!("error: cannot write the report to {}: {e}", path.display());
                    return URLS_FAILED;
                }
            }
            console::print(text::summary(&report, report_path));
            exit_code(&report, FailOn::Failed)
        }
        Err(e) => {
            errln!("error: the demo failed: {e:#}");
            URLS_FAILED
        }
    }
}

/// The providers for the commands that take no URL list (`quota`, `status`): the one of
/// the flags, or each target of the config file that `--target` selects, by name.
/// A provider client, with the name of its target in a run with several.
type Named = (Option<String>, Box<dyn Provider>);

fn connect(args: &RunArgs, env: &Env) -> Result<Vec<Named>, u8> {
    let (args, targets) = settings::selected_targets(args, env).map_err(|e| input_error(&e))?;
    if env.get("GITHUB_ACTIONS") == Some("true") {
        // As in a run: the targets' own credential variables, masked before any call.
        mask(&settings::target_secret_values(env, &targets));
    }
    if targets.is_empty() {
        let connection = settings::connection(&args).map_err(|e| input_error(&e))?;
        return Ok(vec![(
            None,
            provider(&connection, &CredentialSource::standard(env))?,
        )]);
    }
    let only = targets.len() == 1;
    targets
        .iter()
        .map(|t| {
            let source = CredentialSource::of_target(env, t, only);
            Ok((Some(t.name.clone()), provider(&t.connection, &source)?))
        })
        .collect()
}

async fn quota_command(args: &RunArgs, env: &Env, bounds: &Bounds) -> u8 {
    let providers = match connect(args, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut code = SUCCESS;
    for (name, provider) in providers {
        if let Some(name) = &name {
            console::print(format!("target {name} ({}):\n", provider.kind()));
        }
        if provider.quota_in_answers() {
            console::print(format!(
                "quota: {} has no quota call; each refresh and prefetch answer says what is left, and a run's report has it under quota_after\n",
                provider.kind()
            ));
            continue;
        }
        match with_retry(
            &Default::default(),
            bounds,
            || provider.quota(),
            |e, _, _| tracing::warn!("quota: {e}; retrying"),
        )
        .await
        {
            Ok(q) => console::print(text::quota(&q)),
            Err(err) => code = code.max(refused(&err)),
        }
    }
    code
}

fn refused(err: &cdn_refresh::providers::ProviderError) -> u8 {
    errln!("error: {err}");
    if let Some(hint) = &err.hint {
        errln!("  fix: {hint}");
    }
    REFUSED
}

async fn status_command(args: &RunArgs, ids: &[String], env: &Env, bounds: &Bounds) -> u8 {
    let providers = match connect(args, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Ids of a run with several targets are written `target:id` (the task-ids output).
    let mut by_target: Vec<Vec<TaskId>> = vec![Vec::new(); providers.len()];
    for id in ids
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let named = id.split_once(':').and_then(|(name, rest)| {
            let i = providers
                .iter()
                .position(|(n, _)| n.as_deref() == Some(name))?;
            Some((i, rest))
        });
        let (i, raw) = match named {
            Some(found) => found,
            None if providers.len() == 1 => (0, id),
            None => {
                errln!(
                    "error: task id `{id}`: which target is it of?\n  fix: write it as TARGET:ID, as the task-ids output does, or choose one target with --target"
                );
                return BAD_INPUT;
            }
        };
        by_target[i].push(TaskId(raw.to_string()));
    }
    let mut code = SUCCESS;
    for ((name, provider), ids) in providers.iter().zip(by_target) {
        if ids.is_empty() {
            continue;
        }
        if let Some(name) = name {
            console::print(format!("target {name} ({}):\n", provider.kind()));
        }
        let mut states = Vec::new();
        for chunk in ids.chunks(provider.limits().status_ids_per_query) {
            match with_retry(
                &Default::default(),
                bounds,
                || provider.poll(chunk),
                |e, _, _| tracing::warn!("status: {e}; retrying"),
            )
            .await
            {
                Ok(found) => states.extend(found),
                Err(err) => {
                    code = code.max(refused(&err));
                    break;
                }
            }
        }
        console::print(text::task_states(&states));
    }
    code
}
