//! Parsing an operator's value as the column's type, before anything is written, and
//! binding it to a statement with that type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::ToSql;

use super::catalog::{Column, ParamType};
use crate::error::{usage, CsiError};

/// A value parsed for one column. `Null` is typed by the column it is bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Real(f32),
    Double(f64),
    Bool(bool),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Date(NaiveDate),
    /// text, and numeric/json after validation (cast by the statement).
    Text(String),
}

impl Value {
    /// The value as a statement parameter of the column's type.
    pub fn bind(&self, column: &Column) -> Box<dyn ToSql + Sync + Send> {
        match self {
            Value::Null => null_of(&column.kind),
            Value::SmallInt(v) => Box::new(*v),
            Value::Integer(v) => Box::new(*v),
            Value::BigInt(v) => Box::new(*v),
            Value::Real(v) => Box::new(*v),
            Value::Double(v) => Box::new(*v),
            Value::Bool(v) => Box::new(*v),
            Value::Timestamp(v) => Box::new(*v),
            Value::TimestampTz(v) => Box::new(*v),
            Value::Date(v) => Box::new(*v),
            Value::Text(v) => Box::new(v.clone()),
        }
    }
}

fn null_of(kind: &ParamType) -> Box<dyn ToSql + Sync + Send> {
    match kind {
        ParamType::SmallInt => Box::new(None::<i16>),
        ParamType::Integer => Box::new(None::<i32>),
        ParamType::BigInt => Box::new(None::<i64>),
        ParamType::Real => Box::new(None::<f32>),
        ParamType::Double => Box::new(None::<f64>),
        ParamType::Boolean => Box::new(None::<bool>),
        ParamType::Timestamp => Box::new(None::<NaiveDateTime>),
        ParamType::TimestampTz => Box::new(None::<DateTime<Utc>>),
        ParamType::Date => Box::new(None::<NaiveDate>),
        _ => Box::new(None::<String>),
    }
}

/// What the column accepts, in the words of the error message.
pub fn expected(column: &Column) -> String {
    let what = match &column.kind {
        ParamType::SmallInt => "an integer from -32768 to 32767".to_owned(),
        ParamType::Integer => "an integer from -2147483648 to 2147483647".to_owned(),
        ParamType::BigInt => "a 64-bit integer".to_owned(),
        ParamType::Real | ParamType::Double => "a finite number such as 0.95".to_owned(),
        ParamType::Numeric => "a decimal number such as 12.5".to_owned(),
        ParamType::Boolean => "true or false".to_owned(),
        ParamType::Timestamp => {
            "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS], without a time zone".to_owned()
        }
        ParamType::TimestampTz => {
            "YYYY-MM-DD HH:MM[:SS] (UTC) or RFC 3339 with an offset".to_owned()
        }
        ParamType::Date => "YYYY-MM-DD".to_owned(),
        ParamType::Text { max_chars: Some(n) } => format!("text of at most {n} characters"),
        ParamType::Text { max_chars: None } => "text".to_owned(),
        ParamType::Json | ParamType::Jsonb => "a JSON document".to_owned(),
        ParamType::Other => "a type csi does not write".to_owned(),
    };
    let null = if column.nullable { ", or null" } else { "" };
    format!("{} ({what}{null})", column.sql_type)
}

/// Parses `input` for `column`; `null` (any case) is SQL NULL where the column allows it.
pub fn parse(column: &Column, input: &str) -> Result<Value, CsiError> {
    let invalid = |why: &str| {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        usage(format!(
            "invalid value `{input}` for `{}`{why}: expected {}",
            column.name,
            expected(column)
        ))
        .with_hint("nothing was written")
    };
    if input.trim().eq_ignore_ascii_case("null") {
        return if column.nullable {
            Ok(Value::Null)
        } else {
            Err(invalid("the column is NOT NULL"))
        };
    }
    let text = input.trim();
    match &column.kind {
        ParamType::SmallInt => integer(text, i16::MIN.into(), i16::MAX.into())
            .map(|v| Value::SmallInt(v as i16))
            .ok_or_else(|| invalid("")),
        ParamType::Integer => integer(text, i32::MIN.into(), i32::MAX.into())
            .map(|v| Value::Integer(v as i32))
            .ok_or_else(|| invalid("")),
        ParamType::BigInt => integer(text, i64::MIN, i64::MAX)
            .map(Value::BigInt)
            .ok_or_else(|| invalid("")),
        ParamType::Double => float(text).map(Value::Double).ok_or_else(|| invalid("")),
        ParamType::Real => float(text)
            .filter(|v| v.abs() <= f32::MAX as f64)
            .map(|v| Value::Real(v as f32))
            .ok_or_else(|| invalid("")),
        ParamType::Numeric => decimal(text)
            .then(|| Value::Text(text.to_owned()))
            .ok_or_else(|| invalid("")),
        ParamType::Boolean => boolean(text).map(Value::Bool).ok_or_else(|| invalid("")),
        ParamType::Timestamp => {
            if has_offset(text) {
                return Err(invalid("the column has no time zone: leave the offset out"));
            }
            naive_timestamp(text)
                .map(Value::Timestamp)
                .ok_or_else(|| invalid(""))
        }
        ParamType::TimestampTz => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| naive_timestamp(text).map(|t| t.and_utc()))
            .map(Value::TimestampTz)
            .ok_or_else(|| invalid("")),
        ParamType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| invalid("")),
        ParamType::Text { max_chars } => match max_chars {
            Some(max) if input.chars().count() > *max => Err(invalid("too long")),
            _ => Ok(Value::Text(input.to_owned())),
        },
        ParamType::Json | ParamType::Jsonb => serde_json::from_str::<serde_json::Value>(input)
            .map(|_| Value::Text(input.to_owned()))
            .map_err(|e| invalid(&e.to_string())),
        ParamType::Other => Err(usage(format!(
            "`{}` has type {}, which csi does not write",
            column.name, column.sql_type
        ))
        .with_hint("change it with psql")),
    }
}

