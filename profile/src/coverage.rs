//! Merging recordings of one workload's replicas (pure): the union of their calls and,
//! per syscall, how many of the recordings made it (what one replica did that the
//! others did not is what a reviewer looks at first). The Security Profiles Operator
//! calls this `syscall-coverage`.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::profile::RecordedSyscall;
use crate::report::Report;
use crate::syscalls::Arch;

/// Per syscall of the merged profile: how many recordings used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageLine {
    /// `SCMP_ARCH_*`.
    pub arch: String,
    /// The syscall's name (absent when the table has none for the number).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Its number.
    pub nr: u64,
    /// Recordings that made it.
    pub recordings: usize,
    /// `recordings/total`, for people (`"1/3"`).
    pub coverage: String,
    /// Calls in all recordings together.
    pub calls: u64,
}

/// The coverage document written next to a merged profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Recordings merged.
    pub recordings: usize,
    /// Their names (container ids), in the order given.
    pub sources: Vec<String>,
    /// Every syscall of the union, the least covered first, then by arch and number.
    pub syscalls: Vec<CoverageLine>,
}

/// The calls of a `--report` document (lines of unknown architectures are skipped).
pub fn calls_of(report: &Report) -> Vec<RecordedSyscall> {
    report
        .syscalls
        .iter()
        .filter_map(|l| {
            Some(RecordedSyscall {
                arch: Arch::from_str(&l.arch).ok()?,
                nr: l.nr,
                count: l.count,
            })
        })
        .collect()
}

/// The union of `recordings` (counts added) and the coverage of each call.
pub fn merge_recordings(
    recordings: &[(String, Vec<RecordedSyscall>)],
) -> (Vec<RecordedSyscall>, Coverage) {
    let mut by_call: BTreeMap<(Arch, u64), (usize, u64)> = BTreeMap::new();
    for (_, calls) in recordings {
        let mut seen: BTreeMap<(Arch, u64), u64> = BTreeMap::new();
        for c in calls.iter().filter(|c| c.count > 0) {
            *seen.entry((c.arch, c.nr)).or_default() += c.count;
        }
        for (key, count) in seen {
            let e = by_call.entry(key).or_default();
            e.0 += 1;
            e.1 += count;
        }
    }
    let total = recordings.len();
    let union = by_call
        .iter()
        .map(|(&(arch, nr), &(_, count))| RecordedSyscall { arch, nr, count })
        .collect();
    let mut syscalls: Vec<CoverageLine> = by_call
        .into_iter()
        .map(|((arch, nr), (used, calls))| CoverageLine {
            arch: arch.scmp_name().to_owned(),
            name: arch.name_of(nr).map(str::to_owned),
            nr,
            recordings: used,
            coverage: format!("{used}/{total}"),
            calls,
        })
        .collect();
    // Stable sort: within one coverage the BTreeMap's arch-then-number order stays.
    syscalls.sort_by_key(|l| l.recordings);
    (
        union,
        Coverage {
            recordings: total,
            sources: recordings.iter().map(|(n, _)| n.clone()).collect(),
            syscalls,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(nr: u64, count: u64) -> RecordedSyscall {
        RecordedSyscall {
            arch: Arch::X86_64,
            nr,
            count,
        }
    }

    #[test]
    fn three_replicas_one_of_which_did_more() {
        let common = [rec(0, 5), rec(1, 2), rec(60, 1)];
        let mut third = common.to_vec();
        third.push(rec(309, 7)); // getcpu
        let (union, cov) = merge_recordings(&[
            ("a".into(), common.to_vec()),
            ("b".into(), common.to_vec()),
            ("c".into(), third),
        ]);
        assert_eq!(union.len(), 4);
        assert_eq!(union.iter().find(|c| c.nr == 0).map(|c| c.count), Some(15));
        assert_eq!(cov.recordings, 3);
        assert_eq!(cov.sources, ["a", "b", "c"]);
        let first = &cov.syscalls[0];
        assert_eq!(
            (first.name.as_deref(), first.coverage.as_str(), first.calls),
            (Some("getcpu"), "1/3", 7)
        );
        assert!(cov.syscalls[1..].iter().all(|l| l.coverage == "3/3"));
        assert_eq!(cov.syscalls[1].name.as_deref(), Some("read"));
    }

    #[test]
    fn zero_counts_and_empty_inputs() {
        let (union, cov) = merge_recordings(&[("a".into(), vec![rec(0, 0)])]);
        assert!(union.is_empty());
        assert!(cov.syscalls.is_empty());
        let (union, cov) = merge_recordings(&[]);
        assert!(union.is_empty() && cov.recordings == 0);
    }

    #[test]
    fn reports_give_back_their_calls() {
        let report = crate::report::Report {
            runtime: None,
            runtime_signal: None,
            attach: None,
            syscalls: vec![
                crate::report::ReportLine {
                    arch: "SCMP_ARCH_X86_64".into(),
                    nr: 39,
                    name: Some("getpid".into()),
                    count: 4,
                    first: None,
                },
                crate::report::ReportLine {
                    arch: "SCMP_ARCH_MIPS".into(),
                    nr: 1,
                    name: None,
                    count: 1,
                    first: None,
                },
            ],
            args: Vec::new(),
            args_lost: false,
            pod: None,
        };
        assert_eq!(calls_of(&report), vec![rec(39, 4)]);
    }
}
