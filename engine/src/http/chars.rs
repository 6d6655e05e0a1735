//! Byte classes of RFC 9110/9112 as one lookup table: a table lookup is cheaper than
//! chains of comparisons on the hot path (HAProxy's `http_char_classes` does the same).

/// `tchar`: may appear in a method, a header name or a transfer coding.
const TOKEN: u8 = 1;
/// May appear in a field value: HTAB, SP, VCHAR and obs-text (no CTL, no DEL).
const VALUE: u8 = 2;
/// May appear in a request-target: VCHAR except `#` (a fragment never travels,
/// HAProxy rejects it since 2.8.5) and never SP, CTL, DEL or obs-text.
const URI: u8 = 4;

const fn build() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut f = 0;
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            f |= TOKEN;
        }
        if c == b'\t' || c == b' ' || (c >= 0x21 && c != 0x7f) {
            f |= VALUE;
        }
        if c >= 0x21 && c <= 0x7e && c != b'#' {
            f |= URI;
        }
        t[i] = f;
        i += 1;
    }
    t
}

static CLASSES: [u8; 256] = build();

/// True for an RFC 9110 `tchar`.
#[inline(always)]
pub(crate) fn is_token(b: u8) -> bool {
    CLASSES[b as usize] & TOKEN != 0
}

/// True for a byte allowed in a field value (HTAB, SP, VCHAR, obs-text).
#[inline(always)]
pub(crate) fn is_value(b: u8) -> bool {
    CLASSES[b as usize] & VALUE != 0
}

/// True for a byte allowed in a request-target.
#[inline(always)]
pub(crate) fn is_uri(b: u8) -> bool {
    CLASSES[b as usize] & URI != 0
}

/// True for optional whitespace (SP or HTAB).
#[inline(always)]
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first byte of `s` failing `ok`, or `s.len()`.
#[inline(always)]
pub(crate) fn first_not(s: &[u8], ok: impl Fn(u8) -> bool) -> usize {
    s.iter().position(|&b| !ok(b)).unwrap_or(s.len())
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Non-zero when some byte of `x` is below `n` (n <= 128; exact for presence).
#[inline(always)]
fn has_less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
}

/// Non-zero when some byte of `x` equals `b`.
#[inline(always)]
fn has_byte(x: u64, b: u8) -> u64 {
    has_less(x ^ (ONES * u64::from(b)), 1)
}

/// Index of the first byte of `s` failing `ok`, skipping 8 bytes at a time while
/// `chunk_ok` says a whole word is fine (a fast path, never a different answer).
#[inline(always)]
fn first_not_swar(s: &[u8], chunk_ok: impl Fn(u64) -> bool, ok: impl Fn(u8) -> bool) -> usize {
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if !chunk_ok(u64::from_le_bytes(w)) {
            break;
        }
        i += 8;
    }
    i + first_not(s.get(i..).unwrap_or(&[]), ok)
}

/// Index of the first byte not allowed in a field value, or `s.len()`.
#[inline]
pub(crate) fn first_not_value(s: &[u8]) -> usize {
    // CTLs are below 0x20 (HTAB takes the slow path), DEL is 0x7f.
    first_not_swar(s, |x| has_less(x, 0x20) | has_byte(x, 0x7f) == 0, is_value)
}

/// Index of the first byte not allowed in a request-target, or `s.len()`.
#[inline]
pub(crate) fn first_not_uri(s: &[u8]) -> usize {
    first_not_swar(
        s,
        |x| has_less(x, 0x21) | has_byte(x, 0x7f) | has_byte(x, b'#') | (x & HIGH) == 0,
        is_uri,
    )
}

/// `s` without leading and trailing SP/HTAB.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = first_not(s, is_ows);
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or(&[])
}

/// Iterates the non-empty, OWS-trimmed elements of an RFC 9110 comma list.
/// Does not understand quoted strings: used only for token lists
/// (`Connection`, `Transfer-Encoding`, `Content-Length`, `Upgrade`).
pub(crate) fn list_items(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_rfc() {
        for b in b"GETPOST-azAZ09!#$%&'*+.^_`|~" {
            assert!(is_token(*b), "{b}");
        }
        for b in b"\"(),/:;<=>?@[\\]{} \t\0\x7f\x80" {
            assert!(!is_token(*b), "{b}");
        }
        for b in b"\t azAZ\x80\xff\"" {
            assert!(is_value(*b), "{b}");
        }
        for b in b"\0\r\n\x01\x1f\x7f" {
            assert!(!is_value(*b), "{b}");
        }
        assert!(is_uri(b'/') && is_uri(b'?') && is_uri(b'%'));
        assert!(!is_uri(b'#') && !is_uri(b' ') && !is_uri(0x80) && !is_uri(0x7f));
    }

    /// The word-at-a-time scanners agree with the byte tables everywhere.
    #[test]
    fn swar_scanners_match_tables() {
        for bad in 0..=255u8 {
            for pos in 0..20 {
                let mut s = vec![b'a'; 20];
                s[pos] = bad;
                let want_v = s.iter().position(|&b| !is_value(b)).unwrap_or(s.len());
                let want_u = s.iter().position(|&b| !is_uri(b)).unwrap_or(s.len());
                assert_eq!(first_not_value(&s), want_v, "value {bad} at {pos}");
                assert_eq!(first_not_uri(&s), want_u, "uri {bad} at {pos}");
            }
        }
    }

    #[test]
    fn list_items_trim_and_skip_empty() {
        let v: Vec<&[u8]> = list_items(b" close ,, Upgrade\t,").collect();
        assert_eq!(v, vec![&b"close"[..], &b"Upgrade"[..]]);
        assert_eq!(trim_ows(b"  \t "), b"");
    }
}
