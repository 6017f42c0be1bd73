//! The one error of the binary: what any command can fail with, and the exit code
//! each maps to. A command's error type joins here with `#[from]`, so that `?` in
//! [`crate::cli::run`] only compiles for an error that has a category.

#[cfg(feature = "cri")]
use crate::cli::agent::AgentCliError;
use crate::cli::audit::AuditError;
use crate::cli::enforce::EnforceError;
use crate::cli::generate::GenerateError;
use crate::cli::label::LabelError;
use crate::cli::merge::MergeError;
#[cfg(feature = "registry")]
use crate::cli::registry::RegistryCliError;
use crate::cli::syscalls::SyscallsError;
use crate::container::hook::HookError;
use crate::container::install::InstallError;
use crate::kernel::tracer::TracerError;
use crate::session::finish::FinishError;
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

/// The error and its causes on one line: "a: b: c" (a cause already contained in the
/// message before it is not repeated). Messages quote what they refuse (an
/// annotation value, a JSON key): control characters in it are escaped (`\n`,
/// `\u{1b}`), so hostile input cannot add lines to stderr or the hook log.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cause = e.source();
    }
    let mut line = String::new();
    for c in parts.join(": ").chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner\nline")]
    struct Inner;

    #[test]
    fn one_line_chains_causes_and_escapes_control_characters() {
        assert_eq!(one_line(&Outer(Inner)), "outer inner\\nline");
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Plain(#[source] Inner);
        assert_eq!(one_line(&Plain(Inner)), "outer: inner\\nline");
    }

    #[test]
    fn a_variant_keeps_its_commands_message_and_exit_code() {
        let e = Error::from(TracerError::NotRoot);
        assert_eq!(e.category(), TracerError::NotRoot.category());
        assert_eq!(one_line(&e), one_line(&TracerError::NotRoot));
    }
}
