//! Keep columns: their fields are held as text while rows wait to be taken; each column's type is
//! decided once, from a fixed sample (the same whatever the chunk size, so `compute` and `batch`
//! agree), or declared; taking rows converts them into Arrow's layout.

use crate::number::{is_missing, parse_integer, parse_number};

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

    /// Adds `other`'s fields after these.
    pub fn append(&mut self, other: &Fields) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    pub fn pop(&mut self) {
        self.ends.pop();
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
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

/// Why a field does not fit its column's type.
pub(crate) struct Misfit;

/// Converts the first `rows` fields to `kind`; on a field that does not fit, returns its index.
pub(crate) fn convert(
    fields: &Fields,
    rows: usize,
    kind: KeepType,
) -> Result<KeepColumn, (usize, Misfit)> {
    let mut validity = vec![0u8; rows.div_ceil(64) * 8];
    let mut null_count = 0;
    let mut mark = |i: usize, valid: bool| {
        validity[i / 8] |= u8::from(valid) << (i % 8);
        null_count += usize::from(!valid);
    };
    let values = match kind {
        KeepType::Int64 => {
            let mut v = Vec::with_capacity(rows);
            for i in 0..rows {
                let trimmed = fields.get(i).trim_ascii();
                if is_missing(trimmed) {
                    mark(i, false);
                    v.push(0);
                } else {
                    v.push(parse_integer(trimmed).ok_or((i, Misfit))?);
                    mark(i, true);
                }
            }
            KeepValues::Int64(v)
        }
        KeepType::Float64 => {
            let mut v = Vec::with_capacity(rows);
            for i in 0..rows {
                let x = parse_number(fields.get(i)).map_err(|_| (i, Misfit))?;
                mark(i, !x.is_nan());
                v.push(if x.is_nan() { 0.0 } else { x });
            }
            KeepValues::Float64(v)
        }
        KeepType::Text => {
            let end = if rows == 0 { 0 } else { fields.ends[rows - 1] };
            let mut offsets = Vec::with_capacity(rows + 1);
            offsets.push(0);
            for i in 0..rows {
                // Only an empty field is missing (an empty string under a cleared bit): text is
                // kept as written, whitespace too.
                mark(i, !fields.get(i).is_empty());
                offsets.push(fields.ends[i] as i32);
            }
            KeepValues::Text {
                offsets,
                bytes: fields.bytes[..end].to_vec(),
            }
        }
    };
    Ok(KeepColumn {
        kind,
        validity,
        null_count,
        values,
    })
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

    #[test]
    fn conversion_lays_out_arrow_buffers_and_stops_at_a_misfit() {
        let f = fields(&["10", "", "-7", "1.5"]);
        let c = convert(&f, 3, KeepType::Int64).ok().unwrap();
        assert_eq!(c.values, KeepValues::Int64(vec![10, 0, -7]));
        assert_eq!(
            (c.validity[0], c.null_count, c.validity.len()),
            (0b101, 1, 8)
        );
        assert_eq!(convert(&f, 4, KeepType::Int64).err().map(|e| e.0), Some(3));
        let t = convert(&fields(&["BTC", " ", "é"]), 3, KeepType::Text)
            .ok()
            .unwrap();
        assert_eq!(
            t.values,
            KeepValues::Text {
                offsets: vec![0, 3, 4, 6],
                bytes: "BTC é".as_bytes().to_vec()
            }
        );
        assert_eq!(t.validity[0], 0b111, "whitespace is text, not missing");
        let e = convert(&fields(&["a", ""]), 2, KeepType::Text)
            .ok()
            .unwrap();
        assert_eq!((e.validity[0], e.null_count), (0b01, 1));
    }

    #[test]
    fn fields_drain_from_the_front() {
        let mut f = fields(&["ab", "c", "def"]);
        f.drain(2);
        assert_eq!(f.get(0), b"def");
        assert_eq!(f.rows_within(3), 1);
        f.pop();
        assert_eq!(f.rows_within(10), 0);
    }
}
