//! `cargo xtask image`: the node agent's container image. A static release binary
//! (glibc and libseccomp linked in, `+crt-static`), stripped, in an image `FROM
//! scratch` built with buildah in a private storage under `target/image/`, written as
//! an OCI archive that podman, skopeo and `ctr images import` read.
//!
//! The image holds one file, `/seccomp-recorder`; its entrypoint is the binary and its
//! default command `agent --output-dir /var/lib/seccomp-recorder` (deploy/agent.yaml
//! names its arguments itself).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, output, root, sh};

/// The Rust target of the static build (the image is for this machine's architecture).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The OCI architecture name of [`TARGET`].
const OCI_ARCH: &str = "amd64";
/// Where Debian puts the static libseccomp of [`TARGET`].
const LIBSECCOMP_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// What `build` made.
pub struct Image {
    /// The OCI archive (`oci-archive:PATH` for podman and skopeo).
    pub archive: PathBuf,
}

/// The image's name: `localhost/seccomp-recorder:VERSION`.
fn image_name() -> String {
    format!("localhost/seccomp-recorder:{}", env!("CARGO_PKG_VERSION"))
}

/// Builds the static binary and the image; returns the archive.
pub fn build() -> Result<Image> {
    let binary = static_binary()?;
    let dir = root().join("target/image");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let staged = dir.join("seccomp-recorder");
    std::fs::copy(&binary, &staged)
        .with_context(|| format!("cannot copy {} to {}", binary.display(), staged.display()))?;
    sh(Command::new("strip").arg(&staged))?;
    let name = image_name();
    let archive = dir.join(format!(
        "seccomp-recorder-{}-{OCI_ARCH}.oci.tar",
        env!("CARGO_PKG_VERSION")
    ));
    let partial = archive.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let storage = Buildah::new(&dir.join("storage"));
    let ctr = storage.output(&["from", "--quiet", "scratch"])?;
    let ctr = ctr.trim().to_owned();
    let result = (|| -> Result<()> {
        storage.run(&[
            "copy",
            "--chmod",
            "0755",
            &ctr,
            &staged.to_string_lossy(),
            "/seccomp-recorder",
        ])?;
        storage.run(&[
            "config",
            "--os",
            "linux",
            "--arch",
            OCI_ARCH,
            "--entrypoint",
            r#"["/seccomp-recorder"]"#,
            "--cmd",
            "agent --output-dir /var/lib/seccomp-recorder",
            "--env",
            "SECCOMP_RECORDER_LOG=info",
            "--label",
            "org.opencontainers.image.title=seccomp-recorder",
            "--label",
            "org.opencontainers.image.description=the seccomp-recorder node agent (and the whole CLI)",
            "--label",
            &format!("org.opencontainers.image.version={}", env!("CARGO_PKG_VERSION")),
            "--label",
            &format!("org.opencontainers.image.revision={}", revision()),
            &ctr,
        ])?;
        storage
            .output(&[
                "commit",
                "--quiet",
                "--format",
                "oci",
                "--rm",
                &ctr,
                &format!("oci-archive:{}:{name}", partial.display()),
            ])
            .map(|_id| ())
    })();
    if let Err(e) = result {
        let _ = storage.run(&["rm", &ctr]);
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &archive)
        .with_context(|| format!("cannot move the archive to {}", archive.display()))?;
    let size = std::fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
    println!(
        "image: {name} in oci-archive:{} ({:.1} MB; podman load -i FILE, or ctr -n k8s.io images import FILE)",
        archive.display(),
        size as f64 / 1e6
    );
    Ok(Image { archive })
}

/// `cargo build --release` for [`TARGET`] with everything linked in; fails unless the
/// result has no interpreter (a `FROM scratch` image has no ld.so).
pub fn static_binary() -> Result<PathBuf> {
    sh(cargo()
        .args(["build", "--release", "--target", TARGET])
        .args(["-p", "seccomp-recorder", "--bin", "seccomp-recorder"])
        // With --target, RUSTFLAGS reach the target's crates only, not build scripts.
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("LIBSECCOMP_LINK_TYPE", "static")
        .env("LIBSECCOMP_LIB_PATH", LIBSECCOMP_DIR))?;
    let binary = root().join(format!("target/{TARGET}/release/seccomp-recorder"));
    if has_interpreter(&binary)? {
        bail!(
            "{} is dynamically linked (it names an ELF interpreter); a FROM scratch image cannot run it",
            binary.display()
        );
    }
    Ok(binary)
}

/// Whether an ELF file has a `PT_INTERP` program header (dynamically linked).
fn has_interpreter(path: &Path) -> Result<bool> {
    let b = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let u16_at = |o: usize| b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if b.get(..5) != Some(b"\x7fELF\x02") {
        bail!("{} is not a 64-bit ELF file", path.display());
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        bail!("{}: truncated ELF header", path.display());
    };
    const PT_INTERP: u32 = 3;
    for i in 0..usize::from(phnum) {
        let at = phoff as usize + i * usize::from(phentsize);
        let Some(kind) = b.get(at..at + 4) else {
            bail!("{}: truncated program headers", path.display());
        };
        if u32::from_le_bytes([kind[0], kind[1], kind[2], kind[3]]) == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The commit the image is built from (`unknown` outside a git checkout), `-dirty` when
/// the work tree has changes.
fn revision() -> String {
    let commit =
        output(
            Command::new("git")
                .current_dir(root())
                .args(["rev-parse", "--short=12", "HEAD"]),
        )
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let dirty = output(Command::new("git").current_dir(root()).args([
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]))
    .is_some_and(|s| !s.trim().is_empty());
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}

/// buildah on a private storage (vfs: no overlay mounts left behind on the host).
struct Buildah {
    root: PathBuf,
}

impl Buildah {
    fn new(dir: &Path) -> Buildah {
        Buildah {
            root: dir.to_owned(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(self.root.join("root"))
            .arg("--runroot")
            .arg(self.root.join("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        sh(&mut self.command(args))
    }

    fn output(&self, args: &[&str]) -> Result<String> {
        let mut c = self.command(args);
        let out = c.output().with_context(|| format!("cannot start {c:?}"))?;
        if !out.status.success() {
            bail!(
                "{c:?} failed with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
