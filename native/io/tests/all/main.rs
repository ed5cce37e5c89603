//! trendflex-io's integration tests, one binary (each test binary is linked with LTO).

mod pipeline;
mod readers;
mod writers;

use parquet::file::metadata::ColumnChunkMetaData;

/// Column chunk `got` has `want`'s statistics (which it must have), field by field with min and
/// max as bytes (a NaN is not equal to itself), and `want`'s definition level histogram.
pub fn assert_same_statistics(got: &ColumnChunkMetaData, want: &ColumnChunkMetaData, what: &str) {
    let fields = |s: &parquet::file::statistics::Statistics| {
        (
            s.min_bytes_opt().map(<[u8]>::to_vec),
            s.max_bytes_opt().map(<[u8]>::to_vec),
            s.null_count_opt(),
            s.nan_count_opt(),
            s.distinct_count_opt(),
            s.is_min_max_deprecated(),
            s.is_min_max_backwards_compatible(),
            s.min_is_exact(),
            s.max_is_exact(),
        )
    };
    let (g, w) = (got.statistics(), want.statistics());
    assert!(w.is_some(), "{what}: arrow-rs wrote statistics");
    assert_eq!(g.map(fields), w.map(fields), "{what}: statistics");
    assert_eq!(
        got.definition_level_histogram(),
        want.definition_level_histogram(),
        "{what}: definition levels"
    );
}
