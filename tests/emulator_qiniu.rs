#![cfg(feature = "emulator")]
//! The Qiniu Fusion CDN emulator, driven with hand-built requests signed by
//! `providers::qiniu::sign` (QBox and Qiniu tokens): every call succeeds with either token,
//! every token failure is 401 "bad token", each validation rule and limit answers its code
//! and accepts nothing, quotas are all or nothing, faults come in Qiniu's format and
//! consume nothing, and tasks run their lifecycle. Waiting is always a bounded poll on
//! observable state, never a fixed sleep.

mod common;

use std::time::{Duration, Instant};

use cdn_refresh::emulator::{self, EmulatorArgs, Stats};
use cdn_refresh::providers::qiniu::sign::{
    QINIU_DATE_FORMAT, QiniuRequest, Scheme, authorization, qbox_token, qiniu_token,
};
use cdn_refresh::providers::{Operation, QuotaKind};
use common::Emu;
use serde_json::{Value, json};

const REFRESH: &str = "/v2/tune/refresh";
const PREFETCH: &str = "/v2/tune/prefetch";
const REFRESH_LIST: &str = "/v2/tune/refresh/list";
const PREFETCH_LIST: &str = "/v2/tune/prefetch/list";

/// Which token a request carries.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    QBox,
    /// With `X-Qiniu-Date`, as the official SDKs send it.
    Qiniu,
    /// Without `X-Qiniu-Date` (`DISABLE_QINIU_TIMESTAMP_SIGNATURE`).
    QiniuNoDate,
}

const BOTH: [Token; 2] = [Token::QBox, Token::Qiniu];

/// One API request, signed at send time.
#[derive(Clone)]
struct Req {
    method: reqwest::Method,
    path: String,
    body: String,
    content_type: Option<String>,
    ak: String,
    sk: String,
    token: Token,
    date: Option<String>,
    /// Sent instead of the computed `Authorization`; `Some("")` sends none.
    authorization: Option<String>,
    /// A body sent instead of the one signed.
    tampered_body: Option<String>,
}

fn req(path: &str, body: Value) -> Req {
    Req {
        method: reqwest::Method::POST,
        path: path.to_string(),
        body: body.to_string(),
        content_type: Some("application/json".into()),
        ak: "testak".into(),
        sk: "testsk".into(),
        token: Token::QBox,
        date: None,
        authorization: None,
        tampered_body: None,
    }
}

fn refresh(urls: &[String], dirs: &[String]) -> Req {
    req(REFRESH, json!({ "urls": urls, "dirs": dirs }))
}

fn prefetch(urls: &[String]) -> Req {
    req(PREFETCH, json!({ "urls": urls }))
}

fn now_date() -> String {
    chrono::Utc::now().format(QINIU_DATE_FORMAT).to_string()
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn code(&self) -> i64 {
        self.json["code"].as_i64().unwrap_or(0)
    }

    fn reason(&self) -> String {
        self.headers
            .get("x-emulator-reason")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    fn ok(&self) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (200, 200),
            "expected success, got {} ({})",
            self.text,
            self.reason()
        );
        assert_eq!(self.json["error"], "success");
        self.has_reqid();
        self
    }

    fn err(&self, code: i64) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            ((code / 1000) as u16, code),
            "body: {} ({})",
            self.text,
            self.reason()
        );
        assert!(self.json["error"].is_string(), "{}", self.text);
        assert!(self.json.get("requestId").is_none(), "{}", self.text);
        self.has_reqid();
        self
    }

    fn bad_token(&self) -> &Self {
        assert_eq!(self.status, 401, "body: {}", self.text);
        assert_eq!(self.json, json!({"error": "bad token"}));
        self.has_reqid();
        self
    }

    fn has_reqid(&self) {
        let id = self.headers.get("x-reqid").expect("X-Reqid header");
        assert!(!id.is_empty());
        assert_eq!(self.headers["content-type"], "application/json");
    }

    fn task_ids(&self) -> Vec<String> {
        self.json["taskIds"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    fn request_id(&self) -> String {
        self.json["requestId"].as_str().unwrap().to_string()
    }
}

impl Req {
    fn token(mut self, token: Token) -> Self {
        self.token = token;
        self
    }

    fn key(mut self, ak: &str, sk: &str) -> Self {
        self.ak = ak.into();
        self.sk = sk.into();
        self
    }

    fn send_raw(&self, emu: &Emu) -> reqwest::RequestBuilder {
        let url = format!("{}{}", emu.running.url(), self.path);
        let ct = self.content_type.as_deref();
        let body = self.body.as_bytes();
        let mut headers: Vec<(String, String)> = Vec::new();
        let token = match self.token {
            Token::QBox => qbox_token(&self.ak, self.sk.as_bytes(), &self.path, ct, body),
            Token::Qiniu | Token::QiniuNoDate => {
                if self.token == Token::Qiniu {
                    let date = self.date.clone().unwrap_or_else(now_date);
                    headers.push(("X-Qiniu-Date".into(), date));
                }
                let host = emu.host();
                qiniu_token(
                    &self.ak,
                    self.sk.as_bytes(),
                    &QiniuRequest {
                        method: self.method.as_str(),
                        path_and_query: &self.path,
                        host: &host,
                        content_type: ct,
                        headers: &headers,
                        body,
                    },
                )
            }
        };
        let scheme = if self.token == Token::QBox {
            Scheme::QBox
        } else {
            Scheme::Qiniu
        };
        let mut request = emu.http.request(self.method.clone(), url);
        match &self.authorization {
            Some(a) if a.is_empty() => {}
            Some(a) => request = request.header("authorization", a),
            None => request = request.header("authorization", authorization(scheme, &token)),
        }
        if let Some(ct) = ct {
            request = request.header("content-type", ct);
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.body(
            self.tampered_body
                .clone()
                .unwrap_or_else(|| self.body.clone()),
        )
    }

    async fn try_send(&self, emu: &Emu) -> Result<Resp, reqwest::Error> {
        let response = self.send_raw(emu).send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            json,
        })
    }

    async fn send(&self, emu: &Emu) -> Resp {
        self.try_send(emu).await.expect("answered")
    }
}

