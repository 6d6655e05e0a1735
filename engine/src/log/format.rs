//! HAProxy `log-format` strings: compile once, render per request.
//!
//! Supported: every `%` variable of HAProxy's table that ringlb can fill (see [`VARIABLES`]),
//! the flags `%{+Q}` (quote), `%{+X}` (hexadecimal), `%{+E}` (escape `"`, `\`, `]`),
//! `%{+M}` (accepted, no effect), `%{-F}` to remove one, `%{...}o` to set them for all
//! following variables, `%%` for a literal `%`, spaces collapsing into one separator that is
//! only written after something non-empty (as HAProxy's `LOG_FMT_SEPARATOR`), and `%[...]`
//! sample expressions with the fetches `src`, `src_port`, `dst`, `dst_port`, `fe_name`,
//! `be_name`, `srv_name`, `status`, `method`, `path`, `query`, `url`, `req.ver`,
//! `unique-id` and the converters `lower`/`upper`. Other fetches compile and render `-`
//! (listed by [`LogFormat::unsupported`] so the caller can warn).

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::time::{push_hex, push_i64, push_padded, push_u64, Civil};
use super::LogRecord;

/// `option httplog`.
pub const HTTP_LOG_FORMAT: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc \
%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";

/// `option httplog clf`.
pub const CLF_HTTP_LOG_FORMAT: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s \
%TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl";

/// `option tcplog`.
pub const TCP_LOG_FORMAT: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/// Longest accepted format string: HAProxy configuration lines are limited to 64 KiB;
/// formats are a few hundred bytes in practice.
pub const FORMAT_BYTES_MAX: usize = 16 * 1024;

/// Most parts (text, separators, variables) in one compiled format: bounds render work.
pub const FORMAT_PARTS_MAX: usize = 1024;

/// Longest rendered line: HAProxy's largest `len` (65535); targets truncate further.
pub const RENDER_BYTES_MAX: usize = 65_535;

/// Longest `%{...}` flag list.
pub const FLAGS_BYTES_MAX: usize = 64;

/// Longest `%[...]` expression.
pub const SAMPLE_BYTES_MAX: usize = 256;

/// Why a format string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// `%name` not in HAProxy's table.
    #[error("no such format alias '{name}' at position {pos}. If you wanted to emit the '%' character verbatim, you need to use '%%'")]
    UnknownVariable {
        /// The variable name.
        name: String,
        /// Byte offset of the `%`.
        pos: usize,
    },
    /// `%` followed by nothing usable.
    #[error("unexpected character after '%' at position {pos}; to emit '%' write '%%'")]
    MissingName {
        /// Byte offset of the `%`.
        pos: usize,
    },
    /// The string ends right after a `%`.
    #[error("truncated line after '%' at position {pos}")]
    Truncated {
        /// Byte offset of the `%`.
        pos: usize,
    },
    /// `%{` or `%[` without its closing bracket (or longer than the limit).
    #[error("missing '{close}' for the '%' at position {pos} (max {max} bytes)")]
    Unterminated {
        /// The expected closing character.
        close: char,
        /// Byte offset of the `%`.
        pos: usize,
        /// The length limit searched.
        max: usize,
    },
    /// Format string too long.
    #[error("log-format too long ({len} bytes, max {max})")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too many parts.
    #[error("log-format has too many parts (max {max})")]
    TooManyParts {
        /// The limit.
        max: usize,
    },
}

const OPT_QUOTE: u8 = 1;
const OPT_HEX: u8 = 2;
const OPT_ESC: u8 = 4;
const OPT_MANDATORY: u8 = 8;

/// A log variable (`%ci`, `%TR`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Var {
    /// `%ci`
    ClientIp,
    /// `%cp`
    ClientPort,
    /// `%fi`
    FrontendIp,
    /// `%fp`
    FrontendPort,
    /// `%bi`
    BackendSrcIp,
    /// `%bp`
    BackendSrcPort,
    /// `%si`
    ServerIp,
    /// `%sp`
    ServerPort,
    /// `%t`
    Date,
    /// `%tr`
    ReqDate,
    /// `%T`
    GmtDate,
    /// `%Tl`
    LocalDate,
    /// `%trg`
    GmtReqDate,
    /// `%trl`
    LocalReqDate,
    /// `%Ts`
    Timestamp,
    /// `%ms`
    AcceptMs,
    /// `%f`
    Frontend,
    /// `%ft`
    FrontendTransport,
    /// `%b`
    Backend,
    /// `%s`
    Server,
    /// `%Th`
    Th,
    /// `%Ti`
    Ti,
    /// `%TR`
    TR,
    /// `%Tq`
    Tq,
    /// `%Tw`
    Tw,
    /// `%Tc`
    Tc,
    /// `%Tr`
    Tr,
    /// `%Td`
    Td,
    /// `%Ta`
    Ta,
    /// `%Tt`
    Tt,
    /// `%Tu`
    Tu,
    /// `%ST`
    Status,
    /// `%B`
    BytesRead,
    /// `%U`
    BytesUploaded,
    /// `%CC`
    ReqCookie,
    /// `%CS`
    RespCookie,
    /// `%ts`
    TermState,
    /// `%tsc`
    TermStateCookie,
    /// `%ac`
    ActConn,
    /// `%fc`
    FeConn,
    /// `%bc`
    BeConn,
    /// `%sc`
    SrvConn,
    /// `%rc`
    Retries,
    /// `%sq`
    SrvQueue,
    /// `%bq`
    BeQueue,
    /// `%hr`
    ReqHeaders,
    /// `%hrl`
    ReqHeadersList,
    /// `%hs`
    RespHeaders,
    /// `%hsl`
    RespHeadersList,
    /// `%r`
    Request,
    /// `%HM`
    Method,
    /// `%HU`
    Uri,
    /// `%HP`
    Path,
    /// `%HPO`
    PathOnly,
    /// `%HQ`
    Query,
    /// `%HV`
    Version,
    /// `%ID`
    UniqueId,
    /// `%H`
    Hostname,
    /// `%pid`
    Pid,
    /// `%lc`
    LogCounter,
    /// `%rt`
    RequestCounter,
    /// `%OG`: the log origin (`txn_close` for end-of-request logs)
    Origin,
    /// `%sslc` (no TLS in ringlb: `-`)
    SslCipher,
    /// `%sslv` (no TLS in ringlb: `-`)
    SslVersion,
}

