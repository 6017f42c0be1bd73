//! The arm64 guest: the Debian kernel and busybox (downloaded once, cached), the test
//! programs, its `/init`, and its qemu machine (the harness is `crate::guest`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::guest::{download, KernelPackage, Qemu, INIT_END, INIT_PRELUDE};
use crate::{root, sh};

/// getppid calls of the AArch32 program (the compat count the guest checks).
pub const ARM32_GETPPID: u32 = 100_000;
/// getppid calls of the exact-count step.
pub const EXACT_GETPPID: u32 = 1_000_000;
/// How long the guest may take from qemu's start to its last line.
const GUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// Where downloads are kept between runs (survives `cargo clean` of the aarch64
/// build, not a full `cargo clean`).
pub fn cache_dir() -> PathBuf {
    root().join("target/arm64-guest/cache")
}

/// The Debian arm64 kernel: `SR_ARM64_KERNEL_PACKAGE` names another metapackage (and
/// bypasses the cache), to try what happens when it is unavailable.
const KERNEL: KernelPackage = KernelPackage {
    meta: "linux-image-arm64",
    foreign: Some("arm64"),
    suffix: "-arm64",
    env: "SR_ARM64_KERNEL_PACKAGE",
};

/// The Debian arm64 kernel image (an uncompressed `Image` with BTF): the one cached,
/// else the current `linux-image-arm64:arm64` dependency, downloaded and unpacked.
pub fn kernel() -> Result<PathBuf> {
    KERNEL.image(&cache_dir())
}

/// Static arm64 busybox, from `busybox-static:arm64` (cached).
pub fn busybox() -> Result<PathBuf> {
    let cache = cache_dir();
    let dest = cache.join("busybox-arm64");
    if dest.exists() {
        return Ok(dest);
    }
    let deb = download(&cache, "busybox-static:arm64")?;
    let tmp = cache.join("busybox.part");
    let unpack = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO ./bin/busybox > '{}'",
        deb.display(),
        tmp.display()
    );
    sh(Command::new("sh").arg("-c").arg(&unpack)).context("unpack busybox")?;
    std::fs::rename(&tmp, &dest)?;
    std::fs::remove_file(&deb)?;
    Ok(dest)
}

/// tests/fixtures/argprobe.c, static, for `gcc` (`aarch64-linux-gnu-gcc` or the host's).
pub fn argprobe(gcc: &str, dest: &Path) -> Result<()> {
    let src = root().join("tests/fixtures/argprobe.c");
    sh(Command::new(gcc)
        .args(["-static", "-pthread", "-O2", "-o"])
        .arg(dest)
        .arg(&src))
    .with_context(|| format!("{gcc} argprobe.c"))
}

/// A32 `movw rd, #imm` (imm < 0x10000).
const fn movw(rd: u32, imm: u32) -> u32 {
    0xE300_0000 | ((imm >> 12) << 16) | (rd << 12) | (imm & 0xfff)
}
/// A32 `movt rd, #imm` (the high half).
const fn movt(rd: u32, imm: u32) -> u32 {
    0xE340_0000 | ((imm >> 12) << 16) | (rd << 12) | (imm & 0xfff)
}
/// A32 `mov rd, #imm8`.
const fn mov(rd: u32, imm8: u32) -> u32 {
    0xE3A0_0000 | (rd << 12) | imm8
}
/// A32 `svc #0`.
const SVC: u32 = 0xEF00_0000;
/// A32 `subs r4, r4, #1`.
const SUBS_R4: u32 = 0xE254_4001;
/// A32 `bne` back to word `top` from word `here`: the offset counts from the branch
/// + 8 bytes, in words.
const fn bne_back(top: usize, here: usize) -> u32 {
    0x1A00_0000 | (((top as i32 - here as i32 - 2) as u32) & 0x00ff_ffff)
}

