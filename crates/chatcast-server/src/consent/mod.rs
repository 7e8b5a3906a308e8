//! Consent and the life of a screen broadcast: request → consent (asked, or
//! remembered) → connection probe → live → stopped. Every step is a system
//! line in the dialog and a row in the audit trail; the console's button
//! follows the state, and refusals reach the console as notices.
//!
//! The screen frames themselves go through [`crate::relay`]; this module only
//! decides which tab may send them (through the screen socket it was given a
//! token for, see [`screen`]) and who may watch.

pub mod cluster;
mod receipt;
pub mod screen;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chatcast_protocol::{Author, ConsoleOut, ErrorBody, ErrorCode, MessageKind, NoticeReason, ScreencastState, VisitorOut};

use crate::app::AppState;
use crate::relay::Published;
use crate::storage::{NewMessage, User};
use crate::transport::{ConnId, Peer};
use chatcast_protocol::frame;
use receipt::Receipt;

/// Timing and thresholds of broadcasts (from the settings).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How long a consent request waits for an answer.
    pub request_timeout: Duration,
    /// Size of the upload probe.
    pub probe_bytes: u32,
    /// Round trips above this are a weak connection.
    pub weak_rtt: Duration,
    /// Uploads slower than this (kbit/s) are a weak connection.
    pub weak_upload_kbps: u32,
    /// How long a probe may go unanswered.
    pub probe_timeout: Duration,
    /// Recording stops after nobody watched for this long, or after the tab
    /// has been gone (navigating, reconnecting) for this long.
    pub idle_grace: Duration,
}

