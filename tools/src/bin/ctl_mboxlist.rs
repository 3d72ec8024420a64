//! `ctl_mboxlist`: dump, undump and check mailboxes.db, with Cyrus 3.6's flags and output.
//!
//! `-d [-x] [-y] [-p part]` prints every entry as JSON (`-x` then removes what it printed,
//! `-y` adds intermediate entries), `-u` stores the entries of such a dump read from stdin,
//! `-v` compares the list with the mailbox directories on the partitions, `-f` names another
//! database file, `-u -L` reads the line format of Cyrus before 3.0. The murder modes
//! (`-m -a -w -i`) need an MUPDATE server and are not implemented: they fail with a message.

use cyrus::config::Config;
use cyrus::mboxlist::json;
use cyrus::mboxlist::{Acl, Include, MailboxList, MbType, MboxEntry};
use cyrus::mboxname::InternalName;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::exit;
use tools::fatal;

/// sysexits.h `EX_TEMPFAIL`.
const EX_TEMPFAIL: i32 = 75;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    None,
    Dump,
    Undump,
    Populate,
    Verify,
}

fn usage() -> ! {
    eprint!(
        "DUMP:\n  ctl_mboxlist [-C <alt_config>] -d [-x] [-y] [-p partition] [-f filename]\n\
         UNDUMP:\n  ctl_mboxlist [-C <alt_config>] -u [-f filename] [-L]    [< mboxlist.dump]\n\
         MUPDATE populate:\n  ctl_mboxlist [-C <alt_config>] -m [-a] [-w] [-i] [-f filename]\n\
         VERIFY:\n  ctl_mboxlist [-C <alt_config>] -v [-f filename]\n"
    );
    exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "ctl_mboxlist".into());
    let (opts, _operands) = tools::getopt_long(
        &prog,
        args.get(1..).unwrap_or(&[]),
        "C:Ladf:imp:uvwxyrc",
        &[
            ("legacy", 'L'),
            ("authoritative", 'a'),
            ("dump", 'd'),
            ("filename", 'f'),
            ("interactive", 'i'),
            ("sync-mupdate", 'm'),
            ("partition", 'p'),
            ("undump", 'u'),
            ("verify", 'v'),
            ("warn-only", 'w'),
            ("remove-dumped", 'x'),
            ("include-intermediaries", 'y'),
        ],
    );
    let mut given: Vec<(char, Option<String>)> = Vec::new();
    for o in opts {
        match o {
            tools::Opt::Flag(c) => given.push((c, None)),
            tools::Opt::Arg(c, v) => given.push((c, Some(v))),
            tools::Opt::Bad(msg) => {
                eprintln!("{msg}");
                usage();
            }
        }
    }
    let present = |flag: char| given.iter().any(|(c, _)| *c == flag);
    let values = |flag: char| -> Vec<String> {
        given
            .iter()
            .filter(|(c, _)| *c == flag)
            .filter_map(|(_, v)| v.clone())
            .collect()
    };
    let files = values('f');
    if files.len() > 1 || present('r') || present('c') {
        usage();
    }
    let mut op = Op::None;
    for (flag, o) in [
        ('d', Op::Dump),
        ('u', Op::Undump),
        ('m', Op::Populate),
        ('v', Op::Verify),
    ] {
        if present(flag) {
            if op != Op::None {
                usage();
            }
            op = o;
        }
    }
    let partition = values('p').pop();
    let purge = present('x');
    let intermediates = present('y');
    if op != Op::Populate && (present('a') || present('w')) {
        usage();
    }
    if op != Op::Dump && (partition.is_some() || purge || intermediates) {
        usage();
    }
    if op != Op::Undump && present('L') {
        usage();
    }
    let config = tools::init(values('C').pop().as_deref(), "ctl_mboxlist");
    if op == Op::None {
        usage();
    }
    let mut list = match MailboxList::open(&config, files.first().map(Path::new)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("DBERROR: opening mailboxes list: {e}");
            fatal("can't read mailboxes file", EX_TEMPFAIL);
        }
    };
    let result = match op {
        Op::Dump => dump(&mut list, partition.as_deref(), purge, intermediates),
        Op::Undump if present('L') => undump_legacy(&mut list),
        Op::Undump => undump(&mut list),
        Op::Verify => verify(&config, &mut list),
        Op::Populate => {
            eprintln!("couldn't connect to mupdate server");
            exit(1);
        }
        Op::None => usage(),
    };
    if let Err(e) = result {
        eprintln!("{prog}: {e}");
        exit(EX_TEMPFAIL);
    }
}

