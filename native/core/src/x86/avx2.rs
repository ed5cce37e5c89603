//! AVX2 + FMA: `Lanes` over `__m256d` (4 lanes) and the engine's entry points compiled for it.

use std::arch::x86_64::*;

use crate::engine::{self, LaneGroup};
use crate::lanes::{Lanes, MAX_LANES};
use crate::scalar::ScalarState;

pub(crate) struct Avx2;

impl Lanes for Avx2 {
    const N: usize = 4;
    type V = __m256d;
    type Offsets = [isize; 4];

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
    unsafe fn transpose_store(vs: &[__m256d], dst: *mut f64, stride: usize, rows: usize) {
        // SAFETY: AVX2, 4 vectors in `vs`, and rows `j < rows` of 4 writable f64 at
        // `dst + j * stride` are the caller's contract. The unpacks pair lanes 0/2 and 1/3 of
        // neighbouring steps; the 128-bit permutes then collect each lane's 4 steps.
        unsafe {
            let (t0, t1) = (
                _mm256_unpacklo_pd(vs[0], vs[1]),
                _mm256_unpackhi_pd(vs[0], vs[1]),
            );
            let (t2, t3) = (
                _mm256_unpacklo_pd(vs[2], vs[3]),
                _mm256_unpackhi_pd(vs[2], vs[3]),
            );
            let rows_v = [
                _mm256_permute2f128_pd::<0x20>(t0, t2),
                _mm256_permute2f128_pd::<0x20>(t1, t3),
                _mm256_permute2f128_pd::<0x31>(t0, t2),
                _mm256_permute2f128_pd::<0x31>(t1, t3),
            ];
            for (j, r) in rows_v.iter().enumerate().take(rows) {
                _mm256_storeu_pd(dst.add(j * stride), *r);
            }
        }
    }
    #[inline(always)]
    unsafe fn offsets(o: &[i64; MAX_LANES]) -> [isize; 4] {
        [o[0] as isize, o[1] as isize, o[2] as isize, o[3] as isize]
    }
    #[inline(always)]
    unsafe fn gather(base: *const f64, o: [isize; 4]) -> __m256d {
        // Four scalar loads, not `vgatherqpd`: measured twice as fast on this Zen 4.
        // SAFETY: AVX2 and a readable f64 at every `base + o[j]` are the caller's contract.
        unsafe {
            _mm256_set_pd(
                *base.offset(o[3]),
                *base.offset(o[2]),
                *base.offset(o[1]),
                *base.offset(o[0]),
            )
        }
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

/// Byte `i` of `bits` gets bit `k` set where `values[8 * i + k]` is not NaN (all eight bits of
/// every byte are written); returns how many bits were set. `values` holds at least
/// `8 * bits.len()` values.
///
/// # Safety
/// The CPU must have AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn not_nan_bits(values: &[f64], bits: &mut [u8]) -> u32 {
    let mut valid = 0;
    for (byte, eight) in bits.iter_mut().zip(values.chunks_exact(8)) {
        // SAFETY: `eight` holds 8 readable f64 (two unaligned loads of 4).
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_pd(eight.as_ptr()),
                _mm256_loadu_pd(eight.as_ptr().add(4)),
            )
        };
        // A value is ordered with itself unless it is NaN.
        let lo = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_ORD_Q>(lo, lo));
        let hi = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_ORD_Q>(hi, hi));
        let b = (lo | hi << 4) as u8;
        *byte = b;
        valid += b.count_ones();
    }
    valid
}

/// [`crate::extremes::extremes`] four values at a time: least and greatest total-order key of the
/// values that are not NaN (`i64::MAX`, `i64::MIN` if none), and how many are NaN.
///
/// # Safety
/// The CPU must have AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn extremes(values: &[f64]) -> (i64, i64, u64) {
    let (fours, rest) = values.as_chunks::<4>();
    let (mut min, mut max) = (_mm256_set1_epi64x(i64::MAX), _mm256_set1_epi64x(i64::MIN));
    let (lowest, highest, zero) = (min, max, _mm256_setzero_si256());
    let mut nans = 0u64;
    for four in fours {
        // SAFETY: `four` holds 4 readable f64 (one unaligned load).
        let v = unsafe { _mm256_loadu_pd(four.as_ptr()) };
        let nan = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_UNORD_Q>(v, v));
        let bits = _mm256_castpd_si256(v);
        // The total-order key: a negative value's magnitude bits flipped.
        let key = _mm256_xor_si256(bits, _mm256_srli_epi64::<1>(_mm256_cmpgt_epi64(zero, bits)));
        // NaN lanes take the identity of each side, so they never win.
        let low = _mm256_blendv_epi8(key, lowest, nan);
        let high = _mm256_blendv_epi8(key, highest, nan);
        min = _mm256_blendv_epi8(min, low, _mm256_cmpgt_epi64(min, low));
        max = _mm256_blendv_epi8(max, high, _mm256_cmpgt_epi64(high, max));
        nans += u64::from(_mm256_movemask_pd(_mm256_castsi256_pd(nan)).count_ones());
    }
    let (mut lo, mut hi) = ([0i64; 4], [0i64; 4]);
    // SAFETY: each array holds 4 i64 (unaligned stores).
    unsafe {
        _mm256_storeu_si256(lo.as_mut_ptr().cast(), min);
        _mm256_storeu_si256(hi.as_mut_ptr().cast(), max);
    }
    let (rest_min, rest_max, rest_nans) = crate::extremes::extremes(rest);
    (
        lo.into_iter().fold(rest_min, i64::min),
        hi.into_iter().fold(rest_max, i64::max),
        nans + rest_nans,
    )
}
