//! Hostile input: profile readers (profile_file::parse_profile, evidence::parse) and formats::render.

use super::*;

pub(super) const PROFILE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"defaultErrno":"ENOSYS",
"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],"flags":["SECCOMP_FILTER_FLAG_LOG"],
"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","comment":"x"},
{"name":"personality","action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]},
{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errno":"EPERM","errnoRet":1,"includes":{"caps":["CAP_SYS_ADMIN"],"arches":["amd64"],"minKernel":"4.8"},"excludes":{"caps":["CAP_BPF"]}}]}"#;

pub(super) const RESOURCE: &str = r#"{"apiVersion":"security-profiles-operator.x-k8s.io/v1beta1","kind":"SeccompProfile",
"metadata":{"name":"demo"},"spec":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"disabled":false,
"syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"}]}}"#;

pub(super) const STATS: &str = r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":1000000},
{"arch":"SCMP_ARCH_X86","nr":20,"name":null,"count":3},{"arch":"SCMP_ARCH_X86_64","nr":999,"name":null,"count":2}]}"#;

pub(super) const REPORT: &str = r#"{"runtime":"any","syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1,
"first":{"pid":123,"tid":124,"comm":"sh","after_ms":12.5}}],
"args":[{"arch":"SCMP_ARCH_X86_64","name":"socket","args":[{"index":0,"value":16},{"index":1,"value":3}],"count":2}]}"#;

pub(super) fn profile_allowed(e: &profile_file::ProfileFileError, text: &str) {
    assert_error(
        e,
        &[Category::BadInput, Category::UnknownArch],
        json_breaks(text),
    );
}

pub(super) fn evidence_allowed(e: &EvidenceError, text: &str) {
    assert_error(
        e,
        &[Category::BadInput, Category::UnknownArch],
        json_breaks(text),
    );
}

/// Reads `text` with both readers; never panics, errors are clean.
pub(super) fn read_both(text: &str, host: &HostFacts) {
    let path = Path::new("hostile.json");
    if let Err(e) = profile_file::parse_profile(text, path, host) {
        profile_allowed(&e, text);
    }
    match evidence::parse(text, path, host) {
        Ok(input) => {
            if let Err(e) = input.evidence() {
                evidence_allowed(&e, text);
            }
            let _ = evidence::permitted_names(input.variants().unwrap_or_default());
        }
        Err(e) => evidence_allowed(&e, text),
    }
}

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn readers_survive_arbitrary_text(text in hostile_string(), host in arb_host()) {
        read_both(&text, &host);
    }

    /// Bytes as the hook reads a base profile: lossy UTF-8 of whatever the file holds.
    #[e2e_macros::test]
    fn readers_survive_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_both(&String::from_utf8_lossy(&bytes), &x86_64_host());
    }

    #[e2e_macros::test]
    fn readers_survive_mutated_profiles_resources_stats_and_reports(
        seed in prop::sample::select(vec![PROFILE, RESOURCE, STATS, REPORT]),
        ops in mutations(),
        host in arb_host(),
    ) {
        let bytes = mutate(seed.as_bytes(), &ops);
        read_both(&String::from_utf8_lossy(&bytes), &host);
    }

    #[e2e_macros::test]
    fn readers_survive_arbitrary_json(v in arb_json(), host in arb_host()) {
        read_both(&v.to_string(), &host);
    }

    /// Profile-shaped JSON: every field present or not, of the right type with a
    /// hostile value or of any type, so that the resolution (errno names, archMap,
    /// includes/excludes against the host) is reached, not only the schema check.
    #[e2e_macros::test]
    fn readers_survive_profile_shaped_json(
        top in prop::collection::btree_map(
            prop::sample::select(vec!["defaultAction", "defaultErrnoRet", "defaultErrno", "architectures",
                "archMap", "flags", "listenerPath", "listenerMetadata", "disabled", "baseProfileName"]),
            prop_oneof![3 => typed_value(), 1 => small_json()], 0..5),
        rules in prop::collection::vec(arb_raw_rule(), 0..4),
        resource in any::<bool>(),
        host in arb_host(),
    ) {
        let mut top: serde_json::Map<String, Value> =
            top.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        top.entry("defaultAction").or_insert_with(|| "SCMP_ACT_ERRNO".into());
        top.insert("syscalls".into(), Value::Array(rules));
        let doc = if resource {
            serde_json::json!({"kind": "SeccompProfile", "spec": top})
        } else {
            Value::Object(top)
        };
        read_both(&doc.to_string(), &host);
    }

    /// Stats- and report-shaped JSON with hostile entries.
    #[e2e_macros::test]
    fn readers_survive_recording_shaped_json(
        lines in prop::collection::vec(
            (prop_oneof![3 => prop::sample::select(vec!["SCMP_ARCH_X86_64", "x86", "X32", "arm64", "SCMP_ARCH_ARM",
                    "riscv64", "SCMP_ARCH_PDP11", ""]).prop_map(Value::from), 1 => small_json()],
             prop_oneof![(0u64..600).prop_map(Value::from), any::<u64>().prop_map(Value::from), small_json()],
             prop_oneof![Just(Value::Null), prop::sample::select(vec!["read", "getppid", "sync", "bogus"]).prop_map(Value::from), small_json()],
             prop_oneof![3 => any::<u64>().prop_map(Value::from), 1 => small_json()],
             prop::option::of(prop_oneof![
                 3 => (any::<u32>(), any::<i64>(), hostile_string(), any::<f64>()).prop_map(|(pid, tid, comm, after)| {
                     serde_json::json!({"pid": pid, "tid": tid, "comm": comm, "after_ms": after})
                 }),
                 1 => small_json(),
             ])),
            0..8),
        extra in prop::option::of(small_json()),
    ) {
        let syscalls: Vec<Value> = lines.into_iter().map(|(arch, nr, name, count, first)| {
            let mut o = serde_json::json!({"arch": arch, "nr": nr, "name": name, "count": count});
            if let Some(f) = first {
                o["first"] = f;
            }
            o
        }).collect();
        let mut doc = serde_json::json!({"syscalls": syscalls});
        if let Some(x) = extra {
            doc["args"] = x;
        }
        let text = doc.to_string();
        match evidence::parse(&text, Path::new("r.json"), &x86_64_host()) {
            Ok(input) => {
                prop_assert!(matches!(input.kind, InputKind::Stats | InputKind::Report));
                for e in input.evidence().expect("recordings are evidence") {
                    let arch = e.arch.expect("recorded calls have an arch");
                    let nr = e.nr.expect("and a number");
                    if let Some(table) = arch.name_of(nr) {
                        prop_assert_eq!(e.name.as_str(), table);
                    }
                    prop_assert!(e.count.is_some_and(|c| c > 0));
                }
                for u in input.unnamed() {
                    prop_assert!(u.arch.name_of(u.nr).is_none());
                }
            }
            Err(e) => evidence_allowed(&e, &text),
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, &text).expect("write");
        let _ = seccomp_profile::arg_check::values_in(&p);
    }
}

