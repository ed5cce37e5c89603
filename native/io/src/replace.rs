//! Moving a finished temporary file over its target in one atomic step.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Moves `temp` to `target`, replacing what is there atomically.
///
/// When `target` exists, the two are exchanged (`renameat2` with `RENAME_EXCHANGE`) and the old
/// content, now under `temp`, is removed (see [`remove_old`]). A plain rename over an existing
/// file makes ext4 start writing the new file back at once (its `auto_da_alloc` guard for programs
/// that never fsync): measured here, 1.1 s for a 1.5 GB file, against 0.4 s exchanged and
/// unlinked. Where the exchange is not supported (another OS, an older kernel, some filesystems)
/// it is a rename.
pub fn replace(temp: &Path, target: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if target.exists() {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
        let (from, to) = (c(temp)?, c(target)?);
        // SAFETY: both are valid NUL-terminated paths; AT_FDCWD makes them relative to the
        // working directory, as `rename` does.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            return remove_old(temp);
        }
        let e = io::Error::last_os_error();
        if !matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
        ) {
            return Err(e);
        }
    }
    std::fs::rename(temp, target)
}

/// Old content from this size on is freed by a child process (see [`remove_old`]).
#[cfg(target_os = "linux")]
const FREE_APART_FROM: u64 = 64 << 20;

/// Removes `path`, the replaced file's old content. Its name is gone when this returns; a large
/// file's blocks are freed by a short-lived child process that holds the last descriptor to it.
///
/// Freeing blocks waits for the disk, not the CPU: on this machine's ext4 (mounted with
/// `discard`) unlinking a 1.8 GB file takes 0.33 s, all of it waiting (`rm` and `truncate`
/// alike), a sixth of the headline grid's run spent after the output is already in place. The
/// child's exit does that wait instead, after the command has returned; if the child cannot be
/// started the wait is paid here, as before. Whatever happens to the child, the kernel frees the
/// blocks when its descriptor closes: nothing can be left behind under a name.
#[cfg(target_os = "linux")]
fn remove_old(path: &Path) -> io::Result<()> {
    // An old file this process may not read (mode 0200) is only unlinked, as it always could be.
    let Ok(file) = std::fs::File::open(path) else {
        return std::fs::remove_file(path);
    };
    let large = file.metadata().is_ok_and(|m| m.len() >= FREE_APART_FROM);
    std::fs::remove_file(path)?;
    if large {
        free_apart(file);
    }
    Ok(())
}

/// Hands `file`, whose name is already gone, to a child process that closes it after this
/// process has closed its own copy, so that the child's close is the last and frees the blocks.
/// The child is reaped by a thread of this process, or by init once this process has exited.
#[cfg(target_os = "linux")]
fn free_apart(file: std::fs::File) {
    use std::os::fd::AsRawFd;
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let [wait, release] = pipe;
    let keep = file.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe system calls (prctl, sigaction, close_range,
    // close, read, _exit) on descriptors it owns, never returning into Rust or Node, so no lock or
    // allocation taken by another thread at the fork is touched.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the forked child, see above; it ends in _exit.
        unsafe { release_in_child(keep, wait) }
    }
    // SAFETY: `wait` is this process's descriptor from pipe2, closed once.
    unsafe { libc::close(wait) };
    drop(file);
    // SAFETY: as `wait`; closed last, so that the child's read returns only after `file` is
    // closed here.
    unsafe { libc::close(release) };
    if pid > 0 {
        let reap = move || {
            let mut status = 0;
            // SAFETY: `pid` is this process's child; `status` is a valid place for its status.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        };
        // Without a thread the child stays a zombie until this process exits; its blocks are
        // freed all the same.
        let _ = std::thread::Builder::new()
            .name("trendflex-reap".into())
            .spawn(reap);
    }
}

/// The forked child: keeps only `keep` and `wait`, blocks until the parent closes the pipe's
/// other end, then exits, closing `keep` last.
///
/// # Safety
/// Call only in a child just forked from a multi-threaded process: it uses nothing but
/// async-signal-safe system calls and never returns.
#[cfg(target_os = "linux")]
unsafe fn release_in_child(keep: libc::c_int, wait: libc::c_int) -> ! {
    // SAFETY: (for the block) plain system calls on integers and a stack byte, in the child.
    unsafe {
        // Named, for `ps` and for a benchmark to wait for it: "trendflex-free".
        libc::prctl(libc::PR_SET_NAME, c"trendflex-free".as_ptr());
        // Ctrl-C and the like end the child at once (the kernel then frees the blocks), not
        // through handlers inherited from the parent.
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_DFL);
        }
        // Every other descriptor is closed: a pipe to the parent's reader (its stdout, a test
        // harness) must see its end when the parent exits, not when this child does.
        let (lo, hi) = (
            keep.min(wait) as libc::c_uint,
            keep.max(wait) as libc::c_uint,
        );
        let close = |from: libc::c_uint, to: libc::c_uint| {
            if from <= to && libc::syscall(libc::SYS_close_range, from, to, 0) != 0 {
                // Kernels before 5.9: one by one, up to a bound well past what Node opens.
                for fd in from..=to.min(65_535) {
                    libc::close(fd as libc::c_int);
                }
            }
        };
        if lo > 0 {
            close(0, lo - 1);
        }
        close(lo + 1, hi - 1);
        close(hi + 1, libc::c_uint::MAX);
        let mut byte = 0u8;
        while libc::read(wait, (&mut byte as *mut u8).cast(), 1) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_an_existing_file_and_creates_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, target) = (dir.path().join("t.tmp"), dir.path().join("out"));
        std::fs::write(&target, "old").unwrap();
        std::fs::write(&temp, "new").unwrap();
        replace(&temp, &target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(
            !temp.exists(),
            "the old content is gone with the temporary name"
        );
        let fresh = dir.path().join("fresh");
        std::fs::write(&temp, "first").unwrap();
        replace(&temp, &fresh).unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "first");
        assert!(!temp.exists());
    }

    /// A large replaced file: its name is gone at once, and its blocks are freed soon after by
    /// the child (the filesystem's free space comes back), while the new content is in place.
    #[cfg(target_os = "linux")]
    #[test]
    fn frees_a_large_old_file_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, target) = (dir.path().join("t.tmp"), dir.path().join("out"));
        let size = (FREE_APART_FROM + (32 << 20)) as usize;
        std::fs::write(&target, vec![7u8; size]).unwrap();
        std::fs::write(&temp, "new").unwrap();
        let free = || {
            let c = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
            // SAFETY: statvfs is plain data, for which all zeros is a valid value.
            let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: `c` is a NUL-terminated path and `s` a statvfs to fill.
            assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
            s.f_bavail as u64 * s.f_frsize as u64
        };
        let before = free();
        replace(&temp, &target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["out"],
            "the old content's name is gone when replace returns"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while free() < before + size as u64 * 9 / 10 {
            assert!(
                std::time::Instant::now() < deadline,
                "the old file's blocks were never freed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