fn io_err(e: io::Error) -> cyrus::Error {
    cyrus::Error::io("<stdout>", e)
}

fn dump(
    list: &mut MailboxList,
    partition: Option<&str>,
    purge: bool,
    intermediates: bool,
) -> cyrus::Result<()> {
    let include = Include {
        deleted: true,
        intermediate: intermediates,
        reserved: true,
    };
    let entries: Vec<MboxEntry> = list
        .all(include)?
        .into_iter()
        .filter(|e| partition.is_none_or(|p| e.partition.as_deref().unwrap_or("") == p))
        .collect();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    writeln!(out, "{{").map_err(io_err)?;
    for (i, e) in entries.iter().enumerate() {
        let sep = if i == 0 { "" } else { ",\n" };
        write!(out, "{sep}{}", json::dump_entry(e)).map_err(io_err)?;
        if purge {
            list.delete(&e.name)?;
        }
    }
    writeln!(out, "\n}}").map_err(io_err)?;
    out.flush().map_err(io_err)
}

fn undump(list: &mut MailboxList) -> cyrus::Result<()> {
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| cyrus::Error::io("<stdin>", e))?;
    let doc = match json::parse(&input) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("parse error at line {}: {}", e.line, e.what);
            return Ok(());
        }
    };
    let json::Json::Object(members) = doc else {
        return Ok(());
    };
    for (name, value) in &members {
        let u = json::undump_entry(name, value);
        for w in &u.warnings {
            eprintln!("{w}");
        }
        if let Some(mut e) = u.entry {
            e.mtime = cyrus::mboxlist::now();
            if let Err(err) = list.store(&e) {
                eprintln!("error storing {name}: {err}");
            }
        }
    }
    Ok(())
}

