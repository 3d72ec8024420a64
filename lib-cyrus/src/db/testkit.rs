//! Test support shared by the backends' tests: scratch directories, the reference
//! data of `shared/reference/cyrus-3.6`, and driving Debian's `cyr_dbtool`.
//!
//! Debian's tools switch to the `cyrus` user when started as root and want absolute paths, so
//! scratch directories live under /tmp with mode 0777 and are handed to `cyrus` before the tool
//! touches what we wrote. Every scratch directory has its own imapd.conf so that the tool
//! never reads the machine's /etc/imapd.conf.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Debian's `cyr_dbtool`.
pub const CYR_DBTOOL: &str = "/usr/lib/cyrus/bin/cyr_dbtool";

/// A directory under /tmp, removed on drop, with an imapd.conf naming it as configdirectory.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
    /// Its imapd.conf.
    pub conf: PathBuf,
}

impl Scratch {
    /// A fresh directory; `extra` is appended to its imapd.conf.
    pub fn new(tag: &str, extra: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("cyrus-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let conf = dir.join("imapd.conf");
        fs::write(
            &conf,
            format!("configdirectory: {}\n{extra}", dir.display()).as_bytes(),
        )
        .unwrap();
        Scratch { dir, conf }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Why Debian's tool cannot be used here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new(CYR_DBTOOL).exists() {
        return Some(format!("{CYR_DBTOOL} is not installed"));
    }
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 && std::env::var("USER").as_deref() != Ok("cyrus") {
        return Some("Debian's tools run only as root or as the cyrus user".into());
    }
    None
}

/// Makes everything under `dir` belong to `cyrus` (when we are root and there is such a
/// user), so that Debian's tool can open it for writing as Cyrus does.
pub fn give_to_cyrus(dir: &Path) {
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid == 0 && cyrus_ids().is_some() {
        let st = Command::new("chown")
            .arg("-R")
            .arg("cyrus")
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "chown -R cyrus {}", dir.display());
    }
}

/// The uid and gid of the `cyrus` user, from /etc/passwd.
pub fn cyrus_ids() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("cyrus:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// A command re-running this test binary for the single test `name`, as the `cyrus` user
/// when we are root, so that the files it creates stay writable for Debian's tools.
pub fn rerun_test(name: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--test-threads=1"])
        .stdout(Stdio::null());
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid == 0 {
        if let Some((uid, gid)) = cyrus_ids() {
            cmd.uid(uid).gid(gid);
        }
    }
    cmd
}

/// Runs `cyr_dbtool -C <conf> <args...>` with `stdin`, asserts it exited 0, returns stdout.
pub fn cyr_dbtool(conf: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(CYR_DBTOOL)
        .arg("-C")
        .arg(conf)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        out.status.success(),
        "cyr_dbtool {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `bytes` as a non-synchronising IMAP literal, the only form of binary string that
/// `cyr_dbtool ... batch` reads without crashing (it has no output stream for `+` replies).
pub fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut v = format!("{{{}+}}\r\n", bytes.len()).into_bytes();
    v.extend_from_slice(bytes);
    v
}

/// The reference data real Cyrus 3.6 wrote (`../shared` beside the repository). Its absence
/// is a broken checkout, so this fails the test rather than letting it skip.
pub fn reference() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6");
    assert!(
        p.join("golden").is_dir(),
        "no reference data at {}",
        p.display()
    );
    Some(p)
}

/// Copies the tree at `from` into `to` (files and directories only), made writable.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o777)).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        let dst = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &dst);
        } else if ty.is_file() {
            fs::copy(entry.path(), &dst).unwrap();
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o666)).unwrap();
        }
    }
}

/// Every record of `db` under `prefix`, in the database's order.
pub fn records(db: &mut dyn crate::db::Database, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    db.foreach(prefix, &mut |k, val| {
        v.push((k.to_vec(), val.to_vec()));
        Ok(crate::db::Walk::Continue)
    })
    .unwrap();
    v
}

/// What `cyr_dbtool ... show` prints for these records: `key TAB value LF` each.
pub fn show_text<'a>(records: impl IntoIterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        out.extend_from_slice(k);
        out.push(b'\t');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}
