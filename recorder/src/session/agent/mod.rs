//! `seccomp-recorder agent`: the node agent. It watches the kubelet's QoS cgroups; the
//! kernel side gives every new container cgroup below them a slot of its own on the
//! cgroup's first syscall (so nothing a container runs escapes, however short it
//! lives), armed like a hook's recording (counting starts at the runtime's filter load
//! or the workload's exec). The agent asks the CRI whose container it is: a container
//! of a pod annotated `seccomp-recorder.io/record: "true"` is recorded, anything else
//! is ignored at once. When the container ends, its recording is written and merged
//! with the other recordings of its workload and container name.
//!
//! The agent needs no API server and no RBAC: everything comes from the node's CRI.
//! Killed (SIGKILL), its recordings go on in the kernel and the next agent adopts them
//! (state files of kind `agent`); stopped (SIGTERM/SIGINT), it writes what it has and
//! releases everything.

mod locator;
pub mod output;
pub mod resolve;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::container::cri::{CriClient, CriError, EndpointChoice};
use crate::kernel::cgroup::{self, Cgroup2, CgroupError, CgroupId};
use crate::kernel::tracer::{self, Tracer, TracerError, TracerPaths};
use crate::session::finish;
use crate::session::gc::container_gone;
use crate::session::state::{Kind, RecordingState, StateError, StateStore};
use locator::Located;
use output::{OutputError, ProfileStyle};
use resolve::Decision;
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::runtime::Runtime;
use std::sync::{Arc, Mutex, PoisonError};

/// A watched cgroup: a path below the cgroup2 root and how many levels below it the
/// container cgroups are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// Relative to the cgroup2 root (`kubepods/besteffort`).
    pub path: String,
    /// Levels from it down to a container's cgroup (2: pod, then container).
    pub depth: u32,
}

/// The kubelet's QoS cgroups (cgroupfs and systemd drivers): pods of each class below
/// them, containers below the pods.
pub fn default_watches() -> Vec<WatchSpec> {
    [
        "kubepods",
        "kubepods/besteffort",
        "kubepods/burstable",
        "kubepods.slice",
        "kubepods.slice/kubepods-besteffort.slice",
        "kubepods.slice/kubepods-burstable.slice",
    ]
    .iter()
    .map(|p| WatchSpec {
        path: (*p).to_owned(),
        depth: 2,
    })
    .collect()
}

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where recordings and profiles go.
    pub output_dir: PathBuf,
    /// The CRI to ask.
    pub cri: EndpointChoice,
    /// The cgroups to watch (those that exist; the others are looked for again).
    pub watches: Vec<WatchSpec>,
    /// How profiles are written.
    pub format: seccomp_profile::formats::Format,
    /// Errno of denied calls.
    pub errno: seccomp_profile::profile::DefaultErrno,
    /// Spare slots kept ready for new containers.
    pub spares: usize,
    /// How often claims and endings are looked at.
    pub poll: Duration,
    /// Write the running recordings this often too (long-running containers).
    pub flush_every: Option<Duration>,
    /// A claim the CRI still does not know after this long is ignored.
    pub resolve_timeout: Duration,
}

