//! A mini-kubelet for the end-to-end tests: a private containerd whose CRI plugin runs
//! pods the way the kubelet asks for them (`RunPodSandbox` → `CreateContainer` →
//! `StartContainer`), started once per test binary on first use and removed at exit.
//!
//! What it takes here (Debian containerd 1.6.20, runc 1.1.5, kernel 6.18, hybrid
//! cgroups; measured, see DESIGN.md):
//! - `containerd --config D/config.toml` with its own root, state, gRPC and ttrpc
//!   sockets. The CRI plugin needs `restrict_oom_score_adj = true` and
//!   `disable_apparmor = true` (without them every `RunPodSandbox` fails with "can't
//!   get final child's PID from pipe: EOF"), a local `sandbox_image` (nothing can be
//!   pulled), and the `native` snapshotter (no overlay needed). CNI stays unconfigured:
//!   every sandbox uses the host network, and must then not set a hostname.
//! - The image: a static busybox with `sleep infinity` as its entrypoint (the pause
//!   container), built with buildah `FROM scratch` in the env's own storage, pushed to
//!   an oci-archive and imported with `ctr -n k8s.io images import`; its name is the
//!   configured `sandbox_image` and app containers use it too.
//! - Cgroups like the kubelet's cgroupfs driver: `linux.cgroup_parent =
//!   /kubepods/besteffort/pod<uid>`; runc puts each container at `<parent>/<id>` in
//!   every v1 hierarchy and in the cgroup2 tree. runc never removes the pod level: the
//!   teardown does (pod uids start with [`UID_PREFIX`], so leftovers are recognised).
//! - Outside D: shims put their sockets in /run/containerd/s (removed when empty).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use seccomp_recorder::container::cri::{api, CriClient, CriEndpoint};

use super::docker::{
    detach_mounts_below, dirs_depth_first, is_zombie, kill_cgroup_members, owner_token,
    processes_naming, reap_dead_owners,
};
use super::podman::{make_busybox_rootfs, output_timeout, required_static_busybox};
use super::prerequisite;
use super::runc::cgroup_mounts;

/// The image (sandbox image and app containers).
pub const IMAGE: &str = "localhost/seccomp-recorder-busybox:test";
/// Prefix of the env's dir in the temp dir (what the reaper looks for).
pub const DIR_PREFIX: &str = "sr-cri-";
/// Every pod uid this harness makes starts with this (its cgroups are recognisable).
pub const UID_PREFIX: &str = "5ecc0a1d";
/// The kubelet's QoS cgroup for best-effort pods (cgroupfs driver).
pub const QOS_PARENT: &str = "kubepods/besteffort";
/// How long containerd may take to answer the CRI.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd containerd gets before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a tool (buildah, ctr) may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

static ENV: OnceLock<Option<CriEnv>> = OnceLock::new();
static POD_SEQ: AtomicU32 = AtomicU32::new(0);

/// The private containerd of this test binary.
pub struct CriEnv {
    dir: PathBuf,
    sock: PathBuf,
    share: PathBuf,
    started_in: Duration,
    daemon: Mutex<Option<Child>>,
    stopped: AtomicBool,
}

extern "C" fn stop_at_exit() {
    if let Some(Some(env)) = ENV.get() {
        env.shutdown();
    }
}

