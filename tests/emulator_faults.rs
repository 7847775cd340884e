#![cfg(feature = "emulator")]
//! The emulator as a hostile or unlucky server, seen at the HTTP level: an answer lost after
//! the provider accepted the request (`lose-answer`), a body that never ends (`trickle`) or
//! is huge (`huge`, `huge-chunked`), a redirect a client must not follow (`redirect`),
//! listings that page forever (`endless-pages`) and requests that arrive late (`--slow`).
//! Faults fire on every Nth API request (`1/N`), so each test knows which request gets one.
//! Every bound is a count (of requests, chunks, bytes), never a sleep.

mod common;

use std::time::{Duration, Instant};

use cdn_refresh::emulator::Stats;
use cdn_refresh::providers::aliyun::sign::{V1Common, percent_encode, v1_sign};
use cdn_refresh::providers::huawei::sign::{
    DATE_FORMAT, SigningRequest, authorize, canonical_query,
};
use cdn_refresh::providers::qiniu::sign::{Scheme, authorization, qbox_token};
use cdn_refresh::providers::{Operation, QuotaKind};
use common::Emu;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

const ENDLESS_TOTAL: u64 = 1_000_000_000_000_000;

/// An Alibaba Cloud call, V1-signed, every parameter in the query.
fn aliyun(emu: &Emu, action: &str, params: &[(&str, &str)]) -> RequestBuilder {
    let mut all: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let common = V1Common {
        access_key_id: common::KEY_ID,
        security_token: None,
        version: "2018-05-10",
        action,
        timestamp: &timestamp,
        nonce: &nonce,
    };
    v1_sign("GET", &mut all, &common, common::SECRET);
    let query: Vec<String> = all
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    emu.http
        .get(format!("{}/?{}", emu.running.url(), query.join("&")))
}

/// A Qiniu call: a JSON body with a QBox token.
fn qiniu(emu: &Emu, path: &str, body: Value) -> RequestBuilder {
    let body = body.to_string();
    let content_type = "application/json";
    let token = qbox_token(
        "testak",
        b"testsk",
        path,
        Some(content_type),
        body.as_bytes(),
    );
    emu.http
        .post(format!("{}{path}", emu.running.url()))
        .header("content-type", content_type)
        .header("authorization", authorization(Scheme::QBox, &token))
        .body(body)
}

