//! `chatcast-bench`: the server-side load generator of issue 4. It drives the
//! real `chatcast` binary (and, for comparison, a socket.io room relay in Node)
//! over loopback with real WebSocket clients, and prints its figures as ONE
//! JSON object on stdout (progress on stderr).
//!
//! Scenarios, each bounded in count and time:
//! - `relay`: N broadcasts (visitor → server → one viewer), the offered rate
//!   ramped until p99 added latency passes 5 ms;
//! - `idle`: N idle visitor connections; server memory per connection, with
//!   permessage-deflate offered (as Chromium does) and not;
//! - `connections`: N visitor connections held while chat round trips are timed;
//! - `cluster`: three nodes on PostgreSQL and Redis: relay latency across
//!   nodes against one node in the same run, presence churn, memory per idle
//!   visitor with the Redis engine, failover after SIGKILL (see [`cluster`]);
//! - `soak`: ordinary load (visitors chatting and churning, broadcasts
//!   watched, consoles) for a bounded time while the attacks of
//!   docs/security.md come at a low rate: nothing lost, memory flat.
//!
//! Per core: the server runs under `taskset -c 0` with one worker thread, this
//! process pins itself to core 1 and runs a single-threaded runtime.

mod chatcast;
mod cluster;
mod frames;
mod relay;
mod server;
mod soak;
mod socketio;
mod stats;
mod sys;
mod ws;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::server::{Launch, Server};
use crate::ws::ClientOpts;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "chatcast-bench",
    about = "Load generator: relay throughput, idle memory, held connections (chatcast vs socket.io)"
)]
struct Cli {
    /// Every scenario tiny (a few hundred connections, seconds): checks that they run, not how fast.
    #[arg(long)]
    smoke: bool,
    /// Scenarios to run, comma-separated: relay, idle, connections, cluster, soak.
    #[arg(long, value_delimiter = ',', default_value = "relay,idle,connections,cluster,soak")]
    scenarios: Vec<String>,
    /// Servers to measure, comma-separated: chatcast, socketio.
    #[arg(long, value_delimiter = ',', default_value = "chatcast,socketio")]
    targets: Vec<String>,
    /// The chatcast binary [default: `chatcast` beside this binary].
    #[arg(long)]
    chatcast_bin: Option<PathBuf>,
    /// The socket.io relay script [default: bench/socketio/server.js of this repository].
    #[arg(long)]
    socketio_script: Option<PathBuf>,
    /// Node.js to run it with.
    #[arg(long, default_value = "node")]
    node: String,
    /// Flags for Node. One core: V8's parallel GC helpers would only compete with the relay thread.
    #[arg(long, value_delimiter = ' ', default_value = "--single-threaded-gc")]
    node_flags: Vec<String>,
    /// Broadcasts at once in `relay` [default: 1000; smoke 20].
    #[arg(long)]
    broadcasts: Option<usize>,
    /// Offered rates in `relay`, frames/s over all broadcasts, comma-separated, tried in order.
    #[arg(long, value_delimiter = ',')]
    rates: Option<Vec<f64>>,
    /// Seconds measured per rate [default: 5; smoke 1].
    #[arg(long)]
    step_secs: Option<f64>,
    /// Seconds before measuring at each rate [default: 1; smoke 0.3].
    #[arg(long)]
    warmup_secs: Option<f64>,
    /// Body size of a screen frame, bytes.
    #[arg(long, default_value_t = 200)]
    body_bytes: usize,
    /// p99 added latency a rate must keep, ms.
    #[arg(long, default_value_t = 5.0)]
    p99_limit_ms: f64,
    /// Broadcasts in `cluster`'s relay part, each watched on its node and on another [default: 20; smoke 2].
    #[arg(long)]
    cluster_broadcasts: Option<usize>,
    /// Frames/s offered over them in `cluster` [default: 2000; smoke 100].
    #[arg(long)]
    cluster_rate: Option<f64>,
    /// Idle visitor connections in `idle` [default: 10000; smoke 200].
    #[arg(long)]
    idle: Option<usize>,
    /// Visitor connections held in `connections` [default: 10000; smoke 200].
    #[arg(long)]
    connections: Option<usize>,
    /// Chat round trips timed while they are held [default: 500; smoke 10].
    #[arg(long)]
    round_trips: Option<usize>,
    /// Seconds the soak runs [default: 600; smoke 12].
    #[arg(long)]
    soak_secs: Option<f64>,
    /// The soak's attacks, in turn, comma-separated (empty: none).
    #[arg(long, value_delimiter = ',', default_value = "flood,logins,half_open,ignore_keyframes")]
    soak_attacks: Vec<String>,
    /// Do not offer permessage-deflate in `relay` and `connections` (`idle` measures both ways anyway).
    #[arg(long)]
    no_deflate: bool,
    /// Do not pin: server and generator share every core (the server's worker threads default to one per core).
    #[arg(long)]
    no_pin: bool,
    /// Core for the server.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    /// Core for this generator.
    #[arg(long, default_value_t = 1)]
    generator_core: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Also write the JSON there.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cores this process could use at start (before pinning itself).
    #[arg(skip)]
    cores: usize,
}

