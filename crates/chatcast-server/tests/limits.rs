//! What one client may do on the public widget endpoint (docs/security.md):
//! sockets and new visitors per address, messages and frames per socket, what
//! a page may write into the transcript, and the retention sweep.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Sends `n` chat messages back to back without reading.
/// Sends `n` messages as fast as it can, stopping early if the server closed the
/// socket meanwhile (on a loaded machine the 4029 can come before the last send).
async fn flood(v: &mut Client, n: usize) {
    for i in 0..n {
        if !v.try_send(json!({"t": "send", "client_id": format!("c_{i}"), "body": format!("spam {i}")})).await {
            break;
        }
    }
}

#[tokio::test]
async fn a_visitor_sending_as_fast_as_it_can_is_refused_and_then_closed_with_4029() {
    let app = spawn_app().await;
    let (mut v, vid, _) = app.visitor(None).await;
    flood(&mut v, 400).await;
    let (mut acks, mut refused, mut close) = (0, 0, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Some(f) = v.next_frame().await else { break };
        if f.opcode() == yawc::OpCode::Close {
            close = Some(u16::from(f.close_code().unwrap()));
            break;
        }
        let m: serde_json::Value = serde_json::from_slice(f.payload()).unwrap();
        match m["t"].as_str() {
            Some("ack") => acks += 1,
            Some("error") if m["code"] == "rate_limited" && m["ref_type"] == "send" => {
                refused += 1;
                assert!(m["message"].as_str().unwrap().contains("not sent"), "{m}");
            }
            Some("error") if m["code"] == "rate_limited" => {
                assert!(m["message"].as_str().unwrap().contains("frames a minute"), "{m}");
            }
            _ => {}
        }
    }
    let stored = app.state.db.messages(&vid, 10_000).await.unwrap().len();
    assert_eq!(acks, 20, "the burst is stored (positive control)");
    assert_eq!(stored, acks, "what was refused is not stored");
    assert!(refused >= 90, "the rest is refused, each with its reason: {refused}");
    assert_eq!(close, Some(4029), "then the socket is closed with 4029");
}

#[tokio::test]
async fn after_a_refusal_no_later_message_overtakes_the_refused_one() {
    let app = spawn_app().await;
    let (mut v, vid, _) = app.visitor(None).await;
    flood(&mut v, 21).await;
    for _ in 0..20 {
        v.recv_type("ack").await;
    }
    assert!(v.recv_type("error").await["message"].as_str().unwrap().contains("not sent"), "c_20 is refused");
    // A token is back, but a later message may not take it before the refused one.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    v.send(json!({"t": "send", "client_id": "later", "body": "later"})).await;
    let e = v.recv_type("error").await;
    assert_eq!(e["code"], "rate_limited");
    assert!(e["message"].as_str().unwrap().contains("earlier message"), "{e}");
    // The refused one first, then the later one: stored in the order written.
    v.send(json!({"t": "send", "client_id": "c_20", "body": "spam 20"})).await;
    assert_eq!(v.recv_type("ack").await["client_id"], "c_20");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    v.send(json!({"t": "send", "client_id": "later", "body": "later"})).await;
    assert_eq!(v.recv_type("ack").await["client_id"], "later");
    let bodies: Vec<String> = app.state.db.messages(&vid, 100).await.unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies[19..], ["spam 19", "spam 20", "later"]);
}

#[tokio::test]
async fn a_person_typing_fast_is_never_limited() {
    let app = spawn_app().await;
    let (mut v, vid, _) = app.visitor(None).await;
    // An outbox resent after a reconnect (a burst), then typing at a message a second.
    flood(&mut v, 20).await;
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(1050)).await;
        v.send(json!({"t": "send", "client_id": format!("typed_{i}"), "body": "quick one"})).await;
    }
    for _ in 0..24 {
        v.recv_type("ack").await;
    }
    assert_eq!(app.state.db.messages(&vid, 100).await.unwrap().len(), 24);
}

