//! master's running state: listeners and their worker accounting, events, daemons, and the
//! poll loop that ties signals, status pipes and listeners together.
//!
//! The accounting follows Cyrus's master so either side's workers fit: a fork counts as one
//! ready worker; the status records on a listener's pipe move a worker between ready and busy;
//! a listener is watched only while it has no ready worker and room under `maxchild`, and when
//! it turns readable one more worker is forked. `prefork` ready workers are kept at all times,
//! `maxforkrate` caps forks per second, and a worker that keeps dying before it serves anyone
//! disables its service until the next SIGHUP instead of fork-looping.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cyrus::config::{DaemonEntry, EventEntry, MasterConf, ServiceEntry};
use cyrus::service::{decode_status, Status, LISTEN_FD, STATUS_FD};
use cyrus::syslog::{log, Level};

use crate::sys::{self, Exec, Exit};

/// A worker that dies this many times in a row before serving anyone disables its service.
const MAX_READY_FAILS: u32 = 5;
/// How long children get after SIGTERM before master kills them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Shortest gap between two starts of a DAEMON entry.
const DAEMON_RESTART_GAP: Duration = Duration::from_secs(1);
/// Directory of Debian's Cyrus programs, where relative `cmd` names are also looked up.
const CYRUS_BIN: &str = "/usr/lib/cyrus/bin";

/// One bound address of a SERVICES entry (Cyrus keeps one such record per address).
struct Listener {
    entry: ServiceEntry,
    id: i32,
    socket: Option<OwnedFd>,
    /// The status pipe; `None` once a removed listener's last worker is gone.
    status: Option<(OwnedFd, OwnedFd)>,
    /// Still in cyrus.conf and usable (Cyrus: `exec != NULL`).
    enabled: bool,
    ready: i32,
    active: i32,
    connections: u64,
    forks: VecDeque<Instant>,
    ready_fails: u32,
    /// Partial status record left over from the last read.
    pending: Vec<u8>,
}

impl Listener {
    fn max_workers(&self) -> i32 {
        if self.entry.maxchild > 0 {
            self.entry.maxchild
        } else {
            i32::MAX
        }
    }

    fn desired(&self) -> i32 {
        self.entry.prefork.max(0).min(self.max_workers())
    }

    fn label(&self) -> String {
        format!("{}/{}", self.entry.name, self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready,
    Busy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Service(usize),
    Event(String),
    Daemon(usize),
}

struct Child {
    kind: Kind,
    state: State,
    connected: bool,
}

struct Event {
    entry: EventEntry,
    next: Instant,
}

struct Daemon {
    entry: DaemonEntry,
    pid: Option<i32>,
    restart_at: Option<Instant>,
    enabled: bool,
}

/// Everything master supervises.
pub struct Supervisor {
    conf_path: PathBuf,
    backlog: i32,
    /// Who children run as while master itself is still root (wait-daemons).
    user: String,
    listeners: Vec<Listener>,
    children: HashMap<i32, Child>,
    events: Vec<Event>,
    daemons: Vec<Daemon>,
    signals: OwnedFd,
    shutdown_deadline: Option<Instant>,
}

/// Where the program of `cmd[0]` is: absolute as given, else next to master, else in
/// Debian's Cyrus directory.
pub fn program_path(cmd0: &str) -> PathBuf {
    let p = Path::new(cmd0);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let cand = dir.join(p);
        if cand.is_file() {
            return cand;
        }
    }
    Path::new(CYRUS_BIN).join(p)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o100 != 0)
        .unwrap_or(false)
}

fn describe(how: Exit) -> (Level, String) {
    match how {
        Exit::Code(0) => (Level::Debug, "exited normally".into()),
        Exit::Code(c) => (Level::Err, format!("exited, status {c}")),
        Exit::Signal(s, core) => (
            Level::Err,
            format!(
                "exited, signaled to death by {s}{}",
                if core { " (core dumped)" } else { "" }
            ),
        ),
    }
}

