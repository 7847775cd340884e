//! The operations, with the documented limits and codes. A submission is checked whole, in
//! this order, and only then accepted: nothing is ever partially accepted, and a rejected
//! request consumes no quota, no rate and creates no task.
//!
//! 1. `urls`/`dirs` are arrays of strings or `null`/absent (anything else: 400000), and not
//!    both empty (400000, "urls 和 dirs 不能同时为空").
//! 2. Items per second (403024): the request's URLs plus directories, added to what was
//!    accepted in the last second across refresh and prefetch, must not exceed
//!    `--qiniu-items-per-second`. Only accepted requests count.
//! 3. Per request (400039 "commit too much"): at most 60 URLs and 10 directories per refresh,
//!    60 URLs per prefetch. The docs give the limits but not the code; 400039 is the
//!    service's own code for a submission that is too large (`ErrCommitTooMuch` in a
//!    public copy of its server code), and the only one that fits.
//! 4. Directory refresh enabled on the account (400038), unless
//!    `--qiniu-dir-refresh-disabled`.
//! 5. Every path a full `http(s)://host/…` URL without whitespace (400031 "invalid url",
//!    listed in `invalidUrls`/`invalidDirs`); URLs take no wildcard; directories end with
//!    `/` or `/*` and take no other wildcard.
//! 6. Every host among `--domains` (400032 "invalid host", listed the same way).
//! 7. 400037 "url has existed": a path already in a processing task of the same operation
//!    (or twice in the request) rejects the whole request, naming those paths. The service
//!    answers one `code` per request and fills `requestId` and the quotas only when it is
//!    200 ("在请求成功时 code 为 200，requestId…才会有有效值"), so a 400037 answer cannot
//!    have accepted the other paths; and `invalidUrls` is where the service names the paths
//!    a code is about.
//! 8. Daily quotas, all or nothing: URLs (400034), directories (400035), prefetched URLs
//!    (400033).
//!
//! A success answers `code` 200, `error` "success", a 24-hex `requestId`, `taskIds`
//! (`{path: taskId}`, as in the 2026 doc), `invalidUrls`/`invalidDirs` `null`, and what is
//! left of the day's quotas after this request, as the docs' examples show
//! (`urlQuotaDay`/`urlSurplusDay`/`dirQuotaDay`/`dirSurplusDay`, or `quotaDay`/`surplusDay`).
//!
//! Each path is a task: `processing` for `--task-duration`, then `success`, or `failure`
//! (with a `stateDetail`) when it contains a `--fail-matching` text. The list calls find
//! them by `requestId`, `taskId`, `urls`, `state`, `isDir` and a date range, 0-based pages
//! (`pageNo` defaults to 0, as the doc's example answer shows) of at most 100. Under an
//! `endless-pages` fault they answer every page full of fabricated `processing` items (for
//! the `requestId`, `taskId` and first of `urls` asked) with a `total` of 10^15.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::state::{QiniuProgress, QiniuState, QiniuTask};
use super::{ApiError, Code, Endpoint, codes, knobs};
use crate::emulator::edge::Scope;
use crate::emulator::server::{App, ENDLESS_TOTAL, endless_url};
use crate::emulator::state::Inner;
use crate::providers::{Operation, QuotaKind};

pub const MAX_REFRESH_URLS: usize = 60;
pub const MAX_REFRESH_DIRS: usize = 10;
pub const MAX_PREFETCH_URLS: usize = 60;
/// Largest `pageSize` of the list calls (also their default).
pub const MAX_PAGE_SIZE: u64 = 100;
/// What a failed task's `stateDetail` says (the service's wording is not documented).
const FAILED_DETAIL: &str = "origin returned 5XX";
/// The account's `uid`, as list items carry it.
const UID: u64 = 1_380_000_001;
/// How far back the list calls look without `startTime` and `endTime`.
const DEFAULT_LOOKBACK: TimeDelta = TimeDelta::days(3);
/// How far back a `startTime` may go: today and the six days before.
const MAX_LOOKBACK_DAYS: i64 = 6;

pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub inner: &'a mut Inner,
    pub now: (DateTime<Utc>, Instant),
    /// See [`crate::emulator::server::ApiCall::endless_pages`].
    pub endless_pages: bool,
}

pub(crate) fn run(
    ctx: &mut Ctx<'_>,
    endpoint: Endpoint,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match endpoint {
        Endpoint::Refresh => refresh(ctx, body),
        Endpoint::Prefetch => prefetch(ctx, body),
        Endpoint::RefreshList | Endpoint::PrefetchList => list(ctx, endpoint.operation(), body),
    }
}

fn invalid_input(reason: impl Into<String>) -> ApiError {
    ApiError::code(codes::INVALID_INPUT).because(reason)
}

/// An array of strings; `null` or absent is empty.
fn string_list(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid_input(format!("{field} must hold strings only")))
            })
            .collect(),
        Some(_) => Err(invalid_input(format!(
            "{field} must be an array of strings"
        ))),
    }
}

/// A string; `null`, absent or empty is `None`.
fn string_field<'b>(
    body: &'b Map<String, Value>,
    field: &str,
) -> Result<Option<&'b str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
        Some(_) => Err(invalid_input(format!("{field} must be a string"))),
    }
}

/// A non-negative integer; `null` or absent is `None`.
fn number_field(body: &Map<String, Value>, field: &str) -> Result<Option<u64>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid_input(format!("{field} must be a non-negative integer"))),
    }
}

/// The lower-case host of a well-formed path, `None` when it is not one (400031).
fn checked_host(raw: &str, is_dir: bool) -> Option<String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let wildcards_ok = if is_dir {
        let body = raw.strip_suffix("/*").map(|b| format!("{b}/"));
        let body = body.as_deref().unwrap_or(raw);
        body.ends_with('/') && !body.contains('*')
    } else {
        !raw.contains('*')
    };
    if !wildcards_ok {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// The paths of one submission, for steps 5–7: each step looks at both sides (URLs and
/// directories) before the next, and names every offender of the first step that fails.
struct Paths<'r> {
    urls: &'r [String],
    dirs: &'r [String],
}

impl Paths<'_> {
    fn offenders(&self, mut bad: impl FnMut(&str, bool) -> bool) -> (Vec<String>, Vec<String>) {
        let mut urls = Vec::new();
        for url in self.urls {
            if bad(url, false) {
                urls.push(url.clone());
            }
        }
        let mut dirs = Vec::new();
        for dir in self.dirs {
            if bad(dir, true) {
                dirs.push(dir.clone());
            }
        }
        (urls, dirs)
    }

    fn check(&self, ctx: &Ctx<'_>, operation: Operation) -> Result<(), ApiError> {
        let fail = |code: Code, (urls, dirs): (Vec<String>, Vec<String>), why: &str| {
            if urls.is_empty() && dirs.is_empty() {
                return Ok(());
            }
            let listed: Vec<&str> = urls.iter().chain(&dirs).map(String::as_str).collect();
            Err(ApiError::code(code)
                .because(format!("{why}: {}", listed.join(" ")))
                .naming(urls, dirs))
        };
        fail(
            codes::INVALID_URL,
            self.offenders(|p, is_dir| checked_host(p, is_dir).is_none()),
            "not a full http(s) URL (directories end with / or /*, no other wildcard)",
        )?;
        fail(
            codes::INVALID_HOST,
            self.offenders(|p, is_dir| {
                checked_host(p, is_dir).is_none_or(|h| !ctx.app.domains.contains(&h))
            }),
            "host not among the emulator's --domains",
        )?;
        let mut seen = HashSet::new();
        let (now, duration) = (ctx.now.1, ctx.app.args.task_duration);
        let tasks = &ctx.inner.state::<QiniuState>().tasks;
        fail(
            codes::URL_HAS_EXISTED,
            self.offenders(|p, is_dir| {
                !seen.insert((is_dir, p.to_string()))
                    || tasks.in_progress(operation, is_dir, p, now, duration)
            }),
            "already in a processing task (or twice in this request)",
        )
    }
}

