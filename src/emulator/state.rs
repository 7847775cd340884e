//! Everything the emulator remembers: counters for the stats endpoint, the fault dice, rate
//! windows, used nonces, daily quotas and tasks (Alibaba Cloud's per-domain tasks here;
//! Qiniu's per-URL tasks, quotas and item window in [`QiniuState`]; Huawei's per-request
//! tasks and quotas in [`HuaweiState`]). It all sits behind one
//! mutex ([`super::server::App::lock`]) and is only touched synchronously, so a request is
//! checked and accepted atomically: nothing is ever half-accepted.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::args::{FaultKind, FaultRate, FaultSpec, SlowSpec};
use crate::providers::{ObjectType, Operation, QuotaKind};

/// What the emulator has seen, as `GET /_emulator/stats` returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every API request received, by action (faulted and rejected ones included). Requests
    /// without a recognisable action count under `""`.
    pub requests: BTreeMap<String, u64>,
    /// API requests answered with success, by action.
    pub succeeded: BTreeMap<String, u64>,
    /// Error responses of the emulated API, by error code (injected faults not included).
    pub errors: BTreeMap<String, u64>,
    /// Injected faults, by kind as `--fault` names them (`throttle`, `lose-answer`, …), and
    /// `slow` for the requests `--slow` held.
    pub faults: BTreeMap<String, u64>,
    /// Object paths accepted into tasks.
    pub accepted: Accepted,
    /// Today's use of each daily quota (Alibaba Cloud).
    pub quota_used: BTreeMap<QuotaKind, u64>,
    /// Today's use of each Qiniu daily quota (`refresh-url`, `refresh-directory`,
    /// `prefetch`), apart from Alibaba Cloud's: they are different accounts.
    #[serde(default)]
    pub qiniu_quota_used: BTreeMap<QuotaKind, u64>,
    /// Today's use of each Huawei daily quota (`refresh-url` is `file_refresh`,
    /// `refresh-directory` is `dir_refresh`, `prefetch` is `preheat`): a third account.
    #[serde(default)]
    pub huawei_quota_used: BTreeMap<QuotaKind, u64>,
    /// Tasks created (Alibaba Cloud: one per domain per request; Qiniu: one per URL;
    /// Huawei: one per request).
    pub tasks_created: u64,
}

/// Object path, exactly as the request carried it (trimmed), → times it was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub refresh: BTreeMap<String, u64>,
    pub prefetch: BTreeMap<String, u64>,
}

impl Stats {
    /// API requests of any action.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Object paths accepted for this operation, counting repeats.
    pub fn total_accepted(&self, operation: Operation) -> u64 {
        self.accepted.get(operation).values().sum()
    }
}

impl Accepted {
    pub fn get(&self, operation: Operation) -> &BTreeMap<String, u64> {
        match operation {
            Operation::Refresh => &self.refresh,
            Operation::Prefetch => &self.prefetch,
        }
    }

    fn get_mut(&mut self, operation: Operation) -> &mut BTreeMap<String, u64> {
        match operation {
            Operation::Refresh => &mut self.refresh,
            Operation::Prefetch => &mut self.prefetch,
        }
    }
}

/// All mutable state.
pub(crate) struct Inner {
    pub stats: Stats,
    pub faults: FaultDice,
    pub slow: SlowDice,
    pub rates: RateWindows,
    pub nonces: NonceCache,
    pub quota: DailyQuota,
    pub per_minute: MinuteWindows,
    pub tasks: Tasks,
    pub qiniu: QiniuState,
    pub huawei: HuaweiState,
}

impl Inner {
    pub fn new(faults: &[FaultSpec], slow: Option<SlowSpec>, seed: Option<u64>) -> Self {
        Inner {
            stats: Stats::default(),
            faults: FaultDice::new(faults.to_vec(), seed),
            slow: SlowDice::new(slow, seed),
            rates: RateWindows::default(),
            nonces: NonceCache::default(),
            quota: DailyQuota::default(),
            per_minute: MinuteWindows::default(),
            tasks: Tasks::default(),
            qiniu: QiniuState::default(),
            huawei: HuaweiState::default(),
        }
    }

