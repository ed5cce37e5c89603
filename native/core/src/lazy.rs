//! A series fed a few prices at a time, as each group of an interleaved table is. Each period
//! starts only when its first output is due (price `L`), from the prices so far; before that it
//! has no value to give and needs no state of its own. Periods with the same smoother (`2k-1`
//! and `2k` in the default flavour) share its smoothed values and one window of them.
//!
//! A batch stream keeps a window per period from the first price on, and its lanes step every
//! period at every price. This one holds the group's prices and the windows of the smoothers
//! that have started: for periods `5:231`, a group of 100 rows holds about 26 KB where a batch
//! stream held about 215 KB, and a warmed-up group about 135 KB where it held about 320 KB
//! (peak RSS over 20,000 and 2,000 interleaved groups, less the same rows ungrouped).
//!
//! Every value is the scalar kernel's (the reference every kernel equals bit for bit), operation
//! for operation, so the outputs and the saved state are those of any stream over the same prices.

use std::sync::Arc;

use crate::formulas::{deviation, mean_square, normalize, smooth};
use crate::params::{self, PeriodParams, Smoother};
use crate::scalar::ScalarState;
use crate::state::{Kind, PeriodState, SeriesState};
use crate::{Error, Flavor, Kernel};

/// One smoother of the plan: the periods that share it, shortest first.
#[derive(Debug)]
struct Shared {
    smoother: Smoother,
    /// Where its periods' slots start in `Plan::members` (in start order).
    first: usize,
    /// Values its window holds: its longest period.
    len: usize,
    /// Where its window starts in a group's `windows`, smoothers laid out in start order.
    at: usize,
}

/// What every group of one job shares: the periods, their constants and the order they start in.
///
/// Periods are held by slot: slot `q` is the `q`-th period to start (by period, then row), so
/// the started periods of a group are always its first slots.
#[derive(Debug)]
struct Plan {
    /// In row order.
    periods: Vec<usize>,
    params: Vec<PeriodParams>,
    longest: usize,
    flavor: Flavor,
    /// Smoothers in the order they start (by their shortest period).
    shared: Vec<Shared>,
    /// Slots, smoother after smoother.
    members: Vec<usize>,
    /// Per slot: its row, and its smoother.
    rows: Vec<usize>,
    smoother_of: Vec<usize>,
}

impl Plan {
    fn new(periods: &[usize], flavor: Flavor) -> Self {
        let params = PeriodParams::many(periods, flavor);
        // Slots in start order: by period, then row.
        let mut rows: Vec<usize> = (0..periods.len()).collect();
        rows.sort_by_key(|&r| (periods[r], r));
        // Smoothers in order of their shortest period; each one's slots, shortest first.
        let key = |r: usize| {
            let sm = params[r].smoother;
            [sm.neg_a2, sm.b, sm.c].map(f64::to_bits)
        };
        let mut keys: Vec<[u64; 3]> = Vec::new();
        let mut slots_of: Vec<Vec<usize>> = Vec::new();
        for (q, &r) in rows.iter().enumerate() {
            match keys.iter().position(|k| *k == key(r)) {
                Some(j) => slots_of[j].push(q),
                None => {
                    keys.push(key(r));
                    slots_of.push(vec![q]);
                }
            }
        }
        let (mut shared, mut members, mut at) = (Vec::new(), Vec::new(), 0);
        let mut smoother_of = vec![0; rows.len()];
        for (j, qs) in slots_of.iter().enumerate() {
            let len = periods[rows[*qs.last().expect("a smoother has a period")]];
            shared.push(Shared {
                smoother: params[rows[qs[0]]].smoother,
                first: members.len(),
                len,
                at,
            });
            at += len;
            members.extend_from_slice(qs);
            qs.iter().for_each(|&q| smoother_of[q] = j);
        }
        Plan {
            periods: periods.to_vec(),
            longest: periods.iter().copied().max().unwrap_or(0),
            params,
            flavor,
            shared,
            members,
            rows,
            smoother_of,
        }
    }
}

/// The cache a prefetch fills: the nearest, for what the running push reads next; or the next
/// level (larger, so that it is still there), for a group further ahead.
#[derive(Clone, Copy)]
enum Near {
    Now,
    Soon,
}

