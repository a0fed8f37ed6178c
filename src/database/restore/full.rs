//! Replacing the schema: from the source database's section of the dump, everything
//! that belongs to the schema, inside csi's transaction that first drops it.
//!
//! What is applied, by pg_dump's table-of-contents entry:
//! - objects of the schema (tables, sequences, functions, data, constraints, indexes,
//!   triggers, grants, default privileges in the schema...);
//! - the schema itself, its comment and grants;
//! - `CREATE EXTENSION IF NOT EXISTS` (harmless when the extension exists; needed when
//!   objects of the schema depend on it);
//! - the preamble's settings (`SET client_encoding`, `search_path`...), except
//!   `SET lock_timeout`, which csi sets itself.
//!
//! What is not, and is reported: objects of other schemas (they were not dropped, so
//! re-creating them would fail with "already exists"), database-wide objects outside any
//! schema (comments on extensions, event triggers, casts...), statements naming the
//! database itself (`ALTER DATABASE`, `COMMENT ON DATABASE`, `GRANT ... ON DATABASE`:
//! they would change the database, not the schema, and name the original database even
//! when restoring elsewhere), `DROP` statements of a `--clean` dump, the globals
//! (unless `--include-globals`) and the other databases.
//!
//! Refused: transaction control statements (they would end csi's transaction) and
//! psql meta-commands other than `\connect`, `\restrict`, `\unrestrict`.

use std::io::Write;
use std::time::Duration;

use super::common::TableLoad;
use super::common::{is_role_statement, is_transaction_control, Copying, Loaded, Stream};
use super::sql;
use super::writer::LineMap;
use crate::database::dump::{
    leading_keywords, parse_setval, CopyHeader, Handler, Place, ScanEnd, TocEntry,
};
use crate::error::{failed, precondition};

#[derive(serde::Serialize, serde::Deserialize)]
pub struct FullOptions {
    pub schema: String,
    pub include_globals: bool,
    pub lock_timeout: Duration,
}

pub struct FullLoad<W: Write> {
    stream: Stream<W>,
    options: FullOptions,
    /// Role statements to apply first (`--include-globals`), already made tolerant.
    globals: String,
    schema_created: bool,
}

pub(super) enum Decision {
    Apply,
    SkipOtherSchema(String),
    SkipDatabaseWide(String),
    HoldBack,
    Replace,
    CleanDrop,
}

impl<W: Write> FullLoad<W> {
    pub fn new(stream: Stream<W>, options: FullOptions) -> Self {
        FullLoad {
            stream,
            options,
            globals: String::new(),
            schema_created: false,
        }
    }

    pub fn finish(self, end: &ScanEnd) -> Loaded<W> {
        self.stream.finish(end)
    }

    /// What was sent so far (when the stream stops early).
    pub fn so_far(&self) -> (LineMap, Vec<TableLoad>) {
        self.stream.so_far()
    }

    fn open_transaction(&mut self) -> anyhow::Result<()> {
        let mut sql = sql::begin(self.options.lock_timeout);
        sql.push_str(&self.globals);
        sql.push_str(&sql::drop_schema(&self.options.schema));
        self.stream.out.generated(&sql)?;
        self.stream.started = true;
        self.stream.report.roles_applied = self.options.include_globals;
        Ok(())
    }

    fn close(&mut self) -> anyhow::Result<()> {
        if !self.schema_created {
            return Err(precondition(format!(
                "the dump of database `{}` has no schema `{}`: is it a dump of another system?",
                self.stream.source_db, self.options.schema
            ))
            .with_hint("`csi env backups` lists the archives; check which one you meant")
            .into());
        }
        let checks = self
            .stream
            .verification(&sql::schema_scope(&self.options.schema), true);
        self.stream.close_with(&checks)
    }
}

