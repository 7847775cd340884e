//! What a CDN provider is to the rest of the program.
//!
//! A provider knows its wire format, its signing and its [`Limits`]; it makes exactly one
//! attempt per call. Batching, rate limiting, retries and waiting are shared code in
//! `schedule`, `http` and `wait`, written once, so every provider behaves the same way.

pub mod registry;

/// Every provider, one line each: its folder, and its [`registry::Spec`] (`SPEC`) in
/// [`PROVIDERS`]. The first is the default when no provider is named.
macro_rules! register {
    ($($name:ident),+ $(,)?) => {
        $(pub mod $name;)+
        /// The providers, in the order `--help` lists them.
        pub static PROVIDERS: &[&registry::Spec] = &[$(&$name::SPEC),+];
    };
}

register! {
    aliyun,
    qiniu,
    huawei,
    cloudfront,
}

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::http::error::{ErrorClass, ProviderError};
pub use registry::ProviderKind;

/// Purge cached copies, or warm the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Refresh,
    Prefetch,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Refresh => "refresh",
            Operation::Prefetch => "prefetch",
        })
    }
}

/// How a refresh path is matched against cached objects. Prefetch is always `File`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectType {
    File,
    Directory,
    Regex,
    IgnoreParams,
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectType::File => "file",
            ObjectType::Directory => "directory",
            ObjectType::Regex => "regex",
            ObjectType::IgnoreParams => "ignore-params",
        })
    }
}

/// The kind of request a batch goes out as. Each kind has its own per-request limit and
/// draws on its own daily quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BatchKind {
    pub operation: Operation,
    pub object_type: ObjectType,
}

impl BatchKind {
    pub const PREFETCH: BatchKind = BatchKind {
        operation: Operation::Prefetch,
        object_type: ObjectType::File,
    };

    pub fn refresh(object_type: ObjectType) -> Self {
        BatchKind {
            operation: Operation::Refresh,
            object_type,
        }
    }

    /// The daily quota this kind of request draws on.
    pub fn quota_kind(self) -> QuotaKind {
        match (self.operation, self.object_type) {
            (Operation::Prefetch, _) => QuotaKind::Prefetch,
            (Operation::Refresh, ObjectType::File) => QuotaKind::RefreshUrl,
            (Operation::Refresh, ObjectType::Directory) => QuotaKind::RefreshDirectory,
            (Operation::Refresh, ObjectType::Regex) => QuotaKind::RefreshRegex,
            (Operation::Refresh, ObjectType::IgnoreParams) => QuotaKind::RefreshIgnoreParams,
        }
    }
}

impl fmt::Display for BatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            Operation::Prefetch => f.write_str("prefetch"),
            Operation::Refresh => write!(f, "refresh ({})", self.object_type),
        }
    }
}

/// A provider's documented limits, as data, so that batch plans are testable without HTTP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub refresh_urls_per_request: usize,
    pub refresh_dirs_per_request: usize,
    pub refresh_regex_per_request: usize,
    pub prefetch_urls_per_request: usize,
    /// Distinct host names allowed in one request.
    pub domains_per_request: usize,
    pub max_url_len: usize,
    /// Requests per second per API.
    pub submit_per_second: u32,
    pub status_per_second: u32,
    pub quota_per_second: u32,
    /// Task ids accepted by one status query.
    pub status_ids_per_query: usize,
    /// Refreshed URLs per host name per minute, where the provider caps it.
    pub refresh_urls_per_minute_per_domain: Option<u32>,
    /// Object types the provider can refresh.
    pub refresh_object_types: &'static [ObjectType],
    /// URLs and directories per second, refresh and prefetch together, where the provider
    /// counts items rather than requests (Qiniu: 240).
    pub items_per_second: Option<u32>,
    /// Why the provider cannot prefetch, when it has no prefetch API (CloudFront): a run's
    /// prefetch URLs are then reported `unsupported` with this reason, never sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefetch_unsupported: Option<&'static str>,
    /// How the provider bills paths, when it bills each path rather than counting them
    /// against a daily quota (CloudFront): `plan` shows the billable path count with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_per_path: Option<&'static str>,
    /// Paths that may be in progress at once per scope ([`Provider::in_progress_scope`]),
    /// where the provider caps that instead of a day (CloudFront: 3,000 and 15 wildcards
    /// per distribution): batches that do not fit wait for earlier tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<InProgressLimits>,
}

/// See [`Limits::in_progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct InProgressLimits {
    /// File paths (neither directories nor paths ending with `*`).
    pub paths: u64,
    /// Directories and paths ending with `*`.
    pub wildcards: u64,
}

