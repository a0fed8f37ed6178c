//! Nomad job files: finding and rewriting the image tag without touching anything else.
