//! The master <-> worker channel: a unix stream socketpair made at fork time, carrying
//! length-prefixed frames, and the environment that tells a process it is a worker.
//!
//! Frame: `u32` big-endian length (kind byte + payload), one kind byte, the payload.
//! - worker -> master `READY` (empty): the worker's listeners run; the master may now
//!   soft-stop the previous worker.
//! - master -> worker `REQUEST`: `u32` id, one level byte, the command line (UTF-8).
//! - worker -> master `RESPONSE`: `u32` id, the answer text.
//!
//! The worker answers requests in order, one at a time (see [`WorkerLink::serve`]).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use crate::cli::CliLevel;
use crate::sys;

/// Largest frame either side accepts (answers like `show stat` of big configs included).
/// Why: bounds the memory one misbehaving peer can make the other allocate.
pub const FRAME_BYTES_MAX: usize = 16 << 20;

/// Longest command line forwarded to a worker.
/// Why: HAProxy's CLI refuses lines over tune.bufsize (16 KiB); 64 KiB leaves room.
pub const COMMAND_LINE_BYTES_MAX: usize = 64 << 10;

/// How many listening sockets `RINGLB_LISTEN_FDS` may name.
/// Why: same ceiling as the fds a child may inherit.
pub const LISTEN_FDS_MAX: usize = sys::PASS_FDS_MAX;

const _: () = assert!(COMMAND_LINE_BYTES_MAX + 5 < FRAME_BYTES_MAX);

/// Set to `1` in a worker's environment.
pub const ENV_WORKER: &str = "RINGLB_WORKER";
/// `<addr>=<fd>,<addr>=<fd>...`: the inherited listening sockets.
pub const ENV_LISTEN_FDS: &str = "RINGLB_LISTEN_FDS";
/// The fd number of the worker's end of the link.
pub const ENV_MASTER_FD: &str = "RINGLB_MASTER_FD";

const KIND_READY: u8 = 1;
const KIND_REQUEST: u8 = 2;
const KIND_RESPONSE: u8 = 3;

/// A link error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("link frame too large: {len} bytes (max {max})")]
    FrameTooLarge { len: usize, max: usize },
    #[error("link frame of unknown kind {0}")]
    UnknownKind(u8),
    #[error("link frame truncated: {len} bytes")]
    Truncated { len: usize },
    #[error("bad level byte {0}")]
    BadLevel(u8),
    #[error("command is not UTF-8")]
    NotUtf8,
    #[error("bad {var}: {why}")]
    BadEnv { var: &'static str, why: String },
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Ready,
    Request { id: u32, level: CliLevel, line: String },
    Response { id: u32, text: String },
}

fn level_byte(l: CliLevel) -> u8 {
    match l {
        CliLevel::User => 0,
        CliLevel::Operator => 1,
        CliLevel::Admin => 2,
    }
}

fn byte_level(b: u8) -> Result<CliLevel, LinkError> {
    match b {
        0 => Ok(CliLevel::User),
        1 => Ok(CliLevel::Operator),
        2 => Ok(CliLevel::Admin),
        other => Err(LinkError::BadLevel(other)),
    }
}

