//! The eBPF program: counts syscalls per recorded cgroup (and its descendants), per
//! syscall ABI, per syscall number. Two attach points run the same code: `fentry` on
//! the kernel's syscall dispatchers (`x64_sys_call`, `ia32_sys_call`, `x32_sys_call`:
//! the ABI is the dispatcher's, and no task is sent down the tracepoint slow path), or
//! the raw tracepoint `sys_enter` (every kernel; the ABI from the task and the id).
//!
//! Hot path: a per-CPU cache says which recording (if any) the running task belongs to;
//! two inlined array loads and two compares, no helper call. The cache is cleared at
//! every context switch (`sched_switch`) and goes stale when user space changes the
//! recorded set or a task moves between cgroups (`cgroup_attach_task`); then one full
//! lookup (a helper call per active cgroup level and an inlined table probe) refills it.
//! Inside a recording: the slot state, one helper call for the task's ABI, one atomic
//! add, and (only on a counter's first use) a first-use record.
#![cfg_attr(target_arch = "bpf", no_std, no_main, feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]

#[cfg(target_arch = "bpf")]
mod program {
    use core::intrinsics::{atomic_xadd, AtomicOrdering};

    use aya_ebpf::{
        bindings::BPF_NOEXIST,
        helpers::{
            bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
            bpf_probe_read_kernel, bpf_probe_read_user,
            generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_task_btf},
        },
        macros::{fentry, map, raw_tracepoint},
        maps::{Array, HashMap, PerCpuArray, Queue},
        programs::{FEntryContext, RawTracePointContext},
    };
    use recorder_ebpf::{
        cell_of, cgroup_bucket, counter_row, watch_depth, ArgKey, ArgSpec, CgroupEntry, Config,
        FirstUse, FirstUseKey, SlotState, TaskCache, ABI_COMPAT, ABI_COUNT, ABI_NATIVE, ABI_X32,
        ARG_NONE, ARG_TALLIES, ARG_VALUES_KEPT, CGROUP_BUCKETS, CGROUP_PROBES, CLAIM_MADE,
        CLAIM_MISSED, EPOCH_KERNEL, EPOCH_USER, EPOCH_WORDS, MAX_ARG_SPECS, MAX_ARG_VALUES,
        MAX_CLAIMS, MAX_LEVELS, MAX_RECORDINGS, NR_PER_ROW, SLOT_ARMED, SLOT_NONE, SLOT_RECORDING,
        START_AT_EXEC, START_AT_FILTER_OR_EXEC, X32_SYSCALL_BIT,
    };

    // Set by user space at load time from the running kernel's BTF (no CO-RE in aya-ebpf).
    /// Byte offset in `task_struct` of the word that tells a compat task.
    #[unsafe(no_mangle)]
    static COMPAT_OFFSET: u32 = 0;
    /// Mask of the compat bit in that word (TS_COMPAT on x86_64, _TIF_32BIT on arm64);
    /// zero when the architecture has no compat ABI.
    #[unsafe(no_mangle)]
    static COMPAT_MASK: u32 = 0;
    /// Non-zero on x86_64, where syscall ids with bit 30 are x32 calls.
    #[unsafe(no_mangle)]
    static X32_ENABLED: u32 = 0;
    /// Byte offset of `task_struct.seccomp.mode`.
    #[unsafe(no_mangle)]
    static SECCOMP_MODE_OFFSET: u32 = 0;
    /// Non-zero when `SECCOMP_MODE_OFFSET` is known (CONFIG_SECCOMP kernels).
    #[unsafe(no_mangle)]
    static SECCOMP_MODE_KNOWN: u32 = 0;
    /// Per ABI: syscall numbers of execve, execveat, seccomp, prctl.
    #[unsafe(no_mangle)]
    static TRIGGER_NRS: [[u32; 4]; 3] = [[u32::MAX; 4]; 3];
    /// Per ABI: byte offsets in `pt_regs` of syscall arguments 0, 1 and 2.
    #[unsafe(no_mangle)]
    static ARG_OFFSETS: [[u32; 3]; 3] = [[0; 3]; 3];

    /// Per ABI: the syscalls whose arguments are recorded (for recordings that ask).
    #[unsafe(no_mangle)]
    static ARG_SPECS: [[ArgSpec; MAX_ARG_SPECS]; 3] = [[ArgSpec::UNUSED; MAX_ARG_SPECS]; 3];

    const NR_ROW: usize = NR_PER_ROW;
    const SECCOMP_SET_MODE_FILTER: u64 = 1;
    const PR_SET_SECCOMP: u64 = 22;
    const SECCOMP_MODE_FILTER: u64 = 2;
    const TASK_SECCOMP_MODE_FILTER: i32 = 2;

    /// The current task, fetched at most once per program run (one helper call).
    struct Current(*const u8);

    impl Current {
        #[inline(always)]
        fn get(&mut self) -> *const u8 {
            if self.0.is_null() {
                // SAFETY: helper call returning the (never null) current task.
                self.0 = unsafe { bpf_get_current_task_btf() } as *const u8;
            }
            self.0
        }

        /// Reads the 32-bit field at byte `off` of the current `task_struct`: a direct
        /// load through the BTF-typed task pointer (the verifier checks the constant
        /// offset against the kernel's BTF), much cheaper than `bpf_probe_read_kernel`.
        #[inline(always)]
        fn u32_at(&mut self, off: u32) -> u32 {
            let task = self.get();
            // SAFETY: `off` is a load-time constant from .rodata, checked by the verifier.
            unsafe { core::ptr::read_volatile(task.add(off as usize) as *const u32) }
        }

        /// Whether the current task runs under a seccomp filter.
        #[inline(always)]
        fn filtered(&mut self) -> bool {
            self.u32_at(global(&SECCOMP_MODE_OFFSET)) as i32 == TASK_SECCOMP_MODE_FILTER
        }
    }

    #[map(name = "CONFIG")]
    static CONFIG: Array<Config> = Array::with_max_entries(1, 0);
    #[map(name = "CGROUPS")]
    static CGROUPS: Array<CgroupEntry> = Array::with_max_entries(CGROUP_BUCKETS, 0);
    #[map(name = "SLOTS")]
    static SLOTS: Array<SlotState> = Array::with_max_entries(MAX_RECORDINGS, 0);
    #[map(name = "COUNTS")]
    static COUNTS: Array<[u64; NR_ROW]> = Array::with_max_entries(MAX_RECORDINGS * ABI_COUNT, 0);
    /// Counts of ids that do not fit a row (negative ids, ARM private calls, ...).
    #[map(name = "OVERFLOW")]
    static OVERFLOW: HashMap<FirstUseKey, u64> = HashMap::with_max_entries(4096, 0);
    /// Distinct argument values per recording and syscall, with their counts.
    #[map(name = "ARGS")]
    static ARGS: HashMap<ArgKey, u64> = HashMap::with_max_entries(MAX_ARG_VALUES, 0);
    #[map(name = "FIRST_USE")]
    static FIRST_USE: HashMap<FirstUseKey, FirstUse> =
        HashMap::with_max_entries(MAX_RECORDINGS * 512, 0);
    /// [`EPOCH_USER`]: changed by user space after each change of the recorded set;
    /// [`EPOCH_KERNEL`]: counts cgroup migrations.
    #[map(name = "EPOCH")]
    static EPOCH: Array<u64> = Array::with_max_entries(EPOCH_WORDS, 0);
    /// Which recording the task running on this CPU belongs to (see [`TaskCache`]).
    #[map(name = "TASK_CACHE")]
    static TASK_CACHE: PerCpuArray<TaskCache> = PerCpuArray::with_max_entries(1, 0);

    /// Slots the agent prepared (armed, counters zero) for the program's claims.
    #[map(name = "SPARE")]
    static SPARE: Queue<u32> = Queue::with_max_entries(MAX_RECORDINGS, 0);
    /// Cgroups claimed below a watch: cgroup id → slot (`SLOT_NONE`: the agent ignores it).
    #[map(name = "CLAIMS")]
    static CLAIMS: HashMap<u64, u32> = HashMap::with_max_entries(MAX_CLAIMS, 0);
    /// [`CLAIM_MISSED`]: claims that found no spare slot; [`CLAIM_MADE`]: claims made
    /// (user space looks at the claims only when it moved).
    #[map(name = "MISSED")]
    static MISSED: Array<u64> = Array::with_max_entries(2, 0);

    #[inline(always)]
    fn global<T: Copy>(v: &'static T) -> T {
        // SAFETY: reading a .rodata global; volatile keeps the compiler from folding
        // the load-time value.
        unsafe { core::ptr::read_volatile(v) }
    }

    /// `raw_syscalls:sys_enter(regs, id)`: every syscall of every task, ABI from the
    /// task and the id.
    #[raw_tracepoint(tracepoint = "sys_enter")]
    pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
        let _ = on_syscall(ctx.arg(0), ctx.arg(1), None);
        0
    }

    /// `x64_sys_call(regs, nr)`: the native syscalls, as dispatched (after seccomp and
    /// ptrace, with a number the kernel implements).
    #[fentry(function = "x64_sys_call")]
    pub fn fentry_native(ctx: FEntryContext) -> i32 {
        let nr: u64 = ctx.arg(1);
        let _ = on_syscall(ctx.arg(0), nr & 0xffff_ffff, Some(ABI_NATIVE));
        0
    }

    /// `ia32_sys_call(regs, nr)`: the i386 (compat) syscalls.
    #[fentry(function = "ia32_sys_call")]
    pub fn fentry_compat(ctx: FEntryContext) -> i32 {
        let nr: u64 = ctx.arg(1);
        let _ = on_syscall(ctx.arg(0), nr & 0xffff_ffff, Some(ABI_COMPAT));
        0
    }

    /// `x32_sys_call(regs, nr)`: the x32 syscalls (kernels with CONFIG_X86_X32_ABI), the
    /// number without the x32 bit.
    #[fentry(function = "x32_sys_call")]
    pub fn fentry_x32(ctx: FEntryContext) -> i32 {
        let nr: u64 = ctx.arg(1);
        let _ = on_syscall(ctx.arg(0), nr & 0xffff_ffff, Some(ABI_X32));
        0
    }

    /// At every context switch: the per-CPU task cache no longer describes the task
    /// that runs next.
    #[raw_tracepoint(tracepoint = "sched_switch")]
    pub fn sched_switch(_ctx: RawTracePointContext) -> i32 {
        if let Some(c) = TASK_CACHE.get_ptr_mut(0) {
            // SAFETY: pointer into this CPU's map value.
            unsafe { (*c).valid = 0 };
        }
        0
    }

    /// After every cgroup migration: every CPU's task cache is stale (the moved task may
    /// be running elsewhere right now).
    #[raw_tracepoint(tracepoint = "cgroup_attach_task")]
    pub fn cgroup_attach_task(_ctx: RawTracePointContext) -> i32 {
        if let Some(p) = EPOCH.get_ptr_mut(EPOCH_KERNEL) {
            // SAFETY: aligned u64 inside the map value.
            unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1) };
        }
        0
    }

    /// The recording slot of the current task ([`SLOT_NONE`] outside every one): from
    /// this CPU's cache when it is valid, else by a full lookup that refills it.
    #[inline(always)]
    fn current_slot() -> u32 {
        let (Some(cache), Some(eu), Some(ek)) = (
            TASK_CACHE.get_ptr_mut(0),
            EPOCH.get_ptr(EPOCH_USER),
            EPOCH.get_ptr(EPOCH_KERNEL),
        ) else {
            return SLOT_NONE;
        };
        // SAFETY: pointers into map values, valid for the program's run.
        let (c, eu, ek) = unsafe { (&mut *cache, eu, ek) };
        // SAFETY: aligned u64 map values; racing writers only ever change them.
        let (user, kernel) =
            unsafe { (core::ptr::read_volatile(eu), core::ptr::read_volatile(ek)) };
        if c.valid != 0 && c.epoch_user == user && c.epoch_kernel == kernel {
            return c.slot;
        }
        // The epochs were read before the table: a change after this point leaves the
        // entry with an old epoch, so the next call looks again.
        let slot = match CONFIG.get(0) {
            Some(cfg) if cfg.level_count != 0 => find_slot(cfg).unwrap_or(SLOT_NONE),
            _ => SLOT_NONE,
        };
        c.epoch_user = user;
        c.epoch_kernel = kernel;
        c.slot = slot;
        c.valid = 1;
        slot
    }

    /// Does nothing: attached by the benchmark to measure the irreducible cost of any
    /// program on `sys_enter` (the floor ours is compared with).
    #[raw_tracepoint(tracepoint = "sys_enter")]
    pub fn sys_enter_empty(_ctx: RawTracePointContext) -> i32 {
        0
    }

    /// Does nothing: the cost of any `fentry` program on the native dispatcher (the
    /// benchmark's second floor).
    #[fentry(function = "x64_sys_call")]
    pub fn fentry_empty(_ctx: FEntryContext) -> i32 {
        0
    }

    /// The slot of the cgroup `child_level` of the current task, found below a watched
    /// cgroup: its claim, or a spare slot claimed now (its first syscall there). The
    /// slot comes armed (start at the runtime's filter load or exec), as for the hook.
    #[inline(never)]
    fn claim(child_level: u32) -> u32 {
        // SAFETY: plain helper call.
        let cid = unsafe { bpf_get_current_ancestor_cgroup_id(child_level as i32) };
        if cid == 0 {
            return SLOT_NONE;
        }
        // SAFETY: a value read out of the map at once.
        if let Some(s) = unsafe { CLAIMS.get(&cid) } {
            return *s;
        }
        let Ok(Some(slot)) = SPARE.pop() else {
            if let Some(p) = MISSED.get_ptr_mut(CLAIM_MISSED) {
                // SAFETY: aligned u64 inside the map value.
                unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1) };
            }
            return SLOT_NONE;
        };
        if slot >= MAX_RECORDINGS {
            return SLOT_NONE;
        }
        if CLAIMS.insert(&cid, &slot, BPF_NOEXIST as u64).is_err() {
            // Claimed on another CPU meanwhile (or the table is full): give the spare
            // back and use theirs.
            let _ = SPARE.push(&slot, 0);
            // SAFETY: as above.
            return match unsafe { CLAIMS.get(&cid) } {
                Some(s) => *s,
                None => SLOT_NONE,
            };
        }
        if let Some(st) = SLOTS.get_ptr_mut(slot) {
            // SAFETY: pointer into a map value; only this claim writes these fields
            // before user space reads the claim.
            unsafe {
                (*st).cgroup_id = cid;
                (*st).level = child_level;
            }
        }
        if let Some(p) = MISSED.get_ptr_mut(CLAIM_MADE) {
            // SAFETY: aligned u64 inside the map value.
            unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1) };
        }
        slot
    }

    /// The slot of the deepest recorded cgroup that contains the current task.
    #[inline(always)]
    fn find_slot(cfg: &Config) -> Option<u32> {
        let n = cfg.level_count as usize;
        let mut i = 0usize;
        // Unrolled by the compiler: MAX_LEVELS is small and constant.
        while i < MAX_LEVELS {
            if i >= n {
                return None;
            }
            let level = cfg.levels[i];
            // SAFETY: plain helper call.
            let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
            if id != 0 {
                let mut probe = 0u32;
                while probe < CGROUP_PROBES {
                    let bucket = cgroup_bucket(id, probe);
                    match CGROUPS.get(bucket) {
                        Some(e) if e.cgroup_id == id => {
                            return match watch_depth(e.slot) {
                                None => Some(e.slot),
                                Some(depth) => match claim(level + depth) {
                                    SLOT_NONE => None,
                                    s => Some(s),
                                },
                            };
                        }
                        Some(e) if e.cgroup_id == 0 => break,
                        Some(_) => {}
                        None => break,
                    }
                    probe += 1;
                }
            }
            i += 1;
        }
        None
    }

    #[inline(always)]
    fn read_arg(regs: *const u8, abi: u32, index: usize) -> u64 {
        let offsets = global(&ARG_OFFSETS);
        let off = match offsets.get(abi as usize) {
            Some(o) => match o.get(index) {
                Some(v) => *v as usize,
                None => return 0,
            },
            None => return 0,
        };
        // SAFETY: reading kernel memory through the probe helper, which tolerates faults.
        let raw = unsafe { bpf_probe_read_kernel(regs.add(off) as *const u64) }.unwrap_or(0);
        if abi == ABI_COMPAT {
            // A 32-bit task's argument is the register's low half, as the kernel's
            // compat entry and seccomp see it: the high half is whatever the 64-bit
            // register held (arm64 leaves it UNKNOWN after AArch32, x86's int 0x80
            // from 64-bit code keeps it).
            raw as u32 as u64
        } else {
            raw
        }
    }

    /// Whether this call starts a recording armed with `mode`; and whether it counts.
    #[inline(always)]
    fn trigger(regs: *const u8, mode: u32, abi: u32, nr: u32) -> (bool, bool) {
        let nrs = global(&TRIGGER_NRS);
        let t = match nrs.get(abi as usize) {
            Some(t) => *t,
            None => return (false, false),
        };
        if nr == t[0] || nr == t[1] {
            return (true, true); // execve / execveat: part of the workload
        }
        if mode != START_AT_FILTER_OR_EXEC {
            return (false, false);
        }
        if nr == t[2] {
            // seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): probes pass a NULL prog.
            let op = read_arg(regs, abi, 0) as u32 as u64;
            let prog = read_arg(regs, abi, 2);
            return (op == SECCOMP_SET_MODE_FILTER && prog != 0, false);
        }
        if nr == t[3] {
            let option = read_arg(regs, abi, 0) as u32 as u64;
            let mode_arg = read_arg(regs, abi, 1) as u32 as u64;
            return (
                option == PR_SET_SECCOMP && mode_arg == SECCOMP_MODE_FILTER,
                false,
            );
        }
        (false, false)
    }

    #[inline(always)]
    fn abi_of(task: &mut Current, id: u64) -> (u32, u64) {
        if global(&X32_ENABLED) != 0 && id & X32_SYSCALL_BIT != 0 && (id as i64) >= 0 {
            return (ABI_X32, id & !X32_SYSCALL_BIT);
        }
        let mask = global(&COMPAT_MASK);
        // TS_COMPAT is per call (a 64-bit task may make an int 0x80 call), so this is
        // read on every call, never cached.
        if mask != 0 && task.u32_at(global(&COMPAT_OFFSET)) & mask != 0 {
            return (ABI_COMPAT, id);
        }
        (ABI_NATIVE, id)
    }

    /// One syscall `id` with registers `regs`; `abi` when the attach point tells it.
    #[inline(always)]
    fn on_syscall(regs: *const u8, id: u64, abi: Option<u32>) -> Result<(), i64> {
        let slot = current_slot();
        if slot == SLOT_NONE {
            return Ok(());
        }
        let state = SLOTS.get_ptr_mut(slot).ok_or(1i64)?;
        let mut task = Current(core::ptr::null());
        let (abi, nr) = match abi {
            Some(abi) => (abi, id),
            None => abi_of(&mut task, id),
        };
        // SAFETY: pointer into a map value, valid for the program's run.
        let st = unsafe { &mut *state };
        if st.state != SLOT_RECORDING {
            if st.state != SLOT_ARMED || st.start_mode < START_AT_EXEC {
                return Ok(());
            }
            let (start, counts) = trigger(regs, st.start_mode, abi, nr as u32);
            if !start {
                return Ok(());
            }
            // SAFETY: plain helper call.
            st.started_ns = unsafe { bpf_ktime_get_ns() };
            if !counts && global(&SECCOMP_MODE_KNOWN) != 0 {
                // Started by the runtime's filter load.
                st.filtered_only = 1;
            }
            st.state = SLOT_RECORDING;
            if !counts {
                return Ok(());
            }
        } else if st.filtered_only != 0 && !task.filtered() {
            return Ok(());
        }
        count(slot, abi, nr);
        if st.record_args != 0 && !record_args(regs, st, slot, abi, nr as u32) {
            st.args_lost = 1;
        }
        Ok(())
    }

    /// Records the argument values of an [`ArgSpec`] syscall; false when a new value
    /// could not be stored.
    #[inline(never)]
    fn record_args(regs: *const u8, st: &mut SlotState, slot: u32, abi: u32, nr: u32) -> bool {
        let table = match ARG_SPECS.get(abi as usize) {
            Some(t) => t,
            None => return true,
        };
        let mut i = 0usize;
        while i < MAX_ARG_SPECS {
            let spec = match table.get(i) {
                // One 32-byte entry at a time (the whole table would not fit the
                // stack); volatile keeps the load-time values from being folded.
                // SAFETY: a reference into a .rodata global.
                Some(e) => unsafe { core::ptr::read_volatile(e) },
                None => return true,
            };
            if spec.nr == nr {
                let raw = read_arg(regs, abi, spec.arg_a as usize);
                let raw = if spec.deref_a != 0 {
                    // SAFETY: the helper tolerates bad user addresses (it returns Err).
                    match unsafe { bpf_probe_read_user(raw as *const u64) } {
                        Ok(v) => v,
                        // Unknown flags: the recording's values are incomplete.
                        Err(_) => return false,
                    }
                } else {
                    raw
                };
                let a = raw & spec.mask_a;
                let b = if spec.arg_b == ARG_NONE {
                    0
                } else {
                    read_arg(regs, abi, spec.arg_b as usize) & spec.mask_b
                };
                let key = ArgKey {
                    slot,
                    abi,
                    nr,
                    _pad: 0,
                    a,
                    b,
                };
                if ARGS.get_ptr_mut(&key).is_none() {
                    // A new value. Past ARG_VALUES_KEPT of this call the profile allows
                    // it by name anyway: store no more, leaving the shared map's room
                    // to other recordings (nothing is lost for this one).
                    let tally = abi as usize * MAX_ARG_SPECS + i;
                    if tally >= ARG_TALLIES {
                        return true;
                    }
                    let kept = st.arg_values[tally];
                    if kept >= ARG_VALUES_KEPT {
                        return true;
                    }
                    // NOEXIST: a racing insert of the same key on another CPU wins,
                    // and both then add to the one value. The tally is a plain
                    // store: a race can let a few more values in, never fewer.
                    if ARGS.insert(&key, &0, BPF_NOEXIST as u64).is_ok() {
                        st.arg_values[tally] = kept + 1;
                    }
                }
                return match ARGS.get_ptr_mut(&key) {
                    // SAFETY: pointer into a map value.
                    Some(p) => {
                        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1) };
                        true
                    }
                    None => false,
                };
            }
            i += 1;
        }
        true
    }

    #[inline(always)]
    fn count(slot: u32, abi: u32, nr: u64) {
        // Every named call has a cell (the ARM-private ones at the row's end); the
        // rest, numbers no table names, are counted in the shared OVERFLOW map, where
        // a full map loses a count but never one a profile needs.
        let idx = match cell_of(nr) {
            Some(idx) => idx,
            None => {
                let key = FirstUseKey {
                    slot,
                    abi,
                    nr: if nr > u32::MAX as u64 {
                        u32::MAX
                    } else {
                        nr as u32
                    },
                    _pad: 0,
                };
                match OVERFLOW.get_ptr_mut(&key) {
                    // SAFETY: pointer into a map value.
                    Some(p) => unsafe {
                        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, 1);
                    },
                    None => {
                        let _ = OVERFLOW.insert(&key, &1, BPF_NOEXIST as u64);
                    }
                }
                return;
            }
        };
        // A cell's number fits 32 bits (below 1016, or 0x0f000x).
        let key = FirstUseKey {
            slot,
            abi,
            nr: nr as u32,
            _pad: 0,
        };
        let row = match COUNTS.get_ptr_mut(counter_row(slot, abi)) {
            Some(r) => r,
            None => return,
        };
        if idx >= NR_ROW {
            return;
        }
        // SAFETY: idx < NR_ROW, row points to a [u64; NR_ROW] map value.
        let cell = unsafe { (row as *mut u64).add(idx) };
        // A plain load: if it reads 0 on two CPUs at once, NOEXIST keeps the first.
        if unsafe { core::ptr::read_volatile(cell) } == 0 {
            first_use(&key);
        }
        // SAFETY: aligned u64 inside the map value.
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(cell, 1) };
    }

    #[inline(never)]
    fn first_use(key: &FirstUseKey) {
        let pid_tgid = bpf_get_current_pid_tgid();
        let value = FirstUse {
            // SAFETY: plain helper call.
            time_ns: unsafe { bpf_ktime_get_ns() },
            tgid: (pid_tgid >> 32) as u32,
            tid: pid_tgid as u32,
            comm: bpf_get_current_comm().unwrap_or([0; 16]),
        };
        let _ = FIRST_USE.insert(key, &value, BPF_NOEXIST as u64);
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        loop {}
    }
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
