use super::*;
use crate::vocabulary::capability_bit;
use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

fn host() -> HostFacts {
    // CAP_CHOWN and CAP_SYS_ADMIN only.
    HostFacts::test_x86_64(1 | (1 << 21))
}

fn parse(text: &str) -> Result<LoadedProfile, ProfileFileError> {
    parse_profile(text, Path::new("p.json"), &host())
}

fn err(text: &str) -> String {
    parse(text)
        .expect_err("profile should be refused")
        .to_string()
}

#[test]
fn parses_a_runtime_spec_profile() {
    let p = parse(
        r#"{
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 38,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "flags": ["SECCOMP_FILTER_FLAG_LOG"],
              "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "no"}
              ]
            }"#,
    )
    .expect("valid profile");
    let s = &p.seccomp;
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(s.default_errno_ret(), Some(38));
    assert_eq!(
        s.architectures().as_deref(),
        Some(&[OciArch::ScmpArchX86_64, OciArch::ScmpArchX86][..])
    );
    assert_eq!(
        s.flags().as_deref(),
        Some(&[LinuxSeccompFilterFlag::SeccompFilterFlagLog][..])
    );
    let rules = s.syscalls().as_ref().expect("rules");
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].names(), &["read", "write"]);
    let args = rules[1].args().as_ref().expect("args");
    assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpEq);
    assert_eq!(args[0].value(), 8);
    assert_eq!(rules[2].errno_ret(), Some(1));
    assert_eq!(p.rule_origins, vec![0, 1, 2]);
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let msg = err("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n  \"syscalls\": []\n}");
    assert!(
        msg.starts_with("profile p.json: malformed JSON at line 3, column 3"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn wrong_shape_names_line_and_column() {
    let msg = err("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}");
    assert!(msg.contains("invalid profile at line 1, column"), "{msg}");
    let msg = err("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscall\": []}");
    assert!(msg.contains("unknown field `syscall`"), "{msg}");
}

#[test]
fn unknown_action_names_the_rule() {
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["foo", "bar"], "action": "SCMP_ACT_FROB"}]}"#);
    assert!(
        msg.contains("rule syscalls[1] (names: foo, bar): unknown action 'SCMP_ACT_FROB'"),
        "{msg}"
    );
    let e = parse(r#"{"defaultAction": "ALLOW"}"#).expect_err("refused");
    assert!(e
        .to_string()
        .contains("defaultAction: unknown action 'ALLOW'"));
    assert_eq!(e.category(), Category::BadInput);
}

#[test]
fn bad_op_names_the_rule_and_argument() {
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 1, "op": "SCMP_CMP_APPROX"}]}]}"#);
    assert!(
        msg.contains(
            "rule syscalls[0] (names: personality): args[1]: unknown op 'SCMP_CMP_APPROX'"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_flag_and_arch_are_refused() {
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}"#);
    assert!(
        msg.contains("unknown flag 'SECCOMP_FILTER_FLAG_FAST'"),
        "{msg}"
    );
    let e = parse(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}"#)
        .expect_err("refused");
    assert!(
        e.to_string()
            .contains("unknown architecture 'SCMP_ARCH_VAX'"),
        "{e}"
    );
    assert_eq!(e.category(), Category::UnknownArch);
}

#[test]
fn libseccomp_arches_without_a_table_are_accepted() {
    let p = parse(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PPC64LE", "x32"]}"#,
    )
    .expect("valid");
    assert_eq!(
        p.seccomp.architectures().as_deref(),
        Some(&[OciArch::ScmpArchPpc64le, OciArch::ScmpArchX32][..])
    );
}

const ARCH_MAP: &str = r#""archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]}]"#;

#[test]
fn arch_map_selects_the_native_entry() {
    let p = parse(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", {ARCH_MAP}}}"#
    ))
    .expect("valid");
    assert_eq!(
        p.seccomp.architectures().as_deref(),
        Some(
            &[
                OciArch::ScmpArchX86_64,
                OciArch::ScmpArchX86,
                OciArch::ScmpArchX32
            ][..]
        )
    );
    let msg = err(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], {ARCH_MAP}}}"#
    ));
    assert!(msg.contains("both 'architectures' and 'archMap'"), "{msg}");
}

