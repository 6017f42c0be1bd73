//! Profiles through OCI registries: `push` a profile as the artifact CRI-O and spoc
//! read (the layout is [`seccomp_profile::artifact`]), `pull` it back, checked
//! against its digest. The transport is `oci-client` (the OCI distribution API over
//! reqwest/rustls), run on a one-thread tokio runtime.
//!
//! Plain HTTP is used for registries on this machine (`localhost`, 127.0.0.0/8, `::1`)
//! and with `--insecure`; HTTPS with the system's roots otherwise.

pub mod auth;
pub mod reference;

use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use seccomp_profile::artifact::{
    self, ArtifactError, Blob, Digest, Fetched, Platform, ProfileManifest, INDEX_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
};
use seccomp_profile::exit::{Categorized, Category};
use seccomp_profile::profile_file::HostFacts;

use auth::{AuthError, Credentials, Lookup};
use reference::{is_loopback, ArtifactRef, ReferenceError};

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Plain HTTP to any registry (otherwise only to loopback ones).
    pub insecure: bool,
    /// `--username`/`--password`: used instead of any auth file.
    pub credentials: Option<Credentials>,
    /// `--authfile`: the only auth file to read.
    pub authfile: Option<PathBuf>,
}

/// Errors of `push` and `pull`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A bad reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The profile to push could not be read.
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] std::io::Error),
    /// What was pushed or pulled is not a profile artifact (or not the pinned one).
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// An auth file could not be read.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// An auth file could not be read.
    #[error("cannot read auth file {0}")]
    AuthFile(PathBuf, #[source] std::io::Error),
    /// The registry refused or failed a request.
    #[error("{what} failed")]
    Request {
        /// What was being done ("push the manifest to REF").
        what: String,
        /// The client's error.
        #[source]
        source: OciDistributionError,
    },
    /// The registry wants a login, or refused the one given.
    #[error("{what} was refused: log in with --username and --password (or --password-stdin), or through the auth file of podman login / docker login")]
    Denied {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: OciDistributionError,
    },
    /// The registry has no manifest with the pinned digest.
    #[error("{reference} has no manifest with digest {digest}: not what was pushed or signed (check the digest, or pull by tag to see what is there)")]
    NoSuchDigest {
        /// The repository.
        reference: String,
        /// The digest asked for.
        digest: Digest,
    },
    /// The tokio runtime could not start.
    #[error("cannot start the network runtime")]
    Runtime(#[source] std::io::Error),
}

impl Categorized for RegistryError {
    fn category(&self) -> Category {
        match self {
            RegistryError::Reference(ReferenceError::Digest(e)) | RegistryError::Artifact(e) => {
                e.category()
            }
            RegistryError::Reference(_) => Category::Usage,
            RegistryError::Read(_, e) | RegistryError::AuthFile(_, e) => match e.kind() {
                std::io::ErrorKind::PermissionDenied => Category::Permission,
                _ => Category::Io,
            },
            RegistryError::Auth(_) => Category::BadInput,
            RegistryError::Request { source, .. } => request_category(source),
            RegistryError::Denied { .. } => Category::Permission,
            RegistryError::NoSuchDigest { .. } => Category::DigestMismatch,
            RegistryError::Runtime(_) => Category::Internal,
        }
    }
}

fn request_category(e: &OciDistributionError) -> Category {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => Category::Permission,
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
        {
            Category::Permission
        }
        _ if is_not_found(e) => Category::BadInput,
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            Category::Unavailable
        }
        _ => Category::Protocol,
    }
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
            )
        }),
        _ => false,
    }
}

/// What `push` did.
#[derive(Debug)]
pub struct Pushed {
    /// `registry/repo@sha256:...` of what the tag now names (the manifest, or the
    /// index over the per-platform manifests): what to sign and to pin.
    pub by_digest: String,
    /// The tag pushed to.
    pub tag: String,
    /// The platforms of the manifests when the profile differs per platform (empty:
    /// one manifest for every platform).
    pub platforms: Vec<Platform>,
}

/// What `pull` got.
#[derive(Debug)]
pub struct Pulled {
    /// The profile's exact bytes.
    pub profile: Vec<u8>,
    /// `registry/repo@sha256:...` of what the reference named.
    pub by_digest: String,
    /// The platform whose manifest was taken from an index.
    pub platform: Option<Platform>,
}

