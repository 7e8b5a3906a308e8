//! Consent and the life of a screen broadcast: request → consent (asked, or
//! remembered) → connection probe → live → stopped. Every step is a system
//! line in the dialog and a row in the audit trail; the console's button
//! follows the state, and refusals reach the console as notices.
//!
//! What each event does is decided by one pure function over the phase as
//! data, [`machine::step`]; this module gathers what an event needs (tabs,
//! ids, the time), applies the step under one lock per server, and carries
//! out its effects: frames to the tab and the consoles, storage, timers (on
//! the server's task tracker), the engine.
//!
//! The screen frames themselves go through [`crate::relay`]; this module only
//! decides which tab may send them (through the screen socket it was given a
//! token for, see [`screen`]) and who may watch.

pub mod cluster;
pub mod machine;
pub mod receipt;
pub mod screen;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chatcast_protocol::{Author, ConsoleOut, ErrorBody, ErrorCode, MessageKind, NoticeReason, ScreencastState, VisitorOut};

use crate::app::AppState;
use crate::relay::Published;
use crate::storage::{NewMessage, User};
use crate::transport::{ConnId, Peer};
use chatcast_protocol::frame;
use machine::{Consultant, Effect, Event, Phase, Timer};

/// Timing and thresholds of broadcasts (from the settings).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How long a consent request waits for an answer.
    pub request_timeout: Duration,
    /// After a "No", how long before anyone may ask the visitor again.
    pub retry_after_no: Duration,
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
            retry_after_no: Duration::from_secs(s.consent_retry_after_no_secs),
            probe_bytes: s.probe_bytes,
            weak_rtt: Duration::from_millis(s.weak_rtt_ms),
            weak_upload_kbps: s.weak_upload_kbps,
            probe_timeout: Duration::from_secs(10),
            idle_grace: Duration::from_secs(s.broadcast_idle_grace_secs),
        }
    }
}

impl Policy {
    fn limits(&self) -> machine::Limits {
        machine::Limits {
            weak_rtt_ms: self.weak_rtt.as_millis() as u64,
            weak_upload_kbps: self.weak_upload_kbps,
            request_timeout_secs: self.request_timeout.as_secs(),
            probe_timeout_secs: self.probe_timeout.as_secs(),
            idle_grace_ms: self.idle_grace.as_millis() as u64,
        }
    }
}

/// A visitor's phase and, while it is live, the screen socket connected with its token.
struct Entry {
    phase: Phase,
    screen: Option<Peer>,
}

/// Every visitor's broadcast phase on this node (no entry: idle).
#[derive(Default)]
pub struct Broadcasts {
    phases: Mutex<HashMap<String, Entry>>,
}

fn new_id() -> String {
    crate::auth::new_token()[..16].to_owned()
}

/// A screen token: the visitor's id, so that any node finds the broadcast, then a random part.
fn new_screen_token(visitor_id: &str) -> String {
    format!("{visitor_id}.{}", crate::auth::new_token())
}

/// Milliseconds of a monotonic clock: the machine's time.
fn mono_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Broadcasts {
    /// Runs `event` through the machine, atomically for the visitor; returns
    /// the effects, and the screen socket whose token went away (to close).
    fn apply(&self, visitor_id: &str, event: Event, limits: &machine::Limits) -> (Vec<Effect>, Option<Peer>) {
        let mut phases = self.phases.lock().unwrap();
        let current = phases.get(visitor_id);
        let token = |p: Option<&Phase>| match p {
            Some(Phase::Active { link: Some(l), .. }) => Some(l.token.clone()),
            _ => None,
        };
        let before = token(current.map(|e| &e.phase));
        let step = machine::step(current.map(|e| &e.phase), event, mono_ms(), limits);
        let after = token(step.next.as_ref());
        let gone = match step.next {
            None => phases.remove(visitor_id).and_then(|e| e.screen),
            Some(next) => {
                let e = phases.entry(visitor_id.to_owned()).or_insert(Entry { phase: next.clone(), screen: None });
                e.phase = next;
                if before != after { e.screen.take() } else { None }
            }
        };
        (step.effects, gone)
    }

    /// A copy of the visitor's phase.
    fn phase(&self, visitor_id: &str) -> Option<Phase> {
        self.phases.lock().unwrap().get(visitor_id).map(|e| e.phase.clone())
    }
}