/// A value of one of the types profile fields have: a known or hostile word, a
/// number, a list of words, an archMap entry list.
pub(super) fn typed_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        word().prop_map(Value::from),
        prop_oneof![0u32..64, Just(38), any::<u32>()].prop_map(Value::from),
        prop::collection::vec(word(), 0..4).prop_map(Value::from),
        prop::collection::vec(
            (
                word(),
                prop::option::of(prop::collection::vec(word(), 0..3))
            )
                .prop_map(|(a, subs)| {
                    let mut e = serde_json::json!({"architecture": a});
                    if let Some(s) = subs {
                        e["subArchitectures"] = s.into();
                    }
                    e
                }),
            0..3
        )
        .prop_map(Value::from),
    ]
}

/// `includes`/`excludes`: the keys podman knows and one it does not.
pub(super) fn arb_filter() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(vec!["caps", "arches", "minKernel", "os"]),
        prop_oneof![
            prop::collection::vec(word(), 0..3).prop_map(Value::from),
            prop::sample::select(vec![
                "4.8",
                "6.10",
                "99.1",
                "5",
                "a.b",
                "1.-1",
                "4294967296.1"
            ])
            .prop_map(Value::from),
            small_json(),
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// One rule of `syscalls`, each field optional, typed or not.
pub(super) fn arb_raw_rule() -> impl Strategy<Value = Value> {
    let arg = (
        prop::option::of(prop_oneof![3 => (0u64..8).prop_map(Value::from), 1 => small_json()]),
        prop::option::of(prop_oneof![3 => any::<u64>().prop_map(Value::from), 1 => small_json()]),
        prop::option::of(any::<u64>()),
        prop::option::of(word()),
        any::<bool>(),
    )
        .prop_map(|(index, value, value_two, op, extra)| {
            let mut a = serde_json::Map::new();
            for (k, v) in [
                ("index", index),
                ("value", value),
                ("valueTwo", value_two.map(Value::from)),
                ("op", op.map(Value::from)),
            ] {
                if let Some(v) = v {
                    a.insert(k.into(), v);
                }
            }
            if extra {
                a.insert("vlaue".into(), 1.into());
            }
            Value::Object(a)
        });
    (
        prop::option::of(prop_oneof![3 => prop::collection::vec(word(), 0..4).prop_map(Value::from), 1 => small_json()]),
        prop::option::of(word()),
        prop::option::of(prop_oneof![3 => word().prop_map(Value::from), 1 => small_json()]),
        prop::option::of(prop_oneof![any::<u32>().prop_map(Value::from), small_json()]),
        prop::option::of(prop_oneof![
            prop::sample::select(vec!["EPERM", "ENOSYS", "EWOULDBLOCK", "ENOTSUP", "13", "EFROB", "", "4096"])
                .prop_map(Value::from),
            word().prop_map(Value::from),
        ]),
        prop::option::of(prop_oneof![3 => prop::collection::vec(arg, 0..3).prop_map(Value::from), 1 => small_json()]),
        prop::option::of(arb_filter()),
        prop::option::of(arb_filter()),
        prop::option::of(word()),
    )
        .prop_map(|(names, name, action, errno_ret, errno, args, includes, excludes, comment)| {
            let mut r = serde_json::Map::new();
            for (k, v) in [
                ("names", names),
                ("name", name.map(Value::from)),
                ("action", action),
                ("errnoRet", errno_ret),
                ("errno", errno),
                ("args", args),
                ("includes", includes),
                ("excludes", excludes),
                ("comment", comment.map(Value::from)),
            ] {
                if let Some(v) = v {
                    r.insert(k.into(), v);
                }
            }
            Value::Object(r)
        })
}

/// Megabyte inputs are read (or refused) whole, without trouble.
#[e2e_macros::test]
fn huge_profiles_and_recordings_are_read() {
    let names: Vec<String> = (0..100_000).map(|i| format!("name_{i:06}")).collect();
    let text = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]})
    .to_string();
    assert!(text.len() > 1024 * 1024);
    let input = evidence::parse(&text, Path::new("big.json"), &x86_64_host()).expect("big profile");
    assert_eq!(input.evidence().expect("evidence").len(), 100_000);
    let lines: Vec<Value> = (0..30_000u64)
        .map(|nr| serde_json::json!({"arch": "SCMP_ARCH_X86_64", "nr": nr, "name": null, "count": 1}))
        .collect();
    let text = serde_json::json!({ "syscalls": lines }).to_string();
    assert!(text.len() > 1024 * 1024);
    let input = evidence::parse(&text, Path::new("big.json"), &x86_64_host()).expect("big stats");
    assert_eq!(
        input.evidence().expect("evidence").len() + input.unnamed().len(),
        30_000
    );
}

