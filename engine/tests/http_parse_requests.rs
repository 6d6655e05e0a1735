//! Tables of accepted and rejected request heads (RFC 9112 plus HAProxy's rules).
//! Each rejected entry is a request-smuggling or splitting vector or plain garbage
//! that must get a 400 and never reach a backend.

use engine::http::{BodyKind, ErrorKind, Limits, Method, RequestHead, Status, Version};

fn parse_all(raw: &[u8], limits: &Limits) -> Result<(RequestHead, usize), engine::http::ParseError> {
    let mut h = RequestHead::new(limits);
    match h.parse(raw, limits)? {
        Status::Complete(n) => Ok((h, n)),
        Status::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(raw)),
    }
}

/// Feeds `raw` growing one byte at a time: the outcome must equal the one-piece parse.
fn parse_bytewise(raw: &[u8], limits: &Limits) -> Result<(RequestHead, usize), engine::http::ParseError> {
    let mut h = RequestHead::new(limits);
    for n in 1..=raw.len() {
        match h.parse(&raw[..n], limits)? {
            Status::Complete(len) => return Ok((h, len)),
            Status::Incomplete => {}
        }
    }
    panic!("incomplete: {:?}", String::from_utf8_lossy(raw));
}

struct Ok_ {
    raw: &'static [u8],
    method: Method,
    target: &'static [u8],
    path: &'static [u8],
    version: Version,
    body: BodyKind,
    keep_alive: bool,
    headers: usize,
}

#[allow(clippy::too_many_arguments)] // one table row
const fn ok(
    raw: &'static [u8],
    method: Method,
    target: &'static [u8],
    path: &'static [u8],
    version: Version,
    body: BodyKind,
    keep_alive: bool,
    headers: usize,
) -> Ok_ {
    Ok_ {
        raw,
        method,
        target,
        path,
        version,
        body,
        keep_alive,
        headers,
    }
}

use BodyKind as B;
use Method as M;
use Version::{Http10 as V10, Http11 as V11};

const ACCEPTED: &[Ok_] = &[
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET / HTTP/1.1\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        0,
    ),
    ok(
        b"GET / HTTP/1.0\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V10,
        B::None,
        false,
        0,
    ),
    ok(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V10,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        false,
        2,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        false,
        2,
    ),
    ok(
        b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"/x",
        b"/x",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET /x HTTP/1.1\nHost: a\n\n",
        M::Get,
        b"/x",
        b"/x",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET /a/b?c=d&e=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"/a/b?c=d&e=%20",
        b"/a/b",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET http://a/p?q HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"http://a/p?q",
        b"/p",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET http://a:80/p HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"http://a:80/p",
        b"/p",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET https://u@a/p HTTP/1.1\r\nHost: a:443\r\n\r\n",
        M::Get,
        b"https://u@a/p",
        b"/p",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET http://a HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Get,
        b"http://a",
        b"",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Options,
        b"*",
        b"",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        M::Connect,
        b"a:443",
        b"",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]\r\n\r\n",
        M::Connect,
        b"[::1]:443",
        b"",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Head,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"PURGE /c HTTP/1.1\r\nHost: a\r\n\r\n",
        M::Other,
        b"/c",
        b"/c",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        M::Post,
        b"/",
        b"/",
        V11,
        B::ContentLength(5),
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::ContentLength(7),
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::ContentLength(5),
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::ContentLength(5),
        true,
        3,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::ContentLength(u64::MAX),
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::Chunked,
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::Chunked,
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::Chunked,
        true,
        2,
    ),
    ok(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        M::Post,
        b"/",
        b"/",
        V11,
        B::Chunked,
        true,
        3,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: A\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        1,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        3,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9\t\"q\"\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        2,
    ),
    ok(
        b"GET / HTTP/1.1\r\nHost: a\r\nX!#$%&'*+-.^_`|~9: v\r\n\r\n",
        M::Get,
        b"/",
        b"/",
        V11,
        B::None,
        true,
        2,
    ),
];

