//! The measuring instruments: the static getppid loop program and its output, timed
//! processes, the recorder's stats files, cgroups and bpftool probes, machine facts.

use super::*;

/// Assembles and links the loop program (see "How this is measured"): `n` getppid
/// calls in [`CHUNKS`] timed chunks.
pub(super) fn loop_program(dir: &Path, name: &str, n: u64) -> Result<PathBuf> {
    ensure!(
        n >= CHUNKS as u64,
        "at least {CHUNKS} iterations are needed"
    );
    let clock = |id: u32, slot: usize| {
        format!(
            "    movq $228, %rax\n    movq ${id}, %rdi\n    leaq ts+{}(%rip), %rsi\n    syscall\n",
            16 * slot
        )
    };
    let mut text = String::from(".globl _start\n.text\n_start:\n");
    // Slots: 0 = monotonic before, 1..=CHUNKS+1 = process CPU clock at the chunk
    // boundaries, CHUNKS+2 = monotonic after.
    text.push_str(&clock(1, 0));
    text.push_str(&clock(2, 1));
    for chunk in 0..CHUNKS {
        let count = n / CHUNKS as u64 + if chunk == 0 { n % CHUNKS as u64 } else { 0 };
        text.push_str(&format!(
            "    movabsq ${count}, %r12\n1:\n    movq ${SYS_GETPPID}, %rax\n    syscall\n    decq %r12\n    jnz 1b\n"
        ));
        text.push_str(&clock(2, chunk + 2));
    }
    text.push_str(&clock(1, CHUNKS + 2));
    text.push_str(&format!(
        "    movq $1, %rax\n    movq $1, %rdi\n    leaq out(%rip), %rsi\n    movq ${}, %rdx\n    syscall\n\
         \x20   movq $60, %rax\n    xorq %rdi, %rdi\n    syscall\n",
        record_len()
    ));
    let marker = std::str::from_utf8(MARKER).context("marker is ASCII")?;
    text.push_str(&format!(
        ".data\n.balign 8\nout: .ascii \"{marker}\"\nts: .zero {}\n",
        16 * (CHUNKS + 3)
    ));
    let src = dir.join(format!("{name}.s"));
    std::fs::write(&src, text).with_context(|| format!("cannot write {}", src.display()))?;
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    sh(Command::new("as").arg("-o").arg(&obj).arg(&src))
        .context("assembling the loop program (binutils)")?;
    sh(Command::new("ld").arg("-o").arg(&exe).arg(&obj))
        .context("linking the loop program (binutils)")?;
    Ok(exe)
}

/// Bytes the loop program writes: the marker and CHUNKS + 3 timespecs.
pub(super) fn record_len() -> usize {
    MARKER.len() + 16 * (CHUNKS + 3)
}

/// Reads the loop program's timing record from its stdout.
pub(super) fn parse_loop_output(out: &Output, n: u64, wall: Duration) -> Result<LoopSample> {
    ensure!(
        out.status.success(),
        "loop run failed with {}: {}",
        out.status,
        stderr_of(out)
    );
    let at = out
        .stdout
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .context("the loop program's timing record is missing from its stdout")?;
    let rec = out
        .stdout
        .get(at + MARKER.len()..at + record_len())
        .context("the loop program's timing record is truncated")?;
    let times: Vec<f64> = rec
        .chunks_exact(16)
        .map(|ts| {
            let word = |b: &[u8]| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a) as f64
            };
            word(&ts[..8]) * 1e9 + word(&ts[8..])
        })
        .collect();
    let (mono_before, mono_after) = (times[0], times[CHUNKS + 2]);
    let marks = &times[1..CHUNKS + 2];
    let per_chunk = n / CHUNKS as u64;
    let mut rates = Vec::with_capacity(CHUNKS);
    for (i, pair) in marks.windows(2).enumerate() {
        let calls = per_chunk + if i == 0 { n % CHUNKS as u64 } else { 0 };
        rates.push((pair[1] - pair[0]) / calls as f64);
    }
    let mono = mono_after - mono_before;
    let cpu = marks[CHUNKS] - marks[0];
    ensure!(
        mono > 0.0 && cpu > 0.0 && rates.iter().all(|r| *r > 0.0),
        "the loop program reported non-positive times"
    );
    let n = n as f64;
    Ok(LoopSample {
        rates,
        mono: mono / n,
        cpu: cpu / n,
        wall: wall.as_secs_f64() * 1e9 / n,
    })
}

