//! What a recorded pod container is, for the node agent (pure): its workload (the
//! owner of the replicas: namespace + pod name without the ReplicaSet / Job suffix, or
//! an explicit annotation), whether it is selected, the container id in a cgroup name,
//! and names safe to use as path components.

use std::collections::HashMap;

/// Pod annotation that selects a pod for the agent (`"true"`).
pub const RECORD_ANNOTATION: &str = "seccomp-recorder.io/record";
/// Pod annotation naming the workload explicitly (replicas share it).
pub const WORKLOAD_ANNOTATION: &str = "seccomp-recorder.io/workload";
/// Pod annotation asking for the variants of each recorded call (`"true"`), like
/// `record --portable` and the hook's `seccomp-recorder.io/portable`.
pub const PORTABLE_ANNOTATION: &str = "seccomp-recorder.io/portable";
/// The label the ReplicaSet controller puts on its pods (Deployments).
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The labels the Job controller puts on its pods.
pub const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// Whether the pod's annotations ask for a recording.
pub fn selected(annotations: &HashMap<String, String>) -> bool {
    annotations
        .get(RECORD_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether the pod's annotations ask for a portable profile (`"true"`; anything else
/// is no).
pub fn portable(annotations: &HashMap<String, String>) -> bool {
    annotations
        .get(PORTABLE_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Why a name cannot be a path component of the output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} '{value}' is not a usable name (1 to 253 of a-z A-Z 0-9 . _ -, not starting with '.')"
)]
pub struct NameError {
    /// What the name is ("workload", "namespace", "container").
    pub what: &'static str,
    /// The name.
    pub value: String,
}

/// `value` if it is safe as one path component: Kubernetes names (DNS labels and
/// subdomains) always are; anything with a slash, `..`, a leading dot or odd bytes
/// (a hostile annotation) is refused.
pub fn path_name<'a>(what: &'static str, value: &'a str) -> Result<&'a str, NameError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(value)
    } else {
        Err(NameError {
            what,
            value: value.to_owned(),
        })
    }
}

/// The workload of a pod: the annotation, else the pod name without the ReplicaSet
/// suffix (`-<pod-template-hash>-<5 chars>`), else the Job's name, else the pod name
/// without a generated `-<5 chars>` suffix when a controller label says the name was
/// generated, else the pod name.
pub fn workload(
    pod_name: &str,
    labels: &HashMap<String, String>,
    annotations: &HashMap<String, String>,
) -> String {
    if let Some(w) = annotations
        .get(WORKLOAD_ANNOTATION)
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
    {
        return w.to_owned();
    }
    if let Some(hash) = labels.get(POD_TEMPLATE_HASH).filter(|h| !h.is_empty()) {
        if let Some(base) = strip_generated(pod_name)
            .and_then(|rest| rest.strip_suffix(hash.as_str()))
            .and_then(|rest| rest.strip_suffix('-'))
            .filter(|b| !b.is_empty())
        {
            return base.to_owned();
        }
    }
    if let Some(job) = JOB_NAME_LABELS
        .iter()
        .find_map(|l| labels.get(*l))
        .filter(|j| !j.is_empty())
    {
        return job.clone();
    }
    // DaemonSet pods: `controller-revision-hash` and a generated suffix.
    if labels.contains_key("controller-revision-hash")
        && !labels.contains_key("statefulset.kubernetes.io/pod-name")
    {
        if let Some(base) = strip_generated(pod_name).filter(|b| !b.is_empty()) {
            return base.to_owned();
        }
    }
    pod_name.to_owned()
}

/// `name` without its generated `-` + 5-character suffix (`web-x2b4q` → `web`), if it
/// has one (the API server's generateName alphabet: consonants and digits).
fn strip_generated(name: &str) -> Option<&str> {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let (rest, suffix) = name.split_at(name.len().checked_sub(5)?);
    if !suffix.bytes().all(|b| ALPHABET.contains(&b)) {
        return None;
    }
    rest.strip_suffix('-')
}

/// The container id in a container cgroup's directory name: containerd and CRI-O
/// with the cgroupfs driver use the id itself; with systemd,
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`.
pub fn container_id_of(dir_name: &str) -> Option<&str> {
    let trimmed = dir_name.strip_suffix(".scope").unwrap_or(dir_name);
    let id = ["cri-containerd-", "crio-", "docker-"]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p))
        .unwrap_or(trimmed);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn workloads_of_controllers() {
        let none = HashMap::new();
        let rs = map(&[(POD_TEMPLATE_HASH, "7d9f8b6c5d")]);
        assert_eq!(workload("api-7d9f8b6c5d-x2b4q", &rs, &none), "api");
        assert_eq!(workload("my-api-7d9f8b6c5d-x2b4q", &rs, &none), "my-api");
        // A hash that is not in the name: the name as it is.
        assert_eq!(workload("api-other-x2b4q", &rs, &none), "api-other-x2b4q");
        let job = map(&[("batch.kubernetes.io/job-name", "nightly")]);
        assert_eq!(workload("nightly-q7k2z", &job, &none), "nightly");
        let ds = map(&[("controller-revision-hash", "5f6d8")]);
        assert_eq!(workload("agent-zk4l8", &ds, &none), "agent");
        let sts = map(&[
            ("controller-revision-hash", "web-5f6d8"),
            ("statefulset.kubernetes.io/pod-name", "web-0"),
        ]);
        assert_eq!(workload("web-0", &sts, &none), "web-0");
        assert_eq!(workload("plain", &none, &none), "plain");
        let explicit = map(&[(WORKLOAD_ANNOTATION, " shop-api ")]);
        assert_eq!(workload("api-7d9f8b6c5d-x2b4q", &rs, &explicit), "shop-api");
    }

    #[test]
    fn selection_and_names() {
        assert!(selected(&map(&[(RECORD_ANNOTATION, "true")])));
        assert!(selected(&map(&[(RECORD_ANNOTATION, "True")])));
        assert!(!selected(&map(&[(RECORD_ANNOTATION, "yes")])));
        assert!(portable(&map(&[(PORTABLE_ANNOTATION, " TRUE ")])));
        assert!(!portable(&map(&[(PORTABLE_ANNOTATION, "no")])));
        assert!(!portable(&map(&[(RECORD_ANNOTATION, "true")])));
        assert!(!selected(&HashMap::new()));
        assert_eq!(path_name("workload", "api-v2.1_x"), Ok("api-v2.1_x"));
        for bad in ["", "..", ".hidden", "a/b", "../etc", "a b", "é"] {
            assert!(path_name("workload", bad).is_err(), "{bad:?}");
        }
        assert!(path_name("w", &"a".repeat(254)).is_err());
    }

    #[test]
    fn container_ids_in_cgroup_names() {
        let id = "8a0c3f".repeat(10) + "abcd";
        assert_eq!(container_id_of(&id), Some(id.as_str()));
        assert_eq!(
            container_id_of(&format!("cri-containerd-{id}.scope")),
            Some(id.as_str())
        );
        assert_eq!(
            container_id_of(&format!("crio-{id}.scope")),
            Some(id.as_str())
        );
        assert_eq!(container_id_of("crio-conmon-abc.scope"), None);
        assert_eq!(container_id_of("pod1234"), None);
    }
}
