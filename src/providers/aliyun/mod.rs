//! Alibaba Cloud CDN (API 2018-05-10): RefreshObjectCaches, PushObjectCache,
//! DescribeRefreshTaskById and DescribeRefreshQuota.

pub mod api;
pub mod sign;

use async_trait::async_trait;

use crate::plan::TaskMode;

use self::api::{Call, Credentials, SignatureVersion};
use super::registry::{
    Connect, CredentialEnv, Misfit, OptionKind, OptionSpec, ProviderOptions, Spec,
};
use super::{
    Batch, BatchKind, Limits, ObjectType, Operation, Provider, ProviderError, ProviderKind, Quota,
    QuotaEntry, QuotaKind, Submitted, TaskId, TaskState, TaskStatus,
};

/// The documented limits (protocols.md §0, §1; RefreshObjectCaches reference).
pub const LIMITS: Limits = Limits {
    refresh_urls_per_request: 1000,
    refresh_dirs_per_request: 100,
    refresh_regex_per_request: 1,
    prefetch_urls_per_request: 100,
    domains_per_request: 10,
    max_url_len: 1024,
    submit_per_second: 50,
    status_per_second: 30,
    quota_per_second: 20,
    status_ids_per_query: 10,
    refresh_urls_per_minute_per_domain: Some(1000),
    refresh_object_types: &[
        ObjectType::File,
        ObjectType::Directory,
        ObjectType::Regex,
        ObjectType::IgnoreParams,
    ],
    items_per_second: None,
    prefetch_unsupported: None,
    billed_per_path: None,
    in_progress: None,
};

/// What the rest of the program knows of Alibaba Cloud.
pub static SPEC: Spec = Spec {
    name: "aliyun",
    title: "Alibaba Cloud",
    about: "Alibaba Cloud CDN (API 2018-05-10).",
    limits: &LIMITS,
    default_endpoint: api::DEFAULT_ENDPOINT,
    credentials: CredentialEnv {
        id: "ALIBABA_CLOUD_ACCESS_KEY_ID",
        secret: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        token: Some("ALIBABA_CLOUD_SECURITY_TOKEN"),
        extra: &[],
    },
    options: &[
        OptionSpec {
            key: "area",
            short: Some('a'),
            value_name: "AREA",
            help: "Prefetch region: domestic, overseas, or global (the domain's own region).",
            kind: OptionKind::Choice {
                spellings: &[
                    ("domestic", "domestic"),
                    ("mainland", "domestic"),
                    ("overseas", "overseas"),
                    ("global", "global"),
                ],
                problem: "unknown area `{}`",
                fix: "use domestic, overseas or global",
            },
        },
        OptionSpec {
            key: "force",
            short: None,
            value_name: "BOOL",
            help: "Directory and regex refresh: purge everything in scope, not only what changed.",
            kind: OptionKind::Switch,
        },
        OptionSpec {
            key: "l2_preload",
            short: None,
            value_name: "BOOL",
            help: "Alibaba Cloud: prefetch to L2 points of presence too.",
            kind: OptionKind::Switch,
        },
        OptionSpec {
            key: "aliyun_signature",
            short: None,
            value_name: "VERSION",
            help: "Alibaba Cloud request signature: v3 (ACS3-HMAC-SHA256, default) or v1 (HMAC-SHA1).",
            kind: OptionKind::Choice {
                spellings: &[("v3", "v3"), ("v1", "v1")],
                problem: "unknown signature version `{}`",
                fix: "use v3 or v1",
            },
        },
    ],
    check,
    connect,
};

/// The area applies to prefetch only.
fn check(options: &ProviderOptions, task: TaskMode) -> Result<(), Misfit> {
    if options.is_set("area") && task == TaskMode::Refresh {
        return Err(Misfit {
            input: "--area".into(),
            problem: "the area applies to prefetch, but the task is refresh".into(),
            fix: "drop --area, or use --task prefetch (push) or both".into(),
        });
    }
    Ok(())
}

