//! Streaming validator for `Transfer-Encoding: chunked` bodies (RFC 9112 section 7.1).
//!
//! The proxy forwards chunked bodies byte for byte; this state machine walks the
//! same bytes and says which are chunk data and which are framing, and rejects
//! anything a backend could read differently: bad sizes, bare LF or CR, CTLs in
//! extensions or trailers, obsolete folding in trailers. Input may be split anywhere.

use super::chars::{is_ows, is_token, is_value};

/// Longest chunk-size line, extensions included (bytes): large enough for any real
/// extension, small enough that a peer cannot stream an endless line.
pub const CHUNK_LINE_BYTES_MAX: u32 = 4096;
/// Largest trailer section (bytes), like a head: HAProxy's default `tune.bufsize`.
pub const TRAILER_BYTES_MAX: u32 = 16384;
/// Most trailer fields accepted, like `tune.http.maxhdr`.
pub const TRAILERS_MAX: u32 = 101;

/// Why a chunked body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// A chunk-size line without hex digits.
    #[error("empty chunk size")]
    EmptySize,
    /// A byte that is not a hex digit, `;`, whitespace or CRLF in the size.
    #[error("invalid chunk size")]
    InvalidSize,
    /// The size does not fit in 64 bits.
    #[error("chunk size overflow")]
    SizeOverflow,
    /// A CTL in a chunk extension.
    #[error("invalid chunk extension")]
    InvalidExtension,
    /// The chunk-size line passed [`CHUNK_LINE_BYTES_MAX`].
    #[error("chunk size line too long (max {max})")]
    LineTooLong {
        /// The limit in bytes.
        max: u32,
    },
    /// Chunk data not followed by CRLF.
    #[error("missing crlf after chunk data")]
    MissingCrlf,
    /// CR not followed by LF, or LF without CR.
    #[error("bare cr or lf in chunk framing")]
    BareCrOrLf,
    /// A trailer line that is folded or not `token ":" value`.
    #[error("invalid trailer field")]
    InvalidTrailer,
    /// The trailer section passed [`TRAILER_BYTES_MAX`].
    #[error("trailer section too large (max {max})")]
    TrailersTooLarge {
        /// The limit in bytes.
        max: u32,
    },
    /// More than [`TRAILERS_MAX`] trailer fields.
    #[error("too many trailer fields (max {max})")]
    TooManyTrailers {
        /// The limit in fields.
        max: u32,
    },
}

/// One step of the decoder over the front of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first `n` bytes are chunk data (payload).
    Data(usize),
    /// The first `n` bytes are framing (sizes, extensions, CRLFs, trailers).
    Framing(usize),
    /// The first `n` bytes are framing that ends the body; bytes after them
    /// belong to the next message.
    Done(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SizeStart,
    Size,
    SizeBws,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
}

