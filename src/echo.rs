//! How much of an outside value (an input line, a config value, a server's message) a
//! message shows. Errors land in logs, annotations and the report, sometimes once per URL: a
//! value of a megabyte must not become a message of a megabyte.

use std::borrow::Cow;

/// What a message shows of one input value (a URL line, a rule, a config value).
pub const VALUE: usize = 200;

/// What a message keeps of a server's text.
pub const SERVER: usize = 2000;

/// `text` cut to at most `max` bytes (at a character boundary), saying how long it was.
pub fn cap(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_character_boundary_and_says_how_long() {
        assert_eq!(cap("short", 10), "short");
        let long = "é".repeat(300);
        let shown = cap(&long, 101);
        assert!(shown.starts_with(&"é".repeat(50)), "{shown}");
        assert!(shown.ends_with("… (600 bytes)"), "{shown}");
    }
}
