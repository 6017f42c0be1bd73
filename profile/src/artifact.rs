//! Seccomp profiles as OCI artifacts: the layout that CRI-O (1.30+, the
//! `seccomp-profile.kubernetes.cri-o.io` annotation) pulls and the Security Profiles
//! Operator's `spoc pull` reads as a "runtime format" artifact (Kubernetes KEP-6061).
//!
//! One artifact is an OCI image manifest (schema 2, image-spec 1.1) whose config blob
//! is `{}` with the media type [`PROFILE_MEDIA_TYPE`], which is also its
//! `artifactType`, and whose only layer is the profile: the runtime-spec
//! `linux.seccomp` JSON, media type `application/json`, titled `profile.json`. CRI-O
//! enforces the config media type (`requiredConfigMediaType` in
//! `internal/config/seccomp/seccompociartifact`); spoc recognises the artifact by the
//! config media type or the artifact type and then takes the single layer
//! (`internal/pkg/artifact`: `MediaTypeSeccompProfile`, `selectLayer`).
//!
//! A profile whose rules differ per architecture (a podman/Docker file with
//! `includes.arches`) cannot be one runtime-spec profile: it becomes one manifest per
//! platform (`linux/amd64`, `linux/arm64`, ...) under an OCI image index, from which a
//! puller takes its own platform's, as container runtimes do with images.
//!
//! Everything here is pure: bytes and digests in, bytes and digests out. No created
//! timestamp is stamped, so the same profile always gives the same digest.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::exit::{Categorized, Category};
use crate::profile_file::{parse_profile, HostFacts};
use crate::syscalls::Arch;

/// The config media type and artifact type of a seccomp profile artifact (KEP-6061).
pub const PROFILE_MEDIA_TYPE: &str = "application/vnd.cncf.seccomp-profile.config.v1+json";
/// The media type of the profile layer.
pub const LAYER_MEDIA_TYPE: &str = "application/json";
/// The `org.opencontainers.image.title` of the profile layer.
pub const LAYER_TITLE: &str = "profile.json";
/// The config blob: empty; the media type says what the artifact is.
pub const CONFIG_BLOB: &[u8] = b"{}";
/// An OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's manifest list (read as an index).
pub const DOCKER_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The annotation that names a layer's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// The largest manifest, index or profile we read (CRI-O's default profile size limit
/// is 1 MiB).
pub const MAX_BLOB: u64 = 4 << 20;

/// Errors of reading or checking an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A digest that is not `sha256:` and 64 lowercase hex digits.
    #[error("'{0}' is not a sha256 digest (sha256: and 64 hex digits)")]
    BadDigest(String),
    /// Bytes whose digest is not the expected one.
    #[error("digest mismatch: expected {expected}, got {actual}; the content is not what was signed or pinned")]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what came.
        actual: Digest,
    },
    /// A platform that is not OS/ARCH[/VARIANT].
    #[error("'{0}' is not a platform (OS/ARCH[/VARIANT], e.g. linux/arm64)")]
    BadPlatform(String),
    /// A manifest or index that is not JSON of its schema.
    #[error("the registry's {what} is not valid: {reason}")]
    Malformed {
        /// "manifest" or "index".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A manifest of something other than a seccomp profile.
    #[error("{reference} is not a seccomp profile artifact (config media type {config}, expected {PROFILE_MEDIA_TYPE})")]
    NotAProfile {
        /// What was pulled.
        reference: String,
        /// Its config media type.
        config: String,
    },
    /// An index without a manifest for the platform.
    #[error("the index has no profile for {platform} (it has: {available}); pass --platform")]
    NoPlatform {
        /// The platform asked for.
        platform: Platform,
        /// The platforms it has.
        available: String,
    },
    /// A blob larger than we read.
    #[error("the {what} is {size} bytes, more than the {MAX_BLOB}-byte limit")]
    TooLarge {
        /// What it is.
        what: &'static str,
        /// Its size.
        size: u64,
    },
    /// The profile to push is not a seccomp profile.
    #[error("the profile is not a runtime-spec seccomp profile: {0}")]
    NotSeccomp(String),
}

