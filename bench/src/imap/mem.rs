//! Memory per idle connection: finds the worker processes that hold given client connections
//! (server-side sockets in /proc/net/tcp, matched to the workers' descriptors) and sums their
//! VmRSS (/proc/<pid>/status) and Pss (/proc/<pid>/smaps_rollup). Needs root to read other
//! users' descriptors.

use std::collections::HashSet;

/// Memory of the workers serving a set of connections, in KiB.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mem {
    /// Distinct worker processes found holding the connections.
    pub procs: usize,
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// The anonymous part of Pss (heap, stacks, written copies): what a connection adds.
    pub anon_kb: u64,
}

/// Socket inodes of 127.0.0.1:`server_port` whose peer port is one of `client_ports`.
fn server_inodes(server_port: u16, client_ports: &HashSet<u16>) -> HashSet<u64> {
    let mut out = HashSet::new();
    let Ok(text) = std::fs::read_to_string("/proc/net/tcp") else {
        return out;
    };
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let port = |a: &str| {
            a.rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        if port(f[1]) == Some(server_port) && port(f[2]).is_some_and(|p| client_ports.contains(&p))
        {
            if let Ok(inode) = f[9].parse() {
                out.insert(inode);
            }
        }
    }
    out
}

/// Whether `pid` has one of `inodes` open.
fn holds(pid: u32, inodes: &HashSet<u64>) -> bool {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::read_link(e.path()).ok().is_some_and(|t| {
            t.to_str()
                .and_then(|s| s.strip_prefix("socket:["))
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
                .is_some_and(|i: u64| inodes.contains(&i))
        })
    })
}

/// `key:   1234 kB` from a /proc file.
fn kb(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Memory of those of `candidates` that serve the connections from `client_ports`.
pub fn for_connections(server_port: u16, client_ports: &[u16], candidates: &[u32]) -> Mem {
    let ports: HashSet<u16> = client_ports.iter().copied().collect();
    let inodes = server_inodes(server_port, &ports);
    let mut m = Mem::default();
    for &p in candidates {
        if holds(p, &inodes) {
            m.procs += 1;
            m.rss_kb += kb(&format!("/proc/{p}/status"), "VmRSS:");
            let rollup = format!("/proc/{p}/smaps_rollup");
            m.pss_kb += kb(&rollup, "Pss:");
            m.anon_kb += kb(&rollup, "Pss_Anon:");
        }
    }
    m
}
