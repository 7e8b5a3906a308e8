//! Accounts and sessions that can be revoked (issue 11, docs/security.md):
//! logout, disabling, removing, a new role or password end a user's sessions
//! and close their open consoles at once; the last admin cannot be locked
//! out; users see and revoke their own sessions; the login limits cannot be
//! turned against the real user.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// Waits for a console socket to be closed by the server; returns the code and how long it took.
async fn closed(c: &mut Client) -> (u16, Duration) {
    let start = Instant::now();
    let (code, _) = tokio::time::timeout(Duration::from_secs(3), c.expect_close()).await.expect("closed within 3 s");
    (code, start.elapsed())
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn logout_closes_that_sessions_sockets_at_once_and_no_others() {
    let app = spawn_app().await;
    let a = app.consultant("ann@example.com").await;
    let b = app.login("ann@example.com", "consultant-pw").await; // the same user on another browser
    let mut ca = app.console_socket(Some(&a), None).await;
    ca.recv_type("snapshot").await;
    let mut cb = app.console_socket(Some(&b), None).await;
    cb.recv_type("snapshot").await;
    let http = reqwest::Client::new();
    assert_eq!(status_of(http.post(app.url("/api/logout")).header("Cookie", &a)).await, 204);
    let (code, took) = closed(&mut ca).await;
    assert_eq!(code, 4001);
    println!("logout: console socket closed after {took:?}");
    assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &a)).await, 401, "the cookie is refused");
    // The other browser's session goes on.
    cb.expect_silence(300).await;
    assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &b)).await, 200);
}

#[tokio::test]
async fn disabling_removing_or_changing_a_user_ends_their_sessions_and_sockets() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let http = reqwest::Client::new();
    let users = |app: &TestApp| app.url("/api/users");
    for (i, change) in [json!({"disabled": true}), json!({"role": "admin"}), json!({"password": "a-new-password"}), json!(null)]
        .into_iter()
        .enumerate()
    {
        let email = format!("u{i}@example.com");
        let cookie = app.consultant(&email).await;
        let mut c = app.console_socket(Some(&cookie), None).await;
        c.recv_type("snapshot").await;
        let list: Value = http.get(users(&app)).header("Cookie", &admin).send().await.unwrap().json().await.unwrap();
        let id =
            list.as_array().unwrap().iter().find(|u| u["email"] == email.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        let res = if change.is_null() {
            http.delete(app.url(&format!("/api/users/{id}"))).header("Cookie", &admin).send().await.unwrap()
        } else {
            http.patch(app.url(&format!("/api/users/{id}"))).header("Cookie", &admin).json(&change).send().await.unwrap()
        };
        assert!(res.status().is_success(), "{change}: {}", res.status());
        let (code, took) = closed(&mut c).await;
        assert_eq!(code, 4001, "{change}");
        println!("{change}: console socket closed after {took:?}");
        assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &cookie)).await, 401, "{change}: cookie refused");
    }
    // A disabled user cannot log in, and is told why; enabled again, they can.
    let res = http
        .post(app.url("/api/login"))
        .json(&json!({"email": "u0@example.com", "password": "consultant-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "account_disabled");
    let u0 = chatcast_server::auth::user_by_email(app.state.db.as_ref(), "u0@example.com").await.unwrap();
    let enable = http.patch(app.url(&format!("/api/users/{}", u0.id))).header("Cookie", &admin).json(&json!({"disabled": false}));
    assert_eq!(status_of(enable).await, 200);
    app.login("u0@example.com", "consultant-pw").await;
    // The new password works, the old one does not.
    app.login("u2@example.com", "a-new-password").await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_disabled_demoted_or_removed() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let me = chatcast_server::auth::user_by_email(app.state.db.as_ref(), ADMIN_EMAIL).await.unwrap();
    let http = reqwest::Client::new();
    let url = app.url(&format!("/api/users/{}", me.id));
    for change in [json!({"disabled": true}), json!({"role": "consultant"})] {
        let res = http.patch(&url).header("Cookie", &admin).json(&change).send().await.unwrap();
        assert_eq!(res.status(), 409, "{change}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("last enabled admin"), "{body}");
    }
    assert_eq!(status_of(http.delete(&url).header("Cookie", &admin)).await, 409);
    assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &admin)).await, 200, "nothing changed");
    // With a second admin, the first may step down.
    chatcast_server::auth::add_user(
        app.state.db.as_ref(),
        "second@example.com",
        "second-password",
        chatcast_server::storage::Role::Admin,
        None,
    )
    .await
    .unwrap();
    assert_eq!(status_of(http.patch(&url).header("Cookie", &admin).json(&json!({"role": "consultant"}))).await, 200);
}