/// Asks for the cache line of `at` (a hint: it reads nothing and cannot fault).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ask(at: *const f64, near: Near) {
    use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
    // SAFETY: a prefetch reads nothing and cannot fault, whatever the address.
    unsafe {
        match near {
            Near::Now => _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>()),
            Near::Soon => _mm_prefetch::<_MM_HINT_T1>(at.cast::<i8>()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LazySeries {
    plan: Arc<Plan>,
    /// The steps run with the CPU's fused multiply-add instruction (not a call to `fma`): the
    /// job's kernel is a vector one and the CPU has FMA. The same bits either way.
    fused: bool,
    state: State,
}

/// A group's own part of a [`LazySeries`] (the plan is shared by every group).
#[derive(Debug, Clone, Default)]
struct State {
    /// Prices pushed, leading missing ones included.
    total: usize,
    /// Prices from the first valid one on (the definition's `i` of the next price).
    valid: usize,
    /// Every valid price while a period has not started; after that at least the last `longest`
    /// (what a saved state keeps), trimmed now and then rather than per price.
    prices: Vec<f64>,
    /// Periods started so far: slots `0 .. started`.
    started: usize,
    /// The started smoothers, in plan order.
    smoothers: Vec<Smoothed>,
    /// Per started slot: the window sum `W` and the mean square `MS`.
    w: Vec<f64>,
    ms: Vec<f64>,
    /// The started smoothers' windows, one after another; value `s[t]` at `t mod len`.
    windows: Vec<f64>,
}

/// A started smoother: its last two values, where its next value goes, and how many of its
/// periods have started.
#[derive(Debug, Clone, Copy)]
struct Smoothed {
    s1: f64,
    s2: f64,
    head: usize,
    live: usize,
}

impl LazySeries {
    /// `periods` checked by the caller (not empty, each at least 2); `kernel` resolved.
    pub fn new(periods: &[usize], flavor: Flavor, kernel: Kernel) -> Self {
        #[cfg(target_arch = "x86_64")]
        let fused = kernel != Kernel::Scalar && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let fused = false;
        LazySeries {
            plan: Arc::new(Plan::new(periods, flavor)),
            fused,
            state: State::default(),
        }
    }

    /// Periods started so far: the first of [`LazySeries::start_order`].
    pub fn started(&self) -> usize {
        self.state.started
    }

    /// The period rows in the order the periods start.
    pub fn start_order(&self) -> &[usize] {
        &self.plan.rows
    }

    /// Feeds the next prices; `put(row, c, value)` receives period row `row`'s output for
    /// `prices[c]`, NaN where the period has no value yet, once per row and price; except the
    /// NaN of the periods from `filled` on in start order, which the caller wrote already.
    pub fn push(&mut self, prices: &[f64], filled: usize, put: impl FnMut(usize, usize, f64)) {
        // The plan borrowed, not cloned: a clone per push is a locked count on a line that
        // every thread's groups share.
        let (plan, state) = (&*self.plan, &mut self.state);
        #[cfg(target_arch = "x86_64")]
        if self.fused {
            // SAFETY: `fused` is set only where the CPU has FMA.
            return unsafe { state.push_fused(plan, prices, filled, put) };
        }
        state.push(plan, prices, filled, put)
    }

    /// Asks for the arrays of the state a push reads and writes, to be in the cache when it
    /// comes: called two groups ahead of the one computing.
    #[inline(always)]
    pub fn prefetch_arrays(&self) {
        self.state.prefetch_arrays(Near::Soon);
    }

    /// Asks for the windows' lines a push of `prices` prices reads and writes: called for the
    /// next group while one computes, once its arrays are in the cache.
    #[inline(always)]
    pub fn prefetch_windows(&self, prices: usize) {
        self.state.prefetch_windows(&self.plan, prices, Near::Soon);
    }

    /// The whole-series checks of the error table.
    pub fn finish(&self) -> Result<(), Error> {
        params::check_data(self.state.total, self.state.valid, &self.plan.periods)
    }

    /// The stream's state in the canonical form every stream saves and restores (`state`), as
    /// a stream of the same periods (a single one for one period) would have saved it.
    pub fn save_state(&self) -> Vec<u8> {
        let (plan, state) = (&*self.plan, &self.state);
        let mut states = vec![None; plan.periods.len()];
        for (sh, st) in plan.shared.iter().zip(&state.smoothers) {
            let window = &state.windows[sh.at..sh.at + sh.len];
            for &q in &plan.members[sh.first..sh.first + st.live] {
                let (l, w, ms) = (plan.periods[plan.rows[q]], state.w[q], state.ms[q]);
                states[plan.rows[q]] = Some(PeriodState {
                    s1: st.s1,
                    s2: st.s2,
                    w,
                    ms,
                    // `s[i - L .. i)`, oldest first.
                    window: (0..l)
                        .map(|t| window[(st.head + sh.len - l + t) % sh.len])
                        .collect(),
                });
            }
        }
        // A period not started has all its prices here: replayed by the scalar kernel.
        let states = states
            .into_iter()
            .enumerate()
            .map(|(r, st)| {
                st.unwrap_or_else(|| {
                    let mut scalar = ScalarState::new(plan.params[r]);
                    state.prices.iter().for_each(|&y| {
                        scalar.step(y);
                    });
                    scalar.save()
                })
            })
            .collect();
        let keep = state.prices.len().min(plan.longest);
        SeriesState {
            kind: if plan.periods.len() == 1 {
                Kind::Single
            } else {
                Kind::Batch
            },
            flavor: plan.flavor,
            periods: plan.periods.clone(),
            total: state.total as u64,
            valid: state.valid as u64,
            tail: state.prices[state.prices.len() - keep..].to_vec(),
            states,
        }
        .to_bytes()
    }
}

impl State {
    /// [`State::push`] compiled for FMA: `mul_add` becomes one instruction.
    ///
    /// # Safety
    /// The CPU must have FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    unsafe fn push_fused(
        &mut self,
        plan: &Plan,
        prices: &[f64],
        filled: usize,
        put: impl FnMut(usize, usize, f64),
    ) {
        self.push(plan, prices, filled, put)
    }

    /// See [`LazySeries::push`].
    #[inline(always)]
    fn push(
        &mut self,
        plan: &Plan,
        prices: &[f64],
        filled: usize,
        mut put: impl FnMut(usize, usize, f64),
    ) {
        let filled = filled.min(plan.rows.len());
        self.prefetch(plan, prices.len());
        for (c, &x) in prices.iter().enumerate() {
            self.total += 1;
            if self.valid == 0 && x.is_nan() {
                // Leading missing prices: the series has not started.
                plan.rows[..filled]
                    .iter()
                    .for_each(|&r| put(r, c, f64::NAN));
                continue;
            }
            while self.started < plan.rows.len()
                && plan.periods[plan.rows[self.started]] <= self.valid
            {
                self.start(plan, self.started);
            }
            // Started smoothers have a period `L <= i` with `L >= 2`: past their seeds.
            let y_prev = self.prices.last().copied().unwrap_or(0.0);
            let n = self.started;
            for (sh, st) in plan.shared.iter().zip(&mut self.smoothers) {
                let s = smooth(sh.smoother, x, y_prev, st.s1, st.s2);
                st.s2 = st.s1;
                st.s1 = s;
                let window = &self.windows[sh.at..sh.at + sh.len];
                for &q in &plan.members[sh.first..sh.first + st.live] {
                    let p = &plan.params[plan.rows[q]];
                    let back = if st.head >= p.period {
                        st.head - p.period
                    } else {
                        st.head + sh.len - p.period
                    };
                    // The scalar kernel's step, operation for operation (`ScalarState::step`).
                    let (w, ms) = (&mut self.w[q], &mut self.ms[q]);
                    let mysum = deviation(p, s, *w);
                    *ms = mean_square(*ms, mysum);
                    put(plan.rows[q], c, normalize(mysum, *ms));
                    *w += s - window[back];
                }
                // After every period has read `s[i - L]` (the longest's is in this very place).
                self.windows[sh.at + st.head] = s;
                st.head = if st.head + 1 == sh.len {
                    0
                } else {
                    st.head + 1
                };
            }
            for &r in &plan.rows[n..filled.max(n)] {
                put(r, c, f64::NAN);
            }
            self.valid += 1;
            self.prices.push(x);
            if self.started == plan.rows.len() && self.prices.len() >= 2 * plan.longest {
                self.prices.drain(..self.prices.len() - plan.longest);
            }
        }
    }

    /// Asks for everything a push of `prices` prices reads and writes, all at once: the
    /// smoothers, the window sums and mean squares ([`State::prefetch_arrays`]), and each
    /// window's lines from its head to where the push leaves it. A group of an interleaved table
    /// comes back after thousands of others, its state out of the cache, and one miss after
    /// another would each wait for memory (2,000 interleaved groups: the windows' heads alone
    /// took 1.05 of the time).
    #[inline(always)]
    fn prefetch(&self, plan: &Plan, prices: usize) {
        self.prefetch_arrays(Near::Now);
        self.prefetch_windows(plan, prices, Near::Now);
    }

    /// Asks for the smoothers, the window sums and the mean squares: places known without
    /// reading the state (done two groups ahead, so that the smoothers are in the cache when
    /// [`State::prefetch_windows`] reads where their windows' heads are).
    #[inline(always)]
    fn prefetch_arrays(&self, near: Near) {
        #[cfg(target_arch = "x86_64")]
        {
            for v in [&self.w, &self.ms] {
                v.iter().step_by(8).for_each(|x| ask(x, near));
            }
            let smoothers = self.smoothers.as_ptr().cast::<f64>();
            (0..self.smoothers.len() * 4)
                .step_by(8)
                .for_each(|k| ask(smoothers.wrapping_add(k), near));
        }
    }

    /// Asks for each window's lines from its head to where a push of `prices` prices leaves it
    /// (reading the smoothers' heads).
    #[inline(always)]
    fn prefetch_windows(&self, plan: &Plan, prices: usize, near: Near) {
        #[cfg(target_arch = "x86_64")]
        for (sh, st) in plan.shared.iter().zip(&self.smoothers) {
            let window = &self.windows[sh.at..sh.at + sh.len];
            ask(window[st.head..].as_ptr(), near);
            ask(window[(st.head + prices).min(sh.len - 1)..].as_ptr(), near);
        }
    }

    /// Starts slot `q` (the next in start order) at price `i = L`: its smoother first if it is
    /// the smoother's shortest period, from the prices so far, all still held.
    #[inline(always)]
    fn start(&mut self, plan: &Plan, q: usize) {
        let j = plan.smoother_of[q];
        let sh = &plan.shared[j];
        let i = self.valid;
        if j == self.smoothers.len() {
            debug_assert!(self.prices.len() == i && 2 <= i && i <= sh.len);
            // Its window: `s[0 .. i)` at `0 .. i`, the rest written before it is read.
            let needed = sh.at + sh.len;
            if needed > self.windows.capacity() {
                // Grown by half, not doubled: a group may stop anywhere, thousands wait at once.
                let grown = needed.max(self.windows.capacity() * 3 / 2);
                self.windows.reserve_exact(grown - self.windows.len());
            }
            self.windows.resize(needed, 0.0);
            let p = &plan.params[plan.rows[q]];
            let window = &mut self.windows[sh.at..];
            let y = &self.prices;
            for t in 0..i {
                window[t] = if t < 2 {
                    p.seed(y[t])
                } else {
                    smooth(sh.smoother, y[t], y[t - 1], window[t - 1], window[t - 2])
                };
            }
            self.smoothers.push(Smoothed {
                s1: window[i - 1],
                s2: window[i - 2],
                head: i % sh.len,
                live: 0,
            });
            if self.smoothers.len() == plan.shared.len() {
                // Every window is here: memory of the exact size, the growth's room given back.
                self.windows = self.windows.to_vec();
            }
        }
        // `W = s[0] + ... + s[L-1]`, left to right from -0.0 (as the warm-up adds them), and
        // `MS = 0`. No value has been overwritten yet: `i = L <= len`.
        let w = self.windows[sh.at..sh.at + i]
            .iter()
            .fold(-0.0, |w: f64, &s| w + s);
        debug_assert_eq!(q, self.w.len(), "periods start in order");
        debug_assert_eq!(
            q,
            plan.members[sh.first + self.smoothers[j].live],
            "a smoother's periods start in order"
        );
        self.w.push(w);
        self.ms.push(0.0);
        self.smoothers[j].live += 1;
        self.started += 1;
    }
}
