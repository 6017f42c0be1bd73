//! Cross-checks every syscall table against libseccomp's `scmp_sys_resolver`.
//!
//! The profiles we write are read by libseccomp (via the OCI runtime), so a name must
//! mean the same number to us and to libseccomp on every architecture. libseccomp
//! 2.5.4 (Debian bookworm) predates the newest syscalls: names it does not know are
//! listed and allowed, up to a modest fraction per architecture. Any number that
//! disagrees fails the test.
//!
//! Needs `scmp_sys_resolver` (`apt-get install seccomp`); without it the tests fail
//! under `CI=true` and are skipped otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use seccomp_profile::syscalls::Arch;

const RESOLVER: &str = "scmp_sys_resolver";
const MISSING: &str = "scmp_sys_resolver not found: apt-get install seccomp";

/// The most names per architecture that libseccomp may not know, as a fraction of
/// the table (the tables have 325–459 entries; libseccomp 2.5.4 lacks 13–16 of each).
const MAX_UNKNOWN_FRACTION: f64 = 0.10;

/// Names that exist on every architecture we support and that every recorded
/// workload or container runtime is likely to use.
#[rustfmt::skip]
const COMMON: &[&str] = &[
    "read", "write", "close", "openat", "openat2", "exit", "exit_group", "execve",
    "execveat", "clone", "clone3", "futex", "getpid", "getppid", "gettid", "kill", "tgkill",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "readv", "writev", "pread64",
    "pwrite64", "dup", "dup3", "pipe2", "fcntl", "munmap", "mprotect", "mremap", "madvise",
    "brk", "nanosleep", "clock_gettime", "clock_nanosleep", "getrandom", "prctl", "seccomp",
    "capget", "capset", "setresuid", "setresgid", "setgroups", "unshare", "setns", "mount",
    "umount2", "pivot_root", "sethostname", "sched_yield", "sched_getaffinity",
    "set_robust_list", "set_tid_address", "prlimit64", "wait4", "waitid", "socket",
    "socketpair", "bind", "listen", "accept4", "connect", "sendto", "recvfrom", "sendmsg",
    "recvmsg", "shutdown", "setsockopt", "getsockopt", "epoll_create1", "epoll_ctl",
    "epoll_pwait", "eventfd2", "ppoll", "pselect6", "statx", "getdents64", "faccessat",
    "faccessat2", "mkdirat", "unlinkat", "renameat2", "fchmodat", "fchownat", "utimensat",
    "readlinkat", "symlinkat", "linkat", "getcwd", "chdir", "fchdir", "umask",
    "memfd_create", "rseq", "close_range", "pidfd_open", "io_uring_setup", "uname",
    "getuid", "geteuid", "getgid", "getegid", "sigaltstack", "membarrier",
    "copy_file_range", "fsync",
];

/// Finds `scmp_sys_resolver`, or fails (under `CI=true`) or skips with a message.
fn resolver() -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&dirs)
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(RESOLVER))
        .find(|path| path.is_file());
    if !crate::common::prerequisite(found.is_some(), MISSING) {
        return None;
    }
    found
}

/// Runs `scmp_sys_resolver -a ARCH QUERY` and returns what it printed.
fn run_resolver(resolver: &Path, arch: Arch, query: &str) -> String {
    let output = Command::new(resolver)
        .args(["-a", arch.short_name(), query])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", resolver.display()));
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success(),
        "{RESOLVER} -a {} {query} failed: {:?} {text}",
        arch.short_name(),
        output.status
    );
    text
}

/// What libseccomp says `name` is on `arch`: `Some(nr)`, or `None` when it has no
/// number for the name there (it prints -1, or a negative pseudo-syscall number for
/// calls it multiplexes, such as `socket` via `socketcall` on x86).
fn libseccomp_number(resolver: &Path, arch: Arch, name: &str) -> Option<u64> {
    let text = run_resolver(resolver, arch, name);
    let nr: i64 = text.parse().unwrap_or_else(|e| {
        panic!(
            "{RESOLVER} -a {} {name} printed {text:?}: {e}",
            arch.short_name()
        )
    });
    u64::try_from(nr).ok()
}