/// HAProxy's variable names and what they map to.
pub const VARIABLES: &[(&str, Var)] = &[
    ("ci", Var::ClientIp),
    ("cp", Var::ClientPort),
    ("fi", Var::FrontendIp),
    ("fp", Var::FrontendPort),
    ("bi", Var::BackendSrcIp),
    ("bp", Var::BackendSrcPort),
    ("si", Var::ServerIp),
    ("sp", Var::ServerPort),
    ("t", Var::Date),
    ("tr", Var::ReqDate),
    ("T", Var::GmtDate),
    ("Tl", Var::LocalDate),
    ("trg", Var::GmtReqDate),
    ("trl", Var::LocalReqDate),
    ("Ts", Var::Timestamp),
    ("ms", Var::AcceptMs),
    ("f", Var::Frontend),
    ("ft", Var::FrontendTransport),
    ("b", Var::Backend),
    ("s", Var::Server),
    ("Th", Var::Th),
    ("Ti", Var::Ti),
    ("TR", Var::TR),
    ("Tq", Var::Tq),
    ("Tw", Var::Tw),
    ("Tc", Var::Tc),
    ("Tr", Var::Tr),
    ("Td", Var::Td),
    ("Ta", Var::Ta),
    ("Tt", Var::Tt),
    ("Tu", Var::Tu),
    ("ST", Var::Status),
    ("B", Var::BytesRead),
    ("U", Var::BytesUploaded),
    ("CC", Var::ReqCookie),
    ("CS", Var::RespCookie),
    ("ts", Var::TermState),
    ("tsc", Var::TermStateCookie),
    ("ac", Var::ActConn),
    ("fc", Var::FeConn),
    ("bc", Var::BeConn),
    ("sc", Var::SrvConn),
    ("rc", Var::Retries),
    ("sq", Var::SrvQueue),
    ("bq", Var::BeQueue),
    ("hr", Var::ReqHeaders),
    ("hrl", Var::ReqHeadersList),
    ("hs", Var::RespHeaders),
    ("hsl", Var::RespHeadersList),
    ("r", Var::Request),
    ("HM", Var::Method),
    ("HU", Var::Uri),
    ("HP", Var::Path),
    ("HPO", Var::PathOnly),
    ("HQ", Var::Query),
    ("HV", Var::Version),
    ("ID", Var::UniqueId),
    ("H", Var::Hostname),
    ("pid", Var::Pid),
    ("lc", Var::LogCounter),
    ("rt", Var::RequestCounter),
    ("OG", Var::Origin),
    ("sslc", Var::SslCipher),
    ("sslv", Var::SslVersion),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    Var(Var),
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    Lower,
    Upper,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Box<[u8]>),
    Sep,
    Var(Var, u8),
    Sample(Fetch, Option<Conv>, u8),
}

/// A compiled `log-format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    parts: Vec<Part>,
    hostname: Box<str>,
    pid: u32,
    unsupported: Vec<String>,
}

/// `%r`, `%HU`...: `"`, `#`, control and non-ASCII bytes become `#XX` (HAProxy's
/// `url_encode_map`).
static URL_ENCODE: [bool; 256] = encode_map(b"\"#");
/// `%hr`, `%hs`: also `{`, `|`, `}` (HAProxy's `hdr_encode_map`).
static HDR_ENCODE: [bool; 256] = encode_map(b"\"#{|}");
/// No encoding (names, cookies as HAProxy's `lf_text`).
static NO_ENCODE: [bool; 256] = [false; 256];

const fn encode_map(extra: &[u8]) -> [bool; 256] {
    let mut m = [false; 256];
    let mut i = 0;
    while i < 256 {
        m[i] = i < 32 || i >= 127;
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        m[extra[j] as usize] = true;
        j += 1;
    }
    m
}

