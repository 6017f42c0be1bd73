use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::profile_file::{parse_profile, HostFacts};
use crate::syscalls::Arch;

fn profile(text: &str) -> LinuxSeccomp {
    serde_json::from_str(text).expect("test profile")
}

fn sample() -> LinuxSeccomp {
    profile(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [
                  {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
}

fn json_of(text: &str) -> Value {
    assert!(text.ends_with("}\n"), "pretty JSON with a trailing newline");
    serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn oci_is_profile_to_json() {
    let p = sample();
    let text = render(&p, Format::Oci, "ignored").expect("oci");
    assert_eq!(text, profile::to_json(&p).expect("json"));
    let back: LinuxSeccomp = serde_json::from_str(&text).expect("parses back");
    assert_eq!(back, p);
}

fn x86_64_host() -> HostFacts {
    HostFacts {
        native_arch: Some(Arch::X86_64),
        go_arch: "amd64",
        bounding_caps: Some(0),
        kernel: Some((6, 1)),
    }
}

#[test]
fn docker_has_archmap_with_only_the_profiles_arches() {
    let text = render(&sample(), Format::Docker, "ignored").expect("docker");
    let v = json_of(&text);
    assert_eq!(
        v,
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
              {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
              {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        })
    );
    // Read back the way podman does it (our parser follows containers/common):
    // the same profile on an x86_64 host.
    let loaded = parse_profile(&text, Path::new("d.json"), &x86_64_host()).expect("parses back");
    assert_eq!(loaded.seccomp, sample());
}

#[test]
fn docker_keeps_flags_listener_and_empty_syscalls() {
    let p = profile(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "listenerPath": "/run/agent.sock", "listenerMetadata": "m"}"#,
    );
    let v = json_of(&render(&p, Format::Docker, "x").expect("docker"));
    assert_eq!(
        v,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                   "listenerPath": "/run/agent.sock", "listenerMetadata": "m", "syscalls": []})
    );
}

#[test]
fn arch_map_lists_exactly_the_profiles_arches() {
    use OciArch::*;
    let entry = |a, subs: &[OciArch]| ArchMapEntry {
        architecture: a,
        sub_architectures: subs.to_vec(),
    };
    // The native one only: no sub-architectures are added.
    let (m, notes) = arch_map(&[ScmpArchX86_64]);
    assert_eq!(m, [entry(ScmpArchX86_64, &[])]);
    assert!(notes.is_empty());
    let (m, _) = arch_map(&[ScmpArchX32, ScmpArchX86_64, ScmpArchX86, ScmpArchX86_64]);
    assert_eq!(m, [entry(ScmpArchX86_64, &[ScmpArchX32, ScmpArchX86])]);
    // Two families (a merged profile): one entry each.
    let (m, notes) = arch_map(&[ScmpArchX86_64, ScmpArchAarch64, ScmpArchArm]);
    assert_eq!(
        m,
        [
            entry(ScmpArchX86_64, &[]),
            entry(ScmpArchAarch64, &[ScmpArchArm])
        ]
    );
    assert!(notes.is_empty());
    // riscv64 is not selectable by podman; alone it is the host's native anyway.
    let (m, notes) = arch_map(&[ScmpArchRiscv64]);
    assert_eq!(m, [entry(ScmpArchRiscv64, &[])]);
    assert!(notes.is_empty());
    // A sub-architecture without its native one: listed, with a warning.
    let (m, notes) = arch_map(&[ScmpArchAarch64, ScmpArchX86]);
    assert_eq!(m, [entry(ScmpArchAarch64, &[]), entry(ScmpArchX86, &[])]);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].contains("on SCMP_ARCH_X86_64 hosts SCMP_ARCH_X86 would not be in the filter"),
        "{}",
        notes[0]
    );
    // mips64 and mips64n32 are each other's sub-architecture: both entries.
    let (m, _) = arch_map(&[ScmpArchMips64, ScmpArchMips64n32]);
    assert_eq!(
        m,
        [
            entry(ScmpArchMips64, &[ScmpArchMips64n32]),
            entry(ScmpArchMips64n32, &[ScmpArchMips64])
        ]
    );
    assert!(arch_map(&[]).0.is_empty());
}

