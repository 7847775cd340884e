//! Human-readable output on stdout: the run summary, the plan, quotas and task states.

use std::fmt::Write;

use crate::input::url_list;
use crate::plan::Plan;
use crate::providers::{Limits, Operation, Quota, TaskState};
use crate::report::{Report, UrlStatus};
use crate::send::run::Shortfall;

/// How many failed or pending URLs the summary lists before pointing at the report.
const LISTED: usize = 20;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 URL`, `2 URLs`.
pub fn urls(n: usize) -> String {
    plural(n, "URL", "URLs")
}

/// `1 batch`, `2 batches`.
pub fn batches(n: usize) -> String {
    plural(n, "batch", "batches")
}

/// Task ids for a summary line: all of them up to [`TASKS_SHOWN`], else the first ones and
/// how many more the report lists (a million-URL run has a thousand tasks: one line of them
/// helps nobody).
pub fn task_list(ids: &[&str], separator: &str) -> String {
    if ids.len() <= TASKS_SHOWN {
        return ids.join(separator);
    }
    format!(
        "{}{separator}… {} more in the report",
        ids[..TASKS_SHOWN].join(separator),
        ids.len() - TASKS_SHOWN
    )
}

/// Task ids a summary shows before it refers to the report.
pub const TASKS_SHOWN: usize = 10;

/// The summary printed after a run.
pub fn summary(report: &Report, report_path: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} in {:.1}s, {}",
        report.provider,
        report.status.as_str(),
        report.duration_ms as f64 / 1000.0,
        plural(report.counts.urls, "URL", "URLs")
    );
    for op in [Operation::Refresh, Operation::Prefetch] {
        let urls: Vec<_> = report.urls.iter().filter(|u| u.operation == op).collect();
        if urls.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        for (status, name) in [
            (UrlStatus::Complete, "complete"),
            (UrlStatus::Submitted, "submitted"),
            (UrlStatus::Pending, "pending"),
            (UrlStatus::Failed, "failed"),
            (UrlStatus::Rejected, "rejected"),
            (UrlStatus::Unsupported, "unsupported"),
        ] {
            let n = urls.iter().filter(|u| u.status == status).count();
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        let ids = report.task_ids(Some(op));
        let _ = writeln!(
            out,
            "  {:<9}{}: {}{}",
            op.to_string(),
            plural(urls.len(), "URL", "URLs"),
            parts.join(", "),
            if ids.is_empty() {
                String::new()
            } else {
                format!("; tasks {}", task_list(&ids, ","))
            }
        );
    }
    let c = &report.calls;
    let _ = writeln!(
        out,
        "  calls: {} submit, {} status, {} quota; {} retried",
        c.submit, c.status, c.quota, c.retries
    );
    let problems: Vec<_> = report
        .urls
        .iter()
        .filter(|u| {
            matches!(
                u.status,
                UrlStatus::Failed | UrlStatus::Rejected | UrlStatus::Pending
            )
        })
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "not complete:");
        for u in problems.iter().take(LISTED) {
            let status = serde_json::to_value(u.status).ok();
            let _ = writeln!(
                out,
                "  {} {} [{}] {}",
                u.operation,
                u.url,
                status.as_ref().and_then(|s| s.as_str()).unwrap_or("?"),
                u.reason.as_deref().unwrap_or("")
            );
        }
        if problems.len() > LISTED {
            let _ = writeln!(
                out,
                "  … and {} more (see the report)",
                problems.len() - LISTED
            );
        }
    }
    if let Some(stop) = &report.stopped {
        let _ = writeln!(out, "stopped: {}: {}", stop.code, stop.message);
        if let Some(hint) = &stop.hint {
            let _ = writeln!(out, "  fix: {hint}");
        }
    }
    if let Some(path) = report_path {
        let _ = writeln!(out, "report: {}", path.display());
    }
    out
}

/// A dry run: what would be sent, batch by batch.
pub fn plan(plan: &Plan, limits: &Limits, batch_size: Option<usize>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan (dry run, nothing is sent):");
    let mut batches = plan.refresh_batch_refs(limits, batch_size);
    let unsupported = limits
        .prefetch_unsupported
        .filter(|_| !plan.prefetch.is_empty());
    if unsupported.is_none() {
        batches.extend(Plan::prefetch_batch_refs(
            &plan.prefetch,
            limits,
            batch_size,
        ));
    }
    for (i, b) in batches.iter().enumerate() {
        let mut hosts: Vec<&str> = b.urls.iter().map(|u| url_list::host(u)).collect();
        hosts.sort();
        hosts.dedup();
        let _ = writeln!(
            out,
            "  batch {}: {} of {} (max {}), hosts {}",
            i + 1,
            b.kind,
            plural(b.urls.len(), "path", "paths"),
            crate::plan::batching::batch_capacity(b.kind, limits, batch_size),
            hosts.join(",")
        );
        // What would go out, not only how much: the first URLs of each batch.
        for u in b.urls.iter().take(LISTED_PER_BATCH) {
            let _ = writeln!(out, "    {}", crate::echo::cap(u, crate::echo::SERVER));
        }
        if b.urls.len() > LISTED_PER_BATCH {
            let _ = writeln!(
                out,
                "    … and {} more (plan --format json lists every URL)",
                b.urls.len() - LISTED_PER_BATCH
            );
        }
    }
    let floor = minimum_time(&batches, limits);
    if floor >= 1.0 {
        let _ = writeln!(
            out,
            "  at the provider's limits, sending takes at least {}s (then the tasks' own time)",
            floor.ceil() as u64
        );
    }
    if let Some(reason) = unsupported {
        let _ = writeln!(
            out,
            "  prefetch: {} not sent, reported unsupported: {reason}",
            plural(plan.prefetch.len(), "URL", "URLs")
        );
    } else if plan.prefetch_after_refresh {
        let _ = writeln!(
            out,
            "  prefetch batches go out only for URLs whose refresh completed"
        );
    }
    if let Some(billing) = limits.billed_per_path {
        let paths: usize = plan.refresh.values().map(Vec::len).sum();
        let _ = writeln!(out, "  billable paths: {paths} ({billing})");
        for c in plan.collapses.iter().filter(|c| c.not_applied.is_none()) {
            let _ = writeln!(
                out,
                "  collapsed: {} stands for {}",
                c.directory,
                plural(c.urls.len(), "URL", "URLs")
            );
        }
        return out;
    }
    let needs = plan.quota_needs();
    let needs: Vec<String> = needs.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "  daily quota needed: {}", needs.join(", "));
    out
}

/// URLs of each batch the text plan shows.
const LISTED_PER_BATCH: usize = 10;

/// The shortest time the provider's limits allow for sending `batches`, in seconds: requests
/// per second, items per second (Qiniu), and refreshed URLs per host per minute.
fn minimum_time(batches: &[crate::plan::batching::BatchRef<'_>], limits: &Limits) -> f64 {
    use std::collections::HashMap;
    let requests = batches.len() as f64;
    let by_rate = (requests - 1.0).max(0.0) / f64::from(limits.submit_per_second.max(1));
    let items: usize = batches.iter().map(|b| b.urls.len()).sum();
    let by_items = limits.items_per_second.map_or(0.0, |n| {
        (items as f64 - f64::from(n)).max(0.0) / f64::from(n.max(1))
    });
    let mut per_host: HashMap<(&str, u32), u64> = HashMap::new();
    for b in batches {
        if let Some(cap) = limits.minute_cap(b.kind) {
            for u in &b.urls {
                *per_host.entry((url_list::host(u), cap)).or_default() += 1;
            }
        }
    }
    let by_minute = per_host
        .iter()
        .map(|((_, cap), n)| (n.saturating_sub(1) / u64::from((*cap).max(1))) as f64 * 60.0)
        .fold(0.0, f64::max);
    by_rate.max(by_items).max(by_minute)
}

/// The day's quotas.
pub fn quota(quota: &Quota) -> String {
    if quota.entries.is_empty() {
        // CloudFront: paths are billed, nothing is counted against a day.
        return "quota: the provider has no daily quota\n".into();
    }
    let mut out = String::from("quota (remaining of today's limit):\n");
    for e in &quota.entries {
        let _ = writeln!(
            out,
            "  {:<22} {:>8} of {}",
            e.kind.to_string(),
            e.remaining,
            e.limit
        );
    }
    out
}

/// Why a run did not start: each quota that falls short.
pub fn shortfalls(shortfalls: &[Shortfall]) -> String {
    let mut out = String::from("today's quota does not cover this run; nothing was sent:\n");
    for s in shortfalls {
        let _ = writeln!(
            out,
            "  {}: needs {}, {} left of {} today",
            s.kind, s.needed, s.remaining, s.limit
        );
    }
    out.push_str("  fix: split the run over days, refresh a directory instead of many files, or ask the provider for a higher quota");
    out
}

/// Task states, one line per path.
pub fn task_states(states: &[TaskState]) -> String {
    let mut out = String::new();
    for s in states {
        let status = serde_json::to_value(s.status).ok();
        let _ = writeln!(
            out,
            "{}\t{}\t{}{}",
            s.task_id,
            status.as_ref().and_then(|v| v.as_str()).unwrap_or("?"),
            s.url,
            s.description
                .as_deref()
                .map(|d| format!("\t{d}"))
                .unwrap_or_default()
        );
    }
    out
}

/// The verification of `report` for people: the counts, then each URL not fresh (stale
/// first, at most [`VERIFY_SHOWN`]) with the reason and the headers that explain it.
/// `None` when the report was not verified.
pub fn verify(report: &Report) -> Option<String> {
    let counts = report.verify.as_ref()?;
    let mut out = String::new();
    let who = report
        .target
        .as_deref()
        .map(|t| format!("target {t}: "))
        .unwrap_or_default();
    let parts: Vec<String> = [
        (counts.fresh, "fresh"),
        (counts.stale, "stale"),
        (counts.lingering, "lingering"),
        (counts.missing, "missing"),
        (counts.error, "error"),
        (counts.unchecked, "unchecked"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    let _ = writeln!(
        out,
        "{who}verify: {}",
        if parts.is_empty() {
            "no URL".to_string()
        } else {
            parts.join(", ")
        }
    );
    let shown = not_fresh(report);
    for (url, v) in shown.iter().take(VERIFY_SHOWN) {
        let _ = write!(out, "  {:<10} {url}", v.verdict.as_str());
        if let Some(reason) = &v.reason {
            let _ = write!(out, ": {}", crate::echo::cap(reason, crate::echo::VALUE));
        }
        if !v.headers.is_empty() {
            let headers: Vec<String> = v.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let _ = write!(out, " [{}]", headers.join("; "));
        }
        out.push('\n');
    }
    if shown.len() > VERIFY_SHOWN {
        let _ = writeln!(
            out,
            "  … and {} more (see the report)",
            shown.len() - VERIFY_SHOWN
        );
    }
    Some(out)
}

/// URLs listed by [`verify`] and the job summary at most.
pub const VERIFY_SHOWN: usize = 20;

/// The distinct URLs of `report` whose verdict is not `fresh`, stale ones first (then
/// lingering, missing, error, unchecked), each once.
pub fn not_fresh(report: &Report) -> Vec<(&str, &crate::verify::Verdict)> {
    let mut seen = std::collections::HashSet::new();
    let mut list: Vec<(&str, &crate::verify::Verdict)> = report
        .urls
        .iter()
        .filter_map(|u| Some((u.url.as_str(), u.verify.as_deref()?)))
        .filter(|(url, v)| v.verdict != crate::verify::VerdictKind::Fresh && seen.insert(*url))
        .collect();
    list.sort_by_key(|(_, v)| v.verdict);
    list
}
