//! podman + crun with the hook: recorded profiles enforced under podman: plain, busy with exec, errno EPERM, recorded unconfined or with no_new_privs.

use super::*;

#[e2e_macros::test]
fn ls_profile_has_no_runtime_setup_and_runs_enforced() {
    let Some(r) = Recorder::new("ls") else {
        return;
    };
    let profile = r.profile("ls.json");
    let o = r.env.run(
        &[
            "--annotation",
            &format!("io.containers.trace-syscall=of:{}", profile.display()),
        ],
        &["ls", "/"],
    );
    assert!(
        o.status.success(),
        "record run: {}\nlog:\n{}",
        stderr(&o),
        r.log()
    );
    assert!(
        profile.exists(),
        "no profile when podman run returned; log:\n{}",
        r.log()
    );
    let names = allowed_names(&profile);
    for setup in ["mount", "pivot_root", "umount2", "sethostname", "seccomp"] {
        assert!(
            !names.contains(&setup.to_owned()),
            "{setup} in profile: {names:?}"
        );
    }
    assert!(names.contains(&"getdents64".to_owned()), "{names:?}");
    for opts in [vec![], vec!["--security-opt", "no-new-privileges"]] {
        let mut all = opts.clone();
        let so = seccomp_opt(&profile);
        all.extend(["--security-opt", so.as_str()]);
        let o = r.env.run(&all, &["ls", "/"]);
        assert!(o.status.success(), "enforced run {opts:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("bin"), "{}", stdout(&o));
    }
}

/// Requirement 1: a busy workload plus a `podman exec` during the recording; the
/// profile runs the same workload and exec enforced, and blocks unshare, mount and
/// nsenter (which succeed with CAP_SYS_ADMIN and no filter) with ENOSYS.
#[e2e_macros::test]
fn busy_workload_with_exec_runs_enforced_and_blocks_namespace_escapes() {
    let Some(r) = Recorder::new("busy") else {
        return;
    };
    let profile = r.profile("busy.json");
    let sh = ["sh", "-c", BUSY];

    // Record: run detached, exec a syscall the workload does not make, stop.
    let out_ann = ann(OUTPUT, "busy.json");
    r.ok(
        &r.env.run_keep(
            &[
                "-d",
                "--name",
                "busy-rec",
                "--tmpfs",
                "/tmp",
                "--annotation",
                &out_ann,
            ],
            &sh,
        ),
        "recording run",
    );
    r.wait_for_output("busy-rec", "ready");
    assert!(r.link_pinned(), "not attached while recording");
    r.podman_ok(&["exec", "busy-rec", "mkfifo", "/tmp/fifo"]);
    assert!(
        !profile.exists(),
        "profile written before the container stopped"
    );
    assert_eq!(r.stop("busy-rec"), 0, "recorded workload exit code");
    // podman runs poststop during `stop`: the profile is there when it returns.
    assert!(
        profile.exists(),
        "no profile when podman stop returned; log:\n{}",
        r.log()
    );
    r.podman_ok(&["rm", "busy-rec"]);
    r.assert_idle("after the recording");

    let got = names(&profile);
    // Pipes, forks, files, directories, `id`, the sleep loop, and the exec'd mkfifo.
    for want in [
        "pipe2",
        "clone",
        "wait4",
        "openat",
        "mkdir",
        "unlink",
        "geteuid",
        "clock_nanosleep",
        "mknodat",
    ] {
        assert!(got.contains(want), "{want} missing from {got:?}");
    }
    // Neither the container's set-up nor the exec'd process's (setns into the
    // container's namespaces, before crun loads the filter) is the workload's.
    for setup in RUNTIME_SETUP {
        assert!(!got.contains(setup), "{setup} in profile: {got:?}");
    }
    assert_eq!(
        profile_json(&profile)["defaultErrnoRet"],
        38,
        "default errno is ENOSYS"
    );

    // Control: with CAP_SYS_ADMIN and no filter the escapes work.
    run_escapes(&r, "busy-ctl", "seccomp=unconfined", |name, o| {
        assert!(
            o.status.success(),
            "control: {name} failed without a filter: {}",
            stderr(o)
        );
    });

    // Enforced: the workload and the exec'd command run; the escapes fail with ENOSYS.
    let enforced = seccomp_opt(&profile);
    run_escapes(&r, "busy-enf", &enforced, |name, o| {
        assert!(
            !o.status.success(),
            "{name} succeeded under the recorded profile"
        );
        let (_, _, enosys, _) = ESCAPES.iter().find(|e| e.0 == name).expect("escape");
        assert!(
            stderr(o).contains(enosys),
            "{name}: expected {enosys:?}, got: {}",
            stderr(o)
        );
    });
}

/// Runs BUSY detached with `--cap-add SYS_ADMIN --security-opt SECCOMP`, execs
/// mkfifo (must work), then each escape (checked by `check`), stops it (exit 0).
pub(super) fn run_escapes(r: &Recorder, name: &str, seccomp: &str, check: impl Fn(&str, &Output)) {
    r.ok(
        &r.env.run_keep(
            &[
                "-d",
                "--name",
                name,
                "--tmpfs",
                "/tmp",
                "--cap-add",
                "SYS_ADMIN",
                "--security-opt",
                seccomp,
            ],
            &["sh", "-c", BUSY],
        ),
        &format!("{name}: run"),
    );
    r.wait_for_output(name, "ready");
    r.podman_ok(&["exec", name, "mkfifo", "/tmp/fifo"]);
    r.podman_ok(&["exec", name, "test", "-p", "/tmp/fifo"]);
    if seccomp != "seccomp=unconfined" {
        // The exec'd process is held to the profile too: symlink(2) was never recorded.
        let o = r.env.podman(&["exec", name, "ln", "-s", "/x", "/tmp/l"]);
        assert!(!o.status.success(), "{name}: ln -s allowed");
        assert!(
            stderr(&o).contains("Function not implemented"),
            "{name}: ln -s: {}",
            stderr(&o)
        );
    }
    for (escape, cmd, _, _) in ESCAPES {
        let mut args = vec!["exec", name];
        args.extend_from_slice(cmd);
        check(escape, &r.env.podman(&args));
    }
    assert_eq!(r.stop(name), 0, "{name}: workload exit code");
    let logs = r.podman_ok(&["logs", name]);
    assert!(
        stdout(&logs).contains("stopped"),
        "{name}: {}",
        stdout(&logs)
    );
    r.podman_ok(&["rm", name]);
}

/// Requirement 1 with `seccomp-recorder.io/errno=EPERM`.
#[e2e_macros::test]
fn errno_eperm_annotation_blocks_escapes_with_eperm() {
    let Some(r) = Recorder::new("eperm") else {
        return;
    };
    let profile = r.profile("eperm.json");
    let workload = "id -u > /dev/null; ls / > /dev/null; echo recorded";
    let (out_ann, errno_ann) = (ann(OUTPUT, "eperm.json"), ann(ERRNO, "EPERM"));
    let o = r.env.run(
        &[
            "--tmpfs",
            "/tmp",
            "--annotation",
            &out_ann,
            "--annotation",
            &errno_ann,
        ],
        &["sh", "-c", workload],
    );
    r.ok(&o, "recording run");
    assert_eq!(profile_json(&profile)["defaultErrnoRet"], 1, "EPERM");
    r.assert_idle("after the recording");

    let escapes: String = ESCAPES
        .iter()
        .map(|(n, cmd, _, _)| format!("{} && echo {n}-ok; ", cmd.join(" ")))
        .collect();
    let script = format!("{workload}; {escapes}echo end");
    let enforced = seccomp_opt(&profile);
    for (seccomp, blocked) in [("seccomp=unconfined", false), (enforced.as_str(), true)] {
        let o = r.env.run(
            &[
                "--tmpfs",
                "/tmp",
                "--cap-add",
                "SYS_ADMIN",
                "--security-opt",
                seccomp,
            ],
            &["sh", "-c", &script],
        );
        r.ok(&o, seccomp);
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(out.contains("recorded") && out.contains("end"), "{out}");
        for (name, _, _, eperm) in ESCAPES {
            if blocked {
                assert!(
                    !out.contains(&format!("{name}-ok")),
                    "{name} allowed: {out}"
                );
                assert!(err.contains(eperm), "{name}: expected {eperm:?}: {err}");
            } else {
                assert!(out.contains(&format!("{name}-ok")), "control {name}: {err}");
            }
        }
    }
}

/// Requirement 2: recorded without podman's filter (unconfined) or with
/// no-new-privileges, the profile still starts the container under podman's defaults.
#[e2e_macros::test]
fn recorded_unconfined_or_nnp_runs_under_podman_defaults() {
    let Some(r) = Recorder::new("modes") else {
        return;
    };
    let workload = ["sh", "-c", "ls / > /dev/null; echo hi > /tmp/x; cat /tmp/x"];
    for (tag, opt) in [
        ("unconfined", "seccomp=unconfined"),
        ("nnp", "no-new-privileges"),
    ] {
        let name = format!("{tag}.json");
        let out_ann = ann(OUTPUT, &name);
        let o = r.env.run(
            &[
                "--tmpfs",
                "/tmp",
                "--security-opt",
                opt,
                "--annotation",
                &out_ann,
            ],
            &workload,
        );
        r.ok(&o, &format!("recording with {opt}"));
        let profile = r.profile(&name);
        let got = names(&profile);
        for setup in RUNTIME_SETUP {
            assert!(!got.contains(setup), "{opt}: {setup} in {got:?}");
        }
        // The hook adds what crun does after its filter load under the defaults.
        for tail in RUNTIME_TAIL {
            assert!(
                got.contains(tail),
                "{opt}: runtime tail {tail} missing: {got:?}"
            );
        }
        let so = seccomp_opt(&profile);
        let o = r
            .env
            .run(&["--tmpfs", "/tmp", "--security-opt", &so], &workload);
        r.ok(&o, &format!("defaults + profile recorded with {opt}"));
        assert_eq!(stdout(&o).trim(), "hi");
    }
    r.assert_idle("after the recordings");
}
