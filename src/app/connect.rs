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
        run: run_identity(env, target.name.as_deref()),
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

/// What identifies this run ([`Connect::run`]): the commit and the CI run (its attempt
/// included, so a re-run of a job is another run) when the CI says them, else something
/// unique to this process; and the target.
fn run_identity(env: &Env, target: Option<&str>) -> String {
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let ci: Vec<&str> = [
        "GITHUB_SHA",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "CI_COMMIT_SHA",
        "CI_PIPELINE_ID",
        "CI_JOB_ID",
    ]
    .iter()
    .filter_map(|name| env.get(name))
    .collect();
    let run = if ci.is_empty() {
        PROCESS
            .get_or_init(|| uuid::Uuid::new_v4().to_string())
            .clone()
    } else {
        ci.join(" ")
    };
    format!("{run} {}", target.unwrap_or(""))
}
