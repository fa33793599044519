//! Sending invitation email with lettre: SMTP when a URL is configured,
//! otherwise one `.eml` file per message in the data folder, so the sidecar
//! works out of the box. Only this module touches lettre.

mod templates;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use templates::Templates;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid address `{address}`: {message}")]
    Address { address: String, message: String },
    #[error("cannot read mail template `{path}`: {source}")]
    Template {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("SMTP delivery timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot write `{path}`: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server (`smtp://`, `smtp://…?tls=required` for STARTTLS, `smtps://`).
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The URL without credentials, for logs.
        display: String,
    },
    /// One `.eml` file per message in a folder.
    Files(PathBuf),
    /// Kept in memory (for embedding and unit tests).
    Memory(Arc<Mutex<Vec<String>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { display, .. } => write!(f, "smtp({display})"),
            Self::Files(dir) => write!(f, "files({})", dir.display()),
            Self::Memory(_) => f.write_str("memory"),
        }
    }
}

/// The facts an invitation email states.
#[derive(Debug, Clone)]
pub struct InviteMail<'a> {
    pub to: &'a str,
    pub org_name: &'a str,
    pub inviter: &'a str,
    pub role: &'a str,
    pub expires_at: &'a str,
    pub accept_url: &'a str,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Templates,
    timeout: Duration,
}

impl Mailer {
    /// SMTP at `smtp_url` if given, else `.eml` files in `files_dir`.
    pub fn new(
        smtp_url: Option<&str>,
        files_dir: &Path,
        from: &str,
        templates_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, MailError> {
        let transport = match smtp_url {
            Some(url) => Transport::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::SmtpUrl(e.to_string()))?
                    .timeout(Some(timeout))
                    .build(),
                display: redact(url),
            },
            None => Transport::Files(files_dir.to_owned()),
        };
        Self::with_transport(transport, from, templates_dir, timeout)
    }

    pub fn with_transport(
        transport: Transport,
        from: &str,
        templates_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, MailError> {
        let from = from.parse::<Mailbox>().map_err(|e| MailError::Address {
            address: from.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            transport,
            from,
            templates: Templates::load(templates_dir)?,
            timeout,
        })
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Renders and delivers one invitation. `message_id` makes a retried
    /// message recognisable as the same one.
    pub async fn send_invite(
        &self,
        mail: &InviteMail<'_>,
        message_id: &str,
    ) -> Result<(), MailError> {
        let to = mail.to.parse::<Mailbox>().map_err(|e| MailError::Address {
            address: mail.to.to_owned(),
            message: e.to_string(),
        })?;
        let rendered = self.templates.render(mail);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id.to_owned()))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.deliver(message, message_id).await
    }

    async fn deliver(&self, message: Message, message_id: &str) -> Result<(), MailError> {
        match &self.transport {
            Transport::Smtp { transport, .. } => {
                match tokio::time::timeout(self.timeout, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(MailError::Smtp(e.to_string())),
                    Err(_) => Err(MailError::Timeout(self.timeout)),
                }
            }
            Transport::Files(dir) => write_eml(dir, message_id, &message.formatted()).await,
            Transport::Memory(sent) => {
                let text = String::from_utf8_lossy(&message.formatted()).into_owned();
                sent.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(text);
                Ok(())
            }
        }
    }
}

/// Mode of the mail folder: a message holds a live invite token, so only
/// the sidecar's user may list or read them.
const MAIL_DIR_MODE: u32 = 0o700;
/// Mode of a message file.
const MAIL_FILE_MODE: u32 = 0o600;

/// Writes a message atomically (temp file, then rename) as `<id>.eml`,
/// readable by the sidecar's user only (the folder 0700, the file 0600).
async fn write_eml(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), MailError> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::AsyncWriteExt;

    let file_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MailError::File { path, source }
    };
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(MAIL_DIR_MODE)
        .create(dir)
        .await
        .map_err(file_err(dir))?;
    // A folder made before (or by hand) may be wider: narrow it.
    let mode = tokio::fs::metadata(dir)
        .await
        .map_err(file_err(dir))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(MAIL_DIR_MODE))
            .await
            .map_err(file_err(dir))?;
    }
    let name: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(format!("{name}.eml"));
    // A leftover temp file of a crash would keep its mode: start afresh.
    match tokio::fs::remove_file(&tmp).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_err(&tmp)(e)),
        _ => {}
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MAIL_FILE_MODE)
        .open(&tmp)
        .await
        .map_err(file_err(&tmp))?;
    file.write_all(bytes).await.map_err(file_err(&tmp))?;
    file.sync_all().await.map_err(file_err(&tmp))?;
    drop(file);
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(file_err(&path))
}

/// `smtp://user:secret@host` → `smtp://host`, for logs.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = host.split(['?', '/']).next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => "smtp".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_logs() {
        assert_eq!(
            redact("smtps://me:hunter2@mail.example.com:465?x=1"),
            "smtps://mail.example.com:465"
        );
        assert_eq!(redact("smtp://localhost:2525"), "smtp://localhost:2525");
    }

    #[tokio::test]
    async fn an_invite_renders_both_parts_with_the_facts() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mailer = Mailer::with_transport(
            Transport::Memory(sent.clone()),
            "tenantgate <no-reply@example.com>",
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        let mail = InviteMail {
            to: "bob@example.com",
            org_name: "Acme <Labs>",
            inviter: "alice@example.com",
            role: "admin",
            expires_at: "2026-12-01T00:00:00.000000Z",
            accept_url: "https://app.example.com/accept?token=tgi_abc",
        };
        mailer
            .send_invite(&mail, "inv_1.1@tenantgate")
            .await
            .unwrap();
        let raw = sent.lock().unwrap().join("");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.subject(),
            Some("alice@example.com invited you to join Acme <Labs>")
        );
        let text = parsed.body_text(0).unwrap();
        let html = parsed.body_html(0).unwrap();
        assert!(
            text.contains("https://app.example.com/accept?token=tgi_abc"),
            "{text}"
        );
        assert!(text.contains("admin") && text.contains("2026-12-01"));
        assert!(
            html.contains("Acme &lt;Labs&gt;"),
            "html must escape values: {html}"
        );
        assert!(html.contains("href=\"https://app.example.com/accept?token=tgi_abc\""));
    }

    #[test]
    fn a_bad_smtp_url_or_sender_is_refused() {
        let dir = std::env::temp_dir();
        assert!(Mailer::new(
            Some("ftp://x"),
            &dir,
            "a@b.co",
            None,
            Duration::from_secs(1)
        )
        .is_err());
        assert!(Mailer::new(None, &dir, "not an address", None, Duration::from_secs(1)).is_err());
    }
}
