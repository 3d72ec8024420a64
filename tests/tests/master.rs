//! master and the worker contract, with real processes on 127.0.0.1: our master running our
//! echo worker (prefork, maxuse, maxchild, replacement of killed workers, SIGHUP, SIGTERM,
//! START, EVENTS), and Debian's master running our worker.

use std::path::PathBuf;
use std::time::Duration;

use e2e::*;

const ECHO: &str = env!("CARGO_BIN_EXE_cyrus_echo_worker");

/// A scratch instance: imapd.conf with a configdirectory holding socket/, plus cyrus.conf.
struct Instance {
    dir: Scratch,
    conf: PathBuf,
    cyrus_conf: PathBuf,
}

impl Instance {
    fn new(tag: &str, cyrus_conf: &str) -> Instance {
        let dir = Scratch::new(tag);
        std::fs::create_dir_all(dir.join("conf/socket")).expect("mkdir");
        let conf = dir.write(
            "imapd.conf",
            &format!("configdirectory: {}\n", dir.join("conf").display()),
        );
        let cyrus_conf = dir.write("cyrus.conf", cyrus_conf);
        dir.give_to_cyrus();
        Instance {
            dir,
            conf,
            cyrus_conf,
        }
    }

    fn echo_cmd(&self, extra: &str) -> String {
        format!("{ECHO} -C {} {extra}", self.conf.display())
    }

    fn ours(&self) -> Master {
        Master::start(&our_bin("master"), &self.dir, &self.conf, &self.cyrus_conf)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("master.log")).unwrap_or_default()
    }
}

/// Waits until master has at least `n` echo workers (a worker that has just finished a
/// session may not have said "available" before the next client arrives, and then master
/// forks one more, as Cyrus's does); returns their pids.
fn wait_at_least(m: &mut Master, n: usize) -> Vec<u32> {
    wait_for(&format!("{n} or more echo workers"), SOON, || {
        let w = m.workers("cyrus_echo_worker");
        (w.len() >= n).then_some(w)
    })
}

/// Waits until master has exactly `n` echo workers; returns their pids.
fn wait_workers(m: &mut Master, n: usize) -> Vec<u32> {
    wait_for(&format!("{n} echo workers"), SOON, || {
        let w = m.workers("cyrus_echo_worker");
        (w.len() == n).then_some(w)
    })
}

#[test]
fn prefork_keeps_idle_workers() {
    let port = free_port();
    let mut inst = Instance::new("prefork", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=3\n}}\n",
        inst.echo_cmd("")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    let idle = wait_workers(&mut m, 3);

    // One client holds a worker busy: master forks another to keep three idle.
    let mut c = Client::connect(port);
    let greeting = c.line();
    assert!(greeting.starts_with("+OK echo echo "), "{greeting}");
    let all = wait_workers(&mut m, 4);
    assert!(idle.iter().all(|p| all.contains(p)));
    c.send("QUIT");
    assert_eq!(c.line(), "+OK bye");
}

#[test]
fn maxuse_is_respected_and_used_workers_exit() {
    let port = free_port();
    let mut inst = Instance::new("maxuse", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=1\n}}\n",
        inst.echo_cmd("-U 2")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    wait_workers(&mut m, 1);
    let mut served: Vec<u32> = Vec::new();
    for _ in 0..8 {
        served.push(echo_once(port));
    }
    for p in &served {
        let uses = served.iter().filter(|q| *q == p).count();
        assert!(uses <= 2, "worker {p} served {uses} connections with -U 2");
    }
    // A worker that reached its limit is gone, and prefork still holds.
    for p in &served {
        if served.iter().filter(|q| *q == p).count() == 2 {
            wait_for("a used-up worker to exit", SOON, || {
                (!alive(*p)).then_some(())
            });
        }
    }
    wait_at_least(&mut m, 1);
}