impl Policy {
    /// The policy the settings describe.
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Policy {
            request_timeout: Duration::from_secs(s.consent_request_timeout_secs),
            probe_bytes: s.probe_bytes,
            weak_rtt: Duration::from_millis(s.weak_rtt_ms),
            weak_upload_kbps: s.weak_upload_kbps,
            probe_timeout: Duration::from_secs(10),
            idle_grace: Duration::from_secs(s.broadcast_idle_grace_secs),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Consultant {
    id: i64,
    name: String,
}

enum Phase {
    Pending {
        request_id: String,
        by: Consultant,
    },
    Probing {
        tab: ConnId,
        tab_id: Option<String>,
        by: Consultant,
        probe_id: String,
        sent: Instant,
        rtt: Option<Duration>,
    },
    Active {
        tab: Option<ConnId>,
        tab_id: Option<String>,
        by: Consultant,
        idle_since: Option<Instant>,
        screen: Option<ScreenLink>,
        receipt: Receipt,
    },
}

/// A live broadcast's screen socket: the token sent to one tab in
/// `screencast_start`, and the socket that connected with it.
struct ScreenLink {
    token: String,
    /// The tab (its chat socket) the token was given to.
    tab: ConnId,
    /// The screen socket, once connected.
    peer: Option<Peer>,
}

impl ScreenLink {
    /// A new link for the tab's next screen socket. The token starts with
    /// the visitor's id, so that any node can find the broadcast it belongs to.
    fn new(visitor_id: &str, tab: ConnId) -> Self {
        ScreenLink { token: format!("{visitor_id}.{}", crate::auth::new_token()), tab, peer: None }
    }

    /// Closes the screen socket, if one is connected: the tab's upload is over.
    fn close(&self, reason: &str) {
        if let Some(p) = &self.peer {
            p.close(1000, reason);
        }
    }
}

impl Phase {
    /// The consultant who asked.
    fn by(&self) -> &Consultant {
        match self {
            Phase::Pending { by, .. } | Phase::Probing { by, .. } | Phase::Active { by, .. } => by,
        }
    }

    /// Closes the broadcast's screen socket, if any.
    fn close_screen(&self, reason: &str) {
        if let Phase::Active { screen: Some(link), .. } = self {
            link.close(reason);
        }
    }
}

/// Every visitor's broadcast phase (no entry: idle).
#[derive(Default)]
pub struct Broadcasts {
    phases: Mutex<HashMap<String, Phase>>,
}

fn new_id() -> String {
    crate::auth::new_token()[..16].to_owned()
}

impl Broadcasts {
    /// Removes and returns the visitor's phase if `pred` holds for it: how a
    /// step or timer claims a phase it may end, atomically.
    fn take_if(&self, visitor_id: &str, pred: impl FnOnce(&Phase) -> bool) -> Option<Phase> {
        let mut phases = self.phases.lock().unwrap();
        if phases.get(visitor_id).is_some_and(pred) { phases.remove(visitor_id) } else { None }
    }

    /// The button state to show for an online visitor.
    pub fn state_of(&self, visitor_id: &str) -> ScreencastState {
        match self.phases.lock().unwrap().get(visitor_id) {
            None => ScreencastState::Idle,
            Some(Phase::Pending { .. } | Phase::Probing { .. }) => ScreencastState::Pending,
            Some(Phase::Active { .. }) => ScreencastState::Active,
        }
    }
}

// ---- effects shared by the steps

/// Runs `then` after `delay` as a task of the server's tracker. At shutdown
/// the timer is dropped undecided: the phase ends with the process (and, in a
/// cluster, the node the tab reconnects to takes a live broadcast over).
fn timer(
    tasks: tokio_util::task::TaskTracker,
    shutdown: tokio_util::sync::CancellationToken,
    delay: Duration,
    then: impl Future<Output = ()> + Send + 'static,
) {
    tasks.spawn(async move {
        tokio::select! {
            _ = async { tokio::time::sleep(delay).await; then.await } => {}
            _ = shutdown.cancelled() => {}
        }
    });
}

/// Forgets a broadcast's frames here and on every node that follows it.
fn forget_frames(app: &AppState, visitor_id: &str) {
    app.relay.clear(visitor_id);
    app.hub.engine().screen_clear(visitor_id);
}

fn set_state(app: &AppState, visitor_id: &str, state: ScreencastState) {
    app.hub.set_screencast(visitor_id, state);
    app.hub.to_consoles(&frame(&ConsoleOut::Screencast { visitor_id: visitor_id.to_owned(), state }));
}

fn notice(app: &AppState, visitor_id: &str, reason: NoticeReason, detail: String) {
    app.hub.to_consoles(&frame(&ConsoleOut::ScreencastNotice { visitor_id: visitor_id.to_owned(), reason, detail }));
}

async fn record(app: &AppState, visitor_id: &str, by: Option<&Consultant>, event: &str, detail: &str, line: Option<String>) {
    let now = crate::now_ms();
    if let Err(e) = app.db.audit(visitor_id, by.map(|c| c.id), by.map(|c| c.name.as_str()), event, detail, now).await {
        tracing::error!(error = %e, "audit write failed");
    }
    if let Some(body) = line {
        system_line(app, visitor_id, &body, None, now).await;
    }
}

/// Stores a system line in the dialog and sends it to both sides.
async fn system_line(app: &AppState, visitor_id: &str, body: &str, kind: Option<MessageKind>, now: i64) {
    let m =
        NewMessage { visitor_id, author: Author::System, user_id: None, author_name: None, client_id: None, body, at: now, kind };
    if let Err(e) = crate::chat::deliver(app, m, None).await {
        tracing::error!(error = %e, "system message write failed");
    }
}

fn reason_name(r: NoticeReason) -> &'static str {
    match r {
        NoticeReason::Denied => "denied",
        NoticeReason::Unsupported => "unsupported",
        NoticeReason::WeakConnection => "weak_connection",
        NoticeReason::Offline => "offline",
        NoticeReason::Timeout => "timeout",
        NoticeReason::StoppedByVisitor => "stopped_by_visitor",
        NoticeReason::TooMuchData => "too_much_data",
    }
}

/// Ends a request or broadcast that could not happen: notice, audit, system line, idle.
async fn fail(app: &AppState, visitor_id: &str, by: Option<&Consultant>, reason: NoticeReason, detail: String) {
    let line = match reason {
        NoticeReason::Denied => "The visitor declined screen broadcast".to_owned(),
        NoticeReason::Timeout => "The request to see the visitor's tab expired unanswered".to_owned(),
        // The detail is the widget's own report: it goes to the audit and the
        // console's notice, never into the transcript in the page's words.
        NoticeReason::Unsupported => "Screen broadcast is not possible on the visitor's page".to_owned(),
        NoticeReason::WeakConnection => {
            format!("Screen broadcast is not possible: the visitor's connection is too weak ({detail})")
        }
        NoticeReason::Offline => "Screen broadcast is not possible: the visitor is offline".to_owned(),
        NoticeReason::StoppedByVisitor => "The visitor stopped the screen broadcast".to_owned(),
        NoticeReason::TooMuchData => "The screen broadcast ended: the page sent more than the server may hold".to_owned(),
    };
    // The transcript line first: a console that shows the notice finds it there.
    record(app, visitor_id, by, reason_name(reason), &detail, Some(line)).await;
    notice(app, visitor_id, reason, detail);
    set_state(app, visitor_id, app.hub.offline_aware(visitor_id, ScreencastState::Idle));
}

// ---- steps

/// A consultant pressed the screencast button: asked here if the visitor
/// has a tab on this node, else on the node with their most recent tab.
pub async fn request(app: &AppState, user: &User, visitor_id: &str) {
    if !app.hub.is_online(visitor_id)
        && let Some(node) = app.hub.engine().node_of(visitor_id).await
    {
        let cmd = cluster::NodeCommand::Request { visitor_id: visitor_id.to_owned(), user_id: user.id };
        return cluster::send(app, node, cmd);
    }
    request_here(app, user, visitor_id).await
}

async fn request_here(app: &AppState, user: &User, visitor_id: &str) {
    let by = Consultant { id: user.id, name: user.name.clone() };
    let Some(latest) = app.hub.latest_tab(visitor_id) else {
        return fail(app, visitor_id, Some(&by), NoticeReason::Offline, "the visitor has no open tab".into()).await;
    };
    // Claim the phase before anything is awaited, so that the state is never
    // "idle" while a request is under way (a window opening now would think it ended).
    let request_id = new_id();
    {
        let mut phases = app.broadcasts.phases.lock().unwrap();
        if let Some(phase) = phases.get(visitor_id) {
            let state = match phase {
                // Already live: say so again (the console opens its window).
                Phase::Active { .. } => ScreencastState::Active,
                Phase::Pending { .. } | Phase::Probing { .. } => ScreencastState::Pending,
            };
            drop(phases);
            return set_state(app, visitor_id, state);
        }
        phases.insert(visitor_id.to_owned(), Phase::Pending { request_id: request_id.clone(), by: by.clone() });
    }
    set_state(app, visitor_id, ScreencastState::Pending);
    record(app, visitor_id, Some(&by), "requested", "", Some(format!("{} asked to see the visitor's tab", by.name))).await;
    // Remembered consent belongs to the tab that gave it: only that tab, if it
    // is the one the visitor is on, starts without asking again.
    let remembered = match &latest.1 {
        Some(tab_id) => app.db.has_consent(visitor_id, tab_id, crate::now_ms()).await,
        None => Ok(false),
    };
    let site = app.db.site_of_visitor(visitor_id).await.ok().flatten();
    match remembered {
        Ok(true) => {
            record(app, visitor_id, Some(&by), "granted", "remembered consent of this tab", None).await;
            start_probe(app, visitor_id, latest.0, latest.1, by);
        }
        Ok(false) => {
            let expires_at = crate::now_ms() + app.policy.request_timeout.as_millis() as i64;
            let ask = VisitorOut::ConsentRequest {
                request_id: request_id.clone(),
                consultant_name: by.name.clone(),
                expires_at,
                privacy: site.as_ref().map(|s| s.privacy.clone()).unwrap_or_default(),
                remember_hours: site.as_ref().map_or(24, |s| s.consent_ttl_hours),
            };
            app.hub.to_visitor(visitor_id, &frame(&ask), None);
            let (app, visitor_id) = (app.clone(), visitor_id.to_owned());
            timer(app.tasks.clone(), app.shutdown.clone(), app.policy.request_timeout, async move {
                let expired = app
                    .broadcasts
                    .take_if(&visitor_id, |p| matches!(p, Phase::Pending { request_id: r, .. } if *r == request_id));
                if let Some(Phase::Pending { by, .. }) = expired {
                    app.hub.to_visitor(&visitor_id, &frame(&VisitorOut::ConsentClosed { request_id }), None);
                    let secs = app.policy.request_timeout.as_secs();
                    fail(&app, &visitor_id, Some(&by), NoticeReason::Timeout, format!("no answer within {secs} s")).await;
                }
            });
        }
        Err(e) => {
            tracing::error!(error = %e, "consent lookup failed");
            app.broadcasts.phases.lock().unwrap().remove(visitor_id);
            set_state(app, visitor_id, ScreencastState::Idle);
        }
    }
}

/// The visitor answered the consent block in one of its tabs.
pub async fn answer(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<String>, request_id: &str, allow: bool) {
    let claimed = app.broadcasts.take_if(visitor_id, |p| matches!(p, Phase::Pending { request_id: r, .. } if r == request_id));
    // Otherwise stale, or already answered in another tab.
    let Some(Phase::Pending { by, .. }) = claimed else { return };
    // Other tabs hide their consent block.
    app.hub.to_visitor(visitor_id, &frame(&VisitorOut::ConsentClosed { request_id: request_id.to_owned() }), Some(tab));
    if !allow {
        return fail(app, visitor_id, Some(&by), NoticeReason::Denied, "the visitor pressed No".into()).await;
    }
    let now = crate::now_ms();
    let ttl_hours = app.db.site_of_visitor(visitor_id).await.ok().flatten().map_or(24, |s| s.consent_ttl_hours);
    // Remembered for the tab that answered, and only if it has an id to be known by.
    let remembered = match &tab_id {
        Some(t) => match app.db.remember_consent(visitor_id, t, now, now + ttl_hours * 3_600_000).await {
            Ok(()) => format!("remembered for this tab ({}) for {ttl_hours} h", short(t)),
            Err(e) => {
                tracing::error!(error = %e, "could not remember consent");
                "not remembered (storage failed)".to_owned()
            }
        },
        None => "not remembered (the tab has no id)".to_owned(),
    };
    record(app, visitor_id, Some(&by), "granted", &remembered, Some("The visitor allowed screen broadcast".into())).await;
    start_probe(app, visitor_id, tab, tab_id, by);
}

/// Measures the tab's connection before anything is recorded.
fn start_probe(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<String>, by: Consultant) {
    let probe_id = new_id();
    app.broadcasts.phases.lock().unwrap().insert(
        visitor_id.to_owned(),
        Phase::Probing { tab, tab_id, by, probe_id: probe_id.clone(), sent: Instant::now(), rtt: None },
    );
    set_state(app, visitor_id, ScreencastState::Pending);
    app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::Probe { id: probe_id.clone(), upload_bytes: app.policy.probe_bytes }));
    let (app, visitor_id) = (app.clone(), visitor_id.to_owned());
    timer(app.tasks.clone(), app.shutdown.clone(), app.policy.probe_timeout, async move {
        let stale = app.broadcasts.take_if(&visitor_id, |p| matches!(p, Phase::Probing { probe_id: p, .. } if *p == probe_id));
        if let Some(Phase::Probing { by, .. }) = stale {
            let secs = app.policy.probe_timeout.as_secs();
            fail(
                &app,
                &visitor_id,
                Some(&by),
                NoticeReason::WeakConnection,
                format!("no answer to the connection probe within {secs} s"),
            )
            .await;
        }
    });
}

