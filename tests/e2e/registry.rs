//! `push` and `pull` against a private registry on loopback (Debian `docker-registry`,
//! started by the tests), read back by `skopeo` as an independent client.

use std::path::Path;
use std::process::Command;

use crate::common::registry::{self as reg, skopeo};
use crate::common::{bin, have, prerequisite, stderr, stdout};

fn ready() -> bool {
    prerequisite(
        reg::available(),
        "docker-registry (apt-get install docker-registry)",
    ) && prerequisite(have("skopeo"), "skopeo (apt-get install skopeo)")
}

/// A runtime-spec profile as `record` writes it.
const PROFILE: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [{"names": ["exit_group", "read", "write"], "action": "SCMP_ACT_ALLOW"}]
}
"#;

/// A podman/Docker file whose arch_prctl rule applies to amd64 only.
const PER_ARCH: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO",
 "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
            {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
 "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
             {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}}]}"#;

fn sha256_hex(bytes: &[u8]) -> String {
    seccomp_profile::artifact::Digest::of(bytes)
        .as_str()
        .trim_start_matches("sha256:")
        .to_owned()
}

fn sr(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        // No auth file of the host's user gets in the way.
        .env("REGISTRY_AUTH_FILE", "/nonexistent/auth.json")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run seccomp-recorder")
}

fn push(file: &Path, reference: &str) -> String {
    let out = sr(&["push", &file.to_string_lossy(), reference]);
    assert!(out.status.success(), "push: {}", stderr(&out));
    let printed = stdout(&out).trim().to_owned();
    assert!(!printed.contains('\n'), "push prints one line: {printed}");
    printed
}

#[e2e_macros::test]
fn pushed_profile_comes_back_byte_for_byte_by_tag_and_by_digest_and_skopeo_reads_it() {
    if !ready() {
        return;
    }
    let registry = reg::open();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.json");
    std::fs::write(&file, PROFILE).expect("write profile");
    let tag = registry.repo("profiles/web:v1");
    let by_digest = push(&file, &tag);
    assert!(
        by_digest.starts_with(&format!("{}@sha256:", registry.repo("profiles/web"))),
        "{by_digest}"
    );

    for reference in [
        tag.as_str(),
        by_digest.as_str(),
        &format!("{tag}@{}", &by_digest[by_digest.len() - 71..]),
    ] {
        let out_file = dir.path().join("pulled.json");
        let _ = std::fs::remove_file(&out_file);
        let out = sr(&["pull", reference, "-o", &out_file.to_string_lossy()]);
        assert!(out.status.success(), "pull {reference}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "pull -o prints nothing on stdout");
        assert_eq!(
            std::fs::read_to_string(&out_file).expect("pulled"),
            PROFILE,
            "{reference}"
        );
    }
    let out = sr(&["pull", &tag]);
    assert_eq!(stdout(&out), PROFILE, "pull to stdout");

    // skopeo: the manifest is the KEP-6061 layout, its digest is the one push printed.
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{tag}"),
    ]);
    assert!(raw.status.success(), "skopeo inspect: {}", stderr(&raw));
    assert!(
        by_digest.ends_with(&sha256_hex(&raw.stdout)),
        "digest of the manifest skopeo read"
    );
    let m: serde_json::Value = serde_json::from_slice(&raw.stdout).expect("manifest json");
    let media = "application/vnd.cncf.seccomp-profile.config.v1+json";
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["artifactType"], media);
    assert_eq!(m["config"]["mediaType"], media);
    let layers = m["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/json");
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "profile.json"
    );
    // skopeo copies the artifact out: its layer is the profile.
    let copy = dir.path().join("copy");
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{by_digest}"),
        &format!("dir:{}", copy.display()),
    ]);
    assert!(out.status.success(), "skopeo copy: {}", stderr(&out));
    let layer = copy.join(sha256_hex(PROFILE.as_bytes()));
    assert_eq!(
        std::fs::read_to_string(&layer).expect("layer file"),
        PROFILE
    );
}

