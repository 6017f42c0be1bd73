//! `cargo xtask dist`: the static release binary as a Debian package
//! (`target/dist/seccomp-recorder_VERSION_ARCH.deb`) and a `.tar.gz` of the same tree for
//! other systems (`tar -xzf FILE -C /`).
//!
//! Nothing in the package is written by hand that the binary can write itself: the
//! oci-hooks(5) definitions come from the built binary's own `install --destdir STAGE
//! --bin-dir /usr/bin` (the code users run; the files land below STAGE, the JSON names
//! /usr/bin/seccomp-recorder), the man pages from `man --output-dir`, the completions
//! from `completions SHELL`. The repository's hooks/*.json are the same definitions for
//! a `--bin-dir /usr/local/bin` install (recorder/src/container/install.rs checks that);
//! the package's differ from them in `path` only.
//!
//! No `Depends`: the binary is static (glibc and libseccomp linked in; checked for an
//! ELF interpreter by [`image::static_binary`]). `Built-Using` names the two source
//! packages linked in, as Debian policy asks of static binaries.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{image, output, root, sh};

/// The package name (and the binary's).
const NAME: &str = "seccomp-recorder";
/// The `Maintainer` field.
const MAINTAINER: &str = "seccomp-recorder maintainers <maintainers@seccomp-recorder.invalid>";
/// Where podman and CRI-O packages read hook definitions (oci-hooks(5)); a local
/// `seccomp-recorder install --hooks-dir /etc/containers/oci/hooks.d` overrides the
/// packaged files by name.
const HOOKS_DIR: &str = "/usr/share/containers/oci/hooks.d";
/// Completion files: (shell, path in the package).
const COMPLETIONS: [(&str, &str); 3] = [
    (
        "bash",
        "usr/share/bash-completion/completions/seccomp-recorder",
    ),
    ("zsh", "usr/share/zsh/vendor-completions/_seccomp-recorder"),
    (
        "fish",
        "usr/share/fish/vendor_completions.d/seccomp-recorder.fish",
    ),
];
/// The package description: a synopsis, then the extended lines.
const DESCRIPTION: &str = "record the syscalls a container really makes, write a seccomp profile
 seccomp-recorder counts the system calls of a command, a container or a pod
 with an eBPF program on the raw sys_enter tracepoint, and writes a tight
 seccomp profile (OCI, podman, Security Profiles Operator formats) that
 allows exactly what was used, plus what the container runtime needs after
 loading the filter.
 .
 The package installs oci-hooks(5) definitions for podman and CRI-O: a
 container started with the annotation seccomp-recorder.io/output=FILE (or
 io.containers.trace-syscall=of:FILE) is recorded from its filter load to its
 exit. It also checks profiles in CI (check, diff, validate), enforces them,
 and pushes and pulls them through OCI registries.
 .
 The binary is statically linked. Recording needs root, a kernel with BTF and
 a cgroup v2 hierarchy.";

/// What `build` made.
pub struct Dist {
    /// The Debian package.
    pub deb: PathBuf,
    /// The same tree as a gzip'ed tar (without DEBIAN/).
    pub tarball: PathBuf,
}

/// The Debian architecture of a Rust target triple.
fn deb_arch(target: &str) -> Option<&'static str> {
    match target.split('-').next() {
        Some("x86_64") => Some("amd64"),
        Some("aarch64") => Some("arm64"),
        _ => None,
    }
}

