//! The kernel side seen from user space: load the eBPF program once, pin it and its
//! maps in bpffs, register and release recordings, attach the program while at least
//! one recording is active and detach it when the last one ends.
//!
//! Every process (CLI, each hook invocation) opens the pinned maps; changes to the
//! shared state happen under an exclusive `flock` on a file in the run directory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData, MapError};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{ProgramError, RawTracePoint};
use aya::{EbpfError, EbpfLoader};
use recorder_ebpf::{
    counter_row, pins, ArgKey, ArgSpec, CgroupEntry, Config, FirstUse, FirstUseKey, SlotState,
    ABI_COMPAT, ABI_COUNT, ABI_NATIVE, ABI_X32, CGROUP_BUCKETS, CGROUP_PROBES, CGROUP_TOMBSTONE,
    EPOCH_USER, MAX_LEVELS, MAX_RECORDINGS, NR_PER_ROW, SLOT_ARMED, SLOT_FREE, SLOT_RECORDING,
    START_AT_EXEC, START_AT_FILTER_OR_EXEC, START_NOW, X32_SYSCALL_BIT,
};

use crate::btf::{self, BtfError, CompatProbe};
use crate::cgroup::CgroupId;
use crate::exit::{Categorized, Category};
use crate::syscalls::Arch;

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
    /// Another process held the state lock too long.
    #[error("another seccomp-recorder process has held {} for {} s (hung? `fuser -v` names it); try again", .0.display(), LOCK_WAIT.as_secs())]
    LockTimeout(PathBuf),
    /// The slot is not in use.
    #[error("recording slot {0} is not in use")]
    NotInUse(u32),
    /// The architecture has no syscall table.
    #[error("unsupported host architecture {0}")]
    UnsupportedArch(&'static str),
}

impl Categorized for TracerError {
    fn category(&self) -> Category {
        match self {
            TracerError::NotRoot | TracerError::MissingCaps(_) => Category::Permission,
            TracerError::NoBpffs(..)
            | TracerError::NotOnBpffs(_)
            | TracerError::Btf(_)
            | TracerError::UnsupportedArch(_) => Category::MissingKernelFeature,
            TracerError::Io { .. } => Category::Io,
            // All slots (or cgroup table buckets) taken: try again later.
            TracerError::NoFreeSlot | TracerError::TableFull(_) | TracerError::LockTimeout(_) => {
                Category::Unavailable
            }
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

/// When a registered recording starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// At once.
    Now,
    /// At the first execve/execveat in the cgroup (which is counted).
    AtExec,
    /// When the runtime loads the container's seccomp filter (not counted) or at the
    /// first exec, whichever comes first.
    AtFilterOrExec,
}

impl StartMode {
    fn raw(self) -> u32 {
        match self {
            StartMode::Now => START_NOW,
            StartMode::AtExec => START_AT_EXEC,
            StartMode::AtFilterOrExec => START_AT_FILTER_OR_EXEC,
        }
    }
}

/// Syscall ABIs of the host, in counter-row order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAbis {
    /// The native ABI.
    pub native: Arch,
    /// The compat ABI, if the host has one.
    pub compat: Option<Arch>,
    /// x32, on x86_64.
    pub x32: Option<Arch>,
}

impl HostAbis {
    /// The ABIs of the architecture this binary was built for.
    pub fn host() -> Result<Self, TracerError> {
        match Arch::native() {
            Some(Arch::X86_64) => Ok(HostAbis {
                native: Arch::X86_64,
                compat: Some(Arch::X86),
                x32: Some(Arch::X32),
            }),
            Some(Arch::Aarch64) => Ok(HostAbis {
                native: Arch::Aarch64,
                compat: Some(Arch::Arm),
                x32: None,
            }),
            Some(native) => Ok(HostAbis {
                native,
                compat: None,
                x32: None,
            }),
            None => Err(TracerError::UnsupportedArch(std::env::consts::ARCH)),
        }
    }

