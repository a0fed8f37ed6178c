//! The dump's statements after the data (indexes, constraints, foreign keys), made into
//! jobs that several connections can run at once: what each job locks (PostgreSQL's
//! own lock modes, so that two jobs run together only when PostgreSQL would let them,
//! and no connection ever waits for another), and which jobs must be done first.
//!
//! Two rewrites let more of them run at once, each ending in the catalog the dump's
//! own statement makes:
//! - `ADD CONSTRAINT c PRIMARY KEY|UNIQUE (cols)` holds its table exclusively for the
//!   whole index build, so a table's constraints ran one after another and nothing else
//!   ran on it meanwhile. It becomes `CREATE UNIQUE INDEX c ON t (cols)` (a share lock:
//!   it builds beside the table's other indexes), then `ADD CONSTRAINT c PRIMARY KEY
//!   USING INDEX c` (instant).
//! - `ADD CONSTRAINT f FOREIGN KEY ...` holds both tables while it checks every row,
//!   so foreign keys to one table (all of the job tables reference `parent_jobs`)
//!   were checked one at a time. It becomes the same statement `NOT VALID` (instant),
//!   then `VALIDATE CONSTRAINT f`, which locks the referenced table only against
//!   changes: the checks of different tables run at once.
//!
//! Each loaded table is also analyzed here, once its indexes are built: the statistics
//! are there when the schema is swapped in.

use std::collections::HashSet;

use crate::database::dump::{QualifiedName, Tokens};

/// The lock modes these statements take (PostgreSQL's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The referenced table of `VALIDATE CONSTRAINT` (a foreign key).
    RowShare,
    /// `ANALYZE`; the table of `VALIDATE CONSTRAINT`.
    ShareUpdateExclusive,
    /// `CREATE INDEX`.
    Share,
    /// Both tables of `ADD CONSTRAINT ... FOREIGN KEY`.
    ShareRowExclusive,
    /// Any other `ALTER TABLE`.
    AccessExclusive,
}

impl Lock {
    /// PostgreSQL's table of conflicting lock modes, for these modes.
    pub fn conflicts(self, other: Lock) -> bool {
        use Lock::*;
        match (self, other) {
            (AccessExclusive, _) | (_, AccessExclusive) => true,
            (RowShare, _) | (_, RowShare) => false,
            (Share, Share) => false,
            _ => true,
        }
    }
}

/// One statement (or a few of one dump entry) for one connection.
#[derive(Debug, Clone)]
pub struct Job {
    pub sql: Vec<u8>,
    /// Dump line of the statement (for psql's errors); None for csi's own.
    pub at: Option<u64>,
    /// Tables (bare names, all in the staging schema) and how the job locks them.
    pub locks: Vec<(String, Lock)>,
    /// A shape csi does not know: it runs with nothing else.
    pub alone: bool,
    /// Jobs (indexes into the list) that must be done before this one starts.
    pub after: Vec<usize>,
    /// Rows of the largest table it reads: the largest run first.
    pub weight: u64,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An index or constraint on one table (what foreign keys and ANALYZE wait for).
    Build,
    ForeignKeyAdd,
    Validate,
    Analyze,
}

impl Job {
    /// Whether this job may run beside `other`.
    pub fn compatible(&self, other: &Job) -> bool {
        if self.alone || other.alone {
            return false;
        }
        self.locks.iter().all(|(table, mode)| {
            other
                .locks
                .iter()
                .all(|(t, m)| t != table || !mode.conflicts(*m))
        })
    }
}

/// The jobs of the post-data section, as it streams by.
#[derive(Default)]
pub struct PostData {
    jobs: Vec<Job>,
    /// Jobs made from the current dump entry (its later statements join the last).
    entry: Vec<usize>,
    /// Partitioned tables (`USING INDEX` and `ONLY ... VALIDATE` do not apply): their
    /// statements are kept as the dump has them.
    partitioned: HashSet<String>,
}

