//! The agent's fast eye: a thread that looks at the claims every few milliseconds and
//! notes the directory of each new claimed cgroup while it still exists. The agent's
//! main loop may spend a while asking the CRI; a container that lives a millisecond
//! is created, run and deleted in less than that, and its directory name (the
//! container id) is all that tells it apart afterwards.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::kernel::tracer::{Tracer, TracerPaths};

use super::resolve;

/// How often the claims are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(2);

/// Directories of claimed cgroups, noted by the locator thread.
#[derive(Clone, Default)]
pub struct Located {
    dirs: Arc<Mutex<HashMap<u64, PathBuf>>>,
    stop: Arc<AtomicBool>,
}

impl Located {
    /// The directory noted for claimed cgroup `id`, taken out of the notes.
    pub fn take(&self, id: u64) -> Option<PathBuf> {
        self.dirs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }

    /// Starts the thread (with its own map handles) over the `watched` trees (dir,
    /// depth, shared with the agent, which changes them).
    pub fn start(
        paths: &TracerPaths,
        watched: Arc<Mutex<Vec<(PathBuf, u32)>>>,
    ) -> Result<Located, crate::kernel::tracer::TracerError> {
        let tracer = Tracer::open(paths)?;
        let located = Located::default();
        let me = located.clone();
        std::thread::spawn(move || {
            let mut seen = None;
            while !me.stop.load(Ordering::Relaxed) {
                // One map read per look; the claims only when a new one was made.
                let made = tracer.claims_made().ok();
                if made != seen {
                    seen = made;
                    me.look(&tracer, &watched);
                }
                std::thread::sleep(LOOK_EVERY);
            }
        });
        Ok(located)
    }

    /// Notes the directory of every claim with a slot not noted yet (one walk of the
    /// watched trees, only when there is such a claim).
    fn look(&self, tracer: &Tracer, watched: &Mutex<Vec<(PathBuf, u32)>>) {
        let Ok(claims) = tracer.claims() else {
            return;
        };
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget notes of claims that are gone (decided and forgotten by the agent).
        dirs.retain(|id, _| claims.iter().any(|c| c.cgroup == *id));
        let new: Vec<u64> = claims
            .iter()
            .filter(|c| c.slot.is_some() && !dirs.contains_key(&c.cgroup))
            .map(|c| c.cgroup)
            .collect();
        if new.is_empty() {
            return;
        }
        let trees = watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let index = resolve::index_dirs(&trees);
        for id in new {
            if let Some(d) = index.get(&id) {
                dirs.insert(id, d.clone());
            }
        }
    }

    /// Ends the thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
