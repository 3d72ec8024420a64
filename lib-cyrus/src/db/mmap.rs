//! A read-only shared memory map of a database file, as Cyrus's `map_refresh` makes them.
//!
//! The backends read through the map and write with `pwrite`; since the map is `MAP_SHARED`,
//! the page cache makes those writes visible through it at once. A map never outlives a change
//! of the file's length that the owner did not see: every backend remaps under its lock when
//! the header says the file grew or shrank, so no read reaches past the end of the file.

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;

/// A read-only view of the first `len` bytes of a file.
pub struct Map {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only memory owned by this value; sharing or moving the pointer
// between threads is no different from sharing a `&[u8]`.
unsafe impl Send for Map {}
// SAFETY: as above, the view is immutable from this process's side.
unsafe impl Sync for Map {}

impl Map {
    /// An empty view, mapping nothing.
    pub fn empty() -> Map {
        Map {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Maps the first `len` bytes of `file` (which must be at least that long).
    pub fn new(file: &File, len: usize) -> io::Result<Map> {
        if len == 0 {
            return Ok(Map::empty());
        }
        // SAFETY: a fresh PROT_READ/MAP_SHARED mapping at an address of the kernel's choice
        // aliases no Rust object; the result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Map { ptr, len })
    }

    /// The mapped bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until `drop`; callers keep
        // the file at least `len` long while the map exists (see the module doc).
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// How many bytes are mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: `ptr`/`len` are exactly what mmap returned, and no slice borrowed from
            // `bytes()` can outlive `self`.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}
