//! Syscall names resolved with libseccomp on every architecture the runtime would put
//! in the filter on this host.

use super::*;

/// The filter architectures on this host: native first, then the listed ones that
/// libseccomp supports, as (label, libseccomp arch).
pub(super) fn filter_arches(c: &mut Checker, listed: &[OciArch]) -> Vec<(String, ScmpArch)> {
    let native_label = crate::arch::native_label();
    let mut out = vec![(native_label, ScmpArch::native())];
    for a in listed {
        let label = a.to_string();
        let Ok(scmp) = ScmpArch::from_str(&label) else {
            continue;
        };
        if scmp == ScmpArch::Native || out.iter().any(|(_, s)| *s == scmp) {
            continue;
        }
        // Every architecture has `read`; if libseccomp cannot resolve it there, it
        // does not support the architecture at all.
        let supported =
            ScmpSyscall::from_name_by_arch("read", scmp).is_ok_and(|s| s.as_raw_syscall() >= 0);
        if !supported {
            c.warn(
                "architectures",
                format!("{label} is not supported by libseccomp {}; the runtime cannot add it, and its syscall names are not checked", libseccomp_version()),
            );
            continue;
        }
        out.push((label, scmp));
    }
    out
}

pub(super) fn libseccomp_version() -> String {
    ScmpVersion::current()
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "(unknown version)".into())
}

/// (b): every name, resolved per filter architecture (`arches`: [`filter_arches`]).
pub(super) fn check_names(c: &mut Checker, model: &Model, arches: &[(String, ScmpArch)]) {
    let labels = |list: &[&(String, ScmpArch)]| {
        list.iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut all_names: Option<Vec<&'static str>> = None;
    let mut checked: HashMap<&str, Verdict> = HashMap::new();
    for rule in &model.rules {
        for (path, name) in &rule.names {
            let verdict = checked
                .entry(name.as_str())
                .or_insert_with(|| resolve(name, arches))
                .clone();
            let missing: Vec<&(String, ScmpArch)> =
                verdict.missing.iter().map(|i| &arches[*i]).collect();
            if missing.is_empty() {
                continue;
            }
            // Arches where the kernel has the name but this libseccomp does not.
            let kernel_only: Vec<String> = missing
                .iter()
                .filter_map(|(label, _)| {
                    label
                        .parse::<Arch>()
                        .ok()
                        .and_then(|a| a.number_of(name))
                        .map(|nr| format!("{label} nr {nr}"))
                })
                .collect();
            let lib_note = if kernel_only.is_empty() {
                String::new()
            } else {
                format!(
                    "; the kernel's table has it ({}) but libseccomp {} does not know it, so the runtime could not load it",
                    kernel_only.join(", "),
                    libseccomp_version()
                )
            };
            if missing.len() < arches.len() {
                if crate::kernel_calls::is_kernel_call(name) && kernel_only.is_empty() {
                    // sigreturn is meant for the architectures that have it.
                    continue;
                }
                c.warn(
                    path,
                    format!(
                        "syscall {name:?} is unknown on {} (the rule does not cover it there){lib_note}",
                        labels(&missing)
                    ),
                );
            } else if !kernel_only.is_empty() {
                c.error(
                    path,
                    format!(
                        "syscall {name:?} is unknown to libseccomp {}{lib_note}",
                        libseccomp_version()
                    ),
                );
            } else if verdict.known_elsewhere {
                c.warn(
                    path,
                    format!(
                        "{name:?} is not a syscall on {}: the rule matches nothing there",
                        labels(&missing)
                    ),
                );
            } else {
                let names = all_names.get_or_insert_with(|| {
                    let mut v: Vec<&'static str> = Arch::ALL
                        .iter()
                        .flat_map(|a| a.table())
                        .map(|(_, n)| n)
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                });
                c.error(
                    path,
                    format!(
                        "unknown syscall {name:?}{}; checked on {}",
                        did_you_mean(name, names.iter().copied()),
                        labels(&missing)
                    ),
                );
            }
        }
    }
}

#[derive(Clone)]
pub(super) struct Verdict {
    /// Indexes into the filter arches where the name is no syscall.
    missing: Vec<usize>,
    /// libseccomp knows the name (as a syscall of some architecture).
    known_elsewhere: bool,
}

/// With libseccomp's rewrite for multiplexed syscalls: `socket` on x86 is a
/// `socketcall` rule to libseccomp (plus the direct call where it knows the number), so
/// the rule does cover it there.
pub(super) fn resolve(name: &str, arches: &[(String, ScmpArch)]) -> Verdict {
    let missing = arches
        .iter()
        .enumerate()
        .filter(|(_, (_, a))| {
            ScmpSyscall::from_name_by_arch_rewrite(name, *a)
                .map_or(true, |s| s.as_raw_syscall() < 0)
        })
        .map(|(i, _)| i)
        .collect();
    // Err: not in libseccomp's tables; a negative pseudo number: a syscall of some
    // other architecture.
    let known_elsewhere = ScmpSyscall::from_name(name).is_ok();
    Verdict {
        missing,
        known_elsewhere,
    }
}
