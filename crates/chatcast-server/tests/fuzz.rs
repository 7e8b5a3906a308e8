//! Fuzzing the server, as ordinary tests with a fixed budget (proptest on
//! stable Rust, 300 to 2,000 cases per property, and seeded generators; ~6 s
//! for the whole file in debug on 2 cores).
//!
//! - Settings (an operator's TOML file, `CHATCAST_*` environment, flags):
//!   arbitrary text, TOML-ish text, mutations of a full valid file, any value
//!   for every setting (the list comes from `Settings::default()`, so a new
//!   setting is covered without editing this file): read back exactly, or
//!   refused with an error that names the setting or quotes the line — never a
//!   panic. The environment is fuzzed in a child process (this test binary run
//!   again on one test), since changing it in a threaded process is unsound.
//!   Extreme values (0, 1, u32::MAX, i64::MAX for every number) then start a
//!   real server that must answer HTTP and sockets, sweep retention and shut
//!   down without a panic anywhere in server code.
//! - The relay, which reads every binary screen frame's header: random frame
//!   sequences from several broadcasts with slow and fast viewers keep the
//!   memory bounds, the accounting, and every viewer's stream consistent.
//! - Header values a client controls: `Origin`, `X-Forwarded-For` (behind a
//!   trusted proxy), the session cookie, JSON request bodies, chat bodies and
//!   client ids.
//! - Live sockets of a running server: visitor, console and screen sockets
//!   get random, byte-flipped, cut and field-mutated frames; each is answered
//!   with an error or ignored, the socket stays usable, and nothing is lost or
//!   stored beyond its bounds. Raw WebSocket frames with any header (RSV bits,
//!   opcodes, masking, a length claiming up to 2^64 bytes) are refused without
//!   allocating what they claim (a counting allocator watches the process).
//!   HTTP endpoints get random bodies and queries: never a 5xx.
//!
//! The tests at the end pin what it found (see their comment).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use chatcast_protocol::screen::{HEADER_LEN, KIND_DELTA, KIND_KEYFRAME, KIND_PROBE, encode as encode_screen, header};
use chatcast_server::chat::{check_body, check_client_id};
use chatcast_server::config::{Overrides, Settings};
use chatcast_server::http::client::TrustedProxies;
use chatcast_server::relay::{Limits, Published, Relay};
use chatcast_server::transport::{Peer, origin};
use common::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

// ---- shared helpers -------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Deterministic numbers (xorshift), so a failure is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Panics raised outside test code (server code, or a library it called),
/// from the moment [`record_panics`] was first called. A spawned task's panic
/// does not reach the test otherwise.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_panics() -> usize {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            if !at.contains("/tests/") && !at.starts_with("tests/") {
                let what = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                PANICS.lock().unwrap().push(format!("{at}: {what}"));
            }
            default(info);
        }));
    });
    PANICS.lock().unwrap().len()
}

fn panics_since(mark: usize) -> Vec<String> {
    PANICS.lock().unwrap()[mark..].to_vec()
}

/// Bytes allocated and not yet freed by this whole process (server and test
/// alike), and their peak since [`reset_peak`]: a server that believed a
/// length field claiming gigabytes would show here.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn note(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts a peak measurement; returns the bytes live now.
fn reset_peak() -> isize {
    let now = LIVE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// How far above `start` the process's allocations went since [`reset_peak`].
fn peak_above(start: isize) -> usize {
    (PEAK.load(Ordering::Relaxed) - start).max(0) as usize
}

/// A WebSocket client without permessage-deflate. The harness's compressing
/// client cannot send an empty frame: yawc 0.5.0 `Deflate::flush`
/// (compression.rs:498) loops for ever compressing an empty payload after an
/// earlier message on the same context. Fuzzed frames may be empty.
async fn plain_client(url: &str, req: http::request::Builder) -> Client {
    let ws =
        yawc::WebSocket::connect(url.parse().unwrap()).with_request(req).with_options(yawc::Options::default()).await.unwrap();
    Client { ws }
}

/// Reads what has already arrived without waiting (so that neither side
/// blocks writing to the other); counts the answers and checks each error.
fn drain_ready(c: &mut Client, answers: &mut usize) {
    while let Some(next) = futures::FutureExt::now_or_never(futures::StreamExt::next(&mut c.ws)) {
        let Some(f) = next else { panic!("the socket ended") };
        match f.opcode() {
            yawc::OpCode::Text => {
                let m: Value = serde_json::from_slice(f.payload()).unwrap();
                if m["t"] == "error" {
                    assert!(!m["message"].as_str().unwrap_or_default().is_empty(), "{m}");
                    assert!(m["code"].is_string(), "{m}");
                }
                *answers += 1;
            }
            yawc::OpCode::Close => panic!("closed: {:?} {:?}", f.close_code(), f.close_reason()),
            _ => {}
        }
    }
}

// ---- settings: helpers ------------------------------------------------------------

/// Every setting with its default value, as the file and environment name them.
fn defaults() -> Map<String, Value> {
    match serde_json::to_value(Settings::default()).unwrap() {
        Value::Object(m) => m,
        _ => unreachable!("settings are a struct"),
    }
}

/// A TOML basic string holding exactly `s`.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `v` as a TOML value (`None` for null: TOML has none, the key is left out).
fn toml_of(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_str(s),
        Value::Array(a) => format!("[{}]", a.iter().filter_map(toml_of).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter().filter_map(|(k, v)| Some(format!("{} = {}", toml_str(k), toml_of(v)?))).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// A settings file with every key of `m` that has a value.
fn file_of(m: &Map<String, Value>) -> String {
    m.iter().filter_map(|(k, v)| Some(format!("{k} = {}\n", toml_of(v)?))).collect()
}

/// Loads `text` as a settings file (flags: none).
fn load_text(text: &str) -> Result<Settings, String> {
    let file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(file.path(), text).unwrap();
    Settings::load(Some(file.path()), &Overrides::default()).map_err(|e| e.to_string())
}

fn as_json(s: &Settings) -> Map<String, Value> {
    match serde_json::to_value(s).unwrap() {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The numeric settings that are 32-bit (a larger number is refused), found by trying.
fn u32_keys() -> &'static HashSet<String> {
    static KEYS: OnceLock<HashSet<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        defaults()
            .into_iter()
            .filter(|(_, v)| v.is_number())
            .filter(|(k, _)| load_text(&format!("{k} = 4294967296\n")).is_err())
            .map(|(k, _)| k)
            .collect()
    })
}

/// An error must say which setting or which line.
fn names_it(msg: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| msg.contains(k)) || msg.contains("line") || msg.contains("duplicate")
}

/// Strings an operator may write (or paste by mistake).
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,30}",
        3 => ".{0,30}",
        1 => Just(String::new()),
        1 => Just("\u{0}\u{1b}[31m\r\n\t\u{feff}\u{202e}".to_owned()),
        1 => Just("0123".to_owned()),
        1 => (0usize..5000).prop_map(|n| "ü".repeat(n)),
    ]
}

