//! What a user meets first (issue 14): exit codes that mean what they say, and messages that
//! name the input. Each case is the binary against the built-in emulator.

mod common;

use common::*;

/// What a run of the binary without the emulator showed.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The binary with `args` and `env` (and the default credentials), no endpoint.
async fn exec(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let out = binary(args, env, false).output().await.unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A URL list that holds no URL is a deploy that changed nothing: success, exit 0, and no
/// request to the provider, from a file, from stdin, or a file of comments only.
#[tokio::test]
async fn a_list_without_urls_is_nothing_to_send() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("e.txt");
    std::fs::write(&empty, "").unwrap();
    let comments = dir.path().join("c.txt");
    std::fs::write(&comments, "# nothing changed\n\n   \n").unwrap();
    for (args, stdin, named) in [
        (
            vec!["-r", empty.to_str().unwrap()],
            None,
            "e.txt holds no URL",
        ),
        (
            vec!["-r", comments.to_str().unwrap()],
            None,
            "c.txt holds no URL",
        ),
        (vec!["-r", "-"], Some(""), "stdin holds no URL"),
    ] {
        let out = run_with_stdin(&emu, &args, &[], stdin).await;
        assert_eq!(out.code, 0, "{args:?}\n{}", out.all());
        assert!(
            out.stdout.contains("nothing to send") && out.stdout.contains(named),
            "{}",
            out.all()
        );
        assert_eq!(out.report()["status"], "success", "{}", out.all());
        assert_eq!(out.report()["counts"]["urls"], 0);
    }
    assert_eq!(emu.stats().await.total_requests(), 0, "nothing was sent");
    // No list at all is still a mistake in the command.
    let out = run(&emu, &[], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("no URL was given"), "{}", out.all());
    assert!(
        out.stderr.contains("cdn-refresh --help") && out.stderr.contains("cdn-refresh demo"),
        "bare use says where to start\n{}",
        out.all()
    );
}

/// `plan` says the same of an empty list.
#[tokio::test]
async fn plan_of_an_empty_list_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("e.txt");
    std::fs::write(&empty, "# only a comment\n").unwrap();
    let out = exec(&["plan", "-r", empty.to_str().unwrap()], &[]).await;
    let stdout = &out.stdout;
    assert_eq!(out.code, Some(0), "{stdout}");
    assert_eq!(
        *stdout,
        format!("plan: nothing to send ({} holds no URL)\n", empty.display())
    );
}

