//! Whether this process may load and attach the program (root, capabilities).

use super::*;

/// Checks that we run as root.
pub fn require_root() -> Result<(), TracerError> {
    // SAFETY: geteuid never fails.
    if unsafe { libc::geteuid() } != 0 {
        return Err(TracerError::NotRoot);
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(eff) = effective_caps(&status) {
        if !can_trace(eff) {
            return Err(TracerError::MissingCaps(eff));
        }
    }
    Ok(())
}

/// The `CapEff` mask of a /proc/PID/status text (pure).
pub fn effective_caps(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Whether capabilities `eff` allow loading and attaching our program (pure):
/// CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON (raw tracepoints).
pub fn can_trace(eff: u64) -> bool {
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    eff & CAP_SYS_ADMIN != 0 || (eff & CAP_BPF != 0 && eff & CAP_PERFMON != 0)
}
