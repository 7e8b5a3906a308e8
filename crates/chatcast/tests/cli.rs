//! The `chatcast` command line of SPEC §8, run as a real process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn chatcast(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chatcast"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CHATCAST_SKIP_WEB_BUILD", "1")
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Starts `chatcast serve` on a free port; returns the child and its base URL.
fn serve(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatcast"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("CHATCAST_ADMIN_EMAIL", "root@example.com")
        .env("CHATCAST_ADMIN_PASSWORD", "root-password")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let url = line.strip_prefix("chatcast listening on ").expect(&line).to_owned();
    (child, url)
}

#[test]
fn site_add_prints_the_key_last_and_site_list_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&chatcast(
        dir.path(),
        &["site", "add", "--name", "Shop", "--origin", "https://shop.example", "--origin", "http://localhost:3000"],
    ));
    let key = out.lines().last().unwrap();
    assert!(key.starts_with("site_"), "{out}");
    let list = stdout(&chatcast(dir.path(), &["site", "list"]));
    assert!(list.contains(key) && list.contains("https://shop.example") && list.contains("http://localhost:3000"), "{list}");

    let bad = chatcast(dir.path(), &["site", "add", "--name", "Bad", "--origin", "shop.example"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an origin"));
}

#[test]
fn user_add_rejects_duplicates_and_short_passwords() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&chatcast(dir.path(), &["user", "add", "--email", "c@example.com", "--password", "long-enough"]));
    let dup = chatcast(dir.path(), &["user", "add", "--email", "c@example.com", "--password", "long-enough"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let short = chatcast(dir.path(), &["user", "add", "--email", "d@example.com", "--password", "short"]);
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
}

#[tokio::test]
async fn commands_work_while_the_server_runs_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path());
    assert_eq!(reqwest::get(format!("{url}/healthz")).await.unwrap().status(), 200);

    // A user added by the CLI can log in at once, without a restart.
    stdout(&chatcast(
        dir.path(),
        &["user", "add", "--email", "late@example.com", "--password", "late-password", "--role", "admin"],
    ));
    let c = reqwest::Client::new();
    let res = c
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"email": "late@example.com", "password": "late-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();

    // A site added by the CLI shows in the running server.
    let out = stdout(&chatcast(dir.path(), &["site", "add", "--name", "Live", "--origin", "https://live.example"]));
    let key = out.lines().last().unwrap().to_owned();
    let sites: serde_json::Value =
        c.get(format!("{url}/api/sites")).header("Cookie", cookie).send().await.unwrap().json().await.unwrap();
    assert!(sites.as_array().unwrap().iter().any(|s| s["key"] == key.as_str()));

    // The env admin exists.
    let res = c
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"email": "root@example.com", "password": "root-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    // Storage was flushed: the WAL was folded back into the database file.
    let wal = dir.path().join("chatcast.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn site_add_says_what_is_wrong_with_its_input() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--name", "   ", "--origin", "https://a.example"], "site name is empty"),
        (vec!["--name", "Shop", "--origin", "https://a.example:99999"], "65535"),
        (vec!["--name", "Shop", "--origin", ""], "origin is empty"),
        (vec!["--name", "Shop", "--origin", "https://a.example", "--origin", "https://A.example/"], "listed twice"),
    ] {
        let mut all = vec!["site", "add"];
        all.extend(args);
        let out = chatcast(dir.path(), &all);
        assert!(!out.status.success(), "{all:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    // Nothing was created by the refused commands.
    assert!(!stdout(&chatcast(dir.path(), &["site", "list"])).contains("Shop"));
    // An origin another site has is refused, naming that site (positive control: the first is added).
    assert!(chatcast(dir.path(), &["site", "add", "--name", "First", "--origin", "https://a.example"]).status.success());
    let out = chatcast(
        dir.path(),
        &["site", "add", "--name", "Second", "--origin", "https://b.example", "--origin", "https://A.example"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already belongs to site `First`"), "{err}");
    assert!(!stdout(&chatcast(dir.path(), &["site", "list"])).contains("Second"));
}

#[test]
fn site_add_prints_the_embed_snippet_with_the_servers_public_origin() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chatcast"))
        .args(["site", "add", "--name", "Shop", "--origin", "https://shop.example", "--data-dir"])
        .arg(dir.path())
        .env("CHATCAST_PUBLIC_ORIGINS", "https://chat.example.com")
        .output()
        .unwrap();
    let text = stdout(&out);
    let key = text.lines().last().unwrap();
    let snippet = format!("<script src=\"https://chat.example.com/widget.js\" data-site=\"{key}\" async></script>");
    assert!(text.contains(&snippet), "{text}");
    assert!(!text.contains("SERVER"), "no placeholder: {text}");
    // Without public_origins: the address it listens on, and a word about it.
    let text = stdout(&chatcast(dir.path(), &["site", "add", "--name", "Other", "--origin", "https://other.example"]));
    assert!(text.contains("src=\"http://127.0.0.1:8080/widget.js\"") && text.contains("set public_origins"), "{text}");
}

#[tokio::test]
async fn user_commands_end_sessions_of_a_running_server_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path());
    stdout(&chatcast(dir.path(), &["user", "add", "--email", "kim@example.com", "--password", "kim-password"]));
    let c = reqwest::Client::new();
    let login = |password: &'static str| {
        c.post(format!("{url}/api/login")).json(&serde_json::json!({"email": "kim@example.com", "password": password}))
    };
    let res = login("kim-password").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let me = |cookie: String| c.get(format!("{url}/api/me")).header("Cookie", cookie);
    assert_eq!(me(cookie.clone()).send().await.unwrap().status(), 200);

    let list = stdout(&chatcast(dir.path(), &["user", "list"]));
    assert!(list.lines().any(|l| l.contains("kim@example.com") && l.contains("consultant") && l.contains("enabled")), "{list}");

    // Disabled from another process: the server refuses the cookie at once.
    stdout(&chatcast(dir.path(), &["user", "disable", "--email", "kim@example.com"]));
    assert_eq!(me(cookie).send().await.unwrap().status(), 401);
    assert_eq!(login("kim-password").send().await.unwrap().status(), 403);
    assert!(stdout(&chatcast(dir.path(), &["user", "list"])).contains("disabled"));
    stdout(&chatcast(dir.path(), &["user", "enable", "--email", "kim@example.com"]));
    stdout(&chatcast(dir.path(), &["user", "passwd", "--email", "kim@example.com", "--password", "kim-new-password"]));
    assert_eq!(login("kim-password").send().await.unwrap().status(), 401);
    assert_eq!(login("kim-new-password").send().await.unwrap().status(), 200);
    stdout(&chatcast(dir.path(), &["user", "role", "--email", "kim@example.com", "--role", "admin"]));
    assert!(
        stdout(&chatcast(dir.path(), &["user", "list"])).lines().any(|l| l.contains("kim@example.com") && l.contains("admin"))
    );
    stdout(&chatcast(dir.path(), &["user", "remove", "--email", "kim@example.com"]));
    assert_eq!(login("kim-new-password").send().await.unwrap().status(), 401);

    // Errors say what is wrong.
    let nobody = chatcast(dir.path(), &["user", "disable", "--email", "nobody@example.com"]);
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account has the email"));
    let last = chatcast(dir.path(), &["user", "disable", "--email", "root@example.com"]);
    assert!(String::from_utf8_lossy(&last.stderr).contains("last enabled admin"), "{}", String::from_utf8_lossy(&last.stderr));
    let _ = child.kill();
}

