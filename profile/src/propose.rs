//! The heal step of an audit run (`audit-report --propose OUT`, pure): the baseline
//! merged with what the run under its LOG twin would have been denied, minus what a
//! never-allow policy forbids, which is reported instead of proposed.
//!
//! The proposal is `merge`'s union of the baseline and the denied calls (per
//! architecture, rules and defaults of the baseline kept), finished like every profile
//! we write (the calls the kernel makes, the ENOSYS rule for clone3) but without a
//! runtime tail the baseline did not have. Two kinds of denied calls are left out:
//!
//! - a name the policy lists (whatever its argument condition: an audit record does not
//!   carry the arguments, and the proposal would allow the name outright);
//! - `clone3` where the baseline denies it with ENOSYS on purpose while it allows
//!   `clone` ([`crate::arg_check::is_intended_fallback`]): under the twin that rule
//!   logs instead of failing, so glibc never fell back, but enforced it will.

use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;
use serde::Serialize;

use crate::evidence::{Content, Input, InputKind, NamedSyscall};
use crate::merge::{merge, DefaultChoice, MergeError};
use crate::policy::Policy;
use crate::runtime::Runtime;
use crate::syscalls::Arch;

/// A call the audit run would have been denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Its architecture, when the record's is one we have a table for.
    pub arch: Option<Arch>,
    /// Its name.
    pub name: String,
}

/// A denied call the proposal does not allow, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldBack {
    /// `SCMP_ARCH_*` name, when known.
    pub arch: Option<&'static str>,
    /// The syscall.
    pub name: String,
    /// Why it is not proposed.
    pub reason: String,
    /// The policy that forbids it; `None` for clone3 kept at ENOSYS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// A denied call the proposal allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposed {
    /// `SCMP_ARCH_*` name, when known.
    pub arch: Option<&'static str>,
    /// The syscall.
    pub name: String,
}

/// The proposed profile and what went into it.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The baseline with the proposed calls allowed.
    pub profile: LinuxSeccomp,
    /// What the proposal allows that the baseline did not, sorted.
    pub added: Vec<Proposed>,
    /// What the run would have been denied and stays denied, sorted.
    pub held_back: Vec<HeldBack>,
}