impl Categorized for ArtifactError {
    fn category(&self) -> Category {
        match self {
            ArtifactError::BadDigest(_) | ArtifactError::BadPlatform(_) => Category::Usage,
            ArtifactError::DigestMismatch { .. } => Category::DigestMismatch,
            ArtifactError::Malformed { .. } => Category::Protocol,
            ArtifactError::NotAProfile { .. }
            | ArtifactError::NoPlatform { .. }
            | ArtifactError::TooLarge { .. }
            | ArtifactError::NotSeccomp(_) => Category::BadInput,
        }
    }
}

/// A content digest, `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        let sum = Sha256::digest(bytes);
        let mut s = String::with_capacity(7 + 64);
        s.push_str("sha256:");
        for b in sum.iter() {
            s.push_str(&format!("{b:02x}"));
        }
        Digest(s)
    }

    /// Parses `sha256:<hex>` (the only algorithm registries and CRI-O use for
    /// profiles).
    pub fn parse(s: &str) -> Result<Digest, ArtifactError> {
        let ok = s.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if ok {
            Ok(Digest(s.to_owned()))
        } else {
            Err(ArtifactError::BadDigest(s.to_owned()))
        }
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fails unless `bytes` have this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), ArtifactError> {
        let actual = Digest::of(bytes);
        if &actual == self {
            Ok(())
        } else {
            Err(ArtifactError::DigestMismatch {
                expected: self.clone(),
                actual,
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = ArtifactError;
    fn try_from(s: String) -> Result<Digest, ArtifactError> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// An OCI platform: `os`, `architecture` (Go's names) and an optional variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, `riscv64`, ...
    pub architecture: String,
    /// `v7` for arm, usually absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/ARCH`.
    pub fn linux(architecture: &str) -> Platform {
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
        }
    }

    /// This host's platform.
    pub fn host() -> Platform {
        Platform::linux(crate::arch::go_of_target(std::env::consts::ARCH))
    }

    /// Parses `OS/ARCH[/VARIANT]`.
    pub fn parse(s: &str) -> Result<Platform, ArtifactError> {
        let parts: Vec<&str> = s.split('/').collect();
        let word = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        match parts.as_slice() {
            [os, arch] if word(os) && word(arch) => Ok(Platform::linux(arch).with_os(os)),
            [os, arch, variant] if word(os) && word(arch) && word(variant) => Ok(Platform {
                variant: Some((*variant).to_owned()),
                ..Platform::linux(arch).with_os(os)
            }),
            _ => Err(ArtifactError::BadPlatform(s.to_owned())),
        }
    }

    fn with_os(mut self, os: &str) -> Platform {
        self.os = os.to_owned();
        self
    }

    /// Whether two platforms are the same, with the default variants made equal the
    /// way containerd and spoc normalise them (`arm64/v8` = `arm64`, `arm` = `arm/v7`).
    pub fn matches(&self, other: &Platform) -> bool {
        fn variant(p: &Platform) -> Option<&str> {
            match (p.architecture.as_str(), p.variant.as_deref()) {
                ("arm64", Some("v8")) | ("amd64", Some("v1")) => None,
                ("arm", None) => Some("v7"),
                (_, v) => v,
            }
        }
        self.os == other.os
            && self.architecture == other.architecture
            && variant(self) == variant(other)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// For a manifest in an index: its platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For a manifest in an index: its artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations (a layer's title).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor of `bytes` as `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image manifest (the fields we write and read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// [`PROFILE_MEDIA_TYPE`] for ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers: for a profile artifact, exactly one.
    pub layers: Vec<Descriptor>,
    /// Manifest annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image index (the fields we write and read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// [`INDEX_MEDIA_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// [`PROFILE_MEDIA_TYPE`] for ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// One manifest per platform.
    pub manifests: Vec<Descriptor>,
}

/// A blob with its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// What the registry stores.
    pub bytes: Vec<u8>,
    /// Its descriptor.
    pub descriptor: Descriptor,
}

/// One manifest of a profile artifact, ready to push: its blobs and itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileManifest {
    /// The config blob (`{}`).
    pub config: Blob,
    /// The profile layer.
    pub layer: Blob,
    /// The manifest (media type [`MANIFEST_MEDIA_TYPE`]).
    pub manifest: Blob,
}

/// The manifest and blobs of one runtime-spec `profile` (its exact bytes). `platform`
/// goes into the manifest's descriptor (for an index), not into the manifest.
pub fn profile_manifest(
    profile: &[u8],
    platform: Option<Platform>,
) -> Result<ProfileManifest, ArtifactError> {
    check_runtime_spec(profile)?;
    let config = Blob {
        bytes: CONFIG_BLOB.to_vec(),
        descriptor: Descriptor::of(PROFILE_MEDIA_TYPE, CONFIG_BLOB),
    };
    let mut layer_descriptor = Descriptor::of(LAYER_MEDIA_TYPE, profile);
    layer_descriptor
        .annotations
        .insert(TITLE_ANNOTATION.to_owned(), LAYER_TITLE.to_owned());
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
        artifact_type: Some(PROFILE_MEDIA_TYPE.to_owned()),
        config: config.descriptor.clone(),
        layers: vec![layer_descriptor.clone()],
        annotations: BTreeMap::new(),
    };
    let bytes = to_bytes(&manifest)?;
    let mut descriptor = Descriptor::of(MANIFEST_MEDIA_TYPE, &bytes);
    descriptor.platform = platform;
    descriptor.artifact_type = Some(PROFILE_MEDIA_TYPE.to_owned());
    Ok(ProfileManifest {
        config,
        layer: Blob {
            bytes: profile.to_vec(),
            descriptor: layer_descriptor,
        },
        manifest: Blob { bytes, descriptor },
    })
}

