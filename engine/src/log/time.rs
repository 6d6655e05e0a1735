//! Calendar dates for log lines, computed without libc: HAProxy's `%t` / `%T` layouts and
//! the syslog header dates. Times are rendered in UTC (offset `+0000`): ringlb does not read
//! the system time zone, so `%Tl`/`%trl` show `+0000` and local-time fields equal UTC ones.

use std::time::{SystemTime, UNIX_EPOCH};

/// English month abbreviations, as HAProxy's `monthname[]`.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (e.g. 2026); dates before 1970 are clamped to the epoch.
    pub year: u32,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour 0..=23.
    pub hour: u32,
    /// Minute 0..=59.
    pub min: u32,
    /// Second 0..=59.
    pub sec: u32,
    /// Microseconds 0..=999_999.
    pub micros: u32,
    /// Seconds since the Unix epoch.
    pub unix: u64,
}

impl Civil {
    /// Breaks `t` down (times before 1970 become the epoch: never panics).
    pub fn from_time(t: SystemTime) -> Civil {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let unix = d.as_secs();
        let days = unix / 86_400;
        let rem = unix % 86_400;
        // Howard Hinnant's civil_from_days, unsigned since days >= 0.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        Civil {
            year: u32::try_from(year).unwrap_or(u32::MAX),
            month: month as u32,
            day: day as u32,
            hour: (rem / 3600) as u32,
            min: (rem / 60 % 60) as u32,
            sec: (rem % 60) as u32,
            micros: d.subsec_micros(),
            unix,
        }
    }

    /// Milliseconds 0..=999.
    pub fn millis(&self) -> u32 {
        self.micros / 1000
    }

    fn month_name(&self) -> &'static str {
        MONTHS
            .get((self.month as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("Jan")
    }

    /// `%t`/`%tr`: `06/Feb/2009:12:14:14.655`.
    pub fn write_log_ms(&self, out: &mut Vec<u8>) {
        let mut b = *b"00/Jan/0000:00:00:00.000";
        self.fill_dmy_hms(&mut b);
        put_digits(&mut b[21..24], self.millis());
        out.extend_from_slice(&b);
    }

    /// `%T`/`%Tl`/`%trg`/`%trl`: `06/Feb/2009:12:14:14 +0000`.
    pub fn write_log_tz(&self, out: &mut Vec<u8>) {
        let mut b = *b"00/Jan/0000:00:00:00 +0000";
        self.fill_dmy_hms(&mut b);
        out.extend_from_slice(&b);
    }

    /// Fills `dd/Mmm/yyyy:hh:mm:ss` at the start of `b` (fixed width, no formatting
    /// machinery: this runs once per log line).
    fn fill_dmy_hms(&self, b: &mut [u8]) {
        if b.len() < 20 {
            return;
        }
        put_digits(&mut b[0..2], self.day);
        b[3..6].copy_from_slice(self.month_name().as_bytes());
        put_digits(&mut b[7..11], self.year);
        put_digits(&mut b[12..14], self.hour);
        put_digits(&mut b[15..17], self.min);
        put_digits(&mut b[18..20], self.sec);
    }

    /// RFC 3164 header date: `Feb  6 12:14:14` (day padded with a space, as `%2d`).
    pub fn write_rfc3164(&self, out: &mut Vec<u8>) {
        let mut b = *b"Jan 00 00:00:00";
        b[0..3].copy_from_slice(self.month_name().as_bytes());
        put_digits(&mut b[4..6], self.day);
        if self.day < 10 {
            b[4] = b' ';
        }
        put_digits(&mut b[7..9], self.hour);
        put_digits(&mut b[10..12], self.min);
        put_digits(&mut b[13..15], self.sec);
        out.extend_from_slice(&b);
    }

    /// RFC 5424 / ISO 8601 date: `2009-02-06T12:14:14.655123+00:00`.
    pub fn write_iso(&self, out: &mut Vec<u8>) {
        let mut b = *b"0000-00-00T00:00:00.000000+00:00";
        put_digits(&mut b[0..4], self.year);
        put_digits(&mut b[5..7], self.month);
        put_digits(&mut b[8..10], self.day);
        put_digits(&mut b[11..13], self.hour);
        put_digits(&mut b[14..16], self.min);
        put_digits(&mut b[17..19], self.sec);
        put_digits(&mut b[20..26], self.micros);
        out.extend_from_slice(&b);
    }
}

