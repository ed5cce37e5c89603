//! napi glue for `--group-by`: the group columns of each chunk (Arrow buffers borrowed from JS)
//! become group ids, every group is computed by its own stream in the core (in parallel), and the
//! results' validity (missing = NaN) is written into the caller's bitmaps.

use std::sync::{Arc, Mutex};

use arrow_schema::{Field, Schema, SchemaRef};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_core::gaps::GapMode;
use trendflex_core::{GroupError, GroupedStream};
use trendflex_io::groups::{GroupKeys, LastRows, nan_validity};
use trendflex_io::state::{Belongs, JobState, StateError as JobStateError};
use trendflex_io::{ColumnBytes, Loan};

use crate::errors::{Failure, catch_panics, core_error, range_error, take_state, with_state};
use crate::types::data_type;
use crate::writer::{ColumnBuffers, WriterField};
use crate::{parse_flavor, parse_kernel};

/// What a push tells: each period's null count (its bitmap is in `validity`) and the groups so far.
#[napi(object, object_from_js = false)]
pub struct GroupedPush {
    pub null_counts: Vec<u32>,
    pub groups: u32,
}

/// A group that cannot give every period a value, and why.
#[napi(object, object_from_js = false)]
pub struct ShortGroup {
    /// Its columns and values, as in "symbol AAPL".
    pub name: String,
    /// The first failing check, as in "period 231 needs at least 232 valid prices, input has 180".
    pub reason: String,
}

struct State {
    stream: GroupedStream,
    keys: GroupKeys,
    ids: Vec<u32>,
    /// Rows consumed, over every run of a resumed state too.
    rows: u64,
    /// Each group's last row in the other keep columns, for a saved state.
    last: LastRows,
}

/// Why a grouped stream refuses a call while a push runs.
const BUSY: &str = "the grouped stream is busy with a push; await it first";

/// TrendFlex of every group of a table that arrives in chunks. One call at a time.
#[napi]
pub struct NativeGroupedStream {
    state: Arc<Mutex<Option<State>>>,
    /// The group columns, then the other keep columns.
    schema: SchemaRef,
    key_columns: usize,
    periods: usize,
    kernel: String,
    /// What a saved state belongs to.
    belongs: Belongs,
}

fn state_error(env: &Env, e: &JobStateError) -> Error {
    let code = match e {
        JobStateError::Foreign(_) => "ERR_STATE_FOREIGN",
        JobStateError::Corrupt(_) => "ERR_STATE_CORRUPT",
        JobStateError::Mismatch(_) => "ERR_STATE_MISMATCH",
    };
    range_error(env, code, e.to_string())
}

fn gap_mode(env: &Env, gaps: &str) -> Result<GapMode> {
    Ok(match gaps {
        "error" => GapMode::Error,
        "propagate" => GapMode::Propagate,
        "ffill" => GapMode::Ffill,
        other => {
            return Err(range_error(
                env,
                "ERR_INPUT_OPTIONS",
                format!("unknown gaps mode '{other}'"),
            ));
        }
    })
}

