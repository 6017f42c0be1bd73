//! Kubernetes through the CRI of a real containerd (tests/e2e/common/containerd.rs, a
//! mini-kubelet): pods found by name with `record --pod`, profiles applied the way the
//! kubelet applies a Localhost profile (`CreateContainer` with
//! `security_context.seccomp = {Localhost, <absolute path>}`, compiled by containerd's
//! own seccomp loader), and the errors of a wrong name or a wrong socket.

use crate::attach::Attached;
use crate::common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::containerd::{ContainerSpec, CriEnv, Seccomp};
use common::everywhere;
use common::*;

/// How long a container of these tests may run.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// `sh -c` that waits for `/share/NAME/go`, then execs `then`.
fn wait_then(name: &str, then: &str) -> String {
    format!("until [ -e /share/{name}/go ]; do sleep 0.05; done; exec {then}")
}

/// The recorder of a pod: `record --pod NAME -n NS [--container C] -o/--stats/--report`
/// into `dir`, named `tag`.
fn record_pod(
    env: &CriEnv,
    dir: &Path,
    tag: &str,
    pod: &str,
    ns: &str,
    container: Option<&str>,
) -> Attached {
    let out = |ext: &str| dir.join(format!("{tag}.{ext}")).display().to_string();
    let (o, s, r) = (out("json"), out("stats.json"), out("report.json"));
    let ep = env.endpoint();
    let mut args = vec![
        "--pod",
        pod,
        "-n",
        ns,
        "--cri-endpoint",
        &ep,
        "-o",
        &o,
        "--stats",
        &s,
        "--report",
        &r,
    ];
    if let Some(c) = container {
        args.extend(["--container", c]);
    }
    Attached::start(&args, &[])
}

