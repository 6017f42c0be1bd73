//! What a terminal user sees while a recording of a running cgroup, container or pod
//! goes on: a status line on stderr redrawn in place (`\r`) a few times per second,
//! only when stderr is a terminal; and the one-line summary every `record` ends with.
//! The text is made by pure functions ([`status_line`], [`summary_line`]).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the status line is redrawn at most.
pub const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// Syscall counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls counted (every architecture).
    pub calls: u64,
    /// Distinct (architecture, syscall) pairs.
    pub distinct: usize,
}

impl Counts {
    /// The counts of a snapshot's `(count)` list.
    pub fn of(counts: impl IntoIterator<Item = u64>) -> Counts {
        counts.into_iter().fold(Counts::default(), |c, n| Counts {
            calls: c.calls + n,
            distinct: c.distinct + usize::from(n > 0),
        })
    }
}

/// `1h02m03s`, `2m05s`, `4.2s`.
pub fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{:.1}s", d.as_secs_f64()),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// The live status line: elapsed time, calls, distinct syscalls, calls since the
/// line before.
pub fn status_line(elapsed: Duration, now: Counts, before: Counts) -> String {
    format!(
        "seccomp-recorder: recording {}: {} calls, {} distinct syscalls, +{} calls since last",
        elapsed_text(elapsed),
        now.calls,
        now.distinct,
        now.calls.saturating_sub(before.calls)
    )
}

/// The closing line of a recording: how long, what was counted, why it ended.
pub fn summary_line(what: &str, elapsed: Duration, counts: Counts, why: &str) -> String {
    format!(
        "seccomp-recorder: {what}: stopped after {} ({why}): {} distinct syscalls, {} calls",
        elapsed_text(elapsed),
        counts.distinct,
        counts.calls
    )
}

/// The live status line of one recording (a no-op when stderr is not a terminal).
#[derive(Debug)]
pub struct StatusLine {
    enabled: bool,
    started: Instant,
    last_draw: Option<Instant>,
    last: Counts,
    drawn: bool,
}

impl StatusLine {
    /// A status line for a recording that started at `started`; shown only when
    /// stderr is a terminal (SECCOMP_RECORDER_PROGRESS=0 turns it off).
    pub fn new(started: Instant) -> StatusLine {
        let off = std::env::var_os("SECCOMP_RECORDER_PROGRESS").is_some_and(|v| v == "0");
        StatusLine {
            enabled: !off && std::io::stderr().is_terminal(),
            started,
            last_draw: None,
            last: Counts::default(),
            drawn: false,
        }
    }

    /// Whether a redraw is due (at most every [`REDRAW_EVERY`]).
    pub fn due(&self, now: Instant) -> bool {
        self.enabled
            && self
                .last_draw
                .is_none_or(|t| now.duration_since(t) >= REDRAW_EVERY)
    }

    /// Redraws the line with `counts`.
    pub fn draw(&mut self, now: Instant, counts: Counts) {
        if !self.enabled {
            return;
        }
        let line = status_line(now.duration_since(self.started), counts, self.last);
        let mut err = std::io::stderr().lock();
        // \r back to the start, \x1b[K clears what a longer line left.
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.last = counts;
        self.last_draw = Some(now);
        self.drawn = true;
    }

    /// Removes the line, so that what is printed next starts on a clean line.
    pub fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        assert_eq!(
            Counts::of([3, 0, 5]),
            Counts {
                calls: 8,
                distinct: 2
            }
        );
    }

    #[test]
    fn elapsed_reads_like_a_clock() {
        assert_eq!(elapsed_text(Duration::from_millis(4200)), "4.2s");
        assert_eq!(elapsed_text(Duration::from_secs(125)), "2m05s");
        assert_eq!(elapsed_text(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn the_status_line_says_what_is_new() {
        let before = Counts {
            calls: 100,
            distinct: 10,
        };
        let now = Counts {
            calls: 160,
            distinct: 12,
        };
        assert_eq!(
            status_line(Duration::from_secs(65), now, before),
            "seccomp-recorder: recording 1m05s: 160 calls, 12 distinct syscalls, +60 calls since last"
        );
    }

    #[test]
    fn the_summary_is_one_line() {
        let s = summary_line(
            "cgroup /x",
            Duration::from_millis(1500),
            Counts {
                calls: 9,
                distinct: 3,
            },
            "signal 2",
        );
        assert_eq!(
            s,
            "seccomp-recorder: cgroup /x: stopped after 1.5s (signal 2): 3 distinct syscalls, 9 calls"
        );
        assert!(!s.contains('\n'));
    }

    #[test]
    fn redraws_are_rate_limited() {
        let t0 = Instant::now();
        let mut line = StatusLine {
            enabled: true,
            started: t0,
            last_draw: Some(t0),
            last: Counts::default(),
            drawn: false,
        };
        assert!(!line.due(t0 + Duration::from_millis(100)));
        assert!(line.due(t0 + REDRAW_EVERY));
        line.enabled = false;
        assert!(
            !line.due(t0 + Duration::from_secs(5)),
            "never when not a terminal"
        );
    }
}
