//! Builds the outgoing head from a parsed one plus rewrite rules, without
//! reparsing: the start line (with an optional new path), the kept header fields,
//! then the added ones, in HAProxy's rule order.

use memchr::memchr;

use super::chars::{is_token, is_uri, is_value};
use super::head::{Header, Method, RequestHead, ResponseHead};

/// Name HAProxy uses for `option forwardfor` when no `header` is given.
pub const X_FORWARDED_FOR: &[u8] = b"X-Forwarded-For";

/// One header rewrite, applied in order like HAProxy's `http-request` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEdit<'a> {
    /// `set-header`: remove every field of that name, then add this one.
    Set {
        /// Field name (a token).
        name: &'a [u8],
        /// Field value (no CTL but HTAB).
        value: &'a [u8],
    },
    /// `add-header` (and `option forwardfor`): append a field.
    Add {
        /// Field name (a token).
        name: &'a [u8],
        /// Field value (no CTL but HTAB).
        value: &'a [u8],
    },
    /// `del-header`: remove every field of that name.
    Del {
        /// Field name, compared case-insensitively.
        name: &'a [u8],
    },
}

impl<'a> HeaderEdit<'a> {
    fn name(&self) -> &'a [u8] {
        match *self {
            HeaderEdit::Set { name, .. } | HeaderEdit::Add { name, .. } | HeaderEdit::Del { name } => name,
        }
    }

    /// True when this edit removes earlier fields named `name`.
    fn removes(&self, name: &[u8]) -> bool {
        matches!(self, HeaderEdit::Set { .. } | HeaderEdit::Del { .. })
            && self.name().eq_ignore_ascii_case(name)
    }
}

/// Why a head could not be written: a rewrite produced bytes that would split
/// or corrupt the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The name of edit `index` is not a token.
    #[error("invalid header name in rewrite {index}")]
    InvalidName {
        /// Position of the edit in the list.
        index: usize,
    },
    /// The value of edit `index` holds a CTL (CR, LF, NUL...).
    #[error("invalid header value in rewrite {index}")]
    InvalidValue {
        /// Position of the edit in the list.
        index: usize,
    },
    /// A new path must start with `/` and hold only request-target bytes.
    #[error("invalid path in rewrite")]
    InvalidPath,
}

fn check_edits(edits: &[HeaderEdit<'_>]) -> Result<(), WriteError> {
    for (index, e) in edits.iter().enumerate() {
        let name = e.name();
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(WriteError::InvalidName { index });
        }
        if let HeaderEdit::Set { value, .. } | HeaderEdit::Add { value, .. } = e {
            if !value.iter().all(|&b| is_value(b)) {
                return Err(WriteError::InvalidValue { index });
            }
        }
    }
    Ok(())
}

