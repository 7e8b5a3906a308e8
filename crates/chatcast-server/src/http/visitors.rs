//! `GET /api/visitors/{id}`: who a visitor is, for the console's visitor
//! panel — for the consultants of the visitor's site only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chatcast_protocol::api::VisitorDetails;

use super::ApiError;
use super::auth::CurrentUser;
use crate::app::AppState;

/// `GET /api/visitors/{id}`: 404 for a visitor that does not exist or is of a
/// site the caller does not work on (the same answer: existence is not theirs to learn).
pub async fn details(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<VisitorDetails>, ApiError> {
    let access = crate::auth::site_access(state.db.as_ref(), &user).await?;
    let record = state.db.visitor_record(&id).await?.filter(|r| access.allows(r.site_id));
    let Some(r) = record else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "no visitor of your sites has this id"));
    };
    let (browser, os) = browser_and_os(&r.user_agent);
    Ok(Json(VisitorDetails {
        visitor_id: id,
        site_name: r.site_name,
        browser,
        os,
        language: r.language,
        timezone: r.timezone,
        referrer: r.referrer,
        pages: r.pages,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        visits: r.visits,
        messages: r.messages,
        conversation_since: r.conversation_since,
        identity: r.identity,
        contact: r.contact,
    }))
}

/// The browser (with its major version) and the operating system a user agent
/// names, as people call them; empty where it names none we know.
pub fn browser_and_os(ua: &str) -> (String, String) {
    let version = |token: &str| -> Option<String> {
        let at = ua.find(token)? + token.len();
        let v: String = ua[at..].chars().take_while(char::is_ascii_digit).collect();
        Some(if v.is_empty() { String::new() } else { format!(" {v}") })
    };
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    let browser = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Version/", "Safari")]
        .iter()
        .find_map(|(token, name)| version(token).map(|v| format!("{name}{v}")))
        .unwrap_or_default();
    let os = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| (*name).to_owned())
    .unwrap_or_default();
    (browser, os)
}

#[cfg(test)]
mod tests {
    use super::browser_and_os;

    #[test]
    fn common_user_agents_read_as_people_call_them() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                ("Edge 131", "Windows"),
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", ("Firefox 128", "Linux")),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                ("Safari 17", "iOS"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                ("Chrome 131", "Android"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                ("Opera 115", "macOS"),
            ),
            ("curl/8.5.0", ("", "")),
        ];
        for (ua, (browser, os)) in cases {
            assert_eq!(browser_and_os(ua), (browser.to_owned(), os.to_owned()), "{ua}");
        }
    }
}
