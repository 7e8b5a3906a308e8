//! Files in dialogs: uploads from the widget (cross-origin, with the visitor's
//! token) and the console, sent with a message, served so that nothing in
//! them can run; every refusal says why and sends nothing.

mod common;

use common::*;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn form(field: (&str, &str), name: &str, data: &[u8]) -> Form {
    Form::new().text(field.0.to_owned(), field.1.to_owned()).part("file", Part::bytes(data.to_vec()).file_name(name.to_owned()))
}

/// `POST /files?site=KEY` as the widget does it, from `origin`.
async fn visitor_upload(
    app: &TestApp,
    origin: &str,
    token: &str,
    name: &str,
    data: &[u8],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = reqwest::Client::new()
        .post(app.url(&format!("/files?site={}", app.site_key)))
        .header("Origin", origin)
        .multipart(form(("token", token), name, data))
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

async fn console_upload(app: &TestApp, cookie: &str, origin: &str, vid: &str, name: &str, data: &[u8]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url("/api/files"))
        .header("Origin", origin)
        .header("Cookie", cookie)
        .multipart(form(("visitor_id", vid), name, data))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_visitor_sends_an_image_and_a_consultant_a_pdf_both_sides_get_them_and_nothing_in_them_runs() {
    let app = spawn_app().await;
    let cookie = app.consultant("anna@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let (mut v, vid, token) = app.visitor(None).await;

    let (status, a, headers) = visitor_upload(&app, SITE_ORIGIN, &token, "C:\\photos\\shoe.png", PNG).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(
        (a["name"].as_str(), a["content_type"].as_str(), a["size"].as_u64()),
        (Some("shoe.png"), Some("image/png"), Some(PNG.len() as u64))
    );
    assert_eq!(headers["access-control-allow-origin"], SITE_ORIGIN, "the site's page may read the answer");
    let id = a["id"].as_str().unwrap().to_owned();
    // Not sent yet: nobody can fetch it.
    assert_eq!(reqwest::get(app.url(&format!("/files/{id}"))).await.unwrap().status(), 404);

    v.send(json!({"t": "send", "client_id": "f1", "body": "", "attachment_id": id})).await;
    let ack = v.recv_type("ack").await;
    assert_eq!(ack["message"]["attachment"], a, "{ack}");
    assert_eq!(ack["message"]["body"], "");
    let seen = c.recv_type("message").await;
    assert_eq!(seen["message"]["attachment"]["id"], id.as_str());
    // The same message again (a resend) is the same message; another message cannot take the file.
    v.send(json!({"t": "send", "client_id": "f1", "body": "", "attachment_id": id})).await;
    assert_eq!(v.recv_type("ack").await["message"]["id"], ack["message"]["id"]);
    v.send(json!({"t": "send", "client_id": "f2", "body": "again", "attachment_id": id})).await;
    let e = v.recv_type("error").await;
    assert_eq!((e["code"].as_str(), e["ref_type"].as_str()), (Some("bad_message"), Some("send")), "{e}");

    let res = reqwest::get(app.url(&format!("/files/{id}"))).await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-disposition"], "inline; filename*=UTF-8''shoe.png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // The consultant answers with a PDF: a download, never shown in a page.
    let own = format!("http://{}", app.addr);
    let (status, pdf) = console_upload(&app, &cookie, &own, &vid, "invoice 42.pdf", b"%PDF-1.7 ...").await;
    assert_eq!(status, 201, "{pdf}");
    c.send(json!({"t": "send", "visitor_id": vid, "client_id": "k1", "body": "Your invoice", "attachment_id": pdf["id"]})).await;
    let got = v.recv_type("message").await;
    assert_eq!(got["message"]["attachment"]["content_type"], "application/pdf");
    let res = reqwest::get(app.url(&format!("/files/{}", pdf["id"].as_str().unwrap()))).await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.headers()["content-disposition"], "attachment; filename*=UTF-8''invoice%2042.pdf");
    // The history carries the files too.
    let (mut again, _, _) = app.visitor(Some(&token)).await;
    again.expect_silence(100).await;
    let mut w = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    w.send(json!({"t": "hello", "token": token, "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    let history = w.recv_type("welcome").await["messages"].as_array().unwrap().clone();
    assert_eq!(history.iter().filter(|m| m["attachment"].is_object()).count(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn uploads_that_are_not_allowed_are_refused_saying_why() {
    let app = spawn_app_with(|s| {
        s.max_attachment_bytes = 4096;
        s.attachments_per_hour = 3;
    })
    .await;
    let (mut v, vid, token) = app.visitor(None).await;
    let (_, other_vid, other_token) = app.visitor(None).await;

    for (origin, token, name, data, status, says) in [
        ("http://evil.test", token.as_str(), "a.png", PNG, 403, "not allowed"),
        (SITE_ORIGIN, "not-a-token", "a.png", PNG, 401, "no visitor"),
        (SITE_ORIGIN, token.as_str(), "page.html", &b"<html><script>alert(1)</script>"[..], 415, "only images"),
        (SITE_ORIGIN, token.as_str(), "logo.svg", b"<svg onload='alert(1)'/>", 415, "only images"),
        (SITE_ORIGIN, token.as_str(), "fake.png", b"<script>alert(1)</script>", 415, "only images"),
        (SITE_ORIGIN, token.as_str(), "empty.png", b"", 415, "empty"),
        (SITE_ORIGIN, token.as_str(), "big.png", &[PNG, &[0u8; 5000][..]].concat(), 413, "larger than"),
    ] {
        let (got, body, _) = visitor_upload(&app, origin, token, name, data).await;
        assert_eq!(got, status, "{name} from {origin}: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains(says), "{name}: {body}");
    }
    // The limit per hour, with its positive control.
    for i in 0..3 {
        let (got, body, _) = visitor_upload(&app, SITE_ORIGIN, &token, &format!("{i}.png"), PNG).await;
        assert_eq!(got, 201, "{body}");
    }
    let (got, body, _) = visitor_upload(&app, SITE_ORIGIN, &token, "3.png", PNG).await;
    assert_eq!(got, 429, "{body}");

    // A file of another dialog, or a consultant's, cannot be sent as one's own.
    let (_, theirs, _) = visitor_upload(&app, SITE_ORIGIN, &other_token, "theirs.png", PNG).await;
    v.send(json!({"t": "send", "client_id": "x1", "body": "look", "attachment_id": theirs["id"]})).await;
    assert_eq!(v.recv_type("error").await["code"], "bad_message");
    let cookie = app.consultant("anna@example.com").await;
    let own = format!("http://{}", app.addr);
    let (_, staff) = console_upload(&app, &cookie, &own, &vid, "a.png", PNG).await;
    v.send(json!({"t": "send", "client_id": "x2", "body": "look", "attachment_id": staff["id"]})).await;
    assert_eq!(v.recv_type("error").await["code"], "bad_message");
    v.expect_silence(200).await;
    assert!(app.state.db.messages(&vid, 10).await.unwrap().is_empty(), "nothing was sent");

    // The console's form only from the console's own pages, and only to a dialog of the consultant's sites.
    let (got, _) = console_upload(&app, &cookie, "http://evil.test", &vid, "a.png", PNG).await;
    assert_eq!(got, 403);
    let other = app.state.db.create_site("Other", "site_other", &[], false).await.unwrap();
    let bob = app.consultant("bob@example.com").await;
    let u = app.state.db.user_by_email("bob@example.com").await.unwrap().unwrap();
    app.state.db.set_user_sites(u.id, Some(&[other.id])).await.unwrap();
    let (got, body) = console_upload(&app, &bob, &own, &other_vid, "a.png", PNG).await;
    assert_eq!(got, 404, "{body}");
    // Ids that are no file.
    for id in ["../../etc/passwd", "0123456789abcdef0123456789abcdef", "x"] {
        assert_eq!(reqwest::get(app.url(&format!("/files/{id}"))).await.unwrap().status(), 404, "{id}");
    }
    app.shutdown().await;
}
