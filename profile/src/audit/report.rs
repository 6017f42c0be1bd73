//! What `audit-report` prints (pure): the seccomp records that match the selection,
//! summed per syscall, in the shape of `check`'s result.
//!
//! Records whose action is `SCMP_ACT_LOG` are what the profile behind a LOG twin
//! would have denied: they are `new` and make the report fail. Records with another
//! action (a kill, a trap, an errno of a filter with `SECCOMP_FILTER_FLAG_LOG`) are
//! real denials by some filter: listed as `denied`, for information.

use std::collections::BTreeMap;

use serde::Serialize;

use super::records::{AuditRecord, SeccompRet};
use super::time::WallTime;
use super::Collected;
use crate::syscalls::Arch;

/// The longest `comm` the kernel keeps (`TASK_COMM_LEN` - 1).
const COMM_MAX: usize = 15;

/// Which records count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Records made at or after this time.
    pub since: WallTime,
    /// Only these processes (any of them), when not empty.
    pub pids: Vec<u32>,
    /// Only processes with these names (any of them), when not empty.
    pub comms: Vec<String>,
    /// Only processes that are (still) in this cgroup v2 path or below it.
    pub cgroup: Option<String>,
}

/// What is known of a live process with a record's pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFacts {
    /// Its cgroup v2 path (as `/proc/PID/cgroup` shows it).
    pub cgroup: String,
    /// When it started.
    pub started: WallTime,
}

/// Whether `path` is `scope` or a cgroup below it.
pub fn in_cgroup(path: &str, scope: &str) -> bool {
    let scope = scope.trim_end_matches('/');
    scope.is_empty()
        || path == scope
        || path
            .strip_prefix(scope)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `comm` is `wanted`, which may be longer than the kernel keeps.
fn comm_matches(comm: &str, wanted: &str) -> bool {
    comm == wanted
        || (wanted.len() > COMM_MAX
            && wanted.is_char_boundary(COMM_MAX)
            && comm == &wanted[..COMM_MAX])
}

/// Whether a record counts. `facts` tells what runs now under the record's pid (for
/// the cgroup): a process that started after the record is another one (the pid was
/// reused), and a process that is gone cannot be placed in a cgroup any more.
pub fn selected(
    r: &AuditRecord,
    sel: &Selection,
    facts: &mut dyn FnMut(u32) -> Option<ProcessFacts>,
) -> bool {
    if r.unix_ms < sel.since.unix_ms()
        || (!sel.pids.is_empty() && !sel.pids.contains(&r.pid))
        || (!sel.comms.is_empty()
            && !sel
                .comms
                .iter()
                .any(|c| r.comm.as_deref().is_some_and(|rc| comm_matches(rc, c))))
    {
        return false;
    }
    let Some(scope) = &sel.cgroup else {
        return true;
    };
    // starttime has clock-tick resolution, the stamp millisecond resolution.
    const SLACK_MS: i64 = 1000;
    facts(r.pid)
        .is_some_and(|f| in_cgroup(&f.cgroup, scope) && f.started.unix_ms() <= r.unix_ms + SLACK_MS)
}

/// The first record of a syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstRecord {
    /// The process id (initial pid namespace).
    pub pid: u32,
    /// The thread's name.
    pub comm: Option<String>,
    /// The executable.
    pub exe: Option<String>,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The audit serial number.
    pub serial: u64,
}

/// One syscall in the result. Field order is the JSON order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    /// `SCMP_ARCH_*` name; `null` for an architecture without a table here.
    pub arch: Option<&'static str>,
    /// The name; `null` for a number no table names.
    pub name: Option<&'static str>,
    /// The number, as the record gives it.
    pub nr: u64,
    /// Records counted (a lower bound when the kernel dropped some).
    pub count: u64,
    /// The first record.
    pub first: FirstRecord,
    /// What the filter did, for a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The record's `arch=` value, for an architecture without a table here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_arch: Option<String>,
}