impl PostData {
    /// A table of the dump's pre-data: remembered when it is partitioned.
    pub fn table_created(&mut self, sql: &[u8]) {
        let text = String::from_utf8_lossy(sql);
        if text.to_ascii_uppercase().contains("PARTITION BY") {
            let mut tokens = Tokens::new(&text);
            if tokens.keyword("CREATE") && tokens.keyword("TABLE") {
                if let Some(name) = tokens.qualified() {
                    self.partitioned.insert(name.name);
                }
            }
        }
    }

    /// The first statement of a dump entry of this `kind` (INDEX, CONSTRAINT, FK
    /// CONSTRAINT); `rows` gives a table's rows.
    pub fn entry(&mut self, kind: &str, sql: &[u8], at: u64, rows: impl Fn(&str) -> u64) {
        let text = String::from_utf8_lossy(sql);
        let at = Some(at);
        let first = self.jobs.len();
        match parse(&text, kind) {
            Some(Statement::Index { table }) => {
                let weight = rows(&table);
                self.push(
                    sql.to_vec(),
                    at,
                    vec![(table, Lock::Share)],
                    weight,
                    Kind::Build,
                );
            }
            Some(Statement::Key {
                table,
                table_sql,
                name,
                primary,
                columns,
            }) if !self.partitioned.contains(&table) => {
                let weight = rows(&table);
                let index =
                    format!("CREATE UNIQUE INDEX {name} ON {table_sql} USING btree ({columns});\n");
                let what = if primary { "PRIMARY KEY" } else { "UNIQUE" };
                let attach = format!(
                    "ALTER TABLE ONLY {table_sql}\n    ADD CONSTRAINT {name} {what} USING INDEX {name};\n"
                );
                self.push(
                    index.into_bytes(),
                    at,
                    vec![(table.clone(), Lock::Share)],
                    weight,
                    Kind::Build,
                );
                self.push(
                    attach.into_bytes(),
                    at,
                    vec![(table, Lock::AccessExclusive)],
                    weight,
                    Kind::Build,
                );
                self.jobs[first + 1].after.push(first);
            }
            Some(Statement::ForeignKey {
                table,
                table_sql,
                name,
                referenced,
                not_valid,
            }) if !self.partitioned.contains(&table) && !self.partitioned.contains(&referenced) => {
                let weight = rows(&table).max(rows(&referenced));
                let both = vec![
                    (table.clone(), Lock::ShareRowExclusive),
                    (referenced.clone(), Lock::ShareRowExclusive),
                ];
                if not_valid {
                    // Not valid in the source either: restored as it was.
                    self.push(sql.to_vec(), at, both, weight, Kind::ForeignKeyAdd);
                } else {
                    let mut add = text.trim_end().trim_end_matches(';').to_owned();
                    add.push_str(" NOT VALID;\n");
                    let validate =
                        format!("ALTER TABLE ONLY {table_sql} VALIDATE CONSTRAINT {name};\n");
                    self.push(add.into_bytes(), at, both, weight, Kind::ForeignKeyAdd);
                    let locks = vec![
                        (table, Lock::ShareUpdateExclusive),
                        (referenced, Lock::RowShare),
                    ];
                    self.push(validate.into_bytes(), at, locks, weight, Kind::Validate);
                    self.jobs[first + 1].after.push(first);
                }
            }
            Some(Statement::Key { table, .. }) | Some(Statement::Alter { table }) => {
                let weight = rows(&table);
                self.push(
                    sql.to_vec(),
                    at,
                    vec![(table, Lock::AccessExclusive)],
                    weight,
                    Kind::Build,
                );
            }
            Some(Statement::ForeignKey {
                table, referenced, ..
            }) => {
                let weight = rows(&table).max(rows(&referenced));
                let both = vec![
                    (table, Lock::ShareRowExclusive),
                    (referenced, Lock::ShareRowExclusive),
                ];
                self.push(sql.to_vec(), at, both, weight, Kind::ForeignKeyAdd);
            }
            None => {
                self.push(sql.to_vec(), at, Vec::new(), 0, Kind::Build);
                self.jobs[first].alone = true;
            }
        }
        self.entry = (first..self.jobs.len()).collect();
    }