impl Cli {
    fn pick<T: Copy>(&self, set: Option<T>, full: T, smoke: T) -> T {
        set.unwrap_or(if self.smoke { smoke } else { full })
    }
    fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }
    fn targets(&self, t: &str) -> bool {
        self.targets.iter().any(|s| s == t)
    }
    fn pinned(&self) -> bool {
        !self.no_pin && self.cores > self.server_core.max(self.generator_core)
    }
    fn launch(&self, env: &[(&str, &str)]) -> Launch {
        let pinned = self.pinned();
        Launch {
            core: pinned.then_some(self.server_core),
            worker_threads: if pinned { 1 } else { 0 },
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }
    fn sio_core(&self) -> Option<usize> {
        self.pinned().then_some(self.server_core)
    }
}

fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    cli.cores = sys::cores();
    let open_files = sys::raise_open_files_limit();
    let pinned = cli.pinned();
    if pinned {
        sys::pin_self(cli.generator_core)?;
    }
    // One core: a single-threaded runtime, no cross-thread wake-ups.
    let rt = if pinned {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?
    };
    let out = rt.block_on(run(cli.clone(), open_files))?;
    let text = serde_json::to_string_pretty(&out)?;
    if let Some(path) = &cli.out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("{text}");
    if out["meta"]["errors"].as_object().is_some_and(|e| !e.is_empty()) {
        std::process::exit(1);
    }
    Ok(())
}

fn default_chatcast_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.with_file_name("chatcast"))
}

fn default_socketio_script() -> PathBuf {
    // target/{debug,release}/chatcast-bench → the repository root.
    let from_exe =
        std::env::current_exe().ok().and_then(|e| e.parent()?.parent()?.parent().map(|r| r.join("bench/socketio/server.js")));
    match from_exe {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from("bench/socketio/server.js"),
    }
}

struct Run {
    chatcast_bin: PathBuf,
    socketio_script: PathBuf,
    raw: serde_json::Map<String, Value>,
    errors: serde_json::Map<String, Value>,
    timings: serde_json::Map<String, Value>,
    load: serde_json::Map<String, Value>,
}

impl Run {
    /// Runs one scenario for one target, keeping its result or its error.
    async fn scenario<F>(&mut self, name: &str, f: F)
    where
        F: Future<Output = anyhow::Result<Value>>,
    {
        let t = Instant::now();
        let load0 = sys::load_average();
        eprintln!("[bench] {name}…");
        match f.await {
            Ok(v) => {
                self.raw.insert(name.into(), v);
            }
            Err(e) => {
                eprintln!("[bench] {name} failed: {e:#}");
                self.errors.insert(name.into(), json!(format!("{e:#}")));
            }
        }
        self.timings.insert(name.into(), json!(stats::round(t.elapsed().as_secs_f64(), 1)));
        self.load.insert(name.into(), json!([load0, sys::load_average()]));
        eprintln!("[bench] {name} done in {:.1} s", t.elapsed().as_secs_f64());
    }
}

