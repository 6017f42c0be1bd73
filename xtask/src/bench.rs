//! `cargo xtask bench`: what recording costs on this machine, written to
//! `docs/benchmarks.md` and printed.
//!
//! - Per-syscall cost: a static, libc-free loop of `getppid` pinned to one CPU, timed by
//!   the program itself (`clock_gettime` right before and after the loop), in five
//!   configurations interleaved round-robin in the same run: bare, the empty program on
//!   `sys_enter` (the floor), ours with a recording active elsewhere (outside), ours
//!   recording the loop (inside), and ours pinned but idle after the recordings ended.
//! - `record -- true` latency, warm (program pinned) and cold (after `unload`).
//! - The loop and a busy shell workload under `strace -f -c` for comparison.
//!
//! The empty program comes from the recorder library, which needs the eBPF toolchain
//! to build; xtask therefore only links it with the `floor` feature, and the plain
//! `cargo xtask bench` re-runs itself with that feature after `setup` (so that
//! `cargo xtask setup` still builds on a machine without bpf-linker).

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::{cargo, output, root, sh, IsolatedState};

/// Rounds of the per-syscall loop (each round measures every configuration once).
const LOOP_ROUNDS: usize = 7;
/// Rounds of the per-syscall loop in `bench --quick`.
const QUICK_ROUNDS: usize = 2;
/// Each round runs every configuration this many times with N / SLICES calls, in turn:
/// the machine's speed changes over seconds (other VMs), so the configurations are
/// interleaved finely and each sees the same conditions.
const SLICES: usize = 10;
/// Cold `record -- true` runs (each after an `unload`).
const COLD_RUNS: usize = 10;
/// Rounds of the strace loop comparison.
const STRACE_ROUNDS: usize = 3;
/// Rounds of the busy workload comparison.
const BUSY_ROUNDS: usize = 5;
/// Iterations of the loop under strace (ptrace makes each call microseconds).
const STRACE_ITERATIONS: u64 = 1_000_000;
/// The busy workload: many short processes, each with its usual startup syscalls.
const BUSY_SCRIPT: &str = "for i in $(seq 2000); do cat /etc/hostname >/dev/null; done";
/// The loop is timed in this many chunks.
const CHUNKS: usize = 50;
/// Percentile of a configuration's chunk rates (all its runs pooled) taken as its
/// steady cost.
const STEADY_PERCENTILE: f64 = 0.05;
/// Marks the loop program's timing record on its stdout.
const MARKER: &[u8; 8] = b"GPPLOOP1";
/// x86_64 syscall numbers used by the loop program.
const SYS_GETPPID: u32 = 110;
/// Relative tolerance for "no cost when nothing is recorded" (measurement noise).
const IDLE_TOLERANCE: f64 = 0.02;
/// Set in the re-executed bench to stop a second re-execution.
const INNER_ENV: &str = "XTASK_BENCH_WITH_FLOOR";

/// Entry point of `cargo xtask bench`.
pub fn run(iterations: u64, runs: usize, quick: bool) -> Result<()> {
    ensure!(iterations >= 10_000, "--iterations must be at least 10000");
    ensure!(runs >= 3, "--runs must be at least 3");
    ensure!(
        cfg!(target_arch = "x86_64"),
        "the benchmark's loop program is x86_64 assembly; this host is {}",
        std::env::consts::ARCH
    );
    if !crate::is_root() {
        bail!(
            "cargo xtask bench must run as root: it loads and attaches eBPF programs, \
             creates cgroups and pins in bpffs (try: sudo -E cargo xtask bench)"
        );
    }
    if !cfg!(feature = "floor") {
        if std::env::var_os(INNER_ENV).is_some() {
            bail!("xtask re-ran itself for the benchmark but the `floor` feature is still off");
        }
        // Linking the recorder library needs the eBPF toolchain that `setup` installs.
        let status = cargo()
            .args(["run", "--quiet", "-p", "xtask", "--features", "floor", "--"])
            .args(["bench", "--iterations", &iterations.to_string()])
            .args(["--runs", &runs.to_string()])
            .args(quick.then_some("--quick"))
            .env(INNER_ENV, "1")
            .status()
            .context("cannot run cargo to build xtask with the `floor` feature")?;
        ensure!(status.success(), "benchmark failed ({status})");
        return Ok(());
    }
    ensure!(
        dev_null_ok(),
        "/dev/null is not the null character device (something renamed a file over it); \
         recreate it: rm /dev/null && mknod -m 666 /dev/null c 1 3"
    );
    sh(cargo().args(["build", "--release", "-p", "seccomp-recorder"]))?;
    let bin = root().join("target/release/seccomp-recorder");
    clean_stale(&bin);
    catch_interrupts();

    let mut bench = Bench::new(bin.clone())?;
    if quick {
        let (goals, pass) = bench.quick(iterations, QUICK_ROUNDS)?;
        drop(bench);
        println!("{goals}");
        ensure!(pass, "bench --quick: a goal was missed (above)");
        eprintln!("xtask: bench --quick: every goal met");
        return Ok(());
    }
    let mut report = bench.all(iterations, runs)?;
    drop(bench);
    let work = std::env::temp_dir().join(format!("xtask-bench-hook-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("cannot create the hook benchmark's temp dir")?;
    let hook_section = crate::bench_hook::section(&bin, &work, runs);
    let _ = std::fs::remove_dir_all(&work);
    report.push_str(&hook_section?);
    if !dev_null_ok() {
        eprintln!("xtask: warning: /dev/null stopped being the null device during the benchmark");
    }
    let leftover = sys_enter_links().unwrap_or(0);
    if leftover != 0 {
        eprintln!("xtask: note: {leftover} program(s) on sys_enter after the benchmark (not ours: ours is unloaded)");
    }

    let path = root().join("docs/benchmarks.md");
    std::fs::create_dir_all(root().join("docs")).context("cannot create docs/")?;
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

/// The empty `sys_enter` program; detached when the returned value is dropped.
#[cfg(feature = "floor")]
fn attach_floor() -> Result<Box<dyn std::any::Any>> {
    let floor = seccomp_recorder::tracer::FloorProgram::attach()
        .context("cannot attach the empty sys_enter program (the floor)")?;
    Ok(Box::new(floor))
}

#[cfg(not(feature = "floor"))]
fn attach_floor() -> Result<Box<dyn std::any::Any>> {
    bail!("xtask was built without the `floor` feature: no empty program to attach")
}

/// Whether /dev/null is the null character device (the busy workload writes to it).
pub(crate) fn dev_null_ok() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device())
}

/// Unloads and removes the pins of benchmarks that were interrupted (their process is gone).
fn clean_stale(bin: &Path) {
    let dead = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|pid| pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists())
    };
    let entries = |dir: &Path| -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().collect())
            .unwrap_or_default()
    };
    for entry in entries(Path::new("/sys/fs/bpf")) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if dead(&name, "seccomp-recorder-bench-") {
            eprintln!("xtask: removing pins of an interrupted benchmark: /sys/fs/bpf/{name}");
            IsolatedState {
                bpf_dir: entry.path(),
                run_dir: std::env::temp_dir().join(&name),
            }
            .cleanup(bin);
        }
    }
    for entry in entries(&std::env::temp_dir()) {
        if dead(&entry.file_name().to_string_lossy(), "xtask-bench-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    if let Ok(own) = own_cgroup_dir() {
        for entry in entries(&own) {
            if dead(&entry.file_name().to_string_lossy(), "xtask-bench-") {
                remove_cgroup(&entry.path());
            }
        }
    }
}