/// The per-second item window (step 2).
fn check_rate(ctx: &mut Ctx<'_>, items: usize) -> Result<(), ApiError> {
    let limit = u64::from(knobs(ctx.app).qiniu_items_per_second);
    if limit == 0 {
        return Ok(());
    }
    let used = ctx.inner.state_mut::<QiniuState>().items.used(ctx.now.1);
    if used + items as u64 > limit {
        return Err(ApiError::code(codes::USER_QPS_LIMITED).because(format!(
            "{items} URLs and directories on top of {used} in the last second: more than {limit} a second"
        )));
    }
    Ok(())
}

fn quota_limit(app: &App, kind: QuotaKind) -> u64 {
    let knobs = knobs(app);
    match kind {
        QuotaKind::RefreshDirectory => knobs.qiniu_dir_quota,
        QuotaKind::Prefetch => knobs.qiniu_prefetch_quota,
        _ => knobs.qiniu_url_quota,
    }
}

fn remaining(ctx: &mut Ctx<'_>, kind: QuotaKind) -> u64 {
    let used = ctx.inner.state_mut::<QiniuState>().quota.used(kind, ctx.now.0);
    quota_limit(ctx.app, kind).saturating_sub(used)
}

fn check_quota(ctx: &mut Ctx<'_>, kind: QuotaKind, n: usize, code: Code) -> Result<(), ApiError> {
    let left = remaining(ctx, kind);
    if n as u64 > left {
        return Err(ApiError::code(code).because(format!(
            "{n} requested, {left} of today's {} {kind} quota left",
            quota_limit(ctx.app, kind)
        )));
    }
    Ok(())
}

/// Creates one task per path under a new request id, consumes quota and rate; returns the
/// request id and `{path: taskId}`.
fn accept(
    ctx: &mut Ctx<'_>,
    operation: Operation,
    paths: &Paths<'_>,
) -> (String, Map<String, Value>) {
    let now = ctx.now;
    let request_id = ctx.inner.state_mut::<QiniuState>().tasks.new_id(now.0);
    let mut task_ids = Map::new();
    let items = paths
        .urls
        .iter()
        .map(|u| (u, false))
        .chain(paths.dirs.iter().map(|d| (d, true)));
    let mut covered = Vec::new();
    for (path, is_dir) in items {
        let task_id = ctx.inner.state_mut::<QiniuState>().tasks.new_id(now.0);
        task_ids.insert(path.clone(), json!(task_id));
        let fails = ctx.app.fails(path);
        if !fails {
            // At the edge a URL covers itself, a directory (`…/` or `…/*`) what is below it.
            covered.extend(if is_dir {
                Scope::directory(path)
            } else {
                Scope::url(path)
            });
        }
        ctx.inner.state_mut::<QiniuState>().tasks.push(QiniuTask {
            request_id: request_id.clone(),
            task_id,
            operation,
            url: path.clone(),
            is_dir,
            fails,
            created: now.0,
            started: now.1,
        });
        ctx.inner.stats.tasks_created += 1;
    }
    let all: Vec<&str> = paths
        .urls
        .iter()
        .chain(paths.dirs)
        .map(String::as_str)
        .collect();
    ctx.inner.accept(operation, &all, now.0);
    ctx.inner.cover(operation, now.1, covered);
    ctx.inner.state_mut::<QiniuState>().items.add(all.len() as u64, now.1);
    let quota = &mut ctx.inner.state_mut::<QiniuState>().quota;
    match operation {
        Operation::Refresh => {
            quota.add(QuotaKind::RefreshUrl, paths.urls.len() as u64, now.0);
            quota.add(QuotaKind::RefreshDirectory, paths.dirs.len() as u64, now.0);
        }
        Operation::Prefetch => quota.add(QuotaKind::Prefetch, paths.urls.len() as u64, now.0),
    }
    (request_id, task_ids)
}

