//! `status`: the state of tasks by id, per target.

use crate::http::bounds::{Bounds, Interrupt};
use crate::http::retry::with_retry;
use crate::input::cli::Env;
use crate::input::settings::{InputError, Target};
use crate::providers::{TaskId, TaskState};

use super::exit::{Error, REFUSED, SUCCESS};
use super::{Found, Section, Sections, connect};

/// The states of the tasks `ids` names. A run with several targets writes its ids
/// `target:id` (the task-ids output); a bare id is the only target's.
pub async fn status(
    targets: &[Target],
    ids: &[String],
    env: &Env,
    interrupt: Interrupt,
) -> Result<Sections<Vec<TaskState>>, Error> {
    let clients = connect::clients(targets, env)?;
    let mut by_target: Vec<Vec<TaskId>> = vec![Vec::new(); clients.len()];
    for id in ids
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let named = id.split_once(':').and_then(|(name, rest)| {
            let i = clients
                .iter()
                .position(|(n, _)| n.as_deref() == Some(name))?;
            Some((i, rest))
        });
        let (i, raw) = match named {
            Some(found) => found,
            None if clients.len() == 1 => (0, id),
            None => {
                return Err(Error::Input(InputError::Message(format!(
                    "task id `{id}`: which target is it of?\n  fix: write it as TARGET:ID, as the task-ids output does, or choose one target with --target"
                ))));
            }
        };
        by_target[i].push(TaskId(raw.to_string()));
    }
    let mut code = SUCCESS;
    let mut sections = Vec::new();
    for ((target, (name, provider)), ids) in targets.iter().zip(clients).zip(by_target) {
        if ids.is_empty() {
            continue;
        }
        let bounds = Bounds::new(target.run.timeout, interrupt.clone());
        let mut states = Vec::new();
        let mut refused = None;
        for chunk in ids.chunks(provider.limits().status_ids_per_query) {
            match with_retry(
                &target.run.retry,
                &bounds,
                || provider.poll(chunk),
                |e, _, _| tracing::warn!("status: {e}; retrying"),
            )
            .await
            {
                Ok(found) => states.extend(found),
                Err(error) => {
                    refused = Some(error);
                    break;
                }
            }
        }
        let found = match refused {
            None => Found::Value(states),
            Some(error) => {
                code = REFUSED;
                Found::Refused {
                    value: Some(states),
                    error,
                }
            }
        };
        sections.push(Section {
            target: name,
            provider: provider.kind(),
            found,
        });
    }
    Ok(Sections { sections, code })
}
