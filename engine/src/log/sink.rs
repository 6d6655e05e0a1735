//! Log targets and delivery: syslog framing per `format`, and one writer thread that drains
//! a bounded queue filled by the engine threads with `try_send` (never blocking them).
//!
//! The queue is one bounded multi-producer channel shared by all engine threads (lock-free
//! in std since 1.67); a line that does not fit is dropped and counted in
//! [`LogStats::dropped`].

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};

use arc_swap::ArcSwap;
use std::time::{Duration, Instant, SystemTime};

use super::format::{
    system_hostname, FormatError, LogFormat, CLF_HTTP_LOG_FORMAT, HTTP_LOG_FORMAT, TCP_LOG_FORMAT,
};
use super::time::{push_u64, Civil};
use super::{LogRecord, FACILITIES, LEVELS, LEVEL_INFO};
use crate::config::values::{Address, Host, Port, StdStream};
use crate::config::{Global, LogFormat as SyslogFormat, LogTarget, Mode, Proxy, ProxyKind};

/// Lines waiting for the writer thread across all engine threads. At ~200 bytes a line
/// this bounds queued memory to ~13 MiB, and absorbs a stall of the writer of ~0.1 s at
/// 600k requests/s before lines are dropped.
pub const LOG_QUEUE_DEPTH: usize = 65_536;

/// HAProxy's default `len`: longest message sent to a target, header and newline included.
pub const LOG_LINE_BYTES_DEFAULT: usize = 1024;

/// Smallest accepted `len` (HAProxy's minimum).
pub const LOG_LINE_BYTES_MIN: usize = 80;

/// Largest accepted `len` (HAProxy's maximum, a UDP datagram's size).
pub const LOG_LINE_BYTES_MAX: usize = 65_535;

/// Lines the writer takes from the queue per write to stdout/stderr: bounds the batch
/// buffer to about `WRITER_BATCH_LINES_MAX * len`.
pub const WRITER_BATCH_LINES_MAX: usize = 256;

/// Tag used when neither the proxy nor `global` sets `log-tag`. HAProxy uses its program
/// name; ringlb says `haproxy` so syslog rules matching `programname == "haproxy"` keep
/// working after the switch.
pub const DEFAULT_LOG_TAG: &str = "haproxy";

/// Longest `log-tag` kept (RFC 5424's APP-NAME limit is 48).
pub const LOG_TAG_BYTES_MAX: usize = 48;

/// Most `ProxyLogger`s one [`LogSystem`] serves (one per frontend built): messages name
/// their route by index, so the table only grows.
pub const ROUTES_MAX: usize = 65_536;

/// Spare line buffers kept for reuse: engine threads take one per line instead of
/// allocating, the writer gives them back after each batch.
pub const POOL_BUFFERS_MAX: usize = 4096;

/// Buffers larger than this are freed rather than pooled (a rare long line should not pin
/// memory).
pub const POOL_BUFFER_BYTES_MAX: usize = 4096;

const _: () =
    assert!(LOG_LINE_BYTES_MIN <= LOG_LINE_BYTES_DEFAULT && LOG_LINE_BYTES_DEFAULT <= LOG_LINE_BYTES_MAX);
// A rendered line never needs more than the largest `len` allows.
const _: () = assert!(LOG_LINE_BYTES_MAX <= super::format::RENDER_BYTES_MAX);
// Pooled buffers must be able to hold a typical line without growing.
const _: () = assert!(LINE_BYTES_INITIAL <= POOL_BUFFER_BYTES_MAX);

/// Default syslog port for `log <host>` without one.
pub const SYSLOG_PORT: u16 = 514;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The `log-format` (or built-in format) did not compile.
    #[error("proxy '{proxy}': log-format: {err}")]
    Format {
        /// Proxy name.
        proxy: String,
        /// The compile error.
        err: FormatError,
    },
    /// A target ringlb cannot write to (`ring@`, stream unix sockets...).
    #[error("log target '{target}' is not supported")]
    UnsupportedTarget {
        /// The address as written.
        target: String,
    },
    /// A target host name that does not resolve.
    #[error("log target '{target}' does not resolve: {reason}")]
    Resolve {
        /// The address as written.
        target: String,
        /// Resolver message.
        reason: String,
    },
    /// `len` out of HAProxy's range.
    #[error("log target '{target}': len {len} out of range ({LOG_LINE_BYTES_MIN}-{LOG_LINE_BYTES_MAX})")]
    BadLen {
        /// The address as written.
        target: String,
        /// The value.
        len: u32,
    },
    /// Unknown facility or level word.
    #[error("log target '{target}': unknown facility or level '{word}'")]
    BadWord {
        /// The address as written.
        target: String,
        /// The word.
        word: String,
    },
    /// More loggers than [`ROUTES_MAX`].
    #[error("too many loggers (max {max})")]
    TooManyLoggers {
        /// The limit.
        max: usize,
    },
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(std::io::Error),
}

