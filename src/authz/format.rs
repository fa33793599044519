//! Canonical formatting of policy files with Cedar's own formatter.

use std::str::FromStr;

use cedar_policy::PolicySet;
use cedar_policy_formatter::{policies_str_to_pretty, Config};

use super::diagnostics::Problem;

/// Line width and indentation of Cedar's own CLI (`cedar format`).
const CONFIG: Config = Config {
    line_width: 80,
    indent_width: 2,
};

/// Why a policy file was not formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file does not parse.
    #[error("{0}")]
    Parse(Box<Problem>),
    /// The formatter failed (it checks its own output; this is a bug in it).
    #[error("{file}: the formatter failed: {message}")]
    Formatter { file: String, message: String },
    /// The formatted text would lose, add or alter `//` comments.
    #[error(
        "{file}: formatting would change its comments ({before} before, {after} after); left as is"
    )]
    Comments {
        file: String,
        before: usize,
        after: usize,
    },
}

/// The canonical form of the policies in `text` (the content of `file`).
/// Refuses to return a text whose comments differ from the original's.
pub fn format_policies(file: &str, text: &str) -> Result<String, FormatError> {
    if let Err(e) = PolicySet::from_str(text) {
        return Err(FormatError::Parse(Box::new(Problem::from_diagnostic(
            &e,
            Some(file),
            text,
        ))));
    }
    let formatted = policies_str_to_pretty(text, &CONFIG).map_err(|e| FormatError::Formatter {
        file: file.to_owned(),
        message: format!("{e:#}"),
    })?;
    same_comments(file, text, &formatted)?;
    Ok(formatted)
}

/// Fails unless `after` holds the same comments as `before`, in the same order.
fn same_comments(file: &str, before: &str, after: &str) -> Result<(), FormatError> {
    let (before, after) = (comments(before), comments(after));
    if before == after {
        return Ok(());
    }
    Err(FormatError::Comments {
        file: file.to_owned(),
        before: before.len(),
        after: after.len(),
    })
}

/// The `//` comments of Cedar text, in order, trimmed (string literals,
/// which may hold `//`, are skipped).
fn comments(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '/' && chars.peek().is_some_and(|&(_, next)| next == '/') {
            let rest = text.get(i..).unwrap_or("");
            let end = rest.find('\n').unwrap_or(rest.len());
            found.push(rest.get(..end).unwrap_or(rest).trim_end());
            while chars.peek().is_some_and(|&(_, next)| next != '\n') {
                chars.next();
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_skip_string_literals() {
        let text =
            "// a\npermit (principal, action, resource) // b\nwhen { \"x // y\\\"\" == \"\" };";
        assert_eq!(comments(text), vec!["// a", "// b"]);
    }

    #[test]
    fn a_lost_or_changed_comment_is_refused() {
        let original = "// why\npermit (principal, action, resource);\n";
        assert!(same_comments(
            "a.cedar",
            original,
            "// why\npermit (principal, action, resource);"
        )
        .is_ok());
        let Err(FormatError::Comments {
            before: 1,
            after: 0,
            ..
        }) = same_comments(
            "a.cedar",
            original,
            "permit (principal, action, resource);\n",
        )
        else {
            panic!("a dropped comment must be refused");
        };
        assert!(same_comments(
            "a.cedar",
            original,
            "// who\npermit (principal, action, resource);"
        )
        .is_err());
    }

    #[test]
    fn formatting_keeps_comments_and_is_idempotent() {
        let text = "// Header.\n\n// Why.\n@id(\"a\")\npermit(principal,action,resource)\n    when { principal == resource }; // trailing\n";
        let once = format_policies("a.cedar", text).unwrap();
        assert_eq!(comments(&once), comments(text), "{once}");
        assert_eq!(format_policies("a.cedar", &once).unwrap(), once);
    }

    #[test]
    fn parse_errors_have_a_location() {
        let Err(FormatError::Parse(problem)) = format_policies("b.cedar", "permit(\n  principal,")
        else {
            panic!("expected a parse error");
        };
        assert_eq!(problem.file.as_deref(), Some("b.cedar"));
        assert!(problem.line.is_some());
    }
}
