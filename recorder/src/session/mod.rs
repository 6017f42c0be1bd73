//! A recording from start to profile: `record -- CMD` and attaching to a running
//! cgroup, the state file of each active recording, starting the command inside its
//! cgroup, and the one finish step that turns saved counts into files.

#[cfg(feature = "cri")]
pub mod agent;
pub mod finish;
pub mod gc;
pub mod hook;
pub mod progress;
pub mod record;
pub mod spawn;
pub mod state;
