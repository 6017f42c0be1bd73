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
//! The same holds for a wait that a program makes only by timing: busybox sh's `wait`
//! (and ash-derived shells) polls with `waitpid(WNOHANG)` and calls `rt_sigsuspend`
//! only when the child has not exited yet. A recording where the child was quick has no
//! `rt_sigsuspend`; under that profile a later run whose child is slower gets ENOSYS
//! with every signal blocked, and the shell spins at 100 % CPU forever, deaf to
//! SIGTERM. Seen in the suite: redis under its own recorded profile in containerd's CRI
//! hung in 1 run of 6 after `SHUTDOWN` (measured since: `sleep 1 & wait $!` under a
//! profile without it spins until SIGKILL; with it, it returns after 1 s).
//! The shell blocks every signal with `rt_sigprocmask` around that wait, which a
//! static program's recording may not have either (measured: with `rt_sigprocmask`
//! denied as well, the shell suspends with SIGCHLD blocked and never wakes).
//! `rt_sigsuspend` and `rt_sigprocmask` (`sigsuspend`, `sigprocmask` on i386 and arm)
//! only block the calling thread or change its own signal mask: every profile allows
//! them, as Docker's default does.
//!
//! A thread that waits for another is the same kind of call: glibc's `pthread_join`
//! calls `futex` only when the thread has not ended yet, a mutex only when it is
//! contended, a condition variable only when it is not yet signalled. A recording
//! under light load (a test suite) may see none of that; under that profile the same
//! program is killed when a thread is slower in production. Measured here: a glibc
//! program whose worker sleeps 1 ms and whose main thread joins it after 100 ms was
//! recorded (no futex); with the worker slower than the join it died with SIGSEGV under
//! that profile, and ran with `futex` added. Every thread library waits this way, so
//! Docker's default and systemd's `@default` allow `futex` too. `futex_time64` is the
//! same call with 64-bit times on i386 and arm, which glibc tries first.
//!
//! [`add`] allows them in every profile this crate finishes (record, the hook's
//! poststop, merge: [`crate::profile::add_runtime_tail`]), whatever the runtime tail,
//! on every architecture the profile lists that has them; [`missing`] is what
//! `validate` warns about.

use std::collections::BTreeSet;

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp};

use crate::evidence::{knows, permits};

/// One call every profile allows although a recording may not see it, and what breaks
/// when a profile denies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelCall {
    /// The syscall name.
    pub name: &'static str,
    /// Why a recording may not see it (a phrase).
    pub why: &'static str,
    /// What happens to a program when the profile denies it (a phrase).
    pub breaks: &'static str,
}

/// Why a recording may never see the kernel's own calls.
const MADE_BY_THE_KERNEL: &str =
    "the kernel makes this call for the program (a recording may never see it)";

/// Why a recording may not see a wait for a signal.
const MADE_BY_TIMING: &str = "a program makes this call only when the signal it waits for has not come yet (a recording may not see it)";

/// Why a recording may not see a thread's wait for another.
const MADE_BY_CONTENTION: &str = "a threaded program makes this call only when a thread waits for another that is not ready yet (a lock held, a thread not ended; a recording may not see it)";

