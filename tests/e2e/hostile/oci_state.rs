//! Hostile input: the OCI state (hook::parse_state, hook::run).

use super::*;

pub(super) fn state_allowed(e: &HookError, input: &[u8]) {
    assert!(
        matches!(e, HookError::State(_) | HookError::StateShape),
        "unexpected error kind: {e:?}"
    );
    assert_error(
        e,
        &[Category::BadInput],
        json_breaks(&String::from_utf8_lossy(input)),
    );
}

pub(super) const STATE: &str = concat!(
    r#"{"ociVersion":"1.0.2-dev","id":"abc","status":"created","pid":4242,"#,
    r#""bundle":"/var/lib/containers/x","annotations":{"#,
    r#""io.containers.trace-syscall":"if:/b.json;of:/o.json","seccomp-recorder.io/errno":"EPERM"}}"#
);

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn state_arbitrary_bytes_are_refused_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Err(e) = hook::parse_state(&bytes) {
            state_allowed(&e, &bytes);
        }
    }

    #[e2e_macros::test]
    fn state_mutations_are_parsed_or_refused_cleanly(ops in mutations()) {
        let bytes = mutate(STATE.as_bytes(), &ops);
        match hook::parse_state(&bytes) {
            Ok(st) => prop_assert!(!st.id().is_empty()),
            Err(e) => state_allowed(&e, &bytes),
        }
    }

    #[e2e_macros::test]
    fn state_arbitrary_json_is_parsed_or_refused_cleanly(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).expect("serialize");
        match hook::parse_state(&bytes) {
            Ok(st) => prop_assert!(!st.id().is_empty()),
            Err(e) => state_allowed(&e, &bytes),
        }
    }

    #[e2e_macros::test]
    fn state_round_trips(
        id in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}",
        pid in prop::option::of(any::<i32>()),
        status in prop::sample::select(vec!["creating", "created", "running", "stopped"]),
        annotations in prop::collection::hash_map(hostile_string(), hostile_string(), 0..6),
    ) {
        let mut v = serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": status,
            "bundle": "/b", "annotations": annotations});
        if let Some(p) = pid {
            v["pid"] = p.into();
        }
        let st = hook::parse_state(&serde_json::to_vec(&v).expect("json")).expect("valid state");
        prop_assert_eq!(st.id(), id.as_str());
        prop_assert_eq!(*st.pid(), pid);
        prop_assert_eq!(st.annotations().clone().unwrap_or_default(), annotations);
    }

    /// Raw bytes that are not UTF-8 inside a JSON string: refused, not mangled.
    #[e2e_macros::test]
    fn state_with_invalid_utf8_is_refused(
        prefix in "[a-z]{0,8}",
        bad in prop::sample::select(vec![vec![0xff], vec![0xc3], vec![0xed, 0xa0, 0x80], vec![0xf8, 0x88, 0x80, 0x80, 0x80], vec![0xc0, 0xaf]]),
    ) {
        let mut bytes = format!(r#"{{"id":"x","annotations":{{"seccomp-recorder.io/output":"{prefix}"#).into_bytes();
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(br#""}}"#);
        let e = hook::parse_state(&bytes).expect_err("invalid UTF-8 accepted");
        state_allowed(&e, &bytes);
    }
}

pub(super) fn deep(open: &str, close: &str, depth: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth);
    for _ in 0..depth {
        s.push_str(open);
    }
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

/// 100,000 levels of nesting anywhere: serde_json's recursion limit (128) answers with
/// an error, the stack never overflows.
#[e2e_macros::test]
fn deep_nesting_is_refused_by_every_json_reader() {
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let nested = deep(open, close, 100_000);
        let state = format!(r#"{{"id":"x","annotations":{{"k":{nested}}}}}"#);
        let e = hook::parse_state(state.as_bytes()).expect_err("deep state");
        state_allowed(&e, state.as_bytes());
        let e = hook::parse_state(nested.as_bytes()).expect_err("deep state");
        state_allowed(&e, nested.as_bytes());
        for text in [
            nested.clone(),
            format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{{"x":{nested}}}}}]}}"#
            ),
            format!(r#"{{"kind":"SeccompProfile","spec":{nested}}}"#),
            format!(r#"{{"syscalls":[{{"arch":"x86_64","nr":1,"count":1,"x":{nested}}}]}}"#),
        ] {
            let path = Path::new("deep.json");
            let e = profile_file::parse_profile(&text, path, &x86_64_host()).expect_err("deep");
            profile_allowed(&e, &text);
            let e = evidence::parse(&text, path, &x86_64_host()).expect_err("deep");
            evidence_allowed(&e, &text);
        }
        // What `check` reads the argument values with: nothing, no overflow.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, format!(r#"{{"syscalls":[],"args":{nested}}}"#)).expect("write");
        assert!(seccomp_profile::arg_check::values_in(&p).is_empty());
    }
}

