//! Hostile input, fuzzed (issue 10, item 4): property tests of every parser that reads
//! what someone else wrote. Needs no root and no kernel feature.
//!
//! What each property says:
//! - nothing panics, whatever the bytes (NUL, non-UTF-8, 1-2 MB, nesting 100,000 deep);
//! - an error is one line: it adds no line break of its own (a value it quotes may
//!   hold one; the binary escapes those, see `the_hook_binary_prints_one_line...`);
//! - an error's category is the documented exit code (README "Exit codes",
//!   `recorder/src/exit.rs`): a malformed state, annotation or profile is 66;
//! - round trips hold: a profile rendered by `formats::render` reads back with the same
//!   rules; a stats file or report reads back with the same calls; an accepted
//!   annotation value is within the documented limits;
//! - nothing is written outside the output directory, also while a directory on the way
//!   is swapped for a symlink.
//!
//! Cases per property: `PROPTEST_CASES` (proptest's own variable, default 256);
//! `cargo xtask drill fuzz` runs 20,000. Properties with megabyte inputs run a 16th.

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oci_spec::runtime::{
    Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

use seccomp_recorder::annotations::{self, AnnotationError};
use seccomp_recorder::args::{ArgAt, ArgValue};
use seccomp_recorder::cmd_audit::records::{self, AuditRecord, Line, SeccompRet};
use seccomp_recorder::cmd_audit::time::{parse_since, WallTime};
use seccomp_recorder::evidence::{self, Content, EvidenceError, InputKind};
use seccomp_recorder::exit::{Categorized, Category};
use seccomp_recorder::formats::{self, Format, FormatError};
use seccomp_recorder::hook::{self, HookArgs, HookError, Stage};
use seccomp_recorder::outdir::{self, OutputPolicy};
use seccomp_recorder::profile::{self, DefaultErrno, ProfileOptions, RecordedSyscall};
use seccomp_recorder::profile_file::{self, HostFacts};
use seccomp_recorder::report::{self, FirstSeen, Report, ReportLine};
use seccomp_recorder::syscalls::{Arch, SyscallError};

// ---------------------------------------------------------------------------------
// configuration and shared checks

/// Cases per property: proptest reads `PROPTEST_CASES` (default 256).
fn cases() -> u32 {
    Config::default().cases
}

/// The configuration of the cheap properties. Failures are not persisted to
/// `proptest-regressions/`: a failure prints its minimal input, which goes into a
/// regression test below.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// For properties whose inputs are 1-2 MB: a 16th of the cases, at least 4.
fn heavy_config() -> Config {
    Config {
        cases: (cases() / 16).max(4),
        ..config()
    }
}

/// The error and its causes, joined as the binary joins them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    parts.join(": ")
}

/// An error adds no line break of its own: any '\n' in its text comes from the input.
fn assert_one_line(text: &str, input_has_newline: bool) {
    assert!(
        input_has_newline || !text.contains('\n'),
        "error spans lines although the input has no line break: {text:?}"
    );
    assert!(!text.is_empty(), "empty error message");
}

/// "\n" when JSON `text` may decode to a line break (raw, or as an escape that serde's
/// messages quote decoded, e.g. an unknown field `"\n"`), "" otherwise.
fn json_breaks(text: &str) -> &'static str {
    if text.contains('\n') || text.contains('\\') {
        "\n"
    } else {
        ""
    }
}

fn assert_error(e: &(impl std::error::Error + Categorized), allowed: &[Category], input: &str) {
    let text = chain(e);
    assert_one_line(&text, input.contains('\n'));
    assert!(
        allowed.contains(&e.category()),
        "category {:?} (exit {}) not in {allowed:?}: {text}",
        e.category(),
        e.category().code()
    );
}

/// The documented exit codes (README "Exit codes").
#[test]
fn categories_are_the_documented_exit_codes() {
    assert_eq!(Category::BadInput.code(), 66);
    assert_eq!(Category::UnknownArch.code(), 64);
    assert_eq!(Category::UnknownSyscall.code(), 65);
    assert_eq!(Category::Io.code(), 74);
    assert_eq!(Category::Usage.code(), 2);
}

// ---------------------------------------------------------------------------------
// strategies

/// Strings an attacker would try: arbitrary Unicode, printable ASCII, and pieces of the
/// grammars we parse glued together (NUL, line breaks, `..`, `of:`, `/proc/self/root`,
/// right-to-left override, very long runs).
fn hostile_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\0".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\t".to_owned()),
        Just(" ".to_owned()),
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("./".to_owned()),
        Just("of:".to_owned()),
        Just("if:".to_owned()),
        Just(";".to_owned()),
        Just("/proc/self/root".to_owned()),
        Just("/etc/passwd".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("é".to_owned()),
        Just("\\".to_owned()),
        Just("\"".to_owned()),
        Just("%00".to_owned()),
        Just("x.json".to_owned()),
        "[a-zA-Z0-9_.-]{1,12}",
        Just("a".repeat(300)),
    ];
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
    ]
}

/// Keys and values that steer the parsers into their deeper branches.
const DICTIONARY: &[&str] = &[
    "id",
    "pid",
    "status",
    "bundle",
    "annotations",
    "ociVersion",
    "created",
    "stopped",
    "defaultAction",
    "defaultErrnoRet",
    "defaultErrno",
    "architectures",
    "archMap",
    "architecture",
    "subArchitectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "names",
    "name",
    "action",
    "errnoRet",
    "errno",
    "args",
    "index",
    "value",
    "valueTwo",
    "op",
    "comment",
    "includes",
    "excludes",
    "caps",
    "arches",
    "minKernel",
    "kind",
    "spec",
    "baseProfileName",
    "disabled",
    "SeccompProfile",
    "arch",
    "nr",
    "count",
    "first",
    "tid",
    "comm",
    "after_ms",
    "runtime",
    "args_lost",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_LOG",
    "SCMP_ACT_KILL",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_NATIVE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_MASKED_EQ",
    "SECCOMP_FILTER_FLAG_LOG",
    "CAP_SYS_ADMIN",
    "CAP_BPF",
    "amd64",
    "arm64",
    "4.8",
    "99.1",
    "ENOSYS",
    "EPERM",
    "EWOULDBLOCK",
    "38",
    "read",
    "clone3",
    "socket",
    "getppid",
    "x86_64",
    "io.containers.trace-syscall",
    "seccomp-recorder.io/output",
    "seccomp-recorder.io/base",
    "seccomp-recorder.io/format",
    "of:/x.json",
    "if:/b.json;of:/o.json",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(DICTIONARY).prop_map(str::to_owned),
        1 => hostile_string(),
    ]
}

/// Arbitrary JSON built from the dictionary: the shapes the readers expect, with the
/// wrong types, missing and extra fields, in any combination.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..600).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Like [`arb_json`], two levels deep: for fields of a generated document.
fn small_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Byte-level mutations of a valid document: delete, insert, replace, duplicate a
/// range, truncate. `(position, operation, byte)`.
fn mutations() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), 0u8..5, any::<u8>()), 1..8)
}

