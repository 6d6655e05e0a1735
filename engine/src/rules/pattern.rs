//! ACL patterns and HAProxy's match methods (`-m str|beg|end|sub|reg|dir|dom|len|int|ip|
//! found|bool|bin`), with `-i`. Large exact, prefix and suffix sets are hashed (probed
//! once per distinct pattern length) so a thousand-line `-f` file stays fast.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use super::sample::Val;
use super::{Compiler, RulesError};

/// Above this many patterns, `str`/`beg`/`end` sets are hashed instead of scanned.
const HASH_PATTERNS_MIN: usize = 8;

/// Most patterns one ACL (patterns on the line plus `-f` files) may hold: bounds the
/// memory of a hostile pattern file.
pub const PATTERNS_PER_ACL_MAX: usize = 1_000_000;

/// Largest `-f` pattern file read, in bytes (as map files).
pub const PATTERN_FILE_BYTES_MAX: usize = crate::map::MAP_FILE_BYTES_MAX;

/// Longest sample lowercased on the stack for a hashed `-i` lookup; longer samples
/// fall back to a scan.
const FOLD_BYTES_MAX: usize = 512;

/// The match method of an ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Sub,
    Reg,
    Beg,
    End,
    Dir,
    Dom,
}

impl Method {
    pub(crate) fn from_name(m: &str) -> Option<Method> {
        Some(match m {
            "found" => Method::Found,
            "bool" => Method::Bool,
            "int" => Method::Int,
            "ip" => Method::Ip,
            "bin" => Method::Bin,
            "len" => Method::Len,
            "str" => Method::Str,
            "sub" => Method::Sub,
            "reg" => Method::Reg,
            "beg" => Method::Beg,
            "end" => Method::End,
            "dir" => Method::Dir,
            "dom" => Method::Dom,
            _ => return None,
        })
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `a.b.c.d`, `a.b.c.d/N`, `a.b.c.d/m.m.m.m`, `v6`, `v6/N`.
    pub(crate) fn parse(s: &str) -> Option<IpNet> {
        let (a, m) = match s.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match m {
            None => max,
            Some(m) => match m.parse::<u8>() {
                Ok(n) if n <= max => n,
                Ok(_) => return None,
                Err(_) => {
                    let mask: Ipv4Addr = m.parse().ok()?;
                    let bits = u32::from(mask);
                    if !addr.is_ipv4() || bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return None;
                    }
                    bits.leading_ones() as u8
                }
            },
        };
        Some(IpNet { addr, prefix })
    }

    /// True when `ip` is in the network (an IPv4 address also matches its
    /// IPv4-mapped IPv6 form and the reverse).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                mask32(u32::from(n), self.prefix) == mask32(u32::from(a), self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                mask128(u128::from(n), self.prefix) == mask128(u128::from(a), self.prefix)
            }
            (IpAddr::V4(n), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| mask32(u32::from(n), self.prefix) == mask32(u32::from(a), self.prefix)),
            (IpAddr::V6(n), IpAddr::V4(a)) => {
                let m = u128::from(a.to_ipv6_mapped());
                mask128(u128::from(n), self.prefix) == mask128(m, self.prefix)
            }
        }
    }
}

fn mask32(v: u32, p: u8) -> u32 {
    if p == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(p)))
    }
}

fn mask128(v: u128, p: u8) -> u128 {
    if p == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(p)))
    }
}

/// An integer range `[lo, hi]` (`N`, `A:B`, `:B`, `A:`, or `eq|ge|gt|le|lt N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IntRange {
    lo: i64,
    hi: i64,
}

impl IntRange {
    fn parse(op: Option<&str>, s: &str) -> Option<IntRange> {
        let num = |t: &str| t.trim().parse::<i64>().ok();
        Some(match op {
            Some("eq") => {
                let n = num(s)?;
                IntRange { lo: n, hi: n }
            }
            Some("ge") => IntRange {
                lo: num(s)?,
                hi: i64::MAX,
            },
            Some("gt") => IntRange {
                lo: num(s)?.checked_add(1)?,
                hi: i64::MAX,
            },
            Some("le") => IntRange {
                lo: i64::MIN,
                hi: num(s)?,
            },
            Some("lt") => IntRange {
                lo: i64::MIN,
                hi: num(s)?.checked_sub(1)?,
            },
            _ => match s.split_once(':') {
                Some((a, b)) => IntRange {
                    lo: if a.is_empty() { i64::MIN } else { num(a)? },
                    hi: if b.is_empty() { i64::MAX } else { num(b)? },
                },
                None => {
                    let n = num(s)?;
                    IntRange { lo: n, hi: n }
                }
            },
        })
    }

