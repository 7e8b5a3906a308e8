//! Settings: built-in defaults, then an optional TOML file, then `CHATCAST_*`
//! environment variables, then command-line flags — each layer overrides the
//! one before.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything the server can be told. Field names are also the TOML keys and,
/// upper-cased behind `CHATCAST_`, the environment variables.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Where the SQLite file lives.
    pub data_dir: PathBuf,
    /// Storage URL; defaults to the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Redis URL for the multi-node engine (not used by a single node).
    pub redis_url: Option<String>,
    /// The cluster's name: the prefix of its Redis keys and channel, so that
    /// several clusters (production, staging, tests) can share one Redis.
    /// Every node of a cluster must have the same one.
    pub cluster_name: String,
    /// The console's public origin(s) behind a proxy, e.g. `https://chat.example.com`.
    /// Without it the console socket accepts the origin of the `Host` it was reached by.
    pub public_origins: Vec<String>,
    /// The largest WebSocket frame accepted; a larger one closes the socket with 1009.
    pub max_frame_bytes: usize,
    /// Mark the session cookie `Secure` (turn on behind HTTPS).
    pub secure_cookies: bool,
    /// How long a console login lasts.
    pub session_ttl_hours: u64,
    /// Login attempts that do not succeed allowed per client address per minute before 429.
    pub login_failures_per_minute: u32,
    /// Login attempts that do not succeed allowed per account per minute (from
    /// anywhere) before 429; a browser that logged in to the account before is exempt.
    pub login_failures_per_account_per_minute: u32,
    /// Password checks (argon2, ~19 MiB each) running at once; 0: one per CPU core.
    pub login_hashers: usize,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names
    /// the client; every per-address limit keys on that client address.
    pub trusted_proxies: Vec<String>,
    /// Serve the demo site at `/demo/` (its site is created on first start).
    pub demo: bool,
    /// Seconds between server pings on idle sockets; a peer silent for three is dropped.
    pub ping_interval_secs: u64,
    /// Frames queued for one connection before it counts as too slow and is closed.
    pub send_queue_frames: usize,
    /// Payload bytes queued for one connection (screen frames to a viewer
    /// included); a viewer past it is resynced from the next keyframe, a chat
    /// socket past it is closed as too slow.
    pub send_queue_bytes: usize,
    /// The largest binary screen frame a widget socket may send (a full snapshot of a big page).
    pub max_screen_frame_bytes: usize,
    /// Bytes of deltas the relay holds after a broadcast's keyframe. Past a
    /// quarter of it the agent is asked for a new keyframe; past it (the agent
    /// ignored the requests) the broadcast is ended.
    pub broadcast_max_tail_bytes: usize,
    /// Bytes the relay holds for all broadcasts together (keyframes and tails);
    /// a frame that would go past it ends its broadcast.
    pub relay_max_total_bytes: usize,
    /// How long a screen broadcast request waits for the visitor's answer.
    pub consent_request_timeout_secs: u64,
    /// After the visitor says No, how long before a consultant may ask again (0: at once).
    pub consent_retry_after_no_secs: u64,
    /// Connection probe: a round trip above this is a weak connection.
    pub weak_rtt_ms: u64,
    /// Connection probe: an upload slower than this (kbit/s) is a weak connection.
    pub weak_upload_kbps: u32,
    /// Size of the upload probe, in bytes.
    pub probe_bytes: u32,
    /// Recording stops when nobody watched, or the tab was gone, for this long.
    pub broadcast_idle_grace_secs: u64,
    /// A client must send a request's headers within this many seconds (also the
    /// longest an idle keep-alive connection stays open).
    pub http_header_timeout_secs: u64,
    /// A request body must arrive within this many seconds.
    pub http_body_timeout_secs: u64,
    /// The largest request body accepted (login, admin API).
    pub http_max_body_bytes: usize,
    /// Shutdown takes at most this long, whatever clients hold open.
    pub shutdown_timeout_secs: u64,
    /// Also serve `/metrics` to requests carrying `Authorization: Bearer <token>`
    /// (it is always served to direct requests from this machine's loopback).
    pub metrics_token: Option<String>,
    /// Visitor sockets one client address may hold open at once (an office
    /// behind one address has a few tabs per person).
    pub visitor_sockets_per_address: usize,
    /// New visitors one client address may create a minute (returning visitors are not counted).
    pub new_visitors_per_address_per_minute: u32,
    /// Frames a visitor socket may send at once, then `visitor_frames_per_minute`; past it the socket closes (4029).
    pub visitor_frames_burst: u32,
    /// Frames a visitor socket may send a minute, sustained.
    pub visitor_frames_per_minute: u32,
    /// Chat messages a visitor socket may send at once, then `visitor_messages_per_minute`;
    /// past it a message is refused (`rate_limited`), not stored.
    pub visitor_messages_burst: u32,
    /// Chat messages a visitor socket may send a minute, sustained.
    pub visitor_messages_per_minute: u32,
    /// Visitors who never wrote are deleted after this many days without a visit (0: never).
    pub retention_idle_visitor_days: u64,
    /// Conversations (visitor, messages, consents, audit rows) are deleted this
    /// many days after their last message and visit (0: never).
    pub retention_transcript_days: u64,
    /// Minutes between retention sweeps (the first runs a minute after start).
    pub retention_sweep_minutes: u64,
    /// Where answers to visitors who are away are emailed through: `smtp://host:25`
    /// (plain, for a relay on the same machine), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`. Unset: no email is sent.
    pub smtp_url: Option<String>,
    /// The `From` of those emails, e.g. `Shop support <support@shop.example>`.
    pub mail_from: Option<String>,
    /// An answer is emailed when the visitor has not read it this many seconds
    /// after it was written (or after they left), and is not on the site.
    pub email_after_secs: u64,
    /// The largest file a visitor or consultant may send in a dialog.
    pub max_attachment_bytes: usize,
    /// Files one sender may upload to one dialog an hour.
    pub attachments_per_hour: u32,
    /// Tokio worker threads of `chatcast serve`; 0 means one per CPU core. Set it
    /// to the cores the process may use (e.g. 1 under `taskset -c 0`): more workers
    /// than cores only add context switches.
    pub worker_threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            cluster_name: "chatcast".into(),
            public_origins: Vec::new(),
            max_frame_bytes: 64 * 1024,
            secure_cookies: false,
            session_ttl_hours: 24 * 14,
            login_failures_per_minute: 5,
            login_failures_per_account_per_minute: 20,
            login_hashers: 0,
            trusted_proxies: Vec::new(),
            demo: true,
            ping_interval_secs: 20,
            send_queue_frames: 256,
            send_queue_bytes: 32 * 1024 * 1024,
            max_screen_frame_bytes: 16 * 1024 * 1024,
            broadcast_max_tail_bytes: 16 * 1024 * 1024,
            relay_max_total_bytes: 1024 * 1024 * 1024,
            consent_request_timeout_secs: 60,
            consent_retry_after_no_secs: 60,
            weak_rtt_ms: 800,
            weak_upload_kbps: 256,
            probe_bytes: 32 * 1024,
            broadcast_idle_grace_secs: 30,
            worker_threads: 0,
            visitor_sockets_per_address: 100,
            new_visitors_per_address_per_minute: 60,
            visitor_frames_burst: 120,
            visitor_frames_per_minute: 600,
            visitor_messages_burst: 20,
            visitor_messages_per_minute: 60,
            retention_idle_visitor_days: 30,
            retention_transcript_days: 365,
            retention_sweep_minutes: 60,
            http_header_timeout_secs: 20,
            http_body_timeout_secs: 30,
            http_max_body_bytes: 256 * 1024,
            shutdown_timeout_secs: 10,
            metrics_token: None,
            smtp_url: None,
            mail_from: None,
            email_after_secs: 60,
            max_attachment_bytes: 10 * 1024 * 1024,
            attachments_per_hour: 20,
        }
    }
}

