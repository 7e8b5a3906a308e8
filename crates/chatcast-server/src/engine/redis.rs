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
    /// The claim of the node that tells the consoles about a dead one.
    fn reaped(&self, n: NodeId) -> String {
        format!("{}:reaped:{n:016x}", self.0)
    }
}

enum Op {
    Publish(Bytes),
    Here(String, String),
    Gone(String),
    /// This node's whole presence, replacing what Redis holds.
    Rewrite(Vec<(String, String)>),
}

/// Why the Redis engine could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot use Redis at {url}: {source}")]
pub struct EngineError {
    url: String,
    source: redis::RedisError,
}

/// One node of a cluster sharing a Redis.
pub struct RedisEngine {
    node: NodeId,
    keys: Keys,
    client: redis::Client,
    conn: ConnectionManager,
    ops: mpsc::Sender<Op>,
    ops_rx: Mutex<Option<mpsc::Receiver<Op>>>,
}

impl RedisEngine {
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
        tracing::info!(node = format!("{node:016x}"), "joined the cluster through Redis");
        Ok(RedisEngine { node, keys, client, conn, ops, ops_rx: Mutex::new(Some(rx)) })
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
        self.queue(Op::Publish(envelope.encode()));
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

    async fn is_online_elsewhere(&self, visitor_id: &str) -> bool {
        let read = async {
            let nodes = self.live_nodes().await?;
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

    fn start(&self, deliver: Arc<dyn Fn(Envelope) + Send + Sync>, ctx: &Background) {
        let Some(rx) = self.ops_rx.lock().unwrap().take() else { return };
        let keys = &self.keys;
        ctx.tasks.spawn(write(rx, self.conn.clone(), keys.clone(), self.node, ctx.shutdown.clone()));
        ctx.tasks.spawn(receive(self.client.clone(), keys.bus(), self.node, deliver, ctx.hub.clone(), ctx.shutdown.clone()));
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
                Op::Here(id, json) => pipe.hset(&key, id, json).ignore(),
                Op::Gone(id) => pipe.hdel(&key, id).ignore(),
                Op::Rewrite(all) => {
                    pipe.del(&key).ignore();
                    if !all.is_empty() {
                        pipe.hset_multiple(&key, &all).ignore();
                    }
                    &mut pipe
                }
            };
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            metrics::counter!("chatcast_engine_write_errors_total").increment(1);
            tracing::warn!(error = %e, "a write to Redis failed; other nodes missed it");
        }
    }
    let _: redis::RedisResult<()> =
        redis::pipe().del(keys.node(node)).del(&key).srem(keys.nodes(), node).query_async(&mut conn).await;
}

/// Delivers what other nodes publish. When a lost subscription comes back,
/// this node's sockets reconnect to catch up from the database.
async fn receive(
    client: redis::Client,
    bus: String,
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
            ps.subscribe(&bus).await?;
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
                self.hub.to_consoles(&frame(&ConsoleOut::Visitor { visitor: v }));
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
                self.hub.to_consoles(&frame(&ConsoleOut::Visitor { visitor: v }));
            }
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
