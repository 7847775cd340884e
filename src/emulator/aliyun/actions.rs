//! The operations, with the documented limits and error codes. Each one validates the
//! whole request, then checks quotas for all of it, and only then accepts it: nothing is
//! ever partially accepted.
//!
//! Status queries report a path with its scheme (`http://` added when the request had none),
//! as the real service shows them; `ObjectType` is `file`, `directory`, `regex`,
//! `ignoreParams` (undocumented spelling, chosen here) or `preload`.
//!
//! DescribeRefreshTasks is also how a client learns whether a submission whose answer was
//! lost was accepted: `ObjectPath` matches a path exactly as sent (with or without its
//! scheme), `ObjectType=preload` finds PushObjectCache tasks, and `StartTime`/`EndTime`
//! compare the `CreationTime` the answer shows (whole seconds), bounds included. Under an
//! `endless-pages` fault it answers every page full of fabricated `Refreshing` entries (for
//! the `TaskId`, `ObjectPath` and `ObjectType` asked) with a `TotalCount` of 10^15.

use std::time::Instant;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde_json::{Map, Value, json};

use super::state::{AliyunState, Progress, Task, TaskPath};
use super::{ApiError, RpcRequest, knobs};
use crate::emulator::edge::Scope;
use crate::emulator::server::{App, ENDLESS_TOTAL, endless_url};
use crate::emulator::state::Inner;
use crate::providers::{BatchKind, ObjectType, Operation, QuotaKind};

/// Longest object path accepted.
const MAX_PATH_CHARS: usize = 1024;
/// Distinct domains in one refresh request.
const MAX_DOMAINS_PER_REQUEST: usize = 10;
const MAX_REFRESH_URLS: usize = 1000;
const MAX_REFRESH_DIRS: usize = 100;
const MAX_PUSH_URLS: usize = 100;
const MAX_TASK_IDS: usize = 10;
/// What a failed task's path reports, as the real service spells one of its causes.
const FAILED_DESCRIPTION: &str = "Origin Return StatusCode 5XX";
/// Fixed quotas of features the emulator does not implement, reported like a fresh account.
const BLOCK_QUOTA: u64 = 300;
const PRELOAD_EDGE_QUOTA: u64 = 20;

pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub inner: &'a mut Inner,
    pub now: (DateTime<Utc>, Instant),
}

pub(crate) fn run(
    ctx: &mut Ctx<'_>,
    action: &str,
    req: &RpcRequest<'_>,
) -> Result<Map<String, Value>, ApiError> {
    match action {
        "RefreshObjectCaches" => refresh(ctx, req),
        "PushObjectCache" => push(ctx, req),
        "DescribeRefreshTaskById" => describe_by_id(ctx, req),
        "DescribeRefreshTasks" => describe_tasks(ctx, req),
        "DescribeRefreshQuota" => Ok(quota(ctx)),
        other => unreachable!("action {other} was checked against ACTIONS"),
    }
}

/// One object path of a request.
struct ObjectPath<'r> {
    /// As sent (trimmed): the key of the stats.
    raw: &'r str,
    /// Lower-case host name without port.
    host: String,
    /// As status queries report it.
    reported: String,
}

fn malformed(detail: impl Into<String>) -> ApiError {
    ApiError::bad(
        "InvalidObjectPath.Malformed",
        format!(
            "The specified value of parameter ObjectPath is malformed: {}",
            detail.into()
        ),
    )
}

/// The lines of `ObjectPath` (`\n` or `\r\n` separated), blank lines skipped.
fn object_path_lines<'r>(req: &'r RpcRequest<'_>) -> Result<Vec<&'r str>, ApiError> {
    let lines: Vec<&str> = req
        .param("ObjectPath")
        .unwrap_or("")
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ApiError::missing("ObjectPath"));
    }
    Ok(lines)
}

/// `[http[s]://]host[:port][/path]`.
fn parse_object_path(raw: &str) -> Result<ObjectPath<'_>, ApiError> {
    if raw.chars().count() > MAX_PATH_CHARS {
        return Err(malformed(format!(
            "a path is longer than {MAX_PATH_CHARS} characters"
        )));
    }
    // Lines are trimmed; inside a path only control characters are refused (a space may be
    // part of a file name).
    if raw.chars().any(char::is_control) {
        return Err(malformed(format!("{raw:?} contains a control character")));
    }
    let lower = raw.to_ascii_lowercase();
    let (rest, has_scheme) = if lower.starts_with("http://") {
        (&raw[7..], true)
    } else if lower.starts_with("https://") {
        (&raw[8..], true)
    } else if raw.contains("://") {
        return Err(malformed(format!(
            "{raw:?}: only http and https URLs can be refreshed"
        )));
    } else {
        (raw, false)
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !valid {
        return Err(malformed(format!("{raw:?} has no valid domain name")));
    }
    Ok(ObjectPath {
        raw,
        host: host.to_ascii_lowercase(),
        reported: if has_scheme {
            raw.to_string()
        } else {
            format!("http://{raw}")
        },
    })
}

