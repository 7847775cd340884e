//! CloudFront-only behaviour of the binary against the emulator (the shared cases are in
//! `conformance.rs`, the edge in `emulator_edge.rs`): sites to distributions, paths as
//! CloudFront compares them, prefetch reported unsupported, idempotent submits by
//! `CallerReference`, the in-progress limits, temporary credentials, and `status`.

mod common;

use cdn_refresh::providers::Operation;
use common::{emulator, run};

/// The emulator's default key, and its default distributions (one per domain).
const CREDS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDCDNREFRESHTEST"),
    ("AWS_SECRET_ACCESS_KEY", "cloudfront-test-secret"),
];
const DISTRIBUTIONS: &str =
    "example.com=EEXAMPLECOM,www.example.com=EWWWEXAMPLECOM,static.example.com=ESTATICEXAMPLECOM";

fn cloudfront<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--provider",
        "cloudfront",
        "--distribution-id",
        DISTRIBUTIONS,
    ];
    args.extend_from_slice(rest);
    args
}

fn count(out: &common::Output, operation: &str, status: &str) -> usize {
    out.statuses()
        .iter()
        .filter(|(_, op, s)| op == operation && s == status)
        .count()
}

#[tokio::test]
async fn each_site_goes_to_its_distribution_and_prefetch_is_reported_unsupported() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let urls = "https://example.com/a.js\nhttps://www.example.com/caf\u{e9}.html\nhttps://example.com/b.css?v=2";
    let out = run(&emu, &cloudfront(&["--urls", urls, "-t", "both"]), CREDS).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 3, "{}", out.all());
    assert_eq!(count(&out, "prefetch", "unsupported"), 3, "{}", out.all());
    let report = out.report();
    assert_eq!(report["status"], "success");
    assert_eq!(report["counts"]["unsupported"], 3);
    for u in report["urls"].as_array().unwrap() {
        if u["operation"] == "prefetch" {
            assert!(
                u["reason"].as_str().unwrap().contains("no prefetch API"),
                "{u}"
            );
        }
    }
    // One invalidation per distribution, ids DISTRIBUTION/INVALIDATION.
    let tasks: Vec<&str> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(tasks.iter().any(|t| t.starts_with("EEXAMPLECOM/I")));
    assert!(tasks.iter().any(|t| t.starts_with("EWWWEXAMPLECOM/I")));
    let stats = emu.stats().await;
    // The paths as CloudFront compares them: non-ASCII percent-encoded, the query kept.
    for key in [
        "https://example.com/a.js",
        "https://www.example.com/caf%C3%A9.html",
        "https://example.com/b.css?v=2",
    ] {
        assert_eq!(
            stats.accepted.refresh.get(key),
            Some(&1),
            "{key}: {stats:?}"
        );
    }
    assert!(stats.accepted.prefetch.is_empty());
    assert!(stats.errors.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn a_directory_is_a_wildcard_path() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let out = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/docs/", "-o", "directory"]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = emu.stats().await;
    assert_eq!(
        stats.accepted.refresh.get("https://example.com/docs/"),
        Some(&1)
    );
    let id = out.report()["tasks"][0]["id"].as_str().unwrap().to_string();
    let status = run(&emu, &["status", "--provider", "cloudfront", &id], CREDS).await;
    assert_eq!(status.code, 0, "{}", status.all());
    // Another process does not know the URL: it shows the path CloudFront lists.
    assert!(status.stdout.contains("/docs/*"), "{}", status.stdout);
    let quota = run(&emu, &["quota", "--provider", "cloudfront"], CREDS).await;
    assert_eq!(quota.code, 0, "{}", quota.all());
    assert!(quota.stdout.contains("no daily quota"), "{}", quota.stdout);
}

