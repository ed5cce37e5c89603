//! Columnar input (Parquet, Arrow IPC): record batches of any size cut into chunks of the size
//! asked for, the price cast to f64 from any integer, float or decimal type, keep columns with
//! their own types.

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::cast;
use arrow_schema::{ArrowError, DataType, Schema};
use trendflex_csv::match_column;

use super::{Chunk, Error, SourceOptions};

pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

fn numeric(t: &DataType) -> bool {
    t.is_integer()
        || t.is_floating()
        || matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
}

/// The type a keep column is handed out as: dictionaries decoded, large and view strings as
/// plain ones; `None` when it cannot be kept at all.
fn keep_type(t: &DataType) -> Option<DataType> {
    Some(match t {
        DataType::Dictionary(_, value) => return keep_type(value),
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Utf8 => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView | DataType::Binary => DataType::Binary,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        t if t.is_primitive() || *t == DataType::Boolean => t.clone(),
        _ => return None,
    })
}

/// Which of a schema's columns are read, and where the price and keep columns are among them.
pub struct Columns {
    /// Indices into the file's schema, ascending.
    pub wanted: Vec<usize>,
    price: usize,
    keep: Vec<usize>,
    pub column: String,
    pub keep_names: Vec<String>,
    pub keep_types: Vec<DataType>,
}

impl Columns {
    pub fn plan(schema: &Schema, o: &SourceOptions) -> Result<Columns, Error> {
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let find =
            |wanted: &str| match_column(&names, wanted).map_err(|e| Error::Input(e.to_string()));
        let price_at = find(&o.price)?;
        let keep_at = o
            .keep
            .iter()
            .map(|k| find(&k.name))
            .collect::<Result<Vec<_>, _>>()?;
        let price_type = schema.field(price_at).data_type();
        if !numeric(price_type) {
            return Err(Error::Input(format!(
                "column {} has type {price_type}, not a number",
                names[price_at]
            )));
        }
        let keep_types = keep_at
            .iter()
            .map(|&i| {
                let t = schema.field(i).data_type();
                keep_type(t).ok_or_else(|| {
                    Error::Input(format!(
                        "column {} has type {t}, which cannot be kept",
                        names[i]
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut wanted: Vec<usize> = keep_at.iter().copied().chain([price_at]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let position = |i: usize| wanted.binary_search(&i).unwrap_or(0);
        Ok(Columns {
            price: position(price_at),
            keep: keep_at.iter().map(|&i| position(i)).collect(),
            column: names[price_at].clone(),
            keep_names: keep_at.iter().map(|&i| names[i].clone()).collect(),
            keep_types,
            wanted,
        })
    }
}

pub struct BatchSource {
    batches: Batches,
    /// True when the batches hold every column of the schema, not only `columns.wanted`.
    project: bool,
    /// A batch of which rows from `.1` on are still to be handed out.
    pending: Option<(RecordBatch, usize)>,
    pub columns: Columns,
}

impl BatchSource {
    pub fn new(batches: Batches, columns: Columns, project: bool) -> Self {
        BatchSource {
            batches,
            project,
            pending: None,
            columns,
        }
    }

    /// The next chunk of up to `prices.len()` rows (nulls become NaN).
    pub fn next(&mut self, prices: &mut [f64]) -> Result<Chunk, Error> {
        let (batch, from) = loop {
            match self.pending.take() {
                Some(p) => break p,
                None => match self.batches.next() {
                    None => {
                        return Ok(Chunk {
                            rows: 0,
                            keep: Vec::new(),
                            lines: Default::default(),
                        });
                    }
                    // Stopped by a signal (a live feed): the batches read were handed out.
                    Some(Err(arrow_schema::ArrowError::IoError(_, e)))
                        if super::bytes::is_cancelled(&e) =>
                    {
                        return Ok(Chunk {
                            rows: 0,
                            keep: Vec::new(),
                            lines: Default::default(),
                        });
                    }
                    Some(b) => {
                        let b =
                            b.map_err(|e| Error::Input(format!("cannot read its data ({e})")))?;
                        // An empty batch (an IPC stream may send one) is not the end.
                        if b.num_rows() > 0 {
                            let b = if self.project {
                                b.project(&self.columns.wanted)?
                            } else {
                                b
                            };
                            break (b, 0);
                        }
                    }
                },
            }
        };
        let rows = (batch.num_rows() - from).min(prices.len());
        if from + rows < batch.num_rows() {
            self.pending = Some((batch.clone(), from + rows));
        }
        let batch = batch.slice(from, rows);
        let c = &self.columns;
        let price = cast(batch.column(c.price), &DataType::Float64)?;
        let values = price
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .expect("cast to Float64");
        prices[..rows].copy_from_slice(values.values());
        if let Some(nulls) = values.nulls() {
            for i in nulls.iter().enumerate().filter(|(_, v)| !v).map(|(i, _)| i) {
                prices[i] = f64::NAN;
            }
        }
        let keep = c
            .keep
            .iter()
            .zip(&c.keep_types)
            .map(|(&k, t)| {
                let a = batch.column(k);
                if a.data_type() == t {
                    Ok(a.clone())
                } else {
                    cast(a, t).map_err(Error::from)
                }
            })
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        Ok(Chunk {
            rows,
            keep,
            lines: Default::default(),
        })
    }
}
