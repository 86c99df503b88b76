//! The keybase-export reader, end to end: the bundled sample export, older and incremental
//! files, bad lines, hostile attachment names, and random input.

mod bad_input;
mod fixtures;
mod formats;
mod hostile;
mod props;
mod raw;
mod sample;
mod spill;
mod tabular;
