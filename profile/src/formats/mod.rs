//! Writing a profile in the formats its consumers read.
//!
//! - [`Format::Oci`]: the runtime-spec `linux.seccomp` object, as runc and crun take it
//!   in `config.json`, and as podman, Docker, CRI-O and the kubelet (`Localhost`
//!   profiles) also accept it.
//! - [`Format::Docker`]: the podman/Docker seccomp file (containers/common
//!   `pkg/seccomp`, moby `profiles/seccomp`). It differs from the OCI object in how the
//!   architectures are given: an `archMap` of native architectures with their
//!   `subArchitectures`. podman (containers/common) uses only the entry whose
//!   `architecture` is the host's native one, and only on amd64, arm64, mips64,
//!   mips64n32, mipsel64, mipsel64n32 and s390x hosts; it adds that architecture and its
//!   sub-architectures and nothing else. So every architecture of the profile appears
//!   in exactly one entry's family, with only the profile's own architectures as
//!   sub-architectures (never podman's full default families): on each host podman
//!   ends up with the profile's architectures of that host's family, exactly.
//! - [`Format::Spo`]: a Security Profiles Operator `SeccompProfile` custom resource
//!   (`security-profiles-operator.x-k8s.io/v1beta1`), with only the fields and enum
//!   values of the published CRD schema (SPO v1.0.0; `tests/fixtures/
//!   spo-seccompprofile-crd.json` is a copy, checked by the tests). The CRD has no
//!   `defaultErrnoRet`: SPO writes the node's profile file from `spec` as is, and the
//!   runtime then returns EPERM (runc and crun's default) for every syscall the profile
//!   does not allow. When that changes what the profile says (e.g. our ENOSYS default),
//!   a warning is logged; the resource is still written. JSON is valid YAML:
//!   `kubectl apply -f` takes the output as it is.
//!
//! All output is pretty JSON with a trailing newline and is deterministic: the order
//! of rules, names and architectures is the profile's.

use std::fmt;
use std::path::PathBuf;

use oci_spec::runtime::{
    Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};
use serde::Serialize;

use crate::exit::{Categorized, Category};
use crate::profile;

/// An output format for a seccomp profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// The OCI runtime-spec `linux.seccomp` object (runc, crun, podman, Docker, kubelet
    /// `Localhost` profiles).
    #[default]
    Oci,
    /// The podman/Docker seccomp file format (`archMap` instead of `architectures`).
    Docker,
    /// A Security Profiles Operator `SeccompProfile` resource (v1beta1), for `kubectl
    /// apply`.
    Spo,
}

impl Format {
    /// The name used on the command line (`oci`, `docker`, `spo`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Oci => "oci",
            Format::Docker => "docker",
            Format::Spo => "spo",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `apiVersion` of the SPO resources we write.
pub const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";

/// The `kind` of the SPO resources we write.
pub const SPO_KIND: &str = "SeccompProfile";

/// The values of `spec.architectures[*]` the SPO CRD accepts (its enum; oci-spec knows
/// more, e.g. `SCMP_ARCH_LOONGARCH64`, which the CRD refuses).
pub const SPO_ARCHITECTURES: [&str; 20] = [
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
];

/// The pattern the SPO CRD puts on `spec.listenerPath`, as a prefix plus allowed
/// characters (`^/var/run/security-profiles-operator/[a-zA-Z0-9_\-\.]+$`).
pub const SPO_LISTENER_DIR: &str = "/var/run/security-profiles-operator/";

/// Whether `path` matches the SPO CRD's `spec.listenerPath` pattern.
pub fn spo_listener_path_ok(path: &str) -> bool {
    path.strip_prefix(SPO_LISTENER_DIR).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    })
}

/// The native architectures podman selects an `archMap` entry for, with the
/// sub-architectures podman's own default profile (`/usr/share/containers/seccomp.json`)
/// gives them (a test compares). containers/common's `nativeToSeccomp` has exactly these
/// seven keys: on other hosts (riscv64, ppc64le, i386, ...) podman ignores `archMap`.
const ARCH_FAMILIES: [(OciArch, &[OciArch]); 7] = [
    (
        OciArch::ScmpArchX86_64,
        &[OciArch::ScmpArchX86, OciArch::ScmpArchX32],
    ),
    (OciArch::ScmpArchAarch64, &[OciArch::ScmpArchArm]),
    (
        OciArch::ScmpArchMips64,
        &[OciArch::ScmpArchMips, OciArch::ScmpArchMips64n32],
    ),
    (
        OciArch::ScmpArchMips64n32,
        &[OciArch::ScmpArchMips, OciArch::ScmpArchMips64],
    ),
    (
        OciArch::ScmpArchMipsel64,
        &[OciArch::ScmpArchMipsel, OciArch::ScmpArchMipsel64n32],
    ),
    (
        OciArch::ScmpArchMipsel64n32,
        &[OciArch::ScmpArchMipsel, OciArch::ScmpArchMipsel64],
    ),
    (OciArch::ScmpArchS390x, &[OciArch::ScmpArchS390]),
];

