//! Pure profile building: recorded syscall counts in, OCI seccomp profile out.
//!
//! Output is deterministic: the same recorded set gives byte-identical JSON.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};
use serde::Serialize;

use crate::syscalls::Arch;

/// `EPERM` on Linux: the number a profile means, whatever the host's libc says.
pub const EPERM: u32 = 1;

/// `ENOSYS` on Linux (38): profiles are Linux profiles, so this is not `libc::ENOSYS`,
/// which is 78 on macOS.
pub const ENOSYS: u32 = 38;

/// The errno a denied syscall returns. Serialized as `"EPERM"` / `"ENOSYS"` (the
/// recording state keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum DefaultErrno {
    /// EPERM (1): "operation not permitted"; what most profiles use. Programs that
    /// probe for a newer syscall (glibc's clone3) do not fall back on EPERM.
    #[cfg_attr(feature = "clap", value(name = "EPERM", alias = "eperm"))]
    #[serde(rename = "EPERM")]
    Eperm,
    /// ENOSYS (38): "function not implemented"; programs fall back to older
    /// syscalls, as under podman's own default profile. The default.
    #[default]
    #[cfg_attr(feature = "clap", value(name = "ENOSYS", alias = "enosys"))]
    #[serde(rename = "ENOSYS")]
    Enosys,
}

impl DefaultErrno {
    /// The errno number.
    pub const fn number(self) -> u32 {
        match self {
            DefaultErrno::Eperm => EPERM,
            DefaultErrno::Enosys => ENOSYS,
        }
    }
}

/// One syscall of a recording, with how often it was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordedSyscall {
    /// ABI of the call.
    pub arch: Arch,
    /// Number within the ABI (x32 numbers carry the x32 bit).
    pub nr: u64,
    /// Calls counted.
    pub count: u64,
}

/// How to build a profile.
#[derive(Debug, Clone, Copy)]
pub struct ProfileOptions {
    /// Errno for everything not allowed.
    pub errno: DefaultErrno,
    /// The native architecture; always listed.
    pub native: Arch,
}

/// A built profile and what could not go into it.
#[derive(Debug, Clone)]
pub struct Built {
    /// The profile.
    pub profile: LinuxSeccomp,
    /// Numbers no table names: they cannot be allowed by name.
    pub unnamed: Vec<(Arch, u64)>,
}

/// Numbers listed in an [`unnamed_warnings`] line before "and N more".
const UNNAMED_LISTED: usize = 8;

/// The warnings for numbers no table names: one line per architecture (a program
/// calling thousands of invalid numbers gets one line, not thousands), listing the
/// first few. `unnamed` need not be sorted.
pub fn unnamed_warnings(unnamed: impl IntoIterator<Item = (Arch, u64)>) -> Vec<String> {
    let mut per_arch: BTreeMap<Arch, BTreeSet<u64>> = BTreeMap::new();
    for (arch, nr) in unnamed {
        per_arch.entry(arch).or_default().insert(nr);
    }
    per_arch
        .into_iter()
        .map(|(arch, nrs)| {
            if nrs.len() == 1 {
                let nr = nrs.first().copied().unwrap_or_default();
                return format!(
                    "syscall number {nr} on {arch} has no name in our tables; it cannot be allowed by name"
                );
            }
            let mut list: Vec<String> = nrs.iter().take(UNNAMED_LISTED).map(u64::to_string).collect();
            if nrs.len() > UNNAMED_LISTED {
                list.push(format!("and {} more", nrs.len() - UNNAMED_LISTED));
            }
            format!(
                "{} syscall numbers on {arch} have no name in our tables ({}); they cannot be allowed by name",
                nrs.len(),
                list.join(", ")
            )
        })
        .collect()
}

/// Builds the default-deny profile that allows exactly the recorded syscall names.
pub fn build(recorded: &[RecordedSyscall], opts: &ProfileOptions) -> Built {
    let mut arches: BTreeSet<Arch> = BTreeSet::new();
    arches.insert(opts.native);
    let mut names: BTreeSet<&'static str> = BTreeSet::new();
    let mut unnamed = Vec::new();
    for r in recorded.iter().filter(|r| r.count > 0) {
        arches.insert(r.arch);
        match r.arch.name_of(r.nr) {
            Some(name) => {
                names.insert(name);
            }
            None => unnamed.push((r.arch, r.nr)),
        }
    }
    unnamed.sort_unstable();
    unnamed.dedup();
    let syscalls: Vec<LinuxSyscall> = if names.is_empty() {
        Vec::new()
    } else {
        vec![allow_rule(names.into_iter().map(str::to_owned).collect())]
    };
    Built {
        profile: assemble(
            opts.errno.number(),
            arches.into_iter().map(crate::arch::to_oci).collect(),
            syscalls,
        ),
        unnamed,
    }
}

