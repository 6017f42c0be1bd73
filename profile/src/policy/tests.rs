use std::path::Path;

use super::eval::lets_risky_through;
use super::*;
use crate::evidence::{self, NamedSyscall, Variant};
use crate::profile_file::HostFacts;
use crate::report::FirstSeen;

fn variants(text: &str) -> Vec<Variant> {
    evidence::parse(
        text,
        Path::new("p.json"),
        &HostFacts::test_x86_64(u64::MAX >> 23),
    )
    .expect("profile")
    .variants()
    .expect("a profile")
    .to_vec()
}

fn default() -> Policy {
    Policy::default_policy().expect("the shipped policy parses")
}

fn names_of(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.name.as_str()).collect()
}

fn profile(rules: &str) -> String {
    format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{rules}]}}"#
    )
}

#[test]
fn the_shipped_policy_lists_what_docker_blocks_with_reasons() {
    let p = default();
    assert_eq!(p.source, "default");
    for name in [
        "bpf",
        "kexec_load",
        "kexec_file_load",
        "keyctl",
        "add_key",
        "request_key",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "clone",
        "userfaultfd",
        "perf_event_open",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "open_by_handle_at",
        "init_module",
        "finit_module",
        "delete_module",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "swapon",
        "swapoff",
        "reboot",
        "settimeofday",
        "clock_settime",
        "acct",
        "pivot_root",
        "quotactl",
        "lookup_dcookie",
        "move_mount",
        "fsopen",
        "fsmount",
        "fspick",
        "open_tree",
        "iopl",
        "ioperm",
        "vm86",
        "vm86old",
        "uselib",
    ] {
        let e = p.entry(name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(e.reason.len() > 20, "{name}: {}", e.reason);
    }
    // Namespace flags only: a plain fork or thread is fine.
    let clone = p.entry("clone").expect("clone");
    assert_eq!(
        clone.args,
        Some(RiskyBits {
            index: 0,
            any_bits: 0x7e02_0000
        })
    );
    assert_eq!(
        p.entry("unshare").and_then(|e| e.args).map(|a| a.any_bits),
        Some(0x7e02_0080)
    );
    assert!(p.entry("read").is_none() && p.entry("clone3").is_none());
}

#[test]
fn corrupt_policies_are_one_line_bad_input_errors() {
    let cases = [
        ("{", "at line 1 column 1"),
        (r#"{"nevrAllow": []}"#, "unknown field `nevrAllow`"),
        (r#"{"neverAllow": []}"#, "neverAllow: no entries"),
        (
            r#"{"neverAllow": [{"names": ["ptrce"], "reason": "x"}]}"#,
            "neverAllow[0].names[0]: unknown syscall \"ptrce\"",
        ),
        (
            r#"{"neverAllow": [{"names": [], "reason": "x"}]}"#,
            "neverAllow[0].names: no names",
        ),
        (
            r#"{"neverAllow": [{"names": ["bpf"], "reason": " "}]}"#,
            "neverAllow[0].reason: must be one non-empty line",
        ),
        (
            r#"{"neverAllow": [{"names": ["bpf"]}]}"#,
            "missing field `reason`",
        ),
        (
            r#"{"neverAllow": [{"names": ["clone"], "reason": "x", "args": {"index": 6, "anyBits": 1}}]}"#,
            "neverAllow[0].args.index: 6 is not an argument index",
        ),
        (
            r#"{"neverAllow": [{"names": ["clone"], "reason": "x", "args": {"index": 0, "anyBits": "0xzz"}}]}"#,
            "neverAllow[0].args.anyBits: expected a non-zero number",
        ),
        (
            r#"{"neverAllow": [{"names": ["clone"], "reason": "x", "args": {"index": 0, "anyBits": 0}}]}"#,
            "neverAllow[0].args.anyBits",
        ),
    ];
    for (text, want) in cases {
        let e = Policy::parse(text, "p.json").expect_err(text);
        let msg = e.to_string();
        assert!(msg.starts_with("policy p.json: "), "{msg}");
        assert!(msg.contains(want), "{text}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(e.category(), crate::exit::Category::BadInput);
    }
    let e = Policy::load("/nonexistent/policy.json").expect_err("missing file");
    assert_eq!(e.category(), crate::exit::Category::Io);
    let ok = Policy::parse(
        r#"{"neverAllow": [{"names": ["clone"], "reason": "x", "args": {"index": 0, "anyBits": 268435456}}]}"#,
        "p.json",
    )
    .expect("decimal bits");
    assert_eq!(ok.entries[0].args.map(|a| a.any_bits), Some(0x1000_0000));
}

#[test]
fn unconditional_and_default_allows_are_violations() {
    let p = default();
    let v = evaluate(
        &p,
        &variants(&profile(
            r#"{"names":["read","ptrace","bpf"],"action":"SCMP_ACT_ALLOW"},
                              {"names":["mount"],"action":"SCMP_ACT_LOG"}"#,
        )),
    );
    assert_eq!(names_of(&v), ["bpf", "mount", "ptrace"]);
    assert!(v.iter().all(|v| v.allowed == Allowance::Unconditionally));
    assert_eq!(v[1].rules, [1]);
    assert_eq!(v[2].arches, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    assert!(v[2].reason.contains("memory"));

    // Allowed by default unless stopped by an unconditional rule.
    let v = evaluate(
        &p,
        &variants(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ),
    );
    assert!(v
        .iter()
        .all(|v| v.allowed == Allowance::ByDefault && v.rules.is_empty()));
    assert!(names_of(&v).contains(&"bpf"));
    assert!(!names_of(&v).contains(&"ptrace"));

    // A name that is no syscall on the profile's architectures allows nothing there.
    let x64 = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                  "syscalls":[{"names":["vm86","read"],"action":"SCMP_ACT_ALLOW"}]}"#;
    assert!(evaluate(&p, &variants(x64)).is_empty());
}

#[test]
fn argument_rules_violate_only_when_risky_values_get_through() {
    let p = default();
    let clone_rule = |cond: &str| {
        profile(&format!(
            r#"{{"names":["read"],"action":"SCMP_ACT_ALLOW"}},{{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{cond}]}}"#
        ))
    };
    // fork (SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID): fine.
    let fork = clone_rule(r#"{"index":0,"value":18874385,"op":"SCMP_CMP_EQ"}"#);
    assert!(evaluate(&p, &variants(&fork)).is_empty());
    // The same with CLONE_NEWUSER: risky.
    let newuser = clone_rule(r#"{"index":0,"value":287309841,"op":"SCMP_CMP_EQ"}"#);
    let v = evaluate(&p, &variants(&newuser));
    assert_eq!(names_of(&v), ["clone"]);
    assert_eq!(v[0].allowed, Allowance::ForRiskyArguments);
    assert_eq!(v[0].rules, [1]);
    // Docker's rule: no namespace flag at all.
    let docker =
        clone_rule(r#"{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}"#);
    assert!(evaluate(&p, &variants(&docker)).is_empty());
    // Only CLONE_NEWUSER masked out: CLONE_NEWNET and the rest still get through.
    let partial =
        clone_rule(r#"{"index":0,"value":268435456,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}"#);
    assert_eq!(names_of(&evaluate(&p, &variants(&partial))), ["clone"]);
    // A condition on another argument decides nothing about the flags.
    let other = clone_rule(r#"{"index":1,"value":0,"op":"SCMP_CMP_EQ"}"#);
    assert_eq!(names_of(&evaluate(&p, &variants(&other))), ["clone"]);
    // Unconditional clone: a violation of the namespace entry too.
    let plain = profile(r#"{"names":["clone"],"action":"SCMP_ACT_ALLOW"}"#);
    assert_eq!(
        evaluate(&p, &variants(&plain))[0].allowed,
        Allowance::Unconditionally
    );
    // An entry without args: any argument rule lets it through for some values.
    let ptrace = profile(
        r#"{"names":["ptrace"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}"#,
    );
    assert_eq!(
        evaluate(&p, &variants(&ptrace))[0].allowed,
        Allowance::ForSomeArguments
    );
}

#[test]
fn range_and_contradicting_conditions() {
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompOperator as Op};
    let c = |op: Op, value: u64, two: Option<u64>| {
        let mut b = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .op(op)
            .value(value);
        if let Some(t) = two {
            b = b.value_two(t);
        }
        b.build().expect("arg")
    };
    let r = RiskyBits {
        index: 0,
        any_bits: 0x7e02_0000,
    };
    assert!(!lets_risky_through(&[c(Op::ScmpCmpLt, 0x20000, None)], r));
    assert!(lets_risky_through(&[c(Op::ScmpCmpLe, 0x20000, None)], r));
    assert!(lets_risky_through(
        &[c(Op::ScmpCmpGe, 0x8000_0000, None)],
        r
    ));
    assert!(lets_risky_through(&[c(Op::ScmpCmpNe, 0, None)], r));
    // Contradicting masks, or a value outside its mask: nothing gets through.
    assert!(!lets_risky_through(
        &[
            c(Op::ScmpCmpMaskedEq, 0x1, Some(0)),
            c(Op::ScmpCmpMaskedEq, 0x1, Some(1))
        ],
        r
    ));
    assert!(!lets_risky_through(
        &[c(Op::ScmpCmpMaskedEq, 0x1, Some(2))],
        r
    ));
    // A mask that forces a risky bit on.
    assert!(lets_risky_through(
        &[c(Op::ScmpCmpMaskedEq, 0x1000_0000, Some(0x1000_0000))],
        r
    ));
}

#[test]
fn profiles_we_write_pass_the_default_policy() {
    use crate::profile::{add_runtime_tail, build, to_json, DefaultErrno, ProfileOptions};
    use crate::runtime::Runtime;
    use crate::syscalls::Arch;
    for rt in [Runtime::Any, Runtime::Crun, Runtime::Runc, Runtime::None] {
        let built = build(
            &[],
            &ProfileOptions {
                errno: DefaultErrno::Enosys,
                native: Arch::X86_64,
            },
        );
        let text = to_json(&add_runtime_tail(&built.profile, rt)).expect("json");
        assert!(evaluate(&default(), &variants(&text)).is_empty(), "{rt}");
    }
}

#[test]
fn violations_name_the_first_process_and_render() {
    let mut v = evaluate(
        &default(),
        &variants(&profile(
            r#"{"names":["read","ptrace"],"action":"SCMP_ACT_ALLOW"}"#,
        )),
    );
    let seen = |comm: &str, after_ms: f64| NamedSyscall {
        arch: Some(crate::syscalls::Arch::X86_64),
        name: "ptrace".into(),
        nr: Some(101),
        count: Some(1),
        first: Some(FirstSeen {
            pid: 7,
            tid: 8,
            comm: comm.into(),
            after_ms,
        }),
        conditional: false,
    };
    attach_first_use(&mut v, &[seen("later", 9.0), seen("tracer", 2.5)]);
    assert_eq!(v[0].first.as_ref().map(|f| f.comm.as_str()), Some("tracer"));
    let report = PolicyReport {
        policy: "default".into(),
        violations: v,
    };
    let text = render_text(&report, "p.json");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "policy default: p.json allows 1 call(s) the policy never allows:",
            "  ptrace (SCMP_ARCH_X86_64, SCMP_ARCH_X86): allowed unconditionally by syscalls[0]; first called by tracer (pid 7, tid 8) 2.5 ms after the start",
            &format!("    never allowed: {}", default().entry("ptrace").expect("ptrace").reason),
            "FAIL: p.json violates policy default (exit 3)",
        ]
    );
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["violations"][0]["allowed"], "unconditionally");
    assert_eq!(json["violations"][0]["first"]["comm"], "tracer");
    let ok = PolicyReport {
        policy: "default".into(),
        violations: Vec::new(),
    };
    assert_eq!(
        render_text(&ok, "p.json"),
        "policy default: ok: p.json allows none of the calls it never allows\n"
    );
}

#[test]
fn an_unconditional_clone_hints_at_argument_rules_and_ptrace_does_not() {
    let v = evaluate(
        &default(),
        &variants(&profile(
            r#"{"names":["read","clone","ptrace"],"action":"SCMP_ACT_ALLOW"}"#,
        )),
    );
    assert_eq!(names_of(&v), ["clone", "ptrace"]);
    let clone = &v[0];
    assert_eq!(clone.allowed, Allowance::Unconditionally);
    let hint = clone.hint.as_deref().expect("a hint for clone");
    assert!(hint.starts_with("record with --args"), "{hint}");
    assert!(hint.contains("seccomp-recorder.io/args=true"), "{hint}");
    // ptrace is never allowed at all: no recording option makes it pass.
    assert_eq!(v[1].hint, None);
    let report = PolicyReport {
        policy: "default".into(),
        violations: v.clone(),
    };
    let text = render_text(&report, "p.json");
    assert_eq!(
        text.matches("    hint: record with --args").count(),
        1,
        "{text}"
    );
    let json = serde_json::to_value(&report).expect("json");
    assert!(json["violations"][0]["hint"].is_string());
    assert!(json["violations"][1].get("hint").is_none());

    // A clone rule as --args writes it (the namespace flags masked to zero): it passes.
    let v = evaluate(
        &default(),
        &variants(&profile(
            r#"{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}"#,
        )),
    );
    assert!(v.is_empty(), "{v:?}");
}
