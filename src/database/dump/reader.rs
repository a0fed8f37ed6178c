//! Reading a dump in large chunks and handing out lines as byte ranges of one
//! reusable buffer: no allocation per line, and a fast path for COPY data that moves
//! whole runs of rows at once.

use std::io::{self, Read};
use std::ops::Range;

use memchr::memmem;

/// The initial (and usual) buffer size. A line longer than this grows the buffer.
const CHUNK: usize = 1 << 20;

/// The end-of-data marker of a COPY block, as a whole line.
const COPY_END: &[u8] = b"\\.";

pub struct ChunkReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes before `start` are consumed; `start..end` is read but not yet consumed.
    start: usize,
    end: usize,
    eof: bool,
    bytes: u64,
    /// Number of the next line to be consumed (1-based).
    line: u64,
    finder: memmem::Finder<'static>,
}

/// What the COPY fast path found.
#[derive(Debug, PartialEq, Eq)]
pub enum CopyRun {
    /// Complete data lines (each ending with a newline).
    Data { range: Range<usize>, rows: u64 },
    /// The `\.` line was consumed.
    End,
    /// The input ended inside the block.
    Eof,
}

impl<R: Read> ChunkReader<R> {
    pub fn new(inner: R) -> Self {
        ChunkReader {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            bytes: 0,
            line: 1,
            finder: memmem::Finder::new(b"\n\\.\n").into_owned(),
        }
    }

    /// Bytes read from the input so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The number of the next line (1-based): the line an event starting now is on.
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn slice(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Reads more input after what is buffered; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next line including its newline (the last line of the input may lack one).
    pub fn next_line(&mut self) -> io::Result<Option<Range<usize>>> {
        let mut searched = self.start;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[searched..self.end]) {
                let range = self.start..searched + i + 1;
                self.start = range.end;
                self.line += 1;
                return Ok(Some(range));
            }
            let pending = self.end - self.start;
            if !self.fill()? {
                if self.start == self.end {
                    return Ok(None);
                }
                let range = self.start..self.end;
                self.start = self.end;
                self.line += 1;
                return Ok(Some(range));
            }
            // fill() moved the pending bytes to the front of the buffer.
            searched = self.start + pending;
        }
    }

    /// Inside a COPY block: the next run of complete data lines, or the end marker.
    ///
    /// A data line never starts with `\.` (a backslash in a value is written `\\`), so
    /// the line `\.` unambiguously ends the block.
    pub fn copy_run(&mut self) -> io::Result<CopyRun> {
        loop {
            let pending = &self.buf[self.start..self.end];
            if pending.starts_with(b"\\.\n") {
                self.start += 3;
                self.line += 1;
                return Ok(CopyRun::End);
            }
            if let Some(i) = self.finder.find(pending) {
                // The rows up to and including the newline before `\.`.
                return Ok(self.take_rows(self.start..self.start + i + 1));
            }
            if let Some(i) = memchr::memrchr(b'\n', pending) {
                return Ok(self.take_rows(self.start..self.start + i + 1));
            }
            if !self.fill()? {
                if &self.buf[self.start..self.end] == COPY_END {
                    self.start = self.end;
                    self.line += 1;
                    return Ok(CopyRun::End);
                }
                return Ok(CopyRun::Eof);
            }
        }
    }

    fn take_rows(&mut self, range: Range<usize>) -> CopyRun {
        let rows = memchr::memchr_iter(b'\n', &self.buf[range.clone()]).count() as u64;
        self.start = range.end;
        self.line += rows;
        CopyRun::Data { range, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `n` bytes per read, to exercise every boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn lines(input: &[u8], step: usize) -> Vec<String> {
        let mut r = ChunkReader::new(Trickle(input, step));
        let mut out = Vec::new();
        while let Some(range) = r.next_line().unwrap() {
            out.push(String::from_utf8_lossy(r.slice(range)).into_owned());
        }
        out
    }

    #[test]
    fn lines_keep_their_newlines_whatever_the_read_size() {
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(lines(b"a\nbb\n\nc", step), ["a\n", "bb\n", "\n", "c"]);
        }
    }

    fn copy_block(input: &[u8], step: usize) -> (u64, Vec<u8>, bool, String) {
        let mut r = ChunkReader::new(Trickle(input, step));
        let mut rows = 0;
        let mut data = Vec::new();
        let ended = loop {
            match r.copy_run().unwrap() {
                CopyRun::Data { range, rows: n } => {
                    rows += n;
                    data.extend_from_slice(r.slice(range));
                }
                CopyRun::End => break true,
                CopyRun::Eof => break false,
            }
        };
        let mut rest = String::new();
        while let Some(range) = r.next_line().unwrap() {
            rest.push_str(&String::from_utf8_lossy(r.slice(range)));
        }
        (rows, data, ended, rest)
    }

    #[test]
    fn copy_runs_count_rows_and_stop_at_the_end_marker() {
        let input = b"1\ta\n2\t\\\\.\n3\t\\N\n\\.\nSELECT 1;\n";
        for step in [1, 2, 3, 5, 64] {
            let (rows, data, ended, rest) = copy_block(input, step);
            assert_eq!(rows, 3, "step {step}");
            assert_eq!(data, b"1\ta\n2\t\\\\.\n3\t\\N\n", "step {step}");
            assert!(ended);
            assert_eq!(rest, "SELECT 1;\n");
        }
    }

    #[test]
    fn an_empty_block_and_a_truncated_block() {
        assert_eq!(copy_block(b"\\.\nx\n", 1), (0, vec![], true, "x\n".into()));
        let (rows, _, ended, _) = copy_block(b"1\n2\n3", 2);
        assert_eq!((rows, ended), (2, false));
        let (rows, _, ended, _) = copy_block(b"1\n\\.", 1);
        assert_eq!((rows, ended), (1, true));
    }

    #[test]
    fn line_numbers_follow_rows_and_lines() {
        let mut r = ChunkReader::new(&b"COPY\n1\n2\n\\.\nnext\n"[..]);
        r.next_line().unwrap();
        assert_eq!(r.line(), 2);
        while r.copy_run().unwrap() != CopyRun::End {}
        assert_eq!(r.line(), 5);
        let range = r.next_line().unwrap().unwrap();
        assert_eq!(r.slice(range), b"next\n");
    }
}
