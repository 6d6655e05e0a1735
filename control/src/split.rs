//! HAProxy's CLI line protocol, byte for byte: how a stream of bytes becomes requests, and
//! how one request line becomes words.
//!
//! - Commands end on an unescaped `;` or LF (`b_getdelim(.., "\n;", '\\')` in HAProxy's
//!   `cli_snd_buf`); one trailing CR is dropped.
//! - A command whose last space-separated word starts with `<<` (followed by at most
//!   [`PAYLOAD_PATTERN_BYTES_MAX`] bytes of custom terminator) takes the following lines as
//!   its payload, up to a line equal to the terminator (an empty line for plain `<<`). The
//!   payload keeps its line breaks but not the last one.
//! - Words are separated by spaces and tabs; `\` escapes the next byte (`\\` is one
//!   backslash); at most [`WORDS_MAX`] words.
//! - A request (command line plus payload) holds at most [`REQUEST_BYTES_MAX`] bytes.
//!
//! Pure and incremental: [`Splitter::feed`] takes whatever bytes the socket gave and hands
//! back at most one complete [`Request`] per call, so the server runs commands one by one
//! as HAProxy does. No I/O, bounded memory, never panics.

use crate::command::PAYLOAD_PATTERN_BYTES_MAX;

/// Most bytes one request (command line plus payload) may hold: HAProxy's default
/// `tune.bufsize` (16384), the buffer a whole request must fit in. Larger requests get
/// HAProxy's "command is too big" answer and the connection is closed.
pub const REQUEST_BYTES_MAX: usize = 16_384;

/// Most words in one command: HAProxy's `MAX_CLI_ARGS`.
pub const WORDS_MAX: usize = 64;

/// Marker at the start of the last word of a command that announces a payload.
pub const PAYLOAD_MARKER: &[u8] = b"<<";

/// One complete request: a command line and its payload if it announced one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command line without its `;`/LF delimiter and without one trailing CR. Escapes
    /// are still in place; [`split_words`] removes them.
    pub line: Vec<u8>,
    /// The payload (lines joined by LF, without the final LF) when the line ended with the
    /// payload marker.
    pub payload: Option<Vec<u8>>,
    /// The custom terminator after `<<` (empty for plain `<<`), needed to recognise the
    /// marker word in `line`.
    pub pattern: Vec<u8>,
    /// The request ended with a LF (not a `;`): in non-interactive mode the session ends
    /// after this request, like HAProxy's `APPCTX_CLI_ST1_LASTCMD`.
    pub ends_line: bool,
}

/// Why the splitter gave up. After an error the splitter is reset; the server answers
/// [`crate::messages::COMMAND_TOO_BIG`] and closes the connection as HAProxy does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The request outgrew [`REQUEST_BYTES_MAX`].
    #[error("request too long (more than {max} bytes)")]
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
}

/// What [`Splitter::feed`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// All input was consumed and no request is complete yet.
    NeedMore,
    /// A complete request; the rest of the input was not consumed.
    Request(Request),
    /// The request was too big; the splitter was reset.
    Error(SplitError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading a command line.
    Line,
    /// Reading payload lines; `line` holds the finished command line.
    Payload {
        line: Vec<u8>,
        pattern: Vec<u8>,
        payload: Vec<u8>,
        /// At least one payload line was read (the first may be empty).
        started: bool,
    },
}

/// Incremental request splitter for one CLI connection.
#[derive(Debug, Clone)]
pub struct Splitter {
    state: State,
    /// The command line or payload line being read.
    cur: Vec<u8>,
    /// The previous byte of the command line was an unescaped backslash.
    escaping: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at the start of a connection.
    pub fn new() -> Splitter {
        Splitter {
            state: State::Line,
            cur: Vec::new(),
            escaping: false,
        }
    }

    /// Whether the splitter is inside a payload (interactive mode prompts `+ ` there).
    pub fn in_payload(&self) -> bool {
        matches!(self.state, State::Payload { .. })
    }

    /// Bytes held for the request being read.
    pub fn buffered(&self) -> usize {
        let held = match &self.state {
            State::Line => 0,
            State::Payload { line, payload, .. } => line.len() + payload.len(),
        };
        held + self.cur.len()
    }

