//! The engine of a single node: there is no other node to tell or to ask.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chatcast_protocol::VisitorInfo;

use super::{Background, Engine, Envelope, NodeId};

/// One node alone (the default, without `--redis-url`).
pub struct MemoryEngine {
    node: NodeId,
}

impl MemoryEngine {
    /// A lone node's engine.
    pub fn new() -> Self {
        MemoryEngine { node: super::new_node_id() }
    }
}

impl Default for MemoryEngine {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Engine for MemoryEngine {
    fn node(&self) -> NodeId {
        self.node
    }

    fn publish(&self, _: Envelope) {}

    fn visitor_here(&self, _: &VisitorInfo) {}

    fn visitor_gone(&self, _: &str) {}

    async fn online_elsewhere(&self) -> Vec<VisitorInfo> {
        Vec::new()
    }

    fn support_here(&self, _: &super::Coverage) {}

    async fn support_elsewhere(&self) -> super::Coverage {
        super::Coverage::default()
    }

    async fn is_online_elsewhere(&self, _: &str) -> bool {
        false
    }

    async fn node_of(&self, _: &str) -> Option<NodeId> {
        None
    }

    fn screen_frame(&self, _: &str, _: Bytes, _: bool) {}

    fn screen_clear(&self, _: &str) {}

    fn screen_follow(&self, _: &str) {}

    fn screen_unfollow(&self, _: &str) {}

    async fn screen_followed_elsewhere(&self, _: &str) -> bool {
        false
    }

    fn broadcast_start(&self, _: &str, _: &str, _: String) {}

    fn broadcast_update(&self, _: &str, _: String) {}

    fn broadcast_end(&self, _: &str) {}

    async fn broadcast_take(&self, _: &str, _: &str) -> Option<(NodeId, String)> {
        None
    }

    async fn broadcast_record(&self, _: &str) -> Option<(NodeId, String)> {
        None
    }

    async fn broadcast_owned(&self, _: &str) -> bool {
        true
    }

    async fn login_attempt(&self, _: &str, _: &str, _: u32, _: u32) -> Result<Option<String>, u64> {
        Ok(None)
    }

    async fn new_visitor(&self, _: &str, _: u32) -> Result<(), u64> {
        Ok(())
    }

    fn login_refund(&self, _: &str, _: &str, _: String) {}

    fn start(&self, _: Arc<dyn Fn(Envelope) + Send + Sync>, _: &Background) {}
}
