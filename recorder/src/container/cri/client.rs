//! The CRI client proper: tonic on a current-thread tokio runtime.

use std::error::Error as _;
use std::future::Future;
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{
    select, ContainerRef, CriContainer, CriEndpoint, CriError, EndpointChoice, PodRef,
    PodSelection, SelectError,
};

/// The generated CRI v1 API (messages and clients), for callers that drive a runtime
/// (the test harness creates pods with it).
pub use k8s_cri::v1 as api;

use api::image_service_client::ImageServiceClient;
use api::runtime_service_client::RuntimeServiceClient;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the first call (`Version`) may take: a socket that accepts but does not
/// speak gRPC (containerd's ttrpc socket) never answers.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// An error and its causes on one line (tonic's transport errors nest their reason).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// A status as one line: its code and message.
fn status_line(s: &tonic::Status) -> String {
    let msg = s.message();
    if msg.is_empty() {
        format!("{:?}", s.code())
    } else {
        format!("{:?}: {msg}", s.code())
    }
}

/// A connected CRI client: the runtime service (and the image service) on one socket.
pub struct CriClient {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    /// The endpoint it is connected to.
    pub endpoint: CriEndpoint,
    /// The runtime's name and version (`containerd v1.6.20`), from `Version`.
    pub runtime: String,
}

