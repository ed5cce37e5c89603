//! `--group-by`: the values of the group columns of each row turned into dense group ids (in
//! order of first appearance), and each group's name for messages ("symbol AAPL").

use std::collections::HashMap;

use arrow_array::Array;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, SchemaRef};

use crate::Error;

pub struct GroupKeys {
    columns: Vec<String>,
    converter: RowConverter,
    ids: HashMap<Box<[u8]>, u32>,
    /// Each group's key, in the converter's row format, by id (for a saved state).
    keys: Vec<Box<[u8]>>,
    names: Vec<String>,
}

impl GroupKeys {
    /// `columns`: the group columns' names, with their types.
    pub fn new(columns: Vec<String>, types: &[DataType]) -> Result<Self, Error> {
        let converter =
            RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
        Ok(GroupKeys {
            columns,
            converter,
            ids: HashMap::new(),
            keys: Vec::new(),
            names: Vec::new(),
        })
    }

    /// Groups seen so far.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The group of every row of `arrays` (the group columns of one chunk, `rows` rows), into
    /// `out`. With no group columns every row is in group 0, named "".
    pub fn ids(
        &mut self,
        arrays: &[ArrayRef],
        rows: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), Error> {
        if self.columns.is_empty() {
            out.clear();
            out.resize(rows, 0);
            if rows > 0 && self.names.is_empty() {
                self.names.push(String::new());
            }
            return Ok(());
        }
        let rows = self.converter.convert_columns(arrays)?;
        out.clear();
        out.reserve(rows.num_rows());
        let mut last: Option<(arrow_row::Row<'_>, u32)> = None;
        for (i, row) in rows.iter().enumerate() {
            // Stacked tables repeat a key row after row: compare with the last before hashing.
            if let Some((prev, id)) = last
                && prev == row
            {
                out.push(id);
                continue;
            }
            let key = row.as_ref();
            let id = match self.ids.get(key) {
                Some(&id) => id,
                None => {
                    let id = self.names.len() as u32;
                    self.names.push(self.describe(arrays, i)?);
                    self.ids.insert(key.into(), id);
                    self.keys.push(key.into());
                    id
                }
            };
            out.push(id);
            last = Some((row, id));
        }
        Ok(())
    }

    fn describe(&self, arrays: &[ArrayRef], row: usize) -> Result<String, Error> {
        let options = FormatOptions::default().with_null("null");
        let parts = self
            .columns
            .iter()
            .zip(arrays)
            .map(|(name, a)| {
                Ok(format!(
                    "{name} {}",
                    ArrayFormatter::try_new(a.as_ref(), &options)?.value(row)
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(parts.join(", "))
    }

    /// Every group's key values, a row per group in id order, for a saved state (`None` without
    /// group columns). `schema`: the group columns.
    pub fn key_batch(&self, schema: SchemaRef) -> Result<Option<RecordBatch>, Error> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        let parser = self.converter.parser();
        let rows = self.keys.iter().map(|k| parser.parse(k));
        let columns = self.converter.convert_rows(rows)?;
        Ok(Some(RecordBatch::try_new(schema, columns)?))
    }

    /// Takes the groups of a saved state: `keys` (as `key_batch` gave them; `None` without group
    /// columns) get ids 0, 1, ... in order, as they had. `groups`: how many there were.
    pub fn restore(&mut self, keys: Option<&RecordBatch>, groups: usize) -> Result<(), Error> {
        let mut ids = Vec::new();
        match keys {
            Some(batch) => self.ids(batch.columns(), batch.num_rows(), &mut ids)?,
            None => self.ids(&[], groups.min(1), &mut ids)?,
        }
        if self.len() != groups || ids.iter().enumerate().any(|(i, &id)| id as usize != i) {
            return Err(Error::Input(format!(
                "the state file's {groups} groups do not have distinct keys"
            )));
        }
        Ok(())
    }

    /// A group's name: its columns and values, as in "symbol AAPL".
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};

    use super::*;

    #[test]
    fn ids_follow_first_appearance_and_names_say_the_values() {
        let mut keys = GroupKeys::new(
            vec!["symbol".into(), "venue".into()],
            &[DataType::Utf8, DataType::Int64],
        )
        .unwrap();
        let sym: ArrayRef = Arc::new(StringArray::from(vec![
            Some("AAPL"),
            Some("MSFT"),
            Some("AAPL"),
            None,
            Some("AAPL"),
        ]));
        let venue: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 1, 1, 2]));
        let mut ids = Vec::new();
        keys.ids(&[sym, venue], 5, &mut ids).unwrap();
        assert_eq!(ids, [0, 1, 0, 2, 3]);
        assert_eq!(keys.name(0), "symbol AAPL, venue 1");
        assert_eq!(keys.name(2), "symbol null, venue 1");
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn last_rows_check_the_time_column_and_know_nothing_of_a_state_with_other_columns() {
        use arrow_array::TimestampSecondArray;
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("volume", DataType::Int64, true),
            arrow_schema::Field::new(
                "ts",
                DataType::Timestamp(arrow_schema::TimeUnit::Second, None),
                true,
            ),
        ]));
        let cols = |vol: Vec<i64>, ts: Vec<i64>| -> Vec<ArrayRef> {
            vec![
                Arc::new(Int64Array::from(vol)),
                Arc::new(TimestampSecondArray::from(ts)),
            ]
        };
        let mut a = LastRows::new(schema.clone());
        a.update(&[0, 1, 0], &cols(vec![5, 9, 7], vec![10, 11, 12]), 2)
            .unwrap();
        let saved = a.batch().cloned();
        // Resumed: group 0 goes on after ts 12, its volume lower (not what is checked).
        let mut b = LastRows::new(schema.clone());
        b.restore(saved.clone());
        assert_eq!(b.check(&[0], &cols(vec![1], vec![13])).unwrap(), None);
        // Group 1 repeats its last ts.
        let r = b.check(&[1], &cols(vec![99], vec![11])).unwrap().unwrap();
        assert_eq!(
            (
                r.group,
                r.column.as_str(),
                r.first.as_str(),
                r.last.as_str()
            ),
            (1, "ts", "1970-01-01T00:00:11", "1970-01-01T00:00:11")
        );
        // A state made with other keep columns: its last rows are dropped, and a restored group
        // absent from the next chunk gets a null row, not another group's.
        let other = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "ts",
            DataType::Int64,
            true,
        )]));
        let mut c = LastRows::new(other.clone());
        c.restore(saved);
        let one: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![50]))];
        c.update(&[2], &one, 3).unwrap();
        let ts = c
            .batch()
            .unwrap()
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        assert_eq!(ts.iter().collect::<Vec<_>>(), vec![None, None, Some(50)]);
    }
}

