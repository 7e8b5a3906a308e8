//! The files of `deploy/` stay true to the binary: every `chatcast` command
//! line in the systemd unit, the Dockerfile and the compose file is accepted by
//! the real argument parser, every `CHATCAST_*` variable they set is one the
//! server reads, and nginx accepts `deploy/nginx.conf` (`nginx -t`) and serves
//! a real node through it with the two other nodes dead. Docker cannot run
//! here, so the images themselves are not built.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the binary with `args` and `--help` appended: clap refuses an unknown
/// subcommand or flag before it gets to `--help`, so exit 0 means every name
/// is known. (Flag names, not values: a value is checked when the server starts.)
fn accepted(args: &[String], from: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatcast")).args(args).arg("--help").output().unwrap();
    assert!(
        out.status.success(),
        "{from}: `chatcast {}` is not a command line chatcast accepts:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON array after `key` on each line of `text` that has one (`command: [...]`, `CMD [...]`).
fn arrays(text: &str, key: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(key))
        .filter_map(|rest| serde_json::from_str::<Vec<String>>(rest.trim()).ok())
        .collect()
}

/// The settings the server reads from the environment: `CHATCAST_` + each
/// field of `Settings`, and the few variables of the binary itself.
fn known_variables() -> Vec<String> {
    let settings = serde_json::to_value(chatcast_server::Settings::default()).unwrap();
    let mut known: Vec<String> = settings.as_object().unwrap().keys().map(|k| format!("CHATCAST_{}", k.to_uppercase())).collect();
    known.extend(["CHATCAST_ADMIN_EMAIL", "CHATCAST_ADMIN_PASSWORD", "CHATCAST_LOG", "CHATCAST_CONFIG"].map(String::from));
    known
}

/// Every `CHATCAST_*` name in `text`.
fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("CHATCAST_") {
        let name: String = rest[i..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
        rest = &rest[i + name.len()..];
        // `CHATCAST_*` in prose names no variable.
        if name.len() > "CHATCAST_".len() {
            out.push(name);
        }
    }
    out
}

#[test]
fn every_command_line_of_deploy_is_one_chatcast_accepts() {
    let compose = deploy("docker-compose.yml");
    let commands = arrays(&compose, "command:");
    let nodes: Vec<&Vec<String>> = commands.iter().filter(|c| c.first().is_some_and(|s| s == "serve")).collect();
    assert_eq!(nodes.len(), 3, "three nodes in the compose file: {commands:?}");
    for c in &nodes {
        for flag in ["--listen", "--database-url", "--redis-url"] {
            assert!(c.iter().any(|a| a == flag), "a node is started with {flag}: {c:?}");
        }
        accepted(c, "docker-compose.yml");
    }

    let unit = deploy("chatcast.service");
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert!(words.next().unwrap().ends_with("/chatcast"));
    accepted(&words.map(String::from).collect::<Vec<_>>(), "chatcast.service");

    let dockerfile = deploy("Dockerfile");
    assert_eq!(arrays(&dockerfile, "ENTRYPOINT"), vec![vec!["chatcast".to_owned()]]);
    let cmd = arrays(&dockerfile, "CMD").pop().expect("a CMD");
    accepted(&cmd, "Dockerfile");

    // A control: a misspelt flag is refused, so the check above can fail.
    let out = Command::new(env!("CARGO_BIN_EXE_chatcast")).args(["serve", "--redis-uri", "x", "--help"]).output().unwrap();
    assert!(!out.status.success(), "an unknown flag is refused");
}

#[test]
fn every_setting_deploy_names_is_one_the_server_reads() {
    let known = known_variables();
    assert!(known.contains(&"CHATCAST_REDIS_URL".to_owned()) && known.contains(&"CHATCAST_CLUSTER_NAME".to_owned()));
    for file in ["docker-compose.yml", "chatcast.service", "Dockerfile", "README.md"] {
        for v in variables(&deploy(file)) {
            assert!(known.contains(&v), "deploy/{file} names {v}, which chatcast does not read");
        }
    }
    assert!(variables("set CHATCAST_PUBLIC_ORIGINS and CHATCAST_NOPE").contains(&"CHATCAST_NOPE".to_owned()));
    assert!(!known.contains(&"CHATCAST_NOPE".to_owned()), "a control: an unknown name is caught");
}

fn nginx() -> PathBuf {
    if let Ok(p) = std::env::var("CHATCAST_TEST_NGINX") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).find(|p| p.is_file()));
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file())).unwrap_or_else(|| {
        panic!("nginx is needed to check deploy/nginx.conf: run scripts/test (it installs it) or set CHATCAST_TEST_NGINX")
    })
}

