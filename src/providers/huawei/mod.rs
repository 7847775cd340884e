//! Huawei Cloud CDN: refresh tasks (`/v1.0/cdn/content/refresh-tasks`), preheating tasks
//! (`/v1.0/cdn/content/preheating-tasks`), per-task URL detail (`/v1.0/cdn/historytasks/
//! {id}/detail`) and the day's quotas (`/v1.0/cdn/quota`), signed with SDK-HMAC-SHA256.
//!
//! A task id is the id of one refresh or preheating task; the detail call answers for one
//! task at a time and lists each URL with its own status. Huawei advises to preheat only
//! after the refresh took effect: `--task both` waits for the refresh tasks before it sends
//! the preheats (shared code in `run`).

pub mod api;
pub mod sign;

use async_trait::async_trait;

use self::api::{Call, Credentials, RefreshMode};
use super::registry::{Connect, CredentialEnv, OptionKind, OptionSpec, Spec};
use super::{
    Batch, BatchKind, Limits, ObjectType, Operation, Provider, ProviderError, ProviderKind, Quota,
    QuotaEntry, QuotaKind, Submitted, TaskId, TaskState, TaskStatus,
};

/// The documented limits (protocols.md §0, §4): 1,000 URLs or 100 directories per refresh,
/// 1,000 URLs per preheat, URLs of up to 4,096 characters, no cap on host names per
/// request. The API pages of CreateRefreshTasks and ShowHistoryTaskDetails give 30 calls a
/// second per account (the gateway answers 429 `APIGW.0308` beyond); preheating shares that
/// figure, and the quota call, read once a run, stays at 10.
pub const LIMITS: Limits = Limits {
    refresh_urls_per_request: 1000,
    refresh_dirs_per_request: 100,
    refresh_regex_per_request: 1,
    prefetch_urls_per_request: 1000,
    domains_per_request: 1000,
    max_url_len: 4096,
    submit_per_second: 30,
    status_per_second: 30,
    quota_per_second: 10,
    status_ids_per_query: 1,
    refresh_urls_per_minute_per_domain: None,
    refresh_object_types: &[ObjectType::File, ObjectType::Directory],
    items_per_second: None,
    prefetch_unsupported: None,
    billed_per_path: None,
    in_progress: None,
};

/// What the rest of the program knows of Huawei Cloud.
pub static SPEC: Spec = Spec {
    name: "huawei",
    title: "Huawei Cloud",
    about: "Huawei Cloud CDN.",
    limits: &LIMITS,
    default_endpoint: api::DEFAULT_ENDPOINT,
    credentials: CredentialEnv {
        id: "HUAWEICLOUD_SDK_AK",
        secret: "HUAWEICLOUD_SDK_SK",
        token: Some("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
        extra: &[("domain_id", "HUAWEICLOUD_SDK_DOMAIN_ID")],
    },
    options: &[
        OptionSpec {
            key: "refresh_mode",
            short: None,
            value_name: "MODE",
            help: "Huawei Cloud refresh mode: all (default) or detect-modified (only objects whose origin copy changed).",
            kind: OptionKind::Choice {
                spellings: &[
                    ("all", "all"),
                    ("detect-modified", "detect-modified"),
                    ("detect-modify-refresh", "detect-modified"),
                ],
                problem: "`{}` is not a refresh mode",
                fix: "use all or detect-modified",
            },
        },
        OptionSpec {
            key: "enterprise_project_id",
            short: None,
            value_name: "ID",
            help: "Huawei Cloud: the enterprise project the domains belong to (accounts that use enterprise projects).",
            kind: OptionKind::Text,
        },
    ],
    check: |_, _| Ok(()),
    connect,
};

fn connect(c: Connect) -> Result<Box<dyn Provider>, reqwest::Error> {
    let options = Options {
        refresh_mode: match c.options.choice("refresh_mode") {
            Some("detect-modified") => RefreshMode::DetectModified,
            _ => RefreshMode::All,
        },
        enterprise_project_id: c.options.text("enterprise_project_id").map(str::to_string),
    };
    let mut extra = c.credentials.extra;
    let credentials = Credentials {
        access_key: c.credentials.id,
        secret_key: c.credentials.secret,
        security_token: c.credentials.token,
        domain_id: extra.remove("domain_id"),
    };
    Ok(Box::new(Huawei::new(c.endpoint, credentials, options)?))
}

/// Request options only Huawei Cloud has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `all` refreshes every listed object; `detect_modify_refresh` only those whose origin
    /// copy changed.
    pub refresh_mode: RefreshMode,
    /// For accounts with enterprise projects: the project the domains belong to.
    pub enterprise_project_id: Option<String>,
}

