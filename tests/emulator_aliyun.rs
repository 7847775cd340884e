#![cfg(feature = "emulator")]
//! The Alibaba Cloud CDN emulator, driven with hand-built requests signed by
//! `providers::aliyun::sign` (V1 over GET and POST, V3 over POST with a form body): every
//! action succeeds, every verification failure carries the documented code, limits and
//! quotas accept a request whole or not at all, faults consume nothing, and tasks run their
//! lifecycle. Waiting is always a bounded poll on observable state, never a fixed sleep.

mod common;

use std::time::{Duration, Instant};

use cdn_refresh::emulator::{self, EmulatorArgs, Stats};
use cdn_refresh::providers::aliyun::sign::{
    V3Request, percent_encode, sha256_hex, v1_signature, v1_string_to_sign, v3_authorization,
    v3_canonical_request, v3_signature, v3_string_to_sign,
};
use cdn_refresh::providers::{Operation, QuotaKind};
use common::Emu;
use serde_json::Value;

const VERSION: &str = "2018-05-10";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    V1Get,
    V1Post,
    V3,
}

const ALL_STYLES: [Style; 3] = [Style::V1Get, Style::V1Post, Style::V3];

/// One API request, signed at send time.
#[derive(Clone)]
struct Req {
    action: String,
    version: String,
    params: Vec<(String, String)>,
    key_id: String,
    secret: String,
    token: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    /// V1 `Format`; `None` leaves it out (XML by default).
    format: Option<String>,
    signature_method: String,
    /// A parameter changed after signing.
    tamper: Option<(String, String)>,
    /// A header sent but not signed (V3).
    unsigned_header: Option<(String, String)>,
}

fn req(action: &str) -> Req {
    Req {
        action: action.to_string(),
        version: VERSION.to_string(),
        params: vec![],
        key_id: "testid".into(),
        secret: "testsecret".into(),
        token: None,
        timestamp: None,
        nonce: None,
        format: Some("JSON".into()),
        signature_method: "HMAC-SHA1".into(),
        tamper: None,
        unsigned_header: None,
    }
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
    /// What the client signed.
    string_to_sign: String,
}

impl Resp {
    fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    fn ok(&self) -> &Self {
        assert_eq!(self.status, 200, "expected success, got {}", self.text);
        self
    }

    fn err(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.text
        );
        // The documented error body, and the request id in the header too.
        for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
            assert!(
                self.json[field].is_string(),
                "{field} missing: {}",
                self.text
            );
        }
        self
    }
}

fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Req {
    fn param(mut self, k: &str, v: &str) -> Self {
        self.params.push((k.into(), v.into()));
        self
    }

    fn paths(self, paths: &[String]) -> Self {
        let joined = paths.join("\n");
        self.param("ObjectPath", &joined)
    }

    fn key(mut self, id: &str, secret: &str, token: Option<&str>) -> Self {
        self.key_id = id.into();
        self.secret = secret.into();
        self.token = token.map(str::to_string);
        self
    }

    fn nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    fn timestamp(mut self, ts: &str) -> Self {
        self.timestamp = Some(ts.into());
        self
    }

    async fn send(&self, emu: &Emu, style: Style) -> Result<Resp, reqwest::Error> {
        let timestamp = self.timestamp.clone().unwrap_or_else(now_timestamp);
        let nonce = self
            .nonce
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let base = emu.running.url();
        let (request, string_to_sign) = match style {
            Style::V1Get | Style::V1Post => {
                let method = if style == Style::V1Get { "GET" } else { "POST" };
                let mut common: Vec<(String, String)> = vec![
                    ("Action".into(), self.action.clone()),
                    ("Version".into(), self.version.clone()),
                    ("AccessKeyId".into(), self.key_id.clone()),
                    ("SignatureMethod".into(), self.signature_method.clone()),
                    ("SignatureVersion".into(), "1.0".into()),
                    ("SignatureNonce".into(), nonce),
                    ("Timestamp".into(), timestamp),
                ];
                if let Some(f) = &self.format {
                    common.push(("Format".into(), f.clone()));
                }
                if let Some(t) = &self.token {
                    common.push(("SecurityToken".into(), t.clone()));
                }
                let mut action_params = self.params.clone();
                let all: Vec<_> = common.iter().chain(&action_params).cloned().collect();
                let sts = v1_string_to_sign(method, &all);
                common.push(("Signature".into(), v1_signature(&self.secret, &sts)));
                tamper(&mut action_params, &self.tamper);
                let request = if style == Style::V1Get {
                    let query: Vec<_> = common.into_iter().chain(action_params).collect();
                    emu.http.get(format!("{base}/?{}", encode_pairs(&query)))
                } else {
                    // Common parameters in the query, the operation's in a form body: the
                    // server must merge both, for the signature and for the operation.
                    emu.http
                        .post(format!("{base}/?{}", encode_pairs(&common)))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(encode_pairs(&action_params))
                };
                (request, sts)
            }
            Style::V3 => {
                // Like the official SDK: TaskId/quota params in the query, ObjectPath & co in
                // a form body.
                let (mut form, query): (Vec<_>, Vec<_>) =
                    self.params.iter().cloned().partition(|(k, _)| {
                        ["ObjectPath", "ObjectType", "Force"].contains(&k.as_str())
                    });
                let mut body = encode_pairs(&form);
                let mut headers: Vec<(String, String)> = vec![
                    ("host".into(), emu.host()),
                    ("x-acs-action".into(), self.action.clone()),
                    ("x-acs-version".into(), self.version.clone()),
                    ("x-acs-date".into(), timestamp),
                    ("x-acs-signature-nonce".into(), nonce),
                    ("x-acs-content-sha256".into(), sha256_hex(body.as_bytes())),
                ];
                if !form.is_empty() {
                    headers.push((
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
                if let Some(t) = &self.token {
                    headers.push(("x-acs-security-token".into(), t.clone()));
                }
                let hash = sha256_hex(body.as_bytes());
                let (canonical, signed) = v3_canonical_request(&V3Request {
                    method: "POST",
                    path: "/",
                    query: &query,
                    headers: &headers,
                    payload_hash: &hash,
                });
                let sts = v3_string_to_sign(&canonical);
                let authorization =
                    v3_authorization(&self.key_id, &signed, &v3_signature(&self.secret, &sts));
                if self.tamper.is_some() {
                    tamper(&mut form, &self.tamper);
                    body = encode_pairs(&form);
                }
                let url = if query.is_empty() {
                    format!("{base}/")
                } else {
                    format!("{base}/?{}", encode_pairs(&query))
                };
                let mut request = emu.http.post(url).header("authorization", authorization);
                // reqwest sends the same host header itself.
                for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                    request = request.header(k, v);
                }
                if let Some((k, v)) = &self.unsigned_header {
                    request = request.header(k, v);
                }
                (request.body(body), sts)
            }
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            json,
            string_to_sign,
        })
    }

    async fn v1(&self, emu: &Emu) -> Resp {
        self.send(emu, Style::V1Post).await.expect("answered")
    }

    async fn v3(&self, emu: &Emu) -> Resp {
        self.send(emu, Style::V3).await.expect("answered")
    }
}

fn tamper(params: &mut [(String, String)], change: &Option<(String, String)>) {
    if let Some((k, v)) = change {
        for p in params.iter_mut().filter(|(name, _)| name == k) {
            p.1 = v.clone();
        }
    }
}

fn urls(host: &str, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("http://{host}/{tag}/{i}.js"))
        .collect()
}