/// A cursor over one line of the legacy dump, read the way `sscanf` reads it.
struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while self.b.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    /// `%[^stop]`: one or more bytes up to `stop`.
    fn until(&mut self, stop: u8) -> Option<&'a [u8]> {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(|&c| c != stop) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.b[start..self.pos])
    }

    /// `%s`: skips white space, then one or more other bytes.
    fn word(&mut self) -> Option<&'a [u8]> {
        self.ws();
        let start = self.pos;
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| !c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.b[start..self.pos])
    }

    /// `%d` / `%u`: skips white space, then an optionally signed decimal number.
    fn int(&mut self) -> Option<i64> {
        self.ws();
        let start = self.pos;
        if matches!(self.b.get(self.pos), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let s = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
        let v = s.parse::<i64>().ok();
        if v.is_none() {
            self.pos = start;
        }
        v
    }

    fn lit(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The fields of one legacy line:
/// `name TAB type partition acl>uniqueid mtime uidvalidity foldermodseq createdmodseq specialuse`
/// (the ACL may be missing). Reading stops at the first field that does not match, leaving
/// the rest unset, as `sscanf` does.
fn scan_legacy(line: &[u8], with_acl: bool) -> (Option<String>, MboxEntryFields) {
    let mut f = MboxEntryFields::default();
    let mut s = Scan { b: line, pos: 0 };
    let Some(name) = s.until(b'\t') else {
        return (None, f);
    };
    let name = text(name);
    s.ws();
    let _ = (|| {
        f.mbtype = Some(s.int()?);
        f.partition = Some(text(s.word()?));
        s.ws();
        if with_acl {
            f.acl = Some(text(s.until(b'>')?));
        }
        s.lit(b'>')?;
        f.uniqueid = Some(text(s.word()?));
        f.mtime = s.int()?;
        f.uidvalidity = s.int()?;
        f.foldermodseq = s.int()?;
        f.createdmodseq = s.int()?;
        f.specialuse = Some(text(s.until(b'\n')?));
        Some(())
    })();
    (Some(name), f)
}

#[derive(Default)]
struct MboxEntryFields {
    mbtype: Option<i64>,
    partition: Option<String>,
    acl: Option<String>,
    uniqueid: Option<String>,
    mtime: i64,
    uidvalidity: i64,
    foldermodseq: i64,
    createdmodseq: i64,
    specialuse: Option<String>,
}

/// `-u -L`: stores the entries of a pre-3.0 line dump read from stdin.
fn undump_legacy(list: &mut MailboxList) -> cyrus::Result<()> {
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| cyrus::Error::io("<stdin>", e))?;
    for (n, line) in input.split_inclusive(|&b| b == b'\n').enumerate() {
        let line_no = n + 1;
        let (name, mut f) = scan_legacy(line, true);
        if f.acl.is_none() {
            // Entries without an ACL (calendar and addressbook homes) have no ACL field.
            f = scan_legacy(line, false).1;
        }
        let Some(part) = f.partition.take() else {
            eprintln!("line {line_no}: no partition found");
            continue;
        };
        let name = name.unwrap_or_default();
        if name.len() >= 1024 {
            eprintln!("line {line_no}: mailbox name too long");
            continue;
        }
        let (server, part) = match part.split_once('!') {
            Some((s, p)) => (Some(s.to_string()), p.to_string()),
            None => (None, part),
        };
        if part.len() >= 64 {
            eprintln!("line {line_no}: partition name too long");
            continue;
        }
        let Ok(iname) = InternalName::new(name.as_str()) else {
            eprintln!("line {line_no}: bad mailbox name");
            continue;
        };
        let mut e = MboxEntry::new(iname);
        e.mbtype = MbType::from_bits(f.mbtype.unwrap_or(0) as u32);
        e.partition = Some(part);
        e.server = server;
        e.acl = f.acl.as_deref().map(Acl::from_tabbed);
        e.uniqueid = f.uniqueid;
        e.uidvalidity = f.uidvalidity as u32;
        e.foldermodseq = f.foldermodseq.max(0) as u64;
        e.createdmodseq = f.createdmodseq.max(0) as u64;
        e.legacy_specialuse = f.specialuse;
        e.mtime = cyrus::mboxlist::now();
        let _ = f.mtime;
        if let Err(err) = list.store(&e) {
            eprintln!("error storing {name}: {err}");
            break;
        }
    }
    Ok(())
}

/// A directory `-v` found while walking a partition.
struct Found {
    kind: u8,
    name: String,
    part: String,
    path: String,
}

const ROOT: u8 = 1;
const DOMAIN: u8 = 2;
const MBOX: u8 = 4;

/// Reports entries whose directory is missing and mailbox directories no entry names.
///
/// This walks partitions the way Cyrus 3.6.1 does, by name only: `uuid/` directories are
/// not understood, so with the uuid layout every mailbox is reported as missing, exactly as
/// Cyrus reports it. Entries and directories are merged in their two sort orders (entries
/// in mailboxes.db order, directories by byte order of their dotted names), which is also
/// what Cyrus does.
fn verify(config: &Config, list: &mut MailboxList) -> cyrus::Result<()> {
    let mut found: Vec<Found> = Vec::new();
    let meta_headers = config.bitfield("metapartition_files").contains(&"header");
    for (key, value) in config.overflow() {
        let (part, is_meta) = if let Some(p) = key.strip_prefix("partition-") {
            (p, false)
        } else if let Some(p) = key.strip_prefix("metapartition-").filter(|_| meta_headers) {
            (p, true)
        } else {
            continue;
        };
        match found.iter_mut().find(|f| f.part == part) {
            Some(f) if is_meta => f.path = value.to_string(),
            Some(_) => {}
            None => found.push(Found {
                kind: ROOT,
                name: String::new(),
                part: part.to_string(),
                path: value.to_string(),
            }),
        }
    }
    let hashed = config.switch("hashimapspool");
    let full = config.switch("fulldirhash");
    let virtdomains = config.string("virtdomains").unwrap_or("off") != "off";
    let mut i = 0;
    while i < found.len() {
        if hashed && found[i].kind & ROOT != 0 {
            let (first, rest) = if full {
                ('A', 'B'..='Z')
            } else {
                ('a', 'b'..='z')
            };
            let base = found[i].path.clone();
            found[i].path = format!("{base}/{first}");
            found[i].kind &= !ROOT;
            let (kind, name, part) = (found[i].kind, found[i].name.clone(), found[i].part.clone());
            for c in rest {
                found.push(Found {
                    kind,
                    name: name.clone(),
                    part: part.clone(),
                    path: format!("{base}/{c}"),
                });
            }
            if virtdomains && kind == 0 {
                found.push(Found {
                    kind: DOMAIN | ROOT,
                    name,
                    part,
                    path: format!("{base}/domain"),
                });
            }
        }
        // A symlink loop must not grow the walk forever.
        let too_deep = found[i].path.matches('/').count() > 256;
        let dir = if too_deep {
            None
        } else {
            std::fs::read_dir(&found[i].path).ok()
        };
        let Some(dir) = dir else {
            i += 1;
            continue;
        };
        let mut children = Vec::new();
        for ent in dir.flatten() {
            let d = ent.file_name().to_string_lossy().into_owned();
            if d.starts_with('.') {
                continue;
            }
            if d == "cyrus.header" {
                found[i].kind |= MBOX;
                continue;
            }
            let parent = &found[i];
            if d.contains('.') && parent.kind & DOMAIN == 0 {
                continue;
            }
            let mut name = parent.name.clone();
            let mut kind = 0;
            if virtdomains && parent.kind == ROOT && d == "domain" {
                kind = DOMAIN | ROOT;
            } else if name.is_empty() && parent.kind & DOMAIN != 0 {
                name = format!("{d}!");
                kind = DOMAIN | ROOT;
            } else {
                if !name.is_empty() && parent.kind & DOMAIN == 0 {
                    name.push('.');
                }
                name.push_str(&d);
            }
            children.push(Found {
                kind,
                name,
                part: parent.part.clone(),
                path: format!("{}/{d}", parent.path),
            });
        }
        found.extend(children);
        i += 1;
    }
    found.retain(|f| f.kind & MBOX != 0);
    found.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut idx = 0;
    let include = Include {
        deleted: true,
        intermediate: false,
        reserved: true,
    };
    for e in list.all(include)? {
        let name = e.name.as_str();
        loop {
            let here = found.get(idx);
            match here.map(|f| name.as_bytes().cmp(f.name.as_bytes())) {
                Some(std::cmp::Ordering::Greater) => {
                    if let Some(f) = here {
                        writeln!(
                            out,
                            "'{}' has a directory '{}' but no DB entry",
                            f.name, f.path
                        )
                        .map_err(io_err)?;
                    }
                    idx += 1;
                }
                Some(std::cmp::Ordering::Equal) => {
                    idx += 1;
                    break;
                }
                _ => {
                    let part = e.partition.as_deref().unwrap_or("(null)");
                    writeln!(
                        out,
                        "'{name}' has a DB entry but no directory on partition '{part}'"
                    )
                    .map_err(io_err)?;
                    break;
                }
            }
        }
    }
    out.flush().map_err(io_err)
}
