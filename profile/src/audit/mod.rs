//! The kernel's seccomp audit records, read as text: parsing kmsg and audit.log lines
//! (`records`), wall-clock times (`time`), what a LOG-twin run would have denied
//! (`report`), and the LOG twin of a profile (`twin`). Reading /dev/kmsg or the audit
//! log and the clocks is the binary's (`seccomp-recorder audit-report`).

pub mod records;
pub mod report;
pub mod time;
pub mod twin;

use self::records::{parse_line, Line};
use self::time::WallTime;

/// What was read: seccomp records and what says some are missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Every seccomp record, in source order.
    pub records: Vec<records::AuditRecord>,
    /// Printk suppression notices: (when, if known; records suppressed). The
    /// suppressed records were made before that time, after the previous printed one.
    pub suppressed: Vec<(Option<WallTime>, u64)>,
    /// Loss notices of the audit subsystem (when, if known).
    pub lost: Vec<Option<WallTime>>,
    /// Lines that claimed to be seccomp records but could not be read (a few kept).
    pub malformed: Vec<String>,
    /// kmsg: the time of the oldest record the ring still holds, and whether it is
    /// the very first since boot (the ring never wrapped). `None` for files.
    pub oldest: Option<(WallTime, bool)>,
    /// kmsg: records overwritten while we read (the ring wrapped under us).
    pub overwritten_while_reading: u64,
}

impl Collected {
    /// Classifies one message: a seccomp record, a notice that some are missing, a
    /// malformed record (a few kept), or something else.
    pub fn take(&mut self, line: &str, at: Option<WallTime>) {
        match parse_line(line) {
            Line::Seccomp(r) => self.records.push(r),
            // A notice is printed right before the record that passed the limit again.
            Line::Suppressed(n) => self.suppressed.push((at, n)),
            Line::Lost(_) => self.lost.push(at),
            Line::Malformed(why) => {
                if self.malformed.len() < 3 {
                    self.malformed.push(why);
                }
            }
            Line::Other => {}
        }
    }

    /// Gives notices without a time the time of the next seccomp record after them
    /// (`order`: what each classified line was, in source order), so they can be
    /// compared with `--since`.
    pub fn date_notices(&mut self, order: &[NoticeKind]) {
        let mut next: Option<WallTime> = None;
        let mut s = self.suppressed.len();
        let mut l = self.lost.len();
        let mut r = self.records.len();
        for kind in order.iter().rev() {
            match kind {
                NoticeKind::Record => {
                    r -= 1;
                    next = Some(WallTime(self.records[r].unix_ms));
                }
                NoticeKind::Suppressed => {
                    s -= 1;
                    self.suppressed[s].0 = self.suppressed[s].0.or(next);
                }
                NoticeKind::Lost => {
                    l -= 1;
                    self.lost[l] = self.lost[l].or(next);
                }
            }
        }
    }
}

/// What a classified line was, in source order, for [`Collected::date_notices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A seccomp record.
    Record,
    /// A printk suppression notice.
    Suppressed,
    /// An audit loss notice.
    Lost,
}