/// Runs each START entry to completion, in order, as `user`.
pub fn run_start(conf: &MasterConf, user: &str) {
    for s in &conf.start {
        let path = program_path(&s.cmd[0]);
        let exec = match Exec::new(&path.to_string_lossy(), &s.cmd, &[]) {
            Ok(e) => e.run_as(user),
            Err(e) => {
                log(Level::Err, &format!("can't run startup {}: {e}", s.name));
                continue;
            }
        };
        match exec.spawn().and_then(sys::wait_for) {
            Ok(Exit::Code(0)) => {}
            Ok(how) => log(
                Level::Err,
                &format!("startup {} {}", s.name, describe(how).1),
            ),
            Err(e) => log(
                Level::Err,
                &format!("can't fork process to run startup {}: {e}", s.name),
            ),
        }
    }
}

/// Splits a `listen` value into host and port as Cyrus does: `[v6]:port`, `host:port`,
/// or just `port`.
pub fn split_listen(listen: &str) -> (Option<&str>, &str) {
    if let Some(close) = listen.rfind(']') {
        let host = listen[..close].trim_start_matches('[');
        let rest = &listen[close + 1..];
        let port = rest.strip_prefix(':').unwrap_or("");
        return ((!host.is_empty()).then_some(host), port);
    }
    match listen.rfind(':') {
        Some(i) => {
            let host = &listen[..i];
            ((!host.is_empty()).then_some(host), &listen[i + 1..])
        }
        None => (None, listen),
    }
}

