//! Real servers under their own recorded profiles: Debian's nginx (a master and two
//! workers that drop to www-data, epoll, sendfile) and redis (jemalloc, its event loop
//! and background threads, redis-cli and redis-benchmark as clients), see
//! tests/e2e/common/servers.rs. Each is recorded once by the installed hooks in podman
//! with crun, the way a user records in CI, and then has to serve, with every answer
//! checked, under that profile in every runtime and consumer we can start here: podman
//! with crun and with runc, runc and crun bundles, Docker, and containerd's CRI as a
//! Localhost profile.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::containerd::{ContainerSpec, CriEnv, Seccomp};
use common::docker::DockerEnv;
use common::installed::Installed;
use common::podman::PodmanEnv;
use common::runc::RuncEnv;
use common::servers::ServersRootfs;
use common::*;

/// The image of the rootfs in Docker and in containerd.
const DOCKER_IMAGE: &str = "sr-servers:local";
const CRI_IMAGE: &str = "localhost/seccomp-recorder-servers:test";

/// podman's default capabilities: the runc bundles get the same (the servers' start-up
/// drops privileges, which needs SETUID/SETGID/CHOWN; `runc spec` has only three).
const PODMAN_CAPS: [&str; 11] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Calls neither server makes, which a profile of theirs must not allow.
const NEVER: [&str; 8] = [
    "mount",
    "unshare",
    "setns",
    "ptrace",
    "bpf",
    "kexec_load",
    "init_module",
    "pivot_root",
];

fn check(o: &std::process::Output, marker: &str, what: &str) {
    assert!(
        o.status.success() && stdout(o).contains(marker),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

#[e2e_macros::test]
fn nginx_and_redis_serve_under_their_recorded_profiles_in_every_runtime() {
    if !can_record()
        || !prerequisite(have("runc"), "runc (apt-get install runc)")
        || !prerequisite(have("crun"), "crun (apt-get install crun)")
    {
        return;
    }
    let Some(servers) = ServersRootfs::get() else {
        return;
    };
    let Some(podman) = PodmanEnv::new() else {
        return;
    };
    let Some(runc) = RuncEnv::new() else { return };
    let Some(docker) = DockerEnv::get() else {
        return;
    };
    let Some(cri) = CriEnv::get() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rootfs = servers.copy_to(dir.path());
    let inst = Installed::new(podman.dir(), podman.hooks_dir(), "servers");
    docker.import(&rootfs, DOCKER_IMAGE);
    cri.import_rootfs(&rootfs, CRI_IMAGE);
    let runtimes = [
        ("runc", common::docker::which("runc")),
        ("crun", common::docker::which("crun")),
    ];
    // The bundles and the CRI pods share the host's network: ports of this run only.
    let base = 20_000 + (std::process::id() % 20_000) as u16;

    for (i, server) in ["nginx", "redis"].into_iter().enumerate() {
        let port = (base + i as u16).to_string();
        let script = format!("/srv/{server}.sh");
        let cmd = [script.as_str(), port.as_str()];
        let marker = format!("{server}-ok");

        // Recorded by the hooks, in podman with crun.
        let out = format!("{server}.json");
        let o = podman.run_in(
            &rootfs,
            true,
            &[
                "--runtime",
                "crun",
                "--annotation",
                &format!("seccomp-recorder.io/output={out}"),
            ],
            &cmd,
        );
        check(&o, &marker, &format!("{server}: the recorded run"));
        let profile = inst.out.join(&out);
        assert!(
            profile.is_file(),
            "{server}: no profile; hook log:\n{}",
            inst.log()
        );
        let names = allowed_names(&profile);
        let served: &[&str] = if server == "nginx" {
            &["epoll_wait", "accept4", "sendfile", "setuid", "setgroups"]
        } else {
            &["epoll_wait", "accept4", "clone3", "madvise"]
        };
        for n in served {
            assert!(
                names.iter().any(|x| x == n),
                "{server}: {n} not recorded: {names:?}"
            );
        }
        for n in NEVER {
            assert!(
                !names.iter().any(|x| x == n),
                "{server}: {n} allowed: {names:?}"
            );
        }
        eprintln!("{server}: {} calls allowed", names.len());
        let sec = format!("seccomp={}", profile.display());
        let doc = read_json(&profile);

        // podman, with crun (as recorded) and with runc; no-new-privileges once.
        for (name, bin) in &runtimes {
            for (opts, n) in [
                (&[][..], 2),
                (&["--security-opt", "no-new-privileges"][..], 1),
            ] {
                for run in 0..n {
                    let mut all = vec!["--runtime", bin.as_str(), "--security-opt", &sec];
                    all.extend_from_slice(opts);
                    let o = podman.run_in(&rootfs, true, &all, &cmd);
                    check(
                        &o,
                        &marker,
                        &format!("{server}: podman --runtime {name} {opts:?} run {run}"),
                    );
                }
            }
        }
        // The profile is in force: what the server never did is refused.
        let o = podman.run_in(
            &rootfs,
            true,
            &["--security-opt", &sec, "--cap-add", "SYS_ADMIN"],
            &["/bin/unshare", "-n", "/bin/true"],
        );
        assert!(
            !o.status.success(),
            "{server}: unshare ran under its profile"
        );

        // runc and crun bundles on the host's network, with podman's capabilities.
        let mut bundle = runc
            .bundle(&cmd)
            .rootfs(&rootfs, false)
            .seccomp(doc.clone());
        for cap in PODMAN_CAPS {
            bundle = bundle.cap_add(cap);
        }
        bundle.config_mut()["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|n| n["type"] != "network");
        for (name, bin) in &runtimes {
            for nnp in [false, true] {
                let (id, o) = runc.run_via(Path::new(bin), &bundle.clone().no_new_privileges(nnp));
                check(
                    &o,
                    &marker,
                    &format!("{server}: {name} bundle {id} (no_new_privs {nnp})"),
                );
            }
        }

        // Docker (its runc, its own defaults: 20.10 ignores defaultErrnoRet).
        for opts in [&[][..], &["--security-opt", "no-new-privileges"][..]] {
            let mut all = vec!["--security-opt", sec.as_str()];
            all.extend_from_slice(opts);
            let o = docker.run_image(&all, DOCKER_IMAGE, &cmd);
            check(&o, &marker, &format!("{server}: docker {opts:?}"));
        }

        // containerd's CRI, as the kubelet applies a Localhost profile.
        let pod = cri.run_pod(&format!("{server}-replay"), "default");
        for run in 0..2 {
            let spec = ContainerSpec {
                name: server.to_owned(),
                command: cmd.iter().map(|s| (*s).to_owned()).collect(),
                seccomp: Seccomp::Localhost(profile.clone()),
                add_caps: Vec::new(),
            };
            let id = pod.start_in(CRI_IMAGE, &spec);
            let code = pod.wait_exit(&id, Duration::from_secs(60));
            let log = pod.container_log(&id);
            assert!(
                code == 0 && log.contains(&marker),
                "{server}: CRI Localhost run {run}: exit {code}\n{log}"
            );
            pod.remove_container(&id);
        }
        drop(pod);
    }
    let _ = docker.docker(&["rmi", "-f", DOCKER_IMAGE]);
    drop(podman);
    drop(inst);
}