/// Builds the binary, stages the tree, writes the .deb and the tarball.
pub fn build() -> Result<Dist> {
    let binary = image::static_binary()?;
    let version = env!("CARGO_PKG_VERSION");
    let Some(arch) = deb_arch(image::TARGET) else {
        bail!("no Debian architecture known for {}", image::TARGET);
    };
    let dir = root().join("target/dist");
    let stem = format!("{NAME}_{version}_{arch}");
    let stage = dir.join(&stem);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("cannot remove the old stage {}", stage.display()))?;
    }
    let bin = stage.join("usr/bin").join(NAME);
    mkdir(bin.parent().unwrap_or(&stage))?;
    std::fs::copy(&binary, &bin)
        .with_context(|| format!("cannot copy {} to {}", binary.display(), bin.display()))?;
    sh(Command::new("strip").arg(&bin))?;

    // The staged binary installs itself: hooks below STAGE, naming /usr/bin.
    sh(Command::new(&bin)
        .args(["install", "--bin-dir", "/usr/bin", "--hooks-dir", HOOKS_DIR])
        .arg("--destdir")
        .arg(&stage))?;

    let man = stage.join("usr/share/man/man1");
    mkdir(&man)?;
    let pages = capture(Command::new(&bin).arg("man").arg("--output-dir").arg(&man))?;
    for page in pages.lines().filter(|l| !l.is_empty()) {
        sh(Command::new("gzip").args(["-9", "-n", "-f", page]))?;
    }
    for (shell, path) in COMPLETIONS {
        let script = capture(Command::new(&bin).args(["completions", shell]))?;
        write(&stage.join(path), &script)?;
    }

    let (commit, date, epoch) = commit_info();
    let doc = stage.join("usr/share/doc").join(NAME);
    write(&doc.join("copyright"), &copyright())?;
    // A native package (the version has no Debian revision): changelog.gz.
    write(
        &doc.join("changelog"),
        &format!(
            "{NAME} ({version}) unstable; urgency=medium\n\n  * Built from commit {commit}.\n\n -- {MAINTAINER}  {date}\n"
        ),
    )?;
    sh(Command::new("gzip")
        .args(["-9", "-n", "-f"])
        .arg(doc.join("changelog")))?;

    normalize_modes(&stage)?;
    let control = control(version, arch, installed_size_kib(&stage)?);
    let debian = stage.join("DEBIAN");
    mkdir(&debian)?;
    write(&debian.join("control"), &control)?;
    write(&debian.join("md5sums"), &md5sums(&stage)?)?;

    let deb = dir.join(format!("{stem}.deb"));
    sh(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&stage)
        .arg(&deb)
        .env("SOURCE_DATE_EPOCH", &epoch))?;
    let tarball = dir.join(format!("{NAME}-{version}-{}-linux.tar.gz", arch));
    sh(Command::new("tar")
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--exclude=./DEBIAN",
        ])
        .arg(format!("--mtime=@{epoch}"))
        .args(["--use-compress-program", "gzip -9 -n", "-cf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("."))?;
    for f in [&deb, &tarball] {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        println!("{} ({:.1} MB)", f.display(), size as f64 / 1e6);
    }
    Ok(Dist { deb, tarball })
}

/// DEBIAN/control.
fn control(version: &str, arch: &str, installed_kib: u64) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "Package: {NAME}");
    let _ = writeln!(c, "Version: {version}");
    let _ = writeln!(c, "Architecture: {arch}");
    let _ = writeln!(c, "Maintainer: {MAINTAINER}");
    let _ = writeln!(c, "Installed-Size: {installed_kib}");
    // The hooks are read by podman or CRI-O; `push`/`pull` verify TLS against the
    // system's CA store (rustls-native-certs).
    let _ = writeln!(c, "Recommends: podman | cri-o, ca-certificates");
    let _ = writeln!(c, "Suggests: crun | runc, docker.io, containerd");
    if let Some(b) = built_using() {
        let _ = writeln!(c, "Built-Using: {b}");
    }
    let _ = writeln!(c, "Section: admin");
    let _ = writeln!(c, "Priority: optional");
    let _ = writeln!(c, "Description: {DESCRIPTION}");
    c
}

/// The source packages linked into the static binary, at their installed versions.
fn built_using() -> Option<String> {
    let mut parts = Vec::new();
    for pkg in ["libc6-dev", "libseccomp-dev"] {
        // One line per installed architecture (libseccomp-dev:arm64 of the arm64
        // stage too): the same source version, taken once.
        let v = output(Command::new("dpkg-query").args([
            "-W",
            "-f=${source:Package} (= ${source:Version})\n",
            pkg,
        ]))?;
        parts.push(v.lines().next()?.trim().to_owned());
    }
    Some(parts.join(", "))
}

