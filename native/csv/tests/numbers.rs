//! Numbers as the reader parses them, against Rust's own parsers as the oracle: every float field
//! std's `str::parse::<f64>` reads gives the same bits (both round correctly to nearest; this
//! checks it over texts made to hit the hard cases), and every integer is exactly
//! `str::parse::<i64>`, a range error included. `TRENDFLEX_NUMBER_CASES` (default 300,000) sets
//! how many generated texts.

mod common;

use common::Rng;
use trendflex_csv::number::{parse_integer, parse_number};

/// `min` to `min + spread - 1` random digits.
fn digits(rng: &mut Rng, min: usize, spread: usize) -> String {
    let n = min + rng.below(spread);
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

/// Float texts aimed at the hard cases: long mantissas (past 17 and 19 digits), exponents near
/// the subnormal and overflow edges, halfway cases between doubles written out exactly,
/// the shortest texts of random doubles, and everyday prices.
fn float_text(rng: &mut Rng) -> String {
    let sign = ["", "-", "+"][rng.below(3)];
    match rng.below(6) {
        0 => {
            let int = digits(rng, 1, 25);
            let frac = digits(rng, 0, 30);
            let exp = match rng.below(3) {
                0 => String::new(),
                _ => format!("e{}", rng.below(700) as i64 - 350),
            };
            format!("{sign}{int}.{frac}{exp}")
        }
        1 => {
            // A random double's shortest text, and its neighbours' halfway point.
            let x = f64::from_bits(rng.next() >> 1);
            if !x.is_finite() {
                return "1.5".into();
            }
            let next = f64::from_bits(x.to_bits() + 1);
            if rng.below(2) == 0 || !next.is_finite() {
                format!("{sign}{x:e}")
            } else {
                // The exact midpoint, as a long decimal: round-half-even territory.
                format!("{sign}{:.60e}", (x / 2.0) + (next / 2.0))
            }
        }
        2 => {
            let int = rng.below(100_000);
            format!("{sign}{int}.{}", digits(rng, 1, 6))
        }
        3 => {
            let m = digits(rng, 1, 20);
            format!("{sign}{m}e{}", rng.below(40) as i64 - 345)
        }
        4 => {
            let m = digits(rng, 1, 20);
            format!("{sign}{m}e{}", rng.below(20) as i64 + 290)
        }
        _ => {
            let zeros = "0".repeat(rng.below(330));
            format!("{sign}0.{zeros}{}", digits(rng, 1, 20))
        }
    }
}

#[test]
fn floats_are_bit_identical_to_std_parse() {
    let cases: usize = std::env::var("TRENDFLEX_NUMBER_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let mut rng = Rng(20261202);
    let mut compared = 0;
    for _ in 0..cases {
        let text = float_text(&mut rng);
        let ours = parse_number(text.as_bytes());
        match text.parse::<f64>() {
            Ok(want) if want.is_finite() => {
                let got =
                    ours.unwrap_or_else(|e| panic!("{text}: refused ({e:?}), std reads {want:e}"));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{text}: {got:e} vs std {want:e}"
                );
                compared += 1;
            }
            Ok(_) => assert!(ours.is_err(), "{text}: out of range, yet read as {ours:?}"),
            Err(_) => assert!(
                ours.is_err(),
                "{text}: std refuses it, yet read as {ours:?}"
            ),
        }
    }
    println!(
        "{compared} of {cases} generated float texts compared with str::parse::<f64>: all bit-identical"
    );
    // Edge texts by hand: the smallest subnormal, the largest double, a halfway case at 2^53.
    for text in [
        "4.9406564584124654e-324",
        "2.4703282292062328e-324",
        "1.7976931348623157e308",
        "9007199254740993",
        "0.1",
        "5e-324",
        "1e-400",
    ] {
        let want = text.parse::<f64>().unwrap();
        assert_eq!(
            parse_number(text.as_bytes()).unwrap().to_bits(),
            want.to_bits(),
            "{text}"
        );
    }
}

#[test]
fn integers_are_exactly_std_parse_or_a_range_error() {
    let mut rng = Rng(7);
    for _ in 0..200_000 {
        let sign = ["", "-", "+"][rng.below(3)];
        let text = format!("{sign}{}", digits(&mut rng, 1, 21));
        assert_eq!(
            parse_integer(text.as_bytes()),
            text.parse::<i64>().ok(),
            "{text}"
        );
    }
    for text in [
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
    ] {
        assert_eq!(
            parse_integer(text.as_bytes()),
            text.parse::<i64>().ok(),
            "{text}"
        );
    }
}
