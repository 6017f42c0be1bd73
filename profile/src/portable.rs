//! Variants of one call (`--portable`): the siblings a libc or language runtime may
//! pick instead of a recorded syscall.
//!
//! libcs choose among equivalent syscalls by version, architecture and kernel: glibc
//! 2.36's `stat`, `lstat` and `fstat` are `newfstatat`, musl 1.2's are `stat`, `lstat`
//! and `fstat`; glibc opens with `openat`, musl with `open`; glibc forks with `clone`,
//! musl with `fork`; musl's stdio writes with `writev`, glibc's with `write` (measured
//! with strace on x86_64, glibc 2.36 against a static musl 1.2.3 build of the same
//! program: docs/design.md). A profile recorded with one breaks with the other. With
//! `--portable`, [`add`] allows, on every architecture the profile lists, the
//! siblings of each allowed name that are syscalls there.
//!
//! A sibling is only ever as strong as what was recorded: members of one group of
//! [`GROUPS`] do the same thing with the same permission checks (a path or an fd, a
//! timeout as `timeval` or `timespec`, flags that only restrict, such as `openat2`'s
//! `RESOLVE_*`). The process-creating calls are not a group, because `clone` can make
//! namespaces and `fork` cannot: `clone` brings `fork` and `vfork` (less than it can),
//! while `fork`, `vfork` and `clone3` bring `clone` only without namespace flags
//! (`arg0 & CLONE_NEW* == 0`, the rule `record --args` writes for threads and
//! forks). `clone3` is never added: seccomp cannot see its flags, and the profile
//! answers it with ENOSYS (see [`crate::profile::ENOSYS_FALLBACKS`]), which makes glibc
//! fall back to `clone`.
//!
//! Calls that one libc makes and another does not make at all are no variants and are
//! not added (musl's `fork` blocks signals and asks `gettid`; glibc registers `rseq`
//! at start-up and carries on without it): record each build, or merge their
//! recordings.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{
    Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::Serialize;

use crate::args::CLONE_NEW_MASK;
use crate::evidence::{knows, permits};

/// Groups of interchangeable syscalls: each member is added for every other one, on
/// the architectures that have it. None of them is on a never-allow list
/// ([`crate::policy`]); a unit test says so.
pub const GROUPS: &[&[&str]] = &[
    // File status by path, by fd or relative to a directory fd.
    &[
        "stat",
        "lstat",
        "fstat",
        "newfstatat",
        "statx",
        "stat64",
        "lstat64",
        "fstat64",
        "fstatat64",
    ],
    &["access", "faccessat", "faccessat2"],
    // openat2's RESOLVE_* flags only restrict the lookup.
    &["open", "openat", "openat2"],
    &["poll", "ppoll", "ppoll_time64"],
    &["select", "_newselect", "pselect6", "pselect6_time64"],
    &["epoll_wait", "epoll_pwait", "epoll_pwait2"],
    &["epoll_create", "epoll_create1"],
    &["dup2", "dup3"],
    &["pipe", "pipe2"],
    &["accept", "accept4"],
    &["wait4", "waitid", "waitpid"],
    &["getdents", "getdents64"],
    &["eventfd", "eventfd2"],
    &["signalfd", "signalfd4"],
    &["inotify_init", "inotify_init1"],
    // Closing one fd or a range of one's own fds.
    &["close", "close_range"],
    // One buffer or several (musl's stdio uses the vector calls).
    &["read", "readv"],
    &["write", "writev"],
    &["nanosleep", "clock_nanosleep", "clock_nanosleep_time64"],
    &["fork", "vfork"],
    // The path calls and their *at forms (Go and newer libcs use only the latter).
    &["mkdir", "mkdirat"],
    &["unlink", "unlinkat"],
    &["rmdir", "unlinkat"],
    &["rename", "renameat", "renameat2"],
    &["link", "linkat"],
    &["symlink", "symlinkat"],
    &["readlink", "readlinkat"],
    &["chmod", "fchmodat"],
    &["chown", "lchown", "fchownat"],
    &["mknod", "mknodat"],
    &["utime", "utimes", "futimesat", "utimensat"],
    // 32-bit ABIs: the large-file and 64-bit time forms.
    &["mmap", "mmap2"],
    &["lseek", "_llseek"],
    &["fcntl", "fcntl64"],
    &["sendfile", "sendfile64"],
    &["statfs", "statfs64"],
    &["fstatfs", "fstatfs64"],
    &["truncate", "truncate64"],
    &["ftruncate", "ftruncate64"],
    &["clock_gettime", "clock_gettime64"],
    &["futex", "futex_time64"],
];

