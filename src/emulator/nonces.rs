//! The nonces a provider has seen, so that a replayed request is refused.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_forgotten_after_the_window() {
        let mut n = NonceCache::default();
        let t0 = Instant::now();
        let window = Duration::from_secs(60);
        assert!(n.first_use("a".into(), t0, window));
        assert!(!n.first_use("a".into(), t0 + Duration::from_secs(59), window));
        assert!(n.first_use("a".into(), t0 + Duration::from_secs(61), window));
    }
}
