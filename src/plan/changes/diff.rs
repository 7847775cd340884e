//! The git side: open the repository, resolve revisions, diff two commits, list the files
//! of one.
//!
//! Ownership: git and libgit2 refuse a repository owned by another user (libgit2
//! `GIT_EOWNER`, git's "dubious ownership"), which is the normal case in CI containers
//! where root reads a workspace checked out by the runner's uid 1001. We switch that check
//! off for libgit2 (see [`open`]) instead of asking users to set `safe.directory`.
//!
//! The diff itself is in `walk.rs`.

use std::path::Path;

use git2::{Oid, Repository, Tree};

use super::fetch::Fetched;
use super::walk::{Walk, WalkError};
use super::{BaseSource, Changes, ChangesError};

/// The changes from `base` to `head` (each a SHA or a ref such as `HEAD`), with no
/// fetching: both must be present. `base_source` is [`BaseSource::Explicit`].
pub fn diff(repo_path: &Path, base: &str, head: &str) -> Result<Changes, ChangesError> {
    let repo = open(repo_path)?;
    let base = require_commit(&repo, repo_path, "--base", base)?;
    let head = require_commit(&repo, repo_path, "--head", head)?;
    diff_commits(&repo, repo_path, base, head)
}

/// Every file path at `head` (symlinks included, submodules not), sorted as git sorts
/// them: what `--on-missing-base all` maps when it cannot use directory refreshes.
pub fn files_at(repo_path: &Path, head: &str) -> Result<Vec<String>, ChangesError> {
    let repo = open(repo_path)?;
    let head = require_commit(&repo, repo_path, "--head", head)?;
    let tree = tree_of(&repo, repo_path, head)?;
    let mut walk = Walk::new(&repo, head, head, false);
    walk.trees(None, Some(tree.id()))
        .map_err(|e| walk_error(repo_path, &format!("listing the files of {head}"), e))?;
    Ok(walk.finish().changes.into_iter().map(|c| c.path).collect())
}

/// Opens exactly `path` (no search upwards: the caller named the repository, and a `.git`
/// found in some parent directory is the case the ownership check protects against).
pub(super) fn open(path: &Path) -> Result<Repository, ChangesError> {
    configure_libgit2();
    Repository::open(path).map_err(|source| ChangesError::Open {
        path: path.to_owned(),
        source,
    })
}

/// Sets libgit2's process-wide options, once per process.
///
/// Ownership check off. Why this is acceptable: the check guards against running a
/// repository's configured commands (hooks, fsmonitor, filters, ssh commands) from a
/// `.git` that another user planted above the current directory. We open only the path
/// the caller named, never search upwards, and only read commits and trees: libgit2 runs
/// no hook, filter or fsmonitor for that. In CI that path is the job's own checkout, owned
/// by the runner's uid while we may run as root in a container, which is exactly where the
/// check fails (GIT_EOWNER) and where `actions/checkout`'s `safe.directory` setting is
/// already gone. cargo made the same choice (rust-lang/cargo#11366).
///
/// Strict hash verification off: libgit2 re-hashes every object it reads (SHA-1 with
/// collision detection), which was a third of the benchmark's diff time; git itself does
/// not re-hash on read, and zlib still checks every object it inflates.
///
/// Object cache off: the walk reads each differing tree once and parses it itself, so a
/// cached copy is never read again; keeping them cost a lock per read and memory that had
/// to be faulted in and freed at the end.
fn configure_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
        // SAFETY: the call writes one process-global libgit2 option. `call_once` runs it
        // before this module opens any repository, and nothing else in this program uses
        // libgit2, so no libgit2 call runs concurrently with it.
        let result = unsafe { git2::opts::set_verify_owner_validation(false) };
        debug_assert!(result.is_ok(), "{result:?}");
    });
}

/// The commit `rev` (a SHA, a ref, `HEAD`, `HEAD~1`) names, if it is here.
pub(super) fn find_commit(repo: &Repository, rev: &str) -> Option<Oid> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .ok()
}

fn require_commit(
    repo: &Repository,
    repo_path: &Path,
    input: &'static str,
    rev: &str,
) -> Result<Oid, ChangesError> {
    if rev.starts_with('-') {
        return Err(revision_error(
            repo_path,
            input,
            rev,
            "it looks like an option".into(),
        ));
    }
    match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
        Ok(c) => Ok(c.id()),
        Err(e) => Err(revision_error(
            repo_path,
            input,
            rev,
            e.message().to_owned(),
        )),
    }
}

fn revision_error(
    repo_path: &Path,
    input: &'static str,
    rev: &str,
    problem: String,
) -> ChangesError {
    ChangesError::Revision {
        input,
        rev: rev.to_owned(),
        repo: repo_path.to_owned(),
        problem,
        fix: format!(
            "check the spelling, or fetch it first (`git fetch origin {rev}`; in CI, \
             actions/checkout with `fetch-depth: 0` or GitLab `GIT_DEPTH: 0`)"
        ),
    }
}

/// The error for a head that is not here even after the one fetch.
pub(super) fn missing_head(repo_path: &Path, rev: &str, fetched: Option<&Fetched>) -> ChangesError {
    let problem = match fetched {
        Some(f) => format!("not found, and {}", f.describe()),
        None => "not found".to_owned(),
    };
    revision_error(repo_path, "head", rev, problem)
}

pub(super) fn diff_commits(
    repo: &Repository,
    repo_path: &Path,
    base: Oid,
    head: Oid,
) -> Result<Changes, ChangesError> {
    let (base_tree, head_tree) = (
        tree_of(repo, repo_path, base)?,
        tree_of(repo, repo_path, head)?,
    );
    let mut walk = Walk::new(repo, base, head, true);
    walk.trees(Some(base_tree.id()), Some(head_tree.id()))
        .map_err(|e| walk_error(repo_path, &format!("diffing {base}..{head}"), e))?;
    let found = walk.finish();
    Ok(Changes {
        base: base.to_string(),
        head: head.to_string(),
        base_source: BaseSource::Explicit,
        changes: found.changes,
        skipped_submodules: found.skipped_submodules,
    })
}

fn tree_of<'r>(
    repo: &'r Repository,
    repo_path: &Path,
    commit: Oid,
) -> Result<Tree<'r>, ChangesError> {
    repo.find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error(repo_path, &format!("reading the tree of {commit}"), e))
}

fn walk_error(repo_path: &Path, context: &str, e: WalkError) -> ChangesError {
    match e {
        WalkError::Git(e) => git_error(repo_path, context, e),
        WalkError::NonUtf8Path { lossy, commit } => ChangesError::NonUtf8Path {
            lossy,
            commit: commit.to_string(),
        },
    }
}

fn git_error(repo_path: &Path, context: &str, source: git2::Error) -> ChangesError {
    let fix = if source.code() == git2::ErrorCode::NotFound {
        "the repository lacks objects: a partial clone (actions/checkout `filter:`) is not \
         supported; check out without a filter"
    } else {
        "check that the repository is intact (`git fsck`)"
    };
    ChangesError::Git {
        context: context.to_owned(),
        repo: repo_path.to_owned(),
        source,
        fix,
    }
}
