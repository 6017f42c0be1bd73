//! Per-architecture syscall tables: numbers to names and back.
//!
//! The tables come from the `syscalls` crate (generated from the kernel's own tables).
//! Where that crate (0.8.1) falls short, this module corrects it, and
//! `tests/syscall_tables.rs` cross-checks every entry against libseccomp:
//!
//! - x32 is not in the crate. It is derived from the x86_64 table the way the kernel
//!   builds it (`arch/x86/entry/syscalls/syscall_64.tbl`): every `common` entry with
//!   [`X32_SYSCALL_BIT`] set, none of the `64`-only entries, plus the x32-only entries
//!   512..=547. Numbers carry the bit, as `sys_enter` and libseccomp report them.
//! - 32-bit ARM has a few ARM-private syscalls at `0x0f0000 + n` (glibc calls
//!   `set_tls` at startup) that the crate leaves out.
//! - Two names are misspelt (`r#break` on x86, `fstatat` for `newfstatat` on aarch64)
//!   and aarch64 lists the 32-bit-only `*_time64` calls.
//!
//! Everything here is a pure lookup.

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

/// The bit the kernel sets in every x32 syscall number (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// The x32-only entries of `syscall_64.tbl` (numbers without [`X32_SYSCALL_BIT`]).
///
/// On x32 these names exist only here: their x86_64 numbers (e.g. 13 for
/// `rt_sigaction`) are `64`-only entries that x32 does not have.
const X32_SPECIFIC: [(u64, &str); 36] = [
    (512, "rt_sigaction"),
    (513, "rt_sigreturn"),
    (514, "ioctl"),
    (515, "readv"),
    (516, "writev"),
    (517, "recvfrom"),
    (518, "sendmsg"),
    (519, "recvmsg"),
    (520, "execve"),
    (521, "ptrace"),
    (522, "rt_sigpending"),
    (523, "rt_sigtimedwait"),
    (524, "rt_sigqueueinfo"),
    (525, "sigaltstack"),
    (526, "timer_create"),
    (527, "mq_notify"),
    (528, "kexec_load"),
    (529, "waitid"),
    (530, "set_robust_list"),
    (531, "get_robust_list"),
    (532, "vmsplice"),
    (533, "move_pages"),
    (534, "preadv"),
    (535, "pwritev"),
    (536, "rt_tgsigqueueinfo"),
    (537, "recvmmsg"),
    (538, "sendmmsg"),
    (539, "process_vm_readv"),
    (540, "process_vm_writev"),
    (541, "setsockopt"),
    (542, "getsockopt"),
    (543, "io_setup"),
    (544, "io_submit"),
    (545, "execveat"),
    (546, "preadv2"),
    (547, "pwritev2"),
];

/// The other `64`-only entries of `syscall_64.tbl`: obsolete or unimplemented calls
/// that x32 has under no number at all.
const X86_64_ONLY: [&str; 11] = [
    "uselib",
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "nfsservctl",
    "set_thread_area",
    "get_thread_area",
    "epoll_ctl_old",
    "epoll_wait_old",
    "vserver",
];

/// The ARM-private syscalls (`__ARM_NR_BASE` = 0x0f0000 in the kernel's
/// `arch/arm/include/uapi/asm/unistd.h`), which the `syscalls` crate leaves out.
const ARM_PRIVATE: [(u64, &str); 6] = [
    (0x0f_0001, "breakpoint"),
    (0x0f_0002, "cacheflush"),
    (0x0f_0003, "usr26"),
    (0x0f_0004, "usr32"),
    (0x0f_0005, "set_tls"),
    (0x0f_0006, "get_tls"),
];