    /// The stats with today's quota use filled in.
    pub fn snapshot(&mut self, now: DateTime<Utc>) -> Stats {
        let mut stats = self.stats.clone();
        stats.quota_used = self.quota.used_all(now);
        stats.qiniu_quota_used = self.qiniu.quota.used_all(now);
        stats.huawei_quota_used = self.huawei.quota.used_all(now);
        stats
    }

    pub fn count(map: &mut BTreeMap<String, u64>, key: &str) {
        *map.entry(key.to_string()).or_default() += 1;
    }

    /// Records that these paths went into a task.
    pub fn accept(&mut self, operation: Operation, raw_paths: &[&str]) {
        let map = self.stats.accepted.get_mut(operation);
        for path in raw_paths {
            *map.entry(path.to_string()).or_default() += 1;
        }
    }
}

/// Decides which API request gets which injected fault.
pub(crate) struct FaultDice {
    specs: Vec<FaultSpec>,
    /// API requests seen so far (all providers, all actions): `1/N` faults hit every Nth.
    seen: u64,
    rng: StdRng,
}

fn rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_rng(&mut rand::rng()),
    }
}

impl FaultRate {
    /// Whether the `seen`th request is hit. A probability draws every time, hit or not, so a
    /// seed gives the same sequence whatever else fires.
    fn fires(self, seen: u64, rng: &mut StdRng) -> bool {
        match self {
            FaultRate::EveryNth(n) => seen.is_multiple_of(n),
            FaultRate::Probability(p) => rng.random::<f64>() < p,
        }
    }
}

impl FaultDice {
    fn new(specs: Vec<FaultSpec>, seed: Option<u64>) -> Self {
        FaultDice {
            specs,
            seen: 0,
            rng: rng(seed),
        }
    }

    /// Rolls for the next API request; the first spec (in flag order) that fires wins.
    pub fn roll(&mut self) -> Option<FaultKind> {
        self.seen += 1;
        let mut hit = None;
        for spec in &self.specs {
            if spec.rate.fires(self.seen, &mut self.rng) && hit.is_none() {
                hit = Some(spec.kind);
            }
        }
        hit
    }
}

/// Decides which API requests `--slow` holds: its own count of API requests, so `1/2` is
/// every 2nd request whatever the faults do.
pub(crate) struct SlowDice {
    spec: Option<SlowSpec>,
    seen: u64,
    rng: StdRng,
}

impl SlowDice {
    fn new(spec: Option<SlowSpec>, seed: Option<u64>) -> Self {
        SlowDice {
            spec,
            seen: 0,
            // Not the faults' sequence: the two knobs stay independent under one seed.
            rng: rng(seed.map(|s| s ^ 0x5EED_5105)),
        }
    }

    /// How long to hold the next API request, if at all.
    pub fn roll(&mut self) -> Option<Duration> {
        let spec = self.spec?;
        self.seen += 1;
        spec.rate
            .fires(self.seen, &mut self.rng)
            .then_some(spec.delay)
    }
}

