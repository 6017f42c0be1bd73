//! Errors shown to a person: [`one_line`] turns an error and its causes into the one
//! line the binary and the hook log print. The binary's error type, with the exit
//! code of each command's errors, is [`crate::cli::error::Error`].

/// The error and its causes on one line: "a: b: c" (a cause already contained in the
/// message before it is not repeated). Messages quote what they refuse (an
/// annotation value, a JSON key): control characters in it are escaped (`\n`,
/// `\u{1b}`), so hostile input cannot add lines to stderr or the hook log.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cause = e.source();
    }
    let mut line = String::new();
    for c in parts.join(": ").chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner\nline")]
    struct Inner;

    #[test]
    fn one_line_chains_causes_and_escapes_control_characters() {
        assert_eq!(one_line(&Outer(Inner)), "outer inner\\nline");
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Plain(#[source] Inner);
        assert_eq!(one_line(&Plain(Inner)), "outer: inner\\nline");
    }
}
