//! Many recordings: containers started and recorded at once, each with its own marker
//! count, and many recordings one after the other; afterwards no state, slot, pin,
//! link or cgroup is left. `SR_LOAD_CONTAINERS` / `SR_LOAD_SEQUENTIAL` raise the counts
//! (`cargo xtask drill load` runs 64 and 1000; the suite 16 and 100).

use crate::common;

use common::installed::Installed;
use common::podman::PodmanEnv;
use common::*;

fn count_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[e2e_macros::test]
fn containers_recorded_at_once_each_count_their_own_marker_exactly() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let Some(probe) = argprobe(env.dir()) else {
        return;
    };
    env.install(&probe, "bin/argprobe");
    let inst = Installed::new(env.dir(), env.hooks_dir(), "load");
    let n = count_from_env("SR_LOAD_CONTAINERS", 16);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let stats = format!("seccomp-recorder.io/stats=m{i}.stats.json");
                    let out = format!("seccomp-recorder.io/output=m{i}.json");
                    let marker = format!("getppid:{}", 1000 + i);
                    env.run(
                        &["--annotation", &out, "--annotation", &stats],
                        &["/bin/argprobe", &marker],
                    )
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let o = h.join().expect("thread");
            assert!(
                o.status.success(),
                "container {i}: {}{}",
                stdout(&o),
                stderr(&o)
            );
        }
    });
    eprintln!(
        "{n} containers recorded at once in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for i in 0..n {
        let s = read_stats(&inst.out.join(format!("m{i}.stats.json")));
        assert_eq!(
            count_of(&s, "SCMP_ARCH_X86_64", "getppid"),
            1000 + i as u64,
            "container {i}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(inst.run.join("recordings"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let attached = std::fs::read_dir(&inst.bpf)
        .map(|d| d.flatten().any(|e| e.path().join("link").exists()))
        .unwrap_or(false);
    assert!(!attached, "still attached");
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}

#[e2e_macros::test]
fn sequential_recordings_leave_nothing_behind() {
    if !can_record() {
        return;
    }
    let n = count_from_env("SR_LOAD_SEQUENTIAL", 100);
    let dir = tempfile::tempdir().expect("tempdir");
    let bpf = std::path::PathBuf::from(format!(
        "/sys/fs/bpf/seccomp-recorder-seq-{}",
        std::process::id()
    ));
    let run_dir = dir.path().join("run");
    let cmd = || {
        let mut c = std::process::Command::new(bin());
        c.env("SECCOMP_RECORDER_BPF_DIR", &bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", &run_dir);
        c
    };
    let cg_root = cgroup2_root().expect("cgroup2");
    let cgroups_before = std::fs::read_dir(&cg_root).expect("cgroup root").count();
    let started = std::time::Instant::now();
    for i in 0..n {
        let o = cmd()
            .args([
                "record",
                "--stats",
                "/dev/stdout",
                "-o",
                "/dev/null",
                "--",
                "true",
            ])
            .output()
            .expect("record");
        assert!(o.status.success(), "recording {i}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("\"execve\""),
            "recording {i}: {}",
            stdout(&o)
        );
    }
    eprintln!(
        "{n} sequential recordings in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let states = std::fs::read_dir(run_dir.join("recordings"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(states, 0, "state files left");
    let pin_dirs: Vec<_> = std::fs::read_dir(&bpf)
        .expect("pins")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(pin_dirs.len(), 1, "{pin_dirs:?}");
    assert!(!pin_dirs[0].join("link").exists(), "still attached");
    assert_eq!(
        std::fs::read_dir(&cg_root).expect("cgroup root").count(),
        cgroups_before,
        "cgroups left behind"
    );
    let active = cmd().arg("gc").output().expect("gc");
    assert!(
        stdout(&active).is_empty(),
        "gc found work: {}",
        stdout(&active)
    );
    let _ = cmd().arg("unload").output();
    let _ = std::fs::remove_dir_all(&bpf);
}

/// 16 threads on every CPU, each making `SR_LOAD_THREAD_CALLS` getppid calls (default
/// 250,000: 4,000,000 in all), all counted exactly. The threads switch CPUs and
/// preempt each other all the time: every switch clears the per-CPU task cache, so
/// the lookups that refill it run constantly. (`cargo xtask bench` runs 50,000,000.)
#[e2e_macros::test]
fn sixteen_threads_on_every_cpu_are_counted_exactly() {
    if !can_record() || !prerequisite(have("gcc"), "gcc") {
        return;
    }
    let per_thread = count_from_env("SR_LOAD_THREAD_CALLS", 250_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("threads.c");
    std::fs::write(
        &src,
        r#"#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
static long n;
static void *run(void *a) { for (long i = 0; i < n; i++) syscall(SYS_getppid); return a; }
int main(int c, char **v) {
    n = atol(v[1]);
    pthread_t t[16];
    for (int i = 0; i < 16; i++) if (pthread_create(&t[i], 0, run, 0)) return 2;
    for (int i = 0; i < 16; i++) pthread_join(t[i], 0);
    return 0;
}
"#,
    )
    .expect("write source");
    let exe = dir.path().join("threads");
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-static", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("gcc");
    assert!(built.success());
    let stats = dir.path().join("threads.stats.json");
    let out = std::process::Command::new(bin())
        .arg("record")
        .arg("-o")
        .arg(dir.path().join("threads.json"))
        .arg("--stats")
        .arg(&stats)
        .arg("--")
        .arg(&exe)
        .arg(per_thread.to_string())
        .output()
        .expect("record");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_stats(&stats);
    assert_eq!(
        count_of(&s, "SCMP_ARCH_X86_64", "getppid"),
        16 * per_thread as u64,
        "{s:?}"
    );
}
