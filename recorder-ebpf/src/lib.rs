//! Types shared by the eBPF program and user space: the single definition of the
//! map layouts. User space enables the `user` feature for the `aya::Pod` impls.
#![no_std]

/// Syscall ABI index of the native ABI (x86_64 on x86_64, aarch64 on aarch64, ...).
pub const ABI_NATIVE: u32 = 0;
/// Syscall ABI index of the 32-bit compat ABI (i386 on x86_64, arm on aarch64).
pub const ABI_COMPAT: u32 = 1;
/// Syscall ABI index of x32 (x86_64 only: syscall id has [`X32_SYSCALL_BIT`]).
pub const ABI_X32: u32 = 2;
/// Number of ABIs counted per recording.
pub const ABI_COUNT: u32 = 3;
/// The x32 marker bit in an x86_64 syscall id.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// Syscall numbers counted per ABI row (every table we know stays below this).
pub const NR_PER_ROW: usize = 1024;
/// The first of the ARM-private syscall numbers (`__ARM_NR_BASE` in the kernel's
/// `arch/arm/include/uapi/asm/unistd.h`): a 32-bit ARM task calls `set_tls`
/// (`0x0f0005`) at start and `cacheflush` when it writes code. They are far past a row,
/// so they get the row's last [`ARM_PRIVATE_COUNT`] cells: counted exactly, like every
/// named call, instead of in the shared `OVERFLOW` map, which a neighbour calling
/// thousands of invalid numbers can fill.
pub const ARM_PRIVATE_BASE: u64 = 0x0f_0000;
/// ARM-private numbers with a cell of their own (`0x0f0000..0x0f0008`; the kernel
/// defines `0x0f0001..=0x0f0006`).
pub const ARM_PRIVATE_COUNT: usize = 8;
/// The first cell of a row holding an ARM-private number; the numbers from here to the
/// row's end are no syscall on any architecture and are counted in `OVERFLOW`.
pub const ARM_PRIVATE_CELL: usize = NR_PER_ROW - ARM_PRIVATE_COUNT;

/// The row cell counting syscall number `nr`, or `None` when the number is counted in
/// the `OVERFLOW` map (numbers no table names). The one mapping, used by the program;
/// [`nr_of_cell`] undoes it.
#[inline(always)]
pub const fn cell_of(nr: u64) -> Option<usize> {
    if nr < ARM_PRIVATE_CELL as u64 {
        Some(nr as usize)
    } else if nr >= ARM_PRIVATE_BASE && nr - ARM_PRIVATE_BASE < ARM_PRIVATE_COUNT as u64 {
        Some(ARM_PRIVATE_CELL + (nr - ARM_PRIVATE_BASE) as usize)
    } else {
        None
    }
}

/// The syscall number counted in row cell `cell` (`cell < NR_PER_ROW`).
#[inline(always)]
pub const fn nr_of_cell(cell: usize) -> u64 {
    if cell < ARM_PRIVATE_CELL {
        cell as u64
    } else {
        ARM_PRIVATE_BASE + (cell - ARM_PRIVATE_CELL) as u64
    }
}

/// Recordings that can run at the same time (slots).
pub const MAX_RECORDINGS: u32 = 256;
/// Buckets of the open-addressing cgroup table (power of two).
pub const CGROUP_BUCKETS: u32 = 4096;
/// Probes into the cgroup table before giving up.
pub const CGROUP_PROBES: u32 = 4;

/// The bucket of cgroup `id` at probe `probe` (0..[`CGROUP_PROBES`]) of the
/// open-addressing cgroup table: the one hash, used by the program's lookup and by the
/// loader's insert and release (tested in user space, recorder's tracer tests).
#[inline(always)]
pub const fn cgroup_bucket(id: u64, probe: u32) -> u32 {
    (id as u32).wrapping_add(probe) & (CGROUP_BUCKETS - 1)
}
/// Distinct cgroup levels that can hold recorded cgroups at the same time.
pub const MAX_LEVELS: usize = 8;

