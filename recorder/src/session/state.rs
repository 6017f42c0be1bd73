//! One small state file per active recording under the run directory, written before
//! the cgroup is registered, so that a crash or a missing poststop can be recovered
//! (`gc`) with nothing lost.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fs::atomic::{write_atomic_volatile as write_atomic, WriteError};
use crate::fs::confined::Destination;
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile::DefaultErrno;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A container id that cannot be a file name.
    #[error("container id '{0}' is not valid (1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -)")]
    BadId(String),
    /// Reading failed.
    #[error("cannot read recording state {0}")]
    Read(PathBuf, #[source] io::Error),
    /// The file is not a state file.
    #[error("corrupt recording state {0}")]
    Corrupt(PathBuf, #[source] serde_json::Error),
    /// Writing failed.
    #[error("cannot save recording state")]
    Write(#[from] WriteError),
    /// No state for this id.
    #[error("no recording state for container {0}")]
    Missing(String),
}

impl Categorized for StateError {
    fn category(&self) -> Category {
        match self {
            StateError::BadId(_) | StateError::Corrupt(..) => Category::BadInput,
            StateError::Missing(_) => Category::BadInput,
            StateError::Read(..) => Category::Io,
            StateError::Write(e) => e.category(),
        }
    }
}

/// What is being recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A container (OCI hook): finished at poststop, or by gc once its cgroup is gone.
    Container,
    /// A `record -- CMD` run: finished by its own process, or by gc once it died.
    Command,
    /// A `record --cgroup/--container` run on a cgroup it did not create: finished by
    /// its own process, or by gc once it died (the cgroup itself is never touched).
    Attached,
    /// A container the node agent records: finished by the agent (a restarted agent
    /// adopts it; gc leaves it alone).
    Agent,
}

/// The state of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingState {
    /// Container id, or `cmd-<pid>` for `record`.
    pub id: String,
    /// What is recorded.
    pub kind: Kind,
    /// The cgroup v2 directory.
    pub cgroup_dir: PathBuf,
    /// Its id (directory inode).
    pub cgroup_id: u64,
    /// Recording slot in the kernel maps, once registered.
    pub slot: Option<u32>,
    /// Where the profile goes (containers).
    pub output: Option<Destination>,
    /// Where stats go (containers).
    pub stats: Option<Destination>,
    /// Where the evidence report goes (containers).
    #[serde(default)]
    pub report: Option<Destination>,
    /// Profile format (`oci`, `docker`, `spo`); absent means `oci`.
    #[serde(default)]
    pub format: Option<seccomp_profile::formats::Format>,
    /// The counts, once read from the kernel and the slot released: a recording whose
    /// files could not be written keeps them here for `gc` to retry.
    #[serde(default)]
    pub recorded: Option<seccomp_profile::report::Report>,
    /// Base profile to merge (containers).
    pub base: Option<Destination>,
    /// Errno of denied syscalls.
    pub errno: DefaultErrno,
    /// The process that owns a `Command` recording.
    pub owner_pid: Option<i32>,
    /// Unix seconds when the recording was registered.
    pub started_unix: u64,
    /// The runtime whose start-up tail the profile gets (absent: every known tail).
    #[serde(default)]
    pub runtime: Option<seccomp_profile::runtime::Runtime>,
    /// How the runtime was found out.
    #[serde(default)]
    pub runtime_signal: Option<String>,
    /// Argument values of the tracked syscalls are recorded too.
    #[serde(default)]
    pub record_args: bool,
    /// The profile also allows the variants of each recorded call (`--portable`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub portable: bool,
    /// The pod and container (recordings of the node agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<seccomp_profile::report::PodRecorded>,
}

impl RecordingState {
    /// A recording of `cgroup_dir` registered now: no slot, outputs or counts yet,
    /// ENOSYS for denials, every known runtime tail. Callers set the rest.
    pub fn new(id: String, kind: Kind, cgroup_dir: PathBuf, cgroup_id: u64) -> Self {
        RecordingState {
            id,
            kind,
            cgroup_dir,
            cgroup_id,
            slot: None,
            output: None,
            stats: None,
            report: None,
            format: None,
            recorded: None,
            base: None,
            errno: DefaultErrno::Enosys,
            owner_pid: None,
            started_unix: now_unix(),
            runtime: None,
            runtime_signal: None,
            record_args: false,
            portable: false,
            pod: None,
        }
    }
}

/// Checks that an id is safe as a file name (pure).
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StateError::BadId(id.chars().take(140).collect()))
    }
}

