//! Hostile input: stats and reports (evidence::parse on recordings, arg_check::values_in).

use super::*;

pub(super) fn arb_first() -> impl Strategy<Value = Option<FirstSeen>> {
    prop::option::of(
        (
            any::<u32>(),
            any::<u32>(),
            hostile_string(),
            prop_oneof![
                0.0f64..1e9,
                Just(0.0),
                any::<f64>().prop_filter("finite", |f| f.is_finite())
            ],
        )
            .prop_map(|(pid, tid, comm, after_ms)| FirstSeen {
                pid,
                tid,
                comm,
                after_ms,
            }),
    )
}

/// A first use, compared with `after_ms` to a few ULP: serde_json (without
/// its `float_roundtrip` feature) may read a float back 1 ULP off the one it wrote.
pub(super) fn first_key(f: &FirstSeen) -> (u32, u32, String, Close) {
    (f.pid, f.tid, f.comm.clone(), Close(f.after_ms))
}

/// A float equal to another within a relative 1e-15 (a few ULP; subnormals: any).
#[derive(Debug, Clone, Copy)]
pub(super) struct Close(f64);

impl PartialEq for Close {
    fn eq(&self, other: &Close) -> bool {
        (self.0 - other.0).abs() <= self.0.abs().max(other.0.abs()) * 1e-15 + f64::MIN_POSITIVE
    }
}

pub(super) fn arb_arg_value() -> impl Strategy<Value = ArgValue> {
    (
        prop::sample::select(Arch::ALL.to_vec()),
        prop::sample::select(vec![
            "socket", "clone", "clone3", "unshare", "setns", "prctl", "ioctl",
        ]),
        prop::collection::vec((0u32..6, any::<u64>()), 1..3),
        any::<u64>(),
    )
        .prop_map(|(arch, name, args, count)| ArgValue {
            arch: arch.scmp_name().to_owned(),
            name: name.to_owned(),
            args: args
                .into_iter()
                .map(|(index, value)| ArgAt { index, value })
                .collect(),
            count,
        })
}

proptest! {
    #![proptest_config(config())]

    /// A report we write reads back with the same calls, numbers no table names
    /// apart, and the same argument values.
    #[e2e_macros::test]
    fn reports_round_trip(
        lines in prop::collection::btree_map(
            (prop::sample::select(Arch::ALL.to_vec()), prop_oneof![0u64..600, any::<u64>()]),
            (1u64..u64::MAX, arb_first()),
            0..16),
        args in prop::collection::vec(arb_arg_value(), 0..5),
        args_lost in any::<bool>(),
    ) {
        let evidence: Vec<report::Evidence> = lines
            .iter()
            .map(|(&(arch, nr), (count, first))| report::Evidence {
                call: RecordedSyscall { arch, nr, count: *count },
                first: first.clone(),
            })
            .collect();
        let mut r = report::report(&evidence);
        r.args = args.clone();
        r.args_lost = args_lost;
        let text = serde_json::to_string_pretty(&r).expect("serialize");
        let input = read_back(&text);
        let with_first = lines.values().any(|(_, f)| f.is_some());
        let expected_kind = if with_first || !args.is_empty() || args_lost { InputKind::Report } else { InputKind::Stats };
        prop_assert_eq!(input.kind, expected_kind);
        let mut named = Vec::new();
        let mut unnamed = Vec::new();
        for ReportLine { arch, nr, name, count, first } in &r.syscalls {
            let arch: Arch = arch.parse().expect("our arch names");
            match name {
                Some(n) => named.push((arch, n.clone(), *nr, *count, first.as_ref().map(first_key))),
                None => unnamed.push((arch, *nr, *count, first.as_ref().map(first_key))),
            }
        }
        let got: Vec<_> = input.evidence().expect("evidence").into_iter()
            .map(|e| (e.arch.expect("arch"), e.name, e.nr.expect("nr"), e.count.expect("count"), e.first.as_ref().map(first_key)))
            .collect();
        prop_assert_eq!(got, named);
        let got: Vec<_> = input.unnamed().iter().map(|u| (u.arch, u.nr, u.count, u.first.as_ref().map(first_key))).collect();
        prop_assert_eq!(got, unnamed);
        // The report as `check` reads its argument values.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, &text).expect("write");
        prop_assert_eq!(seccomp_profile::arg_check::values_in(&p), args);
        // And back into profile input: the counts of the table architectures.
        let back: Report = serde_json::from_str(&text).expect("report");
        let calls = report::recorded_calls(&back);
        prop_assert_eq!(calls.len(), r.syscalls.len());
    }

    /// `--stats` files we write read back as stats with the same counts.
    #[e2e_macros::test]
    fn stats_round_trip(
        lines in prop::collection::btree_map(
            (prop::sample::select(Arch::ALL.to_vec()), prop_oneof![0u64..600, any::<u64>()]),
            1u64..u64::MAX,
            0..30),
    ) {
        let recorded: Vec<RecordedSyscall> = lines.iter()
            .map(|(&(arch, nr), &count)| RecordedSyscall { arch, nr, count })
            .collect();
        let text = serde_json::to_string(&profile::stats(&recorded)).expect("serialize");
        let input = read_back(&text);
        prop_assert_eq!(input.kind, InputKind::Stats);
        let Content::Recording { calls, unnamed } = &input.content else {
            panic!("stats read as a profile");
        };
        prop_assert_eq!(calls.len() + unnamed.len(), lines.len());
        let total: u128 = calls.iter().map(|c| u128::from(c.count.expect("count"))).sum::<u128>()
            + unnamed.iter().map(|u| u128::from(u.count)).sum::<u128>();
        prop_assert_eq!(total, lines.values().map(|&c| u128::from(c)).sum::<u128>());
    }

    /// Whatever a "report" file holds, `check` gets argument values or none.
    #[e2e_macros::test]
    fn argument_values_are_read_or_ignored(
        text in prop_oneof![hostile_string(), arb_json().prop_map(|v| serde_json::json!({"args": v}).to_string())],
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("r.json");
        std::fs::write(&p, &text).expect("write");
        let _ = seccomp_profile::arg_check::values_in(&p);
    }
}
