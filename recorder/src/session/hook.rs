//! The OCI runtime hook: `seccomp-recorder hook prestart|poststop`.
//!
//! Contract (runtime-spec "POSIX-platform Hooks", oci-hooks(5)): the container state
//! JSON comes on stdin; a non-zero exit fails the container at prestart. Podman runs
//! poststop itself, with no `pid` in the state and no PATH in the environment, and
//! waits for it: the profile is on disk when `podman run` returns.
//!
//! prestart: parse annotations, check the output paths, find the container's cgroup
//! from the state's pid, save a state file, register the cgroup (counting starts when
//! the runtime loads the container's seccomp filter, or at exec without one).
//! poststop: claim the state file, read the counts, release the slot, write the
//! profile. Every run also finishes recordings whose poststop never came (`gc`).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oci_spec::runtime::State;

use crate::container::annotations::{self, AnnotationError, RuntimeChoice};
use crate::container::runtime;
use crate::fs::confined::{self, OutputPathError, OutputPolicy};
use crate::kernel::cgroup::{self, Cgroup2, CgroupError};
use crate::kernel::tracer::{require_root, StartMode, StateLock, Tracer, TracerError, TracerPaths};
use crate::session::finish::{self, finish, FinishError};
use crate::session::gc::{self, collect_garbage_best_effort};
use crate::session::state::{self, Kind, RecordingState, StateError, StateStore};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::runtime::Runtime;

/// Hook stages we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// Before the workload starts (the container's processes exist, in their cgroup).
    Prestart,
    /// Same moment as prestart for runtimes that have it (runtime-spec 1.0.2+).
    #[value(name = "createRuntime", alias = "create-runtime")]
    CreateRuntime,
    /// After the container stopped.
    Poststop,
}

/// What a hook run is told on its command line (`cli::hook::HookArgs`).
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// Directories profiles may be written to; relative annotation paths resolve
    /// below the first. Nothing is ever written outside these.
    pub output_dirs: Vec<PathBuf>,
    /// Directories base profiles may be read from, besides the output directories.
    pub input_dirs: Vec<PathBuf>,
    /// The hook stage.
    pub stage: Stage,
}

