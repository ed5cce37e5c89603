//! A thread that owns a sink and writes the buffers it is sent, in order, handing each back for
//! reuse, so that formatting the next rows goes on while these reach the file.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::Error;
use crate::sink::{self, Sink};

/// Buffers on their way to the file at most (each a block of formatted rows, some MB).
const DEPTH: usize = 8;

enum Job {
    Write(Vec<u8>),
    /// Let what the sink holds back through.
    Open,
    /// Push everything written so far to the descriptor (a live feed's rows, at once).
    Flush,
    /// Write everything out and stop (otherwise the output is abandoned).
    Finish,
}

pub struct Spool {
    to: Option<SyncSender<Job>>,
    back: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Result<u64, Error>>>,
}

impl Spool {
    pub fn new(mut out: Sink) -> Result<Self, Error> {
        let (to, jobs) = sync_channel::<Job>(DEPTH);
        let (recycle, back) = sync_channel::<Vec<u8>>(DEPTH);
        let thread = std::thread::Builder::new()
            .name("trendflex-spool".into())
            .spawn(move || {
                for job in jobs {
                    match job {
                        Job::Write(buf) => {
                            out.write_all(&buf)?;
                            let _ = recycle.try_send(buf);
                        }
                        Job::Open => sink::open(&mut out)?,
                        Job::Flush => out.flush()?,
                        Job::Finish => return Ok(sink::close(out)?),
                    }
                }
                Ok(0) // abandoned: what the gate holds is dropped unwritten
            })?;
        Ok(Spool {
            to: Some(to),
            back,
            thread: Some(thread),
        })
    }

    /// An empty buffer: one the thread is done with, or a new one.
    pub fn buffer(&self) -> Vec<u8> {
        let mut buf = self.back.try_recv().unwrap_or_default();
        buf.clear();
        buf
    }

    pub fn write(&mut self, buf: Vec<u8>) -> Result<(), Error> {
        self.send(Job::Write(buf))
    }

    pub fn open(&mut self) -> Result<(), Error> {
        self.send(Job::Open)
    }

    /// Has the thread push everything sent so far to the descriptor, after writing it.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.send(Job::Flush)
    }

    fn send(&mut self, job: Job) -> Result<(), Error> {
        if self.to.as_ref().is_some_and(|to| to.send(job).is_ok()) {
            return Ok(());
        }
        // The thread stopped: it failed, and its error is the one to report.
        self.to = None;
        self.join()
            .and(Err(Error::Io(std::io::ErrorKind::BrokenPipe.into())))
    }

    fn join(&mut self) -> Result<u64, Error> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|p| {
                Err(Error::Arrow(crate::error::panicked(
                    "the writing thread",
                    p,
                )))
            }),
            None => Ok(0),
        }
    }

    /// Writes everything out; returns the bytes that reached the descriptor.
    pub fn finish(mut self) -> Result<u64, Error> {
        self.send(Job::Finish)?;
        self.to = None;
        self.join()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Abandoned after an error elsewhere: let the thread drain and stop.
        self.to = None;
        let _ = self.join();
    }
}
