//! `seccomp-recorder hook prestart|poststop`: the OCI runtime hook's command line.
//! What it does is in [`crate::session::hook`].

use std::io::Read;
use std::path::PathBuf;

use crate::fs::confined::DEFAULT_OUTPUT_DIR;
use crate::session::hook::{self, HookError, HookOptions, Stage};

/// Arguments of `hook`.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// Directory profiles may be written to (repeatable; relative annotation paths
    /// resolve below the first). Nothing is ever written outside these.
    #[arg(long = "output-dir", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR)]
    pub output_dirs: Vec<PathBuf>,
    /// Directory base profiles may be read from, besides the output directories
    /// (repeatable).
    #[arg(long = "input-dir", value_name = "DIR")]
    pub input_dirs: Vec<PathBuf>,
    /// The hook stage.
    #[arg(value_enum)]
    pub stage: Stage,
}

/// Runs the hook with the container state on `input` (the runtime's stdin).
pub fn run(args: HookArgs, input: &mut dyn Read) -> Result<(), HookError> {
    hook::run(
        &HookOptions {
            output_dirs: args.output_dirs,
            input_dirs: args.input_dirs,
            stage: args.stage,
        },
        input,
    )
}
