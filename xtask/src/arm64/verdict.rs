//! Reading the guest's console (pure) and judging each step: the guest prints, the
//! host decides, so that a guest that dies half-way (qemu still exits 0) fails here.

use std::collections::BTreeMap;

use serde_json::Value;

use super::guest::{ARM32_GETPPID, EXACT_GETPPID};

/// One step the guest ran.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Step {
    /// Its exit code.
    pub rc: i32,
    /// Guest uptime at its start and end (seconds).
    pub span: (f64, f64),
    /// Its output (stdout and stderr).
    pub out: Vec<String>,
}

impl Step {
    fn says(&self, text: &str) -> bool {
        self.out.iter().any(|l| l.contains(text))
    }
}

/// What the console showed.
#[derive(Debug, Default)]
pub struct Console {
    /// `uname -r`, `uname -m`, CPUs (from the start line).
    pub started: Option<String>,
    /// The end line was printed: every step ran.
    pub ended: bool,
    /// Steps by name.
    pub steps: BTreeMap<String, Step>,
    /// Files the guest printed, by name.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Parses the console text (kernel lines and anything else are ignored).
pub fn parse(text: &str) -> Console {
    let mut c = Console::default();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("SR-GUEST-START ") {
            c.started = Some(rest.to_owned());
        } else if line == "SR-GUEST-END" {
            c.ended = true;
        } else if let Some(rest) = line.strip_prefix("SR-STEP ") {
            let mut words = rest.split_whitespace();
            let Some(name) = words.next() else { continue };
            let mut step = Step::default();
            for w in words {
                match w.split_once('=') {
                    Some(("rc", v)) => step.rc = v.parse().unwrap_or(-1),
                    Some(("start", v)) => step.span.0 = v.parse().unwrap_or(0.0),
                    Some(("end", v)) => step.span.1 = v.parse().unwrap_or(0.0),
                    _ => {}
                }
            }
            c.steps.insert(name.to_owned(), step);
        } else if let Some(rest) = line.strip_prefix("SR-OUT ") {
            if let Some((name, out)) = rest.split_once(": ") {
                if let Some(s) = c.steps.get_mut(name) {
                    s.out.push(out.to_owned());
                }
            }
        } else if let Some(rest) = line.strip_prefix("SR-FILE ") {
            if let Some((name, b64)) = rest.split_once(' ') {
                if let Some(data) = base64_decode(b64.trim()) {
                    c.files.insert(name.to_owned(), data);
                }
            }
        }
    }
    c
}

/// Standard base64 (with padding), `None` on anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

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
    /// What held, one line each.
    pub passed: Vec<String>,
    /// What did not.
    pub failed: Vec<String>,
    /// The compat finding (when the step ran).
    pub compat: Option<Compat>,
    /// The merged x86_64 + aarch64 profile, for the host's half of the check.
    pub merged: Option<Vec<u8>>,
}

impl Verdict {
    fn check(&mut self, ok: bool, what: String) {
        if ok {
            self.passed.push(what);
        } else {
            self.failed.push(what);
        }
    }
}

fn json(c: &Console, name: &str) -> Option<Value> {
    serde_json::from_slice(c.files.get(name)?).ok()
}