fn mutate(seed: &[u8], ops: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(pos, op, byte) in ops {
        let len = b.len();
        let at = if len == 0 { 0 } else { pos % len };
        match op {
            0 if len > 0 => {
                b.remove(at);
            }
            1 => b.insert(at.min(len), byte),
            2 if len > 0 => b[at] = byte,
            3 if len > 0 => {
                let end = (at + 1 + usize::from(byte)).min(len);
                let copy = b[at..end].to_vec();
                b.splice(at..at, copy);
            }
            _ => b.truncate(at),
        }
    }
    b
}

/// Hosts to resolve `archMap` and `includes` against, including hosts where a fact
/// could not be read.
fn arb_host() -> impl Strategy<Value = HostFacts> {
    (
        prop::option::weighted(0.9, prop::sample::select(Arch::ALL.to_vec())),
        prop::sample::select(vec!["amd64", "arm64", "386", "riscv64", "ppc64le"]),
        prop::option::weighted(0.9, any::<u64>()),
        prop::option::weighted(0.9, (0u32..8, 0u32..30)),
    )
        .prop_map(|(native_arch, go_arch, bounding_caps, kernel)| HostFacts {
            native_arch,
            go_arch,
            bounding_caps,
            kernel,
        })
}

fn x86_64_host() -> HostFacts {
    HostFacts {
        native_arch: Some(Arch::X86_64),
        go_arch: "amd64",
        bounding_caps: Some(u64::MAX >> 23),
        kernel: Some((6, 1)),
    }
}

// ---------------------------------------------------------------------------------
// the OCI state (hook::parse_state, hook::run)

fn state_allowed(e: &HookError, input: &[u8]) {
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

const STATE: &str = concat!(
    r#"{"ociVersion":"1.0.2-dev","id":"abc","status":"created","pid":4242,"#,
    r#""bundle":"/var/lib/containers/x","annotations":{"#,
    r#""io.containers.trace-syscall":"if:/b.json;of:/o.json","seccomp-recorder.io/errno":"EPERM"}}"#
);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn state_arbitrary_bytes_are_refused_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Err(e) = hook::parse_state(&bytes) {
            state_allowed(&e, &bytes);
        }
    }

    #[test]
    fn state_mutations_are_parsed_or_refused_cleanly(ops in mutations()) {
        let bytes = mutate(STATE.as_bytes(), &ops);
        match hook::parse_state(&bytes) {
            Ok(st) => prop_assert!(!st.id().is_empty()),
            Err(e) => state_allowed(&e, &bytes),
        }
    }

    #[test]
    fn state_arbitrary_json_is_parsed_or_refused_cleanly(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).expect("serialize");
        match hook::parse_state(&bytes) {
            Ok(st) => prop_assert!(!st.id().is_empty()),
            Err(e) => state_allowed(&e, &bytes),
        }
    }

    #[test]
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
    #[test]
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

fn deep(open: &str, close: &str, depth: usize) -> String {
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
#[test]
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
        assert!(seccomp_recorder::arg_check::values_in(&p).is_empty());
    }
}

/// Points the hook's run and pin directories below a path of this test process
/// (`SECCOMP_RECORDER_RUN_DIR`, `SECCOMP_RECORDER_BPF_DIR`, read only through std,
/// whose environment functions take a lock): a hook run that got further than it
/// should would create it, instead of touching /run.
fn isolated_run_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hostile-run-{}", std::process::id()));
        std::env::set_var("SECCOMP_RECORDER_RUN_DIR", &d);
        std::env::set_var("SECCOMP_RECORDER_BPF_DIR", d.join("bpf"));
        d
    })
}

fn hook_args(out: &Path, stage: Stage) -> HookArgs {
    let run_dir = isolated_run_dir();
    assert!(!run_dir.exists(), "a hook run reached the run directory");
    HookArgs {
        output_dirs: vec![out.to_owned()],
        input_dirs: Vec::new(),
        stage,
    }
}

/// The hook reads at most 1 MiB of state (`MAX_STATE`): a bigger one is cut there and
/// refused as malformed (66), never parsed in part.
#[test]
fn oversized_state_is_refused_as_bad_input() {
    let out = tempfile::tempdir().expect("tempdir");
    for size in [1024 * 1024 + 1, 1536 * 1024, 2 * 1024 * 1024] {
        let pad = "a".repeat(size);
        let state = format!(
            r#"{{"id":"big","status":"created","annotations":{{"pad":"{pad}","seccomp-recorder.io/output":"x.json"}}}}"#
        );
        let e = hook::run(
            &hook_args(out.path(), Stage::Prestart),
            &mut Cursor::new(state.as_bytes()),
        )
        .expect_err("oversized state accepted");
        state_allowed(&e, b"");
        assert_eq!(e.category().code(), 66);
    }
    // Just under the limit it is read whole: an annotation we do not read is ignored.
    let pad = "a".repeat(1024 * 1024 - 200);
    let state = format!(r#"{{"id":"big","status":"created","annotations":{{"pad":"{pad}"}}}}"#);
    assert!(state.len() < 1024 * 1024);
    hook::run(
        &hook_args(out.path(), Stage::Prestart),
        &mut Cursor::new(state.as_bytes()),
    )
    .expect("a state under the limit without a recording annotation is a no-op");
    assert_eq!(std::fs::read_dir(out.path()).expect("ls").count(), 0);
}

fn annotation_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(annotations::ALL.to_vec()).prop_map(str::to_owned),
        1 => hostile_string(),
    ]
}