fn integer(text: &str, min: i64, max: i64) -> Option<i64> {
    text.parse::<i64>().ok().filter(|v| (min..=max).contains(v))
}

fn float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let exponent_ok = exponent.map_or(true, |e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac) && exponent_ok
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn has_offset(text: &str) -> bool {
    let time = text.split(['T', ' ']).nth(1).unwrap_or("");
    text.ends_with('Z') || time.contains('+') || time.contains('-')
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.f]]`, with a space or a `T`.
pub fn naive_timestamp(text: &str) -> Option<NaiveDateTime> {
    const FORMATS: &[&str] = &[
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(kind: ParamType, sql_type: &str, nullable: bool) -> Column {
        Column {
            name: "p".into(),
            sql_type: sql_type.into(),
            kind,
            nullable,
        }
    }

    #[test]
    fn smallint_range_is_enforced() {
        let c = column(ParamType::SmallInt, "smallint", false);
        assert_eq!(parse(&c, "32767").unwrap(), Value::SmallInt(32767));
        assert_eq!(parse(&c, " -5 ").unwrap(), Value::SmallInt(-5));
        let err = parse(&c, "32768").unwrap_err();
        assert!(err.message.contains("expected smallint"), "{}", err.message);
        assert!(parse(&c, "1.5").is_err());
        assert!(parse(&c, "null").is_err());
    }

    #[test]
    fn floats_must_be_finite_numbers() {
        let c = column(ParamType::Double, "double precision", false);
        assert_eq!(parse(&c, "0.9").unwrap(), Value::Double(0.9));
        assert!(parse(&c, "NaN").is_err());
        assert!(parse(&c, "inf").is_err());
        assert!(parse(&c, "0,9").is_err());
    }

    #[test]
    fn booleans_take_the_postgres_spellings() {
        let c = column(ParamType::Boolean, "boolean", false);
        assert_eq!(parse(&c, "off").unwrap(), Value::Bool(false));
        assert_eq!(parse(&c, "TRUE").unwrap(), Value::Bool(true));
        assert!(parse(&c, "maybe").is_err());
    }

    #[test]
    fn timestamps_without_zone_refuse_an_offset() {
        let c = column(ParamType::Timestamp, "timestamp without time zone", true);
        assert!(matches!(
            parse(&c, "2024-03-07").unwrap(),
            Value::Timestamp(_)
        ));
        assert!(matches!(
            parse(&c, "2024-03-07T10:00:00").unwrap(),
            Value::Timestamp(_)
        ));
        assert!(parse(&c, "2024-03-07T10:00:00+02:00").is_err());
        assert!(parse(&c, "2024-13-07").is_err());
        assert_eq!(parse(&c, "NULL").unwrap(), Value::Null);
    }

    #[test]
    fn decimals_are_checked_before_the_cast() {
        assert!(decimal("12.5") && decimal("-3") && decimal(".5") && decimal("1e-3"));
        assert!(!decimal("") && !decimal(".") && !decimal("1e") && !decimal("abc"));
    }

    #[test]
    fn text_length_is_checked() {
        let c = column(
            ParamType::Text { max_chars: Some(3) },
            "character varying(3)",
            false,
        );
        assert!(parse(&c, "abc").is_ok());
        assert!(parse(&c, "abcd").is_err());
    }
}
