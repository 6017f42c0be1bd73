//! The kernel's seccomp audit records (`AUDIT_SECCOMP`, type 1326), as `/dev/kmsg`,
//! `dmesg`, `journalctl -k` and auditd's `audit.log` show them (pure parsing).
//!
//! The kernel writes one record per logged syscall (`kernel/auditsc.c`,
//! `audit_seccomp`):
//!
//! ```text
//! audit: type=1326 audit(1796224929.706:2): auid=4294967295 uid=0 gid=0 ses=4294967295
//!   subj=unconfined pid=21570 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e
//!   syscall=83 compat=0 ip=0x7efd3c0c7f37 code=0x7ffc0000
//! ```
//!
//! auditd writes the same fields after `type=SECCOMP msg=audit(...)`, in its enriched
//! format followed by a `0x1d` byte and interpreted fields (`ARCH=x86_64
//! SYSCALL=mkdir`), which are ignored: the numbers are named here, per architecture.
//! `comm` and `exe` are quoted, or hex-encoded when they contain a space, a quote or a
//! control character.

use std::fmt;

use crate::syscalls::{Arch, X32_SYSCALL_BIT};

/// `AUDIT_SECCOMP`, the audit record type of seccomp.
pub const AUDIT_SECCOMP: u32 = 1326;

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM` (little-endian EABI).
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `AUDIT_ARCH_RISCV64`.
pub const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;

/// The architecture of a record: its `arch=` value and, on x86_64, the x32 bit of the
/// syscall number (x32 calls are made with `AUDIT_ARCH_X86_64` and a number that has
/// [`X32_SYSCALL_BIT`] set). `None` for an architecture without a table here.
pub fn arch_of(audit_arch: u32, syscall: u64) -> Option<Arch> {
    match audit_arch {
        AUDIT_ARCH_X86_64 if syscall & X32_SYSCALL_BIT != 0 => Some(Arch::X32),
        AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
        AUDIT_ARCH_I386 => Some(Arch::X86),
        AUDIT_ARCH_AARCH64 => Some(Arch::Aarch64),
        AUDIT_ARCH_ARM => Some(Arch::Arm),
        AUDIT_ARCH_RISCV64 => Some(Arch::Riscv64),
        _ => None,
    }
}

/// What the filter returned for the call: the `code=` field, a `SECCOMP_RET_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeccompRet {
    /// `SECCOMP_RET_KILL_PROCESS`.
    KillProcess,
    /// `SECCOMP_RET_KILL_THREAD` (`SCMP_ACT_KILL`).
    KillThread,
    /// `SECCOMP_RET_TRAP`.
    Trap,
    /// `SECCOMP_RET_ERRNO` with its errno.
    Errno(u16),
    /// `SECCOMP_RET_USER_NOTIF`.
    Notify,
    /// `SECCOMP_RET_TRACE` with its message.
    Trace(u16),
    /// `SECCOMP_RET_LOG`: allowed and logged; what the LOG twin of a profile returns
    /// where the profile denies.
    Log,
    /// `SECCOMP_RET_ALLOW` (logged only with `SECCOMP_FILTER_FLAG_LOG`, and never
    /// by default: `allow` is not in `kernel.seccomp.actions_logged`).
    Allow,
    /// A value the kernel does not define.
    Unknown(u32),
}

impl SeccompRet {
    /// Decodes a `code=` value (action in the high 16 bits, data in the low 16).
    pub fn from_code(code: u32) -> SeccompRet {
        let data = (code & 0xffff) as u16;
        match code & 0xffff_0000 {
            0x8000_0000 => SeccompRet::KillProcess,
            0x0000_0000 => SeccompRet::KillThread,
            0x0003_0000 => SeccompRet::Trap,
            0x0005_0000 => SeccompRet::Errno(data),
            0x7fc0_0000 => SeccompRet::Notify,
            0x7ff0_0000 => SeccompRet::Trace(data),
            0x7ffc_0000 => SeccompRet::Log,
            0x7fff_0000 => SeccompRet::Allow,
            _ => SeccompRet::Unknown(code),
        }
    }
}

impl fmt::Display for SeccompRet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompRet::KillProcess => f.write_str("SCMP_ACT_KILL_PROCESS"),
            SeccompRet::KillThread => f.write_str("SCMP_ACT_KILL_THREAD"),
            SeccompRet::Trap => f.write_str("SCMP_ACT_TRAP"),
            SeccompRet::Errno(e) => write!(f, "SCMP_ACT_ERRNO({e})"),
            SeccompRet::Notify => f.write_str("SCMP_ACT_NOTIFY"),
            SeccompRet::Trace(m) => write!(f, "SCMP_ACT_TRACE({m})"),
            SeccompRet::Log => f.write_str("SCMP_ACT_LOG"),
            SeccompRet::Allow => f.write_str("SCMP_ACT_ALLOW"),
            SeccompRet::Unknown(c) => write!(f, "code {c:#010x}"),
        }
    }
}

