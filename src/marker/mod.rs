//! The marker of the last deploy that really succeeded: the commit of the last run that
//! ended fully successful for a target, kept where the next run can read it, so `--base
//! auto` diffs from it instead of from the CI event (whose `before` may be a commit a failed
//! run never refreshed).
//!
//! ```text
//! settings: --marker STORE ──► read (git: one `git fetch` of the ref; site: one bounded GET)
//!           ──► BaseChoice { source: marker, why: "marker refs/cdn-refresh/prod at 1a2b3c4" }
//!           (missing, unreadable or not a commit ──► --on-missing-base, with the reason)
//! run:      every URL of the target complete (and fresh, when verified), not interrupted
//!           ──► advance (git: `git push --force-with-lease`; site: `marker write DIR` later)
//! ```
//!
//! Two stores. `git` keeps a ref in the repository's remote (`refs/cdn-refresh/<target>`),
//! read and written with the `git` command so the job's own credentials apply (GitHub's
//! checkout token, GitLab's remote URL), as `changes::fetch` does. `site:URL` reads a small
//! file published with the site; `cdn-refresh marker write DIR` writes it from a successful
//! run's report, for the upload that follows. Whatever a store answers is hostile input: it
//! must be one commit id, or the marker counts as missing.

pub mod git;
pub mod site;

use crate::plan::changes::{self, BaseChoice, BaseSource, MISSING_FIX, Resolved, is_full_sha};
use crate::report::{MarkerReport, Report, UrlStatus, VerdictKind};

/// The ref a target's git marker lives in, `{target}` being the target's name (`default`
/// for a run of flags).
pub const DEFAULT_REF: &str = "refs/cdn-refresh/{target}";

/// The file `marker write` writes, and a `site:` URL usually ends with.
pub const DEFAULT_FILE: &str = "cdn-refresh-marker.txt";

/// The name of the one target of a run of flags, in a marker's ref.
pub const UNNAMED: &str = "default";

/// `--marker`: where the marker is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerStore {
    /// `off`: no marker (the default; a target's `marker: off` drops a run-wide one).
    Off,
    /// `git`: a ref in the repository's remote `origin`.
    Git,
    /// `site:URL`: a file published with the site, read back from this URL.
    Site(url::Url),
}

/// The accepted spellings, for errors.
pub const STORES: &str = "git, site:URL (the marker file's URL on the origin or the edge) or off";

impl MarkerStore {
    /// Parses `--marker`'s value. Errors are the problem and the fix.
    pub fn parse(text: &str) -> Result<MarkerStore, (String, String)> {
        let s = text.trim();
        let shown = crate::echo::cap(s, crate::echo::VALUE);
        match s.to_ascii_lowercase().as_str() {
            "git" | "" => return Ok(MarkerStore::Git),
            "off" | "none" | "false" => return Ok(MarkerStore::Off),
            _ => {}
        }
        let Some(rest) = s.strip_prefix("site:") else {
            return Err((
                format!("`{shown}` is not a marker store"),
                format!("use {STORES}"),
            ));
        };
        let url = url::Url::parse(rest.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                (
                    format!("`{shown}` does not name an http(s) URL after `site:`"),
                    format!("give the URL the marker file is served at, such as site:https://www.example.com/{DEFAULT_FILE}"),
                )
            })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err((
                "a marker URL with a user name or password would print them in the log".into(),
                "serve the marker file where it can be read without credentials".into(),
            ));
        }
        Ok(MarkerStore::Site(url))
    }
}

/// Checks a git marker's ref name: under `refs/`, and only characters git never escapes, so
/// it cannot become an option or a refspec of another meaning. Errors are problem and fix.
pub fn check_ref(name: &str) -> Result<(), (String, String)> {
    let fix = "give a ref under refs/, such as refs/cdn-refresh/prod (letters, digits, . _ - /)";
    let shown = crate::echo::cap(name, crate::echo::VALUE);
    let chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    let parts_ok = name
        .split('/')
        .skip(1)
        .all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"));
    if name.starts_with("refs/")
        && name.len() <= 200
        && chars
        && parts_ok
        && name.split('/').count() >= 3
        && !name.contains("..")
        && !name.ends_with('.')
    {
        Ok(())
    } else {
        Err((
            format!("`{shown}` is not a ref name a marker can use"),
            fix.into(),
        ))
    }
}

