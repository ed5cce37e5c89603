//! The SIMD algorithms, written once over `Lanes` and instantiated per instruction set.
//!
//! Batch: lanes are periods. Each lane repeats the scalar recurrence exactly (same operations,
//! same order, fused where the definition fuses), so results are bit-identical to `scalar`.
//! Single series: the recurrence stays scalar (it is one dependency chain); what is independent,
//! the `sqrt` and division of the normalisation, runs `N` outputs at a time.

use crate::formulas::{deviation, mean_square, normalize, smooth};
use crate::lanes::{Lanes, MAX_LANES};
use crate::params::PeriodParams;
use crate::scalar::ScalarState;
use crate::state::PeriodState;

/// Prices a lane group keeps history for between shifts of its history buffer.
pub(crate) const BLOCK: usize = 512;

/// Up to `MAX_LANES` periods run side by side over one price series, with all their state.
///
/// The smoothed values of every lane live in `hist`, one row of `lanes` values per price, so
/// lane `j` finds `s[i - L_j]` at a fixed offset `offsets[j]` behind the current row. Outputs
/// go straight to the caller's rows: every `N` prices, the `N x N` block of results (prices x
/// lanes) is transposed in registers and stored as `N` consecutive values of each row.
#[derive(Debug, Clone)]
pub(crate) struct LaneGroup {
    /// Vector width of the kernel that runs this group (4 or 8).
    lanes: usize,
    /// Real periods in the group; lanes beyond repeat the last period and are never written.
    rows: usize,
    max_period: usize,
    /// Until `seen` reaches it every lane is still warming up.
    min_period: usize,
    params: [PeriodParams; MAX_LANES],
    offsets: [i64; MAX_LANES],
    seen: usize,
    y_prev: f64,
    s1: [f64; MAX_LANES],
    s2: [f64; MAX_LANES],
    w: [f64; MAX_LANES],
    ms: [f64; MAX_LANES],
    /// Up to `max_period + BLOCK` rows of `lanes` smoothed values (grown as prices arrive, so a
    /// huge period costs memory only with data); `row` is the next one written.
    hist: Vec<f64>,
    row: usize,
    /// Rows of room past `max_period` before the history shifts back: `BLOCK`, or less for a
    /// stream fed a few prices at a time that must stay small (one of many groups).
    room: usize,
}

impl LaneGroup {
    pub fn new(params: &[PeriodParams], lanes: usize) -> Self {
        assert!(!params.is_empty() && params.len() <= lanes && lanes <= MAX_LANES);
        let last = *params.last().unwrap();
        let p: [PeriodParams; MAX_LANES] = std::array::from_fn(|j| *params.get(j).unwrap_or(&last));
        let max_period = p[..lanes].iter().map(|q| q.period).max().unwrap();
        let min_period = p[..lanes].iter().map(|q| q.period).min().unwrap();
        let offsets = std::array::from_fn(|j| {
            if j < lanes {
                j as i64 - (p[j].period * lanes) as i64
            } else {
                0
            }
        });
        LaneGroup {
            lanes,
            rows: params.len(),
            max_period,
            min_period,
            params: p,
            offsets,
            seen: 0,
            y_prev: 0.0,
            s1: [0.0; MAX_LANES],
            s2: [0.0; MAX_LANES],
            w: [-0.0; MAX_LANES],
            ms: [0.0; MAX_LANES],
            hist: Vec::new(),
            row: 0,
            room: BLOCK,
        }
    }

    /// Sets the room past `max_period` (at least one row): less memory, more shifts.
    pub fn set_room(&mut self, rows: usize) {
        self.room = rows.max(1);
    }

    /// Drops the history no lane will look at again and gives its memory back: what is left is
    /// the last `max_period` rows, the exact state. For streams that sit idle between small
    /// pushes (a group of many): a long stream keeps its block of room, which saves a copy per
    /// price.
    pub fn compact(&mut self) {
        let n = self.lanes;
        let keep = self.row.min(self.max_period);
        if self.row > keep {
            let end = self.row * n;
            self.hist.copy_within(end - keep * n..end, 0);
            self.row = keep;
        }
        // A copy into memory of the exact size, not `shrink_to_fit`: shrinking in place leaves
        // the tail as a hole the next group's larger history does not fit, and thousands of
        // groups left the heap at ten times their states (2,000 groups x 1,000 rows: 2.2 GB).
        // Freed whole, the room is reused by the next group.
        self.hist = self.hist[..keep * n].to_vec();
    }