async fn run(cli: Cli, open_files: u64) -> anyhow::Result<Value> {
    let chatcast_bin = match &cli.chatcast_bin {
        Some(p) => p.clone(),
        None => default_chatcast_bin()?,
    };
    if cli.targets("chatcast") && !chatcast_bin.is_file() {
        bail!("no chatcast binary at {} (build it, or pass --chatcast-bin)", chatcast_bin.display());
    }
    let socketio_script = cli.socketio_script.clone().unwrap_or_else(default_socketio_script);
    let started = Instant::now();
    let mut r = Run {
        chatcast_bin,
        socketio_script,
        raw: Default::default(),
        errors: Default::default(),
        timings: Default::default(),
        load: Default::default(),
    };
    let deflate = ClientOpts { deflate: !cli.no_deflate };

    if cli.wants("relay") {
        let ramp = relay::Ramp {
            rates: cli.rates.clone().unwrap_or_else(|| {
                if cli.smoke {
                    vec![400.0, 800.0]
                } else {
                    // 5k steps up to 60k (where the 50k target is decided), wider after.
                    [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 70, 80, 100, 120].iter().map(|k| *k as f64 * 1000.0).collect()
                }
            }),
            step: Duration::from_secs_f64(cli.pick(cli.step_secs, 5.0, 1.0)),
            warmup: Duration::from_secs_f64(cli.pick(cli.warmup_secs, 1.0, 0.3)),
            drain: Duration::from_millis(300),
            p99_limit_ms: cli.p99_limit_ms,
            body_bytes: cli.body_bytes,
        };
        let n = cli.pick(cli.broadcasts, 1000, 20);
        if cli.targets("chatcast") {
            let (bin, c) = (r.chatcast_bin.clone(), cli.clone());
            let ramp = ramp.clone();
            r.scenario("relay_chatcast", async move {
                // Viewers open after every broadcast is live (see chatcast::broadcasts):
                // the grace before an unwatched broadcast stops must outlast the setup.
                let mut server = Server::chatcast(&bin, &c.launch(&[("CHATCAST_BROADCAST_IDLE_GRACE_SECS", "3600")])).await?;
                let res = async {
                    let links = chatcast::broadcasts(&server, n, c.concurrency.min(32), deflate).await?;
                    let mem = server.memory()?;
                    let mut v = relay::run(links, &ramp, &mut server, "chatcast relay").await;
                    v["server_memory_with_broadcasts"] = json!(mem);
                    anyhow::Ok(v)
                }
                .await;
                if res.is_err() {
                    eprintln!("{}", server.log_tail());
                }
                server.stop().await;
                res
            })
            .await;
        }
        if cli.targets("socketio") {
            let (script, c) = (r.socketio_script.clone(), cli.clone());
            r.scenario("relay_socketio", async move {
                let mut server = Server::socketio(&c.node, &script, &c.node_flags, c.sio_core()).await?;
                let res = async {
                    let links = socketio::broadcasts(server.addr, n, c.concurrency, deflate).await?;
                    let mem = server.memory()?;
                    let mut v = relay::run(links, &ramp, &mut server, "socket.io relay").await;
                    v["server_memory_with_broadcasts"] = json!(mem);
                    anyhow::Ok(v)
                }
                .await;
                server.stop().await;
                res
            })
            .await;
        }
    }

    if cli.wants("idle") {
        let n = cli.pick(cli.idle, 10_000, 200);
        for deflate in [true, false] {
            let suffix = if deflate { "" } else { "_no_deflate" };
            let opts = ClientOpts { deflate };
            if cli.targets("chatcast") {
                let (bin, c) = (r.chatcast_bin.clone(), cli.clone());
                r.scenario(&format!("idle_chatcast{suffix}"), async move {
                    let server = Server::chatcast(&bin, &c.launch(&[])).await?;
                    let res = idle(&server, n, c.concurrency, opts, Side::Chatcast, c.smoke).await;
                    server.stop().await;
                    res
                })
                .await;
            }
            if cli.targets("socketio") {
                let (script, c) = (r.socketio_script.clone(), cli.clone());
                r.scenario(&format!("idle_socketio{suffix}"), async move {
                    let server = Server::socketio(&c.node, &script, &c.node_flags, c.sio_core()).await?;
                    let res = idle(&server, n, c.concurrency, opts, Side::SocketIo, c.smoke).await;
                    server.stop().await;
                    res
                })
                .await;
            }
        }
    }

    if cli.wants("connections") && cli.targets("chatcast") {
        let n = cli.pick(cli.connections, 10_000, 200);
        let rounds = cli.pick(cli.round_trips, 500, 10);
        let (bin, c) = (r.chatcast_bin.clone(), cli.clone());
        r.scenario("connections_chatcast", async move {
            let server = Server::chatcast(&bin, &c.launch(&[])).await?;
            let res = connections(&server, n, rounds, c.concurrency, deflate).await;
            if res.is_err() {
                eprintln!("{}", server.log_tail());
            }
            server.stop().await;
            res
        })
        .await;
    }

    if cli.wants("cluster") && cli.targets("chatcast") {
        let plan = cluster::Plan {
            broadcasts: cli.pick(cli.cluster_broadcasts, 20, 2),
            rate: cli.pick(cli.cluster_rate, 2000.0, 100.0),
            relay_secs: cli.pick(None, 10.0, 1.0),
            churn_secs: cli.pick(None, 10.0, 1.0),
            churn_workers: cli.pick(None, 16, 2),
            idle: cli.pick(None, 2000, 50),
            kills: cli.pick(None, 6, 1),
        };
        let bin = r.chatcast_bin.clone();
        r.scenario("cluster", async move { cluster::run(&bin, &plan).await }).await;
    }

    if cli.wants("soak") && cli.targets("chatcast") {
        let secs = cli.pick(cli.soak_secs, 600.0, 12.0);
        let plan = soak::Plan {
            duration: Duration::from_secs_f64(secs),
            warmup: Duration::from_secs_f64(secs / 5.0),
            visitors: cli.pick(None, 1000, 50),
            broadcasts: cli.pick(None, 50, 5),
            consoles: cli.pick(None, 10, 2),
            churn_per_sec: cli.pick(None, 5, 2),
            messages_per_sec: cli.pick(None, 20.0, 10.0),
            fps: 10.0,
            attack_every: Duration::from_secs_f64(cli.pick(None, 15.0, 1.0)),
            flat_ratio: 1.10,
            attacks: cli.soak_attacks.iter().filter(|a| !a.is_empty()).cloned().collect(),
        };
        let (bin, c) = (r.chatcast_bin.clone(), cli.clone());
        r.scenario("soak_chatcast", async move {
            // The per-socket limits as shipped (the load stays under them; the
            // flood attack meets them); the per-address ones stay lifted, since
            // every simulated visitor comes from 127.0.0.1.
            let env = [
                ("CHATCAST_BROADCAST_IDLE_GRACE_SECS", "3600"),
                ("CHATCAST_VISITOR_FRAMES_BURST", "120"),
                ("CHATCAST_VISITOR_FRAMES_PER_MINUTE", "600"),
                ("CHATCAST_VISITOR_MESSAGES_BURST", "20"),
                ("CHATCAST_VISITOR_MESSAGES_PER_MINUTE", "60"),
            ];
            let mut server = Server::chatcast(&bin, &c.launch(&env)).await?;
            let res = soak::run(&mut server, &plan, c.concurrency, deflate).await;
            if res.is_err() {
                eprintln!("{}", server.log_tail());
            }
            server.stop().await;
            let v = res?;
            eprintln!(
                "[soak] {} s: {} messages ({} acked), {} frames ({} delivered), attacks: {}, RSS mean {} kB after the warm-up, {} kB in the last fifth (peak {} kB); trouble: {}",
                v["seconds"], v["messages_sent"], v["messages_acked"], v["frames_sent"], v["frames_delivered"],
                v["attacks"].as_array().map_or(0, Vec::len), v["rss_kb"]["mean_after_warmup"], v["rss_kb"]["mean_last_fifth"],
                v["rss_kb"]["peak_after_warmup"], v["trouble"]
            );
            anyhow::Ok(v)
        })
        .await;
        // Judged after it is kept, so that a failing run's figures are in the output too.
        if let Some(v) = r.raw.get("soak_chatcast") {
            if v["ok"] != true {
                r.errors.insert("soak_chatcast".into(), json!(format!("the soak found trouble: {}", v["trouble"])));
            } else if !cli.smoke && v["memory_flat"] != true {
                r.errors.insert("soak_chatcast".into(), json!(format!("memory grew after the warm-up: {}", v["rss_kb"])));
            }
        }
    }

    let figures = figures(&r.raw, &cli);
    let Run { raw, errors, timings, load, chatcast_bin, socketio_script, .. } = r;
    Ok(json!({
        "meta": {
            "tool": "chatcast-bench",
            "mode": if cli.smoke { "smoke" } else { "full" },
            "cores": cli.cores,
            "pinned": cli.pinned().then(|| json!({ "server_core": cli.server_core, "server_worker_threads": 1, "generator_core": cli.generator_core, "generator_runtime": "current_thread" })),
            "chatcast_bin": chatcast_bin.display().to_string(),
            "socketio_script": socketio_script.display().to_string(),
            "node_flags": cli.node_flags,
            "deflate_offered": !cli.no_deflate,
            "open_files_limit": open_files,
            "netdev_max_backlog": sys::netdev_max_backlog(),
            "seconds": timings,
            "total_seconds": stats::round(started.elapsed().as_secs_f64(), 1),
            "load_avg": load,
            "errors": errors,
        },
        "figures": figures,
        "raw": raw,
    }))
}

