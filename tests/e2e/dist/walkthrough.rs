//! The README as a newcomer follows it, run as written on the installed package: every
//! command of its ```sh blocks, in order, through bash, on the host's tree under
//! overlays (see the module above). Nothing in a command is rewritten; what the
//! commands find around them is this test's:
//! - `sudo` is a shell function that runs its arguments (the test runs as root, and
//!   Debian's sudo is not installed here);
//! - `./app` and `./integration-tests` are small scripts in the working directory, which
//!   is a git repository (for `git add`);
//! - `docker.io/library/nginx` is Debian's nginx build (the registry is out of reach),
//!   imported under that name into podman's storage with a config that listens on 80
//!   and runs two workers as www-data: real nginx, not Docker Hub's image;
//! - podman reads the test's containers.conf and storage.conf (environment), with the
//!   hooks dirs of a default install, the package's and /etc's, where the test's
//!   `seccomp-recorder install` puts an override with private pins (bpffs is not under
//!   the overlays);
//! - the CRI endpoint is the private containerd's (`CONTAINER_RUNTIME_ENDPOINT`), where a
//!   pod of the README's name waits for the recorder.
//!
//! A command this test cannot run here (no Kubernetes, the developer tasks that run
//! this very suite) is listed with the test that covers it; a README command that is in
//! neither list fails the test, so a new one has to be placed.

use std::fs;
use std::io::{BufRead, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::installed::{in_overlay_root, install_etc_override, private_pins, Pins};
use super::*;
use crate::common::containerd::{ContainerSpec, CriEnv};
use crate::common::servers::ServersRootfs;
use crate::readme::shell_lines;

/// What the test does with a README command.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Run it; it must exit 0.
    Run,
    /// A container in the foreground: run it, wait until nginx's workers run in it,
    /// `podman stop --latest`, and it must exit 0.
    Foreground,
    /// `record --pod`: run it, start the pod's workload once it attached, end it with
    /// Ctrl-C (SIGINT to its process group) when the workload ended; it must exit 0.
    Pod,
    /// Not run here; the reason names what runs it.
    Covered(&'static str),
}

/// Each README command (as `shell_lines` gives it) by its beginning, in README order.
const PLAN: [(&str, Step); 19] = [
    (
        "cargo xtask dist",
        Step::Covered("cargo xtask test runs it: SR_DEB is its .deb"),
    ),
    ("sudo apt install ./target/dist/", Step::Run),
    ("seccomp-recorder --version", Step::Run),
    (
        "cargo xtask setup && cargo build --release",
        Step::Covered("cargo xtask test runs the setup and the build first"),
    ),
    (
        "sudo target/release/seccomp-recorder install",
        Step::Covered(
            "every hook test installs with it (tests/e2e/common/installed.rs); the package's \
             own install runs below",
        ),
    ),
    ("sudo seccomp-recorder record -o app.json", Step::Run),
    (
        "sudo seccomp-recorder enforce --profile app.json",
        Step::Run,
    ),
    (
        "sudo podman run --annotation seccomp-recorder.io/output=web.json",
        Step::Foreground,
    ),
    (
        "sudo podman run --security-opt seccomp=/var/lib/seccomp-recorder/web.json",
        Step::Foreground,
    ),
    ("sudo podman run -d --name web", Step::Run),
    ("./integration-tests", Step::Run),
    ("sudo podman stop web", Step::Run),
    ("mkdir -p seccomp && seccomp-recorder merge", Step::Run),
    ("git add seccomp/web.json", Step::Run),
    ("seccomp-recorder check --policy default", Step::Run),
    (
        "seccomp-recorder record --pod web-7d9f8b6c5d-x2b4q",
        Step::Pod,
    ),
    (
        "kubectl apply -f deploy/agent.yaml",
        Step::Covered(
            "no Kubernetes here: agent::the_image_records_a_pod_with_the_manifests_mounts runs \
             the image with this manifest's mounts and arguments",
        ),
    ),
    (
        "cargo xtask demo",
        Step::Covered("a stage of cargo xtask test (\"demo\")"),
    ),
    ("cargo xtask test", Step::Covered("this suite")),
];

/// The pod the README records (`-n shop`).
const POD: &str = "web-7d9f8b6c5d-x2b4q";

/// nginx's config in the image.
const NGINX_CONF: &str = "user www-data;\nworker_processes 2;\npid /run/nginx.pid;\n\
error_log stderr notice;\nevents { worker_connections 64; }\n\
http { access_log off; sendfile on; server { listen 80; root /srv/www; } }\n";

/// The README's `./app --flag`.
const APP: &str = "#!/bin/sh\n[ \"$1\" = --flag ] || exit 2\nls / >/dev/null\necho app-ran\n";

/// The README's `./integration-tests`: waits for the service, then fetches its page
/// from inside the container (the container has no published port) five times.
const INTEGRATION_TESTS: &str = r#"#!/bin/sh
set -e
i=0
until podman top web 2>/dev/null | grep -q 'nginx: worker process'; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "nginx never came up"; exit 1; }
    sleep 0.1