#[e2e_macros::test]
fn a_wrong_digest_fails_with_exit_78_and_writes_nothing() {
    if !ready() {
        return;
    }
    let registry = reg::open();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    std::fs::write(&file, PROFILE).expect("write profile");
    let tag = registry.repo("profiles/pinned:v1");
    let good = push(&file, &tag);
    let good_digest = &good[good.len() - 71..];
    // The tag moves to another profile: a pin of the old digest no longer matches.
    std::fs::write(&file, PROFILE.replace("\"write\"", "\"write\", \"openat\"")).expect("edit");
    let moved = push(&file, &tag);
    let moved_digest = &moved[moved.len() - 71..];
    assert_ne!(good_digest, moved_digest);
    let out_file = dir.path().join("out.json");
    let out = sr(&[
        "pull",
        &format!("{tag}@{good_digest}"),
        "-o",
        &out_file.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(78), "tag moved: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(good_digest) && err.contains(moved_digest),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!out_file.exists(), "nothing written on a mismatch");
    // A digest the repository has never had.
    let never = format!("sha256:{}", "0".repeat(64));
    let out = sr(&[
        "pull",
        &format!("{}@{never}", registry.repo("profiles/pinned")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "unknown digest: {}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    // The old digest itself still pulls the old profile.
    let out = sr(&["pull", &good]);
    assert_eq!(stdout(&out), PROFILE);
}

#[e2e_macros::test]
fn a_profile_that_differs_per_arch_is_an_index_of_one_artifact_per_platform() {
    if !ready() {
        return;
    }
    let registry = reg::open();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("multi.json");
    std::fs::write(&file, PER_ARCH).expect("write profile");
    let tag = registry.repo("profiles/multi:v1");
    let by_digest = push(&file, &tag);
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{tag}"),
    ]);
    assert!(raw.status.success(), "skopeo inspect: {}", stderr(&raw));
    assert!(by_digest.ends_with(&sha256_hex(&raw.stdout)));
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).expect("index json");
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap_or(""),
                m["platform"]["architecture"].as_str().unwrap_or("")
            )
        })
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // skopeo picks a platform's manifest from the index like a runtime does.
    let arm = skopeo(&[
        "--override-arch",
        "arm64",
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{tag}"),
    ]);
    assert!(arm.status.success(), "{}", stderr(&arm));

    let pull = |platform: &str| {
        let out = sr(&["pull", &tag, "--platform", platform]);
        assert!(out.status.success(), "pull {platform}: {}", stderr(&out));
        stdout(&out)
    };
    let amd64 = pull("linux/amd64");
    let arm64 = pull("linux/arm64");
    assert!(
        amd64.contains("arch_prctl") && amd64.contains("SCMP_ARCH_X86_64"),
        "{amd64}"
    );
    assert!(
        !arm64.contains("arch_prctl") && arm64.contains("SCMP_ARCH_AARCH64"),
        "{arm64}"
    );
    assert!(!arm64.contains("SCMP_ARCH_X86"), "{arm64}");
    let out = sr(&["pull", &tag, "--platform", "linux/s390x"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(stderr(&out).contains("linux/amd64"), "{}", stderr(&out));
}

#[e2e_macros::test]
fn a_registry_with_a_login_takes_username_password_and_the_auth_file() {
    if !ready() || !prerequisite(have("python3"), "python3 (bcrypt for htpasswd)") {
        return;
    }
    let registry = reg::with_login("ci", "s3cret");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    std::fs::write(&file, PROFILE).expect("write profile");
    let tag = registry.repo("private/web:v1");
    let path = file.to_string_lossy().into_owned();

    let out = sr(&["push", &path, &tag]);
    assert_eq!(out.status.code(), Some(77), "anonymous: {}", stderr(&out));
    let out = sr(&[
        "push",
        &path,
        &tag,
        "--username",
        "ci",
        "--password",
        "wrong",
    ]);
    assert_eq!(
        out.status.code(),
        Some(77),
        "wrong password: {}",
        stderr(&out)
    );
    let out = sr(&[
        "push",
        &path,
        &tag,
        "--username",
        "ci",
        "--password",
        "s3cret",
    ]);
    assert!(out.status.success(), "push with login: {}", stderr(&out));

    // podman's auth file, as `podman login` writes it.
    let auth = dir.path().join("auth.json");
    let token = base64_of("ci:s3cret");
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{token}"}}}}}}"#,
            registry.addr
        ),
    )
    .expect("auth file");
    let out = Command::new(bin())
        .args(["pull", &tag])
        .env("REGISTRY_AUTH_FILE", &auth)
        .output()
        .expect("pull");
    assert!(
        out.status.success(),
        "pull with REGISTRY_AUTH_FILE: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), PROFILE);
    // skopeo with the same file reads what we pushed.
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        "--authfile",
        &auth.to_string_lossy(),
        &format!("docker://{tag}"),
    ]);
    assert!(
        raw.status.success(),
        "skopeo with the auth file: {}",
        stderr(&raw)
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
