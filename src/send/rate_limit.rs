//! Pacing of calls to stay inside a provider's published rates, whatever the latency.
//!
//! A provider counts a request when it *arrives*; we can only count it when it leaves. A
//! request that leaves early and arrives late (a loaded machine, a slow network path) would
//! otherwise land in the same provider second or minute as later ones. So every windowed
//! limit is a [`SlidingWindow`] in which a request occupies its place from the moment it is
//! sent until its answer arrived, and the window's span counts from the answer: its arrival
//! lies between the two, so no latency pattern can put more than the cap into any window of
//! the provider's (see `SlidingWindow` for the argument). The place is held by a [`Permit`]
//! that the caller keeps until the answer is in.
//!
//! Per-API request rates also go through `governor`, with a burst of a fifth of a second's
//! calls, so a first wave leaves at once and the rest are spread evenly. The per-host cap on refreshed URLs per minute
//! is a sliding window too: a single batch may carry the whole minute's allowance, which a
//! token bucket cannot express without also allowing twice that in the first minute.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::providers::Limits;

/// Added to a provider's per-minute window: the provider's clock and ours may tick apart.
/// The window already counts from the answer, which comes after the provider counted the
/// request, so this only covers clocks running at different rates (parts per million, a
/// few milliseconds a minute) and a provider that rounds its window up: half a second is
/// ample, and every second here is a second of waiting in a run over the minute cap.
pub const WINDOW_MARGIN: Duration = Duration::from_millis(500);

/// Added to a provider's per-second windows, for the same reason as [`WINDOW_MARGIN`].
pub const ITEMS_WINDOW_MARGIN: Duration = Duration::from_millis(100);

/// The APIs that have separate rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Submit,
    Status,
    Quota,
}

/// One API's rate: even spacing, and at most `rate` requests in any second of arrival.
struct ApiRate {
    /// Callers take their turns in the order they came (tokio's mutex is fair): governor
    /// alone lets whoever polls first win, so a prefetch released while refresh batches
    /// still go out could wait behind every one of them.
    queue: tokio::sync::Mutex<()>,
    spacing: DefaultDirectRateLimiter,
    window: SlidingWindow,
}

impl ApiRate {
    fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least one");
        // A fifth of a second's calls may leave together (a run's first wave of batches
        // goes out at once); the sliding window below still holds every second to the rate.
        let burst = NonZeroU32::new(rate.get() / 5).unwrap_or(NonZeroU32::MIN);
        ApiRate {
            queue: tokio::sync::Mutex::new(()),
            spacing: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            window: SlidingWindow::new(rate.get(), Duration::from_secs(1) + ITEMS_WINDOW_MARGIN),
        }
    }
}

/// Rate limiters for one provider account.
pub struct ApiRates {
    submit: ApiRate,
    status: ApiRate,
    quota: ApiRate,
    per_host: Option<SlidingWindow>,
    items: Option<SlidingWindow>,
}

/// Places held in rate windows by one request; dropped when its answer is in (or the
/// request was given up), from when the windows count the place's span.
#[must_use = "the place in the window is held until the permit is dropped"]
pub struct Permit<'a> {
    _tickets: Vec<Ticket<'a>>,
}

impl ApiRates {
    /// `qps` lowers every per-API rate (never raises it above the provider's).
    pub fn new(limits: &Limits, qps: Option<u32>) -> Self {
        let cap = |rate: u32| qps.map_or(rate, |q| q.min(rate));
        ApiRates {
            submit: ApiRate::new(cap(limits.submit_per_second)),
            status: ApiRate::new(cap(limits.status_per_second)),
            quota: ApiRate::new(cap(limits.quota_per_second)),
            per_host: limits
                .refresh_urls_per_minute_per_domain
                .map(|cap| SlidingWindow::new(cap, Duration::from_secs(60) + WINDOW_MARGIN)),
            items: limits
                .items_per_second
                .map(|cap| SlidingWindow::new(cap, Duration::from_secs(1) + ITEMS_WINDOW_MARGIN)),
        }
    }