#[tokio::test]
async fn a_lost_answer_is_sent_again_and_gets_the_same_invalidation() {
    // Every second request is served, then its answer lost: the submit is sent again with
    // the same CallerReference, and the emulator answers the invalidation made the first time.
    let emu = emulator(&["--task-duration", "100ms", "--fault", "lose-answer=1/2"]).await;
    let list: Vec<String> = (0..6)
        .map(|i| format!("https://example.com/p-{i}.js"))
        .collect();
    let joined = list.join("\n");
    let out = run(
        &emu,
        &cloudfront(&["--urls", &joined, "--batch-size", "2", "--concurrency", "1"]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 6, "{}", out.all());
    let stats = emu.stats().await;
    assert!(stats.faults.get("lose-answer").copied().unwrap_or(0) > 0);
    for u in &list {
        assert_eq!(stats.accepted.refresh.get(u), Some(&1), "{u}: {stats:?}");
    }
    assert_eq!(stats.tasks_created, 3, "{stats:?}");
}

#[tokio::test]
async fn a_batch_over_the_in_progress_limit_waits_for_the_run_s_earlier_invalidation() {
    // 3,005 paths on one distribution: the first invalidation takes the 3,000 paths that
    // may be in progress, the second waits until it completes, and CloudFront never has
    // to say TooManyInvalidationsInProgress.
    let emu = emulator(&["--task-duration", "300ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..3005)
        .map(|i| format!("https://example.com/f-{i}.js"))
        .collect();
    let file = common::url_file(dir.path(), &list);
    let out = run(&emu, &cloudfront(&["-r", &file]), CREDS).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(count(&out, "refresh", "complete"), 3005);
    assert_eq!(out.report()["tasks"].as_array().unwrap().len(), 2);
    let stats = emu.stats().await;
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    assert_eq!(stats.total_accepted(Operation::Refresh), 3005);
}

#[tokio::test]
async fn without_waiting_the_provider_paces_what_does_not_fit() {
    // --wait false: no status check sees the first invalidation end, so the second batch
    // is sent, refused with TooManyInvalidationsInProgress, and sent again later until it is
    // accepted, within --timeout.
    let emu = emulator(&["--task-duration", "2s"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..3002)
        .map(|i| format!("https://example.com/w-{i}.js"))
        .collect();
    let file = common::url_file(dir.path(), &list);
    let out = run(
        &emu,
        &cloudfront(&["-r", &file, "--wait", "false", "--timeout", "2m"]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(count(&out, "refresh", "submitted"), 3002);
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 3002);
    assert!(
        stats
            .errors
            .get("cloudfront:TooManyInvalidationsInProgress")
            .copied()
            .unwrap_or(0)
            > 0,
        "{:?}",
        stats.errors
    );
}

#[tokio::test]
async fn too_many_in_progress_is_waited_out_not_failed() {
    // The account allows fewer paths in progress than CloudFront's documented 3,000 (4
    // here): the provider's TooManyInvalidationsInProgress makes the second batch wait for
    // the first invalidation, then it goes through.
    let emu = emulator(&[
        "--task-duration",
        "300ms",
        "--cloudfront-max-paths-in-progress",
        "4",
    ])
    .await;
    let list: Vec<String> = (0..8)
        .map(|i| format!("https://example.com/f-{i}.js"))
        .collect();
    let joined = list.join("\n");
    let out = run(
        &emu,
        &cloudfront(&["--urls", &joined, "--batch-size", "4"]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 8, "{}", out.all());
    let stats = emu.stats().await;
    assert!(
        stats
            .errors
            .get("cloudfront:TooManyInvalidationsInProgress")
            .copied()
            .unwrap_or(0)
            > 0,
        "{stats:?}"
    );
    assert_eq!(stats.total_accepted(Operation::Refresh), 8);
}

#[tokio::test]
async fn invalidations_in_progress_before_the_run_are_counted() {
    // A first run leaves 3,000 paths in progress (it does not wait); the second reads them
    // at its start and its batch does not fit within its --timeout: rejected, named, and
    // never sent.
    let emu = emulator(&["--task-duration", "10m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..3000)
        .map(|i| format!("https://example.com/f-{i}.js"))
        .collect();
    let file = common::url_file(dir.path(), &list);
    let first = run(&emu, &cloudfront(&["-r", &file, "--wait", "false"]), CREDS).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/late.js", "--timeout", "2s"]),
        CREDS,
    )
    .await;
    assert!(
        second
            .stderr
            .contains("3000 paths and 0 wildcards in progress before this run"),
        "{}",
        second.stderr
    );
    assert_eq!(count(&second, "refresh", "rejected"), 1, "{}", second.all());
    let reason = second.report()["urls"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("in-progress limit"), "{reason}");
    let stats = emu.stats().await;
    assert_eq!(
        stats.accepted.refresh.get("https://example.com/late.js"),
        None
    );
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let emu = emulator(&[]).await;
    let prefetch_only = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/a", "-t", "prefetch"]),
        CREDS,
    )
    .await;
    assert_eq!(prefetch_only.code, 2, "{}", prefetch_only.all());
    assert!(
        prefetch_only.stderr.contains("no prefetch API"),
        "{}",
        prefetch_only.stderr
    );
    let bad_id = run(
        &emu,
        &[
            "run",
            "--provider",
            "cloudfront",
            "--distribution-id",
            "E1;rm",
            "--urls",
            "https://example.com/a",
        ],
        CREDS,
    )
    .await;
    assert_eq!(bad_id.code, 2, "{}", bad_id.all());
    assert!(
        bad_id.stderr.contains("letters and digits"),
        "{}",
        bad_id.stderr
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn a_site_without_a_distribution_is_refused_alone() {
    // www.example.com is not in the ids given: found by its alias; other.example.org is
    // neither given nor any distribution's alias: refused alone, with the fix.
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let out = run(
        &emu,
        &[
            "run",
            "--provider",
            "cloudfront",
            "--distribution-id",
            "example.com=EEXAMPLECOM",
            "--urls",
            "https://example.com/a.js\nhttps://www.example.com/b.js\nhttps://other.example.org/c.js",
        ],
        CREDS,
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 2, "{}", out.all());
    assert_eq!(
        out.report()["hosts_refused"][0]["host"],
        "other.example.org"
    );
    assert!(
        out.stderr.contains("other.example.org=ID"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn temporary_credentials_need_their_session_token_and_secrets_are_never_shown() {
    let emu = emulator(&[
        "--cloudfront-key",
        "ASIATEMP:temp-secret-51f:session-token-9a",
        "--task-duration",
        "100ms",
    ])
    .await;
    let creds = [
        ("AWS_ACCESS_KEY_ID", "ASIATEMP"),
        ("AWS_SECRET_ACCESS_KEY", "temp-secret-51f"),
    ];
    let without = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/a.js"]),
        &creds,
    )
    .await;
    assert_eq!(without.code, 3, "{}", without.all());
    assert!(
        without.stderr.contains("AWS_SESSION_TOKEN"),
        "{}",
        without.stderr
    );
    assert!(!without.all().contains("temp-secret-51f"));
    let with = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/a.js"]),
        &[
            creds[0],
            creds[1],
            ("AWS_SESSION_TOKEN", "session-token-9a"),
        ],
    )
    .await;
    assert_eq!(with.code, 0, "{}", with.all());
    assert!(!with.all().contains("session-token-9a"));
    assert!(!with.all().contains("temp-secret-51f"));
}

#[tokio::test]
async fn a_wrong_secret_is_a_signature_mismatch_that_names_the_variable() {
    let emu = emulator(&[]).await;
    let wrong = "not-the-secret-0c7";
    let out = run(
        &emu,
        &cloudfront(&["--urls", "https://example.com/a.js"]),
        &[CREDS[0], ("AWS_SECRET_ACCESS_KEY", wrong)],
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("SignatureDoesNotMatch"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(wrong));
    let stats = emu.stats().await;
    assert_eq!(
        stats.errors.get("cloudfront:SignatureDoesNotMatch"),
        Some(&1)
    );
    assert_eq!(stats.total_accepted(Operation::Refresh), 0);
}

#[tokio::test]
async fn plan_shows_the_billable_paths_and_sends_nothing() {
    let emu = emulator(&[]).await;
    let out = run(
        &emu,
        &[
            "plan",
            "--provider",
            "cloudfront",
            "--distribution-id",
            "E1",
            "--urls",
            "https://example.com/a.js\nhttps://example.com/b.js",
            "-t",
            "both",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("billable paths: 2"), "{}", out.stdout);
    assert!(
        out.stdout.contains("reported unsupported"),
        "{}",
        out.stdout
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn max_paths_collapses_the_least_valuable_paths_into_a_wildcard() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let urls = [
        "https://example.com/img/1.png",
        "https://example.com/img/2.png",
        "https://example.com/img/3.png",
        "https://example.com/js/app.js",
        "https://example.com/index.html",
    ]
    .join("\n");
    let out = run(
        &emu,
        &cloudfront(&["--urls", &urls, "--max-paths", "3"]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = out.report();
    assert_eq!(
        report["collapses"][0]["directory"],
        "https://example.com/img/"
    );
    assert_eq!(report["collapses"][0]["urls"].as_array().unwrap().len(), 3);
    assert_eq!(count(&out, "refresh", "complete"), 3, "{}", out.all());
    let stats = emu.stats().await;
    // Three paths billed: /img/*, /js/app.js, /index.html.
    assert_eq!(stats.total_accepted(Operation::Refresh), 3, "{stats:?}");
    assert_eq!(
        stats.accepted.refresh.get("https://example.com/img/"),
        Some(&1)
    );
    // A cap that cannot be met is refused before anything is sent.
    let too_few = run(
        &emu,
        &cloudfront(&[
            "--urls",
            "https://example.com/a.js\nhttps://www.example.com/b.js",
            "--max-paths",
            "1",
        ]),
        CREDS,
    )
    .await;
    assert_eq!(too_few.code, 2, "{}", too_few.all());
    assert!(too_few.stderr.contains("--max-paths"), "{}", too_few.stderr);
    assert_eq!(emu.stats().await.total_accepted(Operation::Refresh), 3);
}

#[tokio::test]
async fn without_an_id_each_site_s_distribution_is_found_by_its_alias_once() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let urls = "https://example.com/a.js\nhttps://www.example.com/b.js\nhttps://static.example.com/c.js\nhttps://nowhere.example.org/d.js";
    let out = run(
        &emu,
        &["run", "--provider", "cloudfront", "--urls", urls],
        CREDS,
    )
    .await;
    // The site no distribution has as an alias is refused alone, named, with the fix.
    assert_eq!(out.code, 3, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 3, "{}", out.all());
    assert_eq!(
        out.report()["hosts_refused"][0]["host"],
        "nowhere.example.org"
    );
    assert!(
        out.stderr.contains("alternate domain name"),
        "{}",
        out.stderr
    );
    let tasks: Vec<&str> = out.report()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in ["EEXAMPLECOM/", "EWWWEXAMPLECOM/", "ESTATICEXAMPLECOM/"] {
        assert!(tasks.iter().any(|t| t.starts_with(id)), "{id}: {tasks:?}");
    }
    let stats = emu.stats().await;
    // Read once for the run, then kept.
    assert_eq!(
        stats.requests.get("cloudfront:ListDistributions"),
        Some(&1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_resumed_run_matches_its_tasks_paths_to_urls_with_one_distribution_id() {
    // `--distribution-id ID` without a host, the usual setup: the invalidations of an
    // earlier run list paths only, and every site of the distribution is invalidated by
    // them, so a resumed run matches them by path and sends nothing again.
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let urls =
        "https://example.com/a.js\nhttps://example.com/b/\nhttps://example.com/caf\u{e9}.html";
    let one = |rest: &[&'static str]| {
        let mut args = vec![
            "run",
            "--provider",
            "cloudfront",
            "--distribution-id",
            "EEXAMPLECOM",
        ];
        args.extend_from_slice(rest);
        args
    };
    let submitted = run(&emu, &one(&["--urls", urls, "--wait", "false"]), CREDS).await;
    assert_eq!(submitted.code, 0, "{}", submitted.all());
    assert_eq!(
        count(&submitted, "refresh", "submitted"),
        3,
        "{}",
        submitted.all()
    );
    let first = submitted.dir.path().join("report.json");
    let first = first.to_string_lossy().into_owned();
    let again = run(
        &emu,
        &[one(&["--urls", urls]), vec!["--resume", &first]].concat(),
        CREDS,
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(count(&again, "refresh", "complete"), 3, "{}", again.all());
    let stats = emu.stats().await;
    assert_eq!(stats.accepted.refresh.values().sum::<u64>(), 3, "{stats:?}");
}
