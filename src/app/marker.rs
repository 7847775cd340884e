//! The end of a run with `--marker`: each target's marker moves to the head commit only when
//! that target's run ended fully successful ([`marker::fully_successful`]). A partial,
//! failed, timed-out or interrupted run, and a dry run, leave it where it was, so the next
//! run diffs from the same base again and refreshes what this one left. A push that is
//! refused (permissions, a concurrent run) is a warning, never a failure: the URLs were
//! refreshed, and the next run falls back as a missing or older marker says.

use crate::input::settings::Settings;
use crate::marker::{self, Store, git::Pushed};
use crate::output::ci::Ci;
use crate::output::console;
use crate::report::{GitReport, Report};

/// Moves the markers the reports earn, and records what became of each in `git.markers`.
/// `reports` are the targets' reports in the order of `settings.targets`; `None` for a dry
/// run, which moves nothing.
pub fn advance(settings: &Settings, reports: Option<&[Report]>, git: &mut GitReport, ci: &Ci) {
    let Some(info) = &settings.git else { return };
    for (i, target) in settings.targets.iter().enumerate() {
        let Some(m) = &target.marker else { continue };
        let Some(entry) = git.markers.iter_mut().find(|r| r.target == m.target) else {
            continue;
        };
        let verdict = match reports {
            None => Err("a dry run moves no marker".to_string()),
            Some(reports) => {
                marker::fully_successful(&reports[i], target.run.interrupt.raised().is_some())
            }
        };
        let who = match &m.target {
            Some(name) => format!("target {name}: "),
            None => String::new(),
        };
        if let Err(why) = verdict {
            let (stays, again) = match entry.commit.as_deref() {
                Some(sha) => (format!("stays at {}", short(sha)), "diffs from it again"),
                None => ("is not created".to_string(), "has no marker either"),
            };
            console::print(ci.verbatim(&format!(
                "{who}{} {stays}: {why}; the next run {again}\n",
                m.describe()
            )));
            entry.state = "kept".into();
            entry.note = Some(why);
            continue;
        }
        match &m.store {
            Store::Site(_) => {
                console::print(ci.verbatim(&format!(
                    "{who}the run ended fully successful: `cdn-refresh marker write DIR` writes the marker file for {} to upload\n",
                    m.location()
                )));
                entry.state = "publish".into();
            }
            Store::Git(_) if entry.commit.as_deref() == Some(git.head.as_str()) => {
                // Nothing new was deployed: the marker is where it should be, no push.
                console::print(ci.verbatim(&format!(
                    "{who}{} is at {} already\n",
                    m.describe(),
                    short(&git.head)
                )));
                entry.state = "moved".into();
            }
            Store::Git(name) => {
                match marker::git::push(&info.repo, name, &git.head, entry.commit.as_deref()) {
                    Pushed::Moved => {
                        console::print(ci.verbatim(&format!(
                            "{who}{} moved to {}\n",
                            m.describe(),
                            short(&git.head)
                        )));
                        entry.state = "moved".into();
                    }
                    Pushed::Refused { message, fix } => {
                        let text = format!(
                            "{who}the URLs were refreshed, but {} was not moved to {}: `git push` failed: {message}\n  fix: {fix}; until then, the next run finds the marker where it was",
                            m.describe(),
                            short(&git.head)
                        );
                        console::print(ci.warning("cdn-refresh: marker not moved", &text));
                        console::eprint(&format!("warning: {text}\n"));
                        entry.state = "push-refused".into();
                        entry.note = Some(format!("{message} (fix: {fix})"));
                    }
                }
            }
        }
    }
}

fn place(why: String) -> crate::input::InputError {
    crate::input::InputError::new(
        "marker write",
        why,
        "give the built site's folder and a file path inside it (--file)",
    )
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// `cdn-refresh marker write DIR`: the site store's marker file, written from the report of
/// the run just finished when that run moved it (`state: publish`). Returns what to print;
/// `Ok(None)` inside means the run did not earn it and nothing was written (not an error:
/// the run's own exit code already said how it went).
pub fn write(
    args: &crate::input::cli::MarkerWriteArgs,
    default_report: Option<std::path::PathBuf>,
) -> Result<String, crate::input::InputError> {
    use crate::input::InputError;
    let Some(path) = args.report.clone().or(default_report) else {
        return Err(InputError::new(
            "--report",
            "no report to read: outside CI a run writes one only with --report",
            "give the run --report PATH and this command the same --report PATH",
        ));
    };
    let bad = |why: String| {
        InputError::new(
            "--report",
            format!("{}: {why}", path.display()),
            "give the report (--report) of the git-mode run with --marker site:URL that just finished",
        )
    };
    let file = std::fs::File::open(&path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let value: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a report ({e})")))?;
    let git: GitReport = value
        .get("git")
        .cloned()
        .and_then(|g| serde_json::from_value(g).ok())
        .ok_or_else(|| bad("it is not the report of a git-mode run".into()))?;
    let sites: Vec<_> = git
        .markers
        .iter()
        .filter(|m| m.store == "site")
        .filter(|m| args.target.is_none() || m.target == args.target)
        .collect();
    let entry = match sites.as_slice() {
        [one] => *one,
        [] => {
            return Err(bad(match &args.target {
                Some(t) => format!("target `{t}` has no `site:` marker in it"),
                None => "its run had no `--marker site:URL`".into(),
            }));
        }
        _ => {
            return Err(InputError::new(
                "--target",
                "the report has several targets with a site marker",
                "name the target whose marker file to write",
            ));
        }
    };
    // Where it would go is checked first: a mistake there shows on the first run.
    marker::site::check_place(&args.dir, &args.file).map_err(place)?;
    if entry.state != "publish" {
        let why = entry
            .note
            .as_deref()
            .unwrap_or("the run did not end fully successful");
        return Ok(format!(
            "marker not written: {why}; the marker at {} stays where it was, and the next run refreshes this deploy's changes again (keep the old file on the origin: do not delete it on upload)\n",
            entry.location
        ));
    }
    if !marker::is_commit(&git.head) {
        return Err(bad("its git head is not a commit id".into()));
    }
    let written = marker::site::write(&args.dir, &args.file, &git.head).map_err(place)?;
    Ok(format!(
        "marker {} written: {} (upload it so that {} serves it)\n",
        short(&git.head),
        written.display(),
        entry.location
    ))
}
