//! seccomp-recorder: record the syscalls a container or command really makes, with an
//! eBPF program that counts them per cgroup and per syscall ABI, and turn the counts
//! into a tight, default-deny seccomp profile.
#![warn(missing_docs)]

pub mod exit;
pub mod syscalls;