/// The index over per-platform manifests (each descriptor carries its platform).
pub fn index(manifests: &[Descriptor]) -> Result<Blob, ArtifactError> {
    let index = Index {
        schema_version: 2,
        media_type: Some(INDEX_MEDIA_TYPE.to_owned()),
        artifact_type: Some(PROFILE_MEDIA_TYPE.to_owned()),
        manifests: manifests.to_vec(),
    };
    let bytes = to_bytes(&index)?;
    Ok(Blob {
        descriptor: Descriptor::of(INDEX_MEDIA_TYPE, &bytes),
        bytes,
    })
}

fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, ArtifactError> {
    serde_json::to_vec(value).map_err(|e| ArtifactError::Malformed {
        what: "manifest",
        reason: e.to_string(),
    })
}

/// The keys of the runtime-spec `linux.seccomp` object and of its rules: what CRI-O
/// and spoc accept in a KEP-6061 profile (they decode strictly).
const SECCOMP_KEYS: [&str; 7] = [
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
];
const RULE_KEYS: [&str; 4] = ["names", "action", "errnoRet", "args"];

/// Why `profile` is not a runtime-spec seccomp profile (only its keys: values are the
/// profile reader's business), or `Ok`.
pub fn check_runtime_spec(profile: &[u8]) -> Result<(), ArtifactError> {
    let value: serde_json::Value = serde_json::from_slice(profile)
        .map_err(|e| ArtifactError::NotSeccomp(format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| ArtifactError::NotSeccomp("not a JSON object".into()))?;
    if !obj.contains_key("defaultAction") {
        return Err(ArtifactError::NotSeccomp("no defaultAction".into()));
    }
    if let Some(k) = obj.keys().find(|k| !SECCOMP_KEYS.contains(&k.as_str())) {
        return Err(ArtifactError::NotSeccomp(format!(
            "key '{k}' is not in the runtime spec"
        )));
    }
    for (i, rule) in obj
        .get("syscalls")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(rule) = rule.as_object() else {
            return Err(ArtifactError::NotSeccomp(format!(
                "syscalls[{i}] is not an object"
            )));
        };
        if let Some(k) = rule.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
            return Err(ArtifactError::NotSeccomp(format!(
                "key '{k}' of syscalls[{i}] is not in the runtime spec"
            )));
        }
    }
    Ok(())
}

/// What a manifest request returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A manifest.
    Manifest(Manifest),
    /// An index: one manifest per platform.
    Index(Index),
}

