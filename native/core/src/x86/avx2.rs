//! AVX2 + FMA: `Lanes` over `__m256d` (4 lanes) and the engine's entry points compiled for it.

use std::arch::x86_64::*;

use crate::engine::{self, LaneGroup};
use crate::lanes::{Lanes, MAX_LANES};
use crate::scalar::ScalarState;

pub(crate) struct Avx2;

impl Lanes for Avx2 {
    const N: usize = 4;
    type V = __m256d;
    type Offsets = __m256i;

    #[inline(always)]
    unsafe fn splat(x: f64) -> __m256d {
        // SAFETY: the caller guarantees AVX2 (trait contract).
        unsafe { _mm256_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        // SAFETY: AVX2 and 4 readable f64 at `p` are the caller's contract.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m256d) {
        // SAFETY: AVX2 and 4 writable f64 at `p` are the caller's contract.
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn stream(p: *mut f64, v: __m256d) {
        // SAFETY: AVX2, 4 writable f64 at `p` and 32-byte alignment are the caller's contract.
        unsafe { _mm256_stream_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn fence() {
        // SAFETY: SSE is part of x86_64.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    unsafe fn offsets(o: &[i64; MAX_LANES]) -> __m256i {
        // SAFETY: the caller guarantees AVX2; `o` has at least 4 values.
        unsafe { _mm256_loadu_si256(o.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn gather(base: *const f64, o: __m256i) -> __m256d {
        // SAFETY: AVX2 and a readable f64 at every `base + o[j]` are the caller's contract.
        unsafe { _mm256_i64gather_pd::<8>(base, o) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        // SAFETY: the caller guarantees FMA (part of this kernel's requirements).
        unsafe { _mm256_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn normalize(mysum: __m256d, ms: __m256d) -> __m256d {
        // SAFETY: the caller guarantees AVX2. NEQ_UQ is true for NaN, like Rust's `!=`, and
        // the mask's zero lanes give +0.0, the definition's output for `MS == 0`.
        unsafe {
            let nonzero = _mm256_cmp_pd::<_CMP_NEQ_UQ>(ms, _mm256_setzero_pd());
            _mm256_and_pd(nonzero, _mm256_div_pd(mysum, _mm256_sqrt_pd(ms)))
        }
    }
}

/// One series through the AVX2 engine.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn single(st: &mut ScalarState, prices: &[f64], out: &mut [f64]) {
    // SAFETY: this function only runs where AVX2 and FMA exist (caller's contract).
    unsafe { engine::run_single::<Avx2>(st, prices, out) }
}

/// A group of 4 periods through the AVX2 engine.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `g` must have been built with 4 lanes.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn group(g: &mut LaneGroup, prices: &[f64], out: &mut [f64], stride: usize) {
    // SAFETY: AVX2 and FMA exist (caller's contract); the lane count is checked inside.
    unsafe { g.push::<Avx2>(prices, out, stride) }
}
