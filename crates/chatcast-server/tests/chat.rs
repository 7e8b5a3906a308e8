//! Chat between a visitor and consultants, through the real server.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn visitor_and_consultants_chat_both_ways() {
    let app = spawn_app().await;
    let alice = app.consultant("alice@example.com").await;
    let bob = app.consultant("bob@example.com").await;
    let mut ca = app.console_socket(Some(&alice), None).await;
    let mut cb = app.console_socket(Some(&bob), None).await;
    ca.recv_type("snapshot").await;
    cb.recv_type("snapshot").await;

    let (mut v, vid, _) = app.visitor(None).await;
    // Both consoles see the visitor come online, with its page.
    for c in [&mut ca, &mut cb] {
        let u = c.recv_type("visitor").await;
        assert_eq!(u["visitor"]["visitor_id"], vid.as_str());
        assert_eq!(u["visitor"]["online"], true);
        assert_eq!(u["visitor"]["page_title"], "Home");
        assert_eq!(u["visitor"]["site_name"], "Test shop");
    }

    v.send(json!({"t": "send", "client_id": "c1", "body": "Hello, I need help"})).await;
    let ack = v.recv_type("ack").await;
    assert_eq!(ack["client_id"], "c1");
    for c in [&mut ca, &mut cb] {
        let m = c.recv_type("message").await;
        assert_eq!(m["message"]["author"], "visitor");
        assert_eq!(m["message"]["body"], "Hello, I need help");
    }

    ca.send(json!({"t": "send", "visitor_id": vid, "client_id": "k1", "body": "Hi! How can I help?"})).await;
    let m = v.recv_type("message").await;
    assert_eq!(m["message"]["author"], "consultant");
    assert_eq!(m["message"]["author_name"], "Alice");
    assert_eq!(m["message"]["body"], "Hi! How can I help?");
    // Bob sees Alice's reply live.
    assert_eq!(cb.recv_type("message").await["message"]["author_name"], "Alice");

    // The visitor navigates: consoles see the new page.
    v.send(json!({"t": "page", "page": {"url": "http://shop.test:8000/pricing", "title": "Pricing"}})).await;
    assert_eq!(cb.recv_type("visitor").await["visitor"]["page_title"], "Pricing");

    // Opening the dialog gives the history in order.
    cb.send(json!({"t": "open", "visitor_id": vid})).await;
    let d = cb.recv_type("dialog").await;
    let bodies: Vec<_> = d["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Hello, I need help", "Hi! How can I help?"]);

    // The visitor leaves: consoles see it offline.
    drop(v);
    loop {
        let u = ca.recv_type("visitor").await;
        if u["visitor"]["online"] == false {
            assert_eq!(u["visitor"]["page_title"], "Pricing");
            break;
        }
    }
}

#[tokio::test]
async fn resent_messages_are_stored_once() {
    let app = spawn_app().await;
    let cookie = app.consultant("alice@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let (mut v, vid, token) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "same", "body": "once"})).await;
    let first = v.recv_type("ack").await;
    c.recv_type("message").await;

    // The widget lost the ack (offline) and sends again after reconnecting.
    drop(v);
    let (mut v, vid2, _) = app.visitor(Some(&token)).await;
    assert_eq!(vid, vid2);
    v.send(json!({"t": "send", "client_id": "same", "body": "once"})).await;
    let second = v.recv_type("ack").await;
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    // Consoles get no second copy.
    v.send(json!({"t": "send", "client_id": "next", "body": "next"})).await;
    assert_eq!(c.recv_type("message").await["message"]["body"], "next");

    let history = app.state.db.messages(&vid, 100).await.unwrap();
    assert_eq!(history.iter().filter(|m| m.body == "once").count(), 1);
}

#[tokio::test]
async fn identity_and_history_survive_reconnects_and_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_app_in(tmp.path(), |_| {}).await;
    let (mut v, vid, token) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "a", "body": "before restart"})).await;
    v.recv_type("ack").await;
    app.shutdown().await;

    let app = spawn_app_in(tmp.path(), |_| {}).await;
    let (_v, vid2, _) = app.visitor(Some(&token)).await;
    assert_eq!(vid, vid2);
    let mut v = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    v.send(json!({"t": "hello", "token": token, "page": {"url": "u", "title": "t"}})).await;
    let w = v.recv_type("welcome").await;
    assert_eq!(w["messages"][0]["body"], "before restart");

    // An unknown token gets a new identity, not someone else's.
    let (_v, other, _) = app.visitor(Some("forged-token")).await;
    assert_ne!(other, vid);
}

