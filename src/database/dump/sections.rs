//! Where in a pg_dumpall stream we are: the globals (roles, tablespaces), between
//! databases, or inside one database's dump (after its `\connect`), under which
//! pg_dump table-of-contents entry, and which completeness trailers were seen.

use super::names::{parse_connect, parse_toc, TocEntry, Tokens};

const CLUSTER_HEADER: &str = "-- PostgreSQL database cluster dump";
const CLUSTER_TRAILER: &str = "-- PostgreSQL database cluster dump complete";
const DATABASE_TRAILER: &str = "-- PostgreSQL database dump complete";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Roles, tablespaces and settings, before the first database.
    Globals,
    /// Between two databases: a database's header and its CREATE DATABASE.
    Between,
    /// Inside the dump of a database, after `\connect` to it.
    Database(String),
}

/// What a comment line meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    Other,
    /// A database's `-- PostgreSQL database dump complete`.
    DatabaseComplete(String),
    ClusterComplete,
    /// A table-of-contents entry starts.
    Toc,
}

/// What a meta-command line was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    Connect(String),
    /// `\restrict KEY` / `\unrestrict KEY` (psql's restricted mode).
    Restrict,
    Other(String),
}

#[derive(Debug)]
pub struct Sections {
    place: Place,
    toc: Option<TocEntry>,
    cluster_header: bool,
    cluster_trailer: bool,
    /// Databases in dump order, with whether their trailer was seen.
    databases: Vec<(String, bool)>,
}

impl Default for Sections {
    fn default() -> Self {
        Sections {
            place: Place::Globals,
            toc: None,
            cluster_header: false,
            cluster_trailer: false,
            databases: Vec::new(),
        }
    }
}

impl Sections {
    pub fn place(&self) -> &Place {
        &self.place
    }

    pub fn in_database(&self, name: &str) -> bool {
        matches!(&self.place, Place::Database(d) if d == name)
    }

    /// The pg_dump entry the current statements belong to (inside a database).
    pub fn toc(&self) -> Option<&TocEntry> {
        self.toc.as_ref()
    }

    pub fn is_cluster_dump(&self) -> bool {
        self.cluster_header
    }

    pub fn cluster_complete(&self) -> bool {
        self.cluster_trailer
    }

    /// The databases seen so far, in dump order.
    pub fn databases(&self) -> impl Iterator<Item = &str> {
        self.databases.iter().map(|(name, _)| name.as_str())
    }

    pub fn database_complete(&self, name: &str) -> bool {
        self.databases.iter().any(|(n, done)| n == name && *done)
    }

    /// Databases whose dump started but whose trailer never came.
    pub fn incomplete_databases(&self) -> Vec<&str> {
        self.databases
            .iter()
            .filter(|(_, done)| !done)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    pub fn comment(&mut self, line: &[u8]) -> Marker {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        if text == CLUSTER_TRAILER {
            self.cluster_trailer = true;
            return Marker::ClusterComplete;
        }
        if text == CLUSTER_HEADER {
            self.cluster_header = true;
            return Marker::Other;
        }
        if text == DATABASE_TRAILER {
            if let Place::Database(name) = &self.place {
                let name = name.clone();
                if let Some(entry) = self.databases.iter_mut().find(|(n, _)| *n == name) {
                    entry.1 = true;
                }
                self.place = Place::Between;
                self.toc = None;
                return Marker::DatabaseComplete(name);
            }
            return Marker::Other;
        }
        if self.place == Place::Globals
            && (text == "-- Databases" || text.starts_with("-- Database \""))
        {
            self.place = Place::Between;
            return Marker::Other;
        }
        if matches!(self.place, Place::Database(_)) {
            if let Some(entry) = parse_toc(text) {
                self.toc = Some(entry);
                return Marker::Toc;
            }
        }
        Marker::Other
    }

    pub fn meta(&mut self, line: &[u8]) -> Meta {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        let command = text.split_whitespace().next().unwrap_or("");
        match command {
            "\\connect" | "\\c" => match parse_connect(text) {
                Some(name) => {
                    // pg_dump reconnects to the same database after setting its
                    // properties: what follows is a new preamble, not that entry.
                    self.toc = None;
                    if !self.in_database(&name) {
                        self.place = Place::Database(name.clone());
                        if !self.databases.iter().any(|(n, _)| *n == name) {
                            self.databases.push((name.clone(), false));
                        }
                    }
                    Meta::Connect(name)
                }
                None => Meta::Other(text.to_owned()),
            },
            "\\restrict" | "\\unrestrict" => Meta::Restrict,
            _ => Meta::Other(text.to_owned()),
        }
    }
}

/// The first two keywords of a statement, upper-cased: `("CREATE", "ROLE")`.
pub fn leading_keywords(text: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(&text[..text.len().min(200)]);
    let mut words = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    let second = words.next().unwrap_or("").to_ascii_uppercase();
    (first, second)
}

/// The database a `CREATE DATABASE name ...` statement creates.
pub fn created_database(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    let mut t = Tokens::new(&text);
    (t.keyword("CREATE") && t.keyword("DATABASE"))
        .then(|| t.ident())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_pg_dumpall_layout() {
        let mut s = Sections::default();
        s.comment(b"-- PostgreSQL database cluster dump\n");
        assert!(s.is_cluster_dump());
        assert_eq!(s.place(), &Place::Globals);
        s.comment(b"-- Database \"template1\" dump\n");
        assert_eq!(s.place(), &Place::Between);
        assert_eq!(
            s.meta(b"\\connect template1\n"),
            Meta::Connect("template1".into())
        );
        assert_eq!(
            s.comment(b"-- Name: t; Type: TABLE; Schema: s; Owner: o\n"),
            Marker::Toc
        );
        assert_eq!(s.toc().unwrap().schema, "s");
        assert_eq!(
            s.comment(b"-- PostgreSQL database dump complete\n"),
            Marker::DatabaseComplete("template1".into())
        );
        assert!(s.toc().is_none());
        s.meta(b"\\connect cosims\n");
        s.meta(b"\\connect cosims\n");
        assert!(s.in_database("cosims"));
        assert_eq!(s.incomplete_databases(), ["cosims"]);
        assert_eq!(s.meta(b"\\restrict abc\n"), Meta::Restrict);
        assert_eq!(
            s.comment(b"-- PostgreSQL database cluster dump complete"),
            Marker::ClusterComplete
        );
        assert_eq!(s.databases().collect::<Vec<_>>(), ["template1", "cosims"]);
    }

    #[test]
    fn keywords_and_created_databases() {
        assert_eq!(
            leading_keywords(b"CREATE ROLE x;"),
            ("CREATE".into(), "ROLE".into())
        );
        assert_eq!(
            leading_keywords(b"  alter\n role x"),
            ("ALTER".into(), "ROLE".into())
        );
        assert_eq!(
            created_database(b"CREATE DATABASE \"other db\" WITH TEMPLATE = template0;").as_deref(),
            Some("other db")
        );
    }
}
