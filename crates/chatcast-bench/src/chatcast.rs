//! The chatcast side: the real product flow, as the widget and the console
//! speak it (docs/protocol.md) — visitor `hello`, consultant login,
//! `screencast_request`, `consent_answer`, the connection probe,
//! `screencast_start`, keyframe and deltas, a console socket that `watch`es.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use chatcast_protocol::screen::{KIND_DELTA, KIND_KEYFRAME, KIND_PROBE, encode};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use yawc::{Frame, OpCode, TcpWebSocket};

use crate::frames::{self, Bodies};
use crate::relay::{Answer, Got};
use crate::server::{SITE_ORIGIN, Server, login};
use crate::stats;
use crate::ws::{self, Actor, ClientOpts};

const STEP: Duration = Duration::from_secs(30);

/// A keyframe body: rrweb's Meta and a small FullSnapshot.
pub(crate) fn keyframe(seq: u32) -> Vec<u8> {
    let mut nodes = String::new();
    for id in 5..60 {
        if !nodes.is_empty() {
            nodes.push(',');
        }
        nodes.push_str(&format!(
            r#"{{"type":2,"tagName":"div","attributes":{{"class":"row r{id}"}},"childNodes":[{{"type":3,"textContent":"Item number {id} of the bench page","id":{}}}],"id":{id}}}"#,
            id + 1000
        ));
    }
    let body = format!(
        r#"[{{"type":4,"data":{{"href":"{SITE_ORIGIN}/","width":1280,"height":720}},"timestamp":1}},{{"type":2,"data":{{"node":{{"type":0,"childNodes":[{{"type":2,"tagName":"html","attributes":{{}},"childNodes":[{{"type":2,"tagName":"body","attributes":{{}},"childNodes":[{nodes}],"id":3}}],"id":2}}],"id":1}},"initialOffset":{{"left":0,"top":0}}}},"timestamp":1}}]"#
    );
    encode(KIND_KEYFRAME, seq, body.as_bytes())
}

fn visitor_path(key: &str) -> String {
    format!("/ws/visitor?site={key}")
}

/// Opens a widget socket from the site's origin and says `hello`; returns the socket and the visitor id.
pub async fn visitor(addr: SocketAddr, key: &str, tab: &str, opts: ClientOpts) -> anyhow::Result<(TcpWebSocket, String)> {
    let mut chat = ws::connect(addr, &visitor_path(key), &[("Origin", SITE_ORIGIN)], opts).await?;
    let page = json!({ "url": format!("{SITE_ORIGIN}/products/{tab}"), "title": "Bench shop — products" });
    ws::send_json(&mut chat, json!({ "t": "hello", "tab_id": tab, "page": page })).await?;
    let w = ws::recv_type(&mut chat, "welcome", STEP).await?;
    let vid = w["visitor_id"].as_str().context("welcome without visitor_id")?.to_owned();
    Ok((chat, vid))
}

/// Opens a console socket with the session cookie, from the server's own origin, and reads its snapshot.
pub async fn console(addr: SocketAddr, cookie: &str, opts: ClientOpts) -> anyhow::Result<TcpWebSocket> {
    let own = format!("http://{addr}");
    let mut c = ws::connect(addr, "/ws/console", &[("Origin", own.as_str()), ("Cookie", cookie)], opts).await?;
    ws::recv_type(&mut c, "snapshot", STEP).await?;
    Ok(c)
}

/// Keeps a socket read (pings answered, the server's queue drained) until `stop`, then hands it back.
fn keep(mut ws: TcpWebSocket, mut stop: watch::Receiver<bool>, closed: Arc<AtomicU64>) -> tokio::task::JoinHandle<TcpWebSocket> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => return ws,
                f = ws.next() => match f {
                    Some(f) if f.opcode() != OpCode::Close => {}
                    _ => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        // Closed: wait for the stop like the others, so that counts stay honest.
                        let _ = stop.changed().await;
                        return ws;
                    }
                },
            }
        }
    })
}

/// A visitor whose broadcast is live: chat socket, screen socket (when the server gives a token).
struct Live {
    chat: TcpWebSocket,
    screen: Option<TcpWebSocket>,
    visitor_id: String,
}

