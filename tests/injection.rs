//! No forged workflow commands in a GitHub job, and masks for every secret, whatever the
//! input: the binary with hostile URLs, config values, git paths, server answers, logs and
//! panics, every output read as the runner reads it ([`assert_no_forged_commands`]).
//!
//! Every hostile text carries [`PWNED`]; each case also checks that the text did reach the
//! output (neutralised), so a case cannot pass by printing nothing.

mod common;

use std::path::Path;

/// The marker in every hostile text: it must never be masked, and never start a command.
const PWNED: &str = "pwned";

/// A value that tries every way into a command: a CR line break, an LF line break with
/// leading whitespace, and the old `##[` form in the middle of a line.
const HOSTILE: &str = "x\r::add-mask::pwned\n  ::error::pwned ##[add-mask]pwned";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    _dir: tempfile::TempDir,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary as a GitHub job would: `GITHUB_ACTIONS=true`, the output and summary
/// files and `RUNNER_TEMP` in a fresh directory (the working directory, or `cwd`), the
/// emulator's Alibaba Cloud credentials, then `env` (an empty value removes a variable).
async fn github(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
    cwd: Option<&Path>,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (output, summary, temp) = (
        dir.path().join("output"),
        dir.path().join("summary.md"),
        dir.path().to_string_lossy().into_owned(),
    );
    let (output, summary) = (output.to_string_lossy(), summary.to_string_lossy());
    let mut all: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", &output),
        ("GITHUB_STEP_SUMMARY", &summary),
        ("RUNNER_TEMP", &temp),
    ];
    all.extend_from_slice(env);
    let mut cmd = common::binary(args, &all, stdin.is_some());
    cmd.current_dir(cwd.unwrap_or(dir.path()));
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        _dir: dir,
    }
}

