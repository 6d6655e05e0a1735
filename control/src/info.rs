//! `show info`: HAProxy's process information fields, same names and order
//! (`stat_cols_info[]` of HAProxy 3.4), in the default `Name: value` form, `typed` and `json`.
//!
//! Fields ringlb has no value for (SSL, compression, pools, peers...) print as HAProxy prints
//! an unset field in each format: empty in the `Name: ` form is avoided by printing `0`, as
//! HAProxy does for counters it keeps but that stay at zero.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::command::{InfoOptions, StatFormat};

/// What the process knows about itself for `show info` / `show version`.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Product name (`Name`), `HAProxy` so that clients which check it keep working.
    pub name: String,
    /// `Version`, also `show version`.
    pub version: String,
    /// `Release_date`, `YYYY/MM/DD`.
    pub release_date: String,
    /// Engine threads (`Nbthread`).
    pub nbthread: usize,
    /// Worker process id (`Pid`).
    pub pid: u32,
    /// When the worker started.
    pub start: SystemTime,
    /// `maxconn` of the process (`Maxconn`, `Hard_maxconn`).
    pub maxconn: u64,
    /// `Ulimit-n`.
    pub ulimit_n: u64,
    /// `node` (global `node`, default the host name).
    pub node: String,
    /// `description`.
    pub description: String,
    /// Milliseconds the configuration took to load (`BootTime_ms`).
    pub boot_time_ms: u64,
}

impl Default for ProcessInfo {
    fn default() -> Self {
        ProcessInfo {
            name: "HAProxy".to_string(),
            version: concat!(env!("CARGO_PKG_VERSION"), "-ringlb").to_string(),
            release_date: "2026/11/22".to_string(),
            nbthread: 1,
            pid: std::process::id(),
            start: SystemTime::now(),
            maxconn: 0,
            ulimit_n: 0,
            node: String::new(),
            description: String::new(),
            boot_time_ms: 0,
        }
    }
}

/// Live numbers `show info` reports beside the fixed ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveInfo {
    /// Current frontend connections (`CurrConns`).
    pub curr_conns: u64,
    /// Total accepted connections (`CumConns`).
    pub cum_conns: u64,
    /// Total sessions (`CumReq`).
    pub cum_req: u64,
    /// Listeners (`Listeners`).
    pub listeners: u64,
    /// Stopping (soft-stop in progress).
    pub stopping: bool,
}

/// Value type of a field, for `typed` and `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    U32,
    U64,
}

impl Ty {
    fn as_str(self) -> &'static str {
        match self {
            Ty::Str => "str",
            Ty::U32 => "u32",
            Ty::U64 => "u64",
        }
    }
}

/// HAProxy's info field names in order, with the type each is printed with.
pub const FIELDS: &[(&str, &str)] = &[
    ("Name", "str"),
    ("Version", "str"),
    ("Release_date", "str"),
    ("Nbthread", "u32"),
    ("Nbproc", "u32"),
    ("Process_num", "u32"),
    ("Pid", "u32"),
    ("Uptime", "str"),
    ("Uptime_sec", "u32"),
    ("Start_time_sec", "u32"),
    ("Memmax_MB", "u32"),
    ("Memmax_bytes", "u32"),
    ("PoolAlloc_MB", "u32"),
    ("PoolAlloc_bytes", "u64"),
    ("PoolUsed_MB", "u32"),
    ("PoolUsed_bytes", "u64"),
    ("PoolFailed", "u32"),
    ("Ulimit-n", "u32"),
    ("Maxsock", "u32"),
    ("Maxconn", "u32"),
    ("Hard_maxconn", "u32"),
    ("CurrConns", "u32"),
    ("CumConns", "u32"),
    ("CumReq", "u32"),
    ("MaxSslConns", "u32"),
    ("CurrSslConns", "u32"),
    ("CumSslConns", "u32"),
    ("Maxpipes", "u32"),
    ("PipesUsed", "u32"),
    ("PipesFree", "u32"),
    ("ConnRate", "u32"),
    ("ConnRateLimit", "u32"),
    ("MaxConnRate", "u32"),
    ("SessRate", "u32"),
    ("SessRateLimit", "u32"),
    ("MaxSessRate", "u32"),
    ("SslRate", "u32"),
    ("SslRateLimit", "u32"),
    ("MaxSslRate", "u32"),
    ("SslFrontendKeyRate", "u32"),
    ("SslFrontendMaxKeyRate", "u32"),
    ("SslFrontendSessionReuse_pct", "u32"),
    ("SslBackendKeyRate", "u32"),
    ("SslBackendMaxKeyRate", "u32"),
    ("SslCacheLookups", "u32"),
    ("SslCacheMisses", "u32"),
    ("CompressBpsIn", "u32"),
    ("CompressBpsOut", "u32"),
    ("CompressBpsRateLim", "u32"),
    ("ZlibMemUsage", "u32"),
    ("MaxZlibMemUsage", "u32"),
    ("Tasks", "u32"),
    ("Run_queue", "u32"),
    ("Idle_pct", "u32"),
    ("node", "str"),
    ("description", "str"),
    ("Stopping", "u32"),
    ("Jobs", "u32"),
    ("Unstoppable Jobs", "u32"),
    ("Listeners", "u32"),
    ("ActivePeers", "u32"),
    ("ConnectedPeers", "u32"),
    ("DroppedLogs", "u32"),
    ("BusyPolling", "u32"),
    ("FailedResolutions", "u32"),
    ("TotalBytesOut", "u64"),
    ("TotalSplicedBytesOut", "u64"),
    ("BytesOutRate", "u64"),
    ("DebugCommandsIssued", "u32"),
    ("CumRecvLogs", "u64"),
    ("Build info", "str"),
    ("Tainted", "str"),
    ("TotalWarnings", "u32"),
    ("MaxconnReached", "u32"),
    ("BootTime_ms", "u32"),
    ("Niced_tasks", "u32"),
    ("CurrStreams", "u64"),
    ("CumStreams", "u64"),
    ("BlockedTrafficWarnings", "u32"),
];

