//! Fuzzing the protocol crate's decoders, as ordinary tests with a fixed
//! budget (proptest on stable Rust, 2,000 cases per property unless a test
//! says otherwise; the whole file runs in ~6 s in debug). What a remote peer
//! reaches here:
//!
//! - socket envelopes (`decode::<VisitorIn>` / `decode::<ConsoleIn>`, what the
//!   visitor and console sockets run on every text frame): arbitrary bytes,
//!   arbitrary JSON values, valid frames mutated (fields dropped or replaced by
//!   huge strings, deep nesting, wrong types, huge numbers, NUL, bidi marks,
//!   lone surrogates, junk after the frame), and every well-typed message
//!   round-tripping (`encode` → `decode` = identity);
//! - screen frame headers (`screen::header`, what the relay runs on every
//!   binary frame): arbitrary bytes, truncations and extensions of valid
//!   frames, `encode` → `header` = identity and `header` → `encode` = identity;
//! - the URL rule applied to what a page reports (`url_mask::mask_url`).
//!
//! Each decode is measured by a counting allocator (per thread): what it
//! allocates at its peak must stay within a small multiple of its input, so a
//! field that claims a huge size cannot make it allocate that size. Errors must
//! say what was wrong (a non-empty message, the right code).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chatcast_protocol::screen::{HEADER_LEN, KIND_DELTA, KIND_KEYFRAME, KIND_PROBE, encode as encode_screen, header};
use chatcast_protocol::url_mask::mask_url;
use chatcast_protocol::{
    CONSOLE_TYPES, ConsoleIn, ErrorBody, ErrorCode, NoticeReason, PageInfo, VISITOR_TYPES, VisitorIn, decode, encode,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---- a counting allocator: bytes live on this thread, and their peak --------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + delta;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
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

/// Runs `f`; returns its result and the most bytes it had allocated at once (on this thread).
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    (out, (PEAK.with(Cell::get) - start).max(0) as usize)
}

/// What decoding `len` bytes of JSON may take at its peak: the parsed value
/// tree (a `Value` is 32 bytes, a map entry more, for as little as 2 input
/// bytes) and the typed message beside it, plus a fixed allowance.
fn decode_budget(len: usize) -> usize {
    64 * len + 64 * 1024
}

#[test]
fn the_allocation_meter_sees_a_large_allocation() {
    // Positive control: a decoder that believed a length field claiming 1 GiB would be caught.
    let (v, peak) = peak_bytes(|| Vec::<u8>::with_capacity(1 << 30));
    assert!(peak >= 1 << 30 && peak > decode_budget(100), "{peak}");
    drop(v);
    let ((), peak) = peak_bytes(|| ());
    assert_eq!(peak, 0);
}

// ---- generators ----------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Strings a peer may send: plain, any Unicode, and the awkward ones.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_]{0,16}",
        4 => ".{0,40}",
        1 => Just("\u{0}".to_owned()),
        1 => Just("\u{0}\u{feff}\u{202e}\u{200b}\r\n\t\\\"".to_owned()),
        1 => Just("😀".repeat(30)),
        1 => (0usize..70_000).prop_map(|n| "é".repeat(n)),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn notice_reason() -> impl Strategy<Value = NoticeReason> {
    prop::sample::select(vec![
        NoticeReason::Denied,
        NoticeReason::Unsupported,
        NoticeReason::WeakConnection,
        NoticeReason::Offline,
        NoticeReason::Timeout,
        NoticeReason::StoppedByVisitor,
        NoticeReason::TooMuchData,
    ])
}

fn page() -> impl Strategy<Value = PageInfo> {
    (any_text(), any_text()).prop_map(|(url, title)| PageInfo { url, title })
}

