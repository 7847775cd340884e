//! An input that cannot be used, named with its fix.

use std::fmt;

use crate::input::url_list::InvalidLine;
use crate::providers::registry::Misfit;

/// An input that cannot be used; nothing was sent.
#[derive(Debug, PartialEq, Eq)]
pub enum InputError {
    Invalid {
        input: String,
        problem: String,
        fix: String,
    },
    Urls {
        source: String,
        lines: Vec<InvalidLine>,
    },
    /// A message that already names its input and the fix (config file, git, rules).
    Message(String),
}

impl InputError {
    pub fn new(input: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        InputError::Invalid {
            input: input.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Invalid {
                input,
                problem,
                fix,
            } => {
                write!(f, "{input}: {problem}\n  fix: {fix}")
            }
            InputError::Urls { source, lines } => {
                writeln!(
                    f,
                    "{source}: {} invalid line{}; nothing was sent",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" }
                )?;
                for l in lines {
                    writeln!(f, "  line {}: {}\n    {}", l.line, l.text, l.reason)?;
                }
                write!(f, "  fix: correct or remove these lines")
            }
            InputError::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for InputError {}

impl From<Misfit> for InputError {
    fn from(m: Misfit) -> Self {
        InputError::new(&m.input, m.problem, m.fix)
    }
}
