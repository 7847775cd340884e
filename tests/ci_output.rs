//! The binary in CI: GitHub Actions (masks, groups, step outputs, summary, annotations,
//! stop-commands) and GitLab (dotenv report, sections), against the emulator.
//!
//! Outputs are read back with the runner's own grammar (`name<<DELIM` … `DELIM`), so a
//! value that could end its heredoc early or add an output fails here.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use common::{KEY_ID, SECRET, emulator, urls};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    dir: tempfile::TempDir,
}

impl Run {
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

/// Runs the binary in a fresh working directory with only `env` (plus PATH and the
/// emulator's credentials). Unlike `common::run`, no `--report` is added: CI mode picks it.
async fn run_in_ci(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn-refresh"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .args(args)
        .args(["--endpoint", endpoint, "--poll-interval", "100ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        let v = v.replace("{dir}", &dir.path().to_string_lossy());
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    }
}

const GITHUB: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_OUTPUT", "{dir}/output"),
    ("GITHUB_STEP_SUMMARY", "{dir}/summary.md"),
    ("RUNNER_TEMP", "{dir}"),
];

/// `$GITHUB_OUTPUT` parsed as the runner parses it (FileCommandManager.cs): `name=value`,
/// or `name<<DELIM`, lines, then a line equal to DELIM. Panics where the runner would fail.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.insert(line[..e].to_string(), line[e + 1..].to_string());
            }
            (_, Some(h)) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                assert!(!name.is_empty() && !delim.is_empty(), "bad line {line:?}");
                let mut value = Vec::new();
                loop {
                    let l = lines.next().expect("Matching delimiter not found");
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                assert!(
                    out.insert(name.to_string(), value.join("\n")).is_none(),
                    "output {name} set twice"
                );
            }
            _ => panic!("Invalid format {line:?}"),
        }
    }
    out
}

const OUTPUTS: [&str; 10] = [
    "status",
    "task-ids",
    "refresh-task-ids",
    "prefetch-task-ids",
    "urls-count",
    "refreshed-count",
    "prefetched-count",
    "failed-count",
    "pending-count",
    "report",
];

