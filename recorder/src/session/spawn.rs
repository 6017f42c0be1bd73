//! Starting the recorded command directly inside its cgroup.
//!
//! `clone3(CLONE_INTO_CGROUP)` places the child in the cgroup at birth. Migrating a
//! running process by writing `cgroup.procs` instead takes the cgroup threadgroup
//! lock for writing, which waits for an RCU grace period (~10 ms here) whenever the
//! lock was idle — on nearly every `record`. Kernels before 5.7 lack the flag; the
//! caller then falls back to the migration.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Why spawning failed.
#[derive(Debug)]
pub enum SpawnError {
    /// clone3 with CLONE_INTO_CGROUP is not available: use another way.
    Unsupported(io::Error),
    /// The command could not be started (exec failed, or clone3 failed otherwise).
    Failed(io::Error),
}

fn cstring(s: &std::ffi::OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the command"))
}

/// Starts `command` in the cgroup whose directory is open as `cgroup`, with the
/// signals in `unblock` unblocked and SIGPIPE at its default. Returns the child's pid
/// once it has exec'd; an exec failure comes back as `Failed` with its errno.
pub fn spawn_in_cgroup(
    command: &[OsString],
    cgroup: BorrowedFd<'_>,
    unblock: &libc::sigset_t,
) -> Result<i32, SpawnError> {
    // Everything the child needs is prepared before the clone: after it, the child only
    // makes async-signal-safe calls.
    let argv_c: Vec<CString> = command
        .iter()
        .map(|a| cstring(a))
        .collect::<io::Result<_>>()
        .map_err(SpawnError::Failed)?;
    let Some(program) = argv_c.first() else {
        return Err(SpawnError::Failed(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty command",
        )));
    };
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());

    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 with a valid out array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SpawnError::Failed(io::Error::last_os_error()));
    }
    let (read_end, write_end) = (pipe[0], pipe[1]);
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM behaves like fork: the child gets a copy of the
    // address space and runs only the async-signal-safe code below.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // Child.
        // SAFETY: async-signal-safe calls only; _exit never returns.
        unsafe {
            libc::close(read_end);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, unblock, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execvp(program.as_ptr(), argv.as_ptr());
            let errno = *libc::__errno_location();
            let bytes = errno.to_ne_bytes();
            libc::write(write_end, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(write_end) };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closing the read end we own.
        unsafe { libc::close(read_end) };
        return Err(match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::E2BIG) | Some(libc::EINVAL) => {
                SpawnError::Unsupported(e)
            }
            _ => SpawnError::Failed(e),
        });
    }
    let pid = pid as i32;
    let mut buf = [0u8; 4];
    let n = loop {
        // SAFETY: reading into a 4-byte buffer from our pipe.
        let n = unsafe { libc::read(read_end, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        break n;
    };
    // SAFETY: closing the read end we own.
    unsafe { libc::close(read_end) };
    if n == 4 {
        // exec failed: reap the child and report its errno.
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        return Err(SpawnError::Failed(io::Error::from_raw_os_error(
            i32::from_ne_bytes(buf),
        )));
    }
    Ok(pid)
}

/// Waits for `pid`; returns its exit code, or 128 + signal.
pub fn wait_exit_code(pid: i32) -> io::Result<u8> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    } else {
        1
    })
}