#[e2e_macros::test]
fn a_pod_recorded_by_name_counts_each_containers_calls_exactly() {
    if !can_record() || !prerequisite(have("as") && have("ld"), "binutils (as, ld)") {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("count");
    // Two markers no busybox applet makes: sched_yield in one container, getcpu in
    // the other, each an exact number of times after the recorders attached. Each
    // container runs its marker twice: once for the per-container recordings, once
    // for the whole pod's (a process counts in one recording only: they cannot nest).
    asm_program(&share, "app-marker", &[Step::Syscall64 { nr: 24, n: 3000 }]);
    asm_program(
        &share,
        "side-marker",
        &[Step::Syscall64 { nr: 309, n: 2000 }],
    );
    let script = |who: &str| {
        format!(
            "until [ -e /share/count/go1 ]; do sleep 0.05; done; /share/count/{who}-marker; \
             touch /share/count/{who}-done; \
             until [ -e /share/count/go2 ]; do sleep 0.05; done; exec /share/count/{who}-marker"
        )
    };
    let pod = env.run_pod("web", "shop");
    let app = pod.start(&ContainerSpec::shell("app", &script("app")));
    let side = pod.start(&ContainerSpec::shell("side", &script("side")));
    let out = tempfile::tempdir().expect("tempdir");

    let mut only_app = record_pod(env, out.path(), "app", "web", "shop", Some("app"));
    let mut only_side = record_pod(env, out.path(), "side", "web", "shop", Some("side"));
    let line = only_app.wait_attached();
    assert!(line.contains("pod shop/web container app"), "{line}");
    assert!(
        line.contains("handler default, runtime io.containerd.runc.v2"),
        "{line}"
    );
    only_side.wait_attached();
    // The pod cannot be recorded while its containers are: one line, exit 75.
    let nested = run(&[
        "record",
        "--pod",
        "web",
        "-n",
        "shop",
        "--cri-endpoint",
        &env.endpoint(),
        "--duration",
        "1s",
    ]);
    assert_eq!(nested.status.code(), Some(75), "{}", stderr(&nested));
    assert!(
        stderr(&nested).contains("nested recordings are not supported"),
        "{}",
        stderr(&nested)
    );
    fs::write(share.join("go1"), b"").expect("trigger");
    for who in ["app", "side"] {
        let done = share.join(format!("{who}-done"));
        let t0 = std::time::Instant::now();
        while !done.exists() {
            assert!(t0.elapsed() < RUN_LIMIT, "{who} did not run its marker");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for r in [only_app, only_side] {
        r.signal(libc::SIGINT);
        let (code, err) = r.finish(Duration::from_secs(30));
        assert_eq!(code, Some(0), "{err}");
    }

    let mut whole = record_pod(env, out.path(), "pod", "web", "shop", None);
    let line = whole.wait_attached();
    assert!(line.contains("pod shop/web every container ("), "{line}");
    assert!(
        line.contains(&pod.cgroup()),
        "records the pod's cgroup: {line}"
    );
    fs::write(share.join("go2"), b"").expect("trigger");
    assert_eq!(
        pod.wait_exit(&app, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&app)
    );
    assert_eq!(
        pod.wait_exit(&side, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&side)
    );
    pod.stop();
    let (code, err) = whole.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("no process left"),
        "the pod's recording ends when the pod is gone: {err}"
    );

    let stats = |tag: &str| read_stats(&out.path().join(format!("{tag}.stats.json")));
    let (p, a, s) = (stats("pod"), stats("app"), stats("side"));
    assert_eq!(
        count_of(&a, "SCMP_ARCH_X86_64", "sched_yield"),
        3000,
        "{a:?}"
    );
    assert_eq!(count_of(&a, "SCMP_ARCH_X86_64", "getcpu"), 0, "{a:?}");
    assert_eq!(count_of(&s, "SCMP_ARCH_X86_64", "getcpu"), 2000, "{s:?}");
    assert_eq!(count_of(&s, "SCMP_ARCH_X86_64", "sched_yield"), 0, "{s:?}");
    assert_eq!(
        count_of(&p, "SCMP_ARCH_X86_64", "sched_yield"),
        3000,
        "{p:?}"
    );
    assert_eq!(count_of(&p, "SCMP_ARCH_X86_64", "getcpu"), 2000, "{p:?}");
    let app_profile = allowed_names(&out.path().join("app.json"));
    assert!(
        app_profile.iter().any(|n| n == "sched_yield"),
        "{app_profile:?}"
    );
    assert!(
        !app_profile.iter().any(|n| n == "getcpu"),
        "one profile per container: {app_profile:?}"
    );

    let report = read_json(&out.path().join("app.report.json"));
    let pod_doc = &report["pod"];
    assert_eq!(pod_doc["name"], "web", "{report}");
    assert_eq!(pod_doc["namespace"], "shop");
    assert_eq!(pod_doc["uid"], pod.uid.as_str());
    assert_eq!(pod_doc["containers"], serde_json::json!(["app"]));
    assert_eq!(pod_doc["wholePod"], false);
    assert_eq!(pod_doc["runtimeHandler"], "default");
    assert_eq!(pod_doc["runtimeType"], "io.containerd.runc.v2");
    assert!(
        pod_doc["cri"]
            .as_str()
            .is_some_and(|c| c.starts_with("containerd ")),
        "{report}"
    );
    // Every known runtime's tail by default (as the hook); the CRI's word is noted.
    assert_eq!(report["runtime"], "any", "{report}");
    assert!(
        report["runtime_signal"]
            .as_str()
            .is_some_and(|s| s.contains("CRI containerd") && s.contains("io.containerd.runc.v2")),
        "{report}"
    );
    let whole_doc = read_json(&out.path().join("pod.report.json"));
    let mut names: Vec<String> = whole_doc["pod"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c.as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["app", "side"]);
    assert_eq!(whole_doc["pod"]["wholePod"], true);
}

/// The workload of the replay tests: a few files, an ls, a line on stdout.
const WORK: &str = "ls / >/dev/null\ncat /share/replay/work.sh >/dev/null\necho replay-ok\n";

#[e2e_macros::test]
fn a_recorded_pod_container_runs_under_its_localhost_profile_and_namespaces_are_denied() {
    if !can_record() {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let share = env.fresh_share("replay");
    fs::write(share.join("work.sh"), WORK).expect("work.sh");
    let out = tempfile::tempdir().expect("tempdir");

    // Record: the container waits for the trigger, then execs the workload, so the
    // whole workload (from its execve) happens after the attach.
    let pod = env.run_pod("api", "default");
    let app = pod.start(&ContainerSpec::shell(
        "app",
        &wait_then("replay", "/bin/sh /share/replay/work.sh"),
    ));
    let mut rec = record_pod(env, out.path(), "app", "api", "default", Some("app"));
    rec.wait_attached();
    fs::write(share.join("go"), b"").expect("trigger");
    assert_eq!(
        pod.wait_exit(&app, RUN_LIMIT),
        0,
        "{}",
        pod.container_log(&app)
    );
    let (code, err) = rec.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    drop(pod);
    // On the node, below the kubelet's seccomp root in real life; the CRI takes any
    // absolute path (kubelet 1.25+ sends it resolved).
    let profile = env.dir().join("profiles/default/api/app.json");
    fs::create_dir_all(profile.parent().expect("parent")).expect("profile dir");
    fs::copy(out.path().join("app.json"), &profile).expect("install profile");
    let allowed = allowed_names(&profile);
    for risky in ["unshare", "mount", "setns"] {
        assert!(
            !allowed.iter().any(|n| n == risky),
            "{risky} recorded? {allowed:?}"
        );
    }

    let localhost = Seccomp::Localhost(profile.clone());
    let work = || ContainerSpec {
        name: "app".into(),
        command: vec!["/bin/sh".into(), "/share/replay/work.sh".into()],
        seccomp: localhost.clone(),
        add_caps: Vec::new(),
    };
    let replay = env.run_pod("api-replay", "default");
    for i in 0..10 {
        let (code, log) = replay.run_to_end(&work(), RUN_LIMIT);
        assert_eq!(
            code, 0,
            "replay {i} of 10 under the Localhost profile failed: {log}"
        );
        assert!(log.contains("replay-ok"), "replay {i}: {log}");
    }
    // A filter is really in force: the container's init shows Seccomp: 2.
    let held = replay.start(&ContainerSpec {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "grep Seccomp: /proc/self/status; sleep 0.05".into(),
        ],
        ..work()
    });
    assert_eq!(replay.wait_exit(&held, RUN_LIMIT), 0);
    assert!(
        replay.container_log(&held).contains("Seccomp:\t2"),
        "{}",
        replay.container_log(&held)
    );
    replay.remove_container(&held);

    // Injected namespace calls with CAP_SYS_ADMIN: work unconfined, denied by the
    // profile.
    let injected = [
        ("unshare", "/bin/unshare -n /bin/true"),
        ("mount", "/bin/mount -t tmpfs none /tmp"),
        ("setns", "/bin/nsenter -t 1 -n /bin/true"),
    ];
    for (what, cmd) in injected {
        let spec = |s: Seccomp| {
            ContainerSpec::shell(what, &format!("{cmd} && echo {what}-worked"))
                .with_seccomp(s)
                .with_sys_admin()
        };
        let (code, log) = replay.run_to_end(&spec(Seccomp::Unconfined), RUN_LIMIT);
        assert_eq!(code, 0, "control: {what} without seccomp must work: {log}");
        assert!(log.contains(&format!("{what}-worked")), "{log}");
        let (code, log) = replay.run_to_end(&spec(localhost.clone()), RUN_LIMIT);
        assert_ne!(code, 0, "{what} must be denied under the profile: {log}");
        assert!(!log.contains(&format!("{what}-worked")), "{log}");
        assert!(
            log.contains("not implemented") || log.contains("not permitted"),
            "{what}: the denial is the profile's errno: {log}"
        );
    }
    drop(replay);

    // The profile in place of RuntimeDefault for both containers of a pod.
    let two = env.run_pod("api-two", "default");
    let a = two.start(&work());
    let b = two.start(&ContainerSpec {
        name: "second".into(),
        ..work()
    });
    for id in [&a, &b] {
        assert_eq!(two.wait_exit(id, RUN_LIMIT), 0, "{}", two.container_log(id));
        assert!(two.container_log(id).contains("replay-ok"));
    }
    drop(two);
    // The profile of a pod recorded on a containerd node (runc there) holds under
    // runc, crun and Docker too: the same file in every runtime a user has.
    let work = everywhere::Workload {
        share: env.share(),
        args: &["/bin/sh", "/share/replay/work.sh"],
        expect: "replay-ok",
    };
    everywhere::replay_in_runc_crun_and_docker(&profile, &work, 3);
}

#[e2e_macros::test]
fn wrong_pod_names_and_sockets_fail_with_one_line_and_their_own_codes() {
    if !can_record() {
        return;
    }
    let Some(env) = CriEnv::get() else { return };
    let ep = env.endpoint();
    let twin_a = env.run_pod("twin", "team-a");
    let twin_b = env.run_pod("twin", "team-b");
    twin_a.start(&ContainerSpec::shell("main", "sleep 600"));
    let main_b = twin_b.start(&ContainerSpec::shell("main", "sleep 600"));
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("p.json");
    let o = o.to_str().expect("utf8");
    let one_line = |out: &std::process::Output| {
        let e = stderr(out);
        assert_eq!(e.trim_end().lines().count(), 1, "one line: {e:?}");
        assert!(!Path::new(o).exists(), "nothing written on error");
        e
    };

    let unknown = run(&["record", "--pod", "nope", "--cri-endpoint", &ep, "-o", o]);
    let e = one_line(&unknown);
    assert_eq!(unknown.status.code(), Some(67), "{e}");
    assert!(
        e.contains("no running pod 'nope'")
            && e.contains("team-a/twin")
            && e.contains("team-b/twin"),
        "{e}"
    );

    let ambiguous = run(&["record", "--pod", "twin", "--cri-endpoint", &ep, "-o", o]);
    let e = one_line(&ambiguous);
    assert_eq!(ambiguous.status.code(), Some(68), "{e}");
    assert!(
        e.contains("team-a/twin, team-b/twin") && e.contains("--namespace"),
        "{e}"
    );

    let no_container = run(&[
        "record",
        "--pod",
        "twin",
        "-n",
        "team-b",
        "--container",
        "web",
        "--cri-endpoint",
        &ep,
        "-o",
        o,
    ]);
    let e = one_line(&no_container);
    assert_eq!(no_container.status.code(), Some(67), "{e}");
    assert!(
        e.contains("no running container 'web' (running: main)"),
        "{e}"
    );

    let missing = out.path().join("no.sock");
    let gone = run(&[
        "record",
        "--pod",
        "twin",
        "--cri-endpoint",
        missing.to_str().expect("utf8"),
        "-o",
        o,
    ]);
    let e = one_line(&gone);
    assert_eq!(gone.status.code(), Some(75), "{e}");
    assert!(e.contains("no CRI socket at"), "{e}");
    // The environment variable is honoured the same way.
    let gone_env = run_env(
        &["record", "--pod", "twin", "-o", o],
        &[(
            "CONTAINER_RUNTIME_ENDPOINT",
            &format!("unix://{}", missing.display()),
        )],
    );
    let e = one_line(&gone_env);
    assert_eq!(gone_env.status.code(), Some(75), "{e}");
    assert!(e.contains("CONTAINER_RUNTIME_ENDPOINT"), "{e}");

    // A socket that answers, but not gRPC: an HTTP/1 server's reply.
    let not_cri = out.path().join("http.sock");
    let listener = std::os::unix::net::UnixListener::bind(&not_cri).expect("bind");
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut c, _)) = listener.accept() {
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let wrong = run(&[
        "record",
        "--pod",
        "twin",
        "--cri-endpoint",
        not_cri.to_str().expect("utf8"),
        "-o",
        o,
    ]);
    let e = one_line(&wrong);
    assert_eq!(wrong.status.code(), Some(76), "{e}");
    assert!(e.contains("does not serve the CRI"), "{e}");
    let _ = server.join();
    // containerd's ttrpc socket accepts connections but never speaks gRPC.
    let ttrpc = format!("{}.ttrpc", ep);
    let silent = run(&["record", "--pod", "twin", "--cri-endpoint", &ttrpc, "-o", o]);
    let e = one_line(&silent);
    assert_eq!(silent.status.code(), Some(76), "{e}");

    // --namespace resolves the ambiguity; --container by id through the CRI engine.
    let ok = run(&[
        "record",
        "--pod",
        "twin",
        "-n",
        "team-a",
        "--cri-endpoint",
        &ep,
        "--duration",
        "300ms",
        "-o",
        o,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let _ = fs::remove_file(o);
    let by_id = run(&[
        "record",
        "--container",
        &main_b[..12],
        "--engine",
        "cri",
        "--cri-endpoint",
        &ep,
        "--duration",
        "300ms",
        "-o",
        o,
    ]);
    assert_eq!(by_id.status.code(), Some(0), "{}", stderr(&by_id));
    assert!(
        stderr(&by_id).contains("(cri, runtime io.containerd.runc.v2)"),
        "{}",
        stderr(&by_id)
    );
    let _ = fs::remove_file(o);
    // A sandbox id is not a container id: the CRI does not know it as one.
    let sandbox = run(&[
        "record",
        "--container",
        &twin_b.id,
        "--engine",
        "cri",
        "--cri-endpoint",
        &ep,
        "-o",
        o,
    ]);
    let e = one_line(&sandbox);
    assert_eq!(sandbox.status.code(), Some(67), "{e}");
}
