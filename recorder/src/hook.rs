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

use crate::annotations::{self, AnnotationError, RuntimeChoice};
use crate::cgroup::{self, Cgroup2, CgroupError, CgroupId};
use crate::exit::{Categorized, Category};
use crate::formats::{self, Format, FormatError};
use crate::outdir::{self, Destination, OutputPathError, OutputPolicy, DEFAULT_OUTPUT_DIR};
use crate::profile::{self, ProfileOptions};
use crate::profile_file::{self, HostFacts, ProfileFileError};
use crate::report;
use crate::runtime::{self, Runtime};
use crate::state::{self, Claimed, Kind, RecordingState, StateError, StateStore};
use crate::tracer::{HostAbis, StartMode, StateLock, Tracer, TracerError, TracerPaths};

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
    /// Base profile unusable.
    #[error("base profile unusable")]
    Base(#[source] ProfileFileError),
    /// Another live cgroup is being recorded under this container id.
    #[error("container id {id} is already being recorded (cgroup {}); finish that recording (poststop or `seccomp-recorder gc`) first", cgroup.display())]
    AlreadyRecording {
        /// The id.
        id: String,
        /// The cgroup of the recording that has it.
        cgroup: PathBuf,
    },
    /// The kernel slot of a recording was gone when it was finished.
    #[error("the counts of container {0} are lost: its kernel recording slot was released or the pinned maps were removed while it ran; no profile written")]
    CountsLost(String),
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
    /// The profile could not be serialized.
    #[error("cannot serialize the profile")]
    Json(#[source] serde_json::Error),
    /// The profile cannot be written in the asked format.
    #[error("cannot render the profile")]
    Format(#[from] FormatError),
}

impl Categorized for HookError {
    fn category(&self) -> Category {
        match self {
            HookError::Stdin(_) | HookError::CountsLost(_) => Category::Io,
            HookError::State(_)
            | HookError::StateShape
            | HookError::NoPid(_)
            | HookError::RootCgroup(_)
            | HookError::AlreadyRecording { .. }
            | HookError::Annotation { .. } => Category::BadInput,
            HookError::Output(e) => e.category(),
            HookError::Base(e) => e.category(),
            HookError::Cgroup(e) => e.category(),
            HookError::Store(e) => e.category(),
            HookError::Tracer(e) => e.category(),
            HookError::Json(_) => Category::Internal,
            HookError::Format(e) => e.category(),
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
pub fn run(args: &HookArgs, input: &mut dyn Read) -> Result<(), HookError> {
    let mut buf = Vec::new();
    input
        .take(MAX_STATE)
        .read_to_end(&mut buf)
        .map_err(HookError::Stdin)?;
    let st = parse_state(&buf)?;
    let paths = TracerPaths::from_env();
    let store = StateStore::new(&paths.run_dir);
    match args.stage {
        Stage::Prestart | Stage::CreateRuntime => prestart(args, &st, &paths, &store),
        Stage::Poststop => poststop(&st, &paths, &store),
    }
}

fn annotations_of(st: &State) -> HashMap<String, String> {
    st.annotations().clone().unwrap_or_default()
}

fn prestart(
    args: &HookArgs,
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
    state::validate_id(&id)?;
    let policy = OutputPolicy::new(&args.output_dirs)?;
    let output = policy.resolve(&request.output)?;
    outdir::check_writable(&output)?;
    let stats = request
        .stats
        .as_deref()
        .map(|s| policy.resolve(s))
        .transpose()?;
    if let Some(s) = &stats {
        outdir::check_writable(s)?;
    }
    let report = request
        .report
        .as_deref()
        .map(|s| policy.resolve(s))
        .transpose()?;
    if let Some(r) = &report {
        outdir::check_writable(r)?;
    }
    let base = match request.base.as_deref() {
        Some(b) => {
            let mut dirs = args.output_dirs.clone();
            dirs.extend(args.input_dirs.iter().cloned());
            let inputs = OutputPolicy::new(&dirs)?;
            let dest = inputs.resolve(b)?;
            // Fail now, not at poststop, when the base profile is unusable.
            load_base(&dest)?;
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
        id: id.clone(),
        kind: Kind::Container,
        cgroup_dir: dir,
        cgroup_id: cgroup_id.0,
        slot: None,
        output: Some(output),
        stats,
        report,
        recorded: None,
        format: Some(
            <Format as clap::ValueEnum>::to_possible_value(&request.format)
                .map(|v| v.get_name().to_owned())
                .unwrap_or_else(|| "oci".to_owned()),
        ),
        base,
        errno: request.errno,
        owner_pid: None,
        started_unix: state::now_unix(),
        runtime: Some(tail),
        runtime_signal: Some(signal),
        record_args: request.record_args,
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
        cgroup_id,
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
            let gone = existing.as_ref().is_some_and(container_gone);
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

/// Whether a container recording's container is over: its cgroup is gone, was made
/// anew under the same path (another inode), or has no process left (a runtime or
/// conmon killed before it could clean up leaves an empty cgroup behind).
fn container_gone(st: &RecordingState) -> bool {
    match Cgroup2::id_of(&st.cgroup_dir) {
        Err(_) => true,
        Ok(id) => id.0 != st.cgroup_id || !cgroup::is_populated(&st.cgroup_dir),
    }
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
    while store.finishing(id) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn load_base(dest: &Destination) -> Result<oci_spec::runtime::LinuxSeccomp, HookError> {
    let bytes = outdir::read(dest)?;
    let text = String::from_utf8_lossy(&bytes);
    profile_file::parse_profile(&text, &dest.path(), &HostFacts::current())
        .map(|p| p.seccomp)
        .map_err(HookError::Base)
}

/// Finishes a claimed recording: reads its counts (only from a slot that still records
/// its cgroup), saves them in the claimed state, releases the slot, then writes the
/// profile (and stats, report) when it has an output. If writing fails, the state put
/// back holds the counts and no slot, so `gc` retries the writing and no other
/// recording's slot is ever touched.
pub fn finish(tracer: &mut Tracer, claimed: &mut Claimed) -> Result<(), HookError> {
    let state = claimed.state.clone();
    let recorded = match (&state.recorded, state.slot) {
        (Some(saved), _) => saved.clone(),
        (None, Some(slot)) => {
            let owner = CgroupId(state.cgroup_id);
            let snapshot = match tracer.snapshot_owned(slot, owner) {
                Ok(s) => s,
                Err(TracerError::NotInUse(_)) => {
                    // An empty profile would be a lie: say so once, and leave a state
                    // without slot or counts, which the next gc removes.
                    let mut next = state.clone();
                    next.slot = None;
                    next.recorded = None;
                    claimed.update(next)?;
                    return Err(HookError::CountsLost(state.id.clone()));
                }
                Err(e) => return Err(e.into()),
            };
            let mut saved = report::report(&crate::record::to_evidence(&snapshot));
            saved.runtime = Some(state.runtime.unwrap_or_default());
            saved.runtime_signal = state.runtime_signal.clone();
            saved.args = snapshot.args.clone();
            saved.args_lost = snapshot.args_lost;
            let mut next = state.clone();
            next.slot = None;
            next.recorded = Some(saved.clone());
            claimed.update(next)?;
            crate::fault::point(crate::fault::POSTSTOP_AFTER_COUNTS);
            match tracer.release_owned(slot, owner) {
                Ok(()) | Err(TracerError::NotInUse(_)) => {}
                Err(e) => return Err(e.into()),
            }
            saved
        }
        (None, None) => {
            // Its prestart never registered the cgroup (it failed or was killed):
            // there is no recording, and an empty profile would be a lie.
            if state.output.is_some() {
                tracing::warn!(
                    id = state.id,
                    "the recording never started (its prestart did not finish); no profile written"
                );
            }
            return Ok(());
        }
    };
    let Some(output) = &state.output else {
        return Ok(());
    };
    let calls = report::recorded_calls(&recorded);
    let native = HostAbis::host()?.native;
    let built = profile::build(
        &calls,
        &ProfileOptions {
            errno: state.errno,
            native,
        },
    );
    for (arch, nr) in &built.unnamed {
        tracing::warn!(
            id = state.id,
            "syscall number {nr} on {arch} has no name; it cannot be allowed by name"
        );
    }
    let mut prof = built.profile;
    if state.record_args {
        let (with_args, warnings) =
            profile::apply_arg_rules(&prof, &recorded.args, recorded.args_lost);
        for w in warnings {
            tracing::warn!(id = state.id, "{w}");
        }
        prof = with_args;
    }
    if let Some(base) = &state.base {
        let base = load_base(base)?;
        let (merged, skipped) = profile::merge_base(&prof, &base);
        for s in skipped {
            tracing::warn!(id = state.id, "{s}");
        }
        prof = merged;
    }
    // What the runtime calls through the filter before the workload's execve (not seen
    // when the recording ran without a filter, under no_new_privs, or under another
    // runtime), and ENOSYS for clone3 if the result does not allow it.
    let prof = profile::add_runtime_tail(&prof, state.runtime.unwrap_or_default());
    let format = state
        .format
        .as_deref()
        .and_then(|f| <Format as clap::ValueEnum>::from_str(f, true).ok())
        .unwrap_or_default();
    let name = output
        .relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| state.id.clone());
    let json = formats::render(&prof, format, &name)?;
    if let Some(stats_dest) = &state.stats {
        let mut text =
            serde_json::to_string_pretty(&profile::stats(&calls)).map_err(HookError::Json)?;
        text.push('\n');
        outdir::write(stats_dest, text.as_bytes())?;
    }
    if let Some(report_dest) = &state.report {
        let mut text = serde_json::to_string_pretty(&recorded).map_err(HookError::Json)?;
        text.push('\n');
        outdir::write(report_dest, text.as_bytes())?;
    }
    outdir::write(output, json.as_bytes())?;
    Ok(())
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
) -> Result<GcReport, HookError> {
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
        if known_cgroups.contains(&st.cgroup_id) || store_has_cgroup(store, st.cgroup_id) {
            continue;
        }
        match tracer.release_owned(slot, CgroupId(st.cgroup_id)) {
            Ok(()) => report.orphans += 1,
            Err(TracerError::NotInUse(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    report.stale_builds = crate::tracer::remove_stale_builds(&tracer.paths().clone())?.len();
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

fn collect_garbage_best_effort(tracer: &mut Tracer, store: &StateStore, skip: Option<&str>) {
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
            id: "c".into(),
            kind: Kind::Container,
            cgroup_dir,
            cgroup_id,
            slot: Some(1),
            output: None,
            stats: None,
            report: None,
            recorded: None,
            format: None,
            base: None,
            errno: crate::profile::DefaultErrno::Enosys,
            owner_pid: None,
            started_unix: 1,
            runtime: None,
            runtime_signal: None,
            record_args: false,
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
        assert!(container_gone(&state(dir.path().join("gone"), 8)));
        assert!(container_gone(&state(live, 8)));
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