#[test]
fn killed_worker_is_replaced() {
    let port = free_port();
    let mut inst = Instance::new("kill", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=2\n}}\n",
        inst.echo_cmd("")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    let before = wait_workers(&mut m, 2);
    signal(before[0], libc::SIGKILL);
    let after = wait_for("a replacement worker", SOON, || {
        let w = m.workers("cyrus_echo_worker");
        (w.len() == 2 && !w.contains(&before[0])).then_some(w)
    });
    assert!(after.contains(&before[1]));
    echo_once(port);
    wait_for("the death to be logged", SOON, || {
        inst.log()
            .contains(&format!("pid:{} exited, signaled to death by 9", before[0]))
            .then_some(())
    });
}

#[test]
fn maxchild_queues_the_extra_connection() {
    let port = free_port();
    let mut inst = Instance::new("maxchild", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=0 maxchild=1\n}}\n",
        inst.echo_cmd("")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    let mut first = Client::connect(port);
    assert!(first.line().starts_with("+OK echo"));
    // The second client waits in the listen queue while the only worker is busy.
    let mut second = Client::connect(port);
    second.set_timeout(Duration::from_millis(1500));
    assert_eq!(second.line(), "", "no second worker beyond maxchild=1");
    assert_eq!(m.workers("cyrus_echo_worker").len(), 1);
    first.send("QUIT");
    assert_eq!(first.line(), "+OK bye");
    second.set_timeout(SOON);
    assert!(second.line().starts_with("+OK echo"));
}

#[test]
fn sigterm_ends_everything() {
    let port = free_port();
    let mut inst = Instance::new("term", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=2\n}}\n",
        inst.echo_cmd("")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    wait_workers(&mut m, 2);
    let mut busy = Client::connect(port);
    assert!(busy.line().starts_with("+OK echo"));
    wait_workers(&mut m, 3);
    let tree = tree_of(m.pid());
    signal(m.pid(), libc::SIGTERM);
    let status = m.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "master exit status {status:?}");
    for p in tree.iter().skip(1) {
        wait_for(&format!("process {p} to be gone"), SOON, || {
            (!alive(*p)).then_some(())
        });
    }
    assert!(inst.log().contains("All children have exited"));
}

#[test]
fn start_runs_before_listeners_and_events_fire() {
    let port = free_port();
    let inst0 = Instance::new("start", "");
    let dir = inst0.dir.path().to_path_buf();
    // START records whether the service port already answered when it ran.
    let probe = inst0.dir.script(
        "probe",
        &format!(
            "if python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>/dev/null; \
             then echo open > {d}/start.out; else echo closed > {d}/start.out; fi",
            d = dir.display()
        ),
    );
    let tick = inst0
        .dir
        .script("tick", &format!("echo x >> {}/ticks.out", dir.display()));
    let once = inst0
        .dir
        .script("once", &format!("echo x >> {}/once.out", dir.display()));
    let clock = inst0.dir.script(
        "clock",
        &format!("date +%H%M >> {}/clock.out", dir.display()),
    );
    // An `at` event two minutes ahead in local time (the same zone master uses): far enough
    // that master is up before it is due, near enough to wait for.
    let at = std::process::Command::new("date")
        .args(["-d", "+2 minutes", "+%H%M"])
        .output()
        .expect("date");
    let at = String::from_utf8_lossy(&at.stdout).trim().to_string();
    let conf = format!(
        "START {{\n  probe cmd=\"{}\"\n}}\nSERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\"\n}}\n\
         EVENTS {{\n  tick cmd=\"{}\" period=1\n  once cmd=\"{}\"\n  clock cmd=\"{}\" at={at}\n}}\n",
        probe.display(),
        inst0.echo_cmd(""),
        tick.display(),
        once.display(),
        clock.display()
    );
    let mut inst = inst0;
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    inst.dir.give_to_cyrus();
    let _m = inst.ours();
    echo_once(port);
    let start = std::fs::read_to_string(dir.join("start.out")).expect("START ran");
    assert_eq!(
        start.trim(),
        "closed",
        "START must finish before listeners open"
    );

    let count = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    // Periodic events run at start-up, then every `period` minutes.
    wait_for("the first tick", SOON, || {
        (count("ticks.out") >= 1).then_some(())
    });
    wait_for("a one-shot event at start-up", SOON, || {
        (count("once.out") == 1).then_some(())
    });
    wait_for(
        "the second tick, a minute later",
        Duration::from_secs(150),
        || (count("ticks.out") >= 2).then_some(()),
    );
    assert_eq!(count("once.out"), 1, "an event without period runs once");
    // The `at` event runs once, at its minute, not at start-up.
    wait_for("the at= event", Duration::from_secs(200), || {
        (count("clock.out") >= 1).then_some(())
    });
    let ran = std::fs::read_to_string(dir.join("clock.out")).unwrap_or_default();
    assert_eq!(ran.trim(), at, "the at= event ran at {at}");
}

