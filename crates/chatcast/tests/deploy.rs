//! The files of `deploy/` stay true to the binary: every `chatcast` command
//! line in the systemd unit, the Dockerfile and the compose file is accepted by
//! the real argument parser, every `CHATCAST_*` variable they set is one the
//! server reads, and nginx accepts `deploy/nginx.conf` (`nginx -t`). Docker
//! cannot run here, so the images themselves are not built.

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

#[test]
fn nginx_accepts_the_shipped_config() {
    let prefix = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(prefix.path().join("logs")).unwrap();
    std::fs::create_dir_all(prefix.path().join("temp")).unwrap();
    // Free ports instead of 8080–8083, as the browser test does.
    let mut conf = deploy("nginx.conf");
    for p in ["8080", "8081", "8082", "8083"] {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        conf = conf.replace(p, &free.to_string());
    }
    let file = prefix.path().join("nginx.conf");
    std::fs::write(&file, &conf).unwrap();
    let out = Command::new(nginx()).arg("-t").arg("-p").arg(prefix.path()).arg("-c").arg(&file).output().unwrap();
    assert!(out.status.success(), "nginx -t refuses deploy/nginx.conf:\n{}", String::from_utf8_lossy(&out.stderr));
    // The WebSocket location upgrades: what every socket needs.
    assert!(conf.contains("proxy_set_header Upgrade $http_upgrade;") && conf.contains("location /ws/"));
}