/// Parses every line, checks every domain is the account's, groups by domain (in order
/// of first appearance).
fn paths_by_domain<'r>(
    ctx: &Ctx<'_>,
    lines: &[&'r str],
    check: impl Fn(&ObjectPath<'r>) -> Result<(), ApiError>,
) -> Result<Vec<(String, Vec<ObjectPath<'r>>)>, ApiError> {
    let mut groups: Vec<(String, Vec<ObjectPath<'r>>)> = Vec::new();
    for line in lines {
        let path = parse_object_path(line)?;
        check(&path)?;
        match groups.iter_mut().find(|(host, _)| *host == path.host) {
            Some((_, paths)) => paths.push(path),
            None => groups.push((path.host.clone(), vec![path])),
        }
    }
    if let Some((host, _)) = groups.iter().find(|(h, _)| !ctx.app.domains.contains(h)) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "InvalidDomain.NotFound",
            format!(
                "The domain provided does not belong to you. ({host} is not among the emulator's --domains)"
            ),
        ));
    }
    Ok(groups)
}

fn parse_bool(req: &RpcRequest<'_>, name: &str) -> Result<bool, ApiError> {
    match req.param(name) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::bad(
            "InvalidParameter",
            format!("The specified parameter {name} is not valid: expected true or false."),
        )),
    }
}

fn quota_limit(app: &App, kind: QuotaKind) -> u64 {
    let knobs = knobs(app);
    match kind {
        QuotaKind::RefreshUrl => knobs.url_quota,
        QuotaKind::RefreshDirectory => knobs.dir_quota,
        QuotaKind::RefreshRegex => knobs.regex_quota,
        QuotaKind::RefreshIgnoreParams => knobs.ignore_params_quota,
        QuotaKind::Prefetch => knobs.preload_quota,
    }
}

fn remaining(ctx: &mut Ctx<'_>, kind: QuotaKind) -> u64 {
    let used = ctx.inner.state_mut::<AliyunState>().quota.used(kind, ctx.now.0);
    quota_limit(ctx.app, kind).saturating_sub(used)
}

