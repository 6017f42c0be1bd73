//! Finding a pod and its containers in what the CRI lists (pure): by the pod's name
//! and namespace (the kubelet's `io.kubernetes.pod.*` labels, else the sandbox
//! metadata), and by the container's name; reading the pid and runtime out of a
//! verbose status; the pod's cgroup from a container's.

use std::collections::HashMap;

#[cfg(feature = "cri")]
use k8s_cri::v1 as api;

/// The kubelet's labels on every sandbox and container it creates.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
/// The pod's namespace.
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// The container's name in the pod spec.
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// A pod sandbox as far as selection is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// The sandbox id.
    pub id: String,
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid (names its cgroup).
    pub uid: String,
    /// The runtime handler (RuntimeClass); empty means the runtime's default.
    pub runtime_handler: String,
    /// The sandbox is READY (its processes run).
    pub ready: bool,
}

impl PodRef {
    /// `namespace/name`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The runtime handler as people say it (`default` when empty).
    pub fn handler(&self) -> &str {
        if self.runtime_handler.is_empty() {
            "default"
        } else {
            &self.runtime_handler
        }
    }
}

/// One of the labels, else the metadata's value.
#[cfg(feature = "cri")]
fn label_or(labels: &HashMap<String, String>, key: &str, meta: Option<&str>) -> String {
    labels
        .get(key)
        .map(String::as_str)
        .or(meta)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(feature = "cri")]
impl From<&api::PodSandbox> for PodRef {
    fn from(p: &api::PodSandbox) -> Self {
        let meta = p.metadata.as_ref();
        PodRef {
            id: p.id.clone(),
            name: label_or(&p.labels, POD_NAME_LABEL, meta.map(|m| m.name.as_str())),
            namespace: label_or(
                &p.labels,
                POD_NAMESPACE_LABEL,
                meta.map(|m| m.namespace.as_str()),
            ),
            uid: meta.map(|m| m.uid.clone()).unwrap_or_default(),
            runtime_handler: p.runtime_handler.clone(),
            ready: p.state() == api::PodSandboxState::SandboxReady,
        }
    }
}

/// A container as far as selection is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    /// The container id.
    pub id: String,
    /// Its name in the pod.
    pub name: String,
    /// It is RUNNING.
    pub running: bool,
}

#[cfg(feature = "cri")]
impl From<&api::Container> for ContainerRef {
    fn from(c: &api::Container) -> Self {
        ContainerRef {
            id: c.id.clone(),
            name: label_or(
                &c.labels,
                CONTAINER_NAME_LABEL,
                c.metadata.as_ref().map(|m| m.name.as_str()),
            ),
            running: c.state() == api::ContainerState::ContainerRunning,
        }
    }
}

/// Why no single pod or container was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No pod of that name (in that namespace).
    #[error("no running pod '{name}'{} on {endpoint} (running pods: {})", in_namespace(.namespace), listing(.running))]
    UnknownPod {
        /// The name asked for.
        name: String,
        /// The namespace asked for.
        namespace: Option<String>,
        /// The CRI endpoint asked.
        endpoint: String,
        /// `namespace/name` of the running pods.
        running: Vec<String>,
    },
    /// The name matches pods in several namespaces.
    #[error("pod name '{name}' matches {} running pods: {}; add --namespace", .matches.len(), .matches.join(", "))]
    AmbiguousPod {
        /// The name asked for.
        name: String,
        /// `namespace/name` of each match.
        matches: Vec<String>,
    },
    /// No running container of that name in the pod.
    #[error("pod {pod} has no running container '{name}' (running: {})", listing(.running))]
    UnknownContainer {
        /// `namespace/name`.
        pod: String,
        /// The name asked for.
        name: String,
        /// The running containers' names.
        running: Vec<String>,
    },
    /// The pod runs no container but its sandbox.
    #[error("pod {pod} has no running container: start its containers, then record it")]
    NoContainer {
        /// `namespace/name`.
        pod: String,
    },
    /// The cgroup above a container is not the pod's own (the runtime does not give
    /// pods a cgroup of their own): recording it would record other pods too.
    #[error("the cgroup above the containers of pod {pod} is {parent}, which is not the pod's own (no 'pod' + its uid {uid} in the name): record one container with --container NAME")]
    NotPodCgroup {
        /// `namespace/name`.
        pod: String,
        /// The parent cgroup.
        parent: String,
        /// The pod uid.
        uid: String,
    },
}

fn in_namespace(ns: &Option<String>) -> String {
    ns.as_ref()
        .map(|n| format!(" in namespace '{n}'"))
        .unwrap_or_default()
}

