//! `cargo xtask bench-agent`: the node agent's memory and CPU while idle, while
//! recording long-running pods and while 110 pods start at once, through a private
//! containerd's CRI (tests/e2e/agent.rs `footprint`, an ignored test). The agent is the
//! image's binary (the static release build of `cargo xtask image`). Prints a markdown
//! table for docs/benchmarks.md; deploy/agent.yaml's resources follow it.

use anyhow::{bail, Result};

use crate::{cargo, root, IsolatedState};

/// Runs the footprint test with the release binary; `secs` per phase.
pub fn run(secs: u64) -> Result<()> {
    let binary = crate::image::static_binary()?;
    let state = IsolatedState::new("bench-agent");
    let command = format!(
        "SR_AGENT_BIN={} SR_FOOTPRINT_SECS={secs} cargo test -p seccomp-recorder --test e2e agent::footprint -- --ignored --nocapture",
        binary
            .strip_prefix(root())
            .unwrap_or(&binary)
            .display()
    );
    println!("bench-agent: {command}");
    let status = state
        .apply(&mut cargo())
        .args(["test", "-p", "seccomp-recorder", "--test", "e2e"])
        .args(["agent::footprint", "--", "--ignored", "--nocapture"])
        .env("SR_AGENT_BIN", &binary)
        .env("SR_FOOTPRINT_SECS", secs.to_string())
        .status();
    state.cleanup(&root().join("target/debug/seccomp-recorder"));
    if !status?.success() {
        bail!("the agent footprint run failed");
    }
    Ok(())
}