#[test]
fn sighup_adds_and_removes_services() {
    let (a, b) = (free_port(), free_port());
    let mut inst = Instance::new("hup", "");
    let svc = |name: &str, port: u16| {
        format!(
            "  {name} cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=1\n",
            inst.echo_cmd("")
        )
    };
    let conf_a = format!("SERVICES {{\n{}}}\n", svc("first", a));
    let conf_b = format!("SERVICES {{\n{}}}\n", svc("second", b));
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf_a);
    let mut m = inst.ours();
    wait_workers(&mut m, 1);
    echo_once(a);
    inst.dir.write("cyrus.conf", &conf_b);
    signal(m.pid(), libc::SIGHUP);
    wait_for("the new service to answer", SOON, || {
        std::net::TcpStream::connect(("127.0.0.1", b)).ok()
    });
    let mut c = Client::connect(b);
    assert!(c.line().starts_with("+OK echo second "));
    wait_for("the removed service to stop listening", SOON, || {
        std::net::TcpStream::connect(("127.0.0.1", a))
            .is_err()
            .then_some(())
    });
}

#[test]
fn debian_master_runs_our_worker() {
    let Some(debian) = debian_bin("master") else {
        eprintln!("skipped: Debian's cyrus master is not installed");
        return;
    };
    if !is_root() || cyrus_ids().is_none() {
        eprintln!("skipped: Debian's master needs root and the cyrus user");
        return;
    }
    let port = free_port();
    let mut inst = Instance::new("debian", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=2\n}}\n",
        inst.echo_cmd("-U 2")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = Master::start(&debian, &inst.dir, &inst.conf, &inst.cyrus_conf);
    wait_workers(&mut m, 2);
    let mut served = Vec::new();
    for _ in 0..6 {
        served.push(echo_once(port));
    }
    for p in &served {
        assert!(served.iter().filter(|q| *q == p).count() <= 2);
    }
    // Our workers' status reports keep Debian's accounting right: with everyone idle again,
    // prefork holds, and workers that reached -U 2 are gone.
    wait_for("prefork=2 to hold under Debian's master", SOON, || {
        let w = m.workers("cyrus_echo_worker");
        (w.len() >= 2
            && w.iter()
                .all(|p| served.iter().filter(|q| *q == p).count() < 2))
        .then_some(())
    });
    // While one client holds a worker, two others stay idle.
    let mut c = Client::connect(port);
    let greeting = c.line();
    assert!(greeting.starts_with("+OK echo"), "{greeting}");
    wait_at_least(&mut m, 3);
    c.send("QUIT");
    assert_eq!(c.line(), "+OK bye");
}

#[test]
fn maxforkrate_holds_under_a_connection_storm() {
    let port = free_port();
    let mut inst = Instance::new("forkrate", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=0 maxforkrate=2\n}}\n",
        inst.echo_cmd("")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let _m = inst.ours();
    // Eight clients at once, each holding its worker: master may fork only two per second,
    // so eight forks span three seconds at least; allow a second of start-up skew
    // between the first and the last worker.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                let g = c.line();
                let at = std::time::Instant::now();
                (c, g, at)
            })
        })
        .collect();
    let mut done: Vec<_> = clients
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    for (_, g, _) in &done {
        assert!(g.starts_with("+OK echo"), "{g}");
    }
    done.sort_by_key(|(_, _, at)| *at);
    let spread = done[7].2 - done[0].2;
    assert!(
        spread >= Duration::from_millis(2000),
        "8 forks at maxforkrate=2 took only {spread:?}"
    );
    for (c, _, _) in &mut done {
        c.send("QUIT");
    }
}