/// `clone` brings these outright: they create processes without namespace flags.
const LESS_THAN_CLONE: &[&str] = &["fork", "vfork"];

/// These bring `clone` without namespace flags only.
const CLONE_WITHOUT_NAMESPACES_FOR: &[&str] = &["fork", "vfork", "clone3"];

/// How a sibling is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// By name, whatever the arguments.
    Outright,
    /// `clone` with `arg0 & CLONE_NEW* == 0`: no new namespace.
    WithoutNamespaceFlags,
}

/// A sibling of a name, and how it is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sibling {
    /// The sibling's name.
    pub name: &'static str,
    /// How it is allowed.
    pub grant: Grant,
}

/// The siblings of `name` on any architecture (pure; sorted by name, `name` itself
/// left out).
pub fn siblings(name: &str) -> Vec<Sibling> {
    let mut out: BTreeSet<Sibling> = GROUPS
        .iter()
        .filter(|g| g.contains(&name))
        .flat_map(|g| g.iter())
        .filter(|n| **n != name)
        .map(|n| Sibling {
            name: n,
            grant: Grant::Outright,
        })
        .collect();
    if name == "clone" {
        out.extend(LESS_THAN_CLONE.iter().map(|n| Sibling {
            name: n,
            grant: Grant::Outright,
        }));
    }
    if name == "clone3" {
        out.extend(LESS_THAN_CLONE.iter().map(|n| Sibling {
            name: n,
            grant: Grant::Outright,
        }));
    }
    if CLONE_WITHOUT_NAMESPACES_FOR.contains(&name) {
        out.insert(Sibling {
            name: "clone",
            grant: Grant::WithoutNamespaceFlags,
        });
    }
    out.into_iter().collect()
}

/// The siblings of `name` that are syscalls on `arch`, when `arch` has `name` itself.
pub fn siblings_on(arch: OciArch, name: &str) -> Vec<Sibling> {
    if !knows(arch, name) {
        return Vec::new();
    }
    siblings(name)
        .into_iter()
        .filter(|s| knows(arch, s.name))
        .collect()
}

/// The names whose siblings on `arch` include `name`: what a baseline that allows one
/// of them lacks only for portability (pure; sorted).
pub fn variant_of(arch: OciArch, name: &str, allowed: &BTreeSet<String>) -> Vec<String> {
    allowed
        .iter()
        .filter(|a| siblings_on(arch, a).iter().any(|s| s.name == name))
        .cloned()
        .collect()
}

/// A sibling [`add`] allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Added {
    /// The sibling.
    pub name: String,
    /// How it is allowed.
    pub grant: Grant,
    /// The allowed names it is a sibling of.
    pub of: Vec<String>,
    /// The `SCMP_ARCH_*` architectures it was added for.
    pub arches: Vec<String>,
}

/// A profile with the siblings of its allowed names, and what was added.
#[derive(Debug, Clone)]
pub struct Portable {
    /// The profile.
    pub profile: LinuxSeccomp,
    /// The siblings added, sorted by name (none already allowed).
    pub added: Vec<Added>,
}

