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
//! add nesting to learn for nothing. A `targets:` list (several CDNs) holds the provider keys
//! per target. The keys only some providers take (`area`, `refresh_mode`, …) are the
//! providers' own declarations, read beside the file's keys ([`WithExtras`]).
//!
//! The file is parsed raw with `serde-saphyr` (pure Rust, no `unsafe`, line numbers on every
//! value through `Spanned`) wrapped in `serde_path_to_error`, so a type error names the key path
//! (`index_urls[1]`) as well as the line; unknown keys are an error with the list of known ones.
//! Then every value is checked here, with an error that names the key, the line and the fix, so
//! a mistake in the file is reported as the file's rather than as a flag's. Values are typed
//! here into [`Options`], with the same tables the flags are read with
//! ([`crate::input::options`]). Whether the file is read at all, and the precedence (flags,
//! then env, then the file: [`Options::or`]), are the caller's.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::input::options::{self, Options};
use crate::plan::rules::{self, IndexUrl, MapOptions, RuleError, RuleSet, WHOLE_SITE};
use crate::providers::ProviderKind;
use crate::providers::registry::{OptionKind, OptionValue, lookup};

/// The default file name, read when present and `--config` is not given.
pub const DEFAULT_FILE: &str = ".cdn-refresh.yml";

/// The schema version this program reads.
pub const VERSION: u32 = 1;

/// What to do when the diff base cannot be found: the policy of `--on-missing-base`.
pub use crate::plan::changes::MissingBase as OnMissingBase;

/// The names of the environment variables that hold a target's credentials; unset ones
/// are the provider's standard variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialVars {
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
    pub security_token: Option<String>,
    /// The provider's other values, by key (Huawei Cloud's `domain_id`, its account id).
    pub extra: BTreeMap<&'static str, String>,
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
    pub run: Options,
}

/// A validated config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `mapping` rules, each with its line in the file; empty when the key is absent.
    pub mapping: Vec<(usize, String)>,
    /// `whole_site` globs, each with its line in the file.
    pub whole_site: Vec<(usize, String)>,
    pub map_options: MapOptions,
    /// The run options it sets (`collapse_threshold`, `on_missing_base` among them).
    pub run: Options,
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
    max_paths: Option<Spanned<usize>>,
    on_missing_base: Option<OnMissingBase>,
    provider: Text,
    task: Text,
    object_type: Text,
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
    verify: Text,
    verify_root: Text,
    verify_connect: Text,
    verify_heal: Option<bool>,
    marker: Text,
    marker_ref: Text,
    targets: Option<Spanned<Vec<Spanned<RawTargetEntry>>>>,
}

/// One entry of `targets:` as written, with its provider options.
type RawTargetEntry = WithExtras<RawTarget, OptionKeys>;

/// One entry of `targets:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Text,
    provider: Text,
    sites: Option<Vec<Spanned<String>>>,
    credentials: Option<WithExtras<RawCredentials, CredentialKeys>>,
    endpoint: Text,
    qps: Option<Spanned<u32>>,
    concurrency: Option<Spanned<usize>>,
    batch_size: Option<Spanned<usize>>,
    verify: Text,
    marker: Text,
    marker_ref: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    access_key_id: Text,
    access_key_secret: Text,
    security_token: Text,
}

/// A value of a key that a provider declares: a switch, or text.
#[derive(Debug)]
enum Extra {
    Switch(Spanned<bool>),
    Text(Spanned<String>),
}

impl Extra {
    fn line(&self) -> usize {
        match self {
            Extra::Switch(v) => line_of(v),
            Extra::Text(v) => line_of(v),
        }
    }
}

/// Which keys of a mapping the providers declare, rather than the struct beside them.
trait ExtraKeys {
    /// The key as declared, and whether it is a switch.
    fn find(key: &str) -> Option<(&'static str, bool)>;
    /// Every such key, for the list of known keys in an error.
    fn all() -> Vec<&'static str>;
}

/// The provider options (`area`, `refresh_mode`, …).
#[derive(Debug)]
struct OptionKeys;

impl ExtraKeys for OptionKeys {
    fn find(key: &str) -> Option<(&'static str, bool)> {
        ProviderKind::any_option(key).map(|o| (o.key, matches!(o.kind, OptionKind::Switch)))
    }
    fn all() -> Vec<&'static str> {
        ProviderKind::option_keys()
    }
}

