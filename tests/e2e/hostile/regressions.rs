//! Hostile input: regressions: the minimal inputs these properties found.

use super::*;

/// `unescape_kmsg` sliced `&s[i + 2..i + 4]` after a `\x` without checking that the
/// two bytes are characters: `\x€` panicked (byte index 4 is inside '€').
#[e2e_macros::test]
fn kmsg_escape_before_a_multibyte_character() {
    for raw in [
        "6,1,2,-;\\x€",
        "6,1,2,-;\\x1é",
        "6,1,2,-;\\x😀",
        "6,1,2,-;\\xé",
    ] {
        let k = records::parse_kmsg(raw).expect("a record");
        assert!(k.message.starts_with("\\x"), "{raw}: {:?}", k.message);
    }
}

/// An annotation value with a line break was printed as is: two lines on stderr and
/// a forged line in the hook log (`'a` + `\n` + `INFO ... profile written'`).
#[e2e_macros::test]
fn line_breaks_in_annotations_stay_on_one_line() {
    let p = planted();
    let log = p.out.parent().expect("tmp").join("hook.log");
    let run_dir = p.out.parent().expect("tmp").join("run");
    let state = serde_json::json!({"id": "ctr", "status": "created", "annotations": {
        annotations::OUTPUT: "x.json",
        annotations::FORMAT: "yaml\nINFO seccomp_recorder::session::hook: profile written id=other"}});
    let o = run_hook_binary(
        &serde_json::to_vec(&state).expect("json"),
        &p.out,
        &log,
        &run_dir,
    );
    assert_eq!(o.status.code(), Some(66));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("'yaml\\nINFO seccomp_recorder::session::hook"),
        "{stderr}"
    );
    let logged = std::fs::read_to_string(&log).expect("hook log");
    assert_eq!(logged.lines().count(), 1, "{logged}");
}

/// `unescape_mountinfo` pushed each byte as a `char` (`/sys/fs/cgroup/ü` came back as
/// `/sys/fs/cgroup/Ã¼`) and could slice inside a character after a `\`; fields were
/// split at any blank, also one inside a mount point (a vertical tab).
#[e2e_macros::test]
fn mountinfo_mount_points_that_are_not_ascii() {
    for mount in ["/sys/fs/cgroup/ü", "/run/c g\u{b}2", "/x\\y", "/\\é"] {
        let line = format!(
            "36 25 0:30 / {} rw shared:9 - cgroup2 cgroup2 rw\n",
            mountinfo_escape(mount)
        );
        assert_eq!(
            seccomp_recorder::kernel::cgroup::cgroup2_mount_from_mountinfo(&line),
            Some(PathBuf::from(mount)),
            "{line:?}"
        );
    }
    // Raw text with a backslash before a multi-byte character: no panic.
    let _ = seccomp_recorder::kernel::cgroup::cgroup2_mount_from_mountinfo(
        "36 25 0:30 / /a\\1é rw - cgroup2 cgroup2 rw\n",
    );
}

/// `of: /x.json` (a blank after the colon) gave the output ` /x.json`: a relative path,
/// so the profile went to `<output dir>/ /x.json` instead of `/x.json`.
#[e2e_macros::test]
fn blanks_after_of_and_if_are_not_part_of_the_path() {
    let anns = HashMap::from([(
        annotations::TRACE_SYSCALL.to_owned(),
        "if: /b.json ; of:\t/o.json".to_owned(),
    )]);
    let r = annotations::parse(&anns).expect("valid").expect("asked");
    assert_eq!(
        (r.output.as_str(), r.base.as_deref()),
        ("/o.json", Some("/b.json"))
    );
    let blank = HashMap::from([(annotations::TRACE_SYSCALL.to_owned(), "of: ".to_owned())]);
    assert!(matches!(
        annotations::parse(&blank),
        Err(AnnotationError::BadTraceSyscall { .. })
    ));
}
