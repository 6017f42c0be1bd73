//! Argument-aware rules (pure): which syscalls get their deciding argument recorded,
//! and how recorded values become `SCMP_CMP_EQ` / `SCMP_CMP_MASKED_EQ` conditions.
//!
//! A name list stops being tight at `socket`, `clone` and friends: the same `socket`
//! opens an IPv4 socket or a netlink/packet socket, the same `clone` makes a thread or
//! a new user namespace. For a fixed set of such syscalls the kernel side records the
//! distinct values of the argument that decides (bounded; see docs/design.md):
//!
//! | syscall | recorded | rule |
//! |---|---|---|
//! | `socket` | domain (arg 0), type & SOCK_TYPE_MASK (arg 1) | arg0 EQ domain, arg1 MASKED_EQ 0xf type |
//! | `socketpair` | domain (arg 0) | arg0 EQ |
//! | `clone` | flags & CLONE_NEW* (arg 0) | arg0 MASKED_EQ CLONE_NEW* |
//! | `unshare` | flags (arg 0) | arg0 EQ |
//! | `setns` | nstype (arg 1) | arg1 EQ |
//! | `personality` | persona (arg 0) | arg0 EQ |
//! | `prctl` | option (arg 0) | arg0 EQ |
//! | `ioctl` | request (arg 1) | arg1 EQ |
//! | `socketcall` (i386) | call (arg 0) | arg0 EQ: its real arguments are in memory |
//!
//! Values are the raw 64-bit register contents seccomp compares, masked as above.
//! `clone3` takes its flags from memory, which seccomp cannot read: a profile with a
//! `clone` argument rule never allows `clone3`, which then fails with ENOSYS (an
//! explicit rule) and glibc falls back to `clone`, whose flags the rule checks.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{
    LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompOperator, LinuxSyscall,
};
use serde::{Deserialize, Serialize};

use crate::syscalls::Arch;

/// Every CLONE_NEW* flag (and CLONE_NEWTIME): what decides whether a clone makes
/// namespaces.
pub const CLONE_NEW_MASK: u64 = 0x0000_0080 // CLONE_NEWTIME
    | 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// `SOCK_TYPE_MASK`: the socket type without SOCK_NONBLOCK / SOCK_CLOEXEC.
pub const SOCK_TYPE_MASK: u64 = 0xf;

/// Distinct values per syscall beyond which the syscall is allowed without an
/// argument rule (a rule per value would make a long, slow filter).
pub const MAX_VALUES_PER_SYSCALL: usize = 16;

/// How one argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `SCMP_CMP_EQ` on the whole value.
    Eq,
    /// `SCMP_CMP_MASKED_EQ` with this mask.
    Masked(u64),
}

/// One tracked syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// The syscall name.
    pub name: &'static str,
    /// First argument index and comparison.
    pub a: (u32, Compare),
    /// Second argument, if any.
    pub b: Option<(u32, Compare)>,
    /// The first argument points to the value (read from user memory).
    pub deref: bool,
    /// The syscall whose rule the values become (clone3's flags → clone's rule).
    pub rule_for: &'static str,
}

const fn eq(index: u32) -> (u32, Compare) {
    (index, Compare::Eq)
}

/// The tracked syscalls, in spec order (the kernel side takes at most its
/// `MAX_ARG_SPECS` per ABI).
pub const TRACKED: &[Tracked] = &[
    Tracked {
        name: "socket",
        a: eq(0),
        b: Some((1, Compare::Masked(SOCK_TYPE_MASK))),
        deref: false,
        rule_for: "socket",
    },
    Tracked {
        name: "clone",
        a: (0, Compare::Masked(CLONE_NEW_MASK)),
        b: None,
        deref: false,
        rule_for: "clone",
    },
    Tracked {
        name: "unshare",
        a: eq(0),
        b: None,
        deref: false,
        rule_for: "unshare",
    },
    Tracked {
        name: "setns",
        a: eq(1),
        b: None,
        deref: false,
        rule_for: "setns",
    },
    Tracked {
        name: "personality",
        a: eq(0),
        b: None,
        deref: false,
        rule_for: "personality",
    },
    Tracked {
        name: "prctl",
        a: eq(0),
        b: None,
        deref: false,
        rule_for: "prctl",
    },
    Tracked {
        name: "ioctl",
        a: eq(1),
        b: None,
        deref: false,
        rule_for: "ioctl",
    },
    Tracked {
        name: "socketpair",
        a: eq(0),
        b: None,
        deref: false,
        rule_for: "socketpair",
    },
    Tracked {
        name: "clone3",
        a: (0, Compare::Masked(CLONE_NEW_MASK)),
        b: None,
        deref: true,
        rule_for: "clone",
    },
    Tracked {
        name: "socketcall",
        a: eq(0),
        b: None,
        deref: false,
        rule_for: "socketcall",
    },
];