    /// Waits until one more call of this API is allowed; hold the permit until its answer.
    pub async fn acquire(&self, api: Api) -> Permit<'_> {
        let rate = match api {
            Api::Submit => &self.submit,
            Api::Status => &self.status,
            Api::Quota => &self.quota,
        };
        let _turn = rate.queue.lock().await;
        rate.spacing.until_ready().await;
        Permit {
            _tickets: vec![rate.window.acquire("", 1).await],
        }
    }

    /// Waits until one submit of `items` paths, `hosts` of them refreshed URLs per host
    /// (empty when the per-host cap does not apply), fits every window: the API's rate, the
    /// items per second (Qiniu) and the refreshed URLs per host per minute (Alibaba Cloud).
    pub async fn acquire_submit(&self, items: u32, hosts: &[(String, u32)]) -> Permit<'_> {
        let mut permit = self.acquire(Api::Submit).await;
        if let Some(window) = &self.items {
            permit._tickets.push(window.acquire("", items).await);
        }
        if let Some(window) = self.per_host.as_ref().filter(|_| !hosts.is_empty()) {
            permit._tickets.push(window.acquire_all(hosts).await);
        }
        permit
    }
}

/// A place of one request in a window: `(key, id)` of each entry it holds.
pub struct Ticket<'a> {
    window: &'a SlidingWindow,
    entries: Vec<(String, u64)>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = self.window.state.lock().expect("not poisoned");
        for (key, id) in &self.entries {
            if let Some(entry) = state
                .by_key
                .get_mut(key)
                .and_then(|q| q.iter_mut().find(|e| e.id == *id))
            {
                entry.answered = Some(now);
            }
        }
        drop(state);
        self.window.released.notify_waiters();
    }
}

struct Entry {
    id: u64,
    units: u32,
    /// When the answer came; until then the entry holds its place indefinitely.
    answered: Option<Instant>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    by_key: HashMap<String, VecDeque<Entry>>,
}

/// At most `cap` units per key in any window of `span` at the provider.
///
/// Each request occupies its units from when it is sent until `span` after its answer
/// came. Why that holds the provider's limit: take any `span` of the provider's clock and
/// the requests that arrived in it; let `j` be the last of them sent. Every one of them was
/// sent no later than `j`, and is still held at that moment, since its answer came after its
/// arrival, and so `span` after its answer is after the end of the provider's window, which
/// is after `j` arrived, which is after `j` was sent. So at the moment `j` was let through,
/// all of them were in the window together, and the window let `j` through only if they fit.
pub struct SlidingWindow {
    cap: u32,
    span: Duration,
    state: Mutex<State>,
    released: Notify,
}

impl SlidingWindow {
    pub fn new(cap: u32, span: Duration) -> Self {
        SlidingWindow {
            cap,
            span,
            state: Mutex::new(State::default()),
            released: Notify::new(),
        }
    }

