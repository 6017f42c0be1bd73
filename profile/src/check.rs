//! The CI gate behind `seccomp-recorder check --baseline COMMITTED RECORDED...`.
//!
//! Every syscall the recorded inputs (stats files, reports or profiles, see
//! [`crate::evidence`]) show was used must be allowed by the committed baseline profile
//! on its architecture: the baseline must list that architecture (`architectures`, or
//! the `archMap` entries and their `subArchitectures`), and allow the name there, where
//! a name that is no syscall on an architecture allows nothing on it (runtimes skip it).
//! An entry without architecture (a name from a recorded profile) is allowed when the
//! baseline allows it on any architecture it covers that has the name.
//!
//! What the baseline allows but no input used is printed too ("unused by these runs"),
//! as information: it never fails the check. The calls the kernel makes for a program
//! ([`crate::kernel_calls`]) are never listed there.
//!
//! With a never-allow policy (`--policy`, [`crate::policy`]) the baseline itself is
//! checked too, and the first process of each violation is taken from the recorded
//! reports.
//!
//! A recorded call the baseline denies, but whose sibling it allows (a variant of one
//! call, [`crate::portable`]: `stat` where the baseline has `newfstatat`), is listed
//! apart as a variant, not as new: the same program built against another libc, not
//! new behaviour. The baseline still denies it; `merge --portable` allows it.
//!
//! The binary exits 0 when [`CheckReport::ok`], 1 when something is new, 4
//! ([`crate::exit::VARIANTS_ONLY`]) when only variants are missing, 2 on any error,
//! and 3 (over 1 and 4) when the baseline violates the policy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::arch::to_oci;
use crate::evidence::{
    self, describe_first, ArchKey, ArchPolicy, EvidenceError, Input, InputKind, Variant, Verdict,
};
use crate::exit::{Categorized, Category};
use crate::profile_file::HostFacts;
use crate::report::FirstSeen;
use crate::runtime::Runtime;
use crate::syscalls::Arch;

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// An input could not be read or understood.
    #[error(transparent)]
    Input(#[from] EvidenceError),
    /// The baseline is a recording, not a profile.
    #[error("baseline {}: is a {kind}, not a seccomp profile", path.display())]
    NotAProfile {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: InputKind,
    },
}

impl Categorized for CheckError {
    fn category(&self) -> Category {
        match self {
            CheckError::Input(e) => e.category(),
            CheckError::NotAProfile { .. } => Category::BadInput,
        }
    }
}

/// A recorded syscall in the result. Field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `SCMP_ARCH_*` name; `null` for a name from a recorded profile (any architecture).
    pub arch: Option<&'static str>,
    /// The name; `null` for a number no table names.
    pub name: Option<String>,
    /// The number, when an input says.
    pub nr: Option<u64>,
    /// Calls counted over all inputs, when any input counted them.
    pub count: Option<u64>,
    /// The first call, from the first report (in argument order) that has it.
    pub first: Option<FirstSeen>,
    /// The runtime that needs it at start-up, when no recording used it itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed_by_runtime: Option<Runtime>,
    /// The argument values no rule of the baseline lets through (a recording made
    /// with `--args`), when the name itself is allowed for other values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<crate::args::ArgAt>>,
    /// For a variant: the names the baseline allows that it is a sibling of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<Vec<String>>,
}

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// Nothing new and no variant: the baseline allows every recorded call.
    pub ok: bool,
    /// Recorded syscalls the baseline does not allow, sorted by architecture and name.
    pub new: Vec<Finding>,
    /// Recorded syscalls the baseline does not allow, but a sibling of which it does
    /// ([`crate::portable`]), sorted like `new`.
    pub variants: Vec<Finding>,
    /// Recorded syscalls the baseline allows only for some arguments: not counted as
    /// new, since counts cannot show the arguments.
    pub conditional: Vec<Finding>,
    /// Names the baseline allows that no input used, sorted.
    pub unused: Vec<String>,
    /// The baseline checked against a never-allow policy (`--policy`), with the first
    /// process of each violation from the recorded reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::PolicyReport>,
}

/// Recorded uses of one syscall, summed over the inputs.
#[derive(Debug, Default)]
struct Uses {
    nr: Option<u64>,
    count: Option<u64>,
    first: Option<FirstSeen>,
}

