//! The Redis engine (`--redis-url`): every node of a cluster is one of these.
//!
//! - **Fan-out.** Envelopes go to one pub/sub channel (`CLUSTER:bus`, CLUSTER being the `cluster_name` setting); each node
//!   delivers what the others published to its own sockets (its own it
//!   delivered before publishing). Redis keeps one publisher's messages in
//!   order, so each node sees another's frames in the order they were sent.
//! - **Presence.** A node is alive while its key `CLUSTER:node:ID` exists: it
//!   sets it every [`HEARTBEAT`] to expire after [`NODE_TTL`]. Its visitors'
//!   list entries live in the hash `CLUSTER:presence:ID`. Every node sweeps:
//!   a node whose key expired is claimed by one sweeper (`SET NX`), which tells
//!   every console its visitors are offline (unless another node has a tab of
//!   them) and deletes its hash. A killed node's visitors are shown offline
//!   within `NODE_TTL + HEARTBEAT` (13 s).
//! - **Losing Redis.** Writes wait in a bounded queue and are dropped past it
//!   (counted); sockets never wait on Redis. When the subscription comes back
//!   after being lost, what was published meanwhile is gone, so this node's
//!   sockets are closed with 1012 and reconnect: each side reloads its dialog
//!   and list from the database. When the node's key was lost (Redis restarted
//!   empty, or the node was taken for dead), the next heartbeat writes its
//!   visitors again and announces them to every console.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chatcast_protocol::{ConsoleOut, ScreencastState, VisitorInfo, frame};
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::{Background, Engine, Envelope, NodeId};

/// How often a node says it is alive and sweeps for dead ones.
pub const HEARTBEAT: Duration = Duration::from_secs(3);
/// How long a node counts as alive after its last heartbeat.
pub const NODE_TTL: Duration = Duration::from_secs(10);
/// Writes waiting for Redis; past this they are dropped.
const QUEUE: usize = 65_536;

/// The names of a cluster's keys and channel in Redis, all behind its `cluster_name`.
#[derive(Clone)]
struct Keys(Arc<str>);

impl Keys {
    /// The channel every envelope goes through.
    fn bus(&self) -> String {
        format!("{}:bus", self.0)
    }
    /// The channel of envelopes for one node (commands, forwarded screen frames).
    fn node_channel(&self, n: NodeId) -> String {
        format!("{}:to:{n:016x}", self.0)
    }
    /// The set of node ids that have announced themselves.
    fn nodes(&self) -> String {
        format!("{}:nodes", self.0)
    }
    /// A node's heartbeat.
    fn node(&self, n: NodeId) -> String {
        format!("{}:node:{n:016x}", self.0)
    }
    /// A node's visitors.
    fn presence(&self, n: NodeId) -> String {
        format!("{}:presence:{n:016x}", self.0)
    }
    /// The sites a node has consoles for ([`super::Coverage::encode`]); expires with the node.
    fn support(&self, n: NodeId) -> String {
        format!("{}:support:{n:016x}", self.0)
    }
    /// A broadcast's kept frames: its keyframe, then the deltas after it.
    fn frames(&self, visitor_id: &str) -> String {
        format!("{}:screen:{visitor_id}", self.0)
    }
    /// A broadcast's epoch: one more at each keyframe.
    fn epoch(&self, visitor_id: &str) -> String {
        format!("{}:screen-epoch:{visitor_id}", self.0)
    }
    /// The channel of a broadcast's frames, subscribed by the nodes that follow it.
    fn screen_channel(&self, visitor_id: &str) -> String {
        format!("{}:screen-ch:{visitor_id}", self.0)
    }
    /// A live broadcast's record: `owner` (node id), `tab_id`, `state`.
    fn broadcast(&self, visitor_id: &str) -> String {
        format!("{}:broadcast:{visitor_id}", self.0)
    }
    /// Login attempts from one client address in the last minute (a sorted set by time).
    fn logins_by_address(&self, address: &str) -> String {
        format!("{}:logins-address:{address}", self.0)
    }
    /// New visitors from one client address in the last minute.
    fn new_visitors(&self, address: &str) -> String {
        format!("{}:new-visitors:{address}", self.0)
    }
    /// Login attempts on one account in the last minute.
    fn logins_by_account(&self, account: &str) -> String {
        format!("{}:logins-account:{account}", self.0)
    }
    /// The claim of the node that tells the consoles about a dead one.
    fn reaped(&self, n: NodeId) -> String {
        format!("{}:reaped:{n:016x}", self.0)
    }
}

