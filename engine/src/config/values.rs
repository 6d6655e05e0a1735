//! Typed argument values: durations, sizes, integers and addresses, parsed the way
//! HAProxy reads them (configuration.txt 2.5 "Time format", 2.6 "Size format",
//! and `str2sa_range` for addresses).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// HAProxy's largest timer: 2^31-1 ms (~24.8 days); longer values overflow its ticks.
pub const DURATION_MS_MAX: u64 = i32::MAX as u64;

/// Unit used when a duration has no suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Milliseconds (timeouts and most delays).
    Ms,
    /// Seconds (`stats refresh`).
    S,
}

/// Parses `10`, `10ms`, `2m`, `1h`, `1d`, `500us` (integers only, as HAProxy).
/// Strict: anything after the unit is an error. See [`parse_duration_lenient`].
pub fn parse_duration(s: &str, unit: TimeUnit) -> Result<Duration, String> {
    match parse_duration_lenient(s, unit)? {
        (d, None) => Ok(d),
        (_, Some(c)) => Err(format!(
            "unexpected character '{c}' in '{s}' (expects a unit us, ms, s, m, h or d)"
        )),
    }
}

/// Like [`parse_duration`], but, as HAProxy 2.6 does, accepts characters after a valid
/// unit (`15min` is 15 minutes) and returns the first of them so the caller can warn.
pub fn parse_duration_lenient(s: &str, unit: TimeUnit) -> Result<(Duration, Option<char>), String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "'{s}' is not a duration (expects an integer with an optional unit us, ms, s, m, h or d)"
        ));
    }
    let (num, suffix) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| overflow(s))?;
    let (us_per, unit_len): (u64, usize) = if suffix.is_empty() {
        match unit {
            TimeUnit::Ms => (1_000, 0),
            TimeUnit::S => (1_000_000, 0),
        }
    } else if suffix.starts_with("us") {
        (1, 2)
    } else if suffix.starts_with("ms") {
        (1_000, 2)
    } else if suffix.starts_with('s') {
        (1_000_000, 1)
    } else if suffix.starts_with('m') {
        (60_000_000, 1)
    } else if suffix.starts_with('h') {
        (3_600_000_000, 1)
    } else if suffix.starts_with('d') {
        (86_400_000_000, 1)
    } else {
        let c = suffix.chars().next().unwrap_or('?');
        return Err(format!(
            "unexpected character '{c}' in '{s}' (expects a unit us, ms, s, m, h or d)"
        ));
    };
    let trailing = suffix.get(unit_len..).and_then(|t| t.chars().next());
    let us = n.checked_mul(us_per).ok_or_else(|| overflow(s))?;
    if us / 1_000 > DURATION_MS_MAX {
        return Err(overflow(s));
    }
    Ok((Duration::from_micros(us), trailing))
}

fn overflow(s: &str) -> String {
    format!("timer overflow in argument '{s}' (maximum value is 2147483647 ms or ~24.8 days)")
}

/// Parses a size: digits with an optional `k`, `m` or `g` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "'{s}' is not a size (expects an integer with an optional unit k, m or g)"
        ));
    }
    let (num, suffix) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("size '{s}' is too large"))?;
    let mul: u64 = match suffix {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        _ => return Err(format!("unknown unit in size '{s}' (expects k, m or g)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

/// Parses a non-negative integer that fits `u32`.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' is not an integer"));
    }
    s.parse()
        .map_err(|_| format!("integer '{s}' is too large (max {})", u32::MAX))
}

/// Address family prefix given with the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// No prefix: deduced from the address.
    Any,
    /// `ipv4@`.
    V4,
    /// `ipv6@`.
    V6,
}

/// The host part of an inet address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// Empty or `*`: every local address (bind) or "same as the client's destination".
    Any,
    /// A literal address.
    Ip(IpAddr),
    /// A hostname, kept unresolved (resolution happens at start, never at `-c`).
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any => f.write_str("*"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// The port part of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// No port given (a server then uses the client's destination port).
    None,
    /// A single port.
    Fixed(u16),
    /// An inclusive range `80-85` (bind only).
    Range(u16, u16),
    /// `+N` / `-N`: offset from the client's destination port (servers only).
    Offset(i32),
}