fn runtime() -> Result<tokio::runtime::Runtime, RegistryError> {
    // reqwest with rustls and no default provider: ours is ring, which builds with cc
    // alone and links into the static binary (aws-lc-rs needs its own C build).
    // rustls 0.23.48 deprecates it for lacking post-quantum key exchange, which a
    // profile download can do without.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)
}

fn client(reference: &Reference, conn: &Connection) -> Client {
    let registry = reference.resolve_registry().to_owned();
    let protocol = if conn.insecure || is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        // Profiles are small: one PUT per blob, which every registry takes.
        use_monolithic_push: true,
        platform_resolver: None,
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        user_agent: concat!("seccomp-recorder/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    })
}

/// The credentials for `reference`: `--username/--password`, else the first auth
/// file with an entry for it, else none (anonymous).
fn registry_auth(reference: &Reference, conn: &Connection) -> Result<RegistryAuth, RegistryError> {
    if let Some(c) = &conn.credentials {
        return Ok(RegistryAuth::Basic(c.username.clone(), c.password.clone()));
    }
    let files = match &conn.authfile {
        Some(f) => vec![f.clone()],
        None => auth::candidates(|k| std::env::var(k).ok(), nix::unistd::geteuid().as_raw()),
    };
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && conn.authfile.is_none() => {
                continue
            }
            Err(e) => return Err(RegistryError::AuthFile(path, e)),
        };
        match auth::lookup(&text, &path, reference.registry(), reference.repository())? {
            Lookup::Found(c) => {
                tracing::debug!(file = %path.display(), user = %c.username, "registry credentials");
                return Ok(RegistryAuth::Basic(c.username, c.password));
            }
            Lookup::Helper(h) => tracing::warn!(
                "{} names the credential helper '{h}' for {}, which seccomp-recorder does not run; pass --username/--password",
                path.display(),
                reference.registry()
            ),
            Lookup::None => {}
        }
    }
    Ok(RegistryAuth::Anonymous)
}

fn request<T>(
    what: impl FnOnce() -> String,
    r: Result<T, OciDistributionError>,
) -> Result<T, RegistryError> {
    r.map_err(|source| {
        if request_category(&source) == Category::Permission {
            RegistryError::Denied {
                what: what(),
                source,
            }
        } else {
            RegistryError::Request {
                what: what(),
                source,
            }
        }
    })
}

/// Pushes the profile file at `path` to `reference` (a tag). Returns what was pushed.
pub fn push(path: &Path, reference: &str, conn: &Connection) -> Result<Pushed, RegistryError> {
    let target = ArtifactRef::parse_for_push(reference)?;
    let text =
        std::fs::read_to_string(path).map_err(|e| RegistryError::Read(path.to_owned(), e))?;
    let profiles = artifact::platform_profiles(&text, &HostFacts::current())?;
    let manifests: Vec<ProfileManifest> = profiles
        .into_iter()
        .map(|p| artifact::profile_manifest(&p.bytes, p.platform))
        .collect::<Result<_, _>>()?;
    let index = match manifests.as_slice() {
        [_] => None,
        more => Some(artifact::index(
            &more
                .iter()
                .map(|m| m.manifest.descriptor.clone())
                .collect::<Vec<_>>(),
        )?),
    };
    let rt = runtime()?;
    let client = client(&target.request, conn);
    let auth = registry_auth(&target.request, conn)?;
    let image = &target.request;
    rt.block_on(async {
        request(
            || format!("log in to {}", image.registry()),
            client
                .auth(image, &auth, oci_client::RegistryOperation::Push)
                .await,
        )?;
        for m in &manifests {
            for blob in [&m.config, &m.layer] {
                push_blob(&client, image, blob).await?;
            }
            if index.is_some() {
                // Each platform's manifest by its digest; the index gets the tag.
                let by_digest = target.by_digest(&m.manifest.descriptor.digest);
                push_manifest(&client, &by_digest, &m.manifest, MANIFEST_MEDIA_TYPE).await?;
            }
        }
        match &index {
            Some(idx) => push_manifest(&client, image, idx, INDEX_MEDIA_TYPE).await,
            None => {
                push_manifest(&client, image, &manifests[0].manifest, MANIFEST_MEDIA_TYPE).await
            }
        }
    })?;
    let top = index
        .as_ref()
        .map(|i| &i.descriptor.digest)
        .unwrap_or(&manifests[0].manifest.descriptor.digest);
    Ok(Pushed {
        by_digest: target.by_digest(top).to_string(),
        tag: image.to_string(),
        platforms: manifests
            .iter()
            .filter_map(|m| m.manifest.descriptor.platform.clone())
            .collect(),
    })
}

