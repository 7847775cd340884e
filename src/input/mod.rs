//! Everything the user gives, read and checked before anything is sent: the command line
//! and its env fallbacks ([`cli`]), the config file ([`config`]), both typed once into
//! [`options`] and merged by precedence, URL lists ([`url_list`]), and the [`settings`] a
//! command runs with (targets, credentials, the plan). Every error is an [`InputError`] that
//! names the input and the fix.

pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod git;
pub mod options;
pub mod settings;
pub mod targets;
pub mod url_list;

pub use error::InputError;
