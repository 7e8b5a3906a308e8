//! The comparison: a socket.io 4.8 room relay (`bench/socketio/server.js`,
//! the relay design of OpenReplay Assist), spoken to over a raw WebSocket:
//! engine.io v4 (`0` open, `2` ping → `3` pong) carrying socket.io v5
//! packets (`40` connect, `42[...]` events).
//!
//! A visitor joins its broadcast's room and emits `messages` events whose
//! argument is the frame body (a JSON array of events, as the tracker sends);
//! the server forwards each to the room, where the viewer is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use yawc::{Frame, OpCode, TcpWebSocket};

use crate::frames::{self, Bodies};
use crate::relay::{Answer, Got};
use crate::ws::{self, ClientOpts};

const STEP: Duration = Duration::from_secs(30);
const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// The next text frame, answering engine.io pings on the way.
async fn next_text(ws: &mut TcpWebSocket) -> anyhow::Result<String> {
    loop {
        let f = ws::next_data(ws, STEP).await?.context("closed")?;
        if f.opcode() != OpCode::Text {
            continue;
        }
        let t = String::from_utf8_lossy(f.payload()).into_owned();
        if t == "2" {
            ws::send_text(ws, "3".into()).await?;
            continue;
        }
        return Ok(t);
    }
}

/// Connects and joins the default namespace, as `io(url, {transports: ['websocket']})` does.
pub async fn connect(addr: SocketAddr, opts: ClientOpts) -> anyhow::Result<TcpWebSocket> {
    let mut s = ws::connect(addr, PATH, &[("Origin", crate::server::SITE_ORIGIN)], opts).await?;
    let open = next_text(&mut s).await?;
    if !open.starts_with('0') {
        bail!("expected the engine.io open packet, got {open}");
    }
    ws::send_text(&mut s, "40".into()).await?;
    let ok = next_text(&mut s).await?;
    if !ok.starts_with("40") {
        bail!("expected the socket.io connect packet, got {ok}");
    }
    Ok(s)
}

/// Joins a broadcast's room.
async fn join(s: &mut TcpWebSocket, room: &str) -> anyhow::Result<()> {
    ws::send_text(s, format!(r#"42["join","{room}"]"#)).await?;
    loop {
        let t = next_text(s).await?;
        if t.starts_with(r#"42["joined""#) {
            return Ok(());
        }
    }
}

/// Sets up `n` rooms, each with a visitor and a viewer.
pub async fn broadcasts(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    opts: ClientOpts,
) -> anyhow::Result<Vec<crate::relay::Link>> {
    let t0 = Instant::now();
    let links: Vec<crate::relay::Link> = futures::stream::iter(0..n)
        .map(|i| async move {
            let room = format!("session-{i}");
            let mut viewer = connect(addr, opts).await?;
            join(&mut viewer, &room).await?;
            let mut visitor = connect(addr, opts).await?;
            join(&mut visitor, &room).await?;
            anyhow::Ok(crate::relay::Link::SocketIo(Link { visitor, viewer }))
        })
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!("[socket.io relay] {n} rooms with a visitor and a viewer after {:.1} s", t0.elapsed().as_secs_f64());
    Ok(links)
}

/// One room's sockets.
pub struct Link {
    visitor: TcpWebSocket,
    viewer: TcpWebSocket,
}

impl Link {
    /// See [`crate::relay::Link`]: reads only.
    pub async fn next(&mut self) -> Got {
        let Link { visitor, viewer } = self;
        let got = |f: Option<Frame>, is_visitor: bool| match f {
            Some(f) if f.opcode() == OpCode::Text => {
                let p = f.payload();
                if p.as_ref() == b"2" {
                    Got::Answer(Answer::SioPong(is_visitor))
                } else if !is_visitor && p.starts_with(br#"42["messages""#) {
                    frames::sent_ns(p).map_or(Got::Other, Got::Frame)
                } else {
                    Got::Other
                }
            }
            Some(f) if f.opcode() == OpCode::Close => Got::Closed(format!("socket.io socket closed {:?}", f.close_code())),
            Some(_) => Got::Other,
            None => Got::Closed("socket.io socket closed".into()),
        };
        tokio::select! {
            f = viewer.next() => got(f, false),
            f = visitor.next() => got(f, true),
        }
    }

    /// Emits one `messages` event with the frame body.
    pub async fn send_frame(&mut self, bodies: &Bodies, seq: u32, sent_ns: u64) -> anyhow::Result<()> {
        let mut t = Vec::with_capacity(16 + 256);
        t.extend_from_slice(br#"42["messages","#);
        bodies.write(seq, sent_ns, &mut t);
        t.push(b']');
        // The body is ASCII JSON: a valid text frame.
        let text = String::from_utf8(t).expect("ASCII");
        self.visitor.send(Frame::text(text)).await?;
        Ok(())
    }

    /// Answers an engine.io ping.
    pub async fn answer(&mut self, a: Answer) -> anyhow::Result<()> {
        if let Answer::SioPong(is_visitor) = a {
            let s = if is_visitor { &mut self.visitor } else { &mut self.viewer };
            s.send(Frame::text("3")).await?;
        }
        Ok(())
    }
}

/// Opens `n` idle socket.io connections and keeps them answering pings.
pub async fn hold(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    opts: ClientOpts,
) -> anyhow::Result<(Vec<tokio::task::JoinHandle<TcpWebSocket>>, watch::Sender<bool>, Arc<AtomicU64>, Duration)> {
    let (stop_tx, stop) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut keepers = Vec::with_capacity(n);
    let mut s = futures::stream::iter(0..n).map(|_| connect(addr, opts)).buffer_unordered(concurrency);
    while let Some(c) = s.next().await {
        let mut c = c?;
        let mut stop = stop.clone();
        let closed = closed.clone();
        keepers.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => return c,
                    f = c.next() => match f {
                        Some(f) if f.opcode() == OpCode::Text && f.payload().as_ref() == b"2" => {
                            let _ = c.send(Frame::text("3")).await;
                        }
                        Some(f) if f.opcode() != OpCode::Close => {}
                        _ => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            let _ = stop.changed().await;
                            return c;
                        }
                    },
                }
            }
        }));
    }
    Ok((keepers, stop_tx, closed, t0.elapsed()))
}
