//! CloudFront's knobs: the access keys it accepts (temporary ones with their session
//! token), the distributions and the sites each serves, the in-progress limits and the call
//! rate.

use std::fmt;
use std::str::FromStr;

/// The CloudFront knobs of `cdn-refresh emulator`.
#[derive(clap::Args, Clone, Debug)]
#[group(skip)]
pub(crate) struct Knobs {
    /// AWS access key to accept for CloudFront, `ID:SECRET` or `ID:SECRET:SESSION_TOKEN`
    /// for temporary credentials (repeatable). With a token, requests with that id must
    /// carry exactly that `X-Amz-Security-Token`.
    #[arg(
        long = "cloudfront-key",
        value_name = "ID:SECRET[:SESSION_TOKEN]",
        default_value = "AKIDCDNREFRESHTEST:cloudfront-test-secret"
    )]
    pub cloudfront_keys: Vec<AwsKey>,

    /// CloudFront: a distribution and the sites (of `--domains`) it serves, `ID=HOST[,HOST]`
    /// (repeatable). Default: one distribution per domain, its id `E` and the domain's
    /// letters and digits upper-cased (`example.com` → `EEXAMPLECOM`), listed in the banner.
    #[arg(long = "cloudfront-distribution", value_name = "ID=HOST[,HOST]")]
    pub cloudfront_distributions: Vec<DistributionSpec>,

    /// CloudFront: file paths in progress per distribution, at most (TooManyInvalidationsInProgress
    /// beyond).
    #[arg(long, value_name = "N", default_value_t = 3_000)]
    pub cloudfront_max_paths_in_progress: u64,
    /// CloudFront: wildcard paths in progress per distribution, at most.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub cloudfront_max_wildcards_in_progress: u64,
    /// CloudFront: calls per second of each API for the account (400 Throttling beyond; 0:
    /// unlimited).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub cloudfront_requests_per_second: u32,
}

/// One AWS access key the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKey {
    pub id: String,
    pub secret: String,
    pub session_token: Option<String>,
}

impl FromStr for AwsKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, secret, session_token) =
            crate::emulator::args::split_key(s, "ID:SECRET or ID:SECRET:SESSION_TOKEN")?;
        Ok(AwsKey {
            id,
            secret,
            session_token,
        })
    }
}

/// Never prints the secret or the token.
impl fmt::Debug for AwsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `ID=HOST[,HOST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionSpec {
    pub id: String,
    pub hosts: Vec<String>,
}

impl FromStr for DistributionSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, hosts) = s
            .split_once('=')
            .ok_or("expected ID=HOST[,HOST], e.g. E2QWRUHAPOMQZL=example.com")?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("{id:?}: a distribution id is letters and digits"));
        }
        let hosts: Vec<String> = hosts
            .split(',')
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            return Err(format!("{id}: name the hosts it serves"));
        }
        Ok(DistributionSpec {
            id: id.to_string(),
            hosts,
        })
    }
}

/// The default id of the distribution of `domain`: `E` and its letters and digits.
pub fn default_id(domain: &str) -> String {
    let mut id = String::from("E");
    id.extend(
        domain
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase()),
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorArgs;

    #[test]
    fn defaults_and_parsing() {
        let args = EmulatorArgs::default();
        let k = args.knobs::<Knobs>();
        assert_eq!(k.cloudfront_keys[0].id, "AKIDCDNREFRESHTEST");
        assert!(k.cloudfront_distributions.is_empty());
        assert_eq!(
            (
                k.cloudfront_max_paths_in_progress,
                k.cloudfront_max_wildcards_in_progress
            ),
            (3_000, 15)
        );
        assert_eq!(default_id("www.example.com"), "EWWWEXAMPLECOM");
        let d: DistributionSpec = "E1=a.com, B.com.".parse().unwrap();
        assert_eq!(d.hosts, ["a.com", "b.com"]);
        for bad in ["E1", "=a.com", "E-1=a.com", "E1="] {
            assert!(bad.parse::<DistributionSpec>().is_err(), "{bad}");
        }
        let key: AwsKey = "AK:s3cr3t:tok".parse().unwrap();
        assert!(!format!("{key:?}").contains("s3cr3t"));
    }
}
