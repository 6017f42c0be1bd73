//! Checking seccomp profiles before a runtime or the API server sees them: every
//! problem with its JSON path, not only the first one (`seccomp-recorder validate`).
//!
//! Formats (detected per text, or forced): the OCI runtime-spec
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
//! - Kernel calls ([`crate::kernel_calls`]): a profile that does not let
//!   `restart_syscall`, `rt_sigreturn` (and `sigreturn` where a filter architecture has
//!   it) through unconditionally gets a warning naming what breaks. The same names
//!   missing on only some architectures are not warned about: they are meant for
//!   every architecture that has them.
//!
//! Layout: [`validate`] here detects the format and walks the document with the
//! schema checker (`schema`), then resolves the names (`names`, with libseccomp) and
//! compares the rules (`rules`); `suggest` offers the nearest known word.

mod kernel_calls;
mod names;
mod rules;
mod schema;
mod suggest;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use libseccomp::{ScmpArch, ScmpSyscall, ScmpVersion};
use oci_spec::runtime::{Arch as OciArch, LinuxSeccompAction, LinuxSeccompOperator};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::formats::{self, Format, SPO_ARCHITECTURES, SPO_KIND};
use crate::syscalls::Arch;
use crate::vocabulary::{
    capability_bit, errno_by_name, parse_action, parse_flag, parse_op, ACTION_NAMES as ACTIONS,
    FLAG_NAMES as FLAGS, OP_NAMES as OPS,
};

use kernel_calls::check_kernel_calls;
use names::{check_names, filter_arches};
use rules::check_rules;
use schema::Checker;
use suggest::did_you_mean;

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
        let arches = filter_arches(&mut c, &model.arches);
        check_names(&mut c, &model, &arches);
        check_rules(&mut c, &model, format);
        check_kernel_calls(&mut c, &model, &arches);
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
    /// The default action (`None`: missing or invalid).
    default_action: Option<LinuxSeccompAction>,
    /// The architectures the runtime would add besides the native one.
    arches: Vec<OciArch>,
    /// `syscalls` or `spec.syscalls`: where a missing name belongs.
    syscalls_path: String,
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
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => Effective(
                action,
                Some(errno.unwrap_or(nix::errno::Errno::EPERM as u32)),
            ),
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
