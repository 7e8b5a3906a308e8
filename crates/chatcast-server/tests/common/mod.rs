//! Test harness: a real server on a port-0 listener, and real HTTP and
//! WebSocket clients talking to it.
#![allow(dead_code)]

pub mod smtp;

use std::net::SocketAddr;
use std::time::Duration;

use chatcast_server::config::Settings;
use chatcast_server::{AppState, auth, storage::Role};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use yawc::{Frame, OpCode, Options, TcpWebSocket, WebSocket};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password";
/// The origin the test site allows.
pub const SITE_ORIGIN: &str = "http://shop.test:8000";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub site_key: String,
    pub server: JoinHandle<std::io::Result<()>>,
    pub dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// Starts a server in a fresh data dir.
pub async fn spawn_app() -> TestApp {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut app = spawn_app_in(&dir, |_| {}).await;
    app._tmp = Some(tmp);
    app
}

/// Starts a server in a fresh data dir with some settings changed.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut app = spawn_app_in(&dir, tweak).await;
    app._tmp = Some(tmp);
    app
}

/// Starts a server on `dir` (which may hold a previous run's data).
pub async fn spawn_app_in(dir: &std::path::Path, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings { data_dir: dir.to_path_buf(), listen: "127.0.0.1:0".into(), ..Settings::default() };
    tweak(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::build(settings).await.unwrap();
    state.bootstrap_admin(Some((ADMIN_EMAIL.into(), ADMIN_PASSWORD.into()))).await.unwrap();
    let site_key = match state.db.list_sites().await.unwrap().into_iter().find(|s| s.name == "Test shop") {
        Some(s) => s.key,
        None => state.db.create_site("Test shop", "site_test", &[SITE_ORIGIN.to_owned()], false).await.unwrap().key,
    };
    let server = tokio::spawn(chatcast_server::serve(listener, state.clone()));
    TestApp { addr, state, site_key, server, dir: dir.to_path_buf(), _tmp: None }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server the way SIGTERM does, and waits for it.
    pub async fn shutdown(self) -> Option<tempfile::TempDir> {
        self.state.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.server).await.unwrap().unwrap().unwrap();
        self._tmp
    }

    /// Logs in and returns the session cookie header value.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = reqwest::Client::new()
            .post(self.url("/api/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login of {email} failed");
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// A consultant account, logged in.
    pub async fn consultant(&self, email: &str) -> String {
        auth::add_user(self.state.db.as_ref(), email, "consultant-pw", Role::Consultant, None).await.unwrap();
        self.login(email, "consultant-pw").await
    }

    /// Opens the widget socket from `origin`.
    pub async fn visitor_socket(&self, key: &str, origin: Option<&str>) -> Client {
        let mut req = http::Request::builder();
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let url = format!("ws://{}/ws/visitor?site={key}", self.addr);
        Client::connect(&url, req).await
    }

    /// Opens a broadcast's screen socket with the token from `screencast_start`.
    pub async fn screen_socket(&self, token: &str, origin: Option<&str>) -> Client {
        let mut req = http::Request::builder();
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        Client::connect(&format!("ws://{}/ws/screen?token={token}", self.addr), req).await
    }

    /// A visitor that said hello: (client, visitor_id, token).
    pub async fn visitor(&self, token: Option<&str>) -> (Client, String, String) {
        self.visitor_tab(token, None).await
    }

    /// A visitor tab with a tab id that said hello: (client, visitor_id, token).
    pub async fn visitor_tab(&self, token: Option<&str>, tab_id: Option<&str>) -> (Client, String, String) {
        let mut c = self.visitor_socket(&self.site_key, Some(SITE_ORIGIN)).await;
        let page = json!({ "url": "http://shop.test:8000/", "title": "Home" });
        c.send(json!({ "t": "hello", "token": token, "tab_id": tab_id, "page": page })).await;
        let w = c.recv_type("welcome").await;
        (c, w["visitor_id"].as_str().unwrap().to_owned(), w["token"].as_str().unwrap().to_owned())
    }

    /// Opens the console socket with a cookie, from the server's own origin unless told otherwise.
    pub async fn console_socket(&self, cookie: Option<&str>, origin: Option<&str>) -> Client {
        let own = format!("http://{}", self.addr);
        let mut req = http::Request::builder().header("Origin", origin.unwrap_or(&own));
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        Client::connect(&format!("ws://{}/ws/console", self.addr), req).await
    }
}

/// A WebSocket client speaking the envelope.
pub struct Client {
    pub ws: TcpWebSocket,
}

impl Client {
    pub async fn connect(url: &str, req: http::request::Builder) -> Client {
        let ws = WebSocket::connect(url.parse().unwrap())
            .with_request(req)
            .with_options(Options::default().with_low_latency_compression())
            .await
            .unwrap();
        Client { ws }
    }

    /// Sends `msg` with `v: 1` added unless it has a `v`.
    pub async fn send(&mut self, mut msg: Value) {
        if msg.get("v").is_none() {
            msg["v"] = json!(1);
        }
        self.send_text(&msg.to_string()).await;
    }

    /// Sends `msg` (with `v: 1`); false once the server has closed the socket.
    pub async fn try_send(&mut self, mut msg: Value) -> bool {
        if msg.get("v").is_none() {
            msg["v"] = json!(1);
        }
        self.ws.send(Frame::text(msg.to_string())).await.is_ok()
    }

    /// Answers the server's close and ends the connection, as a browser does.
    pub async fn gone(mut self) {
        let _ = self.ws.send(Frame::close(yawc::close::CloseCode::Normal, b"")).await;
        let _ = futures::SinkExt::flush(&mut self.ws).await;
        // Wait for the server to drop its end.
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while self.ws.next().await.is_some() {} }).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Frame::text(text.to_owned())).await.unwrap();
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws.send(Frame::binary(data)).await.unwrap();
    }

    /// The next frame that is not a ping/pong, within 5 s.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let f = tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await.expect("no frame within 5 s")?;
            if !matches!(f.opcode(), OpCode::Ping | OpCode::Pong) {
                return Some(f);
            }
        }
    }

    /// The next JSON message.
    pub async fn recv(&mut self) -> Value {
        let f = self.next_frame().await.expect("socket closed");
        assert_eq!(f.opcode(), OpCode::Text, "expected a text frame, got {:?} {:?}", f.opcode(), f.close_reason());
        let v: Value = serde_json::from_slice(f.payload()).unwrap();
        assert_eq!(v["v"], 1, "every frame carries the version: {v}");
        v
    }

    /// The next message of type `t`, skipping others.
    pub async fn recv_type(&mut self, t: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["t"] == t {
                return v;
            }
            if v["t"] == "error" && t != "error" {
                panic!("expected `{t}`, got error {v}");
            }
        }
    }

    /// The next binary frame, skipping text frames.
    pub async fn recv_binary(&mut self) -> bytes::Bytes {
        loop {
            let f = self.next_frame().await.expect("socket closed");
            if f.opcode() == OpCode::Binary {
                return f.into_payload();
            }
        }
    }

    /// Expects the socket to close; returns the close code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.next_frame().await {
                Some(f) if f.opcode() == OpCode::Close => {
                    let code = f.close_code().map(u16::from).unwrap_or(1005);
                    return (code, f.close_reason().ok().flatten().unwrap_or_default().to_owned());
                }
                Some(_) => continue,
                None => return (1006, String::new()),
            }
        }
    }

    /// Asserts nothing but pings arrives for `ms`.
    pub async fn expect_silence(&mut self, ms: u64) {
        match tokio::time::timeout(Duration::from_millis(ms), self.ws.next()).await {
            Err(_) => {}
            Ok(Some(f)) if matches!(f.opcode(), OpCode::Ping | OpCode::Pong) => {}
            Ok(other) => panic!("expected silence, got {:?}", other.map(|f| String::from_utf8_lossy(f.payload()).into_owned())),
        }
    }
}

/// Files under `dir` (recursively) whose bytes contain `needle`.
#[allow(dead_code)] // not every test binary reads the data dir
pub fn grep_dir(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}
