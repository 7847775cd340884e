//! The console: the one writer of stdout and stderr, so that in a GitHub job no text from
//! outside can issue a workflow command.
//!
//! The GitHub runner reads every line of both streams, ends a line at CR as well as LF, and
//! runs a line whose text after leading whitespace starts with `::` as a command; the old
//! form `##[name]` it finds anywhere in a line (`ActionCommand.TryParse` looks it up with
//! `IndexOf`). URLs, file names, config values, server messages and task ids reach our
//! messages, our plans and the logs of the libraries we call, so with `init(true)`:
//!
//! * [`Printable::Command`] (a [`github::Command`], which only the `github` module makes:
//!   masks, groups, annotations, stop-commands blocks) is written as it is;
//! * everything else goes through [`neutralise`]: CR is shown as `␍`, a line starting with
//!   `::` starts with `%3A:` instead, and `##[` becomes `%23#[`.
//!
//! Outside GitHub (`init(false)`, GitLab included) every byte is written unchanged. The
//! tracing subscriber writes through [`Stderr`], and a panic hook through [`eprint`]. A
//! closed pipe (`| head`) is not an error worth a panic: write errors are dropped.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use super::github;

static GITHUB: AtomicBool = AtomicBool::new(false);

/// How CR is shown in GitHub mode: visible, and neither a line end nor whitespace.
pub const CR_SHOWN: &str = "␍";

/// Sets the mode for the rest of the process; in GitHub mode it also installs the panic
/// hook, so a panic message (which may quote an input) is neutralised too.
pub fn init(github: bool) {
    GITHUB.store(github, Ordering::Relaxed);
    if github {
        std::panic::set_hook(Box::new(|info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>");
            let backtrace = std::backtrace::Backtrace::capture();
            let tail = match backtrace.status() {
                std::backtrace::BacktraceStatus::Captured => format!("{backtrace}\n"),
                _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n".to_string(),
            };
            eprint(&format!("thread '{name}' {info}\n{tail}"));
        }));
    }
}

fn github() -> bool {
    GITHUB.load(Ordering::Relaxed)
}

/// Something to print on stdout: a command of ours, or text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Printable {
    Command(github::Command),
    Text(String),
}

impl Printable {
    pub fn as_str(&self) -> &str {
        match self {
            Printable::Command(c) => c,
            Printable::Text(t) => t,
        }
    }
}

impl From<github::Command> for Printable {
    fn from(c: github::Command) -> Self {
        Printable::Command(c)
    }
}

impl From<String> for Printable {
    fn from(t: String) -> Self {
        Printable::Text(t)
    }
}

impl From<&str> for Printable {
    fn from(t: &str) -> Self {
        Printable::Text(t.to_string())
    }
}

