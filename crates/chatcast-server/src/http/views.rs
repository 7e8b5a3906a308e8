//! What the HTTP API answers (the types of `chatcast_protocol::api`, shared
//! with the console), made from what storage holds.

use chatcast_protocol::Me;
use chatcast_protocol::api::{self, Role};

use crate::storage::{self, SessionInfo};

fn role(r: storage::Role) -> Role {
    match r {
        storage::Role::Admin => Role::Admin,
        storage::Role::Consultant => Role::Consultant,
    }
}

/// A site, as an admin sees it.
pub fn site(s: &storage::Site) -> api::Site {
    api::Site {
        id: s.id.to_string(),
        name: s.name.clone(),
        key: s.key.clone(),
        origins: s.origins.clone(),
        is_demo: s.is_demo,
        privacy: s.privacy.clone(),
        consent_ttl_hours: s.consent_ttl_hours,
        widget: s.widget.clone(),
        created_at: s.created_at,
    }
}

/// An account, as an admin sees it.
pub fn user(u: &storage::User, sites: Option<Vec<i64>>) -> api::User {
    api::User {
        id: u.id.to_string(),
        email: u.email.clone(),
        name: u.name.clone(),
        role: role(u.role),
        disabled: u.disabled,
        sites: sites.map(|ids| ids.iter().map(i64::to_string).collect()),
    }
}

/// The logged-in account, as it sees itself (also in the console socket's snapshot).
pub fn me(u: &storage::User) -> Me {
    Me { id: u.id.to_string(), email: u.email.clone(), name: u.name.clone(), role: u.role.as_str().into() }
}

/// The enabled accounts, as teammates a conversation can be handed to.
pub fn team(users: Vec<storage::User>) -> Vec<chatcast_protocol::Teammate> {
    users
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| chatcast_protocol::Teammate { id: u.id.to_string(), name: u.name })
        .collect()
}

/// One of the caller's sessions; `current`: the one it asks with.
pub fn session(s: &SessionInfo, current: bool) -> api::Session {
    api::Session {
        id: s.id.clone(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        client_ip: s.client_ip.clone(),
        user_agent: s.user_agent.clone(),
        current,
    }
}
