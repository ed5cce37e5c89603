//! Node binding of trendflex-core. Thin on purpose: check arguments, borrow the caller's typed
//! arrays (inputs read in place, outputs written in place), call the core, map its errors in one
//! function. The math lives in `trendflex-core`; the friendly JS API is `src/index.ts`.

mod errors;
mod job;
mod source;
mod writer;

use std::sync::{Arc, Mutex};

use errors::{Failure, catch_panics, core_error, range_error, take_state, with_state};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use trendflex_core::{self as core, Flavor, Kernel};

/// `(fraction) => void`, called on the JS thread; weak, so it never keeps the process alive.
type Progress = ThreadsafeFunction<f64, (), f64, Status, false, true>;

pub(crate) fn parse_kernel(env: &Env, name: &str) -> Result<Kernel> {
    name.parse::<Kernel>().map_err(|e| core_error(env, &e))
}

/// `vectorta` (also when absent) or `ehlers`; anything else is `ERR_UNKNOWN_FLAVOR`.
pub(crate) fn parse_flavor(env: &Env, name: Option<&str>) -> Result<Flavor> {
    name.map_or(Ok(Flavor::VectorTa), |n| {
        n.parse::<Flavor>().map_err(|e| core_error(env, &e))
    })
}

/// Refuses an output that shares bytes with the input, before any Rust reference to the output
/// exists (an overlapping `&[f64]` and `&mut [f64]` would be undefined behaviour).
fn check_disjoint(env: &Env, prices: &[f64], out_ptr: *const f64, out_len: usize) -> Result<()> {
    let (a0, a1) = (
        prices.as_ptr() as usize,
        prices.as_ptr() as usize + prices.len() * 8,
    );
    let (b0, b1) = (out_ptr as usize, out_ptr as usize + out_len * 8);
    if !prices.is_empty() && out_len > 0 && a0 < b1 && b0 < a1 {
        return Err(range_error(
            env,
            "ERR_OVERLAP",
            "out must not overlap prices".into(),
        ));
    }
    Ok(())
}

/// TrendFlex of `period` over `prices`, written into `out` (same length) in place. `flavor`:
/// `vectorta` (default) or `ehlers`.
#[napi(catch_unwind)]
pub fn trendflex_into(
    env: Env,
    prices: Float64ArraySlice,
    period: u32,
    kernel: String,
    mut out: Float64ArraySlice,
    flavor: Option<String>,
) -> Result<()> {
    check_disjoint(&env, &prices, out.as_ptr(), out.len())?;
    let kernel = parse_kernel(&env, &kernel)?;
    let flavor = parse_flavor(&env, flavor.as_deref())?;
    // SAFETY: `out` is a live typed array for the duration of this synchronous call and does not
    // overlap `prices` (checked above), so this is the only reference to its bytes.
    let out = unsafe { out.as_mut() };
    core::trendflex_into_with_flavor(&prices, period as usize, kernel, flavor, out)
        .map_err(|e| core_error(&env, &e))
}

/// TrendFlex of every period over `prices`, into `out` row-major (`periods.length` rows of
/// `prices.length`), in place. `threads`: 0 = all cores. `flavor`: `vectorta` (default) or
/// `ehlers`.
#[napi(catch_unwind)]
pub fn trendflex_batch_into(
    env: Env,
    prices: Float64ArraySlice,
    periods: Vec<u32>,
    kernel: String,
    threads: u32,
    mut out: Float64ArraySlice,
    flavor: Option<String>,
) -> Result<()> {
    check_disjoint(&env, &prices, out.as_ptr(), out.len())?;
    let kernel = parse_kernel(&env, &kernel)?;
    let flavor = parse_flavor(&env, flavor.as_deref())?;
    let periods: Vec<usize> = periods.into_iter().map(|p| p as usize).collect();
    // SAFETY: as in `trendflex_into`: live for this call, disjoint from `prices`.
    let out = unsafe { out.as_mut() };
    core::trendflex_batch_into_with_flavor(&prices, &periods, kernel, flavor, threads as usize, out)
        .map_err(|e| core_error(&env, &e))
}

