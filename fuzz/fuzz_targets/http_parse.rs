//! Feeds arbitrary bytes to the HTTP/1.1 request and response parsers and the chunked
//! decoder: none may panic, and a request parsed in two pieces must give the same answer as
//! in one.
#![no_main]

use engine::http::{ChunkedDecoder, Limits, Method, RequestHead, ResponseHead, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut whole = RequestHead::new(&limits);
    let one = whole.parse(data, &limits);
    if let Some((&cut, _)) = data.split_first() {
        let cut = usize::from(cut).min(data.len());
        let mut split = RequestHead::new(&limits);
        let first = split.parse(&data[..cut], &limits);
        let two = match first {
            Ok(Status::Incomplete) => split.parse(data, &limits),
            other => other,
        };
        assert_eq!(one.is_ok(), two.is_ok(), "split parse disagrees at {cut}");
    }
    let mut resp = ResponseHead::new(&limits);
    let _ = resp.parse(data, &limits, Method::Get);
    let mut chunked = ChunkedDecoder::new();
    let _ = chunked.validate(data);
});
