//! Reading the inputs of the profile toolkit (`check`, `diff`, `merge`): seccomp
//! profiles and recordings, told apart by their JSON shape.
//!
//! Accepted inputs:
//!
//! - a seccomp profile: the OCI runtime-spec `linux.seccomp` object, or a podman/Docker
//!   profile with `archMap` and `includes`/`excludes` (read by
//!   [`profile_file::parse_profile`]);
//! - a Security Profiles Operator `SeccompProfile` resource in JSON
//!   (`kubectl get seccompprofile -o json`): its `spec` is the profile;
//! - a `record --stats` file: `{"syscalls": [{"arch", "nr", "name", "count"}, ...]}`;
//! - a report: the same, where an entry may also say which process made the first call
//!   (`"first": {"pid", "tid", "comm", "after_ms"}`); other top-level fields are ignored.
//!
//! What an input shows was used is a list of [`NamedSyscall`] entries. A recording gives one
//! entry per syscall it counted, with its architecture. A profile gives the names it
//! allows, without an architecture (they apply to every architecture it lists) and
//! without counts.
//!
//! A profile with `archMap` is resolved once per main architecture of its map that has
//! a syscall table here, as podman would on a host of that architecture: that is what
//! it allows there. `includes.caps` and `includes.minKernel` are evaluated against this
//! host, as `enforce` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp, LinuxSeccompAction};

use crate::arch::{from_oci, to_oci};
use crate::exit::{Categorized, Category};
use crate::profile_file::{self, HostFacts, LoadedProfile, ProfileErrorKind, ProfileFileError};
use crate::report::FirstSeen;
use crate::report::Report;
use crate::syscalls::Arch;

/// One syscall an input names: used (a recording) or allowed (a profile). Not to be
/// confused with [`crate::report::Evidence`], a recorded call with its first use.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedSyscall {
    /// The ABI of the calls; `None` for a profile's names, which apply to every
    /// architecture the profile lists.
    pub arch: Option<Arch>,
    /// The syscall name.
    pub name: String,
    /// The number on `arch`, when the input says.
    pub nr: Option<u64>,
    /// Calls counted, when the input is a recording.
    pub count: Option<u64>,
    /// The process that made the first call, when a report says.
    pub first: Option<FirstSeen>,
    /// The profile allows the name only under argument conditions.
    pub conditional: bool,
}

/// A recorded syscall number that no table names: no profile can allow it by name.
#[derive(Debug, Clone, PartialEq)]
pub struct UnnamedCall {
    /// The ABI of the calls.
    pub arch: Arch,
    /// The number.
    pub nr: u64,
    /// Calls counted.
    pub count: u64,
    /// The process that made the first call, when a report says.
    pub first: Option<FirstSeen>,
}

/// What kind of file an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An OCI runtime-spec or podman/Docker seccomp profile.
    Profile,
    /// A Security Profiles Operator `SeccompProfile` resource.
    SeccompProfileResource,
    /// A `record --stats` file.
    Stats,
    /// A report: stats with first-seen processes or other extra fields.
    Report,
}

impl InputKind {
    /// Whether the input is a profile (of either kind).
    pub const fn is_profile(self) -> bool {
        matches!(self, InputKind::Profile | InputKind::SeccompProfileResource)
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Profile => "seccomp profile",
            InputKind::SeccompProfileResource => "SeccompProfile resource",
            InputKind::Stats => "stats file",
            InputKind::Report => "report",
        })
    }
}

/// A profile resolved for one host architecture.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The native architecture it was resolved for (`archMap` entry, `includes.arches`).
    pub native: Option<Arch>,
    /// The resolved profile.
    pub loaded: LoadedProfile,
}

impl Variant {
    /// The architectures the filter covers: the listed ones, or the native one when
    /// the profile lists none (what libseccomp does).
    pub fn arches(&self) -> Vec<OciArch> {
        match self.loaded.seccomp.architectures() {
            Some(listed) if !listed.is_empty() => listed.clone(),
            _ => self.native.map(to_oci).into_iter().collect(),
        }
    }
}

/// What an input file holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// A profile, with one resolution per host architecture (one unless `archMap`).
    Profile(Vec<Variant>),
    /// A recording.
    Recording {
        /// Named syscalls, in file order.
        calls: Vec<NamedSyscall>,
        /// Numbers no table names.
        unnamed: Vec<UnnamedCall>,
    },
}

/// One parsed input file.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// Its kind.
    pub kind: InputKind,
    /// Its contents.
    pub content: Content,
}

