//! `seccomp-recorder record -- CMD`: run one command in a fresh cgroup, count its
//! syscalls from its exec on, and write the profile when it ends.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::container::cri::{self, select, CriClient, CriError, PodSelection};
use crate::container::engine::{self, Engine, EngineError};
use crate::fs::atomic::{write_atomic, WriteError};
use crate::kernel::cgroup::{self, Cgroup2, CgroupError, ScratchCgroup};
use crate::kernel::tracer::{self, Snapshot, StartMode, Tracer, TracerError, TracerPaths};
use crate::session::finish::{self, to_recorded, Assembly};
use crate::session::progress::{self, Counts, StatusLine};
use crate::session::spawn::{self, SpawnError};
use crate::session::state::{Kind, RecordingState, StateError, StateStore};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::{self, Format, FormatError};
use seccomp_profile::profile::{self, DefaultErrno, ProfileOptions};
use seccomp_profile::report::{self, PodRecorded};
use seccomp_profile::runtime::Runtime;

/// What `record` is asked to do (the command line's `cli::record::RecordArgs`).
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Write the profile here (atomically) instead of stdout.
    pub output: Option<PathBuf>,
    /// Write exact per-syscall counts here (JSON).
    pub stats: Option<PathBuf>,
    /// Write the evidence here (JSON): per syscall the exact count, the first process
    /// (pid, comm) that made it and when, in ms after the start.
    pub report: Option<PathBuf>,
    /// Errno that denied syscalls return under the profile.
    pub default_errno: DefaultErrno,
    /// Profile format: OCI runtime-spec JSON, podman/Docker file (archMap), or a
    /// Security Profiles Operator SeccompProfile object.
    pub format: Format,
    /// Object name for `--format spo` (default: the output file's stem, or the command).
    pub name: Option<String>,
    /// Split the recording this long after the start (e.g. 500ms, 2s): the syscalls
    /// made after it go into a second, tighter profile (--steady-output).
    pub steady_after: Option<Duration>,
    /// Split the recording when this file appears (the workload creates it when it is
    /// ready, e.g. a server after start-up).
    pub steady_marker: Option<PathBuf>,
    /// Where the steady-phase profile goes (needs --steady-after or --steady-marker).
    pub steady_output: Option<PathBuf>,
    /// The OCI runtime the profile is for: its start-up calls (made through the
    /// container's filter before the workload's execve) are added to the profile.
    /// `any` adds every known runtime's, `none` nothing (for `enforce` only).
    /// [default: any]
    pub runtime: Option<Runtime>,
    /// Record an existing cgroup v2 (and its descendants) instead of running CMD: a
    /// directory of the cgroup2 tree or a path as /proc/PID/cgroup shows it. Until
    /// Ctrl-C / SIGTERM, --duration, or until the cgroup has no process left.
    pub cgroup: Option<PathBuf>,
    /// Record a running container, found by id or name through podman, docker or the
    /// CRI (whichever knows it); its cgroup is recorded as with --cgroup. With --pod:
    /// the name of the pod's container to record (default: every container).
    pub container: Option<String>,
    /// Ask only this engine about --container.
    pub engine: Option<Engine>,
    /// Record a Kubernetes pod, found by name through the node's CRI (containerd,
    /// CRI-O): the pod's cgroup (every container), or one container with --container
    /// NAME. Until the pod is gone, Ctrl-C / SIGTERM, or --duration.
    pub pod: Option<String>,
    /// The namespace of --pod (needed when the name is used in several namespaces).
    pub namespace: Option<String>,
    /// The CRI socket (unix:///run/containerd/containerd.sock) [default:
    /// $CONTAINER_RUNTIME_ENDPOINT, else containerd's, CRI-O's, cri-dockerd's].
    pub cri_endpoint: Option<String>,
    /// Also record the deciding argument values of socket (family, type), clone
    /// (namespace flags), unshare, setns, personality, prctl, ioctl and socketpair, and
    /// allow those syscalls only with the values seen (SCMP_CMP_EQ / MASKED_EQ rules).
    pub args: bool,
    /// Also allow the variants of each recorded call that another libc or runtime
    /// may make instead (newfstatat/stat/statx, openat/open, pipe2/pipe, clone/fork,
    /// ...; clone only without namespace flags, never clone3): see docs/ci.md.
    pub portable: bool,
    /// Stop recording a cgroup or container after this long (e.g. 30s, 5m).
    pub duration: Option<Duration>,
    /// The command to record, with its arguments.
    pub command: Vec<OsString>,
}

