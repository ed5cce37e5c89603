//! The reference kernel: one period, one price at a time, written to read like the definition.
//! Every other kernel is tested bit for bit against this one.

use crate::formulas::{deviation, mean_square, normalize, smooth};
use crate::params::PeriodParams;
use crate::state::PeriodState;

/// The whole state of one period's recurrence, so a series can be fed in chunks of any size.
#[derive(Debug, Clone)]
pub(crate) struct ScalarState {
    pub p: PeriodParams,
    /// Valid prices consumed so far: the index `i` of the definition for the next price.
    pub seen: usize,
    /// `y[i-1]`, `s[i-1]`, `s[i-2]`.
    pub y_prev: f64,
    pub s1: f64,
    pub s2: f64,
    /// The window sum `W` and the mean square `MS`.
    pub w: f64,
    pub ms: f64,
    /// The last `L` smoothed values; `ring[pos]` is `s[i - L]` once the window is full. It grows
    /// with the data during warm-up, so a huge period costs memory only as prices arrive.
    pub ring: Vec<f64>,
    pub pos: usize,
}

impl ScalarState {
    pub fn new(p: PeriodParams) -> Self {
        ScalarState {
            p,
            seen: 0,
            y_prev: 0.0,
            s1: 0.0,
            s2: 0.0,
            // -0.0 is the identity of +, so `W = s[0] + s[1] + ...` is reproduced exactly,
            // sign of zero included.
            w: -0.0,
            ms: 0.0,
            ring: Vec::new(),
            pos: 0,
        }
    }

    /// This period's state in canonical form (see `state`).
    pub fn save(&self) -> PeriodState {
        // During warm-up `ring` holds every smoothed value in order; after it, `ring[pos]` is the
        // oldest.
        let mut window = self.ring[self.pos..].to_vec();
        window.extend_from_slice(&self.ring[..self.pos]);
        PeriodState {
            s1: self.s1,
            s2: self.s2,
            w: self.w,
            ms: self.ms,
            window,
        }
    }

    /// The state `save` gave, after `valid` valid prices, the last being `y_prev`.
    pub fn restore(p: PeriodParams, valid: usize, y_prev: f64, st: &PeriodState) -> Self {
        debug_assert_eq!(st.window.len(), valid.min(p.period));
        ScalarState {
            p,
            seen: valid,
            y_prev,
            s1: st.s1,
            s2: st.s2,
            w: st.w,
            ms: st.ms,
            ring: st.window.clone(),
            pos: 0,
        }
    }

    /// True once every further price produces an output (the window is full).
    #[inline(always)]
    pub fn warmed_up(&self) -> bool {
        self.seen >= self.p.period
    }

    /// Feeds one price and returns the output for it (NaN during warm-up).
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> f64 {
        if self.seen == 0 && x.is_nan() {
            // Leading missing prices: the series has not started yet.
            return f64::NAN;
        }
        let i = self.seen;
        self.seen += 1;
        let s = if i < 2 {
            self.p.seed(x)
        } else {
            smooth(self.p.smoother, x, self.y_prev, self.s1, self.s2)
        };
        self.y_prev = x;
        self.s2 = self.s1;
        self.s1 = s;
        let l = self.p.period;
        if i < l {
            self.w += s;
            self.ring.push(s); // i == ring.len() during warm-up
            return f64::NAN;
        }
        let mysum = deviation(&self.p, s, self.w);
        self.ms = mean_square(self.ms, mysum);
        let out = normalize(mysum, self.ms);
        let old = std::mem::replace(&mut self.ring[self.pos], s);
        self.pos += 1;
        if self.pos == l {
            self.pos = 0;
        }
        self.w += s - old;
        out
    }

    /// Feeds a chunk, writing one output per price.
    pub fn run(&mut self, prices: &[f64], out: &mut [f64]) {
        debug_assert_eq!(prices.len(), out.len());
        for (o, &x) in out.iter_mut().zip(prices) {
            *o = self.step(x);
        }
    }
}
