//! Fuzzing, as ordinary tests with a fixed budget (proptest, ~2,000 cases
//! each, a few seconds in debug): every decoder a remote peer reaches —
//! socket envelopes (visitor and console), screen frame headers, the URL
//! rule applied to what a page reports — never panics, never allocates more
//! than its input justifies, and answers bad input with an error that says
//! what was wrong.

use chatcast_protocol::screen::{HEADER_LEN, encode, header};
use chatcast_protocol::url_mask::mask_url;
use chatcast_protocol::{CONSOLE_TYPES, ConsoleIn, ErrorBody, VISITOR_TYPES, VisitorIn, decode};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
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

/// Decodes on both endpoints; an error must say something.
fn decode_both(text: &str) {
    let check = |r: Result<(), ErrorBody>| {
        if let Err(e) = r {
            assert!(!e.message.is_empty(), "an error without a message for {text:?}");
        }
    };
    check(decode::<VisitorIn>(text, VISITOR_TYPES).map(drop));
    check(decode::<ConsoleIn>(text, CONSOLE_TYPES).map(drop));
}

#[test]
fn every_valid_frame_decodes_on_its_endpoint() {
    // Positive control: the mutations below start from frames that do decode.
    for f in valid_frames() {
        let text = f.to_string();
        let ok = decode::<VisitorIn>(&text, VISITOR_TYPES).is_ok() || decode::<ConsoleIn>(&text, CONSOLE_TYPES).is_ok();
        assert!(ok, "{text}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [100, 1_000, 100_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let e = decode::<VisitorIn>(&text, VISITOR_TYPES).unwrap_err();
        assert!(!e.message.is_empty());
        let obj = format!(r#"{{"v":1,"t":"send","client_id":"c","body":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert!(decode::<VisitorIn>(&obj, VISITOR_TYPES).is_err());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_both(&String::from_utf8_lossy(&bytes));
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
        decode_both(&v.to_string());
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        which in 0usize..14,
        field in "[a-z_]{1,12}",
        replacement in prop_oneof![
            any_json(),
            (0usize..200_000).prop_map(|n| json!("x".repeat(n))),
            Just(json!("\u{0}\u{feff}\u{202e}")),
            Just(json!(u64::MAX)),
            Just(json!(-1)),
        ],
        drop_field in any::<bool>(),
    ) {
        let mut f = valid_frames()[which].clone();
        let m = f.as_object_mut().unwrap();
        let key = if m.contains_key(&field) { field } else { m.keys().nth(which % m.len()).unwrap().clone() };
        if drop_field { m.remove(&key); } else { m.insert(key, replacement); }
        decode_both(&f.to_string());
    }

    #[test]
    fn screen_headers_round_trip_and_short_frames_are_refused(
        kind in any::<u8>(),
        seq in any::<u32>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        cut in 0usize..HEADER_LEN,
    ) {
        let frame = encode(kind, seq, &body);
        prop_assert_eq!(header(&frame), Some((kind, seq)));
        prop_assert_eq!(header(&frame[..cut]), None);
    }

    #[test]
    fn the_url_rule_never_panics_is_idempotent_and_bounded(
        url in prop_oneof![
            ".{0,200}",
            "(https?://)?[a-z.]{0,20}(:[0-9]{0,6})?(/[^?#]{0,20})?(\\?[^#]{0,60})?(#.{0,20})?",
        ],
        keep in prop::collection::vec("[a-z#]{1,6}", 0..3),
    ) {
        let once = mask_url(&url, &keep);
        prop_assert_eq!(mask_url(&once, &keep), once.clone(), "masking twice changes nothing");
        prop_assert!(once.len() <= url.len() * 10 + 16, "{} bytes from {}", once.len(), url.len());
    }
}