    fn contains(&self, v: i64) -> bool {
        self.lo <= v && v <= self.hi
    }
}

/// Distinct pattern lengths, ascending.
type Lens = Vec<usize>;

/// Exact/prefix/suffix strings: scanned when few, hashed by length when many.
#[derive(Debug, Default)]
struct StrSet {
    list: Vec<Box<[u8]>>,
    hashed: Option<(HashSet<Box<[u8]>>, Lens)>,
}

impl StrSet {
    fn new(list: Vec<Box<[u8]>>, ic: bool) -> StrSet {
        let list: Vec<Box<[u8]>> = if ic {
            list.into_iter().map(|p| p.to_ascii_lowercase().into()).collect()
        } else {
            list
        };
        let hashed = (list.len() > HASH_PATTERNS_MIN).then(|| {
            let mut lens: Vec<usize> = list.iter().map(|p| p.len()).collect();
            lens.sort_unstable();
            lens.dedup();
            (list.iter().cloned().collect(), lens)
        });
        StrSet { list, hashed }
    }
}

/// The compiled patterns of one ACL test.
#[derive(Debug)]
pub(crate) struct Patterns {
    method: Method,
    ic: bool,
    strs: StrSet,
    ints: Vec<IntRange>,
    nets: Vec<IpNet>,
    regexes: Vec<regex::bytes::Regex>,
}

