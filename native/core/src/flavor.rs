//! Which definition of TrendFlex is computed: VectorTA's (the default) or Ehlers' EasyLanguage
//! as TradeStation runs it. Both run through the same kernels; only the per-period constants and
//! the smoother's seed differ (`params.rs`).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The definition computed, operation for operation (`shared/TRENDFLEX.md` and the README's
/// "Flavours"). Every kernel, thread count and chunking gives the same bits for a flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Flavor {
    /// VectorTA / `vector-ta`, bit for bit: smoother length `round(L / 2)`, smoother seeded with
    /// the first two prices.
    #[default]
    VectorTa,
    /// Ehlers' EasyLanguage: `P = L / 2` unrounded, the literal 3.14159, the cosine in degrees,
    /// filter seeded with zeros.
    Ehlers,
}

impl Flavor {
    /// All flavours, the default first.
    pub const ALL: [Flavor; 2] = [Flavor::VectorTa, Flavor::Ehlers];

    /// The name used everywhere: `--flavor`, the API, the output metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::VectorTa => "vectorta",
            Flavor::Ehlers => "ehlers",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Flavor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Flavor::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| Error::UnknownFlavor {
                name: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Flavor::ALL {
            assert_eq!(f.as_str().parse::<Flavor>().unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(Flavor::default(), Flavor::VectorTa);
        assert_eq!(" Ehlers ".parse::<Flavor>().unwrap(), Flavor::Ehlers);
        let err = "pandas".parse::<Flavor>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown flavour 'pandas': use vectorta or ehlers"
        );
    }
}
