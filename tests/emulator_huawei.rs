#![cfg(feature = "emulator")]
//! The Huawei Cloud CDN emulator, driven over HTTP with hand-built requests signed by
//! `providers::huawei::sign` (SDK-HMAC-SHA256): every call succeeds when signed the way
//! either official SDK signs, every authentication failure is the gateway's 401
//! `APIGW.0301`, each validation rule and limit answers its code and accepts nothing, quotas
//! are all or nothing, the gateway throttles with 429 `APIGW.0308`, faults come in Huawei's
//! format and consume nothing, and tasks run their lifecycle. Waiting is always a bounded
//! poll on observable state, never a fixed sleep.

mod common;

use std::time::{Duration, Instant};

use cdn_refresh::emulator::Stats;
use cdn_refresh::providers::huawei::sign::{
    DATE_FORMAT, SigningRequest, authorization, canonical_headers, canonical_query,
    canonical_request, signature, string_to_sign,
};
use cdn_refresh::providers::{Operation, QuotaKind};
use common::Emu;
use serde_json::{Value, json};

const REFRESH: &str = "/v1.0/cdn/content/refresh-tasks";
const PREHEAT: &str = "/v1.0/cdn/content/preheating-tasks";
const HISTORY: &str = "/v1.0/cdn/historytasks";
const QUOTA: &str = "/v1.0/cdn/quota";
const URL_TASKS: &str = "/v1.0/cdn/contentgateway/url-tasks";

fn detail_path(id: &str) -> String {
    format!("{HISTORY}/{id}/detail")
}

/// One API request, signed at send time.
#[derive(Clone)]
struct Req {
    method: reqwest::Method,
    path: String,
    query: Vec<(String, String)>,
    body: String,
    content_type: Option<String>,
    ak: String,
    sk: String,
    /// `X-Sdk-Date`; now when `None`.
    date: Option<String>,
    /// More headers, sent and (unless `signed` says otherwise) signed.
    headers: Vec<(String, String)>,
    /// The names of the headers to sign; every header sent when `None` (the Python SDK's way).
    signed: Option<Vec<&'static str>>,
    /// Sent instead of the computed `Authorization`; `Some("")` sends none.
    authorization: Option<String>,
    /// What is sent instead of what was signed.
    sent_body: Option<String>,
    sent_path: Option<String>,
    sent_query: Option<Vec<(String, String)>>,
}

fn req(method: reqwest::Method, path: &str) -> Req {
    Req {
        method,
        path: path.to_string(),
        query: vec![],
        body: String::new(),
        content_type: Some("application/json".into()),
        ak: "HWTESTAK".into(),
        sk: "HWTESTSK".into(),
        date: None,
        headers: vec![],
        signed: None,
        authorization: None,
        sent_body: None,
        sent_path: None,
        sent_query: None,
    }
}

fn get(path: &str, query: &[(&str, &str)]) -> Req {
    let mut r = req(reqwest::Method::GET, path);
    r.query = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    r
}

fn post(path: &str, body: Value) -> Req {
    let mut r = req(reqwest::Method::POST, path);
    r.body = body.to_string();
    r
}

fn refresh(kind: &str, urls: &[String]) -> Req {
    post(
        REFRESH,
        json!({"refresh_task": {"type": kind, "urls": urls}}),
    )
}

fn preheat(urls: &[String]) -> Req {
    post(PREHEAT, json!({"preheating_task": {"urls": urls}}))
}

fn now_date() -> String {
    chrono::Utc::now().format(DATE_FORMAT).to_string()
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn reason(&self) -> String {
        self.headers
            .get("x-emulator-reason")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    fn has_request_id(&self) {
        let id = self
            .headers
            .get("x-request-id")
            .expect("X-Request-Id header")
            .to_str()
            .unwrap();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }

    fn ok(&self) -> &Self {
        assert_eq!(
            self.status,
            200,
            "expected success, got {} ({})",
            self.text,
            self.reason()
        );
        assert!(
            self.json.get("error").is_none() && self.json.get("error_code").is_none(),
            "expected success, got {} ({})",
            self.text,
            self.reason()
        );
        self.has_request_id();
        self
    }

    /// A gateway error: top-level `error_code`/`error_msg`/`request_id`.
    fn gateway(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.json["error_code"].as_str()),
            (status, Some(code)),
            "body: {} ({})",
            self.text,
            self.reason()
        );
        assert!(self.json["error_msg"].is_string(), "{}", self.text);
        assert_eq!(
            self.json["request_id"].as_str(),
            self.headers["x-request-id"].to_str().ok()
        );
        assert!(self.json.get("error").is_none(), "{}", self.text);
        self.has_request_id();
        self
    }

    /// A CDN service error: nested under `error`.
    fn service(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.json["error"]["error_code"].as_str()),
            (status, Some(code)),
            "body: {} ({})",
            self.text,
            self.reason()
        );
        assert!(self.json["error"]["error_msg"].is_string(), "{}", self.text);
        assert!(self.json.get("error_code").is_none(), "{}", self.text);
        self.has_request_id();
        self
    }

    fn msg(&self) -> &str {
        self.json["error_msg"]
            .as_str()
            .or_else(|| self.json["error"]["error_msg"].as_str())
            .unwrap_or("")
    }

    /// A task id: a string of digits (ShowUrlTaskInfo carries it as a number).
    fn task_id(&self, field: &str) -> String {
        let id = self.json[field].as_str().expect("a task id").to_string();
        assert!(id.parse::<u64>().is_ok(), "{id}");
        id
    }
}

