//! Finishing what nobody else will: recordings whose container (cgroup) or `record`
//! process is gone (poststop never came, the recorder was killed), kernel slots with no
//! state file, pins of older builds. `gc`, and every hook run, call this.

use crate::kernel::cgroup::{self, Cgroup2, CgroupId};
use crate::kernel::tracer::{self, Tracer, TracerError};
use crate::session::finish::{finish, FinishError};
use crate::session::state::{self, Kind, RecordingState, StateError, StateStore};

/// Whether a container recording's container is over: its cgroup is gone, was made
/// anew under the same path (another inode), or has no process left (a runtime or
/// conmon killed before it could clean up leaves an empty cgroup behind).
pub fn container_gone(st: &RecordingState) -> bool {
    match Cgroup2::id_of(&st.cgroup_dir) {
        Err(_) => true,
        Ok(id) => id.0 != st.cgroup_id || !cgroup::is_populated(&st.cgroup_dir),
    }
}

/// What a gc run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Recordings finished (profiles written).
    pub finished: Vec<String>,
    /// Kernel slots released that had no state at all.
    pub orphans: usize,
    /// Pin directories of other builds removed (their program was not attached).
    pub stale_builds: usize,
    /// Recordings that could not be finished, with the reason.
    pub failed: Vec<(String, String)>,
}

/// Finishes recordings whose container (cgroup) or `record` process is gone, releases
/// slots nobody owns, and so detaches the program when nothing is left.
pub fn collect_garbage(
    tracer: &mut Tracer,
    store: &StateStore,
    skip: Option<&str>,
) -> Result<GcReport, FinishError> {
    let mut report = GcReport::default();
    let mut known_cgroups = Vec::new();
    // A finisher killed after its claim: its state goes back, to be finished here.
    for id in store.recover_abandoned_claims() {
        tracing::info!(id, "recovered a recording whose finisher died");
    }
    for id in store.ids()? {
        if Some(id.as_str()) == skip {
            continue;
        }
        let st = match store.load(&id) {
            Ok(s) => s,
            Err(StateError::Missing(_)) => continue,
            Err(e) => {
                report.failed.push((id, e.to_string()));
                continue;
            }
        };
        let gone = match st.kind {
            Kind::Container => container_gone(&st),
            Kind::Command | Kind::Attached => !st.owner_pid.is_some_and(state::process_alive),
            // The agent finishes its own, a restarted one too.
            Kind::Agent => false,
        };
        if !gone {
            known_cgroups.push(st.cgroup_id);
            continue;
        }
        let Some(mut claimed) = store.claim(&id)? else {
            continue;
        };
        match finish(tracer, &mut claimed) {
            Ok(()) => {
                if claimed.state.kind == Kind::Command {
                    let _ = cgroup::remove_cgroup_dir(&claimed.state.cgroup_dir);
                }
                claimed.done();
                report.finished.push(id);
            }
            Err(e) => {
                known_cgroups.push(claimed.state.cgroup_id);
                report.failed.push((id, e.to_string()));
            }
        }
    }
    if let Some(s) = skip {
        if let Ok(st) = store.load(s) {
            known_cgroups.push(st.cgroup_id);
        }
    }
    // Slots with no state file at all (state removed by hand, or written by a crashed
    // run): nobody will ever read them. States being finished right now are known too.
    known_cgroups.extend(store.finishing_states().iter().map(|s| s.cgroup_id));
    for (slot, st) in tracer.active()? {
        // The node agent's watches, spares and claims: only an agent releases them.
        if st.agent != 0 {
            continue;
        }
        if known_cgroups.contains(&st.cgroup_id) || store_has_cgroup(store, st.cgroup_id) {
            continue;
        }
        match tracer.release_owned(slot, CgroupId(st.cgroup_id)) {
            Ok(()) => report.orphans += 1,
            Err(TracerError::NotInUse(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    report.stale_builds = tracer::remove_stale_builds(&tracer.paths().clone())?.len();
    Ok(report)
}

fn store_has_cgroup(store: &StateStore, cgroup_id: u64) -> bool {
    store
        .ids()
        .unwrap_or_default()
        .iter()
        .filter_map(|id| store.load(id).ok())
        .any(|s| s.cgroup_id == cgroup_id)
}

/// [`collect_garbage`], its results and failure logged (the hook must not fail for it).
pub fn collect_garbage_best_effort(tracer: &mut Tracer, store: &StateStore, skip: Option<&str>) {
    match collect_garbage(tracer, store, skip) {
        Ok(r) => {
            for id in &r.finished {
                tracing::info!(id, "finished a recording whose poststop never came");
            }
            for (id, why) in &r.failed {
                tracing::warn!(id, why, "could not finish a stale recording");
            }
        }
        Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
    }
}