fn success(request_id: String, task_ids: Map<String, Value>) -> Map<String, Value> {
    Map::from_iter([
        ("code".into(), json!(200)),
        ("error".into(), json!("success")),
        ("requestId".into(), json!(request_id)),
        ("taskIds".into(), Value::Object(task_ids)),
        ("invalidUrls".into(), Value::Null),
    ])
}

fn refresh(ctx: &mut Ctx<'_>, body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let urls = string_list(body, "urls")?;
    let dirs = string_list(body, "dirs")?;
    if urls.is_empty() && dirs.is_empty() {
        return Err(invalid_input("urls and dirs are both empty"));
    }
    check_rate(ctx, urls.len() + dirs.len())?;
    if urls.len() > MAX_REFRESH_URLS || dirs.len() > MAX_REFRESH_DIRS {
        return Err(ApiError::code(codes::COMMIT_TOO_MUCH).because(format!(
            "{} urls and {} dirs: at most {MAX_REFRESH_URLS} urls and {MAX_REFRESH_DIRS} dirs per refresh",
            urls.len(),
            dirs.len()
        )));
    }
    if !dirs.is_empty() && knobs(ctx.app).qiniu_dir_refresh_disabled {
        return Err(ApiError::code(codes::NO_DIR_AUTHORITY).because(
            "directory refresh is not enabled on this account (--qiniu-dir-refresh-disabled)",
        ));
    }
    let paths = Paths {
        urls: &urls,
        dirs: &dirs,
    };
    paths.check(ctx, Operation::Refresh)?;
    check_quota(
        ctx,
        QuotaKind::RefreshUrl,
        urls.len(),
        codes::REFRESH_URL_LIMIT,
    )?;
    check_quota(
        ctx,
        QuotaKind::RefreshDirectory,
        dirs.len(),
        codes::REFRESH_DIR_LIMIT,
    )?;
    let (request_id, task_ids) = accept(ctx, Operation::Refresh, &paths);
    let mut answer = success(request_id, task_ids);
    answer.insert("invalidDirs".into(), Value::Null);
    for (name, kind) in [
        ("url", QuotaKind::RefreshUrl),
        ("dir", QuotaKind::RefreshDirectory),
    ] {
        answer.insert(format!("{name}QuotaDay"), json!(quota_limit(ctx.app, kind)));
        answer.insert(format!("{name}SurplusDay"), json!(remaining(ctx, kind)));
    }
    Ok(answer)
}

fn prefetch(ctx: &mut Ctx<'_>, body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    // A prefetch body has `urls` only; other fields are ignored, as the service's JSON
    // decoding ignores unknown fields.
    let urls = string_list(body, "urls")?;
    if urls.is_empty() {
        return Err(invalid_input("urls is empty"));
    }
    check_rate(ctx, urls.len())?;
    if urls.len() > MAX_PREFETCH_URLS {
        return Err(ApiError::code(codes::COMMIT_TOO_MUCH).because(format!(
            "{} urls: at most {MAX_PREFETCH_URLS} per prefetch",
            urls.len()
        )));
    }
    let paths = Paths {
        urls: &urls,
        dirs: &[],
    };
    paths.check(ctx, Operation::Prefetch)?;
    check_quota(
        ctx,
        QuotaKind::Prefetch,
        urls.len(),
        codes::PREFETCH_URL_LIMIT,
    )?;
    let (request_id, task_ids) = accept(ctx, Operation::Prefetch, &paths);
    let mut answer = success(request_id, task_ids);
    answer.insert(
        "quotaDay".into(),
        json!(quota_limit(ctx.app, QuotaKind::Prefetch)),
    );
    answer.insert(
        "surplusDay".into(),
        json!(remaining(ctx, QuotaKind::Prefetch)),
    );
    Ok(answer)
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// `YYYY-MM-DD HH:MM:SS`, Beijing time, as the doc's examples.
fn format_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Whether a task created at a time is in the listed range.
type TimeFilter = Box<dyn Fn(DateTime<Utc>) -> bool>;

/// `startTime`/`endTime` (`YYYY-MM-DD`, Beijing dates): both given, a range within today and
/// the six days before; else the last three days.
fn time_filter(
    ctx: &Ctx<'_>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<TimeFilter, ApiError> {
    let date = |v: Option<&str>, code: Code, name: &str| {
        v.map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                ApiError::code(code).because(format!("{name} {v:?} is not YYYY-MM-DD"))
            })
        })
        .transpose()
    };
    let start = date(start, codes::INVALID_START_TIME, "startTime")?;
    let end = date(end, codes::INVALID_END_TIME, "endTime")?;
    let now = ctx.now.0;
    match (start, end) {
        (Some(start), Some(end)) => {
            let today = now.with_timezone(&beijing()).date_naive();
            let earliest = today - TimeDelta::days(MAX_LOOKBACK_DAYS);
            if start > end || start < earliest || end > today {
                return Err(ApiError::code(codes::INVALID_TIME_RANGE).because(format!(
                    "startTime..endTime must lie within {earliest}..{today}, start first"
                )));
            }
            Ok(Box::new(move |t: DateTime<Utc>| {
                let day = t.with_timezone(&beijing()).date_naive();
                start <= day && day <= end
            }))
        }
        _ => Ok(Box::new(move |t: DateTime<Utc>| {
            now - t <= DEFAULT_LOOKBACK
        })),
    }
}