/// The credential values a provider reads beyond a key pair and a token (`domain_id`).
#[derive(Debug)]
struct CredentialKeys;

impl ExtraKeys for CredentialKeys {
    fn find(key: &str) -> Option<(&'static str, bool)> {
        Self::all()
            .into_iter()
            .find(|k| *k == key)
            .map(|k| (k, false))
    }
    fn all() -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = Vec::new();
        for kind in ProviderKind::all() {
            for (key, _) in kind.spec().credentials.extra {
                if !keys.contains(key) {
                    keys.push(key);
                }
            }
        }
        keys
    }
}

/// A struct of the file's own keys, with the keys the providers declare beside them: those
/// are taken out of the mapping as it is read, the rest go to `T` (which refuses unknown
/// ones), so the file's line numbers and key paths stay on every value.
#[derive(Debug)]
struct WithExtras<T, X> {
    fields: T,
    extras: Vec<(&'static str, Extra)>,
    keys: PhantomData<X>,
}

impl<'de, T: Deserialize<'de>, X: ExtraKeys> Deserialize<'de> for WithExtras<T, X> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T, X>(PhantomData<(T, X)>);
        impl<'de, T: Deserialize<'de>, X: ExtraKeys> Visitor<'de> for MapVisitor<T, X> {
            type Value = WithExtras<T, X>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let mut extras = Vec::new();
                let filter = Filter::<A, X> {
                    inner: map,
                    extras: &mut extras,
                    keys: PhantomData,
                };
                let fields = T::deserialize(de::value::MapAccessDeserializer::new(filter))?;
                Ok(WithExtras {
                    fields,
                    extras,
                    keys: PhantomData,
                })
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// A key of the struct, or a declared one (and whether it is a switch).
enum KeyOr<F> {
    Field(F),
    Extra(&'static str, bool),
}

/// Reads a key as text, then gives it to the struct's own key seed unless a provider
/// declares it. Read through the caller's deserializer, so an unknown key's error names it.
struct KeySeed<'a, K, X> {
    seed: &'a mut Option<K>,
    keys: PhantomData<X>,
}

impl<'de, K: DeserializeSeed<'de>, X: ExtraKeys> DeserializeSeed<'de> for KeySeed<'_, K, X> {
    type Value = KeyOr<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        if let Some((declared, switch)) = X::find(&key) {
            return Ok(KeyOr::Extra(declared, switch));
        }
        let seed = self.seed.take().expect("a key seed is used once");
        seed.deserialize(de::value::StringDeserializer::<D::Error>::new(key))
            .map(KeyOr::Field)
    }
}

/// A mapping with the declared keys taken out.
struct Filter<'a, A, X> {
    inner: A,
    extras: &'a mut Vec<(&'static str, Extra)>,
    keys: PhantomData<X>,
}