    /// A further statement of the current entry (`ALTER TABLE t CLUSTER ON i` after
    /// its index): it runs after the entry's own, in the same job.
    pub fn continued(&mut self, sql: &[u8]) {
        let Some(&last) = self.entry.last() else {
            return;
        };
        let text = String::from_utf8_lossy(sql);
        let job = &mut self.jobs[last];
        job.sql.extend_from_slice(sql);
        match parse(&text, "") {
            Some(Statement::Index { table }) => job.locks.push((table, Lock::Share)),
            Some(
                Statement::Alter { table }
                | Statement::Key { table, .. }
                | Statement::ForeignKey { table, .. },
            ) => job.locks.push((table, Lock::AccessExclusive)),
            None => job.alone = true,
        }
    }

    fn push(
        &mut self,
        sql: Vec<u8>,
        at: Option<u64>,
        locks: Vec<(String, Lock)>,
        weight: u64,
        kind: Kind,
    ) {
        self.jobs.push(Job {
            sql,
            at,
            locks,
            alone: false,
            after: Vec::new(),
            weight,
            kind,
        });
    }

    /// Every job, with `ANALYZE` of each table of `analyze` (`(bare name, SQL name,
    /// rows)`), and what each must wait for: a foreign key for the indexes and
    /// constraints of the table it references (its unique key among them), an ANALYZE
    /// for those of its own table.
    pub fn finish(mut self, analyze: &[(String, String, u64)]) -> Vec<Job> {
        for (table, sql, rows) in analyze {
            self.push(
                format!("ANALYZE {sql};\n").into_bytes(),
                None,
                vec![(table.clone(), Lock::ShareUpdateExclusive)],
                // Sampling reads a bounded part of the table.
                (*rows).min(30_000),
                Kind::Analyze,
            );
        }
        let builds: Vec<(usize, Vec<String>)> = self
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.kind == Kind::Build)
            .map(|(i, j)| (i, j.locks.iter().map(|(t, _)| t.clone()).collect()))
            .collect();
        let alone: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].alone)
            .collect();
        for job in &mut self.jobs {
            let waits_for: Vec<&str> = match job.kind {
                // The referenced table: the second lock of an add.
                Kind::ForeignKeyAdd => job.locks.iter().skip(1).map(|(t, _)| t.as_str()).collect(),
                Kind::Analyze => job.locks.iter().map(|(t, _)| t.as_str()).collect(),
                Kind::Build | Kind::Validate => continue,
            };
            for (i, tables) in &builds {
                if tables.iter().any(|t| waits_for.contains(&t.as_str())) {
                    job.after.push(*i);
                }
            }
            // A statement csi could not read may be what they need.
            job.after.extend(&alone);
        }
        self.jobs
    }
}

/// What a post-data statement is, as far as scheduling goes.
#[derive(Debug, PartialEq, Eq)]
enum Statement {
    /// `CREATE [UNIQUE] INDEX ... ON t ...`
    Index { table: String },
    /// `ALTER TABLE [ONLY] t ADD CONSTRAINT name PRIMARY KEY|UNIQUE (cols)`, nothing
    /// after the column list (a shape `USING INDEX` can take).
    Key {
        table: String,
        table_sql: String,
        name: String,
        primary: bool,
        columns: String,
    },
    /// `ALTER TABLE [ONLY] t ADD CONSTRAINT name FOREIGN KEY (...) REFERENCES r...`
    ForeignKey {
        table: String,
        table_sql: String,
        name: String,
        referenced: String,
        not_valid: bool,
    },
    /// Any other `ALTER TABLE t ...`.
    Alter { table: String },
}

