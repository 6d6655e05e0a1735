//! `program` sections: external commands run under the master (fork, setgroups, setgid,
//! setuid, exec), restarted with exponential back-off when they fail, stopped and started
//! again on reload unless `no option start-on-reload`.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::sys;

/// First delay before restarting a program that failed.
/// Why: long enough not to spin on a command that fails at once, short enough to heal fast.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);

/// Longest delay between two restarts of a failing program.
/// Why: a broken sidecar retried once a minute costs nothing and comes back on its own.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A program that ran this long before failing starts its back-off from the beginning.
/// Why: a crash after a long healthy run is a new incident, not a crash loop.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(30);

/// How long a program has between SIGTERM and SIGKILL.
/// Why: enough to flush and exit cleanly; bounded so a stop or reload always completes.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

const _: () = assert!(BACKOFF_FIRST.as_millis() < BACKOFF_MAX.as_millis());

/// One `program` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The section's name.
    pub name: String,
    /// `command`: the program and its arguments (already split with HAProxy quoting).
    pub command: Vec<String>,
    /// `user`: run as this user (its uid, and its groups unless `group` is set).
    pub user: Option<String>,
    /// `group`: run with this gid.
    pub group: Option<String>,
    /// `option start-on-reload` (default true): stop and start again on each reload.
    pub start_on_reload: bool,
}

/// Why a program could not be started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartError {
    #[error("program '{name}' has no command")]
    NoCommand { name: String },
    #[error("program '{name}': command '{cmd}' not found")]
    NotFound { name: String, cmd: String },
    #[error("program '{name}': unknown user '{user}'")]
    UnknownUser { name: String, user: String },
    #[error("program '{name}': unknown group '{group}'")]
    UnknownGroup { name: String, group: String },
    #[error("program '{name}': {why}")]
    Other { name: String, why: String },
}

/// The delay before restart number `failures` (1 = the first restart after a failure):
/// 1 s, 2 s, 4 s ... capped at [`BACKOFF_MAX`].
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    BACKOFF_FIRST
        .checked_mul(1u32 << shift)
        .unwrap_or(BACKOFF_MAX)
        .min(BACKOFF_MAX)
}

/// Resolves the command, user and group and builds the exec arguments (before fork).
pub fn prepare(spec: &ProgramSpec) -> Result<sys::ExecSpec, StartError> {
    let name = spec.name.clone();
    let cmd = spec
        .command
        .first()
        .ok_or_else(|| StartError::NoCommand { name: name.clone() })?;
    let path =
        sys::find_in_path(cmd, std::env::var_os("PATH").as_deref()).ok_or_else(|| StartError::NotFound {
            name: name.clone(),
            cmd: cmd.clone(),
        })?;
    let other = |why: String| StartError::Other {
        name: name.clone(),
        why,
    };
    let user = match &spec.user {
        None => None,
        Some(u) => Some(
            sys::lookup_user(u)
                .map_err(|e| other(format!("looking up user '{u}': {e}")))?
                .ok_or_else(|| StartError::UnknownUser {
                    name: name.clone(),
                    user: u.clone(),
                })?,
        ),
    };
    let group = match &spec.group {
        None => None,
        Some(g) => Some(
            sys::lookup_group(g)
                .map_err(|e| other(format!("looking up group '{g}': {e}")))?
                .ok_or_else(|| StartError::UnknownGroup {
                    name: name.clone(),
                    group: g.clone(),
                })?,
        ),
    };
    let creds = match (user, group) {
        (None, None) => None,
        (Some((uid, ugid)), g) => {
            let gid = g.unwrap_or(ugid);
            let groups = match g {
                // An explicit group: that group only, as HAProxy's setgroups(1, &gid).
                Some(gid) => vec![gid],
                None => sys::group_list(spec.user.as_deref().unwrap_or_default(), gid)
                    .map_err(|e| other(format!("groups of the user: {e}")))?,
            };
            Some(sys::Creds { uid, gid, groups })
        }
        (None, Some(gid)) => Some(sys::Creds {
            // Only a group: keep the master's uid.
            uid: current_uid(),
            gid,
            groups: vec![gid],
        }),
    };
    let argv: Vec<OsString> = spec.command.iter().map(OsString::from).collect();
    sys::ExecSpec::new(&path, &argv, &[], creds, Vec::new()).map_err(|e| other(e.to_string()))
}

fn current_uid() -> libc::uid_t {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's real uid: no unsafe needed.
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// A running (or waiting to restart) program.
#[derive(Debug)]
pub struct Program {
    pub spec: ProgramSpec,
    /// The running process, if any.
    pub pid: Option<i32>,
    /// When the current (or last) process started.
    pub started: Instant,
    /// Reloads this program survived (kept with `no option start-on-reload`).
    pub reloads: u32,
    /// Failures in a row (reset after a healthy run).
    pub failures: u32,
    /// When to start it again after a failure.
    pub restart_at: Option<Instant>,
}

/// A program that is being stopped (old program): SIGTERM sent, SIGKILL at `kill_at`.
#[derive(Debug)]
pub struct Leaving {
    pub name: String,
    pub pid: i32,
    pub started: Instant,
    pub reloads: u32,
    pub kill_at: Instant,
}

/// What to do after a program's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// It exited with code 0: done, not restarted.
    Done,
    /// It failed: restart after this delay.
    RestartIn(Duration),
}