/// [`CgroupEntry::slot`] values from this one up (below [`SLOT_NONE`]) mark a watched
/// cgroup, not a recording: `SLOT_WATCH_BASE + depth`. A task below it whose cgroup
/// `depth` levels down has no recording yet gets one on its first syscall, from the
/// [`pins::SPARE`] slots user space (the node agent) prepared, noted in
/// [`pins::CLAIMS`]: nothing a new container runs escapes the recording.
pub const SLOT_WATCH_BASE: u32 = 0xFFFF_FF00;
/// Deepest level below a watched cgroup at which the program claims cgroups.
pub const MAX_WATCH_DEPTH: u32 = 4;
/// Index in the `MISSED` map of the count of claims that found no spare slot.
pub const CLAIM_MISSED: u32 = 0;
/// Index in the `MISSED` map of the count of claims made.
pub const CLAIM_MADE: u32 = 1;
/// Cgroups the program can have claimed at once (live and ignored ones).
pub const MAX_CLAIMS: u32 = 4096;

/// The [`CgroupEntry::slot`] of a watch that claims cgroups `depth` levels down.
#[inline(always)]
pub const fn watch_slot(depth: u32) -> u32 {
    SLOT_WATCH_BASE + depth
}

/// The claim depth of a [`CgroupEntry::slot`] that marks a watch (`None`: a recording).
#[inline(always)]
pub const fn watch_depth(slot: u32) -> Option<u32> {
    if slot >= SLOT_WATCH_BASE && slot - SLOT_WATCH_BASE <= MAX_WATCH_DEPTH {
        Some(slot - SLOT_WATCH_BASE)
    } else {
        None
    }
}

/// Slot state: free.
pub const SLOT_FREE: u32 = 0;
/// Slot state: registered, waiting for the start trigger (see [`StartMode`] values).
pub const SLOT_ARMED: u32 = 1;
/// Slot state: counting.
pub const SLOT_RECORDING: u32 = 2;
/// Slot state of a watch (user space bookkeeping: the program finds a watch by its
/// [`CgroupEntry::slot`] marker, never by this slot): holds the watched cgroup's id and
/// level, so that the level is in [`Config::levels`].
pub const SLOT_WATCHING: u32 = 3;

/// Start counting as soon as the cgroup is registered.
pub const START_NOW: u32 = 0;
/// Start counting at the first `execve`/`execveat` in the cgroup (that call counts).
pub const START_AT_EXEC: u32 = 1;
/// Start counting when a seccomp filter is loaded in the cgroup (that call does not
/// count) or at the first exec, whichever comes first: what an OCI runtime does last.
pub const START_AT_FILTER_OR_EXEC: u32 = 2;

/// One bucket of the cgroup table: which recording a cgroup belongs to.
///
/// `cgroup_id == 0` marks an empty bucket (lookups stop there); [`CGROUP_TOMBSTONE`]
/// marks a removed entry (lookups go on: linear probing).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupEntry {
    /// Inode number of the cgroup v2 directory (what `bpf_get_current_cgroup_id` returns).
    pub cgroup_id: u64,
    /// Recording slot, index into the counter and state maps.
    pub slot: u32,
    /// Level of the cgroup in the cgroup v2 hierarchy (root is 0).
    pub level: u32,
}

/// Global configuration read by the program on every syscall.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// How many entries of `levels` are valid.
    pub level_count: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// Cgroup levels holding recorded cgroups, deepest first.
    pub levels: [u32; MAX_LEVELS],
    /// Bitmap of slots in use (user space bookkeeping; the program does not read it):
    /// lets user space find the active recordings without reading every slot.
    pub used: [u64; (MAX_RECORDINGS as usize).div_ceil(64)],
}

/// Index in the `EPOCH` map of the word user space changes after every change of the
/// recorded set (config, cgroup table).
pub const EPOCH_USER: u32 = 0;
/// Index in the `EPOCH` map of the word the program adds one to on every cgroup
/// migration (`cgroup_attach_task`).
pub const EPOCH_KERNEL: u32 = 1;
/// Entries of the `EPOCH` map.
pub const EPOCH_WORDS: u32 = 2;
/// [`TaskCache::slot`] of a task outside every recorded cgroup.
pub const SLOT_NONE: u32 = u32::MAX;

/// Per CPU: which recording the task running on this CPU belongs to, as found by the
/// last full lookup. Valid while `valid != 0` (cleared at every context switch) and both
/// epochs are unchanged (no recording added or removed, no task moved between cgroups).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCache {
    /// `EPOCH[EPOCH_USER]` when the lookup was made.
    pub epoch_user: u64,
    /// `EPOCH[EPOCH_KERNEL]` when the lookup was made.
    pub epoch_kernel: u64,
    /// The task's recording slot, or [`SLOT_NONE`].
    pub slot: u32,
    /// Non-zero while the entry describes the task on this CPU.
    pub valid: u32,
}

