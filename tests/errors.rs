//! Bad input gets one clear line on stderr and a distinct exit code.

mod common;

use std::process::Command;

use common::*;

fn one_line(o: &std::process::Output) -> String {
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "expected one line, got: {err}"
    );
    assert!(err.starts_with("seccomp-recorder: "), "{err}");
    err
}

#[test]
fn unknown_arch_is_64() {
    let o = run(&["syscalls", "getpid", "--arch", "pdp11"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(one_line(&o).contains("pdp11"));
}

#[test]
fn unknown_syscall_name_is_65() {
    let o = run(&["syscalls", "no_such_syscall"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(one_line(&o).contains("no_such_syscall"));
}

#[test]
fn malformed_profile_is_66() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.json");
    std::fs::write(
        &p,
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [ {\"names\": [\"read\"] ",
    )
    .expect("write");
    let o = run(&[
        "enforce",
        "--profile",
        p.to_str().expect("utf8"),
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(66));
    assert!(one_line(&o).contains("bad.json"));
}

#[test]
fn missing_btf_is_69() {
    if !can_record() {
        return;
    }
    let bpf = format!("/sys/fs/bpf/seccomp-recorder-nobtf-{}", std::process::id());
    let run_dir = tempfile::tempdir().expect("tempdir");
    let o = run_env(
        &["record", "-o", "/dev/null", "--", "true"],
        &[
            ("SECCOMP_RECORDER_BTF", "/nonexistent/vmlinux"),
            ("SECCOMP_RECORDER_BPF_DIR", &bpf),
            (
                "SECCOMP_RECORDER_RUN_DIR",
                run_dir.path().to_str().expect("utf8"),
            ),
        ],
    );
    let _ = std::fs::remove_dir_all(&bpf);
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    let line = one_line(&o);
    assert!(
        line.contains("BTF") && line.contains("/nonexistent/vmlinux"),
        "{line}"
    );
}

#[test]
fn not_root_is_77() {
    // SAFETY: geteuid never fails.
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: the plain call shows it.
        let o = run(&["record", "--", "true"]);
        assert_eq!(o.status.code(), Some(77));
        assert!(one_line(&o).contains("root"));
        return;
    }
    if !prerequisite(have("setpriv"), "setpriv (util-linux)") {
        return;
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin())
        .args(["record", "--", "true"])
        .output()
        .expect("setpriv");
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    assert!(one_line(&o).contains("root"));
}

#[test]
fn usage_errors_are_2() {
    let o = run(&["record"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["no-such-subcommand"]);
    assert_eq!(o.status.code(), Some(2));
}