/// Appends the header fields of `headers` that survive `edits`, then the fields
/// the edits add, each as `name: value\r\n`, then the blank line.
fn write_fields(
    buf: &[u8],
    headers: &[Header],
    content_length: Option<u64>,
    edits: &[HeaderEdit<'_>],
    out: &mut Vec<u8>,
) {
    let mut cl_written = false;
    for h in headers {
        let name = h.name.get(buf);
        if edits.iter().any(|e| e.removes(name)) {
            continue;
        }
        if name.len() == 14 && name.eq_ignore_ascii_case(b"content-length") {
            // Lists (`5, 5`), duplicates and leading zeros leave as one canonical
            // value; dropped when Transfer-Encoding framed the message.
            if let (Some(n), false) = (content_length, cl_written) {
                let mut digits = [0u8; 20];
                push_field(out, name, u64_decimal(n, &mut digits));
                cl_written = true;
            }
            continue;
        }
        push_field(out, name, h.value.get(buf));
    }
    for (i, e) in edits.iter().enumerate() {
        if let HeaderEdit::Set { name, value } | HeaderEdit::Add { name, value } = *e {
            let later = edits.get(i + 1..).unwrap_or(&[]);
            if !later.iter().any(|l| l.removes(name)) {
                push_field(out, name, value);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Formats `n` in decimal into `scratch` (20 bytes hold `u64::MAX`).
fn u64_decimal(mut n: u64, scratch: &mut [u8; 20]) -> &[u8] {
    let mut i = scratch.len();
    loop {
        i -= 1;
        scratch[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &scratch[i..];
        }
    }
}

#[inline]
fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the request head parsed from `buf` into `out` (appending), with
/// `new_path` replacing the path (query kept; `set-path`/`replace-path` results)
/// and `edits` applied. Line endings are normalised to CRLF.
pub fn write_request_head(
    buf: &[u8],
    head: &RequestHead,
    new_path: Option<&[u8]>,
    edits: &[HeaderEdit<'_>],
    out: &mut Vec<u8>,
) -> Result<(), WriteError> {
    check_edits(edits)?;
    let before = out.len();
    out.extend_from_slice(head.method.get(buf));
    out.push(b' ');
    match new_path {
        None => out.extend_from_slice(head.target.get(buf)),
        Some(p) => {
            // `*` and authority-form targets have no path to replace.
            let no_path = head.method_kind == Method::Connect || head.target.get(buf) == b"*";
            if no_path || p.first() != Some(&b'/') || !p.iter().all(|&b| is_uri(b) && b != b'?') {
                out.truncate(before);
                return Err(WriteError::InvalidPath);
            }
            let target = head.target.get(buf);
            let prefix = (head.path_query.start - head.target.start) as usize;
            let pq = head.path_query.get(buf);
            let query = memchr(b'?', pq).map_or(&[][..], |q| &pq[q..]);
            out.extend_from_slice(target.get(..prefix).unwrap_or(&[]));
            out.extend_from_slice(p);
            out.extend_from_slice(query);
        }
    }
    out.push(b' ');
    out.extend_from_slice(head.version.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_fields(buf, &head.headers, head.content_length, edits, out);
    debug_assert!(out.ends_with(b"\r\n\r\n"));
    Ok(())
}

/// Writes the response head parsed from `buf` into `out` (appending) with
/// `edits` (`http-response set-header|del-header`) applied.
pub fn write_response_head(
    buf: &[u8],
    head: &ResponseHead,
    edits: &[HeaderEdit<'_>],
    out: &mut Vec<u8>,
) -> Result<(), WriteError> {
    check_edits(edits)?;
    out.extend_from_slice(head.version.as_bytes());
    out.push(b' ');
    let s = head.status;
    out.extend_from_slice(&[
        b'0' + (s / 100 % 10) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]);
    out.push(b' ');
    out.extend_from_slice(head.reason.get(buf));
    out.extend_from_slice(b"\r\n");
    write_fields(buf, &head.headers, head.content_length, edits, out);
    debug_assert!(out.ends_with(b"\r\n\r\n"));
    Ok(())
}

/// Writes an IP address the way HAProxy puts it in `X-Forwarded-For` (IPv4
/// dotted, IPv6 in its canonical text form, no brackets) and returns the bytes.
pub fn forwarded_for_value(ip: std::net::IpAddr, scratch: &mut [u8; 64]) -> &[u8] {
    use std::io::Write;
    let mut cur = std::io::Cursor::new(&mut scratch[..]);
    // 64 bytes hold any IPv6 text form (at most 45 bytes), so this cannot fail.
    let _ = write!(cur, "{ip}");
    let n = cur.position() as usize;
    &scratch[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Limits, Status};

    fn parsed(raw: &[u8]) -> RequestHead {
        let mut h = RequestHead::default();
        assert!(matches!(
            h.parse(raw, &Limits::default()),
            Ok(Status::Complete(_))
        ));
        h
    }

    #[test]
    fn rules_apply_in_order() {
        let raw = b"GET /old/p?q=1 HTTP/1.1\nHost: a\nX-A: 1\nx-a: 2\nKeep: k\n\n";
        let h = parsed(raw);
        let edits = [
            HeaderEdit::Add {
                name: b"X-B",
                value: b"early",
            },
            HeaderEdit::Set {
                name: b"X-A",
                value: b"3",
            },
            HeaderEdit::Del { name: b"x-b" },
            HeaderEdit::Add {
                name: b"X-B",
                value: b"late",
            },
            HeaderEdit::Add {
                name: X_FORWARDED_FOR,
                value: b"127.0.0.1",
            },
        ];
        let mut out = Vec::new();
        write_request_head(raw, &h, Some(b"/new"), &edits, &mut out).unwrap();
        assert_eq!(
            out,
            b"GET /new?q=1 HTTP/1.1\r\nHost: a\r\nKeep: k\r\nX-A: 3\r\nX-B: late\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"
        );
    }

    #[test]
    fn rejects_splitting_values() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let h = parsed(raw);
        let mut out = Vec::new();
        let e = write_request_head(
            raw,
            &h,
            None,
            &[HeaderEdit::Add {
                name: b"X",
                value: b"a\r\nEvil: 1",
            }],
            &mut out,
        );
        assert_eq!(e, Err(WriteError::InvalidValue { index: 0 }));
        for bad in [&b"/a b"[..], b"a", b"", b"/a?b", b"/\r\n"] {
            let e = write_request_head(raw, &h, Some(bad), &[], &mut out);
            assert_eq!(e, Err(WriteError::InvalidPath));
        }
        let raw = b"OPTIONS * HTTP/1.1\r\n\r\n";
        let h = parsed(raw);
        assert_eq!(
            write_request_head(raw, &h, Some(b"/x"), &[], &mut out),
            Err(WriteError::InvalidPath)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn forwarded_for_formats() {
        let mut s = [0u8; 64];
        assert_eq!(forwarded_for_value("::1".parse().unwrap(), &mut s), b"::1");
        assert_eq!(
            forwarded_for_value("10.0.0.1".parse().unwrap(), &mut s),
            b"10.0.0.1"
        );
    }
}
