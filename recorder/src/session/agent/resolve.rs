//! Who a claimed cgroup is: the cgroup's directory below a watch, the container id in
//! its name, and what the CRI says of the container and its pod.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use crate::container::annotations::{self, AnnotationError};
use crate::container::cri::{api, select, workload, CriClient, CriError};
use seccomp_profile::profile::DefaultErrno;
use seccomp_profile::report::PodRecorded;

/// What the agent does with a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Record it: a container of a selected pod.
    Record {
        /// The container id.
        container_id: String,
        /// The pod and container, for the report and the output path.
        pod: Box<PodRecorded>,
        /// What the pod's annotations ask for.
        options: PodOptions,
    },
    /// Not a container of a selected pod (a sandbox, an unselected pod, not a
    /// container's cgroup at all).
    Ignore(String),
    /// A container of a selected pod that cannot be recorded (a name that cannot be a
    /// path, a bad annotation): said, not recorded.
    Refuse(String),
    /// The CRI does not know the container yet (it is being created): ask again.
    NotYet,
}

/// The recording options a selected pod's annotations give (the hook's annotations,
/// read from the pod sandbox status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PodOptions {
    /// `seccomp-recorder.io/errno`; the agent's `--default-errno` when unset.
    pub errno: Option<DefaultErrno>,
    /// `seccomp-recorder.io/args`: argument rules for the calls that have them.
    pub args: bool,
}

impl PodOptions {
    /// The options of a pod's annotations.
    pub fn of(annotations: &HashMap<String, String>) -> Result<PodOptions, AnnotationError> {
        Ok(PodOptions {
            errno: annotations::errno_of(annotations)?,
            args: annotations::args_of(annotations)?,
        })
    }
}

/// Every cgroup directory exactly `depth` levels below each of `watched`, by id.
pub fn index_dirs(watched: &[(PathBuf, u32)]) -> std::collections::HashMap<u64, PathBuf> {
    fn walk(dir: &Path, left: u32, out: &mut std::collections::HashMap<u64, PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if left == 1 {
                if let Ok(m) = e.metadata() {
                    out.insert(m.ino(), e.path());
                }
            } else {
                walk(&e.path(), left - 1, out);
            }
        }
    }
    let mut out = std::collections::HashMap::new();
    for (dir, depth) in watched {
        walk(dir, *depth, &mut out);
    }
    out
}

/// Asks the CRI about the container whose cgroup is (or was) `dir`: only its name is
/// used, so a container that ended meanwhile is still told apart. `sandboxes` are the pod
/// sandbox ids the CRI lists (a sandbox's own cgroup is never recorded).
pub fn decide(client: &CriClient, dir: &Path, sandboxes: &[String]) -> Result<Decision, CriError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(id) = workload::container_id_of(&name) else {
        return Ok(Decision::Ignore(format!(
            "{name} is not a container's cgroup"
        )));
    };
    if sandboxes.iter().any(|s| s == id) {
        return Ok(Decision::Ignore(format!("{id} is a pod sandbox")));
    }
    let mut rs = client.runtime_service();
    let listed = client
        .block_on(rs.list_containers(api::ListContainersRequest {
            filter: Some(api::ContainerFilter {
                id: id.to_owned(),
                ..Default::default()
            }),
        }))
        .map_err(|s| CriError::Call {
            call: "ListContainers",
            endpoint: client.endpoint.clone(),
            detail: s.message().to_owned(),
            not_found: false,
        })?
        .into_inner()
        .containers;
    let Some(container) = listed.into_iter().find(|c| c.id == id) else {
        return Ok(Decision::NotYet);
    };
    let status = client
        .block_on(rs.pod_sandbox_status(api::PodSandboxStatusRequest {
            pod_sandbox_id: container.pod_sandbox_id.clone(),
            verbose: false,
        }))
        .map_err(|s| CriError::Call {
            call: "PodSandboxStatus",
            endpoint: client.endpoint.clone(),
            detail: s.message().to_owned(),
            not_found: s.code() == tonic::Code::NotFound,
        })?
        .into_inner()
        .status
        .unwrap_or_default();
    if !workload::selected(&status.annotations) {
        return Ok(Decision::Ignore(format!("{id}: its pod is not selected")));
    }
    let pod = select::PodRef::from(&api::PodSandbox {
        id: status.id.clone(),
        metadata: status.metadata.clone(),
        state: status.state,
        labels: status.labels.clone(),
        runtime_handler: status.runtime_handler.clone(),
        ..Default::default()
    });
    let container_ref = select::ContainerRef::from(&container);
    let workload_name = workload::workload(&pod.name, &status.labels, &status.annotations);
    for (what, v) in [
        ("namespace", pod.namespace.as_str()),
        ("workload", workload_name.as_str()),
        ("container", container_ref.name.as_str()),
    ] {
        if let Err(e) = workload::path_name(what, v) {
            return Ok(Decision::Refuse(format!("{id}: {e}")));
        }
    }
    let options = match PodOptions::of(&status.annotations) {
        Ok(o) => o,
        Err(e) => {
            return Ok(Decision::Refuse(format!(
                "{id} of pod {}/{}: {e}",
                pod.namespace, pod.name
            )))
        }
    };
    let runtime_type = client
        .container_status(id)
        .ok()
        .and_then(|s| select::info_runtime(&s.info));
    Ok(Decision::Record {
        container_id: id.to_owned(),
        pod: Box::new(PodRecorded {
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            uid: pod.uid.clone(),
            containers: vec![container_ref.name],
            whole_pod: false,
            runtime_handler: pod.handler().to_owned(),
            runtime_type,
            cri: format!("{} at {}", client.runtime, client.endpoint),
            workload: Some(workload_name),
            portable: workload::portable(&status.annotations),
        }),
        options,
    })
}

/// The pod sandbox ids the CRI lists.
pub fn sandbox_ids(client: &CriClient) -> Result<Vec<String>, CriError> {
    Ok(client.pods()?.into_iter().map(|p| p.id).collect())
}
