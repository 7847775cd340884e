//! Sinks: the only code that turns results into what people and CI systems read.
pub mod text;
