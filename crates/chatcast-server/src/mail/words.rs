//! The emails' words, one set per widget language (the widget's own are in
//! `web/src/widget/i18n/`).

use chatcast_protocol::WidgetLanguage;

/// What an email says, in one language.
pub struct Words {
    /// "Hello NAME," / "Hello,".
    hello: (&'static str, &'static str),
    /// Before the answers; `{site}` is the site's name.
    intro: &'static str,
    /// The subject; `{site}` is the site's name.
    subject: &'static str,
    /// A consultant without a name.
    pub support: &'static str,
    /// Above the link back to the page.
    pub continue_on_site: &'static str,
    /// A file sent with an answer; `{name}` is its name.
    attached: &'static str,
}

const EN: Words = Words {
    hello: ("Hello {name},", "Hello,"),
    intro: "You wrote to {site} while nobody could answer. Here is our answer:",
    subject: "Your conversation with {site}",
    support: "Support",
    continue_on_site: "To go on with the conversation, open the chat on the site:",
    attached: "Attached: {name} (open the chat on the site to get it)",
};

const RU: Words = Words {
    hello: ("Здравствуйте, {name}!", "Здравствуйте!"),
    intro: "Вы писали в {site}, когда никто не мог ответить. Вот наш ответ:",
    subject: "Ваш разговор с {site}",
    support: "Поддержка",
    continue_on_site: "Чтобы продолжить разговор, откройте чат на сайте:",
    attached: "Файл: {name} (его можно скачать в чате на сайте)",
};

/// The words of a language.
pub fn of(language: WidgetLanguage) -> Words {
    match language {
        WidgetLanguage::En => EN,
        WidgetLanguage::Ru => RU,
    }
}

impl Words {
    /// The greeting line.
    pub fn hello(&self, name: Option<&str>) -> String {
        match name {
            Some(n) => self.hello.0.replace("{name}", n),
            None => self.hello.1.to_owned(),
        }
    }

    /// The line before the answers.
    pub fn intro(&self, site: &str) -> String {
        self.intro.replace("{site}", site)
    }

    /// The line for a file sent with an answer.
    pub fn attached(&self, name: &str) -> String {
        self.attached.replace("{name}", name)
    }

    /// The subject line.
    pub fn subject(&self, site: &str) -> String {
        self.subject.replace("{site}", site)
    }
}
