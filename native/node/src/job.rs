//! napi glue for trendflex-io's pipeline: a whole job (read -> compute -> encode -> write) in one
//! call on the thread pool. No chunk crosses into JS: the job takes the open source, and JS
//! gets back the row count, the finished output's summary and, meanwhile, progress counters.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use trendflex_core::Series;
use trendflex_io::Writer;
use trendflex_io::pipeline::{self, Done, Failure as Stage, Plan, Progress};
use trendflex_io::readers::Source;

use crate::errors::{Failure, catch_panics, core_error, range_error, take_state, with_state};
use crate::source::NativeSource;
use crate::writer::{FinishTask, WriterOptions, options};
use crate::{parse_flavor, parse_kernel};

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
    /// The keep columns' names in the output, as the source hands them out.
    pub keep_names: Vec<String>,
    /// One per period.
    pub result_names: Vec<String>,
    /// The output cannot be taken back (a pipe): hold it until no period can fail for lack of
    /// data.
    pub hold_until_settled: bool,
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
    /// Row of the first valid price, once there was one.
    pub first_valid: Option<f64>,
    /// Milliseconds the job's thread waited for the reader, computed, and waited for the writer.
    pub read_wait_ms: f64,
    pub compute_ms: f64,
    pub write_wait_ms: f64,
}

enum State {
    Ready { source: Source, series: Series },
    Ran { series: Series, writer: Writer },
}

/// One job over an open source: `runAsync` once, then `finish` (the whole-series checks) and
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

#[napi]
impl NativeJob {
    /// Takes `source` (read only by the job from now on) and opens the kernels.
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, source: &NativeSource, options: JobOptions) -> Result<Self> {
        let kernel = parse_kernel(&env, &options.kernel)?;
        let flavor = parse_flavor(&env, options.flavor.as_deref())?;
        let periods: Vec<usize> = options.periods.iter().map(|&p| p as usize).collect();
        let series = Series::new(&periods, kernel, flavor, options.threads as usize, None)
            .map_err(|e| core_error(&env, &e))?;
        let (source, input) = source.take(&env)?;
        Ok(NativeJob {
            kernel: series.kernel().to_string(),
            state: Arc::new(Mutex::new(Some(State::Ready { source, series }))),
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
        let State::Ready { source, series } = state else {
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
            metadata: writer.metadata.clone().unwrap_or_default(),
            writer: opts,
            fd,
            hold_until_settled: o.hold_until_settled,
        };
        *self.output.lock().unwrap_or_else(|e| e.into_inner()) = writer.name.clone();
        Ok(AsyncTask::new(RunTask {
            home: self.state.clone(),
            work: Some((source, series)),
            plan,
            progress: self.progress.clone(),
            input: self.input.clone(),
            output: writer.name,
            failure: Failure::default(),
        }))
    }

    /// The whole-series checks of the error table (empty input, no valid price, too few prices
    /// for a period), once the job has run.
    #[napi(catch_unwind)]
    pub fn finish(&self, env: Env) -> Result<()> {
        with_state(&env, &self.state, BUSY, |state| match state {
            State::Ran { series, .. } => series.finish().map_err(|e| core_error(&env, &e)),
            State::Ready { .. } => Err(range_error(
                &env,
                "ERR_BUSY",
                "the job has not run yet".into(),
            )),
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
            State::Ran { writer, .. } => Ok(AsyncTask::new(FinishTask::new(
                writer,
                self.output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
                metadata,
            ))),
            ready => {
                *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(ready);
                Err(range_error(
                    &env,
                    "ERR_BUSY",
                    "the job has not run yet".into(),
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
    work: Option<(Source, Series)>,
    plan: Plan,
    progress: Arc<Progress>,
    input: String,
    output: String,
    failure: Failure,
}

#[napi]
impl Task for RunTask {
    type Output = JobRun;
    type JsValue = JobRun;

    fn compute(&mut self) -> Result<JobRun> {
        catch_panics(|| {
            crate::errors::failpoint("job");
            let (source, series) = self.work.take().expect("a run task carries the job");
            let done =
                pipeline::run(source, series, &self.plan, &self.progress).map_err(|e| match e {
                    Stage::Input(e) => self.failure.input(&self.input, e),
                    Stage::Compute(e) => self.failure.core(e),
                    Stage::Output(e) => self.failure.output(&self.output, e),
                    Stage::Stopped => self.failure.input(
                        &self.input,
                        trendflex_io::Error::Input("reading was stopped (a signal)".into()),
                    ),
                })?;
            let Done {
                series,
                writer,
                rows,
                first_valid,
                timings,
                ..
            } = done;
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(State::Ran { series, writer });
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            Ok(JobRun {
                rows: rows as f64,
                first_valid: first_valid.map(|r| r as f64),
                read_wait_ms: ms(timings.read_wait),
                compute_ms: ms(timings.compute),
                write_wait_ms: ms(timings.write_wait),
            })
        })
    }

    fn resolve(&mut self, _env: Env, run: JobRun) -> Result<JobRun> {
        Ok(run)
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<JobRun> {
        Err(self.failure.reject(&env, err))
    }
}