/// The tracked entry of `name`.
pub fn tracked(name: &str) -> Option<&'static Tracked> {
    TRACKED.iter().find(|t| t.name == name)
}

impl Compare {
    /// The mask applied to the argument (`u64::MAX` for a whole-value compare).
    pub const fn mask(self) -> u64 {
        match self {
            Compare::Eq => u64::MAX,
            Compare::Masked(m) => m,
        }
    }
}

/// One recorded value of a tracked syscall.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArgValue {
    /// `SCMP_ARCH_*` name of the ABI.
    pub arch: String,
    /// Syscall name.
    pub name: String,
    /// The argument values: `[{index, value}]`, masked as the rule compares them.
    pub args: Vec<ArgAt>,
    /// Calls with these values.
    pub count: u64,
}

/// One argument of an [`ArgValue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArgAt {
    /// Argument index.
    pub index: u32,
    /// Value (after the mask of the rule).
    pub value: u64,
}

/// Builds an [`ArgValue`] from what the kernel side stored (pure).
pub fn value_of(arch: Arch, name: &str, a: u64, b: u64, count: u64) -> Option<ArgValue> {
    let t = tracked(name)?;
    let mut args = vec![ArgAt {
        index: t.a.0,
        value: a,
    }];
    if let Some((i, _)) = t.b {
        args.push(ArgAt { index: i, value: b });
    }
    Some(ArgValue {
        arch: arch.scmp_name().to_owned(),
        name: name.to_owned(),
        args,
        count,
    })
}

/// The argument values of several recordings as one list (the input of a merged
/// profile's rules): equal values (arch, call, arguments) once, their counts summed;
/// sorted.
pub fn merge_values<'a>(lists: impl IntoIterator<Item = &'a [ArgValue]>) -> Vec<ArgValue> {
    let mut all: std::collections::BTreeMap<(String, String, Vec<ArgAt>), u64> =
        std::collections::BTreeMap::new();
    for v in lists.into_iter().flatten() {
        *all.entry((v.arch.clone(), v.name.clone(), v.args.clone()))
            .or_default() += v.count;
    }
    all.into_iter()
        .map(|((arch, name, args), count)| ArgValue {
            arch,
            name,
            args,
            count,
        })
        .collect()
}

/// The argument rules for a recording, and what they replace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArgRules {
    /// One allow rule per distinct value, sorted.
    pub rules: Vec<LinuxSyscall>,
    /// Names that are allowed by these rules instead of unconditionally.
    pub conditioned: BTreeSet<String>,
    /// Why some tracked syscall stays unconditional.
    pub warnings: Vec<String>,
}

fn condition(index: u32, c: Compare, value: u64) -> Option<LinuxSeccompArg> {
    let b = LinuxSeccompArgBuilder::default().index(index as usize);
    let b = match c {
        Compare::Eq => b.value(value).op(LinuxSeccompOperator::ScmpCmpEq),
        Compare::Masked(mask) => b
            .value(mask)
            .value_two(value)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq),
    };
    b.build().ok()
}

