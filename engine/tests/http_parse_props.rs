//! Properties of the HTTP parsers over random input: they never panic, and
//! feeding the same bytes split anywhere gives the same answer as one piece.

use engine::http::write::write_request_head;
use engine::http::{ChunkedDecoder, Limits, Method, RequestHead, ResponseHead, Status};
use proptest::prelude::*;

/// Parses `raw` fed as growing prefixes cut at `cuts`, then whole.
fn req_split(raw: &[u8], cuts: &[usize], l: &Limits) -> String {
    let mut h = RequestHead::new(l);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
    points.sort_unstable();
    points.push(raw.len());
    for p in points {
        match h.parse(&raw[..p], l) {
            Ok(Status::Incomplete) => continue,
            r => return summary(raw, &h, r),
        }
    }
    "incomplete".into()
}

fn summary(raw: &[u8], h: &RequestHead, r: Result<Status, engine::http::ParseError>) -> String {
    match r {
        Ok(Status::Complete(n)) => format!(
            "ok {n} {:?} {:?} {:?} {:?}",
            h.target.get(raw),
            h.body,
            h.headers
                .iter()
                .map(|x| (x.name.get(raw), x.value.get(raw)))
                .collect::<Vec<_>>(),
            h.keep_alive()
        ),
        Ok(Status::Incomplete) => "incomplete".into(),
        Err(e) => format!("err {e:?}"),
    }
}

/// Bytes that look like HTTP often enough to reach deep states.
fn http_ish() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop_oneof![
        Just(&b"GET / HTTP/1.1\r\n"[..]),
        Just(&b"POST /x?y HTTP/1.0\r\n"[..]),
        Just(&b"Host: a\r\n"[..]),
        Just(&b"Content-Length: 5\r\n"[..]),
        Just(&b"Content-Length: 5, 5\r\n"[..]),
        Just(&b"Transfer-Encoding: chunked\r\n"[..]),
        Just(&b"Connection: close\r\n"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
        Just(&b" "[..]),
        Just(&b":"[..]),
        Just(&b"\0"[..]),
        Just(&b"X"[..]),
        Just(&b"\t"[..]),
        Just(&b"Host: b\r\n"[..]),
        Just(&b"X-A: v \t\r\n"[..]),
        Just(&b" folded\r\n"[..]),
        Just(&b"Transfer-Encoding: gzip\r\n"[..]),
        Just(&b"GET http://a:80/p HTTP/1.1\r\n"[..]),
    ];
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        let l = Limits::default();
        let _ = RequestHead::new(&l).parse(&raw, &l);
        let _ = ResponseHead::new(&l).parse(&raw, &l, Method::Get);
        let _ = ChunkedDecoder::new().validate(&raw);
    }

    #[test]
    fn request_split_anywhere_equals_one_piece(raw in http_ish(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let l = Limits { head_bytes_max: 256, headers_max: 8, ..Limits::default() };
        let mut h = RequestHead::new(&l);
        let r = h.parse(&raw, &l);
        let whole = summary(&raw, &h, r);
        prop_assert_eq!(req_split(&raw, &cuts, &l), whole);
    }

    #[test]
    fn accepted_request_rewritten_reparses_identically(raw in http_ish()) {
        let l = Limits::default();
        let mut h = RequestHead::new(&l);
        if let Ok(Status::Complete(_)) = h.parse(&raw, &l) {
            let mut out = Vec::new();
            write_request_head(&raw, &h, None, &[], &mut out).unwrap();
            let mut h2 = RequestHead::new(&l);
            prop_assert_eq!(h2.parse(&out, &l), Ok(Status::Complete(out.len())));
            prop_assert_eq!(h2.body, h.body);
            prop_assert_eq!(h2.target.get(&out), h.target.get(&raw));
            prop_assert_eq!(h2.headers.len(), h.headers.len() - dup_cl(&raw, &h));
        }
    }

    #[test]
    fn chunked_split_anywhere_equals_one_piece(
        sizes in prop::collection::vec(0usize..40, 0..6),
        cut in any::<usize>(),
    ) {
        let mut body = Vec::new();
        let mut payload = Vec::new();
        for (i, s) in sizes.iter().enumerate().filter(|(_, s)| **s > 0) {
            body.extend_from_slice(format!("{s:x};i={i}\r\n").as_bytes());
            let chunk: Vec<u8> = (0..*s).map(|k| (k * 7 + i) as u8).collect();
            body.extend_from_slice(&chunk);
            body.extend_from_slice(b"\r\n");
            payload.extend_from_slice(&chunk);
        }
        body.extend_from_slice(b"0\r\nT: v\r\n\r\n");
        let cut = cut % (body.len() + 1);
        let mut d = ChunkedDecoder::new();
        let (a, da) = d.validate(&body[..cut]).unwrap();
        let (b, db) = d.validate(&body[cut..]).unwrap();
        prop_assert!(d.is_done());
        prop_assert_eq!(a + b, body.len());
        prop_assert_eq!(da + db, payload.len() as u64);
    }
}

/// Content-Length fields beyond the first are merged away by the writer.
fn dup_cl(raw: &[u8], h: &RequestHead) -> usize {
    let n = h
        .headers
        .iter()
        .filter(|x| x.name.get(raw).eq_ignore_ascii_case(b"content-length"))
        .count();
    n.saturating_sub(1)
}