impl std::fmt::Debug for CriClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriClient")
            .field("endpoint", &self.endpoint)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl CriClient {
    /// Connects to the endpoint `choice` names (or the first default socket that
    /// exists) and checks with `Version` that it serves the CRI.
    pub fn open(choice: &EndpointChoice) -> Result<Self, CriError> {
        match choice {
            EndpointChoice::Named { endpoint, source } => {
                if !endpoint.socket.exists() {
                    return Err(CriError::NoSocket {
                        endpoint: endpoint.clone(),
                        named_by: source,
                    });
                }
                Self::connect(endpoint)
            }
            EndpointChoice::Defaults(list) => match list.iter().find(|e| e.socket.exists()) {
                Some(e) => Self::connect(e),
                None => Err(CriError::NoDefault {
                    tried: list
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            },
        }
    }

    /// Connects to one socket and asks its `Version`.
    pub fn connect(endpoint: &CriEndpoint) -> Result<Self, CriError> {
        let meta = std::fs::metadata(&endpoint.socket).map_err(|e| CriError::Connect {
            endpoint: endpoint.clone(),
            detail: e.to_string(),
        })?;
        if !meta.file_type().is_socket() {
            return Err(CriError::NotCri {
                endpoint: endpoint.clone(),
                detail: "not a unix socket".to_owned(),
            });
        }
        // A plain connect tells "nobody listens" from "something else answers".
        std::os::unix::net::UnixStream::connect(&endpoint.socket).map_err(|e| {
            CriError::Connect {
                endpoint: endpoint.clone(),
                detail: e.to_string(),
            }
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CriError::Runtime)?;
        let socket = endpoint.socket.clone();
        let not_cri = |detail: String| CriError::NotCri {
            endpoint: endpoint.clone(),
            detail,
        };
        // The URI is a placeholder: the connector below ignores it.
        let channel = rt
            .block_on(
                Endpoint::from_static("http://localhost")
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(CALL_TIMEOUT)
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let socket = socket.clone();
                        async move {
                            tokio::net::UnixStream::connect(socket)
                                .await
                                .map(TokioIo::new)
                        }
                    })),
            )
            .map_err(|e| not_cri(chain(&e)))?;
        let mut service = RuntimeServiceClient::new(channel.clone());
        let version = rt
            .block_on(async {
                tokio::time::timeout(
                    VERSION_TIMEOUT,
                    service.version(api::VersionRequest {
                        version: "v1".to_owned(),
                    }),
                )
                .await
            })
            .map_err(|_| {
                not_cri(format!(
                    "no gRPC answer to Version within {} s",
                    VERSION_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|s| match s.code() {
                tonic::Code::DeadlineExceeded => CriError::Connect {
                    endpoint: endpoint.clone(),
                    detail: status_line(&s),
                },
                _ => not_cri(match s.source() {
                    Some(src) => format!("{}: {}", status_line(&s), chain(src)),
                    None => status_line(&s),
                }),
            })?
            .into_inner();
        Ok(CriClient {
            rt,
            channel,
            endpoint: endpoint.clone(),
            runtime: format!("{} {}", version.runtime_name, version.runtime_version),
        })
    }

    /// Runs a future of this client's calls to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The runtime service, for calls not wrapped here.
    pub fn runtime_service(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    /// The image service.
    pub fn image_service(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    fn call<T>(
        &self,
        call: &'static str,
        f: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, CriError> {
        self.rt
            .block_on(f)
            .map(tonic::Response::into_inner)
            .map_err(|s| CriError::Call {
                call,
                endpoint: self.endpoint.clone(),
                detail: status_line(&s),
                not_found: s.code() == tonic::Code::NotFound,
            })
    }

    /// Every pod sandbox the runtime knows (ready or not).
    pub fn pods(&self) -> Result<Vec<api::PodSandbox>, CriError> {
        let mut s = self.runtime_service();
        self.call(
            "ListPodSandbox",
            s.list_pod_sandbox(api::ListPodSandboxRequest { filter: None }),
        )
        .map(|r| r.items)
    }

    /// The containers of one pod sandbox (all of them with `None`).
    pub fn containers(&self, pod_id: Option<&str>) -> Result<Vec<api::Container>, CriError> {
        let mut s = self.runtime_service();
        let filter = pod_id.map(|id| api::ContainerFilter {
            pod_sandbox_id: id.to_owned(),
            ..Default::default()
        });
        self.call(
            "ListContainers",
            s.list_containers(api::ListContainersRequest { filter }),
        )
        .map(|r| r.containers)
    }

    /// A container's verbose status (its `info` names the init's pid and the runtime).
    pub fn container_status(&self, id: &str) -> Result<api::ContainerStatusResponse, CriError> {
        let mut s = self.runtime_service();
        self.call(
            "ContainerStatus",
            s.container_status(api::ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: true,
            }),
        )
    }
}

impl CriClient {
    /// Finds pod `name` (in `namespace`) and its running containers (only `container`
    /// when given), each with its init's pid.
    pub fn select_pod(
        &self,
        name: &str,
        namespace: Option<&str>,
        container: Option<&str>,
    ) -> Result<PodSelection, CriError> {
        let pods: Vec<PodRef> = self.pods()?.iter().map(PodRef::from).collect();
        let pod = select::find_pod(&pods, name, namespace, &self.endpoint.to_string())?.clone();
        let listed: Vec<ContainerRef> = self
            .containers(Some(&pod.id))?
            .iter()
            .map(ContainerRef::from)
            .collect();
        let chosen = select::select_containers(&pod, &listed, container)?;
        let mut containers = Vec::new();
        for c in chosen {
            let status = self.container_status(&c.id)?;
            // A container that stopped between the list and now is not recorded.
            let Some(pid) = select::info_pid(&status.info) else {
                if container.is_some() {
                    return Err(SelectError::UnknownContainer {
                        pod: pod.qualified(),
                        name: c.name.clone(),
                        running: Vec::new(),
                    }
                    .into());
                }
                continue;
            };
            containers.push(CriContainer {
                container: c.clone(),
                pid,
                runtime_type: select::info_runtime(&status.info),
            });
        }
        if containers.is_empty() {
            return Err(SelectError::NoContainer {
                pod: pod.qualified(),
            }
            .into());
        }
        Ok(PodSelection {
            pod,
            containers,
            whole_pod: container.is_none(),
            runtime: self.runtime.clone(),
            endpoint: self.endpoint.clone(),
        })
    }

    /// Finds one container by id (or unique id prefix): `Ok(None)` when the runtime
    /// does not know it.
    pub fn find_container(&self, id: &str) -> Result<Option<CriContainer>, CriError> {
        let status = match self.container_status(id) {
            Ok(s) => s,
            Err(CriError::Call {
                not_found: true, ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let name = status
            .status
            .as_ref()
            .map(|s| ContainerRef {
                id: s.id.clone(),
                name: s
                    .metadata
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
                running: s.state() == api::ContainerState::ContainerRunning,
            })
            .unwrap_or(ContainerRef {
                id: id.to_owned(),
                name: String::new(),
                running: false,
            });
        Ok(Some(CriContainer {
            pid: select::info_pid(&status.info).unwrap_or(0),
            runtime_type: select::info_runtime(&status.info),
            container: name,
        }))
    }
}
