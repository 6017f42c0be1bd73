//! A profile recorded through one runtime, proven under the others we can start here:
//! runc and crun (bundles from `runc spec`, the same busybox) and the private Docker
//! daemon. Used for the profiles that come out of the CRI (`record --pod`, the node
//! agent), which containerd runs with runc only: the same profile file is what a user
//! takes to podman (crun), a plain runc or Docker.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::docker::{which, DockerEnv};
use super::podman::crun_for_bundles;
use super::runc::{Bundle, RuncEnv};
use super::{read_json, stderr, stdout};

/// What to replay: `args` run in a container that sees the host dir `share` at
/// `/share` (as the CRI env mounts it), and must print `expect`.
pub struct Workload<'a> {
    /// The host dir seen at `/share`.
    pub share: &'a Path,
    /// The container's command (absolute paths: the images have PATH=/bin).
    pub args: &'a [&'a str],
    /// A line the workload prints when it worked.
    pub expect: &'a str,
}

/// Runs `work` under `profile` (an OCI profile file) `runs` times through runc and
/// crun, once more each with no_new_privs, and `runs` times in Docker; every run must
/// exit 0 and print `work.expect`. Then `unshare -n` with CAP_SYS_ADMIN, which works
/// unconfined, must be refused under the profile in each of them. Returns the number of
/// enforced runs, `None` when a runtime is missing outside CI (skipped, noted as such;
/// under CI=true a missing one fails).
pub fn replay_in_runc_crun_and_docker(
    profile: &Path,
    work: &Workload,
    runs: usize,
) -> Option<usize> {
    let doc = read_json(profile);
    let mut enforced = 0;

    let crun = crun_for_bundles()?;
    let runc = RuncEnv::new()?;
    let runtimes = [("runc", PathBuf::from(which("runc"))), ("crun", crun)];
    let with_share = |mut b: Bundle| {
        let mounts = b.config_mut()["mounts"]
            .as_array_mut()
            .expect("runc spec has mounts");
        mounts.push(json!({
            "destination": "/share",
            "type": "bind",
            "source": work.share,
            "options": ["rbind", "rw"],
        }));
        b
    };
    let bundle = with_share(runc.bundle(work.args)).seccomp(doc.clone());
    for (name, bin) in &runtimes {
        for (nnp, n) in [(false, runs), (true, 1)] {
            for i in 0..n {
                let (id, o) = runc.run_via(bin, &bundle.clone().no_new_privileges(nnp));
                assert!(
                    o.status.success() && stdout(&o).contains(work.expect),
                    "{name} (no_new_privs {nnp}) run {i} of {n} ({id}) under {}: {}\nstdout: {}",
                    profile.display(),
                    stderr(&o),
                    stdout(&o)
                );
                enforced += 1;
            }
        }
        let unshare = ["/bin/unshare", "-n", "/bin/true"];
        let (_, o) = runc.run_via(bin, &runc.bundle(&unshare).cap_add("SYS_ADMIN"));
        assert!(
            o.status.success(),
            "{name} control: unshare with SYS_ADMIN and no filter: {}",
            stderr(&o)
        );
        let (_, o) = runc.run_via(
            bin,
            &runc
                .bundle(&unshare)
                .cap_add("SYS_ADMIN")
                .seccomp(doc.clone()),
        );
        assert!(
            !o.status.success(),
            "{name}: unshare ran under {}",
            profile.display()
        );
    }

    let docker = DockerEnv::get()?;
    let sec = format!("seccomp={}", profile.display());
    let mount = format!("{}:/share", work.share.display());
    for i in 0..runs {
        let o = docker.run(&["--security-opt", &sec, "-v", &mount], work.args);
        assert!(
            o.status.success() && stdout(&o).contains(work.expect),
            "docker run {i} of {runs} under {}: {}\nstdout: {}",
            profile.display(),
            stderr(&o),
            stdout(&o)
        );
        enforced += 1;
    }
    let unshare = ["/bin/unshare", "-n", "/bin/true"];
    let o = docker.run(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--cap-add",
            "SYS_ADMIN",
        ],
        &unshare,
    );
    assert!(o.status.success(), "docker control: {}", stderr(&o));
    let o = docker.run(
        &["--security-opt", &sec, "--cap-add", "SYS_ADMIN"],
        &unshare,
    );
    assert!(
        !o.status.success(),
        "docker: unshare ran under {}",
        profile.display()
    );
    Some(enforced)
}
