//! How a provider call failed, as the rest of the program sees it: the class decides retries
//! (in [`super::retry`]) and whether the request may have taken effect.

use std::time::Duration;

use serde::Serialize;

/// What the caller should make of a failed call. The retry decision itself lives in
/// [`crate::http::retry`]; providers only say which class an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Rate limited or a provider-side queue is full: try again later.
    Throttled,
    /// Too much of the account's work is in progress (CloudFront's
    /// TooManyInvalidationsInProgress): send again once earlier tasks have finished.
    Busy,
    /// 5xx or a service that says it is busy.
    Unavailable,
    /// Timeout, refused or dropped connection.
    Transport,
    /// The response could not be understood (garbage body).
    BadResponse,
    /// Credentials are wrong: signature, key id, token, clock.
    Credentials,
    /// The credentials are fine but not allowed to do this.
    Permission,
    /// The day's quota is used up.
    Quota,
    /// A host name is not a domain of this account (or is offline).
    Domain,
    /// The request itself is invalid; only this batch's paths are affected.
    InvalidRequest,
    /// The endpoint cannot be an API that works: it redirected, or sent an answer too large
    /// to read. No retry can fix it, and the run stops.
    Endpoint,
    /// The run's time is up (`--timeout`) or it was interrupted: the call was not made, or
    /// was cut off while in flight (code [`ProviderError::CUT`]).
    Deadline,
}

/// An error from one provider call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    /// The provider's error code, or a short name of the transport problem.
    pub code: String,
    pub message: String,
    /// How to fix it, where the cause is known.
    pub hint: Option<String>,
    pub request_id: Option<String>,
    /// Wait the provider asked for before trying again.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            class,
            code: crate::echo::cap(&code.into(), crate::echo::VALUE).into_owned(),
            message: crate::echo::cap(&message.into(), crate::echo::SERVER).into_owned(),
            hint: None,
            request_id: None,
            retry_after: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Code of a call cut off in flight at the run's deadline or by an interrupt.
    pub const CUT: &'static str = "Cut";
    /// Code of a call not made because the deadline had passed or the run was interrupted.
    pub const NOT_STARTED: &'static str = "NotStarted";
    /// Code of a transport failure before any byte of the request left (connection refused,
    /// no route, TLS handshake): the provider cannot have seen it.
    pub const CONNECT: &'static str = "connect";

    /// Error for a request that never got a whole HTTP answer.
    pub fn transport(err: &reqwest::Error) -> Self {
        if err.is_builder() {
            // The request could not even be made: a header value with a line break or
            // another control character, which only a credential can bring in.
            return ProviderError::new(
                ErrorClass::Credentials,
                "UnusableCredential",
                "the request could not be built: a credential holds a character an HTTP header cannot carry",
            )
            .with_hint("check the key id and the security token for line breaks or stray characters (copy them again from the console)");
        }
        let what = if err.is_connect() {
            Self::CONNECT
        } else if err.is_timeout() {
            "timeout"
        } else {
            "connection"
        };
        if err.is_connect() {
            // Nothing reached the provider: say where, why (the innermost cause, such as
            // "Connection refused"), and what to check. Only the origin is shown, never a
            // path or query.
            let origin = err
                .url()
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|| "the endpoint".into());
            let mut cause = std::error::Error::source(err);
            let mut innermost = None;
            while let Some(c) = cause {
                innermost = Some(c.to_string());
                cause = c.source();
            }
            let why = innermost.unwrap_or_else(|| "no connection".into());
            return ProviderError::new(
                ErrorClass::Transport,
                Self::CONNECT,
                format!("cannot connect to {origin}: {why}"),
            )
            .with_hint(format!(
                "check --endpoint (the `endpoint` input) and the network: nothing answers at {origin}; for the emulator, start `cdn-refresh emulator` and pass the URL its first line prints"
            ));
        }
        // reqwest's Display never includes headers or bodies, so no secret can leak here.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ProviderError::new(ErrorClass::Transport, what, message)
    }

    /// True when the request may have reached the provider and taken effect although no
    /// usable answer came back: a submit that failed so must be looked up, never simply
    /// sent again.
    pub fn outcome_unknown(&self) -> bool {
        match self.class {
            ErrorClass::BadResponse => true,
            ErrorClass::Transport => self.code != Self::CONNECT,
            ErrorClass::Deadline => self.code == Self::CUT,
            ErrorClass::Endpoint => self.code == "AnswerTooLarge",
            _ => false,
        }
    }
}
