//! The names of Arrow types as they cross between JS and Rust (`float64`, `int64`, `utf8`,
//! `bool`, `date32`, `timestamp[ms]`, `timestamp[us, UTC]`, `time64[ns]`, `duration[s]`,
//! `decimal128(10, 2)`, ...): what the writers accept and the readers hand out. `src/io/arrow-types.ts`
//! is the other side.

use std::sync::Arc;

use arrow_schema::{DataType, TimeUnit};

fn unit(text: &str) -> Option<TimeUnit> {
    Some(match text.trim() {
        "s" => TimeUnit::Second,
        "ms" => TimeUnit::Millisecond,
        "us" => TimeUnit::Microsecond,
        "ns" => TimeUnit::Nanosecond,
        _ => return None,
    })
}

/// Parses the type names of `WriterField`.
pub fn data_type(text: &str) -> Option<DataType> {
    let inner = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
    };
    Some(match text {
        "float64" => DataType::Float64,
        "float32" => DataType::Float32,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "utf8" => DataType::Utf8,
        "binary" => DataType::Binary,
        "bool" => DataType::Boolean,
        "date32" => DataType::Date32,
        "date64" => DataType::Date64,
        _ => {
            if let Some(args) = inner("timestamp") {
                let mut parts = args.splitn(2, ',');
                let unit = unit(parts.next()?)?;
                let tz = parts.next().map(|tz| Arc::from(tz.trim()));
                DataType::Timestamp(unit, tz)
            } else if let Some(u) = inner("time32") {
                DataType::Time32(unit(u)?)
            } else if let Some(u) = inner("time64") {
                DataType::Time64(unit(u)?)
            } else if let Some(u) = inner("duration") {
                DataType::Duration(unit(u)?)
            } else if let Some(args) = text
                .strip_prefix("decimal128(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let (p, s) = args.split_once(',')?;
                DataType::Decimal128(p.trim().parse().ok()?, s.trim().parse().ok()?)
            } else {
                return None;
            }
        }
    })
}

fn unit_name(u: &TimeUnit) -> &'static str {
    match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// The name of a type the readers hand out; `None` for one JS cannot be given.
pub fn type_name(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Float64 => "float64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::Binary => "binary".into(),
        DataType::Boolean => "bool".into(),
        DataType::Date32 => "date32".into(),
        DataType::Date64 => "date64".into(),
        DataType::Timestamp(u, None) => format!("timestamp[{}]", unit_name(u)),
        DataType::Timestamp(u, Some(tz)) => format!("timestamp[{}, {tz}]", unit_name(u)),
        DataType::Time32(u) => format!("time32[{}]", unit_name(u)),
        DataType::Time64(u) => format!("time64[{}]", unit_name(u)),
        DataType::Duration(u) => format!("duration[{}]", unit_name(u)),
        DataType::Decimal128(p, s) => format!("decimal128({p}, {s})"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_parse_and_round_trip() {
        for name in [
            "float64",
            "int8",
            "uint64",
            "utf8",
            "bool",
            "date32",
            "timestamp[ns]",
            "timestamp[ms, UTC]",
            "time32[s]",
            "duration[us]",
            "decimal128(38, 9)",
        ] {
            assert_eq!(type_name(&data_type(name).unwrap()).as_deref(), Some(name));
        }
        assert_eq!(data_type("float64"), Some(DataType::Float64));
        assert_eq!(
            data_type("timestamp[ms]"),
            Some(DataType::Timestamp(TimeUnit::Millisecond, None))
        );
        assert_eq!(
            data_type("timestamp[us, America/New_York]"),
            Some(DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("America/New_York".into())
            ))
        );
        assert_eq!(
            data_type("decimal128(10, 2)"),
            Some(DataType::Decimal128(10, 2))
        );
        assert_eq!(
            data_type("time64[ns]"),
            Some(DataType::Time64(TimeUnit::Nanosecond))
        );
        assert_eq!(data_type("float16"), None);
        assert_eq!(data_type("timestamp[fortnight]"), None);
    }
}
