//! End-to-end tests of the `kbbridge` binary: one test binary, one module per area.

mod api;
mod check;
mod cli;
mod degraded;
mod discord;
mod discord_team;
mod errors;
mod keybase;
mod live;
mod matrix;
mod output;
mod packaging;
mod proxy;
mod secrets;
mod support;
mod team;
mod toolchain;
mod writers;
