//! A private runc for the end-to-end tests: its own `--root` state dir, a busybox rootfs,
//! bundles built from `runc spec`, cleaned up on `Drop`. No podman, no daemon.
//!
//! What it takes here (Debian runc 1.1.5+ds1, Go 1.19.8, libseccomp 2.5.4, hybrid
//! cgroups):
//! - `runc --root R run -b BUNDLE ID`: R is a private state dir (the default /run/runc
//!   is shared with podman-with-runc and with anything else on the host). The id is
//!   `sr-runc-<test pid>-<env number>-<n>`: unique across the parallel test threads of
//!   one binary (an id shared by two envs means a shared cgroup path, and one env's
//!   delete makes the other's create fail with "cgroup.procs: no such device").
//! - `runc spec` (the installed runc's own template) with these changes:
//!   `process.terminal` false (with the template's true, `runc run` from a test fails
//!   with "open /dev/tty: no such device or address" and `runc create` with "cannot
//!   allocate tty if runc will detach without setting console socket"); `process.args` from
//!   the builder; `process.noNewPrivileges` **false** by default (the template says
//!   true; podman and Docker default to false, and that is the order with the longest
//!   post-filter tail); `root.path` = the absolute busybox rootfs, `root.readonly`
//!   false (the template's read-only root makes every write test fail with EROFS
//!   before seccomp is involved); `linux.cgroupsPath` = `/ID` (explicit, so the
//!   cgroup is known: `<cgroup2 root>/ID`, also `/ID` in every v1 hierarchy; `runc
//!   delete` removes them). Kept from the template: the namespaces (pid, network,
//!   ipc, uts, mount, cgroup: the network namespace is a fresh one with only a down
//!   `lo`, i.e. `--network none`), the three default capabilities (AUDIT_WRITE, KILL,
//!   NET_BIND_SERVICE, in bounding/effective/permitted/ambient; no inheritable set),
//!   maskedPaths/readonlyPaths, RLIMIT_NOFILE 1024, hostname `runc`, env PATH + TERM.
//! - Hybrid cgroups: runc 1.1 is fine with a controller still bound to cgroup2 (crun is
//!   not); it puts the init in `/ID` of every v1 hierarchy and in the cgroup2 tree.
//! - stdio: with terminal false `runc run` hands its own stdin/stdout/stderr to the
//!   container; we give it /dev/null and pipes, and `runc run` exits with the
//!   workload's status. `runc create` would hand the pipes to a container that lives on
//!   after create returns, so [`RuncEnv::create`] writes the container's stdout/stderr
//!   to files in the bundle dir instead.
//!
//! runc's init and seccomp (strace -f, measured here; see docs/runtime-tails.md):
//! - The filter is loaded with `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=..})`
//!   (runc's patchbpf uses prctl when no filter flag is needed; `seccomp(2)` only with
//!   flags such as NEW_LISTENER/LOG). libseccomp's probes (`seccomp(SECCOMP_SET_MODE_FILTER,
//!   flag, NULL)` failing with EFAULT, SECCOMP_GET_ACTION_AVAIL, ...) are made by the
//!   parent `runc run` and by the init long before the load: they are not loads.
//! - No TSYNC: only the loading thread (the locked main thread of `runc init`) is under
//!   the filter; the Go runtime's other threads show `Seccomp: 0` until the execve
//!   kills them. So the post-filter tail is what the main thread calls: sequential runc
//!   code plus Go runtime calls that run on it (futex in 31 to 60 runs of 60, depending
//!   on load and on whether the init blocks on the exec fifo; rt_sigreturn when a
//!   preemption SIGURG lands on it: 1 to 26 runs in 60). `runc run` of `/bin/true`
//!   takes ~16 ms here (median of 10, allow-all filter, no strace).
//! - noNewPrivileges false: the load comes right after syncParentReady, then
//!   finalizeNamespace (CloseExecFrom: openat /proc/self/fd, fstatfs, getdents64,
//!   fcntl; chdir; capget; cap_last_cap read; PR_CAPBSET_DROP ×N; PR_SET_KEEPCAPS;
//!   /etc/passwd, /etc/group, /dev/null stat, fstat ×3, /proc/self/setgroups;
//!   setgroups, setgid, setuid; getcwd (the CVE-2024-21626 check Debian backported);
//!   capset; PR_CAP_AMBIENT ×41), getppid, LookPath's newfstatat, faccessat2, the exec
//!   fifo (openat blocks until `runc start`, write), getpid, UnsafeCloseFrom (openat,
//!   fstatfs, getdents64, close), execve.
//! - noNewPrivileges true: the load comes after LookPath: close ×2, openat (fifo),
//!   write, close, getpid, openat/fstatfs/getdents64/close, execve (+ futex).
//! - Without `linux.seccomp` there is no load at all (and a profile recorded that way
//!   lacks runc's tail: enforced by runc its init dies with `futexwakeup ... returned
//!   -38` or SIGSEGV when rt_sigreturn is denied).
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::podman::{output_timeout, try_output_timeout};
use super::{have, prerequisite};

