//! A cgroup below the cgroup2 root for one test, with processes started in it; what is
//! left in it is killed and the cgroup removed on drop.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use super::cgroup2_root;

/// A test's own cgroup.
pub struct TestCgroup {
    /// Its directory.
    pub dir: PathBuf,
}

impl TestCgroup {
    /// Creates `<cgroup2 root>/sr-<tag>-<pid>`.
    pub fn new(tag: &str) -> TestCgroup {
        let root = cgroup2_root().expect("cgroup2 mount");
        let dir = root.join(format!("sr-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).expect("create test cgroup");
        TestCgroup { dir }
    }

    /// Starts `program ARGS` inside the cgroup (it moves itself there before its exec).
    pub fn spawn(&self, program: &Path, args: &[&str]) -> Child {
        let procs = self.dir.join("cgroup.procs");
        let mut c = Command::new(program);
        c.args(args);
        // SAFETY: only a write to a path before exec.
        unsafe {
            c.pre_exec(move || std::fs::write(&procs, b"0"));
        }
        c.spawn().expect("spawn into cgroup")
    }

    /// The path relative to the cgroup2 root, as /proc/PID/cgroup shows it.
    pub fn relative(&self) -> String {
        format!(
            "/{}",
            self.dir.file_name().expect("name").to_str().expect("utf8")
        )
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("cgroup.kill"), b"1");
        for _ in 0..200 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
