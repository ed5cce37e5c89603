//! napi glue for trendflex-io's pipeline: a whole job (read -> compute -> encode -> write) in one
//! call on the thread pool. No chunk crosses into JS: the job takes the open source, and JS
//! gets back the row count, the whole-input checks, the finished output's summary and,
//! meanwhile, progress counters.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_core::Series;
use trendflex_io::Writer;
use trendflex_io::grouped::{Groups, GroupsPlan};
use trendflex_io::pipeline::{self, Failure as Stage, One, Plan, Progress, Step};
use trendflex_io::readers::{GapMode, Source};
use trendflex_io::state::StateError;

use crate::errors::{Failure, catch_panics, core_error, range_error, take_state, with_state};
use crate::source::NativeSource;
use crate::writer::{FinishTask, WriterOptions, options};
use crate::{parse_flavor, parse_kernel};

/// Groups (`--group-by`), or one series computed as one group for `--state`, `--resume` and
/// `--follow`.
#[napi(object)]
pub struct GroupsOptions {
    /// The group columns' names: the first keep columns of every chunk. None: one series.
    pub keys: Vec<String>,
    /// `error`, `propagate` or `ffill`, applied per group.
    pub gaps: String,
    /// The price column, as the input names it (recorded in a state).
    pub column: String,
    /// The bytes of a state file to continue from (`--resume`).
    pub state: Option<Uint8Array>,
    /// A group too short for a period is an error: a stream's output waits until the end.
    pub strict: bool,
    /// Name rows by their input lines (one CSV input), else by row numbers.
    pub lines: bool,
}

#[napi(object)]
pub struct JobOptions {
    /// The periods, in the order of the result columns.
    pub periods: Vec<u32>,
    pub kernel: String,
    /// `vectorta` (default) or `ehlers`.
    pub flavor: Option<String>,
    /// Threads of the batch kernels; 0: every core.
    pub threads: u32,
    pub chunk_rows: u32,
    /// Rows a chunk may grow to when longer chunks save much time (a grid over the groups of an
    /// interleaved table); none: chunks keep `chunk_rows`.
    pub most_chunk_rows: Option<u32>,
    /// The keep columns' names in the output, as the source hands them out.
    pub keep_names: Vec<String>,
    /// One per period.
    pub result_names: Vec<String>,
    /// The output cannot be taken back (a pipe): hold it until nothing can fail for lack of
    /// data.
    pub hold_until_settled: bool,
    /// A live feed: a signal ends it as the end of its input would (else it stops the job).
    pub follow: bool,
    pub groups: Option<GroupsOptions>,
}

/// How far a running job is.
#[napi(object)]
pub struct JobProgress {
    pub rows_read: f64,
    /// Input bytes read (compressed bytes for .gz and .zst; 0 for Parquet).
    pub bytes_read: f64,
    pub rows_computed: f64,
    pub rows_written: f64,
}

/// A job that read its input to the end.
#[napi(object)]
pub struct JobRun {
    pub rows: f64,
    /// Milliseconds the job's thread waited for the reader, computed, and waited for the writer.
    pub read_wait_ms: f64,
    pub compute_ms: f64,
    pub write_wait_ms: f64,
}

/// A group that cannot give every period a value, and why.
#[napi(object, object_from_js = false)]
pub struct ShortGroup {
    /// Its columns and values, as in "symbol AAPL"; "" for one series.
    pub name: String,
    /// The first failing check, as in "period 231 needs at least 232 valid prices, it has 180"
    /// ("the series has" without group columns).
    pub reason: String,
}

/// What computes the chunks. (One per job: its size does not matter.)
#[allow(clippy::large_enum_variant)]
enum Compute {
    One(One),
    Groups(Groups),
}

#[allow(clippy::large_enum_variant)]
enum State {
    Ready {
        source: Source,
        compute: Compute,
    },
    /// `writer`: until `finishAsync` takes it.
    Ran {
        compute: Compute,
        writer: Option<Writer>,
    },
}

/// One job over an open source: `runAsync` once, then `finish` (the whole-input checks) and
/// `finishAsync` (the output's end), or `abort`.
#[napi]
pub struct NativeJob {
    state: Arc<Mutex<Option<State>>>,
    options: JobOptions,
    progress: Arc<Progress>,
    kernel: String,
    input: String,
    /// The output as the user named it, once the job runs.
    output: Mutex<String>,
}

const BUSY: &str = "the job is running, finished or aborted";

fn gap_mode(env: &Env, gaps: &str) -> Result<GapMode> {
    gaps.parse::<GapMode>()
        .map_err(|e| range_error(env, "ERR_INPUT_OPTIONS", e))
}

