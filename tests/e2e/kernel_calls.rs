//! The calls the kernel makes for a program (`seccomp_profile::kernel_calls`), for
//! real: recordings never see them (nothing stopped or signalled the workload while it
//! was recorded), yet a profile enforced in production must let them through.
//!
//! - A podman + crun container sleeping under its own recorded profile is stopped and
//!   continued from the host: it must sleep its full time (the kernel resumes the
//!   interrupted sleep through `restart_syscall`; denied, busybox `sleep` returns early
//!   with status 0).
//! - A shell recorded with `record --runtime none` (no runtime tail, so nothing else
//!   brings `rt_sigreturn`) and enforced with `enforce` survives a signal it traps
//!   (denied, the handler's return is a SIGSEGV).
//! - A shell's `wait` and a thread's `pthread_join` recorded while what they wait for
//!   was quick still wait under the profile when it is slow (denied: the shell spins,
//!   the threaded program dies with SIGSEGV).

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::installed::Installed;
use common::podman::PodmanEnv;
use common::*;

/// `(state, starttime in clock ticks since boot)` of `/proc/PID/stat`; `None` once the
/// process is gone.
fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may hold spaces: the fields after it follow the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 (starttime) is the 20th after the comm.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Seconds since boot (CLOCK_BOOTTIME), the clock of `/proc/PID/stat`'s starttime.
fn boottime() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_BOOTTIME)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(t > 0, "sysconf(_SC_CLK_TCK)");
    t as f64
}

/// Polls until `pid`'s state is `want`; panics after 20 s.
fn wait_state(pid: i32, want: char, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match proc_stat(pid) {
            Some((s, _)) if s == want => return,
            Some(_) => {}
            None => panic!("{what}: process {pid} is gone before reaching state {want}"),
        }
        assert!(
            Instant::now() < deadline,
            "{what}: process {pid} never reached state {want} (now {:?})",
            proc_stat(pid)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Removes a kept container however the test ends.
struct Container<'a> {
    env: &'a PodmanEnv,
    name: &'a str,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.env.podman(&["rm", "-f", "-t", "0", self.name]);
    }
}

#[cfg(target_arch = "x86_64")]
#[e2e_macros::test]
fn a_stopped_and_continued_container_sleeps_its_full_time_under_its_recorded_profile() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let inst = Installed::new(env.dir(), env.hooks_dir(), "stopcont");

    // Recorded undisturbed: the kernel never resumed anything, so the recording
    // cannot have seen restart_syscall.
    let o = env.run(
        &[
            "--annotation",
            "seccomp-recorder.io/output=sleep.json",
            "--annotation",
            "seccomp-recorder.io/stats=sleep.stats.json",
        ],
        &["sleep", "1"],
    );
    assert!(o.status.success(), "record: {}\n{}", stderr(&o), inst.log());
    let profile = inst.out.join("sleep.json");
    let stats = read_stats(&inst.out.join("sleep.stats.json"));
    assert_eq!(
        count_of(&stats, "SCMP_ARCH_X86_64", "restart_syscall"),
        0,
        "the recording itself saw restart_syscall: the test would prove nothing"
    );

    // Enforced, stopped for a second in the middle of `sleep 3`, then continued.
    let name = format!("sr-stopcont-{}", std::process::id());
    let sec = format!("seccomp={}", profile.display());
    let o = env.run_keep(
        &["-d", "--name", &name, "--security-opt", &sec],
        &["sleep", "3"],
    );
    let _container = Container {
        env: &env,
        name: &name,
    };
    assert!(o.status.success(), "podman run -d: {}", stderr(&o));
    let o = env.podman(&["inspect", "--format", "{{.State.Pid}}", &name]);
    assert!(o.status.success(), "podman inspect: {}", stderr(&o));
    let pid: i32 = stdout(&o).trim().parse().expect("container pid");
    assert!(pid > 0, "container pid {pid}");
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "sleep", "the container's init is the sleep");
    let (_, start_ticks) = proc_stat(pid).expect("stat of the sleep");
    // In its nanosleep: sleeping, not still starting.
    wait_state(pid, 'S', "sleep");
    kill(Pid::from_raw(pid), Signal::SIGSTOP).expect("SIGSTOP");
    wait_state(pid, 'T', "stopped sleep");
    std::thread::sleep(Duration::from_secs(1));
    kill(Pid::from_raw(pid), Signal::SIGCONT).expect("SIGCONT");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ended = loop {
        match proc_stat(pid) {
            None | Some(('Z', _)) => break boottime(),
            Some(_) => {}
        }
        assert!(Instant::now() < deadline, "the sleep never ended");
        std::thread::sleep(Duration::from_millis(5));
    };
    let lifetime = ended - start_ticks as f64 / clock_ticks();
    let o = env.podman(&["wait", &name]);
    assert!(o.status.success(), "podman wait: {}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "0", "exit code of the sleep");
    eprintln!("stopped and continued `sleep 3` lived {lifetime:.2} s");
    assert!(
        lifetime >= 3.0,
        "`sleep 3` under its recorded profile ended after {lifetime:.2} s: the kernel's restart_syscall was denied"
    );
}