/// The tab echoed the probe: that is the round trip.
pub fn probe_echo(app: &AppState, visitor_id: &str, tab: ConnId, id: &str) {
    if let Some(Phase::Probing { tab: t, probe_id, sent, rtt, .. }) = app.broadcasts.phases.lock().unwrap().get_mut(visitor_id)
        && *t == tab
        && probe_id == id
        && rtt.is_none()
    {
        *rtt = Some(sent.elapsed());
    }
}

/// The tab's upload probe arrived: decide, then start or refuse.
pub async fn probe_upload(app: &AppState, visitor_id: &str, tab: ConnId, bytes: usize) {
    let done = app.broadcasts.take_if(visitor_id, |p| matches!(p, Phase::Probing { tab: t, rtt: Some(_), .. } if *t == tab));
    let Some(Phase::Probing { tab_id, by, sent, rtt: Some(rtt), .. }) = done else { return };
    // The upload began when the probe reached the tab (half a round trip) and
    // the echo left; it ended now.
    let transfer = sent.elapsed().saturating_sub(rtt).max(Duration::from_millis(1));
    let kbps = (bytes as f64 * 8.0 / 1000.0) / transfer.as_secs_f64();
    let figures = format!("round trip {} ms, upload {:.0} kbit/s", rtt.as_millis(), kbps);
    if rtt > app.policy.weak_rtt || kbps < app.policy.weak_upload_kbps as f64 {
        let limits =
            format!("{figures}; needs ≤ {} ms and ≥ {} kbit/s", app.policy.weak_rtt.as_millis(), app.policy.weak_upload_kbps);
        return fail(app, visitor_id, Some(&by), NoticeReason::WeakConnection, limits).await;
    }
    go_live(app, visitor_id, tab, tab_id, by, &figures).await;
}

