//! Request and response head parsers: start line plus header fields, recorded as
//! offsets into the caller's receive buffer (zero-copy), validated strictly enough
//! that no ambiguous message is ever forwarded (RFC 9112 and HAProxy's rules).

use memchr::memchr;

use super::chars::{first_not, first_not_uri, first_not_value, is_ows, is_token, list_items, trim_ows};

/// HAProxy's `tune.bufsize` default: one buffer holds a whole head.
pub const TUNE_BUFSIZE_DEFAULT: usize = 16384;
/// HAProxy's `tune.maxrewrite` default: the part of a buffer kept free for header
/// rewrites, so a head must fit in `bufsize - maxrewrite`.
pub const TUNE_MAXREWRITE_DEFAULT: usize = 1024;
/// HAProxy's `tune.http.maxhdr` default: more header fields than this get a 400.
pub const TUNE_HTTP_MAXHDR_DEFAULT: usize = 101;
/// Ceiling on any configured head size: offsets are stored as `u32`, and HAProxy
/// itself refuses buffers this large.
pub const HEAD_BYTES_CEILING: usize = 1 << 24;
/// Ceiling on any configured header count: HAProxy caps `tune.http.maxhdr` at 32767.
pub const HEADERS_CEILING: usize = 32767;

const _: () = assert!(TUNE_BUFSIZE_DEFAULT > TUNE_MAXREWRITE_DEFAULT);
const _: () = assert!(TUNE_BUFSIZE_DEFAULT <= HEAD_BYTES_CEILING);
const _: () = assert!(TUNE_HTTP_MAXHDR_DEFAULT <= HEADERS_CEILING);
const _: () = assert!(HEAD_BYTES_CEILING <= u32::MAX as usize);

/// Size limits applied to one head. Values above the ceilings are clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head accepted, start line and blank line included (bytes).
    pub head_bytes_max: usize,
    /// Largest number of header fields accepted.
    pub headers_max: usize,
    /// Reject an HTTP/1.1 request without `Host` (RFC 9112 section 3.2 says
    /// MUST; HAProxy accepts it, so the default is false).
    pub require_host: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            head_bytes_max: TUNE_BUFSIZE_DEFAULT - TUNE_MAXREWRITE_DEFAULT,
            headers_max: TUNE_HTTP_MAXHDR_DEFAULT,
            require_host: false,
        }
    }
}

impl Limits {
    /// Limits derived from HAProxy's `tune.bufsize`, `tune.maxrewrite` and `tune.http.maxhdr`.
    pub fn from_tune(bufsize: usize, maxrewrite: usize, maxhdr: usize) -> Limits {
        Limits {
            head_bytes_max: bufsize.saturating_sub(maxrewrite).max(1),
            headers_max: maxhdr,
            require_host: false,
        }
    }

    fn head_max(&self) -> usize {
        self.head_bytes_max.clamp(1, HEAD_BYTES_CEILING)
    }

    fn hdr_max(&self) -> usize {
        self.headers_max.min(HEADERS_CEILING)
    }
}

/// A byte range `[start, end)` in the buffer that was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end && end <= HEAD_BYTES_CEILING);
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The bytes of this span in `buf` (empty if `buf` is not the parsed buffer).
    #[inline]
    pub fn get<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(self.start as usize..self.end as usize).unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// True when the span holds no byte.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One header field: name and value (OWS trimmed) as spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Field name, as received (case kept).
    pub name: Span,
    /// Field value without leading or trailing whitespace.
    pub value: Span,
}

/// HTTP version of a message: only 1.0 and 1.1 are spoken on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: close by default.
    Http10,
    /// `HTTP/1.1`: keep-alive by default, `Host` required.
    Http11,
}

impl Version {
    /// The version as written on the wire.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        }
    }
}

/// Request method, with the ones that change framing or routing named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: the response never has a body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`: authority-form target; a 2xx answer turns into a tunnel.
    Connect,
    /// `OPTIONS`: the only method allowed the `*` target.
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other token; read the bytes from [`RequestHead::method`].
    Other,
}