impl Patterns {
    /// Compiles `words` (the patterns on the line) plus the lines of `files`.
    pub(crate) fn compile(
        method: Method,
        ic: bool,
        words: &[String],
        files: &[String],
        c: &mut Compiler<'_>,
    ) -> Result<Patterns, RulesError> {
        let mut all: Vec<String> = words.to_vec();
        for f in files {
            let text = c.read_file(f, PATTERN_FILE_BYTES_MAX)?;
            let text = String::from_utf8_lossy(&text);
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if all.len() >= PATTERNS_PER_ACL_MAX {
                    return Err(c.invalid(format!("too many patterns in '{f}' (max {PATTERNS_PER_ACL_MAX})")));
                }
                all.push(line.to_string());
            }
        }
        let mut p = Patterns {
            method,
            ic,
            strs: StrSet::default(),
            ints: Vec::new(),
            nets: Vec::new(),
            regexes: Vec::new(),
        };
        match method {
            Method::Found | Method::Bool => {}
            Method::Int | Method::Len => {
                let mut op = None;
                for w in &all {
                    if matches!(w.as_str(), "eq" | "ge" | "gt" | "le" | "lt") {
                        op = Some(w.as_str());
                        continue;
                    }
                    let r = IntRange::parse(op, w)
                        .ok_or_else(|| c.invalid(format!("'{w}' is not an integer")))?;
                    p.ints.push(r);
                }
            }
            Method::Ip => {
                for w in &all {
                    match IpNet::parse(w) {
                        Some(n) => p.nets.push(n),
                        None => c.warn(format!(
                            "ip pattern '{w}' is not an address (no DNS in ringlb): ignored"
                        )),
                    }
                }
            }
            Method::Reg => {
                for w in &all {
                    p.regexes.push(c.regex(w, ic)?);
                }
            }
            Method::Bin => {
                let mut list = Vec::new();
                for w in &all {
                    list.push(hex(w).ok_or_else(|| c.invalid(format!("'{w}' is not hexadecimal")))?);
                }
                p.strs = StrSet::new(list, false);
            }
            Method::Str | Method::Beg | Method::End | Method::Sub => {
                let list = all.iter().map(|w| w.as_bytes().into()).collect();
                p.strs = StrSet::new(list, ic);
            }
            Method::Dir | Method::Dom => {
                // Delimiters at a pattern's ends are ignored: store the words bare.
                let delims = if method == Method::Dir {
                    DIR_DELIMS
                } else {
                    DOM_DELIMS
                };
                let list = all
                    .iter()
                    .map(|w| strip_delims(w.as_bytes(), delims))
                    .filter(|w| !w.is_empty())
                    .map(Box::from)
                    .collect();
                p.strs = StrSet::new(list, ic);
            }
        }
        Ok(p)
    }

    /// True when sample `v` matches one of the patterns.
    pub(crate) fn matches(&self, v: Val<'_>) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => match v {
                Val::Bool(b) => b,
                Val::Int(i) => i != 0,
                Val::Str(s) => parse_int(s).is_some_and(|i| i != 0),
                Val::Ip(_) => false,
            },
            Method::Int => {
                let i = match v {
                    Val::Int(i) => Some(i),
                    Val::Bool(b) => Some(i64::from(b)),
                    Val::Str(s) => parse_int(s),
                    Val::Ip(_) => None,
                };
                i.is_some_and(|i| self.ints.iter().any(|r| r.contains(i)))
            }
            Method::Len => {
                let n = with_str(v, |s| s.len());
                self.ints.iter().any(|r| r.contains(n as i64))
            }
            Method::Ip => {
                let ip = match v {
                    Val::Ip(ip) => Some(ip),
                    Val::Str(s) => std::str::from_utf8(s).ok().and_then(|s| s.trim().parse().ok()),
                    _ => None,
                };
                ip.is_some_and(|ip| self.nets.iter().any(|n| n.contains(ip)))
            }
            _ => with_str(v, |s| self.match_str(s)),
        }
    }

    fn match_str(&self, s: &[u8]) -> bool {
        let ic = self.ic;
        let eq = |a: &[u8], b: &[u8]| if ic { a.eq_ignore_ascii_case(b) } else { a == b };
        match self.method {
            Method::Str | Method::Bin => {
                if let Some((set, _)) = &self.strs.hashed {
                    if !ic {
                        return set.contains(s);
                    }
                    if s.len() <= FOLD_BYTES_MAX {
                        let mut buf = [0u8; FOLD_BYTES_MAX];
                        let low = &mut buf[..s.len()];
                        low.copy_from_slice(s);
                        low.make_ascii_lowercase();
                        return set.contains(&*low);
                    }
                }
                self.strs.list.iter().any(|p| eq(p, s))
            }
            Method::Beg | Method::End => {
                let beg = self.method == Method::Beg;
                let part = |n: usize| if beg { s.get(..n) } else { s.get(s.len() - n..) };
                if let Some((set, lens)) = &self.strs.hashed {
                    let mut buf = [0u8; FOLD_BYTES_MAX];
                    if !ic || s.len() <= FOLD_BYTES_MAX {
                        return lens.iter().take_while(|&&n| n <= s.len()).any(|&n| {
                            let Some(p) = part(n) else { return false };
                            if ic {
                                let low = &mut buf[..n];
                                low.copy_from_slice(p);
                                low.make_ascii_lowercase();
                                set.contains(&*low)
                            } else {
                                set.contains(p)
                            }
                        });
                    }
                }
                self.strs
                    .list
                    .iter()
                    .any(|p| p.len() <= s.len() && part(p.len()).is_some_and(|x| eq(x, p)))
            }
            Method::Sub => self.strs.list.iter().any(|p| find(s, p, ic).is_some()),
            Method::Reg => self.regexes.iter().any(|r| r.is_match(s)),
            Method::Dir | Method::Dom => {
                let delims = if self.method == Method::Dir {
                    DIR_DELIMS
                } else {
                    DOM_DELIMS
                };
                if let Some((set, _)) = &self.strs.hashed {
                    if let Some(found) = probe_words(s, set, delims, ic) {
                        return found;
                    }
                }
                self.strs.list.iter().any(|p| match_word(s, p, delims, ic))
            }
            _ => false,
        }
    }
}

