//! Several targets in one run (`targets:` in the config file), the binary against the
//! emulator, which serves every provider on one address: one plan split by sites, every
//! target run at once with its own credentials, one target's failure leaving the others
//! untouched, the worst exit code, and the report and outputs per target and overall.

mod common;

use cdn_refresh::providers::Operation;
use common::{emulator, run_configured, urls};
use serde_json::Value;

const QINIU: &[(&str, &str)] = &[
    ("MIRROR_AK", "testak"),
    ("MIRROR_SK", "testsk"),
    // The standard variables must not be what the target reads.
    ("QINIU_ACCESS_KEY", "wrong"),
    ("QINIU_SECRET_KEY", "wrong"),
];

/// A config file with an Alibaba Cloud target for `www.example.com` and `example.com` and
/// a Qiniu target for `static.example.com`, both on the emulator at `url`.
fn config(dir: &std::path::Path, url: &str, extra: &str) -> String {
    let path = dir.join("targets.yml");
    std::fs::write(
        &path,
        format!(
            "version: 1
task: both
targets:
  - name: main
    provider: aliyun
    endpoint: {url}
    sites: [www.example.com, example.com]
  - name: assets
    provider: qiniu
    endpoint: {url}
    sites: ['*.example.com']
    credentials:
      access_key_id: MIRROR_AK
      access_key_secret: MIRROR_SK
{extra}"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {report}"))
}

