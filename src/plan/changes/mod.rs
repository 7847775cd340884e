//! Which files changed between the last deploy and this one: a git tree-to-tree diff of
//! `base` against `head`, with the base found from the CI event when asked to.
//!
//! ```text
//! --base/--head + CI env ──► resolve_base ──► BaseChoice (sha or ref, and why it was chosen)
//! BaseChoice ──► changes(): head and base present? if not, ONE `git fetch --depth=1` ──► diff
//!            ──► Resolved::Diff(Changes) | Resolved::MissingBase(Missing)
//! ```
//!
//! Public API:
//!
//! - [`changes`]`(repo, base, head, env)` does it all and is what `main`/`plan` call. It
//!   returns [`Resolved::MissingBase`] instead of an error when there is nothing to diff
//!   against (a new branch, a zero SHA, a base that cannot be fetched), so the caller can
//!   apply `--on-missing-base` ([`MissingBase`]): `fail` prints [`Missing::reason`] and
//!   exits 2, `all` refreshes every mapped root (with [`files_at`] giving every file at
//!   [`Missing::head`]), `skip` does nothing.
//! - [`resolve_base`] reads only its arguments (`--base`, and the environment through an
//!   [`EnvLookup`] closure, since only `main` reads the process environment) plus the
//!   event file that `GITHUB_EVENT_PATH` names.
//! - [`diff`] and [`files_at`] are the plain git operations, with no fetching.
//!
//! Why a tree diff and not a walk of the commits between base and head: deploys care
//! about the difference between two snapshots. A tree diff is right after a force-push
//! (base need not be an ancestor of head), counts a change reverted later as no change,
//! sees merges correctly, and needs only the two commits and their trees, so a shallow
//! clone plus one `git fetch --depth=1 origin <sha>` of the base is enough.
//!
//! Paths are the raw bytes git stores (no `core.quotePath` escaping); a path that is not
//! UTF-8 is an error that names it, because it cannot become a URL without guessing its
//! encoding. Symlinks are files (the CDN serves what they point to, so a changed link is a
//! changed file). Submodules (gitlinks) are skipped and listed: their files live in another
//! repository.
//!
//! The diff walks both trees side by side and skips equal subtrees, as git does; renames
//! are exact (same blob under a new path), found without reading any blob. `walk.rs` has
//! the measurements behind both choices. A rename that also edits the file is reported as
//! a deletion plus an addition, which purges the same two paths.

mod base;
mod diff;
mod fetch;
mod objects;
mod walk;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use base::{BaseChoice, MISSING_FIX, resolve_base};
pub use diff::{diff, files_at};
pub use fetch::{git_in, is_full_sha, run_git};

/// Looks up one environment variable; `main` passes a closure over the captured
/// environment, tests pass a map. An empty value counts as unset.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The all-zero SHA that GitHub and GitLab send when there is no previous commit.
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    /// Same content under a new path; [`Change::old_path`] holds the old one.
    Renamed,
    /// A file became a symlink or the other way round.
    TypeChanged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The path at head, or the deleted path.
    pub path: String,
    /// The path at base, for renames only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
}

/// How the base commit was chosen; in the report as kebab-case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseSource {
    /// `--base` with a SHA or a ref.
    Explicit,
    /// GitHub `push` event: `before` (and `after` as head).
    GithubPush,
    /// GitHub `pull_request` / `pull_request_target`: `pull_request.base.sha` / `.head.sha`.
    GithubPullRequest,
    /// GitLab `CI_MERGE_REQUEST_DIFF_BASE_SHA`.
    GitlabMergeRequest,
    /// GitLab `CI_COMMIT_BEFORE_SHA`.
    GitlabBefore,
    /// `--base auto` found neither a GitHub event nor GitLab variables.
    Undetected,
    /// `--marker`: the commit of the last run that ended fully successful.
    Marker,
}

impl BaseSource {
    /// Where the base came from, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            BaseSource::Explicit => "--base",
            BaseSource::GithubPush => "GitHub push event `before`",
            BaseSource::GithubPullRequest => "GitHub pull request `base.sha`",
            BaseSource::GitlabMergeRequest => "GitLab CI_MERGE_REQUEST_DIFF_BASE_SHA",
            BaseSource::GitlabBefore => "GitLab CI_COMMIT_BEFORE_SHA",
            BaseSource::Undetected => "no CI event",
            BaseSource::Marker => "the marker of the last successful run",
        }
    }
}

/// The files that changed from `base` to `head`, in git's tree order (depth first, a
/// directory sorting as if its name ended with `/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Full SHA of the base commit.
    pub base: String,
    /// Full SHA of the head commit.
    pub head: String,
    pub base_source: BaseSource,
    pub changes: Vec<Change>,
    /// Submodule paths whose commit changed (or that appeared or went); not diffed.
    pub skipped_submodules: Vec<String>,
}

/// `--on-missing-base`: what the caller does when there is no base to diff against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingBase {
    /// Stop with exit 2 and [`Missing::reason`] (default).
    #[default]
    Fail,
    /// Refresh every mapped root (or every file from [`files_at`]).
    All,
    /// Refresh nothing from git; exit 0.
    Skip,
}

impl std::str::FromStr for MissingBase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(MissingBase::Fail),
            "all" => Ok(MissingBase::All),
            "skip" => Ok(MissingBase::Skip),
            other => Err(format!(
                "`{other}` is not a missing-base policy; use fail, all or skip"
            )),
        }
    }
}