/// What a value for `key` must do when loaded.
#[derive(Clone, Debug)]
enum Expect {
    /// Read back as this.
    Equal(Value),
    /// Refused, naming the setting.
    Refused,
    /// Either, but never a panic; a refusal names the setting.
    Either,
}

/// A value of the setting's own type (and some just outside it), and what loading it must do.
fn typed_value(key: &str, default: &Value) -> BoxedStrategy<(String, Expect)> {
    let is_u32 = u32_keys().contains(key);
    match default {
        Value::Bool(_) => any::<bool>().prop_map(|b| (b.to_string(), Expect::Equal(json!(b)))).boxed(),
        Value::Number(_) => prop_oneof![
            3 => (0..=u64::from(u32::MAX)).prop_map(|n| (n.to_string(), Expect::Equal(json!(n)))),
            1 => prop_oneof![Just(0u64), Just(1), Just(u64::from(u32::MAX)), Just(i64::MAX as u64)].prop_map(move |n| {
                (n.to_string(), if is_u32 && n > u64::from(u32::MAX) { Expect::Refused } else { Expect::Equal(json!(n)) })
            }),
            2 => (u64::from(u32::MAX) + 1..=i64::MAX as u64).prop_map(move |n| {
                (n.to_string(), if is_u32 { Expect::Refused } else { Expect::Equal(json!(n)) })
            }),
            1 => (i64::MIN..0).prop_map(|n| (n.to_string(), Expect::Refused)),
            1 => prop_oneof![Just("1.5"), Just("-0.0"), Just("1e300"), Just("inf"), Just("nan"), Just("1_000"), Just("0x10"), Just("0o7"), Just("0b1")]
                .prop_map(|s| (s.to_owned(), Expect::Either)),
        ]
        .boxed(),
        Value::String(_) | Value::Null => any_text().prop_map(|s| (toml_str(&s), Expect::Equal(json!(s)))).boxed(),
        Value::Array(_) => prop::collection::vec(any_text(), 0..4)
            .prop_map(|v| (toml_of(&json!(v)).unwrap(), Expect::Equal(json!(v))))
            .boxed(),
        Value::Object(_) => unreachable!("no setting is a table"),
    }
}

fn any_setting_value() -> impl Strategy<Value = (String, String, Expect)> {
    let all: Vec<(String, Value)> = defaults().into_iter().collect();
    prop::sample::select(all).prop_flat_map(|(k, d)| typed_value(&k, &d).prop_map(move |(t, e)| (k.clone(), t, e)))
}

/// Values of any type, for any key.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}0")),
        any::<bool>().prop_map(|b| b.to_string()),
        any_text().prop_map(|s| toml_str(&s)),
        prop::collection::vec(any_text(), 0..4).prop_map(|v| toml_of(&json!(v)).unwrap()),
        Just("{ a = 1 }".to_owned()),
        Just("[1, \"a\", [true]]".to_owned()),
        Just("1.5e400".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("'''multi\nline'''".to_owned()),
        Just("\"\"\"\nmulti\\\n  line\"\"\"".to_owned()),
        Just("\"\\uD800\"".to_owned()),
        Just("\"\\U0010FFFF\"".to_owned()),
    ]
}

