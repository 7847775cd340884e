//! The emulator's knobs, as flags. Every flag has a default so that `cdn-refresh emulator`
//! alone behaves like a fresh account with the provider's documented limits.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;

/// Knobs of the built-in emulator: credentials, domains, limits, quotas and faults.
#[derive(clap::Args, Clone, Debug)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Alibaba Cloud credential to accept, `ID:SECRET` or `ID:SECRET:STS_TOKEN` (repeatable).
    /// With a token, requests with that key id must carry exactly that token.
    #[arg(
        long = "aliyun-key",
        value_name = "ID:SECRET[:STS_TOKEN]",
        default_value = "testid:testsecret"
    )]
    pub aliyun_keys: Vec<AliyunKey>,

    /// Qiniu key pair to accept, `AK:SK` (repeatable). Every pair belongs to the one emulated
    /// account: they share its quotas, its rate limit and its tasks.
    #[arg(
        long = "qiniu-key",
        value_name = "AK:SK",
        default_value = "testak:testsk"
    )]
    pub qiniu_keys: Vec<QiniuKey>,

    /// Huawei Cloud key pair to accept, `AK:SK` or `AK:SK:SECURITY_TOKEN` for a temporary
    /// one (repeatable). With a token, requests with that AK must carry exactly that
    /// `X-Security-Token`. Every pair belongs to the one emulated account.
    #[arg(
        long = "huawei-key",
        value_name = "AK:SK[:SECURITY_TOKEN]",
        default_value = "HWTESTAK:HWTESTSK"
    )]
    pub huawei_keys: Vec<HuaweiKey>,

    /// Accelerated domains of the emulated account (comma-separated).
    #[arg(
        long,
        value_name = "DOMAINS",
        value_delimiter = ',',
        default_value = "example.com,www.example.com,static.example.com"
    )]
    pub domains: Vec<String>,

    /// Delay added to every API request (e.g. `20ms`).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: Duration,

    /// Time a task takes: Pending for the first tenth, then Refreshing with a growing
    /// `Process`, then Complete (or Failed).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub task_duration: Duration,

    /// Tasks for object paths containing TEXT end Failed ("Origin Return StatusCode 5XX")
    /// (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub fail_matching: Vec<String>,

    /// Daily quota of URL (File) refreshes.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub url_quota: u64,
    /// Daily quota of directory refreshes.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub dir_quota: u64,
    /// Daily quota of prefetched (preloaded) URLs.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub preload_quota: u64,
    /// Daily quota of regex refreshes.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub regex_quota: u64,
    /// Daily quota of ignore-params (ExQuery) refreshes.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub ignore_params_quota: u64,

    /// RefreshObjectCaches calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub refresh_qps: u32,
    /// PushObjectCache calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub push_qps: u32,
    /// DescribeRefreshTaskById calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub describe_by_id_qps: u32,
    /// DescribeRefreshQuota calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub quota_qps: u32,
    /// DescribeRefreshTasks calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub describe_tasks_qps: u32,
    /// Refreshed paths per domain per minute, over a sliding minute (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub urls_per_minute_per_domain: u32,

    /// Qiniu: daily quota of refreshed URLs (`urlQuotaDay`).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub qiniu_url_quota: u64,
    /// Qiniu: daily quota of refreshed directories (`dirQuotaDay`).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub qiniu_dir_quota: u64,
    /// Qiniu: daily quota of prefetched URLs (`quotaDay`).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub qiniu_prefetch_quota: u64,
    /// Qiniu: URLs plus directories per second, refresh and prefetch together, over a sliding
    /// second (403024 beyond; 0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 240)]
    pub qiniu_items_per_second: u32,
    /// Qiniu: directory refresh is not enabled on the account (400038), as on accounts that
    /// never asked for it.
    #[arg(long)]
    pub qiniu_dir_refresh_disabled: bool,

    /// Huawei: daily quota of refreshed URLs (`file_refresh`), counted per URL.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    pub huawei_file_refresh_quota: u64,
    /// Huawei: daily quota of refreshed directories (`dir_refresh`).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub huawei_dir_refresh_quota: u64,
    /// Huawei: daily quota of preheated URLs (`preheat`).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub huawei_preheat_quota: u64,
    /// Huawei: calls per second of each API for the account (429 APIGW.0308 beyond; 0:
    /// unlimited). The docs give 30/s for CreateRefreshTasks and ShowHistoryTaskDetails.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub huawei_requests_per_second: u32,

    /// Deny this API action as a RAM policy would (403 Forbidden.RAM naming `cdn:ACTION`)
    /// (repeatable).
    #[arg(long = "deny-action", value_name = "ACTION")]
    pub deny_actions: Vec<String>,

    /// Inject a fault: RATE is a probability like `0.25` or `1/N` for every Nth API request
    /// of any provider (repeatable; the first KIND that fires wins). Before authentication,
    /// consuming nothing: throttle (Alibaba Cloud 429, Qiniu 403 code 403024, Huawei 429
    /// APIGW.0308), error (500), drop (connection closed without a response), garbage (200
    /// with a non-JSON body), trickle (200, then a body of a few bytes every 200 ms that
    /// never ends), huge (200 with a `--huge-body-bytes` body and its Content-Length),
    /// huge-chunked (the same, chunked, without Content-Length), redirect (307 to
    /// `--redirect-port`, which a client must not follow). Served by the provider:
    /// lose-answer (the request is served in full, accepted, counted, then the connection is
    /// closed without the answer) and endless-pages (the paged listing calls answer full pages
    /// of fabricated in-progress entries with a total of 10^15; other calls are served
    /// normally).
    #[arg(long = "fault", value_name = "KIND=RATE")]
    pub faults: Vec<FaultSpec>,

    /// Seed for probabilistic faults and `--slow`, for reproducible runs.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,

    /// Body size of the `huge` and `huge-chunked` faults, in bytes (streamed, never held in
    /// memory).
    #[arg(long, value_name = "N", default_value_t = 64 << 20)]
    pub huge_body_bytes: u64,

    /// Port the `redirect` fault's `Location` points to, on 127.0.0.1 (default: the
    /// emulator's own port + 1).
    #[arg(long, value_name = "PORT")]
    pub redirect_port: Option<u16>,

    /// Hold some API requests for DURATION before anything counts them (rate windows,
    /// quotas, tasks): RATE as for `--fault`, e.g. `1/2=800ms` delays every 2nd request, so
    /// it reaches the provider's rate counters late. Adds to `--latency`.
    #[arg(long, value_name = "RATE=DURATION")]
    pub slow: Option<SlowSpec>,

    /// Largest accepted difference between a request's timestamp (Alibaba Cloud `Timestamp`,
    /// Qiniu `X-Qiniu-Date`, Huawei `X-Sdk-Date`) and the emulator's clock.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    pub max_timestamp_skew: Duration,
}

