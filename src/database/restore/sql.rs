//! The SQL csi writes around the dump: the transaction's opening, role statements made
//! tolerant, and the checks that run inside the transaction before COMMIT (row counts,
//! sequences, foreign keys). A failed check raises an error whose message starts with
//! `VERIFY_TAG`, which psql reports and csi turns into a verification failure.

use std::time::Duration;

use crate::database::dump::{quote_ident, quote_literal};

/// Marks a verification failure in psql's error output.
pub const VERIFY_TAG: &str = "csi-verify:";

/// `'30000ms'`
fn millis(d: Duration) -> String {
    format!("'{}ms'", d.as_millis())
}

/// Opens the one transaction; settings last until it ends.
pub fn begin(lock_timeout: Duration) -> String {
    format!(
        "BEGIN;\n\
         SET LOCAL lock_timeout = {};\n\
         SET LOCAL statement_timeout = 0;\n\
         SET LOCAL idle_in_transaction_session_timeout = 0;\n\
         SET LOCAL client_min_messages = warning;\n",
        millis(lock_timeout)
    )
}

/// The settings of each connection of a parallel load (outside any transaction: each
/// statement commits into the staging schema, which nobody uses).
pub fn parallel_session(lock_timeout: Duration) -> String {
    format!(
        "SET lock_timeout = {};\n\
         SET statement_timeout = 0;\n\
         SET idle_in_transaction_session_timeout = 0;\n\
         SET client_min_messages = warning;\n\
         SET maintenance_work_mem = '256MB';\n\
         SET synchronous_commit = off;\n",
        millis(lock_timeout)
    )
}

/// The one short transaction that puts the staging schema in the place of the current
/// one (csi writes its COMMIT once everything holds).
pub fn swap(staging: &str, schema: &str, lock_timeout: Duration) -> String {
    format!(
        "BEGIN;\n\
         SET LOCAL lock_timeout = {};\n\
         SET LOCAL synchronous_commit = on;\n\
         DROP SCHEMA IF EXISTS {schema} CASCADE;\n\
         ALTER SCHEMA {staging} RENAME TO {schema};\n",
        millis(lock_timeout),
        schema = quote_ident(schema),
        staging = quote_ident(staging),
    )
}

pub fn drop_schema(schema: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE;\n", quote_ident(schema))
}

/// A dollar-quoted body whose tag does not occur in it.
fn dollar_quoted(tag: &str, body: &str) -> String {
    let mut n = 0;
    let mut delimiter = format!("${tag}$");
    while body.contains(&delimiter) {
        n += 1;
        delimiter = format!("${tag}{n}$");
    }
    format!("{delimiter}\n{body}\n{delimiter}")
}

/// A role statement of the dump's globals, made to tolerate a role that exists already
/// (and only that).
pub fn tolerant_role_statement(text: &str) -> String {
    let body = format!(
        "BEGIN\n  {}\nEXCEPTION WHEN duplicate_object THEN\n  RAISE NOTICE 'csi: role already exists, left as it is';\nEND",
        text.trim()
    );
    format!("DO {};\n", dollar_quoted("csi_role", &body))
}

/// A table csi loaded and the number of rows the dump's COPY data had for it.
pub struct Expected<'a> {
    pub table_sql: &'a str,
    pub display: &'a str,
    pub rows: u64,
}

/// The sequences feeding columns of the tables `scope` selects (an SQL condition on
/// `t`, a pg_class row), through OWNED BY, identity, or a column default.
fn sequences_query(scope: &str) -> String {
    format!(
        "SELECT DISTINCT s.oid::regclass AS seq, t.oid::regclass AS tab, a.attname AS col, q.seqincrement AS inc \
         FROM pg_catalog.pg_depend d \
         JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
         JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid \
         JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
         WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass \
           AND d.deptype IN ('a', 'i') AND ({scope}) \
         UNION \
         SELECT s.oid::regclass, t.oid::regclass, a.attname, q.seqincrement \
         FROM pg_catalog.pg_attrdef ad \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid \
              AND d.refclassid = 'pg_catalog.pg_class'::regclass \
         JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S' \
         JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid \
         JOIN pg_catalog.pg_class t ON t.oid = ad.adrelid \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum \
         WHERE ({scope})"
    )
}

/// The condition selecting every table of a schema.
pub fn schema_scope(schema: &str) -> String {
    format!(
        "t.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {})",
        quote_literal(schema)
    )
}

/// The condition selecting some tables (given as SQL names).
pub fn tables_scope(tables_sql: &[&str]) -> String {
    if tables_sql.is_empty() {
        return "false".to_owned();
    }
    let list: Vec<String> = tables_sql
        .iter()
        .map(|t| format!("{}::regclass", quote_literal(t)))
        .collect();
    format!("t.oid IN ({})", list.join(", "))
}

