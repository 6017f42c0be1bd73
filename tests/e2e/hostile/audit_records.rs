//! Hostile input: audit records (seccomp_profile::audit::records).

use super::*;

pub(super) const AUDIT_ARCHES: [u32; 6] = [
    records::AUDIT_ARCH_X86_64,
    records::AUDIT_ARCH_I386,
    records::AUDIT_ARCH_AARCH64,
    records::AUDIT_ARCH_ARM,
    records::AUDIT_ARCH_RISCV64,
    0x8000_0016,
];

/// The kernel's `audit_log_untrustedstring`: quoted, or hex when it holds a quote, a
/// blank, a control character or a byte outside printable ASCII.
pub(super) fn audit_string(s: &str) -> String {
    if s.bytes().any(|b| b == b'"' || !(0x21..=0x7e).contains(&b)) {
        s.bytes().map(|b| format!("{b:02X}")).collect()
    } else {
        format!("\"{s}\"")
    }
}

/// `/dev/kmsg`'s escaping: bytes below 0x20, from 0x7f, and `\` as `\xNN`.
pub(super) fn kmsg_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if !(0x20..0x7f).contains(&b) || b == b'\\' {
                format!("\\x{b:02x}")
            } else {
                char::from(b).to_string()
            }
        })
        .collect()
}

pub(super) fn audit_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type=1326",
            "type=SECCOMP",
            "type=UNKNOWN[1326]",
            "audit(",
            "):",
            ")",
            ":",
            ".",
            "=",
            "\"",
            " ",
            "pid=",
            "arch=",
            "syscall=",
            "code=",
            "0x",
            "comm=",
            "exe=",
            "c000003e",
            "kauditd_printk_skb: ",
            " callbacks suppressed",
            "audit: audit_lost=",
            "audit: backlog limit exceeded",
            "\u{1d}",
            "\\x",
            "\\x4",
            "é",
            "msg=audit(",
            "1796224929.706:2",
            "7ffc0000",
            ";",
            ",",
        ])
        .prop_map(str::to_owned),
        "[0-9]{1,12}",
        "[0-9a-fA-F]{1,9}",
        hostile_string(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[e2e_macros::test]
    fn audit_lines_never_panic(
        line in prop_oneof![
            hostile_string(),
            prop::collection::vec(audit_token(), 0..24).prop_map(|t| t.concat()),
        ],
    ) {
        match records::parse_line(&line) {
            Line::Seccomp(r) => prop_assert!(line.contains("audit(") && r.pid.to_string().len() <= 10),
            Line::Malformed(m) => prop_assert!(!m.is_empty()),
            Line::Suppressed(_) | Line::Lost(_) | Line::Other => {}
        }
        if let Some(k) = records::parse_kmsg(&line) {
            let _ = records::parse_line(&k.message);
        }
    }

    /// `/dev/kmsg` records with escapes cut short, next to multi-byte characters.
    #[e2e_macros::test]
    fn kmsg_records_never_panic(
        header in prop_oneof![Just("6,1,2,-;".to_owned()), "[0-9,;-]{0,12}", hostile_string()],
        body in prop::collection::vec(prop_oneof![
            Just("\\x".to_owned()), Just("\\".to_owned()), "[0-9a-fA-FxX]{1,2}", Just("é".to_owned()),
            Just("€".to_owned()), Just("😀".to_owned()), Just("\n".to_owned()), any::<char>().prop_map(String::from),
        ], 0..12),
    ) {
        let raw = format!("{header}{}", body.concat());
        if let Some(k) = records::parse_kmsg(&raw) {
            prop_assert!(!k.message.contains('\n'));
            let _ = records::parse_line(&k.message);
        }
    }

    /// A record as the kernel prints it (kmsg, dmesg, journal or auditd) parses back
    /// field by field, also through kmsg's escaping.
    #[e2e_macros::test]
    fn audit_records_round_trip(
        secs in 0i64..10_000_000_000,
        ms in 0i64..1000,
        serial in any::<u64>(),
        pid in any::<u32>(),
        comm in prop::option::of("\\PC{1,16}"),
        exe in prop::option::of("\\PC{1,40}"),
        audit_arch in prop_oneof![prop::sample::select(AUDIT_ARCHES.to_vec()), any::<u32>()],
        syscall in prop_oneof![0u64..600, any::<u64>()],
        code in prop_oneof![Just(0x7ffc_0000u32), Just(0x0005_0026), any::<u32>()],
        prefix in prop::sample::select(vec!["audit: ", "[ 3220.499496] audit: ", "Dec 02 15:22:09 host kernel: audit: ", ""]),
        auditd in any::<bool>(),
        seq in any::<u64>(),
        ts in any::<u64>(),
    ) {
        let mut fields = String::new();
        fields.push_str(&format!("auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid={pid}"));
        if let Some(c) = &comm {
            fields.push_str(&format!(" comm={}", audit_string(c)));
        }
        if let Some(e) = &exe {
            fields.push_str(&format!(" exe={}", audit_string(e)));
        }
        fields.push_str(&format!(" sig=0 arch={audit_arch:x} syscall={syscall} compat=0 ip=0x7efd3c0c7f37 code={code:#x}"));
        let line = if auditd {
            format!("type=SECCOMP msg=audit({secs}.{ms:03}:{serial}): {fields}\u{1d}ARCH=x86_64 SYSCALL=mkdir")
        } else {
            format!("{prefix}type=1326 audit({secs}.{ms:03}:{serial}): {fields}")
        };
        let want = AuditRecord {
            unix_ms: secs * 1000 + ms,
            serial,
            pid,
            comm: comm.clone(),
            exe: exe.clone(),
            audit_arch,
            syscall,
            action: SeccompRet::from_code(code),
        };
        prop_assert_eq!(records::parse_line(&line), Line::Seccomp(want.clone()));
        if let Some(a) = want.arch() {
            prop_assert_eq!(want.name(), a.name_of(syscall));
        }
        if !auditd {
            let raw = format!("5,{seq},{ts},-;{}\n SUBSYSTEM=x\n", kmsg_escape(&line));
            let k = records::parse_kmsg(&raw).expect("kmsg record");
            prop_assert_eq!((k.seq, k.ts_us), (seq, ts));
            prop_assert_eq!(&k.message, &line);
            prop_assert_eq!(records::parse_line(&k.message), Line::Seccomp(want));
        }
    }
}
