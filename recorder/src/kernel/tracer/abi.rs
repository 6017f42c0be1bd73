//! The syscall ABIs of the host and when a recording starts counting.

use super::*;

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
    pub(super) fn raw(self) -> u32 {
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
