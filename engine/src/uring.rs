//! The engine's one io_uring wrapper: all ring-level `unsafe` lives here.
//!
//! A [`Ring`] is created on, and used only by, its engine thread
//! (`SINGLE_ISSUER | DEFER_TASKRUN`). Operations that hand memory to the kernel take an
//! [`IoBuf`] and mark it busy; the buffer stays owned by the operation until its completion
//! is reaped and [`IoBuf::complete`] is called. A busy buffer that is dropped anyway is
//! leaked rather than freed, so a logic error costs memory, never memory safety.
//! File descriptors passed here are owned by the caller's connection state, which by the
//! engine's invariant closes them only after every operation on them has completed.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};

use crate::sys::RawSockAddr;

/// Submission queue entries per ring. Each connection has at most 6 operations in flight
/// (2 recv, 2 send, connect + linked timeout) and the CQ is twice this size with
/// overflow protection from the kernel (`IORING_FEAT_NODROP`), so this bounds batching,
/// not connection count.
pub const RING_ENTRIES: u32 = 4096;

/// Completions reaped per loop turn: bounds the work done between two submissions.
pub const COMPLETIONS_PER_TURN_MAX: usize = 2 * RING_ENTRIES as usize;

/// One reaped completion, copied out of the CQ so the ring can be used while handling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The tag given when the operation was pushed.
    pub user_data: u64,
    /// Result: bytes, fd, 0, or `-errno`.
    pub result: i32,
    /// CQE flags (`IORING_CQE_F_MORE` for multishot).
    pub flags: u32,
}

impl Completion {
    /// Whether a multishot operation stays armed after this completion.
    pub fn more(&self) -> bool {
        io_uring::cqueue::more(self.flags)
    }
}

/// A heap buffer that can be lent to the kernel for one operation at a time.
pub struct IoBuf {
    mem: Box<[u8]>,
    busy: bool,
}

impl IoBuf {
    /// A zeroed buffer of `len` bytes.
    pub fn new(len: usize) -> IoBuf {
        IoBuf {
            mem: vec![0u8; len].into_boxed_slice(),
            busy: false,
        }
    }

    /// Capacity in bytes.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether the buffer has zero capacity.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    /// Whether an operation currently owns the buffer.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Returns ownership after the operation's completion was reaped.
    pub fn complete(&mut self) {
        debug_assert!(self.busy, "completing a buffer no operation owns");
        self.busy = false;
    }

    /// The bytes in `start..end`, if the buffer is idle and the range is in bounds.
    pub fn get(&self, start: usize, end: usize) -> Option<&[u8]> {
        if self.busy {
            return None;
        }
        self.mem.get(start..end)
    }

    /// The bytes in `start..end` for writing, if the buffer is idle and the range is in bounds.
    pub fn get_mut(&mut self, start: usize, end: usize) -> Option<&mut [u8]> {
        if self.busy {
            return None;
        }
        self.mem.get_mut(start..end)
    }

    /// Moves `start..end` to the front (compaction); false if busy or out of bounds.
    pub fn shift_to_front(&mut self, start: usize, end: usize) -> bool {
        if self.busy || start > end || end > self.mem.len() {
            return false;
        }
        self.mem.copy_within(start..end, 0);
        true
    }
}

impl Drop for IoBuf {
    fn drop(&mut self) {
        if self.busy {
            // The kernel may still write here: leak instead of freeing.
            debug_assert!(false, "dropping a buffer an operation owns");
            let mem = std::mem::take(&mut self.mem);
            std::mem::forget(mem);
        }
    }
}

/// One engine thread's io_uring instance.
pub struct Ring {
    ring: IoUring,
    /// Timespecs of linked timeouts pushed since the last submit: the kernel copies them
    /// at submission, so they only need to outlive the next `io_uring_enter`.
    /// Boxed so that growing the Vec never moves a timespec already pointed to.
    #[allow(clippy::vec_box)]
    timespecs: Vec<Box<types::Timespec>>,
    timespecs_used: usize,
}