/// A setting that could not be read, or is out of its range.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment does not parse (the line, when a file line is at fault).
    #[error("invalid settings: {0}{1}")]
    Read(Box<config::ConfigError>, String),
    /// A value is out of range; the message names the setting.
    #[error("invalid settings: {0}")]
    Range(String),
}

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        ConfigError::Read(Box::new(e), String::new())
    }
}

/// Settings that are text: read from the environment as they are written
/// (the environment layer parses numbers and booleans, and would turn a token
/// `0123` into `123`).
const TEXT_SETTINGS: &[&str] = &["listen", "database_url", "redis_url", "cluster_name", "metrics_token", "smtp_url", "mail_from"];

/// The first line of a settings file that does not parse on its own, as
/// "; line 3: `listen = 9223372036854775810`" (the parser's own message may
/// name neither the setting nor the line).
fn failing_line(file: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(file) else { return String::new() };
    for (i, line) in text.lines().enumerate() {
        let parsed = config::Config::builder().add_source(config::File::from_str(line, config::FileFormat::Toml)).build();
        if parsed.is_err() {
            let shown: String = line.chars().take(80).collect();
            return format!("; line {}: `{}`", i + 1, shown.escape_debug());
        }
    }
    String::new()
}

/// Flag values that override everything else (unset flags are `None`).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--redis-url`
    pub redis_url: Option<String>,
}