/// The result of `audit-report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Nothing would have been denied.
    pub ok: bool,
    /// Syscalls logged with `SCMP_ACT_LOG`: what the twin's profile would have
    /// denied; sorted by architecture and name.
    pub new: Vec<AuditFinding>,
    /// Syscalls a filter really denied (other actions), for information.
    pub denied: Vec<AuditFinding>,
    /// Where the records were read.
    pub source: String,
    /// The start of the window (RFC 3339).
    pub since: String,
    /// Seccomp records that matched the selection.
    pub records: usize,
    /// Why the result may be incomplete.
    pub warnings: Vec<String>,
    /// What `--propose` wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<ProposalSummary>,
}

/// What `--propose` wrote: the baseline plus the calls the run would have been denied,
/// minus those held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalSummary {
    /// The proposed profile.
    pub output: String,
    /// The profile it is based on.
    pub baseline: String,
    /// The calls it allows that the baseline did not.
    pub added: Vec<crate::propose::Proposed>,
    /// The calls it still denies, and why (a never-allow policy; clone3 at ENOSYS).
    pub held_back: Vec<crate::propose::HeldBack>,
    /// Denied numbers no table names (they cannot be allowed by name).
    pub unnamed: usize,
}

/// The exit code of a report: 0 nothing would have been denied, 1 something would,
/// 3 (over 1) when `--propose` held back a call the policy never allows.
pub fn exit_code(r: &AuditReport) -> u8 {
    let forbidden = r
        .proposal
        .as_ref()
        .is_some_and(|p| p.held_back.iter().any(|h| h.policy.is_some()));
    if forbidden {
        crate::exit::POLICY_VIOLATION
    } else if r.ok {
        0
    } else {
        1
    }
}

type Key = (
    bool,
    Option<Arch>,
    u32,
    Option<&'static str>,
    u64,
    Option<SeccompRet>,
);

/// Sums records per (architecture, syscall[, action]) into sorted findings.
fn findings<'a>(
    records: impl Iterator<Item = &'a AuditRecord>,
    with_action: bool,
) -> Vec<AuditFinding> {
    let mut groups: BTreeMap<Key, (u64, &AuditRecord)> = BTreeMap::new();
    for r in records {
        let arch = r.arch();
        let key = (
            arch.is_none(),
            arch,
            r.audit_arch,
            r.name(),
            r.syscall,
            with_action.then_some(r.action),
        );
        let entry = groups.entry(key).or_insert((0, r));
        entry.0 += 1;
        if (r.unix_ms, r.serial) < (entry.1.unix_ms, entry.1.serial) {
            entry.1 = r;
        }
    }
    groups
        .into_iter()
        .map(
            |((_, arch, audit_arch, name, nr, action), (count, r))| AuditFinding {
                arch: arch.map(Arch::scmp_name),
                name,
                nr,
                count,
                first: FirstRecord {
                    pid: r.pid,
                    comm: r.comm.clone(),
                    exe: r.exe.clone(),
                    time: WallTime(r.unix_ms).to_string(),
                    serial: r.serial,
                },
                action: action.map(|a| a.to_string()),
                audit_arch: arch.is_none().then(|| format!("{audit_arch:#010x}")),
            },
        )
        .collect()
}

/// The report of the selected records (pure apart from `facts`).
pub fn report(
    collected: &Collected,
    sel: &Selection,
    facts: &mut dyn FnMut(u32) -> Option<ProcessFacts>,
    source: &str,
    warnings: Vec<String>,
) -> AuditReport {
    let chosen: Vec<&AuditRecord> = collected
        .records
        .iter()
        .filter(|r| selected(r, sel, facts))
        .collect();
    let new = findings(
        chosen
            .iter()
            .copied()
            .filter(|r| r.action == SeccompRet::Log),
        false,
    );
    let denied = findings(
        chosen
            .iter()
            .copied()
            .filter(|r| r.action != SeccompRet::Log),
        true,
    );
    AuditReport {
        ok: new.is_empty(),
        new,
        denied,
        source: source.to_owned(),
        since: sel.since.to_string(),
        records: chosen.len(),
        warnings,
        proposal: None,
    }
}

/// What the kernel's settings were, for the completeness warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `kernel.printk_ratelimit` (seconds) and `kernel.printk_ratelimit_burst`.
    pub printk: Option<(u32, u32)>,
}