/// Every message a widget may send, with any field values.
fn visitor_in() -> impl Strategy<Value = VisitorIn> {
    prop_oneof![
        (prop::option::of(any_text()), page(), prop::option::of(any_text())).prop_map(|(token, page, tab_id)| VisitorIn::Hello {
            client: None,
            token,
            page,
            tab_id
        }),
        page().prop_map(|page| VisitorIn::Page { page }),
        (any_text(), any_text(), proptest::option::of(any_text())).prop_map(|(client_id, body, attachment_id)| VisitorIn::Send {
            client_id,
            body,
            attachment_id
        }),
        (proptest::option::of(any_text()), any_text()).prop_map(|(name, email)| VisitorIn::Contact { name, email }),
        (any_text(), any::<bool>()).prop_map(|(request_id, allow)| VisitorIn::ConsentAnswer { request_id, allow }),
        (notice_reason(), any_text()).prop_map(|(reason, detail)| VisitorIn::ScreencastUnavailable { reason, detail }),
        Just(VisitorIn::ScreencastStop {}),
        (any::<u32>(), any::<u32>())
            .prop_map(|(hidden_fields, hidden_areas)| VisitorIn::ScreencastStats { hidden_fields, hidden_areas }),
        any_text().prop_map(|id| VisitorIn::Probe { id }),
    ]
}

/// Every message a console may send, with any field values.
fn console_in() -> impl Strategy<Value = ConsoleIn> {
    prop_oneof![
        any_text().prop_map(|visitor_id| ConsoleIn::Open { visitor_id }),
        (any_text(), any_text(), any_text(), proptest::option::of(any_text())).prop_map(
            |(visitor_id, client_id, body, attachment_id)| ConsoleIn::Send { visitor_id, client_id, body, attachment_id }
        ),
        any_text().prop_map(|visitor_id| ConsoleIn::Read { visitor_id }),
        any_text().prop_map(|visitor_id| ConsoleIn::ScreencastRequest { visitor_id }),
        any_text().prop_map(|visitor_id| ConsoleIn::ScreencastStop { visitor_id }),
        any_text().prop_map(|visitor_id| ConsoleIn::Watch { visitor_id }),
        any_text().prop_map(|visitor_id| ConsoleIn::Unwatch { visitor_id }),
    ]
}

/// Every frame a widget or console may send, valid.
fn valid_frames() -> Vec<Value> {
    let page = json!({"url": "https://shop.example/cart?id=7", "title": "Cart"});
    vec![
        json!({"v": 1, "t": "hello", "token": "tok", "tab_id": "t_1", "page": page}),
        json!({"v": 1, "t": "page", "page": page}),
        json!({"v": 1, "t": "send", "client_id": "c_1", "body": "hello"}),
        json!({"v": 1, "t": "consent_answer", "request_id": "r1", "allow": true}),
        json!({"v": 1, "t": "screencast_unavailable", "reason": "unsupported", "detail": "MutationObserver"}),
        json!({"v": 1, "t": "screencast_stop"}),
        json!({"v": 1, "t": "screencast_stats", "hidden_fields": 2, "hidden_areas": 1}),
        json!({"v": 1, "t": "probe", "id": "p1"}),
        json!({"v": 1, "t": "open", "visitor_id": "v_1"}),
        json!({"v": 1, "t": "send", "visitor_id": "v_1", "client_id": "c_1", "body": "hi"}),
        json!({"v": 1, "t": "read", "visitor_id": "v_1"}),
        json!({"v": 1, "t": "screencast_request", "visitor_id": "v_1"}),
        json!({"v": 1, "t": "watch", "visitor_id": "v_1"}),
        json!({"v": 1, "t": "unwatch", "visitor_id": "v_1"}),
    ]
}

/// What replaces a field of a valid frame.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => any_json(),
        1 => (0usize..200_000).prop_map(|n| json!("x".repeat(n))),
        1 => (1usize..100).prop_map(|n| serde_json::from_str::<Value>(&format!("{}1{}", "[".repeat(n), "]".repeat(n))).unwrap()),
        1 => Just(json!("\u{0}\u{feff}\u{202e}")),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(-1)),
        1 => Just(json!(4_294_967_296u64)),
        1 => Just(json!(1.5)),
        1 => Just(json!({"url": "u", "title": "t", "extra": [1, 2, 3]})),
    ]
}

