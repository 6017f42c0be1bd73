//! `push` and `pull`: profiles through OCI registries (see [`crate::registry`]).

use std::io::{self, Read, Write};
use std::path::PathBuf;

use crate::fs::atomic::{write_atomic, WriteError};
use crate::registry::auth::Credentials;
use crate::registry::{self, Connection, RegistryError};
use seccomp_profile::artifact::{ArtifactError, Platform};
use seccomp_profile::exit::{Categorized, Category};

/// How to reach and log in to the registry (shared by `push` and `pull`).
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// User name for the registry (with --password or --password-stdin); without it,
    /// the podman/Docker auth file is read ($REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Password or token for --username.
    #[arg(
        long,
        value_name = "PASSWORD",
        requires = "username",
        conflicts_with = "password_stdin"
    )]
    pub password: Option<String>,
    /// Read the password for --username from stdin (keeps it out of `ps`).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Read credentials from this auth file only.
    #[arg(long, value_name = "FILE", conflicts_with = "username")]
    pub authfile: Option<PathBuf>,
    /// Allow plain HTTP to this registry (always allowed for localhost, 127.0.0.0/8
    /// and ::1).
    #[arg(long)]
    pub insecure: bool,
}

/// Arguments of `push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The profile: runtime-spec JSON (pushed as it is) or a podman/Docker file
    /// (resolved per platform: one artifact per platform under an index when the
    /// platforms differ).
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Where to push: REGISTRY/REPOSITORY[:TAG] (tag default: latest).
    #[arg(value_name = "REF")]
    pub reference: String,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// What to pull: REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]. With a digest, the
    /// content must have it (exit 78 otherwise).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Write the profile here (atomically) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The platform to take from a multi-platform artifact (OS/ARCH[/VARIANT])
    /// [default: this host's].
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Errors of `push` and `pull`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryCliError {
    /// The registry side.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A bad --platform.
    #[error(transparent)]
    Platform(#[from] ArtifactError),
    /// The pulled profile could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// stdout or stdin failed.
    #[error("cannot {0}")]
    Stdio(&'static str, #[source] io::Error),
}

impl Categorized for RegistryCliError {
    fn category(&self) -> Category {
        match self {
            RegistryCliError::Registry(e) => e.category(),
            RegistryCliError::Platform(e) => e.category(),
            RegistryCliError::Write(e) => e.category(),
            RegistryCliError::Stdio(..) => Category::Io,
        }
    }
}

fn connection(args: &RegistryArgs) -> Result<Connection, RegistryCliError> {
    let password = if args.password_stdin {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| RegistryCliError::Stdio("read the password from stdin", e))?;
        Some(s.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        args.password.clone()
    };
    Ok(Connection {
        insecure: args.insecure,
        credentials: args.username.as_ref().map(|u| Credentials {
            username: u.clone(),
            password: password.unwrap_or_default(),
        }),
        authfile: args.authfile.clone(),
    })
}

/// `push`: prints `REGISTRY/REPOSITORY@sha256:...` (what to sign and pin) on stdout.
pub fn run_push(args: &PushArgs, out: &mut dyn Write) -> Result<(), RegistryCliError> {
    let conn = connection(&args.registry)?;
    let pushed = registry::push(&args.profile, &args.reference, &conn)?;
    let platforms = if pushed.platforms.is_empty() {
        "one profile for every platform".to_owned()
    } else {
        let names: Vec<String> = pushed.platforms.iter().map(ToString::to_string).collect();
        format!("an index of {}", names.join(", "))
    };
    eprintln!(
        "seccomp-recorder: pushed {} to {} ({platforms})",
        args.profile.display(),
        pushed.tag
    );
    writeln!(out, "{}", pushed.by_digest).map_err(|e| RegistryCliError::Stdio("write to stdout", e))
}

/// `pull`: the profile to -o FILE or stdout.
pub fn run_pull(args: &PullArgs, out: &mut dyn Write) -> Result<(), RegistryCliError> {
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let conn = connection(&args.registry)?;
    let pulled = registry::pull(&args.reference, platform, &conn)?;
    let from = match &pulled.platform {
        Some(p) => format!("{} for {p}", pulled.by_digest),
        None => pulled.by_digest.clone(),
    };
    match &args.output {
        Some(path) => {
            write_atomic(path, &pulled.profile)?;
            eprintln!("seccomp-recorder: pulled {from} to {}", path.display());
        }
        None => {
            out.write_all(&pulled.profile)
                .and_then(|_| out.flush())
                .map_err(|e| RegistryCliError::Stdio("write to stdout", e))?;
            eprintln!("seccomp-recorder: pulled {from}");
        }
    }
    Ok(())
}
