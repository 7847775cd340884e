//! The single place that decides whether a failed call is tried again, and when.
//!
//! Providers classify their errors ([`ErrorClass`]); this module turns a class into a
//! decision. Delays grow exponentially with full jitter (so concurrent batches that were
//! throttled together do not retry together), and a wait the provider asked for
//! (`x-acs-retry-after`, `Retry-After`) is honoured as a floor.

use std::future::Future;
use std::time::Duration;

use super::bounds::Bounds;
use super::error::{ErrorClass, ProviderError};

/// Whether an error of this class can succeed on a later attempt.
pub fn is_retryable(class: ErrorClass) -> bool {
    match class {
        ErrorClass::Throttled
        | ErrorClass::Unavailable
        | ErrorClass::Transport
        | ErrorClass::BadResponse => true,
        ErrorClass::Credentials
        | ErrorClass::Permission
        | ErrorClass::Quota
        | ErrorClass::Domain
        | ErrorClass::InvalidRequest
        | ErrorClass::Endpoint
        | ErrorClass::Deadline
        // Waited for by the run (`send::in_progress`), not by the retry policy.
        | ErrorClass::Busy => false,
    }
}

/// Whether an error stops the whole run (the provider refused it), rather than only the
/// batch it came from.
pub fn stops_run(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::Credentials
            | ErrorClass::Permission
            | ErrorClass::Quota
            | ErrorClass::Domain
            | ErrorClass::Endpoint
    )
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the jittered delay before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay_ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay before the next attempt: full jitter below the ceiling, never less than
    /// what the provider asked for.
    pub fn delay(&self, attempt: u32, err: &ProviderError) -> Duration {
        let ceiling = self.delay_ceiling(attempt);
        let jittered =
            Duration::from_secs_f64(rand::random_range(0.0..=1.0) * ceiling.as_secs_f64());
        match err.retry_after {
            Some(asked) => asked.max(jittered),
            None => jittered,
        }
    }
}

/// Attempts for an error: a connection refused before any byte left is tried 3 times in all
/// (a blip in a CI network passes in that time; a wrong endpoint does not get better), every
/// other retryable error the policy's number.
fn attempts_for(policy: &RetryPolicy, err: &ProviderError) -> u32 {
    if err.code == ProviderError::CONNECT {
        policy.max_attempts.min(3)
    } else {
        policy.max_attempts
    }
}

/// Calls `call` until it succeeds, fails with an error that is not retryable, the attempts
/// run out, or the bounds end it. `on_retry` sees every error that will be retried (for logs
/// and counts). No attempt starts after the deadline or an interrupt, each attempt is cut
/// off by the bounds, and a retry whose delay (a provider's retry-after included) would end
/// after the deadline is not made: the error is returned, saying so.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    bounds: &Bounds,
    call: F,
    on_retry: impl FnMut(&ProviderError, u32, Duration),
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    with_retry_when(policy, bounds, |e| is_retryable(e.class), call, on_retry).await
}

