//! Container annotations that ask the hook to record (pure parsing).
//!
//! Drop-in compatible with oci-seccomp-bpf-hook's `io.containers.trace-syscall`
//! (`of:/abs/out.json` or `if:/abs/base.json;of:/abs/out.json`), plus our own
//! namespaced annotations for what that one cannot say.

use std::collections::HashMap;

use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::Format;
use seccomp_profile::profile::DefaultErrno;
use seccomp_profile::runtime::Runtime;

/// oci-seccomp-bpf-hook's annotation.
pub const TRACE_SYSCALL: &str = "io.containers.trace-syscall";
/// Where to write the profile (relative: below the first output directory).
pub const OUTPUT: &str = "seccomp-recorder.io/output";
/// A base profile whose allowed syscalls are merged into the recorded ones.
pub const BASE: &str = "seccomp-recorder.io/base";
/// `EPERM` or `ENOSYS`: the errno of denied syscalls.
pub const ERRNO: &str = "seccomp-recorder.io/errno";
/// Where to write exact per-syscall counts (JSON).
pub const STATS: &str = "seccomp-recorder.io/stats";

/// Where to write the evidence report (counts, first process, first time).
pub const REPORT: &str = "seccomp-recorder.io/report";

/// `oci` (default), `docker` or `spo`: the profile's format.
pub const FORMAT: &str = "seccomp-recorder.io/format";

/// Which runtimes' start-up calls the profile allows: `any` (default: every known
/// runtime, so a profile recorded under podman + crun also starts under Docker's
/// runc), `detected` (only the runtime that ran the recording), `crun` or `runc`.
pub const RUNTIME: &str = "seccomp-recorder.io/runtime";

/// What the runtime annotation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeChoice {
    /// Every known runtime's tail (the default).
    #[default]
    Any,
    /// The tail of the runtime the hook sees running the container.
    Detected,
    /// This runtime's tail.
    Only(Runtime),
}

/// `true` or `false` (default): also record the deciding argument values of socket,
/// clone, unshare, setns, personality, prctl, ioctl, socketpair and write argument
/// rules for them.
pub const ARGS: &str = "seccomp-recorder.io/args";

/// `true` or `false` (default): also allow the variants of each recorded call (see
/// `record --portable` and [`seccomp_profile::portable`]).
pub const PORTABLE: &str = "seccomp-recorder.io/portable";

/// Every annotation we read.
pub const ALL: [&str; 10] = [
    ARGS,
    PORTABLE,
    TRACE_SYSCALL,
    OUTPUT,
    BASE,
    ERRNO,
    STATS,
    REPORT,
    FORMAT,
    RUNTIME,
];

const MAX_VALUE: usize = 4096;

/// What a container's annotations ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Requested profile path, as written (resolved later against the output policy).
    pub output: String,
    /// Requested base profile path, as written.
    pub base: Option<String>,
    /// Errno for denied syscalls.
    pub errno: DefaultErrno,
    /// Requested stats path, as written.
    pub stats: Option<String>,
    /// Requested report path, as written.
    pub report: Option<String>,
    /// Profile format.
    pub format: Format,
    /// Which runtimes' start-up calls to allow.
    pub runtime: RuntimeChoice,
    /// Record argument values and write argument rules.
    pub record_args: bool,
    /// Also allow the variants of each recorded call.
    pub portable: bool,
}