impl Method {
    /// Classifies a method token (case-sensitive, as RFC 9110 says).
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

/// How the body of a message is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body: the next message starts right after the head.
    None,
    /// Exactly this many bytes (never 0: that is `None`).
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`: feed the bytes to a [`super::ChunkedDecoder`].
    Chunked,
    /// Responses only: the body ends when the server closes.
    CloseDelimited,
    /// Responses only: `101 Switching Protocols` or a 2xx answer to `CONNECT`;
    /// from here on bytes are relayed both ways unparsed.
    Tunnel,
}

/// Tokens seen in `Connection` header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionTokens {
    /// `close` was listed.
    pub close: bool,
    /// `keep-alive` was listed.
    pub keep_alive: bool,
    /// `upgrade` was listed.
    pub upgrade: bool,
}

/// What went wrong in a head. Each maps to 400 (request) or 502 (response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The head does not fit in the buffer (`tune.bufsize - tune.maxrewrite`).
    #[error("head too large (max {max} bytes)")]
    HeadTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// More header fields than `tune.http.maxhdr`.
    #[error("too many headers (max {max})")]
    TooManyHeaders {
        /// The limit in fields.
        max: usize,
    },
    /// The method is not a token or not followed by one SP.
    #[error("invalid method")]
    InvalidMethod,
    /// A CTL, SP, `#`, DEL or non-ASCII byte in the target, or a target form
    /// the method does not allow.
    #[error("invalid request target")]
    InvalidTarget,
    /// Anything but `HTTP/1.0` or `HTTP/1.1`.
    #[error("invalid http version")]
    InvalidVersion,
    /// Not `SP 3DIGIT [SP reason]` after the version, or a CTL in the reason.
    #[error("invalid status line")]
    InvalidStatus,
    /// A CR not followed by LF.
    #[error("bare cr")]
    BareCr,
    /// An empty name, a byte that is not a token, or no colon.
    #[error("invalid header name")]
    InvalidHeaderName,
    /// `Name : value`: RFC 9112 section 5.1 requires a 400.
    #[error("whitespace between header name and colon")]
    WhitespaceBeforeColon,
    /// A header line starting with SP or HTAB (obsolete line folding).
    #[error("obsolete line folding")]
    ObsFold,
    /// A CTL (NUL included) or DEL in a header value.
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// Not a list of decimal numbers fitting in 64 bits.
    #[error("invalid content-length")]
    InvalidContentLength,
    /// Two different Content-Length values (identical duplicates are merged).
    #[error("conflicting content-length values")]
    ConflictingContentLength,
    /// Both framings present: ambiguous, never forwarded.
    #[error("content-length with transfer-encoding")]
    ContentLengthWithTransferEncoding,
    /// The last transfer coding is not `chunked`.
    #[error("transfer-encoding not ending with chunked")]
    TransferEncodingNotChunked,
    /// `chunked` listed twice (or not last).
    #[error("chunked applied twice")]
    ChunkedTwice,
    /// An empty or non-token transfer coding.
    #[error("invalid transfer-encoding")]
    InvalidTransferEncoding,
    /// RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    #[error("transfer-encoding in http/1.0 message")]
    TransferEncodingHttp10,
    /// RFC 9112 section 3.2: an HTTP/1.1 request must carry exactly one Host.
    #[error("missing host header")]
    MissingHost,
    /// Two `Host` fields with different values (identical ones are merged).
    #[error("conflicting host headers")]
    DuplicateHost,
    /// The Host field names another authority than the absolute-form target.
    #[error("host header does not match the request target")]
    HostMismatch,
}

/// A rejected head: what, where, and the status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Offset in the buffer where it was noticed.
    pub offset: usize,
    /// 400 for a request from a client, 502 for a response from a server.
    pub status: u16,
}

/// Result of feeding bytes to a head parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No complete head yet: call again with the same bytes and more after them.
    Incomplete,
    /// A head of this many bytes was parsed (the body, if any, starts there).
    Complete(usize),
}

/// Which side a head comes from: decides the error status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

impl Side {
    fn status(self) -> u16 {
        match self {
            Side::Request => 400,
            Side::Response => 502,
        }
    }
}

fn err(side: Side, kind: ErrorKind, offset: usize) -> ParseError {
    ParseError {
        kind,
        offset,
        status: side.status(),
    }
}

/// Where a head parser stands between calls, so bytes arriving a few at a time
/// cost linear time overall: complete lines are parsed once, and the incomplete
/// last line is only searched for its LF from where the last search stopped.
#[derive(Debug, Clone, Default)]
struct Scan {
    /// A head is being parsed (false: the next call starts a new one).
    in_progress: bool,
    /// The start line was parsed.
    start_done: bool,
    /// Offset of the first byte of the next unparsed line.
    next: usize,
    /// Bytes before this offset hold no LF beyond `next`.
    scanned: usize,
    /// Framing-relevant fields seen so far.
    fields: Fields,
}

impl Scan {
    /// Starts a new head when the previous one completed or failed.
    fn begin(&mut self, headers: &mut Vec<Header>) {
        if !self.in_progress {
            *self = Scan {
                in_progress: true,
                ..Scan::default()
            };
            headers.clear();
        }
    }

    /// Fast path for the common case, tried once per line (never on a line already
    /// found incomplete, so trickled input stays linear): a well-formed header line
    /// or the blank line at `next`, found without a separate search for its LF.
    /// `None` leaves the line to [`Scan::next_line`], which decides errors exactly.
    #[inline]
    fn fast_line(&mut self, buf: &[u8], max: usize, side: Side) -> Result<Option<FastLine>, ParseError> {
        let pos = self.next;
        if !self.start_done || self.scanned > pos {
            return Ok(None);
        }
        let (line, lf) = match (buf.get(pos), buf.get(pos + 1)) {
            (Some(b'\r'), Some(b'\n')) => (FastLine::Blank, pos + 1),
            (Some(b'\n'), _) => (FastLine::Blank, pos),
            _ => {
                let rest = buf.get(pos..).unwrap_or(&[]);
                let n = first_not(rest, is_token);
                if n == 0 || rest.get(n) != Some(&b':') {
                    return Ok(None);
                }
                let after = rest.get(n + 1..).unwrap_or(&[]);
                let lead = first_not(after, is_ows);
                let vstart = pos + n + 1 + lead;
                let vend = vstart + first_not_value(after.get(lead..).unwrap_or(&[]));
                match (buf.get(vend), buf.get(vend + 1)) {
                    (Some(b'\r'), Some(b'\n')) => (FastLine::Field { pos, n, vstart, vend }, vend + 1),
                    (Some(b'\n'), _) => (FastLine::Field { pos, n, vstart, vend }, vend),
                    _ => return Ok(None),
                }
            }
        };
        if lf >= max {
            return Err(err(side, ErrorKind::HeadTooLarge { max }, max));
        }
        debug_assert!(lf >= pos && lf < buf.len());
        self.next = lf + 1;
        Ok(Some(line))
    }