/// A Huawei call, SDK-HMAC-SHA256-signed; a body makes it a POST.
fn huawei(emu: &Emu, path: &str, query: &[(&str, &str)], body: Option<Value>) -> RequestBuilder {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let date = chrono::Utc::now().format(DATE_FORMAT).to_string();
    let headers = [
        ("Host".to_string(), emu.host()),
        ("X-Sdk-Date".to_string(), date.clone()),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    let signing = SigningRequest {
        method: method.as_str(),
        path,
        query: &query,
        headers: &headers,
        body: body.as_bytes(),
    };
    let auth = authorize("HWTESTAK", b"HWTESTSK", &signing).expect("host and date are signed");
    let mut url = format!("{}{path}", emu.running.url());
    if !query.is_empty() {
        url = format!("{url}?{}", canonical_query(&query));
    }
    emu.http
        .request(method, url)
        .header("x-sdk-date", date)
        .header("content-type", "application/json")
        .header("authorization", auth)
        .body(body)
}

/// Sends and reads a JSON answer.
async fn json(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// Sends and expects the connection to close without any answer.
async fn no_answer(request: RequestBuilder) {
    match request.send().await {
        Ok(r) => panic!("expected no answer, got HTTP {}", r.status()),
        Err(err) => assert!(!err.is_status() && !err.is_redirect(), "{err}"),
    }
}

fn nothing_accepted(stats: &Stats) {
    assert!(stats.accepted.refresh.is_empty(), "{stats:?}");
    assert!(stats.accepted.prefetch.is_empty(), "{stats:?}");
    assert!(
        stats.quota_used["aliyun"].values().all(|n| *n == 0),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_created, 0, "{stats:?}");
}

#[tokio::test]
async fn lose_answer_accepts_on_alibaba_then_closes_without_an_answer() {
    let emu = Emu::start(&["--fault", "lose-answer=1/2"]).await;
    let (status, _) = json(aliyun(&emu, "DescribeRefreshQuota", &[])).await;
    assert_eq!(status, 200);
    let url = "https://example.com/lost/a.js";
    no_answer(aliyun(&emu, "RefreshObjectCaches", &[("ObjectPath", url)])).await;

    // Accepted as a real acceptance: counted once, a task, quota used.
    let stats = emu.stats().await;
    assert_eq!(stats.faults["lose-answer"], 1);
    assert_eq!(stats.accepted.refresh[url], 1);
    assert_eq!(stats.tasks_created, 1);
    assert_eq!(stats.succeeded["RefreshObjectCaches"], 1);
    assert_eq!(stats.quota_used["aliyun"][&QuotaKind::RefreshUrl], 1);
    // And the lookup a client makes finds it.
    let (status, found) = json(aliyun(
        &emu,
        "DescribeRefreshTasks",
        &[("ObjectPath", url), ("ObjectType", "file")],
    ))
    .await;
    assert_eq!((status, &found["TotalCount"]), (200, &json!(1)), "{found}");

    let pushed = "https://static.example.com/lost/p.js";
    no_answer(aliyun(&emu, "PushObjectCache", &[("ObjectPath", pushed)])).await;
    let (_, found) = json(aliyun(
        &emu,
        "DescribeRefreshTasks",
        &[("ObjectPath", pushed), ("ObjectType", "preload")],
    ))
    .await;
    assert_eq!(found["TotalCount"], 1, "{found}");
    let stats = emu.stats().await;
    assert_eq!(stats.faults["lose-answer"], 2);
    assert_eq!(stats.accepted.prefetch[pushed], 1);
    assert_eq!(stats.tasks_created, 2);
}

#[tokio::test]
async fn lose_answer_accepts_on_qiniu_then_closes_without_an_answer() {
    let emu = Emu::start(&["--fault", "lose-answer=1/2"]).await;
    let first = "https://example.com/lost/first.js";
    let (status, _) = json(qiniu(&emu, "/v2/tune/refresh", json!({"urls": [first]}))).await;
    assert_eq!(status, 200);
    let url = "https://example.com/lost/q.js";
    no_answer(qiniu(&emu, "/v2/tune/refresh", json!({"urls": [url]}))).await;
    let (_, list) = json(qiniu(&emu, "/v2/tune/refresh/list", json!({"urls": [url]}))).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["url"], url);
    assert_eq!(list["items"][0]["state"], "processing");

    let pushed = "https://www.example.com/lost/p.js";
    no_answer(qiniu(&emu, "/v2/tune/prefetch", json!({"urls": [pushed]}))).await;
    let (_, list) = json(qiniu(
        &emu,
        "/v2/tune/prefetch/list",
        json!({"urls": [pushed]}),
    ))
    .await;
    assert_eq!(list["total"], 1, "{list}");

    let stats = emu.stats().await;
    assert_eq!(stats.faults["lose-answer"], 2);
    assert_eq!(stats.accepted.refresh[url], 1);
    assert_eq!(stats.accepted.prefetch[pushed], 1);
    assert_eq!(stats.succeeded["qiniu:refresh"], 2);
    assert_eq!(stats.quota_used["qiniu"][&QuotaKind::RefreshUrl], 2);
    assert_eq!(stats.tasks_created, 3);
}

#[tokio::test]
async fn lose_answer_accepts_on_huawei_and_url_tasks_finds_the_task() {
    let emu = Emu::start(&["--fault", "lose-answer=1/2"]).await;
    let (status, _) = json(huawei(&emu, "/v1.0/cdn/quota", &[], None)).await;
    assert_eq!(status, 200);
    let url = "https://example.com/lost/h.js";
    let body = json!({"refresh_task": {"urls": [url]}});
    no_answer(huawei(
        &emu,
        "/v1.0/cdn/content/refresh-tasks",
        &[],
        Some(body),
    ))
    .await;
    let lookup = "/v1.0/cdn/contentgateway/url-tasks";
    let (_, found) = json(huawei(&emu, lookup, &[("url", url)], None)).await;
    assert_eq!(found["total"], 1, "{found}");
    let task_id = found["result"][0]["task_id"].as_u64().expect("a number");
    // The task the lost answer would have named.
    let detail = format!("/v1.0/cdn/historytasks/{task_id}/detail");
    let body = json!({"preheating_task": {"urls": [url]}});
    no_answer(huawei(
        &emu,
        "/v1.0/cdn/content/preheating-tasks",
        &[],
        Some(body),
    ))
    .await;
    let (_, task) = json(huawei(&emu, &detail, &[], None)).await;
    assert_eq!(task["urls"][0]["url"], url, "{task}");
    // A lookup's answer can be lost too (the 6th request); it is simply asked again.
    let heats = || {
        huawei(
            &emu,
            lookup,
            &[("url", url), ("task_type", "PREHEATING")],
            None,
        )
    };
    no_answer(heats()).await;
    let (_, heats) = json(heats()).await;
    assert_eq!(heats["total"], 1, "{heats}");
    assert_eq!(heats["result"][0]["type"], "PREHEATING");

    let stats = emu.stats().await;
    assert_eq!(stats.faults["lose-answer"], 3);
    assert_eq!(stats.accepted.refresh[url], 1);
    assert_eq!(stats.accepted.prefetch[url], 1);
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::RefreshUrl], 1);
    assert_eq!(stats.tasks_created, 2);
}

