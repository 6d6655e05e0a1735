//! The Master CLI's language, pure: splitting a line into commands, `@` prefixes, the
//! master's own commands and their texts (`help`, `show proc`), and HAProxy's log line
//! shape. No I/O: the sessions themselves live in `master.rs`.

use crate::cli::CliLevel;

/// How many commands one line may carry.
/// Why: each command is answered in order; 256 per line is far above real use.
pub const COMMANDS_PER_LINE_MAX: usize = 256;

/// Longest line a session may send before it is answered with an error and closed.
/// Why: HAProxy refuses lines over tune.bufsize (16 KiB); the link carries up to 64 KiB.
pub const LINE_BYTES_MAX: usize = crate::link::COMMAND_LINE_BYTES_MAX;

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The master itself (`@master`, `@0`).
    Master,
    /// The current worker with this relative pid (`@1`).
    Relative(u32),
    /// Any worker by system pid, old ones included (`@!<pid>`).
    Pid(i32),
}

/// The text HAProxy answers for an unknown `@` target.
pub fn no_target(prefix: &str) -> String {
    format!("Can't find the target PID matching the prefix '{prefix}'\n")
}

/// HAProxy's answer to a command above the session's level.
pub const PERMISSION_DENIED: &str = "Permission denied\n";

/// Parses one `@` word: `@master`, `@0`, `@<n>`, `@!<pid>`. `None` if `word` has no `@`.
pub fn parse_target(word: &str) -> Option<Result<Target, String>> {
    let rest = word.strip_prefix('@')?;
    let t = if rest == "master" {
        Some(Target::Master)
    } else if let Some(pid) = rest.strip_prefix('!') {
        pid.parse::<i32>().ok().filter(|p| *p > 0).map(Target::Pid)
    } else {
        match rest.parse::<u32>() {
            Ok(0) => Some(Target::Master),
            Ok(n) => Some(Target::Relative(n)),
            Err(_) => None,
        }
    };
    Some(t.ok_or_else(|| no_target(word)))
}

/// One command of a line, with its explicit target if it had an `@` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `Some` when the command began with `@...`; `Err` holds the answer for a bad prefix.
    pub target: Option<Result<Target, String>>,
    /// The command without its prefix; empty for a bare prefix (which changes the
    /// session's default target).
    pub text: String,
}

/// Splits a line into commands at `;` (a `\;` stays in the command), trims them, drops
/// empty ones, and separates `@` prefixes. At most [`COMMANDS_PER_LINE_MAX`].
pub fn split_line(line: &str) -> Vec<Command> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                cur.push(';');
                chars.next();
            }
            ';' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .take(COMMANDS_PER_LINE_MAX)
        .map(|p| {
            let (first, rest) = match p.split_once(char::is_whitespace) {
                Some((f, r)) => (f, r.trim_start()),
                None => (p.as_str(), ""),
            };
            match parse_target(first) {
                Some(t) => Command {
                    target: Some(t),
                    text: rest.to_string(),
                },
                None => Command {
                    target: None,
                    text: p.clone(),
                },
            }
        })
        .collect()
}

/// A command the master runs itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterCmd {
    Help,
    Prompt,
    Quit,
    ShowProc,
    Reload,
    HardReload,
    ShowCliLevel,
    ShowCliSockets,
    Operator,
    User,
    ShowVersion,
    /// Anything else: answered with the unknown-command text.
    Unknown(String),
}

/// Recognizes a master command by its words.
pub fn classify(text: &str) -> MasterCmd {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["help", ..] => MasterCmd::Help,
        ["prompt", ..] => MasterCmd::Prompt,
        ["quit", ..] => MasterCmd::Quit,
        ["show", "proc", ..] => MasterCmd::ShowProc,
        ["reload", ..] => MasterCmd::Reload,
        ["hard-reload", ..] => MasterCmd::HardReload,
        ["show", "cli", "level", ..] => MasterCmd::ShowCliLevel,
        ["show", "cli", "sockets", ..] => MasterCmd::ShowCliSockets,
        ["operator", ..] => MasterCmd::Operator,
        ["user", ..] => MasterCmd::User,
        ["show", "version", ..] => MasterCmd::ShowVersion,
        _ => MasterCmd::Unknown(words.first().copied().unwrap_or_default().to_string()),
    }
}

/// The level a master command needs.
pub fn required_level(cmd: &MasterCmd) -> CliLevel {
    match cmd {
        MasterCmd::Reload | MasterCmd::HardReload => CliLevel::Operator,
        _ => CliLevel::User,
    }
}

/// The master's commands as HAProxy lists them: (usage, description).
pub const HELP_ENTRIES: &[(&str, &str)] = &[
    ("@!<pid>", "send a command to the <pid> process"),
    ("@<relative pid>", "send a command to the <relative pid> process"),
    ("@master", "send a command to the master process"),
    ("hard-reload", "achieve a hard-reload (-st) of haproxy"),
    (
        "operator",
        "lower the level of the current CLI session to operator",
    ),
    ("reload", "achieve a soft-reload (-sf) of haproxy"),
    ("show cli level", "display the level of the current CLI session"),
    ("show cli sockets", "dump list of cli sockets"),
    ("show proc", "show processes status"),
    ("show version", "show version of the current process"),
    ("user", "lower the level of the current CLI session to user"),
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
];