/// A static AArch32 (ARM EABI) program without libc: `getppid` `getppid_calls` times,
/// `socket(AF_INET, SOCK_DGRAM, 0)`, `exit_group(0)`. Written by hand (a few A32
/// words) so that no 32-bit toolchain is needed.
pub fn arm32_program(getppid_calls: u32) -> Vec<u8> {
    let mut code = vec![
        movw(4, getppid_calls & 0xffff),
        movt(4, getppid_calls >> 16),
    ];
    let top = code.len();
    code.extend([mov(7, 64), SVC, SUBS_R4]); // getppid; subs r4, r4, #1
    code.push(bne_back(top, code.len()));
    code.extend([mov(0, 2), mov(1, 2), mov(2, 0), movw(7, 281), SVC]); // socket
    code.extend([mov(0, 0), mov(7, 248), SVC]); // exit_group(0)
    arm32_elf(&code)
}

/// First of the invalid numbers [`arm32_flood_program`] calls: past every compat table,
/// below the ARM-private range (a number past that range is SIGILL for an AArch32 task).
pub const FLOOD_FROM: u32 = 0x2000;
/// Distinct invalid numbers it calls: more than the recorder's shared map of numbers
/// past a row holds (4,096), so the map is full before `set_tls`.
pub const FLOOD_CALLS: u32 = 5000;

/// A static AArch32 program that calls [`FLOOD_CALLS`] distinct invalid syscall numbers
/// (ENOSYS each), then the ARM-private `set_tls(0)` (`0x0f0005`), and exits with what
/// `set_tls` returned: 0 when it ran, 255 when a profile denied it.
pub fn arm32_flood_program() -> Vec<u8> {
    let mut code = vec![movw(4, FLOOD_CALLS), movw(7, FLOOD_FROM)];
    let top = code.len();
    code.extend([SVC, 0xE287_7001, SUBS_R4]); // svc; add r7, r7, #1; subs r4, r4, #1
    code.push(bne_back(top, code.len()));
    code.extend([mov(0, 0), movw(7, 5), movt(7, 0xf), SVC]); // set_tls(0)
    code.extend([mov(7, 248), SVC]); // exit_group(set_tls's result)
    arm32_elf(&code)
}

/// An ET_EXEC ARM EABI file of one R+X segment holding the A32 words `code`, entered at
/// the first.
fn arm32_elf(code: &[u32]) -> Vec<u8> {
    const BASE: u32 = 0x1_0000;
    const HEADERS: u32 = 52 + 32;
    let size = HEADERS + 4 * code.len() as u32;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    let h16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let h32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    h16(&mut elf, 2); // ET_EXEC
    h16(&mut elf, 40); // EM_ARM
    h32(&mut elf, 1);
    h32(&mut elf, BASE + HEADERS); // entry (A32: even)
    h32(&mut elf, 52); // program headers
    h32(&mut elf, 0); // no sections
    h32(&mut elf, 0x0500_0000); // EABI version 5
    for x in [52u16, 32, 1, 40, 0, 0] {
        h16(&mut elf, x);
    }
    for x in [1, 0, BASE, BASE, size, size, 5, 0x1000] {
        h32(&mut elf, x); // PT_LOAD of the whole file, R+X
    }
    for &w in code {
        h32(&mut elf, w);
    }
    elf
}

/// The guest's `/init`: the shared prelude (mounts, `step`, `dump`), then each step.
/// The guest only runs; the host judges (`verdict.rs`).
pub fn init_script() -> String {
    let exact = EXACT_GETPPID;
    let steps = format!(
        r#"R=/bin/seccomp-recorder
P=/bin/argprobe
step exact $R record --runtime none --stats /tmp/exact.stats.json -o /tmp/exact.json -- $P getppid:{exact}
dump exact.stats /tmp/exact.stats.json
step record $R record --runtime none -o /tmp/a64.json -- $P unix inet thread fork
dump a64 /tmp/a64.json
step control_unshare $P unshare-mount
step control_mount $P mount:/mnt
step enforce_run $R enforce --profile /tmp/a64.json -- $P unix inet thread fork
step deny_unshare $R enforce --profile /tmp/a64.json -- $P unshare-mount
step deny_mount $R enforce --profile /tmp/a64.json -- $P mount:/mnt
step args_record $R record --runtime none --args -o /tmp/args.json --report /tmp/args.report.json -- $P unix inet
dump args /tmp/args.json
dump args.report /tmp/args.report.json
step args_control $P netlink inet6
step args_allowed $R enforce --profile /tmp/args.json -- $P unix inet
step args_denied $R enforce --profile /tmp/args.json -- $P netlink inet6
step a32_exec /bin/armprobe
step a32_record $R record --runtime none --args --stats /tmp/a32.stats.json --report /tmp/a32.report.json -o /tmp/a32.json -- /bin/armprobe
dump a32.stats /tmp/a32.stats.json
dump a32.report /tmp/a32.report.json
dump a32 /tmp/a32.json
step a32_enforce $R enforce --profile /tmp/a32.json -- /bin/armprobe
step a32_flood_record $R record --runtime none -o /tmp/flood.json -- /bin/armflood
dump flood /tmp/flood.json
step a32_flood_enforce $R enforce --profile /tmp/flood.json -- /bin/armflood
step merge $R merge --runtime none -o /tmp/merged.json /x86_64.json /tmp/a64.json
dump merged /tmp/merged.json
step merged_run $R enforce --profile /tmp/merged.json -- $P unix inet thread fork
step merged_deny $R enforce --profile /tmp/merged.json -- $P unshare-mount
step merged_validate $R validate /tmp/merged.json
"#
    );
    format!("{INIT_PRELUDE}{steps}{INIT_END}")
}