    /// The canonical state of each real row (see `state`), in row order.
    pub fn save(&self) -> Vec<PeriodState> {
        let n = self.lanes;
        (0..self.rows)
            .map(|j| {
                let len = self.seen.min(self.params[j].period);
                PeriodState {
                    s1: self.s1[j],
                    s2: self.s2[j],
                    w: self.w[j],
                    ms: self.ms[j],
                    window: (self.row - len..self.row)
                        .map(|r| self.hist[r * n + j])
                        .collect(),
                }
            })
            .collect()
    }

    /// A group continuing from `states` (one per period of `params`, as `save` gave them), after
    /// `valid` valid prices, the last being `y_prev`.
    pub fn restore(
        params: &[PeriodParams],
        lanes: usize,
        valid: usize,
        y_prev: f64,
        states: &[PeriodState],
    ) -> Self {
        assert_eq!(params.len(), states.len());
        let mut g = LaneGroup::new(params, lanes);
        let n = lanes;
        // Row `rows - k` holds s[valid - k]; each lane fills the rows its window covers (a lane
        // never looks further back than its period). Padding lanes repeat the last period.
        let rows = valid.min(g.max_period);
        g.hist = vec![0.0; rows * n];
        for j in 0..n {
            let st = &states[j.min(states.len() - 1)];
            g.s1[j] = st.s1;
            g.s2[j] = st.s2;
            g.w[j] = st.w;
            g.ms[j] = st.ms;
            for (k, &v) in st.window.iter().enumerate() {
                g.hist[(rows - st.window.len() + k) * n + j] = v;
            }
        }
        g.seen = valid;
        g.y_prev = y_prev;
        g.row = rows;
        g
    }

    /// Feeds `prices`; row `r` of the group writes its outputs to
    /// `out[r * stride .. r * stride + prices.len()]`.
    ///
    /// # Safety
    /// The CPU must support `L`'s instruction set, and `L::N` must equal `self.lanes`.
    #[inline(always)]
    pub unsafe fn push<L: Lanes>(&mut self, prices: &[f64], out: &mut [f64], stride: usize) {
        assert_eq!(L::N, self.lanes);
        if prices.is_empty() {
            return;
        }
        assert!(stride >= prices.len() && out.len() >= (self.rows - 1) * stride + prices.len());
        let n = self.lanes;
        let cap = self.max_period + self.room;
        let mut col = 0;
        while col < prices.len() {
            if self.row == cap {
                // Keep the last `max_period` rows (all any lane looks back), drop the rest.
                let end = self.row * n;
                self.hist.copy_within(end - self.max_period * n..end, 0);
                self.row = self.max_period;
            }
            let len = (prices.len() - col).min(cap - self.row);
            let needed = (self.row + len) * n;
            if self.hist.len() < needed {
                if self.hist.capacity() < needed {
                    // Doubled, but never past `cap` rows: thousands of groups fed a few rows at
                    // a time each keep no more than their history can use.
                    let rows = (self.row + len).max(2 * self.hist.capacity() / n).min(cap);
                    self.hist.reserve_exact(rows * n - self.hist.len());
                }
                self.hist.resize(needed, 0.0);
            }
            let block = &prices[col..col + len];
            let mut k = 0;
            // Leading NaNs and the two seeds, a price at a time.
            while k < len && self.seen < 2 {
                self.step_scalar(block[k], out, stride, col + k);
                k += 1;
            }
            // Every lane still warming up: `N` lanes a price at a time (the bulk of a short
            // group's rows, as in a grid over many groups).
            let cold = self.min_period.saturating_sub(self.seen).min(len - k);
            if cold > 0 && self.seen >= 2 {
                // SAFETY: `seen >= 2` and `seen + cold <= min_period`; `hist` has room for
                // `len` more rows; the output bound was asserted above; the caller vouches for
                // the CPU.
                unsafe { self.run_cold::<L>(&block[k..k + cold], out, stride, col + k) };
                k += cold;
            }
            // The lanes' warm-ups end one after another.
            while k < len && self.seen < self.max_period {
                self.step_scalar(block[k], out, stride, col + k);
                k += 1;
            }
            let whole = (len - k) / n * n;
            if whole > 0 {
                // SAFETY: every lane is past its warm-up (`seen >= max_period`); `hist` has room
                // for `len` more rows; the output bound was asserted above; the caller vouches
                // for the CPU.
                unsafe { self.run_vector::<L>(&block[k..k + whole], out, stride, col + k) };
                k += whole;
            }
            for (kk, &x) in block.iter().enumerate().skip(k) {
                self.step_scalar(x, out, stride, col + kk);
            }
            col += len;
        }
    }