fn urls(host: &str, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("http://{host}/{tag}/{i}.js"))
        .collect()
}

fn dirs(host: &str, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://{host}/{tag}/{i}/"))
        .collect()
}

fn one(s: &str) -> Vec<String> {
    vec![s.to_string()]
}

fn nothing_accepted(stats: &Stats) {
    assert!(stats.accepted.refresh.is_empty(), "{stats:?}");
    assert!(stats.accepted.prefetch.is_empty(), "{stats:?}");
    assert!(
        stats.quota_used["qiniu"].values().all(|n| *n == 0),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_created, 0);
}

/// Lists `requestId` on `path` until no item is `processing`, within a deadline.
async fn wait_done(emu: &Emu, path: &str, request_id: &str, deadline: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = req(path, json!({ "requestId": request_id }))
            .send(emu)
            .await;
        r.ok();
        let items = r.json["items"].as_array().unwrap().clone();
        if items.iter().all(|i| i["state"] != "processing") {
            return items;
        }
        assert!(
            start.elapsed() < deadline,
            "tasks not finished after {deadline:?}: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_call_succeeds_with_either_token() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    for token in [Token::QBox, Token::Qiniu, Token::QiniuNoDate] {
        let tag = format!("{token:?}");
        let r = refresh(
            &urls("example.com", &tag, 2),
            &dirs("www.example.com", &tag, 1),
        )
        .token(token)
        .send(&emu)
        .await;
        r.ok();
        let request_id = r.request_id();
        assert_eq!(request_id.len(), 24);
        assert!(request_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(r.json["invalidUrls"], Value::Null);
        assert_eq!(r.json["invalidDirs"], Value::Null);
        assert_eq!(r.json["taskIds"].as_object().unwrap().len(), 3);
        for field in [
            "urlQuotaDay",
            "urlSurplusDay",
            "dirQuotaDay",
            "dirSurplusDay",
        ] {
            assert!(r.json[field].is_u64(), "{field}: {}", r.text);
        }

        let p = prefetch(&urls("static.example.com", &tag, 1))
            .token(token)
            .send(&emu)
            .await;
        p.ok();
        assert!(p.json["quotaDay"].is_u64() && p.json["surplusDay"].is_u64());
        assert_eq!(p.json["invalidUrls"], Value::Null);

        for (path, id) in [
            (REFRESH_LIST, &request_id),
            (PREFETCH_LIST, &p.request_id()),
        ] {
            let l = req(path, json!({ "requestId": id }))
                .token(token)
                .send(&emu)
                .await;
            l.ok();
            assert!(l.json["total"].as_u64().unwrap() >= 1, "{}", l.text);
        }
    }
    let stats = emu.stats().await;
    assert_eq!(stats.requests["qiniu:refresh"], 3);
    assert_eq!(stats.succeeded["qiniu:prefetch"], 3);
    assert_eq!(stats.succeeded["qiniu:refresh/list"], 3);
    assert_eq!(stats.succeeded["qiniu:prefetch/list"], 3);
    assert!(stats.errors.is_empty(), "{stats:?}");
    assert_eq!(stats.total_accepted(Operation::Refresh), 9);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshUrl], 6);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshDirectory], 3);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::Prefetch], 3);
    // Alibaba Cloud's quotas are another account's.
    assert!(stats.quota_used["aliyun"].is_empty(), "{stats:?}");
    assert_eq!(stats.tasks_created, 12);
}

