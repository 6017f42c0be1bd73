//! End-to-end tests of the profile toolkit: `check` (the CI gate), `merge` and `diff`,
//! on real recordings where the kernel allows, on written files otherwise.

use crate::common;

use std::path::{Path, PathBuf};

use common::*;

const X64: &str = "SCMP_ARCH_X86_64";

/// Records `cmd` into `<tag>.json` and `<tag>.stats.json` in `dir`.
fn record(dir: &Path, tag: &str, cmd: &[&str]) -> (PathBuf, PathBuf) {
    record_for(dir, tag, "any", cmd)
}

/// Records `cmd` with `--runtime RUNTIME` (`none`: the command's own calls only).
fn record_for(dir: &Path, tag: &str, runtime: &str, cmd: &[&str]) -> (PathBuf, PathBuf) {
    let profile = dir.join(format!("{tag}.json"));
    let stats = dir.join(format!("{tag}.stats.json"));
    let mut args = vec![
        "record",
        "--runtime",
        runtime,
        "-o",
        path_str(&profile),
        "--stats",
        path_str(&stats),
        "--",
    ];
    args.extend_from_slice(cmd);
    let out = run(&args);
    assert!(out.status.success(), "record {cmd:?}: {}", stderr(&out));
    (profile, stats)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write input");
    p
}

/// Asserts a one-line error on stderr that names `what`, and exit code `code`.
fn assert_error(o: &std::process::Output, code: i32, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("seccomp-recorder: "), "{err}");
    assert!(err.contains(what), "{what} not in: {err}");
}

