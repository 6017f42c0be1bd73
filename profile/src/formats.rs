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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
mod tests {
    use std::path::Path;

    use serde_json::{json, Value};

    use super::*;
    use crate::profile_file::{parse_profile, HostFacts};
    use crate::syscalls::Arch;

    fn profile(text: &str) -> LinuxSeccomp {
        serde_json::from_str(text).expect("test profile")
    }

    fn sample() -> LinuxSeccomp {
        profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [
                  {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
        )
    }

    fn json_of(text: &str) -> Value {
        assert!(text.ends_with("}\n"), "pretty JSON with a trailing newline");
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn oci_is_profile_to_json() {
        let p = sample();
        let text = render(&p, Format::Oci, "ignored").expect("oci");
        assert_eq!(text, profile::to_json(&p).expect("json"));
        let back: LinuxSeccomp = serde_json::from_str(&text).expect("parses back");
        assert_eq!(back, p);
    }

    fn x86_64_host() -> HostFacts {
        HostFacts {
            native_arch: Some(Arch::X86_64),
            go_arch: "amd64",
            bounding_caps: Some(0),
            kernel: Some((6, 1)),
        }
    }

    #[test]
    fn docker_has_archmap_with_only_the_profiles_arches() {
        let text = render(&sample(), Format::Docker, "ignored").expect("docker");
        let v = json_of(&text);
        assert_eq!(
            v,
            json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
                "syscalls": [
                  {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            })
        );
        // Read back the way podman does it (our parser follows containers/common):
        // the same profile on an x86_64 host.
        let loaded =
            parse_profile(&text, Path::new("d.json"), &x86_64_host()).expect("parses back");
        assert_eq!(loaded.seccomp, sample());
    }

    #[test]
    fn docker_keeps_flags_listener_and_empty_syscalls() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "listenerPath": "/run/agent.sock", "listenerMetadata": "m"}"#,
        );
        let v = json_of(&render(&p, Format::Docker, "x").expect("docker"));
        assert_eq!(
            v,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                   "listenerPath": "/run/agent.sock", "listenerMetadata": "m", "syscalls": []})
        );
    }

    #[test]
    fn arch_map_lists_exactly_the_profiles_arches() {
        use OciArch::*;
        let entry = |a, subs: &[OciArch]| ArchMapEntry {
            architecture: a,
            sub_architectures: subs.to_vec(),
        };
        // The native one only: no sub-architectures are added.
        let (m, notes) = arch_map(&[ScmpArchX86_64]);
        assert_eq!(m, [entry(ScmpArchX86_64, &[])]);
        assert!(notes.is_empty());
        let (m, _) = arch_map(&[ScmpArchX32, ScmpArchX86_64, ScmpArchX86, ScmpArchX86_64]);
        assert_eq!(m, [entry(ScmpArchX86_64, &[ScmpArchX32, ScmpArchX86])]);
        // Two families (a merged profile): one entry each.
        let (m, notes) = arch_map(&[ScmpArchX86_64, ScmpArchAarch64, ScmpArchArm]);
        assert_eq!(
            m,
            [
                entry(ScmpArchX86_64, &[]),
                entry(ScmpArchAarch64, &[ScmpArchArm])
            ]
        );
        assert!(notes.is_empty());
        // riscv64 is not selectable by podman; alone it is the host's native anyway.
        let (m, notes) = arch_map(&[ScmpArchRiscv64]);
        assert_eq!(m, [entry(ScmpArchRiscv64, &[])]);
        assert!(notes.is_empty());
        // A sub-architecture without its native one: listed, with a warning.
        let (m, notes) = arch_map(&[ScmpArchAarch64, ScmpArchX86]);
        assert_eq!(m, [entry(ScmpArchAarch64, &[]), entry(ScmpArchX86, &[])]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("on SCMP_ARCH_X86_64 hosts SCMP_ARCH_X86 would not be in the filter"),
            "{}",
            notes[0]
        );
        // mips64 and mips64n32 are each other's sub-architecture: both entries.
        let (m, _) = arch_map(&[ScmpArchMips64, ScmpArchMips64n32]);
        assert_eq!(
            m,
            [
                entry(ScmpArchMips64, &[ScmpArchMips64n32]),
                entry(ScmpArchMips64n32, &[ScmpArchMips64])
            ]
        );
        assert!(arch_map(&[]).0.is_empty());
    }

    #[test]
    fn arch_families_match_podmans_default_profile() {
        // Where podman is installed, its own archMap gives the families.
        let Ok(text) = std::fs::read_to_string("/usr/share/containers/seccomp.json") else {
            return;
        };
        let v: Value = serde_json::from_str(&text).expect("podman's profile is JSON");
        for entry in v["archMap"].as_array().expect("archMap") {
            let native = entry["architecture"].as_str().expect("architecture");
            let subs: Vec<&str> = entry["subArchitectures"]
                .as_array()
                .expect("subs")
                .iter()
                .map(|s| s.as_str().expect("sub"))
                .collect();
            let ours = ARCH_FAMILIES
                .iter()
                .find(|(n, _)| n.to_string() == native)
                .unwrap_or_else(|| panic!("{native} missing"));
            let our_subs: Vec<String> = ours.1.iter().map(|a| a.to_string()).collect();
            assert_eq!(our_subs, subs, "{native}");
        }
    }

    #[test]
    fn spo_resource() {
        let text = render(&sample(), Format::Spo, "My_App").expect("spo");
        let v = json_of(&text);
        assert_eq!(
            v,
            json!({
                "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
                "kind": "SeccompProfile",
                "metadata": {"name": "my-app"},
                "spec": {
                  "defaultAction": "SCMP_ACT_ERRNO",
                  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  "syscalls": [
                    {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
                }
            })
        );
        // Key order is fixed: apiVersion, kind, metadata, spec.
        let keys: Vec<usize> = ["\"apiVersion\"", "\"kind\"", "\"metadata\"", "\"spec\""]
            .iter()
            .map(|k| text.find(k).expect("key"))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(
            render(&sample(), Format::Spo, "My_App").expect("again"),
            text
        );
    }

    #[test]
    fn spo_warns_when_the_default_errno_is_lost() {
        let notes = render_notes(&sample(), Format::Spo);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("no defaultErrnoRet"), "{}", notes[0]);
        assert!(notes[0].contains("instead of ENOSYS"), "{}", notes[0]);
        let mut eperm = sample();
        eperm.set_default_errno_ret(Some(1));
        assert!(render_notes(&eperm, Format::Spo).is_empty());
        eperm.set_default_errno_ret(None);
        assert!(render_notes(&eperm, Format::Spo).is_empty());
        let zero = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}]}"#,
        );
        let notes = render_notes(&zero, Format::Spo);
        assert!(
            notes[0].contains("syscalls[0].errnoRet 0 is dropped"),
            "{notes:?}"
        );
    }

    #[test]
    fn spo_refuses_what_the_crd_cannot_hold() {
        let err = |text: &str| {
            render(&profile(text), Format::Spo, "p")
                .expect_err("refused")
                .to_string()
        };
        let msg = err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"]}"#,
        );
        assert!(
            msg.starts_with(
                "architectures[1]: SCMP_ARCH_LOONGARCH64 cannot be written in the spo format"
            ),
            "{msg}"
        );
        let msg = err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        assert!(
            msg.starts_with("syscalls[0].args[0].value: 18446744073709551615"),
            "{msg}"
        );
        let msg = err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(msg.contains("at least one name"), "{msg}");
        let msg = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}"#);
        assert!(msg.starts_with("listenerPath: /run/agent.sock"), "{msg}");
        render(
            &profile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/var/run/security-profiles-operator/a.sock"}"#),
            Format::Spo,
            "p",
        )
        .expect("allowed listener path");
        let e = render(&sample(), Format::Spo, "__").expect_err("no name");
        assert_eq!(e.category(), Category::Usage);
    }

    #[test]
    fn spo_dedups_set_lists() {
        let p = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [{"names": ["read", "read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let v = json_of(&render(&p, Format::Spo, "p").expect("spo"));
        assert_eq!(v["spec"]["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(v["spec"]["flags"], json!(["SECCOMP_FILTER_FLAG_LOG"]));
        assert_eq!(v["spec"]["syscalls"][0]["names"], json!(["read", "write"]));
    }

    #[test]
    fn names_become_dns_subdomains() {
        for (input, want) in [
            ("web", "web"),
            ("My_App", "my-app"),
            ("nginx.json", "nginx.json"),
            ("-a..b-", "a.b"),
            ("a b/c", "a-b-c"),
            ("café", "caf"),
            ("x.-y", "x.y"),
        ] {
            let got = k8s_name(input).expect(input);
            assert_eq!(got, want, "{input}");
            assert!(is_k8s_name(&got), "{got}");
        }
        let long = "a".repeat(300);
        assert_eq!(k8s_name(&long).expect("long").len(), 253);
        let cut = format!("{}.-b", "a".repeat(252));
        let got = k8s_name(&cut).expect("cut");
        assert!(is_k8s_name(&got), "{got}");
        for bad in ["", "___", "..", "-"] {
            assert!(
                matches!(k8s_name(bad), Err(FormatError::InvalidName(_))),
                "{bad}"
            );
        }
        assert!(!is_k8s_name("A"));
        assert!(!is_k8s_name("a..b"));
        assert!(!is_k8s_name("a-"));
    }

    // --- The SPO output against the published CRD schema (a copy in tests/fixtures).

    const CRD: &str = include_str!("../../tests/fixtures/spo-seccompprofile-crd.json");

    fn crd() -> Value {
        serde_json::from_str(CRD).expect("fixture is JSON")
    }

    /// A small structural-schema check (the OpenAPI v3 subset the CRD uses): types,
    /// no fields the schema lacks, enums, required, minimum, min/maxItems, int32/int64
    /// ranges, `x-kubernetes-list-type: set` uniqueness.
    fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
        let ty = schema["type"].as_str().unwrap_or("");
        match ty {
            "object" => {
                let Some(map) = v.as_object() else {
                    errors.push(format!("{path}: not an object"));
                    return;
                };
                let props = schema["properties"].as_object();
                if let Some(props) = props {
                    for (k, sub) in map {
                        match props.get(k) {
                            Some(s) => check(s, sub, &format!("{path}.{k}"), errors),
                            None => errors.push(format!("{path}.{k}: not in the schema")),
                        }
                    }
                }
                for r in schema["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().expect("required name");
                    if !map.contains_key(r) {
                        errors.push(format!("{path}.{r}: required"));
                    }
                }
            }
            "array" => {
                let Some(items) = v.as_array() else {
                    errors.push(format!("{path}: not an array"));
                    return;
                };
                if let Some(max) = schema["maxItems"].as_u64() {
                    if items.len() as u64 > max {
                        errors.push(format!("{path}: more than {max} items"));
                    }
                }
                if let Some(min) = schema["minItems"].as_u64() {
                    if (items.len() as u64) < min {
                        errors.push(format!("{path}: fewer than {min} items"));
                    }
                }
                if schema["x-kubernetes-list-type"] == "set" {
                    for (i, x) in items.iter().enumerate() {
                        if items[..i].contains(x) {
                            errors.push(format!("{path}[{i}]: duplicate in a set"));
                        }
                    }
                }
                for (i, x) in items.iter().enumerate() {
                    check(&schema["items"], x, &format!("{path}[{i}]"), errors);
                }
            }
            "string" => {
                if !v.is_string() {
                    errors.push(format!("{path}: not a string"));
                }
            }
            "integer" => {
                let Some(n) = v.as_i64() else {
                    errors.push(format!("{path}: not an integer in range"));
                    return;
                };
                if let Some(min) = schema["minimum"].as_i64() {
                    if n < min {
                        errors.push(format!("{path}: below {min}"));
                    }
                }
                if schema["format"] == "int32" && i32::try_from(n).is_err() {
                    errors.push(format!("{path}: not an int32"));
                }
            }
            "boolean" => {
                if !v.is_boolean() {
                    errors.push(format!("{path}: not a boolean"));
                }
            }
            other => errors.push(format!("{path}: schema type {other:?} not handled")),
        }
        if let Some(values) = schema["enum"].as_array() {
            if !values.contains(v) {
                errors.push(format!("{path}: {v} not in the enum"));
            }
        }
    }

    fn schema_errors(doc: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        check(&crd()["openAPIV3Schema"], doc, "", &mut errors);
        errors
    }

    #[test]
    fn spo_output_conforms_to_the_published_crd() {
        let crd = crd();
        let wide = profile(
            r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_NATIVE", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                   "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390X", "SCMP_ARCH_PPC64LE"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "listenerPath": "/var/run/security-profiles-operator/agent.sock", "listenerMetadata": "meta",
                "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["a"], "action": "SCMP_ACT_KILL"},
                  {"names": ["b"], "action": "SCMP_ACT_KILL_THREAD"},
                  {"names": ["c"], "action": "SCMP_ACT_TRAP"},
                  {"names": ["d"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                  {"names": ["e"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
                  {"names": ["f"], "action": "SCMP_ACT_LOG"},
                  {"names": ["g"], "action": "SCMP_ACT_NOTIFY"},
                  {"names": ["h"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_NE"},
                    {"index": 1, "value": 2, "op": "SCMP_CMP_LT"},
                    {"index": 2, "value": 3, "op": "SCMP_CMP_LE"},
                    {"index": 3, "value": 4, "op": "SCMP_CMP_EQ"},
                    {"index": 4, "value": 5, "op": "SCMP_CMP_GE"},
                    {"index": 5, "value": 6, "valueTwo": 0, "op": "SCMP_CMP_GT"}]},
                  {"names": ["i"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        for p in [sample(), wide] {
            let v: Value =
                serde_json::from_str(&render(&p, Format::Spo, "x").expect("spo")).expect("json");
            assert_eq!(
                v["apiVersion"],
                format!(
                    "{}/{}",
                    crd["group"].as_str().expect("group"),
                    crd["version"].as_str().expect("version")
                )
            );
            assert_eq!(v["kind"], crd["kind"]);
            assert_eq!(schema_errors(&v), Vec::<String>::new());
        }
        // The checker does catch what the CRD refuses.
        let bad = json!({"apiVersion": SPO_API_VERSION, "kind": SPO_KIND, "metadata": {"name": "x"},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                     "architectures": ["SCMP_ARCH_LOONGARCH64"],
                     "syscalls": [{"names": ["a", "a"], "action": "SCMP_ACT_ALOW"}]}});
        let errors = schema_errors(&bad);
        for want in [
            ".spec.defaultErrnoRet: not in the schema",
            ".spec.architectures[0]: \"SCMP_ARCH_LOONGARCH64\" not in the enum",
            ".spec.syscalls[0].names[1]: duplicate in a set",
            ".spec.syscalls[0].action: \"SCMP_ACT_ALOW\" not in the enum",
        ] {
            assert!(errors.iter().any(|e| e == want), "{want} not in {errors:?}");
        }
    }

    #[test]
    fn spo_constants_are_the_crds_enums() {
        let crd = crd();
        let spec = &crd["openAPIV3Schema"]["properties"]["spec"]["properties"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .expect("enum")
                .iter()
                .map(|s| s.as_str().expect("string").to_owned())
                .collect()
        };
        assert_eq!(
            strings(&spec["architectures"]["items"]["enum"]),
            SPO_ARCHITECTURES
        );
        // Every action, operator and flag oci-spec has is in the CRD's enums.
        let actions = strings(&spec["defaultAction"]["enum"]);
        for a in [
            LinuxSeccompAction::ScmpActKill,
            LinuxSeccompAction::ScmpActKillThread,
            LinuxSeccompAction::ScmpActKillProcess,
            LinuxSeccompAction::ScmpActTrap,
            LinuxSeccompAction::ScmpActErrno,
            LinuxSeccompAction::ScmpActNotify,
            LinuxSeccompAction::ScmpActTrace,
            LinuxSeccompAction::ScmpActLog,
            LinuxSeccompAction::ScmpActAllow,
        ] {
            assert!(actions.contains(&a.to_string()), "{a}");
        }
        assert_eq!(
            strings(&spec["syscalls"]["items"]["properties"]["action"]["enum"]),
            actions
        );
        let flags = strings(&spec["flags"]["items"]["enum"]);
        for f in [
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        ] {
            assert!(flags.contains(&f.to_string()), "{f}");
        }
        assert_eq!(flags.len(), 4);
        // No default errno in the CRD (so the warning above is needed).
        let keys: Vec<&String> = spec.as_object().expect("spec").keys().collect();
        assert!(
            !keys.iter().any(|k| k.to_lowercase().contains("errno")),
            "{keys:?}"
        );
        assert_eq!(
            spec["listenerPath"]["pattern"],
            r"^/var/run/security-profiles-operator/[a-zA-Z0-9_\-\.]+$"
        );
    }

    #[test]
    fn format_names() {
        assert_eq!(Format::default(), Format::Oci);
        assert_eq!(Format::Docker.to_string(), "docker");
        #[cfg(feature = "clap")]
        {
            use clap::ValueEnum;
            let names: Vec<String> = Format::value_variants()
                .iter()
                .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
                .collect();
            assert_eq!(names, ["oci", "docker", "spo"]);
        }
    }
}
