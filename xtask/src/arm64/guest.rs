//! The arm64 guest: the Debian kernel and busybox (downloaded once, cached), the test
//! programs, the initramfs and its `/init`, and the qemu run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::Missing;
use crate::{output, root, sh};

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

/// The package that names the current arm64 kernel; `SR_ARM64_KERNEL_PACKAGE` names
/// another (and bypasses the cache), to try what happens when it is unavailable.
const KERNEL_ENV: &str = "SR_ARM64_KERNEL_PACKAGE";

/// The Debian arm64 kernel image (an uncompressed `Image` with BTF): the one cached,
/// else the current `linux-image-arm64:arm64` dependency, downloaded and unpacked.
pub fn kernel() -> Result<PathBuf> {
    let cache = cache_dir();
    let meta = std::env::var(KERNEL_ENV).ok();
    if meta.is_none() {
        if let Some(found) = cached(&cache, "vmlinuz-")? {
            return Ok(found);
        }
    }
    let meta = meta.unwrap_or_else(|| "linux-image-arm64".to_owned());
    let deps = output(Command::new("apt-cache").args(["depends", &format!("{meta}:arm64")]))
        .unwrap_or_default();
    let Some(package) = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(|p| p.trim_end_matches(":arm64"))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-arm64"))
    else {
        bail!(Missing(format!(
            "kernel package unavailable: apt knows no {meta}:arm64 \
             (dpkg --add-architecture arm64 && apt-get update)"
        )));
    };
    let version = package.trim_start_matches("linux-image-").to_owned();
    let deb = download(&cache, &format!("{package}:arm64"))?;
    let dest = cache.join(format!("vmlinuz-{version}"));
    // Only the image: the package is mostly modules (350 MB unpacked).
    let tmp = cache.join("vmlinuz.part");
    let member = format!("./boot/vmlinuz-{version}");
    let unpack = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO '{member}' > '{}'",
        deb.display(),
        tmp.display()
    );
    sh(Command::new("sh").arg("-c").arg(&unpack))
        .with_context(|| format!("unpack {member} from {}", deb.display()))?;
    std::fs::rename(&tmp, &dest)?;
    std::fs::remove_file(&deb)?;
    Ok(dest)
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