fn annotation_value() -> impl Strategy<Value = String> {
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
struct Planted {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    outside: PathBuf,
}

fn planted() -> Planted {
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

fn entries(dir: &Path) -> BTreeSet<String> {
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
    #[test]
    fn prestart_on_hostile_annotations_refuses_and_writes_nothing(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 0..5),
        id in prop_oneof![Just("ctr".to_owned()), hostile_string()],
        stage in prop::sample::select(vec![Stage::Prestart, Stage::CreateRuntime]),
    ) {
        let p = planted();
        let state = serde_json::json!({"id": id, "status": "created", "annotations": anns});
        let bytes = serde_json::to_vec(&state).expect("json");
        let asked = annotations::parse(&anns);
        let result = hook::run(&hook_args(&p.out, stage), &mut Cursor::new(bytes.clone()));
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
    #[test]
    fn poststop_refuses_ids_that_are_not_file_names(
        bad in prop::sample::select(vec!["..", ".", "-", "a/", "/", "a b", "é", "\0", "\n", "*"]),
        rest in hostile_string(),
        long in any::<bool>(),
    ) {
        // Each prefix makes the id invalid; so does a length over 128.
        let id = if long { format!("{}{rest}", "a".repeat(129)) } else { format!("{bad}{rest}") };
        prop_assert!(seccomp_recorder::state::validate_id(&id).is_err(), "{id:?}");
        let p = planted();
        let bytes = serde_json::to_vec(&serde_json::json!({"id": id, "status": "stopped"})).expect("json");
        let e = hook::run(&hook_args(&p.out, Stage::Poststop), &mut Cursor::new(bytes)).expect_err("bad id accepted");
        prop_assert!(matches!(e, HookError::Store(_)), "{e:?}");
        assert_error(&e, &[Category::BadInput], &id);
    }
}

proptest! {
    #![proptest_config(config())]

    /// Claimed state files (`.ID.finishing-PID`) in the run directory: names that do
    /// not parse are ignored, ours parse back.
    #[test]
    fn claim_names_parse_back_or_are_ignored(
        name in hostile_string(),
        id in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}",
        pid in 1i32..i32::MAX,
    ) {
        if let Some((id, _)) = seccomp_recorder::state::parse_claim_name(&name) {
            prop_assert!(name.starts_with('.') && name.contains(id));
        }
        let ours = format!(".{id}.finishing-{pid}");
        prop_assert_eq!(seccomp_recorder::state::parse_claim_name(&ours), Some((id.as_str(), pid)));
    }
}

/// The kernel's escaping of a mount point in `/proc/self/mountinfo` (`seq_path` with
/// " \t\n\\"): those four as `\ooo`, every other byte as it is.
fn mountinfo_escape(path: &str) -> String {
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
    #[test]
    fn cgroup_texts_parse_or_are_ignored(
        text in prop_oneof![hostile_string(), prop::collection::vec(prop_oneof![
            Just("\\".to_owned()), "[0-7]{1,3}", Just(" - ".to_owned()), Just("cgroup2".to_owned()),
            Just("0::".to_owned()), Just("\n".to_owned()), Just("é".to_owned()), "[ -~]{1,8}",
        ], 0..16).prop_map(|t| t.concat())],
        mount in "/[^\0]{0,30}",
    ) {
        let _ = seccomp_recorder::cgroup::cgroup2_mount_from_mountinfo(&text);
        if let Some(p) = seccomp_recorder::cgroup::cgroup2_path_from_proc(&text) {
            let _ = seccomp_recorder::cgroup::level_of(&p);
        }
        let line = format!(
            "25 1 0:22 / /sys rw - sysfs sysfs rw\n36 25 0:30 / {} rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
            mountinfo_escape(&mount)
        );
        prop_assert_eq!(
            seccomp_recorder::cgroup::cgroup2_mount_from_mountinfo(&line),
            Some(PathBuf::from(&mount))
        );
    }
}

// ---------------------------------------------------------------------------------
// annotations (annotations::parse)

/// `MAX_VALUE` of annotations.rs, as its error message documents it.
const MAX_ANNOTATION: usize = 4096;

fn value_is_within_limits(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_ANNOTATION && !v.contains('\0') && v.trim() == v
}

fn annotation_error(e: &AnnotationError, anns: &HashMap<String, String>) {
    let input_nl = anns.values().any(|v| v.contains('\n'));
    assert_error(e, &[Category::BadInput], if input_nl { "\n" } else { "" });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn annotations_are_parsed_within_limits_or_refused(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 0..6),
    ) {
        match annotations::parse(&anns) {
            Ok(None) => {
                // Nothing asked: no output annotation at all.
                prop_assert!(!anns.contains_key(annotations::OUTPUT));
                prop_assert!(!anns.contains_key(annotations::TRACE_SYSCALL));
            }
            Ok(Some(r)) => {
                prop_assert!(value_is_within_limits(&r.output), "output {:?}", r.output);
                for v in [&r.base, &r.stats, &r.report].into_iter().flatten() {
                    prop_assert!(value_is_within_limits(v), "value {v:?}");
                }
                // Each path came from one annotation value, as written.
                prop_assert!(anns.values().any(|v| v.contains(r.output.as_str())));
            }
            Err(e) => annotation_error(&e, &anns),
        }
    }

    /// `[if:BASE;]of:OUT` with entries in any order and blanks around `;` gives back
    /// exactly the two paths.
    #[test]
    fn trace_syscall_round_trips(
        out in "[^;\0\\s][^;\0]{0,60}[^;\0\\s]",
        base in prop::option::of("[^;\0\\s][^;\0]{0,60}[^;\0\\s]"),
        base_first in any::<bool>(),
        pad in prop::sample::select(vec!["", " ", "  ", "\t"]),
    ) {
        let mut entries = vec![format!("of:{out}")];
        if let Some(b) = &base {
            entries.insert(usize::from(!base_first), format!("if:{b}"));
        }
        let value = entries.join(&format!("{pad};{pad}"));
        let anns = HashMap::from([(annotations::TRACE_SYSCALL.to_owned(), value.clone())]);
        match annotations::parse(&anns) {
            Ok(Some(r)) => {
                prop_assert_eq!(&r.output, &out);
                prop_assert_eq!(&r.base, &base);
            }
            Ok(None) => prop_assert!(false, "nothing asked by {value:?}"),
            Err(e) => {
                // Only when the value is over the limit.
                prop_assert!(value.len() > MAX_ANNOTATION, "{value:?}: {e}");
            }
        }
    }
}

proptest! {
    #![proptest_config(heavy_config())]

    /// Values of 1-2 MB: refused for the keys we read, ignored for the others.
    #[test]
    fn huge_annotations_are_refused(
        key in prop::sample::select(annotations::ALL.to_vec()),
        len in (MAX_ANNOTATION + 1)..(2 * 1024 * 1024),
        fill in prop::sample::select(vec!['a', '/', ';', 'é']),
    ) {
        let huge: String = std::iter::repeat_n(fill, len / fill.len_utf8() + 1).collect();
        let mut anns = HashMap::from([(key.to_owned(), huge.clone())]);
        if key != annotations::OUTPUT {
            anns.insert(annotations::OUTPUT.to_owned(), "x.json".to_owned());
        }
        let e = annotations::parse(&anns).expect_err("huge value accepted");
        prop_assert!(matches!(e, AnnotationError::BadValue { .. }), "{e:?}");
        prop_assert!(e.to_string().len() < 300, "the message quotes the value");
        annotation_error(&e, &anns);
        let other = HashMap::from([("unrelated".to_owned(), huge)]);
        prop_assert_eq!(annotations::parse(&other), Ok(None));
    }
}

#[test]
fn annotation_limit_is_4096_bytes_and_nul_is_refused() {
    let at = |v: String| HashMap::from([(annotations::OUTPUT.to_owned(), v)]);
    let r = annotations::parse(&at("a".repeat(MAX_ANNOTATION)))
        .expect("4096 bytes")
        .expect("asked");
    assert_eq!(r.output.len(), MAX_ANNOTATION);
    for bad in [
        "a".repeat(MAX_ANNOTATION + 1),
        "é".repeat(MAX_ANNOTATION / 2 + 1),
        "a\0b".to_owned(),
        "\0".to_owned(),
        String::new(),
        " \t\n".to_owned(),
    ] {
        let e = annotations::parse(&at(bad.clone())).expect_err("refused");
        assert!(
            matches!(e, AnnotationError::BadValue { .. }),
            "{bad:?}: {e:?}"
        );
        assert_eq!(e.category().code(), 66);
    }
}

// ---------------------------------------------------------------------------------
// output paths (outdir): resolve, check, write