impl Uses {
    fn add(&mut self, nr: Option<u64>, count: Option<u64>, first: Option<&FirstSeen>) {
        self.nr = self.nr.or(nr);
        if let Some(c) = count {
            self.count = Some(self.count.unwrap_or(0).saturating_add(c));
        }
        if self.first.is_none() {
            self.first = first.cloned();
        }
    }
}

/// Checks the recorded inputs against the baseline's resolutions (pure).
pub fn check(baseline: &[Variant], recorded: &[Input]) -> Result<CheckReport, EvidenceError> {
    let policies = evidence::policies(baseline);
    // None (any architecture) sorts first; then by table order and name.
    let mut named: BTreeMap<(Option<Arch>, String), Uses> = BTreeMap::new();
    let mut unnamed: BTreeMap<(Arch, u64), Uses> = BTreeMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    for input in recorded {
        for e in input.evidence()? {
            used.insert(e.name.clone());
            named
                .entry((e.arch, e.name))
                .or_default()
                .add(e.nr, e.count, e.first.as_ref());
        }
        for u in input.unnamed() {
            unnamed.entry((u.arch, u.nr)).or_default().add(
                Some(u.nr),
                Some(u.count),
                u.first.as_ref(),
            );
        }
    }
    let mut new = Vec::new();
    let mut conditional = Vec::new();
    for ((arch, name), uses) in named {
        let finding = Finding {
            arch: arch.map(Arch::scmp_name),
            name: Some(name.clone()),
            nr: uses.nr,
            count: uses.count,
            first: uses.first,
            needed_by_runtime: None,
            args: None,
            variant_of: None,
        };
        match evidence::verdict(&policies, arch, &name) {
            Verdict::Allowed => {}
            Verdict::Conditional => conditional.push(finding),
            Verdict::Denied => new.push(finding),
        }
    }
    for ((arch, nr), uses) in unnamed {
        // No rule can name it: only a default that lets calls through allows it.
        let allowed = policies
            .get(&ArchKey(to_oci(arch)))
            .is_some_and(|p: &ArchPolicy| p.default_permits);
        if !allowed {
            new.push(Finding {
                arch: Some(arch.scmp_name()),
                name: None,
                nr: Some(nr),
                count: uses.count,
                first: uses.first,
                needed_by_runtime: None,
                args: None,
                variant_of: None,
            });
        }
    }
    // The kernel calls are allowed for what no run can be trusted to show (a stop and
    // continue, a handled signal): never "unused".
    let unused = evidence::permitted_names(baseline)
        .into_iter()
        .filter(|n| !used.contains(n) && !crate::kernel_calls::is_kernel_call(n))
        .collect();
    let (variants, new) = separate_variants(&policies, new);
    Ok(CheckReport {
        ok: new.is_empty() && variants.is_empty(),
        new,
        variants,
        conditional,
        unused,
        policy: None,
    })
}

/// Splits findings into variants of calls the baseline allows (see
/// [`crate::portable::variant_of`]; with their `variant_of`) and the rest (pure).
fn separate_variants(
    policies: &BTreeMap<ArchKey, ArchPolicy>,
    findings: Vec<Finding>,
) -> (Vec<Finding>, Vec<Finding>) {
    let mut variants = Vec::new();
    let mut rest = Vec::new();
    for mut f in findings {
        let of: BTreeSet<String> = match (&f.name, &f.args) {
            (Some(name), None) => policies
                .iter()
                .filter(|(k, _)| f.arch.is_none_or(|a| k.0.to_string() == a))
                .flat_map(|(k, p)| {
                    let allowed: BTreeSet<String> =
                        p.allowed.union(&p.conditionally_allowed).cloned().collect();
                    crate::portable::variant_of(k.0, name, &allowed)
                })
                .collect(),
            _ => BTreeSet::new(),
        };
        if of.is_empty() {
            rest.push(f);
        } else {
            f.variant_of = Some(of.into_iter().collect());
            variants.push(f);
        }
    }
    (variants, rest)
}