#[test]
fn daemon_is_restarted() {
    let inst0 = Instance::new("daemon", "");
    let script = inst0.dir.script("idler", "exec sleep 600");
    let mut inst = inst0;
    inst.cyrus_conf = inst.dir.write(
        "cyrus.conf",
        &format!("DAEMON {{\n  idler cmd=\"{}\"\n}}\n", script.display()),
    );
    inst.dir.give_to_cyrus();
    let m = inst.ours();
    let first = wait_for("the daemon to start", SOON, || {
        children_of(m.pid())
            .into_iter()
            .find(|p| cmdline(*p).contains("sleep"))
    });
    signal(first, libc::SIGKILL);
    let second = wait_for("the daemon to be restarted", SOON, || {
        children_of(m.pid())
            .into_iter()
            .find(|p| *p != first && cmdline(*p).contains("sleep"))
    });
    assert!(std::fs::read_to_string(format!("/proc/{second}/environ"))
        .unwrap_or_default()
        .contains("CYRUS_ISDAEMON=1"));
}

#[test]
fn idle_worker_leaves_after_its_reuse_timeout() {
    let port = free_port();
    let mut inst = Instance::new("reuse", "");
    let conf = format!(
        "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\" prefork=0\n}}\n",
        inst.echo_cmd("-T 1")
    );
    inst.cyrus_conf = inst.dir.write("cyrus.conf", &conf);
    let mut m = inst.ours();
    let pid = echo_once(port);
    // -T 1 means an idle wait of one to two seconds once a worker has served somebody.
    wait_for("the used worker to time out", SOON, || {
        (!alive(pid)).then_some(())
    });
    wait_for("no workers left (prefork=0)", SOON, || {
        m.workers("cyrus_echo_worker").is_empty().then_some(())
    });
    echo_once(port);
}

#[test]
fn sigterm_kills_what_ignores_it_after_the_grace_period() {
    let inst0 = Instance::new("stubborn", "");
    // The shell ignores SIGTERM, and so does the `sleep` it runs (ignored signals survive exec).
    let script = inst0
        .dir
        .script("stubborn", "trap '' TERM\nwhile :; do sleep 1; done");
    let mut inst = inst0;
    inst.cyrus_conf = inst.dir.write(
        "cyrus.conf",
        &format!("DAEMON {{\n  stubborn cmd=\"{}\"\n}}\n", script.display()),
    );
    inst.dir.give_to_cyrus();
    let mut m = inst.ours();
    let daemon = wait_for("the daemon to start", SOON, || {
        children_of(m.pid())
            .into_iter()
            .find(|p| cmdline(*p).contains("stubborn"))
    });
    signal(m.pid(), libc::SIGTERM);
    let status = m.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    assert!(!alive(daemon), "the daemon outlived master");
}

#[test]
fn wait_daemon_says_ok_before_services_listen() {
    let port = free_port();
    let inst0 = Instance::new("waitd", "");
    let dir = inst0.dir.path().to_path_buf();
    let script = inst0.dir.script(
        "waiter",
        &format!(
            "if python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' 2>/dev/null; \
             then echo open > {d}/waiter.out; else echo closed > {d}/waiter.out; fi\n\
             printf 'ok\\r\\n' >&3\nexec sleep 600",
            d = dir.display()
        ),
    );
    let mut inst = inst0;
    inst.cyrus_conf = inst.dir.write(
        "cyrus.conf",
        &format!(
            "SERVICES {{\n  echo cmd=\"{}\" listen=\"127.0.0.1:{port}\"\n}}\nDAEMON {{\n  waiter cmd=\"{}\" wait=y\n}}\n",
            inst.echo_cmd(""),
            script.display()
        ),
    );
    inst.dir.give_to_cyrus();
    let _m = inst.ours();
    echo_once(port);
    let seen = std::fs::read_to_string(dir.join("waiter.out")).expect("wait-daemon ran");
    assert_eq!(seen.trim(), "closed", "a wait-daemon runs before listeners");
    assert!(!inst.log().contains("did not write"), "{}", inst.log());
}
