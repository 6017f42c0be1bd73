//! The kernel side seen from user space: load the eBPF program once, pin it and its
//! maps in bpffs, register and release recordings, attach the program while at least
//! one recording is active and detach it when the last one ends.
//!
//! Every process (CLI, each hook invocation) opens the pinned maps; changes to the
//! shared state happen under an exclusive `flock` on a file in the run directory.

mod abi;
mod attach;
mod bpffs;
mod floor;
mod links;
mod loader;
mod lock;
mod privilege;
mod slots;
#[cfg(test)]
mod tests;
mod watch;

pub use abi::{HostAbis, StartMode};
pub use attach::{AttachChoice, AttachPoint, ATTACH_ENV};
use bpffs::ensure_bpffs;
pub use bpffs::{remove_stale_builds, unload};
pub use floor::FloorProgram;
use loader::load_and_pin;
pub use lock::{StateLock, LOCK_WAIT};
pub use privilege::require_root;
pub use slots::{config_for, monotonic_ns};
use slots::{first_call, members_of, slot_used};
pub use watch::Claim;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData, MapError, Queue};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{ProgramError, RawTracePoint};
use aya::{EbpfError, EbpfLoader};
use recorder_ebpf::{
    cgroup_bucket, counter_row, nr_of_cell, pins, ArgKey, ArgSpec, CgroupEntry, Config, FirstUse,
    FirstUseKey, SlotState, ABI_COMPAT, ABI_COUNT, ABI_NATIVE, ABI_X32, CGROUP_PROBES,
    CGROUP_TOMBSTONE, EPOCH_USER, MAX_LEVELS, MAX_RECORDINGS, NR_PER_ROW, SLOT_ARMED, SLOT_FREE,
    SLOT_RECORDING, SLOT_WATCHING, START_AT_EXEC, START_AT_FILTER_OR_EXEC, START_NOW,
    X32_SYSCALL_BIT,
};

use crate::kernel::btf::{self, BtfError, CompatProbe};
use crate::kernel::cgroup::{overlap, CgroupId, Overlap};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::syscalls::Arch;

/// The compiled eBPF object, embedded at build time.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/recorder-ebpf"));

/// Default base directory for pins (a subdirectory per program build).
pub const DEFAULT_BPF_DIR: &str = "/sys/fs/bpf/seccomp-recorder";
/// Default run directory (lock file, recording state).
pub const DEFAULT_RUN_DIR: &str = "/run/seccomp-recorder";

type Row = [u64; NR_PER_ROW];

