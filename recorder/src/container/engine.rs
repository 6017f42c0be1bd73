//! Finding a running container through the engine that knows it: podman or Docker by
//! their own `inspect` command, or a CRI runtime (containerd, CRI-O) through the CRI
//! socket itself ([`crate::container::cri`]). What we need is the init's pid (its
//! cgroup is the container's) and the OCI runtime (whose start-up tail the profile
//! must allow).
//!
//! Each engine's CLI is run with a time bound and its own environment
//! (`CONTAINERS_CONF`, `DOCKER_HOST` are honoured as the user set them). Parsing is
//! pure and unit-tested on the engines' JSON.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::container::cri::{CriClient, CriError, EndpointChoice};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::runtime::Runtime;

/// A container engine whose CLI can inspect containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// `podman container inspect`.
    Podman,
    /// `docker inspect --type container` (Docker Engine, also what `DOCKER_HOST` points at).
    Docker,
    /// The CRI socket of containerd or CRI-O (Kubernetes nodes): `ContainerStatus`.
    #[value(alias = "crictl")]
    Cri,
}

impl Engine {
    /// Every engine, in the order they are asked.
    pub const ALL: [Engine; 3] = [Engine::Podman, Engine::Docker, Engine::Cri];

    /// The CLI program.
    pub const fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
            Engine::Cri => "cri",
        }
    }

    fn inspect_args(self, id: &str) -> Vec<String> {
        let v: &[&str] = match self {
            Engine::Podman => &["container", "inspect"],
            Engine::Docker => &["inspect", "--type", "container"],
            // Never run: the CRI is asked through its socket (`ask_cri`).
            Engine::Cri => &[],
        };
        v.iter()
            .map(|s| (*s).to_owned())
            .chain([id.to_owned()])
            .collect()
    }

    /// How a user lists the engine's containers, for error messages.
    const fn list_hint(self) -> &'static str {
        match self {
            Engine::Podman => "`podman ps`",
            Engine::Docker => "`docker ps`",
            Engine::Cri => "`crictl ps`, or record by pod name with --pod",
        }
    }

    /// What the engine must be told to be reached, for error messages.
    const fn reach_hint(self) -> &'static str {
        match self {
            Engine::Podman => "check CONTAINERS_CONF / --root of the podman that runs it",
            Engine::Docker => "start dockerd or point DOCKER_HOST at its socket",
            Engine::Cri => "give --cri-endpoint or set CONTAINER_RUNTIME_ENDPOINT",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// A running container as its engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The engine that knows it.
    pub engine: Engine,
    /// The full id.
    pub id: String,
    /// The init's pid on this host.
    pub pid: i32,
    /// The OCI runtime the engine reports (`crun`, `runc`, `io.containerd.runc.v2`).
    pub runtime_name: Option<String>,
}

impl Inspected {
    /// Our runtime for the reported name (`Any` when unknown or not reported).
    pub fn runtime(&self) -> Runtime {
        self.runtime_name
            .as_deref()
            .and_then(Runtime::recognise)
            .unwrap_or(Runtime::Any)
    }
}

/// Why a container could not be found.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Every engine asked answered that it does not know the id.
    #[error("no container '{id}' is known to {asked} (check the id with {example})")]
    UnknownContainer {
        /// The id asked for.
        id: String,
        /// The engines asked, e.g. "podman or docker".
        asked: String,
        /// One engine to suggest.
        example: &'static str,
    },
    /// The container exists but has no running init.
    #[error("container '{id}' ({engine}) is not running: start it, then record it")]
    NotRunning {
        /// The id.
        id: String,
        /// The engine.
        engine: Engine,
    },
    /// An engine could not be asked (daemon down, socket unreachable, CLI failing).
    #[error("{not_known_to}cannot ask {engine} about container '{id}': {detail} ({hint})")]
    Unavailable {
        /// "not known to podman; " when other engines were asked and said no.
        not_known_to: String,
        /// The engine.
        engine: Engine,
        /// The id.
        id: String,
        /// The engine's own words.
        detail: String,
        /// What to do.
        hint: &'static str,
    },
    /// No engine CLI is installed.
    #[error("no container engine found (podman, docker, a CRI socket): install one, or record the container's cgroup with --cgroup")]
    NoEngine,
    /// The CRI (asked alone with `--engine cri`) failed.
    #[error(transparent)]
    Cri(#[from] CriError),
    /// The engine answered something we cannot read.
    #[error("cannot read what `{engine} inspect` said about '{id}': {detail}")]
    Malformed {
        /// The engine.
        engine: Engine,
        /// The id.
        id: String,
        /// What is wrong.
        detail: String,
    },
}

impl Categorized for EngineError {
    fn category(&self) -> Category {
        match self {
            EngineError::UnknownContainer { .. } | EngineError::NotRunning { .. } => {
                Category::UnknownContainer
            }
            EngineError::Unavailable { .. } | EngineError::NoEngine => Category::Unavailable,
            EngineError::Malformed { .. } => Category::Internal,
            EngineError::Cri(e) => e.category(),
        }
    }
}