/// How long one runc command may take before the test fails (hangs are bugs).
pub const RUNC_TIMEOUT: Duration = Duration::from_secs(60);

/// The hook stages of the OCI runtime spec, as `config.json` spells them.
pub const HOOK_STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The allow-everything-but-`acct` filter: makes runc load a filter (and so run its
/// post-filter tail through it) without denying anything a test needs.
pub fn allow_all_seccomp() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": ["acct"], "action": "SCMP_ACT_ERRNO" }]
    })
}

/// One `hooks` entry: `{path, args, env, timeout}` (args and env may be empty; args[0]
/// should be the program name, as in execve).
pub fn hook_entry(path: &Path, args: &[&str], env: &[&str], timeout: Option<u32>) -> Value {
    let mut h = json!({ "path": path });
    if !args.is_empty() {
        h["args"] = json!(args);
    }
    if !env.is_empty() {
        h["env"] = json!(env);
    }
    if let Some(t) = timeout {
        h["timeout"] = json!(t);
    }
    h
}

/// A private runc state dir and busybox rootfs.
pub struct RuncEnv {
    dir: tempfile::TempDir,
    root: PathBuf,
    rootfs: PathBuf,
    template: Value,
    runc: PathBuf,
    /// `sr-runc-<pid>-<env number>-`: container ids and cgroup names of this env.
    id_prefix: String,
    counter: AtomicUsize,
}

/// Numbers the envs of this process (tests run in parallel threads, each with its own
/// env: ids, hence cgroup paths, must not collide).
static ENV_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A container configuration (`config.json`), built from the env's `runc spec`
/// template. Cheap to clone; nothing is written until a run.
#[derive(Clone, Debug)]
pub struct Bundle {
    config: Value,
}

