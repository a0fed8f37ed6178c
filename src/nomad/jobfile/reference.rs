//! Docker image references: `[registry/]repository[:tag][@digest]`.

use std::fmt;
use std::ops::Range;

/// An image reference split into its parts, as written (no normalisation: no implied
/// `docker.io`, no implied `latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry host (with port), when the first path component names one
    /// (it contains `.` or `:`, or is `localhost`).
    pub registry: Option<String>,
    /// The repository path, without registry, tag or digest.
    pub repository: String,
    pub tag: Option<String>,
    /// The digest after `@` (e.g. `sha256:...`).
    pub digest: Option<String>,
    /// Byte range of the tag within the reference text.
    pub tag_range: Option<Range<usize>>,
}

impl ImageReference {
    /// Splits a reference. The tag is what follows the last `:` after the last `/`
    /// (so a registry port is not mistaken for a tag); a digest follows `@`.
    pub fn parse(text: &str) -> ImageReference {
        let (named, digest) = match text.find('@') {
            Some(at) => (&text[..at], Some(text[at + 1..].to_string())),
            None => (text, None),
        };
        let last_slash = named.rfind('/').map_or(0, |i| i + 1);
        let (name, tag, tag_range) = match named[last_slash..].rfind(':') {
            Some(colon) => {
                let colon = last_slash + colon;
                let range = colon + 1..named.len();
                (
                    &named[..colon],
                    Some(named[range.clone()].to_string()),
                    Some(range),
                )
            }
            None => (named, None, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (Some(first.to_string()), rest.to_string())
            }
            _ => (None, name.to_string()),
        };
        ImageReference {
            registry,
            repository,
            tag,
            digest,
            tag_range,
        }
    }

    /// `registry/repository` (or just `repository`): the reference without tag/digest.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ImageReference;

    #[test]
    fn registry_repository_and_tag() {
        let text = "registry.hrsi.example/cosims/cosims/monitor:git-e5093b7a";
        let r = ImageReference::parse(text);
        assert_eq!(r.registry.as_deref(), Some("registry.hrsi.example"));
        assert_eq!(r.repository, "cosims/cosims/monitor");
        assert_eq!(r.tag.as_deref(), Some("git-e5093b7a"));
        assert_eq!(&text[r.tag_range.clone().unwrap()], "git-e5093b7a");
        assert_eq!(r.digest, None);
        assert_eq!(r.to_string(), text);
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let r = ImageReference::parse("localhost:5000/app");
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository, "app");
        assert_eq!(r.tag, None);

        let r = ImageReference::parse("host:5000/team/app:1.2");
        assert_eq!(r.registry.as_deref(), Some("host:5000"));
        assert_eq!(r.tag.as_deref(), Some("1.2"));
    }

    #[test]
    fn docker_hub_names_have_no_registry() {
        let r = ImageReference::parse("library/redis:7");
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "library/redis");
        assert_eq!(r.name(), "library/redis");
        let r = ImageReference::parse("redis");
        assert_eq!((r.registry, r.tag), (None, None));
    }

    #[test]
    fn digests_are_split_off() {
        let r = ImageReference::parse("reg.example/app:1.0@sha256:abcd");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abcd"));
        let r = ImageReference::parse("reg.example/app@sha256:abcd");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some("sha256:abcd"));
        assert_eq!(r.to_string(), "reg.example/app@sha256:abcd");
    }
}