/// The rule that allows `clone` without namespace flags: exactly what `record --args`
/// writes for threads and forks.
pub fn clone_without_namespaces() -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(vec!["clone".to_owned()]);
    rule.set_action(LinuxSeccompAction::ScmpActAllow);
    // The builder only fails on a missing field; all are set.
    let cond = LinuxSeccompArgBuilder::default()
        .index(0usize)
        .value(CLONE_NEW_MASK)
        .value_two(0u64)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()
        .ok();
    rule.set_args(cond.map(|c| vec![c]));
    rule
}

/// Where a sibling comes from: the allowed names and the architectures.
#[derive(Default)]
struct Sources {
    of: BTreeSet<String>,
    arches: Vec<String>,
}

/// The architectures a filter built from `profile` covers.
fn filter_arches(profile: &LinuxSeccomp) -> Vec<OciArch> {
    match profile.architectures() {
        Some(listed) if !listed.is_empty() => listed.clone(),
        _ => crate::arch::native_oci().into_iter().collect(),
    }
}

/// `profile` with the siblings of every name an allow rule names (with or without
/// argument conditions), on each listed architecture that has both (pure,
/// idempotent). A profile whose default action lets calls through is returned as it
/// is.
pub fn add(profile: &LinuxSeccomp) -> Portable {
    if permits(profile.default_action()) {
        return Portable {
            profile: profile.clone(),
            added: Vec::new(),
        };
    }
    let rules = profile.syscalls().clone().unwrap_or_default();
    let is_allow = |r: &LinuxSyscall| r.action() == LinuxSeccompAction::ScmpActAllow;
    let conditional = |r: &LinuxSyscall| r.args().as_ref().is_some_and(|a| !a.is_empty());
    let outright: BTreeSet<String> = rules
        .iter()
        .filter(|r| is_allow(r) && !conditional(r))
        .flat_map(|r| r.names().iter().cloned())
        .collect();
    let sources: BTreeSet<String> = rules
        .iter()
        .filter(|r| is_allow(r))
        .flat_map(|r| r.names().iter().cloned())
        .collect();
    let mut found: BTreeMap<(&'static str, Grant), Sources> = BTreeMap::new();
    for arch in filter_arches(profile) {
        for source in &sources {
            for s in siblings_on(arch, source) {
                if outright.contains(s.name) {
                    continue;
                }
                let entry = found.entry((s.name, s.grant)).or_default();
                entry.of.insert(source.clone());
                let label = arch.to_string();
                if !entry.arches.contains(&label) {
                    entry.arches.push(label);
                }
            }
        }
    }
    // clone outright (some source brings it so) makes the conditional one moot.
    let clone_outright = found.contains_key(&("clone", Grant::Outright));
    found.retain(|(name, grant), _| {
        !(*name == "clone" && *grant == Grant::WithoutNamespaceFlags && clone_outright)
    });
    // The same conditional rule already there (a recording with --args).
    let clone_rule = clone_without_namespaces();
    let canonical = crate::rule::canonical_rule(&clone_rule);
    if rules
        .iter()
        .any(|r| crate::rule::canonical_rule(r) == canonical)
    {
        found.remove(&("clone", Grant::WithoutNamespaceFlags));
    }
    let mut out = crate::profile::add_allowed(
        profile,
        found
            .keys()
            .filter(|(_, g)| *g == Grant::Outright)
            .map(|(n, _)| *n),
    );
    if found.contains_key(&("clone", Grant::WithoutNamespaceFlags)) {
        let mut all = out.syscalls().clone().unwrap_or_default();
        all.push(clone_rule);
        out.set_syscalls(Some(all));
    }
    let added = found
        .into_iter()
        .map(|((name, grant), found)| Added {
            name: name.to_owned(),
            grant,
            of: found.of.into_iter().collect(),
            arches: found.arches,
        })
        .collect();
    Portable {
        profile: out,
        added,
    }
}

#[cfg(test)]
mod tests;
