//! Is a pg_dumpall stream complete? Every database dump closed by its trailer, the
//! cluster trailer at the end, every COPY block closed, no statement cut off.

use serde::Serialize;

use super::names::CopyHeader;
use super::scan::{Ending, Handler, ScanEnd};
use super::sections::Sections;

/// A handler that only follows the structure of the dump.
#[derive(Debug, Default)]
pub struct Completeness {
    sections: Sections,
    tables: u64,
    rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub bytes: u64,
    pub databases: Vec<String>,
    pub tables: u64,
    pub rows: u64,
    /// Empty when the dump is complete.
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Completeness {
    pub fn verdict(self, end: &ScanEnd) -> Verdict {
        let mut problems = ending_problems(end);
        problems.extend(structure_problems(&self.sections));
        Verdict {
            bytes: end.bytes,
            databases: self.sections.databases().map(str::to_owned).collect(),
            tables: self.tables,
            rows: self.rows,
            problems,
        }
    }
}

/// What the way the input ended says about its completeness.
pub fn ending_problems(end: &ScanEnd) -> Vec<String> {
    match end.ending {
        _ if end.bytes == 0 => vec!["the dump is empty".to_owned()],
        Ending::Clean => Vec::new(),
        Ending::InCopy { line } => vec![format!(
            "the dump ends inside the data of the COPY block that starts on line {line}"
        )],
        Ending::InStatement { line } => vec![format!(
            "the dump ends inside the statement that starts on line {line}"
        )],
    }
}

/// Missing trailers.
pub fn structure_problems(sections: &Sections) -> Vec<String> {
    let mut problems = Vec::new();
    if !sections.is_cluster_dump() {
        problems.push("this is not a pg_dumpall dump (no cluster dump header)".to_owned());
    }
    for db in sections.incomplete_databases() {
        problems.push(format!(
            "the dump of database `{db}` has no \"dump complete\" trailer"
        ));
    }
    if !sections.cluster_complete() {
        problems
            .push("the dump has no \"cluster dump complete\" trailer: it was cut off".to_owned());
    }
    problems
}

impl Handler for Completeness {
    fn comment(&mut self, line: &[u8], _at: u64) -> anyhow::Result<()> {
        self.sections.comment(line);
        Ok(())
    }

    fn meta(&mut self, line: &[u8], _at: u64) -> anyhow::Result<()> {
        self.sections.meta(line);
        Ok(())
    }

    fn statement(&mut self, _text: &[u8], _at: u64) -> anyhow::Result<()> {
        Ok(())
    }

    fn copy_start(&mut self, _: &[u8], _: Option<CopyHeader>, _at: u64) -> anyhow::Result<()> {
        self.tables += 1;
        Ok(())
    }

    fn copy_data(&mut self, _: &[u8], rows: u64, _at: u64) -> anyhow::Result<()> {
        self.rows += rows;
        Ok(())
    }

    fn copy_end(&mut self, _at: u64) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::database::dump::scan;

    const DUMP: &str = "--\n-- PostgreSQL database cluster dump\n--\nCREATE ROLE a;\n--\n-- Databases\n--\n\\connect db\nCOPY s.t (a) FROM stdin;\n1\n\\.\n--\n-- PostgreSQL database dump complete\n--\n--\n-- PostgreSQL database cluster dump complete\n--\n";

    fn check(input: &str) -> Verdict {
        let mut c = Completeness::default();
        let end = scan(input.as_bytes(), &mut c, &AtomicU64::new(0)).unwrap();
        c.verdict(&end)
    }

    #[test]
    fn a_complete_dump_has_no_problem() {
        let v = check(DUMP);
        assert!(v.is_complete(), "{:?}", v.problems);
        assert_eq!((v.tables, v.rows), (1, 1));
        assert_eq!(v.databases, ["db"]);
    }

    #[test]
    fn every_cut_is_noticed() {
        for cut in [0, 20, 60, 100, 115, 140, DUMP.len() - 10] {
            let v = check(&DUMP[..cut]);
            assert!(!v.is_complete(), "cut at {cut} went unnoticed");
        }
    }
}