#[test]
fn arch_families_match_podmans_default_profile() {
    // Where podman is installed, its own archMap gives the families.
    let Ok(text) = std::fs::read_to_string("/usr/share/containers/seccomp.json") else {
        return;
    };
    let v: Value = serde_json::from_str(&text).expect("podman's profile is JSON");
    for entry in v["archMap"].as_array().expect("archMap") {
        let native = entry["architecture"].as_str().expect("architecture");
        let subs: Vec<&str> = entry["subArchitectures"]
            .as_array()
            .expect("subs")
            .iter()
            .map(|s| s.as_str().expect("sub"))
            .collect();
        let ours = ARCH_FAMILIES
            .iter()
            .find(|(n, _)| n.to_string() == native)
            .unwrap_or_else(|| panic!("{native} missing"));
        let our_subs: Vec<String> = ours.1.iter().map(|a| a.to_string()).collect();
        assert_eq!(our_subs, subs, "{native}");
    }
}

#[test]
fn spo_resource() {
    let text = render(&sample(), Format::Spo, "My_App").expect("spo");
    let v = json_of(&text);
    assert_eq!(
        v,
        json!({
            "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
            "kind": "SeccompProfile",
            "metadata": {"name": "my-app"},
            "spec": {
              "defaultAction": "SCMP_ACT_ERRNO",
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "syscalls": [
                {"names": ["read", "write", "execve"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            }
        })
    );
    // Key order is fixed: apiVersion, kind, metadata, spec.
    let keys: Vec<usize> = ["\"apiVersion\"", "\"kind\"", "\"metadata\"", "\"spec\""]
        .iter()
        .map(|k| text.find(k).expect("key"))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(
        render(&sample(), Format::Spo, "My_App").expect("again"),
        text
    );
}

#[test]
fn spo_warns_when_the_default_errno_is_lost() {
    let notes = render_notes(&sample(), Format::Spo);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("no defaultErrnoRet"), "{}", notes[0]);
    assert!(notes[0].contains("instead of ENOSYS"), "{}", notes[0]);
    let mut eperm = sample();
    eperm.set_default_errno_ret(Some(1));
    assert!(render_notes(&eperm, Format::Spo).is_empty());
    eperm.set_default_errno_ret(None);
    assert!(render_notes(&eperm, Format::Spo).is_empty());
    let zero = profile(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}]}"#,
    );
    let notes = render_notes(&zero, Format::Spo);
    assert!(
        notes[0].contains("syscalls[0].errnoRet 0 is dropped"),
        "{notes:?}"
    );
}

#[test]
fn spo_refuses_what_the_crd_cannot_hold() {
    let err = |text: &str| {
        render(&profile(text), Format::Spo, "p")
            .expect_err("refused")
            .to_string()
    };
    let msg = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"]}"#,
    );
    assert!(
        msg.starts_with(
            "architectures[1]: SCMP_ARCH_LOONGARCH64 cannot be written in the spo format"
        ),
        "{msg}"
    );
    let msg = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
    );
    assert!(
        msg.starts_with("syscalls[0].args[0].value: 18446744073709551615"),
        "{msg}"
    );
    let msg = err(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#,
    );
    assert!(msg.contains("at least one name"), "{msg}");
    let msg = err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}"#);
    assert!(msg.starts_with("listenerPath: /run/agent.sock"), "{msg}");
    render(
            &profile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/var/run/security-profiles-operator/a.sock"}"#),
            Format::Spo,
            "p",
        )
        .expect("allowed listener path");
    let e = render(&sample(), Format::Spo, "__").expect_err("no name");
    assert_eq!(e.category(), Category::Usage);
}

