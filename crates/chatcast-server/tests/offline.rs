//! Nobody online: the widget is told whether a consultant of its site is
//! online (and when that changes); a visitor may leave an email address; an
//! answer they do not read on the site goes there by email, once.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn the_widget_learns_when_someone_of_its_site_comes_and_goes() {
    let app = spawn_app().await;
    let (mut v, _, _) = app.visitor(None).await;
    // (`visitor` read the welcome; a fresh one says the same.)
    let (mut v2, _, _) = app.visitor(None).await;
    let mut w = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    w.send(json!({"t": "hello", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    let welcome = w.recv_type("welcome").await;
    assert_eq!(welcome["support_online"], false, "nobody is online yet");
    assert_eq!(welcome["emails_answers"], false, "without SMTP the widget does not ask for an address");

    // A consultant of another site only does not count.
    let other = app.state.db.create_site("Other shop", "site_other", &[], false).await.unwrap();
    chatcast_server::auth::add_user(
        app.state.db.as_ref(),
        "other@example.com",
        "consultant-pw",
        chatcast_server::storage::Role::Consultant,
        None,
    )
    .await
    .unwrap();
    let u = app.state.db.user_by_email("other@example.com").await.unwrap().unwrap();
    app.state.db.set_user_sites(u.id, Some(&[other.id])).await.unwrap();
    let cookie = app.login("other@example.com", "consultant-pw").await;
    let mut c_other = app.console_socket(Some(&cookie), None).await;
    c_other.recv_type("snapshot").await;
    v.expect_silence(2500).await;

    // One of this site does, at once.
    let cookie = app.consultant("anna@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let on = tokio::time::timeout(Duration::from_secs(3), v.recv_type("support")).await.expect("told within 3 s");
    assert_eq!(on["online"], true);
    assert_eq!(v2.recv_type("support").await["online"], true, "every tab of the site is told");

    // A reload of the console does not flip the widgets: it counts as away only after the grace.
    drop(c);
    v.expect_silence(8000).await;
    let off = v.recv_type("support").await;
    assert_eq!(off["online"], false, "told within the grace and a tick");
    app.shutdown().await;
}

#[tokio::test]
async fn a_contact_is_checked_stored_and_shown_to_consultants() {
    let app = spawn_app().await;
    let (mut v, vid, token) = app.visitor(None).await;
    for (bad, why) in [("not-an-address", "not an email address"), ("a@b.c\r\nBcc: x@y.z", "not an email address")] {
        v.send(json!({"t": "contact", "name": "Jane", "email": bad})).await;
        let e = v.recv_type("error").await;
        assert_eq!((e["code"].as_str(), e["ref_type"].as_str()), (Some("bad_message"), Some("contact")), "{e}");
        assert!(e["message"].as_str().unwrap().contains(why), "{e}");
    }
    v.send(json!({"t": "contact", "name": "x".repeat(101), "email": "jane@shop.example"})).await;
    assert!(v.recv_type("error").await["message"].as_str().unwrap().contains("name is longer"));
    v.send(json!({"t": "contact", "name": " Jane Roe ", "email": " jane@shop.example "})).await;
    // The address alone later keeps the name.
    v.send(json!({"t": "contact", "email": "jane.roe@shop.example"})).await;
    v.expect_silence(300).await;

    let cookie = app.consultant("anna@example.com").await;
    let details: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/visitors/{vid}")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(details["contact"], json!({"name": "Jane Roe", "email": "jane.roe@shop.example"}));

    // The next page's welcome says what they gave (the widget does not ask again).
    drop(v);
    let (mut v, _, _) = app.visitor(Some(&token)).await;
    v.send(json!({"t": "page", "page": {"url": "http://shop.test:8000/x", "title": "X"}})).await;
    let mut again = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    again.send(json!({"t": "hello", "token": token, "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    let w = again.recv_type("welcome").await;
    assert_eq!(w["contact"]["email"], "jane.roe@shop.example", "{w}");
    app.shutdown().await;
}

#[tokio::test]
async fn answers_to_a_visitor_who_left_go_to_their_email_once() {
    let (smtp, mut inbox) = smtp::sink().await;
    let app = spawn_app_with(|s| {
        s.smtp_url = Some(smtp.clone());
        s.mail_from = Some("Test shop <help@shop.example>".into());
        s.email_after_secs = 1;
    })
    .await;
    let cookie = app.consultant("anna@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;

    // Jane leaves an address and goes; Max leaves none; Olga stays on the site.
    let mut w = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    w.send(json!({"t": "hello", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    assert_eq!(w.recv_type("welcome").await["emails_answers"], true, "with SMTP the widget asks for an address");
    drop(w);
    let (mut jane, jane_id, _) = app.visitor(None).await;
    jane.send(json!({"t": "contact", "email": "jane@shop.example"})).await;
    jane.send(json!({"t": "send", "client_id": "j1", "body": "Do you ship to Berlin?"})).await;
    jane.recv_type("ack").await;
    let (mut max, max_id, _) = app.visitor(None).await;
    max.send(json!({"t": "send", "client_id": "m1", "body": "Hello?"})).await;
    max.recv_type("ack").await;
    let (mut olga, olga_id, _) = app.visitor(None).await;
    olga.send(json!({"t": "contact", "email": "olga@shop.example"})).await;
    olga.send(json!({"t": "send", "client_id": "o1", "body": "Hi"})).await;
    olga.recv_type("ack").await;
    jane.gone().await;
    max.gone().await;

    for (vid, body) in [(&jane_id, "Yes, we ship to Berlin in 2 days."), (&max_id, "Hello Max"), (&olga_id, "Hello Olga")] {
        c.send(json!({"t": "send", "visitor_id": vid, "client_id": format!("k-{vid}"), "body": body})).await;
    }
    c.send(json!({"t": "send", "visitor_id": jane_id, "client_id": "k2", "body": "Anything else?"})).await;

    // Jane's two answers, in one email.
    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await.expect("an email within 10 s").unwrap();
    assert_eq!(mail.to, ["jane@shop.example"]);
    assert!(mail.data.contains("From: \"Test shop\" <help@shop.example>"), "{}", mail.data);
    assert!(mail.data.contains("Subject: Your conversation with Test shop"), "{}", mail.data);
    for said in ["Yes, we ship to Berlin in 2 days.", "Anything else?"] {
        assert!(mail.data.contains(said), "{said:?} in\n{}", mail.data);
    }
    assert!(!mail.data.contains("Hello Max") && !mail.data.contains("Hello Olga"), "only Jane's dialog");

    // The consultant sees that it went.
    let line = loop {
        let m = c.recv_type("message").await;
        if m["message"]["kind"] == "emailed" {
            break m["message"].clone();
        }
    };
    assert_eq!(line["visitor_id"], jane_id.as_str());
    assert_eq!(line["body"], "Emailed 2 answers to jane@shop.example");

    // Nothing for Max (no address) or Olga (on the site), and nothing twice for Jane.
    c.send(json!({"t": "open", "visitor_id": jane_id})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(inbox.try_recv().is_err(), "no other email");

    // A new answer later is a new email, with that answer only.
    c.send(json!({"t": "send", "visitor_id": jane_id, "client_id": "k3", "body": "We are open until 8 pm."})).await;
    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await.expect("a second email").unwrap();
    assert!(mail.data.contains("We are open until 8 pm.") && !mail.data.contains("Anything else?"), "{}", mail.data);
    drop(olga);
    app.shutdown().await;
}

#[tokio::test]
async fn smtp_settings_that_cannot_work_stop_the_start_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let base = || chatcast_server::config::Settings { data_dir: tmp.path().to_path_buf(), ..Default::default() };
    let no_from = chatcast_server::config::Settings { smtp_url: Some("smtp://127.0.0.1:25".into()), ..base() };
    let e = chatcast_server::AppState::build(no_from).await.err().expect("refused").to_string();
    assert!(e.contains("mail_from"), "{e}");
    let bad_url = chatcast_server::config::Settings {
        smtp_url: Some("http://mail.example".into()),
        mail_from: Some("help@shop.example".into()),
        ..base()
    };
    let e = chatcast_server::AppState::build(bad_url).await.err().expect("refused").to_string();
    assert!(e.contains("smtp_url"), "{e}");
}
