//! What a missing price after the first valid one means (`--gaps`), applied to each chunk of
//! prices as it is read, for every input format.

/// What a missing price after the first valid one does. (Leading missing prices are always
/// fine: a series starts at its first valid price.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GapMode {
    /// It is an error naming its line (or row).
    #[default]
    Error,
    /// VectorTA's behaviour: every output from there on is missing.
    Propagate,
    /// The last price is carried forward.
    Ffill,
    /// Left as it is (the caller applies the policy later, per group).
    Keep,
}

impl std::str::FromStr for GapMode {
    type Err = String;

    /// The names `--gaps` takes (`error`, `propagate`, `ffill`), and `keep`.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "error" => Ok(GapMode::Error),
            "propagate" => Ok(GapMode::Propagate),
            "ffill" => Ok(GapMode::Ffill),
            "keep" => Ok(GapMode::Keep),
            other => Err(format!(
                "unknown gaps mode '{other}': use error, propagate or ffill"
            )),
        }
    }
}

impl GapMode {
    /// The name [`GapMode::from_str`](std::str::FromStr) takes.
    pub fn as_str(self) -> &'static str {
        match self {
            GapMode::Error => "error",
            GapMode::Propagate => "propagate",
            GapMode::Ffill => "ffill",
            GapMode::Keep => "keep",
        }
    }
}

/// The state across chunks.
#[derive(Debug, Default)]
pub struct Gaps {
    mode: GapMode,
    /// Row of the first valid price.
    pub first_valid: Option<u64>,
    /// Row of the first missing price after it (propagate).
    pub first_gap: Option<u64>,
    last: f64,
}

impl Gaps {
    pub fn new(mode: GapMode) -> Self {
        Gaps {
            mode,
            ..Gaps::default()
        }
    }

    /// The mode, and the last price carried (what `ffill` fills with), for a saved state.
    pub fn mode(&self) -> GapMode {
        self.mode
    }

    pub fn last(&self) -> f64 {
        self.last
    }

    /// The state `first_valid`, `first_gap` and `last` describe, continued.
    pub fn restored(
        mode: GapMode,
        first_valid: Option<u64>,
        first_gap: Option<u64>,
        last: f64,
    ) -> Self {
        Gaps {
            mode,
            first_valid,
            first_gap,
            last,
        }
    }

    /// Applies the policy to `prices`, whose first row is `first_row` of the input; under
    /// `GapMode::Error` returns the index (in `prices`) of the first gap.
    pub fn apply(&mut self, prices: &mut [f64], first_row: u64) -> Result<(), usize> {
        if self.mode == GapMode::Keep {
            return Ok(());
        }
        let mut i = 0;
        if self.first_valid.is_none() {
            match prices.iter().position(|x| !x.is_nan()) {
                Some(at) => {
                    self.first_valid = Some(first_row + at as u64);
                    i = at;
                }
                None => return Ok(()), // leading missing prices are always fine
            }
        }
        // The common case, a chunk with no gap, costs one scan.
        while let Some(at) = prices[i..].iter().position(|x| x.is_nan()) {
            let at = i + at;
            if at > 0 {
                self.last = prices[at - 1];
            }
            match self.mode {
                GapMode::Error => return Err(at),
                GapMode::Propagate => {
                    self.first_gap.get_or_insert(first_row + at as u64);
                    return Ok(()); // everything after is missing in the output anyway
                }
                GapMode::Ffill => prices[at] = self.last,
                GapMode::Keep => unreachable!("returned above"),
            }
            i = at + 1;
        }
        if let Some(&x) = prices.last() {
            self.last = x;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const N: f64 = f64::NAN;

    #[test]
    fn leading_missing_prices_are_fine_and_gaps_follow_the_mode() {
        let mut g = Gaps::new(GapMode::Error);
        assert_eq!(g.apply(&mut [N, N], 0), Ok(()));
        assert_eq!(g.apply(&mut [N, 1.0, 2.0], 2), Ok(()));
        assert_eq!(g.first_valid, Some(3));
        assert_eq!(g.apply(&mut [3.0, N], 5), Err(1));

        let mut f = Gaps::new(GapMode::Ffill);
        let mut a = [1.0, N, N, 4.0];
        f.apply(&mut a, 0).unwrap();
        assert_eq!(a, [1.0, 1.0, 1.0, 4.0]);
        let mut b = [N, 5.0];
        f.apply(&mut b, 4).unwrap();
        assert_eq!(b, [4.0, 5.0], "carried across chunks");

        let mut p = Gaps::new(GapMode::Propagate);
        p.apply(&mut [1.0, 2.0], 0).unwrap();
        p.apply(&mut [3.0, N, 4.0], 2).unwrap();
        p.apply(&mut [N], 5).unwrap();
        assert_eq!(p.first_gap, Some(3));
    }
}
