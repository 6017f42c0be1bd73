//! OCI runtimes and their start-up tails.
//!
//! A runtime loads the container's seccomp filter inside the container init and then
//! still makes a few syscalls of its own before it execs the workload. Those calls go
//! through the filter, so a profile must allow them or the container dies before the
//! workload starts. They differ per runtime: crun (C) makes a short, fixed sequence;
//! runc (Go) runs Go code after the load, whose scheduler may make any of the Go
//! runtime's background calls at any moment. docs/runtime-tails.md has the method and
//! the measurements behind the lists below.
//!
//! Which runtime started a container is read at prestart from the hook's parent
//! process: runtime-spec hooks are executed by the runtime itself (crun forks them,
//! `runc create` execs them), so the parent's executable is the runtime. The
//! container init's executable (crun's init is crun; runc's init is `runc init`, often
//! a memfd copy named `runc_cloned`) is the fallback.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which runtime tail a profile must allow.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// crun (podman's default on most distributions).
    Crun,
    /// runc (Docker, containerd, CRI-O on many nodes, podman `--runtime runc`).
    Runc,
    /// Any known runtime: the union of every tail (the profile starts under each).
    #[default]
    Any,
    /// No runtime: the profile is only applied with `enforce` (no tail is added).
    None,
}

/// What crun 1.8 calls after it loaded the filter (strace, podman 4.3, x86_64).
/// Defaults (no_new_privs off): close, prctl (bounding set, keepcaps, ambient),
/// setresgid, setresuid, capset, rt_sigprocmask, rt_sigaction (signal reset), write
/// (sync pipe), pselect6 + read (exec fifo), close, execve. With no_new_privs the load
/// is last: close, execve.
const CRUN_TAIL: &[&str] = &[
    "capset",
    "close",
    "execve",
    "prctl",
    "pselect6",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "setresgid",
    "setresuid",
    "write",
];

/// What runc 1.1 calls after it loaded the filter, in every thread of `runc init`.
/// Sequential runc code (standard_init_linux.go, finalizeNamespace): closing inherited
/// fds (openat /proc/self/fd, fstatfs, getdents64, fcntl, close), capabilities (prctl,
/// capget, capset), user (setgroups, setresgid, setresuid), chdir, the exec fifo
/// (openat, write), path lookup (newfstatat), parent check (getppid), execve. The Go
/// runtime around it: futex, nanosleep, sched_yield, tgkill, getpid, gettid,
/// rt_sigreturn, rt_sigprocmask, rt_sigaction, sigaltstack, mmap, munmap, madvise,
/// clone (a new scheduler thread), epoll_pwait, epoll_ctl (the netpoller of os.File),
/// exit (a thread ending), read, write.
const RUNC_TAIL: &[&str] = &[
    "capget",
    "capset",
    "chdir",
    "clone",
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "exit",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getdents64",
    "getpid",
    "getppid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "prctl",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "setgroups",
    "setresgid",
    "setresuid",
    "sigaltstack",
    "tgkill",
    "write",
];

impl Runtime {
    /// The names this runtime calls through the container's filter before the
    /// workload's execve, sorted and without duplicates.
    pub fn tail(self) -> Vec<&'static str> {
        let parts: &[&[&'static str]] = match self {
            Runtime::Crun => &[CRUN_TAIL],
            Runtime::Runc => &[RUNC_TAIL],
            Runtime::Any => &[CRUN_TAIL, RUNC_TAIL],
            Runtime::None => &[],
        };
        let set: BTreeSet<&'static str> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        set.into_iter().collect()
    }

    /// The lowercase name, as on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Runtime::Crun => "crun",
            Runtime::Runc => "runc",
            Runtime::Any => "any",
            Runtime::None => "none",
        }
    }

    /// Recognises a runtime from an executable path, a command name, or a runtime name
    /// as container engines report it (`crun`, `/usr/sbin/runc`, `runc.amd64`,
    /// `docker-runc`, `io.containerd.runc.v2`, runc's memfd copy
    /// `/memfd:runc_cloned:/proc/self/exe (deleted)`). `None` when it is none of ours.
    pub fn recognise(name: &str) -> Option<Runtime> {
        let trimmed = name.trim().trim_end_matches(" (deleted)");
        let base = Path::new(trimmed)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| trimmed.to_owned());
        let base = base.to_ascii_lowercase();
        if trimmed.contains("runc_cloned") || trimmed.starts_with("/memfd:runc") {
            return Some(Runtime::Runc);
        }
        let words: Vec<&str> = base
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        // `io.containerd.runc.v2`, `docker-runc`, `runc.amd64`: a word, not a substring
        // (so that "crunch" or "runcible" are not taken for a runtime).
        if words.contains(&"crun") {
            Some(Runtime::Crun)
        } else if words.contains(&"runc") {
            Some(Runtime::Runc)
        } else {
            None
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the runtime of a container was found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The runtime whose tail is added (`Any` when unknown).
    pub runtime: Runtime,
    /// What it was read from, for the hook log and the report.
    pub signal: String,
}