/// What each group's last row held in some columns (the `--keep` columns), one row per group in
/// id order, carried in a saved state; and, where a column can tell, a check that a resumed input
/// does not repeat rows the state already consumed: its first row of each group must come after
/// the group's last saved row in the first numeric or temporal column (a timestamp, a date, an
/// integer or float such as epoch seconds). Text cannot tell (`2024-1-9` sorts after
/// `2024-1-10`), so CSV into CSV, which keeps fields as text, is not checked.
pub struct LastRows {
    schema: SchemaRef,
    /// One row per group seen (or restored), in id order.
    batch: Option<RecordBatch>,
    /// The column compared, and whether it compares as integers (else as floats).
    check: Option<(usize, bool)>,
    /// Groups of the state not yet seen in this run: their first row is checked.
    unchecked: Vec<bool>,
}

/// A resumed input's row that the state has already consumed (or an older one).
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub group: u32,
    /// The row of the chunk.
    pub row: usize,
    pub column: String,
    pub last: String,
    pub first: String,
}

impl LastRows {
    pub fn new(schema: SchemaRef) -> Self {
        // A time column first (a timestamp, a date), else the first number (epoch seconds).
        let time = |t: &DataType| {
            matches!(
                t,
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
            )
        };
        let fields = schema.fields();
        let check = fields
            .iter()
            .position(|f| time(f.data_type()))
            .map(|i| (i, true))
            .or_else(|| {
                fields.iter().enumerate().find_map(|(i, f)| {
                    let t = f.data_type();
                    if t.is_integer() {
                        Some((i, true))
                    } else if t.is_floating() {
                        Some((i, false))
                    } else {
                        None
                    }
                })
            });
        LastRows {
            schema,
            batch: None,
            check,
            unchecked: Vec::new(),
        }
    }