fn describe(f: &Finding) -> String {
    let arch = f.arch.unwrap_or("(any architecture)");
    let what = match (&f.name, f.nr) {
        (Some(name), _) => name.clone(),
        (None, Some(nr)) => format!("syscall {nr} (no name in our tables)"),
        (None, None) => "?".to_owned(),
    };
    let mut details = Vec::new();
    if let Some(c) = f.count {
        details.push(format!("{c} call{}", if c == 1 { "" } else { "s" }));
    }
    if let Some(first) = &f.first {
        details.push(format!("first by {}", describe_first(first)));
    }
    let what = match &f.args {
        Some(args) => format!("{what} with {}", crate::arg_check::describe_args(args)),
        None => what,
    };
    if let Some(rt) = f.needed_by_runtime {
        details.push(format!(
            "called by the runtime ({rt}) before the workload starts"
        ));
    }
    if details.is_empty() {
        format!("{arch} {what}")
    } else {
        format!("{arch} {what}: {}", details.join(", "))
    }
}

/// Names as indented lines of at most about 100 columns.
fn wrapped(names: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for name in names {
        if !line.is_empty() && line.len() + 1 + name.len() > 98 {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(name);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The exit code of a check (0, 1, 3, or 4; see the module documentation).
pub fn exit_code(report: &CheckReport) -> u8 {
    let violated = report
        .policy
        .as_ref()
        .is_some_and(|p| !p.violations.is_empty());
    if violated {
        crate::exit::POLICY_VIOLATION
    } else if !report.new.is_empty() {
        1
    } else if !report.variants.is_empty() {
        crate::exit::VARIANTS_ONLY
    } else {
        0
    }
}

/// The text output (pure).
pub fn render_text(report: &CheckReport, baseline: &str) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    if !report.new.is_empty() {
        line(&format!("new: not allowed by the baseline {baseline}:"));
        for f in &report.new {
            line(&format!("  {}", describe(f)));
        }
    }
    if !report.variants.is_empty() {
        line(&format!(
            "variants: not allowed by the baseline {baseline}, but variants of calls it allows (another libc or runtime; merge --portable allows them):"
        ));
        for f in &report.variants {
            let of = f.variant_of.as_deref().unwrap_or_default().join(", ");
            line(&format!("  {} (variant of {of})", describe(f)));
        }
    }
    if !report.conditional.is_empty() {
        line(&format!(
            "allowed by {baseline} only for some arguments (the counts cannot show which):"
        ));
        for f in &report.conditional {
            line(&format!("  {}", describe(f)));
        }
    }
    if !report.unused.is_empty() {
        line(&format!(
            "unused by these runs: {} name(s) the baseline allows that no input used:",
            report.unused.len()
        ));
        for l in wrapped(&report.unused) {
            line(&format!("  {l}"));
        }
    }
    if report.ok {
        line(&format!(
            "ok: every recorded syscall is allowed by {baseline}"
        ));
    } else if report.new.is_empty() {
        line(&format!(
            "FAIL: {} recorded syscall(s) are only variants of calls {baseline} allows (exit {}): merge --portable allows them",
            report.variants.len(),
            crate::exit::VARIANTS_ONLY
        ));
    } else if report.variants.is_empty() {
        line(&format!(
            "FAIL: {} recorded syscall(s) not allowed by {baseline}",
            report.new.len()
        ));
    } else {
        line(&format!(
            "FAIL: {} recorded syscall(s) not allowed by {baseline}, and {} variant(s)",
            report.new.len(),
            report.variants.len()
        ));
    }
    // The policy's verdict last: its FAIL line is the one that decides exit 3.
    if let Some(p) = &report.policy {
        out.push_str(&crate::policy::render_text(p, baseline));
    }
    out
}

/// Refines a report with the argument values of `--args` recordings: a value no
/// baseline rule lets through is new; a conditionally allowed name whose every value
/// is let through is no longer "conditional"; clone3 denied on purpose (ENOSYS, so
/// that glibc uses the clone the baseline allows) is not new.
fn judge_arg_values(
    report: &mut CheckReport,
    baseline: &[crate::evidence::Variant],
    recorded: &[PathBuf],
) {
    use crate::arg_check::{decided_by, is_intended_fallback, values_in, verdict, ArgVerdict};
    report.new.retain(|f| {
        !f.name
            .as_deref()
            .is_some_and(|n| is_intended_fallback(baseline, n))
    });
    let values: Vec<crate::args::ArgValue> = recorded.iter().flat_map(|p| values_in(p)).collect();
    let mut undecided: BTreeSet<(String, String)> = BTreeSet::new();
    let mut judged: BTreeSet<(String, String)> = BTreeSet::new();
    let mut denied: BTreeMap<(String, String, Vec<crate::args::ArgAt>), u64> = BTreeMap::new();
    for v in &values {
        let key = (v.arch.clone(), decided_by(v).to_owned());
        match verdict(baseline, v) {
            Some(ArgVerdict::Allowed) => {
                judged.insert(key);
            }
            Some(ArgVerdict::Denied) => {
                judged.insert(key.clone());
                let total = denied.entry((key.0, key.1, v.args.clone())).or_default();
                *total = total.saturating_add(v.count);
            }
            Some(ArgVerdict::Unknown) | None => {
                undecided.insert(key);
            }
        }
    }
    // Verified: every value of the name is let through by a rule.
    report.conditional.retain(|f| {
        let (Some(arch), Some(name)) = (f.arch, f.name.as_deref()) else {
            return true;
        };
        let key = (arch.to_owned(), name.to_owned());
        !judged.contains(&key) || undecided.contains(&key)
    });
    for ((arch, name, args), count) in denied {
        let arch_name = arch.parse::<Arch>().ok().map(Arch::scmp_name);
        if report.new.iter().any(|f| {
            f.name.as_deref() == Some(name.as_str())
                && f.args.is_none()
                && (f.arch.is_none() || f.arch == arch_name)
        }) {
            continue; // the name itself is already new
        }
        report.new.push(Finding {
            arch: arch_name,
            name: Some(name),
            nr: None,
            count: Some(count),
            first: None,
            needed_by_runtime: None,
            args: Some(args),
            variant_of: None,
        });
    }
    report.ok = report.new.is_empty() && report.variants.is_empty();
}

/// The recordings plus, as one more input, the names `runtime` calls at start-up.
fn recorded_with_tail(recorded: &[Input], runtime: Runtime) -> Vec<Input> {
    let mut all = recorded.to_vec();
    let tail = runtime.tail();
    if !tail.is_empty() {
        all.push(evidence::names_input(
            &format!("start-up calls of {runtime}"),
            &tail,
        ));
    }
    all
}

/// Checks the files `recorded` against the profile file `baseline` on `host`, with
/// the start-up calls of `runtime` counted as used (what `check` prints), and the
/// baseline against `policy` when one is given.
pub fn check_files(
    baseline: &Path,
    recorded: &[PathBuf],
    runtime: Runtime,
    policy: Option<&crate::policy::Policy>,
    host: &HostFacts,
) -> Result<CheckReport, CheckError> {
    let baseline = evidence::load(baseline, host)?;
    let variants = baseline.variants().ok_or_else(|| CheckError::NotAProfile {
        path: baseline.path.clone(),
        kind: baseline.kind,
    })?;
    let recorded_inputs = recorded
        .iter()
        .map(|p| evidence::load(p, host))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = check(variants, &recorded_with_tail(&recorded_inputs, runtime))?;
    let tail = runtime.tail();
    let mut used_by_inputs = std::collections::BTreeSet::new();
    for input in &recorded_inputs {
        used_by_inputs.extend(input.evidence()?.into_iter().map(|e| e.name));
    }
    for f in report.new.iter_mut().chain(report.conditional.iter_mut()) {
        if let Some(name) = &f.name {
            if tail.contains(&name.as_str()) && !used_by_inputs.contains(name) {
                f.needed_by_runtime = Some(runtime);
            }
        }
    }
    report.unused.retain(|n| !tail.contains(&n.as_str()));
    judge_arg_values(&mut report, variants, recorded);
    if let Some(policy) = policy {
        let mut violations = crate::policy::evaluate(policy, variants);
        let mut calls = Vec::new();
        for input in &recorded_inputs {
            calls.extend(input.evidence()?);
        }
        crate::policy::attach_first_use(&mut violations, &calls);
        report.policy = Some(crate::policy::PolicyReport {
            policy: policy.source.clone(),
            violations,
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn host() -> HostFacts {
        HostFacts::test_x86_64(u64::MAX >> 23)
    }

    fn input(name: &str, text: &str) -> Input {
        evidence::parse(text, Path::new(name), &host()).expect("valid input")
    }

    const BASELINE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
        "syscalls":[{"names":["execve","exit_group","getppid","read","restart_syscall","write"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                     "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#;

    fn baseline() -> Vec<Variant> {
        input("base.json", BASELINE)
            .variants()
            .expect("profile")
            .to_vec()
    }

    #[test]
    fn recorded_syscalls_within_the_baseline_are_ok() {
        let stats = input(
            "a.stats",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":5},
                            {"arch":"SCMP_ARCH_X86","nr":64,"name":"getppid","count":1}]}"#,
        );
        let r = check(&baseline(), &[stats]).expect("check");
        assert!(r.ok);
        assert!(r.new.is_empty());
        // restart_syscall is a kernel call: allowed for what no run shows, not unused.
        assert_eq!(
            r.unused,
            ["execve", "exit_group", "personality", "read", "write"]
        );
        assert!(render_text(&r, "base.json")
            .ends_with("ok: every recorded syscall is allowed by base.json\n"));
    }

    #[test]
    fn a_policy_verdict_comes_last() {
        let stats = input(
            "a.stats",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
        );
        let mut r = check(&baseline(), &[stats]).expect("check");
        let policy = crate::policy::Policy::parse(
            r#"{"neverAllow": [{"names": ["personality"], "reason": "turns ASLR off"}]}"#,
            "p.json",
        )
        .expect("policy");
        r.policy = Some(crate::policy::PolicyReport {
            policy: policy.source.clone(),
            violations: crate::policy::evaluate(&policy, &baseline()),
        });
        let text = render_text(&r, "base.json");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[lines.len() - 5..],
            [
                "ok: every recorded syscall is allowed by base.json",
                "policy p.json: base.json allows 1 call(s) the policy never allows:",
                "  personality (SCMP_ARCH_X86_64, SCMP_ARCH_X86): allowed for some argument values by syscalls[1]; no report names who called it",
                "    never allowed: turns ASLR off",
                "FAIL: base.json violates policy p.json (exit 3)",
            ]
        );
    }

    #[test]
    fn new_syscalls_are_listed_with_counts_summed_and_the_first_process() {
        let stats = input(
            "a.stats",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":2},
                            {"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":9}]}"#,
        );
        let report = input(
            "b.report",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1,
                             "first":{"pid":42,"tid":43,"comm":"sync","after_ms":1.5}},
                            {"arch":"SCMP_ARCH_AARCH64","nr":63,"name":"read","count":1},
                            {"arch":"SCMP_ARCH_X86_64","nr":999,"count":4}]}"#,
        );
        let r = check(&baseline(), &[stats, report]).expect("check");
        assert!(!r.ok);
        let got: Vec<(Option<&str>, Option<&str>, Option<u64>)> = r
            .new
            .iter()
            .map(|f| (f.arch, f.name.as_deref(), f.count))
            .collect();
        assert_eq!(
            got,
            [
                (Some("SCMP_ARCH_X86_64"), Some("sync"), Some(3)),
                // aarch64 is not listed by the baseline.
                (Some("SCMP_ARCH_AARCH64"), Some("read"), Some(1)),
                (Some("SCMP_ARCH_X86_64"), None, Some(4)),
            ]
        );
        assert_eq!(r.new[0].first.as_ref().map(|f| f.pid), Some(42));
        let text = render_text(&r, "base.json");
        assert!(
            text.contains("  SCMP_ARCH_X86_64 sync: 3 calls, first by sync (pid 42, tid 43) 1.5 ms after the start\n"),
            "{text}"
        );
        assert!(
            text.contains("  SCMP_ARCH_X86_64 syscall 999 (no name in our tables): 4 calls\n"),
            "{text}"
        );
        assert!(
            text.ends_with("FAIL: 3 recorded syscall(s) not allowed by base.json\n"),
            "{text}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["ok"], false);
        assert_eq!(
            json["new"][0],
            serde_json::json!({"arch":"SCMP_ARCH_X86_64","name":"sync","nr":162,"count":3,
                               "first":{"pid":42,"tid":43,"comm":"sync","after_ms":1.5}})
        );
    }

    #[test]
    fn siblings_of_allowed_calls_are_variants_not_new() {
        // The baseline has glibc's newfstatat and clone; musl called stat and fork.
        let base = input(
            "base.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["newfstatat","clone","read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let stats = input(
            "musl.report",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":4,"name":"stat","count":2,
                             "first":{"pid":7,"tid":7,"comm":"prog","after_ms":0.5}},
                            {"arch":"SCMP_ARCH_X86_64","nr":57,"name":"fork","count":1},
                            {"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
        );
        let r = check(base.variants().expect("profile"), &[stats]).expect("check");
        assert!(!r.ok);
        assert!(r.new.is_empty(), "{:?}", r.new);
        let got: Vec<(&str, Vec<String>)> = r
            .variants
            .iter()
            .map(|f| {
                (
                    f.name.as_deref().unwrap_or(""),
                    f.variant_of.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("fork", vec!["clone".to_owned()]),
                ("stat", vec!["newfstatat".to_owned()])
            ]
        );
        assert_eq!(exit_code(&r), crate::exit::VARIANTS_ONLY);
        let text = render_text(&r, "base.json");
        assert!(
            text.contains("  SCMP_ARCH_X86_64 stat: 2 calls, first by prog (pid 7, tid 7) 0.5 ms after the start (variant of newfstatat)\n"),
            "{text}"
        );
        assert!(
            text.ends_with("FAIL: 2 recorded syscall(s) are only variants of calls base.json allows (exit 4): merge --portable allows them\n"),
            "{text}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json["variants"][1]["variant_of"],
            serde_json::json!(["newfstatat"])
        );
        // Something new as well: exit 1, both listed.
        let more = input(
            "more",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":4,"name":"stat","count":1},
                            {"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1}]}"#,
        );
        let r = check(base.variants().expect("profile"), &[more]).expect("check");
        assert_eq!((r.new.len(), r.variants.len()), (1, 1));
        assert_eq!(exit_code(&r), 1);
        // The same names on an architecture whose baseline lacks the sibling: new.
        let i386 = input(
            "i386",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86","nr":106,"name":"stat","count":1}]}"#,
        );
        let r = check(base.variants().expect("profile"), &[i386]).expect("check");
        assert_eq!((r.new.len(), r.variants.len()), (1, 0));
    }

    #[test]
    fn names_are_resolved_per_architecture() {
        // i386 socketcall (102) is no x86_64 syscall: a baseline that lists only
        // x86_64 cannot allow it, even if it names it.
        let base = input(
            "base.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["socketcall","read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let stats = input(
            "s",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86","nr":102,"name":"socketcall","count":1},
                            {"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
        );
        let r = check(base.variants().expect("profile"), &[stats]).expect("check");
        assert_eq!(r.new.len(), 1);
        assert_eq!(r.new[0].name.as_deref(), Some("socketcall"));
    }

    #[test]
    fn recorded_profiles_count_on_any_listed_architecture() {
        let recorded = input(
            "rec.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read","sync"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let r = check(&baseline(), &[recorded]).expect("check");
        assert_eq!(r.new.len(), 1);
        assert_eq!(r.new[0].arch, None);
        assert_eq!(r.new[0].count, None);
        assert_eq!(
            render_text(&r, "b").lines().nth(1),
            Some("  (any architecture) sync")
        );
    }

    #[test]
    fn conditional_allows_do_not_fail_but_are_reported() {
        let stats = input(
            "s",
            r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":135,"name":"personality","count":1}]}"#,
        );
        let r = check(&baseline(), &[stats]).expect("check");
        assert!(r.ok);
        assert_eq!(r.conditional.len(), 1);
        assert!(!r.unused.contains(&"personality".to_owned()));
    }

    #[test]
    fn a_profile_recording_that_allows_everything_is_an_error() {
        let recorded = input("rec.json", r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        let e = check(&baseline(), &[recorded]).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("rec.json: the profile allows by default"),
            "{e}"
        );
    }

    #[test]
    fn unused_names_wrap() {
        let names: Vec<String> = (0..40).map(|i| format!("syscall_{i:02}")).collect();
        let lines = wrapped(&names);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= 98));
        assert_eq!(lines.join(" ").split(' ').count(), 40);
    }
}