    /// The architecture of counter row `abi`.
    pub fn arch_of(&self, abi: u32) -> Option<Arch> {
        match abi {
            ABI_NATIVE => Some(self.native),
            ABI_COMPAT => self.compat,
            ABI_X32 => self.x32,
            _ => None,
        }
    }

    /// The syscall number user space shows for row `abi`, number `nr` (x32 numbers carry
    /// the x32 bit, as libseccomp and ausyscall show them).
    pub fn display_nr(&self, abi: u32, nr: u64) -> u64 {
        if abi == ABI_X32 {
            nr | X32_SYSCALL_BIT
        } else {
            nr
        }
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

/// How long [`StateLock::acquire`] waits for another holder (below the hook timeout).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An exclusive lock on the tracer's shared state, released on drop.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock, waiting for other holders.
    pub fn acquire(run_dir: &Path) -> Result<Self, TracerError> {
        crate::fsmode::create_dir(run_dir)
            .map_err(io_err("cannot create run directory", run_dir))?;
        let path = run_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("cannot open lock file", &path))?;
        // Bounded: hooks run under the runtime's timeout (10 s in our hook JSON); a
        // holder that hangs must not hang every container start with it.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(StateLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(TracerError::Io {
                    what: "cannot lock",
                    path,
                    source: e,
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(TracerError::LockTimeout(path));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// Ensures a bpf file system is mounted at the parent of `base` (mounting it when absent).
fn ensure_bpffs(base: &Path) -> Result<(), TracerError> {
    if !base.starts_with("/sys/fs/bpf") {
        // A custom location must already be on bpffs: say so before pinning fails
        // with a bare EPERM.
        let existing = base
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(Path::new("/"));
        if is_bpffs(existing) {
            return Ok(());
        }
        return Err(TracerError::NotOnBpffs(existing.to_owned()));
    }
    let mount_point = base
        .ancestors()
        .find(|p| p.parent() == Some(Path::new("/sys/fs")) || p == &Path::new("/sys/fs/bpf"))
        .unwrap_or(Path::new("/sys/fs/bpf"));
    if is_bpffs(mount_point) {
        return Ok(());
    }
    let target = Path::new("/sys/fs/bpf");
    let c_target = std::ffi::CString::new("/sys/fs/bpf").expect("static path");
    let c_type = std::ffi::CString::new("bpf").expect("static str");
    // SAFETY: mount(2) with valid C strings.
    let rc = unsafe {
        libc::mount(
            c_type.as_ptr(),
            c_target.as_ptr(),
            c_type.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TracerError::NoBpffs(
            target.to_owned(),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn is_bpffs(path: &Path) -> bool {
    const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == BPF_FS_MAGIC
}

/// Checks that we run as root.
pub fn require_root() -> Result<(), TracerError> {
    // SAFETY: geteuid never fails.
    if unsafe { libc::geteuid() } != 0 {
        return Err(TracerError::NotRoot);
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(eff) = effective_caps(&status) {
        if !can_trace(eff) {
            return Err(TracerError::MissingCaps(eff));
        }
    }
    Ok(())
}

/// The `CapEff` mask of a /proc/PID/status text (pure).
pub fn effective_caps(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Whether capabilities `eff` allow loading and attaching our program (pure):
/// CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON (raw tracepoints).
pub fn can_trace(eff: u64) -> bool {
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    eff & CAP_SYS_ADMIN != 0 || (eff & CAP_BPF != 0 && eff & CAP_PERFMON != 0)
}

/// Syscall numbers (execve, execveat, seccomp, prctl) of an ABI, as the program sees them.
fn trigger_nrs(arch: Option<Arch>) -> [u32; 4] {
    let Some(arch) = arch else {
        return [u32::MAX; 4];
    };
    let nr = |name: &str| {
        arch.number_of(name)
            .map(|n| (n & !X32_SYSCALL_BIT) as u32)
            .unwrap_or(u32::MAX)
    };
    [nr("execve"), nr("execveat"), nr("seccomp"), nr("prctl")]
}

/// Byte offsets in `struct pt_regs` of syscall arguments 0..3 for an ABI.
fn arg_offsets(arch: Option<Arch>) -> [u32; 3] {
    match arch {
        // di, si, dx
        Some(Arch::X86_64) | Some(Arch::X32) => [112, 104, 96],
        // bx, cx, dx (i386 calling convention, saved in the same pt_regs)
        Some(Arch::X86) => [40, 88, 96],
        // regs[0..3]
        Some(Arch::Aarch64) | Some(Arch::Arm) | Some(Arch::Riscv64) => [0, 8, 16],
        None => [0; 3],
    }
}

/// Loads the program and pins it. aya's loader parses the whole vmlinux BTF (~25 ms
/// here) for CO-RE relocations this program does not use; when this process is
/// single-threaded, the load runs in a forked child whose private mount namespace
/// hides `/sys/kernel/btf`, so that parse finds nothing. Pins are global, so the
/// child's work is visible to us. Anything unexpected falls back to loading here.
fn load_and_pin(paths: &TracerPaths, dir: &Path) -> Result<(), TracerError> {
    let kernel = btf::KernelOffsets::read(&paths.btf)?;
    if !single_threaded() {
        return load_and_pin_with(paths, dir, kernel);
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 with a valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return load_and_pin_with(paths, dir, kernel);
    }
    // SAFETY: the process is single-threaded, so the child may run ordinary code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: closing the read end in the child.
        unsafe { libc::close(fds[0]) };
        let (code, message) = match hide_kernel_btf() {
            Err(e) => (HIDE_FAILED, e.to_string()),
            Ok(()) => match load_and_pin_with(paths, dir, kernel) {
                Ok(()) => (0u8, String::new()),
                Err(e) => (e.category().code(), error_chain(&e)),
            },
        };
        let mut buf = vec![code];
        buf.extend_from_slice(message.as_bytes());
        // SAFETY: writing our buffer to the pipe, then leaving without running the
        // parent's destructors or atexit handlers.
        unsafe {
            libc::write(fds[1], buf.as_ptr().cast(), buf.len());
            libc::_exit(0);
        }
    }
    // SAFETY: closing the write end in the parent.
    unsafe { libc::close(fds[1]) };
    if pid < 0 {
        // SAFETY: closing the read end.
        unsafe { libc::close(fds[0]) };
        return load_and_pin_with(paths, dir, kernel);
    }
    use std::io::Read;
    // SAFETY: we own the read end.
    let mut pipe = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
    let mut answer = Vec::new();
    let _ = pipe.read_to_end(&mut answer);
    let mut status = 0;
    // SAFETY: reaping our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match answer.split_first() {
        Some((0, _)) => Ok(()),
        Some((&HIDE_FAILED, why)) => {
            tracing::debug!(why = %String::from_utf8_lossy(why), "cannot hide vmlinux BTF; loading in-process");
            load_and_pin_with(paths, dir, kernel)
        }
        Some((code, message)) => Err(TracerError::LoaderChild {
            code: *code,
            message: String::from_utf8_lossy(message).into_owned(),
        }),
        None => load_and_pin_with(paths, dir, kernel),
    }
}

/// Marker of the loader child: hiding BTF failed (fall back).
const HIDE_FAILED: u8 = 255;

fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Threads:", "1"])
        })
        .unwrap_or(false)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// In a new private mount namespace, covers /sys/kernel/btf with an empty tmpfs.
fn hide_kernel_btf() -> io::Result<()> {
    let c = |s: &str| std::ffi::CString::new(s).map_err(io::Error::other);
    // SAFETY: plain syscalls with valid C strings.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(io::Error::last_os_error());
        }
        let root = c("/")?;
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let (src, target, fstype) = (c("none")?, c("/sys/kernel/btf")?, c("tmpfs")?);
        if libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_RDONLY,
            std::ptr::null(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The `ARG_SPECS` global: one spec table per ABI.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct ArgSpecs([[ArgSpec; recorder_ebpf::MAX_ARG_SPECS]; 3]);

// SAFETY: a transparent wrapper of arrays of a Pod type.
unsafe impl aya::Pod for ArgSpecs {}

/// Loads the program with this host's parameters and pins program and maps in `dir`.
fn load_and_pin_with(
    paths: &TracerPaths,
    dir: &Path,
    kernel: btf::KernelOffsets,
) -> Result<(), TracerError> {
    let _ = paths;
    let abis = HostAbis::host()?;
    let compat = if abis.compat.is_some() {
        kernel.compat
    } else {
        None
    };
    let CompatProbe { offset, mask } = compat.unwrap_or(CompatProbe { offset: 0, mask: 0 });
    let seccomp_mode = kernel.seccomp_mode;
    let seccomp_known = u32::from(seccomp_mode.is_some());
    let seccomp_offset = seccomp_mode.unwrap_or(0);
    let x32: u32 = u32::from(abis.x32.is_some());
    let triggers = [
        trigger_nrs(Some(abis.native)),
        trigger_nrs(abis.compat),
        trigger_nrs(abis.x32),
    ];
    let offsets = [
        arg_offsets(Some(abis.native)),
        arg_offsets(abis.compat),
        arg_offsets(abis.x32),
    ];
    let triggers_flat: Vec<u32> = triggers.iter().flatten().copied().collect();
    let offsets_flat: Vec<u32> = offsets.iter().flatten().copied().collect();
    let triggers_arr: [u32; 12] = triggers_flat.try_into().unwrap_or([u32::MAX; 12]);
    let arg_specs = ArgSpecs([
        crate::args::specs_for(Some(abis.native)),
        crate::args::specs_for(abis.compat),
        crate::args::specs_for(abis.x32),
    ]);
    let offsets_arr: [u32; 9] = offsets_flat.try_into().unwrap_or([0; 9]);

    // aya parses vmlinux BTF for CO-RE we do not use; the loader helper hides it.
    let mut loader = EbpfLoader::new();
    loader
        .btf(None)
        .override_global("COMPAT_OFFSET", &offset, true)
        .override_global("COMPAT_MASK", &mask, true)
        .override_global("X32_ENABLED", &x32, true)
        .override_global("SECCOMP_MODE_OFFSET", &seccomp_offset, true)
        .override_global("SECCOMP_MODE_KNOWN", &seccomp_known, true)
        .override_global("TRIGGER_NRS", &triggers_arr, true)
        .override_global("ARG_OFFSETS", &offsets_arr, true)
        .override_global("ARG_SPECS", &arg_specs, true);
    let mut ebpf = loader
        .load(OBJECT)
        .map_err(|e| TracerError::Load(Box::new(e)))?;

    // Remove leftovers of an interrupted load.
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_err("cannot clean pin directory", dir))?;
    }
    crate::fsmode::create_dir(dir).map_err(io_err("cannot create pin directory", dir))?;
    for name in pins::MAPS {
        let map = ebpf.map(name).ok_or(TracerError::Map {
            what: "map missing from the eBPF object",
            source: Box::new(MapError::InvalidName {
                name: name.to_owned(),
            }),
        })?;
        map.pin(dir.join(name)).map_err(|e| TracerError::Io {
            what: "cannot pin map at",
            path: dir.join(name),
            source: io::Error::other(e),
        })?;
    }
    // The cache keepers first: the `sys_enter` program pin means "fully loaded".
    for (name, pin) in [
        ("sched_switch", pins::PROGRAM_SWITCH),
        ("cgroup_attach_task", pins::PROGRAM_MIGRATE),
    ] {
        load_raw_tracepoint(&mut ebpf, name)?
            .pin(dir.join(pin))
            .map_err(|e| TracerError::Io {
                what: "cannot pin program at",
                path: dir.join(pin),
                source: io::Error::other(e),
            })?;
    }
    let program = load_raw_tracepoint(&mut ebpf, "sys_enter")?;
    // The program pin is written last: its presence means "fully loaded".
    program
        .pin(dir.join(pins::PROGRAM))
        .map_err(|e| TracerError::Io {
            what: "cannot pin program at",
            path: dir.join(pins::PROGRAM),
            source: io::Error::other(e),
        })?;
    Ok(())
}

/// Loads the raw tracepoint program `name` of `ebpf` into the kernel (verifier).
fn load_raw_tracepoint<'e>(
    ebpf: &'e mut aya::Ebpf,
    name: &str,
) -> Result<&'e mut RawTracePoint, TracerError> {
    let program: &mut RawTracePoint = ebpf
        .program_mut(name)
        .ok_or_else(|| TracerError::Program {
            what: "program missing from the eBPF object",
            source: Box::new(ProgramError::NotLoaded),
        })?
        .try_into()
        .map_err(prog_err("not a raw tracepoint program"))?;
    program
        .load()
        .map_err(prog_err("the verifier rejected the program"))?;
    Ok(program)
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
    /// Whether counting had started (the start trigger was seen).
    pub started: bool,
    /// Recorded argument values of the tracked syscalls (recordings with arguments).
    pub args: Vec<crate::args::ArgValue>,
    /// Whether argument values were recorded for this recording.
    pub args_recorded: bool,
    /// Whether some argument value could not be stored (the map was full).
    pub args_lost: bool,
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
        if !dir.join(pins::PROGRAM).exists() {
            let _lock = StateLock::acquire(&paths.run_dir)?;
            if !dir.join(pins::PROGRAM).exists() {
                load_and_pin(paths, &dir)?;
            }
        }
        Ok(Tracer {
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
            dir,
        })
    }

