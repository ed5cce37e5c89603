//! Moving a finished temporary file over its target in one atomic step.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Moves `temp` to `target`, replacing what is there atomically.
///
/// When `target` exists, the two are exchanged (`renameat2` with `RENAME_EXCHANGE`) and the old
/// content, now under `temp`, is unlinked. A plain rename over an existing file makes ext4 start
/// writing the new file back at once (its `auto_da_alloc` guard for programs that never fsync):
/// measured here, 1.1 s for a 1.5 GB file, against 0.4 s exchanged and unlinked. Where the
/// exchange is not supported (another OS, an older kernel, some filesystems) it is a rename.
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
            return std::fs::remove_file(temp);
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
}
