//! The master of `-W` mode: a single-threaded poll(2) loop that never touches traffic.
//! It binds every listener once and hands the sockets to each worker (fork + exec of the
//! same binary, fds inherited), runs `program` sections, serves the Master CLI (`-S`),
//! reloads on `reload`/SIGUSR2/SIGHUP (new worker first, old one soft-stopped once the new
//! one is ready), replaces a crashed worker, reaps every child and logs each exit.
//!
//! It starts no thread, so forking is safe; children exec at once (`sys::spawn`).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli::{self, CliAddr, CliLevel, MasterCliSpec};
use crate::link::{self, Decoder, Frame};
use crate::mcli::{self, MasterCmd, ProcRow, ProcSnapshot, Severity, Target};
pub use crate::program::ProgramSpec;
use crate::program::{self, AfterExit, Leaving, Program};
use crate::sys;

/// How long a new worker has to report ready before the reload is declared failed.
/// Why: loading big configs (maps, many servers) takes seconds; a minute is a hang.
pub const WORKER_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopping worker may drain when no `hard-stop-after` is set, before SIGKILL.
/// Why: a master stop must end; long-lived connections get this much to finish.
pub const STOP_DRAIN_MAX: Duration = Duration::from_secs(30);

/// How long a forwarded command may wait for its worker's answer.
/// Why: a wedged worker must not hold a CLI session forever.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// Master CLI sessions open at once; more are closed at accept.
/// Why: each holds buffers; 256 operators at once is far above real use.
pub const SESSIONS_MAX: usize = 256;

/// A non-interactive session with nothing to wait for is closed after this much silence.
/// Why: HAProxy's CLI default; a stuck client must not hold one of [`SESSIONS_MAX`] slots.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The same for an interactive (`prompt`) session, where a human types.
/// Why: long enough for a person reading output, bounded so leaked sessions go away.
pub const SESSION_INTERACTIVE_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Bytes buffered from one session before a complete line must appear.
/// Why: a line longer than the CLI limit is refused, not buffered without end.
pub const SESSION_INPUT_BYTES_MAX: usize = mcli::LINE_BYTES_MAX + 1024;

/// Bytes of answers buffered for a session that does not read them.
/// Why: a big `show stat` fits; a client that never reads is dropped.
pub const SESSION_OUTPUT_BYTES_MAX: usize = 64 << 20;

/// Listen backlog of each listening socket (HAProxy uses maxconn; the kernel caps it at
/// somaxconn). Why: bursts during a reload queue here instead of being refused.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Longest poll sleep: children are reaped at least this often even if a SIGCHLD is lost.
/// Why: a safety net only; signals normally wake the loop at once.
pub const POLL_INTERVAL_MAX: Duration = Duration::from_millis(500);

/// How often a worker may be replaced quickly: after a crash within this time of its start,
/// the next replacement waits with exponential back-off (`program::backoff`).
/// Why: a worker that dies at start would otherwise be forked in a tight loop.
pub const WORKER_STABLE_AFTER: Duration = Duration::from_secs(10);

/// Lines of startup messages kept for a `reload` answer.
/// Why: the answer quotes them; a config with thousands of warnings is cut.
pub const RELOAD_LOG_LINES_MAX: usize = 1000;

const _: () = assert!(SESSION_INPUT_BYTES_MAX > mcli::LINE_BYTES_MAX);

/// What the master needs from a loaded configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MasterConfig {
    /// `program` sections.
    pub programs: Vec<ProgramSpec>,
    /// Every TCP listening address of the config, bound once by the master.
    pub listeners: Vec<SocketAddr>,
    /// `hard-stop-after`: an old worker still draining after this is killed.
    pub hard_stop_after: Option<Duration>,
    /// `mworker-max-reloads`: an old worker that survived more reloads gets SIGTERM.
    pub max_reloads: Option<u32>,
    /// Warnings printed at load, quoted in the `reload` answer.
    pub startup_warnings: Vec<String>,
}

/// Loads the configuration; `Err` holds the messages saying why it is invalid.
pub type Loader<'a> = &'a dyn Fn() -> Result<MasterConfig, Vec<String>>;

/// The command that becomes a worker. Production: this binary with the same arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// File to exec.
    pub program: PathBuf,
    /// argv, `argv[0]` included.
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// `/proc/self/exe` with this process's own arguments: the worker is the same binary,
    /// told apart by [`link::ENV_WORKER`].
    pub fn current_exe() -> Self {
        Self {
            program: PathBuf::from("/proc/self/exe"),
            args: std::env::args_os().collect(),
        }
    }
}

/// Runs the master with the production worker command. Returns when every child is gone.
pub fn run(opts: &cli::Options, load: Loader<'_>) -> ExitCode {
    run_with(opts, load, &WorkerCommand::current_exe())
}

/// Runs the master with `worker` as the worker command (tests give a stand-in).
pub fn run_with(opts: &cli::Options, load: Loader<'_>, worker: &WorkerCommand) -> ExitCode {
    let mut m = match Master::start(opts, load, worker) {
        Ok(m) => m,
        Err(msg) => {
            eprintln!("{}", mcli::log_line(Severity::Alert, std::process::id(), &msg));
            return ExitCode::from(1);
        }
    };
    m.run_loop()
}

enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn fd(&self) -> RawFd {
        match self {
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Tcp(s) => s.as_raw_fd(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(b),
            Conn::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(b),
            Conn::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum CliListener {
    Unix(UnixListener, PathBuf, CliLevel),
    Tcp(TcpListener, CliLevel),
}

impl CliListener {
    fn fd(&self) -> RawFd {
        match self {
            CliListener::Unix(l, ..) => l.as_raw_fd(),
            CliListener::Tcp(l, _) => l.as_raw_fd(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Worker { req: u32, since: Instant },
    Reload,
}

struct Session {
    id: u64,
    conn: Conn,
    level: CliLevel,
    interactive: bool,
    /// Default target set by a bare `@...`; `None` = the master.
    target: Option<Target>,
    input: Vec<u8>,
    output: Vec<u8>,
    queue: VecDeque<mcli::Command>,
    in_line: bool,
    lines: u32,
    /// Last byte read or written: idle sessions are closed.
    active: Instant,
    waiting: Option<Wait>,
    eof: bool,
    closing: bool,
    dead: bool,
}

struct Worker {
    pid: i32,
    link: UnixStream,
    decoder: Decoder,
    out: Vec<u8>,
    link_open: bool,
    ready: bool,
    leaving: bool,
    started: Instant,
    reloads: u32,
    /// Forwarded requests in order: (request id, session id).
    pending: VecDeque<(u32, u64)>,
    term_at: Option<Instant>,
    kill_at: Option<Instant>,
}

/// A worker being started (first start, reload, or replacement) and who waits for it.
struct Pending {
    pid: i32,
    hard: bool,
    waiters: Vec<u64>,
    deadline: Instant,
    new_cfg: Option<MasterConfig>,
    added: Vec<SocketAddr>,
    log: Vec<String>,
}

struct Stopping {
    hard: bool,
}

struct Master<'a> {
    pid: u32,
    opts: &'a cli::Options,
    load: Loader<'a>,
    worker_cmd: &'a WorkerCommand,
    started: Instant,
    cfg: MasterConfig,
    listeners: Vec<(SocketAddr, TcpListener)>,
    clis: Vec<CliListener>,
    sessions: Vec<Session>,
    next_session: u64,
    workers: Vec<Worker>,
    programs: Vec<Program>,
    leaving_programs: Vec<Leaving>,
    reloads: u32,
    failed_reloads: u32,
    pending: Option<Pending>,
    queued_reload: Option<(bool, Vec<u64>)>,
    worker_failures: u32,
    worker_restart_at: Option<Instant>,
    stopping: Option<Stopping>,
    stop_kill_at: Option<Instant>,
    signal_pipe: std::fs::File,
    next_req: u32,
    capture: Option<Vec<String>>,
}

fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let l = TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    sys::set_backlog(l.as_raw_fd(), LISTEN_BACKLOG)?;
    Ok(l)
}

fn bind_cli(spec: &MasterCliSpec) -> Result<CliListener, String> {
    match &spec.addr {
        CliAddr::Tcp(a) => {
            let l = TcpListener::bind(a).map_err(|e| format!("cannot bind master CLI {a}: {e}"))?;
            l.set_nonblocking(true)
                .map_err(|e| format!("master CLI {a}: {e}"))?;
            Ok(CliListener::Tcp(l, spec.level))
        }
        CliAddr::Unix(path) => {
            use std::os::unix::fs::FileTypeExt;
            if let Ok(md) = std::fs::symlink_metadata(path) {
                if md.file_type().is_socket() {
                    let _ = std::fs::remove_file(path);
                }
            }
            let l = UnixListener::bind(path)
                .map_err(|e| format!("cannot bind master CLI {}: {e}", path.display()))?;
            l.set_nonblocking(true)
                .map_err(|e| format!("master CLI {}: {e}", path.display()))?;
            if let Some(mode) = spec.mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| format!("chmod {}: {e}", path.display()))?;
            }
            let uid = match &spec.user {
                None => None,
                Some(u) => Some(
                    sys::lookup_user(u)
                        .ok()
                        .flatten()
                        .ok_or_else(|| format!("master CLI: unknown user '{u}'"))?
                        .0,
                ),
            };
            let gid = match &spec.group {
                None => None,
                Some(g) => Some(
                    sys::lookup_group(g)
                        .ok()
                        .flatten()
                        .ok_or_else(|| format!("master CLI: unknown group '{g}'"))?,
                ),
            };
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(path, uid, gid)
                    .map_err(|e| format!("chown {}: {e}", path.display()))?;
            }
            Ok(CliListener::Unix(l, path.clone(), spec.level))
        }
    }
}

fn notify_systemd(msg: &str) {
    let Some(sock) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(d) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = sock.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(a) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = d.send_to_addr(msg.as_bytes(), &a);
        }
    } else {
        let _ = d.send_to(msg.as_bytes(), PathBuf::from(sock));
    }
}

