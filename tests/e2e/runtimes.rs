//! Profiles that hold under every runtime and consumer we can start here: runc bundles
//! with the installed hooks, podman with `--runtime runc`, crun, and a private Docker
//! daemon fed by `record --container`. Every profile is proven by enforcing it.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use common::docker::DockerEnv;
use common::installed::Installed;
use common::podman::PodmanEnv;
use common::runc::{Bundle, RuncEnv};
use common::*;

/// What the recorded containers run: file listing, /proc, a child process.
const SCRIPT: &str = "ls / >/dev/null; cat /proc/self/status >/dev/null; sh -c 'echo ok'";

fn profile_json(p: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(p).expect("read profile")).expect("profile json")
}

/// podman's default seccomp profile in OCI form, as podman puts it into config.json
/// (create + init writes the bundle; the container is removed again).
fn podman_default_profile(env: &PodmanEnv) -> Value {
    let o = env.podman(&[
        "create",
        "--network=none",
        "--rootfs",
        env.rootfs().to_str().expect("utf8"),
        "true",
    ]);
    assert!(o.status.success(), "podman create: {}", stderr(&o));
    let id = stdout(&o).trim().to_owned();
    let o = env.podman(&["init", &id]);
    assert!(o.status.success(), "podman init: {}", stderr(&o));
    let config = env
        .dir()
        .join("storage/vfs-containers")
        .join(&id)
        .join("userdata/config.json");
    let doc = profile_json(&config);
    let _ = env.podman(&["rm", "-f", &id]);
    let seccomp = doc["linux"]["seccomp"].clone();
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO", "{seccomp}");
    seccomp
}

/// Runs `bundle` `n` times through `runtime` (runc, or crun with runc's command line);
/// every run must succeed and print "ok".
fn replay(env: &RuncEnv, runtime: &Path, bundle: &Bundle, n: usize, what: &str) {
    for i in 0..n {
        let (id, o) = env.run_via(runtime, bundle);
        assert!(
            o.status.success() && stdout(&o).trim_end().ends_with("ok"),
            "{what}: run {i} of {n} ({id}) failed: {}\nstdout: {}",
            stderr(&o),
            stdout(&o)
        );
    }
}

