//! End-to-end tests of `record`: real eBPF in the real kernel, as root.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

const X64: &str = "SCMP_ARCH_X86_64";
const X86: &str = "SCMP_ARCH_X86";

fn record(
    dir: &Path,
    tag: &str,
    cmd: &[&str],
) -> (std::process::Output, std::path::PathBuf, std::path::PathBuf) {
    let profile = dir.join(format!("{tag}.json"));
    let stats = dir.join(format!("{tag}.stats.json"));
    let mut args = vec![
        "record",
        "-o",
        profile.to_str().expect("utf8"),
        "--stats",
        stats.to_str().expect("utf8"),
        "--",
    ];
    args.extend_from_slice(cmd);
    let out = run(&args);
    (out, profile, stats)
}

#[e2e_macros::test]
fn sync_is_listed_only_when_called() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, with, _) = record(dir.path(), "with", &["sh", "-c", "sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (out, without, _) = record(dir.path(), "without", &["sh", "-c", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(allowed_names(&with).contains(&"sync".to_owned()));
    assert!(!allowed_names(&without).contains(&"sync".to_owned()));
    assert!(allowed_names(&without).contains(&"execve".to_owned()));
}

#[e2e_macros::test]
fn a_million_getppid_are_counted_exactly() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = asm_program(
        dir.path(),
        "loop",
        &[Step::Syscall64 {
            nr: 110,
            n: 1_000_000,
        }],
    );
    let (out, _, stats) = record(dir.path(), "loop", &[exe.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = read_stats(&stats);
    assert_eq!(count_of(&s, X64, "getppid"), 1_000_000, "{s:?}");
    assert_eq!(count_of(&s, X64, "execve"), 1);
    assert_eq!(count_of(&s, X64, "exit"), 1);
    // Nothing but the program's own calls: execve, the loop, exit.
    assert_eq!(s.len(), 3, "{s:?}");
}

#[e2e_macros::test]
fn concurrent_recordings_do_not_leak_into_each_other() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Each sleeps between two halves so that the two runs overlap.
    let a = asm_program(
        dir.path(),
        "a",
        &[
            Step::Syscall64 {
                nr: 110,
                n: 300_000,
            },
            Step::SleepMs(400),
            Step::Syscall64 {
                nr: 110,
                n: 300_000,
            },
        ],
    );
    let b = asm_program(
        dir.path(),
        "b",
        &[
            Step::Syscall64 {
                nr: 107,
                n: 200_000,
            },
            Step::SleepMs(400),
            Step::Syscall64 {
                nr: 107,
                n: 200_000,
            },
        ],
    );
    let spawn = |exe: &Path, tag: &str| {
        Command::new(bin())
            .arg("record")
            .arg("-o")
            .arg(dir.path().join(format!("{tag}.json")))
            .arg("--stats")
            .arg(dir.path().join(format!("{tag}.stats")))
            .arg("--")
            .arg(exe)
            .spawn()
            .expect("spawn record")
    };
    let mut ra = spawn(&a, "a");
    let mut rb = spawn(&b, "b");
    assert!(ra.wait().expect("wait a").success());
    assert!(rb.wait().expect("wait b").success());
    let sa = read_stats(&dir.path().join("a.stats"));
    let sb = read_stats(&dir.path().join("b.stats"));
    assert_eq!(count_of(&sa, X64, "getppid"), 600_000, "{sa:?}");
    assert_eq!(count_of(&sa, X64, "geteuid"), 0, "{sa:?}");
    assert_eq!(count_of(&sb, X64, "geteuid"), 400_000, "{sb:?}");
    assert_eq!(count_of(&sb, X64, "getppid"), 0, "{sb:?}");
    assert_eq!(count_of(&sa, X64, "nanosleep"), 1);
    assert_eq!(count_of(&sb, X64, "nanosleep"), 1);
}

#[e2e_macros::test]
fn i386_program_is_recorded_under_scmp_arch_x86_with_i386_names() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // i386: 20 getpid, 64 getppid, 24 getuid (x86_64 would name these writev, uname, sched_yield).
    let exe = i386_program(dir.path(), "i386", &[(20, 3), (64, 5), (24, 7)]);
    let (out, profile, stats) = record(dir.path(), "i386", &[exe.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = read_stats(&stats);
    assert_eq!(count_of(&s, X86, "getpid"), 3, "{s:?}");
    assert_eq!(count_of(&s, X86, "getppid"), 5, "{s:?}");
    assert_eq!(count_of(&s, X86, "getuid"), 7, "{s:?}");
    assert_eq!(count_of(&s, X86, "exit"), 1, "{s:?}");
    // The exec itself is made by the 64-bit parent side of execve.
    assert_eq!(count_of(&s, X64, "execve"), 1, "{s:?}");
    assert!(
        !s.iter()
            .any(|(a, n, _)| a == X64 && (n == "writev" || n == "uname")),
        "{s:?}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).expect("profile")).expect("json");
    assert_eq!(v["architectures"], serde_json::json!([X64, X86]));
}

#[e2e_macros::test]
fn int80_from_a_64_bit_program_is_recorded_as_i386() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = asm_program(
        dir.path(),
        "mixed",
        &[
            Step::Syscall64 { nr: 39, n: 2 },  // getpid, x86_64
            Step::Int80 { nr: 64, n: 4 },      // getppid, i386 via int 0x80
            Step::Syscall64 { nr: 110, n: 1 }, // getppid, x86_64
        ],
    );
    let (out, _, stats) = record(dir.path(), "mixed", &[exe.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = read_stats(&stats);
    assert_eq!(count_of(&s, X64, "getpid"), 2, "{s:?}");
    assert_eq!(count_of(&s, X86, "getppid"), 4, "{s:?}");
    assert_eq!(count_of(&s, X64, "getppid"), 1, "{s:?}");
    // i386 64 must not show up as x86_64 64 (semget).
    assert_eq!(count_of(&s, X64, "semget"), 0, "{s:?}");
}

#[e2e_macros::test]
fn exit_status_is_propagated_and_the_profile_written_anyway() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, profile, _) = record(dir.path(), "fail", &["sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(allowed_names(&profile).contains(&"exit_group".to_owned()));
    let (out, profile, _) = record(dir.path(), "sig", &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr(&out));
    assert!(allowed_names(&profile).contains(&"kill".to_owned()));
}

#[e2e_macros::test]
fn sigterm_is_forwarded_and_the_cgroup_removed() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("sleep.json");
    let mut child = Command::new(bin())
        .arg("record")
        .arg("-o")
        .arg(&profile)
        .args(["--", "sleep", "30"])
        .spawn()
        .expect("spawn");
    let pid = child.id();
    // Wait until the recorder has created its cgroup and started sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let cgroup_name = format!("seccomp-recorder-{pid}");
    let cgroup_dir = loop {
        let found = find_dir_named(&cgroup2_root().expect("cgroup2 mount"), &cgroup_name, 6);
        if let Some(d) = found {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            // Wait until the child has exec'd sleep (and so is recorded).
            let sleeping = procs.lines().any(|p| {
                std::fs::read_to_string(format!("/proc/{}/comm", p.trim()))
                    .is_ok_and(|c| c.trim() == "sleep")
            });
            if sleeping {
                // Give sleep a moment to reach its nanosleep.
                std::thread::sleep(std::time::Duration::from_millis(100));
                break d;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recorder never started sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        allowed_names(&profile).contains(&"clock_nanosleep".to_owned())
            || allowed_names(&profile).contains(&"nanosleep".to_owned())
    );
    assert!(
        !cgroup_dir.exists(),
        "cgroup {} left behind",
        cgroup_dir.display()
    );
}

#[e2e_macros::test]
fn stdout_gets_the_profile_without_output_option() {
    if !can_record() {
        return;
    }
    let out = run(&["record", "--default-errno", "EPERM", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("profile on stdout");
    assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["defaultErrnoRet"], 1);
}

#[e2e_macros::test]
fn missing_command_is_exit_127() {
    if !can_record() {
        return;
    }
    let out = run(&["record", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/program"), "{err}");
}

fn find_dir_named(root: &Path, name: &str, depth: u32) -> Option<std::path::PathBuf> {
    if depth == 0 {
        return None;
    }
    for e in std::fs::read_dir(root).ok()?.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        if e.file_name() == name {
            return Some(p);
        }
        if let Some(f) = find_dir_named(&p, name, depth - 1) {
            return Some(f);
        }
    }
    None
}

#[e2e_macros::test]
fn recorded_profile_enforced_lets_the_command_run_and_denies_the_rest() {
    if !can_record()
        || !prerequisite(
            Path::new("/bin/busybox").exists(),
            "busybox (apt-get install busybox-static)",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = "echo recorded; ls / > /dev/null";
    for (errno, message) in [
        ("ENOSYS", "Function not implemented"),
        ("EPERM", "Operation not permitted"),
    ] {
        let profile = dir.path().join(format!("busybox-{errno}.json"));
        let out = run(&[
            "record",
            "--default-errno",
            errno,
            "-o",
            profile.to_str().expect("utf8"),
            "--",
            "busybox",
            "sh",
            "-c",
            workload,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!allowed_names(&profile).contains(&"mkdir".to_owned()));
        // The same command under its own profile succeeds.
        let out = run(&[
            "enforce",
            "--profile",
            profile.to_str().expect("utf8"),
            "--",
            "busybox",
            "sh",
            "-c",
            workload,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "recorded\n");
        // A syscall the recording never made gets the configured errno.
        let target = dir.path().join(format!("denied-{errno}"));
        let out = run(&[
            "enforce",
            "--profile",
            profile.to_str().expect("utf8"),
            "--",
            "busybox",
            "mkdir",
            target.to_str().expect("utf8"),
        ]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("can't create directory") && err.contains(message),
            "{errno}: {err}"
        );
        assert!(!target.exists());
    }
}

#[e2e_macros::test]
fn report_attributes_a_childs_syscall_to_the_childs_comm() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    // dash runs `sync` as a child process (/bin/sync): only the child makes sync(2).
    let out = run(&[
        "record",
        "-o",
        "/dev/null",
        "--report",
        report.to_str().expect("utf8"),
        "--",
        "sh",
        "-c",
        "sync; true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    let lines = v["syscalls"].as_array().expect("syscalls");
    let sync = lines
        .iter()
        .find(|l| l["name"] == "sync")
        .expect("sync in report");
    assert_eq!(sync["count"], 1);
    assert_eq!(sync["first"]["comm"], "sync", "{sync}");
    let execve = lines
        .iter()
        .find(|l| l["name"] == "execve")
        .expect("execve");
    // sh's own exec plus the child's (dash tries each PATH entry: failed execs count).
    assert!(execve["count"].as_u64().expect("count") >= 2, "{execve}");
    // The first execve is the recorder's child exec'ing sh: at sys_enter the thread
    // still has the recorder's comm (it changes when the exec succeeds).
    assert_eq!(execve["first"]["comm"], "seccomp-recorde", "{execve}");
    assert!(sync["first"]["after_ms"].as_f64().expect("after_ms") > 0.0);
    assert!(sync["first"]["pid"].as_u64().expect("pid") > 0);
}

#[e2e_macros::test]
fn steady_after_splits_startup_from_steady_state() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Start-up: getppid; then a pause across the split; steady state: geteuid.
    let exe = asm_program(
        dir.path(),
        "phases",
        &[
            Step::Syscall64 { nr: 110, n: 100 },
            Step::SleepMs(800),
            Step::Syscall64 { nr: 107, n: 100 },
        ],
    );
    let full = dir.path().join("full.json");
    let steady = dir.path().join("steady.json");
    let out = run(&[
        "record",
        "-o",
        full.to_str().expect("utf8"),
        "--steady-after",
        "300ms",
        "--steady-output",
        steady.to_str().expect("utf8"),
        "--",
        exe.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = allowed_names(&full);
    let steady = allowed_names(&steady);
    for n in ["execve", "getppid", "nanosleep", "geteuid", "exit"] {
        assert!(full.contains(&n.to_owned()), "{n} missing from {full:?}");
    }
    // Plus the calls the kernel makes for any program (seccomp_profile::kernel_calls).
    assert_eq!(
        steady,
        [
            "exit",
            "futex",
            "geteuid",
            "restart_syscall",
            "rt_sigprocmask",
            "rt_sigreturn",
            "rt_sigsuspend"
        ]
        .map(str::to_owned)
    );
}

#[e2e_macros::test]
fn steady_marker_splits_when_the_file_appears() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ready");
    let steady = dir.path().join("steady.json");
    let script = format!("true; touch {}; sleep 0.5; sync", marker.display());
    let out = run(&[
        "record",
        "-o",
        "/dev/null",
        "--steady-marker",
        marker.to_str().expect("utf8"),
        "--steady-output",
        steady.to_str().expect("utf8"),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let steady = allowed_names(&steady);
    assert!(steady.contains(&"sync".to_owned()), "{steady:?}");
    // The marker was created by touch before the split: its utimensat is start-up.
    assert!(!steady.contains(&"utimensat".to_owned()), "{steady:?}");
}

#[e2e_macros::test]
fn steady_output_needs_a_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steady = dir.path().join("steady.json");
    let out = run(&[
        "record",
        "--steady-output",
        steady.to_str().expect("utf8"),
        "--",
        "true",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // The usage error is the missing split, not something else clap found.
    assert!(
        err.contains("required arguments were not provided")
            && err.contains("--steady-after")
            && err.contains("--steady-marker"),
        "{err}"
    );
    assert!(!steady.exists());
}

#[e2e_macros::test]
fn x32_calls_are_recorded_under_scmp_arch_x32() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The x32 ABI marks the syscall number with bit 30; sys_enter sees the call even
    // on kernels built without x32 support (it then fails with ENOSYS).
    let exe = asm_program(
        dir.path(),
        "x32",
        &[
            Step::Syscall64 {
                nr: 0x4000_0000 | 39,
                n: 3,
            }, // getpid, x32
            Step::Syscall64 {
                nr: 0x4000_0000 | 522,
                n: 2,
            }, // rt_sigpending, x32-only number
        ],
    );
    let (out, profile, stats) = record(dir.path(), "x32", &[exe.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = read_stats(&stats);
    assert_eq!(count_of(&s, "SCMP_ARCH_X32", "getpid"), 3, "{s:?}");
    assert_eq!(count_of(&s, "SCMP_ARCH_X32", "rt_sigpending"), 2, "{s:?}");
    assert_eq!(count_of(&s, X64, "getpid"), 0, "{s:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("json");
    let nrs: Vec<u64> = v["syscalls"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|l| l["arch"] == "SCMP_ARCH_X32")
        .map(|l| l["nr"].as_u64().expect("nr"))
        .collect();
    assert_eq!(
        nrs,
        vec![0x4000_0027, 0x4000_020a],
        "x32 numbers carry the x32 bit"
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).expect("profile")).expect("json");
    assert_eq!(
        p["architectures"],
        serde_json::json!([X64, "SCMP_ARCH_X32"])
    );
}

/// Numbers no table names go to a map all recordings share (4,096 entries), which a
/// flood of distinct invalid numbers fills. The ARM-private numbers (`set_tls`'s
/// 0x0f0005, which every 32-bit ARM program calls at start) have cells of their own in
/// the counter row, so they are still counted exactly after such a flood. Here on
/// x86_64, where 0x0f0005 is no syscall, the count shows it; the arm64 guest stage
/// enforces the profile of an AArch32 program doing the same. The flood's warnings are
/// one line.
#[e2e_macros::test]
fn arm_private_numbers_are_counted_exactly_after_a_flood_of_invalid_ones() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    const FROM: u32 = 0x2000;
    const FLOOD: u32 = 5000;
    let exe = asm_program(
        dir.path(),
        "flood",
        &[
            Step::Distinct64 {
                from: FROM,
                n: FLOOD,
            },
            Step::Syscall64 {
                nr: 0x0f_0005,
                n: 7,
            },
            Step::Syscall64 { nr: 110, n: 3 },
        ],
    );
    let (out, _, stats) = record(dir.path(), "flood", &[exe.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = read_stats(&stats);
    assert_eq!(count_of(&s, X64, "983045"), 7, "set_tls's number");
    assert_eq!(count_of(&s, X64, "getppid"), 3);
    let flooded = s
        .iter()
        .filter(|(a, n, _)| {
            a == X64
                && n.parse::<u32>()
                    .is_ok_and(|nr| (FROM..FROM + FLOOD).contains(&nr))
        })
        .count();
    // The shared map did fill: the flood is not all there (else this test proves nothing).
    assert!(
        flooded > 0 && flooded < FLOOD as usize,
        "{flooded} of {FLOOD}"
    );
    let warnings: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.contains("no name in our tables"))
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("{} syscall numbers on {X64}", flooded + 1))
            && warnings[0].contains("8192, 8193"),
        "{warnings:?}"
    );
}