pub struct Huawei {
    http: reqwest::Client,
    endpoint: url::Url,
    credentials: Credentials,
    options: Options,
}

impl Huawei {
    pub fn new(
        endpoint: url::Url,
        credentials: Credentials,
        options: Options,
    ) -> Result<Self, reqwest::Error> {
        let http = crate::http::client()?;
        Ok(Huawei {
            http,
            endpoint,
            credentials,
            options,
        })
    }

    /// The query every call carries: the enterprise project, when there is one.
    fn base_query(&self) -> Vec<(String, String)> {
        self.options
            .enterprise_project_id
            .iter()
            .map(|id| ("enterprise_project_id".to_string(), id.clone()))
            .collect()
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        call: Call<'_>,
    ) -> Result<T, ProviderError> {
        let request = api::build_request(
            &self.http,
            &self.endpoint,
            &self.credentials,
            chrono::Utc::now(),
            call,
        );
        api::parse(what, api::send(request).await?)
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<T, ProviderError> {
        let query = self.base_query();
        let body = serde_json::to_vec(body).expect("plain data");
        self.call(
            what,
            Call {
                method: reqwest::Method::POST,
                path,
                query: &query,
                body: Some(body),
            },
        )
        .await
    }

    /// Every URL of one task, page by page (pages count from 1).
    async fn detail(&self, id: &TaskId) -> Result<Vec<TaskState>, ProviderError> {
        let path = api::detail_path(&id.0);
        let mut states = Vec::new();
        // A task holds one request's URLs at most: a server that claims more pages is not
        // followed further.
        let largest = LIMITS
            .refresh_urls_per_request
            .max(LIMITS.prefetch_urls_per_request);
        let max_pages = largest.div_ceil(api::DETAIL_PAGE_SIZE as usize) as u32 + 1;
        for page in 1..=max_pages {
            let mut query = self.base_query();
            query.push(("page_size".into(), api::DETAIL_PAGE_SIZE.to_string()));
            query.push(("page_number".into(), page.to_string()));
            let answer: api::DetailResponse = self
                .call(
                    "task detail",
                    Call {
                        method: reqwest::Method::GET,
                        path: &path,
                        query: &query,
                        body: None,
                    },
                )
                .await?;
            let last = answer.urls.len() < api::DETAIL_PAGE_SIZE as usize;
            let page_urls = answer.urls.into_iter().take(api::DETAIL_PAGE_SIZE as usize);
            states.extend(page_urls.map(|u| {
                let status = status_of(&u.status);
                let description = (status == TaskStatus::Failed)
                    .then(|| {
                        [u.fail_classify, u.fail_desc]
                            .into_iter()
                            .flatten()
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join(": ")
                    })
                    .filter(|d| !d.is_empty());
                TaskState {
                    task_id: id.clone(),
                    url: u.url,
                    status,
                    description,
                    progress: None,
                }
            }));
            if last || states.len() as u64 >= answer.total {
                return Ok(states);
            }
        }
        tracing::warn!(
            "task {id}: the answer claims more URLs than a task can hold; read {max_pages} pages and stopped"
        );
        Ok(states)
    }
}

/// A URL's status in a task detail.
fn status_of(status: &str) -> TaskStatus {
    match status {
        "succeed" | "success" => TaskStatus::Complete,
        "failed" | "failure" => TaskStatus::Failed,
        "processing" | "refreshing" | "preheating" => TaskStatus::Running,
        _ => TaskStatus::Pending,
    }
}

/// The quota types a run draws on; the answer lists others (domains, …) too.
fn quota_kind(kind: &str) -> Option<QuotaKind> {
    match kind {
        "file_refresh" => Some(QuotaKind::RefreshUrl),
        "dir_refresh" => Some(QuotaKind::RefreshDirectory),
        "preheat" => Some(QuotaKind::Prefetch),
        _ => None,
    }
}

#[async_trait]
impl Provider for Huawei {
    fn kind(&self) -> ProviderKind {
        ProviderKind::of(&SPEC)
    }

    fn limits(&self) -> &Limits {
        &LIMITS
    }

