//! The one error type of the `cyrus` crate.
//!
//! Database errors keep the distinctions Cyrus's cyrusdb layer makes (`CYRUSDB_NOTFOUND`,
//! `CYRUSDB_EXISTS`, `CYRUSDB_LOCKED`, ...) because callers act on them; everything read from
//! disk or from a user that does not parse is `Corrupt` or `Config`, never a panic.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result with the crate's error type.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `cyrus`.
#[derive(Debug)]
pub enum Error {
    /// An operating-system call failed on `path`.
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file's bytes do not follow its format.
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What was wrong, for the log.
        what: String,
    },
    /// The key or file asked for does not exist (`CYRUSDB_NOTFOUND`).
    NotFound,
    /// The thing to create exists already (`CYRUSDB_EXISTS`).
    Exists,
    /// A lock could not be had, or a transaction is held elsewhere (`CYRUSDB_LOCKED`).
    Locked,
    /// The operation is not supported by this backend (`CYRUSDB_NOTIMPLEMENTED`).
    NotImplemented(&'static str),
    /// A configuration file is wrong at `file:line`.
    Config {
        /// The file.
        file: PathBuf,
        /// 1-based line number, 0 when the error is not tied to a line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A caller asked for something the API does not allow (a bug, not bad data).
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Reports a file whose content breaks its format.
    pub fn corrupt(path: impl Into<PathBuf>, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.into(),
            what: what.into(),
        }
    }

    /// The numeric code Cyrus's cyrusdb layer would have returned (`CYRUSDB_*`).
    pub fn cyrusdb_code(&self) -> i32 {
        match self {
            Error::Io { .. } | Error::Corrupt { .. } | Error::Config { .. } => -1,
            Error::Exists => -3,
            Error::Usage(_) => -4,
            Error::NotFound => -5,
            Error::Locked => -6,
            Error::NotImplemented(_) => -7,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Corrupt { path, what } => write!(f, "{}: corrupt: {}", path.display(), what),
            Error::NotFound => f.write_str("not found"),
            Error::Exists => f.write_str("already exists"),
            Error::Locked => f.write_str("locked"),
            Error::NotImplemented(what) => write!(f, "not implemented: {what}"),
            Error::Config { file, line: 0, msg } => write!(f, "{}: {}", file.display(), msg),
            Error::Config { file, line, msg } => write!(f, "{}:{}: {}", file.display(), line, msg),
            Error::Usage(msg) => write!(f, "usage error: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
