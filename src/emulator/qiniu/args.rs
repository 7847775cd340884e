//! Qiniu's knobs: the key pairs it accepts, its daily quotas, its items per second and
//! whether directory refresh is enabled.

use std::fmt;
use std::str::FromStr;

/// The Qiniu knobs of `cdn-refresh emulator`.
#[derive(clap::Args, Clone, Debug)]
#[group(skip)]
pub(crate) struct Knobs {
    /// Qiniu key pair to accept, `AK:SK` (repeatable). Every pair belongs to the one emulated
    /// account: they share its quotas, its rate limit and its tasks.
    #[arg(
        long = "qiniu-key",
        value_name = "AK:SK",
        default_value = "testak:testsk"
    )]
    pub qiniu_keys: Vec<QiniuKey>,

    /// Qiniu: daily quota of refreshed URLs (`urlQuotaDay`).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub qiniu_url_quota: u64,
    /// Qiniu: daily quota of refreshed directories (`dirQuotaDay`).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub qiniu_dir_quota: u64,
    /// Qiniu: daily quota of prefetched URLs (`quotaDay`).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub qiniu_prefetch_quota: u64,
    /// Qiniu: URLs plus directories per second, refresh and prefetch together, over a sliding
    /// second (403024 beyond; 0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 240)]
    pub qiniu_items_per_second: u32,
    /// Qiniu: directory refresh is not enabled on the account (400038), as on accounts that
    /// never asked for it.
    #[arg(long)]
    pub qiniu_dir_refresh_disabled: bool,
}

/// One Qiniu key pair the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct QiniuKey {
    pub access_key: String,
    pub secret_key: String,
}

impl FromStr for QiniuKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((ak, sk)) if !ak.is_empty() && !sk.is_empty() && !sk.contains(':') => {
                Ok(QiniuKey {
                    access_key: ak.to_string(),
                    secret_key: sk.to_string(),
                })
            }
            _ => Err("expected AK:SK".into()),
        }
    }
}

/// Never prints the secret key.
impl fmt::Debug for QiniuKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QiniuKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorArgs;

    #[test]
    fn defaults_are_the_flag_defaults() {
        let args = EmulatorArgs::default();
        let a = args.knobs::<Knobs>();
        assert_eq!(a.qiniu_keys.len(), 1);
        assert_eq!(a.qiniu_keys[0].access_key, "testak");
        let key = &a.qiniu_keys[0];
        assert_eq!(
            (key.access_key.as_str(), key.secret_key.as_str()),
            super::super::DEFAULT_KEY
        );
        assert_eq!(
            (
                a.qiniu_url_quota,
                a.qiniu_dir_quota,
                a.qiniu_prefetch_quota,
                a.qiniu_items_per_second
            ),
            (500, 10, 100, 240)
        );
        assert!(!a.qiniu_dir_refresh_disabled);
    }

    #[test]
    fn parses_keys() {
        let q: QiniuKey = "ak:s3cr3t".parse().unwrap();
        assert_eq!(q.access_key, "ak");
        assert!(!format!("{q:?}").contains("s3cr3t"));
        for bad in ["ak", "ak:", ":sk", "ak:sk:x"] {
            assert!(bad.parse::<QiniuKey>().is_err(), "{bad}");
        }
    }
}
