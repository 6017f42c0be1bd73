//! Without the `cri` feature: a client that cannot be opened, so that `record --pod`,
//! `--engine cri` and `--container` keep their shape and say why they cannot ask.

use std::convert::Infallible;

use super::{CriContainer, CriEndpoint, CriError, EndpointChoice, PodSelection};

/// Stands in for the CRI client; never constructed.
#[derive(Debug)]
pub struct CriClient {
    /// The endpoint it would be connected to.
    pub endpoint: CriEndpoint,
    /// The runtime's name and version.
    pub runtime: String,
    never: Infallible,
}

impl CriClient {
    /// Always [`CriError::NotBuilt`].
    pub fn open(_choice: &EndpointChoice) -> Result<Self, CriError> {
        Err(CriError::NotBuilt)
    }

    /// Unreachable: no client exists.
    pub fn select_pod(
        &self,
        _name: &str,
        _namespace: Option<&str>,
        _container: Option<&str>,
    ) -> Result<PodSelection, CriError> {
        match self.never {}
    }

    /// Unreachable: no client exists.
    pub fn find_container(&self, _id: &str) -> Result<Option<CriContainer>, CriError> {
        match self.never {}
    }
}
