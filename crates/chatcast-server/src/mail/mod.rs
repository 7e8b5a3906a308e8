//! Answers by email: a visitor who wrote while nobody could answer, and left
//! an email address, gets the consultants' answers there if they are not on
//! the site to read them.
//!
//! After a consultant's answer (or after the visitor's last tab closed), the
//! visitor's dialog is looked at again [`crate::config::Settings::email_after_secs`]
//! later: answers newer than both the widget's "seen" mark and the last email,
//! to a visitor with an address and no open tab on any node, go out in one
//! email over SMTP (`smtp_url`), in the site's widget language. The dialog
//! then gets a system line that says so, for both sides.

mod words;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatcast_protocol::{Author, ChatMessage, MessageKind};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::app::AppState;
use crate::config::Settings;
use crate::storage::NewMessage;

/// Longest email address taken from a visitor.
const MAX_ADDRESS: usize = 254;

/// Sends the emails; one per server when `smtp_url` is set.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    delay: Duration,
    /// Visitors whose dialog is due to be looked at (one wait each).
    pending: Mutex<HashSet<String>>,
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Reading or writing the dialog failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The email could not be put together (an address lettre refuses).
    #[error("building the email: {0}")]
    Build(String),
    /// The SMTP server refused it or did not answer.
    #[error("sending over SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Mailer {
    /// The mailer the settings describe; `None` without `smtp_url`. The error names the setting at fault.
    pub fn from_settings(s: &Settings) -> Result<Option<Mailer>, String> {
        let Some(url) = s.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else { return Ok(None) };
        let from = s
            .mail_from
            .as_deref()
            .ok_or(
                "`smtp_url` is set but `mail_from` is not: say whom the answers come from, e.g. `Support <help@shop.example>`",
            )?
            .parse::<Mailbox>()
            .map_err(|e| format!("`mail_from` is not an email address with an optional name: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("`smtp_url` is not an smtp:// or smtps:// URL: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Some(Mailer { transport, from, delay: Duration::from_secs(s.email_after_secs), pending: Mutex::default() }))
    }
}

/// An email address a visitor typed, checked: one an email can be sent to.
pub fn address(raw: &str) -> Result<String, String> {
    let a = crate::validate::email(raw)?;
    if a.len() > MAX_ADDRESS || a.parse::<lettre::Address>().is_err() {
        return Err(format!("`{}` is not an email address", crate::validate::shown(&a)));
    }
    Ok(a)
}

/// Something happened after which an answer may wait unread (a consultant
/// answered, the visitor left): look at the dialog again after the delay. Does
/// nothing without SMTP, or when a look is already due.
pub fn schedule(state: &AppState, visitor_id: &str) {
    let Some(mailer) = state.mail.clone() else { return };
    if !mailer.pending.lock().unwrap().insert(visitor_id.to_owned()) {
        return;
    }
    let (state, visitor_id) = (state.clone(), visitor_id.to_owned());
    state.tasks.clone().spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(mailer.delay) => {}
            _ = state.shutdown.cancelled() => return,
        }
        mailer.pending.lock().unwrap().remove(&visitor_id);
        if let Err(e) = send_unread(&state, &mailer, &visitor_id).await {
            metrics::counter!("chatcast_emails_failed_total").increment(1);
            tracing::warn!(error = %e, visitor = %visitor_id, "emailing answers failed; the next answer tries again");
        }
    });
}