pub(super) const ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActTrap,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActNotify,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActAllow,
];

pub(super) const OPS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

pub(super) const FLAGS: [LinuxSeccompFilterFlag; 4] = [
    LinuxSeccompFilterFlag::SeccompFilterFlagLog,
    LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
];

pub(super) const TABLE_ARCHES: [OciArch; 6] = [
    OciArch::ScmpArchX86_64,
    OciArch::ScmpArchX86,
    OciArch::ScmpArchX32,
    OciArch::ScmpArchAarch64,
    OciArch::ScmpArchArm,
    OciArch::ScmpArchRiscv64,
];

pub(super) fn syscall_name() -> impl Strategy<Value = String> {
    let table: Vec<&'static str> = Arch::X86_64.table().into_iter().map(|(_, n)| n).collect();
    prop_oneof![
        4 => prop::sample::select(table).prop_map(str::to_owned),
        1 => "[a-z_0-9]{1,24}",
        1 => any::<String>(),
    ]
}

pub(super) fn arb_arg() -> impl Strategy<Value = LinuxSeccompArg> {
    (
        prop_oneof![4 => 0usize..6, 1 => any::<usize>()],
        prop_oneof![any::<u64>(), 0u64..64],
        prop::option::of(prop_oneof![any::<u64>(), 0u64..64]),
        prop::sample::select(OPS.to_vec()),
    )
        .prop_map(|(index, value, value_two, op)| {
            let mut b = LinuxSeccompArgBuilder::default()
                .index(index)
                .value(value)
                .op(op);
            if let Some(v) = value_two {
                b = b.value_two(v);
            }
            b.build().expect("every field is set")
        })
}

