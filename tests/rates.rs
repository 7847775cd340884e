//! Provider rates hold at the provider whatever the latency: some requests are held before
//! the emulator counts them (`--slow`), as a loaded machine or a slow path holds them before
//! they arrive. A request occupies its place in the client's windows from when it leaves
//! until its answer came, so none of these runs draws a rate refusal, although each would
//! if requests were counted when they leave.

mod common;

use common::*;

#[tokio::test]
async fn qiniu_items_per_second_hold_when_some_requests_arrive_late() {
    // 600 URLs in batches of 60 against 240 items a second: half the requests arrive 800 ms
    // after they left.
    let emu = emulator(&[
        "--qiniu-url-quota",
        "5000",
        "--task-duration",
        "0s",
        "--slow",
        "1/2=800ms",
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
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = emu.stats().await;
    assert!(
        stats.faults.get("slow").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.errors.get("qiniu:403024"),
        None,
        "the items rate was exceeded: {:?}",
        stats.errors
    );
    assert_eq!(out.report()["calls"]["retries"], 0, "{}", out.all());
}

#[tokio::test]
async fn aliyun_requests_per_second_hold_when_some_requests_arrive_late() {
    // 90 prefetch requests of one URL each, 8 at a time, against 50 submits a second: half
    // arrive 600 ms late.
    let emu = emulator(&["--task-duration", "0s", "--slow", "1/2=600ms"]).await;
    let dir = tempfile::tempdir().unwrap();
    let list = urls(90);
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
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = emu.stats().await;
    assert!(
        stats.faults.get("slow").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.errors.get("Throttling.User"),
        None,
        "the request rate was exceeded: {:?}",
        stats.errors
    );
    assert_eq!(out.report()["calls"]["retries"], 0, "{}", out.all());
}
