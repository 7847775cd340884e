//! One conformance suite, run for every provider: the binary against the emulator, the same
//! cases and the same promises (every URL in the report, each accepted exactly once, exit
//! codes, secrets never shown). A provider differs only in its [`Target`]: one row of
//! `conformance!` at the end, which runs every case for it.

mod common;

use cdn_refresh::providers::{Operation, ProviderKind};
use common::{emulator, run, url_file, urls};

struct Target {
    /// The provider's name (`--provider`), its row's name.
    provider: &'static str,
    /// Credentials the emulator accepts by default, as the environment gives them.
    credentials: &'static [(&'static str, &'static str)],
    /// The variable holding the secret, which errors must name.
    secret_var: &'static str,
    /// The emulator flag of the daily URL refresh quota; `None` where the provider has no
    /// daily quota (CloudFront bills per path instead).
    url_quota_flag: Option<&'static str>,
    /// Whether the provider can prefetch; where not (CloudFront), every prefetch URL of a
    /// `-t both` run is reported `unsupported` and nothing is sent for it.
    prefetches: bool,
    /// Whether a task can end failed (CloudFront's invalidations cannot: only the edge
    /// shows a path that was not evicted).
    reports_failures: bool,
    /// Whether a run that the quota cannot cover sends what fits: not where the quota is
    /// read before the run (Alibaba Cloud, nothing is sent), yes where only the answers
    /// tell it (Qiniu: the first batch, then what still fits).
    sends_what_fits: bool,
    /// Emulator flags that give the daily quotas room for these cases.
    roomy_quotas: &'static [&'static str],
}

impl Target {
    fn emulator_flags<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut flags = self.roomy_quotas.to_vec();
        flags.extend_from_slice(rest);
        flags
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run", "--provider", self.provider];
        args.extend_from_slice(rest);
        args
    }

    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = self.credentials.to_vec();
        env.extend_from_slice(extra);
        env
    }
}

/// The prefetch URLs of a `-t both` run of `n` URLs: all `complete`, or all `unsupported`
/// where the provider cannot prefetch, and in that case none sent.
fn prefetch_done(
    t: &Target,
    out: &common::Output,
    stats: &cdn_refresh::emulator::Stats,
    list: &[String],
) {
    if t.prefetches {
        assert_eq!(
            count(out, "prefetch", "complete"),
            list.len(),
            "{}",
            out.all()
        );
        accepted_once(stats, Operation::Prefetch, list);
    } else {
        assert_eq!(
            count(out, "prefetch", "unsupported"),
            list.len(),
            "{}",
            out.all()
        );
        assert!(stats.accepted.prefetch.is_empty(), "{stats:?}");
    }
}

fn count(out: &common::Output, operation: &str, status: &str) -> usize {
    out.statuses()
        .iter()
        .filter(|(_, op, s)| op == operation && s == status)
        .count()
}

/// Every URL of `list` accepted exactly once for `operation`.
fn accepted_once(stats: &cdn_refresh::emulator::Stats, operation: Operation, list: &[String]) {
    let accepted = match operation {
        Operation::Refresh => &stats.accepted.refresh,
        Operation::Prefetch => &stats.accepted.prefetch,
    };
    for u in list {
        assert_eq!(
            accepted.get(u).copied().unwrap_or(0),
            1,
            "{operation} of {u}: {accepted:?}"
        );
    }
}

async fn success(t: &Target) {
    let emu = emulator(&t.emulator_flags(&["--task-duration", "200ms"])).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(130);
    let file = url_file(dir.path(), &list);
    let out = run(&emu, &t.args(&["-r", &file, "-t", "both"]), &t.env(&[])).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 130);
    assert_eq!(out.report()["provider"], t.provider);
    assert_eq!(out.report()["status"], "success");
    let stats = emu.stats().await;
    accepted_once(&stats, Operation::Refresh, &list);
    prefetch_done(t, &out, &stats, &list);
    assert!(stats.prefetched_early.is_empty(), "{stats:?}");
}

