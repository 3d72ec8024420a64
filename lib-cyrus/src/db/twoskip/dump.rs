//! `cyr_dbtool ... twoskip dump`: every record of the file in file order, as Cyrus prints it.

use super::format::{self, rtype};
use super::Twoskip;
use crate::error::{Error, Result};
use std::io::Write;

/// Writes the header line and one entry per record (including superseded records, DELETE
/// and COMMIT markers and BLANK filler) up to the committed end of the file.
pub(super) fn dump(db: &mut Twoskip, out: &mut dyn Write, _detail: u32) -> Result<()> {
    let io = |e| Error::io("<output>", e);
    let h = db.header;
    writeln!(
        out,
        "HEADER: v={} fl={} num={} sz=({:08X}/{:08X})",
        format::VERSION,
        h.flags,
        db.end_records(),
        db.end(),
        h.repack_size
    )
    .map_err(io)?;
    let mut off = format::DUMMY_OFFSET;
    while off < db.end() {
        if db.bytes(off..off + 8)? == format::BLANK {
            writeln!(out, "{off:08X} BLANK").map_err(io)?;
            off += 8;
            continue;
        }
        let r = db.rec(off)?;
        match r.rtype {
            rtype::DELETE => {
                writeln!(out, "{off:08X} DELETE ptr={:08X}", db.slot(&r, 0)?).map_err(io)?;
            }
            rtype::COMMIT => {
                writeln!(out, "{off:08X} COMMIT start={:08X}", db.slot(&r, 0)?).map_err(io)?;
            }
            _ => {
                let name = if r.rtype == rtype::DUMMY {
                    "DUMMY"
                } else {
                    "RECORD"
                };
                write!(
                    out,
                    "{off:08X} {name} kl={} dl={} lvl={} (",
                    r.keylen, r.vallen, r.level
                )
                .map_err(io)?;
                // Cyrus prints a NUL in a key as '-' and every other byte as it is.
                let shown: Vec<u8> = db
                    .key(&r)?
                    .iter()
                    .map(|&b| if b == 0 { b'-' } else { b })
                    .collect();
                out.write_all(&shown).map_err(io)?;
                writeln!(out, ")\n\t{:08X} ", db.slot(&r, 0)?).map_err(io)?;
                // Cyrus breaks the line after every eighth slot and always ends with one,
                // so a level that is a multiple of 8 leaves a line holding only a TAB.
                write!(out, "\t").map_err(io)?;
                for i in 1..=r.level as usize {
                    write!(out, "{:08X} ", db.slot(&r, i)?).map_err(io)?;
                    if i % 8 == 0 {
                        write!(out, "\n\t").map_err(io)?;
                    }
                }
                writeln!(out).map_err(io)?;
            }
        }
        off += r.len();
    }
    Ok(())
}
