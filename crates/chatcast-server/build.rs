//! Builds the browser code (`web/`, esbuild) into `web/dist`, which the server
//! embeds, so that a plain `cargo run` or `cargo build` from a fresh clone works.
//! Set `CHATCAST_SKIP_WEB_BUILD=1` to use an existing `web/dist` as it is.

use std::path::Path;
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    for p in ["src", "demo", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=CHATCAST_SKIP_WEB_BUILD");
    if std::env::var_os("CHATCAST_SKIP_WEB_BUILD").is_some() && web.join("dist").exists() {
        return;
    }
    if !web.join("node_modules/esbuild").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&web), "npm ci (in web/)");
    }
    run(Command::new("node").arg("build.mjs").current_dir(&web), "node build.mjs (in web/)");
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{what} failed with {s}; Node.js and npm are needed to build the browser code"),
        Err(e) => panic!("could not run {what}: {e}; Node.js and npm are needed to build the browser code"),
    }
}
