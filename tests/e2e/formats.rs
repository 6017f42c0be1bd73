//! The output formats against their real consumers, and `validate` through the binary.
//!
//! - podman + crun accept the `docker` and the `oci` rendering of one profile (both
//!   made by `formats::render` from the same `LinuxSeccomp`) and enforce them the same
//!   way: the same commands succeed, the same fail with the same errno message.
//!   Needs root, podman, crun, busybox-static and podman's default profile: FAIL under
//!   `CI=true`, skipped otherwise.
//! - `seccomp-recorder validate` reports a misspelt syscall name with its JSON path
//!   and exits 1; a clean profile (in each format) exits 0.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use oci_spec::runtime::{Arch as OciArch, LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};
use seccomp_profile::formats::{self, Format};
use seccomp_profile::profile_file::{self, HostFacts};

use common::podman::PodmanEnv;
use common::{prerequisite, run, stderr, stdout};

const PODMAN_DEFAULT: &str = "/usr/share/containers/seccomp.json";

/// Syscalls the test profile denies: mkdir with an explicit EPERM rule, symlink by
/// the default action (ENOSYS, podman's `defaultErrnoRet`).
const EXPLICIT_EPERM: [&str; 2] = ["mkdir", "mkdirat"];
const BY_DEFAULT: [&str; 2] = ["symlink", "symlinkat"];

/// podman's default profile as podman resolves it on this host (archMap, includes and
/// excludes evaluated), minus mkdir/mkdirat (denied by their own EPERM rule) and
/// symlink/symlinkat (left to the default action).
fn test_profile() -> Option<LinuxSeccomp> {
    if !prerequisite(
        Path::new(PODMAN_DEFAULT).exists(),
        "podman's default seccomp profile /usr/share/containers/seccomp.json (apt-get install podman)",
    ) {
        return None;
    }
    let loaded = profile_file::load_profile(Path::new(PODMAN_DEFAULT), &HostFacts::current())
        .expect("podman's default profile parses");
    let mut p = loaded.seccomp;
    let removed: Vec<&str> = EXPLICIT_EPERM.iter().chain(&BY_DEFAULT).copied().collect();
    let mut rules: Vec<LinuxSyscall> = Vec::new();
    for r in p.syscalls().iter().flatten() {
        let names: Vec<String> = r
            .names()
            .iter()
            .filter(|n| !removed.contains(&n.as_str()))
            .cloned()
            .collect();
        if !names.is_empty() {
            let mut kept = r.clone();
            kept.set_names(names);
            rules.push(kept);
        }
    }
    let mut deny = LinuxSyscall::default();
    deny.set_names(EXPLICIT_EPERM.iter().map(|s| s.to_string()).collect());
    deny.set_action(LinuxSeccompAction::ScmpActErrno);
    deny.set_errno_ret(Some(libc::EPERM as u32));
    rules.push(deny);
    p.set_syscalls(Some(rules));
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(libc::ENOSYS as u32));
    Some(p)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write profile");
    path
}

/// What a command did: success, and its output with the container-specific parts
/// (none here) left as they are.
fn outcome(o: &Output) -> (bool, String, String) {
    (o.status.success(), stdout(o), stderr(o))
}