enum Op {
    Publish(Bytes),
    PublishTo(NodeId, Bytes),
    Here(String, String),
    Gone(String),
    /// The sites this node has consoles for (encoded), rewritten every few seconds.
    Support(String),
    /// This node's whole presence, replacing what Redis holds.
    Rewrite(Vec<(String, String)>),
    Screen {
        visitor_id: String,
        frame: Bytes,
        keyframe: bool,
    },
    ScreenClear(String),
    BroadcastStart {
        visitor_id: String,
        tab_id: String,
        state: String,
    },
    BroadcastUpdate {
        visitor_id: String,
        state: String,
    },
    BroadcastEnd(String),
    LoginRefund {
        by_address: String,
        by_account: String,
        id: String,
    },
}

/// Updates a broadcast record if this node owns it. KEYS: record. ARGV: me, state, expiry in ms.
const UPDATE: &str = r"
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Deletes a broadcast record if this node owns it. KEYS: record. ARGV: me.
const END: &str = r"
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
";

/// Makes this node the owner of the broadcast of tab ARGV[1]: returns the
/// previous owner and the state, or nil. KEYS: record. ARGV: tab id, me.
const TAKE: &str = r"
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or redis.call('HGET', KEYS[1], 'tab_id') ~= ARGV[1] then return nil end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return {owner, redis.call('HGET', KEYS[1], 'state')}
";

/// Counts an event under every key (a sorted set by time per key) unless one
/// of them has its limit in the window; returns 0, or the milliseconds until
/// the oldest event of a full key leaves the window.
/// KEYS: the keys. ARGV: now ms, window ms, event id, then one limit per key.
const WINDOW: &str = r"
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + win - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[i], win)
end
return 0
";

/// A broadcast record outlives its last change by this much (its node died
/// and its tab never came back).
const BROADCAST_TTL_MS: u64 = 24 * 3600 * 1000;

/// Appends a screen frame and publishes it with its place, atomically:
/// `EPOCH:OFFSET:FRAME`, where a keyframe starts a new epoch at offset 1.
/// A delta whose keyframe Redis no longer has is dropped (followers wait for the next keyframe).
/// KEYS: frames, epoch, channel. ARGV: frame, is keyframe (1/0), expiry in ms.
const APPEND: &str = r"
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('INCR', KEYS[2])
end
local e = redis.call('GET', KEYS[2])
if not e or (ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0) then return 0 end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], e .. ':' .. n .. ':' .. ARGV[1])
return n
";

/// Forgets a broadcast's frames and tells its followers (offset 0). KEYS: frames, epoch, channel.
const CLEAR: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', KEYS[3], '0:0:')
return 0
";

/// A broadcast's epoch and kept frames, read at once. KEYS: frames, epoch.
const READ: &str = r"
return {redis.call('GET', KEYS[2]) or '0', redis.call('LRANGE', KEYS[1], 0, -1)}
";

/// Kept frames outlive their last write by this much (a broadcast that
/// stopped without a word: its node died).
const SCREEN_TTL_MS: u64 = 10 * 60 * 1000;

enum Follow {
    Start(String),
    Stop(String),
}

/// Why the Redis engine could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot use Redis at {url}: {source}")]
pub struct EngineError {
    url: String,
    source: redis::RedisError,
}

impl EngineError {
    /// Whether trying again may help (Redis did not answer; the URL itself is fine).
    pub fn retryable(&self) -> bool {
        self.source.kind() != redis::ErrorKind::InvalidClientConfig
    }
}

/// One node of a cluster sharing a Redis.
pub struct RedisEngine {
    node: NodeId,
    keys: Keys,
    client: redis::Client,
    conn: ConnectionManager,
    ops: mpsc::Sender<Op>,
    ops_rx: Mutex<Option<mpsc::Receiver<Op>>>,
    follow: mpsc::UnboundedSender<Follow>,
    follow_rx: Mutex<Option<mpsc::UnboundedReceiver<Follow>>>,
}

