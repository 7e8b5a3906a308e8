//! Screen broadcast through the real server: consent, probe, relay, stop,
//! following the tab, and every refusal reason.

mod common;

use chatcast_protocol::screen::{KIND_DELTA, KIND_KEYFRAME, KIND_PROBE, encode};
use common::*;
use serde_json::{Value, json};

/// A console socket logged in as a new consultant.
async fn console(app: &TestApp, email: &str) -> Client {
    let cookie = app.consultant(email).await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    c
}

/// Answers the server's connection probe like the agent does.
async fn pass_probe(v: &mut Client) {
    let p = v.recv_type("probe").await;
    v.send(json!({"t": "probe", "id": p["id"]})).await;
    let n = p["upload_bytes"].as_u64().unwrap() as usize;
    v.send_binary(encode(KIND_PROBE, 0, &vec![7u8; n])).await;
}

/// The screen socket `screencast_start` opens.
async fn screen(app: &TestApp, start: &Value) -> Client {
    app.screen_socket(start["screen_token"].as_str().expect("screencast_start has a screen_token"), Some(SITE_ORIGIN)).await
}

/// The next `screencast` state frame for this visitor.
async fn state(c: &mut Client) -> String {
    c.recv_type("screencast").await["state"].as_str().unwrap().to_owned()
}

/// The next frame that is not a chat message (system lines interleave).
async fn next_control(c: &mut Client) -> Value {
    loop {
        let v = c.recv().await;
        if v["t"] != "message" {
            return v;
        }
    }
}

async fn notice(c: &mut Client) -> Value {
    c.recv_type("screencast_notice").await
}

const KEYFRAME_BODY: &str = r#"[{"type":4,"data":{"href":"http://shop.test:8000/","width":1280,"height":720},"timestamp":1},{"type":2,"data":{},"timestamp":1}]"#;

