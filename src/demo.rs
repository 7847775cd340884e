//! `cdn-refresh demo`: the main job, told start to finish in a few seconds, with no
//! credentials and no network.
//!
//! A site repository is made in a temporary folder (with git2: no `git` binary needed) and
//! deployed twice; git mode then diffs deploy 1 against deploy 2, maps the changed paths to
//! URLs, and refreshes and prefetches them against the built-in emulator, which throttles one
//! call in four so that the retries show. Nothing of the run is a copy: the command line it
//! prints is parsed by [`cli::parse`], checked into [`Settings`] by [`settings::settings`]
//! (which reads the diff) and sent by [`app::run::run`], exactly as `cdn-refresh --base …
//! --mapping …` is.
//!
//! The story is the list [`STORY`] of [`Step`]s sharing one `Demo`; each step says in plain
//! lines what it does before it does it. A step is added with a variant, its place in `STORY`
//! and its arm in `Demo::step`. Issue 16's "a visitor cached version 1; after the refresh the
//! edge serves version 2" is a step after [`Step::Deploy1`] (a visitor fetches the site
//! through the emulator's edge) and one after [`Step::Send`] (every URL verified fresh); the
//! deployed bytes are in [`DEPLOY_1`] and [`DEPLOY_2`], and the checkout is `Demo::repo`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::app::{self, run::Outcome};
use crate::emulator::{self, EmulatorArgs, FaultKind, FaultRate, FaultSpec, Running};
use crate::input::cli::{self, Env};
use crate::input::settings::{self, Settings};
use crate::output::ci::Ci;
use crate::output::console;
use crate::plan::Plan;
use crate::plan::changes::{Change, ChangeKind};
use crate::providers::ProviderKind;
use crate::report::{Report, UrlStatus};

/// What the demo runs with: `cdn-refresh demo [--report PATH]`.
#[derive(Clone, Debug)]
pub struct Options {
    pub provider: ProviderKind,
    /// Where the JSON report goes; by default into the demo's folder.
    pub report: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            provider: ProviderKind::default_kind(),
            report: None,
        }
    }
}

/// What the demo ends with.
pub struct Finished {
    pub report: Report,
    /// The exit code the run earned (`--fail-on failed`).
    pub code: u8,
    /// The folder that holds the site repository and, by default, the report. It is kept, so
    /// that the user can look at both.
    pub folder: PathBuf,
}

/// One part of the story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new site repository, its first version committed and tagged `deploy-1`.
    Deploy1,
    /// A visitor fetches a page through the emulator's edge: a MISS fills the cache with
    /// version 1, the next request is a HIT.
    Visit1,
    /// Files edited, added, deleted and renamed; committed and tagged `deploy-2`.
    Deploy2,
    /// The edge still serves version 1: stale.
    Stale,
    /// The run's settings read from its command line: the diff, and each change's URLs.
    GitMode,
    /// The refresh, then the prefetch, through the real client against the emulator.
    Send,
    /// What the edge serves now: every changed URL verified fresh, and the visitor's page.
    Verified,
    /// Where the report is and what it says.
    Report,
    /// The same against the user's own repository.
    YourTurn,
}

/// The demo, in order.
pub const STORY: &[Step] = &[
    Step::Deploy1,
    Step::Visit1,
    Step::Deploy2,
    Step::Stale,
    Step::GitMode,
    Step::Send,
    Step::Verified,
    Step::Report,
    Step::YourTurn,
];

/// The rule of the demo's run and of the command it suggests: the built site is `public/`,
/// as a static site generator writes it (Hugo's default).
const RULE: &str = "public/** => https://www.example.com/{path}";

/// The repository's config file: a folder page is cached under both of its spellings.
const CONFIG: &str = "# cdn-refresh reads this file from the repository.\n\
                      # A folder page (docs/index.html) is cached as /docs/ and as /docs/index.html.\n\
                      index_urls: [slash, file]\n";

