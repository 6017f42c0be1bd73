//! Scale: the per-syscall cost outside and inside a recording while 1, 8, 32, 64 and
//! 256 recordings run at once, with the recorded cgroups at depth 1, 3 and 6; the
//! kernel memory of the maps and the RSS of the `record` processes at each level.
//!
//! Layout per depth `d`: a chain of scratch cgroups down to depth `d - 1` (the root
//! cgroup itself for `d = 1`) is the *base*; every recorder is started inside the base,
//! so the cgroup it creates for its command sits at depth `d` (checked from
//! `/proc/PID/cgroup`, not assumed). At level `N`, `N - 1` background recordings of
//! `sleep` run; an inside sample is the loop recorded as the `N`th; an outside sample
//! starts one more background recording (so `N` run) and runs the loop in a sibling
//! cgroup of the recorded ones (same depth, never recorded).

use super::*;

/// Concurrent recordings measured.
pub(super) const LEVELS: [usize; 5] = [1, 8, 32, 64, 256];
/// Depths of the recorded cgroups.
pub(super) const DEPTHS: [usize; 3] = [1, 3, 6];
/// Samples per cell (each place) and of the bare / floor references per depth; even,
/// so that the ascending and descending passes balance (ABBA).
pub(super) const SCALE_ROUNDS: usize = 4;

/// The steady cost of a cell: the low percentile of its pooled chunk rates, as the
/// per-syscall rounds take it (slower chunks are other load on the VM).
pub(super) fn steady(rates: &[f64]) -> f64 {
    percentile(rates, STEADY_PERCENTILE)
}
/// Spawns `"$@"` after moving the shell into the cgroup `$1`.
const IN_CGROUP: &str = r#"echo $$ > "$1/cgroup.procs" && shift && exec "$@""#;

/// One depth's figures.
pub(super) struct DepthRun {
    /// Depth asked for.
    pub(super) depth: usize,
    /// Depth of a recorded cgroup as /proc/PID/cgroup showed it.
    pub(super) seen_depth: Option<usize>,
    /// CPU ns/call of every chunk of the bare loop's samples (pooled).
    pub(super) bare: Vec<f64>,
    /// Same, with the empty program on sys_enter.
    pub(super) floor: Vec<f64>,
    /// Per level in [`LEVELS`] order.
    pub(super) levels: Vec<LevelRun>,
}

/// One level's figures at one depth.
pub(super) struct LevelRun {
    /// Recordings active while the loop runs.
    pub(super) recordings: usize,
    /// CPU ns/call of every chunk of the outside samples (pooled).
    pub(super) outside: Vec<f64>,
    /// Same, the loop recorded.
    pub(super) inside: Vec<f64>,
    /// Maps' `bytes_memlock` and how many maps, at this level.
    pub(super) memlock: Option<(u64, usize)>,
    /// VmRSS (KiB) of each background `record` process while recording.
    pub(super) rss_kib: Vec<u64>,
    /// Peak RSS (KiB) of the `record` processes that recorded the loop (wait4).
    pub(super) inside_peak_kib: Vec<u64>,
}

/// A chain of scratch cgroups; removed deepest first on drop.
struct Chain {
    /// Directories created, outermost first.
    made: Vec<PathBuf>,
    /// Where the recorders start (depth - 1).
    base: PathBuf,
    /// The never-recorded sibling for the outside loop (depth).
    sibling: PathBuf,
}

impl Chain {
    fn new(root: &Path, depth: usize) -> Result<Chain> {
        ensure!(depth >= 1, "depth starts at 1");
        let mut made = Vec::new();
        let mut base = root.to_path_buf();
        for level in 1..depth {
            base = if level == 1 {
                base.join(format!("xtask-scale-{}", std::process::id()))
            } else {
                base.join(format!("l{level}"))
            };
            std::fs::create_dir(&base)
                .with_context(|| format!("cannot create cgroup {}", base.display()))?;
            made.push(base.clone());
        }
        let sibling = base.join(format!("xtask-scale-outside-{}", std::process::id()));
        std::fs::create_dir(&sibling)
            .with_context(|| format!("cannot create cgroup {}", sibling.display()))?;
        made.push(sibling.clone());
        Ok(Chain {
            made,
            base,
            sibling,
        })
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        for dir in self.made.iter().rev() {
            remove_cgroup(dir);
        }
    }
}

/// A `record -- sleep` started in a base cgroup; SIGTERM ends it.
struct Sleeper {
    child: Child,
    /// The recorded `sleep`.
    sleep_pid: u32,
}

impl Sleeper {
    fn signal(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child, not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }

