//! `seccomp-recorder agent`, the node agent, against the real CRI of a private
//! containerd (tests/e2e/common/containerd.rs): selected pods recorded from their
//! first syscall, replicas merged with their coverage, a killed agent's recordings
//! adopted by the next one.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::containerd::{ContainerSpec, CriEnv, Seccomp};
use common::everywhere;
use common::*;

/// How long a container of these tests may run.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// How long the agent may take to write a recording after its container ended.
const WRITE_LIMIT: Duration = Duration::from_secs(20);
/// The annotation that selects a pod.
const RECORD: (&str, &str) = ("seccomp-recorder.io/record", "true");

/// One agent per node: the tests of this module take turns.
static ONE_AGENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running `seccomp-recorder agent`: the binary, or the image under podman.
struct AgentProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// `podman rm -f NAME` of the agent's container (killing the podman client would
    /// leave it running).
    remove: Option<Command>,
}

impl AgentProc {
    /// Starts the agent on the env's CRI, watching the harness's QoS cgroup, writing
    /// below `out`; returns once it watches.
    fn start(env: &CriEnv, out: &Path) -> AgentProc {
        let mut cmd = Command::new(bin());
        cmd.args(AGENT_ARGS)
            .arg("--output-dir")
            .arg(out)
            .arg("--cri-endpoint")
            .arg(env.endpoint())
            .env("SECCOMP_RECORDER_LOG", "info");
        AgentProc::spawn(env, cmd, None)
    }

    /// Spawns `cmd` (an agent, its log on stderr); returns once it watches.
    fn spawn(env: &CriEnv, mut cmd: Command, remove: Option<Command>) -> AgentProc {
        env.ensure_qos_cgroups();
        let mut child = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the agent");
        let lines = stderr_lines(&mut child);
        let mut a = AgentProc {
            child,
            lines,
            seen: Vec::new(),
            remove,
        };
        a.wait_for("watching", Duration::from_secs(60));
        a
    }

    /// Waits for a line of the agent's log containing `what`.
    fn wait_for(&mut self, what: &str, limit: Duration) -> String {
        let t0 = Instant::now();
        if let Some(l) = self.seen.iter().find(|l| l.contains(what)) {
            return l.clone();
        }
        loop {
            let left = limit.saturating_sub(t0.elapsed());
            match self.lines.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(l) => {
                    let hit = l.contains(what);
                    self.seen.push(l.clone());
                    if hit {
                        return l;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "the agent did not log '{what}' within {limit:?}: {:#?}",
                        self.seen
                    );
                }
            }
        }
    }

    /// What the agent logged so far.
    fn log(&mut self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM, then waits: its exit code and log.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal(libc::SIGTERM);
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("the agent did not stop on SIGTERM: {:#?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(300)) {
            self.seen.push(l);
        }
        (status.code(), self.seen.join("\n"))
    }

    /// SIGKILL, as an OOM kill or a node drain would.
    fn kill(self) {
        drop(self);
    }
}

