//! The skiplist recovery stamp, `<configdirectory>/db/skipstamp`, as every Cyrus 3.6 program
//! handles it when its cyrusdb layer starts.
//!
//! `ctl_cyrusdb -r` writes the time of the recovery there (four bytes, big-endian); Cyrus's
//! skiplist backend then recovers any file whose own last-recovery time is older. Other programs
//! only read it, and log a DBERROR when it cannot be read (which means `-r` never ran). Our
//! skiplist backend recovers by the file's own state and does not need the stamp; keeping it up
//! to date is for Cyrus's processes sharing the directory. Nothing here creates `db/` itself,
//! as Debian's binaries do not.

use crate::syslog::{self, Level};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// Does what Cyrus's skiplist backend does at startup: when `recover`, stamps the time of this
/// recovery into `db/skipstamp` (skiplist files older than the stamp get recovered when next
/// opened) unless a clean-shutdown marker says none is needed; otherwise it reads the stamp.
pub fn init(dbdir: &Path, recover: bool) {
    let stamp = dbdir.join("skipstamp");
    if recover {
        let clean = dbdir.join("skipcleanshutdown");
        if fs::symlink_metadata(&clean).is_ok() {
            let _ = fs::remove_file(&clean);
            syslog::log(
                Level::Notice,
                "skiplist: clean shutdown detected, starting normally",
            );
            return;
        }
        syslog::log(
            Level::Notice,
            "skiplist: clean shutdown file missing, updating recovery stamp",
        );
        if let Err(e) = write_stamp(&stamp) {
            let why = strerror(&e);
            syslog::log(
                Level::Err,
                &format!(
                    "DBERROR: write failed: filename=<{}> syserror=<{why}> func=<myinit>",
                    stamp.display()
                ),
            );
            syslog::log(
                Level::Err,
                &format!(
                    "DBERROR: backend init failed: backend=<skiplist> syserror=<{why}> \
                     func=<cyrusdb_init>"
                ),
            );
        }
    } else if let Err(e) = read_stamp(&stamp) {
        syslog::log(
            Level::Err,
            &format!(
                "DBERROR: read failed, assuming the worst: filename=<{}> syserror=<{}> \
                 func=<myinit>",
                stamp.display(),
                strerror(&e)
            ),
        );
    }
}

/// Writes the current time as a big-endian 32-bit number, as Cyrus's skiplist does.
fn write_stamp(path: &Path) -> io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)?;
    f.write_all(&now.to_be_bytes())
}

fn read_stamp(path: &Path) -> io::Result<u32> {
    let mut b = [0u8; 4];
    File::open(path)?.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}
