//! A private podman + crun for the end-to-end tests: no edits of /etc, no use of the
//! host's container storage, cleaned up on `Drop`.
//!
//! What it takes here (podman 4.3.1, crun 1.8.1, Debian bookworm, hybrid cgroups):
//! - `CONTAINERS_CONF` → a containers.conf in the temp dir: ulimits (hard nofile is
//!   20000), `netns = "none"`, cgroupfs, events to a file, crun, `hooks_dir` = the temp
//!   hooks dir, `tmp_dir` in the temp dir (alive file, exits, events stay out of
//!   /run/libpod) and `lock_type = "file"` (locks in `tmp_dir/locks`; the default shm
//!   locks are allocated in the host-wide `/dev/shm/libpod_lock`, where a crashed test
//!   would leak them).
//! - `CONTAINERS_STORAGE_CONF` → graphroot/runroot in the temp dir (same effect as
//!   `--root/--runroot`, but also inherited by conmon's `podman container cleanup`),
//!   driver vfs: `--rootfs` needs no layers, and overlay bind-mounts its home dir on
//!   itself (a mount left behind whenever a podman process dies or races the cleanup).
//! - `Drop`: `podman rm -fa` (the storage is private), then wait for conmon's exit
//!   command (`podman container cleanup` runs after `rm` returned), then remove.
//! - Host change (outside /etc, idempotent, under a lock): crun refuses hybrid mode while
//!   a controller is still bound to the cgroup2 tree; every controller listed in the
//!   cgroup2 root's `cgroup.controllers` gets mounted as v1 at /sys/fs/cgroup/NAME
//!   (here: hugetlb). Not done on a pure cgroup2 host.
//! - busybox rootfs: `busybox --install -s` writes absolute links (they point at the
//!   host's busybox path); we copy the binary and write relative links `bin/X -> busybox`.
//!
//! Hook facts, measured with a shell hook (prestart + poststop, dumping stdin and env):
//! - prestart (run by crun): state `{ociVersion "1.0", id, pid, root, bundle, status
//!   "created", annotations}`; annotations include the user's `--annotation`s and
//!   io.container.manager=libpod. PATH is inherited from podman's caller; env also has
//!   CONTAINERS_CONF, _OCI_SYNCPIPE, _OCI_STARTPIPE. The init shows `Seccomp: 0`,
//!   `NoNewPrivs: 0` and is already in `/libpod_parent/libpod-<id>` (all hierarchies).
//! - poststop (run by podman itself): state `{ociVersion "1.0.2-dev", id, status
//!   "stopped", bundle, annotations}`: NO pid, NO root; annotations has the user's but
//!   not io.container.manager. The environment is only `PWD` (no PATH, no HOME).
//! - `podman run --rm` runs poststop and waits for it (a 2 s poststop delayed the
//!   return by 2 s); so does `podman run` without --rm. With `-d`, conmon's
//!   `podman container cleanup` runs it (same empty environment).
//!
//! crun's init after the filter load (strace -f, `true` in the busybox rootfs, x86_64):
//! - defaults (no_new_privileges=false): seccomp, close, prctl ×28 (27×PR_CAPBSET_DROP
//!   with the default capabilities, PR_SET_KEEPCAPS), setresgid, setresuid, capset,
//!   prctl (PR_CAP_AMBIENT_CLEAR_ALL), rt_sigprocmask, rt_sigaction ×62 (SIGKILL and
//!   SIGSTOP fail with EINVAL), write (sync pipe), close, pselect6, read (exec fifo:
//!   waits for `crun start`), close, execve.
//!   Names: seccomp close prctl setresgid setresuid capset rt_sigprocmask rt_sigaction
//!   write pselect6 read execve.
//! - `--security-opt no-new-privileges`: seccomp, close, execve (the load is last; the
//!   fifo wait, PR_SET_NO_NEW_PRIVS and the signal resets come before it, followed by
//!   lseek, statx, read of the compiled filter).
//! - `--security-opt seccomp=unconfined`: no load. Its last calls before execve are
//!   ... prctl(PR_CAP_AMBIENT), rt_sigprocmask, rt_sigaction ×62, write, close,
//!   pselect6, read, close, execve.
//! - libseccomp also probes with `seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL)` (EFAULT)
//!   and SECCOMP_GET_ACTION_AVAIL / GET_NOTIF_SIZES in crun's create process (not the
//!   init); the load is the call with a non-NULL filter, made by the init.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use seccomp_profile::text::unescape_mountinfo;

