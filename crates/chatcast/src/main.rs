//! The `chatcast` binary: parses the command line, then calls into
//! `chatcast-server`. `chatcast` alone is `chatcast serve`.

use std::path::PathBuf;

use anyhow::Context;
use chatcast_server::config::{Overrides, Settings};
use chatcast_server::storage::Role;
use chatcast_server::{AppState, app, auth, validate};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chatcast", version, about = "Live chat for websites, with consented screen broadcast")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `serve`, for when no subcommand is given.
    #[command(flatten)]
    common: Common,
}

/// Options every subcommand takes.
#[derive(Args, Clone, Default)]
struct Common {
    /// Settings file (TOML); flags and CHATCAST_* variables override it.
    #[arg(long, global = true, env = "CHATCAST_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the SQLite file [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Storage URL [default: sqlite in the data dir].
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<String>,
        /// Redis URL for the multi-node engine.
        #[arg(long)]
        redis_url: Option<String>,
    },
    /// Manage sites (websites that embed the widget).
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Manage console accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Add a site; prints its key as the last line.
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the widget (repeatable), e.g. https://shop.example.com.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
    },
    /// List sites with their keys and origins.
    List,
    /// Print the secret the site's server signs visitor ids with (`Chatcast.identify`).
    Secret {
        /// The site's key.
        #[arg(long)]
        key: String,
    },
    /// Rename a site.
    Rename {
        /// The site's key.
        #[arg(long)]
        key: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Remove a site with its visitors and their transcripts; its widget stops working at once.
    Remove {
        /// The site's key.
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a console account.
    Add {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Password (at least 8 characters).
        #[arg(long)]
        password: String,
        /// Role.
        #[arg(long, default_value = "consultant", value_parser = ["consultant", "admin"])]
        role: String,
        /// Display name shown to visitors [default: from the email].
        #[arg(long)]
        name: Option<String>,
        /// A site this consultant works on, by key (repeatable) [default: every site].
        #[arg(long = "site")]
        sites: Vec<String>,
    },
    /// Set the sites a consultant works on: they see, hear about and act on those sites' visitors only.
    Sites {
        /// The account's login email.
        #[arg(long)]
        email: String,
        /// A site, by key (repeatable).
        #[arg(long = "site", required_unless_present = "all", conflicts_with = "all")]
        sites: Vec<String>,
        /// Every site, including sites added later.
        #[arg(long)]
        all: bool,
    },
    /// List console accounts.
    List,
    /// Disable an account: it cannot log in, and its sessions and open consoles end.
    Disable {
        /// The account's login email.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The account's login email.
        #[arg(long)]
        email: String,
    },
    /// Remove an account (its sessions end; messages keep the name they were sent with).
    Remove {
        /// The account's login email.
        #[arg(long)]
        email: String,
    },
    /// Set a new password (the account's sessions end).
    Passwd {
        /// The account's login email.
        #[arg(long)]
        email: String,
        /// The new password (at least 8 characters).
        #[arg(long)]
        password: String,
    },
    /// Change an account's role (its sessions end).
    Role {
        /// The account's login email.
        #[arg(long)]
        email: String,
        /// The new role.
        #[arg(long, value_parser = ["consultant", "admin"])]
        role: String,
    },
}

fn settings(common: &Common, listen: Option<String>, redis_url: Option<String>) -> anyhow::Result<Settings> {
    let flags = Overrides { listen, data_dir: common.data_dir.clone(), database_url: common.database_url.clone(), redis_url };
    Ok(Settings::load(common.config.as_deref(), &flags)?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHATCAST_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // The runtime is built after the settings are read: `worker_threads` sizes it.
    match cli.command {
        None => run_server(settings(&cli.common, None, None)?),
        Some(Command::Serve { listen, redis_url }) => run_server(settings(&cli.common, listen, redis_url)?),
        Some(Command::Site { command }) => {
            let settings = settings(&cli.common, None, None)?;
            runtime(0)?.block_on(site(settings, command))
        }
        Some(Command::User { command }) => {
            let settings = settings(&cli.common, None, None)?;
            runtime(0)?.block_on(user(settings, command))
        }
    }
}

/// A multi-threaded runtime with `workers` worker threads (0: one per core).
fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if workers > 0 {
        b.worker_threads(workers);
    }
    b.build().context("cannot start the async runtime")
}

fn run_server(settings: Settings) -> anyhow::Result<()> {
    raise_open_files_limit();
    give_large_blocks_back();
    runtime(settings.worker_threads)?.block_on(serve(settings))
}

/// Memory freed after a burst goes back to the system. Large blocks (a
/// password check's ~19 MiB, a megabyte screen frame): glibc raises its mmap
/// threshold after the first such free, and later blocks then come from an
/// arena that keeps them (the soak measured +20 MiB after the first wrong
/// login and +10 MiB after the first oversized broadcast, never returned), so
/// the threshold is fixed at 1 MiB. Smaller blocks freed in the middle of an
/// arena stay there too; a thread hands their pages back twice a minute.
fn give_large_blocks_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; called before the runtime starts any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
        let _ = std::thread::Builder::new().name("chatcast-trim".into()).spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(30));
                // SAFETY: malloc_trim only returns free pages to the system; any thread may call it.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
    }
}