impl Drop for AgentProc {
    /// A test that fails must not leave its agent running into the next one.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut rm) = self.remove.take() {
            let _ = rm.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// Waits for `path` to exist (the agent writes atomically).
fn wait_file(path: &Path, limit: Duration) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < limit,
            "{} not written within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The count of `name` in a recording (a report document).
fn count_in(report: &serde_json::Value, name: &str) -> u64 {
    report["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .filter(|l| l["name"] == name)
        .map(|l| l["count"].as_u64().expect("count"))
        .sum()
}

/// The only recording of a workload's container.
fn only_recording(out: &Path, ns: &str, workload: &str, container: &str) -> serde_json::Value {
    let dir = out
        .join("recordings")
        .join(ns)
        .join(workload)
        .join(container);
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    read_json(&files[0])
}

/// No program link is left in the test run's pin directories (nothing attached).
fn nothing_attached() -> bool {
    let base = std::env::var_os("SECCOMP_RECORDER_BPF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys/fs/bpf/seccomp-recorder"));
    fs::read_dir(&base)
        .map(|d| d.flatten().all(|e| !e.path().join("link").exists()))
        .unwrap_or(true)
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[e2e_macros::test]
fn a_selected_container_is_recorded_from_its_first_syscall_and_others_leave_no_trace() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("first");
    // The whole workload: 2500 getppid, then exit; a millisecond or so.
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 110, n: 2500 }]);
    let out = tempfile::tempdir().expect("tempdir");
    let agent = AgentProc::start(env, out.path());
    let marker = ContainerSpec {
        name: "marker".into(),
        command: vec!["/share/first/marker".into()],
        seccomp: Seccomp::Unconfined,
        add_caps: Vec::new(),
    };
    let chosen = env.run_pod_with("first", "default", &[], &[RECORD]);
    let other = env.run_pod("other", "default");
    let a = chosen.start(&marker);
    let b = other.start(&marker);
    assert_eq!(
        chosen.wait_exit(&a, RUN_LIMIT),
        0,
        "{}",
        chosen.container_log(&a)
    );
    assert_eq!(other.wait_exit(&b, RUN_LIMIT), 0);
    let profile = out.path().join("profiles/default/first/marker.json");
    wait_file(&profile, WRITE_LIMIT);
    let rec = only_recording(out.path(), "default", "first", "marker");
    assert_eq!(count_in(&rec, "getppid"), 2500, "{rec}");
    assert_eq!(
        count_in(&rec, "execve"),
        1,
        "counting starts at the workload's exec: {rec}"
    );
    assert_eq!(rec["pod"]["name"], "first");
    assert_eq!(rec["pod"]["workload"], "first");
    assert_eq!(rec["pod"]["containers"], serde_json::json!(["marker"]));
    assert!(allowed_names(&profile).iter().any(|n| n == "getppid"));
    assert!(
        !out.path().join("recordings/default/other").exists(),
        "an unselected pod leaves no trace"
    );
    drop((chosen, other));
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        nothing_attached(),
        "the stopped agent left the program attached: {log}"
    );
}

/// The agent's arguments in these tests (besides the output dir and the CRI).
const AGENT_ARGS: [&str; 5] = [
    "agent",
    "--poll",
    "10ms",
    "--watch",
    "kubepods/besteffort:2",
];

/// A replica's workload: the common part, and with `extra` a call no other replica
/// makes (getcpu, from a marker).
const WORK: &str = "ls / >/dev/null\ncat /share/replicas/work.sh >/dev/null\nif [ \"$1\" = extra ]; then /share/replicas/extra; fi\necho replica-ok\n";

