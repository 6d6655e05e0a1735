//! The only `unsafe` of the `supervisor` crate: fork + exec, signal handlers writing to a
//! self-pipe, poll(2), waitpid, kill, user and group look-ups, and adopting inherited fds.
//!
//! Everything a forked child does is prepared before `fork` ([`ExecSpec`]): the child only
//! calls async-signal-safe functions (prctl, sigprocmask, setgroups/setgid/setuid, fcntl,
//! execve, write, _exit) and never allocates.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

/// How many fds one child may inherit on purpose (listeners plus the master link).
/// Why: each is one `fcntl` in the child; 4096 listening sockets is far above real configs.
pub const PASS_FDS_MAX: usize = 4096;

/// How many supplementary groups a program's user may have.
/// Why: NGROUPS_MAX on Linux is 65536, but real users have a handful; the buffer is fixed.
pub const GROUPS_MAX: usize = 1024;

/// Size of the buffer `getpwnam_r`/`getgrnam_r` may fill.
/// Why: big group entries (many members) need more than the usual 1 KiB; 1 MiB is a ceiling.
const NSS_BUF_BYTES_MAX: usize = 1 << 20;

/// Variables a child never inherits: only the master talks to systemd (`-Ws`).
const ENV_NOT_INHERITED: &[&str] = &["NOTIFY_SOCKET"];

/// Credentials applied in the child before exec: setgroups, setgid, then setuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// Everything a child needs, built before `fork` so that the child allocates nothing.
#[derive(Debug)]
pub struct ExecSpec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    creds: Option<Creds>,
    pass_fds: Vec<RawFd>,
}

/// An error preparing an [`ExecSpec`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrepareError {
    #[error("empty command")]
    EmptyCommand,
    #[error("'{0}' contains a NUL byte")]
    Nul(String),
    #[error("too many inherited fds: {got} (max {max})")]
    TooManyFds { got: usize, max: usize },
}

fn cstring(s: &OsStr) -> Result<CString, PrepareError> {
    CString::new(s.as_bytes()).map_err(|_| PrepareError::Nul(s.to_string_lossy().into_owned()))
}

impl ExecSpec {
    /// Builds the exec arguments: `path` is the file to exec (already resolved), `argv`
    /// includes `argv[0]`; the environment is the current one with `extra_env` set on top
    /// and `NOTIFY_SOCKET` removed.
    pub fn new(
        path: &Path,
        argv: &[OsString],
        extra_env: &[(String, String)],
        creds: Option<Creds>,
        pass_fds: Vec<RawFd>,
    ) -> Result<Self, PrepareError> {
        if argv.is_empty() {
            return Err(PrepareError::EmptyCommand);
        }
        if pass_fds.len() > PASS_FDS_MAX {
            return Err(PrepareError::TooManyFds {
                got: pass_fds.len(),
                max: PASS_FDS_MAX,
            });
        }
        let argv = argv.iter().map(|a| cstring(a)).collect::<Result<Vec<_>, _>>()?;
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            if extra_env.iter().any(|(ek, _)| OsStr::new(ek) == k)
                || ENV_NOT_INHERITED.iter().any(|n| OsStr::new(n) == k)
            {
                continue;
            }
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            envp.push(cstring(&kv)?);
        }
        for (k, v) in extra_env {
            envp.push(cstring(OsStr::new(&format!("{k}={v}")))?);
        }
        Ok(Self {
            path: cstring(path.as_os_str())?,
            argv,
            envp,
            creds,
            pass_fds,
        })
    }
}

