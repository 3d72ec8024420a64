//! Whole-file `fcntl` locks, as Cyrus's `lib/lock_fcntl.c` takes them, and the file syncs the
//! backends share.
//!
//! POSIX record locks are what Cyrus uses, so a lock taken here excludes a Cyrus process on the
//! same file and the other way round. They belong to the process, not the descriptor: a process
//! must keep one handle per path (a second handle's close would drop the first one's lock).
//! A writer that replaces a file by `rename` leaves lockers of the old inode behind; so after
//! a lock is granted the path is stat'ed again and, if it names another inode, reopened
//! ([`lock_reopen`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Which kind of lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// `F_RDLCK`: many readers.
    Shared,
    /// `F_WRLCK`: one writer.
    Exclusive,
}

fn fcntl_lock(file: &File, ltype: libc::c_short, wait: bool) -> io::Result<()> {
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid value (start 0, len 0
    // = the whole file); fcntl only reads it for F_SETLK/F_SETLKW, and the descriptor is owned
    // by `file`, which outlives the call.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ltype;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    let cmd = if wait { libc::F_SETLKW } else { libc::F_SETLK };
    loop {
        // SAFETY: see above; `&mut fl` is a valid pointer for the duration of the call.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
        if r != -1 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Blocks until the whole of `file` is locked.
pub fn lock(file: &File, kind: LockKind) -> io::Result<()> {
    let t = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    };
    fcntl_lock(file, t as libc::c_short, true)
}

/// Locks the whole of `file` if nobody else holds a conflicting lock; `Ok(false)` if one does.
pub fn try_lock(file: &File, kind: LockKind) -> io::Result<bool> {
    let t = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    };
    match fcntl_lock(file, t as libc::c_short, false) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases this process's lock on `file`.
pub fn unlock(file: &File) -> io::Result<()> {
    fcntl_lock(file, libc::F_UNLCK as libc::c_short, false)
}

/// Locks `file` and makes sure it is still the file at `path`: if a `rename` replaced it
/// meanwhile, `reopen` is called to open the new one and the lock is taken again. Returns
/// whether the file was reopened.
pub fn lock_reopen(
    file: &mut File,
    path: &Path,
    kind: LockKind,
    reopen: impl Fn(&Path) -> io::Result<File>,
) -> io::Result<bool> {
    let mut reopened = false;
    loop {
        lock(file, kind)?;
        let held = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok(reopened),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let _ = unlock(file);
                return Err(e);
            }
        }
        let _ = unlock(file);
        *file = reopen(path)?;
        reopened = true;
    }
}

/// `fsync`s the directory holding `path`, so that a rename or create in it is durable.
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_reopen_follows_a_rename() {
        let dir = std::env::temp_dir().join(format!("cyrus-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, b"old").unwrap();
        let mut f = File::open(&p).unwrap();
        std::fs::write(dir.join("g"), b"new").unwrap();
        std::fs::rename(dir.join("g"), &p).unwrap();
        let reopened = lock_reopen(&mut f, &p, LockKind::Shared, |p| File::open(p)).unwrap();
        assert!(reopened);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert_eq!(s, "new");
        unlock(&f).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