/// Where a target's lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output (newline-terminated lines, batched).
    Stdout,
    /// Standard error.
    Stderr,
    /// Syslog over UDP.
    Udp(SocketAddr),
    /// A unix datagram socket such as `/dev/log`.
    Unix(PathBuf),
}

/// One resolved `log` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Destination.
    pub dest: Dest,
    /// Header layout.
    pub format: SyslogFormat,
    /// Facility code (0..=23).
    pub facility: u8,
    /// Most verbose level sent (`debug` = 7 by default).
    pub max_level: u8,
    /// Levels more severe than this are raised to it (`emerg` = 0 by default).
    pub min_level: u8,
    /// Longest message including header and newline (`len`).
    pub max_len: usize,
}

impl Target {
    /// Resolves a config `log` line (host names are resolved now, at start).
    pub fn from_config(t: &LogTarget) -> Result<Target, LogError> {
        let target = t.addr.to_string();
        let dest = match &t.addr {
            Address::Std(StdStream::Stdout) | Address::Fd(1) => Dest::Stdout,
            Address::Std(StdStream::Stderr) | Address::Fd(2) => Dest::Stderr,
            Address::Unix(p) => Dest::Unix(PathBuf::from(p)),
            Address::Inet { host, port, .. } => {
                let port = match port {
                    Port::Fixed(p) => *p,
                    Port::None => SYSLOG_PORT,
                    _ => return Err(LogError::UnsupportedTarget { target }),
                };
                match host {
                    Host::Ip(ip) => Dest::Udp(SocketAddr::new(*ip, port)),
                    Host::Name(n) => {
                        let addr = (n.as_str(), port)
                            .to_socket_addrs()
                            .map_err(|e| LogError::Resolve {
                                target: target.clone(),
                                reason: e.to_string(),
                            })?
                            .next()
                            .ok_or_else(|| LogError::Resolve {
                                target: target.clone(),
                                reason: "no address".to_string(),
                            })?;
                        Dest::Udp(addr)
                    }
                    Host::Any => return Err(LogError::UnsupportedTarget { target }),
                }
            }
            _ => return Err(LogError::UnsupportedTarget { target }),
        };
        let word = |w: &str, list: &[&str]| -> Result<u8, LogError> {
            list.iter()
                .position(|x| *x == w)
                .map(|p| p as u8)
                .ok_or_else(|| LogError::BadWord {
                    target: target.clone(),
                    word: w.to_string(),
                })
        };
        let facility = word(&t.facility, &FACILITIES)?;
        let max_level = t
            .level
            .as_deref()
            .map(|l| word(l, &LEVELS))
            .transpose()?
            .unwrap_or(7);
        let min_level = t
            .min_level
            .as_deref()
            .map(|l| word(l, &LEVELS))
            .transpose()?
            .unwrap_or(0);
        let max_len = match t.max_len {
            None => LOG_LINE_BYTES_DEFAULT,
            Some(n) if (LOG_LINE_BYTES_MIN..=LOG_LINE_BYTES_MAX).contains(&(n as usize)) => n as usize,
            Some(len) => return Err(LogError::BadLen { target, len }),
        };
        Ok(Target {
            dest,
            format: t.format,
            facility,
            max_level,
            min_level,
            max_len,
        })
    }

    /// The level a message of `level` is sent at, or `None` when filtered out.
    pub fn level_for(&self, level: u8) -> Option<u8> {
        (level <= self.max_level).then(|| level.max(self.min_level))
    }
}

/// The sender identity written in syslog headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Hostname field (`log-send-hostname`); `None` omits it (rfc5424 writes `-`).
    pub hostname: Option<&'a str>,
    /// Tag / APP-NAME (`log-tag`).
    pub tag: &'a str,
    /// Process id.
    pub pid: u32,
}

