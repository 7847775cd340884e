//! The operations, with the documented limits and codes. A submission is checked whole, in
//! this order, and only then accepted: nothing is ever partially accepted, and a refused
//! request consumes no quota and creates no task.
//!
//! CreateRefreshTasks / CreatePreheatingTasks:
//!
//! 1. `Content-Type: application/json` and a JSON object holding exactly `refresh_task`
//!    (`preheating_task`), itself an object of the documented fields only, each of its type:
//!    `type` `file`|`directory` (default `file`), `mode` `all`|`detect_modify_refresh`
//!    (default `all`), `zh_url_encode` boolean, `urls` a non-empty array of strings.
//!    Anything else: 400 `CDN.0001`. (The SDK leaves unset fields out; `null` is taken as
//!    unset.)
//! 2. At most 1,000 URLs, or 100 directories, or 1,000 preheated URLs per request [C SDK
//!    model docs]: beyond, 400 `CDN.0001` [I code: a request-format limit].
//! 3. Every URL starts `http://` or `https://`, is at most 4,096 characters [C], holds no
//!    whitespace (the docs ask to encode spaces first [C]) and parses with a host; a
//!    directory ends with `/` [I, as every other provider's directory refresh]. Else 400
//!    `CDN.0001`. A file URL or a preheated URL may end with `/`: that is a page (a site's
//!    home, a folder's index), and nothing in the docs says the service refuses it
//!    (directory preheating is unsupported [C], but a request says what is a directory by
//!    its `type`, which preheating has not).
//! 4. Every host is one of `--domains`: else HTTP 200 `CDN.0108` [C].
//! 5. The day's quota (`file_refresh` per URL, `dir_refresh` per directory, `preheat` per
//!    URL; defaults 2,000 / 100 / 1,000 per day [C console quota table]) must hold the whole
//!    request: else HTTP 200 `CDN.0110` and nothing is accepted [I: the service's behaviour
//!    for a batch that only partly fits is undocumented; all-or-nothing is what every other
//!    emulated provider does]. The day turns at midnight Beijing time [I].
//!
//! A success is `{"refresh_task":"<id>"}` (`{"preheating_task":"<id>"}`). The request is one
//! task; each of its URLs goes `waiting` (first tenth of `--task-duration`) →
//! `refreshing`/`preheating` → `succeed`, or `failed` (`fail_classify` `ORIGIN_ERROR`) when
//! it contains a `--fail-matching` text. With `zh_url_encode` the task reports its URLs with
//! non-ASCII characters percent-encoded (the service refreshes "the encoded URL" [C]).
//!
//! ShowHistoryTasks lists tasks newest first (`order_field`/`order_type` change that when
//! both are given, as documented); `page_size` (1–10000, default 30) and `page_number`
//! (1–65535, default 1) must be given together [C: "必须同时传值"], else 400 `CDN.0001`.
//! `file_type` defaults to `file` [C: "默认是文件file"], so directory tasks are listed only
//! with `file_type=directory`. ShowHistoryTaskDetails finds a task of the last 7 days (15
//! with `create_time` [C]); an unknown id is HTTP 200 `CDN.0108` [C Terraform provider].
//!
//! ShowUrlTaskInfo (`GET /v1.0/cdn/contentgateway/url-tasks`) lists URLs, not tasks: one
//! row per URL of the tasks created between `start_time` and `end_time` (ms, both or neither
//! [C]; neither is today, 00:00 to 00:00 the next day [C], Beijing time [I]; a span over
//! 24 hours or an end before the start is 400 `CDN.0001` [I code]), newest task first, a
//! task's URLs in submission order, from `offset` (default 0), `limit` rows (1–100, default
//! 10 [C]). Filters: `url` (exact, as the task reports it), `task_type`
//! (`REFRESH`/`PREHEATING`), `status` (as the detail's, `processing` standing for every
//! state not final), `file_type`. The answer is `{"total","count","result":[…]}`, `count`
//! the rows of this page; a row is the SDK's `Urls` model [C huaweicloudsdkcdn 3.1.219, and
//! the docs' table]: `id` and `task_id` numbers (Longs: `task_id` is the id the create call
//! answered, as a number), `url`, `status`, `type` (`REFRESH`/`PREHEATING`), `file_type`,
//! `mode` (refresh tasks only), `create_time` and `modify_time` (ms, the last status change).
//!
//! Under an `endless-pages` fault, ShowHistoryTaskDetails (of a task that exists) and
//! ShowUrlTaskInfo answer every page full of fabricated entries, still running, with a
//! total of 10^15.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use axum::http::header;
use chrono::{DateTime, FixedOffset, TimeDelta, Timelike, Utc};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::state::{
    HUAWEI_TASK_RETENTION, HuaweiProgress, HuaweiState, HuaweiTask, HuaweiTaskType, HuaweiUrl,
};
use super::{ApiError, Endpoint, codes, knobs};
use crate::emulator::edge::Scope;
use crate::emulator::server::{ApiCall, App, ENDLESS_TOTAL, endless_url};
use crate::emulator::state::Inner;
use crate::providers::{Operation, QuotaKind};

