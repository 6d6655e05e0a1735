//! The real `ringlb` binary's command line: `-c` on valid and invalid configs (errors name file
//! and line, every error of every file is reported), config directories, `-v`/`-vv`, and
//! usage on unknown flags.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ringlb-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write config");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ringlb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringlb"))
        .args(args)
        .output()
        .expect("run ringlb")
}

fn check(paths: &[&Path]) -> Output {
    let mut args = vec!["-c".to_string()];
    for p in paths {
        args.push("-f".into());
        args.push(p.display().to_string());
    }
    Command::new(env!("CARGO_BIN_EXE_ringlb"))
        .args(&args)
        .output()
        .expect("run ringlb")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const VALID: &str = "\
global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server s1 127.0.0.1:8081 check
";

#[test]
fn check_accepts_a_valid_config_and_says_so() {
    let d = TempDir::new("valid");
    let f = d.write("ok.cfg", VALID);
    let o = check(&[&f]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Configuration file is valid\n"
    );
    let q = ringlb(&["-c", "-q", "-f", &f.display().to_string()]);
    assert!(q.status.success());
    assert!(q.stdout.is_empty(), "-q prints nothing on success");
}

#[test]
fn check_reports_every_error_with_file_and_line() {
    let d = TempDir::new("errors");
    let bad = VALID.replace("    maxconn 100\n", "    maxconn 100\n    bogus_global 1\n")
        + "    nonsense_keyword x\n";
    let f = d.write("bad.cfg", &bad);
    let o = check(&[&f]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("bad.cfg:3] : unknown keyword 'bogus_global' in 'global' section"),
        "{out}"
    );
    assert!(
        out.contains("bad.cfg:14] : unknown keyword 'nonsense_keyword' in 'backend' section"),
        "{out}"
    );
    assert!(out.contains("Fatal errors found in configuration."), "{out}");
    assert!(!out.contains("Configuration file is valid"), "{out}");
}

#[test]
fn check_rejects_unimplemented_tls_by_name() {
    let d = TempDir::new("tls");
    let f = d.write(
        "tls.cfg",
        &VALID.replace("bind 127.0.0.1:8080", "bind 127.0.0.1:8443 ssl crt /x.pem"),
    );
    let o = check(&[&f]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("tls.cfg:9]"), "{}", text(&o));
    assert!(
        text(&o).contains("'ssl'") || text(&o).contains("'crt'"),
        "{}",
        text(&o)
    );
}

#[test]
fn check_loads_directories_in_lexical_order_and_several_files() {
    let d = TempDir::new("dir");
    d.write(
        "conf.d/20-be.cfg",
        "backend be\n    mode http\n    timeout connect 1s\n    timeout server 1s\n    server s1 127.0.0.1:8081\n",
    );
    d.write(
        "conf.d/10-fe.cfg",
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n\
         frontend fe\n    bind 127.0.0.1:1\n    default_backend be\n",
    );
    d.write("conf.d/notes.txt", "this is not a config and is not read\n");
    let o = check(&[&d.0.join("conf.d")]);
    assert!(o.status.success(), "{}", text(&o));
    // The same two files given with -f in the wrong order: the frontend's backend is still found
    // (references are checked after every file is read), so this is valid too.
    let o = check(&[&d.0.join("conf.d/20-be.cfg"), &d.0.join("conf.d/10-fe.cfg")]);
    assert!(o.status.success(), "{}", text(&o));
    let o = check(&[&d.0.join("missing.cfg")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("missing.cfg"), "{}", text(&o));
}

#[test]
fn check_expands_environment_and_quotes() {
    let d = TempDir::new("env");
    let f = d.write(
        "env.cfg",
        &VALID.replace("bind 127.0.0.1:8080", "bind \"${RINGLB_TEST_ADDR}\""),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ringlb"))
        .args(["-c", "-f", &f.display().to_string()])
        .env("RINGLB_TEST_ADDR", "127.0.0.1:18080")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let bad = d.write(
        "env2.cfg",
        &VALID.replace("bind 127.0.0.1:8080", "bind \"${RINGLB_TEST_ADDR}\""),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ringlb"))
        .args(["-c", "-f", &bad.display().to_string()])
        .env("RINGLB_TEST_ADDR", "not an address")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("env2.cfg:9]"), "{}", text(&o));
}

#[test]
fn version_and_usage() {
    let o = ringlb(&["-v"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ringlb version "));
    let o = ringlb(&["-vv"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Build options"));
    for args in [&["-x"][..], &["--help"], &["-f"], &[]] {
        let o = ringlb(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Usage : ringlb"),
            "{args:?}"
        );
    }
}

#[test]
fn quickstart_example_is_valid() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.cfg");
    let o = check(&[&f]);
    assert!(o.status.success(), "{}", text(&o));
}
