//! Outgoing mail: SMTP in the server mode, `.eml` files under `<data_dir>/mail` in the
//! embedded mode. Mails from Ohjaus carry links, never content; what is worth sending is
//! decided by the services, this module only delivers.

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

use crate::config::{MailTransport, Settings};
use crate::types::Email;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail settings: {0}")]
    Settings(String),
    #[error("the mail could not be built: {0}")]
    Build(String),
    /// Worth another try later (the server was down, a temporary refusal).
    #[error("the mail could not be delivered: {0}")]
    Delivery(String),
}

/// One mail, in the recipient's language, already rendered.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `fi`, `sv` or `en`: written as Content-Language.
    pub language: String,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// Sends mail by the configured transport.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Files(_) => "files",
        };
        f.debug_struct("Mailer").field("transport", &kind).finish()
    }
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        let from: Mailbox = settings.mail.from.parse().map_err(|_| MailError::Settings("mail.from".into()))?;
        let transport = match settings.mail_transport() {
            MailTransport::Files => {
                let directory = settings.mail_directory();
                std::fs::create_dir_all(&directory)
                    .map_err(|e| MailError::Settings(format!("mail.directory {}: {e}", directory.display())))?;
                Transport::Files(AsyncFileTransport::new(&directory))
            }
            MailTransport::Smtp => {
                let url = settings.mail.smtp_url.as_ref().ok_or_else(|| MailError::Settings("mail.smtp_url".into()))?;
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|_| MailError::Settings("mail.smtp_url is not a valid SMTP URL".into()))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build();
                Transport::Smtp(transport)
            }
        };
        Ok(Self { from, transport })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.as_str().parse().map_err(|_| MailError::Build("recipient".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentLanguage(mail.language.clone()))
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    MailError::Build(format!("refused by the server: {e}"))
                } else {
                    MailError::Delivery(e.to_string())
                }
            }),
            Transport::Files(files) => {
                files.send(message).await.map(|_| ()).map_err(|e| MailError::Delivery(e.to_string()))
            }
        }
    }
}

/// `Content-Language`, so mail clients pick the right spelling and voice.
#[derive(Clone, Debug)]
struct ContentLanguage(String);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Content-Language")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
