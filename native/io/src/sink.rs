//! Where encoded bytes go: a file descriptor the caller opened and will close (a temporary file,
//! a FIFO, a device, stdout), behind a gate that can hold everything back until the caller knows
//! the output is good (stdout must stay empty when a run fails for lack of data).

use std::io::{self, Write};
use std::os::fd::RawFd;

/// Writes to a borrowed file descriptor: never closes it, retries interrupted writes, and waits
/// on a descriptor that is non-blocking (Node makes piped stdout non-blocking) instead of
/// failing with `EAGAIN`.
#[derive(Debug)]
pub struct FdSink {
    fd: RawFd,
}

impl FdSink {
    /// A sink over `fd`, which must stay open for as long as the sink is used.
    pub fn new(fd: RawFd) -> Self {
        FdSink { fd }
    }

    fn wait_writable(&self) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        loop {
            // SAFETY: `pfd` is one valid, initialised pollfd and the count passed is 1.
            let r = unsafe { libc::poll(&mut pfd, 1, -1) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Write for FdSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Linux writes at most 0x7ffff000 bytes per call anyway.
        let len = buf.len().min(1 << 30);
        loop {
            // SAFETY: `buf` is valid for `len` bytes; a bad descriptor is reported as EBADF,
            // never undefined behaviour.
            let n = unsafe { libc::write(self.fd, buf.as_ptr().cast(), len) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => self.wait_writable()?,
                _ => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts the bytes that reach the inner writer and, while closed, holds them in memory; while
/// capturing, keeps them aside for the caller to rewrite (a Parquet footer).
#[derive(Debug)]
pub struct Gate<W: Write> {
    inner: W,
    held: Option<Vec<u8>>,
    captured: Option<Vec<u8>>,
    bytes: u64,
}

impl<W: Write> Gate<W> {
    /// `hold`: keep everything in memory until [`Gate::open`].
    pub fn new(inner: W, hold: bool) -> Self {
        Gate {
            inner,
            held: hold.then(Vec::new),
            captured: None,
            bytes: 0,
        }
    }

    /// Keeps every later byte aside until [`Gate::take_captured`].
    pub fn capture(&mut self) {
        self.captured = Some(Vec::new());
    }

    /// The bytes kept aside since [`Gate::capture`]; later bytes flow as before.
    pub fn take_captured(&mut self) -> Vec<u8> {
        self.captured.take().unwrap_or_default()
    }

    /// Lets held and later bytes through.
    pub fn open(&mut self) -> io::Result<()> {
        if let Some(held) = self.held.take() {
            self.inner.write_all(&held)?;
            self.bytes += held.len() as u64;
        }
        Ok(())
    }

    /// Bytes that went through to the inner writer.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(captured) = &mut self.captured {
            captured.extend_from_slice(buf);
            return Ok(buf.len());
        }
        if let Some(held) = &mut self.held {
            held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match (&self.captured, &self.held) {
            (None, None) => self.inner.flush(),
            _ => Ok(()),
        }
    }
}

/// Bytes between the encoders' many small writes and the descriptor.
const BUFFER: usize = 8 << 20;

/// A Parquet file's direct buffers once it has taken [`GROW_AFTER`] bytes. Its row groups come
/// in bursts (100 MB of the headline grid's 1.8 GB at once, then the next one encoded): two
/// buffers of 8 MB kept the disk at most 16 MB ahead, so it waited for the next row group while
/// the encoders waited for it. With 24 MB the grid took 0.92 of the time (10 rounds,
/// alternated; 16 MB 1.08 of 24, 32 and 48 MB no less; peak RSS 387 MB against 373). A CSV
/// comes evenly, and took 1.02 of the time with them, and 29 MB more memory.
const LARGE_BUFFER: usize = 24 << 20;

/// Bytes a direct file takes with [`BUFFER`]-sized buffers: a small output (39 MB for one
/// period of 1M rows) holds no more memory than it did.
const GROW_AFTER: u64 = 64 << 20;

/// Alignment of direct writes: a page, which covers every logical block size in use.
const BLOCK: usize = 4096;

/// Writes to a regular file with `O_DIRECT`: whole aligned blocks straight to the disk, never
/// through the page cache. On this 2-core machine, putting 1.6 GB into the page cache cost
/// 1.5-2.3 s of kernel CPU against 0.6 s direct (dd, measured), CPU the encoders need. A direct
/// write waits for the disk, so full buffers go to a thread of their own while the next one fills:
/// the copies into the buffer (0.4 s of the headline grid's 1.8 GB) no longer wait behind the disk
/// (1.3 s). The last, partial block is written after `O_DIRECT` is turned off again. Where the
/// filesystem refuses `O_DIRECT` (tmpfs, some network filesystems) this is a plain buffered
/// writer.
#[derive(Debug)]
pub struct DirectFile {
    fd: RawFd,
    /// The buffer being filled, and its bytes so far.
    buf: Blocks,
    len: usize,
    direct: bool,
    /// The thread writing full buffers (`None` when not direct, or once finished).
    disk: Option<Disk>,
    /// A second buffer, until the first goes to the disk thread.
    spare: Option<Blocks>,
    /// The error that stopped the disk thread, said again to every later call.
    failed: Option<(io::ErrorKind, Option<i32>, String)>,
    /// Bytes handed to the disk thread so far.
    handed: u64,
    /// Buffers grow to [`LARGE_BUFFER`] after [`GROW_AFTER`] bytes.
    grow: bool,
}

/// `size` bytes at a block-aligned address.
#[derive(Debug)]
struct Blocks {
    /// `size + BLOCK` bytes, of which `[start, start + size)` is block-aligned.
    raw: Vec<u8>,
    start: usize,
    size: usize,
}

impl Blocks {
    fn new(size: usize) -> Self {
        let raw = vec![0u8; size + BLOCK];
        let start = raw.as_ptr().align_offset(BLOCK);
        Blocks { raw, start, size }
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.size]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.size]
    }
}

/// The disk thread: takes a buffer and how many of its bytes to write (whole blocks), gives the
/// buffer back once they are written, or the error that stopped it.
#[derive(Debug)]
struct Disk {
    to: std::sync::mpsc::SyncSender<(Blocks, usize)>,
    back: std::sync::mpsc::Receiver<io::Result<Blocks>>,
    thread: std::thread::JoinHandle<()>,
    in_flight: usize,
}

impl Disk {
    fn start(fd: RawFd) -> Option<Disk> {
        let (to, jobs) = std::sync::mpsc::sync_channel::<(Blocks, usize)>(1);
        let (done, back) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("trendflex-disk".into())
            .spawn(move || {
                let mut out = FdSink::new(fd);
                let mut direct = true;
                for (blocks, len) in jobs {
                    let written = write_all(&mut out, &blocks.bytes()[..len], &mut direct);
                    let failed = written.is_err();
                    if done.send(written.map(|()| blocks)).is_err() || failed {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Disk {
            to,
            back,
            thread,
            in_flight: 0,
        })
    }

    /// The next buffer the thread has written out, or its error.
    fn returned(&mut self) -> io::Result<Blocks> {
        if self.in_flight == 0 {
            return Err(io::Error::other(
                "the disk writer has no buffer to give back",
            ));
        }
        self.in_flight -= 1;
        self.back
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the disk writer stopped")))
    }

    /// Waits until everything handed over is written; the first error if any.
    fn end(mut self) -> io::Result<()> {
        let mut first = Ok(());
        while self.in_flight > 0 {
            if let Err(e) = self.returned() {
                first = first.and(Err(e));
                break;
            }
        }
        drop(self.to);
        let _ = self.thread.join();
        first
    }
}

/// Writes all of `buf`; a direct write refused for its shape, or a short one that leaves the rest
/// unaligned, goes on through the page cache.
fn write_all(out: &mut FdSink, buf: &[u8], direct: &mut bool) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match out.write(&buf[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                if *direct && done % BLOCK != 0 {
                    *direct = !set_direct(out.fd, false);
                }
            }
            Err(e) if *direct && e.raw_os_error() == Some(libc::EINVAL) => {
                set_direct(out.fd, false);
                *direct = false;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_direct(fd: RawFd, on: bool) -> bool {
    // SAFETY: fcntl on a descriptor with integer arguments; a bad descriptor is an error return.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let flags = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, flags) == 0
    }
}

impl DirectFile {
    /// `grow`: the output comes in bursts (Parquet row groups); see [`LARGE_BUFFER`].
    pub fn new(fd: RawFd, grow: bool) -> Self {
        let direct = set_direct(fd, true);
        let disk = if direct { Disk::start(fd) } else { None };
        DirectFile {
            fd,
            buf: Blocks::new(BUFFER),
            len: 0,
            direct,
            spare: disk.as_ref().map(|_| Blocks::new(BUFFER)),
            handed: 0,
            grow,
            disk,
            failed: None,
        }
    }

    /// The disk thread's error, kept to be said again.
    fn failed(&mut self, e: io::Error) -> io::Error {
        self.failed = Some((e.kind(), e.raw_os_error(), e.to_string()));
        e
    }

    /// The error the disk thread stopped on, if it did.
    fn stopped(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some((_, Some(code), _)) => Err(io::Error::from_raw_os_error(*code)),
            Some((kind, None, message)) => Err(io::Error::new(*kind, message.clone())),
        }
    }

    /// Writes out every whole block buffered (all of it when not direct); keeps the partial one.
    fn write_blocks(&mut self) -> io::Result<()> {
        self.stopped()?;
        let whole = if self.direct {
            self.len - self.len % BLOCK
        } else {
            self.len
        };
        if whole == 0 {
            return Ok(());
        }
        match self.disk.as_mut() {
            Some(disk) => {
                // The other buffer: still spare, or back from the thread once written.
                let mut next = match self.spare.take() {
                    Some(b) => b,
                    None => match disk.returned() {
                        Ok(b) => b,
                        Err(e) => return Err(self.failed(e)),
                    },
                };
                // Past `GROW_AFTER`, a larger buffer in place of the one back (freed here).
                if self.grow && self.handed >= GROW_AFTER && next.size < LARGE_BUFFER {
                    next = Blocks::new(LARGE_BUFFER);
                }
                next.bytes_mut()[..self.len - whole]
                    .copy_from_slice(&self.buf.bytes()[whole..self.len]);
                let full = std::mem::replace(&mut self.buf, next);
                if disk.to.send((full, whole)).is_err() {
                    // The thread stopped on an error: it is waiting in the channel back.
                    let e = disk
                        .returned()
                        .err()
                        .unwrap_or_else(|| io::Error::other("the disk writer stopped"));
                    return Err(self.failed(e));
                }
                disk.in_flight += 1;
                self.handed += whole as u64;
            }
            None => {
                let mut out = FdSink::new(self.fd);
                write_all(&mut out, &self.buf.bytes()[..whole], &mut self.direct)?;
                self.buf.bytes_mut().copy_within(whole..self.len, 0);
            }
        }
        self.len -= whole;
        Ok(())
    }

    /// Writes everything, the partial last block included, and leaves the descriptor as it was
    /// (without `O_DIRECT`), for the file to be read back through it.
    pub fn finish(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if let Some(disk) = self.disk.take()
            && let Err(e) = disk.end()
        {
            return Err(self.failed(e));
        }
        if self.direct {
            set_direct(self.fd, false);
            self.direct = false;
        }
        self.write_blocks()
    }
}

impl Drop for DirectFile {
    /// Abandoned (an error elsewhere): the disk thread finishes what it has and stops before the
    /// caller closes the descriptor.
    fn drop(&mut self) {
        if let Some(disk) = self.disk.take() {
            let _ = disk.end();
        }
    }
}

impl Write for DirectFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.len == self.buf.size {
            self.write_blocks()?;
        }
        let n = buf.len().min(self.buf.size - self.len);
        self.buf.bytes_mut()[self.len..self.len + n].copy_from_slice(&buf[..n]);
        self.len += n;
        Ok(n)
    }

    /// Direct writes go out in whole blocks only: the rest waits for more, or for `finish`.
    fn flush(&mut self) -> io::Result<()> {
        if self.len >= BLOCK {
            self.write_blocks()?;
        }
        Ok(())
    }
}

/// The descriptor end of a sink: through a buffer, or direct to the disk.
#[derive(Debug)]
pub enum Out {
    Buffered(io::BufWriter<FdSink>),
    Direct(DirectFile),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Buffered(w) => w.write(buf),
            Out::Direct(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Buffered(w) => w.flush(),
            Out::Direct(w) => w.flush(),
        }
    }
}

/// The writer every format encodes into: gated, buffered, over the caller's descriptor.
pub type Sink = Gate<Out>;

/// `direct`: the descriptor is a regular file to write with `O_DIRECT` where possible;
/// `bursts`: what is written comes in large bursts (Parquet row groups; see [`LARGE_BUFFER`]).
pub fn sink(fd: RawFd, hold: bool, direct: bool, bursts: bool) -> Sink {
    let out = if direct {
        Out::Direct(DirectFile::new(fd, bursts))
    } else {
        // A pipe of 1 MiB instead of 64 KiB: far fewer switches between us and the reader. An
        // error (not a pipe, over the system's limit) leaves it as it was.
        // SAFETY: fcntl with an integer argument on a descriptor; failure is a return value.
        unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
        Out::Buffered(io::BufWriter::with_capacity(BUFFER, FdSink::new(fd)))
    };
    Gate::new(out, hold)
}

/// Lets what the sink held back, and everything after, through.
pub fn open(sink: &mut Sink) -> io::Result<()> {
    sink.open()
}

/// Writes everything out and returns the bytes that reached the descriptor.
pub fn close(mut sink: Sink) -> io::Result<u64> {
    sink.open()?;
    match &mut sink.inner {
        Out::Buffered(w) => w.flush()?,
        Out::Direct(w) => w.finish()?,
    }
    Ok(sink.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_holds_until_opened_and_counts_what_passes() {
        use std::io::Write;
        let mut g = Gate::new(Vec::new(), true);
        g.write_all(b"abc").unwrap();
        assert!(g.inner.is_empty());
        assert_eq!(g.bytes(), 0);
        g.open().unwrap();
        g.write_all(b"de").unwrap();
        assert_eq!(g.inner, b"abcde");
        assert_eq!(g.bytes(), 5);
    }

    #[test]
    fn captured_bytes_are_kept_aside_then_flow_again() {
        let mut g = Gate::new(Vec::new(), false);
        g.write_all(b"ab").unwrap();
        g.capture();
        g.write_all(b"cd").unwrap();
        assert_eq!(g.take_captured(), b"cd");
        g.write_all(b"ef").unwrap();
        assert_eq!(g.inner, b"abef");
    }

    #[test]
    fn an_open_gate_passes_through() {
        let mut g = Gate::new(Vec::new(), false);
        g.write_all(b"xyz").unwrap();
        assert_eq!(g.inner, b"xyz");
    }

    #[test]
    fn direct_files_hold_exactly_what_was_written_whatever_the_sizes() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        // Wherever the tests run: O_DIRECT where the filesystem takes it, the fallback elsewhere.
        let dirs = [
            std::env::temp_dir(),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        ];
        // Buffers handed to the disk thread full, by a flush mid-block, and several in a row
        // without a flush in between; in bursts, on past the size where the buffers grow.
        let small = [1usize, 4095, 4096, 4097, 3 << 20, 9 << 20, 17, 21 << 20, 5];
        let past_growth = [
            (GROW_AFTER as usize) - (30 << 20),
            LARGE_BUFFER + 4097,
            13,
            50 << 20,
        ];
        for (dir, bursts) in dirs.iter().flat_map(|d| [(d, false), (d, true)]) {
            let mut file = tempfile::tempfile_in(dir).unwrap();
            let mut sink = sink(file.as_raw_fd(), false, true, bursts);
            let mut want = Vec::new();
            let sizes = small
                .iter()
                .chain(if bursts { &past_growth[..] } else { &[] });
            for (i, &size) in sizes.enumerate() {
                let chunk: Vec<u8> = (0..size).map(|j| (i * 31 + j * 7) as u8).collect();
                sink.write_all(&chunk).unwrap();
                if i % 3 != 2 {
                    sink.flush().unwrap();
                }
                want.extend_from_slice(&chunk);
            }
            assert_eq!(close(sink).unwrap(), want.len() as u64);
            let mut got = Vec::new();
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut got).unwrap();
            assert!(
                got == want,
                "{} bytes differ in {} (bursts: {bursts})",
                want.len(),
                dir.display()
            );
        }
    }

    #[test]
    fn a_direct_file_that_cannot_be_written_is_an_error_not_a_hang() {
        use std::os::fd::AsRawFd;
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let file = tempfile::NamedTempFile::new_in(dir).unwrap();
        // Open for reading only: every write fails (EBADF), on the disk thread or not.
        let read_only = std::fs::File::open(file.path()).unwrap();
        let mut sink = sink(read_only.as_raw_fd(), false, true, true);
        let chunk = vec![7u8; 3 << 20];
        let mut failed = false;
        for _ in 0..8 {
            if sink.write_all(&chunk).is_err() {
                failed = true;
                break;
            }
        }
        let closed = close(sink);
        assert!(
            failed || closed.is_err(),
            "a write that never happened was reported"
        );
        if let Err(e) = closed {
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        }
    }

    #[test]
    fn a_closed_descriptor_is_an_os_error_not_a_crash() {
        let mut s = FdSink::new(-1);
        let e = s.write(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn writes_reach_a_pipe_and_a_closed_reader_is_a_broken_pipe() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut s = FdSink::new(fds[1]);
        s.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        // SAFETY: `buf` has room for 5 bytes.
        assert_eq!(unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 5) }, 5);
        assert_eq!(&buf, b"hello");
        // SAFETY: closing the read end we own. SIGPIPE is ignored so the write fails instead.
        unsafe {
            libc::close(fds[0]);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        assert_eq!(s.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        // SAFETY: closing the write end we own.
        unsafe { libc::close(fds[1]) };
    }
}
