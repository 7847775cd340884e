#![cfg(feature = "emulator")]
//! `--verify` end to end against the emulator's own edge, for every provider: a git
//! repository whose `public/` folder is the emulator's `--origin` (the edge serves the
//! working tree, i.e. the deploy), a visitor who cached version 1, version 2 committed, and
//! the real binary refreshing what changed and verifying what the edge serves. Tasks take
//! `--task-duration 0s`; convergence is the verifier's own bounded retries; nothing here
//! sleeps.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::Emu;
use serde_json::Value;

/// Every provider, with the credentials and quota flags the emulator accepts.
struct Provider {
    name: &'static str,
    creds: &'static [(&'static str, &'static str)],
    flags: &'static [&'static str],
}

const PROVIDERS: &[Provider] = &[
    Provider {
        name: "aliyun",
        creds: &[],
        flags: &[],
    },
    Provider {
        name: "qiniu",
        creds: &[
            ("QINIU_ACCESS_KEY", "testak"),
            ("QINIU_SECRET_KEY", "testsk"),
        ],
        flags: &[
            "--qiniu-url-quota",
            "5000",
            "--qiniu-prefetch-quota",
            "5000",
        ],
    },
    Provider {
        name: "huawei",
        creds: &[
            ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
            ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
        ],
        flags: &[],
    },
];

const HOST: &str = "www.example.com";
const RULES: &str = "public/** => http://www.example.com/{path}";
const PAGE_V1: &str = "<html><body>docs v1</body></html>";
const PAGE_V2: &str = "<html><body>docs v2, longer</body></html>";

/// A site deployed twice, the emulator's edge serving the working tree, and a visitor who
/// cached version 1 of every URL.
struct Site {
    dir: tempfile::TempDir,
    emu: Emu,
    provider: &'static Provider,
}

impl Site {
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, path: &str, text: &str) {
        let file = self.repo().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    /// Version 1 committed and cached at the edge, version 2 committed: `index.html`,
    /// `app.js` and `docs/index.html` modified, `new.js` added, `old.css` deleted,
    /// `before.txt` renamed to `after.txt`.
    async fn start(provider: &'static Provider, flags: &[&str]) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("public")).unwrap();
        common::git(&repo, &["init", "-q", "-b", "main"]);
        let origin = repo.join("public").display().to_string();
        let mut all = vec!["--origin", origin.as_str(), "--task-duration", "0s"];
        all.extend_from_slice(provider.flags);
        all.extend_from_slice(flags);
        let site = Site {
            emu: Emu::start(&all).await,
            dir,
            provider,
        };
        site.write("public/index.html", "<html><body>home v1</body></html>");
        site.write("public/app.js", "app v1");
        site.write("public/old.css", "old");
        site.write("public/before.txt", "moved, same bytes");
        site.write("public/docs/index.html", PAGE_V1);
        commit(&repo, "v1");
        for path in [
            "/",
            "/index.html",
            "/app.js",
            "/old.css",
            "/before.txt",
            "/docs/",
            "/docs/index.html",
        ] {
            let (status, cache, _) = site.visit(path).await;
            assert_eq!((status, cache.as_deref()), (200, Some("MISS")), "{path}");
        }
        site.write("public/index.html", "<html><body>home v2!</body></html>");
        site.write("public/app.js", "app v2, longer");
        site.write("public/new.js", "new");
        site.write("public/docs/index.html", PAGE_V2);
        std::fs::remove_file(repo.join("public/old.css")).unwrap();
        common::git(&repo, &["mv", "public/before.txt", "public/after.txt"]);
        commit(&repo, "v2");
        // Deployed, and still version 1 at the edge.
        let (_, cache, body) = site.visit("/app.js").await;
        assert_eq!((cache.as_deref(), body.as_str()), (Some("HIT"), "app v1"));
        site
    }

    /// A visitor's GET of `path`: status, `X-Cache`, body.
    async fn visit(&self, path: &str) -> (u16, Option<String>, String) {
        let resp = self
            .emu
            .http
            .get(format!("{}{path}", self.emu.running.url()))
            .header("host", HOST)
            .send()
            .await
            .unwrap();
        let cache = resp
            .headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap().to_string());
        (resp.status().as_u16(), cache, resp.text().await.unwrap())
    }

    /// `cdn-refresh run --base HEAD~1 … -t both --verify content --verify-connect EDGE`.
    async fn run(&self, more: &[&str]) -> common::Output {
        let repo = self.repo().display().to_string();
        let connect = self.emu.running.url();
        // An index file maps to its folder URL and to its own name.
        let config = self.dir.path().join("cdn-refresh.yml");
        std::fs::write(
            &config,
            format!("version: 1\nmapping:\n  - {RULES}\nindex_urls: [slash, file]\n"),
        )
        .unwrap();
        let config = config.display().to_string();
        let mut args = vec![
            "run",
            "--provider",
            self.provider.name,
            "--repo",
            &repo,
            "--base",
            "HEAD~1",
            "--config",
            &config,
            "-t",
            "both",
            "--verify",
            "content",
            "--verify-connect",
            &connect,
        ];
        args.extend_from_slice(more);
        common::run(&self.emu.running, &args, self.provider.creds).await
    }
}

