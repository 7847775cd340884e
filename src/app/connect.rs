//! A provider client for a target: its credentials, then its provider's factory.

use crate::input::cli::Env;
use crate::input::credentials::{self, CredentialSource};
use crate::input::settings::Target;
use crate::providers::Provider;
use crate::providers::registry::Connect;

use super::exit::{ClientProblem, Error};

/// The client of `target`. `only`: the run has this one target, so the inputs
/// (`access-key-id`, …) may hold its credentials. `named`: errors name the target.
pub fn client(
    target: &Target,
    env: &Env,
    only: bool,
    named: bool,
) -> Result<Box<dyn Provider>, Error> {
    let fail = |problem| Error::Client {
        problem,
        target: target.name.clone().filter(|_| named),
    };
    let connection = &target.connection;
    let source = CredentialSource::of_target(env, target, only);
    let credentials = credentials::credentials(connection.provider, &source)
        .map_err(|e| fail(ClientProblem::Credentials(e)))?;
    (connection.provider.spec().connect)(Connect {
        endpoint: connection.endpoint.clone(),
        credentials,
        options: connection.options.clone(),
    })
    .map_err(|e| fail(ClientProblem::Http(e.to_string())))
}

/// A provider client, with the name of its target when it has one.
pub type Named = (Option<String>, Box<dyn Provider>);

/// The clients of every target, each with its name: for `quota` and `status`.
pub fn clients(targets: &[Target], env: &Env) -> Result<Vec<Named>, Error> {
    let only = targets.len() == 1;
    targets
        .iter()
        .map(|t| Ok((t.name.clone(), client(t, env, only, false)?)))
        .collect()
}
