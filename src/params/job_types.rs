//! `job_types_list`: a list of job types stored as text, as JSON (`["a", "b"]`) or
//! Python-style (`['a', 'b']`, as the runbook writes it). Both are read; a new value is
//! written the way the row already holds it.

use crate::error::{usage, CsiError};

pub const COLUMN: &str = "job_types_list";

/// How a list is spelled: its quote and the separator between items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStyle {
    pub quote: char,
    pub separator: String,
}

impl Default for ListStyle {
    /// The schema's default: JSON with `, `.
    fn default() -> Self {
        ListStyle {
            quote: '"',
            separator: ", ".into(),
        }
    }
}

/// Reads a list in either spelling. One surrounding pair of quotes is tolerated
/// (`"['a', 'b']"` pasted with the runbook's shell quoting).
pub fn parse(text: &str) -> Result<(Vec<String>, ListStyle), String> {
    let mut text = text.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            if inner.trim_start().starts_with('[') {
                text = inner.trim();
            }
        }
    }
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("a list is written [\"a\", \"b\"] or ['a', 'b']")?;
    let mut items = Vec::new();
    let mut style: Option<ListStyle> = None;
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let quote = rest
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("expected a quoted job type at `{rest}`"))?;
        let body = &rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| format!("unterminated quote in `{rest}`"))?;
        let item = &body[..end];
        if item.is_empty() || !item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{item}` is not a job type name"));
        }
        if style.as_ref().is_some_and(|s| s.quote != quote) {
            return Err("mixed quotes in the list".into());
        }
        items.push(item.to_owned());
        let after = &body[end + 1..];
        let trimmed = after.trim_start();
        if trimmed.is_empty() {
            style.get_or_insert(ListStyle {
                quote,
                separator: ", ".into(),
            });
            break;
        }
        let Some(next) = trimmed.strip_prefix(',') else {
            return Err(format!("expected `,` or `]` at `{trimmed}`"));
        };
        let separator_len = after.len() - next.trim_start().len();
        let separator = after[..separator_len].to_owned();
        style.get_or_insert(ListStyle { quote, separator });
        rest = next.trim_start();
        if rest.is_empty() {
            return Err("a trailing comma ends the list".into());
        }
    }
    Ok((items, style.unwrap_or_default()))
}

/// The style of the value the row holds; the default when it is null or not a list.
pub fn style_of(current: Option<&str>) -> ListStyle {
    current
        .and_then(|text| parse(text).ok())
        .map(|(_, style)| style)
        .unwrap_or_default()
}

pub fn render(types: &[String], style: &ListStyle) -> String {
    let q = style.quote;
    let items: Vec<String> = types.iter().map(|t| format!("{q}{t}{q}")).collect();
    format!("[{}]", items.join(&style.separator))
}

/// Every type must be known, none twice.
pub fn validate(types: &[String], known: &[String]) -> Result<(), CsiError> {
    for (i, t) in types.iter().enumerate() {
        if types[..i].contains(t) {
            return Err(usage(format!("`{t}` appears twice in {COLUMN}")));
        }
        if !known.contains(t) {
            let closest = super::catalog::closest(t, known.iter().map(String::as_str));
            return Err(
                usage(format!("unknown job type `{t}` in {COLUMN}")).with_hint(
                    if closest.is_empty() {
                        format!("known job types: {}", known.join(", "))
                    } else {
                        format!(
                            "did you mean {}? known: {}",
                            closest.join(", "),
                            known.join(", ")
                        )
                    },
                ),
            );
        }
    }
    Ok(())
}

/// Parses an operator's list, checks it and renders it in the row's style.
pub fn normalise(input: &str, current: Option<&str>, known: &[String]) -> Result<String, CsiError> {
    let (types, _) = parse(input).map_err(|why| {
        usage(format!("invalid value for {COLUMN}: {why}")).with_hint(
            "write it [\"fsc_rlie_job\", \"rlies1_job\"] or \"['fsc_rlie_job', 'rlies1_job']\"",
        )
    })?;
    validate(&types, known)?;
    Ok(render(&types, &style_of(current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_spellings_parse_and_keep_their_style() {
        let (types, style) = parse(r#"["fsc_rlie_job", "rlies1_job"]"#).unwrap();
        assert_eq!(types, strings(&["fsc_rlie_job", "rlies1_job"]));
        assert_eq!(style, ListStyle::default());
        let (types, style) = parse("\"['fsc_rlie_job','rlies1_job']\"").unwrap();
        assert_eq!(types, strings(&["fsc_rlie_job", "rlies1_job"]));
        assert_eq!(style.quote, '\'');
        assert_eq!(style.separator, ",");
        assert_eq!(render(&types, &style), "['fsc_rlie_job','rlies1_job']");
        assert_eq!(parse("[]").unwrap().0, Vec::<String>::new());
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [
            "fsc_rlie_job",
            "[fsc_rlie_job]",
            "['a\", 'b']",
            "['a',]",
            "['a' 'b']",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_row_style_wins() {
        let known = strings(&["fsc_rlie_job", "rlies1_job", "gfsc_job"]);
        let python = "['fsc_rlie_job', 'gfsc_job']";
        assert_eq!(
            normalise(r#"["rlies1_job"]"#, Some(python), &known).unwrap(),
            "['rlies1_job']"
        );
        assert_eq!(
            normalise("['rlies1_job', 'gfsc_job']", None, &known).unwrap(),
            r#"["rlies1_job", "gfsc_job"]"#
        );
        let err = normalise("['gfsc_jobs']", None, &known).unwrap_err();
        assert!(err.hint.unwrap().contains("`gfsc_job`"));
        assert!(normalise("['gfsc_job', 'gfsc_job']", None, &known).is_err());
    }
}