/// Emails the answers the visitor has not seen, if they are away and gave an address.
async fn send_unread(state: &AppState, mailer: &Arc<Mailer>, visitor_id: &str) -> Result<(), MailError> {
    if state.hub.is_online(visitor_id) || state.hub.engine().is_online_elsewhere(visitor_id).await {
        return Ok(()); // on the site: the widget shows them
    }
    let Some((contact, emailed_upto)) = state.db.contact(visitor_id).await? else { return Ok(()) };
    let Some(to) = contact.email.as_deref() else { return Ok(()) };
    let seen = state.db.seen_message(visitor_id).await?.unwrap_or(0);
    let after = emailed_upto.max(seen);
    let dialog = state.db.messages(visitor_id, crate::chat::HISTORY_LIMIT).await?;
    let answers: Vec<&ChatMessage> = dialog.iter().filter(|m| m.author == Author::Consultant && id_of(m) > after).collect();
    let Some(last) = answers.last().map(|m| id_of(m)) else { return Ok(()) };
    let Some((visitor, site_name)) = state.db.visitor(visitor_id).await? else { return Ok(()) };
    let Some(site) = state.db.site(visitor.site_id).await? else { return Ok(()) };
    let w = words::of(site.widget.language);
    let to_box = Mailbox::new(contact.name.clone(), to.parse().map_err(|e| MailError::Build(format!("{e}")))?);
    let email = lettre::Message::builder()
        .from(mailer.from.clone())
        .to(to_box)
        .subject(w.subject(&site_name))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(text(&w, contact.name.as_deref(), &site_name, &answers, &visitor.page.url))
        .map_err(|e| MailError::Build(e.to_string()))?;
    mailer.transport.send(email).await?;
    metrics::counter!("chatcast_emails_sent_total").increment(1);
    // Another node may have sent the same answers meanwhile: one line in the dialog.
    if state.db.mark_emailed(visitor_id, last).await? {
        let n = answers.len();
        let body = format!("Emailed {} to {to}", if n == 1 { "the answer".to_owned() } else { format!("{n} answers") });
        let line = NewMessage {
            visitor_id,
            author: Author::System,
            user_id: None,
            author_name: None,
            client_id: None,
            body: &body,
            at: crate::now_ms(),
            kind: Some(MessageKind::Emailed),
            attachment: None,
            receipt: None,
        };
        crate::chat::deliver(state, site.id, line, None).await?;
    }
    Ok(())
}

fn id_of(m: &ChatMessage) -> i64 {
    m.id.parse().unwrap_or(0)
}

/// The email's text: a greeting, each answer with its author, and a link back to the page.
fn text(w: &words::Words, name: Option<&str>, site: &str, answers: &[&ChatMessage], page: &str) -> String {
    let mut t = format!("{}\n\n{}\n\n", w.hello(name), w.intro(site));
    for m in answers {
        t.push_str(&format!("{}:\n", m.author_name.as_deref().unwrap_or(w.support)));
        for line in m.body.lines() {
            t.push_str(&format!("    {line}\n"));
        }
        if let Some(a) = &m.attachment {
            t.push_str(&format!("    {}\n", w.attached(&a.name)));
        }
        t.push('\n');
    }
    // The page without its query and fragment (masked values are no link to follow).
    if page.starts_with("https://") || page.starts_with("http://") {
        let bare = page.split(['?', '#']).next().unwrap_or(page);
        t.push_str(&format!("{}\n{bare}\n", w.continue_on_site));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_addresses_must_be_mailable() {
        assert_eq!(address("  ann@shop.example ").unwrap(), "ann@shop.example");
        for bad in ["ann", "ann@", "@shop.example", "ann @shop.example", "ann@shop.example\r\nBcc: x@y.z", "a@b@c"] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_email_quotes_each_answer_and_links_the_page_without_its_query() {
        let m = |who: &str, body: &str| ChatMessage {
            id: "7".into(),
            visitor_id: "v".into(),
            client_id: None,
            author: Author::Consultant,
            author_name: Some(who.into()),
            body: body.into(),
            at: 0,
            kind: None,
            attachment: None,
            receipt: None,
        };
        let (a, mut b) = (m("Anna", "Yes.\nWe ship to Berlin."), m("Ben", "Anything else?"));
        b.attachment = Some(chatcast_protocol::Attachment {
            id: "0".repeat(32),
            name: "sizes.pdf".into(),
            content_type: "application/pdf".into(),
            size: 9,
        });
        let t =
            text(&words::of(Default::default()), Some("Jane"), "Demo shop", &[&a, &b], "https://shop.example/p/1?email=***#x");
        assert!(t.starts_with("Hello Jane,"), "{t}");
        assert!(t.contains("Anna:\n    Yes.\n    We ship to Berlin.\n"), "{t}");
        assert!(t.contains("Ben:\n    Anything else?\n    Attached: sizes.pdf (open the chat on the site to get it)\n"), "{t}");
        assert!(t.ends_with("https://shop.example/p/1\n"), "{t}");
        let ru = text(&words::of(chatcast_protocol::WidgetLanguage::Ru), None, "Магазин", &[&a], "about:blank");
        assert!(ru.starts_with("Здравствуйте!"), "{ru}");
        assert!(!ru.contains("about:blank"));
    }
}