fn connect(c: Connect) -> Result<Box<dyn Provider>, reqwest::Error> {
    let o = &c.options;
    let options = Options {
        signature: match o.choice("aliyun_signature") {
            Some("v1") => SignatureVersion::V1,
            _ => SignatureVersion::V3,
        },
        force: o.switch("force"),
        area: match o.choice("area") {
            Some("domestic") => Some(Area::Domestic),
            Some("overseas") => Some(Area::Overseas),
            _ => None,
        },
        l2_preload: o.switch("l2_preload"),
    };
    let credentials = Credentials {
        access_key_id: c.credentials.id,
        access_key_secret: c.credentials.secret,
        security_token: c.credentials.token,
    };
    Ok(Box::new(Aliyun::new(c.endpoint, credentials, options)?))
}

/// Prefetch region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Domestic,
    Overseas,
}

/// Per-run options of the Alibaba requests.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub signature: SignatureVersion,
    /// Refresh everything under a directory or regex, not only what changed.
    pub force: bool,
    pub area: Option<Area>,
    pub l2_preload: bool,
}

pub struct Aliyun {
    http: reqwest::Client,
    endpoint: url::Url,
    credentials: Credentials,
    options: Options,
}

impl Aliyun {
    pub fn new(
        endpoint: url::Url,
        credentials: Credentials,
        options: Options,
    ) -> Result<Self, reqwest::Error> {
        let http = crate::http::client()?;
        Ok(Aliyun {
            http,
            endpoint,
            credentials,
            options,
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<T, ProviderError> {
        let request = api::build_request(
            &self.http,
            &self.endpoint,
            &self.credentials,
            self.options.signature,
            Call { action, params },
        );
        api::parse(action, api::send(request).await?)
    }
}

fn object_type_param(t: ObjectType) -> &'static str {
    match t {
        ObjectType::File => "File",
        ObjectType::Directory => "Directory",
        ObjectType::Regex => "Regex",
        ObjectType::IgnoreParams => "IgnoreParams",
    }
}

fn status_of(s: &str) -> TaskStatus {
    match s {
        "Complete" => TaskStatus::Complete,
        "Failed" => TaskStatus::Failed,
        "Refreshing" => TaskStatus::Running,
        _ => TaskStatus::Pending,
    }
}

fn count(s: &str) -> u64 {
    s.trim().parse().unwrap_or(0)
}

#[async_trait]
impl Provider for Aliyun {
    fn kind(&self) -> ProviderKind {
        ProviderKind::of(&SPEC)
    }

    fn limits(&self) -> &Limits {
        &LIMITS
    }

    async fn quota(&self) -> Result<Quota, ProviderError> {
        let q: api::QuotaResponse = self.call("DescribeRefreshQuota", vec![]).await?;
        let mut entries = vec![
            QuotaEntry {
                kind: QuotaKind::RefreshUrl,
                limit: count(&q.url_quota),
                remaining: count(&q.url_remain),
            },
            QuotaEntry {
                kind: QuotaKind::RefreshDirectory,
                limit: count(&q.dir_quota),
                remaining: count(&q.dir_remain),
            },
            QuotaEntry {
                kind: QuotaKind::Prefetch,
                limit: count(&q.preload_quota),
                remaining: count(&q.preload_remain),
            },
        ];
        if let (Some(limit), Some(remaining)) = (&q.regex_quota, &q.regex_remain) {
            entries.push(QuotaEntry {
                kind: QuotaKind::RefreshRegex,
                limit: count(limit),
                remaining: count(remaining),
            });
        }
        if let (Some(limit), Some(remaining)) = (&q.ignore_params_quota, &q.ignore_params_remain) {
            entries.push(QuotaEntry {
                kind: QuotaKind::RefreshIgnoreParams,
                limit: count(limit),
                remaining: count(remaining),
            });
        }
        Ok(Quota { entries })
    }

    async fn submit(&self, batch: &Batch) -> Result<Submitted, ProviderError> {
        let object_path = batch.urls.join("\n");
        let ids = match batch.kind.operation {
            Operation::Refresh => {
                let mut params = vec![
                    ("ObjectPath".to_string(), object_path),
                    (
                        "ObjectType".to_string(),
                        object_type_param(batch.kind.object_type).to_string(),
                    ),
                ];
                if self.options.force {
                    params.push(("Force".to_string(), "true".to_string()));
                }
                let r: api::RefreshResponse = self.call("RefreshObjectCaches", params).await?;
                r.refresh_task_id
            }
            Operation::Prefetch => {
                let mut params = vec![("ObjectPath".to_string(), object_path)];
                if let Some(area) = self.options.area {
                    let area = match area {
                        Area::Domestic => "domestic",
                        Area::Overseas => "overseas",
                    };
                    params.push(("Area".to_string(), area.to_string()));
                }
                if self.options.l2_preload {
                    params.push(("L2Preload".to_string(), "true".to_string()));
                }
                let r: api::PushResponse = self.call("PushObjectCache", params).await?;
                r.push_task_id
            }
        };
        Ok(Submitted {
            ids: api::split_task_ids(&ids).into_iter().map(TaskId).collect(),
            quota: None,
        })
    }

    async fn poll(&self, ids: &[TaskId]) -> Result<Vec<TaskState>, ProviderError> {
        let joined = ids
            .iter()
            .map(|i| i.0.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let r: api::TaskByIdResponse = self
            .call(
                "DescribeRefreshTaskById",
                vec![("TaskId".to_string(), joined)],
            )
            .await?;
        Ok(r.tasks
            .into_iter()
            .map(|t| TaskState {
                task_id: TaskId(t.task_id),
                url: t.object_path,
                status: status_of(&t.status),
                description: t.description.filter(|d| !d.is_empty()),
                progress: t.process.as_deref().and_then(percent),
            })
            .collect())
    }

    /// DescribeRefreshTasks by the exact path, its type and the time since the batch was
    /// first sent.
    async fn find_tasks(
        &self,
        kind: BatchKind,
        url: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Vec<TaskId>, ProviderError>> {
        let object_type = match (kind.operation, kind.object_type) {
            (Operation::Prefetch, _) => "preload",
            (Operation::Refresh, ObjectType::File) => "file",
            (Operation::Refresh, ObjectType::Directory) => "directory",
            (Operation::Refresh, ObjectType::Regex) => "regex",
            (Operation::Refresh, ObjectType::IgnoreParams) => "ignoreParams",
        };
        let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let end = chrono::Utc::now() + chrono::TimeDelta::minutes(5);
        let params = vec![
            ("ObjectPath".to_string(), url.to_string()),
            ("ObjectType".to_string(), object_type.to_string()),
            ("StartTime".to_string(), time(since)),
            ("EndTime".to_string(), time(end)),
            ("PageSize".to_string(), "100".to_string()),
        ];
        let answer: Result<api::TasksResponse, ProviderError> =
            self.call("DescribeRefreshTasks", params).await;
        Some(answer.map(|a| TaskId::distinct(a.tasks.cdn_task.into_iter().map(|t| t.task_id))))
    }
}

/// `"99.37%"` as 0.9937; anything else (a hostile or odd answer) says nothing.
fn percent(text: &str) -> Option<f32> {
    let value: f32 = text.trim().strip_suffix('%')?.trim().parse().ok()?;
    (0.0..=100.0).contains(&value).then_some(value / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_is_a_share_or_nothing() {
        assert_eq!(super::percent("99.37%"), Some(0.9937));
        assert_eq!(super::percent("100%"), Some(1.0));
        for odd in ["", "%", "45", "NaN%", "-3%", "250%", "1e9%"] {
            assert_eq!(super::percent(odd), None, "{odd}");
        }
    }
}
