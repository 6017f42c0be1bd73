//! `record --cgroup` and `record --container`: recording what is already running,
//! from the moment of attaching, until the cgroup is empty or a signal comes.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::podman::PodmanEnv;
use common::scratch::TestCgroup;
use common::*;

/// A `seccomp-recorder record --cgroup/--container ...` running in the background.
pub struct Attached {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Attached {
    /// Starts the recorder with `args` (after `record`) and extra environment.
    pub fn start(args: &[&str], env: &[(&str, &Path)]) -> Attached {
        let mut c = Command::new(bin());
        c.arg("record").args(args).stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start record");
        let lines = stderr_lines(&mut child);
        Attached {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until the recorder says it records (the slot is registered).
    pub fn wait_attached(&mut self) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) if l.contains("from now on") => return l,
                Ok(l) => self.seen.push(l),
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "record did not attach ({e}); stderr so far: {:?}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Sends a signal to the recorder.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits (bounded) for the recorder to end; returns its exit code and stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("record did not stop within {limit:?}: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        (status.code(), self.seen.join("\n"))
    }
}

/// A static program that spins (`access(trigger)` + `sched_yield`) until `trigger`
/// exists, then calls getppid `n` times and exits.
fn wait_then_getppid(dir: &Path, trigger: &Path, n: u32) -> PathBuf {
    spin_then_getppid(dir, trigger, n, true)
}

/// Like [`wait_then_getppid`]; without `yields` the spin is `access` alone, so the
/// program stays on its CPU without a context switch.
fn spin_then_getppid(dir: &Path, trigger: &Path, n: u32, yields: bool) -> PathBuf {
    let pause = if yields {
        "movq $24, %rax\n    syscall"
    } else {
        "nop"
    };
    let src = format!(
        r#".globl _start
.text
_start:
1:  movq $21, %rax
    leaq path(%rip), %rdi
    xorq %rsi, %rsi
    syscall
    testq %rax, %rax
    jz 2f
    {pause}
    jmp 1b
2:  movq ${n}, %r12
3:  movq $110, %rax
    syscall
    decq %r12
    jnz 3b
    movq $60, %rax
    xorq %rdi, %rdi
    syscall
.data
path: .asciz "{}"
"#,
        trigger.display()
    );
    let s = dir.join(format!("spin-{yields}.s"));
    std::fs::write(&s, src).expect("write asm");
    let o = dir.join(format!("spin-{yields}.o"));
    let exe = dir.join(format!("spin-{yields}-{n}"));
    assert!(Command::new("as")
        .arg("-o")
        .arg(&o)
        .arg(&s)
        .status()
        .expect("as")
        .success());
    assert!(Command::new("ld")
        .arg("-o")
        .arg(&exe)
        .arg(&o)
        .status()
        .expect("ld")
        .success());
    exe
}

#[e2e_macros::test]
fn cgroup_with_a_busy_loop_counts_exactly_what_follows_the_attach() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trigger = dir.path().join("go");
    let prog = wait_then_getppid(dir.path(), &trigger, 250_000);
    let cg = TestCgroup::new("attach-busy");
    let mut spinner = cg.spawn(&prog, &[]);
    // Let it spin for a while before the recording starts.
    std::thread::sleep(Duration::from_millis(200));
    let stats = dir.path().join("busy.stats.json");
    let profile = dir.path().join("busy.json");
    let none = dir.path().join("busy-none.json");
    let mut rec = Attached::start(
        &[
            "--cgroup",
            cg.dir.to_str().expect("utf8"),
            "--runtime",
            "none",
            "--stats",
            stats.to_str().expect("utf8"),
            "-o",
            none.to_str().expect("utf8"),
        ],
        &[],
    );
    let line = rec.wait_attached();
    assert!(
        line.contains("syscalls made before this line are not in the profile"),
        "{line}"
    );
    std::fs::write(&trigger, b"").expect("trigger");
    assert!(spinner.wait().expect("wait spinner").success());
    // The cgroup is empty now: the recorder stops on its own.
    let (code, err) = rec.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("no process left in the cgroup"), "{err}");
    let s = read_stats(&stats);
    assert_eq!(
        count_of(&s, "SCMP_ARCH_X86_64", "getppid"),
        250_000,
        "{s:?}"
    );
    assert_eq!(count_of(&s, "SCMP_ARCH_X86_64", "exit"), 1, "{s:?}");
    assert!(count_of(&s, "SCMP_ARCH_X86_64", "access") >= 1, "{s:?}");
    // The exec happened before the attach: not seen, and not added with --runtime none.
    assert_eq!(count_of(&s, "SCMP_ARCH_X86_64", "execve"), 0, "{s:?}");
    let names = allowed_names(&none);
    assert!(!names.contains(&"execve".to_owned()), "{names:?}");
    assert!(names.contains(&"getppid".to_owned()), "{names:?}");
    drop(cg);

    // The same with the default runtime (any): every start-up tail is added.
    let trigger2 = dir.path().join("go2");
    let prog2 = wait_then_getppid(dir.path(), &trigger2, 10);
    let cg = TestCgroup::new("attach-busy2");
    let mut spinner = cg.spawn(&prog2, &[]);
    let mut rec = Attached::start(
        &[
            "--cgroup",
            // The path as /proc/PID/cgroup shows it, relative to the cgroup2 root.
            &format!(
                "/{}",
                cg.dir.file_name().expect("name").to_str().expect("utf8")
            ),
            "-o",
            profile.to_str().expect("utf8"),
        ],
        &[],
    );
    rec.wait_attached();
    std::fs::write(&trigger2, b"").expect("trigger");
    assert!(spinner.wait().expect("wait").success());
    let (code, err) = rec.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    let names = allowed_names(&profile);
    for n in ["execve", "futex", "capset", "fstatfs", "getppid"] {
        assert!(names.contains(&n.to_owned()), "{n} not in {names:?}");
    }
}