/// What to do with a statement of the source database's section, by its TOC entry.
pub(super) fn decide(schema: &str, toc: Option<&TocEntry>, text: &[u8]) -> Decision {
    let Some(toc) = toc else {
        // The preamble before the first entry: settings, or a --clean dump's DROPs.
        let (first, second) = leading_keywords(text);
        return match (first.as_str(), second.as_str()) {
            ("SET", "LOCK_TIMEOUT") => Decision::Replace,
            ("DROP", _) => Decision::CleanDrop,
            _ => Decision::Apply,
        };
    };
    if toc.schema == schema {
        return Decision::Apply;
    }
    if toc.schema != "-" {
        return Decision::SkipOtherSchema(toc.schema.clone());
    }
    let named = |prefix: &str| toc.name.strip_prefix(prefix).map(str::to_owned);
    match toc.kind.as_str() {
        "SCHEMA" if toc.name == schema => Decision::Apply,
        "SCHEMA" => Decision::SkipOtherSchema(toc.name.clone()),
        "EXTENSION" => Decision::Apply,
        "DATABASE" | "DATABASE PROPERTIES" => Decision::HoldBack,
        "COMMENT" | "ACL" | "SECURITY LABEL" => {
            if let Some(s) = named("SCHEMA ") {
                if s == schema {
                    Decision::Apply
                } else {
                    Decision::SkipOtherSchema(s)
                }
            } else if named("DATABASE ").is_some() {
                Decision::HoldBack
            } else {
                Decision::SkipDatabaseWide(format!("{} on {}", toc.kind, toc.name))
            }
        }
        kind => Decision::SkipDatabaseWide(kind.to_owned()),
    }
}

impl<W: Write> Handler for FullLoad<W> {
    fn comment(&mut self, line: &[u8], _at: u64) -> anyhow::Result<()> {
        if self.stream.closes_section(line) {
            self.close()?;
        }
        Ok(())
    }

    fn meta(&mut self, line: &[u8], at: u64) -> anyhow::Result<()> {
        if self.stream.opens_section(line, at)? {
            self.open_transaction()?;
        }
        Ok(())
    }