pub const MAX_REFRESH_URLS: usize = 1_000;
pub const MAX_REFRESH_DIRS: usize = 100;
pub const MAX_PREHEAT_URLS: usize = 1_000;
pub const MAX_URL_CHARS: usize = 4_096;
/// `page_size` bounds and default, both list calls.
const MAX_PAGE_SIZE: u64 = 10_000;
const DEFAULT_PAGE_SIZE: u64 = 30;
const MAX_PAGE_NUMBER: u64 = 65_535;
/// Default `quota_limit` of the `domain` quota [C console quota table: 100 domains].
const DOMAIN_QUOTA: u64 = 100;
/// The emulated account's domain id (`user_domain_id`), 32 hex digits like a real one.
pub const ACCOUNT_DOMAIN_ID: &str = "0d6f3c8e2b9a4c7e8f1a5b3d9c2e7f40";
/// How far back the detail call finds a task without `create_time` [C].
const DETAIL_LOOKBACK: TimeDelta = TimeDelta::days(7);
/// What a failed URL's `fail_desc` says (the service's wording is not documented).
const FAILED_DESC: &str = "origin server returned 5XX";

/// What `zh_url_encode` encodes: everything outside ASCII (and controls, which step 3
/// refuses anyway), leaving the URL's own syntax alone.
const NON_ASCII: &AsciiSet = CONTROLS;

pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub inner: &'a mut Inner,
    pub now: (DateTime<Utc>, Instant),
    /// See [`crate::emulator::server::ApiCall::endless_pages`].
    pub endless_pages: bool,
}

pub(crate) fn run(
    ctx: &mut Ctx<'_>,
    endpoint: &Endpoint,
    query: &[(String, String)],
    body: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, ApiError> {
    match endpoint {
        Endpoint::Refresh => create(ctx, HuaweiTaskType::Refresh, body.expect("parsed")),
        Endpoint::Preheat => create(ctx, HuaweiTaskType::Preheating, body.expect("parsed")),
        Endpoint::HistoryTasks => history(ctx, query),
        Endpoint::HistoryTaskDetail(id) => detail(ctx, id, query),
        Endpoint::Quota => Ok(quota(ctx)),
        Endpoint::UrlTasks => url_tasks(ctx, query),
    }
}

/// The body of a create call: `application/json`, a JSON object.
pub(crate) fn json_body(call: &ApiCall) -> Result<Map<String, Value>, ApiError> {
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::bad_parameter(format!(
            "Content-Type must be application/json, not {content_type:?}"
        )));
    }
    match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(ApiError::bad_parameter("the body is not a JSON object")),
        Err(err) => Err(ApiError::bad_parameter(format!(
            "the body is not JSON: {err}"
        ))),
    }
}

/// The one object a create body holds, with only `allowed` fields.
fn task_object<'b>(
    body: &'b Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<&'b Map<String, Value>, ApiError> {
    if let Some(other) = body.keys().find(|k| *k != name) {
        return Err(ApiError::bad_parameter(format!(
            "unknown field {other:?}: the body holds {name} only"
        )));
    }
    let object = match body.get(name) {
        Some(Value::Object(object)) => object,
        None | Some(Value::Null) => {
            return Err(ApiError::bad_parameter(format!("{name} is missing")));
        }
        Some(_) => return Err(ApiError::bad_parameter(format!("{name} must be an object"))),
    };
    if let Some(other) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_parameter(format!(
            "unknown field {name}.{other} (expected {})",
            allowed.join(", ")
        )));
    }
    Ok(object)
}