/// A parsed socket address (bind, server, log target, stats socket, peers...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// TCP/UDP over IPv4 or IPv6.
    Inet {
        /// Prefix given.
        family: Family,
        /// Host part.
        host: Host,
        /// Port part.
        port: Port,
    },
    /// A unix stream socket path (`/path`, `./path`, `unix@path`).
    Unix(String),
    /// Linux abstract namespace socket (`abns@name`).
    Abns(String),
    /// An inherited file descriptor (`fd@N`).
    Fd(u32),
    /// A socketpair fd (`sockpair@N`).
    SockPair(u32),
    /// `stdout` / `stderr` (log targets only).
    Std(StdStream),
    /// `ring@<name>` (log targets only): a `ring` section.
    Ring(String),
}

/// Standard output streams usable as log targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// `stdout`.
    Stdout,
    /// `stderr`.
    Stderr,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet { family, host, port } => {
                match family {
                    Family::Any => {}
                    Family::V4 => f.write_str("ipv4@")?,
                    Family::V6 => f.write_str("ipv6@")?,
                }
                write!(f, "{host}")?;
                match port {
                    Port::None => Ok(()),
                    Port::Fixed(p) => write!(f, ":{p}"),
                    Port::Range(a, b) => write!(f, ":{a}-{b}"),
                    Port::Offset(o) => write!(f, ":{o:+}"),
                }
            }
            Address::Unix(p) => write!(f, "unix@{p}"),
            Address::Abns(p) => write!(f, "abns@{p}"),
            Address::Fd(n) => write!(f, "fd@{n}"),
            Address::SockPair(n) => write!(f, "sockpair@{n}"),
            Address::Std(StdStream::Stdout) => f.write_str("stdout"),
            Address::Std(StdStream::Stderr) => f.write_str("stderr"),
            Address::Ring(n) => write!(f, "ring@{n}"),
        }
    }
}

/// Where an address is used: decides which port forms are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrUse {
    /// `bind`: port or range required, hostnames not allowed to be empty-port.
    Bind,
    /// `server`: port optional, `+N`/`-N` offsets allowed.
    Server,
    /// Anything that needs one fixed port (log target, peer, nameserver, stats socket).
    Other,
}

/// Bound on a hostname's length (DNS limit).
pub const HOSTNAME_BYTES_MAX: usize = 253;

fn parse_port(p: &str, usage: AddrUse, whole: &str) -> Result<Port, String> {
    if p.is_empty() {
        return Err(format!("missing port number: '{whole}'"));
    }
    let one = |s: &str| -> Result<u16, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port '{s}' in '{whole}'"));
        }
        match s.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(n as u16),
            _ => Err(format!("invalid port '{s}' in '{whole}' (max 65535)")),
        }
    };
    if usage == AddrUse::Server && (p.starts_with('+') || p.starts_with('-')) {
        let n: i32 = p
            .parse()
            .map_err(|_| format!("invalid port offset '{p}' in '{whole}'"))?;
        if n.abs() > 65535 {
            return Err(format!("invalid port offset '{p}' in '{whole}'"));
        }
        return Ok(Port::Offset(n));
    }
    if let Some((a, b)) = p.split_once('-') {
        if usage != AddrUse::Bind {
            return Err(format!("port range not allowed here: '{whole}'"));
        }
        let (a, b) = (one(a)?, one(b)?);
        if a == 0 || b < a {
            return Err(format!("invalid port range '{p}' in '{whole}'"));
        }
        return Ok(Port::Range(a, b));
    }
    Ok(Port::Fixed(one(p)?))
}

fn parse_host(h: &str, whole: &str) -> Result<Host, String> {
    if h.is_empty() || h == "*" {
        return Ok(Host::Any);
    }
    let inner = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(h);
    if let Ok(ip) = inner.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if h.len() > HOSTNAME_BYTES_MAX
        || !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(format!("invalid address: '{whole}'"));
    }
    Ok(Host::Name(h.to_string()))
}

