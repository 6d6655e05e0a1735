//! The chunked validator: tables of valid and invalid bodies, each fed whole and
//! split at every byte boundary (two pieces) and one byte at a time.

use engine::http::chunked::{CHUNK_LINE_BYTES_MAX, TRAILERS_MAX};
use engine::http::{ChunkError, ChunkedDecoder, Step};

/// Outcome of decoding: (bytes consumed in total, payload, done).
type Decoded = Result<(usize, Vec<u8>, bool), ChunkError>;

/// Decodes `pieces` in order.
fn decode(pieces: &[&[u8]]) -> Decoded {
    let mut d = ChunkedDecoder::new();
    let mut consumed = 0;
    let mut data = Vec::new();
    for piece in pieces {
        let mut pos = 0;
        while pos < piece.len() && !d.is_done() {
            match d.step(&piece[pos..])? {
                Step::Data(n) => {
                    assert!(n > 0);
                    data.extend_from_slice(&piece[pos..pos + n]);
                    pos += n;
                }
                Step::Framing(n) | Step::Done(n) => {
                    assert!(n > 0 || d.is_done());
                    pos += n;
                }
            }
        }
        consumed += pos;
        if d.is_done() {
            break;
        }
    }
    assert_eq!(d.data_total(), data.len() as u64);
    Ok((consumed, data, d.is_done()))
}