/// The data of a workflow command as the runner unescapes it.
fn unescape(data: &str) -> String {
    data.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// The core check. Each stream is split at CR and LF, as the runner splits it. A line whose
/// trimmed start is `::`, or that holds `##[` anywhere (the runner looks for the old form
/// with `IndexOf`), must be one of the tool's own commands: `::add-mask::` (never of
/// attacker text), `::group::`, `::endgroup::`, an annotation with a title, or a
/// `::stop-commands::` block with one of our random tokens, whose lines up to its
/// `::TOKEN::` are exempt. On stderr no command at all is ours. Returns the number of
/// lines that carry [`PWNED`] outside the tool's commands and blocks: neutralised text.
fn assert_no_forged_commands(r: &Run) -> usize {
    let mut neutralised = 0;
    for (name, stream, ours) in [("stdout", &r.stdout, true), ("stderr", &r.stderr, false)] {
        let mut block: Option<String> = None;
        for line in stream.split(['\r', '\n']) {
            let trimmed = line.trim_start();
            if let Some(end) = &block {
                if trimmed == end {
                    block = None;
                }
                continue;
            }
            if !trimmed.starts_with("::") && !line.contains("##[") {
                neutralised += usize::from(line.contains(PWNED));
                continue;
            }
            let fail = |why: &str| -> ! {
                panic!(
                    "{name}: {why}: {line:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    r.stdout, r.stderr
                )
            };
            if !ours {
                fail("a workflow command on stderr");
            }
            if let Some(mask) = trimmed.strip_prefix("::add-mask::") {
                if unescape(mask).contains(PWNED) {
                    fail("attacker text masked");
                }
            } else if let Some(token) = trimmed.strip_prefix("::stop-commands::") {
                let random = token.strip_prefix("cdn-refresh-").is_some_and(|hex| {
                    hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !random {
                    fail("a stop-commands token that is not ours");
                }
                block = Some(format!("::{token}::"));
            } else if trimmed == "::endgroup::" {
            } else if ![
                "::group::",
                "::error title=",
                "::warning title=",
                "::notice title=",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p))
            {
                fail("a forged workflow command");
            }
        }
        if block.is_some() {
            panic!("{name}: a stop-commands block is never closed\n{stream}");
        }
    }
    neutralised
}

/// [`assert_no_forged_commands`], and the hostile text did reach the log.
fn assert_neutralised(r: &Run) {
    let shown = assert_no_forged_commands(r);
    assert!(shown > 0, "the hostile text is not echoed:\n{}", r.all());
}

#[test]
fn the_check_catches_every_form_of_forgery() {
    let run = |stdout: &str, stderr: &str| Run {
        code: 0,
        stdout: stdout.into(),
        stderr: stderr.into(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let forged = [
        ("error: https://a.com/x\r::add-mask::pwned\n", ""),
        ("", "error: a\n   ::error::pwned\n"),
        ("a ##[add-mask]pwned\n", ""),
        ("::add-mask::pwned\n", ""),
        ("::stop-commands::mine\npwned\n::mine::\n", ""),
        ("", "::group::pwned\n"),
    ];
    for (stdout, stderr) in forged {
        let caught = std::panic::catch_unwind(|| assert_no_forged_commands(&run(stdout, stderr)));
        assert!(caught.is_err(), "{stdout:?} {stderr:?}");
    }
    let token = "cdn-refresh-0123456789abcdef0123456789abcdef";
    let ours = format!(
        "::add-mask::s3cret\n::group::g\n::stop-commands::{token}\n::error::pwned\n::{token}::\n::endgroup::\n::error title=t::x ##[y]\nx␍::add-mask::pwned\n"
    );
    assert_eq!(assert_no_forged_commands(&run(&ours, "")), 1);
}

#[tokio::test]
async fn urls_from_stdin_cannot_issue_commands() {
    for hostile in [
        "https://www.example.com/x\r::add-mask::pwned\n",
        "https://www.example.com/x\n  ::add-mask::pwned\n",
        "https://www.example.com/x ##[add-mask]pwned\n",
    ] {
        for format in ["text", "json"] {
            let r = github(
                &["plan", "-r", "-", "--format", format],
                &[],
                Some(hostile),
                None,
            )
            .await;
            assert_eq!(r.code, 2, "{}", r.all());
            assert_neutralised(&r);
        }
    }
    // The text is still there to read, with the CR shown.
    let r = github(
        &["plan", "-r", "-"],
        &[],
        Some("https://www.example.com/x\r::add-mask::pwned\n"),
        None,
    )
    .await;
    assert!(
        r.stderr
            .contains("line 1: https://www.example.com/x␍::add-mask::pwned"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn a_config_value_in_an_error_cannot_issue_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".cdn-refresh.yml"),
        "version: 1\ntask: \"x\\r::error::pwned\\n::add-mask::pwned ##[error]pwned\"\n",
    )
    .unwrap();
    let r = github(
        &["plan", "--urls", "https://www.example.com/a"],
        &[],
        None,
        Some(dir.path()),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert_neutralised(&r);
    // The same through the input of an option that echoes it.
    let r = github(
        &["plan", "--urls", "https://www.example.com/a"],
        &[("INPUT_TASK", HOSTILE)],
        None,
        None,
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert_neutralised(&r);
}

/// A repository whose second commit adds `path` (a file, or a submodule link).
fn repo_adding(path: &str, submodule: bool) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| common::git(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(repo.path().join("site")).unwrap();
    std::fs::write(repo.path().join("site/index.html"), "base").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    if submodule {
        let head = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap();
        let sha = String::from_utf8(head.stdout).unwrap();
        let info = format!("160000,{},{path}", sha.trim());
        git(&["update-index", "--add", "--cacheinfo", &info]);
    } else {
        let file = repo.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "new").unwrap();
        git(&["add", "."]);
    }
    git(&["commit", "-qm", "head"]);
    repo
}

#[tokio::test]
async fn a_long_hostile_path_in_a_mapping_error_cannot_issue_commands() {
    // Long enough that its URL is over Alibaba Cloud's 1,024 characters: the error quotes
    // the path as git has it.
    let dirs = vec!["d".repeat(200); 6].join("/");
    let path = format!("site/{dirs}/x\r::add-mask::pwned\n::error::pwned ##[add-mask]pwned");
    let repo = repo_adding(&path, false);
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let args = [
        "plan",
        "--repo",
        &repo_arg,
        "--base",
        "HEAD~1",
        "--mapping",
        "site/** => https://www.example.com/{path}",
    ];
    let r = github(&args, &[], None, None).await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("maps to a URL of"), "{}", r.stderr);
    assert_neutralised(&r);
}

#[tokio::test]
async fn a_submodule_path_in_the_text_plan_cannot_issue_commands() {
    let repo = repo_adding("site/x\r::add-mask::pwned ##[add-mask]pwned", true);
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let r = github(
        &[
            "plan",
            "--repo",
            &repo_arg,
            "--base",
            "HEAD~1",
            "--mapping",
            "site/** => https://www.example.com/{path}",
        ],
        &[],
        None,
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_neutralised(&r);
    assert!(
        r.stdout.contains("submodules skipped: site/x␍"),
        "{}",
        r.stdout
    );
}

/// An Alibaba Cloud endpoint that answers with [`HOSTILE`] text: task ids, task
/// descriptions, and (with `refuse`) the error of every call.
async fn hostile_aliyun(refuse: bool) -> String {
    use axum::http::{HeaderMap, StatusCode};
    use serde_json::json;
    const ID: &str = "1\r::add-mask::pwned ##[add-mask]pwned";
    let answer = move |headers: HeaderMap| async move {
        let action = headers
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let (status, body) = match action.as_str() {
            _ if refuse => (
                StatusCode::FORBIDDEN,
                json!({"Code": "Forbidden.RAM", "Message": HOSTILE, "RequestId": HOSTILE}),
            ),
            "DescribeRefreshQuota" => (
                StatusCode::OK,
                json!({"UrlQuota": "100", "UrlRemain": "100", "DirQuota": "10", "DirRemain": "10",
                       "PreloadQuota": "100", "PreloadRemain": "100", "RequestId": "r"}),
            ),
            "RefreshObjectCaches" => (
                StatusCode::OK,
                json!({"RefreshTaskId": ID, "RequestId": "r"}),
            ),
            "DescribeRefreshTaskById" => (
                StatusCode::OK,
                json!({"Tasks": [{"TaskId": ID, "ObjectPath": "https://example.com/a",
                                  "Status": "Failed", "Description": HOSTILE}],
                       "RequestId": "r"}),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                json!({"Code": "InvalidParameter", "Message": HOSTILE, "RequestId": "r"}),
            ),
        };
        (status, axum::Json(body))
    };
    let app = axum::Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn server_messages_and_task_ids_cannot_issue_commands() {
    let server = hostile_aliyun(false).await;
    let endpoint = ["--endpoint", server.as_str(), "--poll-interval", "10ms"];
    // A run: the task id in the log and the summary, the description as the URL's reason,
    // at every log level.
    for level in ["info", "debug"] {
        let args = [&["run", "--urls", "https://example.com/a"][..], &endpoint].concat();
        let r = github(&args, &[("CDN_REFRESH_LOG", level)], None, None).await;
        assert_eq!(r.code, 1, "{}", r.all());
        assert_neutralised(&r);
        // The tracing line with the task id, neutralised.
        assert!(
            r.stderr.contains("accepted, task 1␍::add-mask::pwned"),
            "{}",
            r.stderr
        );
    }
    // `status` prints the tasks as the server describes them.
    // (`status` polls nothing: it takes no `--poll-interval`.)
    let args = [&["status", "1"][..], &endpoint[..2]].concat();
    let r = github(&args, &[], None, None).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_neutralised(&r);
    // Every call refused with the message: `quota`, `status` and a run.
    let refusing = hostile_aliyun(true).await;
    for command in [
        &["quota"][..],
        &["status", "1"],
        &["run", "--urls", "https://example.com/a"],
    ] {
        let args = [command, &["--endpoint", refusing.as_str()]].concat();
        let r = github(&args, &[("CDN_REFRESH_LOG", "debug")], None, None).await;
        assert_eq!(r.code, 3, "{command:?}\n{}", r.all());
        assert_neutralised(&r);
    }
}

/// Not a test of its own: the child of [`a_panic_cannot_issue_commands`], a process that
/// sets the console up as the binary does in a GitHub job, then panics with hostile text.
#[test]
fn panicking_child() {
    if std::env::var_os("CDN_REFRESH_PANICKING_CHILD").is_none() {
        return;
    }
    cdn_refresh::output::console::init(true);
    panic!("bad input {HOSTILE}");
}

#[test]
fn a_panic_cannot_issue_commands() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panicking_child", "--test-threads", "1"])
        .env("CDN_REFRESH_PANICKING_CHILD", "1")
        .output()
        .unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        _dir: tempfile::tempdir().unwrap(),
    };
    assert_ne!(r.code, 0, "the child panicked: {}", r.all());
    assert_neutralised(&r);
    assert!(r.stderr.contains("panicked at"), "{}", r.all());
}

/// Masks from `stdout`, unescaped as the runner reads them, in order.
fn masks(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(unescape)
        .collect()
}

/// Every mask comes before the first line that is not one.
fn assert_masks_first(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    let first_other = lines.iter().position(|l| !l.starts_with("::add-mask::"));
    let last_mask = lines.iter().rposition(|l| l.starts_with("::add-mask::"));
    if let (Some(other), Some(mask)) = (first_other, last_mask) {
        assert!(mask < other, "a mask after other output:\n{stdout}");
    }
}

/// A config with an Alibaba Cloud target whose credentials come from variables of its own
/// (an STS token with `/`, `+` and `=`) and a Qiniu target with its own, both on `url`.
fn targets_config(dir: &Path, url: &str) -> String {
    let path = dir.join("targets.yml");
    std::fs::write(
        &path,
        format!(
            "version: 1
targets:
  - name: main
    provider: aliyun
    endpoint: {url}
    sites: [www.example.com, example.com]
    credentials:
      access_key_id: MAIN_ID
      access_key_secret: MAIN_SECRET
      security_token: MAIN_TOKEN
  - name: assets
    provider: qiniu
    endpoint: {url}
    sites: ['*.example.com']
    credentials:
      access_key_id: MIRROR_AK
      access_key_secret: MIRROR_SK
"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

const TARGET_ENV: &[(&str, &str)] = &[
    ("MAIN_ID", "mainid"),
    ("MAIN_SECRET", "main-secret"),
    ("MAIN_TOKEN", "a/b+c="),
    ("MIRROR_AK", "testak"),
    ("MIRROR_SK", "testsk"),
];

#[tokio::test]
async fn quota_and_status_mask_the_targets_secrets_in_every_encoding() {
    let emu = common::emulator(&["--aliyun-key", "mainid:main-secret:a/b+c="]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = targets_config(dir.path(), &emu.url());
    let expected = [
        // The standard variable, then each target's secrets, then their encoded forms:
        // percent-encoded, encoded twice (V1's string to sign); the form encoding of
        // `a/b+c=` is the first and is not repeated.
        common::SECRET,
        "a/b+c=",
        "main-secret",
        "testsk",
        "a%2Fb%2Bc%3D",
        "a%252Fb%252Bc%253D",
    ];
    let quota = github(&["quota", "--config", &cfg], TARGET_ENV, None, None).await;
    assert_eq!(quota.code, 0, "{}", quota.all());
    assert!(
        quota.stdout.contains("target main (aliyun)"),
        "{}",
        quota.stdout
    );
    let status = github(
        &["status", "--config", &cfg, "main:1"],
        TARGET_ENV,
        None,
        None,
    )
    .await;
    for r in [&quota, &status] {
        assert_eq!(masks(&r.stdout), expected, "{}", r.all());
        assert_masks_first(&r.stdout);
        assert_no_forged_commands(r);
    }
    emu.shutdown();
}

#[tokio::test]
async fn an_unwritable_report_path_is_bad_input_and_nothing_is_sent() {
    let emu = common::emulator(&[]).await;
    let url = emu.url();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/report.json");
    let missing = missing.to_string_lossy().into_owned();
    let run = [
        "run",
        "-t",
        "both",
        "--urls",
        "https://example.com/a",
        "--endpoint",
    ];
    let not_a_file = dir.path().to_string_lossy().into_owned();
    // The path as --report, as the input (INPUT_REPORT), and a directory.
    for (flag, input) in [
        (Some(&missing), None),
        (None, Some(&missing)),
        (Some(&not_a_file), None),
    ] {
        let mut args = [&run[..], &[url.as_str()]].concat();
        let mut env = Vec::new();
        if let Some(path) = flag {
            args.extend(["--report", path.as_str()]);
        }
        if let Some(path) = input {
            env.push(("INPUT_REPORT", path.as_str()));
        }
        let r = github(&args, &env, None, None).await;
        assert_eq!(r.code, 2, "{}", r.all());
        assert!(
            r.stderr
                .contains("--report (the input report, INPUT_REPORT)")
                && r.stderr.contains("fix:"),
            "{}",
            r.stderr
        );
        assert!(
            r.stdout
                .contains("::error title=cdn-refresh%3A bad input::--report"),
            "{}",
            r.stdout
        );
        assert_no_forged_commands(&r);
    }
    assert!(!dir.path().join("no-such-dir").exists());
    assert_eq!(emu.stats().await.total_requests(), 0);
    // A writable path is checked without leaving a file: here the run stops after the
    // check (no credentials), so no report is written either.
    let report = dir.path().join("report.json");
    let args = [
        &run[..],
        &[url.as_str(), "--report", report.to_str().unwrap()],
    ]
    .concat();
    let r = github(
        &args,
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")],
        None,
        None,
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{}",
        r.stderr
    );
    assert!(
        !report.exists(),
        "the check left {} behind",
        report.display()
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
    emu.shutdown();
}