#[tokio::test]
async fn consent_probe_start_relay_and_visitor_stop() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("tab-1")).await;

    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    assert_eq!(state(&mut c).await, "pending");
    let ask = v.recv_type("consent_request").await;
    assert_eq!(ask["consultant_name"], "Alice");
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    let start = v.recv_type("screencast_start").await;
    assert_eq!(start["privacy"]["mask_all_inputs"], false);
    loop {
        if state(&mut c).await == "active" {
            break;
        }
    }

    // Screen frames go on the screen socket, never on the chat socket.
    let key = encode(KIND_KEYFRAME, 0, KEYFRAME_BODY.as_bytes());
    v.send_binary(key.clone()).await;
    assert_eq!(v.recv_type("error").await["code"], "binary_not_supported");
    // The agent sends a keyframe and a delta before anyone watches.
    let mut s = screen(&app, &start).await;
    let d1 = encode(KIND_DELTA, 1, br#"[{"type":3,"data":{"source":0},"timestamp":2}]"#);
    s.send_binary(key.clone()).await;
    s.send_binary(d1.clone()).await;

    // The screencast window opens: it gets the cached keyframe and tail, byte for byte.
    let cookie = app.login("alice@example.com", "consultant-pw").await;
    let mut window = app.console_socket(Some(&cookie), None).await;
    window.recv_type("snapshot").await;
    window.send(json!({"t": "watch", "visitor_id": vid})).await;
    // First where the replica may load the site's assets from (and nowhere else)…
    let assets = window.recv().await;
    assert_eq!(assets["t"], "screencast_assets", "{assets}");
    assert_eq!(assets["origins"], json!([SITE_ORIGIN]));
    assert_eq!(assets["demo"], false);
    // …then the frames.
    assert_eq!(window.recv_binary().await.as_ref(), key.as_slice());
    assert_eq!(window.recv_binary().await.as_ref(), d1.as_slice());
    let d2 = encode(KIND_DELTA, 2, br#"[{"type":3,"data":{"source":1},"timestamp":3}]"#);
    s.send_binary(d2.clone()).await;
    assert_eq!(window.recv_binary().await.as_ref(), d2.as_slice());

    // The visitor presses Stop: the consultant is told why, and consent is revoked.
    v.send(json!({"t": "screencast_stop"})).await;
    // The system line is stored and sent before the notice: a console that
    // shows the notice finds the line in the transcript.
    let mut line_first = false;
    let n = loop {
        let m = c.recv().await;
        match m["t"].as_str() {
            Some("message") => line_first |= m["message"]["body"].as_str().unwrap_or_default().contains("visitor stopped"),
            Some("screencast_notice") => break m,
            _ => {}
        }
    };
    assert_eq!(n["reason"], "stopped_by_visitor");
    assert!(line_first, "the transcript line comes before the notice");
    assert!(!app.state.db.has_consent(&vid, "tab-1", chatcast_server::now_ms()).await.unwrap());
    // The server closes the screen socket: nothing more is relayed, and its token is dead.
    assert_eq!(s.expect_close().await.0, 1000);
    let start_token = start["screen_token"].as_str().unwrap();
    let mut late = app.screen_socket(start_token, Some(SITE_ORIGIN)).await;
    assert_eq!(late.recv_type("error").await["code"], "no_broadcast");
    assert_eq!(late.expect_close().await.0, 1008);

    // Transcript and audit trail.
    let lines: Vec<String> = app
        .state
        .db
        .messages(&vid, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.author == chatcast_protocol::Author::System)
        .map(|m| m.body)
        .collect();
    assert!(lines.iter().any(|l| l.contains("asked to see")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("allowed")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("started")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("visitor stopped")), "{lines:?}");
    let events: Vec<String> = app.state.db.audit_log(Some(&vid), 50).await.unwrap().into_iter().map(|a| a.event).collect();
    for e in ["requested", "granted", "started", "consent_revoked", "stopped_by_visitor"] {
        assert!(events.contains(&e.to_owned()), "{e} missing in {events:?}");
    }
    // Nothing of the screen was stored.
    let db = std::fs::read(app.dir.join("chatcast.db")).unwrap();
    assert!(!db.windows(12).any(|w| w == b"\"source\":1}"), "screen data must not reach storage");
}

#[tokio::test]
async fn remembered_consent_starts_without_asking_and_a_reopened_window_needs_no_new_snapshot() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("tab-1")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    v.recv_type("screencast_start").await;
    c.send(json!({"t": "screencast_stop", "visitor_id": vid})).await;
    assert_eq!(v.recv_type("screencast_stop").await["reason"], "stopped_by_consultant");

    // Asked again: no consent block this time, straight to the probe and start.
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let p = next_control(&mut v).await;
    assert_eq!(p["t"], "probe", "remembered consent skips the question: {p}");
    v.send(json!({"t": "probe", "id": p["id"]})).await;
    v.send_binary(encode(KIND_PROBE, 0, &vec![1u8; p["upload_bytes"].as_u64().unwrap() as usize])).await;
    let start = v.recv_type("screencast_start").await;
    let line = v.recv_type("message").await["message"].clone();
    assert_eq!((line["kind"].as_str(), line["author_name"].as_str()), (Some("started"), Some("Alice")), "{line}");
    let key = encode(KIND_KEYFRAME, 0, KEYFRAME_BODY.as_bytes());
    let mut s = screen(&app, &start).await;
    s.send_binary(key.clone()).await;

    // Window opened, closed, reopened: the keyframe comes from the cache each time.
    for _ in 0..2 {
        c.send(json!({"t": "watch", "visitor_id": vid})).await;
        assert_eq!(c.recv_binary().await.as_ref(), key.as_slice());
        c.send(json!({"t": "unwatch", "visitor_id": vid})).await;
    }
    // ...and the visitor's page was never asked for another snapshot.
    v.expect_silence(300).await;
}

#[tokio::test]
async fn the_broadcast_follows_its_tab_to_the_next_page_and_no_other_tab() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, token) = app.visitor_tab(None, Some("tab-1")).await;
    let (mut other, _, _) = app.visitor_tab(Some(&token), Some("tab-2")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    other.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    assert_eq!(other.recv_type("consent_closed").await["request_id"], ask["request_id"], "the other tab hides its block");
    pass_probe(&mut v).await;
    let first = v.recv_type("screencast_start").await;
    let mut first_screen = screen(&app, &first).await;

    // The visitor clicks a link: the next page connects, sometimes before the
    // old page's socket has closed.
    let (mut next, vid2, _) = app.visitor_tab(Some(&token), Some("tab-1")).await;
    drop(v);
    assert_eq!(vid, vid2);
    let start = next.recv_type("screencast_start").await;
    assert_ne!(start["screen_token"], first["screen_token"], "each page gets a token of its own");
    // The old page's upload is over.
    assert_eq!(first_screen.expect_close().await.0, 1000);
    let mut s = screen(&app, &start).await;
    s.send_binary(encode(KIND_KEYFRAME, 0, KEYFRAME_BODY.as_bytes())).await;
    c.send(json!({"t": "watch", "visitor_id": vid})).await;
    assert_eq!(c.recv_binary().await[0], KIND_KEYFRAME);
    // The other tab never recorded: it has no token, and the old one is dead.
    other.send_binary(encode(KIND_KEYFRAME, 0, b"[]")).await;
    assert_eq!(other.recv_type("error").await["code"], "binary_not_supported");
    let mut stale = app.screen_socket(first["screen_token"].as_str().unwrap(), Some(SITE_ORIGIN)).await;
    assert_eq!(stale.recv_type("error").await["code"], "no_broadcast");
}