fn parse(text: &str, kind: &str) -> Option<Statement> {
    let mut t = Tokens::new(text);
    if t.keyword("CREATE") {
        t.keyword("UNIQUE");
        if !t.keyword("INDEX") {
            return None;
        }
        // CREATE INDEX name ON [ONLY] table
        let _name = t.ident()?;
        if !t.keyword("ON") {
            return None;
        }
        t.keyword("ONLY");
        let table = t.qualified()?;
        return Some(Statement::Index { table: table.name });
    }
    if !(t.keyword("ALTER") && t.keyword("TABLE")) {
        return None;
    }
    t.keyword("ONLY");
    let before_table = t.rest();
    let table = t.qualified()?;
    let table_sql = before_table[..before_table.len() - t.rest().len()]
        .trim()
        .to_owned();
    let alter = Some(Statement::Alter {
        table: table.name.clone(),
    });
    if !(t.keyword("ADD") && t.keyword("CONSTRAINT")) {
        return alter;
    }
    let before_name = t.rest();
    if t.ident().is_none() {
        return alter;
    }
    let name = before_name[..before_name.len() - t.rest().len()]
        .trim()
        .to_owned();
    let primary = t.keyword("PRIMARY") && t.keyword("KEY");
    if primary || t.keyword("UNIQUE") {
        let rest = t.rest().trim();
        let Some(inner) = rest.strip_prefix('(') else {
            return alter;
        };
        let Some((columns, after)) = inner.split_once(')') else {
            return alter;
        };
        let simple =
            !columns.contains(['(', '"', '\'']) && after.trim() == ";" && kind != "FK CONSTRAINT";
        if !simple {
            return alter;
        }
        return Some(Statement::Key {
            table: table.name,
            table_sql,
            name,
            primary,
            columns: columns.trim().to_owned(),
        });
    }
    if t.keyword("FOREIGN") && t.keyword("KEY") {
        let rest = t.rest();
        let at = find_keyword(rest, "REFERENCES")?;
        let mut r = Tokens::new(&rest[at + "REFERENCES".len()..]);
        let referenced: QualifiedName = r.qualified()?;
        let not_valid = rest
            .trim_end()
            .trim_end_matches(';')
            .trim_end()
            .to_ascii_uppercase()
            .ends_with("NOT VALID");
        return Some(Statement::ForeignKey {
            table: table.name,
            table_sql,
            name,
            referenced: referenced.name,
            not_valid,
        });
    }
    alter
}