#[tokio::test]
async fn token_failures_are_401_bad_token_and_accept_nothing() {
    let emu = Emu::start(&["--qiniu-key", "testak:testsk", "--qiniu-key", "ak2:sk2"]).await;
    let base = refresh(&one("http://example.com/a.js"), &[]);
    let cases: Vec<(&str, Req)> = vec![
        ("no header", {
            let mut r = base.clone();
            r.authorization = Some(String::new());
            r
        }),
        ("other scheme", {
            let mut r = base.clone();
            r.authorization = Some("Bearer testak:x".into());
            r
        }),
        ("no colon", {
            let mut r = base.clone();
            r.authorization = Some("QBox testak".into());
            r
        }),
        ("unknown key", base.clone().key("nobody", "testsk")),
        ("QBox wrong secret", base.clone().key("testak", "wrong")),
        (
            "Qiniu wrong secret",
            base.clone().key("testak", "wrong").token(Token::Qiniu),
        ),
        ("another key's secret", base.clone().key("ak2", "testsk")),
        ("QBox token of another path", {
            let mut r = base.clone();
            r.authorization = Some(authorization(
                Scheme::QBox,
                &qbox_token("testak", b"testsk", PREFETCH, None, b""),
            ));
            r
        }),
        ("Qiniu token, body changed after signing", {
            let mut r = base.clone().token(Token::Qiniu);
            r.tampered_body = Some(json!({"urls": ["http://example.com/b.js"]}).to_string());
            r
        }),
        ("Qiniu token, stale X-Qiniu-Date", {
            let mut r = base.clone().token(Token::Qiniu);
            let stale = chrono::Utc::now() - chrono::TimeDelta::minutes(16);
            r.date = Some(stale.format(QINIU_DATE_FORMAT).to_string());
            r
        }),
        ("Qiniu token, malformed X-Qiniu-Date", {
            let mut r = base.clone().token(Token::Qiniu);
            r.date = Some("2024-01-02T03:04:05Z".into());
            r
        }),
    ];
    for (name, r) in &cases {
        let resp = r.send(&emu).await;
        assert_eq!(resp.status, 401, "{name}: {}", resp.text);
        resp.bad_token();
        assert!(!resp.reason().is_empty(), "{name}");
    }
    let wrong = base.clone().key("testak", "wrong").send(&emu).await;
    assert!(
        wrong.reason().contains("/v2/tune/refresh\\n"),
        "the reason shows the data signed: {}",
        wrong.reason()
    );
    let stats = emu.stats().await;
    assert_eq!(stats.errors["qiniu:401"], cases.len() as u64 + 1);
    nothing_accepted(&stats);

    // The second key pair is the same account's, with either token.
    for token in BOTH {
        refresh(&one(&format!("http://example.com/k2-{token:?}.js")), &[])
            .key("ak2", "sk2")
            .token(token)
            .send(&emu)
            .await
            .ok();
    }
    // A QBox token does not cover a JSON body, exactly as on the real service.
    let mut changed = refresh(&one("http://example.com/c.js"), &[]);
    changed.tampered_body = Some(json!({"urls": ["http://example.com/d.js"]}).to_string());
    changed.send(&emu).await.ok();
    assert!(
        emu.stats()
            .await
            .accepted
            .refresh
            .contains_key("http://example.com/d.js")
    );
}

