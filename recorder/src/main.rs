//! The `seccomp-recorder` binary: parse, run, map errors to one line and an exit code.

use std::process::ExitCode;

use clap::Parser;
use seccomp_profile::exit::{Categorized, Category};
use seccomp_recorder::cli::{self, Cli, Cmd};
use seccomp_recorder::error::one_line;
use seccomp_recorder::observability::{self, LogTarget};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Category::Usage.code()
            } else {
                0
            });
        }
    };
    let is_hook = matches!(cli.command, Cmd::Hook(_));
    let logs_to_file = observability::init(if is_hook {
        LogTarget::HookFile
    } else {
        LogTarget::Stderr
    });
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let line = one_line(&err);
            if logs_to_file {
                // The runtime may drop a hook's stderr (crun does): the log keeps it.
                tracing::error!("{line}");
            }
            eprintln!("seccomp-recorder: {line}");
            ExitCode::from(err.category().code())
        }
    }
}