/// Where `word` starts in `text` as a whole word outside quotes.
fn find_keyword(text: &str, word: &str) -> Option<usize> {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        }
        if quoted || !upper[i..].starts_with(word) {
            continue;
        }
        let before = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let after = bytes
            .get(i + word.len())
            .map_or(true, |c| !(c.is_ascii_alphanumeric() || *c == b'_'));
        if before && after {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(statements: &[(&str, &str)]) -> Vec<Job> {
        let mut post = PostData::default();
        for (kind, sql) in statements {
            post.entry(
                kind,
                sql.as_bytes(),
                1,
                |t| if t == "big" { 1000 } else { 10 },
            );
        }
        post.finish(&[("big".into(), "s.big".into(), 1000)])
    }

    fn sql(job: &Job) -> String {
        String::from_utf8(job.sql.clone()).unwrap()
    }

    #[test]
    fn a_key_is_built_as_an_index_then_attached() {
        let jobs = jobs(&[(
            "CONSTRAINT",
            "ALTER TABLE ONLY \"s\".big\n    ADD CONSTRAINT big_pkey PRIMARY KEY (id);\n",
        )]);
        assert_eq!(
            sql(&jobs[0]),
            "CREATE UNIQUE INDEX big_pkey ON \"s\".big USING btree (id);\n"
        );
        assert_eq!(jobs[0].locks, [("big".to_owned(), Lock::Share)]);
        assert_eq!(
            sql(&jobs[1]),
            "ALTER TABLE ONLY \"s\".big\n    ADD CONSTRAINT big_pkey PRIMARY KEY USING INDEX big_pkey;\n"
        );
        assert_eq!(jobs[1].after, [0]);
        assert_eq!(jobs[1].locks, [("big".to_owned(), Lock::AccessExclusive)]);
        // ANALYZE waits for both.
        assert_eq!(sql(&jobs[2]), "ANALYZE s.big;\n");
        assert_eq!(jobs[2].after, [0, 1]);
    }

    #[test]
    fn keys_with_options_are_kept_as_the_dump_has_them() {
        for sql_text in [
            "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT k UNIQUE (a) DEFERRABLE;\n",
            "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT k UNIQUE (a) INCLUDE (b);\n",
            "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT k PRIMARY KEY (\"Odd)\");\n",
            "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT k EXCLUDE USING gist (a WITH &&);\n",
            "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT k CHECK ((a > 0));\n",
        ] {
            let jobs = jobs(&[("CONSTRAINT", sql_text)]);
            assert_eq!(sql(&jobs[0]), sql_text);
            assert_eq!(jobs[0].locks, [("big".to_owned(), Lock::AccessExclusive)]);
        }
    }

    #[test]
    fn a_foreign_key_is_added_not_valid_then_validated_after_the_referenced_key() {
        let jobs = jobs(&[
            ("CONSTRAINT", "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT big_pkey PRIMARY KEY (id);\n"),
            ("INDEX", "CREATE INDEX small_x ON s.small USING btree (x);\n"),
            (
                "FK CONSTRAINT",
                "ALTER TABLE ONLY s.small\n    ADD CONSTRAINT small_fk FOREIGN KEY (big_id) REFERENCES s.big(id) ON DELETE CASCADE;\n",
            ),
        ]);
        assert_eq!(
            sql(&jobs[3]),
            "ALTER TABLE ONLY s.small\n    ADD CONSTRAINT small_fk FOREIGN KEY (big_id) REFERENCES s.big(id) ON DELETE CASCADE NOT VALID;\n"
        );
        // After the referenced table's key (index and attach), not the other index.
        assert_eq!(jobs[3].after, [0, 1]);
        assert_eq!(
            sql(&jobs[4]),
            "ALTER TABLE ONLY s.small VALIDATE CONSTRAINT small_fk;\n"
        );
        assert_eq!(jobs[4].after, [3]);
        assert_eq!(
            jobs[4].locks,
            [
                ("small".to_owned(), Lock::ShareUpdateExclusive),
                ("big".to_owned(), Lock::RowShare)
            ]
        );
        // Checks of two tables referencing `big` run at once; not beside big's own key.
        let other = Job {
            locks: vec![
                ("other".into(), Lock::ShareUpdateExclusive),
                ("big".into(), Lock::RowShare),
            ],
            ..jobs[4].clone()
        };
        assert!(jobs[4].compatible(&other));
        assert!(!jobs[4].compatible(&jobs[1]));
        assert!(jobs[4].compatible(&jobs[0]));
        // Indexes of one table build together; not beside its check.
        assert!(!jobs[4].compatible(&jobs[2]));
        assert!(jobs[0].compatible(&jobs[0].clone()));
    }

    #[test]
    fn a_foreign_key_not_valid_in_the_source_stays_so() {
        let text = "ALTER TABLE s.small\n    ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES s.big(id) NOT VALID;\n";
        let jobs = jobs(&[("FK CONSTRAINT", text)]);
        assert_eq!(sql(&jobs[0]), text);
        assert!(!String::from_utf8_lossy(&jobs[1].sql).contains("VALIDATE"));
    }

    #[test]
    fn partitioned_tables_and_unknown_shapes_are_left_alone() {
        let mut post = PostData::default();
        post.table_created(b"CREATE TABLE s.big (\n id int\n)\nPARTITION BY RANGE (id);\n");
        let pk = "ALTER TABLE ONLY s.big\n    ADD CONSTRAINT big_pkey PRIMARY KEY (id);\n";
        post.entry("CONSTRAINT", pk.as_bytes(), 1, |_| 1);
        post.entry("INDEX", b"SELECT 1;\n", 2, |_| 1);
        post.continued(b"ALTER TABLE s.big CLUSTER ON big_pkey;\n");
        let jobs = post.finish(&[]);
        assert_eq!(sql(&jobs[0]), pk);
        assert!(jobs[1].alone);
        assert!(!jobs[0].compatible(&jobs[1]));
    }

    #[test]
    fn lock_modes_conflict_as_in_postgresql() {
        use Lock::*;
        let all = [
            RowShare,
            ShareUpdateExclusive,
            Share,
            ShareRowExclusive,
            AccessExclusive,
        ];
        // PostgreSQL's table (explicit-locking.html), rows and columns in this order.
        let table = [
            [false, false, false, false, true],
            [false, true, true, true, true],
            [false, true, false, true, true],
            [false, true, true, true, true],
            [true, true, true, true, true],
        ];
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert_eq!(a.conflicts(*b), table[i][j], "{a:?} vs {b:?}");
            }
        }
    }
}
