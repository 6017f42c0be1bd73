//! Bad input gets one clear line on stderr and a distinct exit code.

use crate::common;

use std::process::Command;

use common::scratch::TestCgroup;
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

#[e2e_macros::test]
fn unknown_arch_is_64() {
    let o = run(&["syscalls", "getpid", "--arch", "pdp11"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(one_line(&o).contains("pdp11"));
}

#[e2e_macros::test]
fn unknown_syscall_name_is_65() {
    let o = run(&["syscalls", "no_such_syscall"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(one_line(&o).contains("no_such_syscall"));
}

#[e2e_macros::test]
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

#[e2e_macros::test]
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

#[e2e_macros::test]
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

#[e2e_macros::test]
fn usage_errors_are_2() {
    let o = run(&["record"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["no-such-subcommand"]);
    assert_eq!(o.status.code(), Some(2));
}

fn hook(
    stage: &str,
    state: &str,
    env: &[(&str, &str)],
    out_dir: &std::path::Path,
) -> std::process::Output {
    hook_as(Command::new(bin()), stage, state, env, out_dir)
}

/// The hook run by `c` (the binary itself, or a wrapper such as setpriv ending in it),
/// the state on its stdin.
fn hook_as(
    mut c: Command,
    stage: &str,
    state: &str,
    env: &[(&str, &str)],
    out_dir: &std::path::Path,
) -> std::process::Output {
    use std::io::Write;
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .args(["hook", "--output-dir"])
        .arg(out_dir)
        .arg(stage)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(state.as_bytes())
        .expect("write state");
    child.wait_with_output().expect("hook output")
}

#[e2e_macros::test]
fn hook_refuses_malformed_state_and_missing_pid_and_the_root_cgroup() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let bpf = format!(
        "/sys/fs/bpf/seccomp-recorder-errors-hook-{}",
        std::process::id()
    );
    let log = dir.path().join("hook.log");
    let env = [
        ("SECCOMP_RECORDER_BPF_DIR", bpf.as_str()),
        ("SECCOMP_RECORDER_RUN_DIR", run_dir.to_str().expect("utf8")),
        ("SECCOMP_RECORDER_LOG_FILE", log.to_str().expect("utf8")),
    ];
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let ann = r#""annotations":{"seccomp-recorder.io/output":"x.json"}"#;

    let o = hook("prestart", "{not json", &env, &out);
    assert_eq!(o.status.code(), Some(66));
    assert!(one_line(&o).contains("malformed OCI state"));

    let o = hook(
        "prestart",
        &format!(r#"{{"id":"nopid","status":"created",{ann}}}"#),
        &env,
        &out,
    );
    assert_eq!(o.status.code(), Some(66));
    assert!(one_line(&o).contains("no pid"));

    // A process in the root cgroup: recording it would record the whole host.
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let root = cgroup2_root().expect("cgroup2 mount");
    std::fs::write(root.join("cgroup.procs"), sleeper.id().to_string()).expect("move to root");
    let state = format!(
        r#"{{"id":"rootcg","status":"created","pid":{},{ann}}}"#,
        sleeper.id()
    );
    let o = hook("prestart", &state, &env, &out);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir_all(&bpf);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(one_line(&o).contains("root cgroup"));
    // Nothing registered, nothing written.
    let states = std::fs::read_dir(run_dir.join("recordings"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(states, 0);
    assert_eq!(std::fs::read_dir(&out).expect("ls").count(), 0);
    // The refusal is in the hook log too (runtimes may drop a hook's stderr).
    assert!(std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("root cgroup"));
}

#[e2e_macros::test]
fn root_without_bpf_capabilities_is_77_and_says_why() {
    if !can_record() || !prerequisite(have("setpriv"), "setpriv (util-linux)") {
        return;
    }
    let o = Command::new("setpriv")
        .args([
            "--inh-caps=-all",
            "--bounding-set=-bpf,-sys_admin,-perfmon",
            "--",
        ])
        .arg(bin())
        .args(["record", "--", "true"])
        .output()
        .expect("setpriv");
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    assert!(
        one_line(&o).contains("needs CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON"),
        "{}",
        stderr(&o)
    );
}

#[e2e_macros::test]
fn pins_outside_bpffs_are_69_and_a_fresh_bpffs_works() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let pins = dir.path().join("bpf");
    std::fs::create_dir(&pins).expect("mkdir");
    let rec = |bpf: &std::path::Path| {
        Command::new(bin())
            .args(["record", "-o", "/dev/null", "--", "true"])
            .env("SECCOMP_RECORDER_BPF_DIR", bpf.join("pins"))
            .env("SECCOMP_RECORDER_RUN_DIR", &run_dir)
            .output()
            .expect("record")
    };
    // Not on bpffs: one line, exit 69, before any pin is attempted.
    let o = rec(&pins);
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    assert!(
        one_line(&o).contains("is not on a bpf file system"),
        "{}",
        stderr(&o)
    );
    // A bpffs mounted there: recording works, and unload leaves it empty.
    let c = std::ffi::CString::new(pins.to_str().expect("utf8")).expect("cstr");
    let bpf = std::ffi::CString::new("bpf").expect("cstr");
    // SAFETY: mount(2) with valid C strings.
    let rc = unsafe { libc::mount(bpf.as_ptr(), c.as_ptr(), bpf.as_ptr(), 0, std::ptr::null()) };
    assert_eq!(rc, 0, "mount bpffs: {}", std::io::Error::last_os_error());
    let o = rec(&pins);
    let ok = o.status.success();
    let _ = Command::new(bin())
        .arg("unload")
        .env("SECCOMP_RECORDER_BPF_DIR", pins.join("pins"))
        .env("SECCOMP_RECORDER_RUN_DIR", &run_dir)
        .status();
    // SAFETY: umount2 of our own mount.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    assert!(ok, "record on a fresh bpffs: {}", stderr(&o));
}

/// The hook meets a missing kernel feature and a missing privilege as `record` does
/// (above): one line, 69 and 77, and nothing registered or written. A runtime shows that
/// line (or the hook log has it) and the container does not start.
#[e2e_macros::test]
fn hook_without_btf_is_69_and_without_privilege_is_77() {
    if !can_record() || !prerequisite(have("setpriv"), "setpriv (util-linux)") {
        return;
    }
    let cg = TestCgroup::new("hook-errors");
    let mut sleeper = cg.spawn(std::path::Path::new("/bin/sleep"), &["30"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let bpf = format!(
        "/sys/fs/bpf/seccomp-recorder-hook-nobtf-{}",
        std::process::id()
    );
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"hookerr","status":"created","pid":{},"bundle":"/","annotations":{{"seccomp-recorder.io/output":"x.json"}}}}"#,
        sleeper.id()
    );
    // Logs to a file, as installed (stderr keeps the one line a runtime shows).
    let log = dir.path().join("hook.log");
    let env = [
        ("SECCOMP_RECORDER_BPF_DIR", bpf.as_str()),
        ("SECCOMP_RECORDER_RUN_DIR", run_dir.to_str().expect("utf8")),
        ("SECCOMP_RECORDER_LOG_FILE", log.to_str().expect("utf8")),
    ];
    let without_btf = [
        env[0],
        env[1],
        env[2],
        ("SECCOMP_RECORDER_BTF", "/nonexistent/vmlinux"),
    ];
    let o = hook("prestart", &state, &without_btf, &out);
    let pins_left = std::path::Path::new(&bpf).exists();
    let _ = std::fs::remove_dir_all(&bpf);
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    let line = one_line(&o);
    assert!(
        line.contains("BTF") && line.contains("/nonexistent/vmlinux"),
        "{line}"
    );
    assert!(!pins_left, "pins left at {bpf}");
    // The hook log has it too (runtimes may drop a hook's stderr).
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("/nonexistent/vmlinux"),
        "hook log"
    );

    let mut nobody = Command::new("setpriv");
    nobody
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin());
    let o = hook_as(nobody, "prestart", &state, &env, &out);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir_all(&bpf);
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    assert!(one_line(&o).contains("root"), "{}", stderr(&o));

    let states = std::fs::read_dir(run_dir.join("recordings"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(states, 0, "a recording state was left");
    assert_eq!(std::fs::read_dir(&out).expect("ls").count(), 0);
}
