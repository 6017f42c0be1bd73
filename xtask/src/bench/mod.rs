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

pub mod agent;
pub mod cbpf;
pub mod enforced;
pub mod hook;
mod loss;
mod markdown;
mod markdown_scale;
mod measure;
mod per_syscall;
mod scale;
mod stats;
mod whole;
pub mod workloads;

use markdown::Report;
use measure::*;
use stats::*;
pub(crate) use stats::{max, median, min};

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

/// What `cargo xtask bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything, written to docs/benchmarks.md.
    Full,
    /// The per-syscall goals from a short run; exits non-zero on a miss.
    Quick,
    /// Only the scale and loss runs, printed.
    Scale,
}

impl Mode {
    fn flag(self) -> Option<&'static str> {
        match self {
            Mode::Full => None,
            Mode::Quick => Some("--quick"),
            Mode::Scale => Some("--scale-only"),
        }
    }
}

/// Entry point of `cargo xtask bench`.
pub fn run(iterations: u64, runs: usize, mode: Mode) -> Result<()> {
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
            .args(mode.flag())
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
    if mode == Mode::Scale {
        let slice_n = iterations / SLICES as u64;
        let prog = loop_program(&bench.work, "getppid-loop", slice_n)?;
        bench
            .record_status(&["true"])
            .context("warm-up record -- true")?;
        let scale = bench.scale(&prog, slice_n)?;
        let loss = bench.loss()?;
        drop(bench);
        println!("{}", markdown_scale::scale_section(&scale, slice_n));
        println!("{}", markdown_scale::loss_section(&loss));
        ensure!(
            loss.exact(),
            "bench --scale-only: a count was not exact (above)"
        );
        return Ok(());
    }
    if mode == Mode::Quick {
        let (mut goals, mut pass) = bench.quick(iterations, QUICK_ROUNDS)?;
        drop(bench);
        let w = workloads::run(&bin, workloads::QUICK_ROUNDS)?;
        for g in w.goals() {
            let _ = writeln!(goals, "{}: {} ({})", g.what, g.measured, g.verdict);
            pass &= g.pass;
        }
        println!("{goals}");
        ensure!(pass, "bench --quick: a goal was missed (above)");
        eprintln!("xtask: bench --quick: every goal met");
        return Ok(());
    }
    let (mut report, exact) = bench.all(iterations, runs)?;
    drop(bench);
    let work = std::env::temp_dir().join(format!("xtask-bench-hook-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("cannot create the hook benchmark's temp dir")?;
    let hook_section = hook::section(&bin, &work, runs);
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
    // The node agent's section comes from `cargo xtask bench-agent`: kept.
    if let Some(agent) = std::fs::read_to_string(&path)
        .ok()
        .as_deref()
        .and_then(agent::section_of)
    {
        report = agent::with_section(&report, agent);
    }
    std::fs::create_dir_all(root().join("docs")).context("cannot create docs/")?;
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("xtask: wrote {}", path.display());
    ensure!(
        exact,
        "bench: a recorded count was not exact (see the loss section)"
    );
    Ok(())
}

/// The empty `sys_enter` program; detached when the returned value is dropped.
#[cfg(feature = "floor")]
fn attach_floor() -> Result<Box<dyn std::any::Any>> {
    let floor = seccomp_recorder::kernel::tracer::FloorProgram::attach()
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
    /// Whether the recorder has exited (reaped).
    fn ended(&mut self) -> Result<bool> {
        Ok(self
            .child
            .try_wait()
            .context("cannot poll the background recorder")?
            .is_some())
    }

    /// SIGTERM (the recorder forwards it to `sleep` and cleans up), then waits.
    fn stop(&mut self) -> Result<()> {
        if self.ended()? {
            return Ok(());
        }
        let pid = i32::try_from(self.child.id()).context("pid out of range")?;
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ended()? {
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

    /// The whole benchmark: the report, and whether every count was exact.
    fn all(&mut self, iterations: u64, runs: usize) -> Result<(String, bool)> {
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
        eprintln!("xtask: bench: scale (1 to 256 recordings at once, cgroup depth 1/3/6)");
        let scale = self.scale(&prog, slice_n)?;
        eprintln!("xtask: bench: loss (50M calls from 16 threads; 64 recordings at once)");
        let loss = self.loss()?;
        eprintln!("xtask: bench: realistic workloads");
        let workloads = workloads::run(&self.bin, workloads::DEFAULT_ROUNDS)?;

        let load_after = loadavg();
        let foreign_at_end = sys_enter_links();
        let mut more_goals = vec![markdown_scale::scale_goal(&scale)];
        more_goals.extend(markdown_scale::loss_goals(&loss));
        more_goals.extend(workloads.goals());
        let mut md = self.report(Report {
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
            more_goals,
        });
        md.push('\n');
        md.push_str(&markdown_scale::scale_section(&scale, slice_n));
        md.push_str(&markdown_scale::loss_section(&loss));
        md.push_str(&workloads.markdown());
        Ok((md, loss.exact()))
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
}

/// (wall ms, CPU ms) of the busy workload: bare, recorded, under strace.
type BusyRound = [(f64, f64); 3];