/// Creates one task per domain and records the acceptance; returns the ids, comma-joined.
fn accept(
    ctx: &mut Ctx<'_>,
    operation: Operation,
    object_type: ObjectType,
    groups: Vec<(String, Vec<ObjectPath<'_>>)>,
) -> String {
    let count: usize = groups.iter().map(|(_, p)| p.len()).sum();
    let kind = BatchKind {
        operation,
        object_type,
    }
    .quota_kind();
    ctx.inner.state_mut::<AliyunState>().quota.add(kind, count as u64, ctx.now.0);
    let mut ids = Vec::new();
    for (domain, paths) in groups {
        let raws: Vec<&str> = paths.iter().map(|p| p.raw).collect();
        if operation == Operation::Refresh
            && matches!(object_type, ObjectType::File | ObjectType::IgnoreParams)
        {
            ctx.inner
                .state_mut::<AliyunState>()
                .per_minute
                .add(&domain, paths.len() as u64, ctx.now.1);
        }
        let task_paths: Vec<TaskPath> = paths
            .into_iter()
            .map(|p| TaskPath {
                fails: ctx.app.fails(p.raw),
                reported: p.reported,
            })
            .collect();
        let covered: Vec<Scope> = task_paths
            .iter()
            .filter(|p| !p.fails)
            .filter_map(|p| edge_scope(object_type, &p.reported))
            .collect();
        ctx.inner.cover(operation, ctx.now.1, covered);
        let id = ctx
            .inner
            .state_mut::<AliyunState>()
            .tasks
            .create(operation, object_type, &domain, task_paths, ctx.now);
        ctx.inner.accept(operation, &raws, ctx.now.0);
        ctx.inner.stats.tasks_created += 1;
        ids.push(id.to_string());
    }
    ids.join(",")
}

/// What a task's path covers at the edge: File (and a prefetch) the URL, Directory what is
/// below it, IgnoreParams the URL whatever its query, Regex what its pattern matches.
fn edge_scope(object_type: ObjectType, reported: &str) -> Option<Scope> {
    match object_type {
        ObjectType::File => Scope::url(reported),
        ObjectType::Directory => Scope::directory(reported),
        ObjectType::IgnoreParams => Scope::any_query(reported),
        ObjectType::Regex => super::regex::scope(reported),
    }
}

fn refresh(ctx: &mut Ctx<'_>, req: &RpcRequest<'_>) -> Result<Map<String, Value>, ApiError> {
    let lines = object_path_lines(req)?;
    let object_type = match req.param("ObjectType").unwrap_or("File") {
        "File" | "" => ObjectType::File,
        "Directory" => ObjectType::Directory,
        "Regex" => ObjectType::Regex,
        // `ExQuery` is the SDK doc-comment's older name of the same type.
        "IgnoreParams" | "ExQuery" => ObjectType::IgnoreParams,
        _ => {
            return Err(ApiError::bad(
                "InvalidObjectType.ValueNotSupported",
                "The specified ObjectType is invalid: expected File, Directory, Regex or IgnoreParams.",
            ));
        }
    };
    parse_bool(req, "Force")?;
    let (max, what) = match object_type {
        ObjectType::Directory => (MAX_REFRESH_DIRS, "directories"),
        ObjectType::Regex => (1, "regular expression"),
        _ => (MAX_REFRESH_URLS, "URLs"),
    };
    if lines.len() > max {
        return Err(ApiError::bad(
            "SingleRequest.OverLimit",
            format!("A maximum of {max} {what} are supported for each request."),
        ));
    }
    let groups = paths_by_domain(ctx, &lines, |p| {
        if object_type == ObjectType::Directory && !p.raw.ends_with('/') {
            return Err(malformed(format!(
                "the directory {:?} must end with /",
                p.raw
            )));
        }
        Ok(())
    })?;
    if groups.len() > MAX_DOMAINS_PER_REQUEST {
        return Err(malformed(format!(
            "a request may name at most {MAX_DOMAINS_PER_REQUEST} domains, this one names {}",
            groups.len()
        )));
    }

    let kind = BatchKind::refresh(object_type).quota_kind();
    let left = remaining(ctx, kind);
    if lines.len() as u64 > left {
        return Err(ApiError::bad(
            "QuotaExceeded.Refresh",
            format!(
                "Your refresh attempts have exceeded the daily limit. ({} {kind} paths requested, {left} left today)",
                lines.len()
            ),
        ));
    }
    // The per-minute cap counts URLs (File and IgnoreParams), not directories or patterns.
    let counts_per_minute = matches!(object_type, ObjectType::File | ObjectType::IgnoreParams);
    let cap = u64::from(knobs(ctx.app).urls_per_minute_per_domain);
    if cap > 0 && counts_per_minute {
        for (domain, paths) in &groups {
            let used = ctx.inner.state_mut::<AliyunState>().per_minute.used(domain, ctx.now.1);
            if used + paths.len() as u64 > cap {
                return Err(ApiError::bad(
                    "QuotaPerMinuteExceeded.Refresh",
                    format!(
                        "You tried to refresh too frequently; please try again later. ({domain}: {used} of {cap} paths used in the last minute)"
                    ),
                ));
            }
        }
    }
    let ids = accept(ctx, Operation::Refresh, object_type, groups);
    Ok(Map::from_iter([("RefreshTaskId".into(), json!(ids))]))
}

fn push(ctx: &mut Ctx<'_>, req: &RpcRequest<'_>) -> Result<Map<String, Value>, ApiError> {
    let lines = object_path_lines(req)?;
    match req.param("Area") {
        None | Some("") | Some("domestic") | Some("overseas") => {}
        Some(_) => {
            return Err(ApiError::bad(
                "InvalidArea.ValueNotSupported",
                "The specified Area is not supported: expected domestic or overseas.",
            ));
        }
    }
    for name in ["L2Preload", "QueryHashkey", "ConsistencyHash"] {
        parse_bool(req, name)?;
    }
    let with_header = req.param("WithHeader").filter(|v| !v.is_empty());
    if with_header.is_some_and(|h| !matches!(serde_json::from_str(h), Ok(Value::Object(_)))) {
        return Err(ApiError::bad(
            "InvalidParameter",
            "The specified parameter WithHeader is not valid: expected a JSON object.",
        ));
    }
    if lines.len() > MAX_PUSH_URLS {
        return Err(ApiError::bad(
            "InvalidObjectPath.ExceedsMaximum",
            format!("The maximum number of urls is exceeded: at most {MAX_PUSH_URLS} per request."),
        ));
    }
    let groups = paths_by_domain(ctx, &lines, |_| Ok(()))?;
    let left = remaining(ctx, QuotaKind::Prefetch);
    if lines.len() as u64 > left {
        return Err(ApiError::bad(
            "QuotaExceeded.Preload",
            format!(
                "Your preload attempts have exceeded the daily limit. ({} URLs requested, {left} left today)",
                lines.len()
            ),
        ));
    }
    let ids = accept(ctx, Operation::Prefetch, ObjectType::File, groups);
    Ok(Map::from_iter([("PushTaskId".into(), json!(ids))]))
}

fn type_name(task: &Task) -> &'static str {
    match (task.operation, task.object_type) {
        (Operation::Prefetch, _) => "preload",
        (_, ObjectType::File) => "file",
        (_, ObjectType::Directory) => "directory",
        (_, ObjectType::Regex) => "regex",
        (_, ObjectType::IgnoreParams) => "ignoreParams",
    }
}

fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One status entry per path of the task.
fn entries(ctx: &Ctx<'_>, task: &Task) -> Vec<(Progress, Value)> {
    task.paths
        .iter()
        .map(|path| {
            let progress = task.progress(path, ctx.now.1, ctx.app.args.task_duration);
            let (status, percent) = match progress {
                Progress::Pending => ("Pending", 0),
                Progress::Running(p) => ("Refreshing", p),
                Progress::Complete => ("Complete", 100),
                Progress::Failed => ("Failed", 0),
            };
            let description = if progress == Progress::Failed {
                FAILED_DESCRIPTION
            } else {
                ""
            };
            let entry = json!({
                "TaskId": task.id.to_string(),
                "ObjectPath": path.reported,
                "ObjectType": type_name(task),
                "Status": status,
                "Process": format!("{percent}%"),
                "CreationTime": format_time(task.created),
                "Description": description,
            });
            (progress, entry)
        })
        .collect()
}

fn describe_by_id(ctx: &mut Ctx<'_>, req: &RpcRequest<'_>) -> Result<Map<String, Value>, ApiError> {
    let ids: Vec<&str> = req
        .param("TaskId")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::missing("TaskId"));
    }
    if ids.len() > MAX_TASK_IDS {
        return Err(ApiError::bad(
            "InvalidTaskId.ExceedsMaximum",
            format!("A maximum of {MAX_TASK_IDS} task IDs can be queried in one request."),
        ));
    }
    let mut tasks = Vec::new();
    for id in ids {
        let id: u64 = id.parse().map_err(|_| {
            ApiError::bad(
                "InvalidTaskId.Malformed",
                format!("The specified TaskId {id:?} is invalid."),
            )
        })?;
        if let Some(task) = ctx.inner.state::<AliyunState>().tasks.get(id) {
            tasks.extend(entries(ctx, task).into_iter().map(|(_, e)| e));
        }
    }
    Ok(Map::from_iter([
        ("TotalCount".into(), json!(tasks.len())),
        ("Tasks".into(), Value::Array(tasks)),
    ]))
}

