//! The operations, with CloudFront's documented limits and codes (protocols.md §6). A
//! submission is checked whole and only then accepted: a refused one creates nothing.
//!
//! CreateInvalidation:
//!
//! 1. A body (else 400 `MissingBody`), an `<InvalidationBatch>` document (else 400
//!    `MalformedXML`) whose `Paths/Quantity` is the number of `Paths/Items/Path` (else 400
//!    `InconsistentQuantities`), at least one path and a `CallerReference` (else 400
//!    `InvalidArgument`).
//! 2. The distribution exists (else 404 `NoSuchDistribution`).
//! 3. The same `CallerReference` on this distribution: the same paths return the
//!    invalidation made then (nothing new is made); other paths are 409
//!    `InvalidationBatchAlreadyExists` [C API doc of `CallerReference`].
//! 4. Every path begins with `/`, is at most 4,000 characters, holds `*` only as its last
//!    character, and nothing a client must percent-encode (non-ASCII, whitespace,
//!    controls): else 400 `InvalidArgument`. (CloudFront itself takes an unencoded path and
//!    then matches nothing; the emulator is stricter so that a client's mistake shows.)
//! 5. At most 3,000 paths in one request (413 `BatchTooLarge`); the file paths and the
//!    wildcard paths in progress on the distribution, with this request's, within
//!    `--cloudfront-max-paths-in-progress` and `--cloudfront-max-wildcards-in-progress`
//!    (400 `TooManyInvalidationsInProgress`).
//!
//! An invalidation is `InProgress` for `--task-duration`, then `Completed`; there is no
//! failed state in CloudFront's API. A path that matches `--fail-matching` is still
//! reported `Completed` but is not evicted at the edge: CloudFront's own silent failure
//! (a path that matches nothing), which only verifying the edge catches.
//!
//! ListDistributions lists the distributions in id order, each with its sites as
//! `Aliases` (what a client finds a site's distribution by).
//!
//! GetInvalidation answers one of the distribution's invalidations (404 `NoSuchInvalidation`
//! else); ListInvalidations lists them newest first, `MaxItems` (1–100, default 100) from
//! `Marker` (the id the previous page's `NextMarker` named). Under an `endless-pages`
//! fault every page is full of fabricated in-progress invalidations and truncated.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::state::{CloudFrontState, Invalidation, is_wildcard};
use super::{Answer, ApiError, Endpoint, distributions, knobs};
use crate::emulator::edge::Scope;
use crate::emulator::server::{ApiCall, App};
use crate::emulator::state::Inner;
use crate::providers::Operation;
use crate::providers::cloudfront::api::{VERSION, XMLNS, escape};

pub const MAX_PATHS_PER_REQUEST: usize = 3_000;
pub const MAX_PATH_CHARS: usize = 4_000;
const MAX_LIST_ITEMS: usize = 100;

pub(crate) struct Ctx<'a> {
    pub app: &'a App,
    pub inner: &'a mut Inner,
    pub now: (DateTime<Utc>, Instant),
    pub endless_pages: bool,
    /// `http://HOST:PORT` as the client reached the emulator, for `Location`.
    pub base: String,
}