    /// Consumes bytes from `input` up to the end of the next complete request. Returns how
    /// many bytes were consumed and what they produced. Call again with the rest of the
    /// input after handling a [`Feed::Request`].
    pub fn feed(&mut self, input: &[u8]) -> (usize, Feed) {
        debug_assert!(self.buffered() <= REQUEST_BYTES_MAX);
        for (i, &b) in input.iter().enumerate() {
            let done = match self.state {
                State::Line => self.line_byte(b),
                State::Payload { .. } => self.payload_byte(b),
            };
            match done {
                Ok(None) => {}
                Ok(Some(req)) => {
                    debug_assert!(self.buffered() == 0 && !self.in_payload());
                    debug_assert!(
                        req.line.len() + req.payload.as_ref().map_or(0, Vec::len) <= REQUEST_BYTES_MAX
                    );
                    return (i + 1, Feed::Request(req));
                }
                Err(e) => {
                    self.reset();
                    return (i + 1, Feed::Error(e));
                }
            }
        }
        (input.len(), Feed::NeedMore)
    }

    /// At end of input: the unterminated command line (if not blank) or the unterminated
    /// payload as a last request. HAProxy itself drops an unterminated command; the server
    /// decides whether to be lenient. Resets the splitter.
    pub fn finish(&mut self) -> Option<Request> {
        let state = std::mem::replace(&mut self.state, State::Line);
        let cur = std::mem::take(&mut self.cur);
        self.escaping = false;
        match state {
            State::Line => {
                let line = strip_cr(cur);
                if line.iter().all(|b| matches!(b, b' ' | b'\t')) {
                    return None;
                }
                Some(Request {
                    line,
                    payload: None,
                    pattern: Vec::new(),
                    ends_line: true,
                })
            }
            State::Payload {
                line,
                pattern,
                mut payload,
                started,
            } => {
                if !cur.is_empty() && cur != pattern {
                    if started {
                        payload.push(b'\n');
                    }
                    payload.extend_from_slice(&cur);
                }
                Some(Request {
                    line,
                    payload: Some(payload),
                    pattern,
                    ends_line: true,
                })
            }
        }
    }

    fn reset(&mut self) {
        *self = Splitter::new();
    }

    fn line_byte(&mut self, b: u8) -> Result<Option<Request>, SplitError> {
        debug_assert!(matches!(self.state, State::Line));
        if self.escaping {
            self.escaping = false;
        } else if b == b'\\' {
            self.escaping = true;
        } else if b == b';' || b == b'\n' {
            return Ok(self.end_line(b == b'\n'));
        }
        self.push_cur(b)?;
        Ok(None)
    }

    /// The command line is complete: either it announces a payload or it is a request.
    fn end_line(&mut self, lf: bool) -> Option<Request> {
        let line = strip_cr(std::mem::take(&mut self.cur));
        debug_assert!(self.cur.is_empty() && !self.escaping);
        if let Some(pattern) = payload_pattern(&line) {
            self.state = State::Payload {
                line,
                pattern,
                payload: Vec::new(),
                started: false,
            };
            return None;
        }
        Some(Request {
            line,
            payload: None,
            pattern: Vec::new(),
            ends_line: lf,
        })
    }

    fn payload_byte(&mut self, b: u8) -> Result<Option<Request>, SplitError> {
        if b != b'\n' {
            self.push_cur(b)?;
            return Ok(None);
        }
        let State::Payload {
            line,
            pattern,
            payload,
            started,
        } = &mut self.state
        else {
            return Ok(None);
        };
        // HAProxy compares the line without its LF (a CR stays) with the terminator.
        debug_assert!(pattern.len() <= PAYLOAD_PATTERN_BYTES_MAX);
        if self.cur == *pattern {
            let req = Request {
                line: std::mem::take(line),
                payload: Some(std::mem::take(payload)),
                pattern: std::mem::take(pattern),
                ends_line: true,
            };
            self.state = State::Line;
            self.cur.clear();
            return Ok(Some(req));
        }
        if *started {
            payload.push(b'\n');
        }
        *started = true;
        payload.append(&mut self.cur);
        Ok(None)
    }

    fn push_cur(&mut self, b: u8) -> Result<(), SplitError> {
        if self.buffered() >= REQUEST_BYTES_MAX {
            return Err(SplitError::TooLong {
                max: REQUEST_BYTES_MAX,
            });
        }
        self.cur.push(b);
        Ok(())
    }
}

fn strip_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

/// The custom terminator if `line` announces a payload: its last word (after the last
/// space or tab, escapes not considered, as in HAProxy) starts with `<<` and the rest is at
/// most [`PAYLOAD_PATTERN_BYTES_MAX`] bytes.
pub fn payload_pattern(line: &[u8]) -> Option<Vec<u8>> {
    let start = line
        .iter()
        .rposition(|&b| b == b' ' || b == b'\t')
        .map_or(0, |i| i + 1);
    let last = line.get(start..)?;
    let rest = last.strip_prefix(PAYLOAD_MARKER)?;
    (rest.len() <= PAYLOAD_PATTERN_BYTES_MAX).then(|| rest.to_vec())
}