#[e2e_macros::test]
fn replicas_merge_into_one_profile_with_coverage_that_replays_for_each() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("replicas");
    fs::write(share.join("work.sh"), WORK).expect("work.sh");
    asm_program(&share, "extra", &[Step::Syscall64 { nr: 309, n: 7 }]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut agent = AgentProc::start(env, out.path());
    let hash = "7d9f8b6c5d";
    let replica = |extra: bool| ContainerSpec {
        name: "app".into(),
        command: ["/bin/sh", "/share/replicas/work.sh"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(extra.then(|| "extra".to_owned()))
            .collect(),
        seccomp: Seccomp::Unconfined,
        add_caps: Vec::new(),
    };
    let names = ["b2c4d", "f6g7h", "k8l9m"];
    let pods: Vec<_> = names
        .iter()
        .map(|n| {
            env.run_pod_with(
                &format!("api-{hash}-{n}"),
                "shop",
                &[("pod-template-hash", hash), ("app", "api")],
                &[RECORD],
            )
        })
        .collect();
    for (i, pod) in pods.iter().enumerate() {
        let id = pod.start(&replica(i == 2));
        assert_eq!(
            pod.wait_exit(&id, RUN_LIMIT),
            0,
            "{}",
            pod.container_log(&id)
        );
    }
    let coverage_file = out.path().join("profiles/shop/api/app.coverage.json");
    let t0 = Instant::now();
    let coverage = loop {
        if coverage_file.exists() {
            let c = read_json(&coverage_file);
            if c["recordings"] == 3 {
                break c;
            }
        }
        assert!(
            t0.elapsed() < WRITE_LIMIT,
            "three recordings not merged: {:?}; files: {:?}; agent: {}",
            fs::read_to_string(&coverage_file),
            walk(out.path()),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(pods);
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    let line = |name: &str| {
        coverage["syscalls"]
            .as_array()
            .expect("syscalls")
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {coverage}"))
            .clone()
    };
    assert_eq!(line("getcpu")["coverage"], "1/3", "{coverage}");
    assert_eq!(line("getcpu")["calls"], 7);
    for common_call in ["execve", "getdents64", "write"] {
        assert_eq!(
            line(common_call)["coverage"],
            "3/3",
            "{common_call}: {coverage}"
        );
    }
    // One profile for the workload: every replica runs under it, through the CRI.
    let profile = out.path().join("profiles/shop/api/app.json");
    let replay = env.run_pod("api-replay", "shop");
    for extra in [false, true] {
        let (code, log) = replay.run_to_end(
            &replica(extra).with_seccomp(Seccomp::Localhost(profile.clone())),
            RUN_LIMIT,
        );
        assert_eq!(
            code, 0,
            "replica (extra: {extra}) under the merged profile: {log}"
        );
        assert!(log.contains("replica-ok"), "{log}");
    }
    drop(replay);
    // The same file is what a user takes to podman (crun), a plain runc or Docker:
    // containerd ran the replicas with runc alone.
    for extra in [&[][..], &["extra"][..]] {
        let args: Vec<&str> = ["/bin/sh", "/share/replicas/work.sh"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let work = everywhere::Workload {
            share: env.share(),
            args: &args,
            expect: "replica-ok",
        };
        if everywhere::replay_in_runc_crun_and_docker(&profile, &work, 2).is_none() {
            return;
        }
    }
}

#[e2e_macros::test]
fn a_killed_agents_recording_is_finished_exactly_by_the_next_one() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("survive");
    // getcpu: busybox sh makes getppid at start-up, never getcpu.
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 309, n: 4321 }]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut agent = AgentProc::start(env, out.path());
    let pod = env.run_pod_with("survivor", "default", &[], &[RECORD]);
    let id = pod.start(&ContainerSpec::shell(
        "main",
        "until [ -e /share/survive/go ]; do sleep 0.05; done; exec /share/survive/marker",
    ));
    agent.wait_for(
        "recording a container of a selected pod",
        Duration::from_secs(30),
    );
    agent.kill();
    // The workload runs and ends while no agent runs: the kernel goes on counting.
    fs::write(share.join("go"), b"").expect("trigger");
    assert_eq!(
        pod.wait_exit(&id, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&id)
    );
    let agent = AgentProc::start(env, out.path());
    let profile = out.path().join("profiles/default/survivor/main.json");
    wait_file(&profile, WRITE_LIMIT);
    let rec = only_recording(out.path(), "default", "survivor", "main");
    assert_eq!(count_in(&rec, "getcpu"), 4321, "{rec}");
    drop(pod);
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("adopted a recording of an earlier agent"),
        "{log}"
    );
    assert!(nothing_attached(), "{log}");
}

