//! `seccomp-recorder enforce`: the real binary applies profiles to real commands.
//!
//! Allow-lists are not hard-coded: they come from `strace -f` of the command itself.
//! Needs strace and a kernel with seccomp; without them the tests FAIL under `CI=true`
//! and are skipped with a message otherwise.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_seccomp-recorder");

/// `seccomp-recorder enforce --profile PROFILE [--no-new-privs=false] -- CMD...`
fn enforce_cmd(profile: &Path, no_new_privs: bool, cmd: &[&OsStr]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("enforce").arg("--profile").arg(profile);
    if !no_new_privs {
        c.arg("--no-new-privs=false");
    }
    c.arg("--").args(cmd);
    c
}

fn run(profile: &Path, cmd: &[&str]) -> Output {
    let cmd: Vec<&OsStr> = cmd.iter().map(OsStr::new).collect();
    enforce_cmd(profile, true, &cmd).output().expect("spawn")
}

/// stderr without libtest's chatter (only the child path prints any).
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The tests need strace and seccomp; say so, and fail under CI.
fn prerequisites() -> bool {
    let strace = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let seccomp =
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("Seccomp:"));
    crate::common::prerequisite(
        strace && seccomp,
        &format!(
            "enforce tests need strace (found: {strace}) and a seccomp kernel (found: {seccomp})"
        ),
    )
}

/// The syscall names `cmd` makes, from `strace -f`.
fn traced_names(cmd: &[&str], dir: &Path) -> BTreeSet<String> {
    let log = dir.join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg("--")
        .args(cmd)
        .status()
        .expect("run strace");
    assert!(
        status.success() || cmd[0] == "mkdir",
        "strace {cmd:?}: {status}"
    );
    let text = std::fs::read_to_string(&log).expect("strace log");
    text.lines()
        .filter_map(|line| {
            // "1234 name(args) = ret"; resumed and signal lines start differently.
            let rest = line.split_once(' ')?.1.trim_start();
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && rest[name.len()..].starts_with('(')).then_some(name)
        })
        .collect()
}

fn write_profile(dir: &Path, json: &serde_json::Value) -> PathBuf {
    let path = dir.join("profile.json");
    std::fs::write(&path, serde_json::to_string_pretty(json).expect("json"))
        .expect("write profile");
    path
}

/// Default-ALLOW profile that denies `mkdir`/`mkdirat` (with `errno_ret`, if given).
fn deny_mkdir(dir: &Path, errno_ret: Option<u32>) -> PathBuf {
    let mut rule = serde_json::json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"});
    if let Some(e) = errno_ret {
        rule["errnoRet"] = e.into();
    }
    write_profile(
        dir,
        &serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}),
    )
}

