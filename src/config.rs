//! The config file, `.cdn-refresh.yml`: the mapping rules and their options, which are too long
//! for a flag, plus defaults for the run options that also have flags.
//!
//! ```yaml
//! version: 1
//! mapping:                     # rules, as in --mapping: a list, or a block string (`|`)
//!   - "!public/**/*.map"
//!   - public/** => https://www.example.com/{path}
//! whole_site: [layouts/**, config.toml]   # any change here refreshes every root
//! index_files: [index.html]
//! index_urls: [slash, bare]    # slash (…/dir/), bare (…/dir), file (…/dir/index.html)
//! pretty_urls: true            # about.html → …/about.html and …/about
//! collapse_threshold: 200
//! on_missing_base: all         # fail | all | skip
//! task: both                   # and every other run option: flags and env win
//! ```
//!
//! The keys are flat and spelled like the flags, with underscores (`fail_on` for `--fail-on`):
//! the file is mostly a place for flags that do not change between runs, and grouping them would
//! add nesting to learn for nothing. A later `targets:` list (several CDNs) can hold the
//! provider keys per target; they are kept together in [`RunDefaults`] for that.
//!
//! The file is parsed raw with `serde-saphyr` (pure Rust, no `unsafe`, line numbers on every
//! value through `Spanned`) wrapped in `serde_path_to_error`, so a type error names the key path
//! (`index_urls[1]`) as well as the line; unknown keys are an error with the list of known ones.
//! Then every value is checked here, with an error that names the key, the line and the fix, so
//! a mistake in the file is reported as the file's rather than as a flag's. Values keep the
//! spelling the user wrote (`task: clear`) and the types of [`RunArgs`]:
//! [`RunDefaults::apply_to`] puts them where a flag would be, and `settings` parses both with the
//! same code. The accepted spellings checked here are `settings`' own tables. Whether the file
//! is read at all, and the precedence (flags, then env, then the file), are the caller's.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::cli::RunArgs;
use crate::providers::ProviderKind;
use crate::providers::aliyun::api::SignatureVersion;
use crate::rules::{self, IndexUrl, MapOptions, RuleError, RuleSet, WHOLE_SITE};
use crate::settings;

/// The default file name, read when present and `--config` is not given.
pub const DEFAULT_FILE: &str = ".cdn-refresh.yml";

/// The schema version this program reads.
pub const VERSION: u32 = 1;

/// What to do when the diff base cannot be found: the policy of `--on-missing-base`.
pub use crate::changes::MissingBase as OnMissingBase;

/// Run options from the file; the same names and types as the flags in [`RunArgs`], so a value
/// here is used exactly as the flag would be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunDefaults {
    pub provider: Option<ProviderKind>,
    pub task: Option<String>,
    pub object_type: Option<String>,
    pub area: Option<String>,
    pub force: Option<bool>,
    pub l2_preload: Option<bool>,
    pub dry_run: Option<bool>,
    pub wait: Option<bool>,
    pub timeout: Option<String>,
    pub poll_interval: Option<String>,
    pub endpoint: Option<String>,
    pub qps: Option<u32>,
    pub concurrency: Option<usize>,
    pub batch_size: Option<usize>,
    pub report: Option<PathBuf>,
    pub fail_on: Option<String>,
    pub on_dir_refresh_denied: Option<String>,
    pub aliyun_signature: Option<SignatureVersion>,
    pub refresh_mode: Option<String>,
    pub enterprise_project_id: Option<String>,
}

impl RunDefaults {
    /// Fills every option that the flags and env left unset.
    pub fn apply_to(&self, args: &mut RunArgs) {
        fn fill<T: Clone>(arg: &mut Option<T>, file: &Option<T>) {
            if arg.is_none() {
                arg.clone_from(file);
            }
        }
        fill(&mut args.provider, &self.provider);
        fill(&mut args.task, &self.task);
        fill(&mut args.object_type, &self.object_type);
        fill(&mut args.area, &self.area);
        fill(&mut args.force, &self.force);
        fill(&mut args.l2_preload, &self.l2_preload);
        fill(&mut args.dry_run, &self.dry_run);
        fill(&mut args.wait, &self.wait);
        fill(&mut args.timeout, &self.timeout);
        fill(&mut args.poll_interval, &self.poll_interval);
        fill(&mut args.endpoint, &self.endpoint);
        fill(&mut args.qps, &self.qps);
        fill(&mut args.concurrency, &self.concurrency);
        fill(&mut args.batch_size, &self.batch_size);
        fill(&mut args.report, &self.report);
        fill(&mut args.fail_on, &self.fail_on);
        fill(&mut args.on_dir_refresh_denied, &self.on_dir_refresh_denied);
        fill(&mut args.aliyun_signature, &self.aliyun_signature);
        fill(&mut args.refresh_mode, &self.refresh_mode);
        fill(&mut args.enterprise_project_id, &self.enterprise_project_id);
    }