#[e2e_macros::test]
fn podman_enforces_docker_and_oci_renderings_alike() {
    let Some(env) = PodmanEnv::new() else { return };
    let Some(profile) = test_profile() else {
        return;
    };

    let oci = formats::render(&profile, Format::Oci, "t").expect("render oci");
    let docker = formats::render(&profile, Format::Docker, "t").expect("render docker");
    // The two files really differ in how they say it.
    let d: serde_json::Value = serde_json::from_str(&docker).expect("docker json");
    assert!(d.get("architectures").is_none(), "{docker}");
    let arches: Vec<String> = profile
        .architectures()
        .iter()
        .flatten()
        .map(OciArch::to_string)
        .collect();
    assert_eq!(
        d["archMap"][0]["architecture"], arches[0],
        "archMap: {}",
        d["archMap"]
    );
    let o: serde_json::Value = serde_json::from_str(&oci).expect("oci json");
    assert!(o.get("archMap").is_none(), "{oci}");

    let oci_path = write(env.dir(), "profile.oci.json", &oci);
    let docker_path = write(env.dir(), "profile.docker.json", &docker);

    let commands: [&[&str]; 5] = [
        &["ls", "/"],
        &["mkdir", "/x"],
        &["ln", "-s", "/bin", "/y"],
        &["grep", "Seccomp:", "/proc/self/status"],
        &["sh", "-c", "echo hi > /tmp/f && cat /tmp/f"],
    ];
    let mut results: Vec<Vec<(bool, String, String)>> = Vec::new();
    for path in [&oci_path, &docker_path] {
        let opt = format!("seccomp={}", path.display());
        let per_file = commands
            .iter()
            .map(|cmd| outcome(&env.run(&["--security-opt", opt.as_str()], cmd)))
            .collect();
        results.push(per_file);
    }
    let (oci_runs, docker_runs) = (&results[0], &results[1]);
    for (i, cmd) in commands.iter().enumerate() {
        assert_eq!(
            oci_runs[i], docker_runs[i],
            "{cmd:?}: oci and docker renderings behave differently"
        );
    }

    // And they do what the profile says.
    let (ok, out, err) = &oci_runs[0];
    assert!(*ok, "ls / under the profile: {err}");
    assert!(out.lines().any(|l| l == "bin"), "ls /: {out}");
    let (ok, _, err) = &oci_runs[1];
    assert!(!ok, "mkdir /x succeeded under the profile");
    assert!(
        err.contains("Operation not permitted"),
        "mkdir /x: expected EPERM from its own rule, got: {err}"
    );
    let (ok, _, err) = &oci_runs[2];
    assert!(!ok, "ln -s succeeded under the profile");
    assert!(
        err.contains("Function not implemented"),
        "ln -s: expected ENOSYS from the default action, got: {err}"
    );
    let (ok, out, err) = &oci_runs[3];
    assert!(*ok, "grep Seccomp: {err}");
    assert!(
        out.split_whitespace().last() == Some("2"),
        "filter not in force: {out}"
    );
    let (ok, out, err) = &oci_runs[4];
    assert!(*ok && out.trim() == "hi", "sh: {out} {err}");

    // Control: the denials come from the profile, not from the container setup.
    let o = env.run(
        &["--security-opt", "seccomp=unconfined"],
        &["sh", "-c", "mkdir /x && ln -s /bin /y"],
    );
    assert!(
        o.status.success(),
        "mkdir and ln -s without seccomp: {}",
        stderr(&o)
    );
}

#[e2e_macros::test]
fn docker_rendering_of_a_recorded_style_profile_round_trips_through_podmans_reading() {
    // A profile as `record` writes it (one allow rule, native + compat ABIs).
    let profile: LinuxSeccomp = serde_json::from_str(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["execve", "exit_group", "read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .expect("profile");
    let docker = formats::render(&profile, Format::Docker, "t").expect("docker");
    let host = HostFacts {
        native_arch: Some(seccomp_profile::syscalls::Arch::X86_64),
        go_arch: "amd64",
        bounding_caps: Some(0),
        kernel: Some((6, 1)),
    };
    let back = profile_file::parse_profile(&docker, Path::new("d.json"), &host).expect("parses");
    assert_eq!(back.seccomp, profile, "{docker}");
}

// --- validate, through the binary.

const MISSPELT: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["read", "write", "restart_syscall", "rt_sigreturn", "rt_sigprocmask", "rt_sigsuspend", "futex"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["exit_group", "mkdri"], "action": "SCMP_ACT_ALLOW"}
  ]
}"#;

#[cfg(target_arch = "x86_64")]
#[e2e_macros::test]
fn validate_reports_a_misspelt_syscall_with_its_json_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.json", MISSPELT);
    let o = run(&["validate", bad.to_str().expect("utf-8 path")]);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "exit status; stdout: {out}\nstderr: {}",
        stderr(&o)
    );
    let want = format!(
        "{}: syscalls[1].names[1]: error: unknown syscall \"mkdri\" (did you mean \"mkdir\"?)",
        bad.display()
    );
    assert!(
        out.lines().any(|l| l.starts_with(&want)),
        "no line starting with {want:?} in:\n{out}"
    );
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l == "checked 1 file: 1 error, 0 warnings"),
        "summary: {out}"
    );

    let o = run(&[
        "validate",
        "--format",
        "json",
        bad.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json report");
    assert_eq!(v["errors"], 1);
    assert_eq!(v["files"][0]["findings"][0]["path"], "syscalls[1].names[1]");
}

#[e2e_macros::test]
fn validate_accepts_every_rendering_and_fails_on_unreadable_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile: LinuxSeccomp =
        serde_json::from_str(&MISSPELT.replace("mkdri", "mkdir")).expect("profile");
    let mut files = Vec::new();
    for f in [Format::Oci, Format::Docker, Format::Spo] {
        let text = formats::render(&profile, f, "my-app").expect("render");
        files.push(write(dir.path(), &format!("p.{f}.json"), &text));
    }
    let mut args = vec!["validate"];
    args.extend(files.iter().map(|f| f.to_str().expect("utf-8 path")));
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(stdout(&o), "checked 3 files: 0 errors, 0 warnings\n");

    let missing = dir.path().join("missing.json");
    let o = run(&["validate", missing.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.json"), "{}", stderr(&o));
}
