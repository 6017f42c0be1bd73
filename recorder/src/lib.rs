//! seccomp-recorder: record the syscalls a container or command really makes, with an
//! eBPF program that counts them per cgroup and per syscall ABI, and turn the counts
//! into a tight, default-deny seccomp profile.
#![warn(missing_docs)]

pub mod annotations;
pub mod arg_check;
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
pub mod evidence;
pub mod exit;
pub mod fault;
pub mod formats;
pub mod fsmode;
pub mod hook;
pub mod install;
pub mod observability;
pub mod outdir;
pub mod output;
pub mod profile;
pub mod profile_file;
pub mod record;
pub mod report;
pub mod runtime;
pub mod spawn;
pub mod state;
pub mod syscalls;
pub mod tracer;
