use super::*;

use crate::syscalls::Arch;

fn profile(arches: &[&str], names: &[&str]) -> LinuxSeccomp {
    serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": arches,
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }))
    .expect("profile")
}

fn allowed(p: &LinuxSeccomp) -> Vec<String> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
        .flat_map(|r| r.names().iter().cloned())
        .collect()
}

fn added_names(p: &Portable) -> Vec<&str> {
    p.added.iter().map(|a| a.name.as_str()).collect()
}

#[test]
fn every_name_of_the_table_is_a_syscall_somewhere() {
    for group in GROUPS {
        assert!(group.len() >= 2, "{group:?}");
        for name in *group {
            assert!(
                Arch::ALL.iter().any(|a| a.number_of(name).is_some()),
                "{name} is no syscall on any architecture we have a table for"
            );
        }
    }
}

#[test]
fn no_sibling_is_a_never_allow_call() {
    let policy = crate::policy::Policy::default_policy().expect("default policy");
    for group in GROUPS {
        for name in *group {
            assert!(policy.entry(name).is_none(), "{name} is never allowed");
        }
    }
    // clone3 is never a sibling of anything; clone only conditionally.
    for source in ["fork", "vfork", "clone", "clone3", "open", "stat"] {
        for s in siblings(source) {
            assert_ne!(s.name, "clone3", "{source}");
            if s.name == "clone" {
                assert_eq!(s.grant, Grant::WithoutNamespaceFlags, "{source}");
            }
        }
    }
}

#[test]
fn a_glibc_recording_gets_what_musl_calls_instead() {
    // The names glibc 2.36 calls for the program of tests/e2e/portable.rs where musl
    // 1.2.3 calls others (measured with strace, x86_64).
    let glibc = profile(
        &["SCMP_ARCH_X86_64"],
        &[
            "clone",
            "newfstatat",
            "openat",
            "pipe2",
            "pselect6",
            "write",
            "wait4",
        ],
    );
    let p = add(&glibc);
    let names = allowed(&p.profile);
    for musl in [
        "fork", "stat", "lstat", "fstat", "open", "pipe", "select", "writev",
    ] {
        assert!(names.iter().any(|n| n == musl), "{musl} missing: {names:?}");
    }
    // Nothing i386-only on an x86_64 profile, and never clone3.
    for absent in ["stat64", "fstatat64", "_newselect", "waitpid", "clone3"] {
        assert!(!names.iter().any(|n| n == absent), "{absent}: {names:?}");
    }
    let stat = p
        .added
        .iter()
        .find(|a| a.name == "stat")
        .expect("stat added");
    assert_eq!(stat.of, ["newfstatat"]);
    assert_eq!(stat.arches, ["SCMP_ARCH_X86_64"]);
    assert_eq!(stat.grant, Grant::Outright);
    // No conditional clone rule: clone itself is allowed.
    assert_eq!(p.profile.syscalls().as_ref().expect("rules").len(), 1);
}

