use super::schema::{OCI_RULE, SPO_SPEC};
use super::suggest::{distance, suggest};
use super::*;

fn check(text: &str) -> Validation {
    validate(text.as_bytes(), None)
}

fn lines(v: &Validation) -> Vec<String> {
    v.findings
        .iter()
        .map(|f| format!("{}: {}: {}", f.path, f.severity, f.message))
        .collect()
}

fn has(v: &Validation, severity: Severity, path: &str, needle: &str) -> bool {
    v.findings
        .iter()
        .any(|f| f.severity == severity && f.path == path && f.message.contains(needle))
}

#[track_caller]
fn assert_has(v: &Validation, severity: Severity, path: &str, needle: &str) {
    assert!(
        has(v, severity, path, needle),
        "no {severity} at {path} containing {needle:?} in:\n{}",
        lines(v).join("\n")
    );
}

/// A profile with no findings (also the `validate` command's test input).
const GOOD: &str = include_str!("../../../tests/fixtures/valid-profile.json");

#[test]
fn a_good_profile_has_no_findings() {
    let v = check(GOOD);
    assert_eq!(v.format, Some(Format::Oci));
    assert!(v.findings.is_empty(), "{:?}", lines(&v));
}

#[test]
fn schema_errors_are_all_reported_with_paths() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1, "syscall": [],
                "architectures": ["SCMP_ARCH_X86_64", "x86", 3],
                "flags": ["SECCOMP_FILTER_FLAG_LOGG"],
                "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["read", "write", 3], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["write"], "action": "SCMP_ACT_ALLOW", "errnoret": 1},
                  {"names": ["close"], "action": "SCMP_ACT_ALOW"},
                  {"names": ["open"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1},
                  {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [
                     {"index": 9, "value": 1, "op": "SCMP_CMP_EQ"},
                     {"value": 1, "valueTwo": 3, "op": "SCMP_CMP_EQ"},
                     {"index": 0, "value": 1, "op": "EQ"}]},
                  {"action": "SCMP_ACT_ALLOW"},
                  "read"
                ]}"#,
    );
    assert_eq!(v.format, Some(Format::Oci));
    assert_has(
        &v,
        Severity::Error,
        "defaultErrnoRet",
        "expected an unsigned 32-bit integer, found -1",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscall",
        "unknown field \"syscall\" (did you mean \"syscalls\"?)",
    );
    assert_has(
        &v,
        Severity::Error,
        "architectures[1]",
        "unknown architecture \"x86\"; write SCMP_ARCH_X86",
    );
    assert_has(
        &v,
        Severity::Error,
        "architectures[2]",
        "expected a string, found 3",
    );
    assert_has(
        &v,
        Severity::Error,
        "flags[0]",
        "did you mean \"SECCOMP_FILTER_FLAG_LOG\"?",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[1].names[2]",
        "expected a string, found 3",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[2].errnoret",
        "did you mean \"errnoRet\"?",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[3].action",
        "unknown action \"SCMP_ACT_ALOW\" (did you mean \"SCMP_ACT_ALLOW\"?)",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[4].errnoRet",
        "SCMP_ACT_ALLOW returns no errno",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[5].args[0].index",
        "argument index 9 does not exist",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[5].args[1]",
        "missing required field \"index\"",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[5].args[1].valueTwo",
        "ignored by SCMP_CMP_EQ",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[5].args[2].op",
        "unknown op \"EQ\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[6]",
        "missing required field \"names\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[7]",
        "expected an object, found \"read\"",
    );
    // (c) runs on what is well-formed.
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[1].names[0]",
        "already in syscalls[0]",
    );
    assert!(v.errors() >= 13, "{:?}", lines(&v));
}

