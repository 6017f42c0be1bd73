//! Registry credentials from the docker/podman auth file (`auth.json`,
//! `config.json`): which file, and which entry of it serves a repository.
//!
//! The files are looked for where podman and skopeo look (containers-auth.json(5)):
//! `$REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json` (for root without
//! XDG_RUNTIME_DIR: `/run/containers/0/auth.json`),
//! `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, then Docker's
//! `~/.docker/config.json`. The first file that exists and has an entry for the
//! registry wins. Entries are keyed by `registry`, `registry/namespace` or
//! `registry/namespace/repo` (the longest matching key wins), Docker's
//! `https://registry/v1/` spelling included; values carry `auth`, base64 of
//! `user:password`. Credential helpers (`credHelpers`, `credsStore`) are not run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A user name and password for HTTP basic authentication (or a registry token
/// exchange).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Errors of reading an auth file.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file is not JSON of the auth file's shape.
    #[error("auth file {path} is not valid JSON: {reason}; fix it or pass --username/--password")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An entry's `auth` is not base64 of `user:password`.
    #[error("auth file {path}: the entry for {key} is not base64 of user:password")]
    BadEntry {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        key: String,
    },
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
}

/// What an auth file says about one repository.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Credentials for it.
    Found(Credentials),
    /// A credential helper would serve it, which we do not run.
    Helper(String),
    /// Nothing.
    None,
}

/// The auth files to look at, in order, from the environment's values (pure: the
/// caller passes `std::env::var_os` and the effective uid).
pub fn candidates(env: impl Fn(&str) -> Option<String>, uid: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
        out.push(PathBuf::from(f));
    }
    match env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => out.push(Path::new(&d).join("containers/auth.json")),
        None if uid == 0 => out.push(PathBuf::from("/run/containers/0/auth.json")),
        None => {}
    }
    let home = env("HOME").filter(|h| !h.is_empty());
    match (env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()), &home) {
        (Some(c), _) => out.push(Path::new(&c).join("containers/auth.json")),
        (None, Some(h)) => out.push(Path::new(h).join(".config/containers/auth.json")),
        (None, None) => {}
    }
    if let Some(h) = home {
        out.push(Path::new(&h).join(".docker/config.json"));
    }
    out
}

/// The key of an auth entry as `registry[/path]`: without a scheme, Docker's `/v1/`
/// suffix or a trailing slash; Docker Hub's spellings as `docker.io`.
fn normalise_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    normalise_registry(k)
}

fn normalise_registry(name: &str) -> String {
    let (host, rest) = name.split_once('/').unwrap_or((name, ""));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    if rest.is_empty() {
        host.to_owned()
    } else {
        format!("{host}/{rest}")
    }
}

/// What the auth file `text` (at `path`, for messages) says for `registry` and
/// `repository` (`repo` or `namespace/repo`).
pub fn lookup(
    text: &str,
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Lookup, AuthError> {
    let file: AuthFile = serde_json::from_str(text).map_err(|e| AuthError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let registry = normalise_registry(registry);
    let full = format!("{registry}/{repository}");
    let mut best: Option<(usize, &String, &Entry)> = None;
    for (key, entry) in &file.auths {
        let k = normalise_key(key);
        let matches = k == registry
            || full == k
            || (full.starts_with(&k) && full.as_bytes().get(k.len()) == Some(&b'/'));
        if matches && best.is_none_or(|(len, _, _)| k.len() > len) {
            best = Some((k.len(), key, entry));
        }
    }
    if let Some((_, key, entry)) = best {
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let bad = || AuthError::BadEntry {
                path: path.to_owned(),
                key: key.clone(),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (user, pass) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Lookup::Found(Credentials {
                username: user.to_owned(),
                password: pass.to_owned(),
            }));
        }
    }
    if let Some((_, helper)) = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalise_key(k) == registry)
    {
        return Ok(Lookup::Helper(helper.clone()));
    }
    if let Some(store) = file.creds_store.filter(|s| !s.is_empty()) {
        return Ok(Lookup::Helper(store));
    }
    Ok(Lookup::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn found(user: &str, pass: &str) -> Lookup {
        Lookup::Found(Credentials {
            username: user.into(),
            password: pass.into(),
        })
    }

    #[test]
    fn the_longest_matching_key_wins() {
        let text = format!(
            r#"{{"auths":{{"localhost:5000":{{"auth":"{}"}},"localhost:5000/team":{{"auth":"{}"}},"localhost:5000/teamx":{{"auth":"{}"}}}}}}"#,
            b64("all:a"),
            b64("team:t"),
            b64("other:o")
        );
        let p = Path::new("auth.json");
        assert_eq!(
            lookup(&text, p, "localhost:5000", "team/web").unwrap(),
            found("team", "t")
        );
        assert_eq!(
            lookup(&text, p, "localhost:5000", "other/web").unwrap(),
            found("all", "a")
        );
        assert_eq!(
            lookup(&text, p, "localhost:5001", "team/web").unwrap(),
            Lookup::None
        );
    }

    #[test]
    fn docker_spellings_match() {
        let text = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"https://r.example:443":{{"auth":"{}"}}}}}}"#,
            b64("hub:pw:with:colons"),
            b64("r:x")
        );
        let p = Path::new("config.json");
        assert_eq!(
            lookup(&text, p, "docker.io", "library/x").unwrap(),
            found("hub", "pw:with:colons")
        );
        assert_eq!(
            lookup(&text, p, "r.example:443", "x").unwrap(),
            found("r", "x")
        );
    }

    #[test]
    fn helpers_are_named_and_bad_entries_refused() {
        let p = Path::new("config.json");
        let text = r#"{"auths":{},"credHelpers":{"r.example":"ecr-login"}}"#;
        assert_eq!(
            lookup(text, p, "r.example", "x").unwrap(),
            Lookup::Helper("ecr-login".into())
        );
        let text = r#"{"auths":{"r.example":{"auth":"not base64!"}}}"#;
        assert_eq!(
            lookup(text, p, "r.example", "x").unwrap_err().to_string(),
            "auth file config.json: the entry for r.example is not base64 of user:password"
        );
        assert!(lookup("{", p, "r", "x").is_err());
    }

    #[test]
    fn candidates_follow_podman_then_docker() {
        let env = |k: &str| match k {
            "REGISTRY_AUTH_FILE" => Some("/a.json".to_owned()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(
            candidates(env, 1000),
            [
                "/a.json",
                "/run/user/1/containers/auth.json",
                "/home/u/.config/containers/auth.json",
                "/home/u/.docker/config.json"
            ]
            .map(PathBuf::from)
        );
        let root = |k: &str| (k == "HOME").then(|| "/root".to_owned());
        assert_eq!(
            candidates(root, 0)[0],
            PathBuf::from("/run/containers/0/auth.json")
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
