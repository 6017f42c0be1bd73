//! The empty programs, for the benchmarks' floors: one on `sys_enter`, one `fentry`
//! on the native syscall dispatcher.

use aya::programs::FEntry;

use super::attach::{btf_naming, AttachPoint};
use super::loader::load_raw_tracepoint;
use super::*;

/// An empty program of the object attached at one attach point, for benchmarks: the
/// irreducible cost of having any program there. Detached when dropped.
pub struct FloorProgram {
    _ebpf: aya::Ebpf,
}

impl FloorProgram {
    /// Loads and attaches the empty program on `sys_enter`.
    pub fn attach() -> Result<Self, TracerError> {
        Self::attach_at(AttachPoint::Tracepoint)
    }

    /// Loads and attaches the empty program at `point`: `sys_enter`, or `fentry` on the
    /// native dispatcher (`x64_sys_call`, its BTF id from the kernel's BTF).
    pub fn attach_at(point: AttachPoint) -> Result<Self, TracerError> {
        require_root()?;
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .load(OBJECT)
            .map_err(|e| TracerError::Load(Box::new(e)))?;
        match point {
            AttachPoint::Tracepoint => {
                let program = load_raw_tracepoint(&mut ebpf, "sys_enter_empty")?;
                program
                    .attach("sys_enter")
                    .map_err(prog_err("cannot attach to raw tracepoint sys_enter"))?;
            }
            AttachPoint::Fentry => {
                let kernel = btf::KernelOffsets::read(Path::new(btf::VMLINUX_BTF))?;
                let (Some([native, ..]), Some(id)) = (
                    btf::Dispatchers::names(std::env::consts::ARCH),
                    kernel.dispatchers.native,
                ) else {
                    return Err(TracerError::FentryUnavailable(
                        "the kernel has no syscall dispatcher an fentry program can attach to"
                            .to_owned(),
                    ));
                };
                let program: &mut FEntry = ebpf
                    .program_mut("fentry_empty")
                    .ok_or_else(|| TracerError::Program {
                        what: "program missing from the eBPF object",
                        source: Box::new(ProgramError::NotLoaded),
                    })?
                    .try_into()
                    .map_err(prog_err("not an fentry program"))?;
                program
                    .load(native, &btf_naming(&[(id, native)]))
                    .map_err(|e| {
                        TracerError::FentryUnavailable(format!(
                            "the kernel refused an fentry program on {native} ({e})"
                        ))
                    })?;
                program
                    .attach()
                    .map_err(prog_err("cannot attach the fentry program"))?;
            }
        }
        Ok(FloorProgram { _ebpf: ebpf })
    }
}