/// A string field among `choices`, `default` when absent or `null`.
fn choice(
    object: &Map<String, Value>,
    field: &str,
    choices: &[&'static str],
    default: &'static str,
) -> Result<&'static str, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => choices
            .iter()
            .find(|c| **c == s.as_str())
            .copied()
            .ok_or_else(|| {
                ApiError::bad_parameter(format!(
                    "{field} {s:?} is not one of {}",
                    choices.join(", ")
                ))
            }),
        Some(_) => Err(ApiError::bad_parameter(format!("{field} must be a string"))),
    }
}

fn boolean(object: &Map<String, Value>, field: &str) -> Result<bool, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_parameter(format!(
            "{field} must be a boolean"
        ))),
    }
}

fn url_list(object: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let items = match object.get("urls") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => return Err(ApiError::bad_parameter("urls is missing")),
        Some(_) => return Err(ApiError::bad_parameter("urls must be an array of strings")),
    };
    if items.is_empty() {
        return Err(ApiError::bad_parameter("urls is empty"));
    }
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::bad_parameter("urls must hold strings only"))
        })
        .collect()
}

/// What kind of path a URL must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    File,
    Directory,
}

/// The lower-case host of a well-formed URL, or why it is not one (step 3).
fn checked_host(raw: &str, shape: Shape) -> Result<String, String> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(format!("longer than {MAX_URL_CHARS} characters"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds whitespace (encode it first)".into());
    }
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err("does not start with http:// or https://".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("has no host")?;
    if shape == Shape::Directory && !raw.ends_with('/') {
        return Err("is a directory that does not end with /".into());
    }
    Ok(host.trim_end_matches('.').to_ascii_lowercase())
}

fn quota_limit(app: &App, kind: QuotaKind) -> u64 {
    let knobs = knobs(app);
    match kind {
        QuotaKind::RefreshDirectory => knobs.huawei_dir_refresh_quota,
        QuotaKind::Prefetch => knobs.huawei_preheat_quota,
        _ => knobs.huawei_file_refresh_quota,
    }
}

fn create(
    ctx: &mut Ctx<'_>,
    task_type: HuaweiTaskType,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let (name, allowed): (&str, &[&str]) = match task_type {
        HuaweiTaskType::Refresh => ("refresh_task", &["type", "mode", "zh_url_encode", "urls"]),
        HuaweiTaskType::Preheating => ("preheating_task", &["zh_url_encode", "urls"]),
    };
    let object = task_object(body, name, allowed)?;
    let file_type = match task_type {
        HuaweiTaskType::Refresh => choice(object, "type", &["file", "directory"], "file")?,
        HuaweiTaskType::Preheating => "file",
    };
    // Only directory refreshes use the mode, but a bad value is refused either way.
    let mode = match task_type {
        HuaweiTaskType::Refresh => Some(choice(
            object,
            "mode",
            &["all", "detect_modify_refresh"],
            "all",
        )?),
        HuaweiTaskType::Preheating => None,
    };
    let zh_url_encode = boolean(object, "zh_url_encode")?;
    let urls = url_list(object)?;

    let (max, shape, kind) = match (task_type, file_type) {
        (HuaweiTaskType::Preheating, _) => (MAX_PREHEAT_URLS, Shape::File, QuotaKind::Prefetch),
        (_, "directory") => (
            MAX_REFRESH_DIRS,
            Shape::Directory,
            QuotaKind::RefreshDirectory,
        ),
        _ => (MAX_REFRESH_URLS, Shape::File, QuotaKind::RefreshUrl),
    };
    if urls.len() > max {
        return Err(ApiError::bad_parameter(format!(
            "{} {file_type} URLs: at most {max} per {} request",
            urls.len(),
            task_type.as_str()
        )));
    }
    let mut hosts = Vec::with_capacity(urls.len());
    let mut malformed = Vec::new();
    for url in &urls {
        match checked_host(url, shape) {
            Ok(host) => hosts.push(host),
            Err(why) => malformed.push(format!("{url} {why}")),
        }
    }
    if !malformed.is_empty() {
        return Err(ApiError::bad_parameter(malformed.join("; ")));
    }
    let foreign: Vec<&str> = urls
        .iter()
        .zip(&hosts)
        .filter(|(_, host)| !ctx.app.domains.contains(*host))
        .map(|(url, _)| url.as_str())
        .collect();
    if !foreign.is_empty() {
        return Err(ApiError::new(codes::NOT_TENANT_DOMAIN).because(format!(
            "host not among the emulator's --domains: {}",
            foreign.join(" ")
        )));
    }
    let limit = quota_limit(ctx.app, kind);
    let used = ctx.inner.state_mut::<HuaweiState>().quota.used(kind, ctx.now.0);
    let left = limit.saturating_sub(used);
    if urls.len() as u64 > left {
        return Err(ApiError::new(codes::URL_QUOTA).because(format!(
            "{} requested, {left} of today's {limit} {kind} quota left",
            urls.len()
        )));
    }

    let id = accept(
        ctx,
        task_type,
        (file_type, mode),
        &urls,
        zh_url_encode,
        kind,
    );
    Ok(Map::from_iter([(name.to_string(), json!(id.to_string()))]))
}

/// Creates the task, consumes the quota; returns the task id.
fn accept(
    ctx: &mut Ctx<'_>,
    task_type: HuaweiTaskType,
    (file_type, mode): (&'static str, Option<&'static str>),
    urls: &[String],
    zh_url_encode: bool,
    kind: QuotaKind,
) -> u64 {
    let now = ctx.now;
    let tasks = &mut ctx.inner.state_mut::<HuaweiState>().tasks;
    let id = tasks.new_task_id();
    let mut task_urls = Vec::with_capacity(urls.len());
    let mut covered = Vec::new();
    for url in urls {
        let reported = if zh_url_encode {
            utf8_percent_encode(url, NON_ASCII).to_string()
        } else {
            url.clone()
        };
        let fails = ctx.app.fails(url);
        if !fails {
            // At the edge a file URL covers itself, a directory URL what is below it (both
            // modes: `detect_modify_refresh` evicts what changed, and what did not change is
            // filled again with the same bytes).
            covered.extend(if file_type == "directory" {
                Scope::directory(url)
            } else {
                Scope::url(url)
            });
        }
        task_urls.push(HuaweiUrl {
            id: tasks.new_url_id(),
            url: reported,
            fails,
        });
    }
    tasks.push(HuaweiTask {
        id,
        task_type,
        file_type,
        mode,
        urls: task_urls,
        created: now.0,
        started: now.1,
    });
    let operation = match task_type {
        HuaweiTaskType::Refresh => Operation::Refresh,
        HuaweiTaskType::Preheating => Operation::Prefetch,
    };
    let raw: Vec<&str> = urls.iter().map(String::as_str).collect();
    ctx.inner.accept(operation, &raw, now.0);
    ctx.inner.cover(operation, now.1, covered);
    ctx.inner.stats.tasks_created += 1;
    ctx.inner.state_mut::<HuaweiState>().quota.add(kind, urls.len() as u64, now.0);
    id
}

/// The first value of a query parameter; an empty value is absent.
fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// An integer parameter within `range`.
fn int_param(
    query: &[(String, String)],
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(raw) = param(query, name) else {
        return Ok(None);
    };
    match raw.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::bad_parameter(format!(
            "{name} {raw:?} is not an integer in {}..={}",
            range.start(),
            range.end()
        ))),
    }
}

