//! How long a run's calls may take, and the interrupt that ends them early.
//!
//! A run has a deadline (`--timeout` from its start). No call starts after it, and a call in
//! flight is cut off [`GRACE`] after it, so the report is written within seconds of the
//! deadline, whatever a server does (an answer that trickles forever, a retry-after of
//! years). SIGINT/SIGTERM raise the [`Interrupt`]: no call starts after it, and calls in
//! flight get the same grace to finish, so their task ids are not lost.
//!
//! Two kinds of call finish what was started, and may still start after the deadline or the
//! interrupt, within the grace: the look-up of a submit whose answer was lost (without it,
//! the next run could not tell whether to send those URLs again), and the one last status
//! check at the deadline (so a task that finished just in time is not reported pending).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::error::{ErrorClass, ProviderError};

/// What calls in flight get after the deadline or an interrupt.
pub const GRACE: Duration = Duration::from_secs(5);

/// The longest a run may be given: `Instant` arithmetic beyond this is not needed and
/// could overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// The signal that interrupted a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The exit code of a process ended by this signal (128 + its number), as shells use.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Raised once, seen by every call of the run (cheap to clone).
#[derive(Clone, Debug)]
pub struct Interrupt {
    sender: std::sync::Arc<watch::Sender<Option<(Signal, Instant)>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt {
            sender: std::sync::Arc::new(watch::channel(None).0),
        }
    }
}

impl Interrupt {
    /// Raises the interrupt (the first signal counts).
    pub fn raise(&self, signal: Signal) {
        self.sender.send_if_modified(|state| {
            if state.is_some() {
                return false;
            }
            *state = Some((signal, Instant::now()));
            true
        });
    }

    /// The signal and when it came, once raised.
    pub fn raised(&self) -> Option<(Signal, Instant)> {
        *self.sender.borrow()
    }

    /// Resolves when the interrupt is raised (at once if it already was).
    pub async fn wait(&self) -> (Signal, Instant) {
        let mut receiver = self.sender.subscribe();
        match receiver.wait_for(Option::is_some).await {
            Ok(state) => state.expect("waited for Some"),
            // The sender lives as long as `self`, so this cannot happen; never resolve.
            Err(_) => std::future::pending().await,
        }
    }
}

/// The time limits of a run's calls.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// No call starts after this.
    pub deadline: Instant,
    pub interrupt: Interrupt,
    /// Finishing what was started: calls may start until they are cut off.
    lookup: bool,
}

impl Bounds {
    /// Bounds that end `timeout` from now (at most [`MAX_TIMEOUT`]).
    pub fn new(timeout: Duration, interrupt: Interrupt) -> Self {
        Bounds {
            deadline: Instant::now() + timeout.min(MAX_TIMEOUT),
            interrupt,
            lookup: false,
        }
    }

    /// The same bounds for calls that finish what was started (look-ups of lost answers,
    /// the last status check).
    pub fn within_grace(&self) -> Self {
        Bounds {
            lookup: true,
            ..self.clone()
        }
    }

    /// When calls in flight are cut off: the grace after the deadline, or after the
    /// interrupt if that came first.
    pub fn cut_off(&self) -> Instant {
        let after_deadline = self.deadline + GRACE;
        match self.interrupt.raised() {
            Some((_, at)) => after_deadline.min(at + GRACE),
            None => after_deadline,
        }
    }

    /// Why a new call may not start now, if it may not.
    pub fn refuse_start(&self) -> Option<ProviderError> {
        let now = Instant::now();
        if self.lookup {
            return (now >= self.cut_off())
                .then(|| Self::not_started("the grace after the deadline or interrupt is over"));
        }
        if let Some((signal, _)) = self.interrupt.raised() {
            return Some(Self::not_started(&format!(
                "the run was interrupted ({})",
                signal.name()
            )));
        }
        (now > self.deadline).then(|| Self::not_started("the run's --timeout has passed"))
    }

    fn not_started(why: &str) -> ProviderError {
        ProviderError::new(
            ErrorClass::Deadline,
            ProviderError::NOT_STARTED,
            format!("not sent: {why}"),
        )
    }

    /// Runs `call`, cut off at [`Bounds::cut_off`] (which an interrupt brings forward).
    pub async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let cut = async {
            tokio::select! {
                _ = tokio::time::sleep_until(self.deadline + GRACE) => {}
                (_, at) = self.interrupt.wait() => {
                    tokio::time::sleep_until((at + GRACE).min(self.deadline + GRACE)).await
                }
            }
        };
        tokio::select! {
            result = call => result,
            _ = cut => Err(ProviderError::new(
                ErrorClass::Deadline,
                ProviderError::CUT,
                "cut off: no answer before the run's deadline (--timeout) or interrupt",
            )),
        }
    }

    /// Sleeps `delay`, or less when the interrupt comes; false when it came.
    pub async fn sleep(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = self.interrupt.wait() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_call_in_flight_is_cut_after_the_grace() {
        let bounds = Bounds::new(Duration::from_secs(10), Interrupt::default());
        let start = Instant::now();
        let never = std::future::pending::<Result<(), ProviderError>>();
        let err = bounds.run(never).await.unwrap_err();
        assert_eq!(err.code, ProviderError::CUT);
        assert!(err.outcome_unknown());
        assert_eq!(start.elapsed(), Duration::from_secs(10) + GRACE);
        let late = bounds.refuse_start().expect("after the deadline");
        assert!(!late.outcome_unknown());
        assert!(
            bounds.within_grace().refuse_start().is_some(),
            "the grace is over too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_refuses_new_calls_and_gives_those_in_flight_the_grace() {
        let interrupt = Interrupt::default();
        let bounds = Bounds::new(Duration::from_secs(600), interrupt.clone());
        assert!(bounds.refuse_start().is_none());
        let start = Instant::now();
        let raiser = interrupt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            raiser.raise(Signal::Terminate);
            raiser.raise(Signal::Interrupt);
        });
        let never = std::future::pending::<Result<(), ProviderError>>();
        assert!(bounds.run(never).await.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(3) + GRACE);
        assert_eq!(interrupt.raised().map(|(s, _)| s), Some(Signal::Terminate));
        assert!(bounds.refuse_start().is_some());
        assert!(
            !bounds.sleep(Duration::from_secs(60)).await,
            "an interrupted sleep ends at once"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3) + GRACE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_may_start_within_the_grace() {
        let bounds = Bounds::new(Duration::from_secs(1), Interrupt::default());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(bounds.refuse_start().is_some());
        assert!(bounds.within_grace().refuse_start().is_none());
    }

    #[test]
    fn any_timeout_is_safe() {
        let bounds = Bounds::new(Duration::MAX, Interrupt::default());
        assert!(bounds.cut_off() > bounds.deadline);
    }
}
