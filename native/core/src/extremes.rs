//! The least and the greatest of many doubles, as a Parquet writer keeps them for a DOUBLE
//! column chunk (arrow-rs' rule): by IEEE 754 total order (-0.0 below +0.0), NaN skipped unless
//! every value is NaN, NaN counted. Whole vectors at a time with AVX2 where the CPU has it
//! (arrow-rs' own pass runs one value at a time on a portable build).

/// Maps a double's bits to an integer with the same order as `f64::total_cmp` (negative values
/// have their magnitude bits flipped); its own inverse.
#[inline(always)]
pub(crate) fn key(bits: i64) -> i64 {
    bits ^ (((bits >> 63) as u64 >> 1) as i64)
}

/// Running extremes of the values added so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    /// Least and greatest key of a non-NaN value (`i64::MAX`, `i64::MIN` while there is none).
    min: i64,
    max: i64,
    nans: u64,
    /// Least and greatest key of a NaN, kept while every value is NaN.
    nan_min: i64,
    nan_max: i64,
}

impl Default for Extremes {
    fn default() -> Self {
        Self::new()
    }
}

impl Extremes {
    pub fn new() -> Self {
        Extremes {
            min: i64::MAX,
            max: i64::MIN,
            nans: 0,
            nan_min: i64::MAX,
            nan_max: i64::MIN,
        }
    }

    /// Takes `values` in.
    pub fn add(&mut self, values: &[f64]) {
        self.add_with(values, true)
    }

    /// Takes in the values of `values` that are not NaN, a NaN being a missing value (a null),
    /// not a value: it is neither counted nor ever an extreme.
    pub fn add_valid(&mut self, values: &[f64]) {
        let (min, max, _) = scan(values, true);
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }

    /// [`Extremes::add`], with AVX2 only if `simd` (and the CPU has it).
    fn add_with(&mut self, values: &[f64], simd: bool) {
        let (min, max, nans) = scan(values, simd);
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        self.nans += nans;
        if self.min > self.max {
            // Every value so far is NaN (this slice's too): their extremes are the answer until
            // a number comes.
            for v in values {
                let k = key(v.to_bits() as i64);
                self.nan_min = self.nan_min.min(k);
                self.nan_max = self.nan_max.max(k);
            }
        }
    }

    /// Takes in the values `other` has taken.
    pub fn merge(&mut self, other: &Extremes) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.nans += other.nans;
        self.nan_min = self.nan_min.min(other.nan_min);
        self.nan_max = self.nan_max.max(other.nan_max);
    }

    /// The least and the greatest value (NaN only if every value is NaN), or `None` if no value
    /// was added.
    pub fn range(&self) -> Option<(f64, f64)> {
        let value = |k: i64| f64::from_bits(key(k) as u64);
        if self.min <= self.max {
            Some((value(self.min), value(self.max)))
        } else if self.nans > 0 {
            Some((value(self.nan_min), value(self.nan_max)))
        } else {
            None
        }
    }

    /// How many NaN values were added, or `None` if no value was.
    pub fn nans(&self) -> Option<u64> {
        (self.min <= self.max || self.nans > 0).then_some(self.nans)
    }
}

/// [`extremes`], with AVX2 only if `simd` (and the CPU has it).
fn scan(values: &[f64], simd: bool) -> (i64, i64, u64) {
    match simd && crate::dispatch::simd_marks() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `simd_marks` said the CPU has AVX2 and POPCNT.
        true => unsafe { crate::x86::avx2::extremes(values) },
        _ => extremes(values),
    }
}

/// The portable [`crate::x86::avx2::extremes`]: least and greatest key of the non-NaN values
/// (`i64::MAX`, `i64::MIN` if none), and the count of NaN.
pub(crate) fn extremes(values: &[f64]) -> (i64, i64, u64) {
    let (mut min, mut max, mut nans) = (i64::MAX, i64::MIN, 0);
    for v in values {
        if v.is_nan() {
            nans += 1;
        } else {
            let k = key(v.to_bits() as i64);
            min = min.min(k);
            max = max.max(k);
        }
    }
    (min, max, nans)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths against a plain reading of the rule (`total_cmp` over the non-NaN values).
    #[test]
    fn extremes_follow_total_order_and_skip_nan() {
        let special = [
            0.0,
            -0.0,
            1.5,
            -1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff8_0000_0000_0007),
        ];
        let nan = [special[12], special[13], special[14], special[15]];
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed
        };
        for len in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100, 1000] {
            for round in 0..50 {
                let values: Vec<f64> = (0..len)
                    .map(|_| match if round % 5 == 0 { 4 } else { next() % 4 } {
                        4 => nan[(next() % 4) as usize],
                        0 => special[(next() % special.len() as u64) as usize],
                        1 => f64::from_bits(next()),
                        _ => (next() % 2001) as f64 / 100.0 - 10.0,
                    })
                    .collect();
                // In two pieces, as a column's batches come.
                let cut = if len == 0 { 0 } else { (next() as usize) % len };
                let real: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
                // Over the numbers; over the NaN if there are only NaN.
                let over = if real.is_empty() { &values } else { &real };
                let want = over.iter().copied().min_by(f64::total_cmp).map(|min| {
                    let max = over.iter().copied().max_by(f64::total_cmp).unwrap();
                    (min.to_bits(), max.to_bits())
                });
                let nans = values.iter().filter(|v| v.is_nan()).count() as u64;
                for simd in [false, true] {
                    let mut got = Extremes::new();
                    got.add_with(&values[..cut], simd);
                    got.add_with(&values[cut..], simd);
                    let bits = got.range().map(|(a, b)| (a.to_bits(), b.to_bits()));
                    assert_eq!(bits, want, "simd {simd}: {values:?}");
                    assert_eq!(got.nans(), (!values.is_empty()).then_some(nans));
                }
            }
        }
    }
}