#[tokio::test]
async fn method_content_type_and_body_shape() {
    let emu = Emu::start(&[]).await;
    let mut get = refresh(&one("http://example.com/a.js"), &[]);
    get.method = reqwest::Method::GET;
    let r = get.send(&emu).await;
    assert_eq!(r.status, 405, "{}", r.text);

    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut r = refresh(&one("http://example.com/a.js"), &[]);
        r.content_type = ct.map(str::to_string);
        r.send(&emu).await.err(400000);
    }
    // With parameters, JSON is JSON.
    let mut charset = refresh(&one("http://example.com/a.js"), &[]);
    charset.content_type = Some("application/json; charset=utf-8".into());
    charset.send(&emu).await.ok();

    let bodies = [
        "not json".to_string(),
        "[]".to_string(),
        json!({"urls": "http://example.com/a.js"}).to_string(),
        json!({"urls": [1]}).to_string(),
        json!({"urls": [], "dirs": []}).to_string(),
        json!({}).to_string(),
        json!({"urls": null, "dirs": null}).to_string(),
    ];
    for body in bodies {
        let mut r = refresh(&[], &[]);
        r.body = body.clone();
        let resp = r.send(&emu).await;
        resp.err(400000);
        assert_eq!(resp.json["error"], "invalid input", "{body}");
    }
    req(PREFETCH, json!({"urls": []}))
        .send(&emu)
        .await
        .err(400000);
    // `null` is an empty list, as the Go SDK sends `"dirs": null`; unknown fields are ignored.
    req(
        REFRESH,
        json!({"urls": ["http://example.com/n.js"], "dirs": null, "extra": 1}),
    )
    .send(&emu)
    .await
    .ok();
    req(
        PREFETCH,
        json!({"urls": ["http://example.com/n.js"], "dirs": ["http://example.com/x/"]}),
    )
    .send(&emu)
    .await
    .ok();
}

#[tokio::test]
async fn malformed_paths_are_400031_and_named() {
    let emu = Emu::start(&[]).await;
    let good_url = "http://example.com/ok.js".to_string();
    let bad_urls = [
        "example.com/no-scheme.js",
        "ftp://example.com/a.js",
        "http://example.com/with space.js",
        "http://example.com/*.js",
        "http://",
        " http://example.com/lead.js",
    ];
    for bad in bad_urls {
        let r = refresh(&[good_url.clone(), bad.to_string()], &[])
            .send(&emu)
            .await;
        r.err(400031);
        assert_eq!(r.json["error"], "invalid url");
        assert_eq!(r.json["invalidUrls"], json!([bad]), "{bad}");
        assert!(r.json.get("invalidDirs").is_none());
    }
    let bad_dirs = [
        "http://example.com/no-slash",
        "http://example.com/a/*/b/",
        "http://example.com/a*/",
        "example.com/dir/",
    ];
    for bad in bad_dirs {
        let r = refresh(&[], &[bad.to_string()]).send(&emu).await;
        r.err(400031);
        assert_eq!(r.json["invalidDirs"], json!([bad]), "{bad}");
    }
    let r = prefetch(&one("https://example.com/a b.js"))
        .send(&emu)
        .await;
    r.err(400031);
    assert_eq!(r.json["invalidUrls"], json!(["https://example.com/a b.js"]));
    // Both sides are named at once.
    let r = refresh(&one("nope"), &one("http://example.com/nodir"))
        .send(&emu)
        .await;
    r.err(400031);
    assert_eq!(
        (&r.json["invalidUrls"], &r.json["invalidDirs"]),
        (&json!(["nope"]), &json!(["http://example.com/nodir"]))
    );
    nothing_accepted(&emu.stats().await);

    // The accepted spellings: a trailing `/*`, upper-case scheme and host, a port, a query.
    refresh(
        &[
            "HTTPS://WWW.Example.com/Q.js?v=1".into(),
            "http://example.com:8080/port.js".into(),
            "http://example.com/".into(),
        ],
        &[
            "http://example.com/star/*".into(),
            "http://example.com/".into(),
        ],
    )
    .send(&emu)
    .await
    .ok();
}

#[tokio::test]
async fn hosts_outside_domains_are_400032() {
    let emu = Emu::start(&["--domains", "example.com,cdn.example.com"]).await;
    let r = refresh(
        &[
            "http://example.com/a.js".into(),
            "http://not-mine.example.org/a.js".into(),
        ],
        &["http://www.example.com/d/".into()],
    )
    .send(&emu)
    .await;
    r.err(400032);
    assert_eq!(r.json["error"], "invalid host");
    assert_eq!(
        r.json["invalidUrls"],
        json!(["http://not-mine.example.org/a.js"])
    );
    assert_eq!(r.json["invalidDirs"], json!(["http://www.example.com/d/"]));
    prefetch(&one("https://sub.cdn.example.com/a.js"))
        .send(&emu)
        .await
        .err(400032);
    nothing_accepted(&emu.stats().await);
    prefetch(&one("https://cdn.example.com/a.js"))
        .send(&emu)
        .await
        .ok();
}