/// `CgroupEntry::cgroup_id` of a removed entry.
pub const CGROUP_TOMBSTONE: u64 = u64::MAX;

/// Per-recording state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotState {
    /// One of `SLOT_FREE`, `SLOT_ARMED`, `SLOT_RECORDING`.
    pub state: u32,
    /// One of `START_NOW`, `START_AT_EXEC`, `START_AT_FILTER_OR_EXEC`.
    pub start_mode: u32,
    /// `bpf_ktime_get_ns` when counting started (0 until then).
    pub started_ns: u64,
    /// The recorded cgroup (user space bookkeeping; the program does not read it).
    pub cgroup_id: u64,
    /// Its level in the cgroup v2 hierarchy.
    pub level: u32,
    /// Set by the program when a seccomp filter load started the recording: from then
    /// on only tasks that run under a seccomp filter count (a runtime's `exec` helpers
    /// join the cgroup before they load the container's filter).
    pub filtered_only: u32,
    /// Non-zero: also record the distinct argument values of the [`ArgSpec`] syscalls.
    pub record_args: u32,
    /// Set by the program when an argument value could not be stored (the `ARGS` map
    /// was full): the recording's argument values are incomplete.
    pub args_lost: u32,
    /// Non-zero: the slot belongs to the node agent (a spare or a claim); only an agent
    /// finishes or releases it (gc leaves it alone, a restarted agent adopts it).
    pub agent: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// Distinct values stored in `ARGS` per (ABI, [`ArgSpec`] index), at
    /// `abi * MAX_ARG_SPECS + index`: the program stores at most [`ARG_VALUES_KEPT`]
    /// per call, so that one recording cannot fill the map all recordings share.
    pub arg_values: [u8; ARG_TALLIES],
}

/// Distinct argument values the program stores per recording and syscall. One more
/// than a profile lists before it allows the call by name alone
/// (`seccomp_profile::args::MAX_VALUES_PER_SYSCALL`, 16; a unit test in recorder
/// holds them together): more values change no profile, they would only take room in
/// the shared `ARGS` map from other recordings.
pub const ARG_VALUES_KEPT: u8 = 17;
/// Entries of [`SlotState::arg_values`] (`ABI_COUNT * MAX_ARG_SPECS`, rounded up to 8).
pub const ARG_TALLIES: usize = 32;

/// Syscalls per ABI whose arguments can be recorded.
pub const MAX_ARG_SPECS: usize = 10;
/// Entries of the `ARGS` map (distinct values over all recordings).
pub const MAX_ARG_VALUES: u32 = 16384;
/// `ArgSpec::nr` of an unused entry.
pub const ARG_SPEC_UNUSED: u32 = u32::MAX;
/// `ArgSpec::arg_b` when only one argument is recorded.
pub const ARG_NONE: u32 = u32::MAX;

/// Which arguments of one syscall are recorded: `(arg[arg_a] & mask_a)`, and, when
/// `arg_b` is not [`ARG_NONE`], `(arg[arg_b] & mask_b)` as the second value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    /// Syscall number within the ABI ([`ARG_SPEC_UNUSED`]: none).
    pub nr: u32,
    /// Index of the first argument (0-2).
    pub arg_a: u32,
    /// Index of the second argument, or [`ARG_NONE`].
    pub arg_b: u32,
    /// Non-zero: the first argument is a user pointer; the value is the u64 it points
    /// to (clone3's `struct clone_args.flags`).
    pub deref_a: u32,
    /// Mask applied to the first argument.
    pub mask_a: u64,
    /// Mask applied to the second argument.
    pub mask_b: u64,
}

impl ArgSpec {
    /// An unused entry.
    pub const UNUSED: ArgSpec = ArgSpec {
        nr: ARG_SPEC_UNUSED,
        arg_a: 0,
        arg_b: ARG_NONE,
        deref_a: 0,
        mask_a: 0,
        mask_b: 0,
    };
}

/// Key of the `ARGS` map: one distinct argument value of one syscall in one recording.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArgKey {
    /// Recording slot.
    pub slot: u32,
    /// ABI index (`ABI_*`).
    pub abi: u32,
    /// Syscall number within the ABI.
    pub nr: u32,
    /// Padding, always zero.
    pub _pad: u32,
    /// The first argument, masked.
    pub a: u64,
    /// The second argument, masked (0 when only one is recorded).
    pub b: u64,
}

