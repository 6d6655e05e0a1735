//! The real `ringlb -W` binary: its Master CLI (unix and TCP), levels, `show proc`,
//! pidfile, socket permissions, and a clean stop on SIGTERM. These hold whether or not the
//! worker's data plane is wired (the master's own behaviour only).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every wait in these tests ends by this deadline.
const DEADLINE: Duration = Duration::from_secs(15);

struct Master {
    child: Child,
    dir: PathBuf,
}

impl Drop for Master {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            eprintln!("--- master log ---\n{log}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(name: &str, extra: &[String]) -> Master {
    let dir = std::env::temp_dir().join(format!("ringlb-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("lb.cfg"), "global\n").expect("config");
    let log = std::fs::File::create(dir.join("log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_ringlb"))
        .arg("-W")
        .arg("-f")
        .arg(dir.join("lb.cfg"))
        .arg("-p")
        .arg(dir.join("pid"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn ringlb");
    Master { child, dir }
}

fn exchange(mut s: impl Read + Write, shut: impl FnOnce(&mut dyn Write), cmd: &str) -> String {
    s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
    shut(&mut s);
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

fn unix_cli(path: &Path, cmd: &str) -> String {
    let s = UnixStream::connect(path).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let s2 = s.try_clone().expect("clone");
    exchange(
        s,
        move |_| {
            let _ = s2.shutdown(std::net::Shutdown::Write);
        },
        cmd,
    )
}

fn tcp_cli(port: u16, cmd: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let s2 = s.try_clone().expect("clone");
    exchange(
        s,
        move |_| {
            let _ = s2.shutdown(std::net::Shutdown::Write);
        },
        cmd,
    )
}

fn stop(m: &mut Master) -> ExitStatus {
    let pid = m.child.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(st.success());
    wait_for("master exit", || m.child.try_wait().ok().flatten())
}

#[test]
fn master_cli_unix_socket_levels_and_show_proc() {
    let dir_sock = std::env::temp_dir().join(format!("ringlb-it-sock-{}", std::process::id()));
    let mut m = start("unix", &["-S".into(), format!("{},mode,600", dir_sock.display())]);
    let sock = dir_sock;
    wait_for("master socket", || sock.exists().then_some(()));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sock).expect("socket").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pid: u32 = wait_for("pidfile", || {
        std::fs::read_to_string(m.dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert_eq!(pid, m.child.id(), "the pidfile holds the master's pid");

    let p = unix_cli(&sock, "show proc");
    let mut lines = p.lines();
    assert_eq!(
        lines.next(),
        Some("#<PID>          <type>          <reloads>       <uptime>        <version>      ")
    );
    let master = lines.next().expect("master line");
    assert!(
        master.starts_with(&format!("{pid:<15} master          0 [failed: 0]   0d00h00m")),
        "{master}"
    );
    assert!(p.contains("\n# workers\n") && p.contains("\n# programs\n"), "{p}");
    assert!(p.ends_with("\n\n"), "each answer ends with an empty line");

    let cases: &[(&str, &str)] = &[
        ("show cli level", "admin\n\n"),
        ("operator; show cli level", "\noperator\n\n"),
        ("user; show cli level", "\nuser\n\n"),
        ("user; operator", "\nPermission denied\n\n"),
        ("user; reload", "\nPermission denied\n\n"),
        ("user; hard-reload", "\nPermission denied\n\n"),
        (
            "@!1 show info",
            "Can't find the target PID matching the prefix '@!1'\n\n",
        ),
        (
            "@x show info",
            "Can't find the target PID matching the prefix '@x'\n\n",
        ),
        ("quit; show cli level", ""),
    ];
    for (cmd, want) in cases {
        assert_eq!(&unix_cli(&sock, cmd), want, "{cmd}");
    }
    let help = unix_cli(&sock, "help");
    assert!(help.starts_with("The following commands are valid at this level:\n"));
    for c in [
        "show proc",
        "reload",
        "hard-reload",
        "@<relative pid>",
        "prompt",
        "quit",
    ] {
        assert!(help.contains(&format!("  {c} ")), "{c} in {help}");
    }
    assert!(unix_cli(&sock, "show version").starts_with(env!("CARGO_PKG_VERSION")));
    let s = unix_cli(&sock, "show cli sockets");
    assert!(s.contains(&format!("unix@{} admin all", sock.display())), "{s}");
    // Interactive mode: a prompt after each line, until quit.
    let i = unix_cli(&sock, "prompt\nshow cli level\nquit");
    assert_eq!(i, "\nmaster> admin\n\nmaster> ");
    // Non-interactive: only the first line is run.
    assert_eq!(unix_cli(&sock, "show cli level\nuser"), "admin\n\n");

    let st = stop(&mut m);
    assert!(st.success(), "{st:?}");
    assert!(!sock.exists(), "the master removes its socket");
    let log = std::fs::read_to_string(m.dir.join("log")).expect("log");
    assert!(log.contains("Exiting Master process..."), "{log}");
}

#[test]
fn master_cli_tcp_with_level() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut m = start(
        "tcp",
        &["-S".into(), format!("ipv4@127.0.0.1:{port},level,operator")],
    );
    let answer = wait_for("TCP master CLI", || {
        TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| tcp_cli(port, "show cli level"))
    });
    assert_eq!(answer, "operator\n\n");
    assert_eq!(tcp_cli(port, "operator; show cli level"), "\noperator\n\n");
    let s = tcp_cli(port, "show cli sockets");
    assert!(s.contains(&format!("ipv4@127.0.0.1:{port} operator all")), "{s}");
    let st = stop(&mut m);
    assert!(st.success(), "{st:?}");
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn master_daemon_mode() {
    let sock = std::env::temp_dir().join(format!("ringlb-it-daemon-sock-{}", std::process::id()));
    let mut m = start("daemon", &["-D".into(), "-S".into(), sock.display().to_string()]);
    let st = wait_for("foreground process exit", || m.child.try_wait().ok().flatten());
    assert!(st.success(), "{st:?}");
    let pid: u32 = wait_for("pidfile", || {
        std::fs::read_to_string(m.dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert_ne!(pid, m.child.id(), "the daemon is a new process");
    wait_for("master socket", || sock.exists().then_some(()));
    let p = unix_cli(&sock, "show proc");
    assert!(p.contains(&format!("\n{pid:<15} master ")), "{p}");
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    wait_for("daemon exit", || (!alive(pid)).then_some(()));
    assert!(!sock.exists());
}