#[e2e_macros::test]
fn runc_bundles_recorded_by_the_installed_hooks_replay_under_runc_and_crun() {
    if !can_record() {
        return;
    }
    let Some(runc) = RuncEnv::new() else { return };
    let Some(podman) = PodmanEnv::new() else {
        return;
    };
    let crun = PathBuf::from(which_tool("crun"));
    let runc_bin = PathBuf::from(which_tool("runc"));
    let hooks_dir = runc.dir().join("hooks.d");
    fs::create_dir_all(&hooks_dir).expect("hooks dir");
    let inst = Installed::new(runc.dir(), &hooks_dir, "runc");
    let hooks = inst.config_hooks();
    let default_profile = podman_default_profile(&podman);

    let with_hooks = |mut b: Bundle| {
        for (stage, entries) in hooks.as_object().expect("hooks object") {
            b = b.hooks(stage, entries.as_array().expect("entries"));
        }
        b
    };
    let cases: [(&str, Option<&Value>, bool); 3] = [
        ("unconfined", None, false),
        ("default", Some(&default_profile), false),
        ("nnp", Some(&default_profile), true),
    ];
    for (tag, filter, nnp) in cases {
        let out_name = format!("runc-{tag}.json");
        let mut b = with_hooks(runc.bundle(&["sh", "-c", SCRIPT]))
            .annotation("seccomp-recorder.io/output", &out_name)
            .no_new_privileges(nnp);
        if let Some(f) = filter {
            b = b.seccomp(f.clone());
        }
        let o = runc.run(&b);
        assert!(
            o.status.success(),
            "record {tag}: {}\n{}",
            stderr(&o),
            inst.log()
        );
        let profile = inst.out.join(&out_name);
        let prof = profile_json(&profile);
        // The hook saw runc run it and added runc's start-up tail.
        let names = allowed_names(&profile);
        for n in ["futex", "fstatfs", "rt_sigreturn", "getppid", "execve"] {
            assert!(
                names.contains(&n.to_owned()),
                "{tag}: {n} missing: {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n == "mount" || n == "pivot_root"),
            "{tag}: runtime set-up recorded: {names:?}"
        );

        // Enforced: 20 runs in a row under runc with the longest tail (no_new_privs off),
        // a few with no_new_privs, and the same bundle under crun.
        let enforced = runc.bundle(&["sh", "-c", SCRIPT]).seccomp(prof.clone());
        let n = if tag == "unconfined" { 20 } else { 5 };
        replay(&runc, &runc_bin, &enforced, n, &format!("runc {tag}"));
        replay(
            &runc,
            &runc_bin,
            &enforced.clone().no_new_privileges(true),
            3,
            &format!("runc nnp {tag}"),
        );
        replay(&runc, &crun, &enforced, 3, &format!("crun {tag}"));
        replay(
            &runc,
            &crun,
            &enforced.clone().no_new_privileges(true),
            2,
            &format!("crun nnp {tag}"),
        );
        // And it denies what the workload never did.
        let o = runc.run(&runc.bundle(&["mkdir", "/new-dir"]).seccomp(prof));
        assert!(!o.status.success(), "{tag}: mkdir ran under the profile");
        assert!(
            stderr(&o).contains("Function not implemented"),
            "{tag}: {}",
            stderr(&o)
        );
    }
    assert!(inst.log().contains("detected=runc"), "{}", inst.log());
}

#[e2e_macros::test]
fn podman_with_runc_and_with_crun_profiles_replay_twenty_times() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    if !prerequisite(have("runc"), "runc (apt-get install runc)") {
        return;
    }
    let runc = which_tool("runc");
    let inst = Installed::new(env.dir(), env.hooks_dir(), "podrunc");
    let modes: [(&str, &[&str]); 3] = [
        ("default", &[]),
        ("nnp", &["--security-opt", "no-new-privileges"]),
        ("unconfined", &["--security-opt", "seccomp=unconfined"]),
    ];
    for (runtime, tail_name) in [(runc.as_str(), "futex"), ("crun", "capset")] {
        for (mode, opts) in modes {
            let out_name = format!(
                "{}-{mode}.json",
                if runtime == "crun" { "crun" } else { "runc" }
            );
            let ann = format!("seccomp-recorder.io/output={out_name}");
            let mut all = vec!["--runtime", runtime, "--annotation", ann.as_str()];
            all.extend_from_slice(opts);
            let o = env.run(&all, &["sh", "-c", SCRIPT]);
            assert!(
                o.status.success(),
                "record {runtime} {mode}: {}\n{}",
                stderr(&o),
                inst.log()
            );
            let profile = inst.out.join(&out_name);
            let names = allowed_names(&profile);
            assert!(
                names.contains(&tail_name.to_owned()),
                "{runtime} {mode}: {tail_name} missing: {names:?}"
            );
            let sec = format!("seccomp={}", profile.display());
            // Enforced with podman's defaults (the filter before the runtime's tail):
            // 20 in a row with the runtime it was recorded with, then a few with
            // no-new-privileges.
            for (enforce_opts, n) in [
                (&[][..], 20),
                (&["--security-opt", "no-new-privileges"][..], 3),
            ] {
                for i in 0..n {
                    let mut o2 = vec!["--runtime", runtime, "--security-opt", sec.as_str()];
                    o2.extend_from_slice(enforce_opts);
                    let o = env.run(&o2, &["sh", "-c", SCRIPT]);
                    assert!(
                        o.status.success() && stdout(&o).trim_end() == "ok",
                        "{runtime} {mode} enforced {enforce_opts:?}, run {i}: {}",
                        stderr(&o)
                    );
                }
            }
        }
    }
    let log = inst.log();
    assert!(log.contains("detected=runc"), "{log}");
    assert!(log.contains("detected=crun"), "{log}");
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}

