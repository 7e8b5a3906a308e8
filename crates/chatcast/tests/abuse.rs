//! The real `chatcast` binary under the attacks of issue 11 (docs/security.md),
//! on loopback, bounded in count and time, with the server's own memory read
//! from /proc.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Opens `n` connections that send part of a request's headers and then nothing.
async fn half_open(server: &Server, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        held.push(s);
    }
    held
}

#[tokio::test]
async fn half_open_requests_are_closed_in_time_and_health_answers_meanwhile() {
    let server = Server::start(&[]);
    let start = Instant::now();
    let held = half_open(&server, 500).await;
    // Meanwhile the server answers everyone else at once.
    let mut slowest = Duration::ZERO;
    let mut tasks = Vec::new();
    for mut s in held {
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            // Closed by the server: EOF or a reset; a 408 answer counts as closing too.
            loop {
                match tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(Instant::now()),
                    Ok(Ok(_)) => continue,
                    Err(_) => return None,
                }
            }
        }));
    }
    while start.elapsed() < Duration::from_secs(5) {
        slowest = slowest.max(server.health().await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut last = start;
    for t in tasks {
        let closed = t.await.unwrap().expect("a half-open request was never closed");
        last = last.max(closed);
    }
    let took = last - start;
    println!("500 half-open requests: all closed after {took:?}; slowest health check meanwhile {slowest:?}");
    assert!(took <= Duration::from_secs(45), "closed after {took:?}");
    assert!(slowest < Duration::from_secs(1), "a health check took {slowest:?}");
}

#[tokio::test]
async fn sigterm_stops_the_server_in_time_whatever_clients_hold_open() {
    let mut server = Server::start(&[("CHATCAST_SHUTDOWN_TIMEOUT_SECS", "3")]);
    let _held = half_open(&server, 100).await;
    // An idle keep-alive connection and a visitor socket too.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 512];
    let _ = idle.read(&mut buf).await.unwrap();
    let (_visitor, _) = server.visitor("t").await;
    // A request whose body never comes.
    let mut body = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    body.write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = server.terminate(Duration::from_secs(8));
    println!("SIGTERM with 100 half-open requests, an idle connection, a socket and a stalled body: exited after {took:?}");
}

#[tokio::test]
async fn metrics_answer_this_machine_or_a_token_and_bodies_are_bounded() {
    let server = Server::start(&[("CHATCAST_METRICS_TOKEN", "scrape-secret")]);
    let c = reqwest::Client::new();
    let url = format!("{}/metrics", server.url);
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200, "direct from loopback");
    // Forwarded by a proxy on this machine: the public asked, not this machine.
    let proxied = c.get(&url).header("X-Forwarded-For", "203.0.113.9").send().await.unwrap();
    assert_eq!(proxied.status(), 404);
    let token = c.get(&url).header("X-Forwarded-For", "203.0.113.9").bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(token.status(), 200, "with the token");
    let wrong = c.get(&url).header("X-Forwarded-For", "203.0.113.9").bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 404);

    let huge = format!("{{\"email\":\"{}\",\"password\":\"x\"}}", "a".repeat(1 << 20));
    let res =
        c.post(format!("{}/api/login", server.url)).header("Content-Type", "application/json").body(huge).send().await.unwrap();
    assert_eq!(res.status(), 413, "a 1 MiB login body is refused");
}

#[tokio::test]
async fn what_a_client_sends_cannot_forge_a_log_line() {
    let server = Server::start(&[("CHATCAST_LOG", "info")]);
    let forged = "x%0A2026-12-02T00:00:00.000000Z%20INFO%20chatcast:%20FORGED-LINE";
    let mut c = Client::connect(
        &format!("ws://{}/ws/visitor?site={forged}", server.addr),
        http::Request::builder().header("Origin", SITE_ORIGIN),
    )
    .await;
    assert_eq!(c.closed_with(5).await, 4004);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log_text();
    assert!(log.contains("FORGED-LINE"), "the refusal was logged (positive control): {log}");
    assert!(!log.lines().any(|l| l.starts_with("2026-12-02T00:00:00")), "a forged line: {log}");
}

/// Bytes that do not compress (a fixed xorshift stream): memory, not deflate, is what is measured.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A screen frame of `len` body bytes.
fn screen_frame(kind: u8, seq: u32, len: usize) -> Vec<u8> {
    chatcast_protocol::screen::encode(kind, seq, &noise(len, seq as u64 + 1))
}

fn stopper() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))
}

