//! `quota`: what is left of today's quotas, per target.

use crate::http::bounds::{Bounds, Interrupt};
use crate::http::retry::with_retry;
use crate::input::cli::Env;
use crate::input::settings::Target;
use crate::providers::Quota;

use super::exit::{Error, REFUSED, SUCCESS};
use super::{Found, Section, Sections, connect};

/// Each target's quotas, read with the retry policy, within the target's `--timeout`.
pub async fn quota(
    targets: &[Target],
    env: &Env,
    interrupt: Interrupt,
) -> Result<Sections<Quota>, Error> {
    let clients = connect::clients(targets, env)?;
    let mut code = SUCCESS;
    let mut sections = Vec::new();
    for (target, (name, provider)) in targets.iter().zip(clients) {
        let found = if provider.quota_in_answers() {
            Found::InAnswers
        } else {
            let bounds = Bounds::new(target.run.timeout, interrupt.clone());
            match with_retry(
                &target.run.retry,
                &bounds,
                || provider.quota(),
                |e, _, _| tracing::warn!("quota: {e}; retrying"),
            )
            .await
            {
                Ok(q) => Found::Value(q),
                Err(error) => {
                    code = REFUSED;
                    Found::Refused { value: None, error }
                }
            }
        };
        sections.push(Section {
            target: name,
            provider: provider.kind(),
            found,
            unknown: Vec::new(),
        });
    }
    Ok(Sections { sections, code })
}