proptest! {
    #![proptest_config(config())]

    /// Whatever is asked, a write lands below the output directory, never through a
    /// symlink, and nothing appears outside.
    #[test]
    fn output_paths_never_leave_the_output_directory(requested in annotation_value()) {
        let p = planted();
        let policy = OutputPolicy::new(std::slice::from_ref(&p.out)).expect("policy");
        let root = p.out.canonicalize().expect("canonical");
        let absolute = format!("{}/{}", root.display(), requested);
        for asked in [requested.as_str(), absolute.as_str()] {
            let dest = match policy.resolve(asked) {
                Ok(d) => d,
                Err(e) => {
                    assert_error(&e, &[Category::BadInput], asked);
                    continue;
                }
            };
            prop_assert_eq!(&dest.root, &root);
            prop_assert!(dest.relative.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            let checked = outdir::check_writable(&dest);
            match outdir::write(&dest, b"{}") {
                Ok(()) => {
                    prop_assert!(checked.is_ok(), "written although the check refused {asked:?}");
                    let md = std::fs::symlink_metadata(dest.path()).expect("written file");
                    prop_assert!(md.is_file());
                    prop_assert!(dest.path().canonicalize().expect("canon").starts_with(&root));
                }
                Err(e) => assert_error(&e, &[Category::BadInput, Category::Io], asked),
            }
        }
        prop_assert!(entries(&p.outside).is_empty(), "written outside: {:?}", entries(&p.outside));
        prop_assert!(std::fs::symlink_metadata(p.out.join("link")).expect("link").file_type().is_symlink());
    }
}

#[test]
fn proc_self_root_and_parent_dirs_are_refused() {
    let p = planted();
    let policy = OutputPolicy::new(std::slice::from_ref(&p.out)).expect("policy");
    let root = p.out.canonicalize().expect("canonical");
    for asked in [
        format!("/proc/self/root{}/x.json", root.display()),
        format!("/proc/1/root{}/x.json", root.display()),
        format!("{}/../outside/x.json", root.display()),
        "../outside/x.json".to_owned(),
        "a/../../outside/x.json".to_owned(),
        "/etc/x.json".to_owned(),
        root.display().to_string(),
        format!("{}/", root.display()),
    ] {
        let e = policy.resolve(&asked).expect_err(&asked);
        assert_eq!(e.category().code(), 66, "{asked}: {e}");
    }
    // Through the planted symlinks: refused at check and at write time.
    for asked in ["link/x.json", "file.json", "link"] {
        let dest = policy
            .resolve(asked)
            .expect("resolves (no file system access)");
        assert!(outdir::check_writable(&dest).is_err(), "{asked}");
        assert!(outdir::write(&dest, b"x").is_err(), "{asked}");
    }
    assert!(entries(&p.outside).is_empty());
}

/// Iterations of the symlink race: 4 per proptest case (1,024 by default).
fn race_iterations() -> usize {
    usize::try_from(cases()).unwrap_or(256) * 4
}

/// A directory on the way is swapped for a symlink to the outside, in a loop, while
/// profiles are written through it: every write lands in the real directory or is
/// refused, nothing ever appears outside.
#[test]
fn directory_swapped_for_a_symlink_during_writes_never_leaks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(out.join("sub")).expect("mkdir");
    std::fs::create_dir(&outside).expect("mkdir");
    let policy = OutputPolicy::new(std::slice::from_ref(&out)).expect("policy");
    let dest = policy.resolve("sub/deeper/x.json").expect("resolve");

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, out, outside, real) = (stop.clone(), out.clone(), outside.clone(), real);
        std::thread::spawn(move || {
            let sub = out.join("sub");
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // sub: directory -> symlink to the outside -> directory again. A
                // writer that opened `sub` before the rename writes into the moved
                // directory (the descriptor, not the path): where the one who moved it
                // could write anyway, and back in `sub` after the swap.
                if std::fs::rename(&sub, &real).is_ok() {
                    let _ = std::os::unix::fs::symlink(&outside, &sub);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&sub);
                    let _ = std::fs::rename(&real, &sub);
                    swaps += 1;
                }
                std::thread::yield_now();
            }
            swaps
        })
    };
    let (mut written, mut refused) = (0usize, 0usize);
    for i in 0..race_iterations() {
        match outdir::write(&dest, format!("{{\"n\":{i}}}").as_bytes()) {
            Ok(()) => written += 1,
            Err(e) => {
                assert_error(&e, &[Category::BadInput, Category::Io], "");
                refused += 1;
            }
        }
        assert!(
            entries(&outside).is_empty(),
            "written outside after {i} writes: {:?}",
            entries(&outside)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    assert!(entries(&outside).is_empty());
    eprintln!("symlink race: {written} written, {refused} refused, {swaps} swaps");
    assert!(swaps > 0, "the race never swapped");
}

// ---------------------------------------------------------------------------------
// profile readers (profile_file::parse_profile, evidence::parse) and formats::render

const PROFILE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"defaultErrno":"ENOSYS",
"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],"flags":["SECCOMP_FILTER_FLAG_LOG"],
"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","comment":"x"},
{"name":"personality","action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]},
{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errno":"EPERM","errnoRet":1,"includes":{"caps":["CAP_SYS_ADMIN"],"arches":["amd64"],"minKernel":"4.8"},"excludes":{"caps":["CAP_BPF"]}}]}"#;

const RESOURCE: &str = r#"{"apiVersion":"security-profiles-operator.x-k8s.io/v1beta1","kind":"SeccompProfile",
"metadata":{"name":"demo"},"spec":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"disabled":false,
"syscalls":[{"names":["read","exit_group"],"action":"SCMP_ACT_ALLOW"}]}}"#;

const STATS: &str = r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":1000000},
{"arch":"SCMP_ARCH_X86","nr":20,"name":null,"count":3},{"arch":"SCMP_ARCH_X86_64","nr":999,"name":null,"count":2}]}"#;

const REPORT: &str = r#"{"runtime":"any","syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":1,
"first":{"pid":123,"tid":124,"comm":"sh","after_ms":12.5}}],
"args":[{"arch":"SCMP_ARCH_X86_64","name":"socket","args":[{"index":0,"value":16},{"index":1,"value":3}],"count":2}]}"#;

fn profile_allowed(e: &profile_file::ProfileFileError, text: &str) {
    assert_error(
        e,
        &[Category::BadInput, Category::UnknownArch],
        json_breaks(text),
    );
}

fn evidence_allowed(e: &EvidenceError, text: &str) {
    assert_error(
        e,
        &[Category::BadInput, Category::UnknownArch],
        json_breaks(text),
    );
}

/// Reads `text` with both readers; never panics, errors are clean.
fn read_both(text: &str, host: &HostFacts) {
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

    #[test]
    fn readers_survive_arbitrary_text(text in hostile_string(), host in arb_host()) {
        read_both(&text, &host);
    }

    /// Bytes as the hook reads a base profile: lossy UTF-8 of whatever the file holds.
    #[test]
    fn readers_survive_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_both(&String::from_utf8_lossy(&bytes), &x86_64_host());
    }

    #[test]
    fn readers_survive_mutated_profiles_resources_stats_and_reports(
        seed in prop::sample::select(vec![PROFILE, RESOURCE, STATS, REPORT]),
        ops in mutations(),
        host in arb_host(),
    ) {
        let bytes = mutate(seed.as_bytes(), &ops);
        read_both(&String::from_utf8_lossy(&bytes), &host);
    }

    #[test]
    fn readers_survive_arbitrary_json(v in arb_json(), host in arb_host()) {
        read_both(&v.to_string(), &host);
    }

    /// Profile-shaped JSON: every field present or not, of the right type with a
    /// hostile value or of any type, so that the resolution (errno names, archMap,
    /// includes/excludes against the host) is reached, not only the schema check.
    #[test]
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
    #[test]
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
        let _ = seccomp_recorder::arg_check::values_in(&p);
    }
}