pub(crate) fn run(ctx: &mut Ctx<'_>, endpoint: &Endpoint, call: &ApiCall) -> Result<Answer, ApiError> {
    match endpoint {
        Endpoint::Invalidations(id) if call.method == axum::http::Method::POST => {
            create(ctx, id, &call.body)
        }
        Endpoint::Invalidations(id) => list(ctx, id, call.uri.query().unwrap_or("")),
        Endpoint::Invalidation(id, inv) => get(ctx, id, inv),
        Endpoint::Distributions => list_distributions(ctx, call.uri.query().unwrap_or("")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchIn {
    paths: PathsIn,
    #[serde(default)]
    caller_reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PathsIn {
    quantity: String,
    #[serde(default)]
    items: Option<ItemsIn>,
}

#[derive(Deserialize, Default)]
struct ItemsIn {
    #[serde(default, rename = "Path")]
    paths: Vec<String>,
}

/// The name of the document's root element.
fn root_name(body: &str) -> Option<&str> {
    let mut rest = body;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        return Some(&rest[..end]);
    }
}

fn parse_batch(body: &[u8]) -> Result<(Vec<String>, String), ApiError> {
    if body.is_empty() {
        return Err(ApiError::new(
            400,
            "MissingBody",
            "This operation requires a body. Ensure that the body is present and the Content-Type header is set.",
        ));
    }
    let malformed = |why: String| {
        ApiError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
        .because(why)
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8".into()))?;
    if root_name(text) != Some("InvalidationBatch") {
        return Err(malformed("the root element is not InvalidationBatch".into()));
    }
    let batch: BatchIn = quick_xml::de::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let paths = batch.paths.items.unwrap_or_default().paths;
    let quantity: usize = batch
        .paths
        .quantity
        .trim()
        .parse()
        .map_err(|_| malformed(format!("Quantity {:?} is not a number", batch.paths.quantity)))?;
    if quantity != paths.len() {
        return Err(ApiError::new(
            400,
            "InconsistentQuantities",
            "The value of Quantity and the size of Items don't match.",
        )
        .because(format!("Quantity {quantity}, {} paths", paths.len())));
    }
    let reference = batch.caller_reference.unwrap_or_default();
    if reference.trim().is_empty() {
        return Err(ApiError::invalid_argument("CallerReference is required."));
    }
    if paths.is_empty() {
        return Err(ApiError::invalid_argument("Paths must hold at least one path."));
    }
    Ok((paths, reference))
}

/// Why a path cannot be an invalidation path.
fn bad_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some("does not begin with /".into());
    }
    if path.chars().count() > MAX_PATH_CHARS {
        return Some(format!("is longer than {MAX_PATH_CHARS} characters"));
    }
    if path.trim_end_matches('*').contains('*') || path.ends_with("**") {
        return Some("has * elsewhere than as its last character".into());
    }
    if path.chars().any(|c| !c.is_ascii() || c.is_whitespace() || c.is_control()) {
        return Some("holds characters that must be percent-encoded (non-ASCII, spaces)".into());
    }
    None
}

fn no_distribution(id: &str) -> ApiError {
    ApiError::new(404, "NoSuchDistribution", "The specified distribution does not exist.")
        .because(format!("{} is not among the emulator's distributions", crate::echo::cap(id, 40)))
}

fn create(ctx: &mut Ctx<'_>, distribution: &str, body: &[u8]) -> Result<Answer, ApiError> {
    let (paths, reference) = parse_batch(body)?;
    let all = distributions(&ctx.app.args);
    let hosts = all.get(distribution).ok_or_else(|| no_distribution(distribution))?;
    let duration = ctx.app.args.task_duration;
    let state = ctx.inner.state_mut::<CloudFrontState>();
    if let Some(existing) = state.by_reference(distribution, &reference) {
        let mut a = existing.paths.clone();
        let mut b = paths.clone();
        a.sort();
        b.sort();
        if a != b {
            return Err(ApiError::new(
                409,
                "InvalidationBatchAlreadyExists",
                "The CallerReference you attempted to create the invalidation with is already in use for a different invalidation batch.",
            ));
        }
        let answer = document(existing, ctx.now.1, duration);
        let location = location(&ctx.base, distribution, &existing.id);
        return Ok(Answer {
            status: 201,
            body: answer,
            location: Some(location),
        });
    }
    let bad: Vec<String> = paths
        .iter()
        .filter_map(|p| bad_path(p).map(|why| format!("{p} {why}")))
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::invalid_argument(
            "Your request contains one or more invalid invalidation paths.",
        )
        .because(bad.join("; ")));
    }
    if paths.len() > MAX_PATHS_PER_REQUEST {
        return Err(ApiError::new(413, "BatchTooLarge", "Invalidation batch specified is too large.")
            .because(format!("{} paths, at most {MAX_PATHS_PER_REQUEST}", paths.len())));
    }
    let knobs = knobs(ctx.app);
    let wildcards = paths.iter().filter(|p| is_wildcard(p)).count() as u64;
    let files = paths.len() as u64 - wildcards;
    let (busy_files, busy_wild) = state.in_progress(distribution, ctx.now.1, duration);
    if busy_files + files > knobs.cloudfront_max_paths_in_progress
        || busy_wild + wildcards > knobs.cloudfront_max_wildcards_in_progress
    {
        return Err(ApiError::new(
            400,
            "TooManyInvalidationsInProgress",
            "Processing your request will cause you to exceed the maximum number of in-progress invalidations.",
        )
        .because(format!(
            "in progress: {busy_files} file paths and {busy_wild} wildcards; this request adds {files} and {wildcards}; at most {} and {}",
            knobs.cloudfront_max_paths_in_progress, knobs.cloudfront_max_wildcards_in_progress
        )));
    }

    let id = state.new_id();
    let invalidation = Invalidation {
        id: id.clone(),
        caller_reference: reference,
        paths: paths.clone(),
        created: ctx.now.0,
        started: ctx.now.1,
    };
    let answer = document(&invalidation, ctx.now.1, duration);
    state.push(distribution, invalidation);
    // What the edge and the stats see: each path on each site the distribution serves.
    let mut keys = Vec::new();
    let mut covered = Vec::new();
    for host in hosts {
        for path in &paths {
            let url = format!("https://{host}{}", path.trim_end_matches('*'));
            if !ctx.app.fails(&url) {
                covered.extend(scope(host, path));
            }
            keys.push(url);
        }
    }
    let raw: Vec<&str> = keys.iter().map(String::as_str).collect();
    ctx.inner.accept(Operation::Refresh, &raw, ctx.now.0);
    ctx.inner.cover(Operation::Refresh, ctx.now.1, covered);
    ctx.inner.stats.tasks_created += 1;
    Ok(Answer {
        status: 201,
        body: answer,
        location: Some(location(&ctx.base, distribution, &id)),
    })
}