#[tokio::test]
async fn per_request_limits_reject_the_whole_request() {
    let emu = Emu::start(&["--qiniu-items-per-second", "0", "--task-duration", "0s"]).await;
    for (u, d) in [(61, 0), (0, 11), (61, 10), (60, 11)] {
        let r = refresh(
            &urls("example.com", "over", u),
            &dirs("example.com", "over", d),
        )
        .send(&emu)
        .await;
        r.err(400039);
        assert_eq!(r.json["error"], "commit too much");
    }
    prefetch(&urls("example.com", "over", 61))
        .send(&emu)
        .await
        .err(400039);
    nothing_accepted(&emu.stats().await);

    let r = refresh(
        &urls("example.com", "edge", 60),
        &dirs("example.com", "edge", 10),
    )
    .send(&emu)
    .await;
    r.ok();
    assert_eq!(r.json["taskIds"].as_object().unwrap().len(), 70);
    prefetch(&urls("example.com", "edge", 60))
        .send(&emu)
        .await
        .ok();
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 70);
    assert_eq!(stats.total_accepted(Operation::Prefetch), 60);
}

#[tokio::test]
async fn directory_refresh_can_be_disabled() {
    let emu = Emu::start(&["--qiniu-dir-refresh-disabled"]).await;
    let r = refresh(
        &one("http://example.com/a.js"),
        &one("http://example.com/d/"),
    )
    .send(&emu)
    .await;
    r.err(400038);
    assert_eq!(r.json["error"], "refresh dir authority error");
    nothing_accepted(&emu.stats().await);
    refresh(&one("http://example.com/a.js"), &[])
        .send(&emu)
        .await
        .ok();
}

#[tokio::test]
async fn a_path_still_processing_is_400037_and_rejects_the_request() {
    let emu = Emu::start(&["--task-duration", "1h"]).await;
    let first = refresh(
        &one("http://example.com/a.js"),
        &one("http://example.com/d/"),
    )
    .send(&emu)
    .await;
    first.ok();
    let before = emu.stats().await;

    let r = refresh(
        &[
            "http://example.com/new.js".into(),
            "http://example.com/a.js".into(),
        ],
        &one("http://example.com/d/"),
    )
    .send(&emu)
    .await;
    r.err(400037);
    assert_eq!(r.json["error"], "url has existed");
    assert_eq!(r.json["invalidUrls"], json!(["http://example.com/a.js"]));
    assert_eq!(r.json["invalidDirs"], json!(["http://example.com/d/"]));
    // Twice in one request is the same.
    let r = refresh(
        &[
            "http://example.com/x.js".into(),
            "http://example.com/x.js".into(),
        ],
        &[],
    )
    .send(&emu)
    .await;
    r.err(400037);
    assert_eq!(r.json["invalidUrls"], json!(["http://example.com/x.js"]));
    let after = emu.stats().await;
    assert_eq!(after.accepted, before.accepted);
    assert_eq!(after.quota_used["qiniu"], before.quota_used["qiniu"]);
    assert_eq!(after.tasks_created, before.tasks_created);

    // Another operation, or the same string as the other kind, is another task.
    prefetch(&one("http://example.com/a.js"))
        .send(&emu)
        .await
        .ok();
    refresh(&one("http://example.com/d/"), &[])
        .send(&emu)
        .await
        .ok();
    prefetch(&one("http://example.com/a.js"))
        .send(&emu)
        .await
        .err(400037);

    // Once finished, the same path can go again.
    let quick = Emu::start(&["--task-duration", "0s"]).await;
    for _ in 0..2 {
        refresh(&one("http://example.com/a.js"), &[])
            .send(&quick)
            .await
            .ok();
    }
}

