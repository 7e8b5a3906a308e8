//! Test support for the real `chatcast` binary: start it on a free port with a
//! fresh data dir, read its memory from /proc, and talk to it with real
//! HTTP and WebSocket clients from chosen loopback addresses.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use yawc::{Frame, OpCode, Options, TcpWebSocket, WebSocket};

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const ADMIN_PASSWORD: &str = "root-password";
pub const SITE_ORIGIN: &str = "http://shop.test:8000";

/// A running `chatcast serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub site_key: String,
    /// The server's log (stderr).
    pub log: tempfile::NamedTempFile,
}

impl Server {
    /// Starts a server with these extra environment variables (settings).
    pub fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let out = cli(dir.path(), &["site", "add", "--name", "Shop", "--origin", SITE_ORIGIN]);
        let site_key = out.lines().last().unwrap().to_owned();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatcast"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("CHATCAST_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CHATCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CHATCAST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        let url = line.strip_prefix("chatcast listening on ").expect(&line).to_owned();
        let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
        Server { child, url, addr, dir, site_key, log }
    }

    /// The server's resident memory, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_mib_of(self.child.id())
    }

    /// Samples the server's resident memory every 20 ms until `stop` is set; returns the highest.
    pub fn peak_rss(&self, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<f64> {
        let pid = self.child.id();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib_of(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak.max(rss_mib_of(pid))
        })
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// Bytes of every file in the data dir.
    pub fn data_bytes(&self) -> u64 {
        std::fs::read_dir(self.dir.path()).unwrap().flatten().map(|e| e.metadata().map_or(0, |m| m.len())).sum()
    }

    /// SIGTERM, then the time until the process exited (panics after `limit`).
    pub fn terminate(&mut self, limit: Duration) -> Duration {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                assert!(s.success(), "exit status {s}");
                return start.elapsed();
            }
            assert!(start.elapsed() < limit, "the server did not stop within {limit:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A health check's answer time.
    pub async fn health(&self) -> Duration {
        let start = Instant::now();
        let res = reqwest::Client::new()
            .get(format!("{}/healthz", self.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("health check answered");
        assert_eq!(res.status(), 200);
        start.elapsed()
    }

    /// Logs in from `from` (a loopback address); returns the status and the session cookie, if any.
    pub async fn login(&self, from: &str, email: &str, password: &str) -> (u16, Option<String>) {
        let client = reqwest::Client::builder().local_address(from.parse::<std::net::IpAddr>().unwrap()).build().unwrap();
        let res = client
            .post(format!("{}/api/login", self.url))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let cookie = res.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        (res.status().as_u16(), cookie)
    }

    /// A visitor socket on the test site that said hello: (client, visitor id).
    pub async fn visitor(&self, tab_id: &str) -> (Client, String) {
        let mut c = Client::connect(
            &format!("ws://{}/ws/visitor?site={}", self.addr, self.site_key),
            http::Request::builder().header("Origin", SITE_ORIGIN),
        )
        .await;
        c.send(json!({"t": "hello", "tab_id": tab_id, "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
        let w = c.recv_type("welcome").await;
        (c, w["visitor_id"].as_str().unwrap().to_owned())
    }

    /// A console socket with a session cookie.
    pub async fn console(&self, cookie: &str) -> Client {
        let req = http::Request::builder().header("Origin", &self.url).header("Cookie", cookie);
        Client::connect(&format!("ws://{}/ws/console", self.addr), req).await
    }

    /// A console socket that offers no compression (so that what it receives
    /// costs the server no deflate work, and what it holds is the frames).
    pub async fn plain_console(&self, cookie: &str) -> Client {
        let req = http::Request::builder().header("Origin", &self.url).header("Cookie", cookie);
        Client::connect_plain(&format!("ws://{}/ws/console", self.addr), req).await
    }

    /// A live broadcast the way the agent starts one: the admin asks, the
    /// visitor consents and passes the connection probe, and the screen socket
    /// (no compression) opens. Returns (admin console, visitor, visitor id, screen socket).
    pub async fn live_broadcast(&self, cookie: &str) -> (Client, Client, String, Client) {
        let mut console = self.console(cookie).await;
        console.recv_type("snapshot").await;
        let (mut v, vid) = self.visitor("tab-live").await;
        console.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
        let ask = v.recv_type("consent_request").await;
        v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
        let probe = v.recv_type("probe").await;
        v.send(json!({"t": "probe", "id": probe["id"]})).await;
        let n = probe["upload_bytes"].as_u64().unwrap() as usize;
        v.send_binary(chatcast_protocol::screen::encode(chatcast_protocol::screen::KIND_PROBE, 0, &vec![7u8; n])).await;
        let start = v.recv_type("screencast_start").await;
        let token = start["screen_token"].as_str().unwrap();
        let screen = Client::connect_plain(
            &format!("ws://{}/ws/screen?token={token}", self.addr),
            http::Request::builder().header("Origin", SITE_ORIGIN),
        )
        .await;
        (console, v, vid, screen)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory, in MiB.
pub fn rss_mib_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Runs a `chatcast` subcommand on `dir`; returns its stdout (panics on failure).
pub fn cli(dir: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_chatcast"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CHATCAST_SKIP_WEB_BUILD", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "chatcast {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A WebSocket client speaking the envelope.
pub struct Client {
    pub ws: TcpWebSocket,
}

impl Client {
    pub async fn connect(url: &str, req: http::request::Builder) -> Client {
        let ws = WebSocket::connect(url.parse().unwrap())
            .with_request(req)
            .with_options(Options::default().with_low_latency_compression().with_limits(64 << 20, 64 << 20))
            .await
            .unwrap();
        Client { ws }
    }

    /// Connects without offering permessage-deflate.
    pub async fn connect_plain(url: &str, req: http::request::Builder) -> Client {
        let ws = WebSocket::connect(url.parse().unwrap())
            .with_request(req)
            .with_options(Options::default().without_compression().with_limits(64 << 20, 64 << 20))
            .await
            .unwrap();
        Client { ws }
    }

    pub async fn send(&mut self, mut msg: Value) {
        if msg.get("v").is_none() {
            msg["v"] = json!(1);
        }
        self.ws.send(Frame::text(msg.to_string())).await.unwrap();
    }

    /// Sends a JSON message; false if the socket is gone.
    pub async fn try_send(&mut self, mut msg: Value) -> bool {
        if msg.get("v").is_none() {
            msg["v"] = json!(1);
        }
        self.ws.send(Frame::text(msg.to_string())).await.is_ok()
    }

    /// A frame already received, if any (does not wait).
    pub async fn poll_frame(&mut self) -> Option<Frame> {
        tokio::time::timeout(Duration::from_millis(1), self.ws.next()).await.ok().flatten()
    }

    /// Sends a binary frame; false if the socket is gone.
    pub async fn send_binary(&mut self, data: Vec<u8>) -> bool {
        self.ws.send(Frame::binary(data)).await.is_ok()
    }

    /// The next frame that is not a ping or pong, within `secs`; None if the socket ended.
    pub async fn next_frame_within(&mut self, secs: u64) -> Option<Frame> {
        loop {
            let f = tokio::time::timeout(Duration::from_secs(secs), self.ws.next()).await.ok()??;
            if !matches!(f.opcode(), OpCode::Ping | OpCode::Pong) {
                return Some(f);
            }
        }
    }

    /// The next JSON message of type `t`, skipping others (panics if the socket ends first).
    pub async fn recv_type(&mut self, t: &str) -> Value {
        loop {
            let f = self.next_frame_within(10).await.unwrap_or_else(|| panic!("socket ended waiting for `{t}`"));
            if f.opcode() != OpCode::Text {
                continue;
            }
            let v: Value = serde_json::from_slice(f.payload()).unwrap();
            if v["t"] == t {
                return v;
            }
        }
    }

    /// Reads until the socket closes; returns the close code (1006 if it just ended).
    pub async fn closed_with(&mut self, secs: u64) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(1), self.ws.next()).await {
                Ok(Some(f)) if f.opcode() == OpCode::Close => return f.close_code().map(u16::from).unwrap_or(1005),
                Ok(Some(_)) | Err(_) => continue,
                Ok(None) => return 1006,
            }
        }
        panic!("the socket did not close within {secs} s");
    }
}
