//! The per-syscall loop: interleaved rounds of every configuration, one sample each.

use super::*;

impl Bench {
    /// Per configuration, one sample per slice of every round (index j of every
    /// configuration's list is the same slice).
    pub(super) fn loop_rounds(
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
    pub(super) fn clean_sample(
        &mut self,
        config: Config,
        prog: &Path,
        n: u64,
    ) -> Result<LoopSample> {
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
    pub(super) fn sample(
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
    pub(super) fn run_loop(&self, prog: &Path, n: u64, place: Place) -> Result<LoopSample> {
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

    pub(super) fn start_background(&mut self) -> Result<()> {
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

    pub(super) fn stop_background(&mut self) -> Result<()> {
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
}
