//! Thin wrappers over the socket and thread syscalls the engine needs (plain `libc`).
//!
//! Every function here takes or returns owned/borrowed fds from `std::os::fd`, so the
//! ownership of each descriptor is visible in the types. No I/O on the data path goes
//! through here: that is `engine::uring`'s job. This module only creates and configures.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Backlog of listening sockets when the config says nothing: the kernel caps it at
/// `net.core.somaxconn` anyway; HAProxy's default is `maxconn` which we bound here.
pub const LISTEN_BACKLOG_DEFAULT: i32 = 1024;

/// A socket address in the kernel's representation, ready to pass to `bind`/`connect`.
#[derive(Clone, Copy)]
pub struct RawSockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawSockAddr {
    /// Converts a std address into its kernel form.
    pub fn new(addr: &SocketAddr) -> RawSockAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `storage` is owned by this frame and is larger than and aligned
                // for sockaddr_in (that is what sockaddr_storage is for).
                unsafe {
                    std::ptr::write(
                        (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                        sin,
                    )
                };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, `storage` is owned here and fits sockaddr_in6.
                unsafe {
                    std::ptr::write(
                        (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                        sin6,
                    )
                };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawSockAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// An empty address for the kernel to fill (accept, getsockname).
    pub fn empty() -> RawSockAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        RawSockAddr {
            storage,
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// Pointer for the kernel; valid while `self` is neither moved nor dropped.
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// Length in bytes of the address.
    pub fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// Whether the address is empty (never true for a converted address).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Back to a std address; `None` for families other than IPv4/IPv6.
    pub fn to_std(&self) -> Option<SocketAddr> {
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in, owned by self.
                let sin = unsafe {
                    std::ptr::read(
                        (&self.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    )
                };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6, owned by self.
                let sin6 = unsafe {
                    std::ptr::read(
                        (&self.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    )
                };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn family(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A new non-blocking, close-on-exec TCP socket for `addr`'s family.
pub fn tcp_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; no memory is passed.
    let fd = cvt(unsafe {
        libc::socket(
            family(addr),
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: the kernel just returned this fd; nothing else holds it, we take ownership.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `fd` is borrowed for the call; `value` lives on this frame for its duration.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Binds and listens on `addr`. With `reuseport`, several sockets may share the address
/// (one per engine thread); the kernel spreads new connections between them.
pub fn bind_listener(addr: &SocketAddr, reuseport: bool, backlog: i32) -> io::Result<OwnedFd> {
    let fd = tcp_socket(addr)?;
    setsockopt_int(fd.as_fd_borrowed(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuseport {
        setsockopt_int(fd.as_fd_borrowed(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    let raw = RawSockAddr::new(addr);
    // SAFETY: `fd` is owned by this frame; `raw` lives on this frame for the call.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), raw.as_ptr(), raw.len()) })?;
    // SAFETY: `fd` is owned by this frame.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(fd)
}

/// The address a socket is bound to (resolves port 0 after bind).
pub fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    let mut raw = RawSockAddr::empty();
    // SAFETY: `fd` is borrowed; `raw.storage` and `raw.len` are owned by this frame and
    // the kernel writes at most `raw.len` bytes.
    cvt(unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut raw.storage as *mut libc::sockaddr_storage).cast(),
            &mut raw.len,
        )
    })?;
    raw.to_std()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "socket is not ipv4/ipv6"))
}

/// The address of a connected socket's peer.
pub fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    let mut raw = RawSockAddr::empty();
    // SAFETY: `fd` is borrowed; `raw.storage` and `raw.len` are owned by this frame and
    // the kernel writes at most `raw.len` bytes.
    cvt(unsafe {
        libc::getpeername(
            fd.as_raw_fd(),
            (&mut raw.storage as *mut libc::sockaddr_storage).cast(),
            &mut raw.len,
        )
    })?;
    raw.to_std()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "socket is not ipv4/ipv6"))
}

/// Half-closes the write side: the peer reads EOF after the bytes already sent.
pub fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is borrowed for the call; no memory is passed.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) })?;
    Ok(())
}

/// Shuts both directions: pending reads return EOF, pending writes fail.
pub fn shutdown_both(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is borrowed for the call; no memory is passed.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) })?;
    Ok(())
}

/// Disables Nagle: the proxy forwards what it has at once.
pub fn set_nodelay(fd: BorrowedFd<'_>) -> io::Result<()> {
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
}

/// `SO_LINGER {on, 0}`: the next close sends RST instead of FIN (used to abort, and by tests).
pub fn set_linger_zero(fd: BorrowedFd<'_>) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is borrowed; `l` lives on this frame for the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// A non-blocking close-on-exec eventfd, used to wake an engine thread's ring.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall, no memory passed.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: the kernel just returned this fd; we take sole ownership.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd (wakes whoever has a read pending on it).
pub fn eventfd_signal(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: `fd` is borrowed; `one` is 8 bytes owned by this frame.
    let r = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    if r < 0 {
        let e = io::Error::last_os_error();
        // A full counter still wakes the reader.
        if e.kind() != io::ErrorKind::WouldBlock {
            return Err(e);
        }
    }
    Ok(())
}

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cpu number too large",
        ));
    }
    // SAFETY: cpu_set_t is plain data, all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `set` is owned by this frame and `cpu` < CPU_SETSIZE was checked above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 means the calling thread; `set` lives on this frame for the call.
    cvt(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) })?;
    Ok(())
}

/// Number of CPUs this process may run on.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The soft limit on open files (`RLIMIT_NOFILE`).
pub fn nofile_limit() -> io::Result<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is owned by this frame; the kernel writes one rlimit into it.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) })?;
    Ok(rl.rlim_cur)
}

/// Duplicates a descriptor (close-on-exec), e.g. to share one listener between threads.
pub fn dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}

/// Number of fds this process has open (for leak checks in tests and soak scripts).
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Extension to borrow an `OwnedFd` without importing `AsFd` everywhere.
trait BorrowExt {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}

impl BorrowExt for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// Raw value of a borrowed fd (for building SQEs).
pub fn raw(fd: BorrowedFd<'_>) -> RawFd {
    fd.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn sockaddr_round_trips() {
        for s in [
            "127.0.0.1:80",
            "0.0.0.0:0",
            "[::1]:8443",
            "[fe80::1%2]:1",
            "255.255.255.255:65535",
        ] {
            let a: SocketAddr = s.parse().expect("literal");
            assert_eq!(RawSockAddr::new(&a).to_std(), Some(a), "{s}");
        }
        assert_eq!(RawSockAddr::empty().to_std(), None);
    }

    #[test]
    fn bind_port_zero_resolves_and_reuseport_shares() {
        let a: SocketAddr = "127.0.0.1:0".parse().expect("literal");
        let l1 = bind_listener(&a, true, 16).expect("bind");
        let got = local_addr(l1.as_fd()).expect("name");
        assert_ne!(got.port(), 0);
        let l2 = bind_listener(&got, true, 16).expect("second reuseport bind");
        assert_eq!(local_addr(l2.as_fd()).expect("name"), got);
        // Without SO_REUSEPORT on the newcomer the address is busy.
        assert!(bind_listener(&got, false, 16).is_err());
    }

    #[test]
    fn eventfd_signals_and_pin_rejects_bad_cpu() {
        let e = eventfd().expect("eventfd");
        eventfd_signal(e.as_fd()).expect("signal");
        assert!(pin_current_thread(usize::MAX).is_err());
        assert!(nofile_limit().expect("rlimit") > 0);
    }
}
