//! cdn-refresh: refresh (purge) and prefetch (warm) CDN caches for exactly what a deploy changed.
pub mod app;
#[cfg(feature = "emulator")]
pub mod demo;
pub mod echo;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod http;
pub mod input;
pub mod marker;
pub mod output;
pub mod plan;
pub mod providers;
pub mod report;
pub mod send;
pub mod verify;