/// A value of one of the types profile fields have: a known or hostile word, a
/// number, a list of words, an archMap entry list.
fn typed_value() -> impl Strategy<Value = Value> {
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
fn arb_filter() -> impl Strategy<Value = Value> {
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
fn arb_raw_rule() -> impl Strategy<Value = Value> {
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
#[test]
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

const ACTIONS: [LinuxSeccompAction; 9] = [
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

const OPS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

const FLAGS: [LinuxSeccompFilterFlag; 4] = [
    LinuxSeccompFilterFlag::SeccompFilterFlagLog,
    LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
];

const TABLE_ARCHES: [OciArch; 6] = [
    OciArch::ScmpArchX86_64,
    OciArch::ScmpArchX86,
    OciArch::ScmpArchX32,
    OciArch::ScmpArchAarch64,
    OciArch::ScmpArchArm,
    OciArch::ScmpArchRiscv64,
];

fn syscall_name() -> impl Strategy<Value = String> {
    let table: Vec<&'static str> = Arch::X86_64.table().into_iter().map(|(_, n)| n).collect();
    prop_oneof![
        4 => prop::sample::select(table).prop_map(str::to_owned),
        1 => "[a-z_0-9]{1,24}",
        1 => any::<String>(),
    ]
}

fn arb_arg() -> impl Strategy<Value = LinuxSeccompArg> {
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

fn arb_rule() -> impl Strategy<Value = LinuxSyscall> {
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
fn arb_profile(arches: Vec<OciArch>) -> impl Strategy<Value = LinuxSeccomp> {
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
type RuleKey = (
    Vec<String>,
    String,
    Option<u32>,
    Vec<(usize, u64, Option<u64>, String)>,
);

fn rules_of(p: &LinuxSeccomp) -> Vec<RuleKey> {
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

fn flags_of(p: &LinuxSeccomp) -> Vec<LinuxSeccompFilterFlag> {
    p.flags().clone().unwrap_or_default()
}

fn arches_of(p: &LinuxSeccomp) -> Vec<OciArch> {
    p.architectures().clone().unwrap_or_default()
}

fn read_back(text: &str) -> evidence::Input {
    match evidence::parse(text, Path::new("rendered.json"), &x86_64_host()) {
        Ok(i) => i,
        Err(e) => panic!("our own rendering does not read back: {e}\n{text}"),
    }
}

fn same_rules_and_settings(original: &LinuxSeccomp, read: &LinuxSeccomp, format: Format) {
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
    #[test]
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
    #[test]
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
    #[test]
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
    #[test]
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
                let nr = if arch == Arch::X32 { nr | seccomp_recorder::syscalls::X32_SYSCALL_BIT } else { nr };
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
    #[test]
    fn k8s_names_are_valid_or_refused(name in hostile_string()) {
        match formats::k8s_name(&name) {
            Ok(n) => prop_assert!(formats::is_k8s_name(&n), "{n:?}"),
            Err(e) => assert_error(&e, &[Category::Usage], &name),
        }
    }
}

// ---------------------------------------------------------------------------------
// stats and reports (evidence::parse on recordings, arg_check::values_in)

fn arb_first() -> impl Strategy<Value = Option<FirstSeen>> {
    prop::option::of(
        (
            any::<u32>(),
            any::<u32>(),
            hostile_string(),
            prop_oneof![
                0.0f64..1e9,
                Just(0.0),
                any::<f64>().prop_filter("finite", |f| f.is_finite())
            ],
        )
            .prop_map(|(pid, tid, comm, after_ms)| FirstSeen {
                pid,
                tid,
                comm,
                after_ms,
            }),
    )
}

/// A first use, compared with `after_ms` to a few ULP: serde_json (without
/// its `float_roundtrip` feature) may read a float back 1 ULP off the one it wrote.
fn first_key(f: &FirstSeen) -> (u32, u32, String, Close) {
    (f.pid, f.tid, f.comm.clone(), Close(f.after_ms))
}

/// A float equal to another within a relative 1e-15 (a few ULP; subnormals: any).
#[derive(Debug, Clone, Copy)]
struct Close(f64);

impl PartialEq for Close {
    fn eq(&self, other: &Close) -> bool {
        (self.0 - other.0).abs() <= self.0.abs().max(other.0.abs()) * 1e-15 + f64::MIN_POSITIVE
    }
}

fn arb_arg_value() -> impl Strategy<Value = ArgValue> {
    (
        prop::sample::select(Arch::ALL.to_vec()),
        prop::sample::select(vec![
            "socket", "clone", "clone3", "unshare", "setns", "prctl", "ioctl",
        ]),
        prop::collection::vec((0u32..6, any::<u64>()), 1..3),
        any::<u64>(),
    )
        .prop_map(|(arch, name, args, count)| ArgValue {
            arch: arch.scmp_name().to_owned(),
            name: name.to_owned(),
            args: args
                .into_iter()
                .map(|(index, value)| ArgAt { index, value })
                .collect(),
            count,
        })
}

proptest! {
    #![proptest_config(config())]

    /// A report we write reads back with the same calls, numbers no table names
    /// apart, and the same argument values.
    #[test]
    fn reports_round_trip(
        lines in prop::collection::btree_map(
            (prop::sample::select(Arch::ALL.to_vec()), prop_oneof![0u64..600, any::<u64>()]),
            (1u64..u64::MAX, arb_first()),
            0..16),
        args in prop::collection::vec(arb_arg_value(), 0..5),
        args_lost in any::<bool>(),
    ) {
        let evidence: Vec<report::Evidence> = lines
            .iter()
            .map(|(&(arch, nr), (count, first))| report::Evidence {
                call: RecordedSyscall { arch, nr, count: *count },
                first: first.clone(),
            })
            .collect();
        let mut r = report::report(&evidence);
        r.args = args.clone();
        r.args_lost = args_lost;
        let text = serde_json::to_string_pretty(&r).expect("serialize");
        let input = read_back(&text);
        let with_first = lines.values().any(|(_, f)| f.is_some());
        let expected_kind = if with_first || !args.is_empty() || args_lost { InputKind::Report } else { InputKind::Stats };
        prop_assert_eq!(input.kind, expected_kind);
        let mut named = Vec::new();
        let mut unnamed = Vec::new();
        for ReportLine { arch, nr, name, count, first } in &r.syscalls {
            let arch: Arch = arch.parse().expect("our arch names");
            match name {
                Some(n) => named.push((arch, n.clone(), *nr, *count, first.as_ref().map(first_key))),
                None => unnamed.push((arch, *nr, *count, first.as_ref().map(first_key))),
            }
        }
        let got: Vec<_> = input.evidence().expect("evidence").into_iter()
            .map(|e| (e.arch.expect("arch"), e.name, e.nr.expect("nr"), e.count.expect("count"), e.first.as_ref().map(first_key)))
            .collect();
        prop_assert_eq!(got, named);
        let got: Vec<_> = input.unnamed().iter().map(|u| (u.arch, u.nr, u.count, u.first.as_ref().map(first_key))).collect();
        prop_assert_eq!(got, unnamed);
        // The report as `check` reads its argument values.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, &text).expect("write");
        prop_assert_eq!(seccomp_recorder::arg_check::values_in(&p), args);
        // And back into profile input: the counts of the table architectures.
        let back: Report = serde_json::from_str(&text).expect("report");
        let calls = report::recorded_calls(&back);
        prop_assert_eq!(calls.len(), r.syscalls.len());
    }

    /// `--stats` files we write read back as stats with the same counts.
    #[test]
    fn stats_round_trip(
        lines in prop::collection::btree_map(
            (prop::sample::select(Arch::ALL.to_vec()), prop_oneof![0u64..600, any::<u64>()]),
            1u64..u64::MAX,
            0..30),
    ) {
        let recorded: Vec<RecordedSyscall> = lines.iter()
            .map(|(&(arch, nr), &count)| RecordedSyscall { arch, nr, count })
            .collect();
        let text = serde_json::to_string(&profile::stats(&recorded)).expect("serialize");
        let input = read_back(&text);
        prop_assert_eq!(input.kind, InputKind::Stats);
        let Content::Recording { calls, unnamed } = &input.content else {
            panic!("stats read as a profile");
        };
        prop_assert_eq!(calls.len() + unnamed.len(), lines.len());
        let total: u128 = calls.iter().map(|c| u128::from(c.count.expect("count"))).sum::<u128>()
            + unnamed.iter().map(|u| u128::from(u.count)).sum::<u128>();
        prop_assert_eq!(total, lines.values().map(|&c| u128::from(c)).sum::<u128>());
    }

    /// Whatever a "report" file holds, `check` gets argument values or none.
    #[test]
    fn argument_values_are_read_or_ignored(
        text in prop_oneof![hostile_string(), arb_json().prop_map(|v| serde_json::json!({"args": v}).to_string())],
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, &text).expect("write");
        let _ = seccomp_recorder::arg_check::values_in(&p);
    }
}

// ---------------------------------------------------------------------------------
// name tables (syscalls.rs)

/// Every entry of every table maps both ways.
#[test]
fn every_table_entry_round_trips() {
    for arch in Arch::ALL {
        let table = arch.table();
        assert!(!table.is_empty(), "{arch}");
        for (nr, name) in table {
            assert_eq!(arch.name_of(nr), Some(name), "{arch} {nr}");
            assert_eq!(arch.number_of(name), Some(nr), "{arch} {name}");
            assert_eq!(arch.resolve(name).expect("resolve"), nr);
        }
        for name in [arch.scmp_name(), arch.short_name()] {
            assert_eq!(name.parse::<Arch>().expect("arch name"), arch);
            assert_eq!(name.to_lowercase().parse::<Arch>().expect("any case"), arch);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn numbers_map_to_names_that_map_back(
        arch in prop::sample::select(Arch::ALL.to_vec()),
        nr in prop_oneof![
            any::<u64>(),
            0u64..1024,
            (0u64..1024).prop_map(|n| n | 0x4000_0000),
            0x0f_0000u64..0x0f_0010,
        ],
    ) {
        if let Some(name) = arch.name_of(nr) {
            prop_assert_eq!(arch.number_of(name), Some(nr));
        }
    }

    #[test]
    fn unknown_names_never_panic_and_are_65(arch in prop::sample::select(Arch::ALL.to_vec()), name in hostile_string()) {
        match arch.resolve(&name) {
            Ok(nr) => prop_assert_eq!(arch.name_of(nr), Some(name.as_str())),
            Err(e) => {
                prop_assert!(matches!(e, SyscallError::UnknownName { .. }), "{e:?}");
                assert_error(&e, &[Category::UnknownSyscall], &name);
            }
        }
    }

    #[test]
    fn unknown_architectures_are_64(name in hostile_string()) {
        match name.parse::<Arch>() {
            Ok(a) => {
                // Only the documented spellings, in any case.
                let lower = name.to_ascii_lowercase();
                let key = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
                let aliases: &[&str] = match a {
                    Arch::X86_64 => &["x86_64", "amd64", "x86-64"],
                    Arch::X86 => &["x86", "i386", "i686", "ia32"],
                    Arch::X32 => &["x32"],
                    Arch::Aarch64 => &["aarch64", "arm64"],
                    Arch::Arm => &["arm", "armhf", "arm32"],
                    Arch::Riscv64 => &["riscv64"],
                };
                prop_assert!(aliases.contains(&key), "{name:?} read as {a}");
            }
            Err(e) => assert_error(&e, &[Category::UnknownArch], &name),
        }
    }
}

// ---------------------------------------------------------------------------------
// audit records (cmd_audit::records)

const AUDIT_ARCHES: [u32; 6] = [
    records::AUDIT_ARCH_X86_64,
    records::AUDIT_ARCH_I386,
    records::AUDIT_ARCH_AARCH64,
    records::AUDIT_ARCH_ARM,
    records::AUDIT_ARCH_RISCV64,
    0x8000_0016,
];

/// The kernel's `audit_log_untrustedstring`: quoted, or hex when it holds a quote, a
/// blank, a control character or a byte outside printable ASCII.
fn audit_string(s: &str) -> String {
    if s.bytes().any(|b| b == b'"' || !(0x21..=0x7e).contains(&b)) {
        s.bytes().map(|b| format!("{b:02X}")).collect()
    } else {
        format!("\"{s}\"")
    }
}

/// `/dev/kmsg`'s escaping: bytes below 0x20, from 0x7f, and `\` as `\xNN`.
fn kmsg_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if !(0x20..0x7f).contains(&b) || b == b'\\' {
                format!("\\x{b:02x}")
            } else {
                char::from(b).to_string()
            }
        })
        .collect()
}

fn audit_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type=1326",
            "type=SECCOMP",
            "type=UNKNOWN[1326]",
            "audit(",
            "):",
            ")",
            ":",
            ".",
            "=",
            "\"",
            " ",
            "pid=",
            "arch=",
            "syscall=",
            "code=",
            "0x",
            "comm=",
            "exe=",
            "c000003e",
            "kauditd_printk_skb: ",
            " callbacks suppressed",
            "audit: audit_lost=",
            "audit: backlog limit exceeded",
            "\u{1d}",
            "\\x",
            "\\x4",
            "é",
            "msg=audit(",
            "1796224929.706:2",
            "7ffc0000",
            ";",
            ",",
        ])
        .prop_map(str::to_owned),
        "[0-9]{1,12}",
        "[0-9a-fA-F]{1,9}",
        hostile_string(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn audit_lines_never_panic(
        line in prop_oneof![
            hostile_string(),
            prop::collection::vec(audit_token(), 0..24).prop_map(|t| t.concat()),
        ],
    ) {
        match records::parse_line(&line) {
            Line::Seccomp(r) => prop_assert!(line.contains("audit(") && r.pid.to_string().len() <= 10),
            Line::Malformed(m) => prop_assert!(!m.is_empty()),
            Line::Suppressed(_) | Line::Lost(_) | Line::Other => {}
        }
        if let Some(k) = records::parse_kmsg(&line) {
            let _ = records::parse_line(&k.message);
        }
    }

    /// `/dev/kmsg` records with escapes cut short, next to multi-byte characters.
    #[test]
    fn kmsg_records_never_panic(
        header in prop_oneof![Just("6,1,2,-;".to_owned()), "[0-9,;-]{0,12}", hostile_string()],
        body in prop::collection::vec(prop_oneof![
            Just("\\x".to_owned()), Just("\\".to_owned()), "[0-9a-fA-FxX]{1,2}", Just("é".to_owned()),
            Just("€".to_owned()), Just("😀".to_owned()), Just("\n".to_owned()), any::<char>().prop_map(String::from),
        ], 0..12),
    ) {
        let raw = format!("{header}{}", body.concat());
        if let Some(k) = records::parse_kmsg(&raw) {
            prop_assert!(!k.message.contains('\n'));
            let _ = records::parse_line(&k.message);
        }
    }

    /// A record as the kernel prints it (kmsg, dmesg, journal or auditd) parses back
    /// field by field, also through kmsg's escaping.
    #[test]
    fn audit_records_round_trip(
        secs in 0i64..10_000_000_000,
        ms in 0i64..1000,
        serial in any::<u64>(),
        pid in any::<u32>(),
        comm in prop::option::of("\\PC{1,16}"),
        exe in prop::option::of("\\PC{1,40}"),
        audit_arch in prop_oneof![prop::sample::select(AUDIT_ARCHES.to_vec()), any::<u32>()],
        syscall in prop_oneof![0u64..600, any::<u64>()],
        code in prop_oneof![Just(0x7ffc_0000u32), Just(0x0005_0026), any::<u32>()],
        prefix in prop::sample::select(vec!["audit: ", "[ 3220.499496] audit: ", "Dec 02 15:22:09 host kernel: audit: ", ""]),
        auditd in any::<bool>(),
        seq in any::<u64>(),
        ts in any::<u64>(),
    ) {
        let mut fields = String::new();
        fields.push_str(&format!("auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid={pid}"));
        if let Some(c) = &comm {
            fields.push_str(&format!(" comm={}", audit_string(c)));
        }
        if let Some(e) = &exe {
            fields.push_str(&format!(" exe={}", audit_string(e)));
        }
        fields.push_str(&format!(" sig=0 arch={audit_arch:x} syscall={syscall} compat=0 ip=0x7efd3c0c7f37 code={code:#x}"));
        let line = if auditd {
            format!("type=SECCOMP msg=audit({secs}.{ms:03}:{serial}): {fields}\u{1d}ARCH=x86_64 SYSCALL=mkdir")
        } else {
            format!("{prefix}type=1326 audit({secs}.{ms:03}:{serial}): {fields}")
        };
        let want = AuditRecord {
            unix_ms: secs * 1000 + ms,
            serial,
            pid,
            comm: comm.clone(),
            exe: exe.clone(),
            audit_arch,
            syscall,
            action: SeccompRet::from_code(code),
        };
        prop_assert_eq!(records::parse_line(&line), Line::Seccomp(want.clone()));
        if let Some(a) = want.arch() {
            prop_assert_eq!(want.name(), a.name_of(syscall));
        }
        if !auditd {
            let raw = format!("5,{seq},{ts},-;{}\n SUBSYSTEM=x\n", kmsg_escape(&line));
            let k = records::parse_kmsg(&raw).expect("kmsg record");
            prop_assert_eq!((k.seq, k.ts_us), (seq, ts));
            prop_assert_eq!(&k.message, &line);
            prop_assert_eq!(records::parse_line(&k.message), Line::Seccomp(want));
        }
    }
}

// ---------------------------------------------------------------------------------
// --since (cmd_audit::time) and durations (report::parse_duration)

const NOW: WallTime = WallTime(1_796_224_929_706);

/// The last millisecond of year 9999.
const MAX_RFC3339: i64 = 253_402_300_799_999;

fn time_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-", ":", "T", "t", " ", ".", "Z", "z", "+", "-05", "+01:00", "@", "d", "s", "ms", "m",
            "h", "min", "é", "1e9", "inf", "NaN",
        ])
        .prop_map(str::to_owned),
        "[0-9]{1,4}",
        "[0-9]{10,30}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn since_never_panics(s in prop_oneof![
        hostile_string(),
        prop::collection::vec(time_token(), 0..12).prop_map(|t| t.concat()),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,12})?)?(Z|[+-][0-9]{2}:?[0-9]{2}|.{0,3})",
    ], now in any::<i64>()) {
        if let Err(e) = parse_since(&s, WallTime(now)) {
            assert_one_line(&e, s.contains('\n'));
        }
        if let Err(e) = report::parse_duration(&s) {
            assert_one_line(&e, s.contains('\n'));
        }
    }

    /// What `audit-report` prints as a time, `--since` reads back.
    #[test]
    fn since_reads_back_the_times_we_print(t in 0i64..=MAX_RFC3339) {
        let shown = WallTime(t).to_string();
        prop_assert_eq!(parse_since(&shown, NOW), Ok(WallTime(t)), "{}", shown);
    }

    #[test]
    fn wall_times_always_display(t in any::<i64>()) {
        let _ = WallTime(t).to_string();
    }

    /// `Nms`, `Ns`, `Nm`, `Nh` and `Nd` ago; unix timestamps as they are.
    #[test]
    fn durations_round_trip(
        n in 0u64..1_000_000_000,
        unit in prop::sample::select(vec![
            ("ms", 1u64), ("s", 1000), ("m", 60_000), ("min", 60_000), ("h", 3_600_000),
        ]),
    ) {
        let (suffix, ms_per) = unit;
        let want = n * ms_per;
        if want > 1_000_000_000_000 {
            // Longer than 10^9 s: refused, as documented ("out of range").
            let e = report::parse_duration(&format!("{n}{suffix}")).expect_err("too long");
            prop_assert!(e.contains("out of range"), "{e}");
            return Ok(());
        }
        let got = report::parse_duration(&format!("{n}{suffix}")).expect("duration");
        prop_assert!(got.as_millis().abs_diff(u128::from(want)) <= 1, "{n}{suffix}: {got:?}");
        let since = parse_since(&format!("{n}{suffix}"), NOW).expect("since");
        let n = n % 1_000_000;
        prop_assert!((NOW.0 - since.0).abs_diff(i64::try_from(want).expect("ms")) <= 1);
        let days = parse_since(&format!("{}d", n % 36_500), NOW).expect("days");
        prop_assert_eq!(NOW.0 - days.0, i64::try_from((n % 36_500) * 86_400_000).expect("ms"));
        prop_assert_eq!(parse_since(&format!("@{n}"), NOW), Ok(WallTime(i64::try_from(n * 1000).expect("ms"))));
    }
}

