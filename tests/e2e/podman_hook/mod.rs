//! The OCI hook with real podman + crun: record containers, then run them enforced by
//! their recorded profiles.
//!
//! Every test has its own [`Recorder`] (own podman storage, hooks dir, output dir, run
//! dir and bpffs pin dir), so the tests of this file run in parallel threads without
//! seeing each other's recordings.

use crate::common;

mod concurrent;
mod enforced;
mod finishing;
mod refusals;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::podman::PodmanEnv;
use common::*;

/// The hook's annotations (see recorder/src/container/annotations.rs).
const TRACE_SYSCALL: &str = "io.containers.trace-syscall";
const OUTPUT: &str = "seccomp-recorder.io/output";
const STATS: &str = "seccomp-recorder.io/stats";
const BASE: &str = "seccomp-recorder.io/base";
const ERRNO: &str = "seccomp-recorder.io/errno";

/// What crun's container init does after its filter load (DESIGN.md): the profile must
/// allow these or the container does not start under podman's defaults.
const RUNTIME_TAIL: [&str; 11] = [
    "capset",
    "close",
    "execve",
    "prctl",
    "pselect6",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "setresgid",
    "setresuid",
    "write",
];

/// Container set-up made by the runtime before the filter load: never in a profile.
const RUNTIME_SETUP: [&str; 6] = [
    "mount",
    "pivot_root",
    "umount2",
    "sethostname",
    "setns",
    "unshare",
];

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
        // A mount point for the injected `mount` (the busybox rootfs has no /mnt).
        fs::create_dir_all(env.rootfs().join("mnt")).expect("rootfs/mnt");
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

    /// The hook's own log lines (aya's debug output left out).
    fn log(&self) -> String {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("seccomp_recorder"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The binary with the hook's pin and run directories (for `gc`, `unload`).
    fn cli(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("SECCOMP_RECORDER_BPF_DIR", &self.bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", &self.run);
        c
    }

    /// The pin directory of this build's program, once loaded.
    fn pin_dir(&self) -> Option<PathBuf> {
        fs::read_dir(&self.bpf)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir())
    }

    /// Whether the program is attached (its link is pinned while anything records).
    fn link_pinned(&self) -> bool {
        self.pin_dir().is_some_and(|d| d.join("link").exists())
    }

    /// Every entry of `<run dir>/recordings` (state files, claimed ones included).
    fn state_files(&self) -> Vec<String> {
        fs::read_dir(self.run.join("recordings"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Nothing is being recorded: no state file, no attached program.
    fn assert_idle(&self, what: &str) {
        assert!(
            self.state_files().is_empty(),
            "{what}: recording state left behind: {:?}\nlog:\n{}",
            self.state_files(),
            self.log()
        );
        assert!(
            !self.link_pinned(),
            "{what}: program still attached (link pinned in {:?})\nlog:\n{}",
            self.pin_dir(),
            self.log()
        );
    }

    /// `podman ARGS...`, asserting success.
    fn podman_ok(&self, args: &[&str]) -> Output {
        let o = self.env.podman(args);
        self.ok(&o, &format!("podman {args:?}"));
        o
    }

    fn ok(&self, o: &Output, what: &str) {
        assert!(
            o.status.success(),
            "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}\nhook log:\n{}",
            o.status,
            stdout(o),
            stderr(o),
            self.log()
        );
    }

    /// Waits until the container's output contains `needle`.
    fn wait_for_output(&self, name: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let o = self.env.podman(&["logs", name]);
            if stdout(&o).contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never printed {needle:?}; logs:\n{}{}\nhook log:\n{}",
                stdout(&o),
                stderr(&o),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// `podman stop NAME`, then its exit code.
    fn stop(&self, name: &str) -> i64 {
        self.podman_ok(&["stop", "--time", "10", name]);
        let o = self.podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", name]);
        stdout(&o).trim().parse().expect("exit code")
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.cli().arg("unload").status();
        let _ = fs::remove_dir_all(&self.bpf);
    }
}

fn seccomp_opt(p: &Path) -> String {
    format!("seccomp={}", p.display())
}

fn ann(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

/// The allowed names of a profile file.
fn names(p: &Path) -> BTreeSet<String> {
    allowed_names(p).into_iter().collect()
}

fn profile_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(p).expect("read profile")).expect("profile json")
}

/// What is at `p` (without following a final symlink): used to prove nothing was
/// created or replaced there.
fn fingerprint(p: &Path) -> Option<(u64, u64, i64, i64)> {
    fs::symlink_metadata(p)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
}

fn dir_entries(p: &Path) -> Vec<String> {
    fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A shell workload with loops, files, pipes, a sub-directory and `id`; prints
/// `ready`, then idles until SIGTERM (`podman stop`), on which it prints `stopped` and
/// exits 0.
const BUSY: &str = "i=0; while [ $i -lt 20 ]; do echo \"line $i\" >> /tmp/data; \
cat /tmp/data | grep -c line > /tmp/count; sort -r /tmp/data | head -n 3 > /tmp/top; \
i=$((i+1)); done; id -u > /tmp/uid; mkdir -p /tmp/d && cp /tmp/data /tmp/d/copy && \
rm -r /tmp/d; echo ready; trap 'echo stopped; exit 0' TERM; \
while :; do usleep 20000; done";

/// The commands a recorded profile must block, and what busybox says when the syscall
/// fails with ENOSYS / EPERM.
const ESCAPES: [(&str, &[&str], &str, &str); 3] = [
    (
        "unshare",
        &["unshare", "-n", "true"],
        "unshare(0x40000000): Function not implemented",
        "unshare(0x40000000): Operation not permitted",
    ),
    (
        "mount",
        &["mount", "-t", "tmpfs", "none", "/mnt"],
        "mounting none on /mnt failed: Function not implemented",
        // busybox's message for EPERM from mount(2).
        "mount: permission denied (are you root?)",
    ),
    (
        "nsenter",
        &["nsenter", "-t", "1", "-n", "true"],
        "setns(): can't reassociate to namespace 'net': Function not implemented",
        "setns(): can't reassociate to namespace 'net': Operation not permitted",
    ),
];