/// At most this long for any one read of a streamed answer: a safety bound, not a clock
/// the test depends on.
const READ_BOUND: Duration = Duration::from_secs(10);

#[tokio::test]
async fn trickle_sends_headers_then_a_body_that_never_ends() {
    let emu = Emu::start(&["--fault", "trickle=1/2"]).await;
    let (status, _) = json(aliyun(&emu, "DescribeRefreshQuota", &[])).await;
    assert_eq!(status, 200);
    let url = "https://example.com/trickle/a.js";
    let mut slow = aliyun(&emu, "RefreshObjectCaches", &[("ObjectPath", url)])
        .send()
        .await
        .expect("headers arrive at once");
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.headers()["content-type"], "application/json");
    assert_eq!(slow.content_length(), None);
    let start = read_chunks(&mut slow, 3).await;
    assert!(start.starts_with(b"{\""), "{start:?}");
    // Meanwhile the emulator serves other requests.
    let (status, _) = json(aliyun(&emu, "DescribeRefreshQuota", &[])).await;
    assert_eq!(status, 200);
    let more = read_chunks(&mut slow, 5).await;
    assert!(more.iter().all(|b| *b == b' '), "{more:?}");
    drop(slow);

    // Nothing was processed.
    let stats = emu.stats().await;
    assert_eq!(stats.faults["trickle"], 1);
    assert_eq!(stats.requests["RefreshObjectCaches"], 1);
    nothing_accepted(&stats);
}

/// Reads `n` chunks of a body that must not end.
async fn read_chunks(response: &mut reqwest::Response, n: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..n {
        let chunk = tokio::time::timeout(READ_BOUND, response.chunk())
            .await
            .expect("a chunk within the bound")
            .expect("the body goes on")
            .expect("and does not end");
        assert!(!chunk.is_empty());
        body.extend_from_slice(&chunk);
    }
    body
}

/// Reads a whole body chunk by chunk: `(bytes, chunks)`.
async fn read_all(mut response: reqwest::Response) -> (u64, usize) {
    let (mut bytes, mut chunks) = (0, 0);
    while let Some(chunk) = tokio::time::timeout(READ_BOUND, response.chunk())
        .await
        .expect("a chunk within the bound")
        .expect("the body reads")
    {
        assert!(chunk.iter().all(|b| *b == b' '));
        bytes += chunk.len() as u64;
        chunks += 1;
    }
    (bytes, chunks)
}