/// Deploy 1: every file of the site's first version.
pub const DEPLOY_1: &[(&str, &str)] = &[
    (".cdn-refresh.yml", CONFIG),
    ("public/index.html", "<h1>Example</h1>\n<p>version 1</p>\n"),
    (
        "public/docs/index.html",
        "<h1>Docs</h1>\n<p>version 1</p>\n",
    ),
    ("public/css/site.css", "body { color: #333; }\n"),
    (
        "public/blog/release notes.html",
        "<h1>Release notes</h1>\n<p>1.0: the first release.</p>\n",
    ),
    ("public/关于.html", "<h1>关于我们</h1>\n<p>version 1</p>\n"),
    ("public/js/old.js", "console.log('version 1');\n"),
    (
        "public/img/logo.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n",
    ),
];

/// One change of deploy 2.
#[derive(Clone, Copy, Debug)]
pub enum Edit {
    Write(&'static str, &'static str),
    Delete(&'static str),
    Rename(&'static str, &'static str),
}

/// Deploy 2: what changed since deploy 1 (`img/logo.svg` stays as it was).
pub const DEPLOY_2: &[Edit] = &[
    Edit::Write("public/index.html", "<h1>Example</h1>\n<p>version 2</p>\n"),
    Edit::Write(
        "public/docs/index.html",
        "<h1>Docs</h1>\n<p>version 2</p>\n",
    ),
    Edit::Write("public/css/site.css", "body { color: #111; }\n"),
    Edit::Write("public/关于.html", "<h1>关于我们</h1>\n<p>version 2</p>\n"),
    Edit::Write("public/js/app.js", "console.log('version 2');\n"),
    Edit::Delete("public/js/old.js"),
    Edit::Rename(
        "public/blog/release notes.html",
        "public/blog/2026/release notes.html",
    ),
];

/// The page the demo's visitor fetches through the edge.
const VISITED: &str = "/docs/";

/// How long an emulated task runs: long enough to show the wait, short enough for the demo.
const TASK_DURATION: Duration = Duration::from_secs(1);

/// Runs the whole story and returns the run's report and exit code.
pub async fn run(options: Options) -> anyhow::Result<Finished> {
    let mut demo = Demo::start(options).await?;
    for (i, step) in STORY.iter().enumerate() {
        demo.at = (i + 1, STORY.len());
        demo.step(*step).await?;
    }
    demo.emulator.shutdown();
    let report = demo.report.context("the demo has no Send step")?;
    Ok(Finished {
        report,
        code: demo.code,
        folder: demo.folder,
    })
}

/// What the steps share.
struct Demo {
    provider: ProviderKind,
    emulator: Running,
    /// The demo's folder: the repository and, by default, the report.
    folder: PathBuf,
    /// The site repository's checkout.
    repo: PathBuf,
    report_path: PathBuf,
    /// The run's environment: the emulator's key in the provider's variables, nothing else
    /// (no CI variable, no `CDN_REFRESH_*` of the user's shell).
    env: Env,
    /// The step being told, and how many there are.
    at: (usize, usize),
    /// Deploy 1's and deploy 2's commits.
    deploys: Vec<git2::Oid>,
    settings: Option<Settings>,
    report: Option<Report>,
    code: u8,
}

impl Demo {
    /// Starts the emulator, makes the folder and says what the demo is about to do.
    async fn start(options: Options) -> anyhow::Result<Demo> {
        let provider = options.provider;
        // As a run checks it: before anything is done, not after.
        if let Some(path) = &options.report {
            settings::writable_report(path).map_err(|e| anyhow!("{e}"))?;
        }
        let (id, secret) = emulator::default_key(provider)
            .with_context(|| format!("the emulator does not emulate {provider}"))?;
        let folder = std::env::temp_dir().join(format!(
            "cdn-refresh-demo-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        // The edge serves the checkout's `public/`: the site as deployed.
        let origin = folder.join("www").join("public");
        std::fs::create_dir_all(&origin)
            .with_context(|| format!("cannot make the folder {}", origin.display()))?;
        let emulator = emulator::start(EmulatorArgs {
            task_duration: TASK_DURATION,
            faults: vec![FaultSpec {
                kind: FaultKind::Throttle,
                rate: FaultRate::EveryNth(4),
            }],
            origin: Some(origin),
            ..EmulatorArgs::default()
        })
        .await?;
        let vars = &provider.spec().credentials;
        let env = Env::new([
            (vars.id.to_string(), id.to_string()),
            (vars.secret.to_string(), secret.to_string()),
        ]);
        say(&format!(
            "cdn-refresh demo: a site deployed twice, then its CDN cache refreshed and warmed for exactly what the second deploy changed.\n\
             Everything happens on this machine, with no credentials and no network:\n\
             \x20 - the CDN is {title} CDN's API, emulated by cdn-refresh itself on {url} (loopback only), and its edge: the same address serves www.example.com from the site's public/ folder, with a cache;\n\
             \x20 - the key is the emulator's fake one ({id_var}={id}, and a secret in {secret_var}), set for this demo only;\n\
             \x20 - the emulator throttles one call in four on purpose (\"too many requests\"): the WARN lines below are the retries at work;\n\
             \x20 - deploy 1 and deploy 2 are two commits of a site repository made in {folder}, kept for you to look at (delete it when done).\n",
            title = provider.spec().title,
            url = emulator.url(),
            id_var = vars.id,
            secret_var = vars.secret,
            folder = folder.display(),
        ));
        Ok(Demo {
            provider,
            emulator,
            repo: folder.join("www"),
            report_path: options.report.unwrap_or_else(|| folder.join("report.json")),
            folder,
            env,
            at: (0, STORY.len()),
            deploys: Vec::new(),
            settings: None,
            report: None,
            code: app::exit::SUCCESS,
        })
    }

    /// Tells and runs one step.
    async fn step(&mut self, step: Step) -> anyhow::Result<()> {
        match step {
            Step::Deploy1 => self.deploy_1(),
            Step::Visit1 => self.visit_1().await,
            Step::Deploy2 => self.deploy_2(),
            Step::Stale => self.stale().await,
            Step::Verified => self.verified().await,
            Step::GitMode => self.git_mode(),
            Step::Send => self.send().await,
            Step::Report => self.show_report(),
            Step::YourTurn => {
                self.your_turn();
                Ok(())
            }
        }
    }

    /// The step's headline, numbered.
    fn headline(&self, text: &str) {
        say(&format!("\n[{}/{}] {text}\n", self.at.0, self.at.1));
    }

    fn deploy_1(&mut self) -> anyhow::Result<()> {
        let site = Site::init(&self.repo)?;
        for (path, text) in DEPLOY_1 {
            site.write(path, text)?;
        }
        let commit = site.commit("deploy 1", "deploy-1", 0)?;
        let files: Vec<&str> = DEPLOY_1.iter().map(|(path, _)| *path).collect();
        self.headline(&format!(
            "deploy 1: a new site repository, {} files in {}, committed as {} (tag deploy-1)",
            files.len(),
            self.repo.display(),
            short(commit)
        ));
        say(&format!("      {}\n", files.join(", ")));
        self.deploys.push(commit);
        Ok(())
    }

    /// A visitor's GET of `path` on www.example.com, through the emulator's edge: the
    /// answer as a line (`200, X-Cache: HIT, Age: 0`) and the body.
    async fn visit(&self, path: &str) -> anyhow::Result<(String, String)> {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.emulator.url()))
            .header("host", "www.example.com")
            .send()
            .await
            .context("the emulator's edge answers")?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!(", {name}: {v}"))
                .unwrap_or_default()
        };
        let line = format!(
            "{}{}{}",
            resp.status().as_u16(),
            header("X-Cache"),
            header("Age")
        );
        let body = resp.text().await.context("the edge's body")?;
        Ok((line, body))
    }

    /// `visit`, told: the request, the answer line, the bytes.
    async fn tell_visit(&self, path: &str) -> anyhow::Result<()> {
        let (line, body) = self.visit(path).await?;
        let body = body.trim_end().replace('\n', " ");
        say(&format!(
            "      GET https://www.example.com{path} -> {line}: {}\n",
            crate::echo::cap(&body, 200)
        ));
        Ok(())
    }

    async fn visit_1(&mut self) -> anyhow::Result<()> {
        self.headline(&format!(
            "a visitor opens https://www.example.com{VISITED}: the edge fetches it from the site (MISS) and caches it; the next visitor gets the cached copy (HIT)"
        ));
        self.tell_visit(VISITED).await?;
        self.tell_visit(VISITED).await
    }

    async fn stale(&mut self) -> anyhow::Result<()> {
        self.headline(
            "deploy 2 is live at the origin, but the edge still serves version 1 from its cache: stale until refreshed",
        );
        self.tell_visit(VISITED).await
    }

    async fn verified(&mut self) -> anyhow::Result<()> {
        let report = self.report.as_ref().context("Send comes before Verified")?;
        let counts = report.verify.clone().unwrap_or_default();
        self.headline(&format!(
            "verified at the edge: {} of {} URLs serve exactly what deploy 2 holds (deleted ones answer 404); the visitor gets version 2",
            counts.fresh,
            counts.fresh + counts.not_fresh() + counts.error + counts.unchecked,
        ));
        self.tell_visit(VISITED).await
    }

    fn deploy_2(&mut self) -> anyhow::Result<()> {
        let site = Site::open(&self.repo)?;
        let mut told = Vec::new();
        for edit in DEPLOY_2 {
            match *edit {
                Edit::Write(path, text) => {
                    let verb = if site.has(path) { "edited" } else { "added" };
                    site.write(path, text)?;
                    told.push(format!("{verb} {path}"));
                }
                Edit::Delete(path) => {
                    site.remove(path)?;
                    told.push(format!("deleted {path}"));
                }
                Edit::Rename(from, to) => {
                    site.rename(from, to)?;
                    told.push(format!("renamed {from} to {to}"));
                }
            }
        }
        let commit = site.commit("deploy 2", "deploy-2", 1)?;
        self.headline(&format!(
            "deploy 2: {} changes, committed as {} (tag deploy-2)",
            told.len(),
            short(commit)
        ));
        say(&format!("      {}\n", told.join("; ")));
        self.deploys.push(commit);
        Ok(())
    }

    /// The run's command line, a group of arguments per printed line. Copied into a shell
    /// (with the emulator still up and its key set) it does what the demo does.
    fn command(&self) -> Vec<Vec<String>> {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let path = |p: &Path| p.display().to_string();
        vec![
            vec![
                "cdn-refresh".into(),
                "--repo".into(),
                path(&self.repo),
                "--base".into(),
                "deploy-1".into(),
                "--head".into(),
                "deploy-2".into(),
            ],
            s(&["--mapping", RULE, "-t", "both"]),
            vec![
                "--verify".into(),
                "content".into(),
                "--verify-connect".into(),
                self.emulator.url(),
            ],
            [
                "--provider".into(),
                self.provider.name().into(),
                "--endpoint".into(),
                self.emulator.url(),
            ]
            .into_iter()
            .chain(self.emulator.client_flags(self.provider))
            .chain([
                "--poll-interval".into(),
                "500ms".into(),
                "--timeout".into(),
                "1m".into(),
                "--report".into(),
                path(&self.report_path),
            ])
            .collect(),
        ]
    }

    /// Reads the settings as `cdn-refresh` reads its command line (the diff included), and
    /// shows each change with the URLs it refreshes and prefetches.
    fn git_mode(&mut self) -> anyhow::Result<()> {
        let [base, head] = self.deploys[..] else {
            bail!("Deploy1 and Deploy2 come before GitMode");
        };
        self.headline(&format!(
            "git mode: the diff deploy-1..deploy-2 ({}..{}), each changed path mapped to URLs by the rule `{RULE}`",
            short(base),
            short(head),
        ));
        let command = self.command();
        say(&format!(
            "      (the repository's .cdn-refresh.yml adds `index_urls: [slash, file]`: a folder page is refreshed as /docs/ and /docs/index.html)\n\
             \x20     the run, as a command line:\n{}\n",
            shell_lines(&command)
        ));
        let argv: Vec<OsString> = command.iter().flatten().map(OsString::from).collect();
        let args = cli::parse(argv, &self.env)
            .map_err(|e| anyhow!("{}", e.render()))?
            .run;
        let settings = settings::settings(&args, &self.env, &mut || Ok(String::new()))
            .map_err(|e| anyhow!("{e}"))?;
        // The rules as the settings read them (`--mapping`, and the repository's
        // .cdn-refresh.yml), to show what each change maps to.
        let (_, config) = settings::with_config(&args).map_err(|e| anyhow!("{e}"))?;
        let rules = crate::input::git::git_rules(&args, config.as_ref())
            .map_err(|e| anyhow!("{e}"))?
            .context("git mode is on")?;
        let git = settings.git.as_ref().context("git mode is on")?;
        let limits = self.provider.limits();
        let mut out = String::new();
        for change in &git.changes {
            out.push_str(&format!("      {}\n", describe(change)));
            let one = Plan::from_changes(
                std::slice::from_ref(change),
                &rules,
                settings.task,
                limits,
                None,
            )
            .map_err(|e| anyhow!("{} maps to a URL that is too long", e.path))?;
            let refreshed: Vec<&String> = one.plan.refresh.values().flatten().collect();
            for url in &refreshed {
                let both = one.plan.prefetch.contains(url);
                let what = if both { "refresh, prefetch" } else { "refresh" };
                out.push_str(&format!("          {what:<18} {url}\n"));
            }
            for url in one.plan.prefetch.iter().filter(|u| !refreshed.contains(u)) {
                out.push_str(&format!("          {:<18} {url}\n", "prefetch"));
            }
            if one.excluded > 0 {
                out.push_str("          (no URL: an exclude rule)\n");
            } else if one.unmapped > 0 {
                out.push_str("          (no URL: no rule matches it)\n");
            }
        }
        say(&out);
        self.settings = Some(settings);
        Ok(())
    }

    /// The run proper: `app::run::run`, as `cdn-refresh` runs it, then the report file.
    async fn send(&mut self) -> anyhow::Result<()> {
        self.headline(
            "refresh, then prefetch what the refresh completed: batches within the provider's limits, retried when throttled, every task waited for; then every URL fetched from the edge as a visitor does and compared with deploy 2's bytes",
        );
        let settings = self
            .settings
            .as_mut()
            .context("GitMode comes before Send")?;
        let ci = Ci::detect(&self.env, None);
        let (outcome, code) = app::run::run(settings, &self.env, &ci)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let Outcome::One(report) = outcome else {
            bail!("the demo's run has one target");
        };
        let json = serde_json::to_string_pretty(&report).expect("plain data");
        std::fs::write(&self.report_path, json + "\n").with_context(|| {
            format!("cannot write the report to {}", self.report_path.display())
        })?;
        self.report = Some(*report);
        self.code = code;
        Ok(())
    }

    fn show_report(&mut self) -> anyhow::Result<()> {
        let report = self.report.as_ref().context("Send comes before Report")?;
        let complete = report
            .urls
            .iter()
            .filter(|u| u.status == UrlStatus::Complete)
            .count();
        self.headline(&format!(
            "the report, for the next step of your pipeline: {}",
            self.report_path.display()
        ));
        let mut out = format!(
            "      {complete} of {} URL records complete ({} refreshed, {} prefetched), each with its task, as this one:\n",
            report.urls.len(),
            report.counts.refreshed,
            report.counts.prefetched
        );
        if let Some(first) = report.urls.first() {
            out.push_str(&format!(
                "      {}\n",
                serde_json::to_string(first).expect("plain data")
            ));
        }
        say(&out);
        Ok(())
    }

    fn your_turn(&self) {
        let vars = &self.provider.spec().credentials;
        let provider = if self.provider == ProviderKind::default_kind() {
            String::new()
        } else {
            format!(" --provider {}", self.provider.name())
        };
        let rule = format!("--mapping {}", quote(RULE));
        self.headline("your turn, in your own repository (with your deployed folder and your site in the rule):");
        say(&format!(
            "      what your last commit would send, with no credentials and no network:\n\
             \x20       cdn-refresh plan{provider} --base HEAD~1 {rule} -t both\n\
             \x20     the same for real, with your key in {} and {} (in CI: --base auto):\n\
             \x20       cdn-refresh{provider} --base HEAD~1 {rule} -t both --report report.json\n",
            vars.id, vars.secret
        ));
    }
}