    /// The next complete line as `(start, content_end)` (content excludes the LF and
    /// one CR before it), or `None` until its LF arrives. Skips empty lines before
    /// the start line (RFC 9112 section 2.2). A head passing `max` bytes is an error
    /// at byte `max` however the input was split.
    fn next_line(
        &mut self,
        buf: &[u8],
        max: usize,
        side: Side,
    ) -> Result<Option<(usize, usize)>, ParseError> {
        loop {
            let from = self.scanned.max(self.next);
            let Some(rel) = buf.get(from..).and_then(|rest| memchr(b'\n', rest)) else {
                self.scanned = buf.len().max(self.next);
                if buf.len() > max {
                    return Err(err(side, ErrorKind::HeadTooLarge { max }, max));
                }
                return Ok(None);
            };
            let lf = from + rel;
            if lf >= max {
                return Err(err(side, ErrorKind::HeadTooLarge { max }, max));
            }
            let start = self.next;
            let end = if lf > start && buf.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            self.next = lf + 1;
            if self.start_done || end > start {
                debug_assert!(start <= end && end <= lf);
                return Ok(Some((start, end)));
            }
        }
    }
}

/// A line recognised by [`Scan::fast_line`].
enum FastLine {
    /// The empty line ending the head.
    Blank,
    /// A valid field: name `pos..pos + n`, value `vstart..vend` (untrimmed end).
    Field {
        pos: usize,
        n: usize,
        vstart: usize,
        vend: usize,
    },
}

/// Header fields seen while parsing, the framing-relevant ones summarised.
#[derive(Debug, Clone, Default)]
struct Fields {
    content_length: Option<u64>,
    te_present: bool,
    te_last_chunked: bool,
    te_chunked_seen: bool,
    conn: ConnectionTokens,
    expect_continue: bool,
    upgrade: Option<Span>,
    host: Option<Span>,
}

/// Parses one Content-Length value list (`5`, `5, 5`) into `acc`.
fn merge_content_length(v: &[u8], acc: &mut Option<u64>) -> Result<(), ErrorKind> {
    let mut any = false;
    for item in v.split(|&b| b == b',') {
        let item = trim_ows(item);
        if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
            return Err(ErrorKind::InvalidContentLength);
        }
        let mut n: u64 = 0;
        for &d in item {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(ErrorKind::InvalidContentLength)?;
        }
        match *acc {
            Some(prev) if prev != n => return Err(ErrorKind::ConflictingContentLength),
            _ => *acc = Some(n),
        }
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err(ErrorKind::InvalidContentLength)
    }
}

/// Folds one Transfer-Encoding value into the running state (HAProxy's
/// `h1_parse_xfer_enc_header`): empty elements and `chunked` twice are refused; in
/// a request nothing may follow `chunked`.
fn merge_transfer_encoding(v: &[u8], f: &mut Fields, side: Side) -> Result<(), ErrorKind> {
    for item in v.split(|&b| b == b',') {
        // A coding may carry parameters; only the token before `;` names it.
        let name = trim_ows(item.split(|&b| b == b';').next().unwrap_or(item));
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(ErrorKind::InvalidTransferEncoding);
        }
        let chunked = name.eq_ignore_ascii_case(b"chunked");
        if chunked && f.te_chunked_seen {
            return Err(ErrorKind::ChunkedTwice);
        }
        if !chunked && f.te_chunked_seen && side == Side::Request {
            return Err(ErrorKind::TransferEncodingNotChunked);
        }
        f.te_chunked_seen |= chunked;
        f.te_last_chunked = chunked;
        f.te_present = true;
    }
    Ok(())
}

/// Parses the header line `buf[pos..cend]` (not empty) into `headers` and `f`.
fn parse_field(
    buf: &[u8],
    pos: usize,
    cend: usize,
    limits: &Limits,
    side: Side,
    headers: &mut Vec<Header>,
    f: &mut Fields,
) -> Result<(), ParseError> {
    let line = buf.get(pos..cend).unwrap_or(&[]);
    let Some(&first) = line.first() else {
        debug_assert!(false, "empty header line");
        return Ok(());
    };
    if is_ows(first) {
        return Err(err(side, ErrorKind::ObsFold, pos));
    }
    let n = first_not(line, is_token);
    match line.get(n) {
        Some(b':') if n > 0 => {}
        Some(b' ' | b'\t') if n > 0 => return Err(err(side, ErrorKind::WhitespaceBeforeColon, pos + n)),
        Some(b'\r') => return Err(err(side, ErrorKind::BareCr, pos + n)),
        _ => return Err(err(side, ErrorKind::InvalidHeaderName, pos + n)),
    }
    let raw = line.get(n + 1..).unwrap_or(&[]);
    let lead = first_not(raw, is_ows);
    let value = raw.get(lead..).unwrap_or(&[]);
    let bad = first_not_value(value);
    if bad < value.len() {
        let kind = if value[bad] == b'\r' {
            ErrorKind::BareCr
        } else {
            ErrorKind::InvalidHeaderValue
        };
        return Err(err(side, kind, pos + n + 1 + lead + bad));
    }
    let vstart = pos + n + 1 + lead;
    record_field(
        buf,
        pos,
        n,
        vstart,
        vstart + value.len(),
        limits,
        side,
        headers,
        f,
    )
}

