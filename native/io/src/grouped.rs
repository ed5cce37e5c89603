//! `--group-by` as a step of the pipeline: the group columns of each chunk become group ids,
//! every group is computed by its own stream in the core (in parallel), and each result's
//! validity (missing = NaN) goes into the slot's bitmaps. One series with `--state`, `--resume`
//! or `--follow` is computed here too, as one group, whose state is saved and restored with the
//! job's.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use trendflex_core::gaps::GapMode;
use trendflex_core::{Extremes, Flavor, GroupError, GroupedStream, Kernel};

use crate::Error;
use crate::groups::{GroupKeys, LastRows};
use crate::pipeline::{Failure, Rows, Step};
use crate::readers::missing_price;
use crate::state::{Belongs, JobState, StateError};

/// What a grouped job computes.
#[derive(Debug, Clone)]
pub struct GroupsPlan {
    pub periods: Vec<usize>,
    pub kernel: Kernel,
    pub flavor: Flavor,
    pub threads: usize,
    pub gaps: GapMode,
    /// The group columns' names (the first keep columns of every chunk); none: one series.
    pub keys: Vec<String>,
    /// The other keep columns' names, whose last row per group a saved state holds.
    pub kept: Vec<String>,
    /// The price column, as the input names it (recorded in a state).
    pub column: String,
    /// A state to continue from (`--resume`): checked and restored with the first chunk, which
    /// says the group columns' types.
    pub resume: Option<Vec<u8>>,
    /// A group too short for a period is an error: output is held while one may still be.
    pub strict: bool,
    /// Name rows by the input's lines (one CSV input), else by their row numbers.
    pub lines: bool,
}

/// The groups, once the first chunk has told the group columns' types.
struct Open {
    keys: GroupKeys,
    last: LastRows,
    belongs: Belongs,
}

/// A group that cannot give every period a value, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortGroup {
    /// Its columns and values, as in "symbol AAPL"; "" for one series.
    pub name: String,
    /// The first failing check, as in "period 231 needs at least 232 valid prices, it has 180".
    pub reason: String,
}

/// Every group of a table, computed chunk by chunk.
pub struct Groups {
    plan: GroupsPlan,
    stream: GroupedStream,
    open: Option<Open>,
    ids: Vec<u32>,
    /// Rows consumed, over every run of a resumed state too.
    rows: u64,
}

impl Groups {
    pub fn new(plan: GroupsPlan) -> Result<Self, trendflex_core::Error> {
        let stream = GroupedStream::with_flavor(
            &plan.periods,
            plan.kernel,
            plan.flavor,
            plan.gaps,
            plan.threads,
        )?;
        Ok(Groups {
            plan,
            stream,
            open: None,
            ids: Vec::new(),
            rows: 0,
        })
    }

    /// The concrete kernel.
    pub fn kernel(&self) -> Kernel {
        self.stream.kernel()
    }