/// A container made by [`RuncEnv::create`] (init waiting on the exec fifo).
#[derive(Clone, Debug)]
pub struct Created {
    pub id: String,
    pub bundle: PathBuf,
    /// The init's pid (from `runc state`).
    pub pid: u32,
    /// Files receiving the container's stdout / stderr.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl RuncEnv {
    /// Sets everything up. `None` means skipped (a prerequisite is missing and CI is
    /// not set; under CI=true a missing prerequisite panics).
    pub fn new() -> Option<RuncEnv> {
        // SAFETY: geteuid never fails.
        let root = unsafe { libc::geteuid() } == 0;
        if !prerequisite(root, "must run as root (runc needs namespaces and cgroups)")
            || !prerequisite(have("runc"), "runc (apt-get install runc)")
        {
            return None;
        }
        let busybox = required_static_busybox()?;
        let runc = PathBuf::from(which("runc"));
        let dir = tempfile::Builder::new()
            .prefix("sr-runc-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let root = d.join("state");
        fs::create_dir(&root).expect("runc root");
        let rootfs = d.join("rootfs");
        make_busybox_rootfs(&rootfs, &busybox);

        let spec_dir = d.join("spec");
        fs::create_dir(&spec_dir).expect("spec dir");
        let mut c = Command::new(&runc);
        c.args(["spec", "--bundle"]).arg(&spec_dir);
        let o = output_timeout(c, RUNC_TIMEOUT);
        assert!(
            o.status.success(),
            "runc spec: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = fs::read_to_string(spec_dir.join("config.json")).expect("runc spec output");
        let mut template: Value = serde_json::from_str(&text).expect("runc spec is JSON");
        template["process"]["terminal"] = json!(false);
        template["process"]["noNewPrivileges"] = json!(false);
        template["root"] = json!({ "path": rootfs, "readonly": false });

        Some(RuncEnv {
            dir,
            root,
            rootfs,
            template,
            runc,
            id_prefix: format!(
                "sr-runc-{}-{}-",
                std::process::id(),
                ENV_SEQ.fetch_add(1, Ordering::Relaxed)
            ),
            counter: AtomicUsize::new(0),
        })
    }

    /// The temp dir holding everything (a good place for profiles and hook output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private `--root` (runc's state dir).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The busybox rootfs (`/bin/busybox` + relative applet links in `/bin`). Shared by
    /// every bundle and writable: a test that writes into it changes it for the others.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
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

    /// A bundle running `args` (args[0] absolute or found on the spec's PATH).
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        let mut b = Bundle {
            config: self.template.clone(),
        };
        b.config["process"]["args"] = json!(args);
        b
    }

    /// `runc --root R ARGS...` (any subcommand), with the timeout.
    pub fn runc(&self, args: &[&str]) -> Output {
        let mut c = Command::new(&self.runc);
        c.arg("--root").arg(&self.root).args(args);
        output_timeout(c, RUNC_TIMEOUT)
    }

    /// A new unique container id (`sr-runc-<pid>-<env>-<n>`).
    pub fn new_id(&self) -> String {
        format!(
            "{}{}",
            self.id_prefix,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Writes `bundle` as `DIR/bundles/ID/config.json` (cgroupsPath `/ID`); returns the
    /// bundle dir.
    pub fn write_bundle(&self, bundle: &Bundle, id: &str) -> PathBuf {
        let dir = self.dir().join("bundles").join(id);
        fs::create_dir_all(&dir).expect("bundle dir");
        let mut config = bundle.config.clone();
        config["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(&config).expect("json"),
        )
        .expect("write config.json");
        dir
    }

    /// `runc --root R run -b B ID` with a new id; the output is the workload's (and
    /// runc's errors), the status the workload's exit status.
    pub fn run(&self, bundle: &Bundle) -> Output {
        self.run_with_id(bundle).1
    }

    /// Like [`run`](Self::run); also returns the container id.
    pub fn run_with_id(&self, bundle: &Bundle) -> (String, Output) {
        self.run_via(&self.runc, bundle)
    }

    /// Like [`run_with_id`](Self::run_with_id) through another runtime binary with runc's
    /// command line, e.g. the [`strace_runtime`](Self::strace_runtime) wrapper.
    pub fn run_via(&self, runtime: &Path, bundle: &Bundle) -> (String, Output) {
        let id = self.new_id();
        let b = self.write_bundle(bundle, &id);
        let mut c = Command::new(runtime);
        c.arg("--root")
            .arg(&self.root)
            .arg("run")
            .arg("-b")
            .arg(&b)
            .arg(&id);
        let out = try_output_timeout(c, RUNC_TIMEOUT);
        // A killed `runc run` leaves the container behind.
        if out.is_err() || self.root.join(&id).exists() {
            self.delete(&id);
        }
        (id.clone(), out.unwrap_or_else(|e| panic!("{e}")))
    }

    /// `runc create`: the init is set up and waits on the exec fifo (prestart and
    /// createRuntime hooks have run). Panics when create fails.
    pub fn create(&self, bundle: &Bundle) -> Created {
        let id = self.new_id();
        let b = self.write_bundle(bundle, &id);
        let (stdout, stderr) = (b.join("stdout"), b.join("stderr"));
        let mut c = Command::new(&self.runc);
        c.arg("--root")
            .arg(&self.root)
            .arg("create")
            .arg("-b")
            .arg(&b)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"));
        let mut child = c.spawn().expect("spawn runc create");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait runc create") {
                break s;
            }
            if start.elapsed() > RUNC_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                self.delete(&id);
                panic!("runc create {id} timed out after {RUNC_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !status.success() {
            self.delete(&id);
            panic!(
                "runc create {id} failed ({status}): {}",
                fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        let pid = self
            .state(&id)
            .and_then(|s| s["pid"].as_u64())
            .expect("created container has a pid") as u32;
        Created {
            id,
            bundle: b,
            pid,
            stdout,
            stderr,
        }
    }

    /// `runc start ID` (the init execs the workload).
    pub fn start(&self, id: &str) -> Output {
        self.runc(&["start", id])
    }

    /// `runc state ID` as JSON; `None` when runc does not know the container.
    pub fn state(&self, id: &str) -> Option<Value> {
        let o = self.runc(&["state", id]);
        if !o.status.success() {
            return None;
        }
        serde_json::from_slice(&o.stdout).ok()
    }

    /// Waits until the container is stopped (or gone); false on timeout.
    pub fn wait_stopped(&self, id: &str, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            match self.state(id) {
                None => return true,
                Some(s) if s["status"] == "stopped" => return true,
                _ => {}
            }
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `runc delete --force ID` (kills it if running; runs poststop hooks).
    pub fn delete(&self, id: &str) -> Output {
        self.runc(&["delete", "--force", id])
    }

    /// The container's cgroup2 directory (`<cgroup2 root>/ID`).
    pub fn cgroup2_dir(&self, id: &str) -> Option<PathBuf> {
        super::cgroup2_root().map(|r| r.join(id))
    }

    /// Writes a runc wrapper script that runs runc under `strace -f -D -tt
    /// --decode-pids=pidns`, one log per call in `out_dir` (`runc.PID.log`); use with
    /// [`run_via`](Self::run_via) and read the logs with [`runc_post_filter_tail`].
    pub fn strace_runtime(&self, out_dir: &Path) -> PathBuf {
        fs::create_dir_all(out_dir).expect("strace out dir");
        let script = self.dir().join(format!(
            "runc-strace-{}",
            self.counter.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&script, strace_wrapper(&self.runc, out_dir, "runc")).expect("write wrapper");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        script
    }
}

impl Drop for RuncEnv {
    fn drop(&mut self) {
        // Every dir in the state root is a container runc still knows.
        if let Ok(entries) = fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let mut c = Command::new(&self.runc);
                c.arg("--root")
                    .arg(&self.root)
                    .args(["delete", "--force", &id]);
                if let Err(e) = try_output_timeout(c, RUNC_TIMEOUT) {
                    eprintln!("RuncEnv cleanup: {e}");
                }
            }
        }
        // runc delete removes the cgroups; a killed runc may not have.
        let prefix = &self.id_prefix;
        for h in cgroup_mounts() {
            if let Ok(entries) = fs::read_dir(&h) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(prefix.as_str()) {
                        let _ = fs::remove_dir(e.path());
                    }
                }
            }
        }
    }
}

impl Bundle {
    /// The whole `config.json` (read).
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The whole `config.json`, for anything the builder does not cover.
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }

    /// Replaces `process.args`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// Sets (or replaces) one `process.env` entry `KEY=VALUE`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        let entry = format!("{key}={value}");
        let prefix = format!("{key}=");
        let env = self.config["process"]["env"]
            .as_array_mut()
            .expect("process.env");
        env.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
        env.push(json!(entry));
        self
    }

