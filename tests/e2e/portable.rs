//! Variants of one call (`--portable`), for real: one C program
//! (tests/fixtures/libc_variants.c) built against glibc (gcc) and statically against
//! musl (musl-gcc, Debian musl-tools). The two libcs make different syscalls for the
//! same library calls (glibc `newfstatat`, `openat`, `pipe2`, `pselect6`, `clone`,
//! `write`; musl `stat`/`lstat`/`fstat`, `open`, `pipe`, `select`, `fork`, `writev`).
//! Recorded with glibc, the musl build fails under the profile (its first variant,
//! `stat`, is denied: exit 10) and runs under the profile recorded with `--portable`:
//! with `enforce` (recorded with `--runtime none`, so no runtime tail brings anything)
//! and in podman + crun (recorded by the hook with `seccomp-recorder.io/portable`).
//! `check` lists musl's calls as variants of glibc's, in JSON and in markdown.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::installed::Installed;
use common::podman::PodmanEnv;
use common::*;

/// What musl calls where glibc calls a sibling, with that sibling (x86_64).
const MUSL_VARIANTS: [(&str, &str); 8] = [
    ("fork", "clone"),
    ("fstat", "newfstatat"),
    ("lstat", "newfstatat"),
    ("open", "openat"),
    ("pipe", "pipe2"),
    ("select", "pselect6"),
    ("stat", "newfstatat"),
    ("writev", "write"),
];

