//! Per-architecture syscall tables: numbers to names and back.
//!
//! The tables come from the `syscalls` crate (generated from the kernel's own tables).
//! x32 is derived from the x86_64 table plus the x32-only entries (512..=547).

use std::fmt;
use std::str::FromStr;

use crate::exit::{Categorized, Category};

/// An architecture/ABI as libseccomp and the OCI runtime spec name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// x86_64 native ABI (`SCMP_ARCH_X86_64`).
    X86_64,
    /// i386, also the compat ABI on x86_64 (`SCMP_ARCH_X86`).
    X86,
    /// x32 ABI on x86_64 (`SCMP_ARCH_X32`).
    X32,
    /// 64-bit ARM (`SCMP_ARCH_AARCH64`).
    Aarch64,
    /// 32-bit ARM EABI, also the compat ABI on aarch64 (`SCMP_ARCH_ARM`).
    Arm,
    /// 64-bit RISC-V (`SCMP_ARCH_RISCV64`).
    Riscv64,
}

/// Errors of the syscall tables.
#[derive(Debug, thiserror::Error)]
pub enum SyscallError {
    /// The architecture name is not known.
    #[error("unknown architecture '{0}' (known: x86_64, x86, x32, aarch64, arm, riscv64, or SCMP_ARCH_* names)")]
    UnknownArch(String),
    /// The syscall name is not in the architecture's table.
    #[error("unknown syscall name '{name}' on {arch}")]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The architecture searched.
        arch: Arch,
    },
    /// The syscall number is not in the architecture's table.
    #[error("unknown syscall number {nr} on {arch}")]
    UnknownNumber {
        /// The number asked for.
        nr: u64,
        /// The architecture searched.
        arch: Arch,
    },
}

impl Categorized for SyscallError {
    fn category(&self) -> Category {
        match self {
            SyscallError::UnknownArch(_) => Category::UnknownArch,
            SyscallError::UnknownName { .. } | SyscallError::UnknownNumber { .. } => {
                Category::UnknownSyscall
            }
        }
    }
}

impl Arch {
    /// Every architecture with a table.
    pub const ALL: [Arch; 6] = [
        Arch::X86_64,
        Arch::X86,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Riscv64,
    ];

    /// The libseccomp / OCI name, e.g. `SCMP_ARCH_X86_64`.
    pub const fn scmp_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
            Arch::Riscv64 => "SCMP_ARCH_RISCV64",
        }
    }

    /// The short name (`x86_64`, `x86`, `x32`, ...), as `scmp_sys_resolver -a` takes it.
    pub const fn short_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86 => "x86",
            Arch::X32 => "x32",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The architecture this binary runs on, if it has a table.
    pub fn native() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "x86" => Some(Arch::X86),
            "aarch64" => Some(Arch::Aarch64),
            "arm" => Some(Arch::Arm),
            "riscv64" => Some(Arch::Riscv64),
            _ => None,
        }
    }

    /// The name of syscall `nr` on this architecture.
    pub fn name_of(self, nr: u64) -> Option<&'static str> {
        let id = usize::try_from(nr).ok()?;
        match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::new(id).map(|s| s.name()),
            Arch::X86 => syscalls::x86::Sysno::new(id).map(|s| s.name()),
            Arch::X32 => x32_name(nr),
            Arch::Aarch64 => syscalls::aarch64::Sysno::new(id).map(|s| s.name()),
            Arch::Arm => syscalls::arm::Sysno::new(id).map(|s| s.name()),
            Arch::Riscv64 => syscalls::riscv64::Sysno::new(id).map(|s| s.name()),
        }
    }

    /// The number of syscall `name` on this architecture.
    pub fn number_of(self, name: &str) -> Option<u64> {
        fn id<T: Copy + Into<u32>>(s: T) -> u64 {
            u64::from(s.into())
        }
        match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::from_str(name).ok().map(|s| s.id() as u64),
            Arch::X86 => syscalls::x86::Sysno::from_str(name).ok().map(|s| s.id() as u64),
            Arch::X32 => x32_number(name),
            Arch::Aarch64 => syscalls::aarch64::Sysno::from_str(name).ok().map(|s| s.id() as u64),
            Arch::Arm => syscalls::arm::Sysno::from_str(name).ok().map(|s| s.id() as u64),
            Arch::Riscv64 => syscalls::riscv64::Sysno::from_str(name).ok().map(|s| s.id() as u64),
        }
        .or_else(|| {
            let _ = id::<u32>;
            None
        })
    }

    /// The number of syscall `name`, or an error naming the architecture.
    pub fn resolve(self, name: &str) -> Result<u64, SyscallError> {
        self.number_of(name).ok_or_else(|| SyscallError::UnknownName {
            name: name.to_owned(),
            arch: self,
        })
    }
}

// The helper that owns this module replaces these two with the real x32 table.
fn x32_name(_nr: u64) -> Option<&'static str> {
    None
}
fn x32_number(_name: &str) -> Option<u64> {
    None
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scmp_name())
    }
}

impl FromStr for Arch {
    type Err = SyscallError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let key = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
        Ok(match key {
            "x86_64" | "amd64" | "x86-64" => Arch::X86_64,
            "x86" | "i386" | "i686" | "ia32" => Arch::X86,
            "x32" => Arch::X32,
            "aarch64" | "arm64" => Arch::Aarch64,
            "arm" | "armhf" | "arm32" => Arch::Arm,
            "riscv64" => Arch::Riscv64,
            _ => return Err(SyscallError::UnknownArch(s.to_owned())),
        })
    }
}
