//! Qiniu Fusion CDN: `/v2/tune/refresh`, `/v2/tune/prefetch` and their `/list` calls.
//!
//! Qiniu has no quota call: every successful refresh or prefetch answer says what is left
//! of the day's quotas, and the run checks each next batch against that. A task id here is
//! the `requestId` of one batch; its status comes from the list call of its operation.

pub mod api;
pub mod sign;

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use self::api::Credentials;
use super::registry::{Connect, CredentialEnv, Spec};
use super::{
    Batch, BatchKind, Limits, ObjectType, Operation, Provider, ProviderError, ProviderKind, Quota,
    QuotaEntry, QuotaKind, Submitted, TaskId, TaskState, TaskStatus,
};

/// The documented limits (protocols.md §0, §3.2). Qiniu paces by items (URLs plus
/// directories, refresh and prefetch together), 240 a second; an older revision of the docs
/// also caps all requests at 80 a second. The list calls have no rate of their own in the
/// docs, so status queries take half of those 80 and leave the rest to submits (which the
/// item pace holds to about 4 a second).
pub const LIMITS: Limits = Limits {
    refresh_urls_per_request: 60,
    refresh_dirs_per_request: 10,
    refresh_regex_per_request: 1,
    prefetch_urls_per_request: 60,
    domains_per_request: 60,
    max_url_len: 4096,
    submit_per_second: 80,
    status_per_second: 40,
    quota_per_second: 1,
    status_ids_per_query: 1,
    refresh_urls_per_minute_per_domain: None,
    refresh_object_types: &[ObjectType::File, ObjectType::Directory],
    items_per_second: Some(240),
    prefetch_unsupported: None,
    billed_per_path: None,
    in_progress: None,
};

/// What the rest of the program knows of Qiniu.
pub static SPEC: Spec = Spec {
    name: "qiniu",
    title: "Qiniu",
    about: "Qiniu Fusion CDN.",
    limits: &LIMITS,
    default_endpoint: api::DEFAULT_ENDPOINT,
    credentials: CredentialEnv {
        id: "QINIU_ACCESS_KEY",
        secret: "QINIU_SECRET_KEY",
        token: None,
        extra: &[],
    },
    options: &[],
    check: |_, _| Ok(()),
    connect,
};

fn connect(c: Connect) -> Result<Box<dyn Provider>, reqwest::Error> {
    let credentials = Credentials {
        access_key: c.credentials.id,
        secret_key: c.credentials.secret,
    };
    Ok(Box::new(Qiniu::new(c.endpoint, credentials)?))
}

pub struct Qiniu {
    http: reqwest::Client,
    endpoint: url::Url,
    credentials: Credentials,
    /// The request ids of prefetch batches sent by this client, so their status comes
    /// from the prefetch list at once (ids from elsewhere try the refresh list first).
    prefetches: Mutex<HashSet<String>>,
}

impl Qiniu {
    pub fn new(endpoint: url::Url, credentials: Credentials) -> Result<Self, reqwest::Error> {
        let http = crate::http::client()?;
        Ok(Qiniu {
            http,
            endpoint,
            credentials,
            prefetches: Mutex::new(HashSet::new()),
        })
    }

    async fn call<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ProviderError> {
        let request = api::build_request(&self.http, &self.endpoint, &self.credentials, path, body);
        api::parse(path, api::send(request).await?)
    }