/// Why a profile cannot be written in a format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// serde_json failed (not expected for these types).
    #[error("cannot serialize the profile as JSON")]
    Json(#[source] serde_json::Error),
    /// Nothing of the name is usable as a Kubernetes object name.
    #[error("'{0}' has nothing usable as a Kubernetes object name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)")]
    InvalidName(String),
    /// A value the format (its schema) cannot hold.
    #[error("{path}: {value} cannot be written in the {format} format: {reason}")]
    Unrepresentable {
        /// The format asked for.
        format: Format,
        /// Where in the profile, e.g. `syscalls[2].args[0].value`.
        path: String,
        /// The value.
        value: String,
        /// Why not.
        reason: &'static str,
    },
}

impl Categorized for FormatError {
    fn category(&self) -> Category {
        match self {
            FormatError::Json(_) => Category::Internal,
            FormatError::InvalidName(_) => Category::Usage,
            FormatError::Unrepresentable { .. } => Category::BadInput,
        }
    }
}

/// Renders `profile` in `format` as pretty JSON with a trailing newline. `name` is the
/// SPO resource's `metadata.name` (sanitised with [`k8s_name`]); the other formats
/// ignore it. What a format cannot say is an error, except the SPO default errno,
/// which is logged as a warning (see the module documentation).
pub fn render(profile: &LinuxSeccomp, format: Format, name: &str) -> Result<String, FormatError> {
    match format {
        Format::Oci => profile::to_json(profile).map_err(FormatError::Json),
        Format::Docker => {
            let (doc, notes) = docker(profile);
            for note in &notes {
                tracing::warn!("{note}");
            }
            pretty(&doc)
        }
        Format::Spo => {
            let (doc, notes) = spo(profile, name)?;
            for note in &notes {
                tracing::warn!("{note}");
            }
            pretty(&doc)
        }
    }
}

fn pretty<T: Serialize>(value: &T) -> Result<String, FormatError> {
    let mut s = serde_json::to_string_pretty(value).map_err(FormatError::Json)?;
    s.push('\n');
    Ok(s)
}

/// Sanitises `name` into a DNS-1123 subdomain, as Kubernetes object names must be:
/// lowercase; every run of characters other than `[a-z0-9.-]` becomes one `-`; every
/// dot-separated label starts and ends with a letter or digit (empty labels are
/// dropped); at most 253 characters. `my_App.json` → `my-app.json`.
pub fn k8s_name(name: &str) -> Result<String, FormatError> {
    let mut mapped = String::with_capacity(name.len());
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
            mapped.push(c);
        } else if !mapped.ends_with('-') {
            mapped.push('-');
        }
    }
    let trim = |label: &str| label.trim_matches('-').to_owned();
    let labels: Vec<String> = mapped
        .split('.')
        .map(trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = labels.join(".");
    if out.len() > 253 {
        out.truncate(253);
        // Cut back to a letter or digit (a cut can leave '-' or '.' at the end).
        let end = out
            .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
            .len();
        out.truncate(end);
    }
    if out.is_empty() {
        return Err(FormatError::InvalidName(name.to_owned()));
    }
    Ok(out)
}

/// Whether `name` is already a valid DNS-1123 subdomain.
pub fn is_k8s_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

// ---------------------------------------------------------------------------------
// docker

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerProfile<'a> {
    default_action: LinuxSeccompAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    arch_map: Vec<ArchMapEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<&'a [LinuxSeccompFilterFlag]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_path: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_metadata: Option<&'a str>,
    // Not `omitempty` in containers/common.
    syscalls: Vec<DockerRule<'a>>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    /// The native architecture the entry is for.
    pub architecture: OciArch,
    /// The profile's architectures podman adds with it.
    pub sub_architectures: Vec<OciArch>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerRule<'a> {
    names: &'a [String],
    action: LinuxSeccompAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a [LinuxSeccompArg]>,
}

