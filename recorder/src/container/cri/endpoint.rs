//! Which CRI socket to ask (pure): `--cri-endpoint`, else `CONTAINER_RUNTIME_ENDPOINT`,
//! else the usual sockets of containerd, CRI-O and cri-dockerd, in crictl's order.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable crictl and the kubelet's tooling read.
pub const ENDPOINT_ENV: &str = "CONTAINER_RUNTIME_ENDPOINT";

/// The sockets tried when nothing names one, in order.
pub const DEFAULT_SOCKETS: [&str; 3] = [
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/cri-dockerd.sock",
];

/// A CRI endpoint: a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriEndpoint {
    /// The socket.
    pub socket: PathBuf,
}

impl fmt::Display for CriEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unix://{}", self.socket.display())
    }
}

/// Where the endpoint came from: it decides whether a missing socket is an error at
/// once (named by the user) or a reason to try the next default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChoice {
    /// Named by `--cri-endpoint` or the environment: only this one.
    Named {
        /// The endpoint.
        endpoint: CriEndpoint,
        /// "--cri-endpoint" or the variable's name.
        source: &'static str,
    },
    /// Nothing named one: the defaults, first that exists.
    Defaults(Vec<CriEndpoint>),
}

/// Why an endpoint string is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// A scheme other than unix (tcp, npipe) or no absolute path.
    #[error("CRI endpoint '{given}' from {source_name} is not a unix socket: give unix:///path/to/socket or an absolute path")]
    NotUnix {
        /// What was given.
        given: String,
        /// Where it came from.
        source_name: &'static str,
    },
}

/// Parses `unix:///run/x.sock` or `/run/x.sock` (pure).
pub fn parse(given: &str, source_name: &'static str) -> Result<CriEndpoint, EndpointError> {
    let path = given.strip_prefix("unix://").unwrap_or(given);
    if !path.starts_with('/') || path.contains('\0') {
        return Err(EndpointError::NotUnix {
            given: given.to_owned(),
            source_name,
        });
    }
    Ok(CriEndpoint {
        socket: Path::new(path).to_path_buf(),
    })
}

/// The endpoint(s) to ask: the flag, else the environment value (empty counts as
/// unset), else the defaults (pure).
pub fn choose(flag: Option<&str>, env: Option<&str>) -> Result<EndpointChoice, EndpointError> {
    if let Some(f) = flag {
        return Ok(EndpointChoice::Named {
            endpoint: parse(f, "--cri-endpoint")?,
            source: "--cri-endpoint",
        });
    }
    if let Some(e) = env.filter(|e| !e.trim().is_empty()) {
        return Ok(EndpointChoice::Named {
            endpoint: parse(e.trim(), ENDPOINT_ENV)?,
            source: ENDPOINT_ENV,
        });
    }
    Ok(EndpointChoice::Defaults(
        DEFAULT_SOCKETS
            .iter()
            .map(|s| CriEndpoint {
                socket: PathBuf::from(s),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_environment_beats_defaults() {
        let c = choose(Some("unix:///a.sock"), Some("unix:///b.sock")).expect("flag");
        assert!(
            matches!(&c, EndpointChoice::Named { endpoint, source: "--cri-endpoint" } if endpoint.socket == Path::new("/a.sock"))
        );
        let c = choose(None, Some("/b.sock")).expect("env");
        assert!(
            matches!(&c, EndpointChoice::Named { endpoint, source: ENDPOINT_ENV } if endpoint.socket == Path::new("/b.sock"))
        );
        let c = choose(None, Some("  ")).expect("blank env");
        let EndpointChoice::Defaults(list) = c else {
            panic!("defaults expected");
        };
        assert_eq!(list[0].socket, Path::new("/run/containerd/containerd.sock"));
        assert_eq!(list[1].socket, Path::new("/run/crio/crio.sock"));
        assert_eq!(
            list[0].to_string(),
            "unix:///run/containerd/containerd.sock"
        );
    }

    #[test]
    fn only_unix_sockets() {
        for bad in [
            "tcp://127.0.0.1:1234",
            "relative.sock",
            "unix://rel",
            "npipe:////./pipe/x",
        ] {
            let e = choose(Some(bad), None).expect_err(bad);
            assert!(e.to_string().contains("not a unix socket"), "{e}");
        }
        let e = choose(None, Some("tcp://x:1")).expect_err("env");
        assert!(e.to_string().contains(ENDPOINT_ENV), "{e}");
    }
}
