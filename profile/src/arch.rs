//! The one mapping between the architecture spellings: our table architectures
//! ([`Arch`]), the runtime spec's (`SCMP_ARCH_*`, [`OciArch`]), Go's `GOARCH` (Docker
//! and podman `includes.arches`) and Rust's `target_arch` (this host).

use std::str::FromStr;

use oci_spec::runtime::Arch as OciArch;

use crate::syscalls::Arch;

/// The runtime-spec spelling of a table architecture.
pub fn to_oci(arch: Arch) -> OciArch {
    match arch {
        Arch::X86_64 => OciArch::ScmpArchX86_64,
        Arch::X86 => OciArch::ScmpArchX86,
        Arch::X32 => OciArch::ScmpArchX32,
        Arch::Aarch64 => OciArch::ScmpArchAarch64,
        Arch::Arm => OciArch::ScmpArchArm,
        Arch::Riscv64 => OciArch::ScmpArchRiscv64,
    }
}

/// The table architecture of a runtime-spec architecture, if it has a table
/// (`SCMP_ARCH_NATIVE`: this host's).
pub fn from_oci(arch: OciArch) -> Option<Arch> {
    match arch {
        OciArch::ScmpArchX86_64 => Some(Arch::X86_64),
        OciArch::ScmpArchX86 => Some(Arch::X86),
        OciArch::ScmpArchX32 => Some(Arch::X32),
        OciArch::ScmpArchAarch64 => Some(Arch::Aarch64),
        OciArch::ScmpArchArm => Some(Arch::Arm),
        OciArch::ScmpArchRiscv64 => Some(Arch::Riscv64),
        OciArch::ScmpArchNative => Arch::native(),
        _ => None,
    }
}

/// The Go `GOARCH` name of a table architecture, which `includes.arches` uses (x32
/// runs on amd64).
pub fn to_go(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 | Arch::X32 => "amd64",
        Arch::X86 => "386",
        Arch::Aarch64 => "arm64",
        Arch::Arm => "arm",
        Arch::Riscv64 => "riscv64",
    }
}

/// The Go `GOARCH` spelling of a Rust `target_arch` (any host, with or without a
/// table).
pub fn go_of_target(rust_arch: &'static str) -> &'static str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "loongarch64" => "loong64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        other => other,
    }
}

/// This host's architecture as the runtime spec names it (also on hosts without a
/// table of ours).
pub fn native_oci() -> Option<OciArch> {
    if let Some(a) = Arch::native() {
        return OciArch::from_str(a.scmp_name()).ok();
    }
    Some(match std::env::consts::ARCH {
        "s390x" => OciArch::ScmpArchS390x,
        "powerpc64" if cfg!(target_endian = "little") => OciArch::ScmpArchPpc64le,
        "powerpc64" => OciArch::ScmpArchPpc64,
        "loongarch64" => OciArch::ScmpArchLoongarch64,
        "mips64" if cfg!(target_endian = "little") => OciArch::ScmpArchMipsel64,
        "mips64" => OciArch::ScmpArchMips64,
        _ => return None,
    })
}

/// This host's architecture in messages: its `SCMP_ARCH_*` name, or `native (ARCH)`
/// when the runtime spec has no name for it.
pub fn native_label() -> String {
    native_oci()
        .map(|a| a.to_string())
        .unwrap_or_else(|| format!("native ({})", std::env::consts::ARCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_direction_agrees() {
        for a in Arch::ALL {
            assert_eq!(from_oci(to_oci(a)), Some(a), "{a}");
            assert_eq!(to_oci(a).to_string(), a.scmp_name(), "{a}");
        }
        assert_eq!(from_oci(OciArch::ScmpArchPpc64le), None);
        assert_eq!(from_oci(OciArch::ScmpArchNative), Arch::native());
        assert_eq!(go_of_target("x86_64"), "amd64");
        assert_eq!(go_of_target("aarch64"), "arm64");
        for (rust, a) in [
            ("x86_64", Arch::X86_64),
            ("x86", Arch::X86),
            ("aarch64", Arch::Aarch64),
            ("arm", Arch::Arm),
            ("riscv64", Arch::Riscv64),
        ] {
            assert_eq!(go_of_target(rust), to_go(a), "{rust}");
        }
        if let Some(a) = Arch::native() {
            assert_eq!(native_label(), a.scmp_name());
        }
    }
}
