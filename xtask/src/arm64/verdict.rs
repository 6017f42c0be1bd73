//! Judging each step of the arm64 guest from its console (pure; the console's lines
//! are read by `guest::console`).

use serde_json::Value;

use super::guest::{ARM32_GETPPID, EXACT_GETPPID, FLOOD_CALLS};
use crate::guest::console::{
    architectures, count, json, names, report_args, rule_values, Checks, Console,
};

/// What the AArch32 compat check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Compat {
    /// AArch32 programs run: counted as SCMP_ARCH_ARM, with these getppid calls.
    Counted {
        /// getppid calls counted for SCMP_ARCH_ARM.
        getppid: u64,
        /// socket's (family, type) recorded for SCMP_ARCH_ARM.
        socket: Option<(u64, u64)>,
    },
    /// The kernel cannot run AArch32 programs here: why.
    Unsupported(String),
}

/// The verdict on one boot.
#[derive(Debug, Default)]
pub struct Verdict {
    /// What held and what did not.
    pub checks: Checks,
    /// The compat finding (when the step ran).
    pub compat: Option<Compat>,
    /// The merged x86_64 + aarch64 profile, for the host's half of the check.
    pub merged: Option<Vec<u8>>,
}

/// Judges every step of the guest.
pub fn judge(c: &Console) -> Verdict {
    let mut v = Verdict::default();
    v.checks.check(
        c.started.is_some(),
        "the guest's /init started (SR-GUEST-START)".into(),
    );
    v.checks.check(
        c.ended,
        "the guest ran every step (SR-GUEST-END; qemu exits 0 whatever happens)".into(),
    );
    let step = |name: &str| c.steps.get(name).cloned();
    let ok = |name: &str| c.ok(name);
    let denied = |name: &str, mode: &str| c.denied(name, mode);

    // Exact counts.
    let exact = json(c, "exact.stats")
        .map(|s| count(&s, "SCMP_ARCH_AARCH64", "getppid"))
        .unwrap_or(0);
    v.checks.check(
        ok("exact") && exact == u64::from(EXACT_GETPPID),
        format!("{EXACT_GETPPID} getppid counted as {exact} (SCMP_ARCH_AARCH64)"),
    );

    // Record, then enforce.
    let a64 = json(c, "a64").unwrap_or(Value::Null);
    v.checks.check(
        ok("record") && architectures(&a64) == ["SCMP_ARCH_AARCH64"],
        format!(
            "record wrote an aarch64 profile (architectures {:?}, {} names)",
            architectures(&a64),
            names(&a64).len()
        ),
    );
    v.checks.check(
        ok("control_unshare") && ok("control_mount"),
        "without a profile, unshare(CLONE_NEWNS) and mount work in the guest (control)".into(),
    );
    v.checks.check(
        ok("enforce_run"),
        "enforce runs the workload under its recorded profile".into(),
    );
    v.checks.check(
        denied("deny_unshare", "unshare-mount") && denied("deny_mount", "mount:/mnt"),
        "the recorded profile denies unshare and mount (ENOSYS)".into(),
    );

    // Argument rules.
    let args = json(c, "args").unwrap_or(Value::Null);
    let families = rule_values(&args, "socket", 0);
    v.checks.check(
        ok("args_record") && families == [1, 2],
        format!("--args wrote socket rules for families {families:?} (AF_UNIX 1, AF_INET 2)"),
    );
    v.checks.check(
        ok("args_control") && ok("args_allowed"),
        "AF_NETLINK and AF_INET6 work unconfined; AF_UNIX and AF_INET under the rules".into(),
    );
    v.checks.check(
        denied("args_denied", "netlink") && denied("args_denied", "inet6"),
        "the socket rules deny AF_NETLINK and AF_INET6".into(),
    );

    // AArch32 compat.
    match step("a32_exec") {
        Some(s) if s.rc == 0 => {
            let stats = json(c, "a32.stats").unwrap_or(Value::Null);
            let getppid = count(&stats, "SCMP_ARCH_ARM", "getppid");
            let report = json(c, "a32.report").unwrap_or(Value::Null);
            let socket = report_args(&report, "SCMP_ARCH_ARM", "socket")
                .first()
                .copied();
            let a32 = json(c, "a32").unwrap_or(Value::Null);
            v.checks.check(
                ok("a32_record") && getppid == u64::from(ARM32_GETPPID),
                format!("AArch32: {ARM32_GETPPID} getppid counted as {getppid} (SCMP_ARCH_ARM)"),
            );
            v.checks.check(
                socket == Some((2, 2)),
                format!(
                    "AArch32: socket's arguments read as {socket:?} (AF_INET, SOCK_DGRAM = (2, 2))"
                ),
            );
            v.checks.check(
                architectures(&a32).iter().any(|a| a == "SCMP_ARCH_ARM") && ok("a32_enforce"),
                format!(
                    "AArch32: the profile lists {:?} and runs the program under enforce",
                    architectures(&a32)
                ),
            );
            let flood = json(c, "flood").unwrap_or(Value::Null);
            v.checks.check(
                ok("a32_flood_record")
                    && names(&flood).iter().any(|n| n == "set_tls")
                    && ok("a32_flood_enforce"),
                format!(
                    "AArch32: set_tls after {FLOOD_CALLS} distinct invalid numbers is in the \
                     profile and runs under enforce (set_tls's result is the exit code)"
                ),
            );
            v.compat = Some(Compat::Counted { getppid, socket });
        }
        Some(s) => {
            let why = s
                .out
                .first()
                .cloned()
                .unwrap_or_else(|| format!("exit {}", s.rc));
            v.compat = Some(Compat::Unsupported(why));
        }
        None => {}
    }

    // The merged profile, guest half.
    let merged = json(c, "merged").unwrap_or(Value::Null);
    let arches = architectures(&merged);
    v.checks.check(
        ok("merge")
            && arches.iter().any(|a| a == "SCMP_ARCH_X86_64")
            && arches.iter().any(|a| a == "SCMP_ARCH_AARCH64"),
        format!("merge of the x86_64 and aarch64 recordings lists {arches:?}"),
    );
    v.checks.check(
        ok("merged_run") && denied("merged_deny", "unshare-mount"),
        "the merged profile runs the workload on aarch64 and denies unshare".into(),
    );
    v.checks.check(
        ok("merged_validate"),
        "validate (aarch64 libseccomp) accepts the merged profile".into(),
    );
    v.merged = c.files.get("merged").cloned();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::console::parse;

    #[test]
    fn a_guest_that_stops_half_way_fails() {
        let text = "[    1.0] kernel line\nSR-GUEST-START 6.1.0 aarch64 cpus=2\n\
                    SR-STEP exact rc=0 start=7.1 end=9.5\nSR-OUT exact: hello\n\
                    SR-FILE exact.stats eyJzeXNjYWxscyI6W119\n";
        let c = parse(text);
        assert!(c.started.is_some() && !c.ended);
        assert_eq!(c.steps["exact"].rc, 0);
        assert_eq!(c.steps["exact"].span, (7.1, 9.5));
        assert_eq!(c.steps["exact"].out, ["hello"]);
        assert_eq!(c.files["exact.stats"], br#"{"syscalls":[]}"#);
        let v = judge(&c);
        assert!(v.checks.failed.iter().any(|f| f.contains("SR-GUEST-END")));
        assert!(v.checks.failed.iter().any(|f| f.contains("counted as 0")));
    }
}
