//! seccomp-recorder: record the syscalls a container or command really makes, with an
//! eBPF program that counts them per cgroup and per syscall ABI, and turn the counts
//! into a tight, default-deny seccomp profile.
#![warn(missing_docs)]

pub mod annotations;
pub mod args;
pub mod btf;
pub mod cgroup;
pub mod cmd_audit;
pub mod cmd_check;
pub mod cmd_diff;
pub mod cmd_label;
pub mod cmd_merge;
pub mod cmd_syscalls;
pub mod cmd_validate;
pub mod enforce;
pub mod engine;
pub mod fault;
pub mod fsmode;
pub mod hook;
pub mod install;
pub mod observability;
pub mod outdir;
pub mod output;
pub mod record;
pub mod runtime;
pub mod spawn;
pub mod state;
pub mod tracer;

// Moved to the pure crate; re-exported so `crate::profile::...` and
// `seccomp_recorder::profile::...` paths keep working.
pub use seccomp_profile::{
    arg_check, evidence, exit, formats, profile, profile_file, report, syscalls,
};