    /// `process.noNewPrivileges` (the env's default is false).
    pub fn no_new_privileges(mut self, on: bool) -> Self {
        self.config["process"]["noNewPrivileges"] = json!(on);
        self
    }

    /// `linux.seccomp` (an OCI `LinuxSeccomp` object, e.g. [`allow_all_seccomp`]).
    pub fn seccomp(mut self, seccomp: Value) -> Self {
        self.config["linux"]["seccomp"] = seccomp;
        self
    }

    /// One annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        if !self.config["annotations"].is_object() {
            self.config["annotations"] = json!({});
        }
        self.config["annotations"][key] = json!(value);
        self
    }

    /// Appends hook entries (see [`hook_entry`]) to `hooks.STAGE` (one of
    /// [`HOOK_STAGES`]; runc 1.1 still runs `prestart`, after createRuntime).
    pub fn hooks(mut self, stage: &str, entries: &[Value]) -> Self {
        assert!(HOOK_STAGES.contains(&stage), "unknown hook stage {stage}");
        if !self.config["hooks"].is_object() {
            self.config["hooks"] = json!({});
        }
        if !self.config["hooks"][stage].is_array() {
            self.config["hooks"][stage] = json!([]);
        }
        let list = self.config["hooks"][stage].as_array_mut().expect("array");
        list.extend(entries.iter().cloned());
        self
    }

    /// Adds a capability (`SYS_ADMIN` or `CAP_SYS_ADMIN`) to every capability set of
    /// the process (bounding, effective, permitted, ambient; inheritable too, created
    /// if absent, so the ambient raise is allowed).
    pub fn cap_add(mut self, cap: &str) -> Self {
        let cap = if cap.starts_with("CAP_") {
            cap.to_owned()
        } else {
            format!("CAP_{cap}")
        };
        let caps = &mut self.config["process"]["capabilities"];
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            if !caps[set].is_array() {
                caps[set] = json!([]);
            }
            let list = caps[set].as_array_mut().expect("array");
            if !list.iter().any(|c| c == cap.as_str()) {
                list.push(json!(cap));
            }
        }
        self
    }

    /// `process.user` uid/gid.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.config["process"]["user"] = json!({ "uid": uid, "gid": gid });
        self
    }

    /// `process.cwd`.
    pub fn cwd(mut self, cwd: &str) -> Self {
        self.config["process"]["cwd"] = json!(cwd);
        self
    }

    /// Another root filesystem (e.g. `/`, the host's tree, read-only).
    pub fn rootfs(mut self, path: &Path, readonly: bool) -> Self {
        self.config["root"] = json!({ "path": path, "readonly": readonly });
        self
    }
}