    /// Puts every option this sets over `args`, whatever they held: a target's own keys
    /// win over the flags, the env and the top level of the file.
    pub fn override_on(&self, args: &mut RunArgs) {
        fn put<T: Clone>(arg: &mut Option<T>, mine: &Option<T>) {
            if mine.is_some() {
                arg.clone_from(mine);
            }
        }
        put(&mut args.provider, &self.provider);
        put(&mut args.endpoint, &self.endpoint);
        put(&mut args.area, &self.area);
        put(&mut args.force, &self.force);
        put(&mut args.l2_preload, &self.l2_preload);
        put(&mut args.qps, &self.qps);
        put(&mut args.concurrency, &self.concurrency);
        put(&mut args.batch_size, &self.batch_size);
        put(&mut args.aliyun_signature, &self.aliyun_signature);
        put(&mut args.refresh_mode, &self.refresh_mode);
        put(&mut args.enterprise_project_id, &self.enterprise_project_id);
    }
}

/// The options that only some providers take, with the providers that take them: given
/// for a target of another provider they are an error, given run-wide they go to the
/// targets that take them.
pub const PROVIDER_OPTIONS: &[(&str, &[ProviderKind])] = &[
    ("area", &[ProviderKind::Aliyun]),
    ("force", &[ProviderKind::Aliyun]),
    ("l2_preload", &[ProviderKind::Aliyun]),
    ("aliyun_signature", &[ProviderKind::Aliyun]),
    ("refresh_mode", &[ProviderKind::Huawei]),
    ("enterprise_project_id", &[ProviderKind::Huawei]),
];

/// Which provider-only options (by config key) `args` sets.
pub fn provider_options_set(args: &RunArgs) -> Vec<&'static str> {
    let set = [
        args.area.is_some(),
        args.force.is_some(),
        args.l2_preload.is_some(),
        args.aliyun_signature.is_some(),
        args.refresh_mode.is_some(),
        args.enterprise_project_id.is_some(),
    ];
    PROVIDER_OPTIONS
        .iter()
        .zip(set)
        .filter(|(_, set)| *set)
        .map(|((key, _), _)| *key)
        .collect()
}

/// Clears one provider-only option (by config key) from `args`.
pub fn clear_provider_option(args: &mut RunArgs, key: &str) {
    match key {
        "area" => args.area = None,
        "force" => args.force = None,
        "l2_preload" => args.l2_preload = None,
        "aliyun_signature" => args.aliyun_signature = None,
        "refresh_mode" => args.refresh_mode = None,
        "enterprise_project_id" => args.enterprise_project_id = None,
        _ => {}
    }
}

/// The names of the environment variables that hold a target's credentials; unset ones
/// are the provider's standard variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialVars {
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub security_token: Option<String>,
    /// Huawei Cloud's account id (`X-Domain-Id`).
    pub domain_id: Option<String>,
}

/// One CDN of a run with several (`targets:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetConfig {
    pub name: String,
    /// Host names this target serves (`*.example.com` matches any subdomain); empty: every
    /// URL of the plan.
    pub sites: Vec<String>,
    pub credentials: CredentialVars,
    /// The target's own options; `provider` is always set.
    pub run: RunDefaults,
}

/// A validated config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `mapping` rules, each with its line in the file; empty when the key is absent.
    pub mapping: Vec<(usize, String)>,
    /// `whole_site` globs, each with its line in the file.
    pub whole_site: Vec<(usize, String)>,
    pub map_options: MapOptions,
    pub collapse_threshold: Option<usize>,
    pub on_missing_base: Option<OnMissingBase>,
    pub run: RunDefaults,
    /// Several CDNs fed by one plan; empty for a run on one provider.
    pub targets: Vec<TargetConfig>,
}

