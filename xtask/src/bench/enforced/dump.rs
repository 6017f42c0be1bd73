//! Dumping the loaded filters (`PTRACE_SECCOMP_GET_FILTER`) and summarising them.

use super::*;

/// Starts `c` (enfbench in hold mode), reads its "PID n" line, fetches filter 0 of that
/// process with ptrace, lets it finish.
pub(super) fn dump_child(c: &mut Command) -> Result<Vec<cbpf::Insn>> {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{c:?}"))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let pid: Option<i32> = line
        .trim()
        .strip_prefix("PID ")
        .and_then(|p| p.parse().ok());
    let result = match (read, pid) {
        (Ok(_), Some(pid)) => get_filter(pid),
        _ => Err(anyhow::anyhow!("no PID line from the workload: {line:?}")),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait()?.is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

pub(super) const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;

pub(super) fn get_filter(pid: i32) -> Result<Vec<cbpf::Insn>> {
    // SAFETY: plain ptrace/waitpid calls on a pid we started; the buffer is sized from
    // the kernel's own count.
    unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, pid, 0usize, 0usize) != 0 {
            bail!("PTRACE_ATTACH {pid}: {}", std::io::Error::last_os_error());
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::__WALL);
        let n = libc::ptrace(
            PTRACE_SECCOMP_GET_FILTER,
            pid,
            0usize,
            std::ptr::null_mut::<u8>(),
        );
        let result = if n <= 0 {
            Err(anyhow::anyhow!(
                "PTRACE_SECCOMP_GET_FILTER {pid}: {}",
                std::io::Error::last_os_error()
            ))
        } else {
            let mut buf = vec![0u8; n as usize * 8];
            let m = libc::ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0usize, buf.as_mut_ptr());
            if m != n {
                Err(anyhow::anyhow!(
                    "PTRACE_SECCOMP_GET_FILTER returned {m}, then {n}"
                ))
            } else {
                Ok(cbpf::parse(&buf))
            }
        };
        libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize);
        result
    }
}

pub(super) struct Dump {
    pub(super) path: Path3,
    pub(super) prof: Prof,
    pub(super) len: usize,
    pub(super) eq_count: usize,
    pub(super) ranges: usize,
    pub(super) first: String,
    /// Per syscall of [`CALLS`]: "N steps" / "cached" / result.
    pub(super) calls: [String; 4],
    /// Per syscall: instructions the kernel runs per call (0 when cached).
    pub(super) work: [usize; 4],
    pub(super) text: String,
}

impl Dump {
    pub(super) fn new(path: Path3, prof: Prof, prog: &[cbpf::Insn], text: String) -> Dump {
        let d = cbpf::nr_compares(prog);
        let first =
            d.eq.iter()
                .take(8)
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ");
        let work = CALLS.map(
            |(nr, args)| match cbpf::run(prog, &cbpf::Data::x86_64(nr, args)) {
                Ok(o) if o.cacheable => 0,
                Ok(o) => o.steps,
                Err(_) => usize::MAX,
            },
        );
        let calls = CALLS.map(
            |(nr, args)| match cbpf::run(prog, &cbpf::Data::x86_64(nr, args)) {
                Ok(o) if o.cacheable => format!("cached ({} steps)", o.steps),
                Ok(o) if o.ret == cbpf::RET_ALLOW => format!("{} steps", o.steps),
                Ok(o) => format!("{} steps → {}", o.steps, cbpf::ret_name(o.ret)),
                Err(e) => format!("error: {e}"),
            },
        );
        Dump {
            path,
            prof,
            len: prog.len(),
            eq_count: d.eq.len(),
            ranges: d.ranges,
            first,
            calls,
            work,
            text,
        }
    }

    pub(super) fn prof_short(&self) -> &'static str {
        prof_short(self.prof)
    }
}
