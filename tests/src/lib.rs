//! Helpers for the end-to-end tests in `tests/tests/`: where our binaries and Debian's are,
//! scratch directories the `cyrus` user can use, free ports, waiting for conditions, and
//! making sure no process a test started outlives it.
//!
//! Tests never sleep and hope: they poll for a condition with a generous deadline
//! ([`wait_for`]), so a slow machine makes them slower, not red.

pub mod imap;
pub mod tls;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Debian's Cyrus programs.
pub const DEBIAN_BIN: &str = "/usr/lib/cyrus/bin";

/// The directory cargo put this test's workspace binaries in (`target/<profile>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

static BUILT: Mutex<bool> = Mutex::new(false);

/// Path of our binary `name`, after bringing the workspace's binaries up to date once per test
/// process. `cargo test` builds only the test harness of a package without integration tests
/// (lmtpd, pop3d, ...), never its `target/<profile>/<name>`, so a binary left from an older
/// checkout would otherwise be tested in place of the code under test.
pub fn our_bin(name: &str) -> PathBuf {
    let dir = target_dir();
    let path = dir.join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ sits in the workspace")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&workspace)
            .args(["build", "--workspace", "--bins"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build --workspace --bins failed");
        *built = true;
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Whether the tests run as root (needed to start Debian's programs as the `cyrus` user).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// uid and gid of the `cyrus` user, if it exists.
pub fn cyrus_ids() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == "cyrus").then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// Whether Debian's Cyrus program `name` is installed.
pub fn debian_bin(name: &str) -> Option<PathBuf> {
    let p = Path::new(DEBIAN_BIN).join(name);
    p.exists().then_some(p)
}

/// A scratch directory, removed when dropped; owned by `cyrus` when running as root.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes a fresh directory under the system temp dir, named after `tag`.
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("cyrus-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        set_mode(&path, 0o755);
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path` joined to the directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes `text` to `rel` (creating parent directories).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&p, text).expect("write scratch file");
        p
    }

    /// Writes an executable shell script.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        set_mode(&p, 0o755);
        p
    }

    /// Gives the whole tree to the `cyrus` user when running as root, so Cyrus programs (and
    /// ours, once they drop privileges) can write in it.
    pub fn give_to_cyrus(&self) {
        if let (true, Some((uid, gid))) = (is_root(), cyrus_ids()) {
            chown_tree(&self.path, uid, gid);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    if p.is_dir() && !p.is_symlink() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                chown_tree(&e.path(), uid, gid);
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Polls `cond` until it returns `Some` or `timeout` passes; panics with `what` then.
pub fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The deadline tests use for things that should happen "soon".
pub const SOON: Duration = Duration::from_secs(30);

/// Pids whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            // The command name may hold spaces and parentheses: fields start after the last ')'.
            if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                let f: Vec<&str> = rest.split(' ').collect();
                if f.len() > 1 && f[1].parse::<u32>().ok() == Some(pid) && f[0] != "Z" {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// `pid` and all its descendants.
pub fn tree_of(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children_of(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

/// Whether `pid` is alive (not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .map(|i| !stat[i + 2..].starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// A master (ours or Debian's) run in the foreground; on drop it and every descendant are
/// killed, so a failing test leaves nothing behind.
pub struct Master {
    child: Child,
    /// Workers seen so far, killed on drop too (they may have been reparented).
    seen: Vec<u32>,
}

impl Master {
    /// Starts `master -C conf -M cyrus_conf -p pidfile -D -L log` (foreground, logging to `log`).
    pub fn start(program: &Path, dir: &Scratch, conf: &Path, cyrus_conf: &Path) -> Master {
        let child = Command::new(program)
            .arg("-C")
            .arg(conf)
            .arg("-M")
            .arg(cyrus_conf)
            .arg("-p")
            .arg(dir.join("master.pid"))
            .arg("-L")
            .arg(dir.join("master.log"))
            .arg("-D")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Master {
            child,
            seen: Vec::new(),
        }
    }

    /// master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// master's live children whose command line contains `needle`.
    pub fn workers(&mut self, needle: &str) -> Vec<u32> {
        let mut v: Vec<u32> = children_of(self.pid())
            .into_iter()
            .filter(|p| cmdline(*p).contains(needle))
            .collect();
        v.sort_unstable();
        for p in &v {
            if !self.seen.contains(p) {
                self.seen.push(*p);
            }
        }
        v
    }

    /// Waits for master to exit; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        wait_for("master to exit", timeout, || {
            self.child.try_wait().ok().flatten()
        })
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let mut all = tree_of(self.pid());
        all.extend(self.seen.iter().copied());
        for p in all {
            if alive(p) {
                signal(p, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// A line-oriented client of a test service.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects to 127.0.0.1:`port` (retrying until the listener is up).
    pub fn connect(port: u16) -> Client {
        let s = wait_for(&format!("a listener on port {port}"), SOON, || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        s.set_read_timeout(Some(SOON)).expect("set timeout");
        Client {
            reader: BufReader::new(s),
        }
    }

    /// Reads one line (without the line end); empty at end of stream.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.reader.read_line(&mut l);
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Reads one line (without the line end); `None` at end of stream or on timeout, so an
    /// empty line and a closed connection can be told apart.
    pub fn read_line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.reader.read_line(&mut l) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(l.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Sends `text` followed by CRLF.
    pub fn send(&mut self, text: &str) {
        let s = self.reader.get_mut();
        s.write_all(format!("{text}\r\n").as_bytes())
            .expect("send to server");
    }

    /// Sets how long [`Client::line`] waits.
    pub fn set_timeout(&mut self, t: Duration) {
        let _ = self.reader.get_ref().set_read_timeout(Some(t));
    }
}

/// For the echo worker: connect, read the greeting `+OK echo <service> <pid>`, say QUIT, and
/// return the pid that served us.
pub fn echo_once(port: u16) -> u32 {
    let mut c = Client::connect(port);
    let greeting = c.line();
    let pid = greeting
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad greeting {greeting:?}"));
    c.send("ping");
    assert_eq!(c.line(), "ping");
    c.send("QUIT");
    assert_eq!(c.line(), "+OK bye");
    assert_eq!(c.line(), "", "connection closes after QUIT");
    pid
}

/// The reference data recorded from Debian's Cyrus 3.6 (spool, configs, transcripts).
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6")
}

/// Password of every user in a reference instance's sasldb.
pub const REF_PASSWORD: &str = "secret";

/// Fills `dir` as `cyrus-ref/start` does with `CYRUS_REF_SEED`: a copy of the reference
/// spool, the reference imapd.conf with `@INSTANCE@` replaced, and a sasldb with users admin,
/// alice and bob. Returns the imapd.conf path; `None` (with a note) when something needed is
/// missing, so the caller can skip.
pub fn reference_instance(dir: &Scratch) -> Option<PathBuf> {
    instance(dir, true)
}

/// [`reference_instance`] without the spool: the reference configuration and users over
/// empty databases and partitions, as `cyrus-ref/start` began before recording transcripts.
pub fn empty_instance(dir: &Scratch) -> Option<PathBuf> {
    instance(dir, false)
}

fn instance(dir: &Scratch, with_spool: bool) -> Option<PathBuf> {
    let refdir = reference_dir();
    let spool = refdir.join("spool");
    if !spool.join("config").is_dir() || !spool.join("partition-default").is_dir() {
        eprintln!("skipped: no reference spool at {}", spool.display());
        return None;
    }
    if !Path::new("/usr/sbin/saslpasswd2").exists() {
        eprintln!("skipped: saslpasswd2 (sasl2-bin) is not installed");
        return None;
    }
    let root = dir.path();
    for d in [
        "etc",
        "conf/sieve",
        "conf/socket",
        "spool",
        "news",
        "newsspool",
        "log",
        "run/proc",
        "run/lock",
    ] {
        std::fs::create_dir_all(root.join(d)).ok()?;
    }
    let text = std::fs::read_to_string(refdir.join("imapd.conf")).ok()?;
    let conf = dir.write(
        "etc/imapd.conf",
        &text.replace("@INSTANCE@", &root.to_string_lossy()),
    );
    let copy = |from: &Path, to: &Path| {
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if with_spool
        && (!copy(&spool.join("config"), &root.join("conf"))
            || !copy(&spool.join("partition-default"), &root.join("spool")))
    {
        eprintln!("skipped: copying the reference spool failed");
        return None;
    }
    // The shared reference copy is read-only; Cyrus needs to write its databases.
    let _ = Command::new("chmod")
        .args(["-R", "u+rwX"])
        .arg(root.join("conf"))
        .arg(root.join("spool"))
        .status();
    let sasldb = root.join("etc/sasldb2");
    for user in ["admin", "alice", "bob"] {
        let mut child = Command::new("/usr/sbin/saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&sasldb)
            .args(["-u", "cyrus-ref", user])
            .stdin(Stdio::piped())
            .spawn()
            .ok()?;
        child
            .stdin
            .take()?
            .write_all(REF_PASSWORD.as_bytes())
            .ok()?;
        if !child.wait().ok()?.success() {
            eprintln!("skipped: saslpasswd2 failed");
            return None;
        }
    }
    dir.give_to_cyrus();
    set_mode(root, 0o750);
    set_mode(&sasldb, 0o640);
    Some(conf)
}

/// Debian's `imapd`: installed, or taken out of the cyrus-imapd .deb of the installed Cyrus
/// version with `apt-get download` (as `cyrus-ref/start` does) and kept under
/// `target/cyrus-debs/`. `None` when neither works (no network, no dpkg).
pub fn debian_imapd() -> Option<PathBuf> {
    if let Some(p) = debian_bin("imapd") {
        return Some(p);
    }
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "cyrus-common"])
        .output()
        .ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    if !out.status.success() || version.is_empty() {
        return None;
    }
    let cache = target_dir()
        .parent()?
        .join("cyrus-debs")
        .join(format!("cyrus-imapd-{version}"));
    let imapd = cache.join("imapd");
    if imapd.exists() {
        return Some(imapd);
    }
    let work = cache.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).ok()?;
    // apt's download sandbox user must be able to write here.
    set_mode(&work, 0o777);
    let got = Command::new("apt-get")
        .current_dir(&work)
        .args(["download", "-q"])
        .arg(format!("cyrus-imapd={version}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let deb = std::fs::read_dir(&work)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let (true, Some(deb)) = (got, deb) else {
        eprintln!("note: could not download cyrus-imapd={version}");
        return None;
    };
    let x = work.join("x");
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&x)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return None;
    }
    std::fs::create_dir_all(&cache).ok()?;
    for name in ["imapd", "idled"] {
        std::fs::copy(x.join("usr/lib/cyrus/bin").join(name), cache.join(name)).ok()?;
        set_mode(&cache.join(name), 0o755);
    }
    let _ = std::fs::remove_dir_all(&work);
    Some(imapd)
}