fn listing(items: &[String]) -> String {
    const SHOWN: usize = 12;
    if items.is_empty() {
        return "none".to_owned();
    }
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// The one ready pod named `name` (in `namespace` when given).
pub fn find_pod<'p>(
    pods: &'p [PodRef],
    name: &str,
    namespace: Option<&str>,
    endpoint: &str,
) -> Result<&'p PodRef, SelectError> {
    let ready: Vec<&PodRef> = pods.iter().filter(|p| p.ready).collect();
    let matches: Vec<&PodRef> = ready
        .iter()
        .copied()
        .filter(|p| p.name == name && namespace.is_none_or(|ns| p.namespace == ns))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut running: Vec<String> = ready.iter().map(|p| p.qualified()).collect();
            running.sort();
            Err(SelectError::UnknownPod {
                name: name.to_owned(),
                namespace: namespace.map(str::to_owned),
                endpoint: endpoint.to_owned(),
                running,
            })
        }
        many => {
            let mut matches: Vec<String> = many.iter().map(|p| p.qualified()).collect();
            matches.sort();
            Err(SelectError::AmbiguousPod {
                name: name.to_owned(),
                matches,
            })
        }
    }
}

/// The running containers of `pod` to record: the one named, or all of them.
pub fn select_containers<'c>(
    pod: &PodRef,
    containers: &'c [ContainerRef],
    name: Option<&str>,
) -> Result<Vec<&'c ContainerRef>, SelectError> {
    let running: Vec<&ContainerRef> = containers.iter().filter(|c| c.running).collect();
    match name {
        Some(n) => match running.iter().find(|c| c.name == n) {
            Some(c) => Ok(vec![*c]),
            None => Err(SelectError::UnknownContainer {
                pod: pod.qualified(),
                name: n.to_owned(),
                running: running.iter().map(|c| c.name.clone()).collect(),
            }),
        },
        None if running.is_empty() => Err(SelectError::NoContainer {
            pod: pod.qualified(),
        }),
        None => Ok(running),
    }
}

/// The `info` JSON of a verbose ContainerStatus / PodSandboxStatus (containerd and
/// CRI-O both put it under the key `info`).
fn info_json(info: &HashMap<String, String>) -> Option<serde_json::Value> {
    serde_json::from_str(info.get("info")?).ok()
}

/// The pid of a container's (or sandbox's) init from a verbose status (`None` when
/// not reported or not running).
pub fn info_pid(info: &HashMap<String, String>) -> Option<i32> {
    let pid = info_json(info)?.get("pid")?.as_i64()?;
    i32::try_from(pid).ok().filter(|p| *p > 0)
}

/// The runtime a verbose status names: containerd's `runtimeType`
/// (`io.containerd.runc.v2`), else the OCI runtime CRI-O reports.
pub fn info_runtime(info: &HashMap<String, String>) -> Option<String> {
    let v = info_json(info)?;
    [
        "/runtimeType",
        "/runtimeSpec/annotations/io.kubernetes.cri-o.RuntimeHandler",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(serde_json::Value::as_str))
    .filter(|s| !s.is_empty())
    .map(str::to_owned)
}