/// Errors of `record`.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The cgroup could not be set up or removed.
    #[error("cgroup set-up failed")]
    Cgroup(#[from] CgroupError),
    /// The kernel side failed.
    #[error("recording failed")]
    Tracer(#[from] TracerError),
    /// The command could not be started.
    #[error("cannot run {command}")]
    Spawn {
        /// The command.
        command: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An output file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The profile cannot be written in the asked format.
    #[error("cannot render the profile")]
    Format(#[from] FormatError),
    /// The state file could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The profile could not be serialized.
    #[error("cannot serialize the profile")]
    Json(#[from] serde_json::Error),
    /// Writing the profile to stdout failed.
    #[error("cannot write the profile to stdout")]
    Stdout(#[source] io::Error),
    /// The container could not be found.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The pod could not be found through the CRI.
    #[error(transparent)]
    Cri(#[from] CriError),
    /// The cgroup given to record is not usable.
    #[error(transparent)]
    Target(CgroupError),
    /// The cgroup to attach to is the root.
    #[error("refusing to record the root cgroup {0} (every process on the host): give the container's or pod's cgroup")]
    RootCgroup(PathBuf),
    /// The cgroup to attach to has no process.
    #[error("cgroup {0} has no processes: nothing to record (start the workload first)")]
    Empty(PathBuf),
    /// --duration without a cgroup or container.
    #[error("--duration applies to --cgroup, --container and --pod only (a command is recorded until it exits)")]
    DurationWithCommand,
}

impl Categorized for RecordError {
    fn category(&self) -> Category {
        match self {
            RecordError::Cgroup(e) => e.category(),
            RecordError::Tracer(e) => e.category(),
            RecordError::Spawn { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => Category::CommandNotFound,
                _ => Category::CannotExecute,
            },
            RecordError::Write(e) => e.category(),
            RecordError::State(e) => e.category(),
            RecordError::Format(e) => e.category(),
            RecordError::Json(_) => Category::Internal,
            RecordError::Stdout(_) => Category::Io,
            RecordError::Engine(e) => e.category(),
            RecordError::Cri(e) => e.category(),
            RecordError::Target(e) => e.category(),
            RecordError::RootCgroup(_) | RecordError::Empty(_) => Category::BadInput,
            RecordError::DurationWithCommand => Category::Usage,
        }
    }
}

/// Releases the recording slot if the normal path did not.
struct SlotGuard<'a> {
    tracer: &'a mut Tracer,
    slot: Option<u32>,
}

impl SlotGuard<'_> {
    fn finish(&mut self) -> Result<Snapshot, TracerError> {
        let Some(slot) = self.slot else {
            return Ok(Snapshot::default());
        };
        let snap = self.tracer.snapshot(slot);
        self.slot = None;
        self.tracer.release(slot)?;
        snap
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if let Err(e) = self.tracer.release(slot) {
                tracing::warn!(error = %e, slot, "could not release recording slot");
            }
        }
    }
}

/// Removes the state file when the recording ends (normally or by error).
struct StateFileGuard<'a> {
    store: &'a StateStore,
    id: String,
}

impl Drop for StateFileGuard<'_> {
    fn drop(&mut self) {
        self.store.remove(&self.id);
    }
}

/// Signals forwarded to the recorded command.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a zeroed set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the forwarded signals in this thread (and threads it creates later) and
/// starts a thread that passes them on to `pid`.
fn forward_signals_to(pid: i32) {
    let set = forwarded_set();
    std::thread::spawn(move || loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait with a valid set and out pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            // SAFETY: kill(2).
            unsafe { libc::kill(pid, sig) };
        }
    });
}

