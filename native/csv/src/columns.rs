//! Finding a column by what the user typed: the one rule for every input format. A name matches
//! exactly first, then ignoring case when that is unambiguous; without a header, columns are
//! addressed by their 1-based position.

use std::fmt;

use crate::text::{column_list, escape};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    NotFound {
        wanted: String,
        available: Vec<String>,
    },
    Ambiguous {
        wanted: String,
        matches: Vec<(usize, String)>,
    },
    /// Without a header: not a position, or past the last column.
    Position { wanted: String, columns: usize },
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchError::NotFound { wanted, available } => write!(
                f,
                "column '{}' not found; available columns: {}",
                escape(wanted.as_bytes()),
                column_list(available)
            ),
            MatchError::Ambiguous { wanted, matches } => {
                let list: Vec<String> = matches
                    .iter()
                    .map(|(i, n)| format!("'{}' (column {i})", escape(n.as_bytes())))
                    .collect();
                write!(
                    f,
                    "column '{}' is ambiguous: it matches {}; give the exact name",
                    escape(wanted.as_bytes()),
                    list.join(", ")
                )
            }
            MatchError::Position { wanted, columns } => write!(
                f,
                "column '{}': without a header, columns are numbers from 1 to {columns}",
                escape(wanted.as_bytes())
            ),
        }
    }
}

/// The index of `wanted` among `names`: an exact match, else the one case-insensitive match.
pub fn match_column(names: &[String], wanted: &str) -> Result<usize, MatchError> {
    let positions = |f: &dyn Fn(&String) -> bool| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| f(n))
            .map(|(i, _)| i)
            .collect()
    };
    let ambiguous = |found: Vec<usize>| MatchError::Ambiguous {
        wanted: wanted.to_string(),
        matches: found
            .into_iter()
            .map(|i| (i + 1, names[i].clone()))
            .collect(),
    };
    let exact = positions(&|n| n == wanted);
    match exact.len() {
        1 => return Ok(exact[0]),
        0 => {}
        _ => return Err(ambiguous(exact)),
    }
    let folded = wanted.to_lowercase();
    let loose = positions(&|n| n.to_lowercase() == folded);
    match loose.len() {
        1 => Ok(loose[0]),
        0 => Err(MatchError::NotFound {
            wanted: wanted.to_string(),
            available: names.to_vec(),
        }),
        _ => Err(ambiguous(loose)),
    }
}

/// Without a header: `wanted` is a 1-based position among `columns`.
pub fn match_position(columns: usize, wanted: &str) -> Result<usize, MatchError> {
    match wanted.trim().parse::<usize>() {
        Ok(p) if (1..=columns).contains(&p) => Ok(p - 1),
        _ => Err(MatchError::Position {
            wanted: wanted.to_string(),
            columns,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_then_unambiguous_case_insensitive() {
        let n = names(&["ts", "Close", "close", "Volume"]);
        assert_eq!(match_column(&n, "close"), Ok(2));
        assert_eq!(match_column(&n, "Close"), Ok(1));
        assert_eq!(match_column(&n, "VOLUME"), Ok(3));
        assert!(matches!(
            match_column(&n, "CLOSE"),
            Err(MatchError::Ambiguous { .. })
        ));
        let e = match_column(&n, "price").unwrap_err().to_string();
        assert_eq!(
            e,
            "column 'price' not found; available columns: ts, Close, close, Volume"
        );
        let dup = names(&["a", "a"]);
        assert!(matches!(
            match_column(&dup, "a"),
            Err(MatchError::Ambiguous { .. })
        ));
    }

    #[test]
    fn positions_without_a_header() {
        assert_eq!(match_position(3, "1"), Ok(0));
        assert_eq!(match_position(3, " 3 "), Ok(2));
        for bad in ["0", "4", "close", "-1", ""] {
            assert!(match_position(3, bad).is_err(), "{bad}");
        }
        assert_eq!(
            match_position(3, "close").unwrap_err().to_string(),
            "column 'close': without a header, columns are numbers from 1 to 3"
        );
    }
}
