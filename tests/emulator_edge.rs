#![cfg(feature = "emulator")]
//! The emulator as a CDN edge (`--origin DIR`): visitors' requests, routed by Host, served
//! from a cache that stays stale until a refresh task covering the URL completes, for every
//! provider. Refreshes and prefetches go through the binary, as a pipeline sends them;
//! tasks take `--task-duration 0s`, so a task is complete when the binary returns, and
//! nothing here sleeps.

mod common;

use std::path::Path;

use common::{Emu, Output, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every provider, with the credentials the emulator accepts by default.
const PROVIDERS: &[(&str, &[(&str, &str)])] = &[
    ("aliyun", &[]),
    (
        "qiniu",
        &[
            ("QINIU_ACCESS_KEY", "testak"),
            ("QINIU_SECRET_KEY", "testsk"),
        ],
    ),
    (
        "huawei",
        &[
            ("HUAWEICLOUD_SDK_AK", "HWTESTAK"),
            ("HUAWEICLOUD_SDK_SK", "HWTESTSK"),
        ],
    ),
    ("cloudfront", CLOUDFRONT),
];

/// CloudFront's key and the emulator's default distributions, one per domain.
const CLOUDFRONT: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDCDNREFRESHTEST"),
    ("AWS_SECRET_ACCESS_KEY", "cloudfront-test-secret"),
    (
        "CDN_REFRESH_DISTRIBUTION_ID",
        "example.com=EEXAMPLECOM,www.example.com=EWWWEXAMPLECOM",
    ),
];

/// Whether `provider` has a prefetch API (CloudFront has none).
fn prefetches(provider: &str) -> bool {
    cdn_refresh::providers::ProviderKind::named(provider)
        .is_some_and(|k| k.limits().prefetch_unsupported.is_none())
}

struct Edge {
    emu: Emu,
    dir: tempfile::TempDir,
    provider: &'static str,
    creds: &'static [(&'static str, &'static str)],
}

/// One answer of the edge.
#[derive(Debug)]
struct Got {
    status: u16,
    cache: Option<String>,
    age: Option<u64>,
    etag: Option<String>,
    length: Option<u64>,
    body: String,
}

impl Got {
    fn hit(&self, body: &str) -> &Self {
        assert_eq!(
            (self.status, self.cache.as_deref(), self.body.as_str()),
            (200, Some("HIT"), body),
            "{self:?}"
        );
        assert!(self.age.is_some(), "a hit has an Age: {self:?}");
        self
    }

    fn miss(&self, body: &str) -> &Self {
        assert_eq!(
            (self.status, self.cache.as_deref(), self.body.as_str()),
            (200, Some("MISS"), body),
            "{self:?}"
        );
        self
    }
}

impl Edge {
    /// An emulator with `--origin` on a fresh folder holding `files`, and `flags`.
    async fn start(
        (provider, creds): (&'static str, &'static [(&'static str, &'static str)]),
        files: &[(&str, &str)],
        flags: &[&str],
    ) -> Edge {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("site");
        std::fs::create_dir(&origin).unwrap();
        let origin = origin.to_str().unwrap().to_string();
        let mut all = vec!["--origin", origin.as_str(), "--task-duration", "0s"];
        all.extend_from_slice(flags);
        let edge = Edge {
            emu: Emu::start(&all).await,
            dir,
            provider,
            creds,
        };
        for (path, text) in files {
            edge.write(path, text);
        }
        edge
    }

    fn origin(&self) -> std::path::PathBuf {
        self.dir.path().join("site")
    }

