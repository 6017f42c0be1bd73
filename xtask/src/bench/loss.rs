//! Loss: the counts must be exact under load. 50,000,000 getppid calls from 16 threads
//! spread over every CPU, recorded once; and 64 recordings at once, each of its own
//! loop, each counted exactly.

use super::*;

/// Threads of the many-thread run.
pub(super) const THREADS: u64 = 16;
/// getppid calls in the many-thread run, in all.
pub(super) const TOTAL_CALLS: u64 = 50_000_000;
/// Recordings at once in the concurrent run.
pub(super) const CONCURRENT: usize = 64;
/// getppid calls of each concurrent recording's loop.
pub(super) const CONCURRENT_CALLS: u64 = 1_000_000;

/// Threads started together, each pinned to CPU `i % ncpu`, each making N raw
/// getppid calls; prints nothing, exits 0.
const THREADS_C: &str = r#"#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long calls;
static pthread_barrier_t start;

static void *work(void *arg) {
    long cpu = (long)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    pthread_barrier_wait(&start);
    for (long i = 0; i < calls; i++)
        syscall(SYS_getppid);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    long threads = atol(argv[1]);
    calls = atol(argv[2]);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t t[256];
    if (threads < 1 || threads > 256 || ncpu < 1)
        return 2;
    pthread_barrier_init(&start, 0, threads);
    for (long i = 0; i < threads; i++)
        if (pthread_create(&t[i], 0, work, (void *)(i % ncpu)))
            return 3;
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], 0);
    return 0;
}
"#;

/// What the loss runs measured.
pub(super) struct Loss {
    /// Calls made and counted by the many-thread run.
    pub(super) threads_made: u64,
    pub(super) threads_counted: u64,
    /// Its wall time bare and recorded, in seconds.
    pub(super) threads_bare_s: f64,
    pub(super) threads_recorded_s: f64,
    /// Per concurrent recording: calls counted (each loop made [`CONCURRENT_CALLS`]).
    pub(super) concurrent_counted: Vec<u64>,
    /// Wall time of the concurrent run, in seconds.
    pub(super) concurrent_s: f64,
}

impl Loss {
    /// Whether every count was exact.
    pub(super) fn exact(&self) -> bool {
        self.threads_counted == self.threads_made
            && self.concurrent_counted.len() == CONCURRENT
            && self
                .concurrent_counted
                .iter()
                .all(|&c| c == CONCURRENT_CALLS)
    }
}

impl Bench {
    /// Both runs; a miscount is reported in the figures, not as an error, so the
    /// report shows it.
    pub(super) fn loss(&mut self) -> Result<Loss> {
        let prog = build_threads(&self.work)?;
        let per_thread = TOTAL_CALLS / THREADS;
        let args = [THREADS.to_string(), per_thread.to_string()];
        eprintln!("xtask: bench: loss, {TOTAL_CALLS} getppid calls from {THREADS} threads");
        let (out, bare) = timed_output(Command::new(&prog).args(&args))?;
        ensure!(
            out.status.success(),
            "{} failed: {}",
            prog.display(),
            out.status
        );
        let stats = self.work.join("loss-stats.json");
        let _ = std::fs::remove_file(&stats);
        let mut cmd = self.recorder();
        cmd.arg("record")
            .arg("-o")
            .arg(self.work.join("loss-profile.json"))
            .arg("--stats")
            .arg(&stats)
            .arg("--")
            .arg(&prog)
            .args(&args);
        let (out, recorded) = timed_output(&mut cmd)?;
        ensure!(
            out.status.success(),
            "{cmd:?} failed with {}: {}",
            out.status,
            stderr_of(&out)
        );
        let threads_counted = getppid_count(&stats)?;

        eprintln!(
            "xtask: bench: loss, {CONCURRENT} recordings at once, {CONCURRENT_CALLS} calls each"
        );
        let lp = loop_program(&self.work, "loss-loop", CONCURRENT_CALLS)?;
        let start = Instant::now();
        let mut children = Vec::with_capacity(CONCURRENT);
        for i in 0..CONCURRENT {
            let stats = self.work.join(format!("loss-concurrent-{i}.json"));
            let _ = std::fs::remove_file(&stats);
            let mut cmd = self.recorder();
            cmd.arg("record")
                .arg("-o")
                .arg(self.work.join(format!("loss-concurrent-profile-{i}.json")))
                .arg("--stats")
                .arg(&stats)
                .arg("--")
                .arg(&lp)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let child = cmd.spawn().context("cannot start a concurrent recording")?;
            children.push((child, stats));
        }
        let mut concurrent_counted = Vec::with_capacity(CONCURRENT);
        let mut failed = Vec::new();
        for (child, stats) in children {
            let out = child
                .wait_with_output()
                .context("cannot wait for a concurrent recording")?;
            if out.status.success() {
                concurrent_counted.push(getppid_count(&stats)?);
            } else {
                failed.push(format!("{}: {}", out.status, stderr_of(&out)));
            }
        }
        let concurrent_s = start.elapsed().as_secs_f64();
        ensure!(
            failed.is_empty(),
            "{} of {CONCURRENT} concurrent recordings failed: {}",
            failed.len(),
            failed.join("; ")
        );
        Ok(Loss {
            threads_made: per_thread * THREADS,
            threads_counted,
            threads_bare_s: bare.as_secs_f64(),
            threads_recorded_s: recorded.as_secs_f64(),
            concurrent_counted,
            concurrent_s,
        })
    }
}

/// Compiles the many-thread program with gcc.
fn build_threads(dir: &Path) -> Result<PathBuf> {
    let src = dir.join("loss-threads.c");
    std::fs::write(&src, THREADS_C).with_context(|| format!("cannot write {}", src.display()))?;
    let exe = dir.join("loss-threads");
    sh(Command::new("gcc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src))
    .context("building the many-thread loss program (gcc, libc6-dev)")?;
    Ok(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(threads_counted: u64, concurrent: Vec<u64>) -> Loss {
        Loss {
            threads_made: TOTAL_CALLS,
            threads_counted,
            threads_bare_s: 1.0,
            threads_recorded_s: 1.0,
            concurrent_counted: concurrent,
            concurrent_s: 1.0,
        }
    }

    #[test]
    fn exact_only_when_every_count_matches() {
        assert!(loss(TOTAL_CALLS, vec![CONCURRENT_CALLS; CONCURRENT]).exact());
        assert!(!loss(TOTAL_CALLS - 1, vec![CONCURRENT_CALLS; CONCURRENT]).exact());
        let mut one_short = vec![CONCURRENT_CALLS; CONCURRENT];
        one_short[7] -= 1;
        assert!(!loss(TOTAL_CALLS, one_short).exact());
        assert!(!loss(TOTAL_CALLS, vec![CONCURRENT_CALLS; CONCURRENT - 1]).exact());
    }
}