/// Proposes `baseline` (a profile input) merged with `denied`, minus the calls `policy`
/// never allows (pure). `native` is the host's architecture, listed when a denied call
/// has none (see [`crate::merge::merge`]).
pub fn propose(
    baseline: &Input,
    denied: &[Denied],
    policy: &Policy,
    native: Option<Arch>,
) -> Result<Proposal, MergeError> {
    let variants = baseline.variants().unwrap_or_default();
    let mut added = Vec::new();
    let mut held_back = Vec::new();
    let mut calls = Vec::new();
    for d in denied {
        let arch = d.arch.map(Arch::scmp_name);
        if let Some(entry) = policy.entry(&d.name) {
            held_back.push(HeldBack {
                arch,
                name: d.name.clone(),
                reason: entry.reason.clone(),
                policy: Some(policy.source.clone()),
            });
        } else if crate::arg_check::is_intended_fallback(variants, &d.name) {
            held_back.push(HeldBack {
                arch,
                name: d.name.clone(),
                reason: "the baseline answers it with ENOSYS on purpose so that glibc falls back to clone, which it allows (under the LOG twin the fallback never happened)".to_owned(),
                policy: None,
            });
        } else {
            added.push(Proposed {
                arch,
                name: d.name.clone(),
            });
            calls.push(NamedSyscall {
                arch: d.arch,
                name: d.name.clone(),
                nr: None,
                count: None,
                first: None,
                conditional: false,
            });
        }
    }
    let recording = Input {
        path: PathBuf::from("the audit records"),
        kind: InputKind::Stats,
        content: Content::Recording {
            calls,
            unnamed: Vec::new(),
        },
    };
    let merged = merge(
        &[baseline.clone(), recording],
        &DefaultChoice::default(),
        native,
    )?;
    let profile = crate::profile::add_runtime_tail(&merged.profile, Runtime::None);
    added.sort_by(|a, b| (a.arch, &a.name).cmp(&(b.arch, &b.name)));
    added.dedup();
    held_back.sort_by(|a, b| (a.arch, &a.name).cmp(&(b.arch, &b.name)));
    held_back.dedup();
    Ok(Proposal {
        profile,
        added,
        held_back,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::profile_file::HostFacts;

    fn baseline(text: &str) -> Input {
        crate::evidence::parse(
            text,
            Path::new("base.json"),
            &HostFacts::test_x86_64(u64::MAX >> 23),
        )
        .expect("baseline")
    }

    fn denied(names: &[&str]) -> Vec<Denied> {
        names
            .iter()
            .map(|n| Denied {
                arch: Some(Arch::X86_64),
                name: (*n).to_owned(),
            })
            .collect()
    }

    fn allowed(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls().as_ref().expect("rules")[0].names().clone()
    }

    const BASE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
        "architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["clone","read","restart_syscall","rt_sigreturn","write"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;

    #[test]
    fn denied_calls_are_added_and_never_allowed_ones_held_back() {
        let policy = Policy::default_policy().expect("policy");
        let p = propose(
            &baseline(BASE),
            &denied(&["mkdir", "ptrace", "mkdir", "clone3"]),
            &policy,
            Some(Arch::X86_64),
        )
        .expect("proposal");
        assert_eq!(
            allowed(&p.profile),
            [
                "clone",
                "futex",
                "mkdir",
                "read",
                "restart_syscall",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigsuspend",
                "write"
            ]
        );
        // The baseline's own settings and the clone3 rule stay.
        let json = serde_json::to_value(&p.profile).expect("json");
        assert_eq!(json["defaultErrnoRet"], 1);
        assert_eq!(
            json["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64"])
        );
        assert_eq!(json["syscalls"][1]["names"], serde_json::json!(["clone3"]));
        assert_eq!(json["syscalls"][1]["errnoRet"], 38);
        assert_eq!(
            p.added,
            [Proposed {
                arch: Some("SCMP_ARCH_X86_64"),
                name: "mkdir".into()
            }]
        );
        let held: Vec<(&str, Option<&str>)> = p
            .held_back
            .iter()
            .map(|h| (h.name.as_str(), h.policy.as_deref()))
            .collect();
        assert_eq!(held, [("clone3", None), ("ptrace", Some("default"))]);
        assert!(
            p.held_back[1].reason.contains("memory"),
            "{:?}",
            p.held_back
        );
        // The proposal itself passes the policy.
        let text = serde_json::to_string(&p.profile).expect("json");
        let input = crate::evidence::parse(
            &text,
            Path::new("p.json"),
            &HostFacts::test_x86_64(u64::MAX >> 23),
        )
        .expect("input");
        let v = crate::policy::evaluate(
            &Policy::parse(
                r#"{"neverAllow":[{"names":["ptrace","mkdirat"],"reason":"test"}]}"#,
                "t",
            )
            .expect("p"),
            input.variants().expect("profile"),
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn nothing_denied_proposes_the_baseline_finished() {
        let policy = Policy::default_policy().expect("policy");
        let p = propose(&baseline(BASE), &[], &policy, Some(Arch::X86_64)).expect("proposal");
        assert!(p.added.is_empty() && p.held_back.is_empty());
        assert_eq!(
            allowed(&p.profile),
            [
                "clone",
                "futex",
                "read",
                "restart_syscall",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigsuspend",
                "write"
            ]
        );
    }

    #[test]
    fn a_denial_rule_of_the_baseline_for_a_proposed_name_is_refused() {
        let base = baseline(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["mkdir"],"action":"SCMP_ACT_KILL"}]}"#,
        );
        let policy = Policy::default_policy().expect("policy");
        let e =
            propose(&base, &denied(&["mkdir"]), &policy, Some(Arch::X86_64)).expect_err("refused");
        assert!(e.to_string().contains("'mkdir'"), "{e}");
    }
}
