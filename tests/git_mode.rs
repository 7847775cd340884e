//! Git mode end to end: scripted repositories in temp dirs, the real binary, `plan --format json`
//! (no network), and one real run against the emulator.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ZERO: &str = "0000000000000000000000000000000000000000";
const RULES: &str = "!public/**/*.map\npublic/** => https://www.example.com/{path}";

/// A throwaway repository built with the git CLI.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn remove(&self, path: &str) {
        std::fs::remove_file(self.path().join(path)).unwrap();
    }

    /// Commits everything; returns the commit's SHA.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

struct Planned {
    code: i32,
    json: Value,
    stderr: String,
}

/// `cdn-refresh plan --format json ARGS` in the repository, with only `env` set.
fn plan(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Planned {
    let out = Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .arg("plan")
        .args(["--format", "json"])
        .args(args)
        .current_dir(repo.path())
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Planned {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn url(path: &str) -> String {
    format!("https://www.example.com/{path}")
}

fn refresh(p: &Planned, object_type: &str) -> Vec<String> {
    sorted(strings(&p.json["plan"]["refresh"][object_type]))
}

fn prefetch(p: &Planned) -> Vec<String> {
    sorted(strings(&p.json["plan"]["prefetch"]))
}

/// public/{a.html, blog/b.html, old.css, x.map}, then: modify a.html, delete blog/b.html,
/// rename old.css → new.css, add added.js, modify x.map (excluded), add README (unmapped).
fn site() -> (Repo, String, String) {
    let repo = Repo::new();
    repo.write("public/a.html", "a");
    repo.write("public/blog/b.html", "b");
    repo.write("public/old.css", "css");
    repo.write("public/x.map", "map");
    let base = repo.commit("base");
    repo.write("public/a.html", "a2");
    repo.remove("public/blog/b.html");
    repo.git(&["mv", "public/old.css", "public/new.css"]);
    repo.write("public/added.js", "js");
    repo.write("public/x.map", "map2");
    repo.write("README", "readme");
    let head = repo.commit("head");
    (repo, base, head)
}

#[test]
fn add_modify_delete_rename_plan() {
    let (repo, base, head) = site();
    let p = plan(
        &repo,
        &["--base", &base, "--mapping", RULES, "-t", "both"],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(
        refresh(&p, "file"),
        vec![url("a.html"), url("blog/b.html"), url("old.css")]
    );
    assert_eq!(
        prefetch(&p),
        vec![url("a.html"), url("added.js"), url("new.css")]
    );
    let git = &p.json["git"];
    assert_eq!(git["base"], base.as_str());
    assert_eq!(git["head"], head.as_str());
    assert_eq!(git["base_source"], "explicit");
    assert_eq!(git["changes"], 6);
    assert_eq!(git["changed"].as_array().unwrap().len(), 6);
    assert_eq!(git["unmapped"], 1, "README");
    assert_eq!(git["excluded"], 1, "x.map");
    assert_eq!(p.json["plan"]["prefetch_after_refresh"], true);
    assert!(!p.json["batches"].as_array().unwrap().is_empty());

    // Refresh only: the added file is not prefetched and nothing else is either.
    let p = plan(&repo, &["--base", &base, "--mapping", RULES], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(refresh(&p, "file").len(), 3);
    assert!(prefetch(&p).is_empty());

    // Prefetch only: nothing refreshed.
    let p = plan(
        &repo,
        &["--base", &base, "--mapping", RULES, "-t", "prefetch"],
        &[],
    );
    assert!(refresh(&p, "file").is_empty());
    assert_eq!(prefetch(&p).len(), 3);
}

#[test]
fn url_lists_combine_with_git_mode_and_duplicates_go() {
    let (repo, base, _) = site();
    let p = plan(
        &repo,
        &[
            "--base",
            &base,
            "--mapping",
            RULES,
            "--urls",
            "https://www.example.com/a.html\nhttps://static.example.com/extra.js",
        ],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(
        refresh(&p, "file"),
        vec![
            "https://static.example.com/extra.js".to_string(),
            url("a.html"),
            url("blog/b.html"),
            url("old.css"),
        ]
    );
}

#[test]
fn excludes_map_to_nothing() {
    let (repo, base, _) = site();
    let rules = "!public/blog/**\n!public/**/*.map\npublic/** => https://www.example.com/{path}";
    let p = plan(&repo, &["--base", &base, "--mapping", rules], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(refresh(&p, "file"), vec![url("a.html"), url("old.css")]);
    assert_eq!(p.json["git"]["excluded"], 2);
}

#[test]
fn whole_site_rule_refreshes_the_roots_as_directories() {
    let repo = Repo::new();
    repo.write("layouts/base.html", "1");
    repo.write("public/a.html", "a");
    let base = repo.commit("base");
    repo.write("layouts/base.html", "2");
    repo.write("public/a.html", "a2");
    repo.commit("head");
    let rules = "layouts/** => @all\n\
                 public/** => https://www.example.com/{path}, https://example.com/docs/{path}";
    let p = plan(&repo, &["--base", &base, "--mapping", rules], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(
        refresh(&p, "directory"),
        vec![
            "https://example.com/docs/".to_string(),
            "https://www.example.com/".to_string()
        ]
    );
    assert!(
        refresh(&p, "file").is_empty(),
        "files under a refreshed directory are covered by it"
    );
}

#[test]
fn collapse_on_and_off() {
    let (repo, base) = blog();
    let off = plan(
        &repo,
        &["--base", &base, "--mapping", RULES, "-t", "both"],
        &[],
    );
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert_eq!(refresh(&off, "file").len(), 5);
    assert!(refresh(&off, "directory").is_empty());
    assert!(off.json["git"]["collapses"].as_array().unwrap().is_empty());

    let on = plan(
        &repo,
        &[
            "--base",
            &base,
            "--mapping",
            RULES,
            "-t",
            "both",
            "--collapse-threshold",
            "3",
        ],
        &[],
    );
    assert_eq!(on.code, 0, "{}", on.stderr);
    assert_eq!(refresh(&on, "directory"), vec![url("blog/")]);
    assert_eq!(refresh(&on, "file"), vec![url("a.html")]);
    assert_eq!(prefetch(&on).len(), 5, "prefetch always takes files");
    let collapses = on.json["git"]["collapses"].as_array().unwrap();
    assert_eq!(collapses.len(), 1);
    assert_eq!(collapses[0]["directory"], url("blog/").as_str());
    assert_eq!(
        sorted(strings(&collapses[0]["files"])),
        (0..4)
            .map(|i| format!("public/blog/p{i}.html"))
            .collect::<Vec<_>>()
    );

    // Exactly at the threshold: no collapse ("more than").
    let at = plan(
        &repo,
        &[
            "--base",
            &base,
            "--mapping",
            RULES,
            "--collapse-threshold",
            "4",
        ],
        &[],
    );
    assert!(refresh(&at, "directory").is_empty());
}

#[test]
fn config_file_supplies_rules_and_options() {
    let (repo, base, _) = site();
    repo.write(
        ".cdn-refresh.yml",
        "mapping:\n  - \"!public/**/*.map\"\n  - public/** => https://www.example.com/{path}\ntask: both\n",
    );
    let p = plan(&repo, &["--base", &base], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(p.json["task"], "both");
    assert_eq!(refresh(&p, "file").len(), 3);
    // Flags win over the file.
    let p = plan(&repo, &["--base", &base, "-t", "refresh"], &[]);
    assert_eq!(p.json["task"], "refresh");
}

#[test]
fn on_missing_base_policies() {
    let (repo, _, _) = site();
    let fail = plan(&repo, &["--base", ZERO, "--mapping", RULES], &[]);
    assert_eq!(fail.code, 2, "{}", fail.stderr);
    assert!(fail.stderr.contains("fix"), "{}", fail.stderr);

    let skip = plan(
        &repo,
        &[
            "--base",
            ZERO,
            "--mapping",
            RULES,
            "--on-missing-base",
            "skip",
        ],
        &[],
    );
    assert_eq!(skip.code, 0, "{}", skip.stderr);
    assert_eq!(skip.json["status"], "skipped");
    assert!(skip.json["batches"].as_array().unwrap().is_empty());
    assert_eq!(skip.json["git"]["missing_base"]["policy"], "skip");

    let all = plan(
        &repo,
        &[
            "--base",
            ZERO,
            "--mapping",
            "public/** => https://www.example.com/{path}, https://example.com/{path}",
            "--on-missing-base",
            "all",
        ],
        &[],
    );
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(
        refresh(&all, "directory"),
        vec![
            "https://example.com/".to_string(),
            "https://www.example.com/".to_string()
        ]
    );
    assert!(refresh(&all, "file").is_empty());

    let bad = plan(
        &repo,
        &[
            "--base",
            ZERO,
            "--mapping",
            RULES,
            "--on-missing-base",
            "maybe",
        ],
        &[],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--on-missing-base"), "{}", bad.stderr);
}

#[test]
fn skip_run_writes_a_skipped_report_and_sends_nothing() {
    let (repo, _, _) = site();
    let report = repo.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // An endpoint that would refuse any connection: nothing may be sent.
        .args(["--endpoint", "http://127.0.0.1:9"])
        .args(["--base", ZERO, "--mapping", RULES])
        .args(["--on-missing-base", "skip", "--report"])
        .arg(&report)
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["status"], "skipped");
    assert_eq!(report["git"]["missing_base"]["policy"], "skip");
    assert!(report["urls"].as_array().unwrap().is_empty());
}

#[test]
fn bad_rules_and_missing_rules_exit_2() {
    let (repo, base, _) = site();
    let p = plan(
        &repo,
        &["--base", &base, "--mapping", "public/** https://x"],
        &[],
    );
    assert_eq!(p.code, 2);
    assert!(
        p.stderr.contains("--mapping") && p.stderr.contains("line 1"),
        "{}",
        p.stderr
    );

    let p = plan(&repo, &["--base", &base], &[]);
    assert_eq!(p.code, 2);
    assert!(p.stderr.contains("mapping rules"), "{}", p.stderr);
}

#[test]
fn too_long_url_names_the_path() {
    let repo = Repo::new();
    repo.write("public/a.html", "1");
    let base = repo.commit("base");
    // File names stop at 255 bytes; five folders of 230 make a path over 1,024.
    let long = vec!["x".repeat(230); 5].join("/");
    repo.write(&format!("public/{long}.html"), "1");
    repo.commit("head");
    let p = plan(
        &repo,
        &["--base", &base, "--mapping", RULES, "-t", "both"],
        &[],
    );
    assert_eq!(p.code, 2, "{}", p.stderr);
    assert!(
        p.stderr.contains(&format!("public/{long}.html")),
        "{}",
        p.stderr
    );
}

#[test]
fn github_push_event_gives_base_and_head() {
    let (repo, base, head) = site();
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/events/github-push.json").unwrap(),
    )
    .unwrap();
    event["before"] = Value::from(base.as_str());
    event["after"] = Value::from(head.as_str());
    let event_path = repo.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    // HEAD moves on after the push; the event's `after` is still the head.
    repo.write("public/later.html", "later");
    repo.commit("later");

    let p = plan(
        &repo,
        &["--mapping", RULES],
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", event_path.to_str().unwrap()),
            ("INPUT_BASE", "auto"),
        ],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(p.json["git"]["base"], base.as_str());
    assert_eq!(p.json["git"]["head"], head.as_str());
    assert_eq!(p.json["git"]["base_source"], "github-push");
    assert_eq!(refresh(&p, "file").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_run_refreshes_and_prefetches_the_mapped_urls() {
    let (repo, base, head) = site();
    let emu = common::emulator(&["--task-duration", "0s"]).await;
    let repo_dir = repo.path().to_str().unwrap().to_string();
    let out = common::run(
        &emu,
        &[
            "-t",
            "both",
            "--repo",
            &repo_dir,
            "--base",
            &base,
            "--head",
            &head,
            "--mapping",
            RULES,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let mut statuses = out.statuses();
    statuses.sort();
    let expected: Vec<(String, String, String)> = [
        ("a.html", "prefetch"),
        ("a.html", "refresh"),
        ("added.js", "prefetch"),
        ("blog/b.html", "refresh"),
        ("new.css", "prefetch"),
        ("old.css", "refresh"),
    ]
    .iter()
    .map(|(p, op)| (url(p), op.to_string(), "complete".to_string()))
    .collect();
    assert_eq!(statuses, expected);
    let git = &out.report()["git"];
    assert_eq!(git["base"], base.as_str());
    assert_eq!(git["head"], head.as_str());
    assert_eq!(git["base_source"], "explicit");
    assert_eq!(git["changes"], 6);
}

/// Four changed files in public/blog and one at the top.
fn blog() -> (Repo, String) {
    let repo = Repo::new();
    for i in 0..4 {
        repo.write(&format!("public/blog/p{i}.html"), "1");
    }
    repo.write("public/a.html", "1");
    let base = repo.commit("base");
    for i in 0..4 {
        repo.write(&format!("public/blog/p{i}.html"), "2");
    }
    repo.write("public/a.html", "2");
    repo.commit("head");
    (repo, base)
}

#[tokio::test(flavor = "multi_thread")]
async fn collapse_goes_out_when_the_directory_quota_covers_it_and_not_otherwise() {
    let (repo, base) = blog();
    let repo_dir = repo.path().to_str().unwrap().to_string();
    let args = [
        "--repo",
        &repo_dir,
        "--base",
        &base,
        "--mapping",
        RULES,
        "--collapse-threshold",
        "3",
    ];

    let emu = common::emulator(&["--task-duration", "0s"]).await;
    let out = common::run(&emu, &args, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let dirs: Vec<&Value> = out.report()["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["object_type"] == "directory")
        .collect();
    assert_eq!(dirs.len(), 1, "{}", out.all());
    assert_eq!(dirs[0]["url"], url("blog/").as_str());
    assert_eq!(out.report()["urls"].as_array().unwrap().len(), 2);
    assert!(out.report()["git"]["collapses"][0]["not_applied"].is_null());

    let emu = common::emulator(&["--task-duration", "0s", "--dir-quota", "0"]).await;
    let out = common::run(&emu, &args, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let urls = out.report()["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 5, "{}", out.all());
    assert!(urls.iter().all(|u| u["object_type"] == "file"));
    let collapse = &out.report()["git"]["collapses"][0];
    assert!(
        collapse["not_applied"]
            .as_str()
            .unwrap()
            .contains("directory refresh quota"),
        "{collapse}"
    );
}

#[test]
fn gitlab_merge_request_variables_and_no_ci_at_all() {
    let (repo, base, head) = site();
    let p = plan(
        &repo,
        &["--base", "auto", "--mapping", RULES],
        &[
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
        ],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(p.json["git"]["base"], base.as_str());
    assert_eq!(p.json["git"]["head"], head.as_str());
    assert_eq!(p.json["git"]["base_source"], "gitlab-merge-request");

    // `auto` outside CI: no base, so the default policy (fail) exits 2 with a fix.
    let p = plan(&repo, &["--base", "auto", "--mapping", RULES], &[]);
    assert_eq!(p.code, 2, "{}", p.stderr);
    assert!(p.stderr.contains("fix"), "{}", p.stderr);
}
