//! The receipt of a screen broadcast: when it ends, the dialog gets a system
//! line that says how long the consultant watched, which pages of the site
//! (URLs masked by the site's rule, as stored), and how many fields and areas
//! stayed hidden from view (counted by the widget with the recorder's rules).
//! The server writes the text; the widget only reports numbers.

/// A page the broadcasting tab showed, and what stayed hidden on it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct PageSeen {
    url: String,
    fields: u32,
    areas: u32,
}

use chatcast_protocol::ReceiptFacts;

/// What a live broadcast showed so far.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    started_at: i64,
    pages: Vec<PageSeen>,
}

/// Pages listed in a receipt; more are counted, not named.
const MAX_LISTED: usize = 8;
/// Pages remembered per broadcast (a tab that navigates for hours does not grow this without bound).
const MAX_PAGES: usize = 200;

impl Receipt {
    /// A broadcast that starts now, on `url`.
    pub fn new(started_at: i64, url: Option<String>) -> Self {
        let mut r = Receipt { started_at, pages: Vec::new() };
        if let Some(url) = url {
            r.page(url);
        }
        r
    }

    /// The tab moved to `url` (a new page load, or a single-page-app route).
    pub fn page(&mut self, url: String) {
        if self.pages.last().is_some_and(|p| p.url == url) || self.pages.len() >= MAX_PAGES {
            return;
        }
        self.pages.push(PageSeen { url, fields: 0, areas: 0 });
    }

    /// The widget counted what stays hidden on the current page.
    pub fn hidden(&mut self, fields: u32, areas: u32) {
        if let Some(p) = self.pages.last_mut() {
            p.fields = p.fields.max(fields.min(100_000));
            p.areas = p.areas.max(areas.min(100_000));
        }
    }

    /// The receipt's facts, for a broadcast that ended at `now`.
    pub fn facts(&self, now: i64) -> ReceiptFacts {
        let mut listed: Vec<&str> = Vec::new();
        for p in &self.pages {
            let shown = path_of(&p.url);
            if !listed.contains(&shown) {
                listed.push(shown);
            }
        }
        ReceiptFacts {
            seconds: ((now - self.started_at).max(0) / 1000) as u64,
            pages: listed.iter().take(MAX_LISTED).map(|p| (*p).to_owned()).collect(),
            more_pages: listed.len().saturating_sub(MAX_LISTED) as u32,
            fields: self.pages.iter().map(|p| u64::from(p.fields)).sum(),
            areas: self.pages.iter().map(|p| u64::from(p.areas)).sum(),
        }
    }
}

/// The receipt in English, as stored and as consoles show it, for a broadcast
/// watched by `who` (the widget words the same facts in the site's language).
pub fn text(who: &str, f: &ReceiptFacts) -> String {
    let mut text = format!("Receipt of the screen broadcast: {who} saw this tab for {}", duration(f.seconds));
    let n = f.pages.len() + f.more_pages as usize;
    match n {
        0 => {}
        1 => text.push_str(&format!(", on {}", f.pages[0])),
        n => {
            let more = if f.more_pages > 0 { format!(" and {} more", f.more_pages) } else { String::new() };
            text.push_str(&format!(", on {n} pages: {}{more}", f.pages.join(", ")));
        }
    }
    text.push_str(&format!(". Stayed hidden from view: {} and {}.", count(f.fields, "field"), count(f.areas, "area")));
    text
}

/// `https://shop.example.com/cart?id=•••` → `/cart?id=•••` (the site is the visitor's own).
fn path_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => match url[i + 3..].find(['/', '?', '#']) {
            Some(j) => &url[i + 3 + j..],
            None => "/",
        },
        None if url.is_empty() => "/",
        None => url,
    }
}

fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// "45 s", "2 min 14 s", "1 h 5 min".
fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_says_how_long_where_and_what_stayed_hidden() {
        let mut r = Receipt::new(1_000, Some("https://shop.test/products".into()));
        r.hidden(2, 1);
        r.hidden(1, 3); // a recount on the same page: the most seen
        r.page("https://shop.test/products".into()); // the same page again: not listed twice
        r.page("https://shop.test/cart?id=•••".into());
        r.hidden(1, 0);
        let t = text("Alice", &r.facts(1_000 + 134_000));
        assert_eq!(
            t,
            "Receipt of the screen broadcast: Alice saw this tab for 2 min 14 s, on 2 pages: /products, /cart?id=•••. \
             Stayed hidden from view: 3 fields and 3 areas."
        );
        let one = text("Bob", &Receipt::new(0, Some("https://shop.test".into())).facts(5_000));
        assert_eq!(
            one,
            "Receipt of the screen broadcast: Bob saw this tab for 5 s, on /. Stayed hidden from view: 0 fields and 0 areas."
        );
    }

    #[test]
    fn long_tours_are_counted_not_listed() {
        let mut r = Receipt::new(0, None);
        for i in 0..(MAX_PAGES + 50) {
            r.page(format!("https://shop.test/p{i}"));
        }
        assert_eq!(r.pages.len(), MAX_PAGES);
        let f = r.facts(3_700_000);
        assert_eq!((f.pages.len(), f.more_pages), (MAX_LISTED, (MAX_PAGES - MAX_LISTED) as u32));
        let t = text("A", &f);
        assert!(t.contains("1 h 1 min") && t.contains(&format!("on {MAX_PAGES} pages")) && t.contains(" and 192 more"), "{t}");
    }
}
