//! OCI runtimes and their start-up tails.
//!
//! A runtime loads the container's seccomp filter inside the container init and then
//! still makes a few syscalls of its own before it execs the workload. Those calls go
//! through the filter, so a profile must allow them or the container dies before the
//! workload starts. They differ per runtime: crun (C) makes a short, fixed sequence;
//! runc (Go) runs Go code after the load, whose scheduler may make any of the Go
//! runtime's calls at any moment (on the one thread runc filters). docs/runtime-tails.md
//! has the method and the measurements behind the lists below; `xtask/drills/
//! measure-tails.sh N` re-measures them.
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
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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

/// What crun 1.8 calls after it loaded the filter (strace, podman 4.3, x86_64, 120
/// runs; docs/runtime-tails.md). Defaults (no_new_privs off): close, prctl (bounding
/// set, keepcaps, ambient), setresgid, setresuid, capset, rt_sigprocmask, rt_sigaction
/// (signal reset), write (sync pipe), pselect6 + read (exec fifo), close, execve. With
/// no_new_privs the load is last: close, execve. `chdir` from the source: crun retries
/// the working directory after switching user.
const CRUN_TAIL: &[&str] = &[
    "capset",
    "chdir",
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

/// What runc 1.1 (Debian 1.1.5, Go 1.19) calls after it loaded the filter. runc loads
/// it with prctl(PR_SET_SECCOMP) without TSYNC: only the init's main (locked) thread
/// is filtered, so only its calls matter (2 x 30 runs per case, idle and loaded, runc
/// bundles, podman --runtime runc and Docker: the same names everywhere).
/// Observed, runc's own code: capget capset chdir close epoll_ctl execve faccessat2
/// fcntl fstat fstatfs getcwd getdents64 getpid getppid newfstatat openat prctl read
/// setgid setgroups setuid write. Observed, Go runtime, timing-dependent: futex (31-60
/// of 60 runs; without it runc dies with "futexwakeup ... returned -38") and
/// rt_sigreturn (1-26 of 60; without it SIGSEGV). From runc's and Go's source, calls
/// the main thread can make on other paths: fchown (stdio of a non-root user),
/// access/faccessat/get[e]uid/get[e]gid (the faccessat2 fallback), exit_group (init
/// failure), nanosleep, sched_yield, tgkill, gettid, epoll_pwait, mmap, munmap,
/// madvise, rt_sigprocmask, sigaltstack, clock_gettime (Go's scheduler and allocator).
const RUNC_TAIL: &[&str] = &[
    "access",
    "capget",
    "capset",
    "chdir",
    "clock_gettime",
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fchown",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "prctl",
    "read",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "setgid",
    "setgroups",
    "setuid",
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

    /// The runtime whose tail covers both `self`'s and `other`'s.
    pub fn union(self, other: Runtime) -> Runtime {
        match (self, other) {
            (a, Runtime::None) => a,
            (Runtime::None, b) => b,
            (a, b) if a == b => a,
            _ => Runtime::Any,
        }
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
}
