//! `seccomp-recorder validate FILE...`: check seccomp profiles before a runtime or the
//! API server sees them, and report every problem with its JSON path, not only the
//! first one.
//!
//! Formats (detected per file, or forced with `--as`): the OCI runtime-spec
//! `linux.seccomp` object; the podman/Docker file (the OCI fields plus `archMap`,
//! `defaultErrno`, and per rule `name`, `errno`, `comment`, `includes`, `excludes`); and
//! a Security Profiles Operator `SeccompProfile` resource, whose `spec` is checked
//! against the CRD's fields and enums (SPO v1.0.0, `v1beta1` and `v1`).
//!
//! Checks:
//! - Schema: types, required fields, unknown fields (runc, crun and podman silently
//!   ignore a misspelt `syscall` or `errnoret`, so the profile would not mean what it
//!   says), action/operator/flag/architecture names, errno names.
//! - Syscall names, resolved with libseccomp as crun and runc do, on every
//!   architecture the runtime would put in the filter on this host: the native one
//!   (libseccomp always adds it) plus the listed ones (for `archMap`: the entry of this
//!   host's architecture, as podman selects it). A name that is a syscall on none of
//!   them is an error when nothing knows it (a misspelling) or when the kernel's table
//!   has it but this libseccomp does not (the runtime skips names libseccomp does not
//!   know, so it could not apply the rule); a name that libseccomp knows only on other
//!   architectures is a warning (the rule matches nothing here; podman's multi-arch
//!   default profile has many). A name missing on only some of the architectures is a
//!   warning naming them.
//! - Rules: the same name in two unconditional rules (no `args`, no
//!   `includes`/`excludes`) with the same action is a warning; with different actions
//!   it is an error (libseccomp keeps only one of them).
//!
//! Exit code: 0 when no errors were found (warnings allowed), 1 when some were. A file
//! that cannot be read is an error of the command itself ([`ValidateError`]).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use libseccomp::{ScmpArch, ScmpSyscall, ScmpVersion};
use oci_spec::runtime::{Arch as OciArch, LinuxSeccompAction, LinuxSeccompOperator};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::exit::{Categorized, Category};
use crate::formats::{self, Format, SPO_ARCHITECTURES, SPO_KIND};
use crate::syscalls::Arch;
use seccomp_profile::vocabulary::{
    capability_bit, errno_by_name, parse_action, parse_flag, parse_op, ACTION_NAMES as ACTIONS,
    FLAG_NAMES as FLAGS, OP_NAMES as OPS,
};

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

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Works, but probably not as meant.
    Warning,
    /// The profile is invalid or does not do what it says.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Where, as a JSON path: `syscalls[3].action`, `spec.syscalls[0].names[1]`, or
    /// [`TOP_LEVEL`].
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The path of findings about the document as a whole.
pub const TOP_LEVEL: &str = "(top level)";

/// The result of checking one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The format it was read as (`None`: not JSON, or not an object).
    pub format: Option<Format>,
    /// Everything found, schema problems first.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// The number of errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// The number of warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
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

/// Checks one document (pure apart from libseccomp lookups). `as_format` forces the
/// format; `None` detects it: a resource (`apiVersion`, `kind` or `spec`) is SPO, a
/// profile with any podman/Docker extension is docker, anything else OCI.
pub fn validate(text: &[u8], as_format: Option<Format>) -> Validation {
    let mut c = Checker::default();
    let doc: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            let detail = e.to_string();
            let detail = detail
                .rfind(" at line ")
                .map_or(detail.as_str(), |cut| &detail[..cut]);
            c.error(
                TOP_LEVEL,
                format!(
                    "malformed JSON at line {}, column {}: {detail}",
                    e.line(),
                    e.column()
                ),
            );
            return Validation {
                format: None,
                findings: c.findings,
            };
        }
    };
    let Some(top) = doc.as_object() else {
        c.error(
            TOP_LEVEL,
            format!("expected a JSON object, found {}", describe(&doc)),
        );
        return Validation {
            format: None,
            findings: c.findings,
        };
    };
    let format = as_format.unwrap_or_else(|| detect(top));
    let model = match format {
        Format::Oci | Format::Docker => c.profile(top, "", format),
        Format::Spo => c.resource(top),
    };
    if let Some(model) = model {
        check_names(&mut c, &model);
        check_rules(&mut c, &model, format);
    }
    // Document order (`syscalls[2]` before `syscalls[10]`); stable, so for one path
    // the schema finding stays first.
    c.findings.sort_by_cached_key(|f| path_key(&f.path));
    Validation {
        format: Some(format),
        findings: c.findings,
    }
}

/// One step of a finding's path, for sorting.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Index(usize),
    Key(String),
}

/// `spec.syscalls[0].names[1]` → [spec, syscalls, 0, names, 1]; [`TOP_LEVEL`] → [].
fn path_key(path: &str) -> Vec<Step> {
    if path == TOP_LEVEL {
        return Vec::new();
    }
    let mut steps = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        if let Some(k) = pieces.next().filter(|k| !k.is_empty()) {
            steps.push(Step::Key(k.to_owned()));
        }
        for p in pieces {
            let n = p.trim_end_matches(']').parse().unwrap_or(usize::MAX);
            steps.push(Step::Index(n));
        }
    }
    steps
}

const DOCKER_TOP: [&str; 2] = ["defaultErrno", "archMap"];
const DOCKER_RULE: [&str; 5] = ["name", "errno", "comment", "includes", "excludes"];

fn detect(top: &Map<String, Value>) -> Format {
    if ["apiVersion", "kind", "spec"]
        .iter()
        .any(|k| top.contains_key(*k))
    {
        return Format::Spo;
    }
    let docker_rule = top
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|r| DOCKER_RULE.iter().any(|k| r.contains_key(*k)));
    if docker_rule || DOCKER_TOP.iter().any(|k| top.contains_key(*k)) {
        Format::Docker
    } else {
        Format::Oci
    }
}

/// What the schema walk keeps for the semantic checks (only well-formed parts).
struct Model {
    /// The architectures the runtime would add besides the native one.
    arches: Vec<OciArch>,
    rules: Vec<RuleInfo>,
}

