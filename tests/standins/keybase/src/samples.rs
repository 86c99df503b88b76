//! Ready-made worlds: state folders that several test suites share, so that the stand-in's own
//! tests and the adapter's tests agree on what is in them.

pub mod export;
pub mod relay;
