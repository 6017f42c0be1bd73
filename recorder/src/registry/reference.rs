//! Artifact references (`registry/repo[:tag][@sha256:...]`) and which registries may
//! be spoken to in plain HTTP.

use std::net::IpAddr;

use oci_client::Reference;

use seccomp_profile::artifact::{ArtifactError, Digest};

/// Errors of a reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// Not a reference.
    #[error("'{0}' is not an artifact reference (REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST])")]
    Parse(String, #[source] oci_client::ParseError),
    /// A digest that is not sha256.
    #[error(transparent)]
    Digest(#[from] ArtifactError),
    /// `push` to a digest.
    #[error("cannot push to a digest ({0}): give a tag; push prints the digest")]
    PushToDigest(String),
}

/// A parsed reference: where to ask, and the digest the content must have.
#[derive(Debug, Clone)]
pub struct ArtifactRef {
    /// What to request: the tag when there is one, else the digest.
    pub request: Reference,
    /// The digest given after `@`, which the content must have.
    pub pinned: Option<Digest>,
}

impl ArtifactRef {
    /// Parses `text`. A reference with both a tag and a digest is requested by its tag
    /// and checked against the digest (the tag may have moved since it was pinned).
    pub fn parse(text: &str) -> Result<ArtifactRef, ReferenceError> {
        let r: Reference = text
            .parse()
            .map_err(|e| ReferenceError::Parse(text.to_owned(), e))?;
        let pinned = r.digest().map(Digest::parse).transpose()?;
        let request = match (r.tag(), &pinned) {
            (Some(tag), Some(_)) => Reference::with_tag(
                r.registry().to_owned(),
                r.repository().to_owned(),
                tag.to_owned(),
            ),
            _ => r,
        };
        Ok(ArtifactRef { request, pinned })
    }

    /// Parses a reference to push to: a tag (default `latest`), never a digest.
    pub fn parse_for_push(text: &str) -> Result<ArtifactRef, ReferenceError> {
        let r = ArtifactRef::parse(text)?;
        if r.pinned.is_some() {
            return Err(ReferenceError::PushToDigest(text.to_owned()));
        }
        Ok(r)
    }

    /// The reference of `digest` in the same repository (`registry/repo@digest`).
    pub fn by_digest(&self, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.request.registry().to_owned(),
            self.request.repository().to_owned(),
            digest.to_string(),
        )
    }
}

/// Whether `registry` (`host[:port]`) is this machine: `localhost`, 127.0.0.0/8 or
/// `::1`. Those may be spoken to in plain HTTP without `--insecure`.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn a_tag_with_a_digest_is_requested_by_tag_and_pinned() {
        let r = ArtifactRef::parse(&format!("127.0.0.1:5000/sr/web:v1@{D}")).unwrap();
        assert_eq!(r.request.tag(), Some("v1"));
        assert_eq!(r.request.digest(), None);
        assert_eq!(r.pinned.as_ref().map(Digest::as_str), Some(D));
        let r = ArtifactRef::parse(&format!("127.0.0.1:5000/sr/web@{D}")).unwrap();
        assert_eq!(r.request.digest(), Some(D));
        assert_eq!(
            r.by_digest(r.pinned.as_ref().unwrap()).to_string(),
            format!("127.0.0.1:5000/sr/web@{D}")
        );
    }

    #[test]
    fn bad_references_are_usage_errors() {
        assert!(ArtifactRef::parse("UPPER/Case").is_err());
        let e = ArtifactRef::parse("127.0.0.1:5000/x@sha256:abc").unwrap_err();
        assert!(e.to_string().contains("is not"), "{e}");
        let e = ArtifactRef::parse_for_push(&format!("127.0.0.1:5000/x@{D}")).unwrap_err();
        assert!(e.to_string().starts_with("cannot push to a digest"), "{e}");
        let r = ArtifactRef::parse_for_push("127.0.0.1:5000/x").unwrap();
        assert_eq!(r.request.tag(), Some("latest"));
    }

    #[test]
    fn only_this_machine_is_loopback() {
        for yes in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "10.0.0.1:5000",
            "registry.example",
            "localhost.example:5000",
            "[::2]:1",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