    /// The host's ABIs, in counter-row order.
    pub fn abis(&self) -> HostAbis {
        self.abis
    }

    /// Where pins, lock and state live.
    pub fn paths(&self) -> &TracerPaths {
        &self.paths
    }

    /// The pin directory in use.
    pub fn pin_dir(&self) -> &Path {
        &self.dir
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

    /// Registers a cgroup (and its descendants) for recording; returns its slot.
    pub fn register(
        &mut self,
        cgroup: CgroupId,
        level: u32,
        mode: StartMode,
    ) -> Result<u32, TracerError> {
        self.register_with(cgroup, level, mode, false)
    }

    /// Like [`register`](Self::register); with `record_args` the distinct argument
    /// values of the tracked syscalls (see [`crate::args`]) are recorded too.
    pub fn register_with(
        &mut self,
        cgroup: CgroupId,
        level: u32,
        mode: StartMode,
        record_args: bool,
    ) -> Result<u32, TracerError> {
        let _lock = StateLock::acquire(&self.paths.run_dir)?;
        let active = self.active()?;
        if active.iter().any(|(_, s)| s.cgroup_id == cgroup.0) {
            return Err(TracerError::AlreadyRecorded(cgroup.0));
        }
        let slot = (0..MAX_RECORDINGS)
            .find(|s| !active.iter().any(|(a, _)| a == s))
            .ok_or(TracerError::NoFreeSlot)?;
        let mut members: Vec<(u32, u32)> = active.iter().map(|(n, s)| (*n, s.level)).collect();
        members.push((slot, level));
        let config = config_for(&members)?;
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
        };
        // Values a crashed earlier user of this slot left behind.
        self.forget_arg_values(slot);
        self.slots
            .set(slot, state, 0)
            .map_err(map_err("cannot write slot state"))?;
        // Two steps so that the program never sees the new id with a stale slot.
        let mut entry = CgroupEntry {
            cgroup_id: 0,
            slot,
            level,
        };
        let current = self
            .cgroups
            .get(&bucket, 0)
            .map_err(map_err("cannot read cgroup table"))?;
        if current.cgroup_id == CGROUP_TOMBSTONE {
            entry.cgroup_id = CGROUP_TOMBSTONE;
        }
        self.cgroups
            .set(bucket, entry, 0)
            .map_err(map_err("cannot write cgroup table"))?;
        entry.cgroup_id = cgroup.0;
        self.cgroups
            .set(bucket, entry, 0)
            .map_err(map_err("cannot write cgroup table"))?;
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
            let b = bucket_of(id, probe);
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
            for (nr, &count) in row.iter().enumerate() {
                if count == 0 {
                    continue;
                }
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
                    nr: self.abis.display_nr(abi, nr as u64),
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
                if let Some(v) = arch
                    .name_of(nr)
                    .and_then(|name| crate::args::value_of(arch, name, key.a, key.b, count))
                {
                    args.push(v);
                }
            }
            args.sort();
        }
        Ok(Snapshot {
            calls,
            started: st.state == SLOT_RECORDING,
            args,
            args_recorded: st.record_args != 0,
            args_lost: st.args_lost != 0,
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
        for probe in 0..CGROUP_PROBES {
            let b = bucket_of(st.cgroup_id, probe);
            let e = self
                .cgroups
                .get(&b, 0)
                .map_err(map_err("cannot read cgroup table"))?;
            if e.cgroup_id == st.cgroup_id {
                let next_empty = probe + 1 >= CGROUP_PROBES || {
                    let n = bucket_of(st.cgroup_id, probe + 1);
                    self.cgroups
                        .get(&n, 0)
                        .map(|x| x.cgroup_id == 0)
                        .unwrap_or(false)
                };
                let gone = CgroupEntry {
                    cgroup_id: if next_empty { 0 } else { CGROUP_TOMBSTONE },
                    slot: 0,
                    level: 0,
                };
                self.cgroups
                    .set(b, gone, 0)
                    .map_err(map_err("cannot write cgroup table"))?;
                break;
            }
            if e.cgroup_id == 0 {
                break;
            }
        }
        let remaining: Vec<(u32, SlotState)> = self
            .active()?
            .into_iter()
            .filter(|(s, _)| *s != slot)
            .collect();
        let members: Vec<(u32, u32)> = remaining.iter().map(|(n, s)| (*n, s.level)).collect();
        self.config
            .set(0, config_for(&members)?, 0)
            .map_err(map_err("cannot write config"))?;
        // Every CPU's task cache may still name this slot.
        self.bump_epoch()?;
        // Forget first-use records of this slot: only counters that moved have one.
        for abi in 0..ABI_COUNT {
            let row = self
                .counts
                .get(&counter_row(slot, abi), 0)
                .map_err(map_err("cannot read counters"))?;
            for (nr, _) in row.iter().enumerate().filter(|(_, c)| **c != 0) {
                let key = FirstUseKey {
                    slot,
                    abi,
                    nr: nr as u32,
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
            let _ = self.overflow.remove(&k);
        }
        self.forget_arg_values(slot);
        self.slots
            .set(slot, SlotState::default(), 0)
            .map_err(map_err("cannot write slot state"))?;
        if remaining.is_empty() {
            self.detach()?;
        }
        tracing::debug!(slot, "released recording");
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

    /// Whether the program is attached to `sys_enter` now.
    pub fn attached(&self) -> bool {
        self.dir.join(pins::LINK).exists()
    }

    /// Makes every CPU's task cache stale: the next call on each CPU looks the task up
    /// again. Called after every change of the config or the cgroup table.
    fn bump_epoch(&mut self) -> Result<(), TracerError> {
        let now = self
            .epoch
            .get(&EPOCH_USER, 0)
            .map_err(map_err("cannot read epoch"))?;
        self.epoch
            .set(EPOCH_USER, now.wrapping_add(1), 0)
            .map_err(map_err("cannot write epoch"))
    }

    /// Attaches the cache keepers (`sched_switch`, `cgroup_attach_task`), makes the
    /// caches stale, then attaches `sys_enter`: the cache is only ever used while it is
    /// kept. Each step is skipped when already done (its link is pinned).
    fn attach(&mut self) -> Result<(), TracerError> {
        for (prog, tracepoint, link) in [
            (pins::PROGRAM_SWITCH, "sched_switch", pins::LINK_SWITCH),
            (
                pins::PROGRAM_MIGRATE,
                "cgroup_attach_task",
                pins::LINK_MIGRATE,
            ),
        ] {
            self.attach_one(prog, tracepoint, link)?;
        }
        // Entries filled while the keepers were detached are stale from here on.
        self.bump_epoch()?;
        self.attach_one(pins::PROGRAM, "sys_enter", pins::LINK)
    }

    fn attach_one(&self, prog: &str, tracepoint: &str, link: &str) -> Result<(), TracerError> {
        let link_path = self.dir.join(link);
        if link_path.exists() {
            return Ok(());
        }
        let mut program = RawTracePoint::from_pin(self.dir.join(prog))
            .map_err(prog_err("cannot open pinned program"))?;
        let id = program
            .attach(tracepoint)
            .map_err(prog_err("cannot attach to a raw tracepoint"))?;
        let fd_link: FdLink = program
            .take_link(id)
            .map_err(prog_err("cannot take link"))?
            .into();
        fd_link.pin(&link_path).map_err(|e| TracerError::Io {
            what: "cannot pin link at",
            path: link_path.clone(),
            source: io::Error::other(e),
        })?;
        tracing::debug!(tracepoint, "attached");
        Ok(())
    }

    /// Detaches `sys_enter` first, then the cache keepers.
    fn detach(&mut self) -> Result<(), TracerError> {
        for link in [pins::LINK, pins::LINK_SWITCH, pins::LINK_MIGRATE] {
            self.detach_one(link)?;
        }
        Ok(())
    }

    fn detach_one(&self, link: &str) -> Result<(), TracerError> {
        let link_path = self.dir.join(link);
        if !link_path.exists() {
            return Ok(());
        }
        let pinned = PinnedLink::from_pin(&link_path).map_err(|e| TracerError::Io {
            what: "cannot open pinned link",
            path: link_path.clone(),
            source: io::Error::other(e),
        })?;
        let fd_link = pinned
            .unpin()
            .map_err(io_err("cannot unpin link", &link_path))?;
        drop(fd_link);
        tracing::debug!(link, "detached");
        Ok(())
    }
}

/// Removes this build's pins (program and maps) when no recording is active.
/// Returns false when recordings are still active (nothing removed).
pub fn unload(paths: &TracerPaths) -> Result<bool, TracerError> {
    require_root()?;
    let dir = paths.pin_dir();
    if !dir.join(pins::PROGRAM).exists() {
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err("cannot remove", &dir))?;
        }
        return Ok(true);
    }
    let mut tracer = Tracer::open(paths)?;
    let _lock = StateLock::acquire(&paths.run_dir)?;
    if !tracer.active()?.is_empty() {
        return Ok(false);
    }
    tracer.detach()?;
    drop(tracer);
    fs::remove_dir_all(&dir).map_err(io_err("cannot remove", &dir))?;
    remove_stale_builds(paths)?;
    let _ = fs::remove_dir(&paths.bpf_base);
    Ok(true)
}

/// The empty program of the object attached to `sys_enter`, for benchmarks: the
/// irreducible cost of having any program there. Detached when dropped.
pub struct FloorProgram {
    _ebpf: aya::Ebpf,
}

impl FloorProgram {
    /// Loads and attaches the empty program.
    pub fn attach() -> Result<Self, TracerError> {
        require_root()?;
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .load(OBJECT)
            .map_err(|e| TracerError::Load(Box::new(e)))?;
        let program = load_raw_tracepoint(&mut ebpf, "sys_enter_empty")?;
        program
            .attach("sys_enter")
            .map_err(prog_err("cannot attach to raw tracepoint sys_enter"))?;
        Ok(FloorProgram { _ebpf: ebpf })
    }
}

/// Removes the pins left by other builds of this tool (another layout, found next to
/// ours) when their program is not attached. Returns the directories removed.
pub fn remove_stale_builds(paths: &TracerPaths) -> Result<Vec<PathBuf>, TracerError> {
    let current = paths.pin_dir();
    let entries = match fs::read_dir(&paths.bpf_base) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TracerError::Io {
                what: "cannot list",
                path: paths.bpf_base.clone(),
                source: e,
            })
        }
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let dir = e.path();
        let is_build = e.file_name().to_str().is_some_and(|n| n.starts_with("v1-"));
        if dir == current || !is_build || !dir.is_dir() || dir.join(pins::LINK).exists() {
            continue;
        }
        fs::remove_dir_all(&dir).map_err(io_err("cannot remove stale pins", &dir))?;
        removed.push(dir);
    }
    Ok(removed)
}

