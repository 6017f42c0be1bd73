//! Crash points for the recovery tests and drills: with `SECCOMP_RECORDER_FAULT=NAME`
//! in its environment the process SIGKILLs itself when it reaches the point `NAME`,
//! exactly as an OOM kill or a runtime's timeout would stop a hook there. Only the
//! hook's own configuration (root's) sets a hook's environment; unset, a point costs
//! one environment lookup.

/// After prestart saved the state file, before the cgroup is registered.
pub const PRESTART_AFTER_STATE: &str = "prestart-after-state";
/// After the cgroup is registered, before the state file records the slot.
pub const PRESTART_AFTER_REGISTER: &str = "prestart-after-register";
/// After poststop claimed the state file, before anything was read.
pub const POSTSTOP_AFTER_CLAIM: &str = "poststop-after-claim";
/// After the counts were saved into the claimed state, before the slot is released.
pub const POSTSTOP_AFTER_COUNTS: &str = "poststop-after-counts";
/// While writing an output file: after the temporary file is written, before the
/// rename that makes it the profile.
pub const WRITE_BEFORE_RENAME: &str = "write-before-rename";

/// Dies here (SIGKILL) when `SECCOMP_RECORDER_FAULT` names this point.
pub fn point(name: &str) {
    if std::env::var_os("SECCOMP_RECORDER_FAULT").is_some_and(|v| v == name) {
        // SAFETY: kill(2) of ourselves.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
