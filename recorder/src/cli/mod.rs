//! The command line: one module per subcommand (its arguments and what it prints),
//! and [`run`], which dispatches a parsed command line.

#[cfg(feature = "cri")]
pub mod agent;
pub mod audit;
pub mod check;
pub mod diff;
pub mod enforce;
pub mod error;
pub mod floor;
mod gc;
pub mod generate;
pub mod hook;
pub mod install;
pub mod label;
pub mod merge;
pub mod record;
#[cfg(feature = "registry")]
pub mod registry;
pub mod syscalls;
pub mod validate;

use clap::{Parser, Subcommand};

use self::error::Error;
use crate::error::one_line;

/// `--version`: the package version and the commit it was built from (recorder/build.rs:
/// `git rev-parse --short=12 HEAD`, `-dirty` with uncommitted changes, `unknown`
/// outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SECCOMP_RECORDER_COMMIT"),
    ")"
);

/// Record the syscalls a container or command really makes and write a tight seccomp profile.
#[derive(Debug, Parser)]
#[command(name = "seccomp-recorder", version = VERSION, about, max_term_width = 100)]
pub struct Cli {
    // (No doc comment: clap would take it for help text.)
    #[allow(missing_docs)]
    #[command(subcommand)]
    pub command: Cmd,
}

// The subcommands; each variant's doc comment is its `--help` line.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run CMD in a fresh cgroup, record its syscalls from its exec on, write the profile.
    Record(record::RecordArgs),
    /// Apply a seccomp profile to CMD (no_new_privs, load the filter, exec), e.g. to
    /// prove a recorded profile outside containers.
    Enforce(enforce::EnforceArgs),
    /// Look up syscall numbers and names per architecture (like ausyscall).
    Syscalls(syscalls::SyscallsArgs),
    /// CI gate: exit 0 when every recorded syscall is allowed by the committed
    /// baseline, 1 when something new appears (listed), 2 on error, 3 when the baseline
    /// allows a call the --policy never allows, 4 when only variants of allowed calls
    /// (another libc's siblings) are missing.
    Check(check::CheckArgs),
    /// Added and removed syscalls per architecture between two profiles (exit 0
    /// identical, 1 different, 2 error, 3 B allows a call the --policy never allows).
    Diff(diff::DiffArgs),
    /// Union of profiles and recordings (allow lists per architecture), deterministic.
    Merge(merge::MergeArgs),
    /// Check profiles: schema errors with their JSON path, unknown syscall names per
    /// architecture, duplicate or contradicting rules (exit 0 valid, 1 problems, 2 error,
    /// 3 a call the --policy never allows is allowed).
    Validate(validate::ValidateArgs),
    /// Write the LOG twin of a profile: the same profile whose denials are
    /// SCMP_ACT_LOG, for an audit run (the kernel logs what it would have denied).
    AuditProfile(audit::AuditProfileArgs),
    /// What the kernel's seccomp records say would have been denied under a LOG twin
    /// (exit 0 nothing, 1 something, listed; 2 error); --propose writes the baseline
    /// with those calls allowed (exit 3 when some are never allowed by the policy).
    AuditReport(audit::AuditReportArgs),
    /// Print the image label that ships a profile with the image
    /// (`io.containers.seccomp.profile`, read by podman --seccomp-policy=image).
    Label(label::LabelArgs),
    /// OCI runtime hook: reads the container state on stdin (see hooks/ and README).
    Hook(hook::HookArgs),
    /// Install the binary and the podman / CRI-O hook definitions (oci-hooks(5)).
    Install(install::InstallArgs),
    /// Finish recordings whose poststop never came (container gone, recorder killed):
    /// write their profiles, release their kernel slots, detach when nothing is left.
    Gc,
    /// Remove the pinned eBPF program and maps when no recording is active.
    Unload,
    /// Node agent: record every container of the pods annotated
    /// `seccomp-recorder.io/record: "true"` from its first syscall, through the node's
    /// CRI, and merge the recordings of each workload (run it as a DaemonSet).
    #[cfg(feature = "cri")]
    Agent(agent::AgentArgs),
    /// Push a profile to an OCI registry as the artifact CRI-O and the Security
    /// Profiles Operator pull; prints REGISTRY/REPOSITORY@DIGEST (sign that).
    #[cfg(feature = "registry")]
    Push(registry::PushArgs),
    /// Pull a profile from an OCI registry (by tag, or by digest: verified, exit 78
    /// when the content has another digest).
    #[cfg(feature = "registry")]
    Pull(registry::PullArgs),
    /// Print the shell completion script (bash: `source <(seccomp-recorder
    /// completions bash)`).
    Completions(generate::CompletionsArgs),
    /// Print the manual page (roff), or write every page into --output-dir.
    Man(generate::ManArgs),
    /// Run CMD with an empty program at an attach point (benchmark floors).
    #[command(hide = true)]
    Floor(floor::FloorArgs),
}

/// Runs a parsed command line: the exit code of an answer, or the error.
pub fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Cmd::Record(args) => Ok(record::run(args, &mut std::io::stdout())?),
        Cmd::Enforce(args) => match enforce::run(&args)? {},
        Cmd::Syscalls(args) => {
            syscalls::run(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Check(args) => gate(check::run(&args, &mut std::io::stdout().lock())),
        Cmd::Diff(args) => gate(diff::run(&args, &mut std::io::stdout().lock())),
        Cmd::Merge(args) => Ok(merge::run(&args, &mut std::io::stdout().lock())?),
        Cmd::Validate(args) => gate(validate::run(&args, &mut std::io::stdout().lock())),
        Cmd::AuditProfile(args) => {
            audit::run_profile(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::AuditReport(args) => gate(audit::run_report(&args, &mut std::io::stdout().lock())),
        Cmd::Label(args) => {
            label::run(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Hook(args) => {
            hook::run(args, &mut std::io::stdin().lock())?;
            Ok(0)
        }
        Cmd::Install(args) => {
            install::run(args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Gc => gc::gc(),
        Cmd::Unload => gc::unload(),
        #[cfg(feature = "cri")]
        Cmd::Agent(args) => {
            agent::run(&args)?;
            Ok(0)
        }
        #[cfg(feature = "registry")]
        Cmd::Push(args) => {
            registry::run_push(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        #[cfg(feature = "registry")]
        Cmd::Pull(args) => {
            registry::run_pull(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Completions(args) => {
            generate::completions(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Man(args) => {
            generate::man(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Floor(args) => floor::run(&args),
    }
}

/// CI gates (`check`, `validate`, `diff`, `audit-report`) exit 2 on any error: 0, 1
/// and 3 (a policy violation) are answers.
fn gate<E: std::error::Error + 'static>(result: Result<u8, E>) -> Result<u8, Error> {
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("seccomp-recorder: {}", one_line(&e));
            Ok(2)
        }
    }
}
