//! Pacing of calls to stay inside a provider's published rates.
//!
//! Per-API request rates use `governor` with a burst of one, so requests are spread evenly
//! and never exceed the rate in any one-second window. The per-host cap on refreshed URLs
//! per minute is a sliding window instead: a single batch may carry the whole minute's
//! allowance, which a token bucket cannot express without also allowing twice that in the
//! first minute.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::providers::Limits;

/// Added to a provider's per-minute window (see [`ApiRates::new`]).
pub const WINDOW_MARGIN: Duration = Duration::from_secs(2);

/// The APIs that have separate rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Submit,
    Status,
    Quota,
}

/// Rate limiters for one provider account.
pub struct ApiRates {
    submit: DefaultDirectRateLimiter,
    status: DefaultDirectRateLimiter,
    quota: DefaultDirectRateLimiter,
    per_host: Option<SlidingWindow>,
    items: Option<SlidingWindow>,
}

/// Added to a provider's per-second item window, for the same reason as [`WINDOW_MARGIN`].
pub const ITEMS_WINDOW_MARGIN: Duration = Duration::from_millis(100);

fn limiter(per_second: u32) -> DefaultDirectRateLimiter {
    let rate = NonZeroU32::new(per_second.max(1)).expect("at least one");
    RateLimiter::direct(Quota::per_second(rate).allow_burst(NonZeroU32::MIN))
}

impl ApiRates {
    /// `qps` lowers every per-API rate (never raises it above the provider's).
    pub fn new(limits: &Limits, qps: Option<u32>) -> Self {
        let cap = |rate: u32| qps.map_or(rate, |q| q.min(rate));
        ApiRates {
            submit: limiter(cap(limits.submit_per_second)),
            status: limiter(cap(limits.status_per_second)),
            quota: limiter(cap(limits.quota_per_second)),
            // The provider counts a request when it arrives and we count it when it leaves,
            // so latency jitter can make our minute end before the provider's: keep a margin.
            per_host: limits
                .refresh_urls_per_minute_per_domain
                .map(|cap| SlidingWindow::new(cap, Duration::from_secs(60) + WINDOW_MARGIN)),
            items: limits
                .items_per_second
                .map(|cap| SlidingWindow::new(cap, Duration::from_secs(1) + ITEMS_WINDOW_MARGIN)),
        }
    }

    /// Waits until one more call of this API is allowed.
    pub async fn acquire(&self, api: Api) {
        match api {
            Api::Submit => self.submit.until_ready().await,
            Api::Status => self.status.until_ready().await,
            Api::Quota => self.quota.until_ready().await,
        };
    }

    /// Waits until the provider's items-per-second rate (Qiniu) allows `n` more items.
    pub async fn acquire_items(&self, n: u32) {
        if let Some(window) = &self.items {
            window.acquire_all(&[(String::new(), n)]).await;
        }
    }

    /// Waits until every host may take this many more refreshed URLs this minute.
    pub async fn acquire_hosts(&self, counts: &[(String, u32)]) {
        if let Some(window) = &self.per_host {
            window.acquire_all(counts).await;
        }
    }
}

/// At most `cap` units per key in any window of `span`.
pub struct SlidingWindow {
    cap: u32,
    span: Duration,
    sent: Mutex<HashMap<String, VecDeque<(Instant, u32)>>>,
}

impl SlidingWindow {
    pub fn new(cap: u32, span: Duration) -> Self {
        SlidingWindow {
            cap,
            span,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `n` more units fit for `key`, then records them.
    pub async fn acquire(&self, key: &str, n: u32) {
        self.acquire_all(&[(key.to_string(), n)]).await
    }

    /// Waits until every `(key, n)` fits at the same moment, then records them all at that
    /// moment: one request carries them together, so recording one key while waiting for
    /// another would date it earlier than it is really sent. More than `cap` at once is let
    /// through alone once its window is empty (the provider will refuse it; that is better
    /// than waiting forever).
    pub async fn acquire_all(&self, wanted: &[(String, u32)]) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().expect("not poisoned");
                let now = Instant::now();
                let mut wait = Duration::ZERO;
                for (key, n) in wanted {
                    let entries = sent.entry(key.clone()).or_default();
                    while entries
                        .front()
                        .is_some_and(|(at, _)| now.duration_since(*at) >= self.span)
                    {
                        entries.pop_front();
                    }
                    wait = wait.max(self.wait_for(entries, *n, now));
                }
                if wait.is_zero() {
                    for (key, n) in wanted {
                        sent.entry(key.clone()).or_default().push_back((now, *n));
                    }
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// How long until `n` more fit beside `entries` (already pruned to the window).
    fn wait_for(&self, entries: &VecDeque<(Instant, u32)>, n: u32, now: Instant) -> Duration {
        let used: u32 = entries.iter().map(|(_, c)| c).sum();
        if used + n <= self.cap || entries.is_empty() {
            return Duration::ZERO;
        }
        // Until enough of the oldest entries have left the window.
        let mut freed = 0;
        for (at, count) in entries {
            freed += count;
            if used - freed + n <= self.cap {
                return (*at + self.span).saturating_duration_since(now);
            }
        }
        entries.back().map_or(Duration::ZERO, |(at, _)| {
            (*at + self.span).saturating_duration_since(now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_window_holds_back_what_does_not_fit() {
        let w = SlidingWindow::new(1000, Duration::from_secs(60));
        let start = Instant::now();
        w.acquire("a.com", 1000).await;
        w.acquire("b.com", 1000).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "separate hosts do not wait"
        );
        w.acquire("a.com", 1).await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        w.acquire("a.com", 999).await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        w.acquire("a.com", 500).await;
        assert_eq!(start.elapsed(), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn hosts_of_one_request_are_recorded_together() {
        let w = SlidingWindow::new(1000, Duration::from_secs(60));
        let start = Instant::now();
        w.acquire("b.com", 1000).await;
        tokio::time::advance(Duration::from_secs(10)).await;
        // a.com fits now, b.com only at 60 s: both are recorded at 60 s.
        w.acquire_all(&[("a.com".into(), 500), ("b.com".into(), 500)])
            .await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        // So a.com's 500 leave the window at 120 s, not 70 s.
        w.acquire("a.com", 600).await;
        assert_eq!(start.elapsed(), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_request_goes_alone() {
        let w = SlidingWindow::new(10, Duration::from_secs(60));
        let start = Instant::now();
        w.acquire("a.com", 50).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        w.acquire("a.com", 1).await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
