//! WebSocket endpoints: who may connect, bad frames, limits, compression.

mod common;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn unknown_site_key_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let mut c = app.visitor_socket("site_nope", Some(SITE_ORIGIN)).await;
    let e = c.recv().await;
    assert_eq!(e["t"], "error");
    assert_eq!(e["code"], "unknown_site");
    assert!(e["message"].as_str().unwrap().contains("site_nope"));
    assert_eq!(c.expect_close().await.0, 4004);
}

#[tokio::test]
async fn disallowed_origin_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let mut c = app.visitor_socket(&app.site_key, Some("https://evil.example")).await;
    let e = c.recv().await;
    assert_eq!(e["code"], "origin_not_allowed");
    assert!(e["message"].as_str().unwrap().contains("https://evil.example"));
    let (code, reason) = c.expect_close().await;
    assert_eq!(code, 4003);
    assert!(reason.contains("not allowed"), "{reason}");

    let mut c = app.visitor_socket(&app.site_key, None).await;
    assert_eq!(c.recv().await["code"], "origin_not_allowed");
    assert_eq!(c.expect_close().await.0, 4003);
}

#[tokio::test]
async fn console_socket_needs_a_session_and_its_own_origin() {
    let app = spawn_app().await;
    let mut c = app.console_socket(None, None).await;
    assert_eq!(c.recv().await["code"], "unauthorized");
    assert_eq!(c.expect_close().await.0, 4001);

    // A valid cookie sent by a page on another site: cross-site WebSocket hijacking.
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut c = app.console_socket(Some(&cookie), Some("https://evil.example")).await;
    assert_eq!(c.recv().await["code"], "origin_not_allowed");
    assert_eq!(c.expect_close().await.0, 4003);

    let mut c = app.console_socket(Some(&cookie), None).await;
    assert_eq!(c.recv().await["t"], "snapshot");
}