/// Pods started at once in the scale test (`SR_AGENT_PODS`; the drill runs 110, the
/// kubelet's default maximum per node).
fn scale_pods() -> usize {
    std::env::var("SR_AGENT_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

#[e2e_macros::test]
fn many_pods_started_at_once_are_each_recorded_exactly() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let n = scale_pods();
    let share = env.fresh_share("scale");
    // Pod i makes getcpu 1000 + i times: a count that belongs to it alone.
    for i in 0..n {
        asm_program(
            &share,
            &format!("marker-{i}"),
            &[Step::Syscall64 {
                nr: 309,
                n: 1000 + i as u32,
            }],
        );
    }
    let out = tempfile::tempdir().expect("tempdir");
    let mut agent = AgentProc::start(env, out.path());
    let t0 = Instant::now();
    // Started from 8 threads at once, as a kubelet starts pods in parallel.
    let pods: Vec<_> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                s.spawn(move || {
                    (w..n)
                        .step_by(8)
                        .map(|i| {
                            let pod =
                                env.run_pod_with(&format!("scale-{i}"), "load", &[], &[RECORD]);
                            let id = pod.start(&ContainerSpec {
                                name: "marker".into(),
                                command: vec![format!("/share/scale/marker-{i}")],
                                seccomp: Seccomp::Unconfined,
                                add_caps: Vec::new(),
                            });
                            (i, pod, id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("pod starter"))
            .collect()
    });
    let started = t0.elapsed();
    for (i, pod, id) in &pods {
        assert_eq!(
            pod.wait_exit(id, RUN_LIMIT),
            0,
            "pod {i}: {}",
            pod.container_log(id)
        );
    }
    for (i, _, _) in &pods {
        let profile = out
            .path()
            .join(format!("profiles/load/scale-{i}/marker.json"));
        let limit = WRITE_LIMIT + Duration::from_secs(n as u64 / 2);
        while !profile.exists() {
            if t0.elapsed() > limit {
                let log = agent.log();
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| {
                        !l.contains("wrote a recording") && !l.contains("recording a container")
                    })
                    .collect();
                panic!("pod {i} not written within {limit:?}; agent log without the routine lines: {lines:#?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let rec = only_recording(out.path(), "load", &format!("scale-{i}"), "marker");
        assert_eq!(count_in(&rec, "getcpu"), 1000 + *i as u64, "pod {i}: {rec}");
    }
    eprintln!(
        "agent scale: {n} pods started in {:.1} s, every one recorded exactly, all written after {:.1} s",
        started.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    drop(pods);
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("found no spare slot"), "{log}");
    assert!(nothing_attached(), "{log}");
}

/// The hostPath volumes of deploy/agent.yaml (each mounted at its own path), and the
/// container's arguments.
fn manifest() -> (Vec<String>, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let values = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    let (mut host, mut inside) = (values("path:"), values("mountPath:"));
    host.sort();
    inside.sort();
    assert_eq!(host, inside, "every hostPath is mounted at its own path");
    let mut args = Vec::new();
    let mut lines = text.lines().skip_while(|l| l.trim() != "args:").skip(1);
    for l in lines.by_ref() {
        match l.trim().strip_prefix("- ") {
            Some(a) => args.push(a.to_owned()),
            _ => break,
        }
    }
    assert!(args.first().is_some_and(|a| a == "agent"), "{args:?}");
    (host, args)
}

#[e2e_macros::test]
fn the_image_records_a_pod_with_the_manifests_mounts() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    let image = std::env::var_os("SR_AGENT_IMAGE").map(PathBuf::from);
    if !can_record()
        || !prerequisite(have("as") && have("ld"), "binutils (as, ld)")
        || !prerequisite(
            image.as_ref().is_some_and(|i| i.exists()),
            "the agent image: SR_AGENT_IMAGE naming the archive of `cargo xtask image` (cargo xtask test sets it)",
        )
    {
        return;
    }
    let image = image.expect("checked");
    let Some(env) = CriEnv::get() else { return };
    let Some(podman) = common::podman::PodmanEnv::new() else {
        return;
    };
    let (host_paths, args) = manifest();
    let share = env.fresh_share("image");
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 309, n: 1717 }]);
    let out = tempfile::tempdir().expect("tempdir");
    // The node's paths, except three that belong to this test run: the CRI socket is
    // the private containerd's, the output a temp dir, the state the run's own.
    let socket = env.endpoint().trim_start_matches("unix://").to_owned();
    let run_dir = std::env::var("SECCOMP_RECORDER_RUN_DIR")
        .unwrap_or_else(|_| "/run/seccomp-recorder".into());
    fs::create_dir_all(&run_dir).expect("run dir");
    let source = |p: &str| -> String {
        match p {
            "/run/containerd/containerd.sock" => socket.clone(),
            "/var/lib/seccomp-recorder" => out.path().display().to_string(),
            "/run/seccomp-recorder" => run_dir.clone(),
            other => other.to_owned(),
        }
    };
    let name = format!("sr-agent-image-{}", std::process::id());
    let mut cmd = podman.command();
    cmd.args(["run", "--rm", "--name", &name, "--privileged", "--pid=host"])
        .args(["--cgroupns=host", "--network=none"]);
    for p in &host_paths {
        cmd.arg("-v").arg(format!("{}:{p}", source(p)));
    }
    // The pins of this test run, not the node's.
    if let Ok(dir) = std::env::var("SECCOMP_RECORDER_BPF_DIR") {
        cmd.arg("-e").arg(format!("SECCOMP_RECORDER_BPF_DIR={dir}"));
    }
    cmd.arg(format!("oci-archive:{}", image.display()))
        .args(&args[..]);
    let mut rm = podman.command();
    rm.args(["rm", "-f", "-t", "0", &name]);
    let mut agent = AgentProc::spawn(env, cmd, Some(rm));
    let chosen = env.run_pod_with("imaged", "default", &[], &[RECORD]);
    let id = chosen.start(&ContainerSpec {
        name: "marker".into(),
        command: vec!["/share/image/marker".into()],
        seccomp: Seccomp::Unconfined,
        add_caps: Vec::new(),
    });
    assert_eq!(
        chosen.wait_exit(&id, RUN_LIMIT),
        0,
        "{}",
        chosen.container_log(&id)
    );
    let profile = out.path().join("profiles/default/imaged/marker.json");
    let t0 = Instant::now();
    while !profile.exists() {
        assert!(
            t0.elapsed() < WRITE_LIMIT,
            "not written by the image's agent: {}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rec = only_recording(out.path(), "default", "imaged", "marker");
    assert_eq!(count_in(&rec, "getcpu"), 1717, "{rec}");
    assert_eq!(count_in(&rec, "execve"), 1, "{rec}");
    drop(chosen);
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "SIGTERM through podman: {log}");
    assert!(nothing_attached(), "{log}");
}

/// The agent's resident memory now and at its peak (kB), and its CPU time so far.
fn footprint_of(pid: u32) -> (u64, u64, Duration) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // After the command's closing parenthesis: field 3 is the state; utime and stime
    // are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (
        kb("VmRSS:"),
        kb("VmHWM:"),
        Duration::from_millis(ticks * 1000 / hz),
    )
}