#[tokio::test]
async fn concurrent_wrong_logins_are_refused_before_hashing_and_the_real_user_gets_in() {
    let server = Server::start(&[]);
    let base = server.rss_mib();
    let stop = stopper();
    let peak = server.peak_rss(stop.clone());
    let url = server.url.clone();
    let attack = tokio::spawn(async move {
        let client = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
        let tries = (0..200).map(|i| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let body = serde_json::json!({"email": ADMIN_EMAIL, "password": format!("wrong-{i}")});
                client.post(format!("{url}/api/login")).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        });
        let mut statuses = Vec::new();
        for t in tries.collect::<Vec<_>>() {
            statuses.push(t.await.unwrap());
        }
        statuses
    });
    // While it runs, the real admin logs in from another address.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let (status, cookie) = server.login("127.0.0.3", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let real = t.elapsed();
    let statuses = attack.await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.await.unwrap();
    assert_eq!(status, 200, "the real user gets in");
    assert!(cookie.is_some());
    assert!(real < Duration::from_secs(3), "the real user waited {real:?}");
    let refused = statuses.iter().filter(|&&s| s == 429 || s == 503).count();
    let wrong = statuses.iter().filter(|&&s| s == 401).count();
    assert!(wrong >= 1, "some attempts were checked (positive control): {statuses:?}");
    assert!(refused >= 150, "most are refused before hashing: {refused} of 200 ({wrong} checked)");
    assert_eq!(refused + wrong, 200, "every attempt answered: {statuses:?}");
    let growth = peak - base;
    eprintln!("200 wrong logins: {refused} refused, {wrong} checked, real login {real:?}, RSS {base:.0} → peak {peak:.0} MiB");
    assert!(growth <= 200.0, "RSS grew {growth:.0} MiB");
}