/// Writes a fixed message to stderr from a forked child, then `_exit(127)`.
fn child_fail(msg: &[u8]) -> ! {
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `msg` is a static byte slice owned
    // by the binary; fd 2 is the inherited stderr, nothing else in this child uses it now.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

/// Forks and execs `spec`. In the child: PR_SET_PDEATHSIG(SIGKILL) (so that nothing
/// outlives the master), default SIGPIPE, empty signal mask, credentials, the passed fds
/// made inheritable, then execve. Returns the child's pid.
pub fn spawn(spec: &ExecSpec) -> io::Result<libc::pid_t> {
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let groups: &[libc::gid_t] = spec.creds.as_ref().map_or(&[], |c| &c.groups);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: fork(2) itself has no memory preconditions. The child below only touches
    // memory prepared before the fork (argv/envp pointer arrays, `spec`, `groups`), which
    // the parent keeps alive until this function returns; it calls only async-signal-safe
    // functions and leaves through execve or _exit, so no lock held by another thread of
    // the parent can be needed.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // Child.
    // SAFETY: prctl, getppid, signal, sigemptyset/sigprocmask on a stack sigset are
    // async-signal-safe and touch only this child's own state.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    if let Some(c) = &spec.creds {
        // SAFETY: `groups` points to `groups.len()` gids owned by `spec`, alive for the whole
        // child; setgroups/setgid/setuid are async-signal-safe.
        unsafe {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                child_fail(b"[ALERT]    ringlb : setgroups failed in child\n");
            }
            if libc::setgid(c.gid) != 0 {
                child_fail(b"[ALERT]    ringlb : setgid failed in child\n");
            }
            if libc::setuid(c.uid) != 0 {
                child_fail(b"[ALERT]    ringlb : setuid failed in child\n");
            }
        }
    }
    for &fd in &spec.pass_fds {
        // SAFETY: fcntl(F_SETFD) on an fd the parent owns and passes on purpose; clearing
        // FD_CLOEXEC only affects this child's fd table.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            child_fail(b"[ALERT]    ringlb : cannot pass an fd to the child\n");
        }
    }
    // SAFETY: path, argv and envp are NUL-terminated C strings and NULL-terminated pointer
    // arrays built before fork and alive until exec replaces the image.
    unsafe {
        libc::execve(spec.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    child_fail(b"[ALERT]    ringlb : execve failed\n")
}

/// `-D`: forks, the parent exits 0 at once, the child starts a new session with stdin on
/// /dev/null (stdout and stderr are kept: they carry the master's log). Call only while the
/// process has a single thread: the child goes on running Rust code after `fork`.
pub fn daemonize() -> io::Result<()> {
    let devnull = std::fs::File::open("/dev/null")?;
    // SAFETY: the caller guarantees a single-threaded process, so the child's copy of the
    // memory has no lock held by a vanished thread and may keep running normal code; the
    // parent leaves through _exit without touching shared state.
    unsafe {
        let pid = libc::fork();
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid > 0 {
            libc::_exit(0);
        }
        libc::setsid();
        libc::dup2(devnull.as_raw_fd(), 0);
    }
    Ok(())
}

/// Finds `cmd` like execvp: a name with a `/` is used as is, else each `PATH` entry is
/// tried for an executable regular file.
pub fn find_in_path(cmd: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if cmd.is_empty() {
        return None;
    }
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return is_exec(&p).then_some(p);
    }
    let default = OsStr::new("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::split_paths(path_var.unwrap_or(default))
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .map(|d| d.join(cmd))
        .find(|p| is_exec(p))
}

/// The signals the master reacts to.
pub const MASTER_SIGNALS: [libc::c_int; 7] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR2,
    libc::SIGHUP,
    libc::SIGUSR1,
];

static PENDING: AtomicU64 = AtomicU64::new(0);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    if (0..64).contains(&sig) {
        PENDING.fetch_or(1u64 << sig, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; `fd` is the write end of the self-pipe,
        // owned by the master for its whole life (see `install_master_signals`); the pipe
        // is non-blocking so a full pipe only drops a redundant wake-up. errno is saved and
        // restored so the interrupted code never sees it change.
        unsafe {
            let e = *libc::__errno_location();
            libc::write(fd, (&b as *const u8).cast(), 1);
            *libc::__errno_location() = e;
        }
    }
}

/// Creates the self-pipe (both ends non-blocking, close-on-exec) and installs handlers for
/// [`MASTER_SIGNALS`] that record the signal and write one byte to it. Returns the read end.
/// The write end is kept open for the life of the process on purpose.
pub fn install_master_signals() -> io::Result<OwnedFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-int array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fds; nothing else owns the read end.
    let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    let old = WAKE_FD.swap(fds[1], Ordering::SeqCst);
    if old >= 0 {
        // SAFETY: `old` is a write end this function stored earlier and nobody else owns.
        unsafe { libc::close(old) };
    }
    for &sig in &MASTER_SIGNALS {
        set_handler(sig, on_signal as *const () as usize)?;
    }
    Ok(read)
}

fn set_handler(sig: libc::c_int, handler: usize) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; we set the handler, an empty mask and
    // SA_RESTART; sigaction copies the struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Returns and clears the set of signals received since the last call (bit n = signal n).