/// What one engine said (pure classification of a CLI run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It knows the container.
    Found(Inspected),
    /// It does not know the id.
    Unknown,
    /// It could not be asked.
    Unavailable(String),
}

/// Reads one engine's `inspect` output (pure).
pub fn parse_inspect(engine: Engine, id: &str, stdout: &str) -> Result<Inspected, EngineError> {
    let malformed = |detail: &str| EngineError::Malformed {
        engine,
        id: id.to_owned(),
        detail: detail.to_owned(),
    };
    let v: Value = serde_json::from_str(stdout).map_err(|e| malformed(&e.to_string()))?;
    // podman and docker print an array of one object.
    let obj = match &v {
        Value::Array(a) => a.first().ok_or_else(|| malformed("an empty list"))?,
        other => other,
    };
    let (pid, full_id, runtime) = match engine {
        Engine::Podman => (
            obj.pointer("/State/Pid").and_then(Value::as_i64),
            obj.get("Id").and_then(Value::as_str),
            obj.get("OCIRuntime").and_then(Value::as_str),
        ),
        Engine::Docker => (
            obj.pointer("/State/Pid").and_then(Value::as_i64),
            obj.get("Id").and_then(Value::as_str),
            obj.pointer("/HostConfig/Runtime").and_then(Value::as_str),
        ),
        Engine::Cri => {
            return Err(malformed("the CRI is asked through its socket, not a CLI"));
        }
    };
    let pid = pid.ok_or_else(|| malformed("no pid in the answer"))?;
    if pid <= 0 {
        return Err(EngineError::NotRunning {
            id: id.to_owned(),
            engine,
        });
    }
    Ok(Inspected {
        engine,
        id: full_id.unwrap_or(id).to_owned(),
        pid: i32::try_from(pid).map_err(|_| malformed("pid out of range"))?,
        runtime_name: runtime.filter(|r| !r.is_empty()).map(str::to_owned),
    })
}

/// Tells "does not know it" from "could not be asked" by the engine's words (pure).
pub fn classify_failure(stderr: &str) -> Answer {
    let lower = stderr.to_ascii_lowercase();
    let unknown = [
        "no such container",
        "no such object",
        "not found",
        "no container with name or id",
    ];
    if unknown.iter().any(|w| lower.contains(w)) && !lower.contains("connect") {
        Answer::Unknown
    } else {
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("exited without saying why");
        Answer::Unavailable(line.to_owned())
    }
}

/// How long one engine CLI may take.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Asks the CRI about container `id` (an id or unique id prefix). `None` when no
/// default CRI socket exists (like a CLI that is not installed).
fn ask_cri(id: &str, cri: &EndpointChoice) -> Option<Result<Answer, EngineError>> {
    let client = match CriClient::open(cri) {
        Ok(c) => c,
        // No socket, or no client in this build: like a CLI that is not installed.
        Err(CriError::NoDefault { .. } | CriError::NotBuilt) => return None,
        Err(e) => return Some(Ok(Answer::Unavailable(e.to_string()))),
    };
    Some(match client.find_container(id) {
        Ok(None) => Ok(Answer::Unknown),
        Ok(Some(found)) if found.pid <= 0 => Err(EngineError::NotRunning {
            id: id.to_owned(),
            engine: Engine::Cri,
        }),
        Ok(Some(found)) => Ok(Answer::Found(Inspected {
            engine: Engine::Cri,
            id: found.container.id,
            pid: found.pid,
            runtime_name: found.runtime_type,
        })),
        Err(e) => Ok(Answer::Unavailable(e.to_string())),
    })
}

/// Asks one engine. `None` when its CLI is not installed.
pub fn ask(engine: Engine, id: &str) -> Option<Result<Answer, EngineError>> {
    let mut cmd = Command::new(engine.program());
    cmd.args(engine.inspect_args(id))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Ok(Answer::Unavailable(e.to_string()))),
    };
    // Read both pipes on threads so a chatty CLI cannot block on a full pipe.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + INSPECT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    Some(match status {
        None => Ok(Answer::Unavailable(format!(
            "no answer within {} s",
            INSPECT_TIMEOUT.as_secs()
        ))),
        Some(st) if st.success() => parse_inspect(engine, id, &stdout).map(Answer::Found),
        Some(_) => Ok(classify_failure(&stderr)),
    })
}

