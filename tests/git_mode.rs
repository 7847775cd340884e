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

// ---------------------------------------------------------------------------------------
// Force pushes, shallow clones, special paths and CI events, through the binary.

const SHALLOW_RULES: &str = "public/** => https://www.example.com/{path}";

impl Repo {
    /// `git clone --depth 1 file://THIS` into a new temp dir: a CI checkout. (`file://` makes
    /// git honour `--depth`; a plain path would hard-link every object instead.)
    fn shallow_clone(&self) -> Repo {
        let clone = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        let url = format!("file://{}", self.path().display());
        clone.git(&["clone", "--quiet", "--depth", "1", &url, "."]);
        assert_eq!(clone.git(&["rev-parse", "--is-shallow-repository"]), "true");
        clone
    }

    /// Whether the commit `sha` is in this repository's object store.
    fn has_commit(&self, sha: &str) -> bool {
        Command::new("git")
            .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

/// How many times the binary ran `git fetch` (it logs each fetch once, at info level).
fn fetches(p: &Planned) -> usize {
    p.stderr.matches("fetched missing commits").count()
}

/// `(operation, object_type, urls)` of every batch, URLs sorted.
fn batches(p: &Planned) -> Vec<(String, String, Vec<String>)> {
    p.json["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["operation"].as_str().unwrap().to_string(),
                b["object_type"].as_str().unwrap().to_string(),
                sorted(strings(&b["urls"])),
            )
        })
        .collect()
}

fn urls(paths: &[&str]) -> Vec<String> {
    sorted(paths.iter().map(|p| url(p)).collect())
}

/// `(kind, path, old_path)` of every change the plan lists, sorted.
fn changed(p: &Planned) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<_> = p.json["git"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
                c["old_path"].as_str().map(str::to_string),
            )
        })
        .collect();
    out.sort();
    out
}

fn kind(kind: &str, path: &str) -> (String, String, Option<String>) {
    (kind.to_string(), path.to_string(), None)
}

