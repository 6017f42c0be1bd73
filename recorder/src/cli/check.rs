//! `seccomp-recorder check --baseline COMMITTED RECORDED...`: the CI gate; the logic is
//! [`seccomp_profile::check`].
//!
//! Exit codes (see [`run`]): 0 nothing new, 1 something new, 2 any error, 3 the
//! baseline allows a call `--policy` never allows, 4 only variants of allowed calls
//! (another libc's siblings: `merge --portable` allows them).

use std::io::Write;
use std::path::PathBuf;

use seccomp_profile::check::{self, render_text};
use seccomp_profile::policy::{Policy, PolicyError};

use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::HostFacts;
use seccomp_profile::runtime::Runtime;

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The committed profile the recordings must stay within (OCI, podman/Docker with
    /// archMap, or a SeccompProfile resource in JSON).
    #[arg(long, value_name = "COMMITTED")]
    pub baseline: PathBuf,
    /// What the runs used: `record --stats` files, reports, or recorded profiles.
    #[arg(required = true, value_name = "RECORDED")]
    pub recorded: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// The OCI runtime the baseline must start under: its start-up calls (made through
    /// the container's filter before the workload's execve) count as used. `any`: every
    /// known runtime's; `none`: only the recordings.
    #[arg(long, value_enum, default_value_t = Runtime::Any, value_name = "RUNTIME")]
    pub runtime: Runtime,
    /// Also fail (exit 3) when the baseline allows a call this never-allow policy
    /// forbids: `default` (the shipped list) or a policy file. The recorded reports
    /// name the process that made each such call.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
}

/// Output formats of `check`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    /// Lines for people, in a stable order.
    Text,
    /// `{"ok": bool, "new": [{arch, name, nr, count, first}], "variants": [{...,
    /// variant_of: [names]}], "conditional": [...],
    /// "unused": [names], "policy": {"policy", "violations": [{name, arches, allowed,
    /// rules, reason, first}]}}` (`policy` with `--policy` only).
    Json,
    /// Markdown for a pull-request comment or a CI job summary: the verdict, then
    /// tables of the new calls, the risky calls (`--policy`) and the variants.
    Markdown,
}

/// Errors of `check`. Whatever their category, the binary exits with 2 on any of them.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The check could not be made.
    #[error(transparent)]
    Check(#[from] check::CheckError),
    /// The policy is unusable.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The result could not be serialized (not expected).
    #[error("cannot serialize the result")]
    Json(#[source] serde_json::Error),
    /// Writing the result failed (e.g. a closed pipe).
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
}

impl Categorized for CheckError {
    fn category(&self) -> Category {
        match self {
            CheckError::Check(e) => e.category(),
            CheckError::Policy(e) => e.category(),
            CheckError::Json(_) => Category::Internal,
            CheckError::Write(_) => Category::Io,
        }
    }
}

/// Runs `check`, writing the result to `out`.
///
/// Returns the exit code: 0 when every recorded syscall is allowed, 1 when something
/// new appeared, 4 when only variants of allowed calls are missing, 3 (over 1 and 4)
/// when the baseline violates `--policy`. Every `Err` means
/// "the check could not be made" and the binary must exit with 2 for it, whatever
/// [`Categorized::category`] says, so that CI can tell the outcomes apart.
pub fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<u8, CheckError> {
    let host = HostFacts::current();
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    let report = check::check_files(
        &args.baseline,
        &args.recorded,
        args.runtime,
        policy.as_ref(),
        &host,
    )?;
    let text = match args.format {
        CheckFormat::Text => render_text(&report, &args.baseline.display().to_string()),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report).map_err(CheckError::Json)?;
            s.push('\n');
            s
        }
        CheckFormat::Markdown => {
            seccomp_profile::markdown::render_check(&report, &args.baseline.display().to_string())
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(CheckError::Write)?;
    Ok(check::exit_code(&report))
}