async fn go_live(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<String>, by: Consultant, detail: &str) {
    forget_frames(app, visitor_id);
    // The audit names the tab that actually broadcasts, and where it is.
    let detail = format!("{detail}; {}", tab_label(app, visitor_id, tab, tab_id.as_deref()));
    let link = ScreenLink::new(visitor_id, tab);
    let start = start_frame(app, visitor_id, &by.name, &link.token).await;
    let receipt = Receipt::new(crate::now_ms(), app.hub.tab_page(visitor_id, tab).map(|p| p.url));
    if let Some(t) = &tab_id {
        app.hub.engine().broadcast_start(visitor_id, t, cluster::Shared::json(&by, &receipt, &link.token));
    }
    app.broadcasts.phases.lock().unwrap().insert(
        visitor_id.to_owned(),
        Phase::Active { tab: Some(tab), tab_id, by: by.clone(), idle_since: Some(Instant::now()), screen: Some(link), receipt },
    );
    if let Some(start) = start {
        app.hub.to_tab(visitor_id, tab, &start);
    }
    set_state(app, visitor_id, ScreencastState::Active);
    record(app, visitor_id, Some(&by), "started", &detail, Some(format!("Screen broadcast started ({} is viewing)", by.name)))
        .await;
    watch_for_idle(app, visitor_id);
}

/// "tab 3f9a1c…, on https://shop.example.com/cart?id=•••" for the audit (the URL is masked already).
fn tab_label(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<&str>) -> String {
    let id = tab_id.map_or_else(|| "a tab without id".to_owned(), |t| format!("tab {}", short(t)));
    match app.hub.tab_page(visitor_id, tab) {
        Some(p) if !p.url.is_empty() => format!("{id}, on {}", p.url),
        _ => id,
    }
}

