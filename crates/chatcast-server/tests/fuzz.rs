//! Fuzzing the settings a server reads (a TOML file an operator writes; a
//! mistake must be an error that names it, never a panic), and the visitor
//! socket of a running server with a fixed budget of random and mutated
//! frames: each is answered with an error or ignored, the socket stays
//! usable, and nothing is lost.

mod common;

use chatcast_server::config::{Overrides, Settings};
use common::*;
use proptest::prelude::*;
use serde_json::json;

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "max_frame_bytes",
    "secure_cookies",
    "session_ttl_hours",
    "login_failures_per_minute",
    "login_hashers",
    "trusted_proxies",
    "demo",
    "ping_interval_secs",
    "send_queue_frames",
    "send_queue_bytes",
    "max_screen_frame_bytes",
    "broadcast_max_tail_bytes",
    "visitor_sockets_per_address",
    "new_visitors_per_address_per_minute",
    "retention_transcript_days",
    "http_header_timeout_secs",
    "metrics_token",
    "public_origins",
];

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}0")),
        any::<bool>().prop_map(|b| b.to_string()),
        "[ -~]{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec("[ -~]{0,10}", 0..4).prop_map(|v| format!("{v:?}")),
        Just("{ a = 1 }".to_owned()),
        Just("1.5e400".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_settings_file_of_anything_is_read_or_refused_never_a_panic(text in "(?s).{0,300}") {
        let file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
        std::fs::write(file.path(), &text).unwrap();
        if let Err(e) = Settings::load(Some(file.path()), &Overrides::default()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn any_value_for_a_known_setting_is_read_or_refused_with_its_name(
        pairs in prop::collection::vec((prop::sample::select(KEYS), toml_value()), 1..5),
    ) {
        let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        let file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
        std::fs::write(file.path(), &text).unwrap();
        match Settings::load(Some(file.path()), &Overrides::default()) {
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                // Duplicate keys are refused by the TOML parser, which names the line instead.
                let named = pairs.iter().any(|(k, _)| msg.contains(k)) || msg.contains("duplicate") || msg.contains("line");
                prop_assert!(named, "the error does not say which setting: {msg}\n{text}");
            }
        }
    }
}

/// Deterministic bytes (xorshift), so a failure is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn random_and_mutated_frames_on_a_visitor_socket_lose_nothing() {
    let app = spawn_app_with(|s| {
        // The budget below is above a visitor's frame rate: lift it so that every frame is read.
        s.visitor_frames_burst = 100_000;
        s.visitor_frames_per_minute = 100_000;
    })
    .await;
    let (mut v, vid, _) = app.visitor(None).await;
    let mut rng = Rng(0x5eed_c0ffee);
    let valid = json!({"v": 1, "t": "send", "client_id": "c", "body": "hello"}).to_string();
    let mut sent = 0;
    for i in 0..600 {
        let text = match i % 3 {
            // Random bytes made text.
            0 => {
                let n = (rng.next() % 200) as usize;
                String::from_utf8_lossy(&(0..n).map(|_| rng.next() as u8).collect::<Vec<_>>()).into_owned()
            }
            // A valid frame with bytes flipped.
            1 => {
                let mut b = valid.clone().into_bytes();
                for _ in 0..(1 + rng.next() % 4) {
                    let at = (rng.next() as usize) % b.len();
                    b[at] = (rng.next() % 95 + 32) as u8;
                }
                String::from_utf8(b).unwrap()
            }
            // A valid frame cut short or with junk after it.
            _ => {
                let cut = (rng.next() as usize) % valid.len();
                if rng.next().is_multiple_of(2) { valid[..cut].to_owned() } else { format!("{valid}{}", &valid[..cut]) }
            }
        };
        v.send_text(&text).await;
        sent += 1;
    }
    // The socket still works: a real message is stored and acknowledged.
    v.send(json!({"t": "send", "client_id": "after-fuzz", "body": "still here"})).await;
    let mut answered = 0;
    loop {
        let m = v.recv().await;
        if m["t"] == "ack" && m["client_id"] == "after-fuzz" {
            break;
        }
        if m["t"] == "error" {
            assert!(!m["message"].as_str().unwrap_or_default().is_empty(), "{m}");
        }
        answered += 1;
    }
    assert!(answered > 0 && answered <= sent + 10, "{answered} answers to {sent} frames");
    let stored = app.state.db.messages(&vid, 1000).await.unwrap();
    assert!(stored.iter().any(|m| m.body == "still here"));
}
