use super::*;

use std::path::Path;

use crate::evidence::{self, Input};
use crate::profile_file::HostFacts;

fn input(name: &str, text: &str) -> Input {
    evidence::parse(
        text,
        Path::new(name),
        &HostFacts::test_x86_64(u64::MAX >> 23),
    )
    .expect("valid input")
}

const BASE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
    "syscalls":[{"names":["newfstatat","read","ptrace","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#;

fn report() -> CheckReport {
    let base = input("seccomp/web.json", BASE);
    let rec = input(
        "web.report.json",
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":3,
                         "first":{"pid":42,"tid":43,"comm":"a|b","after_ms":1.5}},
                        {"arch":"SCMP_ARCH_X86_64","nr":4,"name":"stat","count":2},
                        {"arch":"SCMP_ARCH_X86_64","nr":101,"name":"ptrace","count":1,
                         "first":{"pid":9,"tid":9,"comm":"tracee","after_ms":0.25}},
                        {"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
    );
    let variants = base.variants().expect("profile").to_vec();
    let mut r = crate::check::check(&variants, std::slice::from_ref(&rec)).expect("check");
    let policy = crate::policy::Policy::parse(
        r#"{"neverAllow":[{"names":["ptrace"],"reason":"reads other processes' memory"}]}"#,
        "p.json",
    )
    .expect("policy");
    let mut violations = crate::policy::evaluate(&policy, &variants);
    crate::policy::attach_first_use(&mut violations, &rec.evidence().expect("calls"));
    r.policy = Some(crate::policy::PolicyReport {
        policy: policy.source.clone(),
        violations,
    });
    r
}

#[test]
fn a_check_lists_new_risky_and_variant_calls_as_tables() {
    let md = render_check(&report(), "seccomp/web.json");
    assert_eq!(
        md,
        "## seccomp check: `seccomp/web.json`

**FAIL** (exit 3): the baseline allows calls the policy never allows; 1 new syscall(s).

### New: not allowed by the baseline

| arch | syscall | calls | first process |
|---|---|---:|---|
| SCMP_ARCH_X86_64 | `sync` | 3 | a\\|b (pid 42, tid 43) 1.5 ms after the start |

### Risky: `seccomp/web.json` allows 1 call(s) policy `p.json` never allows

| syscall | arch | how | first process | never allowed because |
|---|---|---|---|---|
| `ptrace` | SCMP_ARCH_X86_64 | allowed unconditionally by syscalls[0] | tracee (pid 9, tid 9) 0.25 ms after the start | reads other processes' memory |

### Variants of calls the baseline allows

Another libc or runtime makes these instead of a call the baseline allows (not new behaviour; the baseline still denies them). `seccomp-recorder merge --portable` allows them.

| arch | syscall | variant of | calls | first process |
|---|---|---|---:|---|
| SCMP_ARCH_X86_64 | `stat` | `newfstatat` | 2 | – |

<details><summary>2 name(s) the baseline allows that no run used</summary>

`exit_group` `newfstatat`

</details>
"
    );
}

#[test]
fn an_ok_check_says_so_in_one_line() {
    let base = input("b.json", BASE);
    let rec = input(
        "r",
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1},
                        {"arch":"SCMP_ARCH_X86_64","nr":262,"name":"newfstatat","count":1},
                        {"arch":"SCMP_ARCH_X86_64","nr":101,"name":"ptrace","count":1},
                        {"arch":"SCMP_ARCH_X86_64","nr":231,"name":"exit_group","count":1}]}"#,
    );
    let r = crate::check::check(base.variants().expect("profile"), &[rec]).expect("check");
    assert_eq!(
        render_check(&r, "b.json"),
        "## seccomp check: `b.json`\n\n**ok**: every recorded syscall is allowed by `b.json`.\n\n"
    );
}

#[test]
fn cells_cannot_break_the_table() {
    assert_eq!(cell("a|b\nc<d>"), "a\\|b c&lt;d&gt;");
    assert_eq!(code("x`y"), "x`y");
    assert_eq!(code("p.json"), "`p.json`");
}

#[test]
fn a_diff_marks_variants_and_risky_additions() {
    let a = input("a.json", BASE);
    let b = input(
        "b.json",
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["newfstatat","stat","read","ptrace","bpf"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let vb = b.variants().expect("profile");
    let mut d = crate::diff::diff(a.variants().expect("profile"), vb);
    let policy = crate::policy::Policy::default_policy().expect("policy");
    d.policy = Some(crate::policy::PolicyReport {
        policy: policy.source.clone(),
        violations: crate::policy::evaluate(&policy, vb),
    });
    let md = render_diff(&d, "a.json", "b.json");
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "## seccomp profile diff: `a.json` → `b.json`");
    assert_eq!(
        lines[2],
        "**different** (exit 3): 2 allowed name(s) added, 1 removed (per architecture)."
    );
    assert!(
        md.contains("| arch | change | syscall | note |\n|---|---|---|---|\n"),
        "{md}"
    );
    assert!(
        md.contains("| SCMP_ARCH_X86_64 | added | `stat` | variant of `newfstatat` |\n"),
        "{md}"
    );
    assert!(
        md.contains("| SCMP_ARCH_X86_64 | added | `bpf` | **risky**: "),
        "{md}"
    );
    assert!(
        md.contains("| SCMP_ARCH_X86_64 | removed | `exit_group` |  |\n"),
        "{md}"
    );
    assert!(
        md.contains("### Risky: `b.json` allows 2 call(s) policy `default` never allows"),
        "{md}"
    );
}