/// Binds every address of `entry`; an error disables the service (logged), as in Cyrus.
fn bind_service(entry: &ServiceEntry, backlog: i32) -> Vec<OwnedFd> {
    let (family, socktype) = match entry.proto.as_str() {
        "tcp" => (libc::AF_UNSPEC, libc::SOCK_STREAM),
        "tcp4" => (libc::AF_INET, libc::SOCK_STREAM),
        "tcp6" => (libc::AF_INET6, libc::SOCK_STREAM),
        "udp" => (libc::AF_UNSPEC, libc::SOCK_DGRAM),
        "udp4" => (libc::AF_INET, libc::SOCK_DGRAM),
        "udp6" => (libc::AF_INET6, libc::SOCK_DGRAM),
        other => {
            log(
                Level::Info,
                &format!("invalid proto '{other}', disabling {}", entry.name),
            );
            return Vec::new();
        }
    };
    let specs = if entry.listen.starts_with('/') {
        let _ = std::fs::remove_file(&entry.listen);
        sys::unix_spec(&entry.listen, socktype).map(|s| vec![s])
    } else {
        let (host, port) = split_listen(&entry.listen);
        sys::resolve(host, port, family, socktype)
    };
    let specs = match specs {
        Ok(s) => s,
        Err(e) => {
            log(Level::Info, &format!("{e}, disabling {}", entry.name));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for spec in &specs {
        match sys::bind(spec, backlog) {
            Ok(fd) => out.push(fd),
            Err(e) => log(
                Level::Err,
                &format!("unable to bind to {} socket: {e}", entry.name),
            ),
        }
    }
    if out.is_empty() {
        log(
            Level::Err,
            &format!("unable to create {} listener socket", entry.name),
        );
    }
    out
}

impl Supervisor {
    /// Starts the wait-daemons of `conf` (each must say `ok` before the next), then binds its
    /// SERVICES (call while still root, for privileged ports). Children run as `user`.
    pub fn new(
        conf: &MasterConf,
        conf_path: &Path,
        backlog: i32,
        user: &str,
    ) -> std::io::Result<Supervisor> {
        let signals = sys::signal_pipe()?;
        let mut s = Supervisor {
            conf_path: conf_path.to_path_buf(),
            backlog,
            user: user.to_string(),
            listeners: Vec::new(),
            children: HashMap::new(),
            events: Vec::new(),
            daemons: Vec::new(),
            signals,
            shutdown_deadline: None,
        };
        for entry in conf.daemons.iter().filter(|d| d.wait) {
            s.add_daemon(entry);
        }
        for entry in &conf.services {
            s.add_service(entry);
        }
        Ok(s)
    }

    fn add_daemon(&mut self, entry: &DaemonEntry) {
        self.daemons.push(Daemon {
            entry: entry.clone(),
            pid: None,
            restart_at: None,
            enabled: true,
        });
        self.spawn_daemon(self.daemons.len() - 1);
    }

    fn add_service(&mut self, entry: &ServiceEntry) {
        let path = program_path(&entry.cmd[0]);
        if !is_executable(&path) {
            log(
                Level::Err,
                &format!(
                    "unable to find command \"{}\" for service {}; disabling",
                    path.display(),
                    entry.name
                ),
            );
            return;
        }
        for (id, socket) in bind_service(entry, self.backlog).into_iter().enumerate() {
            let (status_r, status_w) = match sys::pipe(true) {
                Ok(p) => p,
                Err(e) => {
                    log(
                        Level::Err,
                        &format!("couldn't create status pipe for {}: {e}", entry.name),
                    );
                    continue;
                }
            };
            log(
                Level::Debug,
                &format!("activating service {}/{id}", entry.name),
            );
            self.listeners.push(Listener {
                entry: entry.clone(),
                id: id as i32,
                socket: Some(socket),
                status: Some((status_r, status_w)),
                enabled: true,
                ready: 0,
                active: 0,
                connections: 0,
                forks: VecDeque::new(),
                ready_fails: 0,
                pending: Vec::new(),
            });
        }
    }

    /// Reads the EVENTS of `conf` and starts its other DAEMON entries.
    pub fn start_events_and_daemons(&mut self, conf: &MasterConf) {
        self.set_events(conf);
        for entry in conf.daemons.iter().filter(|d| !d.wait) {
            self.add_daemon(entry);
        }
    }

    fn set_events(&mut self, conf: &MasterConf) {
        let now = Instant::now();
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.events = conf
            .events
            .iter()
            .map(|e| {
                let next = match e.at {
                    Some((h, m)) => {
                        now + Duration::from_secs(sys::seconds_until_local(unix_now, h, m) as u64)
                    }
                    None => now,
                };
                Event {
                    entry: e.clone(),
                    next,
                }
            })
            .collect();
    }

    fn fork_limited(l: &mut Listener, now: Instant) -> bool {
        while l
            .forks
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            l.forks.pop_front();
        }
        l.entry.maxforkrate > 0 && l.forks.len() as i32 >= l.entry.maxforkrate
    }

    fn spawn_service(&mut self, i: usize) -> bool {
        let now = Instant::now();
        let l = &mut self.listeners[i];
        if !l.enabled || l.socket.is_none() || Self::fork_limited(l, now) {
            return false;
        }
        let path = program_path(&l.entry.cmd[0]);
        let env = [
            ("CYRUS_SERVICE", l.entry.name.clone()),
            ("CYRUS_ID", l.id.to_string()),
        ];
        let exec = match Exec::new(&path.to_string_lossy(), &l.entry.cmd, &env) {
            Ok(e) => e,
            Err(e) => {
                log(Level::Err, &format!("service {}: {e}", l.label()));
                l.enabled = false;
                return false;
            }
        };
        let sock = l.socket.as_ref().map_or(-1, |s| s.as_raw_fd());
        let Some(status_w) = l.status.as_ref().map(|(_, w)| w.as_raw_fd()) else {
            return false;
        };
        let exec = exec
            .dup(status_w, STATUS_FD)
            .dup(sock, LISTEN_FD)
            .maxfds(l.entry.maxfds);
        match exec.spawn() {
            Ok(pid) => {
                l.ready += 1;
                l.active += 1;
                l.forks.push_back(now);
                log(
                    Level::Debug,
                    &format!("forked process to run service {}", l.label()),
                );
                self.children.insert(
                    pid,
                    Child {
                        kind: Kind::Service(i),
                        state: State::Ready,
                        connected: false,
                    },
                );
                true
            }
            Err(e) => {
                log(
                    Level::Err,
                    &format!("can't fork process to run service {}: {e}", l.label()),
                );
                false
            }
        }
    }

    fn spawn_daemon(&mut self, i: usize) {
        let d = &mut self.daemons[i];
        d.restart_at = None;
        let path = program_path(&d.entry.cmd[0]);
        let env = [
            ("CYRUS_ISDAEMON", "1".to_string()),
            ("CYRUS_SERVICE", d.entry.name.clone()),
        ];
        let exec = match Exec::new(&path.to_string_lossy(), &d.entry.cmd, &env) {
            Ok(e) => e.maxfds(d.entry.maxfds).run_as(&self.user),
            Err(e) => {
                log(Level::Err, &format!("daemon {}: {e}", d.entry.name));
                d.enabled = false;
                return;
            }
        };
        let waiter = if d.entry.wait {
            match sys::pipe(false) {
                Ok(p) => Some(p),
                Err(e) => {
                    log(
                        Level::Err,
                        &format!("ERROR: unable to spawn waitdaemon {}: {e}", d.entry.name),
                    );
                    return;
                }
            }
        } else {
            None
        };
        let exec = match &waiter {
            Some((_, w)) => exec.dup(w.as_raw_fd(), STATUS_FD),
            None => exec,
        };
        match exec.spawn() {
            Ok(pid) => {
                d.pid = Some(pid);
                self.children.insert(
                    pid,
                    Child {
                        kind: Kind::Daemon(i),
                        state: State::Busy,
                        connected: false,
                    },
                );
                if let Some((r, w)) = waiter {
                    drop(w);
                    if !wait_for_ok(&r) {
                        log(
                            Level::Err,
                            &format!(
                                "ERROR: waitdaemon {} did not write \"ok\\r\\n\" to fd {STATUS_FD}",
                                self.daemons[i].entry.name
                            ),
                        );
                    }
                }
            }
            Err(e) => log(
                Level::Err,
                &format!("can't fork process to run daemon {}: {e}", d.entry.name),
            ),
        }
    }

    fn spawn_event(&mut self, i: usize) {
        let e = &self.events[i].entry;
        let path = program_path(&e.cmd[0]);
        match Exec::new(&path.to_string_lossy(), &e.cmd, &[]).map(|x| x.spawn()) {
            Ok(Ok(pid)) => {
                log(Level::Debug, &format!("running event {}", e.name));
                self.children.insert(
                    pid,
                    Child {
                        kind: Kind::Event(e.name.clone()),
                        state: State::Busy,
                        connected: false,
                    },
                );
            }
            Ok(Err(err)) => log(
                Level::Err,
                &format!("can't fork process to run event {}: {err}", e.name),
            ),
            Err(err) => log(Level::Err, &format!("event {}: {err}", e.name)),
        }
    }

    /// Runs events that are due, and schedules their next run (or drops one-shot events).
    fn run_events(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.events.len() {
            if self.events[i].next > now {
                i += 1;
                continue;
            }
            self.spawn_event(i);
            let period = self.events[i].entry.period_minutes;
            if period > 0 {
                self.events[i].next = now + Duration::from_secs(period as u64 * 60);
                i += 1;
            } else {
                self.events.remove(i);
            }
        }
    }

    fn reap(&mut self) {
        while let Some((pid, how)) = sys::reap() {
            let Some(child) = self.children.remove(&pid) else {
                continue;
            };
            let (level, what) = describe(how);
            match child.kind {
                Kind::Service(i) => {
                    let l = &mut self.listeners[i];
                    l.active -= 1;
                    if child.state == State::Ready {
                        l.ready -= 1;
                    }
                    log(
                        level,
                        &format!("process type:SERVICE name:{} pid:{pid} {what}", l.label()),
                    );
                    if how != Exit::Code(0) && !child.connected {
                        l.ready_fails += 1;
                        if l.ready_fails >= MAX_READY_FAILS && l.enabled {
                            log(
                                Level::Err,
                                &format!(
                                    "too many failures for service {}, disabling until next SIGHUP",
                                    l.label()
                                ),
                            );
                            l.enabled = false;
                        }
                    }
                }
                Kind::Event(name) => log(
                    level,
                    &format!("process type:EVENT name:{name} pid:{pid} {what}"),
                ),
                Kind::Daemon(i) => {
                    let d = &mut self.daemons[i];
                    d.pid = None;
                    log(
                        if self.shutdown_deadline.is_some() {
                            level
                        } else {
                            Level::Err
                        },
                        &format!("process type:DAEMON name:{} pid:{pid} {what}", d.entry.name),
                    );
                    if d.enabled && self.shutdown_deadline.is_none() {
                        d.restart_at = Some(Instant::now() + DAEMON_RESTART_GAP);
                    }
                }
            }
        }
    }

    fn read_status(&mut self, i: usize) {
        let mut buf = [0u8; 8 * 128];
        loop {
            let Some(fd) = self.listeners[i]
                .status
                .as_ref()
                .map(|(r, _)| r.as_raw_fd())
            else {
                return;
            };
            let n = match sys::read_available(fd, &mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    log(
                        Level::Err,
                        &format!("error while receiving message from child: {e}"),
                    );
                    return;
                }
            };
            let mut data = std::mem::take(&mut self.listeners[i].pending);
            data.extend_from_slice(&buf[..n]);
            let mut chunks = data.chunks_exact(8);
            for rec in &mut chunks {
                let mut b = [0u8; 8];
                b.copy_from_slice(rec);
                let (msg, pid) = decode_status(b);
                self.process_msg(i, msg, pid);
            }
            self.listeners[i].pending = chunks.remainder().to_vec();
            if n < buf.len() {
                return;
            }
        }
    }

    fn process_msg(&mut self, i: usize, msg: i32, pid: i32) {
        let l = &mut self.listeners[i];
        let Some(c) = self.children.get_mut(&pid) else {
            log(
                Level::Debug,
                &format!("message {msg} from unknown child {pid} of {}", l.label()),
            );
            return;
        };
        if c.kind != Kind::Service(i) {
            log(
                Level::Err,
                &format!("child {pid} sent a message on {}'s pipe", l.label()),
            );
            return;
        }
        match Status::from_i32(msg) {
            Some(Status::Available) => {
                if c.state == State::Busy {
                    c.state = State::Ready;
                    l.ready += 1;
                }
            }
            Some(Status::Unavailable) => {
                if c.state == State::Ready {
                    c.state = State::Busy;
                    l.ready -= 1;
                }
            }
            Some(Status::Connection) => {
                l.connections += 1;
                l.ready_fails = 0;
                c.connected = true;
                if c.state == State::Ready {
                    c.state = State::Busy;
                    l.ready -= 1;
                }
            }
            Some(Status::ConnectionMulti) => {
                l.connections += 1;
                l.ready_fails = 0;
                c.connected = true;
                if c.state == State::Busy {
                    c.state = State::Ready;
                    l.ready += 1;
                }
            }
            None => log(
                Level::Err,
                &format!(
                    "unrecognized message {msg:#x} from child {pid} of {}",
                    l.label()
                ),
            ),
        }
    }

    /// SIGHUP: reread cyrus.conf. Kept services keep their sockets and live workers; changed
    /// and removed ones stop listening and their workers are told to finish; new ones bind.
    fn reread(&mut self) {
        log(Level::Notice, "got SIGHUP");
        let conf = match MasterConf::load(&self.conf_path) {
            Ok(c) => c,
            Err(e) => {
                log(Level::Err, &format!("can't reread cyrus.conf: {e}"));
                return;
            }
        };
        for (pid, c) in &self.children {
            if matches!(c.kind, Kind::Service(_)) {
                sys::kill(*pid, libc::SIGHUP);
            }
        }
        let mut kept: Vec<String> = Vec::new();
        for l in &mut self.listeners {
            if !l.enabled && l.socket.is_none() {
                continue;
            }
            let same = conf.services.iter().find(|e| {
                e.name == l.entry.name && e.listen == l.entry.listen && e.proto == l.entry.proto
            });
            match same {
                Some(e) => {
                    l.entry = e.clone();
                    l.enabled = true;
                    l.ready_fails = 0;
                    kept.push(e.name.clone());
                }
                None => {
                    log(Level::Debug, &format!("disable: service {}", l.label()));
                    l.enabled = false;
                    l.socket = None;
                }
            }
        }
        for e in &conf.services {
            if !kept.contains(&e.name) {
                self.add_service(e);
            }
        }
        self.set_events(&conf);
        for d in &mut self.daemons {
            if !conf.daemons.iter().any(|e| e.name == d.entry.name) {
                d.enabled = false;
                if let Some(p) = d.pid {
                    sys::kill(p, libc::SIGTERM);
                }
            }
        }
        for e in &conf.daemons {
            if !self
                .daemons
                .iter()
                .any(|d| d.entry.name == e.name && d.enabled)
            {
                self.daemons.push(Daemon {
                    entry: e.clone(),
                    pid: None,
                    restart_at: Some(Instant::now()),
                    enabled: true,
                });
            }
        }
        log(
            Level::Notice,
            &format!(
                "Services reconfigured. {} listeners in use",
                self.listeners.iter().filter(|l| l.enabled).count()
            ),
        );
    }

    fn begin_shutdown(&mut self) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        log(Level::Notice, "exiting");
        self.shutdown_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
        for l in &mut self.listeners {
            l.socket = None;
            l.enabled = false;
        }
        for pid in self.children.keys() {
            sys::kill(*pid, libc::SIGTERM);
        }
    }

    /// The poll loop; returns when a shutdown has finished.
    pub fn run(&mut self) {
        log(Level::Debug, "ready for work");
        loop {
            let now = Instant::now();
            self.reap();
            if let Some(deadline) = self.shutdown_deadline {
                if self.children.is_empty() {
                    log(Level::Notice, "All children have exited, closing down");
                    return;
                }
                if now >= deadline {
                    for pid in self.children.keys() {
                        sys::kill(*pid, libc::SIGKILL);
                    }
                }
            } else {
                self.top_up(now);
                self.run_events(now);
                for i in 0..self.daemons.len() {
                    let d = &self.daemons[i];
                    if d.enabled && d.pid.is_none() && d.restart_at.is_some_and(|t| t <= now) {
                        self.spawn_daemon(i);
                    }
                }
            }

            let mut fds = vec![libc::pollfd {
                fd: self.signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let mut owners: Vec<(usize, bool)> = Vec::new();
            let mut timeout = Duration::from_secs(5);
            for (i, l) in self.listeners.iter_mut().enumerate() {
                if let Some((r, _)) = &l.status {
                    fds.push(libc::pollfd {
                        fd: r.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    owners.push((i, false));
                }
                if let Some(sock) = l.socket.as_ref().map(|s| s.as_raw_fd()) {
                    if l.enabled && l.ready == 0 && l.active < l.max_workers() {
                        if Self::fork_limited(l, now) {
                            if let Some(t) = l.forks.front() {
                                let wait =
                                    (*t + Duration::from_secs(1)).saturating_duration_since(now);
                                timeout = timeout.min(wait);
                            }
                        } else {
                            fds.push(libc::pollfd {
                                fd: sock,
                                events: libc::POLLIN,
                                revents: 0,
                            });
                            owners.push((i, true));
                        }
                    }
                }
            }
            if self.shutdown_deadline.is_none() {
                for e in &self.events {
                    timeout = timeout.min(e.next.saturating_duration_since(now));
                }
                for d in &self.daemons {
                    if let Some(t) = d.restart_at {
                        timeout = timeout.min(t.saturating_duration_since(now));
                    }
                }
            } else {
                timeout = timeout.min(Duration::from_millis(200));
            }
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            if let Err(e) = sys::poll(&mut fds, ms.max(if timeout.is_zero() { 0 } else { 1 })) {
                log(Level::Err, &format!("poll failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }

            if fds[0].revents != 0 {
                let mut sig = [0u8; 64];
                let n = sys::read_available(self.signals.as_raw_fd(), &mut sig).unwrap_or(0);
                let got = &sig[..n];
                if got.iter().any(|&s| {
                    s as i32 == libc::SIGTERM
                        || s as i32 == libc::SIGINT
                        || s as i32 == libc::SIGQUIT
                }) {
                    self.begin_shutdown();
                } else if got.contains(&(libc::SIGHUP as u8)) && self.shutdown_deadline.is_none() {
                    self.reread();
                }
            }
            // Status first: a worker that just became ready takes the waiting connection.
            for (k, &(i, is_socket)) in owners.iter().enumerate() {
                if !is_socket && fds[k + 1].revents != 0 {
                    self.read_status(i);
                }
            }
            for (k, &(i, is_socket)) in owners.iter().enumerate() {
                if is_socket && fds[k + 1].revents != 0 && self.shutdown_deadline.is_none() {
                    let l = &self.listeners[i];
                    if l.ready == 0 && l.active < l.max_workers() {
                        self.spawn_service(i);
                    }
                }
            }
            // Listeners removed by SIGHUP go once their last worker is gone.
            self.listeners_gc();
        }
    }

    /// Keeps every service at `prefork` ready workers, and babysat ones at one at least.
    fn top_up(&mut self, now: Instant) {
        let _ = now;
        for i in 0..self.listeners.len() {
            loop {
                let l = &self.listeners[i];
                if !l.enabled || l.socket.is_none() || l.active >= l.max_workers() {
                    break;
                }
                let want = l.ready < l.desired() || (l.entry.babysit && l.active == 0);
                if !want || !self.spawn_service(i) {
                    break;
                }
            }
        }
    }

    fn listeners_gc(&mut self) {
        // Indexes are kept in `children`, so a removed listener stays in the table, but its
        // pipe is closed once no worker can write to it any more.
        for l in &mut self.listeners {
            if !l.enabled && l.socket.is_none() && l.active == 0 && l.status.is_some() {
                l.status = None;
                l.pending.clear();
            }
        }
    }
}

/// Waits (up to a minute) for a wait-daemon's `ok\r\n` on `r`.
fn wait_for_ok(r: &OwnedFd) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let mut p = [libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if sys::poll(&mut p, 1000).unwrap_or(0) == 0 {
            continue;
        }
        let mut b = [0u8; 64];
        match sys::read_available(r.as_raw_fd(), &mut b) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
        if got.windows(4).any(|w| w == b"ok\r\n") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::split_listen;

    #[test]
    fn listen_values_split_as_cyrus_does() {
        assert_eq!(split_listen("143"), (None, "143"));
        assert_eq!(split_listen("imap"), (None, "imap"));
        assert_eq!(split_listen("127.0.0.1:143"), (Some("127.0.0.1"), "143"));
        assert_eq!(split_listen("[::1]:143"), (Some("::1"), "143"));
        assert_eq!(
            split_listen("localhost:imaps"),
            (Some("localhost"), "imaps")
        );
        assert_eq!(split_listen(":143"), (None, "143"));
    }
}