/// Parses what the registry returned for a manifest request, by its media type (the
/// `Content-Type`, else the document's own `mediaType`).
pub fn parse_fetched(content_type: Option<&str>, bytes: &[u8]) -> Result<Fetched, ArtifactError> {
    let malformed = |what, e: serde_json::Error| ArtifactError::Malformed {
        what,
        reason: e.to_string(),
    };
    if bytes.len() as u64 > MAX_BLOB {
        return Err(ArtifactError::TooLarge {
            what: "manifest",
            size: bytes.len() as u64,
        });
    }
    let declared = match content_type {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => serde_json::from_slice::<serde_json::Value>(bytes)
            .map_err(|e| malformed("manifest", e))?
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or(MANIFEST_MEDIA_TYPE)
            .to_owned(),
    };
    if declared == INDEX_MEDIA_TYPE || declared == DOCKER_LIST_MEDIA_TYPE {
        serde_json::from_slice(bytes)
            .map(Fetched::Index)
            .map_err(|e| malformed("index", e))
    } else {
        serde_json::from_slice(bytes)
            .map(Fetched::Manifest)
            .map_err(|e| malformed("manifest", e))
    }
}

/// The manifest of `platform` in an index; an index with one manifest without a
/// platform serves every platform (as spoc reads it).
pub fn select_platform<'a>(
    index: &'a Index,
    platform: &Platform,
) -> Result<&'a Descriptor, ArtifactError> {
    if let Some(d) = index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
    {
        return Ok(d);
    }
    match index.manifests.as_slice() {
        [only] if only.platform.is_none() => Ok(only),
        all => Err(ArtifactError::NoPlatform {
            platform: platform.clone(),
            available: all
                .iter()
                .map(|d| {
                    d.platform
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "no platform".into())
                })
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The profile layer of a manifest: it must be a seccomp profile artifact (config
/// media type or artifact type) with exactly one layer, as CRI-O and spoc require.
pub fn profile_layer<'a>(
    manifest: &'a Manifest,
    reference: &str,
) -> Result<&'a Descriptor, ArtifactError> {
    let ours = manifest.config.media_type == PROFILE_MEDIA_TYPE
        || manifest.artifact_type.as_deref() == Some(PROFILE_MEDIA_TYPE);
    if !ours {
        return Err(ArtifactError::NotAProfile {
            reference: reference.to_owned(),
            config: manifest.config.media_type.clone(),
        });
    }
    let layer = match manifest.layers.as_slice() {
        [one] => one,
        more => {
            return Err(ArtifactError::Malformed {
                what: "manifest",
                reason: format!("a profile artifact has one layer, this one {}", more.len()),
            })
        }
    };
    if layer.size > MAX_BLOB {
        return Err(ArtifactError::TooLarge {
            what: "profile layer",
            size: layer.size,
        });
    }
    Ok(layer)
}

/// One runtime-spec profile to push and the platform it is for (`None`: every
/// platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformProfile {
    /// Its platform, when the profile differs per platform.
    pub platform: Option<Platform>,
    /// The runtime-spec JSON.
    pub bytes: Vec<u8>,
}

/// The platform of a table architecture: its own, or its 64-bit sibling's when that
/// is in the profile too (x86 and x32 run on amd64, arm on arm64).
fn platform_of(arch: Arch, all: &[Arch]) -> Arch {
    match arch {
        Arch::X86 | Arch::X32 if all.contains(&Arch::X86_64) || arch == Arch::X32 => Arch::X86_64,
        Arch::Arm if all.contains(&Arch::Aarch64) => Arch::Aarch64,
        a => a,
    }
}

