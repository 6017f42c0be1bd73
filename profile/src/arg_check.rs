//! `check` with recorded argument values (pure): a value that no rule of the baseline
//! lets through is a new finding, even when the syscall's name is allowed for other
//! values.
//!
//! Only what seccomp would do is modelled: for a default-deny baseline, a recorded
//! value is let through by an unconditional allow rule of its syscall, or by an allow
//! rule whose every condition holds for it. A condition on an argument the recording
//! did not keep cannot be decided: the syscall stays in `conditional`. Baselines whose
//! default lets calls through are left to the name check.

use std::path::Path;

use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use crate::args::{tracked, ArgAt, ArgValue};
use crate::evidence::Variant;
use crate::profile::ENOSYS_FALLBACKS;
use crate::syscalls::Arch;

/// What the baseline does with one recorded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgVerdict {
    /// A rule lets it through.
    Allowed,
    /// No rule lets it through.
    Denied,
    /// A rule depends on an argument the recording did not keep.
    Unknown,
}

fn holds(cond: &LinuxSeccompArg, args: &[ArgAt]) -> Option<bool> {
    let v = args
        .iter()
        .find(|a| a.index as usize == cond.index())?
        .value;
    Some(condition_holds(cond, v))
}

/// Whether condition `cond` holds for value `v` of its argument, as the kernel
/// compares (64-bit, unsigned).
pub fn condition_holds(cond: &LinuxSeccompArg, v: u64) -> bool {
    let x = cond.value();
    match cond.op() {
        LinuxSeccompOperator::ScmpCmpEq => v == x,
        LinuxSeccompOperator::ScmpCmpNe => v != x,
        LinuxSeccompOperator::ScmpCmpLt => v < x,
        LinuxSeccompOperator::ScmpCmpLe => v <= x,
        LinuxSeccompOperator::ScmpCmpGt => v > x,
        LinuxSeccompOperator::ScmpCmpGe => v >= x,
        LinuxSeccompOperator::ScmpCmpMaskedEq => v & x == cond.value_two().unwrap_or(0),
    }
}

fn permits(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    )
}

/// The syscall whose rules decide a recorded value (clone3's flags: clone's rule,
/// since the profile makes glibc fall back to clone).
pub fn decided_by(value: &ArgValue) -> &str {
    tracked(&value.name).map_or(value.name.as_str(), |t| t.rule_for)
}

/// What `variants` (one baseline) do with `value` (pure). `None` when the baseline
/// does not cover the value's architecture or lets calls through by default.
pub fn verdict(variants: &[Variant], value: &ArgValue) -> Option<ArgVerdict> {
    let arch: Arch = value.arch.parse().ok()?;
    let name = decided_by(value);
    let oci = crate::arch::to_oci(arch);
    let mut covered = false;
    let mut unknown = false;
    for v in variants {
        if !v.arches().contains(&oci) {
            continue;
        }
        let seccomp = &v.loaded.seccomp;
        if permits(seccomp.default_action()) {
            return None;
        }
        covered = true;
        for rule in seccomp.syscalls().iter().flatten() {
            if !permits(rule.action()) || !rule.names().iter().any(|n| n == name) {
                continue;
            }
            let conds = rule.args().clone().unwrap_or_default();
            let mut all = Some(true);
            for c in &conds {
                match holds(c, &value.args) {
                    Some(true) => {}
                    Some(false) => {
                        all = Some(false);
                        break;
                    }
                    None => all = None,
                }
            }
            match all {
                Some(true) => return Some(ArgVerdict::Allowed),
                Some(false) => {}
                None => unknown = true,
            }
        }
    }
    if !covered {
        return None;
    }
    Some(if unknown {
        ArgVerdict::Unknown
    } else {
        ArgVerdict::Denied
    })
}

/// Whether the baseline denies `name` (one of [`ENOSYS_FALLBACKS`]) with ENOSYS on
/// purpose, so that callers fall back to a syscall it does allow: clone3 → clone.
pub fn is_intended_fallback(variants: &[Variant], name: &str) -> bool {
    if !ENOSYS_FALLBACKS.contains(&name) {
        return false;
    }
    variants.iter().any(|v| {
        let rules = v.loaded.seccomp.syscalls().clone().unwrap_or_default();
        let has_rule = rules
            .iter()
            .any(|r| crate::profile::is_fallback_rule(r) && r.names().iter().any(|n| n == name));
        let clone_allowed = rules
            .iter()
            .any(|r| permits(r.action()) && r.names().iter().any(|n| n == "clone"));
        has_rule && clone_allowed
    })
}

/// The argument values a report carries (`"args"`), if any.
pub fn values_in(path: &Path) -> Vec<ArgValue> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("args").cloned())
        .and_then(|a| serde_json::from_value::<Vec<ArgValue>>(a).ok())
        .unwrap_or_default()
}

/// `arg0=0x10, arg1=0x3`.
pub fn describe_args(args: &[ArgAt]) -> String {
    args.iter()
        .map(|a| format!("arg{}={:#x}", a.index, a.value))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence;
    use crate::profile_file::HostFacts;

    fn baseline(text: &str) -> Vec<Variant> {
        let input = evidence::parse(
            text,
            Path::new("base.json"),
            &HostFacts::test_x86_64(u64::MAX >> 23),
        )
        .expect("profile");
        input.variants().expect("a profile").to_vec()
    }

    fn socket(domain: u64, ty: u64) -> ArgValue {
        crate::args::value_of(Arch::X86_64, "socket", domain, ty, 1).expect("tracked")
    }

    const BASE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
          {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
          {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060416,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
          {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;

    #[test]
    fn values_are_judged_by_the_rules() {
        let b = baseline(BASE);
        assert_eq!(verdict(&b, &socket(1, 1)), Some(ArgVerdict::Allowed));
        assert_eq!(verdict(&b, &socket(16, 3)), Some(ArgVerdict::Denied));
        let thread = crate::args::value_of(Arch::X86_64, "clone3", 0, 0, 1).expect("tracked");
        assert_eq!(verdict(&b, &thread), Some(ArgVerdict::Allowed));
        let userns =
            crate::args::value_of(Arch::X86_64, "clone", 0x1000_0000, 0, 1).expect("tracked");
        assert_eq!(verdict(&b, &userns), Some(ArgVerdict::Denied));
        assert!(is_intended_fallback(&b, "clone3"));
        assert!(!is_intended_fallback(&b, "socket"));
    }

    #[test]
    fn unrecorded_arguments_and_permissive_defaults_are_not_decided() {
        let b = baseline(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert_eq!(verdict(&b, &socket(1, 1)), Some(ArgVerdict::Unknown));
        let allow = baseline(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        assert_eq!(verdict(&allow, &socket(16, 3)), None);
        assert_eq!(describe_args(&socket(16, 3).args), "arg0=0x10, arg1=0x3");
    }
}
