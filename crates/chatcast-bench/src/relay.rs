//! The relay ramp, common to both servers: N broadcasts (a visitor sending
//! screen frames, a viewer receiving them), the offered rate raised step by
//! step. Each broadcast is one task owning its sockets; the added latency of
//! a frame is its viewer's arrival time minus the send time stamped in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::frames::{self, Bodies};
use crate::server::Server;
use crate::stats;
use crate::{chatcast, socketio, sys};

/// What a broadcast's sockets produced.
pub enum Got {
    /// A screen frame reached the viewer; it was sent at this time (ns, see [`frames::now_ns`]).
    Frame(u64),
    /// The server wants something answered (a keyframe, a socket.io pong).
    Answer(Answer),
    /// Nothing the ramp cares about.
    Other,
    /// A socket closed: why.
    Closed(String),
}

/// A reply a broadcast owes the server.
pub enum Answer {
    /// chatcast asked the agent for a fresh keyframe.
    Keyframe,
    /// socket.io pinged the visitor (`true`) or viewer socket: answer `3`.
    SioPong(bool),
}

/// One broadcast's sockets.
// A thousand of these at most, each living for the whole run: boxing the large
// variant would save nothing worth an indirection per frame.
#[allow(clippy::large_enum_variant)]
pub enum Link {
    /// chatcast: the visitor's chat socket, its screen socket (if the server has them), the viewer's console socket.
    Chatcast(chatcast::Link),
    /// socket.io: the visitor's and the viewer's sockets.
    SocketIo(socketio::Link),
}

impl Link {
    /// The next thing that arrived on any of the sockets. Only reads, so it can
    /// be dropped at any point (it runs inside `select!`).
    pub(crate) async fn next(&mut self) -> Got {
        match self {
            Link::Chatcast(l) => l.next().await,
            Link::SocketIo(l) => l.next().await,
        }
    }

    pub(crate) async fn send_frame(&mut self, bodies: &Bodies, seq: u32, sent_ns: u64) -> anyhow::Result<()> {
        match self {
            Link::Chatcast(l) => l.send_frame(bodies, seq, sent_ns).await,
            Link::SocketIo(l) => l.send_frame(bodies, seq, sent_ns).await,
        }
    }

    pub(crate) async fn answer(&mut self, a: Answer, seq: u32) -> anyhow::Result<()> {
        match self {
            Link::Chatcast(l) => l.answer(a, seq).await,
            Link::SocketIo(l) => l.answer(a).await,
        }
    }
}

/// The ramp's plan.
#[derive(Clone, Debug)]
pub struct Ramp {
    /// Offered rates, frames/s over all broadcasts, in order.
    pub rates: Vec<f64>,
    /// Measured part of each step.
    pub step: Duration,
    /// Part of each step before measuring (queues and caches settle).
    pub warmup: Duration,
    /// Wait after each step for frames still in flight.
    pub drain: Duration,
    /// The p99 added latency a rate must keep to count.
    pub p99_limit_ms: f64,
    /// Body size of a screen frame.
    pub body_bytes: usize,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    idx: usize,
    rate: f64,
    start: Instant,
    warm: Instant,
    end: Instant,
}

struct Shared {
    /// Per step: send-time window [warm, end) in ns, histogram, frames sent and received in it.
    windows: Mutex<Vec<(u64, u64)>>,
    hist: Mutex<Vec<Histogram<u64>>>,
    sent: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    missed: Vec<AtomicU64>,
    closed: AtomicU64,
    keyframes: AtomicU64,
}

fn ns_of(t: Instant) -> u64 {
    let now = Instant::now();
    let now_ns = frames::now_ns();
    if t >= now { now_ns + (t - now).as_nanos() as u64 } else { now_ns.saturating_sub((now - t).as_nanos() as u64) }
}

