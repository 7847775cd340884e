//! Counts over sliding windows of time, for the providers' rate limits: calls per second per
//! key, items per second, paths per domain per minute.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn second_window_slides() {
        let mut w = SecondWindow::default();
        let t0 = Instant::now();
        w.add(200, t0);
        w.add(30, t0 + Duration::from_millis(500));
        assert_eq!(w.used(t0 + Duration::from_millis(999)), 230);
        assert_eq!(w.used(t0 + Duration::from_secs(1)), 30);
        assert_eq!(w.used(t0 + Duration::from_millis(1500)), 0);
    }
}