impl PartialEq<&str> for Printable {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Writes to stdout: a command as it is, text neutralised in GitHub mode.
pub fn print(p: impl Into<Printable>) {
    match p.into() {
        Printable::Command(c) => write(&mut std::io::stdout().lock(), c.as_bytes()),
        Printable::Text(t) => write(
            &mut std::io::stdout().lock(),
            render(github(), &t).as_bytes(),
        ),
    }
}

/// Writes text to stderr, neutralised in GitHub mode.
pub fn eprint(text: &str) {
    write(
        &mut std::io::stderr().lock(),
        render(github(), text).as_bytes(),
    );
}

fn write(out: &mut impl Write, bytes: &[u8]) {
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

/// `text` as the console writes it in that mode.
pub fn render(github: bool, text: &str) -> Cow<'_, str> {
    if github {
        neutralise(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` with nothing the GitHub runner would take as a command: CR shown as [`CR_SHOWN`],
/// a line whose trimmed start is `::` escaped to `%3A:`, and every `##[` to `%23#[`. Text
/// without any of these is returned as it is.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    let command_line = |l: &str| l.trim_start().starts_with("::");
    if !text.contains('\r') && !text.contains("##[") && !text.split('\n').any(command_line) {
        return Cow::Borrowed(text);
    }
    // CR first: once it is visible, lines end only at LF.
    let text = text.replace('\r', CR_SHOWN);
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let rest = line.trim_start();
        match rest.strip_prefix(':').filter(|r| r.starts_with(':')) {
            Some(after) => {
                out.push_str(&line[..line.len() - rest.len()]);
                out.push_str("%3A");
                out.push_str(after);
            }
            None => out.push_str(line),
        }
    }
    // `%23#[` holds no `##[`, and cannot make one with the text around it.
    Cow::Owned(out.replace("##[", "%23#["))
}

/// Long output for stdout (a JSON plan of megabytes), written as it is made outside GitHub;
/// in GitHub mode collected and neutralised at [`Buffered::finish`], since a line may
/// cross the writes.
pub enum Buffered {
    Direct(std::io::BufWriter<std::io::StdoutLock<'static>>),
    Collected(Vec<u8>),
}

impl Buffered {
    pub fn stdout() -> Buffered {
        if github() {
            Buffered::Collected(Vec::new())
        } else {
            Buffered::Direct(std::io::BufWriter::with_capacity(
                1 << 18,
                std::io::stdout().lock(),
            ))
        }
    }

    /// Writes what is left.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Buffered::Direct(mut out) => out.flush(),
            Buffered::Collected(bytes) => {
                print(String::from_utf8_lossy(&bytes).into_owned());
                Ok(())
            }
        }
    }
}

impl Write for Buffered {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Buffered::Direct(out) => out.write(buf),
            Buffered::Collected(bytes) => bytes.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Buffered::Direct(out) => out.write_all(buf),
            Buffered::Collected(bytes) => bytes.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Buffered::Direct(out) => out.flush(),
            Buffered::Collected(_) => Ok(()),
        }
    }
}

/// The tracing subscriber's writer: one log event per write to stderr, through [`eprint`]
/// (an event is collected whole, so its lines are seen whole).
pub struct Stderr;

/// One log event being formatted; written when dropped.
pub struct Event(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Event;
    fn make_writer(&'a self) -> Event {
        Event(Vec::new())
    }
}

impl Write for Event {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        if github() {
            eprint(&String::from_utf8_lossy(&self.0));
        } else {
            write(&mut std::io::stderr().lock(), &self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line the runner would take as a command: CR and LF end lines, leading whitespace
    /// is trimmed, `::` starts a command, `##[` anywhere is the old form.
    fn runner_commands(text: &str) -> Vec<&str> {
        text.split(['\r', '\n'])
            .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
            .collect()
    }

    #[test]
    fn cr_and_command_starts_are_neutralised() {
        let cases = [
            (
                "https://a.com/x\r::add-mask::pwned\n",
                "https://a.com/x␍::add-mask::pwned\n",
            ),
            ("::error::x", "%3A:error::x"),
            ("ok\n  \t::warning::x\nok", "ok\n  \t%3A:warning::x\nok"),
            ("\r::x::", "␍::x::"),
            ("a ##[add-mask]b", "a %23#[add-mask]b"),
            ("###[x]####[[", "#%23#[x]##%23#[["),
            ("\u{3000}::group::x", "\u{3000}%3A:group::x"),
            (":::x", "%3A::x"),
        ];
        for (input, expected) in cases {
            let out = neutralise(input);
            assert_eq!(out, expected, "{input:?}");
            assert!(runner_commands(&out).is_empty(), "{out:?}");
        }
    }

    #[test]
    fn harmless_text_is_untouched() {
        for text in [
            "error: --task: unknown task `x`\n  fix: use refresh\n",
            "a::b c:: ## [x] #[y]\n",
            "",
            "\n\n",
            ":x\n",
        ] {
            assert!(
                matches!(neutralise(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn only_github_mode_changes_bytes() {
        let hostile = "x\r::add-mask::pwned\n##[error]y\r\x1b[0K";
        assert_eq!(render(false, hostile), hostile);
        assert!(runner_commands(&render(true, hostile)).is_empty());
    }

    #[test]
    fn nothing_from_outside_survives_any_mix() {
        // Every string of up to four of these pieces, through the neutraliser.
        let pieces = ["\r", "\n", ":", "::", "#", "##", "[", " ", "\u{85}", "x"];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            texts = texts
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            for t in &texts {
                let out = neutralise(t);
                assert!(runner_commands(&out).is_empty(), "{t:?} -> {out:?}");
            }
        }
    }
}
