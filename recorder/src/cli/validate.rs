//! `seccomp-recorder validate FILE...`: the arguments and the report (text or JSON);
//! the checks are [`seccomp_profile::validate`].
//!
//! Exit code: 0 when no errors were found (warnings allowed), 1 when some were. A file
//! that cannot be read is an error of the command itself ([`ValidateError`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::{Categorized, Category};
use crate::formats::Format;
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
}

/// Output formats of `validate`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// One `FILE: PATH: error|warning: MESSAGE` line per finding, then a summary line.
    #[default]
    Text,
    /// One JSON document: `{"files": [{"file", "format", "findings": [{"severity",
    /// "path", "message"}]}], "errors", "warnings"}`.
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
}

impl Categorized for ValidateError {
    fn category(&self) -> Category {
        match self {
            ValidateError::Read { .. } | ValidateError::Write(_) => Category::Io,
            ValidateError::Json(_) => Category::Internal,
        }
    }
}

/// Runs `validate`: reads every file (any unreadable file is an `Err` before anything
/// is printed), checks them, writes the report to `out`. Returns the exit code: 0 when
/// no errors were found, 1 otherwise.
pub fn run(args: &ValidateArgs, out: &mut dyn Write) -> Result<u8, ValidateError> {
    let mut texts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bytes = std::fs::read(path).map_err(|source| ValidateError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push((path.as_path(), bytes));
    }
    let results: Vec<(&Path, Validation)> = texts
        .iter()
        .map(|(path, bytes)| (*path, validate(bytes, args.input_format)))
        .collect();
    let errors: usize = results.iter().map(|(_, v)| v.errors()).sum();
    let warnings: usize = results.iter().map(|(_, v)| v.warnings()).sum();
    match args.format {
        ReportFormat::Text => write_text(out, &results, errors, warnings),
        ReportFormat::Json => write_json(out, &results, errors, warnings),
    }?;
    Ok(if errors > 0 { 1 } else { 0 })
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn write_text(
    out: &mut dyn Write,
    results: &[(&Path, Validation)],
    errors: usize,
    warnings: usize,
) -> Result<(), ValidateError> {
    for (path, v) in results {
        for f in &v.findings {
            writeln!(
                out,
                "{}: {}: {}: {}",
                path.display(),
                f.path,
                f.severity,
                f.message
            )
            .map_err(ValidateError::Write)?;
        }
    }
    writeln!(
        out,
        "checked {}: {}, {}",
        plural(results.len(), "file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    )
    .map_err(ValidateError::Write)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    file: &'a Path,
    format: Option<&'static str>,
    findings: &'a [Finding],
}

fn write_json(
    out: &mut dyn Write,
    results: &[(&Path, Validation)],
    errors: usize,
    warnings: usize,
) -> Result<(), ValidateError> {
    let report = JsonReport {
        files: results
            .iter()
            .map(|(path, v)| JsonFile {
                file: path,
                format: v.format.map(Format::name),
                findings: &v.findings,
            })
            .collect(),
        errors,
        warnings,
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
                {"names": ["restart_syscall", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        let args = |files: Vec<PathBuf>, format| ValidateArgs {
            files,
            input_format: None,
            format,
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
    }
}
