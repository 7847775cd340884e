//! Shared harness: an in-process emulator and the real binary run against it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use cdn_refresh::emulator::{self, EmulatorArgs, Running, Stats};
use serde_json::Value;

/// An emulator configured with `flags`, exactly as `cdn-refresh emulator FLAGS` would be.
pub async fn emulator(flags: &[&str]) -> Running {
    let args = EmulatorArgs::from_flags(flags).expect("valid emulator flags");
    emulator::start(args).await.expect("emulator starts")
}

/// An emulator to drive with hand-built requests (the `emulator_*` tests add the requests
/// of their provider): the running emulator and an HTTP client.
pub struct Emu {
    pub running: Running,
    pub http: reqwest::Client,
}

impl Emu {
    /// See [`emulator`].
    pub async fn start(flags: &[&str]) -> Emu {
        Emu {
            running: emulator(flags).await,
            http: reqwest::Client::new(),
        }
    }

    pub async fn stats(&self) -> Stats {
        self.running.stats().await
    }

    /// `host:port`, for the `Host` a request signs.
    pub fn host(&self) -> String {
        self.running.url().trim_start_matches("http://").to_string()
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub report: Option<Value>,
    pub dir: tempfile::TempDir,
}

impl Output {
    pub fn report(&self) -> &Value {
        self.report.as_ref().expect("a report was written")
    }

    /// `(url, operation) → status` of every report record.
    pub fn statuses(&self) -> Vec<(String, String, String)> {
        self.report()["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["url"].as_str().unwrap().to_string(),
                    u["operation"].as_str().unwrap().to_string(),
                    u["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub fn all(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.stdout,
            self.stderr,
            self.report
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default()
        )
    }
}

pub const KEY_ID: &str = "testid";
pub const SECRET: &str = "testsecret";

/// Runs the binary with `args`, the emulator as endpoint, a report path, a short poll
/// interval and the default emulator credentials, plus `env` (which may override them).
/// Nothing else from the test's environment reaches it.
pub async fn run(emu: &Running, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with_stdin(emu, args, env, None).await
}

pub async fn run_with_stdin(
    emu: &Running,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let url = emu.url();
    let mut all = args.to_vec();
    all.extend(["--endpoint", url.as_str()]);
    spawn(&all, env, stdin).await
}

/// [`run`] without `--endpoint`: for runs whose config file names the endpoints (targets).
pub async fn run_configured(args: &[&str], env: &[(&str, &str)]) -> Output {
    spawn(args, env, None).await
}

/// A run of the binary still going, for tests that act on it while it runs (signals).
pub struct Started {
    pub child: tokio::process::Child,
    dir: tempfile::TempDir,
    report: PathBuf,
}

impl Started {
    /// Sends the process a signal (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {pid}");
    }

    /// Waits for the process to end and reads what it wrote.
    pub async fn finish(self) -> Output {
        let out = self.child.wait_with_output().await.unwrap();
        let report = std::fs::read_to_string(&self.report)
            .ok()
            .map(|s| serde_json::from_str(&s).expect("report is JSON"));
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            report,
            dir: self.dir,
        }
    }
}

/// [`run`], returning while the binary runs.
pub fn start(emu: &Running, args: &[&str], env: &[(&str, &str)]) -> Started {
    let url = emu.url();
    let mut all = args.to_vec();
    all.extend(["--endpoint", url.as_str()]);
    let (mut cmd, dir, report) = command(&all, env, false);
    Started {
        child: cmd.spawn().expect("binary runs"),
        dir,
        report,
    }
}

/// The binary with `args`, and nothing of the test's environment but `PATH`: the emulator's
/// Alibaba Cloud credentials, then `env` (an empty value removes a variable).
pub fn binary(args: &[&str], env: &[(&str, &str)], stdin: bool) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn-refresh"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .args(args)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd
}

/// [`binary`], writing its report into a fresh directory and polling every 100 ms (a run,
/// `plan`).
fn command(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: bool,
) -> (tokio::process::Command, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let report: PathBuf = dir.path().join("report.json");
    let mut cmd = binary(args, env, stdin);
    // `quota` and `status` write no report and poll nothing: they take neither option.
    if !matches!(args.first(), Some(&"quota" | &"status")) {
        cmd.arg("--report")
            .arg(&report)
            .arg("--poll-interval")
            .arg("100ms");
    }
    (cmd, dir, report)
}

async fn spawn(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let (mut cmd, dir, report) = command(args, env, stdin.is_some());
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    Started { child, dir, report }.finish().await
}

/// A URL file in `dir`.
pub fn url_file(dir: &std::path::Path, urls: &[String]) -> String {
    let path = dir.join("urls.txt");
    std::fs::write(&path, urls.join("\n")).unwrap();
    path.to_string_lossy().into_owned()
}

/// `n` URLs spread over the emulator's default domains.
pub fn urls(n: usize) -> Vec<String> {
    let hosts = ["example.com", "www.example.com", "static.example.com"];
    (0..n)
        .map(|i| format!("https://{}/assets/file-{i}.js", hosts[i % hosts.len()]))
        .collect()
}

/// Runs `git ARGS` in `dir` with a throwaway identity; panics if git fails.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-C"])
        .arg(dir)
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}