/// One seccomp audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the call was made, from the record's own `audit(SECONDS.MILLIS:SERIAL)`
    /// stamp (wall clock): milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// The audit serial number (global, increasing; gaps mean records of some type
    /// were not shown).
    pub serial: u64,
    /// The process (thread group) id, in the initial pid namespace.
    pub pid: u32,
    /// The thread's `comm`, when the record has one.
    pub comm: Option<String>,
    /// The executable, when the record has one.
    pub exe: Option<String>,
    /// The `AUDIT_ARCH_*` value of the call.
    pub audit_arch: u32,
    /// The syscall number as the record gives it (x32 numbers include the x32 bit).
    pub syscall: u64,
    /// What the filter returned.
    pub action: SeccompRet,
}

impl AuditRecord {
    /// The architecture of the call, when it has a table here.
    pub fn arch(&self) -> Option<Arch> {
        arch_of(self.audit_arch, self.syscall)
    }

    /// The syscall's name in its architecture's table.
    pub fn name(&self) -> Option<&'static str> {
        self.arch().and_then(|a| a.name_of(self.syscall))
    }
}

/// What one line (or kmsg message) of kernel log or audit log text is, as far as
/// seccomp auditing is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A seccomp record.
    Seccomp(AuditRecord),
    /// `kauditd_printk_skb: N callbacks suppressed`: N audit records (of any type)
    /// were not printed because of the printk rate limit.
    Suppressed(u64),
    /// `audit: audit_lost=N ...` or `audit: backlog limit exceeded` etc.: the audit
    /// subsystem itself dropped records (the lost counter when the line has it).
    Lost(Option<u64>),
    /// A line that says it is a seccomp record but lacks a field we need.
    Malformed(String),
    /// Anything else.
    Other,
}

/// Classifies one line of text: a kmsg message, a `dmesg` / `journalctl -k` line, or
/// an `audit.log` line.
pub fn parse_line(line: &str) -> Line {
    // auditd's enriched format: raw fields, 0x1d, interpreted fields.
    let line = line.split('\u{1d}').next().unwrap_or(line);
    if let Some(n) = suppressed_count(line) {
        return Line::Suppressed(n);
    }
    if let Some(lost) = lost_notice(line) {
        return Line::Lost(lost);
    }
    let Some(rest) = after_seccomp_type(line) else {
        return Line::Other;
    };
    match parse_seccomp_fields(rest) {
        Ok(r) => Line::Seccomp(r),
        Err(missing) => Line::Malformed(format!("{missing}: {}", line.trim())),
    }
}

fn suppressed_count(line: &str) -> Option<u64> {
    let at = line.find("kauditd_printk_skb: ")?;
    let rest = &line[at + "kauditd_printk_skb: ".len()..];
    let (n, tail) = rest.split_once(' ')?;
    tail.trim_end()
        .starts_with("callbacks suppressed")
        .then(|| n.parse().ok())
        .flatten()
}

fn lost_notice(line: &str) -> Option<Option<u64>> {
    if let Some(at) = line.find("audit: audit_lost=") {
        let digits: String = line[at + "audit: audit_lost=".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return Some(digits.parse().ok());
    }
    let lost = [
        "audit: backlog limit exceeded",
        "audit: rate limit exceeded",
    ];
    lost.iter().any(|w| line.contains(w)).then_some(None)
}

/// The text after `type=1326` / `type=SECCOMP` / `type=UNKNOWN[1326]` (and before
/// `audit(`), when the line is a seccomp record.
fn after_seccomp_type(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = line[from..].find("type=") {
        let word = from + i;
        let start = word + "type=".len();
        let value_end = line[start..]
            .find(char::is_whitespace)
            .map_or(line.len(), |e| start + e);
        let value = &line[start..value_end];
        let at_word_start =
            word == 0 || line[..word].ends_with(|c: char| c.is_whitespace() || c == ';');
        if at_word_start && matches!(value, "1326" | "SECCOMP" | "UNKNOWN[1326]") {
            return Some(&line[value_end..]);
        }
        from = start;
    }
    None
}

/// Parses `audit(S.MS:SERIAL): key=value ...`.
fn parse_seccomp_fields(rest: &str) -> Result<AuditRecord, &'static str> {
    let stamp_at = rest.find("audit(").ok_or("no audit(...) stamp")?;
    let stamp_rest = &rest[stamp_at + "audit(".len()..];
    let (stamp, fields) = stamp_rest.split_once(')').ok_or("no audit(...) stamp")?;
    let (unix_ms, serial) = parse_stamp(stamp).ok_or("malformed audit(...) stamp")?;
    let fields = fields.strip_prefix(':').unwrap_or(fields);
    let kv = key_values(fields);
    let get = |k: &str| kv.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
    let number = |k: &'static str| -> Result<String, &'static str> { get(k).ok_or(k) };
    let pid = number("pid")?.parse().map_err(|_| "pid")?;
    let audit_arch = u32::from_str_radix(&number("arch")?, 16).map_err(|_| "arch")?;
    let syscall = number("syscall")?.parse().map_err(|_| "syscall")?;
    let code = number("code")?;
    let code = u32::from_str_radix(code.trim_start_matches("0x"), 16).map_err(|_| "code")?;
    Ok(AuditRecord {
        unix_ms,
        serial,
        pid,
        comm: get("comm"),
        exe: get("exe"),
        audit_arch,
        syscall,
        action: SeccompRet::from_code(code),
    })
}

