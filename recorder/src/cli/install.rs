//! `seccomp-recorder install`: its command line and what it prints. The
//! installation is [`crate::container::install`].

use std::io::{self, Write};
use std::path::PathBuf;

use crate::container::install::{
    self, InstallError, InstallOptions, DEFAULT_BIN_DIR, DEFAULT_HOOKS_DIR,
};
use crate::fs::confined::DEFAULT_OUTPUT_DIR;

/// Arguments of `install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Where podman / CRI-O read hook definitions.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_HOOKS_DIR)]
    pub hooks_dir: PathBuf,
    /// Where to install the binary the hooks run.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BIN_DIR)]
    pub bin_dir: PathBuf,
    /// Directory the hook may write profiles to (repeatable; created if missing).
    #[arg(long = "output-dir", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR)]
    pub output_dirs: Vec<PathBuf>,
    /// Directory the hook may read base profiles from (repeatable).
    #[arg(long = "input-dir", value_name = "DIR")]
    pub input_dirs: Vec<PathBuf>,
    /// Environment for the hook process, KEY=VALUE (repeatable), e.g.
    /// SECCOMP_RECORDER_LOG=debug.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Stage every file below DIR instead of / (for a package build): the hook
    /// definitions still name the final paths.
    #[arg(long, value_name = "DIR")]
    pub destdir: Option<PathBuf>,
}

impl InstallArgs {
    /// The options the installation takes.
    fn into_options(self) -> InstallOptions {
        InstallOptions {
            hooks_dir: self.hooks_dir,
            bin_dir: self.bin_dir,
            output_dirs: self.output_dirs,
            input_dirs: self.input_dirs,
            env: self.env,
            destdir: self.destdir,
        }
    }
}

/// Runs `install` and lists what it wrote on `out`.
pub fn run(args: InstallArgs, out: &mut dyn Write) -> Result<(), InstallError> {
    let done = install::run(&args.into_options())?;
    // Everything is installed by now: a closed stdout only loses the listing.
    let _ = list(&done, out);
    Ok(())
}

fn list(done: &install::Installed, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "installed {}", done.binary.display())?;
    for f in &done.hook_files {
        writeln!(out, "wrote {}", f.display())?;
    }
    Ok(())
}