#[tokio::test]
async fn refusals_reach_the_console_with_their_reason() {
    let app = spawn_app_in(tempfile::tempdir().unwrap().keep().as_path(), |s| {
        s.consent_request_timeout_secs = 1;
        s.consent_retry_after_no_secs = 2;
    })
    .await;
    let mut c = console(&app, "alice@example.com").await;

    // denied
    let (mut v, vid, _) = app.visitor_tab(None, Some("t")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": false})).await;
    let n = notice(&mut c).await;
    assert_eq!((n["reason"].as_str(), n["visitor_id"].as_str()), (Some("denied"), Some(vid.as_str())));
    assert_eq!(n["retry_in_secs"], 2, "the console learns when it may ask again: {n}");
    let said_no = std::time::Instant::now();

    // The line carries its kind and the consultant: the widget words it for the visitor, in its language.
    let line = v.recv_type("message").await["message"].clone();
    assert_eq!((line["kind"].as_str(), line["author_name"].as_str()), (Some("denied"), Some("Alice")), "{line}");

    // Asking again at once is refused by the server (whatever the console shows), saying why.
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let n = notice(&mut c).await;
    assert_eq!(n["reason"], "denied");
    assert!(n["detail"].as_str().unwrap().contains("ask again in 2 s"), "{n}");
    v.expect_silence(300).await;
    // After the pause it goes through again (positive control).
    tokio::time::sleep(
        std::time::Duration::from_secs(2).saturating_sub(said_no.elapsed()) + std::time::Duration::from_millis(100),
    )
    .await;

    // timeout
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    assert_eq!(v.recv_type("consent_closed").await["request_id"], ask["request_id"]);
    assert_eq!(notice(&mut c).await["reason"], "timeout");

    // unsupported
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    v.recv_type("consent_request").await;
    v.send(json!({"t": "screencast_unavailable", "reason": "unsupported", "detail": "MutationObserver"})).await;
    let n = notice(&mut c).await;
    assert_eq!(n["reason"], "unsupported");
    assert_eq!(n["detail"], "MutationObserver");

    // offline
    drop(v);
    loop {
        if c.recv_type("visitor").await["visitor"]["online"] == false {
            break;
        }
    }
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    assert_eq!(notice(&mut c).await["reason"], "offline");

    let events: Vec<String> = app.state.db.audit_log(Some(&vid), 50).await.unwrap().into_iter().map(|a| a.event).collect();
    for e in ["denied", "timeout", "unsupported", "offline"] {
        assert!(events.contains(&e.to_owned()), "{e} missing in {events:?}");
    }
}

#[tokio::test]
async fn a_weak_connection_is_measured_and_refused() {
    // Any measured round trip is above 0 ms: the probe must decide "weak".
    let app = spawn_app_in(tempfile::tempdir().unwrap().keep().as_path(), |s| s.weak_rtt_ms = 0).await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("t")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    let n = notice(&mut c).await;
    assert_eq!(n["reason"], "weak_connection");
    assert!(n["detail"].as_str().unwrap().contains("round trip"), "{n}");
    // The system line says so in the dialog (the widget words it by its kind); the tab is never told to start.
    let line = v.recv_type("message").await;
    assert_eq!(line["message"]["kind"], "weak_connection", "{line}");
    let stored = app.state.db.messages(&vid, 10).await.unwrap();
    let theirs = stored.last().unwrap();
    assert!(theirs.body.starts_with("Screen broadcast is not possible: the visitor's connection is too weak"), "{theirs:?}");
    v.expect_silence(200).await;
}

#[tokio::test]
async fn admins_read_the_audit_trail_and_set_privacy_without_redeploying() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let http = reqwest::Client::new();
    let site = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap();
    let res = http
        .put(app.url(&format!("/api/sites/{}/settings", site.id)))
        .header("Cookie", &admin)
        .json(&json!({"privacy": {"mask_all_inputs": true, "block_selectors": [".secret"], "mask_selectors": ["#name"],
            "keep_url_params": ["page", "#"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let mut c = app.console_socket(Some(&admin), None).await;
    c.recv_type("snapshot").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("t")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    let start = v.recv_type("screencast_start").await;
    let privacy = json!({"mask_all_inputs": true, "block_selectors": [".secret"], "mask_selectors": ["#name"],
        "keep_url_params": ["page", "#"]});
    assert_eq!(start["privacy"], privacy);
    assert_eq!(ask["privacy"], privacy, "the consent question carries the rules, for the visitor's preview");

    let audit: Value = http.get(app.url("/api/audit")).header("Cookie", &admin).send().await.unwrap().json().await.unwrap();
    let events: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"started") && events.contains(&"granted"), "{events:?}");
    assert_eq!(audit[0]["site_name"], "Test shop");
}

#[tokio::test]
async fn the_screen_socket_needs_a_live_token_and_an_allowed_origin() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("t")).await;
    for (token, origin, code, close) in
        [("", Some(SITE_ORIGIN), "no_broadcast", 1008), ("not-a-token", Some(SITE_ORIGIN), "no_broadcast", 1008)]
    {
        let mut s = app.screen_socket(token, origin).await;
        let e = s.recv_type("error").await;
        assert_eq!(e["code"], code, "{e}");
        assert_eq!(s.expect_close().await.0, close);
    }
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    let start = v.recv_type("screencast_start").await;
    let token = start["screen_token"].as_str().unwrap();
    // A live token from another site's page is still refused.
    let mut s = app.screen_socket(token, Some("http://evil.test")).await;
    assert_eq!(s.recv_type("error").await["code"], "origin_not_allowed");
    assert_eq!(s.expect_close().await.0, 4003);
    // A reconnect with the same token replaces the earlier socket.
    let mut a = app.screen_socket(token, Some(SITE_ORIGIN)).await;
    a.send_binary(encode(KIND_KEYFRAME, 0, KEYFRAME_BODY.as_bytes())).await;
    let mut b = app.screen_socket(token, Some(SITE_ORIGIN)).await;
    assert_eq!(a.expect_close().await.0, 1000);
    b.send_binary(encode(KIND_DELTA, 1, b"[]")).await;
    // Text and unknown kinds are named errors; the socket stays open.
    b.send_text("{}").await;
    assert_eq!(b.recv_type("error").await["code"], "bad_message");
    b.send_binary(encode(9, 2, b"x")).await;
    assert_eq!(b.recv_type("error").await["code"], "bad_message");
    c.send(json!({"t": "watch", "visitor_id": vid})).await;
    assert_eq!(c.recv_binary().await[0], KIND_KEYFRAME);
    assert_eq!(c.recv_binary().await[0], KIND_DELTA);
}

#[tokio::test]
async fn remembered_consent_belongs_to_the_tab_that_gave_it() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut a, vid, token) = app.visitor_tab(None, Some("tab-aaaaaaaaaa")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = a.recv_type("consent_request").await;
    assert_eq!(ask["remember_hours"], 24, "the question says how long a Yes lasts");
    a.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut a).await;
    a.recv_type("screencast_start").await;
    c.send(json!({"t": "screencast_stop", "visitor_id": vid})).await;
    a.recv_type("screencast_stop").await;

    // The visitor opens another tab (another page): asking again asks, in every tab.
    let (mut b, _, _) = app.visitor_tab(Some(&token), Some("tab-bbbbbbbbbb")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask_b = next_control(&mut b).await;
    assert_eq!(ask_b["t"], "consent_request", "tab B never said yes: {ask_b}");
    assert_eq!(next_control(&mut a).await["t"], "consent_request");
    b.send(json!({"t": "consent_answer", "request_id": ask_b["request_id"], "allow": true})).await;
    pass_probe(&mut b).await;
    b.recv_type("screencast_start").await;

    // The audit names the tab that broadcasts each time.
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let audit: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/audit?visitor_id={vid}")))
        .header("Cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let started: Vec<&str> =
        audit.as_array().unwrap().iter().filter(|r| r["event"] == "started").map(|r| r["detail"].as_str().unwrap()).collect();
    assert_eq!(started.len(), 2, "{audit}");
    assert!(started[0].contains("tab tab-bbbb"), "newest first: {started:?}");
    assert!(started[1].contains("tab tab-aaaa"), "{started:?}");
    let granted: Vec<&str> =
        audit.as_array().unwrap().iter().filter(|r| r["event"] == "granted").map(|r| r["detail"].as_str().unwrap()).collect();
    assert!(granted.iter().all(|d| d.contains("remembered for this tab")), "{granted:?}");
}

#[tokio::test]
async fn page_urls_are_masked_before_they_are_stored_or_forwarded() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    // A widget that did not mask (an old one, or a forged client).
    let mut v = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    let url = "http://shop.test:8000/reset?token=SECRET-RESET-1&page=2#access_token=SECRET-FRAG-2";
    v.send(json!({"t": "hello", "tab_id": "t1", "page": {"url": url, "title": "Reset"}})).await;
    let w = v.recv_type("welcome").await;
    let vid = w["visitor_id"].as_str().unwrap().to_owned();
    let info = c.recv_type("visitor").await;
    assert_eq!(info["visitor"]["page_url"], "http://shop.test:8000/reset?token=•••&page=•••#access_token=•••");
    // The site keeps `page` visible: a later page shows it (new rules reach new connections).
    let site = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap();
    let mut privacy = site.privacy.clone();
    privacy.keep_url_params = vec!["page".into()];
    app.state.db.update_site_settings(site.id, &privacy, 24).await.unwrap();
    let mut v2 = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    v2.send(json!({"t": "hello", "token": w["token"], "tab_id": "t1", "page": {"url": url, "title": "Reset"}})).await;
    assert_eq!(v2.recv_type("welcome").await["privacy"]["keep_url_params"], json!(["page"]));
    v2.send(json!({"t": "page", "page": {"url": "http://shop.test:8000/list?page=3&session=SECRET-3", "title": "List"}})).await;
    loop {
        let m = c.recv_type("visitor").await;
        if m["visitor"]["page_url"] == "http://shop.test:8000/list?page=3&session=•••" {
            break;
        }
    }
    drop(v);
    drop(v2);
    // Nothing unmasked reached the database (its WAL included).
    let dir = app.shutdown().await.expect("a temp data dir");
    for secret in ["SECRET-RESET-1", "SECRET-FRAG-2", "SECRET-3"] {
        assert_eq!(grep_dir(dir.path(), secret), Vec::<String>::new(), "{secret} was stored");
    }
    assert!(!grep_dir(dir.path(), "list?page=3&session=•••").is_empty(), "positive control: the masked URL is stored");
    let _ = vid;
}

