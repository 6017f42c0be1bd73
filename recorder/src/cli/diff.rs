//! `seccomp-recorder diff A B`: what changes from profile A to profile B; the logic is
//! [`seccomp_profile::diff`].
//!
//! Exit codes (see [`run`]): 0 identical, 1 different, 2 any error, 3 B allows a
//! call `--policy` never allows.

use std::io::Write;
use std::path::PathBuf;

use seccomp_profile::diff::{self, render_text};

use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::HostFacts;

/// Arguments of `diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The old profile (OCI, podman/Docker with archMap, or a SeccompProfile resource).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The new profile.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Also check B against this never-allow policy (`default` or a file): its
    /// violations are listed (risky in the markdown) and the exit code is 3.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
}

/// Output formats of `diff`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// `+`/`-` lines for people, in a stable order.
    Text,
    /// `{"identical": bool, "defaultAction": {from, to}|null, ..., "syscalls": [{arch,
    /// added, removed}], ..., "variants": [{arch, name, variant_of}], "policy": {...}}`
    /// (`variants` when there are any, `policy` with `--policy`).
    Json,
    /// Markdown for a pull-request comment or a CI job summary: settings, then each
    /// added or removed name, marked when it is risky (`--policy`) or a variant of a
    /// name A allows.
    Markdown,
}

/// Errors of `diff`. Whatever their category, the binary exits with 2 on any of them.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The profiles could not be compared.
    #[error(transparent)]
    Diff(#[from] diff::DiffError),
    /// The policy is unusable.
    #[error(transparent)]
    Policy(#[from] seccomp_profile::policy::PolicyError),
    /// The result could not be serialized (not expected).
    #[error("cannot serialize the result")]
    Json(#[source] serde_json::Error),
    /// Writing the result failed (e.g. a closed pipe).
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
}

impl Categorized for DiffError {
    fn category(&self) -> Category {
        match self {
            DiffError::Diff(e) => e.category(),
            DiffError::Policy(e) => e.category(),
            DiffError::Json(_) => Category::Internal,
            DiffError::Write(_) => Category::Io,
        }
    }
}

/// Runs `diff`, writing the result to `out`.
///
/// Returns the exit code: 0 when the profiles do the same, 1 when they differ, 3
/// (over both) when B violates `--policy`. Every
/// `Err` means "the profiles could not be compared" and the binary must exit with 2
/// for it, whatever [`Categorized::category`] says (as `diff(1)` and `cmp(1)` do).
pub fn run(args: &DiffArgs, out: &mut dyn Write) -> Result<u8, DiffError> {
    let host = HostFacts::current();
    let policy = args
        .policy
        .as_deref()
        .map(seccomp_profile::policy::Policy::load)
        .transpose()?;
    let d = diff::diff_files(&args.a, &args.b, policy.as_ref(), &host)?;
    let text = match args.format {
        DiffFormat::Text => render_text(
            &d,
            &args.a.display().to_string(),
            &args.b.display().to_string(),
        ),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&d).map_err(DiffError::Json)?;
            s.push('\n');
            s
        }
        DiffFormat::Markdown => seccomp_profile::markdown::render_diff(
            &d,
            &args.a.display().to_string(),
            &args.b.display().to_string(),
        ),
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(DiffError::Write)?;
    Ok(diff::exit_code(&d))
}