/// Decodes on both endpoints within the allocation budget; an error must say something.
fn decode_both(text: &str) -> (Result<VisitorIn, ErrorBody>, Result<ConsoleIn, ErrorBody>) {
    let (v, peak_v) = peak_bytes(|| decode::<VisitorIn>(text, VISITOR_TYPES));
    let (c, peak_c) = peak_bytes(|| decode::<ConsoleIn>(text, CONSOLE_TYPES));
    for (peak, what) in [(peak_v, "visitor"), (peak_c, "console")] {
        assert!(
            peak <= decode_budget(text.len()),
            "{what} decode of {} bytes allocated {peak} bytes at its peak: {:?}",
            text.len(),
            text.chars().take(120).collect::<String>()
        );
    }
    for e in [v.as_ref().err(), c.as_ref().err()].into_iter().flatten() {
        assert!(!e.message.is_empty(), "an error without a message for {text:?}");
        // An error answers with at most what was sent, plus a sentence.
        assert!(e.message.len() <= text.len() + 1024, "a {}-byte error for a {}-byte frame", e.message.len(), text.len());
    }
    (v, c)
}

// ---- envelopes -------------------------------------------------------------------

#[test]
fn every_valid_frame_decodes_on_its_endpoint() {
    // Positive control: the mutations below start from frames that do decode.
    for (i, f) in valid_frames().into_iter().enumerate() {
        let text = f.to_string();
        let (v, c) = decode_both(&text);
        // The first eight are a widget's, the rest a console's.
        if i < 8 {
            assert!(v.is_ok(), "{text}: {v:?}");
        } else {
            assert!(c.is_ok(), "{text}: {c:?}");
        }
    }
}

