//! System lines written for their reader. A line is stored once, in the
//! consultant's words ("The visitor allowed screen broadcast"), with its
//! [`MessageKind`] and the consultant involved; the visitor reads the same
//! event in its own words ("You allowed Anna to see this tab"). Every frame
//! that carries messages to a widget passes through [`for_visitor`].

use chatcast_protocol::{Author, ChatMessage, MessageKind};

/// The message as the visitor reads it: system lines reworded for them, every
/// other message unchanged.
pub fn for_visitor(m: &ChatMessage) -> ChatMessage {
    let mut m = m.clone();
    if m.author == Author::System
        && let Some(kind) = m.kind
        && let Some(body) = visitor_words(kind, m.author_name.as_deref().unwrap_or("Support"))
    {
        m.body = body;
    }
    m
}

/// The visitor's words for a system line of `kind` involving consultant `name`
/// (`None`: the stored text reads right for both, as the receipt does).
fn visitor_words(kind: MessageKind, name: &str) -> Option<String> {
    Some(match kind {
        MessageKind::Receipt => return None,
        MessageKind::Requested => format!("{name} asked to see this tab"),
        MessageKind::Allowed => format!("You allowed {name} to see this tab"),
        MessageKind::Started => format!("{name} is now viewing this tab"),
        MessageKind::Stopped => format!("{name} stopped viewing this tab"),
        MessageKind::NoViewers => "Screen sharing ended: nobody was watching".into(),
        MessageKind::Denied => format!("You declined to show this tab to {name}"),
        MessageKind::Timeout => format!("{name}'s request to see this tab expired"),
        MessageKind::Unsupported => "Screen sharing does not work in this browser".into(),
        MessageKind::WeakConnection => "Screen sharing did not start: the connection is too slow".into(),
        MessageKind::Offline => "Screen sharing ended: the page went offline".into(),
        MessageKind::StoppedByVisitor => "You stopped screen sharing".into(),
        MessageKind::TooMuchData => "Screen sharing ended: the page changed faster than it could be sent".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Option<MessageKind>, author: Author, name: Option<&str>, body: &str) -> ChatMessage {
        ChatMessage {
            id: "1".into(),
            visitor_id: "v_1".into(),
            client_id: None,
            author,
            author_name: name.map(Into::into),
            body: body.into(),
            at: 0,
            kind,
        }
    }

    #[test]
    fn the_visitor_reads_system_lines_in_its_own_words() {
        let allowed = line(Some(MessageKind::Allowed), Author::System, Some("Anna"), "The visitor allowed screen broadcast");
        assert_eq!(for_visitor(&allowed).body, "You allowed Anna to see this tab");
        let declined = line(Some(MessageKind::Denied), Author::System, None, "The visitor declined screen broadcast");
        assert_eq!(for_visitor(&declined).body, "You declined to show this tab to Support");
        // Unchanged: the receipt, untyped system lines, and anything a person wrote.
        let receipt = line(Some(MessageKind::Receipt), Author::System, None, "Screen broadcast: 2 min");
        assert_eq!(for_visitor(&receipt), receipt);
        let old = line(None, Author::System, None, "Anna asked to see the visitor's tab");
        assert_eq!(for_visitor(&old), old);
        let said = line(None, Author::Consultant, Some("Anna"), "You allowed me");
        assert_eq!(for_visitor(&said), said);
    }
}