/// One target's marker, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The target's name; `None` for the one target of a run of flags.
    pub target: Option<String>,
    pub store: Store,
}

/// Where one marker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    /// A full ref name in `origin`.
    Git(String),
    Site(url::Url),
}

impl Marker {
    /// The marker of `target` in `store`, with the ref `template` (`{target}` replaced by
    /// the target's name). `None` when the store is off.
    pub fn of(
        store: &MarkerStore,
        template: Option<&str>,
        target: Option<&str>,
    ) -> Result<Option<Marker>, (String, String)> {
        let store = match store {
            MarkerStore::Off => return Ok(None),
            MarkerStore::Git => {
                let name = template
                    .unwrap_or(DEFAULT_REF)
                    .replace("{target}", target.unwrap_or(UNNAMED));
                check_ref(&name)?;
                Store::Git(name)
            }
            MarkerStore::Site(url) => Store::Site(url.clone()),
        };
        Ok(Some(Marker {
            target: target.map(str::to_string),
            store,
        }))
    }

    /// `git` or `site`, for the report.
    pub fn kind(&self) -> &'static str {
        match self.store {
            Store::Git(_) => "git",
            Store::Site(_) => "site",
        }
    }

    /// The ref or the URL.
    pub fn location(&self) -> String {
        match &self.store {
            Store::Git(name) => name.clone(),
            Store::Site(url) => url.to_string(),
        }
    }

    /// `marker refs/cdn-refresh/prod`, `marker https://…/cdn-refresh-marker.txt`.
    pub fn describe(&self) -> String {
        format!("marker {}", self.location())
    }
}

/// What reading a marker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// The commit it names (a full SHA, lower-cased); for the git store, present locally.
    Found(String),
    /// Why there is none (absent, unreadable, not a commit id), for the missing-base message.
    Missing(String),
}

/// Reads `marker`: the git store fetches its ref into `repo`, the site store GETs its URL.
pub fn read(marker: &Marker, repo: &std::path::Path) -> Read {
    match &marker.store {
        Store::Git(name) => git::read(repo, name),
        Store::Site(url) => site::read(url),
    }
}

/// The base a read marker gives `--base auto`: its commit, or none with the reason and the
/// fix (the missing-base policy decides). `head` is the CI event's head, if it names one.
pub fn choice(marker: &Marker, read: &Read, head: Option<String>) -> BaseChoice {
    match read {
        Read::Found(sha) => BaseChoice {
            base: Some(sha.clone()),
            head,
            source: BaseSource::Marker,
            why: format!("{} at {}", marker.describe(), &sha[..7]),
        },
        Read::Missing(why) => BaseChoice {
            base: None,
            head,
            source: BaseSource::Marker,
            // The event's `before` is no fallback: it may be a commit that a failed run
            // never refreshed, which is what the marker is for.
            why: format!("no base commit to diff against: {why}\n  {MISSING_FIX}"),
        },
    }
}

/// A store's answer as a commit id: one full SHA (a trailing newline allowed), else why not.
pub fn parse_commit(text: &str) -> Result<String, String> {
    let s = text.trim();
    if is_full_sha(s) && !s.bytes().all(|b| b == b'0') {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "it holds `{}`, which is not a commit id (40 or 64 hex digits)",
            crate::echo::cap(s, crate::echo::VALUE).escape_debug()
        ))
    }
}

/// Whether `sha` is a full commit id (not zeros).
pub fn is_commit(sha: &str) -> bool {
    parse_commit(sha).is_ok_and(|s| s == sha)
}

