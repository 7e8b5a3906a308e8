//! Broadcasts across nodes. A broadcast runs on the node that holds the
//! broadcasting tab's chat socket; everything else reaches it there:
//!
//! - a consultant on another node asks through a [`NodeCommand`] sent to the
//!   node with the visitor's most recent tab; stops and keyframe requests go
//!   to every node, and the one that runs the broadcast acts;
//! - viewers on other nodes follow its frames through the engine;
//! - when the tab reconnects to another node (its next page, or its node
//!   died), that node takes the broadcast over from the record shared through
//!   the engine — the consultant, the pages seen so far — with no new
//!   consent, and tells the old node (if alive) to let go.

use serde::{Deserialize, Serialize};

use super::machine::Consultant;
use super::receipt::Receipt;
use crate::app::AppState;
use crate::engine::{Envelope, NodeId, Target};

/// Every node (as a command's target).
pub(super) const EVERY_NODE: NodeId = 0;

/// What one node asks another to do about a broadcast. Sent through the
/// engine, which only nodes of the cluster can publish to.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum NodeCommand {
    /// A consultant pressed the screencast button (for the node with the visitor's tab).
    Request {
        /// The visitor.
        visitor_id: String,
        /// The consultant's account.
        user_id: i64,
    },
    /// A consultant pressed stop (for the node that runs the broadcast).
    Stop {
        /// The visitor.
        visitor_id: String,
        /// The consultant's account.
        user_id: i64,
    },
    /// The visitor pressed stop in a tab of another node.
    VisitorStop {
        /// The visitor.
        visitor_id: String,
    },
    /// A node has a new viewer: the broadcasting tab sends a fresh keyframe.
    Keyframe {
        /// The visitor.
        visitor_id: String,
    },
    /// Another node took the broadcast over: let go of it, quietly.
    Released {
        /// The visitor.
        visitor_id: String,
    },
}

impl NodeCommand {
    fn visitor_id(&self) -> &str {
        match self {
            NodeCommand::Request { visitor_id, .. }
            | NodeCommand::Stop { visitor_id, .. }
            | NodeCommand::VisitorStop { visitor_id }
            | NodeCommand::Keyframe { visitor_id }
            | NodeCommand::Released { visitor_id } => visitor_id,
        }
    }
}

/// What another node needs to carry a live broadcast on, or to accept its
/// tab's screen socket.
#[derive(Serialize, Deserialize)]
pub(super) struct Shared {
    pub by: Consultant,
    pub receipt: Receipt,
    /// The current screen token: a screen socket that reaches another node
    /// with it is forwarded to the broadcast's node.
    pub token: String,
}

impl Shared {
    pub(super) fn json(by: &Consultant, receipt: &Receipt, token: &str) -> String {
        serde_json::to_string(&Shared { by: by.clone(), receipt: receipt.clone(), token: token.to_owned() }).unwrap_or_default()
    }
}

/// The other node that runs a live broadcast of this visitor, if one does.
pub(super) async fn owner_elsewhere(app: &AppState, visitor_id: &str) -> Option<NodeId> {
    let (owner, _) = app.hub.engine().broadcast_record(visitor_id).await?;
    (owner != app.hub.engine().node()).then_some(owner)
}

/// The node that runs the broadcast whose current screen token is `token`, if another node does.
pub(super) async fn owner_of_token(app: &AppState, visitor_id: &str, token: &str) -> Option<NodeId> {
    let (owner, state) = app.hub.engine().broadcast_record(visitor_id).await?;
    let shared: Shared = serde_json::from_str(&state).ok()?;
    (shared.token == token && owner != app.hub.engine().node()).then_some(owner)
}

/// Sends a command to `node` (or [`EVERY_NODE`]).
pub(super) fn send(app: &AppState, node: NodeId, cmd: NodeCommand) {
    let engine = app.hub.engine();
    let frame = serde_json::to_vec(&cmd).unwrap_or_default().into();
    engine.publish(Envelope { origin: engine.node(), target: Target::Node(node), frame });
}

/// Whether an envelope's target is this node.
pub fn is_for_me(app: &AppState, target: &Target) -> bool {
    matches!(target, Target::Node(n) if *n == EVERY_NODE || *n == app.hub.engine().node())
}

/// Runs a command another node sent here.
pub async fn run(app: AppState, bytes: &[u8]) {
    let cmd = match serde_json::from_slice::<NodeCommand>(bytes) {
        Ok(c) => c,
        Err(e) => return tracing::warn!(error = %e, "dropped a node command that does not parse"),
    };
    let visitor_id = cmd.visitor_id().to_owned();
    let has = || app.broadcasts.phase(&visitor_id).is_some();
    match cmd {
        NodeCommand::Request { user_id, .. } => {
            if let Some(user) = consultant(&app, user_id).await {
                super::request_here(&app, &user, &visitor_id).await;
            }
        }
        NodeCommand::Stop { user_id, .. } => {
            if has()
                && let Some(user) = consultant(&app, user_id).await
            {
                super::stop_by_consultant(&app, &user, &visitor_id).await;
            }
        }
        NodeCommand::VisitorStop { .. } => {
            if has() {
                super::stop_by_visitor(&app, &visitor_id).await;
            }
        }
        NodeCommand::Keyframe { .. } => super::ask_keyframe(&app, &visitor_id),
        NodeCommand::Released { .. } => super::released(&app, &visitor_id).await,
    }
}

async fn consultant(app: &AppState, user_id: i64) -> Option<crate::storage::User> {
    match app.db.user(user_id).await {
        Ok(Some(u)) if !u.disabled => Some(u),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "user lookup for a node command failed");
            None
        }
    }
}
