//! The package of `cargo xtask dist` (`SR_DEB`, `SR_DIST_TARBALL`; `cargo xtask test`
//! builds both): what it holds, that `apt-get install ./FILE.deb` installs it on a
//! clean root where `seccomp-recorder install`, a recorded podman container and its
//! enforced profile, the bash completion and the man pages work from the installed
//! files, and that `dpkg -r` / `dpkg -P` take it away again.
//!
//! Two roots, neither of them the host's:
//! - the host's own tree (apt, podman, crun) in a private mount namespace of one test
//!   thread, with overlays over /usr, /etc and /var: apt, dpkg, the package and
//!   `install` write into the overlays' upper directories (a temp dir) and vanish with
//!   the namespace. This is the "clean machine": real apt with its dependency
//!   resolution and dpkg triggers (man-db), the package absent before (checked), and
//!   the runtime the hooks are for. The host is checked before and after: its dpkg
//!   database and /usr/bin are untouched.
//! - an empty directory with only a dpkg database (`dpkg --root`): the package needs
//!   nothing else (no Depends, no maintainer scripts), and the binary runs chrooted in
//!   a root with no libc and no ld.so: it is static.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::podman::{output_timeout, PodmanEnv, PODMAN_TIMEOUT};
use crate::common::{bin, can_record, have, prerequisite, stderr, stdout};

const PKG: &str = "seccomp-recorder";
const BIN: &str = "/usr/bin/seccomp-recorder";
const HOOKS_DIR: &str = "/usr/share/containers/oci/hooks.d";
const HOOK_FILES: [&str; 2] = [
    "seccomp-recorder-prestart.json",
    "seccomp-recorder-poststop.json",
];
const BASH_COMPLETION: &str = "/usr/share/bash-completion/completions/seccomp-recorder";

/// The .deb of `cargo xtask dist`, when `SR_DEB` names one (a prerequisite).
fn deb() -> Option<PathBuf> {
    let deb = std::env::var_os("SR_DEB").map(PathBuf::from);
    prerequisite(
        deb.as_ref().is_some_and(|d| d.is_file()),
        "the package: SR_DEB naming the .deb of `cargo xtask dist` (cargo xtask test sets it)",
    )
    .then(|| deb.expect("checked"))
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// `dpkg-deb --info/--contents` show a static amd64 package with no Depends, the
/// binary, the hooks naming /usr/bin, every man page gzipped, the completions and the
/// docs, all root-owned; the tarball holds the same tree.
#[e2e_macros::test]
fn the_deb_holds_the_binary_hooks_man_pages_and_completions() {
    let Some(deb) = deb() else { return };
    if !prerequisite(have("dpkg-deb"), "dpkg-deb") {
        return;
    }
    let deb_s = deb.to_str().expect("utf8");
    let info = ok(&run("dpkg-deb", &["--info", deb_s]), "dpkg-deb --info");
    for want in [
        "Package: seccomp-recorder\n",
        &format!("Version: {}\n", env!("CARGO_PKG_VERSION")),
        "Architecture: amd64\n",
        "Section: admin\n",
        "Priority: optional\n",
        "Recommends: podman | cri-o",
        "Installed-Size: ",
        "Maintainer: ",
        "Description: ",
        "Built-Using: glibc (= ",
    ] {
        assert!(info.contains(want), "{want:?} missing from:\n{info}");
    }
    assert!(
        !info.contains("Depends:"),
        "a static binary depends on nothing:\n{info}"
    );
    assert!(info.contains(" md5sums"), "no md5sums:\n{info}");

    let contents = ok(
        &run("dpkg-deb", &["--contents", deb_s]),
        "dpkg-deb --contents",
    );
    let files: Vec<(&str, &str)> = contents
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1], f[5].trim_start_matches('.'))
        })
        .collect();
    assert!(
        files.iter().all(|(owner, _)| *owner == "root/root"),
        "{contents}"
    );
    let paths: Vec<&str> = files.iter().map(|(_, p)| *p).collect();
    let mut want: Vec<String> = vec![
        BIN.into(),
        BASH_COMPLETION.into(),
        "/usr/share/zsh/vendor-completions/_seccomp-recorder".into(),
        "/usr/share/fish/vendor_completions.d/seccomp-recorder.fish".into(),
        "/usr/share/doc/seccomp-recorder/copyright".into(),
        "/usr/share/doc/seccomp-recorder/changelog.gz".into(),
        "/var/lib/seccomp-recorder/".into(),
    ];
    want.extend(HOOK_FILES.iter().map(|f| format!("{HOOKS_DIR}/{f}")));
    // One page per command, as `man --output-dir` writes them.
    let pages = tempfile::tempdir().expect("tempdir");
    let listed = ok(
        &Command::new(bin())
            .args(["man", "--output-dir"])
            .arg(pages.path())
            .output()
            .expect("man"),
        "man --output-dir",
    );
    for page in listed.lines() {
        let name = Path::new(page).file_name().expect("name").to_string_lossy();
        want.push(format!("/usr/share/man/man1/{name}.gz"));
    }
    for w in &want {
        assert!(paths.contains(&w.as_str()), "{w} missing from:\n{contents}");
    }
    assert!(
        contents
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/bin/seccomp-recorder")),
        "binary not 0755:\n{contents}"
    );

    // The packaged hooks are what `install --bin-dir /usr/bin` writes (the code, run
    // here from the test build), and differ from the repository's hooks/ templates
    // (an install into /usr/local/bin) in `path` only.
    let tree = tempfile::tempdir().expect("tempdir");
    ok(
        &run(
            "dpkg-deb",
            &["-x", deb_s, tree.path().to_str().expect("utf8")],
        ),
        "dpkg-deb -x",
    );
    let mine = tempfile::tempdir().expect("tempdir");
    ok(
        &Command::new(bin())
            .args(["install", "--bin-dir", "/usr/bin", "--hooks-dir", HOOKS_DIR])
            .arg("--destdir")
            .arg(mine.path())
            .output()
            .expect("install --destdir"),
        "install --destdir",
    );
    let repo_hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hooks");
    for f in HOOK_FILES {
        let rel = format!("{}/{f}", HOOKS_DIR.trim_start_matches('/'));
        let packaged = fs::read_to_string(tree.path().join(&rel)).expect("packaged hook");
        let installed = fs::read_to_string(mine.path().join(&rel)).expect("installed hook");
        assert_eq!(
            packaged, installed,
            "{f}: the package's hook is not install's"
        );
        let template = fs::read_to_string(repo_hooks.join(f)).expect("hooks/ template");
        assert_eq!(
            packaged,
            template.replace("/usr/local/bin/seccomp-recorder", BIN),
            "{f}: the package's hook and hooks/{f} differ in more than the path"
        );
        let def: serde_json::Value = serde_json::from_str(&packaged).expect("hook json");
        assert_eq!(def["hook"]["path"], BIN);
    }
    // install --destdir put nothing outside its directory: the binary is the test
    // build's own, copied below it.
    assert!(mine.path().join("usr/bin/seccomp-recorder").is_file());

    // Static: no ELF interpreter.
    let packaged_bin = tree.path().join("usr/bin/seccomp-recorder");
    if prerequisite(have("file"), "file (apt-get install file)") {
        let f = ok(
            &Command::new("file")
                .arg(&packaged_bin)
                .output()
                .expect("file"),
            "file",
        );
        assert!(f.contains("static"), "not static: {f}");
        assert!(!f.contains("interpreter"), "dynamically linked: {f}");
    }
    let l = Command::new("ldd")
        .arg(&packaged_bin)
        .output()
        .expect("ldd");
    let text = format!("{}{}", stdout(&l), stderr(&l));
    assert!(
        text.contains("statically linked") || text.contains("not a dynamic executable"),
        "ldd: {text}"
    );

    // The tarball: the same tree without DEBIAN/.
    let tarball = std::env::var_os("SR_DIST_TARBALL").map(PathBuf::from);
    if prerequisite(
        tarball.as_ref().is_some_and(|t| t.is_file()),
        "the tarball: SR_DIST_TARBALL naming the .tar.gz of `cargo xtask dist`",
    ) {
        let t = tarball.expect("checked");
        let listed = ok(
            &run("tar", &["-tzf", t.to_str().expect("utf8")]),
            "tar -tzf",
        );
        let mut tar: Vec<&str> = listed.lines().map(|l| l.trim_start_matches('.')).collect();
        let mut deb: Vec<&str> = paths.clone();
        tar.sort_unstable();
        deb.sort_unstable();
        assert_eq!(tar, deb, "the tarball and the package hold different trees");
    }
}

