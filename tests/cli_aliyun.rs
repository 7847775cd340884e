//! The binary against the built-in emulator: the whole pipeline, every fault kind, and every
//! way a run can be refused. Each test starts its own emulator on a free port.

mod common;

use common::*;
use serde_json::Value;

fn assert_all(out: &Output, status: &str) {
    for (url, op, s) in out.statuses() {
        assert_eq!(s, status, "{op} {url}\n{}", out.all());
    }
}

/// Every URL was accepted exactly once for `operation` (and nothing else was).
async fn assert_accepted_once(
    emu: &cdn_refresh::emulator::Running,
    urls: &[String],
    prefetch: bool,
) {
    let stats = emu.stats().await;
    let accepted = if prefetch {
        &stats.accepted.prefetch
    } else {
        &stats.accepted.refresh
    };
    assert_eq!(accepted.len(), urls.len(), "{accepted:?}");
    for u in urls {
        assert_eq!(accepted.get(u), Some(&1), "{u} in {accepted:?}");
    }
}

#[tokio::test]
async fn refresh_then_prefetch_completes_every_url() {
    let emu = emulator(&["--task-duration", "300ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(7);
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &list), "-t", "both"],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.statuses().len(), 14);
    assert_all(&out, "complete");
    let report = out.report();
    assert_eq!(report["status"], "success");
    assert_eq!(report["counts"]["urls"], 7);
    assert_eq!(report["counts"]["refreshed"], 7);
    assert_eq!(report["counts"]["prefetched"], 7);
    // One task per host and operation, each URL carrying the id of its own task.
    assert_eq!(report["tasks"].as_array().unwrap().len(), 6);
    assert!(
        report["urls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["task_id"].is_string())
    );
    assert!(out.stdout.contains("aliyun: success"), "{}", out.stdout);
    assert_accepted_once(&emu, &list, false).await;
    assert_accepted_once(&emu, &list, true).await;
}

#[tokio::test]
async fn batches_are_filled_to_the_provider_maximum() {
    // 2,500 URLs over 3 hosts: 3 refresh requests of at most 1,000 URLs, none more.
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(2500);
    let out = run(&emu, &["-r", &url_file(dir.path(), &list)], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.report()["calls"]["submit"], 3);
    assert_eq!(
        emu.stats().await.requests.get("RefreshObjectCaches"),
        Some(&3)
    );
    assert_accepted_once(&emu, &list, false).await;
    assert_all(&out, "complete");
}