/// Runs an event for a visitor: the machine decides, then its effects are carried out in order.
fn handle<'a>(app: &'a AppState, visitor_id: &'a str, event: Event) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let (effects, mut gone) = app.broadcasts.apply(visitor_id, event, &app.policy.limits());
        for effect in effects {
            perform(app, visitor_id, effect, &mut gone).await;
        }
    })
}

/// Carries out one effect; `screen`: the screen socket of a token that went away.
async fn perform(app: &AppState, visitor_id: &str, effect: Effect, screen: &mut Option<Peer>) {
    match effect {
        Effect::State(state) => set_state(app, visitor_id, state).await,
        Effect::StateIdle => set_state(app, visitor_id, app.hub.offline_aware(visitor_id, ScreencastState::Idle)).await,
        Effect::Fail { reason, detail, by } => fail(app, visitor_id, by.as_ref(), reason, detail).await,
        Effect::Record { by, event, detail, line } => record(app, visitor_id, by.as_ref(), event, &detail, line).await,
        Effect::LookupConsent { request_id, tab_id } => {
            // Remembered consent belongs to the tab that gave it.
            let remembered = match &tab_id {
                Some(t) => app
                    .db
                    .has_consent(visitor_id, t, crate::now_ms())
                    .await
                    .inspect_err(|e| tracing::error!(error = %e, "consent lookup failed"))
                    .ok(),
                None => Some(false),
            };
            handle(app, visitor_id, Event::ConsentKnown { request_id, remembered, probe_id: new_id() }).await;
        }
        Effect::AskConsent { request_id, by_name } => {
            let site = app.db.site_of_visitor(visitor_id).await.ok().flatten();
            let ask = VisitorOut::ConsentRequest {
                request_id,
                consultant_name: by_name,
                expires_at: crate::now_ms() + app.policy.request_timeout.as_millis() as i64,
                privacy: site.as_ref().map(|s| s.privacy.clone()).unwrap_or_default(),
                remember_hours: site.as_ref().map_or(24, |s| s.consent_ttl_hours),
            };
            app.hub.to_visitor(visitor_id, &frame(&ask), None);
        }
        Effect::CloseConsent { request_id, except } => {
            app.hub.to_visitor(visitor_id, &frame(&VisitorOut::ConsentClosed { request_id }), except);
        }
        Effect::Remember { tab_id, by } => {
            let now = crate::now_ms();
            let ttl_hours = app.db.site_of_visitor(visitor_id).await.ok().flatten().map_or(24, |s| s.consent_ttl_hours);
            // Remembered for the tab that answered, and only if it has an id to be known by.
            let remembered = match &tab_id {
                Some(t) => match app.db.remember_consent(visitor_id, t, now, now + ttl_hours * 3_600_000).await {
                    Ok(()) => format!("remembered for this tab ({}) for {ttl_hours} h", machine::short(t)),
                    Err(e) => {
                        tracing::error!(error = %e, "could not remember consent");
                        "not remembered (storage failed)".to_owned()
                    }
                },
                None => "not remembered (the tab has no id)".to_owned(),
            };
            let line = Some((MessageKind::Allowed, "The visitor allowed screen broadcast".to_owned()));
            record(app, visitor_id, Some(&by), "granted", &remembered, line).await;
        }
        Effect::RevokeConsent => {
            if let Err(e) = app.db.revoke_consent(visitor_id, crate::now_ms()).await {
                tracing::error!(error = %e, "could not revoke consent");
            }
        }
        Effect::Probe { tab, probe_id } => {
            app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::Probe { id: probe_id, upload_bytes: app.policy.probe_bytes }));
        }
        Effect::StartTab { tab, token, by_name } => {
            if let Some(start) = start_frame(app, visitor_id, &by_name, &token).await {
                app.hub.to_tab(visitor_id, tab, &start);
            }
        }
        Effect::StopTab { tab, reason } => {
            let stop = frame(&VisitorOut::ScreencastStop { reason: reason.to_owned() });
            match tab {
                Some(tab) => app.hub.to_tab(visitor_id, tab, &stop),
                // A tab between pages may still come back recording: tell every tab.
                None => app.hub.to_visitor(visitor_id, &stop, None),
            }
        }
        Effect::CloseScreen(reason) => {
            if let Some(p) = screen.take() {
                p.close(1000, reason);
            }
        }
        Effect::ForgetFrames => forget_frames(app, visitor_id),
        Effect::Receipt { by_name, receipt } => {
            let now = crate::now_ms();
            let facts = receipt.facts(now);
            let body = receipt::text(&by_name, &facts);
            system_line(app, visitor_id, &body, MessageKind::Receipt, Some(&by_name), Some(&facts), now).await;
        }
        Effect::Share { tab_id, start } => {
            let Some(Phase::Active { by, receipt, link, .. }) = app.broadcasts.phase(visitor_id) else { return };
            let shared = cluster::Shared::json(&by, &receipt, link.as_ref().map_or("", |l| l.token.as_str()));
            match (start, tab_id) {
                (true, Some(t)) => app.hub.engine().broadcast_start(visitor_id, &t, shared),
                (true, None) => {}
                (false, _) => app.hub.engine().broadcast_update(visitor_id, shared),
            }
        }
        Effect::Unshare => app.hub.engine().broadcast_end(visitor_id),
        Effect::Release(node) => cluster::send(app, node, cluster::NodeCommand::Released { visitor_id: visitor_id.to_owned() }),
        Effect::LetGo => {
            app.hub.set_screencast(visitor_id, ScreencastState::Idle);
            app.relay.clear(visitor_id);
            if app.relay.has_viewers(visitor_id) {
                app.hub.engine().screen_follow(visitor_id);
            }
        }
        Effect::TryAdopt { tab, tab_id } => {
            let Some((from, shared)) = app.hub.engine().broadcast_take(visitor_id, &tab_id).await else { return };
            let Ok(cluster::Shared { by, receipt, .. }) = serde_json::from_str(&shared) else {
                return tracing::error!(visitor = visitor_id, "a shared broadcast record does not parse; not resumed");
            };
            let from = (from != app.hub.engine().node()).then_some(from);
            let page = app.hub.tab_page(visitor_id, tab).map(|p| p.url);
            let token = new_screen_token(visitor_id);
            handle(app, visitor_id, Event::Adopt { tab, tab_id, token, by, receipt, page, from }).await;
        }
        Effect::Start(t) => start_timer(app, visitor_id, t),
    }
}