fn nothing_accepted(stats: &Stats) {
    assert!(stats.accepted.refresh.is_empty(), "{stats:?}");
    assert!(stats.accepted.prefetch.is_empty(), "{stats:?}");
    assert!(
        stats.quota_used["aliyun"].values().all(|n| *n == 0),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_created, 0);
}

/// Polls `DescribeRefreshTaskById` until every entry is terminal, within a deadline.
async fn wait_terminal(emu: &Emu, task_ids: &str, deadline: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = req("DescribeRefreshTaskById")
            .param("TaskId", task_ids)
            .v3(emu)
            .await;
        r.ok();
        let tasks = r.json["Tasks"].as_array().unwrap().clone();
        let done = tasks
            .iter()
            .all(|t| matches!(t["Status"].as_str(), Some("Complete" | "Failed")));
        if done {
            return tasks;
        }
        assert!(
            start.elapsed() < deadline,
            "tasks not finished after {deadline:?}: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_action_succeeds_with_v1_get_v1_post_and_v3() {
    let emu = Emu::start(&[]).await;
    for style in ALL_STYLES {
        let tag = format!("{style:?}");
        let refresh = req("RefreshObjectCaches")
            .paths(&[
                format!("example.com/{tag}/a.js"),
                format!("https://www.example.com/{tag}/b b.js"),
            ])
            .param("ObjectType", "File")
            .send(&emu, style)
            .await
            .unwrap();
        refresh.ok();
        let ids = refresh.json["RefreshTaskId"].as_str().unwrap().to_string();
        // One task per host, decimal ids.
        assert_eq!(ids.split(',').count(), 2, "{style:?}");
        assert!(ids.split(',').all(|id| id.parse::<u64>().is_ok()));
        let request_id = refresh.json["RequestId"].as_str().unwrap();
        assert_eq!(refresh.headers["x-acs-request-id"], request_id);

        let push = req("PushObjectCache")
            .paths(&[format!("http://static.example.com/{tag}/p.css")])
            .param("Area", "overseas")
            .param("L2Preload", "true")
            .param("WithHeader", r#"{"Accept-Encoding":["gzip"]}"#)
            .send(&emu, style)
            .await
            .unwrap();
        push.ok();
        let push_id = push.json["PushTaskId"].as_str().unwrap().to_string();

        let by_id = req("DescribeRefreshTaskById")
            .param("TaskId", &format!("{ids},{push_id}"))
            .send(&emu, style)
            .await
            .unwrap();
        by_id.ok();
        assert_eq!(by_id.json["TotalCount"], 3, "{}", by_id.text);
        let tasks = by_id.json["Tasks"].as_array().unwrap();
        let paths: Vec<&str> = tasks
            .iter()
            .map(|t| t["ObjectPath"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                format!("http://example.com/{tag}/a.js"),
                format!("https://www.example.com/{tag}/b b.js"),
                format!("http://static.example.com/{tag}/p.css"),
            ]
        );
        assert_eq!(tasks[2]["ObjectType"], "preload");
        for t in tasks {
            assert!(t["CreationTime"].as_str().unwrap().ends_with('Z'));
            assert!(t["Process"].as_str().unwrap().ends_with('%'));
            assert_eq!(t["Description"], "");
        }

        let quota = req("DescribeRefreshQuota").send(&emu, style).await.unwrap();
        quota.ok();
        for field in [
            "UrlQuota",
            "UrlRemain",
            "DirQuota",
            "DirRemain",
            "PreloadQuota",
            "PreloadRemain",
            "RegexQuota",
            "RegexRemain",
            "IgnoreParamsQuota",
            "IgnoreParamsRemain",
            "BlockQuota",
            "BlockRemain",
            "PreloadEdgeQuota",
            "PreloadEdgeRemain",
        ] {
            assert!(quota.json[field].is_string(), "{field}: {}", quota.text);
        }

        let listed = req("DescribeRefreshTasks")
            .param("TaskId", ids.split(',').next().unwrap())
            .send(&emu, style)
            .await
            .unwrap();
        listed.ok();
        assert_eq!(listed.json["TotalCount"], 1, "{}", listed.text);
        assert_eq!(
            listed.json["Tasks"]["CDNTask"][0]["ObjectPath"],
            format!("http://example.com/{tag}/a.js")
        );
    }
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 6);
    assert_eq!(stats.total_accepted(Operation::Prefetch), 3);
    assert_eq!(stats.accepted.refresh["example.com/V3/a.js"], 1);
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::RefreshUrl], 6);
    assert_eq!(stats.succeeded["RefreshObjectCaches"], 3);
    assert!(stats.errors.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn v1_answers_xml_without_format_and_v3_always_json() {
    let emu = Emu::start(&[]).await;
    let mut r = req("DescribeRefreshQuota");
    r.format = None;
    let xml = r.v1(&emu).await;
    assert_eq!(xml.status, 200);
    assert!(
        xml.text
            .starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><DescribeRefreshQuotaResponse>"#),
        "{}",
        xml.text
    );
    assert!(xml.text.contains("<UrlQuota>10000</UrlQuota>"));

    r.secret = "wrong".into();
    let err = r.v1(&emu).await;
    assert_eq!(err.status, 400);
    assert!(
        err.text.contains("<Error>") && err.text.contains("<Code>SignatureDoesNotMatch</Code>")
    );

    let mut v3 = req("DescribeRefreshQuota");
    v3.format = Some("XML".into());
    assert!(v3.v3(&emu).await.ok().json["UrlQuota"].is_string());
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_with_the_server_string_to_sign() {
    let emu = Emu::start(&[]).await;
    for style in ALL_STYLES {
        let r = req("RefreshObjectCaches")
            .paths(&["example.com/a.js".into()])
            .key("testid", "not-the-secret", None)
            .send(&emu, style)
            .await
            .unwrap();
        r.err(400, "SignatureDoesNotMatch");
        let message = r.json["Message"].as_str().unwrap();
        let (_, server_sts) = message
            .split_once("server string to sign is:")
            .expect("the message carries the server's string to sign");
        // Only the secret differed, so both sides built the same string to sign.
        assert_eq!(server_sts, r.string_to_sign, "{style:?}");
    }
    nothing_accepted(&emu.stats().await);
}

#[tokio::test]
async fn tampering_after_signing_is_rejected() {
    let emu = Emu::start(&[]).await;
    let mut r = req("RefreshObjectCaches").paths(&["example.com/a.js".into()]);
    r.tamper = Some(("ObjectPath".into(), "example.com/evil.js".into()));
    r.v1(&emu).await.err(400, "SignatureDoesNotMatch");
    // V3: the body is covered by x-acs-content-sha256.
    r.v3(&emu).await.err(400, "IncompleteSignature");

    // Every x-acs-* header sent must be signed.
    let mut r = req("DescribeRefreshQuota");
    r.unsigned_header = Some(("x-acs-extra".into(), "1".into()));
    let resp = r.v3(&emu).await;
    resp.err(400, "IncompleteSignature");
    assert!(
        resp.json["Message"]
            .as_str()
            .unwrap()
            .contains("x-acs-extra")
    );

    let mut r = req("DescribeRefreshQuota");
    r.signature_method = "HMAC-SHA256".into();
    r.v1(&emu).await.err(400, "IncompleteSignature");
    nothing_accepted(&emu.stats().await);
}

#[tokio::test]
async fn timestamps_must_be_fresh_and_well_formed() {
    let emu = Emu::start(&["--max-timestamp-skew", "5m"]).await;
    let old = (chrono::Utc::now() - chrono::TimeDelta::minutes(6))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let future = (chrono::Utc::now() + chrono::TimeDelta::minutes(6))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let near = (chrono::Utc::now() - chrono::TimeDelta::minutes(4))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for style in ALL_STYLES {
        let r = req("DescribeRefreshQuota");
        for ts in [&old, &future] {
            r.clone()
                .timestamp(ts)
                .send(&emu, style)
                .await
                .unwrap()
                .err(400, "InvalidTimeStamp.Expired");
        }
        r.clone()
            .timestamp("2024-01-02 03:04:05")
            .send(&emu, style)
            .await
            .unwrap()
            .err(400, "InvalidTimeStamp.Format");
        r.clone()
            .timestamp(&near)
            .send(&emu, style)
            .await
            .unwrap()
            .ok();
    }
}

#[tokio::test]
async fn a_nonce_is_used_once() {
    let emu = Emu::start(&[]).await;
    for style in ALL_STYLES {
        let nonce = uuid::Uuid::new_v4().to_string();
        let r = req("RefreshObjectCaches")
            .paths(&[format!("example.com/{style:?}.js")])
            .nonce(&nonce);
        r.send(&emu, style).await.unwrap().ok();
        r.send(&emu, style)
            .await
            .unwrap()
            .err(400, "SignatureNonceUsed");
    }
    // A replay accepts nothing twice.
    let stats = emu.stats().await;
    assert!(
        stats.accepted.refresh.values().all(|n| *n == 1),
        "{stats:?}"
    );

    // A request rejected before the nonce check does not burn its nonce.
    let nonce = "not-burnt";
    let r = req("DescribeRefreshQuota").nonce(nonce);
    r.clone()
        .key("testid", "wrong", None)
        .v1(&emu)
        .await
        .err(400, "SignatureDoesNotMatch");
    r.v1(&emu).await.ok();
}

#[tokio::test]
async fn unknown_key_version_and_action() {
    let emu = Emu::start(&[]).await;
    for style in ALL_STYLES {
        req("DescribeRefreshQuota")
            .key("nobody", "x", None)
            .send(&emu, style)
            .await
            .unwrap()
            .err(404, "InvalidAccessKeyId.NotFound");
        let mut r = req("DescribeRefreshQuota");
        r.version = "2014-11-11".into();
        r.send(&emu, style)
            .await
            .unwrap()
            .err(400, "InvalidVersion");
        req("DescribeCdnDomainDetail")
            .send(&emu, style)
            .await
            .unwrap()
            .err(404, "InvalidAction.NotFound");
    }
    let stats = emu.stats().await;
    assert_eq!(stats.requests["DescribeCdnDomainDetail"], 3);
    assert_eq!(stats.errors["InvalidAccessKeyId.NotFound"], 3);
}

#[tokio::test]
async fn sts_keys_need_exactly_their_token() {
    let emu = Emu::start(&[
        "--aliyun-key",
        "testid:testsecret",
        "--aliyun-key",
        "STS.id:stssecret:token:with:colons",
    ])
    .await;
    for style in ALL_STYLES {
        let sts =
            |token: Option<&str>| req("DescribeRefreshQuota").key("STS.id", "stssecret", token);
        sts(Some("token:with:colons"))
            .send(&emu, style)
            .await
            .unwrap()
            .ok();
        for bad in [Some("other-token"), None] {
            sts(bad)
                .send(&emu, style)
                .await
                .unwrap()
                .err(400, "InvalidSecurityToken.MismatchWithAccessKey");
        }
        // A permanent key takes no token.
        req("DescribeRefreshQuota")
            .key("testid", "testsecret", Some("token:with:colons"))
            .send(&emu, style)
            .await
            .unwrap()
            .err(400, "InvalidSecurityToken.MismatchWithAccessKey");
    }
}

#[tokio::test]
async fn over_limit_requests_accept_nothing() {
    let many_domains: Vec<String> = (0..11).map(|i| format!("d{i}.example.com")).collect();
    let domains = format!("example.com,{}", many_domains.join(","));
    let emu = Emu::start(&["--domains", &domains]).await;
    let refresh = |paths: Vec<String>, ty: &str| {
        req("RefreshObjectCaches")
            .paths(&paths)
            .param("ObjectType", ty)
    };
    refresh(urls("example.com", "f", 1001), "File")
        .v3(&emu)
        .await
        .err(400, "SingleRequest.OverLimit");
    refresh(urls("example.com", "f", 1001), "IgnoreParams")
        .v1(&emu)
        .await
        .err(400, "SingleRequest.OverLimit");
    let dirs: Vec<String> = (0..101).map(|i| format!("example.com/d{i}/")).collect();
    refresh(dirs, "Directory")
        .v3(&emu)
        .await
        .err(400, "SingleRequest.OverLimit");
    refresh(
        vec!["example.com/a.*\\.js".into(), "example.com/b.*".into()],
        "Regex",
    )
    .v3(&emu)
    .await
    .err(400, "SingleRequest.OverLimit");
    refresh(vec!["example.com/no-slash".into()], "Directory")
        .v3(&emu)
        .await
        .err(400, "InvalidObjectPath.Malformed");
    refresh(vec![format!("example.com/{}", "x".repeat(1020))], "File")
        .v3(&emu)
        .await
        .err(400, "InvalidObjectPath.Malformed");
    refresh(vec!["ftp://example.com/a".into()], "File")
        .v3(&emu)
        .await
        .err(400, "InvalidObjectPath.Malformed");
    refresh(vec!["example.com/a".into()], "Everything")
        .v3(&emu)
        .await
        .err(400, "InvalidObjectType.ValueNotSupported");
    let eleven: Vec<String> = many_domains.iter().map(|d| format!("{d}/a.js")).collect();
    let r = refresh(eleven.clone(), "File").v3(&emu).await;
    r.err(400, "InvalidObjectPath.Malformed");
    assert!(r.json["Message"].as_str().unwrap().contains("10 domains"));
    // Ten distinct domains are fine.
    refresh(eleven[..10].to_vec(), "File").v3(&emu).await.ok();

    req("PushObjectCache")
        .paths(&urls("example.com", "p", 101))
        .v3(&emu)
        .await
        .err(400, "InvalidObjectPath.ExceedsMaximum");
    req("PushObjectCache")
        .paths(&urls("example.com", "p", 1))
        .param("Area", "mars")
        .v3(&emu)
        .await
        .err(400, "InvalidArea.ValueNotSupported");
    req("RefreshObjectCaches")
        .v3(&emu)
        .await
        .err(400, "MissingParameter");
    let ids: Vec<String> = (1..=11).map(|i| i.to_string()).collect();
    req("DescribeRefreshTaskById")
        .param("TaskId", &ids.join(","))
        .v3(&emu)
        .await
        .err(400, "InvalidTaskId.ExceedsMaximum");

    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 10);
    assert_eq!(stats.total_accepted(Operation::Prefetch), 0);
    assert_eq!(stats.tasks_created, 10);
}

#[tokio::test]
async fn limits_at_the_edge_are_accepted() {
    let emu = Emu::start(&[]).await;
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "f", 1000))
        .v3(&emu)
        .await
        .ok();
    let dirs: Vec<String> = (0..100).map(|i| format!("example.com/d{i}/")).collect();
    req("RefreshObjectCaches")
        .paths(&dirs)
        .param("ObjectType", "Directory")
        .param("Force", "true")
        .v1(&emu)
        .await
        .ok();
    req("PushObjectCache")
        .paths(&urls("example.com", "p", 100))
        .v1(&emu)
        .await
        .ok();
    // `\r\n` separators and a 1,024-character path.
    let long = format!(
        "www.example.com/{}",
        "y".repeat(1024 - "www.example.com/".len())
    );
    req("RefreshObjectCaches")
        .param(
            "ObjectPath",
            &format!("www.example.com/crlf.js\r\n{long}\r\n"),
        )
        .param("ObjectType", "ExQuery")
        .v3(&emu)
        .await
        .ok();
    let stats = emu.stats().await;
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::RefreshUrl], 1000);
    assert_eq!(
        stats.quota_used["aliyun"][&QuotaKind::RefreshDirectory],
        100
    );
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::Prefetch], 100);
    assert_eq!(
        stats.quota_used["aliyun"][&QuotaKind::RefreshIgnoreParams],
        2
    );
    assert_eq!(stats.accepted.refresh["www.example.com/crlf.js"], 1);
}

