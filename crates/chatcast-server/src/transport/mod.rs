//! WebSocket transport: upgrade options (permessage-deflate, frame size
//! limit), origin checks, and one [`Connection`] per socket whose outgoing
//! frames go through a bounded queue that other tasks reach through a [`Peer`].
//! It knows nothing of chat or broadcasts: the endpoints that hand sockets to
//! their sessions are in `http::sockets`.
//!
//! A connection runs in one task: [`Connection::next_event`] waits for the next
//! inbound frame while it writes queued frames, sends pings, and notices a
//! server shutdown (close 1001) or a peer too slow to read (close 4008).

pub mod origin;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chatcast_protocol::{ErrorBody, ErrorCode};
use futures::SinkExt;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
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
/// Close code: past a rate or count limit (the error before it says which).
pub const CLOSE_RATE_LIMITED: u16 = 4029;

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
    /// The screen stream: the screen socket (visitor → server; the server
    /// sends nothing on it, so its compressor is never built) and console
    /// sockets (screen frames to viewers). The context is kept, so each batch
    /// refers to the ones before it (7× smaller than per message), at the fast
    /// level: on 200-byte rrweb-like deltas with a thousand contexts (cold in
    /// cache) zlib-rs level 1 costs ~2.8 µs a frame where level 6 costs ~11 µs,
    /// for ~7 % more bytes.
    Stream,
}

/// Whether a request's permessage-deflate offer lets the server choose the
/// client's window size (a `client_max_window_bits` parameter, as Chromium sends).
pub fn offers_client_window_bits(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("client_max_window_bits"))
}

/// Upgrade options of one endpoint; `client_window_offered`: see [`offers_client_window_bits`].
pub fn ws_options(max_frame_bytes: usize, compression: Compression, client_window_offered: bool) -> Options {
    // Idle chat sockets are the common case: their buffers start at 1 KiB (a
    // chat message fits; a larger frame grows the buffer, which returns to
    // this size after it). Screen and console sockets carry the stream: 4 KiB.
    let buffer = if compression == Compression::Stateless { 1024 } else { 4 * 1024 };
    let base = Options::default()
        // A larger frame (compressed or inflated) closes the socket with 1009.
        .with_limits(max_frame_bytes, max_frame_bytes.saturating_mul(2))
        .with_utf8()
        // Only reaches sockets yawc connects itself; the server sets TCP_NODELAY in `app::serve`.
        .with_no_delay()
        .with_read_buffer_capacity(buffer)
        .with_write_buffer_capacity(buffer);
    let base = match compression {
        Compression::Stateless => base
            .with_low_latency_compression()
            .server_no_context_takeover()
            .client_no_context_takeover()
            .with_deflate_pool(deflate_pool()),
        Compression::Stream => base.with_low_latency_compression(),
    };
    // The client's full 32 KiB window: without a preference yawc answers a
    // browser's bare `client_max_window_bits` offer with 9 (a 512-byte window),
    // which doubled the screen stream's bytes. Only when offered: RFC 7692
    // §7.1.2.2 forbids the parameter in an answer to an offer without it
    // (Firefox and Safari offer none), and yawc would add it.
    if client_window_offered { base.with_client_max_window_bits(15) } else { base }
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
    /// Payload bytes, counted against the queue's byte bound.
    fn len(&self) -> usize {
        match self {
            Outgoing::Text(b) | Outgoing::Binary(b) => b.len(),
            Outgoing::Close(..) => 0,
        }
    }

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

/// One connection's outgoing frames.
///
/// Bounded like a channel, but it holds no memory while empty: tokio's bounded
/// mpsc allocates its channel state and a first block of 32 slots up front
/// (~1.7 KB per socket, and most sockets are idle chat sockets). The deque
/// allocates on the first frame; the connection takes the whole batch out at
/// once. `kill` asks the connection to close as too slow.
///
/// Bounded twice: in frames, and in bytes (queued plus taken out and not yet
/// written), so that a peer that stops reading holds at most `byte_limit` of
/// screen frames however large each is. A frame larger than the bound still
/// goes into an empty queue: the bound never makes a frame undeliverable.
struct Queue {
    state: Mutex<QueueState>,
    ready: Notify,
    limit: usize,
    byte_limit: usize,
}

#[derive(Default)]
struct QueueState {
    frames: VecDeque<Outgoing>,
    /// The connection is gone: nothing more is queued.
    closed: bool,
    /// Close as too slow (4008).
    killed: bool,
    /// Payload bytes in `frames`.
    bytes: usize,
    /// Payload bytes the connection took out and is writing.
    in_flight: usize,
    /// A binary frame was refused since the queue last ran empty.
    refused: bool,
}

impl Queue {
    fn push(&self, out: Outgoing) -> Result<(), QueueFull> {
        let mut st = self.state.lock().unwrap();
        if st.closed {
            return Err(QueueFull::Closed);
        }
        let held = st.bytes + st.in_flight;
        if st.frames.len() >= self.limit || (held > 0 && held + out.len() > self.byte_limit) {
            st.refused = true;
            return Err(QueueFull::Full);
        }
        let was_empty = st.frames.is_empty();
        st.bytes += out.len();
        st.frames.push_back(out);
        drop(st);
        // The connection empties the whole queue when woken: one wake per batch.
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    fn kill(&self) {
        self.state.lock().unwrap().killed = true;
        self.ready.notify_one();
    }
}

/// What the connection found in its queue.
enum Queued {
    /// Frames to write, oldest first.
    Frames,
    /// A sender found the queue full: close as too slow.
    Killed,
}

/// How long a closing socket waits for the peer's close before it is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A handle to send frames to one connection from any task.
#[derive(Clone)]
pub struct Peer {
    /// Which connection.
    pub id: ConnId,
    queue: Arc<Queue>,
}

/// The receiving end of a [`Peer`]'s queue.
pub struct PeerInbox(Arc<Queue>);

impl PeerInbox {
    /// The next queued frame's payload, if any (tests and in-process consumers).
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let mut st = self.0.state.lock().unwrap();
        let out = st.frames.pop_front()?;
        st.bytes -= out.len();
        Some(match out {
            Outgoing::Text(b) | Outgoing::Binary(b) => b,
            Outgoing::Close(..) => Bytes::new(),
        })
    }

    /// Moves every queued frame into `batch` (empty), or says the peer was killed.
    fn take_into(&self, batch: &mut VecDeque<Outgoing>) -> Option<Queued> {
        let mut st = self.0.state.lock().unwrap();
        if st.killed {
            return Some(Queued::Killed);
        }
        if st.frames.is_empty() {
            return None;
        }
        std::mem::swap(&mut st.frames, batch);
        st.in_flight += std::mem::take(&mut st.bytes);
        Some(Queued::Frames)
    }

    /// The batch taken out has been written (or dropped): its bytes are free.
    /// True if that emptied a queue that had refused a frame.
    fn written(&self) -> bool {
        let mut st = self.0.state.lock().unwrap();
        st.in_flight = 0;
        st.frames.is_empty() && std::mem::take(&mut st.refused)
    }

    /// Waits until something is queued (or the peer was killed).
    async fn wait(&self, batch: &mut VecDeque<Outgoing>) -> Queued {
        loop {
            // Registered before checking, so a push between the check and the await is not missed.
            let notified = self.0.ready.notified();
            if let Some(q) = self.take_into(batch) {
                return q;
            }
            notified.await;
        }
    }
}

impl Drop for PeerInbox {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap();
        st.closed = true;
        st.frames = VecDeque::new();
    }
}

