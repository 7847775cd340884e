//! GitHub Actions: workflow commands, the `$GITHUB_OUTPUT` file and the job summary, as
//! pure strings (`ci` writes them).
//!
//! The grammar follows the runner (`FileCommandManager.cs`) and `@actions/core`: data is
//! escaped `%`, CR, LF; properties also `:` and `,`. Text that may echo file names goes
//! between `::stop-commands::` markers, so a file named `::error::…` cannot issue commands.
//!
//! Every workflow command is a [`Command`], which only this module can make: the console
//! writes commands as they are and neutralises every other string (`console`), so text from
//! outside cannot pass for one of ours.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

use crate::providers::Operation;
use crate::report::{GitReport, MultiReport, Report, RunStatus, UrlResult, UrlStatus};

/// GitHub shows at most 10 error annotations per step; more are noise.
const MAX_ANNOTATIONS: usize = 10;
/// A step summary over 1 MiB is not uploaded at all; stay well below.
const SUMMARY_BUDGET: usize = 1_000_000;
/// URL rows per operation in the summary; the report has them all.
const SUMMARY_ROWS: usize = 1_000;
/// Unmapped and excluded paths listed in the summary, each; the report has the first 100.
const SUMMARY_PATHS: usize = 20;

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Workflow commands of our own, each line complete with its `\n`, their data escaped.
/// Only this module makes them; `console::print` writes them as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command(Cow<'static, str>);

impl Command {
    pub(crate) fn new(text: String) -> Self {
        Command(Cow::Owned(text))
    }
}

