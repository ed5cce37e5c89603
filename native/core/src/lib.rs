//! TrendFlex (John Ehlers, 2020) over price series, bit-identical to VectorTA, with scalar,
//! AVX2 and AVX-512 kernels chosen at run time. All outputs go into caller-owned buffers.
//!
//! The definition computed, operation for operation, is `shared/TRENDFLEX.md` in the project;
//! [`Flavor::Ehlers`] computes Ehlers' own EasyLanguage instead (the README's "Flavours").

mod batch;
mod dispatch;
mod engine;
mod error;
mod extremes;
mod flavor;
mod formulas;
pub mod framing;
pub mod gaps;
mod grouped;
mod lanes;
mod lazy;
mod params;
mod scalar;
mod state;
mod stream;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use dispatch::{
    KERNEL_ENV, Kernel, available_kernels, best_kernel, cpu_features, kernel_override,
    missing_feature, resolve, resolve_with_override,
};
pub use error::Error;
pub use extremes::Extremes;
pub use flavor::Flavor;
pub use grouped::{GroupError, GroupReport, GroupedStream};
pub use params::smoother_length;
pub use state::StateError;
pub use stream::{Series, TrendflexBatchStream, TrendflexStream};

/// Columns a one-shot batch computes between progress reports.
pub const PROGRESS_CHUNK: usize = 1 << 16;

/// TrendFlex of `period` over `prices` into `out` (same length). Outputs before the first valid
/// price plus `period` are NaN. Validates everything before writing anything.
///
/// ```
/// let prices: Vec<f64> = (0..50).map(|i| (i as f64).sqrt()).collect();
/// let mut out = vec![0.0; 50];
/// trendflex_core::trendflex_into(&prices, 20, trendflex_core::Kernel::Scalar, &mut out).unwrap();
/// assert!(out[..20].iter().all(|x| x.is_nan()));
/// assert_eq!(out[20], 5.0);
/// ```
pub fn trendflex_into(
    prices: &[f64],
    period: usize,
    kernel: Kernel,
    out: &mut [f64],
) -> Result<(), Error> {
    trendflex_into_with_flavor(prices, period, kernel, Flavor::VectorTa, out)
}

/// [`trendflex_into`] in the given flavour.
///
/// ```
/// use trendflex_core::{Flavor, Kernel, trendflex_into_with_flavor};
/// let prices: Vec<f64> = (0..50).map(|i| 100.0 + (i as f64 / 7.0).sin()).collect();
/// let mut out = vec![0.0; 50];
/// trendflex_into_with_flavor(&prices, 20, Kernel::Auto, Flavor::Ehlers, &mut out).unwrap();
/// assert!(out[19].is_nan() && (out[20].abs() - 5.0).abs() < 1e-12);
/// ```
pub fn trendflex_into_with_flavor(
    prices: &[f64],
    period: usize,
    kernel: Kernel,
    flavor: Flavor,
    out: &mut [f64],
) -> Result<(), Error> {
    params::check_data(prices.len(), 1, &[])?;
    let mut stream = TrendflexStream::with_flavor(period, kernel, flavor)?;
    params::check_data(prices.len(), params::valid_len(prices), &[period])?;
    stream.push(prices, out)
}

/// TrendFlex of every period in `periods` over `prices`, into `out`, row-major:
/// `out[row * prices.len() + t]`, rows in the order of `periods`. `threads`: 0 = all cores.
/// Validates every period (naming the first that fails) before writing anything.
pub fn trendflex_batch_into(
    prices: &[f64],
    periods: &[usize],
    kernel: Kernel,
    threads: usize,
    out: &mut [f64],
) -> Result<(), Error> {
    trendflex_batch_into_with_flavor(prices, periods, kernel, Flavor::VectorTa, threads, out)
}

/// [`trendflex_batch_into`] in the given flavour.
pub fn trendflex_batch_into_with_flavor(
    prices: &[f64],
    periods: &[usize],
    kernel: Kernel,
    flavor: Flavor,
    threads: usize,
    out: &mut [f64],
) -> Result<(), Error> {
    trendflex_batch_into_with_progress(prices, periods, kernel, flavor, threads, out, |_, _| {})
}

/// [`trendflex_batch_into_with_flavor`], calling `progress(done, total)` (prices done, of
/// `prices.len()`) after every block of [`PROGRESS_CHUNK`] prices.
pub fn trendflex_batch_into_with_progress(
    prices: &[f64],
    periods: &[usize],
    kernel: Kernel,
    flavor: Flavor,
    threads: usize,
    out: &mut [f64],
    mut progress: impl FnMut(usize, usize),
) -> Result<(), Error> {
    params::check_data(prices.len(), 1, &[])?;
    params::check_periods(periods)?;
    params::check_data(prices.len(), params::valid_len(prices), periods)?;
    let mut stream = TrendflexBatchStream::with_flavor(periods, kernel, flavor, threads)?;
    let n = prices.len();
    let expected = periods.len() * n;
    if out.len() != expected {
        return Err(Error::OutputLength {
            expected,
            actual: out.len(),
        });
    }
    for (c, chunk) in prices.chunks(PROGRESS_CHUNK).enumerate() {
        let col = c * PROGRESS_CHUNK;
        stream.push_strided(chunk, &mut out[col..], n)?;
        progress(col + chunk.len(), n);
    }
    Ok(())
}