/// The syscalls the container init made between its filter load and the workload's
/// execve, from an `strace -f --decode-pids=pidns` log of a runc (or crun) call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Calls of the thread(s) under the filter (the loading thread and threads it
    /// created after the load), in order, from the load to the execve (both included).
    pub filtered: Vec<String>,
    /// Calls of the init's other threads in the same window (not under the filter when
    /// the runtime loads without TSYNC, as runc does).
    pub other_threads: Vec<String>,
}

/// Reads a runtime's strace log (see [`RuncEnv::strace_runtime`]): the init's
/// post-filter tail. The load is `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {..})` or
/// `seccomp(SECCOMP_SET_MODE_FILTER, .., {..})` (not libseccomp's NULL-filter probes);
/// the window ends at the first execve of the same thread group. `Ok(None)`: no load
/// before an execve in this log (a log of another runtime call, or no seccomp).
pub fn runc_post_filter_tail(log: &str) -> Result<Option<Tail>, String> {
    struct Line<'a> {
        tid: u32,
        rest: &'a str,
    }
    let lines: Vec<Line> = log
        .lines()
        .filter_map(|l| {
            let (tid, rest) = l.split_once(' ')?;
            let tid = tid.parse().ok()?;
            let rest = rest.trim_start();
            // optional -t/-tt/-ttt timestamp
            let rest = match rest.split_once(' ') {
                Some((ts, r))
                    if ts
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == ':' || c == '.') =>
                {
                    r.trim_start()
                }
                _ => rest,
            };
            Some(Line { tid, rest })
        })
        .collect();
    let name_of = |r: &str| -> Option<String> {
        let n: String = r
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!n.is_empty() && r[n.len()..].starts_with('(')).then_some(n)
    };
    // The child of a clone-like call as strace's namespace numbers it.
    let child_of = |r: &str| -> Option<u32> {
        let (_, ret) = r.rsplit_once(") = ")?;
        let ret = ret.trim();
        if let Some((_, host)) = ret.split_once("/* ") {
            return host.split_whitespace().next()?.parse().ok();
        }
        ret.split_whitespace().next()?.parse().ok()
    };
    // Pass 1: thread-group leader of every tid (clone with CLONE_THREAD → same group).
    let mut parent: std::collections::HashMap<u32, (u32, bool)> = Default::default();
    let mut pending: std::collections::HashMap<u32, bool> = Default::default();
    for l in &lines {
        let n = name_of(l.rest);
        if matches!(n.as_deref(), Some("clone" | "clone3" | "fork" | "vfork")) {
            let thread = l.rest.contains("CLONE_THREAD");
            pending.insert(l.tid, thread);
            if !l.rest.ends_with("<unfinished ...>") {
                if let Some(c) = child_of(l.rest) {
                    parent.insert(c, (l.tid, thread));
                }
            }
        } else if l.rest.starts_with("<... clone")
            || l.rest.starts_with("<... fork")
            || l.rest.starts_with("<... vfork")
        {
            if let (Some(c), Some(&thread)) = (child_of(l.rest), pending.get(&l.tid)) {
                parent.insert(c, (l.tid, thread));
            }
        }
    }
    let group = |mut t: u32| -> u32 {
        for _ in 0..10_000 {
            match parent.get(&t) {
                Some(&(p, true)) => t = p,
                _ => break,
            }
        }
        t
    };
    // Pass 2: the last load before the first execve of its group.
    let mut load: std::collections::HashMap<u32, usize> = Default::default();
    let mut window = None;
    for (i, l) in lines.iter().enumerate() {
        let r = l.rest;
        if r.starts_with("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER")
            || (r.starts_with("seccomp(SECCOMP_SET_MODE_FILTER,") && r.contains("{len="))
        {
            load.insert(group(l.tid), i);
        } else if r.starts_with("execve(") {
            let g = group(l.tid);
            if let Some(&li) = load.get(&g) {
                window = Some((g, li, i, lines[li].tid));
                break;
            }
        }
    }
    let Some((g, from, to, loader)) = window else {
        return if lines.iter().any(|l| l.rest.starts_with("execve(")) {
            Ok(None)
        } else {
            Err("no execve in the log".into())
        };
    };
    let mut filtered_tids = std::collections::HashSet::from([loader]);
    let mut tail = Tail::default();
    for l in &lines[from..=to] {
        if group(l.tid) != g {
            continue;
        }
        let filtered = filtered_tids.contains(&l.tid);
        if filtered && (l.rest.starts_with("clone") || l.rest.starts_with("<... clone")) {
            if let Some(c) = child_of(l.rest) {
                filtered_tids.insert(c);
            }
        }
        if let Some(n) = name_of(l.rest) {
            if filtered {
                tail.filtered.push(n);
            } else {
                tail.other_threads.push(n);
            }
        }
    }
    Ok(Some(tail))
}

/// The text of an OCI runtime wrapper that runs `runtime` under strace (one log per
/// call, `NAME.PID.log` in `out_dir`; `-s 256` keeps 64-hex container ids whole in
/// the logged argv; `--decode-pids=pidns` so that clone's results in
/// the container's PID namespace can be matched with the log's TIDs).
pub fn strace_wrapper(runtime: &Path, out_dir: &Path, name: &str) -> String {
    format!(
        "#!/bin/sh\nexec {} -f -D -tt -s 256 --decode-pids=pidns -o {}/{name}.$$.log {} \"$@\"\n",
        which("strace"),
        out_dir.display(),
        runtime.display(),
    )
}

/// Every cgroup mount point (v1 hierarchies and the cgroup2 tree).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split(' ').next()?;
            let mount_point = PathBuf::from(seccomp_profile::text::unescape_mountinfo(
                pre.split(' ').nth(4)?,
            ));
            (fstype == "cgroup" || fstype == "cgroup2").then_some(mount_point)
        })
        .collect()
}

// The busybox rootfs, and PATH helpers are podman.rs's, shared here (and
// with docker.rs through this module).
use super::podman::which;
pub use super::podman::{make_busybox_rootfs, required_static_busybox};