/// `-t both` is a pipeline: a URL's prefetch goes out once its own refresh task completed,
/// while later refresh batches are still being sent, and never before.
async fn both_pipelined(t: &Target) {
    if !t.prefetches {
        return;
    }
    let emu = emulator(&t.emulator_flags(&["--task-duration", "100ms"])).await;
    let list: Vec<String> = (0..4)
        .map(|i| format!("https://www.example.com/p-{i}.js"))
        .collect();
    let joined = list.join("\n");
    // One URL a batch, one batch at a time, two submits a second: the first refresh task
    // ends long before the last refresh batch may go.
    let args = [
        "--urls",
        &joined,
        "-t",
        "both",
        "--batch-size",
        "1",
        "--concurrency",
        "1",
        "--qps",
        "2",
    ];
    let out = run(&emu, &t.args(&args), &t.env(&[])).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 4, "{}", out.all());
    assert_eq!(count(&out, "prefetch", "complete"), 4, "{}", out.all());
    let stats = emu.stats().await;
    assert!(stats.prefetched_early.is_empty(), "{stats:?}");
    assert!(
        stats.refreshed_after_prefetch > 0,
        "no refresh went out after the first prefetch: {}",
        out.all()
    );
    accepted_once(&stats, Operation::Refresh, &list);
    accepted_once(&stats, Operation::Prefetch, &list);
}

async fn faults(t: &Target) {
    for kind in ["throttle", "error", "drop", "garbage"] {
        let fault = format!("{kind}=1/3");
        let emu =
            emulator(&t.emulator_flags(&["--task-duration", "100ms", "--fault", &fault])).await;
        let dir = tempfile::tempdir().unwrap();
        let list = urls(130);
        let file = url_file(dir.path(), &list);
        let out = run(&emu, &t.args(&["-r", &file, "-t", "both"]), &t.env(&[])).await;
        assert_eq!(out.code, 0, "{kind}: {}", out.all());
        assert_eq!(count(&out, "refresh", "complete"), 130, "{kind}");
        assert!(
            out.report()["calls"]["retries"].as_u64().unwrap() > 0,
            "{kind}: faults were retried"
        );
        let stats = emu.stats().await;
        assert!(stats.faults.get(kind).copied().unwrap_or(0) > 0, "{kind}");
        // A retried batch is never accepted twice, and none is lost.
        accepted_once(&stats, Operation::Refresh, &list);
        prefetch_done(t, &out, &stats, &list);
        assert!(stats.prefetched_early.is_empty(), "{kind}: {stats:?}");
    }
}