/// TOML-ish text: lines that look like settings, tables and comments, and some that do not.
fn toml_ish() -> impl Strategy<Value = String> {
    let keys: Vec<String> = defaults().keys().cloned().collect();
    let key = prop_oneof![
        3 => prop::sample::select(keys),
        1 => "[a-z_]{1,12}(\\.[a-z_]{1,8})?",
        1 => any_text().prop_map(|s| toml_str(&s)),
    ];
    let line = prop_oneof![
        6 => (key, toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "\\[{1,2}[a-z_. ]{0,12}\\]{1,2}",
        1 => "# .{0,20}",
        1 => Just(String::new()),
        1 => "[ -~]{0,30}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

// ---- settings: properties ------------------------------------------------------------

#[test]
fn the_full_default_file_reads_back_as_the_defaults() {
    // Positive control for the mutations below, and the list of settings is not empty.
    let d = defaults();
    assert!(d.len() > 20, "{} settings", d.len());
    let loaded = load_text(&file_of(&d)).unwrap();
    assert_eq!(as_json(&loaded), d);
    assert!(!u32_keys().is_empty() && u32_keys().len() < d.len());
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn a_settings_file_of_anything_is_read_or_refused_never_a_panic(text in prop_oneof!["(?s).{0,300}", toml_ish()]) {
        if let Err(e) = load_text(&text) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn a_mutated_full_settings_file_is_read_or_refused_never_a_panic(
        edits in prop::collection::vec((0u8..5, any::<prop::sample::Index>(), "[ -~]{0,6}"), 1..4),
    ) {
        let mut text = file_of(&defaults()).into_bytes();
        for (op, at, s) in edits {
            let i = at.index(text.len() + 1);
            match op {
                0 => text.truncate(i),
                1 if i < text.len() => text[i] = s.bytes().next().unwrap_or(b'"'),
                2 => { text.splice(i..i, s.bytes()); }
                3 => {
                    // Duplicate the line around `i` (a key set twice).
                    let start = text[..i].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    let end = text[i..].iter().position(|&b| b == b'\n').map_or(text.len(), |p| i + p + 1);
                    let line = text[start..end].to_vec();
                    text.splice(end..end, line);
                }
                _ => text.extend_from_slice(s.as_bytes()),
            }
        }
        if let Err(e) = load_text(&String::from_utf8_lossy(&text)) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn any_value_of_any_type_for_a_setting_is_read_or_refused_with_its_name(
        pairs in prop::collection::vec((prop::sample::select(defaults().keys().cloned().collect::<Vec<_>>()), toml_value()), 1..5),
    ) {
        let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        if let Err(msg) = load_text(&text) {
            let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            prop_assert!(names_it(&msg, &keys), "the error does not say which setting: {}\n{}", msg, text);
        }
    }

    #[test]
    fn a_value_of_its_type_for_each_setting_is_read_back_exactly(
        (key, value, expect) in any_setting_value(),
    ) {
        let text = format!("{key} = {value}\n");
        let got = load_text(&text);
        match (&expect, got) {
            (Expect::Equal(want), Ok(s)) => prop_assert_eq!(&as_json(&s)[&key], want, "{}", text),
            // Within its type but out of the range the server can use: refused by name.
            (Expect::Equal(_), Err(e)) => prop_assert!(
                e.contains(&format!("`{key}`")) && e.contains("between"), "a valid value was refused: {}\n{}", e, text
            ),
            (Expect::Refused, Ok(s)) => prop_assert!(false, "read as {} instead of refused: {}", as_json(&s)[&key], text),
            (_, Err(e)) => prop_assert!(names_it(&e, &[&key]), "the error does not say which setting: {}\n{}", e, text),
            (Expect::Either, Ok(_)) => {}
        }
    }

    #[test]
    fn any_flag_value_is_taken_as_given(
        listen in any_text(), data_dir in any_text(), database_url in any_text(), redis_url in any_text(),
    ) {
        let flags = Overrides {
            listen: Some(listen.clone()),
            data_dir: Some(data_dir.clone().into()),
            database_url: Some(database_url.clone()),
            redis_url: Some(redis_url.clone()),
        };
        let s = Settings::load(None, &flags).unwrap();
        prop_assert_eq!(s.listen, listen);
        prop_assert_eq!(s.data_dir, std::path::PathBuf::from(data_dir));
        prop_assert_eq!(s.database_url, Some(database_url));
        prop_assert_eq!(s.redis_url, Some(redis_url));
    }
}

/// Set in the child process that fuzzes the environment.
const ENV_CHILD: &str = "CHATCAST_FUZZ_TEST_ENV_CHILD";

/// Runs `test` of this binary in a child process with `env` added; returns its output.
fn run_child(test: &str, env: &[(String, String)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1", "--include-ignored"]).env(ENV_CHILD, "1");
    // Only the variables of the case: none of the ones this process may have.
    for (k, _) in std::env::vars() {
        if k.starts_with("CHATCAST_") && k != ENV_CHILD {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().cloned());
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn settings_from_any_environment_are_read_or_refused_never_a_panic() {
    let out = run_child("settings_env_child", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("environment cases: 300"), "the child ran no case: {stdout}");
}

/// The child's half of the test above: runs only in a child process (one
/// thread: changing the environment is sound there), and is a no-op otherwise.
#[test]
fn settings_env_child() {
    if std::env::var_os(ENV_CHILD).is_none() {
        return;
    }
    let d = defaults();
    let keys: Vec<String> = d.keys().cloned().collect();
    let value = prop_oneof![
        3 => (0..=u64::from(u32::MAX)).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => prop_oneof![Just("99999999999999999999999"), Just("-1"), Just("1e400"), Just("NaN"), Just("true"), Just("a,b,,c"), Just(",")].prop_map(str::to_owned),
        3 => "[^\u{0}]{0,30}",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(config(300));
    let cases = std::cell::Cell::new(0);
    runner
        .run(&prop::collection::vec((prop::sample::select(keys), value), 1..4), |vars| {
            cases.set(cases.get() + 1);
            for (k, v) in &vars {
                // SAFETY: this process runs this one test on one thread (see `run_child`).
                unsafe { std::env::set_var(format!("CHATCAST_{}", k.to_uppercase()), v) };
            }
            let got = Settings::load(None, &Overrides::default());
            for (k, _) in &vars {
                unsafe { std::env::remove_var(format!("CHATCAST_{}", k.to_uppercase())) };
            }
            match got {
                Ok(s) => {
                    let s = as_json(&s);
                    // A plain number for a numeric setting is read as that number (the last one set wins).
                    let mut last = HashMap::new();
                    for (k, v) in &vars {
                        last.insert(k, v);
                    }
                    for (k, v) in last {
                        if d[k.as_str()].is_number() && v.parse::<u32>().is_ok() {
                            prop_assert_eq!(&s[k.as_str()], &json!(v.parse::<u64>().unwrap()), "{:?}", vars);
                        }
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
                    prop_assert!(names_it(&msg, &keys), "{}: {:?}", msg, vars);
                }
            }
            Ok(())
        })
        .unwrap();
    println!("environment cases: {}", cases.get());
}

// ---- settings: extreme values are refused by name, or start a working server --------------

/// Every numeric setting at `n` (or the most its type allows).
fn extreme_map(n: u64, dir: &std::path::Path) -> Map<String, Value> {
    let mut m = defaults();
    for (k, v) in m.iter_mut() {
        if v.is_number() {
            *v = json!(if u32_keys().contains(k) { n.min(u64::from(u32::MAX)) } else { n });
        }
    }
    m.insert("data_dir".into(), json!(dir.display().to_string()));
    m
}

/// Loads `m`; each value the settings refuse as out of range must be named
/// with its range, and is then set to the nearest bound. Returns the settings
/// that load and how many values were refused.
fn load_clamped(mut m: Map<String, Value>) -> (Settings, usize) {
    let mut refused = 0;
    loop {
        match load_text(&file_of(&m)) {
            Ok(s) => return (s, refused),
            Err(e) => {
                // "`name` is V; it must be between LO and HI"
                let name = e.split('`').nth(1).unwrap_or_else(|| panic!("the refusal names no setting: {e}")).to_owned();
                let bounds: Vec<u64> =
                    e.rsplit("between ").next().unwrap().split(" and ").map(|x| x.trim().parse().unwrap()).collect();
                let v = m[&name].as_u64().unwrap();
                m.insert(name, json!(v.clamp(bounds[0], bounds[1])));
                refused += 1;
                assert!(refused < 100, "refusals do not end: {e}");
            }
        }
    }
}

/// Starts a server with `settings`, uses each endpoint once, sweeps and stops it.
async fn exercise(settings: Settings) {
    let dir = settings.data_dir.clone();
    let app = spawn_app_in(&dir, |s| *s = settings).await;
    let http = reqwest::Client::new();
    assert_eq!(http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(app.url("/metrics")).send().await.unwrap().status(), 200);
    let res =
        http.post(app.url("/api/login")).json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).send().await.unwrap();
    // A body limit of 0 refuses every body (413); otherwise the admin logs in.
    let too_small = app.state.settings.http_max_body_bytes < 100;
    assert!(res.status().is_success() || (too_small && res.status() == 413), "login: {}", res.status());
    let cookie = match res.headers().get("set-cookie") {
        Some(c) => c.to_str().unwrap().split(';').next().unwrap().to_owned(),
        None => String::new(),
    };
    let me = http.get(app.url("/api/me")).header("cookie", &cookie).send().await.unwrap().status();
    assert_eq!(me, if cookie.is_empty() { 401 } else { 200 });
    // A visitor says hello and writes, or is told why not (a frame limit of 0, a rate of 0).
    let mut v = app.visitor_socket(&app.site_key, Some(SITE_ORIGIN)).await;
    v.send(json!({"t": "hello", "page": {"url": "http://shop.test:8000/", "title": "Home"}})).await;
    match v.next_frame().await {
        Some(f) if f.opcode() == yawc::OpCode::Text => {
            let m: Value = serde_json::from_slice(f.payload()).unwrap();
            assert!(m["t"] == "welcome" || m["t"] == "error", "{m}");
            if m["t"] == "welcome" {
                v.send(json!({"t": "send", "client_id": "c1", "body": "hi"})).await;
                let m = v.recv().await;
                assert!(m["t"] == "ack" || m["t"] == "error", "{m}");
            }
        }
        Some(f) if f.opcode() == yawc::OpCode::Close => {
            let code = f.close_code().map(u16::from).unwrap_or(1005);
            assert!([1008, 1009, 4029].contains(&code), "closed with {code}");
        }
        Some(f) => panic!("a {:?} frame", f.opcode()),
        None => panic!("the socket ended without a close frame"),
    }
    drop(v);
    let mut c = app.console_socket(Some(&cookie), None).await;
    match c.next_frame().await {
        Some(f) if f.opcode() == yawc::OpCode::Text => {
            let t = serde_json::from_slice::<Value>(f.payload()).unwrap()["t"].clone();
            assert!(t == "snapshot" || (cookie.is_empty() && t == "error"), "{t}");
        }
        Some(f) => assert_eq!(f.opcode(), yawc::OpCode::Close),
        None => {}
    }
    drop(c);
    chatcast_server::chat::retention::sweep(&app.state, chatcast_server::now_ms()).await.unwrap();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_values_of_every_setting_are_refused_by_name_or_start_a_working_server() {
    let mark = record_panics();
    for n in [0, 1, u64::from(u32::MAX), i64::MAX as u64] {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, refused) = load_clamped(extreme_map(n, dir.path()));
        if n == i64::MAX as u64 {
            assert!(refused > 5, "the largest values are refused by name (positive control): {refused}");
        }
        s.listen = "127.0.0.1:0".into();
        exercise(s).await;
        let p = panics_since(mark);
        assert!(p.is_empty(), "with every number at {n}: {p:#?}");
    }
}

// ---- the relay: every binary screen frame's header ---------------------------------------------

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn random_frames_keep_the_relay_bounded_and_every_viewer_consistent(
        ops in prop::collection::vec(
            prop_oneof![
                8 => (0usize..3, prop_oneof![Just(KIND_KEYFRAME), Just(KIND_DELTA), Just(KIND_PROBE), any::<u8>()], 0usize..3000, any::<bool>())
                    .prop_map(|(v, k, n, cut)| Op::Frame(v, k, n, cut)),
                1 => (0usize..3, 1usize..6, prop_oneof![Just(64usize), Just(1 << 20)]).prop_map(|(v, q, b)| Op::Watch(v, q, b)),
                1 => (0usize..6).prop_map(Op::Drain),
                1 => (0usize..3).prop_map(Op::Clear),
            ],
            1..120,
        ),
    ) {
        let limits = Limits { max_tail_bytes: 8 * 1024, max_total_bytes: 20 * 1024 };
        let relay = Relay::new(limits);
        let vids = ["v_a", "v_b", "v_c"];
        // Every frame published: seq → (visitor, the keyframe it builds on).
        let mut epoch_of: HashMap<u32, (usize, u32)> = HashMap::new();
        let mut epoch: [Option<u32>; 3] = [None; 3];
        let mut seq = 0u32;
        struct Viewer { inbox: chatcast_server::transport::PeerInbox, _peer: Peer, visitor: usize, last_key: Option<u32> }
        let mut viewers: Vec<Viewer> = Vec::new();
        let check = |v: &mut Viewer, epoch_of: &HashMap<u32, (usize, u32)>| -> Result<(), TestCaseError> {
            while let Some(f) = v.inbox.try_recv() {
                let (kind, s) = header(&f).expect("the relay forwards screen frames only");
                let (from, key) = epoch_of[&s];
                prop_assert_eq!(from, v.visitor, "a frame of another broadcast");
                if kind == KIND_KEYFRAME {
                    v.last_key = Some(s);
                } else {
                    prop_assert_eq!(kind, KIND_DELTA);
                    prop_assert_eq!(v.last_key, Some(key), "a delta without the keyframe it builds on");
                }
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::Frame(v, kind, n, cut) => {
                    seq += 1;
                    let mut frame = encode_screen(kind, seq, &vec![b'x'; n]);
                    if cut { frame.truncate(n % HEADER_LEN); }
                    let got = relay.publish(vids[v], frame.clone().into());
                    let valid = header(&frame).is_some_and(|(k, _)| k == KIND_KEYFRAME || k == KIND_DELTA);
                    prop_assert_eq!(got == Published::Invalid, !valid, "{:?} for {:?}", got, &frame[..frame.len().min(8)]);
                    match got {
                        Published::Ok | Published::WantKeyframe => {
                            if kind == KIND_KEYFRAME { epoch[v] = Some(seq); }
                            epoch_of.insert(seq, (v, epoch[v].expect("a delta is taken after a keyframe only")));
                        }
                        Published::NoKeyframe => prop_assert!(kind == KIND_DELTA && epoch[v].is_none()),
                        Published::Overflow(reason) => { prop_assert!(!reason.is_empty()); epoch[v] = None; }
                        Published::Invalid => {}
                    }
                }
                Op::Watch(v, q, b) => {
                    let (peer, inbox) = Peer::pair_bounded(q, b);
                    relay.watch(vids[v], peer.clone());
                    viewers.push(Viewer { inbox, _peer: peer, visitor: v, last_key: None });
                }
                Op::Drain(i) => {
                    if let Some(v) = viewers.get_mut(i) {
                        check(v, &epoch_of)?;
                        relay.resync(v._peer.id);
                    }
                }
                Op::Clear(v) => { relay.clear(vids[v]); epoch[v] = None; }
            }
            prop_assert!(relay.cached_bytes() <= limits.max_total_bytes, "{} cached", relay.cached_bytes());
        }
        for v in &mut viewers { check(v, &epoch_of)?; }
        for vid in vids { relay.clear(vid); }
        prop_assert_eq!(relay.cached_bytes(), 0, "the accounting adds up");
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// (visitor, kind, body bytes, cut below the header).
    Frame(usize, u8, usize, bool),
    /// (visitor, queue frames, queue bytes).
    Watch(usize, usize, usize),
    Drain(usize),
    Clear(usize),
}

// ---- what a client puts in headers and bodies ---------------------------------------------------

fn header_map(name: &str, values: &[String]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for v in values {
        if let Ok(v) = http::HeaderValue::from_bytes(v.as_bytes()) {
            h.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
        }
    }
    h
}

fn origin_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        ".{0,20}",
        "(HTTPS?|https?|ftp|)(://)?(\\[[0-9a-f:]{0,12}\\]|[a-zA-Z0-9.-]{0,20})(:[0-9]{0,7})?/?[?#@/]?",
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn origins_normalize_once_and_for_all(o in origin_like()) {
        if let Some(n) = origin::normalize(&o) {
            prop_assert_eq!(origin::normalize(&n), Some(n.clone()), "normalizing twice changes nothing");
            prop_assert!(n.starts_with("http://") || n.starts_with("https://"), "{}", n);
            prop_assert!(!n["https://".len()..].contains(['/', '?', '#', '@', ' ']), "{}", n);
            prop_assert!(origin::is_allowed(&o, std::slice::from_ref(&n)));
            prop_assert!(chatcast_server::validate::origins(std::slice::from_ref(&o)).is_ok() || o.trim().is_empty());
        } else {
            prop_assert!(!origin::is_allowed(&o, std::slice::from_ref(&o)));
        }
    }

    #[test]
    fn forwarded_for_names_the_peer_or_one_of_its_hops(
        proxies in prop::collection::vec(prop_oneof!["[0-9./:a-f]{0,20}", Just("10.0.0.0/8".to_owned()), Just("::/0".to_owned()), Just("0.0.0.0/0".to_owned())], 0..3),
        peer in prop_oneof![Just("10.1.2.3"), Just("::1"), Just("::ffff:10.0.0.1"), Just("203.0.113.9")],
        xff in prop::collection::vec(prop_oneof!["[0-9., :a-f]{0,40}", "[ -~]{0,40}", Just("unknown, 10.0.0.9".to_owned())], 0..3),
    ) {
        let Ok(trusted) = TrustedProxies::parse(&proxies) else { return Ok(()) };
        let peer: std::net::IpAddr = peer.parse().unwrap();
        let got = trusted.client(peer, &header_map("x-forwarded-for", &xff));
        let canon = |ip: std::net::IpAddr| match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        let hops: Vec<std::net::IpAddr> =
            xff.iter().flat_map(|v| v.split(',')).filter_map(|h| h.trim().parse().ok()).map(canon).collect();
        prop_assert!(got == canon(peer) || hops.contains(&got), "{} from {} and {:?}", got, peer, xff);
    }

    #[test]
    fn cookies_and_client_values_never_panic(
        cookies in prop::collection::vec("[ -~]{0,60}", 0..3),
        body in prop_oneof![".{0,50}", (0usize..9000).prop_map(|n| format!(" {} ", "é".repeat(n)))],
        id in ".{0,80}",
    ) {
        if let Some(t) = chatcast_server::http::auth::session_token(&header_map("cookie", &cookies)) {
            let pair = format!("chatcast_session={t}");
            prop_assert!(cookies.iter().any(|c| c.contains(&pair)), "{} from {:?}", t, cookies);
        }
        match check_body(&body, "send") {
            Ok(b) => prop_assert!(!b.is_empty() && b.chars().count() <= chatcast_protocol::MAX_BODY_CHARS && b == body.trim()),
            Err(e) => prop_assert!(!e.message.is_empty() && e.ref_type.as_deref() == Some("send")),
        }
        prop_assert_eq!(check_client_id(&id, "send").is_ok(), !id.is_empty() && id.len() <= 64);
    }

    #[test]
    fn json_request_bodies_are_read_or_refused_with_a_reason(
        content_type in prop_oneof![Just("application/json".to_owned()), Just("application/json; charset=utf-8".to_owned()), "[ -~]{0,30}"],
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..200), ".{0,100}".prop_map(String::into_bytes),
            Just(br#"{"email":"a@b","password":"x"}"#.to_vec()), Just(br#"{"email":1e999}"#.to_vec())],
    ) {
        let h = header_map("content-type", &[content_type]);
        let r = chatcast_server::http::json_body::<Value>(&h, &body);
        if let Err(e) = r {
            prop_assert!(e.status.is_client_error() && !e.message.is_empty(), "{:?}", e);
        }
    }
}

// ---- live sockets ---------------------------------------------------------------------------

/// Hostile variants of valid frames: fields replaced, dropped, cut, bytes flipped, junk added.
fn mutate(rng: &mut Rng, valid: &[Value]) -> String {
    let base = &valid[rng.below(valid.len())];
    let text = base.to_string();
    match rng.below(6) {
        // Random bytes made text.
        0 => {
            let n = rng.below(200);
            String::from_utf8_lossy(&(0..n).map(|_| rng.next() as u8).collect::<Vec<_>>()).into_owned()
        }
        // Bytes flipped.
        1 => {
            let mut b = text.into_bytes();
            for _ in 0..(1 + rng.below(4)) {
                let at = rng.below(b.len());
                b[at] = (rng.next() % 95 + 32) as u8;
            }
            String::from_utf8(b).unwrap()
        }
        // Cut short, or junk after it.
        2 => {
            let cut = rng.below(text.len());
            if rng.next().is_multiple_of(2) { text[..cut].to_owned() } else { format!("{text}{}", &text[..cut]) }
        }
        // A field replaced by something hostile (or dropped).
        _ => {
            let mut f = base.clone();
            let m = f.as_object_mut().unwrap();
            let keys: Vec<String> = m.keys().filter(|k| *k != "v" || rng.below(8) == 0).cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            let hostile = match rng.below(10) {
                0 => json!("é".repeat(rng.below(20_000))),
                1 => json!("\u{0}\u{202e}\u{feff}"),
                2 => json!(u64::MAX),
                3 => json!(-1),
                4 => json!(null),
                5 => json!([[[[[[[[1]]]]]]]]),
                6 => json!({"url": "😀".repeat(700), "title": "é".repeat(400)}),
                7 => json!({"url": format!("https://a.example/?{}", "q=1&".repeat(500)), "title": "\u{0}"}),
                8 => Value::Null,
                _ => json!(true),
            };
            if rng.below(6) == 0 {
                m.remove(&key);
            } else {
                m.insert(key, hostile);
            }
            f.to_string()
        }
    }
}

/// Reads a socket's answers until the marker message; returns how many came before.
async fn answers_until(c: &mut Client, done: impl Fn(&Value) -> bool) -> usize {
    let mut answered = 0;
    loop {
        let m = c.recv().await;
        if done(&m) {
            return answered;
        }
        if m["t"] == "error" {
            assert!(!m["message"].as_str().unwrap_or_default().is_empty(), "{m}");
            assert!(m["code"].is_string(), "{m}");
        }
        answered += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_frames_on_visitor_and_console_sockets_lose_nothing() {
    let mark = record_panics();
    let app = spawn_app_with(|s| {
        // The budget below is above a visitor's frame rate: lift it so that every frame is read.
        s.visitor_frames_burst = 100_000;
        s.visitor_frames_per_minute = 100_000;
        s.visitor_messages_burst = 100_000;
        s.visitor_messages_per_minute = 100_000;
    })
    .await;
    let cookie = app.consultant("fuzz@example.com").await;
    let own = format!("http://{}", app.addr);
    let mut c = plain_client(
        &format!("ws://{}/ws/console", app.addr),
        http::Request::builder().header("Origin", &own).header("Cookie", &cookie),
    )
    .await;
    c.recv_type("snapshot").await;
    let mut v = plain_client(
        &format!("ws://{}/ws/visitor?site={}", app.addr, app.site_key),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await;
    let page = json!({"url": "http://shop.test:8000/a?secret=1", "title": "A"});
    v.send(json!({"t": "hello", "page": page, "tab_id": "tab-fuzz"})).await;
    let vid = v.recv_type("welcome").await["visitor_id"].as_str().unwrap().to_owned();
    let visitor_frames = [
        json!({"v": 1, "t": "page", "page": page}),
        json!({"v": 1, "t": "send", "client_id": "c_1", "body": "hello"}),
        json!({"v": 1, "t": "consent_answer", "request_id": "r1", "allow": true}),
        json!({"v": 1, "t": "screencast_unavailable", "reason": "unsupported", "detail": "MutationObserver"}),
        json!({"v": 1, "t": "screencast_stop"}),
        json!({"v": 1, "t": "screencast_stats", "hidden_fields": 2, "hidden_areas": 1}),
        json!({"v": 1, "t": "probe", "id": "p1"}),
        json!({"v": 1, "t": "hello", "page": page}),
    ];
    let console_frames = [
        json!({"v": 1, "t": "open", "visitor_id": vid}),
        json!({"v": 1, "t": "read", "visitor_id": vid}),
        json!({"v": 1, "t": "send", "visitor_id": vid, "client_id": "k_1", "body": "hi"}),
        json!({"v": 1, "t": "screencast_request", "visitor_id": vid}),
        json!({"v": 1, "t": "screencast_stop", "visitor_id": vid}),
        json!({"v": 1, "t": "watch", "visitor_id": vid}),
        json!({"v": 1, "t": "unwatch", "visitor_id": vid}),
    ];
    let mut rng = Rng(0x5eed_c0ffee);
    let n = 400;
    let (mut va, mut ca) = (0, 0);
    for i in 0..n {
        v.send_text(&mutate(&mut rng, &visitor_frames)).await;
        // Binary frames on the chat socket: probes (any size) and anything else.
        if i % 20 == 0 {
            let mut b: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            if i % 40 == 0 {
                b = encode_screen(KIND_PROBE, rng.next() as u32, &b);
            }
            v.send_binary(b).await;
        }
        c.send_text(&mutate(&mut rng, &console_frames)).await;
        drain_ready(&mut v, &mut va);
        drain_ready(&mut c, &mut ca);
    }
    // Before its `hello`, a socket gets the same (the handshake reads each frame's type for its answer).
    let mut early = plain_client(
        &format!("ws://{}/ws/visitor?site={}", app.addr, app.site_key),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await;
    let without_hello: Vec<Value> = visitor_frames.iter().filter(|f| f["t"] != "hello").cloned().collect();
    let mut early_answers = 0;
    for _ in 0..60 {
        early.send_text(&mutate(&mut rng, &without_hello)).await;
        if rng.below(10) == 0 {
            early.send_binary(vec![KIND_PROBE; rng.below(8)]).await;
        }
        drain_ready(&mut early, &mut early_answers);
    }
    early.send(json!({"t": "hello", "page": page})).await;
    early_answers += answers_until(&mut early, |m| m["t"] == "welcome").await;
    assert!(early_answers >= 60, "{early_answers} answers to 60 frames before `hello`");
    // Both sockets still work: a real message each way is stored and acknowledged.
    v.send(json!({"t": "send", "client_id": "after-fuzz", "body": "still here"})).await;
    c.send(json!({"t": "send", "visitor_id": vid, "client_id": "after-fuzz-c", "body": "me too"})).await;
    va += answers_until(&mut v, |m| m["t"] == "ack" && m["client_id"] == "after-fuzz").await;
    ca += answers_until(&mut c, |m| m["t"] == "ack" && m["client_id"] == "after-fuzz-c").await;
    assert!(va > n / 2 && ca > n / 2, "{va} and {ca} answers to {n} frames each");
    let stored = app.state.db.messages(&vid, 1000).await.unwrap();
    assert!(stored.iter().any(|m| m.body == "still here") && stored.iter().any(|m| m.body == "me too"));
    for m in &stored {
        assert!(!m.body.trim().is_empty() && m.body.chars().count() <= chatcast_protocol::MAX_BODY_CHARS, "{:?}", m.body);
    }
    // What a page claimed about itself is stored within its bounds, and masked.
    let (visitor, _) = app.state.db.visitor(&vid).await.unwrap().unwrap();
    let site = app.state.db.site_of_visitor(&vid).await.unwrap().unwrap();
    let url = &visitor.page.url;
    assert!(url.len() <= 2048 && visitor.page.title.len() <= 300, "{} and {} bytes", url.len(), visitor.page.title.len());
    let masked = chatcast_protocol::url_mask::mask_url(url, &site.privacy.keep_url_params);
    assert_eq!(&masked, url, "an unmasked URL was stored");
    let p = panics_since(mark);
    assert!(p.is_empty(), "{p:#?}");
}

/// Answers the server's connection probe like the agent does.
async fn pass_probe(v: &mut Client) {
    let p = v.recv_type("probe").await;
    v.send(json!({"t": "probe", "id": p["id"]})).await;
    let n = p["upload_bytes"].as_u64().unwrap() as usize;
    v.send_binary(encode_screen(KIND_PROBE, 0, &vec![7u8; n])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_binary_frames_on_a_screen_socket_keep_the_relay_bounded() {
    const TAIL: usize = 256 * 1024;
    const MAX_FRAME: usize = 64 * 1024;
    let mark = record_panics();
    let app = spawn_app_with(|s| {
        s.broadcast_max_tail_bytes = TAIL;
        s.max_screen_frame_bytes = MAX_FRAME;
    })
    .await;
    let cookie = app.consultant("screen@example.com").await;
    let mut c = app.console_socket(Some(&cookie), None).await;
    c.recv_type("snapshot").await;
    let (mut v, vid, _) = app.visitor_tab(None, Some("tab-1")).await;
    c.send(json!({"t": "screencast_request", "visitor_id": vid})).await;
    let ask = v.recv_type("consent_request").await;
    v.send(json!({"t": "consent_answer", "request_id": ask["request_id"], "allow": true})).await;
    pass_probe(&mut v).await;
    let start = v.recv_type("screencast_start").await;
    let token = start["screen_token"].as_str().unwrap();
    let mut s = plain_client(
        &format!("ws://{}/ws/screen?token={token}", app.addr),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await;
    let mut w = app.console_socket(Some(&cookie), None).await;
    w.recv_type("snapshot").await;
    w.send(json!({"t": "watch", "visitor_id": vid})).await;
    w.recv_type("screencast_assets").await;

    let mut rng = Rng(0xfeed_beef);
    let (mut errors, mut invalid) = (0, 0);
    s.send_binary(encode_screen(KIND_KEYFRAME, 0, br#"[{"type":4,"data":{},"timestamp":1}]"#)).await;
    for i in 1..300u32 {
        let n = rng.below(if i % 50 == 0 { MAX_FRAME - HEADER_LEN } else { 300 });
        let mut f = encode_screen(
            [KIND_KEYFRAME, KIND_DELTA, KIND_DELTA, KIND_DELTA, KIND_PROBE, rng.next() as u8][rng.below(6)],
            rng.next() as u32,
            &(0..n).map(|_| rng.next() as u8).collect::<Vec<_>>(),
        );
        if rng.below(10) == 0 {
            f.truncate(rng.below(HEADER_LEN));
        }
        if rng.below(30) == 0 {
            s.send_text("{\"t\":\"not here\"}").await;
            invalid += 1;
        } else {
            invalid += usize::from(header(&f).is_none_or(|(k, _)| k != KIND_KEYFRAME && k != KIND_DELTA));
            s.send_binary(f).await;
        }
        drain_ready(&mut s, &mut errors);
        // The viewer and the visitor's chat socket read along too (keyframe requests, frames).
        let mut ignored = 0;
        while futures::FutureExt::now_or_never(futures::StreamExt::next(&mut w.ws)).flatten().is_some() {}
        drain_ready(&mut v, &mut ignored);
        assert!(app.state.relay.cached_bytes() <= TAIL + MAX_FRAME, "{} cached", app.state.relay.cached_bytes());
    }
    // The socket still works: a valid keyframe reaches the viewer byte for byte.
    let last = encode_screen(KIND_KEYFRAME, 1_000_000, br#"[{"type":4,"data":{"href":"end"},"timestamp":9}]"#);
    s.send_binary(last.clone()).await;
    loop {
        let f = w.recv_binary().await;
        if f.as_ref() == last.as_slice() {
            break;
        }
        let (kind, _) = header(&f).expect("only screen frames reach a viewer");
        assert!(kind == KIND_KEYFRAME || kind == KIND_DELTA);
    }
    // Each invalid frame was answered with an error that says why (and nothing else was).
    while errors < invalid {
        let m = s.recv().await;
        assert_eq!(m["t"], "error", "{m}");
        assert!(!m["message"].as_str().unwrap().is_empty());
        errors += 1;
    }
    s.expect_silence(200).await;
    let p = panics_since(mark);
    assert!(p.is_empty(), "{p:#?}");
}

/// One WebSocket frame as a client would write it, with every field chosen:
/// FIN, RSV bits and opcode in `first`, the length as claimed (whatever the
/// payload really is), masked or not.
fn raw_frame(first: u8, claimed: u64, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let m = if masked { 0x80 } else { 0 };
    match claimed {
        0..=125 => f.push(m | claimed as u8),
        126..=0xffff => {
            f.push(m | 126);
            f.extend_from_slice(&(claimed as u16).to_be_bytes());
        }
        _ => {
            f.push(m | 127);
            f.extend_from_slice(&claimed.to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        f.extend_from_slice(&key);
    }
    f.extend(payload.iter().enumerate().map(|(i, b)| if masked { b ^ key[i % 4] } else { *b }));
    f
}

/// Opens a raw TCP connection and upgrades it to the visitor socket.
async fn raw_visitor_socket(app: &TestApp, deflate: bool) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let ext = if deflate { "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" } else { "" };
    let req = format!(
        "GET /ws/visitor?site={} HTTP/1.1\r\nHost: {}\r\nOrigin: {SITE_ORIGIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n",
        app.site_key, app.addr
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(tcp.read(&mut b).await.unwrap(), 1, "the upgrade was not answered");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_websocket_frames_with_any_header_are_refused_without_allocating_what_they_claim() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mark = record_panics();
    let app = spawn_app().await;
    let max = app.state.settings.max_frame_bytes.max(app.state.settings.probe_bytes as usize + 64);
    // Lengths a peer may claim: small, at and past the limit, and absurd.
    let claims = [0u64, 5, 125, 126, 65_535, 65_536, max as u64, 1 << 31, 1 << 32, (1 << 63) - 1, 1 << 63, u64::MAX];
    let mut rng = Rng(0x0bad_f00d);
    let start = reset_peak();
    for round in 0..12 {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let first = match rng.below(4) {
                // A text or binary frame, maybe with RSV bits (RSV1: compressed).
                0 | 1 => 0x80 | (rng.below(8) as u8) << 4 | [1u8, 2][rng.below(2)],
                // Continuation, control and reserved opcodes, unfinished frames.
                _ => rng.next() as u8,
            };
            let claimed = if (round + i) % 3 == 0 { claims[rng.below(claims.len())] } else { rng.below(300) as u64 };
            let payload: Vec<u8> = (0..claimed.min(rng.below(300) as u64)).map(|_| rng.next() as u8).collect();
            let frame = raw_frame(first, claimed, rng.below(8) != 0, &payload);
            let deflate = rng.below(2) == 0;
            let app = &app;
            tasks.push(async move {
                let mut tcp = raw_visitor_socket(app, deflate).await;
                let _ = tcp.write_all(&frame).await;
                // Whatever it answers (an error, a close, nothing yet), it answers within its limits.
                let mut buf = vec![0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_millis(30), tcp.read(&mut buf)).await;
                (claimed, first)
            });
        }
        futures::future::join_all(tasks).await;
    }
    let peak = peak_above(start);
    assert!(peak < 64 << 20, "240 connections took {peak} bytes at the peak");
    // A length past the limit is refused at once, from the header alone, with 1009.
    for claimed in [max as u64 + 1, 1 << 32, u64::MAX] {
        let start = reset_peak();
        let mut tcp = raw_visitor_socket(&app, false).await;
        tcp.write_all(&raw_frame(0x82, claimed, true, b"abc")).await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await.expect("no answer within 2 s").unwrap();
        assert!(n >= 4 && buf[0] == 0x88, "expected a close frame, got {:?}", &buf[..n]);
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 1009, "{:?}", String::from_utf8_lossy(&buf[4..n]));
        // (The process's other tests run meanwhile: the bound is loose, the claims are not.)
        assert!(peak_above(start) < 64 << 20, "claiming {claimed} bytes took {} bytes", peak_above(start));
    }
    // The server still serves a visitor.
    let (mut v, _, _) = app.visitor(None).await;
    v.send(json!({"t": "send", "client_id": "after", "body": "still here"})).await;
    v.recv_type("ack").await;
    let p = panics_since(mark);
    assert!(p.is_empty(), "{p:#?}");
}

#[tokio::test]
async fn random_http_bodies_and_queries_never_get_a_server_error() {
    let mark = record_panics();
    let app = spawn_app().await;
    let cookie = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let http = reqwest::Client::new();
    let valid = [
        ("POST", "/api/login", json!({"email": "x@example.com", "password": "wrong-password"})),
        ("POST", "/api/sites", json!({"name": "Shop", "origins": ["https://shop.example"]})),
        (
            "POST",
            "/api/users",
            json!({"email": "n@example.com", "password": "long-enough-pw", "role": "consultant", "name": "N"}),
        ),
        (
            "PUT",
            "/api/sites/1/settings",
            json!({"privacy": {"mask_all_inputs": true, "block_selectors": [], "mask_selectors": [], "keep_url_params": ["id"]}, "consent_ttl_hours": 24}),
        ),
        ("PATCH", "/api/users/2", json!({"name": "M", "role": "admin", "disabled": false})),
    ];
    let bodies: Vec<Value> = valid.iter().map(|(_, _, b)| b.clone()).collect();
    let mut rng = Rng(0xabad_1dea);
    for i in 0..150 {
        let (method, path, _) = &valid[i % valid.len()];
        let body = mutate(&mut rng, &bodies);
        let mut req = http.request(method.parse().unwrap(), app.url(path)).header("cookie", &cookie).body(body.clone());
        if rng.below(8) != 0 {
            req = req.header("content-type", "application/json");
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        assert!(!status.is_server_error(), "{status} for {method} {path} {body}");
        if status.is_client_error() && status != 429 {
            let e: Value = res.json().await.unwrap_or_else(|e| panic!("{status} {method} {path} {body}: {e}"));
            assert!(!e["error"]["message"].as_str().unwrap_or_default().is_empty(), "{e}");
        }
    }
    for _ in 0..60 {
        let q: String = (0..rng.below(40)).map(|_| (rng.next() % 95 + 32) as u8 as char).collect();
        for path in ["/ws/visitor", "/ws/screen", "/ws/console", "/api/audit", "/api/sites/x/settings", "/console/"] {
            let url = format!("{}?{}", app.url(path), q.replace('#', "%23"));
            let res = http.get(url).header("cookie", &cookie).send().await.unwrap();
            assert!(!res.status().is_server_error(), "{} for {path}?{q}", res.status());
        }
    }
    let p = panics_since(mark);
    assert!(p.is_empty(), "{p:#?}");
}

// ---- what the fuzzing above found ------------------------------------------------------------
//
// Settings that loaded fine and then overflowed a time or a size, or started
// a thread per unit: `login_hashers` (a thread each), `session_ttl_hours`
// (× 3,600,000 ms), `retention_*_days` (× a day in ms: in release the cut-off
// wrapped into the future and the sweep would have deleted every
// conversation), `retention_sweep_minutes` (× 60), `shutdown_timeout_secs`
// and `http_header_timeout_secs` (added to `Instant::now()`, a panic in
// release too), `consent_request_timeout_secs` (added to now in ms),
// `max_frame_bytes` (× 2). Every number is now checked against its range when
// the settings are read and again when the server is built, and the message
// names it. Text settings from the environment are taken as written.

#[test]
fn a_value_out_of_its_range_is_refused_naming_the_setting() {
    let cases = [
        "login_hashers = 9223372036854775807",
        "session_ttl_hours = 9223372036854775807",
        "retention_transcript_days = 200000000000",
        "retention_idle_visitor_days = 200000000000",
        "retention_sweep_minutes = 9223372036854775807",
        "shutdown_timeout_secs = 9223372036854775807",
        "http_header_timeout_secs = 9223372036854775807",
        "consent_request_timeout_secs = 9223372036854775",
        "max_frame_bytes = 9223372036854775807",
    ];
    for line in cases {
        let name = line.split(' ').next().unwrap();
        let err = load_text(&format!("{line}\n")).expect_err(line);
        assert!(err.contains(name) && err.contains("between"), "{line}: {err}");
    }
    // Positive control: the same settings within range load.
    let ok = "login_hashers = 4\nsession_ttl_hours = 720\nretention_transcript_days = 0\nshutdown_timeout_secs = 30\nmax_frame_bytes = 1048576\n";
    load_text(ok).expect("values within range load");
}

#[tokio::test]
async fn a_server_built_with_a_value_out_of_range_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        Settings { data_dir: dir.path().to_path_buf(), retention_transcript_days: 200_000_000_000, ..Settings::default() };
    let err = chatcast_server::AppState::build(settings).await.err().expect("refused");
    assert!(err.to_string().contains("retention_transcript_days"), "{err}");
}

#[test]
fn the_frame_limit_of_the_largest_setting_does_not_overflow() {
    // What an upgrade computes from `max_frame_bytes`, at the extreme.
    let _ = chatcast_server::transport::ws_options(usize::MAX, chatcast_server::transport::Compression::Stream, false);
}

#[test]
fn text_settings_from_the_environment_are_taken_as_written() {
    let out = run_child(
        "string_env_child",
        &[("CHATCAST_METRICS_TOKEN".into(), "0123".into()), ("CHATCAST_LISTEN".into(), "127.0.0.1:0".into())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("metrics_token: Some(\"0123\")"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

/// The child's half of the test above (a no-op elsewhere).
#[test]
fn string_env_child() {
    if std::env::var_os(ENV_CHILD).is_none() {
        return;
    }
    let s = Settings::load(None, &Overrides::default()).unwrap();
    println!("metrics_token: {:?}", s.metrics_token);
}