#[test]
fn fork_brings_clone_only_without_namespace_flags() {
    let musl = profile(&["SCMP_ARCH_X86_64"], &["fork", "stat", "open"]);
    let p = add(&musl);
    assert!(!allowed(&p.profile).contains(&"clone".to_owned()));
    let rules = serde_json::to_value(p.profile.syscalls()).expect("json");
    assert_eq!(
        rules[1],
        serde_json::json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": CLONE_NEW_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    );
    let clone = p.added.iter().find(|a| a.name == "clone").expect("clone");
    assert_eq!(clone.grant, Grant::WithoutNamespaceFlags);
    assert_eq!(clone.of, ["fork"]);
    for glibc in ["newfstatat", "statx", "openat", "openat2", "vfork"] {
        assert!(allowed(&p.profile).iter().any(|n| n == glibc), "{glibc}");
    }
    // The guardrail agrees: no namespace can be made through what was added.
    let policy = crate::policy::Policy::default_policy().expect("policy");
    let text = serde_json::to_string(&p.profile).expect("json");
    let input =
        crate::evidence::parse(&text, std::path::Path::new("p.json"), &host()).expect("input");
    let variants = input.variants().expect("profile");
    assert_eq!(crate::policy::evaluate(&policy, variants), Vec::new());
}

fn host() -> crate::profile_file::HostFacts {
    crate::profile_file::HostFacts::test_x86_64(u64::MAX >> 23)
}

#[test]
fn siblings_follow_each_architecture_table() {
    // aarch64 has neither open nor stat nor pipe: only the *at and 2 forms.
    let p = add(&profile(
        &["SCMP_ARCH_AARCH64"],
        &["openat", "newfstatat", "pipe2", "ppoll"],
    ));
    assert_eq!(added_names(&p), ["fstat", "openat2", "statx"]);
    // i386: the 64-bit file forms and the old select, never newfstatat.
    let p = add(&profile(&["SCMP_ARCH_X86"], &["stat", "select"]));
    let names = added_names(&p);
    for want in [
        "fstatat64",
        "stat64",
        "lstat64",
        "statx",
        "_newselect",
        "pselect6_time64",
    ] {
        assert!(names.contains(&want), "{want}: {names:?}");
    }
    assert!(!names.contains(&"newfstatat"), "{names:?}");
    // Two architectures: each added where its own table has it.
    let p = add(&profile(&["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], &["stat"]));
    let stat64 = p.added.iter().find(|a| a.name == "stat64").expect("stat64");
    assert_eq!(stat64.arches, ["SCMP_ARCH_X86"]);
    let newfstatat = p.added.iter().find(|a| a.name == "newfstatat").expect("nf");
    assert_eq!(newfstatat.arches, ["SCMP_ARCH_X86_64"]);
    let statx = p.added.iter().find(|a| a.name == "statx").expect("statx");
    assert_eq!(statx.arches, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
}

#[test]
fn adding_is_idempotent_and_leaves_allow_by_default_alone() {
    let once = add(&profile(&["SCMP_ARCH_X86_64"], &["fork", "read"])).profile;
    let twice = add(&once);
    assert_eq!(twice.profile, once);
    assert!(twice.added.is_empty());
    let mut allow_all = profile(&["SCMP_ARCH_X86_64"], &["read"]);
    allow_all.set_default_action(LinuxSeccompAction::ScmpActAllow);
    let p = add(&allow_all);
    assert_eq!(p.profile, allow_all);
    assert!(p.added.is_empty());
    // A name nothing is a sibling of adds nothing.
    let p = add(&profile(&["SCMP_ARCH_X86_64"], &["getppid"]));
    assert!(p.added.is_empty());
}

#[test]
fn a_recorded_clone_rule_is_a_source_and_not_repeated() {
    // record --args wrote clone's rule for forks: fork and vfork come along, and the
    // same rule is not added twice.
    let mut p = profile(&["SCMP_ARCH_X86_64"], &["getppid"]);
    let mut rules = p.syscalls().clone().expect("rules");
    rules.push(clone_without_namespaces());
    p.set_syscalls(Some(rules));
    let out = add(&add(&profile(&["SCMP_ARCH_X86_64"], &["vfork"])).profile);
    assert!(out.added.is_empty());
    let q = add(&p);
    assert_eq!(added_names(&q), ["fork", "vfork"]);
    assert_eq!(q.profile.syscalls().as_ref().expect("rules").len(), 2);
}

#[test]
fn variants_are_found_from_the_allowed_names() {
    let allowed: BTreeSet<String> = ["newfstatat", "clone", "read"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let x86_64 = crate::arch::to_oci(Arch::X86_64);
    assert_eq!(variant_of(x86_64, "stat", &allowed), ["newfstatat"]);
    assert_eq!(variant_of(x86_64, "fork", &allowed), ["clone"]);
    assert_eq!(variant_of(x86_64, "readv", &allowed), ["read"]);
    assert!(variant_of(x86_64, "clone3", &allowed).is_empty());
    assert!(variant_of(x86_64, "sync", &allowed).is_empty());
    // stat64 is no x86_64 syscall.
    assert!(variant_of(x86_64, "stat64", &allowed).is_empty());
}