impl<'de, A: MapAccess<'de>, X: ExtraKeys> MapAccess<'de> for Filter<'_, A, X> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        loop {
            let key = KeySeed::<K, X> {
                seed: &mut seed,
                keys: PhantomData,
            };
            let (declared, switch) = match self.inner.next_key_seed(key)? {
                None => return Ok(None),
                Some(KeyOr::Field(field)) => return Ok(Some(field)),
                Some(KeyOr::Extra(declared, switch)) => (declared, switch),
            };
            let value = if switch {
                Extra::Switch(self.inner.next_value()?)
            } else {
                Extra::Text(self.inner.next_value()?)
            };
            self.extras.push((declared, value));
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
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
        let raw: WithExtras<RawConfig, OptionKeys> =
            serde_saphyr::with_deserializer_from_str(text, |de| {
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

/// Whether a value where a variable name belongs looks like a key or a secret instead: a
/// provider key prefix (Alibaba Cloud `LTAI`, STS `STS.`, AWS `AKIA`/`ASIA`), or a long run
/// of mixed letters and digits without the underscores of a variable name.
pub fn looks_like_credential(v: &str) -> bool {
    let prefixed = ["LTAI", "STS.", "AKIA", "ASIA"]
        .iter()
        .any(|p| v.starts_with(p) && v.len() >= 16);
    let has = |f: fn(&char) -> bool| v.chars().any(|c| f(&c));
    let mixed = has(char::is_ascii_lowercase) && has(char::is_ascii_uppercase);
    let long_run = !v.contains('_') && v.len() >= 16 && has(char::is_ascii_digit) && mixed;
    let not_a_name = v.len() >= 20 && has(|c| matches!(c, '+' | '/' | '=' | '-'));
    prefixed || long_run || not_a_name || (v.len() >= 32 && !v.contains('_'))
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
        // The keys the providers declare are read beside the struct, which does not know
        // them: they join its list.
        let declared = if key.contains("credentials") {
            CredentialKeys::all()
        } else {
            OptionKeys::all()
        };
        let mut known = known.to_string();
        for k in declared {
            known.push_str(&if known.contains('`') {
                format!(", `{k}`")
            } else {
                format!(", {k}")
            });
        }
        let snake = key.replace('-', "_");
        problem = problem
            .split_once(", expected")
            .map_or(problem.clone(), |(head, _)| head.to_string())
            .replacen("unknown field", "unknown key", 1);
        let names: Vec<&str> = known.split(", ").map(|k| k.trim_matches('`')).collect();
        let nearest = names
            .iter()
            .map(|k| (strsim::levenshtein(k, &snake), *k))
            .filter(|(d, _)| *d <= 2)
            .min();
        if snake != key && names.contains(&snake.as_str()) {
            format!("write `{snake}`: keys are spelled with underscores")
        } else if let Some((_, near)) = nearest {
            format!("did you mean `{near}`? (known keys: {known})")
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

    /// A string value that must be one of `table`'s spellings (case-insensitive, `_` as
    /// `-`): the tables the flags are read with, so the two never disagree.
    fn one_of<T: Copy>(
        &self,
        key: &str,
        value: Text,
        table: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        if let Some(v) = lookup(table, &value.value) {
            Ok(Some(v))
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

    /// `provider:`: one of the registered providers.
    fn provider(&self, key: &str, value: Text) -> Result<Option<ProviderKind>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        ProviderKind::named(&value.value).map(Some).ok_or_else(|| {
            let known: Vec<&str> = ProviderKind::all().map(ProviderKind::name).collect();
            self.invalid(
                Some(line_of(&value)),
                key,
                format!("unknown value `{}`", value.value),
                format!("use one of: {}", known.join(", ")),
            )
        })
    }

    /// The provider options of one mapping, each checked against its declaration, with
    /// its line; `at` names a key in errors.
    fn provider_options(
        &self,
        extras: Vec<(&'static str, Extra)>,
        at: impl Fn(&str) -> String,
    ) -> Result<BTreeMap<&'static str, (usize, OptionValue)>, ConfigError> {
        let mut out = BTreeMap::new();
        for (key, raw) in extras {
            let line = raw.line();
            let spec = ProviderKind::any_option(key).expect("only declared keys are taken out");
            let value = match (raw, &spec.kind) {
                (Extra::Switch(b), _) => OptionValue::Switch(b.value),
                (Extra::Text(t), OptionKind::Choice { spellings, .. }) => {
                    match lookup(spellings, &t.value) {
                        Some(v) => OptionValue::Choice(v),
                        None => {
                            let names: Vec<&str> = spellings.iter().map(|(n, _)| *n).collect();
                            return Err(self.invalid(
                                Some(line),
                                &at(key),
                                format!("unknown value `{}`", t.value),
                                format!("use one of: {}", names.join(", ")),
                            ));
                        }
                    }
                }
                (Extra::Text(t), _) => OptionValue::Text(t.value),
            };
            out.insert(key, (line, value));
        }
        Ok(out)
    }

    fn duration(&self, key: &str, value: Text) -> Result<Option<Duration>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let text = value.value.trim();
        if text.parse::<u64>().is_err() && humantime::parse_duration(text).is_err() {
            return Err(self.invalid(
                Some(line_of(&value)),
                key,
                format!("`{text}` is not a duration"),
                "give seconds (600) or a duration such as 90s, 10m, 1h",
            ));
        }
        options::duration(text)
            .map(Some)
            .map_err(|(problem, fix)| self.invalid(Some(line_of(&value)), key, problem, fix))
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

    fn config(&self, raw: WithExtras<RawConfig, OptionKeys>) -> Result<Config, ConfigError> {
        let top_options = self.provider_options(raw.extras, |key| key.to_string())?;
        let raw = raw.fields;
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
            run: Options {
                collapse_threshold: self.positive("collapse_threshold", raw.collapse_threshold)?,
                max_paths: self.positive("max_paths", raw.max_paths)?,
                on_missing_base: raw.on_missing_base,
                provider: self.provider("provider", raw.provider)?,
                task: self.one_of("task", raw.task, options::TASKS)?,
                object_type: self.one_of("object_type", raw.object_type, options::OBJECT_TYPES)?,
                dry_run: raw.dry_run,
                wait: raw.wait,
                timeout: self.duration("timeout", raw.timeout)?,
                poll_interval: self.duration("poll_interval", raw.poll_interval)?,
                endpoint: self.endpoint(raw.endpoint)?,
                qps: self.positive("qps", raw.qps)?,
                concurrency: self.positive("concurrency", raw.concurrency)?,
                batch_size: self.positive("batch_size", raw.batch_size)?,
                report: raw.report.map(|r| PathBuf::from(r.value)),
                fail_on: self.one_of("fail_on", raw.fail_on, options::FAIL_ON)?,
                on_dir_refresh_denied: self.one_of(
                    "on_dir_refresh_denied",
                    raw.on_dir_refresh_denied,
                    options::DIR_REFRESH_DENIED,
                )?,
                verify: self.one_of("verify", raw.verify, crate::verify::VERIFY_MODES)?,
                verify_root: raw.verify_root.map(|r| PathBuf::from(r.value)),
                verify_connect: self.verify_connect(raw.verify_connect)?,
                verify_heal: raw.verify_heal,
                marker: self.marker("marker", raw.marker)?,
                marker_ref: self.marker_ref("marker_ref", raw.marker_ref)?,
                provider_options: top_options
                    .into_iter()
                    .map(|(key, (_, value))| (key, value))
                    .collect(),
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
        list: Spanned<Vec<Spanned<RawTargetEntry>>>,
        top: &Options,
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
        for key in top.provider_options.keys() {
            let taken = targets
                .iter()
                .any(|t| t.run.provider.is_some_and(|p| p.option(key).is_some()));
            if !taken {
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

    fn target(
        &self,
        i: usize,
        entry: Spanned<RawTargetEntry>,
    ) -> Result<TargetConfig, ConfigError> {
        let line = line_of(&entry);
        let at = |key: &str| format!("targets[{i}].{key}");
        let options = self.provider_options(entry.value.extras, at)?;
        let raw = entry.value.fields;
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
            .provider(&at("provider"), raw.provider)?
            .ok_or_else(|| {
                let names: Vec<String> = ProviderKind::all().map(|k| format!("`{k}`")).collect();
                self.invalid(
                    Some(line),
                    &at("provider"),
                    format!("target `{}` has no provider", name.value),
                    format!(
                        "add `provider: {}`, {}",
                        ProviderKind::default_kind(),
                        names[1..].join(" or ")
                    ),
                )
            })?;
        for key in options.keys() {
            if provider.option(key).is_none() {
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
                let extras = c.extras;
                let c = c.fields;
                let var = |key: &str, value: Text| -> Result<Option<String>, ConfigError> {
                    let Some(value) = value else { return Ok(None) };
                    let v = value.value.trim();
                    let ok = v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    // The value is never shown: what stands where a name belongs may well be
                    // the credential itself, pasted in.
                    let problem = if looks_like_credential(v) {
                        "this looks like a credential, not the name of an environment variable (its value is not shown)"
                    } else if !ok {
                        "is not the name of an environment variable (its value is not shown)"
                    } else {
                        return Ok(Some(v.to_string()));
                    };
                    Err(self.invalid(
                        Some(line_of(&value)),
                        &at(&format!("credentials.{key}")),
                        problem,
                        "give the NAME of the variable that holds the credential (such as MAINLAND_AK), never the credential itself; if a key was pasted here, rotate it, since the file is in the repository",
                    ))
                };
                let mut vars = CredentialVars {
                    access_key_id: var("access_key_id", c.access_key_id)?,
                    access_key_secret: var("access_key_secret", c.access_key_secret)?,
                    security_token: var("security_token", c.security_token)?,
                    extra: BTreeMap::new(),
                };
                let standard = &provider.spec().credentials;
                let mut checks = vec![(
                    "security_token",
                    vars.security_token.is_some(),
                    standard.token.is_some(),
                )];
                for (key, value) in extras {
                    let Extra::Text(text) = value else {
                        unreachable!("credential keys are text")
                    };
                    if let Some(name) = var(key, Some(text))? {
                        vars.extra.insert(key, name);
                    }
                    let taken = standard.extra.iter().any(|(k, _)| *k == key);
                    checks.push((key, true, taken));
                }
                for (key, set, taken) in checks {
                    if set && !taken {
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
            run: Options {
                provider: Some(provider),
                endpoint: self.endpoint(raw.endpoint)?,
                provider_options: options
                    .into_iter()
                    .map(|(key, (_, value))| (key, value))
                    .collect(),
                qps: self.positive(&at("qps"), raw.qps)?,
                concurrency: self.positive(&at("concurrency"), raw.concurrency)?,
                batch_size: self.positive(&at("batch_size"), raw.batch_size)?,
                verify: self.one_of(&at("verify"), raw.verify, crate::verify::VERIFY_MODES)?,
                marker: self.marker(&at("marker"), raw.marker)?,
                marker_ref: self.marker_ref(&at("marker_ref"), raw.marker_ref)?,
                ..Options::default()
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

    /// `marker:`: git, site:URL or off.
    fn marker(
        &self,
        key: &str,
        value: Text,
    ) -> Result<Option<crate::marker::MarkerStore>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        crate::marker::MarkerStore::parse(&value.value)
            .map(Some)
            .map_err(|(problem, fix)| self.invalid(Some(line_of(&value)), key, problem, fix))
    }

    /// `marker_ref:`: a ref under refs/, `{target}` standing for the target's name.
    fn marker_ref(&self, key: &str, value: Text) -> Result<Option<String>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let name = value.value.trim().to_string();
        crate::marker::check_ref(&name.replace("{target}", "t"))
            .map(|()| Some(name))
            .map_err(|(problem, fix)| self.invalid(Some(line_of(&value)), key, problem, fix))
    }

    fn verify_connect(&self, value: Text) -> Result<Option<crate::verify::Connect>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        crate::verify::Connect::parse(&value.value)
            .map(Some)
            .map_err(|(problem, fix)| {
                self.invalid(Some(line_of(&value)), "verify_connect", problem, fix)
            })
    }

    fn endpoint(&self, value: Text) -> Result<Option<url::Url>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        options::endpoint(&value.value)
            .map(Some)
            .map_err(|(problem, fix)| self.invalid(Some(line_of(&value)), "endpoint", problem, fix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "c.yml")
    }

    #[test]
    fn verify_keys_at_the_top_and_per_target() {
        use crate::verify::VerifyMode;
        let c = parse(
            "verify: content\nverify_root: public\nverify_connect: http://127.0.0.1:8080\nverify_heal: false\ntargets:\n  - name: a\n    provider: aliyun\n    verify: status\n",
        )
        .unwrap();
        assert_eq!(c.run.verify, Some(VerifyMode::Content));
        assert_eq!(c.run.verify_root.as_deref(), Some(Path::new("public")));
        assert!(c.run.verify_connect.as_ref().is_some_and(|v| v.plain));
        assert_eq!(c.run.verify_heal, Some(false));
        assert_eq!(c.targets[0].run.verify, Some(VerifyMode::Status));
        let e = parse("verify: maybe\n").unwrap_err().to_string();
        assert!(
            e.contains("verify") && e.contains("off, status, content"),
            "{e}"
        );
        assert!(parse("verify_connect: nowhere\n").is_err());
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
        assert_eq!(c.targets[0].run.provider, ProviderKind::named("aliyun"));
        assert_eq!(
            c.targets[0].run.option("area"),
            Some(&OptionValue::Choice("domestic"))
        );
        assert_eq!(c.targets[1].sites, ["*.example.com"]);
        assert_eq!(
            c.targets[1].credentials.access_key_secret.as_deref(),
            Some("HW_SK")
        );
        assert_eq!(c.targets[1].run.qps, Some(5));
        assert_eq!(
            c.targets[1].run.option("refresh_mode"),
            Some(&OptionValue::Choice("detect-modified"))
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
