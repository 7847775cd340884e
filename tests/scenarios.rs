//! Golden scenarios: everything a user sees of a run, compared byte for byte with
//! `tests/scenarios/<name>.txt`.
//!
//! Each scenario is the real binary against a fresh in-process emulator, in a fresh working
//! directory: its exit code, stdout and stderr, and every file it writes there (the JSON
//! report, GitHub's outputs and step summary, GitLab's dotenv). Only what changes from one
//! run to the next is normalised: the temp directory, the emulator's address, times and
//! durations, random tokens, and the task ids of the providers whose ids are random.
//!
//! `UPDATE_SCENARIOS=1 cargo test --test scenarios` rewrites the goldens.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

// ---------------------------------------------------------------------------------------
// The table.

/// One scenario: an emulator, input files, an optional git repository, and the commands.
struct Scenario {
    name: &'static str,
    emulator: Vec<&'static str>,
    /// Files written into the working directory first (`{emu}` is the emulator's URL).
    files: Vec<(&'static str, &'static str)>,
    /// Builds a git repository in `<dir>/repo`.
    repo: Option<fn(&Path)>,
    steps: Vec<Step>,
}

/// One command. In `args` and env values, `{dir}` is the working directory, `{emu}` the
/// emulator's URL, `{n}` the step's number and `{ids}` the task ids of the previous step's
/// report (`target:id` in a run with targets).
#[derive(Default)]
struct Step {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<&'static str>,
}

fn scenario(name: &'static str) -> Scenario {
    Scenario {
        name,
        emulator: Vec::new(),
        files: Vec::new(),
        repo: None,
        steps: Vec::new(),
    }
}

