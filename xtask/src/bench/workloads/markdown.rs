//! The workloads' summaries, goal verdicts and report section.

use std::fmt::Write as _;

use super::*;
use crate::bench::stats::Goal;

/// Per-configuration summary of one workload.
#[derive(Debug, Clone, Copy)]
pub(super) struct Summary {
    pub(super) n: usize,
    pub(super) wall: (f64, f64, f64),
    pub(super) cpu: (f64, f64, f64),
    pub(super) sys: f64,
    /// Median over the rounds of this configuration's time / bare's in the same round.
    pub(super) wall_ratio: f64,
    pub(super) cpu_ratio: f64,
}

impl Measured {
    pub(super) fn summary(&self, config: Config) -> Option<Summary> {
        let pairs: Vec<(Run, Run)> = self
            .rounds
            .iter()
            .filter_map(|r| Some((r[Config::Bare as usize]?, r[config as usize]?)))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        let of =
            |f: &dyn Fn(&Run) -> f64| -> Vec<f64> { pairs.iter().map(|(_, r)| f(r)).collect() };
        let triple = |v: &[f64]| (median(v), min(v), max(v));
        let ratio = |f: &dyn Fn(&Run) -> f64| {
            median(&pairs.iter().map(|(b, r)| f(r) / f(b)).collect::<Vec<_>>())
        };
        Some(Summary {
            n: pairs.len(),
            wall: triple(&of(&|r| r.wall_ms)),
            cpu: triple(&of(&|r| r.cpu_ms())),
            sys: median(&of(&|r| r.sys_ms)),
            wall_ratio: ratio(&|r| r.wall_ms),
            cpu_ratio: ratio(&|r| r.cpu_ms()),
        })
    }

    /// (wall pass, CPU pass) of the recorded configuration against [`GOAL`].
    pub(super) fn verdicts(&self) -> (bool, bool) {
        self.summary(Config::Recorded).map_or((false, false), |s| {
            (meets(s.wall_ratio), meets(s.cpu_ratio))
        })
    }
}

impl Workloads {
    /// Whether every workload's recorded run meets the goal, in wall and in CPU time.
    pub fn all_pass(&self) -> bool {
        self.measured.iter().all(|m| {
            let (wall, cpu) = m.verdicts();
            wall && cpu
        })
    }

    /// One goal row per workload: recorded ≤ [`GOAL`] × bare, in wall and in CPU time.
    pub(in crate::bench) fn goals(&self) -> Vec<Goal> {
        self.measured
            .iter()
            .map(|m| {
                let (wall, cpu) = m.verdicts();
                let measured = m.summary(Config::Recorded).map_or_else(
                    || "no paired rounds".to_owned(),
                    |s| format!("wall {:.2}×, CPU {:.2}×", s.wall_ratio, s.cpu_ratio),
                );
                let worst = m
                    .summary(Config::Recorded)
                    .map_or(f64::NAN, |s| s.wall_ratio.max(s.cpu_ratio));
                Goal {
                    what: format!(
                        "{} workload recorded: wall and CPU ≤ {GOAL:.2} × bare",
                        m.kind.name()
                    ),
                    measured,
                    verdict: verdict(wall && cpu, worst),
                    pass: wall && cpu,
                }
            })
            .collect()
    }

