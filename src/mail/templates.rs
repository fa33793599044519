//! The invitation email: subject, plain text and HTML templates with
//! `{placeholder}`s. Built-in defaults, each replaceable by a file of the
//! same name in a templates folder.

use std::path::Path;

use super::{InviteMail, MailError};

const DEFAULT_SUBJECT: &str = include_str!("templates/invite.subject.txt");
const DEFAULT_TEXT: &str = include_str!("templates/invite.txt");
const DEFAULT_HTML: &str = include_str!("templates/invite.html");

/// The three templates; placeholders: `{org_name}`, `{inviter}`, `{role}`,
/// `{expires_at}`, `{accept_url}`, `{email}`.
#[derive(Debug, Clone)]
pub struct Templates {
    subject: String,
    text: String,
    html: String,
}

pub(super) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Defaults, overridden by `invite.subject.txt`, `invite.txt` and
    /// `invite.html` where `dir` has them.
    pub fn load(dir: Option<&Path>) -> Result<Self, MailError> {
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            return Err(MailError::Template {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        let read = |name: &str, default: &str| -> Result<String, MailError> {
            match dir.map(|d| d.join(name)) {
                Some(path) if path.is_file() => std::fs::read_to_string(&path)
                    .map_err(|source| MailError::Template { path, source }),
                _ => Ok(default.to_owned()),
            }
        };
        Ok(Self {
            subject: read("invite.subject.txt", DEFAULT_SUBJECT)?,
            text: read("invite.txt", DEFAULT_TEXT)?,
            html: read("invite.html", DEFAULT_HTML)?,
        })
    }

    pub(super) fn render(&self, mail: &InviteMail<'_>) -> Rendered {
        let values = [
            ("org_name", mail.org_name),
            ("inviter", mail.inviter),
            ("role", mail.role),
            ("expires_at", mail.expires_at),
            ("accept_url", mail.accept_url),
            ("email", mail.to),
        ];
        let fill = |template: &str, escape: fn(&str) -> String| {
            values
                .iter()
                .fold(template.to_owned(), |acc, (name, value)| {
                    acc.replace(&format!("{{{name}}}"), &escape(value))
                })
        };
        // A subject is one line, whatever the template or the values hold.
        let subject = fill(&self.subject, |v| v.to_owned())
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Rendered {
            subject,
            text: fill(&self.text, |v| v.to_owned()),
            html: fill(&self.html, escape_html),
        }
    }
}

fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_override_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("invite.subject.txt"), "Join {org_name}\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let mail = InviteMail {
            to: "b@x.io",
            org_name: "Acme",
            inviter: "a",
            role: "member",
            expires_at: "soon",
            accept_url: "http://x/?t=1",
        };
        let r = t.render(&mail);
        assert_eq!(r.subject, "Join Acme");
        assert!(r.text.contains("http://x/?t=1"));
    }
}
