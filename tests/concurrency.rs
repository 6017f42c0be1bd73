//! What the hook does when recordings meet: two prestarts for one id, a prestart for
//! an id whose old recording is stale, a poststop without prestart, two gc at once,
//! and the 257th recording at once (slots are 256). Driven with hand-made OCI states
//! for processes in the test's own cgroups, so no container runtime is involved.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::scratch::TestCgroup;
use common::*;

/// Private pins, state, output dir and log for one test.
struct Hooks {
    dir: tempfile::TempDir,
    bpf: PathBuf,
}

impl Hooks {
    fn new(tag: &str) -> Hooks {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("out")).expect("out dir");
        Hooks {
            dir,
            bpf: PathBuf::from(format!(
                "/sys/fs/bpf/seccomp-recorder-conc-{tag}-{}",
                std::process::id()
            )),
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", self.dir.path().join("run"))
            .env(
                "SECCOMP_RECORDER_LOG_FILE",
                self.dir.path().join("hook.log"),
            );
        c
    }

    /// `hook STAGE` with this state JSON on stdin.
    fn hook(&self, stage: &str, state: &serde_json::Value) -> Output {
        let mut c = self.cmd();
        c.args(["hook", "--output-dir"])
            .arg(self.out())
            .arg(stage)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("hook");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(state.to_string().as_bytes())
            .expect("write state");
        child.wait_with_output().expect("hook output")
    }

    fn states(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("run/recordings"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn link_attached(&self) -> bool {
        std::fs::read_dir(&self.bpf)
            .map(|d| d.flatten().any(|e| e.path().join("link").exists()))
            .unwrap_or(false)
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        let _ = self.cmd().arg("gc").output();
        let _ = self.cmd().arg("unload").output();
        let _ = std::fs::remove_dir_all(&self.bpf);
    }
}

fn prestart_state(id: &str, pid: u32, out: &str) -> serde_json::Value {
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "created", "pid": pid,
        "bundle": "/nonexistent", "annotations": {"seccomp-recorder.io/output": out}})
}

fn poststop_state(id: &str, out: &str) -> serde_json::Value {
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "stopped",
        "bundle": "/nonexistent", "annotations": {"seccomp-recorder.io/output": out}})
}

fn sleeper(cg: &TestCgroup) -> std::process::Child {
    cg.spawn(Path::new("/bin/sleep"), &["60"])
}

#[test]
fn two_prestarts_for_one_id() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("dup");
    let cg = TestCgroup::new("conc-dup");
    let mut p = sleeper(&cg);
    let st = prestart_state("ctr-dup", p.id(), "dup.json");
    let o = h.hook("prestart", &st);
    assert!(o.status.success(), "first prestart: {}", stderr(&o));
    // The same container again (e.g. createRuntime and prestart both configured):
    // nothing to do, success, the first recording untouched.
    let o = h.hook("prestart", &st);
    assert!(o.status.success(), "second prestart: {}", stderr(&o));
    assert_eq!(h.states(), ["ctr-dup.json"]);
    // The same id from another live cgroup: refused, one line, exit 66; the first
    // recording still owns the id.
    let other = TestCgroup::new("conc-dup2");
    let mut q = sleeper(&other);
    let o = h.hook("prestart", &prestart_state("ctr-dup", q.id(), "dup2.json"));
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("container id ctr-dup is already being recorded"),
        "{}",
        stderr(&o)
    );
    assert_eq!(h.states(), ["ctr-dup.json"]);
    let _ = p.kill();
    let _ = p.wait();
    let _ = q.kill();
    let _ = q.wait();
    let o = h.hook("poststop", &poststop_state("ctr-dup", "dup.json"));
    assert!(o.status.success(), "poststop: {}", stderr(&o));
    assert!(
        h.out().join("dup.json").exists(),
        "the first recording's profile"
    );
    assert!(!h.out().join("dup2.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
}

#[test]
fn a_stale_recording_of_the_id_is_finished_before_the_new_one() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("stale");
    let old = TestCgroup::new("conc-old");
    let mut p = sleeper(&old);
    let o = h.hook("prestart", &prestart_state("ctr-re", p.id(), "old.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    // Its container dies without a poststop; the cgroup goes.
    let _ = p.kill();
    let _ = p.wait();
    drop(old);
    let new = TestCgroup::new("conc-new");
    let mut q = sleeper(&new);
    let o = h.hook("prestart", &prestart_state("ctr-re", q.id(), "new.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        h.out().join("old.json").exists(),
        "the stale recording was finished"
    );
    let _ = q.kill();
    let _ = q.wait();
    let o = h.hook("poststop", &poststop_state("ctr-re", "new.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(h.out().join("new.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
}

#[test]
fn a_poststop_without_prestart_writes_nothing_and_succeeds() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("nopre");
    let o = h.hook("poststop", &poststop_state("never-started", "ghost.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!h.out().join("ghost.json").exists());
    assert!(h.states().is_empty());
}

#[test]
fn two_gc_at_once_finish_a_recording_exactly_once() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("gc2");
    let cg = TestCgroup::new("conc-gc");
    let mut p = sleeper(&cg);
    let o = h.hook("prestart", &prestart_state("ctr-gc", p.id(), "gc.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = p.kill();
    let _ = p.wait();
    drop(cg);
    let a = h
        .cmd()
        .arg("gc")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gc a");
    let b = h
        .cmd()
        .arg("gc")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gc b");
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    assert!(a.status.success() && b.status.success());
    let finished = [stdout(&a), stdout(&b)]
        .iter()
        .filter(|s| s.contains("finished ctr-gc"))
        .count();
    assert_eq!(finished, 1, "{} / {}", stdout(&a), stdout(&b));
    assert!(h.out().join("gc.json").exists());
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
}

#[test]
fn the_257th_recording_at_once_is_refused_and_the_others_finish() {
    if !can_record() {
        return;
    }
    let h = Hooks::new("slots");
    let cg = TestCgroup::new("conc-slots");
    // 257 child cgroups, one sleeping process each.
    let mut kids = Vec::new();
    let mut procs = Vec::new();
    for i in 0..257 {
        let dir = cg.dir.join(format!("c{i}"));
        std::fs::create_dir(&dir).expect("child cgroup");
        let child = TestCgroup { dir };
        procs.push(sleeper(&child));
        kids.push(child);
    }
    for (i, p) in procs.iter().enumerate().take(256) {
        let o = h.hook(
            "prestart",
            &prestart_state(&format!("c{i}"), p.id(), &format!("c{i}.json")),
        );
        assert!(o.status.success(), "prestart {i}: {}", stderr(&o));
    }
    let o = h.hook(
        "prestart",
        &prestart_state("c256", procs[256].id(), "c256.json"),
    );
    assert_eq!(o.status.code(), Some(75), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("too many recordings at once (at most 256)"),
        "{}",
        stderr(&o)
    );
    // The refused one left nothing behind; every other one finishes.
    assert!(!h.states().contains(&"c256.json".to_owned()));
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    for i in 0..256 {
        let o = h.hook(
            "poststop",
            &poststop_state(&format!("c{i}"), &format!("c{i}.json")),
        );
        assert!(o.status.success(), "poststop {i}: {}", stderr(&o));
        assert!(h.out().join(format!("c{i}.json")).exists(), "c{i}");
    }
    assert!(h.states().is_empty(), "{:?}", h.states());
    assert!(!h.link_attached());
    drop(kids);
}
