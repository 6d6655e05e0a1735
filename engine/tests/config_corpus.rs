//! Real-world configurations and the reference documents' snippets.
//!
//! The corpus (`/work/shared/corpus`, see its README) is not part of the repository
//! (licenses): when it is absent the corpus tests print a note and pass.

use engine::config::{load, parse_text, Level};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CORPUS: &str = "/work/shared/corpus";
/// A real config must check well within this (HAProxy takes milliseconds).
const CHECK_TIME_MAX: Duration = Duration::from_secs(5);

fn corpus() -> Option<PathBuf> {
    let p = Path::new(CORPUS);
    if p.join("haproxy26-portable-check.tsv").exists() {
        Some(p.to_path_buf())
    } else {
        eprintln!("note: {CORPUS} not present, corpus test skipped");
        None
    }
}

#[test]
fn portable_configs_haproxy_accepts_are_accepted() {
    let Some(c) = corpus() else { return };
    let tsv = std::fs::read_to_string(c.join("haproxy26-portable-check.tsv")).expect("read tsv");
    let mut rejected = Vec::new();
    let mut total = 0;
    for line in tsv.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(file), Some("0")) = (cols.next(), cols.next()) else {
            continue;
        };
        total += 1;
        let start = Instant::now();
        if let Err(d) = load(&[c.join(file)]) {
            let alerts: Vec<String> = d
                .iter()
                .filter(|d| d.level == Level::Alert)
                .map(|d| d.to_string())
                .collect();
            rejected.push(format!("{file}: {}", alerts.join(" | ")));
        }
        assert!(
            start.elapsed() < CHECK_TIME_MAX,
            "{file} took {:?}",
            start.elapsed()
        );
    }
    assert_eq!(total, 35, "the corpus lists 35 accepted portable configs");
    assert!(rejected.is_empty(), "rejected:\n{}", rejected.join("\n"));
}

#[test]
fn original_configs_never_panic_or_hang() {
    let Some(c) = corpus() else { return };
    let mut n = 0;
    for e in std::fs::read_dir(c.join("configs"))
        .expect("configs dir")
        .flatten()
    {
        let start = Instant::now();
        let _ = load(&[e.path()]);
        assert!(
            start.elapsed() < CHECK_TIME_MAX,
            "{:?} took {:?}",
            e.path(),
            start.elapsed()
        );
        n += 1;
    }
    assert_eq!(n, 58);
}

/// The configuration snippets of /work/shared/reference/*.txt (their line breaks were lost
/// in the copies, restored here), with addresses that need no live host.
#[test]
fn reference_snippets_parse() {
    let snippets = [
        "global\n  master-worker\n\nprogram echo\n  command echo \"Hello, World!\"\n",
        "program echo\n  command echo \"Hello, World!\"\n  user nobody\n  group nogroup\n",
        "global\n  master-worker\n\nprogram mirror\n  command spoa-mirror --runtime 0 --mirror-url http://test.local\n",
        "program dataplaneapi\n  command /usr/local/bin/dataplaneapi --host --port 5555 --haproxy-bin /usr/sbin/haproxy --config-file /etc/haproxy/haproxy.cfg --reload-cmd \"systemctl reload haproxy\" --reload-delay 5 --userlist haproxy-dataplaneapi\n  no option start-on-reload\n\nprogram mirror\n  command spoa-mirror --runtime 0 --mirror-url http://test.local\n",
        "global\n   stats socket /var/run/hapee-1.6/hapee-lb.sock  user hapee-lb  group hapee  mode 660  level admin  expose-fd listeners\n",
        "global\n   stats socket ipv4@127.0.0.1:9999  level admin  expose-fd listeners\n",
        "global\n   stats socket ipv4@*:9999  level admin  expose-fd listeners\n",
        "global\n  stats socket ipv4@127.0.0.1:9999 level admin\n\ndefaults mydefaults\n  log global\n  mode http\n  option httplog\n  option dontlognull\n  timeout connect 10m\n  timeout client 10m\n  timeout server 10m\n\nfrontend myfrontend1\n  bind :80\n  use_backend %[path,map_beg(virt@paths.map)]\n  default_backend webservers\n\nbackend webservers\n  server web1 127.0.0.1:8080\n",
    ];
    for s in snippets {
        if let Err(d) = parse_text("ref.cfg", s, &|_| None) {
            panic!(
                "{s}\n{}",
                d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// The configurations the project's acceptance checks write (`cat >lb.cfg <<CFG` blocks
/// in /work/shared/acceptance/checks/*), with their `$PORT` variables filled in.
#[test]
fn acceptance_check_configs_parse() {
    let dir = Path::new("/work/shared/acceptance/checks");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("note: {} not present, acceptance configs skipped", dir.display());
        return;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let Ok(script) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let mut block: Option<String> = None;
        for line in script.lines() {
            match &mut block {
                None if line.contains("<<CFG") => block = Some(String::new()),
                None => {}
                Some(b) if line == "CFG" => {
                    let cfg = fill_vars(b);
                    if let Err(d) = parse_text("lb.cfg", &cfg, &|_| None) {
                        panic!(
                            "{:?}:\n{cfg}\n{}",
                            e.path(),
                            d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
                        );
                    }
                    n += 1;
                    block = None;
                }
                Some(b) => {
                    b.push_str(line);
                    b.push('\n');
                }
            }
        }
    }
    assert!(n >= 5, "found {n} configs");
}

/// Replaces shell variables (`$FE`, `$BARTMP`) with a port number or a path.
fn fill_vars(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|c| c.is_ascii_uppercase()) {
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(if name == "BARTMP" { "/tmp" } else { "1234" });
        } else {
            out.push(c);
        }
    }
    out
}