fn bucket_of(id: u64, probe: u32) -> u32 {
    (id as u32).wrapping_add(probe) & (CGROUP_BUCKETS - 1)
}

fn slot_used(config: &Config, slot: u32) -> bool {
    let (word, bit) = ((slot / 64) as usize, slot % 64);
    config
        .used
        .get(word)
        .is_some_and(|w| w & (1u64 << bit) != 0)
}

/// The program's configuration for the active recordings, given as (slot, cgroup
/// level) pairs (pure).
pub fn config_for(members: &[(u32, u32)]) -> Result<Config, TracerError> {
    let levels: Vec<u32> = members.iter().map(|(_, l)| *l).collect();
    let mut config = config_for_levels(&levels)?;
    for (slot, _) in members {
        if let Some(w) = config.used.get_mut((*slot / 64) as usize) {
            *w |= 1u64 << (slot % 64);
        }
    }
    Ok(config)
}

/// The program's configuration for a set of recorded cgroup levels (pure).
pub fn config_for_levels(levels: &[u32]) -> Result<Config, TracerError> {
    let mut distinct: Vec<u32> = levels.to_vec();
    distinct.sort_unstable_by(|a, b| b.cmp(a));
    distinct.dedup();
    if distinct.len() > MAX_LEVELS {
        return Err(TracerError::TooManyLevels);
    }
    let mut config = Config::default();
    for (i, l) in distinct.iter().enumerate() {
        config.levels[i] = *l;
    }
    config.level_count = distinct.len() as u32;
    Ok(config)
}

