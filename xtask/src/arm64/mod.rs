//! The arm64 stage (`cargo xtask test-arm64`, also run by `cargo xtask test`): the
//! recorder cross-built for aarch64 records and enforces inside a Debian arm64 kernel
//! booted under qemu (TCG, `-cpu max`), and a profile merged from an x86_64 recording
//! (made here, on the host) and an aarch64 one (made in the guest) runs the same
//! program on both.
//!
//! Everything it needs installs here, idempotently: `dpkg --add-architecture arm64`,
//! the cross compiler, libseccomp for arm64, qemu, the rustup target; the kernel and
//! busybox packages are downloaded once into `target/arm64-guest/cache`. A missing
//! prerequisite (not root, the kernel package unavailable, qemu missing) fails under
//! `CI=true` and skips otherwise, with the same one-line message.

mod guest;
mod verdict;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::guest::{self as harness, file, host_state, phase, Entry, Missing, Outcome};
use crate::{cargo, is_root, output, root, sh};

/// The Rust target of the guest.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// What the stage may take inside `cargo xtask test` (issue #22), boot included.
pub const BUDGET: Duration = Duration::from_secs(240);
/// Debian packages: the cross compiler and C library (linking, the test program),
/// qemu, libseccomp for arm64 (linked statically), gcc for the host's test program.
const APT_PACKAGES: &[&str] = &[
    "gcc",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "qemu-system-arm",
    "libseccomp-dev:arm64",
];

/// Installs what the stage needs (idempotent; a no-op when everything is there).
pub fn setup() -> Result<()> {
    let foreign =
        output(Command::new("dpkg").arg("--print-foreign-architectures")).unwrap_or_default();
    let mut update = false;
    if !foreign.split_whitespace().any(|a| a == "arm64") {
        if !is_root() {
            bail!(Missing(
                "dpkg has no arm64 architecture; run as root (dpkg --add-architecture arm64)"
                    .to_owned()
            ));
        }
        eprintln!("xtask: arm64: dpkg --add-architecture arm64");
        sh(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
        update = true;
    }
    // The kernel is looked up by name later: the arm64 lists must be there.
    update |= output(Command::new("apt-cache").args(["show", "linux-image-arm64:arm64"]))
        .is_none_or(|s| s.trim().is_empty());
    harness::apt_install("arm64", APT_PACKAGES, update)?;
    let targets =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == TARGET) {
        eprintln!("xtask: arm64: rustup target add {TARGET}");
        sh(Command::new("rustup").args(["target", "add", TARGET]))?;
    }
    Ok(())
}

/// Which aarch64 build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The release binary with every feature (what a user installs).
    Release,
    /// The stage's binary: profile `arm64` (no optimization, no debuginfo) without the
    /// CRI client, built cold in under two minutes on two cores.
    Test,
}

/// The aarch64 target directory (its own, so that `cargo clean --target-dir
/// target/aarch64` is a cold build and the host's stays).
pub fn target_dir() -> PathBuf {
    root().join("target/aarch64")
}

/// Cross-builds the recorder for aarch64, statically linked (glibc and libseccomp from
/// the arm64 packages); the eBPF object is built for `bpf_target_arch = "aarch64"` by
/// recorder/build.rs. Returns the binary.
pub fn build(kind: Build) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "seccomp-recorder", "--target", TARGET])
        .env("CARGO_TARGET_DIR", target_dir())
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "-C target-feature=+crt-static",
        )
        .env("LIBSECCOMP_LINK_TYPE", "static")
        .env("LIBSECCOMP_LIB_PATH", "/usr/lib/aarch64-linux-gnu");
    let profile = match kind {
        Build::Release => {
            cmd.arg("--release");
            "release"
        }
        Build::Test => {
            cmd.args(["--profile", "arm64", "--no-default-features"]);
            "arm64"
        }
    };
    sh(&mut cmd)?;
    Ok(target_dir()
        .join(TARGET)
        .join(profile)
        .join("seccomp-recorder"))
}

/// `cargo xtask test-arm64`: builds the host binary it records the x86_64 half with,
/// then runs the stage; a skip is printed and is not an error.
pub fn test_command() -> Result<()> {
    sh(cargo().args(["build", "-p", "seccomp-recorder"]))?;
    match stage(&root().join("target/debug/seccomp-recorder"))? {
        Outcome::Passed => Ok(()),
        Outcome::Skipped(why) => {
            println!("skipped: arm64 stage: {why}");
            Ok(())
        }
    }
}

/// Runs the stage with `host_binary` (the x86_64 recorder) for the host's half.
pub fn stage(host_binary: &Path) -> Result<Outcome> {
    harness::timed("arm64", BUDGET, |start| run(host_binary, start))
}

fn phase_(what: &str, since: Instant) -> Instant {
    phase("arm64", what, since)
}

