//! Logging setup. The CLI logs warnings to stderr; hooks run without a terminal, so
//! they log to the file named by `SECCOMP_RECORDER_LOG_FILE` (default
//! `/var/log/seccomp-recorder.log` for hooks), or to stderr when that file cannot be
//! opened. A failing hook also prints its error on stderr, but runtimes do not always
//! show it (crun drops it), so the error is logged too.
//! `SECCOMP_RECORDER_LOG` sets the filter (`warn` by default, e.g. `debug`).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// Where logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// stderr, compact (interactive commands).
    Stderr,
    /// Append to the hook log file, falling back to stderr.
    HookFile,
}

/// Default log file of hook invocations.
pub const DEFAULT_HOOK_LOG: &str = "/var/log/seccomp-recorder.log";

/// Installs the global subscriber. Safe to call once per process. Returns whether the
/// logs go to a file (else to stderr, where an error printed by the caller must not
/// be logged as well: it would show twice).
pub fn init(target: LogTarget) -> bool {
    let filter =
        EnvFilter::try_from_env("SECCOMP_RECORDER_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    match target {
        LogTarget::Stderr => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                // Colours only for a person: not into a pipe, a file or a pod's log.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .without_time()
                .with_target(false)
                .try_init();
            false
        }
        LogTarget::HookFile => {
            let path = std::env::var_os("SECCOMP_RECORDER_LOG_FILE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| Path::new(DEFAULT_HOOK_LOG).to_owned());
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&path)
            {
                Ok(file) => {
                    let _ = tracing_subscriber::fmt()
                        .with_env_filter(filter)
                        .with_writer(std::sync::Mutex::new(file))
                        .with_ansi(false)
                        .try_init();
                    true
                }
                Err(_) => {
                    let _ = tracing_subscriber::fmt()
                        .with_env_filter(filter)
                        .with_writer(std::io::stderr)
                        .with_ansi(false)
                        .try_init();
                    false
                }
            }
        }
    }
}
