//! One pass over a plain-text dump, as psql would read it: comment lines, psql
//! meta-command lines, complete SQL statements, and COPY blocks (header, runs of data
//! rows, end marker), each handed to a `Handler` with the dump line it starts on.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use super::lexer::Lexer;
use super::names::{is_copy_from_stdin, parse_copy_header, CopyHeader};
use super::reader::{ChunkReader, CopyRun};

/// What a consumer of the dump does with each piece. `at` is the 1-based dump line the
/// piece starts on.
pub trait Handler {
    /// A `--` comment line between statements.
    fn comment(&mut self, line: &[u8], at: u64) -> anyhow::Result<()>;
    /// A psql meta-command line between statements (`\connect ...`, `\restrict ...`).
    fn meta(&mut self, line: &[u8], at: u64) -> anyhow::Result<()>;
    /// A complete SQL statement, every line of it.
    fn statement(&mut self, text: &[u8], at: u64) -> anyhow::Result<()>;
    /// `COPY ... FROM stdin;`; data rows follow. `header` is None when it cannot be read.
    fn copy_start(
        &mut self,
        text: &[u8],
        header: Option<CopyHeader>,
        at: u64,
    ) -> anyhow::Result<()>;
    /// Complete data rows of the current COPY block, newline-terminated.
    fn copy_data(&mut self, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()>;
    /// The `\.` line that ends the block.
    fn copy_end(&mut self, at: u64) -> anyhow::Result<()>;
}

/// How the input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Between statements.
    Clean,
    /// Inside the data of a COPY block that started on this line.
    InCopy { line: u64 },
    /// Inside a statement that started on this line.
    InStatement { line: u64 },
}

#[derive(Debug, Clone, Copy)]
pub struct ScanEnd {
    pub bytes: u64,
    pub lines: u64,
    pub ending: Ending,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("reading the dump: {0}")]
    Read(#[source] std::io::Error),
    #[error("line {line} of the dump: a psql meta-command inside an SQL statement")]
    MetaInStatement { line: u64 },
}

/// Reads `input` to its end, handing every piece to `handler`. `bytes` follows the
/// number of bytes read (for progress). Stops at the first handler error.
pub fn scan<R: Read>(
    input: R,
    handler: &mut impl Handler,
    bytes: &AtomicU64,
) -> anyhow::Result<ScanEnd> {
    let mut reader = ChunkReader::new(input);
    let mut lexer = Lexer::default();
    let mut statement: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut statement_line = 0;
    let mut copy_line: Option<u64> = None;
    loop {
        bytes.store(reader.bytes(), Ordering::Relaxed);
        if let Some(start) = copy_line {
            let at = reader.line();
            match reader.copy_run().map_err(ScanError::Read)? {
                CopyRun::Data { range, rows } => {
                    handler.copy_data(reader.slice(range), rows, at)?
                }
                CopyRun::End => {
                    handler.copy_end(at)?;
                    copy_line = None;
                }
                CopyRun::Eof => return Ok(end(&reader, Ending::InCopy { line: start })),
            }
            continue;
        }
        let at = reader.line();
        let Some(range) = reader.next_line().map_err(ScanError::Read)? else {
            let ending = if statement.is_empty() {
                Ending::Clean
            } else {
                Ending::InStatement {
                    line: statement_line,
                }
            };
            return Ok(end(&reader, ending));
        };
        let line = reader.slice(range);
        if statement.is_empty() {
            let trimmed = line.trim_ascii_start();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with(b"--") {
                handler.comment(line, at)?;
                continue;
            }
            if line.starts_with(b"\\") {
                handler.meta(line, at)?;
                continue;
            }
            statement_line = at;
            lexer.reset();
        } else if lexer.at_top_level() && line.starts_with(b"\\") {
            return Err(ScanError::MetaInStatement { line: at }.into());
        }
        statement.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            statement.push(b'\n');
        }
        if lexer.feed(line) {
            if is_copy_from_stdin(&statement) {
                let header = std::str::from_utf8(&statement)
                    .ok()
                    .and_then(parse_copy_header);
                handler.copy_start(&statement, header, statement_line)?;
                copy_line = Some(statement_line);
            } else {
                handler.statement(&statement, statement_line)?;
            }
            statement.clear();
        }
    }
}

fn end<R: Read>(reader: &ChunkReader<R>, ending: Ending) -> ScanEnd {
    ScanEnd {
        bytes: reader.bytes(),
        lines: reader.line() - 1,
        ending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Handler for Recorder {
        fn comment(&mut self, line: &[u8], at: u64) -> anyhow::Result<()> {
            self.0.push(format!(
                "{at} comment {}",
                String::from_utf8_lossy(line).trim_end()
            ));
            Ok(())
        }
        fn meta(&mut self, line: &[u8], at: u64) -> anyhow::Result<()> {
            self.0.push(format!(
                "{at} meta {}",
                String::from_utf8_lossy(line).trim_end()
            ));
            Ok(())
        }
        fn statement(&mut self, text: &[u8], at: u64) -> anyhow::Result<()> {
            let text = String::from_utf8_lossy(text);
            self.0
                .push(format!("{at} statement {} lines", text.lines().count()));
            Ok(())
        }
        fn copy_start(
            &mut self,
            _: &[u8],
            header: Option<CopyHeader>,
            at: u64,
        ) -> anyhow::Result<()> {
            self.0.push(format!("{at} copy {}", header.unwrap().table));
            Ok(())
        }
        fn copy_data(&mut self, _: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
            self.0.push(format!("{at} rows {rows}"));
            Ok(())
        }
        fn copy_end(&mut self, at: u64) -> anyhow::Result<()> {
            self.0.push(format!("{at} end"));
            Ok(())
        }
    }

    fn run(input: &str) -> (Vec<String>, ScanEnd) {
        let mut rec = Recorder::default();
        let end = scan(input.as_bytes(), &mut rec, &AtomicU64::new(0)).unwrap();
        (rec.0, end)
    }

    #[test]
    fn pieces_come_with_their_line_numbers() {
        let dump = "--\n-- x\n\\connect db\n\nCREATE FUNCTION f() AS $$\nSELECT 1;\n$$;\nCOPY s.t (a) FROM stdin;\n1\n2\n\\.\nSELECT 1;\n";
        let (events, end) = run(dump);
        assert_eq!(
            events,
            [
                "1 comment --",
                "2 comment -- x",
                "3 meta \\connect db",
                "5 statement 3 lines",
                "8 copy s.t",
                "9 rows 2",
                "11 end",
                "12 statement 1 lines"
            ]
        );
        assert_eq!(end.ending, Ending::Clean);
        assert_eq!(end.lines, 12);
        assert_eq!(end.bytes, dump.len() as u64);
    }

    #[test]
    fn truncation_is_reported_where_it_happens() {
        let (_, end) = run("COPY s.t (a) FROM stdin;\n1\n2");
        assert_eq!(end.ending, Ending::InCopy { line: 1 });
        let (_, end) = run("SELECT 1;\nCREATE TABLE t (\n a int");
        assert_eq!(end.ending, Ending::InStatement { line: 2 });
    }

    #[test]
    fn a_meta_command_inside_a_statement_is_refused() {
        let mut rec = Recorder::default();
        let err = scan(
            &b"CREATE TABLE t (\n\\! echo hi\n);\n"[..],
            &mut rec,
            &AtomicU64::new(0),
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