/// The recorder keeps, per CPU, which recording the running task belongs to, until
/// the next context switch. A task moved into the recorded cgroup while it runs (no
/// switch) must be counted from its next call: the move itself makes every cache stale.
#[e2e_macros::test]
fn a_running_task_moved_into_the_recorded_cgroup_counts_from_its_next_call() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let recorded = TestCgroup::new("attach-move-to");
    let elsewhere = TestCgroup::new("attach-move-from");
    // A member that keeps the recorded cgroup populated until the end.
    let mut keeper = recorded.spawn(Path::new("/bin/sleep"), &["60"]);
    let stats = dir.path().join("move.stats.json");
    let out = dir.path().join("move.json");
    let mut rec = Attached::start(
        &[
            "--cgroup",
            recorded.dir.to_str().expect("utf8"),
            "--runtime",
            "none",
            "--stats",
            stats.to_str().expect("utf8"),
            "-o",
            out.to_str().expect("utf8"),
        ],
        &[],
    );
    rec.wait_attached();
    let rounds = 5;
    for round in 0..rounds {
        let trigger = dir.path().join(format!("go-{round}"));
        let prog = spin_then_getppid(dir.path(), &trigger, 20_000, false);
        let mut spinner = elsewhere.spawn(&prog, &[]);
        // Spinning (outside every recording) on its CPU, its cache says "outside".
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(recorded.dir.join("cgroup.procs"), spinner.id().to_string())
            .expect("move the spinner");
        std::fs::write(&trigger, b"").expect("trigger");
        assert!(spinner.wait().expect("wait spinner").success());
    }
    let _ = keeper.kill();
    let _ = keeper.wait();
    let (code, err) = rec.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    let s = read_stats(&stats);
    // Every getppid came after the move (the spinner only makes them once the trigger
    // exists, which is written after the move).
    assert_eq!(
        count_of(&s, "SCMP_ARCH_X86_64", "getppid"),
        rounds * 20_000,
        "{s:?}"
    );
    assert_eq!(count_of(&s, "SCMP_ARCH_X86_64", "exit"), rounds, "{s:?}");
}

