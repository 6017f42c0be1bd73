//! The empty program on `sys_enter`, for the benchmarks' floor.

use super::loader::load_raw_tracepoint;
use super::*;

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
