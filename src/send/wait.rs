//! Bounded waiting: poll with growing intervals until done or a deadline passes.
//!
//! Tasks take minutes on real CDNs, so a fixed short interval wastes status calls and a
//! fixed long one wastes wall time at the end. Intervals start at the configured poll
//! interval and grow by half each round up to a ceiling; the last wait is cut to the
//! deadline, and one final check runs at the deadline so nothing that finished just in
//! time is reported pending. Uses tokio's clock, so tests run it on paused time.

use std::future::Future;
use std::time::Duration;

use crate::http::bounds::Bounds;

/// How often to look.
#[derive(Clone, Debug)]
pub struct PollSchedule {
    pub first: Duration,
    pub max: Duration,
}

impl PollSchedule {
    pub fn new(first: Duration) -> Self {
        PollSchedule {
            first,
            max: first.max(Duration::from_secs(30)),
        }
    }

    /// The interval after `interval`.
    pub fn next(&self, interval: Duration) -> Duration {
        interval.mul_f64(1.5).min(self.max)
    }
}

/// What a check found.
pub enum Check<T> {
    Done(T),
    NotYet(T),
}

/// Calls `check` until it says `Done`, the deadline passes or the run is interrupted;
/// returns the last value and whether it was done. The first check runs at once.
pub async fn poll_until<T, F, Fut>(
    schedule: &PollSchedule,
    bounds: &Bounds,
    mut check: F,
) -> (T, bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check<T>>,
{
    let mut interval = schedule.first;
    loop {
        match check().await {
            Check::Done(value) => return (value, true),
            Check::NotYet(value) => {
                let now = tokio::time::Instant::now();
                if now >= bounds.deadline || bounds.interrupt.raised().is_some() {
                    return (value, false);
                }
                let wake = (now + interval).min(bounds.deadline);
                if !bounds.sleep(wake - now).await {
                    return (value, false);
                }
                interval = schedule.next(interval);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn bounds(secs: u64) -> Bounds {
        Bounds::new(Duration::from_secs(secs), Default::default())
    }

    #[tokio::test(start_paused = true)]
    async fn backs_off_and_stops_at_the_deadline() {
        let start = Instant::now();
        let schedule = PollSchedule::new(Duration::from_secs(2));
        let mut seen = Vec::new();
        let (calls, done) = poll_until(&schedule, &bounds(10), || {
            seen.push(start.elapsed().as_secs_f64());
            let n = seen.len();
            async move { Check::NotYet(n) }
        })
        .await;
        assert!(!done);
        // 0, 2, 2+3, 5+4.5, then the final check exactly at the deadline.
        assert_eq!(seen, vec![0.0, 2.0, 5.0, 9.5, 10.0]);
        assert_eq!(calls, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn returns_as_soon_as_done() {
        let start = Instant::now();
        let mut n = 0;
        let (value, done) = poll_until(
            &PollSchedule::new(Duration::from_secs(1)),
            &bounds(600),
            || {
                n += 1;
                let v = n;
                async move {
                    if v == 3 {
                        Check::Done(v)
                    } else {
                        Check::NotYet(v)
                    }
                }
            },
        )
        .await;
        assert!(done);
        assert_eq!(value, 3);
        assert_eq!(start.elapsed(), Duration::from_millis(2500));
    }

    #[test]
    fn interval_is_capped() {
        let s = PollSchedule::new(Duration::from_secs(20));
        assert_eq!(s.next(Duration::from_secs(20)), Duration::from_secs(30));
        assert_eq!(s.next(Duration::from_secs(30)), Duration::from_secs(30));
    }
}
