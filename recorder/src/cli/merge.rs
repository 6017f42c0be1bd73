//! `seccomp-recorder merge -o OUT IN...`: one profile that allows what every input
//! allows or used; the logic is [`seccomp_profile::merge`]. The output is written
//! atomically.

use std::io::Write;
use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccompAction;
use seccomp_profile::merge::{self, MergeRequest};

use crate::fs::atomic::{write_atomic, WriteError};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::Format;
use seccomp_profile::profile_file::HostFacts;
use seccomp_profile::runtime::Runtime;

/// Arguments of `merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Write the merged profile here (atomically); `-` writes to stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT", required = true)]
    pub output: PathBuf,
    /// Profiles, stats files or reports to merge.
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<PathBuf>,
    /// Take defaultAction and defaultErrnoRet from the N-th input (1-based), which must
    /// be a profile.
    #[arg(
        long,
        visible_alias = "prefer-default-from",
        value_name = "N",
        conflicts_with_all = ["default_action", "default_errno"]
    )]
    pub default_from: Option<usize>,
    /// The defaultAction of the result (e.g. SCMP_ACT_ERRNO), when the inputs disagree.
    #[arg(long, value_name = "ACTION", value_parser = parse_action_arg)]
    pub default_action: Option<LinuxSeccompAction>,
    /// The defaultErrnoRet of the result (EPERM, ENOSYS, another errno name, or a
    /// number), when the inputs disagree.
    #[arg(long, value_name = "ERRNO", value_parser = parse_errno_arg)]
    pub default_errno: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Oci)]
    pub format: Format,
    /// `metadata.name` of the SeccompProfile resource (`--format spo`) [default: OUT's
    /// file name without extension].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The OCI runtime the result must start under: its start-up calls (made through
    /// the container's filter before the workload's execve) are allowed too. `any`:
    /// every known runtime's; `none`: only what the inputs allow or used.
    #[arg(long, value_enum, default_value_t = Runtime::Any, value_name = "RUNTIME")]
    pub runtime: Runtime,
    /// Also allow the variants of each allowed call that another libc or runtime may
    /// make instead (as `record --portable`).
    #[arg(long)]
    pub portable: bool,
}

/// `SCMP_ACT_ERRNO`, `scmp_act_errno` or `errno`.
fn parse_action_arg(s: &str) -> Result<LinuxSeccompAction, String> {
    let upper = s.to_ascii_uppercase();
    let full = if upper.starts_with("SCMP_ACT_") {
        upper
    } else {
        format!("SCMP_ACT_{upper}")
    };
    seccomp_profile::vocabulary::parse_action(&full).ok_or_else(|| {
        format!("unknown action '{s}' (known: SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_NOTIFY)")
    })
}

/// `EPERM`, `enosys` or a number.
fn parse_errno_arg(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .or_else(|| seccomp_profile::vocabulary::errno_by_name(&s.to_ascii_uppercase()))
        .ok_or_else(|| format!("unknown errno '{s}' (e.g. EPERM, ENOSYS, or a number)"))
}

/// Errors of `merge`.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The inputs could not be merged.
    #[error(transparent)]
    Merge(#[from] merge::MergeError),
    /// The output file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Writing to stdout failed.
    #[error("cannot write the profile to stdout")]
    Stdout(#[source] std::io::Error),
}

impl Categorized for MergeError {
    fn category(&self) -> Category {
        match self {
            MergeError::Merge(e) => e.category(),
            MergeError::Write(e) => e.category(),
            MergeError::Stdout(_) => Category::Io,
        }
    }
}

/// The SPO resource name: `--name`, else the output file's stem.
fn resource_name(args: &MergeArgs) -> String {
    args.name.clone().unwrap_or_else(|| {
        args.output
            .file_stem()
            .filter(|_| args.output.as_os_str() != "-")
            .map_or_else(|| "merged".to_owned(), |s| s.to_string_lossy().into_owned())
    })
}

/// Runs `merge`: writes the merged profile to `args.output` (atomically) or, for `-`,
/// to `out`. Returns the exit code, 0. Errors map to exit codes by their category, as
/// for `record`.
pub fn run(args: &MergeArgs, out: &mut dyn Write) -> Result<u8, MergeError> {
    let host = HostFacts::current();
    let name = resource_name(args);
    let text = merge::merge_files(
        &MergeRequest {
            inputs: &args.inputs,
            default_from: args.default_from,
            default_action: args.default_action,
            default_errno: args.default_errno,
            runtime: args.runtime,
            format: args.format,
            name: &name,
            portable: args.portable,
        },
        &host,
    )?;
    if args.output.as_os_str() == "-" {
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(MergeError::Stdout)?;
    } else {
        write_atomic(&args.output, text.as_bytes())?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values() {
        assert_eq!(
            parse_action_arg("errno"),
            Ok(LinuxSeccompAction::ScmpActErrno)
        );
        assert_eq!(
            parse_action_arg("SCMP_ACT_KILL_PROCESS"),
            Ok(LinuxSeccompAction::ScmpActKillProcess)
        );
        assert!(parse_action_arg("frob").is_err());
        assert_eq!(parse_errno_arg("EPERM"), Ok(1));
        assert_eq!(parse_errno_arg("enosys"), Ok(38));
        assert_eq!(parse_errno_arg("13"), Ok(13));
        assert!(parse_errno_arg("EFROB").is_err());
    }
}