/// The hook's run and pin directories below a path of this test process (given to
/// `hook::run_in`; the process environment is shared with every other test module):
/// a hook run that got further than it should would create it, instead of touching
/// /run.
pub(super) fn isolated_run_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("hostile-run-{}", std::process::id())))
}

/// [`isolated_run_dir`] as the hook's paths.
pub(super) fn isolated_paths() -> TracerPaths {
    let d = isolated_run_dir();
    TracerPaths {
        bpf_base: d.join("bpf"),
        run_dir: d.to_owned(),
        btf: PathBuf::from(seccomp_recorder::kernel::btf::VMLINUX_BTF),
    }
}

pub(super) fn hook_args(out: &Path, stage: Stage) -> HookOptions {
    let run_dir = isolated_run_dir();
    assert!(!run_dir.exists(), "a hook run reached the run directory");
    HookOptions {
        output_dirs: vec![out.to_owned()],
        input_dirs: Vec::new(),
        stage,
    }
}

/// The hook reads at most 1 MiB of state (`MAX_STATE`): a bigger one is cut there and
/// refused as malformed (66), never parsed in part.
#[e2e_macros::test]
fn oversized_state_is_refused_as_bad_input() {
    let out = tempfile::tempdir().expect("tempdir");
    for size in [1024 * 1024 + 1, 1536 * 1024, 2 * 1024 * 1024] {
        let pad = "a".repeat(size);
        let state = format!(
            r#"{{"id":"big","status":"created","annotations":{{"pad":"{pad}","seccomp-recorder.io/output":"x.json"}}}}"#
        );
        let e = hook::run_in(
            &hook_args(out.path(), Stage::Prestart),
            &mut Cursor::new(state.as_bytes()),
            &isolated_paths(),
        )
        .expect_err("oversized state accepted");
        state_allowed(&e, b"");
        assert_eq!(e.category().code(), 66);
    }
    // Just under the limit it is read whole: an annotation we do not read is ignored.
    let pad = "a".repeat(1024 * 1024 - 200);
    let state = format!(r#"{{"id":"big","status":"created","annotations":{{"pad":"{pad}"}}}}"#);
    assert!(state.len() < 1024 * 1024);
    hook::run_in(
        &hook_args(out.path(), Stage::Prestart),
        &mut Cursor::new(state.as_bytes()),
        &isolated_paths(),
    )
    .expect("a state under the limit without a recording annotation is a no-op");
    assert_eq!(std::fs::read_dir(out.path()).expect("ls").count(), 0);
}

pub(super) fn annotation_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(annotations::ALL.to_vec()).prop_map(str::to_owned),
        1 => hostile_string(),
    ]
}

pub(super) fn annotation_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => hostile_string(),
        1 => prop::sample::select(vec![
            "x.json", "sub/x.json", "of:x.json", "if:b.json;of:x.json", "of:/x.json",
            "of:../x.json", "../x.json", "/etc/x.json", "/proc/self/root/etc/x.json",
            "link/x.json", "file.json", "EPERM", "enosys", "38", "spo", "docker", "oci",
            "runc", "detected", "true", "yes", "0", "", " ", "x.json/",
        ]).prop_map(str::to_owned),
    ]
}

/// A hook directory with a symlink to the outside and a symlinked file planted in it.
pub(super) struct Planted {
    pub(super) _tmp: tempfile::TempDir,
    pub(super) out: PathBuf,
    pub(super) outside: PathBuf,
}

pub(super) fn planted() -> Planted {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&out).expect("mkdir out");
    std::fs::create_dir(&outside).expect("mkdir outside");
    std::os::unix::fs::symlink(&outside, out.join("link")).expect("symlink dir");
    std::os::unix::fs::symlink(outside.join("f"), out.join("file.json")).expect("symlink file");
    Planted {
        _tmp: tmp,
        out,
        outside,
    }
}