/// The first characters of a tab id: enough to tell tabs apart in the audit.
fn short(tab_id: &str) -> String {
    let cut: String = tab_id.chars().take(8).collect();
    if cut.len() < tab_id.len() { format!("{cut}…") } else { cut }
}

async fn start_frame(app: &AppState, visitor_id: &str, consultant_name: &str, screen_token: &str) -> Option<Bytes> {
    let site = app.db.site_of_visitor(visitor_id).await.ok().flatten()?;
    Some(frame(&VisitorOut::ScreencastStart {
        privacy: site.privacy,
        consultant_name: consultant_name.to_owned(),
        screen_token: screen_token.to_owned(),
    }))
}

/// The agent cannot record (missing APIs): refuse without asking the visitor.
pub async fn unavailable(app: &AppState, visitor_id: &str, tab: ConnId, detail: String) {
    let ours = app.broadcasts.take_if(visitor_id, |p| match p {
        Phase::Pending { .. } => true,
        Phase::Probing { tab: t, .. } => *t == tab,
        Phase::Active { tab: t, .. } => *t == Some(tab),
    });
    let Some(phase) = ours else { return };
    if let Phase::Pending { request_id, .. } = &phase {
        app.hub.to_visitor(visitor_id, &frame(&VisitorOut::ConsentClosed { request_id: request_id.clone() }), None);
    }
    let by = phase.by().clone();
    phase.close_screen("the recorder stopped: screen broadcast is not possible on this page");
    forget_frames(app, visitor_id);
    fail(app, visitor_id, Some(&by), NoticeReason::Unsupported, detail).await;
    write_receipt(app, visitor_id, &phase).await;
}

/// Stop from the console (sent on to the node that runs the broadcast, if another does).
pub async fn stop_by_consultant(app: &AppState, user: &User, visitor_id: &str) {
    let Some(phase) = app.broadcasts.phases.lock().unwrap().remove(visitor_id) else {
        if app.hub.engine().node_of(visitor_id).await.is_some() || cluster::owner_elsewhere(app, visitor_id).await.is_some() {
            let cmd = cluster::NodeCommand::Stop { visitor_id: visitor_id.to_owned(), user_id: user.id };
            return cluster::send(app, cluster::EVERY_NODE, cmd);
        }
        return set_state(app, visitor_id, app.hub.offline_aware(visitor_id, ScreencastState::Idle));
    };
    if let Phase::Pending { request_id, .. } = &phase {
        app.hub.to_visitor(visitor_id, &frame(&VisitorOut::ConsentClosed { request_id: request_id.clone() }), None);
    }
    end(app, visitor_id, &phase, "stopped_by_consultant").await;
    let by = Consultant { id: user.id, name: user.name.clone() };
    record(app, visitor_id, Some(&by), "stopped", "by the consultant", Some(format!("{} stopped the screen broadcast", by.name)))
        .await;
    write_receipt(app, visitor_id, &phase).await;
}

/// Stop from the visitor: ends the broadcast and revokes the remembered consent.
pub async fn stop_by_visitor(app: &AppState, visitor_id: &str) {
    if let Err(e) = app.db.revoke_consent(visitor_id, crate::now_ms()).await {
        tracing::error!(error = %e, "could not revoke consent");
    }
    let phase = app.broadcasts.phases.lock().unwrap().remove(visitor_id);
    if phase.is_none() && cluster::owner_elsewhere(app, visitor_id).await.is_some() {
        // The broadcast runs on another node: it ends it there.
        return cluster::send(app, cluster::EVERY_NODE, cluster::NodeCommand::VisitorStop { visitor_id: visitor_id.to_owned() });
    }
    let by = phase.as_ref().map(|p| p.by().clone());
    if let Some(phase) = &phase {
        end(app, visitor_id, phase, "stopped_by_visitor").await;
    }
    record(app, visitor_id, by.as_ref(), "consent_revoked", "the visitor pressed Stop", None).await;
    fail(app, visitor_id, by.as_ref(), NoticeReason::StoppedByVisitor, "the visitor pressed Stop".into()).await;
    if let Some(phase) = &phase {
        write_receipt(app, visitor_id, phase).await;
    }
}

/// Tells the recording tab to stop and forgets the cached frames (the caller
/// writes its line, then the receipt).
async fn end(app: &AppState, visitor_id: &str, phase: &Phase, reason: &str) {
    phase.close_screen("the screen broadcast ended");
    let stop = frame(&VisitorOut::ScreencastStop { reason: reason.to_owned() });
    match *phase {
        Phase::Active { tab: Some(tab), .. } | Phase::Probing { tab, .. } => app.hub.to_tab(visitor_id, tab, &stop),
        // A tab between pages may still come back recording: tell every tab.
        Phase::Active { tab: None, .. } => app.hub.to_visitor(visitor_id, &stop, None),
        Phase::Pending { .. } => {}
    }
    forget_frames(app, visitor_id);
    set_state(app, visitor_id, app.hub.offline_aware(visitor_id, ScreencastState::Idle));
}