#[test]
fn each_kind_of_bad_frame_gets_its_error_code() {
    let vis = |s: &str| decode::<VisitorIn>(s, VISITOR_TYPES).unwrap_err();
    assert_eq!(vis("").code, ErrorCode::BadJson);
    assert_eq!(vis("\u{feff}{}").code, ErrorCode::BadJson);
    assert_eq!(vis("[1]").code, ErrorCode::BadJson);
    assert_eq!(vis(r#"{"v":1,"t":"send","client_id":"a","body":"b"} junk"#).code, ErrorCode::BadJson);
    assert_eq!(vis(r#"{"v":1,"t":"send","client_id":"a","body":"\ud800"}"#).code, ErrorCode::BadJson, "a lone surrogate");
    assert_eq!(vis(r#"{"v":1e400,"t":"send"}"#).code, ErrorCode::BadJson, "a number past f64");
    assert_eq!(vis(r#"{"v":2,"t":"send"}"#).code, ErrorCode::UnsupportedVersion);
    assert_eq!(vis(r#"{"v":"1","t":"send"}"#).code, ErrorCode::UnsupportedVersion);
    assert_eq!(vis(r#"{"v":1.0,"t":"send"}"#).code, ErrorCode::UnsupportedVersion);
    assert_eq!(vis(r#"{"v":1}"#).code, ErrorCode::BadMessage);
    assert_eq!(vis(r#"{"v":1,"t":7}"#).code, ErrorCode::BadMessage);
    let e = vis(r#"{"v":1,"t":"watch","visitor_id":"v"}"#);
    assert_eq!((e.code, e.ref_type.as_deref()), (ErrorCode::UnknownType, Some("watch")));
    let e = vis(r#"{"v":1,"t":"send","client_id":"a","body":7}"#);
    assert_eq!((e.code, e.ref_type.as_deref()), (ErrorCode::BadMessage, Some("send")));
    assert!(e.message.contains("send"), "{}", e.message);
    let e = vis(r#"{"v":1,"t":"screencast_stats","hidden_fields":-1,"hidden_areas":0}"#);
    assert_eq!(e.code, ErrorCode::BadMessage);
    let e = vis(r#"{"v":1,"t":"screencast_stats","hidden_fields":4294967296,"hidden_areas":0}"#);
    assert_eq!(e.code, ErrorCode::BadMessage, "past u32");
    // NUL and other controls are data, not terminators.
    let ok = decode::<VisitorIn>("{\"v\":1,\"t\":\"send\",\"client_id\":\"a\",\"body\":\"x\\u0000y\"}", VISITOR_TYPES).unwrap();
    assert_eq!(ok, VisitorIn::Send { client_id: "a".into(), body: "x\0y".into(), attachment_id: None });
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [100, 1_000, 100_000, 1_000_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let nest = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let (v, c) = decode_both(&nest);
            assert!(v.is_err() && c.is_err());
            let in_field = format!(r#"{{"v":1,"t":"send","client_id":"c","body":{nest}}}"#);
            let (v, _) = decode_both(&in_field);
            assert!(v.is_err(), "nested {depth} deep in a field");
        }
    }
}

#[test]
fn huge_fields_cost_what_they_weigh() {
    // A frame as large as a socket lets through (and larger): time and memory follow its size.
    for n in [64 * 1024, 1 << 20, 4 << 20] {
        let big = "x".repeat(n);
        let t = std::time::Instant::now();
        let (v, _) = decode_both(&format!(r#"{{"v":1,"t":"send","client_id":"c","body":"{big}"}}"#));
        assert!(matches!(v, Ok(VisitorIn::Send { ref body, .. }) if body.len() == n));
        let (v, _) = decode_both(&format!(r#"{{"v":1,"t":"send","client_id":"c","body":{{"{big}":1}}}}"#));
        assert_eq!(v.unwrap_err().code, ErrorCode::BadMessage);
        // Many tiny elements: the worst ratio of parsed tree to input.
        let many = format!(r#"{{"v":1,"t":"send","client_id":"c","body":[{}0]}}"#, "0,".repeat(n / 2));
        assert_eq!(decode_both(&many).0.unwrap_err().code, ErrorCode::BadMessage);
        assert!(t.elapsed().as_secs() < 10, "{n} bytes took {:?}", t.elapsed());
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let (v, c) = decode_both(&String::from_utf8_lossy(&bytes));
        // Random bytes are almost never a frame: when they are, they are a JSON object.
        if v.is_ok() || c.is_ok() {
            prop_assert!(serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes).is_ok());
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        let (vis, con) = decode_both(&v.to_string());
        if !v.is_object() {
            prop_assert_eq!(vis.unwrap_err().code, ErrorCode::BadJson);
            prop_assert_eq!(con.unwrap_err().code, ErrorCode::BadJson);
        }
    }

    #[test]
    fn arbitrary_json_with_a_known_type_never_panics(
        t in prop::sample::select([VISITOR_TYPES, CONSOLE_TYPES].concat()),
        mut v in any_json(),
    ) {
        if let Value::Object(m) = &mut v {
            m.insert("v".into(), json!(1));
            m.insert("t".into(), json!(t));
        }
        let (vis, con) = decode_both(&v.to_string());
        if v.is_object() {
            // The type is known somewhere: a refusal on its own endpoint is about a field, and names the type.
            for (r, accepted) in [(vis.map(drop), VISITOR_TYPES), (con.map(drop), CONSOLE_TYPES)] {
                if let Err(e) = r {
                    let want = if accepted.contains(&t) { ErrorCode::BadMessage } else { ErrorCode::UnknownType };
                    prop_assert_eq!(e.code, want, "{}", e.message);
                    prop_assert_eq!(e.ref_type.as_deref(), Some(t));
                }
            }
        }
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        which in 0usize..14,
        field in "[a-z_]{1,12}",
        replacement in hostile_value(),
        op in 0u8..4,
        junk in "(?s).{0,8}",
    ) {
        let mut f = valid_frames()[which].clone();
        let m = f.as_object_mut().unwrap();
        let key = if m.contains_key(&field) { field } else { m.keys().nth(which % m.len()).unwrap().clone() };
        match op {
            0 => { m.remove(&key); }
            1 => { m.insert(key, replacement); }
            // A field inside a field (the page's url and title).
            2 => {
                if let Some(Value::Object(inner)) = m.get_mut("page") {
                    inner.insert(if which % 2 == 0 { "url" } else { "title" }.into(), replacement);
                } else {
                    m.insert(key, replacement);
                }
            }
            _ => { m.insert(key.clone(), replacement); }
        }
        let text = f.to_string();
        let _ = decode_both(&text);
        // Junk after a frame, and a frame cut short, are not JSON.
        if !junk.trim().is_empty() {
            let (v, c) = decode_both(&format!("{text}{junk}"));
            prop_assert!(v.is_err() && c.is_err(), "{}{}", text, junk);
        }
        let cut = text.char_indices().map(|(i, _)| i).nth(which * 7 % text.chars().count()).unwrap_or(0);
        let (v, c) = decode_both(&text[..cut]);
        prop_assert_eq!(v.unwrap_err().code, ErrorCode::BadJson);
        prop_assert_eq!(c.unwrap_err().code, ErrorCode::BadJson);
    }

    #[test]
    fn byte_flipped_valid_frames_never_panic(
        which in 0usize..14,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = valid_frames()[which].to_string().into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        // The socket hands the session bytes; the session reads them as lossy UTF-8.
        let _ = decode_both(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn every_visitor_message_round_trips(msg in visitor_in()) {
        let text = encode(&msg);
        let (got, other) = decode_both(&text);
        prop_assert_eq!(got.unwrap(), msg.clone());
        // The console refuses what only a widget sends (`send` has other fields there).
        prop_assert!(other.is_err());
        // Keys in another order, and whitespace, change nothing.
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        prop_assert_eq!(decode::<VisitorIn>(&pretty, VISITOR_TYPES).unwrap(), msg);
    }

    #[test]
    fn every_console_message_round_trips(msg in console_in()) {
        let text = encode(&msg);
        let (_, got) = decode_both(&text);
        prop_assert_eq!(got.unwrap(), msg);
    }
}

// ---- screen frame headers ---------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn screen_headers_round_trip_and_short_frames_are_refused(
        kind in prop_oneof![Just(KIND_KEYFRAME), Just(KIND_DELTA), Just(KIND_PROBE), any::<u8>()],
        seq in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
        body in prop::collection::vec(any::<u8>(), 0..64),
        cut in 0usize..HEADER_LEN,
        junk in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let frame = encode_screen(kind, seq, &body);
        prop_assert_eq!(frame.len(), HEADER_LEN + body.len());
        prop_assert_eq!(&frame[HEADER_LEN..], &body[..]);
        let (h, peak) = peak_bytes(|| header(&frame));
        prop_assert_eq!(h, Some((kind, seq)));
        prop_assert_eq!(peak, 0, "reading a header allocates nothing");
        prop_assert_eq!(header(&frame[..cut]), None);
        // Whatever follows the header is the body: it never changes the header.
        let mut longer = frame.clone();
        longer.extend_from_slice(&junk);
        prop_assert_eq!(header(&longer), Some((kind, seq)));
    }

    #[test]
    fn any_bytes_read_as_a_header_encode_back_to_themselves(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
        match header(&bytes) {
            None => prop_assert!(bytes.len() < HEADER_LEN),
            Some((kind, seq)) => {
                prop_assert!(bytes.len() >= HEADER_LEN);
                prop_assert_eq!(encode_screen(kind, seq, &bytes[HEADER_LEN..]), bytes);
            }
        }
    }
}

#[test]
fn a_header_does_not_look_at_the_body_however_large() {
    // A header that "claims" anything, ahead of a large body: read in constant time, no allocation.
    let frame = encode_screen(KIND_KEYFRAME, u32::MAX, &vec![0xff; 16 << 20]);
    let (h, peak) = peak_bytes(|| header(&frame));
    assert_eq!(h, Some((KIND_KEYFRAME, u32::MAX)));
    assert_eq!(peak, 0);
}

// ---- the URL rule -------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn the_url_rule_never_panics_is_idempotent_and_bounded(
        url in prop_oneof![
            ".{0,200}",
            "(https?://)?[a-z.]{0,20}(:[0-9]{0,6})?(/[^?#]{0,20})?(\\?[^#]{0,60})?(#.{0,20})?",
            "([a-z]{0,8}:)?[&=?#/@:•]{0,40}",
        ],
        keep in prop::collection::vec("[a-z#]{1,6}", 0..3),
    ) {
        let (once, peak) = peak_bytes(|| mask_url(&url, &keep));
        prop_assert_eq!(mask_url(&once, &keep), once.clone(), "masking twice changes nothing");
        prop_assert!(once.len() <= url.len() * 10 + 16, "{} bytes from {}", once.len(), url.len());
        prop_assert!(peak <= 64 * url.len() + 4096, "{peak} bytes allocated for a {}-byte URL", url.len());
    }
}