enum Job {
    Single(usize),
    Batch { periods: Vec<usize>, threads: usize },
}

/// A one-shot computation on the libuv thread pool, writing into the caller's `out`.
pub struct ComputeTask {
    prices: Float64Array,
    out: Float64Array,
    kernel: Kernel,
    flavor: Flavor,
    job: Job,
    progress: Option<Progress>,
    failure: Failure,
}

#[napi]
impl Task for ComputeTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        catch_panics(|| {
            let ComputeTask {
                prices,
                out,
                kernel,
                flavor,
                job,
                progress,
                failure,
            } = self;
            // SAFETY: the task holds references to both typed arrays, so their buffers stay alive
            // until it settles; they were checked disjoint when the task was made. The JS API
            // documents that the caller must not touch `out` until the promise settles.
            let out = unsafe { out.as_mut() };
            let result = match job {
                Job::Single(period) => {
                    core::trendflex_into_with_flavor(prices, *period, *kernel, *flavor, out)
                }
                Job::Batch { periods, threads } => core::trendflex_batch_into_with_progress(
                    prices,
                    periods,
                    *kernel,
                    *flavor,
                    *threads,
                    out,
                    |done, total| {
                        if let Some(p) = progress {
                            p.call(
                                done as f64 / total as f64,
                                ThreadsafeFunctionCallMode::NonBlocking,
                            );
                        }
                    },
                ),
            };
            result.map_err(|e| failure.core(e))
        })
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<()> {
        Err(self.failure.reject(&env, err))
    }
}

fn compute_task(
    env: &Env,
    prices: Float64Array,
    out: Float64Array,
    kernel: &str,
    flavor: Option<&str>,
    job: Job,
    progress: Option<Progress>,
) -> Result<AsyncTask<ComputeTask>> {
    check_disjoint(env, &prices, out.as_ptr(), out.len())?;
    let kernel = parse_kernel(env, kernel)?;
    let flavor = parse_flavor(env, flavor)?;
    Ok(AsyncTask::new(ComputeTask {
        prices,
        out,
        kernel,
        flavor,
        job,
        progress,
        failure: Failure::default(),
    }))
}

/// `trendflexInto` on the libuv thread pool; resolves when `out` is filled.
#[napi(catch_unwind)]
pub fn trendflex_into_async(
    env: Env,
    prices: Float64Array,
    period: u32,
    kernel: String,
    out: Float64Array,
    flavor: Option<String>,
) -> Result<AsyncTask<ComputeTask>> {
    compute_task(
        &env,
        prices,
        out,
        &kernel,
        flavor.as_deref(),
        Job::Single(period as usize),
        None,
    )
}

/// `trendflexBatchInto` on the libuv thread pool; `onProgress(fraction)` is called as blocks of
/// prices finish. `flavor`: `vectorta` (default) or `ehlers`.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn trendflex_batch_into_async(
    env: Env,
    prices: Float64Array,
    periods: Vec<u32>,
    kernel: String,
    threads: u32,
    out: Float64Array,
    // Spelled out, not `Progress`: an alias would leak into the generated .d.ts undefined.
    on_progress: Option<ThreadsafeFunction<f64, (), f64, Status, false, true>>,
    flavor: Option<String>,
) -> Result<AsyncTask<ComputeTask>> {
    let periods = periods.into_iter().map(|p| p as usize).collect();
    let job = Job::Batch {
        periods,
        threads: threads as usize,
    };
    compute_task(
        &env,
        prices,
        out,
        &kernel,
        flavor.as_deref(),
        job,
        on_progress,
    )
}

/// One kernel this CPU cannot run, and the first feature it lacks.
#[napi(object)]
pub struct UnavailableKernel {
    pub name: String,
    pub missing: String,
}