#[e2e_macros::test]
fn a_podman_crun_recording_runs_under_docker_unless_limited_to_crun() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    let Some(docker) = DockerEnv::get() else {
        return;
    };
    let inst = Installed::new(env.dir(), env.hooks_dir(), "crun4runc");
    // Recorded under podman + crun, unconfined: by default the profile gets every
    // known runtime's start-up calls, so Docker's runc starts it too.
    let record = |name: &str, extra: &[&str]| {
        let ann = format!("seccomp-recorder.io/output={name}");
        let mut opts = vec![
            "--security-opt",
            "seccomp=unconfined",
            "--annotation",
            ann.as_str(),
        ];
        opts.extend_from_slice(extra);
        let o = env.run(&opts, &["sh", "-c", SCRIPT]);
        assert!(
            o.status.success(),
            "record {name}: {}\n{}",
            stderr(&o),
            inst.log()
        );
        inst.out.join(name)
    };
    let both = record("both.json", &[]);
    assert!(inst.log().contains("runtime=any"), "{}", inst.log());
    assert!(inst.log().contains("detected=crun"), "{}", inst.log());
    let names = allowed_names(&both);
    for n in ["capset", "setresuid", "futex", "fstatfs", "rt_sigreturn"] {
        assert!(names.contains(&n.to_owned()), "{n} missing: {names:?}");
    }
    let sec = format!("seccomp={}", both.display());
    for i in 0..5 {
        let o = docker.run(&["--security-opt", &sec], &["sh", "-c", SCRIPT]);
        assert!(
            o.status.success() && stdout(&o).trim_end() == "ok",
            "docker run {i}: {}",
            stderr(&o)
        );
    }
    let o = env.run(&["--security-opt", &sec], &["sh", "-c", SCRIPT]);
    assert!(o.status.success(), "podman + crun: {}", stderr(&o));

    // Limited to the runtime that recorded it, the profile is tighter and starts under
    // crun, but runc (Docker) dies before the workload: what the runtime tail is for.
    let crun_only = record(
        "crun-only.json",
        &["--annotation", "seccomp-recorder.io/runtime=detected"],
    );
    assert!(inst.log().contains("runtime=crun"), "{}", inst.log());
    let names = allowed_names(&crun_only);
    assert!(!names.contains(&"fstatfs".to_owned()), "{names:?}");
    let sec = format!("seccomp={}", crun_only.display());
    let o = env.run(&["--security-opt", &sec], &["sh", "-c", SCRIPT]);
    assert!(
        o.status.success(),
        "podman + crun, crun only: {}",
        stderr(&o)
    );
    let o = docker.run(&["--security-opt", &sec], &["sh", "-c", SCRIPT]);
    assert!(
        !o.status.success(),
        "docker started a profile without runc's tail: {}",
        stdout(&o)
    );
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}

