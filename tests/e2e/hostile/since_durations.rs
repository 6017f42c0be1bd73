//! Hostile input: --since (seccomp_profile::audit::time) and durations (report::parse_duration).

use super::*;

pub(super) const NOW: WallTime = WallTime(1_796_224_929_706);

/// The last millisecond of year 9999.
pub(super) const MAX_RFC3339: i64 = 253_402_300_799_999;

pub(super) fn time_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-", ":", "T", "t", " ", ".", "Z", "z", "+", "-05", "+01:00", "@", "d", "s", "ms", "m",
            "h", "min", "é", "1e9", "inf", "NaN",
        ])
        .prop_map(str::to_owned),
        "[0-9]{1,4}",
        "[0-9]{10,30}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn since_never_panics(s in prop_oneof![
        hostile_string(),
        prop::collection::vec(time_token(), 0..12).prop_map(|t| t.concat()),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,12})?)?(Z|[+-][0-9]{2}:?[0-9]{2}|.{0,3})",
    ], now in any::<i64>()) {
        if let Err(e) = parse_since(&s, WallTime(now)) {
            assert_one_line(&e, s.contains('\n'));
        }
        if let Err(e) = report::parse_duration(&s) {
            assert_one_line(&e, s.contains('\n'));
        }
    }

    /// What `audit-report` prints as a time, `--since` reads back.
    #[e2e_macros::test]
    fn since_reads_back_the_times_we_print(t in 0i64..=MAX_RFC3339) {
        let shown = WallTime(t).to_string();
        prop_assert_eq!(parse_since(&shown, NOW), Ok(WallTime(t)), "{}", shown);
    }

    #[e2e_macros::test]
    fn wall_times_always_display(t in any::<i64>()) {
        // Any instant, however far from now, displays (no panic, no overflow) as a
        // UTC time with its milliseconds.
        let shown = WallTime(t).to_string();
        prop_assert!(shown.ends_with(&format!(".{:03}Z", t.rem_euclid(1000))), "{}", shown);
        prop_assert_eq!(shown.matches('T').count(), 1, "{}", shown);
    }

    /// `Nms`, `Ns`, `Nm`, `Nh` and `Nd` ago; unix timestamps as they are.
    #[e2e_macros::test]
    fn durations_round_trip(
        n in 0u64..1_000_000_000,
        unit in prop::sample::select(vec![
            ("ms", 1u64), ("s", 1000), ("m", 60_000), ("min", 60_000), ("h", 3_600_000),
        ]),
    ) {
        let (suffix, ms_per) = unit;
        let want = n * ms_per;
        if want > 1_000_000_000_000 {
            // Longer than 10^9 s: refused, as documented ("out of range").
            let e = report::parse_duration(&format!("{n}{suffix}")).expect_err("too long");
            prop_assert!(e.contains("out of range"), "{e}");
            return Ok(());
        }
        let got = report::parse_duration(&format!("{n}{suffix}")).expect("duration");
        prop_assert!(got.as_millis().abs_diff(u128::from(want)) <= 1, "{n}{suffix}: {got:?}");
        let since = parse_since(&format!("{n}{suffix}"), NOW).expect("since");
        let n = n % 1_000_000;
        prop_assert!((NOW.0 - since.0).abs_diff(i64::try_from(want).expect("ms")) <= 1);
        let days = parse_since(&format!("{}d", n % 36_500), NOW).expect("days");
        prop_assert_eq!(NOW.0 - days.0, i64::try_from((n % 36_500) * 86_400_000).expect("ms"));
        prop_assert_eq!(parse_since(&format!("@{n}"), NOW), Ok(WallTime(i64::try_from(n * 1000).expect("ms"))));
    }
}
