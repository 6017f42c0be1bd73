//! `seccomp-recorder floor --at POINT -- CMD`: runs CMD with an empty program attached
//! at POINT (the `sys_enter` tracepoint or `fentry` on the syscall dispatcher) and
//! detaches it when CMD ends. A hidden benchmark helper: the cost of any program at
//! an attach point is the floor the recorder's own cost is compared with, and in a
//! guest without xtask this binary is the only tool there is to attach one.

use std::path::PathBuf;
use std::process::Command;

use super::error::Error;
use crate::kernel::tracer::{AttachPoint, FloorProgram, TracerError};

/// Arguments of `floor`.
#[derive(Debug, clap::Args)]
pub struct FloorArgs {
    /// Where to attach the empty program.
    #[arg(long, value_enum)]
    pub at: FloorPoint,
    /// The command to run while it is attached.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// An attach point for the empty program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloorPoint {
    /// The raw tracepoint `sys_enter`.
    Tracepoint,
    /// `fentry` on the native syscall dispatcher.
    Fentry,
}

/// Attaches, runs the command, detaches; the command's exit code (1 when it was
/// killed by a signal).
pub fn run(args: &FloorArgs) -> Result<u8, Error> {
    let point = match args.at {
        FloorPoint::Tracepoint => AttachPoint::Tracepoint,
        FloorPoint::Fentry => AttachPoint::Fentry,
    };
    let floor = FloorProgram::attach_at(point)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| spawn_error(String::new(), std::io::ErrorKind::InvalidInput.into()))?;
    let status = Command::new(program)
        .args(rest)
        .status()
        .map_err(|e| spawn_error(program.clone(), e))?;
    drop(floor);
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

fn spawn_error(program: String, source: std::io::Error) -> Error {
    Error::from(TracerError::Io {
        what: "cannot start the command",
        path: PathBuf::from(program),
        source,
    })
}
