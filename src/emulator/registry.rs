//! What each emulated provider declares about itself, as the clients' `providers::registry`
//! does for the clients.
//!
//! An emulated provider is one folder under `src/emulator/` whose `SPEC` says everything the
//! rest of the emulator needs: its name, the key pair it accepts by default, its knobs (the
//! flags of `cdn-refresh emulator` only it reads, an `Args` struct of its own), how to check
//! them, its paths on the one address, its banner lines and its empty state. The flags, the
//! router, the banner, the checks at start and the state all read these declarations, so
//! nothing outside the folder names a provider in code. Adding one is its folder plus its
//! line in [`super`]'s `register!`.

use std::sync::Arc;

use axum::Router;

use super::args::{EmulatorArgs, KnobSet};
use super::server::App;
use super::state::ProviderState;

/// Everything an emulated provider declares.
pub(crate) struct Emulated {
    /// Its name, the same as its client's (`aliyun`).
    pub name: &'static str,
    /// The key pair (id, secret) accepted when none is given: what the demo connects with,
    /// and the only one whose secret the banner shows.
    pub default_key: (&'static str, &'static str),
    /// Its knobs: the flags only it reads.
    pub knobs: Knobs,
    /// Checks its knobs before the emulator starts; the error is the message shown.
    pub validate: fn(&EmulatorArgs) -> anyhow::Result<()>,
    /// Adds its paths to the router (each served through [`super::server::api`]).
    pub routes: fn(Router<Arc<App>>) -> Router<Arc<App>>,
    /// Its lines of the banner, given the emulator's URL (`http://HOST:PORT`).
    pub banner: fn(&EmulatorArgs, &str) -> Vec<String>,
    /// Its state when the emulator starts: tasks, quotas, windows of its own.
    pub state: fn() -> Box<dyn ProviderState>,
    /// The field of `GET /_emulator/stats` with today's use of its daily quotas.
    pub quota_field: &'static str,
    /// The flags a client of this provider needs beside the key to use the emulated account
    /// (CloudFront's `--distribution-id`): what the demo adds to its command line.
    pub client_flags: fn(&EmulatorArgs) -> Vec<String>,
}

/// A provider's knobs: a clap `Args` struct, added to `cdn-refresh emulator`'s flags and
/// parsed from its matches.
pub(crate) struct Knobs {
    pub augment: fn(clap::Command) -> clap::Command,
    pub parse: fn(&clap::ArgMatches) -> Result<Arc<dyn KnobSet>, clap::Error>,
}

impl Knobs {
    /// The knobs of the clap `Args` struct `K`.
    pub const fn of<K: clap::Args + KnobSet>() -> Knobs {
        Knobs {
            augment: K::augment_args,
            parse: parse::<K>,
        }
    }
}

fn parse<K: clap::Args + KnobSet>(
    matches: &clap::ArgMatches,
) -> Result<Arc<dyn KnobSet>, clap::Error> {
    Ok(Arc::new(K::from_arg_matches(matches)?))
}

/// The declaration of the provider named `name`.
pub(crate) fn named(name: &str) -> Option<&'static Emulated> {
    super::EMULATED.iter().copied().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use crate::providers::ProviderKind;

    #[test]
    fn every_client_has_its_emulator_in_the_same_order() {
        let clients: Vec<&str> = ProviderKind::all().map(ProviderKind::name).collect();
        let emulated: Vec<&str> = super::super::EMULATED.iter().map(|e| e.name).collect();
        assert_eq!(emulated, clients);
    }

    #[test]
    fn names_and_stats_fields_are_distinct() {
        let all = super::super::EMULATED;
        for (i, e) in all.iter().enumerate() {
            assert!(super::named(e.name).is_some_and(|n| std::ptr::eq(n, *e)));
            for other in &all[..i] {
                assert_ne!(e.name, other.name);
                assert_ne!(e.quota_field, other.quota_field);
            }
        }
    }
}