#[test]
fn spo_dedups_set_lists() {
    let p = profile(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [{"names": ["read", "read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
    );
    let v = json_of(&render(&p, Format::Spo, "p").expect("spo"));
    assert_eq!(v["spec"]["architectures"], json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(v["spec"]["flags"], json!(["SECCOMP_FILTER_FLAG_LOG"]));
    assert_eq!(v["spec"]["syscalls"][0]["names"], json!(["read", "write"]));
}

#[test]
fn names_become_dns_subdomains() {
    for (input, want) in [
        ("web", "web"),
        ("My_App", "my-app"),
        ("nginx.json", "nginx.json"),
        ("-a..b-", "a.b"),
        ("a b/c", "a-b-c"),
        ("café", "caf"),
        ("x.-y", "x.y"),
    ] {
        let got = k8s_name(input).expect(input);
        assert_eq!(got, want, "{input}");
        assert!(is_k8s_name(&got), "{got}");
    }
    let long = "a".repeat(300);
    assert_eq!(k8s_name(&long).expect("long").len(), 253);
    let cut = format!("{}.-b", "a".repeat(252));
    let got = k8s_name(&cut).expect("cut");
    assert!(is_k8s_name(&got), "{got}");
    for bad in ["", "___", "..", "-"] {
        assert!(
            matches!(k8s_name(bad), Err(FormatError::InvalidName(_))),
            "{bad}"
        );
    }
    assert!(!is_k8s_name("A"));
    assert!(!is_k8s_name("a..b"));
    assert!(!is_k8s_name("a-"));
}

// --- The SPO output against the published CRD schema (a copy in tests/fixtures).

const CRD: &str = include_str!("../../../tests/fixtures/spo-seccompprofile-crd.json");

fn crd() -> Value {
    serde_json::from_str(CRD).expect("fixture is JSON")
}

/// A small structural-schema check (the OpenAPI v3 subset the CRD uses): types,
/// no fields the schema lacks, enums, required, minimum, min/maxItems, int32/int64
/// ranges, `x-kubernetes-list-type: set` uniqueness.
fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    match ty {
        "object" => {
            let Some(map) = v.as_object() else {
                errors.push(format!("{path}: not an object"));
                return;
            };
            let props = schema["properties"].as_object();
            if let Some(props) = props {
                for (k, sub) in map {
                    match props.get(k) {
                        Some(s) => check(s, sub, &format!("{path}.{k}"), errors),
                        None => errors.push(format!("{path}.{k}: not in the schema")),
                    }
                }
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().expect("required name");
                if !map.contains_key(r) {
                    errors.push(format!("{path}.{r}: required"));
                }
            }
        }
        "array" => {
            let Some(items) = v.as_array() else {
                errors.push(format!("{path}: not an array"));
                return;
            };
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    errors.push(format!("{path}: more than {max} items"));
                }
            }
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    errors.push(format!("{path}: fewer than {min} items"));
                }
            }
            if schema["x-kubernetes-list-type"] == "set" {
                for (i, x) in items.iter().enumerate() {
                    if items[..i].contains(x) {
                        errors.push(format!("{path}[{i}]: duplicate in a set"));
                    }
                }
            }
            for (i, x) in items.iter().enumerate() {
                check(&schema["items"], x, &format!("{path}[{i}]"), errors);
            }
        }
        "string" => {
            if !v.is_string() {
                errors.push(format!("{path}: not a string"));
            }
        }
        "integer" => {
            let Some(n) = v.as_i64() else {
                errors.push(format!("{path}: not an integer in range"));
                return;
            };
            if let Some(min) = schema["minimum"].as_i64() {
                if n < min {
                    errors.push(format!("{path}: below {min}"));
                }
            }
            if schema["format"] == "int32" && i32::try_from(n).is_err() {
                errors.push(format!("{path}: not an int32"));
            }
        }
        "boolean" => {
            if !v.is_boolean() {
                errors.push(format!("{path}: not a boolean"));
            }
        }
        other => errors.push(format!("{path}: schema type {other:?} not handled")),
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(v) {
            errors.push(format!("{path}: {v} not in the enum"));
        }
    }
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(&crd()["openAPIV3Schema"], doc, "", &mut errors);
    errors
}