impl LogFormat {
    /// Compiles a HAProxy log-format string.
    pub fn compile(fmt: &str) -> Result<LogFormat, FormatError> {
        let b = fmt.as_bytes();
        if b.len() > FORMAT_BYTES_MAX {
            return Err(FormatError::TooLong {
                len: b.len(),
                max: FORMAT_BYTES_MAX,
            });
        }
        let mut parts: Vec<Part> = Vec::new();
        let mut unsupported = Vec::new();
        let mut text: Vec<u8> = Vec::new();
        let mut defaults = 0u8;
        let mut uses_host = false;
        let mut i = 0;
        let flush = |text: &mut Vec<u8>, parts: &mut Vec<Part>| {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(text).into_boxed_slice()));
            }
        };
        while let Some(&c) = b.get(i) {
            if parts.len() >= FORMAT_PARTS_MAX {
                return Err(FormatError::TooManyParts {
                    max: FORMAT_PARTS_MAX,
                });
            }
            match c {
                b' ' => {
                    flush(&mut text, &mut parts);
                    if parts.last() != Some(&Part::Sep) {
                        parts.push(Part::Sep);
                    }
                    i += 1;
                }
                b'%' if b.get(i + 1) == Some(&b'%') => {
                    text.push(b'%');
                    i += 2;
                }
                b'%' => {
                    let pos = i;
                    let mut j = i + 1;
                    let mut opts = defaults;
                    let mut has_flags = false;
                    match b.get(j) {
                        None => return Err(FormatError::Truncated { pos }),
                        Some(c) if c.is_ascii_digit() || *c == b' ' || *c == b'\t' => {
                            return Err(FormatError::MissingName { pos })
                        }
                        Some(c) if !c.is_ascii_alphabetic() && *c != b'{' && *c != b'[' => {
                            // HAProxy drops a '%' followed by another character.
                            i += 1;
                            continue;
                        }
                        Some(_) => {}
                    }
                    flush(&mut text, &mut parts);
                    if b.get(j) == Some(&b'{') {
                        let close =
                            find(b, j + 1, b'}', FLAGS_BYTES_MAX).ok_or(FormatError::Unterminated {
                                close: '}',
                                pos,
                                max: FLAGS_BYTES_MAX,
                            })?;
                        opts = parse_flags(fmt.get(j + 1..close).unwrap_or(""), opts);
                        has_flags = true;
                        j = close + 1;
                        if !b.get(j).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'[') {
                            return Err(FormatError::MissingName { pos });
                        }
                    }
                    if b.get(j) == Some(&b'[') {
                        let close =
                            find(b, j + 1, b']', SAMPLE_BYTES_MAX).ok_or(FormatError::Unterminated {
                                close: ']',
                                pos,
                                max: SAMPLE_BYTES_MAX,
                            })?;
                        let expr = fmt.get(j + 1..close).unwrap_or("");
                        let (fetch, conv) = parse_sample(expr);
                        if fetch == Fetch::Unsupported {
                            unsupported.push(expr.to_string());
                        }
                        parts.push(Part::Sample(fetch, conv, opts));
                        i = close + 1;
                        continue;
                    }
                    let start = j;
                    while b.get(j).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        j += 1;
                    }
                    let name = fmt.get(start..j).unwrap_or("");
                    if name == "o" {
                        if has_flags {
                            defaults = opts;
                        }
                    } else {
                        let var = VARIABLES
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| *v)
                            .ok_or_else(|| FormatError::UnknownVariable {
                                name: name.to_string(),
                                pos,
                            })?;
                        uses_host |= var == Var::Hostname;
                        parts.push(Part::Var(var, opts));
                    }
                    i = j;
                }
                _ => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        flush(&mut text, &mut parts);
        debug_assert!(parts.len() <= FORMAT_PARTS_MAX + 1);
        debug_assert!(
            !parts.windows(2).any(|w| w[0] == Part::Sep && w[1] == Part::Sep),
            "separators collapse"
        );
        Ok(LogFormat {
            parts,
            hostname: if uses_host {
                system_hostname().into()
            } else {
                "".into()
            },
            pid: std::process::id(),
            unsupported,
        })
    }

    /// `%[...]` expressions this build cannot evaluate (they render `-`).
    pub fn unsupported(&self) -> &[String] {
        &self.unsupported
    }

    /// Replaces the hostname `%H` prints (default: the system hostname).
    pub fn set_hostname(&mut self, name: &str) {
        self.hostname = name.into();
    }

    /// True when the format has no parts (an empty `log-format ""` disables logging).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Appends the line for `rec` to `out` (no newline; at most [`RENDER_BYTES_MAX`] bytes).
    pub fn render(&self, rec: &LogRecord<'_>, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(256);
        let mut last_sep = true;
        for part in &self.parts {
            let before = out.len();
            match part {
                Part::Sep => {
                    if !last_sep {
                        out.push(b' ');
                        last_sep = true;
                    }
                    continue;
                }
                Part::Text(t) => out.extend_from_slice(t),
                Part::Var(v, o) => self.var(*v, *o, rec, out),
                Part::Sample(Fetch::Var(v), conv, o) => {
                    let from = out.len();
                    self.var(*v, *o, rec, out);
                    match conv {
                        Some(Conv::Lower) => out.get_mut(from..).unwrap_or_default().make_ascii_lowercase(),
                        Some(Conv::Upper) => out.get_mut(from..).unwrap_or_default().make_ascii_uppercase(),
                        None => {}
                    }
                }
                Part::Sample(Fetch::Unsupported, _, o) => text(out, b"", *o, &NO_ENCODE),
            }
            if out.len() != before {
                last_sep = false;
            }
            if out.len() - start > RENDER_BYTES_MAX {
                break;
            }
        }
        out.truncate(start + RENDER_BYTES_MAX);
        debug_assert!(out.len() >= start && out.len() - start <= RENDER_BYTES_MAX);
    }

    fn var(&self, v: Var, o: u8, r: &LogRecord<'_>, out: &mut Vec<u8>) {
        match v {
            Var::ClientIp => ip(out, r.client, o),
            Var::ClientPort => port(out, r.client, o),
            Var::FrontendIp => ip(out, r.frontend_addr, o),
            Var::FrontendPort => port(out, r.frontend_addr, o),
            Var::BackendSrcIp => ip(out, r.backend_src, o),
            Var::BackendSrcPort => port(out, r.backend_src, o),
            Var::ServerIp => ip(out, r.server_addr, o),
            Var::ServerPort => port(out, r.server_addr, o),
            Var::Date => Civil::from_time(r.accept_date).write_log_ms(out),
            Var::ReqDate => Civil::from_time(r.request_date).write_log_ms(out),
            Var::GmtDate | Var::LocalDate => Civil::from_time(r.accept_date).write_log_tz(out),
            Var::GmtReqDate | Var::LocalReqDate => Civil::from_time(r.request_date).write_log_tz(out),
            Var::Timestamp => num_hex(out, Civil::from_time(r.accept_date).unix, o, 4),
            Var::AcceptMs => {
                let ms = u64::from(Civil::from_time(r.accept_date).millis());
                if o & OPT_HEX != 0 {
                    push_hex(out, ms, 2);
                } else {
                    push_padded(out, ms, 3);
                }
            }
            Var::Frontend => text(out, r.frontend.as_bytes(), o, &NO_ENCODE),
            Var::FrontendTransport => {
                if r.frontend_ssl {
                    let q = o & OPT_QUOTE != 0;
                    if q {
                        out.push(b'"');
                    }
                    text(out, r.frontend.as_bytes(), o & !OPT_QUOTE, &NO_ENCODE);
                    out.push(b'~');
                    if q {
                        out.push(b'"');
                    }
                } else {
                    text(out, r.frontend.as_bytes(), o, &NO_ENCODE);
                }
            }
            Var::Backend => text(out, r.backend.as_bytes(), o, &NO_ENCODE),
            Var::Server => text(out, r.server.as_bytes(), o, &NO_ENCODE),
            Var::Th => push_i64(out, r.t_handshake),
            Var::Ti => push_i64(out, r.t_idle),
            Var::TR => push_i64(out, r.t_req),
            Var::Tq => push_i64(out, tq(r)),
            Var::Tw => push_i64(out, r.t_wait),
            Var::Tc => push_i64(out, r.t_connect),
            Var::Tr => push_i64(out, r.t_resp),
            Var::Td => {
                let q = tq(r);
                let parts = [r.t_total, q, r.t_wait, r.t_connect, r.t_resp];
                let td = if parts.iter().any(|t| *t < 0) {
                    -1
                } else {
                    let spent = q
                        .saturating_add(r.t_wait)
                        .saturating_add(r.t_connect)
                        .saturating_add(r.t_resp);
                    r.t_total.saturating_sub(spent)
                };
                push_i64(out, td);
            }
            Var::Ta => push_i64(out, r.t_active),
            Var::Tt => push_i64(out, r.t_total),
            Var::Tu => push_i64(
                out,
                if r.t_total < 0 {
                    -1
                } else {
                    r.t_total - r.t_idle.max(0)
                },
            ),
            Var::Status => push_i64(out, r.status.map_or(-1, i64::from)),
            Var::BytesRead => push_u64(out, r.bytes_read),
            Var::BytesUploaded => push_u64(out, r.bytes_uploaded),
            Var::ReqCookie => text(out, r.req_cookie, o, &NO_ENCODE),
            Var::RespCookie => text(out, r.resp_cookie, o, &NO_ENCODE),
            Var::TermState => text(out, r.termination_state.get(..2).unwrap_or(b"--"), o, &NO_ENCODE),
            Var::TermStateCookie => text(out, &r.termination_state, o, &NO_ENCODE),
            Var::ActConn => push_u64(out, u64::from(r.actconn)),
            Var::FeConn => push_u64(out, u64::from(r.feconn)),
            Var::BeConn => push_u64(out, u64::from(r.beconn)),
            Var::SrvConn => push_u64(out, u64::from(r.srv_conn)),
            Var::Retries => {
                if r.redispatched {
                    out.push(b'+');
                }
                push_u64(out, u64::from(r.retries));
            }
            Var::SrvQueue => push_u64(out, u64::from(r.srv_queue)),
            Var::BeQueue => push_u64(out, u64::from(r.backend_queue)),
            Var::ReqHeaders => headers_braced(out, r.req_headers, o),
            Var::RespHeaders => headers_braced(out, r.resp_headers, o),
            Var::ReqHeadersList => headers_list(out, r.req_headers, o),
            Var::RespHeadersList => headers_list(out, r.resp_headers, o),
            Var::Request => {
                let line = if r.request_line.is_empty() {
                    &b"<BADREQ>"[..]
                } else {
                    r.request_line
                };
                text(out, line, o, &URL_ENCODE);
            }
            Var::Method => text(out, req_split(r.request_line).0, o, &URL_ENCODE),
            Var::Uri => text(out, req_split(r.request_line).1, o, &URL_ENCODE),
            Var::Path => {
                let uri = req_split(r.request_line).1;
                text(out, uri_path(uri), o, &URL_ENCODE)
            }
            Var::PathOnly => {
                let p = uri_path(req_split(r.request_line).1);
                text(out, strip_authority(p), o, &URL_ENCODE)
            }
            Var::Query => {
                let uri = req_split(r.request_line).1;
                let q = memchr::memchr(b'?', uri)
                    .and_then(|i| uri.get(i..))
                    .unwrap_or(b"");
                text(out, q, o, &URL_ENCODE)
            }
            Var::Version => text(out, req_split(r.request_line).2, o, &URL_ENCODE),
            Var::UniqueId => text(out, r.unique_id, o, &NO_ENCODE),
            Var::Hostname => text(out, self.hostname.as_bytes(), o, &NO_ENCODE),
            Var::Pid => num_hex(out, u64::from(self.pid), o, 4),
            Var::LogCounter => num_hex(out, r.log_counter, o, 4),
            Var::RequestCounter => num_hex(out, r.request_counter, o, 4),
            Var::Origin => text(out, b"txn_close", o, &NO_ENCODE),
            Var::SslCipher | Var::SslVersion => text(out, b"", o, &NO_ENCODE),
        }
    }
}