/// Raises the soft limit of open files to the hard limit. Every socket is a
/// file: the usual soft limit (1,024) would refuse connections long before the
/// server runs out of memory or CPU, while the hard limit is what the operator
/// actually granted.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        let raised = unsafe {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && {
                if lim.rlim_cur < lim.rlim_max {
                    lim.rlim_cur = lim.rlim_max;
                    libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0
                } else {
                    true
                }
            }
        };
        if raised {
            tracing::debug!(open_files = lim.rlim_cur, "open files limit");
        } else {
            tracing::warn!(soft = lim.rlim_cur, hard = lim.rlim_max, "could not raise the open files limit");
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(&settings.listen).await.with_context(|| format!("cannot listen on {}", settings.listen))?;
    let state = AppState::build(settings).await?;
    let admin = match (std::env::var("CHATCAST_ADMIN_EMAIL"), std::env::var("CHATCAST_ADMIN_PASSWORD")) {
        (Ok(e), Ok(p)) if !e.is_empty() => Some((e, p)),
        _ => None,
    };
    state.bootstrap_admin(admin).await?;
    let addr = listener.local_addr()?;
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing sockets with 1001 and flushing storage");
        shutdown.cancel();
    });
    // Tests and scripts read this line to learn the port.
    println!("chatcast listening on http://{addr}");
    tracing::info!("console: http://{addr}/console/  demo site: http://{addr}/demo/");
    chatcast_server::serve(listener, state).await?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `chatcast user …`: a change to an account ends its sessions; a running
/// server closes their consoles within a second (it watches the database).
async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let db = app::open_storage(&settings).await?;
    let done = async {
        match command {
            UserCommand::Add { email, password, role, name, sites } => {
                let role = Role::parse(&role).expect("clap checked the role");
                // The keys first: a wrong one adds nobody.
                let ids = site_ids(db.as_ref(), &sites).await?;
                let user = auth::add_user(db.as_ref(), &email, &password, role, name.as_deref()).await?;
                if !ids.is_empty() {
                    db.set_user_sites(user.id, Some(&ids)).await?;
                }
                println!("added {} {} ({}), {}", user.role.as_str(), user.email, user.name, sites_text(&sites));
            }
            UserCommand::Sites { email, sites, all } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                let ids = site_ids(db.as_ref(), &sites).await?;
                db.set_user_sites(u.id, (!all).then_some(&ids[..])).await?;
                println!("{} now works on {}", u.email, sites_text(&sites));
                if u.role == Role::Admin {
                    println!("(an admin sees every site whatever is set here)");
                }
            }
            UserCommand::List => {
                let keys: std::collections::HashMap<i64, String> =
                    db.list_sites().await?.into_iter().map(|s| (s.id, s.key)).collect();
                for u in db.list_users().await? {
                    let state = if u.disabled { "disabled" } else { "enabled" };
                    let sites = match db.user_sites(u.id).await? {
                        None => "all sites".to_owned(),
                        Some(ids) => ids.iter().filter_map(|i| keys.get(i).cloned()).collect::<Vec<_>>().join(","),
                    };
                    println!("{}\t{}\t{}\t{}\t{}\t{}", u.id, u.email, u.role.as_str(), state, u.name, sites);
                }
            }
            UserCommand::Disable { email } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                let change = auth::AccountChange { disabled: Some(true), ..Default::default() };
                let u = auth::change_account(db.as_ref(), &u, change).await?;
                println!("disabled {} (its sessions ended)", u.email);
            }
            UserCommand::Enable { email } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                let change = auth::AccountChange { disabled: Some(false), ..Default::default() };
                let u = auth::change_account(db.as_ref(), &u, change).await?;
                println!("enabled {}", u.email);
            }
            UserCommand::Remove { email } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                auth::remove_account(db.as_ref(), &u).await?;
                println!("removed {}", u.email);
            }
            UserCommand::Passwd { email, password } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                let change = auth::AccountChange { password: Some(&password), ..Default::default() };
                let u = auth::change_account(db.as_ref(), &u, change).await?;
                println!("new password for {} (its sessions ended)", u.email);
            }
            UserCommand::Role { email, role } => {
                let u = auth::user_by_email(db.as_ref(), &email).await?;
                let role = Role::parse(&role).expect("clap checked the role");
                let change = auth::AccountChange { role: Some(role), ..Default::default() };
                let u = auth::change_account(db.as_ref(), &u, change).await?;
                println!("{} is now {} (its sessions ended)", u.email, u.role.as_str());
            }
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    done
}

