//! Which commit to diff against: `--base` when given, else what the CI run says.
//!
//! Order: an explicit `--base` (SHA or ref) wins. `--base auto` (or none) reads, on
//! GitHub, the event file (`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`): `push` → `before`
//! (and `after` as head), `pull_request`/`pull_request_target` → `pull_request.base.sha`
//! (and `pull_request.head.sha` as head); on GitLab, `CI_MERGE_REQUEST_DIFF_BASE_SHA`, then
//! `CI_COMMIT_BEFORE_SHA`. A zero SHA (new branch or tag, first pipeline) or no value at
//! all means there is no base: that is a [`BaseChoice`] with `base: None` and a reason,
//! not an error, so `--on-missing-base` decides. Errors are for input that is wrong
//! (an unreadable or malformed event, a SHA field that is not a SHA).

use std::path::Path;

use serde_json::Value;

use super::{BaseSource, ChangesError, EnvLookup, ZERO_SHA};

/// The base (and maybe head) to diff, and how they were chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChoice {
    /// A SHA or ref; `None` when there is nothing to diff against (`why` says why).
    pub base: Option<String>,
    /// Head named by the CI event (push `after`, pull request `head.sha`), if any.
    pub head: Option<String>,
    pub source: BaseSource,
    /// Where the base came from, or why there is none and what to do; for logs and errors.
    pub why: String,
}

pub const MISSING_FIX: &str = "fix: pass --base with the last deployed commit (a SHA or ref), \
     or set --on-missing-base all (refresh every mapped root) or skip (refresh nothing)";

/// See the module docs. `explicit` is `--base`: a SHA, a ref, `auto`, or `None` (= auto).
pub fn resolve_base(explicit: Option<&str>, env: EnvLookup) -> Result<BaseChoice, ChangesError> {
    match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(b) if !b.eq_ignore_ascii_case("auto") => explicit_base(b),
        _ => detect(env),
    }
}

fn explicit_base(base: &str) -> Result<BaseChoice, ChangesError> {
    if base.starts_with('-') {
        return Err(input_error(
            "--base",
            format!("`{base}` looks like an option, not a commit"),
            "give a commit SHA, a ref such as `origin/main` or a tag, or `auto`",
        ));
    }
    if is_zero(base) {
        return Ok(missing(
            BaseSource::Explicit,
            format!("--base is the zero SHA {ZERO_SHA}: there is no previous commit"),
        ));
    }
    Ok(found(
        base.to_owned(),
        None,
        BaseSource::Explicit,
        "--base".into(),
    ))
}

fn detect(env: EnvLookup) -> Result<BaseChoice, ChangesError> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(event) = get("GITHUB_EVENT_NAME") {
        return github(event.trim(), get("GITHUB_EVENT_PATH"));
    }
    let gitlab = get("GITLAB_CI").is_some()
        || get("CI_MERGE_REQUEST_DIFF_BASE_SHA").is_some()
        || get("CI_COMMIT_BEFORE_SHA").is_some();
    if gitlab {
        return gitlab_vars(&get);
    }
    Ok(missing(
        BaseSource::Undetected,
        "--base auto found no CI event: neither GITHUB_EVENT_NAME (GitHub Actions) nor \
         CI_COMMIT_BEFORE_SHA (GitLab CI) is set"
            .into(),
    ))
}

fn github(event: &str, path: Option<String>) -> Result<BaseChoice, ChangesError> {
    let is_push = event == "push";
    let is_pr = event == "pull_request" || event == "pull_request_target";
    if !is_push && !is_pr {
        return Ok(missing(
            BaseSource::Undetected,
            format!(
                "the GitHub event `{event}` carries no previous commit (only push and \
                 pull_request events do)"
            ),
        ));
    }
    let Some(path) = path else {
        return Err(input_error(
            "GITHUB_EVENT_PATH",
            format!("not set, while GITHUB_EVENT_NAME is `{event}`"),
            "pass GITHUB_EVENT_PATH through to this step (container steps keep it by \
             default), or give --base",
        ));
    };
    let json = read_event(Path::new(&path))?;
    let field = |pointer: &str| sha_field(&json, pointer, &path);

    if is_push {
        if json.get("deleted").and_then(Value::as_bool) == Some(true) {
            let r = json.get("ref").and_then(Value::as_str).unwrap_or("the ref");
            return Ok(missing(
                BaseSource::GithubPush,
                format!("the push event in {path} deleted {r}: there is nothing new to refresh"),
            ));
        }
        let head = field("/after")?.sha();
        return Ok(match field("/before")? {
            Field::Sha(before) => found(
                before,
                head,
                BaseSource::GithubPush,
                format!("GitHub push event `before` in {path}"),
            ),
            Field::Zero => BaseChoice {
                head,
                ..missing(
                    BaseSource::GithubPush,
                    format!(
                        "the push event in {path} has `before` = {ZERO_SHA}: a new branch or \
                         tag has no previous commit"
                    ),
                )
            },
            Field::Absent => {
                return Err(malformed(&path, "has no `before` field"));
            }
        });
    }

    let head = field("/pull_request/head/sha")?.sha();
    match field("/pull_request/base/sha")? {
        Field::Sha(base) => Ok(found(
            base,
            head,
            BaseSource::GithubPullRequest,
            format!("GitHub {event} event `pull_request.base.sha` in {path}"),
        )),
        Field::Zero | Field::Absent => Err(malformed(&path, "has no `pull_request.base.sha`")),
    }
}

