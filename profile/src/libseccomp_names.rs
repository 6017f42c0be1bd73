//! What this host's libseccomp knows (feature `libseccomp`): whether it can load a
//! syscall name on an architecture it supports. Runtimes resolve names with
//! libseccomp and skip the ones it does not know, so `validate` and the names on
//! architectures without a table of ours ask it. Without the feature every answer is
//! "not known" and no architecture is supported.

#[cfg(feature = "libseccomp")]
use std::str::FromStr;

/// Whether libseccomp knows `name` as a syscall of the architecture labelled `arch`
/// (`SCMP_ARCH_PPC64LE`).
pub fn knows(arch: &str, name: &str) -> bool {
    #[cfg(feature = "libseccomp")]
    {
        libseccomp::ScmpArch::from_str(arch)
            .ok()
            .and_then(|a| libseccomp::ScmpSyscall::from_name_by_arch(name, a).ok())
            .is_some_and(|s| s.as_raw_syscall() >= 0)
    }
    #[cfg(not(feature = "libseccomp"))]
    {
        let _ = (arch, name);
        false
    }
}
