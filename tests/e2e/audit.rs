//! Audit mode with the real kernel: a workload runs under the LOG twin of a recorded
//! profile that lacks `mkdir` (`audit-profile`), completes, and `audit-report` names
//! what the profile would have denied, with the process; a run that stays within the
//! profile reports nothing. Once with `enforce` on the host, once with podman + crun.
//!
//! The kernel writes SCMP_ACT_LOG records to the audit subsystem; without a registered
//! audit daemon, kauditd prints them to the kernel log (`/dev/kmsg`), rate-limited by
//! printk_ratelimit (here 10 per 5 s). These tests make a handful of records.

use crate::common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::podman::PodmanEnv;
use common::*;

/// The kernel logs SCMP_ACT_LOG calls and this process can read them.
fn can_audit() -> bool {
    let logged = fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    prerequisite(
        logged.split_whitespace().any(|a| a == "log"),
        &format!(
            "kernel.seccomp.actions_logged must include 'log' (it is '{}'): without it the kernel writes no record of SCMP_ACT_LOG calls",
            logged.trim()
        ),
    ) && prerequisite(
        fs::File::open("/dev/kmsg").is_ok() || Path::new("/var/log/audit/audit.log").exists(),
        "a readable /dev/kmsg (root or CAP_SYSLOG) or auditd's /var/log/audit/audit.log",
    )
}

/// Now, as a unix timestamp with milliseconds, one second early: the records' stamps
/// come from the kernel's coarse clock, which may lag a few milliseconds.
fn just_before() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    format!("{:.3}", now.as_secs_f64() - 1.0)
}