/// Runs the ramp over `links` against `server`; returns the steps and the best rate.
pub async fn run(links: Vec<Link>, ramp: &Ramp, server: &mut Server, label: &str) -> Value {
    let n = links.len();
    let steps = ramp.rates.len();
    let shared = Arc::new(Shared {
        windows: Mutex::new(Vec::new()),
        hist: Mutex::new((0..steps).map(|_| stats::histogram()).collect()),
        sent: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        received: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        missed: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        closed: AtomicU64::new(0),
        keyframes: AtomicU64::new(0),
    });
    let (tx, rx) = watch::channel::<Option<Step>>(None);
    let mut tasks = Vec::with_capacity(n);
    for (i, link) in links.into_iter().enumerate() {
        let rx = rx.clone();
        let shared = shared.clone();
        let bodies = Bodies::new(ramp.body_bytes, 16, i as u64 + 1);
        tasks.push(tokio::spawn(broadcast(i, n, link, bodies, rx, shared)));
    }
    drop(rx);

    let mut out = Vec::new();
    let mut fails = 0;
    let window = ramp.step.as_secs_f64();
    for (idx, &rate) in ramp.rates.iter().enumerate() {
        let start = Instant::now() + Duration::from_millis(100);
        let warm = start + ramp.warmup;
        let end = warm + ramp.step;
        shared.windows.lock().unwrap().push((ns_of(warm), ns_of(end)));
        tx.send_replace(Some(Step { idx, rate, start, warm, end }));
        tokio::time::sleep_until(warm).await;
        let (cpu0, me0, load0) = (server.cpu_seconds(), sys::cpu_seconds(std::process::id()), sys::load_average());
        let (sw0, gw0) = (sys::context_switches(server.pid), sys::context_switches(std::process::id()));
        let net0 = sys::net_trouble();
        tokio::time::sleep_until(end).await;
        let (cpu1, me1) = (server.cpu_seconds(), sys::cpu_seconds(std::process::id()));
        let (sw1, gw1) = (sys::context_switches(server.pid), sys::context_switches(std::process::id()));
        let net1 = sys::net_trouble();
        tokio::time::sleep(ramp.drain).await;
        let sent = shared.sent[idx].load(Ordering::Relaxed);
        let received = shared.received[idx].load(Ordering::Relaxed);
        let missed = shared.missed[idx].load(Ordering::Relaxed);
        let h = shared.hist.lock().unwrap()[idx].clone();
        let p99 = stats::p99_ms(&h);
        let sent_fps = sent as f64 / window;
        let delivered_fps = received as f64 / window;
        // The generator could not keep the offered rate: the step says nothing about the server.
        let generator_limited = sent_fps < 0.97 * rate;
        let delivered_all = received as f64 >= 0.999 * sent as f64;
        let ok = p99 <= ramp.p99_limit_ms && delivered_all && !generator_limited;
        let step = json!({
            "offered_fps": rate,
            "per_broadcast_fps": stats::round(rate / n as f64, 2),
            "sent_fps": stats::round(sent_fps, 1),
            "delivered_fps": stats::round(delivered_fps, 1),
            "lost": sent.saturating_sub(received),
            "missed_send_slots": missed,
            "latency": stats::summary(&h),
            "server_cpu_pct": stats::round((cpu1 - cpu0) / window * 100.0, 1),
            "generator_cpu_pct": stats::round((me1 - me0) / window * 100.0, 1),
            // CPU time per relayed frame: what a core can sustain, whatever else shares it.
            "server_us_per_frame": stats::round((cpu1 - cpu0) * 1e6 / received.max(1) as f64, 2),
            "generator_us_per_frame": stats::round((me1 - me0) * 1e6 / received.max(1) as f64, 2),
            "load_avg": load0,
            // Involuntary switches: another process took the pinned core (the latency tail follows).
            "server_preempted": sw1.1.saturating_sub(sw0.1),
            "generator_preempted": gw1.1.saturating_sub(gw0.1),
            // Machine-wide: loopback packets dropped at a full CPU backlog, TCP retransmissions.
            "backlog_drops": net1.0.saturating_sub(net0.0),
            "tcp_retransmits": net1.1.saturating_sub(net0.1),
            "generator_limited": generator_limited,
            "ok": ok,
        });
        eprintln!("[{label}] {:>8.0} frames/s offered: {step}", rate);
        out.push(step);
        if !server.alive() {
            eprintln!("[{label}] the server died: {}", server.log_tail());
            break;
        }
        fails = if ok { 0 } else { fails + 1 };
        // Two failing steps in a row, a collapse, or a generator at its limit: higher rates say no more.
        if fails >= 2 || (received as f64) < 0.5 * sent as f64 || generator_limited {
            break;
        }
    }
    tx.send_replace(None);
    drop(tx);
    for t in tasks {
        let _ = t.await;
    }
    let best = out
        .iter()
        .filter(|s| s["ok"] == true)
        .max_by(|a, b| a["delivered_fps"].as_f64().unwrap_or(0.0).total_cmp(&b["delivered_fps"].as_f64().unwrap_or(0.0)));
    json!({
        "broadcasts": n,
        "body_bytes": ramp.body_bytes,
        "step_seconds": window,
        "warmup_seconds": ramp.warmup.as_secs_f64(),
        "p99_limit_ms": ramp.p99_limit_ms,
        "best": best.cloned(),
        "best_delivered_fps": best.and_then(|b| b["delivered_fps"].as_f64()).unwrap_or(0.0),
        "steps": out,
        "sockets_closed_during_run": shared.closed.load(Ordering::Relaxed),
        "keyframes_requested": shared.keyframes.load(Ordering::Relaxed),
    })
}

