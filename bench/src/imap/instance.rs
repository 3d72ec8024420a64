//! A scratch server instance for the IMAP benchmark: a copy of the reference spool
//! (../shared/reference/cyrus-3.6) with its imapd.conf, a sasldb with the reference users and
//! the benchmark's users, a cyrus.conf with one `imap` service, and a master started in the
//! foreground. Built as tests/src/lib.rs `reference_instance` builds one. Dropping it stops the
//! master and every process under it and removes the directory.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::conn::{Conn, Status};
use super::load::PASSWORD;

/// Debian's Cyrus programs.
pub const DEBIAN_BIN: &str = "/usr/lib/cyrus/bin";

/// How to start one server.
pub struct Spec {
    pub name: &'static str,
    pub master: PathBuf,
    pub imapd: PathBuf,
}

pub struct Instance {
    pub name: &'static str,
    pub root: PathBuf,
    pub port: u16,
    master: Child,
    /// Every process seen under master, killed on drop (workers may outlive master).
    seen: Vec<u32>,
}

/// The reference data recorded from Debian's Cyrus 3.6.
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/cyrus-3.6")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let what = format!("{cmd:?}");
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what}: {s}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// Writes a sasldb at `path` with `users`, all with password [`PASSWORD`].
pub fn make_sasldb(path: &Path, users: &[String]) -> Result<(), String> {
    for u in users {
        let mut child = Command::new("/usr/sbin/saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(path)
            .args(["-u", "cyrus-ref", u])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("saslpasswd2: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(PASSWORD.as_bytes())
                .map_err(|e| format!("saslpasswd2: {e}"))?;
        }
        let st = child.wait().map_err(|e| format!("saslpasswd2: {e}"))?;
        if !st.success() {
            return Err(format!("saslpasswd2 {u}: {st}"));
        }
    }
    Ok(())
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Instance {
    /// Builds the instance under `root` (which must not exist) with the sasldb at `sasldb`
    /// copied in, and starts its master with `prefork` ready workers and at most `maxchild`.
    pub fn start(
        spec: &Spec,
        root: &Path,
        sasldb: &Path,
        prefork: usize,
        maxchild: usize,
    ) -> Result<Instance, String> {
        let refdir = reference_dir();
        let spool = refdir.join("spool");
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
            std::fs::create_dir_all(root.join(d)).map_err(|e| format!("{d}: {e}"))?;
        }
        let text = std::fs::read_to_string(refdir.join("imapd.conf"))
            .map_err(|e| format!("reference imapd.conf: {e}"))?;
        let conf = root.join("etc/imapd.conf");
        std::fs::write(&conf, text.replace("@INSTANCE@", &root.to_string_lossy()))
            .map_err(|e| e.to_string())?;
        for (from, to) in [("config", "conf"), ("partition-default", "spool")] {
            run(Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", spool.join(from).display()))
                .arg(root.join(to)))?;
        }
        std::fs::copy(sasldb, root.join("etc/sasldb2")).map_err(|e| format!("sasldb: {e}"))?;
        let port = free_port()?;
        let cyrus_conf = root.join("etc/cyrus.conf");
        std::fs::write(
            &cyrus_conf,
            format!(
                "START {{\n  recover cmd=\"{DEBIAN_BIN}/ctl_cyrusdb -C {c} -r\"\n}}\n\
                 SERVICES {{\n  imap cmd=\"{i} -C {c}\" listen=\"127.0.0.1:{port}\" \
                 prefork={prefork} maxchild={maxchild}\n}}\n",
                c = conf.display(),
                i = spec.imapd.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        // The reference copy is read-only; the servers run as `cyrus` and write everywhere.
        run(Command::new("chmod").args(["-R", "u+rwX"]).arg(root))?;
        run(Command::new("chown").args(["-R", "cyrus:"]).arg(root))?;
        run(Command::new("chmod").arg("750").arg(root))?;
        run(Command::new("chmod")
            .arg("640")
            .arg(root.join("etc/sasldb2")))?;
        let master = Command::new(&spec.master)
            .arg("-C")
            .arg(&conf)
            .arg("-M")
            .arg(&cyrus_conf)
            .arg("-p")
            .arg(root.join("run/master.pid"))
            .arg("-L")
            .arg(root.join("log/master.log"))
            .arg("-D")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", spec.master.display()))?;
        let mut inst = Instance {
            name: spec.name,
            root: root.to_path_buf(),
            port,
            master,
            seen: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut c) = Conn::connect(port, true) {
                let _ = c.cmd("LOGOUT");
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{}: no IMAP greeting on port {port}", spec.name));
            }
            if let Ok(Some(st)) = inst.master.try_wait() {
                return Err(format!("{}: master exited: {st}", spec.name));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        inst.wait_ready(prefork);
        Ok(inst)
    }

    /// master's pid.
    pub fn pid(&self) -> u32 {
        self.master.id()
    }

    /// master's live descendants (the workers).
    pub fn workers(&mut self) -> Vec<u32> {
        let all = tree_of(self.pid());
        for p in &all[1..] {
            if !self.seen.contains(p) {
                self.seen.push(*p);
            }
        }
        all[1..].to_vec()
    }

    /// Waits (up to 30 s) until master has forked `n` workers.
    pub fn wait_ready(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.workers().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// As `admin`, creates `user.<name>` for each of `users` (an existing one is fine).
    pub fn create_users(&self, users: &[String]) -> Result<(), String> {
        let mut c = Conn::connect(self.port, true).map_err(|e| e.to_string())?;
        if c.cmd(&format!("LOGIN admin {PASSWORD}"))
            .map_err(|e| e.to_string())?
            != Status::Ok
        {
            return Err(format!("admin LOGIN: {}", c.tagged_text()));
        }
        for u in users {
            let st = c
                .cmd(&format!("CREATE user.{u}"))
                .map_err(|e| e.to_string())?;
            if st != Status::Ok && !c.tagged_text().contains("already exists") {
                return Err(format!("CREATE user.{u}: {}", c.tagged_text()));
            }
        }
        let _ = c.cmd("LOGOUT");
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let mut all = tree_of(self.pid());
        all.extend(self.seen.iter().copied());
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.master.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in all {
            if alive(p) {
                signal(p, libc::SIGKILL);
            }
        }
        let _ = self.master.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Sends `sig` to `pid`.
fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pids are this benchmark's
        // own master and its descendants.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Parent pid and state of `pid`, from /proc/<pid>/stat.
fn stat(pid: u32) -> Option<(u32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Whether `pid` is alive (not a zombie).
fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, s)| s != 'Z')
}

/// `pid` followed by all its live descendants.
pub fn tree_of(pid: u32) -> Vec<u32> {
    let mut procs = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some((ppid, state)) = stat(p) {
                    if state != 'Z' {
                        procs.push((p, ppid));
                    }
                }
            }
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        all.extend(
            procs
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    all
}