/// Set by SIGINT / SIGTERM: the benchmark stops at the next step and cleans up.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub(crate) fn catch_interrupts() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

pub(crate) fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted; cleaned up");
    }
    Ok(())
}

/// Configurations of the per-syscall loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    Bare,
    Floor,
    Outside,
    OutsideOther,
    Inside,
    Idle,
}

impl Config {
    /// Cyclic measuring order: idle always comes after the recordings have ended.
    const ORDER: [Config; 6] = [
        Config::Bare,
        Config::Floor,
        Config::Outside,
        Config::OutsideOther,
        Config::Inside,
        Config::Idle,
    ];

    fn label(self) -> &'static str {
        match self {
            Config::Bare => "bare (nothing on sys_enter)",
            Config::Floor => "empty program on sys_enter (floor)",
            Config::Outside => "ours, loop outside: in the root cgroup",
            Config::OutsideOther => {
                "ours, loop outside: in another cgroup at the recorded cgroup's level"
            }
            Config::Inside => "ours, loop inside the recorded cgroup",
            Config::Idle => "ours pinned, nothing recorded (detached)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Config::Bare => "bare",
            Config::Floor => "floor",
            Config::Outside => "outside",
            Config::OutsideOther => "outside2",
            Config::Inside => "inside",
            Config::Idle => "idle",
        }
    }

    /// Programs on sys_enter that are ours while the loop runs (bpftool is checked
    /// right before and after; for `Inside` the recording is not yet / no longer active then).
    fn own_links(self) -> usize {
        match self {
            Config::Floor | Config::Outside | Config::OutsideOther => 1,
            Config::Bare | Config::Inside | Config::Idle => 0,
        }
    }
}

/// Where the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In xtask's own cgroup, not recorded.
    Own,
    /// In a scratch cgroup next to the ones the recorder creates (same level), not
    /// recorded.
    OtherCgroup,
    /// Under `seccomp-recorder record`.
    Recorded,
}

/// One run of the loop program: nanoseconds per call.
#[derive(Debug, Clone)]
struct LoopSample {
    /// CPU ns per call of each chunk. Other load on this VM shows up as phases of
    /// slower chunks; the low percentiles are the cost when nothing disturbed the CPU.
    rates: Vec<f64>,
    /// CLOCK_MONOTONIC around the loop, inside the program.
    mono: f64,
    /// CLOCK_PROCESS_CPUTIME_ID around the loop (excludes time preempted by others).
    cpu: f64,
    /// Spawn to exit of the whole process tree, as seen by xtask.
    wall: f64,
}

/// A recorder running `sleep` in the background, so that our program is attached.
struct Background {
    child: Child,
}

impl Background {
    /// SIGTERM (the recorder forwards it to `sleep` and cleans up), then waits.
    fn stop(&mut self) -> Result<()> {
        if self
            .child
            .try_wait()
            .context("cannot poll the background recorder")?
            .is_some()
        {
            return Ok(());
        }
        let pid = i32::try_from(self.child.id()).context("pid out of range")?;
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .child
                .try_wait()
                .context("cannot poll the background recorder")?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!("the background recorder ignored SIGTERM for 10 s (killed it)")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("xtask: {e:#}");
        }
    }
}

/// The benchmark's resources; everything is released on drop, on every path.
struct Bench {
    bin: PathBuf,
    state: IsolatedState,
    work: PathBuf,
    cpu: String,
    background: Option<Background>,
    /// A cgroup next to the recorder's scratch cgroups (same level), never recorded.
    other_cgroup: Option<PathBuf>,
    /// Samples re-measured because a foreign program was on sys_enter.
    redone: Vec<String>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.background.take();
        if let Some(dir) = self.other_cgroup.take() {
            remove_cgroup(&dir);
        }
        self.state.cleanup(&self.bin);
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

impl Bench {
    fn new(bin: PathBuf) -> Result<Self> {
        let work = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Bench {
            bin,
            state: IsolatedState::new("bench"),
            work,
            cpu: if cpus >= 2 { "1" } else { "0" }.to_owned(),
            background: None,
            other_cgroup: None,
            redone: Vec::new(),
        })
    }

    fn all(&mut self, iterations: u64, runs: usize) -> Result<String> {
        let facts = machine_facts();
        let load_before = loadavg();
        let foreign_at_start = sys_enter_links();

        let slice_n = iterations / SLICES as u64;
        let prog = loop_program(&self.work, "getppid-loop", slice_n)?;
        // The recorder creates its cgroups inside its own, which is xtask's.
        let other = own_cgroup_dir()?.join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir(&other)
            .with_context(|| format!("cannot create cgroup {}", other.display()))?;
        self.other_cgroup = Some(other);
        let strace_n = iterations.min(STRACE_ITERATIONS);
        let strace_prog = loop_program(&self.work, "getppid-loop-strace", strace_n)?;

        // Warm-up: load and pin our program (so every later record is warm), and one
        // unmeasured pass of the loop.
        eprintln!("xtask: bench: warm-up");
        self.record_status(&["true"])
            .context("warm-up record -- true")?;
        ensure!(
            self.prog_pinned(),
            "the recorder did not pin its program under {}",
            self.state.bpf_dir.display()
        );
        self.run_loop(&prog, slice_n, Place::Own)?;

        let loop_samples = self.loop_rounds(&prog, slice_n, LOOP_ROUNDS)?;
        let (true_bare, true_warm, true_cold) = self.record_true(runs)?;
        let strace_loop = self.strace_loop(&strace_prog, strace_n)?;
        let busy = self.busy()?;

        let load_after = loadavg();
        let foreign_at_end = sys_enter_links();
        Ok(self.report(Report {
            iterations,
            runs,
            facts,
            load_before,
            load_after,
            foreign_at_start,
            foreign_at_end,
            loop_samples,
            true_bare,
            true_warm,
            true_cold,
            strace_n,
            strace_loop,
            busy,
        }))
    }