/// What the CPU offers and what `auto` resolves to.
#[napi(object)]
pub struct KernelInfo {
    /// Kernels this CPU runs, slowest first.
    pub available: Vec<String>,
    /// What `auto` picks now (the fastest, or what `TRENDFLEX_KERNEL` names).
    pub auto: String,
    /// The fastest available kernel, ignoring `TRENDFLEX_KERNEL`.
    pub best: String,
    /// The value of `TRENDFLEX_KERNEL`, if set.
    pub env_override: Option<String>,
    /// CPU features that matter for the kernels, that this CPU has.
    pub features: Vec<String>,
    pub unavailable: Vec<UnavailableKernel>,
}

/// Kernels this CPU runs and which one `auto` picks.
#[napi(catch_unwind)]
pub fn kernel_info(env: Env) -> Result<KernelInfo> {
    let auto = core::resolve(Kernel::Auto).map_err(|e| core_error(&env, &e))?;
    Ok(KernelInfo {
        available: core::available_kernels()
            .iter()
            .map(|k| k.to_string())
            .collect(),
        auto: auto.to_string(),
        best: core::best_kernel().to_string(),
        env_override: core::kernel_override().map(String::from),
        features: core::cpu_features().iter().map(|f| f.to_string()).collect(),
        unavailable: [Kernel::Avx2, Kernel::Avx512]
            .into_iter()
            .filter_map(|k| {
                core::missing_feature(k).map(|f| UnavailableKernel {
                    name: k.to_string(),
                    missing: f.into(),
                })
            })
            .collect(),
    })
}

/// Pushes one chunk on the libuv thread pool; the stream's state travels with the task and is
/// handed back when it settles (also on failure).
pub struct PushTask {
    home: Arc<Mutex<Option<core::Series>>>,
    state: Option<core::Series>,
    prices: Float64Array,
    out: Float64Array,
    failure: Failure,
}

#[napi]
impl Task for PushTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        catch_panics(|| {
            // SAFETY: the task references both arrays (kept alive until it settles); they were
            // checked disjoint when it was made, and the JS API documents not touching `out` meanwhile.
            let out = unsafe { self.out.as_mut() };
            let state = self
                .state
                .as_mut()
                .expect("a push task always carries the state");
            state
                .push(&self.prices, out)
                .map_err(|e| self.failure.core(e))
        })
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<()> {
        Err(self.failure.reject(&env, err))
    }
}

impl Drop for PushTask {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            *self.home.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        }
    }
}

/// TrendFlex over a series that arrives in chunks: one period (single kernel path) or many
/// (batch, row-major output per chunk). Memory is bounded by the periods, not the series.
#[napi]
pub struct NativeStream {
    state: Arc<Mutex<Option<core::Series>>>,
    kernel: Kernel,
    flavor: Flavor,
    threads: u32,
}

#[napi]
impl NativeStream {
    /// `periods`: one period, or several (rows in this order). `threads`: 0 = all cores.
    /// `flavor`: `vectorta` (default) or `ehlers`. `state`: bytes `saveState` gave, to continue
    /// from (refused unless made by a stream of the same periods and flavour).
    #[napi(catch_unwind, constructor)]
    pub fn new(
        env: Env,
        periods: Vec<u32>,
        kernel: String,
        threads: u32,
        flavor: Option<String>,
        state: Option<Uint8Array>,
    ) -> Result<Self> {
        let kernel = parse_kernel(&env, &kernel)?;
        let flavor = parse_flavor(&env, flavor.as_deref())?;
        let periods: Vec<usize> = periods.into_iter().map(|p| p as usize).collect();
        let state = core::Series::new(&periods, kernel, flavor, threads as usize, state.as_deref())
            .map_err(|e| core_error(&env, &e))?;
        let (kernel, threads) = (state.kernel(), state.threads() as u32);
        Ok(NativeStream {
            state: Arc::new(Mutex::new(Some(state))),
            kernel,
            flavor,
            threads,
        })
    }

    /// The concrete kernel computing this stream.
    #[napi(getter)]
    pub fn kernel(&self) -> String {
        self.kernel.to_string()
    }

    /// The flavour computed: `vectorta` or `ehlers`.
    #[napi(getter)]
    pub fn flavor(&self) -> String {
        self.flavor.to_string()
    }

