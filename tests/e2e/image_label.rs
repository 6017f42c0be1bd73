//! Shipping the profile with the image: `label` prints the `io.containers.seccomp.profile`
//! LABEL line, buildah builds an image with it, and podman `--seccomp-policy=image`
//! enforces it.

use crate::common;

use std::fs;
use std::process::Command;

use common::installed::Installed;
use common::podman::{output_timeout, PodmanEnv, PODMAN_TIMEOUT};
use common::*;

const IMAGE: &str = "localhost/sr-labelled:test";

#[e2e_macros::test]
fn image_label_profile_is_enforced_under_seccomp_policy_image() {
    if !can_record() {
        return;
    }
    let Some(env) = PodmanEnv::new() else { return };
    if !prerequisite(have("buildah"), "buildah (apt-get install buildah)") {
        return;
    }
    let inst = Installed::new(env.dir(), env.hooks_dir(), "img");
    let script = "ls / >/dev/null; grep Seccomp: /proc/self/status; echo ok";
    let o = env.run(
        &["--annotation", "seccomp-recorder.io/output=img.json"],
        &["sh", "-c", script],
    );
    assert!(o.status.success(), "record: {}\n{}", stderr(&o), inst.log());
    let profile = inst.out.join("img.json");
    // The hook saw crun start the container, and added every runtime's tail.
    assert!(inst.log().contains("detected=crun"), "{}", inst.log());
    assert!(allowed_names(&profile).contains(&"futex".to_owned()));

    let o = run(&["label", profile.to_str().expect("utf8")]);
    assert!(o.status.success(), "label: {}", stderr(&o));
    let line = stdout(&o);
    assert!(
        line.starts_with("LABEL io.containers.seccomp.profile=\"{\\\"")
            && line.contains("\\\"defaultAction\\\":\\\"SCMP_ACT_ERRNO\\\""),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
    // A recording is not a profile.
    let stats = env.dir().join("x.stats.json");
    fs::write(&stats, r#"{"syscalls":[]}"#).expect("stats");
    let o = run(&["label", stats.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a seccomp profile"),
        "{}",
        stderr(&o)
    );

    // Build FROM scratch with the busybox rootfs and the LABEL line exactly as printed.
    let ctx = env.dir().join("ctx");
    fs::create_dir(&ctx).expect("ctx");
    let st = Command::new("cp")
        .arg("-a")
        .arg(env.rootfs())
        .arg(ctx.join("rootfs"))
        .status()
        .expect("cp");
    assert!(st.success());
    fs::write(
        ctx.join("Containerfile"),
        format!("FROM scratch\nCOPY rootfs/ /\n{line}CMD [\"sh\"]\n"),
    )
    .expect("Containerfile");
    let mut b = Command::new("buildah");
    for (k, v) in env.env_vars() {
        b.env(k, v);
    }
    b.args([
        "bud",
        "--isolation",
        "chroot",
        "--layers=false",
        "-t",
        IMAGE,
        "-f",
    ])
    .arg(ctx.join("Containerfile"))
    .arg(&ctx);
    let o = output_timeout(b, PODMAN_TIMEOUT);
    assert!(o.status.success(), "buildah bud: {}", stderr(&o));

    let o = env.podman(&[
        "image",
        "inspect",
        "--format",
        "{{index .Labels \"io.containers.seccomp.profile\"}}",
        IMAGE,
    ]);
    assert!(o.status.success(), "inspect: {}", stderr(&o));
    let label: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("label json");
    let file: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&profile).expect("profile")).expect("json");
    assert_eq!(label, file, "the label carries the recorded profile");

    let run_image = |opts: &[&str], cmd: &[&str]| {
        let mut args = vec!["run", "--rm", "--network=none"];
        args.extend_from_slice(opts);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        env.podman(&args)
    };
    // The workload runs under the image's profile, with defaults and no-new-privileges.
    for extra in [&[][..], &["--security-opt", "no-new-privileges"][..]] {
        let mut opts = vec!["--seccomp-policy=image"];
        opts.extend_from_slice(extra);
        let o = run_image(&opts, &["sh", "-c", script]);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("Seccomp:\t2"), "{}", stdout(&o));
        assert!(stdout(&o).ends_with("ok\n"), "{}", stdout(&o));
    }
    // Control: unshare -n works with CAP_SYS_ADMIN and no filter ...
    let o = run_image(
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--cap-add",
            "SYS_ADMIN",
        ],
        &["unshare", "-n", "true"],
    );
    assert!(o.status.success(), "control: {}", stderr(&o));
    // ... and is denied by the profile from the label.
    let o = run_image(
        &["--seccomp-policy=image", "--cap-add", "SYS_ADMIN"],
        &["unshare", "-n", "true"],
    );
    assert!(
        !o.status.success(),
        "unshare -n ran under the image's profile"
    );
    assert!(
        stderr(&o).contains("Function not implemented"),
        "{}",
        stderr(&o)
    );
    let _ = env.podman(&["rmi", "-f", IMAGE]);
    // podman first (its Drop waits for conmon's late cleanup hooks), then our pins.
    drop(env);
    drop(inst);
}
