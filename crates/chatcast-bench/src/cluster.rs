//! The `cluster` scenario (issue 9 §6): three `chatcast serve` nodes sharing
//! one PostgreSQL database (created fresh, dropped after) and one Redis
//! (under a cluster name of their own), measured from outside:
//!
//! - **relay across nodes**: broadcasts whose tab is on node A, each watched
//!   by one viewer on A and one on B, the same frames timed at both: what
//!   crossing nodes adds (p50/p99), and the frames/s the cluster delivered;
//! - **presence churn**: visitors connecting and leaving on every node as
//!   fast as the generator goes, while a console on the third node must see
//!   each of them come and go;
//! - **memory per idle visitor** on a node with the Redis engine;
//! - **failover**: a node holding a live broadcast is killed (SIGKILL); its
//!   tab reconnects at once to another node, which takes the broadcast over;
//!   the time from the kill to the viewer on a third node having the new
//!   keyframe, over several kills (the widget's reconnect back-off is not in
//!   it: the browser test measures that).
//!
//! Everything runs on one machine (2 cores here): three nodes, PostgreSQL,
//! Redis and the generator share them. The figures say what the cluster's
//! machinery costs, not what three machines would carry.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use chatcast_protocol::screen::{KIND_DELTA, KIND_KEYFRAME, KIND_PROBE, encode};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use yawc::{Frame, OpCode, TcpWebSocket};

use crate::frames::{self, Bodies};
use crate::server::{ADMIN_EMAIL, ADMIN_PASSWORD, SITE_ORIGIN, login};
use crate::stats;
use crate::ws::{self, ClientOpts};

const STEP: Duration = Duration::from_secs(30);

/// Sizes of the scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Broadcasts in the relay part.
    pub broadcasts: usize,
    /// Frames/s over all of them.
    pub rate: f64,
    /// Seconds the relay is measured.
    pub relay_secs: f64,
    /// Seconds of presence churn.
    pub churn_secs: f64,
    /// Visitors connecting at once in the churn.
    pub churn_workers: usize,
    /// Idle visitors for the memory figure.
    pub idle: usize,
    /// Kills in the failover part.
    pub kills: usize,
}

