//! The one error type of trendflex-core: every message says what was wrong and what to do.

use std::fmt;

use crate::Kernel;

/// Why a TrendFlex computation was refused. Nothing is written to the output when one is returned
/// by a one-shot function; the streaming types report data errors from `finish()`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The price series has no values at all.
    EmptyInput,
    /// A batch was given an empty list of periods.
    EmptyPeriods,
    /// A period below 2 (the window sum needs at least two smoothed values).
    PeriodTooSmall { period: usize },
    /// Every price is missing (NaN).
    NoValidPrices,
    /// Fewer than `period + 1` valid prices after the first one.
    NotEnoughData { period: usize, valid: usize },
    /// The caller's output buffer has the wrong length.
    OutputLength { expected: usize, actual: usize },
    /// `TRENDFLEX_KERNEL` holds something that is not a kernel name.
    KernelEnv { value: String },
    /// A kernel name that is not one of `auto`, `scalar`, `avx2`, `avx512`.
    UnknownKernel { name: String },
    /// A flavour name that is not one of `vectorta`, `ehlers`.
    UnknownFlavor { name: String },
    /// An explicit kernel whose instructions this CPU lacks.
    KernelUnavailable {
        kernel: Kernel,
        missing: &'static str,
    },
    /// The worker threads for a batch could not be started.
    ThreadPool { threads: usize, reason: String },
    /// Saved state that cannot be resumed: not a state, damaged, or another stream's.
    State(crate::StateError),
}

impl From<crate::StateError> for Error {
    fn from(e: crate::StateError) -> Self {
        Error::State(e)
    }
}

impl Error {
    /// The message, with `subject` naming whose prices are too few ("input" as `Display` says
    /// it; "it" for a group, "the series" for a series continued across runs).
    pub fn describe(&self, subject: &str) -> String {
        match self {
            Error::NotEnoughData { period, valid } => format!(
                "period {period} needs at least {} valid prices, {subject} has {valid}",
                period + 1
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyInput => write!(f, "empty input: there are no prices to compute on"),
            Error::EmptyPeriods => write!(f, "empty period list: give at least one period"),
            Error::PeriodTooSmall { period } => {
                write!(f, "period must be at least 2, got {period}")
            }
            Error::NoValidPrices => {
                write!(f, "no valid prices: every price is missing (NaN)")
            }
            Error::NotEnoughData { .. } => f.write_str(&self.describe("input")),
            Error::OutputLength { expected, actual } => write!(
                f,
                "output buffer holds {actual} values, expected exactly {expected}"
            ),
            Error::KernelEnv { value } => write!(
                f,
                "{}={value}: not a kernel; set it to one of auto, scalar, avx2, avx512, or unset it",
                crate::dispatch::KERNEL_ENV
            ),
            Error::UnknownKernel { name } => write!(
                f,
                "unknown kernel '{name}': expected one of auto, scalar, avx2, avx512"
            ),
            Error::UnknownFlavor { name } => {
                write!(f, "unknown flavour '{name}': use vectorta or ehlers")
            }
            Error::KernelUnavailable { kernel, missing } => {
                let have: Vec<String> = crate::available_kernels()
                    .iter()
                    .map(|k| k.to_string())
                    .collect();
                write!(
                    f,
                    "kernel {kernel} needs the CPU feature {missing}, which this CPU lacks \
                     (available here: {})",
                    have.join(", ")
                )
            }
            Error::ThreadPool { threads, reason } => {
                write!(f, "could not start {threads} worker threads: {reason}")
            }
            Error::State(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}