/// Starts a timer on the server's task tracker; it sends its event when it
/// fires. At shutdown it is dropped undecided: the phase ends with the process
/// (and, in a cluster, the node the tab reconnects to takes a live broadcast over).
fn start_timer(app: &AppState, visitor_id: &str, t: Timer) {
    let delay = match &t {
        Timer::Request(_) => app.policy.request_timeout,
        Timer::Probe(_) => app.policy.probe_timeout,
        Timer::TabGone | Timer::Idle => app.policy.idle_grace,
    };
    let (app, visitor_id, shutdown) = (app.clone(), visitor_id.to_owned(), app.shutdown.clone());
    app.tasks.clone().spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return,
        }
        let event = match t {
            Timer::Request(request_id) => Event::RequestExpired { request_id },
            Timer::Probe(probe_id) => Event::ProbeExpired { probe_id },
            Timer::TabGone => {
                if !matches!(app.broadcasts.phase(&visitor_id), Some(Phase::Active { tab: None, .. })) {
                    return;
                }
                Event::TabGoneExpired { owned: app.hub.engine().broadcast_owned(&visitor_id).await }
            }
            Timer::Idle => {
                let grace = app.policy.idle_grace.as_millis() as u64;
                let idle = matches!(app.broadcasts.phase(&visitor_id),
                    Some(Phase::Active { idle_since: Some(t), .. }) if mono_ms().saturating_sub(t) >= grace);
                if !idle {
                    return;
                }
                Event::IdleExpired { followed_elsewhere: app.hub.engine().screen_followed_elsewhere(&visitor_id).await }
            }
        };
        handle(&app, &visitor_id, event).await;
    });
}

