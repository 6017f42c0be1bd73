//! Loading the eBPF object into the kernel (verifier), with the offsets and syscall
//! numbers of this kernel and host, and pinning it.

use super::*;

/// Syscall numbers (execve, execveat, seccomp, prctl) of an ABI, as the program sees them.
pub(super) fn trigger_nrs(arch: Option<Arch>) -> [u32; 4] {
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

/// Byte offsets in `struct pt_regs` of syscall arguments 0..3 for an ABI. `arg0` is
/// where the running kernel keeps argument 0 apart from the registers, from its BTF
/// ([`btf::KernelOffsets::syscall_arg0`]: arm64's `orig_x0`).
pub(super) fn arg_offsets(arch: Option<Arch>, arg0: Option<u32>) -> [u32; 3] {
    match arch {
        // di, si, dx
        Some(Arch::X86_64) | Some(Arch::X32) => [112, 104, 96],
        // bx, cx, dx (i386 calling convention, saved in the same pt_regs)
        Some(Arch::X86) => [40, 88, 96],
        // orig_x0, regs[1], regs[2]: AArch32 tasks' r0-r2 are x0-x2 (the program keeps
        // only the low halves of a compat task's arguments).
        Some(Arch::Aarch64) | Some(Arch::Arm) => [arg0.unwrap_or(0), 8, 16],
        // a0, a1, a2 (after epc, ra, sp, gp, tp, t0-t2, s0, s1)
        Some(Arch::Riscv64) => [80, 88, 96],
        None => [0; 3],
    }
}

/// Loads the program and pins it. aya's loader parses the whole vmlinux BTF (~25 ms
/// here) for CO-RE relocations this program does not use; when this process is
/// single-threaded, the load runs in a forked child whose private mount namespace
/// hides `/sys/kernel/btf`, so that parse finds nothing. Pins are global, so the
/// child's work is visible to us. Anything unexpected falls back to loading here.
pub(super) fn load_and_pin(paths: &TracerPaths, dir: &Path) -> Result<(), TracerError> {
    let choice = AttachChoice::from_env()?;
    let kernel = btf::KernelOffsets::read(&paths.btf)?;
    if !single_threaded() {
        return load_and_pin_with(paths, dir, kernel, choice);
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 with a valid out array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return load_and_pin_with(paths, dir, kernel, choice);
    }
    // SAFETY: the process is single-threaded, so the child may run ordinary code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: closing the read end in the child.
        unsafe { libc::close(fds[0]) };
        let (code, message) = match hide_kernel_btf() {
            Err(e) => (HIDE_FAILED, e.to_string()),
            Ok(()) => match load_and_pin_with(paths, dir, kernel, choice) {
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
        return load_and_pin_with(paths, dir, kernel, choice);
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
            load_and_pin_with(paths, dir, kernel, choice)
        }
        Some((code, message)) => Err(TracerError::LoaderChild {
            code: *code,
            message: String::from_utf8_lossy(message).into_owned(),
        }),
        None => load_and_pin_with(paths, dir, kernel, choice),
    }
}

/// Marker of the loader child: hiding BTF failed (fall back).
const HIDE_FAILED: u8 = 255;

pub(super) fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Threads:", "1"])
        })
        .unwrap_or(false)
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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
pub(super) fn hide_kernel_btf() -> io::Result<()> {
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
pub(super) fn load_and_pin_with(
    paths: &TracerPaths,
    dir: &Path,
    kernel: btf::KernelOffsets,
    choice: AttachChoice,
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
    let arg0 = kernel.syscall_arg0;
    let offsets = [
        arg_offsets(Some(abis.native), arg0),
        arg_offsets(abis.compat, arg0),
        arg_offsets(abis.x32, arg0),
    ];
    let triggers_flat: Vec<u32> = triggers.iter().flatten().copied().collect();
    let offsets_flat: Vec<u32> = offsets.iter().flatten().copied().collect();
    let triggers_arr: [u32; 12] = triggers_flat.try_into().unwrap_or([u32::MAX; 12]);
    let arg_specs = ArgSpecs([
        crate::kernel::args::specs_for(Some(abis.native)),
        crate::kernel::args::specs_for(abis.compat),
        crate::kernel::args::specs_for(abis.x32),
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
    crate::fs::mode::create_dir(dir).map_err(io_err("cannot create pin directory", dir))?;
    for name in pins::MAPS {
        let map = ebpf.map(name).ok_or(TracerError::Map {
            what: "map missing from the eBPF object",
            source: Box::new(MapError::InvalidName {
                name: name.to_owned(),
            }),
        })?;
        let path = dir.join(name);
        map.pin(&path)
            .map_err(pin_err("cannot pin map at", &path))?;
    }
    // The cache keepers first: the `sys_enter` program pin means "fully loaded".
    for (name, pin) in [
        ("sched_switch", pins::PROGRAM_SWITCH),
        ("cgroup_attach_task", pins::PROGRAM_MIGRATE),
    ] {
        let path = dir.join(pin);
        load_raw_tracepoint(&mut ebpf, name)?
            .pin(&path)
            .map_err(pin_err("cannot pin program at", &path))?;
    }
    // The main program's pin is written last: its presence means "fully loaded".
    let point = attach::load_syscall_programs(&mut ebpf, dir, &abis, kernel.dispatchers, choice)?;
    tracing::debug!(attach = point.describe(), "program loaded and pinned");
    Ok(())
}

/// Loads the raw tracepoint program `name` of `ebpf` into the kernel (verifier).
pub(super) fn load_raw_tracepoint<'e>(
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
