//! The engine of a single node: there is no other node to tell or to ask.

use std::sync::Arc;

use async_trait::async_trait;
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

    async fn is_online_elsewhere(&self, _: &str) -> bool {
        false
    }

    fn start(&self, _: Arc<dyn Fn(Envelope) + Send + Sync>, _: &Background) {}
}
