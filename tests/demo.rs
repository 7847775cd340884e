//! `cdn-refresh demo`: the binary tells the whole story (two deploys, git mode, refresh and
//! prefetch with retries, the report) with no credentials, and the library runs it for every
//! provider.

mod common;

use std::path::Path;

use cdn_refresh::demo::{self, Options};
use cdn_refresh::emulator;
use cdn_refresh::providers::ProviderKind;
use serde_json::Value;

/// What the demo wrote, stdout and stderr in the one order a terminal shows them.
struct Told {
    code: i32,
    text: String,
    report: Value,
    /// The temporary folder the demo was given (`TMPDIR`); it holds the demo's folder.
    tmp: tempfile::TempDir,
}

/// Runs `cdn-refresh demo --report …` with no credential in the environment and its own
/// `TMPDIR`, both streams into one file so that their order is kept.
async fn demo_binary() -> Told {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.json");
    let log = tmp.path().join("output.txt");
    let file = std::fs::File::create(&log).unwrap();
    let tmpdir = tmp.path().to_str().unwrap().to_string();
    let mut cmd = common::binary(
        &["demo", "--report", report.to_str().unwrap()],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
            ("TMPDIR", &tmpdir),
        ],
        false,
    );
    cmd.stdout(file.try_clone().unwrap()).stderr(file);
    let status = cmd.status().await.expect("the binary runs");
    let text = std::fs::read_to_string(&log).unwrap();
    let report = std::fs::read_to_string(&report)
        .map(|s| serde_json::from_str(&s).expect("the report is JSON"))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{text}"));
    Told {
        code: status.code().unwrap_or(-1),
        text,
        report,
        tmp,
    }
}

#[tokio::test]
async fn the_demo_tells_the_whole_story() {
    let told = demo_binary().await;
    let text = &told.text;
    assert_eq!(told.code, 0, "{text}");

    // Throttling is announced before the first retry warning, and the warnings are there.
    let said = text
        .find("throttles one call in four on purpose")
        .unwrap_or_else(|| panic!("throttling is announced\n{text}"));
    let warned = text
        .find("WARN")
        .unwrap_or_else(|| panic!("a throttled call is retried\n{text}"));
    assert!(said < warned, "announced before the first WARN\n{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("retrying")),
        "{text}"
    );

    // Git mode from deploy 1 to deploy 2, named as the run names it.
    let git = &told.report["git"];
    let (base, head) = (git["base"].as_str().unwrap(), git["head"].as_str().unwrap());
    assert!(text.contains(&format!("git: {base}..{head}")), "{text}");
    assert!(text.contains("--base deploy-1 --head deploy-2"), "{text}");
    assert_eq!(git["changes"], 7, "{git}");

    // The edge: version 1 cached (MISS, then HIT), stale after deploy 2, and every URL
    // verified fresh after the run.
    let miss = text
        .find("X-Cache: MISS")
        .unwrap_or_else(|| panic!("{text}"));
    let hit = text
        .find("X-Cache: HIT")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(miss < hit, "{text}");
    assert!(text.contains("still serves version 1"), "{text}");
    let verify = &told.report["verify"];
    assert!(verify["fresh"].as_u64().unwrap() > 0, "{verify}");
    assert_eq!(verify["stale"], 0, "{verify}");
    for u in told.report["urls"].as_array().unwrap() {
        assert_eq!(u["verify"]["verdict"], "fresh", "{u}");
    }
    let last = text.rfind("GET https://www.example.com/docs/").unwrap();
    assert!(
        text[last..].lines().next().unwrap().contains("version 2"),
        "{text}"
    );

    // Every change is listed, the renamed and the deleted one included, with its URLs.
    for line in [
        "renamed   public/blog/release notes.html -> public/blog/2026/release notes.html",
        "deleted   public/js/old.js",
        "added     public/js/app.js",
        "modified  public/index.html",
        "modified  public/docs/index.html",
        "modified  public/关于.html",
    ] {
        assert!(text.lines().any(|l| l.trim() == line), "{line}\n{text}");
    }
    for line in [
        "refresh            https://www.example.com/blog/release%20notes.html",
        "prefetch           https://www.example.com/blog/2026/release%20notes.html",
        "refresh            https://www.example.com/js/old.js",
        "refresh, prefetch  https://www.example.com/docs/",
        "refresh, prefetch  https://www.example.com/docs/index.html",
        "refresh, prefetch  https://www.example.com/%E5%85%B3%E4%BA%8E.html",
    ] {
        assert!(text.lines().any(|l| l.trim() == line), "{line}\n{text}");
    }
    assert!(
        !text.contains("https://www.example.com/img/logo.svg"),
        "the unchanged file is not sent\n{text}"
    );

    // Every URL of both operations ends complete, and the report says where it is.
    let urls = told.report["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 16, "{}", told.report);
    for u in urls {
        assert_eq!(u["status"], "complete", "{u}");
    }
    assert_eq!(told.report["status"], "success");
    let path = told.tmp.path().join("report.json");
    assert!(
        text.contains(&format!("report: {}", path.display())),
        "{text}"
    );
    assert!(text.contains("16 of 16 URL records complete"), "{text}");

    // No secret: the emulator's default key is used, and its secret is never shown.
    let (_, secret) = emulator::default_key(ProviderKind::default_kind()).unwrap();
    assert!(!text.contains(secret), "{text}");

    // The last line is a command to run against one's own repository.
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.trim_start()
            .starts_with("cdn-refresh --base HEAD~1 --mapping "),
        "{last}"
    );

    // The site repository stays in the demo's folder, under the TMPDIR it was given.
    let kept: Vec<_> = std::fs::read_dir(told.tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("cdn-refresh-demo-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{text}");
    assert!(kept[0].path().join("www/.git").is_dir());
}

/// The demo is the same story for every provider (the binary runs the default one).
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_for_every_provider() {
    for provider in ProviderKind::all().filter(|&k| k != ProviderKind::default_kind()) {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let options = Options {
            provider,
            report: Some(report.clone()),
        };
        let finished = demo::run(options).await.expect("the demo runs");
        std::fs::remove_dir_all(&finished.folder).unwrap();
        assert_eq!(finished.code, 0, "{provider}");
        assert_eq!(finished.report.urls.len(), 16, "{provider}");
        assert!(
            finished.report.urls.iter().all(
                |u| u.status == cdn_refresh::report::UrlStatus::Complete
                    // A provider without a prefetch API reports those URLs, never sends them.
                    || (u.operation == cdn_refresh::providers::Operation::Prefetch
                        && provider.limits().prefetch_unsupported.is_some()
                        && u.status == cdn_refresh::report::UrlStatus::Unsupported)
            ),
            "{provider}: {:?}",
            finished.report.urls
        );
        assert!(Path::new(&report).is_file());
    }
}