impl Peer {
    /// A new peer id with a queue of `queue` frames, and the queue's receiving end.
    pub fn pair(queue: usize) -> (Peer, PeerInbox) {
        Self::pair_bounded(queue, usize::MAX)
    }

    /// Like [`Peer::pair`], the queue also bounded to `bytes` payload bytes.
    pub fn pair_bounded(queue: usize, bytes: usize) -> (Peer, PeerInbox) {
        let q = Arc::new(Queue { state: Mutex::default(), ready: Notify::new(), limit: queue.max(1), byte_limit: bytes.max(1) });
        let id = NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed);
        (Peer { id, queue: q.clone() }, PeerInbox(q))
    }

    /// Queues a text frame (already serialized: the same `Bytes` may go to many
    /// peers). A peer whose queue is full is too slow: it is closed with 4008
    /// rather than buffered without bound, and `false` is returned.
    pub fn send(&self, frame: Bytes) -> bool {
        match self.queue.push(Outgoing::Text(frame)) {
            Ok(()) => true,
            Err(QueueFull::Full) => {
                tracing::warn!(conn = self.id, "peer too slow to read; closing it");
                self.queue.kill();
                false
            }
            Err(QueueFull::Closed) => false,
        }
    }

    /// Queues a binary screen frame. Unlike [`Peer::send`] a full queue does not
    /// close the peer: the relay drops it back to "needs keyframe" instead.
    pub fn send_binary(&self, frame: Bytes) -> Result<(), QueueFull> {
        self.queue.push(Outgoing::Binary(frame))
    }

    /// Closes the peer's socket with `code` once the frames queued before are
    /// written (a peer whose queue is full is closed at once, as too slow).
    pub fn close(&self, code: u16, reason: &str) {
        if self.queue.push(Outgoing::Close(code, reason.to_owned())).is_err() {
            self.queue.kill();
        }
    }

    /// Whether `frames` frames of `bytes` bytes in all would fit in the peer's
    /// queue now (an empty queue takes them whatever their size).
    pub fn has_room(&self, frames: usize, bytes: usize) -> bool {
        let st = self.queue.state.lock().unwrap();
        let held = st.bytes + st.in_flight;
        !st.closed && st.frames.len() + frames <= self.queue.limit && (held == 0 || held + bytes <= self.queue.byte_limit)
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
    /// The outgoing queue refused a binary frame (the peer fell behind) and has
    /// since been written out: the peer can be resynced now.
    Drained,
}

