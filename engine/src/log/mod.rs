//! Access logs as HAProxy writes them: `log-format` strings compiled once
//! ([`LogFormat::compile`]) and rendered per request or connection from a [`LogRecord`]
//! the engine fills without allocating; syslog framing (`rfc3164`, `rfc5424`, `local`,
//! `short`, `priority`, `timed`, `iso`, `raw`) and delivery to `stdout`/`stderr`, UDP syslog
//! and unix datagram sockets (`/dev/log`) by one background writer thread.
//!
//! Engine threads never block on logging: [`ProxyLogger::log`] renders the line on the
//! calling thread (well under a microsecond for an httplog line) and hands it to a bounded
//! queue with `try_send`; when the queue is full the line is dropped and counted
//! ([`LogStats::dropped`]). Framing and I/O happen on the writer thread.
//!
//! Use from the engine (one logger per frontend, built with the config; share it with an
//! `Arc` or clone it per thread):
//!
//! ```no_run
//! # use std::time::SystemTime;
//! # use engine::log::{logger_for, LogRecord};
//! # let cfg = engine::config::parse_text("x", "frontend fe\n bind :80\n", &|_| None).unwrap().config;
//! # let (global, proxy) = (&cfg.global, &cfg.proxies[0]);
//! let logger = logger_for(global, proxy)?; // None: this frontend does not log
//! if let Some(l) = &logger {
//!     let client = "10.0.1.2:33317".parse().ok();
//!     let accepted = SystemTime::now();
//!     if !l.logs_at_end() {
//!         // No httplog/tcplog/log-format: HAProxy's "Connect from" line at accept.
//!         l.log_connect(&LogRecord::new("fe", client, accepted));
//!     }
//!     // ... at the end of each HTTP request (or TCP connection):
//!     let rec = LogRecord {
//!         backend: "be",
//!         server: "s1",
//!         t_req: 1, t_wait: 0, t_connect: 0, t_resp: 2, t_active: 3, t_total: 3,
//!         status: Some(200),
//!         bytes_read: 1234,
//!         bytes_uploaded: 78,
//!         request_line: b"GET / HTTP/1.1",
//!         ..LogRecord::new("fe", client, accepted)
//!     };
//!     l.log(&rec); // never blocks; false if skipped (dontlognull) or dropped (queue full)
//! }
//! # Ok::<(), engine::log::LogError>(())
//! ```
//!
//! Does not do: `ring@` targets, `sample` ratios, `option log-separate-errors`,
//! `option logasap`, `%[...]` fetches beyond the few listed in [`mod@format`], time zones
//! (dates are UTC).

pub mod format;
pub mod sink;
pub mod time;

use std::net::SocketAddr;
use std::time::SystemTime;

pub use format::{LogFormat, CLF_HTTP_LOG_FORMAT, HTTP_LOG_FORMAT, TCP_LOG_FORMAT};
pub use sink::{frame, logger_for, Dest, Header, LogError, LogStats, LogSystem, ProxyLogger, Target};

/// HAProxy's "absent" value for a timer (`-1` in the log line).
pub const TIME_ABSENT: i64 = -1;

