//! Sending a plan: each target's run ([`run`]: quota check, submit in batches, wait, prefetch,
//! report), paced by [`rate_limit`], drawing on the day's quota through [`quota_ledger`],
//! waiting with [`wait`], resuming an earlier run's report ([`resume`]), and every target of
//! a run at once ([`targets`]). Nothing here knows a provider's wire format.

pub mod in_progress;
pub mod quota_ledger;
pub mod rate_limit;
pub mod resume;
pub mod run;
pub mod targets;
pub mod tracker;
