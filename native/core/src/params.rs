//! Per-period constants and input validation, exactly as `shared/TRENDFLEX.md` defines them.

use std::f64::consts::PI;

use crate::{Error, Flavor};

/// Ehlers' truncated pi, the literal of `a1` in his EasyLanguage (his cosine takes degrees).
#[allow(clippy::approx_constant)] // deliberately not `PI`: the definition's literal
const EASYLANGUAGE_PI: f64 = 3.14159;

/// Smoother length `round(L / 2)` with halves rounded up: 5 -> 3, 20 -> 10, 21 -> 11.
pub fn smoother_length(period: usize) -> usize {
    period.div_ceil(2)
}

/// Super-smoother coefficients for one smoother length. `neg_a2` is `-a*a`, which is exact, so
/// `fma(neg_a2, s, x)` is the definition's `fma(-a2, s, x)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Smoother {
    pub neg_a2: f64,
    pub b: f64,
    pub c: f64,
}

impl Smoother {
    pub fn new(ss: usize) -> Self {
        // The literal 1.414 (not sqrt 2) and the operation order are VectorTA's.
        let k = 1.414 * PI / ss as f64;
        let a = (-k).exp();
        let a2 = a * a;
        let b = 2.0 * a * k.cos();
        let c = (1.0 + a2 - b) / 2.0;
        Smoother { neg_a2: -a2, b, c }
    }

    /// Ehlers' constants for `period`, as the README's "Flavours" orders them: `P = L / 2` (exact),
    /// `a1 = exp(-(1.414 * 3.14159 / P))`, `b1 = 2 * a1 * cos((1.414 * 180 / P) * (PI / 180))`,
    /// `c3 = -(a1 * a1)`, `c1 = (1 - b1) - c3`. `F = c1 * (y + y') / 2 + ...` becomes
    /// `fma(c3, F'', fma(b1, F', (c1 * 0.5) * (y + y')))`, `c1 * 0.5` being exact.
    pub fn ehlers(period: usize) -> Self {
        let p = period as f64 * 0.5;
        let a1 = (-(1.414 * EASYLANGUAGE_PI / p)).exp();
        // EasyLanguage's `Cosine` takes degrees; `to_radians` is `deg * (PI / 180)`.
        let b1 = 2.0 * a1 * (1.414 * 180.0 / p).to_radians().cos();
        let c3 = -(a1 * a1);
        let c1 = 1.0 - b1 - c3;
        Smoother {
            neg_a2: c3,
            b: b1,
            c: c1 * 0.5,
        }
    }

    fn of(flavor: Flavor, period: usize) -> Self {
        match flavor {
            Flavor::VectorTa => Smoother::new(smoother_length(period)),
            Flavor::Ehlers => Smoother::ehlers(period),
        }
    }
}

/// The periods that share one set of coefficients have the same key: consecutive periods 2k-1
/// and 2k in VectorTA's definition, nothing in Ehlers' (every period its own `P = L / 2`).
fn coefficient_key(flavor: Flavor, period: usize) -> usize {
    match flavor {
        Flavor::VectorTa => smoother_length(period),
        Flavor::Ehlers => period,
    }
}

/// Everything one period's recurrence needs, computed once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PeriodParams {
    pub period: usize,
    /// `L` as f64, for `L * s[i]`.
    pub lf: f64,
    /// `1 / L`, computed once and multiplied, as the definition says.
    pub inv_l: f64,
    pub smoother: Smoother,
    /// Decides the seed: the first two smoothed values are the prices (VectorTA) or zero (Ehlers).
    pub flavor: Flavor,
}

impl PeriodParams {
    pub fn new(period: usize, flavor: Flavor) -> Self {
        Self::with_smoother(period, flavor, Smoother::of(flavor, period))
    }

    fn with_smoother(period: usize, flavor: Flavor, smoother: Smoother) -> Self {
        let lf = period as f64;
        PeriodParams {
            period,
            lf,
            inv_l: 1.0 / lf,
            smoother,
            flavor,
        }
    }

    /// The smoothed value at `i < 2`, where the recurrence has no history yet: the price itself
    /// (VectorTA) or zero (Ehlers). Only warm-up steps call it; the vector loop never does.
    #[inline(always)]
    pub fn seed(&self, x: f64) -> f64 {
        match self.flavor {
            Flavor::VectorTa => x,
            Flavor::Ehlers => 0.0,
        }
    }