    fn statement(&mut self, text: &[u8], at: u64) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        if self.stream.outside(text) {
            if self.options.include_globals
                && *self.stream.sections.place() == Place::Globals
                && is_role_statement(text)
            {
                let (first, second) = leading_keywords(text);
                let text = String::from_utf8_lossy(text);
                match (first.as_str(), second.as_str()) {
                    ("CREATE", "ROLE") => {
                        self.globals.push_str(&sql::tolerant_role_statement(&text))
                    }
                    ("DROP", _) => {}
                    _ => self.globals.push_str(&text),
                }
            }
            return Ok(());
        }
        if !self.stream.loading() {
            return Ok(());
        }
        if is_transaction_control(text) {
            return Err(failed(format!(
                "line {at} of the dump: a transaction control statement (`{}`) would end csi's transaction; nothing was applied",
                String::from_utf8_lossy(text).trim()
            ))
            .into());
        }
        match decide(&self.options.schema, self.stream.sections.toc(), text) {
            Decision::Apply => {
                if let Some(toc) = self.stream.sections.toc() {
                    if toc.kind == "SCHEMA" && toc.name == self.options.schema {
                        self.schema_created = true;
                    }
                }
                if let Some(setval) = parse_setval(&String::from_utf8_lossy(text)) {
                    self.stream.setvals.push(setval);
                }
                self.stream.out.dump(text, at)?;
            }
            Decision::SkipOtherSchema(schema) => self.stream.report.other_schema(&schema),
            Decision::SkipDatabaseWide(kind) => self.stream.report.database_wide(&kind),
            Decision::HoldBack => self.stream.report.database_level(text),
            Decision::Replace => self.stream.report.replaced(text),
            Decision::CleanDrop => self.stream.report.clean_drops += 1,
        }
        Ok(())
    }

    fn copy_start(
        &mut self,
        text: &[u8],
        header: Option<CopyHeader>,
        at: u64,
    ) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        let load = self.stream.loading() && !self.stream.outside(text);
        let copying = match (load, header) {
            (false, _) => Copying::Skip,
            (true, None) => {
                return Err(failed(format!(
                    "line {at} of the dump: a COPY statement csi cannot read: {}",
                    String::from_utf8_lossy(text).trim()
                ))
                .into())
            }
            (true, Some(header)) => {
                let in_schema = match self.stream.sections.toc() {
                    Some(toc) => toc.schema == self.options.schema,
                    None => header.table.schema == self.options.schema,
                };
                if in_schema {
                    let index = self
                        .stream
                        .table_index(&header.table, &header.table.sql(), at);
                    self.stream
                        .progress
                        .table_started(&header.table.to_string());
                    self.stream.out.dump(text, at)?;
                    Copying::Load { index, keep: None }
                } else {
                    self.stream.report.other_schema(&header.table.schema);
                    Copying::Skip
                }
            }
        };
        self.stream.copying = Some(copying);
        Ok(())
    }

    fn copy_data(&mut self, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
        if let Some(Copying::Load { index, .. }) = self.stream.copying {
            self.stream.check_abort()?;
            self.stream.out.dump_lines(rows_text, rows, at)?;
            self.stream.tables[index].rows += rows;
            self.stream.progress.rows_loaded(rows);
        }
        Ok(())
    }

    fn copy_end(&mut self, at: u64) -> anyhow::Result<()> {
        self.stream.end_copy(at)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    use super::*;
    use crate::database::dump::scan;

    /// The layout of a pg_dumpall of a cosims cluster (PostgreSQL 15, restricted mode).
    pub(crate) const DUMP: &str = r#"--
-- PostgreSQL database cluster dump
--

\restrict K1

SET default_transaction_read_only = off;
CREATE ROLE cosims_admin;
ALTER ROLE cosims_admin WITH NOSUPERUSER INHERIT LOGIN;
CREATE ROLE postgres;
GRANT cosims_admin TO postgres;

\unrestrict K1

--
-- Databases
--

--
-- Database "template1" dump
--

\connect template1

--
-- PostgreSQL database dump
--

SET statement_timeout = 0;

--
-- PostgreSQL database dump complete
--

--
-- Database "cosims" dump
--

\restrict K2
SET statement_timeout = 0;

--
-- Name: cosims; Type: DATABASE; Schema: -; Owner: cosims_admin
--

CREATE DATABASE cosims WITH TEMPLATE = template0 ENCODING = 'UTF8';
ALTER DATABASE cosims OWNER TO cosims_admin;

\unrestrict K2
\connect cosims
\restrict K2

--
-- Name: cosims; Type: DATABASE PROPERTIES; Schema: -; Owner: cosims_admin
--

ALTER DATABASE cosims SET work_mem TO '8MB';

\unrestrict K2
\connect cosims
\restrict K2

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: cosims; Type: SCHEMA; Schema: -; Owner: cosims_admin
--

CREATE SCHEMA cosims;
ALTER SCHEMA cosims OWNER TO cosims_admin;

--
-- Name: pgcrypto; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

--
-- Name: EXTENSION pgcrypto; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';

--
-- Name: f(); Type: FUNCTION; Schema: cosims; Owner: cosims_admin
--

CREATE FUNCTION cosims.f() RETURNS integer
    LANGUAGE sql
    AS $$
SELECT 1;
\connect elsewhere
$$;

--
-- Name: t; Type: TABLE; Schema: cosims; Owner: cosims_admin
--

CREATE TABLE cosims.t (
    id integer NOT NULL,
    v text
);

--
-- Name: stuff; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.stuff (
    id integer
);

--
-- Data for Name: t; Type: TABLE DATA; Schema: cosims; Owner: cosims_admin
--

COPY cosims.t (id, v) FROM stdin;
1	a
2	\N
3	-- PostgreSQL database dump complete
\.

--
-- Data for Name: stuff; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.stuff (id) FROM stdin;
7
\.

--
-- Name: t_id_seq; Type: SEQUENCE SET; Schema: cosims; Owner: cosims_admin
--

SELECT pg_catalog.setval('cosims.t_id_seq', 3, true);

--
-- Name: DATABASE cosims; Type: ACL; Schema: -; Owner: cosims_admin
--

GRANT CONNECT ON DATABASE cosims TO cosims_admin;

--
-- Name: SCHEMA cosims; Type: ACL; Schema: -; Owner: cosims_admin
--

GRANT USAGE ON SCHEMA cosims TO postgres;

--
-- PostgreSQL database dump complete
--

\unrestrict K2

--
-- Database "postgres" dump
--

\connect postgres

CREATE TABLE public.p (x int);

--
-- PostgreSQL database dump complete
--

--
-- PostgreSQL database cluster dump complete
--

"#;

    fn load(dump: &str, include_globals: bool) -> (String, Loaded<Vec<u8>>) {
        let progress = Arc::new(crate::database::restore::progress::Progress::default());
        let stream = Stream::new(
            Vec::new(),
            "cosims",
            progress,
            Arc::new(AtomicBool::new(false)),
        );
        let mut handler = FullLoad::new(
            stream,
            FullOptions {
                schema: "cosims".into(),
                include_globals,
                lock_timeout: Duration::from_secs(30),
            },
        );
        let end = scan(dump.as_bytes(), &mut handler, &AtomicU64::new(0)).unwrap();
        let mut loaded = handler.finish(&end);
        loaded.writer.flush().unwrap();
        let out = String::from_utf8(loaded.writer.get_ref().clone()).unwrap();
        (out, loaded)
    }

    #[test]
    fn only_the_schema_goes_to_psql_inside_one_transaction() {
        let (out, loaded) = load(DUMP, false);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert!(
            out.starts_with("BEGIN;\nSET LOCAL lock_timeout = '30000ms';\n"),
            "{out}"
        );
        assert!(
            out.contains("DROP SCHEMA IF EXISTS \"cosims\" CASCADE;\n"),
            "{out}"
        );
        for kept in [
            "SET client_encoding = 'UTF8';",
            "CREATE SCHEMA cosims;",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto",
            "\\connect elsewhere\n$$;",
            "COPY cosims.t (id, v) FROM stdin;\n1\ta\n2\t\\N\n3\t-- PostgreSQL database dump complete\n\\.\n",
            "SELECT pg_catalog.setval('cosims.t_id_seq', 3, true);",
            "GRANT USAGE ON SCHEMA cosims TO postgres;",
            "IF n <> 3 THEN",
        ] {
            assert!(out.contains(kept), "{kept:?} missing from\n{out}");
        }
        for left_out in [
            "ROLE",
            "\\restrict",
            "\\unrestrict",
            "\\connect cosims",
            "CREATE DATABASE",
            "ALTER DATABASE",
            "ON DATABASE",
            "COMMENT ON EXTENSION",
            "public.stuff",
            "7\n",
            "public.p",
            "lock_timeout = 0",
            "COMMIT",
        ] {
            assert!(!out.contains(left_out), "{left_out:?} in\n{out}");
        }
        assert_eq!(loaded.tables.len(), 1);
        assert_eq!(loaded.tables[0].rows, 3);
        let report = loaded.report.lines().join("\n");
        for line in [
            "skipped: roles (4 statements",
            "skipped: databases template1, postgres",
            "skipped: schema public (2 objects)",
            "held back (names the database itself): ALTER DATABASE cosims SET work_mem TO '8MB';",
            "held back (names the database itself): GRANT CONNECT ON DATABASE cosims TO cosims_admin;",
            "replaced by csi's own setting: SET lock_timeout = 0;",
        ] {
            assert!(report.contains(line), "{line:?} not in\n{report}");
        }
    }

    #[test]
    fn globals_are_applied_first_tolerating_existing_roles() {
        let (out, loaded) = load(DUMP, true);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let drop = out.find("DROP SCHEMA").unwrap();
        let role = out.find("CREATE ROLE cosims_admin;").unwrap();
        assert!(role < drop, "{out}");
        assert!(out.contains("EXCEPTION WHEN duplicate_object"), "{out}");
        assert!(out.contains("GRANT cosims_admin TO postgres;"), "{out}");
        assert!(!out.contains("default_transaction_read_only"), "{out}");
    }

    #[test]
    fn a_cut_dump_is_never_ready_to_commit() {
        let cuts = [
            DUMP.find("2\t\\N").unwrap(),
            DUMP.find("SELECT pg_catalog.setval").unwrap() + 10,
            DUMP.find("\\connect postgres").unwrap(),
            DUMP.find("-- PostgreSQL database cluster dump complete")
                .unwrap(),
        ];
        for cut in cuts {
            let (_, loaded) = load(&DUMP[..cut], false);
            assert!(!loaded.problems.is_empty(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn a_transaction_statement_in_the_dump_is_refused() {
        let dump = DUMP.replace("CREATE SCHEMA cosims;", "CREATE SCHEMA cosims;\nCOMMIT;");
        let progress = Arc::new(crate::database::restore::progress::Progress::default());
        let stream = Stream::new(
            Vec::new(),
            "cosims",
            progress,
            Arc::new(AtomicBool::new(false)),
        );
        let mut handler = FullLoad::new(
            stream,
            FullOptions {
                schema: "cosims".into(),
                include_globals: false,
                lock_timeout: Duration::from_secs(1),
            },
        );
        let err = scan(dump.as_bytes(), &mut handler, &AtomicU64::new(0)).unwrap_err();
        assert!(err.to_string().contains("transaction control"), "{err}");
    }
}
