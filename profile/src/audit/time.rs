//! Wall-clock times of `audit-report`: `--since` parsing, RFC 3339 output, and the
//! boot time that turns kmsg timestamps (microseconds since boot) into wall time.
//! Everything but [`now`] and [`boot_time`] is pure.

use std::fmt;

/// A wall-clock time: milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(pub i64);

impl WallTime {
    /// Milliseconds since the epoch.
    pub const fn unix_ms(self) -> i64 {
        self.0
    }
}

impl fmt::Display for WallTime {
    /// RFC 3339 in UTC with milliseconds: `2026-12-02T15:00:01.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

const SINCE_FORMS: &str =
    "use an RFC 3339 time like 2026-12-02T15:00:00Z, a duration ago like 10m, or a unix timestamp";

/// Parses `--since`: an RFC 3339 time with a zone (`2026-12-02T15:00:00Z`,
/// `2026-12-02 16:00:00.5+01:00`), a duration ago (`90s`, `10m`, `2h`, `1d`; see
/// [`crate::report::parse_duration`]), or a unix timestamp (`1796224929`,
/// `1796224929.706`, `@1796224929`). `now` is the time durations count back from.
pub fn parse_since(s: &str, now: WallTime) -> Result<WallTime, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("empty time: {SINCE_FORMS}"));
    }
    let stamp = s.strip_prefix('@').unwrap_or(s);
    if stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = stamp
            .parse()
            .map_err(|_| format!("'{s}' is not a unix timestamp: {SINCE_FORMS}"))?;
        return Ok(WallTime((secs * 1000.0).round() as i64));
    }
    if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        return parse_rfc3339(s);
    }
    let ago = match s.strip_suffix('d') {
        Some(days) => days
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && (0.0..=36_500.0).contains(d))
            .map(|d| std::time::Duration::from_secs_f64(d * 86_400.0))
            .ok_or_else(|| format!("'{s}' is not a duration: {SINCE_FORMS}")),
        None => crate::report::parse_duration(s).map_err(|e| format!("{e}; {SINCE_FORMS}")),
    }?;
    let ago_ms = i64::try_from(ago.as_millis()).map_err(|_| format!("'{s}' is out of range"))?;
    Ok(WallTime(now.0.saturating_sub(ago_ms)))
}

/// `YYYY-MM-DD(T| )HH:MM[:SS[.fff]](Z|±HH:MM|±HHMM)`.
fn parse_rfc3339(s: &str) -> Result<WallTime, String> {
    let bad = |why: &str| format!("'{s}': {why}: {SINCE_FORMS}");
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        s.get(from..from + len)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("not a date and time"))
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)? as u32, num(8, 2)? as u32);
    if b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(bad("not a valid date"));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad(
            "a time of day is needed after the date (e.g. T15:00:00Z)",
        ));
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return Err(bad("not a valid time of day"));
    }
    let mut i = 16;
    let mut sec = 0;
    let mut ms = 0;
    if b.get(i) == Some(&b':') {
        sec = num(i + 1, 2)?;
        if sec > 60 {
            return Err(bad("not a valid time of day"));
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            let digits = s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("no digits after the decimal point"));
            }
            ms = format!("{:0<3}", &s[i + 1..i + 1 + digits])[..3]
                .parse()
                .map_err(|_| bad("bad fraction"))?;
            i += 1 + digits;
        }
    }
    let offset_min = match &s[i..] {
        "Z" | "z" => 0,
        zone if zone.starts_with(['+', '-']) => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad("the zone must look like Z, +01:00 or -0500"));
            }
            let (zh, zm): (i64, i64) = (
                digits[..2].parse().map_err(|_| bad("bad zone"))?,
                digits[2..].parse().map_err(|_| bad("bad zone"))?,
            );
            sign * (zh * 60 + zm)
        }
        "" => {
            return Err(bad(
                "no time zone (add Z for UTC, or an offset like +01:00)",
            ))
        }
        _ => return Err(bad("unexpected text after the time")),
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Ok(WallTime(secs * 1000 + ms))
}

/// The wall time of a kmsg timestamp (microseconds since boot).
pub fn kmsg_wall_time(boot: WallTime, ts_us: u64) -> WallTime {
    WallTime(
        boot.0
            .saturating_add(i64::try_from(ts_us / 1000).unwrap_or(i64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: WallTime = WallTime(1_796_224_929_706);

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(NOW.to_string(), "2026-12-02T15:22:09.706Z");
        assert_eq!(
            parse_since("2026-12-02T15:22:09.706Z", NOW),
            Ok(NOW),
            "parse of the display"
        );
        assert_eq!(WallTime(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(WallTime(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            parse_since("2024-02-29T00:00:00Z", NOW).map(|t| t.to_string()),
            Ok("2024-02-29T00:00:00.000Z".into())
        );
    }

    #[test]
    fn since_accepts_zones_spaces_and_fractions() {
        let t = |s| parse_since(s, NOW).expect(s);
        assert_eq!(t("2026-12-02T15:00:00Z"), WallTime(1_796_223_600_000));
        assert_eq!(t("2026-12-02 16:00:00+01:00"), WallTime(1_796_223_600_000));
        assert_eq!(t("2026-12-02T10:00-0500"), WallTime(1_796_223_600_000));
        assert_eq!(t("2026-12-02T15:00:00.5Z"), WallTime(1_796_223_600_500));
        assert_eq!(
            t("2026-12-02T15:00:00.123456Z"),
            WallTime(1_796_223_600_123)
        );
    }

    #[test]
    fn since_accepts_durations_ago_and_unix_timestamps() {
        let t = |s| parse_since(s, NOW).expect(s);
        assert_eq!(t("10m"), WallTime(NOW.0 - 600_000));
        assert_eq!(t("90s"), WallTime(NOW.0 - 90_000));
        assert_eq!(t("2h"), WallTime(NOW.0 - 7_200_000));
        assert_eq!(t("1d"), WallTime(NOW.0 - 86_400_000));
        assert_eq!(t("1796224929"), WallTime(1_796_224_929_000));
        assert_eq!(t("1796224929.706"), NOW);
        assert_eq!(t("@1796224929"), WallTime(1_796_224_929_000));
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        for s in [
            "",
            "yesterday",
            "10x",
            "2026-12-02",
            "2026-12-02T15:00:00",
            "2026-02-30T00:00:00Z",
            "2026-12-02T25:00:00Z",
            "2026-12-02T15:00:00+1",
            "2026-12-02T15:00:00Zjunk",
            "1.2.3",
        ] {
            let e = parse_since(s, NOW).expect_err(s);
            assert!(e.contains("RFC 3339"), "{s}: {e}");
        }
        assert!(parse_since("2026-12-02T15:00:00", NOW)
            .expect_err("no zone")
            .contains("no time zone"));
    }

    #[test]
    fn kmsg_times_add_to_the_boot_time() {
        assert_eq!(
            kmsg_wall_time(WallTime(1_000_000), 3_220_499_496),
            WallTime(1_000_000 + 3_220_499)
        );
    }
}