#[tokio::test]
async fn daily_quotas_are_reported_and_all_or_nothing() {
    let emu = Emu::start(&[
        "--task-duration",
        "0s",
        "--qiniu-url-quota",
        "5",
        "--qiniu-dir-quota",
        "2",
        "--qiniu-prefetch-quota",
        "3",
    ])
    .await;
    let r = refresh(&urls("example.com", "q", 3), &dirs("example.com", "q", 1))
        .send(&emu)
        .await;
    r.ok();
    assert_eq!(
        (
            &r.json["urlQuotaDay"],
            &r.json["urlSurplusDay"],
            &r.json["dirQuotaDay"],
            &r.json["dirSurplusDay"]
        ),
        (&json!(5), &json!(2), &json!(2), &json!(1))
    );
    let before = emu.stats().await;
    // Three URLs do not fit in two: nothing is taken, the directory neither.
    let r = refresh(&urls("example.com", "q2", 3), &dirs("example.com", "q2", 1))
        .send(&emu)
        .await;
    r.err(400034);
    assert_eq!(r.json["error"], "refresh url limit error");
    // The URLs fit, the two directories do not: 400035, the URLs are not taken either.
    let r = refresh(&urls("example.com", "q3", 1), &dirs("example.com", "q3", 2))
        .send(&emu)
        .await;
    r.err(400035);
    assert_eq!(r.json["error"], "refresh dir limit error");
    let p = prefetch(&urls("example.com", "p", 4)).send(&emu).await;
    p.err(400033);
    assert_eq!(p.json["error"], "prefetch url limit error");
    let after = emu.stats().await;
    assert_eq!(after.accepted, before.accepted);
    assert_eq!(after.quota_used["qiniu"], before.quota_used["qiniu"]);
    assert_eq!(after.tasks_created, before.tasks_created);

    // What is left can be used to the last unit.
    let r = refresh(&urls("example.com", "q4", 2), &dirs("example.com", "q4", 1))
        .send(&emu)
        .await;
    r.ok();
    assert_eq!(
        (&r.json["urlSurplusDay"], &r.json["dirSurplusDay"]),
        (&json!(0), &json!(0))
    );
    let p = prefetch(&urls("example.com", "p", 3)).send(&emu).await;
    p.ok();
    assert_eq!(
        (&p.json["quotaDay"], &p.json["surplusDay"]),
        (&json!(3), &json!(0))
    );
    refresh(&urls("example.com", "q5", 1), &[])
        .send(&emu)
        .await
        .err(400034);
    refresh(&[], &dirs("example.com", "q5", 1))
        .send(&emu)
        .await
        .err(400035);
    let stats = emu.stats().await;
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshUrl], 5);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshDirectory], 2);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::Prefetch], 3);
    assert_eq!(stats.errors["qiniu:400034"], 2);
}

#[tokio::test]
async fn items_per_second_are_capped_across_refresh_and_prefetch() {
    let emu = Emu::start(&["--qiniu-items-per-second", "100", "--task-duration", "0s"]).await;
    let started = Instant::now();
    let a = refresh(&urls("example.com", "r", 50), &dirs("example.com", "r", 10))
        .send(&emu)
        .await;
    let b = prefetch(&urls("example.com", "p", 40)).send(&emu).await;
    let c = refresh(&urls("example.com", "over", 1), &[])
        .send(&emu)
        .await;
    let within_the_second = started.elapsed() < Duration::from_millis(900);
    a.ok();
    b.ok();
    if within_the_second {
        c.err(403024);
        assert_eq!(c.json["error"], "single user QPS Rate limited");
        let stats = emu.stats().await;
        assert_eq!(stats.total_accepted(Operation::Refresh), 60);
        assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshUrl], 50);
    }
    // The window slides: within a bounded wait the same request goes through.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = refresh(&urls("example.com", "later", 1), &[])
            .send(&emu)
            .await;
        if r.status == 200 {
            r.ok();
            break;
        }
        r.err(403024);
        assert!(Instant::now() < deadline, "still limited: {}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 0 is unlimited.
    let free = Emu::start(&["--qiniu-items-per-second", "0", "--task-duration", "0s"]).await;
    for i in 0..5 {
        refresh(&urls("example.com", &format!("f{i}"), 60), &[])
            .send(&free)
            .await
            .ok();
    }
}