/// Runs a command with captured output; returns it with the spawn-to-exit time.
pub(super) fn timed_output(cmd: &mut Command) -> Result<(Output, Duration)> {
    cmd.stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    Ok((out, start.elapsed()))
}

/// User + system CPU time of all reaped descendants so far, in ms.
pub(super) fn children_cpu_ms() -> Result<f64> {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    ensure!(rc == 0, "getrusage: {}", std::io::Error::last_os_error());
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    Ok(ms(usage.ru_utime) + ms(usage.ru_stime))
}

pub(super) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// Reads a `--stats` file.
pub(super) fn stats_entries(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v.get("syscalls")
        .and_then(|s| s.as_array())
        .cloned()
        .with_context(|| format!("{} has no syscalls array", path.display()))
}

pub(super) fn getppid_count(path: &Path) -> Result<u64> {
    Ok(stats_entries(path)?
        .iter()
        .filter(|e| {
            e.get("arch").and_then(|a| a.as_str()) == Some("SCMP_ARCH_X86_64")
                && e.get("nr").and_then(|n| n.as_u64()) == Some(u64::from(SYS_GETPPID))
        })
        .filter_map(|e| e.get("count").and_then(|c| c.as_u64()))
        .sum())
}

pub(super) fn total_count(path: &Path) -> Result<u64> {
    Ok(stats_entries(path)?
        .iter()
        .filter_map(|e| e.get("count").and_then(|c| c.as_u64()))
        .sum())
}

/// The cgroup v2 directory of this process.
pub(super) fn own_cgroup_dir() -> Result<PathBuf> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("cannot read mountinfo")?;
    let root = mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        })
        .context("no cgroup2 mount in /proc/self/mountinfo")?;
    let own =
        std::fs::read_to_string("/proc/self/cgroup").context("cannot read /proc/self/cgroup")?;
    let rel = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("this process has no cgroup v2 membership")?;
    Ok(root.join(rel.trim_start_matches('/')))
}

/// Removes an (empty) scratch cgroup, waiting briefly for exited members to go.
pub(super) fn remove_cgroup(dir: &Path) {
    for _ in 0..200 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("xtask: warning: cannot remove cgroup {}", dir.display());
}

/// Programs attached to `sys_enter` right now (raw tracepoint links), from bpftool.
pub(super) fn sys_enter_links() -> Option<usize> {
    let text = output(Command::new("bpftool").args(["link", "list"]))?;
    Some(
        text.lines()
            .filter(|l| l.contains("tp 'sys_enter'"))
            .count(),
    )
}

/// Whether `parent` has a child process whose command name is `name`.
pub(super) fn has_child_named(parent: u32, name: &str) -> bool {
    child_named(parent, name).is_some()
}

/// The pid of a child of `parent` whose comm is `name`.
pub(super) fn child_named(parent: u32, name: &str) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1)?;
        (comm == name && ppid == parent.to_string()).then_some(pid)
    })
}

/// A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...), in KiB.
pub(super) fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The cgroup v2 depth of a process (0 = the root cgroup).
pub(super) fn cgroup_depth(pid: u32) -> Option<usize> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(path.split('/').filter(|c| !c.is_empty()).count())
}

/// Reaps `pid` if it has exited: its status and the peak RSS (KiB) of it and its
/// reaped descendants (`wait4`'s `ru_maxrss`). `None` while it still runs.
pub(super) fn try_reap(pid: u32) -> Result<Option<(std::process::ExitStatus, u64)>> {
    use std::os::unix::process::ExitStatusExt;
    let pid = i32::try_from(pid).context("pid out of range")?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4(2) on our own unreaped child, with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
    match r {
        0 => Ok(None),
        r if r == pid => Ok(Some((
            std::process::ExitStatus::from_raw(status),
            u64::try_from(ru.ru_maxrss).unwrap_or(0),
        ))),
        _ => Err(std::io::Error::last_os_error()).context("wait4"),
    }
}

