//! Helpers for the end-to-end tests in `tests/tests/`: where our binaries and Debian's are,
//! scratch directories the `cyrus` user can use, and running commands.