/// A tab said hello: if it is the broadcast's tab coming back (next page of
/// the site), recording resumes there with no new consent.
pub async fn tab_joined(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<&str>) {
    let resume = {
        let mut phases = app.broadcasts.phases.lock().unwrap();
        match phases.get_mut(visitor_id) {
            // The new page may say hello before the old page's socket has closed.
            Some(Phase::Active { tab: t, tab_id: Some(want), by, screen, receipt, .. }) if tab_id == Some(want.as_str()) => {
                *t = Some(tab);
                if let Some(page) = app.hub.tab_page(visitor_id, tab) {
                    receipt.page(page.url);
                }
                if let Some(old) = screen.take() {
                    old.close("the tab moved to another page");
                }
                let link = ScreenLink::new(visitor_id, tab);
                let token = link.token.clone();
                app.hub.engine().broadcast_update(visitor_id, cluster::Shared::json(by, receipt, &token));
                *screen = Some(link);
                Some((by.name.clone(), token))
            }
            _ => None,
        }
    };
    let state = app.broadcasts.state_of(visitor_id);
    if state != ScreencastState::Idle {
        set_state(app, visitor_id, state);
    }
    if let Some((name, token)) = resume {
        forget_frames(app, visitor_id);
        if let Some(start) = start_frame(app, visitor_id, &name, &token).await {
            app.hub.to_tab(visitor_id, tab, &start);
        }
    } else if state == ScreencastState::Idle
        && let Some(tab_id) = tab_id
        && let Some((from, shared)) = app.hub.engine().broadcast_take(visitor_id, tab_id).await
    {
        adopt(app, visitor_id, tab, tab_id, from, &shared).await;
    }
}

/// Carries on here a live broadcast whose tab came back to this node, from
/// the record the node `from` shared (it is told to let go, if it is alive).
async fn adopt(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: &str, from: crate::engine::NodeId, shared: &str) {
    let Ok(cluster::Shared { by, mut receipt, .. }) = serde_json::from_str(shared) else {
        return tracing::error!(visitor = visitor_id, "a shared broadcast record does not parse; not resumed");
    };
    if from != app.hub.engine().node() {
        cluster::send(app, from, cluster::NodeCommand::Released { visitor_id: visitor_id.to_owned() });
    }
    if let Some(page) = app.hub.tab_page(visitor_id, tab) {
        receipt.page(page.url);
    }
    let link = ScreenLink::new(visitor_id, tab);
    app.hub.engine().broadcast_update(visitor_id, cluster::Shared::json(&by, &receipt, &link.token));
    let token = link.token.clone();
    let phase = Phase::Active {
        tab: Some(tab),
        tab_id: Some(tab_id.to_owned()),
        by: by.clone(),
        idle_since: Some(Instant::now()),
        screen: Some(link),
        receipt,
    };
    app.broadcasts.phases.lock().unwrap().insert(visitor_id.to_owned(), phase);
    forget_frames(app, visitor_id);
    if let Some(start) = start_frame(app, visitor_id, &by.name, &token).await {
        app.hub.to_tab(visitor_id, tab, &start);
    }
    set_state(app, visitor_id, ScreencastState::Active);
    let detail = format!("the tab reconnected to another server node; {}", tab_label(app, visitor_id, tab, Some(tab_id)));
    record(app, visitor_id, Some(&by), "resumed", &detail, None).await;
    watch_for_idle(app, visitor_id);
}

/// Another node took this node's broadcast over: drop it without a word (the
/// broadcast goes on there), and follow it if this node has viewers of it.
fn released(app: &AppState, visitor_id: &str) {
    if let Some(phase) = app.broadcasts.take_if(visitor_id, |p| matches!(p, Phase::Active { .. })) {
        phase.close_screen("the tab continues on another server node");
    }
    app.hub.set_screencast(visitor_id, ScreencastState::Idle);
    app.relay.clear(visitor_id);
    if app.relay.has_viewers(visitor_id) {
        app.hub.engine().screen_follow(visitor_id);
    }
}

/// Asks the broadcasting tab, if it is here, for a fresh keyframe.
fn ask_keyframe(app: &AppState, visitor_id: &str) {
    let tab = match app.broadcasts.phases.lock().unwrap().get(visitor_id) {
        Some(Phase::Active { tab: Some(t), .. }) => *t,
        _ => return,
    };
    app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::KeyframeRequest {}));
}

