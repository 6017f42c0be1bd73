//! Realistic workloads, each bare, recorded (`seccomp-recorder record --stats`) and
//! under `strace -f -c`: spawn-to-exit wall time and the CPU time (user + sys) of the
//! whole process tree, the recorder or strace included. Goal: recorded ≤ 1.10× bare.
//!
//! - busy: `sh -c 'for i in $(seq 2000); do cat /etc/hostname >/dev/null; done'`, many
//!   short processes (fork + exec + dynamic loading each time).
//! - python: a python3 script with four threads creating, writing (some fsync'ed),
//!   stat'ing, renaming, reading, listing and unlinking small files in a temp dir,
//!   interleaved with pure-Python computation (which holds the GIL).
//! - gcc: a generated C project (30 files and a main) built by `make -B -j2` with gcc -O2.
//!
//! Rounds are interleaved: each round runs every workload in every configuration, the
//! configurations' order rotating from round to round, so that the machine's phases (other
//! load on the VM) hit all configurations alike. A warm-up (one `record -- true`, which
//! pins the program, and one bare run of each workload) is not counted.
//!
//! `cargo xtask bench-workloads [--rounds N]` runs this alone (hidden subcommand); the main
//! bench calls [`run_with`] with its own isolated pin directories.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use super::{catch_interrupts, check_interrupted, dev_null_ok, loadavg, max, median, min};
use crate::{cargo, output, root, sh, IsolatedState};

mod markdown;
mod project;

use project::{c_project, MAKEFILE, PY_SCRIPT};

/// Goal: recorded wall and CPU time at most this many times bare.
pub const GOAL: f64 = 1.10;
/// Default rounds of the hidden subcommand.
pub const DEFAULT_ROUNDS: usize = 5;
/// With this many rounds or fewer (the quick setting, a goal check) strace is left out by
/// default: it takes 20–80 s on the busy loop alone, depending on the machine's load.
pub(in crate::bench) const QUICK_ROUNDS: usize = 2;
/// The busy workload's shell script.
const BUSY_SCRIPT: &str = "for i in $(seq 2000); do cat /etc/hostname >/dev/null; done";
/// Files per thread of the python workload.
const PY_FILES: u32 = 600;
/// Size of the python workload's computation per file (terms of a sum of squares).
const PY_COMPUTE: u32 = 12_000;
/// Generated C files of the gcc workload (plus main.c).
const C_FILES: usize = 30;
/// Functions (pairs) per generated C file.
const C_FUNCS: usize = 12;
/// Parallel jobs of the gcc workload's make.
const MAKE_JOBS: &str = "-j2";

/// Where the recorder keeps its pins and state for this benchmark alone (never shared
/// with other users of the machine's recorder).
pub fn default_env() -> IsolatedState {
    IsolatedState {
        bpf_dir: PathBuf::from("/sys/fs/bpf/sr-workloads"),
        run_dir: PathBuf::from("/tmp/sr-workloads-run"),
    }
}

/// Entry point of the hidden `cargo xtask bench-workloads`: builds the release binary,
/// measures, prints the markdown; fails when a goal is missed.
pub fn cli(rounds: usize) -> Result<()> {
    if !crate::is_root() {
        bail!("cargo xtask bench-workloads must run as root (it loads eBPF programs)");
    }
    sh(cargo().args(["build", "--release", "-p", "seccomp-recorder"]))?;
    let bin = root().join("target/release/seccomp-recorder");
    catch_interrupts();
    let w = run(&bin, rounds)?;
    println!("{}", w.markdown());
    ensure!(
        w.all_pass(),
        "a workload's recorded run costs more than {GOAL:.2}× bare"
    );
    Ok(())
}

/// How many rounds to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Measured rounds (bare and recorded run in each).
    pub rounds: usize,
    /// Of these, the last `strace_rounds` also run strace (0: no strace rows).
    pub strace_rounds: usize,
}

impl Plan {
    /// `rounds` rounds; strace in all of them, or in none in the quick setting (≤ 2
    /// rounds), which then finishes in about a minute on a quiet machine.
    pub fn new(rounds: usize) -> Self {
        Plan {
            rounds,
            strace_rounds: if rounds <= QUICK_ROUNDS { 0 } else { rounds },
        }
    }
}

/// Measures the workloads with the default isolated pin directories.
pub fn run(bin: &Path, rounds: usize) -> Result<Workloads> {
    run_with(bin, Plan::new(rounds), &default_env())
}