fn gitlab_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<BaseChoice, ChangesError> {
    let var = |name: &str| -> Result<Field, ChangesError> {
        match get(name) {
            None => Ok(Field::Absent),
            Some(v) => parse_sha(v.trim()).ok_or_else(|| {
                input_error(
                    name,
                    format!("`{}` is not a commit SHA", v.trim()),
                    "leave GitLab's predefined variable alone, or give --base",
                )
            }),
        }
    };
    if let Field::Sha(base) = var("CI_MERGE_REQUEST_DIFF_BASE_SHA")? {
        return Ok(found(
            base,
            None,
            BaseSource::GitlabMergeRequest,
            "GitLab CI_MERGE_REQUEST_DIFF_BASE_SHA".into(),
        ));
    }
    match var("CI_COMMIT_BEFORE_SHA")? {
        Field::Sha(base) => Ok(found(
            base,
            None,
            BaseSource::GitlabBefore,
            "GitLab CI_COMMIT_BEFORE_SHA".into(),
        )),
        Field::Zero => Ok(missing(
            BaseSource::GitlabBefore,
            format!(
                "CI_COMMIT_BEFORE_SHA is {ZERO_SHA}: GitLab sends zeros for the first \
                 pipeline of a branch or tag, merge request pipelines, and manual or \
                 scheduled pipelines"
            ),
        )),
        Field::Absent => Ok(missing(
            BaseSource::GitlabBefore,
            "GitLab CI, but neither CI_MERGE_REQUEST_DIFF_BASE_SHA nor CI_COMMIT_BEFORE_SHA \
             is set"
                .into(),
        )),
    }
}

/// A SHA-valued field: absent (or null or empty), all zeros, or a SHA.
enum Field {
    Absent,
    Zero,
    Sha(String),
}

impl Field {
    /// The SHA, treating zeros (e.g. `after` of a deleted branch) as absent.
    fn sha(self) -> Option<String> {
        match self {
            Field::Sha(s) => Some(s),
            Field::Absent | Field::Zero => None,
        }
    }
}

fn sha_field(json: &Value, pointer: &str, path: &str) -> Result<Field, ChangesError> {
    match json.pointer(pointer) {
        None | Some(Value::Null) => Ok(Field::Absent),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Field::Absent),
        Some(Value::String(s)) => parse_sha(s.trim()).ok_or_else(|| {
            malformed(
                path,
                &format!(
                    "has `{}` = `{s}`, which is not a commit SHA",
                    dotted(pointer)
                ),
            )
        }),
        Some(other) => Err(malformed(
            path,
            &format!("has `{}` = {other}, which is not a string", dotted(pointer)),
        )),
    }
}

/// A full SHA-1 (40) or SHA-256 (64) hex string, lower-cased; zeros are [`Field::Zero`].
fn parse_sha(s: &str) -> Option<Field> {
    let hex = (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        None
    } else if is_zero(s) {
        Some(Field::Zero)
    } else {
        Some(Field::Sha(s.to_ascii_lowercase()))
    }
}

fn is_zero(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b == b'0')
}

fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

fn read_event(path: &Path) -> Result<Value, ChangesError> {
    let origin = format!("GITHUB_EVENT_PATH {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        input_error(
            &origin,
            format!("cannot read the event file: {e}"),
            "run inside the GitHub Actions job that received the event (a container step \
             must mount it), or give --base",
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        input_error(
            &origin,
            format!("the event file is not JSON: {e}"),
            "point GITHUB_EVENT_PATH at the event file GitHub wrote, or give --base",
        )
    })
}

fn malformed(path: &str, problem: &str) -> ChangesError {
    input_error(
        &format!("GITHUB_EVENT_PATH {path}"),
        format!("the event {problem}"),
        "point GITHUB_EVENT_PATH at the event file GitHub wrote, or give --base",
    )
}

fn input_error(origin: &str, problem: String, fix: &str) -> ChangesError {
    ChangesError::Input {
        origin: origin.to_owned(),
        problem,
        fix: fix.to_owned(),
    }
}

fn found(base: String, head: Option<String>, source: BaseSource, why: String) -> BaseChoice {
    BaseChoice {
        base: Some(base),
        head,
        source,
        why,
    }
}

fn missing(source: BaseSource, why: String) -> BaseChoice {
    BaseChoice {
        base: None,
        head: None,
        source,
        why: format!("no base commit to diff against: {why}\n  {MISSING_FIX}"),
    }
}