#[test]
fn accepted_requests() {
    let l = Limits::default();
    for (i, c) in ACCEPTED.iter().enumerate() {
        let what = String::from_utf8_lossy(c.raw);
        let (h, n) = parse_all(c.raw, &l).unwrap_or_else(|e| panic!("#{i} {what:?}: {e}"));
        assert_eq!(h.method_kind, c.method, "#{i} {what:?}");
        assert_eq!(h.target.get(c.raw), c.target, "#{i} {what:?}");
        assert_eq!(h.version, c.version, "#{i} {what:?}");
        assert_eq!(h.body, c.body, "#{i} {what:?}");
        assert_eq!(h.keep_alive(), c.keep_alive, "#{i} {what:?}");
        assert_eq!(h.headers.len(), c.headers, "#{i} {what:?}");
        if c.path != b"*" {
            assert_eq!(h.path(c.raw), c.path, "#{i} {what:?}");
        }
        assert!(
            c.raw[..n].ends_with(b"\n\n") || c.raw[..n].ends_with(b"\r\n\r\n"),
            "#{i}"
        );
        let (h2, n2) = parse_bytewise(c.raw, &l).unwrap();
        assert_eq!(
            (h2.body, h2.headers.len(), n2),
            (h.body, h.headers.len(), n),
            "#{i} bytewise"
        );
    }
}