    /// Every item a list call finds, page by page (pages count from 0). A server that
    /// claims more items than a request can hold is not followed further: the pages stop at
    /// what `expected` items can need, plus one.
    async fn list_items(
        &self,
        path: &str,
        request_id: Option<&str>,
        urls: Option<&[String]>,
    ) -> Result<Vec<api::ListItem>, ProviderError> {
        // One request id holds at most one batch; a list by URLs may show each URL's
        // recent requests, a few per URL.
        let expected = match urls {
            Some(urls) => urls.len() * 10,
            None => LIMITS
                .refresh_urls_per_request
                .max(LIMITS.prefetch_urls_per_request),
        };
        let max_pages = expected.div_ceil(api::PAGE_SIZE as usize) as u32 + 1;
        let mut items = Vec::new();
        for page_no in 0..max_pages {
            let page: api::ListResponse = self
                .call(
                    path,
                    &api::ListRequest {
                        request_id,
                        urls,
                        page_no,
                        page_size: api::PAGE_SIZE,
                    },
                )
                .await?;
            let last = page.items.len() < api::PAGE_SIZE as usize;
            items.extend(page.items.into_iter().take(api::PAGE_SIZE as usize));
            if last || items.len() as u64 >= page.total {
                return Ok(items);
            }
        }
        tracing::warn!(
            "{path}: the answer claims more items than a request can hold; read {max_pages} pages and stopped"
        );
        Ok(items)
    }

    /// The states of one request id's paths.
    async fn list(&self, path: &str, id: &TaskId) -> Result<Vec<TaskState>, ProviderError> {
        let items = self.list_items(path, Some(&id.0), None).await?;
        Ok(items
            .into_iter()
            .map(|item| TaskState {
                task_id: id.clone(),
                status: status_of(&item.state),
                description: item
                    .state_detail
                    .filter(|d| !d.is_empty() && item.state == "failure"),
                url: item.url,
                progress: None,
            })
            .collect())
    }

    /// After 400037 ("url has existed"): the requests that already cover every path of the
    /// batch, typically our own earlier attempt, accepted but its answer lost. `None` if
    /// some path is not covered; an error when the list call failed (then whether the batch
    /// is covered is unknown, and the caller asks again).
    async fn covering_requests(&self, batch: &Batch) -> Result<Option<Vec<TaskId>>, ProviderError> {
        let path = match batch.kind.operation {
            Operation::Refresh => api::REFRESH_LIST,
            Operation::Prefetch => api::PREFETCH_LIST,
        };
        let items = self
            .list_items(path, None, Some(batch.urls.as_slice()))
            .await?;
        let mut ids: Vec<TaskId> = Vec::new();
        for url in &batch.urls {
            // Newest first: the first item of a path is its latest request.
            let Some(item) = items.iter().find(|i| &i.url == url && i.state != "failure") else {
                return Ok(None);
            };
            let id = TaskId(item.request_id.clone());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if batch.kind.operation == Operation::Prefetch {
            let mut known = self.prefetches.lock().expect("not poisoned");
            known.extend(ids.iter().map(|i| i.0.clone()));
        }
        Ok(Some(ids))
    }

    /// One refresh or prefetch request for the batch.
    async fn send(&self, batch: &Batch) -> Result<Submitted, ProviderError> {
        let none: &[String] = &[];
        match batch.kind.operation {
            Operation::Refresh => {
                let (urls, dirs) = match batch.kind.object_type {
                    ObjectType::Directory => (none, batch.urls.as_slice()),
                    _ => (batch.urls.as_slice(), none),
                };
                let r: api::RefreshResponse = self
                    .call(api::REFRESH, &api::RefreshRequest { urls, dirs })
                    .await?;
                let entries = [
                    entry(QuotaKind::RefreshUrl, r.url_quota_day, r.url_surplus_day),
                    entry(
                        QuotaKind::RefreshDirectory,
                        r.dir_quota_day,
                        r.dir_surplus_day,
                    ),
                ];
                Ok(Submitted {
                    ids: vec![TaskId(r.request_id)],
                    quota: Some(Quota {
                        entries: entries.into_iter().flatten().collect(),
                    }),
                })
            }
            Operation::Prefetch => {
                let r: api::PrefetchResponse = self
                    .call(
                        api::PREFETCH,
                        &api::PrefetchRequest {
                            urls: batch.urls.as_slice(),
                        },
                    )
                    .await?;
                self.prefetches
                    .lock()
                    .expect("not poisoned")
                    .insert(r.request_id.clone());
                Ok(Submitted {
                    ids: vec![TaskId(r.request_id)],
                    quota: Some(Quota {
                        entries: entry(QuotaKind::Prefetch, r.quota_day, r.surplus_day)
                            .into_iter()
                            .collect(),
                    }),
                })
            }
        }
    }
}

fn status_of(state: &str) -> TaskStatus {
    match state {
        "success" => TaskStatus::Complete,
        "failure" => TaskStatus::Failed,
        "processing" => TaskStatus::Running,
        _ => TaskStatus::Pending,
    }
}

fn entry(kind: QuotaKind, limit: Option<u64>, remaining: Option<u64>) -> Option<QuotaEntry> {
    Some(QuotaEntry {
        kind,
        limit: limit?,
        remaining: remaining?,
    })
}

#[async_trait]
impl Provider for Qiniu {
    fn kind(&self) -> ProviderKind {
        ProviderKind::of(&SPEC)
    }