pub(super) fn arb_rule() -> impl Strategy<Value = LinuxSyscall> {
    (
        prop::collection::btree_set(syscall_name(), 0..6),
        prop::sample::select(ACTIONS.to_vec()),
        prop::option::of(prop_oneof![0u32..4096, any::<u32>()]),
        prop::option::of(prop::collection::vec(arb_arg(), 0..8)),
    )
        .prop_map(|(names, action, errno_ret, args)| {
            let mut r = LinuxSyscall::default();
            r.set_names(names.into_iter().collect());
            r.set_action(action);
            r.set_errno_ret(errno_ret);
            r.set_args(args);
            r
        })
}

/// Profiles as the formats can carry them; `arches` picks the architecture list.
pub(super) fn arb_profile(arches: Vec<OciArch>) -> impl Strategy<Value = LinuxSeccomp> {
    (
        prop::sample::select(ACTIONS.to_vec()),
        prop::option::of(prop_oneof![Just(1u32), Just(38u32), any::<u32>()]),
        prop::option::of(
            prop::sample::subsequence(arches.clone(), 0..=arches.len()).prop_shuffle(),
        ),
        prop::option::of(prop::sample::subsequence(FLAGS.to_vec(), 0..=FLAGS.len())),
        prop::option::of("/var/run/security-profiles-operator/[a-z0-9_.-]{1,20}"),
        prop::option::of(hostile_string()),
        prop::option::of(prop::collection::vec(arb_rule(), 0..6)),
    )
        .prop_map(
            |(action, errno, arches, flags, listener, metadata, rules)| {
                let mut p = LinuxSeccomp::default();
                p.set_default_action(action);
                p.set_default_errno_ret(errno);
                p.set_architectures(arches);
                p.set_flags(flags);
                p.set_listener_path(listener.map(PathBuf::from));
                p.set_listener_metadata(metadata);
                p.set_syscalls(rules);
                p
            },
        )
}

/// What a rule says, for comparing profiles: names, action, errno, conditions.
pub(super) type RuleKey = (
    Vec<String>,
    String,
    Option<u32>,
    Vec<(usize, u64, Option<u64>, String)>,
);

pub(super) fn rules_of(p: &LinuxSeccomp) -> Vec<RuleKey> {
    p.syscalls()
        .iter()
        .flatten()
        .map(|r| {
            (
                r.names().clone(),
                r.action().to_string(),
                r.errno_ret(),
                r.args()
                    .iter()
                    .flatten()
                    .map(|a| (a.index(), a.value(), a.value_two(), a.op().to_string()))
                    .collect(),
            )
        })
        .collect()
}

pub(super) fn flags_of(p: &LinuxSeccomp) -> Vec<LinuxSeccompFilterFlag> {
    p.flags().clone().unwrap_or_default()
}

pub(super) fn arches_of(p: &LinuxSeccomp) -> Vec<OciArch> {
    p.architectures().clone().unwrap_or_default()
}

pub(super) fn read_back(text: &str) -> evidence::Input {
    match evidence::parse(text, Path::new("rendered.json"), &x86_64_host()) {
        Ok(i) => i,
        Err(e) => panic!("our own rendering does not read back: {e}\n{text}"),
    }
}

