//! Judging the x86 guest's steps from its console (pure).

use serde_json::Value;

use super::programs::{ATTACH, EXACT_GETPPID, I386_GETPPID, MIXED};
use crate::guest::console::{count, json, rule_values, Checks, Console};

const X64: &str = "SCMP_ARCH_X86_64";
const X86: &str = "SCMP_ARCH_X86";
const X32: &str = "SCMP_ARCH_X32";

/// Every (arch, name) → count of a stats file.
fn lines(stats: &Value) -> Vec<(String, String, u64)> {
    stats["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["arch"].as_str().unwrap_or("").to_owned(),
                l["name"].as_str().unwrap_or("").to_owned(),
                l["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The exact-count program's stats are exactly its own calls: the exec that started
/// it (the start-up rule: nothing of the recorder's before it, execve itself
/// counted), the loop, exit.
fn exact_is_exact(stats: &Value) -> bool {
    let mut got = lines(stats);
    got.sort();
    let want = [
        (X64, "execve", 1),
        (X64, "exit", 1),
        (X64, "getppid", u64::from(EXACT_GETPPID)),
    ];
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.0 == w.0 && g.1 == w.1 && g.2 == w.2)
}

/// Judges every step of the guest.
pub fn judge(c: &Console) -> Checks {
    let mut v = Checks::default();
    v.check(
        c.started.is_some(),
        format!(
            "the guest's /init started ({})",
            c.started.as_deref().unwrap_or("no SR-GUEST-START")
        ),
    );
    v.check(
        c.ended,
        "the guest ran every step (SR-GUEST-END; qemu exits 0 whatever happens)".into(),
    );
    let out = |name: &str| {
        c.steps
            .get(name)
            .map(|s| s.out.join(" | "))
            .unwrap_or_default()
    };
    v.check(
        c.ok("kallsyms")
            && ["x64_sys_call", "ia32_sys_call", "x32_sys_call"]
                .iter()
                .all(|f| out("kallsyms").contains(f)),
        format!(
            "the guest kernel has the dispatchers in kallsyms: {}",
            out("kallsyms")
        ),
    );
    let x32 = c.ok("x32_dispatched");
    v.passed.push(format!(
        "x32 is {} (cmdline: {}; lockdown: {})",
        if x32 {
            "dispatched (syscall.x32=y)"
        } else {
            "not dispatched: x32 calls fail with ENOSYS"
        },
        out("cmdline"),
        out("lockdown")
    ));
    v.check(
        c.ok("control_unshare") && c.ok("control_mount") && c.ok("control_args"),
        "without a profile, unshare(CLONE_NEWNS), mount, AF_NETLINK and AF_INET6 work (control)"
            .into(),
    );

    let mut families = Vec::new();
    for a in ATTACH {
        let stats = |f: &str| json(c, &format!("{a}.{f}.stats")).unwrap_or(Value::Null);
        let exact = stats("exact");
        v.check(
            c.ok(&format!("{a}_exact")) && exact["attach"] == a,
            format!("{a}: the stats name the attach point ({})", exact["attach"]),
        );
        v.check(
            exact_is_exact(&exact),
            format!(
                "{a}: {EXACT_GETPPID} getppid counted exactly, with execve first and nothing before it: {:?}",
                lines(&exact)
            ),
        );
        let mixed = stats("mixed");
        let (n, i, x) = MIXED;
        let got = (
            count(&mixed, X64, "getppid"),
            count(&mixed, X86, "getppid"),
            count(&mixed, X32, "getppid"),
        );
        let want_x32 = if x32 { u64::from(x) } else { 0 };
        v.check(
            c.ok(&format!("{a}_mixed")) && got == (u64::from(n), u64::from(i), want_x32),
            format!(
                "{a}: one 64-bit program's getppid counted per ABI (x86_64, int 0x80 as i386, x32) {got:?}, expected ({n}, {i}, {want_x32})"
            ),
        );
        let i386 = stats("i386");
        v.check(
            c.ok(&format!("{a}_i386"))
                && count(&i386, X86, "getppid") == u64::from(I386_GETPPID)
                && count(&i386, X86, "exit") == 1
                && count(&i386, X64, "execve") == 1
                && c.ok(&format!("{a}_i386_enforce")),
            format!(
                "{a}: a static i386 program's {I386_GETPPID} getppid counted as SCMP_ARCH_X86 ({}), and its profile runs it",
                count(&i386, X86, "getppid")
            ),
        );
        v.check(
            c.ok(&format!("{a}_record")) && c.ok(&format!("{a}_enforce_run")),
            format!("{a}: enforce runs the workload under its recorded profile"),
        );
        v.check(
            c.denied(&format!("{a}_deny_unshare"), "unshare-mount")
                && c.denied(&format!("{a}_deny_mount"), "mount:/mnt"),
            format!("{a}: the recorded profile denies unshare and mount (ENOSYS)"),
        );
        let args = json(c, &format!("{a}.args")).unwrap_or(Value::Null);
        let report = json(c, &format!("{a}.args.report")).unwrap_or(Value::Null);
        let fam = rule_values(&args, "socket", 0);
        v.check(
            c.ok(&format!("{a}_args_record")) && fam == [1, 2] && report["attach"] == a,
            format!(
                "{a}: --args wrote socket rules for families {fam:?}; the report names the attach point ({})",
                report["attach"]
            ),
        );
        v.check(
            c.ok(&format!("{a}_args_allowed"))
                && c.denied(&format!("{a}_args_denied"), "netlink")
                && c.denied(&format!("{a}_args_denied"), "inet6"),
            format!("{a}: the socket rules allow AF_UNIX/AF_INET and deny AF_NETLINK/AF_INET6"),
        );
        families.push(fam);
    }
    v.check(
        families.windows(2).all(|w| w[0] == w[1]),
        format!("--args records the same socket families under each attach point: {families:?}"),
    );
    let auto = json(c, "auto.exact.stats").unwrap_or(Value::Null);
    v.check(
        c.ok("auto_exact") && auto["attach"] == "fentry" && exact_is_exact(&auto),
        format!(
            "auto picks fentry on this kernel ({}) and counts exactly",
            auto["attach"]
        ),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_check_wants_the_three_calls_and_nothing_else() {
        let s = |extra: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"attach":"fentry","syscalls":[
                {{"arch":"SCMP_ARCH_X86_64","name":"getppid","count":1000000}},
                {{"arch":"SCMP_ARCH_X86_64","name":"execve","count":1}},
                {{"arch":"SCMP_ARCH_X86_64","name":"exit","count":1}}{extra}]}}"#
            ))
            .unwrap()
        };
        assert!(exact_is_exact(&s("")));
        assert!(!exact_is_exact(&s(
            r#",{"arch":"SCMP_ARCH_X86_64","name":"wait4","count":1}"#
        )));
    }

    #[test]
    fn a_guest_that_printed_nothing_fails_every_attach_point() {
        let c = crate::guest::console::parse("SR-GUEST-START 6.1.0 x86_64 cpus=2\n");
        let v = judge(&c);
        assert!(v.failed.iter().any(|f| f.starts_with("fentry: ")));
        assert!(v.failed.iter().any(|f| f.starts_with("tracepoint: ")));
        assert!(v.failed.iter().any(|f| f.starts_with("auto picks fentry")));
    }
}
