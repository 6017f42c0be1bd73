//! The one error of the binary: what any command can fail with, and the exit code
//! each maps to. A command's error type joins here with `#[from]`, so that `?` in
//! [`crate::cli::run`] only compiles for an error that has a category.

#[cfg(feature = "cri")]
use super::agent::AgentCliError;
use super::audit::AuditError;
use super::enforce::EnforceError;
use super::generate::GenerateError;
use super::label::LabelError;
use super::merge::MergeError;
#[cfg(feature = "registry")]
use super::registry::RegistryCliError;
use super::syscalls::SyscallsError;
use crate::container::install::InstallError;
use crate::kernel::tracer::TracerError;
use crate::session::finish::FinishError;
use crate::session::hook::HookError;
use crate::session::record::RecordError;
use seccomp_profile::exit::{Categorized, Category};

/// Every way a command fails. Each variant is transparent: the message and causes are
/// the command's own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `record`.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// `enforce`.
    #[error(transparent)]
    Enforce(#[from] EnforceError),
    /// `syscalls`.
    #[error(transparent)]
    Syscalls(#[from] SyscallsError),
    /// `merge`.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// `audit-profile`.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// `label`.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// `hook`.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// `install`.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// `gc` and `unload`: the kernel side.
    #[error(transparent)]
    Tracer(#[from] TracerError),
    /// `gc`: finishing recordings.
    #[error(transparent)]
    Finish(#[from] FinishError),
    /// `agent`.
    #[cfg(feature = "cri")]
    #[error(transparent)]
    Agent(#[from] AgentCliError),
    #[cfg(feature = "registry")]
    /// `push` and `pull`.
    #[error(transparent)]
    Registry(#[from] RegistryCliError),
    /// `completions` and `man`.
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

impl Categorized for Error {
    fn category(&self) -> Category {
        match self {
            Error::Record(e) => e.category(),
            Error::Enforce(e) => e.category(),
            Error::Syscalls(e) => e.category(),
            Error::Merge(e) => e.category(),
            Error::Audit(e) => e.category(),
            Error::Label(e) => e.category(),
            Error::Hook(e) => e.category(),
            Error::Install(e) => e.category(),
            Error::Tracer(e) => e.category(),
            Error::Finish(e) => e.category(),
            #[cfg(feature = "cri")]
            Error::Agent(e) => e.category(),
            #[cfg(feature = "registry")]
            Error::Registry(e) => e.category(),
            Error::Generate(e) => e.category(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::one_line;

    #[test]
    fn a_variant_keeps_its_commands_message_and_exit_code() {
        let e = Error::from(TracerError::NotRoot);
        assert_eq!(e.category(), TracerError::NotRoot.category());
        assert_eq!(one_line(&e), one_line(&TracerError::NotRoot));
    }
}
