//! Calls the kernel makes for the program ([`crate::kernel_calls`]): a warning when a
//! profile does not let them through.

use super::*;

use crate::evidence::permits;
use crate::kernel_calls::KERNEL_CALLS;

/// (d): each kernel call that is a syscall on some filter architecture (`arches`) and
/// that the profile does not let through unconditionally: denied by default, or
/// stopped by an unconditional rule of an allow-by-default profile.
pub(super) fn check_kernel_calls(c: &mut Checker, model: &Model, arches: &[(String, ScmpArch)]) {
    let Some(default_action) = model.default_action else {
        return;
    };
    let default_permits = permits(default_action);
    let unconditional = |allowing: bool, name: &str| {
        model.rules.iter().any(|r| {
            !r.conditional
                && r.action.is_some_and(|a| permits(a.0) == allowing)
                && r.names.iter().any(|(_, n)| n == name)
        })
    };
    for k in KERNEL_CALLS {
        let exists = arches.iter().any(|(_, a)| {
            ScmpSyscall::from_name_by_arch(k.name, *a).is_ok_and(|s| s.as_raw_syscall() >= 0)
        });
        if !exists || unconditional(true, k.name) {
            continue;
        }
        if default_permits && !unconditional(false, k.name) {
            continue;
        }
        c.warn(
            &model.syscalls_path,
            format!(
                "{:?} is not allowed: {}, and without it {}",
                k.name, k.why, k.breaks
            ),
        );
    }
}