/// A tab's socket closed.
pub async fn tab_left(app: &AppState, visitor_id: &str, tab: ConnId) {
    if let Some(Phase::Probing { by, .. }) =
        app.broadcasts.take_if(visitor_id, |p| matches!(p, Phase::Probing { tab: t, .. } if *t == tab))
    {
        return fail(app, visitor_id, Some(&by), NoticeReason::Offline, "the tab closed during the connection check".into())
            .await;
    }
    let was_broadcasting = match app.broadcasts.phases.lock().unwrap().get_mut(visitor_id) {
        Some(Phase::Active { tab: t, screen, .. }) if *t == Some(tab) => {
            *t = None;
            // Its upload ends with it; the tab's next page gets a new token.
            if let Some(old) = screen.take() {
                old.close("the tab's chat socket closed");
            }
            true
        }
        _ => false,
    };
    if !was_broadcasting {
        return;
    }
    // Give a navigating or reconnecting tab time to come back.
    let (app, visitor_id) = (app.clone(), visitor_id.to_owned());
    timer(app.tasks.clone(), app.shutdown.clone(), app.policy.idle_grace, async move {
        let gone = app.broadcasts.take_if(&visitor_id, |p| matches!(p, Phase::Active { tab: None, .. }));
        // Taken over by the node the tab came back to: it goes on there.
        if gone.is_some() && !app.hub.engine().broadcast_owned(&visitor_id).await {
            return;
        }
        if let Some(phase @ Phase::Active { .. }) = gone {
            let by = phase.by().clone();
            forget_frames(&app, &visitor_id);
            let secs = app.policy.idle_grace.as_secs();
            fail(
                &app,
                &visitor_id,
                Some(&by),
                NoticeReason::Offline,
                format!("the visitor's tab did not come back within {secs} s"),
            )
            .await;
            write_receipt(&app, &visitor_id, &phase).await;
        }
    });
}

/// Where a screen frame came from.
enum Source<'a> {
    /// This node's screen socket.
    Socket(ConnId),
    /// A screen socket on another node, opened with this token.
    Forwarded(&'a str),
}

/// A screen frame from a screen socket. `Ok(Some(reason))`: it went past a
/// relay bound; the caller ends the broadcast with [`overflowed`].
fn screen_frame(app: &AppState, visitor_id: &str, from: Source, data: Bytes) -> Result<Option<&'static str>, ErrorBody> {
    let tab = match (app.broadcasts.phases.lock().unwrap().get(visitor_id), from) {
        (Some(Phase::Active { screen: Some(ScreenLink { tab, peer: Some(p), .. }), .. }), Source::Socket(conn))
            if p.id == conn =>
        {
            *tab
        }
        (Some(Phase::Active { screen: Some(ScreenLink { tab, token, .. }), .. }), Source::Forwarded(t)) if token == t => *tab,
        _ => return Err(ErrorBody::new(ErrorCode::NoBroadcast, "this screen socket's broadcast is over; the frame was dropped")),
    };
    let keyframe = chatcast_protocol::screen::header(&data).is_some_and(|(k, _)| k == chatcast_protocol::screen::KIND_KEYFRAME);
    match app.relay.publish(visitor_id, data.clone()) {
        Published::Ok => {
            app.hub.engine().screen_frame(visitor_id, data, keyframe);
            Ok(None)
        }
        Published::WantKeyframe => {
            app.hub.engine().screen_frame(visitor_id, data, keyframe);
            app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::KeyframeRequest {}));
            Ok(None)
        }
        Published::NoKeyframe => {
            app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::KeyframeRequest {}));
            Ok(None)
        }
        Published::Overflow(reason) => Ok(Some(reason)),
        Published::Invalid => Err(ErrorBody::new(
            ErrorCode::BadMessage,
            "screen frame: expected a 5-byte header with kind 1 (keyframe) or 2 (delta)",
        )),
    }
}

/// A broadcast's frames went past a relay bound: it ends, with the reason on
/// both sides (the visitor's stop and transcript line, the console's notice).
pub(crate) async fn overflowed(app: &AppState, visitor_id: &str, reason: &'static str) {
    let Some(phase) = app.broadcasts.take_if(visitor_id, |p| matches!(p, Phase::Active { .. })) else { return };
    tracing::warn!(visitor = visitor_id, reason, "screen broadcast ended: over a relay bound");
    end(app, visitor_id, &phase, "too_much_data").await;
    fail(app, visitor_id, Some(phase.by()), NoticeReason::TooMuchData, reason.to_owned()).await;
    write_receipt(app, visitor_id, &phase).await;
}