    /// Worker threads per chunk.
    #[napi(getter)]
    pub fn threads(&self) -> u32 {
        self.threads
    }

    fn take(&self, env: &Env) -> Result<core::Series> {
        take_state(
            env,
            &self.state,
            "the stream is busy with an earlier pushAsync; await it first",
        )
    }

    /// Feeds the next chunk synchronously; `out` receives `rows * prices.length` values.
    #[napi(catch_unwind)]
    pub fn push(
        &self,
        env: Env,
        prices: Float64ArraySlice,
        mut out: Float64ArraySlice,
    ) -> Result<()> {
        check_disjoint(&env, &prices, out.as_ptr(), out.len())?;
        let mut state = self.take(&env)?;
        // SAFETY: live for this synchronous call and disjoint from `prices` (checked above).
        let result = state.push(&prices, unsafe { out.as_mut() });
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        result.map_err(|e| core_error(&env, &e))
    }

    /// Feeds the next chunk on the libuv thread pool. Await it before the next push.
    #[napi(catch_unwind)]
    pub fn push_async(
        &self,
        env: Env,
        prices: Float64Array,
        out: Float64Array,
    ) -> Result<AsyncTask<PushTask>> {
        check_disjoint(&env, &prices, out.as_ptr(), out.len())?;
        let state = self.take(&env)?;
        Ok(AsyncTask::new(PushTask {
            home: self.state.clone(),
            state: Some(state),
            prices,
            out,
            failure: Failure::default(),
        }))
    }

    /// Everything needed to continue this stream later, bit for bit: versioned, checksummed
    /// bytes for the constructor's `state`.
    #[napi(catch_unwind)]
    pub fn save_state(&self, env: Env) -> Result<Buffer> {
        with_state(&env, &self.state, BUSY, |state| {
            Ok(state.save_state().into())
        })
    }

    /// Checks everything pushed against the error table (empty, all missing, too few prices).
    #[napi(catch_unwind)]
    pub fn finish(&self, env: Env) -> Result<()> {
        with_state(&env, &self.state, BUSY, |state| {
            state.finish().map_err(|e| core_error(&env, &e))
        })
    }
}

/// Why a stream refuses a call while a `pushAsync` runs.
const BUSY: &str = "the stream is busy with a pushAsync; await it first";

/// Benchmarking hook, not part of the API: runs the core call `reps` times in a Rust loop on
/// these very buffers and returns each run's milliseconds, so the binding's overhead can be
/// measured against Rust in one process, same input, same memory. `periods` of length 1 runs
/// the single-series path.
#[napi(catch_unwind, js_name = "__benchCore")]
pub fn bench_core(
    env: Env,
    prices: Float64ArraySlice,
    periods: Vec<u32>,
    kernel: String,
    threads: u32,
    mut out: Float64ArraySlice,
    reps: u32,
) -> Result<Vec<f64>> {
    check_disjoint(&env, &prices, out.as_ptr(), out.len())?;
    let kernel = parse_kernel(&env, &kernel)?;
    let periods: Vec<usize> = periods.into_iter().map(|p| p as usize).collect();
    // SAFETY: live for this synchronous call and disjoint from `prices` (checked above).
    let out = unsafe { out.as_mut() };
    (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            match periods.as_slice() {
                [p] => core::trendflex_into(&prices, *p, kernel, out),
                _ => core::trendflex_batch_into(&prices, &periods, kernel, threads as usize, out),
            }
            .map_err(|e| core_error(&env, &e))?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

/// `[first, end]`: the index of the first valid (not NaN) price, and of the first missing price
/// after it (`prices.length` when there is none); `first` is `prices.length` when every price is
/// missing. Outputs can have values only inside `[first + period, end)`.
#[napi(catch_unwind)]
pub fn price_span(prices: Float64ArraySlice) -> Vec<f64> {
    let first = prices
        .iter()
        .position(|x| !x.is_nan())
        .unwrap_or(prices.len());
    let end = prices[first..]
        .iter()
        .position(|x| x.is_nan())
        .map_or(prices.len(), |i| first + i);
    vec![first as f64, end as f64]
}
