//! `cargo xtask bench-enforced [--quick]`: what a seccomp profile costs once it is
//! enforced (issue 11, item 6), for our recorded profile against podman's default, through
//! `seccomp-recorder enforce`, crun bundles and runc bundles.
//!
//! - The workload is `enfbench.c` (static, built here with gcc): per round, ITERS calls
//!   of `getppid` (allowed outright), `personality(0xffffffff)` (allowed by an argument
//!   rule in both profiles), `socket(AF_UNIX, SOCK_STREAM)` + `close` (full mode only:
//!   the call itself is ~4 µs), and `afs_syscall` (denied by both), each timed with the
//!   thread's CPU clock (time other processes take on the shared CPUs is not counted).
//! - Profiles: podman's default as podman itself turns it into OCI `linux.seccomp`
//!   (`podman create` in an isolated store, read from the container's config.json: what
//!   crun gets from podman), and ours, recorded from the same program with
//!   `record --args --runtime any` and without `--args` (names only, the default).
//! - Configurations run interleaved round-robin in the same run; per configuration and
//!   syscall all chunk rates are pooled: 5th percentile (steady) and median.
//! - Synthetic filters (installed by enfbench itself, 300 allowed numbers): `getppid`
//!   first vs last, unconditional vs behind an argument load, to show the kernel's
//!   action cache.
//! - The loaded filters are dumped with `PTRACE_SECCOMP_GET_FILTER` and analysed with
//!   [`super::cbpf`] (instruction count, tree or linear, path length per syscall,
//!   cacheable or not).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::bench::cbpf;
use dump::*;
use setup::*;

mod dump;
mod setup;
use super::stats::percentile;

const C_SOURCE: &str = include_str!("enfbench.c");
/// Bits of enfbench's MASK, in its output order.
const SYSCALLS: [&str; 4] = ["getppid", "personality", "socket", "denied"];
/// The calls as the filters see them (x86_64 numbers and arguments).
const CALLS: [(u32, [u64; 6]); 4] = [
    (110, [0; 6]),
    (135, [0xffff_ffff, 0, 0, 0, 0, 0]),
    (41, [1, 1, 0, 0, 0, 0]),
    (183, [0; 6]),
];
/// Podman's default profile file (podman/Docker format, archMap, includes by caps).
const PODMAN_FILE: &str = "/usr/share/containers/seccomp.json";
/// Podman's isolated store (never the host's).
const PODMAN_DIR: &str = "/tmp/enf-podman";
/// Pins and state of the recording (never a real installation's).
const BPF_DIR: &str = "/sys/fs/bpf/sr-enforced";
const RUN_DIR: &str = "/tmp/sr-enforced-run";
/// Relative and absolute slack of "ours costs no more than podman's default".
const TOLERANCE: f64 = 0.05;
const SLACK_NS: f64 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path3 {
    Bare,
    Enforce,
    Crun,
    Runc,
}

impl Path3 {
    fn label(self) -> &'static str {
        match self {
            Path3::Bare => "bare",
            Path3::Enforce => "enforce",
            Path3::Crun => "crun",
            Path3::Runc => "runc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prof {
    None,
    Podman,
    Ours,
    /// Ours recorded without `--args`: every syscall allowed by name only.
    OursNoArgs,
}

impl Prof {
    fn label(self) -> &'static str {
        match self {
            Prof::None => "no filter",
            Prof::Podman => "podman default",
            Prof::Ours => "ours (recorded)",
            Prof::OursNoArgs => "ours without --args",
        }
    }
}

/// One measured configuration.
#[derive(Debug, Clone)]
enum Config {
    Profile(Path3, Prof),
    /// enfbench's own filter: N allowed numbers, position (0 first, 1 last), kind (0
    /// getppid unconditional, 1 behind an argument load).
    Synth(u32, u32, u32),
}

