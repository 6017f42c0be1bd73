//! The clocks `audit-report` reads: now, and when the system booted.

use seccomp_profile::audit::time::WallTime;

fn clock_ms(clock: libc::clockid_t) -> std::io::Result<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000)
}

/// The current wall-clock time.
pub fn now() -> std::io::Result<WallTime> {
    clock_ms(libc::CLOCK_REALTIME).map(WallTime)
}

/// When the system booted: `CLOCK_REALTIME - CLOCK_BOOTTIME`, as `dmesg -T` computes
/// it (the printk clock does not run during suspend, so kmsg times of records from
/// before a suspend come out early by the time suspended).
pub fn boot_time() -> std::io::Result<WallTime> {
    Ok(WallTime(
        clock_ms(libc::CLOCK_REALTIME)? - clock_ms(libc::CLOCK_BOOTTIME)?,
    ))
}