fn help_line(usage: &str, desc: &str) -> String {
    format!("  {usage:<40}: {desc}\n")
}

/// `help`: every command, in HAProxy's layout.
pub fn help_text() -> String {
    let mut s = String::from("The following commands are valid at this level:\n");
    for (u, d) in HELP_ENTRIES {
        s.push_str(&help_line(u, d));
    }
    s
}

/// The answer to an unknown command: HAProxy's suggestion block (entries sharing the
/// first word, or all of them).
pub fn unknown_text(first_word: &str) -> String {
    let matching: Vec<_> = HELP_ENTRIES
        .iter()
        .filter(|(u, _)| !first_word.is_empty() && u.split(' ').next() == Some(first_word))
        .collect();
    let list: Vec<_> = if matching.is_empty() {
        HELP_ENTRIES.iter().collect()
    } else {
        matching
    };
    let mut s =
        format!("Unknown command: '{first_word}', but maybe one of the following ones is a better match:\n");
    for (u, d) in list {
        s.push_str(&help_line(u, d));
    }
    s
}

/// `%dd%02dh%02dm%02ds`, as `show proc` prints uptimes.
pub fn uptime(secs: u64) -> String {
    format!(
        "{}d{:02}h{:02}m{:02}s",
        secs / 86400,
        (secs % 86400) / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// One process line of `show proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRow {
    pub pid: i32,
    /// `worker`, or the program's name.
    pub name: String,
    pub reloads: u32,
    pub uptime_secs: u64,
}

/// Everything `show proc` prints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcSnapshot {
    pub master_pid: i32,
    pub master_reloads: u32,
    pub master_failed_reloads: u32,
    pub master_uptime_secs: u64,
    pub workers: Vec<ProcRow>,
    pub old_workers: Vec<ProcRow>,
    pub programs: Vec<ProcRow>,
    pub old_programs: Vec<ProcRow>,
}

/// `show proc` in HAProxy 2.6's columns (15 wide, `#<PID>` header, `[failed: n]`).
pub fn show_proc(s: &ProcSnapshot, version: &str) -> String {
    let mut o = format!(
        "#{:<14} {:<15} {:<15} {:<15} {:<15}\n",
        "<PID>", "<type>", "<reloads>", "<uptime>", "<version>"
    );
    let reloads = format!("{} [failed: {}]", s.master_reloads, s.master_failed_reloads);
    o.push_str(&format!(
        "{:<15} {:<15} {:<15} {:<15} {:<15}\n",
        s.master_pid,
        "master",
        reloads,
        uptime(s.master_uptime_secs),
        version
    ));
    let row = |o: &mut String, r: &ProcRow, v: &str| {
        o.push_str(&format!(
            "{:<15} {:<15} {:<15} {:<15} {:<15}\n",
            r.pid,
            r.name,
            r.reloads,
            uptime(r.uptime_secs),
            v
        ));
    };
    o.push_str("# workers\n");
    for r in &s.workers {
        row(&mut o, r, version);
    }
    if !s.old_workers.is_empty() {
        o.push_str("# old workers\n");
        for r in &s.old_workers {
            row(&mut o, r, version);
        }
    }
    o.push_str("# programs\n");
    for r in &s.programs {
        row(&mut o, r, "-");
    }
    if !s.old_programs.is_empty() {
        o.push_str("# old programs\n");
        for r in &s.old_programs {
            row(&mut o, r, "-");
        }
    }
    o
}

/// Severity of a master log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Notice,
    Warning,
    Alert,
}

/// `[NOTICE]   (<pid>) : <msg>`: HAProxy's shape, the tag padded to 10 columns.
pub fn log_line(sev: Severity, pid: u32, msg: &str) -> String {
    let tag = match sev {
        Severity::Notice => "[NOTICE]",
        Severity::Warning => "[WARNING]",
        Severity::Alert => "[ALERT]",
    };
    format!("{tag:<10} ({pid}) : {msg}")
}