/// Annotation errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnnotationError {
    /// A value is too long or contains a NUL byte.
    #[error("annotation {key} is not a usable value (empty, longer than {MAX_VALUE} bytes or containing NUL)")]
    BadValue {
        /// The annotation.
        key: String,
    },
    /// `io.containers.trace-syscall` has an entry other than `if:` / `of:`.
    #[error("annotation {TRACE_SYSCALL} has entry '{entry}': expected 'of:/path' or 'if:/path;of:/path'")]
    BadTraceSyscall {
        /// The entry.
        entry: String,
    },
    /// `io.containers.trace-syscall` has no `of:` entry.
    #[error("annotation {TRACE_SYSCALL} names no output ('of:/path')")]
    NoOutput,
    /// Two annotations ask for different things.
    #[error("annotations {a} and {b} disagree about the {what}")]
    Conflict {
        /// First annotation.
        a: &'static str,
        /// Second annotation.
        b: &'static str,
        /// What they disagree about.
        what: &'static str,
    },
    /// The format is not one we write.
    #[error("annotation {FORMAT} is '{0}': expected oci, docker or spo")]
    BadFormat(String),
    /// The errno is not one we offer.
    #[error("annotation {ERRNO} is '{0}': expected EPERM or ENOSYS")]
    BadErrno(String),
    /// The args switch is not a boolean.
    #[error("annotation {ARGS} is '{0}': expected true or false")]
    BadArgs(String),
    /// The portable switch is not a boolean.
    #[error("annotation {PORTABLE} is '{0}': expected true or false")]
    BadPortable(String),
    /// The runtime is not one we know.
    #[error("annotation {RUNTIME} is '{0}': expected any, detected, crun or runc")]
    BadRuntime(String),
    /// Options were given but no output.
    #[error("annotation {0} is set but no output is: add {OUTPUT} or {TRACE_SYSCALL}")]
    OptionWithoutOutput(&'static str),
}

impl Categorized for AnnotationError {
    fn category(&self) -> Category {
        Category::BadInput
    }
}

fn value<'a>(
    annotations: &'a HashMap<String, String>,
    key: &'static str,
) -> Result<Option<&'a str>, AnnotationError> {
    match annotations.get(key) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() || v.len() > MAX_VALUE || v.contains('\0') => {
            Err(AnnotationError::BadValue {
                key: key.to_owned(),
            })
        }
        Some(v) => Ok(Some(v.trim())),
    }
}

/// A boolean annotation: absent, `false`, `0`, `no` are false; `true`, `1`, `yes`
/// true (any case); anything else `None`.
fn switch(v: Option<&str>) -> Option<bool> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("0") | Some("no") => Some(false),
        Some("true") | Some("1") | Some("yes") => Some(true),
        Some(_) => None,
    }
}

fn text(v: Option<&str>) -> String {
    v.unwrap_or_default().to_owned()
}

/// Parses `[if:BASE;]of:OUT` (entries in any order, `;` separated).
fn parse_trace_syscall(v: &str) -> Result<(String, Option<String>), AnnotationError> {
    let mut out = None;
    let mut base = None;
    for entry in v.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let slot = if let Some(p) = entry.strip_prefix("of:") {
            (&mut out, p)
        } else if let Some(p) = entry.strip_prefix("if:") {
            (&mut base, p)
        } else {
            return Err(AnnotationError::BadTraceSyscall {
                entry: entry.to_owned(),
            });
        };
        // `of: /x.json` means `/x.json` (not a relative ` /x.json`).
        let path = slot.1.trim();
        if path.is_empty() || slot.0.is_some() {
            return Err(AnnotationError::BadTraceSyscall {
                entry: entry.to_owned(),
            });
        }
        *slot.0 = Some(path.to_owned());
    }
    Ok((out.ok_or(AnnotationError::NoOutput)?, base))
}

/// The errno denied calls return ([`ERRNO`]), when the annotations set it.
pub fn errno_of(
    annotations: &HashMap<String, String>,
) -> Result<Option<DefaultErrno>, AnnotationError> {
    value(annotations, ERRNO)?
        .map(|e| match e.to_ascii_uppercase().as_str() {
            "EPERM" | "1" => Ok(DefaultErrno::Eperm),
            "ENOSYS" | "38" => Ok(DefaultErrno::Enosys),
            _ => Err(AnnotationError::BadErrno(e.to_owned())),
        })
        .transpose()
}

/// Whether the annotations ask for argument rules ([`ARGS`]).
pub fn args_of(annotations: &HashMap<String, String>) -> Result<bool, AnnotationError> {
    let v = value(annotations, ARGS)?;
    switch(v).ok_or_else(|| AnnotationError::BadArgs(text(v)))
}