/// Errors of the tracer.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// Not root.
    #[error("recording needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run as root")]
    NotRoot,
    /// Root, but without the capabilities eBPF tracing needs.
    #[error("recording needs CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON, and this process has neither (effective capabilities {0:#x}: a container or a capability-dropping wrapper?); run it as full root on the host")]
    MissingCaps(u64),
    /// A custom pin location is not on a bpf file system.
    #[error("{0} is not on a bpf file system: SECCOMP_RECORDER_BPF_DIR must lie on bpffs (mount -t bpf bpf DIR)")]
    NotOnBpffs(PathBuf),
    /// bpffs is not mounted and could not be mounted.
    #[error("bpffs is not mounted at {0} and mounting it failed (mount -t bpf bpf {0})")]
    NoBpffs(PathBuf, #[source] io::Error),
    /// Reading the kernel's BTF failed.
    #[error("cannot find where the kernel marks compat tasks")]
    Btf(#[from] BtfError),
    /// The program could not be loaded.
    #[error("loading the eBPF program failed")]
    Load(#[source] Box<EbpfError>),
    /// The loader child failed (its error, as text, with its exit-code category).
    #[error("loading the eBPF program failed: {message}")]
    LoaderChild {
        /// The exit code of the child's error category.
        code: u8,
        /// The child's error chain.
        message: String,
    },
    /// A program operation failed.
    #[error("eBPF program operation failed: {what}")]
    Program {
        /// What we were doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// A map operation failed.
    #[error("eBPF map operation failed: {what}")]
    Map {
        /// What we were doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<MapError>,
    },
    /// A file operation failed.
    #[error("{what} {path}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// All slots are in use.
    #[error("too many recordings at once (at most {MAX_RECORDINGS}); finish some or run `seccomp-recorder gc`")]
    NoFreeSlot,
    /// The cgroup table has no room near the id's bucket.
    #[error("cgroup table is full around cgroup {0}; finish some recordings")]
    TableFull(u64),
    /// Too many distinct cgroup levels.
    #[error("recorded cgroups span more than {MAX_LEVELS} hierarchy levels at once")]
    TooManyLevels,
    /// The cgroup is already being recorded.
    #[error("cgroup {0} is already being recorded")]
    AlreadyRecorded(u64),
    /// A watch depth out of range.
    #[error("a watch claims cgroups 1 to {max} levels below it, not {0}", max = recorder_ebpf::MAX_WATCH_DEPTH)]
    WatchDepth(u32),
    /// The cgroup lies inside, or contains, a cgroup already being recorded: a process
    /// counts in one recording only, so one of the two would silently miss calls.
    #[error("{} {} (cgroup id {other}): nested recordings are not supported, since a process counts in one recording only; stop the other recording, or record the pod and the container one after the other", .dir.display(), match .relation { Overlap::Inside(_) => "lies inside a cgroup that is already being recorded", Overlap::Contains(_) => "contains a cgroup that is already being recorded" })]
    Overlaps {
        /// The cgroup asked for.
        dir: PathBuf,
        /// How it overlaps.
        relation: Overlap,
        /// The recorded cgroup's id.
        other: u64,
    },
    /// Another process held the state lock too long.
    #[error("another seccomp-recorder process has held {} for {} s (hung? `fuser -v` names it); try again", .0.display(), LOCK_WAIT.as_secs())]
    LockTimeout(PathBuf),
    /// The slot is not in use.
    #[error("recording slot {0} is not in use")]
    NotInUse(u32),
    /// The architecture has no syscall table.
    #[error("unsupported host architecture {0}")]
    UnsupportedArch(&'static str),
    /// `SECCOMP_RECORDER_ATTACH` names no attach point.
    #[error("SECCOMP_RECORDER_ATTACH is '{0}': expected auto, fentry or tracepoint")]
    BadAttach(String),
    /// `fentry` was asked for and this kernel cannot have it.
    #[error("fentry on the syscall dispatchers is not available: {0}; use SECCOMP_RECORDER_ATTACH=tracepoint (or auto)")]
    FentryUnavailable(String),
}

impl Categorized for TracerError {
    fn category(&self) -> Category {
        match self {
            TracerError::NotRoot | TracerError::MissingCaps(_) => Category::Permission,
            TracerError::NoBpffs(..)
            | TracerError::NotOnBpffs(_)
            | TracerError::Btf(_)
            | TracerError::UnsupportedArch(_)
            | TracerError::FentryUnavailable(_) => Category::MissingKernelFeature,
            TracerError::BadAttach(_) => Category::BadInput,
            TracerError::Io { .. } => Category::Io,
            // All slots (or cgroup table buckets) taken: try again later.
            TracerError::NoFreeSlot
            | TracerError::TableFull(_)
            | TracerError::LockTimeout(_)
            | TracerError::Overlaps { .. } => Category::Unavailable,
            TracerError::LoaderChild { code, .. } => match *code {
                c if c == Category::MissingKernelFeature.code() => Category::MissingKernelFeature,
                c if c == Category::Permission.code() => Category::Permission,
                c if c == Category::Io.code() => Category::Io,
                _ => Category::Internal,
            },
            _ => Category::Internal,
        }
    }
}

fn map_err(what: &'static str) -> impl FnOnce(MapError) -> TracerError {
    move |e| TracerError::Map {
        what,
        source: Box::new(e),
    }
}

fn prog_err(what: &'static str) -> impl FnOnce(ProgramError) -> TracerError {
    move |e| TracerError::Program {
        what,
        source: Box::new(e),
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TracerError {
    let path = path.to_owned();
    move |source| TracerError::Io { what, path, source }
}

/// The error of a pin operation (map, program or link) that failed at `path` (aya's
/// pinning errors carry the cause; ours names the file).
fn pin_err<E>(what: &'static str, path: &Path) -> impl FnOnce(E) -> TracerError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let path = path.to_owned();
    move |e| TracerError::Io {
        what,
        path,
        source: io::Error::other(e),
    }
}

/// Where the tracer keeps its pins and lock.
#[derive(Debug, Clone)]
pub struct TracerPaths {
    /// Base of the pin directories (a subdirectory per program build).
    pub bpf_base: PathBuf,
    /// Directory of the lock file and state.
    pub run_dir: PathBuf,
    /// The kernel BTF file to read offsets from.
    pub btf: PathBuf,
}

impl TracerPaths {
    /// Paths from the environment (`SECCOMP_RECORDER_BPF_DIR`, `SECCOMP_RECORDER_RUN_DIR`,
    /// `SECCOMP_RECORDER_BTF`) or the defaults.
    pub fn from_env() -> Self {
        let var = |k: &str, d: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        TracerPaths {
            bpf_base: var("SECCOMP_RECORDER_BPF_DIR", DEFAULT_BPF_DIR),
            run_dir: var("SECCOMP_RECORDER_RUN_DIR", DEFAULT_RUN_DIR),
            btf: var("SECCOMP_RECORDER_BTF", btf::VMLINUX_BTF),
        }
    }

    /// The pin directory of this build's program: maps of another build have another
    /// layout, so each build pins its own set.
    pub fn pin_dir(&self) -> PathBuf {
        self.bpf_base.join(format!("v1-{:016x}", fnv1a(OBJECT)))
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Handles on the pinned maps.
pub struct Tracer {
    paths: TracerPaths,
    dir: PathBuf,
    abis: HostAbis,
    config: Array<MapData, Config>,
    cgroups: Array<MapData, CgroupEntry>,
    slots: Array<MapData, SlotState>,
    counts: Array<MapData, Row>,
    first_use: BpfHashMap<MapData, FirstUseKey, FirstUse>,
    overflow: BpfHashMap<MapData, FirstUseKey, u64>,
    arg_values: BpfHashMap<MapData, ArgKey, u64>,
    epoch: Array<MapData, u64>,
    spare: Queue<MapData, u32>,
    claims: BpfHashMap<MapData, u64, u32>,
    missed: Array<MapData, u64>,
}

/// One counted syscall of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Architecture (ABI) of the call.
    pub arch: Arch,
    /// Syscall number as the ABI numbers it (x32 with its marker bit).
    pub nr: u64,
    /// How many calls.
    pub count: u64,
    /// First call: nanoseconds after the recording started, thread group, comm.
    pub first: Option<FirstCall>,
}

/// The first call of a syscall in a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstCall {
    /// Nanoseconds since counting started.
    pub after_ns: u64,
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Command name of the thread.
    pub comm: String,
}

/// Everything a recording counted.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Counted syscalls, sorted by architecture then number.
    pub calls: Vec<Counted>,
    /// Recorded argument values of the tracked syscalls (recordings with arguments).
    pub args: Vec<seccomp_profile::args::ArgValue>,
    /// Whether some argument value could not be stored (the map was full).
    pub args_lost: bool,
    /// Where the program saw the calls.
    pub attach: Option<AttachPoint>,
}

fn open_map<T>(dir: &Path, name: &str) -> Result<T, TracerError>
where
    T: TryFrom<Map, Error = MapError>,
{
    let path = dir.join(name);
    let data = MapData::from_pin(&path).map_err(map_err("cannot open pinned map"))?;
    let map = Map::from_map_data(data).map_err(map_err("unexpected pinned map type"))?;
    T::try_from(map).map_err(map_err("unexpected pinned map layout"))
}

impl Tracer {
    /// Opens the pinned program and maps, loading and pinning them first if needed.
    pub fn open(paths: &TracerPaths) -> Result<Self, TracerError> {
        require_root()?;
        let abis = HostAbis::host()?;
        ensure_bpffs(&paths.bpf_base)?;
        let dir = paths.pin_dir();
        let mut loaded_now = false;
        if !dir.join(pins::PROGRAM).exists() {
            let _lock = StateLock::acquire(&paths.run_dir)?;
            if !dir.join(pins::PROGRAM).exists() {
                load_and_pin(paths, &dir)?;
                loaded_now = true;
            }
        }
        let tracer = Tracer {
            paths: paths.clone(),
            abis,
            config: open_map(&dir, pins::CONFIG)?,
            cgroups: open_map(&dir, pins::CGROUPS)?,
            slots: open_map(&dir, pins::SLOTS)?,
            counts: open_map(&dir, pins::COUNTS)?,
            first_use: open_map(&dir, pins::FIRST_USE)?,
            overflow: open_map(&dir, pins::OVERFLOW)?,
            arg_values: open_map(&dir, pins::ARGS)?,
            epoch: open_map(&dir, pins::EPOCH)?,
            spare: open_map(&dir, pins::SPARE)?,
            claims: open_map(&dir, pins::CLAIMS)?,
            missed: open_map(&dir, pins::MISSED)?,
            dir,
        };
        if !loaded_now {
            tracer.warn_if_not(AttachChoice::from_env()?);
        }
        Ok(tracer)
    }

    /// Where pins, lock and state live.
    pub fn paths(&self) -> &TracerPaths {
        &self.paths
    }

    /// Every slot in use, with its state.
    pub fn active(&self) -> Result<Vec<(u32, SlotState)>, TracerError> {
        let config = self
            .config
            .get(&0, 0)
            .map_err(map_err("cannot read config"))?;
        let mut out = Vec::new();
        for slot in (0..MAX_RECORDINGS).filter(|s| slot_used(&config, *s)) {
            let st = self
                .slots
                .get(&slot, 0)
                .map_err(map_err("cannot read slot state"))?;
            if st.state != SLOT_FREE {
                out.push((slot, st));
            }
        }
        Ok(out)
    }

    /// Like [`register`](Self::register); with `record_args` the distinct argument
    /// values of the tracked syscalls (see [`crate::kernel::args`]) are recorded too.
    pub fn register_with(
        &mut self,
        (dir, cgroup): (&Path, CgroupId),
        level: u32,
        mode: StartMode,
        record_args: bool,
    ) -> Result<u32, TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let active = self.active()?;
        if active.iter().any(|(_, s)| s.cgroup_id == cgroup.0) {
            return Err(TracerError::AlreadyRecorded(cgroup.0));
        }
        // Watches and the agent's spares are no recordings: a task below a watch counts
        // in a recording made below it (the deeper entry is found first).
        let recorded: Vec<u64> = active
            .iter()
            .filter(|(_, s)| s.state != SLOT_WATCHING && s.cgroup_id != 0)
            .map(|(_, s)| s.cgroup_id)
            .collect();
        if let Some(relation) = overlap(dir, level, &recorded) {
            let (Overlap::Inside(other) | Overlap::Contains(other)) = relation;
            return Err(TracerError::Overlaps {
                dir: dir.to_owned(),
                relation,
                other,
            });
        }
        let slot = (0..MAX_RECORDINGS)
            .find(|s| !active.iter().any(|(a, _)| a == s))
            .ok_or(TracerError::NoFreeSlot)?;
        let mut members = members_of(&active);
        members.push((slot, Some(level)));
        let config = config_for(&members)?;
        // Table full or the id already there: before anything is written.
        let bucket = self.free_bucket(cgroup.0)?;
        // The config (slot bit, level) goes first: a crash after it leaves a bit whose
        // slot is free, which `active` ignores; never a used slot nobody can find.
        self.config
            .set(0, config, 0)
            .map_err(map_err("cannot write config"))?;

        for abi in 0..ABI_COUNT {
            self.counts
                .set(counter_row(slot, abi), [0u64; NR_PER_ROW], 0)
                .map_err(map_err("cannot clear counters"))?;
        }
        let state = SlotState {
            state: if mode == StartMode::Now {
                SLOT_RECORDING
            } else {
                SLOT_ARMED
            },
            start_mode: mode.raw(),
            started_ns: if mode == StartMode::Now {
                monotonic_ns()
            } else {
                0
            },
            cgroup_id: cgroup.0,
            level,
            filtered_only: 0,
            record_args: u32::from(record_args),
            args_lost: 0,
            agent: 0,
            _pad: 0,
            arg_values: [0; recorder_ebpf::ARG_TALLIES],
        };
        // Values a crashed earlier user of this slot left behind.
        self.forget_arg_values(slot);
        self.slots
            .set(slot, state, 0)
            .map_err(map_err("cannot write slot state"))?;
        self.put_entry(
            bucket,
            CgroupEntry {
                cgroup_id: cgroup.0,
                slot,
                level,
            },
        )?;
        self.attach()?;
        tracing::debug!(
            slot,
            cgroup = cgroup.0,
            level,
            ?mode,
            "registered recording"
        );
        Ok(slot)
    }

    fn free_bucket(&self, id: u64) -> Result<u32, TracerError> {
        let mut free = None;
        for probe in 0..CGROUP_PROBES {
            let b = cgroup_bucket(id, probe);
            let e = self
                .cgroups
                .get(&b, 0)
                .map_err(map_err("cannot read cgroup table"))?;
            if e.cgroup_id == id {
                return Err(TracerError::AlreadyRecorded(id));
            }
            if free.is_none() && (e.cgroup_id == 0 || e.cgroup_id == CGROUP_TOMBSTONE) {
                free = Some(b);
            }
            if e.cgroup_id == 0 {
                break;
            }
        }
        free.ok_or(TracerError::TableFull(id))
    }

    /// Reads what slot `slot` counted so far.
    pub fn snapshot(&self, slot: u32) -> Result<Snapshot, TracerError> {
        self.snapshot_of(slot, None)
    }

    /// Reads what slot `slot` counted, if it still records cgroup `owner`
    /// (`NotInUse` otherwise: the slot was released and reused).
    pub fn snapshot_owned(&self, slot: u32, owner: CgroupId) -> Result<Snapshot, TracerError> {
        self.snapshot_of(slot, Some(owner))
    }

    /// The state of `slot` if it is in use (and, with `owner`, records that cgroup).
    fn slot_in_use(&self, slot: u32, owner: Option<CgroupId>) -> Result<SlotState, TracerError> {
        let st = self
            .slots
            .get(&slot, 0)
            .map_err(map_err("cannot read slot state"))?;
        if st.state == SLOT_FREE || owner.is_some_and(|o| o.0 != st.cgroup_id) {
            return Err(TracerError::NotInUse(slot));
        }
        Ok(st)
    }

    fn snapshot_of(&self, slot: u32, owner: Option<CgroupId>) -> Result<Snapshot, TracerError> {
        let st = self.slot_in_use(slot, owner)?;
        let mut calls = Vec::new();
        for abi in 0..ABI_COUNT {
            let Some(arch) = self.abis.arch_of(abi) else {
                continue;
            };
            let row = self
                .counts
                .get(&counter_row(slot, abi), 0)
                .map_err(map_err("cannot read counters"))?;
            for (cell, &count) in row.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let nr = nr_of_cell(cell);
                let key = FirstUseKey {
                    slot,
                    abi,
                    nr: nr as u32,
                    _pad: 0,
                };
                let first = self
                    .first_use
                    .get(&key, 0)
                    .ok()
                    .map(|f| first_call(&f, st.started_ns));
                calls.push(Counted {
                    arch,
                    nr: self.abis.display_nr(abi, nr),
                    count,
                    first,
                });
            }
        }
        for item in self.overflow.iter() {
            let (key, count) = item.map_err(map_err("cannot read overflow counters"))?;
            if key.slot != slot {
                continue;
            }
            if let Some(arch) = self.abis.arch_of(key.abi) {
                calls.push(Counted {
                    arch,
                    nr: self.abis.display_nr(key.abi, u64::from(key.nr)),
                    count,
                    first: None,
                });
            }
        }
        calls.sort_by_key(|c| (c.arch, c.nr));
        let mut args = Vec::new();
        if st.record_args != 0 {
            for item in self.arg_values.iter() {
                let (key, count) = item.map_err(map_err("cannot read argument values"))?;
                if key.slot != slot || count == 0 {
                    continue;
                }
                let Some(arch) = self.abis.arch_of(key.abi) else {
                    continue;
                };
                let nr = self.abis.display_nr(key.abi, u64::from(key.nr));
                if let Some(v) = arch.name_of(nr).and_then(|name| {
                    seccomp_profile::args::value_of(arch, name, key.a, key.b, count)
                }) {
                    args.push(v);
                }
            }
            args.sort();
        }
        Ok(Snapshot {
            calls,
            args,
            args_lost: st.args_lost != 0,
            attach: self.attach_point().ok(),
        })
    }

    /// Ends a recording: its cgroup stops being counted, its slot is freed, and the
    /// program is detached when no recording is left.
    pub fn release(&mut self, slot: u32) -> Result<(), TracerError> {
        self.release_of(slot, None)
    }

    /// Releases `slot` only if it still records cgroup `owner` (`NotInUse` otherwise).
    /// The check and the release happen under the state lock.
    pub fn release_owned(&mut self, slot: u32, owner: CgroupId) -> Result<(), TracerError> {
        self.release_of(slot, Some(owner))
    }

    fn release_of(&mut self, slot: u32, owner: Option<CgroupId>) -> Result<(), TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let st = self.slot_in_use(slot, owner)?;
        // Remove the cgroup from the table (tombstone keeps probe chains intact).
        self.remove_entry(st.cgroup_id)?;
        let remaining: Vec<(u32, SlotState)> = self
            .active()?
            .into_iter()
            .filter(|(s, _)| *s != slot)
            .collect();
        self.config
            .set(0, config_for(&members_of(&remaining))?, 0)
            .map_err(map_err("cannot write config"))?;
        // Every CPU's task cache may still name this slot.
        self.bump_epoch()?;
        self.forget_records(slot)?;
        self.slots
            .set(slot, SlotState::default(), 0)
            .map_err(map_err("cannot write slot state"))?;
        if remaining.is_empty() {
            self.detach()?;
        }
        tracing::debug!(slot, "released recording");
        Ok(())
    }

    /// Forgets what `slot` recorded besides its counters: first uses (only counters
    /// that moved have one, and ids past a row, found in `OVERFLOW`), overflow counts
    /// and argument values. Reads the counters: call it before zeroing them.
    fn forget_records(&mut self, slot: u32) -> Result<(), TracerError> {
        for abi in 0..ABI_COUNT {
            let row = self
                .counts
                .get(&counter_row(slot, abi), 0)
                .map_err(map_err("cannot read counters"))?;
            for (cell, _) in row.iter().enumerate().filter(|(_, c)| **c != 0) {
                let key = FirstUseKey {
                    slot,
                    abi,
                    nr: nr_of_cell(cell) as u32,
                    _pad: 0,
                };
                let _ = self.first_use.remove(&key);
            }
        }
        let stale: Vec<FirstUseKey> = self
            .overflow
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.slot == slot)
            .collect();
        for k in stale {
            let _ = self.first_use.remove(&k);
            let _ = self.overflow.remove(&k);
        }
        self.forget_arg_values(slot);
        Ok(())
    }

    /// Removes the argument values stored for `slot`.
    fn forget_arg_values(&mut self, slot: u32) {
        let stale: Vec<ArgKey> = self
            .arg_values
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.slot == slot)
            .collect();
        for k in stale {
            let _ = self.arg_values.remove(&k);
        }
    }
}