#[e2e_macros::test]
fn sigterm_ends_an_attached_recording_with_a_profile() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prog = wait_then_getppid(dir.path(), &dir.path().join("never"), 1);
    let cg = TestCgroup::new("attach-term");
    let mut spinner = cg.spawn(&prog, &[]);
    let out = dir.path().join("term.json");
    let mut rec = Attached::start(
        &[
            "--cgroup",
            cg.dir.to_str().expect("utf8"),
            "-o",
            out.to_str().expect("utf8"),
        ],
        &[],
    );
    rec.wait_attached();
    std::thread::sleep(Duration::from_millis(100));
    rec.signal(libc::SIGTERM);
    let (code, err) = rec.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("signal 15"), "{err}");
    let names = allowed_names(&out);
    assert!(names.contains(&"access".to_owned()), "{names:?}");
    assert!(names.contains(&"sched_yield".to_owned()), "{names:?}");
    // The recorded cgroup is left alone: its process still runs.
    assert!(spinner.try_wait().expect("try_wait").is_none());
    let _ = spinner.kill();
    let _ = spinner.wait();
}

#[e2e_macros::test]
fn bad_targets_get_one_line_and_their_own_exit_code() {
    if !can_record() {
        return;
    }
    let one_line = |o: &std::process::Output| {
        let e = stderr(o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.starts_with("seccomp-recorder: "), "{e}");
        e
    };
    // A cgroup that does not exist: 66.
    let o = run(&["record", "--cgroup", "/no/such/cgroup"]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(one_line(&o).contains("/no/such/cgroup does not exist"));
    // A directory that is not on cgroup v2: 66.
    let o = run(&["record", "--cgroup", "/tmp"]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(one_line(&o).contains("/tmp is not a cgroup v2 directory"));
    // The root cgroup (the whole host): refused, 66.
    let root = cgroup2_root().expect("cgroup2");
    let o = run(&["record", "--cgroup", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(one_line(&o).contains("refusing to record the root cgroup"));
    // An empty cgroup: nothing to record, 66.
    let cg = TestCgroup::new("attach-empty");
    let o = run(&["record", "--cgroup", cg.dir.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(one_line(&o).contains("has no processes"));
    // A container engine that cannot be reached: 75.
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = format!("unix://{}/nothing.sock", dir.path().display());
    let o = run_env(
        &["record", "--engine", "docker", "--container", "web"],
        &[("DOCKER_HOST", &sock)],
    );
    if prerequisite(have("docker"), "a docker CLI (apt-get install docker.io)") {
        assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
        let e = one_line(&o);
        assert!(e.contains("cannot ask docker about container 'web'"), "{e}");
        assert!(e.contains("DOCKER_HOST"), "{e}");
    }
    // --duration is for attached recordings only.
    let o = run(&["record", "--duration", "1s", "--", "true"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(one_line(&o).contains("--duration applies to --cgroup, --container and --pod"));
}

#[e2e_macros::test]
fn podman_container_recorded_by_id_runs_under_its_profile() {
    let Some(env) = PodmanEnv::new() else { return };
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sync = dir.path().join("sync");
    std::fs::create_dir(&sync).expect("sync dir");
    let mount = format!("{}:/sync", sync.display());
    // The workload waits for the recorder, then does its work in new processes
    // (their start-up is recorded; the shell's own start was before the attach).
    let script = "while [ ! -e /sync/go ]; do sleep 0.05; done; ls / >/dev/null; \
                  cat /proc/self/status >/dev/null; sh -c 'echo done' >/sync/out";
    let o = env.run_keep(
        &["-d", "--name", "attach-web", "-v", &mount],
        &["sh", "-c", script],
    );
    assert!(o.status.success(), "podman run -d: {}", stderr(&o));

    // Unknown ids: 67, named.
    let vars = env.env_vars();
    let env_refs: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, *v)).collect();
    let mut c = Command::new(bin());
    c.args(["record", "--engine", "podman", "--container", "no-such-ctr"]);
    for (k, v) in &env_refs {
        c.env(k, v);
    }
    let o = c.output().expect("record");
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
    assert!(stderr(&o).contains("no container 'no-such-ctr' is known to podman"));

    let profile = dir.path().join("web.json");
    let report = dir.path().join("web.report.json");
    let mut rec = Attached::start(
        &[
            "--container",
            "attach-web",
            "-o",
            profile.to_str().expect("utf8"),
            "--report",
            report.to_str().expect("utf8"),
        ],
        &env_refs,
    );
    let line = rec.wait_attached();
    assert!(
        line.contains("container attach-web (podman, runtime crun)"),
        "{line}"
    );
    std::fs::write(sync.join("go"), b"").expect("go");
    let (code, err) = rec.finish(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(doc["runtime"], "any", "{doc}");
    assert!(
        doc["runtime_signal"]
            .as_str()
            .is_some_and(|s| s.contains("podman inspect: runtime crun")),
        "{doc}"
    );
    let names = allowed_names(&profile);
    for n in ["capset", "setresuid", "futex", "fstatfs"] {
        assert!(names.contains(&n.to_owned()), "{n}: {names:?}");
    }

    // Enforced, the same workload runs (with podman's defaults and with
    // no-new-privileges), and a denied call fails.
    std::fs::remove_file(sync.join("out")).ok();
    let sec = format!("seccomp={}", profile.display());
    for extra in [&[][..], &["--security-opt", "no-new-privileges"][..]] {
        let mut opts = vec!["--security-opt", sec.as_str(), "-v", mount.as_str()];
        opts.extend_from_slice(extra);
        let o = env.run(&opts, &["sh", "-c", script]);
        assert!(o.status.success(), "enforced {extra:?}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(sync.join("out"))
                .expect("out")
                .trim(),
            "done"
        );
    }
    let o = env.run(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--cap-add",
            "SYS_ADMIN",
        ],
        &["unshare", "-n", "true"],
    );
    assert!(
        o.status.success(),
        "control: unshare -n unconfined: {}",
        stderr(&o)
    );
    let o = env.run(
        &["--security-opt", &sec, "--cap-add", "SYS_ADMIN"],
        &["unshare", "-n", "true"],
    );
    assert!(!o.status.success(), "unshare ran under the profile");
    assert!(
        stderr(&o).contains("Function not implemented"),
        "{}",
        stderr(&o)
    );
}

#[e2e_macros::test]
fn gc_after_a_killed_attached_recorder_frees_the_slot_and_leaves_the_cgroup_alone() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Own pins and state, so that gc here sees no other test's recordings.
    let bpf = PathBuf::from(format!(
        "/sys/fs/bpf/seccomp-recorder-attachgc-{}",
        std::process::id()
    ));
    let run_dir = dir.path().join("run");
    let env = [
        ("SECCOMP_RECORDER_BPF_DIR", bpf.as_path()),
        ("SECCOMP_RECORDER_RUN_DIR", run_dir.as_path()),
    ];
    let prog = wait_then_getppid(dir.path(), &dir.path().join("never"), 1);
    let cg = TestCgroup::new("attach-gc");
    let mut spinner = cg.spawn(&prog, &[]);
    let mut rec = Attached::start(
        &[
            "--cgroup",
            cg.dir.to_str().expect("utf8"),
            "-o",
            "/dev/null",
        ],
        &env,
    );
    rec.wait_attached();
    let states: Vec<_> = std::fs::read_dir(run_dir.join("recordings"))
        .expect("recordings")
        .flatten()
        .collect();
    assert_eq!(states.len(), 1, "one attached state file");
    rec.signal(libc::SIGKILL);
    let (code, _) = rec.finish(Duration::from_secs(10));
    assert_eq!(code, None, "killed");
    let mut gc = Command::new(bin());
    gc.arg("gc");
    for (k, v) in env {
        gc.env(k, v);
    }
    let o = gc.output().expect("gc");
    assert!(o.status.success(), "gc: {}", stderr(&o));
    assert!(stdout(&o).contains("finished attach-"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_dir(run_dir.join("recordings"))
            .expect("recordings")
            .count(),
        0,
        "state left behind"
    );
    // Nothing attached any more; the recorded cgroup and its process are untouched.
    let pin = std::fs::read_dir(&bpf)
        .expect("pins")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("prog").exists())
        .expect("pinned program");
    assert!(!pin.join("link").exists(), "still attached after gc");
    assert!(cg.dir.exists());
    assert!(
        spinner.try_wait().expect("try_wait").is_none(),
        "spinner died"
    );
    let _ = spinner.kill();
    let _ = spinner.wait();
    let mut unload = Command::new(bin());
    unload.arg("unload");
    for (k, v) in env {
        unload.env(k, v);
    }
    let _ = unload.status();
    let _ = std::fs::remove_dir_all(&bpf);
}