fn list(
    ctx: &mut Ctx<'_>,
    operation: Operation,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let request_id = string_field(body, "requestId")?;
    let task_id = string_field(body, "taskId")?;
    let urls = string_list(body, "urls")?;
    let state = string_field(body, "state")?;
    // Only the refresh list knows `isDir`; the prefetch list ignores it like any other
    // unknown field.
    let is_dir = match operation {
        Operation::Refresh => string_field(body, "isDir")?,
        Operation::Prefetch => None,
    };
    let start_time = string_field(body, "startTime")?;
    let end_time = string_field(body, "endTime")?;
    let page_no = number_field(body, "pageNo")?.unwrap_or(0);
    // 0 is Go's zero value: the same as absent.
    let page_size = match number_field(body, "pageSize")? {
        None | Some(0) => MAX_PAGE_SIZE,
        Some(n) if n <= MAX_PAGE_SIZE => n,
        Some(n) => {
            return Err(invalid_input(format!(
                "pageSize {n}: at most {MAX_PAGE_SIZE}"
            )));
        }
    };
    let no_filter = request_id.is_none()
        && task_id.is_none()
        && urls.is_empty()
        && state.is_none()
        && is_dir.is_none()
        && start_time.is_none()
        && end_time.is_none();
    if no_filter {
        // "输入参数可选部分全部为空时，服务端返回无效参数错误"
        return Err(invalid_input(
            "give at least one of requestId, taskId, urls, state, isDir, startTime/endTime",
        ));
    }
    if state.is_some_and(|s| !matches!(s, "processing" | "success" | "failure")) {
        return Err(invalid_input(
            "state must be processing, success or failure",
        ));
    }
    let is_dir = match is_dir {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => return Err(invalid_input("isDir must be yes or no")),
    };
    if let Some(id) = request_id
        && !ctx.inner.state::<QiniuState>().tasks.has_request(operation, id)
    {
        return Err(ApiError::code(codes::INVALID_REQUEST_ID).because(format!(
            "no {operation} request {id} on record (kept {} days)",
            super::state::QINIU_TASK_RETENTION.num_days()
        )));
    }
    let in_range = time_filter(ctx, start_time, end_time)?;
    if ctx.endless_pages {
        let asked = (request_id, task_id, urls.first().map(String::as_str));
        return Ok(endless_list(ctx, operation, (page_no, page_size), asked));
    }

    let (now, duration) = (ctx.now.1, ctx.app.args.task_duration);
    let mut items = Vec::new();
    for task in ctx.inner.state::<QiniuState>().tasks.newest_first(operation) {
        let progress = task.state(now, duration);
        let state_name = match progress {
            QiniuProgress::Processing => "processing",
            QiniuProgress::Success => "success",
            QiniuProgress::Failure => "failure",
        };
        let keep = request_id.is_none_or(|id| id == task.request_id)
            && task_id.is_none_or(|id| id == task.task_id)
            && (urls.is_empty() || urls.contains(&task.url))
            && state.is_none_or(|s| s == state_name)
            && is_dir.is_none_or(|d| d == task.is_dir)
            && in_range(task.created);
        if !keep {
            continue;
        }
        let ended = chrono::TimeDelta::from_std(duration)
            .ok()
            .and_then(|d| task.created.checked_add_signed(d))
            .unwrap_or(task.created);
        let mut item = Map::from_iter([
            ("uid".into(), json!(UID)),
            ("requestId".into(), json!(task.request_id)),
            ("taskId".into(), json!(task.task_id)),
            ("url".into(), json!(task.url)),
            ("state".into(), json!(state_name)),
            (
                "stateDetail".into(),
                json!(if progress == QiniuProgress::Failure {
                    FAILED_DETAIL
                } else {
                    ""
                }),
            ),
            ("createAt".into(), json!(format_time(task.created))),
            ("beginAt".into(), json!(format_time(task.created))),
            (
                "endAt".into(),
                json!(if progress == QiniuProgress::Processing {
                    String::new()
                } else {
                    format_time(ended)
                }),
            ),
        ]);
        if operation == Operation::Refresh {
            item.insert(
                "isDir".into(),
                json!(if task.is_dir { "yes" } else { "no" }),
            );
        }
        items.push(Value::Object(item));
    }
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(
            page_no
                .saturating_mul(page_size)
                .try_into()
                .unwrap_or(usize::MAX),
        )
        .take(page_size as usize)
        .collect();
    Ok(Map::from_iter([
        ("code".into(), json!(200)),
        ("error".into(), json!("success")),
        ("requestId".into(), json!(request_id.unwrap_or(""))),
        ("pageNo".into(), json!(page_no)),
        ("pageSize".into(), json!(page_size)),
        ("currentSize".into(), json!(page.len())),
        ("total".into(), json!(total)),
        ("items".into(), Value::Array(page)),
    ]))
}