/// One phase of the footprint run: the agent's mean and highest RSS (sampled every
/// 100 ms) and its CPU over the phase, as a markdown table row.
fn phase(agent: &AgentProc, what: &str, run: impl FnOnce()) -> String {
    let pid = agent.child.id();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (_, _, cpu0) = footprint_of(pid);
    let t0 = Instant::now();
    let samples = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut rss = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                rss.push(footprint_of(pid).0);
                std::thread::sleep(Duration::from_millis(100));
            }
            rss
        });
        run();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    let wall = t0.elapsed();
    let (_, hwm, cpu1) = footprint_of(pid);
    let mean = samples.iter().sum::<u64>() / samples.len().max(1) as u64;
    let max = samples.iter().copied().max().unwrap_or(0);
    let millicores = (cpu1 - cpu0).as_secs_f64() * 1000.0 / wall.as_secs_f64();
    format!(
        "| {what} | {:.0} s | {:.1} MiB | {:.1} MiB | {:.1} MiB | {millicores:.1} m |",
        wall.as_secs_f64(),
        mean as f64 / 1024.0,
        max as f64 / 1024.0,
        hwm as f64 / 1024.0,
    )
}

/// `cargo xtask bench-agent`: what the agent costs while idle, while recording long
/// running pods (with --flush-every), and while 110 pods start at once. The binary is
/// `SR_AGENT_BIN` (the bench gives the image's static release build), else the test
/// binary's; the phase length is `SR_FOOTPRINT_SECS` (default 30).
#[e2e_macros::test]
#[ignore = "a benchmark: cargo xtask bench-agent"]
fn footprint() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let secs: u64 = std::env::var("SR_FOOTPRINT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let window = Duration::from_secs(secs);
    let binary = std::env::var_os("SR_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(bin);
    let share = env.fresh_share("footprint");
    const CHURN: usize = 110;
    for i in 0..CHURN {
        asm_program(
            &share,
            &format!("marker-{i}"),
            &[Step::Syscall64 {
                nr: 309,
                n: 1000 + i as u32,
            }],
        );
    }
    let out = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(&binary);
    cmd.args(["agent", "--flush-every", "10s"])
        .arg("--output-dir")
        .arg(out.path())
        .arg("--cri-endpoint")
        .arg(env.endpoint())
        .env("SECCOMP_RECORDER_LOG", "info");
    let mut agent = AgentProc::spawn(env, cmd, None);
    let mut rows = vec![
        format!(
            "agent: {} (default --poll, --flush-every 10s)",
            binary.display()
        ),
        "| phase | wall | RSS mean | RSS max | VmHWM | CPU |".to_owned(),
        "|---|---:|---:|---:|---:|---:|".to_owned(),
    ];
    rows.push(phase(&agent, "idle: watching, no pod", || {
        std::thread::sleep(window)
    }));
    const LONG: usize = 20;
    let busy: Vec<_> = (0..LONG)
        .map(|i| {
            let pod = env.run_pod_with(&format!("busy-{i}"), "footprint", &[], &[RECORD]);
            pod.start(&ContainerSpec::shell(
                "app",
                "while :; do ls / >/dev/null; cat /proc/self/status >/dev/null; sleep 0.05; done",
            ));
            pod
        })
        .collect();
    agent.wait_for("recording a container", Duration::from_secs(30));
    rows.push(phase(
        &agent,
        &format!("recording {LONG} running pods (each forks ~40 processes/s)"),
        || std::thread::sleep(window),
    ));
    drop(busy);
    rows.push(phase(
        &agent,
        &format!("{CHURN} pods started at once, until every recording is written"),
        || {
            let pods: Vec<_> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|w| {
                        s.spawn(move || {
                            (w..CHURN)
                                .step_by(8)
                                .map(|i| {
                                    let pod = env.run_pod_with(
                                        &format!("churn-{i}"),
                                        "footprint",
                                        &[],
                                        &[RECORD],
                                    );
                                    pod.start(&ContainerSpec {
                                        name: "marker".into(),
                                        command: vec![format!("/share/footprint/marker-{i}")],
                                        seccomp: Seccomp::Unconfined,
                                        add_caps: Vec::new(),
                                    });
                                    (i, pod)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().expect("pod starter"))
                    .collect()
            });
            for (i, _) in &pods {
                wait_file(
                    &out.path()
                        .join(format!("profiles/footprint/churn-{i}/marker.json")),
                    Duration::from_secs(120),
                );
            }
            drop(pods);
        },
    ));
    rows.push(phase(&agent, "idle again", || std::thread::sleep(window)));
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    for r in rows {
        println!("{r}");
    }
}

/// The families the `socket` argument rules of a profile allow.
fn socket_families(profile: &serde_json::Value) -> Vec<u64> {
    let mut f: Vec<u64> = profile["syscalls"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["names"]
                    .as_array()
                    .is_some_and(|n| n.contains(&serde_json::json!("socket")))
        })
        .filter_map(|r| {
            r["args"]
                .as_array()?
                .iter()
                .find(|a| a["index"] == 0 && a["op"] == "SCMP_CMP_EQ")
                .and_then(|a| a["value"].as_u64())
        })
        .collect();
    f.sort_unstable();
    f.dedup();
    f
}

/// Waits until `path` holds a recording whose `name` count is `n`.
fn wait_count(path: &Path, name: &str, n: u64, agent: &mut AgentProc) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if let Ok(rec) = serde_json::from_str::<serde_json::Value>(&text) {
                if count_in(&rec, name) == n {
                    return rec;
                }
            }
        }
        assert!(
            t0.elapsed() < WRITE_LIMIT,
            "{} never had {name} {n}: {:?}; agent: {}",
            path.display(),
            fs::read_to_string(path),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one recording file of a workload's container (its path).
fn recording_path(out: &Path, ns: &str, workload: &str, container: &str) -> PathBuf {
    let dir = out
        .join("recordings")
        .join(ns)
        .join(workload)
        .join(container);
    let t0 = Instant::now();
    loop {
        let files: Vec<PathBuf> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        match files.len() {
            1 => return files[0].clone(),
            0 if t0.elapsed() < WRITE_LIMIT => std::thread::sleep(Duration::from_millis(20)),
            _ => panic!("{}: {files:?}", dir.display()),
        }
    }
}

#[e2e_macros::test]
fn a_running_container_is_written_on_sighup_with_its_pods_options() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("hup");
    let Some(_) = argprobe(&share) else { return };
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 309, n: 500 }]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut agent = AgentProc::start(env, out.path());
    let pod = env.run_pod_with(
        "hup",
        "default",
        &[],
        &[
            RECORD,
            ("seccomp-recorder.io/args", "true"),
            ("seccomp-recorder.io/errno", "ENOSYS"),
        ],
    );
    let id = pod.start(&ContainerSpec::shell(
        "main",
        "/share/hup/argprobe unix && /share/hup/marker && touch /share/hup/half; \
         until [ -e /share/hup/go ]; do sleep 0.05; done; exec /share/hup/marker",
    ));
    wait_file(&share.join("half"), RUN_LIMIT);
    // Running: nothing is written until asked.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !out.path().join("recordings").exists(),
        "written before SIGHUP: {}",
        agent.log()
    );
    agent.signal(libc::SIGHUP);
    let rec_path = recording_path(out.path(), "default", "hup", "main");
    wait_count(&rec_path, "getcpu", 500, &mut agent);
    let profile_path = out.path().join("profiles/default/hup/main.json");
    let profile = read_json(&profile_path);
    assert_eq!(profile["defaultErrnoRet"], 38, "the pod's errno: {profile}");
    assert_eq!(
        socket_families(&profile),
        vec![1],
        "the pod asked for argument rules (AF_UNIX only): {profile}"
    );
    // The container goes on; its end writes the whole run into the same file.
    fs::write(share.join("go"), b"").expect("go");
    assert_eq!(
        pod.wait_exit(&id, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&id)
    );
    wait_count(&rec_path, "getcpu", 1000, &mut agent);
    drop(pod);
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[e2e_macros::test]
fn flush_every_writes_running_containers_and_bad_annotations_are_refused() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("flush");
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 309, n: 321 }]);
    let out = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.args(AGENT_ARGS)
        .args(["--flush-every", "1s", "--output-dir"])
        .arg(out.path())
        .arg("--cri-endpoint")
        .arg(env.endpoint())
        .env("SECCOMP_RECORDER_LOG", "info");
    let mut agent = AgentProc::spawn(env, cmd, None);
    let script = "/share/flush/marker; until [ -e /share/flush/go ]; do sleep 0.05; done";
    let pod = env.run_pod_with("flushed", "default", &[], &[RECORD]);
    let id = pod.start(&ContainerSpec::shell("main", script));
    let hostile = env.run_pod_with(
        "hostile",
        "default",
        &[],
        &[RECORD, ("seccomp-recorder.io/errno", "EVIL")],
    );
    let hostile_id = hostile.start(&ContainerSpec::shell("main", script));
    // No signal: the interval writes the running recording.
    let rec_path = recording_path(out.path(), "default", "flushed", "main");
    wait_count(&rec_path, "getcpu", 321, &mut agent);
    let line = agent.wait_for("a new container is not recorded", WRITE_LIMIT);
    assert!(
        line.contains("seccomp-recorder.io/errno") && line.contains("EVIL"),
        "{line}"
    );
    fs::write(share.join("go"), b"").expect("go");
    assert_eq!(pod.wait_exit(&id, RUN_LIMIT), 0);
    assert_eq!(hostile.wait_exit(&hostile_id, RUN_LIMIT), 0);
    drop((pod, hostile));
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !out.path().join("recordings/default/hostile").exists(),
        "{log}"
    );
}