/// Measures the workloads; the recorder runs with `env`'s pin and run directories,
/// which are unloaded and removed at the end (also on error).
pub fn run_with(bin: &Path, plan: Plan, env: &IsolatedState) -> Result<Workloads> {
    ensure!(plan.rounds >= 1, "at least one round is needed");
    ensure!(
        plan.strace_rounds <= plan.rounds,
        "strace rounds ({}) exceed the rounds ({})",
        plan.strace_rounds,
        plan.rounds
    );
    let strace: &[&str] = if plan.strace_rounds > 0 {
        &["strace"]
    } else {
        &[]
    };
    for tool in ["sh", "seq", "cat", "gcc", "make"].iter().chain(strace) {
        ensure!(
            output(Command::new("sh").args(["-c", &format!("command -v {tool}")])).is_some(),
            "{tool} is not installed"
        );
    }
    ensure!(
        dev_null_ok(),
        "/dev/null is not the null character device; recreate it: \
         rm /dev/null && mknod -m 666 /dev/null c 1 3"
    );
    let work = std::env::temp_dir().join(format!("xtask-workloads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    // Others may rebuild target/release while this runs: record with a private copy.
    let own_bin = work.join("seccomp-recorder");
    std::fs::copy(bin, &own_bin)
        .with_context(|| format!("cannot copy {} to {}", bin.display(), own_bin.display()))?;
    let guard = Guard {
        bin: own_bin,
        env,
        work,
        done: false,
    };
    // A previous interrupted run may have left recording slots behind.
    let _ = guard.recorder().arg("gc").stdout(Stdio::null()).status();
    let result = measure(&guard, plan);
    guard.finish();
    result
}

/// Unloads the recorder and removes its directories and the work dir on every path.
struct Guard<'e> {
    bin: PathBuf,
    env: &'e IsolatedState,
    work: PathBuf,
    done: bool,
}

impl Guard<'_> {
    fn recorder(&self) -> Command {
        let mut c = Command::new(&self.bin);
        self.env.apply(&mut c);
        c
    }

    fn finish(mut self) {
        self.cleanup();
    }

    fn cleanup(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let unload = |g: &Self| {
            g.recorder()
                .arg("unload")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !unload(self) {
            // Slots of a recording killed half-way: release them, then unload.
            let _ = self.recorder().arg("gc").stdout(Stdio::null()).status();
            if !unload(self) {
                eprintln!(
                    "xtask: warning: `seccomp-recorder unload` failed for {}",
                    self.env.bpf_dir.display()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.env.bpf_dir);
        let _ = std::fs::remove_dir_all(&self.env.run_dir);
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Configurations, in the column order of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    Bare,
    Recorded,
    Strace,
}

impl Config {
    const ALL: [Config; 3] = [Config::Bare, Config::Recorded, Config::Strace];

    fn label(self) -> &'static str {
        match self {
            Config::Bare => "bare",
            Config::Recorded => "recorded",
            Config::Strace => "strace -f -c",
        }
    }
}

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Busy,
    Python,
    Gcc,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Busy, Kind::Python, Kind::Gcc];

    fn name(self) -> &'static str {
        match self {
            Kind::Busy => "busy shell loop",
            Kind::Python => "python3 threads + files",
            Kind::Gcc => "gcc via make -j2",
        }
    }

    fn describe(self, python: &Path) -> String {
        match self {
            Kind::Busy => format!("`sh -c '{BUSY_SCRIPT}'`"),
            Kind::Python => format!(
                "`{}` script: 4 threads × {PY_FILES} files of 4 KiB (write, fsync every 100th, \
                 stat, rename, read, listdir every 16th, unlink) + a sum of {PY_COMPUTE} \
                 squares per file",
                python.display()
            ),
            Kind::Gcc => format!(
                "`make -B {MAKE_JOBS} CC=gcc`: {C_FILES} generated C files × {C_FUNCS} \
                 function pairs + main.c, `gcc -O2 -Wall -c` each, then the link"
            ),
        }
    }
}

/// One run: spawn-to-exit wall time and the CPU time of the reaped process tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub wall_ms: f64,
    pub user_ms: f64,
    pub sys_ms: f64,
}

impl Run {
    fn cpu_ms(&self) -> f64 {
        self.user_ms + self.sys_ms
    }
}

