//! How much of an outside value (an input line, a config value, a server's message) a
//! message shows. Errors land in logs, annotations and the report, sometimes once per URL: a
//! value of a megabyte must not become a message of a megabyte.

use std::borrow::Cow;

/// What a message shows of one input value (a URL line, a rule, a config value).
pub const VALUE: usize = 200;

/// What a message keeps of a server's text.
pub const SERVER: usize = 2000;

/// `text` cut to at most `max` bytes (at a character boundary), saying how long it was. A
/// cut text is never longer than the text itself: one that the note would lengthen is kept.
pub fn cap(text: &str, max: usize) -> Cow<'_, str> {
    let note = format!("… ({} bytes)", text.len());
    if text.len() <= max + note.len() {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{note}", &text[..end]))
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
        assert!(shown.len() < long.len());
        // Just over the cap: the note would make it longer, so it stays whole.
        let near = "a".repeat(110);
        assert_eq!(cap(&near, 100), near);
    }
}
