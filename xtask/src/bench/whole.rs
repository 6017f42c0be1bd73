//! Whole commands: `record -- true` against `true`, the loop under strace, the busy
//! shell workload.

use super::*;

impl Bench {
    /// (bare `true`, warm `record -- true`, cold `record -- true`) wall times in ms.
    pub(super) fn record_true(&mut self, runs: usize) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
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

    pub(super) fn time_true(&self) -> Result<f64> {
        let (out, wall) = timed_output(&mut Command::new("true"))?;
        ensure!(out.status.success(), "`true` failed");
        Ok(wall.as_secs_f64() * 1e3)
    }

    /// `record -o FILE -- CMD`; returns the wall time in ms.
    pub(super) fn record_status(&self, command: &[&str]) -> Result<f64> {
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
    pub(super) fn strace_loop(&mut self, prog: &Path, n: u64) -> Result<Vec<[LoopSample; 3]>> {
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
    pub(super) fn busy(&mut self) -> Result<(Vec<BusyRound>, u64)> {
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
}
