//! Turns Cedar's diagnostics into `file:line:column: message` problems.

use miette::Diagnostic;
use serde::Serialize;

/// One problem found in a policy or schema file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The file, when the problem is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line and column of the problem, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The policy the problem is in, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub message: String,
    /// The text of the line the problem is on, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: None,
            column: None,
            policy: None,
            message: message.into(),
            source_line: None,
        }
    }

    /// A problem reported by Cedar about `src` (the text of `file`).
    pub fn from_diagnostic(diag: &dyn Diagnostic, file: Option<&str>, src: &str) -> Self {
        let mut message = diag.to_string();
        if let Some(help) = diag.help() {
            message.push_str(&format!(" ({help})"));
        }
        let offset = diag
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset());
        let (line, column) = match offset {
            Some(offset) => {
                let (l, c) = line_column(src, offset);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        let source_line = line
            .and_then(|l| src.lines().nth(l - 1))
            .map(|text| text.trim_end_matches('\r').to_owned());
        Self {
            file: file.map(str::to_owned),
            line,
            column,
            policy: None,
            message,
            source_line,
        }
    }

    pub fn with_policy(mut self, policy: &str) -> Self {
        self.policy = Some(policy.to_owned());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(col)) => write!(f, "{file}:{line}:{col}: ")?,
            (Some(file), _, _) => write!(f, "{file}: ")?,
            _ => {}
        }
        if let Some(policy) = &self.policy {
            write!(f, "policy `{policy}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::{line_column, Problem};

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let src = "ab\ncdé\nf";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 4), (2, 2));
        assert_eq!(line_column(src, src.len()), (3, 2));
    }

    #[test]
    fn problems_carry_their_source_line() {
        let src = "permit (principal, action, resource)\nwhen { 1 + };\n";
        let err = cedar_policy::PolicySet::from_str(src).unwrap_err();
        let problem = Problem::from_diagnostic(&err, Some("a.cedar"), src);
        assert_eq!(problem.line, Some(2));
        assert_eq!(problem.source_line.as_deref(), Some("when { 1 + };"));
    }
}