/// Forgets a broadcast's frames here and on every node that follows it.
fn forget_frames(app: &AppState, visitor_id: &str) {
    app.relay.clear(visitor_id);
    app.hub.engine().screen_clear(visitor_id);
}

async fn set_state(app: &AppState, visitor_id: &str, state: ScreencastState) {
    app.hub.set_screencast(visitor_id, state);
    crate::chat::to_consoles_about(app, visitor_id, &frame(&ConsoleOut::Screencast { visitor_id: visitor_id.to_owned(), state }))
        .await;
}

async fn notice(app: &AppState, visitor_id: &str, reason: NoticeReason, detail: String) {
    // After a "No" every console learns when it may ask again.
    let retry_in_secs = (reason == NoticeReason::Denied && !app.policy.retry_after_no.is_zero())
        .then_some(app.policy.retry_after_no.as_secs() as u32);
    let n = ConsoleOut::ScreencastNotice { visitor_id: visitor_id.to_owned(), reason, detail, retry_in_secs };
    crate::chat::to_consoles_about(app, visitor_id, &frame(&n)).await;
}

/// How long until this visitor may be asked again after their latest "No" (`None`: now).
/// Checked on whichever node the consultant pressed the button, from the shared audit.
async fn cooldown(app: &AppState, visitor_id: &str) -> Option<Duration> {
    let wait = app.policy.retry_after_no.as_millis() as i64;
    let denied =
        app.db.last_denied(visitor_id).await.inspect_err(|e| tracing::error!(error = %e, "audit read failed")).ok()??;
    let left = denied + wait - crate::now_ms();
    (left > 0).then(|| Duration::from_millis(left as u64))
}

async fn record(
    app: &AppState,
    visitor_id: &str,
    by: Option<&Consultant>,
    event: &str,
    detail: &str,
    line: Option<(MessageKind, String)>,
) {
    let now = crate::now_ms();
    if let Err(e) = app.db.audit(visitor_id, by.map(|c| c.id), by.map(|c| c.name.as_str()), event, detail, now).await {
        tracing::error!(error = %e, "audit write failed");
    }
    if let Some((kind, body)) = line {
        system_line(app, visitor_id, &body, kind, by.map(|c| c.name.as_str()), None, now).await;
    }
}