#[test]
fn malformed_json_and_non_objects() {
    let v = check("{\"defaultAction\": }");
    assert_eq!(v.format, None);
    assert_has(
        &v,
        Severity::Error,
        TOP_LEVEL,
        "malformed JSON at line 1, column 19",
    );
    let v = check("[]");
    assert_has(
        &v,
        Severity::Error,
        TOP_LEVEL,
        "expected a JSON object, found an array",
    );
    let v = check("{}");
    assert_has(
        &v,
        Severity::Error,
        TOP_LEVEL,
        "missing required field \"defaultAction\"",
    );
    let v = validate(b"\xff\xfe", None);
    assert_eq!(v.errors(), 1);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn misspelt_syscall_names_are_errors_with_their_path() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "mkdri", "getppid"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[0].names[1]",
        "unknown syscall \"mkdri\" (did you mean \"mkdir\"?); checked on SCMP_ARCH_X86_64",
    );
    assert_eq!(v.errors(), 1, "{:?}", lines(&v));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn names_missing_on_some_arches_are_warnings() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["newfstatat", "socketcall", "read", "arm_fadvise64_64", "socket", "semop",
                                        "restart_syscall", "rt_sigreturn", "sigreturn",
                                        "rt_sigprocmask", "rt_sigsuspend", "sigprocmask", "sigsuspend",
                                        "futex", "futex_time64"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[0].names[0]",
        "\"newfstatat\" is unknown on SCMP_ARCH_X86 (",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[0].names[1]",
        "\"socketcall\" is unknown on SCMP_ARCH_X86_64 (",
    );
    assert_has(
            &v,
            Severity::Warning,
            "syscalls[0].names[3]",
            "\"arm_fadvise64_64\" is not a syscall on SCMP_ARCH_X86_64, SCMP_ARCH_X86: the rule matches nothing there",
        );
    assert_eq!(v.errors(), 0, "{:?}", lines(&v));
    // socket and semop are socketcall/ipc rules on x86: covered, no warning; nor is
    // sigreturn, a kernel call meant for the architectures that have it (x86 here).
    assert_eq!(v.warnings(), 3, "{:?}", lines(&v));
}

#[test]
fn kernel_names_unknown_to_libseccomp_are_errors() {
    // Any name of our kernel tables that this libseccomp does not know at all.
    let Some((arch, name)) = Arch::native().and_then(|a| {
        a.table()
            .into_iter()
            .find(|(_, n)| ScmpSyscall::from_name(n).is_err())
            .map(|(_, n)| (a, n))
    }) else {
        return; // this libseccomp knows every name of the native table
    };
    let v = check(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": ["{name}"], "action": "SCMP_ACT_ALLOW"}}]}}"#
    ));
    assert_has(
        &v,
        Severity::Error,
        "syscalls[0].names[0]",
        &format!("the kernel's table has it ({} nr", arch.scmp_name()),
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[0].names[0]",
        "the runtime could not load it",
    );
}

#[test]
fn duplicates_warn_and_contradictions_fail() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["exit"], "action": "SCMP_ACT_KILL"},
                {"names": ["exit"], "action": "SCMP_ACT_KILL_THREAD"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[1].names[0]",
        "duplicate: \"write\" is already in syscalls[0] with the same action SCMP_ACT_ALLOW",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[1].names[1]",
        "\"write\" is already in syscalls[0]",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[2].names[0]",
        "contradiction: \"read\" is SCMP_ACT_ERRNO(38) here but SCMP_ACT_ALLOW in syscalls[0]",
    );
    // ERRNO without errnoRet is EPERM (1): the same action.
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[4].names[0]",
        "same action SCMP_ACT_ERRNO(1)",
    );
    // KILL is KILL_THREAD.
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[7].names[0]",
        "same action SCMP_ACT_KILL_THREAD",
    );
    // A conditional rule is neither.
    assert!(
        !v.findings.iter().any(|f| f.path.starts_with("syscalls[5]")),
        "{:?}",
        lines(&v)
    );
    assert_eq!(v.errors(), 1, "{:?}", lines(&v));
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[0].names[1]",
        "listed twice in this rule (also at syscalls[0].names[0])",
    );
}

