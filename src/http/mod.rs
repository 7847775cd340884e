//! Shared HTTP behaviour: the one retry policy every provider call goes through.
pub mod retry;
