//! The run options, typed once, from whichever source gives them: the flags with their env
//! fallbacks ([`Options::from_args`]), the config file's top level and each of its targets
//! (`config`, which types its values with errors that name the file, the line and the key).
//! [`Options::or`] merges two sources by precedence, field by field; it is the only place
//! that does. The accepted spellings of each option are the tables here, so a flag and a
//! config key can never disagree.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::input::InputError;
use crate::input::cli::RunArgs;
use crate::marker::MarkerStore;
use crate::plan::TaskMode;
use crate::plan::changes::MissingBase;
use crate::providers::registry::{self, OptionValue};
use crate::providers::{ObjectType, ProviderKind};
use crate::verify::{Connect, VERIFY_MODES, VerifyMode};

pub use crate::providers::registry::lookup;

/// When a run counts as failed (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// URLs failed or rejected; with verification on, also URLs verified stale.
    Failed,
    /// Also URLs still pending.
    Pending,
    /// Only URLs verified stale (`stale`, `lingering`, `missing`); failed URLs are not
    /// verified, so they count too.
    Stale,
    Never,
}

/// What to do when the provider refuses to refresh a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirRefreshDenied {
    /// Refresh the changed files a collapsed directory stood for.
    Files,
    /// Stop the run, with the provider's hint on how to enable directory refresh.
    Fail,
}

/// Accepted spellings of `--task`, in the order errors list them. The seed script's `clear`
/// and `push` (and the common `purge`, `preload`) are aliases.
pub const TASKS: &[(&str, TaskMode)] = &[
    ("refresh", TaskMode::Refresh),
    ("prefetch", TaskMode::Prefetch),
    ("both", TaskMode::Both),
    ("clear", TaskMode::Refresh),
    ("push", TaskMode::Prefetch),
    ("purge", TaskMode::Refresh),
    ("preload", TaskMode::Prefetch),
];

/// Accepted spellings of `--object-type` (compared lower-cased, `_` as `-`).
pub const OBJECT_TYPES: &[(&str, ObjectType)] = &[
    ("file", ObjectType::File),
    ("directory", ObjectType::Directory),
    ("dir", ObjectType::Directory),
    ("regex", ObjectType::Regex),
    ("ignore-params", ObjectType::IgnoreParams),
    ("ignoreparams", ObjectType::IgnoreParams),
    ("exquery", ObjectType::IgnoreParams),
];

/// Accepted values of `--on-dir-refresh-denied`.
pub const DIR_REFRESH_DENIED: &[(&str, DirRefreshDenied)] = &[
    ("files", DirRefreshDenied::Files),
    ("fail", DirRefreshDenied::Fail),
];

/// Accepted values of `--fail-on`.
pub const FAIL_ON: &[(&str, FailOn)] = &[
    ("failed", FailOn::Failed),
    ("pending", FailOn::Pending),
    ("stale", FailOn::Stale),
    ("never", FailOn::Never),
];

/// Every run option, each unset until a source sets it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub provider: Option<ProviderKind>,
    pub task: Option<TaskMode>,
    pub object_type: Option<ObjectType>,
    pub dry_run: Option<bool>,
    pub wait: Option<bool>,
    pub timeout: Option<Duration>,
    pub poll_interval: Option<Duration>,
    pub endpoint: Option<url::Url>,
    pub qps: Option<u32>,
    pub concurrency: Option<usize>,
    pub batch_size: Option<usize>,
    pub report: Option<PathBuf>,
    pub fail_on: Option<FailOn>,
    pub on_dir_refresh_denied: Option<DirRefreshDenied>,
    pub on_missing_base: Option<MissingBase>,
    pub collapse_threshold: Option<usize>,
    /// `--max-paths`: refresh at most this many paths, collapsing the rest.
    pub max_paths: Option<usize>,
    /// `--verify`: check the edge after the run.
    pub verify: Option<VerifyMode>,
    /// `--verify-root`: the built site's folder, as uploaded.
    pub verify_root: Option<PathBuf>,
    /// `--verify-connect`: where verification requests go.
    pub verify_connect: Option<Connect>,
    /// `--verify-heal`: refresh a URL still stale once more, then verify it again.
    pub verify_heal: Option<bool>,
    /// `--marker`: where the marker of the last fully successful run is kept.
    pub marker: Option<MarkerStore>,
    /// `--marker-ref`: the git marker's ref (`{target}` is the target's name).
    pub marker_ref: Option<String>,
    /// The options only some providers take, by key, each checked against its declaration
    /// (whether the run's provider takes it is checked once the provider is known).
    pub provider_options: BTreeMap<&'static str, OptionValue>,
}