/// One accepted WebSocket.
pub struct Connection {
    ws: HttpWebSocket,
    rx: PeerInbox,
    /// Frames taken out of the queue, being written.
    batch: VecDeque<Outgoing>,
    /// The queue ran empty after refusing a frame: [`Event::Drained`] is due.
    drained: bool,
    peer: Peer,
    /// The server's shutdown, waited on for the connection's whole life: one
    /// registration, not one per event (each costs two lock round trips).
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// When to ping next; one timer for the connection's life.
    ping: Pin<Box<tokio::time::Sleep>>,
    ping_every: Duration,
    last_heard: Instant,
    max_text_bytes: usize,
    closed: bool,
}

impl Connection {
    /// Wraps an upgraded socket; `queue` bounds its outgoing frames and
    /// `queue_bytes` their payload bytes; a text frame over `max_text_bytes`
    /// closes it with 1009 (binary frames are bounded by the upgrade's options).
    pub fn new(
        ws: HttpWebSocket,
        queue: usize,
        queue_bytes: usize,
        ping_every: Duration,
        max_text_bytes: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (peer, rx) = Peer::pair_bounded(queue, queue_bytes);
        Connection {
            ws,
            rx,
            batch: VecDeque::new(),
            drained: false,
            peer,
            shutdown: Box::pin(shutdown.cancelled_owned()),
            ping: Box::pin(tokio::time::sleep(ping_every)),
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
        match self.rx.take_into(&mut self.batch) {
            Some(Queued::Frames) => self.write_batch().await,
            Some(Queued::Killed) => return self.close_too_slow().await,
            None => {}
        }
        if !self.closed && self.ws.send(Frame::text(frame)).await.is_err() {
            self.closed = true;
        }
    }

    /// Sends a frame ahead of everything queued for this socket: the console's
    /// snapshot, which must be its first frame although updates may be queued
    /// while it is built (they follow it, and apply on top of it).
    pub async fn send_first(&mut self, frame: Bytes) {
        if !self.closed && self.ws.send(Frame::text(frame)).await.is_err() {
            self.closed = true;
        }
    }

    /// Writes the batch taken from the queue, then flushes once. A queued
    /// close ends the socket there.
    async fn write_batch(&mut self) {
        while let Some(out) = self.batch.pop_front() {
            let closing = matches!(out, Outgoing::Close(..));
            if self.ws.feed(out.into_frame()).await.is_err() {
                self.closed = true;
                break;
            }
            if closing {
                let _ = self.ws.flush().await;
                self.closed = true;
                break;
            }
        }
        self.batch.clear();
        self.drained |= self.rx.written();
        // A burst leaves a large deque behind: give it back.
        if self.batch.capacity() > 64 {
            self.batch = VecDeque::new();
        }
        if !self.closed && self.ws.flush().await.is_err() {
            self.closed = true;
        }
    }

    async fn close_too_slow(&mut self) {
        self.close(CLOSE_TOO_SLOW, "too slow: the server's queue for this socket is full").await;
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
        if self.ws.send(Frame::close(CloseCode::from(code), reason_bytes(reason))).await.is_err()
            || self.ws.flush().await.is_err()
        {
            return;
        }
        // Read (and drop) what the peer sent meanwhile until its close answers
        // ours, for at most CLOSE_WAIT: a TCP socket dropped with unread data
        // ends with a reset, and a reset makes the peer's system throw away
        // what it had received but not read yet — our close and its reason.
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(f) = futures::StreamExt::next(&mut self.ws).await {
                if f.opcode() == OpCode::Close {
                    break;
                }
            }
        })
        .await;
    }

    /// Waits for the next inbound frame, meanwhile writing queued frames and
    /// keeping the socket alive: a socket silent for `ping_every` is pinged,
    /// one silent for three intervals is dropped.
    pub async fn next_event(&mut self) -> Event {
        loop {
            if self.closed {
                return Event::Closed;
            }
            if std::mem::take(&mut self.drained) {
                return Event::Drained;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.as_mut() => {
                    self.close(1001, "server shutting down").await;
                }
                queued = self.rx.wait(&mut self.batch) => match queued {
                    Queued::Frames => self.write_batch().await,
                    Queued::Killed => self.close_too_slow().await,
                },
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
                    // The ping timer is not touched here (that would cost a timer
                    // update per frame): it checks `last_heard` when it fires.
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
                _ = self.ping.as_mut() => {
                    let silent = self.last_heard.elapsed();
                    if silent > self.ping_every * 3 {
                        tracing::debug!(conn = self.peer.id, "peer silent for three ping intervals; dropping it");
                        self.closed = true;
                        return Event::Closed;
                    }
                    // Heard from lately: no ping needed until it has been quiet a whole interval.
                    let next = if silent < self.ping_every {
                        self.ping_every - silent
                    } else {
                        if self.ws.send(Frame::ping(Bytes::new())).await.is_err() {
                            self.closed = true;
                        }
                        self.ping_every
                    };
                    self.ping.as_mut().reset(tokio::time::Instant::now() + next);
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
        ErrorCode::RateLimited => CLOSE_RATE_LIMITED,
        _ => 1008,
    };
    (ErrorBody::new(code, message), close)
}