/// `deploy/nginx.conf` with its literal ports 8080 (public), 8081, 8082,
/// 8083 (the nodes) replaced by `ports`, in one pass (a port put in must not
/// be rewritten by the next replacement, e.g. 38081 by the one of 8081).
fn with_ports(conf: &str, ports: [u16; 4]) -> String {
    let literals = ["8080", "8081", "8082", "8083"];
    let mut out = String::new();
    let mut rest = conf;
    while !rest.is_empty() {
        match literals.iter().position(|l| rest.starts_with(l)) {
            Some(i) => {
                out.push_str(&ports[i].to_string());
                rest = &rest[literals[i].len()..];
            }
            None => {
                let c = rest.chars().next().unwrap();
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A scratch prefix for nginx (logs/ and temp/ in it) holding `conf`; returns it and the config's path.
fn nginx_prefix(conf: &str) -> (tempfile::TempDir, PathBuf) {
    let prefix = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(prefix.path().join("logs")).unwrap();
    std::fs::create_dir_all(prefix.path().join("temp")).unwrap();
    let file = prefix.path().join("nginx.conf");
    std::fs::write(&file, conf).unwrap();
    (prefix, file)
}

#[test]
fn nginx_accepts_the_shipped_config() {
    let conf = with_ports(&deploy("nginx.conf"), [free_port(), free_port(), free_port(), free_port()]);
    let (prefix, file) = nginx_prefix(&conf);
    let out = Command::new(nginx()).arg("-t").arg("-p").arg(prefix.path()).arg("-c").arg(&file).output().unwrap();
    assert!(out.status.success(), "nginx -t refuses deploy/nginx.conf:\n{}", String::from_utf8_lossy(&out.stderr));
    // The WebSocket location upgrades: what every socket needs.
    assert!(conf.contains("proxy_set_header Upgrade $http_upgrade;") && conf.contains("location /ws/"));
    // A control: the replacement leaves none of the shipped ports, and keeps a port it put in whole.
    // (Whole numbers: a free port such as 18081 holds "8081" and is fine.)
    let numbers: Vec<&str> = conf.split(|c: char| !c.is_ascii_digit()).collect();
    assert!(!["8080", "8081", "8082", "8083"].iter().any(|p| numbers.contains(p)), "{conf}");
    assert_eq!(with_ports("listen 8080; server 8081 8082 8083;", [38081, 8082, 1, 2]), "listen 38081; server 8082 1 2;");
}

/// Kills the processes of a test however it ends.
struct Reap(Vec<std::process::Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SIGTERM first: nginx's master then stops its workers too.
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        }
        for c in &mut self.0 {
            for _ in 0..50 {
                if c.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET path` over HTTP/1.1 on `port`; the status and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// The shipped config serving: one real node behind it and the two others
/// dead (nothing listens on their ports). Every request is answered — nginx
/// skips the dead nodes — and the node sees it as forwarded (`/metrics`,
/// served only to direct requests from loopback, is refused through nginx).
#[test]
fn nginx_serves_through_the_shipped_config_and_skips_dead_nodes() {
    let nginx = nginx();
    let data = tempfile::tempdir().unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_chatcast"));
    node.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data.path());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CHATCAST_")) {
        node.env_remove(k);
    }
    let node = node
        .env("CHATCAST_TRUSTED_PROXIES", "127.0.0.1")
        .env("CHATCAST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut procs = Reap(vec![node]);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(procs.0[0].stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().strip_prefix("chatcast listening on http://").unwrap_or_else(|| panic!("{line:?}"));
    let node_port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();

    let public = free_port();
    let conf = with_ports(&deploy("nginx.conf"), [public, node_port, free_port(), free_port()]);
    let (prefix, file) = nginx_prefix(&conf);
    // In the foreground; as root, the workers stay root so that they can use the scratch prefix.
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let globals = if root { "daemon off; user root;" } else { "daemon off;" };
    let child = Command::new(&nginx).arg("-p").arg(prefix.path()).arg("-c").arg(&file).args(["-g", globals]).spawn().unwrap();
    procs.0.push(child);
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", public)).is_err() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "nginx did not listen on {public}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Round robin over three nodes, two of them dead: every request still gets the live one.
    for i in 0..6 {
        assert_eq!(get(public, "/healthz"), (200, "ok".to_owned()), "request {i} through nginx");
    }
    // A control: the dead nodes were in the rotation, and refused.
    let log = std::fs::read_to_string(prefix.path().join("logs/error.log")).unwrap();
    assert!(log.contains("Connection refused"), "nginx tried the dead nodes: {log}");
    assert_eq!(get(node_port, "/metrics").0, 200, "direct from loopback");
    assert_eq!(get(public, "/metrics").0, 404, "through nginx: X-Forwarded-For reaches the node");
    drop(procs);
    drop(prefix);
}
