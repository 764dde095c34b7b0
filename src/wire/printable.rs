//! Text a peer wrote (an error body, a Prometheus `error`, a label value),
//! made safe for a terminal: its control characters are escaped as Rust
//! writes them (`\u{1b}`, `\n`), so a hostile server can neither clear the
//! screen, move the cursor nor color a fake PASS, and what it sent stays
//! readable. Every message that quotes a peer goes through [`printable`].

use std::borrow::Cow;

/// `text` with its control characters (C0, DEL and C1) escaped; borrowed
/// when there are none, as nearly always.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(
            printable("ok: 5 läuft"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("\x1b[2J\x1b[32mPASS\r\n\u{9b}0m\t\x7f"),
            "\\u{1b}[2J\\u{1b}[32mPASS\\r\\n\\u{9b}0m\\t\\u{7f}"
        );
    }
}
