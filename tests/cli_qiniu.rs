//! Qiniu-only behaviour of the binary against the emulator (the shared cases are in
//! `conformance.rs`): the items-per-second pace, a batch already in flight (400037),
//! directory refresh not enabled (400038), credentials, and the quota command.

mod common;

use cdn_refresh::providers::Operation;
use common::{emulator, run, url_file, urls};

const CREDS: &[(&str, &str)] = &[
    ("QINIU_ACCESS_KEY", "testak"),
    ("QINIU_SECRET_KEY", "testsk"),
];

fn qiniu<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--provider", "qiniu"];
    args.extend_from_slice(rest);
    args
}

#[tokio::test]
async fn the_items_per_second_pace_keeps_clear_of_the_rate_limit() {
    // 600 URLs are 10 batches; sent at once (concurrency 8) they would be 480 items in the
    // first second, twice the 240 allowed. Paced, the emulator never says 403024.
    let emu = emulator(&["--qiniu-url-quota", "5000", "--task-duration", "100ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(600);
    let out = run(&emu, &qiniu(&["-r", &url_file(dir.path(), &list)]), CREDS).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = emu.stats().await;
    assert_eq!(stats.errors.get("qiniu:403024"), None, "{:?}", stats.errors);
    assert_eq!(out.report()["calls"]["retries"], 0);
    assert_eq!(stats.total_accepted(Operation::Refresh), 600);
}

#[tokio::test]
async fn a_batch_already_being_refreshed_is_taken_over_not_failed() {
    // A first run sends and does not wait; a second run of the same URLs gets 400037
    // ("url has existed") and adopts the first run's task instead of failing.
    let emu = emulator(&["--task-duration", "1s"]).await;
    let list = "https://example.com/a.js\nhttps://example.com/b.js";
    let first = run(&emu, &qiniu(&["--urls", list, "--wait", "false"]), CREDS).await;
    assert_eq!(first.code, 0, "{}", first.all());
    let task = first.report()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = run(&emu, &qiniu(&["--urls", list]), CREDS).await;
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(second.report()["tasks"][0]["id"], task.as_str());
    assert!(
        second.statuses().iter().all(|(_, _, s)| s == "complete"),
        "{}",
        second.all()
    );
    let stats = emu.stats().await;
    assert_eq!(stats.errors.get("qiniu:400037"), Some(&1), "{stats:?}");
    // Each URL went into one task only.
    assert_eq!(stats.total_accepted(Operation::Refresh), 2);
}

/// A repository whose head changes three files in one directory, so that
/// `--collapse-threshold 2` refreshes the directory instead.
fn collapsing_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| common::git(dir.path(), args);
    git(&["init", "-q", "-b", "main"]);
    let write = |text: &str| {
        std::fs::create_dir_all(dir.path().join("site/docs")).unwrap();
        for i in 0..3 {
            std::fs::write(dir.path().join(format!("site/docs/p{i}.html")), text).unwrap();
        }
    };
    write("base");
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    write("head");
    git(&["add", "."]);
    git(&["commit", "-qm", "head"]);
    dir
}

#[tokio::test]
async fn directory_refresh_not_enabled_falls_back_to_the_files() {
    let emu = emulator(&["--qiniu-dir-refresh-disabled", "--task-duration", "100ms"]).await;
    let repo = collapsing_repo();
    let repo_arg = repo.path().to_string_lossy().into_owned();
    let args = [
        "--repo",
        repo_arg.as_str(),
        "--base",
        "HEAD~1",
        "--collapse-threshold",
        "2",
        "--mapping",
        "site/** => https://example.com/{path}",
    ];
    let out = run(&emu, &qiniu(&args), CREDS).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = out.report();
    assert_eq!(
        report["directories_refused"][0],
        "https://example.com/docs/"
    );
    let mut refreshed: Vec<String> = out
        .statuses()
        .into_iter()
        .map(|(url, op, status)| {
            assert_eq!((op.as_str(), status.as_str()), ("refresh", "complete"));
            url
        })
        .collect();
    refreshed.sort();
    assert_eq!(
        refreshed,
        [
            "https://example.com/docs/p0.html",
            "https://example.com/docs/p1.html",
            "https://example.com/docs/p2.html"
        ]
    );
    let collapse = &report["git"]["collapses"][0];
    assert!(
        collapse["not_applied"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{collapse}"
    );
    assert_eq!(
        emu.stats().await.errors.get("qiniu:400038"),
        Some(&1),
        "one refusal, then files"
    );

    // With `fail`, the run stops and says how to enable directory refresh.
    let mut failing = args.to_vec();
    failing.extend(["--on-dir-refresh-denied", "fail"]);
    let out = run(&emu, &qiniu(&failing), CREDS).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(out.report()["stopped"]["code"], "400038");
    assert!(
        out.report()["stopped"]["hint"]
            .as_str()
            .unwrap()
            .contains("enable"),
        "{}",
        out.all()
    );
}

#[tokio::test]
async fn missing_credentials_name_the_variables_and_send_nothing() {
    let emu = emulator(&[]).await;
    let out = run(
        &emu,
        &qiniu(&["--urls", "https://example.com/a.js"]),
        &[("QINIU_ACCESS_KEY", "testak")],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("QINIU_SECRET_KEY"), "{}", out.stderr);
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn the_quota_command_explains_where_qiniu_quotas_come_from() {
    let emu = emulator(&[]).await;
    let out = run(&emu, &["quota", "--provider", "qiniu"], CREDS).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("no quota call"), "{}", out.stdout);
    assert_eq!(emu.stats().await.total_requests(), 0);
}