impl Req {
    fn key(mut self, ak: &str, sk: &str) -> Self {
        self.ak = ak.into();
        self.sk = sk.into();
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    async fn send(&self, emu: &Emu) -> Resp {
        let date = self.date.clone().unwrap_or_else(now_date);
        let mut sent: Vec<(String, String)> = vec![
            ("Host".into(), emu.host()),
            ("X-Sdk-Date".into(), date.clone()),
        ];
        if let Some(ct) = &self.content_type {
            sent.push(("Content-Type".into(), ct.clone()));
        }
        sent.extend(self.headers.iter().cloned());
        let signed: Vec<(String, String)> = match &self.signed {
            None => sent.clone(),
            Some(names) => sent
                .iter()
                .filter(|(n, _)| names.iter().any(|s| n.eq_ignore_ascii_case(s)))
                .cloned()
                .collect(),
        };
        let signing = SigningRequest {
            method: self.method.as_str(),
            path: &self.path,
            query: &self.query,
            headers: &signed,
            body: self.body.as_bytes(),
        };
        // Stage by stage rather than `authorize`, so that a test can leave `host` or
        // `x-sdk-date` out of the signature.
        let authorization = match &self.authorization {
            Some(a) => a.clone(),
            None => {
                let (_, list) = canonical_headers(&signed);
                let sts = string_to_sign(&canonical_request(&signing), &date);
                authorization(&self.ak, &list, &signature(self.sk.as_bytes(), &sts))
            }
        };
        let path = self.sent_path.as_deref().unwrap_or(&self.path);
        let query = canonical_query(self.sent_query.as_ref().unwrap_or(&self.query));
        let mut url = format!("{}{path}", emu.running.url());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut request = emu.http.request(self.method.clone(), url);
        for (name, value) in &sent {
            // reqwest writes the Host header from the URL itself.
            if !name.eq_ignore_ascii_case("host") {
                request = request.header(name, value);
            }
        }
        if !authorization.is_empty() {
            request = request.header("authorization", authorization);
        }
        let body = self.sent_body.clone().unwrap_or_else(|| self.body.clone());
        let response = request.body(body).send().await.expect("answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }
}

fn urls(host: &str, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://{host}/{tag}/{i}.js"))
        .collect()
}

fn dirs(host: &str, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("http://{host}/{tag}/{i}/"))
        .collect()
}

fn nothing_accepted(stats: &Stats) {
    assert!(stats.accepted.refresh.is_empty(), "{stats:?}");
    assert!(stats.accepted.prefetch.is_empty(), "{stats:?}");
    assert!(
        stats.quota_used["huawei"].values().all(|n| *n == 0),
        "{stats:?}"
    );
    assert_eq!(stats.tasks_created, 0);
}

/// Polls a task's detail until it is `task_done`, within a deadline.
async fn wait_done(emu: &Emu, id: &str, deadline: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = get(&detail_path(id), &[]).send(emu).await;
        r.ok();
        if r.json["status"] == "task_done" {
            return r.json;
        }
        assert!(
            start.elapsed() < deadline,
            "task {id} not done after {deadline:?}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `type → (quota_limit, used)` from ShowQuota.
async fn quotas(emu: &Emu) -> std::collections::BTreeMap<String, (u64, u64)> {
    let r = get(QUOTA, &[]).send(emu).await;
    r.ok();
    r.json["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            assert!(q["user_domain_id"].is_string(), "{q}");
            (
                q["type"].as_str().unwrap().to_string(),
                (
                    q["quota_limit"].as_u64().unwrap(),
                    q["used"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn refresh_and_preheat_tasks_run_their_lifecycle() {
    let emu = Emu::start(&["--task-duration", "2s", "--fail-matching", "broken"]).await;
    let mut file_urls = urls("example.com", "life", 2);
    file_urls.push("https://www.example.com/broken.js".into());
    let file = refresh("file", &file_urls).send(&emu).await;
    file.ok();
    let file_id = file.task_id("refresh_task");
    let dir = post(
        REFRESH,
        json!({"refresh_task": {"type": "directory", "mode": "detect_modify_refresh",
                                "zh_url_encode": false, "urls": dirs("www.example.com", "life", 1)}}),
    )
    .send(&emu)
    .await;
    dir.ok();
    let dir_id = dir.task_id("refresh_task");
    let heat = preheat(&urls("static.example.com", "life", 1))
        .send(&emu)
        .await;
    heat.ok();
    let heat_id = heat.task_id("preheating_task");
    assert!(file_id != dir_id && dir_id != heat_id, "distinct ids");

    // Just created (well within the 2 s the tasks take): nothing is final yet.
    let early = get(&detail_path(&file_id), &[]).send(&emu).await;
    early.ok();
    assert_eq!(early.json["status"], "task_inprocess", "{}", early.text);
    assert_eq!(early.json["processing"], 3);
    for u in early.json["urls"].as_array().unwrap() {
        assert!(
            matches!(u["status"].as_str(), Some("waiting" | "refreshing")),
            "{u}"
        );
    }

    let done = wait_done(&emu, &file_id, Duration::from_secs(10)).await;
    assert_eq!(done["id"], file_id.as_str());
    assert_eq!(done["task_type"], "refresh");
    assert_eq!(done["file_type"], "file");
    assert_eq!(
        (
            &done["total"],
            &done["succeed"],
            &done["failed"],
            &done["processing"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(0))
    );
    let detail_urls = done["urls"].as_array().unwrap();
    assert_eq!(detail_urls.len(), 3);
    for u in detail_urls {
        assert_eq!(u["task_id"], file_id.as_str());
        assert_eq!(u["task_type"], "REFRESH");
        assert!(u["create_time"].as_i64().unwrap() > 1_600_000_000_000);
        assert!(u["id"].is_string());
        if u["url"].as_str().unwrap().contains("broken") {
            assert_eq!(u["status"], "failed", "{u}");
            assert_eq!(u["fail_classify"], "ORIGIN_ERROR");
            assert!(u["fail_desc"].is_string());
        } else {
            assert_eq!(u["status"], "succeed", "{u}");
            assert!(u.get("fail_classify").is_none(), "{u}");
        }
    }
    let dir_done = wait_done(&emu, &dir_id, Duration::from_secs(10)).await;
    assert_eq!(dir_done["file_type"], "directory");
    assert_eq!(dir_done["succeed"], 1);
    let heat_done = wait_done(&emu, &heat_id, Duration::from_secs(10)).await;
    assert_eq!(heat_done["task_type"], "preheating");
    assert_eq!(heat_done["urls"][0]["task_type"], "PREHEATING");
    assert_eq!(heat_done["urls"][0]["status"], "succeed");

    // Detail filters and pages the URLs, counts stay the task's.
    let failed_only = get(&detail_path(&file_id), &[("status", "failed")])
        .send(&emu)
        .await;
    failed_only.ok();
    assert_eq!(failed_only.json["urls"].as_array().unwrap().len(), 1);
    assert_eq!(failed_only.json["total"], 3);
    let one = get(&detail_path(&file_id), &[("url", file_urls[1].as_str())])
        .send(&emu)
        .await;
    one.ok();
    assert_eq!(one.json["urls"][0]["url"], file_urls[1].as_str());
    let paged = get(
        &detail_path(&file_id),
        &[("page_size", "2"), ("page_number", "2")],
    )
    .send(&emu)
    .await;
    paged.ok();
    assert_eq!(paged.json["urls"].as_array().unwrap().len(), 1);

    let stats = emu.stats().await;
    assert_eq!(stats.succeeded["huawei:refresh"], 2);
    assert_eq!(stats.succeeded["huawei:preheat"], 1);
    assert!(stats.succeeded["huawei:historytasks/detail"] >= 6);
    assert_eq!(stats.tasks_created, 3);
    assert_eq!(stats.total_accepted(Operation::Refresh), 4);
    assert_eq!(stats.total_accepted(Operation::Prefetch), 1);
    assert!(stats.errors.is_empty(), "{stats:?}");
    // Other providers' quotas are other accounts'.
    assert!(stats.quota_used["aliyun"].is_empty() && stats.quota_used["qiniu"].is_empty());
}

/// ShowUrlTaskInfo's rows, after checking the page's shape.
fn url_rows(r: &Resp) -> Vec<Value> {
    r.ok();
    let rows = r.json["result"].as_array().expect("result").clone();
    assert_eq!(r.json["count"], rows.len(), "{}", r.text);
    assert!(r.json["total"].as_u64().unwrap() >= rows.len() as u64);
    rows
}

#[tokio::test]
async fn url_tasks_find_each_url_with_its_task_id() {
    let emu = Emu::start(&["--task-duration", "300ms", "--fail-matching", "broken"]).await;
    let a = "https://example.com/ut/a.js".to_string();
    let broken = "https://www.example.com/ut/broken.js".to_string();
    let file = refresh("file", &[a.clone(), broken.clone()])
        .send(&emu)
        .await;
    let file_id = file.task_id("refresh_task");
    let dir = post(
        REFRESH,
        json!({"refresh_task": {"type": "directory", "mode": "detect_modify_refresh",
                                "urls": ["http://static.example.com/ut/"]}}),
    )
    .send(&emu)
    .await;
    let dir_id = dir.task_id("refresh_task");
    let heat = preheat(std::slice::from_ref(&a)).send(&emu).await;
    let heat_id = heat.task_id("preheating_task");

    // One URL, two tasks: newest first, each row naming its task as a number.
    let r = get(URL_TASKS, &[("url", &a)]).send(&emu).await;
    let rows = url_rows(&r);
    assert_eq!(r.json["total"], 2, "{}", r.text);
    let number = |id: &str| json!(id.parse::<u64>().unwrap());
    assert_eq!(rows[0]["task_id"], number(&heat_id));
    assert_eq!(rows[0]["type"], "PREHEATING");
    assert!(rows[0].get("mode").is_none(), "{}", rows[0]);
    assert_eq!(rows[1]["task_id"], number(&file_id));
    assert_eq!(rows[1]["type"], "REFRESH");
    assert_eq!(rows[1]["mode"], "all");
    for row in &rows {
        assert_eq!(row["url"], a.as_str());
        assert_eq!(row["file_type"], "file");
        assert!(row["id"].is_u64(), "{row}");
        let created = row["create_time"].as_i64().unwrap();
        assert!(created > 1_600_000_000_000);
        assert!(row["modify_time"].as_i64().unwrap() >= created);
        assert!(
            matches!(
                row["status"].as_str(),
                Some("waiting" | "refreshing" | "preheating")
            ),
            "{row}"
        );
    }

    // Filters: task type, file type (with the directory's mode), today by default.
    let refreshes = get(URL_TASKS, &[("url", &a), ("task_type", "REFRESH")])
        .send(&emu)
        .await;
    assert_eq!(url_rows(&refreshes).len(), 1);
    let dirs = get(URL_TASKS, &[("file_type", "directory")])
        .send(&emu)
        .await;
    let dirs = url_rows(&dirs);
    assert_eq!(dirs.len(), 1);
    assert_eq!(dirs[0]["task_id"], number(&dir_id));
    assert_eq!(dirs[0]["mode"], "detect_modify_refresh");
    let all = get(URL_TASKS, &[]).send(&emu).await;
    assert_eq!(url_rows(&all).len(), 4);
    // Paged by offset and limit; `total` counts every match.
    let second = get(URL_TASKS, &[("offset", "1"), ("limit", "1")])
        .send(&emu)
        .await;
    let second_rows = url_rows(&second);
    assert_eq!((second_rows.len(), &second.json["total"]), (1, &json!(4)));
    assert_eq!(second_rows[0], url_rows(&all)[1]);

    // An explicit range: only tasks created in it.
    let now = chrono::Utc::now().timestamp_millis();
    let range = |from: i64, to: i64| [from.to_string(), to.to_string()];
    let [from, to] = range(now - 3_600_000, now + 3_600_000);
    let around = get(URL_TASKS, &[("start_time", &from), ("end_time", &to)])
        .send(&emu)
        .await;
    assert_eq!(around.json["total"], 4, "{}", around.text);
    let [from, to] = range(now + 3_600_000, now + 7_200_000);
    let later = get(URL_TASKS, &[("start_time", &from), ("end_time", &to)])
        .send(&emu)
        .await;
    assert!(url_rows(&later).is_empty());

    // Once done: the failed URL, and `processing` no longer matches anything.
    wait_done(&emu, &file_id, Duration::from_secs(5)).await;
    wait_done(&emu, &dir_id, Duration::from_secs(5)).await;
    wait_done(&emu, &heat_id, Duration::from_secs(5)).await;
    let failed = get(URL_TASKS, &[("status", "failed")]).send(&emu).await;
    let failed = url_rows(&failed);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["url"], broken.as_str());
    let processing = get(URL_TASKS, &[("status", "processing")]).send(&emu).await;
    assert!(url_rows(&processing).is_empty());
    let succeed = get(URL_TASKS, &[("status", "succeed")]).send(&emu).await;
    assert_eq!(url_rows(&succeed).len(), 3);

    let stats = emu.stats().await;
    assert_eq!(stats.succeeded["huawei:url-tasks"], 10);
    assert!(stats.errors.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn url_tasks_refuse_bad_ranges_and_limits() {
    let emu = Emu::start(&["--huawei-requests-per-second", "20"]).await;
    let now = chrono::Utc::now().timestamp_millis();
    let day = 24 * 3_600_000;
    let ms = |t: i64| t.to_string();
    // Exactly 24 hours is allowed, a millisecond more is not.
    get(
        URL_TASKS,
        &[("start_time", &ms(now - day)), ("end_time", &ms(now))],
    )
    .send(&emu)
    .await
    .ok();
    let bad: Vec<Vec<(&str, String)>> = vec![
        vec![("start_time", ms(now - day - 1)), ("end_time", ms(now))],
        vec![("start_time", ms(now)), ("end_time", ms(now - 1))],
        vec![("start_time", ms(now))],
        vec![("end_time", ms(now))],
        vec![("limit", "101".into())],
        vec![("limit", "0".into())],
        vec![("offset", "-1".into())],
        vec![("task_type", "refresh".into())],
        vec![("file_type", "dir".into())],
        vec![("status", "done".into())],
    ];
    for query in &bad {
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = get(URL_TASKS, &query).send(&emu).await;
        r.service(400, "CDN.0001");
        assert!(!r.reason().is_empty(), "{query:?}");
    }
    // Signed like every other call.
    get(URL_TASKS, &[])
        .key("HWTESTAK", "wrong")
        .send(&emu)
        .await
        .gateway(401, "APIGW.0301");
    // Its own rate window, as the other APIs'.
    let emu = Emu::start(&["--huawei-requests-per-second", "1"]).await;
    get(URL_TASKS, &[]).send(&emu).await.ok();
    get(QUOTA, &[]).send(&emu).await.ok();
    get(URL_TASKS, &[])
        .send(&emu)
        .await
        .gateway(429, "APIGW.0308");
}

#[tokio::test]
async fn zh_url_encode_reports_the_encoded_url() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    let raw = "https://example.com/字体/中文.woff2?v=1".to_string();
    let r = post(
        REFRESH,
        json!({"refresh_task": {"urls": [raw.clone()], "zh_url_encode": true}}),
    )
    .send(&emu)
    .await;
    r.ok();
    let detail = wait_done(&emu, &r.task_id("refresh_task"), Duration::from_secs(5)).await;
    assert_eq!(
        detail["urls"][0]["url"],
        "https://example.com/%E5%AD%97%E4%BD%93/%E4%B8%AD%E6%96%87.woff2?v=1"
    );
    // Without the flag the URL is reported as given.
    let plain = refresh("file", std::slice::from_ref(&raw)).send(&emu).await;
    plain.ok();
    let detail = wait_done(&emu, &plain.task_id("refresh_task"), Duration::from_secs(5)).await;
    assert_eq!(detail["urls"][0]["url"], raw.as_str());
}

#[tokio::test]
async fn history_lists_filter_order_and_page() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    let mut ids = Vec::new();
    for tag in ["h1", "h2"] {
        let r = refresh("file", &urls("example.com", tag, 2))
            .send(&emu)
            .await;
        r.ok();
        ids.push(r.task_id("refresh_task"));
    }
    let d = refresh("directory", &dirs("example.com", "h3", 3))
        .send(&emu)
        .await;
    d.ok();
    let dir_id = d.task_id("refresh_task");
    let p = preheat(&urls("example.com", "h4", 1)).send(&emu).await;
    p.ok();
    ids.push(p.task_id("preheating_task"));

    let list = |query: &'static [(&'static str, &'static str)]| get(HISTORY, query);
    // Default: file tasks only ("file_type 默认是文件file"), newest first.
    let all = list(&[]).send(&emu).await;
    all.ok();
    assert_eq!(all.json["total"], 3, "{}", all.text);
    let listed: Vec<&str> = all.json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![ids[2].as_str(), &ids[1], &ids[0]]);
    for t in all.json["tasks"].as_array().unwrap() {
        for field in ["processing", "succeed", "failed", "total", "create_time"] {
            assert!(t[field].is_u64(), "{field} in {t}");
        }
        assert_eq!(t["status"], "task_done");
    }

    let dirs_only = list(&[("file_type", "directory")]).send(&emu).await;
    dirs_only.ok();
    assert_eq!(dirs_only.json["total"], 1);
    assert_eq!(dirs_only.json["tasks"][0]["id"], dir_id.as_str());
    assert_eq!(dirs_only.json["tasks"][0]["total"], 3);

    let heats = list(&[("task_type", "preheating")]).send(&emu).await;
    heats.ok();
    assert_eq!(heats.json["total"], 1);
    assert_eq!(heats.json["tasks"][0]["task_type"], "preheating");

    let in_process = list(&[("status", "task_inprocess")]).send(&emu).await;
    in_process.ok();
    assert_eq!(in_process.json["total"], 0);

    let second = list(&[("page_size", "1"), ("page_number", "2")])
        .send(&emu)
        .await;
    second.ok();
    assert_eq!(second.json["total"], 3);
    assert_eq!(second.json["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(second.json["tasks"][0]["id"], ids[1].as_str());

    let oldest_first = list(&[("order_field", "create_time"), ("order_type", "asc")])
        .send(&emu)
        .await;
    oldest_first.ok();
    assert_eq!(oldest_first.json["tasks"][0]["id"], ids[0].as_str());
    // Only one of the pair: the defaults, as documented.
    let half = list(&[("order_type", "asc")]).send(&emu).await;
    half.ok();
    assert_eq!(half.json["tasks"][0]["id"], ids[2].as_str());

    let future = (chrono::Utc::now() + chrono::TimeDelta::hours(1))
        .timestamp_millis()
        .to_string();
    let none = get(HISTORY, &[("start_date", future.as_str())])
        .send(&emu)
        .await;
    none.ok();
    assert_eq!(none.json["total"], 0);

    for bad in [
        &[("page_size", "10")][..],
        &[("page_number", "1")],
        &[("page_size", "0"), ("page_number", "1")],
        &[("page_size", "10001"), ("page_number", "1")],
        &[("status", "done")],
        &[("file_type", "dir")],
        &[("task_type", "purge")],
        &[("start_date", "yesterday")],
        &[("order_field", "url"), ("order_type", "asc")],
    ] {
        list(bad).send(&emu).await.service(400, "CDN.0001");
    }
}

#[tokio::test]
async fn quota_reports_and_counts_per_url() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    let before = quotas(&emu).await;
    assert_eq!(before["file_refresh"], (2_000, 0));
    assert_eq!(before["dir_refresh"], (100, 0));
    assert_eq!(before["preheat"], (1_000, 0));
    // The domain quota is reported too: a client must pick the refresh types by name.
    assert_eq!(before["domain"], (100, 3));

    refresh("file", &urls("example.com", "q", 7))
        .send(&emu)
        .await
        .ok();
    refresh("directory", &dirs("example.com", "q", 2))
        .send(&emu)
        .await
        .ok();
    preheat(&urls("www.example.com", "q", 4))
        .send(&emu)
        .await
        .ok();
    let after = quotas(&emu).await;
    assert_eq!(after["file_refresh"], (2_000, 7));
    assert_eq!(after["dir_refresh"], (100, 2));
    assert_eq!(after["preheat"], (1_000, 4));
    let stats = emu.stats().await;
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::RefreshUrl], 7);
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::RefreshDirectory], 2);
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::Prefetch], 4);
    assert_eq!(stats.succeeded["huawei:quota"], 2);
}

#[tokio::test]
async fn authentication_failures_are_401_apigw_0301_and_accept_nothing() {
    let emu = Emu::start(&[
        "--huawei-key",
        "HWTESTAK:HWTESTSK",
        "--huawei-key",
        "AK2:SK2",
    ])
    .await;
    let base = refresh("file", &urls("example.com", "auth", 1));
    let stale = (chrono::Utc::now() - chrono::TimeDelta::minutes(16))
        .format(DATE_FORMAT)
        .to_string();
    let future = (chrono::Utc::now() + chrono::TimeDelta::minutes(16))
        .format(DATE_FORMAT)
        .to_string();
    let with = |f: &dyn Fn(&mut Req)| {
        let mut r = base.clone();
        f(&mut r);
        r
    };
    let cases: Vec<(&str, Req, &str)> = vec![
        (
            "no Authorization",
            with(&|r| r.authorization = Some(String::new())),
            "x-auth-token not found",
        ),
        (
            "an IAM token instead",
            with(&|r| {
                r.authorization = Some(String::new());
                r.headers.push(("X-Auth-Token".into(), "MIIx".into()));
            }),
            "decrypt token fail",
        ),
        (
            "malformed Authorization",
            with(&|r| r.authorization = Some("SDK-HMAC-SHA256 Access=HWTESTAK".into())),
            "verify aksk signature fail",
        ),
        (
            "other scheme",
            with(&|r| r.authorization = Some("Bearer HWTESTAK".into())),
            "verify aksk signature fail",
        ),
        (
            "wrong secret",
            base.clone().key("HWTESTAK", "wrong"),
            "verify aksk signature fail",
        ),
        (
            "another key's secret",
            base.clone().key("AK2", "HWTESTSK"),
            "verify aksk signature fail",
        ),
        (
            "unknown access key",
            base.clone().key("NOBODY", "HWTESTSK"),
            "Get secretKey failed,ak:NOBODY,err:ak not exist",
        ),
        (
            "stale X-Sdk-Date",
            with(&|r| r.date = Some(stale.clone())),
            "signature expired, signature time:",
        ),
        (
            "future X-Sdk-Date",
            with(&|r| r.date = Some(future.clone())),
            "signature expired",
        ),
        (
            "malformed X-Sdk-Date",
            with(&|r| r.date = Some("2024-01-02T03:04:05Z".into())),
            "verify aksk signature fail",
        ),
        (
            "x-sdk-date not signed",
            with(&|r| r.signed = Some(vec!["host", "content-type"])),
            "verify aksk signature fail",
        ),
        (
            "host not signed",
            with(&|r| r.signed = Some(vec!["x-sdk-date", "content-type"])),
            "verify aksk signature fail",
        ),
        (
            "body changed after signing",
            with(&|r| {
                r.sent_body = Some(
                    json!({"refresh_task": {"urls": ["https://example.com/other.js"]}}).to_string(),
                )
            }),
            "verify aksk signature fail",
        ),
        (
            "path changed after signing",
            with(&|r| r.sent_path = Some(PREHEAT.into())),
            "verify aksk signature fail",
        ),
        (
            "query added after signing",
            with(&|r| r.sent_query = Some(vec![("enterprise_project_id".into(), "0".into())])),
            "verify aksk signature fail",
        ),
        (
            "declared body hash that is not the body's",
            with(&|r| {
                r.headers
                    .push(("X-Sdk-Content-Sha256".into(), "0".repeat(64)));
            }),
            "verify aksk signature fail",
        ),
        (
            "a security token for a permanent key",
            with(&|r| r.headers.push(("X-Security-Token".into(), "tok".into()))),
            "verify aksk signature fail",
        ),
    ];
    for (name, r, msg) in &cases {
        let resp = r.send(&emu).await;
        resp.gateway(401, "APIGW.0301");
        assert!(
            resp.msg()
                .starts_with("Incorrect IAM authentication information: "),
            "{name}: {}",
            resp.text
        );
        assert!(resp.msg().contains(msg), "{name}: {}", resp.text);
        assert!(!resp.reason().is_empty(), "{name}");
    }
    let wrong = base.clone().key("HWTESTAK", "wrong").send(&emu).await;
    assert!(
        wrong
            .reason()
            .contains("canonical request is \\\"POST\\n/v1.0/cdn/content/refresh-tasks/\\n"),
        "the reason shows the canonical request: {}",
        wrong.reason()
    );
    assert!(
        !wrong.reason().contains("HWTESTSK"),
        "no secret in the reason"
    );
    let stats = emu.stats().await;
    assert_eq!(stats.errors["huawei:APIGW.0301"], cases.len() as u64 + 1);
    nothing_accepted(&stats);

    // The second key is the same account's; the right date, host and body pass.
    base.clone().key("AK2", "SK2").send(&emu).await.ok();
}

#[tokio::test]
async fn both_sdk_signing_styles_are_accepted() {
    let emu = Emu::start(&["--task-duration", "0s"]).await;
    // Python SDK: every header signed, the account id header too.
    refresh("file", &urls("example.com", "py", 1))
        .header("X-Domain-Id", "0d6f3c8e2b9a4c7e8f1a5b3d9c2e7f40")
        .header("User-Agent", "huaweicloud-usdk-python/3.0")
        .send(&emu)
        .await
        .ok();
    // Java SDK: Content-Type left out of the signature.
    let mut java = refresh("file", &urls("example.com", "java", 1));
    java.signed = Some(vec!["host", "x-sdk-date"]);
    java.send(&emu).await.ok();
    // A declared body hash, the body's own or UNSIGNED-PAYLOAD.
    let mut declared = refresh("file", &urls("example.com", "declared", 1));
    let hash = cdn_refresh::providers::huawei::sign::sha256_hex(declared.body.as_bytes());
    declared = declared.header("X-Sdk-Content-Sha256", &hash);
    declared.send(&emu).await.ok();
    refresh("file", &urls("example.com", "unsigned", 1))
        .header("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD")
        .send(&emu)
        .await
        .ok();
    // Query values with characters that need encoding are signed decoded.
    let id = refresh(
        "file",
        &["https://example.com/a%20b.js?x=1&y=中".to_string()],
    )
    .send(&emu)
    .await;
    id.ok();
    get(
        &detail_path(&id.task_id("refresh_task")),
        &[
            ("url", "https://example.com/a%20b.js?x=1&y=中"),
            ("enterprise_project_id", "0"),
        ],
    )
    .send(&emu)
    .await
    .ok();
    // A GET carries the SDK's default Content-Type and an empty body.
    get(QUOTA, &[]).send(&emu).await.ok();
    let mut bare = get(QUOTA, &[]);
    bare.content_type = None;
    bare.send(&emu).await.ok();
    assert_eq!(emu.stats().await.tasks_created, 5);
}

#[tokio::test]
async fn temporary_keys_need_their_security_token() {
    let emu = Emu::start(&["--huawei-key", "TMPAK:TMPSK:token:with:colons"]).await;
    let base = refresh("file", &urls("example.com", "sts", 1)).key("TMPAK", "TMPSK");
    base.clone().send(&emu).await.gateway(401, "APIGW.0301");
    base.clone()
        .header("X-Security-Token", "another")
        .send(&emu)
        .await
        .gateway(401, "APIGW.0301");
    // A wrong secret shows the canonical request, never the token in it.
    let wrong = base
        .clone()
        .key("TMPAK", "wrong")
        .header("X-Security-Token", "token:with:colons")
        .send(&emu)
        .await;
    wrong.gateway(401, "APIGW.0301");
    assert!(
        wrong.reason().contains("x-security-token:<redacted>"),
        "{}",
        wrong.reason()
    );
    assert!(
        !wrong.reason().contains("token:with:colons"),
        "{}",
        wrong.reason()
    );
    let mut unsigned = base.clone().header("X-Security-Token", "token:with:colons");
    unsigned.signed = Some(vec!["host", "x-sdk-date", "content-type"]);
    unsigned.send(&emu).await.gateway(401, "APIGW.0301");
    assert_eq!(emu.stats().await.tasks_created, 0);
    base.header("X-Security-Token", "token:with:colons")
        .send(&emu)
        .await
        .ok();
    assert_eq!(emu.stats().await.tasks_created, 1);
}

#[tokio::test]
async fn over_limit_batches_are_refused_whole() {
    let emu = Emu::start(&[
        "--huawei-file-refresh-quota",
        "5000",
        "--huawei-preheat-quota",
        "5000",
    ])
    .await;
    let r = refresh("file", &urls("example.com", "big", 1_001))
        .send(&emu)
        .await;
    r.service(400, "CDN.0001");
    assert!(r.reason().contains("at most 1000"), "{}", r.reason());
    refresh("directory", &dirs("example.com", "big", 101))
        .send(&emu)
        .await
        .service(400, "CDN.0001");
    preheat(&urls("example.com", "big", 1_001))
        .send(&emu)
        .await
        .service(400, "CDN.0001");
    nothing_accepted(&emu.stats().await);
    // Exactly at the limits.
    refresh("file", &urls("example.com", "max", 1_000))
        .send(&emu)
        .await
        .ok();
    refresh("directory", &dirs("example.com", "max", 100))
        .send(&emu)
        .await
        .ok();
    preheat(&urls("example.com", "max", 1_000))
        .send(&emu)
        .await
        .ok();
    let stats = emu.stats().await;
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::RefreshUrl], 1_000);
    assert_eq!(
        stats.quota_used["huawei"][&QuotaKind::RefreshDirectory],
        100
    );
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::Prefetch], 1_000);
    assert_eq!(stats.errors["huawei:CDN.0001"], 3);
}