/// A parameter among `choices`.
fn choice_param<'q>(
    query: &'q [(String, String)],
    name: &str,
    choices: &[&str],
) -> Result<Option<&'q str>, ApiError> {
    match param(query, name) {
        None => Ok(None),
        Some(v) if choices.contains(&v) => Ok(Some(v)),
        Some(v) => Err(ApiError::bad_parameter(format!(
            "{name} {v:?} is not one of {}",
            choices.join(", ")
        ))),
    }
}

/// `(page_size, page_number)`: both or neither.
fn paging(query: &[(String, String)]) -> Result<(u64, u64), ApiError> {
    let size = int_param(query, "page_size", 1..=MAX_PAGE_SIZE)?;
    let number = int_param(query, "page_number", 1..=MAX_PAGE_NUMBER)?;
    match (size, number) {
        (Some(size), Some(number)) => Ok((size, number)),
        (None, None) => Ok((DEFAULT_PAGE_SIZE, 1)),
        _ => Err(ApiError::bad_parameter(
            "page_size and page_number must be given together",
        )),
    }
}

fn page<T>(items: Vec<T>, (size, number): (u64, u64)) -> Vec<T> {
    let skip = (number - 1).saturating_mul(size);
    items
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .collect()
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A task's URL counts, from the clock.
#[derive(Default)]
struct Counts {
    processing: u64,
    succeed: u64,
    failed: u64,
}

impl Counts {
    fn of(ctx: &Ctx<'_>, task: &HuaweiTask) -> Self {
        let mut counts = Counts::default();
        for url in &task.urls {
            match task.progress(url, ctx.now.1, ctx.app.args.task_duration) {
                HuaweiProgress::Succeed => counts.succeed += 1,
                HuaweiProgress::Failed => counts.failed += 1,
                _ => counts.processing += 1,
            }
        }
        counts
    }

    fn status(&self) -> &'static str {
        if self.processing > 0 {
            "task_inprocess"
        } else {
            "task_done"
        }
    }
}