impl Frame {
    /// The bytes on the wire. Text longer than the frame limit is cut to fit.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            Frame::Ready => body.push(KIND_READY),
            Frame::Request { id, level, line } => {
                body.push(KIND_REQUEST);
                body.extend_from_slice(&id.to_be_bytes());
                body.push(level_byte(*level));
                body.extend_from_slice(&line.as_bytes()[..line.len().min(COMMAND_LINE_BYTES_MAX)]);
            }
            Frame::Response { id, text } => {
                body.push(KIND_RESPONSE);
                body.extend_from_slice(&id.to_be_bytes());
                let room = FRAME_BYTES_MAX - 5;
                body.extend_from_slice(&text.as_bytes()[..text.len().min(room)]);
            }
        }
        debug_assert!(body.len() <= FRAME_BYTES_MAX);
        let mut out = Vec::with_capacity(body.len() + 4);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn decode_body(body: &[u8]) -> Result<Frame, LinkError> {
        let (&kind, rest) = body
            .split_first()
            .ok_or(LinkError::Truncated { len: body.len() })?;
        let id_of = |rest: &[u8]| -> Result<(u32, usize), LinkError> {
            let b: [u8; 4] = rest
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(LinkError::Truncated { len: body.len() })?;
            Ok((u32::from_be_bytes(b), 4))
        };
        match kind {
            KIND_READY => Ok(Frame::Ready),
            KIND_REQUEST => {
                let (id, n) = id_of(rest)?;
                let lvl = *rest.get(n).ok_or(LinkError::Truncated { len: body.len() })?;
                let line = rest.get(n + 1..).unwrap_or_default();
                Ok(Frame::Request {
                    id,
                    level: byte_level(lvl)?,
                    line: String::from_utf8(line.to_vec()).map_err(|_| LinkError::NotUtf8)?,
                })
            }
            KIND_RESPONSE => {
                let (id, n) = id_of(rest)?;
                let text = rest.get(n..).unwrap_or_default();
                Ok(Frame::Response {
                    id,
                    text: String::from_utf8_lossy(text).into_owned(),
                })
            }
            other => Err(LinkError::UnknownKind(other)),
        }
    }
}

/// Incremental decoder for a non-blocking reader (the master side).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, LinkError> {
        let Some(hdr) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        if len > FRAME_BYTES_MAX {
            return Err(LinkError::FrameTooLarge {
                len,
                max: FRAME_BYTES_MAX,
            });
        }
        let Some(body) = self.buf.get(4..4 + len) else {
            return Ok(None);
        };
        let f = Frame::decode_body(body);
        self.buf.drain(..4 + len);
        f.map(Some)
    }
}

/// Reads one frame from a blocking reader; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut hdr = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut hdr[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(hdr) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            LinkError::FrameTooLarge {
                len,
                max: FRAME_BYTES_MAX,
            },
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Frame::decode_body(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The worker's end of the link. Shareable between threads: writes are serialized.
#[derive(Debug)]
pub struct WorkerLink {
    stream: UnixStream,
    write: Mutex<()>,
}

impl WorkerLink {
    /// Wraps the worker's end of the socketpair.
    pub fn new(fd: OwnedFd) -> Self {
        Self {
            stream: UnixStream::from(fd),
            write: Mutex::new(()),
        }
    }

    fn send(&self, f: &Frame) -> io::Result<()> {
        let bytes = f.encode();
        let _g = self.write.lock().unwrap_or_else(|p| p.into_inner());
        (&self.stream).write_all(&bytes)
    }

    /// Tells the master that this worker's listeners run: the master then soft-stops the
    /// previous worker. Call once, when the worker accepts connections.
    pub fn notify_ready(&self) -> io::Result<()> {
        self.send(&Frame::Ready)
    }

    /// Answers the master's forwarded commands until the master goes away (`Ok(())`: the
    /// worker should then stop, as the master is gone). `handler` gets one command line
    /// (which may hold several `;`-separated commands, as on a stats socket) and the
    /// session's level, and returns the whole answer text. Run it in its own thread.
    pub fn serve(&self, mut handler: impl FnMut(&str, CliLevel) -> String) -> io::Result<()> {
        let mut r = &self.stream;
        loop {
            match read_frame(&mut r)? {
                None => return Ok(()),
                Some(Frame::Request { id, level, line }) => {
                    let text = handler(&line, level);
                    self.send(&Frame::Response { id, text })?;
                }
                Some(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unexpected frame from the master",
                    ))
                }
            }
        }
    }
}

/// What a worker inherits from the master.
#[derive(Debug)]
pub struct WorkerEnv {
    /// The listening sockets, bound once by the master (non-blocking, listening).
    pub listen_fds: Vec<(SocketAddr, OwnedFd)>,
    /// The link to the master.
    pub master: WorkerLink,
}