/// Sliding one-second windows of admitted calls, per key (access key and API).
#[derive(Default)]
pub(crate) struct RateWindows {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateWindows {
    /// Admits a call unless `per_second` calls were admitted in the last second (0: no limit).
    pub fn admit(&mut self, key: &str, per_second: u32, now: Instant) -> bool {
        if per_second == 0 {
            return true;
        }
        let window = self.windows.entry(key.to_string()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= per_second as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}

/// Nonces seen within the replay window, pruned oldest first.
#[derive(Default)]
pub(crate) struct NonceCache {
    seen: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl NonceCache {
    /// Remembers `key`; false when it was already seen within `window`.
    pub fn first_use(&mut self, key: String, now: Instant, window: Duration) -> bool {
        while let Some((t, _)) = self.order.front() {
            if now.duration_since(*t) < window {
                break;
            }
            let (_, old) = self.order.pop_front().expect("front exists");
            self.seen.remove(&old);
        }
        if !self.seen.insert(key.clone()) {
            return false;
        }
        self.order.push_back((now, key));
        true
    }
}

/// Daily quota use; the day turns at midnight Beijing time (UTC+8), as the console's does.
#[derive(Default)]
pub(crate) struct DailyQuota {
    day: Option<NaiveDate>,
    used: BTreeMap<QuotaKind, u64>,
}

impl DailyQuota {
    fn roll_over(&mut self, now: DateTime<Utc>) {
        let beijing = FixedOffset::east_opt(8 * 3600).expect("valid offset");
        let today = now.with_timezone(&beijing).date_naive();
        if self.day != Some(today) {
            self.day = Some(today);
            self.used.clear();
        }
    }

    pub fn used(&mut self, kind: QuotaKind, now: DateTime<Utc>) -> u64 {
        self.roll_over(now);
        self.used.get(&kind).copied().unwrap_or(0)
    }

    pub fn add(&mut self, kind: QuotaKind, n: u64, now: DateTime<Utc>) {
        self.roll_over(now);
        *self.used.entry(kind).or_default() += n;
    }

    fn used_all(&mut self, now: DateTime<Utc>) -> BTreeMap<QuotaKind, u64> {
        self.roll_over(now);
        self.used.clone()
    }
}

/// Sliding one-minute windows of refreshed paths, per domain.
#[derive(Default)]
pub(crate) struct MinuteWindows {
    windows: HashMap<String, VecDeque<(Instant, u64)>>,
}

impl MinuteWindows {
    /// Paths counted against `domain` in the last minute.
    pub fn used(&mut self, domain: &str, now: Instant) -> u64 {
        let Some(window) = self.windows.get_mut(domain) else {
            return 0;
        };
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= Duration::from_secs(60))
        {
            window.pop_front();
        }
        window.iter().map(|(_, n)| n).sum()
    }

    pub fn add(&mut self, domain: &str, n: u64, now: Instant) {
        self.windows
            .entry(domain.to_string())
            .or_default()
            .push_back((now, n));
    }
}

/// One path of a task. Tasks are per domain; every path has its own status.
pub(crate) struct TaskPath {
    /// The path as status queries report it.
    pub reported: String,
    /// Ends Failed (matched `--fail-matching`).
    pub fails: bool,
}

pub(crate) struct Task {
    pub id: u64,
    pub operation: Operation,
    pub object_type: ObjectType,
    pub domain: String,
    pub paths: Vec<TaskPath>,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where one path of a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Pending,
    /// Percent done, 0–99.
    Running(u8),
    Complete,
    Failed,
}

impl Task {
    /// Pending for the first tenth of `duration`, then running with a growing percentage,
    /// then Complete or Failed. Derived from the clock, so polling needs no background task.
    pub fn progress(&self, path: &TaskPath, now: Instant, duration: Duration) -> Progress {
        let elapsed = now.duration_since(self.started);
        if elapsed >= duration {
            return if path.fails {
                Progress::Failed
            } else {
                Progress::Complete
            };
        }
        let pending = duration / 10;
        if elapsed < pending {
            return Progress::Pending;
        }
        let fraction = (elapsed - pending).as_secs_f64() / (duration - pending).as_secs_f64();
        Progress::Running((fraction * 100.0).clamp(0.0, 99.0) as u8)
    }
}

/// Tasks of the last three days (all a status query can see), by id.
pub(crate) struct Tasks {
    next_id: u64,
    by_id: BTreeMap<u64, Task>,
}

impl Default for Tasks {
    fn default() -> Self {
        // Real ids are long decimal numbers; start high so clients never assume small ones.
        Tasks {
            next_id: 10_000_000_001,
            by_id: BTreeMap::new(),
        }
    }
}

/// How long tasks stay visible.
pub(crate) const TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(3);

impl Tasks {
    pub fn create(
        &mut self,
        operation: Operation,
        object_type: ObjectType,
        domain: &str,
        paths: Vec<TaskPath>,
        now: (DateTime<Utc>, Instant),
    ) -> u64 {
        // Ids grow with time, so the oldest tasks are first.
        while let Some(entry) = self.by_id.first_entry() {
            if now.0 - entry.get().created < TASK_RETENTION {
                break;
            }
            entry.remove();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(
            id,
            Task {
                id,
                operation,
                object_type,
                domain: domain.to_string(),
                paths,
                created: now.0,
                started: now.1,
            },
        );
        id
    }

    pub fn get(&self, id: u64) -> Option<&Task> {
        self.by_id.get(&id)
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Task> {
        self.by_id.values().rev()
    }
}

/// Qiniu's side of the one emulated account: what its key pairs share.
#[derive(Default)]
pub(crate) struct QiniuState {
    pub quota: DailyQuota,
    /// URLs plus directories accepted over the last second, refresh and prefetch together.
    pub items: SecondWindow,
    pub tasks: QiniuTasks,
}

/// Counts over a sliding second.
#[derive(Default)]
pub(crate) struct SecondWindow {
    window: VecDeque<(Instant, u64)>,
}

impl SecondWindow {
    /// What was added in the second before `now`.
    pub fn used(&mut self, now: Instant) -> u64 {
        while self
            .window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.window.pop_front();
        }
        self.window.iter().map(|(_, n)| n).sum()
    }

    pub fn add(&mut self, n: u64, now: Instant) {
        self.window.push_back((now, n));
    }
}

/// One URL (or directory) of a Qiniu refresh or prefetch request: Qiniu tracks each one as
/// a task of its own, grouped by the request id.
pub(crate) struct QiniuTask {
    pub request_id: String,
    pub task_id: String,
    pub operation: Operation,
    /// As the request carried it.
    pub url: String,
    pub is_dir: bool,
    /// Ends in `failure` (matched `--fail-matching`).
    pub fails: bool,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where a Qiniu task stands: `processing`, then `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QiniuProgress {
    Processing,
    Success,
    Failure,
}

impl QiniuTask {
    /// Derived from the clock, like [`Task::progress`]: processing for `duration`, then done.
    pub fn state(&self, now: Instant, duration: Duration) -> QiniuProgress {
        if now.duration_since(self.started) < duration {
            QiniuProgress::Processing
        } else if self.fails {
            QiniuProgress::Failure
        } else {
            QiniuProgress::Success
        }
    }
}

/// How long Qiniu tasks stay listed: the list calls look back seven days at most.
pub(crate) const QINIU_TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Qiniu tasks in creation order, with the request ids of each operation.
pub(crate) struct QiniuTasks {
    tasks: VecDeque<QiniuTask>,
    /// `(operation, is_dir, url)` → start of its latest task, for "url has existed".
    latest: HashMap<(Operation, bool, String), Instant>,
    /// Random per emulator, so that ids never repeat across restarts.
    process: u64,
    /// Ids handed out so far (request and task ids share one space).
    counter: u64,
}

impl Default for QiniuTasks {
    fn default() -> Self {
        QiniuTasks {
            tasks: VecDeque::new(),
            latest: HashMap::new(),
            process: rand::rng().random::<u64>() & 0xff_ffff_ffff,
            counter: 0,
        }
    }
}

impl QiniuTasks {
    /// A new id in the shape of the service's (`575d1930f9537d3f2600003d`: a MongoDB
    /// ObjectId, 24 hex digits: seconds since the epoch, 5 random bytes, a counter).
    pub fn new_id(&mut self, now: DateTime<Utc>) -> String {
        self.counter += 1;
        let seconds = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
        format!(
            "{seconds:08x}{:010x}{:06x}",
            self.process,
            self.counter & 0xff_ffff
        )
    }

    /// True while an earlier task of `operation` for this exact URL is still processing.
    pub fn in_progress(
        &self,
        operation: Operation,
        is_dir: bool,
        url: &str,
        now: Instant,
        duration: Duration,
    ) -> bool {
        self.latest
            .get(&(operation, is_dir, url.to_string()))
            .is_some_and(|started| now.duration_since(*started) < duration)
    }

    pub fn push(&mut self, task: QiniuTask) {
        while self
            .tasks
            .front()
            .is_some_and(|t| task.created - t.created >= QINIU_TASK_RETENTION)
        {
            self.tasks.pop_front();
        }
        self.latest.insert(
            (task.operation, task.is_dir, task.url.clone()),
            task.started,
        );
        self.tasks.push_back(task);
    }

    /// True when `request_id` is a request of `operation` still on record.
    pub fn has_request(&self, operation: Operation, request_id: &str) -> bool {
        self.tasks
            .iter()
            .any(|t| t.operation == operation && t.request_id == request_id)
    }

    /// Tasks of `operation`, newest request first, each request's tasks in submission order.
    pub fn newest_first(&self, operation: Operation) -> Vec<&QiniuTask> {
        let mut out: Vec<&QiniuTask> = Vec::new();
        let mut request: Vec<&QiniuTask> = Vec::new();
        for task in self.tasks.iter().rev().filter(|t| t.operation == operation) {
            if request
                .first()
                .is_some_and(|t| t.request_id != task.request_id)
            {
                out.extend(request.drain(..).rev());
            }
            request.push(task);
        }
        out.extend(request.drain(..).rev());
        out
    }
}

/// Huawei's side of the one emulated account: what its key pairs share.
#[derive(Default)]
pub(crate) struct HuaweiState {
    pub quota: DailyQuota,
    pub tasks: HuaweiTasks,
}

/// What a Huawei task does: `task_type` in the task lists (`refresh`/`preheating`), upper
/// case in the URL details (`REFRESH`/`PREHEATING`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HuaweiTaskType {
    Refresh,
    Preheating,
}

impl HuaweiTaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "refresh",
            HuaweiTaskType::Preheating => "preheating",
        }
    }

    /// A URL's status while it is being worked on (`refreshing`/`preheating`).
    pub fn as_str_running(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "refreshing",
            HuaweiTaskType::Preheating => "preheating",
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            HuaweiTaskType::Refresh => "REFRESH",
            HuaweiTaskType::Preheating => "PREHEATING",
        }
    }
}

/// One URL (or directory) of a Huawei task.
pub(crate) struct HuaweiUrl {
    /// Unique in the emulator: a string in the task detail (`UrlObject.id`), a number in
    /// ShowUrlTaskInfo (`Urls.id`, a Long).
    pub id: u64,
    /// As the task reports it (percent-encoded when the request asked `zh_url_encode`).
    pub url: String,
    /// Ends `failed` (matched `--fail-matching`).
    pub fails: bool,
}

/// One refresh or preheating request: Huawei tracks the request as a task, each URL in it
/// with a status of its own.
pub(crate) struct HuaweiTask {
    /// A string in the create and history calls, a number (`task_id`, a Long) in
    /// ShowUrlTaskInfo; see [`HuaweiTasks::new_task_id`].
    pub id: u64,
    pub task_type: HuaweiTaskType,
    /// `file` or `directory` (preheating tasks are always `file`).
    pub file_type: &'static str,
    /// A refresh's `mode` (`all` or `detect_modify_refresh`); `None` for a preheating.
    pub mode: Option<&'static str>,
    pub urls: Vec<HuaweiUrl>,
    pub created: DateTime<Utc>,
    pub started: Instant,
}

/// Where one URL of a Huawei task stands: `waiting` for the first tenth of the task's
/// duration, then `refreshing`/`preheating`, then `succeed` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HuaweiProgress {
    Waiting,
    Running,
    Succeed,
    Failed,
}

impl HuaweiTask {
    /// Derived from the clock, like [`Task::progress`], so polling needs no background task.
    pub fn progress(&self, url: &HuaweiUrl, now: Instant, duration: Duration) -> HuaweiProgress {
        let elapsed = now.duration_since(self.started);
        if elapsed >= duration {
            if url.fails {
                HuaweiProgress::Failed
            } else {
                HuaweiProgress::Succeed
            }
        } else if elapsed < duration / 10 {
            HuaweiProgress::Waiting
        } else {
            HuaweiProgress::Running
        }
    }
}

/// How long Huawei tasks are kept: the detail call looks 15 days back at most.
pub(crate) const HUAWEI_TASK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(15);

/// Huawei tasks in creation order.
pub(crate) struct HuaweiTasks {
    tasks: VecDeque<HuaweiTask>,
    /// Random per emulator (six digits), so that task ids never repeat across restarts.
    process: u64,
    /// Ids handed out so far (task and URL ids).
    counter: u64,
}

impl Default for HuaweiTasks {
    fn default() -> Self {
        HuaweiTasks {
            tasks: VecDeque::new(),
            process: rand::rng().random_range(100_000..1_000_000),
            counter: 0,
        }
    }
}

impl HuaweiTasks {
    /// A task id: decimal, 15 digits. The create calls answer it as a string (the docs'
    /// example `{"preheating_task": "7620240"}`), ShowUrlTaskInfo as a Long (`task_id` in
    /// the docs and in every SDK's `Urls` model), so it must be a number; below 2^53, so
    /// that any JSON parser keeps it exact.
    pub fn new_task_id(&mut self) -> u64 {
        self.counter += 1;
        self.process * 1_000_000_000 + self.counter
    }

    /// A URL id: decimal, as the `urls` objects of other Huawei calls carry them.
    pub fn new_url_id(&mut self) -> u64 {
        self.counter += 1;
        100_000_000 + self.counter
    }

    pub fn push(&mut self, task: HuaweiTask) {
        while self
            .tasks
            .front()
            .is_some_and(|t| task.created - t.created >= HUAWEI_TASK_RETENTION)
        {
            self.tasks.pop_front();
        }
        self.tasks.push_back(task);
    }

    /// The task whose id is written exactly `id`.
    pub fn get(&self, id: &str) -> Option<&HuaweiTask> {
        self.tasks.iter().find(|t| t.id.to_string() == id)
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &HuaweiTask> {
        self.tasks.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_fault_counts_all_requests() {
        let spec = |s: &str| s.parse::<FaultSpec>().unwrap();
        let mut dice = FaultDice::new(vec![spec("drop=1/3"), spec("error=1/2")], Some(1));
        let rolls: Vec<_> = (0..6).map(|_| dice.roll()).collect();
        use FaultKind::*;
        assert_eq!(
            rolls,
            vec![None, Some(Error), Some(Drop), Some(Error), None, Some(Drop)]
        );
    }

    #[test]
    fn slow_dice_count_on_their_own() {
        let spec = "1/2=800ms".parse::<SlowSpec>().unwrap();
        let mut dice = SlowDice::new(Some(spec), None);
        let rolls: Vec<_> = (0..4).map(|_| dice.roll()).collect();
        let held = Some(Duration::from_millis(800));
        assert_eq!(rolls, vec![None, held, None, held]);
        assert_eq!(SlowDice::new(None, None).roll(), None);
    }

    #[test]
    fn seeded_probability_is_reproducible() {
        let spec = vec!["garbage=0.5".parse::<FaultSpec>().unwrap()];
        let a: Vec<_> = {
            let mut d = FaultDice::new(spec.clone(), Some(7));
            (0..50).map(|_| d.roll()).collect()
        };
        let mut d = FaultDice::new(spec, Some(7));
        let b: Vec<_> = (0..50).map(|_| d.roll()).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
    }

    #[test]
    fn rate_window_slides() {
        let mut w = RateWindows::default();
        let t0 = Instant::now();
        assert!(w.admit("k", 2, t0));
        assert!(w.admit("k", 2, t0));
        assert!(!w.admit("k", 2, t0 + Duration::from_millis(500)));
        assert!(w.admit("other", 2, t0));
        assert!(w.admit("k", 2, t0 + Duration::from_secs(1)));
        assert!(w.admit("k", 0, t0));
    }

    #[test]
    fn nonces_are_forgotten_after_the_window() {
        let mut n = NonceCache::default();
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        assert!(n.first_use("a".into(), t0, window));
        assert!(!n.first_use("a".into(), t0 + Duration::from_secs(59), window));
        assert!(n.first_use("a".into(), t0 + Duration::from_secs(61), window));
    }

    #[test]
    fn task_progress_phases() {
        let t0 = Instant::now();
        let task = Task {
            id: 1,
            operation: Operation::Refresh,
            object_type: ObjectType::File,
            domain: "example.com".into(),
            paths: vec![],
            created: Utc::now(),
            started: t0,
        };
        let ok = TaskPath {
            reported: "x".into(),
            fails: false,
        };
        let bad = TaskPath {
            reported: "y".into(),
            fails: true,
        };
        let d = Duration::from_secs(10);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(task.progress(&ok, at(0), d), Progress::Pending);
        assert_eq!(task.progress(&ok, at(1), d), Progress::Running(0));
        assert!(matches!(
            task.progress(&ok, at(5), d),
            Progress::Running(44)
        ));
        assert_eq!(task.progress(&ok, at(10), d), Progress::Complete);
        assert_eq!(task.progress(&bad, at(10), d), Progress::Failed);
        assert_eq!(task.progress(&bad, t0, Duration::ZERO), Progress::Failed);
    }

    #[test]
    fn second_window_slides() {
        let mut w = SecondWindow::default();
        let t0 = Instant::now();
        w.add(200, t0);
        w.add(30, t0 + Duration::from_millis(500));
        assert_eq!(w.used(t0 + Duration::from_millis(999)), 230);
        assert_eq!(w.used(t0 + Duration::from_secs(1)), 30);
        assert_eq!(w.used(t0 + Duration::from_millis(1500)), 0);
    }

    #[test]
    fn qiniu_tasks_list_newest_request_first_and_know_what_is_in_progress() {
        let mut tasks = QiniuTasks::default();
        let now = Utc::now();
        let t0 = Instant::now();
        let a = tasks.new_id(now);
        let b = tasks.new_id(now);
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        for (request, url) in [(&a, "u1"), (&a, "u2"), (&b, "u3")] {
            let task_id = tasks.new_id(now);
            tasks.push(QiniuTask {
                request_id: request.clone(),
                task_id,
                operation: Operation::Refresh,
                url: url.into(),
                is_dir: false,
                fails: false,
                created: now,
                started: t0,
            });
        }
        let urls: Vec<&str> = tasks
            .newest_first(Operation::Refresh)
            .iter()
            .map(|t| t.url.as_str())
            .collect();
        assert_eq!(urls, vec!["u3", "u1", "u2"]);
        assert!(tasks.newest_first(Operation::Prefetch).is_empty());
        assert!(tasks.has_request(Operation::Refresh, &a));
        assert!(!tasks.has_request(Operation::Prefetch, &a));
        let d = Duration::from_secs(2);
        assert!(tasks.in_progress(Operation::Refresh, false, "u1", t0, d));
        assert!(!tasks.in_progress(Operation::Refresh, true, "u1", t0, d));
        assert!(!tasks.in_progress(Operation::Refresh, false, "u1", t0 + d, d));
    }

    #[test]
    fn huawei_tasks_have_distinct_ids_and_a_lifecycle() {
        let mut tasks = HuaweiTasks::default();
        let (a, b) = (tasks.new_task_id(), tasks.new_task_id());
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 15);
        assert!(a < 1 << 53);
        let t0 = Instant::now();
        let url = |fails| HuaweiUrl {
            id: 1,
            url: "http://example.com/a".into(),
            fails,
        };
        let task = HuaweiTask {
            id: a,
            task_type: HuaweiTaskType::Refresh,
            file_type: "file",
            mode: Some("all"),
            urls: vec![url(false), url(true)],
            created: Utc::now(),
            started: t0,
        };
        let d = Duration::from_secs(10);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            task.progress(&task.urls[0], at(0), d),
            HuaweiProgress::Waiting
        );
        assert_eq!(
            task.progress(&task.urls[0], at(5), d),
            HuaweiProgress::Running
        );
        assert_eq!(
            task.progress(&task.urls[0], at(10), d),
            HuaweiProgress::Succeed
        );
        assert_eq!(
            task.progress(&task.urls[1], at(10), d),
            HuaweiProgress::Failed
        );
        tasks.push(task);
        assert!(tasks.get(&a.to_string()).is_some());
        assert!(tasks.get(&format!("0{a}")).is_none());
        assert!(tasks.get(&b.to_string()).is_none());
        assert_eq!(tasks.newest_first().count(), 1);
    }
}