#[tokio::test]
async fn malformed_requests_are_400_cdn_0001() {
    let emu = Emu::start(&[]).await;
    let good = "https://example.com/a.js";
    let long = format!("https://example.com/{}", "a".repeat(4_096));
    let bodies: Vec<(&str, &str, Value)> = vec![
        (
            "unknown top-level field",
            REFRESH,
            json!({"refresh_task": {"urls": [good]}, "x": 1}),
        ),
        (
            "camelCase of the old API",
            REFRESH,
            json!({"refreshTask": {"urls": [good]}}),
        ),
        (
            "unknown inner field",
            REFRESH,
            json!({"refresh_task": {"urls": [good], "force": true}}),
        ),
        (
            "type regex",
            REFRESH,
            json!({"refresh_task": {"type": "regex", "urls": [good]}}),
        ),
        (
            "bad mode",
            REFRESH,
            json!({"refresh_task": {"mode": "force", "urls": [good]}}),
        ),
        (
            "zh_url_encode a string",
            REFRESH,
            json!({"refresh_task": {"zh_url_encode": "true", "urls": [good]}}),
        ),
        (
            "urls missing",
            REFRESH,
            json!({"refresh_task": {"type": "file"}}),
        ),
        ("urls empty", REFRESH, json!({"refresh_task": {"urls": []}})),
        (
            "urls a string",
            REFRESH,
            json!({"refresh_task": {"urls": good}}),
        ),
        (
            "urls of numbers",
            REFRESH,
            json!({"refresh_task": {"urls": [1]}}),
        ),
        (
            "task not an object",
            REFRESH,
            json!({"refresh_task": [good]}),
        ),
        (
            "no scheme",
            REFRESH,
            json!({"refresh_task": {"urls": ["example.com/a.js"]}}),
        ),
        (
            "ftp",
            REFRESH,
            json!({"refresh_task": {"urls": ["ftp://example.com/a.js"]}}),
        ),
        (
            "raw space",
            REFRESH,
            json!({"refresh_task": {"urls": ["https://example.com/a b.js"]}}),
        ),
        (
            "longer than 4096",
            REFRESH,
            json!({"refresh_task": {"urls": [long]}}),
        ),
        (
            "directory without /",
            REFRESH,
            json!({"refresh_task": {"type": "directory", "urls": ["https://example.com/dir"]}}),
        ),
        (
            "type in preheat",
            PREHEAT,
            json!({"preheating_task": {"type": "file", "urls": [good]}}),
        ),
    ];
    for (name, path, body) in &bodies {
        let r = post(path, body.clone()).send(&emu).await;
        r.service(400, "CDN.0001");
        assert!(!r.reason().is_empty(), "{name}");
    }
    for (ct, body) in [
        (
            Some("text/plain"),
            json!({"refresh_task": {"urls": [good]}}).to_string(),
        ),
        (None, json!({"refresh_task": {"urls": [good]}}).to_string()),
        (Some("application/json"), "not json".to_string()),
        (Some("application/json"), "[]".to_string()),
    ] {
        let mut r = req(reqwest::Method::POST, REFRESH);
        r.content_type = ct.map(str::to_string);
        r.body = body;
        r.send(&emu).await.service(400, "CDN.0001");
    }
    nothing_accepted(&emu.stats().await);
    // Parameters after the media type are fine.
    let mut charset = refresh("file", &[good.to_string()]);
    charset.content_type = Some("application/json;charset=UTF-8".into());
    charset.send(&emu).await.ok();
}