/// Everything a log line may show, filled by the engine per HTTP request or per TCP
/// connection. Cheap to build: borrowed slices and integers only. Start from
/// [`LogRecord::new`] and set what is known (`LogRecord { status: Some(200), ..base }`);
/// timers left at [`TIME_ABSENT`] print `-1` as in HAProxy.
#[derive(Debug, Clone)]
pub struct LogRecord<'a> {
    /// Client address (`%ci`/`%cp`); `None` for a unix socket client.
    pub client: Option<SocketAddr>,
    /// Address the client connected to (`%fi`/`%fp`).
    pub frontend_addr: Option<SocketAddr>,
    /// Local address of the server-side connection (`%bi`/`%bp`).
    pub backend_src: Option<SocketAddr>,
    /// Server address (`%si`/`%sp`).
    pub server_addr: Option<SocketAddr>,
    /// When the connection was accepted (`%t`, `%T`, `%Tl`, `%Ts`, `%ms`).
    pub accept_date: SystemTime,
    /// When the request started (`%tr`, `%trg`, `%trl`): accept date + Th + Ti.
    pub request_date: SystemTime,
    /// Frontend name (`%f`, `%ft`).
    pub frontend: &'a str,
    /// The frontend side used TLS (`%ft` appends `~`).
    pub frontend_ssl: bool,
    /// Backend name (`%b`); HAProxy shows the frontend name when no backend was chosen.
    pub backend: &'a str,
    /// Server name (`%s`); `<NOSRV>` when none was reached, as HAProxy.
    pub server: &'a str,
    /// Th: handshake time in ms (`%Th`).
    pub t_handshake: i64,
    /// Ti: idle time before the request in ms (`%Ti`).
    pub t_idle: i64,
    /// TR: time to receive the full request in ms (`%TR`).
    pub t_req: i64,
    /// Tw: time waiting in queues in ms (`%Tw`).
    pub t_wait: i64,
    /// Tc: time to connect to the server in ms (`%Tc`).
    pub t_connect: i64,
    /// Tr: server response time in ms (`%Tr`).
    pub t_resp: i64,
    /// Ta: active time of the request, TR to end, in ms (`%Ta`).
    pub t_active: i64,
    /// Tt: total session time in ms (`%Tt`).
    pub t_total: i64,
    /// HTTP status (`%ST`); `None` prints `-1` (no response).
    pub status: Option<u16>,
    /// Bytes sent to the client (`%B`, HAProxy's "bytes_read" from the server).
    pub bytes_read: u64,
    /// Bytes received from the client (`%U`), request line and headers included as
    /// HAProxy counts them; `option dontlognull` skips records where this is 0.
    pub bytes_uploaded: u64,
    /// Captured request cookie (`%CC`); empty prints `-`.
    pub req_cookie: &'a [u8],
    /// Captured response cookie (`%CS`); empty prints `-`.
    pub resp_cookie: &'a [u8],
    /// Session state at disconnection, HAProxy's four characters (`----`, `SC--`, `CD--`):
    /// `%ts` shows the first two, `%tsc` all four.
    pub termination_state: [u8; 4],
    /// Process-wide active connections (`%ac`).
    pub actconn: u32,
    /// Frontend connections (`%fc`).
    pub feconn: u32,
    /// Backend connections (`%bc`).
    pub beconn: u32,
    /// Server connections (`%sc`).
    pub srv_conn: u32,
    /// Connection retries (`%rc`).
    pub retries: u32,
    /// The request was redispatched to another server (`%rc` gets a `+` prefix).
    pub redispatched: bool,
    /// Requests queued on the server before this one (`%sq`).
    pub srv_queue: u32,
    /// Requests queued on the backend before this one (`%bq`).
    pub backend_queue: u32,
    /// The request line as received (`%r`, `%HM`, `%HU`, `%HP`, `%HQ`, `%HV`); empty prints
    /// `<BADREQ>` for `%r`, as HAProxy.
    pub request_line: &'a [u8],
    /// Captured request headers (`%hr`, `%hrl`), in `capture request header` order.
    pub req_headers: &'a [&'a [u8]],
    /// Captured response headers (`%hs`, `%hsl`).
    pub resp_headers: &'a [&'a [u8]],
    /// Unique id (`%ID`); empty prints `-`.
    pub unique_id: &'a [u8],
    /// Per-frontend log counter (`%lc`).
    pub log_counter: u64,
    /// Request counter (`%rt`).
    pub request_counter: u64,
}

