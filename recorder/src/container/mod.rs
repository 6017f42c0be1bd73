//! What a container runtime hands us: the OCI hook (`prestart` / `poststop`), the
//! annotations that ask for a recording, which runtime started the container, the
//! engines that find a running one (`record --container`), and `install`.

pub mod annotations;
pub mod cri;
pub mod engine;
pub mod install;
pub mod runtime;
