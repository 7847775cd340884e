//! Huawei-only behaviour of the binary against the emulator (the shared cases are in
//! `conformance.rs`): directory refresh, the refresh mode, the enterprise project, temporary
//! keys, and the `quota` and `status` commands.

mod common;

use cdn_refresh::providers::{Operation, QuotaKind};
use common::{emulator, run};

const CREDS: &[(&str, &str)] = &[
    ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
    ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
];

fn huawei<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--provider", "huawei"];
    args.extend_from_slice(rest);
    args
}

#[tokio::test]
async fn directories_and_the_detect_modified_mode_go_out_as_huawei_takes_them() {
    let emu = emulator(&["--task-duration", "100ms"]).await;
    let out = run(
        &emu,
        &huawei(&[
            "--urls",
            "https://example.com/assets/\nhttps://www.example.com/img/",
            "-o",
            "directory",
            "--refresh-mode",
            "detect-modified",
            "--enterprise-project-id",
            "0",
        ]),
        CREDS,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.statuses()
            .iter()
            .filter(|(_, op, s)| op == "refresh" && s == "complete")
            .count(),
        2
    );
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 2);
    assert_eq!(
        stats.quota_used["huawei"].get(&QuotaKind::RefreshDirectory),
        Some(&2),
        "{stats:?}"
    );
    // One request for both: up to 100 directories go in one task.
    assert_eq!(out.report()["tasks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn huawei_options_are_refused_for_other_providers_and_bad_values_are_named() {
    let emu = emulator(&[]).await;
    let other = run(
        &emu,
        &[
            "run",
            "--urls",
            "https://example.com/a",
            "--refresh-mode",
            "all",
        ],
        &[],
    )
    .await;
    assert_eq!(other.code, 2, "{}", other.all());
    assert!(
        other.stderr.contains("--refresh-mode") && other.stderr.contains("aliyun"),
        "{}",
        other.stderr
    );
    let bad = run(
        &emu,
        &huawei(&[
            "--urls",
            "https://example.com/a",
            "--refresh-mode",
            "sometimes",
        ]),
        CREDS,
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("use all or detect-modified"),
        "{}",
        bad.stderr
    );
    let regex = run(
        &emu,
        &huawei(&["--urls", "https://example.com/a.*", "-o", "regex"]),
        CREDS,
    )
    .await;
    assert_eq!(regex.code, 2);
    assert!(
        regex.stderr.contains("huawei cannot refresh regex"),
        "{}",
        regex.stderr
    );
    assert_eq!(emu.stats().await.total_requests(), 0);
}

#[tokio::test]
async fn the_quota_command_shows_what_a_run_used() {
    let emu = emulator(&["--task-duration", "100ms", "--huawei-preheat-quota", "50"]).await;
    let before = run(&emu, &["quota", "--provider", "huawei"], CREDS).await;
    assert_eq!(before.code, 0, "{}", before.all());
    let sent = run(
        &emu,
        &huawei(&[
            "--urls",
            "https://example.com/a.js\nhttps://example.com/b.js",
            "-t",
            "both",
        ]),
        CREDS,
    )
    .await;
    assert_eq!(sent.code, 0, "{}", sent.all());
    let after = run(&emu, &["quota", "--provider", "huawei"], CREDS).await;
    assert_eq!(after.code, 0, "{}", after.all());
    assert_ne!(before.stdout, after.stdout);
    assert!(
        after.stdout.contains("48"),
        "50 - 2 preheats: {}",
        after.stdout
    );
    // The task ids of the run answer the status command.
    let id = sent.report()["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = run(&emu, &["status", "--provider", "huawei", &id], CREDS).await;
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(
        status.stdout.contains("https://example.com/a.js"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_temporary_key_needs_its_security_token_and_the_secret_is_never_shown() {
    let emu = emulator(&[
        "--huawei-key",
        "STSAK:sts-secret-9c1:sts-token-77",
        "--task-duration",
        "100ms",
    ])
    .await;
    let creds = [
        ("HUAWEICLOUD_SDK_AK", "STSAK"),
        ("HUAWEICLOUD_SDK_SK", "sts-secret-9c1"),
    ];
    let without = run(
        &emu,
        &huawei(&["--urls", "https://example.com/a.js"]),
        &creds,
    )
    .await;
    assert_eq!(without.code, 3, "{}", without.all());
    assert!(!without.all().contains("sts-secret-9c1"));
    let with = run(
        &emu,
        &huawei(&["--urls", "https://example.com/a.js"]),
        &[
            creds[0],
            creds[1],
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "sts-token-77"),
        ],
    )
    .await;
    assert_eq!(with.code, 0, "{}", with.all());
    assert!(!with.all().contains("sts-token-77"));
}