/// Key of the first-use map: which counter went from zero to one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FirstUseKey {
    /// Recording slot.
    pub slot: u32,
    /// ABI index (`ABI_*`).
    pub abi: u32,
    /// Syscall number within the ABI (x32 without the marker bit).
    pub nr: u32,
    /// Padding, always zero.
    pub _pad: u32,
}

/// Who made a syscall first, and when.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FirstUse {
    /// `bpf_ktime_get_ns` at the first call.
    pub time_ns: u64,
    /// Thread group id (the process id user space sees).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Command name of the thread (`comm`), NUL padded.
    pub comm: [u8; 16],
}

/// Which counters row a (slot, ABI) pair uses.
#[inline(always)]
pub const fn counter_row(slot: u32, abi: u32) -> u32 {
    slot * ABI_COUNT + abi
}

/// Names of the pinned objects below the pin directory.
pub mod pins {
    /// The main program: on `sys_enter`, or `fentry` on the native syscall dispatcher
    /// (pinned last: its presence means "fully loaded").
    pub const PROGRAM: &str = "prog";
    /// The `sched_switch` program (invalidates the per-CPU task cache).
    pub const PROGRAM_SWITCH: &str = "prog_switch";
    /// The `cgroup_attach_task` program (counts cgroup migrations).
    pub const PROGRAM_MIGRATE: &str = "prog_migrate";
    /// The `fentry` program on the compat dispatcher (`ia32_sys_call`), when the main
    /// program is the `fentry` one on the native dispatcher.
    pub const PROGRAM_COMPAT: &str = "prog_compat";
    /// The `fentry` program on the x32 dispatcher (`x32_sys_call`), likewise.
    pub const PROGRAM_X32: &str = "prog_x32";
    /// The main program's link (`sys_enter` or the native dispatcher; present only
    /// while attached; attached last, detached first).
    pub const LINK: &str = "link";
    /// The link of [`PROGRAM_COMPAT`].
    pub const LINK_COMPAT: &str = "link_compat";
    /// The link of [`PROGRAM_X32`].
    pub const LINK_X32: &str = "link_x32";
    /// The `sched_switch` link (attached before [`LINK`], detached after it).
    pub const LINK_SWITCH: &str = "link_switch";
    /// The `cgroup_attach_task` link (attached before [`LINK`], detached after it).
    pub const LINK_MIGRATE: &str = "link_migrate";
    /// `Config` array (one entry).
    pub const CONFIG: &str = "CONFIG";
    /// `CgroupEntry` array.
    pub const CGROUPS: &str = "CGROUPS";
    /// `SlotState` array.
    pub const SLOTS: &str = "SLOTS";
    /// Per-CPU counter rows.
    pub const COUNTS: &str = "COUNTS";
    /// First-use hash map.
    pub const FIRST_USE: &str = "FIRST_USE";
    /// Counts of syscall ids that do not fit a counter row.
    pub const OVERFLOW: &str = "OVERFLOW";
    /// Distinct argument values (`ArgKey` → calls).
    pub const ARGS: &str = "ARGS";
    /// `EPOCH` array: [`super::EPOCH_USER`] and [`super::EPOCH_KERNEL`].
    pub const EPOCH: &str = "EPOCH";
    /// Per-CPU [`super::TaskCache`].
    pub const TASK_CACHE: &str = "TASK_CACHE";
    /// Queue of slots the agent prepared for the program's claims.
    pub const SPARE: &str = "SPARE";
    /// Cgroups claimed below a watch: cgroup id → slot ([`super::SLOT_NONE`]: ignored).
    pub const CLAIMS: &str = "CLAIMS";
    /// Two counters: claims that found no spare slot (their calls were not counted)
    /// and claims made.
    pub const MISSED: &str = "MISSED";
    /// Every map, in pinning order.
    pub const MAPS: [&str; 12] = [
        CONFIG, CGROUPS, SLOTS, COUNTS, FIRST_USE, OVERFLOW, ARGS, EPOCH, TASK_CACHE, SPARE,
        CLAIMS, MISSED,
    ];
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: all of these are repr(C), Copy, without padding and valid for any bit pattern.
    unsafe impl aya::Pod for super::CgroupEntry {}
    unsafe impl aya::Pod for super::Config {}
    unsafe impl aya::Pod for super::SlotState {}
    unsafe impl aya::Pod for super::TaskCache {}
    unsafe impl aya::Pod for super::FirstUseKey {}
    unsafe impl aya::Pod for super::FirstUse {}
    unsafe impl aya::Pod for super::ArgSpec {}
    unsafe impl aya::Pod for super::ArgKey {}
}