impl EmulatorArgs {
    /// The settings `cdn-refresh emulator FLAGS` runs with (tests start emulators this way).
    pub fn from_flags(flags: &[&str]) -> Result<EmulatorArgs, clap::Error> {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EmulatorArgs,
        }
        let argv = std::iter::once("emulator").chain(flags.iter().copied());
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }
}

impl Default for EmulatorArgs {
    /// Exactly the flag defaults (parsed from an empty command line).
    fn default() -> Self {
        EmulatorArgs::from_flags(&[]).expect("the flag defaults parse")
    }
}

/// One Alibaba Cloud credential the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AliyunKey {
    pub id: String,
    pub secret: String,
    /// STS token that requests with this key id must carry.
    pub security_token: Option<String>,
}

impl FromStr for AliyunKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // The token may itself contain ':', so split at most twice.
        let mut parts = s.splitn(3, ':');
        let id = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        if id.is_empty() || secret.is_empty() {
            return Err("expected ID:SECRET or ID:SECRET:STS_TOKEN".into());
        }
        let security_token = parts.next().filter(|t| !t.is_empty()).map(str::to_string);
        Ok(AliyunKey {
            id: id.to_string(),
            secret: secret.to_string(),
            security_token,
        })
    }
}

/// Never prints the secret or the token.
impl fmt::Debug for AliyunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One Qiniu key pair the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct QiniuKey {
    pub access_key: String,
    pub secret_key: String,
}

impl FromStr for QiniuKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((ak, sk)) if !ak.is_empty() && !sk.is_empty() && !sk.contains(':') => {
                Ok(QiniuKey {
                    access_key: ak.to_string(),
                    secret_key: sk.to_string(),
                })
            }
            _ => Err("expected AK:SK".into()),
        }
    }
}

/// Never prints the secret key.
impl fmt::Debug for QiniuKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QiniuKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// One Huawei Cloud key pair the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct HuaweiKey {
    pub access_key: String,
    pub secret_key: String,
    /// `X-Security-Token` that requests with this AK must carry (temporary credentials).
    pub security_token: Option<String>,
}