/// Why records in the window may be missing (pure).
pub fn completeness_warnings(c: &Collected, since: WallTime, limits: Limits) -> Vec<String> {
    let mut out = Vec::new();
    let in_window = |t: &Option<WallTime>| t.is_none_or(|t| t >= since);
    let suppressed: u64 = c
        .suppressed
        .iter()
        .filter(|(t, _)| in_window(t))
        .map(|(_, n)| n)
        .sum();
    if suppressed > 0 {
        let limit = limits.printk.map_or_else(String::new, |(secs, burst)| {
            format!(" (at most {burst} per {secs} s: kernel.printk_ratelimit_burst, kernel.printk_ratelimit)")
        });
        out.push(format!(
            "the printk rate limit dropped {suppressed} audit record(s){limit} in this window: counts are lower bounds and syscalls may be missing; use `record` for exact counts"
        ));
    }
    let lost = c.lost.iter().filter(|t| in_window(t)).count();
    if lost > 0 {
        out.push(format!(
            "the audit subsystem reported {lost} time(s) that it dropped records (backlog or rate limit) in this window"
        ));
    }
    if let Some((oldest, false)) = c.oldest {
        if oldest > since {
            out.push(format!(
                "the kernel log ring starts at {oldest}, after --since: older messages were overwritten, records before then are gone"
            ));
        }
    }
    if c.overwritten_while_reading > 0 {
        out.push(format!(
            "{} kernel log record(s) were overwritten while they were read",
            c.overwritten_while_reading
        ));
    }
    if let Some(first) = c.malformed.first() {
        out.push(format!(
            "some lines look like seccomp records but could not be read, e.g. {first}"
        ));
    }
    out
}

fn describe(f: &AuditFinding) -> String {
    let arch = f.arch.map_or_else(
        || format!("arch {}", f.audit_arch.as_deref().unwrap_or("?")),
        str::to_owned,
    );
    let what = match f.name {
        Some(name) => format!("{name} (nr {})", f.nr),
        None => format!("syscall {} (no name in our tables)", f.nr),
    };
    let action = f
        .action
        .as_ref()
        .map_or_else(String::new, |a| format!(" {a}"));
    let first = &f.first;
    let mut who = format!("pid {}", first.pid);
    if let Some(exe) = &first.exe {
        who.push_str(&format!(", {exe}"));
    }
    format!(
        "{arch} {what}{action}: {} call{}, first by {} ({who}) at {}",
        f.count,
        if f.count == 1 { "" } else { "s" },
        first.comm.as_deref().unwrap_or("?"),
        first.time
    )
}

