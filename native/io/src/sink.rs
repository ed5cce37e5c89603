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

/// Alignment of direct writes: a page, which covers every logical block size in use.
const BLOCK: usize = 4096;

/// Writes to a regular file with `O_DIRECT`: whole aligned blocks straight to the disk, never
/// through the page cache. On this 2-core machine, putting 1.6 GB into the page cache cost
/// 1.5-2.3 s of kernel CPU against 0.6 s direct (dd, measured), CPU the encoders need. The last,
/// partial block is written after `O_DIRECT` is turned off again. Where the filesystem refuses
/// `O_DIRECT` (tmpfs, some network filesystems) this is a plain buffered writer.
#[derive(Debug)]
pub struct DirectFile {
    out: FdSink,
    /// `BUFFER + BLOCK` bytes, of which `[start, start + BUFFER)` is block-aligned.
    raw: Vec<u8>,
    start: usize,
    len: usize,
    direct: bool,
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
    pub fn new(fd: RawFd) -> Self {
        let raw = vec![0u8; BUFFER + BLOCK];
        let start = raw.as_ptr().align_offset(BLOCK);
        DirectFile {
            out: FdSink::new(fd),
            raw,
            start,
            len: 0,
            direct: set_direct(fd, true),
        }
    }

    /// Writes out every whole block buffered; keeps the partial one.
    fn write_blocks(&mut self) -> io::Result<()> {
        let whole = if self.direct {
            self.len - self.len % BLOCK
        } else {
            self.len
        };
        let mut done = 0;
        while done < whole {
            let buf = &self.raw[self.start + done..self.start + whole];
            let n = match self.out.write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                // A direct write refused for its shape: go on through the page cache.
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    self.stop_direct();
                    continue;
                }
                Err(e) => return Err(e),
            };
            done += n;
            if self.direct && done % BLOCK != 0 {
                self.stop_direct(); // a short write left the rest unaligned
            }
        }
        self.raw
            .copy_within(self.start + done..self.start + self.len, self.start);
        self.len -= done;
        Ok(())
    }

    fn stop_direct(&mut self) {
        set_direct(self.out.fd, false);
        self.direct = false;
    }

    /// Writes everything, the partial last block included, and leaves the descriptor as it was
    /// (without `O_DIRECT`), for the file to be read back through it.
    pub fn finish(&mut self) -> io::Result<()> {
        self.write_blocks()?;
        if self.direct {
            self.stop_direct();
        }
        self.write_blocks()
    }
}

impl Write for DirectFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.len == BUFFER {
            self.write_blocks()?;
        }
        let n = buf.len().min(BUFFER - self.len);
        let at = self.start + self.len;
        self.raw[at..at + n].copy_from_slice(&buf[..n]);
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

/// `direct`: the descriptor is a regular file to write with `O_DIRECT` where possible.
pub fn sink(fd: RawFd, hold: bool, direct: bool) -> Sink {
    let out = if direct {
        Out::Direct(DirectFile::new(fd))
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
        for dir in [
            std::env::temp_dir(),
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        ] {
            let mut file = tempfile::tempfile_in(&dir).unwrap();
            let mut sink = sink(file.as_raw_fd(), false, true);
            let mut want = Vec::new();
            for (i, size) in [1usize, 4095, 4096, 4097, 3 << 20, 9 << 20, 17]
                .into_iter()
                .enumerate()
            {
                let chunk: Vec<u8> = (0..size).map(|j| (i * 31 + j * 7) as u8).collect();
                sink.write_all(&chunk).unwrap();
                sink.flush().unwrap();
                want.extend_from_slice(&chunk);
            }
            assert_eq!(close(sink).unwrap(), want.len() as u64);
            let mut got = Vec::new();
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut got).unwrap();
            assert!(
                got == want,
                "{} bytes differ in {}",
                want.len(),
                dir.display()
            );
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
