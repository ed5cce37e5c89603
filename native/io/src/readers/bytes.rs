//! The bytes of a delimited-text input: a file or stdin, decompressed when they are gzip or
//! zstd (told by their first bytes, whatever the name says), counted as they are read so progress
//! can be shown for input of unknown length.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

pub const GZIP: &[u8] = &[0x1f, 0x8b];
pub const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
pub const PARQUET: &[u8] = b"PAR1";

/// How the bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Plain,
    Gzip,
    Zstd,
}

pub fn packing(head: &[u8]) -> Packing {
    if head.starts_with(GZIP) {
        Packing::Gzip
    } else if head.starts_with(ZSTD) {
        Packing::Zstd
    } else {
        Packing::Plain
    }
}

/// Counts the bytes read from the source (before decompression) in a shared counter.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A reader with its first bytes put back in front, after they were looked at.
pub struct Peeked<R> {
    head: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: Read> Peeked<R> {
    /// Reads up to `n` bytes ahead (fewer only at the end of the input).
    pub fn new(mut inner: R, n: usize) -> io::Result<Self> {
        let mut head = vec![0; n];
        let mut got = 0;
        while got < n {
            match inner.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        head.truncate(got);
        Ok(Peeked { head, at: 0, inner })
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let n = buf.len().min(self.head.len() - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// The decompressed bytes of `source` (whose head was peeked), counting the raw bytes read.
pub fn unpacked(
    source: Peeked<Box<dyn Read + Send>>,
    read: Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    let kind = packing(source.head());
    let counted = Counted {
        inner: source,
        read,
    };
    Ok(match kind {
        Packing::Plain => Box::new(counted),
        // Multi-member: `cat a.gz b.gz` is one valid gzip stream, as gunzip reads it.
        // Decompressed on a thread of its own, while the parser works on what came before.
        Packing::Gzip => Box::new(ReadAhead::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 20, counted),
        ))?),
        Packing::Zstd => Box::new(ReadAhead::new(zstd::stream::read::Decoder::new(counted)?)?),
    })
}

/// Bytes a read-ahead thread reads per piece, and pieces it may be ahead.
const AHEAD_PIECE: usize = 1 << 20;
const AHEAD_DEPTH: usize = 4;

/// Reads `inner` on a thread of its own, up to [`AHEAD_DEPTH`] pieces ahead of the caller, so that
/// decompressing and parsing run on two cores. The pieces come back in order; an error comes
/// back where it happened.
struct ReadAhead {
    pieces: Receiver<io::Result<Vec<u8>>>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl ReadAhead {
    fn new(mut inner: impl Read + Send + 'static) -> io::Result<Self> {
        let (send, pieces) = sync_channel::<io::Result<Vec<u8>>>(AHEAD_DEPTH);
        let (recycle, spare) = sync_channel::<Vec<u8>>(AHEAD_DEPTH + 1);
        std::thread::Builder::new()
            .name("trendflex-inflate".into())
            .spawn(move || {
                let send_panic = send.clone();
                let run = std::panic::AssertUnwindSafe(move || {
                    loop {
                        let mut buf = spare.try_recv().unwrap_or_default();
                        buf.resize(AHEAD_PIECE, 0);
                        let n = loop {
                            match inner.read(&mut buf) {
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                other => break other,
                            }
                        };
                        let last = !matches!(n, Ok(k) if k > 0);
                        let piece = n.map(|k| {
                            buf.truncate(k);
                            buf
                        });
                        // The reader went away (an error elsewhere): stop.
                        if send.send(piece).is_err() || last {
                            return;
                        }
                    }
                });
                // A decoder that panicked (a bug) is an error, not a quiet end of the input.
                if std::panic::catch_unwind(run).is_err() {
                    let _ = send_panic.send(Err(io::Error::other(
                        "the decompressing thread panicked (a bug in trendflex: please report it)",
                    )));
                }
            })?;
        Ok(ReadAhead {
            pieces,
            recycle,
            current: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            let next = match self.pieces.recv() {
                Ok(piece) => piece?,
                Err(_) => Vec::new(), // the thread ended after the last piece
            };
            if next.is_empty() {
                self.done = true;
                return Ok(0);
            }
            let used = std::mem::replace(&mut self.current, next);
            let _ = self.recycle.try_send(used);
            self.at = 0;
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// An eventfd that, once written, makes every wait for input in this process end: see
/// [`cancel_reads`]. Made on first use; -1 if the system refused one (then reads just wait).
fn cancel_fd() -> RawFd {
    static FD: OnceLock<RawFd> = OnceLock::new();
    // SAFETY: eventfd with valid flags; failure is a return value (-1).
    *FD.get_or_init(|| unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
}

/// What a read returns once [`cancel_reads`] was called: not the end of the input (a line half
/// read is not a row), but a stop. See [`is_cancelled`].
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading was stopped (a signal)")
    }
}

impl std::error::Error for Cancelled {}

/// Set once [`cancel_reads`] was called: a job stops at its next chunk.
static CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True once [`cancel_reads`] was called (a signal): whoever loops over chunks stops.
pub fn reads_cancelled() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

/// True for the error of a read that [`cancel_reads`] stopped.
pub fn is_cancelled(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Cancelled>())
}

/// Ends every wait for input, now and later: waiting reads of stdin, FIFOs and sockets return
/// the [`is_cancelled`] error. For a process that is about to exit (Ctrl-C), whose exit would
/// otherwise wait for a worker thread blocked on a feed that sends nothing.
pub fn cancel_reads() {
    CANCELLED.store(true, Ordering::Relaxed);
    let fd = cancel_fd();
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd; failure is ignored (the
        // counter is already set, or the fd is gone).
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Reads a descriptor that may wait (stdin, a FIFO, a socket): waits in `poll` (also when Node
/// made it non-blocking, instead of failing with `EAGAIN`), alongside the cancel eventfd, so that
/// [`cancel_reads`] can end the wait. `owned` keeps a file open for as long as the reader lives.
pub struct FdReader {
    fd: RawFd,
    _owned: Option<File>,
}

impl Read for FdReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cancel = cancel_fd();
        loop {
            let mut pfd = [
                libc::pollfd {
                    fd: self.fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: cancel,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let count = if cancel >= 0 { 2 } else { 1 };
            // SAFETY: `pfd` holds `count` valid, initialised pollfds.
            let r = unsafe { libc::poll(pfd.as_mut_ptr(), count, -1) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if count == 2 && pfd[1].revents != 0 {
                return Err(io::Error::other(Cancelled));
            }
            if pfd[0].revents == 0 {
                continue;
            }
            // SAFETY: `buf` is valid for `buf.len()` bytes; a bad descriptor is an error return.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => {}
                _ => return Err(e),
            }
        }
    }
}

pub fn stdin() -> Box<dyn Read + Send> {
    Box::new(FdReader {
        fd: 0,
        _owned: None,
    })
}

/// A named input: read directly when it is a regular file, through the waiting, cancellable
/// reader when it is a FIFO, a socket or a device.
pub fn file(f: File) -> Box<dyn Read + Send> {
    if f.metadata().is_ok_and(|m| m.is_file()) {
        return Box::new(f);
    }
    Box::new(FdReader {
        fd: f.as_raw_fd(),
        _owned: Some(f),
    })
}