/// PostgreSQL and Redis for the cluster: `CHATCAST_BENCH_DATABASE_URL` /
/// `CHATCAST_BENCH_REDIS_URL`, else the test ones (`CHATCAST_TEST_*`, set by
/// scripts/test), else the servers on 127.0.0.1's default ports.
fn service_urls() -> (String, String) {
    let env = |a: &str, b: &str, d: &str| std::env::var(a).or_else(|_| std::env::var(b)).unwrap_or_else(|_| d.to_owned());
    (
        env("CHATCAST_BENCH_DATABASE_URL", "CHATCAST_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        env("CHATCAST_BENCH_REDIS_URL", "CHATCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
}

struct Node {
    child: Child,
    addr: SocketAddr,
    pid: u32,
    dir: std::path::PathBuf,
}

/// Three nodes on a fresh database.
struct Cluster {
    bin: std::path::PathBuf,
    admin_url: String,
    db: String,
    db_url: String,
    redis_url: String,
    name: String,
    key: String,
    nodes: Vec<Node>,
}

async fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql").args([url, "-qAtc", sql]).output().await.context("cannot run psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl Cluster {
    async fn start(bin: &Path, n: usize) -> anyhow::Result<Cluster> {
        let (admin_url, redis_url) = service_urls();
        let db = format!("chatcast_bench_{}", std::process::id());
        psql(&admin_url, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .with_context(|| format!("PostgreSQL at {admin_url} is needed (set CHATCAST_BENCH_DATABASE_URL)"))?;
        psql(&admin_url, &format!("CREATE DATABASE {db}")).await?;
        let base = admin_url.split('?').next().unwrap_or_default();
        let db_url = format!("{}/{db}", &base[..base.rfind('/').context("a database URL with a path")?]);
        let mut c = Cluster {
            bin: bin.to_owned(),
            admin_url,
            db: db.clone(),
            db_url,
            redis_url,
            name: db,
            key: String::new(),
            nodes: Vec::new(),
        };
        let out = Command::new(bin)
            .args(["site", "add", "--name", "Bench shop", "--origin", SITE_ORIGIN, "--database-url", &c.db_url])
            .output()
            .await?;
        if !out.status.success() {
            bail!("chatcast site add: {}", String::from_utf8_lossy(&out.stderr));
        }
        c.key = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_owned();
        for _ in 0..n {
            let node = c.node().await?;
            c.nodes.push(node);
        }
        Ok(c)
    }

    async fn node(&self) -> anyhow::Result<Node> {
        let dir = crate::server::fresh_dir("node")?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", &self.db_url, "--redis-url", &self.redis_url])
            .arg("--data-dir")
            .arg(&dir)
            .env("CHATCAST_CLUSTER_NAME", &self.name)
            .env("CHATCAST_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CHATCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CHATCAST_LOG", "warn")
            .env("CHATCAST_BROADCAST_IDLE_GRACE_SECS", "3600")
            .stdin(Stdio::null());
        crate::server::lift_visitor_limits(&mut cmd);
        let (child, addr) = crate::server::spawn_and_read_addr(cmd, &dir, "chatcast listening on http://").await?;
        let pid = child.id().context("the node exited at once")?;
        Ok(Node { child, addr, pid, dir })
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr
    }

    async fn kill(&mut self, i: usize) {
        let _ = self.nodes[i].child.kill().await;
        let _ = self.nodes[i].child.wait().await;
    }

    async fn stop(mut self) {
        for n in &mut self.nodes {
            let _ = n.child.kill().await;
            let _ = std::fs::remove_dir_all(&n.dir);
        }
        let _ = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db)).await;
    }
}

/// A visitor tab: hello with an optional visitor token; returns (socket, visitor id, token).
async fn tab(addr: SocketAddr, key: &str, tab_id: &str, token: Option<&str>) -> anyhow::Result<(TcpWebSocket, String, String)> {
    let opts = ClientOpts { deflate: true };
    let mut chat = ws::connect(addr, &format!("/ws/visitor?site={key}"), &[("Origin", SITE_ORIGIN)], opts).await?;
    let page = json!({ "url": format!("{SITE_ORIGIN}/products/{tab_id}"), "title": "Bench shop" });
    ws::send_json(&mut chat, json!({ "t": "hello", "tab_id": tab_id, "token": token, "page": page })).await?;
    let w = ws::recv_type(&mut chat, "welcome", STEP).await?;
    let vid = w["visitor_id"].as_str().context("welcome without visitor_id")?.to_owned();
    let token = w["token"].as_str().context("welcome without token")?.to_owned();
    Ok((chat, vid, token))
}

async fn console(addr: SocketAddr, cookie: &str) -> anyhow::Result<TcpWebSocket> {
    crate::chatcast::console(addr, cookie, ClientOpts { deflate: true }).await
}

/// Opens the screen socket for a `screencast_start` at `addr` and sends a keyframe.
async fn screen(addr: SocketAddr, start: &Value, seq: u32) -> anyhow::Result<TcpWebSocket> {
    let token = start["screen_token"].as_str().context("screencast_start without a token")?;
    let opts = ClientOpts { deflate: true };
    let mut s = ws::connect(addr, &format!("/ws/screen?token={token}"), &[("Origin", SITE_ORIGIN)], opts).await?;
    s.send(Frame::binary(crate::chatcast::keyframe(seq))).await?;
    Ok(s)
}

/// Consent, probe, start: the tab's side, after a console asked.
async fn consent(chat: &mut TcpWebSocket) -> anyhow::Result<Value> {
    let ask = ws::recv_type(chat, "consent_request", STEP).await?;
    ws::send_json(chat, json!({ "t": "consent_answer", "request_id": ask["request_id"], "allow": true })).await?;
    let probe = ws::recv_type(chat, "probe", STEP).await?;
    ws::send_json(chat, json!({ "t": "probe", "id": probe["id"] })).await?;
    let n = probe["upload_bytes"].as_u64().unwrap_or(0) as usize;
    chat.send(Frame::binary(encode(KIND_PROBE, 0, &vec![0x2a; n]))).await?;
    ws::recv_type(chat, "screencast_start", STEP).await
}

/// A viewer: watch, then read until a keyframe arrives.
async fn watch(viewer: &mut TcpWebSocket, vid: &str) -> anyhow::Result<()> {
    ws::send_json(viewer, json!({ "t": "watch", "visitor_id": vid })).await?;
    loop {
        let f = ws::next_data(viewer, STEP).await?.context("viewer closed")?;
        if f.opcode() == OpCode::Binary && f.payload().first() == Some(&KIND_KEYFRAME) {
            return Ok(());
        }
        if f.opcode() == OpCode::Text && f.payload().windows(9).any(|w| w == br#""error""#) {
            bail!("watch {vid}: {}", String::from_utf8_lossy(f.payload()));
        }
    }
}

/// Runs the whole scenario.
pub async fn run(bin: &Path, plan: &Plan) -> anyhow::Result<Value> {
    let mut cluster = Cluster::start(bin, 3).await?;
    let res = async {
        let relay = relay(&cluster, plan).await.context("relay across nodes")?;
        let churn = churn(&cluster, plan).await.context("presence churn")?;
        let idle = idle(&cluster, plan).await.context("idle memory")?;
        let failover = failover(&mut cluster, plan).await.context("failover")?;
        anyhow::Ok(json!({ "nodes": 3, "relay": relay, "churn": churn, "idle": idle, "failover": failover }))
    }
    .await;
    cluster.stop().await;
    res
}

/// Broadcasts on node 0, each watched from node 0 and node 1; the same frames timed at both.
async fn relay(c: &Cluster, plan: &Plan) -> anyhow::Result<Value> {
    let (a, b) = (c.addr(0), c.addr(1));
    let (cookie_a, cookie_b) = (login(a).await?, login(b).await?);
    let mut control = console(a, &cookie_a).await?;
    let mut links = Vec::new();
    for i in 0..plan.broadcasts {
        let (mut chat, vid, _) = tab(a, &c.key, &format!("relay-{i}"), None).await?;
        ws::send_json(&mut control, json!({ "t": "screencast_request", "visitor_id": vid })).await?;
        let start = consent(&mut chat).await?;
        let screen = screen(a, &start, 0).await?;
        let (mut same, mut cross) = (console(a, &cookie_a).await?, console(b, &cookie_b).await?);
        watch(&mut same, &vid).await?;
        watch(&mut cross, &vid).await?;
        links.push((chat, screen, same, cross));
    }
    // The control console is read by nobody from here: it is closed.
    drop(control);
    let per = plan.rate / plan.broadcasts as f64;
    let end = Instant::now() + Duration::from_secs_f64(plan.relay_secs);
    let tasks: Vec<_> = links
        .into_iter()
        .enumerate()
        .map(|(i, (mut chat, mut screen, mut same, mut cross))| {
            tokio::spawn(async move {
                let bodies = Bodies::new(200, 16, i as u64 + 1);
                let (mut h_same, mut h_cross) = (stats::histogram(), stats::histogram());
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per));
                let (mut sent, mut seq) = (0u64, 1u32);
                let mut buf = Vec::with_capacity(256);
                let drain = end + Duration::from_millis(500);
                loop {
                    tokio::select! {
                        _ = tick.tick(), if Instant::now() < end => {
                            buf.clear();
                            buf.extend_from_slice(&encode(KIND_DELTA, seq, &[])[..5]);
                            bodies.write(seq, frames::now_ns(), &mut buf);
                            if screen.send(Frame::binary(buf.clone())).await.is_err() { break; }
                            sent += 1;
                            seq += 1;
                        }
                        f = same.next() => match f {
                            Some(f) if f.opcode() == OpCode::Binary => if let Some(ns) = frames::sent_ns(f.payload()) {
                                stats::record(&mut h_same, frames::instant_of(frames::now_ns()) - frames::instant_of(ns));
                            },
                            Some(_) => {}
                            None => break,
                        },
                        f = cross.next() => match f {
                            Some(f) if f.opcode() == OpCode::Binary => if let Some(ns) = frames::sent_ns(f.payload()) {
                                stats::record(&mut h_cross, frames::instant_of(frames::now_ns()) - frames::instant_of(ns));
                            },
                            Some(_) => {}
                            None => break,
                        },
                        f = chat.next() => match f {
                            Some(f) if f.opcode() == OpCode::Text && f.payload().windows(16).any(|w| w == b"keyframe_request") => {
                                let _ = screen.send(Frame::binary(crate::chatcast::keyframe(seq))).await;
                                seq += 1;
                            }
                            Some(_) => {}
                            None => break,
                        },
                        _ = tokio::time::sleep_until(drain) => break,
                    }
                }
                (sent, h_same, h_cross)
            })
        })
        .collect();
    let (mut sent, mut h_same, mut h_cross) = (0, stats::histogram(), stats::histogram());
    for t in tasks {
        let (s, a, b) = t.await?;
        sent += s;
        h_same.add(&a)?;
        h_cross.add(&b)?;
    }
    let secs = plan.relay_secs;
    let p99_added = stats::p99_ms(&h_cross) - stats::p99_ms(&h_same);
    eprintln!("[cluster] relay: {sent} frames; same node {}; across nodes {}", stats::summary(&h_same), stats::summary(&h_cross));
    Ok(json!({
        "broadcasts": plan.broadcasts,
        "offered_fps": plan.rate,
        "sent": sent,
        "same_node": stats::summary(&h_same),
        "across_nodes": stats::summary(&h_cross),
        "lost_same_node": sent.saturating_sub(h_same.len()),
        "lost_across_nodes": sent.saturating_sub(h_cross.len()),
        "delivered_fps": stats::round((h_same.len() + h_cross.len()) as f64 / secs, 1),
        "added_p99_across_nodes": stats::figure(p99_added, "ms", "≤ +2 ms p99 over one node (loopback)", Some(p99_added <= 2.0), None),
    }))
}

