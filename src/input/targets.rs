//! The config file's `targets:` as `--target` selects them, each with its own connection and
//! pacing: the target's keys over the flags, the env and the top level of the file.

use crate::input::InputError;
use crate::input::cli::{Env, RunArgs};
use crate::input::config::{Config, CredentialVars, TargetConfig};
use crate::input::options::Options;
use crate::input::settings::{Target, connection, run_options, with_config};
use crate::input::url_list;
use crate::marker::Marker;
use crate::plan::Plan;
use crate::providers::ProviderKind;

/// The targets of the config file that `--target` selects (all when it is not given),
/// each with its own connection and pacing: the target's keys over the flags, the env and
/// the top level of the file.
pub(crate) fn targets(
    args: &RunArgs,
    opts: &Options,
    config: Option<&Config>,
    env: &Env,
) -> Result<Vec<Target>, InputError> {
    let configured: &[TargetConfig] = config.map_or(&[], |c| &c.targets);
    if configured.is_empty() {
        if let Some(names) = &args.target {
            return Err(InputError::new(
                "--target",
                format!("`{names}` names a target, and the config file lists none"),
                "drop --target, or list targets under `targets:` in .cdn-refresh.yml",
            ));
        }
        return Ok(Vec::new());
    }
    for (input, set) in [
        ("--provider", opts.provider.is_some()),
        ("--endpoint", opts.endpoint.is_some()),
    ] {
        if set {
            return Err(InputError::new(
                input,
                "the config file lists targets, each with its own provider and endpoint",
                "drop it; choose targets with --target NAME[,NAME]",
            ));
        }
    }
    let selected: Vec<&TargetConfig> = match &args.target {
        None => configured.iter().collect(),
        Some(names) => {
            let mut chosen = Vec::new();
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let target = configured.iter().find(|t| t.name == name).ok_or_else(|| {
                    let known: Vec<&str> = configured.iter().map(|t| t.name.as_str()).collect();
                    InputError::new(
                        "--target",
                        format!("no target is named `{name}`"),
                        format!("use one of: {}", known.join(", ")),
                    )
                })?;
                if !chosen.iter().any(|t: &&TargetConfig| t.name == target.name) {
                    chosen.push(target);
                }
            }
            if chosen.is_empty() {
                return Err(InputError::new(
                    "--target",
                    "names no target",
                    "give target names separated by commas, or drop --target",
                ));
            }
            chosen
        }
    };
    if selected.len() > 1 {
        for input in ["access-key-id", "access-key-secret", "security-token"] {
            if env.input(input).is_some() {
                return Err(InputError::new(
                    input,
                    "is ambiguous with several targets",
                    "name each target's credential variables under `credentials:` in the config file, set those variables from secrets, and leave this input empty",
                ));
            }
        }
    }
    let given: Vec<&'static str> = opts.provider_options.keys().copied().collect();
    for key in &given {
        let kinds: Vec<ProviderKind> = selected.iter().filter_map(|t| t.run.provider).collect();
        if !kinds.iter().any(|k| k.option(key).is_some()) {
            return Err(InputError::new(
                &format!("--{}", key.replace('_', "-")),
                "no selected target is of a provider that takes it",
                "drop it, or set it in the target it is meant for",
            ));
        }
    }
    warn_shared_accounts(&selected);
    selected
        .into_iter()
        .map(|t| {
            let provider = t
                .run
                .provider
                .expect("validated: every target has a provider");
            let mut run_wide = opts.clone();
            // Run-wide provider options go only to the targets whose provider takes them.
            run_wide
                .provider_options
                .retain(|key, _| provider.option(key).is_some());
            // The target's own keys win over the flags, the env and the file's top level.
            let own = t.run.clone().or(run_wide);
            let connection = connection(&own).map_err(|e| in_target(&t.name, e))?;
            let run = run_options(&own);
            let marker = marker_of(&own, Some(&t.name)).map_err(|e| in_target(&t.name, e))?;
            Ok(Target {
                name: Some(t.name.clone()),
                connection,
                run,
                sites: t.sites.clone(),
                credentials: t.credentials.clone(),
                marker,
            })
        })
        .collect()
}