#[test]
fn includes_and_excludes_follow_docker() {
    let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
              {"names": ["b"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
              {"names": ["c"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["d"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
              {"names": ["e"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["f"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
              {"names": ["g"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.10"}},
              {"names": ["h"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
              {"name": "i", "action": "SCMP_ACT_ALLOW", "includes": {}, "excludes": {}}
            ]}"#,
        )
        .expect("valid");
    let kept: Vec<&str> = p
        .seccomp
        .syscalls()
        .iter()
        .flatten()
        .map(|r| r.names()[0].as_str())
        .collect();
    assert_eq!(kept, ["b", "c", "f", "i"]);
    assert_eq!(p.rule_origins, [1, 2, 5, 8]);
    assert_eq!(
        p.rule_ref(2).map(|r| r.to_string()).as_deref(),
        Some("rule syscalls[5] (names: f)")
    );
}

#[test]
fn conditions_we_cannot_evaluate_are_refused() {
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"os": "linux"}}]}"#);
    assert!(
        msg.contains("rule syscalls[0] (names: a): cannot evaluate includes.os"),
        "{msg}"
    );
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["SYS_ADMIN"]}}]}"#);
    assert!(msg.contains("unknown capability 'SYS_ADMIN'"), "{msg}");
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5"}}]}"#);
    assert!(msg.contains("'5' is not a kernel version"), "{msg}");
    let no_caps = HostFacts {
        bounding_caps: None,
        ..host()
    };
    let e = parse_profile(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}}]}"#,
        Path::new("p.json"),
        &no_caps,
    )
    .expect_err("refused");
    assert!(
        e.to_string()
            .contains("the capability bounding set could not be read"),
        "{e}"
    );
}

#[test]
fn podman_errno_names() {
    let p = parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
                "syscalls": [
                  {"names": ["a"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "errno": "EPERM"},
                  {"names": ["b"], "action": "SCMP_ACT_ERRNO", "errno": "EWOULDBLOCK"},
                  {"names": ["c"], "action": "SCMP_ACT_ERRNO", "errno": "13"}]}"#,
    )
    .expect("valid");
    assert_eq!(p.seccomp.default_errno_ret(), Some(38));
    let errnos: Vec<Option<u32>> = p
        .seccomp
        .syscalls()
        .iter()
        .flatten()
        .map(|r| r.errno_ret())
        .collect();
    assert_eq!(errnos, [Some(1), Some(11), Some(13)]);
    let msg = err(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "defaultErrno": "ENOSYS"}"#,
    );
    assert!(
        msg.contains("defaultAction: errno 'ENOSYS' (38) and errnoRet 1 disagree"),
        "{msg}"
    );
    let msg = err(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "errno": "EFROB"}]}"#,
    );
    assert!(
        msg.contains("rule syscalls[0] (names: a): unknown errno 'EFROB'"),
        "{msg}"
    );
}

#[test]
fn name_and_names_together_are_refused() {
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#);
    assert!(msg.contains("both 'name' and 'names'"), "{msg}");
}

#[test]
fn long_name_lists_are_shortened() {
    let rule = RuleRef {
        index: 3,
        names: (0..10).map(|i| format!("s{i}")).collect(),
    };
    assert_eq!(
        rule.to_string(),
        "rule syscalls[3] (names: s0, s1, s2, s3, s4, s5, ... 4 more)"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_the_file() {
    let e = load_profile(Path::new("/nonexistent/p.json"), &host()).expect_err("missing");
    assert_eq!(
        e.to_string(),
        "profile /nonexistent/p.json: cannot read the file"
    );
    assert_eq!(e.category(), Category::Io);
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn host_facts_helpers() {
    assert_eq!(parse_kernel_version("6.18.0-rc1+"), Some((6, 18)));
    assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
    assert_eq!(parse_kernel_version("4"), None);
    assert_eq!(capability_bit("CAP_SYS_ADMIN"), Some(21));
    assert_eq!(capability_bit("CAP_CHECKPOINT_RESTORE"), Some(40));
    assert_eq!(
        status_cap_field("Name:\tx\nCapBnd:\t000001ffffffffff\n", "CapBnd"),
        Some(0x1ff_ffff_ffff)
    );
}
