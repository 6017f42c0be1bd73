//! Calls the kernel makes for a program, which no recording can be trusted to see.
//!
//! A program never asks for these: the kernel enters them on its behalf. When a
//! signal handler returns, the signal trampoline calls `rt_sigreturn` (`sigreturn` for
//! old-style handlers on the 32-bit ABIs that have it: i386, arm). When a sleep or a
//! wait is interrupted by a stop and then continued (SIGSTOP/SIGCONT from job control,
//! a debugger or tracer attaching, checkpoint/restore), the kernel resumes it through
//! `restart_syscall`. Both go through the seccomp filter like any other call, so a
//! profile that denies them breaks the program only when the signal or stop happens,
//! in production, and not while it was recorded. Measured here (busybox `sleep 4` in a
//! podman + crun container under its own recorded profile, stopped once and
//! continued): the sleep returned after 1–2 s with exit status 0. Docker's default
//! profile allows `restart_syscall`, `rt_sigreturn` and `sigreturn` for the same reason
//! (moby #21117), and systemd puts them in its `@default` set.
//!
//! [`add`] allows them in every profile this crate finishes (record, the hook's
//! poststop, merge: [`crate::profile::add_runtime_tail`]), whatever the runtime tail,
//! on every architecture the profile lists that has them; [`missing`] is what
//! `validate` warns about.

use std::collections::BTreeSet;

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp};

use crate::evidence::{knows, permits};

/// One call the kernel makes for a program, and what breaks when a profile denies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelCall {
    /// The syscall name.
    pub name: &'static str,
    /// What happens to a program when the profile denies it (a phrase).
    pub breaks: &'static str,
}

/// The calls the kernel makes for a program: allowed in every profile we write, on
/// every listed architecture whose table has the name.
pub const KERNEL_CALLS: [KernelCall; 3] = [
    KernelCall {
        name: "restart_syscall",
        breaks: "a sleep or wait interrupted by a stop and continue (SIGSTOP/SIGCONT, a debugger attaching, checkpoint/restore) returns early instead of resuming",
    },
    KernelCall {
        name: "rt_sigreturn",
        breaks: "a process that handles a signal is killed (SIGSEGV) when its handler returns",
    },
    KernelCall {
        name: "sigreturn",
        breaks: "a process with an old-style signal handler (i386, arm) is killed (SIGSEGV) when its handler returns",
    },
];

/// Whether `name` is one of [`KERNEL_CALLS`].
pub fn is_kernel_call(name: &str) -> bool {
    KERNEL_CALLS.iter().any(|k| k.name == name)
}

/// The kernel calls that are syscalls on at least one of `arches` (in
/// [`KERNEL_CALLS`] order). Runtimes skip a name on the architectures that lack it.
pub fn names_for(arches: &[OciArch]) -> Vec<&'static str> {
    KERNEL_CALLS
        .iter()
        .filter(|k| arches.iter().any(|a| knows(*a, k.name)))
        .map(|k| k.name)
        .collect()
}

/// The architectures a filter built from `profile` covers: the listed ones, or the
/// native one when it lists none (what libseccomp does).
fn filter_arches(profile: &LinuxSeccomp) -> Vec<OciArch> {
    match profile.architectures() {
        Some(listed) if !listed.is_empty() => listed.clone(),
        _ => crate::arch::native_oci().into_iter().collect(),
    }
}

/// `profile` with the kernel calls of its architectures allowed outright (pure;
/// sorted into the unconditional allow rule). A profile whose default action lets
/// calls through is returned as it is.
pub fn add(profile: &LinuxSeccomp) -> LinuxSeccomp {
    if permits(profile.default_action()) {
        return profile.clone();
    }
    let names = names_for(&filter_arches(profile));
    crate::profile::add_allowed(profile, names)
}