/// The docker CLI our binary finds on PATH may be newer than the daemon; put the
/// daemon's own client first so that `record --container` speaks its API.
fn path_with_docker_client() -> String {
    let dir = std::env::temp_dir().join(format!("sr-cli-docker-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("client dir");
    let link = dir.join("docker");
    if !link.exists() {
        std::os::unix::fs::symlink(common::docker::DOCKER, &link).expect("symlink docker");
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[e2e_macros::test]
fn docker_container_recorded_by_id_runs_under_its_profile_in_both_formats() {
    if !can_record() {
        return;
    }
    let Some(docker) = DockerEnv::get() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sync = dir.path().join("sync");
    fs::create_dir(&sync).expect("sync");
    let mount = format!("{}:/sync", sync.display());
    let script = format!("while [ ! -e /sync/go ]; do sleep 0.05; done; {SCRIPT} >/sync/out");
    let id = docker.run_detached(&["-v", &mount], &["sh", "-c", &script]);
    let host = docker.host();
    let path = path_with_docker_client();
    let env_of = |c: &mut std::process::Command| {
        c.env("DOCKER_HOST", &host).env("PATH", &path);
    };

    // An id this daemon does not know: 67.
    let mut c = std::process::Command::new(bin());
    c.args(["record", "--engine", "docker", "--container", "no-such-ctr"]);
    env_of(&mut c);
    let o = c.output().expect("record");
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
    assert!(stderr(&o).contains("no container 'no-such-ctr' is known to docker"));

    let oci = dir.path().join("web.json");
    let report = dir.path().join("web.report.json");
    let mut c = std::process::Command::new(bin());
    c.args([
        "record",
        "--container",
        &id[..12],
        "-o",
        oci.to_str().expect("utf8"),
        "--report",
        report.to_str().expect("utf8"),
    ])
    .stderr(std::process::Stdio::piped());
    env_of(&mut c);
    let mut child = c.spawn().expect("record --container");
    let err = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(err));
    let first = lines.next().expect("a line").expect("utf8");
    assert!(first.contains("(docker, runtime runc)"), "{first}");
    assert!(first.contains("from now on"), "{first}");
    fs::write(sync.join("go"), b"").expect("go");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert!(status.success(), "record: {rest:?}");
    assert_eq!(
        fs::read_to_string(sync.join("out")).expect("out").trim(),
        "ok"
    );
    let doc = profile_json(&report);
    assert_eq!(doc["runtime"], "any", "{doc}");
    assert!(
        doc["runtime_signal"]
            .as_str()
            .is_some_and(|s| s.contains("docker inspect: runtime runc")),
        "{doc}"
    );
    let names = allowed_names(&oci);
    assert!(names.contains(&"futex".to_owned()), "{names:?}");
    // The docker format of the same profile.
    let docker_fmt = dir.path().join("web.docker.json");
    let o = run(&[
        "merge",
        "--format",
        "docker",
        "-o",
        docker_fmt.to_str().expect("utf8"),
        oci.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "merge: {}", stderr(&o));
    assert!(profile_json(&docker_fmt).get("archMap").is_some());

    for profile in [&oci, &docker_fmt] {
        let sec = format!("seccomp={}", profile.display());
        for extra in [&[][..], &["--security-opt", "no-new-privileges"][..]] {
            fs::remove_file(sync.join("out")).ok();
            let mut opts = vec!["--security-opt", sec.as_str(), "-v", mount.as_str()];
            opts.extend_from_slice(extra);
            let o = docker.run(&opts, &["sh", "-c", &script]);
            assert!(
                o.status.success(),
                "{} {extra:?}: {}",
                profile.display(),
                stderr(&o)
            );
            assert_eq!(
                fs::read_to_string(sync.join("out")).expect("out").trim(),
                "ok"
            );
        }
        // Injected escapes: they work with CAP_SYS_ADMIN and no filter, and the
        // profile denies them (Docker 20.10 ignores defaultErrnoRet: EPERM here).
        for escape in [
            &["unshare", "-n", "true"][..],
            &["mount", "-t", "tmpfs", "none", "/run"][..],
            &["nsenter", "-t", "1", "-n", "true"][..],
        ] {
            let o = docker.run(
                &[
                    "--security-opt",
                    "seccomp=unconfined",
                    "--cap-add",
                    "SYS_ADMIN",
                ],
                escape,
            );
            assert!(o.status.success(), "control {escape:?}: {}", stderr(&o));
            let o = docker.run(&["--security-opt", &sec, "--cap-add", "SYS_ADMIN"], escape);
            assert!(
                !o.status.success(),
                "{escape:?} ran under {}",
                profile.display()
            );
            assert!(
                // EPERM, as busybox's applets word it.
                stderr(&o).contains("Operation not permitted")
                    || stderr(&o).contains("permission denied"),
                "{escape:?}: {}",
                stderr(&o)
            );
        }
    }
    let _ = docker.rm(&id);
    let _ = fs::remove_dir_all(
        std::env::temp_dir().join(format!("sr-cli-docker-{}", std::process::id())),
    );
}

fn which_tool(tool: &str) -> String {
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .expect("sh");
    assert!(o.status.success(), "{tool} not found");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// A static glibc program that starts a thread (glibc 2.34+: clone3, falling back to
/// clone only on ENOSYS) and prints "ok" when it ran.
fn threads_program(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("threads.c");
    fs::write(
        &src,
        r#"#include <pthread.h>
#include <stdio.h>
#include <string.h>
static void *run(void *p) { return p; }
int main(void) {
    pthread_t t;
    int e = pthread_create(&t, NULL, run, NULL);
    if (e) { fprintf(stderr, "pthread_create: %s\n", strerror(e)); return 1; }
    pthread_join(t, NULL);
    puts("ok");
    return 0;
}
"#,
    )
    .expect("write threads.c");
    let exe = dir.join("threads");
    let o = std::process::Command::new("gcc")
        .args(["-static", "-pthread", "-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .ok()?;
    o.status.success().then_some(exe)
}

#[e2e_macros::test]
fn docker_gets_enosys_for_clone3_although_it_ignores_default_errno_ret() {
    if !can_record() || !prerequisite(have("gcc"), "gcc with static glibc (libc6-dev)") {
        return;
    }
    let Some(docker) = DockerEnv::get() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(exe) = threads_program(dir.path()) else {
        prerequisite(false, "gcc -static -pthread (static glibc)");
        return;
    };
    // Recorded on the host, clone3 is allowed; as recorded under a filter that denied
    // clone3 (podman's default profile does, with ENOSYS), it is not: glibc fell back
    // to clone, which the recording saw.
    let recorded = dir.path().join("threads.json");
    let o = run(&[
        "record",
        "--runtime",
        "none",
        "-o",
        recorded.to_str().expect("utf8"),
        "--",
        exe.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "record: {}", stderr(&o));
    let mut doc = profile_json(&recorded);
    let names = doc["syscalls"][0]["names"].as_array_mut().expect("names");
    assert!(names.iter().any(|n| n == "clone3"), "{names:?}");
    names.retain(|n| n != "clone3" && n != "clone");
    names.push("clone".into());
    doc["syscalls"] = serde_json::json!([doc["syscalls"][0].clone()]);
    let without = dir.path().join("no-clone3.json");
    fs::write(&without, doc.to_string()).expect("write");
    // What we write for it: runc's tail, and ENOSYS for clone3 by an explicit rule.
    let ours = dir.path().join("ours.json");
    let o = run(&[
        "merge",
        "--runtime",
        "runc",
        "-o",
        ours.to_str().expect("utf8"),
        without.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "merge: {}", stderr(&o));
    let ours_doc = profile_json(&ours);
    let rules = ours_doc["syscalls"].as_array().expect("rules");
    assert!(
        rules
            .iter()
            .any(|r| r["names"] == serde_json::json!(["clone3"])
                && r["action"] == "SCMP_ACT_ERRNO"
                && r["errnoRet"] == 38),
        "{ours_doc}"
    );
    // The same without that rule (what a profile with only defaultErrnoRet is).
    let mut bare = ours_doc.clone();
    bare["syscalls"] = serde_json::json!([rules[0].clone()]);
    let bare_path = dir.path().join("bare.json");
    fs::write(&bare_path, bare.to_string()).expect("write");

    let mount = format!("{}:/threads:ro", exe.display());
    let sec = format!("seccomp={}", ours.display());
    let o = docker.run(&["-v", &mount, "--security-opt", &sec], &["/threads"]);
    assert!(
        o.status.success() && stdout(&o).trim() == "ok",
        "with the rule: {}",
        stderr(&o)
    );
    // Control: Docker denies clone3 with EPERM then, and glibc does not fall back.
    let sec = format!("seccomp={}", bare_path.display());
    let o = docker.run(&["-v", &mount, "--security-opt", &sec], &["/threads"]);
    assert!(!o.status.success(), "bare profile: {}", stdout(&o));
    assert!(
        stderr(&o).contains("pthread_create: Operation not permitted"),
        "{}",
        stderr(&o)
    );
}
