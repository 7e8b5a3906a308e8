//! The life of one visitor's screen broadcast as data: a [`Phase`] (none:
//! idle), the [`Event`]s that move it, and one pure function, [`step`], that
//! says what the next phase is and which [`Effect`]s follow, in order. No
//! sockets, clocks or storage here: the caller gathers what an event needs
//! (the tab, a fresh id, the time), keeps the phase under its lock, and runs
//! the effects (see [`super`]).
//!
//! ```text
//!        request            consent known / answer yes        probe passes
//! idle ───────────▶ pending ──────────────────────────▶ probing ────────────▶ active
//!   ▲                  │ no / timeout / stop                │ weak / timeout     │ stop (either side), nobody
//!   └──────────────────┴────────────────────────────────────┴────────────────────┘ watching, tab gone, overflow
//! ```
//! A live broadcast survives its tab's page loads (the same tab id comes
//! back: resumed with a new screen token) and moves between nodes with it
//! (adopted from the shared record; the old node is released).

use serde::{Deserialize, Serialize};

use super::receipt::Receipt;
use crate::engine::NodeId;
use crate::transport::ConnId;
use chatcast_protocol::{MessageKind, NoticeReason, ScreencastState};

/// The consultant who asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultant {
    /// Account id.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// A live broadcast's screen token and the tab (its chat socket) it was given to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The token of `screencast_start`.
    pub token: String,
    /// The tab it was given to.
    pub tab: ConnId,
}

/// A visitor's broadcast phase. Times are milliseconds of the caller's monotonic clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Asked: waiting for the remembered consent to be looked up, or for the visitor's answer.
    Pending {
        /// The request's id (the consent block carries it).
        request_id: String,
        /// Who asked.
        by: Consultant,
        /// The tab asked (the visitor's most recent).
        tab: ConnId,
        /// Its tab id.
        tab_id: Option<String>,
    },
    /// Measuring the tab's connection before anything is recorded.
    Probing {
        /// The tab measured.
        tab: ConnId,
        /// Its tab id.
        tab_id: Option<String>,
        /// Who asked.
        by: Consultant,
        /// The probe's id.
        probe_id: String,
        /// When the probe was sent.
        sent: u64,
        /// The echo's round trip, once back.
        rtt: Option<u64>,
    },
    /// Recording.
    Active {
        /// The broadcasting tab's chat socket (none while it is between pages).
        tab: Option<ConnId>,
        /// Its tab id.
        tab_id: Option<String>,
        /// Who is viewing.
        by: Consultant,
        /// Since when nobody on this node watches (none: someone does).
        idle_since: Option<u64>,
        /// The current screen token.
        link: Option<Link>,
        /// What it showed so far.
        receipt: Receipt,
    },
}

impl Phase {
    /// The consultant who asked.
    pub fn by(&self) -> &Consultant {
        match self {
            Phase::Pending { by, .. } | Phase::Probing { by, .. } | Phase::Active { by, .. } => by,
        }
    }

    /// The console button's state for this phase.
    pub fn state(&self) -> ScreencastState {
        match self {
            Phase::Pending { .. } | Phase::Probing { .. } => ScreencastState::Pending,
            Phase::Active { .. } => ScreencastState::Active,
        }
    }
}

/// The timing and thresholds [`step`] decides by.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Round trips above this (ms) are a weak connection.
    pub weak_rtt_ms: u64,
    /// Uploads slower than this (kbit/s) are a weak connection.
    pub weak_upload_kbps: u32,
    /// Seconds a request waits for an answer (for the line that says it expired).
    pub request_timeout_secs: u64,
    /// Seconds a probe may go unanswered.
    pub probe_timeout_secs: u64,
    /// Milliseconds of nobody watching, or of the tab gone, before recording stops.
    pub idle_grace_ms: u64,
}

/// What happens to a visitor's broadcast.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A consultant pressed the button; `latest`: the visitor's most recent tab here.
    Request { by: Consultant, request_id: String, latest: Option<(ConnId, Option<String>)> },
    /// Whether the asked tab's consent is remembered (`None`: the lookup failed).
    ConsentKnown { request_id: String, remembered: Option<bool>, probe_id: String },
    /// The visitor answered in one of its tabs.
    Answer { request_id: String, tab: ConnId, tab_id: Option<String>, allow: bool, probe_id: String },
    /// The request's time ran out.
    RequestExpired { request_id: String },
    /// The tab echoed the probe.
    ProbeEcho { tab: ConnId, probe_id: String },
    /// The tab's upload probe arrived: decide. `token`: the new screen token, `page`: the tab's URL.
    ProbeUpload { tab: ConnId, bytes: usize, token: String, page: Option<String>, wall_ms: i64 },
    /// The probe's time ran out.
    ProbeExpired { probe_id: String },
    /// The tab's agent cannot record.
    Unavailable { tab: ConnId, detail: String },
    /// A consultant pressed stop.
    StopByConsultant { by: Consultant },
    /// The visitor pressed stop.
    StopByVisitor,
    /// A tab said hello; `token`: a screen token for it if it resumes the broadcast.
    TabJoined { tab: ConnId, tab_id: Option<String>, token: String, page: Option<String> },
    /// A tab's chat socket closed.
    TabLeft { tab: ConnId },
    /// The broadcasting tab did not come back in time; `owned`: this node still owns the broadcast.
    TabGoneExpired { owned: bool },
    /// The tab came back to this node and its broadcast's record was taken over from node `from`.
    /// `from`: the node that owned it, if another one.
    Adopt {
        tab: ConnId,
        tab_id: String,
        token: String,
        by: Consultant,
        receipt: Receipt,
        page: Option<String>,
        from: Option<NodeId>,
    },
    /// Another node took this broadcast over.
    Released,
    /// A viewer on this node started watching.
    Watched,
    /// This node's last viewer stopped watching.
    Unwatched,
    /// The nobody-watching timer fired; `followed_elsewhere`: other nodes have viewers.
    IdleExpired { followed_elsewhere: bool },
    /// The broadcast's frames went past a relay bound.
    Overflow { reason: String },
    /// The broadcasting tab moved to another URL without a page load.
    PageMoved { tab: ConnId, url: String },
    /// The broadcasting tab counted what stays hidden.
    HiddenCounted { tab: ConnId, fields: u32, areas: u32 },
}