    fn write(&self, path: &str, text: &str) {
        let file = self.origin().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    fn delete(&self, path: &str) {
        std::fs::remove_file(self.origin().join(path)).unwrap();
    }

    /// A visitor's `method` of `path` with `Host: host`.
    async fn fetch(&self, method: reqwest::Method, host: &str, path: &str) -> Got {
        let resp = self
            .emu
            .http
            .request(method, format!("{}{path}", self.emu.running.url()))
            .header("host", host)
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (cache, age, etag) = (header("x-cache"), header("age"), header("etag"));
        let length = header("content-length").map(|l| l.parse().unwrap());
        Got {
            status: resp.status().as_u16(),
            cache,
            age: age.map(|a| a.parse().unwrap()),
            etag,
            length,
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Got {
        self.fetch(reqwest::Method::GET, "example.com", path).await
    }

    /// A run of the binary for this edge's provider, with `args`.
    async fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["run", "--provider", self.provider];
        all.extend_from_slice(args);
        run(&self.emu.running, &all, self.creds).await
    }

    /// Refreshes `urls` (`-o object_type`), expecting exit `code`.
    async fn refresh(&self, object_type: &str, urls: &[&str], code: i32) {
        let urls = urls.join("\n");
        let out = self
            .run(&["-t", "refresh", "-o", object_type, "--urls", &urls])
            .await;
        assert_eq!(out.code, code, "{}: {}", self.provider, out.all());
    }
}

/// Runs `scenario` against a fresh edge of each provider.
macro_rules! for_every_provider {
    ($files:expr, $flags:expr, |$edge:ident| $body:block) => {
        for &provider in PROVIDERS {
            let $edge = Edge::start(provider, $files, $flags).await;
            $body
        }
    };
}

#[tokio::test]
async fn the_cache_serves_old_bytes_until_a_refresh_completes() {
    for_every_provider!(&[("a.txt", "v1")], &[], |edge| {
        let first = edge.get("/a.txt").await;
        first.miss("v1");
        let second = edge.get("/a.txt").await;
        second.hit("v1");
        assert_eq!(second.etag, first.etag);
        assert_eq!(second.length, Some(2));

        edge.write("a.txt", "v2!");
        let stale = edge.get("/a.txt").await;
        stale.hit("v1");
        assert_eq!(stale.etag, first.etag, "{}", edge.provider);
        // Another query string is another URL for the cache, not covered by a.txt's refresh.
        edge.get("/a.txt?v=1").await.miss("v2!");

        edge.refresh("file", &["https://example.com/a.txt"], 0)
            .await;
        let fresh = edge.get("/a.txt").await;
        fresh.miss("v2!");
        assert_ne!(fresh.etag, first.etag);
        assert_eq!(fresh.length, Some(3));
        edge.get("/a.txt").await.hit("v2!");

        let stats = edge.emu.stats().await;
        assert_eq!(
            (stats.edge.hits, stats.edge.misses, stats.edge.evictions),
            (3, 3, 1),
            "{}: {:?}",
            edge.provider,
            stats.edge
        );
    });
}

#[tokio::test]
async fn a_directory_refresh_evicts_everything_below_it() {
    let files = [
        ("d/a.txt", "a1"),
        ("d/sub/b.txt", "b1"),
        ("d/index.html", "i1"),
        ("other.txt", "o1"),
    ];
    for_every_provider!(&files, &[], |edge| {
        for path in ["/d/a.txt", "/d/sub/b.txt", "/d/", "/other.txt"] {
            edge.get(path).await;
        }
        for (path, _) in files {
            edge.write(path, "2");
        }
        edge.refresh("directory", &["http://example.com/d/"], 0)
            .await;
        edge.get("/d/a.txt").await.miss("2");
        edge.get("/d/sub/b.txt").await.miss("2");
        edge.get("/d/").await.miss("2");
        edge.get("/other.txt").await.hit("o1");
    });
}

#[tokio::test]
async fn a_failed_refresh_leaves_the_url_stale() {
    let flags = ["--fail-matching", "stuck"];
    for_every_provider!(&[("stuck.txt", "old"), ("ok.txt", "old")], &flags, |edge| {
        edge.get("/stuck.txt").await.miss("old");
        edge.get("/ok.txt").await.miss("old");
        edge.write("stuck.txt", "new");
        edge.write("ok.txt", "new");
        // CloudFront's invalidations have no failed state: its API says Completed and only
        // the edge shows that the path was not evicted.
        let code = if edge.provider == "cloudfront" { 0 } else { 1 };
        edge.refresh(
            "file",
            &[
                "https://example.com/stuck.txt",
                "https://example.com/ok.txt",
            ],
            code,
        )
        .await;
        edge.get("/stuck.txt").await.hit("old");
        edge.get("/ok.txt").await.miss("new");
    });
}

#[tokio::test]
async fn a_deleted_file_is_served_until_refreshed_then_404() {
    for_every_provider!(&[("gone.txt", "was here")], &[], |edge| {
        edge.get("/gone.txt").await.miss("was here");
        edge.delete("gone.txt");
        edge.get("/gone.txt").await.hit("was here");
        edge.refresh("file", &["https://example.com/gone.txt"], 0)
            .await;
        let gone = edge.get("/gone.txt").await;
        assert_eq!(gone.status, 404, "{gone:?}");
        // A 404 is not cached: the file deployed again is served at once.
        edge.write("gone.txt", "back");
        edge.get("/gone.txt").await.miss("back");
    });
}

#[tokio::test]
async fn a_prefetch_fills_the_cache_when_it_completes() {
    for_every_provider!(&[("p.js", "one")], &[], |edge| {
        if !prefetches(edge.provider) {
            continue;
        }
        let out = edge
            .run(&["-t", "prefetch", "--urls", "https://example.com/p.js"])
            .await;
        assert_eq!(out.code, 0, "{}", out.all());
        edge.write("p.js", "two");
        edge.get("/p.js").await.hit("one");
        assert_eq!(edge.emu.stats().await.edge.prefetch_fills, 1);
    });
}

#[tokio::test]
async fn a_prefetch_does_not_replace_cached_bytes() {
    for_every_provider!(&[("p.js", "one")], &[], |edge| {
        if !prefetches(edge.provider) {
            continue;
        }
        edge.get("/p.js").await.miss("one");
        edge.write("p.js", "two");
        let out = edge
            .run(&["-t", "prefetch", "--urls", "https://example.com/p.js"])
            .await;
        assert_eq!(out.code, 0, "{}", out.all());
        edge.get("/p.js").await.hit("one");
    });
}

#[tokio::test]
async fn aliyun_regex_and_ignore_params_tasks_cover_their_urls() {
    let files = [("img/a.jpg", "1"), ("img/b.png", "1"), ("q.css", "1")];
    let edge = Edge::start(PROVIDERS[0], &files, &[]).await;
    for path in ["/img/a.jpg", "/img/b.png", "/q.css?v=1", "/q.css?v=2"] {
        edge.get(path).await;
    }
    for (path, _) in files {
        edge.write(path, "2");
    }
    edge.refresh("regex", &[r"http://example.com/img/.*\.jpg"], 0)
        .await;
    edge.get("/img/a.jpg").await.miss("2");
    edge.get("/img/b.png").await.hit("1");
    edge.get("/q.css?v=1").await.hit("1");
    edge.refresh("ignore-params", &["http://example.com/q.css"], 0)
        .await;
    edge.get("/q.css?v=1").await.miss("2");
    edge.get("/q.css?v=2").await.miss("2");
}

/// `request` sent as is on a fresh connection; the whole answer.
async fn raw(emu: &Emu, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(emu.host()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn hostile_paths_never_leave_the_origin() {
    let edge = Edge::start(PROVIDERS[0], &[("in.txt", "inside")], &[]).await;
    std::fs::write(edge.dir.path().join("secret.txt"), "SECRET").unwrap();
    std::os::unix::fs::symlink(
        edge.dir.path().join("secret.txt"),
        edge.origin().join("link.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(edge.dir.path(), edge.origin().join("up")).unwrap();
    for (target, status) in [
        ("/../secret.txt", "400"),
        ("/%2e%2e/secret.txt", "400"),
        ("/a/..%2F..%2Fsecret.txt", "400"),
        ("/%2E%2E%5Csecret.txt", "400"),
        ("/in.txt%00.png", "400"),
        ("/link.txt", "404"),
        ("/up/secret.txt", "404"),
        ("http://example.com/../secret.txt", "400"),
        (
            &format!("/{}", edge.dir.path().join("secret.txt").display()),
            "404",
        ),
    ] {
        let answer = raw(
            &edge.emu,
            &format!("GET {target} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{target}: {answer}"
        );
        assert!(!answer.contains("SECRET"), "{target}: {answer}");
    }
    edge.get("/in.txt").await.miss("inside");
    assert_eq!(edge.emu.stats().await.edge.refused, 6);
}

#[tokio::test]
async fn only_the_domains_are_the_edge_and_only_for_get_and_head() {
    let edge = Edge::start(PROVIDERS[0], &[("index.html", "home")], &[]).await;
    // Another Host is not the edge: the API (Alibaba Cloud's RPC on `/`) answers.
    let other = edge
        .fetch(reqwest::Method::GET, "other.example.net", "/")
        .await;
    assert_eq!(other.cache, None, "{other:?}");
    assert!(!other.body.contains("home"), "{other:?}");
    // The emulator's own address is the API too.
    let api = edge
        .fetch(reqwest::Method::GET, &edge.emu.host(), "/index.html")
        .await;
    assert_eq!(api.cache, None, "{api:?}");
    // Any case and a port are the same host.
    edge.fetch(reqwest::Method::GET, "WWW.Example.com:8080", "/")
        .await
        .miss("home");
    let head = edge
        .fetch(reqwest::Method::HEAD, "www.example.com", "/")
        .await;
    assert_eq!(
        (head.cache.as_deref(), head.length, head.body.as_str()),
        (Some("HIT"), Some(4), "")
    );
    let post = edge.fetch(reqwest::Method::POST, "example.com", "/").await;
    assert_eq!(post.status, 405, "{post:?}");
    // The stats endpoint stays on the emulator's address.
    assert_eq!(edge.emu.stats().await.edge.refused, 1);
}

#[tokio::test]
async fn a_folder_per_host_wins_over_the_shared_site() {
    let files = [("a.txt", "shared"), ("static.example.com/a.txt", "static")];
    let edge = Edge::start(PROVIDERS[1], &files, &[]).await;
    edge.get("/a.txt").await.miss("shared");
    edge.fetch(reqwest::Method::GET, "static.example.com", "/a.txt")
        .await
        .miss("static");
    // Cached per host: a refresh of one host's URL leaves the other's.
    edge.write("a.txt", "shared2");
    edge.write("static.example.com/a.txt", "static2");
    edge.refresh("file", &["https://static.example.com/a.txt"], 0)
        .await;
    edge.get("/a.txt").await.hit("shared");
    edge.fetch(reqwest::Method::GET, "static.example.com", "/a.txt")
        .await
        .miss("static2");
}

#[tokio::test]
async fn bounds_and_rewrites() {
    let big = "x".repeat(2000);
    let files = [
        ("big.bin", big.as_str()),
        ("p.html", "<html><body>hi</body></html>"),
    ];
    let flags = [
        "--edge-max-file-bytes",
        "1000",
        "--edge-rewrite",
        "<script>beacon()</script>",
    ];
    let edge = Edge::start(PROVIDERS[2], &files, &flags).await;
    assert_eq!(edge.get("/big.bin").await.status, 502);
    edge.get("/p.html")
        .await
        .miss("<html><body>hi<script>beacon()</script></body></html>");
}

#[tokio::test]
async fn with_a_lag_the_eviction_comes_after_the_api_says_complete() {
    let flags = ["--edge-lag", "300ms"];
    let edge = Edge::start(PROVIDERS[0], &[("a.txt", "v1")], &flags).await;
    edge.get("/a.txt").await.miss("v1");
    edge.write("a.txt", "v2");
    edge.refresh("file", &["https://example.com/a.txt"], 0)
        .await;
    // Complete at the API, still stale at the edge; fresh within a bounded number of polls.
    let mut stale = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = edge.get("/a.txt").await;
        if got.body == "v2" {
            break;
        }
        got.hit("v1");
        stale += 1;
        assert!(std::time::Instant::now() < deadline, "never evicted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stale > 0);
}

#[tokio::test]
async fn domains_that_would_capture_the_api_are_refused_with_an_origin() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().to_str().unwrap();
    for domains in ["127.0.0.1", "localhost", "a.com,[::1]"] {
        let args = cdn_refresh::emulator::EmulatorArgs::from_flags(&[
            "--origin",
            origin,
            "--domains",
            domains,
        ])
        .unwrap();
        let err = cdn_refresh::emulator::start(args).await.err().unwrap();
        assert!(err.to_string().contains("--domains"), "{err}");
    }
    let args = cdn_refresh::emulator::EmulatorArgs::from_flags(&["--origin", "/nonexistent/site"])
        .unwrap();
    let err = cdn_refresh::emulator::start(args).await.err().unwrap();
    assert!(err.to_string().contains("--origin"), "{err}");
    let _ = Path::new(origin);
}