/// A sequence value the dump sets: `setval('<sequence>', value, is_called)`.
pub struct DumpSequence<'a> {
    /// The sequence's SQL name, as the dump writes it.
    pub sequence_sql: &'a str,
    pub value: i64,
    pub is_called: bool,
}

/// Inside the transaction, before COMMIT: every loaded table has the dump's number of
/// rows, every sequence the dump sets has the dump's value, and every other sequence
/// of the tables in `scope` is past the column it feeds. A sequence the dump itself
/// leaves behind its column (production's system_parameters_id_seq: its one row was
/// inserted with an explicit id) is the source's state, restored as it was: a
/// warning (`RAISE WARNING`), never a refusal.
pub fn verification(expected: &[Expected], dump_sequences: &[DumpSequence], scope: &str) -> String {
    let mut body = String::from(
        "DECLARE\n  problems text[] := '{}';\n  n bigint;\n  r record;\n  m numeric;\n  lv numeric;\n  called boolean;\nBEGIN\n",
    );
    for e in expected {
        body.push_str(&format!(
            "  SELECT count(*) INTO n FROM {table};\n  IF n <> {rows} THEN\n    problems := problems || format('table %s has %s rows after loading, the dump has %s', {display}, n, {rows});\n  END IF;\n",
            table = e.table_sql,
            rows = e.rows,
            display = quote_literal(e.display),
        ));
    }
    for d in dump_sequences {
        body.push_str(&format!(
            "  EXECUTE format('SELECT last_value::numeric, is_called FROM %s', {seq}::regclass) INTO lv, called;\n\
             \x20 IF lv <> {value} OR called <> {called} THEN\n\
             \x20   problems := problems || format('sequence %s is at %s (is_called %s) after loading, the dump sets %s (is_called %s)', {seq}, lv, called, {value}, {called});\n\
             \x20 END IF;\n",
            seq = quote_literal(d.sequence_sql),
            value = d.value,
            called = d.is_called,
        ));
    }
    let from_dump: Vec<String> = dump_sequences
        .iter()
        .map(|d| format!("{}::regclass", quote_literal(d.sequence_sql)))
        .collect();
    let from_dump = if from_dump.is_empty() {
        "NULL::regclass".to_owned()
    } else {
        from_dump.join(", ")
    };
    body.push_str(&format!(
        "  FOR r IN {} LOOP\n\
         \x20   EXECUTE format('SELECT max(%I)::numeric FROM %s', r.col, r.tab) INTO m;\n\
         \x20   EXECUTE format('SELECT last_value::numeric, is_called FROM %s', r.seq) INTO lv, called;\n\
         \x20   IF m IS NOT NULL AND r.inc > 0 AND (lv < m OR (lv = m AND NOT called)) THEN\n\
         \x20     IF r.seq::regclass IN ({from_dump}) THEN\n\
         \x20       RAISE WARNING '%', format('csi: in the dump itself, sequence %s is at %s%s but %s.%I reaches %s (restored as the source had it)', r.seq, lv, CASE WHEN called THEN '' ELSE ' (not yet used)' END, r.tab, r.col, m);\n\
         \x20     ELSE\n\
         \x20       problems := problems || format('sequence %s is at %s%s but %s.%I reaches %s', r.seq, lv, CASE WHEN called THEN '' ELSE ' (not yet used)' END, r.tab, r.col, m);\n\
         \x20     END IF;\n\
         \x20   END IF;\n\
         \x20 END LOOP;\n",
        sequences_query(scope)
    ));
    body.push_str(&format!(
        "  IF cardinality(problems) > 0 THEN\n    RAISE EXCEPTION '{VERIFY_TAG} %', array_to_string(problems, '; ');\n  END IF;\nEND"
    ));
    format!("DO {};\n", dollar_quoted("csi_verify", &body))
}

