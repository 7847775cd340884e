//! AWS CloudFront: invalidations (`CreateInvalidation`, `GetInvalidation`), REST-XML, signed
//! with SigV4 (service `cloudfront`, region `us-east-1`).
//!
//! A site is a distribution: each URL's host maps to a distribution id (`distribution_id`,
//! one for every site or `HOST=ID` per site), and a batch (of one host: one request goes to
//! one distribution) becomes one invalidation of its URLs' paths ([`paths`]). A task id is
//! `DISTRIBUTION/INVALIDATION`. An invalidation has one status for all its paths, so the
//! client remembers which URL each path it sent stands for, to report every URL.
//!
//! Idempotent by construction: each batch's `CallerReference` is derived from the run, the
//! distribution and the paths, so a submit sent again after a lost answer gets the
//! invalidation the first one created, and there is no look-up to do (`find_tasks` is
//! `None`: the shared code then sends again, which is safe here).
//!
//! CloudFront has no prefetch API and no daily quota: the first 1,000 paths a month are
//! free, then each path (a wildcard counts as one) is billed.

pub mod api;
pub mod paths;
pub mod sign;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use self::api::Credentials;
use self::paths::Distributions;
use super::registry::{Connect, CredentialEnv, Misfit, OptionKind, OptionSpec, Spec};
use super::{
    Batch, ErrorClass, InProgressLimits, Limits, ObjectType, Operation, Provider, ProviderError, ProviderKind,
    Quota, Submitted, TaskId, TaskState, TaskStatus,
};
use crate::plan::TaskMode;

/// The documented limits (protocols.md §6): 3,000 file paths and 15 wildcard paths in
/// progress per distribution (so at most that in one invalidation), paths of up to 4,000
/// characters (the URL, host included, is held to that: stricter, never looser). One host
/// per request, since a request goes to one distribution. CloudFront publishes no call
/// rate; Throttling comes after 6–7 quick calls (aws/aws-sdk-js#3983), so submits are paced
/// at 5 a second, reads (status, the in-progress look at the start) at 10, and a
/// Throttling answer is retried by the shared policy.
pub const LIMITS: Limits = Limits {
    refresh_urls_per_request: api::MAX_PATHS,
    refresh_dirs_per_request: 15,
    refresh_regex_per_request: 1,
    prefetch_urls_per_request: api::MAX_PATHS,
    domains_per_request: 1,
    max_url_len: paths::MAX_PATH_CHARS,
    submit_per_second: 5,
    status_per_second: 10,
    quota_per_second: 10,
    status_ids_per_query: 1,
    refresh_urls_per_minute_per_domain: None,
    refresh_object_types: &[ObjectType::File, ObjectType::Directory],
    items_per_second: None,
    prefetch_unsupported: Some(NO_PREFETCH),
    billed_per_path: Some(BILLING),
    in_progress: Some(InProgressLimits {
        paths: api::MAX_PATHS as u64,
        wildcards: 15,
    }),
};

/// How CloudFront bills invalidations (protocols.md §6).
pub const BILLING: &str = "each path is billed, a wildcard as one: the first 1,000 a month are free per account, then $0.005 a path";

/// Why `-t prefetch` cannot be done.
pub const NO_PREFETCH: &str = "CloudFront has no prefetch API: a visitor's first request after the invalidation fills the cache (--verify fetches each URL and so warms the nearest edge)";

/// What the rest of the program knows of CloudFront.
pub static SPEC: Spec = Spec {
    name: "cloudfront",
    title: "AWS CloudFront",
    about: "AWS CloudFront invalidations (API 2020-05-31).",
    limits: &LIMITS,
    default_endpoint: api::DEFAULT_ENDPOINT,
    credentials: CredentialEnv {
        id: "AWS_ACCESS_KEY_ID",
        secret: "AWS_SECRET_ACCESS_KEY",
        token: Some("AWS_SESSION_TOKEN"),
        extra: &[],
    },
    options: &[OptionSpec {
        key: "distribution_id",
        short: None,
        value_name: "ID|HOST=ID,...",
        help: "AWS CloudFront: the distribution of the sites, one id for every site (E2QWRUHAPOMQZL) or HOST=ID per site, comma-separated.",
        kind: OptionKind::Text,
    }],
    check,
    connect,
};

