//! What the agent writes: one recording per container run (its report, with the pod),
//! and per workload and container name the profile merged from every recording of it,
//! with the coverage of each call, laid out like the kubelet's seccomp root.

use std::fs;
use std::path::{Path, PathBuf};

use crate::fs::atomic::{write_atomic, WriteError};
use crate::session::finish::{self, Assembly};
use seccomp_profile::coverage::{self, Coverage};
use seccomp_profile::formats::{self, Format, FormatError};
use seccomp_profile::profile::{DefaultErrno, ProfileOptions};
use seccomp_profile::report::{PodRecorded, Report};
use seccomp_profile::runtime::Runtime;
use seccomp_profile::syscalls::Arch;

/// Why a recording or profile could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A directory could not be made or read.
    #[error("cannot use {}", .path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The profile cannot be rendered in the asked format.
    #[error("cannot render the profile")]
    Format(#[from] FormatError),
    /// JSON could not be written.
    #[error("cannot serialize")]
    Json(#[from] serde_json::Error),
}

/// Where one workload's container files go below the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Namespace.
    pub namespace: String,
    /// Workload.
    pub workload: String,
    /// Container name.
    pub container: String,
}

impl Place {
    /// The place of a recorded pod container (names already checked as path-safe).
    pub fn of(pod: &PodRecorded) -> Place {
        Place {
            namespace: pod.namespace.clone(),
            workload: pod.workload.clone().unwrap_or_else(|| pod.name.clone()),
            container: pod.containers.first().cloned().unwrap_or_default(),
        }
    }

    /// `recordings/<ns>/<workload>/<container>/`.
    pub fn recordings(&self, out: &Path) -> PathBuf {
        out.join("recordings")
            .join(&self.namespace)
            .join(&self.workload)
            .join(&self.container)
    }

    /// `profiles/<ns>/<workload>/<container>.json` (relative to the kubelet's seccomp
    /// root when `out` is that root).
    pub fn profile(&self, out: &Path) -> PathBuf {
        out.join("profiles")
            .join(&self.namespace)
            .join(&self.workload)
            .join(format!("{}.json", self.container))
    }

    /// The coverage file next to the profile.
    pub fn coverage(&self, out: &Path) -> PathBuf {
        self.profile(out).with_extension("coverage.json")
    }
}

/// How profiles are written.
#[derive(Debug, Clone, Copy)]
pub struct ProfileStyle {
    /// The format.
    pub format: Format,
    /// Errno of denied calls.
    pub errno: DefaultErrno,
    /// Argument rules from the argument values of the merged recordings.
    pub args: bool,
    /// The host's native architecture.
    pub native: Arch,
}

fn mkdirs(dir: &Path) -> Result<(), OutputError> {
    fs::create_dir_all(dir).map_err(|source| OutputError::Dir {
        path: dir.to_owned(),
        source,
    })
}

/// Writes one container run's recording (`<container id>.json`), then the merged
/// profile and coverage of its workload and container name. Returns the profile path.
pub fn write_recording(
    out: &Path,
    container_id: &str,
    report: &Report,
    style: ProfileStyle,
) -> Result<PathBuf, OutputError> {
    let pod = report.pod.clone().unwrap_or_else(|| PodRecorded {
        name: String::new(),
        namespace: String::new(),
        uid: String::new(),
        containers: Vec::new(),
        whole_pod: false,
        runtime_handler: String::new(),
        runtime_type: None,
        cri: String::new(),
        workload: None,
        portable: false,
    });
    let place = Place::of(&pod);
    let dir = place.recordings(out);
    mkdirs(&dir)?;
    write_atomic(
        &dir.join(format!("{container_id}.json")),
        finish::json_line(report)?.as_bytes(),
    )?;
    merge_place(out, &place, style)
}

