//! The four formulas of the definition, shared by every kernel's non-vector steps (and by the
//! restore of a saved state), and mirrored op for op by the vector engine.

use crate::params::{PeriodParams, Smoother};

/// `s[i] = fma(-a2, s[i-2], fma(b, s[i-1], c * (y[i] + y[i-1])))`.
#[inline(always)]
pub(crate) fn smooth(sm: Smoother, x: f64, y_prev: f64, s1: f64, s2: f64) -> f64 {
    sm.neg_a2.mul_add(s2, sm.b.mul_add(s1, sm.c * (x + y_prev)))
}

/// `mysum = (L * s[i] - W) * (1 / L)`.
#[inline(always)]
pub(crate) fn deviation(p: &PeriodParams, s: f64, w: f64) -> f64 {
    (p.lf * s - w) * p.inv_l
}

/// `MS = fma(0.04, mysum * mysum, 0.96 * MS)`.
#[inline(always)]
pub(crate) fn mean_square(ms: f64, mysum: f64) -> f64 {
    0.04f64.mul_add(mysum * mysum, 0.96 * ms)
}

/// `mysum / sqrt(MS)`, or `0` where `MS == 0` (NaN stays NaN).
#[inline(always)]
pub(crate) fn normalize(mysum: f64, ms: f64) -> f64 {
    if ms != 0.0 { mysum / ms.sqrt() } else { 0.0 }
}