#[tokio::test]
async fn tasks_run_to_success_or_failure() {
    let emu = Emu::start(&["--task-duration", "800ms", "--fail-matching", "broken"]).await;
    let r = refresh(
        &[
            "http://example.com/ok.js".into(),
            "http://example.com/broken.js".into(),
        ],
        &one("http://www.example.com/dir/"),
    )
    .send(&emu)
    .await;
    r.ok();
    let request_id = r.request_id();
    let task_ids = r.task_ids();
    let p = prefetch(&one("http://static.example.com/broken/p.js"))
        .send(&emu)
        .await;
    p.ok();

    let first = req(REFRESH_LIST, json!({ "requestId": request_id }))
        .send(&emu)
        .await;
    first.ok();
    for item in first.json["items"].as_array().unwrap() {
        assert_eq!(item["state"], "processing", "{item}");
        assert_eq!(item["endAt"], "");
        assert_eq!(item["requestId"], request_id.as_str());
        assert!(task_ids.contains(&item["taskId"].as_str().unwrap().to_string()));
    }

    let items = wait_done(&emu, REFRESH_LIST, &request_id, Duration::from_secs(10)).await;
    assert_eq!(items.len(), 3);
    let by_url = |u: &str| items.iter().find(|i| i["url"] == u).unwrap().clone();
    let ok = by_url("http://example.com/ok.js");
    assert_eq!(
        (&ok["state"], &ok["stateDetail"], &ok["isDir"]),
        (&json!("success"), &json!(""), &json!("no"))
    );
    let dir = by_url("http://www.example.com/dir/");
    assert_eq!(
        (&dir["state"], &dir["isDir"]),
        (&json!("success"), &json!("yes"))
    );
    let bad = by_url("http://example.com/broken.js");
    assert_eq!(bad["state"], "failure");
    assert!(!bad["stateDetail"].as_str().unwrap().is_empty());
    let time = regex_like_time(ok["createAt"].as_str().unwrap());
    assert!(time, "{ok}");
    assert!(regex_like_time(ok["endAt"].as_str().unwrap()), "{ok}");
    assert!(ok["beginAt"].is_string() && ok["uid"].is_u64());

    let prefetched = wait_done(
        &emu,
        PREFETCH_LIST,
        &p.request_id(),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(prefetched.len(), 1);
    assert_eq!(prefetched[0]["state"], "failure");
    assert!(prefetched[0].get("isDir").is_none(), "{}", prefetched[0]);

    // The state filter sees the same.
    let failed = req(REFRESH_LIST, json!({ "state": "failure" }))
        .send(&emu)
        .await;
    assert_eq!(failed.json["total"], 1, "{}", failed.text);
}

/// `YYYY-MM-DD HH:MM:SS`.
fn regex_like_time(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

#[tokio::test]
async fn lists_page_filter_and_reject_unknown_request_ids() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    let a = refresh(&urls("example.com", "a", 5), &[]).send(&emu).await;
    a.ok();
    let b = refresh(&urls("example.com", "b", 2), &dirs("example.com", "b", 1))
        .send(&emu)
        .await;
    b.ok();
    let p = prefetch(&urls("example.com", "p", 1)).send(&emu).await;
    p.ok();

    let page = |n: u64, size: u64| {
        req(
            REFRESH_LIST,
            json!({ "requestId": a.request_id(), "pageNo": n, "pageSize": size }),
        )
    };
    let first = page(0, 2).send(&emu).await;
    first.ok();
    assert_eq!(
        (
            &first.json["total"],
            &first.json["pageNo"],
            &first.json["pageSize"]
        ),
        (&json!(5), &json!(0), &json!(2))
    );
    assert_eq!(first.json["currentSize"], 2);
    // Pages are 0-based and keep the request's order.
    assert_eq!(first.json["items"][0]["url"], "http://example.com/a/0.js");
    let last = page(2, 2).send(&emu).await;
    assert_eq!(last.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(last.json["items"][0]["url"], "http://example.com/a/4.js");
    let beyond = page(3, 2).send(&emu).await;
    beyond.ok();
    assert_eq!(beyond.json["items"], json!([]));
    page(0, 101).send(&emu).await.err(400000);
    let default = req(REFRESH_LIST, json!({ "requestId": a.request_id() }))
        .send(&emu)
        .await;
    assert_eq!(
        (&default.json["pageNo"], &default.json["pageSize"]),
        (&json!(0), &json!(100))
    );

    // Unknown ids, and a refresh id in the prefetch list.
    req(
        REFRESH_LIST,
        json!({ "requestId": "0123456789abcdef01234567" }),
    )
    .send(&emu)
    .await
    .err(400036);
    let r = req(PREFETCH_LIST, json!({ "requestId": a.request_id() }))
        .send(&emu)
        .await;
    r.err(400036);
    assert_eq!(r.json["error"], "invalid request id");
    // No filter at all is invalid input.
    req(REFRESH_LIST, json!({})).send(&emu).await.err(400000);
    req(REFRESH_LIST, json!({ "pageNo": 0, "pageSize": 10 }))
        .send(&emu)
        .await
        .err(400000);

    // Filters: urls, taskId, isDir, state, newest request first.
    let by_url = req(
        REFRESH_LIST,
        json!({ "urls": ["http://example.com/a/3.js", "https://example.com/b/0/"] }),
    )
    .send(&emu)
    .await;
    assert_eq!(by_url.json["total"], 2, "{}", by_url.text);
    assert_eq!(by_url.json["items"][0]["isDir"], "yes");
    let task_id = &b.task_ids()[0];
    let by_task = req(REFRESH_LIST, json!({ "taskId": task_id }))
        .send(&emu)
        .await;
    assert_eq!(by_task.json["total"], 1);
    let dirs_only = req(REFRESH_LIST, json!({ "isDir": "yes" }))
        .send(&emu)
        .await;
    assert_eq!(dirs_only.json["total"], 1);
    let files = req(REFRESH_LIST, json!({ "isDir": "no", "state": "success" }))
        .send(&emu)
        .await;
    assert_eq!(files.json["total"], 7);
    assert_eq!(files.json["items"][0]["requestId"], b.request_id().as_str());
    req(REFRESH_LIST, json!({ "state": "done" }))
        .send(&emu)
        .await
        .err(400000);
    req(REFRESH_LIST, json!({ "isDir": "true" }))
        .send(&emu)
        .await
        .err(400000);
    let prefetched = req(PREFETCH_LIST, json!({ "state": "success" }))
        .send(&emu)
        .await;
    assert_eq!(prefetched.json["total"], 1);

    // Dates (Beijing): today is in range; malformed or reversed ranges are rejected.
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&beijing).date_naive();
    let week_ago = today - chrono::TimeDelta::days(7);
    let range = |s: String, e: String| req(REFRESH_LIST, json!({ "startTime": s, "endTime": e }));
    let r = range(today.to_string(), today.to_string()).send(&emu).await;
    assert_eq!(r.json["total"], 8, "{}", r.text);
    range("2024/01/01".into(), today.to_string())
        .send(&emu)
        .await
        .err(400080);
    range(today.to_string(), "tomorrow".into())
        .send(&emu)
        .await
        .err(400081);
    range(week_ago.to_string(), today.to_string())
        .send(&emu)
        .await
        .err(400082);
    range(
        today.to_string(),
        (today - chrono::TimeDelta::days(1)).to_string(),
    )
    .send(&emu)
    .await
    .err(400082);
}

#[tokio::test]
async fn faults_come_in_qiniu_format_and_consume_nothing() {
    for kind in ["throttle", "error", "drop", "garbage"] {
        let emu = Emu::start(&["--fault", &format!("{kind}=1/1")]).await;
        let outcome = refresh(&one("http://example.com/a.js"), &[])
            .try_send(&emu)
            .await;
        match kind {
            "throttle" => {
                let r = outcome.unwrap();
                r.err(403024);
                assert_eq!(r.json["error"], "single user QPS Rate limited");
            }
            "error" => {
                let r = outcome.unwrap();
                r.err(500000);
                assert_eq!(r.json["error"], "internal error");
            }
            "drop" => {
                let err = outcome.err().expect("closed without an answer");
                assert!(!err.is_status(), "{err}");
            }
            _ => {
                let r = outcome.unwrap();
                assert_eq!(r.status, 200);
                assert!(
                    serde_json::from_str::<Value>(&r.text).is_err(),
                    "{}",
                    r.text
                );
            }
        }
        // Faults come before authentication: even a wrong token gets one.
        let _ = prefetch(&one("http://example.com/a.js"))
            .key("testak", "wrong")
            .try_send(&emu)
            .await;
        let stats = emu.stats().await;
        assert_eq!(stats.faults[kind], 2, "{kind}");
        assert_eq!(stats.requests["qiniu:refresh"], 1);
        assert_eq!(stats.requests["qiniu:prefetch"], 1);
        assert!(
            stats.errors.is_empty() && stats.succeeded.is_empty(),
            "{stats:?}"
        );
        nothing_accepted(&stats);
    }

    // `1/N` counts every API request, whatever the provider.
    let emu = Emu::start(&["--fault", "error=1/2", "--task-duration", "0s"]).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = refresh(&urls("example.com", &format!("n{i}"), 1), &[])
            .send(&emu)
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, vec![200, 500, 200, 500]);
    assert_eq!(emu.stats().await.total_accepted(Operation::Refresh), 2);
}