fn all_splits(input: &[u8]) -> Vec<Decoded> {
    let mut out = vec![decode(&[input])];
    for i in 0..=input.len() {
        out.push(decode(&[&input[..i], &input[i..]]));
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    out.push(decode(&bytes));
    out
}

const VALID: &[(&[u8], &[u8])] = &[
    (b"0\r\n\r\n", b""),
    (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
    (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    (b"a\r\n0123456789\r\n0000\r\n\r\n", b"0123456789"),
    (b"0005\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5;ext\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5;a=b;c=\"d e\"\r\nhello\r\n0;last\r\n\r\n", b"hello"),
    (b"5 ;a=b\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5\t;a\r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5 \r\nhello\r\n0\r\n\r\n", b"hello"),
    (b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", b"hello"),
    (b"5\r\nhe\r\nl\r\n0\r\nX:\r\n\r\n", b"he\r\nl"),
    (b"1\r\n\0\r\n0\r\n\r\n", b"\0"),
    (b"0\r\nX: caf\xc3\xa9\t\r\n\r\n", b""),
];

#[test]
fn valid_bodies_decode_the_same_however_split() {
    for (input, payload) in VALID {
        let mut with_next = input.to_vec();
        with_next.extend_from_slice(b"GET / HTTP/1.1\r\n");
        for r in all_splits(&with_next) {
            let (consumed, data, done) =
                r.unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)));
            assert!(done, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(consumed, input.len(), "{:?}", String::from_utf8_lossy(input));
            assert_eq!(data, *payload);
        }
    }
}

const INVALID: &[(&str, &[u8], ChunkError)] = &[
    ("non-hex size", b"zz\r\nhello\r\n0\r\n\r\n", ChunkError::EmptySize),
    ("empty size", b"\r\nhello\r\n0\r\n\r\n", ChunkError::EmptySize),
    ("ext without size", b";a\r\n", ChunkError::EmptySize),
    ("negative size", b"-5\r\nhello\r\n", ChunkError::EmptySize),
    ("plus size", b"+5\r\nhello\r\n", ChunkError::EmptySize),
    ("0x prefix", b"0x5\r\nhello\r\n", ChunkError::InvalidSize),
    ("junk after size", b"5g\r\nhello\r\n", ChunkError::InvalidSize),
    ("space inside size", b"5 5\r\nhello\r\n", ChunkError::InvalidSize),
    ("overflow", b"10000000000000000\r\n", ChunkError::SizeOverflow),
    (
        "overflow long",
        b"ffffffffffffffffff\r\n",
        ChunkError::SizeOverflow,
    ),
    (
        "bare lf after size",
        b"5\nhello\r\n0\r\n\r\n",
        ChunkError::BareCrOrLf,
    ),
    ("bare cr after size", b"5\rhello\r\n", ChunkError::BareCrOrLf),
    ("bare lf in extension", b"5;a\nhello\r\n", ChunkError::BareCrOrLf),
    (
        "nul in extension",
        b"5;a\0\r\nhello\r\n",
        ChunkError::InvalidExtension,
    ),
    (
        "ctl in extension",
        b"5;a\x01\r\nhello\r\n",
        ChunkError::InvalidExtension,
    ),
    (
        "data too long",
        b"5\r\nhello!\r\n0\r\n\r\n",
        ChunkError::MissingCrlf,
    ),
    (
        "data too short",
        b"5\r\nhell\r\n0\r\n\r\n",
        ChunkError::MissingCrlf,
    ),
    (
        "bare lf after data",
        b"5\r\nhello\n0\r\n\r\n",
        ChunkError::MissingCrlf,
    ),
    (
        "cr without lf after data",
        b"5\r\nhello\rX",
        ChunkError::MissingCrlf,
    ),
    ("bare lf end", b"0\r\n\n", ChunkError::BareCrOrLf),
    ("cr then junk at end", b"0\r\n\rX", ChunkError::BareCrOrLf),
    (
        "folded trailer",
        b"0\r\n X: 1\r\n\r\n",
        ChunkError::InvalidTrailer,
    ),
    (
        "trailer space before colon",
        b"0\r\nX : 1\r\n\r\n",
        ChunkError::InvalidTrailer,
    ),
    (
        "trailer without colon",
        b"0\r\nX\r\n\r\n",
        ChunkError::InvalidTrailer,
    ),
    ("trailer nul", b"0\r\nX: a\0\r\n\r\n", ChunkError::InvalidTrailer),
    ("trailer bare lf", b"0\r\nX: a\n\r\n", ChunkError::BareCrOrLf),
    ("trailer bare cr", b"0\r\nX: a\rb\r\n\r\n", ChunkError::BareCrOrLf),
];

#[test]
fn invalid_bodies_fail_the_same_however_split() {
    for (name, input, want) in INVALID {
        for r in all_splits(input) {
            assert_eq!(r.map(|_| ()), Err(*want), "{name}");
        }
    }
}

#[test]
fn limits_are_enforced() {
    let mut long = b"5;".to_vec();
    long.extend(std::iter::repeat_n(b'a', CHUNK_LINE_BYTES_MAX as usize));
    long.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    assert_eq!(
        decode(&[&long]).map(|_| ()),
        Err(ChunkError::LineTooLong {
            max: CHUNK_LINE_BYTES_MAX
        })
    );

    let mut many = b"0\r\n".to_vec();
    for _ in 0..=TRAILERS_MAX {
        many.extend_from_slice(b"X: 1\r\n");
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        decode(&[&many]).map(|_| ()),
        Err(ChunkError::TooManyTrailers { max: TRAILERS_MAX })
    );

    let mut big = b"0\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'v', 20000));
    big.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(
        decode(&[&big]),
        Err(ChunkError::TrailersTooLarge { .. })
    ));
}

#[test]
fn huge_chunk_sizes_are_streamed_not_buffered() {
    let mut d = ChunkedDecoder::new();
    assert_eq!(d.step(b"fffffffffffffff\r\n"), Ok(Step::Framing(17)));
    let block = [b'x'; 4096];
    for _ in 0..100 {
        assert_eq!(d.step(&block), Ok(Step::Data(4096)));
    }
    assert_eq!(d.data_total(), 409_600);
    assert!(!d.is_done());
}

#[test]
fn validate_reports_consumed_and_data() {
    let input = b"3\r\nabc\r\n0\r\n\r\nNEXT";
    let mut d = ChunkedDecoder::new();
    assert_eq!(d.validate(&input[..5]), Ok((5, 2)));
    assert_eq!(d.validate(&input[5..]), Ok((input.len() - 5 - 4, 1)));
    assert!(d.is_done());
    assert_eq!(d.validate(b"more"), Ok((0, 0)));
}