#[tokio::test]
async fn urls_outside_the_domains_are_cdn_0108_with_http_200() {
    let emu = Emu::start(&["--domains", "example.com"]).await;
    for r in [
        refresh(
            "file",
            &[
                "https://example.com/ok.js".to_string(),
                "https://other.org/a.js".to_string(),
            ],
        ),
        refresh("directory", &dirs("www.example.com", "d", 1)),
        preheat(&urls("static.example.com", "p", 1)),
    ] {
        let resp = r.send(&emu).await;
        resp.service(200, "CDN.0108");
        assert_eq!(
            resp.msg(),
            "The URL domain name is not the acceleration domain name of the current tenant."
        );
    }
    let stats = emu.stats().await;
    assert_eq!(stats.errors["huawei:CDN.0108"], 3);
    nothing_accepted(&stats);
}

#[tokio::test]
async fn exhausted_quotas_are_cdn_0110_and_all_or_nothing() {
    let emu = Emu::start(&[
        "--huawei-file-refresh-quota",
        "5",
        "--huawei-dir-refresh-quota",
        "1",
        "--huawei-preheat-quota",
        "2",
    ])
    .await;
    refresh("file", &urls("example.com", "a", 3))
        .send(&emu)
        .await
        .ok();
    let over = refresh("file", &urls("example.com", "b", 3))
        .send(&emu)
        .await;
    over.service(200, "CDN.0110");
    assert!(
        over.reason().starts_with("3 requested, 2 of today"),
        "{}",
        over.reason()
    );
    // What fits still goes through.
    refresh("file", &urls("example.com", "c", 2))
        .send(&emu)
        .await
        .ok();
    refresh("file", &urls("example.com", "d", 1))
        .send(&emu)
        .await
        .service(200, "CDN.0110");

    refresh("directory", &dirs("example.com", "a", 2))
        .send(&emu)
        .await
        .service(200, "CDN.0110");
    refresh("directory", &dirs("example.com", "b", 1))
        .send(&emu)
        .await
        .ok();
    preheat(&urls("example.com", "p", 3))
        .send(&emu)
        .await
        .service(200, "CDN.0110");
    preheat(&urls("example.com", "q", 2)).send(&emu).await.ok();

    let q = quotas(&emu).await;
    assert_eq!(q["file_refresh"], (5, 5));
    assert_eq!(q["dir_refresh"], (1, 1));
    assert_eq!(q["preheat"], (2, 2));
    let stats = emu.stats().await;
    assert_eq!(stats.errors["huawei:CDN.0110"], 4);
    assert_eq!(stats.tasks_created, 4);
    assert!(
        !stats
            .accepted
            .refresh
            .contains_key("https://example.com/b/0.js")
    );
}