/// `1796224929.706:2` → (1796224929706, 2).
fn parse_stamp(stamp: &str) -> Option<(i64, u64)> {
    let (time, serial) = stamp.split_once(':')?;
    let (secs, frac) = time.split_once('.').unwrap_or((time, "0"));
    let secs: i64 = secs.parse().ok()?;
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Milliseconds: the kernel prints three digits; be lenient with other widths.
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    Some((
        secs.checked_mul(1000)?.checked_add(ms)?,
        serial.parse().ok()?,
    ))
}

/// `key=value` pairs; values may be `"quoted"` (no escapes: audit hex-encodes strings
/// that would need them) or bare. Bare `comm`/`exe` values are hex-encoded strings.
fn key_values(text: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = &rest[..eq];
        if key.contains(char::is_whitespace) {
            // A word without '=': skip it.
            let skip = key.find(char::is_whitespace).unwrap_or(key.len());
            rest = rest[skip..].trim_start();
            continue;
        }
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_owned(), &q[end + 1..]),
                None => (q.to_owned(), ""),
            }
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let raw = &after[..end];
            let value = if matches!(key, "comm" | "exe") {
                unhex(raw).unwrap_or_else(|| raw.to_owned())
            } else {
                raw.to_owned()
            };
            (value, &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    out
}

/// Audit's hex encoding of untrusted strings (`6D79206170700A` → `my app\n`).
fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// One record read from `/dev/kmsg`: `PRIO,SEQ,TIMESTAMP_US,FLAGS[,...];MESSAGE`,
/// then optional continuation lines (` KEY=VALUE`), which are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsgRecord {
    /// The record's sequence number (the ring's first is 0 unless it wrapped).
    pub seq: u64,
    /// Microseconds since boot (the printk clock).
    pub ts_us: u64,
    /// The message, with kmsg's `\xNN` escapes undone.
    pub message: String,
}