#[tokio::test]
async fn github_outputs_summary_groups_and_masks() {
    let emu = emulator(&[]).await;
    let list = urls(6).join("\n");
    let r = run_in_ci(
        &emu.url(),
        &["run", "-t", "both", "--urls", &list],
        &[GITHUB, &[("ALIBABA_CLOUD_SECURITY_TOKEN", "")]].concat(),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // The mask is the first thing printed.
    assert!(
        r.stdout.starts_with(&format!("::add-mask::{SECRET}\n")),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("::add-mask::").count(), 1);

    let outputs = parse_github_output(&r.file("output"));
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        {
            let mut names = OUTPUTS.to_vec();
            names.sort();
            names
        },
        "{outputs:?}"
    );
    assert_eq!(outputs["status"], "success");
    assert_eq!(outputs["urls-count"], "6");
    assert_eq!(outputs["refreshed-count"], "6");
    assert_eq!(outputs["prefetched-count"], "6");
    assert_eq!(outputs["failed-count"], "0");
    assert_eq!(outputs["pending-count"], "0");

    // The report went to $RUNNER_TEMP and its tasks are the outputs' task ids.
    let report_path = r.dir.path().join("cdn-refresh-report.json");
    assert_eq!(outputs["report"], report_path.to_string_lossy());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let ids = |op: Option<&str>| {
        report["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| op.is_none_or(|op| t["operation"] == op))
            .map(|t| t["id"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    assert!(!ids(Some("refresh")).is_empty());
    assert_eq!(outputs["refresh-task-ids"], ids(Some("refresh")));
    assert_eq!(outputs["prefetch-task-ids"], ids(Some("prefetch")));
    assert_eq!(outputs["task-ids"], ids(None));

    // One group for the refresh and the prefetch that follows each URL's refresh, closed.
    assert!(
        r.stdout
            .contains("::group::cdn-refresh: refresh and prefetch 6 URLs"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.matches("::group::").count(), 1);
    assert_eq!(r.stdout.matches("::endgroup::").count(), 1);

    // The summary lists every URL under its operation.
    let summary = r.file("summary.md");
    assert!(
        summary.starts_with("## CDN refresh (aliyun): success"),
        "{summary}"
    );
    for u in urls(6) {
        assert_eq!(summary.matches(&format!("| {u} | complete |")).count(), 2);
    }

    // The secret is nowhere but in its mask.
    let everything = format!(
        "{}{}{}{}",
        r.stdout.replacen(&format!("::add-mask::{SECRET}"), "", 1),
        r.stderr,
        r.file("output"),
        summary
    );
    assert!(!everything.contains(SECRET));
    assert!(
        !std::fs::read_to_string(&report_path)
            .unwrap()
            .contains(SECRET)
    );
    emu.shutdown();
}

#[tokio::test]
async fn github_masks_every_secret_input_before_anything_else() {
    let emu = emulator(&[]).await;
    let r = run_in_ci(
        &emu.url(),
        &["run", "--urls", "https://example.com/a"],
        &[
            GITHUB,
            &[
                ("INPUT_ACCESS-KEY-SECRET", SECRET),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "other-secret"),
                ("INPUT_SECURITY_TOKEN", "sts token%with\nlines"),
            ],
        ]
        .concat(),
    )
    .await;
    let masks: Vec<&str> = r.stdout.lines().take(3).collect();
    assert_eq!(
        masks,
        [
            "::add-mask::other-secret",
            "::add-mask::sts token%25with%0Alines",
            &format!("::add-mask::{SECRET}"),
        ],
        "{}",
        r.stdout
    );
    emu.shutdown();
}

#[tokio::test]
async fn github_annotates_failed_urls_and_points_at_the_report() {
    // The emulator fails the tasks of paths containing "broken", as an origin 5xx would.
    let emu = emulator(&["--fail-matching", "broken", "--task-duration", "200ms"]).await;
    let list = "https://example.com/ok.js\nhttps://example.com/broken.js";
    let r = run_in_ci(&emu.url(), &["run", "--urls", list], GITHUB).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let outputs = parse_github_output(&r.file("output"));
    assert_eq!(outputs["status"], "partial");
    assert_eq!(outputs["failed-count"], "1");
    let annotation = r
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=cdn-refresh refresh failed::"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        annotation.contains("https://example.com/broken.js (failed)"),
        "{annotation}"
    );
    let summary = r.file("summary.md");
    let bad = summary
        .find("| https://example.com/broken.js | failed |")
        .unwrap();
    let good = summary
        .find("| https://example.com/ok.js | complete |")
        .unwrap();
    assert!(bad < good, "failures come first:\n{summary}");
    emu.shutdown();
}

#[tokio::test]
async fn github_bad_input_is_an_error_annotation_and_sends_nothing() {
    let emu = emulator(&[]).await;
    let r = run_in_ci(&emu.url(), &["run", "--urls", "not a url"], GITHUB).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("::error title=cdn-refresh%3A bad input::")),
        "{}",
        r.stdout
    );
    assert!(emu.stats().await.requests.is_empty());
    emu.shutdown();
}

/// A file whose name is a workflow command, changed in git mode: its name reaches the log
/// only between stop-commands markers, so the runner never executes it.
#[tokio::test]
async fn github_file_names_cannot_issue_workflow_commands() {
    // Their tasks fail, so the run's summary lists them too.
    let emu = emulator(&["--fail-matching", "injected", "--task-duration", "200ms"]).await;
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| common::git(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    let evil = "::warning::injected";
    let write_all = |content: &str| {
        std::fs::create_dir_all(repo.path().join("site/sub")).unwrap();
        std::fs::write(repo.path().join("site").join(evil), content).unwrap();
        for i in 0..3 {
            std::fs::write(repo.path().join(format!("site/sub/{evil}{i}")), content).unwrap();
        }
    };
    write_all("base");
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    // Modified: refreshed, so the names reach the plan, the summary and the collapse.
    write_all("head");
    git(&["add", "."]);
    git(&["commit", "-qm", "head"]);
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let r = run_in_ci(
        &emu.url(),
        &[
            "run",
            "--repo",
            &repo_arg,
            "--base",
            "HEAD~1",
            "--collapse-threshold",
            "2",
            "--mapping",
            "site/** => https://example.com/{path}",
        ],
        GITHUB,
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // Every line naming the file sits inside a stop-commands block, but for our own
    // annotations, whose message is data after the command's `::`.
    let mut stopped: Option<String> = None;
    let mut seen = 0;
    for line in r.stdout.lines() {
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(format!("::{token}::"));
        } else if stopped.as_deref() == Some(line) {
            stopped = None;
        } else if line.contains("injected") && !line.starts_with("::error title=") {
            assert!(stopped.is_some(), "unguarded: {line:?}\n{}", r.stdout);
            seen += 1;
        }
    }
    assert!(seen > 0, "the file names are echoed (collapse, summary)");
    assert!(stopped.is_none(), "every block is closed");
    emu.shutdown();
}

#[tokio::test]
async fn gitlab_dotenv_carries_the_outputs() {
    let emu = emulator(&[]).await;
    let list = urls(3).join("\n");
    let r = run_in_ci(
        &emu.url(),
        &["run", "-t", "both", "--urls", &list],
        &[("GITLAB_CI", "true")],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Default paths in the project directory, where artifacts can keep them.
    let dotenv = r.file("cdn-refresh.env");
    let vars: BTreeMap<&str, &str> = dotenv
        .lines()
        .map(|l| l.split_once('=').expect("KEY=value"))
        .collect();
    let keys: Vec<String> = OUTPUTS
        .iter()
        .map(|o| format!("CDN_REFRESH_{}", o.to_uppercase().replace('-', "_")))
        .collect();
    let mut expected: Vec<&str> = keys.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(vars.keys().copied().collect::<Vec<_>>(), expected);
    assert_eq!(vars["CDN_REFRESH_STATUS"], "success");
    assert_eq!(vars["CDN_REFRESH_REFRESHED_COUNT"], "3");
    assert_eq!(vars["CDN_REFRESH_REPORT"], "cdn-refresh-report.json");
    assert!(
        r.dir.path().join("cdn-refresh-report.json").exists(),
        "report written"
    );
    assert!(vars["CDN_REFRESH_TASK_IDS"].split(',').count() >= 2);
    for line in dotenv.lines() {
        assert!(
            !line.contains(' ') && line.len() < 5 * 1024,
            "single line: {line:?}"
        );
    }
    // A collapsible section for the pipelined refresh and prefetch.
    assert!(
        r.stdout.contains("section_start:")
            && r.stdout
                .contains(":cdn_refresh_refresh_and_prefetch[collapsed=true]\r\x1b[0K"),
        "{:?}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(":cdn_refresh_refresh_and_prefetch\r\x1b[0K\n"),
        "section end: {:?}",
        r.stdout
    );
    emu.shutdown();
}

#[tokio::test]
async fn dotenv_flag_works_outside_gitlab_without_sections() {
    let emu = emulator(&[]).await;
    let r = run_in_ci(
        &emu.url(),
        &[
            "run",
            "--urls",
            "https://example.com/a",
            "--dotenv",
            "out.env",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.file("out.env").contains("CDN_REFRESH_STATUS=success\n"));
    assert!(!r.stdout.contains("section_start"));
    assert!(!Path::new(&r.dir.path().join("cdn-refresh.env")).exists());
    emu.shutdown();
}

#[tokio::test]
async fn plain_runs_print_no_ci_commands_and_write_no_files() {
    let emu = emulator(&[]).await;
    let r = run_in_ci(&emu.url(), &["run", "--urls", "https://example.com/a"], &[]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("::"), "{}", r.stdout);
    let files: Vec<_> = std::fs::read_dir(r.dir.path()).unwrap().collect();
    assert!(files.is_empty(), "{files:?}");
    emu.shutdown();
}