    fn limits(&self) -> &Limits {
        &LIMITS
    }

    /// Qiniu has no quota call; see [`Provider::quota_in_answers`].
    async fn quota(&self) -> Result<Quota, ProviderError> {
        Ok(Quota::default())
    }

    fn quota_in_answers(&self) -> bool {
        true
    }

    async fn submit(&self, batch: &Batch) -> Result<Submitted, ProviderError> {
        match self.send(batch).await {
            Err(err) if err.code == "400037" => match self.covering_requests(batch).await? {
                Some(ids) => {
                    let joined: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
                    tracing::info!(
                        "{}: already in request {}, taken as this batch's task",
                        batch.kind,
                        joined.join(",")
                    );
                    Ok(Submitted { ids, quota: None })
                }
                None => Err(err),
            },
            other => other,
        }
    }

    /// The list call of the operation by the URL: the requests created since `since` that
    /// hold it. (A repeat while the first task still runs is answered 400037 anyway, but a
    /// finished one is accepted again.)
    async fn find_tasks(
        &self,
        kind: BatchKind,
        url: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Vec<TaskId>, ProviderError>> {
        let path = match kind.operation {
            Operation::Refresh => api::REFRESH_LIST,
            Operation::Prefetch => api::PREFETCH_LIST,
        };
        let urls = [url.to_string()];
        let found = self.list_items(path, None, Some(&urls)).await;
        Some(found.map(|items| {
            // An item without a time cannot be placed: not taken, since adopting an old task
            // would leave the URL stale, and a repeat only costs quota.
            let ids = TaskId::distinct(
                items
                    .into_iter()
                    .filter(|i| i.url == url && api::created_at(i).is_some_and(|at| at >= since))
                    .map(|i| i.request_id),
            );
            if kind.operation == Operation::Prefetch {
                let mut known = self.prefetches.lock().expect("not poisoned");
                known.extend(ids.iter().map(|i| i.0.clone()));
            }
            ids
        }))
    }

    async fn poll(&self, ids: &[TaskId]) -> Result<Vec<TaskState>, ProviderError> {
        let mut states = Vec::new();
        for id in ids {
            let prefetch = self
                .prefetches
                .lock()
                .expect("not poisoned")
                .contains(&id.0);
            if prefetch {
                states.extend(self.list(api::PREFETCH_LIST, id).await?);
                continue;
            }
            // An id from elsewhere (`cdn-refresh status`): a refresh, or else a prefetch.
            match self.list(api::REFRESH_LIST, id).await {
                Ok(found) if !found.is_empty() => states.extend(found),
                Ok(_) => states.extend(self.list(api::PREFETCH_LIST, id).await?),
                Err(e) if e.code == "400036" => {
                    states.extend(self.list(api::PREFETCH_LIST, id).await?)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(states)
    }
}