/// A config file that cannot be used; nothing was sent.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file cannot be read.
    Read { file: String, problem: String },
    /// A key that is unknown, of the wrong type, or has a bad value.
    Invalid {
        file: String,
        line: Option<usize>,
        /// The key's path, as `index_urls[1]`.
        key: String,
        problem: String,
        fix: String,
    },
    /// Mapping rules that cannot be used: every bad one, with its line in the file.
    Rules {
        file: String,
        errors: Vec<RuleError>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, problem } => write!(
                f,
                "{file}: cannot read the config file: {problem}\n  fix: give the path of a \
                 readable YAML file with --config, or remove the option"
            ),
            ConfigError::Invalid {
                file,
                line,
                key,
                problem,
                fix,
            } => {
                use crate::echo::{SERVER, VALUE, cap};
                match line {
                    Some(line) => write!(f, "{file} line {line}: ")?,
                    None => write!(f, "{file}: ")?,
                }
                write!(
                    f,
                    "{}: {}\n  fix: {}",
                    cap(key, VALUE),
                    cap(problem, SERVER),
                    cap(fix, SERVER)
                )
            }
            ConfigError::Rules { file, errors } => {
                writeln!(
                    f,
                    "{file}: {} invalid mapping rule{}; nothing was sent",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                )?;
                for e in errors {
                    use crate::echo::{SERVER, VALUE, cap};
                    writeln!(
                        f,
                        "  line {}: {}\n    {}",
                        e.line,
                        cap(&e.text, VALUE),
                        cap(&e.reason, SERVER)
                    )?;
                }
                write!(
                    f,
                    "  fix: correct or remove these rules (see docs/mapping.md)"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Rules as a YAML list of strings or as one block string.
#[derive(Debug)]
enum RawRules {
    Block(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawRules {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RulesVisitor;
        impl<'de> Visitor<'de> for RulesVisitor {
            type Value = RawRules;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules, or a block string (`|`) with one rule per line")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRules, E> {
                Ok(RawRules::Block(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRules, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element()? {
                    rules.push(rule);
                }
                Ok(RawRules::List(rules))
            }
        }
        deserializer.deserialize_any(RulesVisitor)
    }
}

type Text = Option<Spanned<String>>;

/// The file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: Option<Spanned<u32>>,
    mapping: Option<Spanned<RawRules>>,
    whole_site: Option<Vec<Spanned<String>>>,
    index_files: Option<Vec<Spanned<String>>>,
    index_urls: Option<Spanned<Vec<IndexUrl>>>,
    pretty_urls: Option<bool>,
    collapse_threshold: Option<Spanned<usize>>,
    on_missing_base: Option<OnMissingBase>,
    provider: Text,
    task: Text,
    object_type: Text,
    area: Text,
    force: Option<bool>,
    l2_preload: Option<bool>,
    dry_run: Option<bool>,
    wait: Option<bool>,
    timeout: Text,
    poll_interval: Text,
    endpoint: Text,
    qps: Option<Spanned<u32>>,
    concurrency: Option<Spanned<usize>>,
    batch_size: Option<Spanned<usize>>,
    report: Text,
    fail_on: Text,
    on_dir_refresh_denied: Text,
    aliyun_signature: Text,
    refresh_mode: Text,
    enterprise_project_id: Text,
    targets: Option<Spanned<Vec<Spanned<RawTarget>>>>,
}

/// One entry of `targets:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Text,
    provider: Text,
    sites: Option<Vec<Spanned<String>>>,
    credentials: Option<RawCredentials>,
    endpoint: Text,
    area: Text,
    force: Option<bool>,
    l2_preload: Option<bool>,
    aliyun_signature: Text,
    refresh_mode: Text,
    enterprise_project_id: Text,
    qps: Option<Spanned<u32>>,
    concurrency: Option<Spanned<usize>>,
    batch_size: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    access_key_id: Text,
    access_key_secret: Text,
    security_token: Text,
    domain_id: Text,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            file: file.clone(),
            problem: e.to_string(),
        })?;
        Config::parse(&text, &file)
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut path = String::new();
        let raw: RawConfig = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        })
        .map_err(|e| yaml_error(file, &path, &e))?;
        Validator { file }.config(raw)
    }

    /// The rule set: the `whole_site` globs first (so they win), then the `mapping` rules, or
    /// the rules of `mapping_flag` (the `--mapping` input, lines numbered from 1) in their place.
    pub fn rules(&self, mapping_flag: Option<&str>) -> Result<RuleSet, Vec<RuleError>> {
        let mut lines: Vec<(usize, String)> = self
            .whole_site
            .iter()
            .map(|(line, glob)| (*line, format!("{glob} => {WHOLE_SITE}")))
            .collect();
        match mapping_flag {
            Some(text) => lines.extend(
                text.lines()
                    .enumerate()
                    .map(|(i, rule)| (i + 1, rule.to_string())),
            ),
            None => lines.extend(self.mapping.iter().cloned()),
        }
        RuleSet::from_lines(
            lines.iter().map(|(line, text)| (*line, text.as_str())),
            &self.map_options,
        )
    }
}