/// One workload's samples, per round.
#[derive(Debug, Clone)]
struct Measured {
    kind: Kind,
    description: String,
    /// Per round: bare, recorded, strace (strace only in some rounds).
    rounds: Vec<[Option<Run>; 3]>,
    /// Syscalls per recorded run, from `record --stats`.
    syscalls: Vec<u64>,
}

/// The results, for the report.
#[derive(Debug, Clone)]
pub struct Workloads {
    rounds: usize,
    strace_rounds: usize,
    load_before: String,
    load_after: String,
    measured: Vec<Measured>,
}

/// The configurations of round `round`, rotated so that each takes every position.
fn order(round: usize, with_strace: bool) -> Vec<Config> {
    (0..3)
        .map(|k| Config::ALL[(round + k) % 3])
        .filter(|c| with_strace || *c != Config::Strace)
        .collect()
}

/// Prepared inputs: the commands of each workload.
struct Prepared {
    python: PathBuf,
    py_script: PathBuf,
    py_dir: PathBuf,
    c_dir: PathBuf,
}

impl Prepared {
    fn new(work: &Path) -> Result<Self> {
        let python = python3()?;
        let py_script = work.join("workload.py");
        std::fs::write(&py_script, PY_SCRIPT).context("cannot write the python workload")?;
        let c_dir = work.join("cproject");
        std::fs::create_dir_all(&c_dir).context("cannot create the C project dir")?;
        for (name, text) in c_project(C_FILES, C_FUNCS) {
            std::fs::write(c_dir.join(&name), text)
                .with_context(|| format!("cannot write {name}"))?;
        }
        std::fs::write(c_dir.join("Makefile"), MAKEFILE).context("cannot write the Makefile")?;
        Ok(Prepared {
            python,
            py_script,
            py_dir: work.join("pyfiles"),
            c_dir,
        })
    }

    /// The workload's command line.
    fn argv(&self, kind: Kind) -> Vec<String> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        match kind {
            Kind::Busy => vec!["sh".into(), "-c".into(), BUSY_SCRIPT.into()],
            Kind::Python => vec![
                s(&self.python),
                s(&self.py_script),
                s(&self.py_dir),
                PY_FILES.to_string(),
                PY_COMPUTE.to_string(),
            ],
            Kind::Gcc => vec![
                "make".into(),
                "-s".into(),
                "-B".into(),
                MAKE_JOBS.into(),
                "-C".into(),
                s(&self.c_dir),
                "CC=gcc".into(),
            ],
        }
    }

    /// Untimed preparation before each run.
    fn reset(&self, kind: Kind) -> Result<()> {
        if kind == Kind::Python {
            let _ = std::fs::remove_dir_all(&self.py_dir);
            std::fs::create_dir_all(&self.py_dir)
                .with_context(|| format!("cannot create {}", self.py_dir.display()))?;
        }
        Ok(())
    }
}

fn measure(g: &Guard, plan: Plan) -> Result<Workloads> {
    let Plan {
        rounds,
        strace_rounds,
    } = plan;
    let prep = Prepared::new(&g.work)?;
    let load_before = loadavg();
    let profile = g.work.join("profile.json");
    let stats = g.work.join("stats.json");
    let errlog = g.work.join("stderr.txt");

    let started = Instant::now();
    eprintln!("xtask: workloads: warm-up");
    let mut warm = g.recorder();
    warm.arg("record")
        .arg("-o")
        .arg(&profile)
        .args(["--", "true"]);
    timed(&mut warm, &errlog).context("warm-up `record -- true`")?;
    for kind in Kind::ALL {
        prep.reset(kind)?;
        timed(&mut command(&prep.argv(kind)), &errlog)
            .with_context(|| format!("warm-up run of {}", kind.name()))?;
    }

    let mut measured: Vec<Measured> = Kind::ALL
        .iter()
        .map(|&kind| Measured {
            kind,
            description: kind.describe(&prep.python),
            rounds: Vec::new(),
            syscalls: Vec::new(),
        })
        .collect();
    for round in 0..rounds {
        let with_strace = round >= rounds - strace_rounds;
        for m in &mut measured {
            check_interrupted()?;
            eprintln!(
                "xtask: workloads: round {}/{rounds}: {} (at {:.0} s)",
                round + 1,
                m.kind.name(),
                started.elapsed().as_secs_f64()
            );
            let argv = prep.argv(m.kind);
            let mut row = [None; 3];
            for config in order(round, with_strace) {
                prep.reset(m.kind)?;
                let mut cmd = match config {
                    Config::Bare => command(&argv),
                    Config::Recorded => {
                        let _ = std::fs::remove_file(&stats);
                        let mut c = g.recorder();
                        c.arg("record")
                            .arg("-o")
                            .arg(&profile)
                            .arg("--stats")
                            .arg(&stats)
                            .arg("--")
                            .args(&argv);
                        c
                    }
                    Config::Strace => {
                        let mut c = Command::new("strace");
                        c.args(["-f", "-c", "-o", "/dev/null"]).args(&argv);
                        c
                    }
                };
                let run = timed(&mut cmd, &errlog)
                    .with_context(|| format!("{} {}", config.label(), m.kind.name()))?;
                if config == Config::Recorded {
                    let text = std::fs::read_to_string(&stats)
                        .with_context(|| format!("cannot read {}", stats.display()))?;
                    m.syscalls.push(stats_total(&text)?);
                }
                row[config as usize] = Some(run);
            }
            m.rounds.push(row);
        }
    }
    eprintln!(
        "xtask: workloads: measured in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Workloads {
        rounds,
        strace_rounds,
        load_before,
        load_after: loadavg(),
        measured,
    })
}

