//! The git store: the marker is a ref in `origin` (`refs/cdn-refresh/prod`), pointing at
//! the last commit whose run ended fully successful.
//!
//! Why the `git` command and not libgit2: it reuses the job's credentials exactly as the
//! checkout left them (GitHub's `http.extraheader` with the checkout token, a GitLab remote
//! URL with a token), and this static binary carries no TLS or SSH code for libgit2. Read:
//! one `git fetch` of the ref (shallow in a shallow clone). Write: one `git push
//! --force-with-lease` of the head commit to the ref, expecting the value read at the
//! start: the marker may move backwards (a rollback) or sideways (a rewritten branch),
//! but never over a newer marker that a concurrent run pushed meanwhile.
//!
//! git's messages can quote the remote's URL, and a URL may carry a token
//! (`https://oauth2:TOKEN@gitlab.example.com/…`): every message taken from git goes
//! through [`redact`] before it is printed or reported.

use std::path::Path;
use std::time::Duration;

use super::Read;
use crate::plan::changes::{commit_of, git_in, is_shallow, run_git};

/// Bound on one fetch or push of the marker.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Fetches `name` from `origin` into the same ref here, and reads the commit it names.
pub fn read(repo: &Path, name: &str) -> Read {
    let mut cmd = git_in(repo);
    cmd.args(["fetch", "--quiet", "--no-tags"]);
    if is_shallow(repo) {
        // A full clone stays full: a depth would make it shallow.
        cmd.arg("--depth=1");
    }
    // `+`: the marker may have moved backwards or sideways since this clone last saw it.
    cmd.args(["origin", &format!("+{name}:{name}")]);
    let outcome = run_git(cmd, TIMEOUT);
    tracing::info!(marker = %name, ok = outcome.is_ok(), "fetched the marker");
    if let Err(e) = outcome {
        let e = redact(&e);
        return Read::Missing(if e.contains("couldn't find remote ref") {
            format!(
                "the marker {name} is not in origin: this is the first run with --marker, or \
                 the last successful run could not push it (its log has a warning)"
            )
        } else {
            format!("cannot read the marker {name}: `git fetch origin {name}` failed: {e}")
        });
    }
    match commit_of(repo, name) {
        Some(sha) => Read::Found(sha),
        None => Read::Missing(format!(
            "the marker {name} was fetched but does not name a commit"
        )),
    }
}

/// What moving a marker did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    Moved,
    /// git's message (redacted) and the fix, naming the permission.
    Refused {
        message: String,
        fix: String,
    },
}

/// Moves `name` in `origin` to `sha`, if it still names `old` (`None`: if it is absent).
pub fn push(repo: &Path, name: &str, sha: &str, old: Option<&str>) -> Pushed {
    let mut cmd = git_in(repo);
    cmd.args(["push", "--quiet", "--no-verify"]);
    cmd.arg(format!("--force-with-lease={name}:{}", old.unwrap_or("")));
    cmd.args(["origin", &format!("{sha}:{name}")]);
    let outcome = run_git(cmd, TIMEOUT);
    tracing::info!(marker = %name, ok = outcome.is_ok(), "pushed the marker");
    match outcome {
        Ok(()) => Pushed::Moved,
        Err(e) => {
            let message = redact(&e);
            // `--force-with-lease` refusing is git's "stale info"; anything else that
            // stops a push of one ref is, in CI, the token's permissions.
            let fix = if message.contains("stale info") {
                "another run moved the marker meanwhile (its run refreshed from the same base); \
                 keep deploys of one target in order: GitHub `concurrency:`, GitLab \
                 `resource_group:`"
            } else {
                "let the job push to the repository: GitHub `permissions: contents: write` for \
                 the checkout's token; GitLab a project or group access token with the \
                 write_repository scope as origin's push URL (the job token cannot push)"
            };
            Pushed::Refused {
                message,
                fix: fix.to_string(),
            }
        }
    }
}

/// `text` with the user information of every URL in it replaced by `***`, on one line: git
/// may quote a remote URL that carries a token.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str(" / ");
        }
        let mut rest = line;
        while let Some(at) = rest.find("://") {
            let (before, after) = rest.split_at(at + 3);
            out.push_str(before);
            let end = after
                .find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"')
                .unwrap_or(after.len());
            match after[..end].rfind('@') {
                Some(userinfo) => {
                    out.push_str("***");
                    out.push_str(&after[userinfo..end]);
                }
                None => out.push_str(&after[..end]),
            }
            rest = &after[end..];
        }
        out.push_str(rest);
    }
    crate::echo::cap(&out, crate::echo::SERVER).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_urls_never_reach_a_message() {
        let text = "fatal: unable to access 'https://oauth2:glpat-SECRET@gitlab.example.com/g/p.git/': 403\nremote: denied to x://a:b@h";
        let shown = redact(text);
        assert!(
            !shown.contains("SECRET") && !shown.contains("a:b"),
            "{shown}"
        );
        assert!(
            shown.contains("https://***@gitlab.example.com/g/p.git/"),
            "{shown}"
        );
        assert!(!shown.contains('\n'));
        assert_eq!(redact("no url here"), "no url here");
    }
}