/// An input that says `names` were used, on every architecture (e.g. a runtime's
/// start-up calls), labelled `label` where a path would be.
pub fn names_input(label: &str, names: &[&str]) -> Input {
    Input {
        path: PathBuf::from(label),
        kind: InputKind::Stats,
        content: Content::Recording {
            calls: names
                .iter()
                .map(|n| NamedSyscall {
                    arch: None,
                    name: (*n).to_owned(),
                    nr: None,
                    count: None,
                    first: None,
                    conditional: false,
                })
                .collect(),
            unnamed: Vec::new(),
        },
    }
}

/// Why an input file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The file could not be read.
    #[error("{}: cannot read the file", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("{}: malformed JSON at line {line}, column {column}: {detail}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        detail: String,
    },
    /// The JSON is none of the accepted kinds.
    #[error("{}: not a seccomp profile, SeccompProfile resource, stats file or report ({found}); expected an object with defaultAction, kind SeccompProfile, or a syscalls array of {{arch, nr, name, count}}", path.display())]
    Unrecognized {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: &'static str,
    },
    /// The profile (or the resource's spec) is not a valid profile.
    #[error(transparent)]
    Profile(#[from] ProfileFileError),
    /// A `SeccompProfile` resource whose spec has the wrong shape. The spec is checked
    /// on its own, so no line and column are known.
    #[error("{}: SeccompProfile spec: {detail}", path.display())]
    ResourceSpec {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A `SeccompProfile` resource that builds on another one, which cannot be read here.
    #[error("{}: SeccompProfile spec.baseProfileName '{base}' cannot be resolved here; use the resolved profile (e.g. the one the operator installs on the node)", path.display())]
    BaseProfile {
        /// The file.
        path: PathBuf,
        /// The base profile's name.
        base: String,
    },
    /// A stats file or report with the wrong shape.
    #[error("{}: invalid {kind} at line {line}, column {column}: {detail}", path.display())]
    RecordingShape {
        /// The file.
        path: PathBuf,
        /// Stats or report.
        kind: InputKind,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        detail: String,
    },
    /// An entry with an architecture no table knows.
    #[error("{}: syscalls[{index}]: unknown architecture '{arch}' (known: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM, SCMP_ARCH_RISCV64)", path.display())]
    UnknownArch {
        /// The file.
        path: PathBuf,
        /// Position in `syscalls`.
        index: usize,
        /// The name found.
        arch: String,
    },
    /// An entry whose name is not the name of its number.
    #[error("{}: syscalls[{index}]: {arch} syscall {nr} is '{table}', not '{name}'", path.display())]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// Position in `syscalls`.
        index: usize,
        /// The entry's architecture.
        arch: Arch,
        /// The entry's number.
        nr: u64,
        /// The entry's name.
        name: String,
        /// The table's name for the number.
        table: &'static str,
    },
    /// A profile that allows everything it does not name cannot say what was used.
    #[error("{}: the profile allows by default ({action}), so it does not list what was used", path.display())]
    AllowsByDefault {
        /// The file.
        path: PathBuf,
        /// The default action.
        action: LinuxSeccompAction,
    },
}

impl Categorized for EvidenceError {
    fn category(&self) -> Category {
        match self {
            EvidenceError::Read { .. } => Category::Io,
            EvidenceError::Profile(e) => e.category(),
            EvidenceError::UnknownArch { .. } => Category::UnknownArch,
            EvidenceError::Syntax { .. }
            | EvidenceError::Unrecognized { .. }
            | EvidenceError::ResourceSpec { .. }
            | EvidenceError::BaseProfile { .. }
            | EvidenceError::RecordingShape { .. }
            | EvidenceError::NameMismatch { .. }
            | EvidenceError::AllowsByDefault { .. } => Category::BadInput,
        }
    }
}

/// Reads and parses the input at `path`, resolving profiles against `host`.
pub fn load(path: &Path, host: &HostFacts) -> Result<Input, EvidenceError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvidenceError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, host)
}