    /// One price through every lane, one lane at a time: leading NaNs, warm-up, and the prices
    /// left over after whole vector blocks. Writes column `c` of each row.
    #[inline(always)]
    fn step_scalar(&mut self, x: f64, out: &mut [f64], stride: usize, c: usize) {
        let n = self.lanes;
        if self.seen == 0 && x.is_nan() {
            for r in 0..self.rows {
                out[r * stride + c] = f64::NAN;
            }
            return;
        }
        let i = self.seen;
        let row = self.row;
        for j in 0..n {
            let p = &self.params[j];
            let s = if i < 2 {
                p.seed(x)
            } else {
                smooth(p.smoother, x, self.y_prev, self.s1[j], self.s2[j])
            };
            self.s2[j] = self.s1[j];
            self.s1[j] = s;
            self.hist[row * n + j] = s;
            let value = if i < p.period {
                self.w[j] += s;
                f64::NAN
            } else {
                let mysum = deviation(p, s, self.w[j]);
                self.ms[j] = mean_square(self.ms[j], mysum);
                self.w[j] += s - self.hist[(row - p.period) * n + j];
                normalize(mysum, self.ms[j])
            };
            if j < self.rows {
                out[j * stride + c] = value;
            }
        }
        self.y_prev = x;
        self.seen += 1;
        self.row += 1;
    }

    /// Each lane's `f` of its period's constants, to load as one vector.
    #[inline(always)]
    fn lanes_of(&self, f: fn(&PeriodParams) -> f64) -> [f64; MAX_LANES] {
        std::array::from_fn(|j| f(&self.params[j]))
    }

    /// Each lane's smoother constants: `-a2`, `b` and `c`.
    #[inline(always)]
    fn smoother_lanes(&self) -> [[f64; MAX_LANES]; 3] {
        [
            self.lanes_of(|p| p.smoother.neg_a2),
            self.lanes_of(|p| p.smoother.b),
            self.lanes_of(|p| p.smoother.c),
        ]
    }

    /// Warm-up while no lane has reached its period: each lane smooths the price, keeps it in
    /// its history and adds it to its window sum, as `step_scalar` does with the same
    /// operations; every output is NaN.
    ///
    /// # Safety
    /// CPU support for `L`; `L::N == self.lanes`; `2 <= seen` and
    /// `seen + xs.len() <= min_period`; `row + xs.len() <= hist rows`; and `out` reaching
    /// `(rows - 1) * stride + c0 + xs.len()`.
    #[inline(always)]
    unsafe fn run_cold<L: Lanes>(&mut self, xs: &[f64], out: &mut [f64], stride: usize, c0: usize) {
        let n = self.lanes;
        debug_assert!(self.seen >= 2 && self.seen + xs.len() <= self.min_period);
        debug_assert!((self.row + xs.len()) * n <= self.hist.len());
        let [neg_a2, b, c] = self.smoother_lanes();
        // SAFETY: the caller guarantees CPU support for `L`; the loads read arrays of
        // MAX_LANES >= N values; hist rows `row .. row + len` exist (caller's contract).
        unsafe {
            let (neg_a2, b, c) = (
                L::load(neg_a2.as_ptr()),
                L::load(b.as_ptr()),
                L::load(c.as_ptr()),
            );
            let mut s1 = L::load(self.s1.as_ptr());
            let mut s2 = L::load(self.s2.as_ptr());
            let mut w = L::load(self.w.as_ptr());
            let mut y_prev = self.y_prev;
            let mut h = self.hist.as_mut_ptr().add(self.row * n);
            for &x in xs {
                let cy = L::mul(c, L::splat(x + y_prev));
                let s = L::mul_add(neg_a2, s2, L::mul_add(b, s1, cy));
                L::store(h, s);
                w = L::add(w, s);
                s2 = s1;
                s1 = s;
                y_prev = x;
                h = h.add(n);
            }
            L::store(self.s1.as_mut_ptr(), s1);
            L::store(self.s2.as_mut_ptr(), s2);
            L::store(self.w.as_mut_ptr(), w);
            self.y_prev = y_prev;
        }
        for r in 0..self.rows {
            out[r * stride + c0..][..xs.len()].fill(f64::NAN);
        }
        self.seen += xs.len();
        self.row += xs.len();
    }

