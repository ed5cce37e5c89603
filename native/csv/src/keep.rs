//! Keep columns: their fields are held as text while rows wait to be taken; each column's type is
//! decided once, from a fixed sample (the same whatever the chunk size, so `compute` and `batch`
//! agree), or declared; taking rows converts them into Arrow's layout.

use crate::number::{is_missing, parse_int64, parse_integer, parse_number};

/// The type of a keep column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepType {
    Int64,
    Float64,
    Text,
}

impl KeepType {
    pub fn name(self) -> &'static str {
        match self {
            KeepType::Int64 => "int64",
            KeepType::Float64 => "float64",
            KeepType::Text => "text",
        }
    }

    pub(crate) fn article(self) -> &'static str {
        match self {
            KeepType::Int64 => "an integer",
            KeepType::Float64 => "a number",
            KeepType::Text => "text",
        }
    }

    /// The next type up: every int64 is a float64, every field is text.
    pub(crate) fn wider(self) -> KeepType {
        match self {
            KeepType::Int64 => KeepType::Float64,
            _ => KeepType::Text,
        }
    }

    pub fn parse(name: &str) -> Option<KeepType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "int64" | "int" | "integer" => Some(KeepType::Int64),
            "float64" | "float" | "double" | "number" => Some(KeepType::Float64),
            "text" | "string" | "utf8" | "str" => Some(KeepType::Text),
            _ => None,
        }
    }

    /// The narrowest type every non-missing field fits; text when there is none at all.
    pub(crate) fn infer<'a>(fields: impl Iterator<Item = &'a [u8]>) -> KeepType {
        let (mut any, mut integers) = (false, true);
        for field in fields {
            let trimmed = field.trim_ascii();
            if is_missing(trimmed) {
                continue;
            }
            any = true;
            integers = integers && parse_integer(trimmed).is_some();
            if !integers && parse_number(trimmed).is_err() {
                return KeepType::Text;
            }
        }
        match (any, integers) {
            (false, _) => KeepType::Text,
            (true, true) => KeepType::Int64,
            (true, false) => KeepType::Float64,
        }
    }
}

/// One keep column of a take, in Arrow's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepColumn {
    pub kind: KeepType,
    /// Bit `i` (least significant first) set when row `i` has a value; padded to 8 bytes.
    pub validity: Vec<u8>,
    pub null_count: usize,
    pub values: KeepValues,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeepValues {
    /// 0 where missing.
    Int64(Vec<i64>),
    /// 0.0 where missing.
    Float64(Vec<f64>),
    /// `rows + 1` offsets into `bytes` (UTF-8), from 0; missing values are empty.
    Text { offsets: Vec<i32>, bytes: Vec<u8> },
}

/// The fields of one keep column for the rows waiting to be taken.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    bytes: Vec<u8>,
    /// Where each field ends in `bytes`.
    ends: Vec<usize>,
}

