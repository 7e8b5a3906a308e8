//! WebSocket clients: yawc, the crate the server uses, on the client side.
//! They offer permessage-deflate (RFC 7692) as Chromium does — on every
//! connection, with context takeover, compressing every message they send —
//! unless told not to.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use yawc::{Frame, OpCode, Options, TcpWebSocket, WebSocket};

/// How clients talk.
#[derive(Clone, Copy, Debug)]
pub struct ClientOpts {
    /// Offer permessage-deflate (Chromium always does).
    pub deflate: bool,
}

impl ClientOpts {
    fn options(self) -> Options {
        // Small buffers: the generator holds thousands of sockets too. No 1 MiB
        // frame limit (yawc's default): a browser has none, and a console's
        // snapshot with 10,000 visitors online is ~4 MB.
        let o = Options::default()
            .with_no_delay()
            .with_limits(256 << 20, 512 << 20)
            .with_read_buffer_capacity(2048)
            .with_write_buffer_capacity(2048);
        // yawc's client offers `permessage-deflate` (Chromium adds
        // `client_max_window_bits`, which a server without zlib answers the
        // same way). Threshold 0: every message is compressed, as in Chromium.
        if self.deflate { o.with_low_latency_compression() } else { o.without_compression() }
    }
}

/// Opens `ws://addr{path}` with these request headers.
pub async fn connect(addr: SocketAddr, path: &str, headers: &[(&str, &str)], opts: ClientOpts) -> anyhow::Result<TcpWebSocket> {
    let mut req = http::Request::builder();
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let url = format!("ws://{addr}{path}");
    let ws = tokio::time::timeout(
        Duration::from_secs(30),
        WebSocket::connect(url.parse().context("url")?).with_request(req).with_options(opts.options()),
    )
    .await
    .with_context(|| format!("connecting {path} took over 30 s"))?
    .with_context(|| format!("cannot connect {path}"))?;
    Ok(ws)
}

/// Sends one text frame.
pub async fn send_text(ws: &mut TcpWebSocket, text: String) -> anyhow::Result<()> {
    ws.send(Frame::text(text)).await.context("send")
}

/// Sends a chatcast envelope (adds `v: 1`).
pub async fn send_json(ws: &mut TcpWebSocket, mut msg: Value) -> anyhow::Result<()> {
    msg["v"] = 1.into();
    send_text(ws, msg.to_string()).await
}

/// The next data frame (text or binary), within `timeout`; `None` once closed.
pub async fn next_data(ws: &mut TcpWebSocket, timeout: Duration) -> anyhow::Result<Option<Frame>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let f = tokio::time::timeout_at(deadline, ws.next()).await.context("no frame in time")?;
        match f {
            None => return Ok(None),
            Some(f) if f.opcode() == OpCode::Close => {
                bail!("closed by the server: {:?} {:?}", f.close_code(), f.close_reason().ok().flatten())
            }
            Some(f) if matches!(f.opcode(), OpCode::Text | OpCode::Binary) => return Ok(Some(f)),
            Some(_) => {}
        }
    }
}

/// The next chatcast message of type `t` (skipping others), within `timeout`.
/// An `error`, `screencast_notice` or `screencast_stop` on the way fails.
pub async fn recv_type(ws: &mut TcpWebSocket, t: &str, timeout: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let f = next_data(ws, left)
            .await
            .with_context(|| format!("waiting for `{t}`"))?
            .with_context(|| format!("closed while waiting for `{t}`"))?;
        if f.opcode() != OpCode::Text {
            continue;
        }
        let v: Value = serde_json::from_slice(f.payload()).context("json")?;
        let got = v["t"].as_str().unwrap_or_default();
        if got == t {
            return Ok(v);
        }
        if matches!(got, "error" | "screencast_notice" | "screencast_stop") {
            bail!("expected `{t}`, got {v}");
        }
    }
}

/// A socket driven by its own task: everything it receives is forwarded,
/// stamped on arrival, so the socket is always read (pings answered, the
/// server's queue drained) while the scenario does something else.
pub struct Actor {
    /// Text frames to send.
    pub tx: mpsc::UnboundedSender<String>,
    /// Frames received: arrival time and payload (text and binary).
    pub rx: mpsc::UnboundedReceiver<(Instant, OpCode, Bytes)>,
}

impl Actor {
    /// Hands `ws` to a task.
    pub fn spawn(mut ws: TcpWebSocket) -> Actor {
        let (tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (in_tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    out = out_rx.recv() => match out {
                        Some(text) => if ws.send(Frame::text(text)).await.is_err() { break },
                        None => break,
                    },
                    f = ws.next() => match f {
                        Some(f) if matches!(f.opcode(), OpCode::Text | OpCode::Binary) => {
                            let op = f.opcode();
                            if in_tx.send((Instant::now(), op, f.into_payload())).is_err() { break }
                        }
                        Some(f) if f.opcode() == OpCode::Close => break,
                        Some(_) => {}
                        None => break,
                    },
                }
            }
        });
        Actor { tx, rx }
    }

    /// Sends a chatcast envelope.
    pub fn send_json(&self, mut msg: Value) -> anyhow::Result<()> {
        msg["v"] = 1.into();
        self.tx.send(msg.to_string()).ok().context("socket task gone")
    }

    /// The next text message for which `pick` holds, with its arrival time; others are dropped.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<(Instant, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (at, op, payload) = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .context("no matching message in time")?
                .context("socket closed")?;
            if op != OpCode::Text {
                continue;
            }
            let v: Value = serde_json::from_slice(&payload).context("json")?;
            if pick(&v) {
                return Ok((at, v));
            }
        }
    }
}