    async fn quota(&self) -> Result<Quota, ProviderError> {
        let query = self.base_query();
        let answer: api::QuotaResponse = self
            .call(
                "quota",
                Call {
                    method: reqwest::Method::GET,
                    path: api::QUOTA,
                    query: &query,
                    body: None,
                },
            )
            .await?;
        Ok(Quota {
            entries: answer
                .quotas
                .iter()
                .filter_map(|q| {
                    Some(QuotaEntry {
                        kind: quota_kind(&q.kind)?,
                        limit: q.quota_limit,
                        remaining: q.quota_limit.saturating_sub(q.used),
                    })
                })
                .collect(),
        })
    }

    async fn submit(&self, batch: &Batch) -> Result<Submitted, ProviderError> {
        let id = match (batch.kind.operation, batch.kind.object_type) {
            (Operation::Prefetch, _) => {
                let answer: api::PreheatResponse = self
                    .post(
                        "preheat",
                        api::PREHEAT,
                        &api::PreheatRequest {
                            preheating_task: api::PreheatTask {
                                zh_url_encode: false,
                                urls: &batch.urls,
                            },
                        },
                    )
                    .await?;
                answer.preheating_task
            }
            (Operation::Refresh, object_type @ (ObjectType::File | ObjectType::Directory)) => {
                let answer: api::RefreshResponse = self
                    .post(
                        "refresh",
                        api::REFRESH,
                        &api::RefreshRequest {
                            refresh_task: api::RefreshTask {
                                kind: if object_type == ObjectType::Directory {
                                    "directory"
                                } else {
                                    "file"
                                },
                                mode: self.options.refresh_mode,
                                zh_url_encode: false,
                                urls: &batch.urls,
                            },
                        },
                    )
                    .await?;
                answer.refresh_task
            }
            (Operation::Refresh, other) => {
                // Settings refuse these before anything is sent; this is the last guard.
                return Err(ProviderError::new(
                    super::ErrorClass::InvalidRequest,
                    "UnsupportedObjectType",
                    format!("Huawei Cloud CDN cannot refresh by {other}"),
                ));
            }
        };
        Ok(Submitted {
            ids: vec![TaskId(id)],
            quota: None,
        })
    }

    async fn poll(&self, ids: &[TaskId]) -> Result<Vec<TaskState>, ProviderError> {
        let mut states = Vec::new();
        for id in ids {
            states.extend(self.detail(id).await?);
        }
        Ok(states)
    }

    /// ShowUrlTaskInfo by the URL and the time since the batch was first sent.
    async fn find_tasks(
        &self,
        kind: BatchKind,
        url: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Vec<TaskId>, ProviderError>> {
        let mut query = self.base_query();
        let end = chrono::Utc::now() + chrono::TimeDelta::minutes(5);
        // The service takes at most a day between start and end.
        let start = since.max(end - chrono::TimeDelta::hours(24));
        query.push(("start_time".into(), start.timestamp_millis().to_string()));
        query.push(("end_time".into(), end.timestamp_millis().to_string()));
        query.push(("url".into(), url.to_string()));
        let (task_type, file_type) = match kind.operation {
            Operation::Prefetch => ("PREHEATING", "file"),
            Operation::Refresh if kind.object_type == ObjectType::Directory => {
                ("REFRESH", "directory")
            }
            Operation::Refresh => ("REFRESH", "file"),
        };
        query.push(("task_type".into(), task_type.into()));
        query.push(("file_type".into(), file_type.into()));
        query.push(("offset".into(), "0".into()));
        query.push(("limit".into(), api::URL_TASKS_LIMIT.to_string()));
        let answer: Result<api::UrlTasksResponse, ProviderError> = self
            .call(
                "url task look-up",
                Call {
                    method: reqwest::Method::GET,
                    path: api::URL_TASKS,
                    query: &query,
                    body: None,
                },
            )
            .await;
        Some(answer.map(|a| {
            TaskId::distinct(
                a.result
                    .into_iter()
                    .filter(|t| t.url == url)
                    .map(|t| t.task_id),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_url_status() {
        assert_eq!(status_of("succeed"), TaskStatus::Complete);
        assert_eq!(status_of("failed"), TaskStatus::Failed);
        for running in ["processing", "refreshing", "preheating"] {
            assert_eq!(status_of(running), TaskStatus::Running);
        }
        assert_eq!(status_of("waiting"), TaskStatus::Pending);
        assert_eq!(quota_kind("dir_refresh"), Some(QuotaKind::RefreshDirectory));
        assert_eq!(quota_kind("domain"), None);
    }
}