/// The calls every profile we write allows, on every listed architecture whose table
/// has the name: the kernel's own, the waits for a signal a program makes by timing,
/// and the waits of one thread for another.
pub const KERNEL_CALLS: [KernelCall; 9] = [
    KernelCall {
        name: "restart_syscall",
        why: MADE_BY_THE_KERNEL,
        breaks: "a sleep or wait interrupted by a stop and continue (SIGSTOP/SIGCONT, a debugger attaching, checkpoint/restore) returns early instead of resuming",
    },
    KernelCall {
        name: "rt_sigreturn",
        why: MADE_BY_THE_KERNEL,
        breaks: "a process that handles a signal is killed (SIGSEGV) when its handler returns",
    },
    KernelCall {
        name: "sigreturn",
        why: MADE_BY_THE_KERNEL,
        breaks: "a process with an old-style signal handler (i386, arm) is killed (SIGSEGV) when its handler returns",
    },
    KernelCall {
        name: "rt_sigprocmask",
        why: MADE_BY_TIMING,
        breaks: "a shell's `wait` for a child that has not exited yet cannot unblock SIGCHLD and waits forever",
    },
    KernelCall {
        name: "sigprocmask",
        why: MADE_BY_TIMING,
        breaks: "an i386 or arm program's wait for a signal that has not come yet cannot unblock it",
    },
    KernelCall {
        name: "rt_sigsuspend",
        why: MADE_BY_TIMING,
        breaks: "a shell's `wait` for a child that has not exited yet spins forever with every signal blocked",
    },
    KernelCall {
        name: "sigsuspend",
        why: MADE_BY_TIMING,
        breaks: "an i386 or arm program's wait for a signal that has not come yet fails and may spin",
    },
    KernelCall {
        name: "futex",
        why: MADE_BY_CONTENTION,
        breaks: "a threaded program that waits for a thread or a lock that is not ready is killed (glibc's pthread_join: SIGSEGV) or spins",
    },
    KernelCall {
        name: "futex_time64",
        why: MADE_BY_CONTENTION,
        breaks: "an i386 or arm threaded program that waits for a thread or a lock that is not ready fails or spins",
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
        // The waits for a signal: rt_sigsuspend everywhere, sigsuspend where sigreturn is.
        for arch in Arch::ALL {
            assert!(arch.number_of("rt_sigsuspend").is_some(), "{arch}");
        }
        assert_eq!(Arch::X86_64.number_of("rt_sigsuspend"), Some(130));
        assert_eq!(Arch::X86.number_of("rt_sigsuspend"), Some(179));
        assert_eq!(Arch::X86.number_of("sigsuspend"), Some(72));
        assert_eq!(Arch::Arm.number_of("sigsuspend"), Some(72));
        assert_eq!(Arch::X86_64.number_of("rt_sigprocmask"), Some(14));
        assert_eq!(Arch::X86.number_of("sigprocmask"), Some(126));
        for arch in Arch::ALL {
            assert!(arch.number_of("rt_sigprocmask").is_some(), "{arch}");
        }
        for arch in [Arch::X86_64, Arch::X32, Arch::Aarch64, Arch::Riscv64] {
            assert_eq!(arch.number_of("sigreturn"), None, "{arch}");
            assert_eq!(arch.number_of("futex_time64"), None, "{arch}");
        }
        // A thread's wait for another: futex everywhere, futex_time64 on i386 and arm.
        for arch in Arch::ALL {
            assert!(arch.number_of("futex").is_some(), "{arch}");
        }
        assert_eq!(Arch::X86_64.number_of("futex"), Some(202));
        assert_eq!(Arch::X86.number_of("futex_time64"), Some(422));
        assert_eq!(Arch::Arm.number_of("futex_time64"), Some(422));
    }

    #[test]
    fn names_per_architecture() {
        let on =
            |arches: &[Arch]| names_for(&arches.iter().map(|a| to_oci(*a)).collect::<Vec<_>>());
        let native = [
            "restart_syscall",
            "rt_sigreturn",
            "rt_sigprocmask",
            "rt_sigsuspend",
            "futex",
        ];
        let old_abi = [
            "restart_syscall",
            "rt_sigreturn",
            "sigreturn",
            "rt_sigprocmask",
            "sigprocmask",
            "rt_sigsuspend",
            "sigsuspend",
            "futex",
            "futex_time64",
        ];
        assert_eq!(on(&[Arch::X86_64]), native);
        assert_eq!(on(&[Arch::X32]), native);
        assert_eq!(on(&[Arch::X86]), old_abi);
        assert_eq!(on(&[Arch::X86_64, Arch::X86, Arch::X32]), old_abi);
        assert_eq!(on(&[Arch::Aarch64, Arch::Arm]), old_abi);
        assert_eq!(on(&[Arch::Aarch64]), native);
        assert_eq!(on(&[Arch::Riscv64]), native);
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
        assert_eq!(
            allowed(&p),
            [
                "futex",
                "restart_syscall",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigsuspend"
            ]
        );
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
            [
                "futex",
                "futex_time64",
                "getpid",
                "restart_syscall",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigsuspend",
                "sigprocmask",
                "sigreturn",
                "sigsuspend"
            ]
        );
        // Every runtime tail keeps them.
        for rt in [Runtime::Crun, Runtime::Runc, Runtime::Any] {
            let p = crate::profile::add_runtime_tail(&empty(Arch::X86_64), rt);
            for k in ["restart_syscall", "rt_sigreturn", "rt_sigsuspend"] {
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
        assert_eq!(
            names,
            [
                "restart_syscall",
                "sigreturn",
                "rt_sigprocmask",
                "sigprocmask",
                "rt_sigsuspend",
                "sigsuspend",
                "futex",
                "futex_time64"
            ]
        );
        assert!(m[0].breaks.contains("returns early"));
        assert!(m[6].breaks.contains("pthread_join"));
        assert!(m[6].why.contains("a thread waits for another"));
        assert!(m[4].breaks.contains("spins forever"));
        assert!(m[4].why.contains("has not come yet"));
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