fn state_code(e: &StateError) -> &'static str {
    match e {
        StateError::Foreign(_) => "ERR_STATE_FOREIGN",
        StateError::Corrupt(_) => "ERR_STATE_CORRUPT",
        StateError::Mismatch(_) => "ERR_STATE_MISMATCH",
    }
}

#[napi]
impl NativeJob {
    /// Takes `source` (read only by the job from now on) and opens the kernels.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, source: &NativeSource, options: JobOptions) -> Result<Self> {
        let kernel = parse_kernel(&env, &options.kernel)?;
        let flavor = parse_flavor(&env, options.flavor.as_deref())?;
        let periods: Vec<usize> = options.periods.iter().map(|&p| p as usize).collect();
        let threads = options.threads as usize;
        let compute = match &options.groups {
            None => Series::new(&periods, kernel, flavor, threads, None)
                .map(|s| Compute::One(One::new(s, &periods))),
            Some(g) => Groups::new(GroupsPlan {
                periods: periods.clone(),
                kernel,
                flavor,
                threads,
                gaps: gap_mode(&env, &g.gaps)?,
                keys: g.keys.clone(),
                kept: options.keep_names[g.keys.len().min(options.keep_names.len())..].to_vec(),
                column: g.column.clone(),
                resume: g.state.as_ref().map(|s| s.to_vec()),
                strict: g.strict,
                lines: g.lines,
            })
            .map(Compute::Groups),
        }
        .map_err(|e| core_error(&env, &e))?;
        let kernel = match &compute {
            Compute::One(one) => one.series.kernel(),
            Compute::Groups(g) => g.kernel(),
        };
        let (source, input) = source.take(&env)?;
        Ok(NativeJob {
            kernel: kernel.to_string(),
            state: Arc::new(Mutex::new(Some(State::Ready { source, compute }))),
            options,
            progress: Arc::new(Progress::default()),
            input,
            output: Mutex::new(String::new()),
        })
    }

    /// The concrete kernel.
    #[napi(getter)]
    pub fn kernel(&self) -> String {
        self.kernel.clone()
    }

    #[napi]
    pub fn progress(&self) -> JobProgress {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        JobProgress {
            rows_read: get(&self.progress.rows_read),
            bytes_read: get(&self.progress.bytes_read),
            rows_computed: get(&self.progress.rows_computed),
            rows_written: get(&self.progress.rows_written),
        }
    }

    /// Reads the whole input through the kernels into the output, on threads of its own. `fd`:
    /// the output's descriptor, open until `finishAsync` settles or `abort` returns.
    #[napi(catch_unwind, ts_return_type = "Promise<JobRun>")]
    pub fn run_async(
        &self,
        env: Env,
        fd: i32,
        writer: WriterOptions,
    ) -> Result<AsyncTask<RunTask>> {
        let opts = self::options(&env, &writer)?;
        let state = take_state(&env, &self.state, BUSY)?;
        let State::Ready { source, compute } = state else {
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
            return Err(range_error(
                &env,
                "ERR_BUSY",
                "the job has run already".into(),
            ));
        };
        let o = &self.options;
        let plan = Plan {
            periods: o.periods.iter().map(|&p| p as usize).collect(),
            result_names: o.result_names.clone(),
            keep_names: o.keep_names.clone(),
            chunk_rows: o.chunk_rows.max(1) as usize,
            most_chunk_rows: o.most_chunk_rows.unwrap_or(0).max(o.chunk_rows).max(1) as usize,
            metadata: writer.metadata.clone().unwrap_or_default(),
            writer: opts,
            fd,
            hold_until_settled: o.hold_until_settled,
            stop_on_signal: !o.follow,
        };
        *self.output.lock().unwrap_or_else(|e| e.into_inner()) = writer.name.clone();
        Ok(AsyncTask::new(RunTask {
            home: self.state.clone(),
            work: Some((source, compute)),
            plan,
            progress: self.progress.clone(),
            input: self.input.clone(),
            output: writer.name,
            failure: Failure::default(),
        }))
    }

    /// The whole-input checks, once the job has run. One series: throws when it has no price,
    /// or too few for a period. Groups: the groups that cannot give every period a value.
    #[napi(catch_unwind)]
    pub fn finish(&self, env: Env) -> Result<Vec<ShortGroup>> {
        with_state(&env, &self.state, BUSY, |state| match state {
            State::Ran {
                compute: Compute::One(one),
                ..
            } => one
                .series
                .finish()
                .map(|()| Vec::new())
                .map_err(|e| core_error(&env, &e)),
            State::Ran {
                compute: Compute::Groups(g),
                ..
            } => Ok(g
                .finish()
                .into_iter()
                .map(|s| ShortGroup {
                    name: s.name,
                    reason: s.reason,
                })
                .collect()),
            State::Ready { .. } => Err(range_error(
                &env,
                "ERR_BUSY",
                "the job has not run yet".into(),
            )),
        })
    }

    /// Groups seen (0 for one series).
    #[napi(getter)]
    pub fn groups(&self) -> u32 {
        match self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(State::Ran {
                compute: Compute::Groups(g),
                ..
            }) => g.groups() as u32,
            _ => 0,
        }
    }

    /// The bytes of a state file with every group's state, once the job has run and saw a row;
    /// else null.
    #[napi(catch_unwind)]
    pub fn save_state(&self, env: Env) -> Result<Option<Buffer>> {
        with_state(&env, &self.state, BUSY, |state| match state {
            State::Ran {
                compute: Compute::Groups(g),
                ..
            } => g
                .save_state()
                .transpose()
                .map(|b| b.map(Buffer::from))
                .map_err(|e| range_error(&env, "ERR_STATE", e.to_string())),
            _ => Ok(None),
        })
    }

    /// Ends the output (Parquet: the footer with `metadata`) and lets everything out.
    #[napi(catch_unwind, ts_return_type = "Promise<WriteSummary>")]
    pub fn finish_async(
        &self,
        env: Env,
        metadata: HashMap<String, String>,
    ) -> Result<AsyncTask<FinishTask>> {
        match take_state(&env, &self.state, BUSY)? {
            State::Ran {
                writer: Some(writer),
                compute,
            } => {
                // The groups stay for `saveState`, which comes once the output is finished.
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State::Ran {
                    compute,
                    writer: None,
                });
                Ok(AsyncTask::new(FinishTask::new(
                    writer,
                    self.output
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                    metadata,
                )))
            }
            ready => {
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(ready);
                Err(range_error(
                    &env,
                    "ERR_BUSY",
                    "the job has not run, or its output is finished".into(),
                ))
            }
        }
    }

    /// Stops without finishing (waits for the encoders); the caller discards the output.
    #[napi(catch_unwind)]
    pub fn abort(&self) {
        drop(self.state.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

pub struct RunTask {
    home: Arc<Mutex<Option<State>>>,
    work: Option<(Source, Compute)>,
    plan: Plan,
    progress: Arc<Progress>,
    input: String,
    output: String,
    failure: Failure,
}

impl RunTask {
    /// Runs the pipeline with `step`; what it gives back, or the error for JS.
    fn run<S: Step>(&mut self, source: Source, step: S) -> Result<(S, Writer, JobRun)> {
        let done =
            pipeline::run(source, step, &self.plan, &self.progress).map_err(|e| match e {
                Stage::Input(e) => self.failure.input(&self.input, e),
                Stage::Compute(e) => self.failure.core(e),
                Stage::Output(e) => self.failure.output(&self.output, e),
                Stage::State(e) => self.failure.coded(state_code(&e), e.to_string()),
                Stage::Stopped => self.failure.input(
                    &self.input,
                    trendflex_io::Error::Input("reading was stopped (a signal)".into()),
                ),
            })?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let run = JobRun {
            rows: done.rows as f64,
            read_wait_ms: ms(done.timings.read_wait),
            compute_ms: ms(done.timings.compute),
            write_wait_ms: ms(done.timings.write_wait),
        };
        Ok((done.step, done.writer, run))
    }
}

#[napi]
impl Task for RunTask {
    type Output = JobRun;
    type JsValue = JobRun;

    fn compute(&mut self) -> Result<JobRun> {
        catch_panics(|| {
            crate::errors::failpoint("job");
            let (source, compute) = self.work.take().expect("a run task carries the job");
            let (compute, writer, run) = match compute {
                Compute::One(one) => {
                    let (one, writer, run) = self.run(source, one)?;
                    (Compute::One(one), writer, run)
                }
                Compute::Groups(groups) => {
                    let (groups, writer, run) = self.run(source, groups)?;
                    (Compute::Groups(groups), writer, run)
                }
            };
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(State::Ran {
                compute,
                writer: Some(writer),
            });
            Ok(run)
        })
    }

    fn resolve(&mut self, _env: Env, run: JobRun) -> Result<JobRun> {
        Ok(run)
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<JobRun> {
        Err(self.failure.reject(&env, err))
    }
}