impl Options {
    /// The provider option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&OptionValue> {
        self.provider_options.get(key)
    }

    /// `self` where it sets an option, else `other`: the one merge of sources by precedence
    /// (flags and env over the file; a target's own keys over both).
    pub fn or(self, other: Options) -> Options {
        let mut provider_options = other.provider_options;
        provider_options.extend(self.provider_options);
        Options {
            provider: self.provider.or(other.provider),
            task: self.task.or(other.task),
            object_type: self.object_type.or(other.object_type),
            dry_run: self.dry_run.or(other.dry_run),
            wait: self.wait.or(other.wait),
            timeout: self.timeout.or(other.timeout),
            poll_interval: self.poll_interval.or(other.poll_interval),
            endpoint: self.endpoint.or(other.endpoint),
            qps: self.qps.or(other.qps),
            concurrency: self.concurrency.or(other.concurrency),
            batch_size: self.batch_size.or(other.batch_size),
            report: self.report.or(other.report),
            fail_on: self.fail_on.or(other.fail_on),
            on_dir_refresh_denied: self.on_dir_refresh_denied.or(other.on_dir_refresh_denied),
            on_missing_base: self.on_missing_base.or(other.on_missing_base),
            collapse_threshold: self.collapse_threshold.or(other.collapse_threshold),
            max_paths: self.max_paths.or(other.max_paths),
            verify: self.verify.or(other.verify),
            verify_root: self.verify_root.or(other.verify_root),
            verify_connect: self.verify_connect.or(other.verify_connect),
            verify_heal: self.verify_heal.or(other.verify_heal),
            marker: self.marker.or(other.marker),
            marker_ref: self.marker_ref.or(other.marker_ref),
            provider_options,
        }
    }

    /// The options of the command line and its env fallbacks, typed; an error names the
    /// flag.
    pub fn from_args(a: &RunArgs) -> Result<Options, InputError> {
        let mut provider_options = BTreeMap::new();
        for (key, text) in &a.provider_options {
            let spec = ProviderKind::any_option(key).expect("clap takes declared options only");
            let value = registry::parse_value(spec, text).map_err(|mut m| {
                m.input = a.input_name(&spec.flag());
                m
            })?;
            provider_options.insert(spec.key, value);
        }
        Ok(Options {
            provider: a.provider,
            task: a
                .task
                .as_deref()
                .map(|s| parse_task(&a.input_name("task"), s))
                .transpose()?,
            object_type: a
                .object_type
                .as_deref()
                .map(|s| parse_object_type(&a.input_name("object-type"), s))
                .transpose()?,
            dry_run: a.dry_run,
            wait: a.wait,
            timeout: flag_duration(&a.input_name("timeout"), &a.timeout)?,
            poll_interval: flag_duration(&a.input_name("poll-interval"), &a.poll_interval)?,
            endpoint: a
                .endpoint
                .as_deref()
                .map(|s| endpoint(s).map_err(|(problem, fix)| InputError::new(&a.input_name("endpoint"), problem, fix)))
                .transpose()?,
            qps: positive(&a.input_name("qps"), a.qps)?,
            concurrency: positive(&a.input_name("concurrency"), a.concurrency)?,
            batch_size: positive(&a.input_name("batch-size"), a.batch_size)?,
            report: a.report.clone(),
            fail_on: a
                .fail_on
                .as_deref()
                .map(|s| {
                    lookup(FAIL_ON, s).ok_or_else(|| {
                        InputError::new(
                            &a.input_name("fail-on"),
                            format!("unknown value `{s}`"),
                            "use failed, pending, stale or never",
                        )
                    })
                })
                .transpose()?,
            on_dir_refresh_denied: a
                .on_dir_refresh_denied
                .as_deref()
                .map(|s| {
                    lookup(DIR_REFRESH_DENIED, s).ok_or_else(|| {
                        InputError::new(
                            &a.input_name("on-dir-refresh-denied"),
                            format!("unknown value `{s}`"),
                            "use files (refresh the changed files instead) or fail",
                        )
                    })
                })
                .transpose()?,
            on_missing_base: a
                .on_missing_base
                .as_deref()
                .map(|s| {
                    s.parse::<MissingBase>().map_err(|e| {
                        InputError::new(
                            &a.input_name("on-missing-base"),
                            e,
                            "use fail (exit 2), all (refresh every mapped root) or skip (send nothing)",
                        )
                    })
                })
                .transpose()?,
            collapse_threshold: positive(&a.input_name("collapse-threshold"), a.collapse_threshold)?,
            max_paths: positive(&a.input_name("max-paths"), a.max_paths)?,
            verify: a
                .verify
                .as_deref()
                .map(|s| parse_verify(&a.input_name("verify"), s))
                .transpose()?,
            verify_root: a.verify_root.clone(),
            verify_connect: a
                .verify_connect
                .as_deref()
                .map(|s| {
                    Connect::parse(s).map_err(|(problem, fix)| {
                        InputError::new(&a.input_name("verify-connect"), problem, fix)
                    })
                })
                .transpose()?,
            verify_heal: a.verify_heal,
            marker: a
                .marker
                .as_deref()
                .map(|s| {
                    MarkerStore::parse(s).map_err(|(problem, fix)| {
                        InputError::new(&a.input_name("marker"), problem, fix)
                    })
                })
                .transpose()?,
            marker_ref: a
                .marker_ref
                .as_deref()
                .map(|s| {
                    // `{target}` stands for a name: check the ref with a plain one.
                    crate::marker::check_ref(&s.replace("{target}", "t"))
                        .map(|()| s.to_string())
                        .map_err(|(problem, fix)| {
                            InputError::new(&a.input_name("marker-ref"), problem, fix)
                        })
                })
                .transpose()?,
            provider_options,
        })
    }
}

