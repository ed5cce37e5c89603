//! Saving a stream and continuing it later, bit for bit.
//!
//! In memory a stream's state, whatever kernel ran it, has one canonical form: per series the
//! prices consumed (`total`, and `valid` from the first valid one on, the definition's `i`) and
//! the last prices; per period the last two smoothed values, the window sum `W`, the mean square
//! `MS`, and the smoothed values its window still holds. Any kernel restores any kernel's state.
//!
//! The bytes hold no more than exactness needs. Smoothed values are a recurrence over the prices
//! (`s[k]` from `s[k-1]`, `s[k-2]`, `y[k]`, `y[k-1]`), so a window of them is stored as its first
//! two values and recomputed from the last prices with the very operations the kernels use; and
//! periods with the same smoother coefficients (2k-1 and 2k in the default flavour) share one. For
//! `5:231`: the last 231 prices, two values per smoother (114), `W` and `MS` per period: about
//! 8 KB, where the kernels' windows hold 26,000 values (210 KB).
//!
//! Layout (little-endian): `TFXSTATE`, version `u32`, kind `u8` (1 single, 2 batch), flavour `u8`,
//! two zero bytes; periods (`u32` count, `u32` each); `total`, `valid` (`u64`); the last prices
//! (`u32` count, `f64` each, oldest first); per smoother, in order of first use, its window's first
//! two values (fewer if it holds fewer); per period `W`, `MS`; then a CRC-32 of all before it.

use std::fmt;

use crate::Flavor;
use crate::formulas::smooth;
use crate::framing::{self, FrameError};
use crate::params::PeriodParams;

const MAGIC: &[u8; 8] = b"TFXSTATE";
const VERSION: u32 = 1;

/// Which stream a state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Single = 1,
    Batch = 2,
}

/// Everything one period's recurrence needs to continue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PeriodState {
    pub s1: f64,
    pub s2: f64,
    pub w: f64,
    pub ms: f64,
    /// The last `min(valid, L)` smoothed values, oldest first.
    pub window: Vec<f64>,
}

/// A whole stream's state, in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesState {
    pub kind: Kind,
    pub flavor: Flavor,
    pub periods: Vec<usize>,
    pub total: u64,
    pub valid: u64,
    /// The last `min(valid, longest period)` prices, oldest first.
    pub tail: Vec<f64>,
    /// One per period, in `periods` order.
    pub states: Vec<PeriodState>,
}

/// Why saved bytes cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// Not a trendflex state at all (no magic), or one of a version this build does not read.
    Foreign { reason: String },
    /// A trendflex state that is cut short or changed (its checksum does not match, or its
    /// contents contradict each other).
    Corrupt { reason: String },
    /// A valid state of something else: other periods, flavour, or stream kind.
    Mismatch {
        what: &'static str,
        state: String,
        wanted: String,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Foreign { reason } => write!(f, "not a trendflex state: {reason}"),
            StateError::Corrupt { reason } => {
                write!(f, "the state is truncated or corrupt: {reason}")
            }
            StateError::Mismatch {
                what,
                state,
                wanted,
            } => {
                write!(f, "the state was made with {what} {state}, not {wanted}")
            }
        }
    }
}

impl std::error::Error for StateError {}

impl From<FrameError> for StateError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Foreign(reason) => StateError::Foreign { reason },
            FrameError::Corrupt(reason) => StateError::Corrupt { reason },
        }
    }
}

fn corrupt(reason: impl Into<String>) -> StateError {
    StateError::Corrupt {
        reason: reason.into(),
    }
}

impl SeriesState {
    /// Checks that this state continues a stream of `kind`, `periods` and `flavor`.
    pub fn check(&self, kind: Kind, periods: &[usize], flavor: Flavor) -> Result<(), StateError> {
        if self.kind != kind {
            let name = |k: Kind| match k {
                Kind::Single => "a single-period stream",
                Kind::Batch => "a batch stream",
            };
            return Err(StateError::Mismatch {
                what: "kind",
                state: name(self.kind).into(),
                wanted: name(kind).into(),
            });
        }
        if self.flavor != flavor {
            return Err(StateError::Mismatch {
                what: "flavour",
                state: self.flavor.to_string(),
                wanted: flavor.to_string(),
            });
        }
        if self.periods != periods {
            return Err(StateError::Mismatch {
                what: "periods",
                state: list(&self.periods),
                wanted: list(periods),
            });
        }
        Ok(())
    }

