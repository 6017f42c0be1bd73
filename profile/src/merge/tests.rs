use super::*;
use crate::profile::to_json;

fn host() -> HostFacts {
    HostFacts::test_x86_64(u64::MAX >> 23)
}

fn input(name: &str, text: &str) -> Input {
    evidence::parse(text, Path::new(name), &host()).expect("valid input")
}

fn merged(inputs: &[Input]) -> Result<String, MergeError> {
    merge(inputs, &DefaultChoice::default(), Some(Arch::X86_64))
        .map(|m| to_json(&m.profile).expect("json"))
}

const A: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","exit"],"action":"SCMP_ACT_ALLOW"}]}"#;
const B: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
        "architectures":["SCMP_ARCH_X86","SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["write","exit"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["personality"],"action":"SCMP_ACT_ALLOW",
                     "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                    {"names":["read"],"action":"SCMP_ACT_ALLOW",
                     "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#;

#[test]
fn unites_names_and_arches_keeps_conditional_rules_once() {
    let out = merged(&[input("a", A), input("b", B), input("b2", B)]).expect("merge");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        json["architectures"],
        serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    );
    assert_eq!(json["defaultErrnoRet"], 38);
    let rules = json["syscalls"].as_array().expect("rules");
    // read's conditional rule is dropped: read is allowed anyway.
    assert_eq!(rules.len(), 2, "{out}");
    assert_eq!(
        rules[0]["names"],
        serde_json::json!(["exit", "read", "write"])
    );
    assert_eq!(rules[1]["names"], serde_json::json!(["personality"]));
}

#[test]
fn byte_identical_in_any_order() {
    let s = r#"{"syscalls":[{"arch":"SCMP_ARCH_X86","nr":20,"name":"getpid","count":1},
                                {"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1}]}"#;
    let one = merged(&[input("a", A), input("b", B), input("s", s)]).expect("merge");
    let two = merged(&[input("s", s), input("b", B), input("a", A)]).expect("merge");
    let three = merged(&[input("b", B), input("s", s), input("a", A)]).expect("merge");
    assert_eq!(one, two);
    assert_eq!(one, three);
    assert!(one.contains("\"sync\""));
    assert!(one.contains("\"getpid\""));
}

#[test]
fn merging_a_recorded_profile_with_itself_gives_it_back() {
    let recorded = crate::profile::build(
        &[
            crate::profile::RecordedSyscall {
                arch: Arch::X86_64,
                nr: 0,
                count: 1,
            },
            crate::profile::RecordedSyscall {
                arch: Arch::X86,
                nr: 20,
                count: 1,
            },
        ],
        &crate::profile::ProfileOptions {
            errno: DefaultErrno::Enosys,
            native: Arch::X86_64,
        },
    )
    .profile;
    let text = to_json(&recorded).expect("json");
    assert_eq!(
        merged(&[input("r", &text), input("r", &text)]).expect("merge"),
        text
    );
}

#[test]
fn recordings_alone_give_what_record_would_write() {
    let s = r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":5},
                                {"arch":"SCMP_ARCH_X86_64","nr":999,"name":null,"count":1}]}"#;
    let m = merge(
        &[input("s.json", s)],
        &DefaultChoice::default(),
        Some(Arch::X86_64),
    )
    .expect("merge");
    let json: serde_json::Value =
        serde_json::from_str(&to_json(&m.profile).expect("json")).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
                "architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]})
    );
    assert_eq!(m.unnamed, [(PathBuf::from("s.json"), Arch::X86_64, 999)]);
}