impl RedisEngine {
    /// Counts an event under each key in a sliding minute unless a key is at its limit:
    /// `Err(seconds to wait)`. If Redis does not answer, `Ok(None)`: each node's own limits still hold.
    async fn count_in_minute(&self, keys: &[(String, u32)], what: &str) -> Result<Option<String>, u64> {
        let id = crate::auth::new_token()[..16].to_owned();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(WINDOW).arg(keys.len());
        for (k, _) in keys {
            cmd.arg(k);
        }
        cmd.arg(crate::now_ms()).arg(60_000).arg(&id);
        for (_, limit) in keys {
            cmd.arg(*limit);
        }
        match cmd.query_async::<u64>(&mut self.conn.clone()).await {
            Ok(0) => Ok(Some(id)),
            Ok(wait_ms) => Err(wait_ms.div_ceil(1000).max(1)),
            Err(e) => {
                tracing::warn!(error = %e, "could not count a {what} in Redis");
                Ok(None)
            }
        }
    }

    /// Connects to Redis and announces this node. Fails if Redis does not answer.
    pub async fn connect(url: &str, cluster_name: &str) -> Result<Self, EngineError> {
        let keys = Keys(cluster_name.into());
        let err = |source| EngineError { url: redact(url), source };
        let client = redis::Client::open(url).map_err(err)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let mut conn = client.get_connection_manager_with_config(config).await.map_err(err)?;
        let node = super::new_node_id();
        let _: () = redis::pipe()
            .sadd(keys.nodes(), node)
            .ignore()
            .set_options(keys.node(node), 1, redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ttl_ms())))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let (ops, rx) = mpsc::channel(QUEUE);
        let (follow, follow_rx) = mpsc::unbounded_channel();
        tracing::info!(node = format!("{node:016x}"), "joined the cluster through Redis");
        Ok(RedisEngine {
            node,
            keys,
            client,
            conn,
            ops,
            ops_rx: Mutex::new(Some(rx)),
            follow,
            follow_rx: Mutex::new(Some(follow_rx)),
        })
    }

    fn queue(&self, op: Op) {
        if self.ops.try_send(op).is_err() {
            metrics::counter!("chatcast_engine_dropped_total").increment(1);
        }
    }

    /// Other nodes that are alive now.
    async fn live_nodes(&self) -> redis::RedisResult<Vec<NodeId>> {
        let mut conn = self.conn.clone();
        let nodes: Vec<NodeId> = conn.smembers(self.keys.nodes()).await?;
        let others: Vec<NodeId> = nodes.into_iter().filter(|n| *n != self.node).collect();
        if others.is_empty() {
            return Ok(others);
        }
        let mut pipe = redis::pipe();
        for n in &others {
            pipe.exists(self.keys.node(*n));
        }
        let alive: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok(others.into_iter().zip(alive).filter_map(|(n, a)| a.then_some(n)).collect())
    }
}