/// /usr/share/doc/seccomp-recorder/copyright (machine-readable format 1.0).
fn copyright() -> String {
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: {NAME}

Files: *
Copyright: the {NAME} authors
License: MIT or Apache-2.0

License: Apache-2.0
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of
 this software and associated documentation files (the \"Software\"), to deal in
 the Software without restriction, including without limitation the rights to
 use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
 the Software, and to permit persons to whom the Software is furnished to do so,
 subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all
 copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
 FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
 COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
 IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"
    )
}

/// (short commit, RFC 2822 date, unix time) of HEAD; the epoch outside git.
fn commit_info() -> (String, String, String) {
    let git = |args: &[&str]| {
        output(Command::new("git").current_dir(root()).args(args)).map(|s| s.trim().to_owned())
    };
    match git(&["log", "-1", "--format=%h%n%aD%n%at", "--abbrev=12"]) {
        Some(s) => {
            let mut l = s.lines().map(str::to_owned);
            (
                l.next().unwrap_or_default(),
                l.next().unwrap_or_default(),
                l.next().unwrap_or_default(),
            )
        }
        None => (
            "unknown".into(),
            "Thu, 01 Jan 1970 00:00:00 +0000".into(),
            "0".into(),
        ),
    }
}

/// Directories 0755, files 0644, usr/bin/* 0755: nothing depends on the umask.
fn normalize_modes(stage: &Path) -> Result<()> {
    for (path, is_dir) in walk(stage)? {
        let exec = is_dir || path.parent().is_some_and(|p| p.ends_with("usr/bin"));
        let mode = if exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(())
}

/// Installed-Size as dpkg-gencontrol computes it: every file rounded up to a KiB, plus
/// one KiB per directory.
fn installed_size_kib(stage: &Path) -> Result<u64> {
    let mut kib = 0;
    for (path, is_dir) in walk(stage)? {
        kib += if is_dir {
            1
        } else {
            let len = std::fs::metadata(&path)
                .with_context(|| format!("cannot stat {}", path.display()))?
                .len();
            len.div_ceil(1024)
        };
    }
    Ok(kib)
}

/// DEBIAN/md5sums: `md5  path` for every regular file, paths relative to /.
fn md5sums(stage: &Path) -> Result<String> {
    let mut files: Vec<String> = walk(stage)?
        .into_iter()
        .filter(|(_, d)| !d)
        .filter_map(|(p, _)| {
            p.strip_prefix(stage)
                .ok()
                .map(|r| r.to_string_lossy().into_owned())
        })
        .filter(|r| !r.starts_with("DEBIAN/"))
        .collect();
    files.sort();
    capture(Command::new("md5sum").current_dir(stage).args(&files))
}

/// Every entry below `dir` (not `dir` itself): (path, is a directory).
fn walk(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let e = e.with_context(|| format!("cannot list {}", d.display()))?;
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                todo.push(e.path());
            }
            out.push((e.path(), is_dir));
        }
    }
    out.sort();
    Ok(out)
}

fn mkdir(d: &Path) -> Result<()> {
    std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        mkdir(p)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs a command and returns its stdout; fails with its stderr.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("{cmd:?} printed non-UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_the_architectures() {
        assert_eq!(deb_arch("x86_64-unknown-linux-gnu"), Some("amd64"));
        assert_eq!(deb_arch("aarch64-unknown-linux-gnu"), Some("arm64"));
        assert_eq!(deb_arch("riscv64gc-unknown-linux-gnu"), None);
    }

    #[test]
    fn control_has_no_depends_and_a_valid_description() {
        let c = control("0.1.0", "amd64", 12345);
        assert!(c.contains("\nVersion: 0.1.0\n") && c.contains("\nArchitecture: amd64\n"));
        assert!(c.contains("\nInstalled-Size: 12345\n"));
        assert!(!c.contains("Depends:"), "{c}");
        // Every continuation line of a field starts with a space; none is empty.
        for l in c.lines() {
            assert!(!l.trim().is_empty(), "empty line in control:\n{c}");
        }
        let synopsis = DESCRIPTION.lines().next().unwrap_or_default();
        assert!(synopsis.len() <= 80, "synopsis too long: {synopsis}");
        for l in DESCRIPTION.lines().skip(1) {
            assert!(l.starts_with(' ') && l.len() <= 80, "bad line {l:?}");
        }
    }
}
