//! The application state, built in one place, and the server loop on an
//! injected listener (tests pass a port-0 listener).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{self, Sessions};
use crate::config::Settings;
use crate::consent::{Broadcasts, Policy};
use crate::http::client::TrustedProxies;
use crate::hub::Hub;
use crate::relay::Relay;
use crate::storage::{self, Database, Role, StorageError};

/// Everything a request handler or socket session may need.
#[derive(Clone)]
pub struct AppState {
    /// Settings in force.
    pub settings: Arc<Settings>,
    /// Storage.
    pub db: Arc<dyn Database>,
    /// Console logins.
    pub sessions: Sessions,
    /// Who is connected.
    pub hub: Arc<Hub>,
    /// Live screen broadcasts: keyframe caches and viewers.
    pub relay: Arc<Relay>,
    /// Each visitor's broadcast phase.
    pub broadcasts: Arc<Broadcasts>,
    /// Broadcast timing and thresholds.
    pub policy: Policy,
    /// Cancelled when the server shuts down; every socket watches it.
    pub shutdown: CancellationToken,
    /// Tracks socket tasks so shutdown can wait for them to say goodbye.
    pub tasks: TaskTracker,
    /// Whose `X-Forwarded-For` names the client (see [`crate::http::client`]).
    pub proxies: Arc<TrustedProxies>,
    /// What one client may do on the widget endpoint.
    pub limits: Arc<crate::limits::VisitorLimits>,
    /// Which sites have a consultant online.
    pub support: Arc<crate::chat::support::Support>,
    /// Sends answers to visitors who are away by email (when SMTP is set up).
    pub mail: Option<Arc<crate::mail::Mailer>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create data dir {0}: {1}")]
    DataDir(String, std::io::Error),
    /// Storage failed to open or migrate.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A setting is not acceptable.
    #[error("{0}")]
    Settings(String),
    /// The cluster engine could not start (Redis did not answer).
    #[error(transparent)]
    Engine(#[from] crate::engine::redis::EngineError),
    /// The admin bootstrap failed.
    #[error("admin bootstrap: {0}")]
    Admin(#[from] auth::AuthError),
}

impl AppState {
    /// Opens storage (creating the data dir), and makes sure the demo site exists.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        crate::telemetry::init();
        settings.check().map_err(StartError::Settings)?;
        let proxies = TrustedProxies::parse(&settings.trusted_proxies).map_err(StartError::Settings)?;
        let db = if settings.database_url().starts_with("postgres") {
            until_up("PostgreSQL", || open_storage(&settings), |_| true).await?
        } else {
            open_storage(&settings).await?
        };
        if settings.demo && db.demo_site().await?.is_none() {
            match db.create_site("Demo shop", &new_site_key(), &[], true).await {
                Ok(site) => tracing::info!(key = %site.key, "created the demo site"),
                // Another node starting at the same moment made it (PostgreSQL allows one).
                Err(crate::storage::StorageError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let limits = Arc::new(crate::limits::VisitorLimits::from_settings(&settings));
        let mail = crate::mail::Mailer::from_settings(&settings).map_err(StartError::Settings)?.map(Arc::new);
        let engine: Arc<dyn crate::engine::Engine> = match &settings.redis_url {
            Some(url) => Arc::new(
                until_up("Redis", || crate::engine::redis::RedisEngine::connect(url, &settings.cluster_name), |e| e.retryable())
                    .await?,
            ),
            None => Arc::new(crate::engine::memory::MemoryEngine::new()),
        };
        Ok(AppState {
            sessions: Sessions::new(
                db.clone(),
                engine.clone(),
                settings.session_ttl_hours,
                (settings.login_failures_per_minute, settings.login_failures_per_account_per_minute),
                settings.login_hashers(),
            ),
            db,
            hub: Arc::new(Hub::new(engine)),
            relay: Arc::new(Relay::new(crate::relay::Limits {
                max_tail_bytes: settings.broadcast_max_tail_bytes,
                max_total_bytes: settings.relay_max_total_bytes,
            })),
            broadcasts: Arc::new(Broadcasts::default()),
            policy: crate::consent::Policy::from_settings(&settings),
            settings: Arc::new(settings),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            proxies: Arc::new(proxies),
            limits,
            support: Arc::default(),
            mail,
        })
    }

    /// Makes sure an admin can log in: the given account, or — on a fresh
    /// install with no account and none given — a generated one, logged once.
    pub async fn bootstrap_admin(&self, admin: Option<(String, String)>) -> Result<(), StartError> {
        match admin {
            Some((email, password)) => {
                auth::ensure_admin(self.db.as_ref(), &email, &password).await?;
                tracing::info!(%email, "admin account ready");
            }
            None if self.db.list_users().await?.is_empty() => {
                let password = auth::new_token()[..16].to_owned();
                match auth::add_user(self.db.as_ref(), "admin@localhost", &password, Role::Admin, None).await {
                    Ok(_) => tracing::warn!(
                        "no account existed: created admin@localhost with password {password} \
                         (set CHATCAST_ADMIN_EMAIL and CHATCAST_ADMIN_PASSWORD to choose your own)"
                    ),
                    // Another node starting at the same moment made it (and logged its password).
                    Err(auth::AuthError::Storage(crate::storage::StorageError::Conflict(_))) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// Whether a site may be removed: not the demo site while this server serves
/// the demo (it would come back at the next start).
pub fn site_removable(settings: &Settings, site: &crate::storage::Site) -> Result<(), String> {
    if site.is_demo && settings.demo {
        return Err(format!(
            "`{}` is the demo site, served while the demo is on: set demo = false (CHATCAST_DEMO=false) first",
            site.name
        ));
    }
    Ok(())
}

/// How long a starting node waits for PostgreSQL or Redis to answer before it gives up.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// Runs `connect` until it succeeds or [`STARTUP_WAIT`] has passed: a node
/// started together with its database (docker compose, a reboot) waits for
/// it, saying so, instead of exiting and being restarted in a loop.
/// `retry` says which errors may pass (not a malformed URL).
async fn until_up<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut connect: impl FnMut() -> F,
    retry: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    let mut pause = Duration::from_millis(250);
    loop {
        match connect().await {
            Ok(v) => return Ok(v),
            Err(e) if retry(&e) && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, "waiting for {what} (up to {} s at start)", STARTUP_WAIT.as_secs());
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(4));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens the storage named by the settings (the CLI uses this too).
pub async fn open_storage(settings: &Settings) -> Result<Arc<dyn Database>, StartError> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|e| StartError::DataDir(settings.data_dir.display().to_string(), e))?;
    }
    Ok(storage::open(&settings.database_url()).await?)
}

/// Refuses origins another site already has: a page of that origin would
/// otherwise load two sites' widgets, and whose visitor it is would be a guess.
pub async fn origins_unclaimed(db: &dyn Database, origins: &[String]) -> Result<(), String> {
    let sites = db.list_sites().await.map_err(|e| e.to_string())?;
    for o in origins {
        if let Some(other) = sites.iter().find(|s| s.origins.iter().any(|x| x.eq_ignore_ascii_case(o))) {
            return Err(format!("origin `{o}` already belongs to site `{}` (id {}); one origin, one site", other.name, other.id));
        }
    }
    Ok(())
}

/// The snippet a site's pages embed, with this server's public origin (the
/// first `public_origins`; else the address it listens on).
pub fn embed_snippet(settings: &Settings, key: &str) -> String {
    let origin = settings.public_origins.first().cloned().unwrap_or_else(|| {
        let listen = settings.listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
        format!("http://{listen}")
    });
    format!("<script src=\"{}/widget.js\" data-site=\"{key}\" async></script>", origin.trim_end_matches('/'))
}

/// A new public site key.
pub fn new_site_key() -> String {
    format!("site_{}", &auth::new_token()[..24])
}

/// Serves until `state.shutdown` is cancelled, then closes every socket with
/// 1001 ("going away"), waits for their sessions to finish — but never longer
/// than `shutdown_timeout_secs`, whatever clients hold open — and flushes storage.
///
/// Each connection is served by hyper with a header read timeout (a client
/// that does not finish its request headers in time, or keeps an idle
/// keep-alive connection open, is closed: slowloris) and the router applies
/// body read timeouts and size limits (see [`crate::http::router`]).
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    let router = crate::http::router(state.clone());
    let shutdown = state.shutdown.clone();
    // Sessions ended elsewhere (the command line, another node) close their sockets here.
    state.tasks.spawn(crate::auth::revoke::watch(state.clone()));
    state.tasks.spawn(crate::chat::retention::run(state.clone()));
    state.tasks.spawn(crate::chat::support::watch(state.clone()));
    // What other nodes publish: frames for this node's sockets, or commands for the node itself.
    let app = state.clone();
    state.hub.engine().start(
        Arc::new(move |e: crate::engine::Envelope| match &e.target {
            crate::engine::Target::Node(_) => {
                if crate::consent::cluster::is_for_me(&app, &e.target) {
                    let app2 = app.clone();
                    app.tasks.spawn(async move { crate::consent::cluster::run(app2, &e.frame).await });
                }
            }
            crate::engine::Target::Screen { visitor_id, token, .. } => {
                // Taken here, in the order the frames arrive.
                if let Some(reason) = crate::consent::screen::forwarded(&app, visitor_id, token, e.frame.clone()) {
                    let (app2, vid) = (app.clone(), visitor_id.clone());
                    app.tasks.spawn(async move { crate::consent::overflowed(&app2, &vid, reason).await });
                }
            }
            _ => app.hub.deliver_local(&e),
        }),
        &crate::engine::Background {
            tasks: state.tasks.clone(),
            shutdown: shutdown.clone(),
            hub: state.hub.clone(),
            relay: state.relay.clone(),
        },
    );
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(state.settings.http_header_timeout_secs.max(1)))
        .max_headers(100);
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // Small frames must leave at once: without TCP_NODELAY a frame written
        // while the previous one is unacknowledged waits for the peer's delayed
        // ACK (up to 40 ms on Linux).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let svc = router.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), TowerToHyperService::new(svc)).into_owned();
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
        // Reap finished connection tasks as we go.
        while connections.try_join_next().is_some() {}
    }
    let limit = Duration::from_secs(state.settings.shutdown_timeout_secs.max(1));
    let deadline = tokio::time::Instant::now() + limit;
    // HTTP connections finish their request in flight and close; upgraded
    // sockets were told to go away (1001) by the cancelled token.
    if tokio::time::timeout_at(deadline, graceful.shutdown()).await.is_err() {
        tracing::warn!("some HTTP connections did not finish within {} s; closing them", limit.as_secs());
    }
    connections.abort_all();
    state.tasks.close();
    if tokio::time::timeout_at(deadline, state.tasks.wait()).await.is_err() {
        tracing::warn!("some sockets did not close within {} s", limit.as_secs());
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