fn describe_tasks(ctx: &mut Ctx<'_>, req: &RpcRequest<'_>) -> Result<Map<String, Value>, ApiError> {
    let number = |name: &str, default: u64, max: u64| -> Result<u64, ApiError> {
        match req.param(name) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad(
                    &format!("Invalid{name}.ValueNotSupported"),
                    format!("The specified {name} is invalid: expected 1 to {max}."),
                )),
            },
        }
    };
    let page_number = number("PageNumber", 1, 100_000)?;
    let page_size = number("PageSize", 20, 100)?;
    let filter = |name: &str| req.param(name).filter(|v| !v.is_empty());
    let object_type = filter("ObjectType");
    let known_types = ["file", "directory", "regex", "ignoreParams", "preload"];
    if object_type.is_some_and(|t| !known_types.contains(&t)) {
        return Err(ApiError::bad(
            "InvalidObjectType.ValueNotSupported",
            "The specified ObjectType is invalid: expected file, directory, regex or preload.",
        ));
    }
    let domain = filter("DomainName").map(str::to_ascii_lowercase);
    let status = filter("Status");
    if (domain.is_some() || status.is_some()) && object_type.is_none() {
        return Err(ApiError::missing("ObjectType"));
    }
    let known_statuses = ["Complete", "Refreshing", "Failed", "Pending"];
    if status.is_some_and(|s| !known_statuses.contains(&s)) {
        return Err(ApiError::bad(
            "InvalidStatus.ValueNotSupported",
            "The specified Status is invalid: expected Complete, Refreshing, Failed or Pending.",
        ));
    }
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        filter(name)
            .map(|v| {
                NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ")
                    .map(|t| t.and_utc())
                    .map_err(|_| {
                        ApiError::bad(
                            &format!("Invalid{name}.Malformed"),
                            format!(
                                "The specified {name} is invalid: expected yyyy-MM-ddTHH:mm:ssZ."
                            ),
                        )
                    })
            })
            .transpose()
    };
    let (start, end) = (time("StartTime")?, time("EndTime")?);
    if matches!((start, end), (Some(s), Some(e)) if e <= s) {
        return Err(ApiError::bad(
            "InvalidEndTime.Mismatch",
            "The EndTime must be later than the StartTime.",
        ));
    }
    let task_id = filter("TaskId");
    // Matched exactly, against the path as reported (scheme added when absent).
    let object_path = filter("ObjectPath").map(|p| match parse_object_path(p) {
        Ok(parsed) => parsed.reported,
        Err(_) => p.to_string(),
    });

    if req.call.endless_pages {
        let asked = (task_id, object_path.as_deref(), object_type);
        return Ok(endless_tasks(ctx, (page_number, page_size), asked));
    }

    let mut matching = Vec::new();
    for task in ctx.inner.state::<AliyunState>().tasks.newest_first() {
        // What `CreationTime` shows: a task created at 10:00:00.5 is in a range ending at
        // 10:00:00.
        let created = task.created.trunc_subsecs(0);
        let keep_task = task_id.is_none_or(|id| id == task.id.to_string())
            && object_type.is_none_or(|t| t == type_name(task))
            && domain.as_deref().is_none_or(|d| d == task.domain)
            && start.is_none_or(|s| created >= s)
            && end.is_none_or(|e| created <= e);
        if !keep_task {
            continue;
        }
        for (path, (_, entry)) in task.paths.iter().zip(entries(ctx, task)) {
            let keep = object_path.as_deref().is_none_or(|p| p == path.reported)
                && status.is_none_or(|s| entry["Status"] == s);
            if keep {
                matching.push(entry);
            }
        }
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(((page_number - 1) * page_size) as usize)
        .take(page_size as usize)
        .collect();
    Ok(Map::from_iter([
        ("PageNumber".into(), json!(page_number)),
        ("PageSize".into(), json!(page_size)),
        ("TotalCount".into(), json!(total)),
        ("Tasks".into(), json!({ "CDNTask": page })),
    ]))
}

/// Where fabricated task ids start, clear of the real ones.
const ENDLESS_TASK_IDS: u64 = 90_000_000_000;

/// A DescribeRefreshTasks page of an `endless-pages` fault: full, every entry still
/// refreshing, for the `(TaskId, ObjectPath, ObjectType)` asked.
fn endless_tasks(
    ctx: &Ctx<'_>,
    (page_number, page_size): (u64, u64),
    (task_id, object_path, object_type): (Option<&str>, Option<&str>, Option<&str>),
) -> Map<String, Value> {
    let first = (page_number - 1) * page_size;
    let page: Vec<Value> = (first..first + page_size)
        .map(|n| {
            json!({
                "TaskId": task_id.map_or_else(|| (ENDLESS_TASK_IDS + n).to_string(), str::to_string),
                "ObjectPath": object_path.map_or_else(|| endless_url(ctx.app, n), str::to_string),
                "ObjectType": object_type.unwrap_or("file"),
                "Status": "Refreshing",
                "Process": "50%",
                "CreationTime": format_time(ctx.now.0),
                "Description": "",
            })
        })
        .collect();
    Map::from_iter([
        ("PageNumber".into(), json!(page_number)),
        ("PageSize".into(), json!(page_size)),
        ("TotalCount".into(), json!(ENDLESS_TOTAL)),
        ("Tasks".into(), json!({ "CDNTask": page })),
    ])
}

fn quota(ctx: &mut Ctx<'_>) -> Map<String, Value> {
    let mut body = Map::new();
    let kinds = [
        ("Url", QuotaKind::RefreshUrl),
        ("Dir", QuotaKind::RefreshDirectory),
        ("Preload", QuotaKind::Prefetch),
        ("Regex", QuotaKind::RefreshRegex),
        ("IgnoreParams", QuotaKind::RefreshIgnoreParams),
    ];
    for (name, kind) in kinds {
        let limit = quota_limit(ctx.app, kind);
        let left = remaining(ctx, kind);
        body.insert(format!("{name}Quota"), json!(limit.to_string()));
        body.insert(format!("{name}Remain"), json!(left.to_string()));
    }
    for (name, limit) in [("Block", BLOCK_QUOTA), ("PreloadEdge", PRELOAD_EDGE_QUOTA)] {
        body.insert(format!("{name}Quota"), json!(limit.to_string()));
        body.insert(format!("{name}Remain"), json!(limit.to_string()));
    }
    body
}