/// The interactive prompt: `master> `, or `<pid>> ` when the default target is a worker.
pub fn prompt(default_target_pid: Option<i32>) -> String {
    match default_target_pid {
        Some(p) => format!("{p}> "),
        None => "master> ".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let ok: &[(&str, Target)] = &[
            ("@master", Target::Master),
            ("@0", Target::Master),
            ("@1", Target::Relative(1)),
            ("@!1234", Target::Pid(1234)),
        ];
        for (w, t) in ok {
            assert_eq!(parse_target(w), Some(Ok(*t)), "{w}");
        }
        for bad in ["@", "@x", "@!", "@!0", "@!-3", "@-1", "@1x", "@99999999999"] {
            assert_eq!(parse_target(bad), Some(Err(no_target(bad))), "{bad}");
        }
        assert_eq!(parse_target("show"), None);
    }

    #[test]
    fn lines() {
        let c = split_line("operator; show cli level");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].text, "operator");
        assert_eq!(c[1].text, "show cli level");
        let c = split_line("@1 show info; show proc");
        assert_eq!(c[0].target, Some(Ok(Target::Relative(1))));
        assert_eq!(c[0].text, "show info");
        assert_eq!(c[1].target, None, "the prefix binds to its own command only");
        let c = split_line("@!42");
        assert_eq!(c[0].target, Some(Ok(Target::Pid(42))));
        assert_eq!(c[0].text, "");
        let c = split_line("  ;; @1   set var a\\;b ;");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "set var a;b");
        assert!(split_line("").is_empty());
        assert!(split_line(" ; ; ").is_empty());
        let many = "x;".repeat(COMMANDS_PER_LINE_MAX + 5);
        assert_eq!(split_line(&many).len(), COMMANDS_PER_LINE_MAX);
    }

    #[test]
    fn commands() {
        let table: &[(&str, MasterCmd)] = &[
            ("help", MasterCmd::Help),
            ("prompt", MasterCmd::Prompt),
            ("quit", MasterCmd::Quit),
            ("show proc", MasterCmd::ShowProc),
            ("show  proc", MasterCmd::ShowProc),
            ("reload", MasterCmd::Reload),
            ("hard-reload", MasterCmd::HardReload),
            ("show cli level", MasterCmd::ShowCliLevel),
            ("show cli sockets", MasterCmd::ShowCliSockets),
            ("operator", MasterCmd::Operator),
            ("user", MasterCmd::User),
            ("show version", MasterCmd::ShowVersion),
            ("show info", MasterCmd::Unknown("show".into())),
            ("", MasterCmd::Unknown(String::new())),
            ("bogus x", MasterCmd::Unknown("bogus".into())),
        ];
        for (t, want) in table {
            assert_eq!(&classify(t), want, "{t}");
        }
        assert_eq!(required_level(&MasterCmd::Reload), CliLevel::Operator);
        assert_eq!(required_level(&MasterCmd::HardReload), CliLevel::Operator);
        assert_eq!(required_level(&MasterCmd::ShowProc), CliLevel::User);
    }

    #[test]
    fn help_layout() {
        let h = help_text();
        assert!(h.starts_with("The following commands are valid at this level:\n"));
        assert!(
            h.contains("  @!<pid>                                 : send a command to the <pid> process\n")
        );
        assert!(h.contains("  show proc                               : show processes status\n"));
        let u = unknown_text("show");
        assert!(u.starts_with("Unknown command: 'show', but maybe"));
        assert!(u.contains("show proc") && !u.contains("reload"));
        assert!(unknown_text("zzz").contains("reload"));
    }

    #[test]
    fn show_proc_columns() {
        let s = ProcSnapshot {
            master_pid: 9730,
            master_reloads: 2,
            master_failed_reloads: 1,
            master_uptime_secs: 19,
            workers: vec![ProcRow {
                pid: 9732,
                name: "worker".into(),
                reloads: 0,
                uptime_secs: 3661,
            }],
            old_workers: vec![ProcRow {
                pid: 9731,
                name: "worker".into(),
                reloads: 1,
                uptime_secs: 90061,
            }],
            programs: vec![ProcRow {
                pid: 9740,
                name: "dataplaneapi".into(),
                reloads: 2,
                uptime_secs: 0,
            }],
            old_programs: vec![],
        };
        let want = "\
#<PID>          <type>          <reloads>       <uptime>        <version>      \n\
9730            master          2 [failed: 1]   0d00h00m19s     3.0.0          \n\
# workers\n\
9732            worker          0               0d01h01m01s     3.0.0          \n\
# old workers\n\
9731            worker          1               1d01h01m01s     3.0.0          \n\
# programs\n\
9740            dataplaneapi    2               0d00h00m00s     -              \n";
        assert_eq!(show_proc(&s, "3.0.0"), want);
        let empty = show_proc(&ProcSnapshot::default(), "v");
        assert!(!empty.contains("# old"));
        assert!(empty.contains("# programs\n"));
    }

    #[test]
    fn log_shape() {
        assert_eq!(
            log_line(Severity::Notice, 3330, "New program 'echo' (3351) forked"),
            "[NOTICE]   (3330) : New program 'echo' (3351) forked"
        );
        assert_eq!(log_line(Severity::Warning, 1, "x"), "[WARNING]  (1) : x");
        assert_eq!(log_line(Severity::Alert, 1, "x"), "[ALERT]    (1) : x");
        assert_eq!(prompt(None), "master> ");
        assert_eq!(prompt(Some(12)), "12> ");
        assert_eq!(uptime(0), "0d00h00m00s");
    }
}