#[tokio::test]
async fn stats_banner_and_keys() {
    let emu = Emu::start(&[]).await;
    refresh(&one("http://example.com/a.js"), &[])
        .send(&emu)
        .await
        .ok();
    refresh(&one("bad"), &[]).send(&emu).await.err(400031);
    let url = format!("{}/_emulator/stats", emu.running.url());
    let served: Stats = emu
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, emu.stats().await);
    assert_eq!(served.requests["qiniu:refresh"], 2);
    assert_eq!(served.errors["qiniu:400031"], 1);
    assert_eq!(served.accepted.refresh["http://example.com/a.js"], 1);
    assert_eq!(served.quota_used["qiniu"][&QuotaKind::RefreshUrl], 1);

    let banner = emu.running.banner();
    assert!(banner.starts_with(&format!("listening on {}\n", emu.running.url())));
    assert!(
        banner.contains("qiniu: access key testak (secret key testsk)"),
        "{banner}"
    );
    let custom = Emu::start(&["--qiniu-key", "myak:mysecret"]).await;
    let banner = custom.running.banner();
    assert!(banner.contains("qiniu: access key myak") && !banner.contains("mysecret"));

    let twice = emulator::start(
        EmulatorArgs::from_flags(&["--qiniu-key", "a:b", "--qiniu-key", "a:c"]).unwrap(),
    )
    .await;
    assert!(twice.is_err());
}