/// The fields ShowHistoryTasks and ShowHistoryTaskDetails share for a task.
fn task_fields(ctx: &Ctx<'_>, task: &HuaweiTask) -> Map<String, Value> {
    let counts = Counts::of(ctx, task);
    Map::from_iter([
        ("id".into(), json!(task.id.to_string())),
        ("task_type".into(), json!(task.task_type.as_str())),
        ("status".into(), json!(counts.status())),
        ("processing".into(), json!(counts.processing)),
        ("succeed".into(), json!(counts.succeed)),
        ("failed".into(), json!(counts.failed)),
        ("total".into(), json!(task.urls.len())),
        ("create_time".into(), json!(millis(task.created))),
        ("file_type".into(), json!(task.file_type)),
    ])
}

fn history(ctx: &mut Ctx<'_>, query: &[(String, String)]) -> Result<Map<String, Value>, ApiError> {
    let paging = paging(query)?;
    let status = choice_param(query, "status", &["task_inprocess", "task_done"])?;
    let file_type = choice_param(query, "file_type", &["file", "directory"])?.unwrap_or("file");
    let task_type = choice_param(query, "task_type", &["refresh", "preheating"])?;
    let start = int_param(query, "start_date", 0..=i64::MAX as u64)?;
    let end = int_param(query, "end_date", 0..=i64::MAX as u64)?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(ApiError::bad_parameter("start_date is after end_date"));
    }
    let order_field = choice_param(
        query,
        "order_field",
        &[
            "task_type",
            "total",
            "processing",
            "succeed",
            "failed",
            "create_time",
        ],
    )?;
    let order_type = choice_param(query, "order_type", &["desc", "asc"])?;
    // Documented: both or the defaults (create_time, desc).
    let (order_field, descending) = match (order_field, order_type) {
        (Some(field), Some(order)) => (field, order == "desc"),
        _ => ("create_time", true),
    };

    let mut rows: Vec<Map<String, Value>> = Vec::new();
    for task in ctx.inner.state::<HuaweiState>().tasks.newest_first() {
        let created = millis(task.created) as u64;
        let row = task_fields(ctx, task);
        let keep = row["file_type"] == file_type
            && status.is_none_or(|s| row["status"] == s)
            && task_type.is_none_or(|t| t == task.task_type.as_str())
            && start.is_none_or(|s| created >= s)
            && end.is_none_or(|e| created <= e);
        if keep {
            rows.push(row);
        }
    }
    // Stable, so ties (tasks of one millisecond, or of one count) keep the order of creation
    // in the direction asked: newest first when descending, oldest first when ascending.
    if !descending {
        rows.reverse();
    }
    rows.sort_by(|a, b| {
        let ord = compare(&a[order_field], &b[order_field]);
        if descending { ord.reverse() } else { ord }
    });
    let total = rows.len();
    let tasks: Vec<Value> = page(rows, paging).into_iter().map(Value::Object).collect();
    Ok(Map::from_iter([
        ("total".into(), json!(total)),
        ("tasks".into(), Value::Array(tasks)),
    ]))
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")),
    }
}