fn tq(r: &LogRecord<'_>) -> i64 {
    if r.t_req < 0 {
        -1
    } else {
        r.t_handshake
            .max(0)
            .saturating_add(r.t_idle.max(0))
            .saturating_add(r.t_req)
    }
}

fn find(b: &[u8], from: usize, c: u8, max: usize) -> Option<usize> {
    let end = b.len().min(from.saturating_add(max).saturating_add(1));
    b.get(from..end)
        .and_then(|s| memchr::memchr(c, s))
        .map(|i| from + i)
}

/// Applies `+F`/`-F` flags; unknown names (and HAProxy's `bin`, `json`, `cbor` encodings,
/// which ringlb does not do) are ignored, as HAProxy ignores names it does not know.
fn parse_flags(s: &str, mut opts: u8) -> u8 {
    for f in s.split(',') {
        let mut it = f.chars();
        let (sign, name) = (it.next(), it.as_str());
        let bit = match name {
            "Q" => OPT_QUOTE,
            "X" => OPT_HEX,
            "E" => OPT_ESC,
            "M" => OPT_MANDATORY,
            _ => continue,
        };
        match sign {
            Some('+') => opts |= bit,
            Some('-') => opts &= !bit,
            _ => {}
        }
    }
    opts
}

fn parse_sample(expr: &str) -> (Fetch, Option<Conv>) {
    let mut it = expr.split(',');
    let fetch = match it.next().unwrap_or("").trim() {
        "src" => Fetch::Var(Var::ClientIp),
        "src_port" => Fetch::Var(Var::ClientPort),
        "dst" => Fetch::Var(Var::FrontendIp),
        "dst_port" => Fetch::Var(Var::FrontendPort),
        "fe_name" => Fetch::Var(Var::Frontend),
        "be_name" => Fetch::Var(Var::Backend),
        "srv_name" => Fetch::Var(Var::Server),
        "status" => Fetch::Var(Var::Status),
        "method" => Fetch::Var(Var::Method),
        "path" => Fetch::Var(Var::Path),
        "query" => Fetch::Var(Var::Query),
        "url" => Fetch::Var(Var::Uri),
        "req.ver" => Fetch::Var(Var::Version),
        "unique-id" => Fetch::Var(Var::UniqueId),
        _ => Fetch::Unsupported,
    };
    let mut conv = None;
    for c in it {
        match c.trim() {
            "lower" => conv = Some(Conv::Lower),
            "upper" => conv = Some(Conv::Upper),
            _ => return (Fetch::Unsupported, None),
        }
    }
    (fetch, conv)
}