/// The file in `dir` whose name starts with `prefix`, the newest by name.
fn cached(dir: &Path, prefix: &str) -> Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// `apt-get download PACKAGE` into `dir`: the .deb.
fn download(dir: &Path, package: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = package.split(':').next().unwrap_or(package);
    let old = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|es| {
                es.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension().is_some_and(|x| x == "deb")
                            && p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with(&format!("{name}_")))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for stale in old(dir) {
        let _ = std::fs::remove_file(stale);
    }
    eprintln!("xtask: arm64: downloading {package}");
    let got = Command::new("apt-get")
        .args(["download", "-qq", package])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot start apt-get download {package}"))?;
    match old(dir).pop() {
        Some(deb) if got.success() => Ok(deb),
        _ => bail!(Missing(format!(
            "kernel package unavailable: apt-get download {package} failed ({got})"
        ))),
    }
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

/// A static AArch32 (ARM EABI) program without libc: `getppid` `ARM32_GETPPID` times,
/// `socket(AF_INET, SOCK_DGRAM, 0)`, `exit_group(0)`. Written by hand (a few A32
/// words) so that no 32-bit toolchain is needed.
pub fn arm32_program(getppid_calls: u32) -> Vec<u8> {
    const BASE: u32 = 0x1_0000;
    const HEADERS: u32 = 52 + 32;
    let (lo, hi) = (getppid_calls & 0xffff, getppid_calls >> 16);
    let movw = |rd: u32, imm: u32| 0xE300_0000 | ((imm >> 12) << 16) | (rd << 12) | (imm & 0xfff);
    let movt = |rd: u32, imm: u32| 0xE340_0000 | ((imm >> 12) << 16) | (rd << 12) | (imm & 0xfff);
    let mov = |rd: u32, imm8: u32| 0xE3A0_0000 | (rd << 12) | imm8;
    const SVC: u32 = 0xEF00_0000;
    let mut code = vec![movw(4, lo), movt(4, hi)];
    let top = code.len() as i32;
    code.extend([mov(7, 64), SVC, 0xE254_4001]); // getppid; subs r4, r4, #1
    let here = code.len() as i32;
    // bne top: the offset counts from this instruction + 8 bytes, in words.
    code.push(0x1A00_0000 | (((top - here - 2) as u32) & 0x00ff_ffff));
    code.extend([mov(0, 2), mov(1, 2), mov(2, 0), movw(7, 281), SVC]); // socket
    code.extend([mov(0, 0), mov(7, 248), SVC]); // exit_group(0)
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
    for w in code {
        h32(&mut elf, w);
    }
    elf
}

/// One member of the initramfs.
pub enum Entry<'a> {
    /// A directory.
    Dir(&'a str),
    /// A file: path, mode, contents.
    File(&'a str, u32, Vec<u8>),
    /// A character device: path, major, minor.
    CharDev(&'a str, u32, u32),
}

/// A `newc` cpio archive (what the kernel unpacks as its initramfs), uncompressed.
pub fn cpio(entries: Vec<Entry<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |name: &str, mode: u32, data: &[u8], ino: u32, rdev: (u32, u32)| {
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0, 0, 1, 0, data.len(), 0, 0, rdev.0, rdev.1, name.len() + 1, 0
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        match e {
            Entry::Dir(name) => put(name, 0o040_755, &[], ino, (0, 0)),
            Entry::File(name, mode, data) => put(name, 0o100_000 | mode, data, ino, (0, 0)),
            Entry::CharDev(name, major, minor) => put(name, 0o020_600, &[], ino, (*major, *minor)),
        }
    }
    put("TRAILER!!!", 0, &[], 0, (0, 0));
    out
}

/// The guest's `/init`: mounts what the recorder needs, runs each step, prints each
/// step's exit code, output and files on the console, then powers off. The guest only
/// runs; the host judges (`verdict.rs`).
pub fn init_script() -> String {
    let exact = EXACT_GETPPID;
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
echo "SR-GUEST-START $(uname -r) $(uname -m) cpus=$(nproc)"
step() {{
  name=$1; shift
  t0=$(cut -d' ' -f1 /proc/uptime)
  "$@" >/tmp/$name.out 2>&1
  rc=$?
  echo "SR-STEP $name rc=$rc start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  sed "s/^/SR-OUT $name: /" /tmp/$name.out | head -n 40
}}
dump() {{ [ -f "$2" ] && echo "SR-FILE $1 $(base64 -w 0 "$2")"; }}
R=/bin/seccomp-recorder
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
step merge $R merge --runtime none -o /tmp/merged.json /x86_64.json /tmp/a64.json
dump merged /tmp/merged.json
step merged_run $R enforce --profile /tmp/merged.json -- $P unix inet thread fork
step merged_deny $R enforce --profile /tmp/merged.json -- $P unshare-mount
step merged_validate $R validate /tmp/merged.json
echo SR-GUEST-END
poweroff -f
"#
    )
}

/// Boots the kernel with the initramfs under qemu (TCG, `-cpu max`, no network) and
/// returns the console output. qemu's status says nothing about the guest: the caller
/// checks the lines.
pub fn boot(kernel: &Path, initrd: &Path, log: &Path) -> Result<String> {
    let qemu = "qemu-system-aarch64";
    let console = std::fs::File::create(log)?;
    let mut child = Command::new(qemu)
        .args(["-M", "virt", "-cpu", "max", "-smp", "2", "-m", "1024"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyAMA0 rdinit=/init quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Missing(format!("qemu missing: cannot start {qemu}: {e}")))?;
    let deadline = Instant::now() + GUEST_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut stderr);
    }
    let text = String::from_utf8_lossy(&std::fs::read(log)?).replace('\r', "");
    match status {
        None => bail!(
            "the arm64 guest did not finish within {} s (console: {})",
            GUEST_TIMEOUT.as_secs(),
            log.display()
        ),
        Some(st) if !st.success() => bail!(
            "{qemu} failed with {st}: {} (console: {})",
            stderr.trim(),
            log.display()
        ),
        Some(_) => Ok(text),
    }
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
    fn cpio_members_are_aligned_and_terminated() {
        let a = cpio(vec![
            Entry::Dir("bin"),
            Entry::File("bin/x", 0o755, b"abc".to_vec()),
        ]);
        assert!(a.starts_with(b"070701"));
        assert_eq!(a.len() % 4, 0);
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("bin/x\0"));
        assert!(text.contains("TRAILER!!!\0"));
        // The file's header: mode 0100755, size 3.
        let at = text.find("bin/x").unwrap() - 110;
        assert_eq!(&text[at + 14..at + 22], "000081ed");
        assert_eq!(&text[at + 54..at + 62], "00000003");
    }
}