use super::{have, prerequisite};

/// How long one podman command may take before the test fails (hangs are bugs).
pub const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);

/// A private podman configuration, storage, hooks dir and busybox rootfs.
pub struct PodmanEnv {
    dir: tempfile::TempDir,
    rootfs: PathBuf,
    hooks_dir: PathBuf,
    conf: PathBuf,
    storage_conf: PathBuf,
    counter: AtomicUsize,
}

impl PodmanEnv {
    /// Sets everything up. `None` means skipped (a prerequisite is missing and CI is
    /// not set; under CI=true a missing prerequisite panics).
    pub fn new() -> Option<PodmanEnv> {
        // SAFETY: geteuid never fails.
        let root = unsafe { libc::geteuid() } == 0;
        if !prerequisite(root, "must run as root (rootless podman ignores hooks)")
            || !prerequisite(have("podman"), "podman (apt-get install podman)")
            || !prerequisite(have("crun"), "crun (apt-get install crun)")
        {
            return None;
        }
        let busybox = required_static_busybox()?;
        if let Err(e) = fix_hybrid_cgroups() {
            prerequisite(false, &format!("cgroup setup crun needs: {e}"));
            return None;
        }

        let dir = tempfile::Builder::new()
            .prefix("sr-podman-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let rootfs = d.join("rootfs");
        let hooks_dir = d.join("hooks");
        fs::create_dir(&hooks_dir).expect("hooks dir");
        make_busybox_rootfs(&rootfs, &busybox);

        let conf = d.join("containers.conf");
        let text = format!(
            r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
hooks_dir = [{hooks}]
tmp_dir = {tmp}
lock_type = "file"
"#,
            hooks = toml_str(&hooks_dir),
            tmp = toml_str(&d.join("libpod-tmp")),
        );
        fs::write(&conf, text).expect("write containers.conf");
        let storage_conf = d.join("storage.conf");
        let text = format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = {}\nrunroot = {}\n",
            toml_str(&d.join("storage")),
            toml_str(&d.join("runroot")),
        );
        fs::write(&storage_conf, text).expect("write storage.conf");

        Some(PodmanEnv {
            dir,
            rootfs,
            hooks_dir,
            conf,
            storage_conf,
            counter: AtomicUsize::new(0),
        })
    }

    /// The temp dir holding everything (a good place for profiles and hook output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The busybox rootfs (`/bin/busybox` + relative applet links in `/bin`).
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// The hooks dir named in containers.conf.
    pub fn hooks_dir(&self) -> &Path {
        &self.hooks_dir
    }

    /// The environment that points podman at this setup (for commands built by hand).
    pub fn env_vars(&self) -> [(&'static str, &Path); 2] {
        [
            ("CONTAINERS_CONF", &self.conf),
            ("CONTAINERS_STORAGE_CONF", &self.storage_conf),
        ]
    }

    /// `podman` with this setup's environment; add the arguments yourself.
    pub fn command(&self) -> Command {
        let mut c = Command::new("podman");
        for (k, v) in self.env_vars() {
            c.env(k, v);
        }
        c
    }

    /// `podman ARGS...` (any subcommand), with the timeout.
    pub fn podman(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        output_timeout(c, PODMAN_TIMEOUT)
    }

    /// `podman run --rm --network=none OPTS... --rootfs ROOTFS CMD...` on the busybox
    /// rootfs. Every option goes before `--rootfs`: podman takes the word after the
    /// rootfs dir as the command.
    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.run_in(&self.rootfs, true, opts, cmd)
    }

