//! Reading seccomp profile files: the OCI runtime-spec `linux.seccomp` object, plus the
//! extras that podman and Docker profiles carry (`archMap`, the legacy single `name`,
//! a `comment` per rule, and `includes`/`excludes` conditions).
//!
//! The result is an [`oci_spec::runtime::LinuxSeccomp`], i.e. what podman hands to the
//! runtime after it has resolved the extras. The extras are resolved the way podman
//! (containers/common) and Docker (moby) do it:
//!
//! - `archMap`: the entry whose `architecture` is the native one gives the architectures
//!   (that one plus its `subArchitectures`); `architectures` and `archMap` together are
//!   an error, as in Docker.
//! - `includes`/`excludes` are evaluated against this host, which is what the command
//!   started by `enforce` will run with: `arches` against the native architecture in Go
//!   spelling (`amd64`, `arm64`, ...), `caps` against this process's capability
//!   bounding set (the command inherits it unchanged), `minKernel` (`"major.minor"`)
//!   against the running kernel. A rule is kept when every `includes` condition holds
//!   and no `excludes` condition does. Any other condition key is refused, never
//!   silently ignored.
//!
//! Unknown fields anywhere are refused too: podman and runc would silently ignore a
//! misspelt `syscall` or `errnoret`, and the profile would not mean what it says.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp, LinuxSeccompArgBuilder, LinuxSyscall};
use serde::Deserialize;

use crate::exit::{Categorized, Category};
use crate::syscalls::Arch;
use crate::vocabulary::{capability_bit, errno_by_name, parse_action, parse_flag, parse_op};

/// A rule of a profile, named for error messages: its position in the file's
/// `syscalls` array (0-based, as in `jq '.syscalls[3]'`) and its syscall names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// Index in the file's `syscalls` array.
    pub index: usize,
    /// The rule's syscall names.
    pub names: Vec<String>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Profiles have rules with hundreds of names; a few are enough to find the rule.
        const SHOWN: usize = 6;
        write!(f, "rule syscalls[{}] (names: ", self.index)?;
        if self.names.is_empty() {
            f.write_str("none")?;
        }
        for (i, name) in self.names.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        if self.names.len() > SHOWN {
            write!(f, ", ... {} more", self.names.len() - SHOWN)?;
        }
        f.write_str(")")
    }
}

/// A profile file after parsing and resolving the podman/Docker extras.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    /// The file it came from.
    pub path: PathBuf,
    /// The profile as the OCI runtime spec describes it.
    pub seccomp: LinuxSeccomp,
    /// For each rule of `seccomp.syscalls()`, its index in the file's `syscalls` array
    /// (rules dropped by `includes`/`excludes` make the two differ).
    pub rule_origins: Vec<usize>,
}

impl LoadedProfile {
    /// The [`RuleRef`] of rule `i` of `seccomp.syscalls()`, numbered as in the file.
    pub fn rule_ref(&self, i: usize) -> Option<RuleRef> {
        let rule = self.seccomp.syscalls().as_ref()?.get(i)?;
        Some(RuleRef {
            index: self.rule_origins.get(i).copied().unwrap_or(i),
            names: rule.names().clone(),
        })
    }
}

/// What `includes`/`excludes` conditions and `archMap` are evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The native architecture, if it has a table (selects the `archMap` entry).
    pub native_arch: Option<Arch>,
    /// The native architecture as Go spells it (`amd64`, `arm64`, ...), which is what
    /// Docker and podman compare `includes.arches` with.
    pub go_arch: &'static str,
    /// The capability bounding set (bit n = capability n), if it could be read.
    pub bounding_caps: Option<u64>,
    /// The running kernel's `(major, minor)`, if it could be read.
    pub kernel: Option<(u32, u32)>,
}

impl HostFacts {
    /// A fixed x86_64 host on kernel 6.1 with the given capability bounding set (for
    /// tests, here and in the binary crate).
    pub fn test_x86_64(bounding_caps: u64) -> Self {
        HostFacts {
            native_arch: Some(Arch::X86_64),
            go_arch: "amd64",
            bounding_caps: Some(bounding_caps),
            kernel: Some((6, 1)),
        }
    }