#[tokio::test]
async fn an_unknown_domain_rejects_the_whole_request() {
    let emu = Emu::start(&[]).await;
    let r = req("RefreshObjectCaches")
        .paths(&[
            "http://example.com/ok.js".into(),
            "http://elsewhere.org/x.js".into(),
        ])
        .v3(&emu)
        .await;
    r.err(404, "InvalidDomain.NotFound");
    assert!(
        r.json["Message"]
            .as_str()
            .unwrap()
            .contains("elsewhere.org")
    );
    req("PushObjectCache")
        .paths(&["sub.example.com/x.js".into()])
        .v1(&emu)
        .await
        .err(404, "InvalidDomain.NotFound");
    nothing_accepted(&emu.stats().await);
}

#[tokio::test]
async fn daily_quotas_are_all_or_nothing() {
    let emu = Emu::start(&[
        "--url-quota",
        "5",
        "--preload-quota",
        "2",
        "--dir-quota",
        "1",
    ])
    .await;
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "a", 3))
        .v3(&emu)
        .await
        .ok();
    // Three more do not fit in the two left: none of them is accepted.
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "b", 3))
        .v3(&emu)
        .await
        .err(400, "QuotaExceeded.Refresh");
    let quota = req("DescribeRefreshQuota").v3(&emu).await;
    assert_eq!(quota.json["UrlQuota"], "5");
    assert_eq!(quota.json["UrlRemain"], "2");
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "c", 2))
        .v1(&emu)
        .await
        .ok();
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "d", 1))
        .v1(&emu)
        .await
        .err(400, "QuotaExceeded.Refresh");
    // Other kinds have their own quotas.
    req("RefreshObjectCaches")
        .paths(&["example.com/dir/".into()])
        .param("ObjectType", "Directory")
        .v3(&emu)
        .await
        .ok();
    req("PushObjectCache")
        .paths(&urls("example.com", "p", 3))
        .v3(&emu)
        .await
        .err(400, "QuotaExceeded.Preload");
    req("PushObjectCache")
        .paths(&urls("example.com", "p", 2))
        .v3(&emu)
        .await
        .ok();

    let stats = emu.stats().await;
    let refreshed: Vec<&String> = stats.accepted.refresh.keys().collect();
    assert!(
        refreshed
            .iter()
            .all(|p| !p.contains("/b/") && !p.contains("/d/"))
    );
    assert_eq!(stats.total_accepted(Operation::Refresh), 6);
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::RefreshUrl], 5);
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::Prefetch], 2);
    let quota = req("DescribeRefreshQuota").v1(&emu).await;
    assert_eq!(
        (
            &quota.json["UrlRemain"],
            &quota.json["DirRemain"],
            &quota.json["PreloadRemain"]
        ),
        (&Value::from("0"), &Value::from("0"), &Value::from("0"))
    );
}