fn ttl_ms() -> u64 {
    NODE_TTL.as_millis() as u64
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

#[async_trait]
impl Engine for RedisEngine {
    fn node(&self) -> NodeId {
        self.node
    }

    fn publish(&self, envelope: Envelope) {
        // What is for one node goes on that node's channel; the rest to every node.
        let to = match &envelope.target {
            super::Target::Node(n) if *n != 0 => Some(*n),
            super::Target::Screen { node, .. } => Some(*node),
            _ => None,
        };
        let bytes = envelope.encode();
        self.queue(match to {
            Some(n) => Op::PublishTo(n, bytes),
            None => Op::Publish(bytes),
        });
    }

    fn visitor_here(&self, info: &VisitorInfo) {
        match serde_json::to_string(info) {
            Ok(json) => self.queue(Op::Here(info.visitor_id.clone(), json)),
            Err(e) => tracing::error!(error = %e, "could not encode a visitor entry"),
        }
    }

    fn visitor_gone(&self, visitor_id: &str) {
        self.queue(Op::Gone(visitor_id.to_owned()));
    }

    async fn online_elsewhere(&self) -> Vec<VisitorInfo> {
        let read = async {
            let nodes = self.live_nodes().await?;
            if nodes.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for n in &nodes {
                pipe.hvals(self.keys.presence(*n));
            }
            let per_node: Vec<Vec<String>> = pipe.query_async(&mut self.conn.clone()).await?;
            Ok::<_, redis::RedisError>(per_node)
        };
        match read.await {
            Ok(per_node) => per_node.iter().flatten().filter_map(|j| serde_json::from_str(j).ok()).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read other nodes' visitors from Redis");
                Vec::new()
            }
        }
    }

    fn support_here(&self, coverage: &super::Coverage) {
        self.queue(Op::Support(coverage.encode()));
    }

    async fn support_elsewhere(&self) -> super::Coverage {
        let read = async {
            let nodes = self.live_nodes().await?;
            if nodes.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = nodes.iter().map(|n| self.keys.support(*n)).collect();
            redis::cmd("MGET").arg(&keys).query_async::<Vec<Option<String>>>(&mut self.conn.clone()).await
        };
        let mut all = super::Coverage::default();
        match read.await {
            Ok(per_node) => per_node.iter().flatten().for_each(|s| all.merge(super::Coverage::decode(s))),
            Err(e) => tracing::warn!(error = %e, "could not read which sites other nodes' consultants cover"),
        }
        all
    }

    async fn is_online_elsewhere(&self, visitor_id: &str) -> bool {
        let read = async {
            let nodes = self.live_nodes().await?;
            if nodes.is_empty() {
                return Ok(false);
            }
            let mut pipe = redis::pipe();
            for n in &nodes {
                pipe.hexists(self.keys.presence(*n), visitor_id);
            }
            let found: Vec<bool> = pipe.query_async(&mut self.conn.clone()).await?;
            Ok::<_, redis::RedisError>(found.into_iter().any(|f| f))
        };
        read.await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not ask Redis whether a visitor is online elsewhere");
            false
        })
    }

    async fn node_of(&self, visitor_id: &str) -> Option<NodeId> {
        let read = async {
            let nodes = self.live_nodes().await?;
            if nodes.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for n in &nodes {
                pipe.hget(self.keys.presence(*n), visitor_id);
            }
            let entries: Vec<Option<String>> = pipe.query_async(&mut self.conn.clone()).await?;
            Ok::<_, redis::RedisError>(nodes.into_iter().zip(entries).collect::<Vec<_>>())
        };
        let found = read.await.inspect_err(|e| tracing::warn!(error = %e, "could not ask Redis where a visitor is")).ok()?;
        found
            .into_iter()
            .filter_map(|(n, e)| Some((n, serde_json::from_str::<VisitorInfo>(&e?).ok()?)))
            .filter(|(_, v)| v.online)
            .max_by_key(|(_, v)| v.last_seen)
            .map(|(n, _)| n)
    }

    fn screen_frame(&self, visitor_id: &str, frame: Bytes, keyframe: bool) {
        self.queue(Op::Screen { visitor_id: visitor_id.to_owned(), frame, keyframe });
    }

    fn screen_clear(&self, visitor_id: &str) {
        self.queue(Op::ScreenClear(visitor_id.to_owned()));
    }

    fn screen_follow(&self, visitor_id: &str) {
        let _ = self.follow.send(Follow::Start(visitor_id.to_owned()));
    }

    fn screen_unfollow(&self, visitor_id: &str) {
        let _ = self.follow.send(Follow::Stop(visitor_id.to_owned()));
    }

    async fn screen_followed_elsewhere(&self, visitor_id: &str) -> bool {
        let counted: redis::RedisResult<(String, u64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(self.keys.screen_channel(visitor_id))
            .query_async(&mut self.conn.clone())
            .await;
        // Unknown counts as followed: a broadcast is not ended on a failed read.
        counted.map_or(true, |(_, n)| n > 0)
    }

    fn broadcast_start(&self, visitor_id: &str, tab_id: &str, state: String) {
        self.queue(Op::BroadcastStart { visitor_id: visitor_id.to_owned(), tab_id: tab_id.to_owned(), state });
    }

    fn broadcast_update(&self, visitor_id: &str, state: String) {
        self.queue(Op::BroadcastUpdate { visitor_id: visitor_id.to_owned(), state });
    }

    fn broadcast_end(&self, visitor_id: &str) {
        self.queue(Op::BroadcastEnd(visitor_id.to_owned()));
    }

    async fn broadcast_take(&self, visitor_id: &str, tab_id: &str) -> Option<(NodeId, String)> {
        let taken: redis::RedisResult<Option<(NodeId, String)>> = redis::cmd("EVAL")
            .arg(TAKE)
            .arg(1)
            .arg(self.keys.broadcast(visitor_id))
            .arg(tab_id)
            .arg(self.node)
            .query_async(&mut self.conn.clone())
            .await;
        taken.inspect_err(|e| tracing::warn!(error = %e, "could not take over a broadcast in Redis")).ok().flatten()
    }

    async fn broadcast_record(&self, visitor_id: &str) -> Option<(NodeId, String)> {
        let record: redis::RedisResult<(Option<NodeId>, Option<String>)> = redis::cmd("HMGET")
            .arg(self.keys.broadcast(visitor_id))
            .arg("owner")
            .arg("state")
            .query_async(&mut self.conn.clone())
            .await;
        match record {
            Ok((Some(owner), Some(state))) => Some((owner, state)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a broadcast record from Redis");
                None
            }
        }
    }

    async fn broadcast_owned(&self, visitor_id: &str) -> bool {
        let owner: redis::RedisResult<Option<NodeId>> = self.conn.clone().hget(self.keys.broadcast(visitor_id), "owner").await;
        // Unknown counts as owned: the node goes on as if alone.
        owner.map_or(true, |o| o.is_none_or(|o| o == self.node))
    }

    async fn login_attempt(
        &self,
        address: &str,
        account: &str,
        per_address: u32,
        per_account: u32,
    ) -> Result<Option<String>, u64> {
        let keys = [(self.keys.logins_by_address(address), per_address), (self.keys.logins_by_account(account), per_account)];
        self.count_in_minute(&keys, "login attempt").await
    }

    async fn new_visitor(&self, address: &str, per_minute: u32) -> Result<(), u64> {
        self.count_in_minute(&[(self.keys.new_visitors(address), per_minute)], "new visitor").await.map(|_| ())
    }

    fn login_refund(&self, address: &str, account: &str, id: String) {
        self.queue(Op::LoginRefund {
            by_address: self.keys.logins_by_address(address),
            by_account: self.keys.logins_by_account(account),
            id,
        });
    }

    fn start(&self, deliver: Arc<dyn Fn(Envelope) + Send + Sync>, ctx: &Background) {
        let Some(rx) = self.ops_rx.lock().unwrap().take() else { return };
        if let Some(follow) = self.follow_rx.lock().unwrap().take() {
            let f = Follower {
                client: self.client.clone(),
                conn: self.conn.clone(),
                keys: self.keys.clone(),
                relay: ctx.relay.clone(),
                followed: Default::default(),
            };
            ctx.tasks.spawn(f.run(follow, ctx.shutdown.clone()));
        }
        let keys = &self.keys;
        ctx.tasks.spawn(write(rx, self.conn.clone(), keys.clone(), self.node, ctx.shutdown.clone()));
        let channels = [keys.bus(), keys.node_channel(self.node)];
        ctx.tasks.spawn(receive(self.client.clone(), channels, self.node, deliver, ctx.hub.clone(), ctx.shutdown.clone()));
        let beat =
            Beat { conn: self.conn.clone(), keys: keys.clone(), node: self.node, hub: ctx.hub.clone(), ops: self.ops.clone() };
        ctx.tasks.spawn(heartbeat(beat, ctx.shutdown.clone()));
    }
}

