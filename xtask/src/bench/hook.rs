//! Benchmarks of the OCI hook: `hook prestart` / `hook poststop` wall time, and
//! `podman run --rm ... true` with and without recording.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::stats::{max, median, p90};
use crate::IsolatedState;

/// Runs of each hook measurement and of each podman configuration.
const MIN_RUNS: usize = 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A process parked in its own cgroup, standing in for a container's init at prestart.
struct FakeContainer {
    child: Child,
    cgroup: PathBuf,
}

impl FakeContainer {
    fn start(cgroup2: &Path, name: &str) -> Result<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .context("no cgroup v2 membership")?
            .trim()
            .trim_start_matches('/')
            .to_owned();
        let cgroup = cgroup2.join(rel).join(name);
        std::fs::create_dir_all(&cgroup).with_context(|| format!("mkdir {}", cgroup.display()))?;
        let child = Command::new("sleep")
            .arg("3600")
            .stdout(Stdio::null())
            .spawn()
            .context("spawn sleep")?;
        std::fs::write(cgroup.join("cgroup.procs"), child.id().to_string())
            .context("move sleep into its cgroup")?;
        Ok(FakeContainer { child, cgroup })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..100 {
            if std::fs::remove_dir(&self.cgroup).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The OCI state a runtime passes the hook: with `pid` at prestart, without at poststop.
fn state_json(id: &str, pid: Option<u32>, output: Option<&str>) -> String {
    let mut state = serde_json::json!({
        "ociVersion": "1.0.2",
        "id": id,
        "status": if pid.is_some() { "created" } else { "stopped" },
        "bundle": "/",
        "annotations": {},
    });
    if let Some(pid) = pid {
        state["pid"] = pid.into();
    }
    if let Some(out) = output {
        state["annotations"]["seccomp-recorder.io/output"] = out.into();
    }
    state.to_string()
}

/// Runs `hook STAGE` with `state` on stdin; returns its wall time.
fn hook(
    bin: &Path,
    state: &IsolatedState,
    out_dir: &Path,
    stage: &str,
    json: &str,
) -> Result<(Duration, u64)> {
    let mut cmd = Command::new(bin);
    state.apply(&mut cmd);
    cmd.env("SECCOMP_RECORDER_LOG_FILE", out_dir.join("hook.log"))
        .args(["hook", "--output-dir"])
        .arg(out_dir)
        .arg(stage)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().context("spawn hook")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(json.as_bytes()).context("write state")?;
    }
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        e.read_to_end(&mut stderr)
            .context("read the hook's stderr")?;
    }
    // wait4 rather than wait: its rusage gives the hook's peak RSS.
    let (status, rss_kib) = loop {
        if let Some(done) = super::measure::try_reap(child.id())? {
            break done;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let took = start.elapsed();
    if !status.success() {
        bail!(
            "hook {stage} failed: {}",
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    Ok((took, rss_kib))
}

/// Wall times (ms) and peak RSS (KiB) of the hook runs.
struct HookTimes {
    prestart_warm: Vec<f64>,
    prestart_cold: Vec<f64>,
    poststop: Vec<f64>,
    prestart_warm_rss: Vec<f64>,
    prestart_cold_rss: Vec<f64>,
    poststop_rss: Vec<f64>,
}

fn hook_times(bin: &Path, work: &Path, runs: usize) -> Result<HookTimes> {
    let state = IsolatedState::new("bench-hook");
    let result = (|| {
        let out_dir = work.join("hook-profiles");
        std::fs::create_dir_all(&out_dir).context("mkdir output dir")?;
        let cg2 = crate::podman::cgroup2_mount()?;
        let mut times = HookTimes {
            prestart_warm: Vec::new(),
            prestart_cold: Vec::new(),
            poststop: Vec::new(),
            prestart_warm_rss: Vec::new(),
            prestart_cold_rss: Vec::new(),
            poststop_rss: Vec::new(),
        };
        // Another recording keeps the program attached: the common case in a suite.
        let mut other = Command::new(bin);
        state.apply(&mut other);
        let mut other = other
            .args(["record", "-o"])
            .arg(work.join("other.json"))
            .args(["--", "sleep", "3600"])
            .stdout(Stdio::null())
            .spawn()
            .context("start the background recording")?;
        std::thread::sleep(Duration::from_millis(300));
        for i in 0..runs.max(MIN_RUNS) {
            let c = FakeContainer::start(&cg2, &format!("sr-bench-hook-{i}"))?;
            let id = format!("benchhook{i}");
            let output = format!("{id}.json");
            let pre = state_json(&id, Some(c.pid()), Some(&output));
            let (t, rss) = hook(bin, &state, &out_dir, "prestart", &pre)?;
            times.prestart_warm.push(ms(t));
            times.prestart_warm_rss.push(rss as f64);
            drop(c);
            let post = state_json(&id, None, Some(&output));
            let (t, rss) = hook(bin, &state, &out_dir, "poststop", &post)?;
            times.poststop.push(ms(t));
            times.poststop_rss.push(rss as f64);
            ensure!(
                out_dir.join(format!("{id}.json")).exists(),
                "poststop wrote no profile"
            );
        }
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(other.id() as i32, libc::SIGTERM) };
        let _ = other.wait();
        // Cold: nothing pinned, the prestart loads the program first.
        for i in 0..runs.max(MIN_RUNS) {
            let mut unload = Command::new(bin);
            state.apply(&mut unload);
            let st = unload.arg("unload").status().context("unload")?;
            ensure!(st.success(), "unload failed");
            let c = FakeContainer::start(&cg2, &format!("sr-bench-cold-{i}"))?;
            let id = format!("benchcold{i}");
            let output = format!("{id}.json");
            let pre = state_json(&id, Some(c.pid()), Some(&output));
            let (t, rss) = hook(bin, &state, &out_dir, "prestart", &pre)?;
            times.prestart_cold.push(ms(t));
            times.prestart_cold_rss.push(rss as f64);
            drop(c);
            let post = state_json(&id, None, None);
            hook(bin, &state, &out_dir, "poststop", &post)?;
        }
        Ok(times)
    })();
    state.cleanup(bin);
    result
}

struct PodmanTimes {
    bare: Vec<f64>,
    recorded: Vec<f64>,
}

fn podman_times(bin: &Path, work: &Path, runs: usize) -> Result<PodmanTimes> {
    let podman = crate::podman::Podman::new()?;
    let state = IsolatedState::new("bench-podman");
    let result = (|| {
        let out_dir = work.join("podman-profiles");
        let mut install = Command::new(bin);
        let st = install
            .args(["install", "--hooks-dir"])
            .arg(&podman.hooks_dir)
            .arg("--bin-dir")
            .arg(podman.dir.join("bin"))
            .arg("--output-dir")
            .arg(&out_dir)
            .arg("--env")
            .arg(format!(
                "SECCOMP_RECORDER_BPF_DIR={}",
                state.bpf_dir.display()
            ))
            .arg("--env")
            .arg(format!(
                "SECCOMP_RECORDER_RUN_DIR={}",
                state.run_dir.display()
            ))
            .stdout(Stdio::null())
            .status()
            .context("install the hook")?;
        ensure!(st.success(), "install failed");
        let mut times = PodmanTimes {
            bare: Vec::new(),
            recorded: Vec::new(),
        };
        // One warm-up of each, then interleaved runs.
        for i in 0..=runs.max(MIN_RUNS) {
            let t = Instant::now();
            let out = podman.run_quiet(&[], &["true"])?;
            let bare = ms(t.elapsed());
            ensure!(out.status.success(), "podman run true failed");
            let ann = format!("seccomp-recorder.io/output=run-{i}.json");
            let t = Instant::now();
            let out = podman.run_quiet(&["--annotation", &ann], &["true"])?;
            let rec = ms(t.elapsed());
            ensure!(out.status.success(), "recorded podman run true failed");
            ensure!(
                out_dir.join(format!("run-{i}.json")).exists(),
                "no profile for run {i}"
            );
            if i > 0 {
                times.bare.push(bare);
                times.recorded.push(rec);
            }
        }
        Ok(times)
    })();
    state.cleanup(bin);
    result
}

/// Measures the hook and returns the markdown section.
pub fn section(bin: &Path, work: &Path, runs: usize) -> Result<String> {
    eprintln!("xtask: benchmarking hook prestart/poststop");
    let h = hook_times(bin, work, runs)?;
    eprintln!("xtask: benchmarking podman run with and without recording");
    let p = podman_times(bin, work, runs)?;
    let mut s = String::new();
    let _ = writeln!(s, "\n## OCI hook\n");
    let _ = writeln!(
        s,
        "`seccomp-recorder hook` run as a runtime runs it: state JSON on stdin, wall time from spawn to exit. \
         The \"container\" is a process parked in its own cgroup (what crun hands the hook at prestart). \
         Warm: another recording is active (program loaded and attached). Cold: the program is not pinned \
         (after `unload`), so prestart loads, pins and attaches it.\n"
    );
    let _ = writeln!(
        s,
        "| Measurement | runs | median | p90 | goal | result | peak RSS (median / max) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let rows: [(&str, &Vec<f64>, &Vec<f64>, f64); 3] = [
        (
            "`hook prestart`, another recording active",
            &h.prestart_warm,
            &h.prestart_warm_rss,
            10.0,
        ),
        (
            "`hook prestart`, program has to be loaded",
            &h.prestart_cold,
            &h.prestart_cold_rss,
            50.0,
        ),
        (
            "`hook poststop` (profile written)",
            &h.poststop,
            &h.poststop_rss,
            10.0,
        ),
    ];
    for (name, v, rss, goal) in rows {
        let m = median(v);
        let _ = writeln!(
            s,
            "| {name} | {} | {m:.2} ms | {:.2} ms | p50 ≤ {goal} ms | {} | {:.1} / {:.1} MiB |",
            v.len(),
            p90(v),
            if m <= goal {
                "PASS".to_owned()
            } else {
                format!("MISS by {:.1} ms", m - goal)
            },
            median(rss) / 1024.0,
            max(rss) / 1024.0,
        );
    }
    let _ = writeln!(
        s,
        "\nPeak RSS is `ru_maxrss` of `wait4` on the hook process (the hook does its work \
         and exits; nothing of it stays resident between prestart and poststop)."
    );
    let (b, r) = (median(&p.bare), median(&p.recorded));
    let ratio = r / b;
    let _ = writeln!(
        s,
        "\n`podman run --rm --network=none --rootfs BUSYBOX true`, private podman + crun set-up, runs interleaved:\n"
    );
    let _ = writeln!(s, "| Configuration | runs | median | p90 |");
    let _ = writeln!(s, "|---|---|---|---|");
    let _ = writeln!(
        s,
        "| without recording | {} | {b:.1} ms | {:.1} ms |",
        p.bare.len(),
        p90(&p.bare)
    );
    let _ = writeln!(
        s,
        "| recorded (annotation; prestart + poststop hooks, profile written) | {} | {r:.1} ms | {:.1} ms |",
        p.recorded.len(),
        p90(&p.recorded)
    );
    let _ = writeln!(
        s,
        "\nRatio of medians: {ratio:.3}× (goal ≤ 1.15×): {}.",
        if ratio <= 1.15 { "PASS" } else { "MISS" }
    );
    Ok(s)
}

/// `cargo xtask bench --hook-only`: builds the release binary and prints the section.
pub fn run_alone(runs: usize) -> Result<()> {
    ensure!(crate::is_root(), "the hook benchmark must run as root");
    crate::sh(Command::new("cargo").current_dir(crate::root()).args([
        "build",
        "--release",
        "-p",
        "seccomp-recorder",
    ]))?;
    let bin = crate::root().join("target/release/seccomp-recorder");
    let work = std::env::temp_dir().join(format!("xtask-bench-hook-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("cannot create the temp dir")?;
    let section = section(&bin, &work, runs);
    let _ = std::fs::remove_dir_all(&work);
    println!("{}", section?);
    Ok(())
}