/// Parses `RINGLB_LISTEN_FDS` (`<addr>=<fd>,...`, IPv6 as `[::1]:80`). Pure.
pub fn parse_listen_fds(s: &str) -> Result<Vec<(SocketAddr, i32)>, LinkError> {
    let bad = |why: String| LinkError::BadEnv {
        var: ENV_LISTEN_FDS,
        why,
    };
    let mut out: Vec<(SocketAddr, i32)> = Vec::new();
    for item in s.split(',').filter(|i| !i.is_empty()) {
        if out.len() == LISTEN_FDS_MAX {
            return Err(bad(format!("more than {LISTEN_FDS_MAX} sockets")));
        }
        let (addr, fd) = item
            .rsplit_once('=')
            .ok_or_else(|| bad(format!("'{item}' is not <addr>=<fd>")))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| bad(format!("'{addr}' is not an address")))?;
        let fd: i32 = fd
            .parse()
            .ok()
            .filter(|f| *f >= 3)
            .ok_or_else(|| bad(format!("'{fd}' is not an fd number >= 3")))?;
        if out.iter().any(|(_, f)| *f == fd) {
            return Err(bad(format!("fd {fd} named twice")));
        }
        out.push((addr, fd));
    }
    Ok(out)
}

/// Formats `RINGLB_LISTEN_FDS`.
pub fn format_listen_fds(items: &[(SocketAddr, i32)]) -> String {
    items
        .iter()
        .map(|(a, f)| format!("{a}={f}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// In a worker started by the master: adopts the inherited fds and removes the variables
/// from the environment (call before starting any thread). `Ok(None)` when this process
/// is not a worker.
pub fn worker_env() -> Result<Option<WorkerEnv>, LinkError> {
    if std::env::var_os(ENV_WORKER).is_none() {
        return Ok(None);
    }
    let master_fd: i32 = std::env::var(ENV_MASTER_FD)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(LinkError::BadEnv {
            var: ENV_MASTER_FD,
            why: "missing or not a number".into(),
        })?;
    let listen = parse_listen_fds(&std::env::var(ENV_LISTEN_FDS).unwrap_or_default())?;
    if listen.iter().any(|(_, f)| *f == master_fd) {
        return Err(LinkError::BadEnv {
            var: ENV_MASTER_FD,
            why: format!("fd {master_fd} is also a listener"),
        });
    }
    let adopt = |var: &'static str, fd: i32| {
        sys::adopt_inherited_fd(fd).map_err(|e| LinkError::BadEnv {
            var,
            why: format!("fd {fd}: {e}"),
        })
    };
    let master = WorkerLink::new(adopt(ENV_MASTER_FD, master_fd)?);
    let mut listen_fds = Vec::with_capacity(listen.len());
    for (addr, fd) in listen {
        listen_fds.push((addr, adopt(ENV_LISTEN_FDS, fd)?));
    }
    for v in [ENV_WORKER, ENV_MASTER_FD, ENV_LISTEN_FDS] {
        std::env::remove_var(v);
    }
    Ok(Some(WorkerEnv { listen_fds, master }))
}

/// Worker side: SIGUSR1 from the master (soft stop: stop accepting, finish in-flight
/// requests, close idle keep-alive connections at their next response, exit when drained)
/// sets the returned flag. Poll it from the engine.
pub fn install_soft_stop() -> io::Result<&'static AtomicBool> {
    sys::install_soft_stop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Ready,
            Frame::Request {
                id: 7,
                level: CliLevel::Operator,
                line: "show info; show stat".into(),
            },
            Frame::Request {
                id: u32::MAX,
                level: CliLevel::User,
                line: String::new(),
            },
            Frame::Response {
                id: 1,
                text: "Pid: 42\n".into(),
            },
        ];
        let mut d = Decoder::default();
        let all: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        // Byte by byte: every partial prefix decodes to nothing, never to garbage.
        let mut got = Vec::new();
        for b in &all {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().expect("valid frames") {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        // The blocking reader agrees.
        let mut r = &all[..];
        for f in &frames {
            assert_eq!(read_frame(&mut r).expect("valid").as_ref(), Some(f));
        }
        assert_eq!(read_frame(&mut r).expect("clean eof"), None);
    }

    #[test]
    fn frames_rejected() {
        let cases: &[(&[u8], LinkError)] = &[
            (&[0, 0, 0, 1, 9], LinkError::UnknownKind(9)),
            (&[0, 0, 0, 0], LinkError::Truncated { len: 0 }),
            (&[0, 0, 0, 3, 2, 0, 0], LinkError::Truncated { len: 3 }),
            (&[0, 0, 0, 6, 2, 0, 0, 0, 1, 7], LinkError::BadLevel(7)),
            (&[0, 0, 0, 7, 2, 0, 0, 0, 1, 2, 0xff], LinkError::NotUtf8),
            (
                &[0xff, 0xff, 0xff, 0xff],
                LinkError::FrameTooLarge {
                    len: u32::MAX as usize,
                    max: FRAME_BYTES_MAX,
                },
            ),
        ];
        for (bytes, want) in cases {
            let mut d = Decoder::default();
            d.push(bytes);
            assert_eq!(d.next_frame().as_ref(), Err(want), "{bytes:?}");
        }
        let mut r: &[u8] = &[0, 0, 0, 5, 1];
        assert!(read_frame(&mut r).is_err(), "truncated body");
    }

    #[test]
    fn long_lines_are_cut() {
        let f = Frame::Request {
            id: 1,
            level: CliLevel::Admin,
            line: "x".repeat(COMMAND_LINE_BYTES_MAX + 10),
        };
        let mut d = Decoder::default();
        d.push(&f.encode());
        match d.next_frame() {
            Ok(Some(Frame::Request { line, .. })) => assert_eq!(line.len(), COMMAND_LINE_BYTES_MAX),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listen_fds_env() {
        let ok = parse_listen_fds("127.0.0.1:80=5,[::1]:443=6").expect("valid");
        assert_eq!(
            ok,
            vec![
                ("127.0.0.1:80".parse().expect("literal"), 5),
                ("[::1]:443".parse().expect("literal"), 6)
            ]
        );
        assert_eq!(parse_listen_fds(&format_listen_fds(&ok)).expect("valid"), ok);
        assert_eq!(parse_listen_fds("").expect("empty is fine"), vec![]);
        for bad in [
            "127.0.0.1:80",
            "127.0.0.1:80=x",
            "127.0.0.1:80=2",
            "nothing=5",
            "127.0.0.1:80=5,127.0.0.1:81=5",
            "127.0.0.1:80=-1",
        ] {
            assert!(parse_listen_fds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serve_answers_in_order_and_stops_at_eof() {
        let (m, w) = UnixStream::pair().expect("socketpair");
        let link = WorkerLink::new(OwnedFd::from(w));
        let t = std::thread::spawn(move || {
            link.notify_ready().expect("ready");
            link.serve(|line, lvl| format!("{line}:{}\n", lvl.as_str()))
        });
        let mut m2 = m.try_clone().expect("clone");
        assert_eq!(read_frame(&mut m2).expect("frame"), Some(Frame::Ready));
        for i in 0..3u32 {
            (&m).write_all(
                &Frame::Request {
                    id: i,
                    level: CliLevel::User,
                    line: format!("c{i}"),
                }
                .encode(),
            )
            .expect("write");
        }
        for i in 0..3u32 {
            assert_eq!(
                read_frame(&mut m2).expect("frame"),
                Some(Frame::Response {
                    id: i,
                    text: format!("c{i}:user\n")
                })
            );
        }
        drop(m);
        drop(m2);
        assert!(t.join().expect("no panic").is_ok());
    }
}