fn block_forwarded() {
    let set = forwarded_set();
    // SAFETY: valid set, null old set.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// What `record` produced.
#[derive(Debug)]
pub struct Recorded {
    /// Exit code to propagate: CMD's code, or 128 + signal.
    pub exit_code: u8,
    /// The counts.
    pub snapshot: Snapshot,
    /// The counts at the steady-state split, if one was asked for and reached.
    pub at_split: Option<Snapshot>,
}

/// When to split a recording into startup and steady state.
#[derive(Debug, Clone)]
pub enum Split {
    /// This long after the command started.
    After(Duration),
    /// When this file exists.
    Marker(PathBuf),
}

/// Takes a snapshot of `slot` when `split` is reached, unless `stop` says the command
/// ended first. Runs on its own thread with its own map handles.
fn split_watcher(
    paths: TracerPaths,
    slot: u32,
    split: Split,
    stop: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<Option<Result<Snapshot, TracerError>>> {
    std::thread::spawn(move || {
        let start = Instant::now();
        loop {
            let reached = match &split {
                Split::After(d) => start.elapsed() >= *d,
                Split::Marker(p) => p.exists(),
            };
            if reached {
                return Some(Tracer::open(&paths).and_then(|t| t.snapshot(slot)));
            }
            let wait = match &split {
                Split::After(d) => d
                    .saturating_sub(start.elapsed())
                    .min(Duration::from_millis(50)),
                Split::Marker(_) => Duration::from_millis(10),
            };
            match stop.recv_timeout(wait) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    })
}

/// The state file of a recording this process owns and finishes itself (`gc` finishes
/// it only if this process dies): `cmd-PID` or `attach-PID`.
fn own_state(
    kind: Kind,
    cgroup_dir: PathBuf,
    cgroup_id: u64,
    (runtime, runtime_signal): (Option<Runtime>, Option<String>),
    record_args: bool,
) -> RecordingState {
    let prefix = if kind == Kind::Attached {
        "attach"
    } else {
        "cmd"
    };
    RecordingState {
        owner_pid: Some(std::process::id() as i32),
        runtime,
        runtime_signal,
        record_args,
        ..RecordingState::new(
            format!("{prefix}-{}", std::process::id()),
            kind,
            cgroup_dir,
            cgroup_id,
        )
    }
}

/// Runs `command` in a fresh cgroup, recording from its exec on.
pub fn record_command(
    paths: &TracerPaths,
    command: &[OsString],
    split: Option<Split>,
    record_args: bool,
) -> Result<Recorded, RecordError> {
    tracer::require_root()?;
    let cg = Cgroup2::discover()?;
    let scratch = ScratchCgroup::create(&cg, &format!("seccomp-recorder-{}", std::process::id()))?;
    let mut tracer = Tracer::open(paths)?;
    // A state file lets `gc` release the slot if this process is killed.
    let store = StateStore::new(&paths.run_dir);
    let mut state = own_state(
        Kind::Command,
        scratch.dir().to_owned(),
        scratch.id.0,
        (None, None),
        record_args,
    );
    store.save(&state)?;
    let _forget = StateFileGuard {
        store: &store,
        id: state.id.clone(),
    };
    let slot = tracer.register_with(
        (scratch.dir(), scratch.id),
        scratch.level,
        StartMode::AtExec,
        record_args,
    )?;
    state.slot = Some(slot);
    store.save(&state)?;
    let mut guard = SlotGuard {
        tracer: &mut tracer,
        slot: Some(slot),
    };
    block_forwarded();
    let unblock = forwarded_set();
    let cgroup_dir = std::fs::File::open(scratch.dir()).map_err(|source| {
        RecordError::Cgroup(CgroupError::Io {
            path: scratch.dir().to_owned(),
            source,
        })
    })?;
    let name = command
        .first()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spawn_err = |source| RecordError::Spawn {
        command: name.clone(),
        source,
    };
    let pid = match spawn::spawn_in_cgroup(command, cgroup_dir.as_fd(), &unblock) {
        Ok(pid) => pid,
        Err(SpawnError::Failed(e)) => return Err(spawn_err(e)),
        Err(SpawnError::Unsupported(e)) => {
            tracing::debug!(error = %e, "clone3(CLONE_INTO_CGROUP) unavailable; migrating instead");
            spawn_by_migration(&scratch, command, unblock).map_err(spawn_err)?
        }
    };
    drop(cgroup_dir);
    forward_signals_to(pid);
    let (stop_tx, stop_rx) = mpsc::channel();
    let watcher = split.map(|s| split_watcher(paths.clone(), slot, s, stop_rx));
    let exit_code = spawn::wait_exit_code(pid).map_err(spawn_err)?;
    let _ = stop_tx.send(());
    let at_split = match watcher.map(|w| w.join()) {
        Some(Ok(Some(snap))) => Some(snap?),
        _ => None,
    };
    // Kill what the command left behind, so the counts are final.
    scratch.remove()?;
    let snapshot = guard.finish()?;
    drop(guard);
    Ok(Recorded {
        exit_code,
        snapshot,
        at_split,
    })
}

/// Starts `command` and moves it into the cgroup before its exec (kernels without
/// clone3's CLONE_INTO_CGROUP). The child writes its pid to a pre-opened
/// `cgroup.procs`; its next syscall is the exec that starts counting.
fn spawn_by_migration(
    scratch: &ScratchCgroup,
    command: &[OsString],
    unblock: libc::sigset_t,
) -> io::Result<i32> {
    let procs = scratch.procs_file().map_err(io::Error::other)?;
    let procs_fd = procs.as_raw_fd();
    let (program, args) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    // SAFETY: the closure only calls sigprocmask(2) and write(2), both async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::pthread_sigmask(libc::SIG_UNBLOCK, &unblock, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let buf = b"0";
            if libc::write(procs_fd, buf.as_ptr().cast(), 1) != 1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(child.id() as i32)
}

/// The object name for formats that need one: `--name`, else the output file's stem,
/// else the command's file name.
fn profile_name(args: &RecordOptions) -> String {
    let stem = |p: &std::path::Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().trim_end_matches(".json").to_owned())
    };
    args.name
        .clone()
        .or_else(|| args.output.as_deref().and_then(stem))
        .or_else(|| {
            args.command
                .first()
                .and_then(|c| std::path::Path::new(c).file_name())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .or_else(|| match (&args.pod, &args.container) {
            (Some(p), Some(c)) => Some(format!("{p}-{c}")),
            (Some(p), None) => Some(p.clone()),
            (None, c) => c.clone(),
        })
        .unwrap_or_else(|| "recorded".to_owned())
}

/// An existing cgroup to record (`--cgroup`, `--container`).
#[derive(Debug, Clone)]
pub struct AttachTarget {
    /// Its directory in the cgroup2 tree.
    pub dir: PathBuf,
    /// Its path relative to the cgroup2 root.
    pub relative: String,
    /// What it is, for messages ("container web (docker, runc)", "cgroup /x").
    pub description: String,
    /// The runtime the engine reported, if any.
    pub runtime: Option<Runtime>,
    /// Where that runtime came from.
    pub signal: Option<String>,
    /// The pod, when found through the CRI (`--pod`).
    pub pod: Option<PodRecorded>,
}

/// Finds the cgroup of `--cgroup PATH` or of `--container ID`.
pub fn resolve_target(args: &RecordOptions) -> Result<Option<AttachTarget>, RecordError> {
    let cg = Cgroup2::discover()?;
    let target = if let Some(path) = &args.cgroup {
        let (dir, relative) = cg.resolve(path).map_err(RecordError::Target)?;
        AttachTarget {
            description: format!("cgroup {relative}"),
            dir,
            relative,
            runtime: None,
            signal: None,
            pod: None,
        }
    } else if let Some(name) = &args.pod {
        let client = CriClient::open(&cri::choose_endpoint(args.cri_endpoint.as_deref())?)?;
        let selection =
            client.select_pod(name, args.namespace.as_deref(), args.container.as_deref())?;
        pod_target(&cg, &selection)?
    } else if let Some(id) = &args.container {
        let choice = cri::choose_endpoint(args.cri_endpoint.as_deref())?;
        let found = engine::find(id, args.engine, &choice)?;
        let relative = cg
            .path_of_process(Some(found.pid))
            .map_err(RecordError::Target)?;
        let runtime = found.runtime();
        let reported = found.runtime_name.as_deref().unwrap_or("not reported");
        AttachTarget {
            description: format!("container {id} ({}, runtime {reported})", found.engine),
            dir: cg.dir(&relative),
            relative,
            runtime: Some(runtime),
            signal: Some(format!("{} inspect: runtime {reported}", found.engine)),
            pod: None,
        }
    } else {
        return Ok(None);
    };
    if cgroup::level_of(&target.relative) == 0 {
        return Err(RecordError::RootCgroup(target.dir));
    }
    Ok(Some(target))
}

/// The cgroup of a pod found through the CRI: the chosen container's, or the pod's
/// own (the parent of its containers', checked to name the pod's uid).
fn pod_target(cg: &Cgroup2, selection: &PodSelection) -> Result<AttachTarget, RecordError> {
    let pod = &selection.pod;
    let first = selection.containers.first().ok_or_else(|| {
        CriError::from(select::SelectError::NoContainer {
            pod: pod.qualified(),
        })
    })?;
    let container_cgroup = cg
        .path_of_process(Some(first.pid))
        .map_err(RecordError::Target)?;
    let relative = if selection.whole_pod {
        select::pod_cgroup(&container_cgroup, pod).map_err(CriError::from)?
    } else {
        container_cgroup
    };
    let names: Vec<String> = selection
        .containers
        .iter()
        .map(|c| c.container.name.clone())
        .collect();
    let runtime_type = first.runtime_type.clone();
    let reported = runtime_type.as_deref().unwrap_or("not reported");
    let what = if selection.whole_pod {
        format!("every container ({})", names.join(", "))
    } else {
        format!("container {}", names.join(", "))
    };
    Ok(AttachTarget {
        description: format!(
            "pod {} {what} ({} at {}, handler {}, runtime {reported})",
            pod.qualified(),
            selection.runtime,
            selection.endpoint,
            pod.handler()
        ),
        dir: cg.dir(&relative),
        relative,
        runtime: Some(
            runtime_type
                .as_deref()
                .and_then(Runtime::recognise)
                .unwrap_or(Runtime::Any),
        ),
        signal: Some(format!("CRI {}: runtime {reported}", selection.runtime)),
        pod: Some(PodRecorded {
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            uid: pod.uid.clone(),
            containers: names,
            whole_pod: selection.whole_pod,
            runtime_handler: pod.handler().to_owned(),
            runtime_type,
            cri: format!("{} at {}", selection.runtime, selection.endpoint),
            workload: None,
            portable: false,
        }),
    })
}

/// Why an attached recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Signal(libc::c_int),
    Empty,
    Duration,
}

/// Records an existing cgroup from now on, until a signal, `duration`, or until no
/// process is left in it. The cgroup itself is never changed.
pub fn record_attached(
    paths: &TracerPaths,
    target: &AttachTarget,
    split: Option<Split>,
    duration: Option<Duration>,
    record_args: bool,
) -> Result<Recorded, RecordError> {
    tracer::require_root()?;
    let id = Cgroup2::id_of(&target.dir)?;
    let level = cgroup::level_of(&target.relative);
    if !cgroup::is_populated(&target.dir) {
        return Err(RecordError::Empty(target.dir.clone()));
    }
    let mut tracer = Tracer::open(paths)?;
    let store = StateStore::new(&paths.run_dir);
    let mut state = own_state(
        Kind::Attached,
        target.dir.clone(),
        id.0,
        (target.runtime, target.signal.clone()),
        record_args,
    );
    store.save(&state)?;
    let _forget = StateFileGuard {
        store: &store,
        id: state.id.clone(),
    };
    // Signals are blocked before the slot exists, so that Ctrl-C always ends in a
    // written profile, never in a killed recorder.
    block_forwarded();
    let (sig_tx, sig_rx) = mpsc::channel();
    let set = forwarded_set();
    std::thread::spawn(move || {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait with a valid set and out pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            let _ = sig_tx.send(sig);
        }
    });
    let slot = tracer.register_with((&target.dir, id), level, StartMode::Now, record_args)?;
    state.slot = Some(slot);
    store.save(&state)?;
    let mut guard = SlotGuard {
        tracer: &mut tracer,
        slot: Some(slot),
    };
    let started = Instant::now();
    eprintln!(
        "seccomp-recorder: recording {} ({}) from now on; syscalls made before this line are not in the profile. Stop with Ctrl-C or SIGTERM{}, or when no process is left in it.",
        target.description,
        target.dir.display(),
        duration
            .map(|d| format!(", after {:.1} s", d.as_secs_f64()))
            .unwrap_or_default()
    );
    let (stop_tx, stop_rx) = mpsc::channel();
    let watcher = split.map(|s| split_watcher(paths.clone(), slot, s, stop_rx));
    let mut status = StatusLine::new(started);
    let reason = loop {
        let now = Instant::now();
        if status.due(now) {
            // A failed read only skips one redraw; the final snapshot reports errors.
            if let Ok(s) = guard.tracer.snapshot(slot) {
                status.draw(now, Counts::of(s.calls.iter().map(|c| c.count)));
            }
        }
        if !cgroup::is_populated(&target.dir) {
            break StopReason::Empty;
        }
        if duration.is_some_and(|d| started.elapsed() >= d) {
            break StopReason::Duration;
        }
        match sig_rx.recv_timeout(Duration::from_millis(20)) {
            Ok(sig) => break StopReason::Signal(sig),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(20))
            }
        }
    };
    status.clear();
    let _ = stop_tx.send(());
    let at_split = match watcher.map(|w| w.join()) {
        Some(Ok(Some(snap))) => Some(snap?),
        _ => None,
    };
    let snapshot = guard.finish()?;
    drop(guard);
    let why = match reason {
        StopReason::Signal(sig) => format!("signal {sig}"),
        StopReason::Empty => "no process left in the cgroup".to_owned(),
        StopReason::Duration => "--duration reached".to_owned(),
    };
    eprintln!(
        "{}",
        progress::summary_line(
            &target.description,
            started.elapsed(),
            Counts::of(snapshot.calls.iter().map(|c| c.count)),
            &why
        )
    );
    Ok(Recorded {
        exit_code: 0,
        snapshot,
        at_split,
    })
}