/// What an invalidation path covers at the edge of `host`: the URL, everything below a
/// `/dir/*`, or every path that starts with what comes before another `*`.
fn scope(host: &str, path: &str) -> Option<Scope> {
    let Some(prefix) = path.strip_suffix('*') else {
        return Scope::url(&format!("http://{host}{path}"));
    };
    if prefix.ends_with('/') {
        return Scope::directory(&format!("http://{host}{prefix}"));
    }
    let decoded = percent_encoding::percent_decode_str(prefix)
        .decode_utf8_lossy()
        .into_owned();
    Some(Scope::matching(host, move |p| p.starts_with(&decoded)))
}

fn location(base: &str, distribution: &str, id: &str) -> String {
    format!("{base}/{VERSION}/distribution/{distribution}/invalidation/{id}")
}

/// `<Invalidation>` with its batch.
fn document(inv: &Invalidation, now: Instant, duration: std::time::Duration) -> String {
    let mut out = format!(
        r#"<?xml version="1.0"?><Invalidation xmlns="{XMLNS}"><Id>{}</Id><Status>{}</Status><CreateTime>{}</CreateTime><InvalidationBatch><Paths><Quantity>{}</Quantity><Items>"#,
        inv.id,
        inv.status(now, duration),
        inv.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        inv.paths.len()
    );
    for p in &inv.paths {
        out.push_str(&format!("<Path>{}</Path>", escape(p)));
    }
    out.push_str(&format!(
        "</Items></Paths><CallerReference>{}</CallerReference></InvalidationBatch></Invalidation>",
        escape(&inv.caller_reference)
    ));
    out
}

fn get(ctx: &mut Ctx<'_>, distribution: &str, id: &str) -> Result<Answer, ApiError> {
    if !distributions(&ctx.app.args).contains_key(distribution) {
        return Err(no_distribution(distribution));
    }
    let duration = ctx.app.args.task_duration;
    let state = ctx.inner.state::<CloudFrontState>();
    let inv = state.find(distribution, id).ok_or_else(|| {
        ApiError::new(404, "NoSuchInvalidation", "The specified invalidation does not exist.")
    })?;
    Ok(Answer {
        status: 200,
        body: document(inv, ctx.now.1, duration),
        location: None,
    })
}

/// `MaxItems` (1–100, default 100) and `Marker` of a list call.
fn paging(query: &str) -> Result<(String, usize), ApiError> {
    let mut marker = String::new();
    let mut max_items = MAX_LIST_ITEMS;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "Marker" => marker = v.into_owned(),
            "MaxItems" => {
                max_items = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIST_ITEMS).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_argument(format!("MaxItems {v:?} is not 1 to 100"))
                    })?;
            }
            _ => {}
        }
    }
    Ok((marker, max_items))
}