/// One word of a command line, unescaped, with the offset of its first byte in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordSpan {
    /// Offset of the word in the line.
    pub offset: usize,
    /// The word with its escapes removed.
    pub bytes: Vec<u8>,
}

/// The line holds more than [`WORDS_MAX`] words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many words (max {max}) at {offset}")]
pub struct TooManyWords {
    /// Offset of the first word past the limit.
    pub offset: usize,
    /// The limit.
    pub max: usize,
}

/// Splits a command line into words as HAProxy's `cli_parse_request` does. When `pattern`
/// is given (the request has a payload), a word made of `<<` and the pattern ends the
/// words.
pub fn split_words(line: &[u8], pattern: Option<&[u8]>) -> Result<Vec<WordSpan>, TooManyWords> {
    let mut words = Vec::new();
    let mut p = 0usize;
    let end = line.len();
    loop {
        while p < end && matches!(line.get(p), Some(b' ' | b'\t')) {
            p += 1;
        }
        if p >= end {
            break;
        }
        if let (Some(pat), Some(rest)) = (pattern, line.get(p..)) {
            if let Some(after) = rest.strip_prefix(PAYLOAD_MARKER) {
                if after == pat {
                    break;
                }
            }
        }
        if words.len() >= WORDS_MAX {
            return Err(TooManyWords {
                offset: p,
                max: WORDS_MAX,
            });
        }
        let start = p;
        while p < end {
            match line.get(p) {
                Some(b' ' | b'\t') => break,
                // Skip the backslash and the byte it escapes.
                Some(b'\\') => p += 2,
                _ => p += 1,
            }
        }
        let stop = p.min(end);
        debug_assert!(start < stop, "a word has at least one byte");
        let raw = line.get(start..stop).unwrap_or_default();
        words.push(WordSpan {
            offset: start,
            bytes: unescape(raw),
        });
        p = stop + 1;
    }
    debug_assert!(words.len() <= WORDS_MAX);
    Ok(words)
}