/// `--verify`'s value.
pub fn parse_verify(input: &str, s: &str) -> Result<VerifyMode, InputError> {
    lookup(VERIFY_MODES, s).ok_or_else(|| {
        InputError::new(
            input,
            format!("unknown value `{}`", crate::echo::cap(s, crate::echo::VALUE)),
            "use off, status or content (or auto: content where the deployed bytes are known, else status)",
        )
    })
}

fn parse_task(input: &str, s: &str) -> Result<TaskMode, InputError> {
    lookup(TASKS, s).ok_or_else(|| {
        InputError::new(
            input,
            format!("unknown task `{s}`"),
            "use refresh, prefetch or both (the seed script's clear and push also work)",
        )
    })
}

fn parse_object_type(input: &str, s: &str) -> Result<ObjectType, InputError> {
    lookup(OBJECT_TYPES, s).ok_or_else(|| {
        InputError::new(
            input,
            format!("unknown object type `{s}`"),
            "use file, directory, regex or ignore-params (File and Directory also work)",
        )
    })
}

fn flag_duration(input: &str, text: &Option<String>) -> Result<Option<Duration>, InputError> {
    text.as_deref()
        .map(|s| duration(s).map_err(|(problem, fix)| InputError::new(input, problem, fix)))
        .transpose()
}

/// A duration: seconds (`600`) or humantime (`90s`, `10m`), at most the 30 days a run may
/// take. Errors are the problem and the fix, for the caller to name the input.
pub fn duration(text: &str) -> Result<Duration, (String, String)> {
    let s = text.trim();
    let shown: String = s.chars().take(40).collect();
    let parsed = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s).map_err(|e| {
            (
                format!("`{shown}` is not a duration ({e})"),
                "give seconds (600) or a duration such as 90s, 10m, 1h".to_string(),
            )
        })?,
    };
    let max = crate::http::bounds::MAX_TIMEOUT;
    if parsed > max {
        return Err((
            format!(
                "`{shown}` is longer than the {} days a run may take",
                max.as_secs() / 86_400
            ),
            "give at most 30d (a CDN task takes minutes)".to_string(),
        ));
    }
    Ok(parsed)
}

/// An API base URL: http(s) with a host. Errors are the problem and the fix.
pub fn endpoint(text: &str) -> Result<url::Url, (String, String)> {
    url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            (
                format!("`{text}` is not an http(s) URL"),
                format!(
                    "give a base URL such as {} or http://127.0.0.1:PORT",
                    ProviderKind::default_kind().default_endpoint()
                ),
            )
        })
}

fn positive<T: Copy + PartialEq + Default>(
    input: &str,
    n: Option<T>,
) -> Result<Option<T>, InputError> {
    match n {
        Some(v) if v == T::default() => Err(InputError::new(
            input,
            "must be at least 1",
            "give a positive number or leave it unset",
        )),
        other => Ok(other),
    }
}
