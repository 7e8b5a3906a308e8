//! Checks of what people type — site names, origins, emails, passwords,
//! display names — shared by the command line and the admin API, each with a
//! message that says what is wrong. Storage never sees a value these refuse.

use crate::transport::origin;

/// Longest site or display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters (hashing cost is bounded by input too).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A name as it is stored: trimmed, non-empty, at most [`MAX_NAME_CHARS`], no control characters.
pub fn name(what: &str, raw: &str) -> Result<String, String> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(format!("the {what} is longer than {MAX_NAME_CHARS} characters"));
    }
    if n.chars().any(char::is_control) {
        return Err(format!("the {what} contains a control character (a line break, a tab…)"));
    }
    Ok(n.to_owned())
}

/// Longest saved-reply shortcut, in characters.
pub const MAX_SHORTCUT_CHARS: usize = 32;

/// A saved reply's shortcut as stored: lowercase letters and digits (any
/// script), `-` and `_`, 1 to [`MAX_SHORTCUT_CHARS`]; a leading `/` is dropped.
pub fn shortcut(raw: &str) -> Result<String, String> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    if s.is_empty() {
        return Err("the shortcut is empty".into());
    }
    if s.chars().count() > MAX_SHORTCUT_CHARS {
        return Err(format!("the shortcut is longer than {MAX_SHORTCUT_CHARS} characters"));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!("the shortcut may hold letters, digits, - and _ only, not `{c}`"));
    }
    Ok(s)
}

/// A site's allowed origins, normalized: at least one, each `scheme://host[:port]`
/// with a port from 1 to 65535, no duplicates.
pub fn origins(raw: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for o in raw {
        let o = o.trim();
        if o.is_empty() {
            return Err("an origin is empty (expected scheme://host[:port], e.g. https://shop.example.com)".into());
        }
        let n = origin::normalize(o).ok_or_else(|| {
            format!("`{}` is not an origin (expected scheme://host[:port] with a port from 1 to 65535, e.g. https://shop.example.com)", shown(o))
        })?;
        if out.contains(&n) {
            return Err(format!("the origin `{n}` is listed twice"));
        }
        out.push(n);
    }
    if out.is_empty() {
        return Err("a site needs at least one origin (where its pages are served from)".into());
    }
    Ok(out)
}

/// A login email: one `@`, something on both sides, no spaces or control characters, at most 254 bytes.
pub fn email(raw: &str) -> Result<String, String> {
    let e = raw.trim();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if ok { Ok(e.to_owned()) } else { Err(format!("`{}` is not an email address", shown(e))) }
}

/// Longest greeting or offline text of a widget, in characters.
pub const MAX_WIDGET_TEXT_CHARS: usize = 500;

/// A site's widget settings as stored: texts trimmed, at most
/// [`MAX_WIDGET_TEXT_CHARS`] and without control characters but line breaks;
/// the colour empty or `#rrggbb` (lowercased).
pub fn widget_settings(mut s: chatcast_protocol::WidgetSettings) -> Result<chatcast_protocol::WidgetSettings, String> {
    for (what, text) in [("greeting", &mut s.greeting), ("offline text", &mut s.offline_text)] {
        let t = text.trim().replace("\r\n", "\n");
        if t.chars().count() > MAX_WIDGET_TEXT_CHARS {
            return Err(format!("the {what} is longer than {MAX_WIDGET_TEXT_CHARS} characters"));
        }
        if t.chars().any(|c| c.is_control() && c != '\n') {
            return Err(format!("the {what} contains a control character other than a line break"));
        }
        *text = t;
    }
    let c = s.color.trim().to_ascii_lowercase();
    let hex = c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !c.is_empty() && !hex {
        return Err(format!("the colour `{}` is not of the form #rrggbb", shown(&c)));
    }
    s.color = c;
    Ok(s)
}

/// A password: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`] characters.
pub fn password(raw: &str) -> Result<(), String> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("the password must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

/// A value a client sent, fit to quote in a message or a log line: control
/// characters escaped (no forged log lines), cut to 80 characters.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_default).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn widget_settings_are_checked_and_tidied() {
        use chatcast_protocol::WidgetSettings;
        let ok = super::widget_settings(WidgetSettings {
            greeting: "  Hi!\r\nAsk us.  ".into(),
            color: "#A1B2C3".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((ok.greeting.as_str(), ok.color.as_str()), ("Hi!\nAsk us.", "#a1b2c3"));
        for bad in ["red", "#abc", "#12345g", "url(x)"] {
            let e = super::widget_settings(WidgetSettings { color: bad.into(), ..Default::default() }).unwrap_err();
            assert!(e.contains("#rrggbb"), "{bad}: {e}");
        }
        let long = "x".repeat(super::MAX_WIDGET_TEXT_CHARS + 1);
        assert!(super::widget_settings(WidgetSettings { offline_text: long, ..Default::default() }).is_err());
        assert!(super::widget_settings(WidgetSettings { greeting: "a\u{7}b".into(), ..Default::default() }).is_err());
    }

    use super::*;

    #[test]
    fn names_say_what_is_wrong() {
        assert_eq!(name("site name", "  Shop  ").unwrap(), "Shop");
        assert!(name("site name", "   ").unwrap_err().contains("empty"));
        assert!(name("site name", &"x".repeat(101)).unwrap_err().contains("100"));
        assert!(name("site name", "a\nb").unwrap_err().contains("control"));
    }

    #[test]
    fn origins_are_checked_one_by_one() {
        assert_eq!(origins(&["HTTPS://Shop.example.com:443".into()]).unwrap(), ["https://shop.example.com"]);
        assert!(origins(&[]).unwrap_err().contains("at least one"));
        assert!(origins(&["".into()]).unwrap_err().contains("empty"));
        assert!(origins(&["http://a.com:99999".into()]).unwrap_err().contains("65535"));
        assert!(origins(&["http://a.com:0".into()]).unwrap_err().contains("not an origin"));
        assert!(origins(&["shop.example".into()]).unwrap_err().contains("not an origin"));
        assert!(origins(&["https://a.com".into(), "https://A.com/".into()]).unwrap_err().contains("twice"));
    }

    #[test]
    fn emails_and_passwords() {
        assert_eq!(email(" a@b.c ").unwrap(), "a@b.c");
        for bad in ["a", "@b", "a@", "a b@c.d", "a@b@c", "a\n@b.c"] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(1025)).unwrap_err().contains("at most"));
    }

    #[test]
    fn shown_values_cannot_forge_a_log_line() {
        assert_eq!(shown("key\n2026-01-01 INFO forged"), "key\\n2026-01-01 INFO forged");
        assert_eq!(shown(&"k".repeat(100)).chars().count(), 81);
    }
}