fn statuses(target: &Value, status: &str) -> usize {
    target["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["status"] == status)
        .count()
}

#[tokio::test]
async fn one_plan_feeds_every_target_by_its_sites() {
    let emu = emulator(&[
        "--task-duration",
        "100ms",
        "--qiniu-url-quota",
        "5000",
        "--qiniu-prefetch-quota",
        "5000",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let list = urls(90); // 30 per host: example.com, www.example.com, static.example.com
    let gh_output = dir.path().join("gh_output");
    let out = run_configured(
        &["run", "--config", &cfg, "--urls", &list.join("\n")],
        &[
            QINIU,
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_OUTPUT", gh_output.to_str().unwrap()),
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    // The secret of a variable the config names is masked in the log, like the standard ones.
    assert!(
        out.stdout.contains("::add-mask::testsk\n"),
        "{}",
        out.stdout
    );
    let report = out.report();
    assert_eq!(report["status"], "success");
    let main = target(report, "main");
    let assets = target(report, "assets");
    assert_eq!(
        (main["provider"].as_str(), assets["provider"].as_str()),
        (Some("aliyun"), Some("qiniu"))
    );
    // `*.example.com` covers www. and static., not the bare domain: www.example.com goes to
    // both targets, example.com to the Alibaba one only.
    assert_eq!(statuses(main, "complete"), 120, "{}", out.all());
    assert_eq!(statuses(assets, "complete"), 120, "{}", out.all());
    assert_eq!(report["counts"]["refreshed"], 120);
    let stats = emu.stats().await;
    for u in &list {
        let expected = if u.contains("://www.") { 2 } else { 1 };
        assert_eq!(
            stats.accepted.refresh.get(u).copied(),
            Some(expected),
            "{u}"
        );
    }
    assert_eq!(stats.total_accepted(Operation::Prefetch), 120);
    // Outputs: task ids name their target; `targets` holds each one's status.
    let outputs = std::fs::read_to_string(&gh_output).unwrap();
    let value = |name: &str| {
        let start = outputs.find(&format!("{name}<<")).unwrap();
        outputs[start..].lines().nth(1).unwrap().to_string()
    };
    let ids = value("task-ids");
    assert!(ids.split(',').any(|i| i.starts_with("main:")), "{ids}");
    assert!(ids.split(',').any(|i| i.starts_with("assets:")), "{ids}");
    let targets: Value = serde_json::from_str(&value("targets")).unwrap();
    assert_eq!(targets["assets"]["status"], "success");
    assert_eq!(targets["main"]["refreshed-count"], 60);
    // The task ids output feeds `status` as it is.
    let status = run_configured(&["status", "--config", &cfg, &ids], QINIU).await;
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(
        status.stdout.contains("target main (aliyun)"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("target assets (qiniu)"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_refused_target_does_not_stop_the_others_and_sets_the_exit_code() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let list = urls(30);
    let env = [("MIRROR_AK", "testak"), ("MIRROR_SK", "not-the-secret")];
    let out = run_configured(&["run", "--config", &cfg, "--urls", &list.join("\n")], &env).await;
    assert_eq!(
        out.code,
        3,
        "the provider refused one target: {}",
        out.all()
    );
    let report = out.report();
    assert_eq!(report["status"], "partial");
    let main = target(report, "main");
    let assets = target(report, "assets");
    assert_eq!(main["status"], "success");
    assert_eq!(statuses(main, "complete"), 40);
    assert_eq!(assets["status"], "failed");
    assert!(
        assets["stopped"]["hint"]
            .as_str()
            .unwrap()
            .contains("QINIU_SECRET_KEY")
            || assets["stopped"]["hint"]
                .as_str()
                .unwrap()
                .contains("access-key"),
        "{assets}"
    );
    // Every URL of the refused target is in the report, rejected with the reason.
    assert_eq!(statuses(assets, "rejected"), 40, "{assets}");
    assert!(!out.all().contains("not-the-secret"));
}

#[tokio::test]
async fn a_url_no_target_serves_stops_the_run_before_anything_is_sent() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let out = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--urls",
            "https://other.org/a.js\nhttps://www.example.com/b.js",
        ],
        QINIU,
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("https://other.org/a.js"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("add other.org to the `sites`"),
        "{}",
        out.stderr
    );
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 0);
}

#[tokio::test]
async fn a_missing_credential_of_any_target_stops_the_run_before_anything_is_sent() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let out = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--urls",
            "https://www.example.com/b.js",
        ],
        &[("MIRROR_AK", "testak")],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("MIRROR_SK: is not set"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("target `assets`"), "{}", out.stderr);
    assert_eq!(emu.stats().await.total_accepted(Operation::Refresh), 0);
}

#[tokio::test]
async fn target_selects_some_and_flags_fill_what_a_target_leaves_unset() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let out = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--target",
            "main",
            "--urls",
            "https://example.com/a.js",
            "--aliyun-signature",
            "v1",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = out.report();
    assert_eq!(report["targets"].as_array().unwrap().len(), 1);
    assert_eq!(statuses(target(report, "main"), "complete"), 2);
    // `--provider` would say which CDN, and the targets already do.
    let clash = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--provider",
            "qiniu",
            "--urls",
            "https://example.com/a.js",
        ],
        &[],
    )
    .await;
    assert_eq!(clash.code, 2, "{}", clash.all());
    assert!(clash.stderr.contains("--target"), "{}", clash.stderr);
    let unknown = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--target",
            "nope",
            "--urls",
            "https://example.com/a.js",
        ],
        &[],
    )
    .await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("use one of: main, assets"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn a_dry_run_plans_each_target() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    let list = urls(6);
    let out = run_configured(
        &[
            "run",
            "--config",
            &cfg,
            "--dry-run",
            "--urls",
            &list.join("\n"),
        ],
        QINIU,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.report()["status"], "dry-run");
    assert!(
        out.stdout.contains("target main (aliyun):"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("target assets (qiniu):"),
        "{}",
        out.stdout
    );
    assert_eq!(statuses(target(out.report(), "assets"), "planned"), 8);
    assert_eq!(emu.stats().await.total_accepted(Operation::Refresh), 0);
}

#[tokio::test]
async fn plan_shows_each_targets_batches_and_sends_nothing() {
    let emu = emulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &emu.url(), "");
    // 1,200 URLs on www.example.com: Alibaba Cloud takes 1,000 per refresh and 100 per
    // prefetch, Qiniu 60 of each; each target batches by its own limits.
    let list: Vec<String> = (0..1200)
        .map(|i| format!("https://www.example.com/p/{i}.html"))
        .collect();
    let out = run_configured(
        &[
            "plan",
            "--config",
            &cfg,
            "--format",
            "json",
            "--urls",
            &list.join("\n"),
        ],
        QINIU,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let batches = |name: &str, op: &str| {
        plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["batches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["operation"] == op)
            .count()
    };
    assert_eq!(
        (batches("main", "refresh"), batches("main", "prefetch")),
        (2, 12)
    );
    assert_eq!(
        (batches("assets", "refresh"), batches("assets", "prefetch")),
        (20, 20)
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn two_targets_on_one_account_are_warned_about() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = emu.url();
    let path = dir.path().join("same.yml");
    std::fs::write(
        &path,
        format!(
            "targets:\n  - name: a\n    provider: aliyun\n    endpoint: {url}\n    sites: [example.com]\n  - name: b\n    provider: aliyun\n    endpoint: {url}\n    sites: [www.example.com]\n"
        ),
    )
    .unwrap();
    let cfg = path.to_string_lossy().into_owned();
    let list = "https://example.com/a.js\nhttps://www.example.com/b.js";
    let out = run_configured(&["run", "--config", &cfg, "--urls", list], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr
            .contains("targets `a` and `b` use the same aliyun account"),
        "{}",
        out.stderr
    );
    // The other fixture's targets are different providers: no warning there.
    let other = config(dir.path(), &url, "");
    let quiet = run_configured(
        &["run", "--config", &other, "--dry-run", "--urls", list],
        QINIU,
    )
    .await;
    assert!(!quiet.stderr.contains("same"), "{}", quiet.stderr);
}
