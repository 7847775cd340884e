//! cdn-refresh: refresh (purge) and prefetch (warm) CDN caches for exactly what a deploy changed.
pub mod providers;