/// What the detail and ShowUrlTaskInfo call a URL's state.
fn url_status(task: &HuaweiTask, progress: HuaweiProgress) -> &'static str {
    match progress {
        HuaweiProgress::Waiting => "waiting",
        HuaweiProgress::Running => task.task_type.as_str_running(),
        HuaweiProgress::Succeed => "succeed",
        HuaweiProgress::Failed => "failed",
    }
}

/// The `status` values both calls filter on.
const URL_STATUSES: &[&str] = &[
    "processing",
    "succeed",
    "failed",
    "waiting",
    "refreshing",
    "preheating",
];

/// Whether a URL in `progress` passes a `status` filter: `processing` stands for every
/// state that is not final.
fn status_matches(filter: Option<&str>, task: &HuaweiTask, progress: HuaweiProgress) -> bool {
    filter.is_none_or(|s| {
        s == url_status(task, progress)
            || (s == "processing"
                && matches!(progress, HuaweiProgress::Waiting | HuaweiProgress::Running))
    })
}

fn detail(
    ctx: &mut Ctx<'_>,
    id: &str,
    query: &[(String, String)],
) -> Result<Map<String, Value>, ApiError> {
    let paging = paging(query)?;
    let status = choice_param(query, "status", URL_STATUSES)?;
    let url_filter = param(query, "url");
    let create_time = int_param(query, "create_time", 0..=i64::MAX as u64)?;
    let lookback = if create_time.is_some() {
        HUAWEI_TASK_RETENTION
    } else {
        DETAIL_LOOKBACK
    };
    let now = ctx.now;
    let not_found = || {
        ApiError::new(codes::NOT_TENANT_DOMAIN).because(format!(
            "no task {id} in the last {} days",
            lookback.num_days()
        ))
    };
    let task = ctx.inner.state::<HuaweiState>().tasks.get(id).ok_or_else(not_found)?;
    if now.0 - task.created > lookback {
        return Err(not_found());
    }
    if ctx.endless_pages {
        return Ok(endless_detail(ctx, task, paging, url_filter));
    }
    let duration = ctx.app.args.task_duration;
    let mut urls = Vec::new();
    for url in &task.urls {
        let progress = task.progress(url, now.1, duration);
        if !status_matches(status, task, progress) || url_filter.is_some_and(|u| u != url.url) {
            continue;
        }
        let mut item = Map::from_iter([
            ("id".into(), json!(url.id.to_string())),
            ("url".into(), json!(url.url)),
            ("status".into(), json!(url_status(task, progress))),
            ("create_time".into(), json!(millis(task.created))),
            ("task_id".into(), json!(task.id.to_string())),
            ("task_type".into(), json!(task.task_type.upper())),
        ]);
        // Documented as "returned when the URL failed".
        if progress == HuaweiProgress::Failed {
            item.insert("fail_classify".into(), json!("ORIGIN_ERROR"));
            item.insert("fail_desc".into(), json!(FAILED_DESC));
        }
        urls.push(Value::Object(item));
    }
    let mut answer = task_fields(ctx, task);
    answer.insert("urls".into(), Value::Array(page(urls, paging)));
    Ok(answer)
}

/// A detail page of an `endless-pages` fault: full, every URL still running, of a task
/// that never ends.
fn endless_detail(
    ctx: &Ctx<'_>,
    task: &HuaweiTask,
    (size, number): (u64, u64),
    url_filter: Option<&str>,
) -> Map<String, Value> {
    let first = (number - 1).saturating_mul(size);
    let urls = (first..first.saturating_add(size))
        .map(|n| {
            json!({
                "id": (ENDLESS_URL_IDS + n).to_string(),
                "url": url_filter.map_or_else(|| endless_url(ctx.app, n), str::to_string),
                "status": task.task_type.as_str_running(),
                "create_time": millis(task.created),
                "task_id": task.id.to_string(),
                "task_type": task.task_type.upper(),
            })
        })
        .collect();
    let mut answer = task_fields(ctx, task);
    for (field, value) in [
        ("status", json!("task_inprocess")),
        ("processing", json!(ENDLESS_TOTAL)),
        ("succeed", json!(0)),
        ("failed", json!(0)),
        ("total", json!(ENDLESS_TOTAL)),
        ("urls", Value::Array(urls)),
    ] {
        answer.insert(field.into(), value);
    }
    answer
}

