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
use common::*;

/// How long a container of these tests may run.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// How long the agent may take to write a recording after its container ended.
const WRITE_LIMIT: Duration = Duration::from_secs(20);
/// The annotation that selects a pod.
const RECORD: (&str, &str) = ("seccomp-recorder.io/record", "true");

/// One agent per node: the tests of this module take turns.
static ONE_AGENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running `seccomp-recorder agent`.
struct AgentProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl AgentProc {
    /// Starts the agent on the env's CRI, watching the harness's QoS cgroup, writing
    /// below `out`; returns once it watches.
    fn start(env: &CriEnv, out: &Path) -> AgentProc {
        env.ensure_qos_cgroups();
        let mut child = Command::new(bin())
            .args([
                "agent",
                "--poll",
                "10ms",
                "--watch",
                "kubepods/besteffort:2",
            ])
            .arg("--output-dir")
            .arg(out)
            .arg("--cri-endpoint")
            .arg(env.endpoint())
            .env("SECCOMP_RECORDER_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the agent");
        let lines = stderr_lines(&mut child);
        let mut a = AgentProc {
            child,
            lines,
            seen: Vec::new(),
        };
        a.wait_for("watching", Duration::from_secs(30));
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
