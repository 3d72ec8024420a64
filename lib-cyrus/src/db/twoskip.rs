//! The `twoskip` cyrusdb backend. (Being written: opening one fails with `NotImplemented`.)

use super::{Database, ForeachFn, OpenFlags};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// An open `twoskip` database.
pub struct Twoskip;

impl Twoskip {
    /// Opens (or with `flags.create`, creates) the database at `path`.
    pub fn open(_path: &Path, _flags: OpenFlags) -> Result<Twoskip> {
        Err(Error::NotImplemented("twoskip backend"))
    }
}

impl Database for Twoskip {
    fn fetch(&mut self, _key: &[u8]) -> Result<Option<Vec<u8>>> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn foreach(&mut self, _prefix: &[u8], _f: &mut ForeachFn<'_>) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn store(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn delete(&mut self, _key: &[u8]) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn begin(&mut self) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn commit(&mut self) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn abort(&mut self) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn in_transaction(&self) -> bool {
        false
    }
    fn consistent(&mut self) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
    fn dump(&mut self, _out: &mut dyn Write, _detail: u32) -> Result<()> {
        Err(Error::NotImplemented("twoskip backend"))
    }
}