#[test]
fn docker_extensions() {
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X33"]}],
            "syscalls": [
              {"name": "read", "action": "SCMP_ACT_ALLOW", "comment": "c", "includes": {}, "excludes": {}},
              {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM", "excludes": {"caps": ["CAP_SYS_ADMN"], "minKernel": "5"}},
              {"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errno": "EFROB"},
              {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS", "errnoRet": 1}
            ]}"#;
    let v = check(text);
    assert_eq!(v.format, Some(Format::Docker));
    assert_has(
        &v,
        Severity::Error,
        "archMap[0].subArchitectures[1]",
        "unknown architecture \"SCMP_ARCH_X33\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[2].excludes.caps[0]",
        "unknown capability \"CAP_SYS_ADMN\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[2].excludes.minKernel",
        "not a kernel version",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[3].name",
        "both \"name\" and \"names\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[4].errno",
        "unknown errno \"EFROB\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[5].errno",
        "errno \"ENOSYS\" (38) and errnoRet 1 disagree",
    );
    // Conditional rules for the same name do not contradict each other.
    assert!(
        !v.findings.iter().any(|f| f.message.contains("\"mount\"")),
        "{:?}",
        lines(&v)
    );
    // Rules without conditions still do.
    assert_has(
        &v,
        Severity::Error,
        "syscalls[5].names[0]",
        "contradiction: \"close\" is SCMP_ACT_ERRNO(38)",
    );
    // The same text read as OCI: the extensions are errors.
    let v = validate(text.as_bytes(), Some(Format::Oci));
    assert_has(
        &v,
        Severity::Error,
        "archMap",
        "podman/Docker extension, not part of the OCI runtime spec",
    );
    assert_has(
        &v,
        Severity::Error,
        "syscalls[0].comment",
        "podman/Docker extension",
    );
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
    );
    assert_has(
        &v,
        Severity::Error,
        "archMap",
        "both \"architectures\" and \"archMap\"",
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn archmap_selects_this_hosts_entry() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "archMap",
        "no entry for this host's architecture (SCMP_ARCH_X86_64)",
    );
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
                "syscalls": [{"names": ["newfstatat"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls[0].names[0]",
        "unknown on SCMP_ARCH_X86 (",
    );
}

#[test]
fn podmans_default_profile_has_no_errors() {
    let Ok(text) = std::fs::read("/usr/share/containers/seccomp.json") else {
        return;
    };
    let v = validate(&text, None);
    assert_eq!(v.format, Some(Format::Docker));
    let errors: Vec<String> = lines(&v)
        .into_iter()
        .filter(|l| l.contains(": error: "))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn spo(spec: &str) -> String {
    format!(
        r#"{{"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
                "metadata": {{"name": "my-app"}}, "spec": {spec}}}"#
    )
}

#[test]
fn spo_resources_are_checked_against_the_crd() {
    let v = check(&spo(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["read", "write", "restart_syscall", "rt_sigreturn", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"}]}"#,
    ));
    assert_eq!(v.format, Some(Format::Spo));
    assert!(v.findings.is_empty(), "{:?}", lines(&v));

    let v = check(&spo(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"],
                "listenerPath": "/run/x.sock", "state": "On",
                "syscalls": [
                  {"names": ["read", 7, "read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 3000000000},
                  {"names": [], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "comment": "x",
                   "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
    ));
    assert_has(
        &v,
        Severity::Error,
        "spec.defaultErrnoRet",
        "the SeccompProfile CRD has no default errno",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.architectures[0]",
        "not in the SeccompProfile CRD's architectures enum",
    );
    assert_has(&v, Severity::Error, "spec.architectures[2]", "listed twice");
    assert_has(
        &v,
        Severity::Error,
        "spec.listenerPath",
        "does not match the CRD's pattern",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.state",
        "expected \"Enabled\" or \"Disabled\"",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[0].names[1]",
        "expected a string, found 7",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[0].names[2]",
        "the CRD's names are a set",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[0].errnoRet",
        "expected an integer from 0 to 2147483647",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[1].names",
        "at least one name",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[2].comment",
        "not in the SeccompProfile CRD",
    );
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[2].args[0].value",
        "the CRD's int64",
    );

    let v = check(
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}, "extra": 1}"#,
    );
    assert_has(
        &v,
        Severity::Error,
        "apiVersion",
        "expected \"security-profiles-operator.x-k8s.io/v1beta1\"",
    );
    assert_has(&v, Severity::Error, "kind", "expected \"SeccompProfile\"");
    assert_has(
        &v,
        Severity::Error,
        "metadata.name",
        "not a valid object name",
    );
    assert_has(&v, Severity::Error, "extra", "unknown field");
    assert_has(
        &v,
        Severity::Error,
        TOP_LEVEL,
        "missing required field \"spec\"",
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn spo_names_are_resolved_with_spec_paths() {
    let v = check(&spo(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "mkdri"], "action": "SCMP_ACT_ALLOW"}]}"#,
    ));
    assert_has(
        &v,
        Severity::Error,
        "spec.syscalls[0].names[1]",
        "unknown syscall \"mkdri\"",
    );
}

#[test]
fn rendered_formats_validate_cleanly() {
    let p: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(GOOD).expect("profile");
    for f in [Format::Oci, Format::Docker, Format::Spo] {
        let text = formats::render(&p, f, "good").expect("render");
        let v = validate(text.as_bytes(), None);
        assert_eq!(v.format, Some(f));
        assert!(v.findings.is_empty(), "{f}: {:?}", lines(&v));
    }
}

#[test]
fn spo_field_lists_match_the_crd_fixture() {
    let crd: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/spo-seccompprofile-crd.json"
    ))
    .expect("fixture");
    let spec = &crd["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let mut fixture: Vec<&str> = spec
        .as_object()
        .expect("spec")
        .keys()
        .map(String::as_str)
        .collect();
    fixture.push("disabled"); // the pre-v1.0 field, accepted with a warning
    fixture.sort_unstable();
    let mut ours = SPO_SPEC.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, fixture);
    let rule = &spec["syscalls"]["items"]["properties"];
    let mut keys: Vec<&str> = rule
        .as_object()
        .expect("rule")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut ours = OCI_RULE.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, keys);
    let op_enum: Vec<&str> = rule["args"]["items"]["properties"]["op"]["enum"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|v| v.as_str().expect("op"))
        .collect();
    assert_eq!(op_enum, OPS);
    let action_enum: Vec<&str> = rule["action"]["enum"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|v| v.as_str().expect("action"))
        .collect();
    assert_eq!(action_enum, ACTIONS);
    let flag_enum: Vec<&str> = spec["flags"]["items"]["enum"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|v| v.as_str().expect("flag"))
        .collect();
    assert_eq!(flag_enum, FLAGS);
}

