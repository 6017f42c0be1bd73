//! `seccomp-recorder install` into a test's own directories: the binary, the two
//! oci-hooks(5) definitions, an output dir, and private pin/run dirs and log, so that
//! a test can hand the very hooks users get to podman, crun or runc.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{bin, run_env, stderr};

/// An installation below a test directory; unloads its program on drop.
pub struct Installed {
    /// Where `install` put the hook definitions.
    pub hooks_dir: PathBuf,
    /// Where profiles may be written (the hook's `--output-dir`).
    pub out: PathBuf,
    /// The pin directory the hooks use.
    pub bpf: PathBuf,
    /// The run (state) directory the hooks use.
    pub run: PathBuf,
    /// The hook log.
    pub log: PathBuf,
}

impl Installed {
    /// Runs `install` with `hooks_dir` (e.g. a podman env's) and dirs below `base`.
    pub fn new(base: &Path, hooks_dir: &Path, tag: &str) -> Installed {
        let out = base.join("profiles");
        let bin_dir = base.join("bin");
        let bpf = PathBuf::from(format!(
            "/sys/fs/bpf/seccomp-recorder-inst-{tag}-{}",
            std::process::id()
        ));
        let run = base.join("run");
        let log = base.join("hook.log");
        let o = run_env(
            &[
                "install",
                "--hooks-dir",
                hooks_dir.to_str().expect("utf8"),
                "--bin-dir",
                bin_dir.to_str().expect("utf8"),
                "--output-dir",
                out.to_str().expect("utf8"),
                "--env",
                &format!("SECCOMP_RECORDER_BPF_DIR={}", bpf.display()),
                "--env",
                &format!("SECCOMP_RECORDER_RUN_DIR={}", run.display()),
                "--env",
                &format!("SECCOMP_RECORDER_LOG_FILE={}", log.display()),
                "--env",
                "SECCOMP_RECORDER_LOG=debug",
            ],
            &[],
        );
        assert!(o.status.success(), "install: {}", stderr(&o));
        Installed {
            hooks_dir: hooks_dir.to_owned(),
            out,
            bpf,
            run,
            log,
        }
    }

    /// The installed hook definitions (oci-hooks(5) JSON), by stage.
    pub fn definitions(&self) -> Vec<serde_json::Value> {
        let mut defs: Vec<serde_json::Value> = fs::read_dir(&self.hooks_dir)
            .expect("hooks dir")
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("seccomp-recorder")
            })
            .map(|e| {
                serde_json::from_str(&fs::read_to_string(e.path()).expect("read hook"))
                    .expect("hook json")
            })
            .collect();
        defs.sort_by_key(|d| d["stages"].to_string());
        defs
    }

    /// The runtime-spec `hooks` object of config.json with the installed hooks:
    /// `{"prestart": [..], "poststop": [..]}` built from the definitions' `hook`.
    pub fn config_hooks(&self) -> serde_json::Value {
        let mut hooks = serde_json::Map::new();
        for d in self.definitions() {
            for stage in d["stages"].as_array().expect("stages") {
                let stage = stage.as_str().expect("stage");
                hooks
                    .entry(stage.to_owned())
                    .or_insert_with(|| serde_json::json!([]))
                    .as_array_mut()
                    .expect("array")
                    .push(d["hook"].clone());
            }
        }
        serde_json::Value::Object(hooks)
    }

    /// The hook log (our lines only).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("seccomp_recorder"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The binary with the hooks' pin and run directories.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", &self.run);
        c
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = self.cli().arg("unload").status();
        let _ = fs::remove_dir_all(&self.bpf);
        // `unload` takes the run dir's lock, creating the dir (and `base`) again when
        // the env that held them (a podman env's temp dir) was dropped first: remove
        // it, and `base` if nothing else is in it.
        let _ = fs::remove_dir_all(&self.run);
        if let Some(base) = self.run.parent() {
            let _ = fs::remove_dir(base);
        }
    }
}
