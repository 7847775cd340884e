//! `cdn-refresh`: parse → settings → run → sinks; every error becomes an exit code.
//!
//! This is the only place that reads the process environment (once, into [`Env`]).

use std::io::Read;
use std::process::ExitCode;

use cdn_refresh::cli::{self, Cli, Command, Env, Format, RunArgs};
use cdn_refresh::http::retry::with_retry;
use cdn_refresh::output::ci::Ci;
use cdn_refresh::output::{github, text};
use cdn_refresh::providers::Operation;
use cdn_refresh::providers::aliyun::Aliyun;
use cdn_refresh::providers::qiniu::Qiniu;
use cdn_refresh::providers::{Provider, ProviderKind, QuotaKind, TaskId};
use cdn_refresh::report::{GitReport, Report, RunStatus, Stop, UrlStatus};
use cdn_refresh::run::{self, RunError};
use cdn_refresh::settings::{self, Connection, FailOn, InputError, Settings};

/// Exit codes of the contract.
const SUCCESS: u8 = 0;
const URLS_FAILED: u8 = 1;
const BAD_INPUT: u8 = 2;
const REFUSED: u8 = 3;

fn main() -> ExitCode {
    let env = Env::new(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    // `--version`, `--help` and flag errors print no secret (credentials are never flags),
    // so they come before the masks, which would otherwise land in `$(cdn-refresh --version)`.
    let cli = match cli::parse(std::env::args_os(), &env) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { BAD_INPUT } else { SUCCESS });
        }
    };
    // Masks next: nothing printed later, by us or by a library, can show a secret.
    if env.get("GITHUB_ACTIONS") == Some("true") {
        for secret in settings::secret_values(&env) {
            emit(&github::add_mask(&secret));
        }
    }
    init_logging(&env);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(URLS_FAILED);
        }
    };
    ExitCode::from(runtime.block_on(dispatch(cli, env)))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn init_logging(env: &Env) {
    let filter = tracing_subscriber::EnvFilter::new(env.get("CDN_REFRESH_LOG").unwrap_or("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn dispatch(cli: Cli, env: Env) -> u8 {
    match cli.command {
        None => run_command(&cli.run, &env).await,
        Some(Command::Run(args)) => run_command(&args, &env).await,
        Some(Command::Plan(plan)) => {
            let settings = match load(&plan.run, &env) {
                Ok(s) => s,
                Err(code) => return code,
            };
            print_plan(&settings, plan.format)
        }
        Some(Command::Quota(args)) => quota_command(&args, &env).await,
        Some(Command::Status(status)) => status_command(&status.run, &status.task_ids, &env).await,
        #[cfg(feature = "emulator")]
        Some(Command::Emulator(args)) => match cdn_refresh::emulator::run_cli(args).await {
            Ok(()) => SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                BAD_INPUT
            }
        },
        #[cfg(feature = "emulator")]
        Some(Command::Demo(args)) => demo_command(args.report.as_deref()).await,
    }
}

fn load(args: &RunArgs, env: &Env) -> Result<Settings, u8> {
    settings::settings(args, env, &mut || {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    })
    .map_err(|e| {
        emit(&Ci::detect(env, None).error("cdn-refresh: bad input", &e.to_string()));
        input_error(&e)
    })
}

fn input_error(e: &InputError) -> u8 {
    eprintln!("error: {e}");
    BAD_INPUT
}

fn provider(connection: &Connection, env: &Env) -> Result<Box<dyn Provider>, u8> {
    let endpoint = connection.endpoint.clone();
    let client = match connection.provider {
        ProviderKind::Aliyun => {
            let credentials = settings::aliyun_credentials(env).map_err(|e| input_error(&e))?;
            Aliyun::new(endpoint, credentials, connection.aliyun.clone())
                .map(|p| Box::new(p) as Box<dyn Provider>)
        }
        ProviderKind::Qiniu => {
            let credentials = settings::qiniu_credentials(env).map_err(|e| input_error(&e))?;
            Qiniu::new(endpoint, credentials).map(|p| Box::new(p) as Box<dyn Provider>)
        }
    };
    client.map_err(|e| {
        eprintln!("error: cannot set up the HTTP client: {e}");
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

#[derive(serde::Serialize)]
struct BatchJson<'a> {
    operation: Operation,
    object_type: cdn_refresh::providers::ObjectType,
    urls: &'a [String],
}

fn print_plan(settings: &Settings, format: Format) -> u8 {
    let limits = settings.connection.provider.limits();
    match format {
        Format::Text => {
            if let Some(g) = &settings.git {
                emit(&git_summary(&g.report));
            }
            if settings.plan.is_empty() {
                let why = if settings.skip {
                    "skipped"
                } else {
                    "no mapped change"
                };
                emit(&format!("plan: nothing to send ({why})\n"));
            } else {
                emit(&text::plan(&settings.plan, limits, settings.run.batch_size))
            }
        }
        Format::Json => {
            let mut batches = settings
                .plan
                .refresh_batches(limits, settings.run.batch_size);
            batches.extend(cdn_refresh::plan::Plan::prefetch_batches(
                &settings.plan.prefetch,
                limits,
                settings.run.batch_size,
            ));
            let json = PlanJson {
                status: if settings.skip { "skipped" } else { "dry-run" },
                git: settings.git.as_ref().map(|g| GitJson {
                    report: &g.report,
                    changed: &g.changes,
                }),
                provider: settings.connection.provider,
                task: settings.task,
                plan: &settings.plan,
                limits,
                batches: batches
                    .iter()
                    .map(|b| BatchJson {
                        operation: b.kind.operation,
                        object_type: b.kind.object_type,
                        urls: &b.urls,
                    })
                    .collect(),
                quota_needs: settings.plan.quota_needs(),
            };
            // Written straight to stdout: a plan of tens of thousands of URLs is megabytes,
            // and building it as a JSON value first doubled the time and the memory.
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = serde_json::to_writer_pretty(&mut out, &json)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| out.flush());
        }
    }
    SUCCESS
}

fn write_report(report: &Report, settings: &Settings) -> Result<(), u8> {
    if let Some(path) = &settings.report_path {
        let json = serde_json::to_string_pretty(report).expect("plain data");
        std::fs::write(path, json + "\n").map_err(|e| {
            eprintln!("error: cannot write the report to {}: {e}", path.display());
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

/// Directory collapses go out only if the day's directory quota covers every directory of
/// the plan; otherwise they are undone and the files are refreshed instead. If the quota
/// cannot be read here, the plan is left as it is: the run's own quota check decides.
async fn keep_collapses_within_quota(
    provider: &dyn Provider,
    plan: &mut cdn_refresh::plan::Plan,
    collapses: &mut [cdn_refresh::report::Collapse],
) {
    if collapses.is_empty() {
        return;
    }
    let needed = plan
        .quota_needs()
        .get(&QuotaKind::RefreshDirectory)
        .copied()
        .unwrap_or(0);
    let quota = match with_retry(
        &Default::default(),
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

/// Folds the log per phase in CI (GitHub groups, GitLab sections).
struct Folding<'a>(&'a Ci);

impl run::PhaseObserver for Folding<'_> {
    fn started(&self, operation: Operation, urls: usize) {
        emit(&self.0.begin(
            &format!("cdn_refresh_{operation}"),
            &format!("cdn-refresh: {operation} {urls} URLs"),
        ));
    }
    fn finished(&self, operation: Operation) {
        emit(&self.0.end(&format!("cdn_refresh_{operation}")));
    }
}

async fn run_command(args: &RunArgs, env: &Env) -> u8 {
    let ci = Ci::detect(env, args.dotenv.clone());
    let mut settings = match load(args, env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if settings.report_path.is_none() {
        settings.report_path = ci.default_report_path();
    }
    let (report, code) = match produce(&mut settings, env, &ci).await {
        Ok(done) => done,
        Err(code) => return code,
    };
    // Every path below publishes the same way: report file, then CI outputs.
    let written = write_report(&report, &settings);
    match ci.publish(&report, settings.report_path.as_deref()) {
        Ok(notes) => emit(&notes),
        Err(e) => {
            eprintln!("error: {e}");
            return written.err().unwrap_or(URLS_FAILED).max(code);
        }
    }
    written.err().unwrap_or(code)
}

/// The run proper: a report of what happened to every URL, and the exit code it earns.
/// `Err` is an exit before any report exists (the provider client could not be built).
async fn produce(settings: &mut Settings, env: &Env, ci: &Ci) -> Result<(Report, u8), u8> {
    if settings.duplicates > 0 {
        tracing::info!("{} duplicate URL lines dropped", settings.duplicates);
    }
    let git = settings.git.as_ref().map(|g| g.report.clone());
    if let Some(g) = &settings.git {
        emit(&ci.begin("cdn_refresh_plan", "cdn-refresh: git changes"));
        emit(&ci.verbatim(&git_summary(&g.report)));
        emit(&ci.end("cdn_refresh_plan"));
    }
    if settings.skip || (settings.git.is_some() && settings.plan.is_empty()) {
        // Git mode with nothing to send: a skipped missing base, or no mapped change.
        let status = if settings.skip {
            RunStatus::Skipped
        } else {
            RunStatus::Success
        };
        emit(&format!("nothing to send ({})\n", status.as_str()));
        let mut report =
            Report::without_tasks(settings.connection.provider, status, Vec::new(), None, None);
        report.git = git;
        return Ok((report, SUCCESS));
    }
    if settings.dry_run {
        emit(&ci.verbatim(&text::plan(
            &settings.plan,
            settings.connection.provider.limits(),
            settings.run.batch_size,
        )));
        let urls = run::listed(&settings.plan, UrlStatus::Planned, None);
        let mut report = Report::without_tasks(
            settings.connection.provider,
            RunStatus::DryRun,
            urls,
            None,
            None,
        );
        report.git = git;
        return Ok((report, SUCCESS));
    }
    let provider = provider(&settings.connection, env)?;
    let mut git = git;
    if let Some(g) = git.as_mut() {
        keep_collapses_within_quota(provider.as_ref(), &mut settings.plan, &mut g.collapses).await;
    }
    match run::execute_observed(
        provider.as_ref(),
        &settings.plan,
        &settings.run,
        &Folding(ci),
    )
    .await
    {
        Ok(mut report) => {
            report.git = git;
            if let Some(g) = report.git.as_mut() {
                for c in &mut g.collapses {
                    if report.directories_refused.contains(&c.directory) {
                        c.not_applied = Some(
                            "the provider refused the directory refresh: the changed files were refreshed instead"
                                .into(),
                        );
                    }
                }
            }
            emit(&ci.verbatim(&text::summary(&report, settings.report_path.as_deref())));
            let code = exit_code(&report, settings.fail_on);
            Ok((report, code))
        }
        Err(err) => {
            let (quota, stop) = match &err {
                RunError::QuotaShortfall { quota, shortfalls } => {
                    eprintln!("error: {}", text::shortfalls(shortfalls));
                    let stop = Stop {
                        code: "QuotaShortfall".into(),
                        message: text::shortfalls(shortfalls),
                        hint: None,
                    };
                    (Some(quota.clone()), stop)
                }
                RunError::QuotaCheck(e) => {
                    eprintln!("error: the quota check failed, so nothing was sent: {e}");
                    if let Some(hint) = &e.hint {
                        eprintln!("  fix: {hint}");
                    }
                    let stop = Stop {
                        code: e.code.clone(),
                        message: e.message.clone(),
                        hint: e.hint.clone(),
                    };
                    (None, stop)
                }
            };
            let reason = err.to_string();
            let urls = run::listed(&settings.plan, UrlStatus::Rejected, Some(&reason));
            let mut report = Report::without_tasks(
                settings.connection.provider,
                RunStatus::Failed,
                urls,
                quota,
                Some(stop),
            );
            report.git = git;
            Ok((report, REFUSED))
        }
    }
}

#[cfg(feature = "emulator")]
async fn demo_command(report_path: Option<&std::path::Path>) -> u8 {
    match cdn_refresh::demo::run().await {
        Ok(report) => {
            if let Some(path) = report_path {
                let json = serde_json::to_string_pretty(&report).expect("plain data");
                if let Err(e) = std::fs::write(path, json + "\n") {
                    eprintln!("error: cannot write the report to {}: {e}", path.display());
                    return URLS_FAILED;
                }
            }
            emit(&text::summary(&report, report_path));
            exit_code(&report, FailOn::Failed)
        }
        Err(e) => {
            eprintln!("error: the demo failed: {e:#}");
            URLS_FAILED
        }
    }
}

/// The provider for the commands that take no URL list (`quota`, `status`).
fn connect(args: &RunArgs, env: &Env) -> Result<Box<dyn Provider>, u8> {
    let connection = settings::with_config(args)
        .and_then(|(a, _)| settings::connection(&a))
        .map_err(|e| input_error(&e))?;
    provider(&connection, env)
}

async fn quota_command(args: &RunArgs, env: &Env) -> u8 {
    let provider = match connect(args, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if provider.quota_in_answers() {
        emit(&format!(
            "quota: {} has no quota call; each refresh and prefetch answer says what is left, and a run's report has it under quota_after\n",
            provider.kind()
        ));
        return SUCCESS;
    }
    match with_retry(
        &Default::default(),
        || provider.quota(),
        |e, _, _| tracing::warn!("quota: {e}; retrying"),
    )
    .await
    {
        Ok(q) => {
            emit(&text::quota(&q));
            SUCCESS
        }
        Err(err) => refused(&err),
    }
}

fn refused(err: &cdn_refresh::providers::ProviderError) -> u8 {
    eprintln!("error: {err}");
    if let Some(hint) = &err.hint {
        eprintln!("  fix: {hint}");
    }
    REFUSED
}

async fn status_command(args: &RunArgs, ids: &[String], env: &Env) -> u8 {
    let provider = match connect(args, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let ids: Vec<TaskId> = ids
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| TaskId(s.trim().to_string()))
        .collect();
    let mut states = Vec::new();
    for chunk in ids.chunks(provider.limits().status_ids_per_query) {
        match with_retry(
            &Default::default(),
            || provider.poll(chunk),
            |e, _, _| tracing::warn!("status: {e}; retrying"),
        )
        .await
        {
            Ok(found) => states.extend(found),
            Err(err) => return refused(&err),
        }
    }
    emit(&text::task_states(&states));
    SUCCESS
}
