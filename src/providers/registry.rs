//! What each provider declares about itself, and the list of them.
//!
//! A provider is one folder under `src/providers/` whose `SPEC` says everything the rest of
//! the program needs to know: its name, limits, default endpoint, credential variables, its
//! own options (flags, config keys and accepted values) and how to build a client. The
//! option tables, the credential look-up, the CI secret masks, `--help`, config validation
//! and the client factory all read these declarations, so nothing outside the folder names a
//! provider in code. Adding one is its folder plus its line in [`super`]'s `register!`.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Limits, Provider};
use crate::plan::TaskMode;

/// Everything a provider declares.
pub struct Spec {
    /// Its name on the command line, in the config file and in reports (`aliyun`).
    pub name: &'static str,
    /// Its name in prose (`Alibaba Cloud`).
    pub title: &'static str,
    /// One line for `--help` (`Alibaba Cloud CDN (API 2018-05-10)`).
    pub about: &'static str,
    pub limits: &'static Limits,
    /// The API base URL when `--endpoint` is not given.
    pub default_endpoint: &'static str,
    /// The environment variables its official SDKs read.
    pub credentials: CredentialEnv,
    /// The options only this provider takes.
    pub options: &'static [OptionSpec],
    /// Checks its options against the rest of the run (an option that applies to prefetch
    /// only, given for a refresh).
    pub check: fn(&ProviderOptions, TaskMode) -> Result<(), Misfit>,
    /// A client of the account at `endpoint`.
    pub connect: fn(Connect) -> Result<Box<dyn Provider>, reqwest::Error>,
}

/// The standard environment variables of a provider's credentials.
pub struct CredentialEnv {
    pub id: &'static str,
    pub secret: &'static str,
    /// The temporary-credential token, where the provider has one.
    pub token: Option<&'static str>,
    /// Other values the provider reads (not secrets), by the key a target's `credentials:`
    /// renames them with: Huawei Cloud's `domain_id`.
    pub extra: &'static [(&'static str, &'static str)],
}

/// What a client is built from.
pub struct Connect {
    pub endpoint: url::Url,
    pub credentials: Credentials,
    pub options: ProviderOptions,
    /// What identifies this run to a provider whose submits are made idempotent by a
    /// client token (CloudFront's `CallerReference`): the same for a retry or a resumed
    /// run of the same deploy, different for another deploy.
    pub run: String,
}

/// A key pair, its token when temporary, and the provider's extra values.
pub struct Credentials {
    pub id: String,
    pub secret: SecretString,
    pub token: Option<SecretString>,
    /// Extra values by key (see [`CredentialEnv::extra`]); absent ones are not set.
    pub extra: BTreeMap<&'static str, String>,
}

/// One option only a provider takes: a flag (`--KEY` with `_` as `-`), an input and env
/// fallback as every flag has, and a config key (`KEY`) at the top level or in a target.
pub struct OptionSpec {
    pub key: &'static str,
    /// A one-letter flag, where a seed script had one (`-a` for the area).
    pub short: Option<char>,
    pub value_name: &'static str,
    pub help: &'static str,
    pub kind: OptionKind,
}

impl OptionSpec {
    /// The long flag, `area` → `area`, `l2_preload` → `l2-preload`.
    pub fn flag(&self) -> String {
        self.key.replace('_', "-")
    }
}

/// The values an option takes.
pub enum OptionKind {
    /// true or false; the bare flag means true.
    Switch,
    /// One of `spellings` (compared lower-cased, `_` as `-`), each naming the value it
    /// means. A bad value on the command line is `problem` (with `{}` for the value) and
    /// `fix`; in the config file, the list of spellings.
    Choice {
        spellings: &'static [(&'static str, &'static str)],
        problem: &'static str,
        fix: &'static str,
    },
    /// Any text.
    Text,
}

/// The value of one provider option, checked against its [`OptionKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionValue {
    Switch(bool),
    /// The value a spelling means.
    Choice(&'static str),
    Text(String),
}

/// Looks a value up in a table of spellings (case-insensitive, `_` as `-`).
pub fn lookup<T: Copy>(table: &[(&str, T)], value: &str) -> Option<T> {
    let wanted = value.trim().to_ascii_lowercase().replace('_', "-");
    table
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, v)| *v)
}