/// The pod's cgroup: the parent of a container's cgroup (relative to the cgroup2
/// root), checked to be the pod's own: its last component names the pod uid (cgroupfs
/// driver `pod<uid>`, systemd driver `kubepods-…-pod<uid with _>.slice`).
pub fn pod_cgroup(container_cgroup: &str, pod: &PodRef) -> Result<String, SelectError> {
    let trimmed = container_cgroup.trim_end_matches('/');
    let parent = match trimmed.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((p, _)) => p.to_owned(),
    };
    let last = parent.rsplit('/').next().unwrap_or_default();
    let uid = pod.uid.as_str();
    let names_uid = !uid.is_empty()
        && (last.contains(&format!("pod{uid}"))
            || last.contains(&format!("pod{}", uid.replace('-', "_"))));
    if names_uid {
        Ok(parent)
    } else {
        Err(SelectError::NotPodCgroup {
            pod: pod.qualified(),
            parent,
            uid: uid.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(id: &str, ns: &str, name: &str, ready: bool) -> PodRef {
        PodRef {
            id: id.into(),
            name: name.into(),
            namespace: ns.into(),
            uid: format!("uid-{id}"),
            runtime_handler: String::new(),
            ready,
        }
    }

    #[test]
    fn pods_by_name_and_namespace() {
        let pods = [
            pod("1", "default", "web", true),
            pod("2", "shop", "web", true),
            pod("3", "default", "db", true),
            pod("4", "default", "old", false),
        ];
        assert_eq!(
            find_pod(&pods, "web", Some("shop"), "e").map(|p| &p.id),
            Ok(&"2".to_owned())
        );
        assert_eq!(
            find_pod(&pods, "db", None, "e").map(|p| &p.id),
            Ok(&"3".to_owned())
        );
        let amb = find_pod(&pods, "web", None, "e").expect_err("ambiguous");
        assert_eq!(
            amb.to_string(),
            "pod name 'web' matches 2 running pods: default/web, shop/web; add --namespace"
        );
        let unknown = find_pod(&pods, "old", None, "unix:///c.sock").expect_err("not ready");
        assert_eq!(
            unknown.to_string(),
            "no running pod 'old' on unix:///c.sock (running pods: default/db, default/web, shop/web)"
        );
        let unknown = find_pod(&pods, "web", Some("x"), "e").expect_err("ns");
        assert!(
            unknown.to_string().contains("in namespace 'x'"),
            "{unknown}"
        );
        assert!(find_pod(&[], "a", None, "e")
            .expect_err("empty")
            .to_string()
            .ends_with("(running pods: none)"));
    }

    #[test]
    #[cfg(feature = "cri")]
    fn labels_win_over_metadata() {
        let mut p = api::PodSandbox {
            id: "sb".into(),
            metadata: Some(api::PodSandboxMetadata {
                name: "meta-name".into(),
                uid: "u1".into(),
                namespace: "meta-ns".into(),
                attempt: 0,
            }),
            state: api::PodSandboxState::SandboxReady as i32,
            runtime_handler: "runc".into(),
            ..Default::default()
        };
        let r = PodRef::from(&p);
        assert_eq!(
            (r.name.as_str(), r.namespace.as_str(), r.ready),
            ("meta-name", "meta-ns", true)
        );
        assert_eq!(r.handler(), "runc");
        p.labels.insert(POD_NAME_LABEL.into(), "label-name".into());
        p.state = api::PodSandboxState::SandboxNotready as i32;
        let r = PodRef::from(&p);
        assert_eq!((r.name.as_str(), r.ready), ("label-name", false));
        let c = api::Container {
            id: "c".into(),
            metadata: Some(api::ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            state: api::ContainerState::ContainerRunning as i32,
            ..Default::default()
        };
        assert_eq!(
            ContainerRef::from(&c),
            ContainerRef {
                id: "c".into(),
                name: "app".into(),
                running: true
            }
        );
    }

    #[test]
    fn containers_of_a_pod() {
        let p = pod("1", "default", "web", true);
        let cs = [
            ContainerRef {
                id: "a".into(),
                name: "app".into(),
                running: true,
            },
            ContainerRef {
                id: "b".into(),
                name: "side".into(),
                running: true,
            },
            ContainerRef {
                id: "c".into(),
                name: "init".into(),
                running: false,
            },
        ];
        assert_eq!(select_containers(&p, &cs, None).map(|v| v.len()), Ok(2));
        assert_eq!(
            select_containers(&p, &cs, Some("side")).map(|v| v[0].id.clone()),
            Ok("b".to_owned())
        );
        assert_eq!(
            select_containers(&p, &cs, Some("init"))
                .expect_err("exited")
                .to_string(),
            "pod default/web has no running container 'init' (running: app, side)"
        );
        assert!(matches!(
            select_containers(&p, &cs[2..], None),
            Err(SelectError::NoContainer { .. })
        ));
    }

    #[test]
    fn verbose_info() {
        let mut info = HashMap::new();
        assert_eq!(info_pid(&info), None);
        info.insert(
            "info".to_owned(),
            r#"{"sandboxID":"s","pid":4242,"runtimeType":"io.containerd.runc.v2"}"#.to_owned(),
        );
        assert_eq!(info_pid(&info), Some(4242));
        assert_eq!(
            info_runtime(&info).as_deref(),
            Some("io.containerd.runc.v2")
        );
        info.insert("info".to_owned(), r#"{"pid":0}"#.to_owned());
        assert_eq!(info_pid(&info), None);
        info.insert("info".to_owned(), "not json".to_owned());
        assert_eq!((info_pid(&info), info_runtime(&info)), (None, None));
    }

    #[test]
    fn the_pod_cgroup_is_the_pods_own() {
        let mut p = pod("1", "default", "web", true);
        p.uid = "6b1f-22aa".into();
        assert_eq!(
            pod_cgroup("/kubepods/besteffort/pod6b1f-22aa/abc", &p),
            Ok("/kubepods/besteffort/pod6b1f-22aa".to_owned())
        );
        assert_eq!(
            pod_cgroup(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6b1f_22aa.slice/cri-containerd-abc.scope",
                &p
            ),
            Ok("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6b1f_22aa.slice".to_owned())
        );
        // containerd without a cgroup parent: /k8s.io/<id> holds every container.
        assert!(matches!(
            pod_cgroup("/k8s.io/abc", &p),
            Err(SelectError::NotPodCgroup { parent, .. }) if parent == "/k8s.io"
        ));
        assert!(matches!(
            pod_cgroup("/abc", &p),
            Err(SelectError::NotPodCgroup { .. })
        ));
        p.uid.clear();
        assert!(pod_cgroup("/kubepods/besteffort/pod/abc", &p).is_err());
    }
}