    /// Like [`run`](Self::run) but without `--rm` (give it `--name`; `Drop` removes it).
    pub fn run_keep(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.run_in(&self.rootfs, false, opts, cmd)
    }

    /// `podman run [--rm] --network=none OPTS... --rootfs ROOTFS CMD...` on any rootfs
    /// (e.g. `/`, the host's own tree, for glibc/python workloads).
    pub fn run_in(&self, rootfs: &Path, rm: bool, opts: &[&str], cmd: &[&str]) -> Output {
        assert!(
            !opts
                .iter()
                .any(|o| *o == "--rootfs" || o.starts_with("--rootfs=")),
            "--rootfs is added by the helper"
        );
        let mut c = self.command();
        c.arg("run");
        if rm {
            c.arg("--rm");
        }
        c.arg("--network=none")
            .args(opts)
            .arg("--rootfs")
            .arg(rootfs)
            .args(cmd);
        output_timeout(c, PODMAN_TIMEOUT)
    }

    /// Writes a hook definition (oci-hooks(5) JSON) into the hooks dir as
    /// `hook-N.json`; returns its path. Podman reads the dir at each `create`.
    pub fn write_hook(&self, json: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.write_hook_named(&format!("hook-{n}"), json)
    }

    /// Writes `NAME.json` into the hooks dir (replacing it); returns its path.
    pub fn write_hook_named(&self, name: &str, json: &str) -> PathBuf {
        serde_json::from_str::<serde_json::Value>(json).expect("hook definition is JSON");
        let path = self.hooks_dir.join(format!("{name}.json"));
        fs::write(&path, json).expect("write hook");
        path
    }

    /// Removes every hook definition.
    pub fn clear_hooks(&self) {
        for e in fs::read_dir(&self.hooks_dir).expect("hooks dir").flatten() {
            fs::remove_file(e.path()).expect("remove hook");
        }
    }

    /// Copies `src` (mode kept) into the rootfs at `dst` (relative, e.g. "bin/prog").
    pub fn install(&self, src: &Path, dst: &str) -> PathBuf {
        let to = self.rootfs.join(dst.trim_start_matches('/'));
        if let Some(p) = to.parent() {
            fs::create_dir_all(p).expect("mkdir in rootfs");
        }
        fs::copy(src, &to).expect("copy into rootfs");
        to
    }

    /// Writes an OCI runtime wrapper script that runs crun under `strace -D -f`, one log
    /// per runtime call in `out_dir`. Use with `--runtime SCRIPT`; read the logs with
    /// [`post_filter_tail`].
    pub fn strace_runtime(&self, out_dir: &Path) -> PathBuf {
        fs::create_dir_all(out_dir).expect("strace out dir");
        let script = self.dir().join(format!(
            "crun-strace-{}",
            self.counter.fetch_add(1, Ordering::Relaxed)
        ));
        let text = format!(
            "#!/bin/sh\nexec {} -D -f -o {}/crun.$$.log {} \"$@\"\n",
            which("strace"),
            out_dir.display(),
            which("crun"),
        );
        fs::write(&script, text).expect("write wrapper");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        script
    }
}