#[tokio::test]
async fn throttling_is_429_apigw_0308_per_api() {
    let emu = Emu::start(&["--huawei-requests-per-second", "2"]).await;
    // Three calls well within a second: the third is over the limit.
    get(QUOTA, &[]).send(&emu).await.ok();
    get(QUOTA, &[]).send(&emu).await.ok();
    let third = get(QUOTA, &[]).send(&emu).await;
    third.gateway(429, "APIGW.0308");
    assert_eq!(
        third.msg(),
        "The throttling threshold has been reached: policy user over ratelimit,limit:2,time:1 second"
    );
    // Each API has its own window.
    refresh("file", &urls("example.com", "t", 1))
        .send(&emu)
        .await
        .ok();
    // A request the service refuses still went through the gateway, and counts.
    refresh("file", &["nope".to_string()])
        .send(&emu)
        .await
        .service(400, "CDN.0001");
    refresh("file", &urls("example.com", "t2", 1))
        .send(&emu)
        .await
        .gateway(429, "APIGW.0308");
    // Authentication comes first: an unsigned request is 401, not 429.
    let mut unsigned = get(QUOTA, &[]);
    unsigned.authorization = Some(String::new());
    unsigned.send(&emu).await.gateway(401, "APIGW.0301");
    let stats = emu.stats().await;
    assert_eq!(stats.errors["huawei:APIGW.0308"], 2);
    assert_eq!(stats.tasks_created, 1);

    // The window slides: within a bounded time the quota call is admitted again.
    let start = Instant::now();
    loop {
        let r = get(QUOTA, &[]).send(&emu).await;
        if r.status == 200 {
            r.ok();
            break;
        }
        r.gateway(429, "APIGW.0308");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never admitted again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn unknown_task_ids_are_cdn_0108_with_http_200() {
    let emu = Emu::start(&[]).await;
    for id in ["ff8080ffffffffffffffffffffffffff", "12345"] {
        let r = get(&detail_path(id), &[]).send(&emu).await;
        r.service(200, "CDN.0108");
        assert!(r.json.get("urls").is_none(), "{}", r.text);
    }
    // A real id is found; its detail with bad paging is 400.
    let t = refresh("file", &urls("example.com", "u", 1))
        .send(&emu)
        .await;
    t.ok();
    let id = t.task_id("refresh_task");
    get(&detail_path(&id), &[]).send(&emu).await.ok();
    get(&detail_path(&id), &[("page_number", "2")])
        .send(&emu)
        .await
        .service(400, "CDN.0001");
    get(&detail_path(&id), &[("status", "done")])
        .send(&emu)
        .await
        .service(400, "CDN.0001");
    assert_eq!(emu.stats().await.errors["huawei:CDN.0108"], 2);
}

#[tokio::test]
async fn unpublished_paths_and_methods_are_apigw_0101() {
    let emu = Emu::start(&[]).await;
    let r = get(REFRESH, &[]).send(&emu).await;
    r.gateway(404, "APIGW.0101");
    assert_eq!(r.msg(), "The API does not exist.");
    post(QUOTA, json!({}))
        .send(&emu)
        .await
        .gateway(404, "APIGW.0101");
    for path in [
        "/v1.0/cdn/refreshtasks",
        "/v1.0/cdn/quota/",
        "/v1.0/cdn/historytasks/x/y/detail",
    ] {
        let r = get(path, &[]).send(&emu).await;
        r.gateway(404, "APIGW.0101");
        assert_eq!(
            r.msg(),
            "The API does not exist or has not been published in the environment."
        );
    }
    // Routing comes before authentication, as on the gateway.
    let mut unsigned = get("/v1.0/cdn/nothing", &[]);
    unsigned.authorization = Some(String::new());
    unsigned.send(&emu).await.gateway(404, "APIGW.0101");
    assert_eq!(emu.stats().await.errors["huawei:APIGW.0101"], 6);
}

#[tokio::test]
async fn faults_come_in_huawei_format_and_consume_nothing() {
    let emu = Emu::start(&["--fault", "throttle=1/2", "--fault", "error=1/3"]).await;
    let mut seen = Vec::new();
    for i in 0..6 {
        let r = refresh("file", &urls("example.com", &format!("f{i}"), 1))
            .send(&emu)
            .await;
        match r.status {
            200 => {
                r.ok();
            }
            429 => {
                r.gateway(429, "APIGW.0308");
            }
            500 => {
                r.service(500, "CDN.0000");
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
        assert!(r.headers.contains_key("x-request-id"));
        seen.push(r.status);
    }
    // Every 2nd request throttled, every 3rd (not already throttled) an error.
    assert_eq!(seen, vec![200, 429, 500, 429, 200, 429]);
    let stats = emu.stats().await;
    assert_eq!(stats.faults["throttle"], 3);
    assert_eq!(stats.faults["error"], 1);
    assert_eq!(stats.tasks_created, 2);
    assert_eq!(stats.quota_used["huawei"][&QuotaKind::RefreshUrl], 2);
    assert_eq!(stats.requests["huawei:refresh"], 6);
    // Injected faults are not the API's own errors.
    assert!(!stats.errors.contains_key("huawei:APIGW.0308"), "{stats:?}");
}

#[tokio::test]
async fn banner_names_the_huawei_key_and_quotas() {
    let emu = Emu::start(&[]).await;
    let banner = emu.running.banner();
    assert!(
        banner.contains("huawei: access key HWTESTAK (secret key HWTESTSK)"),
        "{banner}"
    );
    assert!(
        banner.contains("file_refresh 2000, dir_refresh 100, preheat 1000"),
        "{banner}"
    );
    let custom = Emu::start(&["--huawei-key", "MYAK:mysecret:mytoken"]).await;
    let banner = custom.running.banner();
    assert!(banner.contains("huawei: access key MYAK"), "{banner}");
    assert!(
        !banner.contains("mysecret") && !banner.contains("mytoken"),
        "{banner}"
    );
}