impl<'a> LogRecord<'a> {
    /// A record with every timer absent, counters at zero, no status and `----` state.
    pub fn new(frontend: &'a str, client: Option<SocketAddr>, accept_date: SystemTime) -> LogRecord<'a> {
        LogRecord {
            client,
            frontend_addr: None,
            backend_src: None,
            server_addr: None,
            accept_date,
            request_date: accept_date,
            frontend,
            frontend_ssl: false,
            backend: frontend,
            server: NOSRV,
            t_handshake: TIME_ABSENT,
            t_idle: TIME_ABSENT,
            t_req: TIME_ABSENT,
            t_wait: TIME_ABSENT,
            t_connect: TIME_ABSENT,
            t_resp: TIME_ABSENT,
            t_active: TIME_ABSENT,
            t_total: TIME_ABSENT,
            status: None,
            bytes_read: 0,
            bytes_uploaded: 0,
            req_cookie: b"",
            resp_cookie: b"",
            termination_state: *b"----",
            actconn: 0,
            feconn: 0,
            beconn: 0,
            srv_conn: 0,
            retries: 0,
            redispatched: false,
            srv_queue: 0,
            backend_queue: 0,
            request_line: b"",
            req_headers: &[],
            resp_headers: &[],
            unique_id: b"",
            log_counter: 0,
            request_counter: 0,
        }
    }
}

/// Server name HAProxy logs when no server was reached.
pub const NOSRV: &str = "<NOSRV>";

/// Syslog severities (RFC 5424 numbering), as the `level` words of `log` lines.
pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Severity of access logs (HAProxy sends traffic logs at `info`).
pub const LEVEL_INFO: u8 = 6;

/// Syslog facilities in code order (`kern` = 0 ... `local7` = 23).
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
    "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

/// First character of the termination state: why the session ended (HAProxy's
/// `sess_term_cond`, configuration manual 8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TermCause {
    /// `-`: normal end.
    Normal = b'-',
    /// `L`: answered locally by the proxy (redirect, deny, stats, error file).
    Local = b'L',
    /// `c`: client-side timeout.
    ClientTimeout = b'c',
    /// `C`: client aborted or sent something invalid.
    ClientAbort = b'C',
    /// `s`: server-side timeout.
    ServerTimeout = b's',
    /// `S`: server aborted, refused the connection or sent something invalid.
    ServerError = b'S',
    /// `P`: the proxy refused or aborted (deny, invalid response, security check).
    Proxy = b'P',
    /// `R`: a resource ran out (memory, sockets, ports).
    Resource = b'R',
    /// `I`: internal error.
    Internal = b'I',
    /// `D`: the server was marked down and the session killed.
    Down = b'D',
    /// `K`: killed by the administrator (Runtime API `shutdown session`).
    Killed = b'K',
    /// `U`: killed because a backup server came up (`on-marked-up shutdown-backup-sessions`).
    Up = b'U',
}

/// Second character of the termination state: the phase the session was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TermPhase {
    /// `-`: normal end, after the last data was sent.
    None = b'-',
    /// `R`: waiting for a complete request from the client.
    Request = b'R',
    /// `Q`: waiting in a queue for a connection slot.
    Queue = b'Q',
    /// `C`: waiting for the connection to the server.
    Connect = b'C',
    /// `H`: waiting for complete response headers.
    Headers = b'H',
    /// `D`: in the data phase.
    Data = b'D',
    /// `L`: sending the last data to the client.
    Last = b'L',
    /// `T`: tarpitted.
    Tarpit = b'T',
}

/// The four `%tsc` characters for a session without persistence cookies (`--` last).
pub fn termination_state(cause: TermCause, phase: TermPhase) -> [u8; 4] {
    [cause as u8, phase as u8, b'-', b'-']
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_states_as_haproxy_writes_them() {
        let table = [
            (TermCause::Normal, TermPhase::None, b"----"),
            (TermCause::ServerError, TermPhase::Connect, b"SC--"),
            (TermCause::ClientAbort, TermPhase::Data, b"CD--"),
            (TermCause::ServerTimeout, TermPhase::Headers, b"sH--"),
            (TermCause::Local, TermPhase::Request, b"LR--"),
            (TermCause::ClientTimeout, TermPhase::Request, b"cR--"),
            (TermCause::Proxy, TermPhase::Tarpit, b"PT--"),
        ];
        for (c, p, want) in table {
            assert_eq!(&termination_state(c, p), want);
        }
    }

    #[test]
    fn new_record_defaults() {
        let r = LogRecord::new("fe", None, SystemTime::UNIX_EPOCH);
        assert_eq!(r.backend, "fe");
        assert_eq!(r.server, NOSRV);
        assert_eq!(r.termination_state, *b"----");
        assert_eq!(r.t_total, TIME_ABSENT);
        assert_eq!(r.status, None);
    }
}