/// Writes the low `dst.len()` decimal digits of `v` into `dst`, zero-padded.
#[inline]
fn put_digits(dst: &mut [u8], mut v: u32) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Appends `v` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_padded(out, v, 1);
}

/// Appends a signed integer in decimal (`-1` for HAProxy's "absent" times).
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `v` left-padded with zeros to `width` digits (longer numbers are kept whole).
#[inline]
pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    // Fast paths: most logged numbers (timers, counters, queues) have one or two digits.
    if v < 10 && width <= 1 {
        out.push(b'0' + v as u8);
        return;
    }
    if v < 100 && width <= 2 {
        out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
        return;
    }
    // Digits are pushed least significant first, then reversed in place: no temporary
    // buffer and no memcpy/memset call for a handful of bytes.
    let start = out.len();
    let mut v = v;
    loop {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while out.len() - start < width {
        out.push(b'0');
    }
    if let Some(d) = out.get_mut(start..) {
        d.reverse();
    }
}

/// Appends `v` in upper-case hexadecimal padded to `width` digits (HAProxy's `%0NX`).
pub fn push_hex(out: &mut Vec<u8>, v: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = HEX[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    for _ in (buf.len() - i)..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, ms: u64) -> Civil {
        Civil::from_time(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
    }

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn haproxy_doc_dates() {
        // 06/Feb/2009:12:14:14.655 UTC = 1233922454.655
        let c = at(1_233_922_454, 655);
        assert_eq!(s(|o| c.write_log_ms(o)), "06/Feb/2009:12:14:14.655");
        assert_eq!(s(|o| c.write_log_tz(o)), "06/Feb/2009:12:14:14 +0000");
        assert_eq!(s(|o| c.write_rfc3164(o)), "Feb  6 12:14:14");
        assert_eq!(s(|o| c.write_iso(o)), "2009-02-06T12:14:14.655000+00:00");
    }

    #[test]
    fn calendar_table() {
        let cases: &[(u64, &str)] = &[
            (0, "01/Jan/1970:00:00:00.000"),
            (951_782_400, "29/Feb/2000:00:00:00.000"),
            (1_798_761_599, "31/Dec/2026:23:59:59.000"),
            (1_795_323_381, "22/Nov/2026:04:56:21.000"),
            (4_107_542_400, "01/Mar/2100:00:00:00.000"),
        ];
        for (secs, want) in cases {
            assert_eq!(s(|o| at(*secs, 0).write_log_ms(o)), *want, "secs {secs}");
        }
        assert_eq!(s(|o| at(1_795_323_381, 0).write_rfc3164(o)), "Nov 22 04:56:21");
    }

    #[test]
    fn before_epoch_is_clamped() {
        let c = Civil::from_time(UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(c.year, 1970);
    }

    #[test]
    fn numbers() {
        assert_eq!(s(|o| push_i64(o, -1)), "-1");
        assert_eq!(s(|o| push_i64(o, i64::MIN)), "-9223372036854775808");
        assert_eq!(s(|o| push_u64(o, u64::MAX)), "18446744073709551615");
        for (v, want) in [
            (0, "0"),
            (9, "9"),
            (10, "10"),
            (99, "99"),
            (100, "100"),
            (1000, "1000"),
        ] {
            assert_eq!(s(|o| push_u64(o, v)), want);
        }
        assert_eq!(s(|o| push_padded(o, 5, 3)), "005");
        assert_eq!(s(|o| push_padded(o, 12345, 3)), "12345");
        assert_eq!(s(|o| push_hex(o, 0x5C53_42A0, 4)), "5C5342A0");
        assert_eq!(s(|o| push_hex(o, 10, 4)), "000A");
    }
}
