//! `cargo xtask bench-agent`: the node agent's memory and CPU while idle, while
//! recording long-running pods and while 110 pods start at once, through a private
//! containerd's CRI (tests/e2e/agent.rs `footprint`, an ignored test). The agent is the
//! image's binary (the static release build of `cargo xtask image`). Writes the
//! section [`HEADING`] of docs/benchmarks.md (which `cargo xtask bench` keeps when it
//! rewrites the file) and prints it; deploy/agent.yaml's resources follow it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, IsolatedState};

/// The section's heading in docs/benchmarks.md.
pub const HEADING: &str = "## The node agent";

/// Runs the footprint test with the release binary; `secs` per phase.
pub fn run(secs: u64) -> Result<()> {
    let binary = crate::image::static_binary()?;
    let state = IsolatedState::new("bench-agent");
    let shown = binary.strip_prefix(root()).unwrap_or(&binary).display();
    let command = format!(
        "SR_AGENT_BIN={shown} SR_FOOTPRINT_SECS={secs} cargo test -p seccomp-recorder --test e2e agent::footprint -- --ignored --nocapture"
    );
    println!("bench-agent: {command}");
    let result = (|| -> Result<Vec<String>> {
        let mut child = state
            .apply(&mut cargo())
            .args(["test", "-p", "seccomp-recorder", "--test", "e2e"])
            .args(["agent::footprint", "--", "--ignored", "--nocapture"])
            .env("SR_AGENT_BIN", &binary)
            .env("SR_FOOTPRINT_SECS", secs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start cargo test")?;
        let mut table = Vec::new();
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines() {
                let line = line.context("read the test's output")?;
                println!("{line}");
                if line.starts_with('|') {
                    table.push(line);
                }
            }
        }
        if !child.wait().context("wait for cargo test")?.success() {
            bail!("the agent footprint run failed");
        }
        Ok(table)
    })();
    state.cleanup(&root().join("target/debug/seccomp-recorder"));
    let table = result?;
    if table.len() < 3 {
        bail!("the footprint run printed no table");
    }
    let section = format!(
        "{HEADING}\n\n`cargo xtask bench-agent --secs {secs}` ({command}): the agent (the image's static release binary, default `--poll`, `--flush-every 10s`) against a private containerd 1.6 CRI, sampled every 100 ms (RSS from /proc/PID/status, CPU from utime + stime over the phase; 1000m = one CPU). The long-running pods each run a shell loop (`ls`, `cat`, `sleep 0.05`); the 110 pods each make their own count of `getcpu` and exit, started from 8 threads.\n\n{}\n\ndeploy/agent.yaml requests `cpu: 50m` and `memory: 32Mi` and limits `memory: 128Mi` after these figures.\n",
        table.join("\n")
    );
    let path = root().join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, with_section(&doc, &section))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("\n{section}");
    eprintln!("xtask: wrote the agent section of {}", path.display());
    Ok(())
}

/// The node agent's section of a benchmarks document (up to the next `## ` heading),
/// if it has one.
pub fn section_of(doc: &str) -> Option<&str> {
    let start = doc.find(&format!("\n{HEADING}\n"))? + 1;
    let end = doc[start + HEADING.len()..]
        .find("\n## ")
        .map(|e| start + HEADING.len() + e + 1)
        .unwrap_or(doc.len());
    Some(&doc[start..end])
}

/// `doc` with its agent section replaced by `section` (appended when it has none).
pub fn with_section(doc: &str, section: &str) -> String {
    let section = section.trim_end();
    match section_of(doc) {
        Some(old) if doc.ends_with(old) => doc.replacen(old, &format!("{section}\n"), 1),
        Some(old) => doc.replacen(old, &format!("{section}\n\n"), 1),
        None => format!("{}\n\n{section}\n", doc.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_in_place_or_appended() {
        let new = format!("{HEADING}\n\nnew\n");
        let doc = format!("# B\n\n## A\n\na\n\n{HEADING}\n\nold\n\n## C\n\nc\n");
        assert_eq!(
            with_section(&doc, &new),
            format!("# B\n\n## A\n\na\n\n{HEADING}\n\nnew\n\n## C\n\nc\n")
        );
        let last = format!("# B\n\n{HEADING}\n\nold\n");
        assert_eq!(with_section(&last, &new), format!("# B\n\n{new}"));
        assert_eq!(with_section("# B\n", &new), format!("# B\n\n{new}"));
        assert_eq!(section_of("# B\n"), None);
    }
}
