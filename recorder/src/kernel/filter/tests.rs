use std::path::Path;

use super::*;
use seccomp_profile::profile_file::{self, HostFacts};

fn host() -> HostFacts {
    HostFacts::test_x86_64(u64::MAX)
}

fn compile_text(text: &str) -> Result<CompiledFilter, CompileError> {
    let p =
        profile_file::parse_profile(text, Path::new("p.json"), &host()).expect("profile parses");
    compile_loaded(&p)
}

fn refused(text: &str) -> CompileError {
    compile_text(text).expect_err("profile should be refused")
}

fn pfc(c: &CompiledFilter) -> String {
    let file = tempfile::tempfile().expect("temp file");
    c.export_pfc(&file).expect("export");
    let mut text = String::new();
    use std::io::{Read, Seek};
    let mut file = file;
    file.rewind().expect("rewind");
    file.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn compiles_actions_errnos_and_args() {
    let c = compile_text(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "syscalls": [
                  {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                  {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["open"], "action": "SCMP_ACT_LOG",
                   "args": [{"index": 1, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]},
                  {"names": ["unshare"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}
                ]}"#,
    )
    .expect("compiles");
    let text = pfc(&c);
    assert!(text.contains("action ERRNO(38)"), "{text}");
    assert!(text.contains("action ERRNO(1)"), "{text}");
    assert!(text.contains("action KILL_PROCESS"), "{text}");
    assert!(text.contains("action TRACE(7)"), "{text}");
    assert!(text.contains("$a0.lo32 == 8"), "{text}");
    assert!(text.contains("$a1.lo32 & 0x00000003 == 1"), "{text}");
    assert_eq!(c.execve_errno(), None);
}

#[test]
fn default_errno_is_eperm_and_denied_execve_is_known() {
    let c = compile_text(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
            .expect("compiles");
    assert_eq!(c.execve_errno(), Some(libc::EPERM));
    assert!(pfc(&c).contains("action ERRNO(1)"));
}

#[test]
fn rules_with_the_default_action_are_skipped() {
    let c = compile_text(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
            .expect("compiles");
    assert!(!pfc(&c).contains("\"read\""));
}

#[test]
fn repeated_arg_index_becomes_or() {
    let c = compile_text(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 9, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .expect("compiles");
    let text = pfc(&c);
    assert!(
        text.contains("$a0.lo32 == 8") && text.contains("$a0.lo32 == 9"),
        "{text}"
    );
}

#[test]
fn names_unknown_on_some_arches_are_skipped_there_only() {
    let c = compile_text(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["newfstatat", "socketcall", "read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("compiles");
    let skipped: Vec<String> = c
        .skipped()
        .iter()
        .map(|s| format!("{} on {}", s.name, s.arches.join(",")))
        .collect();
    assert_eq!(
        skipped,
        [
            "newfstatat on SCMP_ARCH_X86",
            "socketcall on SCMP_ARCH_X86_64"
        ]
    );
    let text = pfc(&c);
    assert!(text.contains("filter for arch x86 "), "{text}");
}

#[test]
fn unknown_names_are_refused_naming_rule_and_arch() {
    let e = refused(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["foo", "bar"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "rule syscalls[1] (names: foo, bar): syscall 'foo' is unknown to libseccomp"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("SCMP_ARCH_X86_64") && msg.contains("could not apply it either"),
        "{msg}"
    );
    assert_eq!(e.category(), Category::UnknownSyscall);
}

#[test]
fn names_of_other_arches_only_match_nothing() {
    // mmap2 exists on x86 but not on x86_64: the rule matches nothing here.
    let c = compile_text(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mmap2", "read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("compiles");
    assert_eq!(c.skipped().len(), 1);
    assert_eq!(c.skipped()[0].name, "mmap2");
    assert_eq!(c.skipped()[0].arches, ["SCMP_ARCH_X86_64"]);
    let text = pfc(&c);
    assert!(
        !text.contains("mmap2") && text.contains("\"read\""),
        "{text}"
    );
}

#[test]
fn refusals_name_the_rule() {
    let cases = [
        (
            r#"{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}"#,
            "SCMP_ACT_NOTIFY needs a seccomp agent",
        ),
        (
            r#"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}"#,
            "returns no errno",
        ),
        (
            r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#,
            "out of range",
        ),
        (
            r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}"#,
            "argument index 6",
        ),
        (
            r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_EQ"}]}"#,
            "valueTwo 2 is ignored",
        ),
    ];
    for (rule, expected) in cases {
        let e = refused(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["write"], "action": "SCMP_ACT_LOG"}}, {rule}]}}"#
        ));
        let msg = e.to_string();
        assert!(msg.starts_with("rule syscalls[1] (names: read): "), "{msg}");
        assert!(msg.contains(expected), "{msg}");
        assert_eq!(e.category(), Category::BadInput);
    }
}

#[test]
fn contradicting_rules_are_refused() {
    let e = refused(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
    );
    assert!(
        e.to_string().contains(
            "SCMP_ACT_ERRNO(38) for 'read' conflicts with SCMP_ACT_ALLOW in rule syscalls[0]"
        ),
        "{e}"
    );
    let e = refused(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(matches!(e, CompileError::Conflict(_)), "{e}");
    // "Deny except": a conditional allow plus the default stated again is fine.
    compile_text(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO"}]}"#,
        )
        .expect("compiles");
}

#[test]
fn flags_and_listener() {
    compile_text(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]}"#)
            .expect("supported flags");
    let e = refused(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    );
    assert!(e.to_string().contains("SCMP_ACT_NOTIFY"), "{e}");
    let e = refused(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}"#);
    assert!(matches!(e, CompileError::ListenerPath(_)), "{e}");
    let e = refused(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
    assert!(
        e.to_string().starts_with("defaultAction: SCMP_ACT_NOTIFY"),
        "{e}"
    );
}

#[test]
fn every_oci_arch_translates() {
    // Every name the SPO CRD accepts, and those only oci-spec knows.
    let more = [
        "SCMP_ARCH_LOONGARCH64",
        "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH",
        "SCMP_ARCH_SHEB",
    ];
    for name in seccomp_profile::formats::SPO_ARCHITECTURES
        .into_iter()
        .chain(more)
    {
        let arch = OciArch::from_str(name).expect("oci-spec knows it");
        assert!(translate_arch(arch).is_ok(), "{name}");
    }
}

#[test]
fn multi_arch_filter_has_every_listed_arch() {
    let c = compile_text(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("compiles");
    let text = pfc(&c);
    for arch in ["x86_64", "x86 ", "x32", "aarch64"] {
        assert!(
            text.contains(&format!("filter for arch {arch}")),
            "{arch}: {text}"
        );
    }
}