/// Calls `f` with the sample as text (integers and addresses formatted on the stack).
fn with_str<R>(v: Val<'_>, f: impl FnOnce(&[u8]) -> R) -> R {
    match v {
        Val::Str(s) => f(s),
        other => {
            // 64 bytes hold any integer or IPv6 text form (at most 45 bytes).
            let mut tmp = [0u8; 64];
            let n = scalar_text(other, &mut tmp);
            f(tmp.get(..n).unwrap_or_default())
        }
    }
}

/// Writes a scalar sample as text into `out`; returns the length.
fn scalar_text(v: Val<'_>, out: &mut [u8; 64]) -> usize {
    use std::io::Write;
    let mut w = &mut out[..];
    let _ = match v {
        Val::Str(_) => Ok(()),
        Val::Int(i) => write!(w, "{i}"),
        Val::Bool(b) => write!(w, "{}", u8::from(b)),
        Val::Ip(ip) => write!(w, "{ip}"),
    };
    64 - w.len()
}

/// HAProxy's string-to-int cast: optional sign then digits; the rest is ignored.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', r @ ..] => (true, r),
        [b'+', r @ ..] => (false, r),
        r => (false, r),
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits.get(..n)? {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    Some(if neg { -v } else { v })
}

fn hex(s: &str) -> Option<Box<[u8]>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Position of `needle` in `hay` (ASCII case-insensitive when `ic`).
fn find(hay: &[u8], needle: &[u8], ic: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if !ic {
        return memchr::memmem::find(hay, needle);
    }
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Delimiters of `-m dir` (HAProxy's `pat_match_dir`).
const DIR_DELIMS: &[u8] = b"/?";
/// Delimiters of `-m dom` (HAProxy's `pat_match_dom`).
const DOM_DELIMS: &[u8] = b"/?.:";

/// Most delimiter-bounded start (and end) positions probed in a hashed `dir`/`dom`
/// lookup: the work is at most this squared; longer samples fall back to a scan.
const WORD_BOUNDARIES_MAX: usize = 64;

fn strip_delims<'p>(mut p: &'p [u8], delims: &[u8]) -> &'p [u8] {
    while let [f, r @ ..] = p {
        if !delims.contains(f) {
            break;
        }
        p = r;
    }
    while let [r @ .., l] = p {
        if !delims.contains(l) {
            break;
        }
        p = r;
    }
    p
}

/// Hashed `match_word`: probes every delimiter-bounded slice of `s` in `set` (words
/// stored without end delimiters, lowercased for `ic`). `None` when `s` is too long
/// or has too many delimiters for the stack buffers: scan instead.
fn probe_words(s: &[u8], set: &HashSet<Box<[u8]>>, delims: &[u8], ic: bool) -> Option<bool> {
    if s.len() > FOLD_BYTES_MAX {
        return None;
    }
    let mut low = [0u8; FOLD_BYTES_MAX];
    let text = low.get_mut(..s.len())?;
    text.copy_from_slice(s);
    if ic {
        text.make_ascii_lowercase();
    }
    let mut starts = [0usize; WORD_BOUNDARIES_MAX];
    let mut ends = [0usize; WORD_BOUNDARIES_MAX];
    let (mut ns, mut ne) = (1, 0);
    for (i, b) in text.iter().enumerate() {
        if delims.contains(b) {
            if ns >= WORD_BOUNDARIES_MAX || ne >= WORD_BOUNDARIES_MAX {
                return None;
            }
            ends[ne] = i;
            ne += 1;
            starts[ns] = i + 1;
            ns += 1;
        }
    }
    if ne >= WORD_BOUNDARIES_MAX {
        return None;
    }
    ends[ne] = text.len();
    ne += 1;
    let text = &*text;
    Some(starts[..ns].iter().any(|&a| {
        ends[..ne]
            .iter()
            .any(|&e| a < e && text.get(a..e).is_some_and(|w| set.contains(w)))
    }))
}