#[derive(Clone, Copy)]
enum Side {
    Chatcast,
    SocketIo,
}

/// Server memory per idle connection: RSS before, N connections opened and settled, RSS after.
async fn idle(server: &Server, n: usize, concurrency: usize, opts: ClientOpts, side: Side, smoke: bool) -> anyhow::Result<Value> {
    // The smoke checks that it runs: short pauses.
    let pause = Duration::from_millis(if smoke { 300 } else { 2000 });
    let tick = Duration::from_millis(if smoke { 300 } else { 1000 });
    // Warm up first, so that one-time allocations (statics, pools, first-page
    // caches) are not charged to the connections.
    let open = |n: usize, prefix: &'static str| async move {
        match side {
            Side::Chatcast => chatcast::hold_visitors(server, n, concurrency, opts, prefix).await,
            Side::SocketIo => socketio::hold(server.addr, n, concurrency, opts).await,
        }
    };
    let (warm, stop, _, _) = open(50.min(n), "warm-").await?;
    chatcast::release(warm, stop).await;
    tokio::time::sleep(pause).await;
    let before = server.memory()?;
    let (keepers, stop, closed, took) = open(n, "idle-").await?;
    // Settle: until RSS stops moving (≤ 0.5 % in a tick), at most 10 ticks.
    let mut after = server.memory()?;
    for _ in 0..10 {
        tokio::time::sleep(tick).await;
        let now = server.memory()?;
        let still = (now.rss_kb as f64 - after.rss_kb as f64).abs() <= after.rss_kb as f64 * 0.005;
        after = now;
        if still {
            break;
        }
    }
    let held = n as u64 - closed.load(std::sync::atomic::Ordering::Relaxed);
    chatcast::release(keepers, stop).await;
    let per = |a: u64, b: u64| stats::round((a as f64 - b as f64) * 1024.0 / n as f64, 0);
    Ok(json!({
        "connections": n,
        "held": held,
        "deflate_offered": opts.deflate,
        "open_seconds": stats::round(took.as_secs_f64(), 2),
        "before": before,
        "after": after,
        "rss_bytes_per_connection": per(after.rss_kb, before.rss_kb),
        "anon_bytes_per_connection": per(after.anon_kb, before.anon_kb),
    }))
}

