//! Shared by the criterion benches and the timing example: the seeded input, the bit-for-bit
//! check, and the write floor.

/// A seeded random walk from 100 (SplitMix64 steps in [-1, 1)).
pub fn random_walk(n: usize, mut seed: u64) -> Vec<f64> {
    let mut p = 100.0;
    (0..n)
        .map(|_| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            p += ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
            p
        })
        .collect()
}

/// Same bits, NaN payloads aside.
pub fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// The write floor: the fastest way to fill the buffer with a non-zero constant, which on x86_64
/// is streaming (non-temporal) stores; a plain `fill` also reads every line it overwrites.
pub fn fill_floor(out: &mut [f64], v: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_set1_pd, _mm_sfence, _mm_stream_pd};
        let head = out.as_ptr().align_offset(16).min(out.len());
        let (a, rest) = out.split_at_mut(head);
        a.fill(v);
        let pairs = rest.len() / 2;
        // SAFETY: SSE2 is part of x86_64; `rest` starts 16-byte aligned and every store writes
        // two f64 inside it; the fence orders the streaming stores before later reads.
        unsafe {
            let x = _mm_set1_pd(v);
            for i in 0..pairs {
                _mm_stream_pd(rest.as_mut_ptr().add(2 * i), x);
            }
            _mm_sfence();
        }
        rest[2 * pairs..].fill(v);
    }
    #[cfg(not(target_arch = "x86_64"))]
    out.fill(v);
}
