//! Kernel names, the CPU probe (run once, cached) and the choice of kernel, with the
//! `TRENDFLEX_KERNEL` override of `auto`.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::Error;

/// The environment variable that overrides what `Kernel::Auto` picks.
pub const KERNEL_ENV: &str = "TRENDFLEX_KERNEL";

/// Which implementation computes TrendFlex. All of them give bit-identical results; they differ
/// only in speed and in the CPU features they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The best kernel this CPU runs, unless `TRENDFLEX_KERNEL` names another.
    Auto,
    /// Portable reference, any CPU.
    Scalar,
    /// AVX2 + FMA: 4 periods side by side in a batch.
    Avx2,
    /// AVX-512F: 8 periods side by side in a batch.
    Avx512,
}

impl Kernel {
    /// All names, in the order they are documented.
    pub const ALL: [Kernel; 4] = [Kernel::Auto, Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// The name used everywhere: flags, environment, test output, benchmark ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::Auto => "auto",
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// Lanes a batch kernel runs side by side (periods per vector).
    pub fn lanes(self) -> usize {
        match self {
            Kernel::Avx512 => 8,
            Kernel::Avx2 => 4,
            Kernel::Scalar | Kernel::Auto => 1,
        }
    }

    /// CPU features this kernel needs, as `/proc/cpuinfo` and Rust name them.
    pub fn required_features(self) -> &'static [&'static str] {
        match self {
            Kernel::Avx2 => &["avx2", "fma"],
            Kernel::Avx512 => &["avx512f"],
            Kernel::Scalar | Kernel::Auto => &[],
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kernel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| Error::UnknownKernel {
                name: s.to_string(),
            })
    }
}

/// The features the kernels care about, probed once per process.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    avx2: bool,
    fma: bool,
    avx512f: bool,
    /// For the validity bitmaps' AVX2 path, with `avx2`.
    popcnt: bool,
}

fn cpu() -> Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    *CPU.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            Cpu {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                fma: std::arch::is_x86_feature_detected!("fma"),
                avx512f: std::arch::is_x86_feature_detected!("avx512f"),
                popcnt: std::arch::is_x86_feature_detected!("popcnt"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Cpu {
                avx2: false,
                fma: false,
                avx512f: false,
                popcnt: false,
            }
        }
    })
}

/// The first feature `kernel` needs that this CPU lacks, if any.
pub fn missing_feature(kernel: Kernel) -> Option<&'static str> {
    let cpu = cpu();
    kernel
        .required_features()
        .iter()
        .copied()
        .find(|&f| match f {
            "avx2" => !cpu.avx2,
            "fma" => !cpu.fma,
            "avx512f" => !cpu.avx512f,
            _ => true,
        })
}

/// Whether validity bitmaps are built with AVX2 (`crate::x86::avx2::not_nan_bits`).
pub(crate) fn simd_marks() -> bool {
    let cpu = cpu();
    cpu.avx2 && cpu.popcnt
}

/// The CPU features relevant to kernel choice that this CPU has, e.g. `["avx2", "fma"]`.
pub fn cpu_features() -> Vec<&'static str> {
    let cpu = cpu();
    [
        ("avx2", cpu.avx2),
        ("fma", cpu.fma),
        ("avx512f", cpu.avx512f),
    ]
    .into_iter()
    .filter_map(|(name, has)| has.then_some(name))
    .collect()
}

/// The kernels this CPU can run, slowest first (so the last is what `auto` picks).
pub fn available_kernels() -> Vec<Kernel> {
    [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter(|&k| missing_feature(k).is_none())
        .collect()
}

/// The fastest kernel this CPU runs, ignoring the environment.
pub fn best_kernel() -> Kernel {
    *available_kernels()
        .last()
        .expect("scalar is always available")
}

/// Turns `Auto` into a concrete kernel (the best one, or what `TRENDFLEX_KERNEL` says) and checks
/// that an explicit kernel can run here. An explicit kernel the CPU lacks is an error naming the
/// missing feature; it never silently falls back.
pub fn resolve(kernel: Kernel) -> Result<Kernel, Error> {
    resolve_with_override(kernel, kernel_override())
}

/// `TRENDFLEX_KERNEL`, trimmed, read once per process (the one place it is read); `None` when
/// unset or empty.
pub fn kernel_override() -> Option<&'static str> {
    static VALUE: OnceLock<Option<String>> = OnceLock::new();
    VALUE
        .get_or_init(|| {
            std::env::var(KERNEL_ENV)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
        .as_deref()
}

/// `resolve` with the override given explicitly (an empty value counts as unset).
pub fn resolve_with_override(kernel: Kernel, env: Option<&str>) -> Result<Kernel, Error> {
    let wanted = match (kernel, env.map(str::trim).filter(|v| !v.is_empty())) {
        (Kernel::Auto, Some(name)) => name.parse::<Kernel>().map_err(|_| Error::KernelEnv {
            value: name.to_string(),
        })?,
        (k, _) => k,
    };
    if wanted == Kernel::Auto {
        return Ok(best_kernel());
    }
    match missing_feature(wanted) {
        None => Ok(wanted),
        Some(missing) => Err(Error::KernelUnavailable {
            kernel: wanted,
            missing,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kernel::ALL {
            assert_eq!(k.as_str().parse::<Kernel>().unwrap(), k);
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(" AVX2 ".parse::<Kernel>().unwrap(), Kernel::Avx2);
        let err = "sse9".parse::<Kernel>().unwrap_err();
        assert_eq!(
            err,
            Error::UnknownKernel {
                name: "sse9".into()
            }
        );
        assert!(err.to_string().contains("auto, scalar, avx2, avx512"));
    }

    #[test]
    fn scalar_is_always_available_and_auto_is_the_last() {
        let av = available_kernels();
        assert_eq!(av[0], Kernel::Scalar);
        assert_eq!(
            resolve_with_override(Kernel::Auto, None).unwrap(),
            *av.last().unwrap()
        );
        assert_eq!(
            resolve_with_override(Kernel::Auto, Some("")).unwrap(),
            *av.last().unwrap()
        );
    }

    #[test]
    fn env_overrides_auto_only() {
        assert_eq!(
            resolve_with_override(Kernel::Auto, Some("scalar")).unwrap(),
            Kernel::Scalar
        );
        assert_eq!(
            resolve_with_override(Kernel::Scalar, Some("avx2")).unwrap(),
            Kernel::Scalar
        );
        let bogus = resolve_with_override(Kernel::Auto, Some("bogus")).unwrap_err();
        assert!(matches!(bogus, Error::KernelEnv { .. }));
        assert!(
            bogus
                .to_string()
                .starts_with("TRENDFLEX_KERNEL=bogus: not a kernel")
        );
    }

    #[test]
    fn unavailable_kernel_names_the_missing_feature() {
        for k in [Kernel::Avx2, Kernel::Avx512] {
            match (missing_feature(k), resolve_with_override(k, None)) {
                (None, Ok(got)) => assert_eq!(got, k),
                (Some(f), Err(e)) => {
                    assert_eq!(
                        e,
                        Error::KernelUnavailable {
                            kernel: k,
                            missing: f
                        }
                    );
                    let msg = e.to_string();
                    assert!(msg.contains(f) && msg.contains(k.as_str()), "{msg}");
                    eprintln!("note: kernel {k} unavailable here ({msg})");
                }
                other => panic!("inconsistent probe for {k}: {other:?}"),
            }
        }
    }
}