const REJECTED: &[(&str, &[u8], ErrorKind)] = &[
    // framing ambiguity (request smuggling)
    (
        "two content-lengths",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ErrorKind::ConflictingContentLength,
    ),
    (
        "content-length list differs",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
        ErrorKind::ConflictingContentLength,
    ),
    (
        "content-length empty",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length empty item",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length sign",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length negative",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length hex",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length inner space",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "content-length overflow",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "cl with te",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorKind::ContentLengthWithTransferEncoding,
    ),
    (
        "te with cl",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        ErrorKind::ContentLengthWithTransferEncoding,
    ),
    (
        "te not chunked",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        ErrorKind::TransferEncodingNotChunked,
    ),
    (
        "te chunked then gzip",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ErrorKind::TransferEncodingNotChunked,
    ),
    (
        "te chunked then identity header",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
        ErrorKind::TransferEncodingNotChunked,
    ),
    (
        "te chunked twice",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        ErrorKind::ChunkedTwice,
    ),
    (
        "te chunked twice in two fields",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorKind::ChunkedTwice,
    ),
    (
        "te empty",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
        ErrorKind::InvalidTransferEncoding,
    ),
    (
        "te trailing comma",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
        ErrorKind::InvalidTransferEncoding,
    ),
    (
        "te quoted",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
        ErrorKind::InvalidTransferEncoding,
    ),
    (
        "te chunked with junk",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
        ErrorKind::TransferEncodingNotChunked,
    ),
    (
        "te in http/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorKind::TransferEncodingHttp10,
    ),
    // header syntax
    (
        "space before colon",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        ErrorKind::WhitespaceBeforeColon,
    ),
    (
        "tab before colon",
        b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        ErrorKind::WhitespaceBeforeColon,
    ),
    (
        "space before colon te",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        ErrorKind::WhitespaceBeforeColon,
    ),
    (
        "obs-fold",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
        ErrorKind::ObsFold,
    ),
    (
        "obs-fold tab",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n",
        ErrorKind::ObsFold,
    ),
    (
        "first header folded",
        b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        ErrorKind::ObsFold,
    ),
    (
        "empty header name",
        b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "no colon",
        b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "separator in name",
        b"GET / HTTP/1.1\r\nHost: a\r\nX(a): v\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "slash in name",
        b"GET / HTTP/1.1\r\nHost: a\r\nX/a: v\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "nul in name",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\0a: v\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "utf8 in name",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: v\r\n\r\n",
        ErrorKind::InvalidHeaderName,
    ),
    (
        "nul in value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n",
        ErrorKind::InvalidHeaderValue,
    ),
    (
        "ctl in value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n",
        ErrorKind::InvalidHeaderValue,
    ),
    (
        "del in value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n",
        ErrorKind::InvalidHeaderValue,
    ),
    (
        "vt in value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x0bc\r\n\r\n",
        ErrorKind::InvalidHeaderValue,
    ),
    (
        "bare cr in value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "bare cr ends value",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "bare cr line separator",
        b"GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "bare cr in request line",
        b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "bare cr in target",
        b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "bare cr as name",
        b"GET / HTTP/1.1\r\nHost: a\r\n\rX: b\r\n\r\n",
        ErrorKind::BareCr,
    ),
    // host
    (
        "two different hosts",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ErrorKind::DuplicateHost,
    ),
    (
        "absolute uri host mismatch",
        b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
        ErrorKind::HostMismatch,
    ),
    (
        "absolute uri port mismatch",
        b"GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::HostMismatch,
    ),
    (
        "connect host mismatch",
        b"CONNECT a:443 HTTP/1.1\r\nHost: b:443\r\n\r\n",
        ErrorKind::HostMismatch,
    ),
    // request line
    (
        "control char in target",
        b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "nul in target",
        b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "utf8 in target",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "fragment in target",
        b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "del in target",
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "two spaces after method",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "two spaces after target",
        b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "tab separator",
        b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidMethod,
    ),
    (
        "relative target",
        b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "asterisk for get",
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "connect origin form",
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "connect without port",
        b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "absolute without authority",
        b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    (
        "method with separator",
        b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidMethod,
    ),
    (
        "method with nul",
        b"G\0T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidMethod,
    ),
    (
        "no method",
        b" / HTTP/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidMethod,
    ),
    ("only method", b"GET\r\nHost: a\r\n\r\n", ErrorKind::InvalidMethod),
    (
        "no version",
        b"GET /\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidTarget,
    ),
    ("http/0.9 style", b"GET / \r\n\r\n", ErrorKind::InvalidVersion),
    (
        "version 2.0",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "version 1.2",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "version lowercase",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "version garbage",
        b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "version trailing space",
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    (
        "binary garbage",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        ErrorKind::InvalidMethod,
    ),
];

#[test]
fn rejected_requests_get_400() {
    let l = Limits::default();
    for (name, raw, kind) in REJECTED {
        let e = parse_all(raw, &l)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(e.kind, *kind, "{name}");
        assert_eq!(e.status, 400, "{name}");
        assert!(e.offset <= raw.len(), "{name}");
        let e2 = parse_bytewise(raw, &l)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted bytewise"));
        assert_eq!(e2, e, "{name} bytewise");
    }
}

#[test]
fn limits_are_haproxy_defaults_and_enforced() {
    let l = Limits::default();
    assert_eq!(l.headers_max, 101);
    assert_eq!(l.head_bytes_max, 16384 - 1024);
    // 101 headers pass, 102 do not
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..101 {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    let mut ok = raw.clone();
    ok.extend_from_slice(b"\r\n");
    assert!(parse_all(&ok, &l).is_ok());
    raw.extend_from_slice(b"X-last: v\r\n\r\n");
    assert_eq!(
        parse_all(&raw, &l).unwrap_err().kind,
        ErrorKind::TooManyHeaders { max: 101 }
    );
    // configurable
    let l2 = Limits {
        headers_max: 200,
        ..l
    };
    assert!(parse_all(&raw, &l2).is_ok());

    // a 70000-byte header (the acceptance check's "huge header")
    let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70000));
    big.extend_from_slice(b"\r\n\r\n");
    let e = parse_all(&big, &l).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::HeadTooLarge { max: 15360, .. }),
        "{e}"
    );
    // and it is refused as soon as the buffer passes the limit, before the end
    let mut h = RequestHead::default();
    assert_eq!(h.parse(&big[..15360], &l), Ok(Status::Incomplete));
    assert!(h.parse(&big[..15361], &l).is_err());

    // a head of exactly the limit passes; one byte more does not
    let mut exact = b"GET / HTTP/1.1\r\nX: ".to_vec();
    let pad = 15360 - exact.len() - 4;
    exact.extend(std::iter::repeat_n(b'b', pad));
    exact.extend_from_slice(b"\r\n\r\n");
    assert_eq!(exact.len(), 15360);
    assert!(parse_all(&exact, &l).is_ok());
    exact.insert(20, b'b');
    assert!(matches!(
        parse_all(&exact, &l).unwrap_err().kind,
        ErrorKind::HeadTooLarge { .. }
    ));

    // leading empty lines count against the limit, and cannot loop forever
    let crlfs = b"\r\n".repeat(8000);
    assert!(matches!(
        parse_all(&crlfs, &l).unwrap_err().kind,
        ErrorKind::HeadTooLarge { .. }
    ));
}

