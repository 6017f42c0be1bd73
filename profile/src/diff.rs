//! What changes from profile A to profile B (`seccomp-recorder diff A B`).
//!
//! The comparison is of what the profiles do, as resolved on this host (see
//! [`crate::evidence`]): per covered architecture, the names an unconditional rule
//! lets through (names that are no syscall there are left out, as runtimes skip them);
//! the default action and errno; the covered architectures; the flags and listener;
//! every other rule (with argument conditions or another action) as a whole; and the
//! allowed names that are a syscall on none of the covered architectures (typos, or
//! syscalls newer than our tables), which would otherwise be invisible.
//!
//! The binary exits 0 when [`ProfileDiff::identical`], 1 otherwise, 2 on any error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};
use serde::Serialize;

use crate::evidence::{self, EvidenceError, InputKind, Variant};
use crate::exit::{Categorized, Category};
use crate::profile_file::HostFacts;
use crate::rule::canonical_rule;

/// Why two profiles could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// An input could not be read or understood.
    #[error(transparent)]
    Input(#[from] EvidenceError),
    /// An input is a recording, not a profile.
    #[error("{}: is a {kind}, not a seccomp profile (diff compares profiles)", path.display())]
    NotAProfile {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: InputKind,
    },
}

impl Categorized for DiffError {
    fn category(&self) -> Category {
        match self {
            DiffError::Input(e) => e.category(),
            DiffError::NotAProfile { .. } => Category::BadInput,
        }
    }
}

/// A value that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// In A.
    pub from: T,
    /// In B.
    pub to: T,
}

/// What B adds to and removes from a set of A.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// In B, not in A (sorted).
    pub added: Vec<String>,
    /// In A, not in B (sorted).
    pub removed: Vec<String>,
}

impl Delta {
    fn between<'a>(
        a: impl IntoIterator<Item = &'a String>,
        b: impl IntoIterator<Item = &'a String>,
    ) -> Self {
        let a: BTreeSet<&String> = a.into_iter().collect();
        let b: BTreeSet<&String> = b.into_iter().collect();
        Delta {
            added: b.difference(&a).map(|s| (*s).clone()).collect(),
            removed: a.difference(&b).map(|s| (*s).clone()).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The allowed names that change on one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchDelta {
    /// `SCMP_ARCH_*` name.
    pub arch: String,
    /// Names allowed in B only / in A only.
    #[serde(flatten)]
    pub names: Delta,
}

/// What changes from A to B. Unchanged values are `null`; field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDiff {
    /// Nothing changes.
    pub identical: bool,
    /// `defaultAction`, when it changes.
    pub default_action: Option<Change<String>>,
    /// `defaultErrnoRet`, when it changes (`null` inside: not set).
    pub default_errno_ret: Option<Change<Option<u32>>>,
    /// Covered architectures, in `SCMP_ARCH_*` names.
    pub architectures: Delta,
    /// `SECCOMP_FILTER_FLAG_*` flags.
    pub flags: Delta,
    /// `listenerPath`, when it changes.
    pub listener_path: Option<Change<Option<String>>>,
    /// `listenerMetadata`, when it changes.
    pub listener_metadata: Option<Change<Option<String>>>,
    /// Per covered architecture with changes, the unconditionally allowed names.
    pub syscalls: Vec<ArchDelta>,
    /// Rules with argument conditions or an action other than SCMP_ACT_ALLOW, as
    /// compact JSON with sorted names.
    pub rules: Delta,
    /// Allowed names that are a syscall on none of the covered architectures.
    pub unresolved: Delta,
    /// Names B adds on an architecture that are siblings of names A allows there
    /// ([`crate::portable`]): another libc's variants, not new behaviour.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<AddedVariant>,
    /// B checked against a never-allow policy (`diff --policy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::PolicyReport>,
}

/// A name B adds that is a variant of names A allows on the same architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedVariant {
    /// `SCMP_ARCH_*` name.
    pub arch: String,
    /// The added name.
    pub name: String,
    /// The names A allows that it is a sibling of.
    pub variant_of: Vec<String>,
}

