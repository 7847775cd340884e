//! cdn-refresh: refresh (purge) and prefetch (warm) CDN caches for exactly what a deploy changed.
pub mod cli;
#[cfg(feature = "emulator")]
pub mod demo;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod http;
pub mod output;
pub mod plan;
pub mod providers;
pub mod rate_limit;
pub mod report;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod url_list;
pub mod wait;