#[tokio::test]
async fn a_broadcast_that_ignores_keyframe_requests_is_ended_and_holds_bounded_memory() {
    let server = Server::start(&[]);
    let (_, cookie) = server.login("127.0.0.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (mut console, mut visitor, _vid, mut screen) = server.live_broadcast(&cookie.unwrap()).await;
    assert!(screen.send_binary(screen_frame(1, 0, 1024)).await);
    let base = server.rss_mib();
    let stop = stopper();
    let peak = server.peak_rss(stop.clone());
    let mut sent = 0;
    for seq in 1..=600u32 {
        if !screen.send_binary(screen_frame(2, seq, 1 << 20)).await {
            break;
        }
        sent += 1;
    }
    // The visitor was asked for a keyframe (the soft bound), then told the broadcast ended, and why.
    visitor.recv_type("keyframe_request").await;
    let stopped = visitor.recv_type("screencast_stop").await;
    assert_eq!(stopped["reason"], "too_much_data");
    let notice = console.recv_type("screencast_notice").await;
    assert_eq!(notice["reason"], "too_much_data", "{notice}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.await.unwrap();
    eprintln!("{sent} × 1 MiB deltas sent before the screen socket closed; RSS {base:.0} → peak {peak:.0} MiB");
    assert!(sent < 600, "the server stopped taking them");
    assert!(peak - base <= 150.0, "RSS grew {:.0} MiB", peak - base);
    // The server is fine: a new broadcast can start (the visitor consented before).
    server.health().await;
}

#[tokio::test]
async fn a_viewer_that_never_reads_holds_bounded_memory_and_is_resynced() {
    let server = Server::start(&[]);
    let (_, cookie) = server.login("127.0.0.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cookie = cookie.unwrap();
    let (_console, _visitor, vid, mut screen) = server.live_broadcast(&cookie).await;
    assert!(screen.send_binary(screen_frame(1, 0, 1024)).await);
    let mut viewer = server.plain_console(&cookie).await;
    viewer.recv_type("snapshot").await;
    viewer.send(serde_json::json!({"t": "watch", "visitor_id": vid})).await;
    let base = server.rss_mib();
    let stop = stopper();
    let peak = server.peak_rss(stop.clone());
    const N: u32 = 300;
    for seq in 1..=N {
        assert!(screen.send_binary(screen_frame(1, seq, 4 << 20)).await, "keyframe {seq} taken");
    }
    // The frames reached the server (the health check queues behind nothing).
    server.health().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.await.unwrap();
    eprintln!("{N} × 4 MiB keyframes to a viewer that does not read: RSS {base:.0} → peak {peak:.0} MiB");
    assert!(peak - base <= 250.0, "RSS grew {:.0} MiB", peak - base);
    // Reading again, the viewer catches up to the latest keyframe, skipping what it missed.
    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(f) = viewer.next_frame_within(10).await else { break };
        if f.opcode() == yawc::OpCode::Binary {
            let seq = u32::from_be_bytes(f.payload()[1..5].try_into().unwrap());
            seqs.push(seq);
            if seq == N {
                break;
            }
        }
    }
    eprintln!("reading again, the viewer got {} frames, the last the latest keyframe: {seqs:?}", seqs.len());
    assert_eq!(seqs.last(), Some(&N), "resynced to the latest keyframe: got {seqs:?}");
    assert!(seqs.len() < 40, "it skipped what it could not take: {} frames", seqs.len());
}

#[tokio::test]
async fn a_message_flood_from_one_visitor_stores_little_and_grows_nothing() {
    let server = Server::start(&[]);
    let (mut v, vid) = server.visitor("tab-flood").await;
    let before = server.data_bytes();
    let start = Instant::now();
    let (mut sent, mut stored_acks, mut code) = (0, 0, None);
    'flood: for i in 0..5000 {
        let msg =
            serde_json::json!({"t": "send", "client_id": format!("c_{i}"), "body": format!("flood {i} {}", "x".repeat(200))});
        if !v.try_send(msg).await || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        sent += 1;
        // Read what came back so far (a reset connection loses what is unread).
        while let Some(f) = v.poll_frame().await {
            match f.opcode() {
                yawc::OpCode::Close => {
                    code = f.close_code().map(u16::from);
                    break 'flood;
                }
                yawc::OpCode::Text if serde_json::from_slice::<serde_json::Value>(f.payload()).is_ok_and(|m| m["t"] == "ack") => {
                    stored_acks += 1
                }
                _ => {}
            }
        }
    }
    let code = match code {
        Some(c) => c,
        None => v.closed_with(10).await,
    };
    let stored = count_stored(&server, &vid).await;
    let growth = server.data_bytes().saturating_sub(before) as f64 / 1048576.0;
    eprintln!(
        "{sent} messages sent as fast as possible: {stored} stored ({stored_acks} acks read), closed with {code}, data dir +{growth:.1} MiB"
    );
    assert_eq!(code, 4029);
    assert!((1..=100).contains(&stored), "{stored} stored (the first ones are: positive control)");
    assert!(growth <= 20.0, "data dir grew {growth:.1} MiB");
}

/// A visitor's messages stored on the server, read from its database file.
async fn count_stored(server: &Server, visitor_id: &str) -> usize {
    let db =
        chatcast_server::storage::open(&format!("sqlite://{}", server.dir.path().join("chatcast.db").display())).await.unwrap();
    db.messages(visitor_id, 100_000).await.unwrap().len()
}

#[tokio::test]
async fn new_visitors_from_one_address_are_bounded_and_health_answers_throughout() {
    let server = Server::start(&[]);
    let (addr, key) = (server.addr, server.site_key.clone());
    let stop = stopper();
    let flag = stop.clone();
    let url = server.url.clone();
    // Health from another address, every 100 ms, while the flood runs.
    let health = tokio::spawn(async move {
        let client = reqwest::Client::builder().local_address("127.0.0.9".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
        let mut slowest = Duration::ZERO;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            assert_eq!(client.get(format!("{url}/healthz")).send().await.unwrap().status(), 200);
            slowest = slowest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slowest
    });
    let start = Instant::now();
    let (mut welcomed, mut refused) = (0, 0);
    let mut tries = Vec::new();
    for i in 0..2000 {
        let key = key.clone();
        tries.push(tokio::spawn(async move {
            let mut c = Client::connect(
                &format!("ws://{addr}/ws/visitor?site={key}"),
                http::Request::builder().header("Origin", SITE_ORIGIN),
            )
            .await;
            c.send(serde_json::json!({"t": "hello", "tab_id": format!("t{i}"), "page": {"url": "http://shop.test:8000/", "title": "x"}}))
                .await;
            let f = c.next_frame_within(10).await;
            f.map(|f| serde_json::from_slice::<serde_json::Value>(f.payload()).map(|v| v["t"] == "welcome").unwrap_or(false))
        }));
        // Spread over ~20 s at most, as fast as the machine goes.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for t in tries {
        match t.await.unwrap() {
            Some(true) => welcomed += 1,
            _ => refused += 1,
        }
    }
    let took = start.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let slowest = health.await.unwrap();
    eprintln!(
        "2000 new visitors from one address in {took:?}: {welcomed} welcomed, {refused} refused; slowest health {slowest:?}"
    );
    assert!(took < Duration::from_secs(30));
    assert!((1..=300).contains(&welcomed), "{welcomed} created");
    assert!(slowest < Duration::from_secs(1), "health took {slowest:?}");
}