/// Writes queued operations in order, in pipelined batches. At shutdown it
/// keeps writing for a moment (closing sockets say goodbye), then takes the
/// node out of the cluster.
async fn write(
    mut rx: mpsc::Receiver<Op>,
    mut conn: ConnectionManager,
    keys: Keys,
    node: NodeId,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let (bus, key) = (keys.bus(), keys.presence(node));
    let mut batch = Vec::with_capacity(256);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let got = match deadline {
            None => tokio::select! {
                n = rx.recv_many(&mut batch, 256) => n,
                _ = shutdown.cancelled() => {
                    deadline = Some(tokio::time::Instant::now() + Duration::from_millis(700));
                    continue;
                }
            },
            // Past the deadline: done.
            Some(d) => tokio::time::timeout_at(d, rx.recv_many(&mut batch, 256)).await.unwrap_or(0),
        };
        if got == 0 {
            break;
        }
        let mut pipe = redis::pipe();
        for op in batch.drain(..) {
            match op {
                Op::Publish(b) => pipe.publish(&bus, b.as_ref()).ignore(),
                Op::PublishTo(n, b) => pipe.publish(keys.node_channel(n), b.as_ref()).ignore(),
                Op::Here(id, json) => pipe.hset(&key, id, json).ignore(),
                Op::Gone(id) => pipe.hdel(&key, id).ignore(),
                Op::Support(sites) => pipe
                    .set_options(
                        keys.support(node),
                        sites,
                        redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ttl_ms())),
                    )
                    .ignore(),
                Op::Rewrite(all) => {
                    pipe.del(&key).ignore();
                    if !all.is_empty() {
                        pipe.hset_multiple(&key, &all).ignore();
                    }
                    &mut pipe
                }
                Op::Screen { visitor_id, frame, keyframe } => pipe
                    .cmd("EVAL")
                    .arg(APPEND)
                    .arg(3)
                    .arg(keys.frames(&visitor_id))
                    .arg(keys.epoch(&visitor_id))
                    .arg(keys.screen_channel(&visitor_id))
                    .arg(frame.as_ref())
                    .arg(if keyframe { "1" } else { "0" })
                    .arg(SCREEN_TTL_MS)
                    .ignore(),
                Op::BroadcastStart { visitor_id, tab_id, state } => {
                    let k = keys.broadcast(&visitor_id);
                    pipe.del(&k).ignore();
                    pipe.hset_multiple(&k, &[("owner", node.to_string()), ("tab_id", tab_id), ("state", state)]).ignore();
                    pipe.pexpire(&k, BROADCAST_TTL_MS as i64).ignore()
                }
                Op::BroadcastUpdate { visitor_id, state } => pipe
                    .cmd("EVAL")
                    .arg(UPDATE)
                    .arg(1)
                    .arg(keys.broadcast(&visitor_id))
                    .arg(node)
                    .arg(state)
                    .arg(BROADCAST_TTL_MS)
                    .ignore(),
                Op::BroadcastEnd(visitor_id) => {
                    pipe.cmd("EVAL").arg(END).arg(1).arg(keys.broadcast(&visitor_id)).arg(node).ignore()
                }
                Op::LoginRefund { by_address, by_account, id } => {
                    pipe.zrem(by_address, &id).ignore();
                    pipe.zrem(by_account, &id).ignore()
                }
                Op::ScreenClear(visitor_id) => pipe
                    .cmd("EVAL")
                    .arg(CLEAR)
                    .arg(3)
                    .arg(keys.frames(&visitor_id))
                    .arg(keys.epoch(&visitor_id))
                    .arg(keys.screen_channel(&visitor_id))
                    .ignore(),
            };
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            metrics::counter!("chatcast_engine_write_errors_total").increment(1);
            tracing::warn!(error = %e, "a write to Redis failed; other nodes missed it");
        }
    }
    let _: redis::RedisResult<()> = redis::pipe()
        .del(keys.node(node))
        .del(&key)
        .del(keys.support(node))
        .srem(keys.nodes(), node)
        .query_async(&mut conn)
        .await;
}