/// Runs `$body` with `$S` bound to the `syscalls` crate's `Sysno` type of `$arch`, or
/// `$x32` for x32, which that crate lacks: one match instead of one per lookup.
macro_rules! with_sysno {
    ($arch:expr, $S:ident => $body:expr, x32 => $x32:expr $(,)?) => {
        match $arch {
            Arch::X86_64 => {
                use syscalls::x86_64::Sysno as $S;
                $body
            }
            Arch::X86 => {
                use syscalls::x86::Sysno as $S;
                $body
            }
            Arch::Aarch64 => {
                use syscalls::aarch64::Sysno as $S;
                $body
            }
            Arch::Arm => {
                use syscalls::arm::Sysno as $S;
                $body
            }
            Arch::Riscv64 => {
                use syscalls::riscv64::Sysno as $S;
                $body
            }
            Arch::X32 => $x32,
        }
    };
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
    ///
    /// x32 numbers include [`X32_SYSCALL_BIT`]; without it they are not x32 numbers.
    pub fn name_of(self, nr: u64) -> Option<&'static str> {
        if let Some(name) = lookup_nr(extra_entries(self), nr) {
            return Some(name);
        }
        if self == Arch::X32 {
            return x32_name(nr);
        }
        correct_crate_entry(self, nr, crate_name_of(self, nr)?)
    }

    /// The number of syscall `name` on this architecture.
    pub fn number_of(self, name: &str) -> Option<u64> {
        if let Some(nr) = lookup_name(extra_entries(self), name) {
            return Some(nr);
        }
        if self == Arch::X32 {
            return x32_number(name);
        }
        let nr = crate_number_of(self, crate_spelling(self, name)?)?;
        (!crate_lists_by_mistake(self, nr)).then_some(nr)
    }

    /// The number of syscall `name`, or an error naming the architecture.
    pub fn resolve(self, name: &str) -> Result<u64, SyscallError> {
        self.number_of(name)
            .ok_or_else(|| SyscallError::UnknownName {
                name: name.to_owned(),
                arch: self,
            })
    }

    /// The whole table of this architecture as `(number, name)`, sorted by number.
    pub fn table(self) -> Vec<(u64, &'static str)> {
        let mut table = if self == Arch::X32 {
            x32_table()
        } else {
            crate_table(self)
                .into_iter()
                .filter_map(|(nr, raw)| Some((nr, correct_crate_entry(self, nr, raw)?)))
                .collect()
        };
        table.extend_from_slice(extra_entries(self));
        table.sort_unstable();
        table
    }
}

/// Where the `syscalls` crate (0.8.1) spells a name differently from the kernel's
/// uapi headers and libseccomp: `(arch, crate spelling, kernel spelling)`.
const RENAMED: [(Arch, &str, &str); 2] = [
    // `stringify!` keeps the `r#` of the raw identifier.
    (Arch::X86, "r#break", "break"),
    // asm-generic 79 is `newfstatat` on 64-bit ABIs (`fstatat64` on 32-bit ones).
    (Arch::Aarch64, "fstatat", "newfstatat"),
];

/// Whether the crate lists `nr` on `arch` although that ABI has no such syscall: the
/// asm-generic `*_time64` calls (403..=423) exist only on 32-bit ABIs.
fn crate_lists_by_mistake(arch: Arch, nr: u64) -> bool {
    arch == Arch::Aarch64 && (403..=423).contains(&nr)
}

/// Entries the crate leaves out.
fn extra_entries(arch: Arch) -> &'static [(u64, &'static str)] {
    match arch {
        Arch::Arm => &ARM_PRIVATE,
        _ => &[],
    }
}

/// The kernel's name for a crate entry, or `None` if the entry is a mistake.
fn correct_crate_entry(arch: Arch, nr: u64, raw: &'static str) -> Option<&'static str> {
    if crate_lists_by_mistake(arch, nr) {
        return None;
    }
    Some(
        RENAMED
            .iter()
            .find(|&&(a, crate_name, _)| a == arch && crate_name == raw)
            .map_or(raw, |&(_, _, kernel_name)| kernel_name),
    )
}

/// The crate's spelling of the kernel name `name`, or `None` if `name` is only the
/// crate's wrong spelling.
fn crate_spelling(arch: Arch, name: &str) -> Option<&str> {
    for &(a, crate_name, kernel_name) in &RENAMED {
        if a == arch && kernel_name == name {
            return Some(crate_name);
        }
        if a == arch && crate_name == name {
            return None;
        }
    }
    Some(name)
}

/// The `syscalls` crate's name for `nr` (none for x32, which it lacks).
fn crate_name_of(arch: Arch, nr: u64) -> Option<&'static str> {
    with_sysno!(arch,
        S => S::new(usize::try_from(nr).ok()?).map(|s| s.name()),
        x32 => None,
    )
}