fn prefix_text(t: Target) -> String {
    match t {
        Target::Master => "@master".into(),
        Target::Relative(n) => format!("@{n}"),
        Target::Pid(p) => format!("@!{p}"),
    }
}

impl<'a> Master<'a> {
    fn start(
        opts: &'a cli::Options,
        load: Loader<'a>,
        worker_cmd: &'a WorkerCommand,
    ) -> Result<Self, String> {
        let pid = std::process::id();
        debug_assert!(opts.master_worker);
        let signal_pipe =
            std::fs::File::from(sys::install_master_signals().map_err(|e| format!("signal set-up: {e}"))?);
        let cfg = match load() {
            Ok(c) => c,
            Err(msgs) => {
                for m in &msgs {
                    eprintln!("{}", mcli::log_line(Severity::Alert, pid, m));
                }
                return Err("Fatal errors found in configuration.".into());
            }
        };
        let mut listeners = Vec::new();
        for a in &cfg.listeners {
            let l = bind_listener(*a)
                .map_err(|e| format!("Starting proxy: cannot bind socket ({e}) for [{a}]"))?;
            listeners.push((*a, l));
        }
        let mut clis = Vec::new();
        for spec in &opts.master_cli {
            clis.push(bind_cli(spec)?);
        }
        // `-D`: leave the foreground once everything that can fail at start-up has been
        // checked (the shell sees config and bind errors), before any child exists.
        let pid = if opts.daemon && !opts.foreground {
            sys::daemonize().map_err(|e| format!("cannot go daemon: {e}"))?;
            std::process::id()
        } else {
            pid
        };
        if let Some(p) = &opts.pidfile {
            std::fs::write(p, format!("{pid}\n"))
                .map_err(|e| format!("cannot create pidfile {}: {e}", p.display()))?;
        }
        let now = Instant::now();
        let mut m = Master {
            pid,
            opts,
            load,
            worker_cmd,
            started: now,
            cfg: cfg.clone(),
            listeners,
            clis,
            sessions: Vec::new(),
            next_session: 1,
            workers: Vec::new(),
            programs: Vec::new(),
            leaving_programs: Vec::new(),
            reloads: 0,
            failed_reloads: 0,
            pending: None,
            queued_reload: None,
            worker_failures: 0,
            worker_restart_at: None,
            stopping: None,
            stop_kill_at: None,
            signal_pipe,
            next_req: 0,
            capture: None,
        };
        for w in &cfg.startup_warnings {
            m.log(Severity::Warning, w);
        }
        for spec in cfg.programs {
            m.programs.push(Program::new(spec, now));
        }
        m.start_due_programs(now);
        m.begin_worker(now, false, Vec::new(), None, Vec::new(), Vec::new())
            .map_err(|e| format!("cannot start the worker: {e}"))?;
        Ok(m)
    }

    fn log(&mut self, sev: Severity, msg: &str) {
        let line = mcli::log_line(sev, self.pid, msg);
        eprintln!("{line}");
        if let Some(c) = &mut self.capture {
            if c.len() < RELOAD_LOG_LINES_MAX {
                c.push(line);
            }
        }
    }

    // ----- workers -----

    fn spawn_worker(&mut self, now: Instant) -> io::Result<i32> {
        let (mine, theirs) = UnixStream::pair()?;
        let listen: Vec<(SocketAddr, RawFd)> =
            self.listeners.iter().map(|(a, l)| (*a, l.as_raw_fd())).collect();
        let env = vec![
            (link::ENV_WORKER.to_string(), "1".to_string()),
            (link::ENV_LISTEN_FDS.to_string(), link::format_listen_fds(&listen)),
            (link::ENV_MASTER_FD.to_string(), theirs.as_raw_fd().to_string()),
        ];
        let mut pass: Vec<RawFd> = listen.iter().map(|(_, f)| *f).collect();
        pass.push(theirs.as_raw_fd());
        let spec = sys::ExecSpec::new(&self.worker_cmd.program, &self.worker_cmd.args, &env, None, pass)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let pid = sys::spawn(&spec)?;
        drop(theirs);
        mine.set_nonblocking(true)?;
        self.workers.push(Worker {
            pid,
            link: mine,
            decoder: Decoder::default(),
            out: Vec::new(),
            link_open: true,
            ready: false,
            leaving: false,
            started: now,
            reloads: 0,
            pending: VecDeque::new(),
            term_at: None,
            kill_at: None,
        });
        self.log(Severity::Notice, &format!("New worker ({pid}) forked"));
        Ok(pid)
    }

    fn begin_worker(
        &mut self,
        now: Instant,
        hard: bool,
        waiters: Vec<u64>,
        new_cfg: Option<MasterConfig>,
        added: Vec<SocketAddr>,
        log: Vec<String>,
    ) -> io::Result<()> {
        debug_assert!(self.pending.is_none());
        debug_assert!(self.stopping.is_none());
        let pid = self.spawn_worker(now)?;
        self.pending = Some(Pending {
            pid,
            hard,
            waiters,
            deadline: now + WORKER_READY_TIMEOUT,
            new_cfg,
            added,
            log,
        });
        Ok(())
    }