done
for i in 1 2 3 4 5; do
    podman exec web /bin/sh -c 'printf "GET /index.html HTTP/1.0\r\n\r\n" | nc 127.0.0.1 80' \
        | grep -q '^served-by-nginx$'
done
echo integration-tests-passed
"#;

/// The entry of the plan for a README command (panics for one the plan does not know).
fn planned(command: &str) -> &'static (&'static str, Step) {
    PLAN.iter()
        .find(|(start, _)| command.starts_with(start))
        .unwrap_or_else(|| {
            panic!("README command `{command}` is not in the walkthrough's PLAN: place it")
        })
}

/// `bash -c` of a README command with `sudo` as a plain function.
fn bash(command: &str, cwd: &Path, env: &[(&str, String)]) -> Command {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("sudo() {{ \"$@\"; }}\n{command}"))
        .current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Polls `what` every 100 ms until it is true or `limit` has passed.
fn wait_for(limit: Duration, mut what: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[e2e_macros::test]
fn the_readmes_commands_run_as_written_on_the_installed_package() {
    let Some(deb) = deb() else { return };
    if !can_record()
        || !prerequisite(have("apt"), "apt")
        || !prerequisite(have("git"), "git")
        || !prerequisite(have("bash"), "bash")
    {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root");
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let commands = shell_lines(&readme);
    // Placed in order, each once: the plan is the README's order.
    let starts: Vec<&str> = commands.iter().map(|c| planned(c).0).collect();
    let plan: Vec<&str> = PLAN.iter().map(|(s, _)| *s).collect();
    assert_eq!(starts, plan, "the README's commands, in order");
    // The install line names the .deb where `cargo xtask dist` writes it.
    let expected_deb = root.join(format!(
        "target/dist/seccomp-recorder_{}_amd64.deb",
        env!("CARGO_PKG_VERSION")
    ));
    assert_eq!(
        deb.canonicalize().expect("deb"),
        expected_deb,
        "SR_DEB is not the README's path"
    );

    let Some(servers) = ServersRootfs::get() else {
        return;
    };
    let Some(cri) = CriEnv::get() else { return };
    let Some(podman) = PodmanEnv::new() else {
        return;
    };
    let scratch = tempfile::Builder::new()
        .prefix("sr-readme-")
        .tempdir()
        .expect("tempdir");
    let bpf = private_pins("readme");
    let run_dir = scratch.path().join("run");
    let hook_log = scratch.path().join("hook.log");
    let _pins = Pins(bpf.clone(), run_dir.clone());

    // podman as installed: the package's hooks dir, then /etc's.
    let conf = fs::read_to_string(podman.env_vars()[0].1).expect("containers.conf");
    let conf: String = conf
        .lines()
        .map(|l| {
            if l.starts_with("hooks_dir") {
                format!("hooks_dir = [\"{HOOKS_DIR}\", \"/etc/containers/oci/hooks.d\"]")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(podman.env_vars()[0].1, conf + "\n").expect("containers.conf");
    // Debian's nginx as docker.io/library/nginx.
    let image_root = servers.copy_to(scratch.path());
    fs::create_dir_all(image_root.join("etc/nginx")).expect("etc/nginx");
    fs::write(image_root.join("etc/nginx/nginx.conf"), NGINX_CONF).expect("nginx.conf");
    let tar = scratch.path().join("nginx.tar");
    ok(
        &run(
            "tar",
            &[
                "-C",
                image_root.to_str().expect("utf8"),
                "-cf",
                tar.to_str().expect("utf8"),
                ".",
            ],
        ),
        "tar",
    );
    ok(
        &podman.podman(&[
            "import",
            "--change",
            r#"CMD ["/usr/sbin/nginx", "-g", "daemon off;"]"#,
            tar.to_str().expect("utf8"),
            "docker.io/library/nginx:latest",
        ]),
        "podman import",
    );
    // The working directory: a git repository with the two scripts.
    let work = scratch.path().join("work");
    fs::create_dir(&work).expect("work");
    for (name, text) in [("app", APP), ("integration-tests", INTEGRATION_TESTS)] {
        fs::write(work.join(name), text).expect("script");
        fs::set_permissions(work.join(name), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    ok(
        &run("git", &["-C", work.to_str().expect("utf8"), "init", "-q"]),
        "git init",
    );
    // The pod the README records, waiting for its trigger.
    let share = cri.fresh_share("readme");
    let pod = cri.run_pod_with(
        POD,
        "shop",
        &[("pod-template-hash", "7d9f8b6c5d"), ("app", "web")],
        &[],
    );
    let pod_ctr = pod.start(&ContainerSpec::shell(
        "web",
        "until [ -e /share/readme/go ]; do sleep 0.05; done; ls / >/dev/null; echo pod-done",
    ));

    let mut env: Vec<(&str, String)> = podman
        .env_vars()
        .iter()
        .map(|(k, v)| (*k, v.display().to_string()))
        .collect();
    env.push(("CONTAINER_RUNTIME_ENDPOINT", cri.endpoint()));
    env.push(("SECCOMP_RECORDER_BPF_DIR", bpf.display().to_string()));
    env.push(("SECCOMP_RECORDER_RUN_DIR", run_dir.display().to_string()));
    let output = Path::new("/var/lib/seccomp-recorder");

    let mut covered = Vec::new();
    in_overlay_root(scratch.path(), || {
        for command in &commands {
            let step = planned(command).1;
            let cwd = if command.contains("./target/dist/") {
                &root
            } else {
                &work
            };
            eprintln!("README $ {command}   [{step:?}]");
            match step {
                Step::Covered(why) => covered.push(format!("{command}: {why}")),
                Step::Run => {
                    let o = bash(command, cwd, &env).output().expect("bash");
                    ok(&o, &format!("README `{command}`"));
                    let out = stdout(&o);
                    if command.starts_with("seccomp-recorder --version") {
                        assert!(out.starts_with("seccomp-recorder "), "{out}");
                    }
                    if command.starts_with("sudo seccomp-recorder enforce") {
                        assert!(out.contains("app-ran"), "{out}");
                    }
                    if command.starts_with("./integration-tests") {
                        assert!(out.contains("integration-tests-passed"), "{out}");
                    }
                    if command.starts_with("sudo apt install") {
                        // The hooks podman will run: the packaged ones, overridden in
                        // /etc with this test's pins, state and log.
                        install_etc_override(&bpf, &run_dir, &hook_log, None);
                    }
                }
                Step::Foreground => {
                    let mut child = bash(command, cwd, &env)
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("bash");
                    let up = wait_for(Duration::from_secs(60), || {
                        let o = podman.podman(&["top", "--latest"]);
                        o.status.success() && stdout(&o).contains("nginx: worker process")
                    });
                    let o = podman.podman(&["stop", "--latest"]);
                    let status = child.wait().expect("wait");
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    assert!(
                        up,
                        "README `{command}`: nginx's workers never ran ({status:?}): {err}\n\
                         hook log: {}",
                        fs::read_to_string(&hook_log).unwrap_or_default()
                    );
                    ok(&o, "podman stop --latest");
                    assert!(status.success(), "README `{command}`: {status:?}: {err}");
                }
                Step::Pod => {
                    // Its own process group, as a terminal's foreground job: Ctrl-C
                    // below is a SIGINT to the group.
                    let mut child = bash(command, cwd, &env)
                        .stderr(Stdio::piped())
                        .process_group(0)
                        .spawn()
                        .expect("bash");
                    let err = child.stderr.take().expect("stderr");
                    let mut lines = std::io::BufReader::new(err).lines();
                    let mut seen = Vec::new();
                    for l in lines.by_ref().map_while(Result::ok) {
                        let attached = l.contains("from now on");
                        seen.push(l);
                        if attached {
                            break;
                        }
                    }
                    fs::write(share.join("go"), b"").expect("trigger");
                    // The pod's workload ends; its sandbox lives on, so the recording
                    // ends as the README's user ends it: Ctrl-C.
                    assert_eq!(pod.wait_exit(&pod_ctr, Duration::from_secs(30)), 0);
                    // SAFETY: kill(2) on the child's process group.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
                    seen.extend(lines.map_while(Result::ok));
                    let status = child.wait().expect("wait");
                    assert!(status.success(), "README `{command}`: {status:?}: {seen:?}");
                }
            }
            // What the command left behind.
            if command.starts_with("sudo seccomp-recorder record") {
                assert!(work.join("app.json").is_file(), "no app.json");
            }
            if command.starts_with("sudo podman run --annotation") {
                let names = crate::common::allowed_names(&output.join("web.json"));
                assert!(names.iter().any(|n| n == "setuid"), "{names:?}");
            }
            if command.starts_with("sudo podman stop web") {
                assert!(output.join("ci/web.report.json").is_file(), "no report");
            }
            if command.starts_with("seccomp-recorder record --pod") {
                let names = crate::common::allowed_names(&work.join("web.json"));
                assert!(names.iter().any(|n| n == "getdents64"), "{names:?}");
            }
        }
        let o = Command::new("git")
            .args([
                "-C",
                work.to_str().expect("utf8"),
                "diff",
                "--cached",
                "--name-only",
            ])
            .output()
            .expect("git");
        assert_eq!(stdout(&o).trim(), "seccomp/web.json");
    });
    drop(pod);
    eprintln!("covered elsewhere:\n  {}", covered.join("\n  "));
    drop(podman);
}