/// The `syscalls` crate's number for `name` (none for x32, which it lacks).
fn crate_number_of(arch: Arch, name: &str) -> Option<u64> {
    with_sysno!(arch,
        S => S::from_str(name).ok().and_then(|s| u64::try_from(s.id()).ok()),
        x32 => None,
    )
}

/// The `syscalls` crate's table for `arch`, as it spells it (empty for x32).
fn crate_table(arch: Arch) -> Vec<(u64, &'static str)> {
    with_sysno!(arch,
        // Not `S::iter()`: in syscalls 0.8.1 it stops before the last entry.
        S => (S::first().id()..=S::last().id())
            .filter_map(|id| S::new(usize::try_from(id).ok()?))
            .filter_map(|s| Some((u64::try_from(s.id()).ok()?, s.name())))
            .collect(),
        x32 => Vec::new(),
    )
}

fn lookup_nr(entries: &[(u64, &'static str)], nr: u64) -> Option<&'static str> {
    entries
        .iter()
        .find(|(n, _)| *n == nr)
        .map(|(_, name)| *name)
}

fn lookup_name(entries: &[(u64, &'static str)], name: &str) -> Option<u64> {
    entries.iter().find(|(_, n)| *n == name).map(|(nr, _)| *nr)
}

/// Whether an x86_64 entry is `common`, that is, exists on x32 under the same number.
fn is_common_x86_64(name: &str) -> bool {
    !X86_64_ONLY.contains(&name) && lookup_name(&X32_SPECIFIC, name).is_none()
}

fn x32_name(nr: u64) -> Option<&'static str> {
    if nr & X32_SYSCALL_BIT == 0 {
        return None;
    }
    let base = nr & !X32_SYSCALL_BIT;
    lookup_nr(&X32_SPECIFIC, base).or_else(|| {
        Arch::X86_64
            .name_of(base)
            .filter(|name| is_common_x86_64(name))
    })
}

fn x32_number(name: &str) -> Option<u64> {
    let base = lookup_name(&X32_SPECIFIC, name).or_else(|| {
        Some(name)
            .filter(|name| is_common_x86_64(name))
            .and_then(|name| Arch::X86_64.number_of(name))
    })?;
    Some(base | X32_SYSCALL_BIT)
}

fn x32_table() -> Vec<(u64, &'static str)> {
    Arch::X86_64
        .table()
        .into_iter()
        .filter(|(_, name)| is_common_x86_64(name))
        .chain(X32_SPECIFIC)
        .map(|(nr, name)| (nr | X32_SYSCALL_BIT, name))
        .collect()
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scmp_name())
    }
}

impl FromStr for Arch {
    type Err = SyscallError;

    /// Accepts the short names, the `SCMP_ARCH_*` names (any case) and the usual
    /// aliases (`amd64`, `i386`, `arm64`, ...).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (arch, name, number) facts from the kernel's tables, a few per arch.
    const KNOWN: &[(Arch, &str, u64)] = &[
        (Arch::X86_64, "read", 0),
        (Arch::X86_64, "getppid", 110),
        (Arch::X86_64, "rt_sigaction", 13),
        (Arch::X86_64, "openat", 257),
        (Arch::X86_64, "uselib", 134),
        (Arch::X86, "restart_syscall", 0),
        (Arch::X86, "exit", 1),
        (Arch::X86, "getppid", 64),
        (Arch::X86, "socketcall", 102),
        (Arch::X86, "openat", 295),
        (Arch::X32, "read", 0x4000_0000),
        (Arch::X32, "getppid", 0x4000_0000 + 110),
        (Arch::X32, "rt_sigaction", 0x4000_0000 + 512),
        (Arch::X32, "execve", 0x4000_0000 + 520),
        (Arch::X32, "execveat", 0x4000_0000 + 545),
        (Arch::X32, "pwritev2", 0x4000_0000 + 547),
        (Arch::Aarch64, "io_setup", 0),
        (Arch::Aarch64, "openat", 56),
        (Arch::Aarch64, "getppid", 173),
        (Arch::Arm, "restart_syscall", 0),
        (Arch::Arm, "getppid", 64),
        (Arch::Arm, "openat", 322),
        (Arch::Arm, "set_tls", 0x0f_0005),
        (Arch::Riscv64, "openat", 56),
        (Arch::Riscv64, "getppid", 173),
        (Arch::Riscv64, "riscv_flush_icache", 259),
    ];

    #[test]
    fn known_entries_resolve_both_ways() {
        for &(arch, name, nr) in KNOWN {
            assert_eq!(arch.number_of(name), Some(nr), "{arch} {name}");
            assert_eq!(arch.name_of(nr), Some(name), "{arch} {nr}");
            assert_eq!(arch.resolve(name).ok(), Some(nr), "{arch} {name}");
        }
    }

    #[test]
    fn every_table_round_trips_and_is_sorted() {
        for arch in Arch::ALL {
            let table = arch.table();
            assert!(table.len() > 300, "{arch}: only {} entries", table.len());
            assert!(
                table.windows(2).all(|w| w[0].0 < w[1].0),
                "{arch}: not sorted"
            );
            for (nr, name) in table {
                assert_eq!(arch.name_of(nr), Some(name), "{arch} {nr}");
                assert_eq!(arch.number_of(name), Some(nr), "{arch} {name}");
            }
        }
    }

    #[test]
    fn table_includes_the_last_crate_entry() {
        let last = syscalls::x86_64::Sysno::last();
        let table = Arch::X86_64.table();
        assert_eq!(table.last().map(|e| e.1), Some(last.name()));
    }

    #[test]
    fn crate_mistakes_are_corrected() {
        assert_eq!(Arch::X86.name_of(17), Some("break"));
        assert_eq!(Arch::X86.number_of("break"), Some(17));
        assert_eq!(Arch::X86.number_of("r#break"), None);
        assert_eq!(Arch::Aarch64.name_of(79), Some("newfstatat"));
        assert_eq!(Arch::Aarch64.number_of("newfstatat"), Some(79));
        assert_eq!(Arch::Aarch64.number_of("fstatat"), None);
        assert_eq!(Arch::Riscv64.name_of(79), Some("newfstatat"));
        assert!((403..=423).all(|nr| Arch::Aarch64.name_of(nr).is_none()));
        assert_eq!(Arch::Aarch64.number_of("clock_gettime64"), None);
        assert_eq!(Arch::Arm.number_of("clock_gettime64"), Some(403));
        assert_eq!(Arch::X86.number_of("clock_gettime64"), Some(403));
        for arch in Arch::ALL {
            for (nr, name) in arch.table() {
                let plain = name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                assert!(plain, "{arch} {nr}: {name:?}");
            }
        }
    }

    #[test]
    fn arm_private_syscalls() {
        for (nr, name) in ARM_PRIVATE {
            assert_eq!(Arch::Arm.name_of(nr), Some(name));
            assert_eq!(Arch::Arm.number_of(name), Some(nr));
        }
        assert!(Arch::Arm.table().ends_with(&ARM_PRIVATE));
    }

    #[test]
    fn unknown_lookups_are_none() {
        for arch in Arch::ALL {
            assert_eq!(arch.number_of("no_such_syscall"), None, "{arch}");
            assert_eq!(arch.number_of(""), None, "{arch}");
            assert_eq!(arch.name_of(100_000), None, "{arch}");
            assert_eq!(arch.name_of(u64::MAX), None, "{arch}");
        }
        // Names that exist on one arch only.
        assert_eq!(Arch::Aarch64.number_of("open"), None);
        assert_eq!(Arch::X86_64.number_of("socketcall"), None);
        assert_eq!(Arch::X86_64.number_of("set_tls"), None);
        assert_eq!(Arch::Aarch64.name_of(0x0f_0005), None);
    }

    #[test]
    fn resolve_error_names_the_arch() {
        let err = Arch::Aarch64.resolve("open").unwrap_err();
        assert!(matches!(
            &err,
            SyscallError::UnknownName { name, arch: Arch::Aarch64 } if name == "open"
        ));
        assert_eq!(
            err.to_string(),
            "unknown syscall name 'open' on SCMP_ARCH_AARCH64"
        );
        assert_eq!(err.category(), Category::UnknownSyscall);
    }

    #[test]
    fn x32_uses_the_x32_numbers_of_the_36_special_entries() {
        for (base, name) in X32_SPECIFIC {
            let nr = base | X32_SYSCALL_BIT;
            assert_eq!(Arch::X32.number_of(name), Some(nr), "{name}");
            assert_eq!(Arch::X32.name_of(nr), Some(name), "{nr}");
            // The 64-bit number of the same name is not an x32 syscall.
            let nr64 = Arch::X86_64.number_of(name).expect(name);
            assert_eq!(Arch::X32.name_of(nr64 | X32_SYSCALL_BIT), None, "{name}");
        }
        assert_eq!(Arch::X32.name_of(X32_SYSCALL_BIT | 13), None);
    }

    #[test]
    fn x32_lacks_the_64_only_entries() {
        for name in X86_64_ONLY {
            let nr64 = Arch::X86_64.number_of(name).expect(name);
            assert_eq!(Arch::X32.number_of(name), None, "{name}");
            assert_eq!(Arch::X32.name_of(nr64 | X32_SYSCALL_BIT), None, "{name}");
        }
    }

    #[test]
    fn x32_numbers_need_the_x32_bit() {
        assert_eq!(Arch::X32.name_of(0), None);
        assert_eq!(Arch::X32.name_of(110), None);
        assert_eq!(Arch::X32.name_of(512), None);
        assert_eq!(Arch::X32.name_of(X32_SYSCALL_BIT | 548), None);
    }

    #[test]
    fn x32_table_is_the_common_x86_64_entries_plus_36() {
        let x86_64 = Arch::X86_64.table().len();
        let x32 = Arch::X32.table();
        assert_eq!(x32.len(), x86_64 - X86_64_ONLY.len());
        assert!(x32.iter().all(|(nr, _)| nr & X32_SYSCALL_BIT != 0));
        let specials = x32
            .iter()
            .filter(|(nr, _)| (512..=547).contains(&(nr & !X32_SYSCALL_BIT)))
            .count();
        assert_eq!(specials, 36);
    }

    #[test]
    fn names_and_display() {
        assert_eq!(Arch::X86_64.to_string(), "SCMP_ARCH_X86_64");
        assert_eq!(Arch::X32.scmp_name(), "SCMP_ARCH_X32");
        for arch in Arch::ALL {
            assert_eq!(arch.short_name().parse::<Arch>().ok(), Some(arch));
            assert_eq!(arch.scmp_name().parse::<Arch>().ok(), Some(arch));
            assert_eq!(arch.to_string().parse::<Arch>().ok(), Some(arch));
        }
    }

    #[test]
    fn from_str_aliases() {
        let cases = [
            ("amd64", Arch::X86_64),
            ("X86-64", Arch::X86_64),
            ("scmp_arch_x86_64", Arch::X86_64),
            ("i386", Arch::X86),
            ("i686", Arch::X86),
            ("ia32", Arch::X86),
            ("X32", Arch::X32),
            ("arm64", Arch::Aarch64),
            ("SCMP_ARCH_AARCH64", Arch::Aarch64),
            ("armhf", Arch::Arm),
            ("arm32", Arch::Arm),
            ("RISCV64", Arch::Riscv64),
        ];
        for (input, arch) in cases {
            assert_eq!(input.parse::<Arch>().ok(), Some(arch), "{input}");
        }
    }

    #[test]
    fn from_str_errors() {
        for input in [
            "",
            "mips",
            "x86_65",
            "SCMP_ARCH_",
            "scmp_arch_mips",
            " x86_64",
        ] {
            let err = input.parse::<Arch>().unwrap_err();
            assert!(
                matches!(&err, SyscallError::UnknownArch(s) if s == input),
                "{input}"
            );
            assert_eq!(err.category(), Category::UnknownArch);
        }
        let err = "mips".parse::<Arch>().unwrap_err();
        assert!(err.to_string().starts_with("unknown architecture 'mips'"));
    }

    #[test]
    fn native_has_a_table_here() {
        if let Some(arch) = Arch::native() {
            assert!(arch.number_of("close").is_some());
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(Arch::native(), Some(Arch::X86_64));
    }
}