async fn quota_shortfall(t: &Target) {
    let Some(flag) = t.url_quota_flag else {
        return;
    };
    let emu = emulator(&[flag, "100", "--task-duration", "100ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(150);
    let out = run(
        &emu,
        &t.args(&["-r", &url_file(dir.path(), &list)]),
        &t.env(&[]),
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    // Every URL is in the report: what went out completed, the rest says why not.
    assert_eq!(out.statuses().len(), 150);
    let complete = count(&out, "refresh", "complete");
    if t.sends_what_fits {
        assert!((60..=100).contains(&complete), "{}", out.all());
    } else {
        assert_eq!(complete, 0, "{}", out.all());
    }
    assert_eq!(count(&out, "refresh", "rejected"), 150 - complete);
    assert_eq!(out.report()["stopped"]["code"], "QuotaShortfall");
    for u in out.report()["urls"].as_array().unwrap() {
        if u["status"] == "rejected" {
            let reason = u["reason"].as_str().unwrap();
            assert!(reason.contains("quota"), "{reason}");
        }
    }
    // Nothing beyond what fits was sent: the emulator accepted exactly what completed.
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh) as usize, complete);
}

async fn bad_credentials(t: &Target) {
    let emu = emulator(&[]).await;
    let wrong = "wrong-secret-3f9a2c";
    let out = run(
        &emu,
        &t.args(&["--urls", "https://example.com/a.js"]),
        &t.env(&[
            (t.secret_var, wrong),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong),
        ]),
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    // The fix names the variable (on stderr, or in the summary's `fix:` line).
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(shown.contains(t.secret_var), "{shown}");
    assert!(
        !out.all().contains(wrong),
        "the secret leaked:\n{}",
        out.all()
    );
    assert_eq!(emu.stats().await.total_accepted(Operation::Refresh), 0);
}

async fn invalid_input(t: &Target) {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(
        dir.path(),
        &[
            "https://example.com/ok.js".into(),
            "not a url".into(),
            "ftp://example.com/x".into(),
        ],
    );
    let out = run(&emu, &t.args(&["-r", &file]), &t.env(&[])).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
    assert_eq!(emu.stats().await.total_requests(), 0);
}

async fn timeout(t: &Target) {
    let emu = emulator(&["--task-duration", "10m"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let out = run(
        &emu,
        &t.args(&["-r", &file, "--timeout", "1s", "--fail-on", "pending"]),
        &t.env(&[]),
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert_eq!(count(&out, "refresh", "pending"), 3);
    assert_eq!(out.report()["counts"]["pending"], 3);
}

async fn task_both_ordering(t: &Target) {
    if !(t.prefetches && t.reports_failures) {
        return;
    }
    // The refresh of one URL fails: that URL is not prefetched; the others are, after
    // their refresh completed.
    let emu =
        emulator(&t.emulator_flags(&["--task-duration", "200ms", "--fail-matching", "broken"]))
            .await;
    let list = "https://example.com/ok.js\nhttps://example.com/broken.js";
    let out = run(&emu, &t.args(&["--urls", list, "-t", "both"]), &t.env(&[])).await;
    assert_eq!(out.code, 1, "{}", out.all());
    let statuses = out.statuses();
    let status = |url: &str, op: &str| {
        statuses
            .iter()
            .find(|(u, o, _)| u == url && o == op)
            .map(|(_, _, s)| s.clone())
            .unwrap()
    };
    assert_eq!(status("https://example.com/broken.js", "refresh"), "failed");
    assert_eq!(
        status("https://example.com/broken.js", "prefetch"),
        "rejected"
    );
    assert_eq!(status("https://example.com/ok.js", "refresh"), "complete");
    assert_eq!(status("https://example.com/ok.js", "prefetch"), "complete");
    let stats = emu.stats().await;
    assert_eq!(
        stats
            .accepted
            .prefetch
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["https://example.com/ok.js"]
    );
}

/// A run's wall time must stay within its `--timeout`, the grace calls in flight get, and
/// this much for start-up and writing the report on a loaded machine.
const SLACK: std::time::Duration = std::time::Duration::from_secs(10);

/// Elapsed time of a run that must end within `timeout` (plus the grace and the slack).
fn within(started: std::time::Instant, timeout_secs: u64) -> bool {
    started.elapsed()
        <= std::time::Duration::from_secs(timeout_secs) + cdn_refresh::http::bounds::GRACE + SLACK
}

async fn lost_answers(t: &Target) {
    // Every third request is served and its answer lost: each submit whose answer was lost
    // is looked up (or recognised, Qiniu's 400037) and adopted, never accepted twice.
    let emu =
        emulator(&t.emulator_flags(&["--task-duration", "200ms", "--fault", "lose-answer=1/3"]))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(12);
    let file = url_file(dir.path(), &list);
    let out = run(
        &emu,
        &t.args(&["-r", &file, "-t", "both", "--batch-size", "5"]),
        &t.env(&[]),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(count(&out, "refresh", "complete"), 12, "{}", out.all());
    let stats = emu.stats().await;
    assert!(
        stats.faults.get("lose-answer").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    accepted_once(&stats, Operation::Refresh, &list);
    prefetch_done(t, &out, &stats, &list);
    if t.url_quota_flag.is_none() {
        return;
    }
    // The task of every accepted batch is in the report, so the quota it used is known.
    let tasks = out.report()["tasks"].as_array().unwrap().len() as u64;
    assert!(tasks >= stats.tasks_created.min(1), "{}", out.all());
    let after = &out.report()["quota_after"]["entries"];
    let url_quota = after
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "refresh-url")
        .expect("refresh-url quota");
    assert_eq!(
        url_quota["limit"].as_u64().unwrap() - url_quota["remaining"].as_u64().unwrap(),
        12,
        "quota_after counts each URL once: {}",
        out.all()
    );
}

async fn endless_body(t: &Target) {
    // Half the answers trickle forever: --timeout still ends the run, with a report that
    // lists every URL.
    let emu =
        emulator(&t.emulator_flags(&["--task-duration", "200ms", "--fault", "trickle=1/2"])).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(6);
    let file = url_file(dir.path(), &list);
    let started = std::time::Instant::now();
    let out = run(
        &emu,
        &t.args(&["-r", &file, "-t", "both", "--timeout", "3s"]),
        &t.env(&[]),
    )
    .await;
    assert!(within(started, 3), "{:?}: {}", started.elapsed(), out.all());
    assert_eq!(out.statuses().len(), 12, "{}", out.all());
    let stats = emu.stats().await;
    assert!(
        stats.faults.get("trickle").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    for op in [Operation::Refresh, Operation::Prefetch] {
        let accepted = match op {
            Operation::Refresh => &stats.accepted.refresh,
            Operation::Prefetch => &stats.accepted.prefetch,
        };
        assert!(accepted.values().all(|n| *n == 1), "{op}: {accepted:?}");
    }
}

async fn huge_answer(t: &Target) {
    // An answer far over 16 MiB is refused at once, not read and not asked for again.
    let emu = emulator(&t.emulator_flags(&["--fault", "huge=1/1"])).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let out = run(&emu, &t.args(&["-r", &file]), &t.env(&[])).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("MiB"), "{}", out.stderr);
    assert_eq!(out.statuses().len(), 3, "{}", out.all());
    assert_eq!(emu.stats().await.faults.get("huge"), Some(&1));
}

async fn redirect_not_followed(t: &Target) {
    // A 307 to another port is an error naming the endpoint: the signed request never goes
    // there.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let port = elsewhere.local_addr().unwrap().port().to_string();
    let emu =
        emulator(&t.emulator_flags(&["--fault", "redirect=1/1", "--redirect-port", &port])).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let out = run(&emu, &t.args(&["-r", &file]), &t.env(&[])).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("307"), "{}", out.stderr);
    assert!(out.stderr.contains("redirect"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&emu.url()),
        "names the endpoint: {}",
        out.stderr
    );
    assert_eq!(
        emu.stats().await.faults.get("redirect"),
        Some(&1),
        "not retried"
    );
    match elsewhere.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the redirect was followed: {other:?}"),
    }
}

async fn endless_pages(t: &Target) {
    // Listing answers that always claim more pages: paging stops at what a task can hold,
    // and --timeout ends the wait.
    let emu =
        emulator(&t.emulator_flags(&["--task-duration", "200ms", "--fault", "endless-pages=1/1"]))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let started = std::time::Instant::now();
    let out = run(
        &emu,
        &t.args(&["-r", &file, "--timeout", "3s"]),
        &t.env(&[]),
    )
    .await;
    assert!(within(started, 3), "{:?}: {}", started.elapsed(), out.all());
    assert_eq!(out.statuses().len(), 3, "{}", out.all());
    let requests = emu.stats().await.total_requests();
    assert!(requests < 500, "{requests} requests");
}

async fn interrupt_then_resume(t: &Target) {
    // SIGTERM in the middle: the accepted URLs are in the report with their tasks, the rest
    // `rejected` (interrupted), groups closed, outputs written, exit 143. `--resume` then
    // waits for those tasks and sends only the rest: each URL accepted once over both runs.
    let emu =
        emulator(&t.emulator_flags(&["--latency", "100ms", "--task-duration", "300ms"])).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(40);
    let file = url_file(dir.path(), &list);
    let output = dir.path().join("github_output");
    let output_str = output.to_string_lossy().into_owned();
    let env = t.env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_OUTPUT", &output_str)]);
    let args = t.args(&["-r", &file, "--batch-size", "2", "--concurrency", "1"]);
    let run1 = common::start(&emu, &args, &env);
    // Signal once some batches are accepted: the stats show it (bounded: 30 s).
    let mut accepted = 0;
    for _ in 0..1500 {
        accepted = emu.stats().await.accepted.refresh.len();
        if accepted >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(accepted >= 6, "no batch was accepted");
    run1.signal("TERM");
    let out = run1.finish().await;
    assert_eq!(out.code, 143, "{}", out.all());
    let stats = emu.stats().await;
    let statuses = out.statuses();
    assert_eq!(
        statuses.len(),
        40,
        "every URL is in the report: {}",
        out.all()
    );
    let urls = out.report()["urls"].as_array().unwrap();
    for u in urls {
        let url = u["url"].as_str().unwrap();
        if stats.accepted.refresh.contains_key(url) {
            assert!(u["task_id"].is_string(), "{u}");
            assert!(
                u["status"] == "submitted" || u["status"] == "complete",
                "{u}"
            );
        } else {
            assert_eq!(u["status"], "rejected", "{u}");
            assert!(
                u["reason"].as_str().unwrap().starts_with("interrupted"),
                "{u}"
            );
        }
    }
    assert!(
        urls.iter().any(|u| u["status"] == "rejected"),
        "interrupted too late"
    );
    assert_eq!(out.report()["stopped"]["code"], "Interrupted");
    assert_eq!(
        out.stdout.matches("::group::").count(),
        out.stdout.matches("::endgroup::").count(),
        "{}",
        out.stdout
    );
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("status<<")
    );

    let first = out.dir.path().join("report.json");
    let first = first.to_string_lossy().into_owned();
    let mut resume = args.clone();
    resume.extend(["--resume", first.as_str()]);
    let again = run(&emu, &resume, &t.env(&[])).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(count(&again, "refresh", "complete"), 40, "{}", again.all());
    accepted_once(&emu.stats().await, Operation::Refresh, &list);
}

async fn resume_refuses_another_run(t: &Target) {
    let emu = emulator(&t.emulator_flags(&["--task-duration", "100ms"])).await;
    let dir = tempfile::tempdir().unwrap();
    let file = url_file(dir.path(), &urls(3));
    let out = run(&emu, &t.args(&["-r", &file]), &t.env(&[])).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = out.dir.path().join("report.json");
    let report = report.to_string_lossy().into_owned();
    let before = emu.stats().await.total_requests();
    let other = url_file(out.dir.path(), &urls(4));
    let again = run(
        &emu,
        &t.args(&["-r", &other, "--resume", &report]),
        &t.env(&[]),
    )
    .await;
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(again.stderr.contains("--resume"), "{}", again.stderr);
    assert!(
        again.stderr.contains("not in the report"),
        "{}",
        again.stderr
    );
    assert_eq!(
        emu.stats().await.total_requests(),
        before,
        "nothing was sent"
    );
}

/// A host the account does not have is refused alone: the other hosts' URLs of the same
/// batches are refreshed and prefetched exactly once, the foreign host's URLs are rejected
/// with its name, later batches do not send it again, and the exit code is 3.
async fn foreign_host_alone(t: &Target) {
    let emu = emulator(&t.emulator_flags(&["--task-duration", "100ms"])).await;
    let dir = tempfile::tempdir().unwrap();
    let mut list = urls(120);
    let foreign: Vec<String> = (0..5)
        .map(|i| format!("https://not-mine.example.org/f-{i}.js"))
        .collect();
    // Spread over the list, so that several batches carry the foreign host.
    for (i, u) in foreign.iter().enumerate() {
        list.insert(i * 25, u.clone());
    }
    let out = run(
        &emu,
        &t.args(&[
            "-r",
            &url_file(dir.path(), &list),
            "-t",
            "both",
            "--batch-size",
            "40",
        ]),
        &t.env(&[]),
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.all());
    let report = out.report();
    assert!(report.get("stopped").is_none(), "{report}");
    assert_eq!(report["hosts_refused"][0]["host"], "not-mine.example.org");
    assert_eq!(report["hosts_refused"].as_array().unwrap().len(), 1);
    assert_eq!(count(&out, "refresh", "complete"), 120, "{}", out.all());
    for (url, op, status) in out.statuses() {
        if url.contains("not-mine") && (op == "refresh" || t.prefetches) {
            assert_eq!(status, "rejected", "{url}");
        }
    }
    assert!(
        out.stderr
            .contains("error: the provider refused not-mine.example.org")
            && out.stderr.contains("5 URLs not sent"),
        "{}",
        out.all()
    );
    let stats = emu.stats().await;
    let good: Vec<String> = list
        .into_iter()
        .filter(|u| !u.contains("not-mine"))
        .collect();
    accepted_once(&stats, Operation::Refresh, &good);
    if t.prefetches {
        accepted_once(&stats, Operation::Prefetch, &good);
        assert_eq!(count(&out, "prefetch", "complete"), 120, "{}", out.all());
    }
    // 3 refresh batches of 40 (+5 foreign): each finding costs at most 2 requests per
    // host of its batch, and once refused the host is left out of the later batches.
    let submits = report["calls"]["submit"].as_u64().unwrap();
    assert!(submits <= 3 + 2 * 3 + 3, "{submits} submits: {}", out.all());
}

/// One row per provider: its name, then the rest of its [`Target`]. Each row is a module
/// of its own with every case as a test (`conformance aliyun::success`).
macro_rules! conformance {
    ($($provider:ident { $($field:ident: $value:expr),* $(,)? })*) => {
        /// The providers with a row.
        const ROWS: &[&str] = &[$(stringify!($provider)),*];
        $(mod $provider {
            use super::Target;

            const TARGET: Target = Target {
                provider: stringify!($provider),
                $($field: $value),*
            };

            #[tokio::test]
            async fn success() { super::success(&TARGET).await }
            #[tokio::test]
            async fn both_pipelined() { super::both_pipelined(&TARGET).await }
            #[tokio::test]
            async fn faults() { super::faults(&TARGET).await }
            #[tokio::test]
            async fn quota_shortfall() { super::quota_shortfall(&TARGET).await }
            #[tokio::test]
            async fn bad_credentials() { super::bad_credentials(&TARGET).await }
            #[tokio::test]
            async fn invalid_input() { super::invalid_input(&TARGET).await }
            #[tokio::test]
            async fn timeout() { super::timeout(&TARGET).await }
            #[tokio::test]
            async fn task_both_ordering() { super::task_both_ordering(&TARGET).await }
            #[tokio::test]
            async fn lost_answers() { super::lost_answers(&TARGET).await }
            #[tokio::test]
            async fn endless_body() { super::endless_body(&TARGET).await }
            #[tokio::test]
            async fn huge_answer() { super::huge_answer(&TARGET).await }
            #[tokio::test]
            async fn redirect_not_followed() { super::redirect_not_followed(&TARGET).await }
            #[tokio::test]
            async fn endless_pages() { super::endless_pages(&TARGET).await }
            #[tokio::test]
            async fn interrupt_then_resume() { super::interrupt_then_resume(&TARGET).await }
            #[tokio::test]
            async fn foreign_host_alone() { super::foreign_host_alone(&TARGET).await }
            #[tokio::test]
            async fn resume_refuses_another_run() { super::resume_refuses_another_run(&TARGET).await }
        })*
    };
}

#[test]
fn every_provider_has_a_row() {
    let providers: Vec<&str> = ProviderKind::all().map(ProviderKind::name).collect();
    assert_eq!(ROWS, providers);
}

conformance! {
    aliyun {
        credentials: &[],
        secret_var: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        url_quota_flag: Some("--url-quota"),
        prefetches: true,
        reports_failures: true,
        sends_what_fits: false,
        roomy_quotas: &[],
    }
    qiniu {
        credentials: &[
            ("QINIU_ACCESS_KEY", "testak"),
            ("QINIU_SECRET_KEY", "testsk"),
        ],
        secret_var: "QINIU_SECRET_KEY",
        url_quota_flag: Some("--qiniu-url-quota"),
        prefetches: true,
        reports_failures: true,
        sends_what_fits: true,
        roomy_quotas: &[
            "--qiniu-url-quota",
            "5000",
            "--qiniu-prefetch-quota",
            "5000",
        ],
    }
    huawei {
        credentials: &[
            ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
            ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
        ],
        secret_var: "HUAWEICLOUD_SDK_SK",
        url_quota_flag: Some("--huawei-file-refresh-quota"),
        prefetches: true,
        reports_failures: true,
        sends_what_fits: false,
        roomy_quotas: &[],
    }
    cloudfront {
        credentials: &[
            ("AWS_ACCESS_KEY_ID", "AKIDCDNREFRESHTEST"),
            ("AWS_SECRET_ACCESS_KEY", "cloudfront-test-secret"),
            (
                "CDN_REFRESH_DISTRIBUTION_ID",
                "example.com=EEXAMPLECOM,www.example.com=EWWWEXAMPLECOM,static.example.com=ESTATICEXAMPLECOM",
            ),
        ],
        secret_var: "AWS_SECRET_ACCESS_KEY",
        url_quota_flag: None,
        prefetches: false,
        reports_failures: false,
        sends_what_fits: false,
        roomy_quotas: &[],
    }
}