/// Removes backslash escapes: `\x` is `x`, `\\` is `\`, a final lone `\` disappears.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        let mut b = raw[k];
        if b == b'\\' {
            if raw.get(k + 1) == Some(&b'\\') {
                k += 1;
            } else {
                k += 1;
                continue;
            }
            b = b'\\';
        }
        out.push(b);
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Result<Request, SplitError>> {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        let mut rest = input;
        // Each round consumes at least one byte or ends: bounded by the input length.
        for _ in 0..=input.len() {
            let (n, feed) = s.feed(rest);
            rest = rest.get(n..).unwrap_or_default();
            match feed {
                Feed::NeedMore => break,
                Feed::Request(r) => out.push(Ok(r)),
                Feed::Error(e) => out.push(Err(e)),
            }
        }
        out
    }

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        all(input)
            .into_iter()
            .filter_map(|r| r.ok().map(|r| r.line))
            .collect()
    }

    #[test]
    fn splits_on_unescaped_semicolon_and_lf() {
        assert_eq!(
            lines(b"show info;show stat\nhelp\n"),
            vec![b"show info".to_vec(), b"show stat".to_vec(), b"help".to_vec()]
        );
        assert_eq!(lines(b"echo a\\;b\n"), vec![b"echo a\\;b".to_vec()]);
        assert_eq!(
            lines(b"echo a\\\\;b\n"),
            vec![b"echo a\\\\".to_vec(), b"b".to_vec()]
        );
        assert_eq!(lines(b"show info\r\n"), vec![b"show info".to_vec()]);
    }

    #[test]
    fn marks_lf_ended_requests() {
        let reqs = all(b"a;b\n");
        let ends: Vec<bool> = reqs.iter().flatten().map(|r| r.ends_line).collect();
        assert_eq!(ends, vec![false, true]);
    }

    #[test]
    fn incremental_byte_by_byte_equals_whole() {
        let input = b"add map virt@x.map <<\nk1 v1\nk2 v 2\n\nshow info\n";
        let whole = all(input);
        let mut s = Splitter::new();
        let mut got = Vec::new();
        for b in input.iter() {
            let (n, f) = s.feed(std::slice::from_ref(b));
            assert_eq!(n, 1);
            if let Feed::Request(r) = f {
                got.push(Ok(r));
            }
        }
        assert_eq!(got, whole);
        assert_eq!(whole.len(), 2);
    }

    #[test]
    fn payload_until_empty_line() {
        let reqs = all(b"add map m <<\nk1 v1\nk2 v2\n\nhelp\n");
        let first = reqs[0].as_ref().expect("payload request");
        assert_eq!(first.line, b"add map m <<");
        assert_eq!(first.payload.as_deref(), Some(&b"k1 v1\nk2 v2"[..]));
        assert!(first.ends_line);
        assert_eq!(reqs[1].as_ref().map(|r| r.line.clone()), Ok(b"help".to_vec()));
    }

    #[test]
    fn payload_custom_pattern_and_cr_line_is_not_terminator() {
        let reqs = all(b"add map m <<EOF\na b\n\nEOF\n");
        let r = reqs[0].as_ref().expect("request");
        assert_eq!(r.pattern, b"EOF");
        assert_eq!(r.payload.as_deref(), Some(&b"a b\n"[..]));
        // "\r" alone does not end a plain payload, as in HAProxy.
        let mut s = Splitter::new();
        let input = b"add map m <<\r\na b\r\n\r\n";
        assert_eq!(s.feed(input), (input.len(), Feed::NeedMore));
        assert!(s.in_payload());
    }

    #[test]
    fn payload_keeps_a_leading_empty_line_with_custom_pattern() {
        let reqs = all(b"add map m <<END\n\nk v\nEND\n");
        let r = reqs[0].as_ref().expect("request");
        assert_eq!(r.payload.as_deref(), Some(&b"\nk v"[..]));
    }

    #[test]
    fn long_pattern_is_not_a_payload() {
        assert_eq!(payload_pattern(b"x <<12345678"), None);
        assert_eq!(payload_pattern(b"x <<1234567"), Some(b"1234567".to_vec()));
        assert_eq!(payload_pattern(b"<<"), Some(Vec::new()));
        assert_eq!(payload_pattern(b"x y"), None);
    }

    #[test]
    fn too_long_request_is_an_error_and_resets() {
        let big = vec![b'a'; REQUEST_BYTES_MAX + 10];
        let mut s = Splitter::new();
        let (n, f) = s.feed(&big);
        assert_eq!(n, REQUEST_BYTES_MAX + 1);
        assert_eq!(
            f,
            Feed::Error(SplitError::TooLong {
                max: REQUEST_BYTES_MAX
            })
        );
        assert_eq!(s.buffered(), 0);
        // Exactly at the limit is fine.
        let mut s = Splitter::new();
        let mut ok = vec![b'a'; REQUEST_BYTES_MAX];
        ok.push(b'\n');
        assert!(matches!(s.feed(&ok).1, Feed::Request(_)));
    }

    #[test]
    fn finish_returns_unterminated_line() {
        let mut s = Splitter::new();
        assert_eq!(s.feed(b"show info"), (9, Feed::NeedMore));
        assert_eq!(s.finish().map(|r| r.line), Some(b"show info".to_vec()));
        assert_eq!(s.finish(), None);
        let _ = s.feed(b"  \t");
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn words_and_escapes() {
        let w = |l: &[u8]| -> Vec<Vec<u8>> {
            split_words(l, None)
                .expect("few words")
                .into_iter()
                .map(|w| w.bytes)
                .collect()
        };
        assert_eq!(w(b"  set  map\tx "), vec![&b"set"[..], b"map", b"x"]);
        assert_eq!(w(b"a\\ b c"), vec![&b"a b"[..], b"c"]);
        assert_eq!(w(b"a\\\\b"), vec![&b"a\\b"[..]]);
        assert_eq!(w(b"a\\;b"), vec![&b"a;b"[..]]);
        assert_eq!(w(b"ab\\"), vec![&b"ab"[..]]);
        assert_eq!(w(b"\\x\\y"), vec![&b"xy"[..]]);
        assert_eq!(w(b""), Vec::<Vec<u8>>::new());
        let spans = split_words(b"ab  cd", None).expect("few words");
        assert_eq!(spans[1].offset, 4);
    }

    #[test]
    fn words_stop_at_payload_marker() {
        let spans = split_words(b"add map m <<", Some(b"")).expect("few words");
        assert_eq!(spans.len(), 3);
        let spans = split_words(b"add map m <<", None).expect("few words");
        assert_eq!(spans.len(), 4);
    }

    #[test]
    fn at_most_64_words() {
        let line = "w ".repeat(WORDS_MAX);
        assert_eq!(split_words(line.as_bytes(), None).map(|w| w.len()), Ok(64));
        let line = "w ".repeat(WORDS_MAX + 1);
        assert_eq!(
            split_words(line.as_bytes(), None),
            Err(TooManyWords {
                offset: 128,
                max: WORDS_MAX
            })
        );
    }
}
