use super::*;

fn host() -> HostFacts {
    HostFacts::test_x86_64(u64::MAX >> 23)
}

fn parse_ok(text: &str) -> Input {
    parse(text, Path::new("in.json"), &host()).expect("valid input")
}

fn parse_err(text: &str) -> EvidenceError {
    parse(text, Path::new("in.json"), &host()).expect_err("refused")
}

#[test]
fn stats_files_give_arch_name_nr_and_count() {
    let input = parse_ok(
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":1000000},
                            {"arch":"SCMP_ARCH_X86","nr":20,"name":null,"count":3},
                            {"arch":"SCMP_ARCH_X86_64","nr":999,"name":null,"count":2},
                            {"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":0}]}"#,
    );
    assert_eq!(input.kind, InputKind::Stats);
    let ev = input.evidence().expect("evidence");
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].arch, Some(Arch::X86_64));
    assert_eq!(ev[0].name, "getppid");
    assert_eq!(ev[0].nr, Some(110));
    assert_eq!(ev[0].count, Some(1_000_000));
    assert_eq!(ev[0].first, None);
    // A null name is looked up in the table: i386 20 is getpid.
    assert_eq!(
        (ev[1].arch, ev[1].name.as_str()),
        (Some(Arch::X86), "getpid")
    );
    assert_eq!(
        input.unnamed(),
        &[UnnamedCall {
            arch: Arch::X86_64,
            nr: 999,
            count: 2,
            first: None
        }]
    );
}

#[test]
fn reports_give_the_first_process_and_ignore_unknown_fields() {
    let input = parse_ok(
        r#"{"version": 3, "command": ["sh", "-c", "sync"],
                "syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1,
                             "first":{"pid":123,"tid":124,"comm":"sh","after_ms":12.5},
                             "last_ms": 40}]}"#,
    );
    assert_eq!(input.kind, InputKind::Report);
    let ev = input.evidence().expect("evidence");
    assert_eq!(
        ev[0].first,
        Some(FirstSeen {
            pid: 123,
            tid: 124,
            comm: "sh".into(),
            after_ms: 12.5
        })
    );
    assert_eq!(
        ev[0].first.as_ref().map(describe_first).as_deref(),
        Some("sh (pid 123, tid 124) 12.5 ms after the start")
    );
}

#[test]
fn recordings_with_bad_entries_are_refused_naming_the_entry() {
    let e = parse_err(r#"{"syscalls":[{"arch":"SCMP_ARCH_PDP11","nr":1,"count":1}]}"#);
    assert!(
        e.to_string()
            .starts_with("in.json: syscalls[0]: unknown architecture 'SCMP_ARCH_PDP11'"),
        "{e}"
    );
    assert_eq!(e.category(), Category::UnknownArch);
    let e =
        parse_err(r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"read","count":1}]}"#);
    assert_eq!(
        e.to_string(),
        "in.json: syscalls[0]: SCMP_ARCH_X86_64 syscall 162 is 'sync', not 'read'"
    );
    let e = parse_err("{\"syscalls\":[\n{\"arch\":\"SCMP_ARCH_X86_64\",\"nr\":\"x\"}]}");
    assert!(
        e.to_string()
            .starts_with("in.json: invalid stats file at line 2, column"),
        "{e}"
    );
    assert_eq!(e.category(), Category::BadInput);
}

#[test]
fn malformed_and_unrecognized_inputs_name_the_file() {
    let e = parse_err("{\n  \"syscalls\": [\n  }");
    assert!(
        e.to_string()
            .starts_with("in.json: malformed JSON at line 3, column 3"),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'));
    let e = parse_err("[1, 2]");
    assert!(
            e.to_string()
                .starts_with("in.json: not a seccomp profile, SeccompProfile resource, stats file or report (an array)"),
            "{e}"
        );
    let e = parse_err(r#"{"hello": 1}"#);
    assert!(e.to_string().contains("not a seccomp profile"), "{e}");
    assert_eq!(e.category(), Category::BadInput);
}

#[test]
fn profiles_give_their_allowed_names_without_arch() {
    let input = parse_ok(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["write","read"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["personality","read"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                            {"names":["ptrace"],"action":"SCMP_ACT_KILL"}]}"#,
    );
    assert_eq!(input.kind, InputKind::Profile);
    let ev = input.evidence().expect("evidence");
    let got: Vec<(&str, bool)> = ev
        .iter()
        .map(|e| (e.name.as_str(), e.conditional))
        .collect();
    assert_eq!(
        got,
        [("personality", true), ("read", false), ("write", false)]
    );
    assert!(ev.iter().all(|e| e.arch.is_none() && e.count.is_none()));
}

#[test]
fn a_profile_that_allows_by_default_is_no_evidence() {
    let input = parse_ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let e = input.evidence().expect_err("refused");
    assert!(e.to_string().contains("allows by default"), "{e}");
}

#[test]
fn profile_errors_keep_the_profile_message() {
    let e = parse_err(r#"{"defaultAction":"SCMP_ACT_FROB"}"#);
    assert!(
        e.to_string()
            .starts_with("profile in.json: defaultAction: unknown action 'SCMP_ACT_FROB'"),
        "{e}"
    );
    // A profile whose defaultAction is misspelt is still read as a profile.
    let e = parse_err(
        r#"{"defaultaction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert!(
        e.to_string().contains("unknown field `defaultaction`"),
        "{e}"
    );
}

const RESOURCE: &str = r#"{
      "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
      "kind": "SeccompProfile",
      "metadata": {"name": "demo", "namespace": "default"},
      "spec": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
               "disabled": false,
               "syscalls": [{"names": ["read", "exit_group"], "action": "SCMP_ACT_ALLOW"}]},
      "status": {"status": "Installed"}
    }"#;

#[test]
fn seccomp_profile_resources_use_their_spec() {
    let input = parse_ok(RESOURCE);
    assert_eq!(input.kind, InputKind::SeccompProfileResource);
    let names: Vec<String> = input
        .evidence()
        .expect("evidence")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["exit_group", "read"]);
    let e = parse_err(&RESOURCE.replace("\"disabled\": false", "\"frob\": 1"));
    assert!(
        e.to_string()
            .starts_with("in.json: SeccompProfile spec: unknown field `frob`"),
        "{e}"
    );
    let e =
        parse_err(&RESOURCE.replace("\"disabled\": false", "\"baseProfileName\": \"runc-v1.1\""));
    assert!(e.to_string().contains("baseProfileName 'runc-v1.1'"), "{e}");
}