/// HAProxy's `match_word`: `pattern` (its leading/trailing delimiters ignored) appears
/// in `s` between two of `delims` or the string's ends.
fn match_word(s: &[u8], pattern: &[u8], delims: &[u8], ic: bool) -> bool {
    let is_d = |b: u8| delims.contains(&b);
    let mut p = pattern;
    while let [f, r @ ..] = p {
        if !is_d(*f) {
            break;
        }
        p = r;
    }
    while let [r @ .., l] = p {
        if !is_d(*l) {
            break;
        }
        p = r;
    }
    if p.is_empty() || p.len() > s.len() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|h| find(h, p, ic)) {
        let start = from + i;
        let end = start + p.len();
        let left = start == 0 || s.get(start - 1).is_some_and(|&b| is_d(b));
        let right = end == s.len() || s.get(end).is_some_and(|&b| is_d(b));
        if left && right {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(IpNet::parse("192.168.0.0/255.255.0.0")
            .unwrap()
            .contains("192.168.9.9".parse().unwrap()));
        assert!(IpNet::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        for bad in ["10.0.0.0/33", "x", "10.0.0.0/255.0.255.0", "::/129", "10.0.0.0/"] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ints() {
        let r = |op, s| IntRange::parse(op, s).unwrap();
        assert!(r(None, "1024:65535").contains(8080));
        assert!(!r(None, ":1023").contains(1024));
        assert!(r(None, "10:").contains(i64::MAX));
        assert!(r(Some("gt"), "5").contains(6) && !r(Some("gt"), "5").contains(5));
        assert!(r(Some("le"), "5").contains(5));
        assert!(IntRange::parse(None, "x").is_none());
        assert_eq!(parse_int(b"42abc"), Some(42));
        assert_eq!(parse_int(b"-7"), Some(-7));
        assert_eq!(parse_int(b"abc"), None);
        assert_eq!(parse_int(b"99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn hashed_words_agree_with_the_scan() {
        let words: Vec<&[u8]> = vec![b"example.com", b"img", b".a.b.", b"x/y", b"EXAMPLE.org", b"q"];
        let samples: [&[u8]; 9] = [
            b"www.example.com",
            b"www.example.com:8080",
            b"example.community",
            b"/a/img/x",
            b"/a/imgs",
            b"c.a.b",
            b"/x/y?z",
            b"Example.ORG",
            b"",
        ];
        for ic in [false, true] {
            for delims in [DIR_DELIMS, DOM_DELIMS] {
                let bare: Vec<Box<[u8]>> = words
                    .iter()
                    .map(|w| strip_delims(w, delims))
                    .map(|w| {
                        if ic {
                            w.to_ascii_lowercase().into()
                        } else {
                            w.into()
                        }
                    })
                    .collect();
                let set: HashSet<Box<[u8]>> = bare.iter().cloned().collect();
                for s in samples {
                    let scan = words.iter().any(|p| match_word(s, p, delims, ic));
                    assert_eq!(
                        probe_words(s, &set, delims, ic),
                        Some(scan),
                        "{s:?} ic={ic} {delims:?}"
                    );
                }
            }
        }
        let long = vec![b'.'; WORD_BOUNDARIES_MAX + 1];
        assert_eq!(probe_words(&long, &HashSet::new(), DOM_DELIMS, false), None);
    }

    #[test]
    fn words() {
        assert!(match_word(b"www.example.com", b"example.com", DOM_DELIMS, false));
        assert!(match_word(
            b"www.example.com",
            b".example.com.",
            DOM_DELIMS,
            false
        ));
        assert!(!match_word(
            b"www.myexample.com",
            b"example.com",
            DOM_DELIMS,
            false
        ));
        assert!(match_word(b"WWW.EXAMPLE.com", b"example", DOM_DELIMS, true));
        assert!(match_word(
            b"www.example.com:8080",
            b"example.com",
            DOM_DELIMS,
            false
        ));
        assert!(!match_word(b"/a:b/x", b"a", DIR_DELIMS, false));
        assert!(match_word(b"/a/img/x.png", b"img", DIR_DELIMS, false));
        assert!(!match_word(b"/a/images/x", b"img", DIR_DELIMS, false));
        assert!(!match_word(b"/a", b"/", DIR_DELIMS, false));
        assert_eq!(find(b"Hello", b"LL", true), Some(2));
        assert_eq!(hex("0aff").as_deref(), Some(&[10u8, 255][..]));
        assert!(hex("0").is_none());
    }
}