/// Delivers what other nodes publish to all and to this node. When a lost subscription comes back,
/// this node's sockets reconnect to catch up from the database.
async fn receive(
    client: redis::Client,
    channels: [String; 2],
    node: NodeId,
    deliver: Arc<dyn Fn(Envelope) + Send + Sync>,
    hub: Arc<crate::hub::Hub>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let mut lost = false;
    loop {
        let run = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&channels).await?;
            if std::mem::take(&mut lost) {
                tracing::warn!("back in touch with the cluster: closing this node's sockets so that they catch up");
                hub.close_all(1012, "the server lost touch with the cluster for a moment; reconnecting");
            }
            backoff = Duration::from_millis(100);
            let mut stream = ps.on_message();
            while let Some(msg) = stream.next().await {
                metrics::counter!("chatcast_engine_received_total").increment(1);
                match Envelope::decode(Bytes::copy_from_slice(msg.get_payload_bytes())) {
                    Ok(e) if e.origin != node => deliver(e),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "dropped a message on the cluster channel"),
                }
            }
            Ok::<_, redis::RedisError>(())
        };
        let outcome = tokio::select! {
            r = run => r,
            _ = shutdown.cancelled() => return,
        };
        lost = true;
        metrics::counter!("chatcast_engine_disconnects_total").increment(1);
        match outcome {
            Ok(()) => tracing::warn!("the Redis subscription ended; subscribing again"),
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to Redis; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// What the heartbeat needs.
struct Beat {
    conn: ConnectionManager,
    keys: Keys,
    node: NodeId,
    hub: Arc<crate::hub::Hub>,
    ops: mpsc::Sender<Op>,
}

/// Says this node is alive every [`HEARTBEAT`]; rewrites its presence if Redis lost it; sweeps dead nodes.
async fn heartbeat(mut b: Beat, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = b.beat().await {
            metrics::counter!("chatcast_engine_write_errors_total").increment(1);
            tracing::warn!(error = %e, "heartbeat to Redis failed");
        }
    }
}

