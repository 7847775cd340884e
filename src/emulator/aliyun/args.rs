//! Alibaba Cloud's knobs: the credentials it accepts, its daily quotas, its per-key rates,
//! the per-domain minute window and the RAM denials.

use std::fmt;
use std::str::FromStr;

/// The Alibaba Cloud knobs of `cdn-refresh emulator`.
#[derive(clap::Args, Clone, Debug)]
#[group(skip)]
pub(crate) struct Knobs {
    /// Alibaba Cloud credential to accept, `ID:SECRET` or `ID:SECRET:STS_TOKEN` (repeatable).
    /// With a token, requests with that key id must carry exactly that token.
    #[arg(
        long = "aliyun-key",
        value_name = "ID:SECRET[:STS_TOKEN]",
        default_value = "testid:testsecret"
    )]
    pub aliyun_keys: Vec<AliyunKey>,

    /// Daily quota of URL (File) refreshes.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub url_quota: u64,
    /// Daily quota of directory refreshes.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub dir_quota: u64,
    /// Daily quota of prefetched (preloaded) URLs.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub preload_quota: u64,
    /// Daily quota of regex refreshes.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub regex_quota: u64,
    /// Daily quota of ignore-params (ExQuery) refreshes.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub ignore_params_quota: u64,

    /// RefreshObjectCaches calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub refresh_qps: u32,
    /// PushObjectCache calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub push_qps: u32,
    /// DescribeRefreshTaskById calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub describe_by_id_qps: u32,
    /// DescribeRefreshQuota calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub quota_qps: u32,
    /// DescribeRefreshTasks calls per second per access key (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub describe_tasks_qps: u32,
    /// Refreshed paths per domain per minute, over a sliding minute (0: unlimited).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub urls_per_minute_per_domain: u32,

    /// Deny this API action as a RAM policy would (403 Forbidden.RAM naming `cdn:ACTION`)
    /// (repeatable).
    #[arg(long = "deny-action", value_name = "ACTION")]
    pub deny_actions: Vec<String>,
}

/// One Alibaba Cloud credential the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AliyunKey {
    pub id: String,
    pub secret: String,
    /// STS token that requests with this key id must carry.
    pub security_token: Option<String>,
}

impl FromStr for AliyunKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, secret, security_token) =
            crate::emulator::args::split_key(s, "ID:SECRET or ID:SECRET:STS_TOKEN")?;
        Ok(AliyunKey {
            id,
            secret,
            security_token,
        })
    }
}

/// Never prints the secret or the token.
impl fmt::Debug for AliyunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
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
        assert_eq!(a.aliyun_keys.len(), 1);
        assert_eq!(a.aliyun_keys[0].id, "testid");
        let key = &a.aliyun_keys[0];
        assert_eq!((key.id.as_str(), key.secret.as_str()), super::super::DEFAULT_KEY);
        assert_eq!((a.url_quota, a.dir_quota, a.regex_quota), (10_000, 100, 20));
    }

    #[test]
    fn parses_keys() {
        let k: AliyunKey = "id:s3cr3t:tok:with:colons".parse().unwrap();
        assert_eq!(k.security_token.as_deref(), Some("tok:with:colons"));
        let shown = format!("{k:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok:"));
        assert!("id".parse::<AliyunKey>().is_err());
    }
}