/// A byte relay from a unix socket to another: the CRI socket as the agent sees it,
/// which the test can take away (listener gone, every connection cut) and bring back.
struct Relay {
    path: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(path: &Path, target: &Path) -> Relay {
        use std::os::unix::net::{UnixListener, UnixStream};
        let listener = UnixListener::bind(path).expect("bind the relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::<UnixStream>::new()));
        let (s, c, target) = (stop.clone(), conns.clone(), target.to_owned());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = UnixStream::connect(&target) else {
                            continue;
                        };
                        let mut held = c.lock().unwrap_or_else(|e| e.into_inner());
                        for (mut from, mut to) in [
                            (
                                client.try_clone().expect("clone"),
                                server.try_clone().expect("clone"),
                            ),
                            (
                                server.try_clone().expect("clone"),
                                client.try_clone().expect("clone"),
                            ),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Write);
                            });
                        }
                        held.push(client);
                        held.push(server);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay {
            path: path.to_owned(),
            stop,
            conns,
            thread: Some(thread),
        }
    }

    /// The socket is gone: no listener, every connection cut.
    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = fs::remove_file(&self.path);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.halt();
    }
}

#[e2e_macros::test]
fn the_agent_waits_for_a_cri_that_went_away_and_loses_nothing() {
    let _turn = ONE_AGENT.lock().unwrap_or_else(|e| e.into_inner());
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("away");
    asm_program(&share, "marker", &[Step::Syscall64 { nr: 309, n: 777 }]);
    let target = PathBuf::from(env.endpoint().trim_start_matches("unix://"));
    let sock_dir = tempfile::tempdir().expect("tempdir");
    let sock = sock_dir.path().join("cri.sock");
    let relay = Relay::start(&sock, &target);
    let out = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.args(AGENT_ARGS)
        .arg("--output-dir")
        .arg(out.path())
        .arg("--cri-endpoint")
        .arg(format!("unix://{}", sock.display()))
        .env("SECCOMP_RECORDER_LOG", "info");
    let mut agent = AgentProc::spawn(env, cmd, None);
    // The agent has talked to the CRI through the relay (a first pod).
    let first = env.run_pod_with("before", "default", &[], &[RECORD]);
    let id = first.start(&ContainerSpec::shell("main", "/share/away/marker"));
    assert_eq!(first.wait_exit(&id, RUN_LIMIT), 0);
    wait_file(
        &out.path().join("profiles/default/before/main.json"),
        WRITE_LIMIT,
    );
    relay.stop();
    // The CRI is unreachable for the agent while a selected pod runs and ends.
    let pod = env.run_pod_with("during", "default", &[], &[RECORD]);
    let id = pod.start(&ContainerSpec::shell("main", "/share/away/marker"));
    assert_eq!(
        pod.wait_exit(&id, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&id)
    );
    agent.wait_for("waiting for the CRI", WRITE_LIMIT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !out.path().join("recordings/default/during").exists(),
        "{}",
        agent.log()
    );
    let _relay = Relay::start(&sock, &target);
    agent.wait_for("the CRI answers again", WRITE_LIMIT);
    wait_count(
        &recording_path(out.path(), "default", "during", "main"),
        "getcpu",
        777,
        &mut agent,
    );
    drop((first, pod));
    let (code, log) = agent.stop();
    assert_eq!(code, Some(0), "{log}");
}
