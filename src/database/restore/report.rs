//! What a restore deliberately did not apply, so the operator is told, not surprised.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct Report {
    /// Role statements of the globals (CREATE/ALTER ROLE, memberships...).
    pub role_statements: u64,
    /// Whether they were applied (`--include-globals`).
    pub roles_applied: bool,
    pub tablespace_statements: u64,
    pub other_global_statements: u64,
    /// The dump's other databases.
    pub other_databases: Vec<String>,
    /// Objects of other schemas in the target database's dump, by schema.
    pub other_schemas: BTreeMap<String, u64>,
    /// Database-wide objects that are not in any schema, by kind.
    pub database_wide: BTreeMap<String, u64>,
    /// Statements naming the database itself (its settings, comment, grants).
    pub database_level: Vec<String>,
    /// Dump statements csi replaced by its own (e.g. the dump's `SET lock_timeout`).
    pub replaced: Vec<String>,
    /// DROP statements of a `--clean` dump (csi drops the schema itself).
    pub clean_drops: u64,
}

impl Report {
    pub(crate) fn other_schema(&mut self, schema: &str) {
        *self.other_schemas.entry(schema.to_owned()).or_default() += 1;
    }

    pub(crate) fn replaced(&mut self, text: &[u8]) {
        let text = String::from_utf8_lossy(text).trim().to_owned();
        if !self.replaced.contains(&text) {
            self.replaced.push(text);
        }
    }

    pub(crate) fn database_wide(&mut self, kind: &str) {
        *self.database_wide.entry(kind.to_owned()).or_default() += 1;
    }

    pub(crate) fn database_level(&mut self, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        let first = text.lines().next().unwrap_or("").trim();
        let short: String = first.chars().take(100).collect();
        self.database_level.push(short);
    }

    /// One line per kind of thing left out, for the operator.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.role_statements > 0 {
            if self.roles_applied {
                lines.push(format!(
                    "applied: roles ({} statements; existing roles kept, their attributes set as in the dump)",
                    self.role_statements
                ));
            } else {
                lines.push(format!(
                    "skipped: roles ({} statements; --include-globals applies them)",
                    self.role_statements
                ));
            }
        }
        if self.tablespace_statements > 0 {
            lines.push(format!(
                "skipped: tablespaces ({} statements)",
                self.tablespace_statements
            ));
        }
        if self.other_global_statements > 0 {
            lines.push(format!(
                "skipped: {} other cluster-wide statements",
                self.other_global_statements
            ));
        }
        if !self.other_databases.is_empty() {
            lines.push(format!(
                "skipped: databases {}",
                self.other_databases.join(", ")
            ));
        }
        for (schema, count) in &self.other_schemas {
            lines.push(format!("skipped: schema {schema} ({count} objects)"));
        }
        for (kind, count) in &self.database_wide {
            lines.push(format!(
                "skipped: {count} database-wide {} (not in a schema)",
                kind.to_lowercase()
            ));
        }
        for statement in &self.database_level {
            lines.push(format!(
                "held back (names the database itself): {statement}"
            ));
        }
        for statement in &self.replaced {
            lines.push(format!("replaced by csi's own setting: {statement}"));
        }
        if self.clean_drops > 0 {
            lines.push(format!(
                "skipped: {} DROP statements of a --clean dump (csi drops the schema itself)",
                self.clean_drops
            ));
        }
        lines
    }
}