impl Ring {
    /// Creates a ring owned by the calling thread.
    pub fn new() -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(RING_ENTRIES * 2)
            .build(RING_ENTRIES)?;
        Ok(Ring {
            ring,
            timespecs: Vec::new(),
            timespecs_used: 0,
        })
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        self.push_many(&[entry])
    }

    fn push_many(&mut self, entries: &[squeue::Entry]) -> io::Result<()> {
        let free = {
            let sq = self.ring.submission();
            sq.capacity() - sq.len()
        };
        if free < entries.len() {
            self.submit()?;
        }
        let mut sq = self.ring.submission();
        // SAFETY: each entry's memory (IoBuf, RawSockAddr, timespec) is owned by the caller's
        // connection or by `self.timespecs`, and is kept alive until the completion (the
        // buffer is marked busy by the caller of this function); fds are owned by the caller
        // and closed only after completion (engine invariant, asserted in worker.rs).
        unsafe { sq.push_multiple(entries) }
            .map_err(|_| io::Error::other("submission queue full after submit"))
    }

    /// Submits pending entries without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        loop {
            match self.ring.submit() {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => break,
                Err(e) => return Err(e),
            }
        }
        self.timespecs_used = 0;
        Ok(())
    }

    /// Arms one accept on `listener`; the completion's result is the new fd or `-errno`.
    pub fn accept(&mut self, listener: RawFd, user_data: u64) -> io::Result<()> {
        let e = opcode::Accept::new(types::Fd(listener), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Receives into the whole of `buf`, which stays busy until the completion.
    pub fn recv(&mut self, fd: RawFd, buf: &mut IoBuf, user_data: u64) -> io::Result<()> {
        debug_assert!(!buf.busy, "recv into a busy buffer");
        let len = u32::try_from(buf.mem.len()).unwrap_or(u32::MAX);
        let e = opcode::Recv::new(types::Fd(fd), buf.mem.as_mut_ptr(), len)
            .build()
            .user_data(user_data);
        self.push(e)?;
        buf.busy = true;
        Ok(())
    }

    /// Receives into `buf[offset..]` (appending after bytes already held); the buffer stays
    /// busy until the completion.
    pub fn recv_at(&mut self, fd: RawFd, buf: &mut IoBuf, offset: usize, user_data: u64) -> io::Result<()> {
        debug_assert!(!buf.busy, "recv into a busy buffer");
        let tail = buf
            .mem
            .get_mut(offset..)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "recv offset out of buffer"))?;
        let len = u32::try_from(tail.len()).unwrap_or(u32::MAX);
        let e = opcode::Recv::new(types::Fd(fd), tail.as_mut_ptr(), len)
            .build()
            .user_data(user_data);
        self.push(e)?;
        buf.busy = true;
        Ok(())
    }

    /// Sends `buf[start..end]` (`MSG_NOSIGNAL`); the buffer stays busy until the completion.
    pub fn send(
        &mut self,
        fd: RawFd,
        buf: &mut IoBuf,
        start: usize,
        end: usize,
        user_data: u64,
    ) -> io::Result<()> {
        debug_assert!(!buf.busy, "send from a busy buffer");
        let slice = buf
            .mem
            .get(start..end)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "send range out of buffer"))?;
        let len = u32::try_from(slice.len()).unwrap_or(u32::MAX);
        let e = opcode::Send::new(types::Fd(fd), slice.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data);
        self.push(e)?;
        buf.busy = true;
        Ok(())
    }

    /// Connects `fd` to `addr`, with a linked timeout when `timeout` is given (two
    /// completions then: the connect's and the timeout's, tagged `timeout_user_data`).
    /// `addr` must stay alive and unmoved until the connect completes (boxed by the caller).
    pub fn connect(
        &mut self,
        fd: RawFd,
        addr: &RawSockAddr,
        user_data: u64,
        timeout: Option<(Duration, u64)>,
    ) -> io::Result<()> {
        let connect = opcode::Connect::new(types::Fd(fd), addr.as_ptr(), addr.len())
            .build()
            .user_data(user_data);
        match timeout {
            None => self.push(connect),
            Some((t, timeout_user_data)) => {
                if self.timespecs_used == self.timespecs.len() {
                    self.timespecs.push(Box::new(types::Timespec::new()));
                }
                let ts = types::Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                let slot = self
                    .timespecs
                    .get_mut(self.timespecs_used)
                    .ok_or_else(|| io::Error::other("timespec slot missing"))?;
                **slot = ts;
                let ptr: *const types::Timespec = &**slot;
                self.timespecs_used += 1;
                let link = opcode::LinkTimeout::new(ptr).build().user_data(timeout_user_data);
                self.push_many(&[connect.flags(squeue::Flags::IO_LINK), link])
            }
        }
    }

    /// Cancels every operation in flight on `fd`; its own completion is tagged `user_data`.
    pub fn cancel_fd(&mut self, fd: RawFd, user_data: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all())
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Cancels the operations tagged `target`; its own completion is tagged `user_data`.
    pub fn cancel_user_data(&mut self, target: u64, user_data: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::user_data(target).all())
            .build()
            .user_data(user_data);
        self.push(e)
    }

    /// Reads 8 bytes (an eventfd counter) into `buf`.
    pub fn read_eventfd(&mut self, fd: RawFd, buf: &mut IoBuf, user_data: u64) -> io::Result<()> {
        debug_assert!(!buf.busy && buf.mem.len() >= 8, "eventfd buffer busy or short");
        let e = opcode::Read::new(types::Fd(fd), buf.mem.as_mut_ptr(), 8)
            .build()
            .user_data(user_data);
        self.push(e)?;
        buf.busy = true;
        Ok(())
    }

    /// Submits and waits for at least one completion or `timeout`, then copies out up to
    /// [`COMPLETIONS_PER_TURN_MAX`] completions into `out` (cleared first).
    pub fn wait(&mut self, timeout: Option<Duration>, out: &mut Vec<Completion>) -> io::Result<()> {
        out.clear();
        if self.ring.completion().is_empty() {
            let r = match timeout {
                Some(t) => {
                    let ts = types::Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.submit_and_wait(1),
            };
            match r {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            self.timespecs_used = 0;
        } else {
            self.submit()?;
        }
        let cq = self.ring.completion();
        for cqe in cq.take(COMPLETIONS_PER_TURN_MAX) {
            out.push(Completion {
                user_data: cqe.user_data(),
                result: cqe.result(),
                flags: cqe.flags(),
            });
        }
        Ok(())
    }
}

/// Takes ownership of the fd an accept completion returned; `None` for an error result.
pub fn accepted_fd(result: i32) -> Option<OwnedFd> {
    if result < 0 {
        return None;
    }
    // SAFETY: a non-negative accept result is a new fd the kernel just installed in our
    // table for this completion alone; nothing else refers to it, so we take ownership.
    Some(unsafe { OwnedFd::from_raw_fd(result) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn wait_for(ring: &mut Ring, ud: u64) -> Completion {
        thread_local!(static SEEN: std::cell::RefCell<Vec<Completion>> = const { std::cell::RefCell::new(Vec::new()) });
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        loop {
            let found = SEEN.with(|seen| {
                let mut seen = seen.borrow_mut();
                let i = seen.iter().position(|c| c.user_data == ud)?;
                Some(seen.remove(i))
            });
            if let Some(c) = found {
                return c;
            }
            ring.wait(Some(Duration::from_millis(100)), &mut out)
                .expect("wait");
            SEEN.with(|seen| seen.borrow_mut().extend(out.iter().copied()));
            assert!(std::time::Instant::now() < deadline, "no completion for {ud}");
        }
    }

    #[test]
    fn recv_send_accept_round_trip() {
        let mut ring = Ring::new().expect("ring");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        ring.accept(l.as_raw_fd(), 1).expect("accept");
        let mut c = TcpStream::connect(addr).expect("connect");
        let a = wait_for(&mut ring, 1);
        let fd = accepted_fd(a.result).expect("accepted fd");
        c.write_all(b"hello").expect("write");
        let mut buf = IoBuf::new(64);
        ring.recv(fd.as_raw_fd(), &mut buf, 2).expect("recv");
        assert!(buf.get(0, 5).is_none(), "busy buffer must not be readable");
        let r = wait_for(&mut ring, 2);
        buf.complete();
        assert_eq!(r.result, 5);
        assert_eq!(buf.get(0, 5), Some(&b"hello"[..]));
        ring.send(fd.as_raw_fd(), &mut buf, 0, 5, 3).expect("send");
        assert_eq!(wait_for(&mut ring, 3).result, 5);
        buf.complete();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).expect("read back");
        assert_eq!(&back, b"hello");
        assert!(
            ring.send(fd.as_raw_fd(), &mut buf, 0, 65, 4).is_err(),
            "out of range"
        );
        assert_eq!(accepted_fd(-libc::EAGAIN).map(|_| ()), None);
    }

    #[test]
    fn connect_with_linked_timeout_and_cancel() {
        let mut ring = Ring::new().expect("ring");
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let s = crate::sys::tcp_socket(&addr).expect("socket");
        let raw = RawSockAddr::new(&addr);
        ring.connect(s.as_raw_fd(), &raw, 10, Some((Duration::from_secs(5), 11)))
            .expect("connect");
        assert_eq!(wait_for(&mut ring, 10).result, 0);
        assert_eq!(wait_for(&mut ring, 11).result, -libc::ECANCELED);
        // A pending recv is cancelled by fd.
        let mut buf = IoBuf::new(16);
        ring.recv(s.as_raw_fd(), &mut buf, 12).expect("recv");
        ring.cancel_fd(s.as_raw_fd(), 13).expect("cancel");
        assert_eq!(wait_for(&mut ring, 12).result, -libc::ECANCELED);
        buf.complete();
    }
}
