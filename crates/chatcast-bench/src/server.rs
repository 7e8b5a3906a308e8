//! The servers under test, as real processes: the `chatcast` binary on a
//! fresh data dir, or the socket.io room relay in Node. Each listens on a
//! port-0 loopback listener, so every scenario gets fresh TCP four-tuples
//! (no TIME_WAIT collisions with the scenario before).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::sys;

/// The admin account the bench creates on each chatcast server.
pub const ADMIN_EMAIL: &str = "bench@example.com";
/// Its password.
pub const ADMIN_PASSWORD: &str = "bench-password";
/// The origin the bench site allows: the "website" the visitors are on.
pub const SITE_ORIGIN: &str = "http://shop.bench.test";

/// How a server process is started.
#[derive(Clone, Debug)]
pub struct Launch {
    /// Run it under `taskset -c CORE`.
    pub core: Option<usize>,
    /// chatcast's tokio worker threads (`CHATCAST_WORKER_THREADS`).
    pub worker_threads: usize,
    /// Extra `CHATCAST_*` settings.
    pub env: Vec<(String, String)>,
}

/// A running server.
pub struct Server {
    child: Child,
    /// Its process id (taskset execs the server, so this is the server itself).
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The bench site's key (chatcast only).
    pub site_key: String,
    dir: PathBuf,
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

pub(crate) fn fresh_dir(what: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "chatcast-bench-{}-{what}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn command(core: Option<usize>, program: &Path) -> Command {
    match core {
        Some(core) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    }
}

impl Server {
    /// Starts `chatcast serve` on a fresh data dir with one site and one admin.
    pub async fn chatcast(bin: &Path, launch: &Launch) -> anyhow::Result<Server> {
        let dir = fresh_dir("chatcast")?;
        let out = Command::new(bin)
            .args(["site", "add", "--name", "Bench shop", "--origin", SITE_ORIGIN, "--data-dir"])
            .arg(&dir)
            .env("CHATCAST_LOG", "warn")
            .output()
            .await
            .with_context(|| format!("cannot run {}", bin.display()))?;
        if !out.status.success() {
            bail!("chatcast site add failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let site_key = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_owned();
        let mut cmd = command(launch.core, bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("CHATCAST_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CHATCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CHATCAST_LOG", std::env::var("CHATCAST_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .env("CHATCAST_WORKER_THREADS", launch.worker_threads.to_string());
        // Every simulated visitor comes from 127.0.0.1 here: one address standing
        // for thousands, so the per-address and per-socket limits (meant for one
        // real client) are lifted; the soak's attacks run against a server with
        // its defaults.
        lift_visitor_limits(&mut cmd);
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let (child, addr) = spawn_and_read_addr(cmd, &dir, "chatcast listening on http://").await?;
        let pid = child.id().context("server exited at once")?;
        eprintln!("[bench] chatcast server pid {pid} on {addr}");
        Ok(Server { child, pid, addr, site_key, dir })
    }

    /// Starts the socket.io relay (`bench/socketio/server.js`) under Node.
    pub async fn socketio(node: &str, script: &Path, node_flags: &[String], core: Option<usize>) -> anyhow::Result<Server> {
        let dir = fresh_dir("socketio")?;
        let node_path = which(node).with_context(|| format!("{node} not found on PATH"))?;
        let mut cmd = command(core, &node_path);
        cmd.args(node_flags).arg(script);
        let (child, addr) = spawn_and_read_addr(cmd, &dir, "socketio listening on http://").await?;
        let pid = child.id().context("node exited at once")?;
        eprintln!("[bench] socket.io server pid {pid} on {addr}");
        Ok(Server { child, pid, addr, site_key: String::new(), dir })
    }

    /// The server's memory now.
    pub fn memory(&self) -> anyhow::Result<sys::Memory> {
        sys::memory(self.pid)
    }

    /// CPU seconds the server used so far.
    pub fn cpu_seconds(&self) -> f64 {
        sys::cpu_seconds(self.pid)
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the server's log (for error reports).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops it with SIGTERM (chatcast closes its sockets with 1001), then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Lifts the per-address and per-socket visitor limits of a chatcast process:
/// the bench's one address stands for thousands of visitors.
pub(crate) fn lift_visitor_limits(cmd: &mut Command) {
    for k in [
        "CHATCAST_VISITOR_SOCKETS_PER_ADDRESS",
        "CHATCAST_NEW_VISITORS_PER_ADDRESS_PER_MINUTE",
        "CHATCAST_VISITOR_FRAMES_BURST",
        "CHATCAST_VISITOR_FRAMES_PER_MINUTE",
        "CHATCAST_VISITOR_MESSAGES_BURST",
        "CHATCAST_VISITOR_MESSAGES_PER_MINUTE",
    ] {
        cmd.env(k, "1000000000");
    }
}

/// Spawns `cmd` with stderr to `dir/server.log` and waits (≤ 30 s) for its stdout line `prefix ADDR`.
pub(crate) async fn spawn_and_read_addr(mut cmd: Command, dir: &Path, prefix: &str) -> anyhow::Result<(Child, SocketAddr)> {
    let log = std::fs::File::create(dir.join("server.log"))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).kill_on_drop(true);
    let mut child = cmd.spawn().context("cannot start the server")?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().trim_end_matches('/').parse::<SocketAddr>()?);
            }
        }
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        bail!("the server exited before listening:\n{log}")
    })
    .await
    .context("the server did not say where it listens within 30 s")??;
    // Keep reading stdout so that the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// Logs in on a chatcast server (one POST, as the console does) and returns the cookie pair.
pub async fn login(addr: SocketAddr) -> anyhow::Result<String> {
    let body = serde_json::json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await?;
    let text = String::from_utf8_lossy(&resp);
    let status = text.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("login failed: {status}");
    }
    text.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie").then(|| value.trim().split(';').next().unwrap_or_default().to_owned())
        })
        .context("login answered without a cookie")
}