/// Why a value does not fit its option: `problem` without the input's name.
pub fn parse_value(spec: &OptionSpec, text: &str) -> Result<OptionValue, Misfit> {
    let misfit = |problem: String, fix: &str| Misfit {
        input: format!("--{}", spec.flag()),
        problem,
        fix: fix.to_string(),
    };
    match &spec.kind {
        OptionKind::Switch => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(OptionValue::Switch(true)),
            "false" | "no" | "n" | "off" | "0" => Ok(OptionValue::Switch(false)),
            _ => Err(misfit(
                format!("`{}` is not true or false", crate::echo::cap(text, 40)),
                "write true or false",
            )),
        },
        OptionKind::Choice {
            spellings,
            problem,
            fix,
        } => lookup(spellings, text)
            .map(OptionValue::Choice)
            .ok_or_else(|| misfit(problem.replace("{}", text), fix)),
        OptionKind::Text => Ok(OptionValue::Text(text.to_string())),
    }
}

/// An option value that does not fit, or does not fit the rest of the run.
#[derive(Debug, PartialEq, Eq)]
pub struct Misfit {
    pub input: String,
    pub problem: String,
    pub fix: String,
}

/// The options of one provider, each checked against its declaration. Unset options are
/// absent: the provider applies its own default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderOptions {
    values: BTreeMap<&'static str, OptionValue>,
}

impl ProviderOptions {
    pub fn set(&mut self, key: &'static str, value: OptionValue) {
        self.values.insert(key, value);
    }

    pub fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A switch; `false` when unset.
    pub fn switch(&self, key: &str) -> bool {
        matches!(self.values.get(key), Some(OptionValue::Switch(true)))
    }

    /// The value a choice means; `None` when unset.
    pub fn choice(&self, key: &str) -> Option<&'static str> {
        match self.values.get(key) {
            Some(OptionValue::Choice(c)) => Some(c),
            _ => None,
        }
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some(OptionValue::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// A provider, by its declaration. Compared, hashed, printed and serialised by name.
#[derive(Clone, Copy)]
pub struct ProviderKind(&'static Spec);

impl ProviderKind {
    /// The provider a declaration is of (what a client's `kind()` answers).
    pub const fn of(spec: &'static Spec) -> ProviderKind {
        ProviderKind(spec)
    }

    /// The provider of `name` (case-insensitive).
    pub fn named(name: &str) -> Option<ProviderKind> {
        super::PROVIDERS
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
            .map(|s| ProviderKind(s))
    }

    /// The provider a run uses when none is named: the first registered (the seed
    /// script's Alibaba Cloud).
    pub fn default_kind() -> ProviderKind {
        ProviderKind(super::PROVIDERS[0])
    }

    /// Every provider, in registration order.
    pub fn all() -> impl Iterator<Item = ProviderKind> {
        super::PROVIDERS.iter().map(|s| ProviderKind(s))
    }

    /// The names of every provider, for help and error text: `aliyun, qiniu or huawei`.
    pub fn names(joiner: &str) -> String {
        let names: Vec<&str> = super::PROVIDERS.iter().map(|s| s.name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{}{joiner}{last}", rest.join(", "))
            }
            _ => names.join(", "),
        }
    }

    pub fn spec(self) -> &'static Spec {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The provider's published limits.
    pub fn limits(self) -> &'static Limits {
        self.0.limits
    }

    /// The API base URL when `--endpoint` is not given.
    pub fn default_endpoint(self) -> &'static str {
        self.0.default_endpoint
    }

    /// The declaration of this provider's option `key`, if it has one.
    pub fn option(self, key: &str) -> Option<&'static OptionSpec> {
        self.0.options.iter().find(|o| o.key == key)
    }

    /// Every provider option key of every provider, each once, in registration order.
    pub fn option_keys() -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = Vec::new();
        for spec in super::PROVIDERS {
            for o in spec.options {
                if !keys.contains(&o.key) {
                    keys.push(o.key);
                }
            }
        }
        keys
    }

    /// The providers that take option `key`.
    pub fn takers(key: &str) -> Vec<ProviderKind> {
        ProviderKind::all()
            .filter(|k| k.option(key).is_some())
            .collect()
    }

    /// The declaration of option `key` in the first provider that has one.
    pub fn any_option(key: &str) -> Option<&'static OptionSpec> {
        ProviderKind::all().find_map(|k| k.option(key))
    }
}

impl PartialEq for ProviderKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ProviderKind {}

impl std::hash::Hash for ProviderKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Debug for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for ProviderKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ProviderKind::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown provider `{name}`, expected {}",
                ProviderKind::names(" or ")
            ))
        })
    }
}
