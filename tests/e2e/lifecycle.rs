//! The program is attached only while something is recorded, and `unload` removes it.
//! Uses its own pin directory so that other test binaries cannot interfere.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

struct Isolated {
    bpf: PathBuf,
    run: tempfile::TempDir,
}

impl Isolated {
    fn new(tag: &str) -> Self {
        Isolated {
            bpf: PathBuf::from(format!(
                "/sys/fs/bpf/seccomp-recorder-lifecycle-{tag}-{}",
                std::process::id()
            )),
            run: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", self.run.path());
        c
    }
    fn pin_dir(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.bpf)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir())
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        let _ = self.cmd().arg("unload").status();
        let _ = std::fs::remove_dir_all(&self.bpf);
    }
}

#[e2e_macros::test]
fn attached_only_while_recording_and_unload_removes_everything() {
    if !can_record() || !prerequisite(have("bpftool"), "bpftool (apt-get install bpftool)") {
        return;
    }
    let iso = Isolated::new("attach");
    let mut child = iso
        .cmd()
        .args(["record", "-o", "/dev/null", "--", "sleep", "2"])
        .spawn()
        .expect("spawn record");
    // Wait for the link to appear.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dir = loop {
        if let Some(d) = iso.pin_dir() {
            if d.join("link").exists() {
                break d;
            }
        }
        assert!(Instant::now() < deadline, "program never attached");
        std::thread::sleep(Duration::from_millis(10));
    };
    let id = prog_id(&dir.join("prog"));
    assert_eq!(links_of(id), 1, "one link while recording");
    assert!(child.wait().expect("wait").success());

    // Recording over: no link in the kernel, none pinned.
    assert!(!dir.join("link").exists(), "link pin left behind");
    assert_eq!(
        links_of(id),
        0,
        "program still attached after the last recording"
    );

    // unload removes program and maps.
    let out = iso.cmd().arg("unload").output().expect("unload");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.exists(), "pins left behind after unload");
    let shown = Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .expect("bpftool");
    // The kernel frees the program shortly after its last reference goes.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut gone = !shown.status.success();
    while !gone && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        gone = !Command::new("bpftool")
            .args(["prog", "show", "id", &id.to_string()])
            .output()
            .expect("bpftool")
            .status
            .success();
    }
    assert!(gone, "program {id} still loaded after unload");
}

#[e2e_macros::test]
fn gc_recovers_a_killed_recorder() {
    if !can_record() || !prerequisite(have("bpftool"), "bpftool (apt-get install bpftool)") {
        return;
    }
    let iso = Isolated::new("gc");
    let mut child = iso
        .cmd()
        .args(["record", "-o", "/dev/null", "--", "sleep", "30"])
        .spawn()
        .expect("spawn record");
    let deadline = Instant::now() + Duration::from_secs(10);
    let state_file = iso
        .run
        .path()
        .join(format!("recordings/cmd-{}.json", child.id()));
    let dir = loop {
        if let Some(d) = iso.pin_dir() {
            if d.join("link").exists() && state_file.exists() {
                let text = std::fs::read_to_string(&state_file).unwrap_or_default();
                if text.contains("\"slot\": 0") || text.contains("\"slot\": 1") {
                    break d;
                }
            }
        }
        assert!(Instant::now() < deadline, "recording never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).expect("state")).expect("json");
    let cgroup_dir = PathBuf::from(state["cgroup_dir"].as_str().expect("cgroup_dir"));
    child.kill().expect("SIGKILL the recorder");
    child.wait().expect("reap");
    // The recorder is gone; its slot, link and cgroup (with sleep in it) are not.
    assert!(dir.join("link").exists());
    assert!(cgroup_dir.exists());
    let out = iso.cmd().arg("gc").output().expect("gc");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("finished cmd-"), "{}", stdout(&out));
    assert!(!dir.join("link").exists(), "still attached after gc");
    assert_eq!(links_of(prog_id(&dir.join("prog"))), 0);
    assert!(!cgroup_dir.exists(), "cgroup left behind");
    assert!(!state_file.exists(), "state left behind");
}