/// Parses input text; `path` only names the file in errors and in the result.
pub fn parse(text: &str, path: &Path, host: &HostFacts) -> Result<Input, EvidenceError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| EvidenceError::Syntax {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            detail: profile_file::without_position(&e),
        })?;
    let unrecognized = |found| EvidenceError::Unrecognized {
        path: path.to_owned(),
        found,
    };
    let serde_json::Value::Object(top) = &value else {
        return Err(unrecognized(json_type(&value)));
    };
    let (kind, content) = if top.get("kind").and_then(|k| k.as_str()) == Some("SeccompProfile") {
        let spec = match top.get("spec") {
            Some(serde_json::Value::Object(spec)) => spec,
            _ => return Err(unrecognized("a SeccompProfile without a spec object")),
        };
        (
            InputKind::SeccompProfileResource,
            Content::Profile(resource_variants(spec, path, host)?),
        )
    } else if looks_like_profile(top) {
        (
            InputKind::Profile,
            Content::Profile(profile_variants(text, top, path, host)?),
        )
    } else if top.contains_key("syscalls") {
        let report = top.keys().any(|k| k != "syscalls")
            || top["syscalls"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e.get("first").is_some()));
        let kind = if report {
            InputKind::Report
        } else {
            InputKind::Stats
        };
        (kind, parse_recording(text, path, kind)?)
    } else {
        return Err(unrecognized("an object with none of those keys"));
    };
    Ok(Input {
        path: path.to_owned(),
        kind,
        content,
    })
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A profile has profile keys, or rules with an action; a recording has neither.
fn looks_like_profile(top: &serde_json::Map<String, serde_json::Value>) -> bool {
    const PROFILE_KEYS: [&str; 7] = [
        "defaultAction",
        "defaultErrnoRet",
        "defaultErrno",
        "architectures",
        "archMap",
        "flags",
        "listenerPath",
    ];
    PROFILE_KEYS.iter().any(|k| top.contains_key(*k))
        || top
            .get("syscalls")
            .and_then(|s| s.as_array())
            .is_some_and(|rules| rules.iter().any(|r| r.get("action").is_some()))
}

/// The hosts a profile is resolved for: each `archMap` main architecture with a table,
/// or just this host.
fn hosts_for(top: &serde_json::Map<String, serde_json::Value>, host: &HostFacts) -> Vec<HostFacts> {
    let mut mains: BTreeSet<Arch> = BTreeSet::new();
    for entry in top
        .get("archMap")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(arch) = entry
            .get("architecture")
            .and_then(|a| a.as_str())
            .and_then(|a| Arch::from_str(a).ok())
        {
            mains.insert(arch);
        }
    }
    if mains.is_empty() {
        return vec![host.clone()];
    }
    mains
        .into_iter()
        .map(|arch| HostFacts {
            native_arch: Some(arch),
            go_arch: crate::arch::to_go(arch),
            ..host.clone()
        })
        .collect()
}

fn profile_variants(
    text: &str,
    top: &serde_json::Map<String, serde_json::Value>,
    path: &Path,
    host: &HostFacts,
) -> Result<Vec<Variant>, EvidenceError> {
    hosts_for(top, host)
        .into_iter()
        .map(|facts| {
            let loaded = profile_file::parse_profile(text, path, &facts)?;
            Ok(Variant {
                native: facts.native_arch,
                loaded,
            })
        })
        .collect()
}

/// The spec of a `SeccompProfile` resource, as an OCI profile: its operator-only fields
/// (`disabled`, `baseProfileName`) removed.
fn resource_variants(
    spec: &serde_json::Map<String, serde_json::Value>,
    path: &Path,
    host: &HostFacts,
) -> Result<Vec<Variant>, EvidenceError> {
    let mut spec = spec.clone();
    spec.remove("disabled");
    if let Some(base) = spec.remove("baseProfileName") {
        let base = base.as_str().unwrap_or_default().to_owned();
        if !base.is_empty() {
            return Err(EvidenceError::BaseProfile {
                path: path.to_owned(),
                base,
            });
        }
    }
    let hosts = hosts_for(&spec, host);
    let text = serde_json::Value::Object(spec).to_string();
    hosts
        .into_iter()
        .map(|facts| {
            let loaded = profile_file::parse_profile(&text, path, &facts).map_err(|e| {
                // Positions would point into our re-serialized spec, not into the file.
                match e.kind() {
                    ProfileErrorKind::Shape { detail, .. }
                    | ProfileErrorKind::Syntax { detail, .. } => EvidenceError::ResourceSpec {
                        path: path.to_owned(),
                        detail: detail.clone(),
                    },
                    _ => EvidenceError::Profile(e),
                }
            })?;
            Ok(Variant {
                native: facts.native_arch,
                loaded,
            })
        })
        .collect()
}

