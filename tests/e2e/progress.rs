//! What a terminal user sees: the live status line of `record --cgroup` on a terminal
//! (a pty from util-linux `script`), none when stderr is a pipe, and the one-line
//! summary every `record` ends with; stdout stays the profile alone.

use std::path::Path;
use std::process::Command;

use crate::common::scratch::TestCgroup;
use crate::common::{bin, can_record, have, prerequisite, stderr, stdout};

/// A cgroup with a shell that keeps making calls (a `sleep` every 50 ms).
fn busy_cgroup(tag: &str) -> (TestCgroup, std::process::Child) {
    let cg = TestCgroup::new(tag);
    let child = cg.spawn(
        Path::new("/bin/sh"),
        &["-c", "while :; do sleep 0.05; done"],
    );
    (cg, child)
}

#[e2e_macros::test]
fn without_a_terminal_there_is_no_status_line_only_the_summary() {
    if !can_record() {
        return;
    }
    let (cg, mut child) = busy_cgroup("progress-pipe");
    let out = Command::new(bin())
        .args(["record", "--cgroup", &cg.relative(), "--duration", "1500ms"])
        .output()
        .expect("record");
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        !err.contains('\r') && !err.contains('\x1b'),
        "no redraws on a pipe: {err:?}"
    );
    assert!(!err.contains("calls since last"), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "seccomp-recorder: cgroup {}: stopped after 1.",
            cg.relative()
        )) && last.contains("(--duration reached)")
            && last.ends_with(" calls"),
        "summary: {last}"
    );
    // stdout is the profile and nothing else.
    let profile: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
}

#[e2e_macros::test]
fn on_a_terminal_the_status_line_is_redrawn_a_few_times_per_second() {
    if !can_record() || !prerequisite(have("script"), "script (util-linux)") {
        return;
    }
    let (cg, mut child) = busy_cgroup("progress-tty");
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("p.json");
    // script gives the recorder a pty for stdin/stdout/stderr; -e passes its exit code.
    let inner = format!(
        "{} record --cgroup {} --duration 2s -o {}",
        bin().display(),
        cg.relative(),
        profile.display()
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("script");
    let _ = child.kill();
    let _ = child.wait();
    let screen = stdout(&out);
    assert!(out.status.success(), "{screen}");
    let draws: Vec<&str> = screen
        .split('\r')
        .filter(|s| s.starts_with("seccomp-recorder: recording ") && s.contains("since last"))
        .collect();
    // 2 s at most every 250 ms: the first draw at once, then up to 8 more.
    assert!(
        (4..=10).contains(&draws.len()),
        "{} redraws in 2 s: {screen:?}",
        draws.len()
    );
    for d in &draws {
        assert!(
            d.contains(" calls, ") && d.contains(" distinct syscalls, +"),
            "{d:?}"
        );
    }
    // The counts grow while the shell runs.
    let calls = |d: &str| -> u64 {
        d.split(": ")
            .nth(2)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        calls(draws[draws.len() - 1]) > calls(draws[1]),
        "counts did not grow: {draws:?}"
    );
    // The line is cleared before the summary, which ends the output.
    assert!(screen.contains("\r\x1b[K"), "{screen:?}");
    let tail = screen.rsplit("\r\x1b[K").next().unwrap_or_default();
    assert!(
        tail.contains("stopped after 2.") && tail.contains("(--duration reached)"),
        "{tail:?}"
    );
    assert!(profile.exists(), "profile written");
}

#[e2e_macros::test]
fn record_of_a_command_ends_with_a_summary_on_stderr_and_the_profile_alone_on_stdout() {
    if !can_record() {
        return;
    }
    let out = Command::new(bin())
        .args(["record", "--", "/bin/true"])
        .output()
        .expect("record");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("seccomp-recorder: /bin/true: stopped after ")
            && last.contains("(exit 0)")
            && last.contains(" distinct syscalls, "),
        "summary: {err}"
    );
    assert!(!err.contains('\r'));
    let profile: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert!(profile["syscalls"].is_array());
}