/// Like [`timed_output`], and also the peak RSS (KiB) of the process tree's largest
/// process, from `wait4`.
pub(super) fn timed_output_rss(cmd: &mut Command) -> Result<(Output, Duration, u64)> {
    use std::io::Read;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    let mut err_pipe = child.stderr.take().context("no stderr pipe")?;
    let errs = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let mut stdout = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut stdout)
            .context("cannot read the child's stdout")?;
    }
    let stderr = errs.join().unwrap_or_default();
    loop {
        if let Some((status, rss)) = try_reap(child.id())? {
            return Ok((
                Output {
                    status,
                    stdout,
                    stderr,
                },
                start.elapsed(),
                rss,
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Kernel memory (`bytes_memlock`, summed) of the maps our pinned programs under
/// `pin_dir` use, from bpftool. `None` when bpftool cannot tell.
pub(super) fn maps_memlock(pin_dir: &Path) -> Option<(u64, usize)> {
    let mut ids = std::collections::BTreeSet::new();
    for prog in ["prog", "prog_switch", "prog_migrate"] {
        let path = pin_dir.join(prog);
        if !path.exists() {
            continue;
        }
        let text = output(
            Command::new("bpftool")
                .args(["-j", "prog", "show", "pinned"])
                .arg(&path),
        )?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        for id in v.get("map_ids")?.as_array()? {
            ids.insert(id.as_u64()?);
        }
    }
    let mut total = 0;
    for id in &ids {
        let text =
            output(Command::new("bpftool").args(["-j", "map", "show", "id", &id.to_string()]))?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        total += v.get("bytes_memlock")?.as_u64()?;
    }
    (!ids.is_empty()).then_some((total, ids.len()))
}

pub(super) fn machine_facts() -> Vec<(&'static str, String)> {
    let cmd = |prog: &str, args: &[&str]| {
        output(Command::new(prog).args(args))
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let mut commit = cmd(
        "git",
        &[
            "-C",
            &root().to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    if output(Command::new("git").args(["-C", &root().to_string_lossy(), "status", "--porcelain"]))
        .is_some_and(|s| !s.trim().is_empty())
    {
        commit.push_str(" (with uncommitted changes)");
    }
    let strace = cmd("strace", &["-V"])
        .lines()
        .next()
        .unwrap_or("unknown")
        .to_owned();
    vec![
        ("date", cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        ("kernel", cmd("uname", &["-r"])),
        ("CPUs", cmd("nproc", &[])),
        ("CPU model", cpu_model),
        ("recorder commit", commit),
        ("strace", strace),
    ]
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_record_is_parsed() {
        use std::os::unix::process::ExitStatusExt;
        let n = 1000 * CHUNKS as u64;
        let mut stdout = b"noise".to_vec();
        stdout.extend_from_slice(MARKER);
        let mut push = |ns: i64| {
            stdout.extend_from_slice(&(ns / 1_000_000_000).to_le_bytes());
            stdout.extend_from_slice(&(ns % 1_000_000_000).to_le_bytes());
        };
        // Monotonic before, then the CPU clock at the chunk boundaries: chunk i takes
        // 100 µs + i µs of CPU time (100 + i ns per call), then monotonic after.
        push(500_000_000);
        let mut t = 1_000_000_000i64;
        push(t);
        for i in 0..CHUNKS as i64 {
            t += 100_000 + 1000 * i;
            push(t);
        }
        push(500_000_000 + 1000 * (t - 1_000_000_000));
        let out = Output {
            status: std::process::ExitStatus::from_raw(0),
            stdout,
            stderr: Vec::new(),
        };
        let s = parse_loop_output(&out, n, Duration::from_secs(1)).expect("parses");
        let mean = 100.0 + (CHUNKS as f64 - 1.0) / 2.0;
        assert!((s.cpu - mean).abs() < 1e-9, "{}", s.cpu);
        assert!((s.mono - 1000.0 * mean).abs() < 1e-6, "{}", s.mono);
        // 5th percentile of 100..150 over 50 chunks: the 3rd smallest.
        assert!((percentile(&s.rates, STEADY_PERCENTILE) - 102.0).abs() < 1e-9);
        assert!((s.wall - 1e9 / n as f64).abs() < 1e-9);
    }
}
