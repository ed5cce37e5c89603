//! Native I/O and the job for trendflex: CSV/TSV (plain, gzip, zstd), Parquet and Arrow IPC in,
//! with `--gaps` applied; results out as Parquet (the arrow-rs `parquet` crate, columns encoded
//! in parallel), CSV (shortest round-trip floats, formatted in parallel) and Arrow IPC streams,
//! to a file descriptor the caller opened. [`pipeline`] runs a whole job (read -> compute ->
//! encode -> write) on threads of its own, one series or every group ([`grouped`]). No Node
//! dependency: the napi binding is in `native/node`.

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

pub use error::Error;
pub use replace::replace;
pub use writers::{
    Compression, FloatEncoding, Format, Options, Partition, Summary, Writer, verify,
};