/// Writes a string field as HAProxy's `lf_text_len`/`lf_encode_string`: `-` when empty
/// (or `""` when quoted), bytes in `map` as `#XX`, `"`, `\`, `]` backslash-escaped with `+E`.
fn text(out: &mut Vec<u8>, s: &[u8], o: u8, map: &[bool; 256]) {
    let q = o & OPT_QUOTE != 0;
    if q {
        out.push(b'"');
    }
    if s.is_empty() {
        if !q {
            out.push(b'-');
        }
    } else if o & OPT_ESC == 0 && (std::ptr::eq(map, &NO_ENCODE) || !s.iter().any(|&c| map[c as usize])) {
        out.extend_from_slice(s);
    } else {
        for &c in s {
            if o & OPT_ESC != 0 && matches!(c, b'"' | b'\\' | b']') {
                out.push(b'\\');
                out.push(c);
            } else if map[c as usize] {
                out.push(b'#');
                push_hex(out, u64::from(c), 2);
            } else {
                out.push(c);
            }
        }
    }
    if q {
        out.push(b'"');
    }
}

fn num_hex(out: &mut Vec<u8>, v: u64, o: u8, width: usize) {
    if o & OPT_HEX != 0 {
        push_hex(out, v, width);
    } else {
        push_u64(out, v);
    }
}