#[tokio::test]
async fn huge_bodies_stream_with_and_without_content_length() {
    let size = "3000001";
    let flags = [
        "--fault",
        "huge=1/2",
        "--fault",
        "huge-chunked=1/3",
        "--huge-body-bytes",
        size,
    ];
    let emu = Emu::start(&flags).await;
    let quota = || huawei(&emu, "/v1.0/cdn/quota", &[], None);
    assert_eq!(json(quota()).await.0, 200);

    let huge = quota().send().await.unwrap();
    assert_eq!(huge.status(), 200);
    assert_eq!(huge.headers()["content-length"], size);
    assert_eq!(huge.content_length(), Some(3_000_001));
    let (bytes, chunks) = read_all(huge).await;
    assert_eq!(bytes, 3_000_001);
    assert!(chunks > 1, "streamed: {chunks} chunks");

    let chunked = quota().send().await.unwrap();
    assert_eq!(chunked.status(), 200);
    assert!(chunked.headers().get("content-length").is_none());
    assert_eq!(chunked.headers()["transfer-encoding"], "chunked");
    assert_eq!(read_all(chunked).await.0, 3_000_001);

    let stats = emu.stats().await;
    assert_eq!((stats.faults["huge"], stats.faults["huge-chunked"]), (1, 1));
    assert_eq!(stats.succeeded["huawei:quota"], 1);

    // The default: 64 MiB, announced up front; a client may stop reading at any point.
    let emu = Emu::start(&["--fault", "huge=1/1"]).await;
    let mut huge = json_request_to(&emu).send().await.unwrap();
    assert_eq!(huge.headers()["content-length"], (64u64 << 20).to_string());
    assert!(!huge.chunk().await.unwrap().unwrap().is_empty());
    drop(huge);
}

fn json_request_to(emu: &Emu) -> RequestBuilder {
    qiniu(
        emu,
        "/v2/tune/refresh",
        json!({"urls": ["https://example.com/h.js"]}),
    )
}