#[tokio::test]
async fn refreshes_per_domain_per_minute_are_capped() {
    let emu = Emu::start(&["--urls-per-minute-per-domain", "5"]).await;
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "a", 4))
        .v3(&emu)
        .await
        .ok();
    // One domain over its cap rejects the whole request, including the other domain's paths.
    let mut mixed = urls("www.example.com", "b", 1);
    mixed.extend(urls("example.com", "b", 2));
    req("RefreshObjectCaches")
        .paths(&mixed)
        .v3(&emu)
        .await
        .err(400, "QuotaPerMinuteExceeded.Refresh");
    req("RefreshObjectCaches")
        .paths(&urls("www.example.com", "c", 5))
        .v3(&emu)
        .await
        .ok();
    req("RefreshObjectCaches")
        .paths(&urls("example.com", "d", 1))
        .v3(&emu)
        .await
        .ok();
    let stats = emu.stats().await;
    assert_eq!(stats.total_accepted(Operation::Refresh), 10);
    assert!(stats.accepted.refresh.keys().all(|p| !p.contains("/b/")));
}

#[tokio::test]
async fn calls_per_second_are_throttled_per_key_and_action() {
    let emu = Emu::start(&[
        "--quota-qps",
        "2",
        "--aliyun-key",
        "testid:testsecret",
        "--aliyun-key",
        "other:othersecret",
    ])
    .await;
    let started = Instant::now();
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(req("DescribeRefreshQuota").v3(&emu).await);
    }
    // Another key and another action have windows of their own.
    req("DescribeRefreshQuota")
        .key("other", "othersecret", None)
        .v3(&emu)
        .await
        .ok();
    req("DescribeRefreshTasks").v3(&emu).await.ok();
    results[0].ok();
    results[1].ok();
    // Three calls within one second: the third is over the limit of two.
    if started.elapsed() < Duration::from_millis(900) {
        let r = &results[2];
        r.err(400, "Throttling.User");
        assert_eq!(
            r.json["Message"],
            "Request was denied due to user flow control."
        );
    }
}