/// A shell that traps SIGUSR1, says "ready" and blocks reading stdin: "trapped" when the
/// signal comes, "eof" when stdin ends first. No child processes, so no SIGCHLD: the
/// recording (stdin at EOF) handles no signal at all.
const TRAPPING_SHELL: &str = r#"trap 'echo trapped; exit 0' USR1; echo ready; read line; echo eof"#;

fn record_trapping_shell(dir: &Path) -> std::path::PathBuf {
    let profile = dir.join("sh.json");
    let stats = dir.join("sh.stats.json");
    let o = run(&[
        "record",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--stats",
        stats.to_str().expect("utf8"),
        "--",
        "sh",
        "-c",
        TRAPPING_SHELL,
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    assert_eq!(stdout(&o), "ready\neof\n");
    let stats = read_stats(&stats);
    assert_eq!(
        count_of(&stats, "SCMP_ARCH_X86_64", "rt_sigreturn"),
        0,
        "the recording itself handled a signal: the test would prove nothing"
    );
    profile
}

#[cfg(target_arch = "x86_64")]
#[e2e_macros::test]
fn a_handled_signal_is_survived_under_a_profile_recorded_without_runtime() {
    if !can_record() || !prerequisite(have("sh"), "sh") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = record_trapping_shell(dir.path());

    let mut child = Command::new(bin())
        .arg("enforce")
        .arg("--profile")
        .arg(&profile)
        .args(["--", "sh", "-c", TRAPPING_SHELL])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn enforce");
    // enforce execs the command: its pid is the shell's.
    let pid = i32::try_from(child.id()).expect("pid");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read ready");
    assert_eq!(line, "ready\n", "the shell did not start under its profile");
    // Blocked in `read`, stdin still open.
    wait_state(pid, 'S', "shell");
    kill(Pid::from_raw(pid), Signal::SIGUSR1).expect("SIGUSR1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            // Unblock the read so that the failure is reported instead of a hang.
            drop(child.stdin.take());
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("read the rest");
    drop(child.stdin.take());
    assert!(
        status.success() && rest == "trapped\n",
        "the trapping shell under its recorded profile: {status:?}, stdout after ready: {rest:?}"
    );
}

/// `sh -c WAITING_SHELL sh DELAY`: a background child that sleeps DELAY seconds, the
/// shell's own 0.3 s, then `wait` for the child. With DELAY 0 the child has exited
/// before the `wait` (busybox sh: `waitpid(WNOHANG)` finds it); with DELAY 1 it has not,
/// and the shell waits for SIGCHLD in `rt_sigsuspend`. `$B` is busybox.
const WAITING_SHELL: &str = r#""$B" sleep "$1" & "$B" sleep 0.3; wait $!; echo waited"#;

/// Runs `enforce --profile PROFILE -- busybox sh -c WAITING_SHELL sh DELAY`; its exit
/// status and stdout, or `None` when it still ran after `limit` (then it is killed with
/// SIGKILL: a shell spinning with every signal blocked ignores SIGTERM).
fn run_waiting_shell(
    busybox: &Path,
    profile: &Path,
    delay: &str,
    limit: Duration,
) -> Option<(std::process::ExitStatus, String)> {
    let b = busybox.to_str().expect("utf8");
    enforce_within(
        profile,
        busybox,
        &["sh", "-c", WAITING_SHELL, "sh", delay],
        &[("B", b)],
        limit,
    )
    .map(|o| (o.status, stdout(&o)))
}

#[e2e_macros::test]
fn a_shell_waits_for_a_slower_child_than_the_recorded_one() {
    if !can_record() {
        return;
    }
    let Some(busybox) = podman::required_static_busybox() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("wait.json");
    let stats = dir.path().join("wait.stats.json");
    let b = busybox.to_str().expect("utf8");
    let mut c = Command::new(bin());
    c.args(["record", "--runtime", "none", "-o"])
        .arg(&profile)
        .arg("--stats")
        .arg(&stats)
        .args(["--", b, "sh", "-c", WAITING_SHELL, "sh", "0"])
        .env("B", b);
    let o = c.output().expect("record");
    assert!(o.status.success(), "record: {}", stderr(&o));
    assert_eq!(stdout(&o), "waited\n");
    // The recording's child was quick: the shell never waited for a signal.
    assert_eq!(
        count_of(&read_stats(&stats), "SCMP_ARCH_X86_64", "rt_sigsuspend"),
        0,
        "the recording itself waited in rt_sigsuspend: the test would prove nothing"
    );
    // The profile allows it anyway (seccomp_profile::kernel_calls).
    assert!(allowed_names(&profile).iter().any(|n| n == "rt_sigsuspend"));
    let t0 = Instant::now();
    let run = run_waiting_shell(&busybox, &profile, "1", Duration::from_secs(20));
    let (status, out) = run.unwrap_or_else(|| {
        panic!("the shell still ran after 20 s under its recorded profile (a wait that spins)")
    });
    assert!(status.success() && out == "waited\n", "{status:?} {out:?}");
    assert!(t0.elapsed() >= Duration::from_secs(1), "the child's 1 s");

    // The same profile without it: the shell spins until killed. What every profile
    // would do to this shell without the rule.
    let mut doc = read_json(&profile);
    for rule in doc["syscalls"].as_array_mut().expect("syscalls") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "rt_sigsuspend");
        }
    }
    let without = dir.path().join("without.json");
    fs::write(&without, doc.to_string()).expect("write");
    assert!(
        run_waiting_shell(&busybox, &without, "1", Duration::from_secs(3)).is_none(),
        "without rt_sigsuspend the shell was expected to spin"
    );
}