impl Scenario {
    /// Emulator flags (tasks finish at once unless they set `--task-duration`).
    fn emu(mut self, flags: &[&'static str]) -> Self {
        self.emulator.extend_from_slice(flags);
        self
    }
    fn file(mut self, name: &'static str, text: &'static str) -> Self {
        self.files.push((name, text));
        self
    }
    fn repo(mut self, build: fn(&Path)) -> Self {
        self.repo = Some(build);
        self
    }
    fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

/// The command as written.
fn cmd(args: &[&str]) -> Step {
    Step {
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Step::default()
    }
}

/// A command against the emulator, writing its report to `<dir>/report{n}.json`.
fn run(args: &[&str]) -> Step {
    ci(args).arg(&["--report", "{dir}/report{n}.json"])
}

/// A command with a config file naming the endpoints, writing its report as [`run`] does.
fn configured(args: &[&str]) -> Step {
    cmd(args).arg(&["--report", "{dir}/report{n}.json"])
}

/// [`run`] in git mode, on the scenario's repository.
fn git_run(args: &[&str]) -> Step {
    let mut all = vec!["run", "--repo", "{dir}/repo"];
    all.extend_from_slice(args);
    run(&all)
}

/// `plan` in git mode, on the scenario's repository.
fn git_plan(args: &[&str]) -> Step {
    let mut all = vec!["plan", "--repo", "{dir}/repo"];
    all.extend_from_slice(args);
    cmd(&all)
}

/// A command against the emulator, with the report where CI mode puts it.
fn ci(args: &[&str]) -> Step {
    cmd(args).arg(&["--endpoint", "{emu}"])
}

impl Step {
    fn arg(mut self, more: &[&str]) -> Self {
        self.args.extend(more.iter().map(|a| a.to_string()));
        self
    }
    fn env(mut self, pairs: &[(&str, &str)]) -> Self {
        self.env
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }
    fn stdin(mut self, text: &'static str) -> Self {
        self.stdin = Some(text);
        self
    }
}

const QINIU: &[(&str, &str)] = &[
    ("QINIU_ACCESS_KEY", "testak"),
    ("QINIU_SECRET_KEY", "testsk"),
];
const HUAWEI: &[(&str, &str)] = &[
    ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
    ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
];
/// No credentials at all (`plan` needs none).
const NO_CREDENTIALS: &[(&str, &str)] = &[
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
];
const GITHUB: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_OUTPUT", "{dir}/github_output"),
    ("GITHUB_STEP_SUMMARY", "{dir}/step_summary.md"),
    ("RUNNER_TEMP", "{dir}"),
];
const GITLAB: &[(&str, &str)] = &[("GITLAB_CI", "true")];
/// The second target's credentials (see `TARGETS`), and wrong standard Qiniu ones.
const MIRROR: &[(&str, &str)] = &[
    ("MIRROR_AK", "testak"),
    ("MIRROR_SK", "testsk"),
    ("QINIU_ACCESS_KEY", "wrong"),
    ("QINIU_SECRET_KEY", "wrong"),
];

/// Three URLs, one on each of the emulator's domains.
const URLS: &str = "https://example.com/assets/app.js
https://www.example.com/index.html
https://static.example.com/img/logo.png
";
const DIRS: &str = "https://example.com/docs/\nhttps://static.example.com/img/";
const FAILING: &str =
    "https://example.com/ok.js\nhttps://example.com/broken.js\nhttps://www.example.com/fine.css";
const RULES: &str = "!public/**/*.map\npublic/** => https://www.example.com/{path}";
const ZERO: &str = "0000000000000000000000000000000000000000";

/// An Alibaba Cloud target for `www.example.com` and `example.com`, a Qiniu one for
/// `*.example.com` with its own credential variables.
const TARGETS: &str = "version: 1
task: both
targets:
  - name: main
    provider: aliyun
    endpoint: {emu}
    sites: [www.example.com, example.com]
  - name: assets
    provider: qiniu
    endpoint: {emu}
    sites: ['*.example.com']
    credentials:
      access_key_id: MIRROR_AK
      access_key_secret: MIRROR_SK
";

fn scenarios() -> Vec<Scenario> {
    vec![
        // (a) URL lists, Alibaba Cloud: refresh, prefetch, both, directories, inputs.
        scenario("aliyun_refresh")
            .file("urls.txt", URLS)
            .step(run(&["-r", "{dir}/urls.txt"])),
        scenario("aliyun_prefetch")
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "-t", "prefetch"])),
        scenario("aliyun_both")
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "-t", "both"])),
        scenario("aliyun_directory").step(run(&["run", "--urls", DIRS, "-o", "directory"])),
        scenario("aliyun_seed_script_inputs_from_env").step(run(&[]).env(&[
            ("INPUT_URLS", DIRS),
            ("INPUT_TASK", "clear"),
            ("INPUT_OBJECT-TYPE", "Directory"),
        ])),
        scenario("aliyun_stdin_comments_duplicates_encoding").step(
            run(&["run", "-r", "-"]).stdin(
                "# deploy 42\nhttps://example.com/a b.html\n\nhttps://example.com/é.png\nhttps://example.com/a%20b.html\nhttps://example.com/é.png\n",
            ),
        ),
        // Tasks that take a moment and looks 200 ms, then 2 s after a task was accepted: both
        // batches are out before the first look and done by the second, so their prefetch goes
        // out together, whatever the machine's speed.
        scenario("aliyun_batches_one_at_a_time")
            .emu(&["--task-duration", "600ms"])
            .file("urls.txt", URLS)
            .step(run(&[
                "run",
                "-r",
                "{dir}/urls.txt",
                "-t",
                "both",
                "--batch-size",
                "2",
                "--concurrency",
                "1",
                // Looks a tenth of this apart are taken together: 500 ms is room enough for
                // the next batch to be accepted on a loaded machine (200 ms was not, once).
                "--poll-interval",
                "5s",
            ])),
        // (a) plan, plan --format json, --dry-run.
        scenario("aliyun_plan_and_dry_run")
            .file("urls.txt", URLS)
            .step(cmd(&["plan", "-r", "{dir}/urls.txt", "-t", "both"]).env(NO_CREDENTIALS))
            .step(
                cmd(&["plan", "-r", "{dir}/urls.txt", "-t", "both", "--format", "json"])
                    .env(NO_CREDENTIALS),
            )
            .step(run(&["run", "-r", "{dir}/urls.txt", "-t", "both", "--dry-run"])),
        // (j) Alibaba Cloud options.
        scenario("aliyun_area_signature_v1_l2").file("urls.txt", URLS).step(run(&[
            "run",
            "-r",
            "{dir}/urls.txt",
            "-t",
            "prefetch",
            "--area",
            "overseas",
            "--aliyun-signature",
            "v1",
            "--l2-preload",
        ])),
        // (b) Qiniu and Huawei Cloud.
        scenario("qiniu_plan_and_both")
            .file("urls.txt", URLS)
            .step(cmd(&[
                "plan",
                "--provider",
                "qiniu",
                "-r",
                "{dir}/urls.txt",
                "-t",
                "both",
                "--format",
                "json",
            ]))
            .step(
                run(&["run", "--provider", "qiniu", "-r", "{dir}/urls.txt", "-t", "both"])
                    .env(QINIU),
            ),
        scenario("qiniu_directory").step(
            run(&["run", "--provider", "qiniu", "--urls", DIRS, "-o", "directory"]).env(QINIU),
        ),
        // (g) with the task ids of the run.
        scenario("huawei_plan_both_status_quota")
            .file("urls.txt", URLS)
            .step(cmd(&[
                "plan",
                "--provider",
                "huawei",
                "-r",
                "{dir}/urls.txt",
                "-t",
                "both",
            ]))
            .step(
                run(&["run", "--provider", "huawei", "-r", "{dir}/urls.txt", "-t", "both"])
                    .env(HUAWEI),
            )
            .step(ci(&["status", "--provider", "huawei", "{ids}"]).env(HUAWEI))
            .step(ci(&["quota", "--provider", "huawei"]).env(HUAWEI)),
        scenario("huawei_directory_detect_modified").step(
            run(&[
                "run",
                "--provider",
                "huawei",
                "--urls",
                DIRS,
                "-o",
                "directory",
                "--refresh-mode",
                "detect-modified",
                "--enterprise-project-id",
                "0",
            ])
            .env(HUAWEI),
        ),
        // (c) Quotas, failed URLs, timeouts, refusals.
        scenario("aliyun_quota_shortfall")
            .emu(&["--url-quota", "2", "--preload-quota", "1"])
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt"]))
            .step(run(&["run", "--urls", "https://example.com/a.js\nhttps://www.example.com/b.js", "-t", "both"])),
        scenario("qiniu_quota_runs_out")
            .emu(&["--qiniu-url-quota", "2"])
            .file("urls.txt", URLS)
            .step(run(&["run", "--provider", "qiniu", "-r", "{dir}/urls.txt"]).env(QINIU)),
        scenario("huawei_quota_shortfall")
            .emu(&["--huawei-file-refresh-quota", "2"])
            .file("urls.txt", URLS)
            .step(run(&["run", "--provider", "huawei", "-r", "{dir}/urls.txt"]).env(HUAWEI)),
        scenario("aliyun_failed_urls")
            .emu(&["--fail-matching", "broken"])
            .step(run(&["run", "--urls", FAILING, "-t", "both"])),
        scenario("huawei_failed_urls")
            .emu(&["--fail-matching", "broken"])
            .step(run(&["run", "--provider", "huawei", "--urls", FAILING]).env(HUAWEI)),
        scenario("aliyun_pending_at_timeout_then_fail_on_pending")
            .emu(&["--task-duration", "1h"])
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "-t", "both", "--timeout", "1s"]))
            .step(run(&[
                "run",
                "-r",
                "{dir}/urls.txt",
                "--timeout",
                "1s",
                "--fail-on",
                "pending",
            ])),
        scenario("qiniu_fail_on_pending")
            .emu(&["--task-duration", "1h"])
            .file("urls.txt", URLS)
            .step(
                run(&[
                    "run",
                    "--provider",
                    "qiniu",
                    "-r",
                    "{dir}/urls.txt",
                    "--timeout",
                    "1s",
                    "--fail-on",
                    "pending",
                ])
                .env(QINIU),
            ),
        scenario("aliyun_permission_denied_for_prefetch")
            .emu(&["--deny-action", "PushObjectCache"])
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "-t", "both"])),
        scenario("aliyun_wrong_secret")
            .file("urls.txt", URLS)
            .step(
                run(&["run", "-r", "{dir}/urls.txt"])
                    .env(&[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-secret")]),
            ),
        // (d) Git mode.
        scenario("git_run_both")
            .repo(site)
            .step(git_run(&["--base", "HEAD~1", "--mapping", RULES, "-t", "both"])),
        scenario("git_plan")
            .repo(site)
            .step(git_plan(&["--base", "HEAD~1", "--mapping", RULES, "-t", "both"]))
            .step(git_plan(&[
                "--base",
                "HEAD~1",
                "--mapping",
                RULES,
                "-t",
                "both",
                "--format",
                "json",
            ])),
        scenario("git_config_file_in_repo")
            .repo(site_with_config)
            .step(git_run(&["--base", "HEAD~1"])),
        scenario("git_collapse")
            .emu(&["--task-duration", "600ms"])
            .repo(blog)
            .step(git_run(&[
                "--base",
                "HEAD~1",
                "--mapping",
                RULES,
                "-t",
                "both",
                "--collapse-threshold",
                "3",
                // As aliyun_batches_one_at_a_time: room for the next batch before a look.
                "--poll-interval",
                "5s",
                // One batch at a time: the emulator numbers tasks in the order they arrive.
                "--concurrency",
                "1",
            ]))
            .step(git_plan(&[
                "--base",
                "HEAD~1",
                "--mapping",
                RULES,
                "--collapse-threshold",
                "3",
                "--format",
                "json",
            ])),
        scenario("git_collapse_without_directory_quota")
            .emu(&["--dir-quota", "0"])
            .repo(blog)
            .step(git_run(&[
                "--base",
                "HEAD~1",
                "--mapping",
                RULES,
                "--collapse-threshold",
                "3",
            ])),
        // --marker: the base is the last run that really succeeded (a ref in a bare origin
        // beside the repository), and the marker moves after a clean run.
        scenario("git_marker")
            .repo(site_with_origin)
            .step(git_plan(&["--mapping", RULES, "--marker"]))
            .step(git_run(&["--mapping", RULES, "-t", "both", "--marker"]))
            .step(git_run(&["--mapping", RULES, "--marker"])),
        scenario("git_missing_base")
            .repo(site)
            .step(git_run(&["--base", ZERO, "--mapping", RULES]))
            .step(git_run(&[
                "--base",
                ZERO,
                "--mapping",
                "public/** => https://www.example.com/{path}, https://example.com/{path}",
                "--on-missing-base",
                "all",
            ]))
            .step(git_run(&[
                "--base",
                ZERO,
                "--mapping",
                RULES,
                "-t",
                "both",
                "--on-missing-base",
                "skip",
            ])),
        // (e) Several targets, and (g) status and quota of them.
        scenario("targets_run_status_quota")
            .file("targets.yml", TARGETS)
            .file("urls.txt", URLS)
            .step(
                configured(&["run", "--config", "{dir}/targets.yml", "-r", "{dir}/urls.txt"])
                    .env(MIRROR),
            )
            .step(cmd(&["status", "--config", "{dir}/targets.yml", "{ids}"]).env(MIRROR))
            .step(cmd(&["quota", "--config", "{dir}/targets.yml"]).env(MIRROR)),
        scenario("targets_select_and_unknown")
            .file("targets.yml", TARGETS)
            .step(configured(&[
                "run",
                "--config",
                "{dir}/targets.yml",
                "--target",
                "main",
                "--urls",
                "https://example.com/a.js",
                "--aliyun-signature",
                "v1",
            ]))
            .step(configured(&[
                "run",
                "--config",
                "{dir}/targets.yml",
                "--target",
                "nope",
                "--urls",
                "https://example.com/a.js",
            ])),
        scenario("targets_one_refused")
            .file("targets.yml", TARGETS)
            .file("urls.txt", URLS)
            .step(
                configured(&["run", "--config", "{dir}/targets.yml", "-r", "{dir}/urls.txt"])
                    .env(&[("MIRROR_AK", "testak"), ("MIRROR_SK", "not-the-secret")]),
            ),
        scenario("targets_plan_and_dry_run")
            .file("targets.yml", TARGETS)
            .file("urls.txt", URLS)
            .step(cmd(&["plan", "--config", "{dir}/targets.yml", "-r", "{dir}/urls.txt"]))
            .step(cmd(&[
                "plan",
                "--config",
                "{dir}/targets.yml",
                "-r",
                "{dir}/urls.txt",
                "--format",
                "json",
            ]))
            .step(
                configured(&[
                    "run",
                    "--config",
                    "{dir}/targets.yml",
                    "-r",
                    "{dir}/urls.txt",
                    "--dry-run",
                ])
                .env(MIRROR),
            ),
        // (f) CI: GitHub Actions and GitLab.
        scenario("github_both")
            .file("urls.txt", URLS)
            .step(ci(&["run", "-r", "{dir}/urls.txt", "-t", "both"]).env(GITHUB)),
        scenario("github_failed_urls")
            .emu(&["--fail-matching", "broken"])
            .step(ci(&["run", "--urls", FAILING]).env(GITHUB)),
        scenario("github_bad_input").step(ci(&["run", "--urls", "not a url"]).env(GITHUB)),
        scenario("github_git_mode").repo(site).step(
            ci(&[
                "run",
                "--repo",
                "{dir}/repo",
                "--base",
                "HEAD~1",
                "--mapping",
                RULES,
                "-t",
                "both",
            ])
            .env(GITHUB),
        ),
        scenario("github_targets")
            .file("targets.yml", TARGETS)
            .file("urls.txt", URLS)
            .step(
                cmd(&["run", "--config", "{dir}/targets.yml", "-r", "{dir}/urls.txt"])
                    .env(GITHUB)
                    .env(MIRROR),
            ),
        scenario("gitlab_both_then_failed_urls")
            .emu(&["--fail-matching", "broken"])
            .file("urls.txt", URLS)
            .step(ci(&["run", "-r", "{dir}/urls.txt", "-t", "both"]).env(GITLAB))
            .step(ci(&["run", "--urls", FAILING]).env(GITLAB)),
        scenario("dotenv_outside_gitlab").step(ci(&[
            "run",
            "--urls",
            "https://example.com/a",
            "--dotenv",
            "out.env",
        ])),
        // (g) The quota and status commands.
        scenario("aliyun_quota_and_status")
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "--wait", "false"]))
            .step(ci(&["status", "{ids}"]))
            .step(ci(&["quota"])),
        scenario("qiniu_quota_and_status")
            .file("urls.txt", URLS)
            .step(
                run(&[
                    "run",
                    "--provider",
                    "qiniu",
                    "-r",
                    "{dir}/urls.txt",
                    "--wait",
                    "false",
                ])
                .env(QINIU),
            )
            .step(ci(&["status", "--provider", "qiniu", "{ids}"]).env(QINIU))
            .step(ci(&["quota", "--provider", "qiniu"]).env(QINIU)),
        // (h) Bad input: exit 2, nothing sent.
        scenario("bad_option_values")
            .step(run(&[
                "run",
                "--urls",
                "https://example.com/a",
                "--aliyun-signature",
                "v9",
            ]))
            .step(run(&[
                "run",
                "--urls",
                "https://example.com/a",
                "-t",
                "sometimes",
            ]))
            .step(run(&[
                "run",
                "--urls",
                "https://example.com/a",
                "--timeout",
                "99999999999999999999",
            ]))
            .step(run(&[
                "run",
                "--urls",
                "https://example.com/a",
                "--refresh-mode",
                "all",
            ])),
        scenario("bad_config_key")
            .file(
                ".cdn-refresh.yml",
                "version: 1\ntask: both\ncolapse_threshold: 3\n",
            )
            .step(run(&["run", "--urls", "https://example.com/a"])),
        scenario("bad_url_lines")
            .file(
                "urls.txt",
                "https://example.com/ok.js\n# a comment\nftp://example.com/a\n\nexample.com/no-scheme\nhttps://example.com/frag#x\nhttps://\n",
            )
            .step(run(&["run", "-r", "{dir}/urls.txt"])),
        scenario("missing_credentials")
            .file("targets.yml", TARGETS)
            .step(
                run(&["run", "--urls", "https://example.com/a"])
                    .env(&[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")]),
            )
            .step(run(&[
                "run",
                "--provider",
                "huawei",
                "--urls",
                "https://example.com/a",
            ]))
            .step(
                configured(&[
                    "run",
                    "--config",
                    "{dir}/targets.yml",
                    "--urls",
                    "https://www.example.com/b.js",
                ])
                .env(&[("MIRROR_AK", "testak")]),
            ),
        // (i) Resuming an earlier run.
        scenario("resume_submitted_run")
            .file("urls.txt", URLS)
            .step(run(&["run", "-r", "{dir}/urls.txt", "--wait", "false"]))
            .step(run(&[
                "run",
                "-r",
                "{dir}/urls.txt",
                "--resume",
                "{dir}/report1.json",
            ]))
            .step(
                run(&[
                    "run",
                    "--provider",
                    "qiniu",
                    "-r",
                    "{dir}/urls.txt",
                    "--resume",
                    "{dir}/report1.json",
                ])
                .env(QINIU),
            ),
        scenario("resume_timed_out_run")
            .emu(&["--task-duration", "1h"])
            .file("urls.txt", URLS)
            .step(run(&[
                "run",
                "-r",
                "{dir}/urls.txt",
                "-t",
                "both",
                "--timeout",
                "1s",
            ]))
            .step(run(&[
                "run",
                "-r",
                "{dir}/urls.txt",
                "-t",
                "both",
                "--timeout",
                "1s",
                "--resume",
                "{dir}/report1.json",
            ])),
    ]
}