/// The text output (pure), in the manner of `check`'s.
pub fn render_text(r: &AuditReport) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    let window = format!("since {} in {}", r.since, r.source);
    if !r.new.is_empty() {
        line(&format!(
            "new: would have been denied (SCMP_ACT_LOG records {window}):"
        ));
        for f in &r.new {
            line(&format!("  {}", describe(f)));
        }
    }
    if !r.denied.is_empty() {
        line("denied: a filter refused these calls (not counted as new):");
        for f in &r.denied {
            line(&format!("  {}", describe(f)));
        }
    }
    for w in &r.warnings {
        line(&format!("warning: {w}"));
    }
    if let Some(p) = &r.proposal {
        let names: Vec<String> = p
            .added
            .iter()
            .map(|a| format!("{} {}", a.arch.unwrap_or("(any architecture)"), a.name))
            .collect();
        line(&format!(
            "proposed: {} = {} + {} call(s) the run would have been denied{}",
            p.output,
            p.baseline,
            p.added.len(),
            if names.is_empty() {
                String::new()
            } else {
                format!(": {}", names.join(", "))
            }
        ));
        for h in &p.held_back {
            let arch = h.arch.unwrap_or("(any architecture)");
            let first = r
                .new
                .iter()
                .find(|f| f.name == Some(h.name.as_str()) && f.arch == h.arch)
                .map(|f| {
                    format!(
                        "; first by {} (pid {})",
                        f.first.comm.as_deref().unwrap_or("?"),
                        f.first.pid
                    )
                })
                .unwrap_or_default();
            match &h.policy {
                Some(policy) => line(&format!(
                    "held back: {arch} {} is never allowed by policy {policy}{first}: {}",
                    h.name, h.reason
                )),
                None => line(&format!("held back: {arch} {}: {}", h.name, h.reason)),
            }
        }
        if p.unnamed > 0 {
            line(&format!(
                "held back: {} syscall number(s) no table names (they cannot be allowed by name)",
                p.unnamed
            ));
        }
    }
    if r.ok {
        line(&format!(
            "ok: no syscall would have been denied (no SCMP_ACT_LOG record {window})"
        ));
    } else {
        line(&format!(
            "FAIL: {} syscall(s) would have been denied",
            r.new.len()
        ));
    }
    if exit_code(r) == crate::exit::POLICY_VIOLATION {
        line(&format!(
            "FAIL: the run made calls the policy never allows; they are not in the proposal (exit {})",
            crate::exit::POLICY_VIOLATION
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::records::{parse_line, Line};

    fn rec(line: &str) -> AuditRecord {
        match parse_line(line) {
            Line::Seccomp(r) => r,
            other => panic!("{other:?}"),
        }
    }

    fn collected() -> Collected {
        let lines = [
            // Before the window.
            "audit: type=1326 audit(99.000:1): pid=7 comm=\"mkdir\" exe=\"/bin/busybox\" arch=c000003e syscall=83 code=0x7ffc0000",
            "audit: type=1326 audit(100.200:3): pid=7 comm=\"mkdir\" exe=\"/bin/busybox\" arch=c000003e syscall=83 code=0x7ffc0000",
            "audit: type=1326 audit(100.100:2): pid=7 comm=\"mkdir\" exe=\"/bin/busybox\" arch=c000003e syscall=83 code=0x7ffc0000",
            "audit: type=1326 audit(101.000:4): pid=8 comm=\"sh\" arch=c000003e syscall=95 code=0x7ffc0000",
            "audit: type=1326 audit(101.500:5): pid=9 comm=\"prog\" arch=40000003 syscall=39 code=0x7ffc0000",
            "audit: type=1326 audit(102.000:6): pid=9 comm=\"prog\" arch=80000016 syscall=39 code=0x7ffc0000",
            "audit: type=1326 audit(103.000:7): pid=10 comm=\"evil\" arch=c000003e syscall=101 code=0x80000000",
        ];
        Collected {
            records: lines.iter().map(|l| rec(l)).collect(),
            ..Collected::default()
        }
    }

    fn no_facts(_: u32) -> Option<ProcessFacts> {
        None
    }

    #[test]
    fn log_records_are_new_and_summed_with_the_first_process() {
        let sel = Selection {
            since: WallTime(100_000),
            ..Selection::default()
        };
        let r = report(&collected(), &sel, &mut no_facts, "/dev/kmsg", vec![]);
        assert!(!r.ok);
        assert_eq!(r.records, 6);
        let got: Vec<(Option<&str>, Option<&str>, u64, u64)> = r
            .new
            .iter()
            .map(|f| (f.arch, f.name, f.nr, f.count))
            .collect();
        assert_eq!(
            got,
            [
                (Some("SCMP_ARCH_X86_64"), Some("mkdir"), 83, 2),
                (Some("SCMP_ARCH_X86_64"), Some("umask"), 95, 1),
                (Some("SCMP_ARCH_X86"), Some("mkdir"), 39, 1),
                (None, None, 39, 1),
            ]
        );
        assert_eq!(r.new[0].first.serial, 2);
        assert_eq!(r.new[3].audit_arch.as_deref(), Some("0x80000016"));
        assert_eq!(r.denied.len(), 1);
        assert_eq!(r.denied[0].action.as_deref(), Some("SCMP_ACT_KILL_PROCESS"));
        let text = render_text(&r);
        assert!(
            text.starts_with("new: would have been denied (SCMP_ACT_LOG records since 1970-01-01T00:01:40.000Z in /dev/kmsg):\n  SCMP_ARCH_X86_64 mkdir (nr 83): 2 calls, first by mkdir (pid 7, /bin/busybox) at 1970-01-01T00:01:40.100Z\n"),
            "{text}"
        );
        assert!(
            text.contains("  arch 0x80000016 syscall 39 (no name in our tables): 1 call, first by prog (pid 9) at"),
            "{text}"
        );
        assert!(
            text.contains("denied: a filter refused these calls (not counted as new):\n  SCMP_ARCH_X86_64 ptrace (nr 101) SCMP_ACT_KILL_PROCESS: 1 call"),
            "{text}"
        );
        assert!(
            text.ends_with("FAIL: 4 syscall(s) would have been denied\n"),
            "{text}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json["new"][0],
            serde_json::json!({"arch":"SCMP_ARCH_X86_64","name":"mkdir","nr":83,"count":2,
                "first":{"pid":7,"comm":"mkdir","exe":"/bin/busybox","time":"1970-01-01T00:01:40.100Z","serial":2}})
        );
    }

    #[test]
    fn pids_and_comms_select_and_nothing_left_is_ok() {
        let sel = Selection {
            since: WallTime(100_000),
            pids: vec![8, 10],
            comms: vec!["sh".into()],
            cgroup: None,
        };
        let r = report(&collected(), &sel, &mut no_facts, "k", vec![]);
        assert_eq!(r.new.len(), 1);
        assert_eq!(r.new[0].name, Some("umask"));
        let sel = Selection {
            since: WallTime(100_000),
            pids: vec![10],
            ..Selection::default()
        };
        let r = report(&collected(), &sel, &mut no_facts, "/dev/kmsg", vec![]);
        assert!(r.ok);
        assert!(render_text(&r).ends_with(
            "ok: no syscall would have been denied (no SCMP_ACT_LOG record since 1970-01-01T00:01:40.000Z in /dev/kmsg)\n"
        ));
        // Names longer than the kernel keeps match their first 15 bytes.
        assert!(comm_matches("a-long-program-", "a-long-program-name"));
        assert!(!comm_matches("a-long", "a-long-program-name"));
    }

    #[test]
    fn cgroups_match_live_processes_that_started_before_the_record() {
        let sel = Selection {
            since: WallTime(0),
            cgroup: Some("/libpod_parent/libpod-abc".into()),
            ..Selection::default()
        };
        let mut facts = |pid: u32| match pid {
            7 => Some(ProcessFacts {
                cgroup: "/libpod_parent/libpod-abc/sub".into(),
                started: WallTime(90_000),
            }),
            // Same cgroup, but started after its records: the pid was reused.
            8 => Some(ProcessFacts {
                cgroup: "/libpod_parent/libpod-abc".into(),
                started: WallTime(200_000),
            }),
            9 => Some(ProcessFacts {
                cgroup: "/libpod_parent/libpod-abcdef".into(),
                started: WallTime(0),
            }),
            _ => None,
        };
        let r = report(&collected(), &sel, &mut facts, "k", vec![]);
        let names: Vec<Option<&str>> = r.new.iter().map(|f| f.name).collect();
        assert_eq!(names, [Some("mkdir")]);
        assert_eq!(r.new[0].count, 3);
        assert!(in_cgroup("/a/b", "/a/"));
        assert!(in_cgroup("/a", "/"));
        assert!(!in_cgroup("/ab", "/a"));
    }

    #[test]
    fn warnings_name_rate_limits_wrapped_rings_and_bad_lines() {
        let c = Collected {
            suppressed: vec![
                (Some(WallTime(50)), 4),
                (Some(WallTime(150)), 90),
                (None, 1),
            ],
            lost: vec![Some(WallTime(10))],
            oldest: Some((WallTime(120), false)),
            malformed: vec!["arch: audit: type=1326 ...".into()],
            ..Collected::default()
        };
        let w = completeness_warnings(
            &c,
            WallTime(100),
            Limits {
                printk: Some((5, 10)),
            },
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with(
                "the printk rate limit dropped 91 audit record(s) (at most 10 per 5 s"
            ),
            "{}",
            w[0]
        );
        assert!(
            w[1].starts_with("the kernel log ring starts at 1970-01-01T00:00:00.120Z"),
            "{}",
            w[1]
        );
        assert!(w[2].contains("could not be read"), "{}", w[2]);
        // A ring that never wrapped is complete; so is one that starts before --since.
        let c = Collected {
            oldest: Some((WallTime(120), true)),
            ..Collected::default()
        };
        assert!(completeness_warnings(&c, WallTime(100), Limits::default()).is_empty());
    }
}