#[test]
fn require_host_is_optional_like_haproxy() {
    let raw = b"GET / HTTP/1.1\r\n\r\n";
    assert!(parse_all(raw, &Limits::default()).is_ok());
    let strict = Limits {
        require_host: true,
        ..Limits::default()
    };
    assert_eq!(parse_all(raw, &strict).unwrap_err().kind, ErrorKind::MissingHost);
    assert!(parse_all(b"GET / HTTP/1.0\r\n\r\n", &strict).is_ok());
}

#[test]
fn connection_expect_upgrade() {
    let raw = b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nExpect: 100-Continue\r\n\r\n";
    let (h, _) = parse_all(raw, &Limits::default()).unwrap();
    assert!(h.connection.upgrade && h.connection.keep_alive && !h.connection.close);
    assert!(h.wants_upgrade() && h.is_websocket(raw));
    assert!(h.expect_continue);
    assert_eq!(h.host.map(|s| s.get(raw)), Some(&b"a"[..]));

    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n";
    let (h, _) = parse_all(raw, &Limits::default()).unwrap();
    assert!(
        !h.wants_upgrade(),
        "upgrade without connection: upgrade is ignored"
    );
    // Expect in HTTP/1.0 is ignored (RFC 9110 section 10.1.1)
    let raw = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    assert!(!parse_all(raw, &Limits::default()).unwrap().0.expect_continue);
}

#[test]
fn pipelined_requests_parse_one_after_the_other() {
    let raw = b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let l = Limits::default();
    let mut h = RequestHead::default();
    let Ok(Status::Complete(n)) = h.parse(raw, &l) else {
        panic!()
    };
    assert_eq!(h.target.get(raw), b"/p1");
    let rest = &raw[n..];
    let Ok(Status::Complete(m)) = h.parse(rest, &l) else {
        panic!()
    };
    assert_eq!(h.target.get(rest), b"/p2");
    assert_eq!(n + m, raw.len());
}

#[test]
fn errors_are_reported_as_soon_as_the_line_is_complete() {
    let l = Limits::default();
    let mut h = RequestHead::default();
    // no blank line yet: the bad request line alone gets the 400 (no waiting for
    // `timeout http-request`)
    let e = h.parse(b"GET /\x01 HTTP/1.1\r\n", &l).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidTarget);
    // a TLS ClientHello sent to a plain HTTP port fails on its first line
    let e = h
        .parse(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", &l)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidMethod);
    // a bad header line fails before the end of the head
    let e = h.parse(b"GET / HTTP/1.1\r\nHost : a\r\n", &l).unwrap_err();
    assert_eq!(e.kind, ErrorKind::WhitespaceBeforeColon);
    // and the next call starts afresh
    assert!(matches!(
        h.parse(b"GET / HTTP/1.1\r\n\r\n", &l),
        Ok(Status::Complete(18))
    ));
}