/// Prints demo text on stdout, through the console as every other line.
fn say(text: &str) {
    console::print(text.to_string());
}

/// A change as a line: what happened to which path.
fn describe(change: &Change) -> String {
    match (change.kind, &change.old_path) {
        (ChangeKind::Renamed, Some(old)) => format!("renamed   {old} -> {}", change.path),
        (kind, _) => {
            let word = match kind {
                ChangeKind::Added => "added",
                ChangeKind::Modified => "modified",
                ChangeKind::Deleted => "deleted",
                ChangeKind::Renamed => "renamed",
                ChangeKind::TypeChanged => "type changed",
            };
            format!("{word:<9} {}", change.path)
        }
    }
}

/// A commit as `git log --oneline` shows it.
fn short(oid: git2::Oid) -> String {
    oid.to_string()[..7].to_string()
}

/// `arg` as a POSIX shell reads it back: as it is when it holds nothing special, else in
/// single quotes.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A command line, one group of arguments per line, continued with ` \`.
fn shell_lines(groups: &[Vec<String>]) -> String {
    groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let words: Vec<String> = group.iter().map(|a| quote(a)).collect();
            let indent = if i == 0 { "        $ " } else { "            " };
            format!("{indent}{}", words.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" \\\n")
}

/// The site repository: files written to the checkout and staged, then committed.
struct Site {
    git: git2::Repository,
    dir: PathBuf,
}