// ---------------------------------------------------------------------------------------
// Repositories: fixed identities and dates, so every SHA is the same on every machine.

fn git(dir: &Path, args: &[&str]) {
    let date = "2024-01-02T03:04:05Z";
    let out = std::process::Command::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Scenario")
        .env("GIT_AUTHOR_EMAIL", "scenario@example.com")
        .env("GIT_COMMITTER_NAME", "Scenario")
        .env("GIT_COMMITTER_EMAIL", "scenario@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
}

/// public/{a.html, blog/b.html, old.css, x.map}, then: a.html modified, blog/b.html deleted,
/// old.css renamed to new.css, added.js added, x.map modified (excluded), README (unmapped).
fn site(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    write(dir, "public/a.html", "a");
    write(dir, "public/blog/b.html", "b");
    write(dir, "public/old.css", "css");
    write(dir, "public/x.map", "map");
    commit(dir, "base");
    write(dir, "public/a.html", "a2");
    std::fs::remove_file(dir.join("public/blog/b.html")).unwrap();
    git(dir, &["mv", "public/old.css", "public/new.css"]);
    write(dir, "public/added.js", "js");
    write(dir, "public/x.map", "map2");
    write(dir, "README", "readme");
    commit(dir, "head");
}

/// [`site`] pushed to a bare `origin` beside it, whose marker names the base commit.
fn site_with_origin(dir: &Path) {
    site(dir);
    let parent = dir.parent().unwrap();
    git(
        parent,
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    git(dir, &["remote", "add", "origin", "../origin.git"]);
    git(dir, &["push", "-q", "origin", "HEAD:main"]);
    git(
        dir,
        &["push", "-q", "origin", "HEAD~1:refs/cdn-refresh/default"],
    );
}

/// [`site`] with its rules in the repository's config file.
fn site_with_config(dir: &Path) {
    site(dir);
    write(
        dir,
        ".cdn-refresh.yml",
        "mapping:\n  - \"!public/**/*.map\"\n  - public/** => https://www.example.com/{path}\ntask: both\n",
    );
}

/// Four changed files in public/blog and one at the top.
fn blog(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    for text in ["1", "2"] {
        for i in 0..4 {
            write(dir, &format!("public/blog/p{i}.html"), text);
        }
        write(dir, "public/a.html", text);
        commit(dir, if text == "1" { "base" } else { "head" });
    }
}

// ---------------------------------------------------------------------------------------
// The runner.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_match_their_goldens() {
    let update = std::env::var_os("UPDATE_SCENARIOS").is_some_and(|v| v == "1");
    let goldens = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    std::fs::create_dir_all(&goldens).unwrap();
    let all = scenarios();
    let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "scenario names must be unique");

    let mut failed = Vec::new();
    for s in &all {
        let started = std::time::Instant::now();
        let actual = play(s).await;
        let path = goldens.join(format!("{}.txt", s.name));
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if update {
            if actual != expected {
                std::fs::write(&path, &actual).unwrap();
                eprintln!("updated {}", path.display());
            }
        } else if !path.exists() {
            eprintln!("scenario {} has no golden {}", s.name, path.display());
            failed.push(s.name);
        } else if actual != expected {
            eprintln!(
                "scenario {} differs from {}:\n{}",
                s.name,
                path.display(),
                diff(&expected, &actual)
            );
            failed.push(s.name);
        }
        eprintln!("{:>6} ms  {}", started.elapsed().as_millis(), s.name);
    }
    // A golden whose scenario is gone would never be checked again.
    for entry in std::fs::read_dir(&goldens).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !names.contains(&stem.as_str()) {
            if update {
                std::fs::remove_file(&path).unwrap();
            } else {
                failed.push("(a golden without a scenario)");
                eprintln!("{} has no scenario", path.display());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "scenarios differ from their goldens: {failed:?}\n(if the change is intended: UPDATE_SCENARIOS=1 cargo test --test scenarios)"
    );
}

/// Runs a scenario; returns its normalised transcript.
async fn play(s: &Scenario) -> String {
    let mut flags = s.emulator.clone();
    if !flags.contains(&"--task-duration") {
        flags.splice(0..0, ["--task-duration", "0s"]);
    }
    let emu = common::emulator(&flags).await;
    let url = emu.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let dir_str = dir.to_string_lossy().into_owned();
    let fill = |text: &str, n: usize, ids: &str| {
        text.replace("{dir}", &dir_str)
            .replace("{emu}", &url)
            .replace("{n}", &n.to_string())
            .replace("{ids}", ids)
    };

    let mut out = format!("# scenario {}\n# emulator {}\n", s.name, flags.join(" "));
    for (name, text) in &s.files {
        let text = fill(text, 0, "");
        std::fs::write(dir.join(name), &text).unwrap();
        out.push_str(&format!("== input {name}\n{}", ended(&text)));
    }
    if let Some(build) = s.repo {
        let repo = dir.join("repo");
        std::fs::create_dir(&repo).unwrap();
        build(&repo);
    }

    let mut ids = String::new();
    for (i, step) in s.steps.iter().enumerate() {
        let n = i + 1;
        let args: Vec<String> = step.args.iter().map(|a| fill(a, n, &ids)).collect();
        let env: Vec<(String, String)> = step
            .env
            .iter()
            .map(|(k, v)| (k.clone(), fill(v, n, &ids)))
            .collect();
        out.push_str(&format!("\n== step {n}\n"));
        for (k, v) in &env {
            out.push_str(&format!("{k}={}\n", quote(v)));
        }
        let shown: Vec<String> = args.iter().map(|a| quote(a)).collect();
        out.push_str(&format!("$ cdn-refresh {}\n", shown.join(" ")));
        if let Some(text) = step.stdin {
            out.push_str(&format!("== stdin\n{}", ended(text)));
        }

        let before = files(&dir);
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let env_refs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut command = common::binary(&arg_refs, &env_refs, step.stdin.is_some());
        command.current_dir(&dir);
        let mut child = command.spawn().expect("the binary runs");
        if let Some(text) = step.stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
        }
        let done = child.wait_with_output().await.unwrap();

        out.push_str(&format!(
            "== exit\n{}\n== stdout\n{}== stderr\n{}",
            done.status
                .code()
                .map_or("killed".to_string(), |c| c.to_string()),
            ended(&String::from_utf8_lossy(&done.stdout)),
            ended(&by_target(&String::from_utf8_lossy(&done.stderr))),
        ));
        let mut written: Vec<(String, String)> = files(&dir)
            .into_iter()
            .filter(|(name, text)| before.get(name) != Some(text))
            .collect();
        written.sort_by_key(|(name, _)| (rank(name), name.clone()));
        for (name, text) in &written {
            out.push_str(&format!("== {} {name}\n{}", label(name), ended(text)));
            if label(name) == "report" {
                ids = task_ids(text);
            }
        }
    }
    emu.shutdown();
    let canonical = dir.canonicalize().unwrap_or(dir.clone());
    normalise(&out, &[&canonical.to_string_lossy(), &dir_str], &url)
}