    /// Waits until `n` more units fit for `key`, then takes them.
    pub async fn acquire(&self, key: &str, n: u32) -> Ticket<'_> {
        self.acquire_all(&[(key.to_string(), n)]).await
    }

    /// Waits until every `(key, n)` fits at the same moment, then takes them all at that
    /// moment: one request carries them together, so taking one key while waiting for
    /// another would hold it longer than it is really used. More than `cap` at once is let
    /// through alone once its window is empty (the provider will refuse it; that is better
    /// than waiting forever).
    pub async fn acquire_all(&self, wanted: &[(String, u32)]) -> Ticket<'_> {
        loop {
            // Registered before the state is read, so a release in between is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let wait = {
                let mut state = self.state.lock().expect("not poisoned");
                let now = Instant::now();
                let mut wait = Some(Duration::ZERO);
                for (key, n) in wanted {
                    let entries = state.by_key.entry(key.clone()).or_default();
                    entries.retain(|e| {
                        e.answered
                            .is_none_or(|at| now.duration_since(at) < self.span)
                    });
                    wait = match (wait, self.wait_for(entries, *n, now)) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                if wait == Some(Duration::ZERO) {
                    let id = state.next_id;
                    state.next_id += 1;
                    let mut entries = Vec::with_capacity(wanted.len());
                    for (key, n) in wanted {
                        state
                            .by_key
                            .entry(key.clone())
                            .or_default()
                            .push_back(Entry {
                                id,
                                units: *n,
                                answered: None,
                            });
                        entries.push((key.clone(), id));
                    }
                    return Ticket {
                        window: self,
                        entries,
                    };
                }
                wait
            };
            match wait {
                Some(wait) => tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut released => {}
                },
                None => released.await,
            }
        }
    }

    /// How long until `n` more fit beside `entries` (already pruned to the window); `None`
    /// when that depends on answers still out.
    fn wait_for(&self, entries: &VecDeque<Entry>, n: u32, now: Instant) -> Option<Duration> {
        let used: u32 = entries.iter().map(|e| e.units).sum();
        if used.saturating_add(n) <= self.cap || entries.is_empty() {
            return Some(Duration::ZERO);
        }
        // Until enough answered entries have left the window, oldest answer first.
        let mut answered: Vec<(Instant, u32)> = entries
            .iter()
            .filter_map(|e| e.answered.map(|at| (at, e.units)))
            .collect();
        answered.sort_by_key(|(at, _)| *at);
        let mut freed = 0u32;
        for (at, units) in answered {
            freed += units;
            if used - freed + n <= self.cap || freed == used {
                return Some((at + self.span).saturating_duration_since(now));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_window_holds_back_what_does_not_fit() {
        let w = SlidingWindow::new(1000, Duration::from_secs(60));
        let start = Instant::now();
        drop(w.acquire("a.com", 1000).await);
        drop(w.acquire("b.com", 1000).await);
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "separate hosts do not wait"
        );
        drop(w.acquire("a.com", 1).await);
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        drop(w.acquire("a.com", 999).await);
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        drop(w.acquire("a.com", 500).await);
        assert_eq!(start.elapsed(), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn hosts_of_one_request_are_recorded_together() {
        let w = SlidingWindow::new(1000, Duration::from_secs(60));
        let start = Instant::now();
        drop(w.acquire("b.com", 1000).await);
        tokio::time::advance(Duration::from_secs(10)).await;
        // a.com fits now, b.com only at 60 s: both are recorded at 60 s.
        drop(
            w.acquire_all(&[("a.com".into(), 500), ("b.com".into(), 500)])
                .await,
        );
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        // So a.com's 500 leave the window at 120 s, not 70 s.
        drop(w.acquire("a.com", 600).await);
        assert_eq!(start.elapsed(), Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_holds_its_place_until_a_span_after_its_answer() {
        let w = SlidingWindow::new(10, Duration::from_secs(1));
        let start = Instant::now();
        let slow = w.acquire("", 10).await;
        // Its answer takes 5 s: nothing more may leave until 1 s after it came.
        let waiter = async {
            drop(w.acquire("", 1).await);
            start.elapsed()
        };
        let answer = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(slow);
        };
        let (waited, ()) = tokio::join!(waiter, answer);
        assert_eq!(waited, Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn api_rates_hold_each_request_until_its_answer() {
        let limits = crate::providers::aliyun::LIMITS;
        let rates = ApiRates::new(&limits, Some(2));
        let start = Instant::now();
        let a = rates.acquire(Api::Status).await;
        let b = rates.acquire(Api::Status).await;
        assert!(
            start.elapsed() <= Duration::from_millis(500),
            "spaced, not held"
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        drop((a, b));
        let after_answers = start.elapsed();
        drop(rates.acquire(Api::Status).await);
        assert_eq!(
            start.elapsed() - after_answers,
            Duration::from_secs(1) + ITEMS_WINDOW_MARGIN
        );
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_request_goes_alone() {
        let w = SlidingWindow::new(10, Duration::from_secs(60));
        let start = Instant::now();
        drop(w.acquire("a.com", 50).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(w.acquire("a.com", 1).await);
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }
}
