//! Which API request an injected fault hits, and which ones `--slow` holds.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::args::{FaultKind, FaultRate, FaultSpec, SlowSpec};

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
    pub fn new(specs: Vec<FaultSpec>, seed: Option<u64>) -> Self {
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
    pub fn new(spec: Option<SlowSpec>, seed: Option<u64>) -> Self {
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
}
