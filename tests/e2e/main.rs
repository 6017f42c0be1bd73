//! The end-to-end tests: one test binary, one module per topic. They need root, BTF,
//! podman, crun, runc, dockerd, strace (see each module): a missing prerequisite FAILS
//! under `CI=true` and is skipped (and counted as skipped) otherwise.
//!
//! Each module used to be its own test binary, run one after another; its tests share
//! the host (cgroups, pins, podman, a private dockerd) and rely on that. So every test
//! is a `#[e2e_macros::test]` (tests/macros), which takes [`common::group`] first:
//! tests of one module run in parallel, never beside those of another module.

mod common;

mod agent;
mod args;
mod attach;
mod attach_point;
mod audit;
mod concurrency;
mod cri;
mod dist;
mod enforce;
mod errors;
mod faults;
mod formats;
mod hostile;
mod image_label;
mod kernel_calls;
mod lifecycle;
mod load;
mod podman_hook;
mod podman_smoke;
mod portable;
mod progress;
mod readme;
mod record;
mod registry;
mod runtimes;
mod servers;
mod syscall_tables;
mod toolkit;