pub(super) fn same_rules_and_settings(
    original: &LinuxSeccomp,
    read: &LinuxSeccomp,
    format: Format,
) {
    assert_eq!(rules_of(read), rules_of(original), "{format}: rules");
    assert_eq!(read.default_action(), original.default_action(), "{format}");
    assert_eq!(flags_of(read), flags_of(original), "{format}: flags");
    assert_eq!(read.listener_path(), original.listener_path(), "{format}");
    assert_eq!(
        read.listener_metadata(),
        original.listener_metadata(),
        "{format}"
    );
    if format != Format::Spo {
        // The SeccompProfile CRD has no defaultErrnoRet (formats.rs, a warning).
        assert_eq!(
            read.default_errno_ret(),
            original.default_errno_ret(),
            "{format}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    /// OCI: what is written reads back as it was, every architecture included.
    #[e2e_macros::test]
    fn oci_rendering_round_trips(p in arb_profile({
        let mut all = TABLE_ARCHES.to_vec();
        all.extend([OciArch::ScmpArchPpc64le, OciArch::ScmpArchS390x, OciArch::ScmpArchMips64, OciArch::ScmpArchLoongarch64]);
        all
    })) {
        let text = formats::render(&p, Format::Oci, "x").expect("oci renders everything");
        let input = read_back(&text);
        prop_assert_eq!(input.kind, InputKind::Profile);
        let variants = input.variants().expect("a profile");
        prop_assert_eq!(variants.len(), 1);
        let read = &variants[0].loaded.seccomp;
        same_rules_and_settings(&p, read, Format::Oci);
        prop_assert_eq!(arches_of(read), arches_of(&p));
        let direct = profile_file::parse_profile(&text, Path::new("r.json"), &x86_64_host()).expect("direct");
        prop_assert_eq!(rules_of(&direct.seccomp), rules_of(&p));
    }

    /// Docker: `archMap` resolves, over the hosts it names, to the same architectures.
    #[e2e_macros::test]
    fn docker_rendering_round_trips(p in arb_profile(TABLE_ARCHES.to_vec())) {
        let text = formats::render(&p, Format::Docker, "x").expect("docker renders table arches");
        let input = read_back(&text);
        let variants = input.variants().expect("a profile");
        let mut arches = BTreeSet::new();
        for v in variants {
            same_rules_and_settings(&p, &v.loaded.seccomp, Format::Docker);
            arches.extend(arches_of(&v.loaded.seccomp).into_iter().map(|a| a.to_string()));
        }
        let want: BTreeSet<String> = arches_of(&p).into_iter().map(|a| a.to_string()).collect();
        prop_assert_eq!(arches, want);
    }

    /// SPO: renders or refuses with 66 what the CRD cannot hold; what it renders reads
    /// back with the same rules.
    #[e2e_macros::test]
    fn spo_rendering_round_trips_or_is_refused(
        p in arb_profile(formats::SPO_ARCHITECTURES.iter().filter_map(|a| a.parse().ok()).collect()),
    ) {
        match formats::render(&p, Format::Spo, "hostile-test") {
            Ok(text) => {
                let input = read_back(&text);
                prop_assert_eq!(input.kind, InputKind::SeccompProfileResource);
                let variants = input.variants().expect("a profile");
                prop_assert_eq!(variants.len(), 1);
                let read = &variants[0].loaded.seccomp;
                same_rules_and_settings(&p, read, Format::Spo);
                prop_assert_eq!(arches_of(read), arches_of(&p));
            }
            Err(e) => {
                prop_assert!(matches!(e, FormatError::Unrepresentable { .. }), "{e:?}");
                assert_error(&e, &[Category::BadInput], "");
            }
        }
    }

    /// A recorded profile, in every format, allows exactly the recorded names.
    #[e2e_macros::test]
    fn recorded_profiles_read_back_with_the_recorded_names(
        calls in prop::collection::vec(
            (prop::sample::select(Arch::ALL.to_vec()), prop_oneof![0u64..600, any::<u64>()], 0u64..1_000_000),
            0..40),
        errno in prop::sample::select(vec![DefaultErrno::Enosys, DefaultErrno::Eperm]),
        format in prop::sample::select(vec![Format::Oci, Format::Docker, Format::Spo]),
    ) {
        let recorded: Vec<RecordedSyscall> = calls
            .iter()
            .map(|&(arch, nr, count)| {
                let nr = if arch == Arch::X32 { nr | seccomp_profile::syscalls::X32_SYSCALL_BIT } else { nr };
                RecordedSyscall { arch, nr, count }
            })
            .collect();
        let built = profile::build(&recorded, &ProfileOptions { errno, native: Arch::X86_64 });
        let text = formats::render(&built.profile, format, "recorded").expect("render");
        let allowed: BTreeSet<String> = read_back(&text)
            .evidence()
            .expect("a deny-by-default profile")
            .into_iter()
            .map(|e| e.name)
            .collect();
        let want: BTreeSet<String> = recorded
            .iter()
            .filter(|r| r.count > 0)
            .filter_map(|r| r.arch.name_of(r.nr))
            .map(str::to_owned)
            .collect();
        prop_assert_eq!(allowed, want);
        for (arch, nr) in &built.unnamed {
            prop_assert!(arch.name_of(*nr).is_none());
        }
    }

    /// Kubernetes names: whatever the file name, the resource name is valid or the
    /// error is a usage error (exit 2).
    #[e2e_macros::test]
    fn k8s_names_are_valid_or_refused(name in hostile_string()) {
        match formats::k8s_name(&name) {
            Ok(n) => prop_assert!(formats::is_k8s_name(&n), "{n:?}"),
            Err(e) => assert_error(&e, &[Category::Usage], &name),
        }
    }
}