/// A console socket wants the frames of a live broadcast — live on this
/// node, or on another one (then this node follows it through the engine).
pub async fn watch(app: &AppState, visitor_id: &str, peer: Peer) -> Result<(), ErrorBody> {
    let no_broadcast = || ErrorBody::new(ErrorCode::NoBroadcast, format!("no broadcast is live for visitor `{visitor_id}`"));
    let here = matches!(app.broadcasts.phases.lock().unwrap().get(visitor_id), Some(Phase::Active { .. }));
    let origin = if here { None } else { Some(cluster::owner_elsewhere(app, visitor_id).await.ok_or_else(no_broadcast)?) };
    // Where the replica may fetch the site's assets from, before the first frame.
    let site = app.db.site_of_visitor(visitor_id).await.map_err(crate::chat::internal)?.ok_or_else(no_broadcast)?;
    peer.send(frame(&ConsoleOut::ScreencastAssets {
        visitor_id: visitor_id.to_owned(),
        origins: site.origins,
        demo: site.is_demo,
    }));
    match origin {
        None => {
            let mut phases = app.broadcasts.phases.lock().unwrap();
            let Some(Phase::Active { idle_since, .. }) = phases.get_mut(visitor_id) else { return Err(no_broadcast()) };
            *idle_since = None;
            drop(phases);
            app.relay.watch(visitor_id, peer);
        }
        Some(node) => {
            // This node's first viewer: follow the broadcast, and ask its tab
            // for a fresh keyframe so that the replica starts from it.
            if !app.relay.watch(visitor_id, peer) {
                app.hub.engine().screen_follow(visitor_id);
                cluster::send(app, node, cluster::NodeCommand::Keyframe { visitor_id: visitor_id.to_owned() });
            }
        }
    }
    Ok(())
}

/// A console socket stopped watching (or closed).
pub fn unwatch(app: &AppState, visitor_id: &str, conn: ConnId) {
    if app.relay.unwatch(visitor_id, conn) > 0 {
        return;
    }
    let mut phases = app.broadcasts.phases.lock().unwrap();
    if let Some(Phase::Active { idle_since, .. }) = phases.get_mut(visitor_id) {
        *idle_since = Some(Instant::now());
        drop(phases);
        watch_for_idle(app, visitor_id);
    } else {
        // A broadcast of another node (or one that ended): this node stops following it.
        drop(phases);
        app.hub.engine().screen_unfollow(visitor_id);
        app.relay.clear(visitor_id);
    }
}

/// Stops recording once nobody has watched for the grace period, so that
/// capture never runs unwatched for long.
fn watch_for_idle(app: &AppState, visitor_id: &str) {
    let (app, visitor_id) = (app.clone(), visitor_id.to_owned());
    timer(app.tasks.clone(), app.shutdown.clone(), std::time::Duration::ZERO, async move {
        let grace = app.policy.idle_grace;
        let unwatched = |p: &Phase| matches!(p, Phase::Active { idle_since: Some(t), .. } if t.elapsed() >= grace);
        loop {
            tokio::time::sleep(grace).await;
            if !app.broadcasts.phases.lock().unwrap().get(&visitor_id).is_some_and(unwatched) {
                return;
            }
            // Viewers on other nodes: look again after another grace period.
            if !app.hub.engine().screen_followed_elsewhere(&visitor_id).await {
                break;
            }
        }
        let idle = app.broadcasts.take_if(&visitor_id, unwatched);
        if let Some(phase) = idle {
            let by = phase.by().clone();
            end(&app, &visitor_id, &phase, "no_viewers").await;
            record(
                &app,
                &visitor_id,
                Some(&by),
                "stopped",
                "nobody watched",
                Some("Screen broadcast stopped: nobody was watching".into()),
            )
            .await;
            write_receipt(&app, &visitor_id, &phase).await;
        }
    });
}

/// The broadcasting tab moved to another page without a reload (a single-page-app route).
pub fn page_moved(app: &AppState, visitor_id: &str, tab: ConnId, url: &str) {
    update_receipt(app, visitor_id, tab, |r| r.page(url.to_owned()));
}

/// Changes the receipt of the broadcast of `tab`, if it is live, and shares it.
fn update_receipt(app: &AppState, visitor_id: &str, tab: ConnId, change: impl FnOnce(&mut Receipt)) {
    let shared = match app.broadcasts.phases.lock().unwrap().get_mut(visitor_id) {
        Some(Phase::Active { tab: Some(t), by, receipt, screen, .. }) if *t == tab => {
            change(receipt);
            cluster::Shared::json(by, receipt, screen.as_ref().map_or("", |l| l.token.as_str()))
        }
        _ => return,
    };
    app.hub.engine().broadcast_update(visitor_id, shared);
}

/// The broadcasting tab counted what stays hidden on its page.
pub fn hidden_counted(app: &AppState, visitor_id: &str, tab: ConnId, fields: u32, areas: u32) {
    update_receipt(app, visitor_id, tab, |r| r.hidden(fields, areas));
}

/// A live broadcast ended: its receipt goes into the dialog, and its shared record goes.
async fn write_receipt(app: &AppState, visitor_id: &str, phase: &Phase) {
    if let Phase::Active { by, receipt, .. } = phase {
        app.hub.engine().broadcast_end(visitor_id);
        let now = crate::now_ms();
        system_line(app, visitor_id, &receipt.text(&by.name, now), Some(MessageKind::Receipt), now).await;
    }
}
