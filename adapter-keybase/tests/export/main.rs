//! The export reader, end to end: the bundled sample export, older and incremental files, bad
//! lines, hostile attachment names, random input, and every other tool's layout written from
//! one generated history.

mod bad_input;
mod fixtures;
mod formats;
mod history;
mod hostile;
mod layouts;
mod layouts_refused;
mod props;
mod raw;
mod sample;
mod spill;
mod tabular;
mod tools;
