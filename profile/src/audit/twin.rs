//! The "LOG twin" of a profile (pure): the same profile whose denials are
//! `SCMP_ACT_LOG`, so that a workload runs as if unconfined by it while the kernel
//! logs every call the profile would have denied.
//!
//! - `defaultAction` `SCMP_ACT_ERRNO`, `SCMP_ACT_KILL`, `SCMP_ACT_KILL_PROCESS`,
//!   `SCMP_ACT_KILL_THREAD` or `SCMP_ACT_TRAP` becomes `SCMP_ACT_LOG`, without
//!   `defaultErrnoRet` (and podman's `defaultErrno`);
//! - every rule with one of those actions becomes `SCMP_ACT_LOG` too, without
//!   `errnoRet` / `errno`, arguments kept: also explicit ERRNO rules such as the
//!   `clone3` ENOSYS rule, so under the twin `clone3` succeeds (and is logged) where
//!   the profile makes glibc fall back to `clone`; fine for an audit run;
//! - everything else is unchanged: allow and log rules, `SCMP_ACT_TRACE` and
//!   `SCMP_ACT_NOTIFY` (they hand the decision to a tracer or a supervisor, which
//!   the twin cannot stand in for), architectures, `archMap`, flags, `includes` /
//!   `excludes`, comments.
//!
//! A LOG rule under a LOG default changes nothing; runtimes skip such rules, as
//! libseccomp refuses them (so does `enforce`).

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use serde_json::Value;

use crate::vocabulary::parse_action;

/// Whether the twin turns `action` into `SCMP_ACT_LOG`.
pub fn is_denial(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActErrno
            | LinuxSeccompAction::ScmpActKill
            | LinuxSeccompAction::ScmpActKillProcess
            | LinuxSeccompAction::ScmpActKillThread
            | LinuxSeccompAction::ScmpActTrap
    )
}

/// Whether the twin keeps `action`, which does not simply allow, as it is.
fn is_kept_decision(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActTrace | LinuxSeccompAction::ScmpActNotify
    )
}

/// What building the twin changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The default action that became `SCMP_ACT_LOG`, if it was a denial.
    pub default_action: Option<LinuxSeccompAction>,
    /// How many rules became `SCMP_ACT_LOG`.
    pub rules: usize,
    /// Where a `SCMP_ACT_TRACE`/`SCMP_ACT_NOTIFY` decision was kept (`defaultAction`
    /// or `syscalls[i]`).
    pub kept: Vec<String>,
}

impl Changes {
    /// Whether the twin differs from the profile.
    pub fn any(&self) -> bool {
        self.default_action.is_some() || self.rules > 0
    }
}

const LOG: &str = "SCMP_ACT_LOG";

/// The twin of a profile document, in its own format (pure): `doc` is the profile
/// object itself (OCI or podman/Docker), or a `SeccompProfile` resource when
/// `resource` is set (its `spec` is changed, the rest is kept). Only actions and
/// errno fields change; every other field stays as it is.
pub fn twin_document(doc: &Value, resource: bool) -> (Value, Changes) {
    let mut out = doc.clone();
    let mut changes = Changes::default();
    let profile = if resource {
        out.get_mut("spec")
    } else {
        Some(&mut out)
    };
    let Some(Value::Object(profile)) = profile else {
        return (out, changes);
    };
    let action_of = |v: Option<&Value>| v.and_then(Value::as_str).and_then(parse_action);
    match action_of(profile.get("defaultAction")) {
        Some(a) if is_denial(a) => {
            profile.insert("defaultAction".into(), Value::from(LOG));
            profile.remove("defaultErrnoRet");
            profile.remove("defaultErrno");
            changes.default_action = Some(a);
        }
        Some(a) if is_kept_decision(a) => changes.kept.push("defaultAction".into()),
        _ => {}
    }
    if let Some(Value::Array(rules)) = profile.get_mut("syscalls") {
        for (i, rule) in rules.iter_mut().enumerate() {
            let Value::Object(rule) = rule else { continue };
            match action_of(rule.get("action")) {
                Some(a) if is_denial(a) => {
                    rule.insert("action".into(), Value::from(LOG));
                    rule.remove("errnoRet");
                    rule.remove("errno");
                    changes.rules += 1;
                }
                Some(a) if is_kept_decision(a) => changes.kept.push(format!("syscalls[{i}]")),
                _ => {}
            }
        }
    }
    (out, changes)
}

