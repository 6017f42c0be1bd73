//! `seccomp-recorder validate FILE...`: the arguments and the report (text or JSON);
//! the checks are [`seccomp_profile::validate`].
//!
//! Exit code: 0 when no errors were found (warnings allowed), 1 when some were, 3 when a
//! profile allows a call the `--policy` never allows (3 wins over 1). A file or policy
//! that cannot be read is an error of the command itself ([`ValidateError`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use seccomp_profile::evidence::{self, EvidenceError, NamedSyscall};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::Format;
use seccomp_profile::policy::{self, Policy, PolicyError, PolicyReport};
use seccomp_profile::profile_file::HostFacts;
use seccomp_profile::validate::{validate, Finding, Validation};

/// Command-line arguments of `seccomp-recorder validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Profiles to check: OCI `linux.seccomp` JSON, podman/Docker seccomp files, or SPO
    /// `SeccompProfile` resources (JSON).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Read every file as this format instead of detecting it (`oci` refuses the
    /// podman/Docker extensions such as archMap).
    #[arg(long = "as", value_enum, value_name = "FORMAT")]
    pub input_format: Option<Format>,

    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Also check every profile against this never-allow policy: `default` (the
    /// shipped list) or a policy file. A profile that allows a call the policy never
    /// allows makes the exit code 3.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,

    /// Reports (`record --report`, the hook's report annotation) that name the process
    /// that made each never-allowed call (repeatable; needs --policy).
    #[arg(long = "report", value_name = "FILE", requires = "policy")]
    pub reports: Vec<PathBuf>,
}

/// Output formats of `validate`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// One `FILE: PATH: error|warning: MESSAGE` line per finding, then a summary line.
    #[default]
    Text,
    /// One JSON document: `{"files": [{"file", "format", "findings": [{"severity",
    /// "path", "message"}], "policy"?: {"policy", "violations": [...]}}], "errors",
    /// "warnings", "policy_violations"?}` (the policy parts with `--policy` only).
    Json,
}

