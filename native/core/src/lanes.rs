//! The vector operations the engine needs, as a trait each instruction set implements once
//! (`x86::avx2`, `x86::avx512`, and a portable emulation that tests run on any CPU).

/// Most lanes any implementation has; per-lane state is kept in arrays of this size.
pub(crate) const MAX_LANES: usize = 8;

/// `N` f64 lanes and the exact IEEE-754 operations of the definition on them.
///
/// Every method is `unsafe` for one shared reason, stated once in each `# Safety` section: the
/// implementation may use instructions that only exist on some CPUs.
pub(crate) trait Lanes {
    /// Number of f64 lanes in `V`.
    const N: usize;
    /// One vector of `N` lanes.
    type V: Copy;
    /// Per-lane element offsets for `gather`.
    type Offsets: Copy;

    /// All lanes `x`.
    ///
    /// # Safety
    /// The CPU must support this implementation's instruction set.
    unsafe fn splat(x: f64) -> Self::V;
    /// Reads `N` consecutive f64 (any alignment).
    ///
    /// # Safety
    /// As `splat`, and `p` must be valid for reading `N` f64.
    unsafe fn load(p: *const f64) -> Self::V;
    /// Writes `N` consecutive f64 (any alignment).
    ///
    /// # Safety
    /// As `splat`, and `p` must be valid for writing `N` f64.
    unsafe fn store(p: *mut f64, v: Self::V);
    /// Packs the first `N` offsets for `gather`.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn offsets(o: &[i64; MAX_LANES]) -> Self::Offsets;
    /// Lane `j` reads `base[o[j]]`.
    ///
    /// # Safety
    /// As `splat`, and every `base.offset(o[j])` must be valid for reading one f64.
    unsafe fn gather(base: *const f64, o: Self::Offsets) -> Self::V;
    /// Takes `N` vectors, `vs[k]` holding step `k` of every lane, and writes lane `j`'s `N`
    /// steps to `dst + j * stride` (for `j < rows`): an `N x N` transpose into the caller's rows.
    ///
    /// # Safety
    /// As `splat`; `vs` holds `N` vectors; each `dst + j * stride` (`j < rows <= N`) must be valid
    /// for writing `N` f64.
    unsafe fn transpose_store(vs: &[Self::V], dst: *mut f64, stride: usize, rows: usize);
    /// `a + b`, lane by lane.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`, lane by lane.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`, lane by lane.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` with one rounding (fused), lane by lane.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `mysum / sqrt(ms)` where `ms != 0` (NaN counts as non-zero), `+0.0` elsewhere: the
    /// definition's output, with a correctly rounded sqrt and division.
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn normalize(mysum: Self::V, ms: Self::V) -> Self::V;
}

/// A plain-array implementation with `N` lanes, so the engine's lane logic (8 lanes included) is
/// tested on every CPU, including ones without AVX-512.
#[cfg(test)]
pub(crate) struct Portable<const N: usize>;

#[cfg(test)]
impl<const N: usize> Lanes for Portable<N> {
    const N: usize = N;
    type V = [f64; N];
    type Offsets = [i64; N];

    unsafe fn splat(x: f64) -> Self::V {
        [x; N]
    }
    unsafe fn load(p: *const f64) -> Self::V {
        // SAFETY: the caller guarantees `p` is valid for reading N f64.
        unsafe { std::ptr::read_unaligned(p.cast::<[f64; N]>()) }
    }
    unsafe fn store(p: *mut f64, v: Self::V) {
        // SAFETY: the caller guarantees `p` is valid for writing N f64.
        unsafe { std::ptr::write_unaligned(p.cast::<[f64; N]>(), v) }
    }
    unsafe fn transpose_store(vs: &[Self::V], dst: *mut f64, stride: usize, rows: usize) {
        for j in 0..rows {
            for (k, v) in vs.iter().enumerate() {
                // SAFETY: the caller guarantees row `j` is valid for N writes.
                unsafe { *dst.add(j * stride + k) = v[j] };
            }
        }
    }
    unsafe fn offsets(o: &[i64; MAX_LANES]) -> Self::Offsets {
        std::array::from_fn(|j| o[j])
    }
    unsafe fn gather(base: *const f64, o: Self::Offsets) -> Self::V {
        // SAFETY: the caller guarantees every `base + o[j]` is valid for one read.
        std::array::from_fn(|j| unsafe { *base.offset(o[j] as isize) })
    }
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|j| a[j] + b[j])
    }
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|j| a[j] - b[j])
    }
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|j| a[j] * b[j])
    }
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|j| a[j].mul_add(b[j], c[j]))
    }
    unsafe fn normalize(mysum: Self::V, ms: Self::V) -> Self::V {
        std::array::from_fn(|j| crate::formulas::normalize(mysum[j], ms[j]))
    }
}
