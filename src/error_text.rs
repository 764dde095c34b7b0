//! An error and its causes as one line, for every message the crate
//! prints: below every module, since the sending side's messages (`client`)
//! need it as much as the commands (`cli`).

/// The error and its causes as one line, each cause once: library errors
/// often spell their source out already ("cannot read F: No such file"), and
/// printing the chain after it would say it twice. (For an `anyhow::Error`,
/// pass `err.as_ref()`.)
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read f.json: {source}")]
    struct Unreadable {
        source: std::io::Error,
    }

    // A new user saw "No such file or directory (os error 2): No such file
    // or directory (os error 2)" (issue #11).
    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Unreadable { source: io() });
        assert_eq!(
            super::error_text(err.as_ref()),
            "cannot read f.json: no such file"
        );
        let err = anyhow::Error::new(io()).context("cannot open the log");
        assert_eq!(
            super::error_text(err.as_ref()),
            "cannot open the log: no such file"
        );
    }
}
