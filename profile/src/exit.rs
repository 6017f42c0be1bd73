//! Exit codes of the `seccomp-recorder` binary.
//!
//! Every failure of the tool itself maps to one documented code, so scripts can tell
//! "unknown syscall name" from "not root" without parsing messages. `record` and
//! `enforce` otherwise pass through the exit status of the command they ran.

/// The exit code of `check --policy` and `validate --policy` when a profile allows a
/// call the policy never allows (an answer, like 1 for "new syscalls", not an error;
/// it wins over 1).
pub const POLICY_VIOLATION: u8 = 3;

/// The exit code of `check` when nothing recorded is new but some calls are variants
/// of calls the baseline allows ([`crate::portable`]): the baseline would deny them,
/// and `merge --portable` allows them. 1 (something new) and 3 win over it.
pub const VARIANTS_ONLY: u8 = 4;

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The command line was wrong (clap also uses 2).
    Usage,
    /// An architecture name that no table knows.
    UnknownArch,
    /// A syscall name or number that the architecture's table does not know.
    UnknownSyscall,
    /// A profile or other input file that is malformed or cannot be applied exactly.
    BadInput,
    /// The kernel lacks something we need (BTF, cgroup v2, bpffs, eBPF).
    MissingKernelFeature,
    /// Not root or missing capabilities.
    Permission,
    /// A container id that no container engine knows (or whose container is not
    /// running).
    UnknownContainer,
    /// A name that matches more than one object (a pod name in several namespaces).
    Ambiguous,
    /// A service we must ask is not reachable (a container engine's daemon or socket).
    Unavailable,
    /// Something answers where a service should be, but not with its protocol (a
    /// socket that does not serve the CRI).
    Protocol,
    /// Reading or writing a file failed.
    Io,
    /// The command to run was found but could not be executed.
    CannotExecute,
    /// The command to run was not found.
    CommandNotFound,
    /// Anything else: a bug or an unexpected kernel answer.
    Internal,
    /// Content pulled by digest (`pull REF@sha256:...`) whose bytes have another
    /// digest: not what was signed or pinned.
    DigestMismatch,
}

impl Category {
    /// The process exit code for this category.
    pub const fn code(self) -> u8 {
        match self {
            Category::Usage => 2,
            Category::UnknownArch => 64,
            Category::UnknownSyscall => 65,
            Category::BadInput => 66,
            Category::MissingKernelFeature => 69,
            Category::Internal => 70,
            Category::Io => 74,
            Category::Permission => 77,
            Category::UnknownContainer => 67,
            Category::Ambiguous => 68,
            Category::Unavailable => 75,
            Category::Protocol => 76,
            Category::CannotExecute => 126,
            Category::CommandNotFound => 127,
            Category::DigestMismatch => 78,
        }
    }
}

/// Errors that know which exit code they deserve.
pub trait Categorized {
    /// The exit-code category of this error.
    fn category(&self) -> Category;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Category::Usage,
            Category::UnknownArch,
            Category::UnknownSyscall,
            Category::BadInput,
            Category::MissingKernelFeature,
            Category::Permission,
            Category::UnknownContainer,
            Category::Ambiguous,
            Category::Unavailable,
            Category::Protocol,
            Category::Io,
            Category::CannotExecute,
            Category::CommandNotFound,
            Category::Internal,
            Category::DigestMismatch,
        ];
        let mut codes: Vec<u8> = all.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // The gates' answers: 0 ok, 1 something found, 2 any error (= Usage), 3 policy.
        assert!(!codes.contains(&POLICY_VIOLATION));
        assert!(![0, 1, 2].contains(&POLICY_VIOLATION));
        assert!(!codes.contains(&VARIANTS_ONLY));
        assert!(![0, 1, 2, POLICY_VIOLATION].contains(&VARIANTS_ONLY));
    }
}