/// The twin of a parsed profile (pure), for writing it in another format.
pub fn twin_seccomp(profile: &LinuxSeccomp) -> (LinuxSeccomp, Changes) {
    let mut out = profile.clone();
    let mut changes = Changes::default();
    let default = profile.default_action();
    if is_denial(default) {
        out.set_default_action(LinuxSeccompAction::ScmpActLog);
        out.set_default_errno_ret(None);
        changes.default_action = Some(default);
    } else if is_kept_decision(default) {
        changes.kept.push("defaultAction".into());
    }
    if let Some(rules) = profile.syscalls() {
        let mut twins = rules.clone();
        for (i, rule) in twins.iter_mut().enumerate() {
            if is_denial(rule.action()) {
                rule.set_action(LinuxSeccompAction::ScmpActLog);
                rule.set_errno_ret(None);
                changes.rules += 1;
            } else if is_kept_decision(rule.action()) {
                changes.kept.push(format!("syscalls[{i}]"));
            }
        }
        out.set_syscalls(Some(twins));
    }
    (out, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::profile_file::{parse_profile, HostFacts};

    const RECORDED: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                    {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                     "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#;

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("json")
    }

    #[test]
    fn denials_become_log_and_lose_their_errno() {
        let (twin, changes) = twin_document(&json(RECORDED), false);
        assert_eq!(
            twin,
            json(
                r#"{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["clone3"],"action":"SCMP_ACT_LOG"},
                            {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#
            )
        );
        assert_eq!(
            changes,
            Changes {
                default_action: Some(LinuxSeccompAction::ScmpActErrno),
                rules: 1,
                kept: vec![]
            }
        );
    }

    #[test]
    fn podman_files_keep_arch_map_conditions_and_comments() {
        let doc = json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":"ENOSYS",
                "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
                "syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_KILL_PROCESS","comment":"never",
                             "excludes":{"caps":["CAP_SYS_PTRACE"]}},
                            {"names":["reboot"],"action":"SCMP_ACT_ERRNO","errno":"EPERM","errnoRet":1},
                            {"names":["acct"],"action":"SCMP_ACT_TRAP"},
                            {"names":["bpf"],"action":"SCMP_ACT_TRACE","errnoRet":1},
                            {"names":["getpid"],"action":"SCMP_ACT_LOG"}]}"#,
        );
        let (twin, changes) = twin_document(&doc, false);
        assert_eq!(twin["defaultAction"], "SCMP_ACT_LOG");
        assert!(twin.get("defaultErrno").is_none());
        assert_eq!(twin["archMap"], doc["archMap"]);
        let rules = twin["syscalls"].as_array().expect("rules");
        assert_eq!(rules[0]["action"], "SCMP_ACT_LOG");
        assert_eq!(rules[0]["comment"], "never");
        assert_eq!(rules[0]["excludes"], doc["syscalls"][0]["excludes"]);
        assert_eq!(
            rules[1],
            json(r#"{"names":["reboot"],"action":"SCMP_ACT_LOG"}"#)
        );
        assert_eq!(rules[2]["action"], "SCMP_ACT_LOG");
        assert_eq!(rules[3], doc["syscalls"][3]);
        assert_eq!(rules[4], doc["syscalls"][4]);
        assert_eq!(changes.rules, 3);
        assert_eq!(changes.kept, ["syscalls[3]"]);
    }

    #[test]
    fn resources_change_their_spec_only_and_allow_lists_stay() {
        let doc = json(
            r#"{"apiVersion":"security-profiles-operator.x-k8s.io/v1beta1","kind":"SeccompProfile",
                "metadata":{"name":"web"},
                "spec":{"defaultAction":"SCMP_ACT_KILL","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}}"#,
        );
        let (twin, changes) = twin_document(&doc, true);
        assert_eq!(twin["spec"]["defaultAction"], "SCMP_ACT_LOG");
        assert_eq!(twin["metadata"], doc["metadata"]);
        assert_eq!(twin["spec"]["syscalls"], doc["spec"]["syscalls"]);
        assert_eq!(
            changes.default_action,
            Some(LinuxSeccompAction::ScmpActKill)
        );
        // A deny list: the default allows, the denying rules log.
        let (twin, changes) = twin_document(
            &json(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}"#,
            ),
            false,
        );
        assert_eq!(twin["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(twin["syscalls"][0]["action"], "SCMP_ACT_LOG");
        assert!(changes.any());
        let (_, changes) = twin_document(&json(r#"{"defaultAction":"SCMP_ACT_LOG"}"#), false);
        assert!(!changes.any());
    }

    #[test]
    fn parsed_profiles_get_the_same_twin() {
        let host = HostFacts::test_x86_64(u64::MAX >> 23);
        let p = parse_profile(RECORDED, Path::new("p.json"), &host).expect("profile");
        let (twin, changes) = twin_seccomp(&p.seccomp);
        assert_eq!(twin.default_action(), LinuxSeccompAction::ScmpActLog);
        assert_eq!(twin.default_errno_ret(), None);
        let rules = twin.syscalls().as_ref().expect("rules");
        assert_eq!(rules[1].action(), LinuxSeccompAction::ScmpActLog);
        assert_eq!(rules[1].errno_ret(), None);
        assert_eq!(rules[2].action(), LinuxSeccompAction::ScmpActAllow);
        assert!(rules[2].args().is_some());
        assert_eq!(changes.rules, 1);
        for a in [
            LinuxSeccompAction::ScmpActAllow,
            LinuxSeccompAction::ScmpActLog,
            LinuxSeccompAction::ScmpActTrace,
            LinuxSeccompAction::ScmpActNotify,
        ] {
            assert!(!is_denial(a), "{a}");
        }
    }
}