/// The profiles to push for the profile file `text`: a runtime-spec profile as it is
/// (its bytes, every platform); a podman/Docker file (`archMap`, `includes`,
/// `excludes`) resolved for each platform its architectures name, as that platform's
/// runtime would resolve it (`host` gives the capabilities and kernel that `includes`
/// may test), one profile for every platform when they all come out the same, else
/// one per platform.
pub fn platform_profiles(
    text: &str,
    host: &HostFacts,
) -> Result<Vec<PlatformProfile>, ArtifactError> {
    if check_runtime_spec(text.as_bytes()).is_ok() {
        return Ok(vec![PlatformProfile {
            platform: None,
            bytes: text.as_bytes().to_vec(),
        }]);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ArtifactError::NotSeccomp(format!("not JSON: {e}")))?;
    let mut named: Vec<String> = Vec::new();
    for key in ["architectures", "archMap"] {
        for a in value
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let entry = if key == "archMap" {
                a.get("architecture")
            } else {
                Some(a)
            };
            named.extend(entry.and_then(|e| e.as_str()).map(str::to_owned));
        }
    }
    let arches: Vec<Arch> = named
        .iter()
        .filter_map(|n| Arch::ALL.into_iter().find(|a| a.scmp_name() == n))
        .collect();
    let mut platforms: Vec<Arch> = arches.iter().map(|a| platform_of(*a, &arches)).collect();
    platforms.sort_by_key(|a| a.scmp_name());
    platforms.dedup();
    let resolve = |native: Option<Arch>, go_arch: &'static str| {
        let facts = HostFacts {
            native_arch: native,
            go_arch,
            ..host.clone()
        };
        let loaded = parse_profile(text, std::path::Path::new("profile"), &facts)
            .map_err(|e| ArtifactError::NotSeccomp(e.kind().to_string()))?;
        crate::formats::render(&loaded.seccomp, crate::formats::Format::Oci, "profile")
            .map(String::into_bytes)
            .map_err(|e| ArtifactError::NotSeccomp(e.to_string()))
    };
    if platforms.is_empty() {
        return Ok(vec![PlatformProfile {
            platform: None,
            bytes: resolve(host.native_arch, host.go_arch)?,
        }]);
    }
    let mut out = Vec::new();
    for arch in platforms {
        let go = crate::arch::to_go(arch);
        out.push(PlatformProfile {
            platform: Some(Platform::linux(go)),
            bytes: resolve(Some(arch), go)?,
        });
    }
    if out.windows(2).all(|w| w[0].bytes == w[1].bytes) {
        out.truncate(1);
        out[0].platform = None;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &[u8] =
        br#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;

    fn host() -> HostFacts {
        HostFacts::test_x86_64(u64::MAX)
    }

    #[test]
    fn a_runtime_spec_profile_is_pushed_as_it_is() {
        let text = std::str::from_utf8(PROFILE).unwrap();
        let out = platform_profiles(text, &host()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].platform, None);
        assert_eq!(out[0].bytes, PROFILE);
    }

    #[test]
    fn a_docker_file_that_differs_per_arch_becomes_one_profile_per_platform() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO",
          "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
                     {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
          "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                      {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}}]}"#;
        let out = platform_profiles(text, &host()).unwrap();
        let platforms: Vec<String> = out
            .iter()
            .map(|p| p.platform.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(platforms, ["linux/arm64", "linux/amd64"]);
        let arm = String::from_utf8(out[0].bytes.clone()).unwrap();
        let amd = String::from_utf8(out[1].bytes.clone()).unwrap();
        assert!(
            !arm.contains("arch_prctl") && arm.contains("SCMP_ARCH_AARCH64"),
            "{arm}"
        );
        assert!(
            amd.contains("arch_prctl") && amd.contains("SCMP_ARCH_X32"),
            "{amd}"
        );
        for p in &out {
            check_runtime_spec(&p.bytes).unwrap();
        }
    }

    #[test]
    fn a_docker_file_the_same_everywhere_is_one_profile() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO",
          "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]},
                     {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":[]}],
          "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let out = platform_profiles(text, &host()).unwrap();
        assert_eq!(
            out.len(),
            2,
            "archMap resolves to each platform's own architectures"
        );
        let same = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
          "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","comment":"ok"}]}"#;
        let out = platform_profiles(same, &host()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].platform, None);
        check_runtime_spec(&out[0].bytes).unwrap();
    }

    #[test]
    fn digest_of_empty_config_is_the_well_known_one() {
        // sha256 of "{}", the empty OCI config every ORAS artifact uses.
        assert_eq!(
            Digest::of(CONFIG_BLOB).as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn digests_parse_strictly() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Digest::parse(&good).unwrap().as_str(), good);
        for bad in [
            "sha256:abc".to_owned(),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:{}", "A".repeat(64)),
            "a".repeat(71),
        ] {
            assert!(Digest::parse(&bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn verify_names_both_digests_and_has_its_own_exit_code() {
        let want = Digest::of(b"signed");
        assert!(want.verify(b"signed").is_ok());
        let e = want.verify(b"tampered").unwrap_err();
        let text = e.to_string();
        assert!(text.contains(want.as_str()), "{text}");
        assert!(text.contains(Digest::of(b"tampered").as_str()), "{text}");
        assert_eq!(e.category(), Category::DigestMismatch);
    }

    #[test]
    fn manifest_has_the_kep_6061_layout() {
        let m = profile_manifest(PROFILE, None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.manifest.bytes).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(v["artifactType"], PROFILE_MEDIA_TYPE);
        assert_eq!(v["config"]["mediaType"], PROFILE_MEDIA_TYPE);
        assert_eq!(v["config"]["size"], 2);
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], "application/json");
        assert_eq!(layers[0]["annotations"][TITLE_ANNOTATION], "profile.json");
        assert_eq!(layers[0]["digest"], Digest::of(PROFILE).as_str());
        assert_eq!(layers[0]["size"], PROFILE.len());
        assert_eq!(m.layer.bytes, PROFILE);
        assert_eq!(m.manifest.descriptor.digest, Digest::of(&m.manifest.bytes));
        // No timestamp: the same profile, the same digest.
        assert_eq!(m, profile_manifest(PROFILE, None).unwrap());
    }

    #[test]
    fn only_runtime_spec_profiles_are_packed() {
        assert!(check_runtime_spec(PROFILE).is_ok());
        for (bad, why) in [
            (&br#"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[]}"#[..], "archMap"),
            (br#"{"syscalls":[]}"#, "defaultAction"),
            (
                br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{}}]}"#,
                "includes",
            ),
            (b"[1]", "object"),
        ] {
            let e = check_runtime_spec(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn index_round_trips_and_selects_by_platform() {
        let amd = profile_manifest(PROFILE, Some(Platform::linux("amd64"))).unwrap();
        let arm = profile_manifest(
            b"{\"defaultAction\":\"SCMP_ACT_LOG\"}",
            Some(Platform::linux("arm64")),
        )
        .unwrap();
        let idx = index(&[
            amd.manifest.descriptor.clone(),
            arm.manifest.descriptor.clone(),
        ])
        .unwrap();
        let Fetched::Index(parsed) = parse_fetched(Some(INDEX_MEDIA_TYPE), &idx.bytes).unwrap()
        else {
            panic!("not an index");
        };
        let arm64v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(
            select_platform(&parsed, &arm64v8).unwrap().digest,
            arm.manifest.descriptor.digest
        );
        let e = select_platform(&parsed, &Platform::linux("riscv64")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the index has no profile for linux/riscv64 (it has: linux/amd64, linux/arm64); pass --platform"
        );
    }

    #[test]
    fn manifests_of_other_artifacts_are_refused() {
        let m = profile_manifest(PROFILE, None).unwrap();
        let Fetched::Manifest(mut parsed) = parse_fetched(None, &m.manifest.bytes).unwrap() else {
            panic!("not a manifest");
        };
        assert_eq!(
            profile_layer(&parsed, "r").unwrap().digest,
            Digest::of(PROFILE)
        );
        parsed.config.media_type = "application/vnd.oci.image.config.v1+json".into();
        parsed.artifact_type = None;
        let e = profile_layer(&parsed, "localhost:5000/img:1").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("localhost:5000/img:1 is not a seccomp profile artifact"));
    }

    #[test]
    fn platforms_parse_and_normalise_variants() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap(),
            Platform::linux("amd64")
        );
        assert!(Platform::parse("linux/arm/v7")
            .unwrap()
            .matches(&Platform::linux("arm")));
        assert!(!Platform::linux("arm64").matches(&Platform::linux("amd64")));
        for bad in ["linux", "linux/", "Linux/amd64", "a/b/c/d"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