/// A GitHub event fixture with some fields replaced (by JSON pointer), written to `dir`.
fn event(dir: &Path, fixture: &str, set: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(format!("tests/fixtures/events/{fixture}")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    for (pointer, value) in set {
        *json.pointer_mut(pointer).unwrap() = Value::from(*value);
    }
    let path = dir.join(fixture);
    std::fs::write(&path, json.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// root: public/{a,b}.html. The old tip (then deployed) edits a.html and adds c.html; the
/// branch is then reset to root and force-pushed with a tip that edits b.html and adds
/// d.html. Returns (repo, old tip, new tip).
fn force_pushed() -> (Repo, String, String) {
    let repo = Repo::new();
    repo.write("public/a.html", "a");
    repo.write("public/b.html", "b");
    let root = repo.commit("root");
    repo.write("public/a.html", "a2");
    repo.write("public/c.html", "c");
    let old_tip = repo.commit("old tip");
    repo.git(&["reset", "-q", "--hard", &root]);
    repo.write("public/b.html", "b2");
    repo.write("public/d.html", "d");
    let new_tip = repo.commit("new tip");
    (repo, old_tip, new_tip)
}

#[test]
fn force_push_plans_the_tree_diff_of_the_two_tips() {
    let (repo, old_tip, new_tip) = force_pushed();
    // The old tip is not an ancestor of the new one: a walk of old..new would see only
    // "b.html modified, d.html added" and miss a.html and c.html.
    let ancestor = Command::new("git")
        .args(["merge-base", "--is-ancestor", &old_tip, &new_tip])
        .current_dir(repo.path())
        .status()
        .unwrap();
    assert_eq!(ancestor.code(), Some(1), "old tip must not be an ancestor");
    assert_eq!(
        repo.git(&["rev-list", &format!("{old_tip}..{new_tip}")]),
        new_tip
    );

    let dir = tempfile::tempdir().unwrap();
    let forced = event(
        dir.path(),
        "github-push-forced.json",
        &[("/before", &old_tip), ("/after", &new_tip)],
    );
    let by_event = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", forced.as_str()),
    ];
    for (args, env, source) in [
        (vec!["--base", old_tip.as_str()], &[][..], "explicit"),
        (vec!["--base", "auto"], &by_event[..], "github-push"),
    ] {
        let mut args = args;
        args.extend(["--mapping", SHALLOW_RULES, "-t", "both"]);
        let p = plan(&repo, &args, env);
        assert_eq!(p.code, 0, "{}", p.stderr);
        let git = &p.json["git"];
        assert_eq!(git["base"], old_tip.as_str());
        assert_eq!(git["head"], new_tip.as_str());
        assert_eq!(git["base_source"], source);
        assert_eq!(
            changed(&p),
            vec![
                kind("added", "public/d.html"),
                kind("deleted", "public/c.html"),
                kind("modified", "public/a.html"),
                kind("modified", "public/b.html"),
            ]
        );
        assert_eq!(git["changes"], 4);
        let refreshed = urls(&["a.html", "b.html", "c.html"]);
        let prefetched = urls(&["a.html", "b.html", "d.html"]);
        assert_eq!(refresh(&p, "file"), refreshed);
        assert_eq!(prefetch(&p), prefetched);
        assert_eq!(
            batches(&p),
            vec![
                ("refresh".into(), "file".into(), refreshed),
                ("prefetch".into(), "file".into(), prefetched),
            ]
        );
        assert_eq!(fetches(&p), 0, "both tips are local: {}", p.stderr);
    }
}

/// main: c1 (a.html, index.html) → c2 (index.html edited, "new page.html" added) → c3
/// (a.html deleted). Returns the repository and the three SHAs.
fn three_commits() -> (Repo, [String; 3]) {
    let repo = Repo::new();
    repo.write("public/a.html", "a");
    repo.write("public/index.html", "v1");
    let c1 = repo.commit("c1");
    repo.write("public/index.html", "v2");
    repo.write("public/new page.html", "n");
    let c2 = repo.commit("c2");
    repo.remove("public/a.html");
    let c3 = repo.commit("c3");
    (repo, [c1, c2, c3])
}

#[test]
fn shallow_clone_fetches_the_missing_base_once_and_plans_the_diff() {
    let (origin, [c1, _, c3]) = three_commits();
    let clone = origin.shallow_clone();
    assert!(!clone.has_commit(&c1), "the clone should lack the base");

    let p = plan(
        &clone,
        &["--base", &c1, "--mapping", SHALLOW_RULES, "-t", "both"],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(fetches(&p), 1, "{}", p.stderr);
    assert!(
        p.stderr
            .contains(&format!("fetch --no-tags --depth=1 origin {c1}")),
        "{}",
        p.stderr
    );
    assert!(clone.has_commit(&c1), "the base was fetched into the clone");
    let git = &p.json["git"];
    assert_eq!(git["base"], c1.as_str());
    assert_eq!(git["head"], c3.as_str());
    assert_eq!(git["base_source"], "explicit");
    assert!(git["missing_base"].is_null(), "{git}");
    assert_eq!(
        changed(&p),
        vec![
            kind("added", "public/new page.html"),
            kind("deleted", "public/a.html"),
            kind("modified", "public/index.html"),
        ]
    );
    assert_eq!(refresh(&p, "file"), urls(&["", "a.html"]));
    assert_eq!(prefetch(&p), urls(&["", "new%20page.html"]));

    // Once fetched, the base is local: a second plan fetches nothing.
    let again = plan(&clone, &["--base", &c1, "--mapping", SHALLOW_RULES], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(fetches(&again), 0, "{}", again.stderr);
    assert_eq!(refresh(&again, "file"), urls(&["", "a.html"]));
}

#[test]
fn shallow_clone_after_a_force_push_fetches_the_old_tip_the_branch_no_longer_holds() {
    // The deployed commit is no longer on any branch of the remote (still in its object
    // store, as on GitHub); protocol v2 serves it by SHA.
    let (origin, old_tip, new_tip) = force_pushed();
    let clone = origin.shallow_clone();
    assert!(!clone.has_commit(&old_tip));
    let p = plan(
        &clone,
        &["--base", &old_tip, "--mapping", SHALLOW_RULES, "-t", "both"],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(fetches(&p), 1, "{}", p.stderr);
    assert_eq!(p.json["git"]["head"], new_tip.as_str());
    assert_eq!(refresh(&p, "file"), urls(&["a.html", "b.html", "c.html"]));
    assert_eq!(prefetch(&p), urls(&["a.html", "b.html", "d.html"]));
}

/// What every unfetchable base must say: what failed, git's own words, and the fix.
fn assert_unfetchable(p: &Planned, base: &str, git_says: &str) {
    assert_eq!(p.code, 2, "{}", p.stderr);
    assert_eq!(p.json, Value::Null, "nothing on stdout: {}", p.json);
    assert_eq!(fetches(p), 1, "exactly one fetch: {}", p.stderr);
    let e = &p.stderr;
    assert!(e.contains(&format!("base commit {base} (--base)")), "{e}");
    assert!(e.contains("(a shallow clone)"), "{e}");
    assert!(
        e.contains(&format!(
            "fetch --no-tags --depth=1 origin {base}` failed: "
        )),
        "{e}"
    );
    assert!(e.contains(git_says), "git's own words should be kept: {e}");
    assert!(e.contains("fetch-depth: 0"), "{e}");
    assert!(e.contains("GIT_DEPTH: 0"), "{e}");
    assert!(e.contains("--on-missing-base all"), "{e}");
}

#[test]
fn shallow_clone_with_an_unfetchable_base_fails_with_the_fix_or_follows_the_policy() {
    let (origin, [c1, _, c3]) = three_commits();
    let clone = origin.shallow_clone();
    // Not on the remote at all (e.g. garbage-collected after a force push).
    let gone = "0123456789abcdef0123456789abcdef01234567";
    let p = plan(&clone, &["--base", gone, "--mapping", SHALLOW_RULES], &[]);
    assert_unfetchable(&p, gone, "not our ref");

    // On the remote, but the remote is unreachable.
    clone.git(&[
        "remote",
        "set-url",
        "origin",
        "file:///nonexistent/site.git",
    ]);
    let p = plan(&clone, &["--base", &c1, "--mapping", SHALLOW_RULES], &[]);
    assert_unfetchable(&p, &c1, "does not appear to be a git repository");
    assert!(!clone.has_commit(&c1));

    // `all`: every mapped root as a directory; the report says why.
    let all = plan(
        &clone,
        &[
            "--base",
            &c1,
            "--mapping",
            "public/** => https://www.example.com/{path}, https://example.com/site/{path}",
            "--on-missing-base",
            "all",
        ],
        &[],
    );
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.json["status"], "dry-run");
    let git = &all.json["git"];
    assert!(git["base"].is_null(), "{git}");
    assert_eq!(git["head"], c3.as_str());
    assert_eq!(git["base_source"], "explicit");
    assert_eq!(git["missing_base"]["policy"], "all");
    let reason = git["missing_base"]["reason"].as_str().unwrap();
    assert!(reason.contains("fetch-depth: 0"), "{reason}");
    let roots = vec![
        "https://example.com/site/".to_string(),
        "https://www.example.com/".to_string(),
    ];
    assert_eq!(refresh(&all, "directory"), roots);
    assert!(refresh(&all, "file").is_empty());
    assert!(prefetch(&all).is_empty());
    assert_eq!(
        batches(&all),
        vec![("refresh".into(), "directory".into(), roots)]
    );

    // `skip`: nothing planned, exit 0, status `skipped`.
    let skip = plan(
        &clone,
        &[
            "--base",
            &c1,
            "--mapping",
            SHALLOW_RULES,
            "-t",
            "both",
            "--on-missing-base",
            "skip",
        ],
        &[],
    );
    assert_eq!(skip.code, 0, "{}", skip.stderr);
    assert_eq!(skip.json["status"], "skipped");
    assert_eq!(skip.json["git"]["missing_base"]["policy"], "skip");
    assert_eq!(skip.json["git"]["head"], c3.as_str());
    assert!(skip.json["batches"].as_array().unwrap().is_empty());
    assert!(refresh(&skip, "file").is_empty() && prefetch(&skip).is_empty());
}

#[test]
fn special_character_paths_become_exact_percent_encoded_urls() {
    let repo = Repo::new();
    repo.write("public/keep.html", "k");
    repo.write("public/Old Name #1.html", "moves");
    repo.write("public/édité.html", "v1");
    let base = repo.commit("base");
    // (file name under public/, URL path): RFC 3986 pchar (unreserved, sub-delims, `:`,
    // `@`) stays, everything else is UTF-8 percent-encoded with upper-case hex; case is
    // kept everywhere.
    let names: &[(&str, &str)] = &[
        ("a b/c d.html", "a%20b/c%20d.html"),
        ("café/Naïve.HTML", "caf%C3%A9/Na%C3%AFve.HTML"),
        (
            "日本語/ページ.html",
            "%E6%97%A5%E6%9C%AC%E8%AA%9E/%E3%83%9A%E3%83%BC%E3%82%B8.html",
        ),
        ("日本語/index.html", "%E6%97%A5%E6%9C%AC%E8%AA%9E/"),
        ("emoji-🚀.html", "emoji-%F0%9F%9A%80.html"),
        ("hash#frag.html", "hash%23frag.html"),
        ("q?x=1.html", "q%3Fx=1.html"),
        ("100%.html", "100%25.html"),
        ("pct%20already.html", "pct%2520already.html"),
        ("quote\"double.html", "quote%22double.html"),
        ("quote'single.html", "quote'single.html"),
        ("new\nline.html", "new%0Aline.html"),
        ("tab\there.html", "tab%09here.html"),
        ("back\\slash.html", "back%5Cslash.html"),
        ("[1].html", "%5B1%5D.html"),
        ("a+b&c=d~e!$,;.html", "a+b&c=d~e!$,;.html"),
        ("at@colon:.html", "at@colon:.html"),
        ("MiXeD/CaSe.Html", "MiXeD/CaSe.Html"),
    ];
    for (name, _) in names {
        repo.write(&format!("public/{name}"), name);
    }
    repo.write("public/édité.html", "v2");
    repo.git(&["mv", "public/Old Name #1.html", "public/New?Name%.html"]);
    repo.commit("head");

    let p = plan(
        &repo,
        &["--base", &base, "--mapping", SHALLOW_RULES, "-t", "both"],
        &[],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    // The changes keep the raw paths, newline and all.
    let git = &p.json["git"];
    assert_eq!(git["changes"], names.len() + 2);
    let raw = changed(&p);
    assert!(
        raw.contains(&kind("added", "public/new\nline.html")),
        "{raw:?}"
    );
    assert!(
        raw.contains(&(
            "renamed".to_string(),
            "public/New?Name%.html".to_string(),
            Some("public/Old Name #1.html".to_string())
        )),
        "{raw:?}"
    );
    assert!(
        raw.contains(&kind("modified", "public/édité.html")),
        "{raw:?}"
    );

    assert_eq!(
        refresh(&p, "file"),
        urls(&["%C3%A9dit%C3%A9.html", "Old%20Name%20%231.html"])
    );
    let mut want: Vec<&str> = names.iter().map(|(_, u)| *u).collect();
    want.extend(["%C3%A9dit%C3%A9.html", "New%3FName%25.html"]);
    assert_eq!(prefetch(&p), urls(&want));
    // The batches carry the same strings, byte for byte.
    let sent: Vec<String> = batches(&p)
        .into_iter()
        .filter(|(op, _, _)| op == "prefetch")
        .flat_map(|(_, _, u)| u)
        .collect();
    assert_eq!(sorted(sent), urls(&want));
}

/// main: base (public/a.html, public/b.html) → main2 (c.html added on main after the
/// branch point); feature from base: a.html edited, b.html deleted, e.html added. HEAD is
/// the merge of feature into main2, as GitHub checks out for a pull request.
fn pull_request() -> (Repo, String, String, String) {
    let repo = Repo::new();
    repo.write("public/a.html", "a");
    repo.write("public/b.html", "b");
    let base = repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("public/a.html", "a2");
    repo.remove("public/b.html");
    repo.write("public/e.html", "e");
    let head = repo.commit("feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("public/c.html", "c");
    repo.commit("main2");
    repo.git(&["merge", "-q", "--no-ff", "-m", "merge", "feature"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    (repo, base, head, merge)
}

#[test]
fn github_pull_request_event_gives_base_and_head() {
    let (repo, base, head, merge) = pull_request();
    let dir = tempfile::tempdir().unwrap();
    for name in ["pull_request", "pull_request_target"] {
        // The fixture's `before`/`after` name commits this repository does not have: only
        // `pull_request.base.sha` and `.head.sha` may be used.
        let path = event(
            dir.path(),
            "github-pull-request.json",
            &[
                ("/pull_request/base/sha", &base),
                ("/pull_request/head/sha", &head),
            ],
        );
        let env = [
            ("GITHUB_EVENT_NAME", name),
            ("GITHUB_EVENT_PATH", path.as_str()),
        ];
        let p = plan(
            &repo,
            &["--base", "auto", "--mapping", SHALLOW_RULES, "-t", "both"],
            &env,
        );
        assert_eq!(p.code, 0, "{name}: {}", p.stderr);
        let git = &p.json["git"];
        assert_eq!(git["base"], base.as_str(), "{name}");
        assert_eq!(git["head"], head.as_str(), "{name}: not HEAD ({merge})");
        assert_eq!(git["base_source"], "github-pull-request", "{name}");
        assert_eq!(
            changed(&p),
            vec![
                kind("added", "public/e.html"),
                kind("deleted", "public/b.html"),
                kind("modified", "public/a.html"),
            ]
        );
        assert_eq!(refresh(&p, "file"), urls(&["a.html", "b.html"]));
        assert_eq!(prefetch(&p), urls(&["a.html", "e.html"]));

        // --head wins over the event: the merge commit also brings main's c.html.
        let p = plan(
            &repo,
            &["--mapping", SHALLOW_RULES, "-t", "both", "--head", "HEAD"],
            &[
                ("GITHUB_EVENT_NAME", name),
                ("GITHUB_EVENT_PATH", path.as_str()),
                ("INPUT_BASE", "auto"),
            ],
        );
        assert_eq!(p.code, 0, "{name}: {}", p.stderr);
        assert_eq!(p.json["git"]["head"], merge.as_str());
        assert_eq!(p.json["git"]["base_source"], "github-pull-request");
        assert_eq!(prefetch(&p), urls(&["a.html", "c.html", "e.html"]));
    }
}

#[test]
fn github_pull_request_in_a_shallow_clone_fetches_base_and_head_together() {
    let (origin, base, head, _) = pull_request();
    let clone = origin.shallow_clone();
    assert!(!clone.has_commit(&base) && !clone.has_commit(&head));
    let dir = tempfile::tempdir().unwrap();
    let path = event(
        dir.path(),
        "github-pull-request.json",
        &[
            ("/pull_request/base/sha", &base),
            ("/pull_request/head/sha", &head),
        ],
    );
    let p = plan(
        &clone,
        &["--base", "auto", "--mapping", SHALLOW_RULES, "-t", "both"],
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", path.as_str()),
        ],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(fetches(&p), 1, "one fetch for both: {}", p.stderr);
    assert_eq!(p.json["git"]["base"], base.as_str());
    assert_eq!(p.json["git"]["head"], head.as_str());
    assert_eq!(p.json["git"]["base_source"], "github-pull-request");
    assert_eq!(refresh(&p, "file"), urls(&["a.html", "b.html"]));
    assert_eq!(prefetch(&p), urls(&["a.html", "e.html"]));
}

#[test]
fn gitlab_merge_request_fixture_in_a_shallow_clone_fetches_the_diff_base() {
    let (origin, [c1, _, c3]) = three_commits();
    let clone = origin.shallow_clone();
    // GitLab's merge request pipeline: CI_COMMIT_BEFORE_SHA is zeros, the diff base is set.
    let text = std::fs::read_to_string("tests/fixtures/events/gitlab-merge-request.json").unwrap();
    let mut vars: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    vars.insert("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), c1.clone());
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = plan(&clone, &["--mapping", SHALLOW_RULES, "-t", "both"], &env);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(fetches(&p), 1, "{}", p.stderr);
    let git = &p.json["git"];
    assert_eq!(git["base"], c1.as_str());
    assert_eq!(git["head"], c3.as_str());
    assert_eq!(git["base_source"], "gitlab-merge-request");
    assert_eq!(refresh(&p, "file"), urls(&["", "a.html"]));
    assert_eq!(prefetch(&p), urls(&["", "new%20page.html"]));
}
