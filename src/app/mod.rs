//! The commands as library functions: [`run`], [`plan`], [`quota`] and [`status`]. Each
//! takes the parsed command line and the environment and returns what it found, or an
//! [`Error`] that maps to an exit code of the contract ([`exit`]). `main` only reads the
//! process environment, calls one, hands the result to the sinks (the report file, the CI
//! outputs) and exits.
//!
//! A run has one shape: settings hold one or more targets, and a run of the flags alone is
//! one unnamed target. Only the report's shape tells them apart: one provider's report for
//! the unnamed target, a part per target when they are named (`targets:`).

pub mod connect;
pub mod exit;
pub mod marker;
pub mod plan;
pub mod quota;
pub mod run;
pub mod status;
pub mod verify;

pub use exit::Error;

/// What `quota` or `status` found for one target.
pub struct Section<T> {
    /// The target's name, when it has one.
    pub target: Option<String>,
    pub provider: crate::providers::ProviderKind,
    pub found: Found<T>,
    /// Task ids the provider does not know (`status`): mistyped, another account's, or
    /// older than the provider keeps tasks.
    pub unknown: Vec<String>,
}

pub enum Found<T> {
    Value(T),
    /// The provider has no quota call: its answers tell the quota.
    InAnswers,
    /// The provider refused; `value` holds what was found before it did.
    Refused {
        value: Option<T>,
        error: crate::providers::ProviderError,
    },
}

/// The sections of `quota` or `status`, and the exit code they earn.
pub struct Sections<T> {
    pub sections: Vec<Section<T>>,
    pub code: u8,
}