// ---------------------------------------------------------------------------------
// the binary: one line on stderr and in the hook log, the documented exit code

fn run_hook_binary(state: &[u8], out: &Path, log: &Path, run_dir: &Path) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_seccomp-recorder"))
        .args(["hook", "--output-dir"])
        .arg(out)
        .arg("prestart")
        .env("SECCOMP_RECORDER_LOG_FILE", log)
        .env("SECCOMP_RECORDER_RUN_DIR", run_dir)
        .env("SECCOMP_RECORDER_BPF_DIR", run_dir.join("bpf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the hook");
    let mut stdin = child.stdin.take().expect("stdin");
    // The hook may stop reading early (1 MiB limit): a broken pipe is fine.
    let _ = stdin.write_all(state);
    drop(stdin);
    child.wait_with_output().expect("hook output")
}

proptest! {
    #![proptest_config(Config { cases: (cases() / 4).max(16), ..config() })]

    /// What an operator sees of a refused container start: exactly one line on stderr
    /// and one in the hook log, even when the hostile value holds line breaks, and the
    /// exit code of its category. (The state has no pid: nothing reaches the kernel.)
    #[test]
    fn the_hook_binary_prints_one_line_and_the_documented_code(
        anns in prop::collection::hash_map(annotation_key(), annotation_value(), 1..4),
        raw in prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..512)),
        forged in prop::option::weighted(0.5, (
            prop::sample::select(vec![annotations::FORMAT, annotations::ERRNO, annotations::ARGS,
                annotations::RUNTIME, annotations::TRACE_SYSCALL, annotations::OUTPUT]),
            "[ -~]{0,20}",
            prop::sample::select(vec!["\n", "\r\n", "\u{1b}[2K\r", "\n\n"]),
            "[ -~]{1,40}",
        )),
    ) {
        let mut anns = anns;
        if let Some((key, before, brk, after)) = forged {
            // A value that tries to forge a log line: "...\nINFO profile written".
            anns.insert(key.to_owned(), format!("{before}{brk}{after}"));
        }
        let p = planted();
        let log = p.out.parent().expect("tmp").join("hook.log");
        let run_dir = p.out.parent().expect("tmp").join("run");
        let state = match &raw {
            Some(bytes) => bytes.clone(),
            None => {
                let st = serde_json::json!({"id": "ctr", "status": "created", "annotations": anns});
                serde_json::to_vec(&st).expect("json")
            }
        };
        let o = run_hook_binary(&state, &p.out, &log, &run_dir);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        match o.status.code() {
            Some(0) => prop_assert!(stderr.is_empty(), "{stderr}"),
            Some(code) => {
                prop_assert!(code == 66 || code == 74, "exit {code}: {stderr}");
                prop_assert_eq!(stderr.lines().count(), 1, "stderr: {:?}", stderr);
                prop_assert!(stderr.starts_with("seccomp-recorder: "), "{}", stderr);
                prop_assert_eq!(logged.lines().filter(|l| l.contains("ERROR")).count(), 1, "log: {:?}", logged);
                prop_assert_eq!(logged.lines().count(), 1, "log: {:?}", logged);
            }
            None => prop_assert!(false, "the hook died of a signal: {stderr}"),
        }
        prop_assert_eq!(entries(&p.out), BTreeSet::from(["file.json".to_owned(), "link".to_owned()]));
        prop_assert!(entries(&p.outside).is_empty());
        prop_assert!(!run_dir.exists(), "the run directory was created");
    }
}

