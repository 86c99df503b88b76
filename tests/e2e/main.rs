//! End-to-end tests of the `kbbridge` binary: one test binary, one module per area.

mod cli;
mod discord;
mod errors;
mod keybase;
mod matrix;
mod proxy;
mod secrets;
mod support;
