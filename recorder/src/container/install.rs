//! `seccomp-recorder install`: put the binary in place and write oci-hooks(5) hook
//! definitions (read by podman and CRI-O) that run it at prestart and poststop for
//! containers with a recording annotation.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::fs::atomic::{write_atomic, WriteError};
use seccomp_profile::exit::{Categorized, Category};

/// Default hooks directory of podman and CRI-O packages.
pub const DEFAULT_HOOKS_DIR: &str = "/usr/share/containers/oci/hooks.d";
/// Default directory of the installed binary.
pub const DEFAULT_BIN_DIR: &str = "/usr/local/bin";
/// Seconds the runtime gives each hook run.
pub const HOOK_TIMEOUT_SECS: u64 = 10;

/// What `install` is asked to do (the command line's `cli::install::InstallArgs`).
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Where podman / CRI-O read hook definitions.
    pub hooks_dir: PathBuf,
    /// Where to install the binary the hooks run.
    pub bin_dir: PathBuf,
    /// Directory the hook may write profiles to (repeatable; created if missing).
    pub output_dirs: Vec<PathBuf>,
    /// Directory the hook may read base profiles from (repeatable).
    pub input_dirs: Vec<PathBuf>,
    /// Environment for the hook process, KEY=VALUE (repeatable), e.g.
    /// SECCOMP_RECORDER_LOG=debug.
    pub env: Vec<String>,
    /// Stage every file below this directory instead of / (for a package build): the
    /// hook definitions still name the final paths.
    pub destdir: Option<PathBuf>,
}