/// Calls of `name` on `arch` in a stats or report file.
pub fn count(stats: &Value, arch: &str, name: &str) -> u64 {
    stats["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["arch"] == arch && l["name"] == name)
        .filter_map(|l| l["count"].as_u64())
        .sum()
}

/// The profile's `architectures`.
pub fn architectures(profile: &Value) -> Vec<String> {
    profile["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// Every name the profile's rules list.
pub fn names(profile: &Value) -> Vec<String> {
    profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The values of argument `index` the rules for `name` allow (`SCMP_CMP_EQ`).
fn rule_values(profile: &Value, name: &str, index: u64) -> Vec<u64> {
    let mut v: Vec<u64> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["names"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == name))
        })
        .flat_map(|r| r["args"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["index"] == index && a["op"] == "SCMP_CMP_EQ")
        .filter_map(|a| a["value"].as_u64())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The (arg0, arg1) values a report recorded for `name` on `arch`.
fn report_args(report: &Value, arch: &str, name: &str) -> Vec<(u64, u64)> {
    report["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["arch"] == arch && v["name"] == name)
        .map(|v| {
            let at = |i: u64| {
                v["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["index"] == i)
                    .and_then(|a| a["value"].as_u64())
                    .unwrap_or(u64::MAX)
            };
            (at(0), at(1))
        })
        .collect()
}

const ENOSYS: &str = "Function not implemented";

/// Judges every step of the guest.
pub fn judge(c: &Console) -> Verdict {
    let mut v = Verdict::default();
    v.check(
        c.started.is_some(),
        "the guest's /init started (SR-GUEST-START)".into(),
    );
    v.check(
        c.ended,
        "the guest ran every step (SR-GUEST-END; qemu exits 0 whatever happens)".into(),
    );
    let step = |name: &str| c.steps.get(name).cloned();
    let rc = |name: &str| step(name).map(|s| s.rc);
    let ok = |name: &str| rc(name) == Some(0);
    let denied = |name: &str, mode: &str| {
        step(name).is_some_and(|s| s.rc != 0 && s.says(&format!("{mode}: {ENOSYS}")))
    };

    // Exact counts.
    let exact = json(c, "exact.stats")
        .map(|s| count(&s, "SCMP_ARCH_AARCH64", "getppid"))
        .unwrap_or(0);
    v.check(
        ok("exact") && exact == u64::from(EXACT_GETPPID),
        format!("{EXACT_GETPPID} getppid counted as {exact} (SCMP_ARCH_AARCH64)"),
    );

    // Record, then enforce.
    let a64 = json(c, "a64").unwrap_or(Value::Null);
    v.check(
        ok("record") && architectures(&a64) == ["SCMP_ARCH_AARCH64"],
        format!(
            "record wrote an aarch64 profile (architectures {:?}, {} names)",
            architectures(&a64),
            names(&a64).len()
        ),
    );
    v.check(
        ok("control_unshare") && ok("control_mount"),
        "without a profile, unshare(CLONE_NEWNS) and mount work in the guest (control)".into(),
    );
    v.check(
        ok("enforce_run"),
        "enforce runs the workload under its recorded profile".into(),
    );
    v.check(
        denied("deny_unshare", "unshare-mount") && denied("deny_mount", "mount:/mnt"),
        "the recorded profile denies unshare and mount (ENOSYS)".into(),
    );

    // Argument rules.
    let args = json(c, "args").unwrap_or(Value::Null);
    let families = rule_values(&args, "socket", 0);
    v.check(
        ok("args_record") && families == [1, 2],
        format!("--args wrote socket rules for families {families:?} (AF_UNIX 1, AF_INET 2)"),
    );
    v.check(
        ok("args_control") && ok("args_allowed"),
        "AF_NETLINK and AF_INET6 work unconfined; AF_UNIX and AF_INET under the rules".into(),
    );
    v.check(
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
            v.check(
                ok("a32_record") && getppid == u64::from(ARM32_GETPPID),
                format!("AArch32: {ARM32_GETPPID} getppid counted as {getppid} (SCMP_ARCH_ARM)"),
            );
            v.check(
                socket == Some((2, 2)),
                format!(
                    "AArch32: socket's arguments read as {socket:?} (AF_INET, SOCK_DGRAM = (2, 2))"
                ),
            );
            v.check(
                architectures(&a32).iter().any(|a| a == "SCMP_ARCH_ARM") && ok("a32_enforce"),
                format!(
                    "AArch32: the profile lists {:?} and runs the program under enforce",
                    architectures(&a32)
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
    v.check(
        ok("merge")
            && arches.iter().any(|a| a == "SCMP_ARCH_X86_64")
            && arches.iter().any(|a| a == "SCMP_ARCH_AARCH64"),
        format!("merge of the x86_64 and aarch64 recordings lists {arches:?}"),
    );
    v.check(
        ok("merged_run") && denied("merged_deny", "unshare-mount"),
        "the merged profile runs the workload on aarch64 and denies unshare".into(),
    );
    v.check(
        ok("merged_validate"),
        "validate (aarch64 libseccomp) accepts the merged profile".into(),
    );
    v.merged = c.files.get("merged").cloned();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("a*=="), None);
        assert_eq!(base64_decode("abc"), None);
    }

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
        assert!(v.failed.iter().any(|f| f.contains("SR-GUEST-END")));
        assert!(v.failed.iter().any(|f| f.contains("counted as 0")));
    }

    #[test]
    fn counts_and_rules_are_read_per_arch() {
        let stats: Value = serde_json::from_str(
            r#"{"syscalls":[{"arch":"SCMP_ARCH_ARM","nr":64,"name":"getppid","count":7},
                            {"arch":"SCMP_ARCH_AARCH64","nr":173,"name":"getppid","count":1}]}"#,
        )
        .unwrap();
        assert_eq!(count(&stats, "SCMP_ARCH_ARM", "getppid"), 7);
        let p: Value = serde_json::from_str(
            r#"{"architectures":["SCMP_ARCH_AARCH64"],"syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        assert_eq!(rule_values(&p, "socket", 0), [1, 2]);
        assert_eq!(names(&p), ["read", "socket", "socket"]);
        let r: Value = serde_json::from_str(
            r#"{"syscalls":[],"args":[{"arch":"SCMP_ARCH_ARM","name":"socket","args":[{"index":0,"value":2},{"index":1,"value":2}],"count":1}]}"#,
        )
        .unwrap();
        assert_eq!(report_args(&r, "SCMP_ARCH_ARM", "socket"), [(2, 2)]);
    }
}