/// N visitor connections held; chat round trips timed meanwhile.
async fn connections(server: &Server, n: usize, rounds: usize, concurrency: usize, opts: ClientOpts) -> anyhow::Result<Value> {
    let cookie = server::login(server.addr).await?;
    // The consultant is there before the crowd (and sees every visitor arrive).
    let mut watcher = ws::Actor::spawn(chatcast::console(server.addr, &cookie, opts).await?);
    let drain = tokio::spawn(async move {
        let mut frames = 0u64;
        while watcher.rx.recv().await.is_some() {
            frames += 1;
        }
        frames
    });
    let mem0 = server.memory()?;
    let (keepers, stop, closed, took) = chatcast::hold_visitors(server, n, concurrency, opts, "held-").await?;
    let mem1 = server.memory()?;
    let chat = chatcast::chat_round_trips(server, &cookie, 10.min(rounds.max(1)), rounds, opts).await?;
    let closed_n = closed.load(std::sync::atomic::Ordering::Relaxed);
    let held = n as u64 - closed_n;
    chatcast::release(keepers, stop).await;
    drain.abort();
    Ok(json!({
        "connections": n,
        "held_while_chatting": held,
        "closed_by_server": closed_n,
        "open_seconds": stats::round(took.as_secs_f64(), 2),
        "opened_per_second": stats::round(n as f64 / took.as_secs_f64(), 0),
        "server_memory_before": mem0,
        "server_memory_held": mem1,
        "chat": chat,
    }))
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The headline figures, each beside its comparison.
fn figures(raw: &serde_json::Map<String, Value>, cli: &Cli) -> Value {
    let mut out = serde_json::Map::new();
    let get = |k: &str| raw.get(k);
    let n = cli.pick(cli.broadcasts, 1000, 20);
    if let Some(c) = get("relay_chatcast") {
        let value = f(&c["best_delivered_fps"]).unwrap_or(0.0);
        let sio = get("relay_socketio").and_then(|s| f(&s["best_delivered_fps"]));
        out.insert(
            "relay_frames_per_s_per_core".into(),
            stats::figure(
                value,
                "frames/s",
                &format!("≥ 50000 at p99 added latency ≤ {} ms, 1000 broadcasts", cli.p99_limit_ms),
                (n >= 1000 && cli.pinned()).then_some(value >= 50_000.0),
                sio.map(|s| ("socket.io 4.8 room relay, same load", s)),
            ),
        );
        // What one core sustains by the server's own CPU time per relayed frame
        // (at the best step): independent of whatever else shares the core,
        // and of a generator that runs out of its own core first.
        let capacity = |r: &Value| f(&r["best"]["server_us_per_frame"]).filter(|us| *us > 0.0).map(|us| 1e6 / us);
        if let Some(cap) = capacity(c) {
            let sio = get("relay_socketio").and_then(capacity);
            out.insert(
                "relay_frames_per_server_cpu_second".into(),
                stats::figure(
                    cap,
                    "frames/s",
                    "≥ 50000 (1e6 ÷ server CPU µs per frame)",
                    Some(cap >= 50_000.0),
                    sio.map(|s| ("socket.io 4.8 room relay", s)),
                ),
            );
        }
        let best = &c["best"]["latency"];
        for (q, key) in [("p50", "p50_ms"), ("p99", "p99_ms"), ("p999", "p999_ms"), ("max", "max_ms")] {
            if let Some(v) = f(&best[key]) {
                let sio = get("relay_socketio").and_then(|s| f(&s["best"]["latency"][key]));
                out.insert(
                    format!("relay_added_latency_{q}_ms_at_best"),
                    stats::figure(
                        v,
                        "ms",
                        "p99 ≤ 5",
                        (q == "p99").then_some(v <= cli.p99_limit_ms),
                        sio.map(|s| ("socket.io at its own best rate", s)),
                    ),
                );
            }
        }
    }
    for suffix in ["", "_no_deflate"] {
        if let Some(c) = get(&format!("idle_chatcast{suffix}")) {
            let value = f(&c["rss_bytes_per_connection"]).unwrap_or(0.0) / 1000.0;
            let sio = get(&format!("idle_socketio{suffix}")).and_then(|s| f(&s["rss_bytes_per_connection"])).map(|b| b / 1000.0);
            out.insert(
                format!("idle_server_kb_per_visitor_connection{suffix}"),
                stats::figure(value, "KB", "≤ 10", Some(value <= 10.0), sio.map(|s| ("socket.io 4.8, idle connection", s))),
            );
        }
    }
    if let Some(c) = get("connections_chatcast") {
        let held = f(&c["held_while_chatting"]).unwrap_or(0.0);
        let want = cli.pick(cli.connections, 10_000, 200) as f64;
        out.insert(
            "connections_held".into(),
            stats::figure(held, "connections", "10000, chat still answering", Some(held >= want.min(10_000.0)), None),
        );
        if let Some(p99) = f(&c["chat"]["round_trip"]["p99_ms"]) {
            out.insert("chat_round_trip_p99_ms_while_held".into(), stats::figure(p99, "ms", "chat still answering", None, None));
        }
        if let Some(s) = f(&c["open_seconds"]) {
            out.insert("connections_open_seconds".into(), stats::figure(s, "s", "—", None, None));
        }
    }
    Value::Object(out)
}