#[napi]
impl NativeGroupedStream {
    /// `keys`: the group columns, with the types the reader gives them (none: the whole input is
    /// one series); `kept`: the other keep columns, whose last row per group a saved state
    /// holds. `flavor`: `vectorta` (default) or `ehlers`. `column`: the price column, and
    /// `state`: the bytes of a state file to continue from (`saveState` made them), refused unless
    /// made with the same periods, flavour, gaps mode, price column and group columns.
    #[napi(catch_unwind, constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: Env,
        periods: Vec<u32>,
        kernel: String,
        threads: u32,
        gaps: String,
        keys: Vec<WriterField>,
        flavor: Option<String>,
        column: Option<String>,
        state: Option<Uint8Array>,
        kept: Option<Vec<WriterField>>,
    ) -> Result<Self> {
        let kernel = parse_kernel(&env, &kernel)?;
        let flavor = parse_flavor(&env, flavor.as_deref())?;
        let period_list = periods.clone();
        let periods: Vec<usize> = periods.into_iter().map(|p| p as usize).collect();
        let gaps_name = gaps.clone();
        let gaps = gap_mode(&env, &gaps)?;
        let mut stream =
            GroupedStream::with_flavor(&periods, kernel, flavor, gaps, threads as usize)
                .map_err(|e| core_error(&env, &e))?;
        let field = |k: &WriterField, what: &str| {
            data_type(&k.data_type)
                .map(|t| Field::new(&k.name, t, true))
                .ok_or_else(|| {
                    range_error(
                        &env,
                        "ERR_GROUP_BY",
                        format!("column {} of type {} cannot {what}", k.name, k.data_type),
                    )
                })
        };
        let fields = keys
            .iter()
            .map(|k| field(k, "group rows"))
            .collect::<Result<Vec<_>>>()?;
        let kept = kept
            .unwrap_or_default()
            .iter()
            .map(|k| field(k, "be kept in a state"))
            .collect::<Result<Vec<_>>>()?;
        let key_columns = fields.len();
        let all = Arc::new(Schema::new([fields.clone(), kept.clone()].concat()));
        let mut last = LastRows::new(Arc::new(Schema::new(kept)));
        let schema = Arc::new(Schema::new(fields));
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let names = keys.into_iter().map(|k| k.name).collect();
        let mut keys = GroupKeys::new(names, &types)
            .map_err(|e| range_error(&env, "ERR_GROUP_BY", e.to_string()))?;
        let belongs = Belongs {
            flavor: flavor.to_string(),
            gaps: gaps_name,
            column: column.unwrap_or_default(),
            periods: period_list,
            keys: schema.clone(),
        };
        let mut rows = 0;
        if let Some(bytes) = state {
            let saved = JobState::from_bytes(&bytes).map_err(|e| state_error(&env, &e))?;
            saved
                .belongs
                .check(&belongs)
                .map_err(|e| state_error(&env, &e))?;
            keys.restore(saved.keys.as_ref(), saved.groups.len())
                .map_err(|e| range_error(&env, "ERR_STATE_CORRUPT", e.to_string()))?;
            last.restore(saved.last);
            for (id, group) in saved.groups.iter().enumerate() {
                stream
                    .restore_group(id as u32, group)
                    .map_err(|e| core_error(&env, &e))?;
            }
            rows = saved.rows;
        }
        Ok(NativeGroupedStream {
            kernel: stream.kernel().to_string(),
            state: Arc::new(Mutex::new(Some(State {
                stream,
                keys,
                ids: Vec::new(),
                rows,
                last,
            }))),
            schema: all,
            key_columns,
            belongs,
            periods: periods.len(),
        })
    }

    /// The concrete kernel.
    #[napi(getter)]
    pub fn kernel(&self) -> String {
        self.kernel.clone()
    }

    /// Computes one chunk on the thread pool: `keep` (the group columns, then the other keep
    /// columns, as the constructor was told them), `prices` (changed in
    /// place by `--gaps ffill`), results into `out` (row-major, periods x rows), each period's
    /// validity into `validity` (`stride` bytes per period). `lines`: the input line of each row,
    /// for messages (else rows are numbered from `firstRow`). Leave the arrays alone until the
    /// promise settles.
    #[napi(catch_unwind, ts_return_type = "Promise<GroupedPush>")]
    #[allow(clippy::too_many_arguments)]
    pub fn push_async(
        &self,
        env: Env,
        keep: Vec<ColumnBuffers>,
        prices: Float64Array,
        out: Float64Array,
        validity: Uint8Array,
        stride: u32,
        first_row: f64,
        lines: Option<Float64Array>,
        name: String,
    ) -> Result<AsyncTask<PushGroups>> {
        let state = take_state(
            &env,
            &self.state,
            "the grouped stream is busy with an earlier push; await it first",
        )?;
        if out.len() != self.periods * prices.len()
            || validity.len() < self.periods * stride as usize
        {
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
            return Err(range_error(
                &env,
                "ERR_OUTPUT_LENGTH",
                "out or validity do not fit the chunk".into(),
            ));
        }
        Ok(AsyncTask::new(PushGroups {
            home: self.state.clone(),
            state: Some(state),
            schema: self.schema.clone(),
            keep,
            key_columns: self.key_columns,
            prices,
            out,
            validity,
            stride: stride as usize,
            first_row: first_row as u64,
            lines,
            name,
            failure: Failure::default(),
        }))
    }

    /// The groups that cannot give every period a value (too few valid prices, or none), and how
    /// many groups there were.
    #[napi(catch_unwind)]
    pub fn finish(&self, env: Env) -> Result<Vec<ShortGroup>> {
        with_state(&env, &self.state, BUSY, |state| {
            Ok(state
                .stream
                .finish()
                .into_iter()
                .map(|r| ShortGroup {
                    name: state.keys.name(r.group).to_string(),
                    reason: r.error.to_string(),
                })
                .collect())
        })
    }

    /// Everything every group needs to continue in a later run, bit for bit, with what the state
    /// belongs to: the bytes of a state file, for the constructor's `state`.
    #[napi(catch_unwind)]
    pub fn save_state(&self, env: Env) -> Result<Buffer> {
        let failed = |e: trendflex_io::Error| range_error(&env, "ERR_STATE", e.to_string());
        with_state(&env, &self.state, BUSY, |state| {
            let job = JobState {
                belongs: self.belongs.clone(),
                rows: state.rows,
                keys: state
                    .keys
                    .key_batch(self.belongs.keys.clone())
                    .map_err(failed)?,
                last: state.last.batch().cloned(),
                groups: (0..state.keys.len() as u32)
                    .map(|id| state.stream.save_group(id).unwrap_or_default())
                    .collect(),
            };
            job.to_bytes().map(Buffer::from).map_err(failed)
        })
    }

    /// Groups seen so far.
    #[napi(getter)]
    pub fn groups(&self) -> u32 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |s| s.keys.len() as u32)
    }
}

