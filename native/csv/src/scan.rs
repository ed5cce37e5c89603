//! Where the delimiters and line ends of a text without quotes are, 64 bytes at a time: a bit
//! mask of those bytes per 64, and one of the delimiters alone (AVX2 compares where the CPU has
//! them, chosen at run time; a portable loop otherwise, with the same results), walked bit by
//! bit. Dense structural bytes (a price file has one every dozen bytes) cost a bit each instead
//! of a search each, and which kind each is comes from its bit, not from loading the byte.

/// The positions of `delimiter`, `\n` and `\r` in `bytes`, in order, each with whether it is the
/// delimiter.
pub(crate) struct Structurals<'a> {
    bytes: &'a [u8],
    delimiter: u8,
    /// The start of the 64 bytes `mask` covers, their structural bytes not yet given, and which
    /// of those 64 bytes are the delimiter.
    base: usize,
    mask: u64,
    delimiters: u64,
    avx2: bool,
}

impl<'a> Structurals<'a> {
    pub fn new(bytes: &'a [u8], delimiter: u8) -> Self {
        Self::with(bytes, delimiter, has_avx2())
    }

    /// As [`Structurals::new`], with AVX2 used only if `avx2` (and the CPU has it).
    pub fn with(bytes: &'a [u8], delimiter: u8, avx2: bool) -> Self {
        let mut s = Structurals {
            bytes,
            delimiter,
            base: 0,
            mask: 0,
            delimiters: 0,
            avx2: avx2 && has_avx2(),
        };
        (s.mask, s.delimiters) = s.masks_at(0);
        s
    }

    /// The masks of the 64 bytes from `at` (fewer at the end): structural bytes, delimiters.
    fn masks_at(&self, at: usize) -> (u64, u64) {
        let rest = &self.bytes[at.min(self.bytes.len())..];
        if rest.len() >= 64 {
            #[cfg(target_arch = "x86_64")]
            if self.avx2 {
                // SAFETY: `avx2` is set only where the CPU has AVX2 (`has_avx2`), and `rest`
                // holds at least the 64 bytes read.
                return unsafe { x86::mask64(rest.as_ptr(), self.delimiter) };
            }
        }
        portable(&rest[..rest.len().min(64)], self.delimiter)
    }
}

impl Iterator for Structurals<'_> {
    /// A structural byte's position, and whether it is the delimiter (else a line end).
    type Item = (usize, bool);

    #[inline]
    fn next(&mut self) -> Option<(usize, bool)> {
        while self.mask == 0 {
            self.base += 64;
            if self.base >= self.bytes.len() {
                return None;
            }
            (self.mask, self.delimiters) = self.masks_at(self.base);
        }
        let bit = self.mask.trailing_zeros();
        self.mask &= self.mask - 1;
        Some((self.base + bit as usize, (self.delimiters >> bit) & 1 == 1))
    }
}

/// Whether `bytes` is ASCII without a NUL or a `"`: text that needs no UTF-8 check, and records
/// that are lines as written. One pass (AVX2 where the CPU has it) instead of a NUL search, a
/// UTF-8 check and a quote search; anything else goes the careful way.
pub(crate) fn plain_ascii(bytes: &[u8]) -> bool {
    plain_ascii_with(bytes, has_avx2())
}

/// As [`plain_ascii`], with AVX2 used only if `avx2` (and the CPU has it).
fn plain_ascii_with(bytes: &[u8], avx2: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    if avx2 && has_avx2() {
        let whole = bytes.len() / 128 * 128;
        // SAFETY: the CPU has AVX2 (checked just above), and `whole` bytes from the start of
        // `bytes` are readable.
        let head = unsafe { x86::plain_ascii(bytes.as_ptr(), whole) };
        return head && portable_plain_ascii(&bytes[whole..]);
    }
    portable_plain_ascii(bytes)
}

