//! What csi writes to psql: dump text and csi's own SQL, through a large buffer,
//! counting lines so that psql's `psql:<stdin>:N` can be traced back to the dump.

use std::io::{self, BufWriter, Write};

const BUFFER: usize = 256 * 1024;

/// Maps lines of the stream psql reads back to lines of the dump (None: csi's own SQL).
/// One entry per discontinuity, so its size follows the number of statements, not rows.
#[derive(Debug, Default, Clone)]
pub struct LineMap {
    /// (first output line, first dump line) of each contiguous stretch.
    stretches: Vec<(u64, Option<u64>)>,
}

impl LineMap {
    fn record(&mut self, out_line: u64, dump_line: Option<u64>) {
        if let Some(&(start, dump_start)) = self.stretches.last() {
            let continues = match (dump_start, dump_line) {
                (Some(d0), Some(d)) => d0 + (out_line - start) == d,
                (None, None) => true,
                _ => false,
            };
            if continues {
                return;
            }
        }
        self.stretches.push((out_line, dump_line));
    }

    /// The dump line of output line `out_line` (1-based), if it came from the dump.
    pub fn dump_line(&self, out_line: u64) -> Option<u64> {
        let i = self
            .stretches
            .partition_point(|&(start, _)| start <= out_line)
            .checked_sub(1)?;
        let (start, dump_start) = self.stretches[i];
        dump_start.map(|d| d + (out_line - start))
    }
}

pub struct SqlWriter<W: Write> {
    out: BufWriter<W>,
    /// Lines written so far.
    lines: u64,
    map: LineMap,
}

impl<W: Write> SqlWriter<W> {
    pub fn new(out: W) -> Self {
        SqlWriter {
            out: BufWriter::with_capacity(BUFFER, out),
            lines: 0,
            map: LineMap::default(),
        }
    }

    /// csi's own SQL (newline-terminated).
    pub fn generated(&mut self, sql: &str) -> io::Result<()> {
        self.map.record(self.lines + 1, None);
        self.lines += memchr::memchr_iter(b'\n', sql.as_bytes()).count() as u64;
        self.out.write_all(sql.as_bytes())
    }

    /// Text from the dump, starting on dump line `dump_line` (newline-terminated).
    pub fn dump(&mut self, text: &[u8], dump_line: u64) -> io::Result<()> {
        let lines = memchr::memchr_iter(b'\n', text).count() as u64;
        self.dump_lines(text, lines, dump_line)
    }

    /// Like `dump` when the number of lines is already known (COPY rows).
    pub fn dump_lines(&mut self, text: &[u8], lines: u64, dump_line: u64) -> io::Result<()> {
        self.map.record(self.lines + 1, Some(dump_line));
        self.lines += lines;
        self.out.write_all(text)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    pub fn line_map(&self) -> &LineMap {
        &self.map
    }

    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_map_back_to_dump_lines() {
        let mut w = SqlWriter::new(Vec::new());
        w.generated("BEGIN;\nDROP SCHEMA s CASCADE;\n").unwrap();
        w.dump(b"CREATE TABLE t (\n a int\n);\n", 10).unwrap();
        w.dump(b"COPY t (a) FROM stdin;\n", 13).unwrap();
        w.dump_lines(b"1\n2\n", 2, 14).unwrap();
        w.dump(b"SELECT 1;\n", 40).unwrap();
        let map = w.line_map().clone();
        assert_eq!(map.dump_line(1), None);
        assert_eq!(map.dump_line(2), None);
        assert_eq!(map.dump_line(3), Some(10));
        assert_eq!(map.dump_line(5), Some(12));
        assert_eq!(map.dump_line(7), Some(14));
        assert_eq!(map.dump_line(8), Some(15));
        assert_eq!(map.dump_line(9), Some(40));
        assert_eq!(map.stretches.len(), 3);
    }
}
