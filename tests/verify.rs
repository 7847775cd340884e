//! `--verify` end to end: the real binary against the emulator (the provider side) and a
//! small edge started here, which serves fixed answers per Host and path (a sequence: stale
//! first, then fresh) and records every request as it arrived. The edge is written on a
//! bare TCP listener so the test sees the request line and headers byte for byte (no query
//! added, no `no-cache`). Every run sends its verification to that edge with
//! `--verify-connect`: nothing here leaves the machine.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RULES: &str = "public/** => https://www.example.com/{path}";

/// One answer of the edge.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

fn ok(body: &'static str, cache: &'static str) -> Answer {
    Answer {
        status: 200,
        body,
        headers: vec![("X-Cache", cache), ("Age", "30")],
    }
}

fn not_found() -> Answer {
    Answer {
        status: 404,
        body: "",
        headers: vec![("X-Cache", "MISS")],
    }
}

/// A request as the edge received it.
#[derive(Clone, Debug)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Answers = HashMap<(String, String), Vec<Answer>>;

/// The edge: answers by `(host, path)`, each sequence served in order, its last answer
/// repeated; 404 for anything else.
struct Edge {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn edge(answers: &[(&str, &str, Vec<Answer>)]) -> Edge {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let table: Answers = answers
        .iter()
        .map(|(h, p, a)| ((h.to_string(), p.to_string()), a.clone()))
        .collect();
    let table = Arc::new(Mutex::new(table));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let table = table.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let mut lines = text.split("\r\n");
                let line = lines.next().unwrap_or_default().to_string();
                let headers: Vec<(String, String)> = lines
                    .take_while(|l| !l.is_empty())
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                let seen = Seen { line, headers };
                let host = seen.header("host").unwrap_or_default().to_string();
                let path = seen.line.split(' ').nth(1).unwrap_or_default().to_string();
                log.lock().unwrap().push(seen);
                let answer = {
                    let mut table = table.lock().unwrap();
                    match table.get_mut(&(host, path)) {
                        Some(list) if list.len() > 1 => list.remove(0),
                        Some(list) => list[0].clone(),
                        None => not_found(),
                    }
                };
                let mut head = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    answer.status,
                    answer.body.len()
                );
                for (k, v) in &answer.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(answer.body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Edge { addr, seen }
}

/// A repository deployed twice: `public/index.html`, `public/app.js` and `public/old.css`
/// at `v1`; at `v2` the first two changed and `old.css` deleted.
fn repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let write = |p: &str, t: &str| {
        let full = dir.path().join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, t).unwrap();
    };
    git(&["init", "-q", "-b", "main"]);
    write("public/index.html", "home v1");
    write("public/app.js", "app v1");
    write("public/old.css", "old");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "v1"]);
    let v1 = git(&["rev-parse", "HEAD"]);
    write("public/index.html", "home v2");
    write("public/app.js", "app v2");
    std::fs::remove_file(dir.path().join("public/old.css")).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "v2"]);
    let v2 = git(&["rev-parse", "HEAD"]);
    (dir, v1, v2)
}

