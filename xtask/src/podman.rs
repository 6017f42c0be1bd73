//! A private podman + crun set-up for the demo: no edits of /etc, no use of the host's
//! container storage (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF point into a temp dir),
//! a busybox rootfs (no registry is reachable), removed afterwards.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

/// The private set-up.
pub struct Podman {
    /// Temp directory holding everything.
    pub dir: PathBuf,
    /// The busybox root file system.
    pub rootfs: PathBuf,
    /// The hooks directory podman reads.
    pub hooks_dir: PathBuf,
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// The cgroup2 mount point in a mountinfo text.
fn cgroup2_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split_whitespace().next()? == "cgroup2")
            .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

/// The cgroup2 mount point of this mount namespace.
pub fn cgroup2_mount() -> Result<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    cgroup2_in(&mountinfo).context("no cgroup2 mount")
}

/// crun refuses hybrid cgroups while a controller is still bound to the cgroup2 tree:
/// mount each such controller as v1 (here: hugetlb). Nothing to do on pure v2 hosts.
fn fix_hybrid_cgroups() -> Result<()> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let Some(v2) = cgroup2_in(&mountinfo) else {
        return Ok(());
    };
    if v2 == Path::new("/sys/fs/cgroup") {
        return Ok(());
    }
    let controllers = fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
    for c in controllers.split_whitespace() {
        let target = Path::new("/sys/fs/cgroup").join(c);
        let mounted = mountinfo
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(target.to_str().unwrap_or("")));
        if mounted {
            continue;
        }
        fs::create_dir_all(&target).with_context(|| format!("mkdir {}", target.display()))?;
        crate::sh(
            Command::new("mount")
                .args(["-t", "cgroup", "-o", c, "cgroup"])
                .arg(&target),
        )?;
    }
    Ok(())
}

impl Podman {
    /// Creates the set-up.
    pub fn new() -> Result<Self> {
        fix_hybrid_cgroups()?;
        let dir =
            std::env::temp_dir().join(format!("seccomp-recorder-podman-{}", std::process::id()));
        let rootfs = dir.join("rootfs");
        let hooks_dir = dir.join("hooks");
        for d in [
            &rootfs.join("bin"),
            &hooks_dir,
            &rootfs.join("mnt"),
            &rootfs.join("tmp"),
        ] {
            fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).context("copy busybox")?;
        let list =
            crate::output(Command::new("/bin/busybox").arg("--list")).context("busybox --list")?;
        for applet in list.lines().filter(|a| !a.is_empty() && *a != "busybox") {
            let _ = symlink("busybox", rootfs.join("bin").join(applet));
        }
        let conf = format!(
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\nnetns = \"none\"\n\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"crun\"\n\
             hooks_dir = [{}]\ntmp_dir = {}\nlock_type = \"file\"\n",
            toml_str(&hooks_dir),
            toml_str(&dir.join("libpod-tmp")),
        );
        fs::write(dir.join("containers.conf"), conf).context("write containers.conf")?;
        let storage = format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = {}\nrunroot = {}\n",
            toml_str(&dir.join("storage")),
            toml_str(&dir.join("runroot")),
        );
        fs::write(dir.join("storage.conf"), storage).context("write storage.conf")?;
        Ok(Podman {
            dir,
            rootfs,
            hooks_dir,
        })
    }

    /// [`Podman::run`] without echoing the command line.
    pub fn run_quiet(&self, opts: &[&str], cmd: &[&str]) -> Result<Output> {
        self.run_with(opts, cmd, false)
    }

    /// `podman run --rm --network=none OPTS --rootfs ROOTFS CMD` (options must come
    /// before --rootfs: the word after the rootfs is the command).
    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Result<Output> {
        self.run_with(opts, cmd, true)
    }

    fn run_with(&self, opts: &[&str], cmd: &[&str], echo: bool) -> Result<Output> {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .args(["run", "--rm", "--network=none"])
            .args(opts)
            .arg("--rootfs")
            .arg(&self.rootfs)
            .args(cmd);
        if echo {
            let shown: Vec<String> = opts.iter().chain(cmd).map(|s| s.to_string()).collect();
            eprintln!("$ podman run --rm --network=none {} ...", shown.join(" "));
        }
        let out = c.output().context("run podman")?;
        if out.status.code() == Some(125) {
            bail!(
                "podman itself failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .args(["rm", "-fa"])
            .output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
