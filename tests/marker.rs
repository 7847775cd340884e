//! `--marker`: the base of the diff is the last run that really succeeded. Every base
//! decision, the binary against the emulator, with a local bare repository as `origin`
//! (the git store's ref lives there) and a one-shot HTTP server for the site store.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{emulator, run, run_configured};
use serde_json::Value;

const RULES: &str = "public/** => https://www.example.com/{path}";
const REF: &str = "refs/cdn-refresh/default";

/// A bare `origin` and a clone of it, with `public/{a,b,c}.html` pushed as the first deploy.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        git(
            site.dir.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(site.dir.path(), &["clone", "-q", "origin.git", "work"]);
        for name in ["a", "b", "c"] {
            site.write(&format!("public/{name}.html"), "1");
        }
        site.deploy("first");
        site
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn origin(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }

    fn work_str(&self) -> String {
        self.work().to_string_lossy().into_owned()
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.work().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    /// Commits everything and pushes it to origin's main; returns the commit.
    fn deploy(&self, message: &str) -> String {
        git(&self.work(), &["add", "-A"]);
        git(
            &self.work(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work(), &["push", "-q", "origin", "HEAD:main"]);
        self.head()
    }

    fn head(&self) -> String {
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    /// The commit `REF` names in origin, if it is there.
    fn marker(&self, name: &str) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.origin())
            .args(["rev-parse", "--verify", "-q", name])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn set_marker(&self, name: &str, sha: &str) {
        git(&self.origin(), &["update-ref", name, sha]);
    }

    /// Makes origin refuse every push to refs/cdn-refresh/, as a read-only token does.
    fn refuse_marker_pushes(&self) {
        let hook = self.origin().join("hooks/pre-receive");
        std::fs::write(
            &hook,
            "#!/bin/sh\nwhile read old new ref; do case \"$ref\" in refs/cdn-refresh/*) echo \"remote: Permission to site.git denied to github-actions[bot].\" >&2; exit 1;; esac; done\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A GitHub push event from `before` to `after`.
    fn push_event(&self, before: &str, after: &str) -> String {
        let path = self.dir.path().join("event.json");
        std::fs::write(
            &path,
            format!(r#"{{"before":"{before}","after":"{after}","ref":"refs/heads/main"}}"#),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }
}

/// `git ARGS` in `dir`, isolated from the machine's configuration; returns stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn url(name: &str) -> String {
    format!("https://www.example.com/{name}.html")
}

/// The refreshed URLs of a report, sorted.
fn refreshed(report: &Value) -> Vec<String> {
    let mut urls: Vec<String> = report["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["operation"] == "refresh" && u["status"] == "complete")
        .map(|u| u["url"].as_str().unwrap().to_string())
        .collect();
    urls.sort();
    urls
}

fn args<'a>(site: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--repo", site, "--mapping", RULES];
    all.extend_from_slice(extra);
    all
}

#[tokio::test]
async fn without_a_marker_the_policy_decides_and_says_why() {
    let site = Site::new();
    let repo = site.work_str();
    let emu = emulator(&["--task-duration", "0s"]).await;

    // Default policy: fail, naming the marker and the fix; nothing sent.
    let out = run(&emu, &args(&repo, &["--marker"]), &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("the marker refs/cdn-refresh/default is not in origin"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--on-missing-base all"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().await.accepted.refresh.len(), 0);
    assert_eq!(site.marker(REF), None);

    // `all`: every mapped root once, then the marker is created at head.
    let out = run(
        &emu,
        &args(&repo, &["--marker", "git", "--on-missing-base", "all"]),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let git = &out.report()["git"];
    assert_eq!(git["base_source"], "marker");
    assert_eq!(git["missing_base"]["policy"], "all");
    assert!(
        git["missing_base"]["reason"]
            .as_str()
            .unwrap()
            .contains("not in origin")
    );
    assert_eq!(git["markers"][0]["commit"], Value::Null);
    assert_eq!(git["markers"][0]["state"], "moved");
    assert_eq!(site.marker(REF), Some(site.head()));
}

#[tokio::test]
async fn a_failed_run_leaves_the_marker_and_the_next_refreshes_both_pushes() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker(REF, &first);

    // Push 1 changes a.html; its run fails for quota: the marker stays.
    site.write("public/a.html", "2");
    let one = site.deploy("one");
    let broke = emulator(&["--task-duration", "0s", "--url-quota", "0"]).await;
    let event = site.push_event(&first, &one);
    let env = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", event.as_str()),
    ];
    let out = run(&broke, &args(&repo, &["--marker"]), &env).await;
    assert_ne!(out.code, 0, "{}", out.all());
    assert_eq!(out.report()["git"]["markers"][0]["state"], "kept");
    assert_eq!(site.marker(REF), Some(first.clone()));
    assert!(out.stdout.contains("stays at"), "{}", out.stdout);

    // Push 2 changes b.html; the event says `before` = push 1, which was never refreshed.
    // The marker wins: both pushes' changes go out, then the marker moves.
    site.write("public/b.html", "2");
    let two = site.deploy("two");
    let emu = emulator(&["--task-duration", "0s"]).await;
    let event = site.push_event(&one, &two);
    let env = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", event.as_str()),
    ];
    let out = run(&emu, &args(&repo, &["--marker"]), &env).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(refreshed(out.report()), vec![url("a"), url("b")]);
    let git = &out.report()["git"];
    assert_eq!(git["base"], first.as_str());
    assert_eq!(git["head"], two.as_str());
    assert_eq!(git["base_source"], "marker");
    assert_eq!(
        git["base_reason"],
        format!("marker {REF} at {}", &first[..7]).as_str()
    );
    assert_eq!(git["markers"][0]["commit"], first.as_str());
    assert_eq!(git["markers"][0]["state"], "moved");
    assert!(
        out.stdout
            .contains(&format!("base from marker {REF} at {}", &first[..7])),
        "{}",
        out.stdout
    );
    assert_eq!(site.marker(REF), Some(two));
}

#[tokio::test]
async fn without_a_marker_configured_the_event_is_the_base() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker(REF, &first);
    site.write("public/a.html", "2");
    let one = site.deploy("one");
    site.write("public/b.html", "2");
    let two = site.deploy("two");
    let event = site.push_event(&one, &two);
    let env = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", event.as_str()),
    ];
    let emu = emulator(&["--task-duration", "0s"]).await;
    let out = run(&emu, &args(&repo, &["--base", "auto"]), &env).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(refreshed(out.report()), vec![url("b")]);
    let git = &out.report()["git"];
    assert_eq!(git["base_source"], "github-push");
    assert!(git.get("markers").is_none(), "{git}");
    // `--marker off` is the same as none.
    let out = run(&emu, &args(&repo, &["--marker", "off"]), &env).await;
    assert_eq!(out.report()["git"]["base_source"], "github-push");
    assert_eq!(site.marker(REF), Some(first));
}

#[tokio::test]
async fn an_explicit_base_wins_and_the_marker_still_moves() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker(REF, &first);
    site.write("public/a.html", "2");
    let one = site.deploy("one");
    site.write("public/b.html", "2");
    let two = site.deploy("two");
    let emu = emulator(&["--task-duration", "0s"]).await;
    let out = run(&emu, &args(&repo, &["--marker", "--base", &one]), &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(refreshed(out.report()), vec![url("b")]);
    let git = &out.report()["git"];
    assert_eq!(git["base_source"], "explicit");
    assert_eq!(git["markers"][0]["commit"], first.as_str());
    assert_eq!(site.marker(REF), Some(two));
}

#[tokio::test]
async fn a_marker_ref_of_its_own_name_and_a_marker_behind_a_rewritten_branch() {
    let site = Site::new();
    let repo = site.work_str();
    // A commit that is on no branch any more (a force push rewrote main): the ref keeps it
    // alive in origin, and the tree diff from it is right.
    site.write("public/c.html", "old");
    let orphaned = site.deploy("to be rewritten");
    git(&site.work(), &["reset", "-q", "--hard", "HEAD~1"]);
    site.write("public/a.html", "2");
    git(&site.work(), &["add", "-A"]);
    git(&site.work(), &["commit", "-q", "-m", "rewritten"]);
    git(&site.work(), &["push", "-q", "-f", "origin", "HEAD:main"]);
    let name = "refs/cdn-refresh/prod";
    site.set_marker(name, &orphaned);
    let emu = emulator(&["--task-duration", "0s"]).await;
    let out = run(&emu, &args(&repo, &["--marker", "--marker-ref", name]), &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    // c.html went back to "1", a.html changed: both differ from the marker's tree.
    assert_eq!(refreshed(out.report()), vec![url("a"), url("c")]);
    assert_eq!(site.marker(name), Some(site.head()));
    assert_eq!(site.marker(REF), None);
}

#[tokio::test]
async fn a_refused_push_warns_naming_the_permission_and_the_run_stays_successful() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker(REF, &first);
    site.refuse_marker_pushes();
    site.write("public/a.html", "2");
    site.deploy("one");
    let emu = emulator(&["--task-duration", "0s"]).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gh_output");
    let output_str = output.to_string_lossy().into_owned();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output_str.as_str()),
    ];
    let out = run(&emu, &args(&repo, &["--marker"]), &env).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(refreshed(out.report()), vec![url("a")]);
    assert!(
        out.stdout.contains("::warning title=cdn-refresh"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("contents: write"), "{}", out.stderr);
    assert!(out.stderr.contains("write_repository"), "{}", out.stderr);
    let entry = &out.report()["git"]["markers"][0];
    assert_eq!(entry["state"], "push-refused");
    assert!(
        entry["note"]
            .as_str()
            .unwrap()
            .contains("Permission to site.git denied")
    );
    assert_eq!(out.report()["status"], "success");
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("status<<")
    );
    assert_eq!(site.marker(REF), Some(first));
}

#[tokio::test]
async fn a_timed_out_or_interrupted_run_never_moves_the_marker() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker(REF, &first);
    site.write("public/a.html", "2");
    site.deploy("one");
    // Timed out: the task is still running when --timeout ends the wait.
    let emu = emulator(&["--task-duration", "600s"]).await;
    let out = run(
        &emu,
        &args(
            &repo,
            &["--marker", "--timeout", "1s", "--fail-on", "never"],
        ),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "--fail-on never: {}", out.all());
    let entry = &out.report()["git"]["markers"][0];
    assert_eq!(entry["state"], "kept");
    assert!(
        entry["note"].as_str().unwrap().contains("pending"),
        "{entry}"
    );
    assert_eq!(site.marker(REF), Some(first.clone()));

    // Interrupted once the batch is accepted (the stats say so; bounded: 30 s).
    let emu = emulator(&["--task-duration", "600s"]).await;
    let started = common::start(&emu, &args(&repo, &["--marker"]), &[]);
    let mut accepted = 0;
    for _ in 0..1500 {
        accepted = emu.stats().await.accepted.refresh.len();
        if accepted >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(accepted >= 1, "no batch was accepted");
    started.signal("TERM");
    let out = started.finish().await;
    assert_eq!(out.code, 143, "{}", out.all());
    assert_eq!(out.report()["git"]["markers"][0]["state"], "kept");
    assert_eq!(site.marker(REF), Some(first));
}

#[tokio::test]
async fn several_targets_keep_a_marker_each_and_a_failing_one_keeps_its_own() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.set_marker("refs/cdn-refresh/main", &first);
    site.set_marker("refs/cdn-refresh/mirror", &first);
    site.write("public/a.html", "2");
    let head = site.deploy("one");
    // Qiniu has no URL quota left: the mirror target fails, the main one succeeds.
    let emu = emulator(&["--task-duration", "0s", "--qiniu-url-quota", "0"]).await;
    let path = site.dir.path().join("targets.yml");
    let config = |url: &str| {
        std::fs::write(
            &path,
            format!(
                "version: 1\nmarker: git\ntargets:\n  - name: main\n    provider: aliyun\n    endpoint: {url}\n  - name: mirror\n    provider: qiniu\n    endpoint: {url}\n    credentials:\n      access_key_id: MIRROR_AK\n      access_key_secret: MIRROR_SK\n"
            ),
        )
        .unwrap();
    };
    config(&emu.url());
    let cfg = path.to_string_lossy().into_owned();
    let out = run_configured(
        &args(&repo, &["--config", &cfg]),
        &[("MIRROR_AK", "testak"), ("MIRROR_SK", "testsk")],
    )
    .await;
    assert_ne!(out.code, 0, "{}", out.all());
    let markers = out.report()["git"]["markers"].as_array().unwrap().clone();
    let state = |name: &str| {
        markers
            .iter()
            .find(|m| m["target"] == name)
            .map(|m| m["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state("main").as_deref(), Some("moved"));
    assert_eq!(state("mirror").as_deref(), Some("kept"));
    assert_eq!(site.marker("refs/cdn-refresh/main"), Some(head.clone()));
    assert_eq!(site.marker("refs/cdn-refresh/mirror"), Some(first.clone()));

    // Next push: the targets' markers differ; each gets the union of both diffs (a.html
    // from the mirror's marker, b.html from both).
    site.write("public/b.html", "2");
    let two = site.deploy("two");
    let emu = emulator(&["--task-duration", "0s"]).await;
    config(&emu.url());
    let out = run_configured(
        &args(&repo, &["--config", &cfg]),
        &[("MIRROR_AK", "testak"), ("MIRROR_SK", "testsk")],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    for target in out.report()["targets"].as_array().unwrap() {
        assert_eq!(refreshed(target), vec![url("a"), url("b")], "{target}");
    }
    assert_eq!(site.marker("refs/cdn-refresh/main"), Some(two.clone()));
    assert_eq!(site.marker("refs/cdn-refresh/mirror"), Some(two));
}

/// Serves each of `answers` once, in order, as a whole HTTP/1.1 answer; returns the base URL.
fn serve(answers: Vec<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

fn http(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn the_site_store_reads_one_commit_id_and_refuses_anything_else() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.write("public/a.html", "2");
    site.deploy("one");
    let emu = emulator(&["--task-duration", "0s"]).await;

    // A good marker: the diff starts there; the run earns `publish`.
    let base = serve(vec![http("200 OK", &format!("{first}\n"))]);
    let store = format!("site:{base}/cdn-refresh-marker.txt");
    let out = run(&emu, &args(&repo, &["--marker", &store]), &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(refreshed(out.report()), vec![url("a")]);
    let git = &out.report()["git"];
    assert_eq!(git["base"], first.as_str());
    assert_eq!(git["markers"][0]["state"], "publish");

    // `marker write DIR` writes the head from that report into the folder to upload.
    let public = site.work().join("public");
    let report = out.dir.path().join("report.json");
    let written = Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .env_clear()
        .args(["marker", "write"])
        .arg(&public)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    assert_eq!(
        std::fs::read_to_string(public.join("cdn-refresh-marker.txt")).unwrap(),
        format!("{}\n", site.head())
    );

    // Hostile answers: never a base, always the reason; in a GitHub job nothing in them
    // becomes a workflow command.
    let env = [("GITHUB_ACTIONS", "true")];
    for (answer, reason) in [
        (
            http("200 OK", "1a2b3c\r\n::error::pwned"),
            "is not a commit id",
        ),
        (http("200 OK", &"f".repeat(5000)), "longer than 1024 bytes"),
        (http("404 Not Found", ""), "there is no marker at"),
        (http("302 Found", ""), "answered HTTP 302"),
        (http("200 OK", &"0".repeat(40)), "is not a commit id"),
    ] {
        let base = serve(vec![answer]);
        let store = format!("site:{base}/m.txt");
        let out = run(&emu, &args(&repo, &["--marker", &store]), &env).await;
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(reason), "{reason}: {}", out.stderr);
        assert!(
            !out.all().lines().any(|l| l.starts_with("::error::pwned")),
            "{}",
            out.all()
        );
    }
    // A commit id that is in no history: the one fetch fails, the policy decides.
    let ghost = "1".repeat(40);
    let base = serve(vec![http("200 OK", &ghost)]);
    let store = format!("site:{base}/m.txt");
    let out = run(&emu, &args(&repo, &["--marker", &store]), &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains(&ghost), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("marker {base}/m.txt")),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn marker_write_writes_nothing_for_a_run_that_did_not_succeed() {
    let site = Site::new();
    let repo = site.work_str();
    let first = site.head();
    site.write("public/a.html", "2");
    site.deploy("one");
    let emu = emulator(&["--task-duration", "0s", "--url-quota", "0"]).await;
    let base = serve(vec![http("200 OK", &first)]);
    let store = format!("site:{base}/cdn-refresh-marker.txt");
    let out = run(&emu, &args(&repo, &["--marker", &store]), &[]).await;
    assert_ne!(out.code, 0);
    let public = site.work().join("public");
    let written = Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .env_clear()
        .args(["marker", "write"])
        .arg(&public)
        .arg("--report")
        .arg(out.dir.path().join("report.json"))
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    assert!(String::from_utf8_lossy(&written.stdout).contains("marker not written"));
    assert!(!public.join("cdn-refresh-marker.txt").exists());
    // A file path that leaves the folder is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .env_clear()
        .args(["marker", "write", "--file", "../x.txt"])
        .arg(&public)
        .arg("--report")
        .arg(out.dir.path().join("report.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[tokio::test]
async fn bad_marker_inputs_stop_before_anything_is_sent() {
    let site = Site::new();
    let repo = site.work_str();
    let emu = emulator(&["--task-duration", "0s"]).await;
    for (extra, named) in [
        (vec!["--marker", "s3://bucket/x"], "--marker"),
        (
            vec!["--marker", "--marker-ref", "refs/x/../y"],
            "--marker-ref",
        ),
        (vec!["--marker", "site:ftp://a/b"], "--marker"),
    ] {
        let out = run(&emu, &args(&repo, &extra), &[]).await;
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains(named), "{}", out.stderr);
    }
    // From the env, the error names the input.
    let out = run(&emu, &args(&repo, &[]), &[("INPUT_MARKER", "bogus")]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("INPUT_MARKER"), "{}", out.stderr);
    // Without git mode, a marker has nothing to record.
    let out = run(
        &emu,
        &["--urls", "https://www.example.com/a.html", "--marker"],
        &[],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("git mode is off"), "{}", out.stderr);
    assert_eq!(emu.stats().await.accepted.refresh.len(), 0);
}

#[tokio::test]
async fn skip_sends_nothing_and_starts_the_marker_and_an_unreadable_origin_is_a_missing_marker() {
    let site = Site::new();
    let repo = site.work_str();
    let emu = emulator(&["--task-duration", "0s"]).await;
    // `skip` on a missing marker: nothing sent, status skipped; the marker starts at head, so
    // the next run has a base.
    let out = run(
        &emu,
        &args(&repo, &["--marker", "--on-missing-base", "skip"]),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.report()["status"], "skipped");
    assert_eq!(emu.stats().await.accepted.refresh.len(), 0);
    assert_eq!(site.marker(REF), Some(site.head()));

    // An origin that cannot be reached: the marker cannot be read, and git's message says why.
    git(
        &site.work(),
        &["remote", "set-url", "origin", "/nonexistent/origin.git"],
    );
    let out = run(&emu, &args(&repo, &["--marker"]), &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("cannot read the marker refs/cdn-refresh/default"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("/nonexistent/origin.git"),
        "{}",
        out.stderr
    );
}