/// Turns recorded values into allow rules (pure). `called` are the tracked names the
/// recording counted; a name counted without any value (values lost) or with more
/// than [`MAX_VALUES_PER_SYSCALL`] values stays unconditional, with a warning: never
/// a profile that denies what was seen.
pub fn rules(values: &[ArgValue], called: &BTreeSet<String>, lost: bool) -> ArgRules {
    let mut out = ArgRules::default();
    if lost {
        out.warnings.push(
            "some argument values could not be stored (the kernel map was full): every tracked syscall is allowed without argument rules".to_owned(),
        );
        return out;
    }
    // Values over all ABIs: a rule applies to every architecture of the profile.
    let mut per_name: BTreeMap<&str, BTreeSet<Vec<ArgAt>>> = BTreeMap::new();
    for v in values {
        let rule_for = tracked(&v.name).map_or(v.name.as_str(), |t| t.rule_for);
        per_name.entry(rule_for).or_default().insert(v.args.clone());
    }
    // A clone3 call is a clone as far as the rule goes: its flags become clone's.
    let called: BTreeSet<String> = called
        .iter()
        .map(|n| tracked(n).map_or(n.as_str(), |t| t.rule_for).to_owned())
        .collect();
    for name in &called {
        let Some(t) = tracked(name) else { continue };
        let Some(set) = per_name.get(name.as_str()) else {
            out.warnings.push(format!(
                "{name} was called but none of its argument values was recorded: allowed without an argument rule"
            ));
            continue;
        };
        if set.len() > MAX_VALUES_PER_SYSCALL {
            out.warnings.push(format!(
                "{name} was called with more than {MAX_VALUES_PER_SYSCALL} distinct argument values: allowed without an argument rule"
            ));
            continue;
        }
        for args in set {
            let mut conds = Vec::new();
            for at in args {
                let c = if at.index == t.a.0 {
                    t.a.1
                } else {
                    t.b.map(|b| b.1).unwrap_or(Compare::Eq)
                };
                conds.extend(condition(at.index, c, at.value));
            }
            let mut rule = LinuxSyscall::default();
            rule.set_names(vec![name.clone()]);
            rule.set_action(LinuxSeccompAction::ScmpActAllow);
            rule.set_args(Some(conds));
            out.rules.push(rule);
        }
        out.conditioned.insert(name.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_values_are_distinct_with_their_counts_summed() {
        let v = |name: &str, value: u64, count: u64| ArgValue {
            arch: "SCMP_ARCH_X86_64".into(),
            name: name.into(),
            args: vec![ArgAt { index: 0, value }],
            count,
        };
        let a = [v("socket", 1, 3), v("socket", 2, 1)];
        let b = [v("socket", 1, 4), v("personality", 0, 1)];
        let merged = merge_values([&a[..], &b[..], &[][..]]);
        assert_eq!(
            merged,
            vec![v("personality", 0, 1), v("socket", 1, 7), v("socket", 2, 1)]
        );
        assert!(merge_values([&[][..]]).is_empty());
    }

    fn v(name: &str, a: u64, b: u64) -> ArgValue {
        value_of(Arch::X86_64, name, a, b, 1).expect("tracked")
    }

    #[test]
    fn values_become_eq_and_masked_rules() {
        let called: BTreeSet<String> = ["socket", "clone"].iter().map(|s| s.to_string()).collect();
        let r = rules(
            &[v("socket", 1, 1), v("socket", 2, 2), v("clone", 0, 0)],
            &called,
            false,
        );
        assert_eq!(r.conditioned, called);
        assert!(r.warnings.is_empty());
        let json = serde_json::to_value(&r.rules).expect("json");
        // Sorted by name: clone, then socket's two values.
        assert_eq!(
            json[1],
            serde_json::json!({"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[
                {"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                {"index":1,"value":15,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]})
        );
        assert_eq!(
            json[0],
            serde_json::json!({"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[
                {"index":0,"value":CLONE_NEW_MASK,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]})
        );
    }

    #[test]
    fn clone3_flags_become_clone_rules() {
        let called: BTreeSet<String> = ["clone3"].iter().map(|s| s.to_string()).collect();
        let r = rules(&[v("clone3", 0, 0)], &called, false);
        assert_eq!(r.conditioned.iter().collect::<Vec<_>>(), ["clone"]);
        assert_eq!(r.rules.len(), 1);
        assert_eq!(r.rules[0].names(), &["clone".to_owned()]);
    }

    #[test]
    fn overflow_and_loss_fall_back_to_unconditional() {
        let called: BTreeSet<String> = ["ioctl", "prctl"].iter().map(|s| s.to_string()).collect();
        let many: Vec<ArgValue> = (0..=MAX_VALUES_PER_SYSCALL as u64)
            .map(|i| v("ioctl", 0x5400 + i, 0))
            .collect();
        let r = rules(&many, &called, false);
        assert!(r.conditioned.is_empty(), "{:?}", r.conditioned);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings); // ioctl: too many; prctl: none
        let r = rules(&[v("prctl", 38, 0)], &called, true);
        assert!(r.rules.is_empty() && r.conditioned.is_empty());
        assert_eq!(r.warnings.len(), 1);
    }
}
