//! podman + crun with the hook: gc finishing a container whose poststop never ran; exact stats and merged base profiles.

use super::*;

/// Requirement 5: a container whose poststop never ran (prestart-only hooks) gets its
/// profile from `seccomp-recorder gc`, which also detaches the program.
#[e2e_macros::test]
fn gc_writes_the_profile_of_a_container_whose_poststop_never_ran() {
    if !can_record() || !prerequisite(have("bpftool"), "bpftool (apt-get install bpftool)") {
        return;
    }
    let Some(r) = Recorder::new("gc") else {
        return;
    };
    let poststop = r.env.hooks_dir().join("seccomp-recorder-poststop.json");
    fs::remove_file(&poststop).expect("remove the poststop hook");
    let profile = r.profile("gc.json");
    let out_ann = ann(OUTPUT, "gc.json");
    r.ok(
        &r.env.run_keep(
            &[
                "-d",
                "--name",
                "gc",
                "--tmpfs",
                "/tmp",
                "--annotation",
                &out_ann,
            ],
            &[
                "sh",
                "-c",
                "ls / > /dev/null; sync; echo ready; trap 'exit 0' TERM; \
                 while :; do usleep 20000; done",
            ],
        ),
        "recording run",
    );
    r.wait_for_output("gc", "ready");
    let pin = r.pin_dir().expect("pin dir");
    let prog = prog_id(&pin.join("prog"));
    assert!(r.link_pinned(), "not attached while recording");
    assert_eq!(links_of(prog), 1, "one link while recording");
    let states = r.state_files();
    assert_eq!(states.len(), 1, "{states:?}");
    let state: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(r.run.join("recordings").join(&states[0])).expect("state"),
    )
    .expect("state json");
    let cgroup = PathBuf::from(state["cgroup_dir"].as_str().expect("cgroup_dir"));
    let id = state["id"].as_str().expect("id").to_owned();

    assert_eq!(r.stop("gc"), 0);
    r.podman_ok(&["rm", "gc"]);
    assert!(!cgroup.exists(), "cgroup {cgroup:?} still there");
    assert!(!profile.exists(), "profile written without poststop");
    assert!(
        r.link_pinned(),
        "detached without anyone finishing the recording"
    );

    let o = r.cli().arg("gc").output().expect("gc");
    r.ok(&o, "seccomp-recorder gc");
    assert!(
        stdout(&o).contains(&format!("finished {id}")),
        "{}",
        stdout(&o)
    );
    let got = names(&profile);
    for want in ["getdents64", "sync", "clock_nanosleep", "exit_group"] {
        assert!(got.contains(want), "{want} missing from {got:?}");
    }
    for setup in RUNTIME_SETUP {
        assert!(!got.contains(setup), "{setup} in {got:?}");
    }
    r.assert_idle("after gc");
    assert_eq!(links_of(prog), 0, "program {prog} still attached after gc");
}

/// Requirement 6: `seccomp-recorder.io/stats` counts exactly; `if:BASE;of:OUT` and
/// `seccomp-recorder.io/base` merge the base profile's syscalls.
#[e2e_macros::test]
fn stats_are_exact_and_base_profiles_are_merged() {
    let Some(r) = Recorder::new("stats") else {
        return;
    };
    const N: u64 = 37;
    let (out_ann, stats_ann) = (
        ann(OUTPUT, "counted.json"),
        ann(STATS, "counted.stats.json"),
    );
    let script = format!("i=0; while [ $i -lt {N} ]; do sync; mkfifo /tmp/p$i; i=$((i+1)); done");
    let o = r.env.run(
        &[
            "--tmpfs",
            "/tmp",
            "--annotation",
            &out_ann,
            "--annotation",
            &stats_ann,
        ],
        &["sh", "-c", &script],
    );
    r.ok(&o, "counted run");
    let stats = read_stats(&r.profile("counted.stats.json"));
    let count = |name: &str| -> u64 {
        stats
            .iter()
            .filter(|(_, n, _)| n == name)
            .map(|(_, _, c)| c)
            .sum()
    };
    assert_eq!(count("sync"), N, "{stats:?}");
    assert_eq!(count("mknodat"), N, "{stats:?}");
    let allowed = names(&r.profile("counted.json"));
    for (_, name, c) in &stats {
        assert!(*c > 0, "{name} listed with count 0");
        assert!(allowed.contains(name), "{name} counted but not allowed");
    }

    // Base profiles: one allowing syslog, which the workload never calls.
    fs::create_dir_all(&r.out).expect("output dir");
    let base = r.profile("base.json");
    let arch = if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else {
        "SCMP_ARCH_AARCH64"
    };
    let text = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": [arch],
        "syscalls": [{"names": ["syslog"], "action": "SCMP_ACT_ALLOW"}],
    })
    .to_string();
    fs::write(&base, &text).expect("write base");
    let legacy = ann(
        TRACE_SYSCALL,
        &format!(
            "if:{};of:{}",
            base.display(),
            r.profile("merged.json").display()
        ),
    );
    let (ours_out, ours_base) = (ann(OUTPUT, "merged2.json"), ann(BASE, "base.json"));
    for (opts, out) in [
        (vec!["--annotation", legacy.as_str()], "merged.json"),
        (
            vec!["--annotation", &ours_out, "--annotation", &ours_base],
            "merged2.json",
        ),
    ] {
        r.ok(&r.env.run(&opts, &["ls", "/"]), out);
        let got = names(&r.profile(out));
        assert!(got.contains("syslog"), "{out}: base not merged: {got:?}");
        assert!(got.contains("getdents64"), "{out}: recording lost: {got:?}");
    }
    assert_eq!(
        fs::read_to_string(&base).expect("base"),
        text,
        "base changed"
    );
    r.assert_idle("after the recordings");
}