/// Why `validate` could not do its job (problems in the profiles are findings, not
/// errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing the report failed.
    #[error("cannot write the report")]
    Write(#[source] std::io::Error),
    /// The JSON report could not be serialized (not expected).
    #[error("cannot serialize the report as JSON")]
    Json(#[source] serde_json::Error),
    /// The policy is unusable.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A `--report` file is unusable.
    #[error(transparent)]
    Report(#[from] EvidenceError),
}

impl Categorized for ValidateError {
    fn category(&self) -> Category {
        match self {
            ValidateError::Read { .. } | ValidateError::Write(_) => Category::Io,
            ValidateError::Json(_) => Category::Internal,
            ValidateError::Policy(e) => e.category(),
            ValidateError::Report(e) => e.category(),
        }
    }
}

/// Runs `validate`: reads every file (any unreadable file is an `Err` before anything
/// is printed), checks them, writes the report to `out`. Returns the exit code: 0 when
/// no errors were found, 1 otherwise, 3 (over 1) when a profile violates `--policy`.
pub fn run(args: &ValidateArgs, out: &mut dyn Write) -> Result<u8, ValidateError> {
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    let host = HostFacts::current();
    let mut calls = Vec::new();
    for r in &args.reports {
        calls.extend(evidence::load(r, &host)?.evidence()?);
    }
    let mut texts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bytes = std::fs::read(path).map_err(|source| ValidateError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push((path.as_path(), bytes));
    }
    let results: Vec<Checked> = texts
        .iter()
        .map(|(path, bytes)| Checked {
            path,
            validation: validate(bytes, args.input_format),
            policy: policy
                .as_ref()
                .and_then(|p| policy_report(p, path, &host, &calls)),
        })
        .collect();
    let totals = Totals {
        errors: results.iter().map(|c| c.validation.errors()).sum(),
        warnings: results.iter().map(|c| c.validation.warnings()).sum(),
        violations: policy.as_ref().map(|_| {
            results
                .iter()
                .filter_map(|c| c.policy.as_ref())
                .map(|p| p.violations.len())
                .sum()
        }),
    };
    match args.format {
        ReportFormat::Text => write_text(out, &results, &totals),
        ReportFormat::Json => write_json(out, &results, &totals),
    }?;
    Ok(if totals.violations.is_some_and(|n| n > 0) {
        policy::EXIT_CODE
    } else if totals.errors > 0 {
        1
    } else {
        0
    })
}

/// One checked file.
struct Checked<'a> {
    path: &'a Path,
    validation: Validation,
    /// `None`: no policy, or the file is no profile that can be read (its findings
    /// say why).
    policy: Option<PolicyReport>,
}

struct Totals {
    errors: usize,
    warnings: usize,
    /// With `--policy`: the violations over all files.
    violations: Option<usize>,
}

/// The policy check of the profile at `path`, with first uses from `calls`; `None`
/// when the file cannot be read as a profile (validation reports that).
fn policy_report(
    policy: &Policy,
    path: &Path,
    host: &HostFacts,
    calls: &[NamedSyscall],
) -> Option<PolicyReport> {
    let input = evidence::load(path, host).ok()?;
    let mut violations = policy::evaluate(policy, input.variants()?);
    policy::attach_first_use(&mut violations, calls);
    Some(PolicyReport {
        policy: policy.source.clone(),
        violations,
    })
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn write_text(out: &mut dyn Write, results: &[Checked], t: &Totals) -> Result<(), ValidateError> {
    for c in results {
        for f in &c.validation.findings {
            writeln!(
                out,
                "{}: {}: {}: {}",
                c.path.display(),
                f.path,
                f.severity,
                f.message
            )
            .map_err(ValidateError::Write)?;
        }
        if let Some(p) = &c.policy {
            let text = policy::render_text(p, &c.path.display().to_string());
            out.write_all(text.as_bytes())
                .map_err(ValidateError::Write)?;
        }
    }
    let policy = match t.violations {
        Some(n) => format!(", {}", plural(n, "policy violation")),
        None => String::new(),
    };
    writeln!(
        out,
        "checked {}: {}, {}{policy}",
        plural(results.len(), "file"),
        plural(t.errors, "error"),
        plural(t.warnings, "warning")
    )
    .map_err(ValidateError::Write)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    errors: usize,
    warnings: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_violations: Option<usize>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    file: &'a Path,
    format: Option<&'static str>,
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a PolicyReport>,
}

fn write_json(out: &mut dyn Write, results: &[Checked], t: &Totals) -> Result<(), ValidateError> {
    let report = JsonReport {
        files: results
            .iter()
            .map(|c| JsonFile {
                file: c.path,
                format: c.validation.format.map(Format::name),
                findings: &c.validation.findings,
                policy: c.policy.as_ref(),
            })
            .collect(),
        errors: t.errors,
        warnings: t.warnings,
        policy_violations: t.violations,
    };
    let mut text = serde_json::to_string_pretty(&report).map_err(ValidateError::Json)?;
    text.push('\n');
    out.write_all(text.as_bytes()).map_err(ValidateError::Write)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const GOOD: &str = include_str!("../../../tests/fixtures/valid-profile.json");

    #[test]
    fn run_reports_text_and_json_and_exit_codes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(&good, GOOD).expect("write");
        std::fs::write(
            &bad,
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"},
                {"names": ["restart_syscall", "rt_sigreturn", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        let args = |files: Vec<PathBuf>, format| ValidateArgs {
            files,
            input_format: None,
            format,
            policy: None,
            reports: Vec::new(),
        };
        let mut out = Vec::new();
        let code = run(&args(vec![good.clone()], ReportFormat::Text), &mut out).expect("run");
        assert_eq!(code, 0);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "checked 1 file: 0 errors, 0 warnings\n"
        );

        let mut out = Vec::new();
        let code = run(
            &args(vec![good.clone(), bad.clone()], ReportFormat::Text),
            &mut out,
        )
        .expect("run");
        assert_eq!(code, 1);
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text,
            format!(
                "{}: syscalls[0].action: error: unknown action \"SCMP_ACT_ALOW\" (did you mean \"SCMP_ACT_ALLOW\"?)\nchecked 2 files: 1 error, 0 warnings\n",
                bad.display()
            )
        );

        let mut out = Vec::new();
        run(&args(vec![bad.clone()], ReportFormat::Json), &mut out).expect("run");
        let v: Value = serde_json::from_slice(&out).expect("json report");
        assert_eq!(v["errors"], 1);
        assert_eq!(v["files"][0]["format"], "oci");
        assert_eq!(v["files"][0]["findings"][0]["severity"], "error");
        assert_eq!(v["files"][0]["findings"][0]["path"], "syscalls[0].action");

        let e = run(
            &args(
                vec![good, dir.path().join("missing.json")],
                ReportFormat::Text,
            ),
            &mut Vec::new(),
        )
        .expect_err("unreadable");
        assert_eq!(e.category(), Category::Io);
        assert!(e.to_string().contains("missing.json"), "{e}");
    }

    #[test]
    fn policy_violations_exit_3_and_name_the_process_from_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = dir.path().join("p.json");
        std::fs::write(
            &profile,
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["read", "ptrace", "restart_syscall", "rt_sigreturn", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        let report = dir.path().join("p.report.json");
        std::fs::write(
            &report,
            r#"{"syscalls": [{"arch": "SCMP_ARCH_X86_64", "nr": 101, "name": "ptrace", "count": 1,
                "first": {"pid": 42, "tid": 42, "comm": "tracer", "after_ms": 3.5}}]}"#,
        )
        .expect("write");
        let args = |policy: Option<&str>, reports: Vec<PathBuf>, format| ValidateArgs {
            files: vec![profile.clone()],
            input_format: None,
            format,
            policy: policy.map(str::to_owned),
            reports,
        };
        let mut out = Vec::new();
        let code = run(
            &args(Some("default"), vec![report.clone()], ReportFormat::Text),
            &mut out,
        )
        .expect("run");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(code, 3, "{text}");
        assert!(
            text.contains("ptrace (SCMP_ARCH_X86_64): allowed unconditionally by syscalls[0]; first called by tracer (pid 42, tid 42) 3.5 ms after the start"),
            "{text}"
        );
        assert!(
            text.ends_with("checked 1 file: 0 errors, 0 warnings, 1 policy violation\n"),
            "{text}"
        );
        let mut out = Vec::new();
        run(
            &args(Some("default"), Vec::new(), ReportFormat::Json),
            &mut out,
        )
        .expect("run");
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["policy_violations"], 1);
        assert_eq!(v["files"][0]["policy"]["violations"][0]["name"], "ptrace");
        // Without a policy: valid, exit 0, no policy fields.
        let mut out = Vec::new();
        assert_eq!(
            run(&args(None, Vec::new(), ReportFormat::Json), &mut out).expect("run"),
            0
        );
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert!(v.get("policy_violations").is_none());
        // A corrupt policy is an error of the command (the gate's exit 2).
        let bad = dir.path().join("bad-policy.json");
        std::fs::write(
            &bad,
            r#"{"neverAllow": [{"names": ["ptrce"], "reason": "x"}]}"#,
        )
        .expect("write");
        let e = run(
            &args(bad.to_str(), Vec::new(), ReportFormat::Text),
            &mut Vec::new(),
        )
        .expect_err("corrupt policy");
        assert_eq!(e.category(), Category::BadInput);
        assert!(e.to_string().contains("unknown syscall \"ptrce\""), "{e}");
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: ValidateArgs,
    }

    #[test]
    fn command_line() {
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "x", "a.json", "b.json", "--as", "docker", "--format", "json",
        ])
        .expect("parses");
        assert_eq!(cli.args.files.len(), 2);
        assert_eq!(cli.args.input_format, Some(Format::Docker));
        assert_eq!(cli.args.format, ReportFormat::Json);
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from(["x", "a.json", "--report", "r.json"]).is_err());
        let cli = Cli::try_parse_from([
            "x", "a.json", "--policy", "default", "--report", "r1", "--report", "r2",
        ])
        .expect("parses");
        assert_eq!(cli.args.policy.as_deref(), Some("default"));
        assert_eq!(cli.args.reports.len(), 2);
    }
}