/// Boots the kernel with the initramfs under qemu (TCG, `-cpu max`, no network) and
/// returns the console output.
pub fn boot(kernel: &Path, initrd: &Path, log: &Path) -> Result<String> {
    let machine = ["-M", "virt", "-cpu", "max"];
    Qemu {
        binary: "qemu-system-aarch64",
        machine: machine.iter().map(|s| s.to_string()).collect(),
        append: "console=ttyAMA0 rdinit=/init quiet panic=-1".to_owned(),
        timeout: GUEST_TIMEOUT,
    }
    .boot(kernel, initrd, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm32_program_is_an_eabi_executable() {
        let elf = arm32_program(0x12_3456);
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(elf[4], 1, "32-bit");
        assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 40, "EM_ARM");
        let entry = u32::from_le_bytes([elf[24], elf[25], elf[26], elf[27]]);
        assert_eq!(entry, 0x1_0000 + 84);
        let word = |i: usize| u32::from_le_bytes(elf[84 + 4 * i..88 + 4 * i].try_into().unwrap());
        assert_eq!(word(0), 0xE303_4456, "movw r4, #0x3456");
        assert_eq!(word(1), 0xE340_4012, "movt r4, #0x12");
        assert_eq!(word(2), 0xE3A0_7040, "mov r7, #64");
        // bne back to word 2 from word 5: (2 - 5 - 2) words = -5.
        assert_eq!(word(5), 0x1AFF_FFFB);
        assert_eq!(word(9), 0xE300_7119, "movw r7, #281 (socket)");
        assert_eq!(word(12), 0xE3A0_70F8, "mov r7, #248 (exit_group)");
        assert_eq!(elf.len(), 84 + 4 * 14);
    }

    #[test]
    fn the_flood_program_calls_distinct_numbers_then_set_tls_and_exits_with_its_result() {
        let elf = arm32_flood_program();
        let word = |i: usize| u32::from_le_bytes(elf[84 + 4 * i..88 + 4 * i].try_into().unwrap());
        assert_eq!(word(0), 0xE301_4388, "movw r4, #5000");
        assert_eq!(word(1), 0xE302_7000, "movw r7, #0x2000");
        assert_eq!(word(2), 0xEF00_0000, "svc #0");
        assert_eq!(word(3), 0xE287_7001, "add r7, r7, #1");
        assert_eq!(word(4), 0xE254_4001, "subs r4, r4, #1");
        assert_eq!(word(5), 0x1AFF_FFFB, "bne back to the svc");
        assert_eq!(word(6), 0xE3A0_0000, "mov r0, #0");
        assert_eq!(word(7), 0xE300_7005, "movw r7, #5");
        assert_eq!(word(8), 0xE340_700F, "movt r7, #0xf: 0x0f0005, set_tls");
        assert_eq!(word(10), 0xE3A0_70F8, "mov r7, #248 (exit_group), r0 kept");
        assert_eq!(elf.len(), 84 + 4 * 12);
        // Past every compat table, below the ARM-private range.
        const { assert!(FLOOD_FROM > 500 && FLOOD_FROM + FLOOD_CALLS < 0x0f_0000) };
    }
}