/// Why the agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The kernel side failed.
    #[error("the kernel side failed")]
    Tracer(#[from] TracerError),
    /// cgroup v2 is not usable.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A state file could not be written or read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The output could not be written.
    #[error("cannot write the agent's output")]
    Output(#[from] OutputError),
    /// The output directory is not usable.
    #[error("output directory {} is not usable", .0.display())]
    OutputDir(PathBuf, #[source] std::io::Error),
    /// Another agent runs on this node (with the same run directory).
    #[error("another seccomp-recorder agent already runs here (it holds {}): one agent per node", .0.display())]
    AlreadyRunning(PathBuf),
    /// The agent's lock file cannot be used.
    #[error("cannot lock {}", .0.display())]
    Lock(PathBuf, #[source] std::io::Error),
}

impl Categorized for AgentError {
    fn category(&self) -> Category {
        match self {
            AgentError::Tracer(e) => e.category(),
            AgentError::Cgroup(e) => e.category(),
            AgentError::State(e) => e.category(),
            AgentError::Output(_) | AgentError::OutputDir(..) | AgentError::Lock(..) => {
                Category::Io
            }
            AgentError::AlreadyRunning(_) => Category::Unavailable,
        }
    }
}

/// What the agent was told from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Write the running recordings now (SIGHUP).
    Flush,
    /// Write everything, release everything, stop (SIGTERM, SIGINT).
    Stop,
}

/// A claim not decided yet.
struct Pending {
    slot: u32,
    since: Instant,
    /// Its directory, found the first time the claim is seen (the container may end
    /// and its cgroup go before the CRI has been asked).
    dir: Option<PathBuf>,
}

/// How long one look may spend asking the CRI before it looks for new claims again.
const DECIDE_BUDGET: Duration = Duration::from_millis(100);

/// The agent's view while it runs.
struct Agent {
    config: AgentConfig,
    tracer: Tracer,
    store: StateStore,
    cg: Cgroup2,
    style: ProfileStyle,
    /// Watched dirs (absolute), their depth and cgroup id, by watch slot.
    watched: HashMap<u32, (PathBuf, u32, u64)>,
    /// Recordings of selected containers, by cgroup id.
    live: HashMap<u64, RecordingState>,
    pending: HashMap<u64, Pending>,
    /// Ignored claims and their dir (forgotten when the dir is gone).
    ignored: HashMap<u64, Option<PathBuf>>,
    client: Option<CriClient>,
    cri_down_since: Option<Instant>,
    missed: u64,
    last_flush: Instant,
    /// Spares may have been taken since the last refill (a claim was seen).
    refill: bool,
    /// What the locator thread sees: the watched trees, and the dirs it noted.
    trees: Arc<Mutex<Vec<(PathBuf, u32)>>>,
    located: Located,
}

/// Runs the agent until `commands` says stop (or its sender is gone).
pub fn run(
    paths: &TracerPaths,
    config: AgentConfig,
    commands: &mpsc::Receiver<Command>,
) -> Result<(), AgentError> {
    tracer::require_root()?;
    let _one_agent = lock_agent(&paths.run_dir)?;
    std::fs::create_dir_all(&config.output_dir)
        .map_err(|e| AgentError::OutputDir(config.output_dir.clone(), e))?;
    let cg = Cgroup2::discover()?;
    let tracer = Tracer::open(paths)?;
    let style = ProfileStyle {
        format: config.format,
        errno: config.errno,
        args: false,
        native: tracer::HostAbis::host()?.native,
    };
    let mut agent = Agent {
        store: StateStore::new(&paths.run_dir),
        config,
        tracer,
        cg,
        style,
        watched: HashMap::new(),
        live: HashMap::new(),
        pending: HashMap::new(),
        ignored: HashMap::new(),
        client: None,
        cri_down_since: None,
        missed: 0,
        last_flush: Instant::now(),
        refill: true,
        trees: Arc::new(Mutex::new(Vec::new())),
        located: Located::default(),
    };
    agent.located = Located::start(paths, agent.trees.clone())?;
    agent.adopt()?;
    loop {
        agent.ensure_watches()?;
        // Only claims take spares: no map walk and no lock on a quiet look.
        if std::mem::take(&mut agent.refill) {
            agent.tracer.refill_spares(agent.config.spares)?;
        }
        agent.step()?;
        let flush_due = agent
            .config
            .flush_every
            .is_some_and(|every| agent.last_flush.elapsed() >= every);
        if flush_due {
            agent.flush()?;
        }
        match commands.recv_timeout(agent.config.poll) {
            Ok(Command::Flush) => agent.flush()?,
            Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                return agent.stop();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Holds `agent.lock` in the run directory for the agent's life (flock: gone with the
/// process, however it ends).
fn lock_agent(run_dir: &std::path::Path) -> Result<std::fs::File, AgentError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = run_dir.join("agent.lock");
    let lock_err = |e| AgentError::Lock(path.clone(), e);
    crate::fs::mode::create_dir(run_dir).map_err(lock_err)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(lock_err)?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            AgentError::AlreadyRunning(path)
        } else {
            AgentError::Lock(path, e)
        });
    }
    Ok(file)
}

impl Agent {
    /// Takes over what an earlier agent left: its watches, its recordings (state files
    /// of kind `agent` whose slot still counts their cgroup), its undecided claims.
    fn adopt(&mut self) -> Result<(), AgentError> {
        for (slot, st) in self.tracer.active()? {
            if st.agent != 0 && st.state == recorder_ebpf::SLOT_WATCHING {
                match self.dir_of_watch(st.cgroup_id) {
                    Some((dir, depth)) => {
                        tracing::info!(dir = %dir.display(), depth, "watching (adopted from an earlier agent)");
                        self.watched.insert(slot, (dir, depth, st.cgroup_id));
                    }
                    // A watched cgroup that is gone, or one this agent is not told to
                    // watch: nobody else will release it.
                    None => self.tracer.release(slot)?,
                }
            }
        }
        let active = self.tracer.active()?;
        for id in self.store.ids()? {
            let Ok(st) = self.store.load(&id) else {
                continue;
            };
            if st.kind != Kind::Agent {
                continue;
            }
            let counting = st.slot.is_some_and(|s| {
                active
                    .iter()
                    .any(|(n, x)| *n == s && x.cgroup_id == st.cgroup_id)
            });
            if counting {
                tracing::info!(id, "adopted a recording of an earlier agent");
                self.live.insert(st.cgroup_id, st);
            } else {
                tracing::warn!(
                    id,
                    "a recording of an earlier agent has no slot any more; dropped"
                );
                self.store.remove(&id);
            }
        }
        Ok(())
    }

    /// The configured watch whose cgroup has id `id`.
    fn dir_of_watch(&self, id: u64) -> Option<(PathBuf, u32)> {
        self.config.watches.iter().find_map(|w| {
            let dir = self.cg.dir(&format!("/{}", w.path.trim_start_matches('/')));
            (Cgroup2::id_of(&dir).ok()?.0 == id).then_some((dir, w.depth))
        })
    }

    /// Watches every configured cgroup that exists and is not watched yet; a watched
    /// cgroup that is gone (or made anew: another id) is unwatched.
    fn ensure_watches(&mut self) -> Result<(), AgentError> {
        self.update_watches()?;
        self.share_trees();
        Ok(())
    }

    fn update_watches(&mut self) -> Result<(), AgentError> {
        let stale: Vec<u32> = self
            .watched
            .iter()
            .filter(|(_, (dir, _, id))| Cgroup2::id_of(dir).ok().map(|i| i.0) != Some(*id))
            .map(|(slot, _)| *slot)
            .collect();
        for slot in stale {
            if let Some((dir, ..)) = self.watched.remove(&slot) {
                tracing::info!(dir = %dir.display(), "the watched cgroup is gone; unwatched");
            }
            self.tracer.release(slot)?;
        }
        for w in self.config.watches.clone() {
            let rel = format!("/{}", w.path.trim_start_matches('/'));
            let dir = self.cg.dir(&rel);
            let Ok(id) = Cgroup2::id_of(&dir) else {
                continue;
            };
            if self.watched.values().any(|(_, _, i)| *i == id.0) {
                continue;
            }
            let level = cgroup::level_of(&rel);
            match self.tracer.watch((&dir, id), level, w.depth) {
                Ok(slot) => {
                    tracing::info!(dir = %dir.display(), depth = w.depth, "watching");
                    self.watched.insert(slot, (dir, w.depth, id.0));
                }
                Err(TracerError::AlreadyRecorded(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The CRI client, connecting (again) when needed; `None` while it is down (said
    /// once, then every minute).
    fn client(&mut self) -> Option<&CriClient> {
        if self.client.is_none() {
            match CriClient::open(&self.config.cri) {
                Ok(c) => {
                    if self.cri_down_since.take().is_some() {
                        tracing::info!(endpoint = %c.endpoint, "the CRI answers again");
                    }
                    self.client = Some(c);
                }
                Err(e) => {
                    let say = match self.cri_down_since {
                        None => true,
                        Some(t) => t.elapsed() >= Duration::from_secs(60),
                    };
                    if say {
                        tracing::warn!(error = %crate::error::one_line(&e), "waiting for the CRI; new containers stay recorded in the kernel until it answers");
                        self.cri_down_since = Some(Instant::now());
                    }
                    return None;
                }
            }
        }
        self.client.as_ref()
    }

    fn watched_dirs(&self) -> Vec<(PathBuf, u32)> {
        self.watched
            .values()
            .map(|(d, depth, _)| (d.clone(), *depth))
            .collect()
    }

    /// Tells the locator thread the watched trees (after they changed).
    fn share_trees(&self) {
        *self.trees.lock().unwrap_or_else(PoisonError::into_inner) = self.watched_dirs();
    }

    /// One look at the claims and at the live recordings.
    fn step(&mut self) -> Result<(), AgentError> {
        let missed = self.tracer.missed_claims()?;
        if missed > self.missed {
            tracing::warn!(
                missed = missed - self.missed,
                "new containers found no spare slot and were not recorded; raise --spares"
            );
            self.missed = missed;
            self.refill = true;
        }
        for claim in self.tracer.claims()? {
            match claim.slot {
                Some(slot) if !self.live.contains_key(&claim.cgroup) => {
                    self.pending.entry(claim.cgroup).or_insert_with(|| {
                        self.refill = true;
                        Pending {
                            slot,
                            since: Instant::now(),
                            dir: None,
                        }
                    });
                }
                None => {
                    self.ignored.entry(claim.cgroup).or_insert(None);
                }
                _ => {}
            }
        }
        self.locate_pending()?;
        self.decide_pending()?;
        self.finish_ended()?;
        self.forget_gone_ignored();
        Ok(())
    }

    /// Finds the directory of every claim seen for the first time (one walk of the
    /// watched trees); a claim whose cgroup is already gone cannot be told apart.
    fn locate_pending(&mut self) -> Result<(), AgentError> {
        if self.pending.values().all(|p| p.dir.is_some()) {
            return Ok(());
        }
        let index = resolve::index_dirs(&self.watched_dirs());
        let mut gone = Vec::new();
        for (id, p) in self.pending.iter_mut().filter(|(_, p)| p.dir.is_none()) {
            // Noted by the locator while it existed, else found now.
            match self.located.take(*id).or_else(|| index.get(id).cloned()) {
                Some(d) => p.dir = Some(d),
                None => gone.push((*id, p.slot)),
            }
        }
        for (id, slot) in gone {
            self.pending.remove(&id);
            tracing::warn!(
                cgroup = id,
                "a new container's cgroup was gone before it could be told apart; not recorded"
            );
            self.tracer.ignore(id, Some(slot))?;
            self.ignored.insert(id, None);
        }
        Ok(())
    }

    fn decide_pending(&mut self) -> Result<(), AgentError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<(Instant, u64, PathBuf)> = self
            .pending
            .iter()
            .filter_map(|(id, p)| Some((p.since, *id, p.dir.clone()?)))
            .collect();
        ids.sort();
        let timeout = self.config.resolve_timeout;
        let Some(client) = self.client() else {
            return Ok(());
        };
        let sandboxes = match resolve::sandbox_ids(client) {
            Ok(s) => s,
            Err(e) => {
                self.cri_failed(&e);
                return Ok(());
            }
        };
        let started = Instant::now();
        let mut decided = Vec::new();
        for (since, id, dir) in ids {
            let where_ = dir.display().to_string();
            if started.elapsed() > DECIDE_BUDGET {
                break;
            }
            let Some(client) = self.client.as_ref() else {
                break;
            };
            match resolve::decide(client, &dir, &sandboxes) {
                Ok(Decision::NotYet) => {
                    if since.elapsed() > timeout {
                        decided.push((
                            id,
                            Some(dir),
                            Decision::Refuse(format!(
                                "the CRI never knew the container of {where_}"
                            )),
                        ));
                    }
                }
                Ok(d) => decided.push((id, Some(dir), d)),
                Err(e) => {
                    self.cri_failed(&e);
                    break;
                }
            }
        }
        for (id, dir, decision) in decided {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            match decision {
                Decision::Record {
                    container_id,
                    pod,
                    options,
                } => {
                    let dir = dir.unwrap_or_default();
                    self.tracer.promote(id, p.slot)?;
                    let mut state = RecordingState {
                        slot: Some(p.slot),
                        errno: options.errno.unwrap_or(self.config.errno),
                        record_args: options.args,
                        runtime: Some(Runtime::Any),
                        runtime_signal: pod
                            .runtime_type
                            .as_ref()
                            .map(|r| format!("CRI {}: runtime {r}", pod.cri)),
                        owner_pid: Some(std::process::id() as i32),
                        ..RecordingState::new(format!("agent-{container_id}"), Kind::Agent, dir, id)
                    };
                    state.pod = Some(*pod);
                    self.store.save(&state)?;
                    tracing::info!(
                        id = state.id,
                        pod = state
                            .pod
                            .as_ref()
                            .map(|p| format!("{}/{}", p.namespace, p.name)),
                        "recording a container of a selected pod"
                    );
                    self.live.insert(id, state);
                }
                Decision::Ignore(why) => {
                    tracing::debug!(cgroup = id, why, "ignored");
                    self.tracer.ignore(id, Some(p.slot))?;
                    self.ignored.insert(id, dir);
                }
                Decision::Refuse(why) => {
                    tracing::warn!(cgroup = id, why, "a new container is not recorded");
                    self.tracer.ignore(id, Some(p.slot))?;
                    self.ignored.insert(id, dir);
                }
                Decision::NotYet => {}
            }
        }
        Ok(())
    }

    fn cri_failed(&mut self, e: &CriError) {
        if self.cri_down_since.is_none() {
            tracing::warn!(error = %crate::error::one_line(e), "the CRI stopped answering; waiting for the CRI (new containers stay recorded in the kernel until it answers)");
        }
        self.client = None;
        self.cri_down_since.get_or_insert_with(Instant::now);
    }

    /// Writes the recordings whose container has ended.
    fn finish_ended(&mut self) -> Result<(), AgentError> {
        let ended: Vec<u64> = self
            .live
            .iter()
            .filter(|(_, st)| container_gone(st))
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(st) = self.live.remove(&id) {
                self.write(&st, true)?;
            }
        }
        Ok(())
    }

    /// Writes one recording (and its workload's merged profile); `last`: the slot is
    /// released and the state removed.
    fn write(&mut self, st: &RecordingState, last: bool) -> Result<(), AgentError> {
        let Some(slot) = st.slot else {
            return Ok(());
        };
        let snapshot = match self.tracer.snapshot_owned(slot, CgroupId(st.cgroup_id)) {
            Ok(s) => s,
            Err(TracerError::NotInUse(_)) => {
                tracing::warn!(
                    id = st.id,
                    "the recording's slot was taken away; nothing to write"
                );
                self.store.remove(&st.id);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let mut report = finish::to_report(
            &snapshot,
            st.runtime.unwrap_or(Runtime::Any),
            st.runtime_signal.clone(),
        );
        report.pod = st.pod.clone();
        let container_id = st.id.trim_start_matches("agent-");
        // The pod's own choices (its annotations) for the workload's merged profile.
        let style = ProfileStyle {
            errno: st.errno,
            args: st.record_args,
            ..self.style
        };
        let written =
            output::write_recording(&self.config.output_dir, container_id, &report, style);
        if last {
            // The cgroup counts nothing any more: no new claim for it either.
            self.tracer.ignore(st.cgroup_id, None)?;
            self.tracer.release(slot)?;
            if Cgroup2::id_of(&st.cgroup_dir).ok().map(|i| i.0) != Some(st.cgroup_id) {
                self.tracer.forget_claim(st.cgroup_id);
            } else {
                self.ignored
                    .insert(st.cgroup_id, Some(st.cgroup_dir.clone()));
            }
            self.store.remove(&st.id);
        }
        let profile = written?;
        tracing::info!(id = st.id, profile = %profile.display(), last, "wrote a recording");
        Ok(())
    }

    fn forget_gone_ignored(&mut self) {
        let index = if self.ignored.values().any(Option::is_none) {
            resolve::index_dirs(&self.watched_dirs())
        } else {
            HashMap::new()
        };
        let gone: Vec<u64> = self
            .ignored
            .iter_mut()
            .filter_map(|(id, dir)| {
                if dir.is_none() {
                    *dir = index.get(id).cloned();
                }
                let alive = dir
                    .as_ref()
                    .is_some_and(|d| Cgroup2::id_of(d).ok().map(|i| i.0) == Some(*id));
                (!alive).then_some(*id)
            })
            .collect();
        for id in gone {
            self.ignored.remove(&id);
            self.tracer.forget_claim(id);
        }
    }

    /// Writes every running recording as it stands (they go on).
    fn flush(&mut self) -> Result<(), AgentError> {
        let live: Vec<RecordingState> = self.live.values().cloned().collect();
        for st in &live {
            self.write(st, false)?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes everything, releases every slot of the agent, stops.
    fn stop(mut self) -> Result<(), AgentError> {
        self.located.stop();
        let live: Vec<RecordingState> = self.live.drain().map(|(_, s)| s).collect();
        for st in &live {
            self.write(st, true)?;
        }
        // No new claims once the watches are gone (their release changes the epoch,
        // so no CPU goes on with a cached claim path).
        let watches: Vec<u32> = self.watched.keys().copied().collect();
        for slot in watches {
            self.tracer.release(slot)?;
        }
        // Every claim still holding a slot (undecided, or made since the last look)
        // gives it back; then the claims are forgotten.
        self.pending.clear();
        for claim in self.tracer.claims()? {
            if claim.slot.is_some() {
                self.tracer.ignore(claim.cgroup, claim.slot)?;
            }
            self.tracer.forget_claim(claim.cgroup);
        }
        self.tracer.drop_spares()?;
        tracing::info!("agent stopped; every slot it held is released");
        Ok(())
    }
}