    /// Groups seen so far.
    pub fn groups(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.keys.len())
    }

    /// The groups that cannot give every period a value (too few valid prices, or none).
    pub fn finish(&self) -> Vec<ShortGroup> {
        let Some(open) = &self.open else {
            return Vec::new();
        };
        // Without group columns the one group is the series, continued by a later --resume.
        let subject = if self.plan.keys.is_empty() {
            "the series"
        } else {
            "it"
        };
        self.stream
            .finish()
            .into_iter()
            .map(|r| ShortGroup {
                name: open.keys.name(r.group).to_string(),
                reason: r.error.describe(subject),
            })
            .collect()
    }

    /// The bytes of a state file with every group's state; `None` before the first chunk.
    pub fn save_state(&self) -> Option<Result<Vec<u8>, Error>> {
        let open = self.open.as_ref()?;
        let state = || -> Result<Vec<u8>, Error> {
            JobState {
                belongs: open.belongs.clone(),
                rows: self.rows,
                keys: open.keys.key_batch(open.belongs.keys.clone())?,
                last: open.last.batch().cloned(),
                groups: (0..open.keys.len() as u32)
                    .map(|id| self.stream.save_group(id).unwrap_or_default())
                    .collect(),
            }
            .to_bytes()
        };
        Some(state())
    }

    /// Made with the first chunk: the group columns' types key the groups, and a resumed state
    /// must have been made with the same.
    fn open(&mut self, keep: &[ArrayRef]) -> Result<(), Failure> {
        if self.open.is_some() {
            return Ok(());
        }
        let p = &self.plan;
        let fields = |names: &[String], arrays: &[ArrayRef]| -> SchemaRef {
            Arc::new(Schema::new(
                names
                    .iter()
                    .zip(arrays)
                    .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
                    .collect::<Vec<_>>(),
            ))
        };
        let (key_arrays, kept_arrays) = keep.split_at(p.keys.len().min(keep.len()));
        let key_schema = fields(&p.keys, key_arrays);
        let types: Vec<DataType> = key_arrays.iter().map(|a| a.data_type().clone()).collect();
        let mut keys = GroupKeys::new(p.keys.clone(), &types).map_err(Failure::Input)?;
        let mut last = LastRows::new(fields(&p.kept, kept_arrays));
        let belongs = Belongs {
            flavor: p.flavor.to_string(),
            gaps: p.gaps.as_str().into(),
            column: p.column.clone(),
            periods: p.periods.iter().map(|&x| x as u32).collect(),
            keys: key_schema,
        };
        if let Some(bytes) = &p.resume {
            let saved = JobState::from_bytes(bytes).map_err(Failure::State)?;
            saved.belongs.check(&belongs).map_err(Failure::State)?;
            keys.restore(saved.keys.as_ref(), saved.groups.len())
                .map_err(|e| Failure::State(StateError::Corrupt(e.to_string())))?;
            last.restore(saved.last);
            for (id, group) in saved.groups.iter().enumerate() {
                self.stream
                    .restore_group(id as u32, group)
                    .map_err(Failure::Compute)?;
            }
            self.rows = saved.rows;
        }
        self.open = Some(Open {
            keys,
            last,
            belongs,
        });
        Ok(())
    }
}

impl Step for Groups {
    fn push(
        &mut self,
        rows: Rows<'_>,
        out: &mut [f64],
        validity: &mut Vec<u8>,
        stride: usize,
        extremes: &mut Vec<Extremes>,
    ) -> Result<Vec<usize>, Failure> {
        self.open(rows.keep)?;
        let open = self.open.as_mut().expect("opened above");
        let n = rows.prices.len();
        let lines = self.plan.lines && rows.lines.len() == n;
        let at = |row: usize| match lines {
            true => format!("line {}", rows.lines.get(row)),
            false => format!("row {}", rows.first_row + row as u64 + 1),
        };
        let (keys, kept) = rows
            .keep
            .split_at(self.plan.keys.len().min(rows.keep.len()));
        open.keys
            .ids(keys, n, &mut self.ids)
            .map_err(Failure::Input)?;
        // A resumed input must not repeat rows the state consumed.
        if let Some(r) = open.last.check(&self.ids, kept).map_err(Failure::Input)? {
            let group = match open.keys.name(r.group) {
                "" => String::new(),
                name => format!("{name}: "),
            };
            return Err(Failure::Input(Error::Input(format!(
                "{group}{}: {} {} is not after {}, the last row the state has: the input repeats rows the state already consumed (give --resume only the rows after them)",
                at(r.row),
                r.column,
                r.first,
                r.last
            ))));
        }
        open.last
            .update(&self.ids, kept, open.keys.len())
            .map_err(Failure::Input)?;
        validity.resize(stride * self.plan.periods.len(), 0);
        extremes.resize(self.plan.periods.len(), Extremes::new());
        let nulls =
            match self
                .stream
                .push_marked(&self.ids, rows.prices, out, validity, stride, extremes)
            {
                Ok(nulls) => nulls,
                Err(GroupError::Gap { group, row }) => {
                    return Err(Failure::Input(missing_price(
                        &at(row),
                        open.keys.name(group),
                    )));
                }
            };
        self.rows += n as u64;
        Ok(nulls.into_iter().map(|c| c as usize).collect())
    }

    /// Any group may still turn out short until the input ends; only `strict` must wait for it.
    fn settled(&self, _rows: u64) -> bool {
        !self.plan.strict
    }

    fn longer_chunks(&self) -> bool {
        self.stream.wants_longer_chunks()
    }

    fn scatters(&self) -> bool {
        true
    }
}