/// The log of a run with several targets with each target's lines together, in the order
/// of their names (each target's own lines in the order written): the targets run at once,
/// so how their lines interleave differs from run to run. Only the lines from the first to
/// the last one naming a target move; a line between them naming none goes with the one
/// before it (the rest of a message with a line break).
fn by_target(stderr: &str) -> String {
    let target = |l: &str| {
        let rest = l.split_once("target{name=")?.1;
        Some(rest[..rest.find('}')?].to_string())
    };
    let lines: Vec<&str> = stderr.split_inclusive('\n').collect();
    let Some(first) = lines.iter().position(|l| target(l).is_some()) else {
        return stderr.to_string();
    };
    let last = lines.iter().rposition(|l| target(l).is_some()).unwrap();
    let mut events: Vec<(String, String)> = Vec::new();
    for line in &lines[first..=last] {
        match (target(line), events.last_mut()) {
            (Some(name), _) => events.push((name, line.to_string())),
            (None, Some((_, text))) => text.push_str(line),
            (None, None) => unreachable!("the first line names a target"),
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: String = lines[..first].concat();
    out.extend(events.into_iter().map(|(_, text)| text));
    out.push_str(&lines[last + 1..].concat());
    out
}

/// Every file under `dir` but the repository, by path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path == dir.join("repo") {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let bytes = std::fs::read(&path).unwrap();
                found.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    found
}

/// What a written file is, for its section's name.
fn label(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "report"
    } else if name == "github_output" {
        "outputs"
    } else if name == "step_summary.md" {
        "summary"
    } else if name.ends_with(".env") {
        "dotenv"
    } else {
        "file"
    }
}

