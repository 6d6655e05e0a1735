//! The HTTP/1.1 message layer: pure functions and state machines, no I/O.
//!
//! - [`RequestHead::parse`] / [`ResponseHead::parse`]: strict head parsers that record
//!   offsets into the caller's receive buffer (zero-copy) and decide the body framing.
//! - [`ChunkedDecoder`]: validates a chunked body while it is forwarded as is.
//! - [`write`](mod@write): builds the outgoing head with the configured rewrites applied.
//! - [`errors`]: HAProxy's default error responses, byte for byte.
//!
//! Anything ambiguous (request smuggling material) is an error, never a guess.
//!
//! Driving it from an event loop that holds one receive buffer per connection:
//!
//! ```
//! use engine::http::{errors, write, BodyKind, ChunkedDecoder, Limits, RequestHead, Status};
//!
//! let limits = Limits::default(); // tune.bufsize 16384, tune.maxrewrite 1024, maxhdr 101
//! let mut head = RequestHead::new(&limits); // one per connection, reused
//! let mut rx = Vec::new(); // the connection's receive buffer
//! let mut out = Vec::new(); // what goes to the server
//! for packet in [&b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-"[..],
//!                b"Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"] {
//!     rx.extend_from_slice(packet);
//!     match head.parse(&rx, &limits) {
//!         Ok(Status::Incomplete) => continue, // wait for more bytes
//!         Ok(Status::Complete(n)) => {
//!             let xff = [write::HeaderEdit::Add { name: write::X_FORWARDED_FOR, value: b"192.0.2.1" }];
//!             write::write_request_head(&rx, &head, None, &xff, &mut out).unwrap();
//!             assert_eq!(head.body, BodyKind::Chunked);
//!             let mut body = ChunkedDecoder::new();
//!             let (used, _payload) = body.validate(&rx[n..]).unwrap();
//!             assert!(body.is_done());
//!             out.extend_from_slice(&rx[n..n + used]); // forwarded as received
//!             rx.drain(..n + used); // a pipelined request would start here
//!         }
//!         Err(e) => {
//!             // answer e.status (400) and close; never forward
//!             let _reply = errors::default_response(e.status, true);
//!             unreachable!("{e}");
//!         }
//!     }
//! }
//! assert!(out.starts_with(b"POST /up HTTP/1.1\r\nHost: a\r\n"));
//! assert!(rx.is_empty());
//! ```

#![warn(missing_docs)]

mod chars;
pub mod chunked;
pub mod errors;
mod head;
pub mod write;

pub use chunked::{ChunkError, ChunkedDecoder, Step};
pub use head::{
    field_values, find_header, list_values, BodyKind, ConnectionTokens, ErrorKind, Header, Limits, Method,
    ParseError, RequestHead, ResponseHead, Span, Status, Version, HEADERS_CEILING, HEAD_BYTES_CEILING,
    TUNE_BUFSIZE_DEFAULT, TUNE_HTTP_MAXHDR_DEFAULT, TUNE_MAXREWRITE_DEFAULT,
};