#[tokio::test]
async fn malformed_frames_get_an_error_naming_the_problem_and_lose_nothing() {
    let app = spawn_app().await;
    let (mut v, _, _) = app.visitor(None).await;
    let cases = [
        ("not json", "bad_json", "JSON"),
        ("[1,2]", "bad_json", "object"),
        (r#"{"t":"send","client_id":"a","body":"x"}"#, "unsupported_version", "`v`"),
        (r#"{"v":2,"t":"send","client_id":"a","body":"x"}"#, "unsupported_version", "2"),
        (r#"{"v":1,"t":"dance"}"#, "unknown_type", "dance"),
        (r#"{"v":1,"t":"send","client_id":"a"}"#, "bad_message", "body"),
        (r#"{"v":1,"t":"send","client_id":"a","body":"   "}"#, "empty_message", "empty"),
        (r#"{"v":1,"t":"hello","page":{"url":"x"}}"#, "bad_message", "hello"),
    ];
    for (frame, code, needle) in cases {
        v.send_text(frame).await;
        let e = v.recv_type("error").await;
        assert_eq!(e["code"], code, "for {frame}: {e}");
        assert!(e["message"].as_str().unwrap().contains(needle), "for {frame}: {e}");
    }
    let long = "x".repeat(4001);
    v.send(json!({"t": "send", "client_id": "long", "body": long})).await;
    assert_eq!(v.recv_type("error").await["code"], "message_too_long");
    v.send_binary(vec![1, 2, 3]).await;
    assert_eq!(v.recv_type("error").await["code"], "binary_not_supported", "screen frames go on the screen socket");

    // The socket still works, and nothing bad was stored.
    v.send(json!({"t": "send", "client_id": "ok", "body": "still here"})).await;
    let ack = v.recv_type("ack").await;
    assert_eq!(ack["message"]["body"], "still here");
}

#[tokio::test]
async fn frames_before_hello_are_answered_not_ready() {
    let app = spawn_app().await;
    let mut v = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    v.send(json!({"t": "send", "client_id": "a", "body": "hi"})).await;
    let e = v.recv().await;
    assert_eq!(e["code"], "not_ready");
    v.send(json!({"t": "hello", "page": {"url": "u", "title": "t"}})).await;
    v.recv_type("welcome").await;
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009() {
    let app = spawn_app().await;
    let (mut v, _, _) = app.visitor(None).await;
    // Incompressible, so that the compressed frame is as large as the limit too.
    let noise: String = (0..80_000u32).map(|i| char::from(b'a' + ((i.wrapping_mul(2654435761) >> 13) % 26) as u8)).collect();
    v.send(json!({"t": "send", "client_id": "big", "body": noise})).await;
    assert_eq!(v.expect_close().await.0, 1009);
}

/// The `Sec-WebSocket-Extensions` the server answers a Chromium-like offer with on `path`.
async fn negotiated(app: &TestApp, path: &str, origin: &str) -> String {
    negotiated_with(app, path, origin, "permessage-deflate; client_max_window_bits").await
}

/// The `Sec-WebSocket-Extensions` the server answers `offer` with on `path`.
async fn negotiated_with(app: &TestApp, path: &str, origin: &str, offer: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n",
        app.addr
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    let line =
        head.lines().find(|l| l.starts_with("sec-websocket-extensions:")).unwrap_or_else(|| panic!("no extensions: {head}"));
    line.to_owned()
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_without_context_on_chat_sockets_only() {
    let app = spawn_app().await;
    // Chat sockets: compressed, but no deflate state kept per socket (idle ones stay small).
    let chat = negotiated(&app, &format!("/ws/visitor?site={}", app.site_key), SITE_ORIGIN).await;
    assert!(chat.contains("permessage-deflate"), "{chat}");
    assert!(chat.contains("client_no_context_takeover") && chat.contains("server_no_context_takeover"), "{chat}");
    // Console sockets carry screen frames to viewers: the context is kept.
    let console = negotiated(&app, "/ws/console", &format!("http://{}", app.addr)).await;
    assert!(console.contains("permessage-deflate") && !console.contains("no_context_takeover"), "{console}");
    // The screen socket (refused here for want of a token, but negotiated first) keeps it too.
    let screen = negotiated(&app, "/ws/screen?token=x", SITE_ORIGIN).await;
    assert!(screen.contains("permessage-deflate") && !screen.contains("no_context_takeover"), "{screen}");
    // With the full window: a small one would shrink what each batch can refer back to.
    for ext in [&chat, &console, &screen] {
        assert!(ext.contains("client_max_window_bits=15"), "{ext}");
    }
    // An offer without the parameter (Firefox, Safari) must not get it back (RFC 7692 §7.1.2.2).
    let bare = negotiated_with(&app, "/ws/screen?token=x", SITE_ORIGIN, "permessage-deflate").await;
    assert!(bare.contains("permessage-deflate") && !bare.contains("client_max_window_bits"), "{bare}");
    let bare = negotiated_with(&app, &format!("/ws/visitor?site={}", app.site_key), SITE_ORIGIN, "permessage-deflate").await;
    assert!(!bare.contains("client_max_window_bits"), "{bare}");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let app = spawn_app().await;
    let (mut v, _, _) = app.visitor(None).await;
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let stop = tokio::spawn(app.shutdown());
    assert_eq!(v.expect_close().await.0, 1001);
    assert_eq!(c.expect_close().await.0, 1001);
    stop.await.unwrap();
}

#[tokio::test]
async fn a_console_socket_always_starts_with_its_snapshot_even_while_visitors_come_and_go() {
    let app = spawn_app().await;
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Visitors keep arriving (each is a `visitor` update to every console)…
    let churn = {
        let key = app.site_key.clone();
        let addr = app.addr;
        tokio::spawn(async move {
            let mut held = Vec::new();
            for i in 0..60 {
                let mut c = Client::connect(
                    &format!("ws://{addr}/ws/visitor?site={key}"),
                    http::Request::builder().header("Origin", SITE_ORIGIN),
                )
                .await;
                c.send(json!({"t": "hello", "page": {"url": format!("http://shop.test:8000/{i}"), "title": "P"}})).await;
                held.push(c);
            }
            held
        })
    };
    // …while consoles connect: each one's first frame is its snapshot.
    for _ in 0..30 {
        let mut c = app.console_socket(Some(&cookie), None).await;
        let first = c.recv().await;
        assert_eq!(first["t"], "snapshot", "the first frame was {first}");
    }
    drop(churn.await.unwrap());
}
