//! Per-period constants and input validation, exactly as `shared/TRENDFLEX.md` defines them.

use std::f64::consts::PI;

use crate::Error;

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
}

impl PeriodParams {
    pub fn new(period: usize) -> Self {
        Self::with_smoother(period, Smoother::new(smoother_length(period)))
    }

    fn with_smoother(period: usize, smoother: Smoother) -> Self {
        let lf = period as f64;
        PeriodParams {
            period,
            lf,
            inv_l: 1.0 / lf,
            smoother,
        }
    }

    /// Params for many periods; periods sharing a smoother length share one coefficient computation.
    pub fn many(periods: &[usize]) -> Vec<Self> {
        let mut cache: Vec<(usize, Smoother)> = Vec::new();
        periods
            .iter()
            .map(|&period| {
                let ss = smoother_length(period);
                let smoother = match cache.iter().find(|(s, _)| *s == ss) {
                    Some(&(_, sm)) => sm,
                    None => {
                        let sm = Smoother::new(ss);
                        cache.push((ss, sm));
                        sm
                    }
                };
                Self::with_smoother(period, smoother)
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
        let many = PeriodParams::many(&[5, 6, 20, 21, 231]);
        for p in many {
            assert_eq!(p, PeriodParams::new(p.period));
        }
    }
}