/// Errors of `install`.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A directory could not be created.
    #[error("cannot create directory {0}")]
    CreateDir(PathBuf, #[source] io::Error),
    /// The binary could not be copied.
    #[error("cannot install the binary to {0}")]
    Copy(PathBuf, #[source] io::Error),
    /// A hook file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A bad --env value.
    #[error("--env '{0}' is not KEY=VALUE")]
    BadEnv(String),
    /// A relative directory.
    #[error("{0} must be an absolute path (the runtime runs hooks from another directory)")]
    Relative(PathBuf),
}

impl Categorized for InstallError {
    fn category(&self) -> Category {
        match self {
            InstallError::BadEnv(_) | InstallError::Relative(_) => Category::Usage,
            InstallError::Write(e) => e.category(),
            InstallError::CreateDir(_, e) | InstallError::Copy(_, e)
                if e.kind() == io::ErrorKind::PermissionDenied =>
            {
                Category::Permission
            }
            _ => Category::Io,
        }
    }
}

/// The annotation patterns (key regex → value regex) that make the hooks run. One
/// pattern: podman and CRI-O require every listed pattern to match (unless `or`).
pub fn annotation_patterns() -> serde_json::Value {
    json!({
        "^(io\\.containers\\.trace-syscall|seccomp-recorder\\.io/output)$": ".+"
    })
}

/// The hook definition for one stage (pure).
pub fn hook_definition(
    binary: &Path,
    stage: &str,
    output_dirs: &[PathBuf],
    input_dirs: &[PathBuf],
    env: &[String],
) -> serde_json::Value {
    let mut args = vec!["seccomp-recorder".to_owned(), "hook".to_owned()];
    for d in output_dirs {
        args.push("--output-dir".to_owned());
        args.push(d.display().to_string());
    }
    for d in input_dirs {
        args.push("--input-dir".to_owned());
        args.push(d.display().to_string());
    }
    args.push(stage.to_owned());
    let mut hook = json!({
        "path": binary.display().to_string(),
        "args": args,
        "timeout": HOOK_TIMEOUT_SECS,
    });
    if !env.is_empty() {
        hook["env"] = json!(env);
    }
    json!({
        "version": "1.0.0",
        "hook": hook,
        "when": { "annotations": annotation_patterns() },
        "stages": [stage],
    })
}

/// File names of the two hook definitions.
pub const HOOK_FILES: [(&str, &str); 2] = [
    ("seccomp-recorder-prestart.json", "prestart"),
    ("seccomp-recorder-poststop.json", "poststop"),
];

/// Renders a definition as the file content.
pub fn render(def: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(def).unwrap_or_default();
    s.push('\n');
    s
}

fn absolute(p: &Path) -> Result<(), InstallError> {
    if p.is_absolute() {
        Ok(())
    } else {
        Err(InstallError::Relative(p.to_owned()))
    }
}

/// Where a final path is written: below `destdir` when one is given (pure).
pub fn staged(destdir: Option<&Path>, path: &Path) -> PathBuf {
    match destdir {
        Some(d) => d.join(path.strip_prefix("/").unwrap_or(path)),
        None => path.to_owned(),
    }
}

/// What was installed.
#[derive(Debug)]
pub struct Installed {
    /// Where the binary the hooks run was put (below `--destdir` when given).
    pub binary: PathBuf,
    /// The hook files written.
    pub hook_files: Vec<PathBuf>,
}

/// Installs the binary and the hook definitions.
pub fn run(args: &InstallOptions) -> Result<Installed, InstallError> {
    for d in [&args.hooks_dir, &args.bin_dir]
        .into_iter()
        .chain(&args.output_dirs)
        .chain(&args.input_dirs)
    {
        absolute(d)?;
    }
    for e in &args.env {
        if !e.contains('=') || e.starts_with('=') {
            return Err(InstallError::BadEnv(e.clone()));
        }
    }
    let dest = args.destdir.as_deref();
    for d in [&args.hooks_dir, &args.bin_dir]
        .into_iter()
        .chain(&args.output_dirs)
    {
        let d = staged(dest, d);
        fs::create_dir_all(&d).map_err(|e| InstallError::CreateDir(d.clone(), e))?;
    }
    let target = args.bin_dir.join("seccomp-recorder");
    let binary = staged(dest, &target);
    let me = std::env::current_exe().map_err(|e| InstallError::Copy(binary.clone(), e))?;
    let same = match (me.canonicalize(), binary.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        let bytes = fs::read(&me).map_err(|e| InstallError::Copy(binary.clone(), e))?;
        write_atomic(&binary, &bytes)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755))
            .map_err(|e| InstallError::Copy(binary.clone(), e))?;
    }
    let mut hook_files = Vec::new();
    for (file, stage) in HOOK_FILES {
        let def = hook_definition(
            &target,
            stage,
            &args.output_dirs,
            &args.input_dirs,
            &args.env,
        );
        let path = staged(dest, &args.hooks_dir).join(file);
        write_atomic(&path, render(&def).as_bytes())?;
        hook_files.push(path);
    }
    Ok(Installed { binary, hook_files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_has_the_oci_hooks_shape() {
        let d = hook_definition(
            Path::new("/usr/local/bin/seccomp-recorder"),
            "prestart",
            &[PathBuf::from("/var/lib/seccomp-recorder")],
            &[],
            &[],
        );
        assert_eq!(d["version"], "1.0.0");
        assert_eq!(d["stages"], json!(["prestart"]));
        assert_eq!(d["hook"]["path"], "/usr/local/bin/seccomp-recorder");
        assert_eq!(
            d["hook"]["args"],
            json!([
                "seccomp-recorder",
                "hook",
                "--output-dir",
                "/var/lib/seccomp-recorder",
                "prestart"
            ])
        );
        assert!(d["hook"].get("env").is_none());
        assert_eq!(d["when"]["annotations"], annotation_patterns());
    }

    /// The templates shipped in hooks/ are exactly what `install` writes by default.
    #[test]
    fn shipped_templates_match_the_default_install() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hooks");
        for (file, stage) in HOOK_FILES {
            let shipped = fs::read_to_string(dir.join(file)).expect("template in hooks/");
            let def = hook_definition(
                &Path::new(DEFAULT_BIN_DIR).join("seccomp-recorder"),
                stage,
                &[PathBuf::from(crate::fs::confined::DEFAULT_OUTPUT_DIR)],
                &[],
                &[],
            );
            assert_eq!(shipped, render(&def), "hooks/{file} drifted from `install`");
        }
    }

    #[test]
    fn destdir_prefixes_the_final_path() {
        let final_path = Path::new("/usr/bin/seccomp-recorder");
        assert_eq!(staged(None, final_path), final_path);
        assert_eq!(
            staged(Some(Path::new("/tmp/stage")), final_path),
            Path::new("/tmp/stage/usr/bin/seccomp-recorder")
        );
        assert_eq!(
            staged(Some(Path::new("stage")), final_path),
            Path::new("stage/usr/bin/seccomp-recorder")
        );
    }

    #[test]
    fn relative_dirs_and_bad_env_are_refused() {
        let args = InstallOptions {
            hooks_dir: PathBuf::from("hooks"),
            bin_dir: PathBuf::from("/usr/local/bin"),
            output_dirs: vec![],
            input_dirs: vec![],
            env: vec![],
            destdir: None,
        };
        assert!(matches!(run(&args), Err(InstallError::Relative(_))));
        let args = InstallOptions {
            hooks_dir: PathBuf::from("/tmp/x"),
            env: vec!["NOEQUALS".into()],
            ..args
        };
        assert!(matches!(run(&args), Err(InstallError::BadEnv(_))));
    }
}
