//! Where the program sees syscalls (`SECCOMP_RECORDER_ATTACH`): the tracepoint by
//! default, `fentry` on the syscall dispatchers when asked and the kernel takes it,
//! a clear error (exit 69) when asked and it does not, `auto` falling back. Each test
//! loads into a pin directory of its own (the choice applies at load time).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A private pin base (removed on drop, after `unload`) and run dir.
struct OwnPins {
    bpf: PathBuf,
    run: tempfile::TempDir,
}

impl OwnPins {
    fn new(tag: &str) -> OwnPins {
        OwnPins {
            bpf: PathBuf::from(format!(
                "/sys/fs/bpf/seccomp-recorder-att-{tag}-{}",
                std::process::id()
            )),
            run: tempfile::tempdir().expect("run dir"),
        }
    }

    /// `seccomp-recorder ARGS` with these pins and `SECCOMP_RECORDER_ATTACH=attach`.
    fn run(&self, attach: Option<&str>, args: &[&str]) -> std::process::Output {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", self.run.path())
            .env_remove("SECCOMP_RECORDER_ATTACH");
        if let Some(a) = attach {
            c.env("SECCOMP_RECORDER_ATTACH", a);
        }
        c.output().expect("run seccomp-recorder")
    }
}

impl Drop for OwnPins {
    fn drop(&mut self) {
        let _ = self.run(None, &["unload"]);
        let _ = fs::remove_dir_all(&self.bpf);
    }
}

/// Records `program` with the stats written; returns (exit code, stderr, stats).
fn record(
    pins: &OwnPins,
    attach: Option<&str>,
    dir: &Path,
    program: &Path,
) -> (Option<i32>, String, Option<serde_json::Value>) {
    let stats = dir.join(format!("stats-{}.json", attach.unwrap_or("default")));
    let profile = dir.join("p.json");
    let o = pins.run(
        attach,
        &[
            "record",
            "-o",
            profile.to_str().expect("utf8"),
            "--stats",
            stats.to_str().expect("utf8"),
            "--",
            program.to_str().expect("utf8"),
        ],
    );
    let doc = stats.exists().then(|| read_json(&stats));
    (o.status.code(), stderr(&o), doc)
}

#[e2e_macros::test]
fn every_attach_point_counts_exactly_or_says_why_not() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = asm_program(
        dir.path(),
        "marker",
        &[
            Step::Syscall64 { nr: 110, n: 4242 },
            Step::Int80 { nr: 64, n: 77 }, // getppid, i386
        ],
    );
    // The default: the tracepoint, named in the stats.
    let pins = OwnPins::new("default");
    let (code, err, stats) = record(&pins, None, dir.path(), &marker);
    assert_eq!(code, Some(0), "{err}");
    let stats = stats.expect("stats");
    assert_eq!(stats["attach"], "tracepoint", "{stats}");
    let by = |s: &serde_json::Value, arch: &str| -> u64 {
        s["syscalls"]
            .as_array()
            .expect("syscalls")
            .iter()
            .filter(|l| l["name"] == "getppid" && l["arch"] == arch)
            .map(|l| l["count"].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(by(&stats, "SCMP_ARCH_X86_64"), 4242, "{stats}");
    assert_eq!(by(&stats, "SCMP_ARCH_X86"), 77, "{stats}");
    drop(pins);

    // Whether this kernel takes fentry programs is its answer to loading one: a guess
    // from outside (kallsyms, tracefs) was wrong on a machine whose tracefs was not
    // mounted. Either answer is held to its own promise below, and `auto` must agree
    // with it. The fentry path itself is proven on a kernel known to take it by the x86
    // guest stage of `cargo xtask test` (`cargo xtask test-x86-guest`).
    let pins = OwnPins::new("fentry");
    let (code, err, stats) = record(&pins, Some("fentry"), dir.path(), &marker);
    let takes = code == Some(0);
    if takes {
        assert_eq!(code, Some(0), "{err}");
        let stats = stats.expect("stats");
        assert_eq!(stats["attach"], "fentry", "{stats}");
        assert_eq!(by(&stats, "SCMP_ARCH_X86_64"), 4242, "{stats}");
        assert_eq!(by(&stats, "SCMP_ARCH_X86"), 77, "{stats}");
    } else {
        assert_eq!(code, Some(69), "a missing kernel feature: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        // The missing feature, named (the kernel's refusal, or no dispatcher in BTF).
        assert!(
            err.contains("fentry on the syscall dispatchers is not available")
                && err.contains("SECCOMP_RECORDER_ATTACH=tracepoint"),
            "{err}"
        );
    }
    drop(pins);

    // auto: fentry where it loads, the tracepoint otherwise; exact either way.
    let pins = OwnPins::new("auto");
    let (code, err, stats) = record(&pins, Some("auto"), dir.path(), &marker);
    assert_eq!(code, Some(0), "{err}");
    let stats = stats.expect("stats");
    assert_eq!(
        stats["attach"],
        if takes { "fentry" } else { "tracepoint" },
        "{stats}"
    );
    assert_eq!(by(&stats, "SCMP_ARCH_X86_64"), 4242, "{stats}");
    assert_eq!(by(&stats, "SCMP_ARCH_X86"), 77, "{stats}");
}

#[e2e_macros::test]
fn a_bad_attach_point_is_refused_before_anything_is_loaded() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pins = OwnPins::new("bad");
    let o = pins.run(
        Some("kprobe"),
        &[
            "record",
            "-o",
            dir.path().join("p.json").to_str().expect("utf8"),
            "--",
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "seccomp-recorder: recording failed: SECCOMP_RECORDER_ATTACH is 'kprobe': expected auto, fentry or tracepoint"
    );
    assert!(!dir.path().join("p.json").exists());
    assert!(
        !pins.bpf.exists() || fs::read_dir(&pins.bpf).map(|d| d.count()).unwrap_or(0) == 0,
        "nothing pinned"
    );
}