#[e2e_macros::test]
fn strace_derived_allow_list_runs_true() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let names = traced_names(&["/bin/true"], dir.path());
    assert!(names.contains("execve"), "{names:?}");
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    let out = run(&profile, &["/bin/true"]);
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
    // Control: the same profile really is default-deny.
    let out = run(
        &profile,
        &["/bin/mkdir", dir.path().join("x").to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(!dir.path().join("x").exists());
}

#[e2e_macros::test]
fn denied_mkdir_fails_with_the_configured_errno() {
    if !prerequisites() {
        return;
    }
    for (errno_ret, message) in [
        (None, "Operation not permitted"),
        (Some(1), "Operation not permitted"),
        (Some(38), "Function not implemented"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = deny_mkdir(dir.path(), errno_ret);
        let target = dir.path().join("newdir");
        let out = run(&profile, &["mkdir", target.to_str().expect("utf-8")]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{errno_ret:?}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(message),
            "{errno_ret:?}: {}",
            stderr(&out)
        );
        assert!(!target.exists());
        // Control: without the profile, mkdir works.
        let ok = Command::new("mkdir").arg(&target).status().expect("mkdir");
        assert!(ok.success() && target.is_dir());
    }
}

#[e2e_macros::test]
fn default_errno_ret_applies_to_everything_not_allowed() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = dir.path().join("probe");
    let probe = probe.to_str().expect("utf-8");
    // Twice: the second run fails (EEXIST) and traces mkdir's error path (the message).
    let mut names = traced_names(&["mkdir", probe], dir.path());
    names.extend(traced_names(&["mkdir", probe], dir.path()));
    assert!(
        names.remove("mkdir") | names.remove("mkdirat"),
        "mkdir not traced: {names:?}"
    );
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    let target = dir.path().join("newdir");
    let out = run(&profile, &["mkdir", target.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Function not implemented"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());
}

#[e2e_macros::test]
fn malformed_profile_exits_66_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("bad.json");
    std::fs::write(
        &profile,
        "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [\n}\n",
    )
    .expect("write");
    let out = run(&profile, &["/bin/true"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("bad.json") && lines[0].contains("line 4"),
        "{err}"
    );
}

#[e2e_macros::test]
fn unknown_syscall_name_exits_65() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]
        }),
    );
    let out = run(&profile, &["/bin/true"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("'no_such_syscall'"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("rule syscalls[0]"),
        "{}",
        stderr(&out)
    );
}

#[e2e_macros::test]
fn unknown_architecture_exits_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]}),
    );
    let out = run(&profile, &["/bin/true"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

#[e2e_macros::test]
fn unsupported_action_exits_66_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"},
                         {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    );
    let out = run(&profile, &["/bin/true"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rule syscalls[1] (names: mkdir): SCMP_ACT_NOTIFY"),
        "{}",
        stderr(&out)
    );
}

#[e2e_macros::test]
fn profile_without_execve_is_reported() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        &serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        }),
    );
    let out = run(&profile, &["/bin/true"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("execve was denied by the profile"),
        "{}",
        stderr(&out)
    );
}

#[e2e_macros::test]
fn missing_command_exits_127() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = deny_mkdir(dir.path(), None);
    let out = run(&profile, &["/nonexistent/command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
}

#[e2e_macros::test]
fn command_exit_status_passes_through() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = deny_mkdir(dir.path(), None);
    let out = run(&profile, &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

#[e2e_macros::test]
fn command_runs_filtered_with_no_new_privs() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = deny_mkdir(dir.path(), None);
    let out = run(&profile, &["cat", "/proc/self/status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("\nSeccomp:\t2\n"), "{status}");
    assert!(status.contains("\nNoNewPrivs:\t1\n"), "{status}");
}

/// podman's own default profile (archMap, includes/excludes, errno names) applies.
#[e2e_macros::test]
fn podman_default_profile_applies() {
    let profile = Path::new("/usr/share/containers/seccomp.json");
    if !crate::common::prerequisite(
        profile.exists(),
        "podman's default profile /usr/share/containers/seccomp.json (apt-get install podman)",
    ) {
        return;
    }
    if !prerequisites() {
        return;
    }
    let out = run(profile, &["ls", "/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(profile, &["grep", "Seccomp:", "/proc/self/status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Seccomp:\t2"),
        "{}",
        stderr(&out)
    );
}

/// `--no-new-privs=false` loads the filter without no_new_privs, as root with
/// CAP_SYS_ADMIN only.
#[e2e_macros::test]
fn without_no_new_privs_needs_privilege() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = deny_mkdir(dir.path(), None);
    let out = enforce_cmd(
        &profile,
        false,
        &[OsStr::new("cat"), OsStr::new("/proc/self/status")],
    )
    .output()
    .expect("spawn");
    let privileged = nix_is_root_with_sys_admin();
    if privileged {
        assert!(out.status.success(), "{}", stderr(&out));
        let status = String::from_utf8_lossy(&out.stdout);
        assert!(status.contains("\nSeccomp:\t2\n"), "{status}");
        assert!(status.contains("\nNoNewPrivs:\t0\n"), "{status}");
    } else {
        assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    }
}

fn nix_is_root_with_sys_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid_root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        == Some("0");
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    uid_root && eff & (1 << 21) != 0
}