/// Records a validated header field: name `buf[pos..pos + n]`, value
/// `buf[vstart..vend]` (trailing OWS still included).
#[allow(clippy::too_many_arguments)] // the parser's state, passed apart to keep borrows disjoint
#[inline]
fn record_field(
    buf: &[u8],
    pos: usize,
    n: usize,
    vstart: usize,
    mut vend: usize,
    limits: &Limits,
    side: Side,
    headers: &mut Vec<Header>,
    f: &mut Fields,
) -> Result<(), ParseError> {
    debug_assert!(n > 0 && pos + n < vstart);
    debug_assert!(vstart <= vend && vend <= buf.len());
    while vend > vstart && buf.get(vend - 1).is_some_and(|&b| is_ows(b)) {
        vend -= 1;
    }
    let value = buf.get(vstart..vend).unwrap_or(&[]);
    let name = buf.get(pos..pos + n).unwrap_or(&[]);
    let vlen = value.len();
    if headers.len() >= limits.hdr_max() {
        return Err(err(
            side,
            ErrorKind::TooManyHeaders {
                max: limits.hdr_max(),
            },
            pos,
        ));
    }
    let h = Header {
        name: Span::new(pos, pos + n),
        value: Span::new(vstart, vstart + vlen),
    };
    let r = match n {
        4 if side == Side::Request && name.eq_ignore_ascii_case(b"host") => match f.host {
            None => {
                f.host = Some(h.value);
                Ok(())
            }
            // HAProxy drops an identical duplicate and refuses a different one.
            Some(prev) if prev.get(buf).eq_ignore_ascii_case(value) => return Ok(()),
            Some(_) => Err(ErrorKind::DuplicateHost),
        },
        6 if name.eq_ignore_ascii_case(b"expect") => {
            f.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            Ok(())
        }
        7 if name.eq_ignore_ascii_case(b"upgrade") => {
            f.upgrade = Some(h.value);
            Ok(())
        }
        10 if name.eq_ignore_ascii_case(b"connection") => {
            for t in list_items(value) {
                f.conn.close |= t.eq_ignore_ascii_case(b"close");
                f.conn.keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
                f.conn.upgrade |= t.eq_ignore_ascii_case(b"upgrade");
            }
            Ok(())
        }
        14 if name.eq_ignore_ascii_case(b"content-length") => {
            merge_content_length(value, &mut f.content_length)
        }
        17 if name.eq_ignore_ascii_case(b"transfer-encoding") => merge_transfer_encoding(value, f, side),
        _ => Ok(()),
    };
    r.map_err(|k| err(side, k, vstart))?;
    headers.push(h);
    debug_assert!(headers.len() <= limits.hdr_max());
    Ok(())
}

/// Parses `HTTP/1.0` or `HTTP/1.1` exactly (case-sensitive).
fn parse_version(v: &[u8]) -> Option<Version> {
    match v {
        b"HTTP/1.1" => Some(Version::Http11),
        b"HTTP/1.0" => Some(Version::Http10),
        _ => None,
    }
}

/// Checks the request-target form against the method (RFC 9112 section 3.2).
fn target_form_ok(method: Method, t: &[u8]) -> bool {
    match t.first() {
        Some(b'/') => method != Method::Connect,
        Some(b'*') => method == Method::Options && t.len() == 1,
        Some(_) if method == Method::Connect => {
            // authority-form: host:port, no path, no userinfo.
            !t.contains(&b'/') && !t.contains(&b'@') && t.contains(&b':')
        }
        Some(_) => absolute_path_start(t).is_some(),
        None => false,
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets) into host and port.
fn split_port(a: &[u8]) -> (&[u8], Option<&[u8]>) {
    let after_bracket = a.iter().rposition(|&b| b == b']').map_or(0, |p| p + 1);
    match a.iter().rposition(|&b| b == b':') {
        Some(c) if c >= after_bracket => (&a[..c], Some(&a[c + 1..])),
        _ => (a, None),
    }
}

/// HAProxy's `h1_validate_mismatch_authority` / `h1_validate_connect_authority`:
/// with an absolute-form or authority-form target, `Host` must name the same
/// authority, a default port (80 for http, 443 for https) being optional.
fn authority_matches_host(method: Method, target: &[u8], host: &[u8]) -> bool {
    let (scheme, authority) = if method == Method::Connect {
        (&b""[..], target)
    } else {
        match (target.first(), absolute_path_start(target)) {
            (Some(b'/') | Some(b'*'), _) | (_, None) => return true,
            (_, Some(path)) => {
                let colon = memchr(b':', target).unwrap_or(0);
                let auth = target.get(colon + 3..path).unwrap_or(&[]);
                // userinfo never reaches the Host comparison
                let auth = auth
                    .iter()
                    .rposition(|&b| b == b'@')
                    .map_or(auth, |p| &auth[p + 1..]);
                (&target[..colon], auth)
            }
        }
    };
    if authority.eq_ignore_ascii_case(host) {
        return true;
    }
    let default_port = |p: &[u8]| {
        (scheme.eq_ignore_ascii_case(b"http") && p == b"80")
            || (scheme.eq_ignore_ascii_case(b"https") && p == b"443")
            || (scheme.is_empty() && (p == b"80" || p == b"443"))
    };
    let (ah, ap) = split_port(authority);
    let (hh, hp) = split_port(host);
    let ports_ok = match (ap, hp) {
        (Some(a), Some(h)) => a == h,
        (Some(p), None) | (None, Some(p)) => default_port(p),
        (None, None) => false,
    };
    ports_ok && ah.eq_ignore_ascii_case(hh)
}

/// For an absolute-form target (`http://host/path`), the offset where the path
/// starts (may equal `t.len()` when there is no path).
fn absolute_path_start(t: &[u8]) -> Option<usize> {
    let colon = memchr(b':', t)?;
    let scheme = t.get(..colon)?;
    if scheme.is_empty()
        || !scheme[0].is_ascii_alphabetic()
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = t.get(colon + 1..)?;
    if !rest.starts_with(b"//") {
        return None;
    }
    let auth = colon + 3;
    let path = t
        .get(auth..)?
        .iter()
        .position(|&b| matches!(b, b'/' | b'?'))
        .map_or(t.len(), |p| auth + p);
    if path == auth {
        return None; // empty authority
    }
    Some(path)
}

/// A parsed request head: spans into the buffer given to [`RequestHead::parse`].
///
/// Keep one per connection: [`RequestHead::parse`] reuses the header storage, so
/// after the first request no allocation happens.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Method token.
    pub method: Span,
    /// Method, classified.
    pub method_kind: Method,
    /// Request-target as received (origin, absolute, authority or asterisk form).
    pub target: Span,
    /// Protocol version.
    pub version: Version,
    /// Header fields in order of arrival.
    pub headers: Vec<Header>,
    /// How the request body is delimited.
    pub body: BodyKind,
    /// The Content-Length value (identical duplicates merged), if any. The head
    /// writer emits it once, canonical, whatever the client sent.
    pub content_length: Option<u64>,
    /// Tokens of the `Connection` header fields.
    pub connection: ConnectionTokens,
    /// `Expect: 100-continue` in an HTTP/1.1 request.
    pub expect_continue: bool,
    /// Path and query part of the target: the whole origin form, the absolute form
    /// from its first `/` or `?`, empty for `*` and authority form.
    pub path_query: Span,
    /// Value of the (last) `Upgrade` field, if any.
    pub upgrade: Option<Span>,
    /// Value of the `Host` field, if any.
    pub host: Option<Span>,
    /// Length of the head in bytes once complete.
    pub head_len: usize,
    scan: Scan,
}