fn first_call(f: &FirstUse, started_ns: u64) -> FirstCall {
    let end = f.comm.iter().position(|&b| b == 0).unwrap_or(f.comm.len());
    FirstCall {
        after_ns: f.time_ns.saturating_sub(started_ns),
        pid: f.tgid,
        tid: f.tid,
        comm: String::from_utf8_lossy(&f.comm[..end]).into_owned(),
    }
}

/// CLOCK_MONOTONIC in nanoseconds (what `bpf_ktime_get_ns` returns).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_deepest_first_and_bounded() {
        let c = config_for_levels(&[2, 4, 2, 1]).expect("config");
        assert_eq!(c.level_count, 3);
        assert_eq!(&c.levels[..3], &[4, 2, 1]);
        assert_eq!(config_for_levels(&[]).expect("empty").level_count, 0);
        let many: Vec<u32> = (0..=MAX_LEVELS as u32).collect();
        assert!(matches!(
            config_for_levels(&many),
            Err(TracerError::TooManyLevels)
        ));
    }

    #[test]
    fn used_slots_are_a_bitmap() {
        let c = config_for(&[(0, 2), (65, 2), (255, 3)]).expect("config");
        assert!(slot_used(&c, 0) && slot_used(&c, 65) && slot_used(&c, 255));
        assert!(!slot_used(&c, 1) && !slot_used(&c, 64));
        assert_eq!(c.level_count, 2);
    }

    #[test]
    fn trigger_numbers_per_abi() {
        assert_eq!(trigger_nrs(Some(Arch::X86_64)), [59, 322, 317, 157]);
        assert_eq!(trigger_nrs(Some(Arch::X86)), [11, 358, 354, 172]);
        assert_eq!(trigger_nrs(None), [u32::MAX; 4]);
    }

    #[test]
    fn capabilities_for_tracing() {
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        assert_eq!(effective_caps(status), Some(0x1ff_ffff_ffff));
        assert!(can_trace(0x1ff_ffff_ffff));
        assert!(can_trace(1 << 21));
        assert!(can_trace((1 << 38) | (1 << 39)));
        assert!(!can_trace(1 << 39));
        assert!(!can_trace(0));
        assert_eq!(effective_caps("Name: x\n"), None);
    }

    #[test]
    fn buckets_wrap() {
        assert_eq!(bucket_of(u64::from(CGROUP_BUCKETS) - 1, 1), 0);
        assert_eq!(bucket_of(5, 2), 7);
    }
}