#[tokio::test]
async fn users_see_and_revoke_their_own_sessions() {
    let app = spawn_app().await;
    let a = app.consultant("sam@example.com").await;
    let b = app.login("sam@example.com", "consultant-pw").await;
    let other = app.consultant("zoe@example.com").await;
    let mut cb = app.console_socket(Some(&b), None).await;
    cb.recv_type("snapshot").await;
    let http = reqwest::Client::new();
    let list: Value = http.get(app.url("/api/sessions")).header("Cookie", &a).send().await.unwrap().json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list.iter().all(|s| s["client_ip"] == "127.0.0.1" && s["created_at"].as_i64().is_some()), "{list:?}");
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    // Someone else cannot revoke it…
    assert_eq!(status_of(http.delete(app.url(&format!("/api/sessions/{other_id}"))).header("Cookie", &other)).await, 404);
    // …its owner can: the socket opened with it closes.
    assert_eq!(status_of(http.delete(app.url(&format!("/api/sessions/{other_id}"))).header("Cookie", &a)).await, 204);
    assert_eq!(closed(&mut cb).await.0, 4001);
    assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &b)).await, 401);
    assert_eq!(status_of(http.get(app.url("/api/me")).header("Cookie", &a)).await, 200);
}

#[tokio::test]
async fn an_attack_on_an_account_cannot_lock_out_its_real_user() {
    let app = spawn_app_with(|s| {
        s.login_failures_per_minute = 3;
        s.login_failures_per_account_per_minute = 4;
        // Behind a proxy on loopback: the attacker's addresses come in X-Forwarded-For.
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    chatcast_server::auth::add_user(
        app.state.db.as_ref(),
        "eve@example.com",
        "eve-password",
        chatcast_server::storage::Role::Consultant,
        None,
    )
    .await
    .unwrap();
    // The real user logged in before from this browser: it keeps its device cookie.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = |from: &str, password: &str| {
        browser
            .post(app.url("/api/login"))
            .header("X-Forwarded-For", from)
            .json(&json!({"email": "eve@example.com", "password": password}))
    };
    assert_eq!(status_of(login("198.51.100.7", "eve-password")).await, 200);
    // An attacker from many addresses guesses her password until the account is limited…
    let attacker = reqwest::Client::new();
    let mut limited = false;
    for i in 0..20 {
        let res = attacker
            .post(app.url("/api/login"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&json!({"email": "eve@example.com", "password": "guess"}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the account limit triggers");
    // …and from her own (shared) address, until that is limited too.
    for _ in 0..5 {
        let _ = attacker
            .post(app.url("/api/login"))
            .header("X-Forwarded-For", "198.51.100.7")
            .json(&json!({"email": "eve@example.com", "password": "guess"}))
            .send()
            .await;
    }
    let stranger = status_of(
        reqwest::Client::new()
            .post(app.url("/api/login"))
            .header("X-Forwarded-For", "198.51.100.7")
            .json(&json!({"email": "eve@example.com", "password": "eve-password"})),
    )
    .await;
    assert_eq!(stranger, 429, "a browser she never used is limited");
    // Her own browser gets in.
    assert_eq!(status_of(login("198.51.100.7", "eve-password")).await, 200, "the real user is not locked out");
    // One success does not wipe the failures before it: the next wrong guess from there is still refused.
    let again = attacker
        .post(app.url("/api/login"))
        .header("X-Forwarded-For", "198.51.100.7")
        .json(&json!({"email": "eve@example.com", "password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 429);
    assert!(again.headers().contains_key("retry-after"));
}
