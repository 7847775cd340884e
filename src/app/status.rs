//! `status`: the state of tasks by id, per target.

use crate::http::bounds::{Bounds, Interrupt};
use crate::http::retry::with_retry;
use crate::input::cli::Env;
use crate::input::settings::{InputError, Target};
use crate::providers::{ErrorClass, TaskId, TaskState};

use super::exit::{BAD_INPUT, Error, REFUSED, SUCCESS};
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
        let mut states: Vec<TaskState> = Vec::new();
        let mut refused = None;
        let mut unknown = Vec::new();
        let per_query = provider.limits().status_ids_per_query;
        for chunk in ids.chunks(per_query) {
            match with_retry(
                &target.run.retry,
                &bounds,
                || provider.poll(chunk),
                |e, _, _| tracing::warn!("status: {e}; retrying"),
            )
            .await
            {
                Ok(found) => {
                    // An id the answer says nothing of is not the provider's (an answer to a
                    // query of one id is that id's, whatever the id it carries).
                    let alone = chunk.len() == 1 && !found.is_empty();
                    for id in chunk {
                        if !alone && !found.iter().any(|s| s.task_id == *id) {
                            unknown.push(id.0.clone());
                        }
                    }
                    states.extend(found);
                }
                // A provider that answers one id a query refuses an id it does not know
                // with an error about the request (Qiniu 400036) or its domain (Huawei
                // CDN.0108): that id is unknown, the others are still asked.
                Err(error)
                    if per_query == 1
                        && matches!(
                            error.class,
                            ErrorClass::InvalidRequest | ErrorClass::Domain
                        ) =>
                {
                    tracing::debug!("status of {}: {error}", chunk[0]);
                    unknown.push(chunk[0].0.clone());
                }
                Err(error) => {
                    refused = Some(error);
                    break;
                }
            }
        }
        if !unknown.is_empty() {
            code = code.max(BAD_INPUT);
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
            unknown,
        });
    }
    Ok(Sections { sections, code })
}