pub struct PushGroups {
    home: Arc<Mutex<Option<State>>>,
    state: Option<State>,
    schema: SchemaRef,
    /// The group columns first, then the other keep columns.
    keep: Vec<ColumnBuffers>,
    key_columns: usize,
    prices: Float64Array,
    out: Float64Array,
    validity: Uint8Array,
    stride: usize,
    first_row: u64,
    lines: Option<Float64Array>,
    name: String,
    failure: Failure,
}

#[napi]
impl Task for PushGroups {
    type Output = (Vec<u32>, u32);
    type JsValue = GroupedPush;

    fn compute(&mut self) -> Result<(Vec<u32>, u32)> {
        catch_panics(|| {
            let state = self.state.as_mut().expect("a push carries the state");
            let n = self.prices.len();
            let at = |row: usize, lines: &Option<Float64Array>| match lines {
                Some(lines) => format!("line {}", lines[row]),
                None => format!("row {}", self.first_row + row as u64 + 1),
            };
            let bytes: Vec<ColumnBytes<'_>> = self.keep.iter().map(ColumnBuffers::bytes).collect();
            let loan = Loan::new();
            // The chunk's group ids; then, for the keep columns after the group columns, the
            // check that a resumed input does not repeat rows, and each group's last row.
            let keyed = (|| -> std::result::Result<Option<String>, trendflex_io::Error> {
                if bytes.is_empty() {
                    state.keys.ids(&[], n, &mut state.ids)?; // one series: every row in group 0
                    return Ok(None);
                }
                // SAFETY: the task holds references to every typed array until it settles, which
                // is after `loan` and the batch made over them are dropped at the end of this
                // block (`update` copies what it keeps); the JS side leaves them alone meanwhile
                // (documented on `pushAsync`).
                let batch =
                    unsafe { trendflex_io::borrowed_batch(&loan, &self.schema, &bytes, n) }?;
                let (keys, kept) = batch.columns().split_at(self.key_columns);
                state.keys.ids(keys, n, &mut state.ids)?;
                if let Some(r) = state.last.check(&state.ids, kept)? {
                    let group = state.keys.name(r.group);
                    let group = if group.is_empty() {
                        String::new()
                    } else {
                        format!("{group}: ")
                    };
                    return Ok(Some(format!(
                        "{group}{}: {} {} is not after {}, the last row the state has: the input repeats rows the state already consumed (give --resume only the rows after them)",
                        at(r.row, &self.lines),
                        r.column,
                        r.first,
                        r.last
                    )));
                }
                state.last.update(&state.ids, kept, state.keys.len())?;
                Ok(None)
            })();
            drop(loan);
            match keyed {
                Err(e) => return Err(self.failure.input(&self.name, e)),
                Ok(Some(repeat)) => {
                    return Err(self
                        .failure
                        .input(&self.name, trendflex_io::Error::Input(repeat)));
                }
                Ok(None) => {}
            }
            // SAFETY: as above; `prices`, `out` and `validity` are distinct typed arrays (the JS side
            // allocates them apart) and nothing else in this task refers to their bytes.
            let (prices, out, validity) = unsafe {
                (
                    self.prices.as_mut(),
                    self.out.as_mut(),
                    self.validity.as_mut(),
                )
            };
            if let Err(GroupError::Gap { group, row }) = state.stream.push(&state.ids, prices, out)
            {
                let at = at(row, &self.lines);
                let message = if state.keys.name(group).is_empty() {
                    format!(
                        "{at}: missing price after the first valid one (--gaps error); use --gaps ffill to carry the last price forward, or --gaps propagate"
                    )
                } else {
                    format!(
                        "{}: {at}: missing price after the group's first valid one (--gaps error); use --gaps ffill to carry its last price forward, or --gaps propagate",
                        state.keys.name(group)
                    )
                };
                return Err(self
                    .failure
                    .input(&self.name, trendflex_io::Error::Input(message)));
            }
            state.rows += n as u64;
            let nulls = nan_validity(out, n, validity, self.stride);
            Ok((nulls, state.keys.len() as u32))
        })
    }

    fn resolve(
        &mut self,
        _env: Env,
        (null_counts, groups): (Vec<u32>, u32),
    ) -> Result<GroupedPush> {
        Ok(GroupedPush {
            null_counts,
            groups,
        })
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<GroupedPush> {
        Err(self.failure.reject(&env, err))
    }
}

impl Drop for PushGroups {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        }
    }
}