impl Beat {
    async fn beat(&mut self) -> redis::RedisResult<()> {
        let (keys, node, conn) = (&self.keys, self.node, &mut self.conn);
        let opts = redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(ttl_ms())).get(true);
        let (_, was): ((), Option<String>) =
            redis::pipe().sadd(keys.nodes(), node).set_options(keys.node(node), 1, opts).query_async(conn).await?;
        if was.is_none() {
            // Redis restarted empty, or this node was taken for dead: say again who is here.
            let here = self.hub.online_visitors();
            tracing::warn!(visitors = here.len(), "Redis had lost this node; announcing its visitors again");
            let all = here.iter().filter_map(|v| Some((v.visitor_id.clone(), serde_json::to_string(v).ok()?))).collect();
            // In order with the node's other writes.
            if self.ops.try_send(Op::Rewrite(all)).is_err() {
                metrics::counter!("chatcast_engine_dropped_total").increment(1);
            }
            for v in here {
                if let Ok(site) = v.site_id.parse() {
                    self.hub.to_consoles(site, &frame(&ConsoleOut::Visitor { visitor: v }));
                }
            }
        }
        let nodes: Vec<NodeId> = conn.smembers(keys.nodes()).await?;
        for n in nodes.into_iter().filter(|n| *n != node) {
            let alive: bool = conn.exists(keys.node(n)).await?;
            if alive {
                continue;
            }
            // One sweeper tells the consoles; the others see the claim.
            let claimed: Option<String> =
                redis::cmd("SET").arg(keys.reaped(n)).arg(node).arg("NX").arg("PX").arg(60_000).query_async(conn).await?;
            if claimed.is_none() {
                continue;
            }
            let entries: Vec<String> = conn.hvals(keys.presence(n)).await?;
            let _: () = redis::pipe().del(keys.presence(n)).srem(keys.nodes(), n).query_async(conn).await?;
            tracing::warn!(
                dead = format!("{n:016x}"),
                visitors = entries.len(),
                "a node stopped answering; its visitors are offline"
            );
            metrics::counter!("chatcast_engine_nodes_reaped_total").increment(1);
            for mut v in entries.iter().filter_map(|j| serde_json::from_str::<VisitorInfo>(j).ok()) {
                if self.hub.is_online(&v.visitor_id) || self.hub.engine().is_online_elsewhere(&v.visitor_id).await {
                    continue;
                }
                v.online = false;
                v.online_since = None;
                v.screencast = ScreencastState::Unavailable;
                if let Ok(site) = v.site_id.parse() {
                    self.hub.to_consoles(site, &frame(&ConsoleOut::Visitor { visitor: v }));
                }
            }
        }
        Ok(())
    }
}

/// Where a followed broadcast's frames stand on this node.
#[derive(Clone, Copy, Default)]
struct Cursor {
    epoch: u64,
    offset: u64,
}