// ---------------------------------------------------------------------------------
// regressions: the minimal inputs these properties found

/// `unescape_kmsg` sliced `&s[i + 2..i + 4]` after a `\x` without checking that the
/// two bytes are characters: `\x€` panicked (byte index 4 is inside '€').
#[test]
fn kmsg_escape_before_a_multibyte_character() {
    for raw in [
        "6,1,2,-;\\x€",
        "6,1,2,-;\\x1é",
        "6,1,2,-;\\x😀",
        "6,1,2,-;\\xé",
    ] {
        let k = records::parse_kmsg(raw).expect("a record");
        assert!(k.message.starts_with("\\x"), "{raw}: {:?}", k.message);
    }
}

/// An annotation value with a line break was printed as is: two lines on stderr and
/// a forged line in the hook log (`'a` + `\n` + `INFO ... profile written'`).
#[test]
fn line_breaks_in_annotations_stay_on_one_line() {
    let p = planted();
    let log = p.out.parent().expect("tmp").join("hook.log");
    let run_dir = p.out.parent().expect("tmp").join("run");
    let state = serde_json::json!({"id": "ctr", "status": "created", "annotations": {
        annotations::OUTPUT: "x.json",
        annotations::FORMAT: "yaml\nINFO seccomp_recorder::hook: profile written id=other"}});
    let o = run_hook_binary(
        &serde_json::to_vec(&state).expect("json"),
        &p.out,
        &log,
        &run_dir,
    );
    assert_eq!(o.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("'yaml\\nINFO seccomp_recorder::hook"),
        "{stderr}"
    );
    let logged = std::fs::read_to_string(&log).expect("hook log");
    assert_eq!(logged.lines().count(), 1, "{logged}");
}

