//! What a profile lets through of a policy's never-allow calls (pure).
//!
//! Per architecture the profile covers (each `archMap` resolution), for each listed
//! name that is a syscall there: an unconditional permitting rule (ALLOW, LOG) is a
//! violation; so is a default action that lets calls through, unless an
//! unconditional rule stops the name. A permitting rule with argument conditions is a
//! violation of an entry without `args`, and of an entry with `args` when some value
//! its conditions accept has a risky bit. That is decided exactly for `SCMP_CMP_EQ`
//! and `SCMP_CMP_MASKED_EQ` (what `record --args` and Docker write); range and `NE`
//! conditions are tried at the smallest and the largest risky values the masks allow.
//! Conditions on other arguments are assumed to hold.

use std::collections::BTreeSet;

use oci_spec::runtime::{LinuxSeccompArg, LinuxSeccompOperator};
use serde::Serialize;

use super::{Policy, RiskyBits};
use crate::evidence::{knows, permits, NamedSyscall, Variant};
use crate::report::FirstSeen;

/// How a profile lets a never-allow call through (weakest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allowance {
    /// An argument rule lets values with the entry's risky bits through.
    ForRiskyArguments,
    /// An argument rule lets it through for some values (the entry forbids all).
    ForSomeArguments,
    /// The default action lets it through.
    ByDefault,
    /// An unconditional rule allows it.
    Unconditionally,
}

impl Allowance {
    /// A phrase for the text output.
    pub fn phrase(self) -> &'static str {
        match self {
            Allowance::ForRiskyArguments => "allowed for risky argument values",
            Allowance::ForSomeArguments => "allowed for some argument values",
            Allowance::ByDefault => "allowed by the default action",
            Allowance::Unconditionally => "allowed unconditionally",
        }
    }
}

/// A never-allow call the profile lets through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The syscall.
    pub name: String,
    /// The `SCMP_ARCH_*` architectures it is let through on.
    pub arches: Vec<String>,
    /// How (the strongest over the architectures).
    pub allowed: Allowance,
    /// Indexes of the permitting rules in the file's `syscalls` array (none when the
    /// default action lets it through).
    pub rules: Vec<usize>,
    /// The policy's reason.
    pub reason: String,
    /// The process that made the call first, when a report says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<FirstSeen>,
    /// How to get a profile that passes, when recording can give one: the entry
    /// forbids only some argument values, and `record --args` writes a rule for the
    /// call that allows only the values the workload used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The hint for `name` allowed `allowed` against an entry with risky bits `args`.
fn hint_for(name: &str, allowed: Allowance, args: Option<RiskyBits>) -> Option<String> {
    let recorded = crate::args::TRACKED.iter().any(|t| t.rule_for == name);
    (args.is_some() && allowed == Allowance::Unconditionally && recorded).then(|| {
        format!(
            "record with --args (hook annotation seccomp-recorder.io/args=true): the profile then allows {name} only with the argument values the workload used"
        )
    })
}

/// Whether a rule with conditions `conds` (all must hold) lets through some value of
/// argument `r.index` with one of `r.any_bits` set.
pub(super) fn lets_risky_through(conds: &[LinuxSeccompArg], r: RiskyBits) -> bool {
    let on: Vec<&LinuxSeccompArg> = conds
        .iter()
        .filter(|c| c.index() == r.index as usize)
        .collect();
    if on.is_empty() {
        return true;
    }
    let mut forced1 = 0u64;
    let mut forced0 = 0u64;
    let mut equal = Vec::new();
    for c in &on {
        match c.op() {
            LinuxSeccompOperator::ScmpCmpMaskedEq => {
                let (mask, want) = (c.value(), c.value_two().unwrap_or(0));
                if want & !mask != 0 {
                    return false; // never holds
                }
                forced1 |= want;
                forced0 |= mask & !want;
            }
            LinuxSeccompOperator::ScmpCmpEq => equal.push(c.value()),
            _ => {}
        }
    }
    if forced1 & forced0 != 0 {
        return false;
    }
    let candidates: Vec<u64> = if equal.is_empty() {
        let mut c: Vec<u64> = (0..64)
            .map(|b| 1u64 << b)
            .filter(|b| r.any_bits & b & !forced0 != 0)
            .map(|b| forced1 | b)
            .collect();
        c.push(!forced0);
        c
    } else {
        equal
    };
    candidates
        .iter()
        .any(|v| v & r.any_bits != 0 && on.iter().all(|c| crate::arg_check::condition_holds(c, *v)))
}

/// How one resolved profile lets `name` through on `arch`, with the permitting rules.
fn allowance(v: &Variant, name: &str, risky: Option<RiskyBits>) -> Option<(Allowance, Vec<usize>)> {
    let seccomp = &v.loaded.seccomp;
    let mut best: Option<Allowance> = None;
    let mut rules = Vec::new();
    let mut stopped = false;
    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        if !rule.names().iter().any(|n| n == name) {
            continue;
        }
        let conds = rule.args().clone().unwrap_or_default();
        if !permits(rule.action()) {
            stopped |= conds.is_empty();
            continue;
        }
        let how = if conds.is_empty() {
            Allowance::Unconditionally
        } else {
            match risky {
                None => Allowance::ForSomeArguments,
                Some(r) if lets_risky_through(&conds, r) => Allowance::ForRiskyArguments,
                Some(_) => continue,
            }
        };
        best = best.max(Some(how));
        rules.push(v.loaded.rule_origins.get(i).copied().unwrap_or(i));
    }
    if best.is_none() && permits(seccomp.default_action()) && !stopped {
        best = Some(Allowance::ByDefault);
    }
    best.map(|b| (b, rules))
}

/// The never-allow calls of `policy` that the profile (`variants`: its resolutions)
/// lets through, in policy order (pure).
pub fn evaluate(policy: &Policy, variants: &[Variant]) -> Vec<Violation> {
    let mut out = Vec::new();
    for entry in &policy.entries {
        for name in &entry.names {
            let mut arches: Vec<String> = Vec::new();
            let mut rules: BTreeSet<usize> = BTreeSet::new();
            let mut strongest: Option<Allowance> = None;
            for v in variants {
                for arch in v.arches() {
                    if !knows(arch, name) {
                        continue;
                    }
                    let Some((how, r)) = allowance(v, name, entry.args) else {
                        continue;
                    };
                    let label = arch.to_string();
                    if !arches.contains(&label) {
                        arches.push(label);
                    }
                    rules.extend(r);
                    strongest = strongest.max(Some(how));
                }
            }
            if let Some(allowed) = strongest {
                out.push(Violation {
                    name: name.clone(),
                    arches,
                    allowed,
                    rules: rules.into_iter().collect(),
                    reason: entry.reason.clone(),
                    first: None,
                    hint: hint_for(name, allowed, entry.args),
                });
            }
        }
    }
    out
}

/// Names, in each violation, the process that made the call first according to
/// `calls` (what reports recorded; the earliest first use of the name) (pure).
pub fn attach_first_use(violations: &mut [Violation], calls: &[NamedSyscall]) {
    for v in violations {
        v.first = calls
            .iter()
            .filter(|c| c.name == v.name)
            .filter_map(|c| c.first.as_ref())
            .min_by(|a, b| a.after_ms.total_cmp(&b.after_ms))
            .cloned();
    }
}