    /// Waits for the recorder to finish (after [`Sleeper::signal`]); its peak RSS.
    fn reap(mut self) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some((status, rss)) = try_reap(self.child.id())? {
                ensure!(
                    status.success() || status.code() == Some(143),
                    "a background recorder ended with {status}"
                );
                return Ok(rss);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = try_reap(self.child.id());
                bail!("a background recorder ignored SIGTERM for 20 s (killed it)");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Bench {
    /// A recorder command started inside the cgroup `base`.
    fn recorder_in(&self, base: &Path) -> Command {
        let mut c = Command::new("sh");
        self.state.apply(&mut c);
        c.arg("-c")
            .arg(IN_CGROUP)
            .arg("sh")
            .arg(base)
            .arg(&self.bin);
        c
    }

    /// Starts `count` background recordings in `base` and waits until each records.
    fn start_sleepers(&self, base: &Path, count: usize, first: usize) -> Result<Vec<Sleeper>> {
        let mut started = Vec::with_capacity(count);
        for i in 0..count {
            let mut cmd = self.recorder_in(base);
            cmd.arg("record")
                .arg("-o")
                .arg(self.work.join(format!("scale-bg-{}.json", first + i)))
                .args(["--", "sleep", "3600"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl(2) only: if xtask dies, the recorder ends its recording.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd.spawn().context("cannot start a background recorder")?;
            started.push(child);
        }
        let mut sleepers = Vec::with_capacity(count);
        let deadline = Instant::now() + Duration::from_secs(30 + count as u64 / 4);
        let mut pending = started;
        while !pending.is_empty() {
            check_interrupted()?;
            let mut still = Vec::new();
            for mut child in pending {
                if let Some(pid) = child_named(child.id(), "sleep") {
                    sleepers.push(Sleeper {
                        child,
                        sleep_pid: pid,
                    });
                } else if let Some(status) = child.try_wait().context("poll a recorder")? {
                    stop_all(sleepers);
                    bail!("a background recorder exited with {status} before recording");
                } else {
                    still.push(child);
                }
            }
            pending = still;
            if !pending.is_empty() && Instant::now() > deadline {
                for c in &mut pending {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                stop_all(sleepers);
                bail!("background recordings did not start within the deadline");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(sleepers)
    }

    /// The loop in the never-recorded sibling cgroup; its chunks' CPU ns/call.
    fn scale_outside(&self, chain: &Chain, prog: &Path, n: u64) -> Result<Vec<f64>> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(IN_CGROUP)
            .arg("sh")
            .arg(&chain.sibling)
            .args(["taskset", "-c", &self.cpu])
            .arg(prog);
        let (out, wall) = timed_output(&mut cmd)?;
        let s = parse_loop_output(&out, n, wall).with_context(|| format!("{cmd:?}"))?;
        Ok(s.rates)
    }

    /// The loop recorded from `base`; its chunks' CPU ns/call and the recorder's peak
    /// RSS. The count is checked: exactly `n` getppid calls.
    fn scale_inside(&self, chain: &Chain, prog: &Path, n: u64) -> Result<(Vec<f64>, u64)> {
        let stats = self.work.join("scale-inside-stats.json");
        let _ = std::fs::remove_file(&stats);
        let mut cmd = self.recorder_in(&chain.base);
        cmd.arg("record")
            .arg("-o")
            .arg(self.work.join("scale-inside.json"))
            .arg("--stats")
            .arg(&stats)
            .args(["--", "taskset", "-c", &self.cpu])
            .arg(prog);
        let (out, wall, rss) = timed_output_rss(&mut cmd)?;
        let s = parse_loop_output(&out, n, wall).with_context(|| format!("{cmd:?}"))?;
        let counted = getppid_count(&stats)?;
        ensure!(
            counted == n,
            "scale: the recording counted {counted} getppid calls, the loop made {n}"
        );
        Ok((s.rates, rss))
    }

    /// Bare and floor references (nothing of ours attached).
    fn scale_refs(&mut self, prog: &Path, n: u64) -> Result<(Vec<f64>, Vec<f64>)> {
        let mut bare = Vec::new();
        let mut floor = Vec::new();
        for _ in 0..SCALE_ROUNDS {
            for config in [Config::Bare, Config::Floor] {
                let s = self.clean_sample(config, prog, n)?;
                if config == Config::Bare {
                    bare.extend(s.rates);
                } else {
                    floor.extend(s.rates);
                }
            }
        }
        Ok((bare, floor))
    }

    /// Every depth and level; see the module doc.
    pub(super) fn scale(&mut self, prog: &Path, n: u64) -> Result<Vec<DepthRun>> {
        let root = {
            let text =
                std::fs::read_to_string("/proc/self/mountinfo").context("cannot read mountinfo")?;
            text.lines()
                .find_map(|l| {
                    let (left, right) = l.split_once(" - ")?;
                    (right.split_whitespace().next()? == "cgroup2")
                        .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
                })
                .context("no cgroup2 mount in /proc/self/mountinfo")?
        };
        let mut runs = Vec::new();
        for depth in DEPTHS {
            eprintln!("xtask: bench: scale, recorded cgroups at depth {depth}");
            let (bare, floor) = self.scale_refs(prog, n)?;
            let chain = Chain::new(&root, depth)?;
            let mut sleepers: Vec<Sleeper> = Vec::new();
            let mut levels: Vec<LevelRun> = LEVELS
                .iter()
                .map(|&recordings| LevelRun {
                    recordings,
                    outside: Vec::new(),
                    inside: Vec::new(),
                    memlock: None,
                    rss_kib: Vec::new(),
                    inside_peak_kib: Vec::new(),
                })
                .collect();
            let mut seen_depth = None;
            let mut next_name = 0;
            let result = (|| -> Result<()> {
                // Levels in ABBA order (ascending, descending, ...): the machine's speed
                // drifts over the minutes a depth takes, and a drift would otherwise read
                // as growth with N. Every level is visited once per round.
                for round in 0..SCALE_ROUNDS {
                    let mut order: Vec<usize> = (0..LEVELS.len()).collect();
                    if round % 2 == 1 {
                        order.reverse();
                    }
                    for li in order {
                        check_interrupted()?;
                        let want = LEVELS[li] - 1;
                        if sleepers.len() > want {
                            stop_all(sleepers.split_off(want));
                        }
                        let more = want - sleepers.len();
                        sleepers.extend(self.start_sleepers(&chain.base, more, next_name)?);
                        next_name += more;
                        if seen_depth.is_none() {
                            seen_depth = sleepers.first().and_then(|s| cgroup_depth(s.sleep_pid));
                        }
                        let run = &mut levels[li];
                        if run.rss_kib.is_empty() {
                            run.rss_kib = sleepers
                                .iter()
                                .filter_map(|s| proc_status_kib(s.child.id(), "VmRSS"))
                                .collect();
                        }
                        let companion = self
                            .start_sleepers(&chain.base, 1, 1_000_000 + next_name)?
                            .pop()
                            .context("no companion recording")?;
                        next_name += 1;
                        if seen_depth.is_none() {
                            seen_depth = cgroup_depth(companion.sleep_pid);
                        }
                        if run.memlock.is_none() {
                            run.memlock = self.pin_dirs().iter().find_map(|d| maps_memlock(d));
                        }
                        let outside = self.scale_outside(&chain, prog, n);
                        companion.signal();
                        companion.reap()?;
                        run.outside.extend(outside?);
                        let (inside, rss) = self.scale_inside(&chain, prog, n)?;
                        run.inside.extend(inside);
                        run.inside_peak_kib.push(rss);
                    }
                }
                for run in &levels {
                    eprintln!(
                        "xtask: bench: scale depth {depth}, {} recordings: outside {:.1}, \
                         inside {:.1} ns/call (bare {:.1}, floor {:.1})",
                        run.recordings,
                        steady(&run.outside),
                        steady(&run.inside),
                        steady(&bare),
                        steady(&floor)
                    );
                }
                Ok(())
            })();
            stop_all(std::mem::take(&mut sleepers));
            drop(chain);
            result?;
            runs.push(DepthRun {
                depth,
                seen_depth,
                bare,
                floor,
                levels,
            });
        }
        Ok(runs)
    }
}

/// SIGTERM to every recorder first (they finish in parallel), then reaps each.
fn stop_all(sleepers: Vec<Sleeper>) {
    for s in &sleepers {
        s.signal();
    }
    for s in sleepers {
        if let Err(e) = s.reap() {
            eprintln!("xtask: warning: {e:#}");
        }
    }
}

/// Added ns/call of `v` over the bare reference, as a multiple of the floor's.
pub(super) fn floor_ratio(v: f64, bare: f64, floor: f64) -> f64 {
    (v - bare) / (floor - bare)
}

/// How flat a series of added costs is: (largest − smallest) in ns and largest / smallest.
pub(super) fn flatness(added: &[f64]) -> (f64, f64) {
    let (lo, hi) = (min(added), max(added));
    (hi - lo, if lo > 0.0 { hi / lo } else { f64::NAN })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_flatness() {
        assert!((floor_ratio(160.0, 100.0, 160.0) - 1.0).abs() < 1e-12);
        assert!((floor_ratio(166.0, 100.0, 160.0) - 1.1).abs() < 1e-12);
        let (spread, ratio) = flatness(&[60.0, 66.0, 63.0]);
        assert!((spread - 6.0).abs() < 1e-12);
        assert!((ratio - 1.1).abs() < 1e-12);
        assert!(flatness(&[0.0, 1.0]).1.is_nan());
    }
}
