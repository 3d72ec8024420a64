//! The `skiplist` cyrusdb backend. (Being written: opening one fails with `NotImplemented`.)

use super::{Database, ForeachFn, OpenFlags};
use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// An open `skiplist` database.
pub struct Skiplist;

impl Skiplist {
    /// Opens (or with `flags.create`, creates) the database at `path`.
    pub fn open(_path: &Path, _flags: OpenFlags) -> Result<Skiplist> {
        Err(Error::NotImplemented("skiplist backend"))
    }
}

impl Database for Skiplist {
    fn fetch(&mut self, _key: &[u8]) -> Result<Option<Vec<u8>>> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn foreach(&mut self, _prefix: &[u8], _f: &mut ForeachFn<'_>) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn store(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn delete(&mut self, _key: &[u8]) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn begin(&mut self) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn commit(&mut self) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn abort(&mut self) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn in_transaction(&self) -> bool {
        false
    }
    fn consistent(&mut self) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
    fn dump(&mut self, _out: &mut dyn Write, _detail: u32) -> Result<()> {
        Err(Error::NotImplemented("skiplist backend"))
    }
}
