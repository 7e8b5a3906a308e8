//! The real binary on PostgreSQL (`--database-url postgres://…`): several
//! nodes starting at once on an empty database, the command line acting on
//! the shared database while they run, and what one node stores read on
//! another. Uses the server named by `CHATCAST_TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`; fails (and says why) if it cannot reach it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use support::*;

fn pg_url() -> String {
    std::env::var("CHATCAST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh database on the test server: (a pool on the server, its name, its URL).
async fn fresh_database() -> (sqlx::PgPool, String, String) {
    let url = pg_url();
    let admin = sqlx::PgPool::connect(&url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {url} cannot be reached ({e}); set CHATCAST_TEST_DATABASE_URL or start one (scripts/test does)")
    });
    let name = format!("chatcast_n_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
    let base = url.split('?').next().unwrap();
    let db_url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
    (admin, name, db_url)
}

fn chatcast(db_url: &str, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_chatcast")).args(args).args(["--database-url", db_url]).output().unwrap();
    assert!(o.status.success(), "chatcast {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(db_url: &str, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chatcast"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url, "--data-dir"])
        .arg(dir)
        .env("CHATCAST_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CHATCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CHATCAST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn listening(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("the node exited before listening").unwrap();
    line.strip_prefix("chatcast listening on ").expect(&line).to_owned()
}

#[tokio::test]
async fn three_nodes_start_at_once_on_one_empty_database_and_share_it() {
    let (admin, name, db_url) = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    // Started together: migrations, the admin from the environment and the demo site, once.
    let mut children: Vec<Child> = (0..3).map(|_| start_node(&db_url, dir.path())).collect();
    let nodes: Vec<Node> = children.drain(..).map(|mut c| Node { url: listening(&mut c), child: c }).collect();
    let users = chatcast(&db_url, &["user", "list"]);
    assert_eq!(users.matches(ADMIN_EMAIL).count(), 1, "{users}");
    let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
    let (demo,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sites WHERE is_demo").fetch_one(&pool).await.unwrap();
    assert_eq!(demo, 1, "one demo site");

    // The command line adds a site while the nodes run; every node knows it at once.
    let key = chatcast(&db_url, &["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();
    let client = reqwest::Client::new();
    let login = |url: String| {
        let client = client.clone();
        async move {
            let res = client
                .post(format!("{url}/api/login"))
                .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "login on {url}");
            res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
        }
    };
    for n in &nodes {
        let cookie = login(n.url.clone()).await;
        let sites: serde_json::Value =
            client.get(format!("{}/api/sites", n.url)).header("Cookie", &cookie).send().await.unwrap().json().await.unwrap();
        assert!(sites.as_array().unwrap().iter().any(|s| s["key"] == key.as_str()), "{} lists the new site", n.url);
    }

    // A visitor writes on node 0; a consultant on node 2 opens the dialog and reads it from the shared store.
    let addr0 = nodes[0].url.strip_prefix("http://").unwrap();
    let mut v =
        Client::connect(&format!("ws://{addr0}/ws/visitor?site={key}"), http::Request::builder().header("Origin", SITE_ORIGIN))
            .await;
    v.send(serde_json::json!({"t": "hello", "tab_id": "t1", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    let vid = v.recv_type("welcome").await["visitor_id"].as_str().unwrap().to_owned();
    v.send(serde_json::json!({"t": "send", "client_id": "c1", "body": "written on node 0"})).await;
    v.recv_type("ack").await;
    let cookie = login(nodes[2].url.clone()).await;
    let addr2 = nodes[2].url.strip_prefix("http://").unwrap();
    let mut c = Client::connect(
        &format!("ws://{addr2}/ws/console"),
        http::Request::builder().header("Origin", &nodes[2].url).header("Cookie", &cookie),
    )
    .await;
    c.recv_type("snapshot").await;
    c.send(serde_json::json!({"t": "open", "visitor_id": vid})).await;
    let dialog = c.recv_type("dialog").await;
    assert_eq!(dialog["messages"][0]["body"], "written on node 0", "{dialog}");

    // Disabling the admin from the command line ends its sessions on every node.
    chatcast(&db_url, &["user", "add", "--email", "second@example.com", "--password", "second-password", "--role", "admin"]);
    chatcast(&db_url, &["user", "disable", "--email", ADMIN_EMAIL]);
    assert_eq!(c.closed_with(5).await, 4001, "the console on node 2 closed: its session ended");

    drop(nodes);
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await.unwrap();
}