/// `enforce --profile PROFILE -- PROGRAM ARGS` with `env` added: its output, or `None`
/// when it still ran after `limit` (then killed with SIGKILL: a program spinning with
/// every signal blocked ignores SIGTERM).
fn enforce_within(
    profile: &Path,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Option<Output> {
    let child = Command::new(bin())
        .envs(env.iter().copied())
        .arg("enforce")
        .arg("--profile")
        .arg(profile)
        .arg("--")
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn enforce");
    let pid = Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Some(out.expect("enforce output")),
        Err(_) => {
            let _ = kill(pid, Signal::SIGKILL);
            None
        }
    }
}

/// glibc's `pthread_join` waits in `futex` only when the thread has not ended yet. A
/// recording whose worker ended first (1 ms, joined after 100 ms) has no `futex`; the
/// same program whose worker is slower than the join must still run under that profile
/// (every profile allows `futex`: `seccomp_profile::kernel_calls`), and dies without it.
#[e2e_macros::test]
fn a_thread_joins_a_slower_worker_than_the_recorded_one() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(probe) = argprobe(dir.path()) else {
        return;
    };
    let profile = dir.path().join("join.json");
    let stats = dir.path().join("join.stats.json");
    let o = run(&[
        "record",
        "--runtime",
        "none",
        "-o",
        profile.to_str().expect("utf8"),
        "--stats",
        stats.to_str().expect("utf8"),
        "--",
        probe.to_str().expect("utf8"),
        "join:1:100",
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    assert_eq!(
        count_of(&read_stats(&stats), "SCMP_ARCH_X86_64", "futex"),
        0,
        "the recording itself waited in futex: the test would prove nothing"
    );
    assert!(allowed_names(&profile).iter().any(|n| n == "futex"));
    let slow = ["join:300:1"];
    let o = enforce_within(&profile, &probe, &slow, &[], Duration::from_secs(20))
        .expect("the join still ran after 20 s under its recorded profile");
    assert!(
        o.status.success() && stdout(&o) == "join:300:1 ok\n",
        "{:?} {} {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );

    // The same profile without it: what every profile would do to this program.
    let mut doc = read_json(&profile);
    for rule in doc["syscalls"].as_array_mut().expect("syscalls") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "futex");
        }
    }
    let without = dir.path().join("without.json");
    fs::write(&without, doc.to_string()).expect("write");
    let o = enforce_within(&without, &probe, &slow, &[], Duration::from_secs(5));
    assert!(
        o.as_ref().is_none_or(|o| !o.status.success()),
        "without futex the join was expected to fail: {o:?}"
    );
}
