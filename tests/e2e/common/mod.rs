//! Shared helpers of the end-to-end tests: prerequisites, the binary, tiny programs.
#![allow(dead_code)]

pub mod containerd;
pub mod docker;
pub mod everywhere;
pub mod hookrun;
pub mod installed;
pub mod podman;
pub mod registry;
pub mod runc;
pub mod scratch;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Condvar, Mutex, PoisonError};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_seccomp-recorder"))
}

/// Whether we run in CI, where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Checks a prerequisite: `Ok` when present. When missing: panics under CI=true,
/// otherwise prints the reason, notes the test in `$SR_SKIP_LOG` (so that `cargo xtask
/// test` counts it as skipped, not passed) and returns false (the caller returns).
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("prerequisite missing under CI=true: {what}");
    }
    skipped(what);
    false
}

/// Says that the running test is skipped, and why (see [`prerequisite`]).
pub fn skipped(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned();
    eprintln!("SKIPPED: {test}: prerequisite missing: {why}");
    if let Some(log) = std::env::var_os("SR_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{test}\t{}\n", why.replace(['\n', '\t'], " "));
        // One write(2) per line on an O_APPEND file: lines of parallel tests never mix.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
}

/// Tests of one module run together and never beside those of another module: each
/// module was its own test binary (binaries run one after another) and its tests rely
/// on having the host to themselves (cgroups, pins, podman, a private dockerd, timing).
/// Every test takes it first: `#[e2e_macros::test]` (tests/macros) does.
pub fn group(module: &'static str) -> GroupGuard {
    // `e2e::load` or `e2e::load::inner`: the topic is the module below the crate.
    let topic = module.split("::").nth(1).unwrap_or(module);
    let mut g = GROUPS.lock().unwrap_or_else(PoisonError::into_inner);
    while g.current.is_some_and(|c| c != topic) {
        g = GROUP_FREE.wait(g).unwrap_or_else(PoisonError::into_inner);
    }
    g.current = Some(topic);
    g.holders += 1;
    GroupGuard(())
}

struct Groups {
    current: Option<&'static str>,
    holders: usize,
}

static GROUPS: Mutex<Groups> = Mutex::new(Groups {
    current: None,
    holders: 0,
});
static GROUP_FREE: Condvar = Condvar::new();

/// A test's share of its module's turn; the turn ends when the last one is dropped.
pub struct GroupGuard(());

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let mut g = GROUPS.lock().unwrap_or_else(PoisonError::into_inner);
        g.holders -= 1;
        if g.holders == 0 {
            g.current = None;
            GROUP_FREE.notify_all();
        }
    }
}

/// Root, BTF and a cgroup2 mount: what recording needs.
pub fn can_record() -> bool {
    // SAFETY: geteuid never fails.
    let root = unsafe { libc::geteuid() } == 0;
    prerequisite(root, "must run as root (eBPF, cgroups)")
        && prerequisite(
            Path::new("/sys/kernel/btf/vmlinux").exists(),
            "kernel BTF /sys/kernel/btf/vmlinux",
        )
}

/// Whether a program is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs the binary with args; returns the output.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run seccomp-recorder")
}