struct RuleInfo {
    /// `syscalls[3]` or `spec.syscalls[3]`.
    path: String,
    /// (path, name) of every well-formed name.
    names: Vec<(String, String)>,
    /// The action with its errno, normalised (`None`: missing or invalid).
    action: Option<Effective>,
    /// Has argument conditions or includes/excludes.
    conditional: bool,
}

/// An action as libseccomp applies it: `KILL` is `KILL_THREAD`, `ERRNO`/`TRACE`
/// without errnoRet use 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Effective(LinuxSeccompAction, Option<u32>);

impl Effective {
    fn new(action: LinuxSeccompAction, errno: Option<u32>) -> Self {
        match action {
            LinuxSeccompAction::ScmpActKill => {
                Effective(LinuxSeccompAction::ScmpActKillThread, None)
            }
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => {
                Effective(action, Some(errno.unwrap_or(libc::EPERM as u32)))
            }
            other => Effective(other, None),
        }
    }
}

impl fmt::Display for Effective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(e) => write!(f, "{}({e})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

fn key(base: &str, k: &str) -> String {
    if base.is_empty() {
        k.to_owned()
    } else {
        format!("{base}.{k}")
    }
}

fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// A value as a message shows what was found.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string
/// alignment), for "did you mean": `mkdri` is one edit from `mkdir`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate within a small edit distance (case-insensitive).
fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= limit && *c != word)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(word, candidates)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// oci-spec's architectures beyond the SPO enum.
const MORE_ARCHES: [&str; 4] = [
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// The `spec` fields of the SPO CRD (v1.0.0; `disabled` is the field `state` replaced).
const SPO_SPEC: [&str; 9] = [
    "defaultAction",
    "architectures",
    "syscalls",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "baseProfileName",
    "state",
    "disabled",
];

/// The API group of SPO resources; `v1beta1` and `v1` have the same `spec` schema.
const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io";

#[derive(Default)]
struct Checker {
    findings: Vec<Finding>,
}

impl Checker {
    fn error(&mut self, path: &str, message: String) {
        self.findings.push(Finding {
            severity: Severity::Error,
            path: path.to_owned(),
            message,
        });
    }

    fn warn(&mut self, path: &str, message: String) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            path: path.to_owned(),
            message,
        });
    }

    fn expected(&mut self, path: &str, what: &str, v: &Value) {
        self.error(path, format!("expected {what}, found {}", describe(v)));
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.expected(path, "an object", v);
        }
        o
    }

    fn array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        let a = v.as_array();
        if a.is_none() {
            self.expected(path, "an array", v);
        }
        a
    }

    fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.expected(path, "a string", v);
        }
        s
    }

    fn strings<'v>(&mut self, v: &'v Value, path: &str) -> Vec<(String, &'v str)> {
        let mut out = Vec::new();
        for (i, x) in self.array(v, path).into_iter().flatten().enumerate() {
            let p = index(path, i);
            if let Some(s) = self.string(x, &p) {
                out.push((p, s));
            }
        }
        out
    }

    /// An unsigned integer up to `max` (`spo`: the CRD's signed int32/int64 minimum 0).
    fn unsigned(&mut self, v: &Value, path: &str, max: u64, what: &str) -> Option<u64> {
        let n = v.as_u64().filter(|n| *n <= max);
        if n.is_none() {
            self.expected(path, what, v);
        }
        n
    }

    /// Optional fields: absent or `null` (Go and serde read both as absent).
    fn field<'v>(obj: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
        obj.get(k).filter(|v| !v.is_null())
    }

    fn required<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        base: &str,
        k: &str,
    ) -> Option<&'v Value> {
        let v = Self::field(obj, k);
        if v.is_none() {
            let at = if base.is_empty() { TOP_LEVEL } else { base };
            self.error(at, format!("missing required field \"{k}\""));
        }
        v
    }

    fn unknown_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        known: &[&str],
        format: Format,
        docker_only: &[&str],
    ) {
        for k in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let path = key(base, k);
            let hint = did_you_mean(k, known.iter().copied());
            let message = if format == Format::Oci && docker_only.contains(&k.as_str()) {
                format!("\"{k}\" is a podman/Docker extension, not part of the OCI runtime spec: runc and crun ignore it (check with --as docker for podman)")
            } else if format == Format::Spo
                && k.to_lowercase().contains("errno")
                && base.ends_with("spec")
            {
                format!("unknown field \"{k}\": the SeccompProfile CRD has no default errno; syscalls the profile does not allow fail with EPERM (the runtime's default)")
            } else if format == Format::Spo {
                format!("unknown field \"{k}\"{hint}: not in the SeccompProfile CRD (the API server rejects or drops it)")
            } else {
                format!("unknown field \"{k}\"{hint}: podman, runc and crun ignore it, so the profile would not mean what it says")
            };
            self.error(&path, message);
        }
    }

    fn action(&mut self, v: &Value, path: &str) -> Option<LinuxSeccompAction> {
        let s = self.string(v, path)?;
        let a = parse_action(s);
        if a.is_none() {
            self.error(
                path,
                format!("unknown action {s:?}{}", did_you_mean(s, ACTIONS)),
            );
        }
        a
    }

    fn arch(&mut self, v: &Value, path: &str, format: Format) -> Option<OciArch> {
        let s = self.string(v, path)?;
        let Ok(arch) = OciArch::from_str(s) else {
            let hint = match Arch::from_str(s) {
                Ok(a) => format!("; write {}", a.scmp_name()),
                Err(_) => did_you_mean(s, SPO_ARCHITECTURES.iter().chain(&MORE_ARCHES).copied()),
            };
            self.error(path, format!("unknown architecture {s:?}{hint}"));
            return None;
        };
        if format == Format::Spo && !SPO_ARCHITECTURES.contains(&s) {
            self.error(
                path,
                format!("{s} is not in the SeccompProfile CRD's architectures enum"),
            );
            return None;
        }
        Some(arch)
    }

    fn arches(&mut self, v: &Value, path: &str, format: Format) -> Vec<OciArch> {
        let mut out = Vec::new();
        for (i, x) in self.array(v, path).into_iter().flatten().enumerate() {
            let p = index(path, i);
            if let Some(a) = self.arch(x, &p, format) {
                if out.contains(&a) && format == Format::Spo {
                    self.error(&p, format!("{a} is listed twice (the CRD's list is a set)"));
                }
                out.push(a);
            }
        }
        out
    }

    /// podman's errno name/number next to the spec's errnoRet: the effective errno.
    fn errno(
        &mut self,
        obj: &Map<String, Value>,
        base: &str,
        ret_key: &str,
        name_key: &str,
        format: Format,
    ) -> Option<u32> {
        let ret_path = key(base, ret_key);
        let ret = Self::field(obj, ret_key).and_then(|v| match format {
            Format::Spo => self
                .unsigned(
                    v,
                    &ret_path,
                    i32::MAX as u64,
                    "an integer from 0 to 2147483647",
                )
                .and_then(|n| u32::try_from(n).ok()),
            _ => self
                .unsigned(
                    v,
                    &ret_path,
                    u64::from(u32::MAX),
                    "an unsigned 32-bit integer",
                )
                .and_then(|n| u32::try_from(n).ok()),
        });
        if format != Format::Docker {
            return ret;
        }
        let name_path = key(base, name_key);
        let Some(v) = Self::field(obj, name_key) else {
            return ret;
        };
        let name = self.string(v, &name_path)?;
        if name.is_empty() {
            return ret;
        }
        let Some(value) = name.parse::<u32>().ok().or_else(|| errno_by_name(name)) else {
            self.error(&name_path, format!("unknown errno {name:?}"));
            return ret;
        };
        if let Some(n) = ret.filter(|n| *n != value) {
            self.error(
                &name_path,
                format!("errno {name:?} ({value}) and {ret_key} {n} disagree"),
            );
        }
        Some(value)
    }

    fn check_errno_allowed(
        &mut self,
        action: Option<LinuxSeccompAction>,
        errno: Option<u32>,
        path: &str,
    ) {
        if let (Some(a), Some(e)) = (action, errno) {
            if !matches!(
                a,
                LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
            ) {
                self.error(
                    path,
                    format!("errno {e} is given but {a} returns no errno (the runtime spec requires runtimes to refuse the profile)"),
                );
            }
        }
    }

    /// An OCI or docker profile (`base` is empty), or an SPO `spec` (`base` = "spec").
    fn profile(&mut self, obj: &Map<String, Value>, base: &str, format: Format) -> Option<Model> {
        let known: Vec<&str> = match format {
            Format::Oci => OCI_TOP.to_vec(),
            Format::Docker => OCI_TOP.iter().chain(&DOCKER_TOP).copied().collect(),
            Format::Spo => SPO_SPEC.to_vec(),
        };
        self.unknown_fields(obj, base, &known, format, &DOCKER_TOP);

        let default_action = self
            .required(obj, base, "defaultAction")
            .and_then(|v| self.action(v, &key(base, "defaultAction")));
        if format != Format::Spo {
            let errno = self.errno(obj, base, "defaultErrnoRet", "defaultErrno", format);
            let at = if Self::field(obj, "defaultErrnoRet").is_some() {
                "defaultErrnoRet"
            } else {
                "defaultErrno"
            };
            self.check_errno_allowed(default_action, errno, &key(base, at));
        }

        let mut arches = Self::field(obj, "architectures")
            .map(|v| self.arches(v, &key(base, "architectures"), format))
            .unwrap_or_default();
        if format == Format::Docker {
            if let Some(map) = Self::field(obj, "archMap") {
                let selected = self.arch_map(map, "archMap");
                let both = !arches.is_empty() && map.as_array().is_some_and(|m| !m.is_empty());
                if both {
                    self.error(
                        "archMap",
                        "both \"architectures\" and \"archMap\" are given; podman and Docker refuse the profile".into(),
                    );
                }
                arches.extend(selected);
            }
        }

        let flags = Self::field(obj, "flags")
            .map(|v| self.strings(v, &key(base, "flags")))
            .unwrap_or_default();
        for (p, s) in flags {
            if parse_flag(s).is_none() {
                self.error(&p, format!("unknown flag {s:?}{}", did_you_mean(s, FLAGS)));
            }
        }
        if let Some(v) = Self::field(obj, "listenerPath") {
            let p = key(base, "listenerPath");
            if let Some(s) = self.string(v, &p) {
                if format == Format::Spo && !formats::spo_listener_path_ok(s) {
                    self.error(
                        &p,
                        format!("{s:?} does not match the CRD's pattern ^/var/run/security-profiles-operator/[a-zA-Z0-9_\\-\\.]+$"),
                    );
                }
            }
        }
        for k in ["listenerMetadata", "baseProfileName"] {
            if let Some(v) = Self::field(obj, k) {
                self.string(v, &key(base, k));
            }
        }
        if format == Format::Spo {
            if let Some(v) = Self::field(obj, "state") {
                let p = key(base, "state");
                if let Some(s) = self.string(v, &p) {
                    if !["Enabled", "Disabled"].contains(&s) {
                        self.error(
                            &p,
                            format!("expected \"Enabled\" or \"Disabled\", found {s:?}"),
                        );
                    }
                }
            }
            if let Some(v) = Self::field(obj, "disabled") {
                let p = key(base, "disabled");
                if v.is_boolean() {
                    self.warn(&p, "\"disabled\" is the field of SPO before v1.0; v1.0 replaced it with \"state\" (Enabled/Disabled)".into());
                } else {
                    self.expected(&p, "a boolean", v);
                }
            }
        }

        let mut rules = Vec::new();
        if let Some(v) = Self::field(obj, "syscalls") {
            let p = key(base, "syscalls");
            for (i, r) in self.array(v, &p).into_iter().flatten().enumerate() {
                let rp = index(&p, i);
                if let Some(o) = self.object(r, &rp) {
                    rules.push(self.rule(o, &rp, format));
                }
            }
        }
        Some(Model { arches, rules })
    }

    /// podman's `archMap`: checks it, returns the architectures podman adds on this
    /// host (the entry of the native architecture, with its sub-architectures).
    fn arch_map(&mut self, v: &Value, path: &str) -> Vec<OciArch> {
        let native = seccomp_profile::arch::native_oci();
        let mut selected = Vec::new();
        let mut found = false;
        let entries = self.array(v, path).cloned().unwrap_or_default();
        for (i, e) in entries.iter().enumerate() {
            let ep = index(path, i);
            let Some(o) = self.object(e, &ep) else {
                continue;
            };
            self.unknown_fields(
                o,
                &ep,
                &["architecture", "subArchitectures"],
                Format::Docker,
                &[],
            );
            let arch = self
                .required(o, &ep, "architecture")
                .and_then(|a| self.arch(a, &key(&ep, "architecture"), Format::Docker));
            let subs = Self::field(o, "subArchitectures")
                .map(|s| self.arches(s, &key(&ep, "subArchitectures"), Format::Docker))
                .unwrap_or_default();
            if arch.is_some() && arch == native && !found {
                found = true;
                selected.extend(arch);
                selected.extend(subs);
            }
        }
        if !found && !entries.is_empty() {
            if let Some(n) = native {
                self.warn(
                    path,
                    format!("no entry for this host's architecture ({n}): podman uses only that entry, so the filter here has the native architecture only"),
                );
            }
        }
        selected
    }

    fn rule(&mut self, o: &Map<String, Value>, rp: &str, format: Format) -> RuleInfo {
        let known: Vec<&str> = match format {
            Format::Docker => OCI_RULE.iter().chain(&DOCKER_RULE).copied().collect(),
            _ => OCI_RULE.to_vec(),
        };
        self.unknown_fields(o, rp, &known, format, &DOCKER_RULE);

        let mut names: Vec<(String, String)> = Vec::new();
        let has_names = Self::field(o, "names").is_some();
        let has_name = format == Format::Docker && Self::field(o, "name").is_some();
        if has_names && has_name {
            self.error(
                &key(rp, "name"),
                "both \"name\" and \"names\" are given; podman refuses the profile".into(),
            );
        }
        if let Some(v) = Self::field(o, "names") {
            let p = key(rp, "names");
            let list = self.strings(v, &p);
            if v.as_array().is_some_and(|a| a.is_empty()) {
                if format == Format::Spo {
                    self.error(
                        &p,
                        "the SeccompProfile CRD requires at least one name".into(),
                    );
                } else {
                    self.warn(&p, "no names: the rule matches nothing".into());
                }
            }
            names.extend(list.into_iter().map(|(p, s)| (p, s.to_owned())));
        } else if has_name {
            let p = key(rp, "name");
            if let Some(s) = Self::field(o, "name").and_then(|v| self.string(v, &p)) {
                names.push((p, s.to_owned()));
            }
        } else {
            self.required(o, rp, "names");
        }

        let action = self
            .required(o, rp, "action")
            .and_then(|v| self.action(v, &key(rp, "action")));
        let errno = self.errno(o, rp, "errnoRet", "errno", format);
        let at = if Self::field(o, "errnoRet").is_some() {
            "errnoRet"
        } else {
            "errno"
        };
        self.check_errno_allowed(action, errno, &key(rp, at));

        let mut has_args = false;
        if let Some(v) = Self::field(o, "args") {
            let p = key(rp, "args");
            let args = self.array(v, &p).cloned().unwrap_or_default();
            has_args = !args.is_empty();
            if format == Format::Spo && args.len() > 6 {
                self.error(
                    &p,
                    format!("{} conditions; the CRD allows at most 6", args.len()),
                );
            }
            for (j, a) in args.iter().enumerate() {
                let ap = index(&p, j);
                if let Some(ao) = self.object(a, &ap) {
                    self.arg(ao, &ap, format);
                }
            }
        }

        if let Some(v) = Self::field(o, "comment") {
            if format == Format::Docker {
                self.string(v, &key(rp, "comment"));
            }
        }
        let mut conditional = has_args;
        if format == Format::Docker {
            for which in ["includes", "excludes"] {
                if let Some(v) = Self::field(o, which) {
                    conditional |= self.filter(v, &key(rp, which));
                }
            }
        }
        RuleInfo {
            path: rp.to_owned(),
            names,
            action: action.map(|a| Effective::new(a, errno)),
            conditional,
        }
    }

    fn arg(&mut self, o: &Map<String, Value>, ap: &str, format: Format) {
        self.unknown_fields(o, ap, &["index", "value", "valueTwo", "op"], format, &[]);
        let (index_max, index_what, value_max, value_what) = if format == Format::Spo {
            (
                i32::MAX as u64,
                "an integer from 0 to 2147483647",
                i64::MAX as u64,
                "an integer from 0 to 9223372036854775807 (the CRD's int64)",
            )
        } else {
            (
                u64::from(u32::MAX),
                "an unsigned integer",
                u64::MAX,
                "an unsigned 64-bit integer",
            )
        };
        let ip = key(ap, "index");
        if let Some(i) = self
            .required(o, ap, "index")
            .and_then(|v| self.unsigned(v, &ip, index_max, index_what))
        {
            if i > 5 {
                self.error(
                    &ip,
                    format!("argument index {i} does not exist (syscalls have arguments 0 to 5)"),
                );
            }
        }
        let value = if format == Format::Spo {
            Self::field(o, "value")
        } else {
            self.required(o, ap, "value")
        };
        if let Some(v) = value {
            self.unsigned(v, &key(ap, "value"), value_max, value_what);
        }
        let vp = key(ap, "valueTwo");
        let value_two =
            Self::field(o, "valueTwo").and_then(|v| self.unsigned(v, &vp, value_max, value_what));
        let op_path = key(ap, "op");
        let op = self
            .required(o, ap, "op")
            .and_then(|v| self.string(v, &op_path))
            .and_then(|s| {
                let op = parse_op(s);
                if op.is_none() {
                    self.error(
                        &op_path,
                        format!("unknown op {s:?}{}", did_you_mean(s, OPS)),
                    );
                }
                op
            });
        if let (Some(op), Some(v2)) = (op, value_two) {
            if v2 != 0 && op != LinuxSeccompOperator::ScmpCmpMaskedEq {
                self.warn(
                    &vp,
                    format!("valueTwo {v2} is ignored by {op} (only SCMP_CMP_MASKED_EQ uses it)"),
                );
            }
        }
    }

    /// A docker `includes`/`excludes`; returns whether it has any condition.
    fn filter(&mut self, v: &Value, path: &str) -> bool {
        let Some(o) = self.object(v, path) else {
            return false;
        };
        self.unknown_fields(
            o,
            path,
            &["caps", "arches", "minKernel"],
            Format::Docker,
            &[],
        );
        let mut any = false;
        if let Some(c) = Self::field(o, "caps") {
            let list = self.strings(c, &key(path, "caps"));
            for (p, cap) in &list {
                if capability_bit(cap).is_none() {
                    self.error(
                        p,
                        format!("unknown capability {cap:?} (expected names like CAP_SYS_ADMIN)"),
                    );
                }
            }
            any |= !list.is_empty();
        }
        if let Some(a) = Self::field(o, "arches") {
            any |= !self.strings(a, &key(path, "arches")).is_empty();
        }
        if let Some(k) = Self::field(o, "minKernel") {
            let p = key(path, "minKernel");
            if let Some(s) = self.string(k, &p) {
                let ok = s.split_once('.').is_some_and(|(a, b)| {
                    [a, b]
                        .iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit()))
                });
                if !ok {
                    self.error(&p, format!("{s:?} is not a kernel version like \"4.8\""));
                }
                any = true;
            }
        }
        any
    }

    /// An SPO resource: apiVersion, kind, metadata.name, and its `spec`.
    fn resource(&mut self, top: &Map<String, Value>) -> Option<Model> {
        self.unknown_fields(
            top,
            "",
            &["apiVersion", "kind", "metadata", "spec", "status"],
            Format::Spo,
            &[],
        );
        if let Some(v) = self.required(top, "", "apiVersion") {
            if let Some(s) = self.string(v, "apiVersion") {
                let ok = s
                    .split_once('/')
                    .is_some_and(|(g, ver)| g == SPO_GROUP && ["v1beta1", "v1"].contains(&ver));
                if !ok {
                    self.error(
                        "apiVersion",
                        format!("expected \"{SPO_GROUP}/v1beta1\" (or /v1), found {s:?}"),
                    );
                }
            }
        }
        if let Some(v) = self.required(top, "", "kind") {
            if let Some(s) = self.string(v, "kind") {
                if s != SPO_KIND {
                    self.error("kind", format!("expected \"{SPO_KIND}\", found {s:?}"));
                }
            }
        }
        if let Some(m) = self
            .required(top, "", "metadata")
            .and_then(|v| self.object(v, "metadata"))
        {
            match Self::field(m, "name") {
                Some(v) => {
                    if let Some(s) = self.string(v, "metadata.name") {
                        if !formats::is_k8s_name(s) {
                            self.error(
                                "metadata.name",
                                format!("{s:?} is not a valid object name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253)"),
                            );
                        }
                    }
                }
                None if Self::field(m, "generateName").is_some() => {}
                None => self.error("metadata", "missing required field \"name\"".into()),
            }
        }
        let spec = self.required(top, "", "spec")?;
        let spec = self.object(spec, "spec")?;
        self.profile(spec, "spec", Format::Spo)
    }
}