    /// The report section.
    pub fn markdown(&self) -> String {
        let mut s = String::from("## Realistic workloads\n\n");
        let strace = match self.strace_rounds {
            0 => "strace left out (quick setting)".to_owned(),
            n if n == self.rounds => "strace in each".to_owned(),
            n => format!("strace in the last {n}"),
        };
        let _ = writeln!(
            s,
            "Each workload bare, recorded (`seccomp-recorder record -o FILE --stats FILE -- CMD`, \
             program pinned: warm) and under `strace -f -c -o /dev/null CMD`; {} round(s), \
             {strace}; load average {} before, {} after.\n",
            self.rounds, self.load_before, self.load_after
        );
        for m in &self.measured {
            let _ = writeln!(s, "- {}: {}", m.kind.name(), m.description);
        }
        s.push_str(
            "\n| workload | configuration | runs | wall ms, median (min–max) | wall × bare | \
             CPU ms, median (min–max) | of it sys | CPU × bare | syscalls per run |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for m in &self.measured {
            let calls = if m.syscalls.is_empty() {
                "–".to_owned()
            } else {
                let v: Vec<f64> = m.syscalls.iter().map(|&c| c as f64).collect();
                let (lo, hi) = (min(&v), max(&v));
                if lo == hi {
                    format!("{lo:.0}")
                } else {
                    format!("{:.0} ({lo:.0}–{hi:.0})", median(&v))
                }
            };
            for config in Config::ALL {
                let Some(x) = m.summary(config) else {
                    continue;
                };
                let ratio = |r: f64| {
                    if config == Config::Bare {
                        "1.00".to_owned()
                    } else {
                        format!("{r:.2}×")
                    }
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.0} ({:.0}–{:.0}) | {} | {:.0} ({:.0}–{:.0}) | {:.0} | {} | {} |",
                    m.kind.name(),
                    config.label(),
                    x.n,
                    x.wall.0,
                    x.wall.1,
                    x.wall.2,
                    ratio(x.wall_ratio),
                    x.cpu.0,
                    x.cpu.1,
                    x.cpu.2,
                    x.sys,
                    ratio(x.cpu_ratio),
                    if config == Config::Recorded { calls.as_str() } else { "" },
                );
            }
        }
        let _ = writeln!(
            s,
            "\nGoals: recorded ≤ {GOAL:.2}× bare, in wall and in CPU time.\n\n\
             | workload | recorded wall × bare | wall | recorded CPU × bare | CPU | added CPU per recorded syscall |\n\
             |---|---:|---|---:|---|---:|"
        );
        for m in &self.measured {
            let Some(x) = m.summary(Config::Recorded) else {
                continue;
            };
            let (wall, cpu) = m.verdicts();
            let bare_cpu = m.summary(Config::Bare).map_or(f64::NAN, |b| b.cpu.0);
            let calls = median(&m.syscalls.iter().map(|&c| c as f64).collect::<Vec<_>>());
            let per_call = if calls > 0.0 {
                format!("{:+.0} ns", (x.cpu.0 - bare_cpu) * 1e6 / calls)
            } else {
                "–".to_owned()
            };
            let _ = writeln!(
                s,
                "| {} | {:.2}× | {} | {:.2}× | {} | {per_call} |",
                m.kind.name(),
                x.wall_ratio,
                verdict(wall, x.wall_ratio),
                x.cpu_ratio,
                verdict(cpu, x.cpu_ratio),
            );
        }
        s.push_str(
            "\nHow this is measured: every run is spawned by xtask and reaped with `wait4`; wall \
             is spawn to exit, CPU is the user + sys time of the reaped process tree from \
             `wait4`'s rusage (the recorder or strace included, and the eBPF program's time, \
             which the kernel charges to the traced tasks as sys). Each round runs every \
             workload in every configuration, the configurations' order rotating from round to \
             round; the ratios are medians of the per-round ratios to the same round's bare run. \
             A warm-up (`record -- true`, which loads and pins the program, and one bare run of \
             each workload) is not counted. Syscalls per run: the total of `record --stats`. \
             Added CPU per recorded syscall: (recorded CPU median − bare CPU median) / syscalls; \
             it includes `record`'s own start-up and profile writing.\n",
        );
        s
    }
}

/// Whether a ratio meets [`GOAL`] (as shown, to two decimals).
fn meets(ratio: f64) -> bool {
    ratio <= GOAL + 1e-9
}

fn verdict(pass: bool, ratio: f64) -> String {
    if pass {
        "PASS".to_owned()
    } else {
        format!("MISS (+{:.0} % over goal)", (ratio / GOAL - 1.0) * 100.0)
    }
}
