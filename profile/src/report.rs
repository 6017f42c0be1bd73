//! Evidence behind a profile (pure): per syscall, the exact count, the process that
//! made it first and when, and the split of a recording into startup and steady state.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::profile::RecordedSyscall;
use crate::runtime::Runtime;
use crate::syscalls::Arch;

/// The first call of a syscall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstSeen {
    /// Process id (thread group) that made it.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Command name of the thread.
    pub comm: String,
    /// Milliseconds after the recording started.
    pub after_ms: f64,
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    /// `SCMP_ARCH_*` name.
    pub arch: String,
    /// Syscall number.
    pub nr: u64,
    /// Name, `null` when no table knows the number.
    pub name: Option<String>,
    /// Exact count.
    pub count: u64,
    /// First use, when the kernel side recorded it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first: Option<FirstSeen>,
}

/// A `--report` document: `--stats` plus first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The runtime whose start-up tail the profile allows (absent for recordings
    /// made before runtimes were told apart).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runtime: Option<Runtime>,
    /// How the runtime was found out (hook parent, container init, engine inspect,
    /// command line).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runtime_signal: Option<String>,
    /// Where the kernel side saw the calls (`fentry` or `tracepoint`), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub attach: Option<String>,
    /// Every counted syscall, sorted by architecture then number.
    pub syscalls: Vec<ReportLine>,
    /// Distinct argument values of the tracked syscalls (recordings with `--args`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub args: Vec<crate::args::ArgValue>,
    /// Some argument value could not be stored: the argument values are incomplete.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub args_lost: bool,
    /// The Kubernetes pod recorded (`record --pod`), as the CRI named it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<PodRecorded>,
}

/// The pod a recording came from, as the CRI runtime described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecorded {
    /// The pod's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its uid.
    pub uid: String,
    /// The names of the containers recorded (every running one, or the one asked for).
    pub containers: Vec<String>,
    /// Every container of the pod was recorded (the pod's cgroup), not only those named.
    pub whole_pod: bool,
    /// The pod's runtime handler (RuntimeClass; `default` when none).
    pub runtime_handler: String,
    /// The runtime the CRI names for the containers (`io.containerd.runc.v2`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runtime_type: Option<String>,
    /// The CRI runtime that answered and its socket.
    pub cri: String,
    /// The workload the node agent merges this recording into (replicas share it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workload: Option<String>,
    /// The pod asked for the variants of each call (annotation
    /// `seccomp-recorder.io/portable`): the agent's merged profile allows them.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub portable: bool,
}

/// A recorded syscall with its first use.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The syscall and its count.
    pub call: RecordedSyscall,
    /// Its first use.
    pub first: Option<FirstSeen>,
}

/// Builds the report (pure): sorted by arch then number, first use kept as given.
pub fn report(evidence: &[Evidence]) -> Report {
    let mut lines: BTreeMap<(Arch, u64), ReportLine> = BTreeMap::new();
    for e in evidence.iter().filter(|e| e.call.count > 0) {
        let key = (e.call.arch, e.call.nr);
        let line = lines.entry(key).or_insert_with(|| ReportLine {
            arch: e.call.arch.scmp_name().to_owned(),
            nr: e.call.nr,
            name: e.call.arch.name_of(e.call.nr).map(str::to_owned),
            count: 0,
            first: None,
        });
        line.count += e.call.count;
        let earlier = match (&line.first, &e.first) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b.after_ms < a.after_ms,
            _ => false,
        };
        if earlier {
            line.first = e.first.clone();
        }
    }
    Report {
        runtime: None,
        runtime_signal: None,
        attach: None,
        syscalls: lines.into_values().collect(),
        args: Vec::new(),
        args_lost: false,
        pod: None,
    }
}

/// The counts of a report, back as profile input (pure). Lines whose architecture
/// this build does not know are skipped.
pub fn recorded_calls(report: &Report) -> Vec<RecordedSyscall> {
    report
        .syscalls
        .iter()
        .filter_map(|l| {
            Some(RecordedSyscall {
                arch: l.arch.parse().ok()?,
                nr: l.nr,
                count: l.count,
            })
        })
        .collect()
}

/// The steady phase of a recording (pure): what was called after the split, with the
/// calls made after it. Counters only grow, so a syscall belongs to the steady phase
/// exactly when its final count exceeds its count at the split.
pub fn steady_phase(at_split: &[RecordedSyscall], end: &[RecordedSyscall]) -> Vec<RecordedSyscall> {
    let before: BTreeMap<(Arch, u64), u64> =
        at_split.iter().map(|c| ((c.arch, c.nr), c.count)).collect();
    end.iter()
        .filter_map(|c| {
            let b = before.get(&(c.arch, c.nr)).copied().unwrap_or(0);
            (c.count > b).then_some(RecordedSyscall {
                arch: c.arch,
                nr: c.nr,
                count: c.count - b,
            })
        })
        .collect()
}

/// Parses a duration like `500ms`, `2s`, `1.5s`, `3m`, `1h` (a plain number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 500ms, 2s, 1m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("'{s}' has an unknown unit (use ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(arch: Arch, nr: u64, count: u64) -> RecordedSyscall {
        RecordedSyscall { arch, nr, count }
    }

    fn first(pid: u32, comm: &str, after_ms: f64) -> Option<FirstSeen> {
        Some(FirstSeen {
            pid,
            tid: pid,
            comm: comm.to_owned(),
            after_ms,
        })
    }

    #[test]
    fn report_sorts_sums_and_keeps_the_earliest_first_use() {
        let r = report(&[
            Evidence {
                call: rec(Arch::X86, 20, 1),
                first: first(9, "i386", 3.0),
            },
            Evidence {
                call: rec(Arch::X86_64, 162, 2),
                first: first(7, "sync", 5.0),
            },
            Evidence {
                call: rec(Arch::X86_64, 162, 1),
                first: first(6, "sh", 1.0),
            },
        ]);
        assert_eq!(r.syscalls.len(), 2);
        assert_eq!(r.syscalls[0].name.as_deref(), Some("sync"));
        assert_eq!(r.syscalls[0].count, 3);
        assert_eq!(
            r.syscalls[0].first.as_ref().map(|f| f.comm.as_str()),
            Some("sh")
        );
        assert_eq!(r.syscalls[1].arch, "SCMP_ARCH_X86");
        let json = serde_json::to_string(&r).expect("json");
        assert!(
            json.contains(r#""first":{"pid":6,"tid":6,"comm":"sh","after_ms":1.0}"#),
            "{json}"
        );
    }

    #[test]
    fn steady_phase_is_what_grew_after_the_split() {
        let split = [rec(Arch::X86_64, 0, 10), rec(Arch::X86_64, 2, 1)];
        let end = [
            rec(Arch::X86_64, 0, 15),
            rec(Arch::X86_64, 2, 1),
            rec(Arch::X86_64, 7, 3),
        ];
        assert_eq!(
            steady_phase(&split, &end),
            vec![rec(Arch::X86_64, 0, 5), rec(Arch::X86_64, 7, 3)]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
