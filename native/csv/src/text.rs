//! Input text shown in messages: cut short, and escaped so that no byte from a file reaches a
//! terminal raw.

/// Column names listed in a "not found" message before it is cut short.
const LISTED_COLUMNS: usize = 30;

/// Characters of a field quoted in a message before it is cut short.
const QUOTED_CHARS: usize = 60;

/// `bytes` as text fit for a terminal: cut short, control characters and anything that is not
/// UTF-8 escaped.
pub fn escape(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == QUOTED_CHARS {
            out.push_str("...");
            break;
        }
        match c {
            '\u{FFFD}' => out.push_str("\\u{FFFD}"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Column names for a message, escaped, the first few only on a wide table.
pub(crate) fn column_list(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(LISTED_COLUMNS)
        .map(|n| escape(n.as_bytes()))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED_COLUMNS {
        out.push_str(&format!(", ... ({} in all)", names.len()));
    }
    out
}