#[tokio::test]
async fn every_fault_kind_is_retried_and_each_url_accepted_once() {
    for kind in ["throttle", "error", "drop", "garbage"] {
        // Every third request: a submit whose answer is lost (drop, garbage) is looked up
        // before it is sent again, so with every other request failing, each resend would
        // land on a failing turn.
        let emu = emulator(&[
            "--task-duration",
            "200ms",
            "--fault",
            &format!("{kind}=1/3"),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let list = urls(12);
        let out = run(
            &emu,
            &[
                "-r",
                &url_file(dir.path(), &list),
                "-t",
                "both",
                "--batch-size",
                "5",
            ],
            &[],
        )
        .await;
        assert_eq!(out.code, 0, "{kind}: {}", out.all());
        assert_all(&out, "complete");
        let stats = emu.stats().await;
        assert!(
            stats.faults.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: no fault injected: {stats:?}"
        );
        assert!(
            out.report()["calls"]["retries"].as_u64().unwrap() > 0,
            "{kind}"
        );
        assert_accepted_once(&emu, &list, false).await;
        assert_accepted_once(&emu, &list, true).await;
    }
}

#[tokio::test]
async fn quota_shortfall_sends_nothing_and_exits_3() {
    let emu = emulator(&["--url-quota", "3"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&emu, &["-r", &url_file(dir.path(), &urls(5))], &[]).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr
            .contains("URL refresh: needs 5, 3 left of 3 today"),
        "{}",
        out.stderr
    );
    let stats = emu.stats().await;
    assert_eq!(
        stats.total_accepted(cdn_refresh::providers::Operation::Refresh),
        0
    );
    assert_eq!(stats.requests.get("RefreshObjectCaches"), None, "{stats:?}");
    // Still, every URL is in the report, rejected with the reason.
    assert_all(&out, "rejected");
    assert_eq!(out.statuses().len(), 5);
    assert_eq!(out.report()["stopped"]["code"], "QuotaShortfall");
}

#[tokio::test]
async fn prefetch_quota_is_checked_before_the_refresh_is_sent() {
    let emu = emulator(&["--preload-quota", "2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(4)), "-t", "both"],
        &[],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("prefetch: needs 4, 2 left"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().await.requests.get("RefreshObjectCaches"), None);
}

#[tokio::test]
async fn wrong_secret_exits_3_naming_the_variable_and_never_printing_the_secret() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = "wrong-secret-0x5eCreT";
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(2))],
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("SignatureDoesNotMatch"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{}",
        out.stderr
    );
    assert!(
        !out.all().contains(secret),
        "the secret leaked:\n{}",
        out.all()
    );
    assert!(!out.all().contains(SECRET));
    assert_eq!(emu.stats().await.requests.get("RefreshObjectCaches"), None);
}

#[tokio::test]
async fn unknown_key_id_names_the_key_variable() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(1))],
        &[("ALIBABA_CLOUD_ACCESS_KEY_ID", "nobody")],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("InvalidAccessKeyId.NotFound"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn missing_credentials_exit_2_before_any_call() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(1))],
        &[("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET: is not set"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn invalid_url_file_lists_every_bad_line_and_sends_nothing() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = [
        "https://example.com/ok.js",
        "# a comment",
        "ftp://example.com/a",
        "",
        "example.com/no-scheme",
        "https://example.com/frag#x",
        "https://",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(&emu, &["-r", &url_file(dir.path(), &lines)], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    for n in [3, 5, 6, 7] {
        assert!(
            out.stderr.contains(&format!("line {n}:")),
            "line {n} missing:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("line 1:"));
    assert!(
        out.stderr.contains("4 invalid lines; nothing was sent"),
        "{}",
        out.stderr
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn timeout_reports_pending_urls_and_exit_follows_fail_on() {
    let emu = emulator(&["--task-duration", "10m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let out = run(&emu, &["-r", &file, "--timeout", "1s"], &[]).await;
    assert_eq!(
        out.code,
        0,
        "pending does not fail by default: {}",
        out.all()
    );
    assert_all(&out, "pending");
    assert_eq!(out.report()["counts"]["pending"], 3);
    let reason = out.report()["urls"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("when the wait ended"), "{reason}");

    let out = run(
        &emu,
        &["-r", &file, "--timeout", "1s", "--fail-on", "pending"],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
}

#[tokio::test]
async fn prefetch_waits_for_the_refresh_it_follows() {
    // A refresh still running at the timeout: its prefetch is never sent.
    let emu = emulator(&["--task-duration", "10m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &[
            "-r",
            &url_file(dir.path(), &urls(2)),
            "-t",
            "both",
            "--timeout",
            "1s",
        ],
        &[],
    )
    .await;
    assert_eq!(emu.stats().await.requests.get("PushObjectCache"), None);
    let prefetch: Vec<_> = out
        .statuses()
        .into_iter()
        .filter(|(_, op, _)| op == "prefetch")
        .collect();
    assert_eq!(prefetch.len(), 2);
    assert!(
        prefetch.iter().all(|(_, _, s)| s == "pending"),
        "{prefetch:?}"
    );
}

#[tokio::test]
async fn failed_tasks_carry_the_provider_description_and_skip_their_prefetch() {
    let emu = emulator(&["--task-duration", "300ms", "--fail-matching", "file-1."]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(3);
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &list), "-t", "both"],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    let urls = out.report()["urls"].as_array().unwrap().clone();
    let find = |op: &str| {
        urls.iter()
            .find(|u| u["url"] == list[1].as_str() && u["operation"] == op)
            .unwrap()
            .clone()
    };
    let refresh: Value = find("refresh");
    assert_eq!(refresh["status"], "failed");
    assert!(
        refresh["reason"].as_str().unwrap().contains("5XX"),
        "{refresh}"
    );
    assert_eq!(find("prefetch")["status"], "rejected");
    let stats = emu.stats().await;
    assert!(!stats.accepted.prefetch.contains_key(&list[1]));
    assert_eq!(stats.accepted.prefetch.len(), 2);
    assert_eq!(out.report()["status"], "partial");
}

#[tokio::test]
async fn missing_ram_permission_stops_the_run_with_the_permission_named() {
    let emu = emulator(&[
        "--task-duration",
        "200ms",
        "--deny-action",
        "PushObjectCache",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(150)), "-t", "both"],
        &[],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stdout.contains("cdn:PushObjectCache"), "{}", out.stdout);
    assert_eq!(out.report()["stopped"]["code"], "Forbidden.RAM");
    let statuses = out.statuses();
    assert_eq!(statuses.len(), 300);
    assert!(
        statuses
            .iter()
            .filter(|(_, op, _)| op == "refresh")
            .all(|(_, _, s)| s == "complete")
    );
    assert!(
        statuses
            .iter()
            .filter(|(_, op, _)| op == "prefetch")
            .all(|(_, _, s)| s == "rejected")
    );
    // The first refusal stops the run: at most the batches already in flight were tried.
    let pushes = emu
        .stats()
        .await
        .requests
        .get("PushObjectCache")
        .copied()
        .unwrap_or(0);
    assert!(
        pushes < 6,
        "{pushes} prefetch requests after the run stopped"
    );
}

#[tokio::test]
async fn unknown_domain_is_refused() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = vec!["https://not-mine.example.org/a.js".to_string()];
    let out = run(&emu, &["-r", &url_file(dir.path(), &list)], &[]).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(
        out.report()["hosts_refused"][0]["code"],
        "InvalidDomain.NotFound"
    );
    assert_all(&out, "rejected");
}

#[tokio::test]
async fn sts_token_is_required_and_accepted() {
    let emu = emulator(&[
        "--aliyun-key",
        "stsid:stssecret:token-123",
        "--task-duration",
        "200ms",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(2));
    let creds = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "stsid"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "stssecret"),
    ];
    let out = run(&emu, &["-r", &file], &creds).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_SECURITY_TOKEN"),
        "{}",
        out.stderr
    );
    let with_token = [
        creds[0],
        creds[1],
        ("ALIBABA_CLOUD_SECURITY_TOKEN", "token-123"),
    ];
    for signature in ["v3", "v1"] {
        let out = run(
            &emu,
            &["-r", &file, "--aliyun-signature", signature],
            &with_token,
        )
        .await;
        assert_eq!(out.code, 0, "{signature}: {}", out.all());
        assert!(!out.all().contains("token-123"));
    }
}

#[tokio::test]
async fn v1_signature_runs_the_whole_pipeline() {
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &[
            "-r",
            &url_file(dir.path(), &urls(3)),
            "-t",
            "both",
            "--aliyun-signature",
            "v1",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_all(&out, "complete");
}

#[tokio::test]
async fn directories_and_inputs_from_the_environment() {
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let out = run(
        &emu,
        &[],
        &[
            (
                "INPUT_URLS",
                "https://example.com/docs/\nhttps://static.example.com/img/\n",
            ),
            ("INPUT_TASK", "clear"),
            ("INPUT_OBJECT-TYPE", "Directory"),
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_all(&out, "complete");
    let stats = emu.stats().await;
    assert_eq!(stats.accepted.refresh.len(), 2);
    assert!(
        out.report()["urls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["object_type"] == "directory")
    );
}

#[tokio::test]
async fn urls_from_stdin_with_encoding() {
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let out = run_with_stdin(&emu, &["-r", "-"], &[], Some("https://example.com/a b.html\nhttps://example.com/é.png\nhttps://example.com/a%20b.html\n")).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let accepted = emu.stats().await.accepted.refresh;
    assert_eq!(
        accepted.keys().cloned().collect::<Vec<_>>(),
        vec![
            "https://example.com/%C3%A9.png",
            "https://example.com/a%20b.html"
        ]
    );
}

#[tokio::test]
async fn dry_run_and_plan_make_no_call() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(1500));
    let out = run(&emu, &["-r", &file, "-t", "both", "--dry-run"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("batch 2: refresh (file) of 500 paths"),
        "{}",
        out.stdout
    );
    assert_all(&out, "planned");
    assert_eq!(out.report()["status"], "dry-run");
    let out = run(
        &emu,
        &["plan", "-r", &file, "-t", "both", "--format", "json"],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["batches"].as_array().unwrap().len(), 2 + 15);
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn quota_and_status_commands() {
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &urls(2)), "--wait", "false"],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_all(&out, "submitted");
    let ids: Vec<String> = out.report()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let out = run(&emu, &["status", &ids.join(",")], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    let out = run(&emu, &["quota"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("URL refresh"), "{}", out.stdout);
    assert!(out.stdout.contains("9998 of 10000"), "{}", out.stdout);
}

#[tokio::test]
async fn timeout_also_bounds_batches_held_back_by_the_per_domain_cap() {
    // 1,100 URLs on one host: the first 1,000 fill the host's minute; the other 100 would have
    // to wait a minute, past the 2 s timeout, so they are reported as not sent.
    let emu = emulator(&["--task-duration", "200ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..1100)
        .map(|i| format!("https://example.com/f{i}.js"))
        .collect();
    let out = run(
        &emu,
        &["-r", &url_file(dir.path(), &list), "--timeout", "2s"],
        &[],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    let statuses = out.statuses();
    assert_eq!(statuses.len(), 1100);
    assert_eq!(
        statuses.iter().filter(|(_, _, s)| s == "complete").count(),
        1000
    );
    let rejected: Vec<&Value> = out.report()["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["status"] == "rejected")
        .collect();
    assert_eq!(rejected.len(), 100);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("--timeout"),
        "{}",
        rejected[0]
    );
    assert_eq!(
        emu.stats().await.requests.get("RefreshObjectCaches"),
        Some(&1)
    );
}

#[tokio::test]
async fn any_duration_is_an_answer_never_a_panic() {
    let emu = emulator(&[]).await;
    for timeout in ["300000000000y", "99999999999999999999", "1000d"] {
        let out = run(
            &emu,
            &["--urls", "https://example.com/a", "--timeout", timeout],
            &[],
        )
        .await;
        assert_eq!(out.code, 2, "{timeout}: {}", out.all());
        assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
    }
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn an_endless_input_line_is_refused_and_echoed_short() {
    let emu = emulator(&[]).await;
    let line = format!(
        "https://example.com/{}\nhttps://example.com/ok\n",
        "a".repeat(20 << 20)
    );
    let out = run_with_stdin(&emu, &["-r", "-"], &[], Some(&line)).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("line 1"), "{}", out.stderr);
    assert!(out.stderr.contains("longer than"), "{}", out.stderr);
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of errors",
        out.stderr.len()
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn a_credential_with_a_line_break_is_refused_before_anything_is_sent() {
    let emu = emulator(&[]).await;
    let out = run(
        &emu,
        &["--urls", "https://example.com/a"],
        &[("ALIBABA_CLOUD_SECURITY_TOKEN", "tok-part-one\ntok-part-two")],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_SECURITY_TOKEN"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line break"), "{}", out.stderr);
    assert!(!out.all().contains("tok-part"), "the value is never shown");
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn the_emulator_ends_on_sigterm() {
    // Only a run finishes its work on a signal; `emulator` ends as any server does.
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cdn-refresh"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("the emulator ended")
        .unwrap();
    assert!(!status.success(), "{status:?}");
}
