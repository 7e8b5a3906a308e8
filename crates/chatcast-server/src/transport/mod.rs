//! WebSocket transport: accepting upgrades (permessage-deflate, frame size
//! limit), origin checks, and one [`Connection`] per socket whose outgoing
//! frames go through a bounded queue that other tasks reach through a [`Peer`].
//!
//! A connection runs in one task: [`Connection::next_event`] waits for the next
//! inbound frame while it writes queued frames, sends pings, and notices a
//! server shutdown (close 1001) or a peer too slow to read (close 4008).

pub mod accept;
pub mod origin;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chatcast_protocol::{ErrorBody, ErrorCode};
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use yawc::close::CloseCode;
use yawc::{Frame, HttpWebSocket, OpCode, Options};

/// Close code: the console socket has no valid session.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// Close code: the origin is not allowed.
pub const CLOSE_ORIGIN_NOT_ALLOWED: u16 = 4003;
/// Close code: no site has the key.
pub const CLOSE_UNKNOWN_SITE: u16 = 4004;
/// Close code: the peer does not read what it is sent.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// Identifies one socket for as long as the process runs.
pub type ConnId = u64;

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// How an endpoint's socket compresses (permessage-deflate, which browsers
/// offer on every connection and then run in their network service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Chat sockets: many, mostly idle, small messages. No context takeover in
    /// either direction, with deflate state borrowed from a shared pool per
    /// message, so an idle socket holds no compressor or window of its own.
    Stateless,
    /// The screen socket (visitor → server): the stream keeps its context, so
    /// each batch refers to the ones before it (7× smaller than per message).
    /// The server sends nothing on it, so its compressor is never built.
    StreamIn,
    /// Console sockets, which carry screen frames to viewers: context kept,
    /// compressed at the balanced level.
    StreamOut,
}

/// Upgrade options of one endpoint.
pub fn ws_options(max_frame_bytes: usize, compression: Compression) -> Options {
    let base = Options::default()
        // A larger frame (compressed or inflated) closes the socket with 1009.
        .with_limits(max_frame_bytes, max_frame_bytes * 2)
        .with_utf8()
        .with_no_delay()
        // Idle sockets are the common case: keep their buffers small.
        .with_read_buffer_capacity(4 * 1024)
        .with_write_buffer_capacity(4 * 1024);
    let base = match compression {
        Compression::Stateless => base
            .with_low_latency_compression()
            .server_no_context_takeover()
            .client_no_context_takeover()
            .with_deflate_pool(deflate_pool()),
        Compression::StreamIn => base.with_low_latency_compression(),
        Compression::StreamOut => base.with_balanced_compression(),
    };
    // Full 32 KiB windows both ways: without a preference yawc answers a
    // browser's bare `client_max_window_bits` offer with 9 (a 512-byte window),
    // which doubled the screen stream's bytes.
    base.with_client_max_window_bits(15).with_server_max_window_bits(15)
}

/// The process's one pool of deflate state for stateless sockets: sized for
/// the messages compressed at the same moment, not for the connections.
fn deflate_pool() -> yawc::DeflatePool {
    static POOL: std::sync::OnceLock<yawc::DeflatePool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| yawc::DeflatePool::new(16)).clone()
}

enum Outgoing {
    Text(Bytes),
    Binary(Bytes),
    /// Close the socket with this code and reason, after what is queued before it.
    Close(u16, String),
}

impl Outgoing {
    fn into_frame(self) -> Frame {
        match self {
            Outgoing::Text(b) => Frame::text(b),
            Outgoing::Binary(b) => Frame::binary(b),
            Outgoing::Close(code, reason) => Frame::close(CloseCode::from(code), reason_bytes(&reason)),
        }
    }
}

