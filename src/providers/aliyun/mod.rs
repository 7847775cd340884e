//! Alibaba Cloud CDN (API 2018-05-10).
pub mod sign;