fn command(argv: &[String]) -> Command {
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

/// Runs `cmd` (stdin and stdout on /dev/null, stderr to `errlog`) and reaps it with
/// wait4: its rusage covers it and every descendant it waited for.
fn timed(cmd: &mut Command, errlog: &Path) -> Result<Run> {
    let err = std::fs::File::create(errlog)
        .with_context(|| format!("cannot create {}", errlog.display()))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = loop {
        // SAFETY: wait4 on our own, not yet reaped child with valid out pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break rc;
        }
    };
    let wall = start.elapsed();
    ensure!(rc == pid, "wait4: {}", std::io::Error::last_os_error());
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        let text = std::fs::read_to_string(errlog).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{cmd:?} failed with {exit}: {}", tail.join("\n"));
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok(Run {
        wall_ms: wall.as_secs_f64() * 1e3,
        user_ms: ms(usage.ru_utime),
        sys_ms: ms(usage.ru_stime),
    })
}

/// Total count of a `record --stats` file.
fn stats_total(text: &str) -> Result<u64> {
    let v: serde_json::Value = serde_json::from_str(text).context("--stats output is not JSON")?;
    let entries = v
        .get("syscalls")
        .and_then(|s| s.as_array())
        .context("--stats output has no syscalls array")?;
    entries
        .iter()
        .map(|e| {
            e.get("count")
                .and_then(|c| c.as_u64())
                .context("--stats entry without a count")
        })
        .sum()
}