fn ip(out: &mut Vec<u8>, a: Option<SocketAddr>, o: u8) {
    let Some(a) = a else {
        return text(out, b"", o, &NO_ENCODE);
    };
    let q = o & OPT_QUOTE != 0;
    if q {
        out.push(b'"');
    }
    if o & OPT_HEX != 0 {
        match a.ip() {
            IpAddr::V4(v4) => v4.octets().iter().for_each(|b| push_hex(out, u64::from(*b), 2)),
            IpAddr::V6(v6) => {
                for (k, seg) in v6.segments().iter().enumerate() {
                    if k > 0 {
                        out.push(b':');
                    }
                    push_hex(out, u64::from(*seg), 4);
                }
            }
        }
    } else {
        match a.ip() {
            IpAddr::V4(v4) => {
                // Hand-rolled: `Display` for Ipv4Addr costs ~100 ns through `fmt`.
                for (k, b) in v4.octets().iter().enumerate() {
                    if k > 0 {
                        out.push(b'.');
                    }
                    push_u64(out, u64::from(*b));
                }
            }
            // Writing to a Vec cannot fail.
            IpAddr::V6(v6) => {
                let _ = write!(out, "{v6}");
            }
        }
    }
    if q {
        out.push(b'"');
    }
}

fn port(out: &mut Vec<u8>, a: Option<SocketAddr>, o: u8) {
    match a {
        Some(a) => num_hex(out, u64::from(a.port()), o, 4),
        None => text(out, b"", o, &NO_ENCODE),
    }
}

fn headers_braced(out: &mut Vec<u8>, hs: &[&[u8]], o: u8) {
    if hs.is_empty() {
        return;
    }
    let q = o & OPT_QUOTE != 0;
    if q {
        out.push(b'"');
    }
    out.push(b'{');
    for (k, h) in hs.iter().enumerate() {
        if k > 0 {
            out.push(b'|');
        }
        text_raw(out, h, o, &HDR_ENCODE);
    }
    out.push(b'}');
    if q {
        out.push(b'"');
    }
}

fn headers_list(out: &mut Vec<u8>, hs: &[&[u8]], o: u8) {
    for (k, h) in hs.iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        text(out, h, o, &HDR_ENCODE);
    }
}

/// Like [`text`] without quotes and without `-` for empty.
fn text_raw(out: &mut Vec<u8>, s: &[u8], o: u8, map: &[bool; 256]) {
    if !s.is_empty() {
        text(out, s, o & !OPT_QUOTE, map);
    }
}

/// Splits a request line into method, URI and version (`HTTP/0.9` when absent, as HAProxy).
fn req_split(line: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let Some(sp1) = memchr::memchr(b' ', line) else {
        return (line, b"", b"");
    };
    let method = line.get(..sp1).unwrap_or(b"");
    let rest = line.get(sp1 + 1..).unwrap_or(b"");
    match memchr::memchr(b' ', rest) {
        Some(sp2) => (
            method,
            rest.get(..sp2).unwrap_or(b""),
            rest.get(sp2 + 1..).unwrap_or(b""),
        ),
        None => (method, rest, b"HTTP/0.9"),
    }
}

fn uri_path(uri: &[u8]) -> &[u8] {
    match memchr::memchr(b'?', uri) {
        Some(i) => uri.get(..i).unwrap_or(b""),
        None => uri,
    }
}

/// `http://host/path` -> `/path` (HAProxy's `%HPO`).
fn strip_authority(p: &[u8]) -> &[u8] {
    if p.first() == Some(&b'/') {
        return p;
    }
    let Some(i) = memchr::memmem::find(p, b"://") else {
        return p;
    };
    let after = p.get(i + 3..).unwrap_or(b"");
    match memchr::memchr(b'/', after) {
        Some(j) => after.get(j..).unwrap_or(b""),
        None => b"/",
    }
}