/// Visitors come and go on every node; a console on node 2 must see each arrive and leave.
async fn churn(c: &Cluster, plan: &Plan) -> anyhow::Result<Value> {
    let cookie = login(c.addr(2)).await?;
    let mut watcher = console(c.addr(2), &cookie).await?;
    let end = Instant::now() + Duration::from_secs_f64(plan.churn_secs);
    let workers: Vec<_> = (0..plan.churn_workers)
        .map(|w| {
            let (addrs, key) = ([c.addr(0), c.addr(1), c.addr(2)], c.key.clone());
            tokio::spawn(async move {
                let mut cycles = 0u64;
                while Instant::now() < end {
                    let addr = addrs[(w + cycles as usize) % 3];
                    let (mut chat, _, _) = tab(addr, &key, &format!("churn-{w}-{cycles}"), None).await?;
                    let _ = chat.send(Frame::close(yawc::close::CloseCode::Normal, b"")).await;
                    cycles += 1;
                }
                anyhow::Ok(cycles)
            })
        })
        .collect();
    let started = Instant::now();
    let (mut online, mut offline) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    let mut cycles = 0;
    let reading = async {
        loop {
            let Ok(Some(f)) = ws::next_data(&mut watcher, Duration::from_secs(3)).await else { break };
            if f.opcode() != OpCode::Text {
                continue;
            }
            let v: Value = serde_json::from_slice(f.payload())?;
            if v["t"] == "visitor" {
                let id = v["visitor"]["visitor_id"].as_str().unwrap_or_default().to_owned();
                if v["visitor"]["online"] == true {
                    online.insert(id)
                } else {
                    offline.insert(id)
                };
            }
        }
        anyhow::Ok(())
    };
    let (read, ()) = tokio::join!(reading, async {
        for w in workers {
            cycles += w.await.ok().and_then(Result::ok).unwrap_or(0);
        }
    });
    read?;
    let secs = started.elapsed().as_secs_f64() - 3.0;
    let missed = (cycles as usize).saturating_sub(offline.len().min(online.len()));
    eprintln!("[cluster] churn: {cycles} visits; console saw {} arrive, {} leave", online.len(), offline.len());
    Ok(json!({
        "visits": cycles,
        "visits_per_s": stats::round(cycles as f64 / plan.churn_secs, 1),
        "changes_per_s": stats::round(2.0 * cycles as f64 / secs.max(plan.churn_secs), 1),
        "console_saw_arrive": online.len(),
        "console_saw_leave": offline.len(),
        "missed_by_console": missed,
    }))
}