fn is_plain_allow(rule: &LinuxSyscall) -> bool {
    rule.action() == oci_spec::runtime::LinuxSeccompAction::ScmpActAllow
        && rule.args().as_ref().is_none_or(|a| a.is_empty())
}

fn first(variants: &[Variant]) -> Option<&LinuxSeccomp> {
    variants.first().map(|v| &v.loaded.seccomp)
}

fn other_rules(variants: &[Variant]) -> BTreeSet<String> {
    variants
        .iter()
        .flat_map(|v| v.loaded.seccomp.syscalls().iter().flatten())
        .filter(|r| !is_plain_allow(r))
        .map(canonical_rule)
        .collect()
}

fn flags(variants: &[Variant]) -> BTreeSet<String> {
    variants
        .iter()
        .flat_map(|v| v.loaded.seccomp.flags().iter().flatten())
        .map(ToString::to_string)
        .collect()
}

fn unresolved(variants: &[Variant]) -> BTreeSet<String> {
    let covered: Vec<_> = variants.iter().flat_map(Variant::arches).collect();
    evidence::permitted_names(variants)
        .into_iter()
        .filter(|n| !covered.iter().any(|a| evidence::knows(*a, n)))
        .collect()
}

fn change<T: PartialEq>(from: T, to: T) -> Option<Change<T>> {
    (from != to).then_some(Change { from, to })
}

/// Compares two profiles' resolutions (pure).
pub fn diff(a: &[Variant], b: &[Variant]) -> ProfileDiff {
    let (pa, pb) = (evidence::policies(a), evidence::policies(b));
    let action = |v: &[Variant]| first(v).map(|s| s.default_action().to_string());
    let errno = |v: &[Variant]| first(v).and_then(LinuxSeccomp::default_errno_ret);
    let listener = |v: &[Variant]| {
        first(v).and_then(|s| s.listener_path().as_ref().map(|p| p.display().to_string()))
    };
    let metadata = |v: &[Variant]| first(v).and_then(|s| s.listener_metadata().clone());
    let arch_names = |p: &std::collections::BTreeMap<evidence::ArchKey, _>| -> Vec<String> {
        p.keys().map(ToString::to_string).collect()
    };
    let mut arches: Vec<evidence::ArchKey> = pa.keys().chain(pb.keys()).copied().collect();
    arches.sort();
    arches.dedup();
    let empty = BTreeSet::new();
    let syscalls: Vec<ArchDelta> = arches
        .into_iter()
        .filter_map(|k| {
            let names = Delta::between(
                pa.get(&k).map_or(&empty, |p| &p.allowed),
                pb.get(&k).map_or(&empty, |p| &p.allowed),
            );
            (!names.is_empty()).then(|| ArchDelta {
                arch: k.to_string(),
                names,
            })
        })
        .collect();
    let mut d = ProfileDiff {
        identical: false,
        default_action: action(a).zip(action(b)).and_then(|(x, y)| change(x, y)),
        default_errno_ret: change(errno(a), errno(b)),
        architectures: {
            // Keep the architectures' own order rather than the names' order.
            let (na, nb) = (arch_names(&pa), arch_names(&pb));
            Delta {
                added: nb.iter().filter(|x| !na.contains(x)).cloned().collect(),
                removed: na.iter().filter(|x| !nb.contains(x)).cloned().collect(),
            }
        },
        flags: Delta::between(&flags(a), &flags(b)),
        listener_path: change(listener(a), listener(b)),
        listener_metadata: change(metadata(a), metadata(b)),
        syscalls,
        rules: Delta::between(&other_rules(a), &other_rules(b)),
        unresolved: Delta::between(&unresolved(a), &unresolved(b)),
        variants: Vec::new(),
        policy: None,
    };
    for delta in &d.syscalls {
        let Some(key) = pa.keys().find(|k| k.to_string() == delta.arch) else {
            continue;
        };
        let allowed: BTreeSet<String> = pa
            .get(key)
            .map(|p| p.allowed.union(&p.conditionally_allowed).cloned().collect())
            .unwrap_or_default();
        for name in &delta.names.added {
            let of = crate::portable::variant_of(key.0, name, &allowed);
            if !of.is_empty() {
                d.variants.push(AddedVariant {
                    arch: delta.arch.clone(),
                    name: name.clone(),
                    variant_of: of,
                });
            }
        }
    }
    d.identical = d.default_action.is_none()
        && d.default_errno_ret.is_none()
        && d.architectures.is_empty()
        && d.flags.is_empty()
        && d.listener_path.is_none()
        && d.listener_metadata.is_none()
        && d.syscalls.is_empty()
        && d.rules.is_empty()
        && d.unresolved.is_empty();
    d
}