#[tokio::test]
async fn unread_counts_are_per_consultant() {
    let app = spawn_app().await;
    let alice = app.consultant("alice@example.com").await;
    let bob = app.consultant("bob@example.com").await;
    let (mut v, vid, _) = app.visitor(None).await;
    for i in 0..3 {
        v.send(json!({"t": "send", "client_id": format!("m{i}"), "body": format!("message {i}")})).await;
        v.recv_type("ack").await;
    }
    let mut ca = app.console_socket(Some(&alice), None).await;
    let s = ca.recv_type("snapshot").await;
    assert_eq!(s["unread"], json!([{"visitor_id": vid, "count": 3}]));
    assert!(s["visitors"].as_array().unwrap().iter().any(|x| x["visitor_id"] == vid.as_str() && x["online"] == true));

    ca.send(json!({"t": "open", "visitor_id": vid})).await;
    ca.recv_type("dialog").await;
    assert_eq!(ca.recv_type("read").await["visitor_id"], vid.as_str());

    let mut ca2 = app.console_socket(Some(&alice), None).await;
    assert_eq!(ca2.recv_type("snapshot").await["unread"], json!([]));
    let mut cb = app.console_socket(Some(&bob), None).await;
    assert_eq!(cb.recv_type("snapshot").await["unread"][0]["count"], 3);
}

#[tokio::test]
async fn console_errors_name_the_problem() {
    let app = spawn_app().await;
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    c.send(json!({"t": "open", "visitor_id": "v_nobody"})).await;
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], "unknown_visitor");
    assert_eq!(e["ref_type"], "open");
    c.send(json!({"t": "hello"})).await;
    assert_eq!(c.recv_type("error").await["code"], "unknown_type");
}