impl Default for RequestHead {
    fn default() -> Self {
        RequestHead::new(&Limits::default())
    }
}

impl RequestHead {
    /// An empty head with room for `limits.headers_max` fields.
    pub fn new(limits: &Limits) -> RequestHead {
        RequestHead {
            method: Span::default(),
            method_kind: Method::Get,
            target: Span::default(),
            path_query: Span::default(),
            version: Version::Http11,
            headers: Vec::with_capacity(limits.hdr_max()),
            body: BodyKind::None,
            content_length: None,
            connection: ConnectionTokens::default(),
            expect_continue: false,
            upgrade: None,
            host: None,
            head_len: 0,
            scan: Scan::default(),
        }
    }

    /// Forgets a head in progress (a new connection reuses this one): the next
    /// [`RequestHead::parse`] starts afresh. Not needed after `Complete` or an error.
    pub fn reset(&mut self) {
        self.scan.in_progress = false;
    }

    /// Parses the request head at the start of `buf`.
    ///
    /// Drive it from the receive buffer: on `Incomplete`, call again once more bytes
    /// arrived, passing the same bytes (they may have moved in memory) followed by
    /// the new ones. On `Complete(n)` the head is `buf[..n]` and the fields are valid;
    /// the next call starts a new request. Pure, bounded by `limits`, never panics.
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Status, ParseError> {
        let side = Side::Request;
        let r = self.parse_inner(buf, limits, side);
        if !matches!(r, Ok(Status::Incomplete)) {
            self.scan.in_progress = false;
        }
        r
    }

    fn parse_inner(&mut self, buf: &[u8], limits: &Limits, side: Side) -> Result<Status, ParseError> {
        self.scan.begin(&mut self.headers);
        let max = limits.head_max();
        let start = loop {
            match self.scan.fast_line(buf, max, side)? {
                Some(FastLine::Blank) => break self.method.start as usize,
                Some(FastLine::Field { pos, n, vstart, vend }) => {
                    let f = &mut self.scan.fields;
                    record_field(buf, pos, n, vstart, vend, limits, side, &mut self.headers, f)?;
                    continue;
                }
                None => {}
            }
            let Some((ls, le)) = self.scan.next_line(buf, max, side)? else {
                return Ok(Status::Incomplete);
            };
            if !self.scan.start_done {
                self.parse_request_line(buf, ls, le, side)?;
                self.scan.start_done = true;
            } else if ls == le {
                break self.method.start as usize;
            } else {
                parse_field(
                    buf,
                    ls,
                    le,
                    limits,
                    side,
                    &mut self.headers,
                    &mut self.scan.fields,
                )?;
            }
        };
        let pos = self.scan.next;
        let f = &self.scan.fields;
        let version = self.version;
        let method_kind = self.method_kind;
        if f.host.is_none() && version == Version::Http11 && limits.require_host {
            return Err(err(side, ErrorKind::MissingHost, start));
        }
        if let Some(host) = f.host {
            let tgt = self.target.get(buf);
            if !authority_matches_host(method_kind, tgt, host.get(buf)) {
                return Err(err(side, ErrorKind::HostMismatch, host.start as usize));
            }
        }
        let body = if f.te_present {
            if version == Version::Http10 {
                return Err(err(side, ErrorKind::TransferEncodingHttp10, start));
            }
            if f.content_length.is_some() {
                return Err(err(side, ErrorKind::ContentLengthWithTransferEncoding, start));
            }
            if !f.te_last_chunked {
                return Err(err(side, ErrorKind::TransferEncodingNotChunked, start));
            }
            BodyKind::Chunked
        } else {
            match f.content_length {
                Some(0) | None => BodyKind::None,
                Some(n) => BodyKind::ContentLength(n),
            }
        };

        self.body = body;
        self.content_length = f.content_length;
        self.connection = f.conn;
        self.expect_continue = f.expect_continue && version == Version::Http11;
        self.upgrade = f.upgrade;
        self.host = f.host;
        self.head_len = pos;
        debug_assert!(self.head_len <= limits.head_max() && self.headers.len() <= limits.hdr_max());
        Ok(Status::Complete(pos))
    }