/// Runs the binary with args and extra environment.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run seccomp-recorder")
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// tests/fixtures/argprobe.c built static (glibc, pthreads) into `dir`; `None` when
/// gcc is missing and CI is not set (a missing prerequisite fails under CI=true).
pub fn argprobe(dir: &Path) -> Option<PathBuf> {
    if !prerequisite(
        have("gcc"),
        "gcc with static glibc (apt-get install gcc libc6-dev)",
    ) {
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/argprobe.c");
    let exe = dir.join("argprobe");
    let o = Command::new("gcc")
        .args(["-static", "-pthread", "-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("gcc");
    assert!(o.status.success(), "gcc argprobe.c: {}", stderr(&o));
    Some(exe)
}

/// One step of a generated assembly program.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// `n` times the x86_64 syscall `nr` (no arguments).
    Syscall64 { nr: u32, n: u32 },
    /// `n` times the i386 syscall `nr` via `int 0x80`.
    Int80 { nr: u32, n: u32 },
    /// `n` x86_64 syscalls numbered `from`, `from + 1`, ... (distinct numbers).
    Distinct64 { from: u32, n: u32 },
    /// nanosleep for `ms` milliseconds.
    SleepMs(u32),
}

/// Assembles and links a static x86_64 program without libc (binutils `as` + `ld`),
/// performing `steps` then exit(0). Returns its path inside `dir`.
pub fn asm_program(dir: &Path, name: &str, steps: &[Step]) -> PathBuf {
    let mut text = String::from(".globl _start\n.text\n_start:\n");
    let mut data = String::from(".data\n");
    for (i, s) in steps.iter().enumerate() {
        match *s {
            Step::Syscall64 { nr, n } => text.push_str(&format!(
                "    movq ${n}, %r12\n1{i}:\n    movq ${nr}, %rax\n    syscall\n    decq %r12\n    jnz 1{i}b\n"
            )),
            Step::Distinct64 { from, n } => text.push_str(&format!(
                "    movq ${n}, %r12\n    movq ${from}, %r13\n1{i}:\n    movq %r13, %rax\n    syscall\n    incq %r13\n    decq %r12\n    jnz 1{i}b\n"
            )),
            Step::Int80 { nr, n } => text.push_str(&format!(
                "    movq ${n}, %r12\n1{i}:\n    movl ${nr}, %eax\n    int $0x80\n    decq %r12\n    jnz 1{i}b\n"
            )),
            Step::SleepMs(ms) => {
                data.push_str(&format!(
                    "ts{i}: .quad {}\n .quad {}\n",
                    ms / 1000,
                    (ms % 1000) as u64 * 1_000_000
                ));
                text.push_str(&format!(
                    "    movq $35, %rax\n    leaq ts{i}(%rip), %rdi\n    xorq %rsi, %rsi\n    syscall\n"
                ));
            }
        }
    }
    text.push_str("    movq $60, %rax\n    xorq %rdi, %rdi\n    syscall\n");
    let src = dir.join(format!("{name}.s"));
    std::fs::write(&src, format!("{text}{data}")).expect("write asm");
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    let st = Command::new("as")
        .arg("-o")
        .arg(&obj)
        .arg(&src)
        .status()
        .expect("as");
    assert!(st.success(), "as failed");
    let st = Command::new("ld")
        .arg("-o")
        .arg(&exe)
        .arg(&obj)
        .status()
        .expect("ld");
    assert!(st.success(), "ld failed");
    exe
}

/// Assembles a static i386 program (`as --32`, `ld -m elf_i386`, no libc) that makes
/// each (nr, n) i386 syscall n times, then exits.
pub fn i386_program(dir: &Path, name: &str, calls: &[(u32, u32)]) -> PathBuf {
    let mut text = String::from(".globl _start\n.text\n_start:\n");
    for (i, (nr, n)) in calls.iter().enumerate() {
        text.push_str(&format!(
            "    movl ${n}, %esi\n1{i}:\n    movl ${nr}, %eax\n    int $0x80\n    decl %esi\n    jnz 1{i}b\n"
        ));
    }
    text.push_str("    movl $1, %eax\n    xorl %ebx, %ebx\n    int $0x80\n");
    let src = dir.join(format!("{name}.s"));
    std::fs::write(&src, text).expect("write asm");
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    let st = Command::new("as")
        .args(["--32", "-o"])
        .arg(&obj)
        .arg(&src)
        .status()
        .expect("as");
    assert!(st.success(), "as --32 failed");
    let st = Command::new("ld")
        .args(["-m", "elf_i386", "-o"])
        .arg(&exe)
        .arg(&obj)
        .status()
        .expect("ld");
    assert!(st.success(), "ld -m elf_i386 failed");
    exe
}

/// Parses a `--stats` file into (arch, name-or-nr, count) triples.
pub fn read_stats(path: &Path) -> Vec<(String, String, u64)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read stats"))
            .expect("stats json");
    v["syscalls"]
        .as_array()
        .expect("syscalls array")
        .iter()
        .map(|s| {
            let name = s["name"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| s["nr"].to_string());
            (
                s["arch"].as_str().expect("arch").to_owned(),
                name,
                s["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

/// Count of (arch, name) in stats, 0 when absent.
pub fn count_of(stats: &[(String, String, u64)], arch: &str, name: &str) -> u64 {
    stats
        .iter()
        .filter(|(a, n, _)| a == arch && n == name)
        .map(|(_, _, c)| *c)
        .sum()
}

/// A JSON file, parsed (panics with the path when it cannot be read).
pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .expect("json")
}

/// Lines of the child's stderr as they come (the pipe is read on a thread).
pub fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let err = child.stderr.take().expect("stderr piped");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    lines
}

/// The allowed names of a profile file.
pub fn allowed_names(path: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read profile"))
            .expect("profile json");
    let mut out = Vec::new();
    for rule in v["syscalls"].as_array().cloned().unwrap_or_default() {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            for n in rule["names"].as_array().cloned().unwrap_or_default() {
                out.push(n.as_str().expect("name").to_owned());
            }
        }
    }
    out
}

/// `bpftool -j ARGS` as JSON.
/// bpftool can fail without a word when an object it lists disappears meanwhile
/// (a link detached by another test): such a failure is retried a few times.
pub fn bpftool_json(args: &[&str]) -> serde_json::Value {
    let mut last = None;
    for attempt in 0..5 {
        let out = Command::new("bpftool")
            .arg("-j")
            .args(args)
            .output()
            .expect("bpftool");
        if out.status.success() {
            return serde_json::from_slice(&out.stdout).expect("bpftool json");
        }
        std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
        last = Some(out);
    }
    let out = last.expect("at least one attempt");
    panic!("bpftool {args:?}: {} {}", out.status, stderr(&out));
}

/// The id of the program pinned at `pin`.
pub fn prog_id(pin: &Path) -> u64 {
    bpftool_json(&["prog", "show", "pinned", pin.to_str().expect("utf8")])["id"]
        .as_u64()
        .expect("prog id")
}

/// How many links the kernel has for program `prog`.
pub fn links_of(prog: u64) -> usize {
    bpftool_json(&["link", "list"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|l| l["prog_id"].as_u64() == Some(prog))
                .count()
        })
        .unwrap_or(0)
}

/// The cgroup2 mount point (found from mountinfo by the library's own discovery).
pub fn cgroup2_root() -> Option<PathBuf> {
    seccomp_recorder::kernel::cgroup::Cgroup2::discover()
        .ok()
        .map(|c| c.root().to_path_buf())
}