impl Settings {
    /// Reads the layers in order: defaults, `file` (if given), environment, `flags`.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Self, ConfigError> {
        let mut b = config::Config::builder().add_source(config::Config::try_from(&Settings::default())?);
        if let Some(file) = file {
            b = b.add_source(config::File::from(file).required(true));
        }
        b = b
            .add_source(
                config::Environment::with_prefix("CHATCAST")
                    .prefix_separator("_")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("public_origins")
                    .with_list_parse_key("trusted_proxies"),
            )
            .set_override_option("listen", flags.listen.clone())?
            .set_override_option("data_dir", flags.data_dir.as_ref().map(|p| p.display().to_string()))?
            .set_override_option("database_url", flags.database_url.clone())?
            .set_override_option("redis_url", flags.redis_url.clone())?;
        let built = b.build().map_err(|e| ConfigError::Read(Box::new(e), file.map(failing_line).unwrap_or_default()))?;
        let mut settings: Settings = built.try_deserialize()?;
        for key in TEXT_SETTINGS {
            let Ok(raw) = std::env::var(format!("CHATCAST_{}", key.to_uppercase())) else { continue };
            match *key {
                "listen" if flags.listen.is_none() => settings.listen = raw,
                "database_url" if flags.database_url.is_none() => settings.database_url = Some(raw),
                "redis_url" if flags.redis_url.is_none() => settings.redis_url = Some(raw),
                "metrics_token" => settings.metrics_token = Some(raw),
                "smtp_url" => settings.smtp_url = Some(raw),
                "mail_from" => settings.mail_from = Some(raw),
                "cluster_name" => settings.cluster_name = raw,
                _ => {}
            }
        }
        settings.check().map_err(ConfigError::Range)?;
        Ok(settings)
    }

    /// Every number within the range the server can use, or the first that is
    /// not, named. (A value past it would overflow a time or a size, or start
    /// a thread per unit.)
    pub fn check(&self) -> Result<(), String> {
        const GIB: u64 = 1 << 30;
        let ranges: [(&str, u64, u64, u64); 28] = [
            ("max_attachment_bytes", self.max_attachment_bytes as u64, 1024, 100 * 1024 * 1024),
            ("attachments_per_hour", self.attachments_per_hour as u64, 1, 10_000),
            ("email_after_secs", self.email_after_secs, 0, 7 * 24 * 3600),
            ("login_hashers", self.login_hashers as u64, 0, 256),
            ("session_ttl_hours", self.session_ttl_hours, 1, 10 * 365 * 24),
            ("retention_idle_visitor_days", self.retention_idle_visitor_days, 0, 36_500),
            ("retention_transcript_days", self.retention_transcript_days, 0, 36_500),
            ("retention_sweep_minutes", self.retention_sweep_minutes, 1, 7 * 24 * 60),
            ("shutdown_timeout_secs", self.shutdown_timeout_secs, 0, 3600),
            ("http_header_timeout_secs", self.http_header_timeout_secs, 1, 3600),
            ("http_body_timeout_secs", self.http_body_timeout_secs, 1, 3600),
            ("http_max_body_bytes", self.http_max_body_bytes as u64, 1, GIB),
            ("consent_request_timeout_secs", self.consent_request_timeout_secs, 1, 24 * 3600),
            ("consent_retry_after_no_secs", self.consent_retry_after_no_secs, 0, 24 * 3600),
            ("broadcast_idle_grace_secs", self.broadcast_idle_grace_secs, 1, 24 * 3600),
            ("ping_interval_secs", self.ping_interval_secs, 1, 3600),
            ("weak_rtt_ms", self.weak_rtt_ms, 0, 600_000),
            ("probe_bytes", self.probe_bytes as u64, 1, 16 << 20),
            ("max_frame_bytes", self.max_frame_bytes as u64, 1, GIB),
            ("max_screen_frame_bytes", self.max_screen_frame_bytes as u64, 1, GIB),
            ("send_queue_frames", self.send_queue_frames as u64, 1, 1 << 20),
            ("send_queue_bytes", self.send_queue_bytes as u64, 1, 16 * GIB),
            ("broadcast_max_tail_bytes", self.broadcast_max_tail_bytes as u64, 1, 16 * GIB),
            ("relay_max_total_bytes", self.relay_max_total_bytes as u64, 1, 1024 * GIB),
            ("visitor_sockets_per_address", self.visitor_sockets_per_address as u64, 1, u32::MAX as u64),
            ("worker_threads", self.worker_threads as u64, 0, 1024),
            ("login_failures_per_minute", self.login_failures_per_minute as u64, 1, u32::MAX as u64),
            ("login_failures_per_account_per_minute", self.login_failures_per_account_per_minute as u64, 1, u32::MAX as u64),
        ];
        for (name, value, lo, hi) in ranges {
            if value < lo || value > hi {
                return Err(format!("`{name}` is {value}; it must be between {lo} and {hi}"));
            }
        }
        let name = &self.cluster_name;
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(format!(
                "`cluster_name` is {:?}; it must be between 1 and 64 letters, digits, `-`, `_` or `.`",
                crate::validate::shown(name)
            ));
        }
        Ok(())
    }

    /// Password checks at once: the setting, or one per CPU core (at most 8).
    pub fn login_hashers(&self) -> usize {
        if self.login_hashers > 0 {
            return self.login_hashers;
        }
        std::thread::available_parallelism().map_or(2, |n| n.get()).min(8)
    }

    /// The storage URL in force: the flag/setting, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("chatcast.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chatcast.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_frame_bytes = 1000\n").unwrap();
        let s = Settings::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.max_frame_bytes, 1000);
        let flags = Overrides { listen: Some("127.0.0.1:1".into()), ..Default::default() };
        let s = Settings::load(Some(&file), &flags).unwrap();
        assert_eq!(s.listen, "127.0.0.1:1");
        assert_eq!(s.database_url(), "sqlite://./data/chatcast.db");
        assert_eq!(s.worker_threads, 0, "one worker per core unless told");
    }
}