/// Turns a YAML or type error into one that names the key and the line.
fn yaml_error(file: &str, path: &str, error: &serde_saphyr::Error) -> ConfigError {
    let location = error.location();
    let line = location.as_ref().map(|l| l.line() as usize);
    let mut problem = error.without_snippet().to_string();
    if let Some(l) = &location {
        let suffix = format!(" at line {}, column {}", l.line(), l.column());
        if let Some(stripped) = problem.strip_suffix(&suffix) {
            problem = stripped.to_string();
        }
    }
    // `Spanned` values add a `value` step to the path; no key of ours is named `value`.
    let key = match path.replace(".value", "").as_str() {
        "" | "." | "?" => "(top level)".to_string(),
        path => path.to_string(),
    };
    let fix = if let Some((_, known)) = problem
        .strip_prefix("unknown field")
        .and_then(|rest| rest.split_once("expected one of "))
    {
        let known = known.to_string();
        let snake = key.replace('-', "_");
        problem = problem
            .split_once(", expected")
            .map_or(problem.clone(), |(head, _)| head.to_string())
            .replacen("unknown field", "unknown key", 1);
        if snake != key && known.split(", ").any(|k| k == snake) {
            format!("write `{snake}`: keys are spelled with underscores")
        } else {
            format!("use one of the known keys: {known} (docs/mapping.md describes each)")
        }
    } else if let Some(rest) = problem.strip_prefix("duplicate mapping key: ") {
        let name = rest.split(',').next().unwrap_or(rest).trim().to_string();
        problem = format!("the key `{name}` appears twice");
        format!("keep one `{name}`")
    } else if problem.starts_with("invalid u") || problem.starts_with("invalid i") {
        problem = "expected a whole number".to_string();
        "write a number without quotes or units, such as 100".to_string()
    } else if problem.starts_with("invalid boolean") {
        problem = "expected true or false".to_string();
        "write true or false".to_string()
    } else if problem.contains("unknown variant") {
        "use one of the values listed above".to_string()
    } else if key.starts_with("mapping") || key.starts_with("whole_site") {
        if problem.starts_with("cannot deserialize null") {
            problem = "the entry is empty, or YAML read it as a tag (`!`)".to_string();
        }
        "in a YAML list, quote a rule that starts with `!`, `*`, `&`, `[` or `{` \
         (`- \"!public/**/*.map\"`), or write the rules as a block string (`mapping: |`), \
         where nothing needs quoting"
            .to_string()
    } else {
        "correct the value's type or the YAML syntax at that line (docs/mapping.md has examples)"
            .to_string()
    };
    ConfigError::Invalid {
        file: file.to_string(),
        line,
        key,
        problem,
        fix,
    }
}

struct Validator<'a> {
    file: &'a str,
}

fn line_of<T>(value: &Spanned<T>) -> usize {
    value.referenced.line() as usize
}