async fn site_by_key(db: &dyn chatcast_server::storage::Database, key: &str) -> anyhow::Result<chatcast_server::storage::Site> {
    db.site_by_key(key).await?.ok_or_else(|| anyhow::anyhow!("no site has the key `{key}` (see `chatcast site list`)"))
}

/// The ids of the sites with these keys (each must exist).
async fn site_ids(db: &dyn chatcast_server::storage::Database, keys: &[String]) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        ids.push(site_by_key(db, key).await?.id);
    }
    Ok(ids)
}

/// "every site" or "sites K1, K2".
fn sites_text(keys: &[String]) -> String {
    if keys.is_empty() { "every site".into() } else { format!("sites {}", keys.join(", ")) }
}

async fn site(settings: Settings, command: SiteCommand) -> anyhow::Result<()> {
    let db = app::open_storage(&settings).await?;
    match command {
        SiteCommand::Add { name, origins } => {
            let name = validate::name("site name", &name).map_err(anyhow::Error::msg)?;
            let origins = validate::origins(&origins).map_err(anyhow::Error::msg)?;
            app::origins_unclaimed(db.as_ref(), &origins).await.map_err(anyhow::Error::msg)?;
            let site = db.create_site(&name, &app::new_site_key(), &origins, false).await?;
            println!("added site {} (id {}) for {}", site.name, site.id, site.origins.join(", "));
            println!("embed on its pages: {}", app::embed_snippet(&settings, &site.key));
            if settings.public_origins.is_empty() {
                println!("(the snippet names the address this server listens on: set public_origins to the one visitors reach)");
            }
            println!("{}", site.key);
        }
        SiteCommand::Secret { key } => {
            let site = site_by_key(db.as_ref(), &key).await?;
            let secret = db.identity_secret(site.id, &chatcast_server::auth::new_token()).await?;
            println!("{}", secret.unwrap_or_default());
        }
        SiteCommand::Rename { key, name } => {
            let name = validate::name("site name", &name).map_err(anyhow::Error::msg)?;
            let site = site_by_key(db.as_ref(), &key).await?;
            db.rename_site(site.id, &name).await?;
            println!("renamed site {} to {name}", site.key);
        }
        SiteCommand::Remove { key } => {
            let site = site_by_key(db.as_ref(), &key).await?;
            app::site_removable(&settings, &site).map_err(anyhow::Error::msg)?;
            db.delete_site(site.id).await?;
            println!("removed site {} ({}) with its visitors and their transcripts", site.name, site.key);
        }
        SiteCommand::List => {
            for s in db.list_sites().await? {
                let origins = if s.is_demo { "(this server's own origin)".into() } else { s.origins.join(", ") };
                println!("{}\t{}\t{}\t{}", s.id, s.key, s.name, origins);
            }
        }
    }
    db.close().await;
    Ok(())
}