/// Takes one visitor through consent, probe and start; sends its first keyframe.
async fn go_live(
    addr: SocketAddr,
    control: &Actor,
    mut chat: TcpWebSocket,
    visitor_id: String,
    opts: ClientOpts,
) -> anyhow::Result<Live> {
    control.send_json(json!({ "t": "screencast_request", "visitor_id": visitor_id }))?;
    // Consent is asked (a new visitor) or remembered (then the probe comes first).
    let first = loop {
        let f = ws::next_data(&mut chat, STEP).await?.context("closed before consent")?;
        if f.opcode() != OpCode::Text {
            continue;
        }
        let v: Value = serde_json::from_slice(f.payload())?;
        match v["t"].as_str().unwrap_or_default() {
            "consent_request" | "probe" => break v,
            "error" => bail!("screencast_request: {v}"),
            _ => {}
        }
    };
    let probe = if first["t"] == "consent_request" {
        ws::send_json(&mut chat, json!({ "t": "consent_answer", "request_id": first["request_id"], "allow": true })).await?;
        ws::recv_type(&mut chat, "probe", STEP).await?
    } else {
        first
    };
    ws::send_json(&mut chat, json!({ "t": "probe", "id": probe["id"] })).await?;
    let n = probe["upload_bytes"].as_u64().unwrap_or(0) as usize;
    chat.send(Frame::binary(encode(KIND_PROBE, 0, &vec![0x2a; n]))).await?;
    let start = ws::recv_type(&mut chat, "screencast_start", STEP).await?;
    // Since the screen socket: frames go to /ws/screen?token=…; before it, on the chat socket.
    let mut screen = match start["screen_token"].as_str() {
        Some(token) => Some(ws::connect(addr, &format!("/ws/screen?token={token}"), &[("Origin", SITE_ORIGIN)], opts).await?),
        None => None,
    };
    let key = Frame::binary(keyframe(0));
    match screen.as_mut() {
        Some(s) => s.send(key).await?,
        None => chat.send(key).await?,
    }
    Ok(Live { chat, screen, visitor_id })
}

/// Sets up `n` live broadcasts, each watched by its own console socket.
pub async fn broadcasts(
    server: &Server,
    n: usize,
    concurrency: usize,
    opts: ClientOpts,
) -> anyhow::Result<Vec<crate::relay::Link>> {
    broadcasts_at(server.addr, &server.site_key, n, concurrency, opts, "tab-", true).await
}

/// [`broadcasts`] on the server at `addr` with site `key`, tab ids starting
/// with `tab_prefix`; `keep_console`: the consultant's console that asked
/// stays open (and read) for the process's life, as in a long measurement.
pub async fn broadcasts_at(
    addr: SocketAddr,
    key: &str,
    n: usize,
    concurrency: usize,
    opts: ClientOpts,
    tab_prefix: &str,
    keep_console: bool,
) -> anyhow::Result<Vec<crate::relay::Link>> {
    let t0 = Instant::now();
    let cookie = login(addr).await?;
    let mut control = Actor::spawn(console(addr, &cookie, opts).await?);
    let (stop_tx, stop) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    let key = key.to_owned();

    // 1. Visitors open their tabs.
    let visitors: Vec<(TcpWebSocket, String)> = futures::stream::iter(0..n)
        .map(|i| {
            let key = key.clone();
            async move { visitor(addr, &key, &format!("{tab_prefix}{i}"), opts).await }
        })
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!("[chatcast relay] {n} visitors said hello in {:.1} s", t0.elapsed().as_secs_f64());

    // 2. One consultant asks each for its screen; each consents, passes the probe and starts.
    // All broadcasts start before any viewer opens: every console gets every
    // state change, so viewers opened earlier would multiply the setup's traffic.
    let control_ref = &control;
    let mut live = Vec::with_capacity(n);
    {
        let mut s = futures::stream::iter(visitors)
            .map(|(chat, vid)| async move { go_live(addr, control_ref, chat, vid, opts).await })
            .buffered(concurrency);
        while let Some(l) = s.next().await {
            let l = l?;
            let chat = keep(l.chat, stop.clone(), closed.clone());
            let screen = l.screen.map(|s| keep(s, stop.clone(), closed.clone()));
            live.push((chat, screen, l.visitor_id));
        }
    }
    eprintln!("[chatcast relay] {n} broadcasts live after {:.1} s", t0.elapsed().as_secs_f64());

    // 3. Each broadcast's screencast window: a console socket that watches it and gets the cached keyframe.
    let cookie = &cookie;
    let vids: Vec<String> = live.iter().map(|(_, _, vid)| vid.clone()).collect();
    let viewers: Vec<TcpWebSocket> = futures::stream::iter(vids)
        .map(|vid| async move {
            let mut c = console(addr, cookie, opts).await?;
            ws::send_json(&mut c, json!({ "t": "watch", "visitor_id": vid })).await?;
            loop {
                let f = ws::next_data(&mut c, STEP).await?.context("viewer closed before the keyframe")?;
                if f.opcode() == OpCode::Binary && f.payload().first() == Some(&KIND_KEYFRAME) {
                    return anyhow::Ok(c);
                }
                if f.opcode() == OpCode::Text && f.payload().starts_with(br#"{"v":1,"t":"error""#) {
                    bail!("watch {vid}: {}", String::from_utf8_lossy(f.payload()));
                }
            }
        })
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    eprintln!("[chatcast relay] {n} viewers watching after {:.1} s", t0.elapsed().as_secs_f64());

    stop_tx.send_replace(true);
    let mut links = Vec::with_capacity(n);
    for ((chat, screen, _), viewer) in live.into_iter().zip(viewers) {
        let chat = chat.await?;
        let screen = match screen {
            Some(s) => Some(s.await?),
            None => None,
        };
        links.push(crate::relay::Link::Chatcast(Link { chat, screen, viewer }));
    }
    if closed.load(Ordering::Relaxed) > 0 {
        bail!("{} sockets closed during the setup", closed.load(Ordering::Relaxed));
    }
    // The consultant's own console stays open (and read) for the whole run, as it would be.
    if keep_console {
        tokio::spawn(async move { while control.rx.recv().await.is_some() {} });
    }
    Ok(links)
}