    /// Parses `request-line = method SP request-target SP HTTP-version` at
    /// `buf[start..end]` into the head's start-line fields.
    fn parse_request_line(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        side: Side,
    ) -> Result<(), ParseError> {
        let line = buf.get(start..end).unwrap_or(&[]);
        let m = first_not(line, is_token);
        if m == 0 || line.get(m) != Some(&b' ') {
            let kind = if line.get(m) == Some(&b'\r') {
                ErrorKind::BareCr
            } else {
                ErrorKind::InvalidMethod
            };
            return Err(err(side, kind, start + m));
        }
        let tstart = m + 1;
        let tlen = first_not_uri(line.get(tstart..).unwrap_or(&[]));
        let tend = tstart + tlen;
        if tlen == 0 || line.get(tend) != Some(&b' ') {
            let kind = if line.get(tend) == Some(&b'\r') {
                ErrorKind::BareCr
            } else {
                ErrorKind::InvalidTarget
            };
            return Err(err(side, kind, start + tend));
        }
        let vbytes = line.get(tend + 1..).unwrap_or(&[]);
        let version = parse_version(vbytes).ok_or_else(|| {
            let kind = if vbytes.contains(&b'\r') {
                ErrorKind::BareCr
            } else {
                ErrorKind::InvalidVersion
            };
            err(side, kind, start + tend + 1)
        })?;
        let method_kind = Method::from_bytes(&line[..m]);
        let tgt = &line[tstart..tend];
        if !target_form_ok(method_kind, tgt) {
            return Err(err(side, ErrorKind::InvalidTarget, start + tstart));
        }
        let poff = match tgt.first() {
            Some(b'/') => 0,
            _ if method_kind == Method::Connect || tgt == b"*" => tgt.len(),
            _ => absolute_path_start(tgt).unwrap_or(tgt.len()),
        };
        self.method = Span::new(start, start + m);
        self.method_kind = method_kind;
        self.target = Span::new(start + tstart, start + tend);
        self.path_query = Span::new(start + tstart + poff, start + tend);
        self.version = version;
        Ok(())
    }

    /// True when the client wants the connection kept after this exchange
    /// (HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.connection.close,
            Version::Http10 => self.connection.keep_alive && !self.connection.close,
        }
    }

    /// True for an upgrade request (`Connection: upgrade` plus an `Upgrade` field).
    pub fn wants_upgrade(&self) -> bool {
        self.version == Version::Http11 && self.connection.upgrade && self.upgrade.is_some()
    }

    /// True for a WebSocket handshake (`Upgrade: websocket`, any case).
    pub fn is_websocket(&self, buf: &[u8]) -> bool {
        self.wants_upgrade()
            && self
                .upgrade
                .is_some_and(|u| list_items(u.get(buf)).any(|p| p.eq_ignore_ascii_case(b"websocket")))
    }

    /// The path without the query: HAProxy's `path` sample.
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        let pq = self.path_query.get(buf);
        let q = memchr(b'?', pq).unwrap_or(pq.len());
        &pq[..q]
    }

    /// First value of the header named `name` (case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
        find_header(&self.headers, buf, name)
    }
}

/// First value of the header named `name` (case-insensitive) among `headers`.
pub fn find_header<'b>(headers: &[Header], buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.len() == name.len() && h.name.get(buf).eq_ignore_ascii_case(name))
        .map(|h| h.value.get(buf))
}

/// Whole values of every field named `name` (case-insensitive), in order:
/// what HAProxy's `fhdr(name)` sees.
pub fn field_values<'h, 'b: 'h>(
    headers: &'h [Header],
    buf: &'b [u8],
    name: &'h [u8],
) -> impl Iterator<Item = &'b [u8]> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.len() == name.len() && h.name.get(buf).eq_ignore_ascii_case(name))
        .map(move |h| h.value.get(buf))
}

/// Every comma-separated element of every field named `name`, OWS trimmed, commas
/// inside double quotes kept: what HAProxy's `hdr(name)` sees (its
/// `http_find_hdr_value_end`). Empty elements are skipped.
pub fn list_values<'h, 'b: 'h>(
    headers: &'h [Header],
    buf: &'b [u8],
    name: &'h [u8],
) -> impl Iterator<Item = &'b [u8]> + 'h {
    field_values(headers, buf, name).flat_map(split_list)
}

/// Splits a field value on commas outside quoted strings.
fn split_list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(v);
    std::iter::from_fn(move || loop {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                end = i;
                break;
            }
        }
        rest = s.get(end + 1..);
        let item = trim_ows(&s[..end]);
        if !item.is_empty() {
            return Some(item);
        }
    })
}