/// Merges every recording of `place` into its profile and coverage file.
pub fn merge_place(out: &Path, place: &Place, style: ProfileStyle) -> Result<PathBuf, OutputError> {
    let dir = place.recordings(out);
    let mut recordings = Vec::new();
    let mut values = Vec::new();
    let mut values_lost = false;
    // Any recording of the place whose pod asked for variants makes the profile portable.
    let mut portable = false;
    let entries = fs::read_dir(&dir).map_err(|source| OutputError::Dir {
        path: dir.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for f in files {
        // A file that cannot be read is left out of the merge, with a warning (it was
        // written atomically by us: only a hand edit can break it).
        let report: Report = match fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(file = %f.display(), error = %e, "recording left out of the merge");
                continue;
            }
        };
        portable |= report.pod.as_ref().is_some_and(|p| p.portable);
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        recordings.push((name, coverage::calls_of(&report)));
        values_lost |= report.args_lost;
        values.push(report.args);
    }
    let (union, cov): (_, Coverage) = coverage::merge_recordings(&recordings);
    let values = seccomp_profile::args::merge_values(values.iter().map(Vec::as_slice));
    let assembled = finish::assemble(
        &union,
        &Assembly {
            options: ProfileOptions {
                errno: style.errno,
                native: style.native,
            },
            // Agent recordings all hold their argument values (every spare records
            // them from the first syscall).
            args: style.args.then_some((values.as_slice(), values_lost)),
            base: None,
            // Every known runtime's start-up tail: replicas may land on nodes with
            // another runtime.
            runtime: Runtime::Any,
            portable,
        },
    );
    finish::log_siblings(
        &format!("{}/{}", place.workload, place.container),
        &assembled.siblings,
    );
    let name = format!("{}-{}", place.workload, place.container);
    let json = formats::render(&assembled.profile, style.format, &name)?;
    let profile = place.profile(out);
    if let Some(parent) = profile.parent() {
        mkdirs(parent)?;
    }
    write_atomic(&profile, json.as_bytes())?;
    write_atomic(&place.coverage(out), finish::json_line(&cov)?.as_bytes())?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recording of `socket(family, SOCK_STREAM)` made `n` times.
    fn socket_recording(family: u64, n: u64) -> Report {
        serde_json::from_value(serde_json::json!({
            "syscalls": [
                {"arch": "SCMP_ARCH_X86_64", "nr": 41, "name": "socket", "count": n},
                {"arch": "SCMP_ARCH_X86_64", "nr": 39, "name": "getpid", "count": 1}
            ],
            "args": [{"arch": "SCMP_ARCH_X86_64", "name": "socket",
                      "args": [{"index": 0, "value": family}, {"index": 1, "value": 1}],
                      "count": n}],
            "pod": {"name": "api-1", "namespace": "shop", "uid": "u", "containers": ["app"],
                    "wholePod": false, "runtimeHandler": "", "cri": "c", "workload": "api"}
        }))
        .expect("report")
    }

    fn style(format: Format, args: bool) -> ProfileStyle {
        ProfileStyle {
            format,
            errno: DefaultErrno::Eperm,
            args,
            native: Arch::X86_64,
        }
    }

    #[test]
    fn a_workloads_profile_merges_argument_values_when_the_pod_asks() {
        let out = tempfile::tempdir().expect("tempdir");
        write_recording(
            out.path(),
            "a",
            &socket_recording(1, 2),
            style(Format::Oci, false),
        )
        .expect("first");
        let path = write_recording(
            out.path(),
            "b",
            &socket_recording(2, 3),
            style(Format::Oci, true),
        )
        .expect("second");
        assert_eq!(path, out.path().join("profiles/shop/api/app.json"));
        let profile: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(profile["defaultErrnoRet"], 1, "{profile}");
        let families: Vec<u64> = profile["syscalls"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| r["names"] == serde_json::json!(["socket"]))
            .filter_map(|r| r["args"][0]["value"].as_u64())
            .collect();
        assert_eq!(families, vec![1, 2], "both replicas' families: {profile}");
        // Without argument rules: socket by name.
        write_recording(
            out.path(),
            "c",
            &socket_recording(1, 1),
            style(Format::Oci, false),
        )
        .expect("third");
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains("\"args\""), "{text}");
        let cov: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(out.path().join("profiles/shop/api/app.coverage.json"))
                .expect("coverage"),
        )
        .expect("json");
        assert_eq!(cov["recordings"], 3);
    }

    #[test]
    fn spo_format_writes_a_seccomp_profile_object() {
        let out = tempfile::tempdir().expect("tempdir");
        let path = write_recording(
            out.path(),
            "a",
            &socket_recording(1, 1),
            style(Format::Spo, false),
        )
        .expect("write");
        let text = fs::read_to_string(path).expect("read");
        assert!(
            text.contains("kind: SeccompProfile") || text.contains("\"kind\": \"SeccompProfile\""),
            "{text}"
        );
        assert!(text.contains("api-app"), "{text}");
    }

    fn recording(pod: &str, portable: bool) -> Report {
        let text = format!(
            r#"{{"syscalls":[{{"arch":"SCMP_ARCH_X86_64","nr":262,"name":"newfstatat","count":1}}],
                "pod":{{"name":"{pod}","namespace":"shop","uid":"u","containers":["app"],
                        "wholePod":false,"runtimeHandler":"default","cri":"containerd",
                        "workload":"api","portable":{portable}}}}}"#
        );
        serde_json::from_str(&text).expect("report")
    }

    #[test]
    fn one_portable_recording_makes_the_workload_profile_portable() {
        let out = tempfile::tempdir().expect("tempdir");
        let style = ProfileStyle {
            format: Format::Oci,
            errno: DefaultErrno::Enosys,
            args: false,
            native: Arch::X86_64,
        };
        let allows_stat = |p: &Path| {
            let v: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(p).expect("profile")).expect("json");
            v["syscalls"][0]["names"]
                .as_array()
                .expect("names")
                .iter()
                .any(|n| n == "stat")
        };
        let p =
            write_recording(out.path(), "c1", &recording("api-1", false), style).expect("written");
        assert!(!allows_stat(&p));
        let p =
            write_recording(out.path(), "c2", &recording("api-2", true), style).expect("written");
        assert!(allows_stat(&p));
    }

    #[test]
    fn places_follow_the_kubelet_layout() {
        let p = Place {
            namespace: "shop".into(),
            workload: "api".into(),
            container: "app".into(),
        };
        let out = Path::new("/var/lib/kubelet/seccomp");
        assert_eq!(
            p.profile(out),
            Path::new("/var/lib/kubelet/seccomp/profiles/shop/api/app.json")
        );
        assert_eq!(
            p.coverage(out),
            Path::new("/var/lib/kubelet/seccomp/profiles/shop/api/app.coverage.json")
        );
        assert_eq!(
            p.recordings(out),
            Path::new("/var/lib/kubelet/seccomp/recordings/shop/api/app")
        );
    }
}