#[test]
fn conflicting_defaults_are_refused_unless_chosen() {
    let eperm = A.replace("38", "1");
    let inputs = [input("a.json", A), input("e.json", &eperm)];
    let e = merged(&inputs).expect_err("conflict");
    assert_eq!(
            e.to_string(),
            "inputs disagree on defaultErrnoRet (a.json: 38, e.json: 1); choose with --default-from N, or --default-action ACTION and --default-errno ERRNO"
        );
    assert_eq!(e.category(), Category::BadInput);
    let pick = |choice: DefaultChoice| {
        merge(&inputs, &choice, Some(Arch::X86_64))
            .expect("merge")
            .profile
            .default_errno_ret()
    };
    assert_eq!(
        pick(DefaultChoice {
            from: Some(1),
            ..DefaultChoice::default()
        }),
        Some(1)
    );
    assert_eq!(
        pick(DefaultChoice {
            errno: Some(38),
            ..DefaultChoice::default()
        }),
        Some(38)
    );
    let kill = A.replace("SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38", "SCMP_ACT_KILL\"");
    let e = merged(&[input("a.json", A), input("k.json", &kill)]).expect_err("conflict");
    assert!(
        e.to_string().starts_with(
            "inputs disagree on defaultAction (a.json: SCMP_ACT_ERRNO, k.json: SCMP_ACT_KILL)"
        ),
        "{e}"
    );
    let m = merge(
        &[input("a.json", A), input("k.json", &kill)],
        &DefaultChoice {
            action: Some(LinuxSeccompAction::ScmpActKillProcess),
            ..DefaultChoice::default()
        },
        Some(Arch::X86_64),
    )
    .expect("merge");
    assert_eq!(m.profile.default_errno_ret(), None);
    let e = merge(
        &inputs,
        &DefaultChoice {
            action: Some(LinuxSeccompAction::ScmpActKill),
            errno: Some(1),
            ..DefaultChoice::default()
        },
        None,
    )
    .expect_err("refused");
    assert!(matches!(e, MergeError::ErrnoWithoutErrnoAction(_)));
    let e = merge(
        &inputs,
        &DefaultChoice {
            from: Some(5),
            ..DefaultChoice::default()
        },
        None,
    )
    .expect_err("refused");
    assert_eq!(e.category(), Category::Usage);
}

#[test]
fn other_actions_must_be_identical_everywhere() {
    let with_kill = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["ptrace","kexec_load"],"action":"SCMP_ACT_KILL"}]}"#;
    let e = merged(&[input("a.json", A), input("k.json", with_kill)]).expect_err("refused");
    assert_eq!(
            e.to_string(),
            "k.json: rule syscalls[1] (names: ptrace, kexec_load) with action SCMP_ACT_KILL is not in a.json; merge unites allow rules only, rules with other actions must be identical in every input"
        );
    // The same rule (names in another order) in every input is kept once.
    let other = with_kill.replace("\"ptrace\",\"kexec_load\"", "\"kexec_load\",\"ptrace\"");
    let out = merged(&[input("k.json", with_kill), input("o.json", &other)]).expect("merge");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["syscalls"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        json["syscalls"][1]["names"],
        serde_json::json!(["kexec_load", "ptrace"])
    );
    // A recording that used ptrace contradicts the rule.
    let s = r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":101,"name":"ptrace","count":1}]}"#;
    let e = merged(&[input("k.json", with_kill), input("s.json", s)]).expect_err("refused");
    assert!(
        e.to_string()
            .contains("gives 'ptrace' SCMP_ACT_KILL, but s.json allows it"),
        "{e}"
    );
}

#[test]
fn flags_must_agree() {
    let log = A.replace(
        "\"architectures\"",
        "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"architectures\"",
    );
    let e = merged(&[input("a.json", A), input("l.json", &log)]).expect_err("refused");
    assert!(
        e.to_string().starts_with(
            "inputs disagree on flags (a.json: [], l.json: [SECCOMP_FILTER_FLAG_LOG])"
        ),
        "{e}"
    );
    let out = merged(&[input("l.json", &log), input("l2.json", &log)]).expect("merge");
    assert!(out.contains("SECCOMP_FILTER_FLAG_LOG"));
}

#[test]
fn profiles_without_architectures() {
    let none = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
    let json: serde_json::Value =
        serde_json::from_str(&merged(&[input("n", none), input("n2", none)]).expect("merge"))
            .expect("json");
    assert!(json.get("architectures").is_none());
    // With one that lists x86, the native architecture the other meant is listed too.
    let x86 = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"]}"#;
    let json: serde_json::Value =
        serde_json::from_str(&merged(&[input("n", none), input("x", x86)]).expect("merge"))
            .expect("json");
    assert_eq!(
        json["architectures"],
        serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    );
}