#[tokio::test]
async fn each_fault_kind_consumes_nothing() {
    for kind in ["throttle", "error", "drop", "garbage"] {
        let emu = Emu::start(&["--fault", &format!("{kind}=1/1")]).await;
        let outcome = req("RefreshObjectCaches")
            .paths(&["example.com/a.js".into()])
            .send(&emu, Style::V3)
            .await;
        match kind {
            "throttle" => {
                let r = outcome.unwrap();
                r.err(429, "TooManyRequests");
                assert_eq!(r.headers["x-acs-retry-after"], "100");
            }
            "error" => {
                outcome.unwrap().err(500, "InternalError");
            }
            "drop" => {
                let err = outcome
                    .err()
                    .expect("the connection closes without a response");
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
        // Faults come before authentication: even a wrong signature gets one.
        let _ = req("DescribeRefreshQuota")
            .key("testid", "wrong", None)
            .send(&emu, Style::V1Get)
            .await;
        let stats = emu.stats().await;
        assert_eq!(stats.faults[kind], 2, "{kind}");
        assert_eq!(stats.requests["RefreshObjectCaches"], 1);
        assert!(
            stats.errors.is_empty() && stats.succeeded.is_empty(),
            "{stats:?}"
        );
        nothing_accepted(&stats);
    }
}

#[tokio::test]
async fn every_nth_fault_counts_all_api_requests() {
    let emu = Emu::start(&["--fault", "error=1/3"]).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = if i % 2 == 0 {
            req("DescribeRefreshQuota").v3(&emu).await
        } else {
            req("RefreshObjectCaches")
                .paths(&[format!("example.com/{i}.js")])
                .v1(&emu)
                .await
        };
        statuses.push(r.status);
    }
    assert_eq!(statuses, vec![200, 200, 500, 200, 200, 500]);
    // The stats endpoint is never faulted nor counted.
    let stats = emu.stats().await;
    assert_eq!(stats.faults["error"], 2);
    assert_eq!(stats.total_requests(), 6);
    // Request 3 (quota) and 6 (refresh of 5.js) were faulted: 5.js was never accepted.
    assert_eq!(
        stats.accepted.refresh.keys().collect::<Vec<_>>(),
        vec!["example.com/1.js", "example.com/3.js"]
    );
}

#[tokio::test]
async fn tasks_run_to_complete_or_failed() {
    let emu = Emu::start(&["--task-duration", "400ms", "--fail-matching", "broken"]).await;
    let r = req("RefreshObjectCaches")
        .paths(&[
            "http://example.com/ok.js".into(),
            "http://example.com/broken.js".into(),
            "http://www.example.com/fine.css".into(),
        ])
        .v3(&emu)
        .await;
    r.ok();
    let ids = r.json["RefreshTaskId"].as_str().unwrap().to_string();
    let push = req("PushObjectCache")
        .paths(&["http://static.example.com/broken/p.js".into()])
        .v3(&emu)
        .await;
    let ids = format!("{ids},{}", push.json["PushTaskId"].as_str().unwrap());

    let first = req("DescribeRefreshTaskById")
        .param("TaskId", &ids)
        .v3(&emu)
        .await;
    for t in first.json["Tasks"].as_array().unwrap() {
        assert!(
            matches!(t["Status"].as_str(), Some("Pending" | "Refreshing")),
            "{t}"
        );
    }

    let tasks = wait_terminal(&emu, &ids, Duration::from_secs(10)).await;
    let by_path = |p: &str| tasks.iter().find(|t| t["ObjectPath"] == p).unwrap().clone();
    for ok in [
        "http://example.com/ok.js",
        "http://www.example.com/fine.css",
    ] {
        let t = by_path(ok);
        assert_eq!(
            (&t["Status"], &t["Process"]),
            (&"Complete".into(), &"100%".into())
        );
        assert_eq!(t["Description"], "");
    }
    for bad in [
        "http://example.com/broken.js",
        "http://static.example.com/broken/p.js",
    ] {
        let t = by_path(bad);
        assert_eq!(t["Status"], "Failed");
        assert_eq!(t["Description"], "Origin Return StatusCode 5XX");
    }

    // The paged listing sees the same, filtered by status.
    let failed = req("DescribeRefreshTasks")
        .param("ObjectType", "file")
        .param("Status", "Failed")
        .v3(&emu)
        .await;
    assert_eq!(failed.json["TotalCount"], 1, "{}", failed.text);
}

#[tokio::test]
async fn describe_refresh_tasks_pages_and_filters() {
    let emu = Emu::start(&[]).await;
    let r = req("RefreshObjectCaches")
        .paths(&urls("example.com", "page", 5))
        .v3(&emu)
        .await;
    let id = r.json["RefreshTaskId"].as_str().unwrap().to_string();
    req("PushObjectCache")
        .paths(&["www.example.com/pre.js".into()])
        .v3(&emu)
        .await
        .ok();

    let page = |n: &str, size: &str| {
        req("DescribeRefreshTasks")
            .param("PageNumber", n)
            .param("PageSize", size)
    };
    let first = page("1", "2").v3(&emu).await;
    assert_eq!(first.json["TotalCount"], 6);
    assert_eq!(first.json["PageSize"], 2);
    assert_eq!(first.json["Tasks"]["CDNTask"].as_array().unwrap().len(), 2);
    // Newest first: the prefetch comes first.
    assert_eq!(first.json["Tasks"]["CDNTask"][0]["ObjectType"], "preload");
    let last = page("3", "2").v3(&emu).await;
    assert_eq!(last.json["Tasks"]["CDNTask"].as_array().unwrap().len(), 2);
    let beyond = page("4", "2").v1(&emu).await;
    assert_eq!(beyond.json["Tasks"]["CDNTask"], Value::Array(vec![]));
    page("1", "101")
        .v3(&emu)
        .await
        .err(400, "InvalidPageSize.ValueNotSupported");

    let one = req("DescribeRefreshTasks")
        .param("ObjectPath", "http://example.com/page/3.js")
        .v3(&emu)
        .await;
    assert_eq!(one.json["TotalCount"], 1);
    assert_eq!(one.json["Tasks"]["CDNTask"][0]["TaskId"], id.as_str());
    let by_task = req("DescribeRefreshTasks")
        .param("TaskId", &id)
        .v1(&emu)
        .await;
    assert_eq!(by_task.json["TotalCount"], 5);
    let by_domain = req("DescribeRefreshTasks")
        .param("DomainName", "www.example.com")
        .param("ObjectType", "preload")
        .v3(&emu)
        .await;
    assert_eq!(by_domain.json["TotalCount"], 1);
    req("DescribeRefreshTasks")
        .param("DomainName", "www.example.com")
        .v3(&emu)
        .await
        .err(400, "MissingParameter");
}

/// The lookups a client makes after a lost answer: by one path exactly as it was sent, the
/// type, and a time range over `CreationTime`.
#[tokio::test]
async fn describe_refresh_tasks_finds_a_submission_as_sent() {
    // Unlimited lookups: this test makes more than a second's worth.
    let emu = Emu::start(&["--describe-tasks-qps", "0"]).await;
    let with_scheme = "https://example.com/look/a.js";
    let without = "www.example.com/look/b.js";
    let refresh = req("RefreshObjectCaches")
        .paths(&[with_scheme.into(), without.into()])
        .v3(&emu)
        .await;
    refresh.ok();
    let refresh_ids: Vec<String> = refresh.json["RefreshTaskId"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let pushed = "http://static.example.com/look/p.js";
    let push = req("PushObjectCache")
        .paths(&[pushed.into()])
        .v1(&emu)
        .await;
    push.ok();
    let push_id = push.json["PushTaskId"].as_str().unwrap().to_string();

    let lookup = |path: &str, object_type: Option<&str>| {
        let r = req("DescribeRefreshTasks").param("ObjectPath", path);
        match object_type {
            Some(t) => r.param("ObjectType", t),
            None => r,
        }
    };
    let tasks = |r: &Resp| -> Vec<Value> {
        r.ok();
        r.json["Tasks"]["CDNTask"].as_array().unwrap().clone()
    };
    let found = lookup(with_scheme, Some("file")).v3(&emu).await;
    let entries = tasks(&found);
    assert_eq!(entries.len(), 1, "{}", found.text);
    assert_eq!(found.json["TotalCount"], 1);
    let entry = &entries[0];
    assert!(refresh_ids.contains(&entry["TaskId"].as_str().unwrap().to_string()));
    assert_eq!(entry["ObjectPath"], with_scheme);
    // The documented shape, and nothing else.
    let mut keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "CreationTime",
            "Description",
            "ObjectPath",
            "ObjectType",
            "Process",
            "Status",
            "TaskId"
        ]
    );
    for field in ["PageNumber", "PageSize", "TotalCount"] {
        assert!(found.json[field].is_u64(), "{field}: {}", found.text);
    }
    assert!(found.json["RequestId"].is_string());

    // A path sent without its scheme is found as sent, and reported with `http://`.
    let bare = tasks(&lookup(without, None).v1(&emu).await);
    assert_eq!(bare.len(), 1);
    assert_eq!(bare[0]["ObjectPath"], format!("http://{without}"));
    assert!(refresh_ids.contains(&bare[0]["TaskId"].as_str().unwrap().to_string()));

    // Prefetches are `preload`, and only that.
    let preload = tasks(&lookup(pushed, Some("preload")).v3(&emu).await);
    assert_eq!(preload.len(), 1);
    assert_eq!(preload[0]["TaskId"], push_id.as_str());
    assert!(tasks(&lookup(pushed, Some("file")).v3(&emu).await).is_empty());
    assert!(tasks(&lookup(with_scheme, Some("preload")).v3(&emu).await).is_empty());

    // StartTime/EndTime compare the CreationTime shown, to the second, bounds included.
    let created = chrono::NaiveDateTime::parse_from_str(
        entry["CreationTime"].as_str().unwrap(),
        "%Y-%m-%dT%H:%M:%SZ",
    )
    .unwrap();
    let at = |seconds: i64| {
        (created + chrono::TimeDelta::seconds(seconds))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let in_range = |from: i64, to: i64| {
        lookup(with_scheme, Some("file"))
            .param("StartTime", &at(from))
            .param("EndTime", &at(to))
    };
    assert_eq!(tasks(&in_range(-60, 0).v3(&emu).await).len(), 1);
    assert_eq!(tasks(&in_range(0, 60).v3(&emu).await).len(), 1);
    assert!(tasks(&in_range(-60, -1).v3(&emu).await).is_empty());
    assert!(tasks(&in_range(1, 60).v3(&emu).await).is_empty());
}

#[tokio::test]
async fn denied_actions_are_forbidden_ram() {
    let emu = Emu::start(&["--deny-action", "PushObjectCache"]).await;
    let r = req("PushObjectCache")
        .paths(&["example.com/a.js".into()])
        .v3(&emu)
        .await;
    r.err(403, "Forbidden.RAM");
    assert!(
        r.json["Message"]
            .as_str()
            .unwrap()
            .contains("cdn:PushObjectCache")
    );
    assert_eq!(
        r.json["AccessDeniedDetail"]["AuthAction"],
        "cdn:PushObjectCache"
    );
    // Other actions are allowed; authentication still comes first.
    req("RefreshObjectCaches")
        .paths(&["example.com/a.js".into()])
        .v1(&emu)
        .await
        .ok();
    req("PushObjectCache")
        .paths(&["example.com/a.js".into()])
        .key("testid", "wrong", None)
        .v3(&emu)
        .await
        .err(400, "SignatureDoesNotMatch");
    assert_eq!(emu.stats().await.total_accepted(Operation::Prefetch), 0);

    let bad =
        emulator::start(EmulatorArgs::from_flags(&["--deny-action", "PushObjectCaches"]).unwrap())
            .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn latency_applies_to_every_api_request() {
    let emu = Emu::start(&["--latency", "150ms"]).await;
    let started = Instant::now();
    req("DescribeRefreshQuota")
        .key("nobody", "x", None)
        .v3(&emu)
        .await
        .err(404, "InvalidAccessKeyId.NotFound");
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stats_endpoint_matches_running_stats() {
    let emu = Emu::start(&[]).await;
    req("RefreshObjectCaches")
        .paths(&["example.com/a.js".into()])
        .v3(&emu)
        .await
        .ok();
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
    assert_eq!(served.accepted.refresh["example.com/a.js"], 1);

    let banner = emu.running.banner();
    let first = banner.lines().next().unwrap();
    assert_eq!(first, format!("listening on {}", emu.running.url()));
    assert!(banner.contains("testid") && banner.contains("example.com"));
    emu.running.shutdown();
}