    /// The last price fed (`y[i-1]`), or 0 before the first valid one (the kernels' start).
    pub fn y_prev(&self) -> f64 {
        self.tail.last().copied().unwrap_or(0.0)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = framing::begin(MAGIC, VERSION);
        b.extend_from_slice(&[self.kind as u8, flavor_byte(self.flavor), 0, 0]);
        framing::put_u32(&mut b, self.periods.len());
        for &p in &self.periods {
            framing::put_u32(&mut b, p);
        }
        b.extend_from_slice(&self.total.to_le_bytes());
        b.extend_from_slice(&self.valid.to_le_bytes());
        framing::put_u32(&mut b, self.tail.len());
        for v in &self.tail {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for &r in &smoothers(&self.periods, self.flavor).longest {
            for v in self.states[r].window.iter().take(2) {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        for st in &self.states {
            b.extend_from_slice(&st.w.to_le_bytes());
            b.extend_from_slice(&st.ms.to_le_bytes());
        }
        framing::seal(b)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = framing::open(bytes, MAGIC, VERSION)?;
        let head = r.take(4)?;
        let kind = match head[0] {
            1 => Kind::Single,
            2 => Kind::Batch,
            k => return Err(corrupt(format!("unknown stream kind {k}"))),
        };
        let flavor = match head[1] {
            1 => Flavor::VectorTa,
            2 => Flavor::Ehlers,
            f => return Err(corrupt(format!("unknown flavour {f}"))),
        };
        let n = r.count(4)?;
        let periods = (0..n)
            .map(|_| {
                let p = r.u32()? as usize;
                if p >= 2 {
                    Ok(p)
                } else {
                    Err(corrupt(format!("period {p}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if periods.is_empty() || (kind == Kind::Single && periods.len() != 1) {
            return Err(corrupt(format!("{} periods for its kind", periods.len())));
        }
        let (total, valid) = (r.u64()?, r.u64()?);
        if valid > total {
            return Err(corrupt("more valid prices than prices"));
        }
        let longest = *periods.iter().max().expect("not empty");
        let kept = r.count(8)?;
        if kept as u64 != valid.min(longest as u64) {
            return Err(corrupt(format!(
                "{kept} last prices after {valid} valid ones"
            )));
        }
        let tail = (0..kept).map(|_| r.f64()).collect::<Result<Vec<_>, _>>()?;
        let valid_n = usize::try_from(valid).map_err(|_| corrupt(format!("{valid} prices")))?;

        // Each smoother's window: its first two values, then the recurrence over the last prices.
        let params = PeriodParams::many(&periods, flavor);
        let sm = smoothers(&periods, flavor);
        let mut windows = Vec::with_capacity(sm.longest.len());
        for &row in &sm.longest {
            let p = &params[row];
            let m = valid_n.min(p.period);
            let mut w = (0..m.min(2))
                .map(|_| r.f64())
                .collect::<Result<Vec<_>, _>>()?;
            let k0 = valid_n - m; // the window is s[k0 .. valid)
            let y = |k: usize| tail[k + tail.len() - valid_n]; // y[k] for k >= valid - tail.len()
            for k in k0 + 2..valid_n {
                let s = smooth(p.smoother, y(k), y(k - 1), w[k - k0 - 1], w[k - k0 - 2]);
                w.push(s);
            }
            windows.push(w);
        }
        let mut states = Vec::with_capacity(n);
        for (row, &p) in periods.iter().enumerate() {
            let (w, ms) = (r.f64()?, r.f64()?);
            let window = &windows[sm.of_period[row]];
            let window = window[window.len() - valid_n.min(p)..].to_vec();
            let last = |k: usize| {
                if window.len() >= k {
                    window[window.len() - k]
                } else {
                    0.0
                }
            };
            states.push(PeriodState {
                s1: last(1),
                s2: last(2),
                w,
                ms,
                window,
            });
        }
        r.finish()?;
        Ok(SeriesState {
            kind,
            flavor,
            periods,
            total,
            valid,
            tail,
            states,
        })
    }
}

/// Which periods share a smoother (bit-identical coefficients, so the same smoothed values).
struct Smoothers {
    /// Per smoother, in order of first use, the row of its longest period.
    longest: Vec<usize>,
    /// Per period, its smoother.
    of_period: Vec<usize>,
}

fn smoothers(periods: &[usize], flavor: Flavor) -> Smoothers {
    let params = PeriodParams::many(periods, flavor);
    let mut keys: Vec<[u64; 3]> = Vec::new();
    let mut sm = Smoothers {
        longest: Vec::new(),
        of_period: Vec::with_capacity(periods.len()),
    };
    for (row, p) in params.iter().enumerate() {
        let key = [p.smoother.neg_a2, p.smoother.b, p.smoother.c].map(f64::to_bits);
        match keys.iter().position(|k| *k == key) {
            Some(at) => {
                if p.period > params[sm.longest[at]].period {
                    sm.longest[at] = row;
                }
                sm.of_period.push(at);
            }
            None => {
                sm.of_period.push(keys.len());
                keys.push(key);
                sm.longest.push(row);
            }
        }
    }
    sm
}

fn flavor_byte(f: Flavor) -> u8 {
    match f {
        Flavor::VectorTa => 1,
        Flavor::Ehlers => 2,
    }
}

fn list(periods: &[usize]) -> String {
    if periods.len() > 6 {
        let n = periods.len();
        format!(
            "{},{},{},...,{} ({n} periods)",
            periods[0],
            periods[1],
            periods[2],
            periods[n - 1]
        )
    } else {
        periods
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}
