//! What a patch's statements need, found before anything runs: statements that
//! PostgreSQL refuses inside a transaction block, statements that control the
//! transaction themselves, and what csi cannot run (psql meta-commands, inline COPY
//! data).

use super::split::Statement;

/// Why a statement cannot run inside a transaction block, when it cannot.
pub fn non_transactional(s: &Statement) -> Option<&'static str> {
    let w: Vec<&str> = s.words.iter().map(String::as_str).collect();
    let has = |word: &str| w.contains(&word);
    match w.as_slice() {
        ["CREATE", "INDEX", "CONCURRENTLY", ..]
        | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..] => Some("CREATE INDEX CONCURRENTLY"),
        ["DROP", "INDEX", "CONCURRENTLY", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["REINDEX", ..] if has("CONCURRENTLY") => Some("REINDEX CONCURRENTLY"),
        ["REINDEX", "DATABASE" | "SYSTEM", ..] => Some("REINDEX DATABASE/SYSTEM"),
        ["VACUUM", ..] => Some("VACUUM"),
        ["CREATE" | "DROP", "DATABASE", ..] => Some("CREATE/DROP DATABASE"),
        ["CREATE" | "DROP", "TABLESPACE", ..] => Some("CREATE/DROP TABLESPACE"),
        ["ALTER", "DATABASE", _, "SET", "TABLESPACE", ..] => Some("ALTER DATABASE SET TABLESPACE"),
        ["ALTER", "SYSTEM", ..] => Some("ALTER SYSTEM"),
        ["CLUSTER"] | ["CLUSTER", "VERBOSE"] => Some("CLUSTER of the whole database"),
        ["CREATE" | "DROP", "SUBSCRIPTION", ..] => Some("CREATE/DROP SUBSCRIPTION"),
        ["DISCARD", "ALL", ..] => Some("DISCARD ALL"),
        ["COMMIT" | "ROLLBACK", "PREPARED", ..] => Some("COMMIT/ROLLBACK PREPARED"),
        ["ALTER", "TABLE", ..] if has("DETACH") && has("CONCURRENTLY") => {
            Some("DETACH PARTITION CONCURRENTLY")
        }
        _ => None,
    }
}

/// A statement that begins, ends or prepares a transaction itself.
pub fn transaction_control(s: &Statement) -> Option<&'static str> {
    let w: Vec<&str> = s.words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["BEGIN", ..] => Some("BEGIN"),
        ["START", "TRANSACTION", ..] => Some("START TRANSACTION"),
        ["COMMIT", "PREPARED", ..] | ["ROLLBACK", "PREPARED", ..] => None,
        ["COMMIT" | "END", ..] => Some("COMMIT"),
        ["ROLLBACK" | "ABORT", rest @ ..] if !rest.contains(&"TO") => Some("ROLLBACK"),
        ["PREPARE", "TRANSACTION", ..] => Some("PREPARE TRANSACTION"),
        _ => None,
    }
}

/// `COPY ... FROM STDIN`: its data would follow in the file.
pub fn copy_from_stdin(s: &Statement) -> bool {
    s.starts_with(&["COPY"]) && s.words.windows(2).any(|w| w == ["FROM", "STDIN"])
}

/// `\set ON_ERROR_STOP ...`: csi always stops at the first error, so it is ignored.
pub fn harmless_meta(s: &Statement) -> bool {
    let mut words = s.text.split_whitespace();
    words.next() == Some("\\set") && words.next() == Some("ON_ERROR_STOP")
}

#[cfg(test)]
mod tests {
    use super::super::split::split;
    use super::*;

    fn first(text: &str) -> Statement {
        split(text).unwrap().remove(0)
    }

    #[test]
    fn non_transactional_statements_are_named() {
        for (text, what) in [
            (
                "create index concurrently i on t (a);",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);",
                "CREATE INDEX CONCURRENTLY",
            ),
            ("drop index concurrently i;", "DROP INDEX CONCURRENTLY"),
            ("vacuum (analyze) t;", "VACUUM"),
            ("reindex index concurrently i;", "REINDEX CONCURRENTLY"),
            ("alter system set work_mem = '1GB';", "ALTER SYSTEM"),
            (
                "alter table p detach partition c concurrently;",
                "DETACH PARTITION CONCURRENTLY",
            ),
        ] {
            assert_eq!(non_transactional(&first(text)), Some(what), "{text}");
        }
        for text in [
            "create index i on t (a);",
            "create table concurrently (a int);",
            "cluster t using i;",
            "select 'vacuum';",
        ] {
            assert_eq!(non_transactional(&first(text)), None, "{text}");
        }
    }

    #[test]
    fn transaction_control_but_not_savepoints() {
        assert_eq!(transaction_control(&first("begin;")), Some("BEGIN"));
        assert_eq!(transaction_control(&first("COMMIT;")), Some("COMMIT"));
        assert_eq!(transaction_control(&first("rollback;")), Some("ROLLBACK"));
        assert_eq!(
            transaction_control(&first("rollback to savepoint a;")),
            None
        );
        assert_eq!(transaction_control(&first("savepoint a;")), None);
        assert_eq!(
            transaction_control(&first(
                "create function f() returns void language plpgsql as $$ begin end $$;"
            )),
            None
        );
    }

    #[test]
    fn copy_from_stdin_and_meta() {
        assert!(copy_from_stdin(&first("copy t (a, b) from stdin;")));
        assert!(!copy_from_stdin(&first("copy t to stdout;")));
        assert!(harmless_meta(&first("\\set ON_ERROR_STOP 1")));
        assert!(!harmless_meta(&first("\\i other.sql")));
    }
}