/// ListDistributions: each distribution with its sites as alternate domain names, in id
/// order from `Marker` (the id the previous page's `NextMarker` named).
fn list_distributions(ctx: &mut Ctx<'_>, query: &str) -> Result<Answer, ApiError> {
    let (marker, max_items) = paging(query)?;
    let all: Vec<(String, Vec<String>)> = distributions(&ctx.app.args)
        .into_iter()
        .filter(|(id, _)| marker.is_empty() || *id >= marker)
        .collect();
    let page = &all[..all.len().min(max_items)];
    let next = all.get(max_items).map(|(id, _)| id.clone());
    let mut out = format!(
        r#"<?xml version="1.0"?><DistributionList xmlns="{XMLNS}"><Marker>{}</Marker>"#,
        escape(&marker)
    );
    if let Some(next) = &next {
        out.push_str(&format!("<NextMarker>{}</NextMarker>", escape(next)));
    }
    out.push_str(&format!(
        "<MaxItems>{max_items}</MaxItems><IsTruncated>{}</IsTruncated><Quantity>{}</Quantity><Items>",
        next.is_some(),
        page.len()
    ));
    for (id, hosts) in page {
        out.push_str(&format!(
            "<DistributionSummary><Id>{id}</Id><ARN>arn:aws:cloudfront::123456789012:distribution/{id}</ARN><Status>Deployed</Status><DomainName>{}.cloudfront.net</DomainName><Aliases><Quantity>{}</Quantity><Items>",
            id.to_ascii_lowercase(),
            hosts.len()
        ));
        for h in hosts {
            out.push_str(&format!("<CNAME>{}</CNAME>", escape(h)));
        }
        out.push_str("</Items></Aliases><Enabled>true</Enabled></DistributionSummary>");
    }
    out.push_str("</Items></DistributionList>");
    Ok(Answer {
        status: 200,
        body: out,
        location: None,
    })
}

fn list(ctx: &mut Ctx<'_>, distribution: &str, query: &str) -> Result<Answer, ApiError> {
    if !distributions(&ctx.app.args).contains_key(distribution) {
        return Err(no_distribution(distribution));
    }
    let (marker, max_items) = paging(query)?;
    let duration = ctx.app.args.task_duration;
    let summaries: Vec<(String, DateTime<Utc>, &'static str)> = if ctx.endless_pages {
        (0..max_items)
            .map(|i| (format!("IENDLESS{i:06}"), ctx.now.0, "InProgress"))
            .collect()
    } else {
        let state = ctx.inner.state::<CloudFrontState>();
        let newest_first = state
            .invalidations
            .get(distribution)
            .into_iter()
            .flatten()
            .rev();
        let from_marker: Vec<&Invalidation> = if marker.is_empty() {
            newest_first.collect()
        } else {
            newest_first.skip_while(|i| i.id != marker).collect()
        };
        from_marker
            .into_iter()
            .take(max_items + 1)
            .map(|i| (i.id.clone(), i.created, i.status(ctx.now.1, duration)))
            .collect()
    };
    let truncated = ctx.endless_pages || summaries.len() > max_items;
    let next = if ctx.endless_pages {
        Some(format!("IENDLESS{max_items:06}"))
    } else {
        summaries.get(max_items).map(|s| s.0.clone())
    };
    let page = &summaries[..summaries.len().min(max_items)];
    let mut out = format!(
        r#"<?xml version="1.0"?><InvalidationList xmlns="{XMLNS}"><Marker>{}</Marker>"#,
        escape(&marker)
    );
    if let Some(next) = next {
        out.push_str(&format!("<NextMarker>{}</NextMarker>", escape(&next)));
    }
    out.push_str(&format!(
        "<MaxItems>{max_items}</MaxItems><IsTruncated>{truncated}</IsTruncated><Quantity>{}</Quantity><Items>",
        page.len()
    ));
    for (id, created, status) in page {
        out.push_str(&format!(
            "<InvalidationSummary><Id>{id}</Id><CreateTime>{}</CreateTime><Status>{status}</Status></InvalidationSummary>",
            created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
    }
    out.push_str("</Items></InvalidationList>");
    Ok(Answer {
        status: 200,
        body: out,
        location: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_parse_strictly() {
        let ok = br#"<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>2</Quantity><Items><Path>/a</Path><Path>/b/*</Path></Items></Paths><CallerReference>r1</CallerReference></InvalidationBatch>"#;
        let (paths, reference) = parse_batch(ok).unwrap();
        assert_eq!((paths.len(), reference.as_str()), (2, "r1"));
        let code = |body: &[u8]| parse_batch(body).err().map(|e| e.code);
        assert_eq!(code(b""), Some("MissingBody"));
        assert_eq!(code(b"<Other/>"), Some("MalformedXML"));
        assert_eq!(
            code(b"<InvalidationBatch><Paths><Quantity>3</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>"),
            Some("InconsistentQuantities")
        );
        assert_eq!(
            code(b"<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths></InvalidationBatch>"),
            Some("InvalidArgument")
        );
    }

    #[test]
    fn paths_follow_the_rules() {
        assert_eq!(bad_path("/a/b.html?x=1"), None);
        assert_eq!(bad_path("/dir/*"), None);
        assert_eq!(bad_path("/caf%C3%A9"), None);
        for bad in ["a", "/a*b", "/a/**", "/caf\u{e9}", "/a b"] {
            assert!(bad_path(bad).is_some(), "{bad}");
        }
    }
}
