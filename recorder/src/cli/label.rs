//! `seccomp-recorder label PROFILE`: ship a profile inside the image.
//!
//! podman (`--seccomp-policy=image`) and CRI-O read a profile from the image label
//! `io.containers.seccomp.profile`, whose value is the profile JSON itself, in the
//! same formats `--security-opt seccomp=FILE` reads. This prints the Containerfile
//! `LABEL` line, or the bare value for `buildah config --label`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use seccomp_profile::evidence::{self, EvidenceError, InputKind};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::HostFacts;

/// The image label podman and CRI-O read a seccomp profile from.
pub const IMAGE_LABEL: &str = "io.containers.seccomp.profile";

/// Arguments of `label`.
#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// The profile (OCI, podman/Docker with archMap, or a SeccompProfile resource,
    /// whose `spec` is used).
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value_t = LabelOutput::Containerfile)]
    pub output: LabelOutput,
}

/// What `label` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelOutput {
    /// A Containerfile/Dockerfile line: `LABEL io.containers.seccomp.profile="..."`.
    Containerfile,
    /// Only the value (compact JSON), e.g. for
    /// `buildah config --label io.containers.seccomp.profile="$(...)" IMAGE`.
    Value,
}

/// Errors of `label`.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The file could not be read or is not a profile.
    #[error(transparent)]
    Input(#[from] EvidenceError),
    /// A recording was given instead of a profile.
    #[error("{}: is a {kind}, not a seccomp profile (write one with `record -o` or `merge`)", path.display())]
    NotAProfile {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: InputKind,
    },
    /// Writing failed.
    #[error("cannot write the label")]
    Write(#[source] std::io::Error),
}

impl Categorized for LabelError {
    fn category(&self) -> Category {
        match self {
            LabelError::Input(e) => e.category(),
            LabelError::NotAProfile { .. } => Category::BadInput,
            LabelError::Write(_) => Category::Io,
        }
    }
}

/// Fields of a SeccompProfile `spec` that are the operator's, not the runtime's.
const SPO_ONLY: &[&str] = &["baseProfileName", "disabled", "listenerMetadata"];

/// The label value for a profile document (pure): compact JSON of the profile, or
/// of a SeccompProfile resource's `spec` without the operator's own fields.
pub fn label_value(doc: &Value, kind: InputKind) -> String {
    let profile = match (kind, doc.get("spec")) {
        (InputKind::SeccompProfileResource, Some(Value::Object(spec))) => {
            let mut spec = spec.clone();
            for k in SPO_ONLY {
                spec.remove(*k);
            }
            Value::Object(spec)
        }
        _ => doc.clone(),
    };
    profile.to_string()
}

/// The Containerfile line for a label value (pure): a double-quoted word, with `\`,
/// `"` and `$` escaped (the builder would expand `$NAME` in a LABEL).
pub fn containerfile_line(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("LABEL {IMAGE_LABEL}=\"{quoted}\"")
}

/// Runs `label`.
pub fn run(args: &LabelArgs, out: &mut dyn Write) -> Result<(), LabelError> {
    let text = std::fs::read_to_string(&args.profile).map_err(|source| EvidenceError::Read {
        path: args.profile.clone(),
        source,
    })?;
    // Parsed the way check/merge read it: a profile that would not load is refused.
    let input = evidence::parse(&text, &args.profile, &HostFacts::current())?;
    if !input.kind.is_profile() {
        return Err(LabelError::NotAProfile {
            path: args.profile.clone(),
            kind: input.kind,
        });
    }
    let doc: Value = serde_json::from_str(&text).map_err(|e| EvidenceError::Syntax {
        path: args.profile.clone(),
        line: e.line(),
        column: e.column(),
        detail: e.to_string(),
    })?;
    let value = label_value(&doc, input.kind);
    let line = match args.output {
        LabelOutput::Containerfile => containerfile_line(&value),
        LabelOutput::Value => value,
    };
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(LabelError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_compact_and_spo_spec_loses_operator_fields() {
        let doc: Value = serde_json::from_str(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("json");
        assert_eq!(
            label_value(&doc, InputKind::Profile),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW","names":["read"]}]}"#
        );
        let spo: Value = serde_json::from_str(
            r#"{"apiVersion":"security-profiles-operator.x-k8s.io/v1beta1","kind":"SeccompProfile",
                "spec":{"defaultAction":"SCMP_ACT_ERRNO","baseProfileName":"x","disabled":false}}"#,
        )
        .expect("json");
        assert_eq!(
            label_value(&spo, InputKind::SeccompProfileResource),
            r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#
        );
    }

    #[test]
    fn containerfile_line_escapes_quotes_backslashes_and_dollars() {
        assert_eq!(
            containerfile_line(r#"{"a":"b\\c$d"}"#),
            r#"LABEL io.containers.seccomp.profile="{\"a\":\"b\\\\c\$d\"}""#
        );
    }
}
