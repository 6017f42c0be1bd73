//! The markdown report of `cargo xtask bench` (docs/benchmarks.md).

use super::*;

impl Bench {
    pub(super) fn report(&self, r: Report) -> String {
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
            "| `record -- true` minus `true` (warm, median) ≤ 20 ms | {:.2} ms | {} |",
            warm_added,
            verdict(warm_added <= 20.0, warm_added - 20.0, "ms")
        );
        for g in &r.more_goals {
            let _ = writeln!(s, "| {} | {} | {} |", g.what, g.measured, g.verdict);
        }
        s.push('\n');

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

/// Everything measured, for the report.
pub(super) struct Report {
    pub(super) iterations: u64,
    pub(super) runs: usize,
    pub(super) facts: Vec<(&'static str, String)>,
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) foreign_at_start: Option<usize>,
    pub(super) foreign_at_end: Option<usize>,
    pub(super) loop_samples: Vec<(Config, Vec<LoopSample>)>,
    pub(super) true_bare: Vec<f64>,
    pub(super) true_warm: Vec<f64>,
    pub(super) true_cold: Vec<f64>,
    pub(super) strace_n: u64,
    pub(super) strace_loop: Vec<[LoopSample; 3]>,
    pub(super) busy: (Vec<BusyRound>, u64),
    /// Goals of the later sections (scale, loss, workloads), listed in the goal table.
    pub(super) more_goals: Vec<Goal>,
}

pub(super) fn fmt_links(n: Option<usize>) -> String {
    n.map_or_else(|| "unknown (bpftool failed)".to_owned(), |n| n.to_string())
}