    fn worker_ready(&mut self, pid: i32, now: Instant) {
        if let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid) {
            w.ready = true;
        }
        let Some(p) = self.pending.take_if(|p| p.pid == pid) else {
            return;
        };
        self.capture = Some(p.log);
        if let Some(cfg) = p.new_cfg {
            let keep: Vec<SocketAddr> = cfg.listeners.clone();
            self.listeners.retain(|(a, _)| keep.contains(a));
            self.cfg = cfg;
        }
        let hard_stop = self.cfg.hard_stop_after;
        let max_reloads = self.cfg.max_reloads;
        let mut signalled = Vec::new();
        for w in self.workers.iter_mut().filter(|w| w.pid != pid) {
            if !w.leaving {
                w.leaving = true;
                signalled.push((w.pid, if p.hard { libc::SIGTERM } else { libc::SIGUSR1 }));
                if let Some(h) = hard_stop {
                    w.term_at = Some(now + h);
                    w.kill_at = Some(now + h + program::STOP_GRACE);
                }
            }
            w.reloads = w.reloads.saturating_add(1);
            if let Some(max) = max_reloads {
                if w.reloads > max {
                    signalled.push((w.pid, libc::SIGTERM));
                }
            }
        }
        for (wpid, sig) in signalled {
            let _ = sys::kill(wpid, sig);
        }
        debug_assert!(self.workers.iter().filter(|w| !w.leaving).count() <= 1);
        debug_assert!(self.pending.is_none());
        self.log(Severity::Notice, "Loading success.");
        let log = self.capture.take().unwrap_or_default();
        self.answer_reload(&p.waiters, true, &log);
        if self.opts.systemd {
            notify_systemd("READY=1");
        }
        if let Some((hard, waiters)) = self.queued_reload.take() {
            self.start_reload(now, hard, waiters);
        }
    }

    fn answer_reload(&mut self, waiters: &[u64], ok: bool, log: &[String]) {
        let mut text = format!("Success={}\n--\n", u8::from(ok));
        for l in log {
            text.push_str(l);
            text.push('\n');
        }
        for &sid in waiters {
            if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
                if s.waiting == Some(Wait::Reload) {
                    s.waiting = None;
                    push_answer(s, &text);
                }
            }
        }
        for &sid in waiters {
            self.drive(sid, Instant::now());
        }
    }

    fn fail_pending(&mut self, now: Instant, why: &str) {
        let Some(p) = self.pending.take() else {
            return;
        };
        self.capture = Some(p.log);
        self.log(Severity::Alert, why);
        // Listeners bound for the failed config are closed; the running worker keeps its own.
        self.listeners.retain(|(a, _)| !p.added.contains(a));
        if let Some(w) = self.workers.iter_mut().find(|w| w.pid == p.pid) {
            w.leaving = true;
            let _ = sys::kill(p.pid, libc::SIGKILL);
        }
        self.log(Severity::Warning, "Loading failure!");
        let log = self.capture.take().unwrap_or_default();
        if p.new_cfg.is_some() {
            self.failed_reloads = self.failed_reloads.saturating_add(1);
        }
        self.answer_reload(&p.waiters, false, &log);
        if let Some((hard, waiters)) = self.queued_reload.take() {
            self.start_reload(now, hard, waiters);
        }
        self.ensure_worker(now);
    }

    /// Starts a replacement if no current worker runs and none is starting.
    fn ensure_worker(&mut self, now: Instant) {
        if self.stopping.is_some() || self.pending.is_some() {
            return;
        }
        if self.workers.iter().any(|w| !w.leaving) {
            return;
        }
        if self.worker_restart_at.is_none() {
            self.worker_failures = self.worker_failures.saturating_add(1);
            let d = if self.worker_failures <= 1 {
                Duration::ZERO
            } else {
                program::backoff(self.worker_failures - 1)
            };
            if !d.is_zero() {
                self.log(
                    Severity::Warning,
                    &format!(
                        "worker failed {} times in a row, starting a new one in {}s",
                        self.worker_failures,
                        d.as_secs()
                    ),
                );
            }
            self.worker_restart_at = Some(now + d);
        }
    }

    fn start_reload(&mut self, now: Instant, hard: bool, mut waiters: Vec<u64>) {
        if self.stopping.is_some() {
            self.answer_reload(&waiters, false, &[]);
            return;
        }
        if self.pending.is_some() {
            match &mut self.queued_reload {
                Some((h, w)) => {
                    *h |= hard;
                    w.append(&mut waiters);
                }
                None => self.queued_reload = Some((hard, waiters)),
            }
            return;
        }
        self.reloads = self.reloads.saturating_add(1);
        if self.opts.systemd {
            notify_systemd("RELOADING=1");
        }
        self.capture = Some(Vec::new());
        self.log(Severity::Notice, "Reloading configuration.");
        let cfg = match (self.load)() {
            Ok(c) => c,
            Err(msgs) => {
                for m in &msgs {
                    self.log(Severity::Alert, m);
                }
                self.log(Severity::Alert, "config : Fatal errors found in configuration.");
                self.log(Severity::Warning, "Loading failure!");
                self.failed_reloads = self.failed_reloads.saturating_add(1);
                let log = self.capture.take().unwrap_or_default();
                self.answer_reload(&waiters, false, &log);
                if self.opts.systemd {
                    notify_systemd("READY=1");
                }
                return;
            }
        };
        for w in &cfg.startup_warnings {
            self.log(Severity::Warning, w);
        }
        let mut added = Vec::new();
        let mut bind_err = None;
        for a in &cfg.listeners {
            if self.listeners.iter().any(|(b, _)| b == a) {
                continue;
            }
            match bind_listener(*a) {
                Ok(l) => {
                    self.listeners.push((*a, l));
                    added.push(*a);
                }
                Err(e) => {
                    bind_err = Some(format!("Starting proxy: cannot bind socket ({e}) for [{a}]"));
                    break;
                }
            }
        }
        if let Some(e) = bind_err {
            self.listeners.retain(|(a, _)| !added.contains(a));
            self.log(Severity::Alert, &e);
            self.log(Severity::Warning, "Loading failure!");
            self.failed_reloads = self.failed_reloads.saturating_add(1);
            let log = self.capture.take().unwrap_or_default();
            self.answer_reload(&waiters, false, &log);
            return;
        }
        self.reconcile_programs(&cfg.programs, now);
        let log = self.capture.take().unwrap_or_default();
        self.capture = Some(Vec::new());
        match self.begin_worker(now, hard, waiters.clone(), Some(cfg), added.clone(), Vec::new()) {
            Ok(()) => {
                let mut l = log;
                l.append(&mut self.capture.take().unwrap_or_default());
                if let Some(p) = &mut self.pending {
                    p.log = l;
                }
            }
            Err(e) => {
                self.capture = Some(log);
                self.listeners.retain(|(a, _)| !added.contains(a));
                self.log(Severity::Alert, &format!("cannot fork a new worker: {e}"));
                self.log(Severity::Warning, "Loading failure!");
                self.failed_reloads = self.failed_reloads.saturating_add(1);
                let log = self.capture.take().unwrap_or_default();
                self.answer_reload(&waiters, false, &log);
            }
        }
    }

    // ----- programs -----

    fn start_program(&mut self, i: usize, now: Instant) {
        let Some(p) = self.programs.get_mut(i) else {
            return;
        };
        match p.start(now) {
            Ok(pid) => {
                let msg = format!("New program '{}' ({pid}) forked", p.spec.name);
                self.log(Severity::Notice, &msg);
            }
            Err(e) => {
                let d = p.start_failed(now);
                let name = p.spec.name.clone();
                self.log(Severity::Alert, &e.to_string());
                self.log(
                    Severity::Warning,
                    &format!("program '{name}' will be started again in {}s", d.as_secs()),
                );
            }
        }
    }

    fn start_due_programs(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.programs.len() {
            let due = self.programs[i].pid.is_none() && self.programs[i].restart_at.is_some_and(|t| t <= now);
            if due {
                self.start_program(i, now);
            }
        }
    }

    fn stop_program(&mut self, p: Program, now: Instant, grace: Duration) {
        if let Some(pid) = p.pid {
            let _ = sys::kill(pid, libc::SIGTERM);
            self.leaving_programs.push(Leaving {
                name: p.spec.name,
                pid,
                started: p.started,
                reloads: p.reloads,
                kill_at: now + grace,
            });
        }
    }

    fn reconcile_programs(&mut self, specs: &[ProgramSpec], now: Instant) {
        let mut old: Vec<Program> = std::mem::take(&mut self.programs);
        let mut next = Vec::with_capacity(specs.len());
        for spec in specs {
            match old.iter().position(|p| p.spec.name == spec.name) {
                Some(i) => {
                    let mut p = old.swap_remove(i);
                    if p.pid.is_some() && p.kept_by(spec) {
                        p.reloads = p.reloads.saturating_add(1);
                        p.spec = spec.clone();
                        next.push(p);
                    } else {
                        self.stop_program(p, now, program::STOP_GRACE);
                        next.push(Program::new(spec.clone(), now));
                    }
                }
                None => next.push(Program::new(spec.clone(), now)),
            }
        }
        for p in old {
            self.stop_program(p, now, program::STOP_GRACE);
        }
        self.programs = next;
        self.start_due_programs(now);
    }

    // ----- children -----

    fn reap(&mut self, now: Instant) {
        while let Some((pid, st)) = sys::reap_one() {
            self.child_exited(pid, st, now);
        }
    }

    fn child_exited(&mut self, pid: i32, st: sys::ExitStatus, now: Instant) {
        let reason = st.reason();
        let code = st.code;
        if let Some(i) = self.workers.iter().position(|w| w.pid == pid) {
            let w = self.workers.remove(i);
            for (_, sid) in &w.pending {
                self.deliver(*sid, String::new(), now);
            }
            if self.pending.as_ref().is_some_and(|p| p.pid == pid) {
                let why = format!("New worker ({pid}) exited with code {code} ({reason})");
                self.fail_pending(now, &why);
            } else if w.leaving {
                self.log(
                    Severity::Warning,
                    &format!("Former worker ({pid}) exited with code {code} ({reason})"),
                );
            } else {
                let sev = if code < 128 {
                    Severity::Warning
                } else {
                    Severity::Alert
                };
                self.log(
                    sev,
                    &format!("Current worker ({pid}) exited with code {code} ({reason})"),
                );
                if now.saturating_duration_since(w.started) >= WORKER_STABLE_AFTER {
                    self.worker_failures = 0;
                }
            }
            self.ensure_worker(now);
            return;
        }
        if let Some(i) = self.programs.iter().position(|p| p.pid == Some(pid)) {
            let name = self.programs[i].spec.name.clone();
            self.log(
                Severity::Alert,
                &format!("Current program '{name}' ({pid}) exited with code {code} ({reason})"),
            );
            let after = self.programs[i].exited(code, now);
            if self.stopping.is_some() {
                self.programs[i].restart_at = None;
            } else if let AfterExit::RestartIn(d) = after {
                let n = self.programs[i].failures;
                self.log(
                    Severity::Warning,
                    &format!(
                        "program '{name}' failed {n} time(s) in a row, starting it again in {}s",
                        d.as_secs()
                    ),
                );
            }
            return;
        }
        if let Some(i) = self.leaving_programs.iter().position(|p| p.pid == pid) {
            let p = self.leaving_programs.remove(i);
            self.log(
                Severity::Warning,
                &format!(
                    "Former program '{}' ({pid}) exited with code {code} ({reason})",
                    p.name
                ),
            );
            return;
        }
        self.log(
            Severity::Warning,
            &format!("Process {pid} exited with code {code} ({reason})"),
        );
    }

    // ----- stop -----

    fn begin_stop(&mut self, hard: bool, now: Instant) {
        if let Some(s) = &self.stopping {
            if s.hard || !hard {
                return;
            }
        }
        if self.stopping.is_none() {
            self.log(Severity::Warning, "Exiting Master process...");
            if self.opts.systemd {
                notify_systemd("STOPPING=1");
            }
        }
        self.stopping = Some(Stopping { hard });
        if self.pending.is_some() {
            self.fail_pending(now, "reload aborted: the master is stopping");
        }
        if let Some((_, waiters)) = self.queued_reload.take() {
            self.answer_reload(&waiters, false, &[]);
        }
        let drain = if hard {
            program::STOP_GRACE
        } else {
            self.cfg.hard_stop_after.unwrap_or(STOP_DRAIN_MAX)
        };
        for w in &mut self.workers {
            let _ = sys::kill(w.pid, if hard { libc::SIGTERM } else { libc::SIGUSR1 });
            w.leaving = true;
        }
        let grace = if hard {
            Duration::from_secs(1)
        } else {
            program::STOP_GRACE
        };
        for p in std::mem::take(&mut self.programs) {
            self.stop_program(p, now, grace);
        }
        for p in &mut self.leaving_programs {
            let _ = sys::kill(p.pid, libc::SIGTERM);
            p.kill_at = p.kill_at.min(now + grace);
        }
        self.stop_kill_at = Some(now + drain);
    }

    fn children_left(&self) -> bool {
        !self.workers.is_empty()
            || !self.leaving_programs.is_empty()
            || self.programs.iter().any(|p| p.pid.is_some())
    }

    // ----- timers -----

    fn tick(&mut self, now: Instant) {
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            let pid = self.pending.as_ref().map_or(0, |p| p.pid);
            self.fail_pending(
                now,
                &format!(
                    "New worker ({pid}) not ready after {}s",
                    WORKER_READY_TIMEOUT.as_secs()
                ),
            );
        }
        if self.worker_restart_at.is_some_and(|t| t <= now) {
            self.worker_restart_at = None;
            if self.stopping.is_none() && self.pending.is_none() && !self.workers.iter().any(|w| !w.leaving) {
                if let Err(e) = self.begin_worker(now, false, Vec::new(), None, Vec::new(), Vec::new()) {
                    self.log(Severity::Alert, &format!("cannot fork a new worker: {e}"));
                    self.ensure_worker(now);
                }
            }
        }
        self.start_due_programs(now);
        for p in &mut self.leaving_programs {
            if p.kill_at <= now {
                let _ = sys::kill(p.pid, libc::SIGKILL);
                p.kill_at = now + Duration::from_secs(3600);
            }
        }
        for w in &mut self.workers {
            if w.term_at.is_some_and(|t| t <= now) {
                w.term_at = None;
                let _ = sys::kill(w.pid, libc::SIGTERM);
            }
            if w.kill_at.is_some_and(|t| t <= now) {
                w.kill_at = None;
                let _ = sys::kill(w.pid, libc::SIGKILL);
            }
        }
        if self.stop_kill_at.is_some_and(|t| t <= now) {
            self.stop_kill_at = None;
            for w in &self.workers {
                let _ = sys::kill(w.pid, libc::SIGKILL);
            }
            for p in &self.leaving_programs {
                let _ = sys::kill(p.pid, libc::SIGKILL);
            }
        }
        let expired: Vec<u64> = self
            .sessions
            .iter()
            .filter(|s| match s.waiting {
                Some(Wait::Worker { since, .. }) => now.saturating_duration_since(since) >= FORWARD_TIMEOUT,
                _ => false,
            })
            .map(|s| s.id)
            .collect();
        for s in &mut self.sessions {
            let limit = if s.interactive {
                SESSION_INTERACTIVE_IDLE_TIMEOUT
            } else {
                SESSION_IDLE_TIMEOUT
            };
            if s.waiting.is_none() && now.saturating_duration_since(s.active) >= limit {
                s.dead = true;
            }
        }
        for sid in expired {
            for w in &mut self.workers {
                w.pending.retain(|(_, s)| *s != sid);
            }
            self.deliver(sid, "Timeout waiting for the worker's answer.\n".into(), now);
        }
    }

    fn next_deadline(&self, now: Instant) -> Duration {
        let mut t = now + POLL_INTERVAL_MAX;
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                t = t.min(d);
            }
        };
        consider(self.pending.as_ref().map(|p| p.deadline));
        consider(self.worker_restart_at);
        consider(self.stop_kill_at);
        for p in &self.programs {
            if p.pid.is_none() {
                consider(p.restart_at);
            }
        }
        for p in &self.leaving_programs {
            consider(Some(p.kill_at));
        }
        for w in &self.workers {
            consider(w.term_at);
            consider(w.kill_at);
        }
        t.saturating_duration_since(now)
    }

    // ----- CLI sessions -----

    fn accept(&mut self, i: usize) {
        loop {
            let (conn, level) = match self.clis.get(i) {
                Some(CliListener::Unix(l, _, lvl)) => match l.accept() {
                    Ok((s, _)) => (Conn::Unix(s), *lvl),
                    Err(_) => return,
                },
                Some(CliListener::Tcp(l, lvl)) => match l.accept() {
                    Ok((s, _)) => (Conn::Tcp(s), *lvl),
                    Err(_) => return,
                },
                None => return,
            };
            if self.sessions.len() >= SESSIONS_MAX {
                continue;
            }
            let ok = match &conn {
                Conn::Unix(s) => s.set_nonblocking(true).is_ok(),
                Conn::Tcp(s) => s.set_nonblocking(true).is_ok(),
            };
            if !ok {
                continue;
            }
            let id = self.next_session;
            self.next_session += 1;
            self.sessions.push(Session {
                id,
                conn,
                level,
                interactive: false,
                target: None,
                input: Vec::new(),
                output: Vec::new(),
                queue: VecDeque::new(),
                in_line: false,
                lines: 0,
                active: Instant::now(),
                waiting: None,
                eof: false,
                closing: false,
                dead: false,
            });
        }
    }

    fn session_readable(&mut self, sid: u64, now: Instant) {
        let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) else {
            return;
        };
        let mut buf = [0u8; 16384];
        loop {
            if s.input.len() >= SESSION_INPUT_BYTES_MAX {
                break;
            }
            match s.conn.read(&mut buf) {
                Ok(0) => {
                    s.eof = true;
                    break;
                }
                Ok(n) => {
                    s.input.extend_from_slice(&buf[..n]);
                    s.active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    s.dead = true;
                    return;
                }
            }
        }
        self.drive(sid, now);
    }

    /// Runs queued commands and reads lines until the session waits, closes, or starves.
    fn drive(&mut self, sid: u64, now: Instant) {
        // Bounded: each turn consumes a command or a line; lines are bounded by the input.
        for _ in 0..(mcli::COMMANDS_PER_LINE_MAX * 64) {
            let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) else {
                return;
            };
            if s.dead || s.waiting.is_some() {
                break;
            }
            if let Some(cmd) = s.queue.pop_front() {
                self.execute(sid, cmd, now);
                continue;
            }
            if s.in_line {
                s.in_line = false;
                if s.interactive && !s.closing {
                    let target = s.target;
                    let p = mcli::prompt(self.default_pid(target));
                    if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
                        s.output.extend_from_slice(p.as_bytes());
                    }
                }
                continue;
            }
            if s.closing {
                break;
            }
            if !s.interactive && s.lines > 0 {
                s.closing = true;
                break;
            }
            let line = match s.input.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    let l: Vec<u8> = s.input.drain(..=pos).collect();
                    Some(l)
                }
                None if s.input.len() > mcli::LINE_BYTES_MAX => {
                    s.output
                        .extend_from_slice(b"The command line is too big for the buffer size.\n\n");
                    s.closing = true;
                    break;
                }
                None if s.eof && !s.input.is_empty() => Some(std::mem::take(&mut s.input)),
                None => {
                    if s.eof {
                        s.closing = true;
                    }
                    None
                }
            };
            let Some(line) = line else { break };
            if line.len() > mcli::LINE_BYTES_MAX {
                s.output
                    .extend_from_slice(b"The command line is too big for the buffer size.\n\n");
                s.closing = true;
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            s.queue = mcli::split_line(text).into();
            s.lines = s.lines.saturating_add(1);
            s.in_line = true;
        }
        self.flush(sid);
    }

    fn default_pid(&self, t: Option<Target>) -> Option<i32> {
        match t {
            None | Some(Target::Master) => None,
            Some(Target::Pid(p)) => Some(p),
            Some(Target::Relative(n)) => self.find_worker(Target::Relative(n)),
        }
    }

    fn find_worker(&self, t: Target) -> Option<i32> {
        match t {
            Target::Master => None,
            Target::Relative(1) => self
                .workers
                .iter()
                .find(|w| w.ready && !w.leaving && w.link_open)
                .map(|w| w.pid),
            Target::Relative(_) => None,
            Target::Pid(p) => self
                .workers
                .iter()
                .find(|w| w.pid == p && w.link_open)
                .map(|w| w.pid),
        }
    }

    fn execute(&mut self, sid: u64, cmd: mcli::Command, now: Instant) {
        let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) else {
            return;
        };
        let target = match cmd.target {
            Some(Err(msg)) => {
                push_answer(s, &msg);
                return;
            }
            Some(Ok(t)) => {
                if cmd.text.is_empty() {
                    s.target = if t == Target::Master { None } else { Some(t) };
                    return;
                }
                t
            }
            None => s.target.unwrap_or(Target::Master),
        };
        if target != Target::Master {
            let level = s.level;
            match self.find_worker(target) {
                None => {
                    let msg = mcli::no_target(&prefix_text(target));
                    if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
                        push_answer(s, &msg);
                    }
                }
                Some(pid) => self.forward(sid, pid, level, &cmd.text, now),
            }
            return;
        }
        let mc = mcli::classify(&cmd.text);
        if s.level < mcli::required_level(&mc) {
            push_answer(s, mcli::PERMISSION_DENIED);
            return;
        }
        let answer = match mc {
            MasterCmd::Help => mcli::help_text(),
            MasterCmd::Prompt => {
                s.interactive = !s.interactive;
                String::new()
            }
            MasterCmd::Quit => {
                s.queue.clear();
                s.closing = true;
                s.in_line = false;
                return;
            }
            MasterCmd::ShowCliLevel => format!("{}\n", s.level.as_str()),
            MasterCmd::Operator => {
                if s.level < CliLevel::Operator {
                    mcli::PERMISSION_DENIED.to_string()
                } else {
                    s.level = CliLevel::Operator;
                    String::new()
                }
            }
            MasterCmd::User => {
                s.level = CliLevel::User;
                String::new()
            }
            MasterCmd::ShowVersion => format!("{}\n", env!("CARGO_PKG_VERSION")),
            MasterCmd::Unknown(w) => mcli::unknown_text(&w),
            MasterCmd::ShowCliSockets => self.show_cli_sockets(),
            MasterCmd::ShowProc => self.show_proc(now),
            MasterCmd::Reload | MasterCmd::HardReload => {
                s.waiting = Some(Wait::Reload);
                let hard = mc == MasterCmd::HardReload;
                self.start_reload(now, hard, vec![sid]);
                return;
            }
        };
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
            push_answer(s, &answer);
        }
    }

    fn show_cli_sockets(&self) -> String {
        let mut o = String::from("# socket lvl thr\n");
        for spec in &self.opts.master_cli {
            let addr = match &spec.addr {
                CliAddr::Unix(p) => format!("unix@{}", p.display()),
                CliAddr::Tcp(a @ SocketAddr::V4(_)) => format!("ipv4@{a}"),
                CliAddr::Tcp(a @ SocketAddr::V6(_)) => format!("ipv6@{a}"),
            };
            o.push_str(&format!("{addr} {} all\n", spec.level.as_str()));
        }
        o
    }

    fn show_proc(&self, now: Instant) -> String {
        let secs = |t: Instant| now.saturating_duration_since(t).as_secs();
        let row = |pid: i32, name: &str, reloads: u32, t: Instant| ProcRow {
            pid,
            name: name.to_string(),
            reloads,
            uptime_secs: secs(t),
        };
        let snap = ProcSnapshot {
            master_pid: self.pid as i32,
            master_reloads: self.reloads,
            master_failed_reloads: self.failed_reloads,
            master_uptime_secs: secs(self.started),
            workers: self
                .workers
                .iter()
                .filter(|w| !w.leaving)
                .map(|w| row(w.pid, "worker", w.reloads, w.started))
                .collect(),
            old_workers: self
                .workers
                .iter()
                .filter(|w| w.leaving)
                .map(|w| row(w.pid, "worker", w.reloads, w.started))
                .collect(),
            programs: self
                .programs
                .iter()
                .filter_map(|p| p.pid.map(|pid| row(pid, &p.spec.name, p.reloads, p.started)))
                .collect(),
            old_programs: self
                .leaving_programs
                .iter()
                .map(|p| row(p.pid, &p.name, p.reloads, p.started))
                .collect(),
        };
        mcli::show_proc(&snap, env!("CARGO_PKG_VERSION"))
    }

    fn forward(&mut self, sid: u64, pid: i32, level: CliLevel, line: &str, now: Instant) {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid) else {
            return;
        };
        // One command per request: a `;` that was escaped on the master CLI stays escaped.
        w.out.extend_from_slice(
            &Frame::Request {
                id: req,
                level,
                line: line.replace(';', "\\;"),
            }
            .encode(),
        );
        w.pending.push_back((req, sid));
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
            s.waiting = Some(Wait::Worker { req, since: now });
        }
        self.flush_worker(pid);
    }

    fn deliver(&mut self, sid: u64, text: String, now: Instant) {
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
            if matches!(s.waiting, Some(Wait::Worker { .. })) {
                s.waiting = None;
                push_answer(s, &text);
            }
        }
        self.drive(sid, now);
    }

    fn flush(&mut self, sid: u64) {
        let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) else {
            return;
        };
        while !s.output.is_empty() {
            match s.conn.write(&s.output) {
                Ok(0) => {
                    s.dead = true;
                    break;
                }
                Ok(n) => {
                    s.output.drain(..n);
                    s.active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    s.dead = true;
                    break;
                }
            }
        }
        if s.output.len() > SESSION_OUTPUT_BYTES_MAX {
            s.dead = true;
        }
        if s.closing && s.output.is_empty() && s.waiting.is_none() {
            s.dead = true;
        }
    }

    fn drop_dead_sessions(&mut self) {
        let dead: Vec<u64> = self.sessions.iter().filter(|s| s.dead).map(|s| s.id).collect();
        if dead.is_empty() {
            return;
        }
        for w in &mut self.workers {
            // Their answers will arrive and be dropped: keep the order, mark the session gone.
            for (_, sid) in w.pending.iter_mut() {
                if dead.contains(sid) {
                    *sid = 0;
                }
            }
        }
        self.sessions.retain(|s| !s.dead);
    }

    // ----- worker links -----

    fn flush_worker(&mut self, pid: i32) {
        let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid) else {
            return;
        };
        while !w.out.is_empty() && w.link_open {
            match (&w.link).write(&w.out) {
                Ok(0) => w.link_open = false,
                Ok(n) => {
                    w.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => w.link_open = false,
            }
        }
    }

    fn worker_readable(&mut self, pid: i32, now: Instant) {
        let mut frames = Vec::new();
        {
            let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid) else {
                return;
            };
            let mut buf = [0u8; 65536];
            loop {
                match (&w.link).read(&mut buf) {
                    Ok(0) => {
                        w.link_open = false;
                        break;
                    }
                    Ok(n) => w.decoder.push(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        w.link_open = false;
                        break;
                    }
                }
                loop {
                    match w.decoder.next_frame() {
                        Ok(Some(f)) => frames.push(f),
                        Ok(None) => break,
                        Err(_) => {
                            w.link_open = false;
                            break;
                        }
                    }
                }
                if !w.link_open {
                    break;
                }
            }
        }
        for f in frames {
            match f {
                Frame::Ready => self.worker_ready(pid, now),
                Frame::Response { id, text } => {
                    let sid = self.workers.iter_mut().find(|w| w.pid == pid).and_then(|w| {
                        let pos = w.pending.iter().position(|(r, _)| *r == id)?;
                        w.pending.remove(pos).map(|(_, s)| s)
                    });
                    if let Some(sid) = sid.filter(|s| *s != 0) {
                        self.deliver(sid, text, now);
                    }
                }
                Frame::Request { .. } => {}
            }
        }
        let closed: Vec<u64> = self
            .workers
            .iter_mut()
            .filter(|w| w.pid == pid && !w.link_open)
            .flat_map(|w| w.pending.drain(..).map(|(_, s)| s).collect::<Vec<_>>())
            .collect();
        for sid in closed.into_iter().filter(|s| *s != 0) {
            self.deliver(sid, String::new(), now);
        }
    }

    // ----- the loop -----

    fn handle_signals(&mut self, now: Instant) {
        let bits = sys::take_signals();
        let has = |s: i32| bits & (1u64 << s) != 0;
        if has(libc::SIGQUIT) {
            self.begin_stop(true, now);
        }
        if has(libc::SIGTERM) || has(libc::SIGINT) || has(libc::SIGUSR1) {
            let escalate = self.stopping.is_some() && (has(libc::SIGTERM) || has(libc::SIGINT));
            self.begin_stop(escalate, now);
        }
        if has(libc::SIGUSR2) || has(libc::SIGHUP) {
            self.start_reload(now, false, Vec::new());
        }
    }

    fn run_loop(&mut self) -> ExitCode {
        enum Slot {
            Signal,
            Cli(usize),
            Session(u64),
            Worker(i32),
        }
        let mut drain = [0u8; 256];
        loop {
            let now = Instant::now();
            self.reap(now);
            self.handle_signals(now);
            self.tick(now);
            self.drop_dead_sessions();
            if self.stopping.is_some() && !self.children_left() {
                self.log(Severity::Warning, "All workers exited. Exiting... (0)");
                for l in &self.clis {
                    if let CliListener::Unix(_, p, _) = l {
                        let _ = std::fs::remove_file(p);
                    }
                }
                return ExitCode::SUCCESS;
            }
            let mut fds = vec![sys::poll_fd(self.signal_pipe.as_raw_fd(), sys::POLLIN)];
            let mut slots = vec![Slot::Signal];
            if self.stopping.is_none() {
                for (i, l) in self.clis.iter().enumerate() {
                    fds.push(sys::poll_fd(l.fd(), sys::POLLIN));
                    slots.push(Slot::Cli(i));
                }
            }
            for s in &self.sessions {
                let mut ev = 0;
                if !s.eof && s.input.len() < SESSION_INPUT_BYTES_MAX {
                    ev |= sys::POLLIN;
                }
                if !s.output.is_empty() {
                    ev |= sys::POLLOUT;
                }
                fds.push(sys::poll_fd(s.conn.fd(), ev));
                slots.push(Slot::Session(s.id));
            }
            for w in &self.workers {
                if !w.link_open {
                    continue;
                }
                let mut ev = sys::POLLIN;
                if !w.out.is_empty() {
                    ev |= sys::POLLOUT;
                }
                fds.push(sys::poll_fd(w.link.as_raw_fd(), ev));
                slots.push(Slot::Worker(w.pid));
            }
            let timeout = self.next_deadline(now);
            let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
            if let Err(e) = sys::poll(&mut fds, ms) {
                self.log(Severity::Alert, &format!("poll: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            let now = Instant::now();
            for (fd, slot) in fds.iter().zip(slots) {
                if fd.revents == 0 {
                    continue;
                }
                match slot {
                    Slot::Signal => {
                        // Non-blocking pipe: bounded by its 64 KiB capacity.
                        while let Ok(n) = (&self.signal_pipe).read(&mut drain) {
                            if n < drain.len() {
                                break;
                            }
                        }
                    }
                    Slot::Cli(i) => self.accept(i),
                    Slot::Session(sid) => {
                        if fd.revents & (sys::POLLIN | sys::POLLERR_HUP) != 0 {
                            self.session_readable(sid, now);
                        }
                        self.flush(sid);
                        // Hang-up after the end of input: the peer is gone both ways, and
                        // poll would report it again at once (no busy loop while waiting).
                        if fd.revents & sys::POLLERR_HUP != 0 {
                            if let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid) {
                                if s.eof {
                                    s.dead = true;
                                }
                            }
                        }
                    }
                    Slot::Worker(pid) => {
                        if fd.revents & (sys::POLLIN | sys::POLLERR_HUP) != 0 {
                            self.worker_readable(pid, now);
                        }
                        self.flush_worker(pid);
                    }
                }
            }
        }
    }
}

fn push_answer(s: &mut Session, text: &str) {
    s.output.extend_from_slice(text.as_bytes());
    if !text.is_empty() && !text.ends_with('\n') {
        s.output.push(b'\n');
    }
    s.output.push(b'\n');
}

#[cfg(test)]
mod tests {
    //! End-to-end tests of the master with a stand-in worker: this test binary re-executes
    //! itself (`role_entry`) as the master (under `RINGLB_TEST_ROLE=master`) and as its
    //! workers (recognized by the link's own environment). The real binary's worker mode
    //! is the lead's glue; everything the master does is real here: fork/exec, inherited
    //! listeners, the link, programs, signals, the Master CLI over a unix socket.

    use super::*;
    use std::process::{Child, Command, Stdio};

    const ROLE: &str = "RINGLB_TEST_ROLE";
    const ARGS: &str = "RINGLB_TEST_ARGS";
    const CFG: &str = "RINGLB_TEST_CFG";
    const DRAIN_MS: &str = "RINGLB_TEST_DRAIN_MS";
    const TEST_NAME: &str = "master::tests::role_entry";

    /// Every wait of these tests ends by this deadline.
    const DEADLINE: Duration = Duration::from_secs(20);

    fn self_args() -> Vec<OsString> {
        let exe = std::env::current_exe().expect("test binary path");
        vec![
            exe.into(),
            TEST_NAME.into(),
            "--exact".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ]
    }

    /// The test config: `listen <addr>`, `program <name>|<user>|<group>|<0/1>|<arg>|<arg>...`,
    /// `hard-stop-after <secs>`, `invalid`.
    fn load_test_cfg() -> Result<MasterConfig, Vec<String>> {
        let path = std::env::var(CFG).map_err(|_| vec!["no test config".to_string()])?;
        let text = std::fs::read_to_string(&path).map_err(|e| vec![e.to_string()])?;
        let mut c = MasterConfig::default();
        for (n, line) in text.lines().enumerate() {
            let (kw, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kw {
                "listen" => c
                    .listeners
                    .push(rest.parse().map_err(|_| vec!["bad addr".into()])?),
                "max-reloads" => c.max_reloads = rest.parse().ok(),
                "hard-stop-after" => c.hard_stop_after = Some(Duration::from_secs(rest.parse().unwrap_or(1))),
                "program" => {
                    let f: Vec<&str> = rest.splitn(5, '|').collect();
                    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
                    c.programs.push(ProgramSpec {
                        name: f[0].into(),
                        user: opt(f[1]),
                        group: opt(f[2]),
                        start_on_reload: f[3] == "1",
                        command: f[4].split('|').map(String::from).collect(),
                    });
                }
                "invalid" => {
                    return Err(vec![format!(
                        "config : parsing [{path}:{}] : unknown keyword 'invalid' out of section.",
                        n + 1
                    )])
                }
                _ => {}
            }
        }
        Ok(c)
    }

    fn fake_worker(env: link::WorkerEnv) -> ! {
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            eprintln!("a worker must not inherit NOTIFY_SOCKET");
            std::process::exit(9);
        }
        let stop = link::install_soft_stop().expect("SIGUSR1 handler");
        for (_, fd) in env.listen_fds {
            let l = TcpListener::from(fd);
            std::thread::spawn(move || {
                let _ = l.set_nonblocking(false);
                for c in l.incoming().flatten() {
                    let mut c = c;
                    let _ = write!(c, "HTTP/1.0 200 OK\r\n\r\nworker {}\n", std::process::id());
                }
            });
        }
        let link = std::sync::Arc::new(env.master);
        link.notify_ready().expect("ready");
        let l2 = link.clone();
        std::thread::spawn(move || {
            let _ = l2.serve(|line, level| match line {
                "show info" => format!("Name: ringlb\nPid: {}\n", std::process::id()),
                "show cli level" => format!("{}\n", level.as_str()),
                _ => format!("Unknown command: '{line}'\n"),
            });
            std::process::exit(3);
        });
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let drain: u64 = std::env::var(DRAIN_MS)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_millis(drain));
        std::process::exit(0)
    }

    /// Not a test of its own: the entry point of the re-executed roles (a no-op otherwise).
    #[test]
    fn role_entry() {
        match link::worker_env() {
            Ok(Some(env)) => fake_worker(env),
            Ok(None) => {}
            Err(e) => {
                eprintln!("bad worker env: {e}");
                std::process::exit(2)
            }
        }
        if std::env::var(ROLE).as_deref() != Ok("master") {
            return;
        }
        let args: Vec<String> = std::env::var(ARGS)
            .unwrap_or_default()
            .split('\x1f')
            .map(String::from)
            .collect();
        let opts = cli::parse(args).expect("test command line");
        let worker = WorkerCommand {
            program: std::env::current_exe().expect("test binary path"),
            args: self_args(),
        };
        let code = run_with(&opts, &load_test_cfg, &worker);
        std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
    }

    struct Harness {
        dir: PathBuf,
        master: Child,
        sock: PathBuf,
        log: PathBuf,
    }

    impl Drop for Harness {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("--- master log ---\n{}", self.log_text());
            }
            let _ = self.master.kill();
            let _ = self.master.wait();
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

    fn alive(pid: i32) -> bool {
        // A zombie still answers kill(0); its state in /proc says Z.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(s) => !s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
            Err(_) => false,
        }
    }

    impl Harness {
        fn start(name: &str, cfg: &str, drain_ms: u64) -> Self {
            Self::start_with(name, cfg, drain_ms, "-W", &[])
        }

        fn start_with(name: &str, cfg: &str, drain_ms: u64, mode: &str, env: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir().join(format!("ringlb-master-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            let sock = dir.join("master.sock");
            let log = dir.join("master.log");
            let cfg_path = dir.join("test.cfg");
            std::fs::write(&cfg_path, cfg).expect("write cfg");
            let args = [
                mode,
                "-S",
                sock.to_str().expect("utf-8 path"),
                "-f",
                cfg_path.to_str().expect("utf-8 path"),
                "-p",
                dir.join("pid").to_str().expect("utf-8 path"),
            ]
            .join("\x1f");
            let out = std::fs::File::create(&log).expect("log file");
            let err = out.try_clone().expect("dup log");
            let a = self_args();
            let master = Command::new(&a[0])
                .args(&a[1..])
                .env(ROLE, "master")
                .env(ARGS, args)
                .env(CFG, &cfg_path)
                .env(DRAIN_MS, drain_ms.to_string())
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawn master");
            let h = Harness {
                dir,
                master,
                sock,
                log,
            };
            wait_for("the master socket", || h.sock.exists().then_some(()));
            h
        }

        fn cli(&self, cmd: &str) -> String {
            let mut s = UnixStream::connect(&self.sock).expect("connect master CLI");
            s.set_read_timeout(Some(DEADLINE)).expect("timeout");
            s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
            s.shutdown(std::net::Shutdown::Write).expect("shutdown");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("read answer");
            out
        }

        fn log_text(&self) -> String {
            std::fs::read_to_string(&self.log).unwrap_or_default()
        }

        fn wait_log(&self, needle: &str) {
            wait_for(needle, || self.log_text().contains(needle).then_some(()));
        }

        fn set_cfg(&self, cfg: &str) {
            std::fs::write(self.dir.join("test.cfg"), cfg).expect("write cfg");
        }

        /// (pid, type) of every process line in `show proc`, with the section it is in.
        fn procs(&self) -> Vec<(String, i32, String)> {
            let mut section = String::from("master");
            let mut out = Vec::new();
            for l in self.cli("show proc").lines() {
                if let Some(s) = l.strip_prefix("# ") {
                    section = s.to_string();
                    continue;
                }
                let f: Vec<&str> = l.split_whitespace().collect();
                if let (Some(pid), Some(name)) = (f.first().and_then(|p| p.parse().ok()), f.get(1)) {
                    out.push((section.clone(), pid, name.to_string()));
                }
            }
            out
        }

        fn pid_of(&self, section: &str, name: &str) -> Option<i32> {
            self.procs()
                .into_iter()
                .find(|(s, _, n)| s == section && n == name)
                .map(|(_, p, _)| p)
        }
    }

    #[test]
    fn master_walkthrough() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let whoami_out = std::env::temp_dir().join(format!("ringlb-whoami-{}", std::process::id()));
        let cfg = format!(
            "listen 127.0.0.1:{port}\n\
             program echo|||1|echo|Hello, World!\n\
             program sleeper|||0|sleep|300\n\
             program napper|||1|sleep|301\n\
             program whoami|nobody|nogroup|1|sh|-c|id -un >{0}.tmp; id -gn >>{0}.tmp; mv {0}.tmp {0}; exec sleep 302\n\
             program crasher|||1|sh|-c|exit 3\n",
            whoami_out.display()
        );
        let h = Harness::start("walk", &cfg, 1500);
        // Programs: output shown, exits logged in HAProxy's words, user applied, back-off.
        h.wait_log("Hello, World!");
        h.wait_log("Current program 'echo' (");
        assert!(
            h.log_text().contains("exited with code 0 (Exit)"),
            "{}",
            h.log_text()
        );
        h.wait_log("program 'crasher' failed 2 time(s) in a row, starting it again in 2s");
        let who = wait_for("whoami output", || {
            std::fs::read_to_string(&whoami_out)
                .ok()
                .filter(|s| !s.is_empty())
        });
        let _ = std::fs::remove_file(&whoami_out);
        assert_eq!(who, "nobody\nnogroup\n");
        let pidfile = std::fs::read_to_string(h.dir.join("pid")).expect("pidfile");
        assert_eq!(pidfile.trim().parse::<u32>().ok(), Some(h.master.id()));
        // show proc.
        let w1 = wait_for("a ready worker", || {
            h.cli("@1 show info")
                .contains("Pid: ")
                .then(|| h.pid_of("workers", "worker"))?
        });
        let p = h.cli("show proc");
        assert!(p.starts_with("#<PID>          <type>          <reloads>"), "{p}");
        assert!(p.lines().nth(1).is_some_and(|l| l.contains(" master ")), "{p}");
        for name in ["sleeper", "napper", "whoami"] {
            assert!(h.pid_of("programs", name).is_some(), "{name} in {p}");
        }
        let sleeper = h.pid_of("programs", "sleeper");
        let napper = h.pid_of("programs", "napper");
        // Forwarding, levels.
        assert!(h.cli("@1 show info").contains(&format!("Pid: {w1}\n")));
        assert!(h
            .cli(&format!("@!{w1} show info"))
            .contains(&format!("Pid: {w1}\n")));
        assert!(h
            .cli("@9 show info")
            .contains("Can't find the target PID matching the prefix '@9'"));
        assert_eq!(
            h.cli("@1; show cli level"),
            "admin\n\n",
            "bare @1 sets the target"
        );
        assert_eq!(h.cli("user; @1 show cli level"), "\nuser\n\n", "level forwarded");
        assert!(h.cli("help").contains("show proc"));
        assert_eq!(h.cli("show cli level").trim(), "admin");
        assert_eq!(h.cli("operator; show cli level").trim(), "operator");
        assert_eq!(h.cli("user; show cli level").trim(), "user");
        assert_eq!(h.cli("user; operator").trim(), "Permission denied");
        assert!(h.cli("user; reload").contains("Permission denied"));
        assert!(h.cli("show info").starts_with("Unknown command: 'show'"));
        // Traffic reaches the worker through the master's listener.
        let get = || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(DEADLINE)).ok()?;
            let mut b = String::new();
            s.read_to_string(&mut b).ok()?;
            b.lines().last().map(String::from)
        };
        assert_eq!(get(), Some(format!("worker {w1}")));
        // Reload: new worker, sleeper kept, napper restarted, old worker drains.
        let r = h.cli("reload");
        assert!(r.starts_with("Success=1\n--\n"), "{r}");
        assert!(r.contains("Loading success."), "{r}");
        let w2 = h.pid_of("workers", "worker").expect("new worker");
        assert_ne!(w2, w1);
        assert_eq!(h.pid_of("old workers", "worker"), Some(w1), "old worker draining");
        assert!(h
            .cli(&format!("@!{w1} show info"))
            .contains(&format!("Pid: {w1}\n")));
        assert_eq!(h.pid_of("programs", "sleeper"), sleeper);
        let napper2 = wait_for("napper restarted", || h.pid_of("programs", "napper"));
        assert_ne!(Some(napper2), napper);
        wait_for("old worker gone", || (!alive(w1)).then_some(()));
        assert_eq!(h.pid_of("old workers", "worker"), None);
        h.wait_log(&format!("Former worker ({w1}) exited with code 0 (Exit)"));
        assert_eq!(get(), Some(format!("worker {w2}")));
        // An invalid config keeps the running worker and says why.
        h.set_cfg("invalid\n");
        let r = h.cli("reload");
        assert!(r.starts_with("Success=0\n--\n"), "{r}");
        assert!(r.contains("unknown keyword 'invalid'"), "{r}");
        assert!(r.contains("Loading failure!"), "{r}");
        assert_eq!(h.pid_of("workers", "worker"), Some(w2));
        assert!(h.cli("show proc").contains("2 [failed: 1]"));
        h.set_cfg(&cfg);
        // A crashed worker is replaced.
        sys::kill(w2, libc::SIGKILL).expect("kill worker");
        let w3 = wait_for("replacement worker", || {
            h.pid_of("workers", "worker").filter(|p| *p != w2)
        });
        wait_for("replacement ready", || {
            h.cli("@1 show info")
                .contains(&format!("Pid: {w3}"))
                .then_some(())
        });
        assert!(h
            .log_text()
            .contains(&format!("Current worker ({w2}) exited with code 137 (Killed)")));
        assert_eq!(get(), Some(format!("worker {w3}")));
        // SIGTERM: everything stops, the master last.
        let children: Vec<i32> = h.procs().into_iter().map(|(_, p, _)| p).collect();
        let mut h = h;
        sys::kill(h.master.id() as i32, libc::SIGTERM).expect("kill master");
        let st = wait_for("master exit", || h.master.try_wait().ok().flatten());
        assert!(st.success(), "{st:?}");
        for p in children {
            assert!(!alive(p), "child {p} outlived the master");
        }
        h.wait_log("All workers exited. Exiting... (0)");
        assert!(!h.sock.exists(), "master socket removed");
    }

    #[test]
    fn program_ignoring_sigterm_is_killed_and_reload_keeps_or_restarts() {
        let cfg = "program stubborn|||1|sh|-c|trap '' TERM; while :; do sleep 0.1; done\n";
        let h = Harness::start("stubborn", cfg, 0);
        let pid = wait_for("stubborn started", || h.pid_of("programs", "stubborn"));
        wait_for("worker ready", || {
            h.cli("@1 show info").contains("Pid:").then_some(())
        });
        // A reload restarts it: the old one ignores SIGTERM and is killed after the grace.
        assert!(h.cli("reload").starts_with("Success=1"));
        assert_eq!(h.pid_of("old programs", "stubborn"), Some(pid));
        let t0 = Instant::now();
        wait_for("stubborn killed", || (!alive(pid)).then_some(()));
        let took = t0.elapsed();
        assert!(took <= program::STOP_GRACE + Duration::from_secs(2), "{took:?}");
        h.wait_log(&format!(
            "Former program 'stubborn' ({pid}) exited with code 137 (Killed)"
        ));
    }

    #[test]
    fn hard_stop_after_hard_reload_sighup_and_systemd() {
        let dir = std::env::temp_dir().join(format!("ringlb-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let notify = std::os::unix::net::UnixDatagram::bind(&dir).expect("notify socket");
        notify.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let recv = || {
            let mut b = [0u8; 256];
            let n = notify.recv(&mut b).expect("notify message");
            String::from_utf8_lossy(&b[..n]).into_owned()
        };
        let h = Harness::start_with(
            "hardstop",
            "hard-stop-after 1\n",
            10_000,
            "-Ws",
            &[("NOTIFY_SOCKET", dir.to_str().expect("utf-8 path"))],
        );
        assert_eq!(recv(), "READY=1");
        let w1 = wait_for("worker", || h.pid_of("workers", "worker"));
        // hard-stop-after: the old worker, draining for 10 s, gets SIGTERM after 1 s.
        assert!(h.cli("reload").starts_with("Success=1"));
        assert_eq!(recv(), "RELOADING=1");
        assert_eq!(recv(), "READY=1");
        let t0 = Instant::now();
        h.wait_log(&format!("Former worker ({w1}) exited with code 143 (Terminated)"));
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // hard-reload: the old worker gets SIGTERM at once.
        let w2 = h.pid_of("workers", "worker").expect("worker");
        assert!(h.cli("hard-reload").starts_with("Success=1"));
        h.wait_log(&format!("Former worker ({w2}) exited with code 143 (Terminated)"));
        // SIGHUP reloads too.
        let w3 = h.pid_of("workers", "worker").expect("worker");
        sys::kill(h.master.id() as i32, libc::SIGHUP).expect("SIGHUP");
        wait_for("reload by SIGHUP", || {
            h.pid_of("workers", "worker").filter(|p| *p != w3)
        });
        assert!(h.cli("show proc").contains(" 3 [failed: 0] "));
        let mut h = h;
        sys::kill(h.master.id() as i32, libc::SIGTERM).expect("SIGTERM");
        let mut saw_stopping = false;
        for _ in 0..8 {
            if recv() == "STOPPING=1" {
                saw_stopping = true;
                break;
            }
        }
        assert!(saw_stopping);
        let st = wait_for("master exit", || h.master.try_wait().ok().flatten());
        assert!(st.success(), "{st:?}");
        let _ = std::fs::remove_file(&dir);
    }

    fn fd_count(pid: u32) -> usize {
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
    }

    #[test]
    fn reloads_leak_no_fds_or_children() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cfg = format!("listen 127.0.0.1:{port}\nprogram nap|||1|sleep|60\n");
        let h = Harness::start("leak", &cfg, 0);
        wait_for("worker ready", || {
            h.cli("@1 show info").contains("Pid:").then_some(())
        });
        assert!(h.cli("reload").starts_with("Success=1"));
        wait_for("one worker", || {
            (!h.cli("show proc").contains("# old")).then_some(())
        });
        let before = fd_count(h.master.id());
        for i in 0..30 {
            let r = h.cli("reload");
            assert!(r.starts_with("Success=1"), "reload {i}: {r}");
        }
        wait_for("old workers and programs gone", || {
            (!h.cli("show proc").contains("# old")).then_some(())
        });
        let after = fd_count(h.master.id());
        assert_eq!(before, after, "master fds before and after 30 reloads");
        assert!(h.cli("show proc").contains(" 31 [failed: 0] "));
        // Children are listed per thread (the master runs on the test harness's thread).
        let kids: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", h.master.id()))
            .expect("tasks")
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|c| c.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        assert_eq!(kids.len(), 2, "one worker, one program: {kids:?}");
    }

    #[test]
    fn max_reloads_stops_old_workers() {
        let h = Harness::start("maxreloads", "max-reloads 1\n", 10_000);
        wait_for("worker ready", || {
            h.cli("@1 show info").contains("Pid:").then_some(())
        });
        let w1 = h.pid_of("workers", "worker").expect("worker");
        assert!(h.cli("reload").starts_with("Success=1"));
        let w2 = h.pid_of("workers", "worker").expect("worker");
        assert!(h.cli("reload").starts_with("Success=1"));
        // w1 survived 2 reloads (> 1): SIGTERM; w2 survived 1: still draining.
        h.wait_log(&format!("Former worker ({w1}) exited with code 143 (Terminated)"));
        assert!(alive(w2));
        assert_eq!(h.pid_of("old workers", "worker"), Some(w2));
    }
}