/// A parsed response head: spans into the buffer given to [`ResponseHead::parse`].
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// Protocol version.
    pub version: Version,
    /// Status code, 100 to 999.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: Span,
    /// Header fields in order of arrival.
    pub headers: Vec<Header>,
    /// How the response body is delimited, given the request method.
    pub body: BodyKind,
    /// The Content-Length value (identical duplicates merged), `None` when
    /// Transfer-Encoding overrides it (the writer then drops it, as HAProxy does).
    pub content_length: Option<u64>,
    /// Tokens of the `Connection` header fields.
    pub connection: ConnectionTokens,
    /// Value of the (last) `Upgrade` field, if any.
    pub upgrade: Option<Span>,
    /// Length of the head in bytes once complete.
    pub head_len: usize,
    start: usize,
    scan: Scan,
    te_with_cl: bool,
}

impl Default for ResponseHead {
    fn default() -> Self {
        ResponseHead::new(&Limits::default())
    }
}

impl ResponseHead {
    /// An empty head with room for `limits.headers_max` fields.
    pub fn new(limits: &Limits) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status: 0,
            reason: Span::default(),
            headers: Vec::with_capacity(limits.hdr_max()),
            body: BodyKind::None,
            content_length: None,
            connection: ConnectionTokens::default(),
            upgrade: None,
            head_len: 0,
            scan: Scan::default(),
            te_with_cl: false,
            start: 0,
        }
    }

    /// Forgets a head in progress (a new server connection reuses this one).
    pub fn reset(&mut self) {
        self.scan.in_progress = false;
    }

    /// Parses the response head at the start of `buf`, sent in answer to a
    /// `request_method` request (HEAD and CONNECT change the framing).
    /// Same calling convention as [`RequestHead::parse`]; errors carry status 502.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method: Method,
    ) -> Result<Status, ParseError> {
        let r = self.parse_inner(buf, limits, request_method);
        if !matches!(r, Ok(Status::Incomplete)) {
            self.scan.in_progress = false;
        }
        r
    }

    fn parse_inner(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        request_method: Method,
    ) -> Result<Status, ParseError> {
        let side = Side::Response;
        self.scan.begin(&mut self.headers);
        let max = limits.head_max();
        let start = loop {
            match self.scan.fast_line(buf, max, side)? {
                Some(FastLine::Blank) => break self.start,
                Some(FastLine::Field { pos, n, vstart, vend }) => {
                    let f = &mut self.scan.fields;
                    record_field(buf, pos, n, vstart, vend, limits, side, &mut self.headers, f)?;
                    continue;
                }
                None => {}
            }
            let Some((ls, le)) = self.scan.next_line(buf, max, side)? else {
                return Ok(Status::Incomplete);
            };
            if !self.scan.start_done {
                self.parse_status_line(buf, ls, le, side)?;
                self.start = ls;
                self.scan.start_done = true;
            } else if ls == le {
                break self.start;
            } else {
                parse_field(
                    buf,
                    ls,
                    le,
                    limits,
                    side,
                    &mut self.headers,
                    &mut self.scan.fields,
                )?;
            }
        };
        let end = self.scan.next;
        let f = &self.scan.fields;
        let version = self.version;
        let code = self.status;
        if f.te_present && version == Version::Http10 {
            return Err(err(side, ErrorKind::TransferEncodingHttp10, start));
        }
        let body = if code == 101 {
            BodyKind::Tunnel
        } else if (100..200).contains(&code) || code == 204 || code == 304 || request_method == Method::Head {
            BodyKind::None
        } else if request_method == Method::Connect && (200..300).contains(&code) {
            BodyKind::Tunnel
        } else if f.te_present {
            // RFC 9112 section 6.3: a response whose last coding is not chunked
            // is delimited by the close.
            if f.te_last_chunked {
                BodyKind::Chunked
            } else {
                BodyKind::CloseDelimited
            }
        } else {
            match f.content_length {
                Some(0) => BodyKind::None,
                Some(n) => BodyKind::ContentLength(n),
                None => BodyKind::CloseDelimited,
            }
        };

        self.body = body;
        self.content_length = if f.te_present { None } else { f.content_length };
        self.te_with_cl = f.te_present && f.content_length.is_some();
        self.connection = f.conn;
        self.upgrade = f.upgrade;
        self.head_len = end;
        debug_assert!((100..1000).contains(&self.status));
        debug_assert!(self.head_len <= limits.head_max());
        Ok(Status::Complete(end))
    }

    /// Parses `status-line = HTTP-version SP status-code SP [ reason-phrase ]` at
    /// `buf[start..end]` (the final SP may be missing, as HAProxy accepts).
    fn parse_status_line(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        side: Side,
    ) -> Result<(), ParseError> {
        let line = buf.get(start..end).unwrap_or(&[]);
        let version =
            line.get(..8)
                .and_then(parse_version)
                .ok_or(err(side, ErrorKind::InvalidVersion, start))?;
        let code = match line.get(8..12) {
            Some([b' ', a, b, c])
                if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() && *a != b'0' =>
            {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(err(side, ErrorKind::InvalidStatus, start + 8)),
        };
        let reason = match line.get(12) {
            None => Span::new(start + 12, start + 12),
            Some(b' ') => {
                let r = line.get(13..).unwrap_or(&[]);
                let bad = first_not_value(r);
                if bad < r.len() {
                    let kind = if r[bad] == b'\r' {
                        ErrorKind::BareCr
                    } else {
                        ErrorKind::InvalidStatus
                    };
                    return Err(err(side, kind, start + 13 + bad));
                }
                Span::new(start + 13, end)
            }
            Some(_) => return Err(err(side, ErrorKind::InvalidStatus, start + 12)),
        };
        self.version = version;
        self.status = code;
        self.reason = reason;
        Ok(())
    }

    /// True for an interim response (1xx other than 101): another head follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// True when the server keeps the connection open after this response. A
    /// response framed by both Transfer-Encoding and Content-Length is followed
    /// by a close (RFC 9112 section 6.1, as HAProxy does).
    pub fn keep_alive(&self) -> bool {
        if self.body == BodyKind::CloseDelimited || self.body == BodyKind::Tunnel || self.te_with_cl {
            return false;
        }
        match self.version {
            Version::Http11 => !self.connection.close,
            Version::Http10 => self.connection.keep_alive && !self.connection.close,
        }
    }

    /// First value of the header named `name` (case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
        find_header(&self.headers, buf, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &[u8]) -> Result<RequestHead, ParseError> {
        let mut h = RequestHead::default();
        match h.parse(raw, &Limits::default())? {
            Status::Complete(n) => {
                assert_eq!(n, h.head_len);
                Ok(h)
            }
            Status::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(raw)),
        }
    }

    #[test]
    fn simple_get() {
        let raw = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept:  */* \r\n\r\nrest";
        let h = req(raw).unwrap();
        assert_eq!(h.method.get(raw), b"GET");
        assert_eq!(h.target.get(raw), b"/a?b=1");
        assert_eq!(h.path(raw), b"/a");
        assert_eq!(h.header(raw, b"accept"), Some(&b"*/*"[..]));
        assert_eq!(h.head_len, raw.len() - 4);
        assert!(h.keep_alive());
        assert_eq!(h.body, BodyKind::None);
    }

    #[test]
    fn hdr_and_fhdr_views() {
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-F: a, \"b,c\" ,,d\r\nx-f: e\r\n\r\n";
        let h = req(raw).unwrap();
        let hdr: Vec<&[u8]> = list_values(&h.headers, raw, b"X-f").collect();
        assert_eq!(hdr, vec![&b"a"[..], b"\"b,c\"", b"d", b"e"]);
        let fhdr: Vec<&[u8]> = field_values(&h.headers, raw, b"x-F").collect();
        assert_eq!(fhdr, vec![&b"a, \"b,c\" ,,d"[..], b"e"]);
        assert_eq!(list_values(&h.headers, raw, b"none").count(), 0);
    }

    #[test]
    fn absolute_form_path() {
        let raw = b"GET http://h.example:80/p/q?x HTTP/1.1\r\nHost: h.example\r\n\r\n";
        let h = req(raw).unwrap();
        assert_eq!(h.path(raw), b"/p/q");
        assert_eq!(h.path_query.get(raw), b"/p/q?x");
    }

    #[test]
    fn incremental_is_linear_and_equal() {
        let raw = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        let mut h = RequestHead::default();
        let l = Limits::default();
        for n in 0..raw.len() - 3 {
            assert_eq!(h.parse(&raw[..n], &l), Ok(Status::Incomplete), "{n}");
        }
        assert_eq!(
            h.parse(&raw[..raw.len() - 3], &l),
            Ok(Status::Complete(raw.len() - 3))
        );
        assert_eq!(h.body, BodyKind::ContentLength(3));
    }

    #[test]
    fn reset_drops_a_head_in_progress() {
        let l = Limits::default();
        let mut h = RequestHead::default();
        assert_eq!(
            h.parse(b"GET /a HTTP/1.1\r\nX-Long: aaaa", &l),
            Ok(Status::Incomplete)
        );
        h.reset();
        assert_eq!(h.parse(b"GET /b HTTP/1.1\r\n\r\n", &l), Ok(Status::Complete(19)));
        assert_eq!(h.target, Span { start: 4, end: 6 });
        assert!(h.headers.is_empty());
        let l2 = Limits::from_tune(8192, 1024, 50);
        assert_eq!(
            (l2.head_bytes_max, l2.headers_max, l2.require_host),
            (7168, 50, false)
        );
    }

    #[test]
    fn head_too_large_is_400() {
        let l = Limits {
            head_bytes_max: 64,
            headers_max: 10,
            ..Limits::default()
        };
        let mut h = RequestHead::default();
        let raw = [b'a'; 65];
        let e = h.parse(&raw, &l).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(matches!(e.kind, ErrorKind::HeadTooLarge { max: 64 }));
        assert_eq!(h.parse(&raw[..64], &l), Ok(Status::Incomplete));
    }

    #[test]
    fn response_framing() {
        let cases: &[(&[u8], Method, BodyKind)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Method::Get,
                BodyKind::ContentLength(5),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Method::Head,
                BodyKind::None,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", Method::Get, BodyKind::None),
            (b"HTTP/1.1 200 OK\r\n\r\n", Method::Get, BodyKind::CloseDelimited),
            (
                b"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n",
                Method::Get,
                BodyKind::Chunked,
            ),
            (
                b"HTTP/1.1 200 Connection established\r\n\r\n",
                Method::Connect,
                BodyKind::Tunnel,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                Method::Get,
                BodyKind::Tunnel,
            ),
        ];
        for (raw, m, want) in cases {
            let mut h = ResponseHead::default();
            assert!(matches!(
                h.parse(raw, &Limits::default(), *m),
                Ok(Status::Complete(_))
            ));
            assert_eq!(h.body, *want, "{}", String::from_utf8_lossy(raw));
        }
    }
}
