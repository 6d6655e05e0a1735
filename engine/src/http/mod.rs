//! The HTTP/1.1 message layer: pure functions and state machines, no I/O.
//!
//! - [`RequestHead::parse`] / [`ResponseHead::parse`]: strict head parsers that record
//!   offsets into the caller's receive buffer (zero-copy) and decide the body framing.
//! - [`ChunkedDecoder`]: validates a chunked body while it is forwarded as is.
//! - [`write`]: builds the outgoing head with the configured rewrites applied.
//! - [`errors`]: HAProxy's default error responses, byte for byte.
//!
//! Anything ambiguous (request smuggling material) is an error, never a guess.

mod chars;
pub mod chunked;
pub mod errors;
mod head;
pub mod write;

pub use chunked::{ChunkError, ChunkedDecoder, Step};
pub use head::{
    find_header, BodyKind, ConnectionTokens, ErrorKind, Header, Limits, Method, ParseError,
    RequestHead, ResponseHead, Span, Status, Version, HEADERS_CEILING, HEAD_BYTES_CEILING,
    TUNE_BUFSIZE_DEFAULT, TUNE_HTTP_MAXHDR_DEFAULT, TUNE_MAXREWRITE_DEFAULT,
};