impl Drop for PodmanEnv {
    fn drop(&mut self) {
        // The storage is private: everything in it was created by this env.
        let mut c = self.command();
        c.args(["rm", "--force", "--all", "--time", "0"]);
        if let Err(e) = try_output_timeout(c, PODMAN_TIMEOUT) {
            eprintln!("PodmanEnv cleanup: {e}");
        }
        // `rm` returns before conmon has run its exit command (`podman container
        // cleanup`), which would write into the storage again after we removed it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !processes_naming(self.dir.path()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Nothing should be mounted below the dir; if something is, do not let
        // remove_dir_all walk into a mount.
        for m in mounts_below(self.dir.path()).into_iter().rev() {
            if let Ok(c) = std::ffi::CString::new(m.as_os_str().as_bytes()) {
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
}

/// A hook definition that always runs `path ARGS...` at the given stages.
pub fn hook_json(path: &Path, args: &[&str], stages: &[&str]) -> String {
    serde_json::json!({
        "version": "1.0.0",
        "hook": { "path": path, "args": args },
        "when": { "always": true },
        "stages": stages,
    })
    .to_string()
}

/// From an strace -f log of crun (see [`PodmanEnv::strace_runtime`]): the syscall names
/// the container init makes from its filter load (`seccomp(SECCOMP_SET_MODE_FILTER, ..,
/// {filter})`) up to and including the execve of `workload` (e.g. `/bin/true`), in
/// order. `Ok(None)`: the init exec'd the workload without loading a filter. `Err`:
/// the log has no such execve.
pub fn post_filter_tail(log: &str, workload: &str) -> Result<Option<Vec<String>>, String> {
    let exec = format!("execve(\"{workload}\"");
    let lines: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(p, r)| (p, r.trim_start())))
        .collect();
    let (ei, pid) = lines
        .iter()
        .enumerate()
        .find(|(_, (_, r))| r.starts_with(&exec))
        .map(|(i, (p, _))| (i, *p))
        .ok_or_else(|| format!("no {exec} in the log"))?;
    let load = lines[..ei].iter().rposition(|(p, r)| {
        *p == pid && r.starts_with("seccomp(SECCOMP_SET_MODE_FILTER,") && !r.contains("NULL)")
    });
    let Some(li) = load else { return Ok(None) };
    let names = lines[li..=ei]
        .iter()
        .filter(|(p, _)| *p == pid)
        .filter_map(|(_, r)| {
            let name: String = r
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && r[name.len()..].starts_with('(')).then_some(name)
        })
        .collect();
    Ok(Some(names))
}