    /// The facts of this process on this host. Facts that cannot be read are `None`;
    /// a profile that needs one of them is refused with an error saying so.
    pub fn current() -> Self {
        HostFacts {
            native_arch: Arch::native(),
            go_arch: crate::arch::go_of_target(std::env::consts::ARCH),
            bounding_caps: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| status_cap_field(&s, "CapBnd")),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .and_then(|s| parse_kernel_version(s.trim())),
        }
    }
}

/// A hexadecimal capability field (`CapBnd`, `CapEff`, ...) of `/proc/<pid>/status`.
pub fn status_cap_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == field)
            .then(|| u64::from_str_radix(value.trim(), 16).ok())
            .flatten()
    })
}

/// `"6.1.0-18-amd64"` → `(6, 1)`; `"4.8"` → `(4, 8)`.
fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor_part = parts.next()?;
    let digits = minor_part
        .find(|c: char| !c.is_ascii_digit())
        .map_or(minor_part, |end| &minor_part[..end]);
    Some((major, digits.parse().ok()?))
}

/// Docker's `minKernel`: exactly `"major.minor"`.
fn parse_min_kernel(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.split_once('.')?;
    let number = |p: &str| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    Some((number(major)?, number(minor)?))
}

/// Why a profile file could not be read or understood.
///
/// The message is one line and starts with the file name.
#[derive(Debug)]
pub struct ProfileFileError {
    path: PathBuf,
    kind: ProfileErrorKind,
}

/// What was wrong with a profile file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// The file could not be read.
    #[error("cannot read the file")]
    Read(#[source] std::io::Error),
    /// The text is not JSON.
    #[error("malformed JSON at line {line}, column {column}: {detail}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        detail: String,
    },
    /// The JSON does not have the shape of a seccomp profile (wrong type, missing or
    /// unknown field).
    #[error("invalid profile at line {line}, column {column}: {detail}")]
    Shape {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser found wrong.
        detail: String,
    },
    /// An action name that is not an `SCMP_ACT_*` action.
    #[error("{at}: unknown action '{action}' (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_TRACE, SCMP_ACT_NOTIFY)")]
    UnknownAction {
        /// `defaultAction` or the rule.
        at: Location,
        /// The name found.
        action: String,
    },
    /// An argument operator that is not an `SCMP_CMP_*` operator.
    #[error("{rule}: args[{arg}]: unknown op '{op}' (known: SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)")]
    UnknownOp {
        /// The rule.
        rule: RuleRef,
        /// Position in the rule's `args`.
        arg: usize,
        /// The name found.
        op: String,
    },
    /// A podman `errno`/`defaultErrno` that is neither a number nor an errno name.
    #[error("{at}: unknown errno '{name}'")]
    UnknownErrno {
        /// `defaultErrno` or the rule.
        at: Location,
        /// The name found.
        name: String,
    },
    /// podman's `errno` and the runtime spec's `errnoRet` say different things.
    #[error("{at}: errno '{name}' ({value}) and errnoRet {number} disagree")]
    ErrnoDisagrees {
        /// `defaultErrno` or the rule.
        at: Location,
        /// The name found.
        name: String,
        /// Its value.
        value: u32,
        /// The errnoRet found.
        number: u32,
    },
    /// A flag that is not a `SECCOMP_FILTER_FLAG_*` flag the runtime spec knows.
    #[error("unknown flag '{0}' (known: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)")]
    UnknownFlag(String),
    /// An architecture name neither our tables nor libseccomp know.
    #[error("{field}: unknown architecture '{name}' (expected SCMP_ARCH_* names such as SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64)")]
    UnknownArch {
        /// `architectures` or `archMap`.
        field: &'static str,
        /// The name found.
        name: String,
    },
    /// Both `architectures` and `archMap` are present (Docker refuses this too).
    #[error("both 'architectures' and 'archMap' are given; use one of them")]
    ArchitecturesAndArchMap,
    /// `archMap` needs the native architecture, which has no table here.
    #[error("cannot evaluate archMap: the native architecture '{0}' has no syscall table")]
    ArchMapWithoutNativeArch(&'static str),
    /// A rule with both `name` and `names`.
    #[error("{0}: both 'name' and 'names' are given; use one of them")]
    NameAndNames(RuleRef),
    /// An `includes`/`excludes` key we cannot evaluate.
    #[error("{rule}: cannot evaluate {filter}.{key} (enforce evaluates caps, arches and minKernel); refusing rather than ignoring it")]
    UnsupportedCondition {
        /// The rule.
        rule: RuleRef,
        /// `includes` or `excludes`.
        filter: &'static str,
        /// The key found.
        key: String,
    },
    /// A capability name in `includes.caps`/`excludes.caps` that is not a `CAP_*` name.
    #[error(
        "{rule}: {filter}.caps: unknown capability '{cap}' (expected names like CAP_SYS_ADMIN)"
    )]
    UnknownCapability {
        /// The rule.
        rule: RuleRef,
        /// `includes` or `excludes`.
        filter: &'static str,
        /// The name found.
        cap: String,
    },
    /// A `minKernel` that is not `"major.minor"`.
    #[error("{rule}: {filter}.minKernel: '{value}' is not a kernel version like \"4.8\"")]
    BadMinKernel {
        /// The rule.
        rule: RuleRef,
        /// `includes` or `excludes`.
        filter: &'static str,
        /// The value found.
        value: String,
    },
    /// oci-spec could not build a value (all its fields have defaults: not expected).
    #[error("cannot represent the profile with oci-spec types")]
    Represent(#[source] oci_spec::OciSpecError),
    /// A condition needs a host fact that could not be read.
    #[error("{rule}: cannot evaluate {filter}.{key}: {what} could not be read on this host")]
    HostFactUnavailable {
        /// The rule.
        rule: RuleRef,
        /// `includes` or `excludes`.
        filter: &'static str,
        /// The condition key.
        key: &'static str,
        /// The missing fact.
        what: &'static str,
    },
}