fn allow_rule(names: Vec<String>) -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(names);
    rule.set_action(LinuxSeccompAction::ScmpActAllow);
    rule
}

fn assemble(errno: u32, arches: Vec<OciArch>, syscalls: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut p = LinuxSeccomp::default();
    p.set_default_action(LinuxSeccompAction::ScmpActErrno);
    p.set_default_errno_ret(Some(errno));
    p.set_architectures(Some(arches));
    p.set_syscalls(if syscalls.is_empty() {
        None
    } else {
        Some(syscalls)
    });
    p
}

/// Serializes a profile as pretty JSON with a trailing newline.
pub fn to_json(profile: &LinuxSeccomp) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(profile)?;
    s.push('\n');
    Ok(s)
}

fn allow_names(profile: &LinuxSeccomp) -> BTreeSet<String> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
        .flat_map(|r| r.names().iter().cloned())
        .collect()
}

/// Adds `names` to the unconditional allow rule of `profile` (pure; output stays sorted).
pub fn add_allowed<'a>(
    profile: &LinuxSeccomp,
    names: impl IntoIterator<Item = &'a str>,
) -> LinuxSeccomp {
    let mut all = allow_names(profile);
    all.extend(names.into_iter().map(str::to_owned));
    with_unconditional(profile, all, Vec::new())
}

/// `profile` with its unconditional allow rule replaced by one allowing `names`, then
/// `inserted`, then its other rules as they were (pure).
fn with_unconditional(
    profile: &LinuxSeccomp,
    names: BTreeSet<String>,
    inserted: Vec<LinuxSyscall>,
) -> LinuxSeccomp {
    let mut rules: Vec<LinuxSyscall> = Vec::new();
    if !names.is_empty() {
        rules.push(allow_rule(names.into_iter().collect()));
    }
    rules.extend(inserted);
    for r in profile.syscalls().iter().flatten() {
        if r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none() {
            continue;
        }
        rules.push(r.clone());
    }
    with_rules(profile, rules)
}

/// `profile` with `rules` (none: no `syscalls` at all) (pure).
fn with_rules(profile: &LinuxSeccomp, rules: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut out = profile.clone();
    out.set_syscalls(if rules.is_empty() { None } else { Some(rules) });
    out
}

/// Replaces the unconditional allow of the tracked syscalls with one allow rule per
/// recorded argument value (pure; see [`crate::args`]). `values` and `lost` come from
/// a recording made with arguments. With an argument rule on `clone`, `clone3` is not
/// allowed (its flags are in memory, out of seccomp's sight): it gets ENOSYS from
/// [`add_fallback_rules`] and glibc falls back to `clone`. Returns the warnings.
pub fn apply_arg_rules(
    profile: &LinuxSeccomp,
    values: &[crate::args::ArgValue],
    lost: bool,
) -> (LinuxSeccomp, Vec<String>) {
    let unconditional = allow_names(profile);
    let called: BTreeSet<String> = unconditional
        .iter()
        .filter(|n| crate::args::tracked(n).is_some())
        .cloned()
        .collect();
    let arg_rules = crate::args::rules(values, &called, lost);
    let mut warnings = arg_rules.warnings;
    let mut keep: BTreeSet<String> = unconditional
        .difference(&arg_rules.conditioned)
        .cloned()
        .collect();
    if arg_rules.conditioned.contains("clone") && keep.remove("clone3") {
        warnings.push(
            "clone3 was called but is not allowed: seccomp cannot see its flags, so it gets ENOSYS and glibc falls back to clone, which the argument rule checks".to_owned(),
        );
    }
    (with_unconditional(profile, keep, arg_rules.rules), warnings)
}

/// `r` without the names in `drop`; `None` when no name is left.
fn without_names(r: &LinuxSyscall, drop: &BTreeSet<String>) -> Option<LinuxSyscall> {
    let names: Vec<String> = r
        .names()
        .iter()
        .filter(|n| !drop.contains(*n))
        .cloned()
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut kept = r.clone();
    kept.set_names(names);
    Some(kept)
}

