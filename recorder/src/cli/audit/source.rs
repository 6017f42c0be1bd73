//! Where the kernel's seccomp records are read from.
//!
//! The kernel hands audit records to the process registered on the audit netlink
//! socket (auditd). While none is registered, `kauditd` prints each record with
//! `printk`, rate-limited by `printk_ratelimit()` (`kernel.printk_ratelimit` seconds,
//! `kernel.printk_ratelimit_burst` messages), so they land in the kernel log ring
//! (`/dev/kmsg`, `dmesg`). With auditd registered they go to auditd only, which
//! writes them to `/var/log/audit/audit.log`. `--source auto` asks the kernel
//! (`AUDIT_GET`) whether an audit daemon is registered.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use seccomp_profile::audit::records::parse_kmsg;
use seccomp_profile::audit::time::{kmsg_wall_time, WallTime};
use seccomp_profile::audit::{Collected, NoticeKind};

/// The kernel log device.
pub const KMSG: &str = "/dev/kmsg";

/// Where auditd writes by default (`log_file` in auditd.conf).
pub const AUDIT_LOG: &str = "/var/log/audit/audit.log";

/// `--source`: where to read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// `/dev/kmsg`, or auditd's log when an audit daemon is registered.
    Auto,
    /// `/dev/kmsg`.
    Kmsg,
    /// A file: `audit.log`, saved `dmesg` / `journalctl -k` output, or kmsg records.
    File(PathBuf),
}

impl std::str::FromStr for SourceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => SourceChoice::Auto,
            "kmsg" => SourceChoice::Kmsg,
            "" => return Err("an empty source (use auto, kmsg or a file)".into()),
            path => SourceChoice::File(PathBuf::from(path)),
        })
    }
}

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source could not be opened or read.
    #[error("cannot read {}{hint}", path.display())]
    Read {
        /// The file or device.
        path: PathBuf,
        /// What to do about it, with a leading separator, or empty.
        hint: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl SourceError {
    /// The I/O error behind it.
    pub fn io(&self) -> &io::Error {
        match self {
            SourceError::Read { source, .. } => source,
        }
    }
}

/// The audit subsystem's state (`struct audit_status` of `AUDIT_GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditStatus {
    /// `audit_enabled` (0 off, 1 on, 2 locked). Seccomp records are written even
    /// when it is 0.
    pub enabled: u32,
    /// The pid of the registered audit daemon; 0 when none is.
    pub pid: u32,
    /// Records per second before the kernel drops them (0: no limit).
    pub rate_limit: u32,
    /// Records queued before the kernel drops them (0: no limit).
    pub backlog_limit: u32,
    /// Records the audit subsystem dropped since boot.
    pub lost: u32,
}

/// Reads lines (pure apart from the reader): each line is one text line of a file.
pub fn collect_lines(reader: impl BufRead) -> io::Result<Collected> {
    let mut c = Collected::default();
    let mut order = Vec::new();
    for line in reader.split(b'\n') {
        let bytes = line?;
        let text = String::from_utf8_lossy(&bytes);
        // A file of raw kmsg records ("PRIO,SEQ,TS;MESSAGE") reads like the device.
        let message = parse_kmsg(&text).map_or_else(|| text.to_string(), |k| k.message);
        let before = (c.records.len(), c.suppressed.len(), c.lost.len());
        c.take(&message, None);
        if c.records.len() > before.0 {
            order.push(NoticeKind::Record);
        } else if c.suppressed.len() > before.1 {
            order.push(NoticeKind::Suppressed);
        } else if c.lost.len() > before.2 {
            order.push(NoticeKind::Lost);
        }
    }
    c.date_notices(&order);
    Ok(c)
}

/// Reads a file given with `--source FILE` (or auditd's log); `hint` is added to a
/// read error (with a leading separator).
pub fn read_file(path: &Path, hint: &str) -> Result<Collected, SourceError> {
    let err = |source| SourceError::Read {
        path: path.to_owned(),
        hint: hint.to_owned(),
        source,
    };
    let f = File::open(path).map_err(err)?;
    collect_lines(BufReader::new(f)).map_err(err)
}