/// The directory of state files.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The store below `run_dir`.
    pub fn new(run_dir: &Path) -> Self {
        StateStore {
            dir: run_dir.join("recordings"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Saves (atomically) a state.
    pub fn save(&self, state: &RecordingState) -> Result<(), StateError> {
        validate_id(&state.id)?;
        crate::fs::mode::create_dir(&self.dir)
            .map_err(|e| StateError::Read(self.dir.clone(), e))?;
        let text = serde_json::to_vec_pretty(state)
            .map_err(|e| StateError::Corrupt(self.path(&state.id), e))?;
        write_atomic(&self.path(&state.id), &text)?;
        Ok(())
    }

    /// Loads the state of `id`.
    pub fn load(&self, id: &str) -> Result<RecordingState, StateError> {
        validate_id(id)?;
        let p = self.path(id);
        let text = match fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::Missing(id.to_owned()))
            }
            Err(e) => return Err(StateError::Read(p, e)),
        };
        serde_json::from_slice(&text).map_err(|e| StateError::Corrupt(p, e))
    }

    /// The states being finished right now (claimed by some process).
    pub fn finishing_states(&self) -> Vec<RecordingState> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with('.') && n.contains(".finishing-"))
            })
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|t| serde_json::from_slice(&t).ok())
            .collect()
    }

    /// Every state file's id.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::Read(self.dir.clone(), e)),
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".json")?;
                validate_id(id).ok()?;
                Some(id.to_owned())
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Claims the right to finish `id`: renames its state file away so that exactly
    /// one process (poststop or gc) finishes it. `Ok(None)` if someone else did.
    pub fn claim(&self, id: &str) -> Result<Option<Claimed>, StateError> {
        validate_id(id)?;
        let from = self.path(id);
        let to = self
            .dir
            .join(format!(".{id}.finishing-{}", std::process::id()));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::Read(from, e)),
        }
        let text = fs::read(&to).map_err(|e| StateError::Read(to.clone(), e))?;
        match serde_json::from_slice(&text) {
            Ok(state) => Ok(Some(Claimed { state, file: to })),
            Err(e) => {
                let _ = fs::remove_file(&to);
                Err(StateError::Corrupt(from, e))
            }
        }
    }

    /// Puts back the claimed states whose claiming process is gone (killed between
    /// claim and done), so that they are finished again; returns their ids.
    pub fn recover_abandoned_claims(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((id, pid)) = parse_claim_name(&name) else {
                continue;
            };
            if process_alive(pid) || validate_id(id).is_err() {
                continue;
            }
            let back = self.path(id);
            // Never over a newer state of the same id.
            if back.exists() {
                continue;
            }
            if fs::rename(e.path(), &back).is_ok() {
                out.push(id.to_owned());
            }
        }
        out.sort();
        out
    }

    /// Whether some process is finishing `id` right now.
    pub fn finishing(&self, id: &str) -> bool {
        let prefix = format!(".{id}.finishing-");
        fs::read_dir(&self.dir)
            .map(|entries| {
                entries.flatten().any(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&prefix))
                })
            })
            .unwrap_or(false)
    }

    /// Removes the state of `id` (used when registration failed).
    pub fn remove(&self, id: &str) {
        let _ = fs::remove_file(self.path(id));
    }
}

/// A state claimed for finishing; `done` removes it, dropping it puts it back.
pub struct Claimed {
    /// The state.
    pub state: RecordingState,
    file: PathBuf,
}

impl Claimed {
    /// Rewrites the claimed state (e.g. counts saved before the slot is released), so
    /// that a failure after this point puts back the new state.
    pub fn update(&mut self, state: RecordingState) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(&state)
            .map_err(|e| StateError::Corrupt(self.file.clone(), e))?;
        write_atomic(&self.file, &text)?;
        self.state = state;
        Ok(())
    }

    /// The recording was finished: forget it.
    pub fn done(self) {
        let _ = fs::remove_file(&self.file);
        std::mem::forget(self);
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        // Finishing failed: put the state back so that gc can retry.
        if let Some(dir) = self.file.parent() {
            let _ = fs::rename(&self.file, dir.join(format!("{}.json", self.state.id)));
        }
    }
}

/// Whether process `pid` is alive.
pub fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// The id and claiming pid of a claimed state's file name `.ID.finishing-PID` (pure).
pub fn parse_claim_name(name: &str) -> Option<(&str, i32)> {
    let rest = name.strip_prefix('.')?;
    let (id, pid) = rest.rsplit_once(".finishing-")?;
    Some((id, pid.parse().ok()?))
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str) -> RecordingState {
        RecordingState {
            slot: Some(3),
            started_unix: 1,
            ..RecordingState::new(
                id.to_owned(),
                Kind::Container,
                PathBuf::from("/sys/fs/cgroup/x"),
                42,
            )
        }
    }

    #[test]
    fn claim_file_names_parse() {
        assert_eq!(parse_claim_name(".abc.finishing-42"), Some(("abc", 42)));
        assert_eq!(parse_claim_name(".a.b.finishing-7"), Some(("a.b", 7)));
        assert_eq!(parse_claim_name("abc.json"), None);
        assert_eq!(parse_claim_name(".abc.finishing-x"), None);
    }

    #[test]
    fn ids_are_validated() {
        for ok in ["abc", "0123456789abcdef", "my_ctr.1-2"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "-x", "a b", &"a".repeat(129)] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn save_load_claim_done() {
        let d = tempfile::tempdir().expect("tmp");
        let store = StateStore::new(d.path());
        store.save(&state("c1")).expect("save");
        assert_eq!(store.ids().expect("ids"), vec!["c1".to_owned()]);
        assert_eq!(store.load("c1").expect("load"), state("c1"));
        let claimed = store.claim("c1").expect("claim").expect("some");
        assert!(
            store.claim("c1").expect("second").is_none(),
            "claimed twice"
        );
        drop(claimed); // failure: put back
        assert_eq!(store.ids().expect("ids"), vec!["c1".to_owned()]);
        store.claim("c1").expect("claim").expect("some").done();
        assert!(store.ids().expect("ids").is_empty());
        assert!(matches!(store.load("c1"), Err(StateError::Missing(_))));
    }

    #[test]
    fn corrupt_state_is_reported() {
        let d = tempfile::tempdir().expect("tmp");
        let store = StateStore::new(d.path());
        std::fs::create_dir_all(d.path().join("recordings")).expect("mkdir");
        std::fs::write(d.path().join("recordings/bad.json"), "{").expect("write");
        assert!(matches!(store.load("bad"), Err(StateError::Corrupt(..))));
    }
}