/// Stores a system line in the dialog and sends it to both sides (the widget
/// words it for the visitor by its kind).
async fn system_line(
    app: &AppState,
    visitor_id: &str,
    body: &str,
    kind: MessageKind,
    by_name: Option<&str>,
    receipt: Option<&chatcast_protocol::ReceiptFacts>,
    now: i64,
) {
    let m = NewMessage {
        visitor_id,
        author: Author::System,
        user_id: None,
        author_name: by_name,
        client_id: None,
        body,
        at: now,
        kind: Some(kind),
        attachment: None,
        receipt,
    };
    let Some(site) = crate::chat::site_of(app, visitor_id).await else { return };
    if let Err(e) = crate::chat::deliver(app, site, m, None).await {
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
    let kind = match reason {
        NoticeReason::Denied => MessageKind::Denied,
        NoticeReason::Timeout => MessageKind::Timeout,
        NoticeReason::Unsupported => MessageKind::Unsupported,
        NoticeReason::WeakConnection => MessageKind::WeakConnection,
        NoticeReason::Offline => MessageKind::Offline,
        NoticeReason::StoppedByVisitor => MessageKind::StoppedByVisitor,
        NoticeReason::TooMuchData => MessageKind::TooMuchData,
    };
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
    record(app, visitor_id, by, reason_name(reason), &detail, Some((kind, line))).await;
    notice(app, visitor_id, reason, detail).await;
    set_state(app, visitor_id, app.hub.offline_aware(visitor_id, ScreencastState::Idle)).await;
}

// ---- events

/// A consultant pressed the screencast button: asked here if the visitor
/// has a tab on this node, else on the node with their most recent tab.
pub async fn request(app: &AppState, user: &User, visitor_id: &str) {
    if let Some(left) = cooldown(app, visitor_id).await {
        let secs = left.as_secs_f64().ceil() as u32;
        let n = ConsoleOut::ScreencastNotice {
            visitor_id: visitor_id.to_owned(),
            reason: NoticeReason::Denied,
            detail: format!("the visitor said No a moment ago: you can ask again in {secs} s"),
            retry_in_secs: Some(secs),
        };
        return app.hub.to_user(user.id, &frame(&n));
    }
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
    let latest = app.hub.latest_tab(visitor_id);
    handle(app, visitor_id, Event::Request { by, request_id: new_id(), latest }).await;
}

/// The visitor answered the consent block in one of its tabs.
pub async fn answer(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<String>, request_id: &str, allow: bool) {
    let event = Event::Answer { request_id: request_id.to_owned(), tab, tab_id, allow, probe_id: new_id() };
    handle(app, visitor_id, event).await;
}

/// The tab echoed the probe: that is the round trip.
pub async fn probe_echo(app: &AppState, visitor_id: &str, tab: ConnId, id: &str) {
    handle(app, visitor_id, Event::ProbeEcho { tab, probe_id: id.to_owned() }).await;
}

/// The tab's upload probe arrived: decide, then start or refuse.
pub async fn probe_upload(app: &AppState, visitor_id: &str, tab: ConnId, bytes: usize) {
    let page = app.hub.tab_page(visitor_id, tab).map(|p| p.url);
    let event = Event::ProbeUpload { tab, bytes, token: new_screen_token(visitor_id), page, wall_ms: crate::now_ms() };
    handle(app, visitor_id, event).await;
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
    handle(app, visitor_id, Event::Unavailable { tab, detail }).await;
}

/// Stop from the console (sent on to the node that runs the broadcast, if another does).
pub async fn stop_by_consultant(app: &AppState, user: &User, visitor_id: &str) {
    if app.broadcasts.phase(visitor_id).is_none()
        && (app.hub.engine().node_of(visitor_id).await.is_some() || cluster::owner_elsewhere(app, visitor_id).await.is_some())
    {
        let cmd = cluster::NodeCommand::Stop { visitor_id: visitor_id.to_owned(), user_id: user.id };
        return cluster::send(app, cluster::EVERY_NODE, cmd);
    }
    handle(app, visitor_id, Event::StopByConsultant { by: Consultant { id: user.id, name: user.name.clone() } }).await;
}

/// Stop from the visitor: ends the broadcast and revokes the remembered consent.
pub async fn stop_by_visitor(app: &AppState, visitor_id: &str) {
    if app.broadcasts.phase(visitor_id).is_none() && cluster::owner_elsewhere(app, visitor_id).await.is_some() {
        // The broadcast runs on another node: it ends it there.
        return cluster::send(app, cluster::EVERY_NODE, cluster::NodeCommand::VisitorStop { visitor_id: visitor_id.to_owned() });
    }
    handle(app, visitor_id, Event::StopByVisitor).await;
}

/// A tab said hello: if it is the broadcast's tab coming back (next page of
/// the site, or from a node that died), recording resumes there with no new consent.
pub async fn tab_joined(app: &AppState, visitor_id: &str, tab: ConnId, tab_id: Option<&str>) {
    let page = app.hub.tab_page(visitor_id, tab).map(|p| p.url);
    let event = Event::TabJoined { tab, tab_id: tab_id.map(str::to_owned), token: new_screen_token(visitor_id), page };
    handle(app, visitor_id, event).await;
}

/// Another node took this node's broadcast over: it goes on there.
async fn released(app: &AppState, visitor_id: &str) {
    handle(app, visitor_id, Event::Released).await;
}

/// Asks the broadcasting tab, if it is here, for a fresh keyframe.
fn ask_keyframe(app: &AppState, visitor_id: &str) {
    if let Some(Phase::Active { tab: Some(tab), .. }) = app.broadcasts.phase(visitor_id) {
        app.hub.to_tab(visitor_id, tab, &frame(&VisitorOut::KeyframeRequest {}));
    }
}

/// A tab's socket closed.
pub async fn tab_left(app: &AppState, visitor_id: &str, tab: ConnId) {
    handle(app, visitor_id, Event::TabLeft { tab }).await;
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
    let tab = {
        let phases = app.broadcasts.phases.lock().unwrap();
        match (phases.get(visitor_id), from) {
            (Some(Entry { phase: Phase::Active { link: Some(l), .. }, screen: Some(p) }), Source::Socket(conn))
                if p.id == conn =>
            {
                Some(l.tab)
            }
            (Some(Entry { phase: Phase::Active { link: Some(l), .. }, .. }), Source::Forwarded(t)) if l.token == t => Some(l.tab),
            _ => None,
        }
    };
    let Some(tab) = tab else {
        return Err(ErrorBody::new(ErrorCode::NoBroadcast, "this screen socket's broadcast is over; the frame was dropped"));
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
    tracing::warn!(visitor = visitor_id, reason, "screen broadcast ended: over a relay bound");
    handle(app, visitor_id, Event::Overflow { reason: reason.to_owned() }).await;
}

/// A console socket wants the frames of a live broadcast — live on this
/// node, or on another one (then this node follows it through the engine).
pub async fn watch(app: &AppState, visitor_id: &str, peer: Peer) -> Result<(), ErrorBody> {
    let no_broadcast = || ErrorBody::new(ErrorCode::NoBroadcast, format!("no broadcast is live for visitor `{visitor_id}`"));
    let here = matches!(app.broadcasts.phase(visitor_id), Some(Phase::Active { .. }));
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
            if !matches!(app.broadcasts.phase(visitor_id), Some(Phase::Active { .. })) {
                return Err(no_broadcast());
            }
            handle(app, visitor_id, Event::Watched).await;
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
pub async fn unwatch(app: &AppState, visitor_id: &str, conn: ConnId) {
    if app.relay.unwatch(visitor_id, conn) > 0 {
        return;
    }
    if matches!(app.broadcasts.phase(visitor_id), Some(Phase::Active { .. })) {
        handle(app, visitor_id, Event::Unwatched).await;
    } else {
        // A broadcast of another node (or one that ended): this node stops following it.
        app.hub.engine().screen_unfollow(visitor_id);
        app.relay.clear(visitor_id);
    }
}

/// The broadcasting tab moved to another page without a reload (a single-page-app route).
pub async fn page_moved(app: &AppState, visitor_id: &str, tab: ConnId, url: &str) {
    handle(app, visitor_id, Event::PageMoved { tab, url: url.to_owned() }).await;
}

/// The broadcasting tab counted what stays hidden on its page.
pub async fn hidden_counted(app: &AppState, visitor_id: &str, tab: ConnId, fields: u32, areas: u32) {
    handle(app, visitor_id, Event::HiddenCounted { tab, fields, areas }).await;
}