/// Drops conditional allow rules (and names in them) that an unconditional allow
/// rule makes moot (pure).
fn drop_moot_conditions(profile: &LinuxSeccomp) -> LinuxSeccomp {
    let unconditional = allow_names(profile);
    let mut rules = Vec::new();
    for r in profile.syscalls().iter().flatten() {
        let conditional_allow = r.action() == LinuxSeccompAction::ScmpActAllow
            && r.args().as_ref().is_some_and(|a| !a.is_empty());
        if !conditional_allow {
            rules.push(r.clone());
            continue;
        }
        rules.extend(without_names(r, &unconditional));
    }
    with_rules(profile, rules)
}

/// Syscalls whose callers take their fallback only on ENOSYS: glibc 2.34+ creates
/// threads and processes with clone3 and retries with clone only when clone3 fails
/// with ENOSYS. A default-deny profile that does not allow clone3 denies it with
/// ENOSYS by an explicit rule, because a consumer may ignore `defaultErrnoRet`
/// (Docker 20.10 does: its denials are EPERM, and glibc then gives up) and because a
/// profile with `--default-errno EPERM` would break the same way.
pub const ENOSYS_FALLBACKS: &[&str] = &["clone3"];

/// Whether `rule` is one of the explicit ENOSYS rules of [`add_fallback_rules`].
pub fn is_fallback_rule(rule: &LinuxSyscall) -> bool {
    rule.action() == LinuxSeccompAction::ScmpActErrno
        && rule.errno_ret() == Some(ENOSYS)
        && rule.args().as_ref().is_none_or(|a| a.is_empty())
        && !rule.names().is_empty()
        && rule
            .names()
            .iter()
            .all(|n| ENOSYS_FALLBACKS.contains(&n.as_str()))
}

/// Adds an explicit ENOSYS rule for the [`ENOSYS_FALLBACKS`] a default-deny profile
/// does not allow (pure; nothing for a default that lets calls through, nothing for a
/// name some rule already covers).
pub fn add_fallback_rules(profile: &LinuxSeccomp) -> LinuxSeccomp {
    if profile.default_action() == LinuxSeccompAction::ScmpActAllow {
        return profile.clone();
    }
    let mentioned: BTreeSet<&str> = profile
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().iter().map(String::as_str))
        .collect();
    let missing: Vec<String> = ENOSYS_FALLBACKS
        .iter()
        .filter(|n| !mentioned.contains(*n))
        .map(|n| (*n).to_owned())
        .collect();
    if missing.is_empty() {
        return profile.clone();
    }
    let mut rule = LinuxSyscall::default();
    rule.set_names(missing);
    rule.set_action(LinuxSeccompAction::ScmpActErrno);
    rule.set_errno_ret(Some(ENOSYS));
    let mut rules = profile.syscalls().clone().unwrap_or_default();
    rules.push(rule);
    let mut out = profile.clone();
    out.set_syscalls(Some(rules));
    out
}

/// Makes a recorded profile start and keep running wherever it is enforced (pure): adds
/// what `runtime` calls through the container's filter before the workload's execve,
/// the calls the kernel makes for the program ([`crate::kernel_calls`], whatever the
/// runtime, `none` included), and the explicit ENOSYS rules of
/// [`add_fallback_rules`]. The one finishing step of `record`, the hook's poststop and
/// `merge`. A profile whose default action lets calls through needs none of it (and
/// runtimes skip allow rules that repeat the default), so it is left alone.
pub fn add_runtime_tail(profile: &LinuxSeccomp, runtime: crate::runtime::Runtime) -> LinuxSeccomp {
    if profile.default_action() == LinuxSeccompAction::ScmpActAllow {
        return profile.clone();
    }
    let with_tail = add_allowed(profile, runtime.tail());
    // A tail name with argument rules (prctl: the runtimes call it with several
    // options) ends up allowed outright.
    add_fallback_rules(&drop_moot_conditions(&crate::kernel_calls::add(&with_tail)))
}

