//! HTTP: health, login and its failures, sessions, the admin API.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    let c = reqwest::Client::new();
    let mut bodies = Vec::new();
    for (email, pw) in [(ADMIN_EMAIL, "wrong-password"), ("nobody@example.com", ADMIN_PASSWORD)] {
        let res = c.post(app.url("/api/login")).json(&json!({"email": email, "password": pw})).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("set-cookie").is_none());
        bodies.push(res.json::<Value>().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1], "a 401 must not say which field was wrong");
    assert_eq!(bodies[0]["error"]["code"], "invalid_credentials");
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["role"], "admin");

    let session = cookie.split(';').next().unwrap().to_owned();
    let c = reqwest::Client::new();
    let me = c.get(app.url("/api/me")).header("Cookie", &session).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let out = c.post(app.url("/api/logout")).header("Cookie", &session).send().await.unwrap();
    assert_eq!(out.status(), 204);
    let me = c.get(app.url("/api/me")).header("Cookie", &session).send().await.unwrap();
    assert_eq!(me.status(), 401, "the session must be gone after logout");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited() {
    let app = spawn_app().await;
    let c = reqwest::Client::new();
    let attempt = |pw: &'static str| c.post(app.url("/api/login")).json(&json!({"email": ADMIN_EMAIL, "password": pw})).send();
    for _ in 0..5 {
        assert_eq!(attempt("wrong-password").await.unwrap().status(), 401);
    }
    let res = attempt(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(res.status(), 429, "even the right password waits once the limit is hit");
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn login_rejects_a_non_json_body_with_a_reason() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a&password=b")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("JSON"));
}

#[tokio::test]
async fn admin_api_creates_sites_and_users_and_refuses_consultants() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let c = reqwest::Client::new();
    let res = c
        .post(app.url("/api/sites"))
        .header("Cookie", &admin)
        .json(&json!({"name": "Blog", "origins": ["https://Blog.Example.com/"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let site: Value = res.json().await.unwrap();
    assert_eq!(site["origins"], json!(["https://blog.example.com"]));
    assert!(site["key"].as_str().unwrap().starts_with("site_"));

    let bad = c
        .post(app.url("/api/sites"))
        .header("Cookie", &admin)
        .json(&json!({"name": "Bad", "origins": ["blog.example.com/path"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("not an origin"));

    let res = c
        .post(app.url("/api/users"))
        .header("Cookie", &admin)
        .json(&json!({"email": "carol@example.com", "password": "carol-password", "role": "consultant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let dup = c
        .post(app.url("/api/users"))
        .header("Cookie", &admin)
        .json(&json!({"email": "carol@example.com", "password": "carol-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);

    let carol = app.login("carol@example.com", "carol-password").await;
    let res = c.get(app.url("/api/sites")).header("Cookie", &carol).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let users: Value = c.get(app.url("/api/users")).header("Cookie", &admin).send().await.unwrap().json().await.unwrap();
    assert!(users.as_array().unwrap().iter().all(|u| u.get("password_hash").is_none()));
}

#[tokio::test]
async fn assets_are_served_and_the_demo_gets_its_key() {
    let app = spawn_app().await;
    let widget = reqwest::get(app.url("/widget.js")).await.unwrap();
    assert_eq!(widget.status(), 200);
    assert!(widget.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let console = reqwest::get(app.url("/console/")).await.unwrap();
    assert_eq!(console.status(), 200);
    let csp = console.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-eval"), "{csp}");
    // Not logged in: no site is named (a site's origins are nobody else's business).
    assert!(csp.contains("img-src 'self' data: blob: ;") && !csp.contains(SITE_ORIGIN), "{csp}");
    // Logged in, the replica may load the sites' images, fonts and styles, from their origins only.
    let other = app.state.db.create_site("Other shop", "site_other", &["https://other.example".to_owned()], false).await.unwrap();
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csp_of = |url: String| {
        let admin = admin.clone();
        async move {
            let res = reqwest::Client::new().get(url).header("Cookie", admin).send().await.unwrap();
            res.headers()["content-security-policy"].to_str().unwrap().to_owned()
        }
    };
    let main = csp_of(app.url("/console/")).await;
    assert!(main.contains(SITE_ORIGIN) && main.contains("https://other.example"), "{main}");
    // The screencast window of one visitor names that visitor's site only.
    let (_v, vid, _) = app.visitor(None).await;
    let window = csp_of(app.url(&format!("/console/screencast.html?visitor={vid}"))).await;
    assert!(window.contains(&format!("img-src 'self' data: blob: {SITE_ORIGIN};")), "{window}");
    assert!(!window.contains("other.example"), "{window}");
    let _ = other;
    let demo = reqwest::get(app.url("/demo/")).await.unwrap().text().await.unwrap();
    let key = app.state.db.demo_site().await.unwrap().unwrap().key;
    assert!(demo.contains(&format!("data-site=\"{key}\"")), "the demo page embeds the demo site's key");
    assert!(!demo.contains("{{CHATCAST_SITE_KEY}}"));
}

#[tokio::test]
async fn metrics_count_messages_and_refusals() {
    let app = spawn_app().await;
    let (mut v, _, _) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "m", "body": "counted"})).await;
    v.recv_type("ack").await;
    let mut refused = app.visitor_socket("site_nope", Some(SITE_ORIGIN)).await;
    refused.expect_close().await;
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(text.contains("chatcast_messages_total{author=\"visitor\"}"), "{text}");
    assert!(text.contains("chatcast_sockets_refused_total{reason=\"unknown_site\"}"), "{text}");
    assert!(text.contains("chatcast_visitors_online"), "{text}");
}

#[tokio::test]
async fn the_admin_api_says_what_is_wrong_with_its_input() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let c = reqwest::Client::new();
    for (body, says) in [
        (json!({"name": "", "origins": ["https://a.example"]}), "site name is empty"),
        (json!({"name": "Shop", "origins": []}), "at least one origin"),
        (json!({"name": "Shop", "origins": ["https://a.example:99999"]}), "65535"),
        (json!({"name": "Shop\nForged", "origins": ["https://a.example"]}), "control character"),
    ] {
        let res = c.post(app.url("/api/sites")).header("Cookie", &admin).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains(says), "{body}: {err}");
    }
    for (body, says) in [
        (json!({"email": "not-an-email", "password": "long-enough"}), "not an email"),
        (json!({"email": "x@example.com", "password": "short"}), "at least 8"),
        (json!({"email": "x@example.com", "password": "long-enough", "name": "a\tb"}), "control character"),
    ] {
        let res = c.post(app.url("/api/users")).header("Cookie", &admin).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains(says), "{body}: {err}");
    }
}

#[tokio::test]
async fn sites_are_renamed_and_removed_by_admins_only_and_unknown_ids_get_a_404() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let c = reqwest::Client::new();
    let site: Value = c
        .post(app.url("/api/sites"))
        .header("Cookie", &admin)
        .json(&json!({"name": "Old", "origins": ["https://a.example"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = site["id"].as_str().unwrap().to_owned();
    let rename = |id: &str, name: &str| {
        c.put(app.url(&format!("/api/sites/{id}/name"))).header("Cookie", &admin).json(&json!({ "name": name })).send()
    };
    let renamed: Value = rename(&id, "  New  ").await.unwrap().json().await.unwrap();
    assert_eq!(renamed["name"], "New");
    let blank = rename(&id, " ").await.unwrap();
    assert_eq!(blank.status(), 400);
    assert!(blank.text().await.unwrap().contains("site name is empty"));

    let carol = app.consultant("carol@example.com").await;
    let res = c.delete(app.url(&format!("/api/sites/{id}"))).header("Cookie", &carol).send().await.unwrap();
    assert_eq!(res.status(), 403, "a consultant may not remove a site");

    let res = c.delete(app.url(&format!("/api/sites/{id}"))).header("Cookie", &admin).send().await.unwrap();
    assert_eq!(res.status(), 204);
    for res in [
        rename(&id, "Again").await.unwrap(),
        c.delete(app.url(&format!("/api/sites/{id}"))).header("Cookie", &admin).send().await.unwrap(),
        c.put(app.url(&format!("/api/sites/{id}/settings")))
            .header("Cookie", &admin)
            .json(&json!({"privacy": {"mask_all_inputs": false, "block_selectors": [], "mask_selectors": [], "keep_url_params": []}}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 404);
        assert!(res.text().await.unwrap().contains(&format!("no site has the id {id}")));
    }
}

#[tokio::test]
async fn transcript_search_needs_a_login_and_a_word_and_finds_messages_of_every_dialog() {
    let app = spawn_app().await;
    let cookie = app.consultant("carol@example.com").await;
    let (mut v, vid, _) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "c1", "body": "My parcel 88-417 never arrived"})).await;
    v.recv_type("ack").await;
    let c = reqwest::Client::new();
    let get = |q: &str, cookie: Option<&str>| {
        let mut req = c.get(app.url("/api/search")).query(&[("q", q)]);
        if let Some(k) = cookie {
            req = req.header("cookie", k);
        }
        req.send()
    };

    assert_eq!(get("parcel", None).await.unwrap().status(), 401, "transcripts are for the team only");
    let res = get(" -- \"* ", Some(&cookie)).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("word"));
    let hits: Value = get("PARC 417", Some(&cookie)).await.unwrap().json().await.unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["message"]["visitor_id"], vid.as_str());
    assert_eq!(hits[0]["site_name"], "Test shop");
    let none: Value = get("parcel tractor", Some(&cookie)).await.unwrap().json().await.unwrap();
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn saved_replies_are_shared_by_the_team_and_checked() {
    let app = spawn_app().await;
    let carol = app.consultant("carol@example.com").await;
    let dave = app.consultant("dave@example.com").await;
    let c = reqwest::Client::new();
    let post = |cookie: &str, body: Value| c.post(app.url("/api/canned")).header("cookie", cookie).json(&body).send();

    assert_eq!(c.get(app.url("/api/canned")).send().await.unwrap().status(), 401);
    let res = post(&carol, json!({"shortcut": "/Refund", "body": "  Refunds take 5 days.  "})).await.unwrap();
    assert_eq!(res.status(), 201);
    let saved: Value = res.json().await.unwrap();
    assert_eq!((saved["shortcut"].as_str(), saved["body"].as_str()), (Some("refund"), Some("Refunds take 5 days.")));
    // Another consultant sees it and may change it.
    let list: Value = c.get(app.url("/api/canned")).header("cookie", &dave).send().await.unwrap().json().await.unwrap();
    assert_eq!(list[0]["shortcut"], "refund");
    let id = saved["id"].as_str().unwrap();
    let res = c
        .put(app.url(&format!("/api/canned/{id}")))
        .header("cookie", &dave)
        .json(&json!({"shortcut": "refunds", "body": "Refunds take 5 working days."}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Each refusal says what was wrong; nothing is saved.
    for (body, status, says) in [
        (json!({"shortcut": "refunds", "body": "dup"}), 409, "/refunds"),
        (json!({"shortcut": "two words", "body": "x"}), 400, "letters, digits"),
        (json!({"shortcut": "", "body": "x"}), 400, "shortcut is empty"),
        (json!({"shortcut": "ok", "body": "   "}), 400, "text is empty"),
        (json!({"shortcut": "ok", "body": "x".repeat(4001)}), 400, "4001 characters"),
    ] {
        let res = post(&carol, body).await.unwrap();
        assert_eq!(res.status(), status);
        let e: Value = res.json().await.unwrap();
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{e}");
    }
    let list: Value = c.get(app.url("/api/canned")).header("cookie", &carol).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let del = |id: &str| c.delete(app.url(&format!("/api/canned/{id}"))).header("cookie", &carol).send();
    assert_eq!(del(id).await.unwrap().status(), 204);
    assert_eq!(del(id).await.unwrap().status(), 404);
}

#[tokio::test]
async fn widget_settings_are_checked_kept_and_reach_the_next_welcome() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let carol = app.consultant("carol@example.com").await;
    let id = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap().id;
    let c = reqwest::Client::new();
    let put = |cookie: &str, body: Value| {
        c.put(app.url(&format!("/api/sites/{id}/widget"))).header("Cookie", cookie.to_owned()).json(&body).send()
    };
    let good = json!({"greeting": " Hi!\r\nAsk us. ", "offline_text": "Back at 9.", "color": "#0A7D4F",
        "position": "left", "language": "ru", "prechat": true});
    assert_eq!(put(&carol, good.clone()).await.unwrap().status(), 403, "consultants do not change sites");
    for (bad, says) in [
        (json!({"color": "green"}), "#rrggbb"),
        (json!({"language": "de"}), "unknown variant"),
        (json!({"position": "top"}), "unknown variant"),
        (json!({"greeting": "x".repeat(501)}), "longer than 500"),
    ] {
        let res = put(&admin, bad.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let text = res.text().await.unwrap();
        assert!(text.contains(says), "{bad}: {text}");
    }
    let site: Value = put(&admin, good).await.unwrap().json().await.unwrap();
    assert_eq!(
        site["widget"],
        json!({"greeting": "Hi!\nAsk us.", "offline_text": "Back at 9.", "color": "#0a7d4f",
            "position": "left", "language": "ru", "prechat": true})
    );
    let (mut v, _, _) = app.visitor(None).await;
    v.expect_silence(100).await;
    let mut w = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    w.send(json!({"t": "hello", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    assert_eq!(w.recv_type("welcome").await["settings"], site["widget"]);
    // Every field may be left out: the defaults.
    let site: Value = put(&admin, json!({})).await.unwrap().json().await.unwrap();
    assert_eq!(site["widget"]["language"], "en");
    assert_eq!(site["widget"]["position"], "right");
}
