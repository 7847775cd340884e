//! Exit codes of the contract, and the one error type of the commands.

use std::fmt;

use crate::input::settings::{FailOn, InputError};
use crate::providers::ProviderError;
use crate::report::{Report, Stop, UrlStatus};

/// Every URL ended as `--fail-on` accepts.
pub const SUCCESS: u8 = 0;
/// Some URLs failed (or are pending, per `--fail-on`); or a local failure after the run.
pub const URLS_FAILED: u8 = 1;
/// Bad input or config: nothing was sent.
pub const BAD_INPUT: u8 = 2;
/// The provider refused the run (credentials, quota, permissions), or a host as not the
/// account's.
pub const REFUSED: u8 = 3;

/// Why a command ended before it had a result.
#[derive(Debug)]
pub enum Error {
    /// An input that cannot be used; nothing was sent.
    Input(InputError),
    /// A provider client could not be made; nothing was sent. `target` names the target
    /// when a run says which one.
    Client {
        problem: ClientProblem,
        target: Option<String>,
    },
}

#[derive(Debug)]
pub enum ClientProblem {
    /// A credential is missing or unusable.
    Credentials(InputError),
    /// The HTTP client could not be built.
    Http(String),
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Input(_)
            | Error::Client {
                problem: ClientProblem::Credentials(_),
                ..
            } => BAD_INPUT,
            Error::Client {
                problem: ClientProblem::Http(_),
                ..
            } => URLS_FAILED,
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(e) => write!(f, "{e}"),
            Error::Client { problem, target } => {
                match problem {
                    ClientProblem::Credentials(e) => write!(f, "{e}")?,
                    ClientProblem::Http(e) => write!(f, "cannot set up the HTTP client: {e}")?,
                }
                if let Some(name) = target {
                    write!(f, "\n  (target `{name}`; nothing was sent)")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether a run stopped because the provider could not be reached at all (connection
/// refused, no route): not a refusal by the provider, but URLs that failed to go out, which a
/// later run may send.
pub fn unreachable(stop: &Stop) -> bool {
    stop.code == ProviderError::CONNECT
}

/// The exit code a finished run's report earns.
pub fn of_report(report: &Report, fail_on: FailOn) -> u8 {
    match &report.stopped {
        Some(stop) if unreachable(stop) => return URLS_FAILED,
        Some(_) => return REFUSED,
        // A host that is not the account's needs the URLs or the key fixed, as a refused
        // run does, even though the other hosts' URLs went out.
        None if !report.hosts_refused.is_empty() => return REFUSED,
        None => {}
    }
    // With verification on, a URL the edge still serves wrong (stale, lingering, missing)
    // failed as surely as one the provider refused.
    // A URL whose task failed but that a heal refreshed and proved fresh did not fail.
    let failed = report.urls.iter().any(|u| {
        let healed = u.verify.as_ref().is_some_and(|v| v.healed());
        (matches!(u.status, UrlStatus::Failed | UrlStatus::Rejected) && !healed)
            || u.verify.as_ref().is_some_and(|v| v.verdict.is_stale())
    });
    let pending = report.urls.iter().any(|u| u.status == UrlStatus::Pending);
    // `stale`: every URL proven fresh, or the run fails (a verification error too).
    let unproven = report.urls.iter().any(|u| {
        u.verify
            .as_ref()
            .is_some_and(|v| v.verdict == crate::verify::VerdictKind::Error)
    });
    match fail_on {
        FailOn::Never => SUCCESS,
        FailOn::Failed if failed => URLS_FAILED,
        FailOn::Pending if failed || pending => URLS_FAILED,
        FailOn::Stale if failed || pending || unproven => URLS_FAILED,
        _ => SUCCESS,
    }
}