fn commit(repo: &Path, message: &str) {
    common::git(repo, &["add", "-A"]);
    common::git(
        repo,
        &["-c", "commit.gpgsign=false", "commit", "-q", "-m", message],
    );
}

fn url(path: &str) -> String {
    format!("http://{HOST}{path}")
}

/// `url → verify object` of a report.
fn verdicts(out: &common::Output) -> HashMap<String, Value> {
    out.report()["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| Some((u["url"].as_str()?.to_string(), u.get("verify")?.clone())))
        .collect()
}

fn verdict(v: &HashMap<String, Value>, path: &str) -> String {
    v.get(&url(path))
        .unwrap_or_else(|| panic!("{path} has a verdict: {v:?}"))["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The URLs of version 2's changes, each verified.
const CHANGED: &[&str] = &[
    "/",
    "/index.html",
    "/app.js",
    "/new.js",
    "/old.css",
    "/before.txt",
    "/after.txt",
    "/docs/",
    "/docs/index.html",
];

#[tokio::test]
async fn a_deploy_ends_fresh_at_the_edge_for_every_provider() {
    for provider in PROVIDERS {
        let site = Site::start(provider, &[]).await;
        let out = site.run(&["--timeout", "30s"]).await;
        assert_eq!(out.code, 0, "{}: {}", provider.name, out.all());
        let v = verdicts(&out);
        for path in CHANGED {
            assert_eq!(
                verdict(&v, path),
                "fresh",
                "{}: {path}: {}",
                provider.name,
                out.all()
            );
        }
        // The deleted and the renamed-away files answer 404 once refreshed.
        assert_eq!(v[&url("/old.css")]["status"], 404);
        assert_eq!(v[&url("/before.txt")]["status"], 404);
        let counts = &out.report()["verify"];
        assert_eq!(counts["fresh"], CHANGED.len(), "{counts}");
        assert!(counts.get("healed").is_none(), "nothing to heal: {counts}");
        // A visitor now gets version 2, the folder URL and its index.html alike.
        assert_eq!(site.visit("/docs/").await.2, PAGE_V2);
        assert_eq!(site.visit("/docs/index.html").await.2, PAGE_V2);
        assert_eq!(site.visit("/app.js").await.2, "app v2, longer");
        assert_eq!(site.visit("/old.css").await.0, 404);

        // As a visitor asks: no query, no no-cache, its own User-Agent, at most 10 a
        // second to the host.
        let stats = site.emu.stats().await;
        let ours: Vec<_> = stats
            .edge
            .requests
            .iter()
            .filter(|r| {
                r.user_agent
                    .as_deref()
                    .is_some_and(|a| a.starts_with("cdn-refresh/"))
            })
            .collect();
        assert_eq!(ours.len(), CHANGED.len(), "one request per URL: {ours:?}");
        for r in &ours {
            assert_eq!(r.method, "GET", "{r:?}");
            assert_eq!(r.host, HOST, "{r:?}");
            assert!(!r.target.contains('?'), "no cache-busting query: {r:?}");
            assert!(r.cache_control.is_none() && r.pragma.is_none(), "{r:?}");
        }
        paced(&ours.iter().map(|r| r.at_ms).collect::<Vec<_>>(), 10);
    }
}

/// Request times (ms) that keep to `rate` a second: `n` requests span at least `n - 1`
/// intervals (with a little scheduling slack).
fn paced(times: &[u64], rate: u64) {
    let mut times = times.to_vec();
    times.sort_unstable();
    let every = 1000 / rate;
    for i in 0..times.len() {
        for j in i + 1..times.len() {
            let span = times[j] - times[i];
            assert!(
                span + 30 >= (j - i) as u64 * every,
                "{} requests within {span} ms: {times:?}",
                j - i + 1
            );
        }
    }
}

#[tokio::test]
async fn a_failed_refresh_is_stale_with_its_hit_and_fails_per_fail_on() {
    let flags = ["--fail-matching", "app.js", "--fail-matching", "old.css"];
    for provider in PROVIDERS {
        let site = Site::start(provider, &flags).await;
        let out = site
            .run(&[
                "--timeout",
                "3s",
                "--verify-heal",
                "false",
                "--fail-on",
                "never",
            ])
            .await;
        assert_eq!(
            out.code,
            0,
            "--fail-on never: {}: {}",
            provider.name,
            out.all()
        );
        let v = verdicts(&out);
        let app = &v[&url("/app.js")];
        assert_eq!(app["verdict"], "stale", "{}: {}", provider.name, out.all());
        assert_eq!(app["headers"]["x-cache"], "HIT", "{app}");
        assert!(app["headers"].get("age").is_some(), "{app}");
        assert!(app.get("heal").is_none(), "heal off: {app}");
        let old = &v[&url("/old.css")];
        assert_eq!(old["verdict"], "lingering", "{old}");
        assert_eq!(old["status"], 200);
        assert_eq!(verdict(&v, "/new.js"), "fresh");
        assert_eq!(verdict(&v, "/docs/"), "fresh");
        assert_eq!(out.report()["verify"]["stale"], 1);
        assert_eq!(out.report()["verify"]["lingering"], 1);
        assert!(out.stdout.contains("stale"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn a_heal_refreshes_once_more_and_says_so_when_it_cannot_help() {
    // The failure is for good: the heal's refresh fails too.
    let flags = ["--fail-matching", "app.js", "--fail-matching", "old.css"];
    for provider in PROVIDERS {
        let site = Site::start(provider, &flags).await;
        let out = site.run(&["--timeout", "4s"]).await;
        assert_eq!(
            out.code,
            1,
            "stale fails the run: {}: {}",
            provider.name,
            out.all()
        );
        let v = verdicts(&out);
        let app = &v[&url("/app.js")];
        assert_eq!(app["verdict"], "stale", "{}: {}", provider.name, out.all());
        assert_eq!(app["headers"]["x-cache"], "HIT");
        let heal = &app["heal"];
        assert_eq!(heal["before"], "stale", "{app}");
        assert_eq!(heal["refresh"], "failed", "{app}");
        assert_eq!(heal["healed"], false, "{app}");
        // The heal's task is in the report's tasks.
        let id = heal["task_id"].as_str().expect("the heal's task id");
        let tasks = out.report()["tasks"].as_array().unwrap();
        assert!(tasks.iter().any(|t| t["id"] == id), "{tasks:?}");
        assert!(
            app["reason"].as_str().unwrap().contains("after a heal"),
            "{app}"
        );
        let old = &v[&url("/old.css")];
        assert_eq!(old["verdict"], "lingering", "{old}");
        assert_eq!(old["heal"]["before"], "lingering");
        // Fresh URLs are not healed.
        assert!(v[&url("/new.js")].get("heal").is_none());
        let counts = &out.report()["verify"];
        assert_eq!(counts["heal_attempted"], 2, "{counts}");
        assert!(counts.get("healed").is_none(), "{counts}");
        // Refreshed twice: by the run and by the heal; the fresh URLs once.
        let accepted = site.emu.stats().await.accepted.refresh;
        assert_eq!(accepted[&url("/app.js")], 2, "{accepted:?}");
        assert_eq!(accepted[&url("/docs/")], 1, "{accepted:?}");
        assert_eq!(accepted[&url("/old.css")], 2, "{accepted:?}");
        assert!(out.stdout.contains("heal: 2 URLs"), "{}", out.stdout);
    }
}

#[tokio::test]
async fn a_transient_failure_is_healed() {
    // Only the first task for app.js fails: the heal's refresh completes.
    let flags = ["--fail-matching", "app.js", "--fail-times", "1"];
    for provider in PROVIDERS {
        let site = Site::start(provider, &flags).await;
        let out = site.run(&["--timeout", "6s"]).await;
        assert_eq!(out.code, 0, "healed: {}: {}", provider.name, out.all());
        let v = verdicts(&out);
        let app = &v[&url("/app.js")];
        assert_eq!(app["verdict"], "fresh", "{}: {}", provider.name, out.all());
        assert_eq!(app["heal"]["before"], "stale", "{app}");
        assert_eq!(app["heal"]["refresh"], "complete", "{app}");
        assert_eq!(app["heal"]["healed"], true, "{app}");
        for path in CHANGED {
            assert_eq!(verdict(&v, path), "fresh", "{path}");
        }
        let counts = &out.report()["verify"];
        assert_eq!(
            (&counts["healed"], &counts["heal_attempted"]),
            (&1.into(), &1.into())
        );
        // The run's refresh record still says what happened to its task.
        let failed = out
            .statuses()
            .into_iter()
            .any(|(u, op, s)| u == url("/app.js") && op == "refresh" && s == "failed");
        assert!(failed, "{}", out.all());
        assert_eq!(site.visit("/app.js").await.2, "app v2, longer");
    }
}

#[tokio::test]
async fn edges_that_converge_late_are_retried_until_fresh() {
    for provider in PROVIDERS {
        let site = Site::start(provider, &["--edge-lag", "1500ms"]).await;
        let out = site.run(&["--timeout", "20s"]).await;
        assert_eq!(out.code, 0, "{}: {}", provider.name, out.all());
        let v = verdicts(&out);
        let app = &v[&url("/app.js")];
        assert_eq!(app["verdict"], "fresh", "{app}");
        assert!(app["attempts"].as_u64().unwrap() >= 2, "retried: {app}");
        assert!(
            app.get("heal").is_none(),
            "converged before the heal: {app}"
        );
    }
}

#[tokio::test]
async fn a_beacon_added_by_the_cdn_is_reported_not_proven() {
    let flags = ["--edge-rewrite", "<script>beacon()</script>"];
    for provider in PROVIDERS {
        let site = Site::start(provider, &flags).await;
        let out = site.run(&["--timeout", "20s"]).await;
        // An unproven page is not a failed one, unless `--fail-on stale`.
        assert_eq!(out.code, 0, "{}: {}", provider.name, out.all());
        let v = verdicts(&out);
        for path in ["/docs/", "/docs/index.html"] {
            let page = &v[&url(path)];
            assert_eq!(page["verdict"], "error", "{path}: {page}");
            let reason = page["reason"].as_str().unwrap();
            assert!(reason.contains("inserted before </body>"), "{reason}");
            assert_eq!(page["attempts"], 1, "decided at once: {page}");
            assert!(page.get("heal").is_none(), "not healed: {page}");
        }
        // The rewrite is for HTML only: the script is fresh.
        assert_eq!(verdict(&v, "/app.js"), "fresh");
        let out = site.run(&["--timeout", "20s", "--fail-on", "stale"]).await;
        assert_eq!(out.code, 1, "{}", out.all());
    }
}