    /// Params for many periods; periods with the same coefficients (see `coefficient_key`) share
    /// one computation of them.
    pub fn many(periods: &[usize], flavor: Flavor) -> Vec<Self> {
        let mut cache: Vec<(usize, Smoother)> = Vec::new();
        periods
            .iter()
            .map(|&period| {
                let key = coefficient_key(flavor, period);
                let smoother = match cache.iter().find(|(k, _)| *k == key) {
                    Some(&(_, sm)) => sm,
                    None => {
                        let sm = Smoother::of(flavor, period);
                        cache.push((key, sm));
                        sm
                    }
                };
                Self::with_smoother(period, flavor, smoother)
            })
            .collect()
    }
}

pub(crate) fn check_period(period: usize) -> Result<(), Error> {
    if period < 2 {
        return Err(Error::PeriodTooSmall { period });
    }
    Ok(())
}

/// Checks of the error table that need only the period list (also used before streaming starts).
pub(crate) fn check_periods(periods: &[usize]) -> Result<(), Error> {
    if periods.is_empty() {
        return Err(Error::EmptyPeriods);
    }
    periods.iter().try_for_each(|&p| check_period(p))
}

/// The data-dependent rows of the error table, given the series length and how many prices
/// remain from the first valid one on (`valid == 0` means all were missing).
pub(crate) fn check_data(len: usize, valid: usize, periods: &[usize]) -> Result<(), Error> {
    if len == 0 {
        return Err(Error::EmptyInput);
    }
    if valid == 0 {
        return Err(Error::NoValidPrices);
    }
    match periods.iter().find(|&&p| valid <= p) {
        Some(&period) => Err(Error::NotEnoughData { period, valid }),
        None => Ok(()),
    }
}

/// Number of prices from the first non-NaN one to the end (`m` of the definition).
pub(crate) fn valid_len(prices: &[f64]) -> usize {
    prices
        .iter()
        .position(|x| !x.is_nan())
        .map_or(0, |first| prices.len() - first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoother_length_rounds_halves_up() {
        for (l, ss) in [(2, 1), (3, 2), (5, 3), (20, 10), (21, 11), (231, 116)] {
            assert_eq!(smoother_length(l), ss, "period {l}");
            assert_eq!(
                ((l as f64) / 2.0).round() as usize,
                ss,
                "period {l} against f64 round"
            );
        }
    }

    #[test]
    fn shared_smoother_is_the_same_as_computed_alone() {
        for flavor in Flavor::ALL {
            let many = PeriodParams::many(&[5, 6, 20, 21, 231, 6], flavor);
            for p in many {
                assert_eq!(p, PeriodParams::new(p.period, flavor), "{flavor}");
            }
        }
    }

    #[test]
    fn ehlers_gives_every_period_its_own_coefficients() {
        let many = PeriodParams::many(&[5, 6], Flavor::Ehlers);
        assert_ne!(many[0].smoother, many[1].smoother);
        let many = PeriodParams::many(&[5, 6], Flavor::VectorTa);
        assert_eq!(many[0].smoother, many[1].smoother);
    }

    #[test]
    fn ehlers_coefficients_follow_the_easylanguage_lines() {
        // L = 20: P = 10, a1 = exp(-0.4442...), the cosine of 25.452 degrees.
        let sm = Smoother::ehlers(20);
        let a1 = (-1.414f64 * EASYLANGUAGE_PI / 10.0).exp();
        let b1 = 2.0 * a1 * (25.452f64 * PI / 180.0).cos();
        assert!((sm.b - b1).abs() < 1e-15, "{} vs {b1}", sm.b);
        assert!((sm.neg_a2 + a1 * a1).abs() < 1e-15);
        // c1 + c2 + c3 = 1: the filter has unit gain at zero frequency.
        assert!((2.0 * sm.c + sm.b + sm.neg_a2 - 1.0).abs() < 1e-15);
        // Odd periods are not rounded: P = 2.5 for L = 5, not VectorTA's 3.
        assert_ne!(Smoother::ehlers(5), Smoother::new(3));
    }
}