impl std::ops::Deref for Command {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for Command {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Commands one after the other.
impl FromIterator<Command> for Command {
    fn from_iter<I: IntoIterator<Item = Command>>(commands: I) -> Self {
        Command::new(commands.into_iter().map(|c| c.0).collect())
    }
}

/// Registers a secret with the runner, so it is replaced by `***` in every later line.
pub fn add_mask(value: &str) -> Command {
    Command::new(format!("::add-mask::{}\n", escape_data(value)))
}

/// The masks for `secrets`: each value as it is first, then the other forms the log may
/// show it in. The runner matches a mask within one line (it ends lines at CR and LF), so a
/// value with a line break is also masked line by line; and a value may be echoed encoded:
/// percent-encoded as request signing encodes (RFC 3986 unreserved kept), that encoding
/// twice (the V1 string to sign, which `SignatureDoesNotMatch` echoes, encodes the encoded
/// query again: an STS token `a/b+c=` shows as `a%252Fb%252Bc%253D`), and form-encoded.
/// Each form is issued once, and only when it differs from every value.
pub fn add_masks(secrets: &[String]) -> Command {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets {
        let lines = secret
            .split(['\r', '\n'])
            .filter(|l| !l.trim().is_empty() && l.len() < secret.len());
        let once = rfc3986_encode(secret);
        let twice = rfc3986_encode(&once);
        let form = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in lines.map(str::to_string).chain([once, twice, form]) {
            if !secrets.contains(&form) && !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    secrets.iter().chain(&forms).map(|s| add_mask(s)).collect()
}

/// RFC 3986 percent-encoding, unreserved characters kept, as request signing encodes (Alibaba
/// Cloud V1, AWS SigV4): the form a provider's error may echo a signed value in.
fn rfc3986_encode(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Opens a folded section of the log (groups do not nest).
pub fn group(title: &str) -> Command {
    Command::new(format!("::group::{}\n", escape_data(title)))
}

pub const END_GROUP: Command = Command(Cow::Borrowed("::endgroup::\n"));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// An annotation: shown on the run's page, not only in the log.
pub fn annotation(level: Level, title: &str, message: &str) -> Command {
    let level = match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    Command::new(format!(
        "::{level} title={}::{}\n",
        escape_property(title),
        escape_data(message)
    ))
}

/// `text` printed with workflow commands off: nothing in it is taken as a command.
/// `token` must be random and unique for the run.
pub fn verbatim(text: &str, token: &str) -> Command {
    let mut out = format!("::stop-commands::{token}\n{text}");
    if !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    Command::new(out)
}

/// The `$GITHUB_OUTPUT` lines for `outputs`: every value in the heredoc form with a fresh
/// random delimiter, so no value (a URL, a reason) can end it early or add outputs.
pub fn output_file(outputs: &[(&str, String)], mut delimiter: impl FnMut() -> String) -> String {
    let mut out = String::new();
    for (name, value) in outputs {
        let delim = loop {
            let d = delimiter();
            if !value.contains(&d) && !name.contains(&d) {
                break d;
            }
        };
        let _ = write!(out, "{name}<<{delim}\n{value}\n{delim}\n");
    }
    out
}

/// The annotations for a finished run: failed URLs (the first few, then a count), the
/// stop reason, and warnings for pending URLs and for fallbacks the run took.
pub fn annotations(report: &Report, report_path: Option<&Path>) -> Command {
    let mut out = Vec::new();
    // A target of a run with several is named in every title.
    let who = match &report.target {
        Some(t) => format!("cdn-refresh {t}"),
        None => "cdn-refresh".to_string(),
    };
    let see = report_path
        .map(|p| format!("; every URL is in the report {}", p.display()))
        .unwrap_or_default();
    if let Some(stop) = &report.stopped {
        let hint = stop
            .hint
            .as_deref()
            .map(|h| format!(" Fix: {h}"))
            .unwrap_or_default();
        out.push(annotation(
            Level::Error,
            &format!("{who} stopped"),
            &format!("{}: {}.{hint}", stop.code, stop.message),
        ));
    }
    let failed: Vec<&UrlResult> = report
        .urls
        .iter()
        .filter(|u| matches!(u.status, UrlStatus::Failed | UrlStatus::Rejected))
        .collect();
    for u in failed.iter().take(MAX_ANNOTATIONS) {
        out.push(annotation(
            Level::Error,
            &format!("{who} {} failed", u.operation),
            &format!(
                "{} ({}): {}",
                u.url,
                status_name(u.status),
                u.reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    if failed.len() > MAX_ANNOTATIONS {
        out.push(annotation(
            Level::Error,
            &who,
            &format!("{} more URLs failed{see}", failed.len() - MAX_ANNOTATIONS),
        ));
    }
    let stale: Vec<_> = super::text::not_fresh(report)
        .into_iter()
        .filter(|(_, v)| v.verdict.is_stale())
        .collect();
    for (url, v) in stale.iter().take(MAX_ANNOTATIONS) {
        let headers: Vec<String> = v.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        out.push(annotation(
            Level::Warning,
            &format!("{who} {}", v.verdict.as_str()),
            &format!(
                "{url}: {}{}",
                v.reason.as_deref().unwrap_or("not what was deployed"),
                if headers.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", headers.join("; "))
                }
            ),
        ));
    }
    if stale.len() > MAX_ANNOTATIONS {
        out.push(annotation(
            Level::Warning,
            &who,
            &format!(
                "{} more URLs not fresh at the edge{see}",
                stale.len() - MAX_ANNOTATIONS
            ),
        ));
    }
    if report.counts.pending > 0 {
        // Counted once per URL: a refresh still running leaves its prefetch pending too.
        let pending: std::collections::HashSet<&str> = report
            .urls
            .iter()
            .filter(|u| u.status == UrlStatus::Pending)
            .map(|u| u.url.as_str())
            .collect();
        let n = pending.len();
        out.push(annotation(
            Level::Warning,
            &format!("{who} pending"),
            &format!(
                "{n} URL{} still pending when the wait ended: raise the action's `timeout` input (--timeout) to wait longer, or run `cdn-refresh status` with the task ids later{see}",
                if n == 1 { " was" } else { "s were" }
            ),
        ));
    }
    if let Some(git) = &report.git {
        if let Some(m) = &git.missing_base {
            out.push(annotation(
                Level::Warning,
                &format!("cdn-refresh on-missing-base {}", m.policy),
                &m.reason,
            ));
        }
        for c in git.collapses.iter().filter(|c| c.not_applied.is_some()) {
            out.push(annotation(
                Level::Warning,
                "cdn-refresh collapse undone",
                &format!(
                    "{}: {}",
                    c.directory,
                    c.not_applied.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    out.into_iter().collect()
}

fn status_name(s: UrlStatus) -> &'static str {
    match s {
        UrlStatus::Complete => "complete",
        UrlStatus::Failed => "failed",
        UrlStatus::Pending => "pending",
        UrlStatus::Submitted => "submitted",
        UrlStatus::Rejected => "rejected",
        UrlStatus::Planned => "planned",
        UrlStatus::Unsupported => "unsupported",
    }
}

/// Problems first in the summary tables: that is what a reader looks for.
fn severity(s: UrlStatus) -> u8 {
    match s {
        UrlStatus::Failed | UrlStatus::Rejected => 0,
        UrlStatus::Pending => 1,
        UrlStatus::Submitted | UrlStatus::Planned | UrlStatus::Unsupported => 2,
        UrlStatus::Complete => 3,
    }
}

/// The job summary of a run that ended on bad input: the message, as text (no Markdown or
/// HTML of its own: every line is escaped as a table cell is), and that nothing was sent.
pub fn bad_input_summary(message: &str) -> String {
    let lines: Vec<String> = message.lines().map(|l| format!("> {}", cell(l))).collect();
    format!(
        "## CDN refresh: bad input, nothing was sent\n\n{}\n\nFix the input and run again; the exit code is 2.\n",
        lines.join("\n")
    )
}

/// A table cell: no line breaks, no column breaks, no HTML.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The job summary: counts and task ids per operation, the git range and the paths it left
/// out, then a table of URLs per operation (problems first), cut at a row limit and well
/// under the 1 MiB GitHub accepts, with a pointer to the report for the rest.
pub fn summary(report: &Report, report_path: Option<&Path>) -> String {
    let pointer = pointer(report_path);
    let mut out = summary_head(report, report.git.as_ref(), report.urls.len());
    if let Some(git) = &report.git {
        out += &git_section(git, &pointer);
    }
    url_tables(&mut out, report, &pointer, SUMMARY_BUDGET, SUMMARY_ROWS);
    out
}

/// The summary of a run with several targets: a table of the targets, the git range they
/// shared, then each target's own summary, the budget shared among them.
pub fn multi_summary(report: &MultiReport, report_path: Option<&Path>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## CDN refresh, {} targets: {}\n\n| target | provider | status | refreshed | prefetched | failed | pending | stopped |\n|---|---|---|---:|---:|---:|---:|---|",
        report.targets.len(),
        report.status.as_str()
    );
    for t in &report.targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(t.target.as_deref().unwrap_or_default()),
            t.provider,
            t.status.as_str(),
            t.counts.refreshed,
            t.counts.prefetched,
            t.counts.failed,
            t.counts.pending,
            t.stopped
                .as_ref()
                .map(|s| cell(&format!("{}: {}", s.code, s.message)))
                .unwrap_or_default()
        );
    }
    out.push('\n');
    let pointer = pointer(report_path);
    if let Some(git) = &report.git {
        out += &git_section(git, &pointer);
    }
    let n = report.targets.len().max(1);
    let budget = SUMMARY_BUDGET.saturating_sub(out.len()) / n;
    let run_urls = report.targets.iter().map(|t| t.urls.len()).sum();
    for t in &report.targets {
        let mut part = summary_head(t, report.git.as_ref(), run_urls);
        url_tables(&mut part, t, &pointer, budget, SUMMARY_ROWS / n);
        out += &part;
    }
    out
}

/// The heading of one provider's part, its counts per operation (or why it has no URL),
/// and why it stopped. `git` is the run's range, `run_urls` the URLs of every target.
fn summary_head(report: &Report, git: Option<&GitReport>, run_urls: usize) -> String {
    let mut out = String::new();
    let name = report
        .target
        .as_deref()
        .map(|t| format!("target {}, ", cell(t)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "## CDN refresh ({name}{}): {}\n",
        report.provider,
        report.status.as_str()
    );
    if report.urls.is_empty() {
        // A table with only its header says nothing; a sentence says why.
        let _ = writeln!(out, "{}\n", nothing_sent(report, git, run_urls));
    } else {
        let _ = writeln!(
            out,
            "| operation | URLs | complete | failed | pending | submitted | tasks |\n|---|---:|---:|---:|---:|---:|---|"
        );
        for op in [Operation::Refresh, Operation::Prefetch] {
            let urls: Vec<&UrlResult> = report.urls.iter().filter(|u| u.operation == op).collect();
            if urls.is_empty() {
                continue;
            }
            let n = |f: fn(UrlStatus) -> bool| urls.iter().filter(|u| f(u.status)).count();
            let _ = writeln!(
                out,
                "| {op} | {} | {} | {} | {} | {} | {} |",
                urls.len(),
                n(|s| s == UrlStatus::Complete),
                n(|s| matches!(s, UrlStatus::Failed | UrlStatus::Rejected)),
                n(|s| s == UrlStatus::Pending),
                n(|s| s == UrlStatus::Submitted),
                cell(&super::text::task_list(&report.task_ids(Some(op)), ", "))
            );
        }
        out.push('\n');
    }
    out += &verify_section(report);
    if let Some(stop) = &report.stopped {
        let _ = writeln!(
            out,
            "**Stopped:** {}: {}{}\n",
            cell(&stop.code),
            cell(&stop.message),
            stop.hint
                .as_deref()
                .map(|h| format!(" Fix: {}", cell(h)))
                .unwrap_or_default()
        );
    }
    out
}

/// The verification of the edge: the verdict counts, then a table of the URLs not fresh
/// (stale first, at most [`super::text::VERIFY_SHOWN`]) with the reason and the headers
/// that explain it. Empty when the run did not verify.
fn verify_section(report: &Report) -> String {
    let Some(c) = &report.verify else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**Verify:** {} fresh, {} stale, {} lingering, {} missing, {} error, {} unchecked\n",
        c.fresh, c.stale, c.lingering, c.missing, c.error, c.unchecked
    );
    let list = super::text::not_fresh(report);
    if list.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "| URL | verdict | status | reason | headers |\n|---|---|---:|---|---|"
    );
    for (url, v) in list.iter().take(super::text::VERIFY_SHOWN) {
        let headers: Vec<String> = v.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(url),
            v.verdict.as_str(),
            v.status.map(|s| s.to_string()).unwrap_or_default(),
            cell(v.reason.as_deref().unwrap_or_default()),
            cell(&headers.join("; "))
        );
    }
    if list.len() > super::text::VERIFY_SHOWN {
        let _ = writeln!(
            out,
            "\n{} more URLs not fresh: see the report.",
            list.len() - super::text::VERIFY_SHOWN
        );
    }
    out.push('\n');
    out
}

/// Why a part has no URL: a skipped run, a target whose sites the run's URLs missed, or
/// nothing to send at all (a diff that maps to no URL, lists that hold none).
fn nothing_sent(report: &Report, git: Option<&GitReport>, run_urls: usize) -> String {
    if report.status == RunStatus::Skipped {
        return "Nothing was sent (skipped): there was no base commit to diff against.".into();
    }
    if run_urls > 0 {
        return "No URL for this target: none of the run's URLs is on its sites.".into();
    }
    match git.and_then(|g| Some((g.base.as_deref()?, g))) {
        Some((base, g)) => format!(
            "No URL to send: the diff `{}..{}` changed nothing that maps to a URL.",
            short(base),
            short(&g.head)
        ),
        None => "No URL to send.".into(),
    }
}

/// Where the summary sends a reader for what it leaves out.
fn pointer(report_path: Option<&Path>) -> String {
    report_path
        .map(|p| format!("the report `{}`", cell(&p.display().to_string())))
        .unwrap_or_else(|| "the JSON report (`--report`)".to_string())
}

/// Git mode: the range, how the base was chosen, what the changes became, the paths left
/// out (unmapped, excluded: the first [`SUMMARY_PATHS`] of each, folded), the missing-base
/// policy applied and the collapses.
fn git_section(git: &GitReport, pointer: &str) -> String {
    let mut out = String::new();
    match &git.base {
        Some(base) => {
            let _ = writeln!(
                out,
                "Git: `{}..{}` (base from {}): {} changed, {} unmapped, {} excluded.\n",
                short(base),
                short(&git.head),
                cell(git.base_reason.as_deref().unwrap_or(&git.base_source)),
                git.changes,
                git.unmapped,
                git.excluded
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Git: no base for `{}` ({}).\n",
                short(&git.head),
                cell(&git.base_source)
            );
        }
    }
    for (what, field, count, paths) in [
        (
            "unmapped (no rule matches, not refreshed)",
            "unmapped_paths",
            git.unmapped,
            &git.unmapped_paths,
        ),
        (
            "excluded (by a `!GLOB` rule)",
            "excluded_paths",
            git.excluded,
            &git.excluded_paths,
        ),
    ] {
        if paths.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<details><summary>{count} {what}</summary>\n");
        for path in paths.iter().take(SUMMARY_PATHS) {
            let _ = writeln!(
                out,
                "- {}",
                text(&crate::echo::cap(path, crate::echo::VALUE))
            );
        }
        let shown = paths.len().min(SUMMARY_PATHS);
        if count > shown {
            let listed = match paths.len() < count {
                true => format!("the first {}", paths.len()),
                false => "all of them".to_string(),
            };
            let _ = writeln!(
                out,
                "\n… and {} more: {pointer} lists {listed} under `git.{field}`.",
                count - shown
            );
        }
        out.push_str("\n</details>\n\n");
    }
    if let Some(m) = &git.missing_base {
        let _ = writeln!(
            out,
            "On missing base, `{}`: {}\n",
            cell(&m.policy),
            cell(&m.reason)
        );
    }
    for c in &git.collapses {
        let _ = writeln!(
            out,
            "- Collapsed {} changed files into `{}`{}",
            c.files.len(),
            cell(&c.directory),
            c.not_applied
                .as_deref()
                .map(|r| format!(" (undone: {})", cell(r)))
                .unwrap_or_default()
        );
    }
    if !git.collapses.is_empty() {
        out.push('\n');
    }
    out
}

/// Text from outside (a file name) as Markdown that shows it as it is: every ASCII
/// punctuation mark backslash-escaped, so it can open no link, image, emphasis, code span
/// or HTML tag, and line breaks shown as symbols, so it stays one list item.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str(super::console::CR_SHOWN),
            '\n' => out.push('␊'),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The tables of URLs per operation, problems first, `out` kept within `budget` bytes and
/// each table within `rows` rows, saying how many it left out.
fn url_tables(out: &mut String, report: &Report, pointer: &str, budget: usize, rows: usize) {
    for op in [Operation::Refresh, Operation::Prefetch] {
        let mut urls: Vec<&UrlResult> = report.urls.iter().filter(|u| u.operation == op).collect();
        if urls.is_empty() {
            continue;
        }
        urls.sort_by_key(|u| severity(u.status));
        let _ = writeln!(
            out,
            "### {op}\n\n| URL | status | task | reason |\n|---|---|---|---|"
        );
        let mut shown = 0;
        for u in &urls {
            let row = format!(
                "| {} | {} | {} | {} |\n",
                cell(&u.url),
                status_name(u.status),
                cell(u.task_id.as_deref().unwrap_or("")),
                cell(u.reason.as_deref().unwrap_or(""))
            );
            // Leave room for the closing lines of this and the next table.
            if shown == rows || out.len() + row.len() > budget.saturating_sub(4_096) {
                break;
            }
            out.push_str(&row);
            shown += 1;
        }
        if shown < urls.len() {
            let _ = writeln!(
                out,
                "\n… and {} more {op} URLs: every URL is in {pointer}.",
                urls.len() - shown
            );
        }
        out.push('\n');
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{ObjectType, ProviderKind};
    use crate::report::{RunStatus, TaskRecord};

    fn url(u: &str, op: Operation, status: UrlStatus, reason: Option<&str>) -> UrlResult {
        UrlResult {
            url: u.into(),
            operation: op,
            object_type: ObjectType::File,
            status,
            task_id: Some("t1".into()),
            reason: reason.map(str::to_string),
            verify: None,
        }
    }

    fn report(urls: Vec<UrlResult>) -> Report {
        let mut r = Report::without_tasks(
            ProviderKind::default_kind(),
            RunStatus::Partial,
            urls,
            None,
            None,
        );
        r.tasks = vec![TaskRecord {
            id: "t1".into(),
            operation: Operation::Refresh,
            object_type: ObjectType::File,
        }];
        r
    }

    #[test]
    fn a_run_of_many_tasks_shows_the_first_ones_and_refers_to_the_report() {
        let mut r = report(vec![url(
            "https://a.example/x",
            Operation::Refresh,
            UrlStatus::Complete,
            None,
        )]);
        let task = |i: usize| TaskRecord {
            id: format!("t{i}"),
            operation: Operation::Refresh,
            object_type: ObjectType::File,
        };
        r.tasks = (1..=10).map(task).collect();
        let all = summary(&r, None);
        assert!(
            all.contains("t1, t2, t3, t4, t5, t6, t7, t8, t9, t10 |"),
            "{all}"
        );
        r.tasks = (1..=1000).map(task).collect();
        let many = summary(&r, None);
        assert!(
            many.contains("t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, … 990 more in the report |"),
            "{many}"
        );
        assert!(!many.contains("t11,"), "{many}");
        let console = crate::output::text::summary(&r, None);
        assert!(
            console.contains("tasks t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,… 990 more in the report"),
            "{console}"
        );
    }

    #[test]
    fn commands_escape_their_data_and_properties() {
        assert_eq!(add_mask("a%b\nc"), "::add-mask::a%25b%0Ac\n");
        assert_eq!(
            annotation(Level::Error, "t: a,b", "x\r\ny"),
            "::error title=t%3A a%2Cb::x%0D%0Ay\n"
        );
    }

    #[test]
    fn secrets_are_masked_in_every_form_the_log_may_show() {
        let masks = |secrets: &[&str]| {
            let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
            add_masks(&secrets)
                .lines()
                .map(|l| l.strip_prefix("::add-mask::").unwrap().to_string())
                .collect::<Vec<_>>()
        };
        // As the runner reads them: `%25` is `%`. The values first, then the other forms;
        // the form encoding of `a/b+c=` is its percent-encoding, so it is not repeated.
        assert_eq!(
            masks(&["a/b+c=", "plain"]),
            [
                "a/b+c=",
                "plain",
                "a%252Fb%252Bc%253D",
                "a%25252Fb%25252Bc%25253D"
            ]
        );
        // A line break: the whole value (which the runner cannot match across lines),
        // each line, and the encodings, where a space is `%20` or `+`.
        assert_eq!(
            masks(&["line one\nline two"]),
            [
                "line one%0Aline two",
                "line one",
                "line two",
                "line%2520one%250Aline%2520two",
                "line%252520one%25250Aline%252520two",
                "line+one%250Aline+two",
            ]
        );
        assert_eq!(add_masks(&[]), "");
    }

    #[test]
    fn outputs_use_the_heredoc_form_with_a_delimiter_absent_from_the_value() {
        let mut n = 0;
        let file = output_file(
            &[
                ("status", "D0 inside".into()),
                ("report", "/tmp/r.json".into()),
            ],
            || {
                n += 1;
                format!("D{}", n - 1)
            },
        );
        // D0 occurs in the first value, so the first output gets D1.
        assert_eq!(
            file,
            "status<<D1\nD0 inside\nD1\nreport<<D2\n/tmp/r.json\nD2\n"
        );
    }

    #[test]
    fn verbatim_text_cannot_issue_commands() {
        let v = verbatim("::error::boom\nline", "tok");
        assert_eq!(v, "::stop-commands::tok\n::error::boom\nline\n::tok::\n");
    }

    #[test]
    fn annotations_cap_failed_urls_and_point_at_the_report() {
        let urls: Vec<_> = (0..15)
            .map(|i| {
                url(
                    &format!("https://a.com/{i}"),
                    Operation::Refresh,
                    UrlStatus::Failed,
                    Some("bad"),
                )
            })
            .collect();
        let text = annotations(&report(urls), Some(Path::new("/tmp/r.json")));
        assert_eq!(
            text.matches("::error title=cdn-refresh refresh failed::")
                .count(),
            10
        );
        assert!(text.contains("5 more URLs failed; every URL is in the report /tmp/r.json"));
    }

    #[test]
    fn summary_lists_problems_first_and_escapes_cells() {
        let r = report(vec![
            url(
                "https://a.com/ok",
                Operation::Refresh,
                UrlStatus::Complete,
                None,
            ),
            url(
                "https://a.com/bad",
                Operation::Refresh,
                UrlStatus::Failed,
                Some("a|b\n<x>"),
            ),
        ]);
        let s = summary(&r, None);
        let bad = s.find("https://a.com/bad").unwrap();
        let ok = s.find("https://a.com/ok").unwrap();
        assert!(bad < ok, "{s}");
        assert!(s.contains("| a\\|b &lt;x&gt; |"), "{s}");
        assert!(s.contains("| refresh | 2 | 1 | 1 | 0 | 0 | t1 |"), "{s}");
    }

    #[test]
    fn summary_stays_under_the_budget_and_says_what_it_left_out() {
        let long = "x".repeat(2_000);
        let urls: Vec<_> = (0..5_000)
            .map(|i| {
                url(
                    &format!("https://a.com/{i}/{long}"),
                    Operation::Prefetch,
                    UrlStatus::Complete,
                    None,
                )
            })
            .collect();
        let s = summary(&report(urls), Some(Path::new("r.json")));
        assert!(s.len() < SUMMARY_BUDGET, "{}", s.len());
        let shown = s.matches("| complete | t1 |").count();
        assert!(shown > 100 && shown < 1_000, "{shown}");
        assert!(s.contains(&format!(
            "… and {} more prefetch URLs: every URL is in the report `r.json`.",
            5_000 - shown
        )));
    }

    #[test]
    fn summary_rows_stop_at_the_row_limit() {
        let urls: Vec<_> = (0..1_200)
            .map(|i| {
                url(
                    &format!("https://a.com/{i}"),
                    Operation::Refresh,
                    UrlStatus::Complete,
                    None,
                )
            })
            .collect();
        let s = summary(&report(urls), None);
        assert_eq!(s.matches("| complete | t1 |").count(), SUMMARY_ROWS);
        assert!(s.contains("… and 200 more refresh URLs"));
    }
}
