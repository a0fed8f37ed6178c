//! The parameters' types, read from the database catalog: one entry per column of
//! `<schema>.system_parameters`, with its type and whether it may be null.

use crate::database::decode;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::error::{precondition, usage, CsiError};

/// A column type csi knows how to parse, bind and compare.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Numeric,
    Boolean,
    Timestamp,
    TimestampTz,
    Date,
    /// text, varchar(n), char(n): the maximum length in characters when there is one.
    Text {
        max_chars: Option<usize>,
    },
    Json,
    Jsonb,
    /// Anything else (arrays, enums, domains...): shown, never written by csi.
    Other,
}

impl ParamType {
    fn from_catalog(typname: &str, typmod: i32) -> Self {
        let length = (typmod > 4).then(|| (typmod - 4) as usize);
        match typname {
            "int2" => ParamType::SmallInt,
            "int4" => ParamType::Integer,
            "int8" => ParamType::BigInt,
            "float4" => ParamType::Real,
            "float8" => ParamType::Double,
            "numeric" => ParamType::Numeric,
            "bool" => ParamType::Boolean,
            "timestamp" => ParamType::Timestamp,
            "timestamptz" => ParamType::TimestampTz,
            "date" => ParamType::Date,
            "text" => ParamType::Text { max_chars: None },
            "varchar" | "bpchar" => ParamType::Text { max_chars: length },
            "json" => ParamType::Json,
            "jsonb" => ParamType::Jsonb,
            _ => ParamType::Other,
        }
    }

    /// The type a value is bound with. Numeric and JSON travel as text and are cast
    /// by the statement (see [`Column::placeholder`]).
    pub fn bind_type(&self) -> Option<Type> {
        Some(match self {
            ParamType::SmallInt => Type::INT2,
            ParamType::Integer => Type::INT4,
            ParamType::BigInt => Type::INT8,
            ParamType::Real => Type::FLOAT4,
            ParamType::Double => Type::FLOAT8,
            ParamType::Boolean => Type::BOOL,
            ParamType::Timestamp => Type::TIMESTAMP,
            ParamType::TimestampTz => Type::TIMESTAMPTZ,
            ParamType::Date => Type::DATE,
            ParamType::Text { .. } | ParamType::Numeric | ParamType::Json | ParamType::Jsonb => {
                Type::TEXT
            }
            ParamType::Other => return None,
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    pub name: String,
    /// As PostgreSQL names it (`smallint`, `timestamp without time zone`, ...).
    pub sql_type: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub nullable: bool,
}

impl Column {
    /// The column name as a quoted identifier. Names only ever come from the catalog.
    pub fn ident(&self) -> String {
        quote_ident(&self.name)
    }

    /// `$n`, with a cast when the value travels as text.
    pub fn placeholder(&self, n: usize) -> String {
        match self.kind {
            ParamType::Numeric => format!("CAST(${n} AS numeric)"),
            ParamType::Json => format!("CAST(${n} AS json)"),
            ParamType::Jsonb => format!("CAST(${n} AS jsonb)"),
            _ => format!("${n}"),
        }
    }
}

/// The columns of a table in the configured schema, and the job types the schema knows.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub schema: String,
    /// The parameters: every column of system_parameters but its constant `id`.
    pub columns: Vec<Column>,
    /// Job types, from the per-type job tables (`fsc_rlie_jobs` -> `fsc_rlie_job`).
    pub job_types: Vec<String>,
}

pub const TABLE: &str = "system_parameters";
pub const HISTORY_TABLE: &str = "system_parameters_history";

impl Catalog {
    pub async fn load(client: &Client, schema: &str) -> anyhow::Result<Catalog> {
        let columns: Vec<Column> = table_columns(client, schema, TABLE)
            .await?
            .into_iter()
            .filter(|c| c.name != "id")
            .collect();
        if columns.is_empty() {
            return Err(precondition(format!(
                "there is no table {schema}.{TABLE} in the database"
            ))
            .with_hint("check database.name and database.schema in csi.hcl")
            .into());
        }
        let rows = client
            .query(
                "select c.relname::text from pg_catalog.pg_class c \
                 join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                 join pg_catalog.pg_attribute a on a.attrelid = c.oid \
                   and a.attname = 'fk_parent_job_id' and not a.attisdropped \
                 where n.nspname = $1 and c.relkind in ('r', 'p') and c.relname like '%\\_jobs' \
                 order by 1",
                &[&schema],
            )
            .await?;
        let job_types = rows
            .iter()
            .map(|r| decode::get::<String>(r, 0, "pg_class.relname (the job tables)"))
            .map(|table| table.map(|t| t.strip_suffix('s').unwrap_or(&t).to_owned()))
            .collect::<anyhow::Result<_>>()?;
        Ok(Catalog {
            schema: schema.to_owned(),
            columns,
            job_types,
        })
    }

    /// `"schema"."system_parameters"`
    pub fn table(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(TABLE))
    }

    /// The column named `name`, or an error naming the closest ones.
    pub fn column(&self, name: &str) -> Result<&Column, CsiError> {
        self.find(name).ok_or_else(|| {
            let closest = closest(name, self.columns.iter().map(|c| c.name.as_str()));
            usage(format!("unknown parameter `{name}`")).with_hint(if closest.is_empty() {
                "`csi env params <env> list` shows every parameter".to_owned()
            } else {
                format!("did you mean {}?", closest.join(", "))
            })
        })
    }

    pub fn find(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every column of `schema.table`, in order; empty when the table does not exist.
pub async fn table_columns(
    client: &Client,
    schema: &str,
    table: &str,
) -> anyhow::Result<Vec<Column>> {
    let rows = client
        .query(
            "select a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                    t.typname::text, a.atttypmod, not a.attnotnull \
             from pg_catalog.pg_attribute a \
             join pg_catalog.pg_class c on c.oid = a.attrelid \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             join pg_catalog.pg_type t on t.oid = a.atttypid \
             where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped \
             order by a.attnum",
            &[&schema, &table],
        )
        .await?;
    let source = format!("pg_attribute (the columns of {schema}.{table})");
    rows.iter()
        .map(|row| {
            let typname: String = decode::get(row, 2, &source)?;
            Ok(Column {
                name: decode::get(row, 0, &source)?,
                sql_type: decode::get(row, 1, &source)?,
                kind: ParamType::from_catalog(&typname, decode::get(row, 3, &source)?),
                nullable: decode::get(row, 4, &source)?,
            })
        })
        .collect()
}

/// Up to three names close to `wanted`, closest first.
pub fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = names
        .map(|n| {
            let mut score = strsim::jaro_winkler(wanted, n);
            if n.contains(wanted) || wanted.contains(n) {
                score += 0.2;
            }
            (score, n)
        })
        .filter(|(score, _)| *score > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect()
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_come_first() {
        let names = [
            "rlies1s2_min_search_window_days",
            "rlies1s2_max_search_window_days",
            "job_types_list",
        ];
        let found = closest("rlies1s2_min_search_window", names.into_iter());
        assert_eq!(found[0], "`rlies1s2_min_search_window_days`");
        assert!(closest("zzzz", names.into_iter()).is_empty());
    }

    #[test]
    fn varchar_lengths_come_from_the_type_modifier() {
        assert_eq!(
            ParamType::from_catalog("varchar", 68),
            ParamType::Text {
                max_chars: Some(64)
            }
        );
        assert_eq!(
            ParamType::from_catalog("text", -1),
            ParamType::Text { max_chars: None }
        );
    }
}