/// A close reason cut to the 123 bytes a close frame allows.
fn reason_bytes(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Why a binary frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum QueueFull {
    /// The peer's queue is full: it is behind.
    Full,
    /// The peer is gone.
    Closed,
}

/// A handle to send frames to one connection from any task.
#[derive(Clone)]
pub struct Peer {
    /// Which connection.
    pub id: ConnId,
    tx: mpsc::Sender<Outgoing>,
    kill: CancellationToken,
}

/// The receiving end of a [`Peer`]'s queue.
pub struct PeerInbox(mpsc::Receiver<Outgoing>);

impl PeerInbox {
    /// The next queued frame's payload, if any (tests and in-process consumers).
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.0.try_recv().ok().map(|o| match o {
            Outgoing::Text(b) | Outgoing::Binary(b) => b,
            Outgoing::Close(..) => Bytes::new(),
        })
    }
}

impl Peer {
    /// A new peer id with a queue of `queue` frames, and the queue's receiving end.
    pub fn pair(queue: usize) -> (Peer, PeerInbox) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
        (Peer { id, tx, kill: CancellationToken::new() }, PeerInbox(rx))
    }

    /// Queues a text frame (already serialized: the same `Bytes` may go to many
    /// peers). A peer whose queue is full is too slow: it is closed with 4008
    /// rather than buffered without bound, and `false` is returned.
    pub fn send(&self, frame: Bytes) -> bool {
        match self.tx.try_send(Outgoing::Text(frame)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(conn = self.id, "peer too slow to read; closing it");
                self.kill.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a binary screen frame. Unlike [`Peer::send`] a full queue does not
    /// close the peer: the relay drops it back to "needs keyframe" instead.
    pub fn send_binary(&self, frame: Bytes) -> Result<(), QueueFull> {
        self.tx.try_send(Outgoing::Binary(frame)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueFull::Full,
            mpsc::error::TrySendError::Closed(_) => QueueFull::Closed,
        })
    }

    /// Closes the peer's socket with `code` once the frames queued before are
    /// written (a peer whose queue is full is closed at once, as too slow).
    pub fn close(&self, code: u16, reason: &str) {
        if self.tx.try_send(Outgoing::Close(code, reason.to_owned())).is_err() {
            self.kill.cancel();
        }
    }

    /// Free places in the peer's queue.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }
}

/// What a session sees of its socket.
pub enum Event {
    /// A text frame.
    Text(Bytes),
    /// A binary frame.
    Binary(Bytes),
    /// The socket is gone (closed by the peer, dropped, too slow, or the server is shutting down).
    Closed,
}

/// One accepted WebSocket.
pub struct Connection {
    ws: HttpWebSocket,
    rx: PeerInbox,
    peer: Peer,
    shutdown: CancellationToken,
    ping_every: Duration,
    last_heard: Instant,
    max_text_bytes: usize,
    closed: bool,
}

impl Connection {
    /// Wraps an upgraded socket; `queue` bounds its outgoing frames; a text
    /// frame over `max_text_bytes` closes it with 1009 (binary frames are
    /// bounded by the upgrade's options).
    pub fn new(
        ws: HttpWebSocket,
        queue: usize,
        ping_every: Duration,
        max_text_bytes: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (peer, rx) = Peer::pair(queue);
        Connection {
            ws,
            rx,
            peer,
            shutdown,
            ping_every,
            last_heard: Instant::now(),
            max_text_bytes,
            closed: false,
        }
    }

    /// A handle other tasks use to send to this connection.
    pub fn peer(&self) -> Peer {
        self.peer.clone()
    }

    /// Sends a reply to this socket's own frame at once: after whatever is
    /// already queued for it, so that the peer sees frames in order.
    pub async fn send_now(&mut self, frame: Bytes) {
        if self.closed {
            return;
        }
        if let Ok(first) = self.rx.0.try_recv() {
            self.write_queued(first).await;
        }
        if !self.closed && self.ws.send(Frame::text(frame)).await.is_err() {
            self.closed = true;
        }
    }