/// Where fabricated URL ids start, clear of the real ones.
const ENDLESS_URL_IDS: u64 = 900_000_000_000;
/// ShowUrlTaskInfo's `limit`: at most, and by default [C].
const MAX_URL_TASKS_LIMIT: u64 = 100;
const DEFAULT_URL_TASKS_LIMIT: u64 = 10;
/// The longest `start_time`..`end_time` [C: "时间跨度不能超过24小时"].
const URL_TASKS_MAX_SPAN_MS: u64 = 24 * 3600 * 1000;

/// Today in Beijing, `[00:00, 00:00 the next day)` in ms: ShowUrlTaskInfo's default range.
fn beijing_today(now: DateTime<Utc>) -> (u64, u64) {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let local = now.with_timezone(&beijing);
    let since_midnight = i64::from(local.num_seconds_from_midnight()) * 1000
        + i64::from(local.timestamp_subsec_millis());
    let start = u64::try_from(now.timestamp_millis() - since_midnight).unwrap_or(0);
    (start, start + URL_TASKS_MAX_SPAN_MS)
}

/// When a URL's status last changed, in ms.
fn modify_time(task: &HuaweiTask, progress: HuaweiProgress, duration: Duration) -> i64 {
    let changed = match progress {
        HuaweiProgress::Waiting => Duration::ZERO,
        HuaweiProgress::Running => duration / 10,
        HuaweiProgress::Succeed | HuaweiProgress::Failed => duration,
    };
    millis(task.created) + i64::try_from(changed.as_millis()).unwrap_or(i64::MAX / 2)
}

fn url_tasks(
    ctx: &mut Ctx<'_>,
    query: &[(String, String)],
) -> Result<Map<String, Value>, ApiError> {
    let ms = 0..=i64::MAX as u64;
    let range = match (
        int_param(query, "start_time", ms.clone())?,
        int_param(query, "end_time", ms)?,
    ) {
        (Some(start), Some(end)) => (start, end),
        (None, None) => beijing_today(ctx.now.0),
        _ => {
            return Err(ApiError::bad_parameter(
                "start_time and end_time must be given together",
            ));
        }
    };
    let (start, end) = range;
    if end < start {
        return Err(ApiError::bad_parameter("end_time is before start_time"));
    }
    if end - start > URL_TASKS_MAX_SPAN_MS {
        return Err(ApiError::bad_parameter(format!(
            "start_time..end_time spans {} ms, more than 24 hours",
            end - start
        )));
    }
    let offset = int_param(query, "offset", 0..=i64::MAX as u64)?.unwrap_or(0);
    let limit =
        int_param(query, "limit", 1..=MAX_URL_TASKS_LIMIT)?.unwrap_or(DEFAULT_URL_TASKS_LIMIT);
    let url_filter = param(query, "url");
    let task_type = choice_param(query, "task_type", &["REFRESH", "PREHEATING"])?;
    let status = choice_param(query, "status", URL_STATUSES)?;
    let file_type = choice_param(query, "file_type", &["file", "directory"])?;
    if ctx.endless_pages {
        return Ok(endless_url_tasks(
            ctx,
            (offset, limit),
            url_filter,
            task_type,
        ));
    }

    let (now, duration) = (ctx.now.1, ctx.app.args.task_duration);
    let mut rows = Vec::new();
    for task in ctx.inner.state::<HuaweiState>().tasks.newest_first() {
        let created = u64::try_from(millis(task.created)).unwrap_or(0);
        let keep_task = (start..=end).contains(&created)
            && task_type.is_none_or(|t| t == task.task_type.upper())
            && file_type.is_none_or(|f| f == task.file_type);
        if !keep_task {
            continue;
        }
        for url in &task.urls {
            let progress = task.progress(url, now, duration);
            if !status_matches(status, task, progress) || url_filter.is_some_and(|u| u != url.url) {
                continue;
            }
            let mut row = Map::from_iter([
                ("id".into(), json!(url.id)),
                ("url".into(), json!(url.url)),
                ("status".into(), json!(url_status(task, progress))),
                ("type".into(), json!(task.task_type.upper())),
                ("task_id".into(), json!(task.id)),
                (
                    "modify_time".into(),
                    json!(modify_time(task, progress, duration)),
                ),
                ("create_time".into(), json!(millis(task.created))),
                ("file_type".into(), json!(task.file_type)),
            ]);
            if let Some(mode) = task.mode {
                row.insert("mode".into(), json!(mode));
            }
            rows.push(Value::Object(row));
        }
    }
    let total = rows.len();
    let result: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .collect();
    Ok(Map::from_iter([
        ("total".into(), json!(total)),
        ("count".into(), json!(result.len())),
        ("result".into(), Value::Array(result)),
    ]))
}

