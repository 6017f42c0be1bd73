//! The hook killed (SIGKILL) at each of its crash points, an output directory on a
//! full file system, and pins deleted behind our back: each ends in a complete
//! profile or one clear error; never a half-written file, a leaked slot, a state file
//! nobody finishes, or a link left attached after `gc`.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::hookrun::{poststop_state, prestart_state, sleeper, Hooks};
use common::scratch::TestCgroup;
use common::*;

fn killed(o: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    o.status.signal() == Some(libc::SIGKILL)
}

/// Runs the hook with `SECCOMP_RECORDER_FAULT=point`.
fn hook_dying_at(h: &Hooks, point: &str, stage: &str, state: &serde_json::Value) -> Output {
    h.hook_with(stage, state, &[("SECCOMP_RECORDER_FAULT", point)])
}

/// After a crash and the container's end: `gc`, then nothing is left over.
fn gc_leaves_nothing(h: &Hooks) -> String {
    let o = h.cmd().arg("gc").output().expect("gc");
    assert!(o.status.success(), "gc: {}{}", stdout(&o), stderr(&o));
    assert!(h.states().is_empty(), "state left: {:?}", h.states());
    assert!(!h.link_attached(), "still attached after gc");
    // No temporary or half-written file: every file in out/ is complete JSON.
    for e in fs::read_dir(h.out()).expect("out").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(e.path()).expect("read");
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{name} is not complete JSON"
        );
    }
    stdout(&o)
}

fn profile_names(p: &Path) -> Vec<String> {
    allowed_names(p)
}

#[e2e_macros::test]
fn hook_killed_in_prestart_before_or_after_registering() {
    if !can_record() {
        return;
    }
    for point in ["prestart-after-state", "prestart-after-register"] {
        let h = Hooks::new(point);
        let cg = TestCgroup::new(&format!("fault-{point}"));
        let mut p = sleeper(&cg);
        let o = hook_dying_at(
            &h,
            point,
            "prestart",
            &prestart_state("f1", p.id(), "f1.json"),
        );
        assert!(killed(&o), "{point}: {:?}", o.status);
        // The runtime fails the container; its cgroup goes.
        let _ = p.kill();
        let _ = p.wait();
        drop(cg);
        gc_leaves_nothing(&h);
        // The recording never started: no (empty, misleading) profile.
        assert!(!h.out().join("f1.json").exists(), "{point}");
        // And a poststop that still comes does nothing wrong.
        let o = h.hook("poststop", &poststop_state("f1", "f1.json"));
        assert!(o.status.success(), "{point}: {}", stderr(&o));
    }
}

#[e2e_macros::test]
fn hook_killed_in_poststop_is_finished_by_gc_with_the_profile() {
    if !can_record() {
        return;
    }
    for point in [
        "poststop-after-claim",
        "poststop-after-counts",
        "write-before-rename",
    ] {
        let h = Hooks::new(point);
        let cg = TestCgroup::new(&format!("fault-{point}"));
        // A process that makes a marker syscall, then sleeps (recorded: exec'd after
        // registration? no: started before; the recording starts at its first exec).
        let mut p = cg.spawn(Path::new("/bin/sh"), &["-c", "sleep 0.3; exec /bin/sync"]);
        let o = h.hook("prestart", &prestart_state("f2", p.id(), "f2.json"));
        assert!(o.status.success(), "{point}: {}", stderr(&o));
        let _ = p.wait();
        drop(cg);
        let o = hook_dying_at(&h, point, "poststop", &poststop_state("f2", "f2.json"));
        assert!(killed(&o), "{point}: {:?}", o.status);
        assert!(
            !h.out().join("f2.json").exists(),
            "{point}: a profile appeared before the rename"
        );
        let said = gc_leaves_nothing(&h);
        assert!(said.contains("finished f2"), "{point}: {said}");
        let names = profile_names(&h.out().join("f2.json"));
        assert!(names.contains(&"sync".to_owned()), "{point}: {names:?}");
    }
}

#[e2e_macros::test]
fn a_full_output_file_system_is_one_error_and_gc_writes_later() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("full");
    // A 64 KiB tmpfs as the output directory, filled up.
    let out = h.out();
    let size = std::ffi::CString::new("size=64k").expect("cstr");
    let (src, fstype) = (
        std::ffi::CString::new("sr-full").expect("cstr"),
        std::ffi::CString::new("tmpfs").expect("cstr"),
    );
    let target = std::ffi::CString::new(out.to_str().expect("utf8")).expect("cstr");
    // SAFETY: mount(2) with valid C strings.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            size.as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
    struct Unmount(std::ffi::CString);
    impl Drop for Unmount {
        fn drop(&mut self) {
            // SAFETY: umount2 of our own mount.
            unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _unmount = Unmount(target.clone());
    let filler = out.join("filler");
    let _ = fs::write(&filler, vec![0u8; 64 * 1024]);

    let cg = TestCgroup::new("fault-full");
    let mut p = cg.spawn(Path::new("/bin/sh"), &["-c", "sleep 0.3; exec /bin/sync"]);
    let o = h.hook("prestart", &prestart_state("f3", p.id(), "f3.json"));
    assert!(o.status.success(), "prestart: {}", stderr(&o));
    let _ = p.wait();
    drop(cg);
    let o = h.hook("poststop", &poststop_state("f3", "f3.json"));
    assert!(!o.status.success(), "poststop wrote to a full disk?");
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!out.join("f3.json").exists(), "a half-written profile");
    // The counts wait in the state for gc; with room again, gc writes the profile.
    assert_eq!(h.states(), ["f3.json"]);
    fs::remove_file(&filler).expect("make room");
    let said = gc_leaves_nothing(&h);
    assert!(said.contains("finished f3"), "{said}");
    assert!(profile_names(&out.join("f3.json")).contains(&"sync".to_owned()));
}

