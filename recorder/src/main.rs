//! The `seccomp-recorder` binary: parse, run, map errors to one line and an exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seccomp_recorder::exit::{Categorized, Category};
use seccomp_recorder::observability::{self, LogTarget};
use seccomp_recorder::{
    cmd_audit, cmd_check, cmd_diff, cmd_label, cmd_merge, cmd_syscalls, cmd_validate, enforce,
    hook, install, record, state, tracer,
};

/// Record the syscalls a container or command really makes and write a tight seccomp profile.
#[derive(Debug, Parser)]
#[command(name = "seccomp-recorder", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run CMD in a fresh cgroup, record its syscalls from its exec on, write the profile.
    Record(record::RecordArgs),
    /// Apply a seccomp profile to CMD (no_new_privs, load the filter, exec), e.g. to
    /// prove a recorded profile outside containers.
    Enforce(enforce::EnforceArgs),
    /// Look up syscall numbers and names per architecture (like ausyscall).
    Syscalls(cmd_syscalls::SyscallsArgs),
    /// CI gate: exit 0 when every recorded syscall is allowed by the committed
    /// baseline, 1 when something new appears (listed), 2 on error.
    Check(cmd_check::CheckArgs),
    /// Added and removed syscalls per architecture between two profiles (exit 0
    /// identical, 1 different, 2 error).
    Diff(cmd_diff::DiffArgs),
    /// Union of profiles and recordings (allow lists per architecture), deterministic.
    Merge(cmd_merge::MergeArgs),
    /// Check profiles: schema errors with their JSON path, unknown syscall names per
    /// architecture, duplicate or contradicting rules (exit 0 valid, 1 problems, 2 error).
    Validate(cmd_validate::ValidateArgs),
    /// Write the LOG twin of a profile: the same profile whose denials are
    /// SCMP_ACT_LOG, for an audit run (the kernel logs what it would have denied).
    AuditProfile(cmd_audit::AuditProfileArgs),
    /// What the kernel's seccomp records say would have been denied under a LOG twin
    /// (exit 0 nothing, 1 something, listed; 2 error).
    AuditReport(cmd_audit::AuditReportArgs),
    /// Print the image label that ships a profile with the image
    /// (`io.containers.seccomp.profile`, read by podman --seccomp-policy=image).
    Label(cmd_label::LabelArgs),
    /// OCI runtime hook: reads the container state on stdin (see hooks/ and README).
    Hook(hook::HookArgs),
    /// Install the binary and the podman / CRI-O hook definitions (oci-hooks(5)).
    Install(install::InstallArgs),
    /// Finish recordings whose poststop never came (container gone, recorder killed):
    /// write their profiles, release their kernel slots, detach when nothing is left.
    Gc,
    /// Remove the pinned eBPF program and maps when no recording is active.
    Unload,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Category::Usage.code()
            } else {
                0
            });
        }
    };
    let is_hook = matches!(cli.command, Cmd::Hook(_));
    observability::init(if is_hook {
        LogTarget::HookFile
    } else {
        LogTarget::Stderr
    });
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let line = one_line(&err);
            if is_hook {
                // The runtime may drop a hook's stderr (crun does): the log keeps it.
                tracing::error!("{line}");
            }
            eprintln!("seccomp-recorder: {line}");
            ExitCode::from(category_of(&err).code())
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Cmd::Record(args) => Ok(record::run(&args)?),
        Cmd::Enforce(args) => match enforce::run(&args)? {},
        Cmd::Syscalls(args) => {
            cmd_syscalls::run(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Check(args) => gate(cmd_check::run(&args, &mut std::io::stdout().lock())),
        Cmd::Diff(args) => gate(cmd_diff::run(&args, &mut std::io::stdout().lock())),
        Cmd::Merge(args) => Ok(cmd_merge::run(&args, &mut std::io::stdout().lock())?),
        Cmd::Validate(args) => gate(cmd_validate::run(&args, &mut std::io::stdout().lock())),
        Cmd::AuditProfile(args) => {
            cmd_audit::run_profile(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::AuditReport(args) => gate(cmd_audit::run_report(&args, &mut std::io::stdout().lock())),
        Cmd::Label(args) => {
            cmd_label::run(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Cmd::Hook(args) => {
            hook::run(&args, &mut std::io::stdin().lock())?;
            Ok(0)
        }
        Cmd::Install(args) => {
            let done = install::run(&args)?;
            println!("installed {}", done.binary.display());
            for f in &done.hook_files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
        Cmd::Gc => {
            let paths = tracer::TracerPaths::from_env();
            let store = state::StateStore::new(&paths.run_dir);
            let mut t = tracer::Tracer::open(&paths)?;
            let report = hook::collect_garbage(&mut t, &store, None)?;
            for id in &report.finished {
                println!("finished {id}");
            }
            if report.orphans > 0 {
                println!("released {} orphaned recording slot(s)", report.orphans);
            }
            if report.stale_builds > 0 {
                println!("removed the pins of {} older build(s)", report.stale_builds);
            }
            for (id, why) in &report.failed {
                eprintln!("seccomp-recorder: could not finish {id}: {why}");
            }
            Ok(if report.failed.is_empty() { 0 } else { 1 })
        }
        Cmd::Unload => {
            let paths = tracer::TracerPaths::from_env();
            if tracer::unload(&paths)? {
                Ok(0)
            } else {
                eprintln!("seccomp-recorder: recordings are still active; nothing unloaded (finish them or run gc)");
                Ok(1)
            }
        }
    }
}

/// CI gates (`check`, `validate`, `diff`) exit 2 on any error: 0 and 1 are answers.
fn gate<E: std::error::Error + Send + Sync + 'static>(result: Result<u8, E>) -> anyhow::Result<u8> {
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("seccomp-recorder: {}", one_line(&anyhow::Error::from(e)));
            Ok(2)
        }
    }
}

/// The error and its causes on one line: "a: b: c". Messages quote what they refuse
/// (an annotation value, a JSON key): control characters in it are escaped (`\n`,
/// `\u{1b}`), so hostile input cannot add lines to stderr or the hook log.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
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

/// The exit-code category of the first error in the chain that knows one.
fn category_of(err: &anyhow::Error) -> Category {
    for cause in err.chain() {
        macro_rules! try_as {
            ($($t:ty),*) => {$(
                if let Some(e) = cause.downcast_ref::<$t>() {
                    return e.category();
                }
            )*};
        }
        try_as!(
            record::RecordError,
            tracer::TracerError,
            seccomp_recorder::cgroup::CgroupError,
            seccomp_recorder::btf::BtfError,
            seccomp_recorder::output::WriteError,
            seccomp_recorder::syscalls::SyscallError,
            cmd_syscalls::SyscallsError,
            enforce::EnforceError,
            hook::HookError,
            install::InstallError,
            seccomp_recorder::formats::FormatError,
            cmd_merge::MergeError,
            state::StateError,
            seccomp_recorder::outdir::OutputPathError,
            seccomp_recorder::annotations::AnnotationError,
            seccomp_recorder::profile_file::ProfileFileError,
            seccomp_recorder::engine::EngineError,
            cmd_label::LabelError,
            seccomp_recorder::evidence::EvidenceError,
            cmd_audit::AuditError
        );
    }
    Category::Internal
}