/// A timer [`step`] asks for; when it fires, the caller sends the matching event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// → [`Event::RequestExpired`].
    Request(String),
    /// → [`Event::ProbeExpired`].
    Probe(String),
    /// → [`Event::TabGoneExpired`].
    TabGone,
    /// → [`Event::IdleExpired`].
    Idle,
}

/// What follows a step, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Tell every console the button's state (and note it in the visitor's list entry).
    State(ScreencastState),
    /// Idle, or unavailable if the visitor is offline.
    StateIdle,
    /// It could not happen or it ended: transcript line, audit, notice to consoles, idle.
    Fail { reason: NoticeReason, detail: String, by: Option<Consultant> },
    /// An audit row, and a system line in the dialog if `line` (its kind, and the consultant's wording).
    Record { by: Option<Consultant>, event: &'static str, detail: String, line: Option<(MessageKind, String)> },
    /// Look up whether the tab's consent is remembered (→ [`Event::ConsentKnown`]).
    LookupConsent { request_id: String, tab_id: Option<String> },
    /// Show the consent block in every tab.
    AskConsent { request_id: String, by_name: String },
    /// Hide the consent block in every tab but `except`.
    CloseConsent { request_id: String, except: Option<ConnId> },
    /// Remember the consent of the tab that gave it, and record it (with the outcome).
    Remember { tab_id: Option<String>, by: Consultant },
    /// Revoke the visitor's remembered consent.
    RevokeConsent,
    /// Send the connection probe to the tab.
    Probe { tab: ConnId, probe_id: String },
    /// Tell the tab to record, with its screen token.
    StartTab { tab: ConnId, token: String, by_name: String },
    /// Tell the tab to stop (`None`: every tab; it may be between pages).
    StopTab { tab: Option<ConnId>, reason: &'static str },
    /// Close the broadcast's screen socket (the link it belonged to is gone).
    CloseScreen(&'static str),
    /// Forget the broadcast's frames here and on every node that follows it.
    ForgetFrames,
    /// Write the receipt into the dialog.
    Receipt { by_name: String, receipt: Receipt },
    /// Share the live broadcast's record (start: with its tab id).
    Share { tab_id: Option<String>, start: bool },
    /// The live broadcast ended: its shared record goes.
    Unshare,
    /// Tell the node the broadcast was adopted from to let go.
    Release(NodeId),
    /// Let go of a broadcast another node took over: no word to the consoles;
    /// follow it if this node has viewers.
    LetGo,
    /// Try to take over the broadcast of this tab from another node (→ [`Event::Adopt`]).
    TryAdopt { tab: ConnId, tab_id: String },
    /// Start a timer.
    Start(Timer),
}

/// The outcome of a step: the next phase (`None`: idle) and the effects.
#[derive(Debug, PartialEq)]
pub struct Step {
    /// The phase after the event.
    pub next: Option<Phase>,
    /// What follows, in order.
    pub effects: Vec<Effect>,
}

fn stay(phase: Option<&Phase>, effects: Vec<Effect>) -> Step {
    Step { next: phase.cloned(), effects }
}

fn fail(reason: NoticeReason, detail: impl Into<String>, by: &Consultant) -> Effect {
    Effect::Fail { reason, detail: detail.into(), by: Some(by.clone()) }
}

/// The effects of a broadcast that ends here: its tab stops, its frames go.
fn end(phase: &Phase, reason: &'static str) -> Vec<Effect> {
    let mut out = vec![Effect::CloseScreen("the screen broadcast ended")];
    match phase {
        Phase::Active { tab, .. } => out.push(Effect::StopTab { tab: *tab, reason }),
        Phase::Probing { tab, .. } => out.push(Effect::StopTab { tab: Some(*tab), reason }),
        Phase::Pending { .. } => {}
    }
    out.extend([Effect::ForgetFrames, Effect::StateIdle]);
    out
}

/// The receipt and the end of the shared record, for a phase that was live.
fn receipt(phase: &Phase) -> Vec<Effect> {
    match phase {
        Phase::Active { by, receipt, .. } => {
            vec![Effect::Unshare, Effect::Receipt { by_name: by.name.clone(), receipt: receipt.clone() }]
        }
        _ => Vec::new(),
    }
}

/// Probing starts: the probe goes to the tab, its timer runs.
fn probing(tab: ConnId, tab_id: Option<String>, by: Consultant, probe_id: String, now: u64) -> (Phase, Vec<Effect>) {
    let effects = vec![
        Effect::State(ScreencastState::Pending),
        Effect::Probe { tab, probe_id: probe_id.clone() },
        Effect::Start(Timer::Probe(probe_id.clone())),
    ];
    (Phase::Probing { tab, tab_id, by, probe_id, sent: now, rtt: None }, effects)
}

/// Says what `event` does to `phase` at time `now` (ms, monotonic).
pub fn step(phase: Option<&Phase>, event: Event, now: u64, limits: &Limits) -> Step {
    use Effect as E;
    match (phase, event) {
        // ---- asking
        (Some(p), Event::Request { .. }) => stay(phase, vec![E::State(p.state())]),
        (None, Event::Request { by, latest: None, .. }) => {
            Step { next: None, effects: vec![fail(NoticeReason::Offline, "the visitor has no open tab", &by)] }
        }
        (None, Event::Request { by, request_id, latest: Some((tab, tab_id)) }) => Step {
            effects: vec![
                E::State(ScreencastState::Pending),
                E::Record {
                    by: Some(by.clone()),
                    event: "requested",
                    detail: String::new(),
                    line: Some((MessageKind::Requested, format!("{} asked to see the visitor's tab", by.name))),
                },
                E::LookupConsent { request_id: request_id.clone(), tab_id: tab_id.clone() },
            ],
            next: Some(Phase::Pending { request_id, by, tab, tab_id }),
        },
        (Some(Phase::Pending { request_id: r, by, tab, tab_id }), Event::ConsentKnown { request_id, remembered, probe_id })
            if *r == request_id =>
        {
            match remembered {
                Some(true) => {
                    let (next, mut effects) = probing(*tab, tab_id.clone(), by.clone(), probe_id, now);
                    effects.insert(
                        0,
                        E::Record {
                            by: Some(by.clone()),
                            event: "granted",
                            detail: "remembered consent of this tab".into(),
                            line: None,
                        },
                    );
                    Step { next: Some(next), effects }
                }
                Some(false) => stay(
                    phase,
                    vec![
                        E::AskConsent { request_id: request_id.clone(), by_name: by.name.clone() },
                        E::Start(Timer::Request(request_id)),
                    ],
                ),
                None => Step { next: None, effects: vec![E::State(ScreencastState::Idle)] },
            }
        }
        (Some(Phase::Pending { request_id: r, by, .. }), Event::RequestExpired { request_id }) if *r == request_id => Step {
            next: None,
            effects: vec![
                E::CloseConsent { request_id, except: None },
                fail(NoticeReason::Timeout, format!("no answer within {} s", limits.request_timeout_secs), by),
            ],
        },
        (Some(Phase::Pending { request_id: r, by, .. }), Event::Answer { request_id, tab, tab_id, allow, probe_id })
            if *r == request_id =>
        {
            let mut effects = vec![E::CloseConsent { request_id, except: Some(tab) }];
            if !allow {
                effects.push(fail(NoticeReason::Denied, "the visitor pressed No", by));
                return Step { next: None, effects };
            }
            effects.push(E::Remember { tab_id: tab_id.clone(), by: by.clone() });
            let (next, more) = probing(tab, tab_id, by.clone(), probe_id, now);
            effects.extend(more);
            Step { next: Some(next), effects }
        }

        // ---- the connection probe
        (Some(Phase::Probing { tab: t, tab_id, by, probe_id, sent, rtt: None }), Event::ProbeEcho { tab, probe_id: id })
            if *t == tab && *probe_id == id =>
        {
            let next = Phase::Probing {
                tab,
                tab_id: tab_id.clone(),
                by: by.clone(),
                probe_id: id,
                sent: *sent,
                rtt: Some(now.saturating_sub(*sent)),
            };
            Step { next: Some(next), effects: Vec::new() }
        }
        (
            Some(Phase::Probing { tab: t, tab_id, by, sent, rtt: Some(rtt), .. }),
            Event::ProbeUpload { tab, bytes, token, page, wall_ms },
        ) if *t == tab => {
            // The upload began when the probe reached the tab (half a round trip) and the echo left; it ended now.
            let transfer_ms = now.saturating_sub(*sent).saturating_sub(*rtt).max(1);
            let kbps = (bytes as f64 * 8.0 / 1000.0) / (transfer_ms as f64 / 1000.0);
            let figures = format!("round trip {rtt} ms, upload {kbps:.0} kbit/s");
            if *rtt > limits.weak_rtt_ms || kbps < f64::from(limits.weak_upload_kbps) {
                let detail = format!("{figures}; needs ≤ {} ms and ≥ {} kbit/s", limits.weak_rtt_ms, limits.weak_upload_kbps);
                return Step { next: None, effects: vec![fail(NoticeReason::WeakConnection, detail, by)] };
            }
            let label = tab_label(tab_id.as_deref(), page.as_deref());
            let next = Phase::Active {
                tab: Some(tab),
                tab_id: tab_id.clone(),
                by: by.clone(),
                idle_since: Some(now),
                link: Some(Link { token: token.clone(), tab }),
                receipt: Receipt::new(wall_ms, page),
            };
            let effects = vec![
                E::ForgetFrames,
                E::Share { tab_id: tab_id.clone(), start: true },
                E::StartTab { tab, token, by_name: by.name.clone() },
                E::State(ScreencastState::Active),
                E::Record {
                    by: Some(by.clone()),
                    event: "started",
                    detail: format!("{figures}; {label}"),
                    line: Some((MessageKind::Started, format!("Screen broadcast started ({} is viewing)", by.name))),
                },
                E::Start(Timer::Idle),
            ];
            Step { next: Some(next), effects }
        }
        (Some(Phase::Probing { probe_id: p, by, .. }), Event::ProbeExpired { probe_id }) if *p == probe_id => Step {
            next: None,
            effects: vec![fail(
                NoticeReason::WeakConnection,
                format!("no answer to the connection probe within {} s", limits.probe_timeout_secs),
                by,
            )],
        },

        // ---- the agent cannot record
        (Some(p), Event::Unavailable { tab, detail }) => {
            let ours = match p {
                Phase::Pending { .. } => true,
                Phase::Probing { tab: t, .. } => *t == tab,
                Phase::Active { tab: t, .. } => *t == Some(tab),
            };
            if !ours {
                return stay(phase, Vec::new());
            }
            let mut effects = Vec::new();
            if let Phase::Pending { request_id, .. } = p {
                effects.push(E::CloseConsent { request_id: request_id.clone(), except: None });
            }
            effects.extend([
                E::CloseScreen("the recorder stopped: screen broadcast is not possible on this page"),
                E::ForgetFrames,
                fail(NoticeReason::Unsupported, detail, p.by()),
            ]);
            effects.extend(receipt(p));
            Step { next: None, effects }
        }

        // ---- stops
        (None, Event::StopByConsultant { .. }) => Step { next: None, effects: vec![E::StateIdle] },
        (Some(p), Event::StopByConsultant { by }) => {
            let mut effects = Vec::new();
            if let Phase::Pending { request_id, .. } = p {
                effects.push(E::CloseConsent { request_id: request_id.clone(), except: None });
            }
            effects.extend(end(p, "stopped_by_consultant"));
            effects.push(E::Record {
                line: Some((MessageKind::Stopped, format!("{} stopped the screen broadcast", by.name))),
                by: Some(by),
                event: "stopped",
                detail: "by the consultant".into(),
            });
            effects.extend(receipt(p));
            Step { next: None, effects }
        }
        (_, Event::StopByVisitor) => {
            let by = phase.map(|p| p.by().clone());
            let mut effects = vec![E::RevokeConsent];
            if let Some(p) = phase {
                effects.extend(end(p, "stopped_by_visitor"));
            }
            effects.push(E::Record {
                by: by.clone(),
                event: "consent_revoked",
                detail: "the visitor pressed Stop".into(),
                line: None,
            });
            effects.push(E::Fail { reason: NoticeReason::StoppedByVisitor, detail: "the visitor pressed Stop".into(), by });
            if let Some(p) = phase {
                effects.extend(receipt(p));
            }
            Step { next: None, effects }
        }

        // ---- the tab's comings and goings
        (
            Some(Phase::Active { tab_id: Some(want), by, receipt, .. }),
            Event::TabJoined { tab, tab_id: Some(id), token, page },
        ) if *want == id => {
            // Its next page (it may say hello before the old page's socket closed): resume, no new consent.
            let Some(Phase::Active { idle_since, .. }) = phase else { unreachable!() };
            let mut receipt = receipt.clone();
            if let Some(url) = page {
                receipt.page(url);
            }
            let next = Phase::Active {
                tab: Some(tab),
                tab_id: Some(id),
                by: by.clone(),
                idle_since: *idle_since,
                link: Some(Link { token: token.clone(), tab }),
                receipt,
            };
            let effects = vec![
                E::CloseScreen("the tab moved to another page"),
                E::Share { tab_id: None, start: false },
                E::State(ScreencastState::Active),
                E::ForgetFrames,
                E::StartTab { tab, token, by_name: by.name.clone() },
            ];
            Step { next: Some(next), effects }
        }
        (Some(p), Event::TabJoined { .. }) => stay(phase, vec![E::State(p.state())]),
        (None, Event::TabJoined { tab, tab_id: Some(tab_id), .. }) => stay(None, vec![E::TryAdopt { tab, tab_id }]),
        (None, Event::TabJoined { tab_id: None, .. }) => stay(None, Vec::new()),
        (None, Event::Adopt { tab, tab_id, token, by, mut receipt, page, from }) => {
            let label = tab_label(Some(&tab_id), page.as_deref());
            if let Some(url) = page {
                receipt.page(url);
            }
            let mut effects = Vec::new();
            if let Some(node) = from {
                effects.push(E::Release(node));
            }
            effects.extend([
                E::Share { tab_id: None, start: false },
                E::ForgetFrames,
                E::StartTab { tab, token: token.clone(), by_name: by.name.clone() },
                E::State(ScreencastState::Active),
                E::Record {
                    by: Some(by.clone()),
                    event: "resumed",
                    detail: format!("the tab reconnected to another server node; {label}"),
                    line: None,
                },
                E::Start(Timer::Idle),
            ]);
            let next = Phase::Active {
                tab: Some(tab),
                tab_id: Some(tab_id),
                by,
                idle_since: Some(now),
                link: Some(Link { token, tab }),
                receipt,
            };
            Step { next: Some(next), effects }
        }
        (Some(Phase::Active { .. }), Event::Released) => {
            Step { next: None, effects: vec![E::CloseScreen("the tab continues on another server node"), E::LetGo] }
        }
        (Some(Phase::Probing { tab: t, by, .. }), Event::TabLeft { tab }) if *t == tab => {
            Step { next: None, effects: vec![fail(NoticeReason::Offline, "the tab closed during the connection check", by)] }
        }
        (Some(Phase::Active { tab: Some(t), tab_id, by, idle_since, receipt, .. }), Event::TabLeft { tab }) if *t == tab => {
            // Its upload ends with it; the tab's next page gets a new token. It has the grace period to come back.
            let next = Phase::Active {
                tab: None,
                tab_id: tab_id.clone(),
                by: by.clone(),
                idle_since: *idle_since,
                link: None,
                receipt: receipt.clone(),
            };
            Step { next: Some(next), effects: vec![E::CloseScreen("the tab's chat socket closed"), E::Start(Timer::TabGone)] }
        }
        (Some(p @ Phase::Active { tab: None, by, .. }), Event::TabGoneExpired { owned }) => {
            if !owned {
                // Taken over by the node the tab came back to: it goes on there.
                return Step { next: None, effects: Vec::new() };
            }
            let secs = limits.idle_grace_ms / 1000;
            let mut effects = vec![
                E::ForgetFrames,
                fail(NoticeReason::Offline, format!("the visitor's tab did not come back within {secs} s"), by),
            ];
            effects.extend(receipt(p));
            Step { next: None, effects }
        }

        // ---- viewers
        (Some(Phase::Active { tab, tab_id, by, link, receipt, .. }), Event::Watched) => {
            let next = Phase::Active {
                tab: *tab,
                tab_id: tab_id.clone(),
                by: by.clone(),
                idle_since: None,
                link: link.clone(),
                receipt: receipt.clone(),
            };
            Step { next: Some(next), effects: Vec::new() }
        }
        (Some(Phase::Active { tab, tab_id, by, link, receipt, .. }), Event::Unwatched) => {
            let next = Phase::Active {
                tab: *tab,
                tab_id: tab_id.clone(),
                by: by.clone(),
                idle_since: Some(now),
                link: link.clone(),
                receipt: receipt.clone(),
            };
            Step { next: Some(next), effects: vec![E::Start(Timer::Idle)] }
        }
        (Some(p @ Phase::Active { idle_since: Some(t), by, .. }), Event::IdleExpired { followed_elsewhere })
            if now.saturating_sub(*t) >= limits.idle_grace_ms =>
        {
            if followed_elsewhere {
                // Viewers on other nodes: look again after another grace period.
                return stay(phase, vec![E::Start(Timer::Idle)]);
            }
            let mut effects = end(p, "no_viewers");
            effects.push(E::Record {
                by: Some(by.clone()),
                event: "stopped",
                detail: "nobody watched".into(),
                line: Some((MessageKind::NoViewers, "Screen broadcast stopped: nobody was watching".into())),
            });
            effects.extend(receipt(p));
            Step { next: None, effects }
        }
        (Some(p @ Phase::Active { .. }), Event::Overflow { reason }) => {
            let mut effects = end(p, "too_much_data");
            effects.push(fail(NoticeReason::TooMuchData, reason, p.by()));
            effects.extend(receipt(p));
            Step { next: None, effects }
        }
        (Some(Phase::Active { .. }), Event::PageMoved { tab, url }) => receipt_change(phase, tab, |r| r.page(url)),
        (Some(Phase::Active { .. }), Event::HiddenCounted { tab, fields, areas }) => {
            receipt_change(phase, tab, |r| r.hidden(fields, areas))
        }

        // Anything else: stale (a timer of an earlier phase, an answer already given elsewhere).
        (_, _) => stay(phase, Vec::new()),
    }
}

/// The receipt of the broadcast of `tab` changes (if `tab` is the broadcasting one); the record is shared again.
fn receipt_change(phase: Option<&Phase>, tab: ConnId, change: impl FnOnce(&mut Receipt)) -> Step {
    let mut next = phase.cloned();
    match &mut next {
        Some(Phase::Active { tab: Some(t), receipt, .. }) if *t == tab => change(receipt),
        _ => return stay(phase, Vec::new()),
    }
    Step { next, effects: vec![Effect::Share { tab_id: None, start: false }] }
}

/// "tab 3f9a1c…, on https://shop.example.com/cart?id=•••" for the audit (the URL is masked already).
fn tab_label(tab_id: Option<&str>, page: Option<&str>) -> String {
    let id = tab_id.map_or_else(|| "a tab without id".to_owned(), |t| format!("tab {}", short(t)));
    match page {
        Some(p) if !p.is_empty() => format!("{id}, on {p}"),
        _ => id,
    }
}

/// The first characters of a tab id: enough to tell tabs apart in the audit.
pub fn short(tab_id: &str) -> String {
    let cut: String = tab_id.chars().take(8).collect();
    if cut.len() < tab_id.len() { format!("{cut}…") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        weak_rtt_ms: 800,
        weak_upload_kbps: 256,
        request_timeout_secs: 60,
        probe_timeout_secs: 10,
        idle_grace_ms: 30_000,
    };

    fn anna() -> Consultant {
        Consultant { id: 7, name: "Anna".into() }
    }

    fn run(phase: Option<&Phase>, event: Event, now: u64) -> Step {
        step(phase, event, now, &LIMITS)
    }

    fn pending() -> Phase {
        Phase::Pending { request_id: "r1".into(), by: anna(), tab: 3, tab_id: Some("tab-a".into()) }
    }

    fn probing_echoed() -> Phase {
        Phase::Probing { tab: 3, tab_id: Some("tab-a".into()), by: anna(), probe_id: "p1".into(), sent: 1_000, rtt: Some(40) }
    }

    fn active(tab: Option<ConnId>) -> Phase {
        Phase::Active {
            tab,
            tab_id: Some("tab-a".into()),
            by: anna(),
            idle_since: Some(0),
            link: tab.map(|tab| Link { token: "v.t1".into(), tab }),
            receipt: Receipt::new(0, Some("https://shop/".into())),
        }
    }

    fn has(s: &Step, f: impl Fn(&Effect) -> bool) -> bool {
        s.effects.iter().any(f)
    }

    fn failed(s: &Step, reason: NoticeReason) -> bool {
        has(s, |e| matches!(e, Effect::Fail { reason: r, .. } if *r == reason))
    }

    #[test]
    fn a_request_asks_when_consent_is_not_remembered_and_probes_when_it_is() {
        let s = run(None, Event::Request { by: anna(), request_id: "r1".into(), latest: Some((3, Some("tab-a".into()))) }, 0);
        assert_eq!(s.next, Some(pending()));
        assert_eq!(s.effects[0], Effect::State(ScreencastState::Pending), "never idle while the request is under way");
        assert!(has(&s, |e| matches!(e, Effect::LookupConsent { .. })));

        let ask = run(
            Some(&pending()),
            Event::ConsentKnown { request_id: "r1".into(), remembered: Some(false), probe_id: "p1".into() },
            5,
        );
        assert_eq!(ask.next, Some(pending()));
        assert!(
            has(&ask, |e| matches!(e, Effect::AskConsent { .. }))
                && has(&ask, |e| *e == Effect::Start(Timer::Request("r1".into())))
        );

        let known = run(
            Some(&pending()),
            Event::ConsentKnown { request_id: "r1".into(), remembered: Some(true), probe_id: "p1".into() },
            5,
        );
        assert!(matches!(known.next, Some(Phase::Probing { tab: 3, sent: 5, rtt: None, .. })));
        assert!(
            has(&known, |e| matches!(e, Effect::Probe { tab: 3, .. }))
                && !has(&known, |e| matches!(e, Effect::AskConsent { .. }))
        );

        let lost =
            run(Some(&pending()), Event::ConsentKnown { request_id: "r1".into(), remembered: None, probe_id: "p1".into() }, 5);
        assert_eq!((lost.next, lost.effects), (None, vec![Effect::State(ScreencastState::Idle)]));
    }

    #[test]
    fn a_request_for_an_offline_visitor_or_a_running_broadcast() {
        let s = run(None, Event::Request { by: anna(), request_id: "r1".into(), latest: None }, 0);
        assert!(s.next.is_none() && failed(&s, NoticeReason::Offline));
        let again = run(Some(&active(Some(3))), Event::Request { by: anna(), request_id: "r2".into(), latest: None }, 0);
        assert_eq!((again.next, again.effects), (Some(active(Some(3))), vec![Effect::State(ScreencastState::Active)]));
        let twice = run(Some(&pending()), Event::Request { by: anna(), request_id: "r2".into(), latest: Some((3, None)) }, 0);
        assert_eq!(twice.effects, vec![Effect::State(ScreencastState::Pending)]);
    }

    #[test]
    fn answers_yes_no_stale_and_the_timeout() {
        let yes = run(
            Some(&pending()),
            Event::Answer { request_id: "r1".into(), tab: 4, tab_id: Some("tab-b".into()), allow: true, probe_id: "p1".into() },
            9,
        );
        // The tab that answered is the one probed, and other tabs hide their block.
        assert!(matches!(&yes.next, Some(Phase::Probing { tab: 4, tab_id: Some(t), .. }) if t == "tab-b"));
        assert_eq!(yes.effects[0], Effect::CloseConsent { request_id: "r1".into(), except: Some(4) });
        assert!(has(&yes, |e| matches!(e, Effect::Remember { tab_id: Some(_), .. })));

        let no = run(
            Some(&pending()),
            Event::Answer { request_id: "r1".into(), tab: 4, tab_id: None, allow: false, probe_id: "p".into() },
            9,
        );
        assert!(no.next.is_none() && failed(&no, NoticeReason::Denied) && !has(&no, |e| matches!(e, Effect::Remember { .. })));

        let stale = run(
            Some(&pending()),
            Event::Answer { request_id: "old".into(), tab: 4, tab_id: None, allow: true, probe_id: "p".into() },
            9,
        );
        assert_eq!((stale.next, stale.effects), (Some(pending()), vec![]), "an answer to an older request changes nothing");

        let expired = run(Some(&pending()), Event::RequestExpired { request_id: "r1".into() }, 60_000);
        assert!(expired.next.is_none() && failed(&expired, NoticeReason::Timeout));
        assert!(has(&expired, |e| matches!(e, Effect::CloseConsent { except: None, .. })));
        let late = run(Some(&active(Some(3))), Event::RequestExpired { request_id: "r1".into() }, 60_000);
        assert_eq!(late.next, Some(active(Some(3))), "the timer of a request that was answered does nothing");
    }

    #[test]
    fn the_probe_decides_between_a_weak_connection_and_going_live() {
        let start =
            Phase::Probing { tab: 3, tab_id: Some("tab-a".into()), by: anna(), probe_id: "p1".into(), sent: 1_000, rtt: None };
        let echoed = run(Some(&start), Event::ProbeEcho { tab: 3, probe_id: "p1".into() }, 1_040);
        assert_eq!(echoed.next, Some(probing_echoed()));
        assert_eq!(
            run(Some(&start), Event::ProbeEcho { tab: 9, probe_id: "p1".into() }, 1_040).next,
            Some(start.clone()),
            "another tab's echo"
        );

        let upload = |_now: u64| Event::ProbeUpload {
            tab: 3,
            bytes: 32_768,
            token: "v.tok".into(),
            page: Some("https://shop/cart".into()),
            wall_ms: 77,
        };
        // 32 KiB in 100 ms: 2,621 kbit/s.
        let live = run(Some(&probing_echoed()), upload(1_140), 1_140);
        let Some(Phase::Active { tab: Some(3), link: Some(link), idle_since: Some(1_140), .. }) = &live.next else {
            panic!("{live:?}")
        };
        assert_eq!(link.token, "v.tok");
        assert!(has(&live, |e| matches!(e, Effect::StartTab { tab: 3, .. })) && has(&live, |e| *e == Effect::Start(Timer::Idle)));
        assert!(has(&live, |e| matches!(e, Effect::Share { start: true, .. })));
        assert!(has(
            &live,
            |e| matches!(e, Effect::Record { event: "started", detail, .. } if detail.contains("on https://shop/cart"))
        ));
        // 32 KiB in 2 s: 131 kbit/s, under 256.
        let weak = run(Some(&probing_echoed()), upload(3_040), 3_040);
        assert!(weak.next.is_none() && failed(&weak, NoticeReason::WeakConnection));
        // Round trip over the limit.
        let slow = Phase::Probing {
            tab: 3,
            tab_id: Some("tab-a".into()),
            by: anna(),
            probe_id: "p1".into(),
            sent: 1_000,
            rtt: Some(900),
        };
        assert!(failed(&run(Some(&slow), upload(1_950), 1_950), NoticeReason::WeakConnection));

        let expired = run(Some(&start), Event::ProbeExpired { probe_id: "p1".into() }, 11_000);
        assert!(expired.next.is_none() && failed(&expired, NoticeReason::WeakConnection));
        let gone = run(Some(&start), Event::TabLeft { tab: 3 }, 1_100);
        assert!(gone.next.is_none() && failed(&gone, NoticeReason::Offline));
    }

    #[test]
    fn either_side_stops_a_live_broadcast_with_a_receipt() {
        let by_consultant = run(Some(&active(Some(3))), Event::StopByConsultant { by: anna() }, 10);
        assert!(by_consultant.next.is_none());
        assert!(has(&by_consultant, |e| *e == Effect::StopTab { tab: Some(3), reason: "stopped_by_consultant" }));
        assert!(has(&by_consultant, |e| matches!(e, Effect::Receipt { .. })) && has(&by_consultant, |e| *e == Effect::Unshare));
        // A stop while asking withdraws the consent block; no receipt (nothing was shown).
        let withdrawn = run(Some(&pending()), Event::StopByConsultant { by: anna() }, 10);
        assert!(
            has(&withdrawn, |e| matches!(e, Effect::CloseConsent { .. }))
                && !has(&withdrawn, |e| matches!(e, Effect::Receipt { .. }))
        );
        assert_eq!(run(None, Event::StopByConsultant { by: anna() }, 0).effects, vec![Effect::StateIdle]);

        let by_visitor = run(Some(&active(None)), Event::StopByVisitor, 10);
        assert_eq!(by_visitor.effects[0], Effect::RevokeConsent, "the remembered consent goes first");
        assert!(
            has(&by_visitor, |e| *e == Effect::StopTab { tab: None, reason: "stopped_by_visitor" }),
            "every tab: it is between pages"
        );
        assert!(failed(&by_visitor, NoticeReason::StoppedByVisitor) && has(&by_visitor, |e| matches!(e, Effect::Receipt { .. })));
        let idle_stop = run(None, Event::StopByVisitor, 10);
        assert_eq!(idle_stop.effects[0], Effect::RevokeConsent);
    }

    #[test]
    fn the_tab_leaves_and_comes_back_on_its_next_page_or_not_at_all() {
        let left = run(Some(&active(Some(3))), Event::TabLeft { tab: 3 }, 100);
        assert_eq!(left.next, Some(active(None)));
        assert_eq!(left.effects, vec![Effect::CloseScreen("the tab's chat socket closed"), Effect::Start(Timer::TabGone)]);
        let other = run(Some(&active(Some(3))), Event::TabLeft { tab: 8 }, 100);
        assert_eq!(other.next, Some(active(Some(3))), "another tab of the visitor closing changes nothing");

        let back = run(
            Some(&active(None)),
            Event::TabJoined { tab: 5, tab_id: Some("tab-a".into()), token: "v.t2".into(), page: Some("https://shop/2".into()) },
            200,
        );
        let Some(Phase::Active { tab: Some(5), link: Some(link), receipt, .. }) = &back.next else { panic!() };
        assert_eq!(link.token, "v.t2");
        assert!(receipt.facts(0).pages.iter().any(|p| p == "/2"), "the new page is in the receipt");
        assert!(has(&back, |e| matches!(e, Effect::StartTab { tab: 5, .. })) && has(&back, |e| *e == Effect::ForgetFrames));

        let stranger = run(
            Some(&active(None)),
            Event::TabJoined { tab: 6, tab_id: Some("tab-b".into()), token: "x".into(), page: None },
            200,
        );
        assert_eq!(stranger.effects, vec![Effect::State(ScreencastState::Active)], "another tab only learns the state");

        let gone = run(Some(&active(None)), Event::TabGoneExpired { owned: true }, 30_100);
        assert!(
            gone.next.is_none() && failed(&gone, NoticeReason::Offline) && has(&gone, |e| matches!(e, Effect::Receipt { .. }))
        );
        let taken = run(Some(&active(None)), Event::TabGoneExpired { owned: false }, 30_100);
        assert_eq!((taken.next, taken.effects), (None, vec![]), "taken over elsewhere: no word, no receipt here");
        let returned = run(Some(&active(Some(5))), Event::TabGoneExpired { owned: true }, 30_100);
        assert_eq!(returned.next, Some(active(Some(5))), "the tab came back before the timer");
    }

    #[test]
    fn a_broadcast_moves_between_nodes_with_its_tab() {
        let idle_tab = run(None, Event::TabJoined { tab: 5, tab_id: Some("tab-a".into()), token: "t".into(), page: None }, 0);
        assert_eq!(idle_tab.effects, vec![Effect::TryAdopt { tab: 5, tab_id: "tab-a".into() }]);
        assert!(run(None, Event::TabJoined { tab: 5, tab_id: None, token: "t".into(), page: None }, 0).effects.is_empty());

        let adopt = Event::Adopt {
            tab: 5,
            tab_id: "tab-a".into(),
            token: "v.t9".into(),
            by: anna(),
            receipt: Receipt::new(0, Some("https://shop/".into())),
            page: Some("https://shop/3".into()),
            from: Some(42),
        };
        let adopted = run(None, adopt, 50);
        assert!(matches!(&adopted.next, Some(Phase::Active { tab: Some(5), idle_since: Some(50), .. })));
        assert_eq!(adopted.effects[0], Effect::Release(42), "the old node lets go first");
        assert!(has(&adopted, |e| matches!(e, Effect::Record { event: "resumed", line: None, .. })));
        assert!(has(&adopted, |e| matches!(e, Effect::StartTab { tab: 5, .. })));

        let released = run(Some(&active(None)), Event::Released, 60);
        assert!(released.next.is_none());
        assert!(
            has(&released, |e| *e == Effect::LetGo)
                && !has(&released, |e| matches!(e, Effect::Receipt { .. } | Effect::Fail { .. }))
        );
    }

    #[test]
    fn nobody_watching_ends_it_unless_another_node_watches() {
        let watched = run(Some(&active(Some(3))), Event::Watched, 10);
        assert!(matches!(watched.next, Some(Phase::Active { idle_since: None, .. })));
        let unwatched = run(watched.next.as_ref(), Event::Unwatched, 20);
        assert!(matches!(unwatched.next, Some(Phase::Active { idle_since: Some(20), .. })));
        assert_eq!(unwatched.effects, vec![Effect::Start(Timer::Idle)]);

        let early = run(unwatched.next.as_ref(), Event::IdleExpired { followed_elsewhere: false }, 20_000);
        assert_eq!(early.next, unwatched.next, "before the grace period: nothing");
        let elsewhere = run(unwatched.next.as_ref(), Event::IdleExpired { followed_elsewhere: true }, 30_020);
        assert_eq!(elsewhere.effects, vec![Effect::Start(Timer::Idle)], "watched on another node: look again later");
        let ended = run(unwatched.next.as_ref(), Event::IdleExpired { followed_elsewhere: false }, 30_020);
        assert!(ended.next.is_none() && has(&ended, |e| *e == Effect::StopTab { tab: Some(3), reason: "no_viewers" }));
        assert!(
            has(&ended, |e| matches!(e, Effect::Record { event: "stopped", .. }))
                && has(&ended, |e| matches!(e, Effect::Receipt { .. }))
        );
        let rewatched = run(watched.next.as_ref(), Event::IdleExpired { followed_elsewhere: false }, 90_000);
        assert_eq!(rewatched.next, watched.next, "a viewer watches again: the old timer does nothing");
    }

    #[test]
    fn overflow_unavailable_and_receipt_updates() {
        let over = run(Some(&active(Some(3))), Event::Overflow { reason: "too much".into() }, 5);
        assert!(over.next.is_none() && failed(&over, NoticeReason::TooMuchData));
        assert!(has(&over, |e| *e == Effect::StopTab { tab: Some(3), reason: "too_much_data" }));

        let unsupported = run(Some(&pending()), Event::Unavailable { tab: 9, detail: "no MutationObserver".into() }, 5);
        assert!(unsupported.next.is_none() && failed(&unsupported, NoticeReason::Unsupported));
        assert!(has(&unsupported, |e| matches!(e, Effect::CloseConsent { .. })));
        let other_tab = run(Some(&active(Some(3))), Event::Unavailable { tab: 9, detail: "x".into() }, 5);
        assert_eq!(other_tab.next, Some(active(Some(3))), "only the broadcasting tab's report counts");

        let moved = run(Some(&active(Some(3))), Event::PageMoved { tab: 3, url: "https://shop/checkout".into() }, 5);
        let Some(Phase::Active { receipt, .. }) = &moved.next else { panic!() };
        assert!(receipt.facts(0).pages.iter().any(|p| p.starts_with("/checkout")));
        assert_eq!(moved.effects, vec![Effect::Share { tab_id: None, start: false }]);
        let counted = run(Some(&active(Some(3))), Event::HiddenCounted { tab: 3, fields: 2, areas: 1 }, 5);
        assert_ne!(counted.next, Some(active(Some(3))));
        let not_ours = run(Some(&active(Some(3))), Event::PageMoved { tab: 4, url: "x".into() }, 5);
        assert_eq!((not_ours.next, not_ours.effects), (Some(active(Some(3))), vec![]));
    }

    #[test]
    fn the_phase_is_data_that_survives_serialization() {
        for p in [pending(), probing_echoed(), active(Some(3)), active(None)] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), p);
        }
    }
}
