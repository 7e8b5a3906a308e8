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