fn text(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Builds the program with `compiler` and `flags` into `dir/name`.
fn build(dir: &Path, compiler: &str, flags: &[&str], name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/libc_variants.c");
    let exe = dir.join(name);
    let o = Command::new(compiler)
        .args(flags)
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{compiler}: {e}"));
    assert!(o.status.success(), "{compiler} {name}: {}", stderr(&o));
    exe
}

/// The glibc build (`glibc_flags`, e.g. `-static` for a bare rootfs) and the static
/// musl build, or `None` when a compiler is missing (skipped; a failure under CI).
fn builds(dir: &Path, glibc_flags: &[&str]) -> Option<(PathBuf, PathBuf)> {
    if !prerequisite(have("gcc"), "gcc (apt-get install gcc libc6-dev)")
        || !prerequisite(have("musl-gcc"), "musl-gcc (apt-get install musl-tools)")
    {
        return None;
    }
    Some((
        build(dir, "gcc", glibc_flags, "glibc"),
        build(dir, "musl-gcc", &["-static"], "musl"),
    ))
}

/// The recorded glibc profile must lack the musl variants (but those in `tail`, which
/// a runtime tail brings) and have glibc's own, else the test proves nothing.
fn assert_glibc_only(profile: &Path, tail: &[&str]) {
    let allowed = allowed_names(profile);
    for (musl, glibc) in MUSL_VARIANTS {
        assert!(
            tail.contains(&musl) || !allowed.iter().any(|n| n == musl),
            "the glibc recording allows {musl}: {allowed:?}"
        );
        assert!(
            allowed.iter().any(|n| n == glibc),
            "the glibc recording lacks {glibc}: {allowed:?}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[e2e_macros::test]
fn a_glibc_recording_runs_the_musl_build_under_enforce_only_when_portable() {
    if !can_record() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let Some((glibc, musl)) = builds(d, &[]) else {
        return;
    };
    let record = |out: &Path, report: &Path, prog: &Path, portable: bool| {
        let mut args = vec!["record", "--runtime", "none"];
        if portable {
            args.push("--portable");
        }
        args.extend(["-o", text(out), "--report", text(report), "--", text(prog)]);
        let o = run(&args);
        assert!(o.status.success(), "record {args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "ok\n");
    };
    let (plain, portable) = (d.join("glibc.json"), d.join("glibc.portable.json"));
    record(&plain, &d.join("glibc.report.json"), &glibc, false);
    record(&portable, &d.join("glibc.p.report.json"), &glibc, true);
    assert_glibc_only(&plain, &[]);
    let allowed = allowed_names(&portable);
    for (musl_name, _) in MUSL_VARIANTS {
        assert!(
            allowed.iter().any(|n| n == musl_name),
            "--portable did not add {musl_name}: {allowed:?}"
        );
    }
    assert!(!allowed.iter().any(|n| n == "clone3"), "{allowed:?}");

    // Without --portable: musl's stat is denied (ENOSYS), the program stops there
    // with exit 10 (its perror says nothing: musl writes it with writev, denied too).
    let o = run(&["enforce", "--profile", text(&plain), "--", text(&musl)]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    // With it: every step runs.
    let o = run(&["enforce", "--profile", text(&portable), "--", text(&musl)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok\n");

    // check: musl's calls are variants of what the glibc profile allows, not new.
    let musl_report = d.join("musl.report.json");
    record(&d.join("musl.json"), &musl_report, &musl, false);
    let check = |baseline: &Path, format: &str| {
        run(&[
            "check",
            "--runtime",
            "none",
            "--format",
            format,
            "--baseline",
            text(baseline),
            text(&musl_report),
        ])
    };
    let o = check(&plain, "json");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check json");
    let variants: Vec<(String, String)> = v["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or("").to_owned(),
                f["variant_of"][0].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (musl_name, glibc_name) in MUSL_VARIANTS {
        assert!(
            variants.contains(&(musl_name.to_owned(), glibc_name.to_owned())),
            "{musl_name} is not listed as a variant of {glibc_name}: {v}"
        );
        assert!(
            !v["new"]
                .as_array()
                .expect("new")
                .iter()
                .any(|f| f["name"] == musl_name),
            "{musl_name} listed as new: {v}"
        );
    }
    // What musl calls that glibc does not call at all is new (musl's fork blocks
    // signals; its open sets O_CLOEXEC again with fcntl): exit 1 wins over 4.
    assert_eq!(o.status.code(), Some(1), "{v}");

    // The markdown of the same check, for a pull-request comment.
    let o = check(&plain, "markdown");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = stdout(&o);
    let new = v["new"].as_array().expect("new").len();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], format!("## seccomp check: `{}`", plain.display()));
    assert_eq!(
        lines[2],
        format!(
            "**FAIL** (exit 1): {new} new syscall(s) and {} variant(s).",
            variants.len()
        )
    );
    assert!(
        md.contains("### New: not allowed by the baseline\n\n| arch | syscall | calls | first process |\n|---|---|---:|---|\n"),
        "{md}"
    );
    assert!(
        md.contains("### Variants of calls the baseline allows\n\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "| arch | syscall | variant of | calls | first process |\n|---|---|---|---:|---|\n"
        ),
        "{md}"
    );
    for (musl_name, glibc_name) in MUSL_VARIANTS {
        let row = format!("| SCMP_ARCH_X86_64 | `{musl_name}` | `{glibc_name}` | ");
        let line = md
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row {row}: {md}"));
        // calls, then the first process: the musl program itself.
        assert!(line.contains(" | musl (pid "), "{line}");
    }

    // Against the portable profile nothing of them is missing.
    let o = check(&portable, "json");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check json");
    assert_eq!(v["variants"], serde_json::json!([]), "{v}");
}

#[cfg(target_arch = "x86_64")]
#[e2e_macros::test]
fn a_glibc_recording_runs_the_musl_build_in_podman_only_when_portable() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let Some((glibc, musl)) = builds(env.dir(), &["-static"]) else {
        return;
    };
    for (exe, name) in [(&glibc, "glibc-prog"), (&musl, "musl-prog")] {
        fs::copy(exe, env.rootfs().join("bin").join(name)).expect("copy into the rootfs");
    }
    let inst = Installed::new(env.dir(), env.hooks_dir(), "portable");

    // The hook records the glibc build, once with the annotation.
    for (out, portable) in [("glibc.json", "false"), ("glibc.portable.json", "true")] {
        let o = env.run(
            &[
                "--annotation",
                &format!("seccomp-recorder.io/output={out}"),
                "--annotation",
                &format!("seccomp-recorder.io/portable={portable}"),
            ],
            &["/bin/glibc-prog"],
        );
        assert!(o.status.success(), "record: {}\n{}", stderr(&o), inst.log());
        assert_eq!(stdout(&o), "ok\n");
    }
    let plain = inst.out.join("glibc.json");
    let portable = inst.out.join("glibc.portable.json");
    // runc's start-up tail (in every hook profile by default) has fstat.
    assert_glibc_only(&plain, &["fstat"]);

    let enforce = |profile: &Path| {
        env.run(
            &["--security-opt", &format!("seccomp={}", profile.display())],
            &["/bin/musl-prog"],
        )
    };
    // Exit 10: musl's stat is denied (see the enforce test).
    let o = enforce(&plain);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let o = enforce(&portable);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok\n");
}
