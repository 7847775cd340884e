//! Fetching a missing commit on demand, through the `git` command.
//!
//! CI checkouts are shallow (GitHub `actions/checkout` fetches one commit, GitLab 20 or
//! 50), so the previous deploy's commit is often not here. A tree diff needs only that
//! commit and its tree, so one `git fetch --no-tags --depth=1 origin <sha>` is enough: it
//! is how `actions/checkout` itself fetches a SHA. We shell out instead of fetching with
//! libgit2 because the `git` command reuses the checkout's credentials (GitHub's
//! `http.extraheader`, GitLab's token in the `origin` URL) and needs no TLS or SSH code
//! in this static binary. It runs once per run, with a time bound, and its stderr is kept
//! for the message that explains what to change.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on the one fetch; a fetch of one commit takes seconds.
pub(super) const TIMEOUT: Duration = Duration::from_secs(120);

/// What the one fetch did.
#[derive(Debug)]
pub(super) struct Fetched {
    command: String,
    /// `Err` carries git's stderr, or why git could not run or was stopped.
    outcome: Result<(), String>,
}

impl Fetched {
    /// "`git … fetch …` failed: <stderr>", for messages.
    pub(super) fn describe(&self) -> String {
        match &self.outcome {
            Ok(()) => format!("`{}` succeeded but did not bring it", self.command),
            Err(e) => format!("`{}` failed: {e}", self.command),
        }
    }
}

/// A full SHA-1 or SHA-256 in hex: the only thing we pass to `git fetch` (so no
/// argument from an event or flag can become an option).
pub fn is_full_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Runs `git fetch --no-tags --depth=1 origin <shas>` in `repo`, bounded by `timeout`.
pub(super) fn fetch(repo: &Path, shas: &[&str], timeout: Duration) -> Fetched {
    let mut cmd = git_in(repo);
    cmd.args(["fetch", "--quiet", "--no-tags", "--depth=1", "origin"]);
    cmd.args(shas);
    let command = format!(
        "git -C {} fetch --no-tags --depth=1 origin {}",
        repo.display(),
        shas.join(" ")
    );
    let outcome = run(cmd, timeout);
    tracing::info!(command = %command, ok = outcome.is_ok(), "fetched missing commits");
    Fetched { command, outcome }
}

/// `git` in `repo`, its output read by [`run_git`]: the fetch of missing commits and the
/// marker store's fetch and push of a ref.
pub fn git_in(repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo);
    // The same trust decision as `diff::configure_libgit2`, for git: without it, git
    // refuses a checkout owned by another uid ("dubious ownership"). Command-line config
    // is honoured for safe.directory, unlike the repository's own config. Protocol v2
    // lets any server hand out a reachable commit by SHA; v0 refuses one that is not a
    // branch tip unless the server sets uploadpack.allowReachableSHA1InWant.
    cmd.args(["-c", "safe.directory=*", "-c", "protocol.version=2"]);
    // The repository is the one `-C` names, as for libgit2 (a git hook's GIT_DIR must not
    // redirect the fetch). Never wait for a password prompt: there is no one to type it.
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a prepared `git` command to its end or `timeout`; `Err` is git's stderr (or why it
/// could not run or was stopped). Shared with the marker store, which fetches and pushes a ref.
pub fn run_git(cmd: Command, timeout: Duration) -> Result<(), String> {
    run(cmd, timeout)
}

fn run(mut cmd: Command, timeout: Duration) -> Result<(), String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run git ({e}); install git in this job's image"))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // Read stderr on its own thread so a chatty git never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                // The reader may be held open by git's own children; leave it.
                return Err(format!(
                    "stopped after {} s without finishing",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for git failed: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&stderr);
    let text = text.trim();
    Err(if text.is_empty() {
        format!("git exited with {status}")
    } else {
        text.to_owned()
    })
}

/// Why the base is missing after at most one fetch, and how to fix it.
pub(super) fn missing_base_reason(
    repo: &Path,
    base: &str,
    from: &str,
    shallow: bool,
    fetched: Option<&Fetched>,
) -> String {
    let shallow = if shallow { " (a shallow clone)" } else { "" };
    let (what, fix) = match fetched.filter(|_| is_full_sha(base)) {
        None => (
            format!(
                "`{base}` ({from}) is not a commit in {}{shallow}; only full SHAs are \
                 fetched on demand",
                repo.display()
            ),
            format!(
                "fetch it before this step (e.g. `git fetch origin {base}`), or pass its \
                 full commit SHA"
            ),
        ),
        Some(f) => (
            format!(
                "base commit {base} ({from}) is not in {}{shallow}, and {}",
                repo.display(),
                f.describe()
            ),
            "fetch the history in the checkout: GitHub `actions/checkout` with \
             `fetch-depth: 0`, GitLab `variables: GIT_DEPTH: 0`; if a force-push removed \
             that commit from the remote, pass --base with a commit that exists"
                .to_owned(),
        ),
    };
    format!(
        "no base commit to diff against: {what}\n  fix: {fix}; or set --on-missing-base \
         all (refresh every mapped root) or skip (refresh nothing)"
    )
}