/// What a finished `record` leaves to its caller.
#[derive(Debug)]
pub struct RecordOutcome {
    /// The exit code to leave with (the recorded command's own).
    pub exit_code: u8,
    /// The profile, when no output file was asked for: the caller prints it.
    pub profile: Option<String>,
}

/// `record`: records, writes the files asked for, and returns the exit code with the
/// profile when it goes to stdout.
pub fn run(args: &RecordOptions) -> Result<RecordOutcome, RecordError> {
    let paths = TracerPaths::from_env();
    let split = match (&args.steady_after, &args.steady_marker) {
        (Some(d), _) => Some(Split::After(*d)),
        (None, Some(p)) => Some(Split::Marker(p.clone())),
        (None, None) => None,
    };
    let target = resolve_target(args)?;
    let (recorded, runtime, signal) = match &target {
        Some(t) => {
            let recorded = record_attached(&paths, t, split.clone(), args.duration, args.args)?;
            // Like the hook: every known runtime's tail unless told, so that a profile
            // recorded from a Docker (runc) container also starts under crun; what the
            // engine reported goes into the report.
            let seen = t.signal.as_deref().unwrap_or("no engine asked");
            let (runtime, signal) = match args.runtime {
                Some(r) => (r, format!("--runtime {r} ({seen})")),
                None => (Runtime::Any, format!("any (default; {seen})")),
            };
            (recorded, runtime, signal)
        }
        None => {
            if args.duration.is_some() {
                return Err(RecordError::DurationWithCommand);
            }
            let started = Instant::now();
            let recorded = record_command(&paths, &args.command, split.clone(), args.args)?;
            let name = args
                .command
                .first()
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default();
            eprintln!(
                "{}",
                progress::summary_line(
                    &name,
                    started.elapsed(),
                    Counts::of(recorded.snapshot.calls.iter().map(|c| c.count)),
                    &format!("exit {}", recorded.exit_code)
                )
            );
            let signal = if args.runtime.is_some() {
                "--runtime"
            } else {
                "default (no --runtime)"
            };
            (
                recorded,
                args.runtime.unwrap_or_default(),
                signal.to_owned(),
            )
        }
    };
    let calls = to_recorded(&recorded.snapshot);
    let options = ProfileOptions {
        errno: args.default_errno,
        native: tracer::HostAbis::host()?.native,
    };
    // What the runtime calls through the container's filter before the workload's
    // execve: never seen by a recording of a command or of a running cgroup.
    let assembled = finish::assemble(
        &calls,
        &Assembly {
            options,
            args: args.args.then_some((
                recorded.snapshot.args.as_slice(),
                recorded.snapshot.args_lost,
            )),
            base: None,
            runtime,
            portable: args.portable,
        },
    );
    finish::log_siblings("record", &assembled.siblings);
    for line in profile::unnamed_warnings(assembled.unnamed.iter().copied()) {
        tracing::warn!("{line} (--stats has the counts)");
    }
    for w in &assembled.warnings {
        tracing::warn!("{w}");
    }
    let name = profile_name(args);
    let json = formats::render(&assembled.profile, args.format, &name)?;
    if let Some(stats_path) = &args.stats {
        write_atomic(
            stats_path,
            finish::json_line(&profile::Stats {
                attach: recorded.snapshot.attach.map(|a| a.describe().to_owned()),
                ..profile::stats(&calls)
            })?
            .as_bytes(),
        )?;
    }
    if let Some(report_path) = &args.report {
        let mut doc = finish::to_report(&recorded.snapshot, runtime, Some(signal.clone()));
        doc.pod = target.as_ref().and_then(|t| t.pod.clone());
        write_atomic(report_path, finish::json_line(&doc)?.as_bytes())?;
    }
    if let (Some(split), Some(path)) = (&split, &args.steady_output) {
        let steady = match &recorded.at_split {
            Some(at) => report::steady_phase(&to_recorded(at), &calls),
            None => {
                tracing::warn!(
                    "the command ended before the steady phase began ({split:?}); the steady profile allows nothing"
                );
                Vec::new()
            }
        };
        let mut steady_profile = profile::build(&steady, &options).profile;
        if args.portable {
            steady_profile = seccomp_profile::portable::add(&steady_profile).profile;
        }
        let json = formats::render(
            &seccomp_profile::kernel_calls::add(&steady_profile),
            args.format,
            &format!("{name}-steady"),
        )?;
        write_atomic(path, json.as_bytes())?;
    }
    let profile = match &args.output {
        Some(path) => {
            write_atomic(path, json.as_bytes())?;
            None
        }
        None => Some(json),
    };
    Ok(RecordOutcome {
        exit_code: recorded.exit_code,
        profile,
    })
}
