//! Several real `chatcast serve` nodes sharing PostgreSQL and Redis
//! (`--redis-url`): a visitor on one node and consultants on others see each
//! other live, and a node killed with SIGKILL has its visitors shown offline
//! on the others within the engine's bound. Uses `CHATCAST_TEST_DATABASE_URL`
//! and `CHATCAST_TEST_REDIS_URL` (else the servers on 127.0.0.1's default
//! ports); fails, saying why, if either cannot be reached.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

fn pg_url() -> String {
    std::env::var("CHATCAST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("CHATCAST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A fresh database and a cluster name of its own (tests share the servers).
struct Shared {
    admin: sqlx::PgPool,
    db: String,
    db_url: String,
    cluster: String,
}

impl Shared {
    async fn new(tag: &str) -> Shared {
        let url = pg_url();
        let admin = sqlx::PgPool::connect(&url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {url} cannot be reached ({e}); set CHATCAST_TEST_DATABASE_URL or start one (scripts/test does)")
        });
        let redis = redis_url();
        let ping = Command::new("redis-cli").args(["-u", &redis, "ping"]).output();
        assert!(
            ping.as_ref().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG"),
            "Redis at {redis} does not answer ({ping:?}); set CHATCAST_TEST_REDIS_URL or start one (scripts/test does)"
        );
        let db = format!("chatcast_{tag}_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&admin).await.unwrap();
        let base = url.split('?').next().unwrap();
        let db_url = format!("{}/{db}", &base[..base.rfind('/').unwrap()]);
        Shared { admin, cluster: db.clone(), db, db_url }
    }

    fn cli(&self, args: &[&str]) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_chatcast")).args(args).args(["--database-url", &self.db_url]).output().unwrap();
        assert!(o.status.success(), "chatcast {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }

    fn node(&self) -> Node {
        self.node_on(&self.db_url, &redis_url())
    }

    /// A node reaching PostgreSQL and Redis at these URLs (through a [`Proxy`], say).
    fn node_on(&self, db_url: &str, redis_url: &str) -> Node {
        self.node_with(db_url, redis_url, &[])
    }

    fn node_with(&self, db_url: &str, redis_url: &str, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_chatcast"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url, "--redis-url", redis_url])
            .arg("--data-dir")
            .arg(dir.path())
            .env("CHATCAST_CLUSTER_NAME", &self.cluster)
            .env("CHATCAST_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CHATCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CHATCAST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let line = BufReader::new(child.stdout.take().unwrap()).lines().next().expect("the node exited").unwrap();
        let url = line.strip_prefix("chatcast listening on ").expect(&line).to_owned();
        Node { child, addr: url.strip_prefix("http://").unwrap().to_owned(), url, _dir: dir }
    }

    async fn drop_db(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db)))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

struct Node {
    child: Child,
    url: String,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    async fn console(&self) -> Client {
        let res = reqwest::Client::new()
            .post(format!("{}/api/login", self.url))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login on {}", self.url);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        Client::connect(
            &format!("ws://{}/ws/console", self.addr),
            http::Request::builder().header("Origin", &self.url).header("Cookie", cookie),
        )
        .await
    }

    async fn visitor(&self, key: &str, token: Option<&str>, tab: &str) -> (Client, Value) {
        let mut v = Client::connect(
            &format!("ws://{}/ws/visitor?site={key}", self.addr),
            http::Request::builder().header("Origin", SITE_ORIGIN),
        )
        .await;
        v.send(json!({"t": "hello", "token": token, "tab_id": tab, "page": {"url": "http://shop.test:8000/", "title": "Home"}}))
            .await;
        let w = v.recv_type("welcome").await;
        (v, w)
    }

    /// SIGKILL: no goodbye to anyone.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The next `visitor` entry for `vid` that satisfies `pred`, skipping everything else; None after `secs`.
async fn visitor_entry(c: &mut Client, vid: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let Some(f) = c.next_frame_within(1).await else { continue };
        let Ok(v) = serde_json::from_slice::<Value>(f.payload()) else { continue };
        if v["t"] == "visitor" && v["visitor"]["visitor_id"] == vid && pred(&v["visitor"]) {
            return Some(v["visitor"].clone());
        }
    }
    None
}

/// The next chat message with this body, skipping everything else.
async fn message(c: &mut Client, body: &str) -> Value {
    loop {
        let m = c.recv_type("message").await;
        if m["message"]["body"] == body {
            return m["message"].clone();
        }
    }
}

#[tokio::test]
async fn a_visitor_on_one_node_and_consultants_on_others_see_each_other_and_a_killed_node_goes_offline() {
    let shared = Shared::new("cluster").await;
    let (mut a, b, c) = (shared.node(), shared.node(), shared.node());
    let key = shared.cli(&["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();

    let mut on_b = b.console().await;
    on_b.recv_type("snapshot").await;
    // The visitor comes through node A: the console on B sees them arrive.
    let (mut tab_a, welcome) = a.visitor(&key, None, "tab-1").await;
    let vid = welcome["visitor_id"].as_str().unwrap().to_owned();
    let token = welcome["token"].as_str().unwrap().to_owned();
    visitor_entry(&mut on_b, &vid, 5, |v| v["online"] == true).await.expect("B's console sees the visitor come online on A");

    // A console opened later on C lists them from the shared presence.
    let mut on_c = c.console().await;
    let snap = on_c.recv_type("snapshot").await;
    let listed = snap["visitors"].as_array().unwrap().iter().find(|v| v["visitor_id"] == vid.as_str()).cloned();
    assert_eq!(listed.expect("C's snapshot lists the visitor of node A")["online"], true);

    // Chat both ways, each message once on each side.
    tab_a.send(json!({"t": "send", "client_id": "v1", "body": "hello from A"})).await;
    tab_a.recv_type("ack").await;
    let started = Instant::now();
    message(&mut on_b, "hello from A").await;
    let to_b = started.elapsed();
    message(&mut on_c, "hello from A").await;
    on_b.send(json!({"t": "send", "visitor_id": vid, "client_id": "b1", "body": "hello from B"})).await;
    let started = Instant::now();
    let got = message(&mut tab_a, "hello from B").await;
    let to_a = started.elapsed();
    assert_eq!(got["author"], "consultant");
    message(&mut on_c, "hello from B").await;
    println!("cluster: visitor→console across nodes {to_b:?}, console→visitor {to_a:?}");

    // A second tab of the same visitor on C: a message from A reaches it, not A's own tab twice.
    let (mut tab_c, _) = c.visitor(&key, Some(&token), "tab-2").await;
    tab_a.send(json!({"t": "send", "client_id": "v2", "body": "second tab sees this"})).await;
    let acked = tab_a.recv_type("ack").await;
    message(&mut tab_c, "second tab sees this").await;
    let echoed = tab_a.next_frame_within(1).await.and_then(|f| serde_json::from_slice::<Value>(f.payload()).ok());
    assert!(
        !echoed.as_ref().is_some_and(|m| m["t"] == "message" && m["message"]["id"] == acked["message"]["id"]),
        "the sending tab gets its ack, not the message again: {echoed:?}"
    );

    // The tab on A closes while the one on C stays: still online, no offline entry reaches the consoles.
    drop(tab_a);
    assert!(
        visitor_entry(&mut on_b, &vid, 2, |v| v["online"] == false).await.is_none(),
        "a visitor with a tab on C is not shown offline when its tab on A closes"
    );

    // Node A is killed (SIGKILL) with a visitor on it: B shows them offline within the bound.
    drop(tab_c);
    let (tab_a2, w2) = a.visitor(&key, None, "tab-3").await;
    let vid2 = w2["visitor_id"].as_str().unwrap().to_owned();
    visitor_entry(&mut on_b, &vid2, 5, |v| v["online"] == true).await.expect("the new visitor is seen");
    let killed = Instant::now();
    a.kill();
    let off = visitor_entry(&mut on_b, &vid2, 20, |v| v["online"] == false).await;
    let took = killed.elapsed();
    assert!(off.is_some(), "a killed node's visitor is shown offline on the other nodes");
    assert!(took <= Duration::from_secs(15), "shown offline {took:?} after the kill; the bound is 15 s");
    println!("cluster: a killed node's visitor shown offline after {took:?}");
    drop(tab_a2);

    drop((a, b, c));
    shared.drop_db().await;
}

/// The next binary frame (a screen frame) within `secs`, skipping text.
async fn screen_frame(c: &mut Client, secs: u64) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let Some(f) = c.next_frame_within(1).await else { continue };
        if f.opcode() == yawc::OpCode::Binary {
            return Some(f.payload().to_vec());
        }
    }
    None
}

/// The next binary frame whose body is `body`, skipping others.
async fn frame_with(c: &mut Client, body: &[u8], secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        match screen_frame(c, 1).await {
            Some(f) if &f[5..] == body => return true,
            _ => {}
        }
    }
    false
}

fn keyframe(seq: u32, body: &[u8]) -> Vec<u8> {
    chatcast_protocol::screen::encode(chatcast_protocol::screen::KIND_KEYFRAME, seq, body)
}

fn delta(seq: u32, body: &[u8]) -> Vec<u8> {
    chatcast_protocol::screen::encode(chatcast_protocol::screen::KIND_DELTA, seq, body)
}

async fn screen_socket(node: &Node, start: &Value) -> Client {
    let token = start["screen_token"].as_str().unwrap();
    Client::connect_plain(
        &format!("ws://{}/ws/screen?token={token}", node.addr),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await
}

#[tokio::test]
async fn a_broadcast_on_one_node_is_watched_from_others_and_survives_its_tab_moving_and_its_node_dying() {
    let shared = Shared::new("cast").await;
    let (a, b, mut c) = (shared.node(), shared.node(), shared.node());
    let key = shared.cli(&["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();
    let mut on_b = b.console().await;
    on_b.recv_type("snapshot").await;
    let mut on_a = a.console().await;
    on_a.recv_type("snapshot").await;

    // The visitor is on C; the consultant on B asks: the request reaches the tab on C.
    let (mut tab, welcome) = c.visitor(&key, None, "tab-1").await;
    let vid = welcome["visitor_id"].as_str().unwrap().to_owned();
    let token = welcome["token"].as_str().unwrap().to_owned();
    visitor_entry(&mut on_b, &vid, 5, |v| v["online"] == true).await.expect("B sees the visitor");
    on_b.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = tab.recv_type("consent_request").await;
    tab.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    let probe = tab.recv_type("probe").await;
    tab.send(json!({"t": "probe", "id": probe["id"]})).await;
    let n = probe["upload_bytes"].as_u64().unwrap() as usize;
    tab.send_binary(chatcast_protocol::screen::encode(chatcast_protocol::screen::KIND_PROBE, 0, &vec![7u8; n])).await;
    let start = tab.recv_type("screencast_start").await;
    // The load balancer sends the screen socket to A: A forwards its frames to C.
    let mut screen = screen_socket(&a, &start).await;
    loop {
        let s = on_b.recv_type("screencast").await;
        if s["visitor_id"] == vid.as_str() && s["state"] == "active" {
            break;
        }
    }
    screen.send_binary(keyframe(1, b"page one")).await;
    screen.send_binary(delta(2, b"typed a")).await;

    // B watches: the kept keyframe and delta (through Redis), then live deltas.
    on_b.send(json!({"t": "watch", "visitor_id": vid})).await;
    on_b.recv_type("screencast_assets").await;
    assert!(frame_with(&mut on_b, b"page one", 5).await, "B's viewer gets the kept keyframe");
    assert!(frame_with(&mut on_b, b"typed a", 5).await, "and the delta after it");
    // A new viewer on another node asks the tab for a fresh keyframe.
    tab.recv_type("keyframe_request").await;
    screen.send_binary(keyframe(3, b"fresh for B")).await;
    let sent = Instant::now();
    screen.send_binary(delta(4, b"typed b")).await;
    assert!(frame_with(&mut on_b, b"fresh for B", 5).await);
    assert!(frame_with(&mut on_b, b"typed b", 5).await, "live deltas follow");
    println!("cluster: screen frame from C's tab to B's viewer in {:?}", sent.elapsed());
    // A watches too, from its own kept copy.
    on_a.send(json!({"t": "watch", "visitor_id": vid})).await;
    assert!(frame_with(&mut on_a, b"fresh for B", 5).await, "A's viewer starts from the latest keyframe");

    // The tab loads its next page and reconnects to A: A takes the broadcast
    // over with no new consent, and the viewers on B get the new page.
    drop(tab);
    let (mut tab, _) = a.visitor(&key, Some(&token), "tab-1").await;
    let start = tab.recv_type("screencast_start").await;
    // The old page's screen socket, forwarded by A, is closed once its token is void.
    assert_eq!(screen.closed_with(5).await, 1000, "a forwarded screen socket closes when its broadcast moves on");
    let mut screen = screen_socket(&a, &start).await;
    screen.send_binary(keyframe(1, b"page two")).await;
    assert!(frame_with(&mut on_b, b"page two", 5).await, "B follows the broadcast to its new node");
    assert!(frame_with(&mut on_a, b"page two", 5).await);

    // Node A dies mid-broadcast; the tab reconnects to C and carries on from a new keyframe.
    drop(on_a);
    let killed = Instant::now();
    let mut a = a;
    a.kill();
    drop((tab, screen));
    let (mut tab, _) = c.visitor(&key, Some(&token), "tab-1").await;
    let start = tab.recv_type("screencast_start").await;
    let mut screen = screen_socket(&b, &start).await;
    screen.send_binary(keyframe(1, b"after the kill")).await;
    assert!(frame_with(&mut on_b, b"after the kill", 5).await, "the replica on B is live again");
    println!("cluster: broadcast live again on B {:?} after its node was killed (reconnect not counted)", killed.elapsed());

    // The consultant on B stops it: the tab on C is told, and one receipt is written.
    on_b.send(json!({"t": "screencast_stop", "visitor_id": vid})).await;
    tab.recv_type("screencast_stop").await;
    let receipt = loop {
        let m = on_b.recv_type("message").await;
        if m["message"]["kind"] == "receipt" {
            break m["message"]["body"].as_str().unwrap().to_owned();
        }
    };
    assert!(receipt.contains("saw this tab"), "{receipt}");
    let pool = sqlx::PgPool::connect(&shared.db_url).await.unwrap();
    let (receipts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE visitor_id = $1 AND kind = 'receipt'")
        .bind(&vid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(receipts, 1, "one broadcast, one receipt, whichever nodes it ran on");
    let (events,): (String,) =
        sqlx::query_as("SELECT string_agg(event, ',' ORDER BY id) FROM screencast_audit WHERE visitor_id = $1")
            .bind(&vid)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(events.matches("resumed").count() == 2, "two take-overs in the audit: {events}");
    pool.close().await;
    drop((tab, screen, on_b));
    c.kill();
    drop((b, c));
    shared.drop_db().await;
}

/// A TCP proxy in front of PostgreSQL or Redis that the test can cut (every
/// connection dropped, new ones refused) and restore: a restart of the
/// service, as the nodes see it.
struct Proxy {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { addr, up, conns }
    }

    /// The service goes away: open connections drop, new ones are refused.
    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `scheme://[user@]host:port/rest` → (host:port, the URL with the proxy's address instead).
fn through(url: &str, proxy: &Proxy) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, rest) = rest.rsplit_once('@').map_or(("", rest), |(a, r)| (a, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let at = if auth.is_empty() { String::new() } else { format!("{auth}@") };
    format!("{scheme}://{at}{}{path}", proxy.addr)
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap().to_owned()
}

// Multi-threaded: the proxies run while the test blocks reading a node's first line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_or_postgresql_restart_costs_a_reconnect_and_loses_no_message() {
    let shared = Shared::new("restart").await;
    let key = shared.cli(&["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();
    let pg = Proxy::start(host_port(&shared.db_url)).await;
    let redis = Proxy::start(host_port(&redis_url())).await;
    let (pg_url, redis_via) = (through(&shared.db_url, &pg), through(&redis_url(), &redis));
    let (a, b) = (shared.node_on(&pg_url, &redis_via), shared.node_on(&pg_url, &redis_via));
    let mut on_b = b.console().await;
    on_b.recv_type("snapshot").await;
    let (mut tab, welcome) = a.visitor(&key, None, "tab-1").await;
    let vid = welcome["visitor_id"].as_str().unwrap().to_owned();
    let token = welcome["token"].as_str().unwrap().to_owned();
    tab.send(json!({"t": "send", "client_id": "m1", "body": "before"})).await;
    message(&mut on_b, "before").await;

    // Redis restarts empty: every key of the cluster is gone, and so is every connection.
    redis.cut();
    let keys = Command::new("redis-cli")
        .args(["-u", &redis_url(), "--scan", "--pattern", &format!("{}:*", shared.cluster)])
        .output()
        .unwrap();
    for k in String::from_utf8_lossy(&keys.stdout).lines() {
        Command::new("redis-cli").args(["-u", &redis_url(), "DEL", k]).output().unwrap();
    }
    // Chat goes on: stored, acknowledged (the other node hears of it after the restart).
    tab.send(json!({"t": "send", "client_id": "m2", "body": "while Redis was down"})).await;
    tab.recv_type("ack").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restore();
    // Each node, back in touch, has its sockets reconnect to catch up.
    assert_eq!(on_b.closed_with(10).await, 1012, "the console on B reconnects after Redis came back");
    assert_eq!(tab.closed_with(10).await, 1012, "the tab on A too");
    let (mut tab, _) = a.visitor(&key, Some(&token), "tab-1").await;
    let mut on_b = b.console().await;
    let snap = on_b.recv_type("snapshot").await;
    // Listed at once, or announced as soon as A's next heartbeat has put it back in Redis.
    let listed = snap["visitors"].as_array().unwrap().iter().any(|v| v["visitor_id"] == vid.as_str() && v["online"] == true);
    assert!(
        listed || visitor_entry(&mut on_b, &vid, 5, |v| v["online"] == true).await.is_some(),
        "B lists the visitor of A again: {snap}"
    );
    on_b.send(json!({"t": "open", "visitor_id": vid})).await;
    let dialog = on_b.recv_type("dialog").await;
    let bodies: Vec<&str> = dialog["messages"].as_array().unwrap().iter().filter_map(|m| m["body"].as_str()).collect();
    assert!(bodies.contains(&"while Redis was down"), "nothing written during the outage is lost: {bodies:?}");
    tab.send(json!({"t": "send", "client_id": "m3", "body": "after Redis"})).await;
    message(&mut on_b, "after Redis").await;

    // PostgreSQL restarts: a message that cannot be stored is refused, saying so, and not acknowledged.
    pg.cut();
    tab.send(json!({"t": "send", "client_id": "m4", "body": "while PostgreSQL was down"})).await;
    let refused = tab.recv_type("error").await;
    assert_eq!(refused["code"], "internal", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("send it again"), "{refused}");
    pg.restore();
    // Sent again (as the widget does), it is stored once and reaches the console once.
    let stored = async {
        loop {
            tab.send(json!({"t": "send", "client_id": "m4", "body": "while PostgreSQL was down"})).await;
            let f = tab.next_frame_within(10).await.expect("an answer");
            let v: Value = serde_json::from_slice(f.payload()).unwrap();
            if v["t"] == "ack" {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), stored).await.expect("stored once PostgreSQL is back");
    message(&mut on_b, "while PostgreSQL was down").await;
    let pool = sqlx::PgPool::connect(&shared.db_url).await.unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE body = 'while PostgreSQL was down'").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 1, "stored once");
    pool.close().await;
    drop((tab, on_b, a, b));
    shared.drop_db().await;
}

#[tokio::test]
async fn failed_logins_count_across_nodes() {
    let shared = Shared::new("logins").await;
    let env = [("CHATCAST_LOGIN_FAILURES_PER_MINUTE", "3")];
    let (a, b) = (shared.node_with(&shared.db_url, &redis_url(), &env), shared.node_with(&shared.db_url, &redis_url(), &env));
    let attempt = |n: &Node| {
        let url = format!("{}/api/login", n.url);
        async move {
            let body = json!({"email": ADMIN_EMAIL, "password": "wrong-password"});
            reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16()
        }
    };
    // Two wrong passwords on A, then on B: B alone has seen one, but the cluster three.
    assert_eq!(attempt(&a).await, 401);
    assert_eq!(attempt(&a).await, 401);
    assert_eq!(attempt(&b).await, 401, "the third attempt of the minute is let through (positive control)");
    assert_eq!(attempt(&b).await, 429, "the fourth is refused although this node saw only one before it");
    assert_eq!(attempt(&a).await, 429);
    drop((a, b));
    shared.drop_db().await;
}

#[tokio::test]
async fn new_visitors_from_one_address_count_across_nodes() {
    let shared = Shared::new("visitors").await;
    let key = shared.cli(&["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();
    let env = [("CHATCAST_NEW_VISITORS_PER_ADDRESS_PER_MINUTE", "3")];
    let (a, b) = (shared.node_with(&shared.db_url, &redis_url(), &env), shared.node_with(&shared.db_url, &redis_url(), &env));
    let mut held = Vec::new();
    for (node, tab) in [(&a, "t1"), (&a, "t2"), (&b, "t3")] {
        held.push(node.visitor(&key, None, tab).await.0); // three new visitors: allowed (positive control)
    }
    // B has made one, but the address has made three in the cluster: the fourth is refused.
    let mut v = Client::connect(
        &format!("ws://{}/ws/visitor?site={key}", b.addr),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await;
    v.send(json!({"t": "hello", "tab_id": "t4", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    let refused = v.recv_type("error").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(v.closed_with(5).await, 4029);
    drop((held, a, b));
    shared.drop_db().await;
}

/// The next `support` frame, skipping everything else; None after `secs`.
async fn support_frame(c: &mut Client, secs: u64) -> Option<bool> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let Some(f) = c.next_frame_within(1).await else { continue };
        let Ok(v) = serde_json::from_slice::<Value>(f.payload()) else { continue };
        if v["t"] == "support" {
            return v["online"].as_bool();
        }
    }
    None
}

#[tokio::test]
async fn a_consultant_on_one_node_is_online_for_the_widgets_on_another() {
    let shared = Shared::new("support").await;
    let (a, b) = (shared.node(), shared.node());
    let key = shared.cli(&["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]).lines().last().unwrap().to_owned();
    let (mut v, w) = a.visitor(&key, None, "tab-1").await;
    assert_eq!(w["support_online"], false, "nobody is online on any node yet");

    // The console opens on B: the widget on A is told within a few ticks.
    let mut on_b = b.console().await;
    on_b.recv_type("snapshot").await;
    let opened = Instant::now();
    assert_eq!(support_frame(&mut v, 10).await, Some(true), "A's widget learns that B has a consultant");
    println!("cluster: a console on another node counted online after {:?}", opened.elapsed());
    let (_v2, w2) = a.visitor(&key, None, "tab-2").await;
    assert_eq!(w2["support_online"], true, "and a new widget on A is welcomed so");

    // It closes: away after the grace, on the other node too.
    drop(on_b);
    assert_eq!(support_frame(&mut v, 25).await, Some(false), "A's widget learns that nobody is left");
    drop((a, b));
    shared.drop_db().await;
}
