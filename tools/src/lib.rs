//! What the admin commands share: the `-C altconfig` convention, usage errors, exit codes.
#![forbid(unsafe_code)]