fn parse_recording(text: &str, path: &Path, kind: InputKind) -> Result<Content, EvidenceError> {
    // Unknown fields are ignored: reports may carry more than this tool reads.
    let raw: Report = serde_json::from_str(text).map_err(|e| EvidenceError::RecordingShape {
        path: path.to_owned(),
        kind,
        line: e.line(),
        column: e.column(),
        detail: profile_file::without_position(&e),
    })?;
    let mut calls = Vec::new();
    let mut unnamed = Vec::new();
    for (index, call) in raw.syscalls.into_iter().enumerate() {
        let arch = Arch::from_str(&call.arch).map_err(|_| EvidenceError::UnknownArch {
            path: path.to_owned(),
            index,
            arch: call.arch.clone(),
        })?;
        if call.count == 0 {
            continue;
        }
        let table = arch.name_of(call.nr);
        let name = match (call.name, table) {
            (Some(name), Some(table)) if name != table => {
                return Err(EvidenceError::NameMismatch {
                    path: path.to_owned(),
                    index,
                    arch,
                    nr: call.nr,
                    name,
                    table,
                })
            }
            (Some(name), _) => name,
            (None, Some(table)) => table.to_owned(),
            (None, None) => {
                unnamed.push(UnnamedCall {
                    arch,
                    nr: call.nr,
                    count: call.count,
                    first: call.first,
                });
                continue;
            }
        };
        calls.push(NamedSyscall {
            arch: Some(arch),
            name,
            nr: Some(call.nr),
            count: Some(call.count),
            first: call.first,
            conditional: false,
        });
    }
    Ok(Content::Recording { calls, unnamed })
}

/// The first call as a phrase: `sh (pid 123, tid 123) 12.5 ms after the start`.
pub fn describe_first(first: &FirstSeen) -> String {
    format!(
        "{} (pid {}, tid {}) {} ms after the start",
        first.comm, first.pid, first.tid, first.after_ms
    )
}

/// Whether an action lets the call through (`SCMP_ACT_LOG` logs it and lets it pass).
pub fn permits(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    )
}

impl Input {
    /// The variants, if the input is a profile.
    pub fn variants(&self) -> Option<&[Variant]> {
        match &self.content {
            Content::Profile(v) => Some(v),
            Content::Recording { .. } => None,
        }
    }

    /// What the input shows was used: a recording's calls, or the names a profile
    /// allows (sorted, marked when only conditional rules allow them). Unnamed numbers
    /// are in [`Content::Recording`].
    pub fn evidence(&self) -> Result<Vec<NamedSyscall>, EvidenceError> {
        let variants = match &self.content {
            Content::Recording { calls, .. } => return Ok(calls.clone()),
            Content::Profile(v) => v,
        };
        let mut names: BTreeMap<String, bool> = BTreeMap::new();
        for v in variants {
            let seccomp = &v.loaded.seccomp;
            if permits(seccomp.default_action()) {
                return Err(EvidenceError::AllowsByDefault {
                    path: self.path.clone(),
                    action: seccomp.default_action(),
                });
            }
            for rule in seccomp.syscalls().iter().flatten() {
                if !permits(rule.action()) {
                    continue;
                }
                let conditional = rule.args().as_ref().is_some_and(|a| !a.is_empty());
                for name in rule.names() {
                    let entry = names.entry(name.clone()).or_insert(true);
                    *entry &= conditional;
                }
            }
        }
        Ok(names
            .into_iter()
            .map(|(name, conditional)| NamedSyscall {
                arch: None,
                name,
                nr: None,
                count: None,
                first: None,
                conditional,
            })
            .collect())
    }

    /// The recorded numbers no table names (empty for profiles).
    pub fn unnamed(&self) -> &[UnnamedCall] {
        match &self.content {
            Content::Recording { unnamed, .. } => unnamed,
            Content::Profile(_) => &[],
        }
    }
}

/// Whether `name` is a syscall on `arch`: our tables where we have one, libseccomp's
/// otherwise (runtimes skip a name on the architectures that lack it).
pub fn knows(arch: OciArch, name: &str) -> bool {
    if let Some(table) = from_oci(arch) {
        return table.number_of(name).is_some();
    }
    crate::libseccomp_names::knows(&arch.to_string(), name)
}

/// An architecture as a sorted-map key: table architectures first, in their order
/// (the order `record` lists them in), then the others by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchKey(pub OciArch);

