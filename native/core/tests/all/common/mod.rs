//! Shared test helpers: a naive oracle written straight from the definition, seeded inputs,
//! the parity data, and a bit-for-bit comparison.
#![allow(dead_code)]

use std::f64::consts::PI;
use std::path::PathBuf;

use trendflex_core::{Flavor, Kernel, available_kernels};

/// TrendFlex as `shared/TRENDFLEX.md` states it, with the window sum recomputed from scratch at
/// every step (O(n * L)) instead of rolled, and `/ L` instead of `* (1 / L)`: independent of the
/// kernels' bookkeeping, equal to them up to rounding.
pub fn oracle(x: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    let Some(first) = x.iter().position(|v| !v.is_nan()) else {
        return out;
    };
    let y = &x[first..];
    let ss = ((period as f64) / 2.0).round();
    let k = 1.414 * PI / ss;
    let a = (-k).exp();
    let (a2, b) = (a * a, 2.0 * a * k.cos());
    let c = (1.0 + a2 - b) / 2.0;
    let mut s = vec![0.0; y.len()];
    for i in 0..y.len() {
        s[i] = if i < 2 {
            y[i]
        } else {
            (-a2).mul_add(s[i - 2], b.mul_add(s[i - 1], c * (y[i] + y[i - 1])))
        };
    }
    let mut ms = 0.0;
    for i in period..y.len() {
        let lag_sum: f64 = (1..=period).map(|d| s[i] - s[i - d]).sum();
        let mysum = lag_sum / period as f64;
        ms = 0.04 * mysum * mysum + 0.96 * ms;
        out[first + i] = if ms != 0.0 { mysum / ms.sqrt() } else { 0.0 };
    }
    out
}

/// The `ehlers` flavour straight from Ehlers' EasyLanguage lines (as TRENDFLEX.md quotes them):
/// no fused operations, the filter as written (`c1 * (y + y') / 2 + c2 * F' + c3 * F''`), the
/// lag sum `sum (F[i] - F[i-k])` recomputed at every step, `.04 * Sum * Sum + .96 * MS`. Shares
/// nothing with the kernels' bookkeeping (window sum, pre-halved `c1`, FMAs).
#[allow(clippy::approx_constant)] // 3.14159 is Ehlers' literal, not an approximation of PI here
pub fn ehlers_oracle(x: &[f64], length: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    let Some(first) = x.iter().position(|v| !v.is_nan()) else {
        return out;
    };
    let close = &x[first..];
    let len = length as f64;
    let a1 = (-1.414 * 3.14159 / (0.5 * len)).exp();
    let degrees = 1.414 * 180.0 / (0.5 * len);
    let b1 = 2.0 * a1 * (degrees * PI / 180.0).cos();
    let (c2, c3) = (b1, -a1 * a1);
    let c1 = 1.0 - c2 - c3;
    let mut filt = vec![0.0; close.len()];
    for i in 2..close.len() {
        filt[i] = c1 * (close[i] + close[i - 1]) / 2.0 + c2 * filt[i - 1] + c3 * filt[i - 2];
    }
    let mut ms = 0.0;
    for i in length..close.len() {
        let mut sum = 0.0;
        for count in 1..=length {
            sum += filt[i] - filt[i - count];
        }
        sum /= len;
        ms = 0.04 * sum * sum + 0.96 * ms;
        out[first + i] = if ms != 0.0 { sum / ms.sqrt() } else { 0.0 };
    }
    out
}

/// The naive oracle of `flavor`.
pub fn oracle_of(flavor: Flavor, x: &[f64], period: usize) -> Vec<f64> {
    match flavor {
        Flavor::VectorTa => oracle(x, period),
        Flavor::Ehlers => ehlers_oracle(x, period),
    }
}

/// SplitMix64: a tiny seeded generator so every run sees the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A random walk starting at 100: what prices look like.
pub fn random_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut p = 100.0;
    (0..n)
        .map(|_| {
            p += rng.unit();
            p
        })
        .collect()
}

/// Kernels to test: those this CPU runs. Also prints the ones skipped, and why, once per binary.
pub fn kernels() -> Vec<Kernel> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let run: Vec<_> = available_kernels().iter().map(|k| k.to_string()).collect();
        let skipped: Vec<_> = [Kernel::Avx2, Kernel::Avx512]
            .into_iter()
            .filter_map(|k| {
                trendflex_core::missing_feature(k).map(|f| format!("{k} (CPU lacks {f})"))
            })
            .collect();
        eprintln!(
            "kernels tested: {}; skipped: {}",
            run.join(", "),
            if skipped.is_empty() {
                "none".to_string()
            } else {
                skipped.join(", ")
            }
        );
    });
    available_kernels()
}

/// Equal bits, or both NaN (NaN payloads are not part of the contract: every NaN is "missing").
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Panics at the first index where the two differ, saying where and what.
#[track_caller]
pub fn assert_same(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    if let Some(i) = (0..got.len()).find(|&i| !same(got[i], want[i])) {
        panic!(
            "{what}: index {i}: got {:?} ({:#018x}), want {:?} ({:#018x})",
            got[i],
            got[i].to_bits(),
            want[i],
            want[i].to_bits()
        );
    }
}

/// `../shared/data/bitfinex-btcusd-4h.csv`, column `2` (close).
pub fn parity_closes() -> Vec<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/bitfinex-btcusd-4h.csv");
    let mut rdr =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let col = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "2")
        .expect("column 2");
    rdr.records()
        .map(|r| r.unwrap()[col].parse::<f64>().unwrap())
        .collect()
}

/// Runs the one-shot single API.
pub fn single(prices: &[f64], period: usize, kernel: Kernel) -> Vec<f64> {
    single_in(Flavor::VectorTa, prices, period, kernel)
}

/// Runs the one-shot single API in `flavor`.
pub fn single_in(flavor: Flavor, prices: &[f64], period: usize, kernel: Kernel) -> Vec<f64> {
    let mut out = vec![0.0; prices.len()];
    trendflex_core::trendflex_into_with_flavor(prices, period, kernel, flavor, &mut out).unwrap();
    out
}

/// `100 + 10 sin(i / 7) + 0.05 i`: the input of the `ehlers` parity vector.
pub fn ehlers_parity_input() -> Vec<f64> {
    (0..500)
        .map(|i| 100.0 + 10.0 * (i as f64 / 7.0).sin() + 0.05 * i as f64)
        .collect()
}