    /// The steady state: every lane produces an output for every price, `N` prices at a time.
    ///
    /// # Safety
    /// CPU support for `L`; `L::N == self.lanes`; `seen >= max_period`; `xs.len()` a multiple
    /// of `N` with `row + xs.len() <= hist rows`; and `out` reaching
    /// `(rows - 1) * stride + c0 + xs.len()`.
    #[inline(always)]
    unsafe fn run_vector<L: Lanes>(
        &mut self,
        xs: &[f64],
        out: &mut [f64],
        stride: usize,
        c0: usize,
    ) {
        let n = self.lanes;
        debug_assert!(self.seen >= self.max_period && xs.len().is_multiple_of(n));
        debug_assert!((self.row + xs.len()) * n <= self.hist.len());
        debug_assert!(out.len() >= (self.rows - 1) * stride + c0 + xs.len());
        let [neg_a2, b, c] = self.smoother_lanes();
        let (lf, inv_l) = (self.lanes_of(|p| p.lf), self.lanes_of(|p| p.inv_l));
        // SAFETY: the caller guarantees CPU support for `L`; all loads read arrays of
        // MAX_LANES >= N values; hist rows `row .. row + len` exist, and the look-back offsets
        // reach at most `max_period` rows behind, which exist since `row >= max_period` once
        // warmed up; `out` covers every row's columns `c0 .. c0 + len` (caller's contract).
        unsafe {
            let (neg_a2, b, c) = (
                L::load(neg_a2.as_ptr()),
                L::load(b.as_ptr()),
                L::load(c.as_ptr()),
            );
            let (lf, inv_l) = (L::load(lf.as_ptr()), L::load(inv_l.as_ptr()));
            let (k004, k096) = (L::splat(0.04), L::splat(0.96));
            let offs = L::offsets(&self.offsets);
            let mut s1 = L::load(self.s1.as_ptr());
            let mut s2 = L::load(self.s2.as_ptr());
            let mut w = L::load(self.w.as_ptr());
            let mut ms = L::load(self.ms.as_ptr());
            let mut y_prev = self.y_prev;
            let mut h = self.hist.as_mut_ptr().add(self.row * n);
            let mut dst = out.as_mut_ptr().add(c0);
            let mut block = [L::splat(0.0); MAX_LANES];
            for xs in xs.chunks_exact(n) {
                for (t, &x) in xs.iter().enumerate() {
                    // `c * (y[i] + y[i-1])`: the sum is the same for every lane, added once.
                    let cy = L::mul(c, L::splat(x + y_prev));
                    let s = L::mul_add(neg_a2, s2, L::mul_add(b, s1, cy));
                    L::store(h, s);
                    let old = L::gather(h, offs);
                    let mysum = L::mul(L::sub(L::mul(lf, s), w), inv_l);
                    ms = L::mul_add(k004, L::mul(mysum, mysum), L::mul(k096, ms));
                    block[t] = L::normalize(mysum, ms);
                    w = L::add(w, L::sub(s, old));
                    s2 = s1;
                    s1 = s;
                    y_prev = x;
                    h = h.add(n);
                }
                L::transpose_store(&block[..n], dst, stride, self.rows);
                dst = dst.add(n);
            }
            L::store(self.s1.as_mut_ptr(), s1);
            L::store(self.s2.as_mut_ptr(), s2);
            L::store(self.w.as_mut_ptr(), w);
            L::store(self.ms.as_mut_ptr(), ms);
            self.y_prev = y_prev;
        }
        self.seen += xs.len();
        self.row += xs.len();
    }
}

