//! seccomp-recorder: record the syscalls a container or command really makes, with an
//! eBPF program that counts them per cgroup and per syscall ABI, and turn the counts
//! into a tight, default-deny seccomp profile.
//!
//! The folders follow the direction of the dependencies: [`cli`] (every clap struct
//! and all printing) → [`session`] → [`container`] (and `registry`) → [`kernel`] →
//! [`fs`] → the top-level modules; everything uses the pure `seccomp-profile` crate,
//! which uses nothing of ours. `cargo xtask layers` checks it; docs/design.md has the
//! tree.
#![warn(missing_docs)]

pub mod cli;
pub mod container;
pub mod error;
pub mod fault;
pub mod fs;
pub mod kernel;
pub mod observability;
#[cfg(feature = "registry")]
pub mod registry;
pub mod session;
