//! A consultant who works on some sites sees, hears about and acts on those
//! sites' visitors only: checked on the wire, with a consultant of every site
//! as the positive control.

mod common;

use common::*;
use serde_json::{Value, json};

/// A visitor of another site (its own origin), said hello: (client, visitor id).
async fn blog_visitor(app: &TestApp, key: &str) -> (Client, String) {
    let mut c = app.visitor_socket(key, Some("https://blog.example")).await;
    c.send(json!({ "t": "hello", "token": null, "page": { "url": "https://blog.example/", "title": "Blog" } })).await;
    let w = c.recv_type("welcome").await;
    (c, w["visitor_id"].as_str().unwrap().to_owned())
}

fn ids(snapshot: &Value) -> Vec<String> {
    snapshot["visitors"].as_array().unwrap().iter().map(|v| v["visitor_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_consultant_of_one_site_gets_nothing_of_another_and_cannot_act_on_it() {
    let app = spawn_app().await;
    let blog = app.state.db.create_site("Blog", "site_blog", &["https://blog.example".to_owned()], false).await.unwrap();
    let shop = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap();
    let carol = app.consultant("carol@example.com").await; // the shop only
    let carol_id = app.state.db.user_by_email("carol@example.com").await.unwrap().unwrap().id;
    app.state.db.set_user_sites(carol_id, Some(&[shop.id])).await.unwrap();
    let all = app.consultant("all@example.com").await; // every site: the control

    let (mut bv, bvid) = blog_visitor(&app, &blog.key).await;
    bv.send(json!({"t": "send", "client_id": "b1", "body": "Blog secret question"})).await;
    bv.recv_type("ack").await;
    let (mut sv, svid, _) = app.visitor(None).await;
    sv.send(json!({"t": "send", "client_id": "s1", "body": "Shop question"})).await;
    sv.recv_type("ack").await;

    let mut cc = app.console_socket(Some(&carol), None).await;
    let snap = cc.recv_type("snapshot").await;
    assert_eq!(ids(&snap), std::slice::from_ref(&svid), "the snapshot holds the shop's visitor only");
    assert!(!snap.to_string().contains("Blog secret"));
    let mut ca = app.console_socket(Some(&all), None).await;
    let snap = ca.recv_type("snapshot").await;
    assert!(ids(&snap).contains(&bvid) && ids(&snap).contains(&svid), "every site: both");

    // Live frames: the blog's message reaches the control, not Carol; the shop's reaches both.
    bv.send(json!({"t": "send", "client_id": "b2", "body": "Blog again"})).await;
    sv.send(json!({"t": "send", "client_id": "s2", "body": "Shop again"})).await;
    bv.recv_type("ack").await;
    let mut got = [ca.recv_type("message").await, ca.recv_type("message").await].map(|m| m["message"]["body"].to_string());
    got.sort();
    assert_eq!(got, ["\"Blog again\"", "\"Shop again\""]);
    let m = cc.recv_type("message").await;
    assert_eq!(m["message"]["body"], "Shop again", "the first message Carol gets is the shop's");

    // Forged frames naming the blog's visitor: answered as unknown, nothing happens.
    for (t, extra) in [
        ("open", json!({})),
        ("send", json!({"client_id": "x", "body": "hi from another site"})),
        ("assign", json!({"user_id": null})),
        ("close", json!({})),
        ("screencast_request", json!({})),
        ("watch", json!({})),
        ("typing", json!({})),
    ] {
        let mut frame = extra;
        frame["t"] = json!(t);
        frame["visitor_id"] = json!(bvid);
        cc.send(frame).await;
        let e = cc.recv_type("error").await;
        assert_eq!((e["code"].as_str(), e["ref_type"].as_str()), (Some("unknown_visitor"), Some(t)), "{e}");
    }
    bv.expect_silence(300).await;
    let stored = app.state.db.messages(&bvid, 10).await.unwrap();
    assert!(stored.iter().all(|m| m.body != "hi from another site"));

    // Search: the control finds the blog's message, Carol does not.
    let c = reqwest::Client::new();
    let search =
        |cookie: &str| c.get(app.url("/api/search")).query(&[("q", "blog secret")]).header("cookie", cookie.to_owned()).send();
    let found: Value = search(&all).await.unwrap().json().await.unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let found: Value = search(&carol).await.unwrap().json().await.unwrap();
    assert_eq!(found, json!([]));
    // The visitor panel's details: the control reads them, Carol gets the same 404 as for nobody.
    let details =
        |cookie: &str, id: &str| c.get(app.url(&format!("/api/visitors/{id}"))).header("cookie", cookie.to_owned()).send();
    let d: Value = details(&all, &bvid).await.unwrap().json().await.unwrap();
    assert_eq!(d["site_name"], "Blog");
    assert_eq!(details(&carol, &bvid).await.unwrap().status(), 404);
    assert_eq!(details(&carol, "v_nobody").await.unwrap().status(), 404);
    assert_eq!(details(&carol, &svid).await.unwrap().status(), 200);

    // Given the blog too, Carol's open console reconnects by itself and then has it.
    app.state.db.set_user_sites(carol_id, Some(&[shop.id, blog.id])).await.unwrap();
    let (code, _) = cc.expect_close().await;
    assert_eq!(code, 1012);
    let mut cc = app.console_socket(Some(&carol), None).await;
    let snap = cc.recv_type("snapshot").await;
    assert!(ids(&snap).contains(&bvid), "{snap}");
}

#[tokio::test]
async fn admins_set_a_users_sites_through_the_api_and_unknown_sites_are_refused() {
    let app = spawn_app().await;
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let carol = app.consultant("carol@example.com").await;
    let shop = app.state.db.site_by_key(&app.site_key).await.unwrap().unwrap();
    let carol_id = app.state.db.user_by_email("carol@example.com").await.unwrap().unwrap().id;
    let c = reqwest::Client::new();
    let put = |cookie: &str, body: Value| {
        c.put(app.url(&format!("/api/users/{carol_id}/sites"))).header("cookie", cookie.to_owned()).json(&body).send()
    };

    assert_eq!(put(&carol, json!({"sites": []})).await.unwrap().status(), 403, "a consultant cannot widen their own sites");
    let res = put(&admin, json!({"sites": [shop.id.to_string(), "4242"]})).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("`4242`"));
    assert_eq!(app.state.db.user_sites(carol_id).await.unwrap(), None, "nothing changed");

    let u: Value = put(&admin, json!({"sites": [shop.id.to_string()]})).await.unwrap().json().await.unwrap();
    assert_eq!(u["sites"], json!([shop.id.to_string()]));
    let list: Value = c.get(app.url("/api/users")).header("cookie", &admin).send().await.unwrap().json().await.unwrap();
    let row = list.as_array().unwrap().iter().find(|u| u["email"] == "carol@example.com").unwrap();
    assert_eq!(row["sites"], json!([shop.id.to_string()]));
    let u: Value = put(&admin, json!({"sites": null})).await.unwrap().json().await.unwrap();
    assert_eq!(u["sites"], Value::Null, "every site again");
}
