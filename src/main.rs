//! `cdn-refresh`: parse → settings → a command of [`app`] → sinks; every error becomes an
//! exit code.
//!
//! This is the only place that reads the process environment (once, into [`Env`]).

/// The static (musl) binary allocates with mimalloc: see Cargo.toml.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use cdn_refresh::app::exit::{BAD_INPUT, SUCCESS, URLS_FAILED};
use cdn_refresh::app::{self, plan::Rendered, run::Outcome};
use cdn_refresh::http::bounds::{GRACE, Interrupt, Signal};
use cdn_refresh::input::cli::{self, Cli, Command, Env, RunArgs};
use cdn_refresh::input::settings::{self, InputError, Settings};
use cdn_refresh::input::{credentials, targets};
use cdn_refresh::output::ci::Ci;
use cdn_refresh::output::{console, github, json, text};

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
        mask(&credentials::secret_values(&env));
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
            let settings = match load(&plan.run, &env, None) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match app::plan::render(&settings, plan.format) {
                Rendered::Text(text) => console::print(text),
                // Written straight to stdout: a plan of tens of thousands of URLs is
                // megabytes, and building it as a JSON value first doubled the time and
                // the memory.
                Rendered::Json(json) => json::print_pretty(&json),
                Rendered::Targets(json) => json::print_pretty(&json),
            }
            // `--report` writes what `--dry-run --report` would: every URL `planned`.
            let code = match settings.report_path.as_deref() {
                None => SUCCESS,
                Some(path) => match app::run::dry_run_report(&settings) {
                    Outcome::One(report) => write_report(&report, Some(path)),
                    Outcome::Several(report) => write_report(&report, Some(path)),
                }
                .err()
                .unwrap_or(SUCCESS),
            };
            // The process ends now: the plan of a large diff is hundreds of thousands of
            // allocations the system takes back at once (freeing them one by one was 3 % of
            // `plan` on a 25,000-change diff).
            std::mem::forget(settings);
            code
        }
        Some(Command::Quota(args)) => {
            let targets = match selected(&args, &env) {
                Ok(t) => t,
                Err(code) => return code,
            };
            match app::quota::quota(&targets, &env, interrupt).await {
                Ok(found) => print_sections(found.sections, text::quota, found.code),
                Err(e) => fail(&e),
            }
        }
        Some(Command::Status(status)) => {
            let targets = match selected(&status.run, &env) {
                Ok(t) => t,
                Err(code) => return code,
            };
            match app::status::status(&targets, &status.task_ids, &env, interrupt).await {
                Ok(found) => print_sections(found.sections, |s| text::task_states(s), found.code),
                Err(e) => fail(&e),
            }
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
        Some(Command::Marker(cli::MarkerCommand::Write(args))) => {
            let ci = Ci::detect(&env, None);
            match app::marker::write(&args, ci.default_report_path()) {
                Ok(text) => {
                    console::print(ci.verbatim(&text));
                    SUCCESS
                }
                Err(e) => fail(&app::Error::Input(e)),
            }
        }
    }
}

/// The settings of `args`; an error is reported as [`bad_input`] (published to `ci` in a run).
fn load(args: &RunArgs, env: &Env, ci: Option<&Ci>) -> Result<Settings, u8> {
    settings::settings(args, env, &mut || {
        cdn_refresh::input::url_list::read_capped(std::io::stdin().lock())
    })
    .map_err(|e| bad_input(env, &e, ci))
}

/// An input error before the run: an annotation in a GitHub job, the message on stderr.
/// In a run (`ci` given), the outputs and the summary are written even so: later steps and
/// the run's page see what happened.
fn bad_input(env: &Env, e: &InputError, ci: Option<&Ci>) -> u8 {
    console::print(Ci::detect(env, None).error("cdn-refresh: bad input", &e.to_string()));
    errln!("error: {e}");
    if let Some(Err(why)) = ci.map(|ci| ci.publish_bad_input(&e.to_string())) {
        errln!("error: {why}");
    }
    BAD_INPUT
}

/// An error that ends a command: its message on stderr, its exit code.
fn fail(e: &app::Error) -> u8 {
    errln!("error: {e}");
    e.code()
}

