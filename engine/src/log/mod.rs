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
//! Does not do: `ring@` targets, `sample` ratios, `option log-separate-errors`,
//! `option logasap`, `%[...]` fetches beyond the few listed in [`format`], time zones
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
    /// Bytes received from the client (`%U`).
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