#[test]
fn site_rename_and_remove_say_what_is_wrong_and_take_the_transcripts_along() {
    let dir = tempfile::tempdir().unwrap();
    // A server makes the demo site (and shows the commands work beside it).
    let (mut server, _) = serve(dir.path());
    let out = stdout(&chatcast(dir.path(), &["site", "add", "--name", "Old name", "--origin", "https://old.example"]));
    let key = out.lines().last().unwrap().to_owned();

    let blank = chatcast(dir.path(), &["site", "rename", "--key", &key, "--name", "   "]);
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("site name"), "{}", String::from_utf8_lossy(&blank.stderr));
    let unknown = chatcast(dir.path(), &["site", "rename", "--key", "nope", "--name", "X"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no site has the key `nope`"));
    stdout(&chatcast(dir.path(), &["site", "rename", "--key", &key, "--name", "New name"]));
    let list = stdout(&chatcast(dir.path(), &["site", "list"]));
    assert!(list.lines().any(|l| l.contains(&key) && l.contains("New name")), "{list}");

    // The demo site stays while the demo is served.
    let demo = list.lines().find(|l| l.contains("this server's own origin")).expect("the demo site").split('\t').nth(1).unwrap();
    let refused = chatcast(dir.path(), &["site", "remove", "--key", demo]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("demo = false"), "{}", String::from_utf8_lossy(&refused.stderr));

    // Removed: gone from the list, its origin free for another site.
    let removed = stdout(&chatcast(dir.path(), &["site", "remove", "--key", &key]));
    assert!(removed.contains("removed site New name"), "{removed}");
    assert!(!stdout(&chatcast(dir.path(), &["site", "list"])).contains(&key));
    stdout(&chatcast(dir.path(), &["site", "add", "--name", "Again", "--origin", "https://old.example"]));
    let twice = chatcast(dir.path(), &["site", "remove", "--key", &key]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("no site has the key"));
    let _ = server.kill();
}

#[test]
fn user_sites_are_set_by_key_listed_and_wrong_keys_add_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let shop = stdout(&chatcast(dir.path(), &["site", "add", "--name", "Shop", "--origin", "https://shop.example"]));
    let shop = shop.lines().last().unwrap().to_owned();
    let blog = stdout(&chatcast(dir.path(), &["site", "add", "--name", "Blog", "--origin", "https://blog.example"]));
    let blog = blog.lines().last().unwrap().to_owned();

    let wrong = chatcast(dir.path(), &["user", "add", "--email", "a@example.com", "--password", "long-enough", "--site", "nope"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no site has the key `nope`"));
    assert!(!stdout(&chatcast(dir.path(), &["user", "list"])).contains("a@example.com"), "nobody was added");

    let out =
        stdout(&chatcast(dir.path(), &["user", "add", "--email", "a@example.com", "--password", "long-enough", "--site", &shop]));
    assert!(out.contains(&format!("sites {shop}")), "{out}");
    let line = |list: String| list.lines().find(|l| l.contains("a@example.com")).unwrap().to_owned();
    assert!(line(stdout(&chatcast(dir.path(), &["user", "list"]))).ends_with(&shop));

    stdout(&chatcast(dir.path(), &["user", "sites", "--email", "a@example.com", "--site", &shop, "--site", &blog]));
    let l = line(stdout(&chatcast(dir.path(), &["user", "list"])));
    assert!(l.contains(&shop) && l.contains(&blog), "{l}");
    stdout(&chatcast(dir.path(), &["user", "sites", "--email", "a@example.com", "--all"]));
    assert!(line(stdout(&chatcast(dir.path(), &["user", "list"]))).ends_with("all sites"));
    let neither = chatcast(dir.path(), &["user", "sites", "--email", "a@example.com"]);
    assert!(!neither.status.success(), "--site or --all is required");
}