impl Limits {
    /// How many paths one request of this kind may carry.
    pub fn per_request(&self, kind: BatchKind) -> usize {
        match (kind.operation, kind.object_type) {
            (Operation::Prefetch, _) => self.prefetch_urls_per_request,
            (Operation::Refresh, ObjectType::Directory) => self.refresh_dirs_per_request,
            (Operation::Refresh, ObjectType::Regex) => self.refresh_regex_per_request,
            (Operation::Refresh, _) => self.refresh_urls_per_request,
        }
    }

    /// The per-host per-minute cap that requests of this kind count against, if any.
    pub fn minute_cap(&self, kind: BatchKind) -> Option<u32> {
        match kind.quota_kind() {
            QuotaKind::RefreshUrl | QuotaKind::RefreshIgnoreParams => {
                self.refresh_urls_per_minute_per_domain
            }
            _ => None,
        }
    }
}

/// The daily quotas a run can draw on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuotaKind {
    RefreshUrl,
    RefreshDirectory,
    RefreshRegex,
    RefreshIgnoreParams,
    Prefetch,
}

impl fmt::Display for QuotaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaKind::RefreshUrl => "URL refresh",
            QuotaKind::RefreshDirectory => "directory refresh",
            QuotaKind::RefreshRegex => "regex refresh",
            QuotaKind::RefreshIgnoreParams => "ignore-params refresh",
            QuotaKind::Prefetch => "prefetch",
        })
    }
}

/// One daily quota as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaEntry {
    pub kind: QuotaKind,
    pub limit: u64,
    pub remaining: u64,
}

/// What is left of the day's quotas.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub entries: Vec<QuotaEntry>,
}

impl Quota {
    pub fn get(&self, kind: QuotaKind) -> Option<&QuotaEntry> {
        self.entries.iter().find(|e| e.kind == kind)
    }
}

/// Paths that go out together in one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub kind: BatchKind,
    pub urls: Vec<String>,
}

/// A provider's task id, opaque to the rest of the program.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub String);

impl TaskId {
    /// The ids, each once, in first-seen order.
    pub fn distinct(ids: impl IntoIterator<Item = String>) -> Vec<TaskId> {
        let mut out: Vec<TaskId> = Vec::new();
        for id in ids {
            if !out.iter().any(|known| known.0 == id) {
                out.push(TaskId(id));
            }
        }
        out
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a task (or one URL of it) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    Pending,
    Running,
    Complete,
    Failed,
}

impl TaskStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Complete | TaskStatus::Failed)
    }
}

/// The status of one path within one task, as a status query returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskState {
    pub task_id: TaskId,
    /// The path as the provider reports it.
    pub url: String,
    pub status: TaskStatus,
    /// The provider's description of a failure.
    pub description: Option<String>,
    /// How far the path is (0 to 1), where the provider says (Alibaba Cloud's `Process`):
    /// it times the next status check.
    pub progress: Option<f32>,
}

/// What the provider answered to one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Submitted {
    /// The tasks created for the batch.
    pub ids: Vec<TaskId>,
    /// What is left of today's quotas, where the answer says so (Qiniu's answers do;
    /// Alibaba Cloud has a call of its own).
    pub quota: Option<Quota>,
}

/// One CDN provider's API. Each call is a single attempt.
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;
    fn limits(&self) -> &Limits;
    /// What is left of today's quotas.
    async fn quota(&self) -> Result<Quota, ProviderError>;
    /// True when the provider has no quota call and reports its quotas in the answers to
    /// submits instead (Qiniu): a run learns them from its first batch.
    fn quota_in_answers(&self) -> bool {
        false
    }
    /// Sends one batch; returns the task ids the provider created for it.
    async fn submit(&self, batch: &Batch) -> Result<Submitted, ProviderError>;
    /// Status of every path in these tasks (at most `limits().status_ids_per_query` ids).
    async fn poll(&self, ids: &[TaskId]) -> Result<Vec<TaskState>, ProviderError>;
    /// The tasks of this kind, created since `since`, whose paths include `url`: how a
    /// submit whose answer was lost is recognised, so it is adopted instead of sent twice.
    /// `None` when the provider has no such look-up: then a lost answer is sent again.
    /// What `batch` counts against under [`Limits::in_progress`]: its host unless the
    /// provider says otherwise (CloudFront: the distribution).
    fn in_progress_scope(&self, batch: &Batch) -> String {
        batch
            .urls
            .first()
            .map(|u| crate::input::url_list::host(u).to_string())
            .unwrap_or_default()
    }
    /// The file paths and wildcard paths in progress now in each of `scopes` (read once, at
    /// the start of a run, where [`Limits::in_progress`] is set).
    async fn in_progress(
        &self,
        scopes: &[String],
    ) -> Result<Vec<(String, u64, u64)>, ProviderError> {
        let _ = scopes;
        Ok(Vec::new())
    }
    async fn find_tasks(
        &self,
        kind: BatchKind,
        url: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Option<Result<Vec<TaskId>, ProviderError>> {
        let _ = (kind, url, since);
        None
    }
}
