//! engine::http hot paths: the request head parser on a typical browser request
//! (~500 bytes, 12 headers) and on a 40-header request, the chunked validator on
//! a 64 KiB body in 4 KiB chunks, and the head writer with a few rewrites. These
//! run once per request on the proxy's core, so their cost is the floor of the
//! proxy's CPU per request.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::http::write::{write_request_head, HeaderEdit, X_FORWARDED_FOR};
use engine::http::{ChunkedDecoder, Limits, RequestHead, Status};
use std::hint::black_box;

const BROWSER: &[u8] = b"GET /static/app/main.3f9a1c.js?v=20240611 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/index.html\r\n\
Connection: keep-alive\r\n\
Cookie: session=8c1f2e; theme=dark; _ga=GA1.2.123456789.1700000000\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
If-None-Match: \"5f3a-61b2c9d0\"\r\n\
\r\n";

fn forty_headers() -> Vec<u8> {
    let mut r = b"POST /api/v2/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n".to_vec();
    for i in 0..38 {
        r.extend_from_slice(format!("X-Custom-Header-{i:02}: value-{i}-abcdefghijklmnop\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/http_parse");
    let limits = Limits::default();
    let forty = forty_headers();
    for (name, input) in [("browser_12_headers", BROWSER), ("api_40_headers", &forty[..])] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        let mut head = RequestHead::new(&limits);
        g.bench_with_input(BenchmarkId::new("request_head", name), input, |b, input| {
            b.iter(|| {
                let r = head.parse(black_box(input), &limits);
                debug_assert!(matches!(r, Ok(Status::Complete(_))));
                black_box(r)
            })
        });
    }

    let mut body = Vec::new();
    for _ in 0..16 {
        body.extend_from_slice(b"1000\r\n");
        body.extend(std::iter::repeat_n(b'x', 4096));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_with_input(
        BenchmarkId::new("chunked_validate", "64KiB_4KiB_chunks"),
        &body,
        |b, body| {
            b.iter(|| {
                let mut d = ChunkedDecoder::new();
                black_box(d.validate(black_box(body)))
            })
        },
    );

    let mut head = RequestHead::new(&limits);
    let _ = head.parse(BROWSER, &limits);
    let edits = [
        HeaderEdit::Set {
            name: b"X-Request-Start",
            value: b"t=1700000000000",
        },
        HeaderEdit::Del { name: b"Cookie" },
        HeaderEdit::Add {
            name: X_FORWARDED_FOR,
            value: b"192.0.2.10",
        },
    ];
    let mut out = Vec::with_capacity(1024);
    g.throughput(Throughput::Bytes(BROWSER.len() as u64));
    g.bench_function(BenchmarkId::new("write_request_head", "browser_3_edits"), |b| {
        b.iter(|| {
            out.clear();
            black_box(write_request_head(
                BROWSER,
                &head,
                Some(b"/app/main.js"),
                &edits,
                &mut out,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
