//! The stats sockets: unix and TCP listeners served by ONE control thread of the worker
//! (never an engine thread), HAProxy's CLI protocol on each connection.
//!
//! - Non-interactive by default: the commands of the first line run, each answer followed
//!   by one empty line, then the connection closes. `prompt` keeps it open (`> `).
//! - At most `maxconn` sessions (`stats maxconn`, default 10), each closed after `timeout`
//!   idle (`stats timeout`, default 10s). Beyond HAProxy, which leaves extra connections
//!   waiting in the backlog: when every session is taken, a new connection closes the
//!   session idle the longest, so idle clients cannot lock the socket for the next one.
//! - Garbage-safe: a request over [`crate::split::REQUEST_BYTES_MAX`] gets HAProxy's
//!   "command is too big" answer and the connection closes; reads are bounded per turn;
//!   an answer waiting to be written stops the session from reading more commands.
//! - One `poll(2)` over every socket; `wait` commands are polled, never blocking the thread.
//! - Not supported: `expose-fd listeners` (the master passes listeners itself), abstract
//!   (`abns@`) and inherited (`fd@`) socket addresses, user/group names (the caller resolves
//!   them, see [`SocketSpec::from_config`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::command::Level;
use crate::exec::{self, Context, Pending, Session};
use crate::messages as msg;
use crate::split::{Feed, Splitter};

/// The answer to one forwarded line (master CLI `@1 <cmd>`), see [`exec::answer`].
pub use crate::exec::answer;

/// HAProxy's default `stats maxconn`.
pub const MAXCONN_DEFAULT: usize = 10;

/// Largest `stats maxconn` accepted: each session holds at most a request buffer and an
/// answer, and every session is one poll entry.
pub const MAXCONN_MAX: usize = 1024;

/// HAProxy's default `stats timeout`.
pub const TIMEOUT_DEFAULT: Duration = exec::SESSION_TIMEOUT_DEFAULT;

/// Bytes read from one connection per loop turn: one request buffer, so a flood of input
/// from one client cannot starve the others.
pub const READ_CHUNK_BYTES: usize = crate::split::REQUEST_BYTES_MAX;

/// Unwritten answer bytes above which a session stops running new commands until the
/// client reads (backpressure for `show map` of big maps to a slow reader).
pub const OUTPUT_PENDING_BYTES_MAX: usize = 1 << 20;

/// Longest sleep of the control thread in `poll` when nothing happens: bounds how late it
/// notices a shutdown request and a `wait` or idle deadline.
pub const POLL_INTERVAL_MAX: Duration = Duration::from_millis(50);

/// Where one stats socket listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddrSpec {
    /// A unix socket file (`stats socket /run/haproxy.sock`).
    Unix(PathBuf),
    /// A TCP address (`ipv4@127.0.0.1:9999`, `ipv6@[::1]:9999`).
    Tcp(SocketAddr),
}

/// One `stats socket` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// Where.
    pub addr: SocketAddrSpec,
    /// `level` (default operator).
    pub level: Level,
    /// `mode <octal>` of the unix socket file.
    pub mode: Option<u32>,
    /// `uid` owning the unix socket file (`user` resolved by the caller).
    pub uid: Option<u32>,
    /// `gid` of the unix socket file (`group` resolved by the caller).
    pub gid: Option<u32>,
}

impl SocketSpec {
    /// A socket at `addr` with the default level (operator) and no ownership changes.
    pub fn new(addr: SocketAddrSpec) -> SocketSpec {
        SocketSpec {
            addr,
            level: Level::Operator,
            mode: None,
            uid: None,
            gid: None,
        }
    }
}

/// Why a `stats socket` line cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// An address kind the control thread does not serve (`abns@`, `fd@`, host names...).
    #[error("stats socket {addr}: unsupported address (use a unix path, ipv4@ or ipv6@ with a literal ip)")]
    Unsupported {
        /// The address as written.
        addr: String,
    },
    /// `user`/`group` given by name: the caller must resolve it (`getpwnam` is unsafe FFI).
    #[error("stats socket {addr}: {what} '{name}' must be resolved to a number by the caller")]
    Unresolved {
        /// The address.
        addr: String,
        /// `user` or `group`.
        what: &'static str,
        /// The name.
        name: String,
    },
}