const OCI_TOP: [&str; 7] = [
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
];

const OCI_RULE: [&str; 4] = ["names", "action", "errnoRet", "args"];

/// The filter architectures on this host: native first, then the listed ones that
/// libseccomp supports, as (label, libseccomp arch).
fn filter_arches(c: &mut Checker, listed: &[OciArch]) -> Vec<(String, ScmpArch)> {
    let native_label = seccomp_profile::arch::native_label();
    let mut out = vec![(native_label, ScmpArch::native())];
    for a in listed {
        let label = a.to_string();
        let Ok(scmp) = ScmpArch::from_str(&label) else {
            continue;
        };
        if scmp == ScmpArch::Native || out.iter().any(|(_, s)| *s == scmp) {
            continue;
        }
        // Every architecture has `read`; if libseccomp cannot resolve it there, it
        // does not support the architecture at all.
        let supported =
            ScmpSyscall::from_name_by_arch("read", scmp).is_ok_and(|s| s.as_raw_syscall() >= 0);
        if !supported {
            c.warn(
                "architectures",
                format!("{label} is not supported by libseccomp {}; the runtime cannot add it, and its syscall names are not checked", libseccomp_version()),
            );
            continue;
        }
        out.push((label, scmp));
    }
    out
}

fn libseccomp_version() -> String {
    ScmpVersion::current()
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "(unknown version)".into())
}

