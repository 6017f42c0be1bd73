//! `cargo xtask demo`: the whole story on this machine, with real tools.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{root, sh, IsolatedState};

fn step(title: &str) {
    eprintln!("\n==> {title}");
}

fn show_cmd(cmd: &Command) {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| {
            let s = a.to_string_lossy();
            if s.contains(' ') || s.contains(';') {
                format!("'{s}'")
            } else {
                s.into_owned()
            }
        })
        .collect();
    eprintln!("$ seccomp-recorder {}", args.join(" "));
}

/// Runs the recorder, echoing the command line; returns (exit code, stderr).
/// `seccomp-recorder enforce --profile PROFILE -- COMMAND...`.
fn enforce(
    state: &IsolatedState,
    bin: &Path,
    profile: &str,
    command: &[&str],
) -> Result<(i32, String)> {
    let mut args = vec!["enforce", "--profile", profile, "--"];
    args.extend_from_slice(command);
    recorder(state, bin, &args)
}

fn recorder(state: &IsolatedState, bin: &Path, args: &[&str]) -> Result<(i32, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    show_cmd(&cmd);
    state.apply(&mut cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{err}");
    Ok((out.status.code().unwrap_or(-1), err))
}

pub fn run() -> Result<()> {
    sh(Command::new("cargo").current_dir(root()).args([
        "build",
        "--release",
        "-p",
        "seccomp-recorder",
    ]))?;
    tell(&root().join("target/release/seccomp-recorder"))
}

/// The demo as a stage of `cargo xtask test`, with the binary the suite built (the
/// README's `cargo xtask demo` is then proven on every run, without a release build).
pub fn stage(bin: &Path) -> Result<crate::guest::Outcome> {
    tell(bin).map(|()| crate::guest::Outcome::Passed)
}

/// The whole story with `bin`, in a private pin and state directory, cleaned up after.
fn tell(bin: &Path) -> Result<()> {
    let work = tempfile_dir()?;
    let state = IsolatedState::new("demo");
    let result = story(&state, bin, &work);
    state.cleanup(bin);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("seccomp-recorder-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn story(state: &IsolatedState, bin: &Path, work: &Path) -> Result<()> {
    let profile = work.join("profile.json");
    let stats = work.join("stats.json");
    let p = profile.to_string_lossy().into_owned();
    let s = stats.to_string_lossy().into_owned();
    let workload = "echo hello from a recorded shell; ls / > /dev/null";

    step("Part 1 — one command, no container. 1. Record a real command (busybox sh) with the eBPF recorder");
    let (code, _) = recorder(
        state,
        bin,
        &[
            "record", "-o", &p, "--stats", &s, "--", "busybox", "sh", "-c", workload,
        ],
    )?;
    if code != 0 {
        bail!("recording failed with exit code {code}");
    }

    step("2. The recorded profile (default deny, only what the command used)");
    print!(
        "{}",
        std::fs::read_to_string(&profile).context("read profile")?
    );

    step("3. Exact counts per syscall (--stats), first lines");
    let stats_text = std::fs::read_to_string(&stats).context("read stats")?;
    for line in stats_text.lines().take(14) {
        println!("{line}");
    }

    step("4. Enforce the profile on the same command: it runs");
    let (code, _) = enforce(state, bin, &p, &["busybox", "sh", "-c", workload])?;
    if code != 0 {
        bail!("the recorded command failed under its own profile (exit {code})");
    }

    step("5. Something the recording never did (mkdir) is denied with the profile's errno");
    let target = work.join("not-allowed");
    let target_s = target.to_string_lossy().into_owned();
    let (code, err) = enforce(state, bin, &p, &["busybox", "mkdir", &target_s])?;
    if code == 0
        || target.exists()
        || !(err.contains("can't create directory") && err.contains("Function not implemented"))
    {
        bail!("mkdir was not denied with ENOSYS (exit {code})");
    }
    eprintln!(
        "\nmkdir was denied (ENOSYS) and {} does not exist.",
        target.display()
    );

    container_story(state, bin, work)?;

    step("Nothing stays attached to sys_enter once recording ended");
    let links = crate::output(Command::new("bpftool").args(["link", "list"])).unwrap_or_default();
    let ours = links
        .lines()
        .filter(|l| l.contains("raw_tracepoint"))
        .count();
    eprintln!("raw_tracepoint links attached now: {ours}");
    Ok(())
}

fn show_output(out: &std::process::Output) {
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

/// Part 2: the OCI hook with podman + crun, proven by enforcement.
fn container_story(state: &IsolatedState, bin: &Path, work: &Path) -> Result<()> {
    step("Part 2 — a container. 1. Install the hook into a private podman set-up");
    let podman = crate::podman::Podman::new()?;
    let out_dir = work.join("profiles");
    let (code, _) = recorder(
        state,
        bin,
        &[
            "install",
            "--hooks-dir",
            &podman.hooks_dir.to_string_lossy(),
            "--bin-dir",
            &podman.dir.join("bin").to_string_lossy(),
            "--output-dir",
            &out_dir.to_string_lossy(),
            "--env",
            &format!("SECCOMP_RECORDER_BPF_DIR={}", state.bpf_dir.display()),
            "--env",
            &format!("SECCOMP_RECORDER_RUN_DIR={}", state.run_dir.display()),
            "--env",
            &format!(
                "SECCOMP_RECORDER_LOG_FILE={}",
                work.join("hook.log").display()
            ),
        ],
    )?;
    if code != 0 {
        bail!("install failed ({code})");
    }

    step("2. Record a busybox container with the annotation");
    let profile = out_dir.join("busybox.json");
    let annotation = format!("io.containers.trace-syscall=of:{}", profile.display());
    // `id` makes the workload use geteuid, which busybox's mount also checks: so the
    // denial below comes from the mount syscall itself, not from a missing geteuid.
    let workload = [
        "sh",
        "-c",
        "echo hello from a container; id > /dev/null; ls / > /dev/null; cat /etc/hostname > /dev/null",
    ];
    let out = podman.run(&["--annotation", &annotation], &workload)?;
    show_output(&out);
    if !out.status.success() || !profile.exists() {
        bail!(
            "recording the container failed; hook log: {}",
            std::fs::read_to_string(work.join("hook.log")).unwrap_or_default()
        );
    }

    step("3. The container's profile (no mount, pivot_root, sethostname: runtime set-up is not recorded)");
    print!(
        "{}",
        std::fs::read_to_string(&profile).context("read profile")?
    );

    step("4. Run the same container enforced by it (podman defaults otherwise)");
    let seccomp = format!("seccomp={}", profile.display());
    let out = podman.run(&["--security-opt", &seccomp], &workload)?;
    show_output(&out);
    if !out.status.success() {
        bail!("the container failed under its own profile");
    }

    step("5. unshare, mount, nsenter: allowed without seccomp (control), denied by the profile");
    let attacks: [(&str, &[&str]); 3] = [
        ("unshare", &["unshare", "-n", "true"]),
        ("mount", &["mount", "-t", "tmpfs", "none", "/mnt"]),
        ("nsenter", &["nsenter", "-t", "1", "-n", "true"]),
    ];
    for (name, cmd) in attacks {
        let control = podman.run(
            &[
                "--cap-add",
                "SYS_ADMIN",
                "--security-opt",
                "seccomp=unconfined",
            ],
            cmd,
        )?;
        let enforced = podman.run(&["--cap-add", "SYS_ADMIN", "--security-opt", &seccomp], cmd)?;
        let err = String::from_utf8_lossy(&enforced.stderr).trim().to_owned();
        eprintln!(
            "{name}: unconfined exit {} | with the recorded profile exit {}: {err}",
            control.status.code().unwrap_or(-1),
            enforced.status.code().unwrap_or(-1)
        );
        if !control.status.success() {
            bail!("control failed: {name} should work with SYS_ADMIN and no seccomp");
        }
        if enforced.status.success() || !err.contains("Function not implemented") {
            bail!("{name} was not denied with ENOSYS by the recorded profile");
        }
    }
    Ok(())
}
