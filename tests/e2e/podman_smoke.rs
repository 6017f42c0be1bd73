//! The podman + crun test harness works: containers run on the busybox rootfs, a
//! seccomp profile is enforced, hooks run with the state we rely on, crun's post-filter
//! tail is what the design assumes, and nothing is left behind.
//!
//! Needs root, podman, crun and busybox-static: FAIL under `CI=true`, skipped otherwise.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::podman::{hook_json, post_filter_tail, PodmanEnv};
use common::{stderr, stdout};

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

#[e2e_macros::test]
fn busybox_ls_runs() {
    let Some(env) = PodmanEnv::new() else { return };
    let o = env.run(&[], &["ls", "/"]);
    assert_ok(&o, "podman run ls /");
    let listing = stdout(&o);
    for d in ["bin", "proc", "etc"] {
        assert!(listing.lines().any(|l| l == d), "no {d} in ls /: {listing}");
    }
    // The workload runs in the busybox rootfs, not on the host.
    let o = env.run(&[], &["readlink", "/bin/ls"]);
    assert_ok(&o, "readlink /bin/ls");
    assert_eq!(stdout(&o).trim(), "busybox");
}

#[e2e_macros::test]
fn permissive_profile_blocks_only_mkdir() {
    let Some(env) = PodmanEnv::new() else { return };
    let profile = env.dir().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
  ]
}"#,
    )
    .expect("write profile");
    let opt = format!("seccomp={}", profile.display());
    let opts = ["--security-opt", opt.as_str()];

    let o = env.run(&opts, &["mkdir", "/x"]);
    assert!(!o.status.success(), "mkdir /x succeeded under the profile");
    assert!(
        stderr(&o).contains("Function not implemented"),
        "mkdir /x: expected ENOSYS, got: {}",
        stderr(&o)
    );

    let o = env.run(&opts, &["ls", "/"]);
    assert_ok(&o, "ls / under the profile");
    assert!(
        stdout(&o).lines().any(|l| l == "bin"),
        "ls /: {}",
        stdout(&o)
    );

    let o = env.run(&opts, &["grep", "Seccomp:", "/proc/self/status"]);
    assert_ok(&o, "grep Seccomp");
    assert!(
        stdout(&o).contains('2'),
        "filter not in force: {}",
        stdout(&o)
    );

    // Control: without the profile (podman's default one) mkdir works.
    let o = env.run(&[], &["mkdir", "/x"]);
    assert_ok(&o, "mkdir /x with podman's default profile");
}

#[e2e_macros::test]
fn container_is_gone_afterwards() {
    let Some(env) = PodmanEnv::new() else { return };
    let cidfile = env.dir().join("cid");
    let cid_opt = format!("--cidfile={}", cidfile.display());
    let o = env.run(&["--name", "sr-smoke-gone", cid_opt.as_str()], &["true"]);
    assert_ok(&o, "podman run true");
    let id = std::fs::read_to_string(&cidfile).expect("cidfile");
    let id = id.trim();
    assert_eq!(id.len(), 64, "container id: {id:?}");

    let o = env.podman(&["ps", "--all", "--format", "{{.ID}} {{.Names}}"]);
    assert_ok(&o, "podman ps -a");
    assert!(
        stdout(&o).trim().is_empty(),
        "containers left: {}",
        stdout(&o)
    );
    assert!(
        !Path::new("/run/crun").join(id).exists(),
        "crun state left for {id}"
    );
    let cg2 = common::cgroup2_root().expect("cgroup2 mount");
    let cg = cg2.join("libpod_parent").join(format!("libpod-{id}"));
    assert!(!cg.exists(), "cgroup left: {}", cg.display());
}

#[e2e_macros::test]
fn drop_removes_kept_containers_and_the_dir() {
    let Some(env) = PodmanEnv::new() else { return };
    let o = env.run_keep(&["--detach", "--name", "sr-smoke-kept"], &["sleep", "300"]);
    assert_ok(&o, "podman run -d sleep");
    let o = env.podman(&["inspect", "--format", "{{.State.Pid}}", "sr-smoke-kept"]);
    assert_ok(&o, "podman inspect");
    let pid: u32 = stdout(&o).trim().parse().expect("pid");
    assert!(pid > 0 && Path::new(&format!("/proc/{pid}")).exists());
    let dir = env.dir().to_owned();

    drop(env);
    assert!(!dir.exists(), "temp dir left: {}", dir.display());
    // The sleep was killed and reaped (conmon reaps it; give it a moment).
    let gone = (0..200).any(|_| {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with("sleep"));
        if alive {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        !alive
    });
    assert!(gone, "container process {pid} still alive");
}