/// A ShowUrlTaskInfo page of an `endless-pages` fault: full, of URLs still running.
fn endless_url_tasks(
    ctx: &Ctx<'_>,
    (offset, limit): (u64, u64),
    url_filter: Option<&str>,
    task_type: Option<&str>,
) -> Map<String, Value> {
    let task_type = match task_type {
        Some("PREHEATING") => HuaweiTaskType::Preheating,
        _ => HuaweiTaskType::Refresh,
    };
    let created = millis(ctx.now.0);
    let result: Vec<Value> = (offset..offset.saturating_add(limit))
        .map(|n| {
            json!({
                "id": ENDLESS_URL_IDS + n,
                "url": url_filter.map_or_else(|| endless_url(ctx.app, n), str::to_string),
                "status": task_type.as_str_running(),
                "type": task_type.upper(),
                "task_id": ENDLESS_URL_IDS + n,
                "modify_time": created,
                "create_time": created,
                "file_type": "file",
            })
        })
        .collect();
    Map::from_iter([
        ("total".into(), json!(ENDLESS_TOTAL)),
        ("count".into(), json!(result.len())),
        ("result".into(), Value::Array(result)),
    ])
}

fn quota(ctx: &mut Ctx<'_>) -> Map<String, Value> {
    let now = ctx.now.0;
    let mut quotas = vec![json!({
        "type": "domain",
        "quota_limit": DOMAIN_QUOTA,
        "used": ctx.app.domains.len(),
        "user_domain_id": ACCOUNT_DOMAIN_ID,
    })];
    for (name, kind) in [
        ("file_refresh", QuotaKind::RefreshUrl),
        ("dir_refresh", QuotaKind::RefreshDirectory),
        ("preheat", QuotaKind::Prefetch),
    ] {
        quotas.push(json!({
            "type": name,
            "quota_limit": quota_limit(ctx.app, kind),
            "used": ctx.inner.state_mut::<HuaweiState>().quota.used(kind, now),
            "user_domain_id": ACCOUNT_DOMAIN_ID,
        }));
    }
    Map::from_iter([("quotas".into(), Value::Array(quotas))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_for_shape() {
        assert_eq!(
            checked_host("https://WWW.Example.com./a.js", Shape::File).unwrap(),
            "www.example.com"
        );
        assert!(checked_host("ftp://example.com/a", Shape::File).is_err());
        assert!(checked_host("example.com/a", Shape::File).is_err());
        assert!(checked_host("http://example.com/a b", Shape::File).is_err());
        assert!(checked_host("http://example.com/dir", Shape::Directory).is_err());
        assert!(checked_host("http://example.com/dir/", Shape::Directory).is_ok());
        assert!(checked_host("http://example.com/dir/", Shape::File).is_ok());
        assert!(checked_host("http://example.com/?a=1", Shape::File).is_ok());
        assert!(checked_host("http://example.com/中文.js", Shape::File).is_ok());
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(checked_host(&long, Shape::File).is_err());
    }

    #[test]
    fn zh_url_encode_encodes_non_ascii_only() {
        assert_eq!(
            utf8_percent_encode("http://example.com/中?a=1&b", NON_ASCII).to_string(),
            "http://example.com/%E4%B8%AD?a=1&b"
        );
    }

    #[test]
    fn paging_takes_both_or_neither() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(paging(&q(&[])).unwrap(), (30, 1));
        assert_eq!(
            paging(&q(&[("page_size", "5"), ("page_number", "2")])).unwrap(),
            (5, 2)
        );
        assert!(paging(&q(&[("page_size", "5")])).is_err());
        assert!(paging(&q(&[("page_size", "0"), ("page_number", "1")])).is_err());
        assert!(paging(&q(&[("page_size", "x"), ("page_number", "1")])).is_err());
        assert_eq!(page(vec![1, 2, 3, 4, 5], (2, 2)), vec![3, 4]);
        assert!(page(vec![1, 2], (2, 5)).is_empty());
    }
}