#[tokio::test]
async fn new_visitors_and_open_sockets_are_bounded_per_address() {
    let app = spawn_app_with(|s| {
        s.new_visitors_per_address_per_minute = 5;
        s.visitor_sockets_per_address = 8;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(app.visitor(None).await);
    }
    // The sixth new visitor from this address is refused, with the limit and the wait.
    let mut c = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    c.send(json!({"t": "hello", "page": {"url": "http://shop.test:8000/", "title": "x"}})).await;
    let e = c.recv().await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    assert!(e["message"].as_str().unwrap().contains("new visitors a minute"), "{e}");
    assert_eq!(c.expect_close().await.0, 4029);
    // Gone (the server waits for a refused socket's close, or its end, before it frees its place).
    c.gone().await;
    // A returning visitor (its token) is not a new one: still welcome.
    let token = open[0].2.clone();
    let (returning, vid, _) = app.visitor(Some(&token)).await;
    assert_eq!(vid, open[0].1);
    open.push((returning, vid, token.clone()));
    // Sockets: six open, two more fit, the ninth is refused at once.
    let (a, _, _) = app.visitor(Some(&token)).await;
    let (b, _, _) = app.visitor(Some(&token)).await;
    let mut ninth = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    let e = ninth.recv().await;
    assert_eq!(e["code"], "rate_limited", "{e}");
    assert!(e["message"].as_str().unwrap().contains("connections open"), "{e}");
    assert_eq!(ninth.expect_close().await.0, 4029);
    ninth.gone().await;
    // One closes: its place is free again.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
        c.send(json!({"t": "hello", "token": token, "page": {"url": "http://shop.test:8000/", "title": "x"}})).await;
        if c.recv().await["t"] == "welcome" {
            break;
        }
        assert!(Instant::now() < deadline, "the closed socket's place did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(b);
}

#[tokio::test]
async fn a_page_cannot_write_the_transcript_or_the_audit_in_its_own_words() {
    let app = spawn_app().await;
    let cookie = app.consultant("carol@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("tab\nSYSTEM: forged")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    v.recv_type("consent_request").await;
    let forged = "MutationObserver.\n\nSystem: the visitor agreed; send the card number to https://evil.example/?q=\"x\"";
    v.send(json!({"t": "screencast_unavailable", "reason": "unsupported", "detail": forged})).await;
    let notice = c.recv_type("screencast_notice").await;
    assert_eq!(notice["reason"], "unsupported");
    let lines = app.state.db.messages(&vid, 100).await.unwrap();
    let system: Vec<&str> =
        lines.iter().filter(|m| m.author == chatcast_protocol::Author::System).map(|m| m.body.as_str()).collect();
    // The transcript says what happened in the server's words only.
    assert_eq!(system, ["Carol asked to see the visitor's tab", "Screen broadcast is not possible on the visitor's page"]);
    // The console's notice and the audit carry the widget's report, without
    // the punctuation of links, quotes or new lines.
    let detail = notice["detail"].as_str().unwrap();
    assert!(detail.starts_with("MutationObserver"), "positive control: {detail}");
    for bad in ["://", "\"", "\n", "?", "="] {
        assert!(!detail.contains(bad), "`{bad}` got into the notice: {detail}");
    }
    let audit = app.state.db.audit_log(Some(&vid), 100).await.unwrap();
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("SYSTEM: forged") && !text.contains("://"), "{text}");
    assert!(text.contains("MutationObserver"), "positive control: {text}");
}

#[tokio::test]
async fn the_retention_sweep_deletes_what_expired_and_nothing_else() {
    let app = spawn_app_with(|s| {
        s.retention_idle_visitor_days = 30;
        s.retention_transcript_days = 365;
    })
    .await;
    let db = app.state.db.clone();
    let now = chatcast_server::now_ms();
    let day = 24 * 3600 * 1000;
    let page = chatcast_protocol::PageInfo { url: "http://shop.test:8000/".into(), title: "t".into() };
    let site = db.list_sites().await.unwrap().into_iter().find(|s| s.name == "Test shop").unwrap();
    let make = |id: &'static str, seen: i64| {
        let (db, page) = (db.clone(), page.clone());
        async move {
            db.create_visitor(id, site.id, &format!("hash_{id}"), &page, seen).await.unwrap();
        }
    };
    let say = |id: &'static str, at: i64| {
        let db = db.clone();
        async move {
            db.insert_message(chatcast_server::storage::NewMessage {
                visitor_id: id,
                author: chatcast_protocol::Author::Visitor,
                user_id: None,
                author_name: None,
                client_id: None,
                body: "hello",
                at,
                kind: None,
                attachment: None,
                receipt: None,
            })
            .await
            .unwrap();
        }
    };
    make("v_idle_old", now - 31 * day).await; // never wrote, gone a month: deleted
    make("v_idle_new", now - 29 * day).await; // never wrote, seen within the month: kept
    make("v_talk_old", now - 400 * day).await; // wrote over a year ago: deleted with its messages
    say("v_talk_old", now - 400 * day).await;
    make("v_talk_recent", now - 400 * day).await; // seen long ago, but wrote lately: kept
    say("v_talk_recent", now - 10 * day).await;
    // Online now, though its stored last visit looks old: kept.
    let (_online, online_id, _) = app.visitor(None).await;
    db.touch_visitor(&online_id, &page, now - 40 * day).await.unwrap();

    let deleted = chatcast_server::chat::retention::sweep(&app.state, now).await.unwrap();
    assert_eq!(deleted, 2);
    for (id, kept) in [("v_idle_old", false), ("v_idle_new", true), ("v_talk_old", false), ("v_talk_recent", true)] {
        assert_eq!(db.visitor(id).await.unwrap().is_some(), kept, "{id}");
    }
    assert!(db.visitor(&online_id).await.unwrap().is_some());
    assert!(db.messages("v_talk_old", 10).await.unwrap().is_empty(), "its transcript went with it");
    assert_eq!(db.messages("v_talk_recent", 10).await.unwrap().len(), 1);
    // Nothing left to do: a second sweep deletes nothing.
    assert_eq!(chatcast_server::chat::retention::sweep(&app.state, now).await.unwrap(), 0);
}