#[tokio::test]
async fn redirect_is_a_307_elsewhere_and_processes_nothing() {
    let no_follow = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let emu = Emu {
        running: common::emulator(&["--fault", "redirect=1/1", "--redirect-port", "9"]).await,
        http: no_follow(),
    };
    let r = aliyun(
        &emu,
        "RefreshObjectCaches",
        &[("ObjectPath", "https://example.com/r.js")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 307);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:9/?") && location.contains("RefreshObjectCaches"),
        "{location}"
    );
    let r = qiniu(&emu, "/v2/tune/refresh/list", json!({"urls": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"],
        "http://127.0.0.1:9/v2/tune/refresh/list"
    );
    let stats = emu.stats().await;
    assert_eq!(stats.faults["redirect"], 2);
    assert!(stats.succeeded.is_empty() && stats.errors.is_empty());
    nothing_accepted(&stats);

    // By default, the port after the emulator's own.
    let emu = Emu {
        running: common::emulator(&["--fault", "redirect=1/1"]).await,
        http: no_follow(),
    };
    let r = huawei(&emu, "/v1.0/cdn/quota", &[], None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    let port: u16 = emu.host().rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("http://127.0.0.1:{}/v1.0/cdn/quota", port + 1).as_str()
    );
}

#[tokio::test]
async fn endless_pages_on_alibaba_are_full_with_a_huge_total() {
    let emu = Emu::start(&["--fault", "endless-pages=1/2"]).await;
    let url = "https://example.com/endless/a.js";
    let (_, r) = json(aliyun(&emu, "RefreshObjectCaches", &[("ObjectPath", url)])).await;
    let id = r["RefreshTaskId"].as_str().unwrap().to_string();
    let page = |n: &'static str| {
        aliyun(
            &emu,
            "DescribeRefreshTasks",
            &[("TaskId", &id), ("PageNumber", n), ("PageSize", "50")],
        )
    };
    let (status, endless) = json(page("1000")).await;
    assert_eq!(status, 200);
    assert_eq!(endless["TotalCount"], ENDLESS_TOTAL);
    assert_eq!(endless["PageNumber"], 1000);
    let tasks = endless["Tasks"]["CDNTask"].as_array().unwrap();
    assert_eq!(tasks.len(), 50);
    for t in tasks {
        assert_eq!(t["TaskId"], id.as_str());
        assert_eq!(t["Status"], "Refreshing");
        assert!(t["ObjectPath"].as_str().unwrap().starts_with("http://"));
    }
    // The next call is served normally: the real listing has one entry.
    let (_, real) = json(page("1")).await;
    assert_eq!(real["TotalCount"], 1, "{real}");
    // A call that does not page is not affected.
    let (status, quota) = json(aliyun(&emu, "DescribeRefreshQuota", &[])).await;
    assert_eq!((status, quota["UrlRemain"].as_str()), (200, Some("9999")));
    let stats = emu.stats().await;
    assert_eq!(stats.faults["endless-pages"], 2);
}

#[tokio::test]
async fn endless_pages_on_qiniu_are_full_with_a_huge_total() {
    let emu = Emu::start(&["--fault", "endless-pages=1/2"]).await;
    let url = "https://example.com/endless/q.js";
    let (_, r) = json(qiniu(&emu, "/v2/tune/refresh", json!({"urls": [url]}))).await;
    let request_id = r["requestId"].as_str().unwrap().to_string();
    let list = |page: u64| {
        qiniu(
            &emu,
            "/v2/tune/refresh/list",
            json!({"requestId": request_id, "pageNo": page, "pageSize": 100}),
        )
    };
    let (status, endless) = json(list(1000)).await;
    assert_eq!(status, 200);
    assert_eq!(endless["total"], ENDLESS_TOTAL);
    assert_eq!(endless["currentSize"], 100);
    let items = endless["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    for item in items {
        assert_eq!(item["requestId"], request_id.as_str());
        assert_eq!(item["state"], "processing");
        assert_eq!(item["taskId"].as_str().unwrap().len(), 24);
    }
    let (_, real) = json(list(0)).await;
    assert_eq!(real["total"], 1, "{real}");
}

#[tokio::test]
async fn endless_pages_on_huawei_are_full_with_a_huge_total() {
    let emu = Emu::start(&["--fault", "endless-pages=1/2"]).await;
    let url = "https://example.com/endless/h.js";
    let body = json!({"refresh_task": {"urls": [url]}});
    let (_, r) = json(huawei(
        &emu,
        "/v1.0/cdn/content/refresh-tasks",
        &[],
        Some(body),
    ))
    .await;
    let id = r["refresh_task"].as_str().unwrap().to_string();
    let detail = format!("/v1.0/cdn/historytasks/{id}/detail");
    let page = |n: &'static str| {
        huawei(
            &emu,
            &detail,
            &[("page_size", "30"), ("page_number", n)],
            None,
        )
    };
    let (status, endless) = json(page("1000")).await;
    assert_eq!(status, 200);
    assert_eq!(endless["id"], id.as_str());
    assert_eq!(endless["status"], "task_inprocess");
    assert_eq!(endless["total"], ENDLESS_TOTAL);
    let urls = endless["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 30);
    assert!(urls.iter().all(|u| u["task_id"] == id.as_str()));
    let (_, real) = json(page("1")).await;
    assert_eq!(real["total"], 1, "{real}");

    // ShowUrlTaskInfo pages forever too.
    let (_, rows) = json(huawei(
        &emu,
        "/v1.0/cdn/contentgateway/url-tasks",
        &[("url", url), ("offset", "99900"), ("limit", "100")],
        None,
    ))
    .await;
    assert_eq!(rows["total"], ENDLESS_TOTAL);
    assert_eq!(rows["count"], 100);
    let rows = rows["result"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| r["url"] == url && r["status"] == "refreshing")
    );
    let stats = emu.stats().await;
    assert_eq!(stats.faults["endless-pages"], 2);
    assert_eq!(stats.accepted.get(Operation::Refresh)[url], 1);
}

#[tokio::test]
async fn slow_requests_reach_the_rate_window_late() {
    let delay = Duration::from_millis(1500);
    let emu = Emu::start(&["--slow", "1/2=1500ms", "--huawei-requests-per-second", "1"]).await;
    let quota = || huawei(&emu, "/v1.0/cdn/quota", &[], None);
    assert_eq!(json(quota()).await.0, 200);
    // Sent right after the first: counted on arrival it would be over 1 call a second. Held
    // before the rate window sees it, it is counted more than a second after the first.
    let sent = Instant::now();
    let (status, body) = json(quota()).await;
    assert_eq!(status, 200, "{body}");
    assert!(sent.elapsed() >= delay);
    // The third is not held: it arrives right after the second was counted, and is refused.
    let (status, body) = json(quota()).await;
    assert_eq!((status, &body["error_code"]), (429, &json!("APIGW.0308")));

    let stats = emu.stats().await;
    assert_eq!(stats.faults["slow"], 1);
    assert_eq!(stats.requests["huawei:quota"], 3);
    assert_eq!(stats.succeeded["huawei:quota"], 2);
}