    /// Writes `first` and everything queued after it, then flushes once. A
    /// queued close ends the socket there.
    async fn write_queued(&mut self, first: Outgoing) {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            let closing = matches!(out, Outgoing::Close(..));
            if self.ws.feed(out.into_frame()).await.is_err() {
                self.closed = true;
                return;
            }
            if closing {
                let _ = self.ws.flush().await;
                self.closed = true;
                return;
            }
            next = self.rx.0.try_recv().ok();
        }
        if self.ws.flush().await.is_err() {
            self.closed = true;
        }
    }

    /// Sends an `error` frame and, if `close` is given, closes with that code.
    pub async fn send_error(&mut self, err: ErrorBody, close: Option<u16>) {
        // The envelope is the same for both endpoints.
        let text = chatcast_protocol::encode(&chatcast_protocol::VisitorOut::Error(err.clone()));
        self.send_now(Bytes::from(text)).await;
        if let Some(code) = close {
            self.close(code, &err.message).await;
        }
    }

    /// Closes with a code and a reason (cut to the 123 bytes a close frame allows).
    pub async fn close(&mut self, code: u16, reason: &str) {
        if self.closed {
            return;
        }
        self.closed = true;
        let _ = self.ws.send(Frame::close(CloseCode::from(code), reason_bytes(reason))).await;
        let _ = self.ws.flush().await;
    }

    /// Waits for the next inbound frame, meanwhile writing queued frames and
    /// keeping the socket alive.
    pub async fn next_event(&mut self) -> Event {
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + self.ping_every, self.ping_every);
        loop {
            if self.closed {
                return Event::Closed;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => {
                    self.close(1001, "server shutting down").await;
                }
                _ = self.peer.kill.cancelled() => {
                    self.close(CLOSE_TOO_SLOW, "too slow: the server's queue for this socket is full").await;
                }
                Some(first) = self.rx.0.recv() => self.write_queued(first).await,
                frame = self.ws.next_frame() => {
                    let frame = match frame {
                        Ok(f) => f,
                        Err(yawc::WebSocketError::FrameTooLarge) => {
                            self.close(1009, "frame larger than this endpoint accepts").await;
                            return Event::Closed;
                        }
                        Err(e) if e.is_protocol_error() => {
                            self.close(1002, &format!("protocol error: {e}")).await;
                            return Event::Closed;
                        }
                        Err(_) => {
                            self.closed = true;
                            return Event::Closed;
                        }
                    };
                    self.last_heard = Instant::now();
                    match frame.opcode() {
                        OpCode::Text if frame.payload().len() > self.max_text_bytes => {
                            let reason = format!("text frame larger than {} bytes", self.max_text_bytes);
                            self.close(1009, &reason).await;
                            return Event::Closed;
                        }
                        OpCode::Text => return Event::Text(frame.into_payload()),
                        OpCode::Binary => return Event::Binary(frame.into_payload()),
                        OpCode::Close => {
                            self.closed = true;
                            return Event::Closed;
                        }
                        _ => {} // pings are answered by yawc; pongs only prove liveness
                    }
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() > self.ping_every * 3 {
                        tracing::debug!(conn = self.peer.id, "peer silent for three ping intervals; dropping it");
                        self.closed = true;
                        return Event::Closed;
                    }
                    if self.ws.send(Frame::ping(Bytes::new())).await.is_err() {
                        self.closed = true;
                    }
                }
            }
        }
    }
}

/// An error frame for a refusal, with the close code that goes with it.
pub fn refusal(code: ErrorCode, message: String) -> (ErrorBody, u16) {
    let close = match code {
        ErrorCode::UnknownSite => CLOSE_UNKNOWN_SITE,
        ErrorCode::OriginNotAllowed => CLOSE_ORIGIN_NOT_ALLOWED,
        ErrorCode::Unauthorized => CLOSE_UNAUTHORIZED,
        _ => 1008,
    };
    (ErrorBody::new(code, message), close)
}