#[test]
fn arch_map_is_resolved_for_each_main_architecture() {
    let input = parse_ok(
        r#"{"defaultAction":"SCMP_ACT_ERRNO",
                "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
                           {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]},
                           {"architecture":"SCMP_ARCH_S390X","subArchitectures":["SCMP_ARCH_S390"]}],
                "syscalls":[{"names":["read","open"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}},
                            {"names":["set_tls"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}}]}"#,
    );
    let variants = input.variants().expect("profile");
    assert_eq!(variants.len(), 2);
    let p = policies(variants);
    let keys: Vec<String> = p.keys().map(ToString::to_string).collect();
    assert_eq!(
        keys,
        [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"
        ]
    );
    let x64 = &p[&ArchKey(OciArch::ScmpArchX86_64)];
    assert!(x64.allowed.contains("arch_prctl") && x64.allowed.contains("open"));
    // open is no syscall on aarch64; set_tls is the ARM entry's rule.
    let a64 = &p[&ArchKey(OciArch::ScmpArchAarch64)];
    assert!(!a64.allowed.contains("open") && !a64.allowed.contains("arch_prctl"));
    assert!(p[&ArchKey(OciArch::ScmpArchArm)]
        .allowed
        .contains("set_tls"));
}

#[test]
fn verdicts_follow_rules_defaults_and_arches() {
    let input = parse_ok(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["read","socketcall"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let p = policies(input.variants().expect("profile"));
    assert_eq!(verdict(&p, Some(Arch::X86_64), "read"), Verdict::Allowed);
    assert_eq!(verdict(&p, Some(Arch::X86_64), "sync"), Verdict::Denied);
    assert_eq!(
        verdict(&p, Some(Arch::X86_64), "personality"),
        Verdict::Conditional
    );
    // Not a listed architecture.
    assert_eq!(verdict(&p, Some(Arch::Aarch64), "read"), Verdict::Denied);
    // socketcall exists on x86 only: allowed there, not on x86_64.
    assert_eq!(verdict(&p, Some(Arch::X86), "socketcall"), Verdict::Allowed);
    assert_eq!(
        verdict(&p, Some(Arch::X86_64), "socketcall"),
        Verdict::Denied
    );
    // Without an arch: any covered architecture that has the name.
    assert_eq!(verdict(&p, None, "socketcall"), Verdict::Allowed);
    assert_eq!(verdict(&p, None, "sync"), Verdict::Denied);

    let deny_list = parse_ok(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":0,"op":"SCMP_CMP_NE"}]}]}"#,
    );
    // No architectures: the native one (the host's) is covered.
    let p = policies(deny_list.variants().expect("profile"));
    assert_eq!(verdict(&p, Some(Arch::X86_64), "sync"), Verdict::Allowed);
    assert_eq!(verdict(&p, Some(Arch::X86_64), "ptrace"), Verdict::Denied);
    assert_eq!(
        verdict(&p, Some(Arch::X86_64), "personality"),
        Verdict::Conditional
    );
    assert_eq!(verdict(&p, Some(Arch::X86), "sync"), Verdict::Denied);
}

#[test]
fn arches_without_a_table_use_libseccomp() {
    // Without the feature an architecture without a table knows no name.
    #[cfg(feature = "libseccomp")]
    assert!(knows(OciArch::ScmpArchPpc64le, "read"));
    assert!(!knows(OciArch::ScmpArchPpc64le, "no_such_syscall"));
    assert!(knows(OciArch::ScmpArchX86, "socketcall"));
    assert!(!knows(OciArch::ScmpArchX86_64, "socketcall"));
}

#[test]
fn arch_keys_sort_like_record() {
    let mut keys = [
        ArchKey(OciArch::ScmpArchPpc64le),
        ArchKey(OciArch::ScmpArchX86),
        ArchKey(OciArch::ScmpArchAarch64),
        ArchKey(OciArch::ScmpArchX86_64),
    ];
    keys.sort();
    let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_PPC64LE"
        ]
    );
}

#[test]
fn permitted_names_include_typos_and_conditional_rules() {
    let input = parse_ok(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","raed"],"action":"SCMP_ACT_ALLOW"},
                {"names":["personality"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                {"names":["ptrace"],"action":"SCMP_ACT_KILL"}]}"#,
    );
    let names: Vec<String> = permitted_names(input.variants().expect("profile"))
        .into_iter()
        .collect();
    assert_eq!(names, ["personality", "raed", "read"]);
}
