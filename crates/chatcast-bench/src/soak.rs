//! The soak (issue 11): a server under ordinary load for a bounded time —
//! visitors chatting and coming and going, live broadcasts watched, consoles
//! open — while the attacks of `docs/security.md` come at a low rate: a
//! visitor flooding messages, a burst of wrong logins, half-open requests, a
//! broadcast that ignores keyframe requests. It checks that nothing is lost
//! (every message acknowledged and seen by every console, every screen frame
//! delivered), that every attack meets its limit, and that the server's memory
//! is flat after the warm-up.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use yawc::{Frame, OpCode, TcpWebSocket};

use crate::chatcast::{self, console, visitor};
use crate::frames::{self, Bodies};
use crate::relay::{Got, Link};
use crate::server::{ADMIN_EMAIL, Server, login};
use crate::stats;
use crate::ws::{self, ClientOpts};

/// The soak's plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// How long it runs.
    pub duration: Duration,
    /// Memory before this point is the warm-up; after it, it must stay within `flat_ratio`.
    pub warmup: Duration,
    /// Visitors connected at any time (besides the broadcasting ones).
    pub visitors: usize,
    /// Live broadcasts, each watched by its own console socket.
    pub broadcasts: usize,
    /// Consoles open (each sees every message).
    pub consoles: usize,
    /// Visitors leaving (and as many new ones arriving) per second.
    pub churn_per_sec: usize,
    /// Chat messages per second over all visitors.
    pub messages_per_sec: f64,
    /// Screen frames per second per broadcast.
    pub fps: f64,
    /// One attack (in turn) every this long.
    pub attack_every: Duration,
    /// The mean RSS of the run's last fifth may be at most this times the mean of the fifth after the warm-up.
    pub flat_ratio: f64,
    /// Which attacks come (in turn): flood, logins, half_open, ignore_keyframes.
    pub attacks: Vec<String>,
}

/// One connected visitor: a task owns its socket, sends what it is told and counts acks.
struct Visitor {
    tx: mpsc::UnboundedSender<String>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    acked: AtomicU64,
    closed_unexpectedly: AtomicU64,
}