#[e2e_macros::test]
fn check_gates_real_recordings() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (true_profile, true_stats) = record(dir.path(), "true", &["sh", "-c", "true"]);
    let (sync_profile, sync_stats) = record(dir.path(), "sync", &["sh", "-c", "sync"]);
    let syncs = count_of(&read_stats(&sync_stats), X64, "sync");
    assert!(syncs >= 1, "the recording saw no sync");

    // Each recording is within its own profile.
    for (profile, stats) in [(&true_profile, &true_stats), (&sync_profile, &sync_stats)] {
        let o = run(&["check", "--baseline", path_str(profile), path_str(stats)]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("ok: every recorded syscall is allowed"));
    }

    // sync is new against the `true` baseline, with its count.
    let o = run(&[
        "check",
        "--baseline",
        path_str(&true_profile),
        path_str(&sync_stats),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let calls = if syncs == 1 { "call" } else { "calls" };
    assert!(
        text.contains(&format!("  {X64} sync: {syncs} {calls}\n")),
        "{text}"
    );
    assert!(text.contains("FAIL: "), "{text}");

    let o = run(&[
        "check",
        "--baseline",
        path_str(&true_profile),
        path_str(&sync_stats),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json output");
    assert_eq!(doc["ok"], false);
    let sync = doc["new"]
        .as_array()
        .expect("new")
        .iter()
        .find(|n| n["name"] == "sync")
        .expect("sync is new");
    assert_eq!(sync["arch"], X64);
    assert_eq!(sync["count"], syncs);
    assert!(doc["unused"].is_array());

    // The recorded profile works as evidence too (names without counts).
    let o = run(&[
        "check",
        "--baseline",
        path_str(&true_profile),
        path_str(&sync_profile),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("(any architecture) sync\n"));

    // A malformed baseline is an error: 2, naming the file.
    let bad = write(
        dir.path(),
        "bad.json",
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [",
    );
    let o = run(&["check", "--baseline", path_str(&bad), path_str(&sync_stats)]);
    assert_error(&o, 2, "bad.json");
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[e2e_macros::test]
fn check_exit_codes_on_written_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = write(
        dir.path(),
        "base.json",
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["exit","getppid","brk"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let within = write(
        dir.path(),
        "within.stats.json",
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":110,"name":"getppid","count":7}]}"#,
    );
    let report = write(
        dir.path(),
        "new.report.json",
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":162,"name":"sync","count":2,
                         "first":{"pid":4242,"tid":4243,"comm":"flush","after_ms":12.5}}],
            "recorder":"a future version with more fields"}"#,
    );
    // The hand-written baseline allows no runtime's start-up calls: by default (every
    // known runtime) that is a finding, named as the runtime's; `--runtime none`
    // checks the recordings alone.
    let o = run(&["check", "--baseline", path_str(&base), path_str(&within)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(
            "  (any architecture) futex: called by the runtime (any) before the workload starts\n"
        ),
        "{text}"
    );
    assert!(!text.contains("getppid:"), "{text}");
    let o = run(&[
        "check",
        "--runtime",
        "crun",
        "--baseline",
        path_str(&base),
        path_str(&within),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("capset: called by the runtime (crun)"));
    assert!(!stdout(&o).contains("futex"), "{}", stdout(&o));

    let o = run(&[
        "check",
        "--runtime",
        "none",
        "--baseline",
        path_str(&base),
        path_str(&within),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("unused by these runs"), "{text}");
    assert!(text.contains("  brk exit\n"), "{text}");

    let o = run(&[
        "check",
        "--runtime",
        "none",
        "--baseline",
        path_str(&base),
        path_str(&within),
        path_str(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "  SCMP_ARCH_X86_64 sync: 2 calls, first by flush (pid 4242, tid 4243) 12.5 ms after the start\n"
        ),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        "check",
        "--runtime",
        "none",
        "--format",
        "json",
        "--baseline",
        path_str(&base),
        path_str(&report),
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(
        doc,
        serde_json::json!({"ok": false,
            "new": [{"arch": X64, "name": "sync", "nr": 162, "count": 2,
                     "first": {"pid": 4242, "tid": 4243, "comm": "flush", "after_ms": 12.5}}],
            "variants": [],
            "conditional": [],
            "unused": ["brk", "exit", "getppid"]})
    );

    // Errors are 2: unknown architecture, a stats file as baseline, a missing file,
    // a file that is no input at all.
    let pdp = write(
        dir.path(),
        "pdp.stats.json",
        r#"{"syscalls":[{"arch":"SCMP_ARCH_PDP11","nr":1,"name":"exit","count":1}]}"#,
    );
    let o = run(&["check", "--baseline", path_str(&base), path_str(&pdp)]);
    assert_error(&o, 2, "unknown architecture 'SCMP_ARCH_PDP11'");
    let o = run(&["check", "--baseline", path_str(&within), path_str(&within)]);
    assert_error(&o, 2, "not a seccomp profile");
    let o = run(&[
        "check",
        "--baseline",
        path_str(&base),
        "/nonexistent/x.json",
    ]);
    assert_error(&o, 2, "/nonexistent/x.json");
    let other = write(dir.path(), "other.json", r#"{"hello": "world"}"#);
    let o = run(&["check", "--baseline", path_str(&base), path_str(&other)]);
    assert_error(&o, 2, "other.json: not a seccomp profile");
}

#[e2e_macros::test]
fn merge_of_two_recordings_equals_the_recording_of_both() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Static programs without libc: their syscall sets are exact. A: getppid; B:
    // getuid and the i386 getpid (a second architecture); AB: A's steps then B's.
    let a_steps = [Step::Syscall64 { nr: 110, n: 3 }];
    let b_steps = [
        Step::Syscall64 { nr: 102, n: 2 },
        Step::Int80 { nr: 20, n: 1 },
    ];
    let both: Vec<Step> = a_steps.iter().chain(&b_steps).copied().collect();
    let a = asm_program(dir.path(), "a", &a_steps);
    let b = asm_program(dir.path(), "b", &b_steps);
    let ab = asm_program(dir.path(), "ab", &both);
    let (a_profile, a_stats) = record(dir.path(), "a", &[path_str(&a)]);
    let (b_profile, b_stats) = record(dir.path(), "b", &[path_str(&b)]);
    let (ab_profile, _) = record(dir.path(), "ab", &[path_str(&ab)]);
    let expected = std::fs::read(&ab_profile).expect("read ab");

    let merged = dir.path().join("merged.json");
    for inputs in [
        [&a_profile, &b_profile],
        [&b_profile, &a_profile],
        [&a_stats, &b_stats],
    ] {
        let o = run(&[
            "merge",
            "-o",
            path_str(&merged),
            path_str(inputs[0]),
            path_str(inputs[1]),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let got = std::fs::read(&merged).expect("read merged");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "merge of {inputs:?}"
        );
    }

    // To stdout with -o -, and the merge of a merge is the same.
    let o = run(&["merge", "-o", "-", path_str(&merged), path_str(&a_profile)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, expected);

    // Conflicting defaults are refused unless told which wins.
    let eperm = dir.path().join("eperm.json");
    let o = run(&[
        "record",
        "-o",
        path_str(&eperm),
        "--default-errno",
        "EPERM",
        "--",
        path_str(&a),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("out.json");
    let o = run(&[
        "merge",
        "-o",
        path_str(&out),
        path_str(&eperm),
        path_str(&b_profile),
    ]);
    assert_error(&o, 66, "defaultErrnoRet");
    assert!(!out.exists());
    let o = run(&[
        "merge",
        "-o",
        path_str(&out),
        "--default-errno",
        "ENOSYS",
        path_str(&eperm),
        path_str(&b_profile),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).expect("read out"), expected);
    let o = run(&[
        "merge",
        "-o",
        path_str(&out),
        "--default-from",
        "1",
        path_str(&eperm),
        path_str(&b_profile),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read out")).expect("json");
    assert_eq!(doc["defaultErrnoRet"], 1);
}

#[e2e_macros::test]
fn diff_names_what_was_added_and_removed() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let a = asm_program(dir.path(), "a", &[Step::Syscall64 { nr: 110, n: 1 }]);
    let b = asm_program(
        dir.path(),
        "b",
        &[
            Step::Syscall64 { nr: 102, n: 1 },
            Step::Int80 { nr: 20, n: 1 },
        ],
    );
    // The commands' own calls only: getppid is also a runtime (runc) start-up call.
    let (a_profile, a_stats) = record_for(dir.path(), "a", "none", &[path_str(&a)]);
    let (b_profile, _) = record_for(dir.path(), "b", "none", &[path_str(&b)]);

    let o = run(&["diff", path_str(&a_profile), path_str(&b_profile)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    for line in [
        "+ architecture SCMP_ARCH_X86",
        "+ SCMP_ARCH_X86_64 getuid",
        "- SCMP_ARCH_X86_64 getppid",
        "+ SCMP_ARCH_X86 getpid",
    ] {
        assert!(lines.contains(&line), "{line:?} not in:\n{text}");
    }
    // execve and exit are in both: not listed for x86_64.
    assert!(!text.contains("SCMP_ARCH_X86_64 execve"), "{text}");

    let o = run(&[
        "diff",
        "--format",
        "json",
        path_str(&a_profile),
        path_str(&b_profile),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(doc["identical"], false);
    assert_eq!(
        doc["architectures"]["added"],
        serde_json::json!(["SCMP_ARCH_X86"])
    );
    // Profile names apply to every listed architecture: B's getpid (made on x86)
    // is allowed on x86_64 too.
    assert_eq!(
        doc["syscalls"][0],
        serde_json::json!({"arch": X64, "added": ["getpid", "getuid"], "removed": ["getppid"]})
    );

    let o = run(&["diff", path_str(&a_profile), path_str(&a_profile)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("no differences"));

    // A stats file is not a profile: an error, 2.
    let o = run(&["diff", path_str(&a_profile), path_str(&a_stats)]);
    assert_error(&o, 2, "not a seccomp profile");
}

/// `check --policy` and `validate --policy`: a real recording of a program that calls
/// `ptrace(PTRACE_TRACEME)` fails the default policy with exit 3, naming the process
/// from the report; a recording without it passes; a corrupt policy is an error (2).
#[e2e_macros::test]
fn policy_fails_a_recorded_ptrace_and_names_the_process() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // rdi is 0 at a static program's entry: ptrace(PTRACE_TRACEME, 0, 0, 0).
    let tracee = asm_program(dir.path(), "tracee", &[Step::Syscall64 { nr: 101, n: 1 }]);
    let quiet = asm_program(dir.path(), "quiet", &[Step::Syscall64 { nr: 110, n: 1 }]);
    let record_with_report = |tag: &str, exe: &Path| {
        let profile = dir.path().join(format!("{tag}.json"));
        let report = dir.path().join(format!("{tag}.report.json"));
        let o = run(&[
            "record",
            "-o",
            path_str(&profile),
            "--report",
            path_str(&report),
            "--",
            path_str(exe),
        ]);
        assert!(o.status.success(), "record {tag}: {}", stderr(&o));
        (profile, report)
    };
    let (profile, report) = record_with_report("tracee", &tracee);
    assert!(allowed_names(&profile).contains(&"ptrace".to_owned()));

    // Without a policy the recording is within its own profile: exit 0.
    let o = run(&["check", "--baseline", path_str(&profile), path_str(&report)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    let o = run(&[
        "check",
        "--policy",
        "default",
        "--baseline",
        path_str(&profile),
        path_str(&report),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{}", stderr(&o));
    let line = out
        .lines()
        .find(|l| l.starts_with("  ptrace (SCMP_ARCH_X86_64): allowed unconditionally by syscalls[0]; first called by tracee (pid "))
        .unwrap_or_else(|| panic!("no ptrace line naming tracee in:\n{out}"));
    assert!(line.ends_with(" ms after the start"), "{line}");
    assert!(
        out.contains("    never allowed: reads and writes the memory"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "FAIL: {} violates policy default (exit 3)",
            profile.display()
        )),
        "{out}"
    );
    // Only ptrace: nothing else this program did is on the list.
    assert_eq!(out.matches("never allowed:").count(), 1, "{out}");

    let o = run(&[
        "check",
        "--policy",
        "default",
        "--format",
        "json",
        "--baseline",
        path_str(&profile),
        path_str(&report),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let v = &doc["policy"]["violations"];
    assert_eq!(doc["policy"]["policy"], "default");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(v[0]["name"], "ptrace");
    assert_eq!(v[0]["allowed"], "unconditionally");
    assert_eq!(v[0]["first"]["comm"], "tracee");
    assert_eq!(doc["ok"], true);

    // validate: the same verdict and the same process, from --report.
    let o = run(&[
        "validate",
        "--policy",
        "default",
        "--report",
        path_str(&report),
        path_str(&profile),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{}", stderr(&o));
    assert!(out.contains("first called by tracee (pid "), "{out}");
    assert!(
        out.ends_with("checked 1 file: 0 errors, 0 warnings, 1 policy violation\n"),
        "{out}"
    );

    // A recording without ptrace passes both, and validates without a finding.
    let (clean, clean_report) = record_with_report("quiet", &quiet);
    let o = run(&[
        "check",
        "--policy",
        "default",
        "--baseline",
        path_str(&clean),
        path_str(&clean_report),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("policy default: ok: "),
        "{}",
        stdout(&o)
    );
    let o = run(&["validate", "--policy", "default", path_str(&clean)]);
    assert_eq!(
        stdout(&o),
        "policy default: ok: ".to_owned()
            + &format!(
                "{} allows none of the calls it never allows\n",
                clean.display()
            )
            + "checked 1 file: 0 errors, 0 warnings, 0 policy violations\n"
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A corrupt policy is an error of the command: one line, exit 2.
    let bad = write(
        dir.path(),
        "bad-policy.json",
        r#"{"neverAllow": [{"names": ["ptrce"], "reason": "typo"}]}"#,
    );
    for cmd in [
        vec![
            "check",
            "--policy",
            path_str(&bad),
            "--baseline",
            path_str(&profile),
            path_str(&report),
        ],
        vec!["validate", "--policy", path_str(&bad), path_str(&profile)],
    ] {
        let o = run(&cmd);
        assert_error(&o, 2, "neverAllow[0].names[0]: unknown syscall \"ptrce\"");
    }
    let o = run(&[
        "validate",
        "--policy",
        "/nonexistent/policy.json",
        path_str(&profile),
    ]);
    assert_error(&o, 2, "cannot read policy /nonexistent/policy.json");
}
