//! Huawei Cloud's knobs: the key pairs it accepts (temporary ones with their token), its
//! daily quotas and the gateway's call rate.

use std::fmt;
use std::str::FromStr;

/// The Huawei Cloud knobs of `cdn-refresh emulator`.
#[derive(clap::Args, Clone, Debug)]
#[group(skip)]
pub(crate) struct Knobs {
    /// Huawei Cloud key pair to accept, `AK:SK` or `AK:SK:SECURITY_TOKEN` for a temporary
    /// one (repeatable). With a token, requests with that AK must carry exactly that
    /// `X-Security-Token`. Every pair belongs to the one emulated account.
    #[arg(
        long = "huawei-key",
        value_name = "AK:SK[:SECURITY_TOKEN]",
        default_value = "HWTESTAK:HWTESTSK"
    )]
    pub huawei_keys: Vec<HuaweiKey>,

    /// Huawei: daily quota of refreshed URLs (`file_refresh`), counted per URL.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    pub huawei_file_refresh_quota: u64,
    /// Huawei: daily quota of refreshed directories (`dir_refresh`).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub huawei_dir_refresh_quota: u64,
    /// Huawei: daily quota of preheated URLs (`preheat`).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub huawei_preheat_quota: u64,
    /// Huawei: calls per second of each API for the account (429 APIGW.0308 beyond; 0:
    /// unlimited). The docs give 30/s for CreateRefreshTasks and ShowHistoryTaskDetails.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub huawei_requests_per_second: u32,
}

/// One Huawei Cloud key pair the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct HuaweiKey {
    pub access_key: String,
    pub secret_key: String,
    /// `X-Security-Token` that requests with this AK must carry (temporary credentials).
    pub security_token: Option<String>,
}

impl FromStr for HuaweiKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (access_key, secret_key, security_token) =
            crate::emulator::args::split_key(s, "AK:SK or AK:SK:SECURITY_TOKEN")?;
        Ok(HuaweiKey {
            access_key,
            secret_key,
            security_token,
        })
    }
}

/// Never prints the secret key or the token.
impl fmt::Debug for HuaweiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
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
        assert_eq!(a.huawei_keys.len(), 1);
        assert_eq!(a.huawei_keys[0].access_key, "HWTESTAK");
        assert_eq!(a.huawei_keys[0].security_token, None);
        let key = &a.huawei_keys[0];
        assert_eq!(
            (key.access_key.as_str(), key.secret_key.as_str()),
            super::super::DEFAULT_KEY
        );
        assert_eq!(
            (
                a.huawei_file_refresh_quota,
                a.huawei_dir_refresh_quota,
                a.huawei_preheat_quota,
                a.huawei_requests_per_second
            ),
            (2_000, 100, 1_000, 30)
        );
    }

    #[test]
    fn parses_keys() {
        let h: HuaweiKey = "AK:s3cr3t:tok:en".parse().unwrap();
        assert_eq!(h.security_token.as_deref(), Some("tok:en"));
        let shown = format!("{h:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok:"));
        assert_eq!("AK:SK".parse::<HuaweiKey>().unwrap().security_token, None);
        for bad in ["AK", "AK:", ":SK"] {
            assert!(bad.parse::<HuaweiKey>().is_err(), "{bad}");
        }
    }
}