    /// `bench --quick`: the per-syscall goals only, from a short interleaved run.
    /// Returns the goal lines and whether every goal was met.
    fn quick(&mut self, iterations: u64, rounds: usize) -> Result<(String, bool)> {
        let slice_n = iterations / SLICES as u64;
        let prog = loop_program(&self.work, "getppid-loop", slice_n)?;
        let other = own_cgroup_dir()?.join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir(&other)
            .with_context(|| format!("cannot create cgroup {}", other.display()))?;
        self.other_cgroup = Some(other);
        self.record_status(&["true"])
            .context("warm-up record -- true")?;
        self.run_loop(&prog, slice_n, Place::Own)?;
        let samples = self.loop_rounds(&prog, slice_n, rounds)?;
        let goals = loop_goals(&samples);
        let mut s = String::new();
        for g in &goals {
            let _ = writeln!(s, "{}: {} ({})", g.what, g.measured, g.verdict);
        }
        Ok((s, goals.iter().all(|g| g.pass)))
    }

    // ---- per-syscall loop -------------------------------------------------------------

    /// Per configuration, one sample per slice of every round (index j of every
    /// configuration's list is the same slice).
    fn loop_rounds(
        &mut self,
        prog: &Path,
        n: u64,
        rounds: usize,
    ) -> Result<Vec<(Config, Vec<LoopSample>)>> {
        let mut samples: Vec<(Config, Vec<LoopSample>)> =
            Config::ORDER.iter().map(|&c| (c, Vec::new())).collect();
        let configs = Config::ORDER.len();
        for round in 0..rounds {
            for slice in 0..SLICES {
                let turn = round * SLICES + slice;
                for k in 0..configs {
                    let config = Config::ORDER[(turn + k) % configs];
                    let sample = self.clean_sample(config, prog, n)?;
                    if let Some((_, v)) = samples.iter_mut().find(|(c, _)| *c == config) {
                        v.push(sample);
                    }
                }
            }
            let line: Vec<String> = samples
                .iter()
                .map(|(c, v)| {
                    let this_round = &v[round * SLICES..];
                    let rates: Vec<f64> = this_round
                        .iter()
                        .flat_map(|x| x.rates.iter().copied())
                        .collect();
                    format!("{} {:.1}", c.short(), percentile(&rates, STEADY_PERCENTILE))
                })
                .collect();
            eprintln!(
                "xtask: bench: round {}/{rounds}, steady CPU ns/call: {}",
                round + 1,
                line.join(", ")
            );
        }
        Ok(samples)
    }

    /// Measures once; measures again (up to 3 times) when someone else's program was
    /// on sys_enter right before or after.
    fn clean_sample(&mut self, config: Config, prog: &Path, n: u64) -> Result<LoopSample> {
        for attempt in 0..3 {
            check_interrupted()?;
            let (sample, before, after) = self.sample(config, prog, n)?;
            let foreign = match (before, after) {
                (Some(b), Some(a)) => b.max(a).saturating_sub(config.own_links()),
                _ => 0, // bpftool unavailable: cannot tell
            };
            if foreign == 0 {
                return Ok(sample);
            }
            self.redone.push(format!(
                "{}: {foreign} foreign program(s) on sys_enter (attempt {})",
                config.short(),
                attempt + 1
            ));
            std::thread::sleep(Duration::from_secs(2));
        }
        bail!(
            "other programs stay attached to sys_enter (bpftool link list): the figures would \
             include their cost; stop them and run the benchmark again"
        )
    }

    /// (sample, programs on sys_enter right before, right after).
    fn sample(
        &mut self,
        config: Config,
        prog: &Path,
        n: u64,
    ) -> Result<(LoopSample, Option<usize>, Option<usize>)> {
        match config {
            Config::Bare | Config::Idle => {
                ensure!(
                    !self.link_pinned(),
                    "our program is attached although nothing is recorded"
                );
                if config == Config::Idle {
                    ensure!(
                        self.prog_pinned(),
                        "our program is not pinned (idle needs it pinned)"
                    );
                }
                let before = sys_enter_links();
                let s = self.run_loop(prog, n, Place::Own)?;
                Ok((s, before, sys_enter_links()))
            }
            Config::Floor => {
                ensure!(
                    !self.link_pinned(),
                    "our program is attached during the floor measurement"
                );
                let floor = attach_floor()?;
                let before = sys_enter_links();
                let s = self.run_loop(prog, n, Place::Own);
                let after = sys_enter_links();
                drop(floor);
                Ok((s?, before, after))
            }
            Config::Outside | Config::OutsideOther => {
                self.start_background()?;
                let before = sys_enter_links();
                let place = if config == Config::Outside {
                    Place::Own
                } else {
                    Place::OtherCgroup
                };
                let s = self.run_loop(prog, n, place);
                let after = sys_enter_links();
                self.stop_background()?;
                Ok((s?, before, after))
            }
            Config::Inside => {
                let before = sys_enter_links();
                let s = self.run_loop(prog, n, Place::Recorded)?;
                Ok((s, before, sys_enter_links()))
            }
        }
    }