#[e2e_macros::test]
fn hooks_get_state_and_poststop_is_awaited() {
    let Some(env) = PodmanEnv::new() else { return };
    let out = env.dir().join("hook-out");
    std::fs::create_dir(&out).expect("hook out dir");
    let script = env.dir().join("dump-hook.sh");
    // poststop gets no PATH: dump the environment first, then use absolute paths.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             /usr/bin/env > {o}/$1.env\n\
             /bin/cat > {o}/$1.json\n\
             if [ \"$1\" = poststop ]; then /bin/sleep 1; /bin/touch {o}/poststop.done; fi\n",
            o = out.display()
        ),
    )
    .expect("write hook script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.write_hook(&hook_json(
        &script,
        &["dump-hook", "prestart"],
        &["prestart"],
    ));
    env.write_hook(&hook_json(
        &script,
        &["dump-hook", "poststop"],
        &["poststop"],
    ));

    let o = env.run(&["--annotation", "sr.test=yes"], &["true"]);
    assert_ok(&o, "podman run with hooks");
    // `podman run` returned: poststop (which sleeps 1 s) has finished.
    assert!(
        out.join("poststop.done").exists(),
        "podman run did not wait for poststop"
    );

    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(f)).expect(f)).expect("state json")
    };
    let pre = read("prestart.json");
    assert!(
        pre["pid"].as_u64().is_some_and(|p| p > 0),
        "prestart state: {pre}"
    );
    assert_eq!(pre["status"], "created");
    assert_eq!(pre["annotations"]["sr.test"], "yes");
    let post = read("poststop.json");
    assert_eq!(post["id"], pre["id"]);
    assert_eq!(post["status"], "stopped");
    assert!(
        post.get("pid").is_none(),
        "poststop state has a pid: {post}"
    );
    assert_eq!(post["annotations"]["sr.test"], "yes");
    let post_env = std::fs::read_to_string(out.join("poststop.env")).expect("poststop env");
    assert!(
        !post_env.lines().any(|l| l.starts_with("PATH=")),
        "poststop env has PATH: {post_env}"
    );
    let pre_env = std::fs::read_to_string(out.join("prestart.env")).expect("prestart env");
    assert!(
        pre_env.lines().any(|l| l.starts_with("PATH=")),
        "prestart env: {pre_env}"
    );
}

/// crun's init after the filter load, as the design's "runtime tail" assumes.
#[e2e_macros::test]
fn runtime_tail_after_filter_load() {
    let Some(env) = PodmanEnv::new() else { return };
    if !common::prerequisite(common::have("strace"), "strace (apt-get install strace)") {
        return;
    }
    // (case, podman options, expected tail with runs collapsed; None: no filter load)
    type Case = (
        &'static str,
        &'static [&'static str],
        Option<&'static [&'static str]>,
    );
    let cases: [Case; 3] = [
        (
            "default",
            &[],
            Some(&[
                "seccomp",
                "close",
                "prctl",
                "setresgid",
                "setresuid",
                "capset",
                "prctl",
                "rt_sigprocmask",
                "rt_sigaction",
                "write",
                "close",
                "pselect6",
                "read",
                "close",
                "execve",
            ]),
        ),
        (
            "no-new-privileges",
            &["--security-opt", "no-new-privileges"],
            Some(&["seccomp", "close", "execve"]),
        ),
        (
            "unconfined",
            &["--security-opt", "seccomp=unconfined"],
            None,
        ),
    ];
    for (i, (name, opts, want)) in cases.into_iter().enumerate() {
        let logs = env.dir().join(format!("strace-{i}"));
        let wrapper = env.strace_runtime(&logs);
        let rt = format!("--runtime={}", wrapper.display());
        let mut all = vec![rt.as_str()];
        all.extend_from_slice(opts);
        let o = env.run(&all, &["true"]);
        assert_ok(&o, name);
        // strace -D runs detached: wait until the init's execve shows up.
        let mut tail = Err(String::from("no strace log"));
        for _ in 0..300 {
            let text: String = std::fs::read_dir(&logs)
                .expect("logs")
                .flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect();
            tail = post_filter_tail(&text, "/bin/true");
            if tail.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let tail = tail.unwrap_or_else(|e| {
            let files: Vec<_> = std::fs::read_dir(&logs)
                .expect("logs")
                .flatten()
                .map(|e| e.path())
                .collect();
            panic!("{name}: {e} (logs: {files:?}; podman: {})", stderr(&o))
        });
        // Runs collapsed: the number of prctl/rt_sigaction calls depends on the
        // kernel's capability and signal counts.
        let runs = tail.clone().map(|mut v| {
            v.dedup();
            v
        });
        let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
        assert_eq!(runs, want, "{name}: post-filter tail {tail:?}");
    }
}
