//! The bytes of a delimited-text input: a file or stdin, decompressed when they are gzip or
//! zstd (told by their first bytes, whatever the name says), counted as they are read so progress
//! can be shown for input of unknown length.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
        Packing::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 20, counted),
        )),
        Packing::Zstd => Box::new(zstd::stream::read::Decoder::new(counted)?),
    })
}

/// Reads a descriptor it does not own (stdin), waiting when it is non-blocking (Node may have
/// made it so) instead of failing with `EAGAIN`.
pub struct FdReader(pub std::os::fd::RawFd);

impl Read for FdReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes; a bad descriptor is an error return.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => {
                    let mut pfd = libc::pollfd {
                        fd: self.0,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd, count 1.
                    unsafe { libc::poll(&mut pfd, 1, -1) };
                }
                _ => return Err(e),
            }
        }
    }
}

pub fn stdin() -> Box<dyn Read + Send> {
    Box::new(FdReader(0))
}

pub fn file(f: File) -> Box<dyn Read + Send> {
    Box::new(f)
}