/// A run whose URLs are all still running when the wait ends says `pending` everywhere (the
/// report, the step output, the summary), exits 0 under `--fail-on failed` and 1 under
/// `--fail-on pending`, and its warning counts each URL once and names the action's input.
#[tokio::test]
async fn a_run_left_pending_says_pending() {
    let emu = emulator(&["--task-duration", "1h"]).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let url = "https://www.example.com/pending.html";
    let args = ["--urls", url, "-t", "both", "--timeout", "1s"];
    let out = run(&emu, &args, &github).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.report()["status"], "pending", "{}", out.all());
    assert_eq!(out.report()["counts"]["failed"], 0);
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("\npending\n"), "{outputs}");
    assert!(!outputs.contains("\nfailed\n"), "{outputs}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("pending"), "{summary}");
    let warning = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning") && l.contains("pending"))
        .unwrap_or_else(|| panic!("a pending warning\n{}", out.stdout));
    assert!(
        warning.contains("1 URL was still pending") && warning.contains("`timeout` input"),
        "{warning}"
    );

    let out = run(
        &emu,
        &["--urls", url, "--timeout", "1s", "--fail-on", "pending"],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(out.report()["status"], "pending");
}

/// An endpoint where nothing answers: said with the endpoint, the cause and the fix, after
/// three attempts (not eight), with the calls and the time counted, and exit 1 (URLs that did
/// not go out), not 3 (which says the provider refused).
#[tokio::test]
async fn an_unreachable_endpoint_says_where_and_how_to_fix_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = exec(
        &[
            "--urls",
            "https://www.example.com/a",
            "--endpoint",
            &endpoint,
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let stderr = &out.stderr;
    assert_eq!(out.code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: nothing was sent: cannot connect to {endpoint}"
        )) && stderr.contains("Connection refused")
            && stderr.contains("fix: check --endpoint"),
        "{stderr}"
    );
    assert!(!stderr.contains("quota check failed"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["calls"]["quota"], 3, "{report}");
    assert_eq!(report["calls"]["retries"], 2, "{report}");
    assert_eq!(report["status"], "failed");
    assert_eq!(report["urls"][0]["status"], "rejected");
}

/// A host the account does not have is named, and the stop is worded from where it
/// happened: the submit, not the quota check (which passed).
#[tokio::test]
async fn a_foreign_domain_is_named_refused_alone_and_not_blamed_on_the_quota_check() {
    let emu = emulator(&[]).await;
    let out = run(
        &emu,
        &["--urls", "https://www.example.com/a\nhttps://other.org/b"],
        &[],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr
            .contains("error: the provider refused other.org: InvalidDomain.NotFound")
            && out.stderr.contains("host in the request: other.org")
            && out
                .stderr
                .contains("(1 URL not sent; the other hosts' URLs were)"),
        "{}",
        out.all()
    );
    assert!(!out.stderr.contains("quota check failed"), "{}", out.all());
    assert!(!out.stderr.contains("nothing was sent"), "{}", out.all());
    // The good URL of the same batch still went out, once.
    let statuses = out.statuses();
    assert!(
        statuses
            .iter()
            .any(|(u, _, s)| u == "https://www.example.com/a" && s == "complete"),
        "{statuses:?}"
    );
    let stats = emu.stats().await;
    assert_eq!(
        stats.accepted.refresh.get("https://www.example.com/a"),
        Some(&1)
    );
}

/// A key pasted into the config where a variable name belongs is called what it looks like
/// and never shown: not on stderr, not in the GitHub annotation.
#[tokio::test]
async fn a_credential_pasted_into_the_config_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "LTAI5tQf3x9XcVb8kJm2Rz7W",
        "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gH",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ];
    for secret in secrets {
        let config = dir.path().join("c.yml");
        std::fs::write(
            &config,
            format!(
                "targets:\n  - name: cn\n    provider: aliyun\n    credentials:\n      access_key_id: {secret}\n"
            ),
        )
        .unwrap();
        let out = exec(
            &[
                "plan",
                "--config",
                config.to_str().unwrap(),
                "--urls",
                "https://www.example.com/a",
            ],
            &[("GITHUB_ACTIONS", "true")],
        )
        .await;
        let all = out.all();
        assert_eq!(out.code, Some(2), "{all}");
        assert!(!all.contains(secret), "{secret} echoed:\n{all}");
        assert!(
            all.contains("targets[0].credentials.access_key_id") && all.contains("::error"),
            "{all}"
        );
        if !secret.contains('/') {
            assert!(all.contains("looks like a credential"), "{all}");
        }
    }
    // A variable's name is still taken as it is.
    let config = dir.path().join("ok.yml");
    std::fs::write(
        &config,
        "targets:\n  - name: cn\n    provider: aliyun\n    credentials:\n      access_key_id: MAINLAND_AK\n",
    )
    .unwrap();
    let out = exec(
        &[
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--urls",
            "https://www.example.com/a",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// `status` of an id the provider does not know: the same on every provider, the id named,
/// exit 2; the ids it knows are still shown.
#[tokio::test]
async fn status_of_an_unknown_id_is_the_same_everywhere() {
    let emu = emulator(&["--task-duration", "0s"]).await;
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, &str, Env); 3] = [
        ("aliyun", "987654", vec![]),
        (
            "qiniu",
            "0123456789abcdef01234567",
            vec![
                ("QINIU_ACCESS_KEY", "testak"),
                ("QINIU_SECRET_KEY", "testsk"),
            ],
        ),
        (
            "huawei",
            "123456789012345",
            vec![
                ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
                ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
            ],
        ),
    ];
    for (provider, id, env) in cases {
        let out = run(&emu, &["status", id, "--provider", provider], &env).await;
        assert_eq!(out.code, 2, "{provider}\n{}", out.all());
        assert!(
            out.stderr
                .contains(&format!("task id `{id}` is not known to {provider}")),
            "{provider}\n{}",
            out.all()
        );
    }
    // A known id beside an unknown one is still shown.
    let sent = run(&emu, &["--urls", "https://www.example.com/k"], &[]).await;
    assert_eq!(sent.code, 0, "{}", sent.all());
    let known = sent.report()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run(&emu, &["status", &known, "987654"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stdout.contains(&known), "{}", out.all());
    assert!(
        out.stderr.contains("`987654` is not known"),
        "{}",
        out.all()
    );
}

/// A bad value that came from the environment names the variable (and the action's input),
/// not a flag the user never typed; one typed on the command line still names the flag.
#[tokio::test]
async fn errors_name_the_input_the_value_came_from() {
    for (env, expected) in [
        (
            ("INPUT_PROVIDER", "cloudflare"),
            "error: the `provider` input (INPUT_PROVIDER): `cloudflare` is not a valid value",
        ),
        (
            ("INPUT_TASK", "wipe"),
            "error: the `task` input (INPUT_TASK): unknown task `wipe`",
        ),
        (
            ("CDN_REFRESH_TIMEOUT", "soon"),
            "error: CDN_REFRESH_TIMEOUT: `soon` is not a duration",
        ),
        (
            ("INPUT_AREA", "mars"),
            "error: the `area` input (INPUT_AREA): unknown area `mars`",
        ),
    ] {
        let out = exec(&["plan", "--urls", "https://www.example.com/a"], &[env]).await;
        let stderr = &out.stderr;
        assert_eq!(out.code, Some(2), "{env:?}\n{stderr}");
        assert!(stderr.starts_with(expected), "{env:?}\n{stderr}");
        assert!(stderr.contains("fix:"), "{stderr}");
    }
    let out = exec(
        &[
            "plan",
            "--urls",
            "https://www.example.com/a",
            "--task",
            "wipe",
        ],
        &[("INPUT_TASK", "both")],
    )
    .await;
    let stderr = &out.stderr;
    assert!(
        stderr.starts_with("error: --task: unknown task `wipe`"),
        "{stderr}"
    );
}

/// A long send is never silent: a line at least every 10 s says how many batches went out
/// and where the run stands against its deadline; every status check says so too. (13
/// batches at one request a second take 12 s: the line must come before they are done.)
#[tokio::test]
async fn long_phases_show_progress_against_the_deadline() {
    let emu = emulator(&["--task-duration", "0s"]).await;
    let urls: Vec<String> = (0..13)
        .map(|i| format!("https://www.example.com/p/{i}.html"))
        .collect();
    let out = run(
        &emu,
        &[
            "--urls",
            &urls.join("\n"),
            "--batch-size",
            "1",
            "--qps",
            "1",
            "--timeout",
            "10m",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let heartbeat = out
        .stderr
        .lines()
        .find(|l| l.contains("batches sent, the rest waiting their turn"))
        .unwrap_or_else(|| panic!("no progress line\n{}", out.stderr));
    assert!(
        heartbeat.contains("/13 batches sent") && heartbeat.contains("left of --timeout 10m"),
        "{heartbeat}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("tasks finished;") && l.contains("elapsed")),
        "{}",
        out.stderr
    );
}

/// `plan --report` writes the report `--dry-run --report` writes (it used to write nothing).
#[tokio::test]
async fn plan_writes_the_report_a_dry_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let urls = "https://www.example.com/a\nhttps://www.example.com/b";
    let mut reports = Vec::new();
    for args in [vec!["plan"], vec!["run", "--dry-run"]] {
        let path = dir.path().join(format!("{}.json", args.len()));
        let mut all = args.clone();
        all.extend(["--urls", urls, "--report", path.to_str().unwrap()]);
        let out = exec(&all, &[]).await;
        assert_eq!(out.code, Some(0), "{args:?}");
        let mut report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for key in ["started_at", "finished_at"] {
            report[key] = serde_json::Value::Null;
        }
        reports.push(report);
    }
    assert_eq!(reports[0]["status"], "dry-run");
    assert_eq!(reports[0]["urls"].as_array().unwrap().len(), 2);
    assert_eq!(reports[0], reports[1]);
}

/// `--help` names every provider's credential variables and the defaults that depend on the
/// provider, from the providers' declarations.
#[tokio::test]
async fn help_names_every_provider_and_its_defaults() {
    let out = exec(&["--help"], &[]).await;
    let help = &out.stdout;
    assert_eq!(out.code, Some(0));
    for needle in [
        "QINIU_ACCESS_KEY",
        "HUAWEICLOUD_SDK_AK",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "[default: aliyun]",
        "https://fusion.qiniuapi.com",
        "[default: refresh]",
        "submit rate: aliyun 50",
        "130, 143",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}

/// A misspelt config key gets the nearest known one; a one-URL run says "1 URL".
#[tokio::test]
async fn small_words_are_right() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yml");
    std::fs::write(&config, "version: 1\ncolapse_threshold: 3\n").unwrap();
    let out = exec(
        &[
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--urls",
            "https://www.example.com/a",
        ],
        &[],
    )
    .await;
    let stderr = &out.stderr;
    assert_eq!(out.code, Some(2), "{stderr}");
    assert!(
        stderr.contains("did you mean `collapse_threshold`?"),
        "{stderr}"
    );

    let emu = emulator(&["--task-duration", "0s"]).await;
    let out = run(&emu, &["--urls", "https://www.example.com/one"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("refresh: sending 1 URL in 1 batch"),
        "{}",
        out.stderr
    );
}

/// `--on-missing-base all`, applied, does not advise setting `--on-missing-base all`.
#[tokio::test]
async fn an_applied_missing_base_policy_gives_no_stale_advice() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::create_dir_all(dir.path().join("public")).unwrap();
    std::fs::write(dir.path().join("public/a.html"), "a").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "one"]);
    for policy in ["all", "skip"] {
        let out = exec(
            &[
                "plan",
                "--repo",
                dir.path().to_str().unwrap(),
                "--base",
                "0000000000000000000000000000000000000000",
                "--mapping",
                "public/** => https://www.example.com/{path}",
                "--on-missing-base",
                policy,
            ],
            &[],
        )
        .await;
        let all = out.all();
        assert_eq!(out.code, Some(0), "{all}");
        assert!(all.contains(&format!("on-missing-base {policy}")), "{all}");
        assert!(!all.contains("set --on-missing-base"), "{all}");
    }
}