/// After a selective load: each sequence feeding a column of `table_sql` continues
/// after the largest of the restored values and the dump's own sequence value.
pub fn continue_sequences(table_sql: &str, dump_values: &[(String, i64)]) -> String {
    let values = if dump_values.is_empty() {
        "(NULL::name, NULL::numeric)".to_owned()
    } else {
        dump_values
            .iter()
            .map(|(col, v)| format!("({}::name, {v}::numeric)", quote_literal(col)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let table = quote_literal(table_sql);
    let body = format!(
        "DECLARE\n  r record;\n  m numeric;\n  lowest bigint;\nBEGIN\n\
         \x20 FOR r IN SELECT a.attname, pg_catalog.pg_get_serial_sequence({table}, a.attname) AS seq, d.v\n\
         \x20          FROM pg_catalog.pg_attribute a LEFT JOIN (VALUES {values}) AS d (col, v) ON d.col = a.attname\n\
         \x20          WHERE a.attrelid = {table}::regclass AND a.attnum > 0 AND NOT a.attisdropped\n\
         \x20 LOOP\n\
         \x20   CONTINUE WHEN r.seq IS NULL;\n\
         \x20   EXECUTE format('SELECT max(%I)::numeric FROM %s', r.attname, {table}) INTO m;\n\
         \x20   m := greatest(m, r.v);\n\
         \x20   IF m IS NULL THEN\n\
         \x20     SELECT seqmin INTO lowest FROM pg_catalog.pg_sequence WHERE seqrelid = r.seq::regclass;\n\
         \x20     PERFORM pg_catalog.setval(r.seq, lowest, false);\n\
         \x20   ELSE\n\
         \x20     PERFORM pg_catalog.setval(r.seq, m::bigint, true);\n\
         \x20   END IF;\n\
         \x20 END LOOP;\n\
         END"
    );
    format!("DO {};\n", dollar_quoted("csi_seq", &body))
}

/// Foreign keys from or to the tables in `tables_sql`: no row may reference a missing
/// row (the load ran with triggers, hence foreign-key checks, disabled).
pub fn foreign_key_check(tables_sql: &[&str]) -> String {
    let list: Vec<String> = tables_sql
        .iter()
        .map(|t| format!("{}::regclass", quote_literal(t)))
        .collect();
    let list = list.join(", ");
    let body = format!(
        "DECLARE\n  r record;\n  n bigint;\n  problems text[] := '{{}}';\nBEGIN\n\
         \x20 FOR r IN\n\
         \x20   SELECT c.conname, c.conrelid::regclass AS child, c.confrelid::regclass AS parent,\n\
         \x20     (SELECT string_agg(format('c.%I', a.attname), ', ' ORDER BY k.i)\n\
         \x20        FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, i)\n\
         \x20        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS child_cols,\n\
         \x20     (SELECT string_agg(format('p.%I', a.attname), ', ' ORDER BY k.i)\n\
         \x20        FROM unnest(c.confkey) WITH ORDINALITY AS k (attnum, i)\n\
         \x20        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS parent_cols\n\
         \x20   FROM pg_catalog.pg_constraint c\n\
         \x20   WHERE c.contype = 'f' AND (c.conrelid IN ({list}) OR c.confrelid IN ({list}))\n\
         \x20 LOOP\n\
         \x20   EXECUTE format('SELECT count(*) FROM %s c WHERE (%s) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE (%s) = (%s))',\n\
         \x20                  r.child, r.child_cols, r.parent, r.parent_cols, r.child_cols) INTO n;\n\
         \x20   IF n > 0 THEN\n\
         \x20     problems := problems || format('%s rows of %s reference rows of %s that do not exist (%s)', n, r.child, r.parent, r.conname);\n\
         \x20   END IF;\n\
         \x20 END LOOP;\n\
         \x20 IF cardinality(problems) > 0 THEN\n\
         \x20   RAISE EXCEPTION '{VERIFY_TAG} %', array_to_string(problems, '; ');\n\
         \x20 END IF;\n\
         END"
    );
    format!("DO {};\n", dollar_quoted("csi_fk", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_tags_never_collide_with_the_body() {
        let sql = tolerant_role_statement("CREATE ROLE \"$csi_role$\";");
        assert!(sql.starts_with("DO $csi_role1$\n"), "{sql}");
        assert!(sql.trim_end().ends_with("$csi_role1$;"), "{sql}");
    }

    #[test]
    fn verification_names_every_table() {
        let sql = verification(
            &[Expected {
                table_sql: "cosims.\"Weird \"\"name\"\"\"",
                display: "cosims.Weird \"name\"",
                rows: 4,
            }],
            &[DumpSequence {
                sequence_sql: "cosims.system_parameters_id_seq",
                value: 1,
                is_called: false,
            }],
            &schema_scope("cosims"),
        );
        // The dump's own values are checked; a sequence behind in the dump is a warning.
        assert!(sql.contains("IF lv <> 1 OR called <> false THEN"), "{sql}");
        assert!(sql.contains("RAISE WARNING"), "{sql}");
        assert!(sql.contains("FROM cosims.\"Weird \"\"name\"\"\";"), "{sql}");
        assert!(sql.contains("IF n <> 4 THEN"), "{sql}");
        assert!(sql.contains(VERIFY_TAG));
    }
}