#[test]
fn spo_output_conforms_to_the_published_crd() {
    let crd = crd();
    let wide = profile(
        r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_NATIVE", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                   "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390X", "SCMP_ARCH_PPC64LE"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "listenerPath": "/var/run/security-profiles-operator/agent.sock", "listenerMetadata": "meta",
                "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["a"], "action": "SCMP_ACT_KILL"},
                  {"names": ["b"], "action": "SCMP_ACT_KILL_THREAD"},
                  {"names": ["c"], "action": "SCMP_ACT_TRAP"},
                  {"names": ["d"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                  {"names": ["e"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
                  {"names": ["f"], "action": "SCMP_ACT_LOG"},
                  {"names": ["g"], "action": "SCMP_ACT_NOTIFY"},
                  {"names": ["h"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_NE"},
                    {"index": 1, "value": 2, "op": "SCMP_CMP_LT"},
                    {"index": 2, "value": 3, "op": "SCMP_CMP_LE"},
                    {"index": 3, "value": 4, "op": "SCMP_CMP_EQ"},
                    {"index": 4, "value": 5, "op": "SCMP_CMP_GE"},
                    {"index": 5, "value": 6, "valueTwo": 0, "op": "SCMP_CMP_GT"}]},
                  {"names": ["i"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
    );
    for p in [sample(), wide] {
        let v: Value =
            serde_json::from_str(&render(&p, Format::Spo, "x").expect("spo")).expect("json");
        assert_eq!(
            v["apiVersion"],
            format!(
                "{}/{}",
                crd["group"].as_str().expect("group"),
                crd["version"].as_str().expect("version")
            )
        );
        assert_eq!(v["kind"], crd["kind"]);
        assert_eq!(schema_errors(&v), Vec::<String>::new());
    }
    // The checker does catch what the CRD refuses.
    let bad = json!({"apiVersion": SPO_API_VERSION, "kind": SPO_KIND, "metadata": {"name": "x"},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                     "architectures": ["SCMP_ARCH_LOONGARCH64"],
                     "syscalls": [{"names": ["a", "a"], "action": "SCMP_ACT_ALOW"}]}});
    let errors = schema_errors(&bad);
    for want in [
        ".spec.defaultErrnoRet: not in the schema",
        ".spec.architectures[0]: \"SCMP_ARCH_LOONGARCH64\" not in the enum",
        ".spec.syscalls[0].names[1]: duplicate in a set",
        ".spec.syscalls[0].action: \"SCMP_ACT_ALOW\" not in the enum",
    ] {
        assert!(errors.iter().any(|e| e == want), "{want} not in {errors:?}");
    }
}

#[test]
fn spo_constants_are_the_crds_enums() {
    let crd = crd();
    let spec = &crd["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("enum")
            .iter()
            .map(|s| s.as_str().expect("string").to_owned())
            .collect()
    };
    assert_eq!(
        strings(&spec["architectures"]["items"]["enum"]),
        SPO_ARCHITECTURES
    );
    // Every action, operator and flag oci-spec has is in the CRD's enums.
    let actions = strings(&spec["defaultAction"]["enum"]);
    for a in [
        LinuxSeccompAction::ScmpActKill,
        LinuxSeccompAction::ScmpActKillThread,
        LinuxSeccompAction::ScmpActKillProcess,
        LinuxSeccompAction::ScmpActTrap,
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActNotify,
        LinuxSeccompAction::ScmpActTrace,
        LinuxSeccompAction::ScmpActLog,
        LinuxSeccompAction::ScmpActAllow,
    ] {
        assert!(actions.contains(&a.to_string()), "{a}");
    }
    assert_eq!(
        strings(&spec["syscalls"]["items"]["properties"]["action"]["enum"]),
        actions
    );
    let flags = strings(&spec["flags"]["items"]["enum"]);
    for f in [
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
    ] {
        assert!(flags.contains(&f.to_string()), "{f}");
    }
    assert_eq!(flags.len(), 4);
    // No default errno in the CRD (so the warning above is needed).
    let keys: Vec<&String> = spec.as_object().expect("spec").keys().collect();
    assert!(
        !keys.iter().any(|k| k.to_lowercase().contains("errno")),
        "{keys:?}"
    );
    assert_eq!(
        spec["listenerPath"]["pattern"],
        r"^/var/run/security-profiles-operator/[a-zA-Z0-9_\-\.]+$"
    );
}

#[test]
fn format_names() {
    assert_eq!(Format::default(), Format::Oci);
    assert_eq!(Format::Docker.to_string(), "docker");
    #[cfg(feature = "clap")]
    {
        use clap::ValueEnum;
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["oci", "docker", "spo"]);
    }
}