/// One broadcast: sends on the schedule of the current step, records what its viewer gets.
async fn broadcast(
    i: usize,
    n: usize,
    mut link: Link,
    bodies: Bodies,
    mut rx: watch::Receiver<Option<Step>>,
    shared: Arc<Shared>,
) {
    let mut step: Option<Step> = None;
    let mut next_send: Option<Instant> = None;
    let mut period = Duration::ZERO;
    let mut seq: u32 = 1;
    // One timer for the task's life, moved to each send time (a new timer per
    // loop turn would be registered and removed again for every frame received).
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    loop {
        if let Some(t) = next_send
            && sleep.deadline() != t
        {
            sleep.as_mut().reset(t);
        }
        tokio::select! {
            biased;
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                step = *rx.borrow_and_update();
                match step {
                    Some(s) => {
                        period = Duration::from_secs_f64(n as f64 / s.rate);
                        // Broadcasts are spread evenly over the period, as independent tabs would be.
                        next_send = Some(s.start + period.mul_f64(i as f64 / n as f64));
                    }
                    None => break,
                }
            }
            got = link.next() => match got {
                Got::Frame(sent) => {
                    let lat = frames::instant_of(sent).elapsed();
                    let windows = shared.windows.lock().unwrap();
                    if let Some(k) = windows.iter().position(|&(a, b)| sent >= a && sent < b) {
                        drop(windows);
                        shared.received[k].fetch_add(1, Ordering::Relaxed);
                        stats::record(&mut shared.hist.lock().unwrap()[k], lat);
                    }
                }
                Got::Answer(a) => {
                    if matches!(a, Answer::Keyframe) {
                        shared.keyframes.fetch_add(1, Ordering::Relaxed);
                    }
                    seq += 1;
                    if link.answer(a, seq).await.is_err() {
                        shared.closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                Got::Other => {}
                Got::Closed(why) => {
                    eprintln!("broadcast {i}: {why}");
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            },
            _ = &mut sleep, if next_send.is_some() => {
                let s = step.expect("a send is scheduled only during a step");
                let now = Instant::now();
                if now >= s.end {
                    next_send = None;
                    continue;
                }
                let sent = frames::now_ns();
                seq += 1;
                if link.send_frame(&bodies, seq, sent).await.is_err() {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if now >= s.warm {
                    shared.sent[s.idx].fetch_add(1, Ordering::Relaxed);
                }
                let mut t = next_send.expect("scheduled") + period;
                // Behind by more than a period: skip the slots (and count them) rather than burst.
                while t + period < Instant::now() {
                    t += period;
                    if t >= s.warm {
                        shared.missed[s.idx].fetch_add(1, Ordering::Relaxed);
                    }
                }
                next_send = Some(t);
            }
        }
    }
}