#[tokio::test]
async fn a_new_site_from_the_api_works_without_restart() {
    let app = spawn_app().await;
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let site: serde_json::Value = reqwest::Client::new()
        .post(app.url("/api/sites"))
        .header("Cookie", &cookie)
        .json(&json!({"name": "Later", "origins": ["http://later.test"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut v = app.visitor_socket(site["key"].as_str().unwrap(), Some("http://later.test")).await;
    v.send(json!({"t": "hello", "page": {"url": "http://later.test/", "title": "Later"}})).await;
    v.recv_type("welcome").await;
}

#[tokio::test]
async fn conversations_are_assigned_handed_over_closed_and_reopened_by_the_visitor() {
    let app = spawn_app().await;
    let alice = app.consultant("alice@example.com").await;
    let bob = app.consultant("bob@example.com").await;
    let mut ca = app.console_socket(Some(&alice), None).await;
    let snap = ca.recv_type("snapshot").await;
    let team = snap["team"].as_array().unwrap().clone();
    let id_of = |name: &str| team.iter().find(|t| t["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (alice_id, bob_id) = (id_of("Alice"), id_of("Bob"));
    let (mut v, vid, token) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "c1", "body": "Hello"})).await;
    ca.recv_type("message").await;

    // Answering takes it; handing over gives it to Bob, whose console sees it too.
    ca.send(json!({"t": "send", "visitor_id": vid, "client_id": "k1", "body": "Hi"})).await;
    let c = ca.recv_type("conversation").await;
    assert_eq!(
        (c["conversation"]["state"].as_str(), c["conversation"]["assignee_id"].as_str()),
        (Some("assigned"), Some(alice_id.as_str()))
    );
    let mut cb = app.console_socket(Some(&bob), None).await;
    let snap = cb.recv_type("snapshot").await;
    assert_eq!(snap["conversations"][0]["assignee_name"], "Alice", "a console that connects later knows");
    ca.send(json!({"t": "assign", "visitor_id": vid, "user_id": bob_id})).await;
    for c in [&mut ca, &mut cb] {
        assert_eq!(c.recv_type("conversation").await["conversation"]["assignee_name"], "Bob");
    }

    // Forged ids are refused with the reason; nothing changes.
    ca.send(json!({"t": "assign", "visitor_id": vid, "user_id": "999999"})).await;
    let e = ca.recv_type("error").await;
    assert_eq!((e["code"].as_str(), e["ref_type"].as_str()), (Some("bad_message"), Some("assign")));
    assert!(e["message"].as_str().unwrap().contains("999999"), "{e}");
    ca.send(json!({"t": "close", "visitor_id": "v_nobody"})).await;
    assert_eq!(ca.recv_type("error").await["code"], "unknown_visitor");

    // Closed, and a visitor who comes back online is announced as closed.
    cb.send(json!({"t": "close", "visitor_id": vid})).await;
    assert_eq!(ca.recv_type("conversation").await["conversation"]["state"], "closed");
    drop(v);
    let (mut v, _, _) = app.visitor(Some(&token)).await;
    let c = ca.recv_type("conversation").await;
    assert_eq!(
        (c["conversation"]["visitor_id"].as_str(), c["conversation"]["state"].as_str()),
        (Some(vid.as_str()), Some("closed"))
    );

    // Writing again reopens it, to Bob who had it.
    v.send(json!({"t": "send", "client_id": "c2", "body": "One more thing"})).await;
    let c = ca.recv_type("conversation").await;
    assert_eq!(
        (c["conversation"]["state"].as_str(), c["conversation"]["assignee_name"].as_str()),
        (Some("assigned"), Some("Bob"))
    );
    // Unassigning leaves it open for anyone.
    cb.send(json!({"t": "assign", "visitor_id": vid, "user_id": null})).await;
    let c = ca.recv_type("conversation").await;
    assert_eq!((c["conversation"]["state"].as_str(), c["conversation"]["assignee_id"].as_str()), (Some("open"), None));
}

#[tokio::test]
async fn identify_is_trusted_only_with_the_sites_signature() {
    use hmac::{Hmac, Mac};
    let app = spawn_app().await;
    let site = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap();
    let secret = app.state.db.identity_secret(site.id, "first-secret-0123456789").await.unwrap().unwrap();
    assert_eq!(app.state.db.identity_secret(site.id, "another").await.unwrap().unwrap(), secret, "made once, then kept");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"user-42");
    let sig = hex::encode(mac.finalize().into_bytes());

    let (mut v, vid, _) = app.visitor(None).await;
    v.send(json!({"t": "identify", "id": "user-42", "email": "not-an-email"})).await;
    let e = v.recv_type("error").await;
    assert_eq!((e["code"].as_str(), e["ref_type"].as_str()), (Some("bad_message"), Some("identify")));
    // Unsigned: stored as a claim only.
    v.send(json!({"t": "identify", "id": "user-42", "name": "Anna"})).await;
    let who = || async { app.state.db.visitor_record(&vid).await.unwrap().unwrap().identity };
    let mut found = None;
    for _ in 0..50 {
        found = who().await;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(found.map(|i| (i.name, i.verified)), Some((Some("Anna".into()), false)));
    v.send(json!({"t": "identify", "id": "user-42", "name": "Anna", "signature": sig})).await;
    for _ in 0..50 {
        if who().await.is_some_and(|i| i.verified) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the signed identity was not stored as verified");
}