    /// Takes a saved state's last rows: kept only when their columns are this run's.
    pub fn restore(&mut self, batch: Option<RecordBatch>) {
        self.batch = batch.filter(|b| b.schema().fields() == self.schema.fields());
        self.unchecked = vec![true; self.batch.as_ref().map_or(0, |b| b.num_rows())];
    }

    /// The last rows, one per group in id order, for a saved state.
    pub fn batch(&self) -> Option<&RecordBatch> {
        self.batch.as_ref()
    }

    /// Before a chunk (`columns` in this schema, `ids` its groups) is computed: the first row of
    /// every group the state knows must come after its saved last row; the first that does not.
    pub fn check(&mut self, ids: &[u32], columns: &[ArrayRef]) -> Result<Option<Repeat>, Error> {
        let (Some((c, integer)), Some(saved)) = (self.check, &self.batch) else {
            return Ok(None);
        };
        for (row, &id) in ids.iter().enumerate() {
            let g = id as usize;
            if !self.unchecked.get(g).copied().unwrap_or(false) {
                continue;
            }
            self.unchecked[g] = false;
            let (old, new) = (saved.column(c).slice(g, 1), columns[c].slice(row, 1));
            let after = if integer {
                let to = |a: &ArrayRef| -> Result<Option<i64>, Error> {
                    let v = arrow_cast::cast(a, &DataType::Int64)?;
                    let v = v
                        .as_any()
                        .downcast_ref::<arrow_array::Int64Array>()
                        .expect("cast to Int64");
                    Ok(v.is_valid(0).then(|| v.value(0)))
                };
                match (to(&old)?, to(&new)?) {
                    (Some(o), Some(n)) => n > o,
                    _ => true,
                }
            } else {
                let to = |a: &ArrayRef| -> Result<f64, Error> {
                    let v = arrow_cast::cast(a, &DataType::Float64)?;
                    let v = v
                        .as_any()
                        .downcast_ref::<arrow_array::Float64Array>()
                        .expect("cast to Float64");
                    Ok(if v.is_valid(0) { v.value(0) } else { f64::NAN })
                };
                let (o, n) = (to(&old)?, to(&new)?);
                o.is_nan() || n.is_nan() || n > o
            };
            if !after {
                let text = |a: &ArrayRef| -> Result<String, Error> {
                    Ok(
                        ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default())?
                            .value(0)
                            .to_string(),
                    )
                };
                return Ok(Some(Repeat {
                    group: id,
                    row,
                    column: self.schema.field(c).name().clone(),
                    last: text(&old)?,
                    first: text(&new)?,
                }));
            }
        }
        Ok(None)
    }

    /// After a chunk: records each group's last row in it. `groups`: groups seen so far.
    pub fn update(
        &mut self,
        ids: &[u32],
        columns: &[ArrayRef],
        groups: usize,
    ) -> Result<(), Error> {
        if self.schema.fields().is_empty() || ids.is_empty() {
            return Ok(());
        }
        let mut last = vec![u32::MAX; groups];
        for (row, &id) in ids.iter().enumerate() {
            last[id as usize] = row as u32;
        }
        let chunk = RecordBatch::try_new(self.schema.clone(), columns.to_vec())?;
        let old_rows = self.batch.as_ref().map_or(0, |b| b.num_rows());
        // Each group's row: from this chunk where it appears, else from before; a group of a
        // resumed state whose last row is not known (the state had other keep columns) is null,
        // which the check lets through.
        let picks: Vec<(usize, usize)> = (0..groups)
            .map(|g| {
                if last[g] != u32::MAX {
                    (1, last[g] as usize)
                } else if g < old_rows {
                    (0, g)
                } else {
                    (2, 0)
                }
            })
            .collect();
        let empty = RecordBatch::new_empty(self.schema.clone());
        let old = self.batch.as_ref().unwrap_or(&empty);
        let merged = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(c, f)| {
                let null = arrow_array::new_null_array(f.data_type(), 1);
                arrow_select::interleave::interleave(
                    &[
                        old.column(c).as_ref(),
                        chunk.column(c).as_ref(),
                        null.as_ref(),
                    ],
                    &picks,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch = Some(RecordBatch::try_new(self.schema.clone(), merged)?);
        Ok(())
    }
}