/// Feeds the frames of broadcasts that run on other nodes into this node's
/// relay, for its viewers: on follow, the kept keyframe and deltas; then each
/// new frame in order. A frame out of order (a gap: the subscription dropped
/// something) reloads the kept frames; a lost subscription resubscribes and reloads.
struct Follower {
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
    relay: Arc<crate::relay::Relay>,
    followed: std::collections::HashMap<String, Cursor>,
}

impl Follower {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Follow>, shutdown: tokio_util::sync::CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = tokio::select! {
                r = self.serve(&mut cmds) => r,
                _ = shutdown.cancelled() => return,
            };
            match outcome {
                Ok(false) => return,
                Ok(true) => tracing::warn!("the screen subscription ended; subscribing again"),
                Err(e) => tracing::warn!(error = %e, "screen subscription to Redis failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One subscription's life. Ok(true): it ended and should be made again; Ok(false): no more commands.
    async fn serve(&mut self, cmds: &mut mpsc::UnboundedReceiver<Follow>) -> redis::RedisResult<bool> {
        let (mut sink, mut stream) = self.client.get_async_pubsub().await?.split();
        let again: Vec<String> = self.followed.keys().cloned().collect();
        for v in again {
            sink.subscribe(self.keys.screen_channel(&v)).await?;
            self.load(&v).await?;
        }
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => return Ok(false),
                    Some(Follow::Start(v)) => {
                        if !self.followed.contains_key(&v) {
                            sink.subscribe(self.keys.screen_channel(&v)).await?;
                            self.load(&v).await?;
                        }
                    }
                    Some(Follow::Stop(v)) => {
                        if self.followed.remove(&v).is_some() {
                            sink.unsubscribe(self.keys.screen_channel(&v)).await?;
                        }
                    }
                },
                msg = stream.next() => {
                    let Some(msg) = msg else { return Ok(true) };
                    let prefix = self.keys.screen_channel("");
                    let Some(v) = msg.get_channel_name().strip_prefix(prefix.as_str()).map(str::to_owned) else { continue };
                    self.frame(&v, msg.get_payload_bytes()).await?;
                }
            }
        }
    }

    /// Replaces what the relay holds of `v` with what Redis keeps.
    async fn load(&mut self, v: &str) -> redis::RedisResult<()> {
        let (epoch, frames): (String, Vec<Vec<u8>>) = redis::cmd("EVAL")
            .arg(READ)
            .arg(2)
            .arg(self.keys.frames(v))
            .arg(self.keys.epoch(v))
            .query_async(&mut self.conn)
            .await?;
        self.relay.clear(v);
        let n = frames.len() as u64;
        for f in frames {
            self.relay.publish(v, Bytes::from(f));
        }
        self.followed.insert(v.to_owned(), Cursor { epoch: epoch.parse().unwrap_or(0), offset: n });
        Ok(())
    }

    /// One published frame `EPOCH:OFFSET:FRAME` of a followed broadcast.
    async fn frame(&mut self, v: &str, payload: &[u8]) -> redis::RedisResult<()> {
        let Some(cursor) = self.followed.get(v).copied() else { return Ok(()) };
        let mut parts = payload.splitn(3, |b| *b == b':');
        let mut number = || std::str::from_utf8(parts.next()?).ok()?.parse::<u64>().ok();
        let (Some(epoch), Some(offset)) = (number(), number()) else { return Ok(()) };
        let frame = payload.splitn(3, |b| *b == b':').nth(2).unwrap_or_default();
        if offset == 0 {
            // The broadcast's frames are void.
            self.relay.clear(v);
            self.followed.insert(v.to_owned(), Cursor::default());
        } else if epoch == cursor.epoch && offset <= cursor.offset {
            // Already had it from the kept frames.
        } else if (epoch == cursor.epoch && offset == cursor.offset + 1) || (epoch > cursor.epoch && offset == 1) {
            self.relay.publish(v, Bytes::copy_from_slice(frame));
            self.followed.insert(v.to_owned(), Cursor { epoch, offset });
        } else {
            metrics::counter!("chatcast_engine_screen_reloads_total").increment(1);
            self.load(v).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(super::redact("redis://user:secret@10.0.0.1:6379/2"), "redis://…@10.0.0.1:6379/2");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
