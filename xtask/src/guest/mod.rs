//! What every guest stage shares (`cargo xtask test-arm64`, `cargo xtask
//! test-x86-guest`, `cargo xtask bench-guest`): a Debian kernel package downloaded once
//! into a cache under `target/`, an initramfs (`newc` cpio) with a static recorder and
//! busybox, a qemu run whose console is the only channel back, the console's
//! `SR-` lines parsed on the host (`console.rs`), and the rule for missing
//! prerequisites: under `CI=true` one clear failing line, otherwise a skip.

pub mod console;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{is_root, output, sh, IsolatedState};

/// A prerequisite that is missing: fails under `CI=true`, skips the stage otherwise.
#[derive(Debug)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Missing {}

/// Whether we run in CI, where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// How a stage ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A prerequisite is missing (outside CI): why.
    Skipped(String),
}

/// What a failed stage means: a missing prerequisite skips it outside CI and fails it
/// under `CI=true` (one line either way); anything else is a failure.
pub fn decide(stage: &str, e: anyhow::Error, ci: bool) -> Result<Outcome> {
    match e.downcast_ref::<Missing>() {
        Some(m) if !ci => Ok(Outcome::Skipped(m.0.clone())),
        Some(m) => bail!("{stage} stage: prerequisite missing under CI=true: {m}"),
        None => Err(e.context(format!("{stage} stage failed"))),
    }
}

/// Runs a stage's body, times it against `budget` and turns its error into an outcome.
pub fn timed(
    stage: &str,
    budget: Duration,
    body: impl FnOnce(Instant) -> Result<()>,
) -> Result<Outcome> {
    let start = Instant::now();
    match body(start) {
        Ok(()) => {
            let took = start.elapsed();
            let over = if took > budget { " OVER BUDGET" } else { "" };
            println!(
                "{stage} stage: passed in {:.0} s (budget {} s){over}",
                took.as_secs_f64(),
                budget.as_secs()
            );
            Ok(Outcome::Passed)
        }
        Err(e) => decide(stage, e, in_ci()),
    }
}

/// Prints how long a phase took; returns the start of the next one.
pub fn phase(stage: &str, what: &str, since: Instant) -> Instant {
    println!(
        "{stage} stage: {what} {:.1} s",
        since.elapsed().as_secs_f64()
    );
    Instant::now()
}

/// Whether a Debian package is installed.
pub fn installed(package: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|s| s.contains("install ok installed"))
}

/// Installs the missing ones of `packages` with apt (after `apt-get update` when
/// `update` or something is missing); a failure is a [`Missing`] prerequisite.
pub fn apt_install(stage: &str, packages: &[&str], update: bool) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() && !update {
        return Ok(());
    }
    if !is_root() {
        bail!(Missing(format!(
            "missing {} for the {stage} stage; run as root (apt-get install {})",
            missing.join(" "),
            missing.join(" ")
        )));
    }
    sh(Command::new("apt-get").args(["update", "-qq"]))?;
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: {stage}: installing {}", missing.join(" "));
    let got = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot start apt-get")?;
    if !got.success() {
        bail!(Missing(format!(
            "apt-get install {} failed ({got})",
            missing.join(" ")
        )));
    }
    Ok(())
}

/// The pin and run directories for a recording on the host: the caller's, when it set
/// them (`SECCOMP_RECORDER_BPF_DIR`/`_RUN_DIR`), else private ones named after `tag`.
pub fn host_state(tag: &str) -> IsolatedState {
    match (
        std::env::var_os("SECCOMP_RECORDER_BPF_DIR"),
        std::env::var_os("SECCOMP_RECORDER_RUN_DIR"),
    ) {
        (Some(b), Some(r)) => IsolatedState {
            bpf_dir: b.into(),
            run_dir: r.into(),
        },
        _ => IsolatedState::new(tag),
    }
}

/// A Debian kernel flavour to boot.
pub struct KernelPackage {
    /// The metapackage naming the current kernel (`linux-image-arm64`).
    pub meta: &'static str,
    /// The dpkg architecture when it is not the host's (`arm64`).
    pub foreign: Option<&'static str>,
    /// How the flavour's image packages end (`-arm64`, `-amd64`).
    pub suffix: &'static str,
    /// An environment variable naming another metapackage (bypassing the cache), to
    /// try what happens when it is unavailable.
    pub env: &'static str,
}

impl KernelPackage {
    fn qualified(&self, package: &str) -> String {
        match self.foreign {
            Some(arch) => format!("{package}:{arch}"),
            None => package.to_owned(),
        }
    }

