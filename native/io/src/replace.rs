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
    use std::os::unix::fs::MetadataExt;
    // Under another name too (a hard link), unlinking this one frees nothing.
    let large =
        std::fs::symlink_metadata(path).is_ok_and(|m| m.len() >= FREE_APART_FROM && m.nlink() == 1);
    // A small file is only unlinked, and so is one this process may not read (mode 0200).
    let Some(file) = large.then(|| std::fs::File::open(path).ok()).flatten() else {
        return std::fs::remove_file(path);
    };
    std::fs::remove_file(path)?;
    free_apart(file);
    Ok(())
}

/// Hands `file`, whose name is already gone, to a child process that closes it after this
/// process has closed its own copy, so that the child's close is the last and frees the blocks.
/// The child is reaped by a thread of this process, or by init once this process has exited.
/// Returns the child's pid, or `None` when none could be started (the blocks were freed here).
#[cfg(target_os = "linux")]
fn free_apart(file: std::fs::File) -> Option<libc::pid_t> {
    use std::os::fd::AsRawFd;
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    let [wait, release] = pipe;
    let keep = file.as_raw_fd();
    // Every signal is held from before the fork until the child has its default handlers: a
    // signal caught in between would run the parent's handlers (Node's) in the child.
    // SAFETY: sigset_t is plain data, filled by sigfillset before use.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset_t pointers; pthread_sigmask changes this thread's mask only.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
    }
    // SAFETY: the child runs only async-signal-safe system calls (prctl, signal, sigprocmask,
    // close_range, close, read, _exit) on descriptors it owns, never returning into Rust or
    // Node, so no lock or allocation taken by another thread at the fork is touched.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the forked child, see above; it ends in _exit.
        unsafe { release_in_child(keep, wait, release, &before) }
    }
    // SAFETY: restores the mask saved above, on this thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut()) };
    // SAFETY: `wait` is this process's descriptor from pipe2, closed once.
    unsafe { libc::close(wait) };
    drop(file);
    // SAFETY: as `wait`; closed last, so that the child's read returns only after `file` is
    // closed here.
    unsafe { libc::close(release) };
    if pid <= 0 {
        return None;
    }
    let reap = move || {
        let mut status = 0;
        // SAFETY: `pid` is this process's child; `status` is a valid place for its status.
        // Again if a signal (Node's SIGUSR1, without SA_RESTART) interrupts the wait.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    };
    // Without a thread the child stays a zombie until this process exits; its blocks are freed
    // all the same.
    let _ = std::thread::Builder::new()
        .name("trendflex-reap".into())
        .spawn(reap);
    Some(pid)
}

/// The forked child: keeps only `keep` and `wait`, blocks until the parent closes the pipe's
/// other end, then exits, closing `keep` last. `release` is that other end (the child's copy is
/// closed first); `mask`, the signal mask to restore once the handlers are the defaults.
///
/// # Safety
/// Call only in a child just forked from a multi-threaded process, with every signal blocked:
/// it uses nothing but async-signal-safe system calls and never returns.
#[cfg(target_os = "linux")]
unsafe fn release_in_child(
    keep: libc::c_int,
    wait: libc::c_int,
    release: libc::c_int,
    mask: &libc::sigset_t,
) -> ! {
    // SAFETY: (for the block) plain system calls on integers, a stack byte and the parent's
    // saved mask, in the child.
    unsafe {
        // Named, for `ps` and for a benchmark to wait for it: "trendflex-free".
        libc::prctl(libc::PR_SET_NAME, c"trendflex-free".as_ptr());
        // Ctrl-C and the like end the child at once (the kernel then frees the blocks), not
        // through handlers inherited from the parent.
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_DFL);
        }
        libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
        // Its own copy of the pipe's write end first, whatever the closing below manages: the
        // read must end when the parent closes its copy.
        libc::close(release);
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
    /// Then the child's part alone: it was started, and what it held is freed.
    #[cfg(target_os = "linux")]
    #[test]
    fn frees_a_large_old_file_apart() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (temp, target) = (dir.path().join("t.tmp"), dir.path().join("out"));
        // Bytes no file system compresses away, so that the file holds its size on the disk.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let bytes: Vec<u8> = (0..(FREE_APART_FROM + (32 << 20)) / 8)
            .flat_map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                seed.to_le_bytes()
            })
            .collect();
        let free = || {
            let c = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
            // SAFETY: statvfs is plain data, for which all zeros is a valid value.
            let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: `c` is a NUL-terminated path and `s` a statvfs to fill.
            assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
            s.f_bavail as u64 * s.f_frsize as u64
        };
        // Some file systems (btrfs) show freed space only at their next commit.
        let comes_back = |before: u64, held: u64| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while free() < before + held * 9 / 10 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the old file's blocks were never freed"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        std::fs::write(&target, &bytes).unwrap();
        let held = std::fs::metadata(&target).unwrap().blocks() * 512;
        std::fs::write(&temp, "new").unwrap();
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
        comes_back(before, held);

        let other = dir.path().join("other");
        std::fs::write(&other, &bytes).unwrap();
        let held = std::fs::metadata(&other).unwrap().blocks() * 512;
        let before = free();
        let file = std::fs::File::open(&other).unwrap();
        std::fs::remove_file(&other).unwrap();
        assert!(free_apart(file).is_some(), "a child was started");
        comes_back(before, held);
    }
}