fn text(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Records `sh -c SCRIPT` (`sh` being `shell`) into `out` with `record`.
fn record_profile(out: &Path, runtime: &str, shell: &str, script: &str) {
    let o = run(&[
        "record",
        "--runtime",
        runtime,
        "-o",
        text(out),
        "--",
        shell,
        "-c",
        script,
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    let allowed = allowed_names(out);
    for missing in ["mkdir", "mkdirat", "umask"] {
        assert!(
            !allowed.contains(&missing.to_owned()),
            "the recorded profile must lack {missing} for this test: {allowed:?}"
        );
    }
}

/// `audit-profile IN -o OUT`, checked: the denials became SCMP_ACT_LOG.
fn twin_of(profile: &Path, twin: &Path) {
    let o = run(&["audit-profile", text(profile), "-o", text(twin)]);
    assert!(o.status.success(), "audit-profile: {}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(twin).expect("read twin")).expect("twin json");
    assert_eq!(v["defaultAction"], "SCMP_ACT_LOG", "{v}");
    assert!(v.get("defaultErrnoRet").is_none(), "{v}");
    for rule in v["syscalls"].as_array().expect("rules") {
        assert!(
            ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"].contains(&rule["action"].as_str().unwrap_or("")),
            "a rule still denies: {rule}"
        );
    }
}

/// `audit-report ARGS --format json`: (exit code, JSON, stderr).
fn report(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["audit-report", "--format", "json"];
    all.extend_from_slice(args);
    let o = run_env(&all, env);
    let code = o.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (code, v, stderr(&o))
}

/// Polls `audit-report` until it names every one of `names` (kauditd prints records
/// asynchronously). `Err` with what it said when they do not come within 3 s: the
/// printk rate limit, shared by the whole kernel, may have dropped them.
fn report_until(
    args: &[&str],
    env: &[(&str, &str)],
    names: &[&str],
) -> Result<serde_json::Value, String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (code, v, err) = report(args, env);
        let named: Vec<&str> = v["new"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["name"].as_str()).collect())
            .unwrap_or_default();
        if code == 1 && names.iter().all(|n| named.contains(n)) {
            return Ok(v);
        }
        assert!(
            code == 0 || code == 1,
            "audit-report {args:?}: exit {code}: {err}"
        );
        if Instant::now() > deadline {
            return Err(format!(
                "audit-report {args:?} did not name {names:?} (exit {code}): {v} {err}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether a report warns that the printk rate limit dropped records: then "nothing
/// would have been denied" proves nothing.
fn rate_limited(v: &serde_json::Value) -> bool {
    v["warnings"].as_array().is_some_and(|w| {
        w.iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("rate limit")))
    })
}

/// Runs `attempt` up to 3 times: an `Err` means the kernel's records were incomplete
/// (rate-limited), and the next attempt waits for a fresh rate-limit interval first.
fn with_retries(mut attempt: impl FnMut(usize) -> Result<(), String>) {
    let interval: u64 = fs::read_to_string("/proc/sys/kernel/printk_ratelimit")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(5);
    let mut why = Vec::new();
    for n in 0..3 {
        match attempt(n) {
            Ok(()) => return,
            Err(e) => why.push(e),
        }
        std::thread::sleep(Duration::from_secs(interval + 1));
    }
    let log = std::process::Command::new("dmesg")
        .output()
        .map(|o| stdout(&o))
        .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    panic!(
        "the kernel's seccomp records did not show up in 3 attempts:\n{}\nthe kernel log ends with:\n{}\nIf no 'type=1326' record is there: is an audit daemon registered (records then go to its log), is kernel.seccomp.actions_logged without log, or is the printk rate limit (kernel.printk_ratelimit, kernel.printk_ratelimit_burst) used up by other messages?",
        why.join("\n"),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

/// The finding for `name` in a report.
fn finding<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["new"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no finding for {name}: {v}"))
}

fn pid_in(file: &Path) -> String {
    fs::read_to_string(file)
        .expect("pid file")
        .trim()
        .to_owned()
}

#[e2e_macros::test]
fn enforce_under_the_log_twin_runs_mkdir_and_reports_it() {
    if !can_record() || !can_audit() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // mkdir the program runs, but not the mkdir syscall: `mkdir --version`.
    let script = |pid_file: &str, what: &str| {
        format!(
            "echo $$ > {}/{pid_file}; exec /usr/bin/mkdir {what}",
            d.display()
        )
    };
    let profile = d.join("p.json");
    record_profile(&profile, "none", "sh", &script("pid.rec", "--version"));
    let twin = d.join("p.audit.json");
    twin_of(&profile, &twin);

    with_retries(|n| {
        let since = just_before();
        let (ok_file, new_file) = (format!("pid.ok{n}"), format!("pid.new{n}"));
        // Within the profile: the same workload.
        let o = run(&[
            "enforce",
            "--profile",
            text(&twin),
            "--",
            "sh",
            "-c",
            &script(&ok_file, "--version"),
        ]);
        assert!(o.status.success(), "enforce (no mkdir): {}", stderr(&o));
        // The profile lacks mkdir: under the twin, mkdir succeeds and is logged.
        let new_dir = d.join(format!("new{n}"));
        let o = run(&[
            "enforce",
            "--profile",
            text(&twin),
            "--",
            "sh",
            "-c",
            &script(&new_file, text(&new_dir)),
        ]);
        assert!(o.status.success(), "enforce (mkdir): {}", stderr(&o));
        assert!(new_dir.is_dir(), "mkdir did not succeed under the twin");

        let pid = pid_in(&d.join(&new_file));
        let v = report_until(&["--since", &since, "--pid", &pid], &[], &["mkdir"])?;
        let f = finding(&v, "mkdir");
        assert_eq!(f["arch"], "SCMP_ARCH_X86_64", "{v}");
        assert_eq!(f["nr"], 83, "{v}");
        assert_eq!(f["count"], 1, "{v}");
        assert_eq!(f["first"]["comm"], "mkdir", "{v}");
        assert_eq!(f["first"]["pid"].to_string(), pid, "{v}");
        assert_eq!(v["ok"], false);
        // The text output says the same, and so does a selection by name.
        let o = run(&[
            "audit-report",
            "--since",
            &since,
            "--comm",
            "mkdir",
            "--pid",
            &pid,
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains(&format!(
                "  SCMP_ARCH_X86_64 mkdir (nr 83): 1 call, first by mkdir (pid {pid}, /usr/bin/mkdir) at "
            )),
            "{out}"
        );
        assert!(
            out.ends_with("FAIL: 1 syscall(s) would have been denied\n"),
            "{out}"
        );

        // Nothing missing: exit 0 (its records, if any, would come before mkdir's).
        let ok_pid = pid_in(&d.join(&ok_file));
        let (code, v, err) = report(&["--since", &since, "--pid", &ok_pid], &[]);
        if rate_limited(&v) {
            return Err(format!("records were rate-limited: {v}"));
        }
        assert_eq!(code, 0, "{v} {err}");
        assert_eq!(v["ok"], true);
        assert_eq!(v["new"], serde_json::json!([]));
        Ok(())
    });
}

/// The heal loop: a workload under the LOG twin calls something new (mkdir);
/// `audit-report --propose` writes the baseline plus that call, and the workload then
/// runs enforced under the proposal (it fails under the baseline).
#[e2e_macros::test]
fn audit_report_proposes_a_profile_the_workload_then_runs_under_enforced() {
    if !can_record() || !can_audit() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let script = |pid_file: &str, what: &str| {
        format!(
            "echo $$ > {}/{pid_file}; exec /usr/bin/mkdir {what}",
            d.display()
        )
    };
    let profile = d.join("p.json");
    record_profile(&profile, "none", "sh", &script("pid.rec", "--version"));
    let twin = d.join("p.audit.json");
    twin_of(&profile, &twin);
    let enforce = |p: &Path, pid_file: &str, new_dir: &Path| {
        run(&[
            "enforce",
            "--profile",
            text(p),
            "--",
            "sh",
            "-c",
            &script(pid_file, text(new_dir)),
        ])
    };

    with_retries(|n| {
        let since = just_before();
        let pid_file = format!("pid.twin{n}");
        let o = enforce(&twin, &pid_file, &d.join(format!("twin{n}")));
        assert!(o.status.success(), "enforce (twin): {}", stderr(&o));
        let pid = pid_in(&d.join(&pid_file));
        report_until(&["--since", &since, "--pid", &pid], &[], &["mkdir"])?;

        let proposed = d.join(format!("p.proposed{n}.json"));
        let (code, v, err) = report(
            &[
                "--since",
                &since,
                "--pid",
                &pid,
                "--baseline",
                text(&profile),
                "--propose",
                text(&proposed),
            ],
            &[],
        );
        assert_eq!(code, 1, "{v} {err}");
        let added = &v["proposal"]["added"];
        assert!(
            added
                .as_array()
                .expect("added")
                .iter()
                .any(|a| a["name"] == "mkdir" && a["arch"] == "SCMP_ARCH_X86_64"),
            "{v}"
        );
        assert_eq!(v["proposal"]["held_back"], serde_json::json!([]), "{v}");
        assert_eq!(v["proposal"]["output"], text(&proposed), "{v}");
        let allowed = allowed_names(&proposed);
        assert!(allowed.iter().any(|a| a == "mkdir"), "{allowed:?}");
        // Everything the baseline allowed is still allowed.
        for name in allowed_names(&profile) {
            assert!(allowed.contains(&name), "{name} lost: {allowed:?}");
        }

        // Enforced: the baseline still denies mkdir, the proposal lets it run.
        let denied_dir = d.join(format!("base{n}"));
        let o = enforce(&profile, &format!("pid.base{n}"), &denied_dir);
        assert!(!o.status.success(), "mkdir ran under the baseline");
        assert!(!denied_dir.exists());
        let healed_dir = d.join(format!("healed{n}"));
        let o = enforce(&proposed, &format!("pid.healed{n}"), &healed_dir);
        assert!(o.status.success(), "enforce (proposal): {}", stderr(&o));
        assert!(healed_dir.is_dir(), "mkdir did not run under the proposal");
        Ok(())
    });
}

/// Opens the FIFO for writing without blocking (the container must be reading it)
/// and writes a line: the container goes on.
fn release(fifo: &Path) {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .unwrap_or_else(|e| panic!("nobody reads {}: {e}", fifo.display()));
    f.write_all(b"go\n").expect("write fifo");
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(text(path)).expect("no NUL");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o666) },
        0,
        "mkfifo {}",
        path.display()
    );
}

#[e2e_macros::test]
fn podman_under_the_log_twin_runs_mkdir_and_reports_it() {
    if !can_record() || !can_audit() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let d = env.dir().to_owned();
    let sync = d.join("sync");
    fs::create_dir(&sync).expect("sync dir");
    // Recorded on the host with the rootfs's busybox; the profile gets the runtimes'
    // start-up calls (--runtime any). It reads a line, then runs `true`.
    let busybox_sh = env.rootfs().join("bin/sh");
    let profile = d.join("p.json");
    record_profile(
        &profile,
        "any",
        text(&busybox_sh),
        &format!(
            "read x < /dev/null; exec {}",
            text(&env.rootfs().join("bin/true"))
        ),
    );
    let twin = d.join("p.audit.json");
    twin_of(&profile, &twin);
    let seccomp = format!("seccomp={}", text(&twin));
    let volume = format!("{}:/sync", text(&sync));
    let env_vars: Vec<(&str, &str)> = env
        .env_vars()
        .iter()
        .map(|(k, v)| (*k, v.to_str().expect("utf8")))
        .collect();

    // Each container waits on a FIFO, so that its init's host pid can be asked first.
    let start = |name: &str, fifo: &str, script: &str| -> String {
        mkfifo(&sync.join(fifo));
        let o = env.run_keep(
            &[
                "-d",
                "--name",
                name,
                "-v",
                &volume,
                "--security-opt",
                &seccomp,
            ],
            &["sh", "-c", script],
        );
        assert!(o.status.success(), "podman run {name}: {}", stderr(&o));
        let o = env.podman(&["inspect", "--format", "{{.State.Pid}}", name]);
        assert!(o.status.success(), "podman inspect: {}", stderr(&o));
        let pid = stdout(&o).trim().to_owned();
        assert!(
            pid.parse::<u32>().is_ok_and(|p| p > 0),
            "pid of {name}: {pid}"
        );
        pid
    };
    let finish = |name: &str, fifo: &str| {
        release(&sync.join(fifo));
        let o = env.podman(&["wait", name]);
        assert!(o.status.success(), "podman wait: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "0", "{name} failed under the twin");
    };

    with_retries(|n| {
        let since = just_before();
        let (ok_name, new_name) = (format!("audit-ok{n}"), format!("audit-new{n}"));
        // Within the profile: the recorded workload.
        let ok_pid = start(
            &ok_name,
            &format!("go-ok{n}"),
            &format!("read x < /sync/go-ok{n}; exec /bin/true"),
        );
        finish(&ok_name, &format!("go-ok{n}"));
        // Outside it: the shell itself calls umask (and keeps running), then mkdir.
        let pid = start(
            &new_name,
            &format!("go-new{n}"),
            &format!("umask 077; read x < /sync/go-new{n}; exec /bin/mkdir /sync/new{n}"),
        );
        // While it runs, its processes are found by the container's cgroup.
        let running = report_until(
            &["--since", &since, "--container", &new_name],
            &env_vars,
            &["umask"],
        );
        finish(&new_name, &format!("go-new{n}"));
        assert!(
            sync.join(format!("new{n}")).is_dir(),
            "mkdir did not succeed under the twin"
        );
        let v = running?;
        let f = finding(&v, "umask");
        assert_eq!(f["first"]["comm"], "sh", "{v}");
        assert_eq!(f["first"]["pid"].to_string(), pid, "{v}");
        assert_eq!(v["new"].as_array().map(Vec::len), Some(1), "{v}");

        let v = report_until(
            &["--since", &since, "--pid", &pid],
            &[],
            &["mkdir", "umask"],
        )?;
        let f = finding(&v, "mkdir");
        assert_eq!(f["arch"], "SCMP_ARCH_X86_64", "{v}");
        assert_eq!(f["nr"], 83, "{v}");
        assert_eq!(f["first"]["comm"], "mkdir", "{v}");
        assert_eq!(f["first"]["pid"].to_string(), pid, "{v}");
        let o = run(&[
            "audit-report",
            "--since",
            &since,
            "--comm",
            "mkdir",
            "--pid",
            &pid,
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!(
                "  SCMP_ARCH_X86_64 mkdir (nr 83): 1 call, first by mkdir (pid {pid}, /bin/busybox) at "
            )),
            "{}",
            stdout(&o)
        );
        // Once the container is gone, --container cannot place it any more.
        let (code, _, err) = report(&["--since", &since, "--container", &new_name], &env_vars);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is not running"), "{err}");

        // Nothing missing: crun's start-up and the workload stayed within the profile.
        let (code, v, err) = report(&["--since", &since, "--pid", &ok_pid], &[]);
        if rate_limited(&v) {
            return Err(format!("records were rate-limited: {v}"));
        }
        assert_eq!(code, 0, "{v} {err}");
        assert_eq!(v["new"], serde_json::json!([]));
        Ok(())
    });
}

#[e2e_macros::test]
fn a_recording_is_refused_as_input_and_bad_times_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("a.stats.json");
    fs::write(
        &stats,
        r#"{"syscalls":[{"arch":"SCMP_ARCH_X86_64","nr":0,"name":"read","count":1}]}"#,
    )
    .expect("write");
    let o = run(&["audit-profile", text(&stats), "-o", "-"]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is a stats file, not a seccomp profile"),
        "{err}"
    );
    let o = run(&["audit-report", "--since", "yesterday"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--since 'yesterday'"), "{}", stderr(&o));
}