/// Idle visitors on node 1: resident memory per connection with the Redis
/// engine, against the same number on a lone node (SQLite, no Redis) in the same run.
async fn idle(c: &Cluster, plan: &Plan) -> anyhow::Result<Value> {
    let clustered = idle_on(c.nodes[1].pid, c.addr(1), &c.key, plan.idle).await?;
    let lone = crate::server::Server::chatcast(&c.bin, &crate::server::Launch { core: None, worker_threads: 0, env: Vec::new() })
        .await?;
    let alone = idle_on(lone.pid, lone.addr, &lone.site_key.clone(), plan.idle).await;
    lone.stop().await;
    let alone = alone?;
    Ok(json!({
        "visitors": plan.idle,
        "kb_per_idle_visitor": stats::figure(clustered, "KB", "≤ 10 KB", Some(clustered <= 10.0), Some(("one node without Redis, same run", alone))),
    }))
}

/// KB of resident memory per idle visitor that `n` visitors add to the process `pid`.
async fn idle_on(pid: u32, addr: SocketAddr, key: &str, n: usize) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = crate::sys::memory(pid)?;
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        held.push(tab(addr, key, &format!("idle-{i}"), None).await?.0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = crate::sys::memory(pid)?;
    drop(held);
    Ok((after.rss_kb as f64 - before.rss_kb as f64) / n as f64)
}