/// `unescape_mountinfo` pushed each byte as a `char` (`/sys/fs/cgroup/ü` came back as
/// `/sys/fs/cgroup/Ã¼`) and could slice inside a character after a `\`; fields were
/// split at any blank, also one inside a mount point (a vertical tab).
#[test]
fn mountinfo_mount_points_that_are_not_ascii() {
    for mount in ["/sys/fs/cgroup/ü", "/run/c g\u{b}2", "/x\\y", "/\\é"] {
        let line = format!(
            "36 25 0:30 / {} rw shared:9 - cgroup2 cgroup2 rw\n",
            mountinfo_escape(mount)
        );
        assert_eq!(
            seccomp_recorder::cgroup::cgroup2_mount_from_mountinfo(&line),
            Some(PathBuf::from(mount)),
            "{line:?}"
        );
    }
    // Raw text with a backslash before a multi-byte character: no panic.
    let _ = seccomp_recorder::cgroup::cgroup2_mount_from_mountinfo(
        "36 25 0:30 / /a\\1é rw - cgroup2 cgroup2 rw\n",
    );
}

/// `of: /x.json` (a blank after the colon) gave the output ` /x.json`: a relative path,
/// so the profile went to `<output dir>/ /x.json` instead of `/x.json`.
#[test]
fn blanks_after_of_and_if_are_not_part_of_the_path() {
    let anns = HashMap::from([(
        annotations::TRACE_SYSCALL.to_owned(),
        "if: /b.json ; of:\t/o.json".to_owned(),
    )]);
    let r = annotations::parse(&anns).expect("valid").expect("asked");
    assert_eq!(
        (r.output.as_str(), r.base.as_deref()),
        ("/o.json", Some("/b.json"))
    );
    let blank = HashMap::from([(annotations::TRACE_SYSCALL.to_owned(), "of: ".to_owned())]);
    assert!(matches!(
        annotations::parse(&blank),
        Err(AnnotationError::BadTraceSyscall { .. })
    ));
}