    /// Runs the loop program pinned to the bench CPU, recorded by ours when `recorded`.
    fn run_loop(&self, prog: &Path, n: u64, place: Place) -> Result<LoopSample> {
        let stats = self.work.join("inside-stats.json");
        let recorded = place == Place::Recorded;
        let mut cmd = if recorded {
            let _ = std::fs::remove_file(&stats);
            let mut c = self.recorder();
            c.arg("record")
                .arg("-o")
                .arg(self.work.join("inside-profile.json"))
                .arg("--stats")
                .arg(&stats)
                .arg("--");
            c.arg("taskset");
            c
        } else if place == Place::OtherCgroup {
            let dir = self
                .other_cgroup
                .as_ref()
                .context("no scratch cgroup for the loop")?;
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(r#"echo $$ > "$1/cgroup.procs" && shift && exec taskset "$@""#)
                .arg("sh")
                .arg(dir);
            c
        } else {
            Command::new("taskset")
        };
        cmd.args(["-c", &self.cpu]).arg(prog);
        let (out, wall) = timed_output(&mut cmd)?;
        let sample = parse_loop_output(&out, n, wall).with_context(|| format!("{cmd:?}"))?;
        if recorded {
            let counted = getppid_count(&stats)?;
            ensure!(
                counted == n,
                "the recording counted {counted} getppid calls, the loop made {n}"
            );
        }
        Ok(sample)
    }

    fn start_background(&mut self) -> Result<()> {
        ensure!(
            self.background.is_none(),
            "background recorder already running"
        );
        let log = self.work.join("background.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = self.recorder();
        cmd.arg("record")
            .arg("-o")
            .arg(self.work.join("background-profile.json"))
            .args(["--", "sleep", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        // SAFETY: prctl(2) only; if xtask dies, the recorder gets SIGTERM, forwards it
        // and ends its recording (so our program does not stay attached).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let pid = child.id();
        let mut bg = Background { child };
        // Recording is active once `sleep` has been exec'd in the recorded cgroup.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.link_pinned() && has_child_named(pid, "sleep") {
                break;
            }
            if let Some(status) = bg
                .child
                .try_wait()
                .context("cannot poll the background recorder")?
            {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                bail!(
                    "the background recorder exited with {status}: {}",
                    text.trim()
                );
            }
            if Instant::now() > deadline {
                drop(bg);
                bail!("the background recorder did not start recording within 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.background = Some(bg);
        Ok(())
    }

    fn stop_background(&mut self) -> Result<()> {
        if let Some(mut bg) = self.background.take() {
            bg.stop()?;
        }
        // Detach happens before the recorder exits; allow a moment anyway.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.link_pinned() {
            if Instant::now() > deadline {
                bail!("our program stayed attached after the last recording ended");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    // ---- record -- true ---------------------------------------------------------------

    /// (bare `true`, warm `record -- true`, cold `record -- true`) wall times in ms.
    fn record_true(&mut self, runs: usize) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        eprintln!("xtask: bench: `true` vs `record -- true`, {runs} runs each, interleaved");
        let mut bare = Vec::with_capacity(runs);
        let mut warm = Vec::with_capacity(runs);
        for i in 0..runs {
            check_interrupted()?;
            let bare_first = i % 2 == 0;
            if bare_first {
                bare.push(self.time_true()?);
            }
            warm.push(self.record_status(&["true"])?);
            if !bare_first {
                bare.push(self.time_true()?);
            }
        }
        eprintln!("xtask: bench: cold `record -- true` (after unload), {COLD_RUNS} runs");
        let mut cold = Vec::with_capacity(COLD_RUNS);
        for _ in 0..COLD_RUNS {
            check_interrupted()?;
            let (out, _) = timed_output(self.recorder().arg("unload"))?;
            ensure!(
                out.status.success(),
                "seccomp-recorder unload failed: {}",
                stderr_of(&out)
            );
            ensure!(!self.prog_pinned(), "unload left the program pinned");
            cold.push(self.record_status(&["true"])?);
        }
        Ok((bare, warm, cold))
    }

    fn time_true(&self) -> Result<f64> {
        let (out, wall) = timed_output(&mut Command::new("true"))?;
        ensure!(out.status.success(), "`true` failed");
        Ok(wall.as_secs_f64() * 1e3)
    }

    /// `record -o FILE -- CMD`; returns the wall time in ms.
    fn record_status(&self, command: &[&str]) -> Result<f64> {
        let mut cmd = self.recorder();
        cmd.arg("record")
            .arg("-o")
            .arg(self.work.join("profile.json"))
            .arg("--")
            .args(command);
        let (out, wall) = timed_output(&mut cmd)?;
        ensure!(
            out.status.success(),
            "{cmd:?} failed with {}: {}",
            out.status,
            stderr_of(&out)
        );
        Ok(wall.as_secs_f64() * 1e3)
    }

    // ---- strace -----------------------------------------------------------------------

    /// Per round: (bare, inside, strace) loop samples.
    fn strace_loop(&mut self, prog: &Path, n: u64) -> Result<Vec<[LoopSample; 3]>> {
        eprintln!("xtask: bench: getppid loop ({n} calls) bare / recorded / strace -f -c");
        let mut rounds = Vec::new();
        for _ in 0..STRACE_ROUNDS {
            check_interrupted()?;
            let bare = self.run_loop(prog, n, Place::Own)?;
            let inside = self.run_loop(prog, n, Place::Recorded)?;
            let mut cmd = Command::new("strace");
            cmd.args(["-f", "-c", "-o"])
                .arg(self.work.join("strace-loop.txt"))
                .args(["taskset", "-c", &self.cpu])
                .arg(prog);
            let (out, wall) = timed_output(&mut cmd)?;
            let traced = parse_loop_output(&out, n, wall).with_context(|| format!("{cmd:?}"))?;
            rounds.push([bare, inside, traced]);
        }
        Ok(rounds)
    }

    /// Busy workload: per round, (wall ms, CPU ms) of bare, recorded and strace; and the
    /// syscalls one recorded run made.
    fn busy(&mut self) -> Result<(Vec<BusyRound>, u64)> {
        eprintln!("xtask: bench: busy workload bare / recorded / strace -f -c");
        let mut rounds = Vec::new();
        let mut syscalls = 0;
        let stats = self.work.join("busy-stats.json");
        for round in 0..BUSY_ROUNDS {
            check_interrupted()?;
            let mut times = [(0.0, 0.0); 3];
            for k in 0..3 {
                let which = (round + k) % 3;
                let mut cmd = match which {
                    0 => Command::new("sh"),
                    1 => {
                        let mut c = self.recorder();
                        c.arg("record")
                            .arg("-o")
                            .arg(self.work.join("busy-profile.json"))
                            .arg("--stats")
                            .arg(&stats)
                            .args(["--", "sh"]);
                        c
                    }
                    _ => {
                        let mut c = Command::new("strace");
                        c.args(["-f", "-c", "-o"])
                            .arg(self.work.join("strace-busy.txt"))
                            .arg("sh");
                        c
                    }
                };
                cmd.args(["-c", BUSY_SCRIPT]);
                let cpu_before = children_cpu_ms()?;
                let (out, wall) = timed_output(&mut cmd)?;
                let cpu = children_cpu_ms()? - cpu_before;
                ensure!(out.status.success(), "{cmd:?} failed: {}", stderr_of(&out));
                times[which] = (wall.as_secs_f64() * 1e3, cpu);
            }
            syscalls = total_count(&stats)?;
            rounds.push(times);
        }
        Ok((rounds, syscalls))
    }

    // ---- helpers ----------------------------------------------------------------------

    fn recorder(&self) -> Command {
        let mut c = Command::new(&self.bin);
        self.state.apply(&mut c);
        c
    }

    /// This build's pin directories (one per program build) under the isolated base.
    fn pin_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.state.bpf_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn link_pinned(&self) -> bool {
        self.pin_dirs().iter().any(|d| d.join("link").exists())
    }

    fn prog_pinned(&self) -> bool {
        self.pin_dirs().iter().any(|d| d.join("prog").exists())
    }

    // ---- report -----------------------------------------------------------------------

    fn report(&self, r: Report) -> String {
        let mut s = String::new();
        let values = |c: Config, f: fn(&LoopSample) -> f64| -> Vec<f64> {
            r.loop_samples
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.iter().map(f).collect())
                .unwrap_or_default()
        };
        let st = LoopStats {
            samples: &r.loop_samples,
        };
        let steady = |c: Config| st.steady(c);
        let whole: fn(&LoopSample) -> f64 = |x| x.mono;
        let med = |c: Config, f: fn(&LoopSample) -> f64| median(&values(c, f));
        // Added cost over bare.
        let added = |c: Config| st.added(c);
        let added_whole = |c: Config| med(c, whole) - med(Config::Bare, whole);
        let floor_added = added(Config::Floor);
        let ratio_whole = |c: Config| added_whole(c) / added_whole(Config::Floor);
        let paired_added = |c: Config| st.paired_added(c);
        let paired_ratio = |c: Config| st.paired_ratio(c);
        let warm_added = median(&r.true_warm) - median(&r.true_bare);

        let _ = writeln!(s, "# Benchmarks\n");
        let _ = writeln!(
            s,
            "What recording costs, measured by `cargo xtask bench` on the machine below. \
             The file is generated: run the command again to refresh it.\n"
        );
        let _ = writeln!(
            s,
            "```\ncargo xtask bench --iterations {} --runs {}\n```\n",
            r.iterations, r.runs
        );
        let _ = writeln!(s, "## Machine\n");
        for (k, v) in &r.facts {
            let _ = writeln!(s, "- {k}: {v}");
        }
        let _ = writeln!(
            s,
            "- load average (1/5/15 min) before: {}, after: {}",
            r.load_before, r.load_after
        );
        let _ = writeln!(
            s,
            "- other programs on `sys_enter` at start / end: {} / {}\n",
            fmt_links(r.foreign_at_start),
            fmt_links(r.foreign_at_end)
        );

        let _ = writeln!(s, "## Goals\n");
        let _ = writeln!(
            s,
            "Per-syscall figures: steady cost; \"paired\" is the second estimate (see \
             \"How this is measured\").\n"
        );
        let _ = writeln!(s, "| Goal | Measured | Result |\n|---|---|---|");
        for g in loop_goals(&r.loop_samples) {
            let _ = writeln!(s, "| {} | {} | {} |", g.what, g.measured, g.verdict);
        }
        let _ = writeln!(
            s,
            "| `record -- true` minus `true` (warm, median) ≤ 20 ms | {:.2} ms | {} |\n",
            warm_added,
            verdict(warm_added <= 20.0, warm_added - 20.0, "ms")
        );

        let _ = writeln!(
            s,
            "## Per-syscall cost (`getppid` loop pinned to CPU {})\n",
            self.cpu
        );
        let per_run = r.iterations / SLICES as u64;
        let _ = writeln!(
            s,
            "{LOOP_ROUNDS} rounds × {SLICES} slices: in every slice each configuration runs \
             the loop once ({per_run} calls, timed in {CHUNKS} chunks), configurations in \
             turn, so each one made {} calls in all. Steady cost: the {:.0}th percentile of \
             the configuration's {} chunk rates. Paired: per slice, median chunk rate minus \
             bare's in the same slice (ratio: over the floor's in the same slice), then the \
             median over the {} slices.\n",
            per_run * (LOOP_ROUNDS * SLICES) as u64,
            100.0 * STEADY_PERCENTILE,
            LOOP_ROUNDS * SLICES * CHUNKS,
            LOOP_ROUNDS * SLICES
        );
        let _ = writeln!(
            s,
            "| Configuration | steady ns/call | added vs bare | added / floor's | paired added | paired / floor's | chunk median |\n|---|---|---|---|---|---|---|"
        );
        for (config, _) in &r.loop_samples {
            let is_bare = *config == Config::Bare;
            let dash = || "—".to_owned();
            let _ = writeln!(
                s,
                "| {} | {:.1} | {} | {} | {} | {} | {:.1} |",
                config.label(),
                steady(*config),
                if is_bare {
                    dash()
                } else {
                    format!("{:+.1}", added(*config))
                },
                if is_bare {
                    dash()
                } else {
                    format!("{:.2}×", added(*config) / floor_added)
                },
                if is_bare {
                    dash()
                } else {
                    format!("{:+.1}", paired_added(*config))
                },
                if is_bare {
                    dash()
                } else {
                    format!("{:.2}×", paired_ratio(*config))
                },
                median(&st.pooled(*config)),
            );
        }
        let _ = writeln!(s, "\nWhole runs (including the machine's slow phases):\n");
        let _ = writeln!(
            s,
            "| Configuration | ns/call (median) | runs min – max | added vs bare | added / floor's | CPU time ns/call | process wall ns/call |\n|---|---|---|---|---|---|---|"
        );
        for (config, _) in &r.loop_samples {
            let v = values(*config, whole);
            let is_bare = *config == Config::Bare;
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} – {:.1} | {} | {} | {:.1} | {:.1} |",
                config.label(),
                median(&v),
                min(&v),
                max(&v),
                if is_bare {
                    "—".to_owned()
                } else {
                    format!("{:+.1}", added_whole(*config))
                },
                if is_bare {
                    "—".to_owned()
                } else {
                    format!("{:.2}×", ratio_whole(*config))
                },
                med(*config, |x| x.cpu),
                med(*config, |x| x.wall),
            );
        }
        if self.redone.is_empty() {
            let _ = writeln!(
                s,
                "\nNo sample had a foreign program on `sys_enter` before or after it.\n"
            );
        } else {
            let _ = writeln!(
                s,
                "\nSamples measured again because a foreign program was on `sys_enter`:\n"
            );
            for line in &self.redone {
                let _ = writeln!(s, "- {line}");
            }
            let _ = writeln!(s);
        }

        let _ = writeln!(s, "## `record -- true` latency\n");
        let _ = writeln!(s, "| Command | runs | median | p90 |\n|---|---|---|---|");
        let _ = writeln!(
            s,
            "| `true` | {} | {:.2} ms | {:.2} ms |",
            r.true_bare.len(),
            median(&r.true_bare),
            p90(&r.true_bare)
        );
        let _ = writeln!(
            s,
            "| `seccomp-recorder record -o FILE -- true`, warm (program pinned) | {} | {:.2} ms | {:.2} ms |",
            r.true_warm.len(),
            median(&r.true_warm),
            p90(&r.true_warm)
        );
        let _ = writeln!(
            s,
            "| same, cold (after `seccomp-recorder unload`) | {} | {:.2} ms | {:.2} ms |",
            r.true_cold.len(),
            median(&r.true_cold),
            p90(&r.true_cold)
        );
        let _ = writeln!(
            s,
            "\nAdded by recording (medians): warm {:.2} ms, cold {:.2} ms.\n",
            warm_added,
            median(&r.true_cold) - median(&r.true_bare)
        );

        let _ = writeln!(s, "## Compared with `strace -f -c`\n");
        let col = |i: usize, f: fn(&LoopSample) -> f64| {
            median(&r.strace_loop.iter().map(|x| f(&x[i])).collect::<Vec<_>>())
        };
        let sb = col(0, |x| x.mono);
        let _ = writeln!(
            s,
            "`getppid` loop, {} calls, pinned to CPU {}, median of {STRACE_ROUNDS} rounds. \
             ns/call is wall clock (monotonic) here: under strace most of the cost is in \
             the tracer and in ptrace stops, not in the traced process's CPU time:\n",
            r.strace_n, self.cpu
        );
        let _ = writeln!(
            s,
            "| Configuration | ns/call | slowdown | process wall ns/call |\n|---|---|---|---|"
        );
        for (i, name) in ["bare", "recorded by ours (inside)", "`strace -f -c`"]
            .iter()
            .enumerate()
        {
            let v = col(i, |x| x.mono);
            let _ = writeln!(
                s,
                "| {name} | {v:.1} | {:.2}× | {:.1} |",
                v / sb,
                col(i, |x| x.wall)
            );
        }
        let (busy, busy_calls) = &r.busy;
        let bwall = |i: usize| median(&busy.iter().map(|x| x[i].0).collect::<Vec<_>>());
        let bcpu = |i: usize| median(&busy.iter().map(|x| x[i].1).collect::<Vec<_>>());
        let _ = writeln!(
            s,
            "\nBusy workload `sh -c '{BUSY_SCRIPT}'` (not pinned; {busy_calls} syscalls per \
             run as recorded), median of {BUSY_ROUNDS} rounds. CPU = user + system time of \
             the whole process tree (including the recorder or strace). Most of this \
             workload's time is user space (dynamic loading of each `cat`), so the \
             recorder's per-syscall cost is within this table's noise (a few %); the \
             `getppid` loop above is the precise measure:\n"
        );
        let _ = writeln!(
            s,
            "| Configuration | wall | slowdown (wall) | CPU | slowdown (CPU) | added CPU per syscall |\n|---|---|---|---|---|---|"
        );
        for (i, name) in [
            "bare",
            "`seccomp-recorder record -o FILE --`",
            "`strace -f -c`",
        ]
        .iter()
        .enumerate()
        {
            let per_call = if i == 0 || *busy_calls == 0 {
                "—".to_owned()
            } else {
                format!("{:+.0} ns", (bcpu(i) - bcpu(0)) * 1e6 / *busy_calls as f64)
            };
            let _ = writeln!(
                s,
                "| {name} | {:.1} ms | {:.2}× | {:.1} ms | {:.2}× | {per_call} |",
                bwall(i),
                bwall(i) / bwall(0),
                bcpu(i),
                bcpu(i) / bcpu(0)
            );
        }

        let _ = writeln!(s, "\n## How this is measured\n");
        let _ = writeln!(
            s,
            "- The loop is a static x86_64 program without libc (assembled with binutils at \
             bench time): `getppid` (syscall 110) in a loop, in {CHUNKS} chunks, with \
             `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` at every chunk boundary and \
             `clock_gettime(CLOCK_MONOTONIC)` before and after; it writes the timestamps \
             to stdout and exits. Process start-up, the recorder's set-up and profile \
             writing are therefore not in the per-call figures, and the CPU clock leaves \
             out time other tasks ran on the bench CPU.\n\
             - Why chunks and slices: this VM's speed changes by itself. Over phases of \
             tens of milliseconds to seconds every configuration, bare included, runs \
             ~1.2–1.35× slower; it happens with the other vCPU idle or busy, so it comes \
             from the host. It only ever adds time. Steady cost = a low percentile ({pct:.0}th) \
             of all chunk rates of a configuration, i.e. its cost in the machine's fast \
             phases; added = steady − bare's steady. The paired estimate compares runs \
             made next to each other (one slice, about a second) instead, and should agree \
             with it; when the two disagree, the machine was too noisy to tell.\n\
             - Whole runs: (last − first monotonic stamp) / calls, median over the runs; \
             \"CPU time\": the same with the CPU clock; \"process wall\": spawn-to-exit \
             seen by xtask / calls, everything included (for `inside`: the recorder's \
             set-up and profile writing, spread over the run's calls).\n\
             - The loop runs under `taskset -c {cpu}`. Within each slice the configurations \
             run in a cyclic order rotated by one every slice (so none always runs first); \
             the order keeps \"idle\" right after the recordings have ended.\n\
             - bare: no program of ours attached (checked: no link pin). floor: the object's \
             empty raw tracepoint `sys_enter_empty` loaded and attached by the recorder \
             library (`FloorProgram`), detached after the sample. outside: \
             `seccomp-recorder record -- sleep 3600` running in the background (our program \
             attached, one recorded cgroup), the loop in the bench's own cgroup; the \
             recorder is stopped with SIGTERM after the sample. outside, other cgroup: the \
             same, with the loop moved into a scratch cgroup next to the recorder's (same \
             level, not recorded), so the program also looks that cgroup up. inside: \
             `seccomp-recorder record -o FILE --stats FILE -- taskset -c {cpu} LOOP`, and \
             the recorded getppid count is checked to equal the loop's calls exactly in every \
             sample. \
             idle: program and maps pinned, link absent (checked), after the recordings \
             ended.\n\
             - Before and after every loop sample `bpftool link list` is read; a sample with \
             someone else's program on `sys_enter` is measured again.\n\
             - `record -- true`: spawn-to-exit wall time of `true` and of \
             `seccomp-recorder record -o FILE -- true`, interleaved, {runs} runs each; the \
             profile is written (fsync'ed) to a file in a temporary directory. Cold: \
             `seccomp-recorder unload` before each run (untimed), so each run loads, \
             verifies and pins the program.\n\
             - strace: `strace -f -c -o FILE`. Busy workload: spawn-to-exit wall time and \
             the CPU time of the reaped process tree (`getrusage(RUSAGE_CHILDREN)` before \
             and after); CPU time is less sensitive to other load on the machine.\n\
             - Pins and state live in an isolated directory pair \
             (`SECCOMP_RECORDER_BPF_DIR`, `SECCOMP_RECORDER_RUN_DIR`), unloaded and \
             removed at the end.",
            cpu = self.cpu,
            runs = r.runs,
            pct = 100.0 * STEADY_PERCENTILE,
        );
        s
    }
}

/// (wall ms, CPU ms) of the busy workload: bare, recorded, under strace.
type BusyRound = [(f64, f64); 3];

/// One goal of the per-syscall loop, judged.
struct Goal {
    what: String,
    measured: String,
    verdict: String,
    pass: bool,
}

/// The per-syscall loop's figures of one configuration, pooled over its samples.
struct LoopStats<'a> {
    samples: &'a [(Config, Vec<LoopSample>)],
}

impl LoopStats<'_> {
    fn of(&self, c: Config) -> &[LoopSample] {
        self.samples
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// Every chunk rate of `c`.
    fn pooled(&self, c: Config) -> Vec<f64> {
        self.of(c)
            .iter()
            .flat_map(|x| x.rates.iter().copied())
            .collect()
    }

    /// Steady cost: the low percentile of every chunk rate of `c`.
    fn steady(&self, c: Config) -> f64 {
        percentile(&self.pooled(c), STEADY_PERCENTILE)
    }

    /// Steady cost added over bare.
    fn added(&self, c: Config) -> f64 {
        self.steady(c) - self.steady(Config::Bare)
    }

    fn slice_medians(&self, c: Config) -> Vec<f64> {
        self.of(c).iter().map(|x| median(&x.rates)).collect()
    }

    /// Paired: per slice, median chunk rate minus bare's; the median over the slices.
    fn paired_added(&self, c: Config) -> f64 {
        let (a, b) = (self.slice_medians(c), self.slice_medians(Config::Bare));
        median(&a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<_>>())
    }

    /// Paired ratio: per slice, added cost over the floor's; the median over the slices.
    fn paired_ratio(&self, c: Config) -> f64 {
        let (a, b, f) = (
            self.slice_medians(c),
            self.slice_medians(Config::Bare),
            self.slice_medians(Config::Floor),
        );
        let ratios: Vec<f64> = a
            .iter()
            .zip(&b)
            .zip(&f)
            .map(|((x, y), z)| (x - y) / (z - y))
            .collect();
        median(&ratios)
    }
}

/// The per-syscall goals (inside ≤ 1.3 × the floor's added cost, outside ≤ 1.1 ×,
/// nothing recorded ≈ 0), judged on the steady figures.
fn loop_goals(samples: &[(Config, Vec<LoopSample>)]) -> Vec<Goal> {
    let st = LoopStats { samples };
    let floor_added = st.added(Config::Floor);
    let mut goals = Vec::new();
    for (config, what, limit) in [
        (Config::Inside, "inside a recorded cgroup", 1.3),
        (
            Config::Outside,
            "outside it, task in the root cgroup (a recording active elsewhere)",
            1.1,
        ),
        (
            Config::OutsideOther,
            "outside it, task in another cgroup at the recorded level (a recording active elsewhere)",
            1.1,
        ),
    ] {
        let a = st.added(config);
        let ratio = a / floor_added;
        let pass = ratio <= limit;
        goals.push(Goal {
            what: format!("{what}: added cost ≤ {limit} × the floor's"),
            measured: format!(
                "+{a:.1} ns vs floor +{floor_added:.1} ns = {ratio:.2}× (paired: {:.2}×)",
                st.paired_ratio(config)
            ),
            verdict: verdict(pass, a - limit * floor_added, "ns/call"),
            pass,
        });
    }
    let bare = st.steady(Config::Bare);
    let idle_added = st.added(Config::Idle);
    let pass = idle_added.abs() <= IDLE_TOLERANCE * bare;
    goals.push(Goal {
        what: "nothing recorded: zero added cost (program pinned, no link in any sample)"
            .to_owned(),
        measured: format!(
            "{idle_added:+.1} ns ({:+.1} % of bare; noise tolerance ±{:.0} %; paired {:+.1} ns)",
            100.0 * idle_added / bare,
            100.0 * IDLE_TOLERANCE,
            st.paired_added(Config::Idle)
        ),
        verdict: if pass {
            "PASS".to_owned()
        } else {
            format!("MISS ({idle_added:+.1} ns/call)")
        },
        pass,
    });
    goals
}

/// Everything measured, for the report.
struct Report {
    iterations: u64,
    runs: usize,
    facts: Vec<(&'static str, String)>,
    load_before: String,
    load_after: String,
    foreign_at_start: Option<usize>,
    foreign_at_end: Option<usize>,
    loop_samples: Vec<(Config, Vec<LoopSample>)>,
    true_bare: Vec<f64>,
    true_warm: Vec<f64>,
    true_cold: Vec<f64>,
    strace_n: u64,
    strace_loop: Vec<[LoopSample; 3]>,
    busy: (Vec<BusyRound>, u64),
}

fn verdict(pass: bool, over: f64, unit: &str) -> String {
    if pass {
        "PASS".to_owned()
    } else {
        format!("MISS by {over:.1} {unit}")
    }
}

fn fmt_links(n: Option<usize>) -> String {
    n.map_or_else(|| "unknown (bpftool failed)".to_owned(), |n| n.to_string())
}

/// Assembles and links the loop program (see "How this is measured"): `n` getppid
/// calls in [`CHUNKS`] timed chunks.
fn loop_program(dir: &Path, name: &str, n: u64) -> Result<PathBuf> {
    ensure!(
        n >= CHUNKS as u64,
        "at least {CHUNKS} iterations are needed"
    );
    let clock = |id: u32, slot: usize| {
        format!(
            "    movq $228, %rax\n    movq ${id}, %rdi\n    leaq ts+{}(%rip), %rsi\n    syscall\n",
            16 * slot
        )
    };
    let mut text = String::from(".globl _start\n.text\n_start:\n");
    // Slots: 0 = monotonic before, 1..=CHUNKS+1 = process CPU clock at the chunk
    // boundaries, CHUNKS+2 = monotonic after.
    text.push_str(&clock(1, 0));
    text.push_str(&clock(2, 1));
    for chunk in 0..CHUNKS {
        let count = n / CHUNKS as u64 + if chunk == 0 { n % CHUNKS as u64 } else { 0 };
        text.push_str(&format!(
            "    movabsq ${count}, %r12\n1:\n    movq ${SYS_GETPPID}, %rax\n    syscall\n    decq %r12\n    jnz 1b\n"
        ));
        text.push_str(&clock(2, chunk + 2));
    }
    text.push_str(&clock(1, CHUNKS + 2));
    text.push_str(&format!(
        "    movq $1, %rax\n    movq $1, %rdi\n    leaq out(%rip), %rsi\n    movq ${}, %rdx\n    syscall\n\
         \x20   movq $60, %rax\n    xorq %rdi, %rdi\n    syscall\n",
        record_len()
    ));
    let marker = std::str::from_utf8(MARKER).context("marker is ASCII")?;
    text.push_str(&format!(
        ".data\n.balign 8\nout: .ascii \"{marker}\"\nts: .zero {}\n",
        16 * (CHUNKS + 3)
    ));
    let src = dir.join(format!("{name}.s"));
    std::fs::write(&src, text).with_context(|| format!("cannot write {}", src.display()))?;
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    sh(Command::new("as").arg("-o").arg(&obj).arg(&src))
        .context("assembling the loop program (binutils)")?;
    sh(Command::new("ld").arg("-o").arg(&exe).arg(&obj))
        .context("linking the loop program (binutils)")?;
    Ok(exe)
}

/// Bytes the loop program writes: the marker and CHUNKS + 3 timespecs.
fn record_len() -> usize {
    MARKER.len() + 16 * (CHUNKS + 3)
}

/// Reads the loop program's timing record from its stdout.
fn parse_loop_output(out: &Output, n: u64, wall: Duration) -> Result<LoopSample> {
    ensure!(
        out.status.success(),
        "loop run failed with {}: {}",
        out.status,
        stderr_of(out)
    );
    let at = out
        .stdout
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .context("the loop program's timing record is missing from its stdout")?;
    let rec = out
        .stdout
        .get(at + MARKER.len()..at + record_len())
        .context("the loop program's timing record is truncated")?;
    let times: Vec<f64> = rec
        .chunks_exact(16)
        .map(|ts| {
            let word = |b: &[u8]| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a) as f64
            };
            word(&ts[..8]) * 1e9 + word(&ts[8..])
        })
        .collect();
    let (mono_before, mono_after) = (times[0], times[CHUNKS + 2]);
    let marks = &times[1..CHUNKS + 2];
    let per_chunk = n / CHUNKS as u64;
    let mut rates = Vec::with_capacity(CHUNKS);
    for (i, pair) in marks.windows(2).enumerate() {
        let calls = per_chunk + if i == 0 { n % CHUNKS as u64 } else { 0 };
        rates.push((pair[1] - pair[0]) / calls as f64);
    }
    let mono = mono_after - mono_before;
    let cpu = marks[CHUNKS] - marks[0];
    ensure!(
        mono > 0.0 && cpu > 0.0 && rates.iter().all(|r| *r > 0.0),
        "the loop program reported non-positive times"
    );
    let n = n as f64;
    Ok(LoopSample {
        rates,
        mono: mono / n,
        cpu: cpu / n,
        wall: wall.as_secs_f64() * 1e9 / n,
    })
}

/// Runs a command with captured output; returns it with the spawn-to-exit time.
fn timed_output(cmd: &mut Command) -> Result<(Output, Duration)> {
    cmd.stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    Ok((out, start.elapsed()))
}

/// User + system CPU time of all reaped descendants so far, in ms.
fn children_cpu_ms() -> Result<f64> {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    ensure!(rc == 0, "getrusage: {}", std::io::Error::last_os_error());
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok(ms(usage.ru_utime) + ms(usage.ru_stime))
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Reads a `--stats` file.
fn stats_entries(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v.get("syscalls")
        .and_then(|s| s.as_array())
        .cloned()
        .with_context(|| format!("{} has no syscalls array", path.display()))
}

fn getppid_count(path: &Path) -> Result<u64> {
    Ok(stats_entries(path)?
        .iter()
        .filter(|e| {
            e.get("arch").and_then(|a| a.as_str()) == Some("SCMP_ARCH_X86_64")
                && e.get("nr").and_then(|n| n.as_u64()) == Some(u64::from(SYS_GETPPID))
        })
        .filter_map(|e| e.get("count").and_then(|c| c.as_u64()))
        .sum())
}

fn total_count(path: &Path) -> Result<u64> {
    Ok(stats_entries(path)?
        .iter()
        .filter_map(|e| e.get("count").and_then(|c| c.as_u64()))
        .sum())
}

/// The cgroup v2 directory of this process.
fn own_cgroup_dir() -> Result<PathBuf> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("cannot read mountinfo")?;
    let root = mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        })
        .context("no cgroup2 mount in /proc/self/mountinfo")?;
    let own =
        std::fs::read_to_string("/proc/self/cgroup").context("cannot read /proc/self/cgroup")?;
    let rel = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("this process has no cgroup v2 membership")?;
    Ok(root.join(rel.trim_start_matches('/')))
}