/// Kills the node of a live broadcast, `plan.kills` times; the tab reconnects to the next node.
async fn failover(c: &mut Cluster, plan: &Plan) -> anyhow::Result<Value> {
    let mut times = Vec::new();
    for k in 0..plan.kills {
        let (x, y, z) = (k % 3, (k + 1) % 3, (k + 2) % 3);
        let cookie = login(c.addr(y)).await?;
        let mut viewer = console(c.addr(y), &cookie).await?;
        let tab_id = format!("failover-{k}");
        let (mut chat, vid, token) = tab(c.addr(x), &c.key, &tab_id, None).await?;
        ws::send_json(&mut viewer, json!({ "t": "screencast_request", "visitor_id": vid })).await?;
        let start = consent(&mut chat).await?;
        let _screen = screen(c.addr(x), &start, 1).await?;
        watch(&mut viewer, &vid).await?;
        let killed = Instant::now();
        c.kill(x).await;
        let (mut chat, _, _) = tab(c.addr(z), &c.key, &tab_id, Some(&token)).await?;
        let start = ws::recv_type(&mut chat, "screencast_start", STEP).await?;
        let _screen = screen(c.addr(z), &start, 1).await?;
        watch_next_keyframe(&mut viewer).await?;
        let took = killed.elapsed();
        eprintln!("[cluster] failover {k}: the viewer on node {y} has the new keyframe {took:?} after node {x} was killed");
        times.push(took.as_secs_f64() * 1000.0);
        c.nodes[x] = c.node().await?;
    }
    times.sort_by(f64::total_cmp);
    let max = times.last().copied().unwrap_or(0.0);
    Ok(json!({
        "kills": plan.kills,
        "ms": times.iter().map(|t| stats::round(*t, 1)).collect::<Vec<_>>(),
        "median_ms": times.get(times.len() / 2).map(|t| stats::round(*t, 1)),
        "max": stats::figure(max, "ms", "≤ 5000 ms with the widget's back-off (added by the browser test)", Some(max <= 5000.0), None),
    }))
}

async fn watch_next_keyframe(viewer: &mut TcpWebSocket) -> anyhow::Result<()> {
    loop {
        let f = ws::next_data(viewer, STEP).await?.context("viewer closed")?;
        if f.opcode() == OpCode::Binary && f.payload().first() == Some(&KIND_KEYFRAME) {
            return Ok(());
        }
    }
}
