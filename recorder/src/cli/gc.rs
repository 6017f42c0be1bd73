//! `seccomp-recorder gc` and `unload`: what they print; the work is
//! [`crate::session::gc`] and [`crate::kernel::tracer::unload`].

use super::error::Error;
use crate::kernel::tracer::{self, Tracer, TracerPaths};
use crate::session::gc::collect_garbage;
use crate::session::state::StateStore;

/// `gc`: 0 when every stale recording was finished, 1 when one could not be.
pub fn gc() -> Result<u8, Error> {
    let paths = TracerPaths::from_env();
    let store = StateStore::new(&paths.run_dir);
    let mut t = Tracer::open(&paths)?;
    let report = collect_garbage(&mut t, &store, None)?;
    for id in &report.finished {
        println!("finished {id}");
    }
    if report.orphans > 0 {
        println!("released {} orphaned recording slot(s)", report.orphans);
    }
    if report.stale_builds > 0 {
        println!("removed the pins of {} older build(s)", report.stale_builds);
    }
    for (id, why) in &report.failed {
        eprintln!("seccomp-recorder: could not finish {id}: {why}");
    }
    Ok(if report.failed.is_empty() { 0 } else { 1 })
}

/// `unload`: 0 when unloaded (or nothing was loaded), 1 while recordings are active.
pub fn unload() -> Result<u8, Error> {
    let paths = TracerPaths::from_env();
    if tracer::unload(&paths)? {
        Ok(0)
    } else {
        eprintln!("seccomp-recorder: recordings are still active; nothing unloaded (finish them or run gc)");
        Ok(1)
    }
}