impl SocketSpec {
    /// The spec of a `stats socket` line of the config. `user`/`group` names are looked
    /// up with `resolve_user`/`resolve_group` (numeric ids are taken as they are).
    pub fn from_config(
        s: &engine::config::model::StatsSocket,
        resolve_user: &dyn Fn(&str) -> Option<u32>,
        resolve_group: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<SocketSpec, SpecError> {
        use engine::config::model::CliLevel;
        use engine::config::values::{Address, Host, Port};
        let shown = format!("{:?}", s.addr);
        let addr = match &s.addr {
            Address::Unix(p) => SocketAddrSpec::Unix(PathBuf::from(p)),
            Address::Inet {
                host: Host::Ip(ip),
                port: Port::Fixed(port),
                ..
            } => SocketAddrSpec::Tcp(SocketAddr::new(*ip, *port)),
            Address::Inet {
                host: Host::Any,
                port: Port::Fixed(port),
                ..
            } => SocketAddrSpec::Tcp(SocketAddr::from(([0, 0, 0, 0], *port))),
            _ => return Err(SpecError::Unsupported { addr: shown }),
        };
        let id = |what: &'static str, name: &Option<String>, f: &dyn Fn(&str) -> Option<u32>| match name {
            None => Ok(None),
            Some(n) => {
                n.parse::<u32>()
                    .ok()
                    .or_else(|| f(n))
                    .map(Some)
                    .ok_or_else(|| SpecError::Unresolved {
                        addr: shown.clone(),
                        what,
                        name: n.clone(),
                    })
            }
        };
        Ok(SocketSpec {
            addr,
            level: match s.level {
                CliLevel::User => Level::User,
                CliLevel::Operator => Level::Operator,
                CliLevel::Admin => Level::Admin,
            },
            mode: s.mode,
            uid: id("user", &s.user, resolve_user)?,
            gid: id("group", &s.group, resolve_group)?,
        })
    }
}

impl ServeOptions {
    /// `stats maxconn` / `stats timeout` from the config's global section (defaults when
    /// absent; a maxconn above [`MAXCONN_MAX`] is capped).
    pub fn from_config(g: &engine::config::model::Global) -> ServeOptions {
        ServeOptions {
            maxconn: g.stats_maxconn.map_or(MAXCONN_DEFAULT, |m| {
                usize::try_from(m).unwrap_or(MAXCONN_MAX).clamp(1, MAXCONN_MAX)
            }),
            timeout: g.stats_timeout.unwrap_or(TIMEOUT_DEFAULT),
        }
    }
}

/// `stats maxconn` and `stats timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Most sessions at once (1..=[`MAXCONN_MAX`]).
    pub maxconn: usize,
    /// Idle timeout of a session.
    pub timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            maxconn: MAXCONN_DEFAULT,
            timeout: TIMEOUT_DEFAULT,
        }
    }
}

/// Why the stats sockets could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Binding failed.
    #[error("cannot bind stats socket {addr}: {source}")]
    Bind {
        /// The address or path.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// Setting the unix socket's mode or owner failed.
    #[error("cannot set mode/owner of stats socket {path}: {source}")]
    Permissions {
        /// The path.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// `maxconn` outside 1..=`MAXCONN_MAX`.
    #[error("stats maxconn {maxconn} out of range (1..={max})")]
    Maxconn {
        /// Asked.
        maxconn: usize,
        /// Limit.
        max: usize,
    },
    /// The thread could not be started.
    #[error("cannot start the control thread: {0}")]
    Thread(io::Error),
}

/// A running control thread. Dropping it stops the thread and removes the unix socket
/// files it created.
#[derive(Debug)]
pub struct ControlHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The bound addresses, in the order of the specs (TCP ports resolved when `:0`).
    pub addrs: Vec<SocketAddrSpec>,
    /// (device, inode) of each unix socket file we created: on a reload the next worker
    /// binds the same path anew, and the old one must not remove the new file.
    unix_files: Vec<(PathBuf, u64, u64)>,
}