/// [`plain_ascii`] without SIMD intrinsics, 64 bytes at a time (which the compiler vectorizes).
fn portable_plain_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|chunk| {
        !chunk
            .iter()
            .fold(false, |bad, &b| bad | (b == 0) | (b == b'"') | (b >= 0x80))
    })
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Bit `i` set where `chunk[i]` (at most 64 bytes) is the delimiter or a line end, and where it is
/// the delimiter.
fn portable(chunk: &[u8], delimiter: u8) -> (u64, u64) {
    chunk
        .iter()
        .enumerate()
        .fold((0, 0), |(mask, delimiters), (i, &b)| {
            let hit = b == delimiter || b == b'\n' || b == b'\r';
            (
                mask | (u64::from(hit) << i),
                delimiters | (u64::from(b == delimiter) << i),
            )
        })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Whether the `len` bytes from `p` (a multiple of 128) hold no NUL, no `"` and no byte of
    /// 0x80 or more.
    ///
    /// # Safety
    /// The CPU must have AVX2, and `p` must be valid for reading `len` bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn plain_ascii(p: *const u8, len: usize) -> bool {
        debug_assert_eq!(len % 128, 0);
        let (nul, quote) = (_mm256_setzero_si256(), _mm256_set1_epi8(b'"' as i8));
        // A byte is bad if it is NUL or a quote (compared), or 0x80 or more (its top bit, which
        // movemask reads directly).
        let bad = |v: __m256i| {
            _mm256_or_si256(
                v,
                _mm256_or_si256(_mm256_cmpeq_epi8(v, nul), _mm256_cmpeq_epi8(v, quote)),
            )
        };
        let mut at = 0;
        while at < len {
            // SAFETY: the caller vouches for `len` readable bytes from `p`, and `at + 128 <= len`;
            // unaligned loads.
            let any = unsafe {
                let v = |k: usize| bad(_mm256_loadu_si256(p.add(at + 32 * k).cast()));
                _mm256_or_si256(_mm256_or_si256(v(0), v(1)), _mm256_or_si256(v(2), v(3)))
            };
            if _mm256_movemask_epi8(any) != 0 {
                return false;
            }
            at += 128;
        }
        true
    }

    /// Bit `i` set where byte `i` of the 64 from `p` is `delimiter`, `\n` or `\r`; and where it
    /// is `delimiter`.
    ///
    /// # Safety
    /// The CPU must have AVX2, and `p` must be valid for reading 64 bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mask64(p: *const u8, delimiter: u8) -> (u64, u64) {
        let (d, n, r) = (
            _mm256_set1_epi8(delimiter as i8),
            _mm256_set1_epi8(b'\n' as i8),
            _mm256_set1_epi8(b'\r' as i8),
        );
        let half = |v: __m256i| {
            let delimiters = _mm256_cmpeq_epi8(v, d);
            let hits = _mm256_or_si256(
                delimiters,
                _mm256_or_si256(_mm256_cmpeq_epi8(v, n), _mm256_cmpeq_epi8(v, r)),
            );
            (
                _mm256_movemask_epi8(hits) as u32 as u64,
                _mm256_movemask_epi8(delimiters) as u32 as u64,
            )
        };
        // SAFETY: the caller vouches for 64 readable bytes from `p`; unaligned loads.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(32).cast()),
            )
        };
        let ((lo_hits, lo_delimiters), (hi_hits, hi_delimiters)) = (half(lo), half(hi));
        (
            lo_hits | (hi_hits << 32),
            lo_delimiters | (hi_delimiters << 32),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_ascii_without_nul_or_quote_with_and_without_avx2() {
        let mut next = crate::test_rng(0xA5C11);
        let (mut clean, mut dirty) = (0, 0);
        for len in (0..300).chain([1000, 4096, 4099, 70_000]) {
            for bad in [
                None,
                Some(0u8),
                Some(b'"'),
                Some(0x80),
                Some(0xC3),
                Some(0xFF),
            ] {
                let alphabet = b"ab,1\n\r\t ~.";
                let mut bytes: Vec<u8> = (0..len)
                    .map(|_| alphabet[next() % alphabet.len()])
                    .collect();
                if let (Some(b), true) = (bad, len > 0) {
                    let at = next() % len;
                    bytes[at] = b;
                }
                let want = bytes.iter().all(|&b| b.is_ascii() && b != 0 && b != b'"');
                assert_eq!(plain_ascii_with(&bytes, false), want, "{len} {bad:?}");
                assert_eq!(plain_ascii_with(&bytes, true), want, "{len} {bad:?}");
                if want { clean += 1 } else { dirty += 1 }
            }
        }
        assert!(clean > 300 && dirty > 1000, "{clean} clean, {dirty} dirty");
    }

    #[test]
    fn every_delimiter_and_line_end_in_order_with_and_without_avx2() {
        let mut next = crate::test_rng(0x5EED);
        for len in (0..300).chain([1000, 4096, 4099]) {
            let bytes: Vec<u8> = (0..len)
                .map(|_| [b'a', b'1', b',', b';', b'\n', b'\r', b'\t', 0xC3][next() % 8])
                .collect();
            for delimiter in [b',', b';', b'\t'] {
                let want: Vec<(usize, bool)> = (0..len)
                    .filter(|&i| matches!(bytes[i], b'\n' | b'\r') || bytes[i] == delimiter)
                    .map(|i| (i, bytes[i] == delimiter))
                    .collect();
                assert_eq!(
                    Structurals::with(&bytes, delimiter, false).collect::<Vec<_>>(),
                    want
                );
                assert_eq!(
                    Structurals::with(&bytes, delimiter, true).collect::<Vec<_>>(),
                    want
                );
            }
        }
        println!("structural scan checked; AVX2 here: {}", has_avx2());
    }
}
