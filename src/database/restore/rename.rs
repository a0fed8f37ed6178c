//! The dump's schema name rewritten to the staging schema's in the SQL csi forwards,
//! wherever PostgreSQL resolves it at creation time (and binds the object by OID):
//! qualified names (`cosims.t`, `"cosims".t`), the schema itself after `SCHEMA`
//! (`CREATE SCHEMA cosims`, `GRANT ... ON SCHEMA cosims`, `IN SCHEMA cosims`), and
//! `regclass` literals (`nextval('cosims.t_id_seq'::regclass)`). Dollar-quoted
//! function bodies are text resolved when the function runs: left naming the real
//! schema, which is the staging schema's name once it is swapped in. String literals
//! other than `'...'::regclass`, comments and quoted identifiers that are not the
//! schema are left alone.

/// Rewrites `from` to `to` in `sql` (see the module). `literals`: also a literal
/// starting with `from.` wherever it stands (a `setval` call's sequence).
pub fn rewrite(sql: &[u8], from: &str, to: &str, literals: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(sql.len() + 64);
    let mut i = 0;
    let mut last_word = String::new();
    while i < sql.len() {
        let b = sql[i];
        match b {
            b'-' if sql.get(i + 1) == Some(&b'-') => {
                let end = memchr::memchr(b'\n', &sql[i..]).map_or(sql.len(), |e| i + e);
                out.extend_from_slice(&sql[i..end]);
                i = end;
            }
            b'/' if sql.get(i + 1) == Some(&b'*') => {
                let end = block_comment_end(sql, i);
                out.extend_from_slice(&sql[i..end]);
                i = end;
            }
            b'\'' => {
                let escapes = i > 0
                    && matches!(sql[i - 1], b'E' | b'e')
                    && (i < 2 || !is_ident_byte(sql[i - 2]));
                let end = literal_end(sql, i, escapes);
                let body = &sql[i + 1..end.saturating_sub(1).max(i + 1)];
                let regclass = starts_with_ci(&sql[end..], b"::regclass");
                match renamed_literal(body, from, to).filter(|_| regclass || literals) {
                    Some(new) => {
                        out.push(b'\'');
                        out.extend_from_slice(&new);
                        out.push(b'\'');
                    }
                    None => out.extend_from_slice(&sql[i..end]),
                }
                i = end;
                last_word.clear();
            }
            b'"' => {
                let end = quoted_end(sql, i);
                let name = String::from_utf8_lossy(&sql[i + 1..end - 1]).replace("\"\"", "\"");
                if name == from && (next_is_dot(sql, end) || last_word == "SCHEMA") {
                    out.extend_from_slice(crate::database::dump::quote_ident(to).as_bytes());
                } else {
                    out.extend_from_slice(&sql[i..end]);
                }
                i = end;
                last_word.clear();
            }
            b'$' if dollar_tag(sql, i).is_some() => {
                let tag = &sql[i..i + dollar_tag(sql, i).unwrap_or(1)];
                let end = memmem(&sql[i + tag.len()..], tag)
                    .map_or(sql.len(), |e| i + tag.len() + e + tag.len());
                out.extend_from_slice(&sql[i..end]);
                i = end;
                last_word.clear();
            }
            b if is_ident_start(b) && (i == 0 || !is_ident_byte(sql[i - 1])) => {
                let end = sql[i..]
                    .iter()
                    .position(|&c| !is_ident_byte(c))
                    .map_or(sql.len(), |e| i + e);
                let word = &sql[i..end];
                let preceded_by_dot = i > 0 && sql[..i].trim_ascii_end().ends_with(b".");
                if !preceded_by_dot
                    && word.eq_ignore_ascii_case(from.as_bytes())
                    && from.bytes().all(|c| !c.is_ascii_uppercase())
                    && (next_is_dot(sql, end) || last_word == "SCHEMA")
                {
                    out.extend_from_slice(crate::database::dump::quote_ident(to).as_bytes());
                } else {
                    out.extend_from_slice(word);
                }
                last_word = String::from_utf8_lossy(word).to_ascii_uppercase();
                i = end;
            }
            _ => {
                if !b.is_ascii_whitespace() {
                    last_word.clear();
                }
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `cosims.t` / `"cosims".t` in a literal's body -> the staging schema's.
fn renamed_literal(body: &[u8], from: &str, to: &str) -> Option<Vec<u8>> {
    let quoted = format!("\"{}\".", from.replace('"', "\"\""));
    let bare = format!("{from}.");
    let rest = if from.bytes().all(|c| !c.is_ascii_uppercase())
        && body.len() > bare.len()
        && body[..bare.len()].eq_ignore_ascii_case(bare.as_bytes())
    {
        &body[bare.len()..]
    } else if body.starts_with(quoted.as_bytes()) {
        &body[quoted.len()..]
    } else {
        return None;
    };
    let mut new = crate::database::dump::quote_ident(to)
        .replace('\'', "''")
        .into_bytes();
    new.push(b'.');
    new.extend_from_slice(rest);
    Some(new)
}

fn next_is_dot(sql: &[u8], at: usize) -> bool {
    sql[at..].trim_ascii_start().starts_with(b".")
}

fn starts_with_ci(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The end (exclusive) of the literal opening at `start`.
fn literal_end(sql: &[u8], start: usize, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < sql.len() {
        match sql[i] {
            b'\\' if escapes => i += 2,
            b'\'' if sql.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    sql.len()
}

fn quoted_end(sql: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < sql.len() {
        if sql[i] == b'"' {
            if sql.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    sql.len()
}

fn block_comment_end(sql: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < sql.len() {
        if sql[i] == b'/' && sql[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if sql[i] == b'*' && sql[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    sql.len()
}

/// The length of a dollar-quote tag (`$$`, `$body$`) starting at `at`.
fn dollar_tag(sql: &[u8], at: usize) -> Option<usize> {
    if at > 0 && is_ident_byte(sql[at - 1]) {
        return None;
    }
    let rest = &sql[at + 1..];
    let len = rest
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80))?;
    if rest[len] != b'$' || rest.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(len + 2)
}

fn memmem(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(sql: &str) -> String {
        String::from_utf8(rewrite(sql.as_bytes(), "cosims", "cosims_stage", false)).unwrap()
    }

    #[test]
    fn names_resolved_at_creation_are_renamed() {
        assert_eq!(
            r("CREATE SCHEMA cosims;"),
            "CREATE SCHEMA \"cosims_stage\";"
        );
        assert_eq!(
            r("ALTER SCHEMA cosims OWNER TO postgres;"),
            "ALTER SCHEMA \"cosims_stage\" OWNER TO postgres;"
        );
        assert_eq!(
            r("GRANT USAGE ON SCHEMA cosims TO web_anonymous;"),
            "GRANT USAGE ON SCHEMA \"cosims_stage\" TO web_anonymous;"
        );
        assert_eq!(
            r("ALTER TABLE ONLY cosims.t ALTER COLUMN id SET DEFAULT nextval('cosims.t_id_seq'::regclass);"),
            "ALTER TABLE ONLY \"cosims_stage\".t ALTER COLUMN id SET DEFAULT nextval('\"cosims_stage\".t_id_seq'::regclass);"
        );
        assert_eq!(
            r("CREATE VIEW cosims.v AS\n SELECT t.id FROM (cosims.t t\n JOIN \"cosims\".u ON true);"),
            "CREATE VIEW \"cosims_stage\".v AS\n SELECT t.id FROM (\"cosims_stage\".t t\n JOIN \"cosims_stage\".u ON true);"
        );
        assert_eq!(
            r("ALTER SEQUENCE cosims.t_id_seq OWNED BY cosims.t.id;"),
            "ALTER SEQUENCE \"cosims_stage\".t_id_seq OWNED BY \"cosims_stage\".t.id;"
        );
    }

    #[test]
    fn bodies_literals_comments_and_other_names_are_left_alone() {
        let function = "CREATE FUNCTION cosims.f() RETURNS integer\n    LANGUAGE sql SET search_path TO 'cosims'\n    AS $_$SELECT count(*) FROM cosims.t -- cosims.x\n$_$;";
        assert_eq!(
            r(function),
            function.replacen("cosims.f()", "\"cosims_stage\".f()", 1)
        );
        for same in [
            "COMMENT ON TABLE x.t IS 'cosims.t is here';",
            "SELECT a.cosims.b FROM other.cosims;",
            "CREATE TABLE public.cosims (cosims int); -- cosims.t",
            "SELECT 'it''s cosims.t', E'\\' cosims.t' /* cosims.t */;",
            "CREATE TABLE cosimsx.t ();",
        ] {
            assert_eq!(r(same), same);
        }
        assert_eq!(
            String::from_utf8(rewrite(
                b"SELECT pg_catalog.setval('cosims.t_id_seq', 3, true);",
                "cosims",
                "s",
                true
            ))
            .unwrap(),
            "SELECT pg_catalog.setval('\"s\".t_id_seq', 3, true);"
        );
    }
}
