//! The x86_64 guest stage (`cargo xtask test-x86-guest`, also run by `cargo xtask
//! test`): the static recorder records and enforces inside Debian's amd64 kernel
//! booted under qemu (KVM with `-cpu host` where /dev/kvm opens, TCG otherwise), once
//! with each attach point forced (`SECCOMP_RECORDER_ATTACH=fentry`, `=tracepoint`) and
//! once with `auto`. It exists because the development machines' kernel refuses every
//! `fentry` program (lockdown): Debian's kernel takes them, so the `fentry` path on
//! `x64_sys_call`/`ia32_sys_call`/`x32_sys_call` runs for real here.
//!
//! Everything it needs installs here, idempotently (qemu, gcc, binutils); the kernel
//! package is downloaded once into `target/x86-guest/cache`. A missing prerequisite
//! (not root, the kernel package unavailable, qemu missing) fails under `CI=true` and
//! skips otherwise; a missing /dev/kvm is not one (TCG, slower, says so).

mod programs;
mod verdict;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::guest::{self, file, phase, Entry, KernelPackage, Missing, Outcome, Qemu};
use crate::{is_root, root};

/// What the stage may take inside `cargo xtask test`, boot included (the static
/// binary is built by the image step before it there).
pub const BUDGET: Duration = Duration::from_secs(180);
/// How long the guest may take from qemu's start to its last line.
const GUEST_TIMEOUT: Duration = Duration::from_secs(150);
/// Debian packages: qemu, gcc for the static test program, binutils for the
/// assembled ones (native, i386, x32 calls).
const APT_PACKAGES: &[&str] = &["qemu-system-x86", "gcc", "libc6-dev", "binutils"];
/// Debian's amd64 kernel (6.1 has `x64_sys_call` from the stable backport of the
/// 2024 branch-history fix); `SR_X86_KERNEL_PACKAGE` names another metapackage and
/// bypasses the cache.
const KERNEL: KernelPackage = KernelPackage {
    meta: "linux-image-amd64",
    foreign: None,
    suffix: "-amd64",
    env: "SR_X86_KERNEL_PACKAGE",
};
/// The stage's name in its lines.
const STAGE: &str = "x86 guest";

/// Where downloads are kept between runs.
pub fn cache_dir() -> PathBuf {
    root().join("target/x86-guest/cache")
}

/// Installs what the stage needs (idempotent; a no-op when everything is there).
pub fn setup() -> Result<()> {
    guest::apt_install(STAGE, APT_PACKAGES, false)
}

/// How the guest's CPU is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization (`-enable-kvm -cpu host`).
    Kvm,
    /// qemu's emulator (`-accel tcg -cpu max`), when /dev/kvm does not open.
    Tcg,
}

impl Accel {
    /// KVM when /dev/kvm opens read-write, else TCG; `SR_GUEST_ACCEL=tcg|kvm` decides
    /// instead.
    pub fn detect() -> Accel {
        match std::env::var("SR_GUEST_ACCEL").as_deref() {
            Ok("tcg") => return Accel::Tcg,
            Ok("kvm") => return Accel::Kvm,
            _ => {}
        }
        // This machine kind's /dev/kvm is PVM (software nested virtualization, module
        // kvm_pvm): a stock kernel under it fails with "KVM internal error" (emulation
        // failures on cmpxchg16b, xrstor, int3) after >70 s of boot.
        if Path::new("/sys/module/kvm_pvm").exists() {
            return Accel::Tcg;
        }
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        if kvm {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }

    /// How reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Accel::Kvm => "KVM guest (-enable-kvm -cpu host)",
            Accel::Tcg => "TCG guest (-accel tcg -cpu max: no usable /dev/kvm)",
        }
    }

    fn args(self) -> Vec<String> {
        let a: &[&str] = match self {
            Accel::Kvm => &["-enable-kvm", "-cpu", "host"],
            Accel::Tcg => &["-accel", "tcg", "-cpu", "max"],
        };
        a.iter().map(|s| s.to_string()).collect()
    }
}

/// The qemu machine of both the stage and the guest bench. `syscall.x32=y`: Debian
/// builds x32 in but leaves it off unless asked.
pub fn qemu(accel: Accel, timeout: Duration) -> Qemu {
    Qemu {
        binary: "qemu-system-x86_64",
        machine: accel.args(),
        append: "console=ttyS0 rdinit=/init quiet panic=-1 syscall.x32=y".to_owned(),
        timeout,
    }
}

/// The guest's kernel, the static recorder and the programs, ready to pack.
pub struct Parts {
    /// The kernel image.
    pub kernel: PathBuf,
    /// The static recorder.
    pub recorder: PathBuf,
    /// The work directory (console log, initramfs, programs).
    pub work: PathBuf,
}

/// Everything but the initramfs: setup, the kernel, the static binary, a clean work
/// directory `target/x86-guest/NAME`.
pub fn parts(name: &str, start: Instant) -> Result<Parts> {
    if !is_root() {
        bail!(Missing(format!(
            "the {STAGE} stage installs qemu and the kernel: needs root"
        )));
    }
    setup()?;
    let kernel = KERNEL.image(&cache_dir())?;
    let t = phase(STAGE, "setup and kernel download", start);
    let recorder = crate::image::static_binary()?;
    let _ = phase(STAGE, "static x86_64 build", t);
    let work = root().join("target/x86-guest").join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    Ok(Parts {
        kernel,
        recorder,
        work,
    })
}

/// The initramfs members every x86 guest has: /init, busybox (the host's static one,
/// from busybox-static), the recorder.
pub fn base_entries<'a>(init: String, recorder: &Path) -> Result<Vec<Entry<'a>>> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!(Missing(
            "busybox-static is not installed (cargo xtask setup)".to_owned()
        ));
    }
    Ok(vec![
        Entry::Dir("bin"),
        Entry::Dir("dev"),
        Entry::CharDev("dev/console", 5, 1),
        Entry::File("init", 0o755, init.into_bytes()),
        Entry::File("bin/busybox", 0o755, file(busybox)?),
        Entry::File("bin/seccomp-recorder", 0o755, file(recorder)?),
    ])
}

/// `cargo xtask test-x86-guest`: runs the stage; a skip is printed and is not an error.
pub fn test_command() -> Result<()> {
    match stage()? {
        Outcome::Passed => Ok(()),
        Outcome::Skipped(why) => {
            println!("skipped: {STAGE} stage: {why}");
            Ok(())
        }
    }
}

/// Runs the stage.
pub fn stage() -> Result<Outcome> {
    guest::timed(STAGE, BUDGET, run)
}

fn run(start: Instant) -> Result<()> {
    let p = parts("run", start)?;
    let t = Instant::now();
    let mut entries = base_entries(programs::init_script(), &p.recorder)?;
    for (name, bytes) in programs::build(&p.work)? {
        entries.push(Entry::File(name, 0o755, bytes));
    }
    let initrd = p.work.join("initrd.cpio");
    std::fs::write(&initrd, guest::cpio(entries))?;
    let t = phase(STAGE, "test programs and initramfs", t);

    let accel = Accel::detect();
    println!("{STAGE} stage: {}", accel.describe());
    let log = p.work.join("console.log");
    let text = qemu(accel, GUEST_TIMEOUT).boot(&p.kernel, &initrd, &log)?;
    let console = guest::console::parse(&text);
    let v = verdict::judge(&console);
    let _ = phase(STAGE, "boot and guest steps", t);
    guest::print_steps(STAGE, &console);
    guest::report(STAGE, &v, &text, &log)
}
