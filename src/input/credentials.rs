//! Where a provider's credentials come from (the inputs, a target's own variables, the
//! provider's standard ones), and every secret value present, for the CI log masks. A
//! credential is never shown, and one holding a control character is refused.

use secrecy::SecretString;

use crate::input::InputError;
use crate::input::cli::Env;
use crate::input::config::CredentialVars;
use crate::input::settings::Target;
use crate::providers::ProviderKind;
use crate::providers::registry::Credentials;

/// Inputs and variables that carry secrets: masked in CI logs before anything is printed.
const SECRET_INPUTS: &[&str] = &["access-key-secret", "security-token"];
/// Every provider's standard variables that hold secrets.
fn secret_vars() -> impl Iterator<Item = &'static str> {
    ProviderKind::all().flat_map(|k| {
        let c = &k.spec().credentials;
        [Some(c.secret), c.token].into_iter().flatten()
    })
}

/// Every secret value present in the environment, for the CI log masks.
pub fn secret_values(env: &Env) -> Vec<String> {
    let mut values: Vec<String> = SECRET_INPUTS
        .iter()
        .filter_map(|i| env.input(i))
        .chain(secret_vars().filter_map(|v| env.get(v)))
        .map(str::to_string)
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Where one provider's credentials come from: the inputs (`access-key-id`, …) when the
/// run has one provider, then the environment variables, which a target of a run with
/// several may name itself (`credentials:` in the config file).
pub struct CredentialSource<'a> {
    pub env: &'a Env,
    pub vars: &'a CredentialVars,
    pub inputs: bool,
}

impl<'a> CredentialSource<'a> {
    /// One target of a run with several: its own variables, else the standard ones; the
    /// inputs only when it is the run's only target.
    pub fn of_target(env: &'a Env, target: &'a Target, only: bool) -> Self {
        CredentialSource {
            env,
            vars: &target.credentials,
            inputs: only,
        }
    }

    /// The variable that holds a credential: the one the target names, else `standard`.
    fn var<'s>(&'s self, named: &'s Option<String>, standard: &'s str) -> &'s str {
        named.as_deref().unwrap_or(standard)
    }

    /// One credential: the input, else the variable.
    fn get(
        &self,
        input: &str,
        named: &Option<String>,
        standard: &str,
    ) -> Result<Option<String>, InputError> {
        let from_input = self.inputs.then(|| self.env.input(input)).flatten();
        let (value, source) = match from_input {
            Some(v) => (Some(v), format!("the input {input}")),
            None => {
                let var = self.var(named, standard);
                (self.env.get(var), var.to_string())
            }
        };
        // A pasted secret often ends with a line break; one inside it would break the
        // request's headers (or smuggle one in), so it is refused before anything is sent.
        // The value itself is never shown.
        let Some(value) = value.map(str::trim) else {
            return Ok(None);
        };
        if value.chars().any(char::is_control) {
            return Err(InputError::new(
                &source,
                "holds a line break or another control character",
                "copy the credential again, without the surrounding text or line breaks",
            ));
        }
        Ok((!value.is_empty()).then(|| value.to_string()))
    }

    /// A credential the run cannot go without; the error names where it can come from.
    fn require(
        &self,
        input: &str,
        named: &Option<String>,
        standard: &str,
    ) -> Result<String, InputError> {
        self.get(input, named, standard)?.ok_or_else(|| {
            let var = self.var(named, standard);
            let or_input = if self.inputs {
                format!(", or the input {input}")
            } else {
                String::new()
            };
            InputError::new(
                var,
                "is not set",
                format!("set {var} in the environment (in CI, from a secret){or_input}"),
            )
        })
    }

    /// The names of the variables that may hold secrets here, for the CI masks.
    fn secret_vars(&self) -> impl Iterator<Item = &str> {
        [&self.vars.access_key_secret, &self.vars.security_token]
            .into_iter()
            .filter_map(|v| v.as_deref())
    }
}

/// A provider's credentials: the inputs first, then the variables a target names, then
/// the provider's standard ones (those its official SDKs read).
pub fn credentials(
    kind: ProviderKind,
    src: &CredentialSource<'_>,
) -> Result<Credentials, InputError> {
    let standard = &kind.spec().credentials;
    let v = src.vars;
    let id = src.require("access-key-id", &v.access_key_id, standard.id)?;
    let secret = src.require("access-key-secret", &v.access_key_secret, standard.secret)?;
    let token = match standard.token {
        Some(var) => src.get("security-token", &v.security_token, var)?,
        None => None,
    };
    let extra = standard
        .extra
        .iter()
        .filter_map(|(key, var)| {
            let named = v.extra.get(key).map(String::as_str).unwrap_or(var);
            src.env.get(named).map(|value| (*key, value.to_string()))
        })
        .collect();
    Ok(Credentials {
        id,
        secret: SecretString::from(secret),
        token: token.map(SecretString::from),
        extra,
    })
}

/// The secrets that the targets' own credential variables hold, for the CI masks (the
/// standard variables are in [`secret_values`]).
pub fn target_secret_values(env: &Env, targets: &[Target]) -> Vec<String> {
    let mut values: Vec<String> = targets
        .iter()
        .flat_map(|t| {
            let src = CredentialSource::of_target(env, t, false);
            src.secret_vars()
                .filter_map(|v| env.get(v).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    values.sort();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run on one provider: the inputs, else the provider's standard variables.
    fn standard(env: &Env) -> CredentialSource<'_> {
        static NONE_RENAMED: CredentialVars = CredentialVars {
            access_key_id: None,
            access_key_secret: None,
            security_token: None,
            extra: std::collections::BTreeMap::new(),
        };
        CredentialSource {
            env,
            vars: &NONE_RENAMED,
            inputs: true,
        }
    }

    #[test]
    fn credentials_from_inputs_or_sdk_variables() {
        let env = Env::new([("ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(), "id".to_string())]);
        let aliyun = ProviderKind::default_kind();
        let e = credentials(aliyun, &standard(&env))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{e}");
        let env = Env::new([
            ("INPUT_ACCESS-KEY-ID".to_string(), "from-input".to_string()),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(),
                "from-sdk".to_string(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_string(),
                "s".to_string(),
            ),
        ]);
        let c = credentials(aliyun, &standard(&env)).unwrap();
        assert_eq!(c.id, "from-input");
        assert!(c.token.is_none());
    }
}
