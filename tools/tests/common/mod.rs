//! What the tools' tests share: scratch directories Debian's Cyrus can use, the paths of
//! Debian's binaries, and the reference spool in ../shared.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Debian's directory of Cyrus binaries.
pub const DEBIAN_BIN: &str = "/usr/lib/cyrus/bin";

/// Debian's binary `name`, or None (with a note on stderr) if Cyrus is not installed.
pub fn debian(name: &str) -> Option<PathBuf> {
    let p = Path::new(DEBIAN_BIN).join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is not installed (apt-get install cyrus-common)",
            p.display()
        );
        None
    }
}

/// The reference data written by real Cyrus 3.6 (../shared/reference/cyrus-3.6).
pub fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6")
}

/// A directory under /tmp, removed on drop, with an imapd.conf whose configdirectory is itself.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
    /// Its imapd.conf.
    pub conf: PathBuf,
}

impl Scratch {
    /// Makes a fresh scratch directory named after `name`.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cyrus-tools-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("imapd.conf");
        std::fs::write(&conf, format!("configdirectory: {}\n", dir.display())).unwrap();
        Scratch { dir, conf }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Hands everything to the `cyrus` user, which Debian's tools become when run as root.
    pub fn give_to_cyrus(&self) {
        let _ = Command::new("chown")
            .arg("-R")
            .arg("cyrus")
            .arg(&self.dir)
            .status();
        let _ = Command::new("chmod").arg("0755").arg(&self.dir).status();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Hands `dir` and everything in it to the `cyrus` user, which our tools and Debian's become
/// when run as root (a no-op for other users, or where there is no such user).
pub fn give_to_cyrus(dir: &Path) {
    let _ = Command::new("chown")
        .arg("-R")
        .arg("cyrus")
        .arg(dir)
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("chmod").arg("0755").arg(dir).status();
}

/// Runs `bin -C conf args...` with `stdin`, and returns its output. The scratch directory
/// holding `conf` is handed to the `cyrus` user first, since both implementations switch to
/// it when run as root.
pub fn run(bin: &Path, conf: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Output {
    run_env(bin, conf, args, stdin, &[])
}

/// [`run`] with extra environment variables (`TZ`, say).
pub fn run_env(
    bin: &Path,
    conf: &Path,
    args: &[&std::ffi::OsStr],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Output {
    if let Some(dir) = conf.parent() {
        give_to_cyrus(dir);
    }
    let mut child = Command::new(bin)
        .envs(env.iter().copied())
        .arg("-C")
        .arg(conf)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Like [`run`], but fails the test unless the command exits 0 with nothing on stderr.
pub fn run_ok(bin: &Path, conf: &Path, args: &[&std::ffi::OsStr], stdin: &[u8]) -> Vec<u8> {
    let out = run(bin, conf, args, stdin);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} {:?}: {:?}\n{}",
        bin.display(),
        args,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `s` as an OsStr argument.
pub fn a(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Copies `from` to `to` as a writable file (the reference files are read-only, and the
/// database backends open their files for writing, as Cyrus's do).
pub fn copy_in(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Scratch {
    /// A scratch instance laid out as the golden files expect: `conf/` (the configdirectory)
    /// and `spool/` (partition-default) copied from the reference spool when `with_spool`
    /// (else an empty `conf/`), and an imapd.conf from the reference one plus `extra` lines.
    pub fn reference_instance(tag: &str, with_spool: bool, extra: &str) -> Scratch {
        let s = Scratch::new(tag);
        let r = reference();
        if with_spool {
            for (from, to) in [
                ("spool/config", "conf"),
                ("spool/partition-default", "spool"),
            ] {
                let st = Command::new("cp")
                    .arg("-r")
                    .arg(r.join(from))
                    .arg(s.path(to))
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            let _ = Command::new("chmod")
                .arg("-R")
                .arg("u+w")
                .arg(&s.dir)
                .status();
        } else {
            std::fs::create_dir_all(s.path("conf")).unwrap();
        }
        let text = std::fs::read_to_string(r.join("imapd.conf")).unwrap();
        let text = text.replace("@INSTANCE@", &s.dir.to_string_lossy()) + extra;
        std::fs::write(&s.conf, text).unwrap();
        s
    }
}