/// The kernel calls `profile` does not let through unconditionally on some
/// architecture that has them (pure). Nothing for a profile whose default action lets
/// calls through, unless a rule stops the call.
pub fn missing(profile: &LinuxSeccomp) -> Vec<KernelCall> {
    let default_permits = permits(profile.default_action());
    let mut allowed: BTreeSet<&str> = BTreeSet::new();
    let mut stopped: BTreeSet<&str> = BTreeSet::new();
    for rule in profile.syscalls().iter().flatten() {
        let conditional = rule.args().as_ref().is_some_and(|a| !a.is_empty());
        let set = if permits(rule.action()) && !conditional {
            &mut allowed
        } else if !permits(rule.action()) {
            &mut stopped
        } else {
            continue;
        };
        set.extend(rule.names().iter().map(String::as_str));
    }
    let arches = filter_arches(profile);
    KERNEL_CALLS
        .iter()
        .filter(|k| arches.iter().any(|a| knows(*a, k.name)))
        .filter(|k| {
            if default_permits {
                stopped.contains(k.name) && !allowed.contains(k.name)
            } else {
                !allowed.contains(k.name)
            }
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompAction;

    use crate::arch::to_oci;
    use crate::profile::{build, DefaultErrno, ProfileOptions, RecordedSyscall};
    use crate::runtime::Runtime;
    use crate::syscalls::Arch;

    fn allowed(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().iter().cloned())
            .collect()
    }

    #[test]
    fn every_name_resolves_where_the_kernel_has_it() {
        // restart_syscall and rt_sigreturn exist on every architecture with a table;
        // sigreturn only on the 32-bit ones that keep the old handler return.
        for arch in Arch::ALL {
            assert!(arch.number_of("restart_syscall").is_some(), "{arch}");
            assert!(arch.number_of("rt_sigreturn").is_some(), "{arch}");
        }
        assert_eq!(Arch::X86_64.number_of("restart_syscall"), Some(219));
        assert_eq!(Arch::X86_64.number_of("rt_sigreturn"), Some(15));
        assert_eq!(Arch::X86.number_of("restart_syscall"), Some(0));
        assert_eq!(Arch::X86.number_of("rt_sigreturn"), Some(173));
        assert_eq!(Arch::X86.number_of("sigreturn"), Some(119));
        assert_eq!(
            Arch::X32.number_of("restart_syscall"),
            Some(219 | crate::syscalls::X32_SYSCALL_BIT)
        );
        // x32's rt_sigreturn is one of its own entries (513), not x86_64's 15.
        assert_eq!(
            Arch::X32.number_of("rt_sigreturn"),
            Some(513 | crate::syscalls::X32_SYSCALL_BIT)
        );
        assert_eq!(Arch::Arm.number_of("sigreturn"), Some(119));
        for arch in [Arch::X86_64, Arch::X32, Arch::Aarch64, Arch::Riscv64] {
            assert_eq!(arch.number_of("sigreturn"), None, "{arch}");
        }
    }

    #[test]
    fn names_per_architecture() {
        let on =
            |arches: &[Arch]| names_for(&arches.iter().map(|a| to_oci(*a)).collect::<Vec<_>>());
        assert_eq!(on(&[Arch::X86_64]), ["restart_syscall", "rt_sigreturn"]);
        assert_eq!(on(&[Arch::X32]), ["restart_syscall", "rt_sigreturn"]);
        assert_eq!(
            on(&[Arch::X86]),
            ["restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        assert_eq!(
            on(&[Arch::X86_64, Arch::X86, Arch::X32]),
            ["restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        assert_eq!(
            on(&[Arch::Aarch64, Arch::Arm]),
            ["restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        assert_eq!(on(&[Arch::Riscv64]), ["restart_syscall", "rt_sigreturn"]);
        assert!(on(&[]).is_empty());
    }

    fn empty(native: Arch) -> LinuxSeccomp {
        build(
            &[],
            &ProfileOptions {
                errno: DefaultErrno::Enosys,
                native,
            },
        )
        .profile
    }

    #[test]
    fn an_empty_recording_without_runtime_still_allows_them() {
        let p = crate::profile::add_runtime_tail(&empty(Arch::X86_64), Runtime::None);
        assert_eq!(allowed(&p), ["restart_syscall", "rt_sigreturn"]);
        assert!(missing(&p).is_empty());
        // And an i386 recording gets sigreturn as well, sorted into the one rule.
        let i386 = build(
            &[RecordedSyscall {
                arch: Arch::X86,
                nr: 20, // getpid
                count: 1,
            }],
            &ProfileOptions {
                errno: DefaultErrno::Eperm,
                native: Arch::X86_64,
            },
        )
        .profile;
        let p = crate::profile::add_runtime_tail(&i386, Runtime::None);
        assert_eq!(
            allowed(&p),
            ["getpid", "restart_syscall", "rt_sigreturn", "sigreturn"]
        );
        // Every runtime tail keeps them.
        for rt in [Runtime::Crun, Runtime::Runc, Runtime::Any] {
            let p = crate::profile::add_runtime_tail(&empty(Arch::X86_64), rt);
            for k in ["restart_syscall", "rt_sigreturn"] {
                assert!(allowed(&p).iter().any(|n| n == k), "{rt}: {k}");
            }
        }
    }

    #[test]
    fn adding_is_idempotent_and_leaves_allow_by_default_alone() {
        let once = add(&empty(Arch::X32));
        assert_eq!(add(&once), once);
        let mut allow_all = empty(Arch::X86_64);
        allow_all.set_default_action(LinuxSeccompAction::ScmpActAllow);
        assert_eq!(add(&allow_all), allow_all);
        assert!(missing(&allow_all).is_empty());
    }

    #[test]
    fn missing_names_what_breaks() {
        let p: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["read","rt_sigreturn"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["restart_syscall"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .expect("profile");
        let m = missing(&p);
        let names: Vec<&str> = m.iter().map(|k| k.name).collect();
        assert_eq!(names, ["restart_syscall", "sigreturn"]);
        assert!(m[0].breaks.contains("returns early"));
        // An allow-by-default profile that stops one explicitly.
        let p: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["rt_sigreturn"],"action":"SCMP_ACT_KILL"}]}"#,
        )
        .expect("profile");
        let names: Vec<&str> = missing(&p).iter().map(|k| k.name).collect();
        assert_eq!(names, ["rt_sigreturn"]);
        assert!(is_kernel_call("sigreturn") && !is_kernel_call("read"));
    }
}