fn run(host_binary: &Path, start: Instant) -> Result<()> {
    if !is_root() {
        bail!(Missing(
            "the arm64 stage records on the host: needs root".to_owned()
        ));
    }
    setup()?;
    let kernel = guest::kernel()?;
    let busybox = guest::busybox()?;
    let t = phase_("setup and downloads", start);

    let recorder = build(Build::Test)?;
    let t = phase_("aarch64 build", t);

    let work = root().join("target/arm64-guest/run");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let probe_a64 = work.join("argprobe-aarch64");
    let probe_x86 = work.join("argprobe-x86_64");
    guest::argprobe("aarch64-linux-gnu-gcc", &probe_a64)?;
    guest::argprobe("gcc", &probe_x86)?;
    let workload = ["unix", "inet", "thread", "fork"];
    // The x86_64 half of the merged profile: the same program, recorded here.
    let x86_profile = work.join("x86_64.json");
    let state = host_state("arm64");
    let recorded = sh(state
        .apply(&mut Command::new(host_binary))
        .args(["record", "--runtime", "none", "-o"])
        .arg(&x86_profile)
        .arg("--")
        .arg(&probe_x86)
        .args(workload)
        .stdout(std::process::Stdio::null()));
    state.cleanup(host_binary);
    recorded.context("record the x86_64 half on the host")?;

    let initrd = work.join("initrd.cpio");
    let image = harness::cpio(vec![
        Entry::Dir("bin"),
        Entry::Dir("dev"),
        Entry::CharDev("dev/console", 5, 1),
        Entry::File("init", 0o755, guest::init_script().into_bytes()),
        Entry::File("bin/busybox", 0o755, file(&busybox)?),
        Entry::File("bin/seccomp-recorder", 0o755, file(&recorder)?),
        Entry::File("bin/argprobe", 0o755, file(&probe_a64)?),
        Entry::File(
            "bin/armprobe",
            0o755,
            guest::arm32_program(guest::ARM32_GETPPID),
        ),
        Entry::File("bin/armflood", 0o755, guest::arm32_flood_program()),
        Entry::File("x86_64.json", 0o644, file(&x86_profile)?),
    ]);
    std::fs::write(&initrd, image)?;
    let t = phase_("test programs, host recording, initramfs", t);

    let log = work.join("console.log");
    let text = guest::boot(&kernel, &initrd, &log)?;
    let console = harness::console::parse(&text);
    let mut v = verdict::judge(&console);
    let _ = phase_("boot and guest steps", t);
    harness::print_steps("arm64", &console);

    // The host's half of the merged profile.
    match v.merged.take() {
        Some(merged) => host_half(host_binary, &work, &merged, &probe_x86, &mut v)?,
        None => v
            .checks
            .failed
            .push("the guest printed no merged profile".to_owned()),
    }

    match &v.compat {
        Some(verdict::Compat::Counted { getppid, socket }) => println!(
            "arm64 stage: AArch32 compat (-cpu max): runs; {getppid} getppid as SCMP_ARCH_ARM, socket args {socket:?}"
        ),
        Some(verdict::Compat::Unsupported(why)) => {
            println!("arm64 stage: AArch32 compat (-cpu max): not supported by this kernel/CPU: {why}")
        }
        None => {}
    }
    harness::report("arm64", &v.checks, &text, &log)
}

/// Validates the merged profile with the host's libseccomp (every architecture's
/// table) and enforces it on the host with the x86_64 build of the same program.
fn host_half(
    host_binary: &Path,
    work: &Path,
    merged: &[u8],
    probe: &Path,
    v: &mut verdict::Verdict,
) -> Result<()> {
    let path = work.join("merged.json");
    std::fs::write(&path, merged)?;
    let validate = Command::new(host_binary)
        .arg("validate")
        .arg(&path)
        .output()
        .context("run validate")?;
    let text = String::from_utf8_lossy(&validate.stdout).into_owned()
        + &String::from_utf8_lossy(&validate.stderr);
    let only = |arch: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(&format!("is unknown on {arch}")))
            .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
            .collect()
    };
    let (x86_only, a64_only) = (only("SCMP_ARCH_AARCH64"), only("SCMP_ARCH_X86_64"));
    v.checks.passed.push(format!(
        "per-arch names of the merged profile: x86_64 only {x86_only:?}, aarch64 only {a64_only:?}"
    ));
    if validate.status.success() && !text.contains("error:") {
        v.checks.passed.push(
            "validate (host libseccomp, each arch's table) accepts the merged profile".into(),
        );
    } else {
        v.checks
            .failed
            .push(format!("validate on the host: {}", text.trim()));
    }
    let enforce = |modes: &[&str]| {
        Command::new(host_binary)
            .arg("enforce")
            .arg("--profile")
            .arg(&path)
            .arg("--")
            .arg(probe)
            .args(modes)
            .output()
    };
    let run = enforce(&["unix", "inet", "thread", "fork"]).context("enforce on the host")?;
    let deny = enforce(&["unshare-mount"]).context("enforce on the host")?;
    let denied =
        String::from_utf8_lossy(&deny.stdout).contains("unshare-mount: Function not implemented");
    if run.status.success() && !deny.status.success() && denied {
        v.checks.passed.push(
            "the merged profile runs the workload on x86_64 (host) and denies unshare".into(),
        );
    } else {
        v.checks.failed.push(format!(
            "the merged profile on the host: workload {} ({}), unshare {} ({})",
            run.status,
            String::from_utf8_lossy(&run.stdout).trim(),
            deny.status,
            String::from_utf8_lossy(&deny.stdout).trim()
        ));
    }
    Ok(())
}