/// Decides the runtime from what prestart can see (pure): the executable of the hook's
/// parent (the runtime that executes hooks), then the container init's executable.
/// Unknown runtimes get `Any` (the union of every known tail).
pub fn decide(parent_exe: Option<&str>, init_exe: Option<&str>) -> Detection {
    if let Some(rt) = parent_exe.and_then(Runtime::recognise) {
        return Detection {
            runtime: rt,
            signal: format!("hook parent {}", parent_exe.unwrap_or_default()),
        };
    }
    if let Some(rt) = init_exe.and_then(Runtime::recognise) {
        return Detection {
            runtime: rt,
            signal: format!("container init {}", init_exe.unwrap_or_default()),
        };
    }
    Detection {
        runtime: Runtime::Any,
        signal: format!(
            "unknown runtime (hook parent {}, container init {}): the union of all known tails",
            parent_exe.unwrap_or("?"),
            init_exe.unwrap_or("?")
        ),
    }
}

/// The executable of a process (`/proc/PID/exe`), if readable.
pub fn exe_of(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Reads both signals for a hook run at prestart: our parent and `init_pid`.
pub fn detect_at_prestart(init_pid: i32) -> Detection {
    // SAFETY: getppid never fails.
    let parent = unsafe { libc::getppid() };
    decide(exe_of(parent).as_deref(), exe_of(init_pid).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_runtime_spellings() {
        for (s, rt) in [
            ("/usr/bin/crun", Some(Runtime::Crun)),
            ("crun", Some(Runtime::Crun)),
            ("/usr/sbin/runc", Some(Runtime::Runc)),
            ("runc.amd64", Some(Runtime::Runc)),
            ("docker-runc", Some(Runtime::Runc)),
            ("io.containerd.runc.v2", Some(Runtime::Runc)),
            (
                "/memfd:runc_cloned:/proc/self/exe (deleted)",
                Some(Runtime::Runc),
            ),
            ("/usr/bin/youki", None),
            ("/usr/bin/crunch", None),
            ("/usr/bin/conmon", None),
            ("", None),
        ] {
            assert_eq!(Runtime::recognise(s), rt, "{s}");
        }
    }

    #[test]
    fn tails_are_sorted_and_any_is_the_union() {
        let any = Runtime::Any.tail();
        let mut sorted = any.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(any, sorted);
        for rt in [Runtime::Crun, Runtime::Runc] {
            for n in rt.tail() {
                assert!(any.contains(&n), "{n} of {rt} missing from any");
            }
        }
        assert!(Runtime::None.tail().is_empty());
        // What killed runc's init when it was missing (futexwakeup returned -38) and
        // what Docker's runc needs to close inherited fds.
        assert!(Runtime::Runc.tail().contains(&"futex"));
        assert!(Runtime::Runc.tail().contains(&"fstatfs"));
        assert!(!Runtime::Crun.tail().contains(&"futex"));
    }

    #[test]
    fn every_tail_name_exists_on_x86_64() {
        for n in Runtime::Any.tail() {
            assert!(
                crate::syscalls::Arch::X86_64.number_of(n).is_some(),
                "{n} is not an x86_64 syscall"
            );
        }
    }

    #[test]
    fn parent_wins_then_init_then_union() {
        let d = decide(Some("/usr/sbin/runc"), Some("/usr/bin/crun"));
        assert_eq!(d.runtime, Runtime::Runc);
        assert!(d.signal.contains("hook parent"));
        let d = decide(
            Some("/usr/bin/sh"),
            Some("/memfd:runc_cloned:/proc/self/exe"),
        );
        assert_eq!(d.runtime, Runtime::Runc);
        assert!(d.signal.contains("container init"));
        let d = decide(Some("/usr/bin/youki"), None);
        assert_eq!(d.runtime, Runtime::Any);
        assert!(d.signal.contains("unknown runtime"));
    }
}
