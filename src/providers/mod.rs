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
}

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskState {
    pub task_id: TaskId,
    /// The path as the provider reports it.
    pub url: String,
    pub status: TaskStatus,
    /// The provider's description of a failure.
    pub description: Option<String>,
}

/// What the caller should make of a failed call. The retry decision itself lives in
/// [`crate::http::retry`]; providers only say which class an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Rate limited or a provider-side queue is full: try again later.
    Throttled,
    /// 5xx or a service that says it is busy.
    Unavailable,
    /// Timeout, refused or dropped connection.
    Transport,
    /// The response could not be understood (garbage body).
    BadResponse,
    /// Credentials are wrong: signature, key id, token, clock.
    Credentials,
    /// The credentials are fine but not allowed to do this.
    Permission,
    /// The day's quota is used up.
    Quota,
    /// A host name is not a domain of this account (or is offline).
    Domain,
    /// The request itself is invalid; only this batch's paths are affected.
    InvalidRequest,
    /// The endpoint cannot be an API that works: it redirected, or sent an answer too large
    /// to read. No retry can fix it, and the run stops.
    Endpoint,
    /// The run's time is up (`--timeout`) or it was interrupted: the call was not made, or
    /// was cut off while in flight (code [`ProviderError::CUT`]).
    Deadline,
}

/// An error from one provider call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    /// The provider's error code, or a short name of the transport problem.
    pub code: String,
    pub message: String,
    /// How to fix it, where the cause is known.
    pub hint: Option<String>,
    pub request_id: Option<String>,
    /// Wait the provider asked for before trying again.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            class,
            code: crate::echo::cap(&code.into(), crate::echo::VALUE).into_owned(),
            message: crate::echo::cap(&message.into(), crate::echo::SERVER).into_owned(),
            hint: None,
            request_id: None,
            retry_after: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Code of a call cut off in flight at the run's deadline or by an interrupt.
    pub const CUT: &'static str = "Cut";
    /// Code of a call not made because the deadline had passed or the run was interrupted.
    pub const NOT_STARTED: &'static str = "NotStarted";
    /// Code of a transport failure before any byte of the request left (connection refused,
    /// no route, TLS handshake): the provider cannot have seen it.
    pub const CONNECT: &'static str = "connect";

    /// Error for a request that never got a whole HTTP answer.
    pub fn transport(err: &reqwest::Error) -> Self {
        if err.is_builder() {
            // The request could not even be made: a header value with a line break or
            // another control character, which only a credential can bring in.
            return ProviderError::new(
                ErrorClass::Credentials,
                "UnusableCredential",
                "the request could not be built: a credential holds a character an HTTP header cannot carry",
            )
            .with_hint("check the key id and the security token for line breaks or stray characters (copy them again from the console)");
        }
        let what = if err.is_connect() {
            Self::CONNECT
        } else if err.is_timeout() {
            "timeout"
        } else {
            "connection"
        };
        // reqwest's Display never includes headers or bodies, so no secret can leak here.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ProviderError::new(ErrorClass::Transport, what, message)
    }

    /// True when the request may have reached the provider and taken effect although no
    /// usable answer came back: a submit that failed so must be looked up, never simply
    /// sent again.
    pub fn outcome_unknown(&self) -> bool {
        match self.class {
            ErrorClass::BadResponse => true,
            ErrorClass::Transport => self.code != Self::CONNECT,
            ErrorClass::Deadline => self.code == Self::CUT,
            ErrorClass::Endpoint => self.code == "AnswerTooLarge",
            _ => false,
        }
    }
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