/// Where in a profile a value sits, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The top-level `defaultAction` / `defaultErrnoRet`.
    Default,
    /// A rule of `syscalls`.
    Rule(RuleRef),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Default => f.write_str("defaultAction"),
            Location::Rule(rule) => rule.fmt(f),
        }
    }
}

impl ProfileFileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was wrong.
    pub fn kind(&self) -> &ProfileErrorKind {
        &self.kind
    }
}

impl fmt::Display for ProfileFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "profile {}: {}", self.path.display(), self.kind)
    }
}

impl std::error::Error for ProfileFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The kind is part of our own message; only its cause (an I/O error) is a source.
        std::error::Error::source(&self.kind)
    }
}

impl Categorized for ProfileFileError {
    fn category(&self) -> Category {
        match self.kind {
            ProfileErrorKind::Read(_) => Category::Io,
            ProfileErrorKind::Represent(_) => Category::Internal,
            ProfileErrorKind::UnknownArch { .. }
            | ProfileErrorKind::ArchMapWithoutNativeArch(_) => Category::UnknownArch,
            _ => Category::BadInput,
        }
    }
}

// The file as podman/Docker write it. Actions, ops, flags and architectures stay
// strings here so that a bad one can be reported with the rule it belongs to.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    // podman: an errno name or number; wins over defaultErrnoRet there.
    #[serde(default)]
    default_errno: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<RawArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<PathBuf>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    errno: Option<String>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    // Accepted and ignored: it documents the rule.
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<RawFilter>,
    #[serde(default)]
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawArg {
    index: usize,
    value: u64,
    #[serde(default)]
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
    // Everything else: refused with the rule named, not ignored.
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// Reads and parses the profile at `path`, resolving the extras against `host`.
pub fn load_profile(path: &Path, host: &HostFacts) -> Result<LoadedProfile, ProfileFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileFileError {
        path: path.to_owned(),
        kind: ProfileErrorKind::Read(e),
    })?;
    parse_profile(&text, path, host)
}

/// Parses profile text; `path` is only used to name the file in errors.
pub fn parse_profile(
    text: &str,
    path: &Path,
    host: &HostFacts,
) -> Result<LoadedProfile, ProfileFileError> {
    let fail = |kind| ProfileFileError {
        path: path.to_owned(),
        kind,
    };
    let raw: RawProfile = serde_json::from_str(text).map_err(|e| fail(json_error(&e)))?;
    let (seccomp, rule_origins) = resolve(raw, host).map_err(fail)?;
    Ok(LoadedProfile {
        path: path.to_owned(),
        seccomp,
        rule_origins,
    })
}

/// serde_json's message without its " at line L column C", which we say our own way.
pub fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

fn json_error(e: &serde_json::Error) -> ProfileErrorKind {
    let detail = without_position(e);
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Data => ProfileErrorKind::Shape {
            line,
            column,
            detail,
        },
        _ => ProfileErrorKind::Syntax {
            line,
            column,
            detail,
        },
    }
}