/// Chunked body decoder: one per message, starts at the first chunk-size line.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being read, then the data bytes still expected in this chunk.
    size: u64,
    line_bytes: u32,
    trailer_bytes: u32,
    trailers: u32,
    data_total: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl ChunkedDecoder {
    /// A decoder waiting for the first chunk-size line.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::SizeStart,
            size: 0,
            line_bytes: 0,
            trailer_bytes: 0,
            trailers: 0,
            data_total: 0,
        }
    }

    /// True once the last chunk and the trailer section were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes seen so far (chunk data only).
    pub fn data_total(&self) -> u64 {
        self.data_total
    }

    /// Classifies the front of `input`. Each call consumes at least one byte when
    /// `input` is not empty and the body is not done; errors are final.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        if self.state == State::Done {
            return Ok(Step::Done(0));
        }
        if self.state == State::Data {
            debug_assert!(self.size > 0);
            let n = usize::try_from(self.size).unwrap_or(usize::MAX).min(input.len());
            self.size -= n as u64;
            self.data_total += n as u64;
            if self.size == 0 {
                self.state = State::DataCr;
            }
            return Ok(Step::Data(n));
        }
        debug_assert!(self.state != State::Data);
        for (i, &b) in input.iter().enumerate() {
            self.byte(b)?;
            match self.state {
                State::Done => return Ok(Step::Done(i + 1)),
                State::Data => return Ok(Step::Framing(i + 1)),
                _ => {}
            }
        }
        Ok(Step::Framing(input.len()))
    }

    /// Walks all of `input`; returns `(consumed, data_bytes)`. `consumed` is less
    /// than `input.len()` only when the body ended inside `input`.
    pub fn validate(&mut self, input: &[u8]) -> Result<(usize, u64), ChunkError> {
        let mut pos = 0;
        let mut data = 0u64;
        // Each step consumes at least one byte until done or input is exhausted.
        while pos < input.len() {
            match self.step(&input[pos..])? {
                Step::Data(n) => {
                    pos += n;
                    data += n as u64;
                }
                Step::Framing(n) => pos += n,
                Step::Done(n) => {
                    pos += n;
                    break;
                }
            }
        }
        debug_assert!(pos <= input.len());
        Ok((pos, data))
    }

    fn line_byte(&mut self) -> Result<(), ChunkError> {
        self.line_bytes += 1;
        if self.line_bytes > CHUNK_LINE_BYTES_MAX {
            return Err(ChunkError::LineTooLong {
                max: CHUNK_LINE_BYTES_MAX,
            });
        }
        Ok(())
    }

    fn trailer_byte(&mut self) -> Result<(), ChunkError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > TRAILER_BYTES_MAX {
            return Err(ChunkError::TrailersTooLarge {
                max: TRAILER_BYTES_MAX,
            });
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.line_bytes = 0;
        self.state = if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }

    fn byte(&mut self, b: u8) -> Result<(), ChunkError> {
        use State::*;
        match self.state {
            SizeStart => {
                self.line_byte()?;
                self.size = hex(b).ok_or(ChunkError::EmptySize)?;
                self.state = Size;
            }
            Size => {
                self.line_byte()?;
                if let Some(d) = hex(b) {
                    if self.size > u64::MAX >> 4 {
                        return Err(ChunkError::SizeOverflow);
                    }
                    self.size = (self.size << 4) | d;
                } else {
                    self.state = match b {
                        b';' => Ext,
                        b' ' | b'\t' => SizeBws,
                        b'\r' => SizeLf,
                        b'\n' => return Err(ChunkError::BareCrOrLf),
                        _ => return Err(ChunkError::InvalidSize),
                    };
                }
            }
            SizeBws => {
                self.line_byte()?;
                self.state = match b {
                    b' ' | b'\t' => SizeBws,
                    b';' => Ext,
                    b'\r' => SizeLf,
                    b'\n' => return Err(ChunkError::BareCrOrLf),
                    _ => return Err(ChunkError::InvalidSize),
                };
            }
            Ext => {
                self.line_byte()?;
                match b {
                    b'\r' => self.state = SizeLf,
                    b'\n' => return Err(ChunkError::BareCrOrLf),
                    _ if is_value(b) => {}
                    _ => return Err(ChunkError::InvalidExtension),
                }
            }
            SizeLf => {
                if b != b'\n' {
                    return Err(ChunkError::BareCrOrLf);
                }
                self.end_size_line();
            }
            Data => unreachable_data(),
            DataCr => {
                self.state = match b {
                    b'\r' => DataLf,
                    _ => return Err(ChunkError::MissingCrlf),
                }
            }
            DataLf => {
                if b != b'\n' {
                    return Err(ChunkError::MissingCrlf);
                }
                self.state = SizeStart;
            }
            TrailerStart => {
                self.trailer_byte()?;
                match b {
                    b'\r' => self.state = EndLf,
                    _ if is_token(b) => {
                        self.trailers += 1;
                        if self.trailers > TRAILERS_MAX {
                            return Err(ChunkError::TooManyTrailers { max: TRAILERS_MAX });
                        }
                        self.state = TrailerName;
                    }
                    b'\n' => return Err(ChunkError::BareCrOrLf),
                    // SP/HTAB here would be obsolete line folding.
                    _ => return Err(ChunkError::InvalidTrailer),
                }
            }
            TrailerName => {
                self.trailer_byte()?;
                match b {
                    b':' => self.state = TrailerValue,
                    _ if is_token(b) => {}
                    _ => return Err(ChunkError::InvalidTrailer),
                }
            }
            TrailerValue => {
                self.trailer_byte()?;
                match b {
                    b'\r' => self.state = TrailerLf,
                    _ if is_value(b) || is_ows(b) => {}
                    b'\n' => return Err(ChunkError::BareCrOrLf),
                    _ => return Err(ChunkError::InvalidTrailer),
                }
            }
            TrailerLf => {
                self.trailer_byte()?;
                if b != b'\n' {
                    return Err(ChunkError::BareCrOrLf);
                }
                self.state = TrailerStart;
            }
            EndLf => {
                if b != b'\n' {
                    return Err(ChunkError::BareCrOrLf);
                }
                self.state = Done;
            }
            Done => {}
        }
        Ok(())
    }
}

/// Data bytes are handled in [`ChunkedDecoder::step`] before the byte loop; the
/// loop returns as soon as the state becomes `Data`.
#[inline]
fn unreachable_data() {
    debug_assert!(false, "data byte in framing loop");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Result<(usize, Vec<u8>, bool), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut pos = 0;
        let mut data = Vec::new();
        while pos < input.len() {
            match d.step(&input[pos..])? {
                Step::Data(n) => {
                    data.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                }
                Step::Framing(n) => pos += n,
                Step::Done(n) => {
                    pos += n;
                    break;
                }
            }
        }
        Ok((pos, data, d.is_done()))
    }

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let body = b"5;name=\"v\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (n, data, done) = decode(body).unwrap();
        assert!(done);
        assert_eq!(n, body.len() - 4);
        assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn rejects_bad_framing() {
        let bad: &[(&[u8], ChunkError)] = &[
            (b"zz\r\n", ChunkError::EmptySize),
            (b"\r\n", ChunkError::EmptySize),
            (b"5x\r\n", ChunkError::InvalidSize),
            (b"10000000000000000\r\n", ChunkError::SizeOverflow),
            (b"5\nhello", ChunkError::BareCrOrLf),
            (b"5\rhello", ChunkError::BareCrOrLf),
            (b"5\r\nhelloX", ChunkError::MissingCrlf),
            (b"5;a\0\r\n", ChunkError::InvalidExtension),
            (b"0\r\n X: 1\r\n\r\n", ChunkError::InvalidTrailer),
            (b"0\r\nX : 1\r\n\r\n", ChunkError::InvalidTrailer),
        ];
        for (input, want) in bad {
            assert_eq!(
                decode(input).map(|_| ()),
                Err(*want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