/// Whether `report` is a run that ended fully successful, so its target's marker may move:
/// every URL complete, each fresh when verified, nothing stopped. `Err` says why not.
pub fn fully_successful(report: &Report, interrupted: bool) -> Result<(), String> {
    use crate::report::RunStatus;
    if interrupted {
        return Err("the run was interrupted".into());
    }
    match report.status {
        RunStatus::Success | RunStatus::Skipped => {}
        other => return Err(format!("the run ended {}", other.as_str())),
    }
    if let Some(stop) = &report.stopped {
        return Err(format!("the provider stopped the run ({})", stop.code));
    }
    if !report.hosts_refused.is_empty() {
        return Err("the provider refused some hosts".into());
    }
    for u in &report.urls {
        if u.status != UrlStatus::Complete {
            return Err(format!(
                "{} is {}",
                u.url,
                serde_json::to_value(u.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ));
        }
        if let Some(v) = &u.verify
            && v.verdict != VerdictKind::Fresh
        {
            return Err(format!("{} was not verified fresh", u.url));
        }
    }
    Ok(())
}

/// The range of git mode with markers: every target's marker is read (its value is also
/// what the push at the end expects to replace); with `--base auto` (or none) the diff
/// starts at the markers. Targets whose markers differ get the union of the diffs from each
/// (refreshing a URL one target did not need is harmless; missing one is not). A marker
/// that names no commit, or one that is not in the repository even after one fetch, makes
/// the whole range missing, with that reason: `--on-missing-base` decides.
///
/// Returns what [`changes::changes`] would, the reports of the markers as read, and why
/// this base (for the log and the report).
pub fn resolve(
    repo: &std::path::Path,
    markers: &[Marker],
    base: Option<&str>,
    head: Option<&str>,
    env: changes::EnvLookup,
) -> Result<(Resolved, Vec<MarkerReport>, String), changes::ChangesError> {
    let reads: Vec<Read> = markers.iter().map(|m| read(m, repo)).collect();
    let reports: Vec<MarkerReport> = markers
        .iter()
        .zip(&reads)
        .map(|(m, r)| MarkerReport {
            target: m.target.clone(),
            store: m.kind().into(),
            location: m.location(),
            commit: match r {
                Read::Found(sha) => Some(sha.clone()),
                Read::Missing(_) => None,
            },
            missing: match r {
                Read::Found(_) => None,
                Read::Missing(why) => Some(why.clone()),
            },
            state: "kept".into(),
            note: None,
        })
        .collect();
    let auto = base
        .map(str::trim)
        .is_none_or(|b| b.is_empty() || b.eq_ignore_ascii_case("auto"));
    if !auto {
        let choice = changes::resolve_base(base, env)?;
        let why = choice.why.clone();
        return Ok((changes::changes_from(repo, choice, head)?, reports, why));
    }
    // The head the CI event names (push `after`), as without a marker; an event that cannot
    // be read leaves HEAD, and says so in the log.
    let event_head = match changes::resolve_base(None, env) {
        Ok(choice) => choice.head,
        Err(e) => {
            tracing::warn!("the CI event is not used for the head: {e}");
            None
        }
    };
    let several = markers.len() > 1;
    let mut union: Option<changes::Changes> = None;
    let mut whys: Vec<String> = Vec::new();
    let mut seen: Vec<&Read> = Vec::new();
    for (marker, read) in markers.iter().zip(&reads) {
        let choice = choice(marker, read, event_head.clone());
        let named = |text: String| match (&marker.target, several) {
            (Some(name), true) => format!("target {name}: {text}"),
            _ => text,
        };
        if seen.contains(&read) {
            whys.push(named(choice.why));
            continue;
        }
        seen.push(read);
        let why = choice.why.clone();
        match changes::changes_from(repo, choice, head)? {
            Resolved::MissingBase(mut missing) => {
                missing.reason = named(missing.reason);
                return Ok((Resolved::MissingBase(missing), reports, named(why)));
            }
            Resolved::Diff(diff) => {
                whys.push(named(why));
                union = Some(match union {
                    None => diff,
                    Some(mut all) => {
                        let key =
                            |c: &changes::Change| (c.kind, c.path.clone(), c.old_path.clone());
                        let mut have: std::collections::HashSet<_> =
                            all.changes.iter().map(key).collect();
                        for change in diff.changes {
                            if have.insert(key(&change)) {
                                all.changes.push(change);
                            }
                        }
                        for path in diff.skipped_submodules {
                            if !all.skipped_submodules.contains(&path) {
                                all.skipped_submodules.push(path);
                            }
                        }
                        all
                    }
                });
            }
        }
    }
    let diff = union.expect("at least one marker");
    Ok((Resolved::Diff(diff), reports, whys.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_parse_and_refuse_what_they_cannot_use() {
        assert_eq!(MarkerStore::parse("git"), Ok(MarkerStore::Git));
        assert_eq!(MarkerStore::parse(" Off "), Ok(MarkerStore::Off));
        let MarkerStore::Site(u) = MarkerStore::parse("site:https://a.example/m.txt").unwrap()
        else {
            panic!("site")
        };
        assert_eq!(u.as_str(), "https://a.example/m.txt");
        assert!(MarkerStore::parse("site:ftp://a.example/m").is_err());
        assert!(MarkerStore::parse("site:https://u:p@a.example/m").is_err());
        assert!(MarkerStore::parse("s3://bucket").is_err());
    }

    #[test]
    fn ref_names_stay_under_refs_and_plain() {
        for good in [
            "refs/cdn-refresh/prod",
            "refs/cdn-refresh/a.b_c-1",
            "refs/tags/deployed",
        ] {
            assert!(check_ref(good).is_ok(), "{good}");
        }
        for bad in [
            "cdn-refresh/prod",
            "refs/prod",
            "refs/cdn-refresh/",
            "refs/cdn-refresh/../heads/main",
            "refs/cdn-refresh/.hidden",
            "refs/cdn-refresh/x.lock",
            "refs/cdn-refresh/a b",
            "refs/cdn-refresh/a:b",
            "--upload-pack=x",
            "refs/cdn-refresh/a\nb",
        ] {
            assert!(check_ref(bad).is_err(), "{bad:?}");
        }
        let m = Marker::of(&MarkerStore::Git, None, Some("prod"))
            .unwrap()
            .unwrap();
        assert_eq!(m.location(), "refs/cdn-refresh/prod");
        let m = Marker::of(&MarkerStore::Git, None, None).unwrap().unwrap();
        assert_eq!(m.location(), "refs/cdn-refresh/default");
        assert!(Marker::of(&MarkerStore::Git, Some("refs/x/{target}"), Some("a b")).is_err());
    }

    fn report(
        status: crate::report::RunStatus,
        urls: &[(UrlStatus, Option<VerdictKind>)],
    ) -> Report {
        use crate::providers::{ObjectType, Operation, ProviderKind};
        let urls = urls
            .iter()
            .enumerate()
            .map(|(i, (status, verdict))| crate::report::UrlResult {
                url: format!("https://www.example.com/{i}"),
                operation: Operation::Refresh,
                object_type: ObjectType::File,
                status: *status,
                task_id: None,
                reason: None,
                verify: verdict.map(|v| {
                    Box::new(crate::report::Verdict {
                        verdict: v,
                        attempts: 1,
                        status: None,
                        headers: Default::default(),
                        reason: None,
                        heal: None,
                    })
                }),
            })
            .collect();
        Report::without_tasks(ProviderKind::default_kind(), status, urls, None, None)
    }

    #[test]
    fn only_a_fully_successful_run_moves_a_marker() {
        use crate::report::RunStatus as R;
        use UrlStatus as U;
        let fresh = Some(VerdictKind::Fresh);
        assert!(fully_successful(&report(R::Success, &[(U::Complete, None)]), false).is_ok());
        assert!(fully_successful(&report(R::Success, &[(U::Complete, fresh)]), false).is_ok());
        assert!(fully_successful(&report(R::Skipped, &[]), false).is_ok());
        for (r, interrupted) in [
            (report(R::Success, &[(U::Complete, None)]), true),
            (
                report(R::Partial, &[(U::Complete, None), (U::Failed, None)]),
                false,
            ),
            (report(R::Pending, &[(U::Pending, None)]), false),
            (report(R::Success, &[(U::Submitted, None)]), false),
            (report(R::DryRun, &[(U::Planned, None)]), false),
            (
                report(R::Success, &[(U::Complete, Some(VerdictKind::Stale))]),
                false,
            ),
            (
                report(R::Success, &[(U::Complete, Some(VerdictKind::Error))]),
                false,
            ),
        ] {
            assert!(fully_successful(&r, interrupted).is_err(), "{:?}", r.urls);
        }
    }

    #[test]
    fn only_one_commit_id_is_a_marker() {
        let sha = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
        assert_eq!(parse_commit(&format!("{sha}\n")), Ok(sha.to_string()));
        assert_eq!(parse_commit(&sha.to_uppercase()), Ok(sha.to_string()));
        for bad in [
            "",
            "1a2b3c4",
            "0000000000000000000000000000000000000000",
            "<html>not found</html>",
            &format!("{sha}\n{sha}"),
            &format!("{sha}\r\n::error::x"),
        ] {
            let e = parse_commit(bad).unwrap_err();
            assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
        }
    }
}