    /// The kernel image (`/boot/vmlinuz-VERSION` of the package): the one cached in
    /// `cache`, else the metapackage's current dependency, downloaded and unpacked
    /// (only the image and its config: the package is mostly modules).
    pub fn image(&self, cache: &Path) -> Result<PathBuf> {
        let meta = std::env::var(self.env).ok();
        if meta.is_none() {
            if let Some(found) = cached(cache, "vmlinuz-")? {
                return Ok(found);
            }
        }
        let meta = meta.unwrap_or_else(|| self.meta.to_owned());
        let deps = output(Command::new("apt-cache").args(["depends", &self.qualified(&meta)]))
            .unwrap_or_default();
        let arch_tail = self.foreign.map(|a| format!(":{a}")).unwrap_or_default();
        let Some(package) = deps
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .map(|p| p.trim_end_matches(arch_tail.as_str()))
            .find(|p| p.starts_with("linux-image-") && p.ends_with(self.suffix))
        else {
            bail!(Missing(format!(
                "kernel package unavailable: apt knows no {} (apt-get update)",
                self.qualified(&meta)
            )));
        };
        let version = package.trim_start_matches("linux-image-").to_owned();
        let deb = download(cache, &self.qualified(package))?;
        let dest = cache.join(format!("vmlinuz-{version}"));
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
}

/// The file in `dir` whose name starts with `prefix`, the newest by name.
pub fn cached(dir: &Path, prefix: &str) -> Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && !n.ends_with(".part"))
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// `apt-get download PACKAGE` into `dir`: the .deb.
pub fn download(dir: &Path, package: &str) -> Result<PathBuf> {
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
    eprintln!("xtask: downloading {package}");
    let got = Command::new("apt-get")
        .args(["download", "-qq", package])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot start apt-get download {package}"))?;
    match old(dir).pop() {
        Some(deb) if got.success() => Ok(deb),
        _ => bail!(Missing(format!(
            "kernel package unavailable: apt-get download {package} failed ({got})"
        ))),
    }
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

/// Reads a file for the initramfs.
pub fn file(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("read {}", p.display()))
}

/// The start of every guest's `/init`: mounts what the recorder needs, prints the
/// start line and defines `step NAME CMD...` (runs it, prints its exit code, span and
/// output) and `dump NAME FILE` (prints the file in base64). The guest only runs; the
/// host judges.
pub const INIT_PRELUDE: &str = r#"#!/bin/busybox sh
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
step() {
  name=$1; shift
  t0=$(cut -d' ' -f1 /proc/uptime)
  "$@" >/tmp/$name.out 2>&1
  rc=$?
  echo "SR-STEP $name rc=$rc start=$t0 end=$(cut -d' ' -f1 /proc/uptime)"
  sed "s/^/SR-OUT $name: /" /tmp/$name.out | head -n 40
}
dump() { [ -f "$2" ] && echo "SR-FILE $1 $(base64 -w 0 "$2")"; }
"#;

/// The end of every guest's `/init`.
pub const INIT_END: &str = "echo SR-GUEST-END\npoweroff -f\n";

/// One qemu run: the emulator, the machine's arguments (CPU, accelerator), the
/// kernel's command line, the time it may take.
pub struct Qemu {
    /// `qemu-system-aarch64`, `qemu-system-x86_64`.
    pub binary: &'static str,
    /// Machine, CPU and accelerator arguments.
    pub machine: Vec<String>,
    /// The kernel command line.
    pub append: String,
    /// How long the guest may take from qemu's start to its last line.
    pub timeout: Duration,
}

impl Qemu {
    /// Boots `kernel` with `initrd` (2 CPUs, 1 GiB, no network) and returns the console
    /// output (also in `log`). qemu's status says nothing about the guest: the caller
    /// checks the lines.
    pub fn boot(&self, kernel: &Path, initrd: &Path, log: &Path) -> Result<String> {
        let qemu = self.binary;
        let console = std::fs::File::create(log)?;
        let mut child = Command::new(qemu)
            .args(&self.machine)
            .args(["-smp", "2", "-m", "1024"])
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .args(["-append", &self.append])
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Missing(format!("qemu missing: cannot start {qemu}: {e}")))?;
        let deadline = Instant::now() + self.timeout;
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
                "the guest did not finish within {} s (console: {})",
                self.timeout.as_secs(),
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
}

/// Prints the verdict's lines; fails with the console's tail when something failed.
pub fn report(stage: &str, v: &console::Checks, text: &str, log: &Path) -> Result<()> {
    for p in &v.passed {
        println!("{stage} stage: ok: {p}");
    }
    if v.failed.is_empty() {
        return Ok(());
    }
    for f in &v.failed {
        println!("{stage} stage: FAILED: {f}");
    }
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    println!("{stage} stage: last console lines ({}):", log.display());
    for l in tail.iter().rev() {
        println!("  {l}");
    }
    bail!("{} check(s) failed", v.failed.len())
}

/// Prints the guest's start line and each step's exit code and span.
pub fn print_steps(stage: &str, c: &console::Console) {
    if let Some(s) = &c.started {
        println!("{stage} stage: guest {s}");
    }
    for (name, s) in &c.steps {
        println!(
            "{stage} stage: guest step {name}: exit {} in {:.2} s",
            s.rc,
            s.span.1 - s.span.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_prerequisite_fails_only_under_ci() {
        let missing = || anyhow::Error::new(Missing("kernel package unavailable: x".into()));
        match decide("arm64", missing(), false) {
            Ok(Outcome::Skipped(why)) => assert_eq!(why, "kernel package unavailable: x"),
            other => panic!("{other:?}"),
        }
        let err = decide("x86 guest", missing(), true).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "x86 guest stage: prerequisite missing under CI=true: kernel package unavailable: x"
        );
        let err = decide("arm64", anyhow::anyhow!("guest step failed"), false).unwrap_err();
        assert_eq!(format!("{err:#}"), "arm64 stage failed: guest step failed");
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