/// /usr/bin/python3 when present (not a pyenv shim, which adds a shell and its forks),
/// else python3 from PATH.
fn python3() -> Result<PathBuf> {
    let system = Path::new("/usr/bin/python3");
    if system.exists() {
        return Ok(system.to_path_buf());
    }
    let found = output(Command::new("sh").args(["-c", "command -v python3"]))
        .context("python3 is not installed")?;
    Ok(PathBuf::from(found.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(wall_ms: f64, cpu_ms: f64) -> Run {
        Run {
            wall_ms,
            user_ms: cpu_ms * 0.75,
            sys_ms: cpu_ms * 0.25,
        }
    }

    fn sample(recorded_factor: f64, strace_everywhere: bool) -> Workloads {
        let measured = Kind::ALL
            .iter()
            .map(|&kind| Measured {
                kind,
                description: kind.describe(Path::new("/usr/bin/python3")),
                rounds: (0..3)
                    .map(|i| {
                        let b = 1000.0 + 10.0 * i as f64;
                        [
                            Some(run(b, b / 2.0)),
                            Some(run(b * recorded_factor, b / 2.0 * recorded_factor)),
                            (strace_everywhere || i == 2).then(|| run(b * 5.0, b * 3.0)),
                        ]
                    })
                    .collect(),
                syscalls: vec![1000, 1002, 1001],
            })
            .collect();
        Workloads {
            rounds: 3,
            strace_rounds: 1,
            load_before: "1.00 1.00 1.00".into(),
            load_after: "1.00 1.00 1.00".into(),
            measured,
        }
    }

    #[test]
    fn statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(min(&[3.0, 1.0, 2.0]), 1.0);
        assert_eq!(max(&[3.0, 1.0, 2.0]), 3.0);
    }

    #[test]
    fn ratios_are_paired_per_round() {
        let w = sample(1.05, false);
        let m = &w.measured[0];
        let r = m.summary(Config::Recorded).expect("recorded");
        assert!((r.wall_ratio - 1.05).abs() < 1e-9, "{}", r.wall_ratio);
        assert!((r.cpu_ratio - 1.05).abs() < 1e-9, "{}", r.cpu_ratio);
        assert_eq!(r.n, 3);
        assert!((r.wall.0 - 1010.0 * 1.05).abs() < 1e-9);
        assert!((r.sys - 1010.0 / 2.0 * 1.05 * 0.25).abs() < 1e-9);
        // strace only ran in the last round: paired with that round's bare run.
        let st = m.summary(Config::Strace).expect("strace");
        assert_eq!(st.n, 1);
        assert!((st.wall_ratio - 5.0).abs() < 1e-9);
        assert!((st.cpu_ratio - 6.0).abs() < 1e-9);
    }

    #[test]
    fn goals() {
        assert!(sample(1.05, true).all_pass());
        assert!(sample(1.10, true).all_pass());
        assert!(!sample(1.2, true).all_pass());
        let md = sample(1.2, true).markdown();
        assert!(md.contains("| busy shell loop | 1.20× | MISS (+9 % over goal) | 1.20× | MISS"));
    }

    #[test]
    fn markdown_shape() {
        let md = sample(1.05, false).markdown();
        assert!(md.starts_with("## Realistic workloads\n"));
        assert!(md.contains("3 round(s), strace in the last 1;"), "{md}");
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        // Results: header + 3 workloads × 3 configurations; goals: header + 3.
        assert_eq!(rows.len(), 1 + 9 + 1 + 3, "{md}");
        let cols = |l: &str| l.matches('|').count();
        assert!(rows[..10].iter().all(|l| cols(l) == cols(rows[0])), "{md}");
        assert!(rows[10..].iter().all(|l| cols(l) == cols(rows[10])), "{md}");
        assert!(md.contains(
            "| busy shell loop | recorded | 3 | 1060 (1050–1071) | 1.05× | 530 (525–536) | 133 | 1.05× | 1001 (1000–1002) |"
        ), "{md}");
        assert!(
            md.contains("| gcc via make -j2 | strace -f -c | 1 | 5100 (5100–5100) | 5.00× |"),
            "{md}"
        );
        assert_eq!(md.matches("| PASS |").count(), 6, "{md}");
        // Added CPU per syscall: (530.25 - 505) ms / 1001 calls.
        assert!(md.contains("| +25225 ns |"), "{md}");
    }

    #[test]
    fn stats_are_summed() {
        let text = r#"{"syscalls": [
            {"arch": "SCMP_ARCH_X86_64", "nr": 0, "name": "read", "count": 6},
            {"arch": "SCMP_ARCH_X86", "nr": 3, "name": "read", "count": 4}
        ]}"#;
        assert_eq!(stats_total(text).expect("parses"), 10);
        assert_eq!(stats_total(r#"{"syscalls": []}"#).expect("parses"), 0);
        assert!(stats_total("{}").is_err());
        assert!(stats_total(r#"{"syscalls": [{"name": "read"}]}"#).is_err());
        assert!(stats_total("not json").is_err());
    }

    #[test]
    fn rounds_rotate_and_quick_mode_has_no_strace() {
        assert_eq!(
            order(0, true),
            [Config::Bare, Config::Recorded, Config::Strace]
        );
        assert_eq!(
            order(1, true),
            [Config::Recorded, Config::Strace, Config::Bare]
        );
        assert_eq!(order(2, false), [Config::Bare, Config::Recorded]);
        assert_eq!(Plan::new(1).strace_rounds, 0);
        assert_eq!(Plan::new(2).strace_rounds, 0);
        assert_eq!(Plan::new(5).strace_rounds, 5);
        assert_eq!(Plan::new(5).rounds, 5);
    }

    #[test]
    fn c_project_is_deterministic() {
        let a = c_project(3, 2);
        assert_eq!(a, c_project(3, 2));
        assert_eq!(a.len(), 4);
        assert_eq!(a[3].0, "main.c");
        assert!(a[3].1.contains("a += work_2_1(a);"));
        assert!(a[0].1.contains("uint64_t work_0_1(uint64_t seed)"));
    }
}