fn rank(name: &str) -> usize {
    ["report", "outputs", "summary", "dotenv", "file"]
        .iter()
        .position(|l| *l == label(name))
        .unwrap()
}

/// The task ids of a report, as `status` takes them (`target:id` in a run with targets).
fn task_ids(report: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(report) else {
        return String::new();
    };
    let ids = |r: &serde_json::Value, prefix: &str| -> Vec<String> {
        r["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str())
            .map(|id| format!("{prefix}{id}"))
            .collect()
    };
    let all: Vec<String> = match v["targets"].as_array() {
        Some(targets) => targets
            .iter()
            .flat_map(|t| ids(t, &format!("{}:", t["target"].as_str().unwrap_or_default())))
            .collect(),
        None => ids(&v, ""),
    };
    all.join(",")
}

/// `text` ending with a line break (a missing one is marked).
fn ended(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n<no newline at end>\n")
    }
}

/// An argument as a shell would need it, roughly: readable, not for pasting.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,{}@<>".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\n', "\\n"))
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation: only what differs between two runs of the same scenario.

fn normalise(text: &str, dirs: &[&str], emulator: &str) -> String {
    let mut t = text.to_string();
    for d in dirs {
        t = t.replace(d, "<dir>");
    }
    t = t.replace(emulator, "<emulator>");
    t = t.replace(emulator.trim_start_matches("http://"), "<emulator-host>");
    // Times and durations.
    t = mask_shape(&t, "dddd-dd-ddTdd:dd:ddZ", "<time>");
    t = mask_after(&t, "\"duration_ms\": ", is_number, "<ms>");
    t = mask_after(&t, " in ", is_seconds, "<secs>s");
    t = mask_after(&t, "section_start:", is_number, "<unix>");
    t = mask_after(&t, "section_end:", is_number, "<unix>");
    t = mask_clock(&t);
    // Random tokens: request ids, GitHub's heredoc delimiters and stop-commands tokens.
    t = mask_shape(&t, "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh", "<uuid>");
    t = mask_words(&t, |w| w.len() == 32 && is_hex(w), |_| "<hex32>".into());
    // Alibaba Cloud's signature errors quote a hash of the request, which has a nonce.
    t = mask_words(&t, |w| w.len() == 64 && is_hex(w), |_| "<hex64>".into());
    // Task ids with random parts: Qiniu's (24 hex digits: time, random, counter) and
    // Huawei's (15 digits: a random prefix, a counter), by order of appearance.
    let mut seen: HashMap<String, usize> = HashMap::new();
    t = mask_words(
        &t,
        |w| {
            (w.len() == 24 && is_hex(w) && w.bytes().all(|b| !b.is_ascii_uppercase()))
                || (w.len() == 15 && w.bytes().all(|b| b.is_ascii_digit()))
        },
        |w| {
            let next = seen.len() + 1;
            format!("<task-{}>", seen.entry(w.to_string()).or_insert(next))
        },
    );
    escape_controls(&t)
}

