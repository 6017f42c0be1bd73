//! seccomp-profile: everything about seccomp profiles that does not need the kernel.
//!
//! Syscall tables per architecture, the architecture spellings, the recording model,
//! building a default-deny profile from counts, reading OCI / Docker / SPO profiles,
//! writing them per format, and the toolkit behind `check`, `diff`, `merge` and
//! `validate`. Counts in, profiles and reports out: no eBPF, no root, stable Rust.
#![warn(missing_docs)]

pub mod arch;
pub mod arg_check;
pub mod args;
pub mod artifact;
pub mod audit;
pub mod check;
pub mod coverage;
pub mod diff;
pub mod evidence;
pub mod exit;
pub mod formats;
pub mod kernel_calls;
pub mod libseccomp_names;
pub mod markdown;
pub mod merge;
pub mod policy;
pub mod portable;
pub mod profile;
pub mod profile_file;
pub mod propose;
pub mod report;
pub mod rule;
pub mod runtime;
pub mod syscalls;
pub mod text;
#[cfg(feature = "libseccomp")]
pub mod validate;
pub mod vocabulary;