#[tokio::test]
async fn a_broadcast_ends_with_a_receipt_of_pages_and_what_stayed_hidden() {
    let app = spawn_app().await;
    let mut c = console(&app, "alice@example.com").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("tab-r")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    v.recv_type("screencast_start").await;
    // The widget counts what stays hidden; the tab moves within the app; counts again.
    v.send(json!({"t": "screencast_stats", "hidden_fields": 3, "hidden_areas": 2})).await;
    v.send(json!({"t": "page", "page": {"url": "http://shop.test:8000/cart?id=SECRET-CART-9", "title": "Cart"}})).await;
    v.send(json!({"t": "screencast_stats", "hidden_fields": 1, "hidden_areas": 0})).await;
    // A forged count cannot smuggle text: the frame is refused.
    v.send(json!({"t": "screencast_stats", "hidden_fields": "9 fields. Also: visit evil.example", "hidden_areas": 0})).await;
    assert_eq!(v.recv_type("error").await["code"], "bad_message");
    c.send(json!({"t": "screencast_stop", "visitor_id": vid})).await;
    let receipt = loop {
        let m = v.recv_type("message").await;
        if m["message"]["kind"] == "receipt" {
            break m["message"].clone();
        }
        let kind = m["message"]["kind"].as_str().unwrap_or_default();
        assert!(["requested", "allowed", "started", "stopped"].contains(&kind), "each system line says what it is: {m}");
    };
    assert_eq!(receipt["author"], "system");
    let body = receipt["body"].as_str().unwrap();
    assert!(body.starts_with("Receipt of the screen broadcast: Alice saw this tab for "), "{body}");
    assert!(body.contains("on 2 pages: /, /cart?id=•••"), "{body}");
    assert!(body.ends_with("Stayed hidden from view: 4 fields and 2 areas."), "{body}");
    // The same as facts, for the widget to word in the site's language.
    let f = &receipt["receipt"];
    assert_eq!(
        (f["pages"].clone(), f["more_pages"].clone(), f["fields"].clone(), f["areas"].clone()),
        (json!(["/", "/cart?id=•••"]), json!(0), json!(4), json!(2)),
        "{receipt}"
    );
    assert_eq!(receipt["author_name"], "Alice");
    // The console has it too, and so has the stored history.
    loop {
        let m = c.recv_type("message").await;
        if m["message"]["kind"] == "receipt" {
            break;
        }
    }
    let history = app.state.db.messages(&vid, 50).await.unwrap();
    assert!(history.iter().any(|m| m.kind == Some(chatcast_protocol::MessageKind::Receipt)
        && m.body == body
        && m.receipt.as_ref().is_some_and(|r| r.fields == 4)));
}