fn check(options: &super::registry::ProviderOptions, task: TaskMode) -> Result<(), Misfit> {
    let misfit = |problem: String, fix: &str| Misfit {
        input: "--distribution-id".into(),
        problem,
        fix: fix.into(),
    };
    // Without one, each site's distribution is the one that has it as an alternate domain
    // name (ListDistributions, read once a run).
    if let Some(text) = options.text("distribution_id") {
        Distributions::parse(text).map_err(|why| {
            misfit(
                why,
                "write one id (E2QWRUHAPOMQZL) or HOST=ID pairs, comma-separated",
            )
        })?;
    }
    if task == TaskMode::Prefetch {
        return Err(Misfit {
            input: "--task".into(),
            problem: NO_PREFETCH.into(),
            fix: "use --task refresh".into(),
        });
    }
    Ok(())
}

fn connect(c: Connect) -> Result<Box<dyn Provider>, reqwest::Error> {
    let distributions = c
        .options
        .text("distribution_id")
        .and_then(|t| Distributions::parse(t).ok())
        .unwrap_or_default();
    let credentials = Credentials {
        access_key_id: c.credentials.id,
        secret_access_key: c.credentials.secret,
        session_token: c.credentials.token,
    };
    Ok(Box::new(CloudFront {
        http: crate::http::client()?,
        endpoint: c.endpoint,
        credentials,
        distributions,
        run: c.run,
        sent: Mutex::new(HashMap::new()),
        aliases: tokio::sync::Mutex::new(None),
    }))
}

pub struct CloudFront {
    http: reqwest::Client,
    endpoint: url::Url,
    credentials: Credentials,
    distributions: Distributions,
    /// What identifies this run in `CallerReference`s.
    run: String,
    /// Task id → (path sent, URL it stands for), for the tasks this client created.
    sent: Mutex<HashMap<TaskId, Vec<(String, String)>>>,
    /// Alternate domain name → distribution, from ListDistributions, when a site has no
    /// distribution id given (read once, then kept for the run).
    aliases: tokio::sync::Mutex<Option<HashMap<String, String>>>,
}

/// Pages of ListDistributions read at most (100 distributions each).
const DISTRIBUTION_PAGES: usize = 20;

/// Pages of ListInvalidations read per distribution at the start (newest first: what is
/// in progress comes first), and invalidations looked at, at most.
const LIST_PAGES: usize = 3;
const LIST_PAGE_SIZE: &str = "100";
const IN_PROGRESS_LOOKS: usize = 200;

impl CloudFront {
    /// The distribution of `host`: the one given, else the one whose alternate domain names
    /// (CNAMEs) include it. `None`: no distribution of the account serves it.
    async fn distribution_of(&self, host: &str) -> Result<Option<String>, ProviderError> {
        if let Some(id) = self.distributions.of(host) {
            return Ok(Some(id.to_string()));
        }
        let mut aliases = self.aliases.lock().await;
        if aliases.is_none() {
            *aliases = Some(self.list_aliases().await?);
        }
        Ok(aliases.as_ref().and_then(|a| a.get(host)).cloned())
    }