impl Site {
    fn init(dir: &Path) -> anyhow::Result<Site> {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let git = git2::Repository::init_opts(dir, &opts)
            .with_context(|| format!("cannot make a repository in {}", dir.display()))?;
        Ok(Site {
            git,
            dir: dir.to_path_buf(),
        })
    }

    fn open(dir: &Path) -> anyhow::Result<Site> {
        Ok(Site {
            git: git2::Repository::open(dir)?,
            dir: dir.to_path_buf(),
        })
    }

    fn has(&self, path: &str) -> bool {
        self.dir.join(path).is_file()
    }

    fn write(&self, path: &str, text: &str) -> anyhow::Result<()> {
        let full = self.dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, text).with_context(|| format!("cannot write {}", full.display()))?;
        let mut index = self.git.index()?;
        index.add_path(Path::new(path))?;
        index.write()?;
        Ok(())
    }

    fn remove(&self, path: &str) -> anyhow::Result<()> {
        std::fs::remove_file(self.dir.join(path))?;
        let mut index = self.git.index()?;
        index.remove_path(Path::new(path))?;
        index.write()?;
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.dir.join(from))?;
        self.remove(from)?;
        self.write(to, &text)
    }

    /// Commits the index on `main` and tags it. The dates are fixed (deploy `n` at 10:00 on
    /// 1 and 2 June 2026), so every demo makes the same commits.
    fn commit(&self, message: &str, tag: &str, n: i64) -> anyhow::Result<git2::Oid> {
        let tree = self.git.find_tree(self.git.index()?.write_tree()?)?;
        let when = git2::Time::new(1_780_308_000 + n * 86_400, 0);
        let who = git2::Signature::new("cdn-refresh demo", "demo@example.com", &when)?;
        let parent = match self.git.head() {
            Ok(head) => Some(head.peel_to_commit()?),
            Err(_) => None,
        };
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = self
            .git
            .commit(Some("HEAD"), &who, &who, message, &tree, &parents)?;
        self.git
            .tag_lightweight(tag, &self.git.find_object(oid, None)?, false)?;
        Ok(oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_reads_back_in_a_shell() {
        assert_eq!(quote("deploy-1"), "deploy-1");
        assert_eq!(quote("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(quote(RULE), "'public/** => https://www.example.com/{path}'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn deploy_2_edits_adds_deletes_and_renames() {
        let deployed = |p: &str| DEPLOY_1.iter().any(|(path, _)| *path == p);
        let edits = |f: &dyn Fn(&Edit) -> bool| DEPLOY_2.iter().filter(|e| f(e)).count();
        assert_eq!(edits(&|e| matches!(e, Edit::Delete(_))), 1);
        assert_eq!(edits(&|e| matches!(e, Edit::Rename(..))), 1);
        assert_eq!(
            edits(&|e| matches!(e, Edit::Write(p, _) if !deployed(p))),
            1
        );
        assert!(DEPLOY_2.iter().all(|e| match e {
            Edit::Write(..) => true,
            Edit::Delete(p) | Edit::Rename(p, _) => deployed(p),
        }));
    }
}