pub fn take_signals() -> u64 {
    PENDING.swap(0, Ordering::SeqCst)
}

static SOFT_STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_soft_stop(_sig: libc::c_int) {
    SOFT_STOP.store(true, Ordering::SeqCst);
}

/// Worker side: SIGUSR1 (the master's "soft stop") sets the returned flag.
pub fn install_soft_stop() -> io::Result<&'static AtomicBool> {
    set_handler(libc::SIGUSR1, on_soft_stop as *const () as usize)?;
    Ok(&SOFT_STOP)
}

/// One entry of [`poll`].
pub type PollFd = libc::pollfd;

/// Readable.
pub const POLLIN: i16 = libc::POLLIN;
/// Writable.
pub const POLLOUT: i16 = libc::POLLOUT;
/// Error or hang-up (always reported).
pub const POLLERR_HUP: i16 = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;

/// A poll entry for `fd` waiting for `events`.
pub fn poll_fd(fd: RawFd, events: i16) -> PollFd {
    PollFd {
        fd,
        events,
        revents: 0,
    }
}

/// poll(2); EINTR counts as zero ready fds.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid mutable slice of pollfd for its whole length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// How a child ended, as HAProxy reports it: `code` is the exit status, or 128 + signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i32,
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// HAProxy's reason word: `Exit`, or the signal's description (`Killed`, `Terminated`).
    pub fn reason(&self) -> String {
        match self.signal {
            None => "Exit".to_string(),
            Some(s) => signal_name(s),
        }
    }
}

/// The description strsignal(3) gives.
pub fn signal_name(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a NUL-terminated string valid until the next
    // call; the master is single-threaded and copies it at once.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            return format!("Signal {sig}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Reaps one exited child without blocking: `None` when none is left to reap.
pub fn reap_one() -> Option<(libc::pid_t, ExitStatus)> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid writes the status into our local int.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let st = if libc::WIFEXITED(status) {
        ExitStatus {
            code: libc::WEXITSTATUS(status),
            signal: None,
        }
    } else if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        ExitStatus {
            code: 128 + s,
            signal: Some(s),
        }
    } else {
        ExitStatus {
            code: 255,
            signal: None,
        }
    };
    Some((pid, st))
}