/// What git mode leaves out is listed, not only counted: in the text plan and the JSON
/// (the report's `git` object), and a run warns of paths that map to no URL.
#[tokio::test]
async fn unmapped_and_excluded_paths_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::create_dir_all(dir.path().join("public")).unwrap();
    std::fs::write(dir.path().join("public/a.html"), "a").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "one"]);
    std::fs::write(dir.path().join("public/a.html"), "b").unwrap();
    std::fs::write(dir.path().join("public/a.map"), "m").unwrap();
    std::fs::write(dir.path().join("NOTES.txt"), "n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "two"]);
    let repo = dir.path().to_str().unwrap();
    let rules = "!public/**/*.map\npublic/** => https://www.example.com/{path}";
    let args = [
        "plan",
        "--repo",
        repo,
        "--base",
        "HEAD~1",
        "--mapping",
        rules,
    ];
    let out = exec(&args, &[]).await;
    let text = &out.stdout;
    assert_eq!(out.code, Some(0), "{text}");
    assert!(
        text.contains("unmapped (no rule matches): NOTES.txt"),
        "{text}"
    );
    assert!(text.contains("excluded: public/a.map"), "{text}");
    let json_args = [&args[..], &["--format", "json"]].concat();
    let out = exec(&json_args, &[]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["git"]["unmapped_paths"],
        serde_json::json!(["NOTES.txt"])
    );
    assert_eq!(
        json["git"]["excluded_paths"],
        serde_json::json!(["public/a.map"])
    );

    let emu = emulator(&["--task-duration", "0s"]).await;
    let out = run(&emu, &args[1..], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("1 changed path maps to no URL"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.report()["git"]["unmapped_paths"],
        serde_json::json!(["NOTES.txt"])
    );
}

/// The text plan lists the URLs it would send (the first 10 of each batch) and the least time
/// the provider's limits allow (here the per-domain minute cap: 2,500 URLs of one host at
/// 1,000 a minute go out at 0, 60 and 120 s).
#[tokio::test]
async fn the_text_plan_lists_urls_and_the_least_time() {
    let urls: Vec<String> = (0..2500)
        .map(|i| format!("https://www.example.com/{i}.html"))
        .collect();
    let out = exec(&["plan", "--urls", &urls.join("\n")], &[]).await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout
            .contains("\n    https://www.example.com/0.html\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("… and 490 more (plan --format json lists every URL)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("sending takes at least 120s (then the tasks' own time)"),
        "{}",
        out.stdout
    );
    let small = exec(&["plan", "--urls", "https://www.example.com/a"], &[]).await;
    assert!(!small.stdout.contains("at least"), "{}", small.stdout);
}

/// A run that ends on bad input in a GitHub job still writes its outputs (`status` `failed`,
/// counts 0) and a job summary with the message, so later steps and the run's page say why.
#[tokio::test]
async fn bad_input_in_a_github_job_writes_outputs_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let out = exec(
        &["--urls", "https://www.example.com/a", "--task", "wipe"],
        &env,
    )
    .await;
    assert_eq!(out.code, Some(2), "{}", out.all());
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(
        outputs.starts_with("status<<") && outputs.contains("\nfailed\n"),
        "{outputs}"
    );
    assert!(outputs.contains("urls-count<<"), "{outputs}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("bad input, nothing was sent") && summary.contains("unknown task"),
        "{summary}"
    );
    // `plan` publishes nothing: it is not a step's run.
    let plan_output = dir.path().join("plan-output");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", plan_output.to_str().unwrap()),
    ];
    let out = exec(
        &[
            "plan",
            "--urls",
            "https://www.example.com/a",
            "--task",
            "wipe",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, Some(2));
    assert!(!plan_output.exists());
}

/// A near miss of the rule arrow (`->`) is named and the rule shown written right.
#[tokio::test]
async fn a_mistyped_rule_arrow_is_named() {
    let out = exec(
        &[
            "plan",
            "--base",
            "HEAD",
            "--mapping",
            "public/** -> https://www.example.com/{path}",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(
        out.stderr.contains(
            "The rule's arrow is `->`, not `=>`; write `public/** => https://www.example.com/{path}`."
        ),
        "{}",
        out.stderr
    );
}
