//! Numbers in fields: prices and numeric keep values. A decimal in the file becomes the nearest
//! double (correctly rounded, lexical-core), bit-identical to `str::parse::<f64>` (tests/numbers.rs
//! checks it over generated texts); integers are exact, or out of range.

/// Why a number field was refused, before its line and column are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    NotANumber,
    NotFinite,
}

/// Blank, or a marker read as a missing value.
pub fn is_missing(trimmed: &[u8]) -> bool {
    matches!(
        trimmed,
        b"" | b"NaN" | b"nan" | b"NA" | b"N/A" | b"null" | b"NULL"
    )
}

/// A field written as a plain number, as most are: a digit or `-` first and a digit last, so
/// there is no space to trim and no missing marker to look for.
fn as_written(field: &[u8]) -> bool {
    field
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
        && field.last().is_some_and(u8::is_ascii_digit)
}

/// The text of a number field once trimmed, or `None` for a missing marker.
fn present(field: &[u8]) -> Option<&[u8]> {
    if as_written(field) {
        return Some(field);
    }
    let trimmed = field.trim_ascii();
    (!is_missing(trimmed)).then_some(trimmed)
}

/// A price (or Float64 keep) field: missing markers are NaN; anything else must be a finite
/// number.
pub fn parse_number(field: &[u8]) -> Result<f64, NumberError> {
    let Some(text) = present(field) else {
        return Ok(f64::NAN);
    };
    let value: f64 = lexical_core::parse(text).map_err(|_| NumberError::NotANumber)?;
    if value.is_nan() {
        return Ok(f64::NAN); // another spelling of NaN ("NAN", "-nan"): still missing
    }
    if value.is_infinite() {
        return Err(NumberError::NotFinite);
    }
    Ok(value)
}

/// An Int64 keep field: missing markers are `None`; anything else must be an integer in range.
pub fn parse_int64(field: &[u8]) -> Result<Option<i64>, NumberError> {
    match present(field) {
        None => Ok(None),
        Some(text) => parse_integer(text).map(Some).ok_or(NumberError::NotANumber),
    }
}

/// An Int64 field, trimmed: ASCII digits with an optional sign, in range.
pub fn parse_integer(trimmed: &[u8]) -> Option<i64> {
    lexical_core::parse(trimmed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_to_nearest_and_markers_are_missing() {
        assert_eq!(parse_number(b" 100.25 "), Ok(100.25));
        assert_eq!(parse_number(b"0.1").unwrap().to_bits(), 0.1f64.to_bits());
        assert_eq!(parse_number(b"1e-7"), Ok(1e-7));
        assert_eq!(parse_number(b"-3"), Ok(-3.0));
        for missing in [
            &b""[..],
            b"  ",
            b"NaN",
            b"nan",
            b"NA",
            b"N/A",
            b"null",
            b"NULL",
            b"NAN",
        ] {
            assert!(parse_number(missing).unwrap().is_nan(), "{missing:?}");
        }
        assert_eq!(parse_number(b"abc"), Err(NumberError::NotANumber));
        assert_eq!(parse_number(b"1.2.3"), Err(NumberError::NotANumber));
        assert_eq!(parse_number(b"1,5"), Err(NumberError::NotANumber));
        assert_eq!(parse_number(b"inf"), Err(NumberError::NotFinite));
        assert_eq!(parse_number(b"1e400"), Err(NumberError::NotFinite));
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(
            parse_integer(b"9007199254740993"),
            Some(9_007_199_254_740_993)
        );
        assert_eq!(parse_integer(b"-12"), Some(-12));
        assert_eq!(parse_integer(b"1.0"), None);
        assert_eq!(parse_integer(b"99999999999999999999"), None);
        assert_eq!(parse_int64(b" -12 "), Ok(Some(-12)));
        assert_eq!(parse_int64(b"NA"), Ok(None));
        assert_eq!(parse_int64(b"1.5"), Err(NumberError::NotANumber));
    }
}