/// Errors of the hook.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// stdin could not be read.
    #[error("cannot read the container state from stdin")]
    Stdin(#[source] std::io::Error),
    /// The state JSON is malformed.
    #[error("malformed OCI state on stdin (expected the runtime-spec state JSON)")]
    State(#[source] serde_json::Error),
    /// The state is valid JSON but not a state object.
    #[error("malformed OCI state on stdin: expected a JSON object with a non-empty \"id\"")]
    StateShape,
    /// No pid at prestart.
    #[error(
        "the OCI state of container {0} has no pid: run this hook at prestart or createRuntime"
    )]
    NoPid(String),
    /// Annotations are wrong.
    #[error("bad recording annotations on container {id}")]
    Annotation {
        /// Container.
        id: String,
        /// Cause.
        #[source]
        source: AnnotationError,
    },
    /// Output path refused.
    #[error(transparent)]
    Output(#[from] OutputPathError),
    /// Another live cgroup is being recorded under this container id.
    #[error("container id {id} is already being recorded (cgroup {}); finish that recording (poststop or `seccomp-recorder gc`) first", cgroup.display())]
    AlreadyRecording {
        /// The id.
        id: String,
        /// The cgroup of the recording that has it.
        cgroup: PathBuf,
    },
    /// The container runs in the root cgroup.
    #[error("container {0} runs in the root cgroup v2; refusing to record the whole host (run it in its own cgroup)")]
    RootCgroup(String),
    /// cgroup problem.
    #[error("cannot find the container's cgroup")]
    Cgroup(#[from] CgroupError),
    /// State file problem.
    #[error(transparent)]
    Store(#[from] StateError),
    /// Kernel side.
    #[error("recording failed")]
    Tracer(#[from] TracerError),
    /// Finishing a recording (reading its counts, writing its files) failed.
    #[error(transparent)]
    Finish(#[from] FinishError),
}

impl Categorized for HookError {
    fn category(&self) -> Category {
        match self {
            HookError::Stdin(_) => Category::Io,
            HookError::State(_)
            | HookError::StateShape
            | HookError::NoPid(_)
            | HookError::RootCgroup(_)
            | HookError::AlreadyRecording { .. }
            | HookError::Annotation { .. } => Category::BadInput,
            HookError::Output(e) => e.category(),
            HookError::Finish(e) => e.category(),
            HookError::Cgroup(e) => e.category(),
            HookError::Store(e) => e.category(),
            HookError::Tracer(e) => e.category(),
        }
    }
}

const MAX_STATE: u64 = 1024 * 1024;

/// Parses the runtime's state JSON (pure): an object with at least a non-empty id.
pub fn parse_state(bytes: &[u8]) -> Result<State, HookError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(HookError::State)?;
    if value
        .get("id")
        .and_then(|v| v.as_str())
        .is_none_or(str::is_empty)
    {
        return Err(HookError::StateShape);
    }
    serde_json::from_value(value).map_err(HookError::State)
}

/// Runs the hook with the state read from `input`.
pub fn run(args: &HookOptions, input: &mut dyn Read) -> Result<(), HookError> {
    run_in(args, input, &TracerPaths::from_env())
}

/// [`run`] with the pin and run directories given instead of read from the
/// environment (tests point them at a place of their own).
pub fn run_in(
    args: &HookOptions,
    input: &mut dyn Read,
    paths: &TracerPaths,
) -> Result<(), HookError> {
    let mut buf = Vec::new();
    input
        .take(MAX_STATE)
        .read_to_end(&mut buf)
        .map_err(HookError::Stdin)?;
    let st = parse_state(&buf)?;
    let store = StateStore::new(&paths.run_dir);
    match args.stage {
        Stage::Prestart | Stage::CreateRuntime => prestart(args, &st, paths, &store),
        Stage::Poststop => poststop(&st, paths, &store),
    }
}

fn annotations_of(st: &State) -> HashMap<String, String> {
    st.annotations().clone().unwrap_or_default()
}

fn prestart(
    args: &HookOptions,
    st: &State,
    paths: &TracerPaths,
    store: &StateStore,
) -> Result<(), HookError> {
    let id = st.id().to_owned();
    let request =
        annotations::parse(&annotations_of(st)).map_err(|source| HookError::Annotation {
            id: id.clone(),
            source,
        })?;
    let Some(request) = request else {
        tracing::debug!(id, "no recording annotation; nothing to do");
        return Ok(());
    };
    // Before the state lock (root-owned): a hook run without privilege says so, not
    // "cannot open lock file".
    require_root()?;
    state::validate_id(&id)?;
    let policy = OutputPolicy::new(&args.output_dirs)?;
    let output = policy.resolve(&request.output)?;
    confined::check_writable(&output)?;
    let stats = request
        .stats
        .as_deref()
        .map(|s| policy.resolve(s))
        .transpose()?;
    if let Some(s) = &stats {
        confined::check_writable(s)?;
    }
    let report = request
        .report
        .as_deref()
        .map(|s| policy.resolve(s))
        .transpose()?;
    if let Some(r) = &report {
        confined::check_writable(r)?;
    }
    let base = match request.base.as_deref() {
        Some(b) => {
            let mut dirs = args.output_dirs.clone();
            dirs.extend(args.input_dirs.iter().cloned());
            let inputs = OutputPolicy::new(&dirs)?;
            let dest = inputs.resolve(b)?;
            // Fail now, not at poststop, when the base profile is unusable.
            finish::load_base(&dest)?;
            Some(dest)
        }
        None => None,
    };
    let pid = st
        .pid()
        .filter(|p| *p > 0)
        .ok_or_else(|| HookError::NoPid(id.clone()))?;
    let cg = Cgroup2::discover()?;
    let relative = cg.path_of_process(Some(pid))?;
    let dir = cg.dir(&relative);
    let cgroup_id = Cgroup2::id_of(&dir)?;
    let level = cgroup::level_of(&relative);
    if level == 0 {
        // Recording the root cgroup would record every process on the host.
        return Err(HookError::RootCgroup(id));
    }

    // The runtime is read from our parent (the runtime executes prestart hooks); by
    // default the profile gets every known runtime's start-up calls anyway, so that it
    // also starts where it was not recorded (podman + crun here, Docker's runc there).
    let detected = runtime::detect_at_prestart(pid);
    if detected.runtime == Runtime::Any {
        tracing::warn!(id, "{}", detected.signal);
    }
    let (tail, signal) = match request.runtime {
        RuntimeChoice::Any => (
            Runtime::Any,
            format!(
                "any (default; detected {}: {})",
                detected.runtime, detected.signal
            ),
        ),
        RuntimeChoice::Detected => (
            detected.runtime,
            format!(
                "detected: {} (annotation {})",
                detected.signal,
                annotations::RUNTIME
            ),
        ),
        RuntimeChoice::Only(rt) => (rt, format!("annotation {}={rt}", annotations::RUNTIME)),
    };
    tracing::info!(id, runtime = %tail, detected = %detected.runtime, signal, "runtime tail");
    let mut state = RecordingState {
        output: Some(output),
        stats,
        report,
        format: Some(request.format),
        base,
        errno: request.errno,
        runtime: Some(tail),
        runtime_signal: Some(signal),
        record_args: request.record_args,
        portable: request.portable,
        ..RecordingState::new(id.clone(), Kind::Container, dir, cgroup_id.0)
    };
    if !claim_id(&state, paths, store)? {
        return Ok(());
    }
    crate::fault::point(crate::fault::PRESTART_AFTER_STATE);
    let mut tracer = match Tracer::open(paths) {
        Ok(t) => t,
        Err(e) => {
            store.remove(&id);
            return Err(e.into());
        }
    };
    let slot = match tracer.register_with(
        (&state.cgroup_dir, cgroup_id),
        level,
        StartMode::AtFilterOrExec,
        request.record_args,
    ) {
        Ok(s) => s,
        Err(e) => {
            store.remove(&id);
            return Err(e.into());
        }
    };
    crate::fault::point(crate::fault::PRESTART_AFTER_REGISTER);
    state.slot = Some(slot);
    store.save(&state)?;
    tracing::info!(id, slot, cgroup = %state.cgroup_dir.display(), "recording container");
    collect_garbage_best_effort(&mut tracer, store, Some(&id));
    Ok(())
}

/// Saves the state of a new recording unless its id is taken (pure decision in
/// [`duplicate_outcome`]). Returns false when the container is already being recorded
/// in the same cgroup (a second prestart-like hook: nothing to do). A stale recording
/// of the id (cgroup gone, poststop never came) is finished first, as `gc` would.
fn claim_id(
    state: &RecordingState,
    paths: &TracerPaths,
    store: &StateStore,
) -> Result<bool, HookError> {
    for _ in 0..2 {
        let stale = {
            // Check and save under the tracer's lock, so two prestarts for one id
            // cannot both save (the second would overwrite the first's slot).
            let _lock = StateLock::acquire(&paths.run_dir)?;
            let existing = match store.load(&state.id) {
                Ok(e) => Some(e),
                Err(StateError::Missing(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let gone = existing.as_ref().is_some_and(gc::container_gone);
            match duplicate_outcome(existing.as_ref(), gone, state) {
                Duplicate::None => {
                    store.save(state)?;
                    return Ok(true);
                }
                Duplicate::SameCgroup => {
                    tracing::info!(
                        id = state.id,
                        "already recording this container; nothing to do"
                    );
                    return Ok(false);
                }
                Duplicate::OtherCgroup(dir) => {
                    return Err(HookError::AlreadyRecording {
                        id: state.id.clone(),
                        cgroup: dir,
                    })
                }
                Duplicate::Stale => true,
            }
        };
        if stale {
            let mut tracer = Tracer::open(paths)?;
            if let Some(mut claimed) = store.claim(&state.id)? {
                finish(&mut tracer, &mut claimed)?;
                claimed.done();
                tracing::info!(
                    id = state.id,
                    "finished the stale recording of this id first"
                );
            }
        }
    }
    Err(HookError::AlreadyRecording {
        id: state.id.clone(),
        cgroup: state.cgroup_dir.clone(),
    })
}

/// What a new prestart finds under its id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Duplicate {
    /// Nothing: record.
    None,
    /// The same container, still recorded: nothing to do.
    SameCgroup,
    /// Another live cgroup records under this id: refuse.
    OtherCgroup(PathBuf),
    /// A recording whose cgroup is gone: finish it, then record.
    Stale,
}

/// The decision (pure): `gone` says whether the existing recording's container is over.
fn duplicate_outcome(
    existing: Option<&RecordingState>,
    gone: bool,
    new: &RecordingState,
) -> Duplicate {
    match existing {
        None => Duplicate::None,
        Some(_) if gone => Duplicate::Stale,
        Some(e) if e.cgroup_id == new.cgroup_id => Duplicate::SameCgroup,
        Some(e) => Duplicate::OtherCgroup(e.cgroup_dir.clone()),
    }
}

fn poststop(st: &State, paths: &TracerPaths, store: &StateStore) -> Result<(), HookError> {
    let id = st.id().to_owned();
    state::validate_id(&id)?;
    let mut tracer = Tracer::open(paths)?;
    match store.claim(&id)? {
        Some(mut claimed) => {
            crate::fault::point(crate::fault::POSTSTOP_AFTER_CLAIM);
            finish(&mut tracer, &mut claimed)?;
            claimed.done();
            tracing::info!(id, "profile written");
        }
        None => {
            // Not ours, or a gc run is finishing it right now: wait for that, so that
            // the profile is on disk when the runtime returns.
            // Below the hook JSON's 10 s timeout, so the runtime never kills us here.
            wait_for_finishers(store, &id, Duration::from_secs(8));
        }
    }
    collect_garbage_best_effort(&mut tracer, store, None);
    Ok(())
}

fn wait_for_finishers(store: &StateStore, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while store.finishing(id) {
        if Instant::now() >= deadline {
            // Returning keeps the runtime from killing us at its hook timeout; the
            // finisher may still write the profile, and if it dies, gc does.
            tracing::warn!(
                id,
                "another process has been finishing this recording for {} s; poststop returns without its profile (the finisher writes it, or `seccomp-recorder gc` if the finisher is gone)",
                limit.as_secs()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crun_prestart_and_podman_poststop_states() {
        let pre = br#"{"ociVersion":"1.0.2-dev","id":"abc","status":"created","pid":4242,
            "bundle":"/var/lib/containers/x","annotations":{"io.containers.trace-syscall":"of:/o.json"}}"#;
        let s = parse_state(pre).expect("prestart state");
        assert_eq!(s.pid(), &Some(4242));
        assert_eq!(s.id(), "abc");
        let post = br#"{"ociVersion":"1.0.2-dev","id":"abc","status":"stopped","bundle":"/b"}"#;
        let s = parse_state(post).expect("poststop state");
        assert_eq!(s.pid(), &None);
    }

    #[test]
    fn a_second_prestart_is_told_apart_by_cgroup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("live");
        std::fs::create_dir(&live).expect("live");
        let state = |cgroup_dir: PathBuf, cgroup_id: u64| RecordingState {
            slot: Some(1),
            started_unix: 1,
            ..RecordingState::new("c".into(), Kind::Container, cgroup_dir, cgroup_id)
        };
        let new = state(live.clone(), 7);
        assert_eq!(duplicate_outcome(None, false, &new), Duplicate::None);
        assert_eq!(
            duplicate_outcome(Some(&state(live.clone(), 7)), false, &new),
            Duplicate::SameCgroup
        );
        assert_eq!(
            duplicate_outcome(Some(&state(live.clone(), 8)), false, &new),
            Duplicate::OtherCgroup(live.clone())
        );
        assert_eq!(
            duplicate_outcome(Some(&state(live.clone(), 8)), true, &new),
            Duplicate::Stale
        );
        // Not a cgroup at all (no such inode / no cgroup.events): over.
        assert!(gc::container_gone(&state(dir.path().join("gone"), 8)));
        assert!(gc::container_gone(&state(live, 8)));
    }

    #[test]
    fn malformed_states_are_errors() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            br#"{"id":""}"#,
            br#"{"id":"a","status":"exploded"}"#,
            br#"{"id":"a","pid":"twelve"}"#,
        ] {
            assert!(
                matches!(
                    parse_state(bad),
                    Err(HookError::State(_) | HookError::StateShape)
                ),
                "{bad:?}"
            );
        }
    }
}