/// What libseccomp says syscall `nr` is called on `arch`, if it knows it.
fn libseccomp_name(resolver: &Path, arch: Arch, nr: u64) -> Option<String> {
    let text = run_resolver(resolver, arch, &nr.to_string());
    (text != "UNKNOWN").then_some(text)
}

/// Runs `f` on every query on several threads: `scmp_sys_resolver` takes one query
/// per call, and several thousand sequential calls would take several seconds.
fn parallel_map<Q: Sync, R: Send>(queries: &[Q], f: impl Fn(&Q) -> R + Sync) -> Vec<R> {
    let results: Mutex<Vec<Option<R>>> = Mutex::new(queries.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(query) = queries.get(i) else { break };
                let result = f(query);
                results.lock().expect("no thread panicked holding the lock")[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("no thread panicked holding the lock")
        .into_iter()
        .map(|r| r.expect("every query answered"))
        .collect()
}

/// libseccomp's view of one of our entries.
enum Verdict {
    /// libseccomp maps the name to our number, or (for a pseudo-syscall name) our
    /// number to the name.
    Agrees,
    /// libseccomp knows neither the name nor the number: newer than libseccomp.
    Unknown,
    /// libseccomp says something else.
    Disagrees(String),
}

fn check_entry(resolver: &Path, arch: Arch, nr: u64, name: &str) -> Verdict {
    match libseccomp_number(resolver, arch, name) {
        Some(theirs) if theirs == nr => Verdict::Agrees,
        Some(theirs) => Verdict::Disagrees(format!("libseccomp number {theirs}")),
        None => match libseccomp_name(resolver, arch, nr) {
            None => Verdict::Unknown,
            Some(theirs) if theirs == name => Verdict::Agrees,
            Some(theirs) => Verdict::Disagrees(format!("libseccomp name {theirs}")),
        },
    }
}

#[e2e_macros::test]
fn every_table_entry_matches_libseccomp() {
    let Some(resolver) = resolver() else { return };
    let entries: Vec<(Arch, u64, &'static str)> = Arch::ALL
        .iter()
        .flat_map(|&arch| {
            arch.table()
                .into_iter()
                .map(move |(nr, name)| (arch, nr, name))
        })
        .collect();
    let verdicts = parallel_map(&entries, |&(arch, nr, name)| {
        check_entry(&resolver, arch, nr, name)
    });

    let mut mismatches = Vec::new();
    let mut unknown: BTreeMap<Arch, Vec<&str>> = BTreeMap::new();
    let mut sizes: BTreeMap<Arch, usize> = BTreeMap::new();
    for (&(arch, nr, name), verdict) in entries.iter().zip(verdicts) {
        *sizes.entry(arch).or_default() += 1;
        match verdict {
            Verdict::Agrees => {}
            Verdict::Unknown => unknown.entry(arch).or_default().push(name),
            Verdict::Disagrees(theirs) => mismatches.push(format!("{arch} {name} {nr}: {theirs}")),
        }
    }

    let mut too_many = Vec::new();
    for (&arch, &size) in &sizes {
        let names = unknown.get(&arch).map_or(&[][..], Vec::as_slice);
        println!(
            "{arch}: {size} entries, {} unknown to libseccomp: {}",
            names.len(),
            names.join(" ")
        );
        // Counts are a few hundred: exact in f64.
        if names.len() as f64 > MAX_UNKNOWN_FRACTION * size as f64 {
            too_many.push(format!("{arch}: {} of {size}", names.len()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "numbers disagree with libseccomp:\n{}",
        mismatches.join("\n")
    );
    assert!(
        too_many.is_empty(),
        "libseccomp does not know more than {:.0}% of the table: {}",
        MAX_UNKNOWN_FRACTION * 100.0,
        too_many.join(", ")
    );
}

/// Numbers worth probing on `arch`: the whole regular range, and the ARM-private one.
fn probe_numbers(arch: Arch) -> Vec<u64> {
    let regular = (0..1024).map(|nr| match arch {
        Arch::X32 => nr | 0x4000_0000,
        _ => nr,
    });
    let private = (0x0f_0000..0x0f_0010).filter(move |_| arch == Arch::Arm);
    regular.chain(private).collect()
}

#[e2e_macros::test]
fn no_number_libseccomp_knows_is_missing() {
    let Some(resolver) = resolver() else { return };
    let probes: Vec<(Arch, u64)> = Arch::ALL
        .iter()
        .flat_map(|&arch| probe_numbers(arch).into_iter().map(move |nr| (arch, nr)))
        .collect();
    let theirs = parallel_map(&probes, |&(arch, nr)| libseccomp_name(&resolver, arch, nr));

    let mut missing = Vec::new();
    for (&(arch, nr), theirs) in probes.iter().zip(theirs) {
        if let Some(theirs) = theirs {
            if arch.name_of(nr) != Some(theirs.as_str()) {
                missing.push(format!(
                    "{arch} {nr}: libseccomp {theirs}, ours {:?}",
                    arch.name_of(nr)
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "numbers libseccomp knows and we do not:\n{}",
        missing.join("\n")
    );
}

#[e2e_macros::test]
fn common_names_resolve_on_every_arch() {
    let Some(resolver) = resolver() else { return };
    let queries: Vec<(Arch, &'static str)> = Arch::ALL
        .iter()
        .flat_map(|&arch| COMMON.iter().map(move |&name| (arch, name)))
        .collect();
    let verdicts = parallel_map(&queries, |&(arch, name)| {
        arch.number_of(name)
            .map(|nr| (nr, check_entry(&resolver, arch, nr, name)))
    });

    let mut failures = Vec::new();
    for (&(arch, name), verdict) in queries.iter().zip(verdicts) {
        match verdict {
            None => failures.push(format!("{arch} {name}: not in our table")),
            Some((_, Verdict::Agrees)) => {}
            Some((nr, Verdict::Unknown)) => {
                failures.push(format!("{arch} {name} {nr}: unknown to libseccomp"))
            }
            Some((nr, Verdict::Disagrees(theirs))) => {
                failures.push(format!("{arch} {name} {nr}: {theirs}"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "common syscalls missing or different:\n{}",
        failures.join("\n")
    );
}

#[e2e_macros::test]
fn x32_special_numbers_match_libseccomp() {
    let Some(resolver) = resolver() else { return };
    // The 36 x32-only entries (512..=547) and a common one, by number of the kernel's
    // syscall_64.tbl; libseccomp must agree with the table and with these.
    #[rustfmt::skip]
    let names = [
        "rt_sigaction", "rt_sigreturn", "ioctl", "readv", "writev", "recvfrom", "sendmsg",
        "recvmsg", "execve", "ptrace", "rt_sigpending", "rt_sigtimedwait",
        "rt_sigqueueinfo", "sigaltstack", "timer_create", "mq_notify", "kexec_load",
        "waitid", "set_robust_list", "get_robust_list", "vmsplice", "move_pages", "preadv",
        "pwritev", "rt_tgsigqueueinfo", "recvmmsg", "sendmmsg", "process_vm_readv",
        "process_vm_writev", "setsockopt", "getsockopt", "io_setup", "io_submit",
        "execveat", "preadv2", "pwritev2",
    ];
    let theirs = parallel_map(&names, |name| libseccomp_number(&resolver, Arch::X32, name));
    for ((i, name), theirs) in names.iter().enumerate().zip(theirs) {
        let expected = 0x4000_0000 + 512 + i as u64;
        assert_eq!(
            Arch::X32.number_of(name),
            Some(expected),
            "ours: x32 {name}"
        );
        assert_eq!(theirs, Some(expected), "libseccomp: x32 {name}");
        // The 64-bit number of the same name is no x32 syscall, to libseccomp either.
        let nr64 = Arch::X86_64.number_of(name).expect(name) | 0x4000_0000;
        assert_eq!(
            libseccomp_name(&resolver, Arch::X32, nr64),
            None,
            "libseccomp: x32 {nr64}"
        );
    }
    assert_eq!(
        libseccomp_number(&resolver, Arch::X32, "getppid"),
        Some(0x4000_0000 + 110)
    );
}