/// Merges a base profile into a recorded one (pure): unconditional allow rules add
/// their names, conditional allow rules are kept (minus names already allowed),
/// architectures are united. Rules with other actions cannot be merged into a
/// default-deny allow-list and are reported back, not copied.
pub fn merge_base(recorded: &LinuxSeccomp, base: &LinuxSeccomp) -> (LinuxSeccomp, Vec<String>) {
    let mut skipped = Vec::new();
    let base_allowed = allow_names(base);
    let mut out = add_allowed(recorded, base_allowed.iter().map(String::as_str));
    let allowed = allow_names(&out);
    let mut rules = out.syscalls().clone().unwrap_or_default();
    for r in base.syscalls().iter().flatten() {
        if r.action() != LinuxSeccompAction::ScmpActAllow {
            skipped.push(format!(
                "base rule for {} with action {:?} is not merged (only allow rules are)",
                r.names().join(", "),
                r.action()
            ));
            continue;
        }
        if r.args().is_none() {
            continue;
        }
        rules.extend(without_names(r, &allowed));
    }
    out.set_syscalls(if rules.is_empty() { None } else { Some(rules) });
    let mut arches: Vec<OciArch> = out.architectures().clone().unwrap_or_default();
    for a in base.architectures().iter().flatten() {
        if !arches.contains(a) {
            arches.push(*a);
        }
    }
    out.set_architectures(Some(arches));
    (out, skipped)
}

/// One line of `--stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatLine {
    /// `SCMP_ARCH_*` name.
    pub arch: String,
    /// Syscall number.
    pub nr: u64,
    /// Name, `null` when no table knows the number.
    pub name: Option<String>,
    /// Exact count.
    pub count: u64,
}

/// The `--stats` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Stats {
    /// Where the kernel side saw the calls (`fentry` on the syscall dispatchers, or the
    /// `tracepoint` sys_enter), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub attach: Option<String>,
    /// Every counted syscall, sorted by architecture then number.
    pub syscalls: Vec<StatLine>,
}