impl ArchKey {
    fn sort_key(&self) -> (usize, String) {
        let index = from_oci(self.0)
            .filter(|_| self.0 != OciArch::ScmpArchNative)
            .and_then(|a| Arch::ALL.iter().position(|x| *x == a))
            .unwrap_or(Arch::ALL.len());
        (index, self.0.to_string())
    }
}

impl Ord for ArchKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for ArchKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ArchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a profile does with each syscall name on one architecture. Names that are no
/// syscall there are left out: runtimes skip them on that architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchPolicy {
    /// The default action lets calls through.
    pub default_permits: bool,
    /// Names an unconditional rule lets through.
    pub allowed: BTreeSet<String>,
    /// Names an unconditional rule stops.
    pub denied: BTreeSet<String>,
    /// Names a rule with argument conditions lets through.
    pub conditionally_allowed: BTreeSet<String>,
    /// Names a rule with argument conditions stops.
    pub conditionally_denied: BTreeSet<String>,
}

/// Whether a profile lets a syscall through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Not let through (or the architecture is not covered).
    Denied,
    /// Let through or stopped depending on the arguments, which counts cannot show.
    Conditional,
    /// Let through whatever the arguments.
    Allowed,
}

impl ArchPolicy {
    /// The policy of `seccomp` on `arch` (pure).
    pub fn of(seccomp: &LinuxSeccomp, arch: OciArch) -> Self {
        let mut p = ArchPolicy {
            default_permits: permits(seccomp.default_action()),
            ..ArchPolicy::default()
        };
        for rule in seccomp.syscalls().iter().flatten() {
            let conditional = rule.args().as_ref().is_some_and(|a| !a.is_empty());
            let set = match (permits(rule.action()), conditional) {
                (true, false) => &mut p.allowed,
                (false, false) => &mut p.denied,
                (true, true) => &mut p.conditionally_allowed,
                (false, true) => &mut p.conditionally_denied,
            };
            set.extend(rule.names().iter().filter(|n| knows(arch, n)).cloned());
        }
        p
    }

    /// Adds what `other` lets through (two resolutions covering the same architecture).
    pub fn unite(&mut self, other: ArchPolicy) {
        self.default_permits |= other.default_permits;
        self.allowed.extend(other.allowed);
        self.denied.extend(other.denied);
        self.conditionally_allowed
            .extend(other.conditionally_allowed);
        self.conditionally_denied.extend(other.conditionally_denied);
    }

    /// What the policy does with `name` (pure).
    pub fn verdict(&self, name: &str) -> Verdict {
        if self.allowed.contains(name) {
            Verdict::Allowed
        } else if self.denied.contains(name) {
            Verdict::Denied
        } else if self.default_permits {
            if self.conditionally_denied.contains(name) {
                Verdict::Conditional
            } else {
                Verdict::Allowed
            }
        } else if self.conditionally_allowed.contains(name) {
            Verdict::Conditional
        } else {
            Verdict::Denied
        }
    }
}

/// The policy of a profile on each architecture it covers (pure).
pub fn policies(variants: &[Variant]) -> BTreeMap<ArchKey, ArchPolicy> {
    let mut out: BTreeMap<ArchKey, ArchPolicy> = BTreeMap::new();
    for v in variants {
        for arch in v.arches() {
            let p = ArchPolicy::of(&v.loaded.seccomp, arch);
            match out.get_mut(&ArchKey(arch)) {
                Some(existing) => existing.unite(p),
                None => {
                    out.insert(ArchKey(arch), p);
                }
            }
        }
    }
    out
}

/// What the policies do with a recorded syscall (pure): on its architecture, or, for
/// an entry without one, on the most permissive covered architecture that has the name.
pub fn verdict(
    policies: &BTreeMap<ArchKey, ArchPolicy>,
    arch: Option<Arch>,
    name: &str,
) -> Verdict {
    match arch {
        Some(a) => policies
            .get(&ArchKey(to_oci(a)))
            .map_or(Verdict::Denied, |p| p.verdict(name)),
        None => policies
            .iter()
            .filter(|(k, _)| knows(k.0, name))
            .map(|(_, p)| p.verdict(name))
            .max()
            .unwrap_or(Verdict::Denied),
    }
}

/// Every name a permitting rule of the profile names, on any architecture (sorted).
pub fn permitted_names(variants: &[Variant]) -> BTreeSet<String> {
    variants
        .iter()
        .flat_map(|v| v.loaded.seccomp.syscalls().iter().flatten())
        .filter(|r| permits(r.action()))
        .flat_map(|r| r.names().iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests;