/// Appends one framed message: header per `target.format`, `msg` truncated so the whole
/// stays within `target.max_len` including the final newline.
pub fn frame(
    target: &Target,
    level: u8,
    time: SystemTime,
    header: &Header<'_>,
    msg: &[u8],
    out: &mut Vec<u8>,
) {
    let Header { hostname, tag, pid } = *header;
    let start = out.len();
    let pri = u64::from(target.facility) * 8 + u64::from(level);
    let civil = || Civil::from_time(time);
    match target.format {
        SyslogFormat::Rfc3164 | SyslogFormat::Local => {
            out.push(b'<');
            push_u64(out, pri);
            out.push(b'>');
            civil().write_rfc3164(out);
            out.push(b' ');
            if let (SyslogFormat::Rfc3164, Some(h)) = (target.format, hostname) {
                out.extend_from_slice(h.as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(tag.as_bytes());
            out.push(b'[');
            push_u64(out, u64::from(pid));
            out.extend_from_slice(b"]: ");
        }
        SyslogFormat::Rfc5424 => {
            out.push(b'<');
            push_u64(out, pri);
            out.extend_from_slice(b">1 ");
            civil().write_iso(out);
            out.push(b' ');
            out.extend_from_slice(hostname.unwrap_or("-").as_bytes());
            out.push(b' ');
            out.extend_from_slice(tag.as_bytes());
            out.push(b' ');
            push_u64(out, u64::from(pid));
            out.extend_from_slice(b" - - ");
        }
        SyslogFormat::Priority => {
            out.push(b'<');
            push_u64(out, pri);
            out.push(b'>');
        }
        SyslogFormat::Short => {
            out.push(b'<');
            push_u64(out, u64::from(level));
            out.push(b'>');
        }
        SyslogFormat::Timed => {
            out.push(b'<');
            push_u64(out, u64::from(level));
            out.push(b'>');
            civil().write_iso(out);
            out.push(b' ');
        }
        SyslogFormat::Iso => {
            civil().write_iso(out);
            out.push(b' ');
        }
        SyslogFormat::Raw => {}
    }
    // As HAProxy: header, then message, cut so that everything plus the final newline fits
    // in `len` (a header longer than `len` is cut too).
    let limit = start + target.max_len.saturating_sub(1);
    out.truncate(limit);
    let room = limit.saturating_sub(out.len());
    out.extend_from_slice(msg.get(..room.min(msg.len())).unwrap_or(b""));
    out.push(b'\n');
    debug_assert!(
        out.len() - start <= target.max_len.max(1),
        "framed line exceeds len"
    );
    debug_assert_eq!(out.last(), Some(&b'\n'));
}

/// Counters of the log pipeline (read by stats; written with relaxed atomics).
#[derive(Debug, Default)]
pub struct LogStats {
    /// Lines queued for the writer.
    pub queued: AtomicU64,
    /// Lines dropped because the queue was full (or the writer is gone).
    pub dropped: AtomicU64,
    /// Lines the writer finished (sent to every target or failed).
    pub done: AtomicU64,
    /// Target sends that failed (UDP/unix errors, closed stdout).
    pub errors: AtomicU64,
}

/// Per-proxy delivery settings shared by its lines.
#[derive(Debug)]
struct Route {
    targets: Vec<Target>,
    tag: Box<str>,
    hostname: Option<Box<str>>,
    pid: u32,
}

#[derive(Debug)]
struct Msg {
    /// Index in [`Shared::routes`].
    route: u32,
    level: u8,
    body: Vec<u8>,
}

/// State shared by the engine threads and the writer.
#[derive(Debug)]
struct Shared {
    stats: LogStats,
    routes: ArcSwap<Vec<Arc<Route>>>,
    pool: Mutex<Vec<Vec<u8>>>,
}

impl Shared {
    /// A spare buffer, or a new one. Engine threads never wait here: when the pool is
    /// busy (the writer is returning a batch) they allocate instead.
    fn take_buf(&self) -> Vec<u8> {
        let spare = match self.pool.try_lock() {
            Ok(mut p) => p.pop(),
            Err(TryLockError::Poisoned(e)) => e.into_inner().pop(),
            Err(TryLockError::WouldBlock) => None,
        };
        spare.unwrap_or_else(|| Vec::with_capacity(LINE_BYTES_INITIAL))
    }

    /// Returns buffers to the pool (writer thread; waits for the lock).
    fn give_back(&self, bufs: impl Iterator<Item = Vec<u8>>) {
        let mut p = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        for mut b in bufs {
            if p.len() < POOL_BUFFERS_MAX && b.capacity() <= POOL_BUFFER_BYTES_MAX {
                b.clear();
                p.push(b);
            }
        }
    }
}

/// The writer thread and the sending half of its queue.
#[derive(Debug)]
pub struct LogSystem {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

static GLOBAL: OnceLock<Result<LogSystem, String>> = OnceLock::new();

impl LogSystem {
    /// Starts a writer thread with a queue of `depth` lines (at least 1).
    pub fn start(depth: usize) -> Result<LogSystem, LogError> {
        let (tx, rx) = sync_channel(depth.max(1));
        let shared = Arc::new(Shared {
            stats: LogStats::default(),
            routes: ArcSwap::from_pointee(Vec::new()),
            pool: Mutex::new(Vec::new()),
        });
        let s2 = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("ringlb-log".to_string())
            .spawn(move || writer(rx, &s2))
            .map_err(LogError::Thread)?;
        Ok(LogSystem { tx, shared })
    }

    /// The process-wide system ([`LOG_QUEUE_DEPTH`]), started on first use.
    pub fn global() -> Result<&'static LogSystem, LogError> {
        GLOBAL
            .get_or_init(|| LogSystem::start(LOG_QUEUE_DEPTH).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| LogError::Thread(std::io::Error::other(e.clone())))
    }

    /// Counters.
    pub fn stats(&self) -> &LogStats {
        &self.shared.stats
    }

    /// Waits until every queued line is written, up to `timeout`; true when drained.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let queued = self.shared.stats.queued.load(Ordering::Acquire);
            if self.shared.stats.done.load(Ordering::Acquire) >= queued {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The logger of one frontend/listen section, `None` when it logs nowhere (no `log`
    /// line, `no log`, an empty `log-format`, or a `backend`/`defaults` section).
    pub fn logger_for(&self, global: &Global, proxy: &Proxy) -> Result<Option<ProxyLogger>, LogError> {
        if matches!(proxy.kind, ProxyKind::Backend | ProxyKind::Defaults) {
            return Ok(None);
        }
        let mut targets = Vec::new();
        if proxy.log.global {
            for t in &global.logs {
                targets.push(Target::from_config(t)?);
            }
        }
        for t in &proxy.log.targets {
            targets.push(Target::from_config(t)?);
        }
        if targets.is_empty() {
            return Ok(None);
        }
        let http = proxy.mode == Mode::Http;
        let fmt_str = match (&proxy.log.format, proxy.options.httplog, proxy.options.tcplog) {
            (Some(f), _, _) => Some(f.as_str()),
            (None, Some(true), _) if http => Some(CLF_HTTP_LOG_FORMAT),
            (None, Some(false), _) if http => Some(HTTP_LOG_FORMAT),
            // HAProxy: "option httplog" needs "mode http", falls back to tcplog.
            (None, Some(_), _) | (None, None, true) => Some(TCP_LOG_FORMAT),
            (None, None, false) => None,
        };
        let format = match fmt_str {
            Some(s) => {
                let f = LogFormat::compile(s).map_err(|err| LogError::Format {
                    proxy: proxy.name.clone(),
                    err,
                })?;
                if f.is_empty() {
                    return Ok(None);
                }
                Some(f)
            }
            None => None,
        };
        self.build(
            global,
            targets,
            proxy.log.tag.as_deref(),
            format,
            proxy.options.dontlognull,
            http,
        )
        .map(Some)
    }

    /// A logger for event lines only ([`ProxyLogger::log_event`]: server state changes,
    /// "backend has no server available", start/stop messages), sent where HAProxy sends a
    /// proxy's events: its own `log` lines plus the global ones with `log global`. `None`
    /// for `proxy` gives the global targets. Works for `backend` sections too. `None` when
    /// there is no target.
    pub fn event_logger_for(
        &self,
        global: &Global,
        proxy: Option<&Proxy>,
    ) -> Result<Option<ProxyLogger>, LogError> {
        let mut targets = Vec::new();
        if proxy.is_none_or(|p| p.log.global) {
            for t in &global.logs {
                targets.push(Target::from_config(t)?);
            }
        }
        for t in proxy.map(|p| p.log.targets.as_slice()).unwrap_or_default() {
            targets.push(Target::from_config(t)?);
        }
        if targets.is_empty() {
            return Ok(None);
        }
        let tag = proxy.and_then(|p| p.log.tag.as_deref());
        let http = proxy.is_some_and(|p| p.mode == Mode::Http);
        self.build(global, targets, tag, None, false, http).map(Some)
    }

    fn build(
        &self,
        global: &Global,
        targets: Vec<Target>,
        tag: Option<&str>,
        format: Option<LogFormat>,
        dontlognull: bool,
        http: bool,
    ) -> Result<ProxyLogger, LogError> {
        let tag: String = tag
            .or(global.log_tag.as_deref())
            .unwrap_or(DEFAULT_LOG_TAG)
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(LOG_TAG_BYTES_MAX)
            .collect();
        let hostname = match &global.log_send_hostname {
            Some(Some(h)) => Some(h.as_str().into()),
            Some(None) => Some(system_hostname().into()),
            None => None,
        };
        let route = Arc::new(Route {
            targets,
            tag: tag.into(),
            hostname,
            pid: std::process::id(),
        });
        let mut route_id = None;
        self.shared.routes.rcu(|v| {
            let mut v = Vec::clone(v);
            route_id = (v.len() < ROUTES_MAX).then_some(v.len() as u32);
            if route_id.is_some() {
                v.push(Arc::clone(&route));
            }
            v
        });
        let route_id = route_id.ok_or(LogError::TooManyLoggers { max: ROUTES_MAX })?;
        Ok(ProxyLogger {
            format,
            dontlognull,
            http,
            route,
            route_id,
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        })
    }
}

/// [`LogSystem::logger_for`] on the process-wide [`LogSystem::global`].
pub fn logger_for(global: &Global, proxy: &Proxy) -> Result<Option<ProxyLogger>, LogError> {
    LogSystem::global()?.logger_for(global, proxy)
}

/// What one frontend logs and where. `Send + Sync`: share one per frontend across engine
/// threads (in an `Arc`) or clone it per thread.
#[derive(Debug, Clone)]
pub struct ProxyLogger {
    format: Option<LogFormat>,
    dontlognull: bool,
    http: bool,
    route: Arc<Route>,
    route_id: u32,
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

/// Initial capacity of a rendered line (a typical httplog line is 150-250 bytes).
const LINE_BYTES_INITIAL: usize = 256;

impl ProxyLogger {
    /// True when lines are emitted at the end of each request/connection (`option httplog`,
    /// `option tcplog` or `log-format`); false when HAProxy's default "Connect from" line is
    /// emitted at accept instead ([`ProxyLogger::log_connect`]).
    pub fn logs_at_end(&self) -> bool {
        self.format.is_some()
    }

    /// The compiled format, if any.
    pub fn format(&self) -> Option<&LogFormat> {
        self.format.as_ref()
    }

    /// Logs a finished request (HTTP) or connection (TCP). Never blocks: returns false when
    /// the line was skipped (`option dontlognull` with no client data, no format) or dropped
    /// (queue full, counted in [`LogStats::dropped`]).
    pub fn log(&self, rec: &LogRecord<'_>) -> bool {
        let Some(f) = &self.format else {
            return false;
        };
        if self.dontlognull && rec.bytes_uploaded == 0 {
            return false;
        }
        let mut body = self.shared.take_buf();
        f.render(rec, &mut body);
        self.send(LEVEL_INFO, body)
    }

    /// HAProxy's line at accept when no log format is set:
    /// `Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)`. Does nothing when a
    /// format is set. Never blocks.
    pub fn log_connect(&self, rec: &LogRecord<'_>) -> bool {
        if self.format.is_some() {
            return false;
        }
        let mut body = self.shared.take_buf();
        connect_line(rec, self.http, &mut body);
        self.send(LEVEL_INFO, body)
    }

    /// Sends an already formatted message (event lines such as server state changes) at
    /// `level` (0 = emerg .. 7 = debug). Never blocks.
    pub fn log_event(&self, level: u8, msg: &str) -> bool {
        let mut body = self.shared.take_buf();
        let m = msg.as_bytes();
        body.extend_from_slice(m.get(..super::format::RENDER_BYTES_MAX).unwrap_or(m));
        self.send(level.min(7), body)
    }

    /// The resolved targets.
    pub fn targets(&self) -> &[Target] {
        &self.route.targets
    }

    /// The syslog tag (`log-tag` of the proxy, else of `global`, else [`DEFAULT_LOG_TAG`]).
    pub fn tag(&self) -> &str {
        &self.route.tag
    }

    /// The hostname sent in headers (`log-send-hostname`), if any.
    pub fn hostname(&self) -> Option<&str> {
        self.route.hostname.as_deref()
    }

    /// Counters shared with the [`LogSystem`].
    pub fn stats(&self) -> &LogStats {
        &self.shared.stats
    }

    fn send(&self, level: u8, body: Vec<u8>) -> bool {
        let stats = &self.shared.stats;
        // Counted before the send so `done` (bumped by the writer) never passes `queued`.
        stats.queued.fetch_add(1, Ordering::Release);
        match self.tx.try_send(Msg {
            route: self.route_id,
            level,
            body,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(m) | TrySendError::Disconnected(m)) => {
                stats.queued.fetch_sub(1, Ordering::Release);
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                // Recycle without waiting; a busy pool just frees the buffer.
                if let Ok(mut p) = self.shared.pool.try_lock() {
                    if p.len() < POOL_BUFFERS_MAX {
                        let mut b = m.body;
                        b.clear();
                        p.push(b);
                    }
                }
                false
            }
        }
    }
}

/// Appends HAProxy's accept-time line (no log format set).
pub fn connect_line(rec: &LogRecord<'_>, http: bool, out: &mut Vec<u8>) {
    let mode = if http { "HTTP" } else { "TCP" };
    // Writing to a Vec cannot fail.
    let _ = match (rec.client, rec.frontend_addr) {
        (Some(c), Some(f)) => write!(
            out,
            "Connect from {}:{} to {}:{} ({}/{})",
            c.ip(),
            c.port(),
            f.ip(),
            f.port(),
            rec.frontend,
            mode
        ),
        (Some(c), None) => write!(
            out,
            "Connect from {}:{} ({}/{})",
            c.ip(),
            c.port(),
            rec.frontend,
            mode
        ),
        (None, _) => write!(out, "Connect to unix socket ({}/{})", rec.frontend, mode),
    };
}

/// Lazily opened sockets of the writer thread.
#[derive(Default)]
struct Sockets {
    udp4: Option<UdpSocket>,
    udp6: Option<UdpSocket>,
    unix: Option<UnixDatagram>,
}

impl Sockets {
    fn send_udp(&mut self, to: SocketAddr, buf: &[u8]) -> std::io::Result<()> {
        let slot = if to.is_ipv4() {
            &mut self.udp4
        } else {
            &mut self.udp6
        };
        if slot.is_none() {
            let bind: SocketAddr = if to.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            *slot = Some(UdpSocket::bind(bind)?);
        }
        match slot {
            Some(s) => s.send_to(buf, to).map(|_| ()),
            None => Ok(()),
        }
    }

    fn send_unix(&mut self, to: &PathBuf, buf: &[u8]) -> std::io::Result<()> {
        if self.unix.is_none() {
            self.unix = Some(UnixDatagram::unbound()?);
        }
        match &self.unix {
            Some(s) => s.send_to(buf, to).map(|_| ()),
            None => Ok(()),
        }
    }
}

fn writer(rx: Receiver<Msg>, shared: &Shared) {
    let stats = &shared.stats;
    let mut socks = Sockets::default();
    let mut out_buf: Vec<u8> = Vec::new();
    let mut err_buf: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut batch: Vec<Msg> = Vec::with_capacity(WRITER_BATCH_LINES_MAX);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < WRITER_BATCH_LINES_MAX {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        // The header date is when the writer handles the batch (HAProxy: when the line is
        // sent); taking it here keeps `SystemTime::now` off the engine threads.
        let now = SystemTime::now();
        let routes = shared.routes.load();
        let n = batch.len() as u64;
        for m in &batch {
            let Some(r) = routes.get(m.route as usize) else {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            for t in &r.targets {
                let Some(level) = t.level_for(m.level) else {
                    continue;
                };
                line.clear();
                let header = Header {
                    hostname: r.hostname.as_deref(),
                    tag: &r.tag,
                    pid: r.pid,
                };
                frame(t, level, now, &header, &m.body, &mut line);
                let res = match &t.dest {
                    Dest::Stdout => {
                        out_buf.extend_from_slice(&line);
                        Ok(())
                    }
                    Dest::Stderr => {
                        err_buf.extend_from_slice(&line);
                        Ok(())
                    }
                    Dest::Udp(a) => socks.send_udp(*a, &line),
                    Dest::Unix(p) => socks.send_unix(p, &line),
                };
                if res.is_err() {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !out_buf.is_empty() {
            let mut o = std::io::stdout().lock();
            if o.write_all(&out_buf).and_then(|()| o.flush()).is_err() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            out_buf.clear();
        }
        if !err_buf.is_empty() {
            if std::io::stderr().lock().write_all(&err_buf).is_err() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            err_buf.clear();
        }
        shared.give_back(batch.drain(..).map(|m| m.body));
        stats.done.fetch_add(n, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_text;
    use std::time::UNIX_EPOCH;

    fn target(format: SyslogFormat, max_len: usize) -> Target {
        Target {
            dest: Dest::Stdout,
            format,
            facility: 16,
            max_level: 7,
            min_level: 0,
            max_len,
        }
    }

    fn framed(format: SyslogFormat, hostname: Option<&str>, msg: &str, max_len: usize) -> String {
        // 22/Nov/2026:04:56:21.123456 UTC
        let t = UNIX_EPOCH + Duration::from_micros(1_795_323_381_123_456);
        let mut out = Vec::new();
        let h = Header {
            hostname,
            tag: "haproxy",
            pid: 14389,
        };
        frame(&target(format, max_len), 6, t, &h, msg.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn framing_per_format() {
        let table: &[(SyslogFormat, Option<&str>, &str)] = &[
            (
                SyslogFormat::Rfc3164,
                None,
                "<134>Nov 22 04:56:21 haproxy[14389]: m\n",
            ),
            (
                SyslogFormat::Rfc3164,
                Some("lb1"),
                "<134>Nov 22 04:56:21 lb1 haproxy[14389]: m\n",
            ),
            (
                SyslogFormat::Local,
                Some("lb1"),
                "<134>Nov 22 04:56:21 haproxy[14389]: m\n",
            ),
            (
                SyslogFormat::Rfc5424,
                Some("lb1"),
                "<134>1 2026-11-22T04:56:21.123456+00:00 lb1 haproxy 14389 - - m\n",
            ),
            (
                SyslogFormat::Rfc5424,
                None,
                "<134>1 2026-11-22T04:56:21.123456+00:00 - haproxy 14389 - - m\n",
            ),
            (SyslogFormat::Priority, None, "<134>m\n"),
            (SyslogFormat::Short, None, "<6>m\n"),
            (
                SyslogFormat::Timed,
                None,
                "<6>2026-11-22T04:56:21.123456+00:00 m\n",
            ),
            (SyslogFormat::Iso, None, "2026-11-22T04:56:21.123456+00:00 m\n"),
            (SyslogFormat::Raw, None, "m\n"),
        ];
        for (f, h, want) in table {
            assert_eq!(framed(*f, *h, "m", 1024), *want, "{f:?}");
        }
    }

    #[test]
    fn day_below_ten_is_space_padded() {
        let t = UNIX_EPOCH + Duration::from_secs(1_233_922_454);
        let mut out = Vec::new();
        let h = Header {
            hostname: None,
            tag: "haproxy",
            pid: 1,
        };
        frame(&target(SyslogFormat::Rfc3164, 1024), 6, t, &h, b"x", &mut out);
        assert_eq!(out, b"<134>Feb  6 12:14:14 haproxy[1]: x\n");
    }

    #[test]
    fn truncation_keeps_newline_within_len() {
        let msg = "a".repeat(500);
        let out = framed(SyslogFormat::Raw, None, &msg, 80);
        assert_eq!(out.len(), 80);
        assert!(out.ends_with("a\n"));
        let out = framed(SyslogFormat::Rfc3164, None, &msg, 80);
        assert_eq!(out.len(), 80);
        assert!(out.starts_with("<134>Nov 22 04:56:21 haproxy[14389]: aaa"));
        let out = framed(SyslogFormat::Raw, None, "short", 80);
        assert_eq!(out, "short\n");
    }

    #[test]
    fn levels_filter_and_cap() {
        let mut t = target(SyslogFormat::Raw, 1024);
        t.max_level = 3; // err
        assert_eq!(t.level_for(6), None);
        assert_eq!(t.level_for(3), Some(3));
        t.min_level = 2; // crit
        assert_eq!(t.level_for(0), Some(2));
    }

    fn cfg(text: &str) -> crate::config::Config {
        match parse_text("t.cfg", text, &|_| None) {
            Ok(l) => l.config,
            Err(d) => panic!("config rejected: {d:?}"),
        }
    }

    fn logger(text: &str, name: &str) -> Result<Option<ProxyLogger>, LogError> {
        let c = cfg(text);
        let p = c.proxies.iter().find(|p| p.name == name).expect("proxy");
        let sys = LogSystem::start(16).expect("writer");
        sys.logger_for(&c.global, p)
    }

    const BASE: &str = "global\n  log 127.0.0.1:514 local0\n  log stdout format raw daemon info\n";

    #[test]
    fn format_precedence() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "defaults\n  mode http\n  log global\n  option httplog\n",
                Some(HTTP_LOG_FORMAT),
            ),
            (
                "defaults\n  mode http\n  log global\n  option httplog clf\n",
                Some(CLF_HTTP_LOG_FORMAT),
            ),
            (
                "defaults\n  mode tcp\n  log global\n  option httplog\n",
                Some(TCP_LOG_FORMAT),
            ),
            (
                "defaults\n  mode tcp\n  log global\n  option tcplog\n",
                Some(TCP_LOG_FORMAT),
            ),
            (
                "defaults\n  mode http\n  log global\n  option httplog\n  log-format \"%ci %ST\"\n",
                Some("%ci %ST"),
            ),
            ("defaults\n  mode http\n  log global\n", None),
        ];
        for (defaults, want) in table {
            let text = format!("{BASE}{defaults}frontend fe\n  bind :8080\n");
            let l = logger(&text, "fe").unwrap().expect("logs");
            let got = l.format().cloned();
            let want = want.map(|w| LogFormat::compile(w).unwrap());
            assert_eq!(got, want, "{defaults}");
            assert_eq!(l.logs_at_end(), want.is_some());
        }
    }

    #[test]
    fn no_targets_no_logger() {
        let table = [
            "frontend fe\n  bind :8080\n  option httplog\n",
            "defaults\n  log global\nfrontend fe\n  bind :8080\n  no log\n",
        ];
        for t in table {
            let text = format!("{BASE}{t}");
            assert!(logger(&text, "fe").unwrap().is_none(), "{t}");
        }
        let text = format!("{BASE}defaults\n  log global\nbackend be\n  server s 127.0.0.1:1\n");
        assert!(logger(&text, "be").unwrap().is_none());
    }

    #[test]
    fn targets_from_config() {
        let text =
            "global\n  log 127.0.0.1:514 len 200 format rfc5424 local3 notice err\n  log 10.0.0.1 user\n  \
                    log /dev/log local0\n  log stderr format short daemon\n";
        let c = cfg(text);
        let t: Vec<Target> = c
            .global
            .logs
            .iter()
            .map(|t| Target::from_config(t).unwrap())
            .collect();
        assert_eq!(
            t[0],
            Target {
                dest: Dest::Udp("127.0.0.1:514".parse().unwrap()),
                format: SyslogFormat::Rfc5424,
                facility: 19,
                max_level: 5,
                min_level: 3,
                max_len: 200,
            }
        );
        assert_eq!(t[1].dest, Dest::Udp("10.0.0.1:514".parse().unwrap()));
        assert_eq!(t[1].max_len, LOG_LINE_BYTES_DEFAULT);
        assert_eq!(t[2].dest, Dest::Unix("/dev/log".into()));
        assert_eq!(t[3].dest, Dest::Stderr);
        assert_eq!(t[3].format, SyslogFormat::Short);
    }

    #[test]
    fn rejected_targets() {
        for (line, want) in [
            ("log 127.0.0.1:514 len 10 local0", "len 10 out of range"),
            ("log 127.0.0.1:514 len 70000 local0", "len 70000 out of range"),
            ("log ring@buf local0", "not supported"),
        ] {
            let c = cfg(&format!("global\n  {line}\n"));
            let e = Target::from_config(&c.global.logs[0]).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn tag_and_hostname() {
        let text = "global\n  log stdout format raw local0\n  log-tag gtag\n  log-send-hostname myhost\n\
                    frontend a\n  bind :1\n  log global\n  option tcplog\n\
                    frontend b\n  bind :2\n  log global\n  log-tag ptag\n  option tcplog\n";
        let a = logger(text, "a").unwrap().unwrap();
        let b = logger(text, "b").unwrap().unwrap();
        assert_eq!(a.tag(), "gtag");
        assert_eq!(b.tag(), "ptag");
        assert_eq!(a.hostname(), Some("myhost"));
        assert_eq!(a.targets().len(), 1);
    }

    #[test]
    fn event_loggers() {
        let text = "global\n  log stdout format raw local0\n  log-tag g\ndefaults\n  log global\n\
                    backend be\n  log-tag b\n  server s 127.0.0.1:1\nbackend quiet\n  no log\n";
        let c = cfg(text);
        let sys = LogSystem::start(4).expect("writer");
        let be = c.proxies.iter().find(|p| p.name == "be").expect("be");
        let quiet = c.proxies.iter().find(|p| p.name == "quiet").expect("quiet");
        let l = sys
            .event_logger_for(&c.global, Some(be))
            .unwrap()
            .expect("backend events");
        assert_eq!(l.tag(), "b");
        assert!(!l.logs_at_end());
        assert!(sys.event_logger_for(&c.global, Some(quiet)).unwrap().is_none());
        let g = sys
            .event_logger_for(&c.global, None)
            .unwrap()
            .expect("global events");
        assert_eq!(g.tag(), "g");
        assert!(
            sys.logger_for(&c.global, be).unwrap().is_none(),
            "backends have no access log"
        );
    }

    #[test]
    fn connect_line_layout() {
        let mut r = LogRecord::new("www", Some("10.0.1.2:33312".parse().unwrap()), UNIX_EPOCH);
        r.frontend_addr = Some("10.0.3.31:8012".parse().unwrap());
        let mut out = Vec::new();
        connect_line(&r, true, &mut out);
        assert_eq!(out, b"Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)");
    }

    #[test]
    fn dontlognull_skips_empty_connections() {
        let text =
            format!("{BASE}frontend fe\n  bind :1\n  log global\n  option tcplog\n  option dontlognull\n");
        let l = logger(&text, "fe").unwrap().unwrap();
        let r = LogRecord::new("fe", None, UNIX_EPOCH);
        assert!(!l.log(&r));
        assert!(l.log(&LogRecord {
            bytes_uploaded: 1,
            ..r
        }));
    }
}