/// The `archMap` for a profile's architecture list, and notes on architectures podman
/// would not add on the host they are a sub-architecture of.
///
/// Each of the seven native architectures podman selects by gets an entry with the
/// profile's architectures of its family as sub-architectures. An architecture outside
/// every such family in the list (`SCMP_ARCH_RISCV64`, or `SCMP_ARCH_X86` without
/// `SCMP_ARCH_X86_64`) gets an entry of its own, so that the entries list exactly the
/// profile's architectures.
pub fn arch_map(arches: &[OciArch]) -> (Vec<ArchMapEntry>, Vec<String>) {
    let mut list: Vec<OciArch> = Vec::new();
    for a in arches {
        if !list.contains(a) {
            list.push(*a);
        }
    }
    let family = |a: OciArch| {
        ARCH_FAMILIES
            .iter()
            .find(|(native, _)| *native == a)
            .map(|(_, subs)| *subs)
    };
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for a in &list {
        match family(*a) {
            Some(subs) => entries.push(ArchMapEntry {
                architecture: *a,
                sub_architectures: list.iter().copied().filter(|x| subs.contains(x)).collect(),
            }),
            None => {
                let in_a_family = list
                    .iter()
                    .any(|n| n != a && family(*n).is_some_and(|subs| subs.contains(a)));
                if in_a_family {
                    continue;
                }
                entries.push(ArchMapEntry {
                    architecture: *a,
                    sub_architectures: Vec::new(),
                });
                if list.len() > 1 {
                    let hosts: Vec<String> = ARCH_FAMILIES
                        .iter()
                        .filter(|(_, subs)| subs.contains(a))
                        .map(|(n, _)| n.to_string())
                        .collect();
                    notes.push(format!(
                        "docker format: {a} has an archMap entry of its own; podman applies an entry only on a host whose native architecture it is{}; use the oci format to keep the architecture list as it is",
                        if hosts.is_empty() {
                            String::new()
                        } else {
                            format!(", so on {} hosts {a} would not be in the filter", hosts.join(" or "))
                        }
                    ));
                }
            }
        }
    }
    (entries, notes)
}

fn docker(profile: &LinuxSeccomp) -> (DockerProfile<'_>, Vec<String>) {
    let (arch_map, notes) = arch_map(profile.architectures().as_deref().unwrap_or_default());
    let syscalls = profile
        .syscalls()
        .iter()
        .flatten()
        .map(|r| DockerRule {
            names: r.names(),
            action: r.action(),
            errno_ret: r.errno_ret(),
            args: r.args().as_deref(),
        })
        .collect();
    let doc = DockerProfile {
        default_action: profile.default_action(),
        default_errno_ret: profile.default_errno_ret(),
        arch_map,
        flags: profile.flags().as_deref(),
        listener_path: profile.listener_path().as_ref(),
        listener_metadata: profile.listener_metadata().as_deref(),
        syscalls,
    };
    (doc, notes)
}

// ---------------------------------------------------------------------------------
// spo

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoResource<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: SpoMetadata,
    spec: SpoSpec<'a>,
}