/// Parses one address (no commas). Environment variables must already be expanded.
pub fn parse_address(s: &str, usage: AddrUse) -> Result<Address, String> {
    if s.is_empty() {
        return Err("empty address (environment variable missing?)".to_string());
    }
    let (family, rest) = if let Some(r) = s
        .strip_prefix("ipv4@")
        .or_else(|| s.strip_prefix("tcp4@"))
        .or_else(|| s.strip_prefix("udp4@"))
    {
        (Family::V4, r)
    } else if let Some(r) = s
        .strip_prefix("ipv6@")
        .or_else(|| s.strip_prefix("tcp6@"))
        .or_else(|| s.strip_prefix("udp6@"))
    {
        (Family::V6, r)
    } else if let Some(r) = s.strip_prefix("tcp@").or_else(|| s.strip_prefix("udp@")) {
        (Family::Any, r)
    } else if let Some(r) = s
        .strip_prefix("unix@")
        .or_else(|| s.strip_prefix("uxst@"))
        .or_else(|| s.strip_prefix("uxdg@"))
    {
        if r.is_empty() {
            return Err(format!("missing path in '{s}'"));
        }
        return Ok(Address::Unix(r.to_string()));
    } else if let Some(r) = s.strip_prefix("abns@") {
        return Ok(Address::Abns(r.to_string()));
    } else if let Some(r) = s.strip_prefix("fd@") {
        return parse_u32(r)
            .map(Address::Fd)
            .map_err(|_| format!("invalid fd in '{s}'"));
    } else if let Some(r) = s.strip_prefix("sockpair@") {
        return parse_u32(r)
            .map(Address::SockPair)
            .map_err(|_| format!("invalid fd in '{s}'"));
    } else if s.starts_with('/') || s.starts_with("./") {
        return Ok(Address::Unix(s.to_string()));
    } else if s == "stdout" {
        return Ok(Address::Std(StdStream::Stdout));
    } else if s == "stderr" {
        return Ok(Address::Std(StdStream::Stderr));
    } else {
        if let Some(at) = s.find('@') {
            let pfx = s.get(..at).unwrap_or_default();
            if pfx.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(format!("unsupported address family '{pfx}@' in '{s}'"));
            }
        }
        (Family::Any, s)
    };
    // [v6]:port, [v6], host:port, host, v6:port (last colon separates the port).
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let close = r
            .find(']')
            .ok_or_else(|| format!("missing ']' in address '{s}'"))?;
        let h = r.get(..close).unwrap_or_default();
        let after = r.get(close + 1..).unwrap_or_default();
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("invalid address: '{s}'")),
        };
        let ip: IpAddr = h
            .parse()
            .map_err(|_| format!("invalid IPv6 address '{h}' in '{s}'"))?;
        (Host::Ip(ip), port)
    } else {
        match rest.rfind(':') {
            Some(c) => (
                parse_host(rest.get(..c).unwrap_or_default(), s)?,
                Some(rest.get(c + 1..).unwrap_or_default()),
            ),
            None => {
                // Only a host, or (bind) a bare number is not allowed.
                (parse_host(rest, s)?, None)
            }
        }
    };
    let port = match port {
        Some(p) => parse_port(p, usage, s)?,
        None => match usage {
            AddrUse::Server => Port::None,
            AddrUse::Bind => return Err(format!("missing port number: '{s}'")),
            AddrUse::Other => Port::None,
        },
    };
    match (&family, &host) {
        (Family::V4, Host::Ip(IpAddr::V6(_))) | (Family::V6, Host::Ip(IpAddr::V4(_))) => {
            return Err(format!("address family mismatch in '{s}'"));
        }
        _ => {}
    }
    if usage == AddrUse::Bind && matches!(port, Port::Fixed(0)) {
        // HAProxy allows port 0 only for some listeners; keep it (OS picks a port).
    }
    Ok(Address::Inet { family, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn durations() {
        let ok: &[(&str, TimeUnit, u64)] = &[
            ("5000", TimeUnit::Ms, 5_000_000),
            ("5s", TimeUnit::Ms, 5_000_000),
            ("500us", TimeUnit::Ms, 500),
            ("1m", TimeUnit::Ms, 60_000_000),
            ("1h", TimeUnit::Ms, 3_600_000_000),
            ("1d", TimeUnit::Ms, 86_400_000_000),
            ("10ms", TimeUnit::Ms, 10_000),
            ("3", TimeUnit::S, 3_000_000),
        ];
        for (s, u, us) in ok {
            assert_eq!(parse_duration(s, *u), Ok(Duration::from_micros(*us)), "{s}");
        }
        for bad in [
            "",
            "s",
            "5x",
            "1.5s",
            "-1",
            "25d",
            "99999999999999999999999",
            "5 s",
        ] {
            assert!(parse_duration(bad, TimeUnit::Ms).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("16k"), Ok(16384));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        for bad in ["", "k", "1t", "99999999999999999999g"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_accepted() {
        let v4 = |a, b, c, d| Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        let table: &[(&str, AddrUse, Address)] = &[
            (
                ":80",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Any,
                    port: Port::Fixed(80),
                },
            ),
            (
                "*:80",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Any,
                    port: Port::Fixed(80),
                },
            ),
            (
                "0.0.0.0:80",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: v4(0, 0, 0, 0),
                    port: Port::Fixed(80),
                },
            ),
            (
                "127.0.0.1:8080",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: v4(127, 0, 0, 1),
                    port: Port::Fixed(8080),
                },
            ),
            (
                "[::1]:8080",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                    port: Port::Fixed(8080),
                },
            ),
            (
                "::1:8080",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                    port: Port::Fixed(8080),
                },
            ),
            (
                "ipv4@127.0.0.1:80",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::V4,
                    host: v4(127, 0, 0, 1),
                    port: Port::Fixed(80),
                },
            ),
            (
                "ipv6@:80",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::V6,
                    host: Host::Any,
                    port: Port::Fixed(80),
                },
            ),
            (
                ":80-85",
                AddrUse::Bind,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Any,
                    port: Port::Range(80, 85),
                },
            ),
            (
                "unix@/run/x.sock",
                AddrUse::Bind,
                Address::Unix("/run/x.sock".into()),
            ),
            ("/run/x.sock", AddrUse::Bind, Address::Unix("/run/x.sock".into())),
            ("fd@3", AddrUse::Bind, Address::Fd(3)),
            (
                "db.example:5432",
                AddrUse::Server,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Name("db.example".into()),
                    port: Port::Fixed(5432),
                },
            ),
            (
                "web_1",
                AddrUse::Server,
                Address::Inet {
                    family: Family::Any,
                    host: Host::Name("web_1".into()),
                    port: Port::None,
                },
            ),
            (
                "10.0.0.1:+1000",
                AddrUse::Server,
                Address::Inet {
                    family: Family::Any,
                    host: v4(10, 0, 0, 1),
                    port: Port::Offset(1000),
                },
            ),
            ("stdout", AddrUse::Other, Address::Std(StdStream::Stdout)),
        ];
        for (s, u, want) in table {
            assert_eq!(parse_address(s, *u).as_ref(), Ok(want), "{s}");
        }
    }

    #[test]
    fn addresses_rejected() {
        let table: &[(&str, AddrUse)] = &[
            ("", AddrUse::Bind),
            ("127.0.0.1", AddrUse::Bind),
            (":99999", AddrUse::Bind),
            (":85-80", AddrUse::Bind),
            ("[::1", AddrUse::Bind),
            ("[zz]:80", AddrUse::Bind),
            ("ipv4@[::1]:80", AddrUse::Bind),
            ("bad host:80", AddrUse::Server),
            ("quic4@:443", AddrUse::Bind),
            ("10.0.0.1:80-90", AddrUse::Server),
            ("fd@x", AddrUse::Bind),
        ];
        for (s, u) in table {
            assert!(parse_address(s, *u).is_err(), "{s} should be rejected");
        }
    }
}
