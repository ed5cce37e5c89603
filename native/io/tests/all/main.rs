//! trendflex-io's integration tests, one binary (each test binary is linked with LTO).

mod pipeline;
mod readers;
mod writers;