fn resolve(
    raw: RawProfile,
    host: &HostFacts,
) -> Result<(LinuxSeccomp, Vec<usize>), ProfileErrorKind> {
    let mut seccomp = LinuxSeccomp::default();
    seccomp.set_default_action(parse_action(&raw.default_action).ok_or_else(|| {
        ProfileErrorKind::UnknownAction {
            at: Location::Default,
            action: raw.default_action.clone(),
        }
    })?);
    seccomp.set_default_errno_ret(errno_value(
        raw.default_errno.as_deref(),
        raw.default_errno_ret,
        &Location::Default,
    )?);

    let architectures = match (raw.architectures, raw.arch_map) {
        (Some(a), Some(m)) if !a.is_empty() && !m.is_empty() => {
            return Err(ProfileErrorKind::ArchitecturesAndArchMap)
        }
        (Some(a), _) if !a.is_empty() => Some(parse_arches(&a, "architectures")?),
        (_, Some(m)) if !m.is_empty() => {
            let native = host
                .native_arch
                .ok_or(ProfileErrorKind::ArchMapWithoutNativeArch(
                    std::env::consts::ARCH,
                ))?;
            // Docker compares the strings; so do we.
            let names: Vec<String> = m
                .into_iter()
                .find(|entry| entry.architecture == native.scmp_name())
                .map(|entry| {
                    std::iter::once(entry.architecture)
                        .chain(entry.sub_architectures.unwrap_or_default())
                        .collect()
                })
                .unwrap_or_default();
            Some(parse_arches(&names, "archMap")?)
        }
        _ => None,
    };
    seccomp.set_architectures(architectures.filter(|a| !a.is_empty()));

    if let Some(flags) = raw.flags {
        let flags = flags
            .iter()
            .map(|f| parse_flag(f).ok_or_else(|| ProfileErrorKind::UnknownFlag(f.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        seccomp.set_flags(Some(flags));
    }
    seccomp.set_listener_path(raw.listener_path);
    seccomp.set_listener_metadata(raw.listener_metadata);

    let mut rules = Vec::new();
    let mut origins = Vec::new();
    for (index, raw_rule) in raw.syscalls.unwrap_or_default().into_iter().enumerate() {
        let mut names = raw_rule.names.clone().unwrap_or_default();
        let rule = RuleRef {
            index,
            names: names.clone(),
        };
        if let Some(name) = &raw_rule.name {
            if !names.is_empty() {
                return Err(ProfileErrorKind::NameAndNames(RuleRef {
                    index,
                    names: std::iter::once(name.clone()).chain(names).collect(),
                }));
            }
            names.push(name.clone());
        }
        let rule = RuleRef { names, ..rule };
        if !rule_applies(&raw_rule, &rule, host)? {
            continue;
        }
        let action =
            parse_action(&raw_rule.action).ok_or_else(|| ProfileErrorKind::UnknownAction {
                at: Location::Rule(rule.clone()),
                action: raw_rule.action.clone(),
            })?;
        let errno_ret = errno_value(
            raw_rule.errno.as_deref(),
            raw_rule.errno_ret,
            &Location::Rule(rule.clone()),
        )?;
        let mut args = Vec::new();
        for (i, raw_arg) in raw_rule.args.iter().flatten().enumerate() {
            let op = parse_op(&raw_arg.op).ok_or_else(|| ProfileErrorKind::UnknownOp {
                rule: rule.clone(),
                arg: i,
                op: raw_arg.op.clone(),
            })?;
            let mut arg = LinuxSeccompArgBuilder::default()
                .index(raw_arg.index)
                .value(raw_arg.value)
                .op(op);
            if let Some(value_two) = raw_arg.value_two {
                arg = arg.value_two(value_two);
            }
            args.push(arg.build().map_err(ProfileErrorKind::Represent)?);
        }
        let mut syscall = LinuxSyscall::default();
        syscall
            .set_names(rule.names)
            .set_action(action)
            .set_errno_ret(errno_ret)
            .set_args((!args.is_empty()).then_some(args));
        rules.push(syscall);
        origins.push(index);
    }
    seccomp.set_syscalls(Some(rules));
    Ok((seccomp, origins))
}

/// podman's `errno`/`defaultErrno` (a name like `ENOSYS` or a number) next to the
/// runtime spec's `errnoRet`/`defaultErrnoRet`. podman lets the name win; when both are
/// given they must agree, or the profile says two things.
fn errno_value(
    name: Option<&str>,
    number: Option<u32>,
    at: &Location,
) -> Result<Option<u32>, ProfileErrorKind> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(number);
    };
    let value = name
        .parse::<u32>()
        .ok()
        .or_else(|| errno_by_name(name))
        .ok_or_else(|| ProfileErrorKind::UnknownErrno {
            at: at.clone(),
            name: name.to_owned(),
        })?;
    match number {
        Some(n) if n != value => Err(ProfileErrorKind::ErrnoDisagrees {
            at: at.clone(),
            name: name.to_owned(),
            value,
            number: n,
        }),
        _ => Ok(Some(value)),
    }
}

/// Docker/podman semantics: keep the rule when no `excludes` condition holds and every
/// `includes` condition holds.
fn rule_applies(raw: &RawRule, rule: &RuleRef, host: &HostFacts) -> Result<bool, ProfileErrorKind> {
    if let Some(excludes) = &raw.excludes {
        let c = Conditions::check(excludes, "excludes", rule, host)?;
        let excluded = c.arch_listed == Some(true)
            || c.caps_present.iter().any(|present| *present)
            || c.kernel_at_least == Some(true);
        if excluded {
            return Ok(false);
        }
    }
    if let Some(includes) = &raw.includes {
        let c = Conditions::check(includes, "includes", rule, host)?;
        let included = c.arch_listed != Some(false)
            && c.caps_present.iter().all(|present| *present)
            && c.kernel_at_least != Some(false);
        if !included {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The evaluated conditions of one `includes` or `excludes` object (`None`: absent).
struct Conditions {
    arch_listed: Option<bool>,
    caps_present: Vec<bool>,
    kernel_at_least: Option<bool>,
}

impl Conditions {
    fn check(
        filter: &RawFilter,
        which: &'static str,
        rule: &RuleRef,
        host: &HostFacts,
    ) -> Result<Self, ProfileErrorKind> {
        if let Some(key) = filter.other.keys().next() {
            return Err(ProfileErrorKind::UnsupportedCondition {
                rule: rule.clone(),
                filter: which,
                key: key.clone(),
            });
        }
        let unavailable = |key, what| ProfileErrorKind::HostFactUnavailable {
            rule: rule.clone(),
            filter: which,
            key,
            what,
        };
        // An empty list is no condition (Go: `len(...) > 0`).
        let arch_listed = filter
            .arches
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a.iter().any(|x| x == host.go_arch));
        let mut caps_present = Vec::new();
        for cap in filter.caps.iter().flatten() {
            let bit = capability_bit(cap).ok_or_else(|| ProfileErrorKind::UnknownCapability {
                rule: rule.clone(),
                filter: which,
                cap: cap.clone(),
            })?;
            let set = host
                .bounding_caps
                .ok_or_else(|| unavailable("caps", "the capability bounding set"))?;
            caps_present.push(set & (1u64 << bit) != 0);
        }
        let kernel_at_least = match &filter.min_kernel {
            None => None,
            Some(value) => {
                let wanted =
                    parse_min_kernel(value).ok_or_else(|| ProfileErrorKind::BadMinKernel {
                        rule: rule.clone(),
                        filter: which,
                        value: value.clone(),
                    })?;
                let running = host
                    .kernel
                    .ok_or_else(|| unavailable("minKernel", "the kernel version"))?;
                Some(running >= wanted)
            }
        };
        Ok(Conditions {
            arch_listed,
            caps_present,
            kernel_at_least,
        })
    }
}

fn parse_arches(names: &[String], field: &'static str) -> Result<Vec<OciArch>, ProfileErrorKind> {
    names.iter().map(|n| parse_arch(n, field)).collect()
}

/// Our table names first (they also accept `x86_64`, `amd64`, ...), then any other
/// `SCMP_ARCH_*` name libseccomp knows (`SCMP_ARCH_PPC64LE`, `SCMP_ARCH_NATIVE`, ...).
fn parse_arch(name: &str, field: &'static str) -> Result<OciArch, ProfileErrorKind> {
    let scmp_name = Arch::from_str(name).map(|a| a.scmp_name()).unwrap_or(name);
    OciArch::from_str(scmp_name).map_err(|_| ProfileErrorKind::UnknownArch {
        field,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests;