/// The system hostname from `/proc/sys/kernel/hostname` (`localhost` when unreadable).
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 253)
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn doc_record() -> LogRecord<'static> {
        // haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1
        // 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
        let t = UNIX_EPOCH + Duration::from_millis(1_233_922_454_655);
        LogRecord {
            backend: "static",
            server: "srv1",
            t_req: 10,
            t_wait: 0,
            t_connect: 30,
            t_resp: 69,
            t_active: 109,
            t_total: 109,
            status: Some(200),
            bytes_read: 2750,
            actconn: 1,
            feconn: 1,
            beconn: 1,
            srv_conn: 1,
            request_line: b"GET /index.html HTTP/1.1",
            req_headers: &[b"1wt.eu"],
            resp_headers: &[b""],
            ..LogRecord::new("http-in", Some("10.0.1.2:33317".parse().unwrap()), t)
        }
    }

    fn render(fmt: &str, r: &LogRecord<'_>) -> String {
        let f = LogFormat::compile(fmt).unwrap();
        let mut out = Vec::new();
        f.render(r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn httplog_matches_haproxy_doc_example() {
        assert_eq!(
            render(HTTP_LOG_FORMAT, &doc_record()),
            "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - \
             ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\""
        );
    }

    #[test]
    fn httplog_without_captures_has_single_spaces() {
        let r = LogRecord {
            req_headers: &[],
            resp_headers: &[],
            ..doc_record()
        };
        assert_eq!(
            render(HTTP_LOG_FORMAT, &r),
            "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - \
             ---- 1/1/1/1/0 0/0 \"GET /index.html HTTP/1.1\""
        );
    }

    #[test]
    fn tcplog_matches_haproxy_doc_example() {
        // doc 8.2.2: haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1
        // 0/0/5007 212 -- 0/0/0/0/3 0/0
        let t = UNIX_EPOCH + Duration::from_millis(1_233_922_371_443);
        let r = LogRecord {
            backend: "bck",
            server: "srv1",
            t_wait: 0,
            t_connect: 0,
            t_total: 5007,
            bytes_read: 212,
            retries: 3,
            ..LogRecord::new("fnt", Some("10.0.1.2:33313".parse().unwrap()), t)
        };
        assert_eq!(
            render(TCP_LOG_FORMAT, &r),
            "10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"
        );
    }

    #[test]
    fn clf_layout() {
        let r = LogRecord {
            req_headers: &[],
            resp_headers: &[],
            ..doc_record()
        };
        assert_eq!(
            render(CLF_HTTP_LOG_FORMAT, &r),
            "10.0.1.2 - - [06/Feb/2009:12:14:14 +0000] \"GET /index.html HTTP/1.1\" 200 2750 \"\" \"\" \
             33317 655 \"http-in\" \"static\" \"srv1\" 10 0 30 69 109 \"----\" 1 1 1 1 0 0 0 \"\" \"\" "
        );
    }

    #[test]
    fn every_variable_renders() {
        let t = UNIX_EPOCH + Duration::from_millis(1_233_922_454_655);
        let r = LogRecord {
            frontend_addr: Some("10.0.3.31:8012".parse().unwrap()),
            backend_src: Some("10.0.3.31:40000".parse().unwrap()),
            server_addr: Some("[::1]:80".parse().unwrap()),
            request_date: t + Duration::from_millis(3),
            frontend_ssl: true,
            t_handshake: 1,
            t_idle: 2,
            bytes_uploaded: 77,
            req_cookie: b"SID=1",
            resp_cookie: b"SID=2",
            termination_state: *b"CD-N",
            retries: 2,
            redispatched: true,
            srv_queue: 4,
            backend_queue: 5,
            request_line: b"POST http://h/a/b?x=1&y=\"2\" HTTP/1.0",
            req_headers: &[b"h1", b"a|b"],
            resp_headers: &[b"r1"],
            unique_id: b"ID-1",
            log_counter: 9,
            request_counter: 10,
            ..doc_record()
        };
        let table: &[(&str, &str)] = &[
            ("%ci", "10.0.1.2"),
            ("%cp", "33317"),
            ("%fi", "10.0.3.31"),
            ("%fp", "8012"),
            ("%bi", "10.0.3.31"),
            ("%bp", "40000"),
            ("%si", "::1"),
            ("%sp", "80"),
            ("%t", "06/Feb/2009:12:14:14.655"),
            ("%tr", "06/Feb/2009:12:14:14.658"),
            ("%T", "06/Feb/2009:12:14:14 +0000"),
            ("%Tl", "06/Feb/2009:12:14:14 +0000"),
            ("%trg", "06/Feb/2009:12:14:14 +0000"),
            ("%trl", "06/Feb/2009:12:14:14 +0000"),
            ("%Ts", "1233922454"),
            ("%ms", "655"),
            ("%f", "http-in"),
            ("%ft", "http-in~"),
            ("%b", "static"),
            ("%s", "srv1"),
            ("%Th", "1"),
            ("%Ti", "2"),
            ("%TR", "10"),
            ("%Tq", "13"),
            ("%Tw", "0"),
            ("%Tc", "30"),
            ("%Tr", "69"),
            ("%Td", "-3"),
            ("%Ta", "109"),
            ("%Tt", "109"),
            ("%Tu", "107"),
            ("%ST", "200"),
            ("%B", "2750"),
            ("%U", "77"),
            ("%CC", "SID=1"),
            ("%CS", "SID=2"),
            ("%ts", "CD"),
            ("%tsc", "CD-N"),
            ("%ac", "1"),
            ("%fc", "1"),
            ("%bc", "1"),
            ("%sc", "1"),
            ("%rc", "+2"),
            ("%sq", "4"),
            ("%bq", "5"),
            ("%hr", "{h1|a#7Cb}"),
            ("%hrl", "h1 a#7Cb"),
            ("%hs", "{r1}"),
            ("%hsl", "r1"),
            ("%r", "POST http://h/a/b?x=1&y=#222#22 HTTP/1.0"),
            ("%HM", "POST"),
            ("%HU", "http://h/a/b?x=1&y=#222#22"),
            ("%HP", "http://h/a/b"),
            ("%HPO", "/a/b"),
            ("%HQ", "?x=1&y=#222#22"),
            ("%HV", "HTTP/1.0"),
            ("%ID", "ID-1"),
            ("%lc", "9"),
            ("%rt", "10"),
            ("%sslc", "-"),
            ("%sslv", "-"),
            ("%{+Q}ft", "\"http-in~\""),
            ("%{+Q}ci", "\"10.0.1.2\""),
            ("%{+X}ci:%{+X}cp", "0A000102:8225"),
            ("%{+X}Ts", "498C2996"),
            ("%{+Q}CC", "\"SID=1\""),
            ("%{+E}r", "POST http://h/a/b?x=1&y=\\\"2\\\" HTTP/1.0"),
            ("%{+Q,+E}HQ", "\"?x=1&y=\\\"2\\\"\""),
            ("%{+Q}o %ci %{-Q}b %s", "\"10.0.1.2\" static \"srv1\""),
            ("%[src]:%[src_port] %[fe_name,upper]", "10.0.1.2:33317 HTTP-IN"),
            ("%[method,lower] %[path] %[ssl_fc_sni]", "post http://h/a/b -"),
            ("%pid", &std::process::id().to_string()),
            ("100%% %ST", "100% 200"),
            ("  a   b  ", "a b "),
            ("%:%ST%-", ":200-"),
            ("%{+Z,Q,+bin}r", "POST http://h/a/b?x=1&y=#222#22 HTTP/1.0"),
            ("%OG", "txn_close"),
        ];
        for (fmt, want) in table {
            assert_eq!(render(fmt, &r), *want, "format {fmt:?}");
        }
        // Every name in the table compiles.
        for (name, _) in VARIABLES {
            assert!(LogFormat::compile(&format!("%{name}")).is_ok(), "{name}");
        }
    }

    #[test]
    fn absent_values() {
        let r = LogRecord::new("fe", None, UNIX_EPOCH);
        let table: &[(&str, &str)] = &[
            ("%ci:%cp", "-:-"),
            ("%{+Q}ci", "\"\""),
            (
                "%TR/%Tw/%Tc/%Tr/%Ta/%Tt/%Tq/%Td/%Tu",
                "-1/-1/-1/-1/-1/-1/-1/-1/-1",
            ),
            ("%ST", "-1"),
            ("%b/%s", "fe/<NOSRV>"),
            ("%r", "<BADREQ>"),
            ("%{+Q}r", "\"<BADREQ>\""),
            ("%CC %CS %ID", "- - -"),
            ("%hr %hs %ST", "-1"),
            ("%HV", "-"),
        ];
        for (fmt, want) in table {
            assert_eq!(render(fmt, &r), *want, "format {fmt:?}");
        }
    }

    #[test]
    fn rejected_formats() {
        let table: &[(&str, &str)] = &[
            ("%zz", "no such format alias 'zz'"),
            ("%", "truncated line"),
            ("abc %", "truncated line"),
            ("a % b", "unexpected character"),
            ("%5", "unexpected character"),
            ("%\tx", "unexpected character"),
            ("%{+Q", "missing '}'"),
            ("%[src", "missing ']'"),
            ("%{+Q}", "unexpected character"),
            ("%{+Q}:r", "unexpected character"),
        ];
        for (fmt, want) in table {
            let e = LogFormat::compile(fmt).unwrap_err().to_string();
            assert!(e.contains(want), "{fmt:?}: {e}");
        }
        let long = "a".repeat(FORMAT_BYTES_MAX + 1);
        assert!(matches!(
            LogFormat::compile(&long),
            Err(FormatError::TooLong { .. })
        ));
        let many = "%B ".repeat(FORMAT_PARTS_MAX);
        assert!(matches!(
            LogFormat::compile(&many),
            Err(FormatError::TooManyParts { .. })
        ));
    }

    #[test]
    fn render_is_bounded() {
        let line = vec![b'a'; RENDER_BYTES_MAX * 2];
        let r = LogRecord {
            request_line: &line,
            ..doc_record()
        };
        let f = LogFormat::compile("%r %r").unwrap();
        let mut out = b"prefix".to_vec();
        f.render(&r, &mut out);
        assert_eq!(out.len(), 6 + RENDER_BYTES_MAX);
        assert!(out.starts_with(b"prefixaaa"));
    }

    #[test]
    fn control_bytes_are_encoded() {
        let r = LogRecord {
            request_line: b"GET /\x01\xff#x HTTP/1.1",
            ..doc_record()
        };
        assert_eq!(render("%r", &r), "GET /#01#FF#23x HTTP/1.1");
        let r = LogRecord {
            req_headers: &[b"{a}\"\n"],
            ..doc_record()
        };
        assert_eq!(render("%hr", &r), "{#7Ba#7D#22#0A}");
    }
}