fn or_unset<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "(not set)".to_owned(), ToString::to_string)
}

/// The text output (pure): a header, then one `+`/`-` line per change.
pub fn render_text(d: &ProfileDiff, a: &str, b: &str) -> String {
    if d.identical {
        let mut out = format!("no differences between {a} and {b}\n");
        if let Some(p) = &d.policy {
            out.push_str(&crate::policy::render_text(p, b));
        }
        return out;
    }
    let mut lines = vec![format!("--- {a}"), format!("+++ {b}")];
    if let Some(c) = &d.default_action {
        lines.push(format!("defaultAction: {} -> {}", c.from, c.to));
    }
    if let Some(c) = &d.default_errno_ret {
        lines.push(format!(
            "defaultErrnoRet: {} -> {}",
            or_unset(&c.from),
            or_unset(&c.to)
        ));
    }
    if let Some(c) = &d.listener_path {
        lines.push(format!(
            "listenerPath: {} -> {}",
            or_unset(&c.from),
            or_unset(&c.to)
        ));
    }
    if let Some(c) = &d.listener_metadata {
        lines.push(format!(
            "listenerMetadata: {} -> {}",
            or_unset(&c.from),
            or_unset(&c.to)
        ));
    }
    let mut delta = |label: &str, delta: &Delta| {
        lines.extend(delta.added.iter().map(|x| format!("+ {label}{x}")));
        lines.extend(delta.removed.iter().map(|x| format!("- {label}{x}")));
    };
    delta("architecture ", &d.architectures);
    delta("flag ", &d.flags);
    for arch in &d.syscalls {
        delta(&format!("{} ", arch.arch), &arch.names);
    }
    delta("rule ", &d.rules);
    delta("on no covered architecture: ", &d.unresolved);
    for v in &d.variants {
        lines.push(format!(
            "  ({} {} is a variant of {})",
            v.arch,
            v.name,
            v.variant_of.join(", ")
        ));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    if let Some(p) = &d.policy {
        out.push_str(&crate::policy::render_text(p, b));
    }
    out
}

fn load_profile(path: &Path, host: &HostFacts) -> Result<Vec<Variant>, DiffError> {
    let input = evidence::load(path, host)?;
    match input.variants() {
        Some(v) => Ok(v.to_vec()),
        None => Err(DiffError::NotAProfile {
            path: input.path,
            kind: input.kind,
        }),
    }
}

/// Compares the profile files `a` and `b` as resolved on `host`, and checks `b`
/// against `policy` when one is given.
pub fn diff_files(
    a: &Path,
    b: &Path,
    policy: Option<&crate::policy::Policy>,
    host: &HostFacts,
) -> Result<ProfileDiff, DiffError> {
    let vb = load_profile(b, host)?;
    let mut d = diff(&load_profile(a, host)?, &vb);
    if let Some(policy) = policy {
        d.policy = Some(crate::policy::PolicyReport {
            policy: policy.source.clone(),
            violations: crate::policy::evaluate(policy, &vb),
        });
    }
    Ok(d)
}

/// The exit code of a diff: 0 identical, 1 different, 3 (over both) when B violates
/// the policy.
pub fn exit_code(d: &ProfileDiff) -> u8 {
    if d.policy.as_ref().is_some_and(|p| !p.violations.is_empty()) {
        crate::exit::POLICY_VIOLATION
    } else if d.identical {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::Arch;
    use std::path::Path;

    fn profile(text: &str) -> Vec<Variant> {
        let host = HostFacts {
            native_arch: Some(Arch::X86_64),
            go_arch: "amd64",
            bounding_caps: Some(u64::MAX >> 23),
            kernel: Some((6, 1)),
        };
        evidence::parse(text, Path::new("p.json"), &host)
            .expect("valid")
            .variants()
            .expect("profile")
            .to_vec()
    }

    const A: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#;

    #[test]
    fn identical_profiles_in_another_order_have_no_differences() {
        let b = r#"{"architectures":["SCMP_ARCH_X86_64"],"defaultErrnoRet":38,
            "syscalls":[{"names":["exit_group"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["write","read"],"action":"SCMP_ACT_ALLOW"}],
            "defaultAction":"SCMP_ACT_ERRNO"}"#;
        let d = diff(&profile(A), &profile(b));
        assert!(d.identical, "{d:?}");
        assert_eq!(
            render_text(&d, "a", "b"),
            "no differences between a and b\n"
        );
    }

    #[test]
    fn added_and_removed_names_per_architecture() {
        let b = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
            "syscalls":[{"names":["read","exit_group","sync","socketcall"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let d = diff(&profile(A), &profile(b));
        assert!(!d.identical);
        assert_eq!(d.default_action, None);
        assert_eq!(
            d.default_errno_ret,
            Some(Change {
                from: Some(38),
                to: Some(1)
            })
        );
        assert_eq!(d.architectures.added, ["SCMP_ARCH_X86"]);
        assert_eq!(d.syscalls[0].arch, "SCMP_ARCH_X86_64");
        // socketcall is no x86_64 syscall.
        assert_eq!(d.syscalls[0].names.added, ["sync"]);
        assert_eq!(d.syscalls[0].names.removed, ["write"]);
        assert_eq!(d.syscalls[1].arch, "SCMP_ARCH_X86");
        assert_eq!(
            d.syscalls[1].names.added,
            ["exit_group", "read", "socketcall", "sync"]
        );
        let text = render_text(&d, "a.json", "b.json");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            &lines[..6],
            [
                "--- a.json",
                "+++ b.json",
                "defaultErrnoRet: 38 -> 1",
                "+ architecture SCMP_ARCH_X86",
                "+ SCMP_ARCH_X86_64 sync",
                "- SCMP_ARCH_X86_64 write"
            ]
        );
        let json = serde_json::to_value(&d).expect("json");
        assert_eq!(
            json["defaultErrnoRet"],
            serde_json::json!({"from": 38, "to": 1})
        );
        assert_eq!(json["defaultAction"], serde_json::Value::Null);
        assert_eq!(
            json["syscalls"][0],
            serde_json::json!({"arch":"SCMP_ARCH_X86_64","added":["sync"],"removed":["write"]})
        );
    }

    #[test]
    fn actions_rules_flags_and_typos_are_differences() {
        let b = r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86_64"],
            "flags":["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls":[{"names":["read","write","exit_group","raed"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                         "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#;
        let d = diff(&profile(A), &profile(b));
        assert_eq!(
            d.default_action,
            Some(Change {
                from: "SCMP_ACT_ERRNO".into(),
                to: "SCMP_ACT_KILL_PROCESS".into()
            })
        );
        assert_eq!(
            d.default_errno_ret,
            Some(Change {
                from: Some(38),
                to: None
            })
        );
        assert_eq!(d.flags.added, ["SECCOMP_FILTER_FLAG_LOG"]);
        assert!(d.syscalls.is_empty());
        assert_eq!(d.rules.added.len(), 1);
        assert!(d.rules.added[0].contains("personality"));
        assert_eq!(d.unresolved.added, ["raed"]);
        let text = render_text(&d, "a", "b");
        assert!(
            text.contains("\n+ on no covered architecture: raed\n"),
            "{text}"
        );
        assert!(
            text.contains("\ndefaultErrnoRet: 38 -> (not set)\n"),
            "{text}"
        );
    }
}