impl Program {
    /// A program not yet started.
    pub fn new(spec: ProgramSpec, now: Instant) -> Self {
        Self {
            spec,
            pid: None,
            started: now,
            reloads: 0,
            failures: 0,
            restart_at: Some(now),
        }
    }

    /// Records the end of its process and decides about a restart.
    pub fn exited(&mut self, code: i32, now: Instant) -> AfterExit {
        debug_assert!(self.pid.is_some());
        self.pid = None;
        if code == 0 {
            self.failures = 0;
            self.restart_at = None;
            return AfterExit::Done;
        }
        if now.saturating_duration_since(self.started) >= BACKOFF_RESET_AFTER {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let d = backoff(self.failures);
        self.restart_at = Some(now + d);
        debug_assert!(self.restart_at.is_some());
        AfterExit::RestartIn(d)
    }

    /// Records a failed start (command missing, unknown user...): retried with back-off.
    pub fn start_failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let d = backoff(self.failures);
        self.restart_at = Some(now + d);
        d
    }

    /// Starts the process now. The caller logs.
    pub fn start(&mut self, now: Instant) -> Result<i32, StartError> {
        debug_assert!(self.pid.is_none());
        self.restart_at = None;
        let spec = prepare(&self.spec)?;
        let pid = sys::spawn(&spec).map_err(|e| StartError::Other {
            name: self.spec.name.clone(),
            why: format!("fork: {e}"),
        })?;
        self.pid = Some(pid);
        self.started = now;
        Ok(pid)
    }

    /// Whether this running program is kept as is by a reload to `new`.
    pub fn kept_by(&self, new: &ProgramSpec) -> bool {
        !new.start_on_reload
            && self.spec.command == new.command
            && self.spec.user == new.user
            && self.spec.group == new.group
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &[&str]) -> ProgramSpec {
        ProgramSpec {
            name: "p".into(),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            user: None,
            group: None,
            start_on_reload: true,
        }
    }

    #[test]
    fn backoff_schedule() {
        let want = [1, 1, 2, 4, 8, 16, 32, 60, 60];
        for (n, secs) in want.iter().enumerate() {
            assert_eq!(backoff(n as u32), Duration::from_secs(*secs), "failures {n}");
        }
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn exits_and_restarts() {
        let t0 = Instant::now();
        let mut p = Program::new(spec(&["true"]), t0);
        p.pid = Some(10);
        assert_eq!(p.exited(0, t0), AfterExit::Done);
        assert_eq!(p.restart_at, None);
        p.pid = Some(11);
        assert_eq!(p.exited(1, t0), AfterExit::RestartIn(Duration::from_secs(1)));
        p.pid = Some(12);
        assert_eq!(p.exited(139, t0), AfterExit::RestartIn(Duration::from_secs(2)));
        p.pid = Some(13);
        p.started = t0;
        let later = t0 + BACKOFF_RESET_AFTER;
        assert_eq!(
            p.exited(1, later),
            AfterExit::RestartIn(Duration::from_secs(1)),
            "a long healthy run resets the back-off"
        );
    }

    #[test]
    fn prepare_errors() {
        type Check = fn(&StartError) -> bool;
        let cases: &[(ProgramSpec, Check)] = &[
            (spec(&[]), |e| matches!(e, StartError::NoCommand { .. })),
            (spec(&["no-such-command-ringlb"]), |e| {
                matches!(e, StartError::NotFound { .. })
            }),
            (
                ProgramSpec {
                    user: Some("no-such-user-ringlb".into()),
                    ..spec(&["sh"])
                },
                |e| matches!(e, StartError::UnknownUser { .. }),
            ),
            (
                ProgramSpec {
                    group: Some("no-such-group-ringlb".into()),
                    ..spec(&["sh"])
                },
                |e| matches!(e, StartError::UnknownGroup { .. }),
            ),
        ];
        for (s, check) in cases {
            match prepare(s) {
                Err(e) => assert!(check(&e), "{s:?}: {e}"),
                Ok(_) => panic!("{s:?} prepared"),
            }
        }
        assert!(prepare(&ProgramSpec {
            user: Some("nobody".into()),
            ..spec(&["sh", "-c", "true"])
        })
        .is_ok());
    }

    #[test]
    fn kept_only_when_unchanged() {
        let t0 = Instant::now();
        let mut keep = spec(&["sleep", "9"]);
        keep.start_on_reload = false;
        let p = Program::new(keep.clone(), t0);
        assert!(p.kept_by(&keep));
        assert!(!p.kept_by(&spec(&["sleep", "9"])), "start-on-reload");
        let mut changed = keep.clone();
        changed.command.push("x".into());
        assert!(!p.kept_by(&changed), "command changed");
    }
}
