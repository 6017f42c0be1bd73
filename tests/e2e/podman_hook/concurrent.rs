//! podman + crun with the hook: eight containers recorded at once, each with only its own syscalls.

use super::*;

/// One of the concurrent containers: an applet run `per_iteration` times per loop and
/// the syscall only it makes.
pub(super) struct Distinct {
    tag: &'static str,
    cmd: &'static str,
    syscall: &'static str,
    per_iteration: u64,
}

pub(super) const DISTINCT: [Distinct; 8] = [
    Distinct {
        tag: "sync",
        cmd: "sync",
        syscall: "sync",
        per_iteration: 1,
    },
    Distinct {
        tag: "mkfifo",
        cmd: "mkfifo /tmp/p$i",
        syscall: "mknodat",
        per_iteration: 1,
    },
    Distinct {
        tag: "chmod",
        cmd: "chmod 600 /tmp/f",
        syscall: "chmod",
        per_iteration: 1,
    },
    Distinct {
        tag: "chown",
        cmd: "chown 1:1 /tmp/f",
        syscall: "chown",
        per_iteration: 1,
    },
    Distinct {
        tag: "link",
        cmd: "ln /tmp/f /tmp/l$i",
        syscall: "link",
        per_iteration: 1,
    },
    Distinct {
        tag: "symlink",
        cmd: "ln -s /tmp/f /tmp/s$i",
        syscall: "symlink",
        per_iteration: 1,
    },
    Distinct {
        tag: "rename",
        cmd: "mv /tmp/f /tmp/g; mv /tmp/g /tmp/f",
        syscall: "rename",
        per_iteration: 2,
    },
    Distinct {
        tag: "mkdir",
        cmd: "mkdir /tmp/d$i",
        syscall: "mkdir",
        per_iteration: 1,
    },
];

/// Requirement 3: eight containers recorded at the same time (they wait for each other
/// before their loops), each profile has its own syscall and none of the others'.
#[e2e_macros::test]
fn eight_concurrent_containers_each_get_only_their_own_syscalls() {
    let Some(r) = Recorder::new("eight") else {
        return;
    };
    const N: u64 = 25;
    let meet = r.env.dir().join("meet");
    fs::create_dir(&meet).expect("meeting dir");
    let volume = format!("{}:/meet", meet.display());
    let barrier = std::sync::Barrier::new(DISTINCT.len());
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = DISTINCT
            .iter()
            .map(|d| {
                let (r, barrier, volume) = (&r, &barrier, &volume);
                s.spawn(move || {
                    // Every container is running (and registered) before any loops.
                    let script = format!(
                        ": > /tmp/f; : > /meet/{tag}; n=0; \
                         while [ $(ls /meet | wc -l) -lt {all} ]; do n=$((n+1)); \
                         [ $n -gt 3000 ] && exit 3; usleep 10000; done; \
                         i=0; while [ $i -lt {N} ]; do {cmd}; i=$((i+1)); done",
                        tag = d.tag,
                        all = DISTINCT.len(),
                        cmd = d.cmd,
                    );
                    let out_ann = ann(OUTPUT, &format!("concurrent-{}.json", d.tag));
                    let stats_ann = ann(STATS, &format!("concurrent-{}.stats.json", d.tag));
                    barrier.wait();
                    r.env.run(
                        &[
                            "--tmpfs",
                            "/tmp",
                            "-v",
                            volume,
                            "--annotation",
                            &out_ann,
                            "--annotation",
                            &stats_ann,
                        ],
                        &["sh", "-c", &script],
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for (d, o) in DISTINCT.iter().zip(&outputs) {
        r.ok(o, &format!("container {}", d.tag));
    }
    for d in &DISTINCT {
        let profile = r.profile(&format!("concurrent-{}.json", d.tag));
        let got = names(&profile);
        assert!(
            got.contains(d.syscall),
            "{}: {} missing: {got:?}",
            d.tag,
            d.syscall
        );
        for other in DISTINCT.iter().filter(|o| o.tag != d.tag) {
            assert!(
                !got.contains(other.syscall),
                "{}: has {}'s {}: {got:?}",
                d.tag,
                other.tag,
                other.syscall
            );
        }
        let stats = read_stats(&r.profile(&format!("concurrent-{}.stats.json", d.tag)));
        let own: u64 = stats
            .iter()
            .filter(|(_, n, _)| n == d.syscall)
            .map(|(_, _, c)| c)
            .sum();
        assert_eq!(
            own,
            N * d.per_iteration,
            "{}: exact {} count",
            d.tag,
            d.syscall
        );
    }
    r.assert_idle("after eight recordings");
}