/// `url → verify object` of a report.
fn verdicts(report: &Value) -> HashMap<String, Value> {
    report["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| Some((u["url"].as_str()?.to_string(), u.get("verify")?.clone())))
        .collect()
}

async fn git_run(
    edge: &Edge,
    repo: &Path,
    v1: &str,
    v2: &str,
    more: &[&str],
    env: &[(&str, &str)],
) -> common::Output {
    let emu = common::emulator(&[]).await;
    let connect = format!("http://{}", edge.addr);
    let repo = repo.display().to_string();
    let mut args = vec![
        "run",
        "--repo",
        &repo,
        "--base",
        v1,
        "--head",
        v2,
        "--mapping",
        RULES,
        "--verify-connect",
        &connect,
    ];
    args.extend_from_slice(more);
    common::run(&emu, &args, env).await
}

#[tokio::test]
async fn a_git_run_ends_fresh_and_asks_as_a_visitor() {
    let (dir, v1, v2) = repo();
    let host = "www.example.com";
    let edge = edge(&[
        (host, "/", vec![ok("home v2", "MISS")]),
        (host, "/app.js", vec![ok("app v2", "MISS")]),
        (host, "/old.css", vec![not_found()]),
    ])
    .await;
    let out = git_run(&edge, dir.path(), &v1, &v2, &["--verify", "content"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let v = verdicts(out.report());
    for url in [
        "https://www.example.com/",
        "https://www.example.com/app.js",
        "https://www.example.com/old.css",
    ] {
        assert_eq!(v[url]["verdict"], "fresh", "{url}: {}", out.all());
    }
    assert_eq!(out.report()["verify"]["fresh"], 3);
    assert!(out.stdout.contains("verify: 3 fresh"), "{}", out.stdout);
    let seen = edge.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one request per URL: {seen:?}");
    for s in &seen {
        assert!(s.line.starts_with("GET /"), "{s:?}");
        assert!(!s.line.contains('?'), "no cache-busting query: {s:?}");
        assert_eq!(s.header("host"), Some(host), "the URL's own Host: {s:?}");
        assert!(
            s.header("cache-control").is_none() && s.header("pragma").is_none(),
            "{s:?}"
        );
        assert!(
            s.header("user-agent").unwrap().starts_with("cdn-refresh/"),
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn stale_and_lingering_urls_are_reported_with_their_headers_and_fail_the_run() {
    let (dir, v1, v2) = repo();
    let host = "www.example.com";
    let answers = || {
        vec![
            (host, "/", vec![ok("home v2", "MISS")]),
            (host, "/app.js", vec![ok("app v1", "HIT")]),
            (host, "/old.css", vec![ok("old", "HIT")]),
        ]
    };
    let ci = tempfile::tempdir().unwrap();
    let outputs = ci.path().join("out");
    let summary = ci.path().join("summary.md");
    let (o, s) = (outputs.display().to_string(), summary.display().to_string());
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", o.as_str()),
        ("GITHUB_STEP_SUMMARY", s.as_str()),
    ];
    let e = edge(&answers()).await;
    let out = git_run(&e, dir.path(), &v1, &v2, &["--timeout", "4s"], &env).await;
    assert_eq!(
        out.code,
        1,
        "stale counts as failed by default: {}",
        out.all()
    );
    let v = verdicts(out.report());
    let app = &v["https://www.example.com/app.js"];
    assert_eq!(app["verdict"], "stale", "{}", out.all());
    assert_eq!(app["headers"]["x-cache"], "HIT");
    assert_eq!(app["headers"]["age"], "30");
    // Healed once (on by default): the attempts before the heal and after it.
    let before = app["heal"]["before_attempts"].as_u64().unwrap_or(0);
    assert!(
        app["attempts"].as_u64().unwrap() + before >= 2,
        "retried: {app}"
    );
    assert_eq!(app["heal"]["before"], "stale", "{app}");
    assert_eq!(v["https://www.example.com/old.css"]["verdict"], "lingering");
    assert_eq!(v["https://www.example.com/"]["verdict"], "fresh");
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(
        written.contains("stale-count") && written.contains("\n2\n"),
        "{written}"
    );
    assert!(written.contains("verified-count"), "{written}");
    assert!(
        out.stdout.contains("::warning title=cdn-refresh stale::"),
        "{}",
        out.stdout
    );
    let table = std::fs::read_to_string(&summary).unwrap();
    let stale_row = table
        .find("| https://www.example.com/app.js | stale")
        .expect("a stale row");
    assert!(
        stale_row
            < table
                .find("| https://www.example.com/old.css | lingering")
                .unwrap()
    );

    let e = edge(&answers()).await;
    let out = git_run(
        &e,
        dir.path(),
        &v1,
        &v2,
        &["--timeout", "2s", "--fail-on", "never"],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
}

#[tokio::test]
async fn a_deleted_file_lingers_then_is_gone() {
    let (dir, v1, v2) = repo();
    let host = "www.example.com";
    let edge = edge(&[
        (host, "/", vec![ok("home v2", "MISS")]),
        (host, "/app.js", vec![ok("app v2", "MISS")]),
        (
            host,
            "/old.css",
            vec![ok("old", "HIT"), ok("old", "HIT"), not_found()],
        ),
    ])
    .await;
    let out = git_run(&edge, dir.path(), &v1, &v2, &["--timeout", "30s"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let old = &verdicts(out.report())["https://www.example.com/old.css"];
    assert_eq!(old["verdict"], "fresh", "{}", out.all());
    assert_eq!(old["attempts"], 3);
    assert_eq!(old["status"], 404);
}

#[tokio::test]
async fn url_lists_verify_status_through_the_connect_address_and_are_off_by_default() {
    let host = "www.example.com";
    let edge = edge(&[
        (host, "/a.js", vec![ok("a", "HIT")]),
        (host, "/b.js", vec![ok("b", "HIT")]),
    ])
    .await;
    let emu = common::emulator(&[]).await;
    let urls = "http://www.example.com/a.js\nhttp://www.example.com/b.js";
    let out = common::run(&emu, &["run", "--urls", urls], &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.report().get("verify").is_none(),
        "off by default for URL lists"
    );
    assert!(edge.seen.lock().unwrap().is_empty());
    // HOST:PORT keeps the scheme (plain http here) and the URL's Host.
    let out = common::run(
        &emu,
        &[
            "run",
            "--urls",
            urls,
            "--verify",
            "status",
            "--verify-connect",
            &edge.addr,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let v = verdicts(out.report());
    assert_eq!(
        v["http://www.example.com/a.js"]["verdict"],
        "fresh",
        "{}",
        out.all()
    );
    assert_eq!(v["http://www.example.com/b.js"]["verdict"], "fresh");
    let seen = edge.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.header("host") == Some(host)),
        "{seen:?}"
    );
    // content needs the deployed bytes.
    let out = common::run(&emu, &["run", "--urls", urls, "--verify", "content"], &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("--verify-root"), "{}", out.stderr);
}
