//! AVX-512F: `Lanes` over `__m512d` (8 lanes) and the engine's entry points compiled for it.
//!
//! The machines this project is developed and tested on lack AVX-512, so this file is kept to
//! one-instruction mappings plus a plain transpose: the engine it instantiates is tested with
//! 8 lanes on every CPU through `lanes::Portable<8>`.

use std::arch::x86_64::*;

use crate::engine::{self, LaneGroup};
use crate::lanes::{Lanes, MAX_LANES};
use crate::scalar::ScalarState;

pub(crate) struct Avx512;

impl Lanes for Avx512 {
    const N: usize = 8;
    type V = __m512d;
    type Offsets = [isize; 8];

    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F (trait contract).
        unsafe { _mm512_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        // SAFETY: AVX-512F and 8 readable f64 at `p` are the caller's contract.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m512d) {
        // SAFETY: AVX-512F and 8 writable f64 at `p` are the caller's contract.
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn transpose_store(vs: &[__m512d], dst: *mut f64, stride: usize, rows: usize) {
        let mut tile = [0.0f64; 64];
        // SAFETY: AVX-512F, 8 vectors in `vs`, and rows `j < rows` of 8 writable f64 at
        // `dst + j * stride` are the caller's contract; `tile` holds 8 x 8 values.
        unsafe {
            for (k, v) in vs.iter().enumerate().take(8) {
                _mm512_storeu_pd(tile.as_mut_ptr().add(k * 8), *v);
            }
            for j in 0..rows {
                for k in 0..8 {
                    *dst.add(j * stride + k) = tile[k * 8 + j];
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn offsets(o: &[i64; MAX_LANES]) -> [isize; 8] {
        std::array::from_fn(|j| o[j] as isize)
    }
    #[inline(always)]
    unsafe fn gather(base: *const f64, o: [isize; 8]) -> __m512d {
        let mut v = [0.0f64; 8];
        // SAFETY: AVX-512F and a readable f64 at every `base + o[j]` are the caller's contract.
        unsafe {
            for j in 0..8 {
                v[j] = *base.offset(o[j]);
            }
            _mm512_loadu_pd(v.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F (which includes 512-bit FMA).
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn normalize(mysum: __m512d, ms: __m512d) -> __m512d {
        // SAFETY: the caller guarantees AVX-512F. NEQ_UQ is true for NaN, like Rust's `!=`;
        // masked-off lanes are zeroed, giving +0.0 where `MS == 0`.
        unsafe {
            let nonzero = _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(ms, _mm512_setzero_pd());
            _mm512_maskz_mov_pd(nonzero, _mm512_div_pd(mysum, _mm512_sqrt_pd(ms)))
        }
    }
}

/// One series through the AVX-512 engine.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn single(st: &mut ScalarState, prices: &[f64], out: &mut [f64]) {
    // SAFETY: this function only runs where AVX-512F exists (caller's contract).
    unsafe { engine::run_single::<Avx512>(st, prices, out) }
}

/// A group of 8 periods through the AVX-512 engine.
///
/// # Safety
/// The CPU must support AVX-512F, and `g` must have been built with 8 lanes.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn group(g: &mut LaneGroup, prices: &[f64], out: &mut [f64], stride: usize) {
    // SAFETY: AVX-512F exists (caller's contract); the lane count is checked inside.
    unsafe { g.push::<Avx512>(prices, out, stride) }
}