/// (b): every name, resolved per filter architecture.
fn check_names(c: &mut Checker, model: &Model) {
    let arches = filter_arches(c, &model.arches);
    let labels = |list: &[&(String, ScmpArch)]| {
        list.iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut all_names: Option<Vec<&'static str>> = None;
    let mut checked: HashMap<&str, Verdict> = HashMap::new();
    for rule in &model.rules {
        for (path, name) in &rule.names {
            let verdict = checked
                .entry(name.as_str())
                .or_insert_with(|| resolve(name, &arches))
                .clone();
            let missing: Vec<&(String, ScmpArch)> =
                verdict.missing.iter().map(|i| &arches[*i]).collect();
            if missing.is_empty() {
                continue;
            }
            // Arches where the kernel has the name but this libseccomp does not.
            let kernel_only: Vec<String> = missing
                .iter()
                .filter_map(|(label, _)| {
                    label
                        .parse::<Arch>()
                        .ok()
                        .and_then(|a| a.number_of(name))
                        .map(|nr| format!("{label} nr {nr}"))
                })
                .collect();
            let lib_note = if kernel_only.is_empty() {
                String::new()
            } else {
                format!(
                    "; the kernel's table has it ({}) but libseccomp {} does not know it, so the runtime could not load it",
                    kernel_only.join(", "),
                    libseccomp_version()
                )
            };
            if missing.len() < arches.len() {
                c.warn(
                    path,
                    format!(
                        "syscall {name:?} is unknown on {} (the rule does not cover it there){lib_note}",
                        labels(&missing)
                    ),
                );
            } else if !kernel_only.is_empty() {
                c.error(
                    path,
                    format!(
                        "syscall {name:?} is unknown to libseccomp {}{lib_note}",
                        libseccomp_version()
                    ),
                );
            } else if verdict.known_elsewhere {
                c.warn(
                    path,
                    format!(
                        "{name:?} is not a syscall on {}: the rule matches nothing there",
                        labels(&missing)
                    ),
                );
            } else {
                let names = all_names.get_or_insert_with(|| {
                    let mut v: Vec<&'static str> = Arch::ALL
                        .iter()
                        .flat_map(|a| a.table())
                        .map(|(_, n)| n)
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                });
                c.error(
                    path,
                    format!(
                        "unknown syscall {name:?}{}; checked on {}",
                        did_you_mean(name, names.iter().copied()),
                        labels(&missing)
                    ),
                );
            }
        }
    }
}

#[derive(Clone)]
struct Verdict {
    /// Indexes into the filter arches where the name is no syscall.
    missing: Vec<usize>,
    /// libseccomp knows the name (as a syscall of some architecture).
    known_elsewhere: bool,
}

/// With libseccomp's rewrite for multiplexed syscalls: `socket` on x86 is a
/// `socketcall` rule to libseccomp (plus the direct call where it knows the number), so
/// the rule does cover it there.
fn resolve(name: &str, arches: &[(String, ScmpArch)]) -> Verdict {
    let missing = arches
        .iter()
        .enumerate()
        .filter(|(_, (_, a))| {
            ScmpSyscall::from_name_by_arch_rewrite(name, *a)
                .map_or(true, |s| s.as_raw_syscall() < 0)
        })
        .map(|(i, _)| i)
        .collect();
    // Err: not in libseccomp's tables; a negative pseudo number: a syscall of some
    // other architecture.
    let known_elsewhere = ScmpSyscall::from_name(name).is_ok();
    Verdict {
        missing,
        known_elsewhere,
    }
}

/// (c): duplicates and contradictions among unconditional rules.
fn check_rules(c: &mut Checker, model: &Model, format: Format) {
    // name -> (rule index, path, action) of its first unconditional occurrence.
    let mut first: HashMap<&str, (usize, &str, Effective)> = HashMap::new();
    for (ri, rule) in model.rules.iter().enumerate() {
        if rule.conditional {
            continue;
        }
        let Some(action) = rule.action else { continue };
        for (path, name) in &rule.names {
            let Some((fi, fpath, faction)) = first.get(name.as_str()).copied() else {
                first.insert(name, (ri, path, action));
                continue;
            };
            let same_rule = fi == ri;
            if faction == action {
                if same_rule && format == Format::Spo {
                    c.error(
                        path,
                        format!("{name:?} is listed twice in this rule (also at {fpath}); the CRD's names are a set"),
                    );
                } else if same_rule {
                    c.warn(
                        path,
                        format!("{name:?} is listed twice in this rule (also at {fpath})"),
                    );
                } else {
                    c.warn(
                        path,
                        format!(
                            "duplicate: {name:?} is already in {} with the same action {action}",
                            model.rules[fi].path
                        ),
                    );
                }
            } else {
                c.error(
                    path,
                    format!(
                        "contradiction: {name:?} is {action} here but {faction} in {}; libseccomp would keep only one of them",
                        model.rules[fi].path
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Validation {
        validate(text.as_bytes(), None)
    }

    fn lines(v: &Validation) -> Vec<String> {
        v.findings
            .iter()
            .map(|f| format!("{}: {}: {}", f.path, f.severity, f.message))
            .collect()
    }

    fn has(v: &Validation, severity: Severity, path: &str, needle: &str) -> bool {
        v.findings
            .iter()
            .any(|f| f.severity == severity && f.path == path && f.message.contains(needle))
    }

    #[track_caller]
    fn assert_has(v: &Validation, severity: Severity, path: &str, needle: &str) {
        assert!(
            has(v, severity, path, needle),
            "no {severity} at {path} containing {needle:?} in:\n{}",
            lines(v).join("\n")
        );
    }

    const GOOD: &str = r#"{
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [
        {"names": ["read", "write", "execve", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
      ]}"#;

    #[test]
    fn a_good_profile_has_no_findings() {
        let v = check(GOOD);
        assert_eq!(v.format, Some(Format::Oci));
        assert!(v.findings.is_empty(), "{:?}", lines(&v));
    }

    #[test]
    fn schema_errors_are_all_reported_with_paths() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1, "syscall": [],
                "architectures": ["SCMP_ARCH_X86_64", "x86", 3],
                "flags": ["SECCOMP_FILTER_FLAG_LOGG"],
                "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["read", "write", 3], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["write"], "action": "SCMP_ACT_ALLOW", "errnoret": 1},
                  {"names": ["close"], "action": "SCMP_ACT_ALOW"},
                  {"names": ["open"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1},
                  {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [
                     {"index": 9, "value": 1, "op": "SCMP_CMP_EQ"},
                     {"value": 1, "valueTwo": 3, "op": "SCMP_CMP_EQ"},
                     {"index": 0, "value": 1, "op": "EQ"}]},
                  {"action": "SCMP_ACT_ALLOW"},
                  "read"
                ]}"#,
        );
        assert_eq!(v.format, Some(Format::Oci));
        assert_has(
            &v,
            Severity::Error,
            "defaultErrnoRet",
            "expected an unsigned 32-bit integer, found -1",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscall",
            "unknown field \"syscall\" (did you mean \"syscalls\"?)",
        );
        assert_has(
            &v,
            Severity::Error,
            "architectures[1]",
            "unknown architecture \"x86\"; write SCMP_ARCH_X86",
        );
        assert_has(
            &v,
            Severity::Error,
            "architectures[2]",
            "expected a string, found 3",
        );
        assert_has(
            &v,
            Severity::Error,
            "flags[0]",
            "did you mean \"SECCOMP_FILTER_FLAG_LOG\"?",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[1].names[2]",
            "expected a string, found 3",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[2].errnoret",
            "did you mean \"errnoRet\"?",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[3].action",
            "unknown action \"SCMP_ACT_ALOW\" (did you mean \"SCMP_ACT_ALLOW\"?)",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[4].errnoRet",
            "SCMP_ACT_ALLOW returns no errno",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[5].args[0].index",
            "argument index 9 does not exist",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[5].args[1]",
            "missing required field \"index\"",
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[5].args[1].valueTwo",
            "ignored by SCMP_CMP_EQ",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[5].args[2].op",
            "unknown op \"EQ\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[6]",
            "missing required field \"names\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[7]",
            "expected an object, found \"read\"",
        );
        // (c) runs on what is well-formed.
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[1].names[0]",
            "already in syscalls[0]",
        );
        assert!(v.errors() >= 13, "{:?}", lines(&v));
    }

    #[test]
    fn malformed_json_and_non_objects() {
        let v = check("{\"defaultAction\": }");
        assert_eq!(v.format, None);
        assert_has(
            &v,
            Severity::Error,
            TOP_LEVEL,
            "malformed JSON at line 1, column 19",
        );
        let v = check("[]");
        assert_has(
            &v,
            Severity::Error,
            TOP_LEVEL,
            "expected a JSON object, found an array",
        );
        let v = check("{}");
        assert_has(
            &v,
            Severity::Error,
            TOP_LEVEL,
            "missing required field \"defaultAction\"",
        );
        let v = validate(b"\xff\xfe", None);
        assert_eq!(v.errors(), 1);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn misspelt_syscall_names_are_errors_with_their_path() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "mkdri", "getppid"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[0].names[1]",
            "unknown syscall \"mkdri\" (did you mean \"mkdir\"?); checked on SCMP_ARCH_X86_64",
        );
        assert_eq!(v.errors(), 1, "{:?}", lines(&v));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn names_missing_on_some_arches_are_warnings() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["newfstatat", "socketcall", "read", "arm_fadvise64_64", "socket", "semop"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[0]",
            "\"newfstatat\" is unknown on SCMP_ARCH_X86 (",
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[1]",
            "\"socketcall\" is unknown on SCMP_ARCH_X86_64 (",
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[3]",
            "\"arm_fadvise64_64\" is not a syscall on SCMP_ARCH_X86_64, SCMP_ARCH_X86: the rule matches nothing there",
        );
        assert_eq!(v.errors(), 0, "{:?}", lines(&v));
        // socket and semop are socketcall/ipc rules on x86: covered, no warning.
        assert_eq!(v.warnings(), 3, "{:?}", lines(&v));
    }

    #[test]
    fn kernel_names_unknown_to_libseccomp_are_errors() {
        // Any name of our kernel tables that this libseccomp does not know at all.
        let Some((arch, name)) = Arch::native().and_then(|a| {
            a.table()
                .into_iter()
                .find(|(_, n)| ScmpSyscall::from_name(n).is_err())
                .map(|(_, n)| (a, n))
        }) else {
            return; // this libseccomp knows every name of the native table
        };
        let v = check(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": ["{name}"], "action": "SCMP_ACT_ALLOW"}}]}}"#
        ));
        assert_has(
            &v,
            Severity::Error,
            "syscalls[0].names[0]",
            &format!("the kernel's table has it ({} nr", arch.scmp_name()),
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[0].names[0]",
            "the runtime could not load it",
        );
    }

    #[test]
    fn duplicates_warn_and_contradictions_fail() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["exit"], "action": "SCMP_ACT_KILL"},
                {"names": ["exit"], "action": "SCMP_ACT_KILL_THREAD"}]}"#,
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[1].names[0]",
            "duplicate: \"write\" is already in syscalls[0] with the same action SCMP_ACT_ALLOW",
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[1].names[1]",
            "\"write\" is already in syscalls[0]",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[2].names[0]",
            "contradiction: \"read\" is SCMP_ACT_ERRNO(38) here but SCMP_ACT_ALLOW in syscalls[0]",
        );
        // ERRNO without errnoRet is EPERM (1): the same action.
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[4].names[0]",
            "same action SCMP_ACT_ERRNO(1)",
        );
        // KILL is KILL_THREAD.
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[7].names[0]",
            "same action SCMP_ACT_KILL_THREAD",
        );
        // A conditional rule is neither.
        assert!(
            !v.findings.iter().any(|f| f.path.starts_with("syscalls[5]")),
            "{:?}",
            lines(&v)
        );
        assert_eq!(v.errors(), 1, "{:?}", lines(&v));
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[1]",
            "listed twice in this rule (also at syscalls[0].names[0])",
        );
    }

    #[test]
    fn docker_extensions() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X33"]}],
            "syscalls": [
              {"name": "read", "action": "SCMP_ACT_ALLOW", "comment": "c", "includes": {}, "excludes": {}},
              {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM", "excludes": {"caps": ["CAP_SYS_ADMN"], "minKernel": "5"}},
              {"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errno": "EFROB"},
              {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS", "errnoRet": 1}
            ]}"#;
        let v = check(text);
        assert_eq!(v.format, Some(Format::Docker));
        assert_has(
            &v,
            Severity::Error,
            "archMap[0].subArchitectures[1]",
            "unknown architecture \"SCMP_ARCH_X33\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[2].excludes.caps[0]",
            "unknown capability \"CAP_SYS_ADMN\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[2].excludes.minKernel",
            "not a kernel version",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[3].name",
            "both \"name\" and \"names\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[4].errno",
            "unknown errno \"EFROB\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[5].errno",
            "errno \"ENOSYS\" (38) and errnoRet 1 disagree",
        );
        // Conditional rules for the same name do not contradict each other.
        assert!(
            !v.findings.iter().any(|f| f.message.contains("\"mount\"")),
            "{:?}",
            lines(&v)
        );
        // Rules without conditions still do.
        assert_has(
            &v,
            Severity::Error,
            "syscalls[5].names[0]",
            "contradiction: \"close\" is SCMP_ACT_ERRNO(38)",
        );
        // The same text read as OCI: the extensions are errors.
        let v = validate(text.as_bytes(), Some(Format::Oci));
        assert_has(
            &v,
            Severity::Error,
            "archMap",
            "podman/Docker extension, not part of the OCI runtime spec",
        );
        assert_has(
            &v,
            Severity::Error,
            "syscalls[0].comment",
            "podman/Docker extension",
        );
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
        );
        assert_has(
            &v,
            Severity::Error,
            "archMap",
            "both \"architectures\" and \"archMap\"",
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn archmap_selects_this_hosts_entry() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_has(
            &v,
            Severity::Warning,
            "archMap",
            "no entry for this host's architecture (SCMP_ARCH_X86_64)",
        );
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
                "syscalls": [{"names": ["newfstatat"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[0]",
            "unknown on SCMP_ARCH_X86 (",
        );
    }

    #[test]
    fn podmans_default_profile_has_no_errors() {
        let Ok(text) = std::fs::read("/usr/share/containers/seccomp.json") else {
            return;
        };
        let v = validate(&text, None);
        assert_eq!(v.format, Some(Format::Docker));
        let errors: Vec<String> = lines(&v)
            .into_iter()
            .filter(|l| l.contains(": error: "))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    fn spo(spec: &str) -> String {
        format!(
            r#"{{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
                "metadata": {{"name": "my-app"}}, "spec": {spec}}}"#
        )
    }

    #[test]
    fn spo_resources_are_checked_against_the_crd() {
        let v = check(&spo(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ));
        assert_eq!(v.format, Some(Format::Spo));
        assert!(v.findings.is_empty(), "{:?}", lines(&v));

        let v = check(&spo(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"],
                "listenerPath": "/run/x.sock", "state": "On",
                "syscalls": [
                  {"names": ["read", 7, "read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 3000000000},
                  {"names": [], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "comment": "x",
                   "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        ));
        assert_has(
            &v,
            Severity::Error,
            "spec.defaultErrnoRet",
            "the SeccompProfile CRD has no default errno",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.architectures[0]",
            "not in the SeccompProfile CRD's architectures enum",
        );
        assert_has(&v, Severity::Error, "spec.architectures[2]", "listed twice");
        assert_has(
            &v,
            Severity::Error,
            "spec.listenerPath",
            "does not match the CRD's pattern",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.state",
            "expected \"Enabled\" or \"Disabled\"",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[0].names[1]",
            "expected a string, found 7",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[0].names[2]",
            "the CRD's names are a set",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[0].errnoRet",
            "expected an integer from 0 to 2147483647",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[1].names",
            "at least one name",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[2].comment",
            "not in the SeccompProfile CRD",
        );
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[2].args[0].value",
            "the CRD's int64",
        );

        let v = check(
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}, "extra": 1}"#,
        );
        assert_has(
            &v,
            Severity::Error,
            "apiVersion",
            "expected \"security-profiles-operator.x-k8s.io/v1beta1\"",
        );
        assert_has(&v, Severity::Error, "kind", "expected \"SeccompProfile\"");
        assert_has(
            &v,
            Severity::Error,
            "metadata.name",
            "not a valid object name",
        );
        assert_has(&v, Severity::Error, "extra", "unknown field");
        assert_has(
            &v,
            Severity::Error,
            TOP_LEVEL,
            "missing required field \"spec\"",
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn spo_names_are_resolved_with_spec_paths() {
        let v = check(&spo(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "mkdri"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ));
        assert_has(
            &v,
            Severity::Error,
            "spec.syscalls[0].names[1]",
            "unknown syscall \"mkdri\"",
        );
    }

    #[test]
    fn rendered_formats_validate_cleanly() {
        let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(GOOD).expect("profile");
        for f in [Format::Oci, Format::Docker, Format::Spo] {
            let text = formats::render(&p, f, "good").expect("render");
            let v = validate(text.as_bytes(), None);
            assert_eq!(v.format, Some(f));
            assert!(v.findings.is_empty(), "{f}: {:?}", lines(&v));
        }
    }

    #[test]
    fn spo_field_lists_match_the_crd_fixture() {
        let crd: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/spo-seccompprofile-crd.json"
        ))
        .expect("fixture");
        let spec = &crd["openAPIV3Schema"]["properties"]["spec"]["properties"];
        let mut fixture: Vec<&str> = spec
            .as_object()
            .expect("spec")
            .keys()
            .map(String::as_str)
            .collect();
        fixture.push("disabled"); // the pre-v1.0 field, accepted with a warning
        fixture.sort_unstable();
        let mut ours = SPO_SPEC.to_vec();
        ours.sort_unstable();
        assert_eq!(ours, fixture);
        let rule = &spec["syscalls"]["items"]["properties"];
        let mut keys: Vec<&str> = rule
            .as_object()
            .expect("rule")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut ours = OCI_RULE.to_vec();
        ours.sort_unstable();
        assert_eq!(ours, keys);
        let op_enum: Vec<&str> = rule["args"]["items"]["properties"]["op"]["enum"]
            .as_array()
            .expect("ops")
            .iter()
            .map(|v| v.as_str().expect("op"))
            .collect();
        assert_eq!(op_enum, OPS);
        let action_enum: Vec<&str> = rule["action"]["enum"]
            .as_array()
            .expect("actions")
            .iter()
            .map(|v| v.as_str().expect("action"))
            .collect();
        assert_eq!(action_enum, ACTIONS);
        let flag_enum: Vec<&str> = spec["flags"]["items"]["enum"]
            .as_array()
            .expect("flags")
            .iter()
            .map(|v| v.as_str().expect("flag"))
            .collect();
        assert_eq!(flag_enum, FLAGS);
    }

    #[test]
    fn run_reports_text_and_json_and_exit_codes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(&good, GOOD).expect("write");
        std::fs::write(
            &bad,
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}"#,
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

    #[test]
    fn findings_are_in_document_order() {
        let v = check(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ALOW"}], "flags": 1}"#,
        );
        let paths: Vec<&str> = v.findings.iter().map(|f| f.path.as_str()).collect();
        let first_10 = paths.iter().position(|p| p.starts_with("syscalls[10]"));
        let first_2 = paths.iter().position(|p| p.starts_with("syscalls[2]"));
        assert!(first_2 < first_10, "{paths:?}");
        assert_eq!(paths[0], "flags", "{paths:?}");
        assert_eq!(paths[1], "syscalls[1].names[0]", "{paths:?}");
        assert_eq!(path_key(TOP_LEVEL), Vec::new());
        assert_eq!(
            path_key("spec.syscalls[3].names[12]"),
            vec![
                Step::Key("spec".into()),
                Step::Key("syscalls".into()),
                Step::Index(3),
                Step::Key("names".into()),
                Step::Index(12)
            ]
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("syscall", ["syscalls", "flags"]), Some("syscalls"));
        assert_eq!(suggest("xyz", ["syscalls"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("mkdri", "mkdir"), 1);
        assert_eq!(distance("", "ab"), 2);
    }
}