/// What [`changes`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    Diff(Changes),
    MissingBase(Missing),
}

/// No base to diff against; the caller applies [`MissingBase`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// What is missing, why, and how to fix it; one paragraph for a person.
    pub reason: String,
    /// Full SHA of head, present locally (so [`files_at`] works on it).
    pub head: String,
    pub source: BaseSource,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// An error no missing-base policy can absorb: an unreadable repository, a head that is
/// not there, a path that is not UTF-8, a malformed CI event.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error(
        "--repo {}: {source}\n  fix: point --repo at the root of the git checkout (the directory that holds .git)",
        path.display()
    )]
    Open { path: PathBuf, source: git2::Error },

    #[error("{input} `{rev}` is not a commit in {}: {problem}\n  fix: {fix}", repo.display())]
    Revision {
        input: &'static str,
        rev: String,
        repo: PathBuf,
        problem: String,
        fix: String,
    },

    #[error(
        "path {lossy:?} at {commit} is not valid UTF-8, so it cannot become a URL\n  fix: rename it to a UTF-8 name (`git mv` it and commit), or keep it out of the deployed tree"
    )]
    NonUtf8Path { lossy: String, commit: String },

    /// `--base` or a CI variable or event file that cannot be used.
    #[error("{origin}: {problem}\n  fix: {fix}")]
    Input {
        origin: String,
        problem: String,
        fix: String,
    },

    #[error("{context} in {}: {source}\n  fix: {fix}", repo.display())]
    Git {
        context: String,
        repo: PathBuf,
        source: git2::Error,
        fix: &'static str,
    },
}

/// Resolves the base (`base`: a SHA, a ref, `auto` or `None` = auto), makes sure head and
/// base are present (fetching missing SHAs once from `origin`), and diffs them.
///
/// `head`: `--head` (a SHA or ref); when `None`, the CI event's head if it names one
/// (push `after`, pull request `head.sha`), else `HEAD`.
pub fn changes(
    repo: &Path,
    base: Option<&str>,
    head: Option<&str>,
    env: EnvLookup,
) -> Result<Resolved, ChangesError> {
    changes_from(repo, resolve_base(base, env)?, head)
}

/// [`changes`] with the base already chosen (by [`resolve_base`], or a marker).
pub fn changes_from(
    repo: &Path,
    choice: BaseChoice,
    head: Option<&str>,
) -> Result<Resolved, ChangesError> {
    let BaseChoice {
        base: base_rev,
        head: event_head,
        source,
        why,
    } = choice;
    let head_rev = head
        .map(str::to_owned)
        .or(event_head)
        .unwrap_or_else(|| "HEAD".to_owned());

    let git = diff::open(repo)?;
    let mut head_oid = diff::find_commit(&git, &head_rev);
    let mut base_oid = base_rev.as_deref().and_then(|b| diff::find_commit(&git, b));

    // One fetch for whatever full SHAs are missing (base, head or both).
    let mut wanted: Vec<&str> = Vec::new();
    if head_oid.is_none() && fetch::is_full_sha(&head_rev) {
        wanted.push(&head_rev);
    }
    if let Some(b) = base_rev.as_deref()
        && base_oid.is_none()
        && fetch::is_full_sha(b)
    {
        wanted.push(b);
    }
    let fetched = if wanted.is_empty() {
        None
    } else {
        let result = fetch::fetch(repo, &wanted, fetch::TIMEOUT);
        head_oid = head_oid.or_else(|| diff::find_commit(&git, &head_rev));
        base_oid =
            base_oid.or_else(|| base_rev.as_deref().and_then(|b| diff::find_commit(&git, b)));
        Some(result)
    };

    let Some(head_oid) = head_oid else {
        return Err(diff::missing_head(repo, &head_rev, fetched.as_ref()));
    };
    let head_sha = head_oid.to_string();

    let Some(base_rev) = base_rev else {
        return Ok(Resolved::MissingBase(Missing {
            reason: why,
            head: head_sha,
            source,
        }));
    };
    let Some(base_oid) = base_oid else {
        return Ok(Resolved::MissingBase(Missing {
            reason: fetch::missing_base_reason(
                repo,
                &base_rev,
                // A marker says which one (`marker refs/cdn-refresh/prod`); the others
                // keep their short name.
                &match source {
                    BaseSource::Marker => why.clone(),
                    other => other.describe().to_string(),
                },
                git.is_shallow(),
                fetched.as_ref(),
            ),
            head: head_sha,
            source,
        }));
    };

    let mut out = diff::diff_commits(&git, repo, base_oid, head_oid)?;
    out.base_source = source;
    tracing::info!(
        base = %out.base,
        head = %out.head,
        changes = out.changes.len(),
        skipped_submodules = out.skipped_submodules.len(),
        "base from {why}"
    );
    Ok(Resolved::Diff(out))
}

/// The full SHA of the commit `rev` names in `repo`, if it is here (no fetching); for the
/// marker, whose ref has just been fetched.
pub fn commit_of(repo: &Path, rev: &str) -> Option<String> {
    let git = diff::open(repo).ok()?;
    diff::find_commit(&git, rev).map(|oid| oid.to_string())
}

/// Whether `repo` is a shallow clone (a fetch there must stay shallow).
pub fn is_shallow(repo: &Path) -> bool {
    diff::open(repo).is_ok_and(|git| git.is_shallow())
}