#[test]
fn findings_are_in_document_order() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "restart_syscall", "rt_sigreturn", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ALOW"}], "flags": 1}"#,
    );
    let paths: Vec<&str> = v.findings.iter().map(|f| f.path.as_str()).collect();
    let first_10 = paths.iter().position(|p| p.starts_with("syscalls[10]"));
    let first_2 = paths.iter().position(|p| p.starts_with("syscalls[2]"));
    assert!(first_2 < first_10, "{paths:?}");
    assert_eq!(paths[0], "flags", "{paths:?}");
    assert_eq!(paths[1], "syscalls[1].names[0]", "{paths:?}");
    assert_eq!(path_key(TOP_LEVEL), Vec::new());
    assert_eq!(
        path_key("spec.syscalls[3].names[12]"),
        vec![
            Step::Key("spec".into()),
            Step::Key("syscalls".into()),
            Step::Index(3),
            Step::Key("names".into()),
            Step::Index(12)
        ]
    );
}

#[test]
fn suggestions() {
    assert_eq!(suggest("syscall", ["syscalls", "flags"]), Some("syscalls"));
    assert_eq!(suggest("xyz", ["syscalls"]), None);
    assert_eq!(distance("kitten", "sitting"), 3);
    assert_eq!(distance("mkdri", "mkdir"), 1);
    assert_eq!(distance("", "ab"), 2);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn missing_kernel_calls_are_warnings_naming_what_breaks() {
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["read", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["restart_syscall"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(v.errors(), 0, "{:?}", lines(&v));
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "\"restart_syscall\" is not allowed: the kernel makes this call for the program",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "returns early instead of resuming",
    );
    // x86 has sigreturn: a handled signal's old-style return.
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "\"sigreturn\" is not allowed",
    );
    // And the waits for a signal, made by timing (x86 has both spellings).
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "\"rt_sigsuspend\" is not allowed: a program makes this call only when the signal it waits for has not come yet",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "\"sigsuspend\" is not allowed",
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "\"futex\" is not allowed: a threaded program makes this call only when a thread waits for another",
    );
    // (and rt_sigprocmask, sigprocmask: the mask around that wait; futex_time64)
    assert_eq!(v.warnings(), 8, "{:?}", lines(&v));

    // x86_64 only: no sigreturn there; rt_sigreturn denied kills a signal handler.
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "restart_syscall", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    assert_has(
        &v,
        Severity::Warning,
        "syscalls",
        "killed (SIGSEGV) when its handler returns",
    );
    assert_eq!(v.warnings(), 1, "{:?}", lines(&v));

    // Allow by default: only an explicit stop is a problem; SPO paths are under spec.
    let v = check(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(v.findings.is_empty(), "{:?}", lines(&v));
    let v = check(&spo(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["restart_syscall"], "action": "SCMP_ACT_KILL"}]}"#,
    ));
    assert_has(
        &v,
        Severity::Warning,
        "spec.syscalls",
        "\"restart_syscall\" is not allowed",
    );
    assert_eq!(v.warnings(), 1, "{:?}", lines(&v));
}

#[test]
fn profiles_we_write_have_no_kernel_call_warnings() {
    use crate::profile::{add_runtime_tail, build, DefaultErrno, ProfileOptions, RecordedSyscall};
    for native in Arch::ALL {
        let recorded = [RecordedSyscall {
            arch: Arch::X86,
            nr: 20,
            count: 1,
        }];
        let built = build(
            &recorded,
            &ProfileOptions {
                errno: DefaultErrno::Enosys,
                native,
            },
        )
        .profile;
        let p = add_runtime_tail(&built, crate::runtime::Runtime::None);
        let text = crate::profile::to_json(&p).expect("json");
        let v = validate(text.as_bytes(), None);
        assert!(
            !v.findings
                .iter()
                .any(|f| f.message.contains("the kernel makes this call")),
            "{native}: {:?}",
            lines(&v)
        );
    }
}
