//! The core's integration tests, one binary (each test binary is linked with LTO: one link, not
//! five). `common` holds the oracle and the input generators they share.

mod common;

mod definition;
mod errors;
mod grouped;
mod kernels;
mod properties;
mod state;
