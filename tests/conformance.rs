//! One conformance suite, run for every provider: the binary against the emulator, the same
//! cases and the same promises (every URL in the report, each accepted exactly once, exit
//! codes, secrets never shown). A provider differs only in its [`Target`].

mod common;

use cdn_refresh::providers::Operation;
use common::{emulator, run, url_file, urls};

struct Target {
    provider: &'static str,
    /// Credentials the emulator accepts by default, as the environment gives them.
    credentials: &'static [(&'static str, &'static str)],
    /// The variable holding the secret, which errors must name.
    secret_var: &'static str,
    /// The emulator flag of the daily URL refresh quota.
    url_quota_flag: &'static str,
    /// Whether a run that the quota cannot cover sends what fits: not where the quota is
    /// read before the run (Alibaba Cloud, nothing is sent), yes where only the answers
    /// tell it (Qiniu: the first batch, then what still fits).
    sends_what_fits: bool,
    /// Emulator flags that give the daily quotas room for these cases.
    roomy_quotas: &'static [&'static str],
}

const ALIYUN: Target = Target {
    provider: "aliyun",
    credentials: &[],
    secret_var: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    url_quota_flag: "--url-quota",
    sends_what_fits: false,
    roomy_quotas: &[],
};

const QINIU: Target = Target {
    provider: "qiniu",
    credentials: &[
        ("QINIU_ACCESS_KEY", "testak"),
        ("QINIU_SECRET_KEY", "testsk"),
    ],
    secret_var: "QINIU_SECRET_KEY",
    url_quota_flag: "--qiniu-url-quota",
    sends_what_fits: true,
    roomy_quotas: &[
        "--qiniu-url-quota",
        "5000",
        "--qiniu-prefetch-quota",
        "5000",
    ],
};

const HUAWEI: Target = Target {
    provider: "huawei",
    credentials: &[
        ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
        ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
    ],
    secret_var: "HUAWEICLOUD_SDK_SK",
    url_quota_flag: "--huawei-file-refresh-quota",
    sends_what_fits: false,
    roomy_quotas: &[],
};

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
    assert_eq!(count(&out, "prefetch", "complete"), 130);
    assert_eq!(out.report()["provider"], t.provider);
    assert_eq!(out.report()["status"], "success");
    let stats = emu.stats().await;
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
        assert_eq!(count(&out, "prefetch", "complete"), 130, "{kind}");
        assert!(
            out.report()["calls"]["retries"].as_u64().unwrap() > 0,
            "{kind}: faults were retried"
        );
        let stats = emu.stats().await;
        assert!(stats.faults.get(kind).copied().unwrap_or(0) > 0, "{kind}");
        // A retried batch is never accepted twice, and none is lost.
        accepted_once(&stats, Operation::Refresh, &list);
        accepted_once(&stats, Operation::Prefetch, &list);
    }
}

async fn quota_shortfall(t: &Target) {
    let emu = emulator(&[t.url_quota_flag, "100", "--task-duration", "100ms"]).await;
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

macro_rules! conformance {
    ($($module:ident => $target:expr),* $(,)?) => {$(
        mod $module {
            #[tokio::test]
            async fn success() { super::success(&$target).await }
            #[tokio::test]
            async fn faults() { super::faults(&$target).await }
            #[tokio::test]
            async fn quota_shortfall() { super::quota_shortfall(&$target).await }
            #[tokio::test]
            async fn bad_credentials() { super::bad_credentials(&$target).await }
            #[tokio::test]
            async fn invalid_input() { super::invalid_input(&$target).await }
            #[tokio::test]
            async fn timeout() { super::timeout(&$target).await }
            #[tokio::test]
            async fn task_both_ordering() { super::task_both_ordering(&$target).await }
        }
    )*};
}

conformance! {
    aliyun => super::ALIYUN,
    qiniu => super::QINIU,
    huawei => super::HUAWEI,
}