/// A list page of an `endless-pages` fault: full, every item still processing, for the
/// `(requestId, taskId, url)` asked.
fn endless_list(
    ctx: &mut Ctx<'_>,
    operation: Operation,
    (page_no, page_size): (u64, u64),
    (request_id, task_id, url): (Option<&str>, Option<&str>, Option<&str>),
) -> Map<String, Value> {
    let now = format_time(ctx.now.0);
    let fabricated_request = ctx.inner.state_mut::<QiniuState>().tasks.new_id(ctx.now.0);
    let request = request_id.unwrap_or(&fabricated_request);
    let first = page_no.saturating_mul(page_size);
    let items: Vec<Value> = (first..first.saturating_add(page_size))
        .map(|n| {
            let mut item = json!({
                "uid": UID,
                "requestId": request,
                "taskId": task_id.map_or_else(|| format!("{n:024x}"), str::to_string),
                "url": url.map_or_else(|| endless_url(ctx.app, n), str::to_string),
                "state": "processing",
                "stateDetail": "",
                "createAt": now,
                "beginAt": now,
                "endAt": "",
            });
            if operation == Operation::Refresh {
                item["isDir"] = json!("no");
            }
            item
        })
        .collect();
    Map::from_iter([
        ("code".into(), json!(200)),
        ("error".into(), json!("success")),
        ("requestId".into(), json!(request_id.unwrap_or(""))),
        ("pageNo".into(), json!(page_no)),
        ("pageSize".into(), json!(page_size)),
        ("currentSize".into(), json!(items.len())),
        ("total".into(), json!(ENDLESS_TOTAL)),
        ("items".into(), Value::Array(items)),
    ])
}