/// Removes an (empty) scratch cgroup, waiting briefly for exited members to go.
fn remove_cgroup(dir: &Path) {
    for _ in 0..200 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("xtask: warning: cannot remove cgroup {}", dir.display());
}

/// Programs attached to `sys_enter` right now (raw tracepoint links), from bpftool.
fn sys_enter_links() -> Option<usize> {
    let text = output(Command::new("bpftool").args(["link", "list"]))?;
    Some(
        text.lines()
            .filter(|l| l.contains("tp 'sys_enter'"))
            .count(),
    )
}

/// Whether `parent` has a child process whose command name is `name`.
fn has_child_named(parent: u32, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            return false;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        comm == name && ppid == Some(parent.to_string().as_str())
    })
}

fn machine_facts() -> Vec<(&'static str, String)> {
    let cmd = |prog: &str, args: &[&str]| {
        output(Command::new(prog).args(args))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let mut commit = cmd(
        "git",
        &[
            "-C",
            &root().to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    if output(Command::new("git").args(["-C", &root().to_string_lossy(), "status", "--porcelain"]))
        .is_some_and(|s| !s.trim().is_empty())
    {
        commit.push_str(" (with uncommitted changes)");
    }
    let strace = cmd("strace", &["-V"])
        .lines()
        .next()
        .unwrap_or("unknown")
        .to_owned();
    vec![
        ("date", cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("kernel", cmd("uname", &["-r"])),
        ("CPUs", cmd("nproc", &[])),
        ("CPU model", cpu_model),
        ("recorder commit", commit),
        ("strace", strace),
    ]
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

pub(crate) fn median(v: &[f64]) -> f64 {
    let s = sorted(v);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile (`q` in 0..=1).
fn percentile(v: &[f64], q: f64) -> f64 {
    let s = sorted(v);
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = (q * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn p90(v: &[f64]) -> f64 {
    percentile(v, 0.9)
}

pub(crate) fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

pub(crate) fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(p90(&(1..=10).map(f64::from).collect::<Vec<_>>()), 9.0);
        assert_eq!(p90(&[5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn loop_record_is_parsed() {
        use std::os::unix::process::ExitStatusExt;
        let n = 1000 * CHUNKS as u64;
        let mut stdout = b"noise".to_vec();
        stdout.extend_from_slice(MARKER);
        let mut push = |ns: i64| {
            stdout.extend_from_slice(&(ns / 1_000_000_000).to_le_bytes());
            stdout.extend_from_slice(&(ns % 1_000_000_000).to_le_bytes());
        };
        // Monotonic before, then the CPU clock at the chunk boundaries: chunk i takes
        // 100 µs + i µs of CPU time (100 + i ns per call), then monotonic after.
        push(500_000_000);
        let mut t = 1_000_000_000i64;
        push(t);
        for i in 0..CHUNKS as i64 {
            t += 100_000 + 1000 * i;
            push(t);
        }
        push(500_000_000 + 1000 * (t - 1_000_000_000));
        let out = Output {
            status: std::process::ExitStatus::from_raw(0),
            stdout,
            stderr: Vec::new(),
        };
        let s = parse_loop_output(&out, n, Duration::from_secs(1)).expect("parses");
        let mean = 100.0 + (CHUNKS as f64 - 1.0) / 2.0;
        assert!((s.cpu - mean).abs() < 1e-9, "{}", s.cpu);
        assert!((s.mono - 1000.0 * mean).abs() < 1e-6, "{}", s.mono);
        // 5th percentile of 100..150 over 50 chunks: the 3rd smallest.
        assert!((percentile(&s.rates, STEADY_PERCENTILE) - 102.0).abs() < 1e-9);
        assert!((s.wall - 1e9 / n as f64).abs() < 1e-9);
    }
}
