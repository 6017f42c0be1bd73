//! Hostile input, fuzzed (issue 10, item 4): property tests of every parser that reads
//! what someone else wrote. Needs no root and no kernel feature.
//!
//! What each property says:
//! - nothing panics, whatever the bytes (NUL, non-UTF-8, 1-2 MB, nesting 100,000 deep);
//! - an error is one line: it adds no line break of its own (a value it quotes may
//!   hold one; the binary escapes those, see `the_hook_binary_prints_one_line...`);
//! - an error's category is the documented exit code (docs/reference.md "Exit codes",
//!   `profile/src/exit.rs`): a malformed state, annotation or profile is 66;
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

use seccomp_profile::args::{ArgAt, ArgValue};
use seccomp_profile::audit::records::{self, AuditRecord, Line, SeccompRet};
use seccomp_profile::audit::time::{parse_since, WallTime};
use seccomp_profile::evidence::{self, Content, EvidenceError, InputKind};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::{self, Format, FormatError};
use seccomp_profile::profile::{self, DefaultErrno, ProfileOptions, RecordedSyscall};
use seccomp_profile::profile_file::{self, HostFacts};
use seccomp_profile::report::{self, FirstSeen, Report, ReportLine};
use seccomp_profile::syscalls::{Arch, SyscallError};
use seccomp_recorder::container::annotations::{self, AnnotationError};
use seccomp_recorder::fs::confined::{self, OutputPolicy};
use seccomp_recorder::kernel::tracer::TracerPaths;
use seccomp_recorder::session::hook::{self, HookError, HookOptions, Stage};

mod annotation_parsing;
mod audit_records;
mod binary;
mod name_tables;
mod oci_state;
mod output_paths;
mod profile_readers;
mod recordings;
mod regressions;
mod since_durations;

#[allow(unused_imports)]
use annotation_parsing::*;
#[allow(unused_imports)]
use audit_records::*;
#[allow(unused_imports)]
use binary::*;
#[allow(unused_imports)]
use name_tables::*;
#[allow(unused_imports)]
use oci_state::*;
#[allow(unused_imports)]
use output_paths::*;
#[allow(unused_imports)]
use profile_readers::*;
#[allow(unused_imports)]
use recordings::*;
#[allow(unused_imports)]
use regressions::*;
#[allow(unused_imports)]
use since_durations::*;

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

/// The documented exit codes (docs/reference.md "Exit codes").
#[e2e_macros::test]
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
