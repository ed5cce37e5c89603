//! Native readers and writers for trendflex: CSV/TSV (plain, gzip, zstd) and Parquet in, with
//! `--gaps` applied; results out as Parquet (the arrow-rs `parquet` crate, columns encoded
//! in parallel), CSV (shortest round-trip floats, formatted in parallel) and Arrow IPC streams.
//! They take Arrow record batches that may borrow the caller's memory ([`Loan`]) and write to a
//! file descriptor the caller opened. No Node dependency: the napi binding is in `native/node`.

mod borrow;
mod error;
pub mod grouped;
pub mod groups;
pub mod pipeline;
pub mod readers;
mod replace;
mod sink;
mod spool;
pub mod state;
mod writers;

pub use borrow::{ColumnBytes, Loan, borrowed_batch};
pub use error::Error;
pub use replace::replace;
pub use writers::{
    Compression, FloatEncoding, Format, Options, Partition, Summary, Writer, verify,
};