impl ControlHandle {
    /// Stops the thread and waits for it (at most one poll interval plus the current
    /// command).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        use std::os::unix::fs::MetadataExt;
        for (p, dev, ino) in self.unix_files.drain(..) {
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.dev() == dev && m.ino() == ino) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }

    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
                s.set_nonblocking(true)
            }
            Stream::Unix(s) => s.set_nonblocking(true),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    /// Ends our side, then discards what the client already sent past its last command
    /// (bounded): closing a TCP socket with unread input resets it, and the reset can
    /// destroy the answer before the client reads it.
    fn shutdown_write(&mut self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
        let mut sink = [0u8; 4096];
        for _ in 0..CLOSE_DRAIN_READS_MAX {
            match self.read(&mut sink) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

/// Reads of 4 KiB discarded when closing (see [`Stream::shutdown_write`]): 64 KiB, more
/// than a client pipes after a one-shot command; the rest may be reset.
const CLOSE_DRAIN_READS_MAX: usize = 16;

/// One client connection.
struct Conn {
    stream: Stream,
    session: Session,
    splitter: Splitter,
    /// Input read but not yet fed to the splitter.
    input: Vec<u8>,
    /// Answer bytes not yet written, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    last_active: Instant,
    pending: Option<Pending>,
    /// Close once `out` is written.
    closing: bool,
    /// The client shut its side down.
    eof: bool,
}

impl Conn {
    fn new(stream: Stream, level: Level, timeout: Duration, now: Instant) -> Conn {
        Conn {
            stream,
            session: Session::new(level, timeout),
            splitter: Splitter::new(),
            input: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            last_active: now,
            pending: None,
            closing: false,
            eof: false,
        }
    }

    /// Whether to read more: not at EOF, the answer is not piling up, and at most one
    /// chunk is waiting to be run (a client flooding during a `wait` meets TCP
    /// backpressure instead of growing our buffer).
    fn wants_input(&self) -> bool {
        !self.eof && self.unwritten() < OUTPUT_PENDING_BYTES_MAX && self.input.len() < READ_CHUNK_BYTES
    }

    fn unwritten(&self) -> usize {
        self.out.len().saturating_sub(self.out_pos)
    }

    /// Appends one answer, its empty line and, in prompt mode, the next prompt.
    fn push_answer(&mut self, ctx: &Context, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'\n');
        if !self.closing {
            let p = self.session.prompt(&ctx.info, self.splitter.in_payload());
            self.out.extend_from_slice(p.as_bytes());
        }
    }

    /// Runs as many complete requests from `input` as allowed now.
    fn process(&mut self, ctx: &Context, now: Instant) {
        debug_assert!(self.out_pos <= self.out.len());
        debug_assert!(
            self.input.len() < READ_CHUNK_BYTES * 2,
            "input is read only below one chunk"
        );
        if let Some(p) = &self.pending {
            // The client closed its side: HAProxy stops waiting.
            let done = if self.eof {
                Some(exec::interrupt_wait(ctx, p))
            } else {
                exec::poll_wait(ctx, p, now)
            };
            match done {
                Some(answer) => {
                    self.pending = None;
                    self.last_active = now;
                    self.push_answer(ctx, &answer);
                }
                None => return,
            }
        }
        while !self.closing && self.pending.is_none() && self.unwritten() < OUTPUT_PENDING_BYTES_MAX {
            let (used, feed) = self.splitter.feed(&self.input);
            let used = used.min(self.input.len());
            // In prompt mode HAProxy prints `+ ` after each line read inside a payload (the
            // command line announcing it included, the terminating line excluded).
            let lines = if self.session.mode == exec::PromptMode::Prompt {
                self.input
                    .get(..used)
                    .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            } else {
                0
            };
            self.input.drain(..used);
            let plus = match &feed {
                Feed::NeedMore if self.splitter.in_payload() => lines,
                Feed::Request(r) if r.payload.is_some() => lines.saturating_sub(1),
                _ => 0,
            };
            for _ in 0..plus {
                self.out.extend_from_slice(b"+ ");
            }
            match feed {
                Feed::NeedMore => {
                    if self.eof {
                        if let Some(req) = self.splitter.finish() {
                            self.run(ctx, &req);
                        }
                        self.closing = true;
                    }
                    break;
                }
                Feed::Error(_) => {
                    self.closing = true;
                    self.input.clear();
                    self.push_answer(ctx, &format!("{}\n", msg::COMMAND_TOO_BIG));
                }
                Feed::Request(req) => self.run(ctx, &req),
            }
        }
    }

    fn run(&mut self, ctx: &Context, req: &crate::split::Request) {
        debug_assert!(self.pending.is_none(), "one command at a time");
        let was_interactive = self.session.interactive();
        let reply = exec::execute(ctx, &mut self.session, req);
        debug_assert!(reply.text.is_empty() || reply.text.ends_with('\n'));
        if reply.close {
            self.closing = true;
        }
        // Non-interactive: the line's last command ends the session (HAProxy's LASTCMD),
        // unless that command just turned interactive mode on.
        if req.ends_line && !self.session.interactive() && !was_interactive {
            self.closing = true;
        }
        if req.ends_line && was_interactive && !self.session.interactive() {
            self.closing = true;
        }
        match reply.pending {
            Some(p) => {
                self.out.extend_from_slice(reply.text.as_bytes());
                self.pending = Some(p);
            }
            // `quit` answers nothing, not even the empty line.
            None if reply.close && reply.text.is_empty() => {}
            None => self.push_answer(ctx, &reply.text),
        }
    }

    /// Writes what it can; `Err` when the connection is dead.
    fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            let chunk = self.out.get(self.out_pos..).unwrap_or_default();
            match self.stream.write(chunk) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        Ok(())
    }

    /// Reads one chunk; `Err` when the connection is dead.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self.stream.read(buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.input.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Most connections waiting to be accepted on a TCP stats socket.
/// Why: `stats maxconn` is small (10 by default); the kernel queue only absorbs bursts.
const TCP_BACKLOG: i32 = 128;

/// Binds a TCP stats socket with `SO_REUSEADDR` and `SO_REUSEPORT`: during a reload the new
/// worker binds the same address while the old one still holds it, as HAProxy's workers do.
fn bind_tcp(a: &SocketAddr) -> io::Result<TcpListener> {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    let family = if a.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    rustix::net::bind(&fd, a)?;
    rustix::net::listen(&fd, TCP_BACKLOG)?;
    Ok(TcpListener::from(fd))
}

fn bind(spec: &SocketSpec) -> Result<(Listener, SocketAddrSpec), ListenError> {
    match &spec.addr {
        SocketAddrSpec::Tcp(a) => {
            let l = bind_tcp(a).map_err(|source| ListenError::Bind {
                addr: a.to_string(),
                source,
            })?;
            let local = l.local_addr().map_err(|source| ListenError::Bind {
                addr: a.to_string(),
                source,
            })?;
            l.set_nonblocking(true).map_err(|source| ListenError::Bind {
                addr: a.to_string(),
                source,
            })?;
            Ok((Listener::Tcp(l), SocketAddrSpec::Tcp(local)))
        }
        SocketAddrSpec::Unix(p) => {
            let name = p.display().to_string();
            // A stale socket from a previous run is replaced, as HAProxy does; any other
            // kind of file is left alone (bind then fails).
            if let Ok(meta) = std::fs::symlink_metadata(p) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_socket() {
                    let _ = std::fs::remove_file(p);
                }
            }
            let l = UnixListener::bind(p).map_err(|source| ListenError::Bind {
                addr: name.clone(),
                source,
            })?;
            l.set_nonblocking(true).map_err(|source| ListenError::Bind {
                addr: name.clone(),
                source,
            })?;
            if let Some(mode) = spec.mode {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(|source| {
                    ListenError::Permissions {
                        path: name.clone(),
                        source,
                    }
                })?;
            }
            if spec.uid.is_some() || spec.gid.is_some() {
                std::os::unix::fs::chown(p, spec.uid, spec.gid)
                    .map_err(|source| ListenError::Permissions { path: name, source })?;
            }
            Ok((Listener::Unix(l), SocketAddrSpec::Unix(p.clone())))
        }
    }
}

