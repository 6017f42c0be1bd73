//! The package installed with apt on the host's tree under overlays (see the module
//! above): `seccomp-recorder install`, a recorded and then enforced podman container,
//! bash completion and man pages from the installed files, then `dpkg -r` and `-P`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::*;

/// The directories the package manager writes below (apt: /var/lib/apt,
/// /var/cache/apt, /var/log; dpkg: /var/lib/dpkg; the package: /usr, /var/lib; man-db's
/// trigger: /var/cache/man; `install --hooks-dir /etc/...`: /etc).
const OVERLAID: [&str; 3] = ["/usr", "/etc", "/var"];

/// Runs `f` on a thread of its own in a private mount namespace where [`OVERLAID`] are
/// overlays whose upper directories are below `upper` (a temp dir of the host). The
/// namespace ends with the thread (and whatever it started): the host never sees the
/// overlays' changes.
pub(super) fn in_overlay_root<T: Send>(upper: &Path, f: impl FnOnce() -> T + Send) -> T {
    let name = std::thread::current().name().unwrap_or("dist").to_owned();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(name)
            .spawn_scoped(s, || {
                // A thread may unshare its mount namespace (CLONE_NEWNS implies
                // CLONE_FS: its own root and cwd too); the test binary's other threads
                // keep the host's.
                unshare(CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .expect("make / private in the namespace");
                for dir in OVERLAID {
                    let name = dir.trim_start_matches('/');
                    let up = upper.join("upper").join(name);
                    let work = upper.join("work").join(name);
                    fs::create_dir_all(&up).expect("upper dir");
                    fs::create_dir_all(&work).expect("work dir");
                    let opts = format!(
                        "lowerdir={dir},upperdir={},workdir={}",
                        up.display(),
                        work.display()
                    );
                    mount(
                        Some("overlay"),
                        dir,
                        Some("overlay"),
                        MsFlags::empty(),
                        Some(opts.as_str()),
                    )
                    .unwrap_or_else(|e| panic!("overlay on {dir} ({opts}): {e}"));
                }
                f()
            })
            .expect("spawn the namespace thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// What the host's dpkg database says about the package, and whether /usr/bin has it.
fn host_state() -> (String, bool) {
    let o = run("dpkg-query", &["-W", "-f=${db:Status-Abbrev}", PKG]);
    (
        format!("{}{}", stdout(&o), o.status),
        Path::new(BIN).exists(),
    )
}

/// The package's status in the dpkg database: `None` when dpkg does not know it.
fn status() -> Option<String> {
    let o = run("dpkg-query", &["-W", "-f=${db:Status-Abbrev}", PKG]);
    o.status.success().then(|| stdout(&o).trim().to_owned())
}

/// The hooks' pin and run directories: unloaded and removed at the end, also when the
/// test fails.
pub(super) struct Pins(pub(super) PathBuf, pub(super) PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        let _ = Command::new(crate::common::bin())
            .arg("unload")
            .env("SECCOMP_RECORDER_BPF_DIR", &self.0)
            .env("SECCOMP_RECORDER_RUN_DIR", &self.1)
            .output();
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The hooks' pin directory of a test (`tag`): below the run's own (cargo xtask test's
/// `SECCOMP_RECORDER_BPF_DIR`), so that nothing touches an installation's defaults.
pub(super) fn private_pins(tag: &str) -> PathBuf {
    let pid = std::process::id();
    match std::env::var_os("SECCOMP_RECORDER_BPF_DIR") {
        Some(d) => PathBuf::from(d).join(format!("{tag}-{pid}")),
        None => PathBuf::from(format!("/sys/fs/bpf/sr-{tag}-{pid}")),
    }
}

/// `seccomp-recorder install` of the installed package into /etc/containers/oci/hooks.d
/// (podman's override of the packaged hook files of the same name), with a test's pins,
/// state and log (bpffs and /run are not under the overlays), and `--output-dir out`
/// when given (else the package's /var/lib/seccomp-recorder).
pub(super) fn install_etc_override(
    bpf: &Path,
    run_dir: &Path,
    log: &Path,
    out: Option<&Path>,
) -> String {
    let mut c = Command::new("seccomp-recorder");
    c.args(["install", "--hooks-dir", "/etc/containers/oci/hooks.d"])
        .args(["--bin-dir", "/usr/bin"]);
    if let Some(out) = out {
        c.arg("--output-dir").arg(out);
    }
    for (k, v) in [
        ("SECCOMP_RECORDER_BPF_DIR", bpf),
        ("SECCOMP_RECORDER_RUN_DIR", run_dir),
        ("SECCOMP_RECORDER_LOG_FILE", log),
    ] {
        c.arg("--env").arg(format!("{k}={}", v.display()));
    }
    c.args(["--env", "SECCOMP_RECORDER_LOG=debug"]);
    let o = c.output().expect("seccomp-recorder install");
    ok(&o, "seccomp-recorder install (the /etc override)")
}

/// A busybox workload with files, pipes and a sub-shell; prints `done`.
const WORKLOAD: &str = "echo a > /tmp/x; cat /tmp/x | grep -c a > /tmp/n; \
ls / > /dev/null; (id -u) > /tmp/u; rm /tmp/x; echo done";

#[e2e_macros::test]
fn apt_installs_the_deb_on_a_clean_root_and_it_records_and_enforces_a_container() {
    let Some(deb) = deb() else { return };
    if !can_record()
        || !prerequisite(have("apt-get"), "apt-get")
        || !prerequisite(have("man"), "man (apt-get install man-db)")
        || !prerequisite(have("bash"), "bash")
    {
        return;
    }
    let host_before = host_state();
    let scratch = tempfile::Builder::new()
        .prefix("sr-dist-")
        .tempdir()
        .expect("tempdir");
    let bpf = private_pins("dist");
    let run_dir = scratch.path().join("run");
    let log = scratch.path().join("hook.log");
    let out = scratch.path().join("profiles");
    let default_pins = Path::new("/sys/fs/bpf/seccomp-recorder");
    let default_pins_before = default_pins.exists();
    let _pins = Pins(bpf.clone(), run_dir.clone());

    in_overlay_root(scratch.path(), || {
        // Clean: the package is unknown or not installed, and nothing is in /usr/bin.
        assert!(
            status().is_none_or(|s| s.starts_with("un") || s.starts_with("pn")),
            "the root is not clean: {:?}",
            status()
        );
        assert!(!Path::new(BIN).exists(), "{BIN} exists before the install");

        // apt, as a user would: `apt-get install ./FILE.deb`.
        let t = std::time::Instant::now();
        let o = Command::new("apt-get")
            .args(["install", "-y", "-q", "-o", "Dpkg::Use-Pty=0"])
            .arg(&deb)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("apt-get");
        ok(&o, "apt-get install ./FILE.deb");
        eprintln!("apt-get install: {:.1} s", t.elapsed().as_secs_f64());
        assert!(
            status().is_some_and(|s| s.starts_with("ii")),
            "{:?}",
            status()
        );
        let v = ok(&run("seccomp-recorder", &["--version"]), "--version");
        assert!(
            v.starts_with(&format!("seccomp-recorder {} (", env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        let which = ok(&run("sh", &["-c", "command -v seccomp-recorder"]), "which");
        assert_eq!(which.trim(), BIN);

        // Bash loads the completion and completes a subcommand prefix (the function
        // bash calls on TAB, with the words of `seccomp-recorder audit-`).
        let c = ok(
            &run(
                "bash",
                &[
                    "--norc",
                    "-c",
                    &format!("source {BASH_COMPLETION} && complete -p seccomp-recorder"),
                ],
            ),
            "bash: source the completion",
        );
        assert!(
            c.contains("-F _seccomp__recorder") && c.contains("seccomp-recorder"),
            "{c}"
        );
        let words = ok(
            &run(
                "bash",
                &[
                    "--norc",
                    "-c",
                    &format!(
                        "source {BASH_COMPLETION}; COMP_WORDS=(seccomp-recorder audit-); \
                         COMP_CWORD=1; COMP_LINE='seccomp-recorder audit-'; \
                         COMP_POINT=${{#COMP_LINE}}; \
                         _seccomp__recorder seccomp-recorder audit- seccomp-recorder; \
                         printf '%s\\n' \"${{COMPREPLY[@]}}\""
                    ),
                ],
            ),
            "bash: complete `seccomp-recorder audit-`",
        );
        let mut got: Vec<&str> = words.lines().collect();
        got.sort_unstable();
        assert_eq!(got, ["audit-profile", "audit-report"], "{words}");

        // man finds the pages where the package put them, and renders them.
        let w = ok(&run("man", &["-w", "seccomp-recorder-record"]), "man -w");
        assert_eq!(w.trim(), "/usr/share/man/man1/seccomp-recorder-record.1.gz");
        let page = Command::new("man")
            .args(["-l", "/usr/share/man/man1/seccomp-recorder.1.gz"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .expect("man -l");
        let text = ok(&page, "man -l");
        assert!(
            text.contains("NAME") && text.contains("seccomp-recorder") && text.contains("record"),
            "{text}"
        );
        assert!(!stderr(&page).contains("warning"), "{}", stderr(&page));

        // The installed package's `install`, overriding its hooks for this test.
        let said = install_etc_override(&bpf, &run_dir, &log, Some(&out));
        assert!(said.contains(&format!("installed {BIN}")), "{said}");

        let Some(env) = PodmanEnv::new() else { return };
        let hook_log = || fs::read_to_string(&log).unwrap_or_default();
        // podman's default hooks dirs, in its order: the package's, then /etc.
        let podman = |opts: &[&str], cmd: &[&str]| {
            let mut c = env.command();
            c.args(["--hooks-dir", HOOKS_DIR])
                .args(["--hooks-dir", "/etc/containers/oci/hooks.d"])
                .args(["run", "--rm", "--network=none"])
                .args(opts)
                .arg("--rootfs")
                .arg(env.rootfs())
                .args(cmd);
            output_timeout(c, PODMAN_TIMEOUT)
        };
        let profile = out.join("dist.json");
        let o = podman(
            &["--annotation", "seccomp-recorder.io/output=dist.json"],
            &["sh", "-c", WORKLOAD],
        );
        let said = ok(&o, "recorded podman run");
        assert!(said.contains("done"), "{said}");
        assert!(
            profile.is_file(),
            "no profile from the installed hooks; hook log:\n{}",
            hook_log()
        );
        let names = crate::common::allowed_names(&profile);
        for n in ["execve", "openat", "pipe2", "write"] {
            assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
        }
        assert!(!names.iter().any(|x| x == "unshare"), "{names:?}");

        // Enforced on the same container: runs, and blocks what it never did.
        let seccomp = format!("seccomp={}", profile.display());
        let o = podman(&["--security-opt", &seccomp], &["sh", "-c", WORKLOAD]);
        assert!(ok(&o, "enforced podman run").contains("done"));
        let o = podman(&["--security-opt", &seccomp], &["unshare", "-n", "true"]);
        assert!(
            !o.status.success() && stderr(&o).contains("unshare(0x40000000)"),
            "unshare under the recorded profile: {:?} {}",
            o.status,
            stderr(&o)
        );
        drop(env);

        let unload = Command::new(BIN)
            .arg("unload")
            .env("SECCOMP_RECORDER_BPF_DIR", &bpf)
            .env("SECCOMP_RECORDER_RUN_DIR", &run_dir)
            .output()
            .expect("unload");
        ok(&unload, "unload");

        // Remove, then purge: every file of the package is gone.
        let listed = ok(&run("dpkg", &["-L", PKG]), "dpkg -L");
        let files: Vec<&str> = listed.lines().filter(|p| Path::new(p).is_file()).collect();
        assert!(files.contains(&BIN), "{listed}");
        ok(&run("dpkg", &["-r", PKG]), "dpkg -r");
        let left: Vec<&&str> = files.iter().filter(|p| Path::new(p).exists()).collect();
        assert!(left.is_empty(), "dpkg -r left {left:?}");
        assert!(
            !Path::new("/var/lib/seccomp-recorder").exists(),
            "the empty output dir stayed"
        );
        ok(&run("dpkg", &["-P", PKG]), "dpkg -P");
        assert!(
            status().is_none_or(|s| s.starts_with("un") || s.starts_with("pn")),
            "after purge: {:?}",
            status()
        );
        assert!(
            run("sh", &["-c", "command -v seccomp-recorder"])
                .stdout
                .is_empty(),
            "seccomp-recorder still on PATH"
        );
    });

    assert_eq!(
        host_state(),
        host_before,
        "the host's dpkg database or /usr/bin changed"
    );
    if !default_pins_before {
        assert!(
            !default_pins.exists(),
            "the packaged hooks (default pins) ran instead of the /etc override"
        );
    }
}