/// Reads the whole kernel log ring from its first record, without waiting for new
/// ones: `/dev/kmsg` opened non-blocking, one record per `read` until `EAGAIN`.
/// `boot` converts the records' timestamps (for notices; seccomp records carry their
/// own wall-clock stamp).
pub fn read_kmsg(path: &Path, boot: WallTime) -> Result<Collected, SourceError> {
    let err = |source: io::Error| SourceError::Read {
        path: path.to_owned(),
        hint: if source.kind() == io::ErrorKind::PermissionDenied {
            ": reading the kernel log needs root or CAP_SYSLOG (kernel.dmesg_restrict)".into()
        } else {
            String::new()
        },
        source,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(err)?;
    let mut c = Collected::default();
    // A record is at most ~8 KiB (PRINTKRB_RECORD_MAX plus the dictionary).
    let mut buf = vec![0u8; 16 * 1024];
    let mut first = true;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                let Some(k) = parse_kmsg(&text) else { continue };
                let at = kmsg_wall_time(boot, k.ts_us);
                if first {
                    c.oldest = Some((at, k.seq == 0));
                    first = false;
                }
                c.take(&k.message, Some(at));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // EPIPE: the ring overwrote records we had not read yet; go on.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                c.overwritten_while_reading += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(c)
}

/// Asks the kernel for the audit status (`AUDIT_GET` on a `NETLINK_AUDIT` socket;
/// needs CAP_AUDIT_CONTROL in the initial user namespace).
pub fn audit_status() -> io::Result<AuditStatus> {
    const NETLINK_AUDIT: libc::c_int = 9;
    const AUDIT_GET: u16 = 1000;
    const NLMSG_ERROR: u16 = 2;
    const HDR: usize = 16;

    // SAFETY: plain socket(2); the fd is owned by `fd` below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_AUDIT,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    let fd_raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: a valid fd and a timeval of the size given.
    unsafe {
        libc::setsockopt(
            fd_raw,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::addr_of!(timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let mut req = [0u8; HDR];
    req[0..4].copy_from_slice(&(HDR as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&AUDIT_GET.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: a zeroed sockaddr_nl is valid; family set below.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: valid buffer and address of the sizes given.
    let sent = unsafe {
        libc::sendto(
            fd_raw,
            req.as_ptr().cast(),
            req.len(),
            0,
            std::ptr::addr_of!(kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 8192];
    // The ACK and the status come as separate messages, in either order.
    for _ in 0..4 {
        // SAFETY: a valid, writable buffer of the size given.
        let n = unsafe { libc::recv(fd_raw, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let msg = &buf[..n as usize];
        let mut off = 0;
        while off + HDR <= msg.len() {
            let word = |at: usize| {
                msg.get(at..at + 4)
                    .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            };
            let len = word(off).unwrap_or(0) as usize;
            let kind = u16::from_ne_bytes([msg[off + 4], msg[off + 5]]);
            if len < HDR || off + len > msg.len() {
                break;
            }
            let payload = |i: usize| word(off + HDR + 4 * i).unwrap_or(0);
            match kind {
                AUDIT_GET => {
                    return Ok(AuditStatus {
                        enabled: payload(1),
                        pid: payload(3),
                        rate_limit: payload(4),
                        backlog_limit: payload(5),
                        lost: payload(6),
                    })
                }
                NLMSG_ERROR => {
                    let code = payload(0) as i32;
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no AUDIT_GET answer from the kernel",
    ))
}

/// Whether a process named `auditd` runs (when the kernel cannot be asked).
pub fn auditd_running() -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.parse::<u32>().is_ok())
            && std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "auditd")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_any_text_format_and_notices_get_the_next_record_time() {
        let text = "\
type=SECCOMP msg=audit(100.000:1): pid=1 comm=\"a\" arch=c000003e syscall=83 code=0x7ffc0000
[  10.000000] kauditd_printk_skb: 7 callbacks suppressed
5,22,20000000,-;audit: type=1326 audit(200.500:9): pid=2 comm=\"b\" arch=c000003e syscall=95 code=0x7ffc0000
Dec 02 15:00:01 web1 kernel: audit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64
audit: type=1326 audit(bad): pid=3
";
        let c = collect_lines(text.as_bytes()).expect("read");
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.records[1].pid, 2);
        assert_eq!(c.suppressed, [(Some(WallTime(200_500)), 7)]);
        assert_eq!(c.lost, [None]);
        assert_eq!(c.malformed.len(), 1);
        assert_eq!(c.oldest, None);
    }

    #[test]
    fn sources_parse() {
        assert_eq!("auto".parse(), Ok(SourceChoice::Auto));
        assert_eq!("kmsg".parse(), Ok(SourceChoice::Kmsg));
        assert_eq!(
            "/var/log/audit/audit.log".parse(),
            Ok(SourceChoice::File(PathBuf::from(AUDIT_LOG)))
        );
        assert!("".parse::<SourceChoice>().is_err());
    }
}
