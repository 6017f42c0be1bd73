//! The OCI hook with real podman + crun: record containers, then run them enforced by
//! their recorded profiles.

mod common;

use std::path::{Path, PathBuf};

use common::podman::PodmanEnv;
use common::*;

/// A podman environment with our hook installed, writing below `out`.
struct Recorder {
    env: PodmanEnv,
    out: PathBuf,
    bpf: PathBuf,
    run: PathBuf,
    log: PathBuf,
}

impl Recorder {
    fn new(tag: &str) -> Option<Self> {
        if !can_record() {
            return None;
        }
        let env = PodmanEnv::new()?;
        let out = env.dir().join("profiles");
        let bin_dir = env.dir().join("bin");
        let bpf = PathBuf::from(format!(
            "/sys/fs/bpf/seccomp-recorder-hook-{tag}-{}",
            std::process::id()
        ));
        let run = env.dir().join("run");
        let log = env.dir().join("hook.log");
        let o = run_env(
            &[
                "install",
                "--hooks-dir",
                env.hooks_dir().to_str().expect("utf8"),
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
        Some(Recorder {
            env,
            out,
            bpf,
            run,
            log,
        })
    }

    fn profile(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = std::process::Command::new(bin())
            .env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", &self.run)
            .arg("unload")
            .status();
        let _ = std::fs::remove_dir_all(&self.bpf);
    }
}

fn seccomp_opt(p: &Path) -> String {
    format!("seccomp={}", p.display())
}

#[test]
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
