//! The exclusive lock on the tracer's shared state (an `flock` in the run directory).

use super::*;

/// How long [`StateLock::acquire`] waits for another holder (below the hook timeout).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An exclusive lock on the tracer's shared state, released on drop.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock, waiting for other holders.
    pub fn acquire(run_dir: &Path) -> Result<Self, TracerError> {
        crate::fs::mode::create_dir(run_dir)
            .map_err(io_err("cannot create run directory", run_dir))?;
        let path = run_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("cannot open lock file", &path))?;
        // Bounded: hooks run under the runtime's timeout (10 s in our hook JSON); a
        // holder that hangs must not hang every container start with it.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(StateLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(TracerError::Io {
                    what: "cannot lock",
                    path,
                    source: e,
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(TracerError::LockTimeout(path));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}