/// kill(2); a pid <= 0 is refused (never signal a process group by accident).
pub fn kill(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: kill(2) has no memory preconditions; pid > 0 targets exactly one process.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// listen(2) again on a bound socket to set its backlog (Linux updates it in place).
pub fn set_backlog(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) on an fd the caller owns; no memory is passed.
    if unsafe { libc::listen(fd, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Adopts an fd inherited from the master: checks that it is open, makes it close-on-exec
/// again, and returns it owned. The caller must take each number at most once.
pub fn adopt_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: fcntl(F_GETFD/F_SETFD) on a number only checks/sets flags; an unknown fd fails
    // with EBADF, which we report.
    unsafe {
        if libc::fcntl(fd, libc::F_GETFD) < 0 {
            return Err(io::Error::last_os_error());
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: the fd is open (checked above) and was passed to this process by the master on
    // purpose; the caller guarantees it adopts each number once, so ownership is unique.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn nss_lookup<T>(
    mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, bool),
    done: impl FnOnce() -> T,
) -> io::Result<Option<T>> {
    let mut len = 4096usize;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        let (rc, found) = call(&mut buf);
        if rc == libc::ERANGE && len < NSS_BUF_BYTES_MAX {
            len *= 2;
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        return Ok(found.then(done));
    }
}

/// getpwnam_r: the user's uid and primary gid.
pub fn lookup_user(name: &str) -> io::Result<Option<(libc::uid_t, libc::gid_t)>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut ids = (0, 0);
    let r = nss_lookup(
        |buf| {
            // SAFETY: a zeroed passwd is valid; getpwnam_r writes into `pw` and `buf`, both
            // owned here, and sets `res` to null or to `&pw`.
            unsafe {
                let mut pw: libc::passwd = std::mem::zeroed();
                let mut res: *mut libc::passwd = std::ptr::null_mut();
                let rc = libc::getpwnam_r(cname.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut res);
                if !res.is_null() {
                    ids = (pw.pw_uid, pw.pw_gid);
                }
                (rc, !res.is_null())
            }
        },
        || (),
    )?;
    Ok(r.map(|()| ids))
}

/// getgrnam_r: the group's gid.
pub fn lookup_group(name: &str) -> io::Result<Option<libc::gid_t>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut gid = 0;
    let r = nss_lookup(
        |buf| {
            // SAFETY: a zeroed group is valid; getgrnam_r writes into `gr` and `buf`, both
            // owned here, and sets `res` to null or to `&gr`.
            unsafe {
                let mut gr: libc::group = std::mem::zeroed();
                let mut res: *mut libc::group = std::ptr::null_mut();
                let rc = libc::getgrnam_r(cname.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut res);
                if !res.is_null() {
                    gid = gr.gr_gid;
                }
                (rc, !res.is_null())
            }
        },
        || (),
    )?;
    Ok(r.map(|()| gid))
}

/// getgrouplist: the supplementary groups of `user` (with `gid` included), at most
/// [`GROUPS_MAX`].
pub fn group_list(user: &str, gid: libc::gid_t) -> io::Result<Vec<libc::gid_t>> {
    let cname = CString::new(user).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut groups = vec![0 as libc::gid_t; GROUPS_MAX];
    let mut n = GROUPS_MAX as libc::c_int;
    // SAFETY: `groups` has room for `n` gids; getgrouplist writes at most `n` and stores the
    // real count in `n`.
    let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
    if rc < 0 {
        // More than GROUPS_MAX: keep the first GROUPS_MAX (the primary group is among them).
        n = GROUPS_MAX as libc::c_int;
    }
    groups.truncate(usize::try_from(n).unwrap_or(0).min(GROUPS_MAX));
    Ok(groups)
}

/// The raw number of an fd, for the environment of a child.
pub fn raw(fd: &impl AsRawFd) -> RawFd {
    fd.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup() {
        assert!(find_in_path("sh", Some(OsStr::new("/nonexistent:/bin:/usr/bin"))).is_some());
        assert_eq!(find_in_path("sh", Some(OsStr::new("/nonexistent"))), None);
        assert_eq!(find_in_path("", None), None);
        assert_eq!(
            find_in_path("/bin/sh", Some(OsStr::new(""))),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(find_in_path("/nonexistent/x", None), None);
        // A directory is not a command.
        assert_eq!(find_in_path("/tmp", None), None);
    }

    #[test]
    fn users_and_groups() {
        assert_eq!(lookup_user("root").expect("nss works"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-ringlb").expect("nss works"), None);
        assert_eq!(lookup_group("root").expect("nss works"), Some(0));
        assert_eq!(lookup_group("no-such-group-ringlb").expect("nss works"), None);
        assert!(lookup_user("a\0b").is_err());
        let g = group_list("root", 0).expect("getgrouplist works");
        assert!(g.contains(&0), "{g:?}");
    }

    #[test]
    fn exec_spec_rejects() {
        assert_eq!(
            ExecSpec::new(Path::new("/bin/true"), &[], &[], None, vec![]).err(),
            Some(PrepareError::EmptyCommand)
        );
        assert!(matches!(
            ExecSpec::new(Path::new("/bin/true"), &["a\0b".into()], &[], None, vec![]),
            Err(PrepareError::Nul(_))
        ));
        assert!(matches!(
            ExecSpec::new(
                Path::new("/bin/true"),
                &["t".into()],
                &[],
                None,
                vec![3; PASS_FDS_MAX + 1]
            ),
            Err(PrepareError::TooManyFds { .. })
        ));
    }

    #[test]
    fn exec_env() {
        let spec = ExecSpec::new(
            Path::new("/bin/true"),
            &["true".into()],
            &[("PATH".into(), "/x".into()), ("RINGLB_X".into(), "1".into())],
            None,
            vec![],
        )
        .expect("valid");
        let env: Vec<&[u8]> = spec.envp.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(env.iter().filter(|e| e.starts_with(b"PATH=")).count(), 1);
        assert!(env.contains(&&b"PATH=/x"[..]));
        assert!(env.contains(&&b"RINGLB_X=1"[..]));
        assert!(!env.iter().any(|e| e.starts_with(b"NOTIFY_SOCKET=")));
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGKILL), "Killed");
        assert_eq!(signal_name(libc::SIGTERM), "Terminated");
        assert_eq!(
            ExitStatus {
                code: 0,
                signal: None
            }
            .reason(),
            "Exit"
        );
        assert!(kill(0, 0).is_err());
        assert!(kill(-1, 0).is_err());
        assert!(adopt_inherited_fd(1).is_err());
    }
}