#[e2e_macros::test]
fn pins_deleted_behind_our_back_give_one_clear_error_and_nothing_attached() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("unpinned");
    let cg = TestCgroup::new("fault-unpinned");
    let mut p = sleeper(&cg);
    let o = h.hook("prestart", &prestart_state("f4", p.id(), "f4.json"));
    assert!(o.status.success(), "prestart: {}", stderr(&o));
    // Someone removes our pins (rm -rf /sys/fs/bpf/...): maps and link go with them.
    fs::remove_dir_all(&h.bpf).expect("remove pins");
    let _ = p.kill();
    let _ = p.wait();
    drop(cg);
    let o = h.hook("poststop", &poststop_state("f4", "f4.json"));
    // A fresh program is loaded; the old slot is unknown to it: the counts are lost,
    // said once (exit 74), and no profile pretends otherwise.
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("the counts of container f4 are lost"), "{err}");
    assert!(!h.out().join("f4.json").exists());
    gc_leaves_nothing(&h);
    assert!(!h.out().join("f4.json").exists());
}

#[e2e_macros::test]
fn umask_000_does_not_make_anything_group_or_world_writable() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !can_record() {
        return;
    }
    let h = Hooks::new("umask");
    let cg = TestCgroup::new("fault-umask");
    let mut p = sleeper(&cg);
    let run_hook = |stage: &str, state: &serde_json::Value| {
        let mut c = h.cmd();
        c.args(["hook", "--output-dir"]).arg(h.out()).arg(stage);
        // SAFETY: umask(2) only, before exec.
        unsafe {
            c.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("hook");
        std::io::Write::write_all(
            &mut child.stdin.take().expect("stdin"),
            state.to_string().as_bytes(),
        )
        .expect("state");
        child.wait_with_output().expect("hook")
    };
    let o = run_hook("prestart", &prestart_state("um", p.id(), "um.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut checked = Vec::new();
    let mut check = |path: &Path| {
        let mode = fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o022,
            0,
            "{} has mode {:o}",
            path.display(),
            mode & 0o7777
        );
        checked.push(path.to_owned());
    };
    let run = h.dir.path().join("run");
    check(&run);
    check(&run.join("recordings"));
    check(&run.join("recordings/um.json"));
    check(&run.join("lock"));
    check(&h.dir.path().join("hook.log"));
    check(&h.bpf);
    for e in fs::read_dir(&h.bpf).expect("pins").flatten() {
        check(&e.path());
        for f in fs::read_dir(e.path()).expect("pin dir").flatten() {
            check(&f.path());
        }
    }
    let _ = p.kill();
    let _ = p.wait();
    let o = run_hook("poststop", &poststop_state("um", "um.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    check(&h.out().join("um.json"));
    assert!(checked.len() >= 10, "{checked:?}");
}

/// Waits (bounded) for `path` to exist.
fn wait_for(path: &Path, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    path.exists()
}

#[e2e_macros::test]
fn podman_container_or_conmon_killed_still_ends_in_a_profile() {
    use common::installed::Installed;
    use common::podman::PodmanEnv;
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let inst = Installed::new(env.dir(), env.hooks_dir(), "kill");
    let script = "sync; exec sleep 60";
    // 1. The container SIGKILLed: conmon's cleanup runs the poststop.
    let o = env.run_keep(
        &[
            "-d",
            "--name",
            "killed",
            "--annotation",
            "seccomp-recorder.io/output=killed.json",
        ],
        &["sh", "-c", script],
    );
    assert!(o.status.success(), "run -d: {}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = env.podman(&["kill", "--signal", "KILL", "killed"]);
    assert!(o.status.success(), "kill: {}", stderr(&o));
    let profile = inst.out.join("killed.json");
    assert!(
        wait_for(&profile, std::time::Duration::from_secs(30)),
        "no profile after SIGKILL\n{}",
        inst.log()
    );
    assert!(allowed_names(&profile).contains(&"sync".to_owned()));

    // 2. conmon SIGKILLed, then the container: nobody runs poststop and the empty
    // cgroup stays; gc finishes the recording.
    let o = env.run_keep(
        &[
            "-d",
            "--name",
            "orphan",
            "--annotation",
            "seccomp-recorder.io/output=orphan.json",
        ],
        &["sh", "-c", script],
    );
    assert!(o.status.success(), "run -d: {}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = env.podman(&[
        "inspect",
        "--format",
        "{{.State.ConmonPid}} {{.State.Pid}}",
        "orphan",
    ]);
    let text = stdout(&o);
    let pids: Vec<i32> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "inspect: {text} {}", stderr(&o));
    // SAFETY: kill(2) of processes of this test's private podman.
    unsafe {
        libc::kill(pids[0], libc::SIGKILL);
        libc::kill(pids[1], libc::SIGKILL);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let orphan = inst.out.join("orphan.json");
    assert!(!orphan.exists(), "who wrote it?");
    let o = inst.cli().arg("gc").output().expect("gc");
    assert!(o.status.success(), "gc: {}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("finished"), "{}", stdout(&o));
    assert!(allowed_names(&orphan).contains(&"sync".to_owned()));
    let _ = env.podman(&["rm", "-f", "orphan", "killed"]);
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}