/// [`with_retry`], retrying only the errors `retryable` accepts (a submit must not be sent
/// again when its outcome is unknown: it is looked up first).
pub async fn with_retry_when<T, F, Fut>(
    policy: &RetryPolicy,
    bounds: &Bounds,
    retryable: impl Fn(&ProviderError) -> bool,
    mut call: F,
    mut on_retry: impl FnMut(&ProviderError, u32, Duration),
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 1;
    loop {
        if let Some(err) = bounds.refuse_start() {
            return Err(err);
        }
        match bounds.run(call()).await {
            Ok(value) => return Ok(value),
            Err(err) if retryable(&err) && attempt < attempts_for(policy, &err) => {
                let delay = policy.delay(attempt, &err);
                let fits = tokio::time::Instant::now()
                    .checked_add(delay)
                    .is_some_and(|at| at <= bounds.deadline);
                if !fits {
                    let mut err = err;
                    err.message = format!(
                        "{}; not tried again: the next attempt ({:.0}s away) would come after the run's deadline (--timeout)",
                        err.message,
                        delay.as_secs_f64().min(1e9)
                    );
                    return Err(err);
                }
                on_retry(&err, attempt, delay);
                if !bounds.sleep(delay).await {
                    return Err(err);
                }
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn err(class: ErrorClass) -> ProviderError {
        ProviderError::new(class, "X", "x")
    }

    fn bounds() -> Bounds {
        Bounds::new(Duration::from_secs(600), Default::default())
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_deadline_stops_at_once() {
        let calls = Cell::new(0);
        let start = tokio::time::Instant::now();
        let result: Result<(), _> = with_retry(
            &RetryPolicy::default(),
            &Bounds::new(Duration::from_secs(10), Default::default()),
            || {
                calls.set(calls.get() + 1);
                async {
                    let mut e = err(ErrorClass::Throttled);
                    e.retry_after = Some(Duration::from_millis(999_999_999_999));
                    Err(e)
                }
            },
            |_, _, _| {},
        )
        .await;
        let e = result.unwrap_err();
        assert!(e.message.contains("after the run's deadline"), "{e}");
        assert_eq!(calls.get(), 1);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn no_attempt_starts_after_the_deadline() {
        let calls = Cell::new(0);
        let result: Result<(), _> = with_retry(
            &RetryPolicy::default(),
            &Bounds::new(Duration::from_secs(3), Default::default()),
            || {
                calls.set(calls.get() + 1);
                async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Err(err(ErrorClass::Unavailable))
                }
            },
            |_, _, _| {},
        )
        .await;
        // 0 s: fails at 2 s; retried at most 0.2 s later, fails at about 4 s: past the
        // deadline, so no third attempt.
        let e = result.unwrap_err();
        assert!(e.message.contains("deadline"), "{e}");
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn decision_by_class() {
        assert!(is_retryable(ErrorClass::Throttled));
        assert!(is_retryable(ErrorClass::Transport));
        assert!(is_retryable(ErrorClass::BadResponse));
        assert!(!is_retryable(ErrorClass::Credentials));
        assert!(!is_retryable(ErrorClass::InvalidRequest));
        assert!(stops_run(ErrorClass::Quota));
        assert!(!stops_run(ErrorClass::InvalidRequest));
    }

    #[test]
    fn delays_grow_then_cap_and_honour_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_ceiling(1), Duration::from_millis(200));
        assert_eq!(p.delay_ceiling(3), Duration::from_millis(800));
        assert_eq!(p.delay_ceiling(30), Duration::from_secs(20));
        for attempt in 1..10 {
            assert!(p.delay(attempt, &err(ErrorClass::Throttled)) <= p.delay_ceiling(attempt));
        }
        let mut asked = err(ErrorClass::Throttled);
        asked.retry_after = Some(Duration::from_secs(3));
        assert!(p.delay(1, &asked) >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_until_success() {
        let calls = Cell::new(0);
        let mut retried = 0;
        let result = with_retry(
            &RetryPolicy::default(),
            &bounds(),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(err(ErrorClass::Unavailable))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_, _, _| retried += 1,
        )
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(retried, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_once_on_a_final_error_and_after_max_attempts() {
        let calls = Cell::new(0);
        let result: Result<(), _> = with_retry(
            &RetryPolicy::default(),
            &bounds(),
            || {
                calls.set(calls.get() + 1);
                async { Err(err(ErrorClass::Credentials)) }
            },
            |_, _, _| {},
        )
        .await;
        assert_eq!(result.unwrap_err().class, ErrorClass::Credentials);
        assert_eq!(calls.get(), 1);

        calls.set(0);
        let policy = RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let result: Result<(), _> = with_retry(
            &policy,
            &bounds(),
            || {
                calls.set(calls.get() + 1);
                async { Err(err(ErrorClass::Throttled)) }
            },
            |_, _, _| {},
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 4);
    }
}