fn spawn_visitor(mut ws: TcpWebSocket, counts: Arc<Counts>) -> Visitor {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(text) => if ws.send(Frame::text(text)).await.is_err() {
                        counts.closed_unexpectedly.fetch_add(1, Ordering::Relaxed);
                        return;
                    },
                    None => {
                        // Leaving (churn, or the end): say goodbye, but first read the
                        // acks of what was just sent, as a tab closing after the send would.
                        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                        while counts.acked.load(Ordering::Relaxed) < counts.sent.load(Ordering::Relaxed) {
                            match tokio::time::timeout_at(deadline, ws.next()).await {
                                Ok(Some(f)) if f.opcode() == OpCode::Text => {
                                    if f.payload().windows(9).any(|w| w == br#""t":"ack""#) {
                                        counts.acked.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                                Ok(Some(f)) if f.opcode() != OpCode::Close => {}
                                _ => break,
                            }
                        }
                        let _ = ws.send(Frame::close(yawc::close::CloseCode::Normal, b"bye")).await;
                        return;
                    }
                },
                f = ws.next() => match f {
                    Some(f) if f.opcode() == OpCode::Text => {
                        if f.payload().windows(9).any(|w| w == br#""t":"ack""#) {
                            counts.acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(f) if f.opcode() == OpCode::Close => {
                        counts.closed_unexpectedly.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Some(_) => {}
                    None => {
                        counts.closed_unexpectedly.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                },
            }
        }
    });
    Visitor { tx, task }
}

/// A console that counts the soak's visitor messages it is sent (by client id, once each), until `stop`.
fn spawn_console(mut ws: TcpWebSocket, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<HashSet<String>> {
    tokio::spawn(async move {
        let mut seen = HashSet::new();
        loop {
            let f = tokio::select! {
                _ = stop.changed() => break,
                f = ws.next() => f,
            };
            let Some(f) = f else { break };
            if f.opcode() == OpCode::Close {
                break;
            }
            if f.opcode() != OpCode::Text || !f.payload().windows(13).any(|w| w == br#""t":"message""#) {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(f.payload())
                && let Some(id) = v["message"]["client_id"].as_str()
                && id.starts_with("soak-")
            {
                seen.insert(id.to_owned());
            }
        }
        seen
    })
}

/// A broadcast sending deltas at `fps` and answering keyframe requests; returns (sent, delivered, trouble).
fn spawn_broadcast(
    mut link: Link,
    fps: f64,
    idx: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<(u64, u64, Vec<String>)> {
    tokio::spawn(async move {
        let bodies = Bodies::new(200, 8, idx as u64 + 1);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps));
        let (mut sent, mut delivered, mut trouble) = (0u64, 0u64, Vec::new());
        let mut seq = 1u32;
        let mut stop = stop;
        let mut draining: Option<tokio::time::Instant> = None;
        loop {
            let drain_end = async {
                match draining {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick(), if draining.is_none() => {
                    if let Err(e) = link.send_frame(&bodies, seq, frames::now_ns()).await {
                        trouble.push(format!("broadcast {idx}: send: {e:#}"));
                        break;
                    }
                    seq += 1;
                    sent += 1;
                }
                got = link.next() => match got {
                    Got::Frame(_) => {
                        delivered += 1;
                        if draining.is_some() && delivered >= sent {
                            break;
                        }
                    }
                    Got::Answer(a) => {
                        seq += 1;
                        if let Err(e) = link.answer(a, seq).await {
                            trouble.push(format!("broadcast {idx}: keyframe: {e:#}"));
                            break;
                        }
                    }
                    Got::Closed(why) => {
                        trouble.push(format!("broadcast {idx}: {why}"));
                        break;
                    }
                    Got::Other => {}
                },
                _ = stop.changed(), if draining.is_none() => {
                    draining = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                    if delivered >= sent {
                        break;
                    }
                }
                _ = drain_end => break,
            }
        }
        (sent, delivered, trouble)
    })
}

/// A visitor that sends 300 messages as fast as it can: the server must refuse most and close it with 4029.
async fn attack_flood(addr: SocketAddr, key: &str, n: u64, opts: ClientOpts) -> anyhow::Result<String> {
    let (mut ws, _) = visitor(addr, key, &format!("flood-{n}"), opts).await?;
    for i in 0..300 {
        let msg = json!({"v": 1, "t": "send", "client_id": format!("flood-{n}-{i}"), "body": "flood"});
        if ws.send(Frame::text(msg.to_string())).await.is_err() {
            break;
        }
        while let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(0), ws.next()).await {
            if f.opcode() == OpCode::Close {
                let code = f.close_code().map(u16::from);
                anyhow::ensure!(code == Some(4029), "flood closed with {code:?}, not 4029");
                return Ok("flood closed with 4029".into());
            }
        }
    }
    loop {
        match ws::next_data(&mut ws, Duration::from_secs(10)).await? {
            Some(f) if f.opcode() == OpCode::Close => {
                let code = f.close_code().map(u16::from);
                anyhow::ensure!(code == Some(4029), "flood closed with {code:?}, not 4029");
                return Ok("flood closed with 4029".into());
            }
            Some(_) => {}
            None => anyhow::bail!("flood: the socket ended without 4029"),
        }
    }
}

/// Twenty concurrent wrong logins from 127.0.0.2: each gets 401, 429 or 503, never a session.
async fn attack_logins(addr: SocketAddr) -> anyhow::Result<String> {
    let tries = (0..20).map(|i| async move {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind("127.0.0.2:0".parse()?)?;
        let mut s = sock.connect(addr).await?;
        let body = json!({"email": ADMIN_EMAIL, "password": format!("wrong-{i}")}).to_string();
        let req = format!(
            "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await?;
        let status: u16 = String::from_utf8_lossy(&resp).split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0);
        anyhow::Ok(status)
    });
    let statuses: Vec<u16> = futures::future::join_all(tries).await.into_iter().collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(statuses.iter().all(|s| [401, 429, 503].contains(s)), "wrong logins answered {statuses:?}");
    Ok(format!("20 wrong logins: {} refused before hashing", statuses.iter().filter(|s| **s != 401).count()))
}

/// Twenty connections that send half a request and wait: held 3 s, then dropped.
async fn attack_half_open(addr: SocketAddr) -> anyhow::Result<String> {
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await?;
        held.push(s);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok("20 half-open requests held 3 s".into())
}

/// A broadcast of its own whose agent ignores keyframe requests: the server must end it (`too_much_data`).
async fn attack_ignored_keyframes(addr: SocketAddr, key: String, n: u64, opts: ClientOpts) -> anyhow::Result<String> {
    // Its console closes with it: the soak must not grow by what the attacker leaves open.
    let links = chatcast::broadcasts_at(addr, &key, 1, 1, opts, &format!("ignorer-{n}-"), false).await?;
    let Some(Link::Chatcast(mut link)) = links.into_iter().next() else { anyhow::bail!("no broadcast") };
    let big = vec![b'x'; 1 << 20];
    for seq in 1..=40u32 {
        if link.send_raw_delta(seq, &big).await.is_err() {
            break;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, link.next()).await {
            Err(_) => anyhow::bail!("a broadcast ignoring keyframe requests was not ended within 20 s"),
            Ok(Got::Closed(why)) if why.contains("too_much_data") => {
                return Ok("a broadcast ignoring keyframe requests was ended (too_much_data)".into());
            }
            // The screen socket closing, keyframe requests (ignored), the viewer's frames.
            Ok(_) => {}
        }
    }
}

/// Runs the soak against `server`.
pub async fn run(server: &mut Server, plan: &Plan, concurrency: usize, opts: ClientOpts) -> anyhow::Result<Value> {
    let (addr, key) = (server.addr, server.site_key.clone());
    let t0 = Instant::now();
    let cookie = login(addr).await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut consoles = Vec::new();
    for _ in 0..plan.consoles {
        consoles.push(spawn_console(console(addr, &cookie, opts).await?, stop.clone()));
    }
    let links = chatcast::broadcasts(server, plan.broadcasts, concurrency.min(32), opts).await?;
    let casts: Vec<_> = links.into_iter().enumerate().map(|(i, l)| spawn_broadcast(l, plan.fps, i, stop.clone())).collect();
    let counts = Arc::new(Counts::default());
    let mut visitors: Vec<Visitor> = futures::stream::iter(0..plan.visitors)
        .map(|i| {
            let key = key.clone();
            async move { visitor(addr, &key, &format!("soak-{i}"), opts).await }
        })
        .buffer_unordered(concurrency)
        .map(|r| r.map(|(ws, _)| spawn_visitor(ws, counts.clone())))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "[soak] {} visitors, {} broadcasts, {} consoles after {:.1} s",
        visitors.len(),
        casts.len(),
        consoles.len(),
        t0.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let mut rss: Vec<(f64, u64)> = Vec::new();
    let mut attacks: Vec<String> = Vec::new();
    let mut trouble: Vec<String> = Vec::new();
    let (mut next_msg, mut next_churn, mut next_sample, mut next_attack) = (start, start, start, start + plan.attack_every);
    let (mut msg_n, mut churned, mut attack_n, mut rng) = (0u64, 0u64, 0u64, 0x9e3779b97f4a7c15u64);
    let mut pick = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let msg_every = Duration::from_secs_f64(1.0 / plan.messages_per_sec.max(0.1));
    let mut attack: Option<tokio::task::JoinHandle<anyhow::Result<String>>> = None;
    while start.elapsed() < plan.duration {
        let now = Instant::now();
        if now >= next_msg {
            let v = &visitors[pick(visitors.len())];
            let msg = json!({"v": 1, "t": "send", "client_id": format!("soak-{msg_n}"), "body": format!("soak message {msg_n}")});
            if v.tx.send(msg.to_string()).is_ok() {
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            msg_n += 1;
            next_msg += msg_every;
        }
        if now >= next_churn {
            for _ in 0..plan.churn_per_sec.min(visitors.len()) {
                let gone = visitors.swap_remove(pick(visitors.len()));
                drop(gone.tx); // the task says goodbye and ends
                churned += 1;
                match visitor(addr, &key, &format!("churn-{churned}"), opts).await {
                    Ok((ws, _)) => visitors.push(spawn_visitor(ws, counts.clone())),
                    Err(e) => trouble.push(format!("a new visitor could not connect: {e:#}")),
                }
            }
            next_churn += Duration::from_secs(1);
        }
        if now >= next_sample {
            rss.push((stats::round(start.elapsed().as_secs_f64(), 1), server.memory()?.rss_kb));
            next_sample += Duration::from_secs(2);
        }
        if attack.as_ref().is_some_and(|a| a.is_finished()) {
            match attack.take().unwrap().await? {
                Ok(what) => attacks.push(what),
                Err(e) => trouble.push(format!("attack: {e:#}")),
            }
        }
        if now >= next_attack && attack.is_none() && !plan.attacks.is_empty() {
            attack = Some(match plan.attacks[attack_n as usize % plan.attacks.len()].as_str() {
                "flood" => {
                    let key = key.clone();
                    tokio::spawn(async move { attack_flood(addr, &key, attack_n, opts).await })
                }
                "logins" => tokio::spawn(attack_logins(addr)),
                "half_open" => tokio::spawn(attack_half_open(addr)),
                "ignore_keyframes" => tokio::spawn(attack_ignored_keyframes(addr, key.clone(), attack_n, opts)),
                other => anyhow::bail!("no attack `{other}` (flood, logins, half_open, ignore_keyframes)"),
            });
            attack_n += 1;
            next_attack += plan.attack_every;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(a) = attack.take() {
        match a.await? {
            Ok(what) => attacks.push(what),
            Err(e) => trouble.push(format!("attack: {e:#}")),
        }
    }
    // Wind down: messages in flight are acknowledged, frames in flight delivered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts.acked.load(Ordering::Relaxed) < counts.sent.load(Ordering::Relaxed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send_replace(true);
    let (mut frames_sent, mut frames_delivered) = (0, 0);
    for c in casts {
        let (s, d, t) = c.await?;
        frames_sent += s;
        frames_delivered += d;
        trouble.extend(t);
    }
    for v in visitors {
        drop(v.tx);
        let _ = v.task.await;
    }
    // Consoles saw every soak message, once (they stopped with the broadcasts, after the last ack).
    let sent = counts.sent.load(Ordering::Relaxed);
    let acked = counts.acked.load(Ordering::Relaxed);
    let mut console_min = u64::MAX;
    for c in consoles {
        console_min = console_min.min(c.await?.len() as u64);
    }
    if console_min < acked {
        trouble.push(format!("a console saw {console_min} of {acked} messages"));
    }
    // Flat: no trend. The mean of the last fifth of the run against the mean of
    // the fifth right after the warm-up; single samples swing with each attack
    // (an ignored-keyframe broadcast holds up to its 16 MiB tail until it is
    // ended), so the peak is reported beside it, not judged.
    let secs = plan.duration.as_secs_f64();
    let warm = plan.warmup.as_secs_f64();
    let mean_in = |a: f64, b: f64| {
        let xs: Vec<u64> = rss.iter().filter(|(t, _)| *t >= a && *t < b).map(|(_, kb)| *kb).collect();
        if xs.is_empty() { 0 } else { xs.iter().sum::<u64>() / xs.len() as u64 }
    };
    let after_warmup = mean_in(warm, warm + secs / 5.0);
    let last = mean_in(secs * 0.8, f64::INFINITY);
    let peak_after = rss.iter().filter(|(t, _)| *t >= warm).map(|(_, kb)| *kb).max().unwrap_or(0);
    let end_kb = rss.last().map_or(0, |(_, kb)| *kb);
    let unexpected = counts.closed_unexpectedly.load(Ordering::Relaxed);
    if unexpected > 0 {
        trouble.push(format!("{unexpected} visitor sockets closed by the server"));
    }
    if acked < sent {
        trouble.push(format!("{} of {sent} messages not acknowledged", sent - acked));
    }
    if frames_delivered < frames_sent {
        trouble.push(format!("{} of {frames_sent} screen frames not delivered", frames_sent - frames_delivered));
    }
    let flat = after_warmup > 0 && (last as f64) <= after_warmup as f64 * plan.flat_ratio;
    Ok(json!({
        "seconds": stats::round(start.elapsed().as_secs_f64(), 1),
        "visitors": plan.visitors, "broadcasts": plan.broadcasts, "consoles": plan.consoles,
        "messages_sent": sent, "messages_acked": acked, "messages_seen_by_every_console": console_min,
        "visitors_churned": churned,
        "frames_sent": frames_sent, "frames_delivered": frames_delivered,
        "attacks": attacks,
        "trouble": trouble,
        "rss_kb": {
            "mean_after_warmup": after_warmup, "mean_last_fifth": last, "peak_after_warmup": peak_after, "end": end_kb, "series": rss,
        },
        "memory_flat": flat,
        "ok": trouble.is_empty(),
    }))
}