impl FromStr for HuaweiKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // Temporary tokens are long base64-like strings that may hold ':', so split twice.
        let mut parts = s.splitn(3, ':');
        let access_key = parts.next().unwrap_or_default();
        let secret_key = parts.next().unwrap_or_default();
        if access_key.is_empty() || secret_key.is_empty() {
            return Err("expected AK:SK or AK:SK:SECURITY_TOKEN".into());
        }
        let security_token = parts.next().filter(|t| !t.is_empty()).map(str::to_string);
        Ok(HuaweiKey {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            security_token,
        })
    }
}

/// Never prints the secret key or the token.
impl fmt::Debug for HuaweiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A fault to inject into API responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Throttled, in the provider's format: Alibaba Cloud HTTP 429 `TooManyRequests` with
    /// `x-acs-retry-after`; Qiniu HTTP 403 code 403024; Huawei HTTP 429 `APIGW.0308`.
    Throttle,
    /// An internal error: Alibaba Cloud HTTP 500 `InternalError`; Qiniu HTTP 500 code 500000;
    /// Huawei HTTP 500 `CDN.0000`.
    Error,
    /// The connection is closed without any response.
    Drop,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// The request is served in full (accepted, task created, quota used), then the
    /// connection is closed without the answer: "the provider accepted it, the answer was
    /// lost".
    LoseAnswer,
    /// HTTP 200 with its headers at once, then a body that never ends.
    Trickle,
    /// HTTP 200 with a `--huge-body-bytes` body and a matching Content-Length.
    Huge,
    /// [`FaultKind::Huge`] without Content-Length (chunked).
    HugeChunked,
    /// HTTP 307 to another port; nothing is processed.
    Redirect,
    /// The paged listing calls answer every page full, with a total of 10^15.
    EndlessPages,
}

impl FaultKind {
    /// Every kind, as `--fault` spells them.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Throttle,
        FaultKind::Error,
        FaultKind::Drop,
        FaultKind::Garbage,
        FaultKind::LoseAnswer,
        FaultKind::Trickle,
        FaultKind::Huge,
        FaultKind::HugeChunked,
        FaultKind::Redirect,
        FaultKind::EndlessPages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::Error => "error",
            FaultKind::Drop => "drop",
            FaultKind::Garbage => "garbage",
            FaultKind::LoseAnswer => "lose-answer",
            FaultKind::Trickle => "trickle",
            FaultKind::Huge => "huge",
            FaultKind::HugeChunked => "huge-chunked",
            FaultKind::Redirect => "redirect",
            FaultKind::EndlessPages => "endless-pages",
        }
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown fault kind {s:?}: expected {}", names.join(", "))
            })
    }
}

/// How often a fault fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultRate {
    /// Each API request independently, with this probability.
    Probability(f64),
    /// Every Nth API request (counted over all API requests).
    EveryNth(u64),
}

impl FromStr for FaultRate {
    type Err = String;

    /// `0.25` or `1/N`.
    fn from_str(rate: &str) -> Result<Self, String> {
        let rate = rate.trim();
        if let Some(n) = rate.strip_prefix("1/") {
            return match n.parse::<u64>() {
                Ok(n) if n > 0 => Ok(FaultRate::EveryNth(n)),
                _ => Err(format!("bad rate {rate:?}: 1/N needs a positive integer N")),
            };
        }
        match rate.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(FaultRate::Probability(p)),
            _ => Err(format!(
                "bad rate {rate:?}: expected a probability between 0 and 1 or 1/N"
            )),
        }
    }
}

/// `KIND=RATE`, e.g. `throttle=0.25` or `drop=1/3`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub rate: FaultRate,
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, rate) = s
            .split_once('=')
            .ok_or("expected KIND=RATE, e.g. throttle=0.25 or drop=1/3")?;
        Ok(FaultSpec {
            kind: kind.trim().parse()?,
            rate: rate.parse()?,
        })
    }
}

/// `RATE=DURATION`, e.g. `1/2=800ms`: which requests `--slow` holds, and for how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowSpec {
    pub rate: FaultRate,
    pub delay: Duration,
}