/// `; 12s elapsed, 9m 48s left of --timeout 10m` (the progress lines) → `; <clock> left of
/// --timeout 10m`: where a run stands against its deadline changes from run to run.
fn mask_clock(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (Some(at), Some(end)) = (line.find(" elapsed, "), line.find(" left of --timeout"))
            else {
                return line.to_string();
            };
            let start = line[..at].rfind("; ").map_or(0, |i| i + 2);
            format!("{}<clock>{}", &line[..start], &line[end..])
        })
        .collect()
}

fn is_number(r: &str) -> bool {
    !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit())
}

fn is_hex(w: &str) -> bool {
    w.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `0.3s`: the summary's and the logs' durations.
fn is_seconds(r: &str) -> bool {
    r.strip_suffix('s')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| is_number(a) && is_number(b))
}

/// Replaces the run of `[0-9a-z.]` after each `prefix` when `ok` says it is one.
fn mask_after(text: &str, prefix: &str, ok: impl Fn(&str) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let start = at + prefix.len();
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(after.len());
        if ok(&after[..len]) {
            out.push_str(with);
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every maximal run of ASCII letters and digits that `matches`. A backslash
/// escape (JSON's `\n`) is not part of a word.
fn mask_words(
    text: &str,
    matches: impl Fn(&str) -> bool,
    mut with: impl FnMut(&str) -> String,
) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let mut chars = text.chars();
    loop {
        let c = chars.next();
        if let Some(c) = c.filter(char::is_ascii_alphanumeric) {
            word.push(c);
            continue;
        }
        if matches(&word) {
            out.push_str(&with(&word));
        } else {
            out.push_str(&word);
        }
        word.clear();
        match c {
            None => return out,
            Some('\\') => {
                out.push('\\');
                out.extend(chars.next());
            }
            Some(c) => out.push(c),
        }
    }
}

/// Replaces each match of `shape` (`d` a digit, `h` a hex digit, anything else itself) that
/// no letter or digit touches.
fn mask_shape(text: &str, shape: &str, with: &str) -> String {
    let bytes = text.as_bytes();
    let shape = shape.as_bytes();
    let fits = |at: usize| {
        at + shape.len() <= bytes.len()
            && shape.iter().zip(&bytes[at..]).all(|(s, b)| match s {
                b'd' => b.is_ascii_digit(),
                b'h' => b.is_ascii_hexdigit(),
                _ => s == b,
            })
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
            && bytes
                .get(at + shape.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    };
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if fits(i) {
            out.push_str(&text[copied..i]);
            out.push_str(with);
            i += shape.len();
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// CR, ESC and other control characters made visible, so the goldens stay text.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("<CR>"),
            '\x1b' => out.push_str("<ESC>"),
            c if c.is_control() => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The lines between the common start and the common end, `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let head = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let tail = e[head..]
        .iter()
        .rev()
        .zip(a[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!(
        "@@ from line {}: {} expected, {} actual @@\n",
        head + 1,
        e.len() - head - tail,
        a.len() - head - tail
    );
    for line in e.iter().take(head).skip(head.saturating_sub(3)) {
        out.push_str(&format!(" {line}\n"));
    }
    const SHOWN: usize = 40;
    let removed = &e[head..e.len() - tail];
    let added = &a[head..a.len() - tail];
    for line in removed.iter().take(SHOWN) {
        out.push_str(&format!("-{line}\n"));
    }
    for line in added.iter().take(SHOWN) {
        out.push_str(&format!("+{line}\n"));
    }
    if removed.is_empty() && added.is_empty() {
        out.push_str("(the lines are the same: a line ending or the final newline differs)\n");
    }
    if removed.len() > SHOWN || added.len() > SHOWN {
        out.push_str("… (more lines differ)\n");
    }
    out
}
