//! Whether someone can answer: a site's support is online while a console of
//! a consultant who works on the site is open on any node. The widget says so
//! in its `welcome`, and gets a `support` frame when it changes; while nobody
//! is online it asks for an email address, and answers written while the
//! visitor is away go there (see [`crate::mail`]).
//!
//! Each node writes the sites its consoles cover to the engine and reads the
//! other nodes' every [`TICK`]; a console that opens here counts at once. A
//! site stays online for [`GRACE`] after its last console closed, so that a
//! consultant reloading the console does not flip every widget to "away".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chatcast_protocol::{VisitorOut, frame};
use tokio::sync::Notify;

use crate::app::AppState;
use crate::engine::Coverage;
use crate::hub::Hub;

/// How often other nodes' consoles are read and widgets told of changes.
pub const TICK: Duration = Duration::from_secs(2);
/// How long a site counts as online after its last console closed.
pub const GRACE: Duration = Duration::from_secs(10);

/// What this node knows of which sites have someone online.
#[derive(Default)]
pub struct Support {
    inner: Mutex<Inner>,
    poke: Notify,
}

#[derive(Default)]
struct Inner {
    /// What other nodes' consoles covered at the last tick.
    elsewhere: Coverage,
    /// When each site was last seen covered.
    covered_at: HashMap<i64, Instant>,
    /// What this node's widgets of each site were last told.
    told: HashMap<i64, bool>,
}

impl Support {
    /// Whether a consultant of the site is online (or was, within [`GRACE`]),
    /// for a widget's `welcome`: the site's widgets here count as told so.
    pub fn welcome(&self, hub: &Hub, site_id: i64) -> bool {
        let mut inner = self.inner.lock().unwrap();
        let online = inner.elsewhere.covers(site_id)
            || hub.coverage().covers(site_id)
            || inner.covered_at.get(&site_id).is_some_and(|t| t.elapsed() < GRACE);
        *inner.told.entry(site_id).or_insert(online)
    }

    /// A console opened or closed here: look again now.
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

/// Keeps the widgets of this node told whether their site's support is online, until shutdown.
pub async fn watch(state: AppState) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.support.poke.notified() => {}
            _ = state.shutdown.cancelled() => return,
        }
        let here = state.hub.coverage();
        let engine = state.hub.engine();
        engine.support_here(&here);
        let elsewhere = engine.support_elsewhere().await;
        let changed: Vec<(i64, bool)> = {
            let mut inner = state.support.inner.lock().unwrap();
            let now = Instant::now();
            let sites = state.hub.visitor_sites();
            for site in &sites {
                if here.covers(*site) || elsewhere.covers(*site) {
                    inner.covered_at.insert(*site, now);
                }
            }
            inner.elsewhere = elsewhere;
            inner.covered_at.retain(|_, t| t.elapsed() < GRACE);
            inner.told.retain(|site, _| sites.contains(site));
            let mut changed = Vec::new();
            for site in sites {
                let online = inner.covered_at.contains_key(&site);
                if inner.told.insert(site, online) != Some(online) {
                    changed.push((site, online));
                }
            }
            changed
        };
        for (site, online) in changed {
            state.hub.to_site_visitors_here(site, &frame(&VisitorOut::Support { online }));
        }
    }
}
