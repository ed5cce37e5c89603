//! x86_64 instruction sets, one module each. Callers must check the CPU first (`dispatch`).

pub(crate) mod avx2;
pub(crate) mod avx512;
