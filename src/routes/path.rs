//! Path templates (`/orgs/{org}/docs/{doc}`) and the forwarded request
//! paths they are matched against. A forwarded path is split on `/` before
//! percent-decoding, so an encoded slash can never move a segment boundary,
//! and paths a proxy or backend could read differently (`..`, `//`,
//! encoded slashes or control characters) match nothing.

use super::{
    Refusal, RoutesError, MAX_PARAMS, MAX_PATH_BYTES, MAX_SEGMENTS, MAX_SEGMENT_BYTES,
    MAX_TEMPLATE_BYTES,
};

/// One part of a template text: literal text or a named path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Param(usize),
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(usize),
}

/// A parsed path template: its segments and the names of its parameters
/// (the index of a name is the index of its value in a match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    pub segments: Vec<Segment>,
    pub params: Vec<String>,
}

/// A Cedar-style identifier: a letter or `_`, then letters, digits or `_`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl PathTemplate {
    pub fn parse(template: &str) -> Result<Self, RoutesError> {
        let bad = |why: &str| RoutesError::Template(format!("`{template}`: {why}"));
        if template.len() > MAX_TEMPLATE_BYTES {
            return Err(bad(&format!("longer than {MAX_TEMPLATE_BYTES} bytes")));
        }
        let Some(rest) = template.strip_prefix('/') else {
            return Err(bad("must start with `/`"));
        };
        let mut segments = Vec::new();
        let mut params: Vec<String> = Vec::new();
        if !rest.is_empty() {
            for raw in rest.split('/') {
                if raw.is_empty() {
                    return Err(bad("empty segment (`//` or a trailing `/`)"));
                }
                if raw == "." || raw == ".." {
                    return Err(bad("`.` and `..` segments never match"));
                }
                if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                    if !is_name(name) {
                        return Err(bad(&format!("`{{{name}}}` is not a segment name")));
                    }
                    if params.iter().any(|p| p == name) {
                        return Err(bad(&format!("`{{{name}}}` appears twice")));
                    }
                    segments.push(Segment::Param(params.len()));
                    params.push(name.to_owned());
                } else if raw.contains(['{', '}', '%', '?', '#']) {
                    return Err(bad(&format!(
                        "segment `{raw}` must be plain text or a whole `{{name}}`"
                    )));
                } else {
                    segments.push(Segment::Literal(raw.to_owned()));
                }
            }
        }
        if segments.len() > MAX_SEGMENTS || params.len() > MAX_PARAMS {
            return Err(bad(&format!(
                "at most {MAX_SEGMENTS} segments and {MAX_PARAMS} named ones"
            )));
        }
        Ok(Self { segments, params })
    }

    /// The parameter values when `path` matches.
    pub fn matches<'a>(&self, path: &'a [String]) -> Option<Vec<&'a str>> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut values = vec![""; self.params.len()];
        for (segment, actual) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(text) if text == actual => {}
                Segment::Literal(_) => return None,
                Segment::Param(i) => *values.get_mut(*i)? = actual.as_str(),
            }
        }
        Some(values)
    }
}

/// Parses a text with `{name}` references to the template's parameters.
pub fn parse_text(text: &str, params: &[String]) -> Result<Vec<Piece>, RoutesError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        let (before, after) = rest.split_at(open);
        if !before.is_empty() {
            pieces.push(Piece::Text(before.to_owned()));
        }
        let close = after
            .strip_prefix('{')
            .and_then(|a| a.find('}').map(|c| (&a[..c], &a[c + 1..])));
        let Some((name, tail)) = close else {
            return Err(RoutesError::Template(format!(
                "`{text}`: unbalanced `{{` or `}}`"
            )));
        };
        let index = params.iter().position(|p| p == name).ok_or_else(|| {
            RoutesError::Template(format!(
                "`{text}`: `{{{name}}}` is not a segment of the route's path"
            ))
        })?;
        pieces.push(Piece::Param(index));
        rest = tail;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Fills a parsed text with the matched values.
pub fn fill(pieces: &[Piece], values: &[&str]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Param(i) => values.get(*i).copied().unwrap_or_default(),
        })
        .collect()
}

/// The decoded segments of a forwarded request target (`/a/b%20c?q=1`):
/// query and fragment dropped, each segment percent-decoded.
pub fn split_path(target: &str) -> Result<Vec<String>, Refusal> {
    let invalid = |why: &str| Refusal::InvalidPath(why.to_owned());
    if target.len() > MAX_PATH_BYTES {
        return Err(invalid(&format!("longer than {MAX_PATH_BYTES} bytes")));
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let Some(rest) = path.strip_prefix('/') else {
        return Err(invalid(
            "the forwarded URI must be a path starting with `/`",
        ));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<String> = rest
        .split('/')
        .map(decode_segment)
        .collect::<Result<_, _>>()?;
    if segments.len() > MAX_SEGMENTS {
        return Err(invalid(&format!("more than {MAX_SEGMENTS} segments")));
    }
    Ok(segments)
}

fn decode_segment(raw: &str) -> Result<String, Refusal> {
    let invalid = |why: &str| Refusal::InvalidPath(why.to_owned());
    if raw.is_empty() {
        return Err(invalid("empty segment (`//` or a trailing `/`)"));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("malformed percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| invalid("a segment is not UTF-8"))?;
    if text.len() > MAX_SEGMENT_BYTES {
        return Err(invalid(&format!(
            "a segment is longer than {MAX_SEGMENT_BYTES} bytes"
        )));
    }
    if text == "." || text == ".." {
        return Err(invalid("`.` and `..` segments are refused"));
    }
    if text
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(invalid(
            "a segment holds an encoded slash, backslash or control character",
        ));
    }
    Ok(text)
}