pub(super) fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(config())]

    /// The whole prestart path on hostile annotations, up to where it would need the
    /// kernel (the state has no pid, so it stops with "no pid" at the latest): refused
    /// with 66 (74 for a base profile that cannot be read), and nothing is created,
    /// neither in the output directory nor outside it.
    #[e2e_macros::test]
    fn prestart_on_hostile_annotations_refuses_and_writes_nothing(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 0..5),
        id in prop_oneof![Just("ctr".to_owned()), hostile_string()],
        stage in prop::sample::select(vec![Stage::Prestart, Stage::CreateRuntime]),
    ) {
        let p = planted();
        let state = serde_json::json!({"id": id, "status": "created", "annotations": anns});
        let bytes = serde_json::to_vec(&state).expect("json");
        let asked = annotations::parse(&anns);
        let result = hook::run_in(&hook_args(&p.out, stage), &mut Cursor::new(bytes.clone()), &isolated_paths());
        match result {
            Ok(()) => prop_assert!(matches!(asked, Ok(None)) || id.is_empty(), "ran without pid: {anns:?}"),
            Err(e) => {
                let base_asked = matches!(&asked, Ok(Some(r)) if r.base.is_some());
                let allowed: &[Category] = if base_asked {
                    &[Category::BadInput, Category::Io]
                } else {
                    &[Category::BadInput]
                };
                let nl = id.contains('\n') || anns.iter().any(|(k, v)| k.contains('\n') || v.contains('\n'));
                assert_error(&e, allowed, if nl { "\n" } else { "" });
            }
        }
        prop_assert_eq!(entries(&p.out), BTreeSet::from(["file.json".to_owned(), "link".to_owned()]));
        prop_assert!(entries(&p.outside).is_empty());
    }

    /// Poststop with an id that cannot be a file name is refused before anything is
    /// opened.
    #[e2e_macros::test]
    fn poststop_refuses_ids_that_are_not_file_names(
        bad in prop::sample::select(vec!["..", ".", "-", "a/", "/", "a b", "é", "\0", "\n", "*"]),
        rest in hostile_string(),
        long in any::<bool>(),
    ) {
        // Each prefix makes the id invalid; so does a length over 128.
        let id = if long { format!("{}{rest}", "a".repeat(129)) } else { format!("{bad}{rest}") };
        prop_assert!(seccomp_recorder::session::state::validate_id(&id).is_err(), "{id:?}");
        let p = planted();
        let bytes = serde_json::to_vec(&serde_json::json!({"id": id, "status": "stopped"})).expect("json");
        let e = hook::run_in(&hook_args(&p.out, Stage::Poststop), &mut Cursor::new(bytes), &isolated_paths()).expect_err("bad id accepted");
        prop_assert!(matches!(e, HookError::Store(_)), "{e:?}");
        assert_error(&e, &[Category::BadInput], &id);
    }
}

proptest! {
    #![proptest_config(config())]

    /// Claimed state files (`.ID.finishing-PID`) in the run directory: names that do
    /// not parse are ignored, ours parse back.
    #[e2e_macros::test]
    fn claim_names_parse_back_or_are_ignored(
        name in hostile_string(),
        id in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}",
        pid in 1i32..i32::MAX,
    ) {
        if let Some((id, _)) = seccomp_recorder::session::state::parse_claim_name(&name) {
            prop_assert!(name.starts_with('.') && name.contains(id));
        }
        let ours = format!(".{id}.finishing-{pid}");
        prop_assert_eq!(seccomp_recorder::session::state::parse_claim_name(&ours), Some((id.as_str(), pid)));
    }
}

/// The kernel's escaping of a mount point in `/proc/self/mountinfo` (`seq_path` with
/// " \t\n\\"): those four as `\ooo`, every other byte as it is.
pub(super) fn mountinfo_escape(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            ' ' | '\t' | '\n' | '\\' => format!("\\{:03o}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// The hook finds the cgroup2 mount in mountinfo and the container's cgroup in
    /// /proc/PID/cgroup: whatever the text, no panic; a mount point the kernel escaped
    /// reads back as it is, also when it is not ASCII.
    #[e2e_macros::test]
    fn cgroup_texts_parse_or_are_ignored(
        text in prop_oneof![hostile_string(), prop::collection::vec(prop_oneof![
            Just("\\".to_owned()), "[0-7]{1,3}", Just(" - ".to_owned()), Just("cgroup2".to_owned()),
            Just("0::".to_owned()), Just("\n".to_owned()), Just("é".to_owned()), "[ -~]{1,8}",
        ], 0..16).prop_map(|t| t.concat())],
        mount in "/[^\0]{0,30}",
    ) {
        let _ = seccomp_recorder::kernel::cgroup::cgroup2_mount_from_mountinfo(&text);
        if let Some(p) = seccomp_recorder::kernel::cgroup::cgroup2_path_from_proc(&text) {
            let _ = seccomp_recorder::kernel::cgroup::level_of(&p);
        }
        let line = format!(
            "25 1 0:22 / /sys rw - sysfs sysfs rw\n36 25 0:30 / {} rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
            mountinfo_escape(&mount)
        );
        prop_assert_eq!(
            seccomp_recorder::kernel::cgroup::cgroup2_mount_from_mountinfo(&line),
            Some(PathBuf::from(&mount))
        );
    }
}
