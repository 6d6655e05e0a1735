//! Tables of accepted and rejected response heads: framing per RFC 9112 section 6.3,
//! errors answered with 502.

use engine::http::write::{write_response_head, HeaderEdit};
use engine::http::{BodyKind, ErrorKind, Limits, Method, ResponseHead, Status, Version};

fn parse(raw: &[u8], m: Method) -> Result<(ResponseHead, usize), engine::http::ParseError> {
    let l = Limits::default();
    let mut h = ResponseHead::new(&l);
    match h.parse(raw, &l, m)? {
        Status::Complete(n) => Ok((h, n)),
        Status::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(raw)),
    }
}

use BodyKind as B;
use Method as M;

/// (raw, request method, status, body framing, keep-alive)
const ACCEPTED: &[(&[u8], Method, u16, BodyKind, bool)] = &[
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
        M::Get,
        200,
        B::ContentLength(12),
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        M::Get,
        200,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n",
        M::Get,
        200,
        B::ContentLength(3),
        true,
    ),
    (b"HTTP/1.1 200 OK\r\n\r\n", M::Get, 200, B::CloseDelimited, false),
    (
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
        M::Get,
        200,
        B::ContentLength(1),
        false,
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
        M::Get,
        200,
        B::ContentLength(1),
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
        M::Get,
        200,
        B::ContentLength(1),
        false,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        M::Post,
        200,
        B::Chunked,
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        M::Get,
        200,
        B::Chunked,
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        M::Get,
        200,
        B::CloseDelimited,
        false,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        M::Get,
        200,
        B::CloseDelimited,
        false,
    ),
    // TE wins over CL in a response, and the connection is closed afterwards (HAProxy)
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        M::Get,
        200,
        B::Chunked,
        false,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        M::Head,
        200,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        M::Head,
        200,
        B::None,
        true,
    ),
    (b"HTTP/1.1 204 No Content\r\n\r\n", M::Get, 204, B::None, true),
    (
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
        M::Get,
        304,
        B::None,
        true,
    ),
    (b"HTTP/1.1 100 Continue\r\n\r\n", M::Post, 100, B::None, true),
    (
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
        M::Get,
        103,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        M::Get,
        101,
        B::Tunnel,
        false,
    ),
    (
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        M::Connect,
        200,
        B::Tunnel,
        false,
    ),
    (
        b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n",
        M::Connect,
        407,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        M::Get,
        200,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
        M::Get,
        200,
        B::None,
        true,
    ),
    (
        b"HTTP/1.1 599 Whatever \xe9 reason\r\nContent-Length: 0\r\n\r\n",
        M::Get,
        599,
        B::None,
        true,
    ),
    (
        b"\r\nHTTP/1.1 200 OK\nContent-Length: 0\n\n",
        M::Get,
        200,
        B::None,
        true,
    ),
];

#[test]
fn accepted_responses() {
    for (i, (raw, m, status, body, ka)) in ACCEPTED.iter().enumerate() {
        let what = String::from_utf8_lossy(raw);
        let (h, n) = parse(raw, *m).unwrap_or_else(|e| panic!("#{i} {what:?}: {e}"));
        assert_eq!(n, raw.len(), "#{i}");
        assert_eq!(h.status, *status, "#{i} {what:?}");
        assert_eq!(h.body, *body, "#{i} {what:?}");
        assert_eq!(h.keep_alive(), *ka, "#{i} {what:?}");
    }
}

const REJECTED: &[(&str, &[u8], ErrorKind)] = &[
    (
        "two content-lengths",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ErrorKind::ConflictingContentLength,
    ),
    (
        "bad content-length",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        ErrorKind::InvalidContentLength,
    ),
    (
        "chunked twice",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        ErrorKind::ChunkedTwice,
    ),
    (
        "te in http/1.0",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ErrorKind::TransferEncodingHttp10,
    ),
    (
        "version 0.9",
        b"HTTP/0.9 200 OK\r\n\r\n",
        ErrorKind::InvalidVersion,
    ),
    ("no version", b"200 OK\r\n\r\n", ErrorKind::InvalidVersion),
    (
        "two digit status",
        b"HTTP/1.1 20 OK\r\n\r\n",
        ErrorKind::InvalidStatus,
    ),
    (
        "four digit status",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        ErrorKind::InvalidStatus,
    ),
    ("status 099", b"HTTP/1.1 099 OK\r\n\r\n", ErrorKind::InvalidStatus),
    (
        "status letters",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        ErrorKind::InvalidStatus,
    ),
    ("no space", b"HTTP/1.1200 OK\r\n\r\n", ErrorKind::InvalidStatus),
    (
        "nul in reason",
        b"HTTP/1.1 200 O\0K\r\n\r\n",
        ErrorKind::InvalidStatus,
    ),
    (
        "bare cr in reason",
        b"HTTP/1.1 200 O\rK\r\n\r\n",
        ErrorKind::BareCr,
    ),
    (
        "space before colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
        ErrorKind::WhitespaceBeforeColon,
    ),
    (
        "obs-fold",
        b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        ErrorKind::ObsFold,
    ),
    (
        "nul in value",
        b"HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n",
        ErrorKind::InvalidHeaderValue,
    ),
];

#[test]
fn rejected_responses_get_502() {
    for (name, raw, kind) in REJECTED {
        let e = parse(raw, Method::Get)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(e.kind, *kind, "{name}");
        assert_eq!(e.status, 502, "{name}");
    }
}

#[test]
fn interim_then_final() {
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    let l = Limits::default();
    let mut h = ResponseHead::new(&l);
    let Ok(Status::Complete(n)) = h.parse(raw, &l, Method::Post) else {
        panic!()
    };
    assert!(h.is_interim());
    let Ok(Status::Complete(m)) = h.parse(&raw[n..], &l, Method::Post) else {
        panic!()
    };
    assert!(!h.is_interim());
    assert_eq!(
        (h.status, h.body, h.version),
        (201, BodyKind::ContentLength(2), Version::Http11)
    );
    assert_eq!(&raw[n + m..], b"ok");
}

#[test]
fn response_rewrite_drops_content_length_under_te() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nServer: x\r\nX-Del: 1\r\n\r\n";
    let (h, _) = parse(raw, Method::Get).unwrap();
    let mut out = Vec::new();
    let edits = [
        HeaderEdit::Del { name: b"x-del" },
        HeaderEdit::Set {
            name: b"Server",
            value: b"ringlb",
        },
    ];
    write_response_head(raw, &h, &edits, &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: ringlb\r\n\r\n"
    );

    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 005, 5\r\ncontent-length: 5\r\n\r\n";
    let (h, _) = parse(raw, Method::Get).unwrap();
    out.clear();
    write_response_head(raw, &h, &[], &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}
