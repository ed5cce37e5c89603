//! napi-rs binding of trendflex-core; filled in by the binding issue.