/// `dpkg --root` into an empty directory: installs without anything else, the binary
/// runs chrooted without a libc, and purge leaves only dpkg's own database.
#[e2e_macros::test]
fn the_deb_installs_into_an_empty_root_and_purges_clean() {
    let Some(deb) = deb() else { return };
    // SAFETY: geteuid never fails.
    let root = unsafe { libc::geteuid() } == 0;
    if !prerequisite(root, "must run as root (chroot)") || !prerequisite(have("dpkg"), "dpkg") {
        return;
    }
    let r = tempfile::Builder::new()
        .prefix("sr-dist-root-")
        .tempdir()
        .expect("tempdir");
    let admin = r.path().join("var/lib/dpkg");
    fs::create_dir_all(admin.join("info")).expect("dpkg info");
    fs::create_dir_all(admin.join("updates")).expect("dpkg updates");
    fs::write(admin.join("status"), "").expect("dpkg status");
    let dpkg = |args: &[&str]| {
        Command::new("dpkg")
            .arg("--root")
            .arg(r.path())
            // dpkg.log would be the host's.
            .arg("--log=/dev/null")
            .args(args)
            .output()
            .expect("dpkg")
    };
    ok(
        &dpkg(&["-i", deb.to_str().expect("utf8")]),
        "dpkg --root -i",
    );
    assert!(!r.path().join("lib").exists() && !r.path().join("lib64").exists());
    let v = ok(
        &Command::new("chroot")
            .arg(r.path())
            .args([BIN, "--version"])
            .output()
            .expect("chroot"),
        "the binary in an empty root",
    );
    assert!(
        v.starts_with(&format!("seccomp-recorder {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let script = ok(
        &Command::new("chroot")
            .arg(r.path())
            .args([BIN, "completions", "bash"])
            .output()
            .expect("chroot"),
        "completions in an empty root",
    );
    assert_eq!(
        script,
        fs::read_to_string(r.path().join(BASH_COMPLETION.trim_start_matches('/')))
            .expect("packaged completion"),
        "the packaged bash completion is not the binary's"
    );
    ok(&dpkg(&["-P", PKG]), "dpkg --root -P");
    let mut left: Vec<String> = walk(r.path())
        .into_iter()
        .filter(|p| !p.starts_with(&admin))
        .map(|p| p.display().to_string())
        .collect();
    left.sort();
    // Only the parents of dpkg's database remain.
    assert_eq!(
        left,
        [r.path().join("var"), r.path().join("var/lib")]
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
        "purge left files behind"
    );
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

mod installed;
mod walkthrough;
