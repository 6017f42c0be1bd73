//! A private Docker daemon for the end-to-end tests: started once per test binary, on
//! first use, with its own data root, exec root, socket, cgroup parent and config file;
//! stopped and removed by an `atexit` handler; a daemon left by a killed earlier run is
//! reaped at the next start. No registry: the busybox image is `docker import`ed.
//!
//! What it takes here (docker.io 20.10.24 from Debian bookworm, runc 1.1.5, kernel 6.18,
//! hybrid cgroups):
//! - The client is `/usr/bin/docker` (20.10). `/usr/local/bin/docker` on this machine
//!   is an unrelated 28.x client: never rely on PATH.
//! - `dockerd --config-file D/daemon.json --data-root D/data --exec-root D/exec
//!   --pidfile D/pid --host unix://D/sock --iptables=false --ip-masq=false
//!   --bridge=none --storage-driver vfs --cgroup-parent /NAME
//!   --add-runtime strace-runc=D/strace-runc`, `DOCKER_HOST=unix://D/sock`.
//!   - `--config-file`: the host's /etc/docker/daemon.json must not apply. Its
//!     `"deprecated-key-path": "D/key.json"` matters: without it dockerd 20.10 writes
//!     its trust key to /etc/docker/key.json (an /etc edit; there is no command-line
//!     flag for it in 20.10).
//!   - No system containerd runs here (/run/containerd/containerd.sock absent), so
//!     dockerd starts its own (`containerd --config D/exec/containerd/containerd.toml`,
//!     state in D/exec/containerd, content in D/data/containerd) and stops it on
//!     SIGTERM. If a system containerd socket existed, dockerd would use it instead
//!     (namespace "moby"): [`DockerEnv::get`] then refuses (prerequisite).
//!   - dockerd bind-mounts the data root onto itself (shared propagation) and each
//!     container's network namespace at D/exec/netns/ID (`--network none` still gets
//!     its own netns); both go on a clean stop, and the teardown detaches whatever is
//!     left below D before removing it.
//!   - Outside D, whatever the flags say: /run/docker/plugins (dockerd's plugin dir)
//!     and /run/containerd/s/HASH (each shim's socket). The teardown removes those dirs
//!     when they are empty again (a live daemon keeps files there: a host dockerd its
//!     pid file and sockets in /run/docker, another env's shims their sockets in
//!     /run/containerd/s, so nothing is removed under a running daemon).
//! - Cgroups: the cgroup driver is cgroupfs (`docker info`: "Cgroup Driver: cgroupfs",
//!   "Cgroup Version: 1" on this hybrid host). runc puts each container at
//!   `<parent>/<full id>` in every v1 hierarchy AND in the cgroup2 tree, which here is
//!   /sys/fs/cgroup/unified (found from /proc/self/mountinfo; /sys/fs/cgroup on a pure
//!   cgroup2 host): `/proc/PID/cgroup` shows `0::/<parent>/<id>`. The default parent is
//!   /docker (shared with a host daemon); this env uses /NAME (NAME = the temp dir's
//!   name) so that the teardown can kill what is left in it and rmdir it in every
//!   hierarchy (runc removes the container's leaf, never the parent).
//! - Timings measured here (2 vCPU): dockerd ready (answers `/_ping`) 0.16-0.32 s after
//!   spawn; `docker import` of the busybox rootfs ~0.3 s; `docker run --rm --network
//!   none bb:local /bin/true` ~0.5 s; SIGTERM to exit ~2.7 s (it stops its containerd).
//!   [`DockerEnv::started_in`] reports this run's start time.
//!
//! Docker and seccomp (measured, see docs/runtime-tails.md):
//! - Docker runs runc with `noNewPrivileges` false unless `--security-opt
//!   no-new-privileges`; its default profile and `--security-opt seccomp=FILE` are
//!   loaded by runc's init with prctl(PR_SET_SECCOMP) (no TSYNC), and runc's post-filter
//!   tail is the same as with a plain runc bundle or podman --runtime runc.
//! - Docker 20.10 drops a profile's top-level `defaultErrnoRet`: a profile with
//!   `defaultAction: SCMP_ACT_ERRNO, defaultErrnoRet: 38` denies with EPERM ("Operation
//!   not permitted"). A rule's `errnoRet` is honoured (ENOSYS). runc itself honours
//!   `defaultErrnoRet` in config.json.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::podman::output_timeout;
use super::prerequisite;
use super::runc::{cgroup_mounts, make_busybox_rootfs, required_static_busybox, strace_wrapper};

