//! Provider rates hold at the provider whatever the latency: some requests are held before
//! the emulator counts them (`--slow`), as a loaded machine or a slow path holds them before
//! they arrive. A request occupies its place in the client's windows from when it leaves
//! until its answer came, so none of these runs draws a rate refusal. Counted when they
//! leave (the client before this was fixed), the same runs drew 9 refusals of Qiniu's
//! items rate and 55 of Alibaba Cloud's request rate.

mod common;

use common::*;

/// The run succeeded without one rate refusal (`key` in the emulator's errors) or retry,
/// and the emulator did hold some requests back.
fn no_rate_refusal(out: &Output, stats: &cdn_refresh::emulator::Stats, key: &str) {
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        stats.faults.get("slow").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.errors.get(key),
        None,
        "the rate was exceeded: {:?}",
        stats.errors
    );
    assert_eq!(out.report()["calls"]["retries"], 0, "{}", out.all());
}

#[tokio::test]
async fn qiniu_items_per_second_hold_when_some_requests_arrive_late() {
    // 600 URLs in batches of 60 against 240 items a second: about half the requests arrive
    // a second after they left.
    let emu = emulator(&[
        "--qiniu-url-quota",
        "5000",
        "--task-duration",
        "0s",
        "--slow",
        "0.5=1s",
        "--fault-seed",
        "3",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(600);
    let out = run(
        &emu,
        &["--provider", "qiniu", "-r", &url_file(dir.path(), &list)],
        &[
            ("QINIU_ACCESS_KEY", "testak"),
            ("QINIU_SECRET_KEY", "testsk"),
        ],
    )
    .await;
    no_rate_refusal(&out, &emu.stats().await, "qiniu:403024");
}

#[tokio::test]
async fn aliyun_requests_per_second_hold_when_some_requests_arrive_late() {
    // 300 prefetch requests of one URL each, 64 at a time, against 50 submits a second:
    // about half arrive a second late.
    let emu = emulator(&[
        "--task-duration",
        "0s",
        "--slow",
        "0.5=1s",
        "--fault-seed",
        "1",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(300);
    let out = run(
        &emu,
        &[
            "-r",
            &url_file(dir.path(), &list),
            "-t",
            "prefetch",
            "--batch-size",
            "1",
            "--wait",
            "false",
            "--concurrency",
            "64",
        ],
        &[],
    )
    .await;
    no_rate_refusal(&out, &emu.stats().await, "Throttling.User");
}
