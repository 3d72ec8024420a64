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

/// What [`lock_reopen`] found once the lock was held.
pub struct Locked {
    /// Whether the path named a new file, which was opened in place of the old one.
    pub reopened: bool,
    /// The locked file's length, read under the lock.
    pub len: u64,
}

/// `stat(2)` of `path`: its identity and length. Plain `stat` rather than the `statx` that
/// `std::fs::metadata` uses, because lock-per-operation readers call it on every operation.
pub fn stat(path: &Path) -> io::Result<(FileId, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `st` is plain old data that stat(2) fills in; `c` is a NUL-terminated string
    // that outlives the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((
        FileId {
            dev: st.st_dev,
            ino: st.st_ino,
        },
        st.st_size as u64,
    ))
}

/// The identity of a file: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileId {
    /// The identity recorded in `meta`.
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Locks `file` and makes sure it is still the file at `path`: if a `rename` replaced it
/// meanwhile, `reopen` is called to open the new one and the lock is taken again.
pub fn lock_reopen(
    file: &mut File,
    path: &Path,
    kind: LockKind,
    reopen: impl Fn(&Path) -> io::Result<File>,
) -> io::Result<Locked> {
    lock_reopen_known(file, &mut None, path, kind, reopen)
}

/// [`lock_reopen`] for a caller that remembers its file's identity in `known` (filled in
/// here when `None`, updated on reopen): then one `stat` of the path is all the check costs.
pub fn lock_reopen_known(
    file: &mut File,
    known: &mut Option<FileId>,
    path: &Path,
    kind: LockKind,
    reopen: impl Fn(&Path) -> io::Result<File>,
) -> io::Result<Locked> {
    let mut reopened = false;
    loop {
        lock(file, kind)?;
        let held = match *known {
            Some(id) => id,
            None => {
                let id = FileId::of(&file.metadata()?);
                *known = Some(id);
                id
            }
        };
        match stat(path) {
            Ok((id, len)) if id == held => return Ok(Locked { reopened, len }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let _ = unlock(file);
                return Err(e);
            }
        }
        let _ = unlock(file);
        *file = reopen(path)?;
        *known = None;
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
        let locked = lock_reopen(&mut f, &p, LockKind::Shared, |p| File::open(p)).unwrap();
        assert!(locked.reopened);
        assert_eq!(locked.len, 3);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert_eq!(s, "new");
        unlock(&f).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