impl Validator<'_> {
    fn invalid(
        &self,
        line: Option<usize>,
        key: &str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line,
            key: key.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// A string value that must be one of `allowed` (case-insensitive, `_` as `-`).
    /// Checks a value against the table `settings` parses the same option with, and keeps the
    /// user's spelling: `settings` turns it into its type once flags and env have had their say.
    fn one_of<T: Copy>(
        &self,
        key: &str,
        value: Text,
        table: &[(&str, T)],
    ) -> Result<Option<String>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        if settings::lookup(table, &value.value).is_some() {
            Ok(Some(value.value))
        } else {
            let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
            Err(self.invalid(
                Some(line_of(&value)),
                key,
                format!("unknown value `{}`", value.value),
                format!("use one of: {}", names.join(", ")),
            ))
        }
    }

    fn value_enum<T: ValueEnum>(&self, key: &str, value: Text) -> Result<Option<T>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        T::from_str(&value.value, true).map(Some).map_err(|_| {
            let known: Vec<String> = T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
                .collect();
            self.invalid(
                Some(line_of(&value)),
                key,
                format!("unknown value `{}`", value.value),
                format!("use one of: {}", known.join(", ")),
            )
        })
    }

    fn duration(&self, key: &str, value: Text) -> Result<Option<String>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let text = value.value.trim();
        if text.parse::<u64>().is_ok() || humantime::parse_duration(text).is_ok() {
            Ok(Some(text.to_string()))
        } else {
            Err(self.invalid(
                Some(line_of(&value)),
                key,
                format!("`{text}` is not a duration"),
                "give seconds (600) or a duration such as 90s, 10m, 1h",
            ))
        }
    }

    fn positive<T: Copy + PartialEq + Default>(
        &self,
        key: &str,
        value: Option<Spanned<T>>,
    ) -> Result<Option<T>, ConfigError> {
        match value {
            Some(v) if v.value == T::default() => Err(self.invalid(
                Some(line_of(&v)),
                key,
                "must be at least 1",
                format!("give a positive number, or remove `{key}` for the default"),
            )),
            other => Ok(other.map(|v| v.value)),
        }
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        if let Some(version) = raw.version.as_ref().filter(|v| v.value != VERSION) {
            return Err(self.invalid(
                Some(line_of(version)),
                "version",
                format!("version {} is not supported", version.value),
                format!("write `version: {VERSION}`, or upgrade cdn-refresh"),
            ));
        }

        let mut map_options = MapOptions::default();
        if let Some(names) = raw.index_files {
            map_options.index_files = Vec::new();
            for (i, name) in names.into_iter().enumerate() {
                let text = name.value.trim();
                if text.is_empty() || text.contains('/') {
                    return Err(self.invalid(
                        Some(line_of(&name)),
                        &format!("index_files[{i}]"),
                        format!("`{text}` is not a file name"),
                        "give plain file names such as index.html (no folders)",
                    ));
                }
                map_options.index_files.push(text.to_string());
            }
        }
        if let Some(urls) = raw.index_urls {
            if urls.value.is_empty() {
                return Err(self.invalid(
                    Some(line_of(&urls)),
                    "index_urls",
                    "the list is empty, so an index file would map to no URL",
                    "list at least one of slash, bare, file; to map index files like any other \
                     file, write `index_files: []` instead",
                ));
            }
            map_options.index_urls = urls.value;
        }
        map_options.pretty_urls = raw.pretty_urls.unwrap_or(false);

        let mut whole_site = Vec::new();
        for (i, glob) in raw.whole_site.into_iter().flatten().enumerate() {
            let line = line_of(&glob);
            let text = glob.value.trim();
            let key = format!("whole_site[{i}]");
            if text.starts_with('!') || text.contains("=>") {
                return Err(self.invalid(
                    Some(line),
                    &key,
                    format!("`{text}` is a rule, not a glob"),
                    "list globs only (such as layouts/**); put exclude and mapping rules under \
                     `mapping`",
                ));
            }
            rules::check_glob(text)
                .map_err(|reason| self.invalid(Some(line), &key, reason, "correct the glob"))?;
            whole_site.push((line, text.to_string()));
        }

        let mapping = match raw.mapping {
            None => Vec::new(),
            Some(spanned) => {
                let line = line_of(&spanned);
                match spanned.value {
                    RawRules::List(items) => items
                        .into_iter()
                        .map(|item| (line_of(&item), item.value))
                        .collect(),
                    RawRules::Block(text) => {
                        // The span starts at the first non-blank line of the block.
                        let blank = text.len() - text.trim_start_matches('\n').len();
                        let first = line.saturating_sub(blank);
                        text.lines()
                            .enumerate()
                            .map(|(i, rule)| (first + i, rule.to_string()))
                            .collect()
                    }
                }
            }
        };

        let config = Config {
            mapping,
            whole_site,
            map_options,
            collapse_threshold: self.positive("collapse_threshold", raw.collapse_threshold)?,
            on_missing_base: raw.on_missing_base,
            run: RunDefaults {
                provider: self.value_enum::<ProviderKind>("provider", raw.provider)?,
                task: self.one_of("task", raw.task, settings::TASKS)?,
                object_type: self.one_of("object_type", raw.object_type, settings::OBJECT_TYPES)?,
                area: self.one_of("area", raw.area, settings::AREAS)?,
                force: raw.force,
                l2_preload: raw.l2_preload,
                dry_run: raw.dry_run,
                wait: raw.wait,
                timeout: self.duration("timeout", raw.timeout)?,
                poll_interval: self.duration("poll_interval", raw.poll_interval)?,
                endpoint: self.endpoint(raw.endpoint)?,
                qps: self.positive("qps", raw.qps)?,
                concurrency: self.positive("concurrency", raw.concurrency)?,
                batch_size: self.positive("batch_size", raw.batch_size)?,
                report: raw.report.map(|r| PathBuf::from(r.value)),
                fail_on: self.one_of("fail_on", raw.fail_on, settings::FAIL_ON)?,
                on_dir_refresh_denied: self.one_of(
                    "on_dir_refresh_denied",
                    raw.on_dir_refresh_denied,
                    settings::DIR_REFRESH_DENIED,
                )?,
                aliyun_signature: self
                    .value_enum::<SignatureVersion>("aliyun_signature", raw.aliyun_signature)?,
                refresh_mode: self.one_of(
                    "refresh_mode",
                    raw.refresh_mode,
                    settings::REFRESH_MODES,
                )?,
                enterprise_project_id: raw.enterprise_project_id.map(|v| v.value),
            },
            targets: Vec::new(),
        };
        let mut config = config;
        if let Some(targets) = raw.targets {
            config.targets = self.targets(targets, &config.run)?;
        }
        if !config.mapping.is_empty() {
            config.rules(None).map_err(|errors| ConfigError::Rules {
                file: self.file.to_string(),
                errors,
            })?;
        }
        Ok(config)
    }

    /// `targets:`: each entry checked on its own, then the names for clashes.
    fn targets(
        &self,
        list: Spanned<Vec<Spanned<RawTarget>>>,
        top: &RunDefaults,
    ) -> Result<Vec<TargetConfig>, ConfigError> {
        let line = line_of(&list);
        if list.value.is_empty() {
            return Err(self.invalid(
                Some(line),
                "targets",
                "the list is empty",
                "list at least one target (name and provider), or remove `targets`",
            ));
        }
        for (key, set) in [
            ("provider", top.provider.is_some()),
            ("endpoint", top.endpoint.is_some()),
        ] {
            if set {
                return Err(self.invalid(
                    Some(line),
                    key,
                    format!("a top-level `{key}` is ambiguous beside `targets`"),
                    format!("move `{key}` into each target"),
                ));
            }
        }
        let mut targets: Vec<TargetConfig> = Vec::new();
        for (i, entry) in list.value.into_iter().enumerate() {
            let target = self.target(i, entry)?;
            if let Some(first) = targets.iter().position(|t| t.name == target.name) {
                return Err(self.invalid(
                    None,
                    &format!("targets[{i}].name"),
                    format!("`{}` is also the name of targets[{first}]", target.name),
                    "give each target a name of its own",
                ));
            }
            targets.push(target);
        }
        for (key, takers) in PROVIDER_OPTIONS {
            let top_set = match *key {
                "area" => top.area.is_some(),
                "force" => top.force.is_some(),
                "l2_preload" => top.l2_preload.is_some(),
                "aliyun_signature" => top.aliyun_signature.is_some(),
                "refresh_mode" => top.refresh_mode.is_some(),
                _ => top.enterprise_project_id.is_some(),
            };
            let taken = targets
                .iter()
                .any(|t| t.run.provider.is_some_and(|p| takers.contains(&p)));
            if top_set && !taken {
                return Err(self.invalid(
                    Some(line),
                    key,
                    format!("no target is of a provider that takes `{key}`"),
                    format!("remove `{key}`, or move it into the target it is meant for"),
                ));
            }
        }
        Ok(targets)
    }

    fn target(&self, i: usize, entry: Spanned<RawTarget>) -> Result<TargetConfig, ConfigError> {
        let line = line_of(&entry);
        let raw = entry.value;
        let at = |key: &str| format!("targets[{i}].{key}");
        let name = raw.name.ok_or_else(|| {
            self.invalid(
                Some(line),
                &format!("targets[{i}]"),
                "the target has no `name`",
                "give it a short name such as `mainland` (letters, digits, - and _)",
            )
        })?;
        let name_ok = name.value.len() <= 32
            && name.value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(self.invalid(
                Some(line_of(&name)),
                &at("name"),
                format!("`{}` is not a target name", name.value),
                "use up to 32 letters, digits, - and _, starting with a letter or digit (it names the target in outputs and in the report)",
            ));
        }
        let provider_line = raw.provider.as_ref().map(line_of);
        let provider = self
            .value_enum::<ProviderKind>(&at("provider"), raw.provider)?
            .ok_or_else(|| {
                self.invalid(
                    Some(line),
                    &at("provider"),
                    format!("target `{}` has no provider", name.value),
                    "add `provider: aliyun`, `qiniu` or `huawei`",
                )
            })?;
        for (key, set) in [
            ("area", raw.area.is_some()),
            ("force", raw.force.is_some()),
            ("l2_preload", raw.l2_preload.is_some()),
            ("aliyun_signature", raw.aliyun_signature.is_some()),
            ("refresh_mode", raw.refresh_mode.is_some()),
            ("enterprise_project_id", raw.enterprise_project_id.is_some()),
        ] {
            let takers = PROVIDER_OPTIONS
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(&[][..], |(_, p)| *p);
            if set && !takers.contains(&provider) {
                return Err(self.invalid(
                    provider_line,
                    &at(key),
                    format!("`{key}` does not apply to {provider}"),
                    format!("remove it from target `{}`", name.value),
                ));
            }
        }
        let mut sites = Vec::new();
        for (j, site) in raw.sites.into_iter().flatten().enumerate() {
            sites.push(self.site(&at(&format!("sites[{j}]")), site)?);
        }
        let credentials = match raw.credentials {
            None => CredentialVars::default(),
            Some(c) => {
                let var = |key: &str, value: Text| -> Result<Option<String>, ConfigError> {
                    let Some(value) = value else { return Ok(None) };
                    let v = value.value.trim();
                    let ok = v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(self.invalid(
                            Some(line_of(&value)),
                            &at(&format!("credentials.{key}")),
                            format!("`{v}` is not the name of an environment variable"),
                            "give the NAME of the variable that holds the credential (such as MAINLAND_AK), never the credential itself",
                        ));
                    }
                    Ok(Some(v.to_string()))
                };
                let vars = CredentialVars {
                    access_key_id: var("access_key_id", c.access_key_id)?,
                    access_key_secret: var("access_key_secret", c.access_key_secret)?,
                    security_token: var("security_token", c.security_token)?,
                    domain_id: var("domain_id", c.domain_id)?,
                };
                for (key, set, takers) in [
                    (
                        "security_token",
                        vars.security_token.is_some(),
                        &[ProviderKind::Aliyun, ProviderKind::Huawei][..],
                    ),
                    (
                        "domain_id",
                        vars.domain_id.is_some(),
                        &[ProviderKind::Huawei][..],
                    ),
                ] {
                    if set && !takers.contains(&provider) {
                        return Err(self.invalid(
                            provider_line,
                            &at(&format!("credentials.{key}")),
                            format!("{provider} has no {key}"),
                            format!("remove it from target `{}`", name.value),
                        ));
                    }
                }
                vars
            }
        };
        Ok(TargetConfig {
            name: name.value,
            sites,
            credentials,
            run: RunDefaults {
                provider: Some(provider),
                endpoint: self.endpoint(raw.endpoint)?,
                area: self.one_of(&at("area"), raw.area, settings::AREAS)?,
                force: raw.force,
                l2_preload: raw.l2_preload,
                aliyun_signature: self.value_enum::<SignatureVersion>(
                    &at("aliyun_signature"),
                    raw.aliyun_signature,
                )?,
                refresh_mode: self.one_of(
                    &at("refresh_mode"),
                    raw.refresh_mode,
                    settings::REFRESH_MODES,
                )?,
                enterprise_project_id: raw.enterprise_project_id.map(|v| v.value),
                qps: self.positive(&at("qps"), raw.qps)?,
                concurrency: self.positive(&at("concurrency"), raw.concurrency)?,
                batch_size: self.positive(&at("batch_size"), raw.batch_size)?,
                ..RunDefaults::default()
            },
        })
    }

    /// One `sites` entry: a host name, or `*.` and a domain.
    fn site(&self, key: &str, site: Spanned<String>) -> Result<String, ConfigError> {
        let text = site.value.trim().to_ascii_lowercase();
        let host = text.strip_prefix("*.").unwrap_or(&text);
        let ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if ok {
            return Ok(text);
        }
        let fix = match url::Url::parse(&text)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        {
            Some(h) => format!("write the host name alone: {h}"),
            None => {
                "write a host name such as www.example.com, or *.example.com for its subdomains"
                    .into()
            }
        };
        Err(self.invalid(
            Some(line_of(&site)),
            key,
            format!("`{}` is not a host name", site.value),
            fix,
        ))
    }

    fn endpoint(&self, value: Text) -> Result<Option<String>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let ok = url::Url::parse(&value.value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if ok {
            Ok(Some(value.value))
        } else {
            Err(self.invalid(
                Some(line_of(&value)),
                "endpoint",
                format!("`{}` is not an http(s) URL", value.value),
                "give a base URL such as https://cdn.aliyuncs.com or http://127.0.0.1:PORT",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "c.yml")
    }

    #[test]
    fn empty_file_is_the_default_config() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("# nothing yet\n").unwrap(), Config::default());
    }

    #[test]
    fn block_string_rules_keep_their_file_lines() {
        let c = parse("version: 1\nmapping: |\n\n  public/** => https://a.com/{path}\n  # c\n")
            .unwrap();
        assert_eq!(
            c.mapping[1],
            (4, "public/** => https://a.com/{path}".into())
        );
    }

    fn invalid_key(text: &str) -> (String, String) {
        match parse(text) {
            Err(ConfigError::Invalid { key, problem, .. }) => (key, problem),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn targets_are_read_with_their_own_options() {
        let c = parse(
            "targets:\n  - name: cn\n    provider: aliyun\n    area: domestic\n    sites: [www.example.cn]\n  - name: intl\n    provider: huawei\n    refresh_mode: detect-modified\n    sites: ['*.Example.com']\n    credentials:\n      access_key_id: HW_AK\n      access_key_secret: HW_SK\n      domain_id: HW_DOMAIN\n    qps: 5\n",
        )
        .unwrap();
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.targets[0].run.provider, Some(ProviderKind::Aliyun));
        assert_eq!(c.targets[0].run.area.as_deref(), Some("domestic"));
        assert_eq!(c.targets[1].sites, ["*.example.com"]);
        assert_eq!(
            c.targets[1].credentials.access_key_secret.as_deref(),
            Some("HW_SK")
        );
        assert_eq!(c.targets[1].run.qps, Some(5));
        assert_eq!(
            c.targets[1].run.refresh_mode.as_deref(),
            Some("detect-modified")
        );
    }

    #[test]
    fn bad_targets_name_the_key_and_the_fix() {
        let one = |rest: &str| format!("targets:\n  - name: a\n    provider: aliyun\n{rest}");
        assert_eq!(
            invalid_key(
                "targets:\n  - name: a\n    provider: aliyun\n  - name: a\n    provider: qiniu\n"
            )
            .0,
            "targets[1].name"
        );
        assert_eq!(
            invalid_key("targets:\n  - name: a\n").0,
            "targets[0].provider"
        );
        assert_eq!(
            invalid_key("targets:\n  - provider: qiniu\n").0,
            "targets[0]"
        );
        assert_eq!(
            invalid_key("targets:\n  - name: 'a b'\n    provider: qiniu\n").0,
            "targets[0].name"
        );
        assert_eq!(
            invalid_key(&one("    refresh_mode: all\n")).0,
            "targets[0].refresh_mode"
        );
        let (key, problem) = invalid_key(&one("    sites: ['https://www.example.com/']\n"));
        assert_eq!(
            (key.as_str(), problem.contains("not a host name")),
            ("targets[0].sites[0]", true)
        );
        let (key, problem) = invalid_key(&one(
            "    credentials:\n      access_key_secret: 'abc/def+ghi='\n",
        ));
        assert_eq!(key, "targets[0].credentials.access_key_secret");
        assert!(problem.contains("not the name of an environment variable"));
        assert_eq!(
            invalid_key(&format!("provider: qiniu\n{}", one(""))).0,
            "provider"
        );
        assert_eq!(
            invalid_key(&format!("refresh_mode: all\n{}", one(""))).0,
            "refresh_mode"
        );
        assert_eq!(invalid_key("targets: []\n").0, "targets");
        assert!(matches!(
            parse(&one("    colour: blue\n")),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