/// The targets of `quota` and `status`, their secrets masked before any call.
fn selected(args: &RunArgs, env: &Env) -> Result<Vec<settings::Target>, u8> {
    let targets = targets::selected_targets(args, env).map_err(|e| fail(&app::Error::Input(e)))?;
    if env.get("GITHUB_ACTIONS") == Some("true") {
        // As in a run: the targets' own credential variables, masked before any call.
        mask(&credentials::target_secret_values(env, &targets));
    }
    Ok(targets)
}

/// Prints what `quota` or `status` found, a section per target (headed with its name when
/// it has one), and the refusals on stderr.
fn print_sections<T>(sections: Vec<app::Section<T>>, show: impl Fn(&T) -> String, code: u8) -> u8 {
    for section in sections {
        if let Some(name) = &section.target {
            console::print(format!("target {name} ({}):\n", section.provider));
        }
        for id in &section.unknown {
            errln!(
                "error: task id `{}` is not known to {}\n  fix: check the id (a run's task-ids output has them), the account (credentials, --target) and its age: providers keep tasks for a limited time",
                cdn_refresh::echo::cap(id, cdn_refresh::echo::VALUE),
                section.provider
            );
        }
        match &section.found {
            app::Found::Value(value) => console::print(show(value)),
            app::Found::InAnswers => console::print(format!(
                "quota: {} has no quota call; each refresh and prefetch answer says what is left, and a run's report has it under quota_after\n",
                section.provider
            )),
            app::Found::Refused { value, error } => {
                errln!("error: {error}");
                if let Some(hint) = &error.hint {
                    errln!("  fix: {hint}");
                }
                if let Some(value) = value {
                    console::print(show(value));
                }
            }
        }
    }
    code
}

/// Writes the report as pretty JSON, streamed (a million URLs make hundreds of megabytes of
/// JSON, which are never held in memory), into a file beside `path` that then replaces it:
/// a run stopped while writing leaves the previous report whole, never half of one.
fn write_report(report: &impl serde::Serialize, path: Option<&std::path::Path>) -> Result<(), u8> {
    use std::io::Write;
    let Some(path) = path else {
        return Ok(());
    };
    let stream = |to: &std::path::Path| {
        std::fs::File::create(to).and_then(|file| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            serde_json::to_writer_pretty(&mut out, report)?;
            out.write_all(b"\n")?;
            out.flush()
        })
    };
    // A device or a pipe (`--report /dev/stdout`) is written as it is.
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let written = if special {
        stream(path)
    } else {
        stream(&partial).and_then(|()| std::fs::rename(&partial, path))
    };
    written.map_err(|e| {
        if !special {
            let _ = std::fs::remove_file(&partial);
        }
        errln!("error: cannot write the report to {}: {e}", path.display());
        URLS_FAILED
    })
}

async fn run_command(args: &RunArgs, env: &Env, interrupt: Interrupt) -> u8 {
    let ci = Ci::detect(env, args.dotenv.clone());
    let mut settings = match load(args, env, Some(&ci)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for target in &mut settings.targets {
        target.run.interrupt = interrupt.clone();
    }
    if env.get("GITHUB_ACTIONS") == Some("true") {
        // The targets' own credential variables are known only now that the config is read.
        mask(&credentials::target_secret_values(env, &settings.targets));
    }
    if settings.report_path.is_none() {
        settings.report_path = ci.default_report_path();
    }
    // Before anything is sent: a run that spent the quota must be able to say what it did.
    if let Some(path) = &settings.report_path
        && let Err(e) = settings::writable_report(path)
    {
        return bad_input(env, &e, Some(&ci));
    }
    if let Some(Err(e)) = args
        .resume
        .as_ref()
        .map(|p| app::run::resume_from(p, &mut settings))
    {
        return bad_input(env, &e, Some(&ci));
    }
    let (outcome, code) = match app::run::run(&mut settings, env, &ci).await {
        Ok(done) => done,
        Err(e) => return fail(&e),
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

#[cfg(feature = "emulator")]
async fn demo_command(report: Option<&std::path::Path>) -> u8 {
    let options = cdn_refresh::demo::Options {
        report: report.map(std::path::Path::to_path_buf),
        ..Default::default()
    };
    match cdn_refresh::demo::run(options).await {
        Ok(finished) => finished.code,
        Err(e) => {
            errln!("error: the demo failed: {e:#}");
            URLS_FAILED
        }
    }
}