impl FromStr for SlowSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (rate, delay) = s
            .split_once('=')
            .ok_or("expected RATE=DURATION, e.g. 1/2=800ms or 0.1=2s")?;
        let delay = humantime::parse_duration(delay.trim())
            .map_err(|e| format!("bad duration {delay:?}: {e}"))?;
        Ok(SlowSpec {
            rate: rate.parse()?,
            delay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flag_defaults() {
        let a = EmulatorArgs::default();
        assert_eq!(a.listen.to_string(), "127.0.0.1:0");
        assert_eq!(a.aliyun_keys.len(), 1);
        assert_eq!(a.aliyun_keys[0].id, "testid");
        assert_eq!(a.domains.len(), 3);
        assert_eq!(a.task_duration, Duration::from_secs(2));
        assert_eq!(a.max_timestamp_skew, Duration::from_secs(900));
        assert_eq!((a.url_quota, a.dir_quota, a.regex_quota), (10_000, 100, 20));
        assert_eq!(a.qiniu_keys.len(), 1);
        assert_eq!(a.qiniu_keys[0].access_key, "testak");
        assert_eq!(
            (
                a.qiniu_url_quota,
                a.qiniu_dir_quota,
                a.qiniu_prefetch_quota,
                a.qiniu_items_per_second
            ),
            (500, 10, 100, 240)
        );
        assert!(!a.qiniu_dir_refresh_disabled);
        assert_eq!(a.huawei_keys.len(), 1);
        assert_eq!(a.huawei_keys[0].access_key, "HWTESTAK");
        assert_eq!(a.huawei_keys[0].security_token, None);
        assert_eq!(
            (
                a.huawei_file_refresh_quota,
                a.huawei_dir_refresh_quota,
                a.huawei_preheat_quota,
                a.huawei_requests_per_second
            ),
            (2_000, 100, 1_000, 30)
        );
    }

    #[test]
    fn parses_keys_and_faults() {
        let k: AliyunKey = "id:s3cr3t:tok:with:colons".parse().unwrap();
        assert_eq!(k.security_token.as_deref(), Some("tok:with:colons"));
        let shown = format!("{k:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok:"));
        assert!("id".parse::<AliyunKey>().is_err());
        let q: QiniuKey = "ak:s3cr3t".parse().unwrap();
        assert_eq!(q.access_key, "ak");
        assert!(!format!("{q:?}").contains("s3cr3t"));
        for bad in ["ak", "ak:", ":sk", "ak:sk:x"] {
            assert!(bad.parse::<QiniuKey>().is_err(), "{bad}");
        }
        let h: HuaweiKey = "AK:s3cr3t:tok:en".parse().unwrap();
        assert_eq!(h.security_token.as_deref(), Some("tok:en"));
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok:"));
        assert_eq!("AK:SK".parse::<HuaweiKey>().unwrap().security_token, None);
        for bad in ["AK", "AK:", ":SK"] {
            assert!(bad.parse::<HuaweiKey>().is_err(), "{bad}");
        }

        let f: FaultSpec = "drop=1/3".parse().unwrap();
        assert_eq!(f.rate, FaultRate::EveryNth(3));
        let f: FaultSpec = "throttle=0.25".parse().unwrap();
        assert_eq!(f.kind, FaultKind::Throttle);
        assert!("throttle=2".parse::<FaultSpec>().is_err());
        assert!("x=0.1".parse::<FaultSpec>().is_err());
        assert!("error=1/0".parse::<FaultSpec>().is_err());
        for kind in FaultKind::ALL {
            let spec: FaultSpec = format!("{}=1/2", kind.as_str()).parse().unwrap();
            assert_eq!(spec.kind, kind);
        }
        let f: FaultSpec = "lose-answer=1/1".parse().unwrap();
        assert_eq!(f.kind, FaultKind::LoseAnswer);

        let s: SlowSpec = "1/2=800ms".parse().unwrap();
        assert_eq!(
            s,
            SlowSpec {
                rate: FaultRate::EveryNth(2),
                delay: Duration::from_millis(800)
            }
        );
        assert_eq!(
            "0.5=2s".parse::<SlowSpec>().unwrap().rate,
            FaultRate::Probability(0.5)
        );
        for bad in ["1/2", "1/2=", "1/2=fast", "2=1s", "1/0=1s"] {
            assert!(bad.parse::<SlowSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_server_knobs_have_defaults() {
        let a = EmulatorArgs::default();
        assert_eq!(a.huge_body_bytes, 64 << 20);
        assert_eq!(a.redirect_port, None);
        assert_eq!(a.slow, None);
        let a = EmulatorArgs::from_flags(&[
            "--huge-body-bytes",
            "1000",
            "--redirect-port",
            "9",
            "--slow",
            "1/3=1s",
        ])
        .unwrap();
        assert_eq!((a.huge_body_bytes, a.redirect_port), (1000, Some(9)));
        assert_eq!(a.slow.unwrap().delay, Duration::from_secs(1));
    }
}