/// Runs a command with piped output; panics when it takes longer than `limit`.
pub fn output_timeout(c: Command, limit: Duration) -> Output {
    try_output_timeout(c, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command with piped output; kills it and says so when it takes longer than
/// `limit`.
pub fn try_output_timeout(mut c: Command, limit: Duration) -> Result<Output, String> {
    let what = format!("{c:?}");
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {what}: {e}"))?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("stdout")));
    let err = reader(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| format!("wait {what}: {e}"))? {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {limit:?}: {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

struct Mount {
    mount_point: PathBuf,
    fstype: String,
    super_opts: String,
}

fn mountinfo() -> Vec<Mount> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = unescape_mountinfo(pre.split(' ').nth(4)?);
            let mut post = post.split(' ');
            let fstype = post.next()?.to_owned();
            let super_opts = post.nth(1).unwrap_or("").to_owned();
            Some(Mount {
                mount_point: PathBuf::from(mount_point),
                fstype,
                super_opts,
            })
        })
        .collect()
}

/// Other processes whose command line mentions `dir` (conmon, `podman container
/// cleanup`, a hook).
fn processes_naming(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = dir.as_os_str().as_bytes();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    mountinfo()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// crun refuses hybrid cgroups ("cgroups in hybrid mode not supported, drop all
/// controllers from cgroupv2") while a controller is still bound to the cgroup2 tree.
/// HOST CHANGE (outside /etc): mounts each such controller as a v1 hierarchy at
/// /sys/fs/cgroup/NAME. Idempotent (already-mounted controllers are skipped; the kernel
/// lists only unbound controllers in the cgroup2 root) and serialised between
/// processes with a lock file. Nothing to do on a pure cgroup2 or pure v1 host.
fn fix_hybrid_cgroups() -> Result<(), String> {
    let Some(cg2) = super::cgroup2_root() else {
        return Ok(());
    };
    if cg2 == Path::new("/sys/fs/cgroup") {
        return Ok(());
    }
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/seccomp-recorder-tests.cgroup.lock")
        .map_err(|e| format!("lock file: {e}"))?;
    // SAFETY: a valid open fd; the lock is released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!("flock: {}", std::io::Error::last_os_error()));
    }
    let controllers = fs::read_to_string(cg2.join("cgroup.controllers"))
        .map_err(|e| format!("read {}/cgroup.controllers: {e}", cg2.display()))?;
    let mounted = mountinfo();
    for c in controllers.split_whitespace() {
        let v1 = mounted
            .iter()
            .any(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == c));
        if v1 {
            continue;
        }
        let at = Path::new("/sys/fs/cgroup").join(c);
        fs::create_dir_all(&at).map_err(|e| format!("mkdir {}: {e}", at.display()))?;
        let cstr = |s: &str| std::ffi::CString::new(s).expect("no NUL");
        let (src, target, fstype, data) = (
            cstr("cgroup"),
            cstr(&at.to_string_lossy()),
            cstr("cgroup"),
            cstr(c),
        );
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(format!(
                "mount -t cgroup -o {c} cgroup {}: {}",
                at.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// crun for bundles run outside podman (`crun run -b`): its path once the host's
/// cgroups are as crun needs them ([`fix_hybrid_cgroups`]); `None` (skipped, or a
/// failure under `CI=true`) when crun is missing or the set-up fails. Without the fix, a
/// test that ran crun before any podman test refused with "cgroups in hybrid mode not
/// supported" on a fresh machine.
pub fn crun_for_bundles() -> Option<PathBuf> {
    if !prerequisite(have("crun"), "crun (apt-get install crun)") {
        return None;
    }
    if let Err(e) = fix_hybrid_cgroups() {
        prerequisite(false, &format!("cgroup setup crun needs: {e}"));
        return None;
    }
    Some(PathBuf::from(super::docker::which("crun")))
}

/// [`find_static_busybox`] as a [`prerequisite`]: `None` (skipped, or a failure under
/// `CI=true`) when there is none.
pub fn required_static_busybox() -> Option<PathBuf> {
    let found = find_static_busybox();
    prerequisite(
        found.is_some(),
        "a static busybox (apt-get install busybox-static)",
    )
    .then_some(found)?
}

/// A static busybox on PATH (a dynamic one would not run in the bare rootfs).
pub fn find_static_busybox() -> Option<PathBuf> {
    let p = PathBuf::from(which_opt("busybox")?);
    let elf = fs::read(&p).ok()?;
    (!has_interp(&elf)).then_some(p)
}

/// Whether an ELF64 file has a PT_INTERP program header (i.e. is dynamically linked).
fn has_interp(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return true;
    }
    let (Some(phoff), Some(size), Some(num)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return true;
    };
    (0..num).any(|i| {
        let o = phoff + i * size;
        elf.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

pub fn make_busybox_rootfs(rootfs: &Path, busybox: &Path) {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin).expect("rootfs/bin");
    for d in ["proc", "sys", "dev", "etc", "tmp", "run", "root"] {
        fs::create_dir_all(rootfs.join(d)).expect("rootfs dir");
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod");
    // Only /bin: with /usr/sbin or /sbin links, crun's PATH lookup (/usr/local/sbin:
    // /usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) would exec /usr/sbin/true.
    fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(list.status.success(), "busybox --list failed");
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).expect("applet link");
        }
    }
}

/// A path as a TOML basic string.
fn toml_str(p: &Path) -> String {
    serde_json::to_string(&p.to_string_lossy()).expect("string")
}

pub fn which_opt(tool: &str) -> Option<String> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    (o.status.success() && s.starts_with('/')).then_some(s)
}

pub fn which(tool: &str) -> String {
    which_opt(tool).unwrap_or_else(|| panic!("{tool} not on PATH"))
}
