//! The one finish step: counts in, files out. `record` and the hook's poststop (and
//! `gc` for recordings whose poststop never came) all turn a recording into a profile
//! here: [`assemble`] builds it (allow list, argument rules, base, runtime tail) and
//! [`finish`] takes a claimed recording from its kernel slot to the files on disk.

use oci_spec::runtime::LinuxSeccomp;

use crate::fs::confined::{self, Destination, OutputPathError};
use crate::kernel::cgroup::CgroupId;
use crate::kernel::tracer::{HostAbis, Snapshot, Tracer, TracerError};
use crate::session::state::{Claimed, StateError};
use seccomp_profile::args::ArgValue;
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::formats::{self, FormatError};
use seccomp_profile::profile::{self, ProfileOptions, RecordedSyscall};
use seccomp_profile::profile_file::{self, HostFacts, ProfileFileError};
use seccomp_profile::report::{self, Evidence, FirstSeen, Report};
use seccomp_profile::runtime::Runtime;
use seccomp_profile::syscalls::Arch;

/// Errors of finishing a recording (and of `gc`, which finishes them).
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The kernel slot of a recording was gone when it was finished.
    #[error("the counts of container {0} are lost: its kernel recording slot was released or the pinned maps were removed while it ran; no profile written")]
    CountsLost(String),
    /// Base profile unusable.
    #[error("base profile unusable")]
    Base(#[source] ProfileFileError),
    /// Output path refused or not writable.
    #[error(transparent)]
    Output(#[from] OutputPathError),
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

impl Categorized for FinishError {
    fn category(&self) -> Category {
        match self {
            FinishError::CountsLost(_) => Category::Io,
            FinishError::Base(e) => e.category(),
            FinishError::Output(e) => e.category(),
            FinishError::Store(e) => e.category(),
            FinishError::Tracer(e) => e.category(),
            FinishError::Json(_) => Category::Internal,
            FinishError::Format(e) => e.category(),
        }
    }
}

/// What a recording adds to its allow list, besides the counts.
#[derive(Debug, Clone, Copy)]
pub struct Assembly<'a> {
    /// Default errno and the native architecture.
    pub options: ProfileOptions,
    /// Recorded argument values, when argument rules were asked for.
    pub args: Option<(&'a [ArgValue], bool)>,
    /// A base profile whose allowed syscalls are added.
    pub base: Option<&'a LinuxSeccomp>,
    /// The runtime whose pre-exec tail is added.
    pub runtime: Runtime,
    /// Also allow the variants of each allowed call (`--portable`, see
    /// [`seccomp_profile::portable`]).
    pub portable: bool,
}

/// The assembled profile and what could not go into it.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The profile to write.
    pub profile: LinuxSeccomp,
    /// Numbers no table names (they cannot be allowed by name).
    pub unnamed: Vec<(Arch, u64)>,
    /// What the argument rules and the base could not express, one line each.
    pub warnings: Vec<String>,
    /// The variants `portable` added.
    pub siblings: Vec<seccomp_profile::portable::Added>,
}

/// Builds the profile of a recording (pure): the default-deny allow list of the
/// counted names, argument rules from the recorded values, the base's allowed names,
/// the variants of every allowed call when asked (`portable`), then what the runtime calls through the filter before the workload's execve (and
/// ENOSYS for clone3 if the result does not allow it).
pub fn assemble(calls: &[RecordedSyscall], a: &Assembly<'_>) -> Assembled {
    let built = profile::build(calls, &a.options);
    let mut prof = built.profile;
    let mut warnings = Vec::new();
    if let Some((values, lost)) = a.args {
        let (with_args, w) = profile::apply_arg_rules(&prof, values, lost);
        warnings.extend(w);
        prof = with_args;
    }
    if let Some(base) = a.base {
        let (merged, skipped) = profile::merge_base(&prof, base);
        warnings.extend(skipped);
        prof = merged;
    }
    let mut siblings = Vec::new();
    if a.portable {
        let p = seccomp_profile::portable::add(&prof);
        siblings = p.added;
        prof = p.profile;
    }
    Assembled {
        profile: profile::add_runtime_tail(&prof, a.runtime),
        unnamed: built.unnamed,
        warnings,
        siblings,
    }
}

/// Logs the variants `--portable` added (one line each, at info level).
pub fn log_siblings(id: &str, siblings: &[seccomp_profile::portable::Added]) {
    for s in siblings {
        tracing::info!(
            id,
            "portable: {} allowed ({:?}) as a variant of {} on {}",
            s.name,
            s.grant,
            s.of.join(", "),
            s.arches.join(", ")
        );
    }
}

/// The counts of a snapshot with their first use.
pub fn to_evidence(snapshot: &Snapshot) -> Vec<Evidence> {
    snapshot
        .calls
        .iter()
        .map(|c| Evidence {
            call: RecordedSyscall {
                arch: c.arch,
                nr: c.nr,
                count: c.count,
            },
            first: c.first.as_ref().map(|f| FirstSeen {
                pid: f.pid,
                tid: f.tid,
                comm: f.comm.clone(),
                after_ms: f.after_ns as f64 / 1e6,
            }),
        })
        .collect()
}

/// The counts of a snapshot, as profile input.
pub fn to_recorded(snapshot: &Snapshot) -> Vec<RecordedSyscall> {
    snapshot
        .calls
        .iter()
        .map(|c| RecordedSyscall {
            arch: c.arch,
            nr: c.nr,
            count: c.count,
        })
        .collect()
}

/// The report of a snapshot: counts with first use, argument values, the runtime.
pub fn to_report(snapshot: &Snapshot, runtime: Runtime, signal: Option<String>) -> Report {
    let mut doc = report::report(&to_evidence(snapshot));
    doc.runtime = Some(runtime);
    doc.runtime_signal = signal;
    doc.args = snapshot.args.clone();
    doc.args_lost = snapshot.args_lost;
    doc.attach = snapshot.attach.map(|a| a.describe().to_owned());
    doc
}

/// Reads and parses a base profile (from an allowed input directory).
pub fn load_base(dest: &Destination) -> Result<LinuxSeccomp, FinishError> {
    let bytes = confined::read(dest)?;
    let text = String::from_utf8_lossy(&bytes);
    profile_file::parse_profile(&text, &dest.path(), &HostFacts::current())
        .map(|p| p.seccomp)
        .map_err(FinishError::Base)
}

/// `value` as pretty JSON with a final newline: the stats and report files.
pub fn json_line<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Finishes a claimed recording: reads its counts (only from a slot that still records
/// its cgroup), saves them in the claimed state, releases the slot, then writes the
/// profile (and stats, report) when it has an output. If writing fails, the state put
/// back holds the counts and no slot, so `gc` retries the writing and no other
/// recording's slot is ever touched.
pub fn finish(tracer: &mut Tracer, claimed: &mut Claimed) -> Result<(), FinishError> {
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
                    return Err(FinishError::CountsLost(state.id.clone()));
                }
                Err(e) => return Err(e.into()),
            };
            let saved = to_report(
                &snapshot,
                state.runtime.unwrap_or_default(),
                state.runtime_signal.clone(),
            );
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
    let base = state.base.as_ref().map(load_base).transpose()?;
    let assembled = assemble(
        &calls,
        &Assembly {
            options: ProfileOptions {
                errno: state.errno,
                native: HostAbis::host()?.native,
            },
            args: state
                .record_args
                .then_some((recorded.args.as_slice(), recorded.args_lost)),
            base: base.as_ref(),
            runtime: state.runtime.unwrap_or_default(),
            portable: state.portable,
        },
    );
    log_siblings(&state.id, &assembled.siblings);
    for line in profile::unnamed_warnings(assembled.unnamed.iter().copied()) {
        tracing::warn!(id = state.id, "{line}");
    }
    for w in &assembled.warnings {
        tracing::warn!(id = state.id, "{w}");
    }
    let format = state.format.unwrap_or_default();
    let name = output
        .relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| state.id.clone());
    let json = formats::render(&assembled.profile, format, &name)?;
    if let Some(stats_dest) = &state.stats {
        confined::write(
            stats_dest,
            json_line(&profile::Stats {
                attach: recorded.attach.clone(),
                ..profile::stats(&calls)
            })
            .map_err(FinishError::Json)?
            .as_bytes(),
        )?;
    }
    if let Some(report_dest) = &state.report {
        confined::write(
            report_dest,
            json_line(&recorded).map_err(FinishError::Json)?.as_bytes(),
        )?;
    }
    confined::write(output, json.as_bytes())?;
    Ok(())
}
