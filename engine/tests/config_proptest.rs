//! Bounded property tests: the config parser never panics and finishes fast on random
//! bytes and on mutated valid configurations.

use engine::config::parse_text;
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// One parse of a few KiB must stay far below this, even in debug builds.
const PARSE_TIME_MAX: Duration = Duration::from_secs(2);

const SEED: &str = "global\n  daemon\n  maxconn 100\n  stats socket ipv4@127.0.0.1:9999 level admin\n  log stdout format raw local0\n\
defaults web\n  mode http\n  timeout client 5s\n  timeout server \"5s\"\n  timeout connect 5000\n  option httpchk GET /h\n\
frontend fe from web\n  bind \"127.0.0.1:${PORT}\" name x\n  acl api path_beg -i /api\n  use_backend be if api || { hdr(host) -m dom x.com }\n\
  use_backend %[req.hdr(host),lower,map(virt@x.map,be)]\n  http-request set-header X-A '%[src]'\n  http-request return status 200 content-type text/plain string ok if { path /ping }\n\
  default_backend be\nbackend be\n  balance random(2)\n  default-server inter 1s\n  server s1 127.0.0.1:1 weight 10 check rise 2 fall 3\n  server-template t 3 a.local:80\n\
.if defined(PORT)\nprogram p\n  command echo \"hi there\"\n  no option start-on-reload\n.endif\n";

fn env(name: &str) -> Option<String> {
    (name == "PORT").then(|| "8080".to_string())
}

fn check(text: &str) {
    let start = Instant::now();
    let _ = parse_text("p.cfg", text, &env);
    assert!(
        start.elapsed() < PARSE_TIME_MAX,
        "parse took {:?}",
        start.elapsed()
    );
}

/// Tokens that exercise the lexer's and parser's special cases when spliced in.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\\",
    "\\x",
    "${",
    "$",
    "#",
    "{",
    "}",
    "!",
    "||",
    "if",
    "unless",
    "%[",
    "]",
    "(",
    ")",
    ",",
    ":",
    "[",
    "@",
    "\n",
    " ",
    "\t",
    "frontend",
    "backend",
    "defaults",
    "from",
    ".if",
    ".endif",
    "server",
    "bind",
    "99999999999999999999",
    "-",
    "ipv6@",
    "unix@",
    "server-template x 10000 a:1",
    "\u{0}",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_configs_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, any::<prop::sample::Index>(), any::<u8>()), 1..12)) {
        let mut text = SEED.as_bytes().to_vec();
        for (pos, op, tok, byte) in edits {
            let at = pos.index(text.len() + 1);
            match op {
                0 => { text.truncate(at); }
                1 => { let t = TOKENS[tok.index(TOKENS.len())]; text.splice(at..at, t.bytes()); }
                2 => { if at < text.len() { text.remove(at); } }
                _ => { if at < text.len() { text[at] = byte; } }
            }
        }
        check(&String::from_utf8_lossy(&text));
    }
}

#[test]
fn seed_config_is_valid() {
    if let Err(d) = parse_text("p.cfg", SEED, &env) {
        panic!(
            "{}",
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        );
    }
}
