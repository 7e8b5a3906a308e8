//! The application state, built in one place, and the server loop on an
//! injected listener (tests pass a port-0 listener).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
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
    /// The admin bootstrap failed.
    #[error("admin bootstrap: {0}")]
    Admin(#[from] auth::AuthError),
}

impl AppState {
    /// Opens storage (creating the data dir), and makes sure the demo site exists.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        crate::telemetry::init();
        let proxies = TrustedProxies::parse(&settings.trusted_proxies).map_err(StartError::Settings)?;
        let db = open_storage(&settings).await?;
        if settings.demo && db.demo_site().await?.is_none() {
            let site = db.create_site("Demo shop", &new_site_key(), &[], true).await?;
            tracing::info!(key = %site.key, "created the demo site");
        }
        Ok(AppState {
            sessions: Sessions::new(db.clone(), settings.session_ttl_hours, settings.login_failures_per_minute),
            db,
            hub: Arc::new(Hub::default()),
            relay: Arc::new(Relay::default()),
            broadcasts: Arc::new(Broadcasts::default()),
            policy: settings.broadcast_policy(),
            settings: Arc::new(settings),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            proxies: Arc::new(proxies),
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
                auth::add_user(self.db.as_ref(), "admin@localhost", &password, Role::Admin, Some("Admin")).await?;
                tracing::warn!(
                    "no account existed: created admin@localhost with password {password} \
                     (set CHATCAST_ADMIN_EMAIL and CHATCAST_ADMIN_PASSWORD to choose your own)"
                );
            }
            None => {}
        }
        Ok(())
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

/// A new public site key.
pub fn new_site_key() -> String {
    format!("site_{}", &auth::new_token()[..24])
}

/// Serves until `state.shutdown` is cancelled, then closes every socket with
/// 1001 ("going away"), waits for their sessions to finish and flushes storage.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let router = crate::http::router(state.clone());
    let shutdown = state.shutdown.clone();
    // Small frames must leave at once: without TCP_NODELAY a frame written
    // while the previous one is unacknowledged waits for the peer's delayed
    // ACK (up to 40 ms on Linux). yawc's `with_no_delay` reaches only sockets
    // it connects itself, not ones upgraded through hyper, so it is set here.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    state.tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), state.tasks.wait()).await.is_err() {
        tracing::warn!("some sockets did not close within 5 s");
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
