//! `seccomp-recorder enforce --profile FILE -- CMD`: apply an OCI seccomp profile to a
//! command, outside any container, so that a recorded profile can be proven. The
//! compiler and its semantics (those of crun and runc) are [`crate::kernel::filter`].

use std::convert::Infallible;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use libseccomp::error::SeccompError;
use nix::errno::Errno;

use crate::kernel::filter::{compile_loaded, CompileError};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::{self, HostFacts, ProfileFileError};

/// Command-line arguments of `seccomp-recorder enforce`.
#[derive(clap::Args, Debug, Clone)]
pub struct EnforceArgs {
    /// The seccomp profile to apply (OCI runtime-spec `linux.seccomp` JSON, or a
    /// podman/Docker profile with archMap, includes/excludes).
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,

    /// Set no_new_privs before loading the filter, as container runtimes do with
    /// no-new-privileges. `--no-new-privs=false` is allowed only as root with
    /// CAP_SYS_ADMIN (the kernel requires one or the other to load a filter).
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub no_new_privs: bool,

    /// The command to run under the profile, and its arguments (after `--`).
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

/// Why `enforce` could not run the command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnforceError {
    /// No command was given.
    #[error("no command given")]
    NoCommand,
    /// A command argument contains a NUL byte.
    #[error("argument {0} of the command contains a NUL byte")]
    NulInArgument(usize),
    /// The profile file could not be read or parsed.
    #[error(transparent)]
    Profile(#[from] ProfileFileError),
    /// The profile cannot be applied exactly.
    #[error("cannot apply profile {}", path.display())]
    Compile {
        /// The profile file.
        path: PathBuf,
        /// What cannot be applied.
        #[source]
        error: Box<CompileError>,
    },
    /// `--no-new-privs=false` without root and CAP_SYS_ADMIN.
    #[error("--no-new-privs=false needs root with CAP_SYS_ADMIN (without no_new_privs the kernel lets only privileged processes load a seccomp filter)")]
    NoNewPrivsRequired,
    /// prctl(PR_SET_NO_NEW_PRIVS) failed.
    #[error("cannot set no_new_privs")]
    NoNewPrivs(#[source] Errno),
    /// The kernel refused the filter.
    #[error("cannot load the seccomp filter")]
    Load(#[source] SeccompError),
    /// The profile denies `execve`, so the command cannot start under it.
    #[error("cannot execute '{program}': execve was denied by the profile ({errno}); allow execve in the profile")]
    ExecDenied {
        /// The command.
        program: String,
        /// The errno the profile returns.
        errno: Errno,
    },
    /// `execvp` failed.
    #[error("cannot execute '{program}'")]
    Exec {
        /// The command.
        program: String,
        /// The error.
        #[source]
        errno: Errno,
    },
}

impl Categorized for EnforceError {
    fn category(&self) -> Category {
        match self {
            EnforceError::NoCommand | EnforceError::NulInArgument(_) => Category::Usage,
            EnforceError::Profile(e) => e.category(),
            EnforceError::Compile { error, .. } => error.category(),
            EnforceError::NoNewPrivsRequired => Category::Permission,
            EnforceError::NoNewPrivs(_) => Category::Internal,
            EnforceError::Load(e) => match e.sysrawrc().map(|rc| Errno::from_raw(-rc)) {
                Some(Errno::EACCES | Errno::EPERM) => Category::Permission,
                Some(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
                    Category::MissingKernelFeature
                }
                _ => Category::Internal,
            },
            EnforceError::ExecDenied { .. } => Category::CannotExecute,
            EnforceError::Exec { errno, .. } => match errno {
                Errno::ENOENT => Category::CommandNotFound,
                _ => Category::CannotExecute,
            },
        }
    }
}

/// Everything that can fail is done before the first irreversible step (reading and
/// compiling the profile, checking privileges, preparing the argument vector); then
/// no_new_privs is set, the filter loaded and the command executed. Between the load
/// and `execve` only `execve` itself runs, so the profile must allow it; if it does
/// not, the error says so. An error after the load is reported by a process that is
/// already filtered: if the profile denies `write`, the message is lost (the exit code
/// remains).
pub fn run(args: &EnforceArgs) -> Result<Infallible, EnforceError> {
    let program = args
        .command
        .first()
        .ok_or(EnforceError::NoCommand)?
        .to_string_lossy()
        .into_owned();
    let argv = args
        .command
        .iter()
        .enumerate()
        .map(|(i, a)| CString::new(a.as_bytes()).map_err(|_| EnforceError::NulInArgument(i)))
        .collect::<Result<Vec<_>, _>>()?;

    let profile = profile_file::load_profile(&args.profile, &HostFacts::current())?;
    let compiled = compile_loaded(&profile).map_err(|error| EnforceError::Compile {
        path: args.profile.clone(),
        error: Box::new(error),
    })?;
    for s in compiled.skipped() {
        tracing::debug!(
            "{}: '{}' is unknown to libseccomp on {}; skipped there, as runc and crun do",
            s.rule,
            s.name,
            s.arches.join(", ")
        );
    }
    if !args.no_new_privs && !may_load_without_no_new_privs() {
        return Err(EnforceError::NoNewPrivsRequired);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());

    // Rust ignores SIGPIPE; an ignored signal stays ignored across execve, and the
    // command should start with the default disposition, as from a shell.
    // SAFETY: installs SIG_DFL, no handler code runs in this process.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    if args.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(EnforceError::NoNewPrivs)?;
    }
    compiled.load().map_err(EnforceError::Load)?;
    // SAFETY: `argv` owns the NUL-terminated strings and outlives the call;
    // `argv_ptrs` is NULL-terminated. No allocation between load and execve.
    unsafe { libc::execvp(argv[0].as_ptr(), argv_ptrs.as_ptr()) };
    let errno = Errno::last();
    if compiled.execve_errno() == Some(errno as i32) {
        return Err(EnforceError::ExecDenied { program, errno });
    }
    Err(EnforceError::Exec { program, errno })
}

/// Root with CAP_SYS_ADMIN in the effective set.
fn may_load_without_no_new_privs() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    nix::unistd::geteuid().is_root()
        && std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| profile_file::status_cap_field(&s, "CapEff"))
            .is_some_and(|eff| eff & (1 << CAP_SYS_ADMIN) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: EnforceArgs,
    }

    #[test]
    fn command_line() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["x", "--profile", "p.json", "--", "mkdir", "-p", "d"])
            .expect("parses");
        assert!(cli.args.no_new_privs);
        assert_eq!(cli.args.command, ["mkdir", "-p", "d"]);
        let cli = Cli::try_parse_from([
            "x",
            "--profile",
            "p.json",
            "--no-new-privs=false",
            "ls",
            "-l",
        ])
        .expect("parses");
        assert!(!cli.args.no_new_privs);
        assert_eq!(cli.args.command, ["ls", "-l"]);
        assert!(Cli::try_parse_from(["x", "--profile", "p.json"]).is_err());
    }
}