impl Config {
    fn label(&self) -> String {
        match self {
            Config::Profile(p, f) => format!("{} / {}", p.label(), f.label()),
            Config::Synth(n, pos, kind) => format!(
                "synthetic {n} allowed, getppid+personality {}, getppid {}",
                if *pos == 0 { "first" } else { "last" },
                if *kind == 0 {
                    "unconditional"
                } else {
                    "behind an arg load"
                }
            ),
        }
    }
}

struct Work {
    dir: PathBuf,
    prog: PathBuf,
    bin: PathBuf,
    podman_json: PathBuf,
    ours_json: PathBuf,
    noargs_json: PathBuf,
    template: Value,
    seq: usize,
}

impl Drop for Work {
    fn drop(&mut self) {
        for (rt, state) in [("crun", "crun-state"), ("runc", "runc-state")] {
            let state = self.dir.join(state);
            if let Ok(rd) = std::fs::read_dir(&state) {
                for e in rd.flatten() {
                    let _ = Command::new(rt)
                        .arg("--root")
                        .arg(&state)
                        .args(["delete", "-f"])
                        .arg(e.file_name())
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Entry point: measures, returns the markdown section; Err when ours costs more than
/// podman's default for an allowed syscall.
pub fn run(bin: &Path, quick: bool) -> Result<String> {
    ensure!(
        crate::output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0"),
        "bench-enforced needs root (ptrace of the filters, containers)"
    );
    ensure!(
        bin.exists(),
        "{} is missing (cargo build --release -p seccomp-recorder)",
        bin.display()
    );
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("enf-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rootfs"))?;
    let mut w = Work {
        prog: dir.join("rootfs/enfbench"),
        podman_json: dir.join("podman-default.oci.json"),
        ours_json: dir.join("ours.json"),
        noargs_json: dir.join("ours-noargs.json"),
        bin: bin.to_path_buf(),
        template: Value::Null,
        seq: 0,
        dir,
    };
    let src = w.dir.join("enfbench.c");
    std::fs::write(&src, C_SOURCE)?;
    crate::sh(
        Command::new("gcc")
            .args(["-O2", "-static", "-o"])
            .arg(&w.prog)
            .arg(&src),
    )
    .context("building enfbench (gcc, libc6-dev)")?;
    podman_default(&w.podman_json)?;
    record_ours(&w)?;
    w.template = runc_template(&w)?;

    let (iters, rounds, outer, mask) = if quick {
        (40_000u64, 4u32, 3usize, 0b1111u32)
    } else {
        (200_000, 10, 7, 0b1111)
    };
    let mut configs = vec![Config::Profile(Path3::Bare, Prof::None)];
    for p in [Path3::Enforce, Path3::Crun, Path3::Runc] {
        for f in [Prof::Podman, Prof::Ours, Prof::OursNoArgs] {
            configs.push(Config::Profile(p, f));
        }
    }
    if !quick {
        configs.push(Config::Profile(Path3::Crun, Prof::None));
        configs.push(Config::Profile(Path3::Runc, Prof::None));
    }
    for (pos, kind) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        configs.push(Config::Synth(300, pos, kind));
    }
    configs.push(Config::Synth(8, 0, 0));

    // samples[config][syscall] = all chunk rates
    let mut samples: Vec<[Vec<f64>; 4]> = vec![Default::default(); configs.len()];
    for round in 0..outer {
        eprintln!("xtask: bench-enforced: round {}/{outer}", round + 1);
        for step in 0..configs.len() {
            let i = (step + round) % configs.len();
            let args = match &configs[i] {
                Config::Profile(..) => {
                    vec![
                        "run".into(),
                        iters.to_string(),
                        rounds.to_string(),
                        mask.to_string(),
                    ]
                }
                Config::Synth(n, pos, kind) => vec![
                    "synth".into(),
                    n.to_string(),
                    pos.to_string(),
                    kind.to_string(),
                    iters.to_string(),
                    rounds.to_string(),
                    (mask & 0b1011).to_string(),
                ],
            };
            let out = w.launch(&configs[i], &args)?;
            for line in out.lines() {
                let mut words = line.split_whitespace();
                if words.next() != Some("R") {
                    continue;
                }
                let name = words.next().unwrap_or_default();
                let k = SYSCALLS
                    .iter()
                    .position(|s| *s == name)
                    .with_context(|| format!("unknown line {line}"))?;
                for v in words {
                    samples[i][k].push(v.parse().context("enfbench output")?);
                }
            }
        }
    }

    let dumps = w.dumps()?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Cost of the enforced profile (`cargo xtask bench-enforced{}`)\n",
        if quick { " --quick" } else { "" }
    );
    let _ = writeln!(
        s,
        "Workload: enfbench (static C), per round {iters} calls of each syscall ({} for \
         socket+close), {rounds} rounds per run, {outer} runs per configuration interleaved \
         round-robin; thread CPU time per call in ns: p5 (steady) and median of the {} pooled \
         chunks. Podman's default = the OCI `linux.seccomp` podman {} generates (from \
         /usr/share/containers/seccomp.json with its default capabilities); ours = \
         `record --args --runtime any` of the same program, and the same without `--args` \
         (names only). Kernel {}, {} CPUs; other \
         work ran on this machine at the same time: compare within this table only.\n",
        iters / 16 + 1,
        rounds as usize * outer,
        crate::output(Command::new("podman").arg("--version"))
            .unwrap_or_default()
            .trim()
            .trim_start_matches("podman version "),
        crate::output(Command::new("uname").arg("-r"))
            .unwrap_or_default()
            .trim(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let shown: Vec<usize> = (0..4).filter(|k| mask & (1 << k) != 0).collect();
    let _ = write!(s, "| Configuration |");
    for k in &shown {
        let _ = write!(s, " {} p5 | median |", SYSCALLS[*k]);
    }
    let _ = write!(s, "\n|---|");
    for _ in &shown {
        let _ = write!(s, "---|---|");
    }
    s.push('\n');
    let p5 = |i: usize, k: usize| percentile(&samples[i][k], 0.05);
    for (i, c) in configs.iter().enumerate() {
        let _ = write!(s, "| {} |", c.label());
        for k in &shown {
            let _ = write!(s, " {:.1} | {:.1} |", p5(i, *k), median(&samples[i][*k]));
        }
        s.push('\n');
    }

    // Verdict: per runtime path, every syscall allowed by ours.
    let idx = |p: Path3, f: Prof| {
        configs
            .iter()
            .position(|c| matches!(c, Config::Profile(a, b) if *a == p && *b == f))
    };
    let mut misses = Vec::new();
    // Deterministic: instructions run per call (0 when cached), ours > podman's.
    let mut more_work = Vec::new();
    let _ = writeln!(
        s,
        "\n### Ours vs podman's default (p5, ns/call; MISS when ours > podman × {:.2} + {SLACK_NS} ns)\n",
        1.0 + TOLERANCE
    );
    let _ = writeln!(
        s,
        "| Path | ours | syscall | podman | ours | ours − podman | filter steps podman / ours | verdict |\n|---|---|---|---|---|---|---|---|"
    );
    for (p, mine) in [Path3::Enforce, Path3::Crun, Path3::Runc]
        .into_iter()
        .flat_map(|p| [(p, Prof::Ours), (p, Prof::OursNoArgs)])
    {
        let (Some(a), Some(b)) = (idx(p, Prof::Podman), idx(p, mine)) else {
            continue;
        };
        for k in shown.iter().copied().filter(|k| *k != 3) {
            let (pod, ours) = (p5(a, k), p5(b, k));
            let steps = |f: Prof| {
                dumps
                    .iter()
                    .find(|d| d.path == p && d.prof == f)
                    .map(|d| d.calls[k].clone())
                    .unwrap_or_default()
            };
            let ok = ours <= pod * (1.0 + TOLERANCE) + SLACK_NS;
            let mut extra = false;
            let work = |f: Prof| {
                dumps
                    .iter()
                    .find(|d| d.path == p && d.prof == f)
                    .map(|d| d.work[k])
            };
            if let (Some(wp), Some(wo)) = (work(Prof::Podman), work(mine)) {
                if wo > wp {
                    extra = true;
                    more_work.push(format!(
                        "{} {} ({}): {} filter instructions, podman's default {}",
                        p.label(),
                        SYSCALLS[k],
                        mine.label(),
                        wo,
                        wp
                    ));
                }
            }
            if !ok {
                misses.push(format!(
                    "{} {} ({}): ours {ours:.1} ns > podman {pod:.1} ns",
                    p.label(),
                    SYSCALLS[k],
                    mine.label()
                ));
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {pod:.1} | {ours:.1} | {:+.1} | {} / {} | {} |",
                p.label(),
                mine.label(),
                SYSCALLS[k],
                ours - pod,
                steps(Prof::Podman),
                steps(mine),
                match (ok, extra) {
                    (true, false) => "ok",
                    (true, true) => "**MISS** (filter work)",
                    _ => "**MISS**",
                }
            );
        }
    }

    let _ = writeln!(
        s,
        "\n### Loaded filters (PTRACE_SECCOMP_GET_FILTER, disassembled by xtask/src/bench/cbpf.rs)\n\n\
         Steps = instructions the kernel runs for the call (`cached` = the kernel's action \
         cache allows it without running the filter: ALLOW decided from nr/arch alone).\n"
    );
    let _ = writeln!(
        s,
        "| Path / profile | instructions | nr compares | jgt/jge on nr (tree if > 4) | first compared numbers | getppid | personality(-1) | socket(AF_UNIX) | afs_syscall |\n|---|---|---|---|---|---|---|---|---|"
    );
    for d in &dumps {
        let _ = writeln!(
            s,
            "| {} / {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            d.path.label(),
            d.prof.label(),
            d.len,
            d.eq_count,
            d.ranges,
            d.first,
            d.calls[0],
            d.calls[1],
            d.calls[2],
            d.calls[3]
        );
    }
    let _ = writeln!(
        s,
        "\nFull disassemblies: {} (removed at the end; set ENF_KEEP_DUMPS=DIR to keep a copy).",
        w.dir.join("dump-*.txt").display()
    );
    if let Ok(keep) = std::env::var("ENF_KEEP_DUMPS") {
        std::fs::create_dir_all(&keep)?;
        for d in &dumps {
            std::fs::write(
                Path::new(&keep).join(format!("{}-{}.txt", d.path.label(), d.prof_short())),
                &d.text,
            )?;
        }
        std::fs::copy(
            &w.podman_json,
            Path::new(&keep).join("podman-default.oci.json"),
        )?;
        std::fs::copy(&w.ours_json, Path::new(&keep).join("ours.json"))?;
    }
    let _ = writeln!(s, "\nTook {:.0} s.", started.elapsed().as_secs_f64());
    if !more_work.is_empty() {
        let _ = writeln!(
            s,
            "\nFilter work (from the dumps, not noise): ours runs more instructions than \
             podman's default for: {}.",
            more_work.join("; ")
        );
    }
    // Filter work is exact where timing is noisy: it counts as a miss too.
    misses.extend(more_work.iter().map(|m| format!("{m} (filter work)")));
    if misses.is_empty() {
        let _ = writeln!(
            s,
            "\nVerdict: ok — ours costs no more than podman's default for every allowed syscall measured."
        );
        Ok(s)
    } else {
        let _ = writeln!(s, "\nVerdict: MISS — {}", misses.join("; "));
        println!("{s}");
        bail!(
            "ours costs more than podman's default: {}",
            misses.join("; ")
        )
    }
}

fn prof_short(f: Prof) -> &'static str {
    match f {
        Prof::None => "none",
        Prof::Podman => "podman",
        Prof::Ours => "ours",
        Prof::OursNoArgs => "ours-noargs",
    }
}

fn median(v: &[f64]) -> f64 {
    percentile(v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.05), 5.0);
        assert_eq!(median(&v), 50.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn embedded_source_has_every_mode() {
        for m in ["\"run\"", "\"synth\"", "PID %ld"] {
            assert!(C_SOURCE.contains(m), "{m}");
        }
    }
}