/// The docker client (20.10, like the daemon). Not whatever `docker` is on PATH.
pub const DOCKER: &str = "/usr/bin/docker";
/// The imported busybox image.
pub const IMAGE: &str = "bb:local";
/// The runtime name of the strace-wrapped runc registered with the daemon.
pub const STRACE_RUNTIME: &str = "strace-runc";
/// How long one docker command may take before the test fails (hangs are bugs).
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the daemon may take to answer its first ping.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd daemon gets before SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Prefix of the env's dir in the temp dir (what the reaper looks for).
pub const DIR_PREFIX: &str = "sr-docker-";

static ENV: OnceLock<Option<DockerEnv>> = OnceLock::new();

/// The private daemon of this test binary.
pub struct DockerEnv {
    dir: PathBuf,
    sock: PathBuf,
    rootfs: PathBuf,
    cgroup_parent: String,
    strace_dir: PathBuf,
    started_in: Duration,
    daemon: Mutex<Option<Child>>,
    stopped: AtomicBool,
}

extern "C" fn stop_at_exit() {
    if let Some(Some(env)) = ENV.get() {
        env.shutdown();
    }
}

impl DockerEnv {
    /// The daemon, started on first call (once per test binary; stopped at exit).
    /// `None` means skipped (a prerequisite is missing and CI is not set; under CI=true
    /// a missing prerequisite panics).
    pub fn get() -> Option<&'static DockerEnv> {
        ENV.get_or_init(DockerEnv::start).as_ref()
    }

    fn start() -> Option<DockerEnv> {
        // SAFETY: geteuid never fails.
        let root = unsafe { libc::geteuid() } == 0;
        if !prerequisite(root, "must run as root (dockerd)")
            || !prerequisite(
                super::have("dockerd"),
                "dockerd (apt-get install docker.io)",
            )
            || !prerequisite(
                Path::new(DOCKER).exists(),
                "the docker 20.10 client /usr/bin/docker (apt-get install docker.io)",
            )
            || !prerequisite(super::have("runc"), "runc (apt-get install runc)")
            || !prerequisite(super::have("strace"), "strace (apt-get install strace)")
            || !prerequisite(
                !Path::new("/run/containerd/containerd.sock").exists(),
                "no system containerd (dockerd would share /run/containerd/containerd.sock)",
            )
        {
            return None;
        }
        let busybox = required_static_busybox()?;
        reap_leftovers();

        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("{DIR_PREFIX}{}-{nanos:x}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        fs::create_dir(&dir).expect("docker env dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o711)).expect("chmod");
        // Who owns the dir: a reaper leaves it alone while this process lives.
        fs::write(
            dir.join("owner"),
            owner_token(std::process::id()).unwrap_or_default(),
        )
        .expect("owner file");
        let rootfs = dir.join("rootfs");
        make_busybox_rootfs(&rootfs, &busybox);
        let strace_dir = dir.join("strace");
        fs::create_dir(&strace_dir).expect("strace dir");
        let wrapper = dir.join("strace-runc");
        let runc = PathBuf::from(which("runc"));
        fs::write(&wrapper, strace_wrapper(&runc, &strace_dir, "runc")).expect("wrapper");
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod");
        let conf = dir.join("daemon.json");
        fs::write(
            &conf,
            serde_json::json!({ "deprecated-key-path": dir.join("key.json") }).to_string(),
        )
        .expect("daemon.json");
        let sock = dir.join("sock");
        let cgroup_parent = format!("/{name}");
        let log = fs::File::create(dir.join("dockerd.log")).expect("dockerd log");
        let tmp = dir.join("tmp");
        fs::create_dir(&tmp).expect("tmp dir");

        let t0 = Instant::now();
        let mut c = Command::new("dockerd");
        c.arg("--config-file")
            .arg(&conf)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver",
                "vfs",
                "--cgroup-parent",
                &cgroup_parent,
                // containers still running at SIGTERM get 2 s, not 15
                "--shutdown-timeout",
                "2",
            ])
            .arg("--add-runtime")
            .arg(format!("{STRACE_RUNTIME}={}", wrapper.display()))
            // containerd (started by dockerd, inheriting this) dumps its stacks to
            // $TMPDIR/containerd.PID.stacks.log when dockerd kills and restarts it
            // after failed health checks (seen once under heavy load)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let mut child = match c.spawn() {
            Ok(ch) => ch,
            Err(e) => {
                teardown(&dir, None);
                prerequisite(false, &format!("spawn dockerd: {e}"));
                return None;
            }
        };
        let ready = loop {
            if ping(&sock) {
                break Ok(());
            }
            if let Ok(Some(st)) = child.try_wait() {
                break Err(format!("dockerd exited ({st})"));
            }
            if t0.elapsed() > START_TIMEOUT {
                break Err(format!("dockerd not ready after {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let started_in = t0.elapsed();
        if let Err(e) = ready {
            let log = fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            teardown(&dir, Some(&mut child));
            prerequisite(
                false,
                &format!("a private dockerd: {e}; log tail (newest first): {tail:#?}"),
            );
            return None;
        }
        let env = DockerEnv {
            dir,
            sock,
            rootfs,
            cgroup_parent,
            strace_dir,
            started_in,
            daemon: Mutex::new(Some(child)),
            stopped: AtomicBool::new(false),
        };
        // SAFETY: registers a plain extern "C" fn; it only touches the static.
        unsafe { libc::atexit(stop_at_exit) };
        env.import(&env.rootfs, IMAGE);
        Some(env)
    }

    /// The env's dir (daemon state, rootfs, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `unix://D/sock`, the value of DOCKER_HOST.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The busybox rootfs the image was imported from.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// The daemon's `--cgroup-parent` (`/sr-docker-...`).
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// Spawn to first answered `/_ping`.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The docker client with DOCKER_HOST set; add the arguments yourself.
    pub fn command(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", self.host());
        c
    }

    /// `docker ARGS...` (any subcommand), with the timeout.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        output_timeout(c, DOCKER_TIMEOUT)
    }

    /// `tar -C DIR -c . | docker import - TAG` (through a tar file in the env's dir).
    pub fn import(&self, dir: &Path, tag: &str) {
        let tar = self
            .dir
            .join(format!("import-{}.tar", tag.replace([':', '/'], "_")));
        let mut c = Command::new("tar");
        c.arg("-C").arg(dir).arg("-cf").arg(&tar).arg(".");
        let o = output_timeout(c, DOCKER_TIMEOUT);
        assert!(
            o.status.success(),
            "tar: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = self.docker(&["import", tar.to_str().expect("utf8 path"), tag]);
        assert!(
            o.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let _ = fs::remove_file(&tar);
    }

    /// `docker run --rm --network none --pull never OPTS... bb:local CMD...`.
    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.run_image(opts, IMAGE, cmd)
    }

    /// `docker run --rm --network none --pull never OPTS... IMAGE CMD...`.
    pub fn run_image(&self, opts: &[&str], image: &str, cmd: &[&str]) -> Output {
        let mut c = self.command();
        c.args(["run", "--rm", "--network", "none", "--pull", "never"])
            .args(opts)
            .arg(image)
            .args(cmd);
        output_timeout(c, DOCKER_TIMEOUT)
    }

    /// `docker run -d --network none --pull never OPTS... bb:local CMD...`; returns the
    /// full container id (panics when the run fails). Remove it with [`rm`](Self::rm).
    pub fn run_detached(&self, opts: &[&str], cmd: &[&str]) -> String {
        let mut c = self.command();
        c.args(["run", "-d", "--network", "none", "--pull", "never"])
            .args(opts)
            .arg(IMAGE)
            .args(cmd);
        let o = output_timeout(c, DOCKER_TIMEOUT);
        assert!(
            o.status.success(),
            "docker run -d: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    /// `docker rm -f ID`.
    pub fn rm(&self, id: &str) -> Output {
        self.docker(&["rm", "-f", id])
    }

    /// The full id of a container (from a name or a short id).
    pub fn full_id(&self, id: &str) -> Option<String> {
        let o = self.docker(&["inspect", "-f", "{{.Id}}", id]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    }

    /// The host pid of a running container's init (`docker inspect .State.Pid`); `None`
    /// when it is not running or unknown.
    pub fn inspect_pid(&self, id: &str) -> Option<u32> {
        let o = self.docker(&["inspect", "-f", "{{.State.Pid}}", id]);
        if !o.status.success() {
            return None;
        }
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|&p| p != 0)
    }

    /// The cgroup2 directory of a running container's init: `/proc/PID/cgroup`'s `0::`
    /// path under the cgroup2 mount (here /sys/fs/cgroup/unified/<parent>/<id>).
    pub fn cgroup_of(&self, id: &str) -> Option<PathBuf> {
        let pid = self.inspect_pid(id)?;
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
        Some(super::cgroup2_root()?.join(rel.trim().trim_start_matches('/')))
    }

    /// The strace logs of the `strace-runc` runtime's calls for container `id` (use
    /// `--runtime strace-runc`): one per runc call (create, start, state, delete...);
    /// read the init's tail with `runc::runc_post_filter_tail`.
    pub fn strace_logs(&self, id: &str) -> Vec<(PathBuf, String)> {
        let full = self.full_id(id).unwrap_or_else(|| id.to_owned());
        let mut out: Vec<(PathBuf, String)> = fs::read_dir(&self.strace_dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let text = fs::read_to_string(e.path()).ok()?;
                        text.lines()
                            .next()
                            .is_some_and(|l| l.contains(&full))
                            .then(|| (e.path(), text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Where the `strace-runc` runtime writes its logs.
    pub fn strace_dir(&self) -> &Path {
        &self.strace_dir
    }

    /// Stops the daemon and removes everything (also run at exit). Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        // Containers first: a quick, clean `rm -f` beats dockerd's shutdown path.
        let o = self.docker(&["ps", "-aq"]);
        let ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.docker(&args);
        }
        let mut child = self.daemon.lock().unwrap_or_else(|e| e.into_inner()).take();
        teardown(&self.dir, child.as_mut());
    }
}

/// "PID STARTTIME" of a live process (starttime from /proc/PID/stat, against pid
/// reuse); `None` when it is gone or a zombie (a killed test binary whose parent has
/// not reaped it yet).
pub fn owner_token(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    // after the comm: state is field 3, starttime field 22
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    let start = fields.nth(18)?;
    Some(format!("{pid} {start}"))
}

/// Removes env dirs of earlier runs whose owner process is gone (killed test binaries):
/// their daemon, containerd, shims and container processes, cgroups, mounts, files.
fn reap_leftovers() {
    reap_dead_owners(DIR_PREFIX, "DockerEnv", |dir| teardown(dir, None));
}

/// Calls `teardown` on every dir `PREFIX*` in the temp dir whose `owner` file names a
/// process that is gone (the env of a killed test binary); `who` says it on stderr.
pub fn reap_dead_owners(prefix: &str, who: &str, teardown: impl Fn(&Path)) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) || !e.path().is_dir() {
            continue;
        }
        let owner = fs::read_to_string(e.path().join("owner")).unwrap_or_default();
        let alive = owner
            .split_whitespace()
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .and_then(owner_token)
            .is_some_and(|now| now == owner.trim());
        if alive {
            continue;
        }
        eprintln!(
            "{who}: reaping {} (left by a killed run)",
            e.path().display()
        );
        teardown(&e.path());
    }
}

/// Dirs the daemon and its shims create outside their roots; removed when empty.
const HOST_DIRS: [&str; 2] = ["/run/docker", "/run/containerd"];

/// Stops the daemon of `dir` (our child, or the pid in its pidfile), kills what is left
/// of its containerd, shims and containers, removes its cgroups, detaches mounts below
/// it and removes it; then removes [`HOST_DIRS`] that are empty again.
fn teardown(dir: &Path, child: Option<&mut Child>) {
    // Containers first (SIGKILL to everything in the cgroup parent): a daemon would
    // otherwise wait for each container's stop timeout.
    let parent = format!(
        "/{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let roots: Vec<PathBuf> = cgroup_mounts()
        .into_iter()
        .map(|m| m.join(parent.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect();
    kill_cgroup_members(&roots);
    let pidfile_pid = fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&p| cmdline_names(p as u32, dir));
    let pid = child.as_ref().map(|c| c.id() as i32).or(pidfile_pid);
    if let Some(pid) = pid {
        // SAFETY: plain signal to a pid we started (or that names our dir).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t0 = Instant::now();
        let mut child = child;
        loop {
            let gone = match child.as_mut() {
                Some(c) => c.try_wait().map(|s| s.is_some()).unwrap_or(true),
                None => !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid as u32),
            };
            if gone {
                break;
            }
            if t0.elapsed() > STOP_TIMEOUT {
                eprintln!("DockerEnv: dockerd {pid} ignored SIGTERM for {STOP_TIMEOUT:?}; SIGKILL");
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                if let Some(c) = child.as_mut() {
                    let _ = c.wait();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // containerd, shims, strace: anything whose command line names the dir.
    for p in processes_naming(dir) {
        // SAFETY: plain signal by pid.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    // Anything that got into the cgroup parent meanwhile, then the cgroup dirs.
    kill_cgroup_members(&roots);
    for r in &roots {
        for d in dirs_depth_first(r) {
            let _ = fs::remove_dir(&d);
        }
    }
    // Mounts below the dir (data-root self-bind, netns files).
    detach_mounts_below(dir);
    if let Err(e) = fs::remove_dir_all(dir) {
        eprintln!("DockerEnv: remove {}: {e}", dir.display());
    }
    for h in HOST_DIRS {
        for d in dirs_depth_first(Path::new(h)) {
            let _ = fs::remove_dir(&d); // only succeeds when empty
        }
    }
}

/// Detaches every mount below `dir`, deepest first.
pub fn detach_mounts_below(dir: &Path) {
    let mut mounts: Vec<PathBuf> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            Some(PathBuf::from(seccomp_profile::text::unescape_mountinfo(
                l.split(' ').nth(4)?,
            )))
        })
        .filter(|m| m.starts_with(dir))
        .collect();
    mounts.sort();
    for m in mounts.into_iter().rev() {
        if let Ok(c) = std::ffi::CString::new(m.as_os_str().as_bytes()) {
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// SIGKILLs every process in the cgroup dirs below `roots` until none is left (1 s max).
pub fn kill_cgroup_members(roots: &[PathBuf]) {
    for _ in 0..50 {
        let mut pids = Vec::new();
        for r in roots {
            for d in dirs_depth_first(r) {
                if let Ok(t) = fs::read_to_string(d.join("cgroup.procs")) {
                    pids.extend(t.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
                }
            }
        }
        if pids.is_empty() {
            break;
        }
        for p in pids {
            // SAFETY: plain signal by pid (a process in our own cgroup parent).
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `root` and every dir below it, children before parents.
pub fn dirs_depth_first(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(root) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(dirs_depth_first(&e.path()));
            }
        }
    }
    if root.is_dir() {
        out.push(root.to_path_buf());
    }
    out
}

/// Whether /proc/PID/cmdline mentions `dir`.
fn cmdline_names(pid: u32, dir: &Path) -> bool {
    let needle = dir.as_os_str().as_bytes();
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
}

pub fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Other processes whose command line mentions `dir`.
pub fn processes_naming(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && cmdline_names(pid, dir))
        .collect()
}

/// Whether the daemon answers `GET /_ping` with 200 on its socket.
fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].starts_with(b"HTTP/1.") && buf[..n].windows(3).any(|w| w == b"200")
}

pub fn which(tool: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .expect("sh");
    let s = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(
        o.status.success() && s.starts_with('/'),
        "{tool} not on PATH"
    );
    s
}