async fn push_blob(client: &Client, image: &Reference, blob: &Blob) -> Result<(), RegistryError> {
    let digest = blob.descriptor.digest.as_str();
    let exists = client.blob_exists(image, digest).await.unwrap_or(false);
    if !exists {
        request(
            || format!("upload of blob {digest} to {image}"),
            client.push_blob(image, blob.bytes.clone(), digest).await,
        )?;
    }
    Ok(())
}

async fn push_manifest(
    client: &Client,
    image: &Reference,
    manifest: &Blob,
    media_type: &'static str,
) -> Result<(), RegistryError> {
    request(
        || format!("push of the manifest to {image}"),
        client
            .push_manifest_raw(
                image,
                manifest.bytes.clone(),
                http::HeaderValue::from_static(media_type),
            )
            .await,
    )
    .map(|_| ())
}

/// Pulls the profile `reference` names, for `platform` when it is an index (default:
/// this host's). A digest in the reference must be the digest of what the registry
/// returns for it.
pub fn pull(
    reference: &str,
    platform: Option<Platform>,
    conn: &Connection,
) -> Result<Pulled, RegistryError> {
    let source = ArtifactRef::parse(reference)?;
    let rt = runtime()?;
    let client = client(&source.request, conn);
    let auth = registry_auth(&source.request, conn)?;
    let image = &source.request;
    let accepted = [
        MANIFEST_MEDIA_TYPE,
        INDEX_MEDIA_TYPE,
        artifact::DOCKER_LIST_MEDIA_TYPE,
    ];
    rt.block_on(async {
        let fetched = client.pull_manifest_raw(image, &auth, &accepted).await;
        let (bytes, _) = match (fetched, &source.pinned) {
            (Err(e), Some(d)) if is_not_found(&e) && image.digest().is_some() => {
                return Err(RegistryError::NoSuchDigest {
                    reference: format!("{}/{}", image.registry(), image.repository()),
                    digest: d.clone(),
                })
            }
            (r, _) => request(|| format!("pull of {image}"), r)?,
        };
        let top = Digest::of(&bytes);
        if let Some(pinned) = &source.pinned {
            pinned.verify(&bytes)?;
        }
        let (manifest_bytes, chosen) = match artifact::parse_fetched(None, &bytes)? {
            Fetched::Manifest(_) => (bytes.to_vec(), None),
            Fetched::Index(index) => {
                let want = platform.clone().unwrap_or_else(Platform::host);
                let entry = artifact::select_platform(&index, &want)?;
                let by_digest = source.by_digest(&entry.digest);
                let (m, _) = request(
                    || format!("pull of {by_digest}"),
                    client.pull_manifest_raw(&by_digest, &auth, &accepted).await,
                )?;
                entry.digest.verify(&m)?;
                (m.to_vec(), entry.platform.clone().or(Some(want)))
            }
        };
        let Fetched::Manifest(manifest) = artifact::parse_fetched(None, &manifest_bytes)? else {
            return Err(ArtifactError::Malformed {
                what: "index",
                reason: "an index inside an index".into(),
            }
            .into());
        };
        let layer = artifact::profile_layer(&manifest, &image.to_string())?;
        let mut profile = Vec::new();
        let oci_layer = oci_client::manifest::OciDescriptor {
            media_type: layer.media_type.clone(),
            digest: layer.digest.to_string(),
            size: layer.size as i64,
            ..Default::default()
        };
        request(
            || format!("download of the profile layer {} of {image}", layer.digest),
            client.pull_blob(image, &oci_layer, &mut profile).await,
        )?;
        layer.digest.verify(&profile)?;
        Ok(Pulled {
            profile,
            by_digest: source.by_digest(&top).to_string(),
            platform: chosen,
        })
    })
}