/// Builds the stats document (pure).
pub fn stats(recorded: &[RecordedSyscall]) -> Stats {
    let mut merged: BTreeMap<(Arch, u64), u64> = BTreeMap::new();
    for r in recorded.iter().filter(|r| r.count > 0) {
        *merged.entry((r.arch, r.nr)).or_default() += r.count;
    }
    Stats {
        attach: None,
        syscalls: merged
            .into_iter()
            .map(|((arch, nr), count)| StatLine {
                arch: arch.scmp_name().to_owned(),
                nr,
                name: arch.name_of(nr).map(str::to_owned),
                count,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(arch: Arch, nr: u64, count: u64) -> RecordedSyscall {
        RecordedSyscall { arch, nr, count }
    }

    fn opts() -> ProfileOptions {
        ProfileOptions {
            errno: DefaultErrno::Enosys,
            native: Arch::X86_64,
        }
    }

    #[test]
    fn allows_exactly_the_recorded_names_sorted() {
        let built = build(
            &[
                rec(Arch::X86_64, 162, 1),
                rec(Arch::X86_64, 0, 5),
                rec(Arch::X86_64, 110, 0),
            ],
            &opts(),
        );
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&built.profile).expect("json")).expect("json");
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 38);
        assert_eq!(
            json["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64"])
        );
        assert_eq!(
            json["syscalls"][0]["names"],
            serde_json::json!(["read", "sync"])
        );
        assert_eq!(json["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
        assert!(built.unnamed.is_empty());
    }

    #[test]
    fn lists_every_observed_abi_and_uses_its_names() {
        // i386 20 is getpid; x86_64 20 is writev.
        let built = build(&[rec(Arch::X86, 20, 1), rec(Arch::X86_64, 39, 1)], &opts());
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&built.profile).expect("json")).expect("json");
        assert_eq!(
            json["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert_eq!(json["syscalls"][0]["names"], serde_json::json!(["getpid"]));
    }

    #[test]
    fn byte_identical_for_the_same_set_in_any_order() {
        let a = [
            rec(Arch::X86_64, 1, 3),
            rec(Arch::X86_64, 60, 1),
            rec(Arch::X86, 1, 1),
        ];
        let mut b = a;
        b.reverse();
        assert_eq!(
            to_json(&build(&a, &opts()).profile).expect("a"),
            to_json(&build(&b, &opts()).profile).expect("b")
        );
    }

    #[test]
    fn unnamed_numbers_are_reported_not_allowed() {
        let built = build(
            &[rec(Arch::X86_64, 999, 2), rec(Arch::X86_64, 1, 1)],
            &opts(),
        );
        assert_eq!(built.unnamed, vec![(Arch::X86_64, 999)]);
        let s = stats(&[rec(Arch::X86_64, 999, 2)]);
        assert_eq!(s.syscalls[0].name, None);
    }

    #[test]
    fn eperm_and_empty() {
        let o = ProfileOptions {
            errno: DefaultErrno::Eperm,
            native: Arch::X86_64,
        };
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&build(&[], &o).profile).expect("json")).expect("json");
        assert_eq!(json["defaultErrnoRet"], 1);
        assert!(json.get("syscalls").is_none());
    }

    #[test]
    fn base_profiles_merge_allow_rules_and_arches() {
        let recorded = build(&[rec(Arch::X86_64, 0, 1), rec(Arch::X86_64, 1, 1)], &opts()).profile;
        let base: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_AARCH64"],
                "syscalls":[{"names":["write","sync"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                            {"names":["ptrace"],"action":"SCMP_ACT_KILL"}]}"#,
        )
        .expect("base");
        let (merged, skipped) = merge_base(&recorded, &base);
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&merged).expect("json")).expect("json");
        assert_eq!(
            json["syscalls"][0]["names"],
            serde_json::json!(["read", "sync", "write"])
        );
        assert_eq!(
            json["syscalls"][1]["names"],
            serde_json::json!(["personality"])
        );
        assert_eq!(
            json["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("ptrace"));
    }

    #[test]
    fn clone3_gets_an_explicit_enosys_rule_unless_allowed() {
        let recorded = build(&[rec(Arch::X86_64, 56, 1)], &opts()).profile; // clone
        let p = add_runtime_tail(&recorded, crate::runtime::Runtime::None);
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&p).expect("json")).expect("json");
        assert_eq!(json["syscalls"][1]["names"], serde_json::json!(["clone3"]));
        assert_eq!(json["syscalls"][1]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(json["syscalls"][1]["errnoRet"], 38);
        assert!(is_fallback_rule(&p.syscalls().as_ref().expect("rules")[1]));
        // Idempotent, and nothing when clone3 is allowed.
        assert_eq!(add_fallback_rules(&p), p);
        let with3 = build(&[rec(Arch::X86_64, 435, 1)], &opts()).profile;
        assert_eq!(add_fallback_rules(&with3), with3);
        let mut allow_all = p.clone();
        allow_all.set_default_action(LinuxSeccompAction::ScmpActAllow);
        allow_all.set_syscalls(None);
        assert_eq!(add_fallback_rules(&allow_all), allow_all);
    }

    #[test]
    fn runtime_tail_is_added_sorted_and_once() {
        let recorded = build(&[rec(Arch::X86_64, 3, 1)], &opts()).profile; // close
        let p = add_allowed(&recorded, crate::runtime::Runtime::Any.tail());
        let names = p.syscalls().as_ref().expect("rules")[0].names().clone();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(names.contains(&"capset".to_owned()));
    }

    #[test]
    fn stats_sorted_by_arch_then_nr_with_exact_counts() {
        let s = stats(&[
            rec(Arch::X86, 20, 1),
            rec(Arch::X86_64, 110, 1_000_000),
            rec(Arch::X86_64, 0, 4),
        ]);
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(
            text,
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":4},{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":1000000},{"arch":"SCMP_ARCH_X86","nr":20,"name":"getpid","count":1}]}"#
        );
    }

    #[test]
    fn unnamed_numbers_are_one_line_per_architecture() {
        assert!(unnamed_warnings([]).is_empty());
        assert_eq!(
            unnamed_warnings([(Arch::X86_64, 983_045), (Arch::X86_64, 983_045)]),
            ["syscall number 983045 on SCMP_ARCH_X86_64 has no name in our tables; it cannot be allowed by name"]
        );
        let flood = (0..5000u64).rev().map(|i| (Arch::X86_64, 8192 + i));
        let lines = unnamed_warnings(flood.chain([(Arch::X86, 999), (Arch::X86, 998)]));
        assert_eq!(
            lines,
            [
                "5000 syscall numbers on SCMP_ARCH_X86_64 have no name in our tables (8192, 8193, 8194, \
                 8195, 8196, 8197, 8198, 8199, and 4992 more); they cannot be allowed by name",
                "2 syscall numbers on SCMP_ARCH_X86 have no name in our tables (998, 999); they cannot be \
                 allowed by name",
            ]
        );
    }
}
