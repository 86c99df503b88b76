//! One module per subcommand.

pub mod backfill;
pub mod check;
pub mod plan;
pub mod run;
pub mod status;