/// Two targets of one provider with the same credential variables and endpoint are one
/// account: each checks the day's quota on its own, so together they can overdraw it.
fn warn_shared_accounts(targets: &[&TargetConfig]) {
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[i + 1..] {
            if a.run.provider == b.run.provider
                && a.credentials == b.credentials
                && a.run.endpoint == b.run.endpoint
            {
                tracing::warn!(
                    "targets `{}` and `{}` use the same {} account: each checks the day's quota alone, so together they may exceed it; give them one target with both sites",
                    a.name,
                    b.name,
                    a.run.provider.map_or_else(String::new, |p| p.to_string())
                );
            }
        }
    }
}

/// For the commands that take no URL list (`quota`, `status`): the config file's targets
/// that `--target` selects, or the one unnamed target of the flags.
pub fn selected_targets(args: &RunArgs, env: &Env) -> Result<Vec<Target>, InputError> {
    let (opts, config) = with_config(args)?;
    let targets = targets(args, &opts, config.as_ref(), env)?;
    if !targets.is_empty() {
        return Ok(targets);
    }
    Ok(vec![Target {
        name: None,
        connection: connection(&opts)?,
        run: run_options(&opts),
        sites: Vec::new(),
        credentials: CredentialVars::default(),
        marker: None,
    }])
}

/// The marker of the target named `name` (`None`: the one target of a run of flags), from
/// `--marker`/`marker:` and `--marker-ref`/`marker_ref:`.
pub(crate) fn marker_of(opts: &Options, name: Option<&str>) -> Result<Option<Marker>, InputError> {
    let Some(store) = &opts.marker else {
        return Ok(None);
    };
    Marker::of(store, opts.marker_ref.as_deref(), name)
        .map_err(|(problem, fix)| InputError::new("--marker-ref", problem, fix))
}

/// Each target keeps a marker of its own: two targets that would share one (a ref or a URL
/// without `{target}` in it) are an error, since one target's failure must not hide behind
/// the other's success.
pub(crate) fn check_markers(targets: &[Target]) -> Result<(), InputError> {
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[i + 1..] {
            if let (Some(ma), Some(mb)) = (&a.marker, &b.marker)
                && ma.store == mb.store
            {
                return Err(InputError::new(
                    "--marker",
                    format!(
                        "targets `{}` and `{}` would share the marker {}",
                        a.name.as_deref().unwrap_or_default(),
                        b.name.as_deref().unwrap_or_default(),
                        ma.location()
                    ),
                    "keep `{target}` in --marker-ref (the default refs/cdn-refresh/{target} does), or give each target its own `marker: site:URL` in the config file",
                ));
            }
        }
    }
    Ok(())
}

/// An error in one target's options names the target.
fn in_target(name: &str, e: InputError) -> InputError {
    InputError::Message(format!("target `{name}`: {e}"))
}

/// `Some(error)` when a URL of the plan is served by none of the targets: it would be
/// dropped, so nothing is sent.
pub(crate) fn uncovered(plan: &Plan, targets: &[Target]) -> Option<InputError> {
    if targets.is_empty() {
        return None;
    }
    let all = plan.refresh.values().flatten().chain(&plan.prefetch);
    let missing: Vec<&String> = all
        .filter(|u| !targets.iter().any(|t| t.serves(u)))
        .take(6)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut hosts: Vec<&str> = missing.iter().map(|u| url_list::host(u)).collect();
    hosts.dedup();
    let shown: Vec<&str> = missing.iter().take(5).map(|u| u.as_str()).collect();
    Some(InputError::new(
        "targets",
        format!(
            "no target's sites cover {}{}",
            shown.join(", "),
            if missing.len() > 5 { ", …" } else { "" }
        ),
        format!(
            "add {} to the `sites` of the target that serves it, or remove `sites` from a target to send it every URL",
            hosts.join(", ")
        ),
    ))
}