/// Binds `sockets` and serves them on a new control thread with the default `stats maxconn`
/// and `stats timeout`.
pub fn spawn(sockets: Vec<SocketSpec>, ctx: Arc<Context>) -> Result<ControlHandle, ListenError> {
    spawn_with(sockets, ctx, ServeOptions::default())
}

/// [`spawn`] with explicit `stats maxconn` / `stats timeout`.
pub fn spawn_with(
    sockets: Vec<SocketSpec>,
    ctx: Arc<Context>,
    opts: ServeOptions,
) -> Result<ControlHandle, ListenError> {
    if opts.maxconn == 0 || opts.maxconn > MAXCONN_MAX {
        return Err(ListenError::Maxconn {
            maxconn: opts.maxconn,
            max: MAXCONN_MAX,
        });
    }
    let mut listeners = Vec::with_capacity(sockets.len());
    let mut addrs = Vec::with_capacity(sockets.len());
    let mut unix_files = Vec::new();
    for s in &sockets {
        let (l, a) = bind(s)?;
        listeners.push((l, s.level));
        if let SocketAddrSpec::Unix(p) = &a {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = std::fs::symlink_metadata(p) {
                unix_files.push((p.clone(), m.dev(), m.ino()));
            }
        }
        addrs.push(a);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("ringlb-control".to_string())
        .spawn(move || serve(&listeners, &ctx, opts, &stop2))
        .map_err(ListenError::Thread)?;
    Ok(ControlHandle {
        stop,
        thread: Some(thread),
        addrs,
        unix_files,
    })
}

/// The control thread's loop.
fn serve(listeners: &[(Listener, Level)], ctx: &Context, opts: ServeOptions, stop: &AtomicBool) {
    let mut conns: Vec<Conn> = Vec::with_capacity(opts.maxconn);
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        // How long poll may sleep: until the nearest wait poll or idle deadline.
        let mut sleep = POLL_INTERVAL_MAX;
        for c in &conns {
            let runnable =
                !c.input.is_empty() && c.pending.is_none() && c.unwritten() < OUTPUT_PENDING_BYTES_MAX;
            if (c.closing && c.unwritten() == 0 && c.pending.is_none()) || (runnable && !c.closing) {
                sleep = Duration::ZERO;
            } else if c.pending.is_some() {
                sleep = sleep.min(exec::WAIT_POLL_INTERVAL);
            } else {
                // `set timeout cli` accepts years: a deadline past `Instant`'s range is none.
                if let Some(idle_end) = c.last_active.checked_add(c.session.timeout) {
                    sleep = sleep.min(idle_end.saturating_duration_since(now));
                }
            }
        }
        let (ready_listeners, ready_conns) = {
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(listeners.len() + conns.len());
            for (l, _) in listeners {
                fds.push(PollFd::from_borrowed_fd(l.fd(), PollFlags::IN));
            }
            for c in &conns {
                let mut flags = PollFlags::empty();
                if c.wants_input() {
                    flags |= PollFlags::IN;
                }
                if c.unwritten() > 0 {
                    flags |= PollFlags::OUT;
                }
                fds.push(PollFd::from_borrowed_fd(c.stream.fd(), flags));
            }
            let ts = Timespec {
                tv_sec: i64::try_from(sleep.as_secs()).unwrap_or(0),
                tv_nsec: i64::from(sleep.subsec_nanos()),
            };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
            let rl: Vec<bool> = fds
                .iter()
                .take(listeners.len())
                .map(|f| !f.revents().is_empty())
                .collect();
            let rc: Vec<bool> = fds
                .iter()
                .skip(listeners.len())
                .map(|f| !f.revents().is_empty())
                .collect();
            (rl, rc)
        };
        let now = Instant::now();

        // Existing sessions: read, run, write.
        let mut dead = vec![false; conns.len()];
        for (i, c) in conns.iter_mut().enumerate() {
            let ready = ready_conns.get(i).copied().unwrap_or(false);
            if ready && c.wants_input() {
                let before = c.input.len();
                if c.fill(&mut buf).is_err() {
                    dead[i] = true;
                    continue;
                }
                if c.input.len() != before || c.eof {
                    c.last_active = now;
                }
            }
            c.process(ctx, now);
            let unwritten = c.unwritten();
            if c.flush().is_err() {
                dead[i] = true;
                continue;
            }
            if c.unwritten() < unwritten {
                // The client reads: it is not idle.
                c.last_active = now;
            }
            if c.closing && c.unwritten() == 0 && c.pending.is_none() {
                c.stream.shutdown_write();
                dead[i] = true;
                continue;
            }
            // Idle: no command, no read of our answer, for `timeout` (a client that never
            // reads its answer times out too).
            if c.pending.is_none() && now.duration_since(c.last_active) >= c.session.timeout {
                dead[i] = true;
            }
        }
        let mut i = 0;
        conns.retain(|_| {
            let keep = !dead.get(i).copied().unwrap_or(true);
            i += 1;
            keep
        });

        // New connections.
        for ((l, level), ready) in listeners.iter().zip(&ready_listeners) {
            if !ready {
                continue;
            }
            for _ in 0..opts.maxconn {
                let Ok(stream) = l.accept() else { break };
                if stream.set_nonblocking().is_err() {
                    continue;
                }
                if conns.len() >= opts.maxconn {
                    // Make room: close the session idle the longest (not one running a wait).
                    let victim = conns
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.pending.is_none())
                        .min_by_key(|(_, c)| c.last_active)
                        .map(|(i, _)| i);
                    match victim {
                        Some(v) => {
                            conns.swap_remove(v);
                        }
                        None => continue,
                    }
                }
                let mut c = Conn::new(stream, *level, opts.timeout, now);
                // Serve what may already be there without waiting for the next turn.
                let _ = c.fill(&mut buf);
                c.process(ctx, now);
                if c.flush().is_err() {
                    continue;
                }
                if c.closing && c.unwritten() == 0 && c.pending.is_none() {
                    // Answered in one go (the usual `echo cmd | socat` case): close now
                    // rather than after the next poll.
                    c.stream.shutdown_write();
                    continue;
                }
                conns.push(c);
            }
        }
        debug_assert!(conns.len() <= opts.maxconn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::map::Maps;
    use engine::table::{Snapshot, Tables};

    #[test]
    fn specs_from_config() {
        let text = "global\n    stats socket ipv4@127.0.0.1:9999 level admin\n    stats socket /run/x.sock mode 600 user 7 group www\n    stats socket abns@foo\n    stats timeout 30s\n    stats maxconn 50\n";
        let cfg = engine::config::parse_text("t.cfg", text, &|_| None)
            .expect("valid config")
            .config;
        let socks = &cfg.global.stats_sockets;
        let none = |_: &str| None;
        let a = SocketSpec::from_config(&socks[0], &none, &none).unwrap();
        assert_eq!(
            a.addr,
            SocketAddrSpec::Tcp(SocketAddr::from(([127, 0, 0, 1], 9999)))
        );
        assert_eq!(a.level, Level::Admin);
        assert!(matches!(
            SocketSpec::from_config(&socks[1], &none, &none),
            Err(SpecError::Unresolved { what: "group", .. })
        ));
        let b = SocketSpec::from_config(&socks[1], &none, &|g: &str| (g == "www").then_some(33)).unwrap();
        assert_eq!(
            (b.level, b.mode, b.uid, b.gid),
            (Level::Operator, Some(0o600), Some(7), Some(33))
        );
        assert!(matches!(
            SocketSpec::from_config(&socks[2], &none, &none),
            Err(SpecError::Unsupported { .. })
        ));
        let o = ServeOptions::from_config(&cfg.global);
        assert_eq!((o.maxconn, o.timeout), (50, Duration::from_secs(30)));
    }

    #[test]
    fn reload_keeps_the_new_workers_socket_file() {
        let dir = std::env::temp_dir().join(format!("ringlb-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let ctx = Arc::new(Context::new(
            Arc::new(Tables::new(Snapshot::new(1))),
            Arc::new(Maps::default()),
        ));
        let spec = SocketSpec::new(SocketAddrSpec::Unix(path.clone()));
        let old = spawn(vec![spec.clone()], ctx.clone()).unwrap();
        let new = spawn(vec![spec], ctx).unwrap();
        old.shutdown();
        assert!(path.exists(), "the old worker removed the new worker's socket");
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
        new.shutdown();
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bind_errors_and_limits() {
        let ctx = Arc::new(Context::new(
            Arc::new(Tables::new(Snapshot::new(1))),
            Arc::new(Maps::default()),
        ));
        let bad = SocketSpec::new(SocketAddrSpec::Unix(PathBuf::from(
            "/nonexistent-dir-ringlb/x.sock",
        )));
        assert!(matches!(
            spawn(vec![bad], ctx.clone()),
            Err(ListenError::Bind { .. })
        ));
        let ok = SocketSpec::new(SocketAddrSpec::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))));
        let e = spawn_with(
            vec![ok],
            ctx,
            ServeOptions {
                maxconn: 0,
                ..ServeOptions::default()
            },
        );
        assert!(matches!(e, Err(ListenError::Maxconn { .. })));
    }
}
