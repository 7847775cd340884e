//! The emulator's knobs, as flags. Every flag has a default so that `cdn-refresh emulator`
//! alone behaves like a fresh account with the provider's documented limits.
//!
//! [`EmulatorArgs`] holds the knobs every provider shares (address, domains, task timing,
//! faults); each provider's own (its keys, quotas and rates) are an `Args` struct in its
//! folder (`<provider>/args.rs`), which [`ProviderKnobs`] adds to the flags from the
//! declarations and keeps by type: [`EmulatorArgs::knobs`] hands a provider its own.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

/// The help line of `cdn-refresh emulator`.
pub const ABOUT: &str =
    "Serve the provider APIs on a local address, as strict as the real services";

/// Knobs of the built-in emulator: credentials, domains, limits, quotas and faults.
// The subcommand's options are built when it is named (`defer`), after its help line is set:
// without its own `about`, this doc comment (or a flattened struct's) would replace it.
#[derive(clap::Args, Clone, Debug)]
#[command(about = ABOUT, long_about = None)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", value_parser = listen_addr)]
    pub listen: SocketAddr,

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

    /// With `--fail-matching`: only the first N tasks of each matching path fail, later ones
    /// complete (a transient failure, as an origin that was briefly down).
    #[arg(long, value_name = "N")]
    pub fail_times: Option<u32>,

    /// Serve the `--domains` as a CDN edge too, from this folder (the site as deployed), on
    /// the same address: a request whose Host is one of the domains is a visitor's (GET and
    /// HEAD), any other Host reaches the APIs. `http://HOST/PATH` is `DIR/HOST/PATH` when a
    /// folder `DIR/HOST` exists, else `DIR/PATH`; `/dir/` is `dir/index.html`. The first
    /// request of a URL fills the edge's cache (`X-Cache: MISS`); later ones get the cached
    /// bytes (`X-Cache: HIT`, `Age`), whatever the origin became, until a refresh task
    /// covering the URL completes (file, directory, regex and ignore-params tasks as each
    /// provider defines them; tasks that end Failed evict nothing); a prefetch task fills the
    /// cache when it completes. A 404 is never cached.
    #[arg(long, value_name = "DIR", help_heading = "CDN edge")]
    pub origin: Option<std::path::PathBuf>,

    /// Largest origin file the edge serves; a larger one answers 502.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20, help_heading = "CDN edge")]
    pub edge_max_file_bytes: u64,

    /// Bytes the edge's cache holds at most; beyond, the entries filled first are dropped,
    /// as an edge short of space does.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20, help_heading = "CDN edge")]
    pub edge_cache_bytes: u64,

    /// Evictions and prefetch fills take effect this long after their task completes (the
    /// API says Complete at once): POPs that converge late.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration, help_heading = "CDN edge")]
    pub edge_lag: Duration,

    /// Insert TEXT into every HTML body the edge serves, before `</body>` (else at the end),
    /// as CDNs that add a beacon do.
    #[arg(long, value_name = "TEXT", help_heading = "CDN edge")]
    pub edge_rewrite: Option<String>,

    /// Every provider's own knobs, flags in registration order.
    #[command(flatten)]
    pub providers: ProviderKnobs,

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

/// A key as the flags give it, `ID:SECRET` or `ID:SECRET:TOKEN`: split at most twice, since
/// a token (STS, a temporary Huawei key) may itself hold `:`. `usage` is the form, for the
/// error.
pub(crate) fn split_key(s: &str, usage: &str) -> Result<(String, String, Option<String>), String> {
    let mut parts = s.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let secret = parts.next().unwrap_or_default();
    if id.is_empty() || secret.is_empty() {
        return Err(format!("expected {usage}"));
    }
    let token = parts.next().filter(|t| !t.is_empty()).map(str::to_string);
    Ok((id.to_string(), secret.to_string(), token))
}

/// `HOST:PORT`, the host a name (`localhost:0`) or an address.
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|e| {
            format!("`{text}` is not HOST:PORT ({e}); for example 127.0.0.1:0 or localhost:8080")
        })?
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
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

impl EmulatorArgs {
    /// A provider's own knobs, the `Args` struct its declaration names.
    pub(crate) fn knobs<K: KnobSet>(&self) -> &K {
        self.providers
            .0
            .iter()
            .find_map(|k| (k.as_ref() as &dyn Any).downcast_ref::<K>())
            .expect("every provider's knobs are parsed with the others")
    }
}

impl Default for EmulatorArgs {
    /// Exactly the flag defaults (parsed from an empty command line).
    fn default() -> Self {
        EmulatorArgs::from_flags(&[]).expect("the flag defaults parse")
    }
}

/// One provider's knobs, as its `Args` struct parsed them.
pub(crate) trait KnobSet: Any + Send + Sync + fmt::Debug {}

impl<T: Any + Send + Sync + fmt::Debug> KnobSet for T {}

/// The knobs of every emulated provider, one `Args` struct each, in registration order.
/// Their flags come from the declarations ([`super::registry::Knobs`]).
#[derive(Clone)]
pub struct ProviderKnobs(Vec<Arc<dyn KnobSet>>);

impl fmt::Debug for ProviderKnobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl clap::Args for ProviderKnobs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        super::EMULATED
            .iter()
            .fold(cmd, |cmd, e| (e.knobs.augment)(cmd))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for ProviderKnobs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        super::EMULATED
            .iter()
            .map(|e| (e.knobs.parse)(matches))
            .collect::<Result<_, _>>()
            .map(ProviderKnobs)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
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
    fn listen_takes_a_host_name() {
        let a = EmulatorArgs::from_flags(&["--listen", "localhost:0"]).unwrap();
        assert!(a.listen.ip().is_loopback(), "{}", a.listen);
        assert_eq!(a.listen.port(), 0);
        let e = EmulatorArgs::from_flags(&["--listen", "nohost"]).unwrap_err();
        assert!(e.to_string().contains("is not HOST:PORT"), "{e}");
    }

    #[test]
    fn defaults_are_the_flag_defaults() {
        let a = EmulatorArgs::default();
        assert_eq!(a.listen.to_string(), "127.0.0.1:0");
        assert_eq!(a.domains.len(), 3);
        assert_eq!(a.task_duration, Duration::from_secs(2));
        assert_eq!(a.max_timestamp_skew, Duration::from_secs(900));
    }

    #[test]
    fn every_provider_has_its_knobs() {
        let a = EmulatorArgs::default();
        assert_eq!(a.providers.0.len(), super::super::EMULATED.len());
        // Each provider's flags are its own: two with one id would make clap panic here.
        let cmd = clap::Command::new("emulator");
        let cmd = <EmulatorArgs as clap::Args>::augment_args(cmd);
        cmd.debug_assert();
    }

    #[test]
    fn parses_faults() {
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
