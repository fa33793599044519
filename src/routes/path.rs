//! Path templates (`/orgs/{org}/docs/{doc}`) and the forwarded request
//! paths they are matched against. A forwarded path is split on `/` before
//! percent-decoding, so an encoded slash can never move a segment boundary,
//! and paths a proxy or backend could read differently (`..`, `//`,
//! encoded slashes, `;params`, fragments, double encoding, characters
//! outside a small ASCII set, trailing dots, a literal's letters in another
//! case) match nothing.

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
                } else if !raw.chars().all(is_safe_char) || raw.ends_with('.') {
                    // A literal no forwarded path may hold would never match.
                    return Err(bad(&format!(
                        "segment `{raw}` may hold only A-Z a-z 0-9 and - . _ ~ ! $ & ' ( ) * + , = : @, and may not end with `.`"
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

    /// A literal of this template that a segment of `path` spells in other
    /// letter case (`ADMIN` for `admin`): a case-insensitive backend serves
    /// the literal's page, so such a path is refused rather than left to a
    /// later, broader route.
    pub fn case_twin<'a>(&'a self, path: &[String]) -> Option<&'a str> {
        self.segments
            .iter()
            .zip(path)
            .find_map(|(segment, actual)| match segment {
                Segment::Literal(text) if text != actual && text.eq_ignore_ascii_case(actual) => {
                    Some(text.as_str())
                }
                _ => None,
            })
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

/// Characters a decoded segment may hold: ASCII letters and digits and the
/// URI "unreserved" and "sub-delims" marks minus `;` (Tomcat, Jetty and
/// Spring strip `;params`), plus `:` and `@`. Everything else (space, `%`
/// left over from double encoding, `#`, `?`, `\`, controls, non-ASCII
/// such as zero-width or bidi characters) is read differently by some
/// backend, so a path holding one matches nothing.
pub fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,=:@".contains(c)
}

/// The decoded segments of a forwarded request target (`/a/b%41c?q=1`):
/// query dropped, each segment percent-decoded and checked against
/// [`is_safe_char`]. A fragment (`#`) is refused: a client never sends
/// one, and a proxy passes it to the backend unchanged.
pub fn split_path(target: &str) -> Result<Vec<String>, Refusal> {
    let invalid = |why: &str| Refusal::InvalidPath(why.to_owned());
    if target.len() > MAX_PATH_BYTES {
        return Err(invalid(&format!("longer than {MAX_PATH_BYTES} bytes")));
    }
    if target.contains('#') {
        return Err(invalid("a fragment (`#`) in the forwarded URI is refused"));
    }
    let path = target.split('?').next().unwrap_or_default();
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
    if let Some(c) = text.chars().find(|c| !is_safe_char(*c)) {
        let what = match c {
            '/' | '\\' => "an encoded slash or backslash".to_owned(),
            ';' => "a `;` path parameter".to_owned(),
            '%' => "a `%` (double percent-encoding)".to_owned(),
            c if c.is_control() => "a control character".to_owned(),
            c => format!("the character U+{:04X}", u32::from(c)),
        };
        return Err(invalid(&format!(
            "a segment holds {what}; segments are limited to A-Z a-z 0-9 and - . _ ~ ! $ & ' ( ) * + , = : @"
        )));
    }
    if text.ends_with('.') {
        // Windows and some servers drop trailing dots: `admin.` is `admin`.
        return Err(invalid("a segment ends with `.`"));
    }
    Ok(text)
}