/// One series, one period: scalar recurrence, normalisation `N` outputs at a time.
///
/// # Safety
/// The CPU must support `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn run_single<L: Lanes>(st: &mut ScalarState, prices: &[f64], out: &mut [f64]) {
    assert_eq!(prices.len(), out.len());
    let n = L::N;
    let mut k = 0;
    while k < prices.len() && !st.warmed_up() {
        out[k] = st.step(prices[k]);
        k += 1;
    }
    let (p, l) = (st.p, st.p.period);
    let (mut y_prev, mut s1, mut s2, mut w, mut ms, mut pos) =
        (st.y_prev, st.s1, st.s2, st.w, st.ms, st.pos);
    let mut dev = [0.0; MAX_LANES];
    let mut msq = [0.0; MAX_LANES];
    let full = k + (prices.len() - k) / n * n;
    for (xs, os) in prices[k..full]
        .chunks_exact(n)
        .zip(out[k..full].chunks_exact_mut(n))
    {
        for (t, &x) in xs.iter().enumerate() {
            let s = smooth(p.smoother, x, y_prev, s1, s2);
            y_prev = x;
            s2 = s1;
            s1 = s;
            let mysum = deviation(&p, s, w);
            ms = mean_square(ms, mysum);
            dev[t] = mysum;
            msq[t] = ms;
            let old = std::mem::replace(&mut st.ring[pos], s);
            pos += 1;
            if pos == l {
                pos = 0;
            }
            w += s - old;
        }
        // SAFETY: the caller guarantees CPU support; `dev`, `msq` hold MAX_LANES >= N values and
        // `os` is exactly N values long.
        unsafe {
            let v = L::normalize(L::load(dev.as_ptr()), L::load(msq.as_ptr()));
            L::store(os.as_mut_ptr(), v);
        }
    }
    (st.y_prev, st.s1, st.s2, st.w, st.ms, st.pos) = (y_prev, s1, s2, w, ms, pos);
    st.seen += full - k;
    for (o, &x) in out[full..].iter_mut().zip(&prices[full..]) {
        *o = st.step(x);
    }
}

#[cfg(test)]
mod tests {
    //! The engine's lane logic on the portable emulation, so the 8-lane algorithm that AVX-512
    //! instantiates is checked on every CPU, AVX-512 or not.
    use super::*;
    use crate::Flavor;
    use crate::lanes::Portable;

    fn walk(n: usize) -> Vec<f64> {
        let mut p = 100.0;
        (0..n)
            .map(|i| {
                p += ((i * 7919) % 23) as f64 / 11.0 - 1.0;
                p
            })
            .collect()
    }

    fn scalar(x: &[f64], period: usize, flavor: Flavor) -> Vec<f64> {
        let mut st = ScalarState::new(PeriodParams::new(period, flavor));
        let mut out = vec![0.0; x.len()];
        st.run(x, &mut out);
        out
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    fn check_group<L: Lanes>(periods: &[usize], x: &[f64], chunk: usize, flavor: Flavor) {
        let params = PeriodParams::many(periods, flavor);
        let n = x.len();
        let mut out = vec![0.0; n * periods.len()];
        for ps in params.chunks(L::N).enumerate() {
            let (g, ps) = ps;
            let mut group = LaneGroup::new(ps, L::N);
            for (c, xs) in x.chunks(chunk).enumerate() {
                // SAFETY: the portable lanes need no CPU feature.
                unsafe { group.push::<L>(xs, &mut out[g * L::N * n + c * chunk..], n) };
            }
        }
        for (r, &p) in periods.iter().enumerate() {
            assert!(
                same(&out[r * n..][..n], &scalar(x, p, flavor)),
                "lanes={} {flavor} row {r} L={p} chunk={chunk}",
                L::N
            );
        }
    }

    #[test]
    fn lane_groups_equal_scalar() {
        let mut x = walk(2 * BLOCK + 77);
        x[..3].fill(f64::NAN);
        x[900] = f64::NAN;
        let grids: [&[usize]; 4] = [
            &[2],
            &[5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
            &[231, 2, 100, 3],
            &[300, 20, 21],
        ];
        for flavor in Flavor::ALL {
            for periods in grids {
                for chunk in [1, 5, 37, BLOCK - 1, BLOCK, x.len()] {
                    check_group::<Portable<8>>(periods, &x, chunk, flavor);
                    check_group::<Portable<4>>(periods, &x, chunk, flavor);
                }
            }
        }
    }

    #[test]
    fn single_engine_equals_scalar() {
        let mut x = walk(1000);
        x[..2].fill(f64::NAN);
        for (flavor, period) in Flavor::ALL
            .into_iter()
            .flat_map(|f| [2, 3, 8, 9, 20, 997].map(|p| (f, p)))
        {
            for chunk in [1, 3, 8, 9, 1000] {
                let mut st = ScalarState::new(PeriodParams::new(period, flavor));
                let mut out = vec![0.0; x.len()];
                for (xs, os) in x.chunks(chunk).zip(out.chunks_mut(chunk)) {
                    // SAFETY: the portable lanes need no CPU feature.
                    unsafe { run_single::<Portable<8>>(&mut st, xs, os) };
                }
                assert!(
                    same(&out, &scalar(&x, period, flavor)),
                    "{flavor} L={period} chunk={chunk}"
                );
            }
        }
    }
}