fn run_tool(mut c: Command, what: &str) -> String {
    c.stdin(Stdio::null());
    let o = output_timeout(c, TOOL_TIMEOUT);
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

impl CriEnv {
    /// The daemon, started on first call (once per test binary; stopped at exit).
    /// `None` means skipped (a prerequisite is missing and CI is not set; under CI=true
    /// a missing prerequisite panics).
    pub fn get() -> Option<&'static CriEnv> {
        ENV.get_or_init(CriEnv::start).as_ref()
    }

    fn start() -> Option<CriEnv> {
        // SAFETY: geteuid never fails.
        let root = unsafe { libc::geteuid() } == 0;
        if !prerequisite(root, "must run as root (containerd)")
            || !prerequisite(
                super::have("containerd") && super::have("ctr"),
                "containerd and ctr (apt-get install containerd)",
            )
            || !prerequisite(
                super::have("containerd-shim-runc-v2"),
                "containerd-shim-runc-v2 (apt-get install containerd)",
            )
            || !prerequisite(super::have("runc"), "runc (apt-get install runc)")
            || !prerequisite(super::have("buildah"), "buildah (apt-get install buildah)")
        {
            return None;
        }
        let busybox = required_static_busybox()?;
        reap_leftovers();

        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{nanos:x}", std::process::id()));
        fs::create_dir(&dir).expect("cri env dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o711)).expect("chmod");
        fs::write(
            dir.join("owner"),
            owner_token(std::process::id()).unwrap_or_default(),
        )
        .expect("owner file");
        let share = dir.join("share");
        fs::create_dir(&share).expect("share dir");
        fs::set_permissions(&share, fs::Permissions::from_mode(0o777)).expect("chmod");
        for d in ["cni-bin", "cni-conf", "logs"] {
            fs::create_dir(dir.join(d)).expect("env dir");
        }
        let sock = dir.join("sock");
        let d = dir.display();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{d}/sock"
[ttrpc]
  address = "{d}/sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
"#
        );
        fs::write(dir.join("config.toml"), config).expect("config.toml");
        let log = fs::File::create(dir.join("containerd.log")).expect("containerd log");
        let t0 = Instant::now();
        let mut child = match Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                teardown(&dir, None);
                prerequisite(false, &format!("spawn containerd: {e}"));
                return None;
            }
        };
        let endpoint = CriEndpoint {
            socket: sock.clone(),
        };
        let ready = loop {
            if sock.exists() && CriClient::connect(&endpoint).is_ok() {
                break Ok(());
            }
            if let Ok(Some(st)) = child.try_wait() {
                break Err(format!("containerd exited ({st})"));
            }
            if t0.elapsed() > START_TIMEOUT {
                break Err(format!(
                    "containerd's CRI not ready after {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let started_in = t0.elapsed();
        if let Err(e) = ready {
            let log = fs::read_to_string(dir.join("containerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            teardown(&dir, Some(&mut child));
            prerequisite(
                false,
                &format!("a private containerd: {e}; log tail (newest first): {tail:#?}"),
            );
            return None;
        }
        let env = CriEnv {
            dir,
            sock,
            share,
            started_in,
            daemon: Mutex::new(Some(child)),
            stopped: AtomicBool::new(false),
        };
        // SAFETY: registers a plain extern "C" fn; it only touches the static.
        unsafe { libc::atexit(stop_at_exit) };
        env.build_image(&busybox);
        Some(env)
    }

    /// buildah `FROM scratch` + busybox + `sleep infinity`, pushed to an oci-archive,
    /// imported into containerd's k8s.io namespace as [`IMAGE`].
    fn build_image(&self, busybox: &Path) {
        let rootfs = self.dir.join("rootfs");
        make_busybox_rootfs(&rootfs, busybox);
        self.import_rootfs(&rootfs, IMAGE);
    }

    /// buildah `FROM scratch` + the tree `rootfs` + `sleep infinity` as entrypoint,
    /// imported into containerd's k8s.io namespace as `name` (start containers from it
    /// with [`Pod::start_in`]).
    pub fn import_rootfs(&self, rootfs: &Path, name: &str) {
        let buildah = |args: &[&str]| {
            let mut c = Command::new("buildah");
            c.arg("--root")
                .arg(self.dir.join("buildah"))
                .arg("--runroot")
                .arg(self.dir.join("buildah-run"))
                .args(["--storage-driver", "vfs"])
                .args(args);
            run_tool(c, &format!("buildah {args:?}"))
        };
        let ctr = buildah(&["from", "scratch"]);
        buildah(&["copy", &ctr, rootfs.to_str().expect("utf8"), "/"]);
        buildah(&[
            "config",
            "--entrypoint",
            r#"["/bin/sleep","infinity"]"#,
            "--env",
            "PATH=/bin",
            &ctr,
        ]);
        buildah(&["commit", "-q", &ctr, name]);
        let archive = self
            .dir
            .join(format!("{}.tar", name.replace([':', '/'], "_")));
        buildah(&[
            "push",
            "-q",
            name,
            &format!("oci-archive:{}:{name}", archive.display()),
        ]);
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(&self.sock)
            .args([
                "-n",
                "k8s.io",
                "images",
                "import",
                "--snapshotter",
                "native",
            ])
            .arg(&archive);
        run_tool(c, "ctr images import");
        // The builder's storage holds vfs layers with their own mounts: not needed now.
        buildah(&["rm", "--all"]);
        let _ = fs::remove_file(&archive);
    }

    /// The CRI endpoint (`unix://D/sock`).
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// A new client of the daemon's CRI.
    pub fn client(&self) -> CriClient {
        CriClient::connect(&CriEndpoint {
            socket: self.sock.clone(),
        })
        .expect("connect to the private containerd's CRI")
    }

    /// A dir shared with every container at `/share` (read-write).
    pub fn share(&self) -> &Path {
        &self.share
    }

    /// A fresh dir below [`share`](Self::share), seen at `/share/NAME` in containers.
    pub fn fresh_share(&self, name: &str) -> PathBuf {
        let d = self.share.join(name);
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("share dir");
        d
    }

    /// The env's dir (daemon state, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Spawn to the first answered CRI `Version`.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Creates the kubelet's QoS cgroups (`kubepods/besteffort`) in every hierarchy,
    /// as a kubelet does when it starts: the node agent watches them. Removed with the
    /// env (when empty).
    pub fn ensure_qos_cgroups(&self) {
        for m in cgroup_mounts() {
            let _ = fs::create_dir_all(m.join(QOS_PARENT));
        }
    }

    /// Creates a pod sandbox like the kubelet does (host network, cgroupfs-shaped
    /// parent, kubelet labels). It is stopped and removed when dropped.
    pub fn run_pod(&self, name: &str, namespace: &str) -> Pod {
        self.run_pod_with(name, namespace, &[], &[])
    }

    /// [`run_pod`](Self::run_pod) with the pod's own labels and annotations (the
    /// kubelet passes both to the sandbox).
    pub fn run_pod_with(
        &self,
        name: &str,
        namespace: &str,
        pod_labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
    ) -> Pod {
        let seq = POD_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let uid = format!(
            "{UID_PREFIX}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            std::process::id() & 0xffff,
            seq & 0xfff,
            (nanos >> 12) & 0xfff,
            nanos & 0xffff_ffff_ffff
        );
        let mut labels = HashMap::from([
            ("io.kubernetes.pod.name".to_owned(), name.to_owned()),
            (
                "io.kubernetes.pod.namespace".to_owned(),
                namespace.to_owned(),
            ),
            ("io.kubernetes.pod.uid".to_owned(), uid.clone()),
        ]);
        labels.extend(
            pod_labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let annotations: HashMap<String, String> = annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let log_dir = self.dir.join("logs").join(&uid);
        fs::create_dir_all(&log_dir).expect("pod log dir");
        let config = api::PodSandboxConfig {
            metadata: Some(api::PodSandboxMetadata {
                name: name.to_owned(),
                uid: uid.clone(),
                namespace: namespace.to_owned(),
                attempt: 0,
            }),
            log_directory: log_dir.display().to_string(),
            labels,
            annotations,
            linux: Some(api::LinuxPodSandboxConfig {
                cgroup_parent: format!("/{QOS_PARENT}/pod{uid}"),
                security_context: Some(api::LinuxSandboxSecurityContext {
                    namespace_options: Some(host_network()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let client = self.client();
        let mut rs = client.runtime_service();
        let id = client
            .block_on(rs.run_pod_sandbox(api::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            }))
            .unwrap_or_else(|s| panic!("RunPodSandbox {namespace}/{name}: {s:?}"))
            .into_inner()
            .pod_sandbox_id;
        Pod {
            client,
            id,
            uid,
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            config,
            log_dir,
            share: self.share.clone(),
            next: AtomicU32::new(0),
        }
    }

    fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        // Pods first: containerd stops and deletes their tasks (and shims).
        if let Ok(client) = CriClient::connect(&CriEndpoint {
            socket: self.sock.clone(),
        }) {
            let mut rs = client.runtime_service();
            for p in client.pods().unwrap_or_default() {
                let _ = client.block_on(rs.stop_pod_sandbox(api::StopPodSandboxRequest {
                    pod_sandbox_id: p.id.clone(),
                }));
                let _ = client.block_on(rs.remove_pod_sandbox(api::RemovePodSandboxRequest {
                    pod_sandbox_id: p.id,
                }));
            }
        }
        let mut child = self.daemon.lock().unwrap_or_else(|e| e.into_inner()).take();
        teardown(&self.dir, child.as_mut());
    }
}

/// The namespaces of a host-network pod (pid and ipc per pod, as the kubelet's default).
fn host_network() -> api::NamespaceOption {
    api::NamespaceOption {
        network: api::NamespaceMode::Node as i32,
        pid: api::NamespaceMode::Container as i32,
        ipc: api::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// A container's seccomp profile as the kubelet sends it (1.25+: `seccomp`).
#[derive(Debug, Clone)]
pub enum Seccomp {
    /// No filter.
    Unconfined,
    /// The runtime's default profile.
    RuntimeDefault,
    /// A profile file on the node, by absolute path.
    Localhost(PathBuf),
}

impl Seccomp {
    fn profile(&self) -> api::SecurityProfile {
        use api::security_profile::ProfileType;
        match self {
            Seccomp::Unconfined => api::SecurityProfile {
                profile_type: ProfileType::Unconfined as i32,
                localhost_ref: String::new(),
            },
            Seccomp::RuntimeDefault => api::SecurityProfile {
                profile_type: ProfileType::RuntimeDefault as i32,
                localhost_ref: String::new(),
            },
            Seccomp::Localhost(p) => api::SecurityProfile {
                profile_type: ProfileType::Localhost as i32,
                localhost_ref: p.display().to_string(),
            },
        }
    }
}

/// One container of a pod.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Its name in the pod.
    pub name: String,
    /// argv (absolute paths: the image has PATH=/bin).
    pub command: Vec<String>,
    /// Its seccomp profile.
    pub seccomp: Seccomp,
    /// Capabilities added to the default set (`SYS_ADMIN`).
    pub add_caps: Vec<String>,
}

impl ContainerSpec {
    /// `name` running `sh -c SCRIPT`, unconfined, default capabilities.
    pub fn shell(name: &str, script: &str) -> Self {
        ContainerSpec {
            name: name.to_owned(),
            command: vec!["/bin/sh".into(), "-c".into(), script.to_owned()],
            seccomp: Seccomp::Unconfined,
            add_caps: Vec::new(),
        }
    }

    /// The same with another seccomp profile.
    pub fn with_seccomp(mut self, s: Seccomp) -> Self {
        self.seccomp = s;
        self
    }

    /// The same with CAP_SYS_ADMIN added.
    pub fn with_sys_admin(mut self) -> Self {
        self.add_caps.push("SYS_ADMIN".to_owned());
        self
    }
}

/// A running pod sandbox of the env; stopped and removed on drop.
pub struct Pod {
    client: CriClient,
    /// The sandbox id.
    pub id: String,
    /// The pod uid.
    pub uid: String,
    /// The pod's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    config: api::PodSandboxConfig,
    log_dir: PathBuf,
    share: PathBuf,
    next: AtomicU32,
}

impl Pod {
    /// The pod's cgroup relative to a hierarchy's root (`/kubepods/besteffort/pod<uid>`).
    pub fn cgroup(&self) -> String {
        format!("/{QOS_PARENT}/pod{}", self.uid)
    }

    /// CreateContainer + StartContainer; returns the container id.
    pub fn start(&self, spec: &ContainerSpec) -> String {
        self.start_in(IMAGE, spec)
    }

    /// [`start`](Self::start) from another image of the env (see
    /// [`CriEnv::import_rootfs`]).
    pub fn start_in(&self, image: &str, spec: &ContainerSpec) -> String {
        let id = self.create_in(image, spec);
        let mut rs = self.client.runtime_service();
        self.client
            .block_on(rs.start_container(api::StartContainerRequest {
                container_id: id.clone(),
            }))
            .unwrap_or_else(|s| panic!("StartContainer {}: {s:?}", spec.name));
        id
    }

    /// CreateContainer as the kubelet sends it: labels, log path, the shared dir at
    /// /share, the security context with the seccomp profile and capabilities.
    pub fn create(&self, spec: &ContainerSpec) -> String {
        self.create_in(IMAGE, spec)
    }

    /// [`create`](Self::create) from another image of the env.
    pub fn create_in(&self, image: &str, spec: &ContainerSpec) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let labels = HashMap::from([
            ("io.kubernetes.container.name".to_owned(), spec.name.clone()),
            ("io.kubernetes.pod.name".to_owned(), self.name.clone()),
            (
                "io.kubernetes.pod.namespace".to_owned(),
                self.namespace.clone(),
            ),
            ("io.kubernetes.pod.uid".to_owned(), self.uid.clone()),
        ]);
        let config = api::ContainerConfig {
            metadata: Some(api::ContainerMetadata {
                name: spec.name.clone(),
                attempt: n,
            }),
            image: Some(api::ImageSpec {
                image: image.to_owned(),
                ..Default::default()
            }),
            command: spec.command.clone(),
            envs: vec![api::KeyValue {
                key: "PATH".into(),
                value: "/bin".into(),
            }],
            mounts: vec![api::Mount {
                container_path: "/share".into(),
                host_path: self.share.display().to_string(),
                ..Default::default()
            }],
            labels,
            log_path: format!("{}_{n}.log", spec.name),
            linux: Some(api::LinuxContainerConfig {
                security_context: Some(api::LinuxContainerSecurityContext {
                    capabilities: Some(api::Capability {
                        add_capabilities: spec.add_caps.clone(),
                        ..Default::default()
                    }),
                    namespace_options: Some(host_network()),
                    seccomp: Some(spec.seccomp.profile()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut rs = self.client.runtime_service();
        self.client
            .block_on(rs.create_container(api::CreateContainerRequest {
                pod_sandbox_id: self.id.clone(),
                config: Some(config),
                sandbox_config: Some(self.config.clone()),
            }))
            .unwrap_or_else(|s| panic!("CreateContainer {}: {s:?}", spec.name))
            .into_inner()
            .container_id
    }

    /// The container's status (verbose).
    pub fn status(&self, id: &str) -> api::ContainerStatusResponse {
        self.client
            .container_status(id)
            .unwrap_or_else(|e| panic!("ContainerStatus {id}: {e}"))
    }

    /// Waits until the container has exited; its exit code.
    pub fn wait_exit(&self, id: &str, limit: Duration) -> i32 {
        let t0 = Instant::now();
        loop {
            let st = self.status(id).status.expect("status");
            if st.state() == api::ContainerState::ContainerExited {
                return st.exit_code;
            }
            assert!(
                t0.elapsed() < limit,
                "container {id} still {:?} after {limit:?}; log: {}",
                st.state(),
                self.log(&st.log_path)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host pid of a running container's init.
    pub fn pid(&self, id: &str) -> i32 {
        seccomp_recorder::container::cri::select::info_pid(&self.status(id).info)
            .unwrap_or_else(|| panic!("container {id} has no pid"))
    }

    /// What a container wrote (the CRI log file, as the kubelet would read it).
    pub fn log(&self, log_path: &str) -> String {
        let p = Path::new(log_path);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.log_dir.join(p)
        };
        fs::read_to_string(p).unwrap_or_default()
    }

    /// The log of container `id`.
    pub fn container_log(&self, id: &str) -> String {
        let st = self.status(id).status.expect("status");
        self.log(&st.log_path)
    }

    /// Runs one container to its end: its exit code and log.
    pub fn run_to_end(&self, spec: &ContainerSpec, limit: Duration) -> (i32, String) {
        let id = self.start(spec);
        let code = self.wait_exit(&id, limit);
        let log = self.container_log(&id);
        self.remove_container(&id);
        (code, log)
    }

    /// RemoveContainer (stops it first if it runs).
    pub fn remove_container(&self, id: &str) {
        let mut rs = self.client.runtime_service();
        let _ = self
            .client
            .block_on(rs.stop_container(api::StopContainerRequest {
                container_id: id.to_owned(),
                timeout: 0,
            }));
        let _ = self
            .client
            .block_on(rs.remove_container(api::RemoveContainerRequest {
                container_id: id.to_owned(),
            }));
    }

    /// StopPodSandbox: every container and the sandbox are killed.
    pub fn stop(&self) {
        let mut rs = self.client.runtime_service();
        self.client
            .block_on(rs.stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }))
            .unwrap_or_else(|s| panic!("StopPodSandbox: {s:?}"));
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let mut rs = self.client.runtime_service();
        let _ = self
            .client
            .block_on(rs.stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }));
        let _ = self
            .client
            .block_on(rs.remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: self.id.clone(),
            }));
        remove_pod_cgroups(Some(&self.uid));
    }
}

/// Removes the pod-level cgroups this harness made (`pod<UID_PREFIX>…`, or only
/// `uid`'s) in every hierarchy; with all of them (the env's teardown) the QoS levels
/// too, if they are empty (a kubelet keeps them while it runs). A pod cgroup that
/// still has processes is left alone.
fn remove_pod_cgroups(uid: Option<&str>) {
    for m in cgroup_mounts() {
        let qos = m.join(QOS_PARENT);
        let Ok(entries) = fs::read_dir(&qos) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = match uid {
                Some(u) => name == format!("pod{u}"),
                None => name.starts_with(&format!("pod{UID_PREFIX}")),
            };
            if ours {
                for d in dirs_depth_first(&e.path()) {
                    let _ = fs::remove_dir(&d);
                }
            }
        }
        if uid.is_none() {
            let _ = fs::remove_dir(&qos);
            let _ = fs::remove_dir(m.join("kubepods"));
        }
    }
}

/// Removes env dirs of earlier runs whose owner process is gone (killed test binaries).
fn reap_leftovers() {
    reap_dead_owners(DIR_PREFIX, "CriEnv", |dir| teardown(dir, None));
}

/// Stops containerd (our child, or any process naming `dir`), kills its shims and
/// what is left in our pod cgroups, removes those cgroups, detaches mounts below `dir`
/// and removes it, then /run/containerd's dirs that are empty again.
fn teardown(dir: &Path, child: Option<&mut Child>) {
    if let Some(c) = child {
        // SAFETY: plain signal to our child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if c.try_wait().map(|s| s.is_some()).unwrap_or(true) {
                break;
            }
            if t0.elapsed() > STOP_TIMEOUT {
                let _ = c.kill();
                let _ = c.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for p in processes_naming(dir) {
        if !is_zombie(p) {
            // SAFETY: plain signal by pid (containerd or a shim of this env).
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
    }
    let pods: Vec<PathBuf> = cgroup_mounts()
        .into_iter()
        .flat_map(|m| {
            fs::read_dir(m.join(QOS_PARENT))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("pod{UID_PREFIX}"))
                })
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .collect();
    kill_cgroup_members(&pods);
    remove_pod_cgroups(None);
    detach_mounts_below(dir);
    if let Err(e) = fs::remove_dir_all(dir) {
        eprintln!("CriEnv: remove {}: {e}", dir.display());
    }
    for d in dirs_depth_first(Path::new("/run/containerd")) {
        let _ = fs::remove_dir(&d); // only succeeds when empty
    }
}
