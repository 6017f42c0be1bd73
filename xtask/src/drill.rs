//! `cargo xtask drill [NAME]`: the long runs of what the test suite only samples.
//! Each drill prints the command it runs and its result, for docs/reliability.md.
//! `cargo xtask test` runs none of them.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, root};

/// One drill.
struct Drill {
    name: &'static str,
    about: &'static str,
    run: fn() -> Result<()>,
}

const DRILLS: [Drill; 4] = [
    Drill {
        name: "load",
        about: "tests/load.rs with 64 containers recorded at once (own marker each, exact) and 1,000 sequential recordings (root, podman)",
        run: load,
    },
    Drill {
        name: "fuzz",
        about: "tests/e2e/hostile/ with PROPTEST_CASES=20000 (the suite runs 256): every parser of hostile input, no root needed",
        run: fuzz,
    },
    Drill {
        name: "agent",
        about: "the node agent with 110 pods started at once through a private containerd's CRI (the kubelet's maximum), each recorded exactly (root, containerd)",
        run: agent,
    },
    Drill {
        name: "tails",
        about: "xtask/drills/measure-tails.sh 30: what each runtime calls after loading the filter (root, podman, runc, Docker)",
        run: tails,
    },
];

/// Cases per property of the fuzz drill, unless `PROPTEST_CASES` says otherwise.
const FUZZ_CASES: &str = "20000";

/// Runs the drill `name`, or lists the drills.
pub fn run(name: Option<&str>) -> Result<()> {
    let Some(name) = name else {
        println!("drills (cargo xtask drill NAME):");
        for d in &DRILLS {
            println!("  {:<6} {}", d.name, d.about);
        }
        return Ok(());
    };
    let Some(drill) = DRILLS.iter().find(|d| d.name == name) else {
        let names: Vec<&str> = DRILLS.iter().map(|d| d.name).collect();
        bail!("no drill named '{name}' (drills: {})", names.join(", "));
    };
    (drill.run)()
}

/// Runs `cmd`, printing it first and its outcome and duration after; `each_line` sees
/// every line of its stdout (which is passed through).
fn timed(
    label: &str,
    cmd: &mut Command,
    mut each_line: impl FnMut(&str),
) -> Result<std::process::ExitStatus> {
    use std::io::{BufRead, BufReader};
    println!("drill: running {label}");
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.context("read the drill's output")?;
            println!("{line}");
            each_line(&line);
        }
    }
    let status = child.wait().context("wait for the drill")?;
    println!(
        "drill: {label}: {status} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(status)
}

/// `cargo test -p seccomp-recorder --test e2e FILTER`.
fn e2e(filter: &str) -> Command {
    let mut c = cargo();
    c.args(["test", "-p", "seccomp-recorder", "--test", "e2e", filter]);
    c
}

fn fuzz() -> Result<()> {
    let cases = std::env::var("PROPTEST_CASES").unwrap_or_else(|_| FUZZ_CASES.to_owned());
    let label =
        format!("PROPTEST_CASES={cases} cargo test -p seccomp-recorder --test e2e hostile::");
    let mut summary = Vec::new();
    let status = timed(
        &label,
        e2e("hostile::").env("PROPTEST_CASES", &cases),
        |line| {
            let failed = line.starts_with("test ") && line.ends_with("FAILED");
            let why = ["Test failed:", "Test aborted:", "minimal failing input"]
                .iter()
                .any(|w| line.contains(w));
            if failed || why || line.starts_with("test result:") {
                // Failure messages quote their input, which can be megabytes.
                summary.push(line.chars().take(300).collect::<String>());
            }
        },
    )?;
    println!("drill fuzz: {cases} cases per property");
    for line in &summary {
        println!("drill fuzz: {line}");
    }
    if !status.success() {
        bail!("the fuzz drill found failures (minimal inputs above)");
    }
    Ok(())
}

fn tails() -> Result<()> {
    crate::setup()?;
    let script = root().join("xtask/drills/measure-tails.sh");
    let status = timed(
        "xtask/drills/measure-tails.sh 30",
        Command::new("bash")
            .arg(&script)
            .arg("30")
            .current_dir(root()),
        |_| {},
    )?;
    if !status.success() {
        bail!("measure-tails.sh failed with {status}");
    }
    println!("drill tails: done (docs/runtime-tails.md lists what the tails should be)");
    Ok(())
}

fn agent() -> Result<()> {
    crate::setup()?;
    let state = crate::IsolatedState::new("drill");
    let label = "SR_AGENT_PODS=110 cargo test -p seccomp-recorder --test e2e agent::many_pods -- --nocapture";
    let status = timed(
        label,
        state
            .apply(&mut e2e("agent::many_pods"))
            .arg("--")
            .arg("--nocapture")
            .env("SR_AGENT_PODS", "110"),
        |_| {},
    );
    state.cleanup(&root().join("target/debug/seccomp-recorder"));
    if !status?.success() {
        bail!("the agent drill failed");
    }
    Ok(())
}

fn load() -> Result<()> {
    crate::setup()?;
    let state = crate::IsolatedState::new("drill");
    let label = "SR_LOAD_CONTAINERS=64 SR_LOAD_SEQUENTIAL=1000 cargo test -p seccomp-recorder --test e2e load:: -- --nocapture --test-threads 1";
    let status = timed(
        label,
        state
            .apply(&mut e2e("load::"))
            .arg("--")
            .args(["--nocapture", "--test-threads", "1"])
            .env("SR_LOAD_CONTAINERS", "64")
            .env("SR_LOAD_SEQUENTIAL", "1000"),
        |_| {},
    );
    state.cleanup(&root().join("target/debug/seccomp-recorder"));
    if !status?.success() {
        bail!("the load drill failed");
    }
    Ok(())
}
