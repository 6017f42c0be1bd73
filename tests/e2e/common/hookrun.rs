//! The hook driven by hand: hand-made OCI states for processes in a test's own
//! cgroups, with private pins, state, output dir and log. No container runtime.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::bin;
use super::scratch::TestCgroup;

/// Private pins, state, output dir and log for one test.
pub struct Hooks {
    /// Everything of the test: out/, run/, hook.log.
    pub dir: tempfile::TempDir,
    /// The pin directory.
    pub bpf: PathBuf,
}

impl Hooks {
    pub fn new(tag: &str) -> Hooks {
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

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn cmd(&self) -> Command {
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
    pub fn hook(&self, stage: &str, state: &serde_json::Value) -> Output {
        self.hook_with(stage, state, &[])
    }

    /// `hook STAGE` with extra environment (e.g. `SECCOMP_RECORDER_FAULT`).
    pub fn hook_with(
        &self,
        stage: &str,
        state: &serde_json::Value,
        env: &[(&str, &str)],
    ) -> Output {
        let mut c = self.cmd();
        for (k, v) in env {
            c.env(k, v);
        }
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

    pub fn states(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path().join("run/recordings"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn link_attached(&self) -> bool {
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

pub fn prestart_state(id: &str, pid: u32, out: &str) -> serde_json::Value {
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "created", "pid": pid,
        "bundle": "/nonexistent", "annotations": {"seccomp-recorder.io/output": out}})
}

pub fn poststop_state(id: &str, out: &str) -> serde_json::Value {
    serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "stopped",
        "bundle": "/nonexistent", "annotations": {"seccomp-recorder.io/output": out}})
}

pub fn sleeper(cg: &TestCgroup) -> std::process::Child {
    cg.spawn(Path::new("/bin/sleep"), &["60"])
}