impl Fields {
    pub fn push(&mut self, field: &[u8]) {
        self.bytes.extend_from_slice(field);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Keeps the first `rows` fields.
    pub fn truncate(&mut self, rows: usize) {
        self.ends.truncate(rows);
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// Adds `other`'s fields after these.
    pub fn append(&mut self, other: &Fields) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Rows from the front whose text adds up to at most `limit` bytes.
    pub fn rows_within(&self, limit: usize) -> usize {
        self.ends.partition_point(|&end| end <= limit)
    }

    /// Drops the first `rows` fields.
    pub fn drain(&mut self, rows: usize) {
        if rows == 0 {
            return;
        }
        let cut = self.ends[rows - 1];
        self.bytes.drain(..cut);
        self.ends.drain(..rows);
        self.ends.iter_mut().for_each(|e| *e -= cut);
    }
}

/// A field that does not fit its column's type.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Misfit;

/// One keep column's rows waiting to be taken: text as written until the column's type is
/// decided (or for good, for text), then values of that type, parsed as the records are (on the
/// blocks' threads).
#[derive(Debug)]
pub(crate) enum Queue {
    Text(Fields),
    Int64 { values: Vec<i64>, valid: Vec<bool> },
    Float64 { values: Vec<f64>, valid: Vec<bool> },
}

impl Queue {
    /// An empty queue for a column of `kind` (text while undecided).
    pub fn new(kind: Option<KeepType>) -> Self {
        match kind {
            Some(KeepType::Int64) => Queue::Int64 {
                values: Vec::new(),
                valid: Vec::new(),
            },
            Some(KeepType::Float64) => Queue::Float64 {
                values: Vec::new(),
                valid: Vec::new(),
            },
            Some(KeepType::Text) | None => Queue::Text(Fields::default()),
        }
    }

    pub fn kind(&self) -> KeepType {
        match self {
            Queue::Text(_) => KeepType::Text,
            Queue::Int64 { .. } => KeepType::Int64,
            Queue::Float64 { .. } => KeepType::Float64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Queue::Text(f) => f.len(),
            Queue::Int64 { valid, .. } | Queue::Float64 { valid, .. } => valid.len(),
        }
    }

    /// Queues one field, parsed to the column's type; one that does not fit is not queued.
    pub fn push(&mut self, field: &[u8]) -> Result<(), Misfit> {
        match self {
            Queue::Text(f) => f.push(field),
            Queue::Int64 { values, valid } => {
                let v = parse_int64(field).map_err(|_| Misfit)?;
                values.push(v.unwrap_or(0));
                valid.push(v.is_some());
            }
            Queue::Float64 { values, valid } => {
                let x = parse_number(field).map_err(|_| Misfit)?;
                values.push(if x.is_nan() { 0.0 } else { x });
                valid.push(!x.is_nan());
            }
        }
        Ok(())
    }

    /// Room for `rows` more typed values without growing (text grows as it comes).
    pub fn reserve(&mut self, rows: usize) {
        match self {
            Queue::Text(_) => {}
            Queue::Int64 { values, valid } => {
                values.reserve(rows);
                valid.reserve(rows);
            }
            Queue::Float64 { values, valid } => {
                values.reserve(rows);
                valid.reserve(rows);
            }
        }
    }

    /// Drops the last row.
    pub fn pop(&mut self) {
        self.truncate(self.len().saturating_sub(1));
    }

    pub fn truncate(&mut self, rows: usize) {
        match self {
            Queue::Text(f) => f.truncate(rows),
            Queue::Int64 { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
            Queue::Float64 { values, valid } => {
                values.truncate(rows);
                valid.truncate(rows);
            }
        }
    }

    /// Adds `other`'s rows after these (a queue of the same type: blocks are parsed with the
    /// types known when they were cut, as the queue they join).
    pub fn append(&mut self, other: &Queue) {
        match (self, other) {
            (Queue::Text(f), Queue::Text(o)) => f.append(o),
            (
                Queue::Int64 { values, valid },
                Queue::Int64 {
                    values: v,
                    valid: o,
                },
            ) => {
                values.extend_from_slice(v);
                valid.extend_from_slice(o);
            }
            (
                Queue::Float64 { values, valid },
                Queue::Float64 {
                    values: v,
                    valid: o,
                },
            ) => {
                values.extend_from_slice(v);
                valid.extend_from_slice(o);
            }
            (q, o) => unreachable!("a block of {:?} joins {:?} rows", o.kind(), q.kind()),
        }
    }

    /// The text of row `i`, while the queue is text.
    pub fn text(&self, i: usize) -> Option<&[u8]> {
        match self {
            Queue::Text(f) => Some(f.get(i)),
            _ => None,
        }
    }

    /// Rows from the front whose text adds up to at most `limit` bytes (every row when typed).
    pub fn rows_within(&self, limit: usize) -> usize {
        match self {
            Queue::Text(f) => f.rows_within(limit),
            _ => self.len(),
        }
    }

    /// Parses the queued text to `kind` (nothing to do for text). On a field that does not fit,
    /// returns its row and leaves the queue as it was.
    pub fn decide(&mut self, kind: KeepType) -> Result<(), usize> {
        let Queue::Text(fields) = self else {
            return Ok(());
        };
        let mut typed = Queue::new(Some(kind));
        if let Queue::Text(_) = typed {
            return Ok(());
        }
        for i in 0..fields.len() {
            typed.push(fields.get(i)).map_err(|_| i)?;
        }
        *self = typed;
        Ok(())
    }

    /// Moves the first `rows` out, in Arrow's layout.
    pub fn take(&mut self, rows: usize) -> KeepColumn {
        let mut validity = vec![0u8; rows.div_ceil(64) * 8];
        let mut null_count = 0;
        let mut mark = |i: usize, valid: bool| {
            validity[i / 8] |= u8::from(valid) << (i % 8);
            null_count += usize::from(!valid);
        };
        let kind = self.kind();
        let values = match self {
            Queue::Int64 { values, valid } => {
                valid
                    .drain(..rows)
                    .enumerate()
                    .for_each(|(i, v)| mark(i, v));
                KeepValues::Int64(values.drain(..rows).collect())
            }
            Queue::Float64 { values, valid } => {
                valid
                    .drain(..rows)
                    .enumerate()
                    .for_each(|(i, v)| mark(i, v));
                KeepValues::Float64(values.drain(..rows).collect())
            }
            Queue::Text(fields) => {
                let end = if rows == 0 { 0 } else { fields.ends[rows - 1] };
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                for i in 0..rows {
                    // Only an empty field is missing (an empty string under a cleared bit): text
                    // is kept as written, whitespace too.
                    mark(i, !fields.get(i).is_empty());
                    offsets.push(fields.ends[i] as i32);
                }
                let bytes = fields.bytes[..end].to_vec();
                fields.drain(rows);
                KeepValues::Text { offsets, bytes }
            }
        };
        KeepColumn {
            kind,
            validity,
            null_count,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[&str]) -> Fields {
        let mut f = Fields::default();
        list.iter().for_each(|s| f.push(s.as_bytes()));
        f
    }

    #[test]
    fn the_narrowest_type_that_fits_every_value() {
        let infer = |l: &[&str]| KeepType::infer(l.iter().map(|s| s.as_bytes()));
        assert_eq!(infer(&["1", "", "-3", "NA"]), KeepType::Int64);
        assert_eq!(infer(&["1", "2.5"]), KeepType::Float64);
        assert_eq!(infer(&["1", "x"]), KeepType::Text);
        assert_eq!(
            infer(&["", "NaN"]),
            KeepType::Text,
            "nothing says it is a number"
        );
    }

    fn queue(kind: Option<KeepType>, list: &[&str]) -> Queue {
        let mut q = Queue::new(kind);
        list.iter().for_each(|s| q.push(s.as_bytes()).unwrap());
        q
    }

    #[test]
    fn taking_lays_out_arrow_buffers_and_deciding_stops_at_a_misfit() {
        let mut q = queue(None, &["10", "", "-7", "1.5"]);
        assert_eq!(q.decide(KeepType::Int64), Err(3));
        q.truncate(3);
        q.decide(KeepType::Int64).unwrap();
        let c = q.take(3);
        assert_eq!(c.values, KeepValues::Int64(vec![10, 0, -7]));
        assert_eq!(
            (c.validity[0], c.null_count, c.validity.len()),
            (0b101, 1, 8)
        );
        let mut typed = queue(Some(KeepType::Float64), &["1.5", "NA", " 2 "]);
        assert_eq!(typed.push(b"x"), Err(Misfit));
        assert_eq!(typed.len(), 3, "a misfit is not queued");
        let c = typed.take(2);
        assert_eq!(c.values, KeepValues::Float64(vec![1.5, 0.0]));
        assert_eq!((c.validity[0], c.null_count), (0b01, 1));
        assert_eq!(typed.take(1).values, KeepValues::Float64(vec![2.0]));
        let t = queue(None, &["BTC", " ", "é"]).take(3);
        assert_eq!(
            t.values,
            KeepValues::Text {
                offsets: vec![0, 3, 4, 6],
                bytes: "BTC é".as_bytes().to_vec()
            }
        );
        assert_eq!(t.validity[0], 0b111, "whitespace is text, not missing");
        let e = queue(None, &["a", ""]).take(2);
        assert_eq!((e.validity[0], e.null_count), (0b01, 1));
    }

    #[test]
    fn fields_drain_from_the_front() {
        let mut f = fields(&["ab", "c", "def"]);
        f.drain(2);
        assert_eq!(f.get(0), b"def");
        assert_eq!(f.rows_within(3), 1);
        let mut q = Queue::Text(f);
        q.pop();
        assert_eq!(q.rows_within(10), 0);
    }
}