#[derive(Serialize)]
struct SpoMetadata {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoSpec<'a> {
    default_action: LinuxSeccompAction,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    architectures: Vec<OciArch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    syscalls: Vec<SpoRule<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flags: Vec<LinuxSeccompFilterFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listener_metadata: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoRule<'a> {
    names: Vec<&'a str>,
    action: LinuxSeccompAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<SpoArg>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoArg {
    index: usize,
    value: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
}

/// Appends `x` unless present: the CRD makes these lists `x-kubernetes-list-type: set`,
/// which the API server refuses with duplicates; a duplicate means nothing anyway.
fn push_unique<T: PartialEq>(list: &mut Vec<T>, x: T) {
    if !list.contains(&x) {
        list.push(x);
    }
}

fn spo<'a>(
    profile: &'a LinuxSeccomp,
    name: &str,
) -> Result<(SpoResource<'a>, Vec<String>), FormatError> {
    let unrepresentable = |path: String, value: String, reason| FormatError::Unrepresentable {
        format: Format::Spo,
        path,
        value,
        reason,
    };
    let mut notes = Vec::new();
    if let Some(n) = profile.default_errno_ret() {
        let errno_action = matches!(
            profile.default_action(),
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        );
        if !(errno_action && n == profile::EPERM) {
            notes.push(format!(
                "spo format: the SeccompProfile CRD has no defaultErrnoRet; defaultErrnoRet {n} is dropped and syscalls the profile does not allow will fail with EPERM (1, the runtime's default){}",
                if n == profile::ENOSYS {
                    " instead of ENOSYS (clone3 keeps ENOSYS by its explicit rule, so glibc's fallback to clone still works; other ENOSYS fallbacks will not)"
                } else {
                    ""
                }
            ));
        }
    }

    let mut architectures = Vec::new();
    for (i, a) in profile.architectures().iter().flatten().enumerate() {
        let s = a.to_string();
        if !SPO_ARCHITECTURES.contains(&s.as_str()) {
            return Err(unrepresentable(
                format!("architectures[{i}]"),
                s,
                "not in the SeccompProfile CRD's architectures enum",
            ));
        }
        push_unique(&mut architectures, *a);
    }

    let mut syscalls = Vec::new();
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        if rule.names().is_empty() {
            return Err(unrepresentable(
                format!("syscalls[{i}].names"),
                "[]".into(),
                "the SeccompProfile CRD requires at least one name per rule",
            ));
        }
        let mut names = Vec::new();
        for n in rule.names() {
            push_unique(&mut names, n.as_str());
        }
        if let Some(e) = rule.errno_ret() {
            if i32::try_from(e).is_err() {
                return Err(unrepresentable(
                    format!("syscalls[{i}].errnoRet"),
                    e.to_string(),
                    "the SeccompProfile CRD's errnoRet is a 32-bit signed integer",
                ));
            }
            if e == 0 {
                notes.push(format!(
                    "spo format: syscalls[{i}].errnoRet 0 is dropped by SPO (it omits a zero errnoRet), so the runtime returns EPERM instead"
                ));
            }
        }
        let args = rule.args().as_deref().unwrap_or_default();
        if args.len() > 6 {
            return Err(unrepresentable(
                format!("syscalls[{i}].args"),
                format!("{} conditions", args.len()),
                "the SeccompProfile CRD allows at most 6 argument conditions per rule",
            ));
        }
        let mut spo_args = Vec::new();
        for (j, a) in args.iter().enumerate() {
            let path = |field: &str| format!("syscalls[{i}].args[{j}].{field}");
            if i32::try_from(a.index()).is_err() {
                return Err(unrepresentable(
                    path("index"),
                    a.index().to_string(),
                    "the SeccompProfile CRD's index is a 32-bit signed integer",
                ));
            }
            for (field, v) in [("value", Some(a.value())), ("valueTwo", a.value_two())] {
                if let Some(v) = v.filter(|v| i64::try_from(*v).is_err()) {
                    return Err(unrepresentable(
                        path(field),
                        v.to_string(),
                        "the SeccompProfile CRD's values are 64-bit signed integers (at most 9223372036854775807)",
                    ));
                }
            }
            spo_args.push(SpoArg {
                index: a.index(),
                value: a.value(),
                value_two: a.value_two(),
                op: a.op(),
            });
        }
        syscalls.push(SpoRule {
            names,
            action: rule.action(),
            errno_ret: rule.errno_ret(),
            args: spo_args,
        });
    }

    let mut flags = Vec::new();
    for f in profile.flags().iter().flatten() {
        push_unique(&mut flags, *f);
    }
    let listener_path = match profile.listener_path() {
        None => None,
        Some(p) => {
            let s = p.to_string_lossy().into_owned();
            if !spo_listener_path_ok(&s) {
                return Err(unrepresentable(
                    "listenerPath".into(),
                    s,
                    "the SeccompProfile CRD requires a socket directly in /var/run/security-profiles-operator/",
                ));
            }
            Some(s)
        }
    };

    let doc = SpoResource {
        api_version: SPO_API_VERSION,
        kind: SPO_KIND,
        metadata: SpoMetadata {
            name: k8s_name(name)?,
        },
        spec: SpoSpec {
            default_action: profile.default_action(),
            architectures,
            syscalls,
            flags,
            listener_path,
            listener_metadata: profile.listener_metadata().as_deref(),
        },
    };
    Ok((doc, notes))
}

/// What rendering `profile` as `format` changes in what it says (the warnings
/// [`render`] logs). Errors (values the format cannot hold) are not included.
pub fn render_notes(profile: &LinuxSeccomp, format: Format) -> Vec<String> {
    match format {
        Format::Oci => Vec::new(),
        Format::Docker => docker(profile).1,
        Format::Spo => spo(profile, "x").map(|(_, n)| n).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