/// HAProxy's `Uptime` form: `<d>d <h>h<mm>m<ss>s`.
pub fn uptime_text(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

fn values(p: &ProcessInfo, live: &LiveInfo, now: SystemTime) -> Vec<String> {
    let up = now.duration_since(p.start).unwrap_or_default();
    let start = p.start.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    FIELDS
        .iter()
        .map(|(name, _)| match *name {
            "Name" => p.name.clone(),
            "Version" => p.version.clone(),
            "Release_date" => p.release_date.clone(),
            "Nbthread" => p.nbthread.to_string(),
            "Nbproc" | "Process_num" => "1".to_string(),
            "Idle_pct" => "100".to_string(),
            "Pid" => p.pid.to_string(),
            "Uptime" => uptime_text(up),
            "Uptime_sec" => up.as_secs().to_string(),
            "Start_time_sec" => start.to_string(),
            "Ulimit-n" | "Maxsock" => p.ulimit_n.to_string(),
            "Maxconn" | "Hard_maxconn" => p.maxconn.to_string(),
            "CurrConns" => live.curr_conns.to_string(),
            "CumConns" => live.cum_conns.to_string(),
            "CumReq" | "CumStreams" => live.cum_req.to_string(),
            "CurrStreams" | "Jobs" => live.curr_conns.to_string(),
            "Listeners" => live.listeners.to_string(),
            "Stopping" => u8::from(live.stopping).to_string(),
            "node" => p.node.clone(),
            "description" => p.description.clone(),
            "Build info" => format!("{}-ringlb", env!("CARGO_PKG_VERSION")),
            "Tainted" => "0x0".to_string(),
            "BootTime_ms" => p.boot_time_ms.to_string(),
            _ => "0".to_string(),
        })
        .collect()
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `s` as a JSON string literal (used by `show stat json` too).
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    json_str(out, s)
}

/// The `show info` answer, ending with a LF.
pub fn render(p: &ProcessInfo, live: &LiveInfo, opts: &InfoOptions, now: SystemTime) -> String {
    let vals = values(p, live, now);
    let mut out = String::new();
    match opts.format {
        StatFormat::Default => {
            for ((name, _), v) in FIELDS.iter().zip(&vals) {
                let _ = writeln!(out, "{name}: {v}");
            }
        }
        StatFormat::Typed => {
            for (i, ((name, ty), v)) in FIELDS.iter().zip(&vals).enumerate() {
                let _ = writeln!(out, "{i}.{name}.1:POS:{ty}:{v}");
            }
        }
        StatFormat::Json => {
            out.push('[');
            for (i, ((name, ty), v)) in FIELDS.iter().zip(&vals).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{\"field\":{{\"pos\":{i},\"name\":\"{name}\"}},\"processNum\":1,\"tags\":{{\"origin\":\"Product\",\"nature\":\"Output\",\"scope\":\"Service\"}},\"value\":{{\"type\":\"{ty}\",\"value\":"
                );
                let t = match *ty {
                    "str" => Ty::Str,
                    "u64" => Ty::U64,
                    _ => Ty::U32,
                };
                if t == Ty::Str {
                    json_str(&mut out, v);
                } else {
                    out.push_str(v);
                }
                debug_assert!(!t.as_str().is_empty());
                out.push_str("}}");
            }
            out.push_str("]\n");
        }
    }
    debug_assert!(out.ends_with('\n'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_start_like_haproxy() {
        let p = ProcessInfo {
            pid: 42,
            nbthread: 2,
            start: UNIX_EPOCH + Duration::from_secs(1000),
            ..ProcessInfo::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1000 + 90_061);
        let out = render(&p, &LiveInfo::default(), &InfoOptions::default(), now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Name: HAProxy");
        assert!(lines[1].starts_with("Version: "));
        assert!(lines[2].starts_with("Release_date: "));
        assert_eq!(
            &lines[3..9],
            &[
                "Nbthread: 2",
                "Nbproc: 1",
                "Process_num: 1",
                "Pid: 42",
                "Uptime: 1d 1h01m01s",
                "Uptime_sec: 90061"
            ]
        );
        assert_eq!(lines.len(), FIELDS.len());
        let typed = render(
            &p,
            &LiveInfo::default(),
            &InfoOptions {
                format: StatFormat::Typed,
                ..Default::default()
            },
            now,
        );
        assert!(typed.starts_with("0.Name.1:POS:str:HAProxy\n"));
        let json = render(
            &p,
            &LiveInfo::default(),
            &InfoOptions {
                format: StatFormat::Json,
                ..Default::default()
            },
            now,
        );
        assert!(json.starts_with("[{\"field\":{\"pos\":0,\"name\":\"Name\"}"));
        assert!(json.ends_with("]\n"));
    }
}
