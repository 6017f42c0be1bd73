//! The Kubernetes node API: a client of the CRI (container runtime interface) that
//! containerd and CRI-O serve on a unix socket, used to find pods and containers by
//! name (`record --pod`, `record --container --engine cri`) without crictl.
//!
//! The calls are gRPC (tonic) on a current-thread tokio runtime owned by the client:
//! the rest of the binary is synchronous, so each call blocks with a time bound. The
//! client is the `cri` feature (default on); without it ([`disabled`]) every attempt
//! to open one fails with [`CriError::NotBuilt`] and the node agent is left out.

#[cfg(feature = "cri")]
mod client;
#[cfg(not(feature = "cri"))]
mod disabled;
pub mod endpoint;
pub mod select;
pub mod workload;

#[cfg(feature = "cri")]
pub use client::{api, CriClient};
#[cfg(not(feature = "cri"))]
pub use disabled::CriClient;

pub use endpoint::{CriEndpoint, EndpointChoice, EndpointError};
use seccomp_profile::exit::{Categorized, Category};
pub use select::{ContainerRef, PodRef, SelectError};

/// Why the CRI could not be asked, or did not know what we asked for.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The endpoint given is not usable.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The socket named by the flag or the environment does not exist.
    #[error("no CRI socket at {endpoint} (from {named_by}): start the container runtime or correct {named_by}")]
    NoSocket {
        /// The endpoint.
        endpoint: CriEndpoint,
        /// Where it came from.
        named_by: &'static str,
    },
    /// None of the default sockets exists.
    #[error("no CRI socket found (tried {tried}): give --cri-endpoint or set CONTAINER_RUNTIME_ENDPOINT")]
    NoDefault {
        /// The sockets tried.
        tried: String,
    },
    /// The socket exists but nothing accepts connections on it.
    #[error(
        "cannot connect to the CRI at {endpoint}: {detail} (is the container runtime running?)"
    )]
    Connect {
        /// The endpoint.
        endpoint: CriEndpoint,
        /// What connecting said.
        detail: String,
    },
    /// Something answers on the socket, but not the CRI's runtime service.
    #[error("{endpoint} does not serve the CRI (runtime.v1.RuntimeService): {detail}; point --cri-endpoint at containerd's or CRI-O's socket")]
    NotCri {
        /// The endpoint.
        endpoint: CriEndpoint,
        /// What it answered.
        detail: String,
    },
    /// A call failed.
    #[error("CRI {call} on {endpoint} failed: {detail}")]
    Call {
        /// The call (`ListPodSandbox`).
        call: &'static str,
        /// The endpoint.
        endpoint: CriEndpoint,
        /// The status.
        detail: String,
        /// The runtime said the object does not exist.
        not_found: bool,
    },
    /// The async runtime could not be started.
    #[error("cannot start the CRI client's runtime")]
    Runtime(#[source] std::io::Error),
    /// No single pod or container matched.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// This binary was built without the CRI client (the `cri` feature).
    #[error("this build of seccomp-recorder has no CRI client (built without the cri feature)")]
    NotBuilt,
}

impl Categorized for CriError {
    fn category(&self) -> Category {
        match self {
            CriError::Endpoint(_) => Category::Usage,
            CriError::NoSocket { .. } | CriError::NoDefault { .. } | CriError::Connect { .. } => {
                Category::Unavailable
            }
            CriError::NotCri { .. } => Category::Protocol,
            CriError::Call {
                not_found: true, ..
            } => Category::UnknownContainer,
            CriError::Call { .. } => Category::Unavailable,
            CriError::Runtime(_) => Category::Internal,
            CriError::NotBuilt => Category::Unavailable,
            CriError::Select(e) => match e {
                SelectError::AmbiguousPod { .. } => Category::Ambiguous,
                SelectError::UnknownPod { .. }
                | SelectError::UnknownContainer { .. }
                | SelectError::NoContainer { .. } => Category::UnknownContainer,
                SelectError::NotPodCgroup { .. } => Category::BadInput,
            },
        }
    }
}

/// A container found through the CRI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriContainer {
    /// The container.
    pub container: ContainerRef,
    /// Its init's pid on this host.
    pub pid: i32,
    /// The runtime its verbose status names (`io.containerd.runc.v2`).
    pub runtime_type: Option<String>,
}

/// What `record --pod` records: a pod and the running containers chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSelection {
    /// The pod.
    pub pod: PodRef,
    /// The containers chosen (one with `--container`, else every running one).
    pub containers: Vec<CriContainer>,
    /// Every container of the pod was asked for (the pod's cgroup is recorded).
    pub whole_pod: bool,
    /// The CRI runtime that answered (`containerd v1.6.20`).
    pub runtime: String,
    /// The endpoint asked.
    pub endpoint: CriEndpoint,
}

/// The endpoint(s) to ask: `flag` (`--cri-endpoint`), else
/// `CONTAINER_RUNTIME_ENDPOINT`, else the default sockets.
pub fn choose_endpoint(flag: Option<&str>) -> Result<EndpointChoice, CriError> {
    let env = std::env::var(endpoint::ENDPOINT_ENV).ok();
    Ok(endpoint::choose(flag, env.as_deref())?)
}