/// What the annotations ask for; `None` when they do not ask to record.
pub fn parse(annotations: &HashMap<String, String>) -> Result<Option<Request>, AnnotationError> {
    let legacy = value(annotations, TRACE_SYSCALL)?
        .map(parse_trace_syscall)
        .transpose()?;
    let ours_out = value(annotations, OUTPUT)?;
    let ours_base = value(annotations, BASE)?;
    let errno = value(annotations, ERRNO)?;
    let stats = value(annotations, STATS)?;
    let report = value(annotations, REPORT)?;
    let format = value(annotations, FORMAT)?;
    let runtime = value(annotations, RUNTIME)?;
    let record_args = value(annotations, ARGS)?;
    let portable = value(annotations, PORTABLE)?;

    let output = match (&legacy, ours_out) {
        (Some((a, _)), Some(b)) if a != b => {
            return Err(AnnotationError::Conflict {
                a: TRACE_SYSCALL,
                b: OUTPUT,
                what: "output",
            })
        }
        (Some((a, _)), _) => a.clone(),
        (None, Some(b)) => b.to_owned(),
        (None, None) => {
            for (key, v) in [
                (BASE, ours_base),
                (ERRNO, errno),
                (STATS, stats),
                (REPORT, report),
                (FORMAT, format),
                (RUNTIME, runtime),
                (ARGS, record_args),
                (PORTABLE, portable),
            ] {
                if v.is_some() {
                    return Err(AnnotationError::OptionWithoutOutput(key));
                }
            }
            return Ok(None);
        }
    };
    let legacy_base = legacy.and_then(|(_, b)| b);
    let base = match (legacy_base, ours_base) {
        (Some(a), Some(b)) if a != b => {
            return Err(AnnotationError::Conflict {
                a: TRACE_SYSCALL,
                b: BASE,
                what: "base profile",
            })
        }
        (Some(a), _) => Some(a),
        (None, b) => b.map(str::to_owned),
    };
    let errno = errno_of(annotations)?.unwrap_or_default();
    let runtime = match runtime.map(str::to_ascii_lowercase).as_deref() {
        None | Some("any") => RuntimeChoice::Any,
        Some("detected") => RuntimeChoice::Detected,
        Some("crun") => RuntimeChoice::Only(Runtime::Crun),
        Some("runc") => RuntimeChoice::Only(Runtime::Runc),
        Some(_) => {
            return Err(AnnotationError::BadRuntime(
                runtime.unwrap_or_default().to_owned(),
            ))
        }
    };
    let record_args = args_of(annotations)?;
    let portable = switch(portable).ok_or_else(|| AnnotationError::BadPortable(text(portable)))?;
    Ok(Some(Request {
        record_args,
        portable,
        runtime,
        output,
        base,
        errno,
        stats: stats.map(str::to_owned),
        report: report.map(str::to_owned),
        format: match format {
            None => Format::default(),
            Some(f) => <Format as clap::ValueEnum>::from_str(f, true)
                .map_err(|_| AnnotationError::BadFormat(f.to_owned()))?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn runtime_annotation() {
        let r = parse(&ann(&[(OUTPUT, "o.json"), (RUNTIME, "RUNC")]))
            .expect("ok")
            .expect("some");
        assert_eq!(r.runtime, RuntimeChoice::Only(Runtime::Runc));
        let r = parse(&ann(&[(OUTPUT, "o.json"), (RUNTIME, "detected")]))
            .expect("ok")
            .expect("some");
        assert_eq!(r.runtime, RuntimeChoice::Detected);
        let r = parse(&ann(&[(OUTPUT, "o.json")]))
            .expect("ok")
            .expect("some");
        assert_eq!(r.runtime, RuntimeChoice::Any);
        for bad in ["none", "youki", "runc;crun"] {
            assert_eq!(
                parse(&ann(&[(OUTPUT, "o.json"), (RUNTIME, bad)])),
                Err(AnnotationError::BadRuntime(bad.to_owned()))
            );
        }
        assert_eq!(
            parse(&ann(&[(RUNTIME, "runc")])),
            Err(AnnotationError::OptionWithoutOutput(RUNTIME))
        );
    }

    #[test]
    fn legacy_forms() {
        let r = parse(&ann(&[(TRACE_SYSCALL, "of:/var/lib/x/out.json")]))
            .expect("ok")
            .expect("some");
        assert_eq!(r.output, "/var/lib/x/out.json");
        assert_eq!(r.base, None);
        assert_eq!(r.errno, DefaultErrno::Enosys);
        let r = parse(&ann(&[(TRACE_SYSCALL, "if:/b.json;of:/o.json")]))
            .expect("ok")
            .expect("some");
        assert_eq!(
            (r.output.as_str(), r.base.as_deref()),
            ("/o.json", Some("/b.json"))
        );
    }

    #[test]
    fn ours_and_options() {
        let r = parse(&ann(&[
            (OUTPUT, "app.json"),
            (ERRNO, "eperm"),
            (STATS, "app.stats.json"),
        ]))
        .expect("ok")
        .expect("some");
        assert_eq!(r.output, "app.json");
        assert_eq!(r.errno, DefaultErrno::Eperm);
        assert_eq!(r.stats.as_deref(), Some("app.stats.json"));
        assert_eq!(r.format, Format::Oci);
        let r = parse(&ann(&[(OUTPUT, "a.json"), (FORMAT, "SPO")]))
            .expect("ok")
            .expect("some");
        assert_eq!(r.format, Format::Spo);
        assert_eq!(
            parse(&ann(&[(OUTPUT, "a.json"), (FORMAT, "yaml")])),
            Err(AnnotationError::BadFormat("yaml".into()))
        );
    }

    #[test]
    fn portable_annotation() {
        let r = parse(&ann(&[(OUTPUT, "o.json"), (PORTABLE, "True")]))
            .expect("ok")
            .expect("some");
        assert!(r.portable);
        assert!(!r.record_args);
        let r = parse(&ann(&[(OUTPUT, "o.json")]))
            .expect("ok")
            .expect("some");
        assert!(!r.portable);
        assert_eq!(
            parse(&ann(&[(OUTPUT, "o.json"), (PORTABLE, "musl")])),
            Err(AnnotationError::BadPortable("musl".into()))
        );
        assert_eq!(
            parse(&ann(&[(PORTABLE, "true")])),
            Err(AnnotationError::OptionWithoutOutput(PORTABLE))
        );
    }

    #[test]
    fn nothing_asked() {
        assert_eq!(parse(&ann(&[("other", "x")])), Ok(None));
    }

    #[test]
    fn hostile_or_broken_values() {
        assert!(matches!(
            parse(&ann(&[(TRACE_SYSCALL, "xf:/a")])),
            Err(AnnotationError::BadTraceSyscall { .. })
        ));
        assert_eq!(
            parse(&ann(&[(TRACE_SYSCALL, "if:/a")])),
            Err(AnnotationError::NoOutput)
        );
        assert!(matches!(
            parse(&ann(&[(TRACE_SYSCALL, "of:/a;of:/b")])),
            Err(AnnotationError::BadTraceSyscall { .. })
        ));
        assert!(matches!(
            parse(&ann(&[(OUTPUT, "a\0b")])),
            Err(AnnotationError::BadValue { .. })
        ));
        let long = "a".repeat(5000);
        assert!(matches!(
            parse(&ann(&[(OUTPUT, &long)])),
            Err(AnnotationError::BadValue { .. })
        ));
        assert!(matches!(
            parse(&ann(&[(TRACE_SYSCALL, "of:/a"), (OUTPUT, "/b")])),
            Err(AnnotationError::Conflict { .. })
        ));
        assert_eq!(
            parse(&ann(&[(OUTPUT, "a"), (ERRNO, "EACCES")])),
            Err(AnnotationError::BadErrno("EACCES".into()))
        );
        assert_eq!(
            parse(&ann(&[(ERRNO, "EPERM")])),
            Err(AnnotationError::OptionWithoutOutput(ERRNO))
        );
    }
}