/// One live broadcast's sockets.
pub struct Link {
    chat: TcpWebSocket,
    screen: Option<TcpWebSocket>,
    viewer: TcpWebSocket,
}

fn closed(what: &str, f: Option<&Frame>) -> Got {
    let why = f.map(|f| format!("{:?} {:?}", f.close_code(), f.close_reason().ok().flatten())).unwrap_or_default();
    Got::Closed(format!("{what} socket closed {why}"))
}

impl Link {
    /// See [`crate::relay::Link`]: reads only.
    pub async fn next(&mut self) -> Got {
        let Link { chat, screen, viewer } = self;
        let screen_next = async {
            match screen.as_mut() {
                Some(s) => s.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            f = viewer.next() => match f {
                Some(f) if f.opcode() == OpCode::Binary => match frames::sent_ns(f.payload()) {
                    Some(sent) => Got::Frame(sent),
                    None => Got::Other, // a keyframe resync
                },
                Some(f) if f.opcode() == OpCode::Close => closed("viewer", Some(&f)),
                Some(_) => Got::Other,
                None => closed("viewer", None),
            },
            f = chat.next() => match f {
                Some(f) if f.opcode() == OpCode::Text => {
                    let p = f.payload();
                    if p.windows(18).any(|w| w == b"\"keyframe_request\"") {
                        Got::Answer(Answer::Keyframe)
                    } else if p.windows(17).any(|w| w == b"\"screencast_stop\"") {
                        Got::Closed(format!("broadcast stopped: {}", String::from_utf8_lossy(p)))
                    } else {
                        Got::Other
                    }
                }
                Some(f) if f.opcode() == OpCode::Close => closed("chat", Some(&f)),
                Some(_) => Got::Other,
                None => closed("chat", None),
            },
            f = screen_next => match f {
                Some(f) if f.opcode() == OpCode::Close => closed("screen", Some(&f)),
                Some(f) if f.opcode() == OpCode::Text => Got::Closed(format!("screen socket: {}", String::from_utf8_lossy(f.payload()))),
                Some(_) => Got::Other,
                None => closed("screen", None),
            },
        }
    }

    fn frame_socket(&mut self) -> &mut TcpWebSocket {
        self.screen.as_mut().unwrap_or(&mut self.chat)
    }

    /// Sends one delta with the send time in its body.
    pub async fn send_frame(&mut self, bodies: &Bodies, seq: u32, sent_ns: u64) -> anyhow::Result<()> {
        let mut f = Vec::with_capacity(5 + 256);
        f.push(KIND_DELTA);
        f.extend_from_slice(&seq.to_be_bytes());
        bodies.write(seq, sent_ns, &mut f);
        self.frame_socket().send(Frame::binary(Bytes::from(f))).await?;
        Ok(())
    }

    /// Sends a delta with this body as it is (the soak's oversized frames).
    pub async fn send_raw_delta(&mut self, seq: u32, body: &[u8]) -> anyhow::Result<()> {
        self.frame_socket().send(Frame::binary(encode(KIND_DELTA, seq, body))).await?;
        Ok(())
    }

    /// Answers a keyframe request with a fresh keyframe.
    pub async fn answer(&mut self, a: Answer, seq: u32) -> anyhow::Result<()> {
        if let Answer::Keyframe = a {
            self.frame_socket().send(Frame::binary(keyframe(seq))).await?;
        }
        Ok(())
    }
}

/// Opens `n` visitor connections (`hello` → `welcome`) and keeps them read; returns the
/// keepers, their stop switch, the count of sockets the server closed, and how long it took.
pub async fn hold_visitors(
    server: &Server,
    n: usize,
    concurrency: usize,
    opts: ClientOpts,
    tab_prefix: &str,
) -> anyhow::Result<(Vec<tokio::task::JoinHandle<TcpWebSocket>>, watch::Sender<bool>, Arc<AtomicU64>, Duration)> {
    let (addr, key) = (server.addr, server.site_key.clone());
    let (stop_tx, stop) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut keepers = Vec::with_capacity(n);
    let mut s = futures::stream::iter(0..n)
        .map(|i| {
            let key = key.clone();
            async move { visitor(addr, &key, &format!("{tab_prefix}{i}"), opts).await }
        })
        .buffer_unordered(concurrency);
    while let Some(v) = s.next().await {
        let (chat, _) = v?;
        keepers.push(keep(chat, stop.clone(), closed.clone()));
        if keepers.len() % 2000 == 0 {
            eprintln!("[chatcast] {} visitor connections open after {:.1} s", keepers.len(), t0.elapsed().as_secs_f64());
        }
    }
    Ok((keepers, stop_tx, closed, t0.elapsed()))
}

/// Chat round trips while connections are held: a visitor `send` until the
/// consultant's console has the `message`, then the consultant's `send` until
/// the visitor has it.
pub async fn chat_round_trips(
    server: &Server,
    cookie: &str,
    visitors: usize,
    rounds: usize,
    opts: ClientOpts,
) -> anyhow::Result<Value> {
    let addr = server.addr;
    let mut console = Actor::spawn(console(addr, cookie, opts).await?);
    let mut vs = Vec::new();
    for i in 0..visitors {
        vs.push(visitor(addr, &server.site_key, &format!("chatter-{i}"), opts).await?);
    }
    let (mut to_console, mut to_visitor, mut round) = (stats::histogram(), stats::histogram(), stats::histogram());
    for r in 0..rounds {
        let (chat, vid) = &mut vs[r % visitors];
        let cid = format!("bench-v-{r}");
        let t0 = Instant::now();
        ws::send_json(chat, json!({ "t": "send", "client_id": cid, "body": format!("Hello, is anyone there? ({r})") })).await?;
        let (t1, _) = console.wait_for(STEP, |v| v["t"] == "message" && v["message"]["client_id"] == cid.as_str()).await?;
        let reply = format!("bench-c-{r}");
        console.send_json(json!({ "t": "send", "visitor_id": vid, "client_id": reply, "body": "Yes, how can I help?" }))?;
        loop {
            let v = ws::recv_type(chat, "message", STEP).await?;
            if v["message"]["client_id"] == reply.as_str() {
                break;
            }
        }
        let t2 = Instant::now();
        stats::record(&mut to_console, t1 - t0);
        stats::record(&mut to_visitor, t2 - t1);
        stats::record(&mut round, t2 - t0);
    }
    Ok(json!({
        "rounds": rounds,
        "visitor_to_console": stats::summary(&to_console),
        "console_to_visitor": stats::summary(&to_visitor),
        "round_trip": stats::summary(&round),
    }))
}

/// The stopped keepers' sockets, dropped (closing them).
pub async fn release(keepers: Vec<tokio::task::JoinHandle<TcpWebSocket>>, stop: watch::Sender<bool>) {
    stop.send_replace(true);
    for k in keepers {
        let _ = k.await;
    }
}