    /// Every alternate domain name of the account's distributions.
    async fn list_aliases(&self) -> Result<HashMap<String, String>, ProviderError> {
        let mut out = HashMap::new();
        let mut marker = String::new();
        for _ in 0..DISTRIBUTION_PAGES {
            let mut query = vec![("MaxItems", LIST_PAGE_SIZE)];
            if !marker.is_empty() {
                query.push(("Marker", marker.as_str()));
            }
            let page: api::DistributionList = self
                .call(
                    "list distributions",
                    reqwest::Method::GET,
                    &api::distributions_path(),
                    &query,
                    None,
                )
                .await?;
            for d in page.items.unwrap_or_default().summaries {
                let cnames = d.aliases.and_then(|a| a.items).unwrap_or_default().cnames;
                for cname in cnames {
                    out.entry(cname.trim_end_matches('.').to_ascii_lowercase())
                        .or_insert_with(|| d.id.clone());
                }
            }
            match page.next_marker.filter(|m| page.is_truncated && !m.is_empty() && *m != marker) {
                Some(next) => marker = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// File and wildcard paths in progress on `distribution`: the in-progress invalidations
    /// among the newest, each read for its paths.
    async fn in_progress_on(&self, distribution: &str) -> Result<(u64, u64), ProviderError> {
        let mut ids: Vec<String> = Vec::new();
        let mut marker = String::new();
        for _ in 0..LIST_PAGES {
            let mut query = vec![("MaxItems", LIST_PAGE_SIZE)];
            if !marker.is_empty() {
                query.push(("Marker", marker.as_str()));
            }
            let page: api::InvalidationList = self
                .call(
                    "list invalidations",
                    reqwest::Method::GET,
                    &api::invalidations_path(distribution),
                    &query,
                    None,
                )
                .await?;
            let items = page.items.unwrap_or_default().summaries;
            let before = ids.len();
            ids.extend(
                items
                    .iter()
                    .filter(|s| status_of(&s.status) != TaskStatus::Complete)
                    .map(|s| s.id.clone()),
            );
            // Newest first: a page without one in progress ends the look.
            if ids.len() == before || !page.is_truncated {
                break;
            }
            match page.next_marker.filter(|m| !m.is_empty() && *m != marker) {
                Some(next) => marker = next,
                None => break,
            }
        }
        let (mut paths, mut wildcards) = (0, 0);
        for id in ids.iter().take(IN_PROGRESS_LOOKS) {
            let inv: api::Invalidation = self
                .call(
                    "get invalidation",
                    reqwest::Method::GET,
                    &api::invalidation_path(distribution, id),
                    &[],
                    None,
                )
                .await?;
            if status_of(&inv.status) == TaskStatus::Complete {
                continue;
            }
            for p in inv.paths() {
                if p.ends_with('*') {
                    wildcards += 1;
                } else {
                    paths += 1;
                }
            }
        }
        Ok((paths, wildcards))
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<T, ProviderError> {
        let request = api::build_request(
            &self.http,
            &self.endpoint,
            &self.credentials,
            chrono::Utc::now(),
            api::Call {
                method,
                path,
                query,
                body,
            },
        );
        api::parse(what, api::send(request).await?)
    }
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::InvalidRequest, "InvalidArgument", message)
}

/// An invalidation's status: `InProgress`, then `Completed` (moto answers `COMPLETED`).
fn status_of(status: &str) -> TaskStatus {
    if status.eq_ignore_ascii_case("completed") {
        TaskStatus::Complete
    } else if status.eq_ignore_ascii_case("inprogress") {
        TaskStatus::Running
    } else {
        TaskStatus::Pending
    }
}

#[async_trait]
impl Provider for CloudFront {
    fn kind(&self) -> ProviderKind {
        ProviderKind::of(&SPEC)
    }

    fn limits(&self) -> &Limits {
        &LIMITS
    }

    /// No daily quota: nothing to read.
    async fn quota(&self) -> Result<Quota, ProviderError> {
        Ok(Quota::default())
    }

    async fn submit(&self, batch: &Batch) -> Result<Submitted, ProviderError> {
        if batch.kind.operation == Operation::Prefetch {
            return Err(invalid(NO_PREFETCH.into()));
        }
        let directory = match batch.kind.object_type {
            ObjectType::File => false,
            ObjectType::Directory => true,
            other => return Err(invalid(format!("CloudFront cannot invalidate by {other}"))),
        };
        let Some((host, _)) = batch.urls.first().and_then(|u| paths::split(u)) else {
            return Err(invalid("an empty batch".into()));
        };
        let distribution = self.distribution_of(&host).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorClass::Domain,
                "NoDistribution",
                format!(
                    "no distribution id is given for {host}, and no distribution of the account has it as an alternate domain name"
                ),
            )
            .with_hint(format!(
                "add {host}=ID to --distribution-id (the distribution-id input), or one id for every site"
            ))
        })?;
        let distribution = distribution.as_str();
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(batch.urls.len());
        for url in &batch.urls {
            if paths::split(url).is_none_or(|(h, _)| h != host) {
                return Err(invalid(format!(
                    "{url}: one invalidation covers one site ({host})"
                )));
            }
            pairs.push((paths::invalidation_path(url, directory).map_err(invalid)?, url.clone()));
        }
        let sent_paths: Vec<String> = pairs.iter().map(|(p, _)| p.clone()).collect();
        let reference = paths::caller_reference(&self.run, distribution, &sent_paths);
        let answer: api::Invalidation = self
            .call(
                "create invalidation",
                reqwest::Method::POST,
                &api::invalidations_path(distribution),
                &[],
                Some(api::invalidation_batch(&sent_paths, &reference)),
            )
            .await?;
        let id = TaskId(format!("{distribution}/{}", answer.id));
        self.sent
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), pairs);
        Ok(Submitted {
            ids: vec![id],
            quota: None,
        })
    }

    /// A batch counts against its distribution.
    fn in_progress_scope(&self, batch: &Batch) -> String {
        let host = batch
            .urls
            .first()
            .and_then(|u| paths::split(u))
            .map(|(h, _)| h)
            .unwrap_or_default();
        if let Some(id) = self.distributions.of(&host) {
            return id.to_string();
        }
        // Found by its alias (read at the start of the run, see `in_progress`).
        let found = self
            .aliases
            .try_lock()
            .ok()
            .and_then(|a| a.as_ref().and_then(|a| a.get(&host).cloned()));
        found.unwrap_or(host)
    }

    /// The distributions among `scopes` (a host without one is refused when its batch is
    /// sent, and so is a distribution the account does not have: nothing to count).
    async fn in_progress(
        &self,
        scopes: &[String],
    ) -> Result<Vec<(String, u64, u64)>, ProviderError> {
        let mut out: Vec<(String, u64, u64)> = Vec::new();
        for scope in scopes {
            let known = self.distributions.default.as_deref() == Some(scope.as_str())
                || self.distributions.by_host.values().any(|id| id == scope);
            // A host without a given id: its distribution by alias, if it has one.
            let id = match known {
                true => scope.clone(),
                false => match self.distribution_of(scope).await? {
                    Some(id) => id,
                    None => continue,
                },
            };
            if out.iter().any(|(done, _, _)| *done == id) {
                continue;
            }
            match self.in_progress_on(&id).await {
                Ok((paths, wildcards)) => out.push((id, paths, wildcards)),
                Err(e) if e.class == ErrorClass::Domain => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn poll(&self, ids: &[TaskId]) -> Result<Vec<TaskState>, ProviderError> {
        let mut states = Vec::new();
        for id in ids {
            let Some((distribution, invalidation)) = id.0.split_once('/') else {
                return Err(invalid(format!(
                    "{id} is not a CloudFront task id (DISTRIBUTION/INVALIDATION)"
                )));
            };
            let answer: api::Invalidation = self
                .call(
                    "get invalidation",
                    reqwest::Method::GET,
                    &api::invalidation_path(distribution, invalidation),
                    &[],
                    None,
                )
                .await?;
            let status = status_of(&answer.status);
            let listed: std::collections::HashSet<&str> = answer.paths().collect();
            let known = self
                .sent
                .lock()
                .expect("not poisoned")
                .get(id)
                .cloned();
            let state = |url: String| TaskState {
                task_id: id.clone(),
                url,
                status,
                description: None,
                progress: None,
            };
            match known {
                // Each URL sent, as long as the answer lists its path.
                Some(pairs) => states.extend(
                    pairs
                        .into_iter()
                        .filter(|(path, _)| listed.contains(path.as_str()))
                        .map(|(_, url)| state(url)),
                ),
                // A task of another run (`--resume`, `status`): its paths as CloudFront
                // lists them, below the one site of the distribution when there is one.
                None => {
                    let site = self.distributions.only_host_of(distribution);
                    states.extend(listed.into_iter().map(|p| {
                        state(match site {
                            Some(host) => format!("{host}{}", p.trim_end_matches('*')),
                            None => p.to_string(),
                        })
                    }))
                }
            }
        }
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_spellings_of_completed() {
        assert_eq!(status_of("Completed"), TaskStatus::Complete);
        assert_eq!(status_of("COMPLETED"), TaskStatus::Complete);
        assert_eq!(status_of("InProgress"), TaskStatus::Running);
        assert_eq!(status_of("whatever"), TaskStatus::Pending);
    }

    #[test]
    fn options_are_checked_up_front() {
        let mut o = super::super::registry::ProviderOptions::default();
        // No id: found by alias at run time.
        assert!(check(&o, TaskMode::Refresh).is_ok());
        o.set(
            "distribution_id",
            super::super::registry::OptionValue::Text("E1-".into()),
        );
        assert!(check(&o, TaskMode::Refresh).is_err());
        o.set(
            "distribution_id",
            super::super::registry::OptionValue::Text("E1".into()),
        );
        assert!(check(&o, TaskMode::Refresh).is_ok());
        assert!(check(&o, TaskMode::Both).is_ok());
        assert_eq!(check(&o, TaskMode::Prefetch).unwrap_err().input, "--task");
    }
}