/// Finds container `id`: with `engine` only that one, else the first of podman,
/// docker and the CRI (at `cri`) that knows it. An engine that cannot be asked is only
/// an error when no other engine knows the id.
pub fn find(
    id: &str,
    engine: Option<Engine>,
    cri: &EndpointChoice,
) -> Result<Inspected, EngineError> {
    if engine == Some(Engine::Cri) {
        // Asked alone, the CRI's own errors (no socket, not a CRI) keep their codes.
        let client = CriClient::open(cri)?;
        return match client.find_container(id)? {
            None => Err(EngineError::UnknownContainer {
                id: id.to_owned(),
                asked: format!("the CRI at {}", client.endpoint),
                example: Engine::Cri.list_hint(),
            }),
            Some(found) if found.pid <= 0 => Err(EngineError::NotRunning {
                id: id.to_owned(),
                engine: Engine::Cri,
            }),
            Some(found) => Ok(Inspected {
                engine: Engine::Cri,
                id: found.container.id,
                pid: found.pid,
                runtime_name: found.runtime_type,
            }),
        };
    }
    let engines: Vec<Engine> = match engine {
        Some(e) => vec![e],
        None => Engine::ALL.to_vec(),
    };
    let mut asked = Vec::new();
    let mut unavailable = None;
    for e in engines {
        let answer = match e {
            Engine::Cri => ask_cri(id, cri),
            _ => ask(e, id),
        };
        let Some(answer) = answer else {
            if engine.is_some() {
                return Err(EngineError::Unavailable {
                    not_known_to: String::new(),
                    engine: e,
                    id: id.to_owned(),
                    detail: format!("`{}` is not installed", e.program()),
                    hint: e.reach_hint(),
                });
            }
            continue;
        };
        asked.push(e);
        match answer? {
            Answer::Found(found) => return Ok(found),
            Answer::Unknown => {}
            Answer::Unavailable(detail) => {
                unavailable.get_or_insert((e, detail));
            }
        }
    }
    if let Some((engine, detail)) = unavailable {
        let others: Vec<&str> = asked
            .iter()
            .filter(|e| **e != engine)
            .map(|e| e.program())
            .collect();
        return Err(EngineError::Unavailable {
            not_known_to: if others.is_empty() {
                String::new()
            } else {
                format!("container '{id}' is not known to {}; ", others.join(" or "))
            },
            engine,
            id: id.to_owned(),
            detail,
            hint: engine.reach_hint(),
        });
    }
    let Some(first) = asked.first() else {
        return Err(EngineError::NoEngine);
    };
    Err(EngineError::UnknownContainer {
        id: id.to_owned(),
        asked: asked
            .iter()
            .map(|e| e.program())
            .collect::<Vec<_>>()
            .join(" or "),
        example: first.list_hint(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_podman_and_docker_answers() {
        let p = parse_inspect(
            Engine::Podman,
            "web",
            r#"[{"Id":"abc123","State":{"Pid":4242,"Running":true},"OCIRuntime":"crun"}]"#,
        )
        .expect("podman");
        assert_eq!((p.pid, p.id.as_str()), (4242, "abc123"));
        assert_eq!(p.runtime(), Runtime::Crun);
        let d = parse_inspect(
            Engine::Docker,
            "web",
            r#"[{"Id":"def","State":{"Pid":77},"HostConfig":{"Runtime":"runc"}}]"#,
        )
        .expect("docker");
        assert_eq!(d.runtime(), Runtime::Runc);
        assert!(matches!(
            parse_inspect(Engine::Cri, "f00", "{}"),
            Err(EngineError::Malformed { .. })
        ));
    }

    #[test]
    fn stopped_unknown_runtime_and_garbage() {
        assert!(matches!(
            parse_inspect(Engine::Docker, "x", r#"[{"Id":"x","State":{"Pid":0}}]"#),
            Err(EngineError::NotRunning { .. })
        ));
        let y = parse_inspect(
            Engine::Docker,
            "y",
            r#"[{"Id":"y","State":{"Pid":5},"HostConfig":{"Runtime":"kata"}}]"#,
        )
        .expect("kata");
        assert_eq!(y.runtime(), Runtime::Any);
        for bad in ["", "[]", "{", r#"[{"Id":"z"}]"#] {
            assert!(
                matches!(
                    parse_inspect(Engine::Podman, "z", bad),
                    Err(EngineError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_is_told_from_unreachable() {
        assert_eq!(
            classify_failure("Error: No such container: nope\n"),
            Answer::Unknown
        );
        assert_eq!(
            classify_failure(
                "Error: no container with name or ID \"nope\" found: no such container\n"
            ),
            Answer::Unknown
        );
        assert_eq!(
            classify_failure("Error response from daemon: No such object: nope"),
            Answer::Unknown
        );
        assert!(matches!(
            classify_failure("Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n"),
            Answer::Unavailable(l) if l.contains("Cannot connect")
        ));
        assert!(matches!(classify_failure(""), Answer::Unavailable(_)));
    }

    #[test]
    fn exit_codes_differ_per_cause() {
        let unknown = EngineError::UnknownContainer {
            id: "x".into(),
            asked: "podman".into(),
            example: Engine::Podman.list_hint(),
        };
        let down = EngineError::Unavailable {
            not_known_to: String::new(),
            engine: Engine::Docker,
            id: "x".into(),
            detail: "down".into(),
            hint: Engine::Docker.reach_hint(),
        };
        assert_ne!(unknown.category().code(), down.category().code());
    }
}