/// Parses one `/dev/kmsg` record (pure).
pub fn parse_kmsg(raw: &str) -> Option<KmsgRecord> {
    let (header, body) = raw.split_once(';')?;
    let mut fields = header.split(',');
    let _prio = fields.next()?;
    let seq = fields.next()?.parse().ok()?;
    let ts_us = fields.next()?.parse().ok()?;
    let message = body.split('\n').next().unwrap_or("");
    Some(KmsgRecord {
        seq,
        ts_us,
        message: crate::text::unescape_kmsg(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KMSG: &str = "5,1234,3220499496,-;audit: type=1326 audit(1796224929.706:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=21570 comm=\"mkdir\" exe=\"/usr/bin/mkdir\" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7efd3c0c7f37 code=0x7ffc0000\n SUBSYSTEM=x\n";

    fn record(line: &str) -> AuditRecord {
        match parse_line(line) {
            Line::Seccomp(r) => r,
            other => panic!("not a seccomp record: {other:?}"),
        }
    }

    #[test]
    fn kmsg_records_give_sequence_time_and_message() {
        let k = parse_kmsg(KMSG).expect("kmsg record");
        assert_eq!((k.seq, k.ts_us), (1234, 3_220_499_496));
        assert!(k.message.starts_with("audit: type=1326 audit("));
        assert!(!k.message.contains('\n'));
        let r = record(&k.message);
        assert_eq!(
            r,
            AuditRecord {
                unix_ms: 1_796_224_929_706,
                serial: 2,
                pid: 21570,
                comm: Some("mkdir".into()),
                exe: Some("/usr/bin/mkdir".into()),
                audit_arch: AUDIT_ARCH_X86_64,
                syscall: 83,
                action: SeccompRet::Log,
            }
        );
        assert_eq!((r.arch(), r.name()), (Some(Arch::X86_64), Some("mkdir")));
        assert_eq!(parse_kmsg("no header"), None);
        assert_eq!(
            parse_kmsg("6,1,2,-;a\\x20b\\x5cc").map(|k| k.message),
            Some("a b\\c".into())
        );
    }

    #[test]
    fn audit_log_lines_with_enrichment_and_hex_strings() {
        let line = "type=SECCOMP msg=audit(1733150000.123:456): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined pid=1234 comm=6D79206170700A exe=\"/bin/busybox\" sig=0 arch=40000003 syscall=39 compat=1 ip=0xf7f4 code=0x50026\u{1d}AUID=\"user\" UID=\"user\" ARCH=i386 SYSCALL=mkdir";
        let r = record(line);
        assert_eq!(r.unix_ms, 1_733_150_000_123);
        assert_eq!(r.serial, 456);
        assert_eq!(r.comm.as_deref(), Some("my app\n"));
        assert_eq!(r.action, SeccompRet::Errno(38));
        // i386 39 is mkdir; the interpreted SYSCALL= is not used.
        assert_eq!((r.arch(), r.name()), (Some(Arch::X86), Some("mkdir")));
        let node = record("node=web1 type=UNKNOWN[1326] msg=audit(1.5:7): pid=1 comm=\"a\" arch=c00000b7 syscall=34 code=0x80000000");
        assert_eq!(node.unix_ms, 1500);
        assert_eq!(node.action, SeccompRet::KillProcess);
        assert_eq!(node.name(), Some("mkdirat"));
    }

    #[test]
    fn dmesg_and_journal_lines_are_read_too() {
        let dmesg = "[ 3220.499496] audit: type=1326 audit(1796224929.706:2): pid=5 comm=\"sh\" arch=c000003e syscall=1073741907 compat=1 code=0x7ffc0000";
        let r = record(dmesg);
        assert_eq!(r.arch(), Some(Arch::X32));
        assert_eq!(r.name(), Some("mkdir"));
        let journal = "Dec 02 15:00:01 web1 kernel: audit: type=1326 audit(1796224929.706:3): pid=6 comm=\"sh\" arch=c000003e syscall=95 code=0x7ffc0000";
        assert_eq!(record(journal).name(), Some("umask"));
    }

    #[test]
    fn other_lines_suppression_and_loss_notices() {
        assert_eq!(
            parse_line("audit: type=1300 audit(1.0:1): arch=c000003e syscall=2"),
            Line::Other
        );
        assert_eq!(parse_line("ktype=1326 audit(1.0:1): pid=1"), Line::Other);
        assert_eq!(
            parse_line("kauditd_printk_skb: 90 callbacks suppressed"),
            Line::Suppressed(90)
        );
        assert_eq!(
            parse_line("audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64"),
            Line::Lost(Some(5))
        );
        assert_eq!(
            parse_line("audit: backlog limit exceeded"),
            Line::Lost(None)
        );
        match parse_line("audit: type=1326 audit(1.0:1): pid=1 comm=\"x\" syscall=2") {
            Line::Malformed(why) => assert!(why.starts_with("arch: "), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arches_and_actions() {
        assert_eq!(arch_of(AUDIT_ARCH_X86_64, 83), Some(Arch::X86_64));
        assert_eq!(arch_of(AUDIT_ARCH_X86_64, 0x4000_0053), Some(Arch::X32));
        assert_eq!(arch_of(AUDIT_ARCH_I386, 39), Some(Arch::X86));
        assert_eq!(arch_of(AUDIT_ARCH_AARCH64, 34), Some(Arch::Aarch64));
        assert_eq!(arch_of(AUDIT_ARCH_ARM, 39), Some(Arch::Arm));
        assert_eq!(arch_of(AUDIT_ARCH_RISCV64, 34), Some(Arch::Riscv64));
        assert_eq!(arch_of(0x8000_0016, 1), None); // s390x
        assert_eq!(SeccompRet::from_code(0x7ffc_0000), SeccompRet::Log);
        assert_eq!(SeccompRet::from_code(0x0005_0026), SeccompRet::Errno(38));
        assert_eq!(SeccompRet::from_code(0), SeccompRet::KillThread);
        assert_eq!(SeccompRet::from_code(0x0003_0000), SeccompRet::Trap);
        assert_eq!(SeccompRet::from_code(0x7ff0_0001), SeccompRet::Trace(1));
        assert_eq!(
            SeccompRet::from_code(0x1234_0000).to_string(),
            "code 0x12340000"
        );
        assert_eq!(SeccompRet::Errno(1).to_string(), "SCMP_ACT_ERRNO(1)");
    }
}
